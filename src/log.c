/*
 * log - syslog, log file and stderr logging with fixed severities
 *
 * A line is formatted once, then written to every destination chosen:
 *
 *	syslog		sinkd's own client of the syslog socket (syslog-socket,
 *			/dev/log by default): "<PRI>Mmm dd hh:mm:ss
 *			sinkd[PID]: warning: ...", PRI from syslog-facility
 *			and the severity;
 *	log file	log-file: "2026-01-02T03:04:05+01:00 sinkd[PID]:
 *			warning: ...", the time ISO 8601, local, with its
 *			offset from UTC;
 *	stderr		in the foreground: the log file's shape, or, when
 *			standard error is the systemd journal (JOURNAL_STREAM
 *			names it), the journal's "<N>warning: ..." with no
 *			time stamp or pid of its own (the journal adds them).
 *
 * Postfix's habit of naming the severity in the text is kept, so that a
 * grep for "warning:" or "fatal:" finds the same lines everywhere.
 * Commands (sinkd -n, -t, sinkd-quarantine) write "sinkd: warning: ..."
 * to standard error alone.
 *
 * In the foreground, syslog is used besides stderr when its socket
 * answers, except under the journal (it would have each line twice).  A
 * detached daemon must have syslog or a log file: log_has_sink() says
 * whether it has, and main refuses to detach without one.
 *
 * Each line goes to each destination in one write(2) (one datagram for
 * syslog), so lines of concurrent threads never mix.  The log file is
 * opened with O_APPEND; log_reopen() (SIGUSR1) opens the path again, for
 * logrotate, as the user sinkd then runs as: log_file() makes the file
 * that user's when root opens it, and the directory must let that user
 * create the next one.  A syslog datagram that cannot be sent (the
 * syslog daemon restarted) makes one attempt to connect again.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* syslog-facility's values, and the facility each names */
const char *const log_facility_names[] = {
	"mail", "daemon", "user", "local0", "local1", "local2", "local3",
	"local4", "local5", "local6", "local7", NULL,
};
static const int log_facility_codes[] = {
	LOG_MAIL, LOG_DAEMON, LOG_USER, LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2,
	LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7,
};

