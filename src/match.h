/*
 * match - lists of address, domain, host-name and regex patterns
 *
 * An address list (MATCH_ADDR) takes entries written as
 *	user@example.com	that address (case-insensitive)
 *	@example.com		any address in that domain
 *	@.example.com		any address in a subdomain of it
 *	<>			the null sender
 *	/regex/			a PCRE2 regex (GRegex), case-insensitive
 * A name list (MATCH_NAME) takes glob patterns (* and ?, GPatternSpec) and
 * /regex/ entries, for host names.  Every regex runs with a match limit,
 * so no pattern can stall a thread; hitting it counts as an error, which
 * callers turn into their on-error action.
 */
#ifndef SINKD_MATCH_H
#define SINKD_MATCH_H

enum match_kind { MATCH_ADDR, MATCH_NAME };

#define MATCH_LIMIT 100000	/* PCRE2 match limit of every regex */

struct match_list;

struct match_list *match_compile(enum match_kind kind, char *const *entries,
				 char **why);
void match_free(struct match_list *l);
/* 1: matches, 0: does not, -1: a regex hit its limit */
int match_test(const struct match_list *l, const char *subject);
void *match_regex_new(const char *pattern, char **why);
int match_regex(void *re, const char *subject);

#endif
