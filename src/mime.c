/*
 * mime - parse once, change through GMime, write back as splices
 */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "edits.h"
#include "log.h"
#include "message.h"
#include "mime.h"

#define PLACEHOLDER_TYPE "application/x-sinkd-placeholder"

/* Where a leaf part stood in the original message. */
struct range {
	gint64 start;		/* its first header line (or the empty line) */
	gint64 content;		/* its content */
	gint64 end;		/* the end of its content */
	GByteArray *head;	/* its header fields as GMime writes them */
	int exact;		/* ... and those are its original bytes */
};

static void
range_free(gpointer p)
{
	struct range *r = p;

	g_byte_array_free(r->head, TRUE);
	g_free(r);
}

struct mime {
	const guchar *data;	/* the spooled message, for note_range */
	gsize len;
	GMimeMessage *message;
	gint64 headers_end;	/* the parser's: where the empty line starts */
	GHashTable *ranges;	/* GMimeObject * -> struct range * */
	GPtrArray *changed;	/* GMimeObject *, referenced */
	GMimeObject *container;
	GMimeObject *placeholder;
	enum mime_entity entity;
	GBytes *entity_bytes;	/* given by the handler, instead of the original */
	GArray *late;		/* struct late: mime_at_commit */
	guint handler_edits;	/* edits the handlers made before those */
	guint head_edits;	/* MIME_ENTITY_MESSAGE: the edits its header
				 * takes (mime_wrap_message), when head_fixed */
	int head_fixed;
	int failed;
	int cut;		/* the parse stopped early (mime_parse) */
};

static int has_8bit(const char *s, gsize len);

/* A change made at commit, after every handler's (mime_at_commit). */
struct late {
	int (*fn)(struct msg *m, const void *arg);
	const void *arg;
	GDestroyNotify free;	/* arg's, when the message goes; or NULL */
};

/* dos - GMime's format options with CRLF line endings, as on the wire */
static GMimeFormatOptions *
dos(void)
{
	static GMimeFormatOptions *fo;
	static gsize once;

	if (g_once_init_enter(&once)) {
		fo = g_mime_format_options_clone(NULL);
		g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
		g_once_init_leave(&once, 1);
	}
	return fo;
}

/* head_bytes - a header list as GMime writes it, with the empty line */
static GByteArray *
head_bytes(GMimeObject *part)
{
	GMimeStream *s = g_mime_stream_mem_new();
	GByteArray *out = g_byte_array_new(), *b;

	g_mime_header_list_write_to_stream(g_mime_object_get_header_list(part), dos(), s);
	g_mime_stream_write_string(s, "\r\n");
	b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	g_byte_array_append(out, b->data, b->len);
	g_object_unref(s);
	return out;
}

/* note_range - remember where a leaf's bytes are (g_mime_message_foreach).
 * Malformed mail is where parsers disagree, so nothing is taken on trust:
 * a leaf is spliceable only where GMime's view matches the bytes. */
static void
note_range(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	struct mime *mi = data;
	GMimeHeaderList *hl = g_mime_object_get_header_list(part);
	GMimeDataWrapper *w;
	GMimeStream *s;
	struct range *r;

	(void) parent;
	if (!GMIME_IS_PART(part))
		return;
	w = g_mime_part_get_content(GMIME_PART(part));
	if (w == NULL || (s = g_mime_data_wrapper_get_stream(w)) == NULL)
		return;
	r = g_new0(struct range, 1);
	r->content = s->bound_start;
	r->end = s->bound_end;
	/* GMime ends a part's content at the LF of the CRLF before the next
	 * boundary: that CR belongs to the boundary line, not to the part */
	if (r->end > 0 && (gsize) r->end < mi->len
	    && mi->data[r->end - 1] == '\r' && mi->data[r->end] == '\n')
		r->end--;
	if (g_mime_header_list_get_count(hl) > 0)
		r->start = g_mime_header_get_offset(g_mime_header_list_get_header_at(hl, 0));
	else
		r->start = s->bound_start - 2;	/* the empty line */
	r->head = head_bytes(part);
	if (r->start < 0 || r->content < r->start || r->end < r->content
	    || (gsize) r->end > mi->len) {
		range_free(r);
		return;
	}
	r->exact = (gsize) (r->content - r->start) == r->head->len
		&& !memcmp(mi->data + r->start, r->head->data, r->head->len);
	g_hash_table_insert(mi->ranges, part, r);
}

/* same_fields - GMime sees the message's own Content-* fields as the MTA
 * passed them: the same fields, in the same order, with the same values */
static int
same_fields(const struct msg *m, GMimeObject *top)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(top);
	int n = g_mime_header_list_get_count(hl), k = 0;
	guint i;

	for (i = 0; i < m->headers->len; i++) {
		const struct header *h = g_ptr_array_index(m->headers, i);
		GMimeHeader *gh;
		char *a, *b;
		int same;

		if (g_ascii_strncasecmp(h->name, "Content-", 8))
			continue;
		if (k >= n)
			return 0;
		gh = g_mime_header_list_get_header_at(hl, k++);
		a = g_strstrip(g_strdup(h->value));
		b = g_strstrip(g_strdup(g_mime_header_get_raw_value(gh)));
		same = !g_ascii_strcasecmp(h->name, g_mime_header_get_name(gh)) && !strcmp(a, b);
		g_free(a);
		g_free(b);
		if (!same)
			return 0;
	}
	return k == n;
}

/* mime_part_editable - a leaf whose content, and fields, can be written
 * back over its own bytes; a handler leaves the others alone */
int
mime_part_editable(struct msg *m, GMimeObject *leaf)
{
	struct mime *mi = m->mime;
	struct range *r;

	if (mi == NULL || mi->message == NULL || mi->cut)
		return 0;
	r = g_hash_table_lookup(mi->ranges, leaf);
	return r && r->exact;
}

/* mime_spool_stream - a stream on a spool's bytes for GMime's parser,
 * which keeps the parts' content as ranges of it: the buffer itself while
 * it is in memory, else the file (read as the parser goes, never copied
 * whole); caller unrefs */
GMimeStream *
mime_spool_stream(struct spool *s)
{
	GByteArray *mem;
	GMimeStream *st;

	if ((mem = spool_memory(s)) != NULL) {
		st = g_mime_stream_mem_new_with_byte_array(mem);
		g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(st), FALSE);
		return st;
	}
	return g_mime_stream_fs_new_with_bounds(dup(spool_fd(s)), 0, s->len);
}

