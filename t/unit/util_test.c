/*
 * util_test - replies, networks, patterns, templates, sockets, edits
 */
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "../../src/cidr.h"
#include "../../src/edits.h"
#include "../../src/match.h"
#include "../../src/reply.h"
#include "../../src/socket.h"
#include "../../src/spool.h"
#include "../../src/template.h"
#include "tap.h"

static void
test_reply(void)
{
	static const struct {
		const char *spec;
		int good;
		const char *code, *xcode, *text;
	} cases[] = {
		{"550 5.7.1 Go away", 1, "550", "5.7.1", "Go away"},
		{"451 4.3.0 Try later", 1, "451", "4.3.0", "Try later"},
		{"550 5.7.1 one\ntwo", 1, "550", "5.7.1", "one\ntwo"},
		{"250 2.0.0 fine", 0, NULL, NULL, NULL},
		{"550 4.7.1 class mismatch", 0, NULL, NULL, NULL},
		{"550 5.7 short", 0, NULL, NULL, NULL},
		{"550 5.7.1", 0, NULL, NULL, NULL},
		{"55 5.7.1 x", 0, NULL, NULL, NULL},
		{"550 5.7.1 bad\r\nreply", 0, NULL, NULL, NULL},
		{"550 5.7.1 a\n\nb", 0, NULL, NULL, NULL},
		{"550 5.1234.1 long", 0, NULL, NULL, NULL},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct reply r;
		const char *why = NULL;
		int rc = reply_parse(&r, cases[i].spec, &why);
		char *shown = g_strescape(cases[i].spec, NULL);

		ok((rc == 0) == cases[i].good, "reply_parse \"%s\" %s", shown,
		   cases[i].good ? "accepted" : "refused");
		g_free(shown);
		if (rc == 0 && cases[i].good) {
			is_str(r.code, cases[i].code, "  code");
			is_str(r.xcode, cases[i].xcode, "  enhanced code");
			is_str(r.text, cases[i].text, "  text");
		}
		if (rc < 0)
			ok(why != NULL && *why, "  says why: %s", why ? why : "");
		reply_clear(&r);
	}
}

static void
test_cidr(void)
{
	char *nets[] = {"192.0.2.0/24", "10.1.2.3", "2001:db8::/32", NULL};
	const char *bad, *why;
	struct cidr_list *l = cidr_list_parse(nets, &bad, &why);
	char *worse[] = {"192.0.2.0/33", NULL};

	ok(l != NULL, "cidr list parses");
	ok(cidr_list_match(l, "192.0.2.77"), "192.0.2.77 in 192.0.2.0/24");
	ok(!cidr_list_match(l, "192.0.3.1"), "192.0.3.1 not in list");
	ok(cidr_list_match(l, "10.1.2.3"), "single address");
	ok(!cidr_list_match(l, "10.1.2.4"), "single address is /32");
	ok(cidr_list_match(l, "2001:db8:1::5"), "IPv6 prefix");
	ok(cidr_list_match(l, "::ffff:192.0.2.9"), "v4-mapped IPv6 matches IPv4 network");
	ok(!cidr_list_match(l, "garbage"), "garbage matches nothing");
	ok(cidr_list_parse(worse, &bad, &why) == NULL, "prefix /33 refused");
	cidr_list_free(l);
}

static void
test_match(void)
{
	char *addrs[] = {"bad@example.net", "@spam.example", "@.sub.example", "<>",
			 "/^noreply-/", NULL};
	char *hosts[] = {"*.dynamic.example", "/^mail[0-9]+\\./", NULL};
	char *bad[] = {"not an address", NULL};
	char *why = NULL;
	struct match_list *a = match_compile(MATCH_ADDR, addrs, &why);
	struct match_list *h = match_compile(MATCH_NAME, hosts, &why);
	char *evil[] = {"/(a+)+$/", NULL};
	struct match_list *e = match_compile(MATCH_ADDR, evil, &why);
	GString *s = g_string_new(NULL);
	int i;

	ok(a && h, "pattern lists compile");
	ok(match_test(a, "BAD@Example.NET", NULL) == 1, "address, case-insensitive");
	ok(match_test(a, "good@example.net", NULL) == 0, "other address");
	ok(match_test(a, "x@spam.example", NULL) == 1, "@domain");
	ok(match_test(a, "x@a.spam.example", NULL) == 0, "@domain is not subdomains");
	ok(match_test(a, "x@a.sub.example", NULL) == 1, "@.domain matches a subdomain");
	ok(match_test(a, "x@sub.example", NULL) == 0, "@.domain is not the domain itself");
	ok(match_test(a, "", NULL) == 1, "<> matches the null sender");
	ok(match_test(a, "noreply-7@x.example", NULL) == 1, "/regex/");
	ok(match_test(h, "host-1.dynamic.example", NULL) == 1, "host glob");
	ok(match_test(h, "mail12.example.org", NULL) == 1, "host regex");
	ok(match_test(h, "mx.example.org", NULL) == 0, "host no match");
	ok(match_compile(MATCH_ADDR, bad, &why) == NULL && why, "bad entry refused: %s", why);
	g_free(why);
	why = NULL;
	ok(e != NULL, "catastrophic regex compiles");
	for (i = 0; i < 40; i++)
		g_string_append_c(s, 'a');
	g_string_append_c(s, '!');
	ok(match_test(e, s->str, NULL) == -1, "catastrophic backtracking hits the match limit");
	g_string_free(s, TRUE);
	match_free(a);
	match_free(h);
	match_free(e);
}

