/*
 * handler - the interface every handler in milters/ implements
 *
 * A handler is a const struct handler: its name (also its group name in
 * the configuration files), its configuration keys, a load function that
 * compiles one domain's group into the handler's own immutable config, and
 * one hook per SMTP stage; a NULL hook means "not interested", and sinkd
 * then negotiates that stage away with the MTA when no handler wants it.
 *
 * A hook returns a verdict.  VERDICT_REJECT and VERDICT_TEMPFAIL come with
 * a reply, set with handler_refuse(); VERDICT_ERROR means the handler
 * itself failed, and the chain turns it into the handler's configured
 * on-error action.  Hooks change nothing directly: edits go to the edit
 * list they are given.  Hooks run concurrently on many threads: all they
 * may change is the connection or message they are given.
 */
#ifndef SINKD_HANDLER_H
#define SINKD_HANDLER_H

#include <sys/types.h>

#include "conf.h"
#include "edits.h"
#include "message.h"
#include "reply.h"

enum verdict {
	VERDICT_CONTINUE,	/* no objection: next handler */
	VERDICT_ACCEPT,		/* accept: skip the rest of the chain */
	VERDICT_REJECT,		/* 5xx, reply set */
	VERDICT_TEMPFAIL,	/* 4xx, reply set */
	VERDICT_DISCARD,	/* accept and drop silently */
	VERDICT_QUARANTINE,	/* hold (the MTA's hold queue) */
	VERDICT_ERROR,		/* the handler failed: apply its on-error */
};

/* What a handler needs from the MTA besides its hooks. */
#define HANDLER_NEEDS_HEADERS	(1u << 0)
#define HANDLER_NEEDS_BODY	(1u << 1)

/*
 * The SMTP steps before end of message at which a handler's config may
 * refuse.  sinkd asks the MTA for no reply at the others (SMFIP_NR_*), and
 * leaves out DATA and unknown commands altogether, so a step nothing
 * decides at costs no round trip.  A handler without a decides hook
 * decides at every step it has a hook for.
 */
#define HANDLER_AT_CONNECT	(1u << 0)
#define HANDLER_AT_HELO		(1u << 1)
#define HANDLER_AT_MAIL		(1u << 2)
#define HANDLER_AT_RCPT		(1u << 3)
#define HANDLER_AT_DATA		(1u << 4)
#define HANDLER_AT_UNKNOWN	(1u << 5)

struct snapshot;

struct handler {
	const char *name;
	const struct conf_key *keys;	/* NULL-name-terminated */
	unsigned needs;
	unsigned (*decides)(const void *cfg);	/* HANDLER_AT_*, optional */
	void *(*load)(const struct conf_group *g, struct conf_errors *e);
	/* instead of load, for handlers built at run time (sinks, sink.h),
	 * which are told which one they are */
	void *(*load_self)(const struct handler *h, const struct conf_group *g,
			   struct conf_errors *e);
	void (*unload)(void *cfg);
	enum verdict (*connect)(struct conn *c, const void *cfg);
	enum verdict (*helo)(struct conn *c, const void *cfg);
	enum verdict (*envfrom)(struct msg *m, const void *cfg);
	enum verdict (*envrcpt)(struct msg *m, struct rcpt *r, const void *cfg);
	enum verdict (*data)(struct msg *m, const void *cfg);
	enum verdict (*unknown)(struct conn *c, const char *cmd,
				const void *cfg);
	enum verdict (*eom)(struct msg *m, struct edits *e, const void *cfg);
	/*
	 * Optional: at end of message, after the release hooks and before
	 * any handler's eom hook, whatever the handler's place in the
	 * chain: the message is exactly as received, nothing has changed
	 * it yet (the dkim handler verifies here).  A refusal or failure
	 * stops the chain as an eom hook's would.
	 */
	enum verdict (*before_eom)(struct msg *m, struct edits *e, const void *cfg);
	/*
	 * Optional: at end of message, after every handler's eom hook and
	 * mime_commit(), only when the message is to be accepted (not when
	 * refused, discarded, quarantined or released): the message as it
	 * will leave, which final_headers() and final_body() (src/final.h)
	 * give, every handler's and sink's change made.  A hook may only
	 * add header fields at the top (edits_insert_header() at index 0:
	 * a signature over what the MTA relays); a later hook sees them.
	 * A refusal or failure stops the chain as an eom hook's would, and
	 * the message is then not accepted.  Runs for a message a handler
	 * accepted early (VERDICT_ACCEPT) too: it leaves all the same.
	 */
	enum verdict (*after_eom)(struct msg *m, struct edits *e, const void *cfg);
	/*
	 * Optional: at end of message, before any handler's eom hook: 1 when
	 * m carries a release this handler issued (a token it checks and
	 * spends) that lets it through exactly as it is, else 0.  On 1 the
	 * chain drops every edit handlers queued before, keeps only those
	 * this hook put in e (removing its token), runs no eom hook and
	 * accepts: no handler changes a released message.
	 */
	int (*release)(struct msg *m, struct edits *e, const void *cfg);
	/*
	 * Optional: once the verdict on a message that reached end of
	 * message stands (edits applied, the MTA about to be told), with
	 * that verdict; for what eom did that only an accepted message may
	 * keep (a spent release token).
	 */
	void (*done)(struct msg *m, enum verdict v, const void *cfg);

