/*
 * policy_test - which policy applies: outbound, inbound, parent domains,
 *	strictest combination, key-by-key inheritance; every per-domain key
 *	of every handler combined by its merge rule, whatever the order;
 *	domains that must agree kept apart at RCPT TO
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

static void test_table_check(void);
static void test_every_key(void);
static void test_apart(void);

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
	ok(p2 == p, "the recipients' order makes no difference: the same combination (%s)",
	   p2->domain);
	is_str(conf_reply(proto(p2), "sender-reply")->text, "from sinkd.conf", "  inherited values survive combining");
	l = conf_list(proto(p2), "deny-senders");
	ok(l && l[0] && l[1] && !l[2] && !strcmp(l[0], "@a.example"),
	   "  united lists in the order of the domains' names, not of the recipients");
	msg_free(m);
	ok(!s->conflicts, "no domains to keep apart here");

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

	test_table_check();
	test_every_key();
	test_apart();
	return tap_done();
}

/* --- every key has a rule that fits it --- */

static const char *const t_values[] = {"x", "y", NULL};

static void
test_table_check(void)
{
	static const struct conf_key none[] = {
		{"per-domain", CONF_LIST, "", .doc = "no rule"},
		{NULL},
	};
	static const struct conf_key global[] = {
		{"global", CONF_LIST, "", .flags = CONF_NODOMAIN, .doc = "no rule needed"},
		{NULL},
	};
	static const struct conf_key misfit[] = {
		{"a", CONF_LIST, "", .merge = MERGE_MIN, .doc = "min of a list"},
		{"b", CONF_INT, "0", 0, 9, .merge = MERGE_TRUE, .doc = "any of a number"},
		{"c", CONF_ENUM, "x", .values = t_values, .merge = MERGE_UNION, .doc = "union of an enum"},
		{NULL},
	};
	const struct conf_key *t1[] = {none, NULL}, *t2[] = {global, NULL}, *t3[] = {misfit, NULL};
	struct conf_errors e;
	unsigned h;

	conf_errors_init(&e);
	is_int(conf_table_check("test", t1, &e), 1, "a per-domain key without a merge rule is a defect");
	is_str(e.msgs->len ? g_ptr_array_index(e.msgs, 0) : NULL,
	       "built-in key table of [test]: per-domain: may be set per domain but has no merge rule",
	       "  reported by name");
	is_int(conf_table_check("test", t2, &e), 0, "a key not per domain needs none");
	is_int(conf_table_check("test", t3, &e), 3, "a rule that does not fit the key's type is a defect");
	conf_errors_free(&e);

	for (h = 0; sinkd_handlers[h]; h++) {
		const struct conf_key *t[] = {sinkd_common_keys, sinkd_handlers[h]->keys, NULL};

		conf_errors_init(&e);
		ok(conf_table_check(sinkd_handlers[h]->name, t, &e) == 0,
		   "[%s]: every per-domain key has a rule that fits it%s%s",
		   sinkd_handlers[h]->name, e.msgs->len ? ": " : "",
		   e.msgs->len ? (char *) g_ptr_array_index(e.msgs, 0) : "");
		conf_errors_free(&e);
	}
}

/* --- every per-domain key, two domains with different values --- */

/* sample - three different values of key k, as written in a file: [0]
 * for a.test, [1] for b.test, [2] for the default policy */
