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

/*
 * The header block while the edit list is applied to it: the fields in
 * order (a list, so that a field goes in constant time), and for each
 * name its fields in order (a GSequence: the index-th of a name is found,
 * and removed, in logarithmic time).  So the edits cost in proportion to
 * their number, whatever the number of fields: a change-header edit on
 * the 40,000th field of a name costs what one on the first does.
 */
struct hblock {
	GQueue *lines;		/* char * "name:value" */
	GHashTable *byname;	/* name -> GSequence of GList * (of lines) */
};

/* hblock_seq - the fields of a name (created empty when new) */
static GSequence *
hblock_seq(struct hblock *b, const char *name)
{
	GSequence *q = g_hash_table_lookup(b->byname, name);

	if (q == NULL) {
		q = g_sequence_new(NULL);
		g_hash_table_insert(b->byname, g_strdup(name), q);
	}
	return q;
}

/* hblock_add - a field at the end */
static void
hblock_add(struct hblock *b, const char *name, char *line)
{
	g_queue_push_tail(b->lines, line);
	g_sequence_append(hblock_seq(b, name), b->lines->tail);
}

/* hblock_insert - a field at position index (0: first); a walk, but
 * insertions come from the configuration, a few a message */
static void
hblock_insert(struct hblock *b, const char *name, guint index, char *line)
{
	GSequence *q = hblock_seq(b, name);
	GList *l = b->lines->head;
	guint i, before = 0;

	for (i = 0; i < index && l; i++, l = l->next) {
		const char *t = l->data;
		size_t nl = strlen(name);

		before += !g_ascii_strncasecmp(t, name, nl) && t[nl] == ':';
	}
	if (l == NULL) {
		hblock_add(b, name, line);
		return;
	}
	g_queue_insert_before(b->lines, l, line);
	g_sequence_insert_before(g_sequence_get_iter_at_pos(q, before), l->prev);
}

/* hblock_change - the index-th field of name (1-based) gets line, or
 * goes when line is NULL; a new field at the end when there is no such
 * field and line is not NULL */
static void
hblock_change(struct hblock *b, const char *name, int index, char *line)
{
	GSequence *q = hblock_seq(b, name);
	GSequenceIter *it;
	GList *l;

	if (index < 1 || index > g_sequence_get_length(q)) {
		if (line)
			hblock_add(b, name, line);
		return;
	}
	it = g_sequence_get_iter_at_pos(q, index - 1);
	l = g_sequence_get(it);
	g_free(l->data);
	if (line) {
		l->data = line;
	} else {
		g_queue_delete_link(b->lines, l);
		g_sequence_remove(it);
	}
}

/* apply_headers - the edit list on a copy of the header fields; the
 * lines, in order (caller frees with g_queue_free_full) */
static GQueue *
apply_headers(struct msg *m)
{
	struct hblock b;
	guint i;

	b.lines = g_queue_new();
	b.byname = g_hash_table_new_full(edits_name_hash, edits_name_equal, g_free,
					 (GDestroyNotify) g_sequence_free);
	for (i = 0; i < m->headers->len; i++) {
		struct header *x = g_ptr_array_index(m->headers, i);

		hblock_add(&b, x->name, g_strdup_printf("%s:%s", x->name, x->value));
	}
	for (i = 0; i < m->edits.list->len; i++) {
		struct edit *e = g_ptr_array_index(m->edits.list, i);
		char *line = e->kind <= EDIT_CHANGE_HEADER && e->value
			? g_strdup_printf("%s: %s", e->name, e->value) : NULL;

		switch (e->kind) {
		case EDIT_ADD_HEADER:
			hblock_add(&b, e->name, line);
			break;
		case EDIT_INSERT_HEADER:
			/* a negative index is the end, as for libmilter */
			hblock_insert(&b, e->name, e->index < 0 ? G_MAXUINT : (guint) e->index,
				      line);
			break;
		case EDIT_CHANGE_HEADER:
			hblock_change(&b, e->name, e->index, line);
			break;
		default:
			break;
		}
	}
	g_hash_table_destroy(b.byname);
	return b.lines;
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
write_result(struct msg *m, const guchar *in, gsize inlen, gsize from_line,
	     int lf_only, FILE *fp)
{
	struct outw w = {fp, lf_only, 0};
	GQueue *h;
	GList *l;
	gsize len;
	const guchar *data;

	if (edits_count(&m->edits) == 0) {
		fwrite(in, 1, inlen, fp);
		return;
	}
	fwrite(in, 1, from_line, fp);
	h = apply_headers(m);
	for (l = h->head; l; l = l->next) {
		outw_put(&w, l->data, strlen(l->data));
		outw_put(&w, (const guchar *) "\r\n", 2);
	}
	outw_put(&w, (const guchar *) "\r\n", 2);
	if (m->edits.body) {
		data = g_bytes_get_data(m->edits.body, &len);
		outw_put(&w, data, len);
	} else {
		data = msg_data(m, &len);
		if (data && len > m->body_offset)
			outw_put(&w, data + m->body_offset, len - m->body_offset);
	}
	if (w.cr)
		putc('\r', fp);
	g_queue_free_full(h, g_free);
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

/* report - the verdict line on standard error */
static void
report(struct conn *c, struct msg *m, enum verdict v, FILE *fp)
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
	fprintf(fp, " %s\n", env);
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
	struct offline o = {.args = a};
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
	report(c, m, v, err);
	if (m)
		chain_log_message(m, v);
	g_byte_array_free(wire, TRUE);
	g_free(ip);
	g_free(helo);
	conn_free(c);
	return 0;
}