/*
 * What GMime's parser costs is bounded here.  It checks each line that
 * begins with "--" against the boundary of every multipart open around
 * it (up to 1024 levels), so a message nested 1024 deep followed by
 * megabytes of such lines takes a minute to parse.  The parser reads
 * through a stream that counts those lines, each at the number of
 * multipart Content-Type fields seen so far (the most that can be open),
 * and ends the input when the sum passes MIME_PARSE_LIMIT: the tree is
 * cut there, and said so (mime_leaves reports the cut as too deep).
 */
#define MIME_PARSE_LIMIT 100000000	/* boundary checks, a few ns each */
#define GMIME_MAX_LEVEL 1024		/* gmime-parser.c's MAX_LEVEL */
#define CUT_KEY "sinkd-mime-cut"

typedef struct {
	GMimeStream parent;
	GMimeStream *inner;
	guint64 cost;		/* boundary checks so far, at most */
	guint64 open;		/* multipart Content-Type fields seen */
	int at_line;		/* the next byte begins a line */
	int dash;		/* ... and it began with one '-' */
	int cut;
} CountStream;

typedef struct {
	GMimeStreamClass parent_class;
} CountStreamClass;

G_DEFINE_TYPE(CountStream, count_stream, GMIME_TYPE_STREAM)

static void
count_stream_init(CountStream *cs)
{
	cs->at_line = 1;
}

static void
count_stream_finalize(GObject *o)
{
	g_clear_object(&((CountStream *) o)->inner);
	G_OBJECT_CLASS(count_stream_parent_class)->finalize(o);
}

/* count - the lines of buf (n bytes) that begin with "--", each at the
 * number of boundaries that may be open */
static void
count(CountStream *cs, const char *buf, size_t n)
{
	guint64 lines = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (cs->dash) {
			lines += buf[i] == '-';
			cs->dash = 0;
		} else if (cs->at_line && buf[i] == '-') {
			cs->dash = 1;
		}
		cs->at_line = buf[i] == '\n';
	}
	cs->cost += lines * MAX(MIN(cs->open, GMIME_MAX_LEVEL), 1);
}

static ssize_t
cs_read(GMimeStream *s, char *buf, size_t len)
{
	CountStream *cs = (CountStream *) s;
	ssize_t n;

	if (cs->cut)
		return 0;
	if ((n = g_mime_stream_read(cs->inner, buf, len)) > 0) {
		s->position += n;
		count(cs, buf, n);
		cs->cut = cs->cost > MIME_PARSE_LIMIT;
	}
	return n;
}

static ssize_t
cs_write(GMimeStream *s, const char *buf, size_t len)
{
	(void) s, (void) buf, (void) len;
	return -1;
}

static int
cs_flush(GMimeStream *s)
{
	(void) s;
	return 0;
}

static int
cs_close(GMimeStream *s)
{
	(void) s;
	return 0;
}

static gboolean
cs_eos(GMimeStream *s)
{
	CountStream *cs = (CountStream *) s;

	return cs->cut || g_mime_stream_eos(cs->inner);
}

static int
cs_reset(GMimeStream *s)
{
	CountStream *cs = (CountStream *) s;

	s->position = s->bound_start;
	return g_mime_stream_reset(cs->inner);
}

static gint64
cs_seek(GMimeStream *s, gint64 offset, GMimeSeekWhence whence)
{
	CountStream *cs = (CountStream *) s;
	gint64 at = g_mime_stream_seek(cs->inner, offset, whence);

	if (at >= 0)
		s->position = at;
	return at;
}

static gint64
cs_tell(GMimeStream *s)
{
	return s->position;
}

static gint64
cs_length(GMimeStream *s)
{
	return g_mime_stream_length(((CountStream *) s)->inner);
}

/* the parts' content reads the stream underneath, not through this one.
 * g_mime_stream_substream() makes the stream it was called on the super
 * stream of what it returns, with a reference: the one it took on inner
 * here is given back, as the caller's g_mime_stream_substream(s) then
 * refers the substream to s, which holds inner */
static GMimeStream *
cs_substream(GMimeStream *s, gint64 start, gint64 end)
{
	GMimeStream *inner = ((CountStream *) s)->inner;
	GMimeStream *sub = g_mime_stream_substream(inner, start, end);

	if (sub && sub->super_stream == inner) {
		sub->super_stream = NULL;
		g_object_unref(inner);
	}
	return sub;
}

static void
count_stream_class_init(CountStreamClass *k)
{
	GMimeStreamClass *sk = GMIME_STREAM_CLASS(k);

	G_OBJECT_CLASS(k)->finalize = count_stream_finalize;
	sk->read = cs_read;
	sk->write = cs_write;
	sk->flush = cs_flush;
	sk->close = cs_close;
	sk->eos = cs_eos;
	sk->reset = cs_reset;
	sk->seek = cs_seek;
	sk->tell = cs_tell;
	sk->length = cs_length;
	sk->substream = cs_substream;
}

/* count_open - a Content-Type field (the parser's header callback): one
 * more boundary that may be open when it is a multipart's */
static void
count_open(GMimeParser *p, const char *name, const char *value, gint64 offset,
	   gpointer data)
{
	(void) p, (void) name, (void) offset;
	if (value && g_ascii_strncasecmp(value + strspn(value, " \t\r\n"), "multipart/", 10) == 0)
		((CountStream *) data)->open++;
}

/*
 * mime_parse - the message in spool s, parsed by GMime, its parts' content
 * left in s (keep s while the tree lives); NULL when GMime makes nothing
 * of it.  *cut is set when the parse was cut short (see above), and the
 * top part is marked so for mime_leaves(); *headers_end, if not NULL, is
 * the parser's end of the header block.
 */
GMimeMessage *
mime_parse(struct spool *s, int *cut, gint64 *headers_end)
{
	CountStream *cs = g_object_new(count_stream_get_type(), NULL);
	GMimeStream *inner = mime_spool_stream(s);
	GMimeParser *p;
	GMimeMessage *msg;
	GMimeObject *top;

	cs->inner = inner;
	g_mime_stream_construct(GMIME_STREAM(cs), 0, g_mime_stream_length(inner));
	p = g_mime_parser_new_with_stream(GMIME_STREAM(cs));
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	g_mime_parser_set_persist_stream(p, TRUE);
	g_mime_parser_set_header_regex(p, "^Content-Type$", count_open, cs);
	msg = g_mime_parser_construct_message(p, NULL);
	if (headers_end)
		*headers_end = g_mime_parser_get_headers_end(p);
	*cut = cs->cut;
	if (msg && cs->cut && (top = g_mime_message_get_mime_part(msg)) != NULL)
		g_object_set_data(G_OBJECT(top), CUT_KEY, GINT_TO_POINTER(1));
	g_object_unref(p);
	g_object_unref(cs);
	return msg;
}

