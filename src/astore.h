/*
 * astore - the message archive's stores: a Maildir tree, SQLite,
 * PostgreSQL (the archive event target's and sinkd-archive's)
 *
 * A store is named by a spec, the archive target's store key:
 *
 *	maildir:/ROOT		a Maildir per mailbox, ROOT/DOMAIN/LOCAL/
 *				{tmp,new,cur}, and ROOT/.index, one line of
 *				JSON per message stored (what sinkd-archive
 *				lists and searches)
 *	sqlite:/FILE		one table, sinkd_archive, in a SQLite file
 *				(WAL mode)
 *	postgres:CONNINFO	the same table in PostgreSQL (a libpq
 *				connection string or URI)
 *
 * astore_put() stores one accepted message: the event (event.h) says
 * what it is, the data is the message as received (CRLF); it is durable
 * once astore_sync() says so (SQLite puts share a transaction until
 * then, a Maildir's copies wait in tmp/; PostgreSQL syncs each put).  SQL
 * stores keep those bytes; a Maildir keeps them with CRLF turned into LF
 * (the Maildir convention).  The event's key makes a second put of the
 * same message a no-op: a row's primary key, a Maildir file's name.
 *
 * Inbound mail is stored in each recipient's mailbox (each recipient
 * want() says yes to, when it is given), outbound mail in the sender's;
 * astore_mailbox() makes an address a safe pair of path components.
 *
 * Nothing is opened, created or connected by astore_open(): the first
 * put or search does it, on the thread and as the user that calls it.
 *
 * Threading: a store is used by one thread at a time.
 */
#ifndef SINKD_ASTORE_H
#define SINKD_ASTORE_H

#include <glib.h>
#include <json-glib/json-glib.h>

#define ASTORE_TABLE	"sinkd_archive"
#define ASTORE_INDEX	".index"	/* a Maildir store's index */
#define ASTORE_LOCAL_MAX	64	/* bytes of a mailbox's local part */
#define ASTORE_DOMAIN_MAX	255	/* bytes of its domain */

enum astore_kind {
	ASTORE_MAILDIR,
	ASTORE_SQLITE,
	ASTORE_POSTGRES,
};

/* What astore_put() came to (event.h's EVENT_DONE, RETRY, FAIL). */
enum astore_result {
	ASTORE_DONE,		/* stored, or stored already */
	ASTORE_RETRY,		/* not now: the store is busy or down */
	ASTORE_FAIL,		/* never: the event or its copy is unusable */
};

/* One archived message, as listed and searched. */
struct astore_rec {
	char *key;		/* the event's key: QUEUEID.SHA256 */
	char *time;		/* end of message, RFC 3339 UTC */
	char *direction;	/* "inbound", "outbound" */
	char *sender;		/* envelope, "" for <> */
	char **recipients;	/* envelope */
	char *from, *to, *subject, *message_id, *date;	/* first of each
							 * header field, or "" */
	gint64 size;		/* as received */
	char *sha256;		/* of the message as received */
};

/* A search: each member NULL (or 0) is any. */
struct astore_query {
	const char *sender;	/* envelope sender, whole, any case */
	const char *recipient;	/* one envelope recipient, whole, any case */
	const char *since;	/* time >= since (RFC 3339 or YYYY-MM-DD) */
	const char *until;	/* time <= until (YYYY-MM-DD: the whole day) */
	const char *subject;	/* a substring of the subject, any case */
	const char *message_id;	/* Message-ID, with or without <> */
	const char *key;	/* the key, or its start */
};

struct astore;

int astore_check(const char *spec, char **why);
struct astore *astore_open(const char *spec, int group_read, int timeout);
void astore_close(struct astore *a);
enum astore_kind astore_kind(const struct astore *a);

typedef int (*astore_want_fn)(const char *rcpt, void *ctx);
enum astore_result astore_put(struct astore *a, JsonObject *ev, const char *data,
			      gsize len, astore_want_fn want, void *ctx, char **why);
enum astore_result astore_sync(struct astore *a, char **why);
int astore_search(struct astore *a, const struct astore_query *q,
		  void (*each)(const struct astore_rec *r, void *ctx), void *ctx,
		  char **why);
int astore_get(struct astore *a, const char *key, GBytes **msg, char **full_key,
	       char **why);

char *astore_component(const char *s, gsize max);
void astore_mailbox(const char *addr, char **domain, char **local);

#endif
