/*
 * textrw_test - text substitutions, link prefixing and defanging on
 *	plain and HTML text
 */
#include <string.h>
#include <glib.h>

#include "../../milters/textrw.h"
#include "../../src/match.h"
#include "../../src/rx.h"
#include "tap.h"

#define P	"https://safe.example/?u="
#define PAMP	"https://safe.example/?a=1&u="
#define PAMP_H	"https://safe.example/?a=1&amp;u="
#define XEX	"http%3A%2F%2Fx.example"
#define AAA	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"

enum kind { PLAIN, HTML };

static const struct {
	const char *what;
	const char *replace[4];
	const char *prefix;
	int defang;
	enum kind kind;
	const char *in;
	int rc;
	const char *want;	/* when rc is 1 */
} cases[] = {
	/* literal rules */
	{"literal, every occurrence", {"foo => bar"}, NULL, 0, PLAIN,
	 "foo food", 1, "bar bard"},
	{"literal is case-sensitive", {"foo => bar"}, NULL, 0, PLAIN,
	 "Foo FOO", 0, NULL},
	{"literal with empty replacement", {"secret =>"}, NULL, 0, PLAIN,
	 "a secret b", 1, "a  b"},
	{"rules apply in order", {"a => b", "b => c"}, NULL, 0, PLAIN,
	 "ab", 1, "cc"},
	{"replacing a text by itself is no change", {"a => a"}, NULL, 0, PLAIN,
	 "abc", 0, NULL},
	{"literal UTF-8", {"Grüße => Hallo"}, NULL, 0, PLAIN,
	 "Viele Grüße, Anna", 1, "Viele Hallo, Anna"},
	{"literal multi-byte replacement", {"ok => ✓ fertig"}, NULL, 0, PLAIN,
	 "ok.", 1, "✓ fertig."},
	{"input not UTF-8 is left alone", {"foo => bar"}, NULL, 0, PLAIN,
	 "foo \xff", 0, NULL},

	/* regex rules */
	{"regex with groups", {"/(\\w+)@example\\.com/ => \\1 at example"}, NULL, 0, PLAIN,
	 "mail bob@example.com now", 1, "mail bob at example now"},
	{"regex i flag", {"/hello/i => bye"}, NULL, 0, PLAIN,
	 "Hello HELLO", 1, "bye bye"},
	{"regex without i is case-sensitive", {"/hello/ => bye"}, NULL, 0, PLAIN,
	 "Hello", 0, NULL},
	{"regex \\0 and named group", {"/(?<w>o+)/ => [\\g<w>|\\0]"}, NULL, 0, PLAIN,
	 "foo", 1, "f[oo|oo]"},
	{"regex with an unescaped slash", {"/a/b/ => x"}, NULL, 0, PLAIN,
	 "ca/bc", 1, "cxc"},
	{"regex holding \" => \"", {"/x => y/ => z"}, NULL, 0, PLAIN,
	 "1x => y2", 1, "1z2"},
	{"regex '.' is one UTF-8 character", {"/Gr.ße/ => Hallo"}, NULL, 0, PLAIN,
	 "Grüße", 1, "Hallo"},
	{"regex caseless beyond ASCII", {"/ü/i => ue"}, NULL, 0, PLAIN,
	 "GRÜN grün", 1, "GRueN gruen"},
	{"regex multi-byte replacement", {"/colou?r/ => Farbe ✓"}, NULL, 0, PLAIN,
	 "color colour", 1, "Farbe ✓ Farbe ✓"},
	{"catastrophic regex hits its limit", {"/(a+)+$/ => x"}, NULL, 0, PLAIN,
	 AAA, -1, NULL},
	{"regex limit in HTML text", {"/(a+)+$/ => x"}, NULL, 0, HTML,
	 "<p>" AAA "</p>", -1, NULL},
	{"regex limit in an attribute value", {"/(a+)+$/ => x"}, NULL, 0, HTML,
	 "<p title=\"" AAA "\">x</p>", -1, NULL},

	/* link-prefix, plain text */
	{"plain URL, trailing period left out", {NULL}, P, 0, PLAIN,
	 "see http://x.example/a?b=1.", 1, "see " P XEX "%2Fa%3Fb%3D1."},
	{"plain URL, trailing punctuation run", {NULL}, P, 0, PLAIN,
	 "http://x.example!?), ok", 1, P XEX "!?), ok"},
	{"plain URL, balanced parentheses kept", {NULL}, P, 0, PLAIN,
	 "(https://x.example/wiki/A_(b))", 1,
	 "(" P "https%3A%2F%2Fx.example%2Fwiki%2FA_%28b%29)"},
	{"plain URL in angle brackets", {NULL}, P, 0, PLAIN,
	 "<http://x.example>", 1, "<" P XEX ">"},
	{"plain URL, scheme in any case", {NULL}, P, 0, PLAIN,
	 "HTTP://X.EXAMPLE", 1, P "HTTP%3A%2F%2FX.EXAMPLE"},
	{"plain URL already prefixed", {NULL}, P, 0, PLAIN,
	 "go " P XEX " now", 0, NULL},
	{"plain: no URL inside a word, none without a host", {NULL}, P, 0, PLAIN,
	 "xhttp://x.example http:// https://.", 0, NULL},
	{"plain: several URLs", {NULL}, P, 0, PLAIN,
	 "http://x.example and https://y.example/", 1,
	 P XEX " and " P "https%3A%2F%2Fy.example%2F"},
	{"plain: rules run before link-prefix", {"x.example => y.example"}, P, 0, PLAIN,
	 "http://x.example", 1, P "http%3A%2F%2Fy.example"},

	/* defang, plain text */
	{"defang: dots in the host only", {NULL}, NULL, 1, PLAIN,
	 "go to https://www.x.example/a.b/c?d.e", 1,
	 "go to hxxps://www[.]x[.]example/a.b/c?d.e"},
	{"defang: case, user and port kept", {NULL}, NULL, 1, PLAIN,
	 "HTTP://me.x@h.example:8080/x.y.", 1, "HXXP://me.x@h[.]example:8080/x.y."},
	{"defang: a URL within a URL too", {NULL}, NULL, 1, PLAIN,
	 "https://web.archive.example/2020/http://x.example/a.b", 1,
	 "hxxps://web[.]archive[.]example/2020/hxxp://x[.]example/a.b"},
	{"defang: a doubled scheme", {NULL}, NULL, 1, PLAIN,
	 "http://https://x.example", 1, "hxxp://hxxps://x[.]example"},
	{"defang twice is no change", {NULL}, NULL, 1, PLAIN,
	 "hxxp://x[.]example", 0, NULL},
	{"link-prefix, then defang", {NULL}, P, 1, PLAIN,
	 "http://x.example", 1, "hxxps://safe[.]example/?u=" XEX},

	/* HTML */
	{"HTML: href and text prefixed, title not", {NULL}, P, 0, HTML,
	 "<a href=\"http://x.example/a?b=1&amp;c=2\" title=\"http://x.example\">http://x.example</a>", 1,
	 "<a href=\"" P XEX "%2Fa%3Fb%3D1%26c%3D2\" title=\"http://x.example\">" P XEX "</a>"},
	{"HTML: prefix written with references", {NULL}, PAMP, 0, HTML,
	 "<a href=\"http://x.example\">x</a>", 1, "<a href=\"" PAMP_H XEX "\">x</a>"},
	{"HTML: href already prefixed (as written with &amp;)", {NULL}, PAMP, 0, HTML,
	 "<a href=\"" PAMP_H XEX "\">" PAMP_H XEX "</a>", 0, NULL},
	{"HTML: URL in text ends at &gt;", {NULL}, P, 0, HTML,
	 "&lt;http://x.example&gt;", 1, "&lt;" P XEX "&gt;"},
	{"HTML: href spacing, case and spaces kept", {NULL}, P, 0, HTML,
	 "<A  HREF = \" http://x.example \" >", 1, "<A  HREF = \" " P XEX " \" >"},
	{"HTML: href not http left alone", {NULL}, P, 1, HTML,
	 "<a href=\"mailto:a@x.example\">a@x.example</a>", 0, NULL},
	{"HTML: text vs tag and attribute names", {"href => HREF", "a => X"}, NULL, 0, HTML,
	 "<a href=\"a\">a href</a>", 1, "<a href=\"X\">X HREF</a>"},
	{"HTML: comments untouched", {"foo => bar"}, NULL, 0, HTML,
	 "<!-- foo --><p>foo</p><!--> foo", 1, "<!-- foo --><p>bar</p><!--> bar"},
	{"HTML: unterminated comment kept", {"foo => bar"}, NULL, 0, HTML,
	 "foo<!-- foo", 1, "bar<!-- foo"},
	{"HTML: script and style content untouched", {"foo => bar"}, NULL, 0, HTML,
	 "<script>var foo = '<b>foo</b>';</scripts></script ><STYLE>p.foo{}</sTyLe>foo",
	 1, "<script>var foo = '<b>foo</b>';</scripts></script ><STYLE>p.foo{}</sTyLe>bar"},
	{"HTML: script without its end tag", {"foo => bar"}, NULL, 0, HTML,
	 "foo<script>foo", 1, "bar<script>foo"},
	{"HTML: doctype and end tags untouched", {"foo => bar"}, NULL, 0, HTML,
	 "<!DOCTYPE foo>foo</p title=\"foo\">", 1, "<!DOCTYPE foo>bar</p title=\"foo\">"},
	{"HTML: unquoted value stays unquoted", {"foo => baz"}, NULL, 0, HTML,
	 "<p class=foo id=x>", 1, "<p class=baz id=x>"},
	{"HTML: unquoted value quoted when it must be", {"foo => foo bar"}, NULL, 0, HTML,
	 "<img alt=foo src=x.png>", 1, "<img alt=\"foo bar\" src=x.png>"},
	{"HTML: unquoted href quoted for the prefix's '='", {NULL}, P, 0, HTML,
	 "<a href=http://x.example/ class=c>", 1,
	 "<a href=\"" P XEX "%2F\" class=c>"},
	{"HTML: single quotes kept, quote in value escaped", {"x => it's"}, NULL, 0, HTML,
	 "<p title='x'>x</p>", 1, "<p title='it&#39;s'>it's</p>"},
	{"HTML: double quote in value escaped", {"x => say \"hi\""}, NULL, 0, HTML,
	 "<p title=\"x\">", 1, "<p title=\"say &quot;hi&quot;\">"},
	{"HTML: '>' inside a quoted value", {"b => c"}, NULL, 0, HTML,
	 "<a title=\"a>b\">b</a>", 1, "<a title=\"a>c\">c</a>"},
	{"HTML: '<' not before a letter is text", {"b => B"}, NULL, 0, HTML,
	 "a < b and c > b <", 1, "a < B and c > B <"},
	{"HTML: unterminated tag at the end kept", {"foo => bar"}, NULL, 0, HTML,
	 "foo <a href=\"foo>foo", 1, "bar <a href=\"foo>foo"},
	{"HTML: unterminated unquoted tag at the end kept", {"foo => bar"}, NULL, 0, HTML,
	 "foo <a title=foo", 1, "bar <a title=foo"},
	{"HTML: rules do not span tags", {"foo bar => x"}, NULL, 0, HTML,
	 "foo <b>bar</b>", 0, NULL},
	{"HTML: entities are text as written", {"& => and"}, NULL, 0, HTML,
	 "a &amp; b", 1, "a andamp; b"},
	{"HTML: defang href, src and text", {NULL}, NULL, 1, HTML,
	 "<a href=\"https://x.example/p.html\">https://x.example</a><img src='http://i.example/a.png'>",
	 1, "<a href=\"hxxps://x[.]example/p.html\">hxxps://x[.]example</a>"
	 "<img src='hxxp://i[.]example/a.png'>"},
	{"HTML: defang leaves other attributes", {NULL}, NULL, 1, HTML,
	 "<p title=\"http://x.example\">", 0, NULL},
	{"HTML: not UTF-8 left alone", {"foo => bar"}, NULL, 0, HTML,
	 "<p>foo\xc3</p>", 0, NULL},
	{"HTML: UTF-8 text and values", {"Grüße => Grüße ✓"}, NULL, 0, HTML,
	 "<p title=Grüße>Grüße</p>", 1, "<p title=\"Grüße ✓\">Grüße ✓</p>"},
};