static const char *
lookup(const char *name, void *ctx)
{
	(void) ctx;
	if (!strcmp(name, "sender"))
		return "a@b";
	if (!strcmp(name, "evil"))
		return "x\r\nBcc: victim@example.com";
	return NULL;
}

static void
test_template(void)
{
	const char *known[] = {"sender", "evil", NULL};
	char *why = NULL, *out, *safe;

	ok(tmpl_check("from ${sender}", known, &why) == 0, "known variable passes");
	ok(tmpl_check("from ${sendr}", known, &why) < 0 && strstr(why, "sendr"),
	   "unknown variable refused: %s", why);
	g_free(why);
	why = NULL;
	ok(tmpl_check("from ${sender", known, &why) < 0, "unterminated refused");
	g_free(why);
	out = tmpl_expand("from ${sender} via ${evil}", lookup, NULL);
	is_str(out, "from a@b via x\r\nBcc: victim@example.com", "expansion");
	safe = edits_safe_value(out);
	ok(strchr(safe, '\r') == NULL && strchr(safe, '\n') == NULL,
	   "edits_safe_value removes CR/LF that are not folds: %s", safe);
	g_free(safe);
	g_free(out);
	safe = edits_safe_value("folded\r\n\tvalue");
	is_str(safe, "folded\r\n\tvalue", "a fold is kept");
	g_free(safe);
}

static void
test_socket(void)
{
	static const struct {
		const char *in, *lib, *pf, *sm;
	} cases[] = {
		{"unix:/run/sinkd/s.sock", "unix:/run/sinkd/s.sock", "unix:/run/sinkd/s.sock", "unix:/run/sinkd/s.sock"},
		{"local:/run/s", "unix:/run/s", "unix:/run/s", "unix:/run/s"},
		{"inet:8890@127.0.0.1", "inet:8890@127.0.0.1", "inet:127.0.0.1:8890", "inet:8890@127.0.0.1"},
		{"inet:127.0.0.1:8890", "inet:8890@127.0.0.1", "inet:127.0.0.1:8890", "inet:8890@127.0.0.1"},
		{"inet:8890", "inet:8890", "inet:127.0.0.1:8890", "inet:8890@127.0.0.1"},
		{"inet:[::1]:8890", "inet6:8890@::1", "inet:[::1]:8890", "inet6:8890@::1"},
		{"inet6:8890@::1", "inet6:8890@::1", "inet:[::1]:8890", "inet6:8890@::1"},
	};
	const char *bad[] = {"unix:relative", "inet:0@x", "inet:70000", "tcp:1@x", "inet:[::1]8890"};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct sock_spec s;
		const char *why;
		char *a, *b, *c;

		if (!ok(sock_parse(cases[i].in, &s, &why) == 0, "socket %s parses", cases[i].in))
			continue;
		a = sock_libmilter(&s);
		b = sock_postfix(&s);
		c = sock_sendmail(&s);
		is_str(a, cases[i].lib, "  libmilter spelling");
		is_str(b, cases[i].pf, "  Postfix spelling");
		is_str(c, cases[i].sm, "  Sendmail spelling");
		g_free(a);
		g_free(b);
		g_free(c);
		sock_free(&s);
	}
	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		const char *why = NULL;

		ok(sock_check(bad[i], &why) < 0 && why, "socket %s refused: %s", bad[i], why ? why : "");
	}
}

static void
test_edits(void)
{
	struct edits e;
	GBytes *b = g_bytes_new_static("x", 1);

	edits_init(&e);
	is_int(edits_count(&e), 0, "no edits");
	edits_add_header(&e, "t", "X-A", "1");
	edits_change_header(&e, "t", "Subject", 1, NULL);
	edits_add_rcpt(&e, "t", "a@b");
	edits_replace_body(&e, "t", b);
	is_int(edits_count(&e), 4, "three list edits and a body");
	ok(((struct edit *) g_ptr_array_index(e.list, 1))->value == NULL,
	   "change with NULL value deletes");
	ok(edits_header_name_ok("X-Sinkd") && !edits_header_name_ok("X Bad")
	   && !edits_header_name_ok("X:Bad") && !edits_header_name_ok(""),
	   "header name check");
	edits_free(&e);
	g_bytes_unref(b);
}

static void
test_spool(void)
{
	char *dir = g_dir_make_tmp("sinkd-spool-XXXXXX", NULL);
	struct spool s;
	GString *want = g_string_new(NULL);
	const guchar *data;
	gsize len;
	GDir *d;
	int i;

	spool_init(&s, dir, 100);
	for (i = 0; i < 30; i++) {
		char line[16];

		g_snprintf(line, sizeof(line), "line %02d\r\n", i);
		g_string_append(want, line);
		spool_append(&s, line, strlen(line));
		if (i == 5)
			ok(!spool_on_disk(&s), "under the limit: in memory");
	}
	ok(spool_on_disk(&s), "over the limit: in a file");
	d = g_dir_open(dir, 0, NULL);
	ok(d && g_dir_read_name(d) == NULL, "the file is unlinked at once");
	if (d)
		g_dir_close(d);
	data = spool_data(&s, &len);
	ok(data && len == want->len && !memcmp(data, want->str, len), "content kept byte for byte");
	spool_append(&s, "more", 4);
	data = spool_data(&s, &len);
	ok(data && len == want->len + 4 && !memcmp(data + want->len, "more", 4),
	   "appending after a read remaps");
	spool_free(&s);
	g_rmdir(dir);
	g_free(dir);
	g_string_free(want, TRUE);
}

int
main(void)
{
	test_reply();
	test_cidr();
	test_match();
	test_template();
	test_socket();
	test_edits();
	test_spool();
	return tap_done();
}
