/*
 * dmarc_test - DMARC records read (dmarc_parse) and the policy of a
 * domain looked up (dmarc_policy_of, lists/dmarc.c)
 *
 * Run by t/unit-dmarc.t, which starts t/lib/dnsanswer.py with the zone
 * the cases below expect and gives DMARC_NS (127.0.0.1:PORT), DMARC_NS6
 * ([::1]:PORT, empty when the server has no IPv6) and DMARC_LOG (the
 * server's log: one line a query, counted here).  Checked: the record
 * syntax; each policy; no record; the organizational domain's sp= (p=
 * without it) for a subdomain, and no second query for a domain that is
 * its own; two records, a record that is not valid, a TXT record beside;
 * a record in several character-strings; a CNAME chain and a loop;
 * hostile answers (huge, cut short, garbage, a bad TXT, records of
 * another name; a TCP connection that is never answered); a server that
 * never answers given up at the timeout, SERVFAIL; names that are no
 * domain and nameservers that are no address, with no query; many
 * threads at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "../../lists/dmarc.h"
#include "tap.h"

#define MS		1000	/* in g_get_monotonic_time()'s unit */
#define TIMEOUT		3000	/* ms, for servers that answer */
#define MARGIN		1000	/* ms past a timeout that a slow machine may take */
#define THREADS		8
#define ROUNDS		50

static const char *ns, *ns6, *log_path;

/* queries - the number of queries the server has read so far */
static int
queries(void)
{
	char *text = NULL;
	int n = 0;
	char *c;

	if (!g_file_get_contents(log_path, &text, NULL, NULL))
		return 0;
	for (c = text; *c; c++)
		n += *c == '\n';
	g_free(text);
	return n;
}

/* check_parse - dmarc_parse() of txt (len bytes; -1: strlen) */
static void
check_parse(const char *txt, gssize len, int want, enum dmarc_policy want_p,
	    enum dmarc_policy want_sp, const char *what)
{
	enum dmarc_policy p = DMARC_TEMPERROR, sp = DMARC_TEMPERROR;
	int rc = dmarc_parse(txt, len < 0 ? strlen(txt) : (size_t) len, &p, &sp);
	char *got, *exp;

	if (want < 0) {
		is_int(rc, -1, what);
		return;
	}
	got = g_strdup_printf("%d p=%s sp=%s", rc, dmarc_policy_name(p), dmarc_policy_name(sp));
	exp = g_strdup_printf("0 p=%s sp=%s", dmarc_policy_name(want_p), dmarc_policy_name(want_sp));
	is_str(got, exp, what);
	g_free(got);
	g_free(exp);
}

/* check_with - dmarc_policy_of(domain) through server: its policy, the
 * queries it made (-1: not checked), and *why has want_why in it */
static void
check_with(const char *server, const char *domain, enum dmarc_policy want, int want_queries,
	   const char *want_why, const char *what)
{
	int before = queries();
	char *why = NULL;
	enum dmarc_policy got = dmarc_policy_of(domain, server, TIMEOUT, &why);

	if (!is_str(dmarc_policy_name(got), dmarc_policy_name(want), what))
		printf("# why: %s\n", why ? why : "(null)");
	if (want_queries >= 0)
		is_int(queries() - before, want_queries, "  queries made");
	if (want_why && !ok(why && strstr(why, want_why), "  said: %s", want_why))
		printf("# why: %s\n", why ? why : "(null)");
	g_free(why);
}

/* check - check_with() the server of the test */
static void
check(const char *domain, enum dmarc_policy want, int want_queries, const char *want_why,
      const char *what)
{
	check_with(ns, domain, want, want_queries, want_why, what);
}

/* check_timeout - domain's look-up with timeout_ms, its server silent:
 * temperror, given up by the timeout (at least a second, libresolv's
 * unit) and a margin */
static void
check_timeout(const char *domain, unsigned timeout_ms, const char *what)
{
	gint64 start = g_get_monotonic_time(), took;
	unsigned bound = MAX(timeout_ms, 1000u) + MARGIN;
	char *why = NULL;
	enum dmarc_policy got = dmarc_policy_of(domain, ns, timeout_ms, &why);

	took = (g_get_monotonic_time() - start) / MS;
	is_str(dmarc_policy_name(got), "temperror", what);
	ok(took < bound, "  given up in %lld ms (under %u)", (long long) took, bound);
	ok(why && strstr(why, "no answer within"), "  said so: %s", why ? why : "(null)");
	g_free(why);
}

