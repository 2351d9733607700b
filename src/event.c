/*
 * event - after-accept events: the [event:NAME] groups, the event of an
 *	accepted message, and the shipper (see event.h)
 *
 * Configuration: event_set_load() makes a struct event_target, a handler
 * that is never in the chain, for each [event:NAME] group of sinkd.conf;
 * policy.c adds them to the snapshot's registry, so that domain files
 * set their per-domain keys as for any handler and sinkd -P shows them.
 * Each target's type opens its group once at load (for sinkd -n and a
 * reload, to check it) and closes it again: the shipper opens its own.
 *
 * At end of message (event_accepted(), from the milter glue): the
 * targets due, the event, a body copy when one of them wants it, and
 * the journal record (payload: the names of the targets due, a newline,
 * then the event as one line of JSON), on disk before the MTA is
 * answered.
 *
 * The shipper (event_start()): the journal, opened (and replayed) in
 * state-dir/journal, and one thread per target of the first snapshot,
 * which delivers each record due to it in order, retrying with back-off,
 * and writes its cursor at most once a second while busy and whenever it
 * has caught up.
 */
#include <sys/stat.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "event.h"
#include "handler.h"
#include "journal.h"
#include "log.h"
#include "message.h"
#include "policy.h"
#include "sink.h"
#include "stats.h"

#define EVENT_PERSIST_US	G_USEC_PER_SEC	/* cursor writes while busy */
#define EVENT_RETRY_MIN		1		/* seconds, first back-off */


/* Keys of every [event:NAME] group, before its type's own; documented in
 * sinkd-events(5), KEYS OF EVERY TARGET. */
const struct conf_key event_target_keys[] = {
	{"enabled", CONF_BOOL, "yes", .merge = MERGE_TRUE,
	 .doc = "whether the target gets the events of mail under this policy"},
	{"direction", CONF_ENUM, "both", .values = direction_values, .merge = MERGE_ENUM_LAST,
	 .doc = "which mail the target gets events of: outbound, inbound or both"},
	{"retry-max", CONF_TIME, "5m", 1, 86400, .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "the longest wait between two tries of a delivery that failed for now"},
	{NULL},
};

/* The type key, first of every group; its default is the type's name in
 * sinkd -d, and the group must set it. */
static const struct conf_key event_type_key = {
	"type", CONF_STRING, "", .flags = CONF_NODOMAIN | CONF_RESTART,
	.doc = "the target's type: webhook, redis, postgres or archive",
};

const struct event_type *const event_types[] = {
	&event_webhook,
	&event_redis,
	&event_postgres,
	&event_archive,
	NULL,
};

/* One [event:NAME] group of a snapshot. */
struct event_target {
	struct handler h;	/* parent: h.name is "event:NAME" */
	char *name;		/* "event:NAME" */
	const struct event_type *type;
	struct conf_key *keys;	/* type, event_target_keys, the type's */
};

struct event_set {
	struct event_target **v;
	unsigned n;
};

/* One target of the shipper. */
struct shipper {
	char *name;		/* "event:NAME" or "sink:NAME" */
	const struct event_type *type;
	void *handle;
	int wants_body;
	unsigned index;		/* in the journal */
	gint64 retry_max;	/* seconds */
	GThread *thread;
	guint64 done;		/* the last record it is done with */
	guint64 synced;		/* ...and the target has durably (sync) */
	unsigned pending;	/* records done since the last sync */
	int dirty;		/* done is not on disk yet */
	gint64 persisted;	/* when it last was (monotonic) */
	guint64 delivered, failed, retries;
};

/* The process's shipper: set once by event_start(), read by the message
 * threads (j and the tables are immutable until event_stop()). */
static struct {
	struct journal *j;
	struct shipper *v;
	unsigned n;
	GMutex lock;
	GCond cond;		/* stopping */
	int stopping;
} ship;

/* ------------------------------------------------------------------ */
/* configuration                                                        */

/* event_type_find - the type named name, or NULL */
const struct event_type *
event_type_find(const char *name)
{
	unsigned i;

	for (i = 0; event_types[i]; i++)
		if (!strcmp(event_types[i]->name, name))
			return event_types[i];
	return NULL;
}

/* type_names - "webhook, ..." (g_free) */
static char *
type_names(void)
{
	GString *s = g_string_new(NULL);
	unsigned i;

	for (i = 0; event_types[i]; i++)
		g_string_append_printf(s, "%s%s", i ? ", " : "", event_types[i]->name);
	return g_string_free(s, FALSE);
}