static void
sample(const struct conf_key *k, const char *v[3])
{
	static char num[3][32];
	unsigned n = 0, i;

	switch (k->type) {
	case CONF_BOOL:
		v[0] = "yes", v[1] = "no", v[2] = "no";
		return;
	case CONF_INT:
	case CONF_SIZE:
	case CONF_TIME:
		for (i = 0; i < 3; i++) {
			long long x = (k->min > 1 ? k->min : 1) + (i + 1) % 3;

			g_snprintf(num[i], sizeof(num[i]), "%lld", x > k->max ? k->max : x);
		}
		v[0] = num[0], v[1] = num[1], v[2] = num[2];
		return;
	case CONF_ENUM:
		while (k->values[n])
			n++;
		v[0] = k->values[0], v[1] = k->values[n - 1], v[2] = k->values[n / 2];
		return;
	case CONF_LIST:
		v[0] = "one, two", v[1] = "two, three", v[2] = "zero";
		return;
	case CONF_CIDRS:
		v[0] = "192.0.2.1, 192.0.2.2", v[1] = "192.0.2.2, 192.0.2.3", v[2] = "192.0.2.9";
		return;
	case CONF_REPLY:
		v[0] = "550 5.7.1 one", v[1] = "550 5.7.1 two", v[2] = "550 5.7.1 zero";
		return;
	case CONF_MODE:
		v[0] = "0600", v[1] = "0640", v[2] = "0660";
		return;
	case CONF_SOCKET:
		v[0] = "unix:/one", v[1] = "unix:/two", v[2] = "unix:/zero";
		return;
	case CONF_STRING:
	case CONF_PATH:
		v[0] = "/one", v[1] = "/two", v[2] = "/zero";
		return;
	}
}

/* raw_of - what key k's value is when written as raw */
static char *
raw_of(const struct conf_key *k, const char *raw)
{
	struct conf_key one[2] = {*k, {NULL}};
	const struct conf_key *t[] = {one, NULL};
	struct conf_group g;
	struct conf_errors e;
	char *r;

	conf_errors_init(&e);
	conf_group_init(&g, "x", "x", t, NULL, &e);
	conf_set(&g, k->name, raw);
	r = g_strdup(conf_str(&g, k->name));
	conf_group_free(&g);
	conf_errors_free(&e);
	return r;
}

/* same_set - whether two lists hold the same entries, in any order (the
 * domains' order is fixed by their names where policies are combined) */
static int
same_set(char *const *x, char *const *y)
{
	unsigned i, j;

	if (x == NULL || y == NULL)
		return x == y;
	if (g_strv_length((char **) x) != g_strv_length((char **) y))
		return 0;
	for (i = 0; x[i]; i++) {
		for (j = 0; y[j] && strcmp(x[i], y[j]); j++)
			;
		if (y[j] == NULL)
			return 0;
	}
	return 1;
}

/* check_key - a.test and b.test set key k to different values; their
 * combination, both ways round, is what k's rule says */