/* field_collect - GMime's parser reports every header field in order,
 * with its raw value and offset (the message's own and its parts') */
static void
field_collect(GMimeParser *p, const char *name, const char *value,
	      gint64 offset, gpointer data)
{
	struct mime_field *f = g_new0(struct mime_field, 1);
	size_t len = strlen(value);

	(void) p;
	while (len && (value[len - 1] == '\n' || value[len - 1] == '\r'))
		len--;
	f->name = g_strdup(name);
	f->value = g_strndup(value, len);
	f->offset = offset;
	g_ptr_array_add(data, f);
}

static void
field_free(gpointer p)
{
	struct mime_field *f = p;

	g_free(f->name);
	g_free(f->value);
	g_free(f);
}

/* mime_fields_collect - have p report every header field it reads into
 * the array returned (struct mime_field), which must outlive p's parse */
GPtrArray *
mime_fields_collect(GMimeParser *p)
{
	GPtrArray *fields = g_ptr_array_new_with_free_func(field_free);

	g_mime_parser_set_header_regex(p, "^", field_collect, fields);
	return fields;
}

/* mime_field_end - where the header field starting at off ends: after
 * its last line, continuation lines (starting with white space)
 * included; p holds the first len bytes of the message */
gsize
mime_field_end(const guchar *p, gsize len, gsize off)
{
	const guchar *nl;

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

/*
 * mime_header_fields - the header of the message in data as an MTA hands
 * it to a milter: the run of fields GMime reads from the start, each
 * right after the one before (struct header; the value as received, its
 * line ends LF alone), and *body, where the body begins (after the empty
 * line, if there is one).  For tools that read a message from a file.
 */
GPtrArray *
mime_header_fields(const void *data, gsize len, gsize *body)
{
	GPtrArray *hs = g_ptr_array_new_with_free_func(header_free);
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GPtrArray *fields = mime_fields_collect(p);
	const guchar *d = data;
	GMimeMessage *msg;
	gint64 end = -1;
	gsize off = 0;
	guint i;

	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	if ((msg = g_mime_parser_construct_message(p, NULL)) != NULL) {
		end = g_mime_parser_get_headers_end(p);
		g_object_unref(msg);
	}
	for (i = 0; i < fields->len; i++) {
		struct mime_field *f = g_ptr_array_index(fields, i);
		struct header *h;
		GString *v;
		const char *c;

		if ((end >= 0 && f->offset >= end) || (gsize) f->offset != off)
			break;
		h = g_new0(struct header, 1);
		h->name = g_strdup(f->name);
		v = g_string_sized_new(strlen(f->value));
		for (c = f->value; *c; c++)
			if (*c != '\r' || c[1] != '\n')
				g_string_append_c(v, *c);
		h->value = g_string_free(v, FALSE);
		g_ptr_array_add(hs, h);
		off = mime_field_end(d, len, off);
	}
	if (off + 2 <= len && !memcmp(d + off, "\r\n", 2))
		off += 2;
	else if (off < len && d[off] == '\n')
		off++;
	*body = off;
	g_ptr_array_free(fields, TRUE);
	g_object_unref(p);
	g_object_unref(st);
	return hs;
}

/* mime_message - the tree, parsed on first use; NULL on failure */
GMimeMessage *
mime_message(struct msg *m)
{
	struct mime *mi = m->mime;
	GMimeObject *top;
	struct range *r;

	if (mi)
		return mi->failed ? NULL : mi->message;
	mi = m->mime = g_new0(struct mime, 1);
	mi->ranges = g_hash_table_new_full(NULL, NULL, NULL, range_free);
	mi->changed = g_ptr_array_new_with_free_func(g_object_unref);
	mi->message = mime_parse(&m->spool, &mi->cut, &mi->headers_end);
	if (mi->cut)
		log_warn("%s: mime: the MIME structure costs too much to parse "
			 "(deep nesting and many boundary-like lines); parts past the "
			 "point reached are not seen, and no part is changed in place",
			 m->queue_id);
	if (mi->message == NULL) {
		log_warn("%s: the message cannot be parsed as MIME", m->queue_id);
		mi->failed = 1;
		return NULL;
	}
	mi->data = msg_data(m, &mi->len);
	if (mi->data)
		g_mime_message_foreach(mi->message, note_range, mi);
	mi->data = NULL;
	/* the message's own body, when a leaf: GMime must see it start where
	 * the MTA's header block ended, with the same fields.  Decided now,
	 * on the fields as received, so that it stays editable once a
	 * handler changed it (its fields are written as top-level ones) */
	top = g_mime_message_get_mime_part(mi->message);
	if (top && (r = g_hash_table_lookup(mi->ranges, top)) != NULL)
		r->exact = (gsize) r->content == m->body_offset && same_fields(m, top);
	return mi->message;
}

/* boundary_ambiguous - a multipart's Content-Type gives the boundary
 * parameter more than once, with different values */
static int
boundary_ambiguous(GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	GMimeParamList *pl = ct ? g_mime_content_type_get_parameters(ct) : NULL;
	const char *first = NULL;
	int i, n = pl ? g_mime_param_list_length(pl) : 0;

	for (i = 0; i < n; i++) {
		GMimeParam *p = g_mime_param_list_get_parameter_at(pl, i);

		if (g_ascii_strcasecmp(g_mime_param_get_name(p), "boundary"))
			continue;
		if (first == NULL)
			first = g_mime_param_get_value(p);
		else if (g_strcmp0(first, g_mime_param_get_value(p)))
			return 1;
	}
	return 0;
}

/* leaves - mime_leaves_visit's walk */
static enum mime_walk
leaves(GMimeObject *o, GPtrArray *out, gboolean into_messages, guint max,
       int depth, mime_visit_fn visit, void *ctx)
{
	enum mime_walk w = MIME_WALK_COMPLETE, sub;
	int i, n;

	if (o == NULL)
		return MIME_WALK_COMPLETE;
	if (depth <= 0)
		return MIME_WALK_DEPTH;
	if (g_object_get_data(G_OBJECT(o), CUT_KEY))
		w = MIME_WALK_DEPTH;	/* the parse was cut: not all is here */
	if (GMIME_IS_MULTIPART(o)) {
		if (boundary_ambiguous(o))
			w = MIME_WALK_AMBIGUOUS;
		n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (i = 0; i < n; i++) {
			sub = leaves(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), out,
				     into_messages, max, depth - 1, visit, ctx);
			if (w == MIME_WALK_COMPLETE)
				w = sub;
			if (sub == MIME_WALK_COUNT)
				break;
		}
	} else if (GMIME_IS_MESSAGE_PART(o) && into_messages) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		if (inner)
			w = leaves(g_mime_message_get_mime_part(inner), out, into_messages,
				   max, depth - 1, visit, ctx);
	} else if (GMIME_IS_PART(o)) {
		if (out->len >= max)
			return MIME_WALK_COUNT;
		g_ptr_array_add(out, o);
		if (visit)
			w = visit(o, out, depth, ctx);
	}
	return w;
}

