/*
 * astore - the message archive's stores (see astore.h): specs, mailbox
 * names, the event's fields, queries, and the interface, which hands
 * each call to the Maildir store (astore_maildir.c) or the SQL stores
 * (astore_sql.c)
 *
 * Searches filter in SQL where they can, then every record again here
 * (astore_record_matches()), so that all stores answer a query alike.
 *
 * Diagnostics: functions say what went wrong in *why (g_free).
 */
#include <sys/stat.h>
#include <errno.h>
#include <string.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "astore_impl.h"

/* ------------------------------------------------------------------ */
/* specs, names                                                         */

/* parse_spec - the kind of spec and where it points; -1 (*why) if bad */
static int
parse_spec(const char *spec, enum astore_kind *kind, const char **where, char **why)
{
	static const struct {
		const char *prefix;
		enum astore_kind kind;
	} kinds[] = {
		{"maildir:", ASTORE_MAILDIR},
		{"sqlite:", ASTORE_SQLITE},
		{"postgres:", ASTORE_POSTGRES},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(kinds); i++) {
		if (!g_str_has_prefix(spec, kinds[i].prefix))
			continue;
		*kind = kinds[i].kind;
		*where = spec + strlen(kinds[i].prefix);
		if (**where == 0) {
			*why = g_strdup_printf("\"%s\": names no %s", spec,
					       *kind == ASTORE_POSTGRES ? "database" : "path");
			return -1;
		}
		if (*kind != ASTORE_POSTGRES && **where != '/') {
			*why = g_strdup_printf("\"%s\": not an absolute path", spec);
			return -1;
		}
		return 0;
	}
	*why = g_strdup_printf("\"%s\": not maildir:/PATH, sqlite:/PATH or postgres:CONNINFO",
			       spec);
	return -1;
}

/*
 * astore_check - whether spec names a store; 0, or -1 with *why.  A
 * PostgreSQL connection string is parsed, not tried.
 */
int
astore_check(const char *spec, char **why)
{
	enum astore_kind kind;
	const char *where;
	char *err = NULL;
	PQconninfoOption *o;

	if (parse_spec(spec, &kind, &where, why) < 0)
		return -1;
	if (kind != ASTORE_POSTGRES)
		return 0;
	if ((o = PQconninfoParse(where, &err)) == NULL) {
		*why = g_strdup_printf("\"%s\": %s", where,
				       err ? g_strchomp(err) : "not a connection string");
		PQfreemem(err);
		return -1;
	}
	PQconninfoFree(o);
	return 0;
}

/*
 * astore_component - s as one path component: ASCII letters in lower
 * case, '/' and control characters as '_', a leading '.' as '_', "_"
 * for "", and when longer than max bytes, its first max - 17 bytes, '~'
 * and 16 hex digits of its SHA-256 (g_free)
 */
char *
astore_component(const char *s, gsize max)
{
	GString *o = g_string_new(NULL);
	const char *p;

	for (p = s; *p; p++) {
		guchar c = (guchar) *p;

		if (c == '/' || c < 0x20 || c == 0x7f || (p == s && c == '.'))
			c = '_';
		g_string_append_c(o, g_ascii_tolower(c));
	}
	if (o->len == 0)
		g_string_append_c(o, '_');
	if (o->len > max) {
		char *h = g_compute_checksum_for_string(G_CHECKSUM_SHA256, s, -1);

		g_string_truncate(o, max - 17);
		g_string_append_printf(o, "~%.16s", h);
		g_free(h);
	}
	return g_string_free(o, FALSE);
}

/* astore_mailbox - the domain and local part of addr ("<a@b>" or a@b),
 * each made a path component (astore_component(); g_free) */
void
astore_mailbox(const char *addr, char **domain, char **local)
{
	char *a = g_strdup(addr), *at, *s = a;
	gsize n = strlen(a);

	if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
		a[n - 1] = 0;
		s = a + 1;
	}
	at = strrchr(s, '@');
	if (at)
		*at = 0;
	*domain = astore_component(at ? at + 1 : "", ASTORE_DOMAIN_MAX);
	*local = astore_component(s, ASTORE_LOCAL_MAX);
	g_free(a);
}

/* host_name - this host for Maildir names: '/' as \057, ':' as \072 */
static char *
host_name(void)
{
	GString *o = g_string_new(NULL);
	const char *p;

	for (p = g_get_host_name(); *p; p++) {
		if (*p == '/')
			g_string_append(o, "\\057");
		else if (*p == ':')
			g_string_append(o, "\\072");
		else
			g_string_append_c(o, *p);
	}
	return g_string_free(o, FALSE);
}

/* astore_open - a store for spec (astore_check()ed); files group-
 * readable when group_read; timeout in seconds for a busy SQLite file or
 * a PostgreSQL connection and statement.  Nothing is touched yet. */