static void
check_key(const char *hname, const struct conf_key *const *t, const struct conf_key *k)
{
	struct conf_group a, b, d, m1, m2;
	const struct conf_group *ab[2] = {&a, &b}, *ba[2] = {&b, &a};
	struct conf_errors e;
	const char *v[3] = {"", "", ""}, *key1 = NULL, *key2 = NULL, *want = NULL, *why = "";
	int rc1, rc2, good;
	char *w = NULL;

	conf_errors_init(&e);
	conf_group_init(&a, hname, "a.test", t, NULL, &e);
	conf_group_init(&b, hname, "b.test", t, NULL, &e);
	conf_group_init(&d, hname, "default", t, NULL, &e);
	sample(k, v);
	conf_set(&a, k->name, v[0]);
	conf_set(&b, k->name, v[1]);
	conf_set(&d, k->name, v[2]);
	rc1 = conf_group_merge(&m1, ab, 2, &d, "a.test,b.test", &key1);
	rc2 = conf_group_merge(&m2, ba, 2, &d, "a.test,b.test", &key2);
	switch (k->merge) {
	case MERGE_MIN:
	case MERGE_TRUE:
	case MERGE_ENUM:
		want = v[0], why = "a.test's";	/* the smaller, yes, first listed */
		break;
	case MERGE_FALSE:
	case MERGE_ENUM_LAST:
		want = v[1], why = "b.test's";	/* no, listed last */
		break;
	case MERGE_UNION:
		want = k->type == CONF_LIST ? "one, two, three" : "192.0.2.1, 192.0.2.2, 192.0.2.3";
		why = "both lists";
		break;
	case MERGE_INTERSECT:
		want = k->type == CONF_LIST ? "two" : "192.0.2.2", why = "the common entry";
		break;
	case MERGE_DEFAULT:
	case MERGE_RCPT:
		want = v[2], why = "the default policy's";
		break;
	case MERGE_AGREE:
	case MERGE_UNSET:
	case MERGE_NRULES:
		break;
	}
	if (k->merge == MERGE_AGREE) {
		const char *c = conf_group_conflict(&a, &b);

		good = rc1 < 0 && rc2 < 0 && key1 && key2 && !strcmp(key1, k->name)
			&& !strcmp(key2, k->name) && c && !strcmp(c, k->name);
		ok(good, "[%s] %s, merge %s: %s and %s keep a.test and b.test apart",
		   hname, k->name, conf_merge_name(k->merge), v[0], v[1]);
	} else if (want) {
		const struct conf_value *x1 = conf_get(&m1, k->name), *x2 = conf_get(&m2, k->name);

		w = raw_of(k, want);
		good = rc1 == 0 && rc2 == 0 && !strcmp(x1->raw, w) && conf_group_conflict(&a, &b) == NULL
			&& (conf_value_same(k, x1, x2) || same_set(x1->list, x2->list));
		ok(good, "[%s] %s, merge %s: %s and %s give %s (%s), both ways round",
		   hname, k->name, conf_merge_name(k->merge), v[0], v[1], w, why);
		if (!good)
			printf("# got \"%s\" and \"%s\"\n", x1->raw, x2->raw);
	} else {
		ok(0, "[%s] %s has a merge rule", hname, k->name);
	}
	/* agreeing domains: their value, and nothing to keep apart */
	conf_set(&b, k->name, v[0]);
	if (k->merge != MERGE_RCPT) {
		struct conf_group m3;

		rc1 = conf_group_merge(&m3, ab, 2, &d, "a.test,b.test", &key1);
		g_free(w);
		w = raw_of(k, v[0]);
		ok(rc1 == 0 && !strcmp(conf_str(&m3, k->name), w) && conf_group_conflict(&a, &b) == NULL,
		   "[%s] %s: the same value in both domains is kept", hname, k->name);
		conf_group_free(&m3);
	}
	/* a value with no effect on inbound mail (conf_unused) is left out */
	conf_set(&b, k->name, v[1]);
	conf_unused(&b, k->name);
	{
		struct conf_group m4;

		rc1 = conf_group_merge(&m4, ab, 2, &d, "a.test,b.test", &key1);
		g_free(w);
		w = raw_of(k, k->merge == MERGE_RCPT ? v[2] : v[0]);
		ok(rc1 == 0 && !strcmp(conf_str(&m4, k->name), w) && conf_group_conflict(&a, &b) == NULL,
		   "[%s] %s: a value marked unused is left out", hname, k->name);
		conf_group_free(&m4);
	}
	g_free(w);
	conf_group_free(&m1);
	conf_group_free(&m2);
	conf_group_free(&a);
	conf_group_free(&b);
	conf_group_free(&d);
	conf_errors_free(&e);
}

static void
test_every_key(void)
{
	unsigned h, t, i, n = 0, want = 0;

	for (h = 0; sinkd_handlers[h]; h++) {
		const struct conf_key *tables[] = {sinkd_common_keys, sinkd_handlers[h]->keys, NULL};

		for (t = 0; tables[t]; t++) {
			for (i = 0; tables[t][i].name; i++) {
				if (tables[t][i].flags & CONF_NODOMAIN)
					continue;
				want++;
				check_key(sinkd_handlers[h]->name, tables, &tables[t][i]);
				n++;
			}
		}
	}
	ok(n == want && n >= 50, "%u per-domain keys of %u handlers checked", n, h);
}

/* --- whole policies: the inbound view, keeping domains apart --- */

/* rcpts - an inbound message from 192.0.2.1 to the addresses in order;
 * "+" before each accepted, "-" before each deferred with 452 4.5.3, "?"
 * anything else */
static char *
rcpts(struct conn *c, struct msg **mp, const char *const *to)
{
	GString *o = g_string_new(NULL);
	struct msg *m;
	unsigned i;

	conn_set_client(c, "192.0.2.1", "mx.example.net");
	m = *mp = msg_new(c, "<s@example.net>", NULL);
	for (i = 0; to[i]; i++) {
		struct rcpt *r = msg_rcpt_new(m, to[i]);
		enum verdict v = chain_envrcpt(m, r);

		if (v == VERDICT_CONTINUE) {
			msg_rcpt_keep(m, r);
			g_string_append_printf(o, "+%s", to[i]);
		} else {
			g_string_append_printf(o, "%s%s", v == VERDICT_TEMPFAIL
					       && !strcmp(c->reply.code, "452")
					       && !strcmp(c->reply.xcode, "4.5.3") ? "-" : "?", to[i]);
			msg_rcpt_free(r);
		}
	}
	return g_string_free(o, FALSE);
}

