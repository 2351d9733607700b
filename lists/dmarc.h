/*
 * dmarc - the DMARC policy of an author's domain (RFC 7489), for the
 *	list service: a post whose From domain publishes p=reject or
 *	p=quarantine is sent on with the list's From, or wrapped
 *
 * dmarc_policy_of() asks DNS for the TXT records at _dmarc.DOMAIN, and
 * when there is no DMARC record there, at _dmarc.ORG, ORG the domain's
 * organizational domain (its registrable domain by the Public Suffix
 * List), whose sp= then applies (p= when it has none): the policy
 * discovery of RFC 7489 6.6.3.  Records that do not begin with
 * "v=DMARC1" are not DMARC records; two DMARC records or more at one
 * name, or one that is not valid, and none applies.  Only p= and sp=
 * are read: pct=, the reports and the alignment modes change nothing a
 * list does.
 *
 * Diagnostics: *why (g_free) says how the answer was reached, in one
 * line "DOMAIN: what": which record gave the policy, that there was
 * none, or for DMARC_TEMPERROR what went wrong (no answer in time, the
 * server failed, an answer that cannot be read).
 *
 * Threading: every function may be called from any thread at once.
 * Each look-up has its own resolver state (res_ninit); the Public
 * Suffix List is loaded once, on first use, and only read after.
 */
#ifndef SINKD_LIST_DMARC_H
#define SINKD_LIST_DMARC_H

#include <stddef.h>

enum dmarc_policy {
	DMARC_ABSENT,		/* no DMARC record applies */
	DMARC_NONE,		/* p=none: monitoring only */
	DMARC_QUARANTINE,	/* p=quarantine */
	DMARC_REJECT,		/* p=reject */
	DMARC_TEMPERROR,	/* DNS gave no usable answer in time: ask again later */
};

/*
 * dmarc_parse - one TXT record's text (len bytes, the record's
 * character-strings joined): -1 if it is not a valid DMARC record, else
 * 0 with *p its p= and *sp its sp= (p= when it has none).
 *
 * The record is a DKIM-style tag list (RFC 7489 6.3, 6.4): "v=DMARC1"
 * first, then tags NAME=VALUE separated by ";", spaces and tabs (and
 * folded line ends) around names, "=" and ";".  It is not valid without
 * a p= tag, with a p= or sp= other than none, quarantine or reject, with
 * v=, p= or sp= twice, or with a tag name that is not a letter followed
 * by letters, digits and "_".  Case does not matter in the tag names or
 * those values, DMARC1 included.  Leniently, p= may come anywhere after
 * v=, not only second: a record that says p=reject is better obeyed.
 */
int dmarc_parse(const char *txt, size_t len, enum dmarc_policy *p, enum dmarc_policy *sp);

/*
 * dmarc_policy_of - the policy that applies to mail from domain.
 *
 * domain is the From address's domain as DNS knows it: lower case,
 * labels of letters, digits and "-" (not first or last), 1 to 63 bytes
 * each, 253 bytes at most, no final dot (an IDN in its A-label form).
 * Any other string is DMARC_ABSENT at once, nothing asked.
 *
 * nameserver is the server to ask, "ADDRESS" or "ADDRESS:PORT" (an IPv6
 * address bare, or "[ADDRESS]:PORT"), or NULL for those of resolv.conf.
 * timeout_ms bounds the whole look-up, both queries; libresolv counts
 * in whole seconds, so a timeout under 1000 ms counts as 1000, and a
 * second query with less than a second left is not made (temperror).
 *
 * DMARC_TEMPERROR when no answer came in time, the server failed
 * (SERVFAIL, REFUSED) or gave an answer that cannot be read or was cut
 * short (TC), or nameserver is no address.  why, when not NULL, is set
 * to a line (g_free) saying which.
 */
enum dmarc_policy dmarc_policy_of(const char *domain, const char *nameserver,
				  unsigned timeout_ms, char **why);

/* dmarc_policy_name - "absent", "none", "quarantine", "reject",
 * "temperror"; "?" for a value out of the enum */
const char *dmarc_policy_name(enum dmarc_policy p);

#endif
