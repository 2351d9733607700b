/*
 * message - connection and message contexts
 *
 * struct conn lives from the MTA's connect to its close; it pins the
 * configuration snapshot that was current when the connection began, so
 * a reload never changes the rules under a transaction.  struct msg lives
 * from MAIL FROM to end of message or abort; msg_free() is its one exit.
 *
 * The message is kept as received in a spool (spool.h): the header block
 * exactly as "name:value" lines with CRLF, the empty line, then the body.
 * That is what scanners see and what the MIME parser reads.
 *
 * The header fields are indexed by name (case-insensitive) as they
 * arrive, so that a look-up by name costs the same with 40,000 fields as
 * with ten: msg_header_value(), msg_header_count() (a binary search) and
 * msg_header_positions() never walk the list, and a field's nth says
 * which of its name it is, as the MTA's change-header index counts.
 */
#ifndef SINKD_MESSAGE_H
#define SINKD_MESSAGE_H

#include <glib.h>

#include "edits.h"
#include "reply.h"
#include "spool.h"

struct snapshot;
struct policy;
struct mime;
struct sinkd_ctx;
struct dkim_state;

struct conn {
	struct snapshot *snap;	/* pinned for the connection's life */
	char *client_addr;	/* NULL: local submission, no address */
	char *client_name;
	char *helo;
	int internal;		/* client_addr in internal-hosts, or local */
	struct reply reply;	/* the reply of the last refusal */
	const char *decided_by;	/* handler that gave it */
	struct msg *msg;	/* the current message, or NULL */
	unsigned long nmsgs;
	/* MTA macros: how the glue answers conn_macro() */
	const char *(*macro)(struct conn *c, const char *name);
	void *mta;		/* the glue's own context */
	int dry_run;		/* sinkd -t: handlers write nothing outside
				 * the message (no quarantine entry, no
				 * release token spent) and say with
				 * msg_note() what they would have done */
	struct sinkd_ctx **sinks;	/* per sink of the snapshot, or NULL
					 * (sink.c's) */
};

struct rcpt {
	char *addr;		/* without angle brackets */
	char *domain;		/* lower case; "" when none */
	const struct policy *policy;	/* the recipient domain's */
	char **params;		/* its ESMTP parameters, or NULL */
};

struct header {
	char *name;
	char *value;		/* as received, leading space included */
	int nth;		/* 1 for the first field of its name, ... */
};

void header_free(gpointer p);

struct msg {
	struct conn *conn;
	char *queue_id;		/* "NOQUEUE" until the MTA says */
	char *sender;		/* without brackets; "" for <> */
	char *sender_domain;
	char *auth_user;	/* NULL: not authenticated */
	int outbound;		/* internal client or authenticated */
	const struct policy *mail_policy;	/* MAIL FROM stage policy */
	const struct policy *policy;	/* DATA and end-of-message policy */
	struct policy *merged;	/* owned merged policy, if uncached */
	GPtrArray *rcpts;	/* struct rcpt *, accepted ones */
	unsigned rcpts_rejected;
	GPtrArray *headers;	/* struct header * */
	GHashTable *header_index;	/* name (any case) -> GArray of guint:
					 * its fields' positions in headers */
	struct spool spool;	/* headers, empty line, body */
	gsize body_offset;	/* where the body starts in the spool */
	int headers_ended;	/* the empty line is spooled */
	gsize size;		/* bytes offered by the MTA */
	gsize declared_size;	/* MAIL FROM's SIZE=, 0 if none */
	int too_big;		/* more than max-message-size */
	int spool_errno;	/* spool write failed: tempfail */
	int accepted;		/* a handler accepted: skip the rest */
	const char *released;	/* the handler whose release hook let the
				 * message through unchanged, or NULL */
	GString *notes;		/* " key=value" per msg_note(), or NULL */
	GString *log_notes;	/* " key=value" per msg_log_note(), or NULL */
	GHashTable *facts;	/* key -> value per msg_note(), as given */
	GHashTable *kv;		/* the sinks' store (sinkd-sink(3)), or NULL */
	char **mail_params;	/* MAIL FROM's ESMTP parameters, or NULL */
	struct edits edits;
	struct mime *mime;	/* the MIME tree, once a handler asked */
	struct dkim_state *dkim;	/* DKIM results of the message as
					 * received (dkim.h), or NULL */
	gint64 started;		/* monotonic µs */
	gint64 *handler_us;	/* time spent, per chain position */
};

struct conn *conn_new(struct snapshot *snap);
void conn_free(struct conn *c);
void conn_set_client(struct conn *c, const char *addr, const char *name);
const char *conn_macro(struct conn *c, const char *name);

struct msg *msg_new(struct conn *c, const char *sender, const char *auth);
void msg_free(struct msg *m);
struct rcpt *msg_rcpt_new(struct msg *m, const char *addr);
void msg_rcpt_keep(struct msg *m, struct rcpt *r);
void msg_rcpt_free(struct rcpt *r);
int msg_header(struct msg *m, const char *name, const char *value);
const char *msg_header_value(const struct msg *m, const char *name);
int msg_header_count(const struct msg *m, const char *name, guint upto);
const guint *msg_header_positions(const struct msg *m, const char *name,
				  guint *n);
GString *msg_header_line(const struct header *h);
int msg_end_headers(struct msg *m);
int msg_body(struct msg *m, const void *data, gsize len);
const guchar *msg_data(struct msg *m, gsize *len);
const struct policy *msg_policy(struct msg *m);
const char *msg_queue_id(const struct msg *m);
void msg_set_queue_id(struct msg *m, const char *id);
void msg_note(struct msg *m, const char *key, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
void msg_fact(struct msg *m, const char *key, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
void msg_log_note(struct msg *m, const char *key, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

extern const char *const msg_variables[];
const char *msg_variable(const char *name, void *msg);

char *addr_strip(const char *addr);
char *addr_domain(const char *addr);

#endif
