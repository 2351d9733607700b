/*
 * event_postgres - the PostgreSQL event target: each event a row of a
 * table, once per key
 *
 * [event:NAME] with type = postgres, conninfo = (or conninfo-file =) a
 * libpq connection string: each event is a row of table, made at the
 * first connection when it is not there:
 *
 *	key		text primary key: the idempotency key
 *	seq		bigint: its place in this sinkd's journal
 *	time		timestamptz: end of message
 *	queue_id, sender, direction, verdict, handler, sha256
 *			text: the event's members of those names
 *	recipients, policy	text[]
 *	size		bigint
 *	subject, message_id	text: the first of those header fields
 *	event		jsonb: the whole event
 *	stored		timestamptz: when the row was added
 *
 * The row is added with INSERT ... ON CONFLICT (key) DO NOTHING, the
 * event the only parameter the columns are taken from (PQsendQueryParams:
 * nothing of the event is ever written into the SQL), so an event
 * delivered twice is a row once.  The table's name, checked at load, is
 * the only name in the SQL.
 *
 * A delivery, connecting included, runs without blocking past timeout
 * (libpq's asynchronous calls and poll() against one deadline; the host
 * names of the connection string looked up before it by resolve_pg(),
 * for libpq's own look-up has no timeout, and given to libpq as
 * hostaddr).  A connection that
 * cannot be made, is lost or times out is tried again later on a new
 * one, as are errors the server says are for now (SQLSTATE classes 08,
 * 40, 53, 57, 58; 55P03); a missing table (42P01) is made again at the
 * next try; any other error (a permission, a constraint, a value the
 * column refuses) is a refusal: logged and skipped.
 */
#include <poll.h>
#include <errno.h>
#include <string.h>
#include <libpq-fe.h>
#include <glib.h>

#include "event.h"
#include "resolve.h"

#define PG_CONNINFO_MAX	8192	/* bytes of a conninfo file */
#define PG_NAME_MAX	63	/* an identifier's bytes */

/* documented in sinkd-events(5), THE POSTGRES TARGET */
static const struct conf_key pg_keys[] = {
	{"conninfo", CONF_STRING, "", .flags = CONF_NODOMAIN | CONF_RESTART | CONF_SECRET,
	 .doc = "the libpq connection string (host=... dbname=... or postgresql://...)"},
	{"conninfo-file", CONF_PATH, "", .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "a file holding the connection string, readable by root and sinkd only"},
	{"table", CONF_STRING, "sinkd_events", .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "the table of events: NAME or SCHEMA.NAME"},
	{"timeout", CONF_TIME, "10s", 1, 3600, .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "how long one delivery may take, connecting included"},
	{NULL},
};

/* SQLSTATEs of errors that are for now: classes, and codes */
static const char *const pg_transient[] = {
	"08", "40", "53", "57", "58", "55P03", NULL,
};

struct pg {
	char *conninfo;
	char *table;
	char *create;		/* CREATE TABLE IF NOT EXISTS ... */
	char *insert;		/* INSERT ... ON CONFLICT DO NOTHING */
	gint64 timeout;		/* microseconds */
	gint64 deadline;	/* the delivery's end (monotonic) */
	PGconn *c;		/* NULL until the first delivery, and after
				 * a failure */
	int ready;		/* the table is there */
};

/* pg_ident_ok - NAME or SCHEMA.NAME, each a letter or '_', then letters,
 * digits and '_', up to 63 bytes */
static int
pg_ident_ok(const char *s)
{
	unsigned n = 0, dots = 0;

	for (;; s++) {
		if (*s == '.' || *s == 0) {
			if (n == 0 || n > PG_NAME_MAX)
				return 0;
			if (*s == 0)
				return 1;
			if (++dots > 1)
				return 0;
			n = 0;
			continue;
		}
		if (!(g_ascii_isalpha(*s) || *s == '_' || (n && g_ascii_isdigit(*s))))
			return 0;
		n++;
	}
}

/*
 * pg_secret - the conninfo in the file path (its lines joined), checked
 * to be safe and secret (conf_file_unsafe()); NULL with *why (g_free)
 */