/* target_keys - type, the common keys, then t's type's: one table */
static struct conf_key *
target_keys(const struct event_type *type)
{
	unsigned n = 1, i, k = 0;
	struct conf_key *v;

	for (i = 0; event_target_keys[i].name; i++)
		n++;
	for (i = 0; type->keys && type->keys[i].name; i++)
		n++;
	v = g_new0(struct conf_key, n + 1);
	v[k++] = event_type_key;
	for (i = 0; event_target_keys[i].name; i++)
		v[k++] = event_target_keys[i];
	for (i = 0; type->keys && type->keys[i].name; i++)
		v[k++] = type->keys[i];
	return v;
}

/* target_inbound - what a target's group asks of inbound mail (it is
 * never chained): a domain whose target takes outbound mail only wants
 * no inbound event, so that combined with another domain that has the
 * target off it does not make one due */
static void
target_inbound(struct conf_group *g, int chained)
{
	(void) chained;
	if (!strcmp(conf_str(g, "direction"), "outbound"))
		conf_set(g, "enabled", "no");
}

/* name_ok - NAME of event:NAME: letters, digits, '-', '_', '.' */
static int
name_ok(const char *s)
{
	if (*s == 0)
		return 0;
	for (; *s; s++)
		if (!g_ascii_isalnum(*s) && !strchr("-_.", *s))
			return 0;
	return 1;
}

/* target_free - what event_set_load() made of a group */
static void
target_free(struct event_target *t)
{
	g_free(t->keys);
	g_free(t->name);
	g_free(t);
}

/*
 * event_set_load - a target for every [event:NAME] group of f (errors
 * with file:line into e); NULL when there is none
 */
struct event_set *
event_set_load(struct snapshot *s, const struct conf_file *f, struct conf_errors *e)
{
	char **groups = conf_file_groups(f);
	GPtrArray *v = g_ptr_array_new();
	struct event_set *set;
	unsigned i;

	(void) s;
	for (i = 0; groups[i]; i++) {
		struct event_target *t;
		const struct event_type *type;
		char *tn;
		int line = conf_file_group_line(f, groups[i]);

		if (!g_str_has_prefix(groups[i], "event:"))
			continue;
		if (!name_ok(groups[i] + 6)) {
			conf_errorf(e, "%s:%d: [%s]: not a target name (letters, digits, '-', '_', '.')",
				    conf_file_path(f), line, groups[i]);
			continue;
		}
		tn = conf_file_get(f, groups[i], "type");
		if (tn == NULL || *g_strstrip(tn) == 0) {
			char *known = type_names();

			conf_errorf(e, "%s:%d: [%s]: no type (one of %s)",
				    conf_file_path(f), line, groups[i], known);
			g_free(known);
			g_free(tn);
			continue;
		}
		if ((type = event_type_find(tn)) == NULL) {
			char *known = type_names();

			conf_errorf(e, "%s:%d: type: unknown target type \"%s\" (known: %s)",
				    conf_file_path(f), conf_file_key_line(f, groups[i], "type"),
				    tn, known);
			g_free(known);
			g_free(tn);
			continue;
		}
		g_free(tn);
		t = g_new0(struct event_target, 1);
		t->name = g_strdup(groups[i]);
		t->type = type;
		t->keys = target_keys(type);
		t->h.name = t->name;
		t->h.keys = t->keys;
		t->h.inbound = target_inbound;
		g_ptr_array_add(v, t);
	}
	g_strfreev(groups);
	if (v->len == 0) {
		g_ptr_array_free(v, TRUE);
		return NULL;
	}
	set = g_new0(struct event_set, 1);
	set->n = v->len;
	set->v = (struct event_target **) g_ptr_array_free(v, FALSE);
	return set;
}

/* event_set_registry - reg's handlers, then the targets' (g_free); reg
 * stays the caller's */
const struct handler **
event_set_registry(const struct event_set *set, const struct handler **reg)
{
	unsigned n = 0, i;
	const struct handler **r;

	while (reg[n])
		n++;
	r = g_new0(const struct handler *, n + (set ? set->n : 0) + 1);
	memcpy(r, reg, n * sizeof(*r));
	for (i = 0; set && i < set->n; i++)
		r[n + i] = &set->v[i]->h;
	return r;
}

/* event_set_check - each target's type opens (and closes) its group in
 * the default policy: what is wrong goes to e */
