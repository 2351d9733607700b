/*
 * textrw - text substitutions and link rewriting on decoded text
 *
 * Choices the interface leaves open, made here:
 *
 *	Entries.  The separator is " => ": for "old => new" the first one;
 *	for "/regex/flags => new" the first one after the closing '/' and
 *	its flag letters, so the regex may hold '/' and " => " unescaped.
 *	An entry that ends in " =>" replaces with nothing (list entries
 *	arrive stripped of spaces, so that is how "old => " reads).  An
 *	entry that starts with '/' is always a regex; a literal that starts
 *	with '/' is written as a regex ("/\/usr\/local/ => /opt").  The only
 *	flag is i; any other letter is an error.
 *
 *	Text.  Input that is not valid UTF-8 is left alone (0).  Literal
 *	rules are case-sensitive and replace every occurrence; ^ and $ in
 *	a regex are the start and end of the text, not of each line.
 *
 *	URLs.  A URL is "http://" or "https://" (any case, not inside a word)
 *	up to white space, '<', '>', '"' or '\'', less trailing . , ; : ! ?
 *	and any ) or ] without its opening partner.  A URL that already
 *	starts with the link prefix is left alone, so text rewritten once
 *	is not rewritten again.  Defang stops at the end of the host, so
 *	in text a URL within a URL (an archive's link) is defanged too.
 *
 *	HTML.  Rules see the text as written: "&amp;" is five characters,
 *	and a rule never spans a tag, since each text run and each
 *	attribute value is rewritten on its own.  URLs in text get the link
 *	prefix and are defanged like href values, though no client makes
 *	them links, so that what a reader sees matches where links go.
 *	Link-prefix decodes the character references &amp; &lt; &gt;
 *	&quot; &apos; &nbsp; &#N; &#xH; in a URL before percent-encoding
 *	it (a URL in text also ends at an encoded space, quote, '<' or
 *	'>'), and writes the prefix with & < > " ' as references.  A value
 *	that changes keeps its quotes; a quote of the same kind in the new
 *	value becomes a reference, and an unquoted value that would no
 *	longer be one is put in double quotes.
 *
 *	Markup.  A comment runs from "<!--" to "-->" (or "<!-->", "<!--->");
 *	any other "<!" to the next '>'; an end tag is copied as it is.
 *	Markup with no end before the end of the input (a tag without its
 *	'>', an unclosed quote or comment) is kept as it is with everything
 *	after it: a browser drops it, and reading it as text would rewrite
 *	tag and attribute names.  The content of <script> and <style> runs
 *	to the next "</script" or "</style" in any case, or to the end.
 */
#include <string.h>
#include <glib.h>

#include "../src/rx.h"
#include "textrw.h"

/* finds URLs; each match is cut further by url_end() and url_trim() */
#define URL_PATTERN	"\\bhttps?://[^\\s<>\"']+"

struct rule {
	char *old;		/* literal rule: the text replaced */
	char *new;		/* literal rule: the replacement */
	struct rx *re;		/* regex rule, else NULL */
	struct rx_subst *subst;	/* ... and its replacement */
};

struct textrw {
	char *prefix;		/* link-prefix, or NULL */
	char *prefix_html;	/* the same, escaped for HTML */
	int defang;
	struct rx *url;		/* URL_PATTERN, when prefix or defang */
	unsigned n;
	struct rule r[];	/* text-replace, in order */
};

/* regex_new - compile; NULL and *why on error */
static struct rx *
regex_new(const char *pattern, int caseless, const char *shown, char **why)
{
	char *bad = NULL;
	struct rx *re = rx_new(pattern, caseless, &bad);

	if (re == NULL) {
		*why = g_strdup_printf("\"%s\": %s", shown, bad);
		g_free(bad);
	}
	return re;
}

/* entry_error - the message for an entry that is not an entry */
static int
entry_error(const char *e, char **why)
{
	*why = g_strdup_printf("\"%s\": write old => new or /regex/ => new", e);
	return -1;
}