enum mime_walk
mime_leaves(GMimeObject *o, GPtrArray *out, gboolean into_messages,
	    guint max, int depth)
{
	return leaves(o, out, into_messages, max, depth, NULL, NULL);
}

enum mime_walk
mime_leaves_visit(GMimeObject *o, GPtrArray *out, gboolean into_messages,
		  guint max, int depth, mime_visit_fn visit, void *ctx)
{
	return leaves(o, out, into_messages, max, depth, visit, ctx);
}

/* add_names - the name and filename parameters of one parameter list */
static void
add_names(GPtrArray *out, GMimeParamList *pl)
{
	int i, n = pl ? g_mime_param_list_length(pl) : 0;

	for (i = 0; i < n; i++) {
		GMimeParam *p = g_mime_param_list_get_parameter_at(pl, i);
		const char *name = g_mime_param_get_name(p), *value = g_mime_param_get_value(p);
		guint k;

		if (name == NULL || value == NULL || *value == '\0'
		    || (g_ascii_strcasecmp(name, "name") && g_ascii_strcasecmp(name, "filename")))
			continue;
		for (k = 0; k < out->len && strcmp(g_ptr_array_index(out, k), value); k++)
			;
		if (k == out->len)
			g_ptr_array_add(out, g_strdup(value));
	}
}

/*
 * mime_part_names - GMime keeps every parameter of a field, duplicates
 * included, and decodes each (RFC 2231 continuations are joined into one
 * parameter of the plain name); but the object's own Content-Type and
 * Content-Disposition come from one field each.  So each such field of
 * the part's header list is parsed again by GMime, whatever its count.
 */
GPtrArray *
mime_part_names(GMimeObject *part)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(part);
	GMimeContentType *ct = g_mime_object_get_content_type(part);
	GMimeContentDisposition *cd = g_mime_object_get_content_disposition(part);
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	int i, n = hl ? g_mime_header_list_get_count(hl) : 0;

	if (cd)
		add_names(out, g_mime_content_disposition_get_parameters(cd));
	if (ct)
		add_names(out, g_mime_content_type_get_parameters(ct));
	for (i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h);
		const char *raw = g_mime_header_get_raw_value(h);

		if (name == NULL || raw == NULL)
			continue;
		if (!g_ascii_strcasecmp(name, "Content-Type")) {
			GMimeContentType *t = g_mime_content_type_parse(NULL, raw);

			if (t) {
				add_names(out, g_mime_content_type_get_parameters(t));
				g_object_unref(t);
			}
		} else if (!g_ascii_strcasecmp(name, "Content-Disposition")) {
			GMimeContentDisposition *d = g_mime_content_disposition_parse(NULL, raw);

			if (d) {
				add_names(out, g_mime_content_disposition_get_parameters(d));
				g_object_unref(d);
			}
		}
	}
	return out;
}

void
mime_part_changed(struct msg *m, GMimeObject *leaf)
{
	if (m->mime && !g_ptr_array_find(m->mime->changed, leaf, NULL))
		g_ptr_array_add(m->mime->changed, g_object_ref(leaf));
}

/* mime_placeholder_new - a part that stands for the original entity */
GMimePart *
mime_placeholder_new(void)
{
	GMimePart *p = g_mime_part_new_with_type("application", "x-sinkd-placeholder");
	GMimeStream *s = g_mime_stream_mem_new();
	GMimeDataWrapper *w;
	char token[64];

	g_snprintf(token, sizeof(token), "sinkd-placeholder-%08x%08x",
		   g_random_int(), g_random_int());
	g_mime_stream_write_string(s, token);
	w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_7BIT);
	g_mime_part_set_content(p, w);
	g_mime_part_set_content_encoding(p, GMIME_CONTENT_ENCODING_7BIT);
	g_object_unref(w);
	g_object_unref(s);
	return p;
}

/* mime_message_placeholder_new - a placeholder for the whole message, as
 * an inline message/rfc822 part (8bit when the message has 8-bit bytes) */
GMimePart *
mime_message_placeholder_new(struct msg *m)
{
	GMimePart *p = mime_placeholder_new();
	GMimeContentType *ct = g_mime_content_type_parse(NULL, "message/rfc822");
	gsize len;
	const guchar *data = msg_data(m, &len);

	g_mime_object_set_content_type(GMIME_OBJECT(p), ct);
	g_object_unref(ct);
	g_mime_part_set_content_encoding(p, data && has_8bit((const char *) data, len)
					 ? GMIME_CONTENT_ENCODING_8BIT
					 : GMIME_CONTENT_ENCODING_7BIT);
	g_mime_object_set_disposition(GMIME_OBJECT(p), "inline");
	return p;
}

/* wrap_nest - a second wrap of the content around a first one (a sink's
 * attachment, then the disclaimer's wrap): the new container's placeholder
 * gives way to the first container, whose placeholder goes on standing
 * for the content, so that neither wrap is lost; 1 when done */
static int
wrap_nest(struct mime *mi, GMimeObject *container, GMimeObject *placeholder,
	  enum mime_entity entity)
{
	int idx;

	if (mi->container == NULL || mi->placeholder == NULL || mi->entity_bytes
	    || (mi->entity != MIME_ENTITY_CONTENT && !mi->head_fixed)
	    || entity != MIME_ENTITY_CONTENT
	    || placeholder == NULL || !GMIME_IS_MULTIPART(container)
	    || (idx = g_mime_multipart_index_of(GMIME_MULTIPART(container), placeholder)) < 0)
		return 0;
	g_object_unref(g_mime_multipart_replace(GMIME_MULTIPART(container), idx, mi->container));
	g_object_unref(mi->container);
	mi->container = g_object_ref(container);
	return 1;
}

int
mime_wrap(struct msg *m, GMimeObject *container, GMimeObject *placeholder,
	  enum mime_entity entity)
{
	struct mime *mi = m->mime;

