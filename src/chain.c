/*
 * chain - stage dispatch, verdicts, on-error, the per-message log line
 */
#include <string.h>
#include <glib.h>

#include "chain.h"
#include "dkim.h"
#include "log.h"
#include "mime.h"
#include "policy.h"
#include "sink.h"
#include "stats.h"

enum stage {
	STAGE_CONNECT, STAGE_HELO, STAGE_UNKNOWN, STAGE_ENVFROM,
	STAGE_ENVRCPT, STAGE_DATA, STAGE_BEFORE_EOM, STAGE_EOM, STAGE_AFTER_EOM,
};

const char *
verdict_name(enum verdict v)
{
	static const char *const names[] = {
		[VERDICT_CONTINUE] = "accept", [VERDICT_ACCEPT] = "accept",
		[VERDICT_REJECT] = "reject", [VERDICT_TEMPFAIL] = "tempfail",
		[VERDICT_DISCARD] = "discard", [VERDICT_QUARANTINE] = "quarantine",
		[VERDICT_ERROR] = "error",
	};

	return names[v];
}

/* handler_refuse - set the reply; its code says reject (5xx) or tempfail */
enum verdict
handler_refuse(struct conn *c, const struct reply *r)
{
	reply_copy(&c->reply, r);
	return reply_is_temp(r) ? VERDICT_TEMPFAIL : VERDICT_REJECT;
}

/* handler_decides - the steps at which h under cfg may refuse */
unsigned
handler_decides(const struct handler *h, const void *cfg)
{
	if (h->decides)
		return h->decides(cfg);
	return (h->connect ? HANDLER_AT_CONNECT : 0) | (h->helo ? HANDLER_AT_HELO : 0)
		| (h->envfrom ? HANDLER_AT_MAIL : 0) | (h->envrcpt ? HANDLER_AT_RCPT : 0)
		| (h->data ? HANDLER_AT_DATA : 0) | (h->unknown ? HANDLER_AT_UNKNOWN : 0);
}

/* handler_setup - every registered handler's setup hook; -1 if one fails */
int
handler_setup(const struct snapshot *s, uid_t uid, gid_t gid)
{
	unsigned i;

	for (i = 0; i < s->nregistry; i++)
		if (s->registry[i]->setup && s->registry[i]->setup(s, uid, gid) < 0)
			return -1;
	return 0;
}

/* handler_dirs - the directories every registered handler writes to */
void
handler_dirs(const struct snapshot *s, GPtrArray *keys, GPtrArray *paths)
{
	unsigned i;

	for (i = 0; i < s->nregistry; i++)
		if (s->registry[i]->dirs)
			s->registry[i]->dirs(s, keys, paths);
}

/* handler_configure - every registered handler's configure hook, so one
 * a reload took out of the chain lets its resources go; -1 if one fails */
int
handler_configure(const struct snapshot *s, int wait)
{
	unsigned i;
	int rc = 0;

	for (i = 0; i < s->nregistry; i++)
		if (s->registry[i]->configure
		    && s->registry[i]->configure(s, wait) < 0)
			rc = -1;
	return rc;
}

/* handler_stop - every registered handler's stop hook */
void
handler_stop(const struct snapshot *s)
{
	unsigned i;

	for (i = 0; i < s->nregistry; i++)
		if (s->registry[i]->stop)
			s->registry[i]->stop();
}

/* on_error - the failure policy, in one place: the handler at chain
 * position pos failed; its group's on-error says what that means */
static enum verdict
on_error(struct conn *c, const struct policy *p, unsigned pos)
{
	const struct handler *h = c->snap->chain[pos];
	const char *action = conf_str(policy_group(p, pos), "on-error");
	char *text;

	log_warn("%s: handler %s failed; on-error=%s", msg_queue_id(c->msg),
		 h->name, action);
	if (!strcmp(action, "accept"))
		return VERDICT_CONTINUE;
	if (!strcmp(action, "reject")) {
		text = g_strdup_printf("Message could not be processed (%s)", h->name);
		reply_set(&c->reply, "550", "5.3.0", text);
		g_free(text);
		return VERDICT_REJECT;
	}
	text = g_strdup_printf("Temporary failure in %s, try again later", h->name);
	reply_set(&c->reply, "451", "4.3.0", text);
	g_free(text);
	return VERDICT_TEMPFAIL;
}

