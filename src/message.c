/*
 * message - connection and message contexts, and the message spool
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <glib.h>

#include "dkim.h"
#include "handler.h"
#include "log.h"
#include "message.h"
#include "mime.h"
#include "policy.h"
#include "sink.h"

/* conn_new - a connection pinned to snap (takes a reference) */
struct conn *
conn_new(struct snapshot *snap)
{
	struct conn *c = g_new0(struct conn, 1);

	c->snap = snapshot_ref(snap);
	return c;
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->msg)
		msg_free(c->msg);
	sink_conn_end(c);
	snapshot_unref(c->snap);
	reply_clear(&c->reply);
	g_free(c->client_addr);
	g_free(c->client_name);
	g_free(c->helo);
	g_free(c);
}

/* conn_set_client - record the client; a NULL address is a local one */
void
conn_set_client(struct conn *c, const char *addr, const char *name)
{
	g_free(c->client_addr);
	g_free(c->client_name);
	c->client_addr = g_strdup(addr);
	/* MTAs send "[192.0.2.1]" for a client without a verified name: call
	 * it "unknown", as Postfix's own logs do, so rules can match it */
	c->client_name = g_strdup(name && *name && *name != '[' ? name : "unknown");
	c->internal = addr == NULL || cidr_list_match(c->snap->internal, addr);
}

/* conn_macro - an MTA macro such as "i" or "{auth_authen}", or NULL */
const char *
conn_macro(struct conn *c, const char *name)
{
	return c->macro ? c->macro(c, name) : NULL;
}

/* addr_strip - an address without angle brackets and surrounding space */
char *
addr_strip(const char *addr)
{
	const char *p = addr, *end;

	while (*p == ' ')
		p++;
	if (*p == '<')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '>'))
		end--;
	return g_strndup(p, end - p);
}

/* addr_domain - the lower-cased domain of an address, "" when none */
char *
addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return g_ascii_strdown(at ? at + 1 : "", -1);
}

/* header_free - one struct header, as a GPtrArray's free function */
void
header_free(gpointer p)
{
	struct header *h = p;

	g_free(h->name);
	g_free(h->value);
	g_free(h);
}

/* msg_new - start a message; outbound when the client is internal or
 * authenticated */
struct msg *
msg_new(struct conn *c, const char *sender, const char *auth)
{
	struct msg *m = g_new0(struct msg, 1);
	const struct snapshot *s = c->snap;

	m->conn = c;
	m->queue_id = g_strdup("NOQUEUE");
	m->sender = addr_strip(sender);
	m->sender_domain = addr_domain(m->sender);
	m->auth_user = auth && *auth ? g_strdup(auth) : NULL;
	m->outbound = c->internal || m->auth_user != NULL;
	m->mail_policy = m->outbound ? policy_for_domain(s, m->sender_domain)
		: s->def;
	m->rcpts = g_ptr_array_new_with_free_func((GDestroyNotify) msg_rcpt_free);
	m->headers = g_ptr_array_new_with_free_func(header_free);
	m->header_index = g_hash_table_new_full(edits_name_hash, edits_name_equal,
						NULL, (GDestroyNotify) g_array_unref);
	spool_init(&m->spool, conf_str(&s->main, "spool-dir"),
		   conf_num(&s->main, "body-memory-limit"));
	edits_init(&m->edits);
	m->started = g_get_monotonic_time();
	m->handler_us = g_new0(gint64, s->nchain ? s->nchain : 1);
	c->msg = m;
	c->nmsgs++;
	return m;
}

/* msg_free - the one exit of a message (end of message or abort) */
void
msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	if (m->conn)
		sink_msg_end(m);
	if (m->conn && m->conn->msg == m)
		m->conn->msg = NULL;
	g_ptr_array_free(m->rcpts, TRUE);
	g_hash_table_destroy(m->header_index);
	g_ptr_array_free(m->headers, TRUE);
	mime_free(m->mime);
	spool_free(&m->spool);
	edits_free(&m->edits);
	policy_free(m->merged);
	g_free(m->handler_us);
	if (m->facts)
		g_hash_table_destroy(m->facts);
	dkim_state_free(m->dkim);
	if (m->kv)
		g_hash_table_destroy(m->kv);
	g_strfreev(m->mail_params);
	g_free(m->queue_id);
	g_free(m->sender);
	g_free(m->sender_domain);
	g_free(m->auth_user);
	if (m->notes)
		g_string_free(m->notes, TRUE);
	if (m->log_notes)
		g_string_free(m->log_notes, TRUE);
	g_free(m);
}

/* msg_rcpt_new - a candidate recipient with its domain's policy */
struct rcpt *
msg_rcpt_new(struct msg *m, const char *addr)
{
	struct rcpt *r = g_new0(struct rcpt, 1);

	r->addr = addr_strip(addr);
	r->domain = addr_domain(r->addr);
	r->policy = policy_for_domain(m->conn->snap, r->domain);
	return r;
}

