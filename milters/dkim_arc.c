/*
 * dkim_arc - the dkim handler's ARC (RFC 8617, src/arc.h): the chain a
 * message came with, validated before any change, and the set sinkd
 * seals over what leaves under dkim-signed = arc
 *
 * Validation (dkim_arc_validate(), from the handler's before_eom hook):
 * a message with any ARC field has its chain validated over the header
 * and body as received, with keys from the handler's key source (the
 * keys file, or DNS within the budget the message's DKIM look-ups
 * share).  The result is kept in the message's dkim state (the
 * Authentication-Results sinkd adds says arc=), and goes into facts
 * (arc.cv, arc.count, arc.domain, arc.reason) and the log line's notes.
 *
 * Sealing (dkim_arc_seal(), from the after_eom hook): inbound mail that
 * came with a DKIM signature or an ARC chain, and that a handler or
 * sink changed (an edit of the header by another handler than dkim, or
 * a new body), gets the next ARC set, signed with the policy's key
 * (dkim-key, dkim-selector, dkim-domain), its ARC-Authentication-Results
 * the Authentication-Results sinkd added before any change.  A chain
 * that failed is sealed once with cv=fail; one that ended (an ARC-Seal
 * says cv=fail) or holds 50 sets is left as it is.
 *
 * Threading: what a message holds is one thread's at a time; the key
 * is the policy's, read only.
 */
#include <string.h>
#include <glib.h>

#include "dkim.h"
#include "../src/arc.h"
#include "../src/edits.h"
#include "../src/final.h"
#include "../src/log.h"
#include "../src/message.h"

/* The key look-up context of one message's validation. */
struct actx {
	GHashTable *keys;	/* or NULL: DNS */
	gint64 deadline;	/* monotonic µs */
	const char *id;		/* queue id, for the log */
};

/* arc_key - arc_key_fn through the handler's key source */
static enum arc_key
arc_key(void *ctx, const char *sel, const char *dom, char **txt)
{
	struct actx *a = ctx;

	return dkim_key_txt(a->keys, a->deadline, a->id, sel, dom, txt);
}

/* has_arc - the message came with an ARC field */
static int
has_arc(const struct msg *m)
{
	return msg_header_count(m, "ARC-Seal", G_MAXUINT) > 0
		|| msg_header_count(m, "ARC-Message-Signature", G_MAXUINT) > 0
		|| msg_header_count(m, "ARC-Authentication-Results", G_MAXUINT) > 0;
}

/*
 * dkim_arc_validate - the chain of m as received, into st->arc (left
 * NULL when m has no ARC field), with facts and a note; keys from keys
 * (NULL: DNS until deadline).  -1 when the spool cannot be read.
 */
int
dkim_arc_validate(struct msg *m, struct dkim_state *st, GHashTable *keys, gint64 deadline)
{
	struct actx a = {keys, deadline, msg_queue_id(m)};
	const guchar *data;
	gsize len;
	struct arc_result *r;

	if (!has_arc(m))
		return 0;
	if ((data = msg_data(m, &len)) == NULL)
		return -1;
	r = st->arc = g_new0(struct arc_result, 1);
	arc_validate(m->headers, data + MIN(len, m->body_offset),
		     len > m->body_offset ? len - m->body_offset : 0, arc_key, &a, r);
	msg_fact(m, "arc.cv", "%s", arc_cv_name(r->cv));
	msg_fact(m, "arc.count", "%u", r->count);
	if (r->domain)
		msg_fact(m, "arc.domain", "%s", r->domain);
	if (r->reason) {
		msg_fact(m, "arc.reason", "%s", r->reason);
		log_info("%s: dkim: ARC chain fails: %s", a.id, r->reason);
	}
	msg_note(m, "arc", "%s:%u", arc_cv_name(r->cv), r->count);
	return 0;
}

/* changed - a handler or sink other than dkim changed the header or the
 * body */
static int
changed(const struct msg *m)
{
	guint i;

	if (m->edits.body)
		return 1;
	for (i = 0; i < m->edits.list->len; i++) {
		const struct edit *ed = g_ptr_array_index(m->edits.list, i);

		if (ed->kind <= EDIT_CHANGE_HEADER && strcmp(ed->by, dkim_handler.name))
			return 1;
	}
	return 0;
}

/* final_fields - the header as it will leave, as struct header * */
static GPtrArray *
final_fields(struct msg *m)
{
	GPtrArray *lines = final_headers(m);
	GPtrArray *hs = g_ptr_array_new_with_free_func(header_free);
	guint i;

	for (i = 0; i < lines->len; i++) {
		const char *l = g_ptr_array_index(lines, i), *colon = strchr(l, ':');
		struct header *h = g_new0(struct header, 1);

		h->name = colon ? g_strndup(l, colon - l) : g_strdup(l);
		h->value = g_strdup(colon ? colon + 1 : "");
		g_ptr_array_add(hs, h);
	}
	g_ptr_array_free(lines, TRUE);
	return hs;
}

/*
 * dkim_arc_seal - under dkim-signed = arc: the next ARC set on top of
 * inbound mail that came signed or sealed and was changed, signed by s;
 * VERDICT_ERROR when no signature can be made
 */
enum verdict
dkim_arc_seal(struct msg *m, struct edits *e, const struct dkim_signer *s)
{
	const struct dkim_state *st = m->dkim;
	static const struct arc_result no_chain;
	const struct arc_result *chain;
	struct arc_signer as;
	struct arc_set set;
	GPtrArray *hs;
	const guchar *body;
	gsize len;
	char *why = NULL;
	int rc;

	if (m->outbound || st == NULL
	    || (st->total == 0 && (st->arc == NULL || st->arc->count == 0)) || !changed(m))
		return VERDICT_CONTINUE;
	chain = st->arc ? st->arc : &no_chain;
	if (st->ar == NULL || s == NULL || s->key == NULL) {	/* dkim_load refuses this */
		log_warn("%s: dkim: no key or no Authentication-Results to seal with", m->queue_id);
		return VERDICT_ERROR;
	}
	if ((body = final_body(m, &len)) == NULL) {
		log_warn("%s: dkim: cannot seal: the spool cannot be read", m->queue_id);
		return VERDICT_ERROR;
	}
	memset(&as, 0, sizeof as);
	as.key = s->key;
	as.domain = s->domain;
	as.selector = s->selector;
	as.headers = (const char *const *) s->headers;	/* dkim-sign-headers */
	hs = final_fields(m);
	rc = arc_seal(hs, body, len, &as, st->ar, chain, &set, &why);
	g_ptr_array_unref(hs);
	if (rc == -1) {
		log_info("%s: dkim: no ARC set added: %s", m->queue_id, why);
		g_free(why);
		return VERDICT_CONTINUE;
	}
	if (rc < 0) {
		log_warn("%s: dkim: cannot seal: %s", m->queue_id, why);
		g_free(why);
		return VERDICT_ERROR;
	}
	/* each on top: ARC-Seal, ARC-Message-Signature, then the AAR */
	edits_insert_header(e, dkim_handler.name, 0, "ARC-Authentication-Results", set.aar);
	edits_insert_header(e, dkim_handler.name, 0, "ARC-Message-Signature", set.ams);
	edits_insert_header(e, dkim_handler.name, 0, "ARC-Seal", set.as);
	msg_note(m, "arc.sealed", "%s:%s:i=%u", s->domain, s->selector, chain->count + 1);
	arc_set_clear(&set);
	return VERDICT_CONTINUE;
}