/* call - one handler's hook for a stage; CONTINUE when it has none */
static enum verdict
call(const struct handler *h, enum stage st, struct conn *c, struct msg *m,
     struct rcpt *r, const char *cmd, const void *cfg)
{
	switch (st) {
	case STAGE_CONNECT:
		return h->connect ? h->connect(c, cfg) : VERDICT_CONTINUE;
	case STAGE_HELO:
		return h->helo ? h->helo(c, cfg) : VERDICT_CONTINUE;
	case STAGE_UNKNOWN:
		return h->unknown ? h->unknown(c, cmd, cfg) : VERDICT_CONTINUE;
	case STAGE_ENVFROM:
		return h->envfrom ? h->envfrom(m, cfg) : VERDICT_CONTINUE;
	case STAGE_ENVRCPT:
		return h->envrcpt ? h->envrcpt(m, r, cfg) : VERDICT_CONTINUE;
	case STAGE_DATA:
		return h->data ? h->data(m, cfg) : VERDICT_CONTINUE;
	case STAGE_BEFORE_EOM:
		return h->before_eom ? h->before_eom(m, &m->edits, cfg) : VERDICT_CONTINUE;
	case STAGE_EOM:
		return h->eom ? h->eom(m, &m->edits, cfg) : VERDICT_CONTINUE;
	case STAGE_AFTER_EOM:
		return h->after_eom ? h->after_eom(m, &m->edits, cfg) : VERDICT_CONTINUE;
	}
	return VERDICT_CONTINUE;
}

/* run - every handler of the chain at one stage under policy p */
static enum verdict
run(enum stage st, struct conn *c, struct msg *m, struct rcpt *r,
    const char *cmd, const struct policy *p)
{
	const struct snapshot *s = c->snap;
	enum verdict v = VERDICT_CONTINUE;
	unsigned i;

	/* a message accepted early leaves all the same: it is signed */
	if (m && m->accepted && st != STAGE_AFTER_EOM)
		return VERDICT_CONTINUE;
	for (i = 0; i < s->nchain; i++) {
		gint64 t0 = m ? g_get_monotonic_time() : 0;

		v = call(s->chain[i], st, c, m, r, cmd, p->cfg[i]);
		if (m)
			m->handler_us[i] += g_get_monotonic_time() - t0;
		if (v == VERDICT_ERROR)
			v = on_error(c, p, i);
		if (v != VERDICT_CONTINUE) {
			c->decided_by = s->chain[i]->name;
			break;
		}
	}
	if (v == VERDICT_ACCEPT) {
		if (m && st != STAGE_ENVRCPT)
			m->accepted = 1;
		v = VERDICT_CONTINUE;
	}
	return v;
}

enum verdict
chain_connect(struct conn *c)
{
	return run(STAGE_CONNECT, c, NULL, NULL, NULL, c->snap->def);
}

enum verdict
chain_helo(struct conn *c)
{
	return run(STAGE_HELO, c, NULL, NULL, NULL, c->snap->def);
}

enum verdict
chain_unknown(struct conn *c, const char *cmd)
{
	return run(STAGE_UNKNOWN, c, NULL, NULL, cmd, c->snap->def);
}

/* chain_envfrom - outbound: the sender domain's policy; inbound: the
 * default now, and each recipient domain's own again at RCPT TO */
enum verdict
chain_envfrom(struct msg *m)
{
	long long max = conf_num(&m->conn->snap->main, "max-message-size");

	if (max > 0 && m->declared_size > (gsize) max) {
		reply_set(&m->conn->reply, "552", "5.3.4", "Message size exceeds fixed limit");
		m->conn->decided_by = "sinkd";
		return VERDICT_REJECT;
	}
	return run(STAGE_ENVFROM, m->conn, m, NULL, NULL, m->mail_policy);
}

