/*
 * log - syslog and stderr logging with fixed severities
 *
 * A line is formatted once, then written to syslog with the matching
 * priority and, in the foreground, to stderr as "sinkd: warning: ...".
 * Postfix's habit of naming the severity in the text is kept, so that a
 * grep for "warning:" or "fatal:" finds the same lines in both places.
 *
 * In the foreground both are used, with two exceptions that keep each
 * line in one place, written once: standard error that is the systemd
 * journal (JOURNAL_STREAM names it) is left out, since the journal has the
 * syslog lines with their facility; and without a syslog socket, standard
 * error alone is used rather than trying to reach one at every line.  A
 * line goes to standard error in one write(2), so lines of concurrent
 * threads never mix.
 */
#include <sys/stat.h>
#include <paths.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "sinkd";
static int log_stderr = 1;
static int log_syslog;
static int log_debugging;
static int log_quiet;

/* stderr_is_journal - whether standard error is the journal's stream */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return 0;
	return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

/* log_open - choose the destinations */
void
log_open(const char *ident, int to_stderr, int to_syslog)
{
	if (to_stderr && to_syslog) {
		if (stderr_is_journal())
			to_stderr = 0;
		else if (access(_PATH_LOG, F_OK) < 0)
			to_syslog = 0;
	}
	log_ident = ident;
	log_stderr = to_stderr;
	log_syslog = to_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* log_set_quiet - drop info lines (sinkd -t keeps stderr for its verdict) */
void
log_set_quiet(int on)
{
	log_quiet = on;
}

/* log_set_debug - turn debug lines on or off */
void
log_set_debug(int on)
{
	log_debugging = on;
}

/* log_vemit - write one line to every destination */
static void
log_vemit(int prio, const char *tag, const char *fmt, va_list ap)
{
	char buf[4096], line[4200];
	int n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_syslog)
		syslog(prio, "%s%s", tag, buf);
	if (log_stderr) {
		n = snprintf(line, sizeof(line), "%s: %s%s\n", log_ident, tag, buf);
		if (n >= (int) sizeof(line)) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		if (n > 0 && write(STDERR_FILENO, line, n) < 0)
			return;		/* nowhere left to say so */
	}
}

#define LOG_BODY(prio, tag) do { \
	va_list ap; \
	va_start(ap, fmt); \
	log_vemit((prio), (tag), fmt, ap); \
	va_end(ap); \
} while (0)

void
log_debug(const char *fmt, ...)
{
	if (log_debugging)
		LOG_BODY(LOG_DEBUG, "debug: ");
}

void
log_info(const char *fmt, ...)
{
	if (!log_quiet)
		LOG_BODY(LOG_INFO, "");
}

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, "warning: ");
}

void
log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_ERR, "error: ");
}

void
log_fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, "fatal: ");
	exit(1);
}

void
log_panic(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, "panic: ");
	abort();
}
