/*
 * astore - the message archive's stores (see astore.h)
 *
 * Maildir: a message is written to tmp/, fsync'd, renamed into new/ and
 * new/ fsync'd; a directory made on the way is fsync'd in its parent.
 * Its file name is TIME.MUSECKHASH.HOST: TIME and USEC the event's time
 * (end of message), HASH the first 16 hex digits of the SHA-256 of the
 * event's key, HOST this host's name ('/' written \057, ':' \072).  The
 * same event always makes the same name, so a put that finds it in new/
 * (or, moved there by a reader, in cur/ with ":2,..." after it) stores
 * nothing.  The index line is appended (and fsync'd) before the files
 * are written, so that a crash between the two leaves an index line
 * whose files the next put of the same event writes; a key indexed
 * twice is listed once.
 *
 * SQL: one row per message in the table sinkd_archive, the key its
 * primary key; INSERT OR IGNORE (SQLite), ON CONFLICT DO NOTHING
 * (PostgreSQL); every statement is parameterised.  Times are RFC 3339
 * UTC text in both, so that they sort and compare as times.
 *
 * Searches filter in SQL where they can, then every record again here
 * (record_matches()), so that all stores answer a query alike.
 *
 * Diagnostics: functions say what went wrong in *why (g_free).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "astore.h"

#define HASH_HEX	16	/* of the key's SHA-256, in a file name */

struct astore {
	enum astore_kind kind;
	char *where;		/* ROOT, FILE or CONNINFO */
	mode_t fmode, dmode;	/* 0600/0700, or 0640/0750 */
	int timeout;		/* seconds */
	char *host;		/* Maildir: this host, for file names */
	sqlite3 *db;		/* opened at first use */
	PGconn *pg;		/* connected at first use */
	int ready;		/* the table is there */
};

/* The columns of a row, in this order in every statement. */
#define COLUMNS "key, time, queue_id, direction, sender, recipients, policy, verdict, " \
	"handler, facts, hdr_from, hdr_to, subject, message_id, hdr_date, size, sha256, " \
	"event, message"
#define NCOLUMNS 19
#define LIST_COLUMNS "key, time, direction, sender, recipients, hdr_from, hdr_to, " \
	"subject, message_id, hdr_date, size, sha256"

static const char sqlite_schema[] =
	"CREATE TABLE IF NOT EXISTS " ASTORE_TABLE " ("
	"key TEXT PRIMARY KEY, time TEXT NOT NULL, queue_id TEXT NOT NULL, "
	"direction TEXT NOT NULL, sender TEXT NOT NULL, recipients TEXT NOT NULL, "
	"policy TEXT NOT NULL, verdict TEXT NOT NULL, handler TEXT, facts TEXT NOT NULL, "
	"hdr_from TEXT NOT NULL, hdr_to TEXT NOT NULL, subject TEXT NOT NULL, "
	"message_id TEXT NOT NULL, hdr_date TEXT NOT NULL, size INTEGER NOT NULL, "
	"sha256 TEXT NOT NULL, event TEXT NOT NULL, message BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS " ASTORE_TABLE "_time ON " ASTORE_TABLE " (time);"
	"CREATE INDEX IF NOT EXISTS " ASTORE_TABLE "_sender ON " ASTORE_TABLE " (sender);";

static const char pg_schema[] =
	"CREATE TABLE IF NOT EXISTS " ASTORE_TABLE " ("
	"key text PRIMARY KEY, time text NOT NULL, queue_id text NOT NULL, "
	"direction text NOT NULL, sender text NOT NULL, recipients text NOT NULL, "
	"policy text NOT NULL, verdict text NOT NULL, handler text, facts text NOT NULL, "
	"hdr_from text NOT NULL, hdr_to text NOT NULL, subject text NOT NULL, "
	"message_id text NOT NULL, hdr_date text NOT NULL, size bigint NOT NULL, "
	"sha256 text NOT NULL, event text NOT NULL, message bytea NOT NULL);"
	"CREATE INDEX IF NOT EXISTS " ASTORE_TABLE "_time ON " ASTORE_TABLE " (time);"
	"CREATE INDEX IF NOT EXISTS " ASTORE_TABLE "_sender ON " ASTORE_TABLE " (sender);";

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
		sqlite3_close(a->db);
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

/* ev_str - a string member of o, or def */
static const char *
ev_str(JsonObject *o, const char *name, const char *def)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;

	if (n == NULL || json_node_get_value_type(n) != G_TYPE_STRING)
		return def;
	return json_node_get_string(n);
}

/* ev_header - the event's values of header field name, ", " between
 * them (g_free); "" when it has none */
static char *
ev_header(JsonObject *ev, const char *name, int first)
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

/* ev_member_json - member name of ev as compact JSON (g_free); "null" */
static char *
ev_member_json(JsonObject *ev, const char *name)
{
	JsonNode *n = json_object_get_member(ev, name);

	return n ? json_to_string(n, FALSE) : g_strdup("null");
}

/* ev_recipients - the envelope recipients (g_strfreev) */
static char **
ev_recipients(JsonObject *ev)
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

/* rec_clear - what a record holds */
static void
rec_clear(struct astore_rec *r)
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

/* rec_from_event - the record of an event (or of an index line, which
 * has the event's members and the first header values as its own) */
