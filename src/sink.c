/*
 * sink - sinks as chain entries: keys, handlers built at run time, the
 * native provider, the watchdog
 *
 * For every group [sink:NAME] of sinkd.conf (and every sink:NAME of the
 * chain, which must have one), sink_set_load() opens the sink with the
 * provider its module or script key names, checks its ABI version and
 * the keys it declares, and builds a struct sink: a struct handler whose
 * key table is sinkd's base keys (module, script, evaluate, timeout)
 * followed by the sink's own, and whose hooks are this file's, present
 * exactly where the sink has the hook (so that negotiation with the MTA
 * asks only for the steps some sink or handler wants).  The snapshot
 * owns the set: sink_set_init() runs each chained sink's init once the
 * snapshot has loaded, sink_set_free() its shutdown when the snapshot's
 * last reference goes, and then the provider closes it.
 *
 * Each hook call goes through sink_run(): the connection's struct
 * sinkd_ctx for that sink is made ready, the watchdog is told, the
 * sink's hook runs, and its verdict is checked and mapped (evaluate =
 * yes: logged, and the message goes on).  A hook that overruns the
 * sink's timeout is logged by the watchdog while it still runs, and its
 * message gets the sink's on-error action when it returns: a native hook
 * cannot be stopped.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <glib.h>

#include "conf.h"
#include "log.h"
#include "message.h"
#include "policy.h"
#include "sink.h"
#include "event.h"

struct sink_set {
	struct sink **v;
	unsigned n;
	int configured;		/* the configure hook ran */
};

static const char *const provider_keys[] = {"module", "script", "command", "socket", NULL};

/* The keys sinkd gives every sink, before the sink's own; documented in
 * sinkd-policy(5), THE SINK:NAME HANDLER. */
static const struct conf_key sink_base_keys[] = {
	{"module", CONF_PATH, "", .flags = CONF_NODOMAIN,
	 .doc = "the sink's shared object (sinkd-sink(3)); exactly one of module, script, command and socket"},
	{"script", CONF_PATH, "", .flags = CONF_NODOMAIN,
	 .doc = "the sink's Lua script (sinkd-lua(5)); exactly one of module, script, command and socket"},
	{"command", CONF_STRING, "", .flags = CONF_NODOMAIN,
	 .doc = "a worker program and its arguments, run without a shell (sinkd-sink-protocol(7))"},
	{"socket", CONF_STRING, "", .flags = CONF_NODOMAIN,
	 .doc = "unix:PATH of a sink run as a service (sinkd-sink-protocol(7))"},
	{"evaluate", CONF_BOOL, "no", .merge = MERGE_FALSE,
	 .doc = "log the refusals and edits the sink asks for instead of making them"},
	{"timeout", CONF_TIME, "30s", 1, 3600, .merge = MERGE_MIN,
	 .doc = "how long one hook of the sink may take; past it, the message gets on-error"},
	{"direction", CONF_ENUM, "both", .values = direction_values, .merge = MERGE_ENUM_LAST,
	 .doc = "which mail the sink's hooks from MAIL FROM on run for: outbound, inbound or both"},
	{NULL},
};
#define NBASE	(G_N_ELEMENTS(sink_base_keys) - 1)

static const struct sink_provider *const providers[] = {
	&sink_native,
#ifdef SINKD_WITH_LUA
	&sink_lua,
#endif
#ifndef SINKD_FUZZ	/* a fuzzed configuration starts no program */
	&sink_proc_command,
	&sink_proc_socket,
#endif
	NULL,
};

/* ------------------------------------------------------------------ */
/* the native provider                                                  */

/* native_open - dlopen path and ask its entry point for the sink */
static const struct sinkd_sink *
native_open(const char *path, const struct sinkd_api *api, void **handle,
	    char **why)
{
	const struct sinkd_sink *(*entry)(void);
	const struct sinkd_sink *ss;
	void *h;

	(void) api;
	*handle = NULL;
	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		*why = g_strdup(dlerror());
		return NULL;
	}
	*(void **) &entry = dlsym(h, SINKD_SINK_ENTRY);
	if (entry == NULL) {
		*why = g_strdup_printf("%s: no function %s", path, SINKD_SINK_ENTRY);
		goto fail;
	}
	if ((ss = entry()) == NULL) {
		*why = g_strdup_printf("%s: %s() returned NULL", path, SINKD_SINK_ENTRY);
		goto fail;
	}
	if (ss->abi_major != SINKD_SINK_ABI_MAJOR || ss->abi_minor > SINKD_SINK_ABI_MINOR) {
		*why = g_strdup_printf("%s: built for sink ABI %u.%u; this sinkd has %u.%u",
				       path, ss->abi_major, ss->abi_minor,
				       SINKD_SINK_ABI_MAJOR, SINKD_SINK_ABI_MINOR);
		goto fail;
	}
	*handle = h;
	return ss;
fail:
	dlclose(h);
	return NULL;
}

/* native_close - dlclose a module sink_native opened */
static void
native_close(void *handle)
{
	if (handle)
		dlclose(handle);
}

const struct sink_provider sink_native = {
	.key = "module",
	.open = native_open,
	.close = native_close,
};

/* ------------------------------------------------------------------ */
/* the watchdog                                                         */

/* A hook being run, while it runs. */
struct watch {
	gint64 deadline;	/* monotonic µs */
	const char *sink;
	const char *hook;
	char qid[64];
	long long timeout;
	int logged;
	const char *stop;	/* how the provider stops it; NULL: it cannot */
	GList link;		/* in watches; data: the struct watch */
};