static const struct conf_group *
group_of(const struct policy *p, const char *name)
{
	unsigned i;

	for (i = 0; sinkd_handlers[i]; i++)
		if (!strcmp(sinkd_handlers[i]->name, name))
			return policy_group_of(p, sinkd_handlers[i]);
	return NULL;
}

static void
test_apart(void)
{
	char *dir = g_dir_make_tmp("sinkd-apart-XXXXXX", NULL), *conf, *got;
	const char *ab[] = {"x@a.test", "y@b.test", NULL}, *ba[] = {"y@b.test", "x@a.test", NULL};
	const char *ac[] = {"x@a.test", "z@c.test", NULL}, *ca[] = {"z@c.test", "x@a.test", NULL};
	const char *d12[] = {"u@d1.test", "v@d2.test", NULL}, *d13[] = {"u@d1.test", "w@d3.test", NULL};
	const char *abc[] = {"x@a.test", "y@b.test", "z@c.test", "t@a.test", NULL};
	const struct policy *p1, *p2, *pp[2];
	struct policy *owned;
	struct conf_errors e;
	struct snapshot *s;
	struct conn *c;
	struct msg *m1, *m2;
	const char *group = NULL, *key;

	tc_write(dir, "sinkd.conf",
		 "[sinkd]\nchain = protocol, rewrite, disclaimer\ndomains-dir = domains\n"
		 "spool-dir = spool\ninternal-hosts = 10.0.0.0/8\n");
	tc_write(dir, "text1", "One disclaimer of d1.test, long enough\n");
	tc_write(dir, "text2", "Another disclaimer of d2.test, long enough\n");
	/* a.test does not rewrite its inbound mail, but has outbound rules */
	tc_write(dir, "domains/a.test.conf",
		 "[rewrite]\ndirection = outbound\ntext-replace = secret => [removed]\n"
		 "banned-action = reject\nbanned-extensions = js\n");
	/* b.test bans .exe and refuses it */
	tc_write(dir, "domains/b.test.conf",
		 "[rewrite]\nbanned-extensions = exe\nbanned-action = reject\n");
	/* c.test rewrites the text its recipients see */
	tc_write(dir, "domains/c.test.conf", "[rewrite]\ntext-replace = foo => bar\n");
	/* outbound disclaimers of their own: nothing for inbound mail */
	conf = g_strdup_printf("[disclaimer]\ntext-file = %s/text1\n", dir);
	tc_write(dir, "domains/d1.test.conf", conf);
	g_free(conf);
	conf = g_strdup_printf("[disclaimer]\ntext-file = %s/text2\n", dir);
	tc_write(dir, "domains/d2.test.conf", conf);
	g_free(conf);
	/* d3.test puts its disclaimer on inbound mail too */
	conf = g_strdup_printf("[disclaimer]\ntext-file = %s/text2\ndirection = both\n", dir);
	tc_write(dir, "domains/d3.test.conf", conf);
	g_free(conf);
	conf = g_build_filename(dir, "sinkd.conf", NULL);
	conf_errors_init(&e);
	s = snapshot_load(conf, sinkd_handlers, &e);
	if (!ok(s != NULL, "policies to keep apart load")) {
		for (guint i = 0; i < e.msgs->len; i++)
			printf("# %s\n", (char *) g_ptr_array_index(e.msgs, i));
		return;
	}
	ok(s->conflicts && (s->decides & HANDLER_AT_RCPT),
	   "domains that must be kept apart: sinkd needs a reply at RCPT TO");
	c = conn_new(s);

	/* the ban of b.test holds whichever recipient comes first */
	got = rcpts(c, &m1, ab);
	is_str(got, "+x@a.test+y@b.test", "a.test (no inbound rewriting) and b.test share a transaction");
	g_free(got);
	got = rcpts(c, &m2, ba);
	is_str(got, "+y@b.test+x@a.test", "  in either order");
	g_free(got);
	p1 = msg_policy(m1);
	p2 = msg_policy(m2);
	ok(p1 && p1 == p2, "  one combined policy for both orders (%s)", p1 ? p1->domain : "none");
	if (p1) {
		const struct conf_group *rw = group_of(p1, "rewrite");
		char *const *x = conf_list(rw, "banned-extensions");

		is_str(conf_str(rw, "direction"), "both", "  the rules apply to inbound mail");
		ok(x && x[0] && !strcmp(x[0], ".exe") && !x[1],
		   "  b.test's ban, not a.test's outbound one (%s)", conf_str(rw, "banned-extensions"));
		is_str(conf_str(rw, "banned-action"), "reject", "  refused, as b.test says");
		is_str(conf_str(rw, "text-replace"), "", "  a.test's outbound text rule stays out");
	}
	msg_free(m1);
	msg_free(m2);

	/* c.test rewrites text, a.test does not: never one transaction */
	got = rcpts(c, &m1, ac);
	is_str(got, "+x@a.test-z@c.test", "c.test's text rule: z@c.test deferred with 452 4.5.3");
	is_str(c->reply.text, "Too many recipients for one transaction with different policies, try again",
	       "  with a reply that says why");
	is_str(c->decided_by, "sinkd", "  given by sinkd itself");
	g_free(got);
	is_int(m1->rcpts->len, 1, "  x@a.test stays accepted");
	msg_free(m1);
	got = rcpts(c, &m1, ca);
	is_str(got, "+z@c.test-x@a.test", "  the other way round, x@a.test is the one deferred");
	g_free(got);
	msg_free(m1);
	got = rcpts(c, &m1, abc);
	is_str(got, "+x@a.test+y@b.test-z@c.test+t@a.test",
	       "  only the recipient that conflicts is deferred; later ones that agree are taken");
	g_free(got);
	msg_free(m1);
	key = policy_conflict(policy_for_domain(s, "a.test"), policy_for_domain(s, "c.test"), &group);
	is_str(key, "text-replace", "policy_conflict names the key");
	is_str(group, "rewrite", "  and its group");
	pp[0] = policy_for_domain(s, "a.test");
	pp[1] = policy_for_domain(s, "c.test");
	ok(policy_combine(s, pp, 2, &owned) == NULL && owned == NULL,
	   "a combination that cannot be built is refused (the chain tempfails)");

	/* outbound mail keeps one policy: nothing is deferred */
	conn_set_client(c, "10.1.1.1", "internal");
	m1 = msg_new(c, "<s@a.test>", NULL);
	{
		struct rcpt *r1 = msg_rcpt_new(m1, "x@a.test"), *r2 = msg_rcpt_new(m1, "z@c.test");
		enum verdict v1 = chain_envrcpt(m1, r1), v2;

		msg_rcpt_keep(m1, r1);
		v2 = chain_envrcpt(m1, r2);
		msg_rcpt_keep(m1, r2);
		ok(v1 == VERDICT_CONTINUE && v2 == VERDICT_CONTINUE && msg_policy(m1) == policy_for_domain(s, "a.test"),
		   "outbound mail to a.test and c.test: one transaction, the sender domain's policy");
	}
	msg_free(m1);

	/* disclaimers: outbound texts of their own keep no one apart */
	got = rcpts(c, &m1, d12);
	is_str(got, "+u@d1.test+v@d2.test", "two domains with their own outbound disclaimers share a transaction");
	g_free(got);
	p1 = msg_policy(m1);
	ok(p1 && !*conf_str(group_of(p1, "disclaimer"), "text-file"),
	   "  and the combination adds no disclaimer to inbound mail");
	msg_free(m1);
	got = rcpts(c, &m1, d13);
	is_str(got, "+u@d1.test-w@d3.test", "a domain that adds its disclaimer to inbound mail is kept apart");
	g_free(got);
	msg_free(m1);

	conn_free(c);
	snapshot_unref(s);
	conf_errors_free(&e);
	g_free(conf);
	g_free(dir);
}