static void
rec_from_event(struct astore_rec *r, JsonObject *ev)
{
	r->key = g_strdup(ev_str(ev, "key", ""));
	r->time = g_strdup(ev_str(ev, "time", ""));
	r->direction = g_strdup(ev_str(ev, "direction", ""));
	r->sender = g_strdup(ev_str(ev, "sender", ""));
	r->recipients = ev_recipients(ev);
	r->from = ev_header(ev, "from", 1);
	r->to = ev_header(ev, "to", 0);
	r->subject = ev_header(ev, "subject", 1);
	r->message_id = ev_header(ev, "message-id", 1);
	r->date = ev_header(ev, "date", 1);
	r->size = json_object_has_member(ev, "size") ? json_object_get_int_member(ev, "size") : 0;
	r->sha256 = g_strdup(ev_str(ev, "sha256", ""));
}

/* day_bound - a query's since/until as compared with times: a day alone
 * becomes its first instant, or (until) one past its last (g_free) */
static char *
day_bound(const char *t, int until)
{
	if (strlen(t) == 10)
		return g_strconcat(t, until ? "T99" : "T00:00:00", NULL);
	return g_strdup(t);
}

/* msgid_norm - a Message-ID as stored: in <> (g_free) */
static char *
msgid_norm(const char *id)
{
	return *id == '<' ? g_strdup(id) : g_strconcat("<", id, ">", NULL);
}