/*
 * The watchdog sleeps until watch_wake, the earliest deadline it knew of
 * when it last looked.  A hook whose deadline comes later (the usual
 * case: one timeout for every hook) is only linked into the list, with
 * no allocation and no wake-up of the watchdog; the watchdog finds it at
 * its next look.  Waking it at every hook cost a thread switch a hook:
 * with a no-op sink (bench/sinkcost), the watchdog thread alone took 3 %
 * of sinkd's CPU, and a no-op native sink cost 6 % more a message.
 */
static GMutex watch_lock;
static GCond watch_cond;
static GQueue watches = G_QUEUE_INIT;	/* struct watch *, running hooks */
static gint64 watch_wake = G_MAXINT64;	/* the watchdog's next look */
static gsize watch_started;

/* watchdog - log each hook still running past its deadline, once */
static gpointer
watchdog(gpointer unused)
{
	(void) unused;
	g_mutex_lock(&watch_lock);
	for (;;) {
		gint64 now = g_get_monotonic_time(), next = now + (gint64) G_USEC_PER_SEC * 3600;
		GList *l;

		for (l = watches.head; l; l = l->next) {
			struct watch *w = l->data;

			if (w->logged)
				continue;
			if (w->deadline <= now) {
				log_warn("%s: %s: %s hook still running past its timeout of %llds; the message gets on-error (%s)",
					 w->qid, w->sink, w->hook, w->timeout,
					 w->stop ? w->stop : "a native hook cannot be stopped");
				w->logged = 1;
			} else if (w->deadline < next) {
				next = w->deadline;
			}
		}
		watch_wake = next;
		g_cond_wait_until(&watch_cond, &watch_lock, next);
	}
	return NULL;
}

/* watch_start - tell the watchdog a hook starts */
static void
watch_start(struct watch *w, const struct sink *k, const char *hook,
	    const char *qid, long long timeout)
{
	if (g_once_init_enter(&watch_started)) {
		g_thread_unref(g_thread_new("sink-watchdog", watchdog, NULL));
		g_once_init_leave(&watch_started, 1);
	}
	w->deadline = g_get_monotonic_time() + timeout * G_USEC_PER_SEC;
	w->sink = k->name;
	w->hook = hook;
	g_strlcpy(w->qid, qid, sizeof(w->qid));
	w->timeout = timeout;
	w->logged = 0;
	w->stop = k->prov->stop;
	w->link.data = w;
	w->link.prev = w->link.next = NULL;
	g_mutex_lock(&watch_lock);
	g_queue_push_head_link(&watches, &w->link);
	if (w->deadline < watch_wake) {
		watch_wake = w->deadline;
		g_cond_signal(&watch_cond);
	}
	g_mutex_unlock(&watch_lock);
}

/* watch_stop - the hook returned; 1 when it overran its deadline (logged
 * here if the watchdog had not yet) */
static int
watch_stop(struct watch *w)
{
	gint64 now = g_get_monotonic_time();
	int logged;

	g_mutex_lock(&watch_lock);
	g_queue_unlink(&watches, &w->link);
	logged = w->logged;
	g_mutex_unlock(&watch_lock);
	if (now < w->deadline)
		return 0;
	if (!logged)
		log_warn("%s: %s: %s hook ran past its timeout of %llds; the message gets on-error",
			 w->qid, w->sink, w->hook, w->timeout);
	return 1;
}

/* ------------------------------------------------------------------ */
/* contexts                                                             */

/* sink_keep - s (g_free()able), kept until the hook returns */
const char *
sink_keep(struct sinkd_ctx *x, char *s)
{
	if (s == NULL)
		return NULL;
	if (x->tmp == NULL)
		x->tmp = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(x->tmp, s);
	return s;
}

/* sink_parts_free - forget the message's part index */
void
sink_parts_free(struct sinkd_ctx *x)
{
	if (x->parts) {
		g_array_free(x->parts, TRUE);
		x->parts = NULL;
	}
}

/* ctx_of - c's context for sink k, made on first use */
static struct sinkd_ctx *
ctx_of(struct conn *c, struct sink *k)
{
	const struct sink_set *set = c->snap->sinks;
	struct sinkd_ctx *x;

	if (c->sinks == NULL)
		c->sinks = g_new0(struct sinkd_ctx *, set->n);
	if ((x = c->sinks[k->index]) == NULL) {
		x = c->sinks[k->index] = g_new0(struct sinkd_ctx, 1);
		x->sink = k;
		x->conn = c;
	}
	return x;
}

/* ctx_abort - the sink's abort hook for what x saw */
static void
ctx_abort(struct sinkd_ctx *x, int closing)
{
	const struct sinkd_sink *ss = x->sink->ss;

	if (ss->abort == NULL)
		return;
	x->step = SINK_STEP_ABORT;
	x->rcpt = NULL;
	x->edits = NULL;
	ss->abort(x->sink->state, x, closing);
	if (x->tmp)
		g_ptr_array_set_size(x->tmp, 0);
}

/* sink_msg_end - the message m ends: abort for every sink that saw it
 * and did not reach end of message, and its per-message state goes */
void
sink_msg_end(struct msg *m)
{
	struct conn *c = m->conn;
	unsigned i;

	if (c->sinks == NULL || c->msg != m)
		return;
	for (i = 0; i < c->snap->sinks->n; i++) {
		struct sinkd_ctx *x = c->sinks[i];

		if (x == NULL)
			continue;
		if (x->in_msg && !x->eom_ran)
			ctx_abort(x, 0);
		x->in_msg = x->eom_ran = 0;
		sink_parts_free(x);
	}
}

