/*
 * clamd - a pool of clamd servers spoken to with INSTREAM
 *
 * One scan is one connection: "zINSTREAM\0", the data in chunks of at
 * most CLAMD_CHUNK bytes, each after its length as four bytes in network
 * order, a zero length, then one NUL-terminated reply:
 *
 *	stream: OK				SCAN_CLEAN
 *	stream: NAME FOUND			SCAN_VIRUS, NAME
 *	stream: Heuristics.Limits.Exceeded.* FOUND
 *						SCAN_LIMIT, that name (clamd's
 *						AlertExceedsMax)
 *	INSTREAM size limit exceeded. ERROR	SCAN_LIMIT, "clamd StreamMaxLength"
 *	anything else				that server failed
 *
 * clamd sends the size-limit reply while the data is still coming and
 * closes the connection, so a send that finds the peer gone, or a reply
 * that arrives before the data is all sent, ends the sending and the reply
 * is read.
 *
 * Timeouts: connecting (for a name with several addresses, all of them
 * together) is bounded by connect_ms; every wait to send or to receive
 * after that by io_ms, so a server that stops answering costs at most
 * about connect_ms + io_ms, while a slow one that keeps reading is not
 * cut off in the middle of a large message.
 *
 * Names: a tcp: host is looked up with getaddrinfo() at every scan, so a
 * changed address is followed and a name that does not resolve when sinkd
 * starts is not fatal.  The lookup runs under the system resolver's own
 * timeouts, not connect_ms: use an address, or a name in /etc/hosts, to
 * keep the bound.
 *
 * Failover: scans start at the next server in round-robin order.  A server
 * that fails is marked down for retry_s seconds (monotonic clock) and
 * logged once when it goes down and once when it answers again.  Servers
 * that are up are tried first, then the down ones, so every server is
 * tried at most once per scan, a recovered server is found without
 * waiting, and SCAN_ERROR means that every one failed.
 *
 * Threading: the pool is immutable after clamd_pool_new() except for the
 * round-robin counter and each server's down time, both atomic; scans share
 * no connection.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "../src/log.h"
#include "../src/stats.h"
#include "clamd.h"

#define CLAMD_CHUNK	(64 * 1024)	/* bytes per INSTREAM chunk */
#define CLAMD_REPLY	1024		/* longest reply kept */

struct clamd_server {
	char *spec;			/* as configured, for messages */
	int family;			/* AF_UNIX, or AF_UNSPEC for tcp: */
	char *path;			/* unix: the socket */
	char *host;			/* tcp: name or address, no brackets */
	char *port;			/* tcp: decimal */
	_Atomic gint64 down_until;	/* monotonic us; 0: up */
};

struct clamd_pool {
	struct clamd_server *srv;
	unsigned n;
	unsigned connect_ms, io_ms, retry_s;
	atomic_uint next;		/* round-robin start */
};

/* What one exchange with one server came to. */
enum clamd_outcome {
	CLAMD_ANSWERED,			/* *r is filled */
	CLAMD_FAILED,			/* why says how */
};