void
event_set_check(const struct snapshot *s, struct conf_errors *e)
{
	unsigned i;

	for (i = 0; s->events && i < s->events->n; i++) {
		struct event_target *t = s->events->v[i];
		const struct conf_group *g = snapshot_group(s, &t->h);
		void *h;

		if (g == NULL)
			continue;
		if ((h = t->type->open(g, e)) != NULL)
			t->type->close(h);
	}
}

/* event_set_free - the targets of a snapshot */
void
event_set_free(struct event_set *set)
{
	unsigned i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		target_free(set->v[i]);
	g_free(set->v);
	g_free(set);
}

/* event_dump_keys - sinkd -d: a group per type, [event:TYPE] */
void
event_dump_keys(void (*dump)(const struct conf_key *k, int handler))
{
	unsigned i, k;

	for (i = 0; event_types[i]; i++) {
		struct conf_key *keys = target_keys(event_types[i]);

		printf("\n[event:%s]\n", event_types[i]->name);
		keys[0].def = event_types[i]->name;
		for (k = 0; keys[k].name; k++)
			dump(&keys[k], 1);
		g_free(keys);
	}
}

/* ------------------------------------------------------------------ */
/* the event                                                            */

/* due_target - whether target t's group in policy p wants m */
static int
due_target(const struct policy *p, const struct event_target *t, const struct msg *m)
{
	const struct conf_group *g = policy_group_of(p, &t->h);

	if (g == NULL || !conf_bool(g, "enabled"))
		return 0;
	return direction_applies((int) conf_num(g, "direction"), m->outbound);
}

/*
 * event_due - the names of the targets due for m, comma-separated
 * (g_free), or NULL when none is; *body: whether one of them wants the
 * message's copy.  Targets come from m's snapshot (its policy decides),
 * sinks with an accepted hook from its chain.
 */
char *
event_due(const struct snapshot *s, const struct msg *m, int *body)
{
	const struct policy *p = m->policy ? m->policy : m->mail_policy;
	GString *o = g_string_new(NULL);
	unsigned i;

	*body = 0;
	for (i = 0; p && s->events && i < s->events->n; i++) {
		struct event_target *t = s->events->v[i];

		if (!due_target(p, t, m))
			continue;
		g_string_append_printf(o, "%s%s", o->len ? "," : "", t->name);
		if (t->type->flags & (EVENT_WANTS_BODY | EVENT_WANTS_DATA))
			*body = 1;
	}
	for (i = 0; i < s->nchain; i++) {
		int wants;

		if (!sink_has_accepted(s->chain[i], &wants))
			continue;
		g_string_append_printf(o, "%s%s", o->len ? "," : "", s->chain[i]->name);
		*body |= wants;
	}
	if (o->len == 0) {
		g_string_free(o, TRUE);
		return NULL;
	}
	return g_string_free(o, FALSE);
}

/* add_text - a string value: mail data made valid UTF-8 (a byte that
 * is not becomes U+FFFD), so that the event is always JSON */
static void
add_text(JsonBuilder *b, const char *value)
{
	char *v;

	if (g_utf8_validate(value, -1, NULL)) {
		json_builder_add_string_value(b, value);
		return;
	}
	v = g_utf8_make_valid(value, -1);
	json_builder_add_string_value(b, v);
	g_free(v);
}

/* add_str - member name: value, or null */
static void
add_str(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	if (value)
		add_text(b, value);
	else
		json_builder_add_null_value(b);
}

/* add_headers - the selected header fields, as received (unfolded, the
 * leading white space gone) */
static void
add_headers(JsonBuilder *b, const struct msg *m)
{
	static const char *const names[] = {"from", "to", "cc", "subject", "message-id", "date"};
	unsigned i, k;
	guint n;

	json_builder_set_member_name(b, "headers");
	json_builder_begin_object(b);
	for (i = 0; i < G_N_ELEMENTS(names); i++) {
		const guint *pos = msg_header_positions(m, names[i], &n);

		if (pos == NULL || n == 0)
			continue;
		json_builder_set_member_name(b, names[i]);
		json_builder_begin_array(b);
		for (k = 0; k < n; k++) {
			const struct header *h = g_ptr_array_index(m->headers, pos[k]);
			GString *v = g_string_new(NULL);
			const char *p;

			for (p = h->value; *p; p++)
				if (*p != '\r' && *p != '\n')
					g_string_append_c(v, *p == '\t' && p > h->value
							  && (p[-1] == '\n') ? ' ' : *p);
			add_text(b, g_strchug(v->str));
			g_string_free(v, TRUE);
		}
		json_builder_end_array(b);
	}
	json_builder_end_object(b);
}