/* sink_log_notes - what sinks noted about m (sink.NAME.KEY=..., and
 * evaluate's sink:NAME=evaluate:...), " key=value" each in order, for
 * the per-message log line; "" when nothing (g_free()) */
char *
sink_log_notes(const struct msg *m)
{
	GString *o = g_string_new(NULL);
	char **w;
	unsigned i;

	if (m->notes == NULL)
		return g_string_free(o, FALSE);
	w = g_strsplit(m->notes->str, " ", -1);
	for (i = 0; w[i]; i++)
		if (g_str_has_prefix(w[i], "sink.") || g_str_has_prefix(w[i], "sink:"))
			g_string_append_printf(o, " %s", w[i]);
	g_strfreev(w);
	return g_string_free(o, FALSE);
}

/* sink_conn_end - the connection closes: abort (closing) for every sink
 * that saw it, and the contexts go */
void
sink_conn_end(struct conn *c)
{
	unsigned i;

	if (c->sinks == NULL)
		return;
	for (i = 0; i < c->snap->sinks->n; i++) {
		struct sinkd_ctx *x = c->sinks[i];

		if (x == NULL)
			continue;
		if (x->active)
			ctx_abort(x, 1);
		sink_parts_free(x);
		reply_clear(&x->reply);
		if (x->tmp)
			g_ptr_array_free(x->tmp, TRUE);
		g_free(x);
	}
	g_free(c->sinks);
	c->sinks = NULL;
}

/* ------------------------------------------------------------------ */
/* the handler's hooks                                                  */

static const char *const step_names[] = {
	[SINK_STEP_INIT] = "init", [SINK_STEP_CONNECT] = "connect",
	[SINK_STEP_HELO] = "helo", [SINK_STEP_MAIL] = "mail",
	[SINK_STEP_RCPT] = "rcpt", [SINK_STEP_DATA] = "data",
	[SINK_STEP_UNKNOWN] = "unknown", [SINK_STEP_EOM] = "eom",
	[SINK_STEP_ABORT] = "abort", [SINK_STEP_ACCEPTED] = "accepted",
};
G_STATIC_ASSERT(G_N_ELEMENTS(step_names) == SINK_STEP_ACCEPTED + 1);

static const enum verdict verdicts[] = {
	[SINKD_CONTINUE] = VERDICT_CONTINUE, [SINKD_ACCEPT] = VERDICT_ACCEPT,
	[SINKD_REJECT] = VERDICT_REJECT, [SINKD_TEMPFAIL] = VERDICT_TEMPFAIL,
	[SINKD_DISCARD] = VERDICT_DISCARD, [SINKD_QUARANTINE] = VERDICT_QUARANTINE,
	[SINKD_ERROR] = VERDICT_ERROR,
};
G_STATIC_ASSERT(G_N_ELEMENTS(verdicts) == SINKD_ERROR + 1);

/* verdict_of - what the sink's answer sv at step st means; one that
 * cannot be given there is the sink's failure */
static enum verdict
verdict_of(const struct sink *k, int sv, enum sink_step st, const char *qid)
{
	enum verdict v;

	if (sv < 0 || (unsigned) sv >= G_N_ELEMENTS(verdicts)) {
		log_warn("%s: %s: %s hook returned %d, which is no verdict",
			 qid, k->name, step_names[st], sv);
		return VERDICT_ERROR;
	}
	v = verdicts[sv];
	if ((v == VERDICT_QUARANTINE && st != SINK_STEP_EOM)
	    || (v == VERDICT_DISCARD && st < SINK_STEP_MAIL)) {
		log_warn("%s: %s: %s hook: verdict %s is not possible at this step",
			 qid, k->name, step_names[st], verdict_name(v));
		return VERDICT_ERROR;
	}
	return v;
}

/* refusal - the reply of a refusal: the sink's (api->reply()) when its
 * class fits the verdict, else the default */
static void
refusal(struct sinkd_ctx *x, enum verdict v, const char *qid, struct reply *r)
{
	int temp = v == VERDICT_TEMPFAIL;
	char *text;

	if (x->reply.text && reply_is_temp(&x->reply) == temp) {
		reply_copy(r, &x->reply);
		return;
	}
	if (x->reply.text)
		log_warn("%s: %s: reply %s does not fit verdict %s; the default reply is given",
			 qid, x->sink->name, x->reply.code, verdict_name(v));
	text = g_strdup_printf(temp ? "temporarily rejected by %s" : "rejected by %s",
			       x->sink->name);
	reply_set(r, temp ? "451" : "550", temp ? "4.7.1" : "5.7.1", text);
	g_free(text);
}

/* call - the sink's hook for step st */
static int
call(struct sink *k, struct sinkd_ctx *x, enum sink_step st, const char *arg)
{
	const struct sinkd_sink *ss = k->ss;

	switch (st) {
	case SINK_STEP_CONNECT:
		return ss->connect(k->state, x);
	case SINK_STEP_HELO:
		return ss->helo(k->state, x);
	case SINK_STEP_MAIL:
		return ss->mail(k->state, x);
	case SINK_STEP_RCPT:
		return ss->rcpt(k->state, x, arg);
	case SINK_STEP_DATA:
		return ss->data(k->state, x);
	case SINK_STEP_UNKNOWN:
		return ss->unknown(k->state, x, arg);
	case SINK_STEP_EOM:
		return ss->eom(k->state, x);
	case SINK_STEP_INIT:
	case SINK_STEP_ABORT:
	case SINK_STEP_ACCEPTED:
		break;
	}
	log_panic("sink: no hook for step %d", st);
}

