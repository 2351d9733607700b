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
 * /regex/ entries, for host names.  Every regex spends from the budget it
 * is given (rx.h), so no pattern can stall a thread; running out counts
 * as an error, which callers turn into their on-error action.  A glob is
 * matched in time proportional to the pattern's length times the
 * subject's (GLib's matcher does not go back past a '*' once a later one
 * has matched).
 */
#ifndef SINKD_MATCH_H
#define SINKD_MATCH_H

enum match_kind { MATCH_ADDR, MATCH_NAME };

struct match_list;
struct rx_budget;

struct match_list *match_compile(enum match_kind kind, char *const *entries,
				 char **why);
void match_free(struct match_list *l);
/* 1: matches, 0: does not, -1: a regex spent the budget b (NULL: one of
 * regex-budget's default for this test alone) or hit a limit */
int match_test(const struct match_list *l, const char *subject,
	       struct rx_budget *b);

#endif
