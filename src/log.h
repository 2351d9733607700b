/*
 * log - the one logging entry point of sinkd
 *
 * Four severities as in Postfix: log_warn (degrade and continue),
 * log_error (a request failed), log_fatal (bad configuration or start-up
 * resource: exit 1), log_panic (a broken invariant: abort, dump core).
 * log_info carries the per-message lines.  Every line goes to syslog
 * (facility mail) and, when log_open() was told so, to stderr as well.
 * Lines that concern a message start with its queue id ("QUEUEID: ...").
 *
 * Thread safety: all functions may be called from any thread.
 */
#ifndef SINKD_LOG_H
#define SINKD_LOG_H

#include <stdarg.h>

void log_open(const char *ident, int to_stderr, int to_syslog);
void log_set_debug(int on);
void log_set_quiet(int on);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void log_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