/* add_facts - what handlers and sinks noted */
static void
add_facts(JsonBuilder *b, const struct msg *m)
{
	GList *keys, *l;

	json_builder_set_member_name(b, "facts");
	json_builder_begin_object(b);
	if (m->facts) {
		keys = g_hash_table_get_keys(m->facts);
		keys = g_list_sort(keys, (GCompareFunc) strcmp);
		for (l = keys; l; l = l->next) {
			json_builder_set_member_name(b, l->data);
			add_text(b, g_hash_table_lookup(m->facts, l->data));
		}
		g_list_free(keys);
	}
	json_builder_end_object(b);
}

/* iso_now - RFC 3339 UTC with milliseconds (g_free) */
static char *
iso_now(void)
{
	GDateTime *t = g_date_time_new_now_utc();
	char *s = g_date_time_format(t, "%Y-%m-%dT%H:%M:%S");
	char *r = g_strdup_printf("%s.%03dZ", s, g_date_time_get_microsecond(t) / 1000);

	g_free(s);
	g_date_time_unref(t);
	return r;
}

/*
 * build - the event of m (see event.h) with verdict v (VERDICT_*) and
 * the message's hash (the shipper adds "body" for a target that wants
 * the message)
 */
static JsonNode *
build(struct msg *m, int verdict, const char *sha256)
{
	const struct policy *p = m->policy ? m->policy : m->mail_policy;
	struct conn *c = m->conn;
	JsonBuilder *b = json_builder_new();
	char *key = g_strdup_printf("%s.%s", m->queue_id, sha256), *now = iso_now();
	char **doms;
	JsonNode *root;
	guint i;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, EVENT_VERSION);
	add_str(b, "key", key);
	add_str(b, "time", now);
	add_str(b, "queue_id", m->queue_id);
	json_builder_set_member_name(b, "client");
	json_builder_begin_object(b);
	add_str(b, "addr", c->client_addr);
	add_str(b, "name", c->client_name);
	add_str(b, "helo", c->helo);
	add_str(b, "auth", m->auth_user);
	json_builder_end_object(b);
	add_str(b, "sender", m->sender);
	json_builder_set_member_name(b, "recipients");
	json_builder_begin_array(b);
	for (i = 0; i < m->rcpts->len; i++)
		add_text(b, ((struct rcpt *) g_ptr_array_index(m->rcpts, i))->addr);
	json_builder_end_array(b);
	add_str(b, "direction", m->outbound ? "outbound" : "inbound");
	json_builder_set_member_name(b, "policy");
	json_builder_begin_array(b);
	doms = g_strsplit(p ? p->domain : "default", ",", -1);
	for (i = 0; doms[i]; i++)
		add_text(b, doms[i]);
	g_strfreev(doms);
	json_builder_end_array(b);
	add_str(b, "verdict", verdict == VERDICT_QUARANTINE ? "quarantine" : "accept");
	add_str(b, "handler", verdict == VERDICT_CONTINUE ? NULL : c->decided_by);
	add_facts(b, m);
	add_headers(b, m);
	json_builder_set_member_name(b, "size");
	json_builder_add_int_value(b, (gint64) m->spool.len);
	add_str(b, "sha256", sha256);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	g_object_unref(b);
	g_free(key);
	g_free(now);
	return root;
}

/* msg_sha256 - the message's SHA-256 as received (g_free), or NULL */
static char *
msg_sha256(struct msg *m)
{
	gsize len;
	const guchar *d = spool_data(&m->spool, &len);
	char *r;

	if (d == NULL)
		return NULL;
	r = g_compute_checksum_for_data(G_CHECKSUM_SHA256, d, len);
	spool_release(&m->spool);
	return r;
}

/*
 * event_accepted - m was accepted (verdict v, VERDICT_*): its event in
 * the journal, on disk, for the targets due; 0, or -1 when the message
 * must be tempfailed (logged: the journal is full, or a write failed)
 */