	if (mi == NULL)
		return -1;
	if (wrap_nest(mi, container, placeholder, entity))
		return 0;
	if (mi->head_fixed) {
		/* a message wrapped whole stays so: what would take its place
		 * is made from the message before that wrap */
		log_notice("%s: mime: a change of the message's structure is not made: "
			   "the message is wrapped whole", m->queue_id);
		return -1;
	}
	g_clear_object(&mi->container);
	g_clear_object(&mi->placeholder);
	if (mi->entity_bytes) {
		g_bytes_unref(mi->entity_bytes);
		mi->entity_bytes = NULL;
	}
	mi->container = g_object_ref(container);
	mi->placeholder = placeholder ? g_object_ref(placeholder) : NULL;
	mi->entity = entity;
	return 0;
}

/* mime_wrap_message - the message as it is now (its header as the edits
 * so far left it, its body with every change of its leaves, made before
 * or after) becomes the entity that placeholder, a message/rfc822 part in
 * container, stands for; header edits made later are the new message's.
 * -1 when the message was wrapped already (the earlier wrap would be
 * undone) */
int
mime_wrap_message(struct msg *m, GMimeObject *container, GMimeObject *placeholder)
{
	struct mime *mi = m->mime;

	if (mi == NULL || mi->container != NULL || placeholder == NULL)
		return -1;
	if (mime_wrap(m, container, placeholder, MIME_ENTITY_MESSAGE) < 0)
		return -1;
	mi->head_edits = m->edits.list->len;
	mi->head_fixed = 1;
	return 0;
}

int (*mime_footer)(struct msg *m, const char *by, const char *text, const char *html);

/* mime_at_commit - fn(m, arg) runs at commit, before the tree is
 * written, after every handler: for a change no other handler's rules
 * may see (the disclaimer's text), made on the message as they left it;
 * -1 from fn fails the commit */
void
mime_at_commit(struct msg *m, int (*fn)(struct msg *m, const void *arg),
	       const void *arg)
{
	mime_at_commit_free(m, fn, (void *) arg, NULL);
}

/* mime_at_commit_free - mime_at_commit(), and free(arg) when the message
 * goes (also when fn never ran) */
void
mime_at_commit_free(struct msg *m, int (*fn)(struct msg *m, const void *arg), void *arg,
		    GDestroyNotify free)
{
	struct late l = {fn, arg, free};

	if (m->mime == NULL) {
		if (free)
			free(arg);
		return;
	}
	if (m->mime->late == NULL)
		m->mime->late = g_array_new(FALSE, FALSE, sizeof(struct late));
	g_array_append_val(m->mime->late, l);
}

/* mime_wrap_bytes - as mime_wrap, but the placeholder stands for the bytes
 * given (an entity the handler built and, say, signed) */
void
mime_wrap_bytes(struct msg *m, GMimeObject *container, GMimeObject *placeholder,
		GBytes *entity)
{
	if (mime_wrap(m, container, placeholder, MIME_ENTITY_CONTENT) == 0)
		m->mime->entity_bytes = g_bytes_ref(entity);
}

/* mime_write - an object as GMime writes it on the wire (CRLF) */
GBytes *
mime_write(GMimeObject *obj)
{
	GMimeStream *s = g_mime_stream_mem_new();
	GByteArray *b;
	GBytes *out;

	g_mime_object_write_to_stream(obj, dos(), s);
	b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	out = g_bytes_new(b->data, b->len);
	g_object_unref(s);
	return out;
}

/* mime_cut - the message's parse was cut short (see mime_parse) */
int
mime_cut(const struct msg *m)
{
	return m->mime && m->mime->cut;
}

/* mime_wrapped - an earlier wrap stands (a sink's part_add or wrap, a
 * footer's): a later one must nest around it, not take its place */
int
mime_wrapped(const struct msg *m)
{
	return m->mime && m->mime->container;
}

int
mime_changed(const struct msg *m)
{
	return m->mime && (m->mime->container || m->mime->changed->len);
}

void
mime_free(struct mime *mi)
{
	guint i;

	if (mi == NULL)
		return;
	g_clear_object(&mi->container);
	g_clear_object(&mi->placeholder);
	if (mi->entity_bytes)
		g_bytes_unref(mi->entity_bytes);
	for (i = 0; mi->late && i < mi->late->len; i++) {
		const struct late *l = &g_array_index(mi->late, struct late, i);

		if (l->free)
			l->free((void *) l->arg);
	}
	if (mi->late)
		g_array_free(mi->late, TRUE);
	g_ptr_array_free(mi->changed, TRUE);
	g_hash_table_destroy(mi->ranges);
	g_clear_object(&mi->message);
	g_free(mi);
}

/* written - what a GMime write function produces, as a GByteArray */
static GByteArray *
written(GMimeObject *obj, int content_only)
{
	GMimeStream *s = g_mime_stream_mem_new();
	GByteArray *out = g_byte_array_new(), *b;

	if (content_only)
		g_mime_object_write_content_to_stream(obj, dos(), s);
	else
		g_mime_object_write_to_stream(obj, dos(), s);
	b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	g_byte_array_append(out, b->data, b->len);
	g_object_unref(s);
	return out;
}

/* field_value - a field's value, trimmed, its line breaks without CR */
static char *
field_value(const char *raw)
{
	GString *o = g_string_new(NULL);
	const char *p;

	for (p = raw; *p; p++)
		if (*p != '\r')
			g_string_append_c(o, *p);
	return g_strstrip(g_string_free(o, FALSE));
}

/* received_value - the index-th field called name (1-based) as the
 * message came with it, or NULL */
static const char *
received_value(const struct msg *m, const char *name, int index)
{
	guint i;

	for (i = 0; i < m->headers->len; i++) {
		const struct header *h = g_ptr_array_index(m->headers, i);

		if (!g_ascii_strcasecmp(h->name, name) && --index == 0)
			return h->value;
	}
	return NULL;
}

/* current_value - that field once the edits in e are applied, or NULL
 * when an edit deleted it */
static const char *
current_value(const struct msg *m, const struct edits *e, const char *name,
	      int index)
{
	const struct edit *ed = edits_header_edit(e, name, index);

	return ed ? ed->value : received_value(m, name, index);
}

/* gmime_count - how many fields called name obj's header list holds */
static int
gmime_count(GMimeObject *obj, const char *name)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	int i, n = 0;

	for (i = 0; i < g_mime_header_list_get_count(hl); i++)
		n += !g_ascii_strcasecmp(g_mime_header_get_name(g_mime_header_list_get_header_at(hl, i)), name);
	return n;
}

/* gmime_value - the index-th field called name in obj's header list as
 * GMime would write it */