/* record_matches - whether r answers q (see astore_query) */
static int
record_matches(const struct astore_rec *r, const struct astore_query *q)
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
		b = day_bound(q->since, 0);
		ok = strcmp(r->time, b) >= 0;
		g_free(b);
		if (!ok)
			return 0;
	}
	if (q->until) {
		b = day_bound(q->until, 1);
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
		b = msgid_norm(q->message_id);
		ok = !strcmp(r->message_id, b);
		g_free(b);
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* Maildir                                                              */

/* sync_dir - fsync a directory; 0 or -1 (errno) */
static int
sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* make_dir - path a directory (not a link, unless follow: the root the
 * administrator named), made with mode and made durable in parent when
 * new; 0 or -1 (*why) */
static int
make_dir(const char *parent, const char *path, mode_t mode, int follow, char **why)
{
	struct stat st;

	if (mkdir(path, mode) == 0) {
		if (sync_dir(parent) == 0)
			return 0;
	} else if (errno == EEXIST && (follow ? stat(path, &st) : lstat(path, &st)) == 0
		   && S_ISDIR(st.st_mode)) {
		return 0;
	} else if (errno == EEXIST) {
		errno = ENOTDIR;
	}
	*why = g_strdup_printf("%s: %s", path, g_strerror(errno));
	return -1;
}

/* write_all - all of d to fd; 0 or -1 (errno) */
static int
write_all(int fd, const char *d, gsize n)
{
	while (n > 0) {
		ssize_t w = write(fd, d, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		d += w;
		n -= (gsize) w;
	}
	return 0;
}

/* lf_copy - d with each CRLF as LF */
static GString *
lf_copy(const char *d, gsize n)
{
	GString *o = g_string_sized_new(n);
	gsize i, from = 0;

	for (i = 0; i + 1 < n; i++)
		if (d[i] == '\r' && d[i + 1] == '\n') {
			g_string_append_len(o, d + from, (gssize) (i - from));
			from = i + 1;
		}
	g_string_append_len(o, d + from, (gssize) (n - from));
	return o;
}

/* md_name - the file name of event ev in a Maildir (g_free), or NULL */
static char *
md_name(const struct astore *a, JsonObject *ev)
{
	GDateTime *t = g_date_time_new_from_iso8601(ev_str(ev, "time", ""), NULL);
	char *h, *name;

	if (t == NULL)
		return NULL;
	h = g_compute_checksum_for_string(G_CHECKSUM_SHA256, ev_str(ev, "key", ""), -1);
	name = g_strdup_printf("%" G_GINT64_FORMAT ".M%06dK%.*s.%s", g_date_time_to_unix(t),
			       g_date_time_get_microsecond(t), HASH_HEX, h, a->host);
	g_free(h);
	g_date_time_unref(t);
	return name;
}

/* md_find - the path of name in Maildir dir: new/NAME, or cur/NAME or
 * cur/NAME:2,... (g_free); NULL when it is in neither */
static char *
md_find(const char *dir, const char *name)
{
	char *p = g_build_filename(dir, "new", name, NULL), *cur;
	gsize n = strlen(name);
	const char *e;
	GDir *d;

	if (g_file_test(p, G_FILE_TEST_EXISTS))
		return p;
	g_free(p);
	p = NULL;
	cur = g_build_filename(dir, "cur", NULL);
	if ((d = g_dir_open(cur, 0, NULL)) != NULL) {
		while (p == NULL && (e = g_dir_read_name(d)) != NULL)
			if (!strncmp(e, name, n) && (e[n] == 0 || e[n] == ':'))
				p = g_build_filename(cur, e, NULL);
		g_dir_close(d);
	}
	g_free(cur);
	return p;
}

/* md_mailboxes - the mailboxes of ev, "DOMAIN/LOCAL" each once: each
 * recipient's for inbound mail (those want(rcpt, ctx) says yes to, when
 * want is not NULL), the sender's for outbound (g_strfreev) */
static char **
md_mailboxes(JsonObject *ev, astore_want_fn want, void *ctx)
{
	GPtrArray *v = g_ptr_array_new();
	char **rcpts = NULL, **p;
	const char *one[2] = {ev_str(ev, "sender", ""), NULL};
	int in = strcmp(ev_str(ev, "direction", ""), "outbound") != 0;

	if (in) {
		rcpts = ev_recipients(ev);
		p = rcpts;
	} else {
		p = (char **) one;
	}
	for (; *p; p++) {
		char *dom, *loc, *mb;
		guint i;

		if (in && want && !want(*p, ctx))
			continue;
		astore_mailbox(*p, &dom, &loc);
		mb = g_build_filename(dom, loc, NULL);
		g_free(dom);
		g_free(loc);
		for (i = 0; i < v->len && strcmp(g_ptr_array_index(v, i), mb); i++)
			;
		if (i < v->len)
			g_free(mb);
		else
			g_ptr_array_add(v, mb);
	}
	g_strfreev(rcpts);
	g_ptr_array_add(v, NULL);
	return (char **) g_ptr_array_free(v, FALSE);
}

/* md_index - append ev's index line (files relative to the root) and
 * make it durable; 0 or -1 (*why) */
static int
md_index(struct astore *a, JsonObject *ev, char **files, char **why)
{
	static const char *const copy[] = {"key", "time", "queue_id", "direction", "sender",
					    "recipients", "headers", "size", "sha256"};
	JsonObject *o = json_object_new();
	JsonArray *fv = json_array_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	char *path = g_build_filename(a->where, ASTORE_INDEX, NULL), *line, *all;
	unsigned i;
	int fd, rc = -1;

	for (i = 0; i < G_N_ELEMENTS(copy); i++) {
		JsonNode *m = json_object_get_member(ev, copy[i]);

		if (m)
			json_object_set_member(o, copy[i], json_node_copy(m));
	}
	for (i = 0; files[i]; i++)
		json_array_add_string_element(fv, files[i]);
	json_object_set_array_member(o, "files", fv);
	json_node_take_object(n, o);
	line = json_to_string(n, FALSE);
	all = g_strconcat(line, "\n", NULL);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, a->fmode);
	if (fd < 0 || write_all(fd, all, strlen(all)) < 0 || fsync(fd) < 0)
		*why = g_strdup_printf("%s: %s", path, g_strerror(errno));
	else
		rc = 0;
	if (fd >= 0)
		close(fd);
	json_node_unref(n);
	g_free(line);
	g_free(all);
	g_free(path);
	return rc;
}

/* md_write - data as dir/new/name, through dir/tmp; 0 or -1 (*why) */
static int
md_write(struct astore *a, const char *dir, const char *name, const GString *data,
	 char **why)
{
	char *tmp = g_build_filename(dir, "tmp", name, NULL);
	char *nw = g_build_filename(dir, "new", name, NULL);
	char *newdir = g_build_filename(dir, "new", NULL);
	int fd, rc = -1;

	/* a tmp file of this name is a crashed try of this event's */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, a->fmode);
	if (fd < 0 || write_all(fd, data->str, data->len) < 0 || fsync(fd) < 0) {
		*why = g_strdup_printf("%s: %s", tmp, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, nw) < 0 || sync_dir(newdir) < 0) {
		*why = g_strdup_printf("%s: %s", nw, g_strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	g_free(tmp);
	g_free(nw);
	g_free(newdir);
	return rc;
}

/* md_put - ev's message in each of its mailboxes (see the head) */
static enum astore_result
md_put(struct astore *a, JsonObject *ev, const char *data, gsize len, astore_want_fn want,
       void *ctx, char **why)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	char *name = md_name(a, ev), **boxes = NULL, **files = NULL, **todo = NULL, *up;
	GString *lf = NULL;
	enum astore_result res = ASTORE_RETRY;
	guint i, k, n;

	if (name == NULL) {
		*why = g_strdup_printf("event time \"%s\" is not RFC 3339", ev_str(ev, "time", ""));
		return ASTORE_FAIL;
	}
	boxes = md_mailboxes(ev, want, ctx);
	n = g_strv_length(boxes);
	if (n == 0) {		/* no recipient's domain wants it now */
		res = ASTORE_DONE;
		goto out;
	}
	files = g_new0(char *, n + 1);
	todo = g_new0(char *, n + 1);
	up = g_path_get_dirname(a->where);
	k = make_dir(up, a->where, a->dmode, 1, why) < 0;
	g_free(up);
	if (k)
		goto out;
	for (i = 0, k = 0; i < n; i++) {
		char *dom = g_path_get_dirname(boxes[i]);
		char *dpath = g_build_filename(a->where, dom, NULL);
		char *mpath = g_build_filename(a->where, boxes[i], NULL);
		char *found;
		unsigned s;
		int bad = make_dir(a->where, dpath, a->dmode, 0, why) < 0
			|| make_dir(dpath, mpath, a->dmode, 0, why) < 0;

		for (s = 0; !bad && s < G_N_ELEMENTS(subs); s++) {
			char *sp = g_build_filename(mpath, subs[s], NULL);

			bad = make_dir(mpath, sp, a->dmode, 0, why) < 0;
			g_free(sp);
		}
		files[i] = g_build_filename(boxes[i], "new", name, NULL);
		if (!bad && (found = md_find(mpath, name)) == NULL)
			todo[k++] = g_strdup(mpath);
		else if (!bad)
			g_free(found);
		g_free(dom);
		g_free(dpath);
		g_free(mpath);
		if (bad)
			goto out;
	}
	if (k == 0) {		/* every copy is there: stored before */
		res = ASTORE_DONE;
		goto out;
	}
	if (md_index(a, ev, files, why) < 0)
		goto out;
	lf = lf_copy(data, len);
	for (i = 0; i < k; i++)
		if (md_write(a, todo[i], name, lf, why) < 0)
			goto out;
	res = ASTORE_DONE;
out:
	if (lf)
		g_string_free(lf, TRUE);
	g_strfreev(boxes);
	g_strfreev(files);
	g_strfreev(todo);
	g_free(name);
	return res;
}

/* md_records - the index's records, each key once (its last line) in
 * the order first seen, with their files (g_ptr_array_unref); NULL when
 * the index cannot be read (*why) */
static GPtrArray *
md_records(struct astore *a, GPtrArray **files, char **why)
{
	char *path = g_build_filename(a->where, ASTORE_INDEX, NULL);
	GPtrArray *recs = g_ptr_array_new(), *fls = g_ptr_array_new_with_free_func((GDestroyNotify) g_strfreev);
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	JsonParser *jp = json_parser_new();
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;

	if (f == NULL) {
		if (errno != ENOENT) {
			*why = g_strdup_printf("%s: %s", path, g_strerror(errno));
			g_ptr_array_free(recs, TRUE);
			recs = NULL;
		}
		goto out;
	}
	while ((got = getline(&line, &cap, f)) > 0) {
		struct astore_rec *r;
		JsonObject *o;
		gpointer at;
		guint idx;

		if (!json_parser_load_from_data(jp, line, got, NULL)
		    || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(jp)))
			continue;	/* a torn last line */
		o = json_node_get_object(json_parser_get_root(jp));
		r = g_new0(struct astore_rec, 1);
		rec_from_event(r, o);
		if (g_hash_table_lookup_extended(seen, r->key, NULL, &at)) {
			idx = GPOINTER_TO_UINT(at);
			rec_clear(g_ptr_array_index(recs, idx));
			g_free(g_ptr_array_index(recs, idx));
			recs->pdata[idx] = r;
			g_strfreev(fls->pdata[idx]);
			fls->pdata[idx] = NULL;
		} else {
			idx = recs->len;
			g_hash_table_insert(seen, g_strdup(r->key), GUINT_TO_POINTER(idx));
			g_ptr_array_add(recs, r);
			g_ptr_array_add(fls, NULL);
		}
		{
			JsonNode *fn = json_object_get_member(o, "files");
			JsonArray *fa = fn && JSON_NODE_HOLDS_ARRAY(fn) ? json_node_get_array(fn) : NULL;
			guint i, nf = fa ? json_array_get_length(fa) : 0;
			char **v = g_new0(char *, nf + 1);

			for (i = 0; i < nf; i++)
				v[i] = g_strdup(json_array_get_string_element(fa, i));
			fls->pdata[idx] = v;
		}
	}
	fclose(f);
out:
	free(line);
	g_object_unref(jp);
	g_hash_table_destroy(seen);
	g_free(path);
	*files = fls;
	return recs;
}

