/*
 * textrw_test - text substitutions, link prefixing and defanging on
 *	plain and HTML text
 */
#include <string.h>
#include <glib.h>

#include "../../milters/textrw.h"
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
			rc = textrw_html(t, cases[i].in, &out);
		else
			rc = textrw_plain(t, cases[i].in, &out);
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
	ok(textrw_plain(NULL, "foo", &out) == 0 && out == NULL, "no rules: plain text unchanged");
	out = (char *) "unset";
	ok(textrw_html(NULL, "foo", &out) == 0 && out == NULL, "no rules: HTML unchanged");
	t = textrw_new(NULL, NULL, 1, &why);
	ok(t != NULL && why == NULL, "defang alone is a rule set");
	ok(textrw_plain(t, "", &out) == 0 && out == NULL, "empty text unchanged");
	textrw_free(t);
	textrw_free(NULL);
}

int
main(void)
{
	test_cases();
	test_bad();
	test_empty();
	return tap_done();
}