static void
test_cases(void)
{
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *why = NULL, *out = NULL;
		struct textrw *t = textrw_new((char **) cases[i].replace, cases[i].prefix,
					      cases[i].defang, &why);
		int rc;

		if (!ok(t != NULL, "%s: compiles%s%s", cases[i].what, why ? ": " : "",
			why ? why : "")) {
			g_free(why);
			continue;
		}
		if (cases[i].kind == HTML)
			rc = textrw_html(t, cases[i].in, &out, NULL);
		else
			rc = textrw_plain(t, cases[i].in, &out, NULL);
		is_int(rc, cases[i].rc, cases[i].what);
		if (cases[i].rc == 1)
			is_str(out, cases[i].want, "  output");
		else
			ok(out == NULL, "  no output");
		g_free(out);
		textrw_free(t);
	}
}

static void
test_bad(void)
{
	static const struct {
		const char *replace[3];
		const char *prefix;
		const char *why;	/* the whole message, or its start when ends in '*' */
	} bad[] = {
		{{"foo"}, NULL, "\"foo\": write old => new or /regex/ => new"},
		{{"foo=>bar"}, NULL, "\"foo=>bar\": write old => new or /regex/ => new"},
		{{" => bar"}, NULL, "\" => bar\": write old => new or /regex/ => new"},
		{{"a => b", "zzz"}, NULL, "\"zzz\": write old => new or /regex/ => new"},
		{{"/a/"}, NULL, "\"/a/\": write old => new or /regex/ => new"},
		{{"/a => b"}, NULL, "\"/a => b\": write old => new or /regex/ => new"},
		{{"/(/ => x"}, NULL, "\"/(/\": *"},
		{{"/a/q => x"}, NULL, "\"/a/q\": unknown flag 'q' (i is caseless)"},
		{{"/usr/local => /opt"}, NULL, "\"/usr/local\": unknown flag 'l' (i is caseless)"},
		{{"// => x"}, NULL, "\"//\": empty regex"},
		{{"/a/ => \\g<x"}, NULL, "\"/a/ => \\g<x\": *"},
		{{"\xff => x"}, NULL, "\"\xef\xbf\xbd => x\": not UTF-8"},
		{{NULL}, "https://a b/?u=",
		 "link prefix \"https://a b/?u=\": white space or a control character"},
		{{NULL}, "https://\xc3/", "link prefix \"https://\xef\xbf\xbd/\": not UTF-8"},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		unsigned n = g_strv_length((char **) bad[i].replace);
		char *why = NULL, *shown = g_strescape(n ? bad[i].replace[n - 1] : bad[i].prefix, NULL);
		struct textrw *t = textrw_new((char **) bad[i].replace, bad[i].prefix, 0, &why);
		size_t wl = strlen(bad[i].why);

		ok(t == NULL, "\"%s\" refused", shown);
		if (bad[i].why[wl - 1] == '*')
			ok(why && !strncmp(why, bad[i].why, wl - 1) && strlen(why) > wl + 5
			   && !strstr(why, "LIMIT_MATCH"), "  why: %s", why ? why : "(none)");
		else
			is_str(why, bad[i].why, "  why");
		g_free(why);
		g_free(shown);
		textrw_free(t);
	}
}

