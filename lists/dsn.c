/*
 * dsn - delivery status notifications: the recipients a bounce reports on
 *
 * MIME is GMime's throughout: the message's tree, the report's parts by
 * their content types, the status part's transfer encoding (a stream
 * filter), and each block's header fields (a parser of its own per
 * block, which unfolds them).  Cutting the status content into blocks at
 * its empty lines is the one thing done here by hand: GMime would read a
 * block's header and take all that follows as its body, and reading
 * each block so would cost the rest of the content again, block after
 * block.
 */
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "dsn.h"

/*
 * GMime's parser takes time and memory in proportion to what it reads
 * (for a message of nothing but header fields, about 400 ns and 45 bytes
 * of memory a byte), so it reads at most DSN_MAX_INPUT bytes of one.
 * Within those, it checks each line that begins with "--" against the
 * boundary of every multipart open around it (up to GMIME_MAX_LEVEL of
 * them, each a comparison of up to the line's length), so a message
 * nested deep and then full of such lines is slow to parse.
 * parse_bound() gives GMime the longest start of the message whose
 * lines cost at most PARSE_COST, taking every line that begins with
 * "Content-Type" before them for a multipart that may be open.  The
 * report of a bounce comes before the message it returns, which is
 * where such cuts fall in mail that is not built for them.
 */
#define PARSE_COST	50000000	/* byte comparisons, about a ns each */
#define GMIME_MAX_LEVEL	1024		/* gmime-parser.c's MAX_LEVEL */

static const char *const action_names[] = {
	[DSN_UNKNOWN] = "unknown",
	[DSN_FAILED] = "failed",
	[DSN_DELAYED] = "delayed",
	[DSN_DELIVERED] = "delivered",
	[DSN_RELAYED] = "relayed",
	[DSN_EXPANDED] = "expanded",
};

G_STATIC_ASSERT(G_N_ELEMENTS(action_names) == DSN_EXPANDED + 1);

/* dsn_action_name - the Action value a names ("unknown" for DSN_UNKNOWN) */
const char *
dsn_action_name(enum dsn_action a)
{
	return (unsigned) a < G_N_ELEMENTS(action_names) ? action_names[a] : "unknown";
}

/* parse_bound - how many bytes of data GMime may parse (see above) */
static size_t
parse_bound(const char *data, size_t len)
{
	const char *p = data, *end = data + len, *nl = NULL;
	guint64 cost = 0, open = 0;
	size_t n;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		n = (nl ? nl : end) - p;
		if (n >= 12 && g_ascii_strncasecmp(p, "content-type", 12) == 0)
			open++;
		else if (n >= 2 && p[0] == '-' && p[1] == '-') {
			cost += CLAMP(open, 1, GMIME_MAX_LEVEL) * (guint64) n;
			if (cost > PARSE_COST)
				return p - data;
		}
		if (nl == NULL)
			break;
	}
	return len;
}

/* message_parse - GMime's tree of the first len bytes of data, or NULL;
 * the parts' content left in one stream of those bytes, as ranges of it
 * (status_read() tells by its range whether a part ran to the end) */
static GMimeMessage *
message_parse(const char *data, size_t len)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *m;

	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	g_mime_parser_set_persist_stream(p, TRUE);
	m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	return m;
}

/* is_report - o is a multipart/report of delivery status.  One without
 * report-type, which RFC 6522 requires and some MTAs left out, is taken
 * for one too: its parts then decide. */
static int
is_report(GMimeObject *o)
{
	const char *type;

	if (!GMIME_IS_MULTIPART(o)
	    || !g_mime_content_type_is_type(g_mime_object_get_content_type(o), "multipart", "report"))
		return 0;
	type = g_mime_object_get_content_type_parameter(o, "report-type");
	return type == NULL || g_ascii_strcasecmp(type, "delivery-status") == 0
	       || g_ascii_strcasecmp(type, "global-delivery-status") == 0;
}

/* status_find - the first part of delivery-status fields among the parts
 * of report, or NULL.  GMime makes message/delivery-status and its
 * global form a GMimePart (it parses only message/rfc822, news and
 * global as messages): the content as it came, transfer encoding and
 * all. */
