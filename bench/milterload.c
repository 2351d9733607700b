/*
 * milterload - load a mail filter through the milter protocol, as Postfix
 *
 * usage: milterload [-c conns] [-m msgs] [-p pid]... [-t timeout] [-f sender]
 *		     [-S] [-r rcpt]... [-C addr[,helo]] socket dir|file...
 *
 * Plays the MTA side of version 6 of the Sendmail milter protocol without
 * libmilter: -c threads, each with its own connection to the filter, each
 * sending -m messages taken in turn from the files given (a directory
 * stands for its regular files, sorted by name).  The dialogue is the one
 * Postfix 3.x holds (src/milter/milter8.c, and smtpd's transaction reset):
 *
 *	OPTNEG	version 6, every action Postfix can apply, every step and
 *		reply the filter may negotiate away
 *	CONNECT, HELO			once per connection
 *	MAIL, RCPT..., DATA, a HEADER per field, EOH, BODY chunks of at
 *	most 65535 bytes with CRLF line ends, EOM	per message
 *	ABORT	after every transaction that got past MAIL FROM
 *	QUIT	at the end
 *
 * Each step is preceded by its macros (SMFIC_MACRO), also when the filter
 * negotiated the step itself away, as Postfix does; header fields and body
 * chunks carry the end-of-header and end-of-message macros.  No reply is
 * awaited for a step under SMFIP_NR_*.  Header fields are passed as
 * written, folded lines joined by LF, one leading space removed unless the
 * filter asked for SMFIP_HDR_LEADSPC.
 *
 * Output: key=value lines on standard output, a short summary on standard
 * error.  Exit status 0, 1 after a protocol or connection error (each one
 * is printed), 64 on a usage error.
 *
 * Threading: workers share only the options and the parsed messages, both
 * read-only once the workers start; each keeps its own counters, which
 * main() adds up after pthread_join().
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "measure.h"

#define EX_OK_		0
#define EX_FAIL		1
#define EX_USAGE_	64

/* Commands, MTA to filter. */
#define SMFIC_ABORT	'A'
#define SMFIC_BODY	'B'
#define SMFIC_CONNECT	'C'
#define SMFIC_MACRO	'D'
#define SMFIC_BODYEOB	'E'
#define SMFIC_HELO	'H'
#define SMFIC_HEADER	'L'
#define SMFIC_MAIL	'M'
#define SMFIC_EOH	'N'
#define SMFIC_OPTNEG	'O'
#define SMFIC_QUIT	'Q'
#define SMFIC_RCPT	'R'
#define SMFIC_DATA	'T'

/* Replies, filter to MTA. */
#define SMFIR_ADDRCPT	'+'
#define SMFIR_DELRCPT	'-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_SHUTDOWN	'4'
#define SMFIR_ACCEPT	'a'
#define SMFIR_REPLBODY	'b'
#define SMFIR_CONTINUE	'c'
#define SMFIR_DISCARD	'd'
#define SMFIR_CHGFROM	'e'
#define SMFIR_ADDHEADER	'h'
#define SMFIR_INSHEADER	'i'
#define SMFIR_CHGHEADER	'm'
#define SMFIR_PROGRESS	'p'
#define SMFIR_QUARANTINE 'q'
#define SMFIR_REJECT	'r'
#define SMFIR_SKIP	's'
#define SMFIR_TEMPFAIL	't'
#define SMFIR_REPLYCODE	'y'

/* Actions the filter may ask for (SMFIF_*). */
#define SMFIF_ADDHDRS	0x001UL
#define SMFIF_CHGBODY	0x002UL
#define SMFIF_ADDRCPT	0x004UL
#define SMFIF_DELRCPT	0x008UL
#define SMFIF_CHGHDRS	0x010UL
#define SMFIF_QUARANTINE 0x020UL
#define SMFIF_CHGFROM	0x040UL
#define SMFIF_ADDRCPT_PAR 0x080UL
#define SMFIF_SETSYMLIST 0x100UL

/* Steps the filter may skip, replies it may not send (SMFIP_*). */
#define SMFIP_NOCONNECT	0x000001UL
#define SMFIP_NOHELO	0x000002UL
#define SMFIP_NOMAIL	0x000004UL
#define SMFIP_NORCPT	0x000008UL
#define SMFIP_NOBODY	0x000010UL
#define SMFIP_NOHDRS	0x000020UL
#define SMFIP_NOEOH	0x000040UL
#define SMFIP_NR_HDR	0x000080UL
#define SMFIP_NOUNKNOWN	0x000100UL
#define SMFIP_NODATA	0x000200UL
#define SMFIP_SKIP	0x000400UL
#define SMFIP_RCPT_REJ	0x000800UL
#define SMFIP_NR_CONN	0x001000UL
#define SMFIP_NR_HELO	0x002000UL
#define SMFIP_NR_MAIL	0x004000UL
#define SMFIP_NR_RCPT	0x008000UL
#define SMFIP_NR_DATA	0x010000UL
#define SMFIP_NR_UNKN	0x020000UL
#define SMFIP_NR_EOH	0x040000UL
#define SMFIP_NR_BODY	0x080000UL
#define SMFIP_HDR_LEADSPC 0x100000UL

/* What Postfix offers with milter_protocol = 6. */
#define MTA_VERSION	6
#define MTA_ACTIONS	(SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT \
			| SMFIF_DELRCPT | SMFIF_CHGHDRS | SMFIF_QUARANTINE \
			| SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR | SMFIF_SETSYMLIST)
#define MTA_PROTOCOL	0x1fffffUL	/* every SMFIP_ bit up to HDR_LEADSPC */

/* Macro classes of SMFIR_SETSYMLIST (SMFIM_*). */
enum mstage {
	MS_CONNECT, MS_HELO, MS_MAIL, MS_RCPT, MS_DATA, MS_EOM, MS_EOH,
	MS_COUNT,
};

#define CHUNK_MAX	65535		/* body bytes per SMFIC_BODY */
#define REPLY_MAX	(16 << 20)	/* longest reply packet accepted */
#define FLUSH_AT	65536		/* write out at least this much at once */

/* How a step, or a message, ended. */
enum verdict {
	V_CONTINUE,			/* go on with the next step */
	V_ACCEPT,			/* accepted: no more steps for it */
	V_REJECT,			/* refused, 5xx */
	V_TEMPFAIL,			/* refused for now, 4xx */
	V_DISCARD,			/* accepted and thrown away */
	V_SHUTDOWN,			/* the filter ends the connection (421) */
};

