/*
 * dkim_test - dkim_may_change(): which change each signature holds back,
 *	from its result and its own h= and l=, under skip and ignore, and
 *	dkim_holds() (the same answer, nothing noted); the dkim.held fact
 *	and X-Sinkd-DKIM-Skip from dkim_report(); dkim_broken() over the
 *	edit list; dkc_header() and dkc_body_hash() (simple and relaxed,
 *	RFC 6376)
 */
#include <string.h>
#include <glib.h>

#include "../../src/dkcanon.h"
#include "../../src/dkim.h"
#include "../../src/edits.h"
#include "../../src/message.h"
#include "../../milters/dkimsign.h"
#include "tap.h"

/* sig - a signature's record with its result, h= ("a:b") and l= */
static struct dkim_sig *
sig(enum dkim_result r, const char *h, gint64 l)
{
	struct dkim_sig *s = g_new0(struct dkim_sig, 1);

	s->result = r;
	s->domain = g_strdup("example.com");
	s->selector = g_strdup("sel");
	s->algorithm = g_strdup("rsa-sha256");
	s->b = g_strdup("");
	s->headers = g_strsplit(h, ":", -1);
	s->length = l;
	return s;
}

static void
test_may_change(void)
{
	static const struct {
		const char *what;
		enum dkim_signed choice;
		enum dkim_result result;
		const char *h;
		gint64 l;
		int crlf;	/* the body ends with CRLF */
		struct dkim_touch t;
		int want;
	} cases[] = {
		{"skip, pass, Subject in h=", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from:to:subject", -1, 1, DKIM_TOUCH_SUBJECT, 0},
		{"skip, pass, subject in h= in another case", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from:SUBJECT", -1, 1, DKIM_TOUCH_HEADER("Subject"), 0},
		{"skip, pass, Subject not in h=", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from:to:date", -1, 1, DKIM_TOUCH_SUBJECT, 1},
		{"skip, fail, Subject in h=", DKIM_SIGNED_SKIP, DKIM_RESULT_FAIL,
		 "from:subject", -1, 1, DKIM_TOUCH_SUBJECT, 1},
		{"skip, temperror, body", DKIM_SIGNED_SKIP, DKIM_RESULT_TEMPERROR,
		 "from", -1, 1, DKIM_TOUCH_BODY, 1},
		{"ignore, pass, Subject in h=", DKIM_SIGNED_IGNORE, DKIM_RESULT_PASS,
		 "from:subject", -1, 1, DKIM_TOUCH_SUBJECT, 1},
		{"skip, pass, body", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from", -1, 1, DKIM_TOUCH_BODY, 0},
		{"skip, pass, l=0, body", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from", 0, 1, DKIM_TOUCH_BODY, 1},
		{"skip, pass, l=100, body anywhere", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from", 100, 1, DKIM_TOUCH_BODY, 0},
		{"skip, pass, l=100, appended after a CRLF", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from", 100, 1, DKIM_TOUCH_BODY_APPEND, 1},
		{"skip, pass, l=100, appended to an unfinished line", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from", 100, 0, DKIM_TOUCH_BODY_APPEND, 0},
		{"skip, pass, no l=, appended", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from", -1, 1, DKIM_TOUCH_BODY_APPEND, 0},
		{"skip, pass, l=0, appended", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from", 0, 1, DKIM_TOUCH_BODY_APPEND, 1},
		{"skip, fail, no l=, appended", DKIM_SIGNED_SKIP, DKIM_RESULT_FAIL,
		 "from", -1, 1, DKIM_TOUCH_BODY_APPEND, 1},
		{"ignore, pass, no l=, appended", DKIM_SIGNED_IGNORE, DKIM_RESULT_PASS,
		 "from", -1, 1, DKIM_TOUCH_BODY_APPEND, 1},
		{"skip, pass, a field added that h= names", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from:to:x-list", -1, 1, DKIM_TOUCH_HEADER("X-List"), 0},
		{"skip, pass, a field h= does not name", DKIM_SIGNED_SKIP, DKIM_RESULT_PASS,
		 "from:to", -1, 1, DKIM_TOUCH_HEADER("X-Seen"), 1},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct msg m = {.queue_id = "TEST"};

		m.dkim = dkim_state_new();
		m.dkim->signed_choice = cases[i].choice;
		m.dkim->body_ends_crlf = cases[i].crlf;
		g_ptr_array_add(m.dkim->sigs, sig(cases[i].result, cases[i].h, cases[i].l));
		is_int(dkim_holds(&m, cases[i].t), !cases[i].want, "  dkim_holds(): the same answer");
		is_int(m.dkim->skipped->len, 0, "  dkim_holds(): nothing noted");
		is_int(dkim_may_change(&m, cases[i].t, "test"), cases[i].want, cases[i].what);
		is_int(m.dkim->skipped->len, !cases[i].want, "  held back: noted");
		is_int(m.facts && g_hash_table_lookup(m.facts, "dkim.held"), !cases[i].want,
		       "  and named in the dkim.held fact");
		dkim_state_free(m.dkim);
		if (m.facts)
			g_hash_table_destroy(m.facts);
	}
	{
		struct msg m = {.queue_id = "TEST"};

		is_int(dkim_may_change(&m, DKIM_TOUCH_BODY, "test"), 1,
		       "no dkim handler (m->dkim NULL): every change may go ahead");
	}
}

static void
test_report(void)
{
	struct msg m = {.queue_id = "TEST"};
	struct edits e;
	const struct edit *ed;

	edits_init(&e);
	m.dkim = dkim_state_new();
	m.dkim->signed_choice = DKIM_SIGNED_SKIP;
	g_ptr_array_add(m.dkim->sigs, sig(DKIM_RESULT_FAIL, "from:subject", -1));
	g_ptr_array_add(m.dkim->sigs, sig(DKIM_RESULT_PASS, "from:subject", -1));
	ok(!dkim_may_change(&m, DKIM_TOUCH_SUBJECT, "rewrite"), "the second signature, passing, holds the tag back");
	ok(!dkim_may_change(&m, DKIM_TOUCH_SUBJECT, "rewrite"), "asked twice");
	ok(!dkim_may_change(&m, DKIM_TOUCH_BODY, "disclaimer"), "the body too");
	dkim_report(&m, &e);
	is_int(e.list->len, 1, "dkim_report: one field");
	ed = e.list->len ? g_ptr_array_index(e.list, 0) : NULL;
	is_str(ed ? ed->name : NULL, DKIM_SKIP_HEADER, "  X-Sinkd-DKIM-Skip");
	is_str(ed ? ed->value : NULL,
	       "rewrite Subject (signed by d=example.com s=sel); disclaimer body (signed by d=example.com s=sel)",
	       "  each change held back once, with its signature");
	is_str(g_hash_table_lookup(m.facts, "dkim.skipped"), "2", "  and the dkim.skipped fact");
	is_str(g_hash_table_lookup(m.facts, "dkim.held"),
	       "rewrite Subject (signed by d=example.com s=sel); disclaimer body (signed by d=example.com s=sel)",
	       "  dkim.held: the same, as the changes were held back");
	edits_free(&e);
	dkim_state_free(m.dkim);
	g_hash_table_destroy(m.facts);
	g_string_free(m.notes, TRUE);
}

static void
test_broken(void)
{
	static const struct {
		const char *what;
		enum dkim_result result;
		const char *h;
		gint64 l;
		const char *edit;	/* "+Name" added, "-Name" deleted,
					 * "~Name" changed, "body" replaced */
		int want;
	} cases[] = {
		{"a field h= names, added", DKIM_RESULT_PASS, "from:subject", -1, "+Subject", 1},
		{"a field h= names, deleted", DKIM_RESULT_PASS, "from:date", -1, "-Date", 1},
		{"a field h= names, changed", DKIM_RESULT_PASS, "from:subject", -1, "~Subject", 1},
		{"a field h= does not name", DKIM_RESULT_PASS, "from:subject", -1, "+X-Seen", 0},
		{"the body replaced", DKIM_RESULT_PASS, "from", -1, "body", 1},
		{"the body replaced under l=0", DKIM_RESULT_PASS, "from", 0, "body", 0},
		{"a failing signature is never broken", DKIM_RESULT_FAIL, "from:subject", -1, "~Subject", 0},
		{"no change", DKIM_RESULT_PASS, "from:subject", -1, "", 0},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct msg m = {.queue_id = "TEST"};
		const char *ed = cases[i].edit;
		GPtrArray *b;

		edits_init(&m.edits);
		m.dkim = dkim_state_new();
		m.dkim->signed_choice = DKIM_SIGNED_RESIGN;
		g_ptr_array_add(m.dkim->sigs, sig(cases[i].result, cases[i].h, cases[i].l));
		if (*ed == '+')
			edits_add_header(&m.edits, "test", ed + 1, "x");
		else if (*ed == '-' || *ed == '~')
			edits_change_header(&m.edits, "test", ed + 1, 1, *ed == '-' ? NULL : "x");
		else if (*ed)
			edits_replace_body(&m.edits, "test", g_bytes_new_static("x\r\n", 3));
		ok(dkim_may_change(&m, DKIM_TOUCH_SUBJECT, "test"), "resign: every change may go ahead");
		b = dkim_broken(&m);
		is_int(b->len, cases[i].want, cases[i].what);
		g_ptr_array_free(b, TRUE);
		dkim_state_free(m.dkim);
		edits_free(&m.edits);
	}
}

/* b64_sha256 - base64 of the SHA-256 of s (g_free) */
static char *
b64_sha256(const char *s)
{
	GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
	guint8 d[32];
	gsize n = sizeof d;
	char *r;

	g_checksum_update(c, (const guchar *) s, strlen(s));
	g_checksum_get_digest(c, d, &n);
	g_checksum_free(c);
	r = g_base64_encode(d, n);
	return r;
}

static void
test_canon(void)
{
	static const struct {
		const char *field, *want;
	} hdr[] = {
		{"Subject: hello", "subject:hello\r\n"},
		{"SubJect :   a  \t b  ", "subject:a b\r\n"},
		{"To: a@example.net,\r\n\t b@example.net", "to:a@example.net, b@example.net\r\n"},
		{"X-Empty:", "x-empty:\r\n"},
		{"X-Fold:\r\n value", "x-fold:value\r\n"},
	};
	static const struct {
		const char *body, *hashed;
	} body[] = {
		{"", ""},
		{"\r\n\r\n", ""},
		{"a  b \t\r\n", "a b\r\n"},
		{"line\r\n\r\n\r\n", "line\r\n"},
		{"one\r\n\r\ntwo", "one\r\n\r\ntwo\r\n"},
		{"bare\nlf\n", "bare\r\nlf\r\n"},
		{" lead\r\n", " lead\r\n"},
	};
	static const struct {
		const char *body, *hashed;
		int relaxed;
		gint64 limit;
		const char *what;
	} simple[] = {
		{"", "\r\n", 0, -1, "simple: an empty body is one CRLF"},
		{"a  b \r\n\r\n", "a  b \r\n", 0, -1, "simple: white space kept, empty lines at the end dropped"},
		{"no end", "no end\r\n", 0, -1, "simple: CRLF after the last line"},
		{"abcdef\r\n", "abc", 1, 3, "l=3: the first three bytes"},
		{"abcdef\r\n", "", 0, 0, "l=0: nothing"},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(hdr); i++) {
		GString *out = g_string_new(NULL);
		char *name = g_strescape(hdr[i].field, NULL);

		const char *colon = strchr(hdr[i].field, ':');
		char *fname = g_strndup(hdr[i].field, colon - hdr[i].field);

		dkc_header(out, fname, colon + 1, 1, 1);
		is_str(out->str, hdr[i].want, name);
		g_string_truncate(out, 0);
		dkc_header(out, fname, colon + 1, 0, 0);
		is_int(strncmp(out->str, hdr[i].field, colon - hdr[i].field), 0,
		       "simple: the name as it is");
		g_free(fname);
		g_string_free(out, TRUE);
		g_free(name);
	}
	for (i = 0; i < G_N_ELEMENTS(body); i++) {
		char *got = dkc_body_hash((const guchar *) body[i].body, strlen(body[i].body), 1, -1);
		gchar *hex = g_compute_checksum_for_string(G_CHECKSUM_SHA256, body[i].hashed, -1);
		guchar raw[32];
		char *want;
		unsigned k;

		for (k = 0; k < 32; k++)
			raw[k] = (guchar) g_ascii_strtoull((char[]) {hex[2 * k], hex[2 * k + 1], 0}, NULL, 16);
		want = g_base64_encode(raw, 32);
		is_str(got, want, "body hash: relaxed form as RFC 6376 3.4.4 gives it");
		g_free(want);
		g_free(hex);
		g_free(got);
	}
	for (i = 0; i < G_N_ELEMENTS(simple); i++) {
		char *got = dkc_body_hash((const guchar *) simple[i].body, strlen(simple[i].body),
					  simple[i].relaxed, simple[i].limit);
		char *want = b64_sha256(simple[i].hashed);

		is_str(got, want, simple[i].what);
		g_free(want);
		g_free(got);
	}
}

int
main(void)
{
	test_may_change();
	test_report();
	test_broken();
	test_canon();
	return tap_done();
}
