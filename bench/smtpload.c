/*
 * smtpload - load an MTA over SMTP with the messages of a directory
 *
 * usage: smtpload [-c sessions] [-n msgs] [-r rate] [-f sender] [-t rcpt]
 *		   [-w timeout] host:port dir
 *
 * Sends -n messages (default: one per file of dir) over -c SMTP sessions
 * (default 10) held open for the whole run, each session taking the next
 * message in turn (file i modulo the number of files; the files of dir
 * are its regular files, sorted by name).  A message is sent as its file
 * holds it, with every line ending made CRLF and a leading dot doubled;
 * MAIL, RCPT and DATA are pipelined (RFC 2920: the server must offer
 * PIPELINING).  With -r, message k is not started before k / rate
 * seconds from the start (a fixed, open-loop rate shared by all sessions;
 * a session that falls behind sends at once); without it, every session
 * sends as fast as the server answers (saturation).
 *
 * Latency is the time from the last byte of the message (the dot that
 * ends DATA) to the server's complete reply to it: the MTA's queueing and
 * every content filter it runs.  A session whose connection fails or that
 * gets a 421 reconnects for its next message; the failed message counts
 * as an error.
 *
 * Output: key=value lines on standard output: messages (answered 2xx),
 * tempfail (4xx), reject (5xx), errors, elapsed_s, msgs_per_s,
 * latency_p50_ms, latency_p99_ms, latency_max_ms (over the 2xx replies),
 * client_cpu_ms_per_msg (this program's user and system time from
 * getrusage, reading the files left out), target_rate.  Exit status 0 when every message got a 2xx
 * reply, 1 otherwise, 64 on a usage error, 2 when dir cannot be read.
 *
 * Threading: the messages and options are read-only once the sessions
 * start; the next message index is an atomic counter; each session keeps
 * its own counters and latencies, which main() adds up after
 * pthread_join().
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "measure.h"

#define EX_USAGE_	64

struct msg {
	char *data;			/* wire form, ending in ".\r\n" */
	size_t len;
};

struct session {
	pthread_t thread;
	int fd;
	char buf[8192];			/* reply bytes read, not yet used */
	size_t have;
	unsigned long ok, tempfail, reject, errors;
	double *lat;			/* ms, one per 2xx reply */
	size_t nlat;
};

static struct msg *msgs;
static size_t nmsgs;
static unsigned long total;		/* -n */
static double rate;			/* -r, messages per second; 0: none */
static const char *sender = "bench@example.org";
static const char *rcpt = "rcpt@example.com";
static int timeout_s = 120;		/* -w */
static struct sockaddr_in server;
static struct timespec t_start;
static unsigned long next_msg;		/* atomic */

static void
fatal(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("smtpload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

/* now_s - seconds on the monotonic clock since the start */
static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double) (t.tv_sec - t_start.tv_sec)
		+ (double) (t.tv_nsec - t_start.tv_nsec) / 1e9;
}

/* wire_form - the message as DATA sends it: CRLF line ends, dots doubled */
static void
wire_form(struct msg *m, const char *raw, size_t len)
{
	size_t i, o = 0;
	int bol = 1;

	/* worst case: every byte a line of its own ("\n" -> "..\r\n") */
	m->data = malloc(len * 4 + 8);
	if (m->data == NULL)
		fatal(2, "out of memory");
	for (i = 0; i < len; i++) {
		char c = raw[i];

		if (bol && c == '.')
			m->data[o++] = '.';
		bol = 0;
		if (c == '\r' && i + 1 < len && raw[i + 1] == '\n')
			continue;
		if (c == '\n') {
			m->data[o++] = '\r';
			m->data[o++] = '\n';
			bol = 1;
			continue;
		}
		m->data[o++] = c;
	}
	if (!bol) {
		m->data[o++] = '\r';
		m->data[o++] = '\n';
	}
	memcpy(m->data + o, ".\r\n", 3);
	m->len = o + 3;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* load_dir - every regular file of dir, sorted by name, in wire form */
static void
load_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;

	if (d == NULL)
		fatal(2, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			names = realloc(names, cap * sizeof *names);
			if (names == NULL)
				fatal(2, "out of memory");
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (n == 0)
		fatal(2, "%s: no regular files", dir);
	qsort(names, n, sizeof *names, cmp_str);
	msgs = calloc(n, sizeof *msgs);
	if (msgs == NULL)
		fatal(2, "out of memory");
	for (i = 0; i < n; i++) {
		int fd;
		struct stat st;
		char *raw;

		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		fd = open(path, O_RDONLY);
		if (fd < 0 || fstat(fd, &st) != 0)
			fatal(2, "%s: %s", path, strerror(errno));
		raw = malloc((size_t) st.st_size + 1);
		if (raw == NULL || read(fd, raw, (size_t) st.st_size) != st.st_size)
			fatal(2, "%s: cannot read", path);
		close(fd);
		wire_form(&msgs[i], raw, (size_t) st.st_size);
		free(raw);
		free(names[i]);
	}
	free(names);
	nmsgs = n;
}

/* send_all - write len bytes; 0, or -1 on error */
static int
send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t) w;
	}
	return 0;
}