/*
 * keep_apart - inbound mail: when r's domain policy and that of a
 * recipient already accepted differ on a key no combination can serve
 * (policy_conflict), r is deferred with 452 4.5.3, so that the client
 * sends it again in a transaction of its own; those accepted stay
 */
static enum verdict
keep_apart(struct msg *m, const struct rcpt *r)
{
	struct conn *c = m->conn;
	const char *group = NULL, *key;
	guint i;

	if (m->outbound || m->accepted || !c->snap->conflicts)
		return VERDICT_CONTINUE;
	for (i = 0; i < m->rcpts->len; i++) {
		const struct rcpt *o = g_ptr_array_index(m->rcpts, i);

		if (o->policy == r->policy
		    || (key = policy_conflict(o->policy, r->policy, &group)) == NULL)
			continue;
		log_info("%s: rcpt=<%s>: policy %s differs from <%s>'s policy %s in [%s] %s; deferred to a transaction of its own",
			 m->queue_id, r->addr, r->policy->domain, o->addr,
			 o->policy->domain, group, key);
		reply_set(&c->reply, "452", "4.5.3",
			  "Too many recipients for one transaction with different policies, try again");
		c->decided_by = "sinkd";
		return VERDICT_TEMPFAIL;
	}
	return VERDICT_CONTINUE;
}

/* chain_envrcpt - one recipient; inbound mail takes its domain's policy,
 * whose sender rules apply to it as well, and a recipient whose policy
 * cannot share the transaction with those accepted is deferred */
enum verdict
chain_envrcpt(struct msg *m, struct rcpt *r)
{
	const struct policy *p = m->outbound ? m->mail_policy : r->policy;
	enum verdict v;

	if (p != m->mail_policy) {
		v = run(STAGE_ENVFROM, m->conn, m, NULL, NULL, p);
		if (v != VERDICT_CONTINUE)
			return v;
	}
	v = run(STAGE_ENVRCPT, m->conn, m, r, NULL, p);
	if (v != VERDICT_CONTINUE)
		return v;
	return keep_apart(m, r);
}

/* no_policy - the combined policy could not be built: tempfail */
static enum verdict
no_policy(struct conn *c)
{
	reply_set(&c->reply, "451", "4.3.0", "Temporary local problem, try again later");
	c->decided_by = "sinkd";
	return VERDICT_TEMPFAIL;
}

enum verdict
chain_data(struct msg *m)
{
	const struct policy *p = msg_policy(m);

	if (p == NULL)
		return no_policy(m->conn);
	return run(STAGE_DATA, m->conn, m, NULL, NULL, p);
}

/*
 * release - whether a handler's release hook lets m through as it is: if
 * so, the edits queued so far (at any step, by any handler) give way to
 * the ones the hook asks for, the message is accepted and no
 * end-of-message hook runs, so nothing changes a released message
 */
static int
release(struct msg *m, const struct policy *p)
{
	const struct snapshot *s = m->conn->snap;
	struct edits keep;
	unsigned i;

	for (i = 0; i < s->nchain; i++) {
		if (s->chain[i]->release == NULL)
			continue;
		edits_init(&keep);
		if (s->chain[i]->release(m, &keep, p->cfg[i]) > 0) {
			edits_free(&m->edits);
			m->edits = keep;
			m->released = s->chain[i]->name;
			m->accepted = 1;
			return 1;
		}
		edits_free(&keep);
	}
	return 0;
}

/* chain_eom - the message is complete: size and spool checks, a release
 * that lets it through unchanged, else the handlers' end-of-message
 * hooks (before_eom, eom, the commit of body changes, and for a message
 * to be accepted after_eom) */
