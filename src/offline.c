/*
 * offline - the chain on one message from standard input or a buffer
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "chain.h"
#include "log.h"
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

/* read_all - standard input, whole */
static GByteArray *
read_all(FILE *in)
{
	GByteArray *b = g_byte_array_new();
	guchar buf[65536];
	size_t n;

	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		g_byte_array_append(b, buf, n);
	return b;
}

/* to_crlf - every line ending made CRLF, as on the wire */
static GByteArray *
to_crlf(const guchar *p, gsize len)
{
	GByteArray *o = g_byte_array_sized_new(len + len / 32 + 2);
	gsize i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			g_byte_array_append(o, (const guchar *) "\r", 1);
		g_byte_array_append(o, &p[i], 1);
	}
	return o;
}

struct raw_header {
	char *name;
	char *value;
	gint64 offset;
};

/* collect_header - GMime's parser reports every header field in order,
 * with its raw value and offset (the message's own and its parts') */
static void
collect_header(GMimeParser *p, const char *name, const char *value,
	       gint64 offset, gpointer data)
{
	struct raw_header *h = g_new0(struct raw_header, 1);
	size_t len = strlen(value);

	(void) p;
	while (len && (value[len - 1] == '\n' || value[len - 1] == '\r'))
		len--;
	h->name = g_strdup(name);
	h->value = g_strndup(value, len);
	h->offset = offset;

	g_ptr_array_add(data, h);
}

static void
raw_header_free(gpointer p)
{
	struct raw_header *h = p;

	g_free(h->name);
	g_free(h->value);
	g_free(h);
}

/* field_end - where the header field starting at off ends: after its
 * last line, continuation lines (starting with white space) included */
static gsize
field_end(const GByteArray *wire, gsize off)
{
	const guchar *p = wire->data, *nl;
	gsize len = wire->len;

	while (off < len) {
		nl = memchr(p + off, '\n', len - off);
		if (nl == NULL)
			return len;
		off = nl - p + 1;
		if (off >= len || (p[off] != ' ' && p[off] != '\t'))
			return off;
	}
	return len;
}