/* recs_free - md_records()'s */
static void
recs_free(GPtrArray *recs, GPtrArray *files)
{
	guint i;

	for (i = 0; recs && i < recs->len; i++) {
		rec_clear(g_ptr_array_index(recs, i));
		g_free(g_ptr_array_index(recs, i));
	}
	if (recs)
		g_ptr_array_free(recs, TRUE);
	g_ptr_array_unref(files);
}

/* md_search - the index's records that answer q, to each */
static int
md_search(struct astore *a, const struct astore_query *q,
	  void (*each)(const struct astore_rec *r, void *ctx), void *ctx, char **why)
{
	GPtrArray *files, *recs = md_records(a, &files, why);
	guint i;

	if (recs == NULL) {
		g_ptr_array_unref(files);
		return -1;
	}
	for (i = 0; i < recs->len; i++)
		if (record_matches(g_ptr_array_index(recs, i), q))
			each(g_ptr_array_index(recs, i), ctx);
	recs_free(recs, files);
	return 0;
}

/* md_get - see astore_get() */
static int
md_get(struct astore *a, const char *key, GBytes **msg, char **full, char **why)
{
	GPtrArray *files, *recs = md_records(a, &files, why);
	struct astore_query q = {.key = key};
	guint i, hit = 0, n = 0;
	int rc = -1;

	if (recs == NULL) {
		g_ptr_array_unref(files);
		return -3;
	}
	for (i = 0; i < recs->len; i++) {
		struct astore_rec *r = g_ptr_array_index(recs, i);

		if (!strcmp(r->key, key)) {
			hit = i, n = 1;
			break;
		}
		if (record_matches(r, &q))
			hit = i, n++;
	}
	if (n > 1)
		rc = -2;
	else if (n == 1) {
		char **f = g_ptr_array_index(files, hit);

		*why = g_strdup("none of its files is there");
		for (; f && *f && rc < 0; f++) {
			/* DOMAIN/LOCAL/new/NAME: found in new/ or cur/ */
			char *box = g_path_get_dirname(*f), *mb = g_path_get_dirname(box);
			char *name = g_path_get_basename(*f), *dir = g_build_filename(a->where, mb, NULL);
			char *p = md_find(dir, name), *d;
			gsize len;
			GError *err = NULL;

			if (p && g_file_get_contents(p, &d, &len, &err)) {
				*msg = g_bytes_new_take(d, len);
				*full = g_strdup(((struct astore_rec *) g_ptr_array_index(recs, hit))->key);
				g_clear_pointer(why, g_free);
				rc = 0;
			} else if (err) {
				g_free(*why);
				*why = g_strdup(err->message);
				g_error_free(err);
			}
			g_free(p);
			g_free(box);
			g_free(mb);
			g_free(name);
			g_free(dir);
		}
		if (rc < 0)
			rc = -3;
	}
	recs_free(recs, files);
	return rc;
}

