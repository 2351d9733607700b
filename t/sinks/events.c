/*
 * events - a test sink with an accepted hook only (ABI 1.1), asking for
 * the message's copy: each event it is done with is appended to the
 * file its key "log" names, as one line: the event's JSON, a tab, and
 * the size of the body copy it was handed (-1: none, or unreadable).
 * What it answers is the first word of the file "result" names (done,
 * retry, fail; no file: done), read at each call.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sinkd/sink.h"

static const struct sinkd_api *api;

static const struct sinkd_key keys[] = {
	{.name = "log", .type = SINKD_KEY_PATH, .def = "",
	 .doc = "where the events go, one per line"},
	{.name = "result", .type = SINKD_KEY_PATH, .def = "",
	 .doc = "what to answer: done, retry or fail"},
	{.name = NULL},
};

/* ev_init - keep the API table */
static int
ev_init(const struct sinkd_api *a, struct sinkd_ctx *config, void **state)
{
	(void) config;
	api = a;
	*state = NULL;
	return 0;
}

/* ev_accepted - see the head of the file */
static enum sinkd_event_result
ev_accepted(void *state, struct sinkd_ctx *c, const char *event, const char *body)
{
	const char *log = api->config(c, "log"), *res = api->config(c, "result");
	char word[16] = "done";
	struct stat st;
	long long size = -1;
	FILE *f;

	(void) state;
	if (res && *res && (f = fopen(res, "r")) != NULL) {
		if (fscanf(f, "%15s", word) != 1)
			strcpy(word, "done");
		fclose(f);
	}
	if (!strcmp(word, "retry"))
		return SINKD_EVENT_RETRY;
	if (!strcmp(word, "fail"))
		return SINKD_EVENT_FAIL;
	if (body && stat(body, &st) == 0 && (f = fopen(body, "r")) != NULL) {
		size = (long long) st.st_size;
		fclose(f);
	}
	if (log == NULL || (f = fopen(log, "a")) == NULL) {
		api->log(c, SINKD_LOG_ERROR, "cannot open the log");
		return SINKD_EVENT_RETRY;
	}
	fprintf(f, "%s\t%lld\n", event, size);
	fclose(f);
	api->log(c, SINKD_LOG_INFO, "event taken");
	return SINKD_EVENT_DONE;
}

static const struct sinkd_sink events = {
	.abi_major = SINKD_SINK_ABI_MAJOR,
	.abi_minor = SINKD_SINK_ABI_MINOR,
	.name = "events",
	.keys = keys,
	.init = ev_init,
	.accepted = ev_accepted,
	.accepted_flags = SINKD_ACCEPTED_BODY,
};

/* sinkd_sink_entry - the sink this module is */
const struct sinkd_sink *
sinkd_sink_entry(void)
{
	return &events;
}