/* read_reply - one complete SMTP reply; its code, or -1 on error */
static int
read_reply(struct session *s)
{
	for (;;) {
		char *eol = memchr(s->buf, '\n', s->have);

		if (eol != NULL) {
			size_t linelen = (size_t) (eol - s->buf) + 1;
			int code = -1, last = 0;

			if (linelen >= 4 && s->buf[0] >= '2' && s->buf[0] <= '5') {
				code = atoi(s->buf);
				last = s->buf[3] != '-';
			}
			memmove(s->buf, s->buf + linelen, s->have - linelen);
			s->have -= linelen;
			if (code < 0)
				return -1;
			if (last)
				return code;
			continue;
		}
		if (s->have == sizeof s->buf)
			return -1;	/* a reply line over 8 KB */
		ssize_t r = recv(s->fd, s->buf + s->have, sizeof s->buf - s->have, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		s->have += (size_t) r;
	}
}

/* command - send a line, read its reply; the code, or -1 */
static int
command(struct session *s, const char *line)
{
	if (send_all(s->fd, line, strlen(line)) != 0)
		return -1;
	return read_reply(s);
}

static void
disconnect(struct session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->have = 0;
}

/* connect_session - connect, banner, EHLO; 0, or -1 */
static int
connect_session(struct session *s)
{
	struct timeval tv = { .tv_sec = timeout_s };
	int one = 1;

	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(s->fd, (struct sockaddr *) &server, sizeof server) != 0
	    || read_reply(s) != 220
	    || command(s, "EHLO load.sinkd.test\r\n") != 250) {
		disconnect(s);
		return -1;
	}
	return 0;
}

/* transaction - one message; its reply code to the end of DATA, or -1 */
static int
transaction(struct session *s, const struct msg *m, double *lat_ms)
{
	char env[1024];
	int c_mail, c_rcpt, c_data, code;
	double t0;

	snprintf(env, sizeof env, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n",
		 sender, rcpt);
	if (send_all(s->fd, env, strlen(env)) != 0)
		return -1;
	c_mail = read_reply(s);
	c_rcpt = read_reply(s);
	c_data = read_reply(s);
	if (c_mail < 0 || c_rcpt < 0 || c_data < 0)
		return -1;
	if (c_data != 354) {
		/* the transaction is over; the first refusal is its verdict */
		if (command(s, "RSET\r\n") < 0)
			return -1;
		return c_mail / 100 != 2 ? c_mail : c_rcpt / 100 != 2 ? c_rcpt : c_data;
	}
	if (send_all(s->fd, m->data, m->len) != 0)
		return -1;
	t0 = now_s();
	code = read_reply(s);
	*lat_ms = (now_s() - t0) * 1000.0;
	return code;
}

