/*
 * sinkapi - struct sinkd_api: what a sink may read and do (sinkd-sink(3))
 *
 * Every call checks the step it is made at (struct sinkd_ctx.step) and
 * its arguments, and answers -1 (or NULL) rather than pass on what could
 * not be sent to the MTA: header values with bare CR or LF, reply texts
 * with either, addresses with control characters.  Strings handed back
 * are kept in the context until the hook returns (sink_keep()).
 *
 * Edits go where sinkd's handlers' go: header and envelope edits to the
 * message's edit list (edits.h), body edits to the message's one MIME
 * tree (mime.h), written back as splices of the original bytes, so that
 * what no handler touched stays byte-identical; signed and encrypted
 * parts are never edited.  Under evaluate = yes an edit is logged and
 * noted, not made, and the call answers 0.  An edit that would break a
 * DKIM signature that verified is asked of dkim_may_change(), as
 * handlers' are: under dkim-signed = skip it is not made, the call
 * answers -1, the dkim.held fact names it, and the log line notes
 * sink:NAME=dkim-skip:WHAT (dkim_held()).
 */
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "dkim.h"
#include "edits.h"
#include "log.h"
#include "message.h"
#include "mime.h"
#include "policy.h"
#include "sink.h"

#define REPLY_TEXT_MAX	512	/* longer reply texts are cut */
#define PARTS_MAX	10000	/* parts part_info() numbers, at most */
#define PARTS_DEPTH	64	/* and no deeper */

/* msg_of - the context's message, or NULL */
static struct msg *
msg_of(const struct sinkd_ctx *x)
{
	return x && x->conn ? x->conn->msg : NULL;
}

/* at_eom - a call that needs the whole message */
static struct msg *
at_eom(const struct sinkd_ctx *x)
{
	return x && x->step == SINK_STEP_EOM && x->edits ? msg_of(x) : NULL;
}

/* short_name - NAME of "sink:NAME" */
static const char *
short_name(const struct sinkd_ctx *x)
{
	return x->sink->name + 5;
}

/* ------------------------------------------------------------------ */
/* reading                                                              */

/* api_get - a fact by name (sinkd-sink(3) lists them) */
static const char *
api_get(struct sinkd_ctx *x, const char *name)
{
	struct conn *c = x ? x->conn : NULL;
	struct msg *m = msg_of(x);
	static const struct {
		const char *name, *macro;
	} macros[] = {
		{"client.port", "{client_port}"}, {"tls.version", "{tls_version}"},
		{"tls.cipher", "{cipher}"}, {"tls.bits", "{cipher_bits}"},
		{"tls.subject", "{cert_subject}"}, {"tls.issuer", "{cert_issuer}"},
	};
	const char *v;
	unsigned i;

	if (c == NULL || name == NULL)
		return NULL;
	if (!strcmp(name, "client.addr"))
		return c->client_addr;
	if (!strcmp(name, "client.name"))
		return c->client_name;
	if (!strcmp(name, "helo"))
		return c->helo;
	if (!strcmp(name, "dry-run"))
		return c->dry_run ? "yes" : NULL;
	for (i = 0; i < G_N_ELEMENTS(macros); i++)
		if (!strcmp(name, macros[i].name))
			return conn_macro(c, macros[i].macro);
	if (g_str_has_prefix(name, "macro.")) {
		char *braced;

		if ((v = conn_macro(c, name + 6)) != NULL || name[6] == '{')
			return v;
		braced = g_strdup_printf("{%s}", name + 6);
		v = conn_macro(c, braced);
		g_free(braced);
		return v;
	}
	if (m == NULL)
		return NULL;
	if (!strcmp(name, "auth"))
		return m->auth_user;
	if (!strcmp(name, "queue-id"))
		return m->queue_id;
	if (!strcmp(name, "sender"))
		return m->sender;
	if (!strcmp(name, "direction"))
		return m->outbound ? "outbound" : "inbound";
	if (!strcmp(name, "policy"))
		return m->policy ? m->policy->domain : m->mail_policy->domain;
	if (!strcmp(name, "size"))
		return sink_keep(x, g_strdup_printf("%zu", m->size ? m->size : m->declared_size));
	if (!strcmp(name, "rcpt-count"))
		return sink_keep(x, g_strdup_printf("%u", m->rcpts->len));
	return m->facts ? g_hash_table_lookup(m->facts, name) : NULL;
}