static GMimePart *
status_find(GMimeMultipart *report)
{
	GMimeContentType *ct;
	GMimeObject *o;
	int i, n = g_mime_multipart_get_count(report);

	for (i = 0; i < n; i++) {
		o = g_mime_multipart_get_part(report, i);
		ct = g_mime_object_get_content_type(o);
		if (GMIME_IS_PART(o)
		    && (g_mime_content_type_is_type(ct, "message", "delivery-status")
			|| g_mime_content_type_is_type(ct, "message", "global-delivery-status")))
			return GMIME_PART(o);
	}
	return NULL;
}

/* status_locate - the status part of the report that top is, or of the
 * first report among the parts of top, a multipart/mixed, that has one;
 * NULL when there is none, *reports then counting the reports seen */
static GMimePart *
status_locate(GMimeObject *top, int *reports)
{
	GMimeMultipart *mixed;
	GMimePart *part;
	GMimeObject *o;
	int i, n;

	*reports = 0;
	if (top == NULL)
		return NULL;
	if (is_report(top)) {
		*reports = 1;
		return status_find(GMIME_MULTIPART(top));
	}
	if (!GMIME_IS_MULTIPART(top)
	    || !g_mime_content_type_is_type(g_mime_object_get_content_type(top), "multipart", "mixed"))
		return NULL;
	mixed = GMIME_MULTIPART(top);
	n = g_mime_multipart_get_count(mixed);
	for (i = 0; i < n; i++)
		if (is_report(o = g_mime_multipart_get_part(mixed, i))) {
			++*reports;
			if ((part = status_find(GMIME_MULTIPART(o))) != NULL)
				return part;
		}
	return NULL;
}

/* status_read - the first DSN_MAX_STATUS bytes of the part's content,
 * decoded; *cut is set when there was more, or may have been: when its
 * content runs to the end of a message parsed only up to byte end (-1:
 * parsed whole) */
static GByteArray *
status_read(GMimePart *part, gint64 end, int *cut)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GByteArray *buf = g_byte_array_new();
	GMimeStream *raw, *fs;
	GMimeFilter *decode;
	char chunk[4096];
	ssize_t n;

	*cut = 0;
	if (w == NULL || (raw = g_mime_data_wrapper_get_stream(w)) == NULL)
		return buf;
	*cut = end >= 0 && (raw->bound_end < 0 || raw->bound_end >= end);
	g_mime_stream_reset(raw);
	fs = g_mime_stream_filter_new(raw);
	switch (g_mime_data_wrapper_get_encoding(w)) {
	case GMIME_CONTENT_ENCODING_BASE64:
	case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
	case GMIME_CONTENT_ENCODING_UUENCODE:
		decode = g_mime_filter_basic_new(g_mime_data_wrapper_get_encoding(w), FALSE);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), decode);
		g_object_unref(decode);
		break;
	default:
		break;
	}
	/* the loop of g_mime_stream_write_to_stream(): a read may give
	 * nothing before the end (a chunk that decodes to no bytes) */
	while (buf->len <= DSN_MAX_STATUS && !g_mime_stream_eos(fs)) {
		if ((n = g_mime_stream_read(fs, chunk, sizeof chunk)) < 0)
			break;
		g_byte_array_append(buf, (const guint8 *) chunk, n);
	}
	if (buf->len > DSN_MAX_STATUS) {
		g_byte_array_set_size(buf, DSN_MAX_STATUS);
		*cut = 1;
	}
	g_object_unref(fs);
	return buf;
}

/* is_gap - the character c is one space in a value: white space, or a
 * control or format character (C0, DEL, C1, bidi controls, ...) */
static int
is_gap(gunichar c)
{
	GUnicodeType t = g_unichar_type(c);

	return g_unichar_isspace(c) || t == G_UNICODE_CONTROL || t == G_UNICODE_FORMAT
	       || t == G_UNICODE_LINE_SEPARATOR || t == G_UNICODE_PARAGRAPH_SEPARATOR;
}

/* clean - s as valid UTF-8 (what is not, U+FFFD), each run of gaps one
 * space, trimmed, cut to at most max bytes at a character; NULL when
 * nothing is left */