/*
 * sink_run - one hook of the sink, under the policy cfg: the context
 * made ready, the watchdog told, the verdict checked (the header and
 * envelope edits of a hook that fails are dropped; its body edits, made
 * on the tree, stay); in evaluate mode a
 * verdict other than continue is logged (and noted as
 * sink.NAME.evaluate) and the message goes on
 */
static enum verdict
sink_run(const struct sink_cfg *cfg, enum sink_step st, struct conn *c,
	 struct rcpt *r, const char *arg, struct edits *e)
{
	struct sink *k = cfg->sink;
	struct sinkd_ctx *x = ctx_of(c, k);
	struct msg *m = c->msg;
	const char *qid = msg_queue_id(m);
	struct reply rep = {.text = NULL};
	struct edits mine;
	struct watch w;
	enum verdict v;
	int sv, overran;

	/* from MAIL FROM on, the message's direction is known */
	if (m && st >= SINK_STEP_MAIL && st != SINK_STEP_UNKNOWN
	    && !direction_applies(cfg->direction, m->outbound))
		return VERDICT_CONTINUE;

	/* the hook's header and envelope edits join the message's only if
	 * it does not fail */
	if (e)
		edits_init(&mine);
	x->g = cfg->g;
	x->evaluate = cfg->evaluate;
	x->step = st;
	x->rcpt = r;
	x->edits = e ? &mine : NULL;
	reply_clear(&x->reply);
	x->active = 1;
	if (m && st >= SINK_STEP_MAIL && st != SINK_STEP_UNKNOWN)
		x->in_msg = 1;
	watch_start(&w, k, step_names[st], qid, cfg->timeout);
	sv = call(k, x, st, arg);
	overran = watch_stop(&w);
	if (x->tmp)
		g_ptr_array_set_size(x->tmp, 0);
	if (st == SINK_STEP_EOM)
		x->eom_ran = 1;
	x->edits = NULL;
	x->rcpt = NULL;
	v = overran ? VERDICT_ERROR : verdict_of(k, sv, st, qid);
	if (e && v != VERDICT_ERROR)
		edits_move(e, &mine);
	if (e)
		edits_free(&mine);
	if (v == VERDICT_REJECT || v == VERDICT_TEMPFAIL)
		refusal(x, v, qid, &rep);
	if (cfg->evaluate && v != VERDICT_CONTINUE) {
		log_notice("%s: %s: evaluate: %s hook would give %s%s%s%s%s%s",
			 qid, k->name, step_names[st],
			 v == VERDICT_ERROR ? "on-error " : "", verdict_name(v),
			 rep.text ? ": " : "", rep.text ? rep.code : "",
			 rep.text ? " " : "", rep.text ? rep.text : "");
		if (m)
			msg_note(m, k->name, "evaluate:%s", verdict_name(v));
		v = VERDICT_CONTINUE;
	} else if (v == VERDICT_REJECT || v == VERDICT_TEMPFAIL) {
		v = handler_refuse(c, &rep);
	}
	reply_clear(&rep);
	reply_clear(&x->reply);
	return v;
}

/* sk_connect - the sink's connect hook (struct handler.connect) */
static enum verdict
sk_connect(struct conn *c, const void *cfg)
{
	return sink_run(cfg, SINK_STEP_CONNECT, c, NULL, NULL, NULL);
}

/* sk_helo - the sink's helo hook */
static enum verdict
sk_helo(struct conn *c, const void *cfg)
{
	return sink_run(cfg, SINK_STEP_HELO, c, NULL, NULL, NULL);
}

/* sk_envfrom - the sink's mail hook */
static enum verdict
sk_envfrom(struct msg *m, const void *cfg)
{
	return sink_run(cfg, SINK_STEP_MAIL, m->conn, NULL, NULL, NULL);
}

/* sk_envrcpt - the sink's rcpt hook, for recipient r */
static enum verdict
sk_envrcpt(struct msg *m, struct rcpt *r, const void *cfg)
{
	return sink_run(cfg, SINK_STEP_RCPT, m->conn, r, r->addr, NULL);
}

/* sk_data - the sink's data hook */
static enum verdict
sk_data(struct msg *m, const void *cfg)
{
	return sink_run(cfg, SINK_STEP_DATA, m->conn, NULL, NULL, NULL);
}

/* sk_unknown - the sink's hook for a command the MTA does not know */
static enum verdict
sk_unknown(struct conn *c, const char *cmd, const void *cfg)
{
	return sink_run(cfg, SINK_STEP_UNKNOWN, c, NULL, cmd, NULL);
}

/* sk_eom - the sink's end-of-message hook; its edits go to e */
static enum verdict
sk_eom(struct msg *m, struct edits *e, const void *cfg)
{
	return sink_run(cfg, SINK_STEP_EOM, m->conn, NULL, NULL, e);
}

/* sk_load - a policy's group of the sink, compiled */
static void *
sk_load(const struct handler *h, const struct conf_group *g,
	struct conf_errors *e)
{
	struct sink_cfg *cfg = g_new0(struct sink_cfg, 1);

	(void) e;
	cfg->sink = (struct sink *) h;	/* h is the struct sink's first member */
	cfg->g = g;
	cfg->evaluate = conf_bool(g, "evaluate");
	cfg->timeout = conf_num(g, "timeout");
	cfg->direction = (int) conf_num(g, "direction");
	return cfg;
}

/* sk_unload - free what sk_load made */
static void
sk_unload(void *cfg)
{
	g_free(cfg);
}

/* sk_configure - a new generation's sinks, when it replaces another on
 * SIGHUP, get their reload hook (once, whichever sink's handler runs it) */