/* api_mail_param - MAIL FROM's i-th ESMTP parameter */
static const char *
api_mail_param(struct sinkd_ctx *x, unsigned i)
{
	struct msg *m = msg_of(x);

	if (m == NULL || m->mail_params == NULL || i >= g_strv_length(m->mail_params))
		return NULL;
	return m->mail_params[i];
}

/* api_rcpt_param - the judged recipient's i-th ESMTP parameter */
static const char *
api_rcpt_param(struct sinkd_ctx *x, unsigned i)
{
	if (x == NULL || x->rcpt == NULL || x->rcpt->params == NULL
	    || i >= g_strv_length(x->rcpt->params))
		return NULL;
	return x->rcpt->params[i];
}

/* api_rcpt - the i-th accepted recipient */
static const char *
api_rcpt(struct sinkd_ctx *x, unsigned i)
{
	struct msg *m = msg_of(x);

	if (m == NULL || i >= m->rcpts->len)
		return NULL;
	return ((struct rcpt *) g_ptr_array_index(m->rcpts, i))->addr;
}

/* value_of - a key of the sink's group in effect, or NULL */
static const struct conf_value *
value_of(const struct sinkd_ctx *x, const char *key, const struct conf_key **k)
{
	unsigned i;

	if (x == NULL || x->g == NULL || key == NULL)
		return NULL;
	for (i = 0; i < x->g->n; i++)
		if (!strcmp(x->g->key[i]->name, key)) {
			if (k)
				*k = x->g->key[i];
			return &x->g->val[i];
		}
	return NULL;
}

/* api_config - a key of the sink's group in effect, as written */
static const char *
api_config(struct sinkd_ctx *x, const char *key)
{
	const struct conf_value *v = value_of(x, key, NULL);

	return v ? v->raw : NULL;
}

/* api_config_list - a list key's i-th entry */
static const char *
api_config_list(struct sinkd_ctx *x, const char *key, unsigned i)
{
	const struct conf_key *k = NULL;
	const struct conf_value *v = value_of(x, key, &k);

	if (v == NULL || k->type != CONF_LIST || v->list == NULL
	    || i >= g_strv_length(v->list))
		return NULL;
	return v->list[i];
}

/* unfold - a field value as received, unfolded, leading blanks gone */
static char *
unfold(const char *v)
{
	GString *o = g_string_sized_new(strlen(v));

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++)
		if (*v != '\r' && *v != '\n')
			g_string_append_c(o, *v);
	return g_string_free(o, FALSE);
}

/* decode - RFC 2047 words of a field value decoded to UTF-8 */
static char *
decode(const char *raw)
{
	char *d = g_mime_utils_header_decode_text(NULL, raw);

	return d ? d : g_strdup(raw);
}

/* api_header - the i-th header field: name, value as received, decoded */
static int
api_header(struct sinkd_ctx *x, unsigned i, const char **name,
	   const char **raw, const char **decoded)
{
	struct msg *m = msg_of(x);
	const struct header *h;
	const char *r;

	if (m == NULL || i >= m->headers->len)
		return -1;
	h = g_ptr_array_index(m->headers, i);
	r = sink_keep(x, unfold(h->value));
	if (name)
		*name = h->name;
	if (raw)
		*raw = r;
	if (decoded)
		*decoded = sink_keep(x, decode(r));
	return 0;
}

/* api_header_get - the n-th field of a name, decoded */
static const char *
api_header_get(struct sinkd_ctx *x, const char *name, unsigned n)
{
	struct msg *m = msg_of(x);
	const guint *pos;
	const struct header *h;
	guint cnt = 0;
	char *r;

	if (m == NULL || name == NULL || n == 0
	    || (pos = msg_header_positions(m, name, &cnt)) == NULL || n > cnt)
		return NULL;
	h = g_ptr_array_index(m->headers, pos[n - 1]);
	r = unfold(h->value);
	sink_keep(x, r);
	return sink_keep(x, decode(r));
}