/* ------------------------------------------------------------------ */
/* SQL                                                                  */

/* like_pattern - "%s%", s's LIKE metacharacters escaped with '\' (before
 * and after: whether % goes there) (g_free) */
static char *
like_pattern(const char *s, int before, int after)
{
	GString *o = g_string_new(before ? "%" : "");
	char *low = g_ascii_strdown(s, -1), *p;

	for (p = low; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			g_string_append_c(o, '\\');
		g_string_append_c(o, *p);
	}
	if (after)
		g_string_append_c(o, '%');
	g_free(low);
	return g_string_free(o, FALSE);
}

/* sql_where - the SQL conditions of q, and their parameters in order;
 * placeholders "?" (SQLite) or "$N" (PostgreSQL) (g_free) */
static char *
sql_where(const struct astore_query *q, int pg, GPtrArray *params)
{
	GString *w = g_string_new(" WHERE 1 = 1");
	struct {
		const char *value;
		const char *cond;	/* %s: the placeholder */
		int how;		/* 0 as is, 1 %x%, 2 x%, 3 since, 4 until, 5 <id> */
	} c[] = {
		{q->key, "lower(key) LIKE %s ESCAPE '\\'", 2},
		{q->sender, "lower(sender) = lower(%s)", 0},
		{q->recipient, "lower(recipients) LIKE %s ESCAPE '\\'", 1},
		{q->since, "time >= %s", 3},
		{q->until, "time <= %s", 4},
		{q->subject, "lower(subject) LIKE %s ESCAPE '\\'", 1},
		{q->message_id, "message_id = %s", 5},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(c); i++) {
		char *ph, *v;

		if (c[i].value == NULL)
			continue;
		switch (c[i].how) {
		case 1: v = like_pattern(c[i].value, 1, 1); break;
		case 2: v = like_pattern(c[i].value, 0, 1); break;
		case 3: v = day_bound(c[i].value, 0); break;
		case 4: v = day_bound(c[i].value, 1); break;
		case 5: v = msgid_norm(c[i].value); break;
		default: v = g_strdup(c[i].value); break;
		}
		g_ptr_array_add(params, v);
		ph = pg ? g_strdup_printf("$%u", params->len) : g_strdup("?");
		g_string_append(w, " AND ");
		g_string_append_printf(w, c[i].cond, ph);
		g_free(ph);
	}
	g_string_append(w, " ORDER BY time, key");
	return g_string_free(w, FALSE);
}

/* split_json_array - a JSON array of strings as a vector (g_strfreev) */
static char **
split_json_array(const char *json)
{
	JsonParser *p = json_parser_new();
	JsonObject *o = json_object_new();
	char **v;

	if (json && json_parser_load_from_data(p, json, -1, NULL))
		json_object_set_member(o, "recipients", json_node_copy(json_parser_get_root(p)));
	v = ev_recipients(o);
	json_object_unref(o);
	g_object_unref(p);
	return v;
}

/* row_rec - a record from LIST_COLUMNS' values */
static void
row_rec(struct astore_rec *r, const char *const *col)
{
	r->key = g_strdup(col[0]);
	r->time = g_strdup(col[1]);
	r->direction = g_strdup(col[2]);
	r->sender = g_strdup(col[3]);
	r->recipients = split_json_array(col[4]);
	r->from = g_strdup(col[5]);
	r->to = g_strdup(col[6]);
	r->subject = g_strdup(col[7]);
	r->message_id = g_strdup(col[8]);
	r->date = g_strdup(col[9]);
	r->size = g_ascii_strtoll(col[10] ? col[10] : "0", NULL, 10);
	r->sha256 = g_strdup(col[11]);
}

/* row_values - the values of a row for ev, COLUMNS' order but the
 * message (g_strfreev; NCOLUMNS - 1 of them) */
static char **
row_values(JsonObject *ev)
{
	char **v = g_new0(char *, NCOLUMNS);

	v[0] = g_strdup(ev_str(ev, "key", ""));
	v[1] = g_strdup(ev_str(ev, "time", ""));
	v[2] = g_strdup(ev_str(ev, "queue_id", ""));
	v[3] = g_strdup(ev_str(ev, "direction", ""));
	v[4] = g_strdup(ev_str(ev, "sender", ""));
	v[5] = ev_member_json(ev, "recipients");
	v[6] = ev_member_json(ev, "policy");
	v[7] = g_strdup(ev_str(ev, "verdict", ""));
	v[8] = g_strdup(ev_str(ev, "handler", ""));
	v[9] = ev_member_json(ev, "facts");
	v[10] = ev_header(ev, "from", 1);
	v[11] = ev_header(ev, "to", 0);
	v[12] = ev_header(ev, "subject", 1);
	v[13] = ev_header(ev, "message-id", 1);
	v[14] = ev_header(ev, "date", 1);
	v[15] = g_strdup_printf("%" G_GINT64_FORMAT, json_object_has_member(ev, "size")
				? json_object_get_int_member(ev, "size") : (gint64) 0);
	v[16] = g_strdup(ev_str(ev, "sha256", ""));
	{
		JsonNode *n = json_node_new(JSON_NODE_OBJECT);
		JsonObject *copy = json_object_new();
		GList *names = json_object_get_members(ev), *l;

		/* the event without the body's path, which is gone soon */
		for (l = names; l; l = l->next)
			if (strcmp(l->data, "body"))
				json_object_set_member(copy, l->data,
						       json_node_copy(json_object_get_member(ev, l->data)));
		g_list_free(names);
		json_node_take_object(n, copy);
		v[17] = json_to_string(n, FALSE);
		json_node_unref(n);
	}
	return v;
}

