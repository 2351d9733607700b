/*
 * dkim_test - dkim_may_change(): which change each signature holds back,
 *	from its result and its own h= and l=, under skip and ignore, and
 *	dkim_holds() (the same answer, nothing noted); the dkim.held fact
 *	and X-Sinkd-DKIM-Skip from dkim_report()
 */
#include <string.h>
#include <glib.h>

#include "../../src/dkim.h"
#include "../../src/edits.h"
#include "../../src/message.h"
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

int
main(void)
{
	test_may_change();
	test_report();
	return tap_done();
}
