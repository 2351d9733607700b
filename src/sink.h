/*
 * sink - sinks: chain entries "sink:NAME" whose code is not sinkd's
 *
 * A sink is a native shared object or a script that implements the
 * public API of include/sinkd/sink.h.  For each sink a configuration
 * names (chain = ..., sink:NAME, ...; a group [sink:NAME] in sinkd.conf),
 * snapshot_load() asks sink_set_load() for a struct handler built at run
 * time: the sink's keys (module or script, evaluate, timeout, and the
 * sink's own) become a conf_key table, and the handler's hooks call the
 * sink's through struct sinkd_api.  The snapshot owns these handlers; a
 * sink's process-wide state lives as long as the snapshot generation
 * that opened it (init after the snapshot loads, shutdown when its last
 * message is done).
 *
 * A provider turns a sink group's module or script into a struct
 * sinkd_sink: sink_native (dlopen) here, sink_lua in sink_lua.c.
 *
 * Threading: sink_set_load() runs on the thread that loads the
 * configuration; the handlers' hooks run on any thread, one connection
 * per thread at a time.
 */
#ifndef SINKD_SINK_INTERNAL_H
#define SINKD_SINK_INTERNAL_H

#include "sinkd/sink.h"
#include "conf.h"

struct snapshot;
struct conf_file;
struct conn;
struct msg;

/* a provider turns a sink group's module or script into a sink */
struct sink_provider {
	const char *key;	/* "module" or "script" */
	/* open path; NULL with *why set ("FILE:LINE: what is
	 * wrong" where the provider knows a line) on failure */
	const struct sinkd_sink *(*open)(const char *path,
					 const struct sinkd_api *api,
					 void **handle, char **why);
	void (*close)(void *handle);	/* after shutdown */
};
extern const struct sink_provider sink_native;	/* src/sink.c */
extern const struct sink_provider sink_lua;	/* src/sink_lua.c */

/* the API sinkd gives every sink (src/sinkapi.c) */
extern const struct sinkd_api sink_api;

struct sink_set;

struct sink_set *sink_set_load(struct snapshot *s, const struct conf_file *f,
			       struct conf_errors *e);
const struct handler *const *sink_set_registry(const struct sink_set *set,
					       const struct handler *const *builtin);
int sink_set_init(struct sink_set *set, const struct snapshot *s,
		  struct conf_errors *e);
void sink_set_free(struct sink_set *set);
void sink_set_reloaded(struct sink_set *set);

void sink_msg_end(struct msg *m);
void sink_conn_end(struct conn *c);

#endif