	/*
	 * Optional, for combining policies (sinkd-policy(5), "Combining
	 * policies"): turn g, a copy of one policy's group of this handler,
	 * into what it does to inbound mail, so that domains are compared
	 * and combined on what they ask for, not on settings without
	 * effect.  A key whose setting asks for nothing on inbound mail (a
	 * disclaimer text when direction = outbound) is set to its empty
	 * value with conf_set(); a key with no effect at all under the
	 * others (sign-cert unless signed = resign) is marked with
	 * conf_unused() and left out.  What remains must still load.
	 * chained: the handler is in the chain (when it is not, another
	 * handler may still read its keys).  Without the hook, a handler in
	 * the chain is compared on every key, and one not in it on none.
	 */
	void (*inbound)(struct conf_group *g, int chained);

	/*
	 * Process-wide state (a scanning engine, a server pool), all three
	 * optional.  setup runs in the daemon, still as root, before
	 * privileges are dropped: it makes the directories the handler
	 * writes to (owned by uid:gid); -1 refuses to start.  It runs again,
	 * as the user, with each snapshot a reload loads; -1 fails the
	 * reload.  configure runs
	 * with the first snapshot before any message (wait: set for
	 * sinkd -t, which needs everything ready at once, and whose
	 * temporary files go to $TMPDIR, a directory of its own; -1 then
	 * fails the run) and again with each snapshot a reload installs; a handler not
	 * in the snapshot's chain releases what it holds.  stop runs once
	 * at exit.
	 */
	int (*setup)(const struct snapshot *s, uid_t uid, gid_t gid);
	int (*configure)(const struct snapshot *s, int wait);
	void (*stop)(void);
	/*
	 * dirs (optional) appends the directories the handler writes to
	 * under s, each with the key that names it (strings of s: transfer
	 * none), so that the daemon checks them as its user at start and at
	 * reload.
	 */
	void (*dirs)(const struct snapshot *s, GPtrArray *keys, GPtrArray *paths);
};

int handler_setup(const struct snapshot *s, uid_t uid, gid_t gid);
int handler_configure(const struct snapshot *s, int wait);
void handler_dirs(const struct snapshot *s, GPtrArray *keys, GPtrArray *paths);
void handler_stop(const struct snapshot *s);

unsigned handler_decides(const struct handler *h, const void *cfg);
enum verdict handler_refuse(struct conn *c, const struct reply *r);
const char *verdict_name(enum verdict v);

#endif
