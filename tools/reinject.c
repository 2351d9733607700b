/*
 * reinject - hand a message back to the MTA, through its sendmail
 *	command or over SMTP
 *
 * Interface and behaviour: reinject.h.  Line ends: sinkd keeps messages
 * with CRLF; the sendmail command gets LF (Postfix's sendmail would strip
 * the CRs itself, with its default sendmail_fix_line_endings = always,
 * and Sendmail's treats CRLF as a line end too, but LF is what every
 * sendmail command is specified to read), SMTP gets CRLF.  A line that
 * ends in a bare LF gets the same treatment as one ending in CRLF.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <glib.h>

#include "reinject.h"

/* RFC 5321 4.5.3.2 timeouts, and one of our own for connect() */
#define CONNECT_MS	(30 * 1000)
#define GREETING_MS	(5 * 60 * 1000)
#define COMMAND_MS	(5 * 60 * 1000)
#define DATA_BLOCK_MS	(3 * 60 * 1000)
#define DATA_END_MS	(10 * 60 * 1000)
#define QUIT_MS		(10 * 1000)	/* nothing depends on the answer */

#define FLUSH_AT	65536	/* bytes buffered before a write */
#define MAX_REPLY	65536	/* bytes of one SMTP reply */

/* reinject_addr_ok - no control character, no angle bracket */
int
reinject_addr_ok(const char *addr)
{
	const unsigned char *p;

	for (p = (const unsigned char *) addr; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return 0;
	return 1;
}

/* envelope_ok - every address of r may be sent; else *said says which */
static int
envelope_ok(const struct reinject *r, char **said)
{
	unsigned i;

	if (!reinject_addr_ok(r->sender)) {
		*said = g_strdup("the sender holds a control character or an angle bracket");
		return 0;
	}
	if (r->rcpts == NULL || r->rcpts[0] == NULL) {
		*said = g_strdup("no recipient");
		return 0;
	}
	for (i = 0; r->rcpts[i]; i++) {
		if (!*r->rcpts[i] || !reinject_addr_ok(r->rcpts[i])) {
			*said = g_strdup_printf("recipient %u is empty or holds a control "
						"character or an angle bracket", i + 1);
			return 0;
		}
	}
	return 1;
}

/* for_each_line - call put() on the first line, then on each line of the
 * message, without its line end (CRLF or LF); 0, or put()'s -1 */
static int
for_each_line(const struct reinject *r,
	      int (*put)(void *ctx, const char *line, size_t n), void *ctx)
{
	const char *p = r->msg, *end = r->msg + r->len;

	if (r->first && put(ctx, r->first, strlen(r->first)) < 0)
		return -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t) (end - p));
		const char *next = nl ? nl + 1 : end;
		size_t n = (size_t) ((nl ? nl : end) - p);

		if (nl && n > 0 && p[n - 1] == '\r')
			n--;
		if (put(ctx, p, n) < 0)
			return -1;
		p = next;
	}
	return 0;
}

/* ---- the sendmail command ---- */

struct pipe_out {
	int fd;
	GString *buf;
};

/* write_fd - write(2) all of it; 0, or -1 with errno */
static int
write_fd(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

/* pipe_line - one line and LF into the buffer, written out when full */
static int
pipe_line(void *ctx, const char *line, size_t n)
{
	struct pipe_out *o = ctx;

	g_string_append_len(o->buf, line, (gssize) n);
	g_string_append_c(o->buf, '\n');
	if (o->buf->len < FLUSH_AT)
		return 0;
	if (write_fd(o->fd, o->buf->str, o->buf->len) < 0)
		return -1;
	g_string_truncate(o->buf, 0);
	return 0;
}

/* exit_name - the sysexits.h name of a sendmail exit status, or "" */
static const char *
exit_name(int status)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{EX_USAGE, " (EX_USAGE)"}, {EX_DATAERR, " (EX_DATAERR)"},
		{EX_NOINPUT, " (EX_NOINPUT)"}, {EX_NOUSER, " (EX_NOUSER)"},
		{EX_NOHOST, " (EX_NOHOST)"}, {EX_UNAVAILABLE, " (EX_UNAVAILABLE)"},
		{EX_SOFTWARE, " (EX_SOFTWARE)"}, {EX_OSERR, " (EX_OSERR)"},
		{EX_OSFILE, " (EX_OSFILE)"}, {EX_CANTCREAT, " (EX_CANTCREAT)"},
		{EX_IOERR, " (EX_IOERR)"}, {EX_TEMPFAIL, " (EX_TEMPFAIL)"},
		{EX_PROTOCOL, " (EX_PROTOCOL)"}, {EX_NOPERM, " (EX_NOPERM)"},
		{EX_CONFIG, " (EX_CONFIG)"},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (names[i].code == status)
			return names[i].name;
	return "";
}

