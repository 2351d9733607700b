/*
 * reinject - hand a message back to the MTA, through its sendmail
 *	command or over SMTP
 *
 * The message is given as sinkd keeps it (CRLF line ends), with one
 * header field line to put first (the release token).  Each function sends
 * it to the given envelope and says what happened in *said, a g_free()d
 * line for the administrator: the MTA's answer on success, what went
 * wrong otherwise.
 *
 * reinject_sendmail() runs "PATH -i -f SENDER -- RCPT..." with execv()
 * (no shell) and writes the message to its standard input with LF line
 * ends, the form a sendmail command expects; success is exit status 0.
 * reinject_smtp() speaks EHLO (HELO if refused), MAIL FROM, one RCPT TO
 * per recipient, DATA (lines CRLF, dot-stuffed) and QUIT, checks every
 * reply and gives up on the first refusal, before DATA when a recipient
 * is refused, so that no recipient gets the message unless all do.  Each
 * wait is bounded by the timeouts of RFC 5321 section 4.5.3.2.
 *
 * Addresses are taken without angle brackets ("" is the null sender); one
 * holding a control character, '<' or '>' is refused before anything is
 * sent.
 */
#ifndef SINKD_REINJECT_H
#define SINKD_REINJECT_H

#include <stddef.h>

struct reinject {
	const char *sender;	/* without brackets; "" for <> */
	char *const *rcpts;	/* without brackets, NULL-terminated */
	const char *first;	/* header field line to put first, no line end;
				 * NULL: none */
	const char *msg;	/* the message, CRLF line ends */
	size_t len;
};

/* reinject_sendmail - through the sendmail command at path; 0, or -1 */
int reinject_sendmail(const char *path, const struct reinject *r, char **said);

/* reinject_smtp - to the SMTP server at relay ("host:port", "[v6]:port"
 * or "host" for port 25); 0, or -1 */
int reinject_smtp(const char *relay, const struct reinject *r, char **said);

/* reinject_addr_ok - 1 if addr may be sent (see above) */
int reinject_addr_ok(const char *addr);

#endif
