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

#include <sys/types.h>

#include "sinkd/sink.h"
#include "conf.h"

struct snapshot;
struct conf_file;
struct conn;
struct msg;

/* what a provider's key names */
enum sink_arg {
	SINK_ARG_FILE,		/* a file, from sinkd.conf's directory */
	SINK_ARG_COMMAND,	/* a program (absolute) and its arguments */
	SINK_ARG_ADDRESS,	/* an address, as written */
};

/* a provider turns a sink group's module, script, command or socket
 * into a sink */
struct sink_provider {
	const char *key;	/* "module", "script", "command", "socket" */
	enum sink_arg arg;	/* what the key's value is */
	const char *stop;	/* how an overrunning hook is stopped, for
				 * the watchdog's line; NULL: it cannot be */
	/* open path; NULL with *why set ("FILE:LINE: what is
	 * wrong" where the provider knows a line) on failure */
	const struct sinkd_sink *(*open)(const char *path,
					 const struct sinkd_api *api,
					 void **handle, char **why);
	void (*close)(void *handle);	/* after shutdown */
	/* optional, just before open: the group (in f) open is for, and
	 * sinkd's user ((uid_t) -1: not known) */
	void (*group)(const struct conf_file *f, const char *group, uid_t sinkd_user);
	/* optional: keys of the provider's own (among those the sink
	 * declares) read once from sinkd.conf, never per domain */
	const struct sinkd_key *main_keys;
};
extern const struct sink_provider sink_native;	/* src/sink.c */
extern const struct sink_provider sink_lua;	/* src/sink_lua.c */
extern const struct sink_provider sink_proc_command;	/* src/sink_proc.c */
extern const struct sink_provider sink_proc_socket;	/* src/sink_proc.c */

/* the API sinkd gives every sink (src/sinkapi.c) */
extern const struct sinkd_api sink_api;

struct sink_set;

struct sink_set *sink_set_load(struct snapshot *s, const struct conf_file *f,
			       struct conf_errors *e);
const struct handler **sink_set_registry(const struct sink_set *set,
					 const struct handler *const *builtin);
int sink_set_init(struct sink_set *set, const struct snapshot *s,
		  struct conf_errors *e);
void sink_set_free(struct sink_set *set);
void sink_policy_file(const struct conf_file *f, const char *group,
		      struct conf_errors *e);
void sink_dump_keys(void (*dump)(const struct conf_key *k, int handler));

void sink_msg_end(struct msg *m);
char *sink_log_notes(const struct msg *m);
void sink_conn_end(struct conn *c);
int sink_has_accepted(const struct handler *h, int *wants_body);

/*
 * Internals shared by sink.c (the glue) and sinkapi.c (struct sinkd_api).
 */
#include <gmime/gmime.h>

#include "handler.h"

/* the hook running, for what a call may do */
enum sink_step {
	SINK_STEP_INIT, SINK_STEP_CONNECT, SINK_STEP_HELO, SINK_STEP_MAIL,
	SINK_STEP_RCPT, SINK_STEP_DATA, SINK_STEP_UNKNOWN, SINK_STEP_EOM,
	SINK_STEP_ABORT, SINK_STEP_ACCEPTED,
};

/* one sink of a snapshot: a handler built at run time */
struct sink {
	struct handler h;	/* parent: h.name is "sink:NAME" */
	char *name;		/* "sink:NAME" */
	unsigned index;		/* among the snapshot's sinks */
	const struct sink_provider *prov;
	void *handle;		/* the provider's */
	const struct sinkd_sink *ss;
	void *state;		/* what init set */
	int inited;
	struct conf_key *keys;	/* sinkd's base keys, then the sink's own */
	GPtrArray *strings;	/* key names and docs copied from the sink */
	char *conf_path;	/* the file of its group */
	GHashTable *key_lines;	/* key name -> its line there (GINT_TO_POINTER) */
};

/* a sink's compiled policy: what its hooks run with */
struct sink_cfg {
	struct sink *sink;
	const struct conf_group *g;
	int evaluate;
	long long timeout;	/* seconds */
	int direction;		/* index in direction's values */
};

/* one part of the message, as part_info() numbers them */
struct sink_part {
	GMimeObject *o;		/* transfer none: the message's tree */
	unsigned parent, depth;
	gsize size;		/* encoded; a container: its leaves' */
};

/* what struct sinkd_ctx is: one connection's, for one sink; a provider
 * may read g (conf_num(c->g, "timeout") is the hook's deadline) */
struct sinkd_ctx {
	struct sink *sink;
	struct conn *conn;	/* NULL in init */
	const struct conf_group *g;	/* the policy in effect */
	int evaluate;
	enum sink_step step;
	struct rcpt *rcpt;	/* the recipient judged at rcpt */
	struct edits *edits;	/* at eom */
	struct reply reply;	/* api->reply(), for the verdict returned */
	GPtrArray *tmp;		/* what calls returned during this hook */
	GArray *parts;		/* struct sink_part, built at first use */
	int active;		/* a hook ran on the connection */
	int in_msg;		/* a hook ran on the current message */
	int eom_ran;		/* eom ran on the current message */
	const char *qid;	/* accepted: the event's queue id */
	char *init_error;	/* init: the last error the sink logged */
};

const char *sink_keep(struct sinkd_ctx *x, char *s);
void sink_parts_free(struct sinkd_ctx *x);

#endif