static void
test_empty(void)
{
	const char *none[] = {NULL};
	char *why = (char *) "unset", *out = (char *) "unset";
	struct textrw *t;

	t = textrw_new(NULL, NULL, 0, &why);
	ok(t == NULL && why == NULL, "no rules: NULL, no why");
	why = (char *) "unset";
	t = textrw_new((char **) none, "", 0, &why);
	ok(t == NULL && why == NULL, "empty list, empty prefix: NULL, no why");
	ok(textrw_plain(NULL, "foo", &out, NULL) == 0 && out == NULL, "no rules: plain text unchanged");
	out = (char *) "unset";
	ok(textrw_html(NULL, "foo", &out, NULL) == 0 && out == NULL, "no rules: HTML unchanged");
	t = textrw_new(NULL, NULL, 1, &why);
	ok(t != NULL && why == NULL, "defang alone is a rule set");
	ok(textrw_plain(t, "", &out, NULL) == 0 && out == NULL, "empty text unchanged");
	textrw_free(t);
	textrw_free(NULL);
}

/* repeat - n copies of s, as one string */
static char *
repeat(const char *s, unsigned n)
{
	GString *o = g_string_new(NULL);

	while (n-- > 0)
		g_string_append(o, s);
	return g_string_free(o, FALSE);
}

