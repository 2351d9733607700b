/*
 * dsn - delivery status notifications (RFC 3464, RFC 6533): which
 *	recipients a bounce reports on, and what became of each
 *
 * dsn_parse() reads a message as received (LF or CRLF line ends) with
 * GMime.  It is a DSN when its top-level content, or a part of a
 * top-level multipart/mixed (no deeper), is a multipart/report whose
 * report-type is delivery-status or global-delivery-status (any case;
 * or none at all, as some MTAs send it) with a part of type
 * message/delivery-status or message/global-delivery-status.  That
 * part's content, decoded from its transfer encoding, is blocks of
 * header fields separated by empty lines: the first block is about the
 * message (Reporting-MTA), each block with a Final-Recipient or
 * Original-Recipient field is about one recipient (the first block too,
 * when an MTA left out the empty line after it).
 *
 * What the caller gets is safe to log and compare: every string is valid
 * UTF-8 without control characters; an address is kept only when it
 * looks like local@domain (no white space or control characters, one
 * '@', under DSN_MAX_ADDR bytes), without its address type ("rfc822;")
 * and angle brackets; a status code only when it is class 2, 4 or 5
 * with a subject and a detail of 1 to 3 digits each ("5.1.1"; what
 * follows it in the field, a comment, is left out).  Diagnostic-Code is
 * kept as given, type included ("smtp; 550 5.1.1 ..."), white space
 * runs made one space, cut to DSN_MAX_DIAG bytes.
 *
 * Work and memory are bounded for any input.  GMime parses at most the
 * first DSN_MAX_INPUT bytes of the message (the report comes before the
 * message it returns), and no more of them than its boundary checks can
 * do within a fixed budget (input built to make them slow is cut short);
 * a status part cut off there is read as far as it goes, less the block
 * the cut went through.  At most DSN_MAX_STATUS decoded bytes of the
 * status part are read (a block that cap cuts through is dropped, never
 * read in part), at most DSN_MAX_BLOCKS blocks are parsed and
 * DSN_MAX_RCPTS recipients kept; more are ignored.
 *
 * Errors: NULL when the message is not a DSN, with *why (when why is
 * not NULL) saying so; the caller g_free()s it.  A DSN without a usable
 * recipient block is still a DSN: rcpts is then empty.
 *
 * Ownership: the struct dsn and everything in it are the caller's, freed
 * with dsn_free().
 * Threading: any thread, no state outside the call; g_mime_init() must
 * have been called once in the process.
 */
#ifndef SINKD_DSN_H
#define SINKD_DSN_H

#include <stddef.h>
#include <glib.h>

#define DSN_MAX_INPUT	(1024 * 1024)		/* message bytes parsed */
#define DSN_MAX_RCPTS	1000			/* recipients kept */
#define DSN_MAX_BLOCKS	(2 * DSN_MAX_RCPTS)	/* field blocks parsed */
#define DSN_MAX_STATUS	(256 * 1024)		/* status bytes read */
#define DSN_MAX_ADDR	256			/* an address is shorter */
#define DSN_MAX_DIAG	512			/* Diagnostic-Code bytes kept */

/* The Action field (RFC 3464 2.3.3). */
enum dsn_action {
	DSN_UNKNOWN,		/* absent, or no value of the RFC's */
	DSN_FAILED,		/* not delivered, and never will be */
	DSN_DELAYED,		/* not delivered yet, still tried */
	DSN_DELIVERED,
	DSN_RELAYED,		/* to where no DSN comes back */
	DSN_EXPANDED,		/* delivered, and forwarded to several */
};

/* One per-recipient block. */
struct dsn_rcpt {
	char *final;		/* Final-Recipient address, or NULL */
	char *original;		/* Original-Recipient address, or NULL */
	enum dsn_action action;
	char status[16];	/* "5.1.1", or "" when absent or malformed */
	char *diagnostic;	/* Diagnostic-Code, or NULL */
};

struct dsn {
	char *reporting_mta;	/* Reporting-MTA's name, type left out, or NULL */
	GPtrArray *rcpts;	/* of struct dsn_rcpt *, in the order given */
};

struct dsn *dsn_parse(const char *data, size_t len, char **why);
void dsn_free(struct dsn *d);
const char *dsn_action_name(enum dsn_action a);

#endif
