/*
 * reply - SMTP replies a handler gives: code, enhanced code, text
 *
 * A reply is written in configuration files as "550 5.7.1 text"; the text
 * may hold "\n" (a key-file escape) for a multi-line reply.  reply_parse()
 * checks the code is 4xx or 5xx and that the enhanced status code's class
 * agrees with it (RFC 3463), so the MTA never sees a reply it would refuse.
 */
#ifndef SINKD_REPLY_H
#define SINKD_REPLY_H

#define REPLY_MAX_LINES 32	/* smfi_setmlreply's limit */

struct reply {
	char code[4];		/* "550" */
	char xcode[16];		/* "5.7.1" */
	char *text;		/* owned; lines split by '\n' */
};

int reply_parse(struct reply *r, const char *spec, const char **why);
void reply_copy(struct reply *dst, const struct reply *src);
void reply_set(struct reply *dst, const char *code, const char *xcode,
	       const char *text);
void reply_clear(struct reply *r);
int reply_is_temp(const struct reply *r);

#endif
