/*
 * offline - the chain on one message from standard input or a buffer
 */
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "chain.h"
#include "final.h"
#include "log.h"
#include "mime.h"
#include "offline.h"
#include "policy.h"

struct offline {
	const struct offline_args *args;
	struct msg *m;
	GString *deferred;	/* " deferred=<addr>:code:xcode" per recipient
				 * refused with a 4xx reply */
};

static const char *
off_macro(struct conn *c, const char *name)
{
	struct offline *o = c->mta;

	if (!strcmp(name, "i"))
		return o->m ? o->m->queue_id : NULL;
	if (!strcmp(name, "{auth_authen}"))
		return o->args->auth;
	return NULL;
}

/*
 * The input: a buffer (offline_run_buffer), standard input itself when it
 * is a regular file, or else standard input gathered in a spool (memory up
 * to body-memory-limit, then an unlinked file in spool-dir).  It is read a
 * chunk at a time, so that a large message is never held whole in memory,
 * as the daemon never holds it.
 */
#define CHUNK 65536

struct input {
	const guchar *mem;	/* the buffer, or NULL */
	int fd;			/* else this file, from start */
	gsize start;
	gsize len;
	struct spool spool;	/* standard input, when gathered */
	int spooled;
};

/* input_read - n bytes (fewer at the end) from offset off; -1 on error */
static gssize
input_read(const struct input *in, gsize off, void *buf, gsize n)
{
	if (off >= in->len)
		return 0;
	n = MIN(n, in->len - off);
	if (in->mem) {
		memcpy(buf, in->mem + off, n);
		return n;
	}
	return spool_pread(in->fd, buf, n, (off_t) (in->start + off));
}