struct buf {
	char *p;
	size_t len, cap;
};

struct header {
	char *name;
	char *value;			/* as written after the colon */
};

struct msgfile {
	char *path;
	struct header *hdrs;
	size_t nhdrs;
	struct buf body;		/* CRLF line ends */
	size_t size;			/* bytes in the file */
};

struct options {
	unsigned conns, msgs;
	long *pids;			/* -p, summed */
	size_t npids;
	int timeout;			/* seconds per read or write */
	const char *sender;
	int declare_size;		/* -S: MAIL FROM gets SIZE= */
	const char **rcpts;
	size_t nrcpts;
	const char *client_addr, *helo;
	char client_name[80];		/* "[addr]", as for an unknown name */
	char hostname[256];
	const char *socket;
	struct msgfile *files;
	size_t nfiles;
};

/* Counters of one worker, added up at the end. */
struct stats {
	unsigned long msgs, accept, reject, tempfail, discard;
	unsigned long quarantine, replbody, rcpt_refused;
	unsigned long hdr_edits, rcpt_edits, from_edits;
	unsigned long conn_accept, conn_refused, unsent;
	unsigned long long bytes_out, bytes_in;
	double *lat;			/* milliseconds, one per message */
	size_t nlat;
};

/* One connection to the filter, as negotiated. */
struct link {
	int fd;
	int timeout;
	unsigned long version, actions, proto;
	char *symlist[MS_COUNT];	/* SMFIR_SETSYMLIST overrides, or NULL */
	struct buf out;			/* packets not yet written */
	struct buf in;			/* bytes read, from in_at on unread */
	size_t in_at;
	struct buf tmp;			/* one command's data */
	int skip_cmd;			/* SMFIR_SKIP: skip these steps */
	char err[512];
};

/* What the filter asked for at end of message. */
struct edits {
	int quarantine, replbody, body_done;
	unsigned hdr, rcpt, from;
};

struct worker {
	unsigned idx;
	const struct options *o;
	struct link lk;
	struct stats st;
	unsigned errors;		/* messages and connections that failed */
	pthread_t tid;
};

struct macro {
	const char *name, *value;
};

static const char *progname = "milterload";

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EX_FAIL);
}

static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n ? n : 1)) == NULL)
		die("out of memory");
	return p;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *d = xrealloc(NULL, n + 1);

	memcpy(d, s, n);
	d[n] = 0;
	return d;
}

static void
buf_grow(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	while (b->len + more > b->cap)
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = xrealloc(b->p, b->cap);
}

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* buf_str - a string with its terminating NUL, as the protocol wants */
static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s) + 1);
}

/*
 * Messages
 */

/* field_colon - where the colon of a field's first line is (name
 * length in *name), or 0 when the line starts no header field */
static size_t
field_colon(const char *p, size_t n, size_t *name)
{
	size_t i = 0;

	while (i < n && p[i] > ' ' && p[i] < 127 && p[i] != ':')
		i++;
	if ((*name = i) == 0)
		return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':' ? i : 0;
}

/* msg_header - one more field; its value grows with continuation lines */
static void
msg_header(struct msgfile *m, const char *line, size_t n, size_t name,
	   size_t colon)
{
	m->hdrs = xrealloc(m->hdrs, (m->nhdrs + 1) * sizeof *m->hdrs);
	m->hdrs[m->nhdrs].name = xstrndup(line, name);
	m->hdrs[m->nhdrs].value = xstrndup(line + colon + 1, n - colon - 1);
	m->nhdrs++;
}

/* msg_fold - a continuation line onto the last field, joined by LF */
static void
msg_fold(struct msgfile *m, const char *line, size_t n)
{
	struct header *h = &m->hdrs[m->nhdrs - 1];
	size_t old = strlen(h->value);

	h->value = xrealloc(h->value, old + n + 2);
	h->value[old] = '\n';
	memcpy(h->value + old + 1, line, n);
	h->value[old + 1 + n] = 0;
}

/*
 * msg_parse - split a message into header fields and a CRLF body
 *
 * LF or CRLF input.  A leading mbox "From " line is dropped.  The header
 * ends at the first empty line, or, as in Postfix, at the first line that
 * is neither a field nor a continuation: that line starts the body.
 */
static void
msg_parse(struct msgfile *m, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	int head = 1;

	if (len > 5 && memcmp(p, "From ", 5) == 0) {
		const char *eol = memchr(p, '\n', len);

		p = eol ? eol + 1 : end;
	}
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t) (end - p));
		const char *next = eol ? eol + 1 : end;
		size_t n = (size_t) ((eol ? eol : end) - p), name, colon;

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (head) {
			if (n == 0) {
				head = 0;
				p = next;
				continue;
			}
			if ((*p == ' ' || *p == '\t') && m->nhdrs > 0) {
				msg_fold(m, p, n);
				p = next;
				continue;
			}
			if ((colon = field_colon(p, n, &name)) != 0) {
				msg_header(m, p, n, name, colon);
				p = next;
				continue;
			}
			head = 0;
		}
		buf_add(&m->body, p, n);
		buf_add(&m->body, "\r\n", 2);
		p = next;
	}
}

/* msg_check - warn of a header field libmilter cannot take: it ends the
 * session on a packet over 64 KiB, and Postfix sends each field whole */
static void
msg_check(const struct msgfile *m)
{
	size_t i, n;

	for (i = 0; i < m->nhdrs; i++) {
		n = strlen(m->hdrs[i].name) + strlen(m->hdrs[i].value) + 3;
		if (n > CHUNK_MAX)
			fprintf(stderr, "%s: warning: %s: header field %s is %zu bytes: "
				"libmilter filters drop the connection on packets "
				"over 65535 bytes\n", progname, m->path,
				m->hdrs[i].name, n);
	}
}

/* msg_load - read and split one file; -1 with errno on failure */
static int
msg_load(struct msgfile *m, const char *path)
{
	struct buf b = {0};
	char chunk[65536];
	size_t n;
	FILE *f;

	memset(m, 0, sizeof *m);
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, n);
	if (ferror(f)) {
		fclose(f);
		free(b.p);
		return -1;
	}
	fclose(f);
	m->path = xstrndup(path, strlen(path));
	m->size = b.len;
	msg_parse(m, b.p ? b.p : "", b.len);
	free(b.p);
	msg_check(m);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* dir_files - the regular files of a directory, sorted; count in *n */
