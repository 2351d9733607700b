/*
 * event_archive - the archive event target: a copy of each message it
 * is due, in a Maildir tree or a SQL table (astore.h)
 *
 * [event:NAME] with type = archive and store = maildir:/ROOT,
 * sqlite:/FILE or postgres:CONNINFO.  Which messages: the keys enabled
 * and direction every target has, per domain.  The store is touched
 * first by the first delivery, on the shipper's thread and as sinkd's
 * user, never by sinkd -n or a reload.  A store that is busy or down is
 * tried again (EVENT_RETRY); an event whose message copy cannot be read
 * is refused (EVENT_FAIL).  sinkd-archive(8) reads what it stored.
 */
#include <glib.h>

#include "astore.h"
#include "event.h"

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

/* archive_target_open - check store; the handle (a struct astore) */
static void *
archive_target_open(const struct conf_group *g, struct conf_errors *e)
{
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
	return astore_open(spec, conf_bool(g, "group-read"), (int) conf_num(g, "timeout"));
}

/* archive_target_deliver - ev's message into the store */
static enum event_result
archive_target_deliver(void *handle, const struct event *ev, char **why)
{
	switch (astore_put(handle, ev->obj, ev->body, why)) {
	case ASTORE_DONE:
		return EVENT_DONE;
	case ASTORE_FAIL:
		return EVENT_FAIL;
	default:
		return EVENT_RETRY;
	}
}

/* archive_target_close - the store, and its connection */
static void
archive_target_close(void *handle)
{
	astore_close(handle);
}

const struct event_type event_archive = {
	.name = "archive",
	.keys = archive_keys,
	.flags = EVENT_WANTS_BODY,
	.open = archive_target_open,
	.deliver = archive_target_deliver,
	.close = archive_target_close,
};