static char *
pg_secret(const char *path, uid_t user, char **why)
{
	GError *err = NULL;
	char *text = NULL, *p;
	gsize len;

	if ((*why = conf_file_unsafe(path, CONF_FILE_SECRET, user)) != NULL)
		return NULL;
	if (!g_file_get_contents(path, &text, &len, &err)) {
		*why = g_strdup(err->message);
		g_error_free(err);
		return NULL;
	}
	if (len > PG_CONNINFO_MAX || memchr(text, 0, len)) {
		*why = g_strdup_printf("%s: not a connection string (text)", path);
		g_free(text);
		return NULL;
	}
	for (p = text; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	g_strstrip(text);
	return text;
}

/* pg_close - the handle and its connection */
static void
pg_close(void *handle)
{
	struct pg *r = handle;

	if (r == NULL)
		return;
	if (r->c)
		PQfinish(r->c);
	if (r->conninfo) {
		explicit_bzero(r->conninfo, strlen(r->conninfo));
		g_free(r->conninfo);
	}
	g_free(r->table);
	g_free(r->create);
	g_free(r->insert);
	g_free(r);
}

/* pg_open - check the group (no I/O but the conninfo file); the handle */
static void *
pg_open(const struct conf_group *g, struct conf_errors *e)
{
	struct pg *r = g_new0(struct pg, 1);
	const char *ci = conf_str(g, "conninfo"), *cifile = conf_str(g, "conninfo-file");
	const char *key = *cifile ? "conninfo-file" : "conninfo";
	PQconninfoOption *opts;
	char *why = NULL, *err = NULL;
	int bad = 0;

	if (*ci && *cifile) {
		conf_key_error(e, g, "conninfo-file", "conninfo is set too: set one of them");
		bad = 1;
	} else if (*cifile) {
		if ((r->conninfo = pg_secret(cifile, e->user, &why)) == NULL) {
			conf_key_error(e, g, "conninfo-file", "%s", why);
			g_free(why);
			bad = 1;
		}
	} else if (*ci) {
		r->conninfo = g_strdup(ci);
	} else {
		conf_key_error(e, g, "type", "a postgres target needs conninfo (or conninfo-file)");
		bad = 1;
	}
	if (r->conninfo) {
		/* the string's form only; its values are not echoed */
		if ((opts = PQconninfoParse(r->conninfo, &err)) == NULL) {
			char *nl = err ? strchr(err, '\n') : NULL;

			if (nl)
				*nl = 0;
			conf_key_error(e, g, key, "not a libpq connection string: %s",
				       err ? err : "out of memory");
			bad = 1;
		}
		PQconninfoFree(opts);
		PQfreemem(err);
	}
	r->table = g_strdup(conf_str(g, "table"));
	if (!pg_ident_ok(r->table)) {
		conf_key_error(e, g, "table", "\"%s\": not a table name (NAME or SCHEMA.NAME: "
			       "letters, digits, '_')", r->table);
		bad = 1;
	}
	if (bad) {
		pg_close(r);
		return NULL;
	}
	r->timeout = conf_num(g, "timeout") * G_USEC_PER_SEC;
	r->create = g_strdup_printf(
		"CREATE TABLE IF NOT EXISTS %s ("
		" key text PRIMARY KEY, seq bigint, time timestamptz NOT NULL,"
		" queue_id text, sender text, recipients text[], direction text,"
		" policy text[], verdict text, handler text, size bigint, sha256 text,"
		" subject text, message_id text, event jsonb NOT NULL,"
		" stored timestamptz NOT NULL DEFAULT now())", r->table);
	r->insert = g_strdup_printf(
		"INSERT INTO %s (key, seq, time, queue_id, sender, recipients, direction,"
		" policy, verdict, handler, size, sha256, subject, message_id, event)"
		" SELECT e->>'key', $2::bigint, (e->>'time')::timestamptz, e->>'queue_id',"
		" e->>'sender', ARRAY(SELECT jsonb_array_elements_text(e->'recipients')),"
		" e->>'direction', ARRAY(SELECT jsonb_array_elements_text(e->'policy')),"
		" e->>'verdict', e->>'handler', (e->>'size')::bigint, e->>'sha256',"
		" e#>>'{headers,subject,0}', e#>>'{headers,message-id,0}', e"
		" FROM (SELECT $1::jsonb AS e) AS x"
		" ON CONFLICT (key) DO NOTHING", r->table);
	return r;
}

/* pg_drop - forget the connection (made again at the next delivery) */
static void
pg_drop(struct pg *r)
{
	if (r->c)
		PQfinish(r->c);
	r->c = NULL;
	r->ready = 0;
}

/* pg_wait - wait until the connection's socket is readable (or
 * writable) or deadline (monotonic) passes; 1: ready, 0: time is up,
 * -1: an error */
static int
pg_wait(PGconn *c, int writing, gint64 deadline)
{
	struct pollfd p = {.fd = PQsocket(c), .events = writing ? POLLOUT : POLLIN};
	gint64 left;
	int n;

	if (p.fd < 0)
		return -1;
	for (;;) {
		left = deadline - g_get_monotonic_time();
		if (left <= 0)
			return 0;
		n = poll(&p, 1, (int) ((left + 999) / 1000));
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* pg_error - *why from the connection's last message, one line */
static void
pg_error(struct pg *r, const char *what, const char *msg, char **why)
{
	char *m = g_strdup(msg && *msg ? msg : "no answer"), *nl;

	if ((nl = strchr(m, '\n')) != NULL)
		*nl = 0;
	*why = g_strdup_printf("%s %s: %s", what, r->table, m);
	g_free(m);
}

/*
 * pg_connect - connect before the delivery's deadline, the host names
 * of the connection string looked up before it too (resolve_pg());
 * EVENT_DONE (r->c is ready), or EVENT_RETRY with *why
 */
static enum event_result
pg_connect(struct pg *r, char **why)
{
	const char *kw[8] = {"dbname", "fallback_application_name", "client_encoding"};
	const char *val[8] = {r->conninfo, "sinkd", "UTF8"};
	gint64 deadline = r->deadline;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	char **addkw, **addval, *err = NULL;
	int w, i;

	if (resolve_pg(r->conninfo, deadline, &addkw, &addval, &err) < 0) {
		*why = g_strdup_printf("connecting for %s: %s", r->table, err);
		g_free(err);
		return EVENT_RETRY;
	}
	/* after the connection string: they override its host (and port) */
	for (i = 0; addkw && addkw[i] && i < 4; i++) {
		kw[3 + i] = addkw[i];
		val[3 + i] = addval[i];
	}
	r->c = PQconnectStartParams(kw, val, 1);
	g_strfreev(addkw);
	g_strfreev(addval);
	if (r->c == NULL || PQstatus(r->c) == CONNECTION_BAD) {
		pg_error(r, "connecting for", r->c ? PQerrorMessage(r->c) : "out of memory", why);
		pg_drop(r);
		return EVENT_RETRY;
	}
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED) {
			pg_error(r, "connecting for", PQerrorMessage(r->c), why);
			pg_drop(r);
			return EVENT_RETRY;
		}
		if ((w = pg_wait(r->c, st == PGRES_POLLING_WRITING, deadline)) <= 0) {
			pg_error(r, "connecting for", w == 0 ? "timed out" : g_strerror(errno), why);
			pg_drop(r);
			return EVENT_RETRY;
		}
		st = PQconnectPoll(r->c);
	}
	if (PQsetnonblocking(r->c, 1) != 0) {
		pg_error(r, "connecting for", PQerrorMessage(r->c), why);
		pg_drop(r);
		return EVENT_RETRY;
	}
	return EVENT_DONE;
}

/* pg_result_of - what an error result comes to: retry when its SQLSTATE
 * is for now, or the connection went; else fail */
static enum event_result
pg_result_of(struct pg *r, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	unsigned i;

	if (PQstatus(r->c) == CONNECTION_BAD || state == NULL)
		return EVENT_RETRY;
	if (!strcmp(state, "42P01")) {
		r->ready = 0;	/* the table went: made again */
		return EVENT_RETRY;
	}
	for (i = 0; pg_transient[i]; i++)
		if (!strncmp(state, pg_transient[i], strlen(pg_transient[i])))
			return EVENT_RETRY;
	return EVENT_FAIL;
}

/*
 * pg_exec - run sql with the n parameters v before the deadline;
 * EVENT_DONE, with the result's first value in *first (g_free) when
 * first is not NULL and there is one, or what the delivery comes to,
 * with *why
 */
static enum event_result
pg_exec(struct pg *r, const char *what, const char *sql, int n, const char *const *v,
	char **first, char **why)
{
	gint64 deadline = r->deadline;
	enum event_result rc = EVENT_DONE;
	PGresult *res;
	int w, f;

	if (!PQsendQueryParams(r->c, sql, n, NULL, v, NULL, NULL, 0)) {
		pg_error(r, what, PQerrorMessage(r->c), why);
		pg_drop(r);
		return EVENT_RETRY;
	}
	while ((f = PQflush(r->c)) == 1)
		if ((w = pg_wait(r->c, 1, deadline)) <= 0)
			goto timeout;
	if (f < 0)
		goto lost;
	for (;;) {
		while (PQisBusy(r->c)) {
			if ((w = pg_wait(r->c, 0, deadline)) <= 0)
				goto timeout;
			if (!PQconsumeInput(r->c))
				goto lost;
		}
		if ((res = PQgetResult(r->c)) == NULL)
			break;
		switch (PQresultStatus(res)) {
		case PGRES_COMMAND_OK:
			break;
		case PGRES_TUPLES_OK:
			if (first && *first == NULL && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
				*first = g_strdup(PQgetvalue(res, 0, 0));
			break;
		default:
			if (rc == EVENT_DONE && *why == NULL) {
				pg_error(r, what, PQresultErrorMessage(res), why);
				rc = pg_result_of(r, res);
			}
			break;
		}
		PQclear(res);
	}
	if (PQstatus(r->c) == CONNECTION_BAD)
		pg_drop(r);
	return rc;
timeout:
	pg_error(r, what, w == 0 ? "timed out" : g_strerror(errno), why);
	pg_drop(r);
	return EVENT_RETRY;
lost:
	pg_error(r, what, PQerrorMessage(r->c), why);
	pg_drop(r);
	return EVENT_RETRY;
}

/* pg_ready - a connection, and the table made if it is not there */
static enum event_result
pg_ready(struct pg *r, char **why)
{
	enum event_result rc;
	const char *v[1] = {r->table};
	char *have = NULL;

	if (r->c == NULL && (rc = pg_connect(r, why)) != EVENT_DONE)
		return rc;
	if (r->ready)
		return EVENT_DONE;
	/* CREATE TABLE IF NOT EXISTS wants the right to create even when
	 * the table is there: look first */
	rc = pg_exec(r, "looking for", "SELECT to_regclass($1)::text", 1, v, &have, why);
	if (rc == EVENT_DONE && have == NULL) {
		rc = pg_exec(r, "creating", r->create, 0, NULL, NULL, why);
		/* another sinkd made it at the same time */
		if (rc == EVENT_FAIL && *why && strstr(*why, "duplicate key"))
			rc = EVENT_RETRY;
	}
	g_free(have);
	if (rc == EVENT_DONE && r->c)
		r->ready = 1;
	return rc;
}

/* pg_deliver - the event as a row, once; see the head of the file */
static enum event_result
pg_deliver(void *handle, const struct event *ev, char **why)
{
	struct pg *r = handle;
	enum event_result rc;
	char seq[24];
	const char *v[2] = {ev->json, seq};

	r->deadline = g_get_monotonic_time() + r->timeout;
	if ((rc = pg_ready(r, why)) != EVENT_DONE)
		return rc;
	g_snprintf(seq, sizeof(seq), "%" G_GUINT64_FORMAT, ev->seq);
	return pg_exec(r, "adding to", r->insert, 2, v, NULL, why);
}

const struct event_type event_postgres = {
	.name = "postgres",
	.keys = pg_keys,
	.open = pg_open,
	.deliver = pg_deliver,
	.close = pg_close,
};