/* check_hostile - domain's look-up, its server's answer hostile:
 * temperror, saying want_why, one query, no time lost (not even on the
 * TCP connection the server would hold) */
static void
check_hostile(const char *domain, const char *want_why, const char *what)
{
	gint64 start = g_get_monotonic_time(), took;
	int before = queries();
	char *why = NULL;
	enum dmarc_policy got = dmarc_policy_of(domain, ns, TIMEOUT, &why);

	took = (g_get_monotonic_time() - start) / MS;
	is_str(dmarc_policy_name(got), "temperror", what);
	ok(why && strstr(why, want_why), "  said: %s (%s)", want_why, why ? why : "(null)");
	is_int(queries() - before, 1, "  one query, over UDP only");
	ok(took < TIMEOUT, "  answered in %lld ms", (long long) took);
	g_free(why);
}

/* parse_cases - dmarc_parse() and dmarc_policy_name() alone */
static void
parse_cases(void)
{
	static const char nul[] = "v=DMARC1; p=reject\0; sp=none";
	static const char bytes[] = "v=DMARC1; p=reject; x=\xff\x01\0\x7f; sp=none";

	check_parse("v=DMARC1; p=reject", -1, 0, DMARC_REJECT, DMARC_REJECT,
		    "parse: p=reject, sp= as p=");
	check_parse("v=DMARC1;p=none", -1, 0, DMARC_NONE, DMARC_NONE, "parse: p=none, no spaces");
	check_parse("v=DMARC1; p=quarantine; sp=none", -1, 0, DMARC_QUARANTINE, DMARC_NONE,
		    "parse: sp= of its own");
	check_parse("v=DMARC1; p=none; sp=reject", -1, 0, DMARC_NONE, DMARC_REJECT,
		    "parse: sp= stricter than p=");
	check_parse("  v = DMARC1 ;\tp = reject\t; sp=  quarantine ", -1, 0, DMARC_REJECT,
		    DMARC_QUARANTINE, "parse: spaces and tabs around names, = and ;");
	check_parse("v=DMARC1;\r\n p=quarantine", -1, 0, DMARC_QUARANTINE, DMARC_QUARANTINE,
		    "parse: a folded line");
	check_parse("V=dmarc1; P=Reject; SP=NONE", -1, 0, DMARC_REJECT, DMARC_NONE,
		    "parse: case does not matter");
	check_parse("v=DMARC1; p=reject;", -1, 0, DMARC_REJECT, DMARC_REJECT, "parse: a final ;");
	check_parse("v=DMARC1;; p=reject ;;", -1, 0, DMARC_REJECT, DMARC_REJECT,
		    "parse: empty tags between");
	check_parse("v=DMARC1; rua=mailto:d@example.com; p=reject", -1, 0, DMARC_REJECT,
		    DMARC_REJECT, "parse: p= later than second");
	check_parse("v=DMARC1; p=none; pct=20; rua=mailto:a@b.example,mailto:c@d.example!10m; "
		    "ruf=; fo=1:d; adkim=s; aspf=r; ri=3600; rf=afrf; x_new=1", -1, 0, DMARC_NONE,
		    DMARC_NONE, "parse: every other tag, and an unknown one, ignored");
	check_parse(bytes, sizeof(bytes) - 1, 0, DMARC_REJECT, DMARC_NONE,
		    "parse: any byte but ; in another tag's value");
	check_parse("v=DMARC1; p=reject; sp=none", 18, 0, DMARC_REJECT, DMARC_REJECT,
		    "parse: no further than len");
	check_parse("v=DMARC1", -1, -1, 0, 0, "parse: no p=: not valid");
	check_parse("v=DMARC1; sp=reject", -1, -1, 0, 0, "parse: sp= without p=: not valid");
	check_parse("p=reject; v=DMARC1", -1, -1, 0, 0, "parse: v= not first: no record");
	check_parse("; v=DMARC1; p=reject", -1, -1, 0, 0, "parse: a ; before v=: no record");
	check_parse("v=DMARC2; p=reject", -1, -1, 0, 0, "parse: another version");
	check_parse("v=DMARC1 p=reject", -1, -1, 0, 0, "parse: no ; after the version");
	check_parse("v=spf1 -all", -1, -1, 0, 0, "parse: an SPF record");
	check_parse("v=DMARC1; p=rejected", -1, -1, 0, 0, "parse: p= no policy");
	check_parse("v=DMARC1; p=", -1, -1, 0, 0, "parse: p= empty");
	check_parse("v=DMARC1; p=reject; sp=bogus", -1, -1, 0, 0, "parse: sp= no policy");
	check_parse("v=DMARC1; p=reject; p=none", -1, -1, 0, 0, "parse: p= twice");
	check_parse("v=DMARC1; p=reject; sp=none; sp=none", -1, -1, 0, 0, "parse: sp= twice");
	check_parse("v=DMARC1; p=reject; v=DMARC1", -1, -1, 0, 0, "parse: v= twice");
	check_parse("v=DMARC1; p=reject; 1x=y", -1, -1, 0, 0, "parse: a tag name not a letter first");
	check_parse("v=DMARC1; p=reject; =y", -1, -1, 0, 0, "parse: no tag name");
	check_parse("v=DMARC1; p=reject; garbage", -1, -1, 0, 0, "parse: no =");
	check_parse("v=DMARC1; p=reject; a-b=c", -1, -1, 0, 0, "parse: - in a tag name");
	check_parse(nul, sizeof(nul) - 1, -1, 0, 0, "parse: a NUL in p=");
	check_parse("", -1, -1, 0, 0, "parse: nothing");
	check_parse(" \t ", -1, -1, 0, 0, "parse: white space only");
	check_parse("\x01\x02v=DMARC1; p=reject", -1, -1, 0, 0, "parse: garbage first");
	check_parse(NULL, 0, -1, 0, 0, "parse: NULL, 0 bytes");

	is_str(dmarc_policy_name(DMARC_ABSENT), "absent", "name: absent");
	is_str(dmarc_policy_name(DMARC_NONE), "none", "name: none");
	is_str(dmarc_policy_name(DMARC_QUARANTINE), "quarantine", "name: quarantine");
	is_str(dmarc_policy_name(DMARC_REJECT), "reject", "name: reject");
	is_str(dmarc_policy_name(DMARC_TEMPERROR), "temperror", "name: temperror");
	is_str(dmarc_policy_name((enum dmarc_policy) 99), "?", "name: out of the enum");
}

