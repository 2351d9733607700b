/*
 * fuzz_policy - the input as one domain's policy file
 *
 * A fixed sinkd.conf (fuzz/policy.conf: every handler in the chain), the
 * shipped domains/default.conf and domains/example.com.conf, and the
 * input as domains/example.org.conf: per-domain keys, lists, regexes and
 * the inheritance from default.conf.  When the snapshot loads, the
 * domain's policy is looked up (for a subdomain too) and combined with
 * example.com's and the default's, as inbound mail to several domains
 * does, and asked whether they may share one transaction.
 */
#include <stdint.h>
#include <stdio.h>
#include <glib.h>

#include "../src/policy.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fuzz_init();
	fuzz_mkdir("domains");
	fuzz_mkdir("lists");
	fuzz_mkdir("db");
	fuzz_copy("fuzz/policy.conf", "sinkd.conf");
	fuzz_copy("etc/domains/default.conf", "domains/default.conf");
	fuzz_copy("etc/domains/example.com.conf", "domains/example.com.conf");
	fuzz_copy("etc/lists/example.com.lists", "lists/example.com.lists");
	fuzz_copy("t/conf/ok/lists", "lists/example.org.lists");
	fuzz_copy("etc/disclaimer.txt", "disclaimer.txt");
	fuzz_copy("etc/disclaimer.html", "disclaimer.html");
	return 0;
}

/* combine - the policies of example.org, example.com and the default,
 * and whether they may share a transaction */
static void
combine(struct snapshot *s)
{
	const struct policy *p[3];
	struct policy *owned;

	p[0] = policy_for_domain(s, "example.org");
	p[1] = policy_for_domain(s, "mx.sub.example.org");
	p[2] = policy_for_domain(s, "example.com");
	policy_conflict(p[0], p[2], NULL);
	policy_conflict(p[2], s->def, NULL);
	policy_combine(s, p, 3, &owned);
	policy_free(owned);
	p[1] = policy_for_domain(s, "example.net");
	policy_combine(s, p, 3, &owned);
	policy_free(owned);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors e;
	struct snapshot *s;

	fuzz_write("domains/example.org.conf", data, size);
	conf_errors_init(&e);
	if ((s = fuzz_load("sinkd.conf", &e)) != NULL) {
		combine(s);
		snapshot_unref(s);
	}
	fuzz_check_errors(&e);
	conf_errors_free(&e);
	return 0;
}
