/*
 * astore_impl - what the archive's stores share (astore.c) and their
 * entry points (astore_maildir.c, astore_sql.c); not for other modules
 */
#ifndef SINKD_ASTORE_IMPL_H
#define SINKD_ASTORE_IMPL_H

#include <sys/types.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "astore.h"

struct astore {
	enum astore_kind kind;
	char *where;		/* ROOT, FILE or CONNINFO */
	mode_t fmode, dmode;	/* 0600/0700, or 0640/0750 */
	int timeout;		/* seconds */
	char *host;		/* Maildir: this host, for file names */
	sqlite3 *db;		/* opened at first use */
	PGconn *pg;		/* connected at first use */
	int ready;		/* the table is there */
	int in_txn;		/* SQLite: puts since astore_sync() are in
				 * a transaction not yet committed */
	GHashTable *md_pending;	/* Maildir: tmp/ path -> new/ path of
				 * copies written since astore_sync() */
	int md_index_dirty;	/* Maildir: index lines not yet synced */
};

/* the event's fields (astore.c) */
const char *astore_ev_str(JsonObject *o, const char *name, const char *def);
char *astore_ev_header(JsonObject *ev, const char *name, int first);
char *astore_ev_member_json(JsonObject *ev, const char *name);
char **astore_ev_recipients(JsonObject *ev);
void astore_rec_clear(struct astore_rec *r);
void astore_rec_from_event(struct astore_rec *r, JsonObject *ev);
char *astore_day_bound(const char *t, int until);
char *astore_msgid_norm(const char *id);
int astore_record_matches(const struct astore_rec *r, const struct astore_query *q);

enum astore_result astore_lite_sync(struct astore *a, char **why);
enum astore_result astore_md_sync(struct astore *a, char **why);

/* the Maildir store (astore_maildir.c) */
enum astore_result astore_md_put(struct astore *a, JsonObject *ev, const char *data,
				 gsize len, astore_want_fn want, void *ctx, char **why);
int astore_md_search(struct astore *a, const struct astore_query *q,
		     void (*each)(const struct astore_rec *r, void *ctx), void *ctx,
		     char **why);
int astore_md_get(struct astore *a, const char *key, GBytes **msg, char **full,
		  char **why);

/* the SQL stores (astore_sql.c) */
enum astore_result astore_lite_put(struct astore *a, JsonObject *ev, const char *data,
				   gsize len, char **why);
enum astore_result astore_pg_put(struct astore *a, JsonObject *ev, const char *data,
				 gsize len, char **why);
int astore_sql_search(struct astore *a, const struct astore_query *q,
		      void (*each)(const struct astore_rec *r, void *ctx), void *ctx,
		      char **why);
int astore_sql_get(struct astore *a, const char *key, GBytes **msg, char **full,
		   char **why);

#endif