/* msg_rcpt_keep - the chain accepted r: it is now the message's */
void
msg_rcpt_keep(struct msg *m, struct rcpt *r)
{
	g_ptr_array_add(m->rcpts, r);
}

void
msg_rcpt_free(struct rcpt *r)
{
	if (r == NULL)
		return;
	g_free(r->addr);
	g_free(r->domain);
	g_strfreev(r->params);
	g_free(r);
}

/* msg_write - append to the spool unless the message is already too big */
static int
msg_write(struct msg *m, const void *data, gsize len)
{
	long long max = conf_num(&m->conn->snap->main, "max-message-size");

	m->size += len;
	if (max > 0 && m->size > (gsize) max)
		m->too_big = 1;
	if (m->too_big || m->spool_errno)
		return 0;
	if (spool_append(&m->spool, data, len) < 0) {
		m->spool_errno = errno;
		log_warn("%s: cannot spool message: %s", m->queue_id,
			 spool_why(&m->spool) ? spool_why(&m->spool) : g_strerror(errno));
		return -1;
	}
	return 0;
}

/* msg_header - one header as received; kept as "name:value\r\n" with any
 * line break inside value written as CRLF */
int
msg_header(struct msg *m, const char *name, const char *value)
{
	struct header *h = g_new0(struct header, 1);
	GString *line;
	GArray *at;
	guint pos = m->headers->len;

	h->name = g_strdup(name);
	h->value = g_strdup(value);
	g_ptr_array_add(m->headers, h);
	/* the index's keys are the first field's name of each: the fields
	 * live as long as the index */
	if ((at = g_hash_table_lookup(m->header_index, h->name)) == NULL) {
		at = g_array_new(FALSE, FALSE, sizeof(guint));
		g_hash_table_insert(m->header_index, h->name, at);
	}
	g_array_append_val(at, pos);
	h->nth = at->len;
	line = msg_header_line(h);
	msg_write(m, line->str, line->len);
	g_string_free(line, TRUE);
	return m->spool_errno ? -1 : 0;
}

/* msg_header_line - a header field as spooled: "name:value" and CRLF, any
 * line break inside the value made CRLF */
GString *
msg_header_line(const struct header *h)
{
	GString *line = g_string_new(h->name);
	const char *p;

	g_string_append_c(line, ':');
	for (p = h->value; *p; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\n')
			g_string_append_c(line, '\r');
		g_string_append_c(line, *p);
	}
	g_string_append(line, "\r\n");
	return line;
}

/* msg_end_headers - the empty line between header and body */
int
msg_end_headers(struct msg *m)
{
	if (m->headers_ended)
		return m->spool_errno ? -1 : 0;
	m->headers_ended = 1;
	msg_write(m, "\r\n", 2);
	m->body_offset = m->spool.len;
	return m->spool_errno ? -1 : 0;
}

/* msg_body - a chunk of body, as the MTA sends it (CRLF lines) */
int
msg_body(struct msg *m, const void *data, gsize len)
{
	if (!m->headers_ended)
		msg_end_headers(m);
	msg_write(m, data, len);
	return m->spool_errno ? -1 : 0;
}

/* msg_header_positions - where the fields named name are in m->headers,
 * in order, and how many (*n); NULL when there is none */
const guint *
msg_header_positions(const struct msg *m, const char *name, guint *n)
{
	GArray *at = g_hash_table_lookup(m->header_index, name);

	*n = at ? at->len : 0;
	return at ? (const guint *) at->data : NULL;
}

/* msg_header_value - the value of the first field named name (as
 * received, leading space included), or NULL */
const char *
msg_header_value(const struct msg *m, const char *name)
{
	guint n;
	const guint *at = msg_header_positions(m, name, &n);

	if (at == NULL)
		return NULL;
	return ((const struct header *) g_ptr_array_index(m->headers, at[0]))->value;
}

/* msg_header_count - how many fields named name come before position
 * upto (m->headers->len: all of them); a binary search of the index */