/* input_stdin - standard input as an input; -1 (errno) on failure */
static int
input_stdin(struct input *in, const struct snapshot *s)
{
	struct stat st;
	off_t at;
	guchar buf[CHUNK];
	ssize_t n;

	memset(in, 0, sizeof(*in));
	in->fd = -1;
	if (fstat(0, &st) == 0 && S_ISREG(st.st_mode) && (at = lseek(0, 0, SEEK_CUR)) >= 0
	    && at <= st.st_size) {
		in->fd = 0;
		in->start = at;
		in->len = st.st_size - at;
		return 0;
	}
	spool_init(&in->spool, conf_str(&s->main, "spool-dir"),
		   conf_num(&s->main, "body-memory-limit"));
	in->spooled = 1;
	while ((n = read(0, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || spool_append(&in->spool, buf, n) < 0)
			return -1;
	}
	in->len = in->spool.len;
	if (spool_memory(&in->spool))
		in->mem = spool_memory(&in->spool)->data ? spool_memory(&in->spool)->data
			: (const guchar *) "";
	else
		in->fd = spool_fd(&in->spool);
	return 0;
}

/* input_free - what input_stdin() gathered */
static void
input_free(struct input *in)
{
	if (in->spooled)
		spool_free(&in->spool);
}

/* input_copy - bytes [from, to) of the input to fp */
static void
input_copy(const struct input *in, gsize from, gsize to, FILE *fp)
{
	guchar buf[CHUNK];
	gssize n;

	for (; from < to && (n = input_read(in, from, buf, MIN(sizeof(buf), to - from))) > 0;
	     from += n)
		fwrite(buf, 1, n, fp);
}

/* to_crlf - the input from offset from with every line ending made CRLF,
 * as on the wire, into wire (a spool); -1 on failure */
static int
to_crlf(const struct input *in, gsize from, struct spool *wire)
{
	guchar buf[CHUNK], out[2 * CHUNK];
	int prev_cr = 0;
	gssize n, i;
	gsize o;

	for (; (n = input_read(in, from, buf, sizeof(buf))) > 0; from += n) {
		for (i = 0, o = 0; i < n; i++) {
			if (buf[i] == '\n' && !prev_cr)
				out[o++] = '\r';
			out[o++] = buf[i];
			prev_cr = buf[i] == '\r';
		}
		if (spool_append(wire, out, o) < 0)
			return -1;
	}
	return n < 0 ? -1 : 0;
}

/* has_cr - whether the input holds a CR */
static int
has_cr(const struct input *in)
{
	guchar buf[CHUNK];
	gsize off = 0;
	gssize n;

	for (; (n = input_read(in, off, buf, sizeof(buf))) > 0; off += n)
		if (memchr(buf, '\r', n))
			return 1;
	return 0;
}

/* header_bound - where GMime's header block ends at the latest: after
 * the first empty line (a field cannot go on past it), else the end */
static gsize
header_bound(struct spool *wire)
{
	guchar buf[3 + CHUNK];
	gsize off = 0, keep = 0;	/* buf: the keep bytes before off, then more */
	gssize n;

	if (spool_read(wire, 0, buf, 2) == 2 && !memcmp(buf, "\r\n", 2))
		return 2;
	while ((n = spool_read(wire, off, buf + keep, CHUNK)) > 0) {
		gsize have = keep + n;
		const guchar *e = memmem(buf, have, "\r\n\r\n", 4);

		if (e)
			return off - keep + (e - buf) + 4;
		off += n;
		keep = MIN(have, 3);
		memmove(buf, buf + have - keep, keep);
	}
	return wire->len;
}

/*
 * feed_message - header fields and body, as an MTA passes them.  GMime
 * reads the header block only (the stream ends at header_bound()), which
 * is all it is asked for; the body goes to the message's spool a chunk at
 * a time.
 */
static void
feed_message(struct msg *m, struct spool *wire)
{
	gsize bound = header_bound(wire), hlen, body = 0, off;
	GMimeStream *all = mime_spool_stream(wire);
	GMimeStream *st = g_mime_stream_substream(all, 0, bound);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GPtrArray *hdrs;
	GMimeMessage *msg;
	gint64 end = -1;
	guchar *head, buf[CHUNK];
	gssize n;
	guint i;

	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	hdrs = mime_fields_collect(p);
	msg = g_mime_parser_construct_message(p, NULL);
	if (msg) {
		end = g_mime_parser_get_headers_end(p);
		g_object_unref(msg);
	}
	/* the header block is the run of fields GMime reports, each right
	 * after the one before; where a line is no header field (GMime skips
	 * it), the body begins, as an MTA sees it */
	hlen = MIN(bound + 2, wire->len);
	head = g_malloc(hlen + 1);
	hlen = MAX(spool_read(wire, 0, head, hlen), 0);
	for (i = 0; i < hdrs->len; i++) {
		struct mime_field *h = g_ptr_array_index(hdrs, i);

		if ((end >= 0 && h->offset >= end) || (gsize) h->offset != body)
			break;
		msg_header(m, h->name, h->value);
		body = mime_field_end(head, hlen, body);
	}
	msg_end_headers(m);
	if (body > wire->len)
		body = wire->len;
	if (body + 2 <= hlen && !memcmp(head + body, "\r\n", 2))
		body += 2;
	g_free(head);
	for (off = body; (n = spool_read(wire, off, buf, sizeof(buf))) > 0; off += n)
		msg_body(m, buf, n);
	if (body == wire->len)
		msg_body(m, "", 0);
	m->size = wire->len;
	g_ptr_array_free(hdrs, TRUE);
	g_object_unref(p);
	g_object_unref(st);
	g_object_unref(all);
}

/* The output of sinkd -t, written as it goes: with lf_only, each CRLF
 * becomes LF, a CR at the end of one piece waiting for the next. */
struct outw {
	FILE *fp;
	int lf_only;
	int cr;			/* a CR is held */
};

/* outw_put - n bytes of the result */
static void
outw_put(struct outw *w, const guchar *p, gsize n)
{
	const guchar *end = p + n, *cr;

	if (!w->lf_only) {
		fwrite(p, 1, n, w->fp);
		return;
	}
	if (w->cr && n > 0) {
		if (*p != '\n')
			putc('\r', w->fp);
		w->cr = 0;
	}
	while (p < end) {
		if ((cr = memchr(p, '\r', end - p)) == NULL) {
			fwrite(p, 1, end - p, w->fp);
			return;
		}
		fwrite(p, 1, cr - p, w->fp);
		if (cr + 1 == end) {
			w->cr = 1;
			return;
		}
		if (cr[1] != '\n')
			putc('\r', w->fp);
		p = cr + 1;
	}
}

/* write_result - the message with edits applied, in the input's endings */
static void
write_result(struct msg *m, const struct input *in, gsize from_line, int lf_only,
	     FILE *fp)
{
	struct outw w = {fp, lf_only, 0};
	guchar buf[CHUNK];
	GPtrArray *h;
	gsize len, off;
	gssize n;
	guint i;
	const guchar *data;

	if (edits_count(&m->edits) == 0) {
		input_copy(in, 0, in->len, fp);
		return;
	}
	input_copy(in, 0, from_line, fp);
	h = final_headers(m);
	for (i = 0; i < h->len; i++) {
		const char *l = g_ptr_array_index(h, i);

		outw_put(&w, (const guchar *) l, strlen(l));
		outw_put(&w, (const guchar *) "\r\n", 2);
	}
	outw_put(&w, (const guchar *) "\r\n", 2);
	if (m->edits.body) {
		data = g_bytes_get_data(m->edits.body, &len);
		outw_put(&w, data, len);
	} else {
		for (off = m->body_offset; (n = spool_read(&m->spool, off, buf, sizeof(buf))) > 0;
		     off += n)
			outw_put(&w, buf, n);
	}
	if (w.cr)
		putc('\r', fp);
	g_ptr_array_free(h, TRUE);
}

/* quote - text="..." safe on one line */
static char *
quote(const char *s)
{
	GString *o = g_string_new("\"");

	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			g_string_append_c(o, '\\');
		if (*s == '\n')
			g_string_append(o, "\\n");
		else
			g_string_append_c(o, *s);
	}
	g_string_append_c(o, '"');
	return g_string_free(o, FALSE);
}