static const char *
gmime_value(GMimeObject *obj, const char *name, int index)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	int i;

	for (i = 0; i < g_mime_header_list_get_count(hl); i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);

		if (!g_ascii_strcasecmp(g_mime_header_get_name(h), name) && --index == 0) {
			const char *v = g_mime_header_get_raw_value(h);

			return v ? v : "";
		}
	}
	return NULL;
}

/* name_eq - header names are compared without case */
static gboolean
name_eq(gconstpointer a, gconstpointer b)
{
	return !g_ascii_strcasecmp(a, b);
}

/* content_sync - edits in e that make the message's own Content-* fields
 * those of obj, the new top-level content, each in place: changed where
 * it differs, deleted where obj has no such field (in a wrap, every
 * field went into the wrapped entity), added where the message has none;
 * MIME-Version added when missing.  A field a handler deleted that the
 * body needs comes back: the body would not read without it. */
static void
content_sync(struct msg *m, struct edits *e, GMimeObject *obj)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	int i, k, was, now, changed = 0;
	guint n;

	for (n = 0; n < m->headers->len; n++) {
		const char *name = ((struct header *) g_ptr_array_index(m->headers, n))->name;

		if (!g_ascii_strncasecmp(name, "Content-", 8)
		    && !g_ptr_array_find_with_equal_func(names, name, name_eq, NULL))
			g_ptr_array_add(names, g_strdup(name));
	}
	/* only its Content-* fields: a part may hold others (the protected
	 * headers of a signed part) that are not the message's to take */
	for (i = 0; i < g_mime_header_list_get_count(hl); i++) {
		const char *name = g_mime_header_get_name(g_mime_header_list_get_header_at(hl, i));

		if (!g_ascii_strncasecmp(name, "Content-", 8)
		    && !g_ptr_array_find_with_equal_func(names, name, name_eq, NULL))
			g_ptr_array_add(names, g_strdup(name));
	}
	for (n = 0; n < names->len; n++) {
		const char *name = g_ptr_array_index(names, n);

		was = msg_header_count(m, name, m->headers->len);
		now = gmime_count(obj, name);
		for (k = was; k > now; k--)
			edits_change_header(e, "sinkd", name, k, NULL);
		for (k = 1; k <= now; k++) {
			const char *cur = k <= was ? current_value(m, e, name, k) : NULL;
			char *v = field_value(gmime_value(obj, name, k)), *c;

			if (k <= was && cur == NULL)
				log_info("%s: mime: %s, deleted by %s, is put back: the new body needs it",
					 m->queue_id, name, edits_header_edit(e, name, k)->by);
			if (cur == NULL) {
				edits_add_header(e, "sinkd", name, v);
				changed = 1;
			} else if (strcmp((c = field_value(cur)), v)) {
				edits_change_header(e, "sinkd", name, k, v);
				changed = 1;
				g_free(c);
			} else {
				g_free(c);
			}
			g_free(v);
		}
	}
	g_ptr_array_free(names, TRUE);
	if (changed && current_value(m, e, "MIME-Version", 1) == NULL)
		edits_add_header(e, "sinkd", "MIME-Version", "1.0");
}

struct splice {
	struct range r;
	GByteArray *bytes;
};

static gint
splice_cmp(gconstpointer a, gconstpointer b)
{
	const struct splice *x = *(struct splice *const *) a, *y = *(struct splice *const *) b;

	return x->r.start < y->r.start ? -1 : x->r.start > y->r.start;
}

static void
splice_free(gpointer p)
{
	struct splice *s = p;

	g_byte_array_free(s->bytes, TRUE);
	g_free(s);
}

/* leaf_bytes - a nested leaf as GMime writes it: its fields, the empty
 * line, its content */
static GByteArray *
leaf_bytes(GMimeObject *leaf)
{
	GMimeStream *s = g_mime_stream_mem_new();
	GByteArray *out = g_byte_array_new(), *b;

	g_mime_header_list_write_to_stream(g_mime_object_get_header_list(leaf), dos(), s);
	g_mime_stream_write_string(s, "\r\n");
	g_mime_object_write_content_to_stream(leaf, dos(), s);
	b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	g_byte_array_append(out, b->data, b->len);
	g_object_unref(s);
	return out;
}

/* top_changed - a handler changed the message's own body, a leaf */
static int
top_changed(struct mime *mi)
{
	return g_ptr_array_find(mi->changed, g_mime_message_get_mime_part(mi->message), NULL);
}

/* leaf_splice - where a changed nested leaf goes, and its bytes; NULL
 * when it cannot be written back (logged) */
static struct splice *
leaf_splice(struct msg *m, GMimeObject *leaf, gsize len)
{
	struct range *r = g_hash_table_lookup(m->mime->ranges, leaf);
	struct splice *s;
	GByteArray *head;

	if (r == NULL || r->start < (gint64) m->body_offset || r->end > (gint64) len) {
		log_error("%s: mime: a changed part has no place in the original", m->queue_id);
		return NULL;
	}
	if (!r->exact) {
		log_error("%s: mime: a changed part does not match its bytes", m->queue_id);
		return NULL;
	}
	s = g_new0(struct splice, 1);
	head = head_bytes(leaf);
	if (head->len == r->head->len && !memcmp(head->data, r->head->data, head->len)) {
		/* same fields: only the content is written */
		s->r.start = r->content;
		s->r.end = r->end;
		s->bytes = written(leaf, 1);
	} else {
		s->r.start = r->start;
		s->r.end = r->end;
		s->bytes = leaf_bytes(leaf);
	}
	g_byte_array_free(head, TRUE);
	return s;
}

/* body_now - the message's body as the handlers left it, appended to
 * out: the body a handler changed as GMime writes it, or the original
 * with each changed leaf spliced in over its own bytes; -1 when one
 * cannot be (logged) */
static int
body_now(struct msg *m, GByteArray *out)
{
	struct mime *mi = m->mime;
	GMimeObject *top = g_mime_message_get_mime_part(mi->message);
	GPtrArray *sp;
	const guchar *data;
	gsize len, pos;
	guint i;

	if (top_changed(mi)) {
		/* a leaf: there is nothing else in it */
		GByteArray *b = written(top, 1);

		g_byte_array_append(out, b->data, b->len);
		g_byte_array_free(b, TRUE);
		return 0;
	}
	if ((data = msg_data(m, &len)) == NULL || len < m->body_offset)
		return -1;
	sp = g_ptr_array_new_with_free_func(splice_free);
	for (i = 0; i < mi->changed->len; i++) {
		struct splice *s = leaf_splice(m, g_ptr_array_index(mi->changed, i), len);

		if (s == NULL) {
			g_ptr_array_free(sp, TRUE);
			return -1;
		}
		g_ptr_array_add(sp, s);
	}
	g_ptr_array_sort(sp, splice_cmp);
	pos = m->body_offset;
	for (i = 0; i < sp->len; i++) {
		struct splice *s = g_ptr_array_index(sp, i);

		if ((gsize) s->r.start < pos) {
			log_error("%s: mime: changed parts overlap", m->queue_id);
			g_ptr_array_free(sp, TRUE);
			return -1;
		}
		g_byte_array_append(out, data + pos, s->r.start - pos);
		g_byte_array_append(out, s->bytes->data, s->bytes->len);
		pos = s->r.end;
	}
	g_byte_array_append(out, data + pos, len - pos);
	g_ptr_array_free(sp, TRUE);
	return 0;
}

