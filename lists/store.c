/*
 * store - the mailing lists' store, in SQLite or PostgreSQL (store.h)
 *
 * Every statement is written once, with $1, $2 ... parameters, which
 * both databases take (SQLite as named parameters "$1", looked up by
 * name).  Only the table definitions differ (types of blobs and serial
 * keys).  q() runs one statement and gives its rows as strings (bytea
 * and blob columns as their bytes); each public call takes the lock,
 * makes sure the connection is there (a broken PostgreSQL connection is
 * made again on the next call) and runs its statements in one
 * transaction.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <glib.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store.h"

#define BYTEAOID 17		/* PostgreSQL's bytea type */

/* PostgreSQL connections a store opens at most: transactions of several
 * threads run at once; SQLite's one writer at a time makes one enough */
#define PG_CONNS 4

/* A connection, held by one thread for one transaction at a time. */
struct lconn {
	sqlite3 *db;
	PGconn *pg;
};

struct lstore {
	GMutex lock;		/* idle, open */
	GCond freed;
	GPtrArray *idle;	/* struct lconn * */
	unsigned open, max;
	char *where;		/* as named */
	char *path;		/* SQLite: the file; NULL: PostgreSQL */
	int ready;		/* tables made (atomic) */
};

/* the connection of the transaction this thread is in (begin to end) */
static GPrivate held;

static struct lconn *
cur(void)
{
	return g_private_get(&held);
}

/* a parameter: text, or bytes when b is set */
struct lp {
	const char *s;
	const void *b;
	size_t len;
};

/* a cell of a result row: NUL-terminated, len bytes */
struct cell {
	char *p;
	size_t len;
	int null;
};

struct row {
	unsigned n;
	struct cell c[];
};

const char *const ls_settings[] = {
	"policy", "subject-prefix", "description", "footer", "dmarc", "bounce-score", NULL
};

static const char *const table_sql[2] = {
	/* SQLite */
	"CREATE TABLE IF NOT EXISTS lists (address TEXT PRIMARY KEY,"
	" policy TEXT NOT NULL DEFAULT 'members', prefix TEXT NOT NULL DEFAULT '',"
	" description TEXT NOT NULL DEFAULT '', dmarc TEXT NOT NULL DEFAULT 'munge',"
	" footer TEXT NOT NULL DEFAULT '', bounce_score BIGINT NOT NULL DEFAULT 5,"
	" created BIGINT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS members (list TEXT NOT NULL, address TEXT NOT NULL,"
	" roles INTEGER NOT NULL, disabled BIGINT NOT NULL DEFAULT 0,"
	" score BIGINT NOT NULL DEFAULT 0, bounce_day BIGINT NOT NULL DEFAULT 0,"
	" PRIMARY KEY (list, address));"
	"CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, list TEXT NOT NULL,"
	" action TEXT NOT NULL, address TEXT NOT NULL, expires BIGINT NOT NULL, data BLOB);"
	"CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" sender TEXT NOT NULL, rcpts TEXT NOT NULL, data BLOB NOT NULL,"
	" lease BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, time BIGINT NOT NULL);",
	/* PostgreSQL */
	"CREATE TABLE IF NOT EXISTS lists (address TEXT PRIMARY KEY,"
	" policy TEXT NOT NULL DEFAULT 'members', prefix TEXT NOT NULL DEFAULT '',"
	" description TEXT NOT NULL DEFAULT '', dmarc TEXT NOT NULL DEFAULT 'munge',"
	" footer TEXT NOT NULL DEFAULT '', bounce_score BIGINT NOT NULL DEFAULT 5,"
	" created BIGINT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS members (list TEXT NOT NULL, address TEXT NOT NULL,"
	" roles INTEGER NOT NULL, disabled BIGINT NOT NULL DEFAULT 0,"
	" score BIGINT NOT NULL DEFAULT 0, bounce_day BIGINT NOT NULL DEFAULT 0,"
	" PRIMARY KEY (list, address));"
	"CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, list TEXT NOT NULL,"
	" action TEXT NOT NULL, address TEXT NOT NULL, expires BIGINT NOT NULL, data BYTEA);"
	"CREATE TABLE IF NOT EXISTS outbox (id BIGSERIAL PRIMARY KEY,"
	" sender TEXT NOT NULL, rcpts TEXT NOT NULL, data BYTEA NOT NULL,"
	" lease BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, time BIGINT NOT NULL);",
};

static void
row_free(gpointer p)
{
	struct row *r = p;
	unsigned i;

	for (i = 0; i < r->n; i++)
		g_free(r->c[i].p);
	g_free(r);
}

static struct row *
row_new(unsigned n)
{
	struct row *r = g_malloc0(sizeof(*r) + n * sizeof(struct cell));

	r->n = n;
	return r;
}