/* spawn - fork and execv argv with its stdin the read end of a pipe; the
 * pid and *in (the write end), or -1 with *said set */
static pid_t
spawn(char **argv, int *in, char **said)
{
	int data[2], report[2], err = 0;
	pid_t pid;
	ssize_t n;

	if (pipe2(data, O_CLOEXEC) < 0) {
		*said = g_strdup_printf("pipe: %s", strerror(errno));
		return -1;
	}
	/* the child writes errno here if execv() fails; closed on success */
	if (pipe2(report, O_CLOEXEC) < 0) {
		*said = g_strdup_printf("pipe: %s", strerror(errno));
		close(data[0]);
		close(data[1]);
		return -1;
	}
	if ((pid = fork()) == 0) {
		if (dup2(data[0], 0) == 0)
			execv(argv[0], argv);
		err = errno;
		if (write(report[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	err = errno;
	close(data[0]);
	close(report[1]);
	if (pid < 0) {
		*said = g_strdup_printf("fork: %s", strerror(err));
		close(data[1]);
		close(report[0]);
		return -1;
	}
	do
		n = read(report[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == (ssize_t) sizeof(err)) {
		*said = g_strdup_printf("cannot run %s: %s", argv[0], strerror(err));
		close(data[1]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	*in = data[1];
	return pid;
}

/* reinject_sendmail - PATH -i -f SENDER -- RCPT..., message on stdin */
int
reinject_sendmail(const char *path, const struct reinject *r, char **said)
{
	GPtrArray *argv;
	struct pipe_out o = {.fd = -1};
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	int status = 0, werr = 0, rc = -1;
	pid_t pid;
	unsigned i;

	*said = NULL;
	if (!envelope_ok(r, said))
		return -1;
	argv = g_ptr_array_new();
	g_ptr_array_add(argv, (char *) path);
	g_ptr_array_add(argv, "-i");
	g_ptr_array_add(argv, "-f");
	g_ptr_array_add(argv, *r->sender ? (char *) r->sender : "<>");
	g_ptr_array_add(argv, "--");
	for (i = 0; r->rcpts[i]; i++)
		g_ptr_array_add(argv, r->rcpts[i]);
	g_ptr_array_add(argv, NULL);
	/* a sendmail that stops reading must give EPIPE, not kill us */
	sigaction(SIGPIPE, &ign, &old);
	pid = spawn((char **) argv->pdata, &o.fd, said);
	g_ptr_array_free(argv, TRUE);
	if (pid < 0)
		goto out;
	o.buf = g_string_sized_new(FLUSH_AT + 1024);
	if (for_each_line(r, pipe_line, &o) < 0
	    || write_fd(o.fd, o.buf->str, o.buf->len) < 0)
		werr = errno;
	g_string_free(o.buf, TRUE);
	close(o.fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		*said = g_strdup_printf("%s killed by signal %d", path, WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0)
		*said = g_strdup_printf("%s exited with status %d%s", path,
					WEXITSTATUS(status), exit_name(WEXITSTATUS(status)));
	else if (werr)
		*said = g_strdup_printf("writing to %s: %s", path, strerror(werr));
	else {
		*said = g_strdup_printf("%s exited with status 0", path);
		rc = 0;
	}
out:
	sigaction(SIGPIPE, &old, NULL);
	return rc;
}

/* ---- SMTP ---- */

struct smtp {
	int fd;
	char in[4096];		/* bytes read, not yet taken as lines */
	size_t inlen;
	int code;		/* of the last reply */
	GString *reply;		/* the last reply, its lines joined by " " */
	GString *out;		/* DATA, buffered */
	gint64 deadline;	/* of the DATA block being written */
	char *err;		/* what failed */
};

/* fail - set s->err once (the first failure is the one to report) */
static int __attribute__((format(printf, 2, 3)))
fail(struct smtp *s, const char *fmt, ...)
{
	va_list ap;

	if (s->err == NULL) {
		va_start(ap, fmt);
		s->err = g_strdup_vprintf(fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* wait_fd - poll for events until deadline (monotonic, µs); 0, or -1 */
static int
wait_fd(struct smtp *s, short events, gint64 deadline)
{
	for (;;) {
		gint64 left = (deadline - g_get_monotonic_time()) / 1000;
		struct pollfd p = {.fd = s->fd, .events = events};
		int n;

		if (left <= 0)
			return fail(s, "timed out");
		n = poll(&p, 1, left > G_MAXINT ? G_MAXINT : (int) left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return fail(s, "poll: %s", strerror(errno));
	}
}

/* send_all - all of data before deadline; 0, or -1 */
static int
send_all(struct smtp *s, const char *p, size_t len, gint64 deadline)
{
	while (len > 0) {
		ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (errno == EAGAIN && wait_fd(s, POLLOUT, deadline) < 0)
				return -1;
			continue;
		}
		if (n < 0)
			return fail(s, "write: %s", strerror(errno));
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

/* read_line - one line, without its line end, into line; 0, or -1 */
static int
read_line(struct smtp *s, GString *line, gint64 deadline)
{
	g_string_truncate(line, 0);
	for (;;) {
		char *nl = memchr(s->in, '\n', s->inlen);
		size_t take = nl ? (size_t) (nl - s->in) + 1 : s->inlen;
		ssize_t n;

		if (nl || s->inlen == sizeof(s->in)) {
			g_string_append_len(line, s->in, (gssize) (nl ? take - 1 : take));
			memmove(s->in, s->in + take, s->inlen - take);
			s->inlen -= take;
			if (line->len > MAX_REPLY)
				return fail(s, "reply too long");
			if (nl) {
				if (line->len && line->str[line->len - 1] == '\r')
					g_string_truncate(line, line->len - 1);
				return 0;
			}
			continue;
		}
		n = recv(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen, 0);
		if (n > 0) {
			s->inlen += (size_t) n;
			continue;
		}
		if (n == 0)
			return fail(s, "connection closed by the server");
		if (errno == EAGAIN) {
			if (wait_fd(s, POLLIN, deadline) < 0)
				return -1;
		} else if (errno != EINTR) {
			return fail(s, "read: %s", strerror(errno));
		}
	}
}

/* read_reply - a whole (maybe multi-line) reply within ms; its code, or
 * -1; s->reply holds its lines */
static int
read_reply(struct smtp *s, int ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64) ms * 1000;
	GString *line = g_string_new(NULL);
	int code = -1;

	g_string_truncate(s->reply, 0);
	for (;;) {
		if (read_line(s, line, deadline) < 0)
			break;
		if (line->len < 3 || !g_ascii_isdigit(line->str[0])
		    || !g_ascii_isdigit(line->str[1]) || !g_ascii_isdigit(line->str[2])
		    || (line->len > 3 && line->str[3] != ' ' && line->str[3] != '-')) {
			fail(s, "not an SMTP reply: \"%.80s\"", line->str);
			break;
		}
		if (s->reply->len)
			g_string_append_c(s->reply, ' ');
		g_string_append(s->reply, line->str);
		if (line->len == 3 || line->str[3] == ' ') {
			code = atoi(line->str);
			break;
		}
	}
	g_string_free(line, TRUE);
	s->code = code;
	return code;
}

/* prefix - make s->err "what: " and what went wrong, or the reply */
static void
prefix(struct smtp *s, const char *what)
{
	char *e = g_strdup_printf("%s: %s", what, s->err ? s->err : s->reply->str);

	g_free(s->err);
	s->err = e;
}

/* command - send one command line, read the reply within ms; 0 if its
 * code is in class want (2 or 3), else -1 and s->err names the command */
static int
command(struct smtp *s, int want, int ms, const char *line)
{
	char *out = g_strconcat(line, "\r\n", NULL);
	int rc = send_all(s, out, strlen(out),
			  g_get_monotonic_time() + (gint64) ms * 1000);

	g_free(out);
	if (rc == 0 && read_reply(s, ms) / 100 == want)
		return 0;
	prefix(s, line);
	return -1;
}

/* quit - say QUIT, whatever the answer, keeping s->err as it was */
static void
quit(struct smtp *s)
{
	char *saved = s->err;

	s->err = NULL;
	command(s, 2, QUIT_MS, "QUIT");
	g_free(s->err);
	s->err = saved;
}

/* split_relay - host and port of "host:port", "[v6]:port" or "host";
 * g_free() both; 0, or -1 */
static int
split_relay(const char *relay, char **host, char **port)
{
	const char *colon;

	if (*relay == '[') {
		const char *close = strchr(relay, ']');

		if (close == NULL || (close[1] && close[1] != ':'))
			return -1;
		*host = g_strndup(relay + 1, (gsize) (close - relay - 1));
		colon = close[1] ? close + 1 : NULL;
	} else {
		colon = strchr(relay, ':');
		if (colon && strchr(colon + 1, ':'))
			return -1;	/* IPv6 without brackets */
		*host = colon ? g_strndup(relay, (gsize) (colon - relay)) : g_strdup(relay);
	}
	*port = g_strdup(colon ? colon + 1 : "25");
	if (!**host || !**port) {
		g_free(*host);
		g_free(*port);
		return -1;
	}
	return 0;
}

/* try_connect - a non-blocking connect to one address within CONNECT_MS */
static int
try_connect(struct smtp *s, const struct addrinfo *a)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	s->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       a->ai_protocol);
	if (s->fd < 0)
		return -1;
	if (connect(s->fd, a->ai_addr, a->ai_addrlen) == 0)
		return 0;
	if (errno == EINPROGRESS
	    && wait_fd(s, POLLOUT, g_get_monotonic_time() + CONNECT_MS * (gint64) 1000) == 0
	    && getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
		return 0;
	if (soerr)
		errno = soerr;
	else if (s->err)
		errno = ETIMEDOUT;
	g_free(s->err);
	s->err = NULL;
	close(s->fd);
	s->fd = -1;
	return -1;
}

/* smtp_connect - to the first address of relay that answers */
static int
smtp_connect(struct smtp *s, const char *relay)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *a;
	char *host, *port;
	int rc, err = 0;

	if (split_relay(relay, &host, &port) < 0)
		return fail(s, "release-relay \"%s\": not host:port or [address]:port", relay);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fail(s, "%s port %s: %s", host, port, gai_strerror(rc));
		g_free(host);
		g_free(port);
		return -1;
	}
	for (a = res; a; a = a->ai_next) {
		if (try_connect(s, a) == 0)
			break;
		err = errno;
	}
	freeaddrinfo(res);
	if (s->fd < 0)
		fail(s, "connect to %s port %s: %s", host, port, strerror(err));
	g_free(host);
	g_free(port);
	return s->fd < 0 ? -1 : 0;
}

/* has_ext - whether the EHLO reply lists keyword */
static int
has_ext(const char *ehlo, const char *keyword)
{
	char **words = g_strsplit_set(ehlo, " ", -1);
	size_t n = strlen(keyword);
	int found = 0;
	unsigned i;

	/* lines were joined with " ": a keyword follows "250-" or "250 " */
	for (i = 0; words[i] && !found; i++) {
		const char *w = words[i];

		if (strlen(w) > 4 && g_ascii_isdigit(w[0]) && w[3] == '-')
			w += 4;
		found = !g_ascii_strncasecmp(w, keyword, n) && (w[n] == '\0' || w[n] == '=');
	}
	g_strfreev(words);
	return found;
}

/* non_ascii - whether len bytes hold one over 127 */
static int
non_ascii(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char) p[i] > 127)
			return 1;
	return 0;
}

/* data_line - one dot-stuffed line and CRLF into the buffer */
static int
data_line(void *ctx, const char *line, size_t n)
{
	struct smtp *s = ctx;

	if (n > 0 && line[0] == '.')
		g_string_append_c(s->out, '.');
	g_string_append_len(s->out, line, (gssize) n);
	g_string_append(s->out, "\r\n");
	if (s->out->len < FLUSH_AT)
		return 0;
	if (send_all(s, s->out->str, s->out->len, g_get_monotonic_time()
		     + DATA_BLOCK_MS * (gint64) 1000) < 0)
		return -1;
	g_string_truncate(s->out, 0);
	return 0;
}

/* hello - greeting, then EHLO (HELO when refused); the EHLO reply, or
 * NULL; g_free() */
static char *
hello(struct smtp *s)
{
	const char *me = g_get_host_name();
	char *cmd;
	int rc;

	if (read_reply(s, GREETING_MS) != 220) {
		prefix(s, "greeting");
		return NULL;
	}
	cmd = g_strdup_printf("EHLO %s", me);
	rc = command(s, 2, COMMAND_MS, cmd);
	g_free(cmd);
	if (rc == 0)
		return g_strdup(s->reply->str);
	if (s->code / 100 != 5)
		return NULL;
	g_free(s->err);
	s->err = NULL;
	cmd = g_strdup_printf("HELO %s", me);
	rc = command(s, 2, COMMAND_MS, cmd);
	g_free(cmd);
	return rc == 0 ? g_strdup("") : NULL;
}

/* envelope - MAIL FROM and every RCPT TO; 0, or -1 */
static int
envelope(struct smtp *s, const struct reinject *r, const char *ehlo)
{
	int utf8 = non_ascii(r->sender, strlen(r->sender));
	GString *cmd = g_string_new(NULL);
	int rc = 0;
	unsigned i;

	for (i = 0; r->rcpts[i]; i++)
		utf8 |= non_ascii(r->rcpts[i], strlen(r->rcpts[i]));
	if (utf8 && !has_ext(ehlo, "SMTPUTF8")) {
		g_string_free(cmd, TRUE);
		return fail(s, "the addresses are not ASCII and the server does not offer SMTPUTF8");
	}
	g_string_printf(cmd, "MAIL FROM:<%s>", r->sender);
	if (has_ext(ehlo, "8BITMIME") && non_ascii(r->msg, r->len))
		g_string_append(cmd, " BODY=8BITMIME");
	if (utf8)
		g_string_append(cmd, " SMTPUTF8");
	rc = command(s, 2, COMMAND_MS, cmd->str);
	for (i = 0; rc == 0 && r->rcpts[i]; i++) {
		g_string_printf(cmd, "RCPT TO:<%s>", r->rcpts[i]);
		rc = command(s, 2, COMMAND_MS, cmd->str);
	}
	g_string_free(cmd, TRUE);
	return rc;
}

/* reinject_smtp - one SMTP transaction with relay */
int
reinject_smtp(const char *relay, const struct reinject *r, char **said)
{
	struct smtp s = {.fd = -1};
	char *ehlo = NULL;
	int rc = -1;

	*said = NULL;
	if (!envelope_ok(r, said))
		return -1;
	s.reply = g_string_new(NULL);
	s.out = g_string_sized_new(FLUSH_AT + 1024);
	if (smtp_connect(&s, relay) < 0 || (ehlo = hello(&s)) == NULL
	    || envelope(&s, r, ehlo) < 0 || command(&s, 3, COMMAND_MS, "DATA") < 0)
		goto out;
	if (for_each_line(r, data_line, &s) < 0)
		goto out;
	g_string_append(s.out, ".\r\n");
	if (send_all(&s, s.out->str, s.out->len, g_get_monotonic_time()
		     + DATA_BLOCK_MS * (gint64) 1000) < 0)
		goto out;
	if (read_reply(&s, DATA_END_MS) / 100 != 2) {
		prefix(&s, "end of data");
		goto out;
	}
	*said = g_strdup(s.reply->str);
	rc = 0;
out:
	/* after a reply (not a timeout): end the session politely; once the
	 * message is accepted it is the server's, whatever QUIT gets */
	if (s.fd >= 0 && s.code > 0)
		quit(&s);
	if (rc < 0)
		*said = g_strdup_printf("%s: %s", relay, s.err ? s.err : "failed");
	if (s.fd >= 0)
		close(s.fd);
	g_free(ehlo);
	g_free(s.err);
	g_string_free(s.reply, TRUE);
	g_string_free(s.out, TRUE);
	return rc;
}