struct astore *
astore_open(const char *spec, int group_read, int timeout)
{
	struct astore *a = g_new0(struct astore, 1);
	const char *where;
	char *why = NULL;

	if (parse_spec(spec, &a->kind, &where, &why) < 0) {
		g_free(why);
		g_free(a);
		return NULL;
	}
	a->where = g_strdup(where);
	a->fmode = group_read ? 0640 : 0600;
	a->dmode = group_read ? 0750 : 0700;
	a->timeout = timeout > 0 ? timeout : 10;
	a->host = host_name();
	return a;
}

/* astore_close - the store, and its connection */
void
astore_close(struct astore *a)
{
	if (a == NULL)
		return;
	if (a->db)
		sqlite3_close(a->db);	/* rolls back what was not synced */
	if (a->md_pending)	/* left in tmp/: put again from the journal */
		g_hash_table_destroy(a->md_pending);
	if (a->pg)
		PQfinish(a->pg);
	g_free(a->where);
	g_free(a->host);
	g_free(a);
}

enum astore_kind
astore_kind(const struct astore *a)
{
	return a->kind;
}

/* ------------------------------------------------------------------ */
/* the event                                                            */

/* astore_ev_str - a string member of o, or def */
const char *
astore_ev_str(JsonObject *o, const char *name, const char *def)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;

	if (n == NULL || json_node_get_value_type(n) != G_TYPE_STRING)
		return def;
	return json_node_get_string(n);
}

/* astore_ev_header - the event's values of header field name, ", " between
 * them (g_free); "" when it has none */
char *
astore_ev_header(JsonObject *ev, const char *name, int first)
{
	JsonNode *hn = json_object_get_member(ev, "headers");
	JsonArray *v;
	GString *o = g_string_new(NULL);
	guint i;

	if (hn == NULL || !JSON_NODE_HOLDS_OBJECT(hn))
		return g_string_free(o, FALSE);
	hn = json_object_get_member(json_node_get_object(hn), name);
	if (hn == NULL || !JSON_NODE_HOLDS_ARRAY(hn))
		return g_string_free(o, FALSE);
	v = json_node_get_array(hn);
	for (i = 0; i < json_array_get_length(v) && !(first && i > 0); i++) {
		JsonNode *e = json_array_get_element(v, i);

		if (json_node_get_value_type(e) == G_TYPE_STRING)
			g_string_append_printf(o, "%s%s", o->len ? ", " : "", json_node_get_string(e));
	}
	return g_string_free(o, FALSE);
}

/* astore_ev_member_json - member name of ev as compact JSON (g_free); "null" */
char *
astore_ev_member_json(JsonObject *ev, const char *name)
{
	JsonNode *n = json_object_get_member(ev, name);

	return n ? json_to_string(n, FALSE) : g_strdup("null");
}

/* astore_ev_recipients - the envelope recipients (g_strfreev) */
char **
astore_ev_recipients(JsonObject *ev)
{
	JsonNode *n = json_object_get_member(ev, "recipients");
	GPtrArray *v = g_ptr_array_new();
	guint i;

	if (n && JSON_NODE_HOLDS_ARRAY(n)) {
		JsonArray *a = json_node_get_array(n);

		for (i = 0; i < json_array_get_length(a); i++) {
			JsonNode *e = json_array_get_element(a, i);

			if (json_node_get_value_type(e) == G_TYPE_STRING)
				g_ptr_array_add(v, g_strdup(json_node_get_string(e)));
		}
	}
	g_ptr_array_add(v, NULL);
	return (char **) g_ptr_array_free(v, FALSE);
}

/* astore_rec_clear - what a record holds */
void
astore_rec_clear(struct astore_rec *r)
{
	g_free(r->key);
	g_free(r->time);
	g_free(r->direction);
	g_free(r->sender);
	g_strfreev(r->recipients);
	g_free(r->from);
	g_free(r->to);
	g_free(r->subject);
	g_free(r->message_id);
	g_free(r->date);
	g_free(r->sha256);
	memset(r, 0, sizeof(*r));
}

/* astore_rec_from_event - the record of an event (or of an index line, which
 * has the event's members and the first header values as its own) */
void
astore_rec_from_event(struct astore_rec *r, JsonObject *ev)
{
	r->key = g_strdup(astore_ev_str(ev, "key", ""));
	r->time = g_strdup(astore_ev_str(ev, "time", ""));
	r->direction = g_strdup(astore_ev_str(ev, "direction", ""));
	r->sender = g_strdup(astore_ev_str(ev, "sender", ""));
	r->recipients = astore_ev_recipients(ev);
	r->from = astore_ev_header(ev, "from", 1);
	r->to = astore_ev_header(ev, "to", 0);
	r->subject = astore_ev_header(ev, "subject", 1);
	r->message_id = astore_ev_header(ev, "message-id", 1);
	r->date = astore_ev_header(ev, "date", 1);
	r->size = json_object_has_member(ev, "size") ? json_object_get_int_member(ev, "size") : 0;
	r->sha256 = g_strdup(astore_ev_str(ev, "sha256", ""));
}