/* one_rule - a rule set of one entry (aborts the test on a bad one) */
static struct textrw *
one_rule(const char *rule)
{
	const char *r[] = {rule, NULL};
	char *why = NULL;
	struct textrw *t = textrw_new((char **) r, NULL, 0, &why);

	if (t == NULL)
		g_error("%s: %s", rule, why);
	return t;
}

/*
 * test_budget - the steps of every regex come from one budget: across
 * positions, calls and parts, deterministic, and a failure is -1 with
 * the reason, never a match or a miss
 */
static void
test_budget(void)
{
	/* backtracks a little at every position, never to the match limit */
	struct textrw *cat = one_rule("/(\\w+\\s?)+$/ => x");
	char *words = repeat("word word word word!\n", 200), *out = NULL;
	struct rx_budget b, b2;
	guint64 used;
	int rc;

	rx_budget_init(&b, 1000000000);
	rc = textrw_plain(cat, words, &out, &b);
	is_int(rc, 0, "catastrophic regex, 4 KB, a large budget: no match");
	ok(b.used > 1000000 && !b.spent && !b.limit,
	   "  it took %llu steps: many at each position, none over the limit",
	   (unsigned long long) b.used);
	used = b.used;
	rx_budget_init(&b, 1000000000);
	textrw_plain(cat, words, &out, &b);
	is_int(b.used, used, "  the same text takes the same steps again");
	rx_budget_init(&b, used - 1);
	is_int(textrw_plain(cat, words, &out, &b), -1, "  one step less: -1");
	ok(b.spent && !b.limit && b.left == 0 && out == NULL,
	   "  the budget is spent (not the match limit), nothing written");

	/* one budget for several texts: the parts of a message */
	rx_budget_init(&b, used + used / 2);
	is_int(textrw_plain(cat, words, &out, &b), 0, "shared budget: the first part passes");
	is_int(textrw_html(cat, words, &out, &b), -1, "  the second spends the rest: -1");
	ok(b.spent, "  spent");

	/* HTML: each text run and attribute value spends from the same one */
	{
		char *html = repeat("<p title=\"word word word word!\">word word word word!</p>\n", 300);

		rx_budget_init(&b, 1000000000);
		is_int(textrw_html(cat, html, &out, &b), 0, "HTML, 600 runs and values: no match");
		rx_budget_init(&b2, b.used - 1);
		is_int(textrw_html(cat, html, &out, &b2), -1, "  with one step less: -1");
		g_free(html);
	}
	textrw_free(cat);
	g_free(words);

	/* a repeat that crosses a run and fails without going back (PCRE2
	 * makes it possessive) costs the run at each position: counted */
	{
		struct textrw *poss = one_rule("/[a-z]+(?:!|#)/ => x");
		char *run = repeat("a", 20000);

		rx_budget_init(&b, 50 * 20000);
		is_int(textrw_plain(poss, run, &out, &b), -1,
		       "possessive repeat over 20,000 letters: the characters crossed count");
		ok(b.spent, "  the budget is spent, at 50 steps a character");
		g_free(run);
		run = repeat("abcdefghi ", 2000);
		rx_budget_init(&b, 50 * 20000);
		is_int(textrw_plain(poss, run, &out, &b), 0, "  over short words: passes");
		g_free(run);
		textrw_free(poss);
	}

	/* one position alone still stops at the match limit */
	{
		struct textrw *t = one_rule("/(a+)+$/ => x");

		rx_budget_init(&b, 1000000000);
		is_int(textrw_plain(t, AAA, &out, &b), -1, "(a+)+$ on 74 a's and '!': -1");
		ok(b.limit && !b.spent, "  the match limit, not the budget");
		textrw_free(t);
	}

	/* link-prefix spends from it too */
	{
		const char *none[] = {NULL};
		char *why = NULL, *text = repeat("see https://x.example/ ", 1000);
		struct textrw *t = textrw_new((char **) none, P, 0, &why);

		rx_budget_init(&b, 1000000000);
		is_int(textrw_plain(t, text, &out, &b), 1, "link-prefix, 1000 links: rewritten");
		g_free(out);
		out = NULL;
		ok(b.used > 1000, "  its URL regex took %llu steps", (unsigned long long) b.used);
		rx_budget_init(&b2, b.used / 2);
		is_int(textrw_plain(t, text, &out, &b2), -1, "  half of them: -1");
		textrw_free(t);
		g_free(text);
	}

	/* a URL with 100,000 closing parentheses is trimmed in one pass */
	{
		const char *none[] = {NULL};
		char *why = NULL, *parens = repeat(")", 100000), *text, *want;
		struct textrw *t = textrw_new((char **) none, NULL, 1, &why);

		text = g_strconcat("http://a.example/x", parens, NULL);
		want = g_strconcat("hxxp://a[.]example/x", parens, NULL);
		is_int(textrw_plain(t, text, &out, NULL), 1, "defang, URL and 100,000 ')': changed");
		ok(out && !strcmp(out, want), "  the parentheses are not the URL's");
		g_free(out);
		out = NULL;
		g_free(text);
		g_free(want);
		g_free(parens);
		textrw_free(t);
	}

	/* header names through match_test: one budget for every field */
	{
		char *why = NULL;
		char *const entries[] = {"/^x-(\\w+-?)+$/", NULL};
		struct match_list *l = match_compile(MATCH_NAME, entries, &why);
		unsigned i, hits = 0;
		int r = 0;

		ok(l != NULL, "header-delete regex compiles");
		rx_budget_init(&b, 1000000000);
		for (i = 0; i < 100; i++)
			hits += match_test(l, "X-Spam-Flag-Level", &b) == 1;
		is_int(hits, 100, "  100 fields match");
		used = b.used;
		rx_budget_init(&b, used / 2);
		for (i = 0; i < 100 && r >= 0; i++)
			r = match_test(l, "X-Spam-Flag-Level", &b);
		ok(r == -1 && b.spent && i > 1 && i < 100,
		   "  with half the steps, the budget runs out after %u fields", i);
		match_free(l);
		{
			char *const any[] = {"/^x-.*-flag$/", NULL};

			l = match_compile(MATCH_NAME, any, &why);
			is_int(match_test(l, "X-\xff\xfe-Flag", NULL), 1,
			       "  a name that is not UTF-8 is matched as valid UTF-8");
			match_free(l);
		}
	}
}