/* lite_ready - the SQLite file open, WAL, its table there; create: make
 * the file (mode fmode) when it is not there; 0 or -1 (*why) */
static int
lite_ready(struct astore *a, int create, char **why)
{
	char *err = NULL, *dir;
	int fd;

	if (a->db && a->ready)
		return 0;
	if (a->db == NULL) {
		if (create) {
			dir = g_path_get_dirname(a->where);
			if (g_mkdir_with_parents(dir, (int) a->dmode) < 0) {
				*why = g_strdup_printf("%s: %s", dir, g_strerror(errno));
				g_free(dir);
				return -1;
			}
			g_free(dir);
			fd = open(a->where, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, a->fmode);
			if (fd < 0) {
				*why = g_strdup_printf("%s: %s", a->where, g_strerror(errno));
				return -1;
			}
			close(fd);
		}
		if (sqlite3_open_v2(a->where, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				    NULL) != SQLITE_OK) {
			*why = g_strdup_printf("%s: %s", a->where,
					       a->db ? sqlite3_errmsg(a->db) : "cannot open");
			sqlite3_close(a->db);
			a->db = NULL;
			return -1;
		}
		sqlite3_busy_timeout(a->db, a->timeout * 1000);
	}
	if (sqlite3_exec(a->db, "PRAGMA journal_mode = WAL;", NULL, NULL, &err) != SQLITE_OK
	    || sqlite3_exec(a->db, sqlite_schema, NULL, NULL, &err) != SQLITE_OK) {
		*why = g_strdup_printf("%s: %s", a->where, err ? err : sqlite3_errmsg(a->db));
		sqlite3_free(err);
		return -1;
	}
	a->ready = 1;
	return 0;
}