/* clamd_parse - split a spec; 0, or -1 and *why */
static int
clamd_parse(const char *spec, struct clamd_server *s, const char **why)
{
	const char *rest, *colon, *end;
	char *host = NULL;
	long port;
	char *stop;

	memset(s, 0, sizeof(*s));
	if (!strncmp(spec, "unix:", 5)) {
		rest = spec + 5;
		if (*rest != '/') {
			*why = "a unix socket needs an absolute path, as in unix:/run/clamav/clamd.ctl";
			return -1;
		}
		if (strlen(rest) >= sizeof(((struct sockaddr_un *) 0)->sun_path)) {
			*why = "unix socket path too long";
			return -1;
		}
		s->family = AF_UNIX;
		s->path = g_strdup(rest);
		return 0;
	}
	if (strncmp(spec, "tcp:", 4)) {
		*why = "expected unix:/path or tcp:host:port";
		return -1;
	}
	rest = spec + 4;
	if (*rest == '[') {
		unsigned char a6[16];

		if ((end = strchr(rest, ']')) == NULL || end[1] != ':') {
			*why = "expected tcp:[IPv6-address]:port";
			return -1;
		}
		host = g_strndup(rest + 1, end - rest - 1);
		if (inet_pton(AF_INET6, host, a6) != 1) {
			*why = "bad IPv6 address";
			goto fail;
		}
		colon = end + 1;
	} else {
		const char *c;

		if ((colon = strchr(rest, ':')) == NULL) {
			*why = "expected unix:/path or tcp:host:port";
			return -1;
		}
		if (strchr(colon + 1, ':') != NULL) {
			*why = "an IPv6 address goes in brackets, as in tcp:[::1]:3310";
			return -1;
		}
		if (colon == rest) {
			*why = "missing host";
			return -1;
		}
		for (c = rest; c < colon; c++) {
			if (!g_ascii_isalnum(*c) && *c != '.' && *c != '-' && *c != '_') {
				*why = "bad host name";
				return -1;
			}
		}
		host = g_strndup(rest, colon - rest);
	}
	port = strtol(colon + 1, &stop, 10);
	if (!g_ascii_isdigit(colon[1]) || *stop || port < 1 || port > 65535) {
		*why = "bad port";
		goto fail;
	}
	s->family = AF_UNSPEC;
	s->host = host;
	s->port = g_strdup_printf("%ld", port);
	return 0;
fail:
	g_free(host);
	return -1;
}

/* clamd_spec_check - 0 if spec is a valid server, else -1 and *why */
int
clamd_spec_check(const char *spec, const char **why)
{
	struct clamd_server s;

	if (clamd_parse(spec, &s, why) < 0)
		return -1;
	g_free(s.path);
	g_free(s.host);
	g_free(s.port);
	return 0;
}

/* clamd_pool_new - the servers of specs; NULL if one is invalid */
struct clamd_pool *
clamd_pool_new(char *const *specs, unsigned connect_ms, unsigned io_ms,
	       unsigned retry_s)
{
	struct clamd_pool *p = g_new0(struct clamd_pool, 1);
	const char *why;
	unsigned i;

	while (specs[p->n] != NULL)
		p->n++;
	p->srv = g_new0(struct clamd_server, p->n ? p->n : 1);
	p->connect_ms = connect_ms;
	p->io_ms = io_ms;
	p->retry_s = retry_s;
	atomic_init(&p->next, 0);
	for (i = 0; i < p->n; i++) {
		if (clamd_parse(specs[i], &p->srv[i], &why) < 0) {
			log_error("clamd server %s: %s", specs[i], why);
			p->n = i;
			clamd_pool_free(p);
			return NULL;
		}
		p->srv[i].spec = g_strdup(specs[i]);
		atomic_init(&p->srv[i].down_until, 0);
	}
	stats_gauge_add(STATS_CLAMD_UP, p->n);
	return p;
}

/* clamd_pool_free - NULL is allowed */
void
clamd_pool_free(struct clamd_pool *p)
{
	unsigned i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		stats_gauge_add(atomic_load(&p->srv[i].down_until) ? STATS_CLAMD_DOWN
				: STATS_CLAMD_UP, -1);
		g_free(p->srv[i].spec);
		g_free(p->srv[i].path);
		g_free(p->srv[i].host);
		g_free(p->srv[i].port);
	}
	g_free(p->srv);
	g_free(p);
}

/* ms_left - milliseconds until deadline (monotonic us), at least 0 */
static int
ms_left(gint64 deadline)
{
	gint64 left = deadline - g_get_monotonic_time();

	if (left <= 0)
		return 0;
	return left / 1000 > G_MAXINT ? G_MAXINT : (int) ((left + 999) / 1000);
}

/* wait_fd - poll fd for events until deadline; revents, 0 on timeout,
 * -1 on error */