int
event_accepted(struct msg *m, int verdict)
{
	const struct snapshot *s = m->conn->snap;
	char *due, *sha = NULL, *json = NULL, *payload = NULL;
	const guchar *body = NULL;
	JsonNode *ev = NULL;
	gsize len;
	guint64 seq = 0;
	gint64 t0 = g_get_monotonic_time();
	int wants_body, rc = -1;

	if (ship.j == NULL || m->conn->dry_run)
		return 0;
	if ((due = event_due(s, m, &wants_body)) == NULL)
		return 0;
	if ((sha = msg_sha256(m)) == NULL) {
		log_error("%s: event: cannot read the message: %s", m->queue_id, g_strerror(errno));
		goto out;
	}
	if (wants_body && (body = spool_data(&m->spool, &len)) == NULL) {
		log_error("%s: event: cannot read the message: %s", m->queue_id, g_strerror(errno));
		goto out;
	}
	ev = build(m, verdict, sha);
	json = json_to_string(ev, FALSE);
	payload = g_strconcat(due, "\n", json, NULL);
	/* the message goes into the record: the sync it shares with other
	 * messages' records makes it durable */
	if (journal_append(ship.j, payload, strlen(payload), body, body ? len : 0, &seq) < 0) {
		if (errno == ENOSPC) {
			stats_inc(STATS_EVENTS_REFUSED);
			log_error("%s: event: journal full (journal-size %s): message tempfailed",
				  m->queue_id, conf_get(&s->main, "journal-size")->raw);
		} else
			log_error("%s: event: journal write failed: %s: message tempfailed",
				  m->queue_id, g_strerror(errno));
		goto out;
	}
	log_debug("%s: event %" G_GUINT64_FORMAT " for %s (%.3f ms)", m->queue_id, seq, due,
		  (g_get_monotonic_time() - t0) / 1000.0);
	msg_note(m, "event", "%" G_GUINT64_FORMAT, seq);
	stats_inc(STATS_EVENTS_QUEUED);
	rc = 0;
out:
	if (ev)
		json_node_unref(ev);
	g_free(json);
	g_free(payload);
	if (body)
		spool_release(&m->spool);
	g_free(sha);
	g_free(due);
	return rc;
}

/* ------------------------------------------------------------------ */
/* the shipper                                                          */

/* event_any - whether s has a target: a group, or a chained sink with
 * an accepted hook */
int
event_any(const struct snapshot *s)
{
	unsigned i;
	int wants;

	if (s->events)
		return 1;
	for (i = 0; i < s->nchain; i++)
		if (sink_has_accepted(s->chain[i], &wants))
			return 1;
	return 0;
}

/* rec_due - whether sh is among the record's targets (its first line) */
static int
rec_due(const struct shipper *sh, const char *data, const char **json)
{
	const char *nl = strchr(data, '\n'), *p = data;
	gsize n = strlen(sh->name);

	*json = nl ? nl + 1 : NULL;
	if (nl == NULL)
		return 0;
	while (p < nl) {
		const char *end = memchr(p, ',', (gsize) (nl - p));

		if (end == NULL)
			end = nl;
		if ((gsize) (end - p) == n && !memcmp(p, sh->name, n))
			return 1;
		p = end + 1;
	}
	return 0;
}

/* ship_wait - sleep up to secs seconds, less when stopping; 1 if
 * stopping */
static int
ship_wait(gint64 secs)
{
	gint64 until = g_get_monotonic_time() + secs * G_USEC_PER_SEC;
	int stop;

	g_mutex_lock(&ship.lock);
	while (!ship.stopping && g_cond_wait_until(&ship.cond, &ship.lock, until))
		;
	stop = ship.stopping;
	g_mutex_unlock(&ship.lock);
	return stop;
}

static int
stopping(void)
{
	int s;

	g_mutex_lock(&ship.lock);
	s = ship.stopping;
	g_mutex_unlock(&ship.lock);
	return s;
}

/*
 * shipper_persist - what sh delivered made durable in the target (its
 * type's sync), then sh's cursor on disk, when it moved.  0; or -1 when
 * the sync failed: sh reads again from the last durable event, and the
 * caller waits before it goes on.
 */
static int
shipper_persist(struct shipper *sh)
{
	char *why = NULL;

	if (sh->type->sync && sh->pending) {
		if (sh->type->sync(sh->handle, &why) != EVENT_DONE) {
			log_warn("%s: events %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
				 " not stored: %s (delivered again)", sh->name, sh->synced + 1,
				 sh->done, why ? why : "no reason given");
			g_free(why);
			sh->retries++;
			sh->pending = 0;
			sh->done = sh->synced;
			journal_rewind(ship.j, sh->index, sh->synced);
			if (sh->dirty)
				journal_done(ship.j, sh->index, sh->done, 1);
			sh->dirty = 0;
			return -1;
		}
		sh->pending = 0;
	}
	sh->synced = sh->done;
	if (sh->dirty)
		journal_done(ship.j, sh->index, sh->done, 1);
	sh->dirty = 0;
	sh->persisted = g_get_monotonic_time();
	return 0;
}