static char **
dir_files(const char *dir, size_t *n)
{
	char **names = NULL, *path;
	struct dirent *e;
	struct stat st;
	DIR *d;

	*n = 0;
	if ((d = opendir(dir)) == NULL)
		die("%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
			die("out of memory");
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			names = xrealloc(names, (*n + 1) * sizeof *names);
			names[(*n)++] = path;
		} else {
			free(path);
		}
	}
	closedir(d);
	qsort(names, *n, sizeof *names, cmp_str);
	return names;
}

/* corpus_add - a file, or every regular file of a directory */
static void
corpus_add(struct options *o, const char *arg)
{
	struct stat st;
	char **names;
	size_t i, n;

	if (stat(arg, &st) < 0)
		die("%s: %s", arg, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		names = dir_files(arg, &n);
	} else {
		names = xrealloc(NULL, sizeof *names);
		names[0] = xstrndup(arg, strlen(arg));
		n = 1;
	}
	o->files = xrealloc(o->files, (o->nfiles + n) * sizeof *o->files);
	for (i = 0; i < n; i++) {
		if (msg_load(&o->files[o->nfiles], names[i]) < 0)
			die("%s: %s", names[i], strerror(errno));
		o->nfiles++;
		free(names[i]);
	}
	free(names);
}

/*
 * Connection and packets
 */

static int __attribute__((format(printf, 2, 3)))
fail(struct link *lk, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lk->err, sizeof lk->err, fmt, ap);
	va_end(ap);
	return -1;
}

/* sock_connect - connect to unix:/path, local:/path, inet:port@host,
 * inet:host:port or inet6:port@host; -1 with lk->err set */