/* message_head - the message's header block as the handlers' edits
 * (the first n of the list) left it, with the Content-* fields of its
 * body as a handler changed it, and the empty line */
static void
message_head(struct msg *m, guint n, GByteArray *out)
{
	GPtrArray *fields = g_ptr_array_new_with_free_func(g_free);
	struct edits x;
	guint i;

	for (i = 0; i < m->headers->len; i++) {
		GString *l = msg_header_line(g_ptr_array_index(m->headers, i));

		g_string_truncate(l, l->len - 2);
		g_ptr_array_add(fields, g_string_free(l, FALSE));
	}
	/* the same edits, on a list of their own, with those of the body */
	edits_init(&x);
	for (i = 0; i < n; i++) {
		const struct edit *ed = g_ptr_array_index(m->edits.list, i);

		if (ed->kind == EDIT_ADD_HEADER)
			edits_add_header(&x, ed->by, ed->name, ed->value);
		else if (ed->kind == EDIT_INSERT_HEADER)
			edits_insert_header(&x, ed->by, ed->index, ed->name, ed->value);
		else if (ed->kind == EDIT_CHANGE_HEADER)
			edits_change_header(&x, ed->by, ed->name, ed->received, ed->value);
	}
	if (top_changed(m->mime))
		content_sync(m, &x, g_mime_message_get_mime_part(m->mime->message));
	edits_apply_headers(&x, x.list->len, fields);
	for (i = 0; i < fields->len; i++) {
		const char *l = g_ptr_array_index(fields, i);

		g_byte_array_append(out, (const guchar *) l, strlen(l));
		g_byte_array_append(out, (const guchar *) "\r\n", 2);
	}
	g_byte_array_append(out, (const guchar *) "\r\n", 2);
	edits_free(&x);
	g_ptr_array_free(fields, TRUE);
}

/* entity_bytes - the entity the placeholder stands for, as the handlers
 * left it: the bytes the handler gave; or the original with the other
 * handlers' changes (leaves spliced in, and for a whole message their
 * header edits); NULL on failure */
static GByteArray *
entity_bytes(struct msg *m)
{
	struct mime *mi = m->mime;
	GByteArray *e = g_byte_array_new();
	guint i;

	if (mi->entity_bytes) {
		gsize len;
		const guchar *b = g_bytes_get_data(mi->entity_bytes, &len);

		g_byte_array_append(e, b, len);
		return e;
	}
	if (mi->entity == MIME_ENTITY_MESSAGE) {
		message_head(m, mi->head_fixed ? mi->head_edits : mi->handler_edits, e);
	} else if (top_changed(mi)) {
		GByteArray *h = head_bytes(g_mime_message_get_mime_part(mi->message));

		g_byte_array_append(e, h->data, h->len);
		g_byte_array_free(h, TRUE);
	} else {
		for (i = 0; i < m->headers->len; i++) {
			struct header *h = g_ptr_array_index(m->headers, i);
			GString *l;

			if (g_ascii_strncasecmp(h->name, "Content-", 8))
				continue;
			l = msg_header_line(h);
			g_byte_array_append(e, (guchar *) l->str, l->len);
			g_string_free(l, TRUE);
		}
		g_byte_array_append(e, (const guchar *) "\r\n", 2);
	}
	if (body_now(m, e) < 0) {
		g_byte_array_free(e, TRUE);
		return NULL;
	}
	return e;
}

/* commit_wrap - the container as the new body, the entity spliced in */
static int
commit_wrap(struct msg *m)
{
	struct mime *mi = m->mime;
	GByteArray *body = written(mi->container, 1), *ph, *ent, *out;
	const guchar *at;
	GBytes *b;

	if (mi->placeholder == NULL) {
		/* the container is all new: GMime writes it whole */
		b = g_byte_array_free_to_bytes(body);
		edits_replace_body(&m->edits, "sinkd", b);
		g_bytes_unref(b);
		content_sync(m, &m->edits, mi->container);
		return 0;
	}
	/* a whole message stands in for the placeholder's content (under its
	 * message/rfc822 fields); a content entity for the whole part */
	ph = written(mi->placeholder, mi->entity == MIME_ENTITY_MESSAGE);
	ent = entity_bytes(m);

	at = ent ? memmem(body->data, body->len, ph->data, ph->len) : NULL;
	if (at == NULL) {
		if (ent)
			log_error("%s: mime: the placeholder is not where it was put", m->queue_id);
		g_byte_array_free(body, TRUE);
		g_byte_array_free(ph, TRUE);
		if (ent)
			g_byte_array_free(ent, TRUE);
		return -1;
	}
	out = g_byte_array_sized_new(body->len + ent->len);
	g_byte_array_append(out, body->data, at - body->data);
	g_byte_array_append(out, ent->data, ent->len);
	g_byte_array_append(out, at + ph->len, body->len - (at - body->data) - ph->len);
	b = g_byte_array_free_to_bytes(out);
	edits_replace_body(&m->edits, "sinkd", b);
	g_bytes_unref(b);
	content_sync(m, &m->edits, mi->container);
	g_byte_array_free(body, TRUE);
	g_byte_array_free(ph, TRUE);
	g_byte_array_free(ent, TRUE);
	return 0;
}

/* commit_leaves - the body with each changed leaf written back over its
 * own bytes; the message's Content-* fields those of its body when that
 * is the leaf that changed */
static int
commit_leaves(struct msg *m)
{
	GByteArray *out = g_byte_array_new();
	GBytes *b;

	if (body_now(m, out) < 0) {
		g_byte_array_free(out, TRUE);
		return -1;
	}
	b = g_byte_array_free_to_bytes(out);
	edits_replace_body(&m->edits, "sinkd", b);
	g_bytes_unref(b);
	if (top_changed(m->mime))
		content_sync(m, &m->edits, g_mime_message_get_mime_part(m->mime->message));
	return 0;
}