int
msg_header_count(const struct msg *m, const char *name, guint upto)
{
	guint n, lo = 0, hi;
	const guint *at = msg_header_positions(m, name, &n);

	for (hi = n; lo < hi;) {
		guint mid = lo + (hi - lo) / 2;

		if (at[mid] < upto)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (int) lo;
}

/* msg_data - the whole message as received, or NULL (see errno) */
const guchar *
msg_data(struct msg *m, gsize *len)
{
	return spool_data(&m->spool, len);
}

/* msg_policy - the DATA and end-of-message policy: the sender domain's
 * for outbound mail, the strictest combination of the recipient domains'
 * for inbound mail.  NULL when it cannot be built. */
const struct policy *
msg_policy(struct msg *m)
{
	const struct policy **p;
	guint i;

	if (m->policy)
		return m->policy;
	if (m->outbound || m->rcpts->len == 0) {
		m->policy = m->mail_policy;
		return m->policy;
	}
	p = g_new0(const struct policy *, m->rcpts->len);
	for (i = 0; i < m->rcpts->len; i++)
		p[i] = ((struct rcpt *) g_ptr_array_index(m->rcpts, i))->policy;
	m->policy = policy_combine(m->conn->snap, p, m->rcpts->len, &m->merged);
	g_free(p);
	return m->policy;
}

const char *
msg_queue_id(const struct msg *m)
{
	return m ? m->queue_id : "NOQUEUE";
}

void
msg_set_queue_id(struct msg *m, const char *id)
{
	if (id && *id) {
		g_free(m->queue_id);
		m->queue_id = g_strdup(id);
	}
}

/* msg_fact - a fact for handlers and sinks (api->get()), kept as given,
 * that the log line leaves out (msg_note() is both) */
void
msg_fact(struct msg *m, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (m->facts == NULL)
		m->facts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	va_start(ap, fmt);
	g_hash_table_replace(m->facts, g_strdup(key), g_strdup_vprintf(fmt, ap));
	va_end(ap);
}

/* note_add - the fact key = v, and " key=value" on m's notes with v made
 * one word in place */
static void
note_add(struct msg *m, const char *key, char *v)
{
	char *p;

	if (m->facts == NULL)
		m->facts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_hash_table_replace(m->facts, g_strdup(key), g_strdup(v));
	for (p = v; *p; p++)
		if (g_ascii_isspace(*p) || !g_ascii_isprint(*p))
			*p = '_';
	if (m->notes == NULL)
		m->notes = g_string_new(NULL);
	g_string_append_printf(m->notes, " %s=%s", key, v);
}

/* note_vadd - note_add() of fmt's value; returns the value, g_free() it */
static char *
note_vadd(struct msg *m, const char *key, const char *fmt, va_list ap)
{
	char *v = g_strdup_vprintf(fmt, ap);

	note_add(m, key, v);
	return v;
}

/* msg_note - what a handler did, or under conn->dry_run would have done,
 * beyond the verdict and the edits (quarantined where), as " key=value"
 * for sinkd -t's verdict line; in the value, white space and every byte
 * that is not printable ASCII is made '_', so that it stays one word.
 * The value as given is kept too, for sinks (api->get(), sinkd-sink(3)) */
void
msg_note(struct msg *m, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_free(note_vadd(m, key, fmt, ap));
	va_end(ap);
}

/* msg_log_note - msg_note(), and the note on the per-message log line
 * too (chain_log_message()), after the policy: for what a handler
 * measured that the administrator reads there (clamav-wait) */
void
msg_log_note(struct msg *m, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *v;

	va_start(ap, fmt);
	v = note_vadd(m, key, fmt, ap);
	va_end(ap);
	if (m->log_notes == NULL)
		m->log_notes = g_string_new(NULL);
	g_string_append_printf(m->log_notes, " %s=%s", key, v);
	g_free(v);
}

/* The variables every template may use (sinkd-policy(5)). */
const char *const msg_variables[] = {
	"client_addr", "client_name", "helo", "sender", "sender_domain",
	"queue_id", "auth_user", "nrcpt", "direction", "policy", "date", NULL,
};

/* msg_variable - a template variable's value for message m (a tmpl_lookup;
 * the number is kept in a per-thread buffer) */
const char *
msg_variable(const char *name, void *ctx)
{
	struct msg *m = ctx;
	struct conn *c = m->conn;
	static __thread char num[32];

	if (!strcmp(name, "client_addr"))
		return c->client_addr ? c->client_addr : "local";
	if (!strcmp(name, "client_name"))
		return c->client_name;
	if (!strcmp(name, "helo"))
		return c->helo;
	if (!strcmp(name, "sender"))
		return m->sender;
	if (!strcmp(name, "sender_domain"))
		return m->sender_domain;
	if (!strcmp(name, "queue_id"))
		return m->queue_id;
	if (!strcmp(name, "auth_user"))
		return m->auth_user;
	if (!strcmp(name, "nrcpt")) {
		g_snprintf(num, sizeof(num), "%u", m->rcpts->len);
		return num;
	}
	if (!strcmp(name, "direction"))
		return m->outbound ? "outbound" : "inbound";
	if (!strcmp(name, "policy"))
		return m->policy ? m->policy->domain : m->mail_policy->domain;
	if (!strcmp(name, "date")) {
		GDateTime *now = g_date_time_new_now_local();
		char *d = g_date_time_format(now, "%Y-%m-%d");

		g_snprintf(num, sizeof(num), "%s", d);
		g_free(d);
		g_date_time_unref(now);
		return num;
	}
	return NULL;
}