/* rule_regex - parse "/regex/flags => new"; 0, or -1 and *why */
static int
rule_regex(struct rule *r, const char *e, char **why)
{
	size_t len = strlen(e), sep, k = 0;
	int caseless = 0;
	char *body, *shown, *bad = NULL;
	const char *f;

	/* the first " => " (or " =>" ending the entry) after "/.../flags" */
	for (sep = 1; sep + 3 <= len; sep++) {
		if (strncmp(e + sep, " =>", 3) != 0 || (e[sep + 3] && e[sep + 3] != ' '))
			continue;
		for (k = sep; k > 0 && g_ascii_isalpha(e[k - 1]); k--)
			;
		if (k >= 2 && e[k - 1] == '/')
			break;
	}
	if (sep + 3 > len)
		return entry_error(e, why);
	shown = g_strndup(e, sep);
	for (f = e + k; f < e + sep; f++) {
		if (*f != 'i') {
			*why = g_strdup_printf("\"%s\": unknown flag '%c' (i is caseless)", shown, *f);
			g_free(shown);
			return -1;
		}
		caseless = 1;
	}
	if (k == 2) {
		*why = g_strdup_printf("\"%s\": empty regex", shown);
		g_free(shown);
		return -1;
	}
	r->subst = rx_subst_new(e[sep + 3] ? e + sep + 4 : "", &bad);
	if (r->subst == NULL) {
		*why = g_strdup_printf("\"%s\": %s", e, bad);
		g_free(bad);
		g_free(shown);
		return -1;
	}
	body = g_strndup(e + 1, k - 2);
	r->re = regex_new(body, caseless, shown, why);
	g_free(body);
	g_free(shown);
	return r->re ? 0 : -1;
}

/* rule_parse - one text-replace entry; 0, or -1 and *why */
static int
rule_parse(struct rule *r, const char *e, char **why)
{
	size_t len = strlen(e);
	const char *sep;

	if (!g_utf8_validate(e, -1, NULL)) {
		char *shown = g_utf8_make_valid(e, -1);

		*why = g_strdup_printf("\"%s\": not UTF-8", shown);
		g_free(shown);
		return -1;
	}
	if (e[0] == '/')
		return rule_regex(r, e, why);
	if ((sep = strstr(e, " => ")) != NULL) {
		r->new = g_strdup(sep + 4);
	} else if (len >= 3 && !strcmp(e + len - 3, " =>")) {
		sep = e + len - 3;
		r->new = g_strdup("");
	} else {
		return entry_error(e, why);
	}
	if (sep == e)
		return entry_error(e, why);
	r->old = g_strndup(e, sep - e);
	return 0;
}

/* prefix_check - 0 if a link prefix can be used, else -1 and *why */
static int
prefix_check(const char *prefix, char **why)
{
	const char *p;

	if (!g_utf8_validate(prefix, -1, NULL)) {
		char *shown = g_utf8_make_valid(prefix, -1);

		*why = g_strdup_printf("link prefix \"%s\": not UTF-8", shown);
		g_free(shown);
		return -1;
	}
	for (p = prefix; *p; p++) {
		if ((unsigned char) *p <= ' ' || *p == 0x7f) {
			*why = g_strdup_printf("link prefix \"%s\": white space or a control character", prefix);
			return -1;
		}
	}
	return 0;
}

/* textrw_new - compile a rule set; caller frees with textrw_free() */
struct textrw *
textrw_new(char *const *replace, const char *link_prefix, int defang,
	   char **why)
{
	unsigned n = replace ? g_strv_length((char **) replace) : 0, i;
	struct textrw *t;

	*why = NULL;
	if (link_prefix && !*link_prefix)
		link_prefix = NULL;
	if (n == 0 && link_prefix == NULL && !defang)
		return NULL;
	t = g_malloc0(sizeof(*t) + n * sizeof(struct rule));
	for (i = 0; i < n; i++) {
		t->n = i + 1;
		if (rule_parse(&t->r[i], replace[i], why) < 0)
			goto fail;
	}
	if (link_prefix) {
		if (prefix_check(link_prefix, why) < 0)
			goto fail;
		t->prefix = g_strdup(link_prefix);
		t->prefix_html = g_markup_escape_text(link_prefix, -1);
	}
	t->defang = defang != 0;
	if (t->prefix || t->defang) {
		t->url = regex_new(URL_PATTERN, 1, "url", why);
		if (t->url == NULL)
			goto fail;
	}
	return t;
fail:
	textrw_free(t);
	return NULL;
}

/* textrw_free - NULL is allowed */
void
textrw_free(struct textrw *t)
{
	unsigned i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		g_free(t->r[i].old);
		g_free(t->r[i].new);
		rx_free(t->r[i].re);
		rx_subst_free(t->r[i].subst);
	}
	g_free(t->prefix);
	g_free(t->prefix_html);
	rx_free(t->url);
	g_free(t);
}

