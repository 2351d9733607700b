/*
 * offline - sinkd -t: one message through the chain, no MTA
 *
 * The message is read from standard input (LF or CRLF lines), made CRLF
 * as an MTA would send it, split into header fields by GMime's parser and
 * fed to the very chain functions the milter glue calls, stage by stage.
 * The result goes to standard output: the input byte for byte when no
 * handler changed anything, else the message with every edit applied (in
 * the input's line ending).  One line on standard error starts with
 * "verdict=" and carries key=value pairs: code, xcode, handler and text
 * for a refusal, edits, the recipients refused (rcpts-rejected, and
 * deferred=<addr>:code:xcode for each one refused with a 4xx reply, as
 * when its domain's policy cannot share the transaction), and the final
 * envelope (from, rcpts).
 *
 * The input is read a chunk at a time (standard input where it is when it
 * is a regular file, else gathered in a spool bounded by
 * body-memory-limit): a large message is never held whole in memory.
 * offline_run() returns 75 when standard input cannot be read or kept.
 *
 * offline_run_buffer() does the same with a message in memory, writing
 * the result and the verdict line to the streams it is given (the fuzz
 * targets in fuzz/ drive it); the caller keeps the buffer.
 */
#ifndef SINKD_OFFLINE_H
#define SINKD_OFFLINE_H

#include <stddef.h>
#include <stdio.h>

struct snapshot;

struct offline_args {
	char *sender;		/* -F */
	char **rcpts;		/* -R, repeatable */
	char *client;		/* -C ip[,helo] */
	char *auth;		/* -A */
	int quarantine;		/* --quarantine: quarantine entries stored
				 * and release tokens spent for real */
};

int offline_run(struct snapshot *s, const struct offline_args *a);
int offline_run_buffer(struct snapshot *s, const struct offline_args *a,
		       const void *data, size_t len, FILE *out, FILE *err);

#endif