/* pace - with -r, sleep until message k's start time */
static void
pace(unsigned long k)
{
	double due, wait;
	struct timespec ts;

	if (rate <= 0)
		return;
	due = (double) k / rate;
	wait = due - now_s();
	if (wait <= 0)
		return;
	ts.tv_sec = (time_t) wait;
	ts.tv_nsec = (long) ((wait - (double) ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *
session_main(void *arg)
{
	struct session *s = arg;
	unsigned long k;

	s->fd = -1;
	while ((k = __atomic_fetch_add(&next_msg, 1, __ATOMIC_RELAXED)) < total) {
		double lat = 0;
		int code;

		pace(k);
		if (s->fd < 0 && connect_session(s) != 0) {
			s->errors++;
			continue;
		}
		code = transaction(s, &msgs[k % nmsgs], &lat);
		if (code / 100 == 2) {
			s->ok++;
			s->lat[s->nlat++] = lat;
		} else if (code / 100 == 4) {
			s->tempfail++;
		} else if (code / 100 == 5) {
			s->reject++;
		} else {
			s->errors++;
		}
		if (code < 0 || code == 421)
			disconnect(s);
	}
	if (s->fd >= 0) {
		(void) command(s, "QUIT\r\n");
		disconnect(s);
	}
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: smtpload [-c sessions] [-n msgs] [-r rate] [-f sender]"
		" [-t rcpt] [-w timeout] host:port dir\n");
	exit(EX_USAGE_);
}

static void
parse_server(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	long port;

	if (colon == NULL || (size_t) (colon - spec) >= sizeof host)
		usage();
	memcpy(host, spec, (size_t) (colon - spec));
	host[colon - spec] = 0;
	port = strtol(colon + 1, NULL, 10);
	server.sin_family = AF_INET;
	server.sin_port = htons((unsigned short) port);
	if (port < 1 || port > 65535 || inet_pton(AF_INET, host, &server.sin_addr) != 1)
		fatal(EX_USAGE_, "%s: not an IPv4 address:port", spec);
}

int
main(int argc, char **argv)
{
	struct session *ss;
	unsigned long ok = 0, tempfail = 0, reject = 0, errors = 0;
	double *lat, elapsed, cpu0, cpu;
	size_t nlat = 0;
	int sessions = 10, opt, i;

	while ((opt = getopt(argc, argv, "c:n:r:f:t:w:")) != -1) {
		switch (opt) {
		case 'c': sessions = atoi(optarg); break;
		case 'n': total = strtoul(optarg, NULL, 10); break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'f': sender = optarg; break;
		case 't': rcpt = optarg; break;
		case 'w': timeout_s = atoi(optarg); break;
		default: usage();
		}
	}
	if (argc - optind != 2 || sessions < 1 || timeout_s < 1 || rate < 0)
		usage();
	parse_server(argv[optind]);
	load_dir(argv[optind + 1]);
	if (total == 0)
		total = nmsgs;

	ss = calloc((size_t) sessions, sizeof *ss);
	if (ss == NULL)
		fatal(2, "out of memory");
	cpu0 = cpu_ms();	/* reading the files is not the load's cost */
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	for (i = 0; i < sessions; i++) {
		ss[i].lat = calloc(total, sizeof *ss[i].lat);
		if (ss[i].lat == NULL)
			fatal(2, "out of memory");
		if (pthread_create(&ss[i].thread, NULL, session_main, &ss[i]) != 0)
			fatal(2, "pthread_create failed");
	}
	lat = malloc(total * sizeof *lat);
	if (lat == NULL)
		fatal(2, "out of memory");
	for (i = 0; i < sessions; i++) {
		pthread_join(ss[i].thread, NULL);
		ok += ss[i].ok;
		tempfail += ss[i].tempfail;
		reject += ss[i].reject;
		errors += ss[i].errors;
		memcpy(lat + nlat, ss[i].lat, ss[i].nlat * sizeof *lat);
		nlat += ss[i].nlat;
	}
	elapsed = now_s();
	cpu = cpu_ms() - cpu0;
	qsort(lat, nlat, sizeof *lat, cmp_double);

	printf("messages=%lu\ntempfail=%lu\nreject=%lu\nerrors=%lu\n",
	       ok, tempfail, reject, errors);
	printf("elapsed_s=%.3f\nmsgs_per_s=%.1f\n", elapsed,
	       elapsed > 0 ? (double) ok / elapsed : 0);
	printf("latency_p50_ms=%.2f\nlatency_p99_ms=%.2f\nlatency_max_ms=%.2f\n",
	       pctl(lat, nlat, 50), pctl(lat, nlat, 99), nlat ? lat[nlat - 1] : 0);
	printf("client_cpu_ms_per_msg=%.4f\ntarget_rate=%.1f\n",
	       total ? cpu / (double) total : 0, rate);
	fprintf(stderr, "smtpload: %lu of %lu messages accepted in %.2f s (%.1f/s), p99 %.1f ms\n",
		ok, total, elapsed, elapsed > 0 ? (double) ok / elapsed : 0,
		pctl(lat, nlat, 99));
	return ok == total ? 0 : 1;
}