/* feed_message - header fields and body, as an MTA passes them */
static void
feed_message(struct msg *m, GByteArray *wire)
{
	GMimeStream *st = g_mime_stream_mem_new_with_buffer((const char *) wire->data, wire->len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GPtrArray *hdrs = g_ptr_array_new_with_free_func(raw_header_free);
	GMimeMessage *msg;
	gint64 end = -1;
	gsize body = wire->len;
	guint i;

	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	g_mime_parser_set_header_regex(p, "^", collect_header, hdrs);
	msg = g_mime_parser_construct_message(p, NULL);
	if (msg) {
		end = g_mime_parser_get_headers_end(p);
		g_object_unref(msg);
	}
	/* the header block is the run of fields GMime reports, each right
	 * after the one before; where a line is no header field (GMime skips
	 * it), the body begins, as an MTA sees it */
	body = 0;
	for (i = 0; i < hdrs->len; i++) {
		struct raw_header *h = g_ptr_array_index(hdrs, i);

		if ((end >= 0 && h->offset >= end) || (gsize) h->offset != body)
			break;
		msg_header(m, h->name, h->value);
		body = field_end(wire, body);
	}
	msg_end_headers(m);
	if (body > wire->len)
		body = wire->len;
	if (body + 2 <= wire->len && !memcmp(wire->data + body, "\r\n", 2))
		body += 2;
	msg_body(m, wire->data + body, wire->len - body);
	m->size = wire->len;
	g_ptr_array_free(hdrs, TRUE);
	g_object_unref(p);
	g_object_unref(st);
}

/* apply_headers - the edit list on a copy of the header fields */
static GPtrArray *
apply_headers(struct msg *m)
{
	GPtrArray *h = g_ptr_array_new_with_free_func(g_free);
	guint i;

	for (i = 0; i < m->headers->len; i++) {
		struct header *x = g_ptr_array_index(m->headers, i);

		g_ptr_array_add(h, g_strdup_printf("%s:%s", x->name, x->value));
	}
	edits_apply_headers(&m->edits, m->edits.list->len, h);
	return h;
}

/* write_result - the message with edits applied, in the input's endings */
static void
write_result(struct msg *m, const guchar *in, gsize inlen, gsize from_line,
	     int lf_only, FILE *fp)
{
	GByteArray *out = g_byte_array_new();
	GPtrArray *h;
	gsize len, i;
	const guchar *data;

	if (edits_count(&m->edits) == 0) {
		fwrite(in, 1, inlen, fp);
		g_byte_array_free(out, TRUE);
		return;
	}
	fwrite(in, 1, from_line, fp);
	h = apply_headers(m);
	for (i = 0; i < h->len; i++) {
		const char *l = g_ptr_array_index(h, i);

		g_byte_array_append(out, (const guchar *) l, strlen(l));
		g_byte_array_append(out, (const guchar *) "\r\n", 2);
	}
	g_byte_array_append(out, (const guchar *) "\r\n", 2);
	if (m->edits.body) {
		data = g_bytes_get_data(m->edits.body, &len);
		g_byte_array_append(out, data, len);
	} else {
		data = msg_data(m, &len);
		if (data && len > m->body_offset)
			g_byte_array_append(out, data + m->body_offset, len - m->body_offset);
	}
	for (i = 0; i < out->len; i++) {
		if (lf_only && out->data[i] == '\r' && i + 1 < out->len && out->data[i + 1] == '\n')
			continue;
		putc(out->data[i], fp);
	}
	g_ptr_array_free(h, TRUE);
	g_byte_array_free(out, TRUE);
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

/* report - the verdict line on standard error; a recipient refused with
 * a 4xx reply (which an MTA's client would send again later) is named in
 * it with the reply's codes */
static void
report(struct conn *c, struct msg *m, enum verdict v, const GString *deferred,
       FILE *fp)
{
	int refused = v == VERDICT_REJECT || v == VERDICT_TEMPFAIL;
	char *text = quote(c->reply.text), *env = m ? envelope(m) : g_strdup("");

	if (refused)
		fprintf(fp, "verdict=%s code=%s xcode=%s handler=%s text=%s",
			verdict_name(v), c->reply.code, c->reply.xcode,
			c->decided_by, text);
	else if (v == VERDICT_CONTINUE)
		fprintf(fp, "verdict=accept");
	else
		fprintf(fp, "verdict=%s handler=%s", verdict_name(v), c->decided_by);
	fprintf(fp, " edits=%u", m ? edits_count(&m->edits) : 0);
	if (m && m->rcpts_rejected)
		fprintf(fp, " rcpts-rejected=%u", m->rcpts_rejected);
	fprintf(fp, "%s %s\n", deferred->str, env);
	g_free(text);
	g_free(env);
}

/* offline_run - standard input through the chain; the exit status */
int
offline_run(struct snapshot *s, const struct offline_args *a)
{
	GByteArray *in = read_all(stdin);
	int rc;

	rc = offline_run_buffer(s, a, in->data, in->len, stdout, stderr);
	g_byte_array_free(in, TRUE);
	return rc;
}

/* offline_run_buffer - the message in data through the chain; the result
 * goes to out, the verdict line to err; the exit status */
int
offline_run_buffer(struct snapshot *s, const struct offline_args *a,
		   const void *data, size_t len, FILE *out, FILE *err)
{
	struct offline o = {.args = a, .deferred = g_string_new(NULL)};
	struct conn *c = conn_new(s);
	struct msg *m = NULL;
	/* an empty message may have no buffer at all (NULL): the C
	 * library's functions take no NULL, not even for zero bytes */
	const guchar *in = data ? data : (const guchar *) "";
	GByteArray *wire;
	char *ip = NULL, *helo = NULL;
	enum verdict v = VERDICT_CONTINUE;
	int lf_only;
	gsize from_line = 0;
	guint i;

	c->mta = &o;
	c->macro = off_macro;
	if (a->client) {
		const char *comma = strchr(a->client, ',');

		ip = comma ? g_strndup(a->client, comma - a->client) : g_strdup(a->client);
		helo = comma ? g_strdup(comma + 1) : NULL;
	}
	/* a leading mbox From_ line is no header: set it aside, as sendmail(1)
	 * does, and put it back on output */
	if (len > 5 && !memcmp(in, "From ", 5)) {
		const guchar *nl = memchr(in, '\n', len);

		from_line = nl ? (gsize) (nl - in) + 1 : len;
	}
	wire = to_crlf(in + from_line, len - from_line);
	lf_only = len == 0 || memchr(in, '\r', len) == NULL;
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
		feed_message(m, wire);
		v = chain_eom(m);
	}
	if (m && m->rcpts->len == 0 && m->rcpts_rejected == 0 && v == VERDICT_CONTINUE)
		log_warn("no recipients (-R)");
	if (v == VERDICT_CONTINUE || v == VERDICT_QUARANTINE)
		write_result(m, in, len, from_line, lf_only, out);
	fflush(out);
	report(c, m, v, o.deferred, err);
	if (m) {
		chain_log_message(m, v);
		chain_done(m, v);
	}
	g_byte_array_free(wire, TRUE);
	g_string_free(o.deferred, TRUE);
	g_free(ip);
	g_free(helo);
	conn_free(c);
	return 0;
}