/* mime_commit - the changes made at commit (mime_at_commit), then the
 * tree's changes as edits; 0 when there were none, -1 on failure */
int
mime_commit(struct msg *m)
{
	struct mime *mi = m->mime;
	guint i;

	if (mi == NULL)
		return 0;
	mi->handler_edits = m->edits.list->len;
	for (i = 0; mi->late && i < mi->late->len; i++) {
		const struct late *l = &g_array_index(mi->late, struct late, i);

		if (l->fn(m, l->arg) < 0)
			return -1;
	}
	if (!mime_changed(m))
		return 0;
	return mi->container ? commit_wrap(m) : commit_leaves(m);
}

/* mime_text_get - a text part's text in UTF-8, or NULL when it does not
 * decode to valid UTF-8 */
char *
mime_text_get(GMimeTextPart *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(part));
	GMimeStream *s;
	GByteArray *raw;
	int nul;
	char *t;
	gsize len;

	/* a NUL in the decoded content would cut the text short: refuse */
	if (w == NULL)
		return NULL;
	s = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, s);
	raw = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	nul = raw->len > 0 && memchr(raw->data, 0, raw->len) != NULL;
	g_object_unref(s);
	if (nul)
		return NULL;
	t = g_mime_text_part_get_text(part);
	if (t && !g_utf8_validate(t, -1, NULL)) {
		g_free(t);
		return NULL;
	}
	/* the CR of the CRLF before a boundary is the boundary's */
	len = t ? strlen(t) : 0;
	if (len && t[len - 1] == '\r')
		t[len - 1] = 0;
	return t;
}

/* has_8bit - any byte over 127 */
static int
has_8bit(const char *s, gsize len)
{
	gsize i;

	for (i = 0; i < len; i++)
		if ((unsigned char) s[i] > 127)
			return 1;
	return 0;
}

/* convert_strict - utf8 in charset cs, or NULL when a character does not
 * fit (iconv through GMime's charset names and aliases) */
static char *
convert_strict(const char *utf8, gsize len, const char *cs)
{
	/* returns NULL too when the result holds a NUL (UTF-16 and the like):
	 * such a charset is not kept */
	iconv_t cd = g_mime_iconv_open(cs, "UTF-8");
	GString *out;
	char *in = (char *) utf8, buf[1024];
	size_t left = len;

	if (cd == (iconv_t) -1)
		return NULL;
	out = g_string_sized_new(len);
	while (left > 0) {
		char *o = buf;
		size_t room = sizeof(buf);

		if (iconv(cd, &in, &left, &o, &room) == (size_t) -1 && errno != E2BIG) {
			g_mime_iconv_close(cd);
			g_string_free(out, TRUE);
			return NULL;
		}
		g_string_append_len(out, buf, o - buf);
	}
	{
		char *o = buf;
		size_t room = sizeof(buf);

		iconv(cd, NULL, NULL, &o, &room);
		g_string_append_len(out, buf, o - buf);
	}
	g_mime_iconv_close(cd);
	if (memchr(out->str, 0, out->len)) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

/*
 * mime_text_appends - whether mime_text_set(part, utf8) on the message's
 * own body, a leaf, would only add bytes after the body as received:
 * the part's fields stay as they are (the same charset and transfer
 * encoding: no 7bit part becomes quoted-printable, no charset becomes
 * UTF-8), and its content, as body_now() writes it back, starts with
 * every byte of the body as received.  No body is ever re-encoded under
 * such a change.  The text is tried on a part of its own, with the
 * same charset and encoding; part itself is not changed.
 */
int
mime_text_appends(struct msg *m, GMimeTextPart *part, const char *utf8)
{
	struct mime *mi = m->mime;
	GMimeTextPart *t;
	GByteArray *now;
	const guchar *data;
	const char *cs;
	gsize len, blen;
	int same;

	if (mi == NULL || mi->message == NULL || mi->container
	    || GMIME_OBJECT(part) != g_mime_message_get_mime_part(mi->message)
	    || !mime_part_editable(m, GMIME_OBJECT(part))
	    || (data = msg_data(m, &len)) == NULL || len < m->body_offset)
		return 0;
	t = g_mime_text_part_new();
	cs = g_mime_text_part_get_charset(part);
	if (cs)
		g_mime_text_part_set_charset(t, cs);
	g_mime_part_set_content_encoding(GMIME_PART(t),
		g_mime_part_get_content_encoding(GMIME_PART(part)));
	mime_text_set(t, utf8);
	same = !g_strcmp0(cs, g_mime_text_part_get_charset(t))
		&& g_mime_part_get_content_encoding(GMIME_PART(t))
		   == g_mime_part_get_content_encoding(GMIME_PART(part));
	now = written(GMIME_OBJECT(t), 1);
	blen = len - m->body_offset;
	same = same && now->len >= blen && !memcmp(now->data, data + m->body_offset, blen);
	g_byte_array_free(now, TRUE);
	g_object_unref(t);
	return same;
}

/* mime_text_set - new text for a part, in its own charset if the text
 * fits it, else in UTF-8; the transfer encoding is kept, except that a
 * 7bit part gaining 8-bit text becomes quoted-printable */
int
mime_text_set(GMimeTextPart *part, const char *utf8)
{
	const char *cs = g_mime_text_part_get_charset(part);
	GMimeContentEncoding was = g_mime_part_get_content_encoding(GMIME_PART(part)), enc = was;
	gsize len = strlen(utf8);
	GMimeStream *s;
	GMimeDataWrapper *w;
	char *bytes = NULL;

	cs = cs ? g_mime_charset_canon_name(cs) : "us-ascii";
	if (g_ascii_strcasecmp(cs, "utf-8"))
		bytes = convert_strict(utf8, len, cs);

	if (bytes == NULL) {
		bytes = g_strdup(utf8);
		if (g_ascii_strcasecmp(cs, "utf-8") && (has_8bit(utf8, len) || g_ascii_strcasecmp(cs, "us-ascii")))
			g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "utf-8");
	}
	len = strlen(bytes);
	if ((enc == GMIME_CONTENT_ENCODING_DEFAULT || enc == GMIME_CONTENT_ENCODING_7BIT)
	    && has_8bit(bytes, len))
		enc = GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
	s = g_mime_stream_mem_new();
	g_mime_stream_write(s, bytes, len);
	g_mime_stream_reset(s);
	w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(GMIME_PART(part), w);
	/* the field is rewritten only when the encoding really changes */
	if (enc != was)
		g_mime_part_set_content_encoding(GMIME_PART(part), enc);
	g_object_unref(w);
	g_object_unref(s);
	g_free(bytes);
	return 0;
}
