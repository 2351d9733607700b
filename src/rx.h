/*
 * rx - regular expressions that spend from a budget (PCRE2)
 *
 * GRegex has no way to bound a regex's work over a whole text: the match
 * limit a pattern can carry ((*LIMIT_MATCH=n)) counts again from zero at
 * each position where a match is tried, so a pattern that backtracks a
 * little less than the limit at each of two million positions runs for
 * minutes, and succeeds.  rx calls libpcre2-8 (on which GLib is built)
 * itself:
 *
 *  - a pattern is compiled as GRegex compiles it (UTF-8, Unicode
 *    properties for \w, \d, \s and \b, any newline, caseless on request),
 *    so rules mean what they meant, with PCRE2's automatic callouts: the
 *    callout before each pattern item tried, backtracking included, takes
 *    one step from a struct rx_budget, and one more for each character
 *    the match crossed since the last callout (a repeat that runs over a
 *    long text and fails without going back costs that text);
 *  - a budget is shared by everything its owner runs (a handler gives one
 *    to every regex of every rule on every part of a message), and when
 *    it is spent the match stops and fails (-1, with spent set): callers
 *    turn that into their on-error action, never into a pass;
 *  - each position still has RX_MATCH_LIMIT (PCRE2's match limit), so a
 *    pattern that explodes at one position fails at once rather than
 *    spending the budget.
 *
 * The steps are counted, not timed: the same text and rules always take
 * the same steps, whatever the machine's load.  A step is 1 to 15 ns of
 * work (bench/hostile): 100 million steps are about a second at most.
 *
 * rx_replace() replaces as g_regex_replace() does, with its replacement
 * syntax (\0-\9, \g<n>, \g<name>, \n \t and the other character escapes,
 * \x{h}, \l \u \L \U \E) and its way past empty matches.
 *
 * Subjects are UTF-8 and must be valid (callers check it: PCRE2 is told
 * not to, so that a search from an offset does not check the whole text
 * again).  Threading: a compiled pattern or replacement is immutable and
 * shared; a budget belongs to one thread.
 */
#ifndef SINKD_RX_H
#define SINKD_RX_H

#include <glib.h>

#define RX_MATCH_LIMIT 100000	/* PCRE2 match limit at each position */
#define RX_BUDGET_DEFAULT "100000000"	/* steps; regex-budget's default */

struct rx;
struct rx_subst;

struct rx_budget {
	guint64 left;		/* steps that may still be taken */
	guint64 used;		/* steps taken */
	int spent;		/* a match stopped: no step was left */
	int limit;		/* a match stopped at RX_MATCH_LIMIT (or
				 * another PCRE2 limit) */
};

void rx_budget_init(struct rx_budget *b, guint64 steps);

/* rx_new - NULL and *why (GLib's words; g_free it) on a bad pattern */
struct rx *rx_new(const char *pattern, int caseless, char **why);
void rx_free(struct rx *re);

/* rx_find - the first match at or after from in s (len bytes): 1 with
 * [*start, *end), 0 when there is none, -1 when the budget or a limit
 * stopped it (b says which) */
int rx_find(const struct rx *re, const char *s, size_t len, size_t from,
	    struct rx_budget *b, size_t *start, size_t *end);

/* rx_subst_new - a replacement in g_regex_replace()'s syntax; NULL and
 * *why (g_free it) when it is not one */
struct rx_subst *rx_subst_new(const char *text, char **why);
void rx_subst_free(struct rx_subst *t);

/* rx_replace - every match in s replaced: 1 and *out (g_free it), 0 when
 * nothing matched, -1 when the budget or a limit stopped it, or when the
 * result is not valid UTF-8 (a character escape made it so) */
int rx_replace(const struct rx *re, const struct rx_subst *t, const char *s,
	       size_t len, struct rx_budget *b, char **out);

#endif