/* envelope - the sender and recipients after edits */
static char *
envelope(struct msg *m)
{
	GPtrArray *r = g_ptr_array_new_with_free_func(g_free);
	const char *from = m->sender;
	GString *o = g_string_new(NULL);
	guint i, j;

	for (i = 0; i < m->rcpts->len; i++)
		g_ptr_array_add(r, g_strdup(((struct rcpt *) g_ptr_array_index(m->rcpts, i))->addr));
	for (i = 0; i < m->edits.list->len; i++) {
		struct edit *e = g_ptr_array_index(m->edits.list, i);

		if (e->kind == EDIT_ADD_RCPT)
			g_ptr_array_add(r, g_strdup(e->name));
		else if (e->kind == EDIT_CHANGE_FROM)
			from = e->name;
		else if (e->kind == EDIT_DEL_RCPT)
			for (j = 0; j < r->len; j++)
				if (!g_ascii_strcasecmp(g_ptr_array_index(r, j), e->name)) {
					g_ptr_array_remove_index(r, j);
					break;
				}
	}
	g_string_append_printf(o, "from=<%s> rcpts=", from);
	for (i = 0; i < r->len; i++)
		g_string_append_printf(o, "%s<%s>", i ? "," : "", (char *) g_ptr_array_index(r, i));
	g_ptr_array_free(r, TRUE);
	return g_string_free(o, FALSE);
}

/* edit_what - one edit, as the verdict line's changed= names it */
static void
edit_what(GString *o, const struct edit *e)
{
	static const char *const mark[] = {
		[EDIT_ADD_HEADER] = "+", [EDIT_INSERT_HEADER] = "+",
		[EDIT_CHANGE_HEADER] = "~", [EDIT_ADD_RCPT] = "+rcpt",
		[EDIT_DEL_RCPT] = "-rcpt", [EDIT_CHANGE_FROM] = "~from",
	};
	int header = e->kind == EDIT_ADD_HEADER || e->kind == EDIT_INSERT_HEADER
		|| e->kind == EDIT_CHANGE_HEADER;

	g_string_append_printf(o, "%s%s:%s%s", o->len ? "," : "", e->by ? e->by : "sinkd",
			       e->kind == EDIT_CHANGE_HEADER && e->value == NULL ? "-"
			       : mark[e->kind], header ? e->name : "");
}

/* changed - what the edits change, each "handler:what" (+Name added,
 * ~Name changed, -Name removed, +rcpt/-rcpt a recipient added or
 * removed, ~from the sender changed, body), or "no" */
static char *
changed(const struct msg *m)
{
	GString *o = g_string_new(NULL);
	guint i;

	for (i = 0; i < m->edits.list->len; i++)
		edit_what(o, g_ptr_array_index(m->edits.list, i));
	if (m->edits.body)
		g_string_append_printf(o, "%s%s:body", o->len ? "," : "",
				       m->edits.body_by ? m->edits.body_by : "sinkd");
	if (o->len == 0)
		g_string_append(o, "no");
	return g_string_free(o, FALSE);
}

/*
 * report - the verdict line on standard error: the verdict with its reply
 * (or handler), the number of edits, the recipients refused (a 4xx one
 * named with the reply's codes), the envelope after edits, the direction
 * and policy, what changed, the handler whose release let the message
 * through, and what the handlers noted (msg_note(): virus=, quarantine=
 * DIR or hold, rewrite=replaced:FILE, disclaimer=added...); always in this
 * order, so that the line can be parsed
 */