/* literal_replace - s with every old made new; NULL if old is not in s */
static char *
literal_replace(const char *s, const char *old, const char *new)
{
	size_t ol = strlen(old);
	const char *p = strstr(s, old);
	GString *out;

	if (p == NULL)
		return NULL;
	out = g_string_new(NULL);
	for (; p; s = p + ol, p = strstr(s, old)) {
		g_string_append_len(out, s, p - s);
		g_string_append(out, new);
	}
	g_string_append(out, s);
	return g_string_free(out, FALSE);
}

/* replace - *s becomes next; the old one is freed unless it is in, the
 * caller's text, which is only copied once a rule changes it */
static void
replace(char **s, const char *in, char *next)
{
	if (*s != in)
		g_free(*s);
	*s = next;
}

/* rules_apply - the text-replace rules on *s, replaced; 0, or -1 */
static int
rules_apply(const struct textrw *t, char **s, const char *in, struct rx_budget *b)
{
	unsigned i;

	for (i = 0; i < t->n; i++) {
		const struct rule *r = &t->r[i];
		char *next;
		int rc;

		if (r->re == NULL) {
			next = literal_replace(*s, r->old, r->new);
			if (next == NULL)
				continue;
		} else {
			rc = rx_replace(r->re, r->subst, *s, strlen(*s), b, &next);
			if (rc < 0)
				return -1;
			if (rc == 0)
				continue;
		}
		replace(s, in, next);
	}
	return 0;
}

/* entity_at - the character of the reference at s ('&'), its length in
 * *len; 0 when s starts no reference known here */