/* cell_set - copy len bytes into c, NUL-terminated */
static void
cell_set(struct cell *c, const void *p, size_t len)
{
	c->p = g_malloc(len + 1);
	if (len)
		memcpy(c->p, p, len);
	c->p[len] = 0;
	c->len = len;
}

/* ------------------------------------------------------------------ */
/* SQLite                                                               */

static int
lite_q(struct lstore *s, const char *sql, const struct lp *p, unsigned np, GPtrArray *rows,
       char **why)
{
	sqlite3_stmt *st = NULL;
	unsigned i;
	int rc, n, j;

	if (sqlite3_prepare_v2(cur()->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < np; i++) {
		char name[16];
		int k;

		g_snprintf(name, sizeof(name), "$%u", i + 1);
		if ((k = sqlite3_bind_parameter_index(st, name)) == 0)
			continue;
		if (p[i].b)
			rc = sqlite3_bind_blob64(st, k, p[i].b, p[i].len, SQLITE_STATIC);
		else if (p[i].s)
			rc = sqlite3_bind_text(st, k, p[i].s, -1, SQLITE_STATIC);
		else
			rc = sqlite3_bind_null(st, k);
		if (rc != SQLITE_OK)
			goto fail;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct row *r;

		if (rows == NULL)
			continue;
		n = sqlite3_column_count(st);
		r = row_new((unsigned) n);
		for (j = 0; j < n; j++) {
			if (sqlite3_column_type(st, j) == SQLITE_NULL) {
				r->c[j].null = 1;
				cell_set(&r->c[j], "", 0);
			} else if (sqlite3_column_type(st, j) == SQLITE_BLOB) {
				const void *b = sqlite3_column_blob(st, j);

				cell_set(&r->c[j], b, (size_t) sqlite3_column_bytes(st, j));
			} else {
				const unsigned char *t = sqlite3_column_text(st, j);

				cell_set(&r->c[j], t, (size_t) sqlite3_column_bytes(st, j));
			}
		}
		g_ptr_array_add(rows, r);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return 0;
fail:
	*why = g_strdup_printf("%s: %s", s->path, sqlite3_errmsg(cur()->db));
	sqlite3_finalize(st);
	return -1;
}

static int
lite_open(struct lstore *s, struct lconn *c, char **why)
{
	if (sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
			    | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*why = g_strdup_printf("%s: %s", s->path, c->db ? sqlite3_errmsg(c->db) : "cannot open");
		sqlite3_close(c->db);
		c->db = NULL;
		return -1;
	}
	/* the tool and sinkd use the file at once */
	sqlite3_busy_timeout(c->db, 10000);
	sqlite3_exec(c->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;",
		     NULL, NULL, NULL);
	return 0;
}

/* ------------------------------------------------------------------ */
/* PostgreSQL                                                           */

static void
pg_quiet(void *arg, const char *msg)
{
	(void) arg;
	(void) msg;
}

static int
pg_q(struct lstore *s, const char *sql, const struct lp *p, unsigned np, GPtrArray *rows,
     char **why)
{
	const char **vals = g_newa(const char *, np + 1);
	int *lens = g_newa(int, np + 1), *fmts = g_newa(int, np + 1);
	PGresult *res;
	unsigned i;
	int n, j, t;

	for (i = 0; i < np; i++) {
		vals[i] = p[i].b ? p[i].b : p[i].s;
		lens[i] = p[i].b ? (int) p[i].len : 0;
		fmts[i] = p[i].b ? 1 : 0;
	}
	res = PQexecParams(cur()->pg, sql, (int) np, NULL, vals, lens, fmts, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		char *e = g_strdup(PQresultErrorMessage(res));

		*why = g_strdup_printf("PostgreSQL: %s", g_strstrip(e));
		g_free(e);
		PQclear(res);
		return -1;
	}
	n = PQnfields(res);
	for (t = 0; rows && t < PQntuples(res); t++) {
		struct row *r = row_new((unsigned) n);

		for (j = 0; j < n; j++) {
			const char *v = PQgetvalue(res, t, j);

			if (PQgetisnull(res, t, j)) {
				r->c[j].null = 1;
				cell_set(&r->c[j], "", 0);
			} else if (PQftype(res, j) == BYTEAOID) {
				size_t len = 0;
				unsigned char *b = PQunescapeBytea((const unsigned char *) v, &len);

				cell_set(&r->c[j], b ? (const char *) b : "", b ? len : 0);
				PQfreemem(b);
			} else
				cell_set(&r->c[j], v, (size_t) PQgetlength(res, t, j));
		}
		g_ptr_array_add(rows, r);
	}
	PQclear(res);
	return 0;
}

static int
pg_open(struct lstore *s, struct lconn *c, char **why)
{
	/* a server that does not answer holds a recipient 10 s, not the
	 * system's TCP timeout: connect_timeout first, so that the string's
	 * own (dbname, expanded, comes later) has the last word */
	static const char *const keys[] = {"connect_timeout", "dbname", NULL};
	const char *vals[] = {"10", s->where, NULL};

	c->pg = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		char *e = g_strdup(PQerrorMessage(c->pg));

		*why = g_strdup_printf("PostgreSQL: %s", g_strstrip(e));
		g_free(e);
		PQfinish(c->pg);
		c->pg = NULL;
		return -1;
	}
	PQsetNoticeProcessor(c->pg, pg_quiet, NULL);
	return 0;
}

/* ------------------------------------------------------------------ */
/* both                                                                 */

/* q - one statement; rows (may be NULL) gets its rows */
static int
q(struct lstore *s, const char *sql, const struct lp *p, unsigned np, GPtrArray *rows,
  char **why)
{
	return s->path ? lite_q(s, sql, p, np, rows, why) : pg_q(s, sql, p, np, rows, why);
}

/* exec - statements without parameters or rows */
static int
exec(struct lstore *s, const char *sql, char **why)
{
	if (s->path) {
		char *err = NULL;

		if (sqlite3_exec(cur()->db, sql, NULL, NULL, &err) != SQLITE_OK) {
			*why = g_strdup_printf("%s: %s", s->path, err ? err : sqlite3_errmsg(cur()->db));
			sqlite3_free(err);
			return -1;
		}
		return 0;
	} else {
		/* PQexec, not PQexecParams: several statements in one string */
		PGresult *r = PQexec(cur()->pg, sql);

		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
			char *e = g_strdup(PQresultErrorMessage(r));

			*why = g_strdup_printf("PostgreSQL: %s", g_strstrip(e));
			g_free(e);
			PQclear(r);
			return -1;
		}
		PQclear(r);
		return 0;
	}
}