/* lite_put - the row of ev */
static enum astore_result
lite_put(struct astore *a, JsonObject *ev, const char *data, gsize len, char **why)
{
	char **v;
	sqlite3_stmt *st = NULL;
	int i, rc;

	if (lite_ready(a, 1, why) < 0)
		return ASTORE_RETRY;
	if (sqlite3_prepare_v2(a->db, "INSERT OR IGNORE INTO " ASTORE_TABLE " (" COLUMNS
			       ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st,
			       NULL) != SQLITE_OK) {
		*why = g_strdup_printf("%s: %s", a->where, sqlite3_errmsg(a->db));
		return ASTORE_RETRY;
	}
	v = row_values(ev);
	for (i = 0; i < NCOLUMNS - 1; i++) {
		if (i == 15)
			sqlite3_bind_int64(st, i + 1, g_ascii_strtoll(v[i], NULL, 10));
		else if (i == 8 && *v[i] == 0)
			sqlite3_bind_null(st, i + 1);
		else
			sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
	}
	sqlite3_bind_blob64(st, NCOLUMNS, data, len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		*why = g_strdup_printf("%s: %s", a->where, sqlite3_errmsg(a->db));
	sqlite3_finalize(st);
	g_strfreev(v);
	return rc == SQLITE_DONE ? ASTORE_DONE : ASTORE_RETRY;
}

/* lite_query - sql with params (text) run, each row to row(); 0 or
 * -1 (*why) */
static int
lite_query(struct astore *a, const char *sql, GPtrArray *params,
	   int (*row)(sqlite3_stmt *st, void *ctx), void *ctx, char **why)
{
	sqlite3_stmt *st = NULL;
	guint i;
	int rc;

	if (lite_ready(a, 0, why) < 0)
		return -1;
	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK) {
		*why = g_strdup_printf("%s: %s", a->where, sqlite3_errmsg(a->db));
		return -1;
	}
	for (i = 0; i < params->len; i++)
		sqlite3_bind_text(st, (int) i + 1, g_ptr_array_index(params, i), -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (row(st, ctx) < 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		*why = g_strdup_printf("%s: %s", a->where, sqlite3_errmsg(a->db));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* pg_quiet - PostgreSQL's notices ("relation exists, skipping") unsaid */
static void
pg_quiet(void *arg, const char *msg)
{
	(void) arg;
	(void) msg;
}

/* pg_fail - *why from the connection; a broken connection is dropped so
 * that the next call connects again */
static void
pg_fail(struct astore *a, PGresult *r, char **why)
{
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(a->pg);
	char *s = g_strdup(m && *m ? m : "PostgreSQL error"), *p;

	/* libpq's messages run over lines: one line for the log */
	for (p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	*why = g_strdup_printf("postgres: %s", g_strstrip(s));
	g_free(s);
	if (PQstatus(a->pg) != CONNECTION_OK) {
		PQfinish(a->pg);
		a->pg = NULL;
		a->ready = 0;
	}
}

/* pg_ready - connected, with a statement timeout, the table there; 0 or
 * -1 (*why) */
static int
pg_ready(struct astore *a, char **why)
{
	/* a server gone silent: TCP gives up on unacknowledged data after
	 * timeout, so that no call blocks much longer than that */
	const char *keys[] = {"dbname", "connect_timeout", "application_name",
			      "tcp_user_timeout", "keepalives_idle", "keepalives_interval",
			      "keepalives_count", NULL};
	char *ct, *ut, *st;
	const char *vals[8], *p1[1];
	PGresult *r;

	if (a->pg && a->ready && PQstatus(a->pg) == CONNECTION_OK)
		return 0;
	if (a->pg == NULL) {
		ct = g_strdup_printf("%d", a->timeout);
		ut = g_strdup_printf("%d", a->timeout * 1000);
		vals[0] = a->where, vals[1] = ct, vals[2] = "sinkd", vals[3] = ut;
		vals[4] = ct, vals[5] = "1", vals[6] = ct, vals[7] = NULL;
		a->pg = PQconnectdbParams(keys, vals, 1);
		g_free(ct);
		g_free(ut);
		if (PQstatus(a->pg) != CONNECTION_OK) {
			pg_fail(a, NULL, why);
			return -1;
		}
		PQsetNoticeProcessor(a->pg, pg_quiet, NULL);
	}
	st = g_strdup_printf("%d", a->timeout * 1000);
	p1[0] = st;
	r = PQexecParams(a->pg, "SELECT set_config('statement_timeout', $1, false)", 1, NULL,
			 p1, NULL, NULL, 0);
	g_free(st);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_fail(a, r, why);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	r = PQexec(a->pg, pg_schema);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_fail(a, r, why);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	a->ready = 1;
	return 0;
}

/* pg_put - the row of ev */
static enum astore_result
pg_put(struct astore *a, JsonObject *ev, const char *data, gsize len, char **why)
{
	const char *vals[NCOLUMNS];
	int lens[NCOLUMNS] = {0}, fmts[NCOLUMNS] = {0}, i;
	char **v;
	PGresult *r;
	enum astore_result res = ASTORE_DONE;

	if (pg_ready(a, why) < 0)
		return ASTORE_RETRY;
	v = row_values(ev);
	for (i = 0; i < NCOLUMNS - 1; i++)
		vals[i] = i == 8 && *v[i] == 0 ? NULL : v[i];
	vals[NCOLUMNS - 1] = data;
	lens[NCOLUMNS - 1] = (int) len;
	fmts[NCOLUMNS - 1] = 1;
	r = PQexecParams(a->pg, "INSERT INTO " ASTORE_TABLE " (" COLUMNS ") VALUES ("
			 "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)"
			 " ON CONFLICT (key) DO NOTHING", NCOLUMNS, NULL, vals, lens, fmts, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_fail(a, r, why);
		res = ASTORE_RETRY;
	}
	PQclear(r);
	g_strfreev(v);
	return res;
}

/* pg_query - sql with params; the result (PQclear), NULL (*why) */
static PGresult *
pg_query(struct astore *a, const char *sql, GPtrArray *params, int binary, char **why)
{
	PGresult *r;

	if (pg_ready(a, why) < 0)
		return NULL;
	r = PQexecParams(a->pg, sql, (int) params->len, NULL,
			 (const char *const *) params->pdata, NULL, NULL, binary);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_fail(a, r, why);
		PQclear(r);
		return NULL;
	}
	return r;
}

struct each_ctx {
	const struct astore_query *q;
	void (*each)(const struct astore_rec *r, void *ctx);
	void *ctx;
};

/* lite_row - one row of a search */
static int
lite_row(sqlite3_stmt *st, void *data)
{
	struct each_ctx *c = data;
	const char *col[12];
	struct astore_rec r = {0};
	int i;

	for (i = 0; i < 12; i++)
		col[i] = (const char *) sqlite3_column_text(st, i);
	row_rec(&r, col);
	if (record_matches(&r, c->q))
		c->each(&r, c->ctx);
	rec_clear(&r);
	return 0;
}

/* sql_search - see astore_search() */
static int
sql_search(struct astore *a, const struct astore_query *q,
	   void (*each)(const struct astore_rec *r, void *ctx), void *ctx, char **why)
{
	GPtrArray *params = g_ptr_array_new_with_free_func(g_free);
	char *where = sql_where(q, a->kind == ASTORE_POSTGRES, params);
	char *sql = g_strconcat("SELECT " LIST_COLUMNS " FROM " ASTORE_TABLE, where, NULL);
	struct each_ctx c = {q, each, ctx};
	int rc = 0, i, k;

	if (a->kind == ASTORE_SQLITE) {
		rc = lite_query(a, sql, params, lite_row, &c, why);
	} else {
		PGresult *r = pg_query(a, sql, params, 0, why);

		for (i = 0; r && i < PQntuples(r); i++) {
			const char *col[12];
			struct astore_rec rec = {0};

			for (k = 0; k < 12; k++)
				col[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
			row_rec(&rec, col);
			if (record_matches(&rec, q))
				each(&rec, ctx);
			rec_clear(&rec);
		}
		rc = r ? 0 : -1;
		PQclear(r);
	}
	g_ptr_array_unref(params);
	g_free(where);
	g_free(sql);
	return rc;
}

struct get_ctx {
	const char *key;
	int n;
	int exact;
	char *full;
	GBytes *msg;
};

/* lite_get_row - a row whose key starts with the key asked for */
static int
lite_get_row(sqlite3_stmt *st, void *data)
{
	struct get_ctx *g = data;
	const char *k = (const char *) sqlite3_column_text(st, 0);

	if (k == NULL || !g_str_has_prefix(k, g->key) || g->exact)
		return 0;
	g->n++;
	g_free(g->full);
	if (g->msg)
		g_bytes_unref(g->msg);
	g->full = g_strdup(k);
	g->msg = g_bytes_new(sqlite3_column_blob(st, 1), (gsize) sqlite3_column_bytes(st, 1));
	if (!strcmp(k, g->key)) {
		g->exact = 1;
		g->n = 1;
	}
	return 0;
}

/* sql_get - see astore_get() */
static int
sql_get(struct astore *a, const char *key, GBytes **msg, char **full, char **why)
{
	GPtrArray *params = g_ptr_array_new_with_free_func(g_free);
	struct get_ctx g = {.key = key};
	const char *sql = a->kind == ASTORE_SQLITE
		? "SELECT key, message FROM " ASTORE_TABLE " WHERE key LIKE ? ESCAPE '\\' ORDER BY key"
		: "SELECT key, message FROM " ASTORE_TABLE " WHERE key LIKE $1 ESCAPE '\\' ORDER BY key";
	int rc, i;

	/* the key's case kept (like_pattern() folds it) */
	{
		GString *o = g_string_new(NULL);
		const char *p;

		for (p = key; *p; p++) {
			if (*p == '%' || *p == '_' || *p == '\\')
				g_string_append_c(o, '\\');
			g_string_append_c(o, *p);
		}
		g_string_append_c(o, '%');
		g_ptr_array_add(params, g_string_free(o, FALSE));
	}
	if (a->kind == ASTORE_SQLITE) {
		rc = lite_query(a, sql, params, lite_get_row, &g, why);
	} else {
		PGresult *r = pg_query(a, sql, params, 1, why);

		for (i = 0; r && i < PQntuples(r) && !g.exact; i++) {
			char *k = g_strndup(PQgetvalue(r, i, 0), (gsize) PQgetlength(r, i, 0));

			if (g_str_has_prefix(k, key)) {
				g.n++;
				g_free(g.full);
				if (g.msg)
					g_bytes_unref(g.msg);
				g.full = g_strdup(k);
				g.msg = g_bytes_new(PQgetvalue(r, i, 1), (gsize) PQgetlength(r, i, 1));
				if (!strcmp(k, key))
					g.exact = 1, g.n = 1;
			}
			g_free(k);
		}
		rc = r ? 0 : -1;
		PQclear(r);
	}
	g_ptr_array_unref(params);
	if (rc < 0)
		rc = -3;
	else if (g.n == 0)
		rc = -1;
	else if (g.n > 1)
		rc = -2;
	if (rc == 0) {
		*msg = g.msg;
		*full = g.full;
	} else {
		if (g.msg)
			g_bytes_unref(g.msg);
		g_free(g.full);
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* the interface                                                        */

/*
 * astore_put - the message of ev, as received in the file body, stored
 * (see the head of the file); ASTORE_DONE also when it was stored before.
 * want (NULL: all) chooses the inbound recipients whose Maildir gets a
 * copy; a SQL row has them all.
 */
enum astore_result
astore_put(struct astore *a, JsonObject *ev, const char *body, astore_want_fn want,
	   void *ctx, char **why)
{
	GMappedFile *mf;
	GError *err = NULL;
	const char *data;
	gsize len;
	enum astore_result res;

	if (*ev_str(ev, "key", "") == 0) {
		*why = g_strdup("the event has no key");
		return ASTORE_FAIL;
	}
	if (body == NULL) {
		*why = g_strdup("no copy of the message");
		return ASTORE_FAIL;
	}
	if ((mf = g_mapped_file_new(body, FALSE, &err)) == NULL) {
		*why = g_strdup_printf("the message's copy: %s", err->message);
		g_error_free(err);
		return ASTORE_FAIL;
	}
	len = g_mapped_file_get_length(mf);
	data = len ? g_mapped_file_get_contents(mf) : "";
	switch (a->kind) {
	case ASTORE_MAILDIR:
		res = md_put(a, ev, data, len, want, ctx, why);
		break;
	case ASTORE_SQLITE:
		res = lite_put(a, ev, data, len, why);
		break;
	default:
		res = pg_put(a, ev, data, len, why);
		break;
	}
	g_mapped_file_unref(mf);
	return res;
}

/* astore_search - each record answering q to each(r, ctx), oldest
 * first (a Maildir's: in the order stored); 0, or -1 (*why) */
int
astore_search(struct astore *a, const struct astore_query *q,
	      void (*each)(const struct astore_rec *r, void *ctx), void *ctx, char **why)
{
	if (a->kind == ASTORE_MAILDIR)
		return md_search(a, q, each, ctx, why);
	return sql_search(a, q, each, ctx, why);
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
		return md_get(a, key, msg, full_key, why);
	return sql_get(a, key, msg, full_key, why);
}
