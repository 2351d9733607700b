/*
 * sink_proc - co-process sinks: a sink in any language, in processes of
 * its own (command = PROGRAM ARGS, or socket = unix:PATH)
 *
 * sink_proc_command and sink_proc_socket are struct sink_providers
 * (src/sink.h).  open() starts the program once (or connects to the
 * service), says hello and reads the worker's hello: its name, the
 * hooks it has and the keys it declares, from which it makes the struct
 * sinkd_sink the glue sees, with sinkd's pool keys (workers-min,
 * workers-max, concurrency, max-requests, queue-timeout, user,
 * memory-limit, cpu-limit, nofile-limit, max-line) before the worker's
 * own.  init reads the pool keys of the default policy; workers start
 * at the first hook that needs one, never before (so that nothing is
 * started before sinkd forks into the background).
 *
 * A hook is one request, one JSON object on one line, that carries the
 * facts the hook needs and a session id and token; the answer (one line,
 * the same token) carries the verdict, a reply and a list of actions,
 * which are made through struct sinkd_api, so that its checks apply.
 * The protocol is sinkd-sink-protocol(7).
 *
 * The pool: each sink has workers, each with a reader thread that reads
 * its answers (and its standard error, logged line by line); a request
 * goes to the worker with the fewest requests in hand below concurrency,
 * or to a new one below workers-max, or waits at most queue-timeout and
 * then gets a tempfail.  A worker that dies, answers garbage or does not
 * answer within the sink's timeout is killed: the requests it held get
 * the sink's on-error, and the next request starts another.  A worker
 * that has served max-requests requests ends (EOF on its input) once
 * idle.
 *
 * Users: a worker runs as its sink's user (key user), with its limits;
 * a daemon that has dropped root asks the spawner for such workers, a
 * process sink_proc_spawner_start() forks while sinkd is still root,
 * which starts only what sinkd.conf configures.
 *
 * After-accept events: where the sink ABI has the accepted hook, a
 * worker whose hello lists it gets each event as a request of its own,
 * answered done, retry or fail.
 *
 * Threads: hooks run on any thread; everything of a pool is under its
 * one lock, except writing a request (the worker's write lock).
 */
#ifndef SINKD_SINK_PROC_H
#define SINKD_SINK_PROC_H

#include "sink.h"

#define SPROC_VERSION	1	/* the protocol's version (hello) */

extern const struct sink_provider sink_proc_command;
extern const struct sink_provider sink_proc_socket;

void sink_proc_spawner_start(const char *conf);

#endif