/* part_flags - SINKD_PART_* of o */
static unsigned
part_flags(GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	unsigned f = 0;

	if (GMIME_IS_MULTIPART(o))
		f |= SINKD_PART_MULTIPART;
	if (GMIME_IS_MESSAGE_PART(o))
		f |= SINKD_PART_MESSAGE;
	if (GMIME_IS_MULTIPART_SIGNED(o))
		f |= SINKD_PART_SIGNED;
	if (GMIME_IS_MULTIPART_ENCRYPTED(o))
		f |= SINKD_PART_ENCRYPTED;
	if (GMIME_IS_APPLICATION_PKCS7_MIME(o)) {
		GMimeSecureMimeType t = g_mime_application_pkcs7_mime_get_smime_type(
			GMIME_APPLICATION_PKCS7_MIME(o));

		f |= t == GMIME_SECURE_MIME_TYPE_SIGNED_DATA ? SINKD_PART_SIGNED
			: SINKD_PART_ENCRYPTED;
	}
	if (GMIME_IS_PART(o) && (g_mime_part_is_attachment(GMIME_PART(o))
				 || g_mime_part_get_filename(GMIME_PART(o))))
		f |= SINKD_PART_ATTACHMENT;
	if (ct && (g_mime_content_type_is_type(ct, "text", "plain")
		   || g_mime_content_type_is_type(ct, "text", "html")))
		f |= SINKD_PART_TEXT;
	return f;
}

/* part_size - a leaf's encoded size */
static gsize
part_size(GMimeObject *o)
{
	GMimeDataWrapper *w;
	GMimeStream *s;
	gint64 n;

	if (!GMIME_IS_PART(o) || (w = g_mime_part_get_content(GMIME_PART(o))) == NULL
	    || (s = g_mime_data_wrapper_get_stream(w)) == NULL)
		return 0;
	n = g_mime_stream_length(s);
	return n > 0 ? (gsize) n : 0;
}

/* walk - o and what it holds into a, in document order, bounded */
static void
walk(GArray *a, GMimeObject *o, unsigned parent, unsigned depth)
{
	struct sink_part p = {.o = o, .parent = parent, .depth = depth};
	unsigned me = a->len;
	int i, n;

	if (o == NULL || a->len >= PARTS_MAX || depth > PARTS_DEPTH)
		return;
	p.size = part_size(o);
	g_array_append_val(a, p);
	if (GMIME_IS_MULTIPART(o)) {
		n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (i = 0; i < n; i++)
			walk(a, g_mime_multipart_get_part(GMIME_MULTIPART(o), i), me, depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		if (inner)
			walk(a, g_mime_message_get_mime_part(inner), me, depth + 1);
	}
}

/* parts - the message's parts, numbered on first use at end of message */
static GArray *
parts(struct sinkd_ctx *x)
{
	struct msg *m = at_eom(x);
	GMimeMessage *gm;
	guint i;

	if (m == NULL)
		return NULL;
	if (x->parts)
		return x->parts;
	if ((gm = mime_message(m)) == NULL)
		return NULL;
	x->parts = g_array_new(FALSE, TRUE, sizeof(struct sink_part));
	walk(x->parts, g_mime_message_get_mime_part(gm), 0, 0);
	for (i = x->parts->len; i-- > 1;) {
		struct sink_part *p = &g_array_index(x->parts, struct sink_part, i);

		if (!GMIME_IS_PART(p->o))
			continue;
		for (guint j = p->parent;; j = g_array_index(x->parts, struct sink_part, j).parent) {
			g_array_index(x->parts, struct sink_part, j).size += p->size;
			if (j == 0)
				break;
		}
	}
	return x->parts;
}

/* part_at - part i, or NULL */
static struct sink_part *
part_at(struct sinkd_ctx *x, unsigned i)
{
	GArray *a = parts(x);

	if (a == NULL || i >= a->len)
		return NULL;
	return &g_array_index(a, struct sink_part, i);
}

/* api_part_info - what part i is */
static int
api_part_info(struct sinkd_ctx *x, unsigned i, struct sinkd_part_info *info)
{
	struct sink_part *p = part_at(x, i);
	GMimeContentType *ct;
	const char *enc;
	char *type;

	if (p == NULL || info == NULL)
		return -1;
	memset(info, 0, sizeof(*info));
	info->index = i;
	info->parent = p->parent;
	info->depth = p->depth;
	info->flags = part_flags(p->o);
	ct = g_mime_object_get_content_type(p->o);
	type = ct ? g_mime_content_type_get_mime_type(ct) : g_strdup("text/plain");
	info->type = sink_keep(x, g_ascii_strdown(type, -1));
	g_free(type);
	info->charset = g_mime_object_get_content_type_parameter(p->o, "charset");
	if (GMIME_IS_PART(p->o))
		enc = g_mime_content_encoding_to_string(
			g_mime_part_get_content_encoding(GMIME_PART(p->o)));
	else
		enc = g_mime_object_get_header(p->o, "Content-Transfer-Encoding");
	info->encoding = sink_keep(x, g_strstrip(g_ascii_strdown(enc ? enc : "7bit", -1)));
	info->filename = GMIME_IS_PART(p->o) ? g_mime_part_get_filename(GMIME_PART(p->o)) : NULL;
	info->size = p->size;
	return 0;
}

/* api_part_content - part i's content, decoded, at most max bytes */
static int
api_part_content(struct sinkd_ctx *x, unsigned i, int utf8, size_t max,
		 const char **data, size_t *len)
{
	struct sink_part *p = part_at(x, i);
	GMimeStream *mem;
	GByteArray *ba;
	char *out;
	gsize n;

	if (p == NULL || data == NULL || len == NULL || GMIME_IS_MULTIPART(p->o))
		return -1;
	if (utf8 && GMIME_IS_TEXT_PART(p->o)) {
		if ((out = mime_text_get(GMIME_TEXT_PART(p->o))) == NULL)
			return -1;
		n = strlen(out);
	} else {
		mem = g_mime_stream_mem_new();
		if (GMIME_IS_PART(p->o)) {
			GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(p->o));

			if (w && g_mime_data_wrapper_write_to_stream(w, mem) < 0) {
				g_object_unref(mem);
				return -1;
			}
		} else if (GMIME_IS_MESSAGE_PART(p->o)) {
			GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(p->o));

			if (inner && g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem) < 0) {
				g_object_unref(mem);
				return -1;
			}
		}
		ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
		n = ba->len;
		out = g_malloc(n + 1);
		memcpy(out, ba->data, n);
		out[n] = 0;
		g_object_unref(mem);
	}
	if (max && n > max) {
		n = max;
		out[n] = 0;
	}
	*data = sink_keep(x, out);
	*len = n;
	return 0;
}

