/*
 * policy_test - which policy applies: outbound, inbound, parent domains,
 *	strictest combination, key-by-key inheritance
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "../../milters/registry.h"
#include "../../src/chain.h"
#include "../../src/policy.h"
#include "tap.h"
#include "testconf.h"

static const struct conf_group *
proto(const struct policy *p)
{
	return policy_group(p, 0);
}

int
main(void)
{
	char *dir = g_dir_make_tmp("sinkd-policy-XXXXXX", NULL), *conf;
	struct conf_errors e;
	struct snapshot *s;
	struct conn *c;
	struct msg *m;
	struct rcpt *r1, *r2, *r3;
	const struct policy *p, *p2;
	char *const *l;

	tc_write(dir, "sinkd.conf",
		 "[sinkd]\nchain = protocol\ndomains-dir = domains\nspool-dir = spool\n"
		 "internal-hosts = 10.0.0.0/8\n"
		 "[protocol]\nmax-recipients = 50\nsender-reply = 550 5.7.1 from sinkd.conf\n");
	tc_write(dir, "domains/default.conf",
		 "[protocol]\ndeny-senders = @default.example\nmax-recipients = 0\n"
		 "add-headers = X-Common: 1\n");
	tc_write(dir, "domains/example.com.conf",
		 "[protocol]\ndeny-senders = @a.example\nmax-recipients = 5\non-error = reject\n");
	tc_write(dir, "domains/example.org.conf",
		 "[protocol]\ndeny-senders = @b.example\nmax-recipients = 3\nrequire-auth = yes\n");
	conf = g_build_filename(dir, "sinkd.conf", NULL);
	conf_errors_init(&e);
	s = snapshot_load(conf, sinkd_handlers, &e);
	if (!ok(s != NULL, "configuration loads")) {
		for (guint i = 0; i < e.msgs->len; i++)
			printf("# %s\n", (char *) g_ptr_array_index(e.msgs, i));
		return tap_done();
	}

	/* lookups */
	is_str(policy_for_domain(s, "example.com")->domain, "example.com", "exact domain");
	is_str(policy_for_domain(s, "mx.sub.example.com")->domain, "example.com",
	       "subdomain takes the parent domain's file");
	is_str(policy_for_domain(s, "example.net")->domain, "default", "other domain: default");
	is_str(policy_for_domain(s, "")->domain, "default", "no domain: default");

	/* inheritance, key by key */
	is_int(conf_num(proto(s->def), "max-recipients"), 0, "default.conf overrides sinkd.conf");
	is_str(conf_reply(proto(s->def), "sender-reply")->text, "from sinkd.conf",
	       "a key default.conf leaves alone comes from sinkd.conf");
	p = policy_for_domain(s, "example.com");
	is_str(conf_reply(proto(p), "sender-reply")->text, "from sinkd.conf",
	       "and reaches the domain file too");
	is_str(conf_str(proto(p), "on-error"), "reject", "domain file sets on-error");
	ok(strstr(conf_get(proto(p), "deny-senders")->file, "example.com.conf") != NULL
	   && conf_get(proto(p), "deny-senders")->line == 2, "values know file and line (%s:%d)",
	   conf_get(proto(p), "deny-senders")->file, conf_get(proto(p), "deny-senders")->line);

	/* outbound: internal client takes the sender domain's policy */
	c = conn_new(s);
	conn_set_client(c, "10.1.2.3", "host");
	ok(c->internal, "10.1.2.3 is internal");
	m = msg_new(c, "<u@example.org>", NULL);
	ok(m->outbound, "internal client: outbound");
	is_str(m->mail_policy->domain, "example.org", "outbound: sender domain's policy");
	r1 = msg_rcpt_new(m, "<x@example.com>");
	msg_rcpt_keep(m, r1);
	is_str(msg_policy(m)->domain, "example.org", "outbound: message policy is the sender's");
	msg_free(m);

	/* authenticated external client: outbound too */
	conn_set_client(c, "192.0.2.1", "host");
	ok(!c->internal, "192.0.2.1 is external");
	m = msg_new(c, "u@example.com", "user1");
	ok(m->outbound, "authenticated: outbound");
	is_str(m->mail_policy->domain, "example.com", "authenticated: sender domain's policy");
	msg_free(m);

	/* local submission (no client address): outbound */
	conn_set_client(c, NULL, NULL);
	ok(c->internal, "local submission counts as internal");

	/* inbound: default at MAIL, recipients' domains after */
	conn_set_client(c, "192.0.2.1", "host");
	m = msg_new(c, "<v@elsewhere.example>", NULL);
	ok(!m->outbound, "external unauthenticated: inbound");
	is_str(m->mail_policy->domain, "default", "inbound MAIL stage: default policy");
	r1 = msg_rcpt_new(m, "<a@example.com>");
	r2 = msg_rcpt_new(m, "<b@Example.ORG>");
	r3 = msg_rcpt_new(m, "<c@example.com>");
	is_str(r1->policy->domain, "example.com", "recipient policy");
	is_str(r2->policy->domain, "example.org", "recipient domain is case-insensitive");
	msg_rcpt_keep(m, r1);
	msg_rcpt_keep(m, r2);
	msg_rcpt_keep(m, r3);
	p = msg_policy(m);
	ok(p != NULL, "combined policy built");
	is_str(p->domain, "example.com,example.org", "combined policy names its domains");
	is_int(conf_num(proto(p), "max-recipients"), 3, "strictest: smallest limit");
	is_str(conf_str(proto(p), "on-error"), "reject", "strictest: reject beats tempfail");
	ok(conf_bool(proto(p), "require-auth"), "strictest: yes wins");
	l = conf_list(proto(p), "deny-senders");
	ok(l && l[0] && l[1] && !l[2] && !strcmp(l[0], "@a.example") && !strcmp(l[1], "@b.example"),
	   "strictest: lists are united");
	l = conf_list(proto(p), "add-headers");
	ok(l && l[0] && !l[1], "  an entry both domains inherit is kept once");
	msg_free(m);
	m = msg_new(c, "<v@elsewhere.example>", NULL);
	msg_rcpt_keep(m, msg_rcpt_new(m, "<z@example.com>"));
	msg_rcpt_keep(m, msg_rcpt_new(m, "<y@example.org>"));
	msg_rcpt_keep(m, msg_rcpt_new(m, "<w@example.org>"));
	p2 = msg_policy(m);
	ok(p2 == p, "the combination is cached for the same domains in the same order");
	msg_free(m);
	m = msg_new(c, "<v@elsewhere.example>", NULL);
	msg_rcpt_keep(m, msg_rcpt_new(m, "<z@example.org>"));
	msg_rcpt_keep(m, msg_rcpt_new(m, "<y@example.com>"));
	p2 = msg_policy(m);
	is_str(p2->domain, "example.org,example.com", "first-recipient keys follow the recipients' order");
	is_str(conf_reply(proto(p2), "sender-reply")->text, "from sinkd.conf", "  inherited values survive combining");
	l = conf_list(proto(p2), "deny-senders");
	ok(l && l[0] && l[1] && !l[2] && !strcmp(l[0], "@b.example"), "  united lists follow the order too");
	msg_free(m);

	/* combining with a zero limit: the limit wins */
	m = msg_new(c, "<v@elsewhere.example>", NULL);
	msg_rcpt_keep(m, msg_rcpt_new(m, "<z@example.net>"));
	msg_rcpt_keep(m, msg_rcpt_new(m, "<y@example.com>"));
	is_int(conf_num(proto(msg_policy(m)), "max-recipients"), 5, "0 (no limit) loses to 5");
	msg_free(m);

	conn_free(c);
	snapshot_unref(s);
	conf_errors_free(&e);
	g_free(conf);
	g_free(dir);
	return tap_done();
}
