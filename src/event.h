/*
 * event - after-accept events: what sinkd records of each accepted
 * message, and the targets it delivers that record to
 *
 * When the verdict at end of message is accept (or quarantine), sinkd
 * builds an event, appends it to its journal (journal.h) and waits until
 * the journal says it is on disk, and only then answers the MTA.  A
 * shipper thread per target (event.c) then reads the journal and hands
 * each event to its target, at least once, until the target says it is
 * done with it; nothing a target does (slow, down, refusing) holds up
 * mail or another target.
 *
 * THE EVENT is a JSON object (json-glib), version 1:
 *
 *	version		1
 *	key		the idempotency key: "QUEUEID.SHA256" (queue id, a
 *			dot, the message's SHA-256 in hex); the same
 *			message delivered twice has the same key, and a
 *			target that sees a key again must not act twice
 *	time		end of message, RFC 3339 UTC ("2026-12-03T06:50:01.123Z")
 *	queue_id	the MTA's queue id
 *	client		{ "addr", "name", "helo", "auth" } (null: unknown)
 *	sender		envelope sender, "" for <>
 *	recipients	[ envelope recipients accepted, in order ]
 *	direction	"inbound" or "outbound"
 *	policy		[ the policy domains in effect ("default" or names) ]
 *	verdict		"accept" or "quarantine"
 *	handler		the handler that decided, or null (no handler did:
 *			the chain ran through)
 *	facts		{ key: value } what handlers and sinks noted
 *			(msg_note(), api->note(): "virus", "sink.dlp.hits")
 *	headers		{ "from": [...], "to", "cc", "subject", "message-id",
 *			"date" }: each selected field present in the
 *			message, its values as received (unfolded, leading
 *			white space removed, not decoded), in order
 *
 * Every string is valid UTF-8: a byte of mail data that is not becomes
 * U+FFFD.
 *	size		the message's size in bytes, as received
 *	sha256		the message's SHA-256, hex, as received
 *	body		present only for a target that wants bodies as
 *			files: the path of a read-only copy of the
 *			message as received (CRLF line ends), made for
 *			that target from the journal's record, kept until
 *			it is done with the event
 *
 * The message as received is the one sinkd scanned: edits sinkd made
 * (disclaimer, rewrite) are not in it.  Consumers must ignore fields
 * they do not know; a change that removes or redefines a field raises
 * version.
 *
 * TARGETS are configured as groups [event:NAME] in sinkd.conf, each with
 * type = one of the event types below; every such group is a target (no
 * list names them: a group is there or it is not).  Besides the type's
 * own keys (event_type.keys, sinkd-wide: CONF_NODOMAIN), every target
 * has the key type and event_target_keys: retry-max (process-wide), and the
 * per-domain keys enabled and direction, which domain policy files may
 * set in their own [event:NAME] groups exactly like a handler's keys.
 * At end of message the policy in effect (the sender domain's for
 * outbound mail, the combination of the recipients' domains for inbound)
 * decides which targets are due: enabled = yes and direction = both or
 * the message's direction.  The journal record lists the targets due; a
 * target gets only the events it was due.
 *
 * SINKS are targets too: every sink of the chain whose struct sinkd_sink
 * has the accepted hook (include/sinkd/sink.h, ABI 1.1) is a target
 * named "sink:NAME" without a group of its own, due for every event; its
 * hook runs on the target's shipper thread with the event's JSON and,
 * when the sink asks for it (SINKD_ACCEPTED_BODY), the body's path.  The
 * shipper pins the current snapshot around each call, so a reload that
 * drops the sink ends its deliveries (logged) and one that keeps it
 * carries on with the new generation's state.
 *
 * Targets are opened when sinkd starts and live until it stops: their
 * process-wide keys (type, and a type's own) take effect at restart; a
 * reload changes only which messages are due (enabled, direction).
 *
 * A TYPE (struct event_type) is a const vtable in the NULL-terminated
 * registry event_types[] (event.c), looked up by name, like handlers:
 *
 *	open	runs on the thread that loads the configuration, for
 *		sinkd -n and each reload too (to check, then close at
 *		once), and at start for the shipper: it checks and
 *		compiles its group (no network I/O: connect lazily in
 *		deliver) and returns the handle, or NULL after
 *		conf_key_error() said "file:line: key: what is wrong".
 *		It keeps nothing of g, which may go before the handle.
 *	deliver	runs on the target's own shipper thread, one call at a
 *		time per handle, so a handle needs no lock of its own; it
 *		may block, but for no longer than its own timeout.  It
 *		returns EVENT_DONE (delivered, or the target already had
 *		the key), EVENT_RETRY (transient: the same event again
 *		after a back-off, doubling from 1s up to retry-max) or
 *		EVENT_FAIL (permanent: logged, counted and skipped); *why
 *		(g_free()d by the caller) says what went wrong for the log
 *	sync	optional: makes durable in the target every event
 *		deliver said EVENT_DONE to since the last sync, so that a
 *		type may batch (one SQLite transaction for many events);
 *		EVENT_DONE, or EVENT_RETRY (*why) when they are not: the
 *		shipper then reads them from the journal again and
 *		delivers them again, after a back-off.  The shipper calls
 *		it before it writes the cursor (at most once a second
 *		while busy, when it has caught up, before a retry's wait,
 *		at stop) and after EVENT_BATCH events, so the cursor on
 *		disk never passes what the target has durably.
 *	close	once, when sinkd stops (after the last deliver)
 *
 * Events of one target are delivered in journal order, one at a time.
 *
 * Threading: event_types[] and the types are const; everything a type
 * keeps lives in its handle.
 */