static char *
clean(const char *s, size_t max)
{
	char *valid = g_utf8_make_valid(s, -1);
	GString *out = g_string_new(NULL);
	const char *p, *next;
	int gap = 0;

	for (p = valid; *p; p = next) {
		next = g_utf8_next_char(p);
		if (is_gap(g_utf8_get_char(p))) {
			gap = out->len > 0;
			continue;
		}
		if (out->len + gap + (next - p) > max)
			break;
		if (gap)
			g_string_append_c(out, ' ');
		gap = 0;
		g_string_append_len(out, p, next - p);
	}
	g_free(valid);
	if (out->len == 0) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

/* after_type - what follows "type;" in value (all of it without ';'),
 * white space skipped */
static const char *
after_type(const char *value)
{
	const char *p = strchr(value, ';');

	p = p ? p + 1 : value;
	while (g_ascii_isspace(*p))
		p++;
	return p;
}

/* address - the address of a recipient field's value ("rfc822;
 * <local@domain>"): its type and angle brackets left out; NULL unless it
 * looks like local@domain */
static char *
address(const char *value)
{
	const char *p, *e, *q, *at = NULL;
	gunichar c;

	if (value == NULL)
		return NULL;
	p = after_type(value);
	e = p + strlen(p);
	while (e > p && g_ascii_isspace(e[-1]))
		e--;
	if (e - p >= 2 && p[0] == '<' && e[-1] == '>')
		p++, e--;
	if (e - p >= DSN_MAX_ADDR || !g_utf8_validate(p, e - p, NULL))
		return NULL;
	for (q = p; q < e; q = g_utf8_next_char(q)) {
		c = g_utf8_get_char(q);
		if (is_gap(c) || (c < 0x80 && strchr("<>()\",;:\\", (int) c)))
			return NULL;
		if (c == '@') {
			if (at)
				return NULL;
			at = q;
		}
	}
	if (at == NULL || at == p || at + 1 == e || at[1] == '.' || e[-1] == '.')
		return NULL;
	return g_strndup(p, e - p);
}

/* action - the Action value's keyword (a comment may follow it) */
static enum dsn_action
action(const char *value)
{
	size_t n = 0;
	unsigned a;

	if (value == NULL)
		return DSN_UNKNOWN;
	while (g_ascii_isspace(*value))
		value++;
	while (g_ascii_isalpha(value[n]))
		n++;
	for (a = DSN_UNKNOWN + 1; a < G_N_ELEMENTS(action_names); a++)
		if (strlen(action_names[a]) == n && g_ascii_strncasecmp(value, action_names[a], n) == 0)
			return a;
	return DSN_UNKNOWN;
}

/* status - the Status value's code into out when well-formed (RFC 3463:
 * class 2, 4 or 5, subject and detail of 1 to 3 digits each) */
static void
status(const char *value, char out[16])
{
	const char *p, *q;
	int i, k;

	out[0] = 0;
	if (value == NULL)
		return;
	for (p = value; g_ascii_isspace(*p); p++)
		;
	if (*p != '2' && *p != '4' && *p != '5')
		return;
	q = p + 1;
	for (i = 0; i < 2; i++) {
		if (*q++ != '.')
			return;
		for (k = 0; g_ascii_isdigit(*q); k++)
			q++;
		if (k < 1 || k > 3)
			return;
	}
	if (*q && !g_ascii_isspace(*q) && *q != '(' && *q != ';')
		return;
	memcpy(out, p, q - p);
	out[q - p] = 0;
}

/* field - the value of the first field called name in h, or NULL */
static const char *
field(GMimeHeaderList *h, const char *name)
{
	GMimeHeader *f = g_mime_header_list_get_header(h, name);

	return f ? g_mime_header_get_value(f) : NULL;
}

static void
rcpt_free(gpointer p)
{
	struct dsn_rcpt *r = p;

	g_free(r->final);
	g_free(r->original);
	g_free(r->diagnostic);
	g_free(r);
}

/* block - one block of fields (len bytes at text, no empty line in
 * it), parsed by GMime with p: the first block's Reporting-MTA, and a
 * recipient for a block that names one */
static void
block(struct dsn *d, GMimeParser *p, const char *text, size_t len, int first)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(text, len);
	const char *final, *original, *v;
	struct dsn_rcpt *r;
	GMimeHeaderList *h;
	GMimeObject *o;

	g_mime_parser_init_with_stream(p, s);
	g_object_unref(s);
	/* NULL when the first line is no header field */
	if ((o = g_mime_parser_construct_part(p, NULL)) == NULL)
		return;
	h = g_mime_object_get_header_list(o);
	if (first && (v = field(h, "Reporting-MTA")) != NULL)
		d->reporting_mta = clean(after_type(v), DSN_MAX_ADDR - 1);
	final = field(h, "Final-Recipient");
	original = field(h, "Original-Recipient");
	if (final || original) {
		r = g_new0(struct dsn_rcpt, 1);
		r->final = address(final);
		r->original = address(original);
		r->action = action(field(h, "Action"));
		status(field(h, "Status"), r->status);
		if ((v = field(h, "Diagnostic-Code")) != NULL)
			r->diagnostic = clean(v, DSN_MAX_DIAG);
		g_ptr_array_add(d->rcpts, r);
	}
	g_object_unref(o);
}