enum log_stderr_shape {
	LOG_STDERR_NONE,	/* not written to */
	LOG_STDERR_PLAIN,	/* "sinkd: warning: ..." (commands) */
	LOG_STDERR_STAMPED,	/* time stamp and pid, as in the log file */
	LOG_STDERR_JOURNAL,	/* "<4>warning: ..." */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *log_ident = "sinkd";
static enum log_stderr_shape log_stderr = LOG_STDERR_PLAIN;
static int log_facility = LOG_MAIL;
static int log_sys_fd = -1;		/* connected syslog socket */
static char *log_sys_path;		/* its path */
static int log_file_fd = -1;		/* log-file, O_APPEND */
static char *log_file_path;
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

/* sys_connect - a datagram socket connected to path; -1 with errno */
static int
sys_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, saved;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* log_open - the ident and the shape of standard error: commands write
 * plain lines there; the daemon (daemon set) writes stamped lines, or
 * the journal's, and tries the syslog socket at once with facility
 * mail (log_syslog() chooses another) */
void
log_open(const char *ident, int to_stderr, int daemon)
{
	int journal = daemon && to_stderr && stderr_is_journal();

	log_ident = ident;
	if (!to_stderr)
		log_stderr = LOG_STDERR_NONE;
	else if (!daemon)
		log_stderr = LOG_STDERR_PLAIN;
	else
		log_stderr = journal ? LOG_STDERR_JOURNAL : LOG_STDERR_STAMPED;
	if (daemon)
		(void) log_syslog(_PATH_LOG, 0);
}

/* log_syslog - send lines to the syslog socket at path with the facility
 * numbered in log_facility_names[] (not while standard error is the
 * journal: the journal has them); -1 with errno when the socket does not
 * answer (syslog is then off) */
int
log_syslog(const char *path, unsigned facility)
{
	int fd = -1, saved = 0;

	if (*path && (fd = sys_connect(path)) < 0)
		saved = errno;
	pthread_mutex_lock(&log_lock);
	if (log_sys_fd >= 0)
		close(log_sys_fd);
	log_sys_fd = fd;
	free(log_sys_path);
	log_sys_path = strdup(path);
	if (facility < sizeof(log_facility_codes) / sizeof(log_facility_codes[0]))
		log_facility = log_facility_codes[facility];
	pthread_mutex_unlock(&log_lock);
	/* libmilter logs with syslog(3): the same ident and facility */
	if (fd >= 0)
		openlog(log_ident, LOG_PID, log_facility);
	errno = saved;
	return fd >= 0 || !*path ? 0 : -1;
}

/* file_open - path opened for appending, made uid:gid's when root; -1
 * with errno.  The directory may be uid's: root follows no symbolic
 * link, takes no file with other links (EMLINK) and gives uid no file
 * but root's or uid's own (EPERM), so that uid cannot point it at
 * another file to be given. */
static int
file_open(const char *path, uid_t uid, gid_t gid)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	struct stat st;
	int saved = 0;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		saved = errno;
	else if (!S_ISREG(st.st_mode))
		saved = EINVAL;
	else if (geteuid() == 0 && st.st_nlink != 1)
		saved = EMLINK;
	else if (geteuid() == 0 && st.st_uid != uid && st.st_uid != 0)
		saved = EPERM;
	else if (geteuid() == 0 && (st.st_uid != uid || st.st_gid != gid)
		 && fchown(fd, uid, gid) < 0)
		saved = errno;
	if (saved) {
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* log_file - also write to the file at path (appended, made mode 0640,
 * owned by uid:gid when run as root, so that uid can open it again); an
 * empty path: none; -1 with errno */
int
log_file(const char *path, uid_t uid, gid_t gid)
{
	int fd = -1;

	if (*path && (fd = file_open(path, uid, gid)) < 0)
		return -1;
	pthread_mutex_lock(&log_lock);
	if (log_file_fd >= 0)
		close(log_file_fd);
	log_file_fd = fd;
	free(log_file_path);
	log_file_path = *path ? strdup(path) : NULL;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

/* log_reopen - open the log file's path again (after logrotate renamed
 * it); on failure the old file is kept and the error logged */
void
log_reopen(void)
{
	int fd, old;

	pthread_mutex_lock(&log_lock);
	if (log_file_path == NULL) {
		pthread_mutex_unlock(&log_lock);
		return;
	}
	fd = file_open(log_file_path, geteuid(), getegid());
	if (fd >= 0) {
		old = log_file_fd;
		log_file_fd = fd;
		if (old >= 0)
			close(old);
	}
	pthread_mutex_unlock(&log_lock);
	if (fd < 0)
		log_error("log-file %s: cannot open it again: %s; still writing to the old file",
			  log_file_path, strerror(errno));
	else
		log_info("log-file %s opened again", log_file_path);
}

/* log_detach - standard error is gone (the daemon detached) */
void
log_detach(void)
{
	log_stderr = LOG_STDERR_NONE;
}

/* log_has_sink - whether lines go anywhere but standard error (once
 * detached, syslog is used under systemd too) */
int
log_has_sink(void)
{
	return log_sys_fd >= 0 || log_file_fd >= 0;
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

/* put - write n bytes of line to fd in one write; a line too long for
 * its buffer (n past size) is cut and still ends with a newline */
static void
put(int fd, char *line, int n, size_t size)
{
	if (n < 0)
		return;
	if ((size_t) n >= size) {
		n = (int) size - 1;
		line[n - 1] = '\n';
	}
	if (write(fd, line, (size_t) n) < 0)
		return;		/* nowhere left to say so */
}

/* stamp - the time, ISO 8601 with the offset ("+01:00") */
static void
stamp(char *buf, size_t size, const struct tm *tm)
{
	char off[8];

	strftime(buf, size, "%Y-%m-%dT%H:%M:%S", tm);
	strftime(off, sizeof(off), "%z", tm);
	snprintf(buf + strlen(buf), size - strlen(buf), "%.3s:%.2s", off, off + 3);
}

/* sys_send - one datagram to the syslog socket, connecting again once */
static void
sys_send(const char *line, size_t n)
{
	if (send(log_sys_fd, line, n, MSG_NOSIGNAL) >= 0 || log_sys_path == NULL)
		return;
	if (errno != ECONNREFUSED && errno != ENOTCONN && errno != ENOENT)
		return;
	close(log_sys_fd);
	if ((log_sys_fd = sys_connect(log_sys_path)) >= 0)
		(void) send(log_sys_fd, line, n, MSG_NOSIGNAL);
}

/* log_vemit - write one line to every destination */
static void
log_vemit(int prio, const char *tag, const char *fmt, va_list ap)
{
	char buf[4096], line[4300], when[40];
	struct tm tm;
	time_t now;
	int n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	now = time(NULL);
	localtime_r(&now, &tm);
	pthread_mutex_lock(&log_lock);
	if (log_sys_fd >= 0 && log_stderr != LOG_STDERR_JOURNAL) {
		strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "<%d>%s %s[%ld]: %s%s",
			     log_facility | prio, when, log_ident, (long) getpid(), tag, buf);
		if (n > 0)
			sys_send(line, (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1);
	}
	if (log_file_fd >= 0 || log_stderr == LOG_STDERR_STAMPED) {
		stamp(when, sizeof(when), &tm);
		n = snprintf(line, sizeof(line), "%s %s[%ld]: %s%s\n", when, log_ident,
			     (long) getpid(), tag, buf);
		if (log_file_fd >= 0)
			put(log_file_fd, line, n, sizeof(line));
		if (log_stderr == LOG_STDERR_STAMPED)
			put(STDERR_FILENO, line, n, sizeof(line));
	}
	pthread_mutex_unlock(&log_lock);
	if (log_stderr == LOG_STDERR_JOURNAL) {
		n = snprintf(line, sizeof(line), "<%d>%s%s\n", prio, tag, buf);
		put(STDERR_FILENO, line, n, sizeof(line));
	} else if (log_stderr == LOG_STDERR_PLAIN) {
		n = snprintf(line, sizeof(line), "%s: %s%s\n", log_ident, tag, buf);
		put(STDERR_FILENO, line, n, sizeof(line));
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

/* log_notice - an info line sinkd -t shows too: a sink's own lines, what
 * a sink in evaluate mode would have done */
void
log_notice(const char *fmt, ...)
{
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
