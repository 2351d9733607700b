/*
 * dkim - DKIM results of a message as received, and whether a change
 * may touch what they cover
 *
 * The dkim handler (milters/dkim.c) verifies every DKIM-Signature of
 * the message before any handler's end-of-message hook runs, and leaves
 * what it found here, in struct msg's dkim: one struct dkim_sig per
 * signature it looked at, with the signature's own tags, and the
 * policy's choice for signed mail.  The facts (dkim.count, dkim.N.*) and
 * the Authentication-Results field are the handler's.
 *
 * A handler about to change the message asks first, with
 * dkim_may_change(), naming what it would touch: the body, or a header
 * field by name.  Under "dkim-signed = skip" the answer is no when the
 * change would break a signature that verified (pass): a field named in
 * its h= tag, or body content its bh= covers (all of it, or under l= the
 * bytes up to l; only a change that appends after the body as received
 * can stay outside l).  dkim_holds() asks the same without noting
 * anything, for a handler that can tell an append (DKIM_TOUCH_APPEND:
 * the disclaimer's footer on a text body, written back with the body's
 * bytes as received before it, mime_text_appends()) from another
 * change.  A failing signature cannot be broken further and
 * never holds a change back.  Without the dkim handler in the chain, or
 * under "ignore", every change may go ahead.  What was held back is
 * named in the log and in X-Sinkd-DKIM-Skip (dkim_report(), called by
 * the chain after the end-of-message hooks).
 *
 * dkim_broken() tells, once the changes are all queued (after_eom),
 * which signatures that passed the edit list breaks, whether or not the
 * handler that made a change asked first: under "resign" they are why
 * sinkd signs what leaves.
 *
 * Ownership: m->dkim is the message's (dkim_state_free() from
 * msg_free()).  Threading: a message is one thread's at a time.
 */
#ifndef SINKD_DKIM_H
#define SINKD_DKIM_H

#include <glib.h>

struct msg;
struct edits;
struct arc_result;

/* A signature's result, as RFC 8601 names them. */
enum dkim_result {
	DKIM_RESULT_PASS,
	DKIM_RESULT_FAIL,	/* the signature or the body hash does not match */
	DKIM_RESULT_NEUTRAL,	/* not looked at */
	DKIM_RESULT_TEMPERROR,	/* the key could not be had in time */
	DKIM_RESULT_PERMERROR,	/* malformed signature, no key, bad key */
};

/* What a change touches. */
enum dkim_touch_kind {
	DKIM_TOUCH_FIELD,	/* header fields called name: changed,
				 * deleted or added */
	DKIM_TOUCH_CONTENT,	/* the body, anywhere */
	DKIM_TOUCH_APPEND,	/* only bytes after the body as received */
};

struct dkim_touch {
	enum dkim_touch_kind kind;
	const char *name;	/* DKIM_TOUCH_FIELD: the field name */
};

#define DKIM_TOUCH_HEADER(n)	((struct dkim_touch) {DKIM_TOUCH_FIELD, (n)})
#define DKIM_TOUCH_SUBJECT	DKIM_TOUCH_HEADER("Subject")
#define DKIM_TOUCH_BODY		((struct dkim_touch) {DKIM_TOUCH_CONTENT, NULL})
#define DKIM_TOUCH_BODY_APPEND	((struct dkim_touch) {DKIM_TOUCH_APPEND, NULL})

struct dkim_sig {
	enum dkim_result result;
	char *domain;		/* d= */
	char *selector;		/* s= */
	char *identity;		/* i=, or NULL */
	char *algorithm;	/* a= */
	char *b;		/* b= (the first 8 characters go into
				 * Authentication-Results header.b) */
	char **headers;		/* h=, lower case, in order */
	gint64 length;		/* l=, -1 when none */
	char *reason;		/* why not pass, or NULL */
};

/* The policy's choice for signed mail (dkim-signed). */
enum dkim_signed {
	DKIM_SIGNED_IGNORE,	/* change anyway */
	DKIM_SIGNED_SKIP,	/* no change that breaks a passing signature */
	DKIM_SIGNED_RESIGN,	/* change, and sign what leaves with the
				 * policy's key when a change broke one */
	DKIM_SIGNED_ARC,	/* change, and seal what leaves with an ARC
				 * set under the policy's key */
};

struct dkim_state {
	GPtrArray *sigs;	/* struct dkim_sig *, in the message's order */
	unsigned total;		/* DKIM-Signature fields in the message */
	enum dkim_signed signed_choice;
	int body_ends_crlf;	/* the body as received ends with CRLF */
	GPtrArray *skipped;	/* "handler what (d=... s=...)" per change
				 * held back, each once */
	gint64 deadline;	/* monotonic µs: the end of the message's
				 * key look-up budget */
	struct arc_result *arc;	/* the ARC chain as received (src/arc.h),
				 * or NULL: no ARC field */
	char *ar;		/* the Authentication-Results value sinkd
				 * added, or NULL */
};

struct dkim_state *dkim_state_new(void);
void dkim_state_free(struct dkim_state *st);
void dkim_sig_free(struct dkim_sig *s);
const char *dkim_result_name(enum dkim_result r);

int dkim_may_change(struct msg *m, struct dkim_touch t, const char *by);
int dkim_holds(const struct msg *m, struct dkim_touch t);
void dkim_report(struct msg *m, struct edits *e);
GPtrArray *dkim_broken(struct msg *m);

#define DKIM_SKIP_HEADER	"X-Sinkd-DKIM-Skip"

#endif