/* bad_names - what is no domain name is absent, asked of no one */
static void
bad_names(void)
{
	static const char *const names[] = {
		"", "Example.test", "reject.test.", ".reject.test", "reject..test", "re ject.test",
		"re_ject.test", "-reject.test", "reject-.test", "r\xc3\xa9ject.test", "reject.test\n",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test",	/* 64 */
		NULL,
	};
	GString *long_name = g_string_new("");
	char *why = NULL, *what;
	int before = queries(), i;

	for (i = 0; names[i]; i++) {
		char *name = g_strescape(names[i], NULL);

		what = g_strdup_printf("not a domain name: \"%s\": absent", name);
		is_str(dmarc_policy_name(dmarc_policy_of(names[i], ns, TIMEOUT, NULL)), "absent", what);
		g_free(what);
		g_free(name);
	}
	while (long_name->len < 254)
		g_string_append(long_name, "abcdefgh.");
	g_string_truncate(long_name, 254 - strlen("test"));
	g_string_append(long_name, "test");
	is_str(dmarc_policy_name(dmarc_policy_of(long_name->str, ns, TIMEOUT, &why)), "absent",
	       "not a domain name: 254 bytes: absent");
	ok(why && strstr(why, "not a domain name"), "  said so: %s", why ? why : "(null)");
	g_clear_pointer(&why, g_free);
	is_str(dmarc_policy_name(dmarc_policy_of(NULL, ns, TIMEOUT, &why)), "absent",
	       "not a domain name: NULL: absent");
	g_clear_pointer(&why, g_free);
	is_int(queries() - before, 0, "  not one query for any of them");
	g_string_free(long_name, TRUE);
}