/*
 * deliver - one record to sh until it is done with it; 1 when done (or
 * failed for good), 0 when sinkd stops first, -1 when the target lost
 * what it had taken since its last sync (sh reads again from there)
 */
static int
deliver(struct shipper *sh, const struct journal_rec *r, const char *json)
{
	JsonParser *p = json_parser_new();
	GError *err = NULL;
	struct event ev = {.seq = r->seq, .json = json, .len = strlen(json)};
	gint64 wait = EVENT_RETRY_MIN;
	guint tries = 0;
	int done = 0;
	const char *qid = "?";
	char *own = NULL;

	if (!json_parser_load_from_data(p, json, -1, &err)
	    || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
		log_error("%s: event %" G_GUINT64_FORMAT ": not a JSON object: %s: skipped",
			  sh->name, r->seq, err ? err->message : "");
		g_clear_error(&err);
		sh->failed++;
		g_object_unref(p);
		return 1;
	}
	ev.obj = json_node_get_object(json_parser_get_root(p));
	ev.key = json_object_get_string_member_with_default(ev.obj, "key", "");
	qid = json_object_get_string_member_with_default(ev.obj, "queue_id", "?");
	ev.body = sh->wants_body == JOURNAL_BODY_FILE ? r->body : NULL;
	if (sh->wants_body == JOURNAL_BODY_DATA) {
		ev.body_data = r->body_data;
		ev.body_len = r->body_len;
	}
	/* only a target that wants the message is told where its copy is
	 * (the file journal_next() made of the record for this target) */
	if (ev.body) {
		json_object_set_string_member(ev.obj, "body", ev.body);
		own = json_to_string(json_parser_get_root(p), FALSE);
		ev.json = own;
		ev.len = strlen(own);
	}
	for (;;) {
		char *why = NULL;
		enum event_result res;

		if (journal_cursor(ship.j, sh->index) >= r->seq) {
			log_warn("%s: %s: event %" G_GUINT64_FORMAT " dropped (journal full) before it was delivered",
				 qid, sh->name, r->seq);
			done = 1;
			break;
		}
		res = sh->type->deliver(sh->handle, &ev, &why);

		tries++;
		if (res == EVENT_DONE) {
			sh->delivered++;
			if (tries > 1)
				log_info("%s: %s: event %" G_GUINT64_FORMAT " delivered after %u tries",
					 qid, sh->name, r->seq, tries);
			else
				log_debug("%s: %s: event %" G_GUINT64_FORMAT " delivered",
					  qid, sh->name, r->seq);
			done = 1;
		} else if (res == EVENT_FAIL) {
			sh->failed++;
			log_error("%s: %s: event %" G_GUINT64_FORMAT " refused for good: %s (skipped; %"
				  G_GUINT64_FORMAT " in all)", qid, sh->name, r->seq,
				  why ? why : "no reason given", sh->failed);
			done = 1;
		} else {
			sh->retries++;
			/* the first failure, then one line each time the wait grows */
			if (wait < sh->retry_max || tries == 1)
				log_warn("%s: %s: event %" G_GUINT64_FORMAT " not delivered: %s (try %u; again in %llds)",
					 qid, sh->name, r->seq, why ? why : "no reason given",
					 tries, (long long) wait);
		}
		g_free(why);
		if (done)
			break;
		/* what was done is on disk before a wait: a kill then
		 * repeats none of it (a failed sync: back to the reading) */
		if (shipper_persist(sh) < 0) {
			done = -1;
			break;
		}
		if (ship_wait(wait))
			break;
		wait = MIN(wait * 2, sh->retry_max);
	}
	g_object_unref(p);
	g_free(own);
	return done;
}