/* api_raw - the message as received */
static int
api_raw(struct sinkd_ctx *x, const char **data, size_t *len)
{
	struct msg *m = at_eom(x);
	const guchar *d;
	gsize n = 0;

	if (m == NULL || data == NULL || len == NULL || (d = msg_data(m, &n)) == NULL)
		return -1;
	*data = (const char *) d;
	*len = n;
	return 0;
}

/* api_kv_get - a value of the message's store */
static const char *
api_kv_get(struct sinkd_ctx *x, const char *key)
{
	struct msg *m = msg_of(x);

	if (m == NULL || m->kv == NULL || key == NULL)
		return NULL;
	return g_hash_table_lookup(m->kv, key);
}

/* api_kv_set - set (or, value NULL, remove) a key of the message's store */
static int
api_kv_set(struct sinkd_ctx *x, const char *key, const char *value)
{
	struct msg *m = msg_of(x);

	if (m == NULL || key == NULL)
		return -1;
	if (m->kv == NULL)
		m->kv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if (value == NULL)
		g_hash_table_remove(m->kv, key);
	else
		g_hash_table_replace(m->kv, g_strdup(key), g_strdup(value));
	return 0;
}

/* ------------------------------------------------------------------ */
/* doing                                                                */

/* has_crlf - s has a CR or LF */
static int
has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* value_ok - a header value: a CR or LF only as a fold (CRLF and a blank) */
static int
value_ok(const char *v)
{
	const char *p;

	if (v == NULL)
		return 0;
	for (p = v; *p; p++) {
		if (*p == '\r') {
			if (p[1] != '\n' || (p[2] != ' ' && p[2] != '\t'))
				return 0;
			p++;
		} else if (*p == '\n') {
			return 0;
		}
	}
	return 1;
}