/* release - the thread's connection back among the idle ones */
static void
release(struct lstore *s)
{
	struct lconn *c = cur();

	g_private_set(&held, NULL);
	g_mutex_lock(&s->lock);
	g_ptr_array_add(s->idle, c);
	g_cond_signal(&s->freed);
	g_mutex_unlock(&s->lock);
}

/* begin - a connection (an idle one, a new one, or the first one freed),
 * opened; the tables; a transaction */
static int
begin(struct lstore *s, char **why)
{
	struct lconn *c;

	g_mutex_lock(&s->lock);
	while (s->idle->len == 0 && s->open >= s->max)
		g_cond_wait(&s->freed, &s->lock);
	if (s->idle->len > 0) {
		c = g_ptr_array_steal_index(s->idle, s->idle->len - 1);
	} else {
		c = g_new0(struct lconn, 1);
		s->open++;
	}
	g_mutex_unlock(&s->lock);
	g_private_set(&held, c);
	if (c->pg && PQstatus(c->pg) != CONNECTION_OK) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	if (s->path ? c->db == NULL && lite_open(s, c, why) < 0
		    : c->pg == NULL && pg_open(s, c, why) < 0)
		goto fail;
	if (!g_atomic_int_get(&s->ready)) {
		/* two processes making the tables at once: PostgreSQL
		 * serialises them with a lock of the transaction */
		if (exec(s, s->path ? "BEGIN IMMEDIATE" : "BEGIN; SELECT pg_advisory_xact_lock(58213)",
			 why) < 0)
			goto fail;
		if (exec(s, table_sql[s->path ? 0 : 1], why) < 0 || exec(s, "COMMIT", why) < 0) {
			exec(s, "ROLLBACK", &(char *) {NULL});
			goto fail;
		}
		g_atomic_int_set(&s->ready, 1);
	}
	if (exec(s, s->path ? "BEGIN IMMEDIATE" : "BEGIN", why) < 0)
		goto fail;
	return 0;
fail:
	release(s);
	return -1;
}

/* end - commit when rc is 0, else roll back; rc, or -1 when the commit
 * failed */
static int
end(struct lstore *s, int rc, char **why)
{
	if (rc >= 0 && exec(s, "COMMIT", why) < 0)
		rc = -1;
	if (rc < 0) {
		char *e = NULL;

		exec(s, "ROLLBACK", &e);
		g_free(e);
	}
	release(s);
	return rc;
}

struct lstore *
ls_open(const char *where, char **why)
{
	struct lstore *s;

	if (where == NULL || *where == 0) {
		*why = g_strdup("no store named");
		return NULL;
	}
	s = g_new0(struct lstore, 1);
	g_mutex_init(&s->lock);
	g_cond_init(&s->freed);
	s->idle = g_ptr_array_new();
	s->where = g_strdup(where);
	if (g_str_has_prefix(where, "sqlite:"))
		s->path = g_strdup(where + 7);
	else if (*where == '/' || *where == '.')
		s->path = g_strdup(where);
	else if (!g_str_has_prefix(where, "postgresql:") && !g_str_has_prefix(where, "postgres:")
		 && strchr(where, '=') == NULL) {
		*why = g_strdup_printf("%s: neither sqlite:PATH, a path, nor a PostgreSQL "
				       "connection string", where);
		ls_close(s);
		return NULL;
	}
	if (s->path && *s->path != '/') {
		*why = g_strdup_printf("%s: the SQLite file must be an absolute path", where);
		ls_close(s);
		return NULL;
	}
	s->max = s->path ? 1 : PG_CONNS;
	return s;
}

