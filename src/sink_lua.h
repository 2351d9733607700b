/*
 * sink_lua - sinks written in Lua 5.4 (script = FILE in a [sink:NAME] group)
 *
 * sink_lua is a struct sink_provider (src/sink.h): open() reads and
 * compiles a script, runs it once in a sandbox and turns the table it
 * returns (name, keys, init, reload, shutdown, connect, helo, mail, rcpt,
 * data, unknown, eom, abort) into a struct sinkd_sink whose hooks call the
 * script's functions; close() frees all of it.  sink_luamod.c makes what
 * the script sees of sinkd: the table sinkd and the context objects.  The script reaches sinkd
 * only through a context object per hook whose methods are the calls of
 * struct sinkd_api, and the global table sinkd (constants).  The language
 * and the calls are sinkd-lua(5).
 *
 * Sandbox: the base library without dofile, loadfile and print (load only
 * of text, collectgarbage only to collect, step and count), string
 * (without dump), table, math and utf8; no io, os, package, debug or
 * coroutine.  Limits, per hook: instruction-limit instructions and the
 * sink's timeout (a count hook), and memory-limit bytes per Lua state (a
 * counting allocator).  A limit, or a Lua error, makes the hook return
 * SINKD_ERROR (the sink's on-error) after a log line naming the script's
 * file and line; a state that hit a limit is closed and made anew.
 *
 * Threads: each worker thread has a lua_State of its own for each
 * configuration generation, taken at its first hook there from the
 * states of threads that ended, or made from the script's text; hooks
 * never wait for one another (a lock is taken only to take or give back
 * a state).  A thread's states are kept for threads to come when it
 * ends (up to a bound), and freed when their generation closes.  init, reload and
 * shutdown run in one more state, the one open() made.
 */
#ifndef SINKD_SINK_LUA_H
#define SINKD_SINK_LUA_H

#include "sink.h"

extern const struct sink_provider sink_lua;

/*
 * Between sink_lua.c and sink_luamod.c (the table sinkd and the context
 * objects): a state's call, which a context belongs to.
 */
struct lua_State;

struct slua_mark {
	int in_call;		/* a function of the script runs */
	unsigned long call;	/* counts the calls */
};

void slua_module_push(struct lua_State *L);
void slua_ctx_open(struct lua_State *L);
void slua_ctx_push(struct lua_State *L, struct sinkd_ctx *c,
		   const struct sinkd_api *api, const struct slua_mark *m);

#endif