/* shipper_run - a target's thread: every record due to it, in order */
static gpointer
shipper_run(gpointer data)
{
	struct shipper *sh = data;

	gint64 wait = EVENT_RETRY_MIN;
	int rc;

	sh->persisted = g_get_monotonic_time();
	sh->done = sh->synced = journal_cursor(ship.j, sh->index);
	while (!stopping()) {
		struct journal_rec r = {0};
		const char *json;

		rc = journal_next(ship.j, sh->index, &r, g_get_monotonic_time() + G_USEC_PER_SEC);
		if (rc <= 0) {
			/* caught up (or cannot read): stored, and the
			 * cursor on disk */
			if (shipper_persist(sh) < 0 || rc < 0) {
				ship_wait(wait);
				wait = MIN(wait * 2, sh->retry_max);
			}
			continue;
		}
		rc = rec_due(sh, r.data, &json) ? deliver(sh, &r, json) : 2;
		if (rc > 0) {
			sh->done = r.seq;
			sh->dirty = 1;
			sh->pending += rc == 1 && sh->type->sync;
			/* busy: on disk once a second, or every EVENT_BATCH */
			if (g_get_monotonic_time() - sh->persisted >= EVENT_PERSIST_US
			    || sh->pending >= EVENT_BATCH) {
				if (shipper_persist(sh) < 0)
					rc = -1;
			} else
				journal_done(ship.j, sh->index, sh->done, 0);
		}
		journal_rec_clear(&r);
		if (rc < 0) {
			ship_wait(wait);
			wait = MIN(wait * 2, sh->retry_max);
		} else if (rc > 0)
			wait = EVENT_RETRY_MIN;
	}
	shipper_persist(sh);
	return NULL;
}

/* shipper_add - a target for the shipper */
static void
shipper_add(GArray *v, const char *name, const struct event_type *type, void *handle,
	    int wants_body, gint64 retry_max)
{
	struct shipper sh = {0};

	sh.name = g_strdup(name);
	sh.type = type;
	sh.handle = handle;
	sh.wants_body = wants_body;
	sh.retry_max = retry_max;
	sh.index = v->len;
	g_array_append_val(v, sh);
}

/* shipped - whether the shipper has a target called name */
static int
shipped(const char *name)
{
	unsigned i;

	for (i = 0; i < ship.n; i++)
		if (!strcmp(ship.v[i].name, name))
			return 1;
	return 0;
}

/*
 * event_reload - after a reload to s: a warning for each target s has
 * that the shipper lacks (it starts at the next restart) and each the
 * shipper has that s lacks (its events already in the journal are still
 * delivered; new messages are not due to it)
 */
void
event_reload(const struct snapshot *s)
{
	GHashTable *now = g_hash_table_new(g_str_hash, g_str_equal);
	unsigned i;
	int wants;

	for (i = 0; s->events && i < s->events->n; i++)
		g_hash_table_add(now, s->events->v[i]->name);
	for (i = 0; i < s->nchain; i++)
		if (sink_has_accepted(s->chain[i], &wants))
			g_hash_table_add(now, (gpointer) s->chain[i]->name);
	for (i = 0; i < ship.n; i++)
		if (!g_hash_table_contains(now, ship.v[i].name))
			log_warn("%s: no longer a target: it still gets the events it was due; a restart ends it",
				 ship.v[i].name);
	{
		GHashTableIter it;
		gpointer k;

		g_hash_table_iter_init(&it, now);
		while (g_hash_table_iter_next(&it, &k, NULL))
			if (!shipped(k))
				log_warn("%s: a new target: its events wait in the journal until a restart starts their delivery",
					 (char *) k);
	}
	g_hash_table_destroy(now);
}

/*
 * event_start - the journal (replayed) and a thread per target of s:
 * its [event:NAME] groups, and the sinks of its chain with an accepted
 * hook; 0, or -1 after logging why.  Nothing to do without targets.
 */