void
ls_close(struct lstore *s)
{
	guint i;

	if (s == NULL)
		return;
	for (i = 0; i < s->idle->len; i++) {
		struct lconn *c = s->idle->pdata[i];

		if (c->db)
			sqlite3_close(c->db);
		if (c->pg)
			PQfinish(c->pg);
		g_free(c);
	}
	g_ptr_array_free(s->idle, TRUE);
	g_cond_clear(&s->freed);
	g_mutex_clear(&s->lock);
	g_free(s->where);
	g_free(s->path);
	g_free(s);
}

const char *
ls_where(const struct lstore *s)
{
	return s->where;
}

char *
ls_addr_norm(const char *addr)
{
	const char *at, *p;
	size_t n;

	if (addr == NULL)
		return NULL;
	n = strlen(addr);
	if (*addr == '<') {
		char *in, *out;

		if (n < 2 || addr[n - 1] != '>')
			return NULL;
		in = g_strndup(addr + 1, n - 2);
		out = in[0] == '<' ? NULL : ls_addr_norm(in);
		g_free(in);
		return out;
	}
	at = strrchr(addr, '@');
	if (at == NULL || at == addr || at[1] == 0 || n > 254)
		return NULL;
	for (p = addr; *p; p++)
		if ((unsigned char) *p <= ' ' || *p == 0x7f || *p == '<' || *p == '>'
		    || *p == ',' || *p == '"' || *p == '\\' || (*p == '@' && p != at))
			return NULL;
	if (!g_utf8_validate(addr, -1, NULL))
		return NULL;
	return g_utf8_strdown(addr, -1);
}

/* str - cell i of row r, or "" */
static const char *
str(const struct row *r, unsigned i)
{
	return r && i < r->n ? r->c[i].p : "";
}

static long
num(const struct row *r, unsigned i)
{
	return strtol(str(r, i), NULL, 10);
}

#define T(x) {.s = (x)}

/* ------------------------------------------------------------------ */
/* lists                                                                */

int
ls_list_get(struct lstore *s, const char *list, struct ls_list *l, char **why)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	struct lp p[] = {T(list)};
	int rc;

	memset(l, 0, sizeof(*l));
	if (begin(s, why) < 0) {
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	rc = q(s, "SELECT address, policy, prefix, description, dmarc, footer, bounce_score,"
	       " created FROM lists WHERE address = $1", p, 1, rows, why);
	rc = end(s, rc, why);
	if (rc == 0 && rows->len) {
		struct row *r = rows->pdata[0];

		l->address = g_strdup(str(r, 0));
		l->policy = g_strdup(str(r, 1));
		l->prefix = g_strdup(str(r, 2));
		l->description = g_strdup(str(r, 3));
		l->dmarc = g_strdup(str(r, 4));
		l->footer = g_strdup(str(r, 5));
		l->bounce_score = num(r, 6);
		l->created = num(r, 7);
		rc = 1;
	}
	g_ptr_array_free(rows, TRUE);
	return rc;
}

void
ls_list_clear(struct ls_list *l)
{
	g_free(l->address);
	g_free(l->policy);
	g_free(l->prefix);
	g_free(l->description);
	g_free(l->dmarc);
	g_free(l->footer);
	memset(l, 0, sizeof(*l));
}

/* changed - statements that must have changed a row: -1 (*why) if not */
static int
changed(struct lstore *s, const char *sql, const struct lp *p, unsigned np, const char *what,
	char **why)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	int rc = q(s, sql, p, np, rows, why);

	if (rc == 0 && rows->len == 0) {
		*why = g_strdup(what);
		rc = -1;
	}
	g_ptr_array_free(rows, TRUE);
	return rc;
}

int
ls_list_create(struct lstore *s, const char *list, char **why)
{
	char now[32];
	struct lp p[] = {T(list), T(now)};
	int rc;

	g_snprintf(now, sizeof(now), "%ld", (long) (g_get_real_time() / G_USEC_PER_SEC));
	if (begin(s, why) < 0)
		return -1;
	rc = changed(s, "INSERT INTO lists (address, created) VALUES ($1, $2)"
		     " ON CONFLICT (address) DO NOTHING RETURNING address", p, 2,
		     "the list exists already", why);
	return end(s, rc, why);
}

int
ls_list_delete(struct lstore *s, const char *list, char **why)
{
	struct lp p[] = {T(list)};
	int rc;

	if (begin(s, why) < 0)
		return -1;
	rc = changed(s, "DELETE FROM lists WHERE address = $1 RETURNING address", p, 1,
		     "no such list", why);
	if (rc == 0)
		rc = q(s, "DELETE FROM members WHERE list = $1", p, 1, NULL, why);
	if (rc == 0)
		rc = q(s, "DELETE FROM tokens WHERE list = $1", p, 1, NULL, why);
	return end(s, rc, why);
}

