/*
 * log - the one logging entry point of sinkd
 *
 * Four severities as in Postfix: log_warn (degrade and continue),
 * log_error (a request failed), log_fatal (bad configuration or start-up
 * resource: exit 1), log_panic (a broken invariant: abort, dump core).
 * log_info carries the per-message lines.  Lines go to syslog (facility
 * syslog-facility, mail by default), to log-file when one is set, and,
 * when log_open() was told so, to stderr.  Lines that concern a message
 * start with its queue id ("QUEUEID: ...").
 *
 * log_open(), log_syslog(), log_file() and log_detach() are for start-up
 * (one thread); log_reopen() (SIGUSR1) and the line functions may be
 * called from any thread.
 */
#ifndef SINKD_LOG_H
#define SINKD_LOG_H

#include <sys/types.h>
#include <stdarg.h>

extern const char *const log_facility_names[];

void log_open(const char *ident, int to_stderr, int daemon);
int log_syslog(const char *path, unsigned facility);
int log_file(const char *path, uid_t uid, gid_t gid);
void log_reopen(void);
void log_detach(void);
int log_has_sink(void);
void log_set_debug(int on);
void log_set_quiet(int on);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void log_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