/* bad_servers - nameservers that are no address, one where nobody
 * listens, and the server of the test over IPv6 */
static void
bad_servers(void)
{
	static const char *const servers[] = {
		"nope", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:53x",
		"[::1", "[::1]53", "[127.0.0.1]:53", "[]:53", "::1:53:x", "", NULL,
	};
	char *why = NULL, *what;
	int i;

	for (i = 0; servers[i]; i++) {
		what = g_strdup_printf("nameserver \"%s\": temperror", servers[i]);
		is_str(dmarc_policy_name(dmarc_policy_of("reject.test", servers[i], TIMEOUT, &why)),
		       "temperror", what);
		ok(why && strstr(why, "is not ADDRESS[:PORT]"), "  said so: %s", why ? why : "(null)");
		g_clear_pointer(&why, g_free);
		g_free(what);
	}
	check_with("127.0.0.1:1", "reject.test", DMARC_TEMPERROR, 0, "connection refused",
		   "a port nobody listens on: temperror");
	if (*ns6) {
		check_with(ns6, "reject.test", DMARC_REJECT, 1, NULL, "an IPv6 server: reject");
		check_with(ns6, "mail.example.co.uk", DMARC_QUARANTINE, 2, NULL,
			   "  and the organizational domain through it");
	} else {
		ok(1, "# SKIP no IPv6 on lo");
		ok(1, "# SKIP no IPv6 on lo");
	}
}

/* the cases the threads ask, over and over */
static const struct {
	const char *domain;
	enum dmarc_policy want;
} mix[] = {
	{"reject.test", DMARC_REJECT},
	{"quarantine.test", DMARC_QUARANTINE},
	{"none.test", DMARC_NONE},
	{"absent.test", DMARC_ABSENT},
	{"mail.example.co.uk", DMARC_QUARANTINE},
	{"example.co.uk", DMARC_REJECT},
	{"two.test", DMARC_ABSENT},
	{"split.test", DMARC_REJECT},
	{"beside.test", DMARC_QUARANTINE},
	{"alias.test", DMARC_REJECT},
	{"sub.nosp.test", DMARC_REJECT},
};

static gint answered, wrong;

/* ask_often - a thread's ROUNDS look-ups, each case in turn from its
 * own start */
static gpointer
ask_often(gpointer data)
{
	guint i, k = GPOINTER_TO_UINT(data);
	enum dmarc_policy got;
	char *why;

	for (i = 0; i < ROUNDS; i++, k++) {
		why = NULL;
		got = dmarc_policy_of(mix[k % G_N_ELEMENTS(mix)].domain, ns, 10 * TIMEOUT, &why);
		if (got != mix[k % G_N_ELEMENTS(mix)].want && g_atomic_int_add(&wrong, 1) < 5)
			printf("# %s: %s (%s)\n", mix[k % G_N_ELEMENTS(mix)].domain,
			       dmarc_policy_name(got), why ? why : "");
		g_atomic_int_inc(&answered);
		g_free(why);
	}
	return NULL;
}

/* threads - THREADS threads of ROUNDS look-ups each at once */
static void
threads(void)
{
	GThread *t[THREADS];
	guint i;

	for (i = 0; i < THREADS; i++)
		t[i] = g_thread_new("dmarc", ask_often, GUINT_TO_POINTER(i));
	for (i = 0; i < THREADS; i++)
		g_thread_join(t[i]);
	is_int(g_atomic_int_get(&answered), THREADS * ROUNDS, "threads: every look-up answered");
	is_int(g_atomic_int_get(&wrong), 0, "  each one right");
}

