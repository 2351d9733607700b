/*
 * astore_sql - the archive's SQL stores, SQLite and PostgreSQL (see
 * astore.h)
 *
 * SQL: one row per message in the table sinkd_archive, the key its
 * primary key; INSERT OR IGNORE (SQLite), ON CONFLICT DO NOTHING
 * (PostgreSQL); every statement is parameterised.  Times are RFC 3339
 * UTC text in both, so that they sort and compare as times.
 *
 * Diagnostics: functions say what went wrong in *why (g_free).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "astore_impl.h"
#include "resolve.h"

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
		case 3: v = astore_day_bound(c[i].value, 0); break;
		case 4: v = astore_day_bound(c[i].value, 1); break;
		case 5: v = astore_msgid_norm(c[i].value); break;
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
	v = astore_ev_recipients(o);
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

	v[0] = g_strdup(astore_ev_str(ev, "key", ""));
	v[1] = g_strdup(astore_ev_str(ev, "time", ""));
	v[2] = g_strdup(astore_ev_str(ev, "queue_id", ""));
	v[3] = g_strdup(astore_ev_str(ev, "direction", ""));
	v[4] = g_strdup(astore_ev_str(ev, "sender", ""));
	v[5] = astore_ev_member_json(ev, "recipients");
	v[6] = astore_ev_member_json(ev, "policy");
	v[7] = g_strdup(astore_ev_str(ev, "verdict", ""));
	v[8] = g_strdup(astore_ev_str(ev, "handler", ""));
	v[9] = astore_ev_member_json(ev, "facts");
	v[10] = astore_ev_header(ev, "from", 1);
	v[11] = astore_ev_header(ev, "to", 0);
	v[12] = astore_ev_header(ev, "subject", 1);
	v[13] = astore_ev_header(ev, "message-id", 1);
	v[14] = astore_ev_header(ev, "date", 1);
	v[15] = g_strdup_printf("%" G_GINT64_FORMAT, json_object_has_member(ev, "size")
				? json_object_get_int_member(ev, "size") : (gint64) 0);
	v[16] = g_strdup(astore_ev_str(ev, "sha256", ""));
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

/*
 * astore_lite_put - the row of ev, in the transaction that
 * astore_lite_sync() commits (begun here when none is open), so that
 * many rows share one sync of the WAL
 */
enum astore_result
astore_lite_put(struct astore *a, JsonObject *ev, const char *data, gsize len, char **why)
{
	char **v;
	sqlite3_stmt *st = NULL;
	int i, rc;

	if (lite_ready(a, 1, why) < 0)
		return ASTORE_RETRY;
	if (!a->in_txn) {
		if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
			*why = g_strdup_printf("%s: %s", a->where, sqlite3_errmsg(a->db));
			return ASTORE_RETRY;
		}
		a->in_txn = 1;
	}
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

/*
 * astore_lite_sync - the rows put since the last sync committed (on
 * disk: the WAL synced); ASTORE_DONE, or ASTORE_RETRY (*why) when they
 * are not (SQLite rolled the transaction back after an error, or the
 * commit failed): the caller puts them again
 */
enum astore_result
astore_lite_sync(struct astore *a, char **why)
{
	if (!a->in_txn)
		return ASTORE_DONE;
	a->in_txn = 0;
	if (sqlite3_get_autocommit(a->db)) {
		*why = g_strdup_printf("%s: the transaction was rolled back", a->where);
		return ASTORE_RETRY;
	}
	if (sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		*why = g_strdup_printf("%s: %s", a->where, sqlite3_errmsg(a->db));
		(void) sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		return ASTORE_RETRY;
	}
	return ASTORE_DONE;
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
 * -1 (*why).  The host names of the connection string are looked up
 * within the timeout (resolve_pg()): libpq's connect_timeout starts
 * after its own look-up, which has none. */
static int
pg_ready(struct astore *a, char **why)
{
	/* a server gone silent: TCP gives up on unacknowledged data after
	 * timeout, so that no call blocks much longer than that */
	const char *keys[12] = {"dbname", "connect_timeout", "application_name",
				"tcp_user_timeout", "keepalives_idle", "keepalives_interval",
				"keepalives_count"};
	char *ct, *ut, *st, **addkw, **addval, *err = NULL;
	const char *vals[12], *p1[1];
	PGresult *r;
	int i;

	if (a->pg && a->ready && PQstatus(a->pg) == CONNECTION_OK)
		return 0;
	if (a->pg == NULL) {
		if (resolve_pg(a->where, g_get_monotonic_time() + (gint64) a->timeout * G_USEC_PER_SEC,
			       &addkw, &addval, &err) < 0) {
			*why = g_strdup_printf("postgres: %s", err);
			g_free(err);
			return -1;
		}
		ct = g_strdup_printf("%d", a->timeout);
		ut = g_strdup_printf("%d", a->timeout * 1000);
		vals[0] = a->where, vals[1] = ct, vals[2] = "sinkd", vals[3] = ut;
		vals[4] = ct, vals[5] = "1", vals[6] = ct, vals[7] = NULL;
		/* after the connection string: they override its host (and port) */
		for (i = 0; addkw && addkw[i] && i < 4; i++) {
			keys[7 + i] = addkw[i];
			vals[7 + i] = addval[i];
		}
		keys[7 + i] = NULL;
		vals[7 + i] = NULL;
		a->pg = PQconnectdbParams(keys, vals, 1);
		g_free(ct);
		g_free(ut);
		g_strfreev(addkw);
		g_strfreev(addval);
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

/* astore_pg_put - the row of ev */
enum astore_result
astore_pg_put(struct astore *a, JsonObject *ev, const char *data, gsize len, char **why)
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
	if (astore_record_matches(&r, c->q))
		c->each(&r, c->ctx);
	astore_rec_clear(&r);
	return 0;
}

/* astore_sql_search - see astore_search() */
int
astore_sql_search(struct astore *a, const struct astore_query *q,
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
			if (astore_record_matches(&rec, q))
				each(&rec, ctx);
			astore_rec_clear(&rec);
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

/* astore_sql_get - see astore_get() */
int
astore_sql_get(struct astore *a, const char *key, GBytes **msg, char **full, char **why)
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