static void
report(struct conn *c, struct msg *m, enum verdict v, const GString *deferred,
       FILE *fp)
{
	int refused = v == VERDICT_REJECT || v == VERDICT_TEMPFAIL;
	char *text = quote(c->reply.text), *env = m ? envelope(m) : g_strdup("");
	char *what = m ? changed(m) : NULL, *pol = NULL;
	GString *o = g_string_new(NULL);

	if (m)
		pol = policy_describe(m->policy ? m->policy : m->mail_policy, m->outbound);

	/* one write: lines other threads log (a co-process worker's
	 * standard error) cannot land inside it */
	if (refused)
		g_string_append_printf(o, "verdict=%s code=%s xcode=%s handler=%s text=%s",
				       verdict_name(v), c->reply.code, c->reply.xcode,
				       c->decided_by, text);
	else if (v == VERDICT_CONTINUE)
		g_string_append(o, "verdict=accept");
	else
		g_string_append_printf(o, "verdict=%s handler=%s", verdict_name(v), c->decided_by);
	g_string_append_printf(o, " edits=%u", m ? edits_count(&m->edits) : 0);
	if (m && m->rcpts_rejected)
		g_string_append_printf(o, " rcpts-rejected=%u", m->rcpts_rejected);
	g_string_append_printf(o, "%s %s", deferred->str, env);
	if (m) {
		g_string_append_printf(o, " %s changed=%s", pol, what);
		if (m->released)
			g_string_append_printf(o, " released=%s", m->released);
		if (m->notes)
			g_string_append(o, m->notes->str);
	}
	g_string_append_c(o, '\n');
	fwrite(o->str, 1, o->len, fp);
	fflush(fp);
	g_string_free(o, TRUE);
	g_free(text);
	g_free(env);
	g_free(what);
	g_free(pol);
}

static int run(struct snapshot *s, const struct offline_args *a, struct input *in,
	       FILE *out, FILE *err);

/* scratch_new - a directory of sinkd -t's own under $TMPDIR (or /tmp),
 * made $TMPDIR for what it runs; g_free(), or NULL (errno) */
static char *
scratch_new(void)
{
	const char *base = g_getenv("TMPDIR");
	char *dir = g_build_filename(base && *base ? base : "/tmp", "sinkd-t.XXXXXX", NULL);

	if (g_mkdtemp(dir) == NULL) {
		g_free(dir);
		return NULL;
	}
	g_setenv("TMPDIR", dir, TRUE);
	return dir;
}