/* setting_ok - value is one key accepts; the column it goes to */
static const char *
setting_column(const char *key, const char *value, char **why)
{
	static const char *const policies[] = {"open", "members", "moderated", NULL};
	static const char *const dmarcs[] = {"munge", "wrap", "none", NULL};
	const char *const *vals = NULL;
	char *all;
	unsigned i;

	if (!strcmp(key, "policy"))
		vals = policies;
	else if (!strcmp(key, "dmarc"))
		vals = dmarcs;
	else if (!strcmp(key, "bounce-score")) {
		char *e;
		long n = strtol(value, &e, 10);

		if (*value == 0 || *e || n < 1 || n > 1000) {
			*why = g_strdup_printf("bounce-score: %s: not a number from 1 to 1000", value);
			return NULL;
		}
		return "bounce_score";
	} else if (!strcmp(key, "footer")) {
		if (!g_utf8_validate(value, -1, NULL) || strlen(value) > 4096 || strchr(value, '\r')) {
			*why = g_strdup_printf("%s: not UTF-8 text of at most 4096 bytes", key);
			return NULL;
		}
		return key;
	} else if (!strcmp(key, "subject-prefix") || !strcmp(key, "description")) {
		if (!g_utf8_validate(value, -1, NULL) || strlen(value) > 4096
		    || strpbrk(value, "\r\n")) {
			*why = g_strdup_printf("%s: not one line of UTF-8 of at most 4096 bytes", key);
			return NULL;
		}
		return !strcmp(key, "subject-prefix") ? "prefix" : key;
	} else {
		*why = g_strdup_printf("%s: no such setting", key);
		return NULL;
	}
	for (i = 0; vals[i]; i++)
		if (!strcmp(vals[i], value))
			return key;
	all = g_strjoinv(", ", (char **) vals);
	*why = g_strdup_printf("%s: %s: not one of %s", key, value, all);
	g_free(all);
	return NULL;
}

int
ls_list_set(struct lstore *s, const char *list, const char *key, const char *value, char **why)
{
	const char *col = setting_column(key, value, why);
	struct lp p[] = {T(list), T(value)};
	char *sql;
	int rc;

	if (col == NULL)
		return -1;
	if (begin(s, why) < 0)
		return -1;
	sql = !strcmp(col, "bounce_score")
		? g_strdup("UPDATE lists SET bounce_score = CAST($2 AS BIGINT) WHERE address = $1"
			   " RETURNING address")
		: g_strdup_printf("UPDATE lists SET %s = $2 WHERE address = $1 RETURNING address", col);
	rc = changed(s, sql, p, 2, "no such list", why);
	g_free(sql);
	return end(s, rc, why);
}

/* column - every row's first cell, g_free()d strings */
static GPtrArray *
column(GPtrArray *rows)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	unsigned i;

	for (i = 0; i < rows->len; i++)
		g_ptr_array_add(a, g_strdup(str(rows->pdata[i], 0)));
	return a;
}

int
ls_lists(struct lstore *s, GPtrArray **names, char **why)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	int rc;

	*names = NULL;
	if (begin(s, why) < 0) {
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	rc = end(s, q(s, "SELECT address FROM lists ORDER BY address", NULL, 0, rows, why), why);
	if (rc == 0)
		*names = column(rows);
	g_ptr_array_free(rows, TRUE);
	return rc;
}

/* ------------------------------------------------------------------ */
/* members                                                              */

static void
member_of(const struct row *r, struct ls_member *m)
{
	m->address = g_strdup(str(r, 0));
	m->roles = (unsigned) num(r, 1);
	m->disabled = num(r, 2);
	m->score = num(r, 3);
	m->bounce_day = num(r, 4);
}

int
ls_member_get(struct lstore *s, const char *list, const char *addr, struct ls_member *m,
	      char **why)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	struct lp p[] = {T(list), T(addr)};
	int rc;

	memset(m, 0, sizeof(*m));
	if (begin(s, why) < 0) {
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	rc = end(s, q(s, "SELECT address, roles, disabled, score, bounce_day FROM members"
		      " WHERE list = $1 AND address = $2", p, 2, rows, why), why);
	if (rc == 0 && rows->len) {
		member_of(rows->pdata[0], m);
		rc = 1;
	}
	g_ptr_array_free(rows, TRUE);
	return rc;
}

void
ls_member_clear(struct ls_member *m)
{
	g_free(m->address);
	memset(m, 0, sizeof(*m));
}

/* list_there - the list exists, in the transaction; -1 (*why) if not */
static int
list_there(struct lstore *s, const char *list, char **why)
{
	struct lp p[] = {T(list)};

	return changed(s, "SELECT address FROM lists WHERE address = $1", p, 1, "no such list", why);
}