static gunichar
entity_at(const char *s, size_t *len)
{
	static const struct {
		const char *name;
		gunichar c;
	} named[] = {
		{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'},
		{"&apos;", '\''}, {"&nbsp;", 0xa0},
	};
	unsigned i;
	const char *p;
	gunichar c = 0;
	int hex;

	for (i = 0; i < G_N_ELEMENTS(named); i++) {
		*len = strlen(named[i].name);
		if (!g_ascii_strncasecmp(s, named[i].name, *len))
			return named[i].c;
	}
	if (s[1] != '#')
		return 0;
	hex = s[2] == 'x' || s[2] == 'X';
	for (p = s + 2 + hex; hex ? g_ascii_isxdigit(*p) : g_ascii_isdigit(*p); p++) {
		c = c * (hex ? 16 : 10) + (hex ? g_ascii_xdigit_value(*p) : *p - '0');
		if (c > 0x10ffff)
			c = 0x110000;	/* stays out of range, does not wrap */
	}
	if (p == s + 2 + hex || *p != ';')
		return 0;
	*len = p + 1 - s;
	if (c == 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		c = 0xfffd;
	return c;
}

/* html_decode - n bytes of s with the references entity_at() knows
 * replaced by their characters; caller frees */
static char *
html_decode(const char *s, size_t n)
{
	GString *out = g_string_sized_new(n);
	const char *end = s + n;
	size_t len;
	gunichar c;

	while (s < end) {
		if (*s == '&' && (c = entity_at(s, &len)) != 0 && s + len <= end) {
			g_string_append_unichar(out, c);
			s += len;
		} else {
			g_string_append_c(out, *s++);
		}
	}
	return g_string_free(out, FALSE);
}

/* url_end - in HTML, where a URL from start to end stops at an encoded
 * white space, quote, '<' or '>' */
static size_t
url_end(const char *s, size_t start, size_t end)
{
	size_t i, len;
	gunichar c;

	for (i = start; i < end; i++) {
		if (s[i] != '&' || (c = entity_at(s + i, &len)) == 0)
			continue;
		if (g_unichar_isspace(c) || c == '<' || c == '>' || c == '"' || c == '\'')
			return i;
		i += len - 1;
	}
	return end;
}

/* url_trim - a URL from start to end less trailing punctuation, and
 * less a closing ) or ] that has no opening one in the URL (the balance
 * of each is counted once, and kept as the end moves back) */
static size_t
url_trim(const char *s, size_t start, size_t end)
{
	long paren = 0, bracket = 0;
	size_t i;

	for (i = start; i < end; i++) {
		paren += (s[i] == '(') - (s[i] == ')');
		bracket += (s[i] == '[') - (s[i] == ']');
	}
	while (end > start && strchr(".,;:!?)]", s[end - 1])) {
		char c = s[end - 1];

		if ((c == ')' && paren >= 0) || (c == ']' && bracket >= 0))
			break;
		paren += c == ')';
		bracket += c == ']';
		end--;
	}
	return end;
}

/* http_len - length of "http://" or "https://" (any case) at s, or 0 */
static size_t
http_len(const char *s)
{
	if (!g_ascii_strncasecmp(s, "http://", 7))
		return 7;
	if (!g_ascii_strncasecmp(s, "https://", 8))
		return 8;
	return 0;
}

/* url_prefix - the link-prefixed form of url (n bytes, as written in
 * HTML when html); NULL when it has the prefix already */
static char *
url_prefix(const struct textrw *t, const char *url, size_t n, int html)
{
	char *plain = html ? html_decode(url, n) : g_strndup(url, n), *esc, *out;

	if (g_str_has_prefix(plain, t->prefix)) {
		g_free(plain);
		return NULL;
	}
	esc = g_uri_escape_string(plain, NULL, FALSE);
	out = g_strconcat(html ? t->prefix_html : t->prefix, esc, NULL);
	g_free(esc);
	g_free(plain);
	return out;
}

/* host_end - whether url[i] ends the host that starts at url[host]: a
 * byte that is not in host names, or a scheme that begins a word there */
static int
host_end(const char *url, size_t host, size_t i)
{
	unsigned char c = url[i];

	if (!g_ascii_isalnum(c) && c < 0x80 && !strchr(".-_~%", c))
		return 1;
	return http_len(url + i)
		&& (i == host || (!g_ascii_isalnum(url[i - 1]) && url[i - 1] != '_'
				  && (unsigned char) url[i - 1] < 0x80));
}

/* url_defang - url (n bytes, starting with http_len()) defanged as far
 * as the end of its host, *used bytes of it: hxxp(s):// and each '.' of
 * the host as "[.]"; the rest is left for the next URL in it */
static char *
url_defang(const char *url, size_t n, size_t *used)
{
	size_t scheme = http_len(url), auth, host, i;
	GString *out = g_string_sized_new(n + 8);

	g_string_append_c(out, url[0]);
	for (i = 1; i < 3; i++)
		g_string_append_c(out, url[i] == 'T' ? 'X' : 'x');
	g_string_append_len(out, url + 3, scheme - 3);
	for (auth = scheme; auth < n && !strchr("/?#", url[auth]); auth++)
		;
	for (host = auth; host > scheme && url[host - 1] != '@'; host--)
		;
	g_string_append_len(out, url + scheme, host - scheme);
	for (i = host; i < auth && !host_end(url, host, i); i++) {
		if (url[i] == '.')
			g_string_append(out, "[.]");
		else
			g_string_append_c(out, url[i]);
	}
	*used = i;
	return g_string_free(out, FALSE);
}

/* urls_apply - link-prefix (defang 0) or defang every URL in *s,
 * replaced; 0, or -1 when the URL regex fails.  Defanging goes on
 * after the host, so a URL within a URL is defanged too. */
static int
urls_apply(const struct textrw *t, char **s, const char *in, int defang, int html,
	   struct rx_budget *b)
{
	size_t len = strlen(*s), pos = 0, done = 0;
	GString *out = NULL;

	while (pos < len) {
		int hit;
		size_t ms, me, end, used;
		char *new = NULL;

		hit = rx_find(t->url, *s, len, pos, b, &ms, &me);
		if (hit < 0) {
			if (out)
				g_string_free(out, TRUE);
			return -1;
		}
		if (hit == 0)
			break;
		end = html ? url_end(*s, ms, me) : me;
		end = url_trim(*s, ms, end);
		if (end <= ms + http_len(*s + ms)) {
			/* nothing after "://" */
		} else if (defang) {
			new = url_defang(*s + ms, end - ms, &used);
			end = ms + used;
		} else {
			new = url_prefix(t, *s + ms, end - ms, html);
		}
		if (new) {
			if (out == NULL)
				out = g_string_sized_new(len + 64);
			g_string_append_len(out, *s + done, ms - done);
			g_string_append(out, new);
			g_free(new);
			done = end;
		}
		pos = end > ms ? end : me;
	}
	if (out) {
		g_string_append(out, *s + done);
		replace(s, in, g_string_free(out, FALSE));
	}
	return 0;
}

/* text_apply - every rule on *s, in order; 0, or -1.  *s may be in
 * (NULL: *s is the caller's own), which is never freed */
static int
text_apply(const struct textrw *t, char **s, const char *in, int html,
	   struct rx_budget *b)
{
	if (rules_apply(t, s, in, b) < 0)
		return -1;
	if (t->prefix && urls_apply(t, s, in, 0, html, b) < 0)
		return -1;
	if (t->defang && urls_apply(t, s, in, 1, html, b) < 0)
		return -1;
	return 0;
}

/* result - 1 and *out when s differs from in, else 0; takes s */
static int
result(const char *in, char *s, char **out)
{
	if (!strcmp(in, s)) {
		g_free(s);
		return 0;
	}
	*out = s;
	return 1;
}

/* textrw_plain - rewrite a text/plain body */
int
textrw_plain(const struct textrw *t, const char *in, char **out, struct rx_budget *b)
{
	char *s = (char *) in;

	*out = NULL;
	if (t == NULL || !g_utf8_validate(in, -1, NULL))
		return 0;
	/* the text is copied only when a rule changes it */
	if (text_apply(t, &s, in, 0, b) < 0) {
		if (s != in)
			g_free(s);
		return -1;
	}
	if (s == in)
		return 0;
	return result(in, s, out);
}

/* value_link - link-prefix or defang an href or src value *v, replaced;
 * the URL is the value less leading and trailing spaces */
static void
value_link(const struct textrw *t, char **v, int defang)
{
	const char *s = *v, *end;
	size_t lead = 0, n, used;
	char *url;

	while (g_ascii_isspace(s[lead]))
		lead++;
	end = s + strlen(s);
	while (end > s + lead && g_ascii_isspace(end[-1]))
		end--;
	n = end - (s + lead);
	if (http_len(s + lead) == 0 || n == http_len(s + lead))
		return;
	if (defang) {
		url = url_defang(s + lead, n, &used);
		end = s + lead + used;
	} else if ((url = url_prefix(t, s + lead, n, 1)) == NULL) {
		return;
	}
	*v = g_strdup_printf("%.*s%s%s", (int) lead, s, url, end);
	g_free(url);
	g_free((char *) s);
}

/* value_apply - every rule on the value *v of attribute name (nl
 * bytes), replaced; 0, or -1 */
static int
value_apply(const struct textrw *t, const char *name, size_t nl, char **v,
	    struct rx_budget *b)
{
	int href = nl == 4 && !g_ascii_strncasecmp(name, "href", 4);
	int src = nl == 3 && !g_ascii_strncasecmp(name, "src", 3);

	if (rules_apply(t, v, NULL, b) < 0)
		return -1;
	if (t->prefix && href)
		value_link(t, v, 0);
	if (t->defang && (href || src))
		value_link(t, v, 1);
	return 0;
}

/* value_put - append a changed value v to out, quoted with q as the old
 * one was, or 0 when it was unquoted */
static void
value_put(GString *out, const char *v, char q)
{
	const char *p;

	if (q == 0 && *v && !v[strcspn(v, " \t\n\v\f\r\"'=<>`")]) {
		g_string_append(out, v);
		return;
	}
	if (q == 0)
		g_string_append_c(out, '"');
	for (p = v; *p; p++) {
		if (*p == (q ? q : '"'))
			g_string_append(out, *p == '"' ? "&quot;" : "&#39;");
		else
			g_string_append_c(out, *p);
	}
	if (q == 0)
		g_string_append_c(out, '"');
}

/* tag_scan - the tag at lt ('<') to out, its attribute values rewritten
 * when touch; *end after its '>'; 1, 0 when it has no end, or -1 */
static int
tag_scan(const struct textrw *t, GString *out, const char *lt, int touch,
	 const char **end, struct rx_budget *b)
{
	const char *p = lt + 1, *copied = lt;

	while (*p && !g_ascii_isspace(*p) && *p != '>' && (*p != '/' || p == lt + 1))
		p++;
	for (;;) {
		const char *name, *val;
		size_t nl, vl;
		char q = 0, *v;

		while (g_ascii_isspace(*p) || *p == '/')
			p++;
		if (*p == '>')
			break;
		if (*p == 0)
			return 0;
		name = p++;
		while (*p && !g_ascii_isspace(*p) && !strchr("/>=", *p))
			p++;
		nl = p - name;
		while (g_ascii_isspace(*p))
			p++;
		if (*p != '=')
			continue;
		p++;
		while (g_ascii_isspace(*p))
			p++;
		if (*p == '"' || *p == '\'') {
			q = *p++;
			val = p;
			if ((p = strchr(val, q)) == NULL)
				return 0;
			vl = p++ - val;
		} else {
			for (val = p; *p && !g_ascii_isspace(*p) && *p != '>'; p++)
				;
			vl = p - val;
			if (vl == 0)
				continue;
		}
		if (!touch)
			continue;
		v = g_strndup(val, vl);
		if (value_apply(t, name, nl, &v, b) < 0) {
			g_free(v);
			return -1;
		}
		if (strlen(v) != vl || memcmp(v, val, vl) != 0) {
			g_string_append_len(out, copied, val - copied);
			value_put(out, v, q);
			copied = val + vl;
		}
		g_free(v);
	}
	*end = p + 1;
	g_string_append_len(out, copied, *end - copied);
	return 1;
}

/* raw_end - where the content of a <script> or <style> whose start tag
 * was name (nl bytes) ends: at its end tag, or at the end of s */
static const char *
raw_end(const char *s, const char *name, size_t nl)
{
	const char *p;

	for (p = strstr(s, "</"); p; p = strstr(p + 2, "</"))
		if (!g_ascii_strncasecmp(p + 2, name, nl)
		    && (p[2 + nl] == 0 || p[2 + nl] == '/' || p[2 + nl] == '>'
			|| g_ascii_isspace(p[2 + nl])))
			return p;
	return s + strlen(s);
}

/* markup - the markup at lt to out, rewritten; *next after it (and
 * after raw <script> or <style> content); 0, or -1 */
static int
markup(const struct textrw *t, GString *out, const char *lt, const char **next,
       struct rx_budget *b)
{
	const char *end = NULL, *name = lt + 1;
	size_t mark = out->len, nl;
	int rc = 1;

	if (!strncmp(lt, "<!--", 4)) {
		if (lt[4] == '>')
			end = lt + 5;
		else if (lt[4] == '-' && lt[5] == '>')
			end = lt + 6;
		else if ((end = strstr(lt + 4, "-->")) != NULL)
			end += 3;
	} else if (lt[1] == '!') {
		if ((end = strchr(lt, '>')) != NULL)
			end++;
	} else if ((rc = tag_scan(t, out, lt, lt[1] != '/', &end, b)) < 0) {
		return -1;
	}
	if (rc == 0 || end == NULL) {
		g_string_truncate(out, mark);
		g_string_append(out, lt);
		*next = lt + strlen(lt);
		return 0;
	}
	if (lt[1] == '!')
		g_string_append_len(out, lt, end - lt);
	*next = end;
	if (lt[1] == '/' || lt[1] == '!')
		return 0;
	for (nl = 0; g_ascii_isalnum(name[nl]); nl++)
		;
	if ((nl == 6 && !g_ascii_strncasecmp(name, "script", 6))
	    || (nl == 5 && !g_ascii_strncasecmp(name, "style", 5))) {
		*next = raw_end(end, name, nl);
		g_string_append_len(out, end, *next - end);
	}
	return 0;
}

/* text_put - the HTML text from s to end to out, rewritten; 0, or -1 */
static int
text_put(const struct textrw *t, GString *out, const char *s, const char *end,
	 struct rx_budget *b)
{
	char *v;

	if (end == s)
		return 0;
	v = g_strndup(s, end - s);
	if (text_apply(t, &v, NULL, 1, b) < 0) {
		g_free(v);
		return -1;
	}
	g_string_append(out, v);
	g_free(v);
	return 0;
}

/* textrw_html - rewrite a text/html body */
int
textrw_html(const struct textrw *t, const char *in, char **out, struct rx_budget *b)
{
	const char *p = in, *run = in;
	GString *s;

	*out = NULL;
	if (t == NULL || !g_utf8_validate(in, -1, NULL))
		return 0;
	s = g_string_sized_new(strlen(in) + 64);
	while (*p) {
		if (p[0] != '<' || !(g_ascii_isalpha(p[1]) || p[1] == '/' || p[1] == '!')) {
			p++;
			continue;
		}
		if (text_put(t, s, run, p, b) < 0 || markup(t, s, p, &p, b) < 0) {
			g_string_free(s, TRUE);
			return -1;
		}
		run = p;
	}
	if (text_put(t, s, run, p, b) < 0) {
		g_string_free(s, TRUE);
		return -1;
	}
	return result(in, g_string_free(s, FALSE), out);
}