/* astore_day_bound - a query's since/until as compared with times: a day alone
 * becomes its first instant, or (until) one past its last (g_free) */
char *
astore_day_bound(const char *t, int until)
{
	if (strlen(t) == 10)
		return g_strconcat(t, until ? "T99" : "T00:00:00", NULL);
	return g_strdup(t);
}

/* astore_msgid_norm - a Message-ID as stored: in <> (g_free) */
char *
astore_msgid_norm(const char *id)
{
	return *id == '<' ? g_strdup(id) : g_strconcat("<", id, ">", NULL);
}

/* astore_record_matches - whether r answers q (see astore_query) */
int
astore_record_matches(const struct astore_rec *r, const struct astore_query *q)
{
	int ok = 1;
	char *b;

	if (q->key && !g_str_has_prefix(r->key, q->key))
		return 0;
	if (q->sender && g_ascii_strcasecmp(r->sender, q->sender))
		return 0;
	if (q->recipient) {
		char **p;

		ok = 0;
		for (p = r->recipients; p && *p && !ok; p++)
			ok = !g_ascii_strcasecmp(*p, q->recipient);
		if (!ok)
			return 0;
	}
	if (q->since) {
		b = astore_day_bound(q->since, 0);
		ok = strcmp(r->time, b) >= 0;
		g_free(b);
		if (!ok)
			return 0;
	}
	if (q->until) {
		b = astore_day_bound(q->until, 1);
		ok = strcmp(r->time, b) <= 0;
		g_free(b);
		if (!ok)
			return 0;
	}
	if (q->subject) {
		char *s = g_utf8_casefold(r->subject, -1), *n = g_utf8_casefold(q->subject, -1);

		ok = strstr(s, n) != NULL;
		g_free(s);
		g_free(n);
		if (!ok)
			return 0;
	}
	if (q->message_id) {
		b = astore_msgid_norm(q->message_id);
		ok = !strcmp(r->message_id, b);
		g_free(b);
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* the interface                                                        */

/*
 * astore_put - the message of ev, as received (len bytes of data), stored
 * (see the head of the file); ASTORE_DONE also when it was stored before.
 * want (NULL: all) chooses the inbound recipients whose Maildir gets a
 * copy; a SQL row has them all.
 */
enum astore_result
astore_put(struct astore *a, JsonObject *ev, const char *data, gsize len,
	   astore_want_fn want, void *ctx, char **why)
{
	if (*astore_ev_str(ev, "key", "") == 0) {
		*why = g_strdup("the event has no key");
		return ASTORE_FAIL;
	}
	if (data == NULL) {
		*why = g_strdup("no copy of the message");
		return ASTORE_FAIL;
	}
	switch (a->kind) {
	case ASTORE_MAILDIR:
		return astore_md_put(a, ev, data, len, want, ctx, why);
	case ASTORE_SQLITE:
		return astore_lite_put(a, ev, data, len, why);
	default:
		return astore_pg_put(a, ev, data, len, why);
	}
}

/*
 * astore_sync - what astore_put() stored since the last sync on disk:
 * ASTORE_DONE, or ASTORE_RETRY (*why) when it is not, and must be put
 * again.  SQLite puts share a transaction, committed here; a Maildir's
 * copies wait in tmp/ and are synced and moved to new/ here (one sync of
 * the index and of each new/ for many messages); PostgreSQL makes each
 * put durable before it returns.
 */
enum astore_result
astore_sync(struct astore *a, char **why)
{
	switch (a->kind) {
	case ASTORE_SQLITE:
		return astore_lite_sync(a, why);
	case ASTORE_MAILDIR:
		return astore_md_sync(a, why);
	default:
		return ASTORE_DONE;
	}
}

/* astore_search - each record answering q to each(r, ctx), oldest
 * first (a Maildir's: in the order stored); 0, or -1 (*why) */
int
astore_search(struct astore *a, const struct astore_query *q,
	      void (*each)(const struct astore_rec *r, void *ctx), void *ctx, char **why)
{
	if (a->kind == ASTORE_MAILDIR)
		return astore_md_search(a, q, each, ctx, why);
	return astore_sql_search(a, q, each, ctx, why);
}

/*
 * astore_get - the stored message whose key is key or starts with it:
 * 0 and *msg (g_bytes_unref) and *full_key (g_free), -1 there is none,
 * -2 more than one key starts so, -3 it cannot be read (*why)
 */
int
astore_get(struct astore *a, const char *key, GBytes **msg, char **full_key, char **why)
{
	if (a->kind == ASTORE_MAILDIR)
		return astore_md_get(a, key, msg, full_key, why);
	return astore_sql_get(a, key, msg, full_key, why);
}