int
main(void)
{
	GString *long_name = g_string_new("");

	ns = getenv("DMARC_NS");
	ns6 = getenv("DMARC_NS6");
	log_path = getenv("DMARC_LOG");
	if (ns == NULL || ns6 == NULL || log_path == NULL) {
		printf("1..0 # SKIP DMARC_NS, DMARC_NS6, DMARC_LOG not set: run by t/unit-dmarc.t\n");
		return 0;
	}
	parse_cases();

	check("reject.test", DMARC_REJECT, 1, "reject, by _dmarc.reject.test",
	      "p=reject: reject, one query (its own organizational domain)");
	check("quarantine.test", DMARC_QUARANTINE, 1, NULL, "p=quarantine: quarantine");
	check("none.test", DMARC_NONE, 1, NULL, "p=none: none");
	check("absent.test", DMARC_ABSENT, 1, "no DMARC record at _dmarc.absent.test",
	      "no record: absent");
	check("mail.example.co.uk", DMARC_QUARANTINE, 2,
	      "quarantine, by _dmarc.example.co.uk for its subdomains",
	      "no record at a subdomain: its organizational domain's sp=");
	check("deep.mail.example.co.uk", DMARC_QUARANTINE, 2, NULL,
	      "  deeper: the organizational domain still, asked second");
	check("example.co.uk", DMARC_REJECT, 1, NULL, "  the organizational domain itself: its p=");
	check("absent.example.co.uk", DMARC_QUARANTINE, 2, NULL,
	      "  a subdomain of a public suffix's domain");
	check("sub.nosp.test", DMARC_REJECT, 2, NULL, "no sp=: the organizational domain's p=");
	check("sub.orgonly.test", DMARC_QUARANTINE, 2, NULL, "no record at the subdomain: p= above");
	check("co.uk", DMARC_ABSENT, 1, NULL, "a public suffix: its own record only");
	check("two.test", DMARC_ABSENT, 1, "2 DMARC records at _dmarc.two.test: none applies",
	      "two records: none applies");
	check("x.twosub.test", DMARC_ABSENT, 1, "2 DMARC records",
	      "  at the subdomain: none, nor the organizational domain's");
	check("bad.test", DMARC_ABSENT, 1, "is not valid", "a record not valid: none applies");
	check("x.badsub.test", DMARC_ABSENT, 1, "is not valid",
	      "  at the subdomain: none, nor the organizational domain's");
	check("split.test", DMARC_REJECT, 1, NULL, "a record in several character-strings");
	check("beside.test", DMARC_QUARANTINE, 1, NULL, "a TXT record that is not DMARC beside");
	check("notdmarc.test", DMARC_ABSENT, 1, "no DMARC record", "only TXT records not DMARC");
	check("x.notdmarcsub.test", DMARC_REJECT, 2, NULL,
	      "  at a subdomain: the organizational domain asked");
	check("many.test", DMARC_NONE, 1, NULL, "300 TXT records, one DMARC");
	check("huge.test", DMARC_REJECT, 1, NULL, "a record of 60000 bytes");
	check("alias.test", DMARC_REJECT, 1, NULL, "a CNAME to a record");
	check("stray.test", DMARC_ABSENT, 1, "no DMARC record",
	      "a record of another name in the answer: not taken");
	check("loop.test", DMARC_ABSENT, 1, "no DMARC record", "a CNAME loop: no record");
	check("chain8.test", DMARC_REJECT, 1, NULL, "a CNAME chain of 8 links: followed");
	check("chain.test", DMARC_ABSENT, 1, "no DMARC record",
	      "a CNAME chain of 10 links, longer than followed: no record");

	/* a name whose _dmarc. name would be too long: the organizational
	 * domain alone is asked */
	while (long_name->len < 240)
		g_string_append(long_name, "abcdefghi.");
	g_string_append(long_name, "orgonly.test");
	check(long_name->str, DMARC_QUARANTINE, 1, NULL,
	      "a domain of 252 bytes: only its organizational domain asked");
	g_string_free(long_name, TRUE);

	check("fail.test", DMARC_TEMPERROR, -1, "SERVFAIL", "SERVFAIL: temperror");
	check("a.failorg.test", DMARC_TEMPERROR, -1, "SERVFAIL",
	      "  at the organizational domain: temperror");
	check_hostile("truncated.test", "cut short (TC)", "a truncated answer: temperror");
	check_hostile("truncated2.test", "cut short (TC)",
		      "a truncated answer with a record: temperror");
	check_hostile("garbage.test", "cannot be read", "garbage: temperror");
	check_hostile("badtxt.test", "cannot be read", "a TXT record past its data: temperror");
	check_timeout("stall.test", 2000, "a server that never answers: temperror");
	check_timeout("a.stallorg.test", 2000, "  at the organizational domain: temperror");
	check_timeout("stall.test", 300, "  with a timeout under a second");

	bad_names();
	bad_servers();
	threads();
	return tap_done();
}
