/*
 * dkim - DKIM results of a message as received, and whether a change
 * may touch what they cover (dkim.h)
 */
#include <string.h>
#include <glib.h>

#include "arc.h"
#include "dkim.h"
#include "edits.h"
#include "log.h"
#include "message.h"

/* dkim_state_new - an empty state: no signature, changes allowed */
struct dkim_state *
dkim_state_new(void)
{
	struct dkim_state *st = g_new0(struct dkim_state, 1);

	st->sigs = g_ptr_array_new_with_free_func((GDestroyNotify) dkim_sig_free);
	st->skipped = g_ptr_array_new_with_free_func(g_free);
	return st;
}

/* dkim_sig_free - one signature's record; NULL is fine */
void
dkim_sig_free(struct dkim_sig *s)
{
	if (s == NULL)
		return;
	g_free(s->domain);
	g_free(s->selector);
	g_free(s->identity);
	g_free(s->algorithm);
	g_free(s->b);
	g_strfreev(s->headers);
	g_free(s->reason);
	g_free(s);
}

/* dkim_state_free - the message's state; NULL is fine */
void
dkim_state_free(struct dkim_state *st)
{
	if (st == NULL)
		return;
	g_ptr_array_unref(st->sigs);
	g_ptr_array_unref(st->skipped);
	if (st->arc)
		arc_result_clear(st->arc);
	g_free(st->arc);
	g_free(st->ar);
	g_free(st);
}

/* dkim_result_name - the RFC 8601 name of a result */
const char *
dkim_result_name(enum dkim_result r)
{
	static const char *const names[] = {
		[DKIM_RESULT_PASS] = "pass", [DKIM_RESULT_FAIL] = "fail",
		[DKIM_RESULT_NEUTRAL] = "neutral",
		[DKIM_RESULT_TEMPERROR] = "temperror",
		[DKIM_RESULT_PERMERROR] = "permerror",
	};

	return names[r];
}

/* covers - whether the change t would break signature s, which passed */
static int
covers(const struct dkim_state *st, const struct dkim_sig *s, struct dkim_touch t)
{
	char **h;

	switch (t.kind) {
	case DKIM_TOUCH_FIELD:
		for (h = s->headers; h && *h; h++)
			if (!g_ascii_strcasecmp(*h, t.name))
				return 1;
		return 0;
	case DKIM_TOUCH_CONTENT:
		/* l=0 signs no body byte; any other signature's body hash
		 * covers the place a change in the body might be */
		return s->length != 0;
	case DKIM_TOUCH_APPEND:
		/* bytes after a body that ends with CRLF come after its
		 * canonical form, which a passing l= does not pass */
		return s->length < 0 || !st->body_ends_crlf;
	}
	return 1;
}

/* touch_name - how the log and X-Sinkd-DKIM-Skip name a change */
static const char *
touch_name(struct dkim_touch t)
{
	switch (t.kind) {
	case DKIM_TOUCH_FIELD:
		return t.name;
	case DKIM_TOUCH_CONTENT:
		return "body";
	case DKIM_TOUCH_APPEND:
		return "body (appended)";
	}
	return "?";
}

/* holding - the first signature that holds the change t back, or NULL */
static const struct dkim_sig *
holding(const struct msg *m, struct dkim_touch t)
{
	const struct dkim_state *st = m->dkim;
	guint i;

	if (st == NULL || st->signed_choice != DKIM_SIGNED_SKIP)
		return NULL;
	for (i = 0; i < st->sigs->len; i++) {
		const struct dkim_sig *s = g_ptr_array_index(st->sigs, i);

		if (s->result == DKIM_RESULT_PASS && covers(st, s, t))
			return s;
	}
	return NULL;
}

/* held_fact - the dkim.held fact: the changes held back so far, as
 * X-Sinkd-DKIM-Skip will name them, for a sink whose edit was refused */
static void
held_fact(struct msg *m)
{
	GPtrArray *sk = m->dkim->skipped;
	char *v;

	g_ptr_array_add(sk, NULL);
	v = g_strjoinv("; ", (char **) sk->pdata);
	g_ptr_array_remove_index(sk, sk->len - 1);
	msg_fact(m, "dkim.held", "%s", v);
	g_free(v);
}

/* dkim_holds - whether dkim_may_change() would say no to the change t,
 * asked without noting anything: for a handler that can choose between
 * two ways of making a change (an append after the signed body rather
 * than a change of it) */
int
dkim_holds(const struct msg *m, struct dkim_touch t)
{
	return holding(m, t) != NULL;
}

/*
 * dkim_may_change - whether handler by may make the change t: 1 yes; 0
 * no, the policy says skip and a signature that passed covers what it
 * touches (the change held back is logged and noted for
 * X-Sinkd-DKIM-Skip, once per handler and change)
 */
int
dkim_may_change(struct msg *m, struct dkim_touch t, const char *by)
{
	struct dkim_state *st = m->dkim;
	const struct dkim_sig *s;
	char *what;
	guint i;

	if ((s = holding(m, t)) == NULL)
		return 1;
	what = g_strdup_printf("%s %s (signed by d=%s s=%s)", by, touch_name(t),
			       s->domain, s->selector);
	for (i = 0; i < st->skipped->len; i++)
		if (!strcmp(g_ptr_array_index(st->skipped, i), what))
			break;
	if (i == st->skipped->len) {
		log_info("%s: dkim: %s not changed: dkim-signed = skip", msg_queue_id(m), what);
		g_ptr_array_add(st->skipped, what);
		held_fact(m);
	} else {
		g_free(what);
	}
	return 0;
}

/* dkim_report - the changes held back, in X-Sinkd-DKIM-Skip (one field
 * for all of them) and the dkim.skipped fact */
void
dkim_report(struct msg *m, struct edits *e)
{
	struct dkim_state *st = m->dkim;
	GString *v;
	guint i;

	if (st == NULL || st->skipped->len == 0)
		return;
	v = g_string_new(NULL);
	for (i = 0; i < st->skipped->len; i++)
		g_string_append_printf(v, "%s%s", i ? "; " : "",
				       (char *) g_ptr_array_index(st->skipped, i));
	edits_add_header(e, "dkim", DKIM_SKIP_HEADER, v->str);
	msg_note(m, "dkim.skipped", "%u", st->skipped->len);
	g_string_free(v, TRUE);
}

/*
 * dkim_broken - the signatures that passed and that the edits queued so
 * far break (struct dkim_sig * of m->dkim, transfer container): a header
 * field changed, deleted or added whose name a signature's h= lists, or
 * a body replaced under a signature whose body hash covers any of it
 */
GPtrArray *
dkim_broken(struct msg *m)
{
	struct dkim_state *st = m->dkim;
	GPtrArray *out = g_ptr_array_new();
	guint i, k;

	for (i = 0; st && i < st->sigs->len; i++) {
		const struct dkim_sig *s = g_ptr_array_index(st->sigs, i);
		int broken = 0;

		if (s->result != DKIM_RESULT_PASS)
			continue;
		if (m->edits.body && covers(st, s, DKIM_TOUCH_BODY))
			broken = 1;
		for (k = 0; !broken && k < m->edits.list->len; k++) {
			const struct edit *ed = g_ptr_array_index(m->edits.list, k);

			if (ed->kind <= EDIT_CHANGE_HEADER
			    && covers(st, s, DKIM_TOUCH_HEADER(ed->name)))
				broken = 1;
		}
		if (broken)
			g_ptr_array_add(out, (gpointer) s);
	}
	return out;
}