int
ls_member_add(struct lstore *s, const char *list, char *const *addrs, unsigned roles, char **why)
{
	char r[16];
	struct lp p[] = {T(list), T(NULL), T(r)};
	unsigned i;
	int rc;

	g_snprintf(r, sizeof(r), "%u", roles);
	if (begin(s, why) < 0)
		return -1;
	rc = list_there(s, list, why);
	/* one transaction for them all; a member added again keeps its
	 * roles and gains these */
	for (i = 0; rc == 0 && addrs[i]; i++) {
		p[1].s = addrs[i];
		rc = q(s, "INSERT INTO members (list, address, roles) VALUES ($1, $2, CAST($3 AS INTEGER))"
		       " ON CONFLICT (list, address) DO UPDATE SET roles = members.roles | excluded.roles",
		       p, 3, NULL, why);
	}
	return end(s, rc, why);
}

int
ls_member_remove(struct lstore *s, const char *list, const char *addr, char **why)
{
	struct lp p[] = {T(list), T(addr)};
	int rc;

	if (begin(s, why) < 0)
		return -1;
	rc = changed(s, "DELETE FROM members WHERE list = $1 AND address = $2 RETURNING address",
		     p, 2, "not on the list", why);
	return end(s, rc, why);
}

int
ls_member_enable(struct lstore *s, const char *list, const char *addr, char **why)
{
	struct lp p[] = {T(list), T(addr)};
	int rc;

	if (begin(s, why) < 0)
		return -1;
	rc = changed(s, "UPDATE members SET disabled = 0, score = 0 WHERE list = $1"
		     " AND address = $2 RETURNING address", p, 2, "not on the list", why);
	return end(s, rc, why);
}

int
ls_members(struct lstore *s, const char *list, unsigned roles, int active, GPtrArray **addrs,
	   char **why)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	char r[16];
	struct lp p[] = {T(list), T(r)};
	int rc;

	*addrs = NULL;
	g_snprintf(r, sizeof(r), "%u", roles);
	if (begin(s, why) < 0) {
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	rc = end(s, q(s, active
		      ? "SELECT address FROM members WHERE list = $1 AND (roles & CAST($2 AS INTEGER)) <> 0"
			" AND disabled = 0 ORDER BY address"
		      : "SELECT address FROM members WHERE list = $1 AND (roles & CAST($2 AS INTEGER)) <> 0"
			" ORDER BY address", p, 2, rows, why), why);
	if (rc == 0)
		*addrs = column(rows);
	g_ptr_array_free(rows, TRUE);
	return rc;
}

static void
member_free(gpointer p)
{
	ls_member_clear(p);
	g_free(p);
}

int
ls_member_rows(struct lstore *s, const char *list, GPtrArray **out, char **why)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	struct lp p[] = {T(list)};
	unsigned i;
	int rc;

	*out = NULL;
	if (begin(s, why) < 0) {
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	rc = end(s, q(s, "SELECT address, roles, disabled, score, bounce_day FROM members"
		      " WHERE list = $1 ORDER BY address", p, 1, rows, why), why);
	if (rc == 0) {
		*out = g_ptr_array_new_with_free_func(member_free);
		for (i = 0; i < rows->len; i++) {
			struct ls_member *m = g_new0(struct ls_member, 1);

			member_of(rows->pdata[i], m);
			g_ptr_array_add(*out, m);
		}
	}
	g_ptr_array_free(rows, TRUE);
	return rc;
}

int
ls_bounce(struct lstore *s, const char *list, const char *addr, long day, char **why)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	char d[32];
	struct lp p[] = {T(list), T(addr), T(d)};
	int rc;

	g_snprintf(d, sizeof(d), "%ld", day);
	if (begin(s, why) < 0) {
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	/* one failure a day at most, as a member's mailbox may bounce every
	 * post of a busy day for one cause */
	rc = q(s, "UPDATE members SET"
	       " score = score + CASE WHEN bounce_day < CAST($3 AS BIGINT) THEN 1 ELSE 0 END,"
	       " bounce_day = CASE WHEN bounce_day < CAST($3 AS BIGINT) THEN CAST($3 AS BIGINT)"
	       " ELSE bounce_day END"
	       " WHERE list = $1 AND address = $2 AND disabled = 0"
	       " RETURNING score, (SELECT bounce_score FROM lists WHERE address = $1)",
	       p, 3, rows, why);
	if (rc == 0 && rows->len && num(rows->pdata[0], 0) >= num(rows->pdata[0], 1)) {
		rc = q(s, "UPDATE members SET disabled = CAST($3 AS BIGINT) WHERE list = $1"
		       " AND address = $2", p, 3, NULL, why);
		if (rc == 0)
			rc = 1;
	}
	rc = end(s, rc, why);
	g_ptr_array_free(rows, TRUE);
	return rc;
}