/* scratch_free - remove dir and whatever is left under it */
static void
scratch_free(char *dir)
{
	GDir *d;
	const char *name;
	char *path;

	if (dir == NULL)
		return;
	if ((d = g_dir_open(dir, 0, NULL)) != NULL) {
		while ((name = g_dir_read_name(d)) != NULL) {
			path = g_build_filename(dir, name, NULL);
			if (g_file_test(path, G_FILE_TEST_IS_DIR)
			    && !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
				scratch_free(g_strdup(path));
			else
				unlink(path);
			g_free(path);
		}
		g_dir_close(d);
	}
	rmdir(dir);
	g_free(dir);
}

/*
 * offline_run - standard input through the chain, after the handlers'
 * configure hooks; the exit status.  A dry run: spool files, libclamav's
 * and every other temporary file go to a directory of its own, removed
 * at the end, and the handlers are told (conn->dry_run) to store and
 * spend nothing, unless a->quarantine asks for the quarantine for real.
 */
int
offline_run(struct snapshot *s, const struct offline_args *a)
{
	struct input in;
	char *scratch = scratch_new();
	int rc;

	if (scratch == NULL) {
		log_error("cannot make a temporary directory: %s", g_strerror(errno));
		return 75;	/* EX_TEMPFAIL */
	}
	conf_set(&s->main, "spool-dir", scratch);
	/* a handler that could not get ready fails each message by its
	 * on-error, as in the daemon */
	handler_configure(s, 1);
	if (input_stdin(&in, s) < 0) {
		log_error("cannot read the message: %s", g_strerror(errno));
		input_free(&in);
		rc = 75;	/* EX_TEMPFAIL */
	} else {
		rc = run(s, a, &in, stdout, stderr);
		input_free(&in);
	}
	handler_stop(s);
	scratch_free(scratch);
	return rc;
}

/* offline_run_buffer - the message in data through the chain; the result
 * goes to out, the verdict line to err; the exit status */
int
offline_run_buffer(struct snapshot *s, const struct offline_args *a,
		   const void *data, size_t len, FILE *out, FILE *err)
{
	/* an empty message may have no buffer at all (NULL): the C
	 * library's functions take no NULL, not even for zero bytes */
	struct input in = {.mem = data ? data : (const guchar *) "", .fd = -1, .len = len};

	return run(s, a, &in, out, err);
}

/* from_line_end - where a leading mbox From_ line ends (0: none) */
static gsize
from_line_end(const struct input *in)
{
	guchar buf[CHUNK], *nl;
	gsize off = 0;
	gssize n;

	if (in->len <= 5 || input_read(in, 0, buf, 5) != 5 || memcmp(buf, "From ", 5))
		return 0;
	for (; (n = input_read(in, off, buf, sizeof(buf))) > 0; off += n)
		if ((nl = memchr(buf, '\n', n)) != NULL)
			return off + (nl - buf) + 1;
	return in->len;
}

/* run - the message of in through the chain */
static int
run(struct snapshot *s, const struct offline_args *a, struct input *in,
    FILE *out, FILE *err)
{
	struct offline o = {.args = a, .deferred = g_string_new(NULL)};
	struct conn *c = conn_new(s);
	struct msg *m = NULL;
	struct spool wire;
	char *ip = NULL, *helo = NULL;
	enum verdict v = VERDICT_CONTINUE;
	int lf_only, wire_ok;
	gsize from_line;
	guint i;

	c->mta = &o;
	c->macro = off_macro;
	c->dry_run = !a->quarantine;
	if (a->client) {
		const char *comma = strchr(a->client, ',');

		ip = comma ? g_strndup(a->client, comma - a->client) : g_strdup(a->client);
		helo = comma ? g_strdup(comma + 1) : NULL;
	}
	/* a leading mbox From_ line is no header: set it aside, as sendmail(1)
	 * does, and put it back on output */
	from_line = from_line_end(in);
	spool_init(&wire, conf_str(&s->main, "spool-dir"), conf_num(&s->main, "body-memory-limit"));
	wire_ok = to_crlf(in, from_line, &wire) == 0;
	lf_only = in->len == 0 || !has_cr(in);
	conn_set_client(c, ip, ip ? "unknown" : "localhost");
	v = chain_connect(c);
	if (v == VERDICT_CONTINUE && helo) {
		c->helo = g_strdup(helo);
		v = chain_helo(c);
	}
	if (v == VERDICT_CONTINUE) {
		m = o.m = msg_new(c, a->sender ? a->sender : "", a->auth);
		g_free(m->queue_id);
		m->queue_id = g_strdup("OFFLINE");
		v = chain_envfrom(m);
	}
	for (i = 0; v == VERDICT_CONTINUE && a->rcpts && a->rcpts[i]; i++) {
		struct rcpt *r = msg_rcpt_new(m, a->rcpts[i]);
		enum verdict rv = chain_envrcpt(m, r);

		if (rv == VERDICT_CONTINUE) {
			msg_rcpt_keep(m, r);
		} else {
			m->rcpts_rejected++;
			if (rv == VERDICT_TEMPFAIL)
				g_string_append_printf(o.deferred, " deferred=<%s>:%s:%s",
						       r->addr, c->reply.code, c->reply.xcode);
			msg_rcpt_free(r);
			if (rv != VERDICT_REJECT && rv != VERDICT_TEMPFAIL)
				v = rv;
			else if (m->rcpts->len == 0 && a->rcpts[i + 1] == NULL)
				v = rv;
		}
	}
	if (v == VERDICT_CONTINUE)
		v = chain_data(m);
	if (v == VERDICT_CONTINUE) {
		if (wire_ok) {
			feed_message(m, &wire);
		} else {
			/* as when the MTA's bytes cannot be spooled */
			log_warn("%s: cannot spool message: %s", m->queue_id, g_strerror(errno));
			m->spool_errno = errno ? errno : EIO;
		}
		spool_free(&wire);
		v = chain_eom(m);
	}
	if (m && m->rcpts->len == 0 && m->rcpts_rejected == 0 && v == VERDICT_CONTINUE)
		log_warn("no recipients (-R)");
	if (v == VERDICT_CONTINUE || v == VERDICT_QUARANTINE)
		write_result(m, in, from_line, lf_only, out);
	fflush(out);
	report(c, m, v, o.deferred, err);
	if (m) {
		chain_log_message(m, v);
		chain_done(m, v);
	}
	spool_free(&wire);
	g_string_free(o.deferred, TRUE);
	g_free(ip);
	g_free(helo);
	conn_free(c);
	return 0;
}
