/*
 * event_archive - the archive event target: a copy of each message it
 * is due, in a Maildir tree or a SQL table (astore.h)
 *
 * [event:NAME] with type = archive and store = maildir:/ROOT,
 * sqlite:/FILE or postgres:CONNINFO.  Which messages: the keys enabled
 * and direction every target has, per domain.  The store is touched
 * first by the first delivery, on the shipper's thread and as sinkd's
 * user, never by sinkd -n or a reload.  A store that is busy or down is
 * tried again (EVENT_RETRY); an event without the message is refused
 * (EVENT_FAIL).  The message comes from the journal's record in memory
 * (EVENT_WANTS_DATA): no file is made for it.  sinkd-archive(8) reads what it stored.
 *
 * Inbound mail for several domains is due when any of them wants it;
 * a Maildir then gets a copy only in the mailboxes of recipients whose
 * own domain's policy (the current snapshot's) has the target enabled
 * for inbound mail: a domain with enabled = no has none of its mail
 * archived, even when it shares a message with one that archives.
 */
#include <string.h>
#include <glib.h>

#include "astore.h"
#include "event.h"
#include "handler.h"
#include "policy.h"

/* documented in sinkd-events(5), THE ARCHIVE TARGET */
static const struct conf_key archive_keys[] = {
	{"store", CONF_STRING, "", .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "where messages are stored: maildir:/ROOT, sqlite:/FILE or postgres:CONNINFO"},
	{"group-read", CONF_BOOL, "no", .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "whether sinkd's group may read the archive (files 0640, directories 0750)"},
	{"timeout", CONF_TIME, "10s", 1, 3600, .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "how long a busy SQLite file, or a PostgreSQL connection or statement, may take"},
	{NULL},
};

struct archive_target {
	struct astore *store;
	char *name;		/* "event:NAME", its handler's in a snapshot */
};

/* archive_target_open - check store; the handle */
static void *
archive_target_open(const struct conf_group *g, struct conf_errors *e)
{
	struct archive_target *t;
	const char *spec = conf_str(g, "store");
	char *why = NULL;

	if (*spec == 0) {
		conf_key_error(e, g, "type",
			       "an archive needs a store (store = maildir:/PATH, sqlite:/PATH or postgres:CONNINFO)");
		return NULL;
	}
	if (astore_check(spec, &why) < 0) {
		conf_key_error(e, g, "store", "%s", why);
		g_free(why);
		return NULL;
	}
	t = g_new0(struct archive_target, 1);
	t->store = astore_open(spec, conf_bool(g, "group-read"), (int) conf_num(g, "timeout"));
	t->name = g_strdup(g->name);
	return t;
}

struct want_ctx {
	const struct snapshot *s;
	const struct handler *h;	/* the target's in s */
};

/* rcpt_wanted - whether rcpt's domain has the target on for inbound mail */
static int
rcpt_wanted(const char *rcpt, void *data)
{
	struct want_ctx *w = data;
	const char *at = strrchr(rcpt, '@');
	char *dom = g_ascii_strdown(at ? at + 1 : "", -1);
	const struct conf_group *g;
	const char *dir;
	gsize n = strlen(dom);

	if (n && dom[n - 1] == '>')
		dom[n - 1] = 0;
	g = policy_group_of(policy_for_domain(w->s, dom), w->h);
	g_free(dom);
	if (g == NULL)
		return 1;
	dir = conf_str(g, "direction");
	return conf_bool(g, "enabled") && (!strcmp(dir, "both") || !strcmp(dir, "inbound"));
}

/* archive_target_deliver - ev's message into the store */
static enum event_result
archive_target_deliver(void *handle, const struct event *ev, char **why)
{
	struct archive_target *t = handle;
	struct want_ctx w = {snapshot_current(), NULL};
	enum astore_result r;
	unsigned i;

	for (i = 0; w.s && i < w.s->nregistry; i++)
		if (!strcmp(w.s->registry[i]->name, t->name))
			w.h = w.s->registry[i];
	/* a target a reload removed: every recipient, as when it was due */
	r = astore_put(t->store, ev->obj, ev->body_data, ev->body_len,
		       w.h ? rcpt_wanted : NULL, &w, why);
	if (w.s)
		snapshot_unref((struct snapshot *) w.s);
	switch (r) {
	case ASTORE_DONE:
		return EVENT_DONE;
	case ASTORE_FAIL:
		return EVENT_FAIL;
	default:
		return EVENT_RETRY;
	}
}

/* archive_target_sync - what was put since the last sync, durable */
static enum event_result
archive_target_sync(void *handle, char **why)
{
	struct archive_target *t = handle;

	return astore_sync(t->store, why) == ASTORE_DONE ? EVENT_DONE : EVENT_RETRY;
}

/* archive_target_close - the store, and its connection */
static void
archive_target_close(void *handle)
{
	struct archive_target *t = handle;

	if (t == NULL)
		return;
	astore_close(t->store);
	g_free(t->name);
	g_free(t);
}

const struct event_type event_archive = {
	.name = "archive",
	.keys = archive_keys,
	.flags = EVENT_WANTS_DATA,
	.open = archive_target_open,
	.deliver = archive_target_deliver,
	.sync = archive_target_sync,
	.close = archive_target_close,
};