static int
sock_connect(struct link *lk, const char *spec)
{
	struct addrinfo hints = {0}, *ai, *a;
	struct timeval tv = { .tv_sec = lk->timeout };
	char host[256], port[32];
	const char *rest, *at;
	int fd = -1, rc = ECONNREFUSED;

	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0 ||
	    spec[0] == '/') {
		struct sockaddr_un un = { .sun_family = AF_UNIX };

		rest = spec[0] == '/' ? spec : strchr(spec, ':') + 1;
		if (strlen(rest) >= sizeof un.sun_path)
			return fail(lk, "%s: path too long", spec);
		strcpy(un.sun_path, rest);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
		    connect(fd, (struct sockaddr *) &un, sizeof un) < 0) {
			rc = errno;
			if (fd >= 0)
				close(fd);
			return fail(lk, "connect to %s: %s", spec, strerror(rc));
		}
		lk->fd = fd;
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0)
		rest = spec + 5;
	else if (strncmp(spec, "inet6:", 6) == 0)
		rest = spec + 6;
	else
		return fail(lk, "%s: not unix:PATH, inet:PORT@HOST or inet:HOST:PORT",
			    spec);
	if ((at = strchr(rest, '@')) != NULL) {
		snprintf(port, sizeof port, "%.*s", (int) (at - rest), rest);
		snprintf(host, sizeof host, "%s", at + 1);
	} else if ((at = strrchr(rest, ':')) != NULL) {
		snprintf(host, sizeof host, "%.*s", (int) (at - rest), rest);
		snprintf(port, sizeof port, "%s", at + 1);
	} else {
		snprintf(host, sizeof host, "localhost");
		snprintf(port, sizeof port, "%s", rest);
	}
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0)
		return fail(lk, "%s: %s", spec, gai_strerror(rc));
	for (a = ai; a; a = a->ai_next) {
		if ((fd = socket(a->ai_family, SOCK_STREAM, 0)) < 0) {
			rc = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return fail(lk, "connect to %s: %s", spec, strerror(rc));
	lk->fd = fd;
	return 0;
}

/* pkt_open - start a packet: length to come, then the command */
static size_t
pkt_open(struct buf *b, int cmd)
{
	size_t at = b->len;

	buf_grow(b, 5);
	b->len += 4;
	b->p[b->len++] = (char) cmd;
	return at;
}

/* pkt_close - fill in the length of the packet started at at */
static void
pkt_close(struct buf *b, size_t at)
{
	uint32_t n = htonl((uint32_t) (b->len - at - 4));

	memcpy(b->p + at, &n, 4);
}

/* flush - write out every packet queued */
static int
flush(struct link *lk, struct stats *st)
{
	size_t done = 0;
	ssize_t n;

	while (done < lk->out.len) {
		n = send(lk->fd, lk->out.p + done, lk->out.len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(lk, "write: %s", errno == EAGAIN ?
				    "timed out" : strerror(errno));
		done += (size_t) n;
	}
	st->bytes_out += done;
	lk->out.len = 0;
	return 0;
}

/* send_cmd - queue one command with lk->tmp as its data */
static int
send_cmd(struct link *lk, struct stats *st, int cmd)
{
	size_t at = pkt_open(&lk->out, cmd);

	buf_add(&lk->out, lk->tmp.p, lk->tmp.len);
	pkt_close(&lk->out, at);
	return lk->out.len >= FLUSH_AT ? flush(lk, st) : 0;
}

/* fill - have at least need unread bytes in lk->in */
static int
fill(struct link *lk, struct stats *st, size_t need)
{
	ssize_t n;

	while (lk->in.len - lk->in_at < need) {
		if (lk->in_at > 0) {
			memmove(lk->in.p, lk->in.p + lk->in_at, lk->in.len - lk->in_at);
			lk->in.len -= lk->in_at;
			lk->in_at = 0;
		}
		buf_grow(&lk->in, need > 16384 ? need : 16384);
		n = recv(lk->fd, lk->in.p + lk->in.len, lk->in.cap - lk->in.len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(lk, "read: %s", errno == EAGAIN ?
				    "timed out" : strerror(errno));
		if (n == 0)
			return fail(lk, "the filter closed the connection");
		lk->in.len += (size_t) n;
		st->bytes_in += (unsigned long long) n;
	}
	return 0;
}

/* get_reply - flush, then read one packet: *cmd, its data and length */
static int
get_reply(struct link *lk, struct stats *st, int *cmd, const char **data,
	  size_t *len)
{
	uint32_t n;

	if (flush(lk, st) < 0 || fill(lk, st, 4) < 0)
		return -1;
	memcpy(&n, lk->in.p + lk->in_at, 4);
	n = ntohl(n);
	if (n < 1 || n > REPLY_MAX)
		return fail(lk, "bad reply packet length %lu", (unsigned long) n);
	if (fill(lk, st, 4 + (size_t) n) < 0)
		return -1;
	*cmd = (unsigned char) lk->in.p[lk->in_at + 4];
	*data = lk->in.p + lk->in_at + 5;
	*len = n - 1;
	lk->in_at += 4 + (size_t) n;
	return 0;
}

/* symlisted - whether the filter's list for stage s names macro name */
static int
symlisted(const struct link *lk, enum mstage s, const char *name)
{
	const char *l = lk->symlist[s], *p;
	size_t n = strlen(name), bare = n;

	if (l == NULL)
		return 1;
	if (n > 2 && name[0] == '{') {
		name++;
		bare = n - 2;
	}
	for (p = l; *p; ) {
		size_t w;

		while (*p == ' ' || *p == ',')
			p++;
		w = strcspn(p, " ,");
		if (w > 2 && *p == '{' && w - 2 == bare && memcmp(p + 1, name, bare) == 0)
			return 1;
		if (w == bare && w > 0 && memcmp(p, name, bare) == 0)
			return 1;
		p += w;
	}
	return 0;
}

/* send_macros - SMFIC_MACRO for step cmd, what the filter's list allows */
static void
send_macros(struct link *lk, int cmd, enum mstage s, const struct macro *m,
	    size_t n)
{
	size_t at = 0, i, sent = 0;

	for (i = 0; i < n; i++) {
		if (m[i].value == NULL || !symlisted(lk, s, m[i].name))
			continue;
		if (sent++ == 0) {
			at = pkt_open(&lk->out, SMFIC_MACRO);
			buf_add(&lk->out, &(char) { (char) cmd }, 1);
		}
		buf_str(&lk->out, m[i].name);
		buf_str(&lk->out, m[i].value);
	}
	if (sent > 0)
		pkt_close(&lk->out, at);
}

/*
 * Replies
 */

static const char *
reply_name(int cmd)
{
	static char unknown[32];

	switch (cmd) {
	case SMFIR_ADDRCPT: return "ADDRCPT";
	case SMFIR_DELRCPT: return "DELRCPT";
	case SMFIR_ADDRCPT_PAR: return "ADDRCPT_PAR";
	case SMFIR_SHUTDOWN: return "SHUTDOWN";
	case SMFIR_ACCEPT: return "ACCEPT";
	case SMFIR_REPLBODY: return "REPLBODY";
	case SMFIR_CONTINUE: return "CONTINUE";
	case SMFIR_DISCARD: return "DISCARD";
	case SMFIR_CHGFROM: return "CHGFROM";
	case SMFIR_ADDHEADER: return "ADDHEADER";
	case SMFIR_INSHEADER: return "INSHEADER";
	case SMFIR_CHGHEADER: return "CHGHEADER";
	case SMFIR_PROGRESS: return "PROGRESS";
	case SMFIR_QUARANTINE: return "QUARANTINE";
	case SMFIR_REJECT: return "REJECT";
	case SMFIR_SKIP: return "SKIP";
	case SMFIR_TEMPFAIL: return "TEMPFAIL";
	case SMFIR_REPLYCODE: return "REPLYCODE";
	}
	/* only ever printed from one thread before the program ends */
	snprintf(unknown, sizeof unknown, "unknown reply 0x%02x", cmd & 0xff);
	return unknown;
}

/* nstrings - how many NUL-terminated strings data holds exactly; -1 if
 * it does not end in a NUL */
static int
nstrings(const char *data, size_t len)
{
	int n = 0;
	size_t i;

	if (len == 0)
		return 0;
	if (data[len - 1] != 0)
		return -1;
	for (i = 0; i < len; i++)
		n += data[i] == 0;
	return n;
}

/* verdict_of - a final reply as a verdict; -1 for a bad SMFIR_REPLYCODE */
static int
verdict_of(struct link *lk, int cmd, const char *d, size_t len)
{
	if (cmd != SMFIR_REPLYCODE && len != 0)
		return fail(lk, "%s with %zu bytes of data", reply_name(cmd), len);
	switch (cmd) {
	case SMFIR_CONTINUE: return V_CONTINUE;
	case SMFIR_ACCEPT: return V_ACCEPT;
	case SMFIR_REJECT: return V_REJECT;
	case SMFIR_TEMPFAIL: return V_TEMPFAIL;
	case SMFIR_DISCARD: return V_DISCARD;
	case SMFIR_SHUTDOWN: return V_SHUTDOWN;
	}
	/* SMFIR_REPLYCODE: "4xx" or "5xx", then space or dash, as Postfix checks */
	if (len < 5 || d[len - 1] != 0 || (d[0] != '4' && d[0] != '5') ||
	    d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9' ||
	    (d[3] != ' ' && d[3] != '-'))
		return fail(lk, "malformed REPLYCODE \"%.*s\"", (int) len, d);
	return d[0] == '4' ? V_TEMPFAIL : V_REJECT;
}

static int
is_final(int cmd)
{
	return strchr("acdrt4y", cmd) != NULL && cmd != 0;
}

/*
 * step - one step before end of message
 *
 * Its macros, then the command unless the filter negotiated it away
 * (noflag), then the reply unless the filter said it sends none (nrflag).
 * PROGRESS and QUARANTINE may come before the reply, SKIP instead of it.
 * Returns a verdict, V_CONTINUE when nothing was read, or -1.
 */
static int
step(struct link *lk, struct stats *st, int cmd, unsigned long noflag,
     unsigned long nrflag, enum mstage ms, const struct macro *m, size_t nm,
     struct edits *ed)
{
	const char *d;
	size_t len;
	int rcmd;

	if (lk->skip_cmd != 0) {
		if (lk->skip_cmd == cmd)
			return V_CONTINUE;
		lk->skip_cmd = 0;
	}
	send_macros(lk, cmd, ms, m, nm);
	if (lk->proto & noflag)
		return V_CONTINUE;
	if (send_cmd(lk, st, cmd) < 0)
		return -1;
	if (lk->proto & nrflag)
		return V_CONTINUE;
	for (;;) {
		if (get_reply(lk, st, &rcmd, &d, &len) < 0)
			return -1;
		if (rcmd == SMFIR_PROGRESS)
			continue;
		if (rcmd == SMFIR_QUARANTINE) {
			if (!(lk->actions & SMFIF_QUARANTINE))
				return fail(lk, "QUARANTINE not negotiated");
			ed->quarantine = 1;
			continue;
		}
		if (rcmd == SMFIR_SKIP) {
			if (len != 0)
				return fail(lk, "SKIP with %zu bytes of data", len);
			lk->skip_cmd = cmd;
			return V_CONTINUE;
		}
		if (!is_final(rcmd))
			return fail(lk, "%s in reply to step '%c'", reply_name(rcmd), cmd);
		return verdict_of(lk, rcmd, d, len);
	}
}

/* edit - one modification request at end of message, checked and counted */
static int
edit(struct link *lk, int cmd, const char *d, size_t len, struct edits *ed)
{
	static const struct {
		int cmd;
		unsigned long action;
		int min, max;		/* strings after the optional index */
		int index;
	} rules[] = {
		{ SMFIR_ADDHEADER, SMFIF_ADDHDRS, 2, 2, 0 },
		{ SMFIR_INSHEADER, SMFIF_ADDHDRS, 2, 2, 1 },
		{ SMFIR_CHGHEADER, SMFIF_CHGHDRS, 2, 2, 1 },
		{ SMFIR_ADDRCPT, SMFIF_ADDRCPT, 1, 1, 0 },
		{ SMFIR_ADDRCPT_PAR, SMFIF_ADDRCPT_PAR, 1, 2, 0 },
		{ SMFIR_DELRCPT, SMFIF_DELRCPT, 1, 1, 0 },
		{ SMFIR_CHGFROM, SMFIF_CHGFROM, 1, 2, 0 },
		{ SMFIR_QUARANTINE, SMFIF_QUARANTINE, 1, 1, 0 },
		{ SMFIR_REPLBODY, SMFIF_CHGBODY, -1, -1, 0 },
	};
	size_t i;
	int n;

	for (i = 0; i < sizeof rules / sizeof rules[0]; i++)
		if (rules[i].cmd == cmd)
			break;
	if (i == sizeof rules / sizeof rules[0])
		return fail(lk, "%s at end of message", reply_name(cmd));
	if (!(lk->actions & rules[i].action))
		return fail(lk, "%s, an action the filter did not ask for",
			    reply_name(cmd));
	if (cmd == SMFIR_REPLBODY) {
		/* Postfix wants the chunks in one unbroken run */
		if (ed->body_done)
			return fail(lk, "REPLBODY chunks broken up by other requests");
		ed->replbody = 1;
		return 0;
	}
	if (ed->replbody)
		ed->body_done = 1;
	if (rules[i].index) {
		if (len < 4)
			return fail(lk, "%s without an index", reply_name(cmd));
		d += 4;
		len -= 4;
	}
	n = nstrings(d, len);
	if (n < rules[i].min || n > rules[i].max)
		return fail(lk, "%s: malformed data", reply_name(cmd));
	if (cmd == SMFIR_QUARANTINE)
		ed->quarantine = 1;
	else if (cmd == SMFIR_CHGFROM)
		ed->from++;
	else if (rules[i].action & (SMFIF_ADDHDRS | SMFIF_CHGHDRS))
		ed->hdr++;
	else
		ed->rcpt++;
	return 0;
}

/* eom - end of message: requests until the final reply; a verdict or -1 */
static int
eom(struct link *lk, struct stats *st, const struct macro *m, size_t nm,
    struct edits *ed)
{
	const char *d;
	size_t len;
	int cmd;

	send_macros(lk, SMFIC_BODYEOB, MS_EOM, m, nm);
	lk->tmp.len = 0;
	if (send_cmd(lk, st, SMFIC_BODYEOB) < 0)
		return -1;
	for (;;) {
		if (get_reply(lk, st, &cmd, &d, &len) < 0)
			return -1;
		if (cmd == SMFIR_PROGRESS)
			continue;
		if (is_final(cmd))
			return verdict_of(lk, cmd, d, len);
		if (edit(lk, cmd, d, len, ed) < 0)
			return -1;
	}
}

/*
 * The dialogue
 */

/* negotiate - SMFIC_OPTNEG and the filter's answer, symbol lists included */
static int
negotiate(struct link *lk, struct stats *st)
{
	uint32_t v[3];
	const char *d;
	size_t len, i;
	int cmd;

	lk->tmp.len = 0;
	v[0] = htonl(MTA_VERSION);
	v[1] = htonl(MTA_ACTIONS);
	v[2] = htonl(MTA_PROTOCOL);
	buf_add(&lk->tmp, v, sizeof v);
	if (send_cmd(lk, st, SMFIC_OPTNEG) < 0 ||
	    get_reply(lk, st, &cmd, &d, &len) < 0)
		return -1;
	if (cmd != SMFIC_OPTNEG || len < 12)
		return fail(lk, "negotiation: got '%c' with %zu bytes", cmd, len);
	memcpy(v, d, sizeof v);
	lk->version = ntohl(v[0]);
	lk->actions = ntohl(v[1]);
	lk->proto = ntohl(v[2]) & MTA_PROTOCOL;
	if (lk->version < 2 || lk->version > MTA_VERSION)
		return fail(lk, "negotiation: filter speaks version %lu", lk->version);
	if (lk->actions & ~MTA_ACTIONS)
		return fail(lk, "negotiation: actions 0x%lx beyond 0x%lx offered",
			    lk->actions, (unsigned long) MTA_ACTIONS);
	/* older versions know no DATA step (nor, before 3, UNKNOWN) */
	if (lk->version < 4)
		lk->proto |= SMFIP_NODATA;
	for (i = 12; i < len; ) {
		uint32_t stage;
		size_t n;

		if (len - i < 5)
			return fail(lk, "negotiation: truncated symbol list");
		memcpy(&stage, d + i, 4);
		stage = ntohl(stage);
		i += 4;
		n = strnlen(d + i, len - i);
		if (n == len - i)
			return fail(lk, "negotiation: unterminated symbol list");
		if (stage < MS_COUNT) {
			free(lk->symlist[stage]);
			lk->symlist[stage] = xstrndup(d + i, n);
		}
		i += n + 1;
	}
	return 0;
}

/*
 * conn_open - connect, negotiate, CONNECT and HELO
 *
 * Returns 0 to go on with messages, 1 when the filter settled the whole
 * connection at CONNECT or HELO (counted), -1 on error.
 */
static int
conn_open(struct worker *w)
{
	const struct options *o = w->o;
	struct link *lk = &w->lk;
	struct edits ed = {0};
	char under[256];
	uint16_t port = htons((uint16_t) (40000 + w->idx % 20000));
	const struct macro cm[] = {
		{ "j", o->hostname }, { "{daemon_name}", o->hostname },
		{ "{daemon_addr}", "127.0.0.1" }, { "v", "Postfix 3.7 (milterload)" },
		{ "_", under },
	};
	int v;

	snprintf(under, sizeof under, "unknown [%s]", o->client_addr);
	if (sock_connect(lk, o->socket) < 0 || negotiate(lk, &w->st) < 0)
		return -1;
	lk->tmp.len = 0;
	buf_str(&lk->tmp, o->client_name);
	buf_add(&lk->tmp, strchr(o->client_addr, ':') ? "6" : "4", 1);
	buf_add(&lk->tmp, &port, 2);
	buf_str(&lk->tmp, o->client_addr);
	v = step(lk, &w->st, SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN,
		 MS_CONNECT, cm, sizeof cm / sizeof cm[0], &ed);
	if (v == V_DISCARD)		/* not allowed here: Postfix ignores it */
		v = V_CONTINUE;
	if (v == V_CONTINUE) {
		lk->tmp.len = 0;
		buf_str(&lk->tmp, o->helo);
		v = step(lk, &w->st, SMFIC_HELO, SMFIP_NOHELO, SMFIP_NR_HELO,
			 MS_HELO, NULL, 0, &ed);
		if (v == V_DISCARD)
			v = V_CONTINUE;
	}
	if (v < 0)
		return -1;
	if (v == V_CONTINUE)
		return 0;
	if (v == V_ACCEPT)
		w->st.conn_accept++;
	else
		w->st.conn_refused++;
	return 1;
}

/*
 * envelope - MAIL, each RCPT, DATA
 *
 * A refusal at RCPT refuses that recipient; the message is refused when
 * all are.  *mail_refused tells whether MAIL FROM itself was refused,
 * after which Postfix sends no ABORT.
 */
static int
envelope(struct worker *w, const struct msgfile *mf, const char *qid,
	 struct edits *ed, int *mail_refused)
{
	const struct options *o = w->o;
	struct link *lk = &w->lk;
	const struct macro mm[] = {
		{ "i", qid }, { "{mail_addr}", o->sender },
	};
	struct macro rm[] = { { "i", qid }, { "{rcpt_addr}", NULL } };
	const struct macro dm[] = { { "i", qid } };
	size_t i, ok = 0;
	int v, last = V_REJECT;

	lk->tmp.len = 0;
	buf_add(&lk->tmp, "<", 1);
	buf_add(&lk->tmp, o->sender, strlen(o->sender));
	buf_str(&lk->tmp, ">");
	if (o->declare_size) {
		char size[32];

		snprintf(size, sizeof size, "SIZE=%zu", mf->size);
		buf_str(&lk->tmp, size);
	}
	v = step(lk, &w->st, SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, MS_MAIL,
		 mm, 2, ed);
	*mail_refused = v == V_REJECT || v == V_TEMPFAIL;
	if (v != V_CONTINUE)
		return v;
	for (i = 0; i < o->nrcpts; i++) {
		rm[1].value = o->rcpts[i];
		lk->tmp.len = 0;
		buf_add(&lk->tmp, "<", 1);
		buf_add(&lk->tmp, o->rcpts[i], strlen(o->rcpts[i]));
		buf_str(&lk->tmp, ">");
		v = step(lk, &w->st, SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT,
			 MS_RCPT, rm, 2, ed);
		if (v == V_REJECT || v == V_TEMPFAIL) {
			w->st.rcpt_refused++;
			last = v;
			continue;
		}
		if (v != V_CONTINUE)
			return v;
		ok++;
	}
	if (ok == 0)
		return last;
	lk->tmp.len = 0;
	return step(lk, &w->st, SMFIC_DATA, SMFIP_NODATA, SMFIP_NR_DATA, MS_DATA,
		    dm, 1, ed);
}

/* content - each header field, EOH, the body in chunks, EOM */
static int
content(struct worker *w, const struct msgfile *mf, const char *qid,
	struct edits *ed)
{
	struct link *lk = &w->lk;
	const struct macro im[] = { { "i", qid } };
	size_t i, off, n;
	int v;

	for (i = 0; i < mf->nhdrs && !(lk->proto & SMFIP_NOHDRS); i++) {
		const char *val = mf->hdrs[i].value;

		if (!(lk->proto & SMFIP_HDR_LEADSPC) && *val == ' ')
			val++;
		lk->tmp.len = 0;
		buf_str(&lk->tmp, mf->hdrs[i].name);
		buf_str(&lk->tmp, val);
		v = step(lk, &w->st, SMFIC_HEADER, SMFIP_NOHDRS, SMFIP_NR_HDR,
			 MS_EOH, im, 1, ed);
		if (v != V_CONTINUE)
			return v;
	}
	if (!(lk->proto & SMFIP_NOEOH)) {
		lk->tmp.len = 0;
		v = step(lk, &w->st, SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH, MS_EOH,
			 im, 1, ed);
		if (v != V_CONTINUE)
			return v;
	}
	for (off = 0; off < mf->body.len && !(lk->proto & SMFIP_NOBODY); off += n) {
		n = mf->body.len - off > CHUNK_MAX ? CHUNK_MAX : mf->body.len - off;
		lk->tmp.len = 0;
		buf_add(&lk->tmp, mf->body.p + off, n);
		v = step(lk, &w->st, SMFIC_BODY, SMFIP_NOBODY, SMFIP_NR_BODY,
			 MS_EOM, im, 1, ed);
		if (v != V_CONTINUE)
			return v;
		if (lk->skip_cmd == SMFIC_BODY)
			break;
	}
	lk->skip_cmd = 0;
	return eom(lk, &w->st, im, 1, ed);
}

/* tally - count one message's outcome */
static void
tally(struct stats *st, int v, const struct edits *ed, double ms)
{
	st->msgs++;
	st->lat[st->nlat++] = ms;
	switch (v) {
	case V_CONTINUE:
	case V_ACCEPT: st->accept++; break;
	case V_REJECT: st->reject++; break;
	case V_DISCARD: st->discard++; break;
	default: st->tempfail++; break;		/* tempfail, shutdown */
	}
	st->quarantine += ed->quarantine != 0;
	st->replbody += ed->replbody != 0;
	st->hdr_edits += ed->hdr;
	st->rcpt_edits += ed->rcpt;
	st->from_edits += ed->from;
}

/* transaction - one message, MAIL to EOM, then ABORT; 1 when the filter
 * ended the connection, -1 on error */
static int
transaction(struct worker *w, const struct msgfile *mf, unsigned seq)
{
	struct link *lk = &w->lk;
	struct edits ed = {0};
	char qid[24];
	double t0 = now_ms();
	int v, mail_refused = 0;

	snprintf(qid, sizeof qid, "%04X%06X", w->idx & 0xffff, seq & 0xffffff);
	lk->skip_cmd = 0;
	v = envelope(w, mf, qid, &ed, &mail_refused);
	if (v == V_CONTINUE)
		v = content(w, mf, qid, &ed);
	if (v < 0)
		return -1;
	tally(&w->st, v, &ed, now_ms() - t0);
	if (v == V_SHUTDOWN)
		return 1;
	if (!mail_refused) {
		lk->tmp.len = 0;
		if (send_cmd(lk, &w->st, SMFIC_ABORT) < 0)
			return -1;
	}
	return 0;
}

/* conn_close - QUIT when the dialogue is in step, close, forget the
 * negotiation */
static void
conn_close(struct worker *w, int quit)
{
	struct link *lk = &w->lk;
	int i;

	if (lk->fd < 0)
		return;
	if (quit) {
		lk->tmp.len = 0;
		if (send_cmd(lk, &w->st, SMFIC_QUIT) == 0)
			flush(lk, &w->st);
	}
	close(lk->fd);
	lk->fd = -1;
	lk->out.len = lk->in.len = lk->in_at = 0;
	lk->skip_cmd = 0;
	for (i = 0; i < MS_COUNT; i++) {
		free(lk->symlist[i]);
		lk->symlist[i] = NULL;
	}
}

/*
 * worker_run - one connection's messages, then QUIT
 *
 * After an error in a message the connection is closed and a new one
 * opened for the next message, as an MTA does for its next session; an
 * error while opening one ends the worker.
 */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	const struct options *o = w->o;
	unsigned j;
	size_t f;
	int rc = 0;

	w->lk.fd = -1;
	w->lk.timeout = o->timeout;
	w->st.lat = xrealloc(NULL, (o->msgs ? o->msgs : 1) * sizeof *w->st.lat);
	for (j = 0; j < o->msgs; j++) {
		if (w->lk.fd < 0 && (rc = conn_open(w)) != 0) {
			if (rc < 0)
				fprintf(stderr, "%s: connection %u: %s\n", progname,
					w->idx + 1, w->lk.err);
			break;
		}
		f = ((size_t) w->idx * o->msgs + j) % o->nfiles;
		if ((rc = transaction(w, &o->files[f], j)) > 0) {
			j++;
			break;
		}
		if (rc < 0) {
			fprintf(stderr, "%s: connection %u, message %u (%s): %s\n",
				progname, w->idx + 1, j + 1, o->files[f].path,
				w->lk.err);
			w->errors++;
			conn_close(w, 0);
		}
	}
	if (rc < 0)
		w->errors += j < o->msgs;
	w->st.unsent = o->msgs - j;
	conn_close(w, rc == 0);
	return NULL;
}

/*
 * The filter process and the report
 */

/* proc_cpu - user+system CPU seconds of the whole process; -1 if gone */
static double
proc_cpu(long pid)
{
	char path[64], line[4096], *p;
	unsigned long long ut, st;
	size_t n;
	FILE *f;
	int i;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(line, 1, sizeof line - 1, f);
	fclose(f);
	line[n] = 0;
	/* the name in parentheses may hold spaces: fields count from ')' */
	if ((p = strrchr(line, ')')) == NULL)
		return -1;
	p++;
	for (i = 3; i < 14 && p; i++)		/* to field 14, utime */
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, "%llu %llu", &ut, &st) != 2)
		return -1;
	return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

/* pids_cpu - CPU seconds of every -p process together; -1 if one is gone */
static double
pids_cpu(const struct options *o)
{
	double sum = 0, c;
	size_t i;

	for (i = 0; i < o->npids; i++) {
		if ((c = proc_cpu(o->pids[i])) < 0)
			return -1;
		sum += c;
	}
	return sum;
}

/* proc_kb - a "Key:   N kB" line of /proc/PID/status, or -1 */
static long
proc_kb(long pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			kb = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* pids_kb - proc_kb() summed over every -p process */
static long
pids_kb(const struct options *o, const char *key)
{
	long sum = 0, kb;
	size_t i;

	for (i = 0; i < o->npids; i++)
		if ((kb = proc_kb(o->pids[i], key)) > 0)
			sum += kb;
	return sum;
}

/* sum_stats - add every worker's counters into the first, latencies too */
static void
sum_stats(struct stats *t, struct worker *w, unsigned n)
{
	size_t all = 0;
	unsigned i;

	memset(t, 0, sizeof *t);
	for (i = 0; i < n; i++)
		all += w[i].st.nlat;
	t->lat = xrealloc(NULL, (all ? all : 1) * sizeof *t->lat);
	for (i = 0; i < n; i++) {
		const struct stats *s = &w[i].st;

		t->msgs += s->msgs;
		t->accept += s->accept;
		t->reject += s->reject;
		t->tempfail += s->tempfail;
		t->discard += s->discard;
		t->quarantine += s->quarantine;
		t->replbody += s->replbody;
		t->rcpt_refused += s->rcpt_refused;
		t->hdr_edits += s->hdr_edits;
		t->rcpt_edits += s->rcpt_edits;
		t->from_edits += s->from_edits;
		t->conn_accept += s->conn_accept;
		t->conn_refused += s->conn_refused;
		t->unsent += s->unsent;
		t->bytes_out += s->bytes_out;
		t->bytes_in += s->bytes_in;
		memcpy(t->lat + t->nlat, s->lat, s->nlat * sizeof *s->lat);
		t->nlat += s->nlat;
	}
	qsort(t->lat, t->nlat, sizeof *t->lat, cmp_double);
}

/* report - key=value lines on stdout, a summary on stderr */
static void
report(const struct options *o, const struct stats *t, const struct link *lk,
       double secs, double cpu, unsigned errors)
{
	double rate = secs > 0 ? (double) t->msgs / secs : 0;
	double p50 = pctl(t->lat, t->nlat, 50), p99 = pctl(t->lat, t->nlat, 99);
	double max = t->nlat ? t->lat[t->nlat - 1] : 0;

	printf("connections=%u\nmessages=%lu\nunsent=%lu\nerrors=%u\n",
	       o->conns, t->msgs, t->unsent, errors);
	printf("elapsed_s=%.3f\nmsgs_per_s=%.1f\n", secs, rate);
	printf("latency_p50_ms=%.3f\nlatency_p99_ms=%.3f\nlatency_max_ms=%.3f\n",
	       p50, p99, max);
	printf("accept=%lu\nreject=%lu\ntempfail=%lu\ndiscard=%lu\n",
	       t->accept, t->reject, t->tempfail, t->discard);
	printf("quarantine=%lu\nreplbody=%lu\nrcpt_refused=%lu\n",
	       t->quarantine, t->replbody, t->rcpt_refused);
	printf("header_edits=%lu\nrcpt_edits=%lu\nfrom_edits=%lu\n",
	       t->hdr_edits, t->rcpt_edits, t->from_edits);
	printf("conn_accept=%lu\nconn_refused=%lu\n", t->conn_accept,
	       t->conn_refused);
	printf("bytes_sent=%llu\nbytes_received=%llu\n", t->bytes_out,
	       t->bytes_in);
	if (lk->version)
		printf("filter_version=%lu\nfilter_actions=0x%lx\nfilter_protocol=0x%lx\n",
		       lk->version, lk->actions, lk->proto);
	if (o->npids > 0) {
		size_t i;

		printf("filter_pid=");
		for (i = 0; i < o->npids; i++)
			printf("%s%ld", i ? "," : "", o->pids[i]);
		putchar('\n');
		if (cpu >= 0)
			printf("filter_cpu_s=%.3f\nfilter_cpu_ms_per_msg=%.4f\n", cpu,
			       t->msgs ? cpu * 1e3 / (double) t->msgs : 0.0);
		printf("filter_vmhwm_kb=%ld\nfilter_vmrss_kb=%ld\n",
		       pids_kb(o, "VmHWM"), pids_kb(o, "VmRSS"));
	}
	fflush(stdout);
	fprintf(stderr, "%s: %lu messages over %u connection%s in %.2f s: %.0f msg/s; "
		"latency p50 %.2f ms, p99 %.2f ms\n", progname, t->msgs,
		o->conns, o->conns == 1 ? "" : "s", secs, rate, p50, p99);
	fprintf(stderr, "%s: %lu accept, %lu reject, %lu tempfail, %lu discard, "
		"%lu quarantine, %lu body replaced", progname, t->accept,
		t->reject, t->tempfail, t->discard, t->quarantine, t->replbody);
	if (t->unsent || errors)
		fprintf(stderr, "; %lu not sent, %u errors", t->unsent, errors);
	fputc('\n', stderr);
	if (o->npids > 0 && cpu >= 0)
		fprintf(stderr, "%s: filter: %.2f s CPU, %.3f ms per message, "
			"RSS %ld kB (peak %ld kB)\n", progname, cpu,
			t->msgs ? cpu * 1e3 / (double) t->msgs : 0.0,
			pids_kb(o, "VmRSS"), pids_kb(o, "VmHWM"));
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: %s [-c conns] [-m msgs] [-p pid]... [-t timeout] "
		"[-f sender] [-S] [-r rcpt]... [-C addr[,helo]] socket dir|file...\n",
		progname);
	exit(EX_USAGE_);
}

/* number - a decimal option value within [min, max], or usage */
static long
number(const char *s, long min, long max, char opt)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "%s: -%c: %s: not a number from %ld to %ld\n",
			progname, opt, s, min, max);
		usage();
	}
	return v;
}