int
event_start(const struct snapshot *s)
{
	GArray *v = g_array_new(FALSE, TRUE, sizeof(struct shipper));
	const char *dir = conf_str(&s->main, "state-dir");
	char *jdir, *why = NULL, **names;
	int *bodies, wants;
	unsigned i;
	struct conf_errors e;

	conf_errors_init(&e);
	for (i = 0; s->events && i < s->events->n; i++) {
		struct event_target *t = s->events->v[i];
		const struct conf_group *g = snapshot_group(s, &t->h);
		void *h = t->type->open(g, &e);

		if (h == NULL)
			break;
		shipper_add(v, t->name, t->type, h,
			    t->type->flags & EVENT_WANTS_DATA ? JOURNAL_BODY_DATA
			    : t->type->flags & EVENT_WANTS_BODY ? JOURNAL_BODY_FILE : JOURNAL_BODY_NONE,
			    conf_num(g, "retry-max"));
	}
	for (i = 0; e.msgs->len == 0 && i < s->nchain; i++)
		if (sink_has_accepted(s->chain[i], &wants))
			shipper_add(v, s->chain[i]->name, &event_sink,
				    g_strdup(s->chain[i]->name),
				    wants ? JOURNAL_BODY_FILE : JOURNAL_BODY_NONE, 300);
	if (e.msgs->len) {
		log_error("%s", (char *) g_ptr_array_index(e.msgs, 0));
		conf_errors_free(&e);
		goto fail;
	}
	conf_errors_free(&e);
	ship.v = (struct shipper *) v->data;
	ship.n = v->len;
	g_array_free(v, FALSE);
	v = NULL;
	if (ship.n == 0) {
		g_free(ship.v);
		ship.v = NULL;
		return 0;
	}
	names = g_new0(char *, ship.n + 1);
	bodies = g_new0(int, ship.n);
	for (i = 0; i < ship.n; i++) {
		names[i] = ship.v[i].name;
		bodies[i] = ship.v[i].wants_body;
	}
	jdir = g_build_filename(dir, "journal", NULL);
	ship.j = journal_open(jdir, (guint64) conf_num(&s->main, "journal-size"),
			      !strcmp(conf_str(&s->main, "journal-full"), "drop-oldest"),
			      names, bodies, &why);
	g_free(names);
	g_free(bodies);
	if (ship.j == NULL) {
		log_error("journal %s: %s", jdir, why);
		g_free(jdir);
		g_free(why);
		goto fail;
	}
	{
		struct journal_stats st;

		journal_stats(ship.j, &st);
		log_info("journal %s: %" G_GUINT64_FORMAT " bytes, last event %" G_GUINT64_FORMAT
			 "; %u target%s", jdir, st.bytes, st.last, ship.n, ship.n == 1 ? "" : "s");
	}
	g_free(jdir);
	for (i = 0; i < ship.n; i++) {
		guint64 c = journal_cursor(ship.j, i);
		char *tn = g_strdup_printf("ship %s", ship.v[i].name);

		log_debug("%s: from event %" G_GUINT64_FORMAT, ship.v[i].name, c + 1);
		ship.v[i].thread = g_thread_new(tn, shipper_run, &ship.v[i]);
		g_free(tn);
	}
	return 0;
fail:
	if (v) {
		for (i = 0; i < v->len; i++) {
			struct shipper *sh = &g_array_index(v, struct shipper, i);

			sh->type->close(sh->handle);
			g_free(sh->name);
		}
		g_array_free(v, TRUE);
	}
	for (i = 0; i < ship.n; i++) {
		ship.v[i].type->close(ship.v[i].handle);
		g_free(ship.v[i].name);
	}
	g_free(ship.v);
	ship.v = NULL;
	ship.n = 0;
	return -1;
}

/* event_stop - the shipper stopped (a delivery in progress finishes, and
 * each cursor is written) and the journal closed, with what it counted */
void
event_stop(void)
{
	struct journal_stats st;
	unsigned i;

	if (ship.j == NULL)
		return;
	g_mutex_lock(&ship.lock);
	ship.stopping = 1;
	g_cond_broadcast(&ship.cond);
	g_mutex_unlock(&ship.lock);
	journal_wake(ship.j);
	for (i = 0; i < ship.n; i++) {
		g_thread_join(ship.v[i].thread);
		log_info("%s: %" G_GUINT64_FORMAT " events delivered, %" G_GUINT64_FORMAT
			 " refused, %" G_GUINT64_FORMAT " retries; up to event %" G_GUINT64_FORMAT,
			 ship.v[i].name, ship.v[i].delivered, ship.v[i].failed, ship.v[i].retries,
			 journal_cursor(ship.j, i));
		ship.v[i].type->close(ship.v[i].handle);
		g_free(ship.v[i].name);
	}
	journal_stats(ship.j, &st);
	log_info("journal: %" G_GUINT64_FORMAT " events written, %" G_GUINT64_FORMAT
		 " refused (full), %" G_GUINT64_FORMAT " dropped (full), %" G_GUINT64_FORMAT
		 " failed, %" G_GUINT64_FORMAT " lost (damaged); %" G_GUINT64_FORMAT " syncs",
		 st.appended, st.refused, st.dropped, st.failed, st.lost, st.syncs);
	journal_close(ship.j);
	ship.j = NULL;
	g_free(ship.v);
	ship.v = NULL;
	ship.n = 0;
}