static int
wait_fd(int fd, short events, gint64 deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n;

	for (;;) {
		n = poll(&pfd, 1, ms_left(deadline));
		if (n > 0)
			return pfd.revents;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* connect_addr - non-blocking connect to one address by deadline; the
 * connected descriptor, or -1 with errno (ETIMEDOUT on timeout) */
static int
connect_addr(const struct sockaddr *sa, socklen_t salen, gint64 deadline)
{
	int fd, err = 0, one = 1;
	socklen_t errlen = sizeof(err);

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (sa->sa_family != AF_UNIX)
		(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR)
		goto fail;
	switch (wait_fd(fd, POLLOUT, deadline)) {
	case -1:
		goto fail;
	case 0:
		errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
		goto fail;
	if (err != 0) {
		errno = err;
		goto fail;
	}
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* server_connect - a connected socket to s, or -1 with why */
static int
server_connect(const struct clamd_pool *p, const struct clamd_server *s,
	       char *why, size_t whylen)
{
	gint64 deadline = g_get_monotonic_time() + (gint64) p->connect_ms * 1000;
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, err = 0;

	if (s->family == AF_UNIX) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		g_strlcpy(sun.sun_path, s->path, sizeof(sun.sun_path));
		if ((fd = connect_addr((struct sockaddr *) &sun, sizeof(sun),
				       deadline)) < 0)
			snprintf(why, whylen, "connect: %s",
				 errno == ETIMEDOUT ? "timed out" : g_strerror(errno));
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(s->host, s->port, &hints, &res)) != 0) {
		snprintf(why, whylen, "%s: %s", s->host,
			 rc == EAI_SYSTEM ? g_strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = connect_addr(ai->ai_addr, ai->ai_addrlen, deadline)) >= 0)
			break;
		err = errno;
		if (err == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(why, whylen, "connect: %s",
			 err == ETIMEDOUT ? "timed out" : g_strerror(err));
	return fd;
}

/* Where sending stopped. */
enum clamd_send {
	SEND_DONE,			/* all bytes sent */
	SEND_PEER,			/* the peer replied or went away:
					 * read what it said */
	SEND_FAILED,			/* why says how */
};

/* send_all - send len bytes, each wait bounded by io_ms */
static enum clamd_send
send_all(int fd, const char *buf, size_t len, unsigned io_ms,
	 char *why, size_t whylen)
{
	ssize_t n;
	int ev;

	while (len > 0) {
		ev = wait_fd(fd, POLLOUT | POLLIN,
			     g_get_monotonic_time() + (gint64) io_ms * 1000);
		if (ev < 0) {
			snprintf(why, whylen, "poll: %s", g_strerror(errno));
			return SEND_FAILED;
		}
		if (ev == 0) {
			snprintf(why, whylen, "send: timed out");
			return SEND_FAILED;
		}
		/* clamd speaks only at the end, or to refuse the stream */
		if (ev & (POLLIN | POLLHUP | POLLERR))
			return SEND_PEER;
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			if (errno == EPIPE || errno == ECONNRESET)
				return SEND_PEER;
			snprintf(why, whylen, "send: %s", g_strerror(errno));
			return SEND_FAILED;
		}
		buf += n;
		len -= n;
	}
	return SEND_DONE;
}

/* send_stream - the INSTREAM command and data */
static enum clamd_send
send_stream(int fd, const unsigned char *data, size_t len, unsigned io_ms,
	    char *why, size_t whylen)
{
	static const char cmd[] = "zINSTREAM";	/* with its NUL */
	char *buf = g_malloc(sizeof(cmd) + 4 + CLAMD_CHUNK + 4);
	enum clamd_send st = SEND_DONE;
	size_t off = 0, used, chunk;

	memcpy(buf, cmd, sizeof(cmd));
	used = sizeof(cmd);
	do {
		uint32_t be;

		chunk = MIN(len - off, (size_t) CLAMD_CHUNK);
		if (chunk > 0) {
			be = htonl((uint32_t) chunk);
			memcpy(buf + used, &be, 4);
			memcpy(buf + used + 4, data + off, chunk);
			used += 4 + chunk;
			off += chunk;
		}
		if (off == len) {
			/* the end in the same write: no lone 4-byte packet */
			memset(buf + used, 0, 4);
			used += 4;
		}
		st = send_all(fd, buf, used, io_ms, why, whylen);
		used = 0;
	} while (st == SEND_DONE && off < len);
	g_free(buf);
	return st;
}

/* read_reply - the NUL-terminated reply, each wait bounded by io_ms;
 * 0, or -1 with why */
static int
read_reply(int fd, unsigned io_ms, char *reply, size_t size,
	   char *why, size_t whylen)
{
	size_t used = 0;
	ssize_t n;
	int ev;

	for (;;) {
		ev = wait_fd(fd, POLLIN, g_get_monotonic_time() + (gint64) io_ms * 1000);
		if (ev < 0) {
			snprintf(why, whylen, "poll: %s", g_strerror(errno));
			return -1;
		}
		if (ev == 0) {
			snprintf(why, whylen, "no reply: timed out");
			return -1;
		}
		n = recv(fd, reply + used, size - 1 - used, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			snprintf(why, whylen, "no reply: %s", g_strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		used += n;
		if (memchr(reply + used - n, 0, n) != NULL || used == size - 1)
			break;
	}
	reply[used] = 0;
	if (used == 0) {
		snprintf(why, whylen, "no reply: connection closed");
		return -1;
	}
	g_strchomp(reply);
	return 0;
}

/* printable - copy s into out (size bytes), printable ASCII only */
static void
printable(char *out, size_t size, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < size; i++)
		out[i] = g_ascii_isprint(s[i]) ? s[i] : '?';
	out[i] = 0;
}

/* interpret - a reply into *r; CLAMD_FAILED with why if it is an error */
static enum clamd_outcome
interpret(const char *reply, struct scan_result *r, char *why, size_t whylen)
{
	static const char found[] = " FOUND";
	static const char limits[] = "Heuristics.Limits.Exceeded";
	char name[sizeof(r->name)], shown[100];
	size_t len = strlen(reply);

	if (!strcmp(reply, "stream: OK")) {
		scan_set(r, SCAN_CLEAN, "");
		return CLAMD_ANSWERED;
	}
	if (!strncmp(reply, "stream: ", 8) && len > 8 + strlen(found)
	    && !strcmp(reply + len - strlen(found), found)) {
		printable(name, sizeof(name), reply + 8, len - 8 - strlen(found));
		scan_set(r, strncmp(name, limits, strlen(limits)) ? SCAN_VIRUS
			 : SCAN_LIMIT, name);
		return CLAMD_ANSWERED;
	}
	if (!strncmp(reply, "INSTREAM size limit exceeded", 28)) {
		scan_set(r, SCAN_LIMIT, "clamd StreamMaxLength");
		return CLAMD_ANSWERED;
	}
	printable(shown, sizeof(shown), reply, len);
	snprintf(why, whylen, "replied \"%s\"", shown);
	return CLAMD_FAILED;
}

/* scan_one - one exchange with server s */
static enum clamd_outcome
scan_one(const struct clamd_pool *p, const struct clamd_server *s,
	 const void *data, size_t len, struct scan_result *r,
	 char *why, size_t whylen)
{
	char reply[CLAMD_REPLY];
	enum clamd_outcome out = CLAMD_FAILED;
	int fd;

	if ((fd = server_connect(p, s, why, whylen)) < 0)
		return CLAMD_FAILED;
	if (send_stream(fd, data, len, p->io_ms, why, whylen) == SEND_FAILED)
		goto done;
	if (read_reply(fd, p->io_ms, reply, sizeof(reply), why, whylen) < 0)
		goto done;
	out = interpret(reply, r, why, whylen);
done:
	close(fd);
	return out;
}

/* mark - record that s failed (down) or answered (up), logging changes */
static void
mark(const struct clamd_pool *p, struct clamd_server *s, int up,
     const char *why)
{
	gint64 was;

	if (up) {
		if (atomic_load(&s->down_until) != 0
		    && atomic_exchange(&s->down_until, 0) != 0) {
			stats_gauge_add(STATS_CLAMD_DOWN, -1);
			stats_gauge_add(STATS_CLAMD_UP, 1);
			log_info("clamd %s: answering again", s->spec);
		}
		return;
	}
	/* never 0, which means up */
	was = atomic_exchange(&s->down_until,
			      g_get_monotonic_time() + (gint64) p->retry_s * G_USEC_PER_SEC + 1);
	if (was == 0) {
		stats_gauge_add(STATS_CLAMD_UP, -1);
		stats_gauge_add(STATS_CLAMD_DOWN, 1);
		log_warn("clamd %s: %s; not used for %us unless all others fail",
			 s->spec, why, p->retry_s);
	}
}

/* clamd_scan - scan len bytes with the first server that answers */
void
clamd_scan(struct clamd_pool *p, const void *data, size_t len,
	   struct scan_result *r)
{
	char why[sizeof(r->name)] = "no clamd server";
	char last[sizeof(r->name)] = "no clamd server";
	unsigned start, pass, i;
	unsigned char *down;
	gint64 now;

	if (p->n == 0) {
		scan_set(r, SCAN_ERROR, why);
		r->server[0] = 0;
		return;
	}
	/* which servers are down is decided once, so that one failing
	 * during this scan is not tried again in the second pass */
	down = g_newa(unsigned char, p->n);
	now = g_get_monotonic_time();
	for (i = 0; i < p->n; i++)
		down[i] = atomic_load(&p->srv[i].down_until) > now;
	start = atomic_fetch_add(&p->next, 1) % p->n;
	/* pass 0: the servers that are up; pass 1: the others */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < p->n; i++) {
			unsigned k = (start + i) % p->n;
			struct clamd_server *s = &p->srv[k];

			if (down[k] != pass)
				continue;
			if (scan_one(p, s, data, len, r, why, sizeof(why)) == CLAMD_ANSWERED) {
				mark(p, s, 1, NULL);
				g_strlcpy(r->server, s->spec, sizeof(r->server));
				return;
			}
			mark(p, s, 0, why);
			/* truncated when long: it is a message */
			g_snprintf(last, sizeof(last), "clamd %s: %s", s->spec, why);
		}
	}
	scan_set(r, SCAN_ERROR, last);
	r->server[0] = 0;
}

/* clamd_version - VERSION to each server in turn until one answers;
 * servers marked down are left alone unless none is up */
int
clamd_version(struct clamd_pool *p, char *out, size_t size, char *server,
	      size_t server_size)
{
	static const char cmd[] = "zVERSION";	/* with its NUL */
	char why[256] = "no clamd server", reply[CLAMD_REPLY];
	gint64 now = g_get_monotonic_time();
	unsigned pass, i;
	int fd;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < p->n; i++) {
			struct clamd_server *s = &p->srv[i];

			if ((atomic_load(&s->down_until) > now) != pass)
				continue;
			if ((fd = server_connect(p, s, why, sizeof(why))) < 0)
				continue;
			if (send_all(fd, cmd, sizeof(cmd), p->io_ms, why, sizeof(why)) != SEND_FAILED
			    && read_reply(fd, p->io_ms, reply, sizeof(reply), why, sizeof(why)) == 0) {
				close(fd);
				printable(out, size, reply, strlen(reply));
				if (server)
					g_strlcpy(server, s->spec, server_size);
				return 0;
			}
			close(fd);
		}
	}
	g_strlcpy(out, why, size);
	return -1;
}