/* is_blank - the line from p to end holds white space only */
static int
is_blank(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return 0;
	return 1;
}

/* blocks_read - the blocks of the status content buf (n bytes) into d;
 * when the content was cut short, its last block is left out unless an
 * empty line ends it: a field cut through is never read */
static void
blocks_read(struct dsn *d, const char *buf, size_t n, int cut)
{
	const char *line, *next, *nl, *end, *start = NULL;
	guint blocks = 0;
	GMimeParser *p;

	if (n == 0)		/* an empty GByteArray's data is NULL */
		return;
	end = buf + n;
	p = g_mime_parser_new();
	for (line = buf; line < end; line = next) {
		if (blocks >= DSN_MAX_BLOCKS || d->rcpts->len >= DSN_MAX_RCPTS)
			break;
		nl = memchr(line, '\n', end - line);
		next = nl ? nl + 1 : end;
		if (!is_blank(line, next)) {
			if (start == NULL)
				start = line;
		} else if (start) {
			block(d, p, start, line - start, blocks++ == 0);
			start = NULL;
		}
	}
	if (start && line >= end && !cut && blocks < DSN_MAX_BLOCKS
	    && d->rcpts->len < DSN_MAX_RCPTS)
		block(d, p, start, end - start, blocks == 0);
	g_object_unref(p);
}

/*
 * dsn_parse - the DSN in the message data (len bytes), or NULL with why
 */
struct dsn *
dsn_parse(const char *data, size_t len, char **why)
{
	GMimeMessage *msg = NULL;
	GMimePart *part;
	GByteArray *buf;
	struct dsn *d = NULL;
	const char *no = NULL;
	size_t parsed = len;
	int cut, reports;

	if (why)
		*why = NULL;
	if (len == 0) {
		no = "an empty message";
		goto out;
	}
	parsed = parse_bound(data, MIN(len, DSN_MAX_INPUT));
	if ((msg = message_parse(data, parsed)) == NULL) {
		no = "not a MIME message";
		goto out;
	}
	if ((part = status_locate(g_mime_message_get_mime_part(msg), &reports)) == NULL) {
		no = reports ? "no delivery-status part in the report"
			     : "no multipart/report of delivery status";
		goto out;
	}
	buf = status_read(part, parsed < len ? (gint64) parsed : -1, &cut);
	d = g_new0(struct dsn, 1);
	d->rcpts = g_ptr_array_new_with_free_func(rcpt_free);
	blocks_read(d, (const char *) buf->data, buf->len, cut);
	g_byte_array_unref(buf);
out:
	if (no && why)
		*why = parsed < len
		       ? g_strdup_printf("%s in the first %zu of its %zu bytes"
					 " (no more are parsed)", no, parsed, len)
		       : g_strdup(no);
	g_clear_object(&msg);
	return d;
}

/* dsn_free - d and all it holds; NULL is no DSN */
void
dsn_free(struct dsn *d)
{
	if (d == NULL)
		return;
	g_free(d->reporting_mta);
	g_ptr_array_unref(d->rcpts);
	g_free(d);
}