#ifndef SINKD_EVENT_H
#define SINKD_EVENT_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "conf.h"

#define EVENT_VERSION	1

/* What a delivery came to. */
enum event_result {
	EVENT_DONE,		/* delivered, or already delivered */
	EVENT_RETRY,		/* transient failure: again after back-off */
	EVENT_FAIL,		/* permanent failure: logged, skipped */
};

/* One event as a target gets it; transfer none, valid during deliver. */
struct event {
	guint64 seq;		/* its place in the journal, from 1 */
	const char *key;	/* the idempotency key */
	JsonObject *obj;	/* the event */
	const char *json;	/* the same as compact JSON, one line */
	gsize len;		/* strlen(json) */
	const char *body;	/* the message's read-only copy, or NULL
				 * (the type does not want it as a file) */
	const char *body_data;	/* the message's bytes, or NULL (the type
				 * does not want them in memory) */
	gsize body_len;
};

/* event_type.flags */
#define EVENT_WANTS_BODY	(1u << 0)	/* the message, as a file */
#define EVENT_WANTS_DATA	(1u << 1)	/* the message, in memory:
						 * no file made for it */

struct event_type {
	const char *name;	/* the value of "type =" */
	const struct conf_key *keys;	/* its own keys, NULL-name-
					 * terminated; CONF_NODOMAIN */
	unsigned flags;		/* EVENT_* */
	void *(*open)(const struct conf_group *g, struct conf_errors *e);
	enum event_result (*deliver)(void *handle, const struct event *ev,
				     char **why);
	enum event_result (*sync)(void *handle, char **why);
	void (*close)(void *handle);
};

#define EVENT_BATCH	256	/* events delivered between syncs, at most */

/* The registry (event.c) and the types sinkd is built with. */
extern const struct event_type *const event_types[];
extern const struct event_type event_webhook;	/* event_webhook.c */
extern const struct event_type event_redis;	/* event_redis.c */
extern const struct event_type event_postgres;	/* event_postgres.c */
extern const struct event_type event_archive;	/* event_archive.c */
/* a chained sink's accepted hook (sink.c): not a type of "type =";
 * its handle is the sink's name, "sink:NAME" (g_free()d by close) */
extern const struct event_type event_sink;
const struct event_type *event_type_find(const char *name);

/* Keys every [event:NAME] group has, before its type's (event.c). */
extern const struct conf_key event_target_keys[];

/*
 * The core's side (event.c), for main.c, policy.c and the milter glue.
 */
struct snapshot;
struct conf_file;
struct msg;
struct handler;

/* One [event:NAME] group of a snapshot: a handler that is never in the
 * chain, so that its keys are read from domain files like any handler's
 * (policy_group_of()) and shown by sinkd -d and sinkd -P. */
struct event_target;
struct event_set;

struct event_set *event_set_load(struct snapshot *s, const struct conf_file *f,
				 struct conf_errors *e);
const struct handler **event_set_registry(const struct event_set *set,
					  const struct handler **reg);
void event_set_check(const struct snapshot *s, struct conf_errors *e);
void event_set_free(struct event_set *set);
void event_dump_keys(void (*dump)(const struct conf_key *k, int handler));

char *event_due(const struct snapshot *s, const struct msg *m, int *body);

/* The shipper: started once with the first snapshot, stopped at exit. */
int event_any(const struct snapshot *s);
int event_start(const struct snapshot *s);
int event_accepted(struct msg *m, int verdict);
void event_reload(const struct snapshot *s);
void event_stop(void);

#endif