static int
sk_configure(const struct snapshot *s, int wait)
{
	static gint generations;
	unsigned i;

	(void) wait;
	if (s->sinks == NULL || s->sinks->configured)
		return 0;
	s->sinks->configured = 1;
	if (g_atomic_int_add(&generations, 1) == 0)
		return 0;
	for (i = 0; i < s->sinks->n; i++) {
		struct sink *k = s->sinks->v[i];

		if (k->inited && k->ss->reload)
			k->ss->reload(k->state);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* loading                                                              */

/* key_type - a sink key's type as sinkd's; -1: none */
static int
key_type(enum sinkd_key_type t)
{
	static const int map[] = {
		[SINKD_KEY_STRING] = CONF_STRING, [SINKD_KEY_BOOL] = CONF_BOOL,
		[SINKD_KEY_INT] = CONF_INT, [SINKD_KEY_SIZE] = CONF_SIZE,
		[SINKD_KEY_TIME] = CONF_TIME, [SINKD_KEY_PATH] = CONF_PATH,
		[SINKD_KEY_LIST] = CONF_LIST, [SINKD_KEY_REPLY] = CONF_REPLY,
	};

	return (unsigned) t < G_N_ELEMENTS(map) ? map[t] : -1;
}

/* key_merge - a sink key's merge rule as sinkd's; -1: none */
static int
key_merge(enum sinkd_merge m)
{
	static const int map[] = {
		[SINKD_MERGE_AGREE] = MERGE_AGREE, [SINKD_MERGE_ANY] = MERGE_TRUE,
		[SINKD_MERGE_ALL] = MERGE_FALSE, [SINKD_MERGE_MIN] = MERGE_MIN,
		[SINKD_MERGE_UNION] = MERGE_UNION, [SINKD_MERGE_COMMON] = MERGE_INTERSECT,
	};

	return (unsigned) m < G_N_ELEMENTS(map) ? map[m] : -1;
}

/* merge_fits - whether rule m can combine values of type t */
static int
merge_fits(int m, int t)
{
	switch (m) {
	case MERGE_TRUE:
	case MERGE_FALSE:
		return t == CONF_BOOL;
	case MERGE_MIN:
		return t == CONF_INT || t == CONF_SIZE || t == CONF_TIME;
	case MERGE_UNION:
	case MERGE_INTERSECT:
		return t == CONF_LIST;
	default:
		return 1;
	}
}

/* reserved - a key name sinkd gives every sink */
static int
reserved(const char *name)
{
	unsigned i;

	for (i = 0; sink_base_keys[i].name; i++)
		if (!strcmp(name, sink_base_keys[i].name))
			return 1;
	for (i = 0; sinkd_common_keys[i].name; i++)
		if (!strcmp(name, sinkd_common_keys[i].name))
			return 1;
	return 0;
}

/* key_name_ok - lower case letters, digits and '-', a letter first */
static int
key_name_ok(const char *name)
{
	const char *p;

	if (name == NULL || !g_ascii_islower(*name))
		return 0;
	for (p = name; *p; p++)
		if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '-')
			return 0;
	return 1;
}

/* main_key - whether name is one of the provider's keys that are read
 * from sinkd.conf alone */
static int
main_key(const struct sink_provider *prov, const char *name)
{
	const struct sinkd_key *mk;

	for (mk = prov ? prov->main_keys : NULL; mk && mk->name; mk++)
		if (!strcmp(mk->name, name))
			return 1;
	return 0;
}

/* sink_direction_default - a sink that declares direction gives only its
 * default for sinkd's key: the one of k's table set to def; -1 if def is
 * no direction */
static int
sink_direction_default(struct sink *k, const char *def)
{
	unsigned i, j;

	for (j = 0; def && direction_values[j]; j++)
		if (!strcmp(def, direction_values[j]))
			break;
	if (def == NULL || direction_values[j] == NULL)
		return -1;
	for (i = 0; i < NBASE; i++)
		if (!strcmp(k->keys[i].name, "direction"))
			k->keys[i].def = direction_values[j];
	return 0;
}

/* sink_keys - the sink's key table: the base keys, then its own, each
 * checked; errors as "where: module: key NAME: ..." */
static int
sink_keys(struct sink *k, const char *where, const char *pkey,
	  const char *basedir, struct conf_errors *e)
{
	const struct sinkd_key *sk = k->ss->keys;
	unsigned n = 0, i, j, out = NBASE;
	int bad = 0;

	while (sk && sk[n].name)
		n++;
	k->keys = g_new0(struct conf_key, NBASE + n + 1);
	memcpy(k->keys, sink_base_keys, NBASE * sizeof(struct conf_key));
	for (i = 0; i < n; i++) {
		int t = key_type(sk[i].type), m = key_merge(sk[i].merge);
		const char *why = NULL;
		struct conf_key *ck;

		if (sk[i].name && !strcmp(sk[i].name, "direction")) {
			/* the sink's own default for sinkd's key */
			if (sink_direction_default(k, sk[i].def) < 0) {
				conf_errorf(e, "%s: %s: key \"direction\": default \"%s\": not one of outbound, inbound, both",
					    where, pkey, sk[i].def ? sk[i].def : "");
				bad++;
			}
			continue;
		}
		if (!key_name_ok(sk[i].name))
			why = "not a key name (lower case letters, digits, '-')";
		else if (reserved(sk[i].name))
			why = "a name sinkd gives every sink";
		else if (t < 0)
			why = "unknown type";
		else if (m < 0)
			why = "unknown merge rule";
		else if (!merge_fits(m, t))
			why = "merge rule does not fit the type";
		for (j = 0; why == NULL && j < i; j++)
			if (!strcmp(sk[j].name, sk[i].name))
				why = "declared twice";
		if (why) {
			conf_errorf(e, "%s: %s: key \"%s\": %s", where, pkey,
				    sk[i].name ? sk[i].name : "(null)", why);
			bad++;
			continue;
		}
		ck = &k->keys[out++];
		ck->name = g_strdup(sk[i].name);
		g_ptr_array_add(k->strings, (char *) ck->name);
		ck->type = t;
		ck->def = g_strdup(sk[i].def ? sk[i].def : "");
		g_ptr_array_add(k->strings, (char *) ck->def);
		ck->doc = g_strdup(sk[i].doc ? sk[i].doc : "");
		g_ptr_array_add(k->strings, (char *) ck->doc);
		ck->merge = m;
		ck->min = t == CONF_INT ? LLONG_MIN / 2 : 0;
		ck->max = t == CONF_INT ? LLONG_MAX / 2 : 1LL << 50;
		if (main_key(k->prov, ck->name))
			ck->flags |= CONF_NODOMAIN;
		if ((why = conf_key_default_check(ck, basedir)) != NULL) {
			conf_errorf(e, "%s: %s: key \"%s\": default \"%s\": %s",
				    where, pkey, ck->name, ck->def, why);
			bad++;
		}
	}
	return bad ? -1 : 0;
}

/* sink_free - close one sink (after its shutdown) */
static void
sink_free(struct sink *k)
{
	if (k == NULL)
		return;
	if (k->inited && k->ss->shutdown)
		k->ss->shutdown(k->state);
	if (k->prov && k->handle)
		k->prov->close(k->handle);
	if (k->strings)
		g_ptr_array_free(k->strings, TRUE);
	if (k->key_lines)
		g_hash_table_destroy(k->key_lines);
	g_free(k->conf_path);
	g_free(k->keys);
	g_free(k->name);
	g_free(k);
}

/* sink_arg_unsafe - why the value of a provider's key cannot be used
 * (a file, or a command's program, that others could change), or NULL */
static char *
sink_arg_unsafe(const struct sink_provider *prov, const char *val, uid_t user)
{
	GError *err = NULL;
	char **argv = NULL, *why;

	switch (prov->arg) {
	case SINK_ARG_FILE:
		return conf_file_unsafe(val, 0, user);
	case SINK_ARG_ADDRESS:
		return NULL;
	case SINK_ARG_COMMAND:
		break;
	}
	if (!g_shell_parse_argv(val, NULL, &argv, &err)) {
		why = g_strdup(err->message);
		g_error_free(err);
		return why;
	}
	why = *argv[0] != '/' ? g_strdup_printf("%s: not an absolute path", argv[0])
		: conf_file_unsafe(argv[0], 0, user);
	g_strfreev(argv);
	return why;
}

/* sink_name_ok - NAME of sink:NAME: letters, digits, '-', '_', '.' */
static int
sink_name_ok(const char *name)
{
	const char *p;

	if (*name == 0)
		return 0;
	for (p = name; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			return 0;
	return 1;
}

/* sink_open - the sink of group gname of f; NULL after an error */
static struct sink *
sink_open(const struct snapshot *s, const struct conf_file *f,
	  const char *gname, struct conf_errors *e)
{
	const char *path = conf_file_path(f);
	int gline = conf_file_group_line(f, gname);
	const struct sink_provider *prov = NULL;
	const char *pkey = NULL;
	char *val = NULL, *file, *where, *why = NULL;
	struct sink *k;
	unsigned i, j, nset = 0;

	for (i = 0; provider_keys[i]; i++) {
		char *v = conf_file_get(f, gname, provider_keys[i]);

		if (v == NULL)
			continue;
		nset++;
		g_free(val);
		val = v;
		pkey = provider_keys[i];
	}
	if (nset != 1) {
		conf_errorf(e, "%s:%d: [%s]: needs exactly one of module, script, command and socket",
			    path, gline, gname);
		g_free(val);
		return NULL;
	}
	where = g_strdup_printf("%s:%d", path, conf_file_key_line(f, gname, pkey));
	for (j = 0; providers[j]; j++)
		if (!strcmp(providers[j]->key, pkey))
			prov = providers[j];
	g_strstrip(val);
	file = *val == '/' || !strcmp(s->conf_dir, ".") || (prov && prov->arg != SINK_ARG_FILE)
		? g_strdup(val) : g_build_filename(s->conf_dir, val, NULL);
	k = g_new0(struct sink, 1);
	k->name = g_strdup(gname);
	k->strings = g_ptr_array_new_with_free_func(g_free);
	if (prov == NULL) {
		conf_errorf(e, "%s: %s: this sinkd is built without support for it", where, pkey);
		goto fail;
	}
	if (*val == 0) {
		conf_errorf(e, "%s: %s: empty", where, pkey);
		goto fail;
	}
	k->prov = prov;
	if ((why = sink_arg_unsafe(prov, file, e->user)) != NULL) {
		conf_errorf(e, "%s: %s: %s", where, pkey, why);
		goto fail;
	}
	if (prov->group)
		prov->group(f, gname, e->user);
	if ((k->ss = prov->open(file, &sink_api, &k->handle, &why)) == NULL) {
		conf_errorf(e, "%s: %s: %s", where, pkey, why ? why : "cannot be opened");
		goto fail;
	}
	if (k->ss->abi_major != SINKD_SINK_ABI_MAJOR
	    || k->ss->abi_minor > SINKD_SINK_ABI_MINOR) {
		conf_errorf(e, "%s: %s: %s: built for sink ABI %u.%u; this sinkd has %u.%u",
			    where, pkey, file, k->ss->abi_major, k->ss->abi_minor,
			    SINKD_SINK_ABI_MAJOR, SINKD_SINK_ABI_MINOR);
		goto fail;
	}
	if (sink_keys(k, where, pkey, s->conf_dir, e) < 0)
		goto fail;
	/* where each key is set, for what init says of it */
	k->conf_path = g_strdup(path);
	k->key_lines = g_hash_table_new(g_str_hash, g_str_equal);
	for (i = 0; k->keys[i].name; i++) {
		int line = conf_file_key_line(f, gname, k->keys[i].name);

		if (line > 0)
			g_hash_table_insert(k->key_lines, (gpointer) k->keys[i].name,
					    GINT_TO_POINTER(line));
	}
	g_free(where);
	g_free(file);
	g_free(val);
	return k;
fail:
	g_free(why);
	g_free(where);
	g_free(file);
	g_free(val);
	sink_free(k);
	return NULL;
}

/* sink_handler - k's struct handler: hooks where the sink has them */
static void
sink_handler(struct sink *k)
{
	const struct sinkd_sink *ss = k->ss;
	struct handler *h = &k->h;

	h->name = k->name;
	h->keys = k->keys;
	h->load_self = sk_load;
	h->unload = sk_unload;
	h->configure = sk_configure;
	h->connect = ss->connect ? sk_connect : NULL;
	h->helo = ss->helo ? sk_helo : NULL;
	h->envfrom = ss->mail ? sk_envfrom : NULL;
	h->envrcpt = ss->rcpt ? sk_envrcpt : NULL;
	h->data = ss->data ? sk_data : NULL;
	h->unknown = ss->unknown ? sk_unknown : NULL;
	h->eom = ss->eom ? sk_eom : NULL;
	h->needs = ss->eom ? HANDLER_NEEDS_HEADERS | HANDLER_NEEDS_BODY : 0;
}

/*
 * sink_set_load - the sinks sinkd.conf (f) names: a sink for every
 * [sink:NAME] group, and an error for every sink:NAME of the chain
 * without one; NULL when there are none
 */
struct sink_set *
sink_set_load(struct snapshot *s, const struct conf_file *f,
	      struct conf_errors *e)
{
	char *const *chain = conf_list(&s->main, "chain");
	char **groups = conf_file_groups(f);
	struct sink_set *set = g_new0(struct sink_set, 1);
	GPtrArray *v = g_ptr_array_new();
	unsigned i;

	for (i = 0; chain && chain[i]; i++) {
		if (!g_str_has_prefix(chain[i], "sink:"))
			continue;
		if (!sink_name_ok(chain[i] + 5))
			conf_key_error(e, &s->main, "chain", "\"%s\": not a sink name (letters, digits, '-', '_', '.')",
				       chain[i]);
		else if (conf_file_group_line(f, chain[i]) <= 0)
			conf_key_error(e, &s->main, "chain", "%s: no group [%s] in %s",
				       chain[i], chain[i], conf_file_path(f));
	}
	for (i = 0; groups[i]; i++) {
		struct sink *k;

		if (!g_str_has_prefix(groups[i], "sink:"))
			continue;
		if (!sink_name_ok(groups[i] + 5)) {
			conf_errorf(e, "%s:%d: [%s]: not a sink name (letters, digits, '-', '_', '.')",
				    conf_file_path(f), conf_file_group_line(f, groups[i]), groups[i]);
			continue;
		}
		if ((k = sink_open(s, f, groups[i], e)) == NULL)
			continue;
		k->index = v->len;
		sink_handler(k);
		g_ptr_array_add(v, k);
	}
	g_strfreev(groups);
	set->n = v->len;
	set->v = (struct sink **) g_ptr_array_free(v, FALSE);
	if (set->n == 0) {
		sink_set_free(set);
		return NULL;
	}
	return set;
}

/* sink_set_registry - builtin's handlers, then the sinks'; g_free() */
const struct handler **
sink_set_registry(const struct sink_set *set,
		  const struct handler *const *builtin)
{
	unsigned nb = 0, i;
	const struct handler **r;

	while (builtin[nb])
		nb++;
	r = g_new0(const struct handler *, nb + (set ? set->n : 0) + 1);
	memcpy(r, builtin, nb * sizeof(*r));
	for (i = 0; set && i < set->n; i++)
		r[nb + i] = &set->v[i]->h;
	return r;
}

/*
 * init_failed - the error of a sink whose init failed: what it logged
 * last as an error; "KEY: what is wrong", for one of its keys, is given
 * as file:line of that key (or the group's file and name, where the key
 * takes its default)
 */
static void
init_failed(const struct sink *k, const struct sinkd_ctx *x, const char *conf_path,
	    struct conf_errors *e)
{
	const char *t = x->init_error, *colon = t ? strstr(t, ": ") : NULL;
	unsigned i;

	if (t && g_str_has_prefix(t, k->conf_path) && t[strlen(k->conf_path)] == ':') {
		conf_errorf(e, "%s", t);	/* it says where itself */
		return;
	}
	for (i = 0; colon && k->keys[i].name; i++) {
		size_t n = strlen(k->keys[i].name);
		int line;

		if ((size_t) (colon - t) != n || strncmp(t, k->keys[i].name, n))
			continue;
		line = GPOINTER_TO_INT(g_hash_table_lookup(k->key_lines, k->keys[i].name));
		if (line > 0)
			conf_errorf(e, "%s:%d: %s", k->conf_path, line, t);
		else
			conf_errorf(e, "%s: [%s]: %s (its default)", k->conf_path, k->name, t);
		return;
	}
	if (t)
		conf_errorf(e, "%s: [%s]: init failed: %s", conf_path, k->name, t);
	else
		conf_errorf(e, "%s: %s: init failed (its log lines say why)", conf_path, k->name);
}

/*
 * sink_set_init - init of every sink of the chain, with the default
 * policy's group; -1 (an error in e) when one fails
 */
int
sink_set_init(struct sink_set *set, const struct snapshot *s,
	      struct conf_errors *e)
{
	unsigned i;
	int rc = 0;

	for (i = 0; set && i < set->n; i++) {
		struct sink *k = set->v[i];
		struct sinkd_ctx x = {.sink = k, .step = SINK_STEP_INIT};

		if (!snapshot_in_chain(s, &k->h))
			continue;
		if (k->ss->init == NULL) {
			k->inited = 1;
			continue;
		}
		x.g = policy_group_of(s->def, &k->h);
		if (k->ss->init(&sink_api, &x, &k->state) < 0) {
			init_failed(k, &x, s->conf_path, e);
			rc = -1;
		} else {
			if (x.init_error)
				log_error("%s: %s", k->name, x.init_error);
			k->inited = 1;
		}
		if (x.tmp)
			g_ptr_array_free(x.tmp, TRUE);
		g_free(x.init_error);
	}
	return rc;
}

/* sink_set_free - shutdown and close every sink */
void
sink_set_free(struct sink_set *set)
{
	unsigned i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		sink_free(set->v[i]);
	g_free(set->v);
	g_free(set);
}

/* sink_policy_file - a policy file's group of a sink: what opens the
 * sink (module, script) is sinkd.conf's alone */
void
sink_policy_file(const struct conf_file *f, const char *group,
		 struct conf_errors *e)
{
	unsigned i;
	int line;

	for (i = 0; provider_keys[i]; i++)
		if ((line = conf_file_key_line(f, group, provider_keys[i])) > 0)
			conf_errorf(e, "%s:%d: %s: only in sinkd.conf, which opens the sink",
				    conf_file_path(f), line, provider_keys[i]);
}

/* sink_dump_keys - for sinkd -d: a group [sink:NAME] with the keys
 * sinkd gives every sink (a sink's own come with it: sinkd -P shows
 * them) */
void
sink_dump_keys(void (*dump)(const struct conf_key *k, int handler))
{
	unsigned i;

	printf("\n[sink:NAME]\n");
	for (i = 0; sinkd_common_keys[i].name; i++)
		dump(&sinkd_common_keys[i], 1);
	for (i = 0; sink_base_keys[i].name; i++)
		dump(&sink_base_keys[i], 1);
}

/* ------------------------------------------------------------------ */
/* the accepted hook: sinks as event targets (event.h)                  */

/* sink_has_accepted - whether h is a sink with an accepted hook (ABI
 * 1.1); *wants_body: whether it asks for the message's copy */
int
sink_has_accepted(const struct handler *h, int *wants_body)
{
	const struct sink *k = (const struct sink *) h;

	*wants_body = 0;
	if (!g_str_has_prefix(h->name, "sink:") || h->load_self != sk_load)
		return 0;
	if (k->ss->abi_minor < 1 || k->ss->accepted == NULL)
		return 0;
	*wants_body = !!(k->ss->accepted_flags & SINKD_ACCEPTED_BODY);
	return 1;
}

static const int event_result_of[] = {
	[SINKD_EVENT_DONE] = EVENT_DONE,
	[SINKD_EVENT_RETRY] = EVENT_RETRY,
	[SINKD_EVENT_FAIL] = EVENT_FAIL,
};

/*
 * sink_event_deliver - the event to the accepted hook of the sink the
 * handle names, in the current configuration (pinned for the call): the
 * generation a reload made carries on; a sink no longer in the chain
 * fails the event
 */
static enum event_result
sink_event_deliver(void *handle, const struct event *ev, char **why)
{
	struct snapshot *s = snapshot_current();
	struct sink *k = NULL;
	struct sinkd_ctx x = {.step = SINK_STEP_ACCEPTED};
	enum sinkd_event_result r;
	enum event_result res;
	unsigned i;
	int wants;

	for (i = 0; s->sinks && i < s->sinks->n; i++)
		if (!strcmp(s->sinks->v[i]->name, handle))
			k = s->sinks->v[i];
	if (k == NULL || !snapshot_in_chain(s, &k->h) || !k->inited
	    || !sink_has_accepted(&k->h, &wants)) {
		*why = g_strdup_printf("%s is no longer in the chain with an accepted hook",
				       (char *) handle);
		snapshot_unref(s);
		return EVENT_FAIL;
	}
	x.sink = k;
	x.g = policy_group_of(s->def, &k->h);
	x.qid = json_object_get_string_member_with_default(ev->obj, "queue_id", NULL);
	r = k->ss->accepted(k->state, &x, ev->json, wants ? ev->body : NULL);
	if ((unsigned) r < G_N_ELEMENTS(event_result_of)) {
		res = event_result_of[r];
		if (res != EVENT_DONE)
			*why = g_strdup_printf("the accepted hook returned %s",
					       res == EVENT_RETRY ? "retry" : "fail");
	} else {
		res = EVENT_RETRY;
		*why = g_strdup_printf("the accepted hook returned %d, not a result", (int) r);
	}
	if (x.tmp)
		g_ptr_array_free(x.tmp, TRUE);
	snapshot_unref(s);
	return res;
}

/* sink_event_close - the handle: the sink's name */
static void
sink_event_close(void *handle)
{
	g_free(handle);
}

const struct event_type event_sink = {
	.name = "sink",
	.deliver = sink_event_deliver,
	.close = sink_event_close,
};
