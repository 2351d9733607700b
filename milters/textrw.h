/*
 * textrw - text substitutions and link rewriting on decoded text, plain
 *	or HTML
 *
 * A rule set is compiled once per policy from the rewrite handler's keys:
 *
 *	text-replace	entries "old => new" (literal, case-sensitive) or
 *			"/regex/flags => replacement" (GLib GRegex, PCRE2;
 *			flags: i for caseless; the replacement may use \1..\9
 *			and \0, as g_regex_replace() does); "\," is a comma
 *			in a list and "=>" separates; applied in order
 *	link-prefix	a URL prefix: every http(s) link target is
 *			rewritten to prefix + the original URL
 *			percent-encoded (safe-link services work this way)
 *	defang		http(s)://host.tld becomes hxxp(s)://host[.]tld,
 *			so that no client makes it a link
 *
 * On text/plain, rules apply to the whole text (URLs found by a regex for
 * link-prefix and defang).  On text/html only text between tags and the
 * values of attributes are touched, never tag or attribute names, nor
 * comments, nor the content of <script> and <style>; link-prefix and
 * defang apply to href (and src for defang) attribute values, and to
 * URLs in text.  HTML is tokenized here (GLib has no HTML parser): a tag
 * runs from '<' followed by a letter, '/' or '!' to the next '>' outside a
 * quoted attribute value; anything else is text.
 *
 * Every regex spends from the budget the caller gives (src/rx.h: one per
 * message, for every rule on every part), and has PCRE2's match limit at
 * each position; running out makes the whole rewrite fail (-1), and the
 * handler applies its on-error: a catastrophic pattern never stalls a
 * thread, whatever the size of the text.  What is not a regex is linear
 * in the text (literal rules, the HTML tokenizer, URL trimming).
 *
 * Text is UTF-8 in and out.  Threading: a compiled struct textrw is
 * immutable and shared by every thread.
 */
#ifndef SINKD_TEXTRW_H
#define SINKD_TEXTRW_H

struct textrw;
struct rx_budget;

/* textrw_new - NULL with *why (g_free it) naming the bad entry; an empty
 * rule set (no entries, no prefix, no defang) gives NULL and no *why */
struct textrw *textrw_new(char *const *replace, const char *link_prefix,
			  int defang, char **why);
void textrw_free(struct textrw *t);

/* textrw_plain, textrw_html - 1 and *out (g_free it) when the text
 * changed, 0 when it did not, -1 when a regex spent the budget b or hit
 * its match limit (b says which; NULL: a budget of regex-budget's
 * default for each regex run) */
int textrw_plain(const struct textrw *t, const char *in, char **out,
		 struct rx_budget *b);
int textrw_html(const struct textrw *t, const char *in, char **out,
		struct rx_budget *b);

#endif