/* ------------------------------------------------------------------ */
/* tokens                                                               */

char *
ls_token_new(struct lstore *s, const char *list, const char *action, const char *addr,
	     long expires, const void *data, size_t len, char **why)
{
	unsigned char b[16];
	char tok[33], e[32];
	struct lp p[] = {T(tok), T(list), T(action), T(addr), T(e), {.b = data, .len = len}};
	unsigned i;
	int rc;

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		*why = g_strdup_printf("getrandom: %s", g_strerror(errno));
		return NULL;
	}
	for (i = 0; i < sizeof(b); i++)
		g_snprintf(tok + 2 * i, 3, "%02x", b[i]);
	g_snprintf(e, sizeof(e), "%ld", expires);
	if (data == NULL)
		p[5] = (struct lp) {.s = NULL};
	if (begin(s, why) < 0)
		return NULL;
	rc = q(s, "INSERT INTO tokens (token, list, action, address, expires, data)"
	       " VALUES ($1, $2, $3, $4, CAST($5 AS BIGINT), $6)", p, 6, NULL, why);
	if (end(s, rc, why) < 0)
		return NULL;
	return g_strdup(tok);
}

static void
token_of(const struct row *r, struct ls_token *t)
{
	t->token = g_strdup(str(r, 0));
	t->list = g_strdup(str(r, 1));
	t->action = g_strdup(str(r, 2));
	t->address = g_strdup(str(r, 3));
	t->expires = num(r, 4);
	if (r->n > 5 && !r->c[5].null)
		t->data = g_bytes_new(r->c[5].p, r->c[5].len);
}

/* token_ok - a token as ls_token_new() makes them */
static int
token_ok(const char *tok)
{
	size_t i;

	for (i = 0; tok[i]; i++)
		if (!g_ascii_isxdigit(tok[i]) || g_ascii_isupper(tok[i]))
			return 0;
	return i == 32;
}