enum verdict
chain_eom(struct msg *m)
{
	struct conn *c = m->conn;
	const struct policy *p = msg_policy(m);
	enum verdict v;

	if (m->too_big) {
		reply_set(&c->reply, "552", "5.3.4", "Message size exceeds fixed limit");
		c->decided_by = "sinkd";
		return VERDICT_REJECT;
	}
	if (m->spool_errno) {
		reply_set(&c->reply, "451", "4.3.0", "Temporary local problem, try again later");
		c->decided_by = "sinkd";
		return VERDICT_TEMPFAIL;
	}
	if (p == NULL)
		return no_policy(c);
	if (release(m, p))
		return VERDICT_CONTINUE;
	/* the message as received, before any eom hook changes it */
	v = run(STAGE_BEFORE_EOM, c, m, NULL, NULL, p);
	if (v == VERDICT_CONTINUE)
		v = run(STAGE_EOM, c, m, NULL, NULL, p);
	if (v == VERDICT_CONTINUE || v == VERDICT_QUARANTINE)
		dkim_report(m, &m->edits);
	if ((v == VERDICT_CONTINUE || v == VERDICT_QUARANTINE) && mime_commit(m) < 0) {
		reply_set(&c->reply, "451", "4.3.0", "Temporary local problem, try again later");
		c->decided_by = "sinkd";
		return VERDICT_TEMPFAIL;
	}
	/* the message as it will leave, when it does */
	if (v == VERDICT_CONTINUE)
		v = run(STAGE_AFTER_EOM, c, m, NULL, NULL, p);
	return v;
}

/* chain_done - the verdict that stands, to every handler that asks */
void
chain_done(struct msg *m, enum verdict v)
{
	const struct snapshot *s = m->conn->snap;
	const struct policy *p = m->policy;
	unsigned i;

	for (i = 0; p && i < s->nchain; i++)
		if (s->chain[i]->done)
			s->chain[i]->done(m, v, p->cfg[i]);
}

/* chain_timing - "protocol:0.12ms,..." for the log line */
char *
chain_timing(const struct msg *m)
{
	const struct snapshot *s = m->conn->snap;
	GString *t = g_string_new(NULL);
	unsigned i;

	for (i = 0; i < s->nchain; i++)
		g_string_append_printf(t, "%s%s:%.2fms", i ? "," : "",
				       s->chain[i]->name, m->handler_us[i] / 1000.0);
	g_string_append_printf(t, "%stotal:%.2fms", s->nchain ? "," : "",
			       (g_get_monotonic_time() - m->started) / 1000.0);
	return g_string_free(t, FALSE);
}

/* count_message - the message's verdict and each handler's time, for
 * the metrics (src/stats.h) */
static void
count_message(const struct msg *m, enum verdict v, const struct policy *p)
{
	const struct snapshot *s = m->conn->snap;
	unsigned i;

	stats_message(verdict_name(v), v == VERDICT_CONTINUE ? NULL : m->conn->decided_by,
		      m->outbound, p ? p->domain : NULL);
	for (i = 0; i < s->nchain; i++)
		stats_latency(s->chain[i]->name, m->handler_us[i]);
}

/* chain_log_message - the one line per message */
void
chain_log_message(struct msg *m, enum verdict v)
{
	struct conn *c = m->conn;
	char *timing = chain_timing(m);
	int refused = v == VERDICT_REJECT || v == VERDICT_TEMPFAIL;
	char *text = refused ? g_strescape(c->reply.text ? c->reply.text : "", NULL) : NULL;
	const struct policy *p = m->policy ? m->policy : m->mail_policy;
	char *pol = policy_describe(p, m->outbound), *notes = sink_log_notes(m);

	log_info("%s: from=<%s> nrcpt=%u size=%zu client=%s[%s] verdict=%s handler=%s%s%s%s%s%s%s%s edits=%u time=%s %s%s%s",
		 m->queue_id, m->sender, m->rcpts->len,
		 m->size ? m->size : m->declared_size,
		 c->client_name ? c->client_name : "localhost",
		 c->client_addr ? c->client_addr : "local",
		 verdict_name(v), v == VERDICT_CONTINUE ? "-" : c->decided_by,
		 refused ? " code=" : "", refused ? c->reply.code : "",
		 refused ? " xcode=" : "", refused ? c->reply.xcode : "",
		 refused ? " text=\"" : "", refused ? text : "", refused ? "\"" : "",
		 edits_count(&m->edits), timing, pol, m->log_notes ? m->log_notes->str : "", notes);
	policy_debug(p, m->queue_id);
	count_message(m, v, p);
	g_free(notes);
	g_free(pol);
	g_free(text);
	g_free(timing);
}