/* addr_ok - an address: no control characters, no brackets */
static int
addr_ok(const char *a)
{
	const char *p;

	if (a == NULL)
		return 0;
	for (p = a; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return 0;
	return 1;
}

/* evaluated - under evaluate = yes: log and note what would be done; 1
 * when the edit is to be left out */
static int
evaluated(struct sinkd_ctx *x, const char *what, const char *arg)
{
	struct msg *m = msg_of(x);

	if (!x->evaluate)
		return 0;
	log_notice("%s: %s: evaluate: would %s%s%s", msg_queue_id(m), x->sink->name,
		 what, arg ? " " : "", arg ? arg : "");
	if (m)
		msg_note(m, x->sink->name, "evaluate:%s", what);
	return 1;
}

/* api_reply - the reply of the refusal the hook returns */
static int
api_reply(struct sinkd_ctx *x, const char *code, const char *xcode,
	  const char *text)
{
	struct reply r = {.text = NULL};
	const char *why = NULL;
	char *spec, *cut;
	char dx[8];

	if (x == NULL || x->step < SINK_STEP_CONNECT || x->step > SINK_STEP_EOM
	    || code == NULL || text == NULL || has_crlf(text)
	    || strlen(code) != 3 || (code[0] != '4' && code[0] != '5')
	    || !g_ascii_isdigit(code[1]) || !g_ascii_isdigit(code[2]))
		return -1;
	if (xcode == NULL) {
		g_snprintf(dx, sizeof(dx), "%c.7.1", code[0]);
		xcode = dx;
	}
	if (has_crlf(xcode) || strchr(xcode, ' '))
		return -1;
	cut = g_strndup(text, REPLY_TEXT_MAX);
	if (!g_utf8_validate(cut, -1, (const char **) &spec))
		*spec = 0;	/* a character cut in two goes */
	spec = g_strdup_printf("%s %s %s", code, xcode, cut);
	g_free(cut);
	if (reply_parse(&r, spec, &why) < 0) {
		g_free(spec);
		reply_clear(&r);
		return -1;
	}
	g_free(spec);
	reply_copy(&x->reply, &r);
	reply_clear(&r);
	return 0;
}

/* dkim_held - whether a DKIM signature that verified holds back the
 * edit t (dkim_may_change(), which logs it and names it in the dkim.held
 * fact), what being the call's name; noted for the log line as
 * sink:NAME=dkim-skip:what */
static int
dkim_held(struct sinkd_ctx *x, struct dkim_touch t, const char *what)
{
	struct msg *m = msg_of(x);

	if (dkim_may_change(m, t, x->sink->name))
		return 0;
	msg_note(m, x->sink->name, "dkim-skip:%s", what);
	return 1;
}

/* api_header_add - append a header field */
static int
api_header_add(struct sinkd_ctx *x, const char *name, const char *value)
{
	if (at_eom(x) == NULL || !edits_header_name_ok(name) || !value_ok(value))
		return -1;
	if (evaluated(x, "add-header", name))
		return 0;
	if (dkim_held(x, DKIM_TOUCH_HEADER(name), "add-header"))
		return -1;
	edits_add_header(x->edits, x->sink->name, name, value);
	return 0;
}

/* api_header_insert - insert a header field at index */
static int
api_header_insert(struct sinkd_ctx *x, unsigned index, const char *name,
		  const char *value)
{
	if (at_eom(x) == NULL || !edits_header_name_ok(name) || !value_ok(value)
	    || index > G_MAXINT)
		return -1;
	if (evaluated(x, "insert-header", name))
		return 0;
	if (dkim_held(x, DKIM_TOUCH_HEADER(name), "insert-header"))
		return -1;
	edits_insert_header(x->edits, x->sink->name, (int) index, name, value);
	return 0;
}

/* api_header_change - change (value NULL: delete) a field as received */
static int
api_header_change(struct sinkd_ctx *x, const char *name, unsigned n,
		  const char *value)
{
	struct msg *m = at_eom(x);

	if (m == NULL || !edits_header_name_ok(name) || n == 0 || n > G_MAXINT
	    || (value && !value_ok(value))
	    || (int) n > msg_header_count(m, name, m->headers->len))
		return -1;
	if (evaluated(x, value ? "change-header" : "delete-header", name))
		return 0;
	if (dkim_held(x, DKIM_TOUCH_HEADER(name), value ? "change-header" : "delete-header"))
		return -1;
	return edits_change_header(x->edits, x->sink->name, name, (int) n, value) < 0 ? -1 : 0;
}

/* api_rcpt_add - add an envelope recipient */
static int
api_rcpt_add(struct sinkd_ctx *x, const char *addr)
{
	if (at_eom(x) == NULL || !addr_ok(addr) || *addr == 0)
		return -1;
	if (!evaluated(x, "add-rcpt", addr))
		edits_add_rcpt(x->edits, x->sink->name, addr);
	return 0;
}

/* api_rcpt_delete - remove an envelope recipient */
static int
api_rcpt_delete(struct sinkd_ctx *x, const char *addr)
{
	if (at_eom(x) == NULL || !addr_ok(addr) || *addr == 0)
		return -1;
	if (!evaluated(x, "delete-rcpt", addr))
		edits_del_rcpt(x->edits, x->sink->name, addr);
	return 0;
}

/* api_sender_change - replace the envelope sender */
static int
api_sender_change(struct sinkd_ctx *x, const char *addr)
{
	if (at_eom(x) == NULL || !addr_ok(addr))
		return -1;
	if (!evaluated(x, "change-sender", addr))
		edits_change_from(x->edits, x->sink->name, addr);
	return 0;
}

/*
 * editable - part i as a leaf a body edit may change: in a message whose
 * tree was parsed whole, written back over its own bytes, neither signed
 * or encrypted itself nor inside a part that is; NULL otherwise
 */
static GMimePart *
editable(struct sinkd_ctx *x, unsigned i)
{
	struct msg *m = at_eom(x);
	struct sink_part *p = part_at(x, i);
	unsigned j = i;

	if (m == NULL || p == NULL || !GMIME_IS_PART(p->o) || mime_cut(m)
	    || !mime_part_editable(m, p->o))
		return NULL;
	for (;;) {
		struct sink_part *a = &g_array_index(x->parts, struct sink_part, j);

		if (part_flags(a->o) & (SINKD_PART_SIGNED | SINKD_PART_ENCRYPTED))
			return NULL;
		if (j == 0)
			break;
		j = a->parent;
	}
	return GMIME_PART(p->o);
}

/* set_content - new bytes for part p, in the transfer encoding that
 * suits them */
static void
set_content(GMimePart *p, const void *data, size_t len)
{
	GMimeStream *s = g_mime_stream_mem_new();
	GMimeDataWrapper *w;

	g_mime_stream_write(s, data ? data : "", len);
	g_mime_stream_reset(s);
	w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(p, w);
	g_object_unref(w);
	g_object_unref(s);
	g_mime_part_set_content_encoding(p,
		g_mime_part_get_best_content_encoding(p, GMIME_ENCODING_CONSTRAINT_7BIT));
}

/* set_type - a Content-Type for o; -1 when it does not parse */
static int
set_type(GMimeObject *o, const char *type)
{
	GMimeContentType *ct;

	if (type == NULL)
		return 0;
	if (has_crlf(type) || (ct = g_mime_content_type_parse(NULL, type)) == NULL)
		return -1;
	if (ct->type == NULL || ct->subtype == NULL || !strcmp(ct->type, "multipart")
	    || !strcmp(ct->type, "message")) {
		g_object_unref(ct);
		return -1;
	}
	g_mime_object_set_content_type(o, ct);
	g_object_unref(ct);
	return 0;
}

/* api_part_replace - new content (type, file name) for leaf part i */
static int
api_part_replace(struct sinkd_ctx *x, unsigned i, const char *type,
		 const char *filename, const void *data, size_t len)
{
	GMimePart *p = editable(x, i);

	if (p == NULL || (data == NULL && len) || (filename && has_crlf(filename)))
		return -1;
	if (evaluated(x, "replace-part", sink_keep(x, g_strdup_printf("%u", i))))
		return 0;
	if (dkim_held(x, DKIM_TOUCH_BODY, "replace-part"))
		return -1;
	if (set_type(GMIME_OBJECT(p), type) < 0)
		return -1;
	if (filename)
		g_mime_part_set_filename(p, filename);
	set_content(p, data, len);
	mime_part_changed(x->conn->msg, GMIME_OBJECT(p));
	return 0;
}

/* api_part_remove - part i's content replaced by a text note */
static int
api_part_remove(struct sinkd_ctx *x, unsigned i, const char *note)
{
	GMimePart *p = editable(x, i);

	if (p == NULL || (note && !g_utf8_validate(note, -1, NULL)))
		return -1;
	if (evaluated(x, "remove-part", sink_keep(x, g_strdup_printf("%u", i))))
		return 0;
	if (dkim_held(x, DKIM_TOUCH_BODY, "remove-part"))
		return -1;
	g_mime_object_remove_header(GMIME_OBJECT(p), "Content-Disposition");
	set_type(GMIME_OBJECT(p), "text/plain; charset=utf-8");
	set_content(p, note ? note : "", note ? strlen(note) : 0);
	mime_part_changed(x->conn->msg, GMIME_OBJECT(p));
	return 0;
}

/* api_part_add - the first part added wraps the message's content in a
 * multipart/mixed (mime_wrap), kept with the message's tree, to which
 * later ones are added */
static int
api_part_add(struct sinkd_ctx *x, const char *type, const char *filename,
	     const void *data, size_t len)
{
	struct msg *m = at_eom(x);
	GMimeMultipart *mixed;
	GMimePart *p, *ph;

	if (m == NULL || (data == NULL && len) || (filename && has_crlf(filename))
	    || mime_message(m) == NULL || mime_cut(m))
		return -1;
	if (evaluated(x, "add-part", filename))
		return 0;
	if (dkim_held(x, DKIM_TOUCH_BODY, "add-part"))
		return -1;
	p = g_mime_part_new_with_type("application", "octet-stream");
	if (set_type(GMIME_OBJECT(p), type) < 0) {
		g_object_unref(p);
		return -1;
	}
	if (filename)
		g_mime_part_set_filename(p, filename);
	g_mime_object_set_disposition(GMIME_OBJECT(p), "attachment");
	set_content(p, data, len);
	mixed = g_object_get_data(G_OBJECT(mime_message(m)), "sinkd-sink-added");
	if (mixed == NULL) {
		mixed = g_mime_multipart_new_with_subtype("mixed");
		ph = mime_placeholder_new();
		g_mime_multipart_add(mixed, GMIME_OBJECT(ph));
		mime_wrap(m, GMIME_OBJECT(mixed), GMIME_OBJECT(ph), MIME_ENTITY_CONTENT);
		g_object_unref(ph);
		g_object_set_data_full(G_OBJECT(mime_message(m)), "sinkd-sink-added",
				       mixed, g_object_unref);
	}
	g_mime_multipart_add(mixed, GMIME_OBJECT(p));
	g_object_unref(p);
	return 0;
}

/* html_append - text, escaped, before </body> of html (or at its end) */
static char *
html_append(const char *html, const char *text)
{
	char *low = g_ascii_strdown(html, -1), *at = g_strrstr(low, "</body>");
	char *esc = g_markup_escape_text(text, -1), **lines = g_strsplit(esc, "\n", -1);
	char *br = g_strjoinv("<br>\n", lines), *out;
	gsize cut = at ? (gsize) (at - low) : strlen(html);

	out = g_strdup_printf("%.*s<p>%s</p>\n%s", (int) cut, html, br, html + cut);
	g_free(low);
	g_free(esc);
	g_strfreev(lines);
	g_free(br);
	return out;
}

/* api_text_append - text after text part i's content */
static int
api_text_append(struct sinkd_ctx *x, unsigned i, const char *text)
{
	GMimePart *p = editable(x, i);
	GMimeContentType *ct;
	char *t, *n;
	int rc;

	if (p == NULL || !GMIME_IS_TEXT_PART(p) || g_mime_part_is_attachment(p)
	    || text == NULL || !g_utf8_validate(text, -1, NULL))
		return -1;
	ct = g_mime_object_get_content_type(GMIME_OBJECT(p));
	if (!g_mime_content_type_is_type(ct, "text", "plain")
	    && !g_mime_content_type_is_type(ct, "text", "html"))
		return -1;
	if (evaluated(x, "append-text", sink_keep(x, g_strdup_printf("%u", i))))
		return 0;
	if ((t = mime_text_get(GMIME_TEXT_PART(p))) == NULL)
		return -1;
	if (g_mime_content_type_is_type(ct, "text", "html"))
		n = html_append(t, text);
	else
		n = g_strconcat(t, *t && !g_str_has_suffix(t, "\n") ? "\n" : "", text, NULL);
	g_free(t);
	/* after the message's body as received, text that leaves it as it
	 * was is an append, which a signature with l= does not cover */
	if (dkim_held(x, dkim_holds(msg_of(x), DKIM_TOUCH_BODY)
		      && !dkim_holds(msg_of(x), DKIM_TOUCH_BODY_APPEND)
		      && mime_text_appends(msg_of(x), GMIME_TEXT_PART(p), n)
		      ? DKIM_TOUCH_BODY_APPEND : DKIM_TOUCH_BODY, "append-text")) {
		g_free(n);
		return -1;
	}
	rc = mime_text_set(GMIME_TEXT_PART(p), n);
	g_free(n);
	if (rc < 0)
		return -1;
	mime_part_changed(x->conn->msg, GMIME_OBJECT(p));
	return 0;
}

/* note_key_ok - a note's key: letters, digits, '-', '_', '.' */
static int
note_key_ok(const char *k)
{
	const char *p;

	if (k == NULL || *k == 0)
		return 0;
	for (p = k; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			return 0;
	return 1;
}

/* api_note - a fact sink.NAME.KEY for later handlers and the logs */
static int
api_note(struct sinkd_ctx *x, const char *key, const char *value)
{
	struct msg *m = msg_of(x);
	char *k;

	if (m == NULL || !note_key_ok(key) || value == NULL || has_crlf(value))
		return -1;
	k = g_strdup_printf("sink.%s.%s", short_name(x), key);
	msg_note(m, k, "%s", value);
	g_free(k);
	return 0;
}

/* api_log - a log line of the sink's */
static void
api_log(struct sinkd_ctx *x, enum sinkd_log level, const char *text)
{
	char *t, *p;
	const char *qid;

	if (x == NULL || text == NULL)
		return;
	t = g_strdup(text);
	for (p = t; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	if (x->step == SINK_STEP_INIT && level == SINKD_LOG_ERROR) {
		/* the configuration's error, told as such (sink_set_init) */
		g_free(x->init_error);
		x->init_error = t;
		return;
	}
	qid = x->qid ? x->qid : msg_queue_id(msg_of(x));
	switch (level) {
	case SINKD_LOG_DEBUG:
		log_debug("%s: %s: %s", qid, x->sink->name, t);
		break;
	case SINKD_LOG_INFO:
		log_notice("%s: %s: %s", qid, x->sink->name, t);
		break;
	case SINKD_LOG_WARNING:
		log_warn("%s: %s: %s", qid, x->sink->name, t);
		break;
	default:
		log_error("%s: %s: %s", qid, x->sink->name, t);
		break;
	}
	g_free(t);
}

/* api_footer - a footer as the disclaimer places its text, at commit */
static int
api_footer(struct sinkd_ctx *x, const char *text, const char *html)
{
	struct msg *m = at_eom(x);

	if (m == NULL || text == NULL || !g_utf8_validate(text, -1, NULL)
	    || (html && !g_utf8_validate(html, -1, NULL)))
		return -1;
	if (evaluated(x, "footer", NULL))
		return 0;
	return mime_footer ? mime_footer(m, x->sink->name, text, html) : -1;
}

/* api_wrap - the message whole as a message/rfc822 part of a new one */
static int
api_wrap(struct sinkd_ctx *x, const char *text)
{
	struct msg *m = at_eom(x);
	GMimeMultipart *mixed;
	GMimePart *ph;
	int rc;

	if (m == NULL || (text && !g_utf8_validate(text, -1, NULL))
	    || mime_message(m) == NULL || mime_cut(m))
		return -1;
	if (evaluated(x, "wrap", NULL))
		return 0;
	if (dkim_held(x, DKIM_TOUCH_BODY, "wrap"))
		return -1;
	mixed = g_mime_multipart_new_with_subtype("mixed");
	ph = mime_message_placeholder_new(m);
	g_mime_multipart_add(mixed, GMIME_OBJECT(ph));
	if (text) {
		GMimeTextPart *t = g_mime_text_part_new_with_subtype("plain");

		mime_text_set(t, text);
		g_mime_object_set_disposition(GMIME_OBJECT(t), "inline");
		g_mime_multipart_add(mixed, GMIME_OBJECT(t));
		g_object_unref(t);
	}
	rc = mime_wrap_message(m, GMIME_OBJECT(mixed), GMIME_OBJECT(ph));
	g_object_unref(ph);
	g_object_unref(mixed);
	return rc;
}

const struct sinkd_api sink_api = {
	.size = sizeof(struct sinkd_api),
	.abi_major = SINKD_SINK_ABI_MAJOR,
	.abi_minor = SINKD_SINK_ABI_MINOR,
	.get = api_get,
	.mail_param = api_mail_param,
	.rcpt_param = api_rcpt_param,
	.rcpt = api_rcpt,
	.config = api_config,
	.config_list = api_config_list,
	.header = api_header,
	.header_get = api_header_get,
	.part_info = api_part_info,
	.part_content = api_part_content,
	.raw = api_raw,
	.kv_get = api_kv_get,
	.kv_set = api_kv_set,
	.reply = api_reply,
	.header_add = api_header_add,
	.header_insert = api_header_insert,
	.header_change = api_header_change,
	.rcpt_add = api_rcpt_add,
	.rcpt_delete = api_rcpt_delete,
	.sender_change = api_sender_change,
	.part_replace = api_part_replace,
	.part_remove = api_part_remove,
	.part_add = api_part_add,
	.text_append = api_text_append,
	.note = api_note,
	.log = api_log,
	.footer = api_footer,
	.wrap = api_wrap,
};