static int
token_get(struct lstore *s, const char *token, long now, struct ls_token *t, int take,
	  char **why)
{
	GPtrArray *rows;
	char n[32];
	struct lp p[] = {T(token), T(n)};
	int rc;

	memset(t, 0, sizeof(*t));
	if (token == NULL || !token_ok(token))
		return 0;
	g_snprintf(n, sizeof(n), "%ld", now);
	rows = g_ptr_array_new_with_free_func(row_free);
	if (begin(s, why) < 0) {
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	rc = q(s, take
	       ? "DELETE FROM tokens WHERE token = $1 AND expires >= CAST($2 AS BIGINT)"
		 " RETURNING token, list, action, address, expires, data"
	       : "SELECT token, list, action, address, expires, data FROM tokens"
		 " WHERE token = $1 AND expires >= CAST($2 AS BIGINT)", p, 2, rows, why);
	rc = end(s, rc, why);
	if (rc == 0 && rows->len) {
		token_of(rows->pdata[0], t);
		rc = 1;
	}
	g_ptr_array_free(rows, TRUE);
	return rc;
}

int
ls_token_get(struct lstore *s, const char *token, long now, struct ls_token *t, char **why)
{
	return token_get(s, token, now, t, 0, why);
}

int
ls_token_take(struct lstore *s, const char *token, long now, struct ls_token *t, char **why)
{
	return token_get(s, token, now, t, 1, why);
}

void
ls_token_clear(struct ls_token *t)
{
	g_free(t->token);
	g_free(t->list);
	g_free(t->action);
	g_free(t->address);
	if (t->data)
		g_bytes_unref(t->data);
	memset(t, 0, sizeof(*t));
}

int
ls_token_rekey(struct lstore *s, const char *token, const char *action, long expires,
	       int keep_data, char **why)
{
	char e[32];
	struct lp p[] = {T(token), T(action), T(e)};
	int rc;

	g_snprintf(e, sizeof(e), "%ld", expires);
	if (begin(s, why) < 0)
		return -1;
	rc = changed(s, keep_data
		     ? "UPDATE tokens SET action = $2, expires = CAST($3 AS BIGINT) WHERE token = $1"
		       " RETURNING token"
		     : "UPDATE tokens SET action = $2, expires = CAST($3 AS BIGINT), data = NULL"
		       " WHERE token = $1 RETURNING token", p, 3, "no such token", why);
	return end(s, rc, why);
}

static void
token_free(gpointer p)
{
	ls_token_clear(p);
	g_free(p);
}

int
ls_tokens(struct lstore *s, const char *list, const char *action, long now, GPtrArray **out,
	  char **why)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	char n[32];
	struct lp p[] = {T(list), T(action), T(n)};
	unsigned i;
	int rc;

	*out = NULL;
	g_snprintf(n, sizeof(n), "%ld", now);
	if (begin(s, why) < 0) {
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	/* the held messages themselves stay in the store */
	rc = end(s, q(s, "SELECT token, list, action, address, expires FROM tokens WHERE list = $1"
		      " AND action = $2 AND expires >= CAST($3 AS BIGINT) ORDER BY expires, token",
		      p, 3, rows, why), why);
	if (rc == 0) {
		*out = g_ptr_array_new_with_free_func(token_free);
		for (i = 0; i < rows->len; i++) {
			struct ls_token *t = g_new0(struct ls_token, 1);

			token_of(rows->pdata[i], t);
			g_ptr_array_add(*out, t);
		}
	}
	g_ptr_array_free(rows, TRUE);
	return rc;
}

int
ls_expire(struct lstore *s, long now, char **why)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	char n[32], old[32];
	struct lp p[] = {T(n), T(old)};
	int rc;

	g_snprintf(n, sizeof(n), "%ld", now);
	/* an event is not handed over again after a week */
	g_snprintf(old, sizeof(old), "%ld", now - 7 * 86400);
	if (begin(s, why) < 0) {
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	rc = q(s, "DELETE FROM tokens WHERE expires < CAST($1 AS BIGINT) RETURNING token",
	       p, 2, rows, why);
	if (rc == 0)
		rc = q(s, "DELETE FROM seen WHERE time < CAST($2 AS BIGINT)", p, 2, NULL, why);
	rc = end(s, rc, why);
	if (rc == 0)
		rc = (int) rows->len;
	g_ptr_array_free(rows, TRUE);
	return rc;
}

/* ------------------------------------------------------------------ */
/* the outbox                                                           */

int
ls_out_add(struct lstore *s, const char *sender, char *const *rcpts, const void *data,
	   size_t len, char **why)
{
	char *r = g_strjoinv("\n", (char **) rcpts);
	struct lp p[] = {T(sender), T(r), {.b = data, .len = len}};
	int rc;

	if (begin(s, why) < 0) {
		g_free(r);
		return -1;
	}
	rc = end(s, q(s, "INSERT INTO outbox (sender, rcpts, data) VALUES ($1, $2, $3)",
		      p, 3, NULL, why), why);
	g_free(r);
	return rc;
}

int
ls_out_claim(struct lstore *s, long now, long lease, struct ls_out *o, char **why)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	char n[32], l[32];
	struct lp p[] = {T(n), T(l)};
	int rc;

	memset(o, 0, sizeof(*o));
	g_snprintf(n, sizeof(n), "%ld", now);
	g_snprintf(l, sizeof(l), "%ld", now + lease);
	if (begin(s, why) < 0) {
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	/* the oldest row nobody holds; a row whose sender died is taken
	 * again when its lease is over */
	rc = q(s, "UPDATE outbox SET lease = CAST($2 AS BIGINT) WHERE id = (SELECT id FROM outbox"
	       " WHERE lease < CAST($1 AS BIGINT) ORDER BY id LIMIT 1)"
	       " RETURNING id, sender, rcpts, data", p, 2, rows, why);
	rc = end(s, rc, why);
	if (rc == 0 && rows->len) {
		struct row *r = rows->pdata[0];

		o->id = num(r, 0);
		o->sender = g_strdup(str(r, 1));
		o->rcpts = g_strsplit(str(r, 2), "\n", -1);
		o->data = g_bytes_new(r->c[3].p, r->c[3].len);
		rc = 1;
	}
	g_ptr_array_free(rows, TRUE);
	return rc;
}

int
ls_out_done(struct lstore *s, long id, char **why)
{
	char i[32];
	struct lp p[] = {T(i)};

	g_snprintf(i, sizeof(i), "%ld", id);
	if (begin(s, why) < 0)
		return -1;
	return end(s, q(s, "DELETE FROM outbox WHERE id = CAST($1 AS BIGINT)", p, 1, NULL, why),
		   why);
}

void
ls_out_clear(struct ls_out *o)
{
	g_free(o->sender);
	g_strfreev(o->rcpts);
	if (o->data)
		g_bytes_unref(o->data);
	memset(o, 0, sizeof(*o));
}

/* ------------------------------------------------------------------ */
/* events acted on                                                      */

int
ls_seen(struct lstore *s, const char *key, char **why)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	struct lp p[] = {T(key)};
	int rc;

	if (begin(s, why) < 0) {
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	rc = end(s, q(s, "SELECT key FROM seen WHERE key = $1", p, 1, rows, why), why);
	if (rc == 0)
		rc = rows->len > 0;
	g_ptr_array_free(rows, TRUE);
	return rc;
}

int
ls_seen_mark(struct lstore *s, const char *key, long now, char **why)
{
	char n[32];
	struct lp p[] = {T(key), T(n)};

	g_snprintf(n, sizeof(n), "%ld", now);
	if (begin(s, why) < 0)
		return -1;
	return end(s, q(s, "INSERT INTO seen (key, time) VALUES ($1, CAST($2 AS BIGINT))"
			" ON CONFLICT (key) DO NOTHING", p, 2, NULL, why), why);
}