/* parse_args - options into o; every file is read and split here */
static void
parse_args(struct options *o, int argc, char **argv)
{
	char *comma;
	int c;

	o->conns = 1;
	o->msgs = 100;
	o->timeout = 300;
	o->sender = "sender@example.com";
	o->client_addr = "192.0.2.1";
	o->helo = "client.example.com";
	while ((c = getopt(argc, argv, "c:m:p:t:f:Sr:C:h")) != -1) {
		switch (c) {
		case 'c': o->conns = (unsigned) number(optarg, 1, 10000, 'c'); break;
		case 'm': o->msgs = (unsigned) number(optarg, 0, 100000000, 'm'); break;
		case 'p':
			o->pids = xrealloc(o->pids, (o->npids + 1) * sizeof *o->pids);
			o->pids[o->npids++] = number(optarg, 1, 0x7fffffff, 'p');
			break;
		case 't': o->timeout = (int) number(optarg, 1, 86400, 't'); break;
		case 'f': o->sender = optarg; break;
		case 'S': o->declare_size = 1; break;
		case 'r':
			o->rcpts = xrealloc(o->rcpts, (o->nrcpts + 1) * sizeof *o->rcpts);
			o->rcpts[o->nrcpts++] = optarg;
			break;
		case 'C':
			o->client_addr = optarg;
			if ((comma = strchr(optarg, ',')) != NULL) {
				*comma = 0;
				o->helo = comma + 1;
			}
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2)
		usage();
	if (o->nrcpts == 0) {
		o->rcpts = xrealloc(NULL, sizeof *o->rcpts);
		o->rcpts[o->nrcpts++] = "recipient@example.org";
	}
	for (c = 0; (size_t) c < o->npids; c++)
		if (proc_cpu(o->pids[c]) < 0) {
			fprintf(stderr, "%s: -p %ld: no such process\n", progname,
				o->pids[c]);
			exit(EX_USAGE_);
		}
	snprintf(o->client_name, sizeof o->client_name, "[%s]", o->client_addr);
	if (gethostname(o->hostname, sizeof o->hostname - 1) < 0)
		strcpy(o->hostname, "localhost");
	o->socket = argv[optind++];
	for (; optind < argc; optind++)
		corpus_add(o, argv[optind]);
	if (o->nfiles == 0)
		die("no messages to send");
}

/* main - read the messages, run the workers, print the report */
int
main(int argc, char **argv)
{
	struct options o = {0};
	struct worker *w;
	struct stats total;
	double t0, secs, cpu0 = 0, cpu = -1;
	unsigned i, errors = 0, first = 0;
	int rc;

	parse_args(&o, argc, argv);
	w = xrealloc(NULL, o.conns * sizeof *w);
	memset(w, 0, o.conns * sizeof *w);
	if (o.npids > 0)
		cpu0 = pids_cpu(&o);
	t0 = now_ms();
	for (i = 0; i < o.conns; i++) {
		w[i].idx = i;
		w[i].o = &o;
		if ((rc = pthread_create(&w[i].tid, NULL, worker_run, &w[i])) != 0)
			die("pthread_create: %s", strerror(rc));
	}
	for (i = 0; i < o.conns; i++)
		pthread_join(w[i].tid, NULL);
	secs = (now_ms() - t0) / 1e3;
	if (o.npids > 0 && (cpu = pids_cpu(&o)) >= 0)
		cpu -= cpu0;
	for (i = 0; i < o.conns; i++) {
		errors += w[i].errors;
		if (w[first].lk.version == 0)
			first = i;
	}
	sum_stats(&total, w, o.conns);
	report(&o, &total, &w[first].lk, secs, cpu, errors);
	return errors ? EX_FAIL : EX_OK_;
}