/* One case of rx_replace against g_regex_replace, which it stands in
 * for: the same pattern, text and replacement give the same result. */
static const struct {
	const char *pattern;
	int caseless;
	const char *text;
	const char *repl;
} like_glib[] = {
	{"o", 0, "foo boo", "0"},
	{"(\\w+) (\\w+)", 0, "hello world, big cat", "\\2 \\1"},
	{"x*", 0, "abc", "-"},
	{"x*", 0, "xab", "-"},
	{"a?", 0, "baaab", "<\\0>"},
	{"(?=[A-Z0-9])", 0, "RegExTest", "_"},
	{"\\b", 0, "two words", "|"},
	{"$", 0, "line\none\n", "!"},
	{"^", 0, "line\none\n", "> "},
	{"(?m)^", 0, "line\none\n", "> "},
	{"(\\w)(\\w*)", 0, "grüße aus köln", "\\u\\1\\2"},
	{"(\\w+)", 0, "Grüße Aus", "\\U\\1\\E-\\L\\1\\E-\\l\\1"},
	{"(?<first>\\w+)-(?<second>\\w+)", 0, "a-b c-d", "\\g<second>+\\g<first>+\\g<2>"},
	{"(a)|(b)", 0, "ab", "[\\1|\\2]"},
	{"(a)", 0, "aa", "\\9\\1\\12\\101"},
	{"a", 0, "aXa", "\\x41\\x{263A}\\t\\n\\\\"},
	{"a", 0, "aa", "\\0101\\08"},
	{"é", 1, "École été", "e"},
	{"\\d+", 0, "1 22 333", "<\\0>"},
	{"", 0, "añb", "."},
	{"(?J)(?<n>a)|(?<n>b)", 0, "ab", "\\g<n>\\g<n>"},
};

static void
test_like_glib(void)
{
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(like_glib); i++) {
		char *why = NULL, *got = NULL, *want;
		GRegex *g = g_regex_new(like_glib[i].pattern,
					like_glib[i].caseless ? G_REGEX_CASELESS : 0, 0, NULL);
		struct rx *re = rx_new(like_glib[i].pattern, like_glib[i].caseless, &why);
		struct rx_subst *t = rx_subst_new(like_glib[i].repl, &why);
		const char *text = like_glib[i].text;
		int rc;

		if (!ok(g && re && t, "/%s/ => %s compiles", like_glib[i].pattern,
			like_glib[i].repl))
			continue;
		want = g_regex_replace(g, text, -1, 0, like_glib[i].repl, 0, NULL);
		rc = rx_replace(re, t, text, strlen(text), NULL, &got);
		is_str(rc == 1 ? got : rc == 0 ? text : "(failed)", want,
		       "  as g_regex_replace replaces it");
		g_free(got);
		g_free(want);
		g_regex_unref(g);
		rx_free(re);
		rx_subst_free(t);
	}
}

int
main(void)
{
	test_cases();
	test_bad();
	test_empty();
	test_budget();
	test_like_glib();
	return tap_done();
}
