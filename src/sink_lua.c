/*
 * sink_lua - sinks written in Lua 5.4: the provider, the sandbox, limits
 *
 * See sink_lua.h for the interface and sinkd-lua(5) for the language;
 * the table sinkd and the context object a hook gets are sink_luamod.c.
 * The parts, in this order: numbers of the configuration; a Lua state
 * with its limits (struct slua_box: the counting allocator, the count
 * hook, the message handler, the sandbox); the states of each thread;
 * calling a script's function (slua_dispatch, box_call); the table the
 * script returns (gen_read); the provider (slua_open, slua_close) and
 * its hooks.
 *
 * Errors: a Lua error or a limit inside a hook is logged through
 * api->log() as "HOOK: FILE:LINE: what" and the hook returns
 * SINKD_ERROR; open() reports "FILE:LINE: what" in *why.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <glib.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "log.h"
#include "sink_lua.h"

#define SLUA_SCRIPT_MAX	(4 << 20)	/* bytes of script text */
#define SLUA_HOOK_STEP	1000		/* instructions between checks */
#define SLUA_SPARE_MAX	64		/* states kept for threads to come */
#define SLUA_MEM_SLACK	(256 << 10)	/* for the error past memory-limit */
#define SLUA_LOG_MAX	1000		/* bytes of an error in a log line */

/* The keys sinkd gives every Lua sink, before the script's own.  The
 * defaults also bound the script's top level, run at open() before any
 * group is known; the fuzz targets' build makes them small
 * (-DSLUA_MEM_DEF, -DSLUA_INSN_DEF: the Makefile's FUZZ_CFLAGS). */
#define SLUA_MEM_KEY	"memory-limit"
#ifndef SLUA_MEM_DEF
#define SLUA_MEM_DEF	"64m"
#endif
#define SLUA_INSN_KEY	"instruction-limit"
#ifndef SLUA_INSN_DEF
#define SLUA_INSN_DEF	"100000000"
#endif

/* The functions a script's table may hold. */
enum slua_hook {
	SLUA_HOOK_INIT,
	SLUA_HOOK_RELOAD,
	SLUA_HOOK_SHUTDOWN,
	SLUA_HOOK_CONNECT,
	SLUA_HOOK_HELO,
	SLUA_HOOK_MAIL,
	SLUA_HOOK_RCPT,
	SLUA_HOOK_DATA,
	SLUA_HOOK_UNKNOWN,
	SLUA_HOOK_EOM,
	SLUA_HOOK_ABORT,
	SLUA_HOOK_COUNT
};

static const char *const slua_hook_names[SLUA_HOOK_COUNT] = {
	[SLUA_HOOK_INIT] = "init",
	[SLUA_HOOK_RELOAD] = "reload",
	[SLUA_HOOK_SHUTDOWN] = "shutdown",
	[SLUA_HOOK_CONNECT] = "connect",
	[SLUA_HOOK_HELO] = "helo",
	[SLUA_HOOK_MAIL] = "mail",
	[SLUA_HOOK_RCPT] = "rcpt",
	[SLUA_HOOK_DATA] = "data",
	[SLUA_HOOK_UNKNOWN] = "unknown",
	[SLUA_HOOK_EOM] = "eom",
	[SLUA_HOOK_ABORT] = "abort",
};

static const char *const slua_verdicts[] = {
	[SINKD_CONTINUE] = "continue",
	[SINKD_ACCEPT] = "accept",
	[SINKD_REJECT] = "reject",
	[SINKD_TEMPFAIL] = "tempfail",
	[SINKD_DISCARD] = "discard",
	[SINKD_QUARANTINE] = "quarantine",
	[SINKD_ERROR] = "error",
};
G_STATIC_ASSERT(G_N_ELEMENTS(slua_verdicts) == SINKD_ERROR + 1);

/* Why a state stopped its hook. */
enum slua_stop {
	SLUA_STOP_NONE,
	SLUA_STOP_MEMORY,	/* memory-limit reached */
	SLUA_STOP_INSNS,		/* instruction-limit reached */
	SLUA_STOP_TIME,		/* the sink's timeout passed */
};

struct slua_gen;

/* One Lua state and its limits. */
struct slua_box {
	lua_State *L;
	struct slua_gen *gen;
	size_t used;		/* bytes the state holds */
	size_t limit;		/* memory-limit; 0: none */
	long long insns;	/* instructions left to this call */
	long long insn_limit;	/* instruction-limit; 0: none */
	long long timeout;	/* seconds; 0: none */
	struct timespec deadline;
	enum slua_stop stop;
	char where[256];	/* "SRC:LINE" last seen by the count hook */
	int table;		/* registry reference: the script's table */
	struct slua_mark mark;	/* the call running, for contexts */
	struct slua_box *next;	/* in gen->boxes */
	struct slua_box *next_spare;	/* in gen->spare */
};

/* One generation of a script: what open() made. */
struct slua_gen {
	struct sinkd_sink sink;
	const struct sinkd_api *api;
	char *path;		/* as given to open() */
	char *chunk;		/* "@" path: Lua's name for it */
	char *short_src;	/* the path as Lua's messages abbreviate it */
	char *text;		/* the script */
	size_t len;
	char *name;
	struct sinkd_key *keys;
	size_t def_memory;	/* memory-limit of the default policy */
	long long def_insns;	/* instruction-limit of the default policy */
	uint64_t serial;	/* never reused: the threads' key */
	struct slua_box *main;	/* init, reload, shutdown */
	struct slua_box *boxes;	/* the worker threads', under slua_lock */
	struct slua_box *spare;	/* those of threads that ended, for reuse */
	unsigned nspare;
	struct slua_gen *next;	/* in slua_live */
};

/*
 * The generations alive and each one's worker states, under slua_lock,
 * which is taken only to take, give back or free a state: a hook never
 * waits for it.
 */
static pthread_mutex_t slua_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slua_gen *slua_live;
static uint64_t slua_serials;

/* A thread's states: one per generation it ran a hook of. */
struct slua_slot {
	uint64_t serial;
	struct slua_box *box;	/* valid while the generation lives */
};
struct slua_tls {
	struct slua_slot *v;
	size_t n;
};
static __thread struct slua_tls *slua_tls;
static pthread_key_t slua_tls_key;
static pthread_once_t slua_tls_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------------ */
/* numbers of the configuration                                         */

/*
 * slua_number - a SIZE (k, m, g) or TIME (s, m, h, d) value as sinkd.conf
 * spells it, in bytes or seconds; -1 when s is NULL or not one
 */
static long long
slua_number(const char *s, int time)
{
	long long v, mul = 1;
	char *end;

	if (s == NULL)
		return -1;
	v = g_ascii_strtoll(s, &end, 10);
	if (end == s || v < 0)
		return -1;
	while (*end == ' ')
		end++;
	switch (g_ascii_tolower(*end)) {
	case 0:
		return v;
	case 'k':
		mul = time ? -1 : 1024;
		break;
	case 'm':
		mul = time ? 60 : 1024 * 1024;
		break;
	case 'g':
		mul = time ? -1 : 1024LL * 1024 * 1024;
		break;
	case 's':
		mul = time ? 1 : -1;
		break;
	case 'h':
		mul = time ? 3600 : -1;
		break;
	case 'd':
		mul = time ? 86400 : -1;
		break;
	default:
		return -1;
	}
	if (mul < 0 || end[1] != 0 || v > LLONG_MAX / mul)
		return -1;
	return v * mul;
}

/* ------------------------------------------------------------------ */
/* a Lua state and its limits                                           */

/* box_of - the box whose state L is */
static struct slua_box *
box_of(lua_State *L)
{
	void *ud;

	(void) lua_getallocf(L, &ud);
	return ud;
}

/*
 * box_where - note in b where its script is, as "SRC:LINE" (the first
 * frame of Lua code from the top), when the allocator refuses memory
 *
 * XXX Lua 5.4.6 turns the stack's pointers into offsets while it
 * reallocates the stack, so that the frames cannot be read from inside
 * the allocator there; with it, the line is the one the count hook saw
 * last, or none.
 */
static void
box_where(struct slua_box *b)
{
#if LUA_VERSION_RELEASE_NUM < 50406
	lua_Debug ar;
	int level;

	if (b->L == NULL || !b->mark.in_call)
		return;
	for (level = 0; lua_getstack(b->L, level, &ar); level++)
		if (lua_getinfo(b->L, "Sl", &ar) && ar.currentline > 0) {
			snprintf(b->where, sizeof(b->where), "%s:%d",
				 ar.short_src, ar.currentline);
			return;
		}
#else
	(void) b;
#endif
}

/*
 * box_alloc - Lua's allocator: malloc, counting what the state holds and
 * refusing what would take it past memory-limit (then the call stops)
 */
static void *
box_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct slua_box *b = ud;
	size_t old = ptr ? osize : 0, cap;
	void *p;

	if (nsize == 0) {
		free(ptr);
		b->used -= old;
		return NULL;
	}
	if (nsize > old && b->limit) {
		cap = b->limit + (b->stop == SLUA_STOP_MEMORY ? SLUA_MEM_SLACK : 0);
		if (nsize > cap || b->used - old > cap - nsize) {
			if (b->stop == SLUA_STOP_NONE) {
				b->stop = SLUA_STOP_MEMORY;
				box_where(b);
			}
			return NULL;
		}
	}
	if ((p = realloc(ptr, nsize)) != NULL)
		b->used = b->used - old + nsize;
	return p;
}

/* box_stopped - what b's stop says, for the error */
static const char *
box_stopped(struct slua_box *b, char *buf, size_t len)
{
	switch (b->stop) {
	case SLUA_STOP_MEMORY:
		snprintf(buf, len, SLUA_MEM_KEY " of %zu bytes exceeded", b->limit);
		break;
	case SLUA_STOP_INSNS:
		snprintf(buf, len, SLUA_INSN_KEY " of %lld instructions exceeded",
			 b->insn_limit);
		break;
	case SLUA_STOP_TIME:
		snprintf(buf, len, "timeout of %llds exceeded", b->timeout);
		break;
	case SLUA_STOP_NONE:
		snprintf(buf, len, "stopped");
		break;
	}
	return buf;
}

/*
 * box_hook - the count hook, every SLUA_HOOK_STEP instructions: notes
 * where the script is, counts instructions, checks the deadline; past a
 * limit it raises an error, and again at every instruction from then on,
 * so that a pcall in the script cannot keep it going
 */
static void
box_hook(lua_State *L, lua_Debug *ar)
{
	struct slua_box *b = box_of(L);
	struct timespec now;
	char buf[128];

	if (b->stop == SLUA_STOP_NONE) {
		if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
			snprintf(b->where, sizeof(b->where), "%s:%d",
				 ar->short_src, ar->currentline);
		if (b->insn_limit > 0 && (b->insns -= SLUA_HOOK_STEP) < 0)
			b->stop = SLUA_STOP_INSNS;
		if (b->stop == SLUA_STOP_NONE && b->timeout > 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec > b->deadline.tv_sec
			    || (now.tv_sec == b->deadline.tv_sec
				&& now.tv_nsec >= b->deadline.tv_nsec))
				b->stop = SLUA_STOP_TIME;
		}
		if (b->stop == SLUA_STOP_NONE)
			return;
	}
	lua_sethook(L, box_hook, LUA_MASKCOUNT, 1);
	lua_pushstring(L, box_stopped(b, buf, sizeof(buf)));
	lua_error(L);
}

/*
 * box_msgh - the message handler of every call: the error as a string,
 * with the script's file and line in front when Lua gave none
 */
static int
box_msgh(lua_State *L)
{
	const char *msg;
	lua_Debug ar;
	int level;

	if (lua_type(L, 1) == LUA_TSTRING)
		return 1;	/* Lua's own, positioned where it could */
	if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
		msg = lua_tostring(L, -1);
	else
		msg = lua_pushfstring(L, "(error object is a %s value)",
				      luaL_typename(L, 1));
	for (level = 1; lua_getstack(L, level, &ar); level++)
		if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
			lua_pushfstring(L, "%s:%d: %s", ar.short_src,
					ar.currentline, msg);
			return 1;
		}
	return 1;
}

/* sandbox_load - load(chunk, name, mode, env) of text only */
static int
sandbox_load(lua_State *L)
{
	int n = lua_gettop(L);

	lua_settop(L, 4);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 2);
	lua_pushliteral(L, "t");
	if (n >= 4)	/* an env given, even nil */
		lua_pushvalue(L, 4);
	lua_call(L, n >= 4 ? 4 : 3, LUA_MULTRET);
	return lua_gettop(L) - 4;
}

/* sandbox_gc - collectgarbage() with the options that change nothing */
static int
sandbox_gc(lua_State *L)
{
	static const char *const allowed[] = {
		"collect", "count", "step", "isrunning", NULL
	};
	const char *opt = luaL_optstring(L, 1, "collect");
	int n = lua_gettop(L), i;

	for (i = 0; allowed[i]; i++)
		if (!strcmp(opt, allowed[i])) {
			lua_pushvalue(L, lua_upvalueindex(1));
			lua_insert(L, 1);
			lua_call(L, n, LUA_MULTRET);
			return lua_gettop(L);
		}
	return luaL_error(L, "collectgarbage(\"%s\") is not allowed", opt);
}

/*
 * sandbox_setmetatable - setmetatable() refusing a metatable with __gc:
 * Lua runs finalizers with hooks off, where no limit could stop them
 */
static int
sandbox_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: a __gc metamethod is not allowed");
		lua_pop(L, 1);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/*
 * sandbox - what a script may use: the safe part of the base library,
 * string, table, math, utf8, the table sinkd and the context's methods
 * (dofile, loadfile, print and warn gone; load, collectgarbage and
 * setmetatable wrapped)
 */
static void
sandbox(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{LUA_GNAME, luaopen_base},
		{LUA_STRLIBNAME, luaopen_string},
		{LUA_TABLIBNAME, luaopen_table},
		{LUA_MATHLIBNAME, luaopen_math},
		{LUA_UTF8LIBNAME, luaopen_utf8},
		{NULL, NULL},
	};
	static const char *const dropped[] = {
		"dofile", "loadfile", "print", "warn", NULL
	};
	const luaL_Reg *l;
	int i;

	for (l = libs; l->name; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	lua_pushglobaltable(L);
	for (i = 0; dropped[i]; i++) {
		lua_pushnil(L);
		lua_setfield(L, -2, dropped[i]);
	}
	lua_getfield(L, -1, "load");
	lua_pushcclosure(L, sandbox_load, 1);
	lua_setfield(L, -2, "load");
	lua_getfield(L, -1, "collectgarbage");
	lua_pushcclosure(L, sandbox_gc, 1);
	lua_setfield(L, -2, "collectgarbage");
	lua_getfield(L, -1, "setmetatable");
	lua_pushcclosure(L, sandbox_setmetatable, 1);
	lua_setfield(L, -2, "setmetatable");
	lua_getfield(L, -1, LUA_STRLIBNAME);
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);
	slua_module_push(L);
	lua_setfield(L, -2, "sinkd");
	lua_pop(L, 1);
	slua_ctx_open(L);
}

/*
 * box_setup - in protected mode, on a new state: the sandbox, then the
 * script compiled (text only) and run; the table it returns is kept
 */
static int
box_setup(lua_State *L)
{
	struct slua_box *b = box_of(L);
	struct slua_gen *g = b->gen;
	lua_Debug ar;

	sandbox(L);
	if (luaL_loadbufferx(L, g->text, g->len, g->chunk, "t") != LUA_OK)
		return lua_error(L);
	if (g->short_src == NULL) {	/* the first state, in open() */
		lua_pushvalue(L, -1);
		lua_getinfo(L, ">S", &ar);
		g->short_src = g_strdup(ar.short_src);
	}
	b->mark.in_call = 1;
	lua_call(L, 0, 1);
	b->mark.in_call = 0;
	if (!lua_istable(L, -1)) {
		lua_pushfstring(L, "%s: the script returns %s, not a table",
				g->path, luaL_typename(L, -1));
		return lua_error(L);
	}
	b->table = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* box_free - close b's state and free b */
static void
box_free(struct slua_box *b)
{
	if (b == NULL)
		return;
	if (b->L)
		lua_close(b->L);
	g_free(b);
}

/*
 * box_arm - ready b for a call: the limits of the policy in effect for c
 * (NULL: the default policy's, as init saw them)
 */
static void
box_arm(struct slua_box *b, struct sinkd_ctx *c)
{
	const struct sinkd_api *api = b->gen->api;
	long long v;

	b->stop = SLUA_STOP_NONE;
	b->where[0] = 0;
	v = c ? slua_number(api->config(c, SLUA_MEM_KEY), 0) : -1;
	b->limit = v >= 0 ? (size_t) v : b->gen->def_memory;
	v = c ? slua_number(api->config(c, SLUA_INSN_KEY), 0) : -1;
	b->insn_limit = v >= 0 ? v : b->gen->def_insns;
	b->insns = b->insn_limit;
	v = c ? slua_number(api->config(c, "timeout"), 1) : -1;
	b->timeout = v > 0 ? v : 0;
	if (b->timeout) {
		clock_gettime(CLOCK_MONOTONIC, &b->deadline);
		b->deadline.tv_sec += b->timeout;
	}
	lua_sethook(b->L, box_hook, LUA_MASKCOUNT, SLUA_HOOK_STEP);
}

/*
 * box_why - the error of a failed call on top of b's stack, as one line
 * ("FILE:LINE: what", the path in full where Lua abbreviated it), prefix
 * (a hook's name) in front when not NULL; caller frees
 */
static char *
box_why(struct slua_box *b, const char *prefix)
{
	struct slua_gen *g = b->gen;
	const char *msg = lua_tostring(b->L, -1), *src;
	char buf[128];
	GString *s = g_string_new(prefix);
	size_t slen = g->short_src ? strlen(g->short_src) : 0, i;

	if (prefix)
		g_string_append(s, ": ");
	if (b->stop != SLUA_STOP_NONE) {
		g_string_append(s, *b->where ? b->where : g->path);
		g_string_append(s, ": ");
		g_string_append(s, box_stopped(b, buf, sizeof(buf)));
	} else {
		g_string_append(s, msg ? msg : "error (no message)");
	}
	/* Lua writes long paths as "...tail": the whole path instead */
	src = s->str + (prefix ? strlen(prefix) + 2 : 0);
	if (slen && strcmp(g->short_src, g->path)
	    && !strncmp(src, g->short_src, slen) && src[slen] == ':') {
		g_string_erase(s, src - s->str, slen);
		g_string_insert(s, src - s->str, g->path);
	}
	for (i = 0; i < s->len; i++)
		if ((unsigned char) s->str[i] < ' ' || s->str[i] == 0x7f)
			s->str[i] = ' ';
	if (s->len > SLUA_LOG_MAX)
		g_string_truncate(s, SLUA_LOG_MAX);
	return g_string_free(s, FALSE);
}

/* box_new - a state for g running its script; NULL with *why set */
static struct slua_box *
box_new(struct slua_gen *g, char **why)
{
	struct slua_box *b = g_new0(struct slua_box, 1);

	b->gen = g;
	b->table = LUA_NOREF;
	b->limit = g->def_memory;
	b->insn_limit = b->insns = g->def_insns;
	if ((b->L = lua_newstate(box_alloc, b)) == NULL) {
		*why = g_strdup_printf("%s: no Lua state within " SLUA_MEM_KEY
				       " of %zu bytes", g->path, b->limit);
		g_free(b);
		return NULL;
	}
	lua_sethook(b->L, box_hook, LUA_MASKCOUNT, SLUA_HOOK_STEP);
	lua_pushcfunction(b->L, box_msgh);
	lua_pushcfunction(b->L, box_setup);
	if (lua_pcall(b->L, 0, 0, 1) != LUA_OK) {
		*why = box_why(b, NULL);
		box_free(b);
		return NULL;
	}
	lua_settop(b->L, 0);
	return b;
}

/* ------------------------------------------------------------------ */
/* the states of each thread                                            */

/* gen_live - the live generation of this serial, or NULL; under slua_lock */
static struct slua_gen *
gen_live(uint64_t serial)
{
	struct slua_gen *g;

	for (g = slua_live; g; g = g->next)
		if (g->serial == serial)
			return g;
	return NULL;
}

/* gen_unlink_box - take b out of its generation's list; under slua_lock */
static void
gen_unlink_box(struct slua_gen *g, struct slua_box *b)
{
	struct slua_box **pp;

	for (pp = &g->boxes; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			return;
		}
}

/*
 * tls_end - a thread ends: its states of live generations become spares,
 * which the next thread to need one takes (libmilter may run a thread
 * per connection: a state is not made anew for each); past
 * SLUA_SPARE_MAX spares, a state is freed
 */
static void
tls_end(void *p)
{
	struct slua_tls *t = p;
	struct slua_gen *g;
	struct slua_box *b;
	size_t i;

	pthread_mutex_lock(&slua_lock);
	for (i = 0; i < t->n; i++) {
		if ((g = gen_live(t->v[i].serial)) == NULL)
			continue;
		b = t->v[i].box;
		if (g->nspare < SLUA_SPARE_MAX) {
			b->next_spare = g->spare;
			g->spare = b;
			g->nspare++;
		} else {
			gen_unlink_box(g, b);
			box_free(b);
		}
	}
	pthread_mutex_unlock(&slua_lock);
	g_free(t->v);
	g_free(t);
	slua_tls = NULL;
}

/* tls_init - once: the key whose destructor is tls_end */
static void
tls_init(void)
{
	if (pthread_key_create(&slua_tls_key, tls_end) != 0)
		log_panic("sink_lua: pthread_key_create failed");
}

/*
 * box_for_thread - this thread's state for g: at its first use, a spare
 * or a new one (NULL after logging why on c)
 */
static struct slua_box *
box_for_thread(struct slua_gen *g, struct sinkd_ctx *c)
{
	struct slua_tls *t = slua_tls;
	struct slua_box *b;
	char *why = NULL;
	size_t i, j;
	int fresh = 0;

	for (i = 0; t && i < t->n; i++)
		if (t->v[i].serial == g->serial)
			return t->v[i].box;
	pthread_mutex_lock(&slua_lock);
	if ((b = g->spare) != NULL) {
		g->spare = b->next_spare;
		g->nspare--;
	}
	pthread_mutex_unlock(&slua_lock);
	if (b != NULL) {
		b->next_spare = NULL;
	} else if ((b = box_new(g, &why)) != NULL) {
		fresh = 1;
	} else {
		g->api->log(c, SINKD_LOG_ERROR, why);
		g_free(why);
		return NULL;
	}
	pthread_once(&slua_tls_once, tls_init);
	if (t == NULL) {
		t = slua_tls = g_new0(struct slua_tls, 1);
		pthread_setspecific(slua_tls_key, t);
	}
	pthread_mutex_lock(&slua_lock);
	if (fresh) {
		b->next = g->boxes;
		g->boxes = b;
	}
	/* slots of generations closed since: their states are gone */
	for (i = j = 0; i < t->n; i++)
		if (gen_live(t->v[i].serial))
			t->v[j++] = t->v[i];
	t->n = j;
	pthread_mutex_unlock(&slua_lock);
	t->v = g_renew(struct slua_slot, t->v, t->n + 1);
	t->v[t->n].serial = g->serial;
	t->v[t->n++].box = b;
	return b;
}

/* box_drop - close this thread's state b (it hit a limit) */
static void
box_drop(struct slua_box *b)
{
	struct slua_tls *t = slua_tls;
	size_t i;

	pthread_mutex_lock(&slua_lock);
	gen_unlink_box(b->gen, b);
	pthread_mutex_unlock(&slua_lock);
	for (i = 0; t && i < t->n; i++)
		if (t->v[i].box == b) {
			t->v[i] = t->v[--t->n];
			break;
		}
	box_free(b);
}

/* ------------------------------------------------------------------ */
/* calling the script                                                   */

/* One call of a script's function. */
struct slua_call {
	enum slua_hook hook;
	struct sinkd_ctx *c;	/* NULL: reload, shutdown */
	const char *arg;	/* rcpt: the address; unknown: the command */
	int closing;		/* abort */
	enum sinkd_verdict v;	/* what it returned */
	int failed;		/* init returned false */
	char *why;		/* init: what it said then */
};

/*
 * slua_reply - the reply a function returned after reject or tempfail:
 * (code, xcode, text) or one string "550 5.7.1 text"
 */
static void
slua_reply(lua_State *L, struct slua_box *b, struct slua_call *k, int first,
	  int n)
{
	const char *code, *xcode = NULL, *text;
	char *line = NULL, *p;
	int rc;

	if (n == 1) {
		line = g_strdup(luaL_checkstring(L, first));
		code = line;
		if ((p = strchr(line, ' ')) == NULL) {
			text = "";
		} else {
			*p++ = 0;
			text = p;
			if (g_ascii_isdigit(*p) && p[1] == '.'
			    && (p = strchr(p, ' ')) != NULL) {
				*p++ = 0;
				xcode = text;
				text = p;
			}
		}
	} else {
		code = luaL_checkstring(L, first);
		xcode = luaL_optstring(L, first + 1, NULL);
		text = luaL_optstring(L, first + 2, "");
	}
	rc = b->gen->api->reply(k->c, code, xcode, text);
	g_free(line);
	if (rc < 0)
		luaL_error(L, "%s: %s returned a reply sinkd refuses (a 5xx code with reject, 4xx with tempfail, text without CR or LF)",
			   b->gen->path, slua_hook_names[k->hook]);
}

/* slua_result - k's verdict from what its function returned from base */
static void
slua_result(lua_State *L, struct slua_box *b, struct slua_call *k, int base)
{
	int n = lua_gettop(L) - base + 1, i;
	lua_Integer v;

	switch (k->hook) {
	case SLUA_HOOK_INIT:
		if (n > 0 && !lua_toboolean(L, base)) {
			k->failed = 1;
			k->why = g_strdup(n > 1 && lua_type(L, base + 1) == LUA_TSTRING
					  ? lua_tostring(L, base + 1) : "init returned false");
		}
		return;
	case SLUA_HOOK_RELOAD:
	case SLUA_HOOK_SHUTDOWN:
	case SLUA_HOOK_ABORT:
		return;
	default:
		break;
	}
	k->v = SINKD_CONTINUE;
	if (n == 0 || lua_isnil(L, base))
		return;
	if (lua_type(L, base) == LUA_TSTRING) {
		for (i = 0; i < (int) G_N_ELEMENTS(slua_verdicts); i++)
			if (!strcmp(lua_tostring(L, base), slua_verdicts[i]))
				break;
		if (i == (int) G_N_ELEMENTS(slua_verdicts))
			luaL_error(L, "%s: %s returned \"%s\", not a verdict",
				   b->gen->path, slua_hook_names[k->hook],
				   lua_tostring(L, base));
		k->v = (enum sinkd_verdict) i;
	} else if (lua_isinteger(L, base)) {
		v = lua_tointeger(L, base);
		if (v < SINKD_CONTINUE || v > SINKD_ERROR)
			luaL_error(L, "%s: %s returned %d, not a verdict",
				   b->gen->path, slua_hook_names[k->hook], (int) v);
		k->v = (enum sinkd_verdict) v;
	} else {
		luaL_error(L, "%s: %s returned a %s value, not a verdict",
			   b->gen->path, slua_hook_names[k->hook],
			   luaL_typename(L, base));
	}
	if ((k->v == SINKD_REJECT || k->v == SINKD_TEMPFAIL) && n > 1
	    && !lua_isnil(L, base + 1))
		slua_reply(L, b, k, base + 1, n - 1);
}

/*
 * slua_dispatch - in protected mode: call the script's function for the
 * call (a lightuserdata, argument 1) with its context object and
 * arguments, and read its verdict
 */
static int
slua_dispatch(lua_State *L)
{
	struct slua_call *k = lua_touserdata(L, 1);
	struct slua_box *b = box_of(L);
	int nargs = 0;

	lua_settop(L, 0);
	lua_rawgeti(L, LUA_REGISTRYINDEX, b->table);
	lua_pushstring(L, slua_hook_names[k->hook]);
	lua_rawget(L, 1);
	if (!lua_isfunction(L, 2))
		return 0;	/* the script took it away: no objection */
	if (k->c != NULL) {
		slua_ctx_push(L, k->c, b->gen->api, &b->mark);
		nargs++;
	}
	if (k->hook == SLUA_HOOK_RCPT || k->hook == SLUA_HOOK_UNKNOWN) {
		lua_pushstring(L, k->arg);
		nargs++;
	} else if (k->hook == SLUA_HOOK_ABORT) {
		lua_pushboolean(L, k->closing);
		nargs++;
	}
	lua_call(L, nargs, LUA_MULTRET);	/* results from index 2 */
	slua_result(L, b, k, 2);
	return 0;
}

/*
 * box_call - run call k in b under the limits of k's policy; 0, or -1
 * after logging why (on k's context, or sinkd's log without one)
 */
static int
box_call(struct slua_box *b, struct slua_call *k)
{
	lua_State *L = b->L;
	char *why;
	int status;

	box_arm(b, k->c);
	b->mark.call++;
	b->mark.in_call = 1;
	lua_settop(L, 0);
	lua_pushcfunction(L, box_msgh);
	lua_pushcfunction(L, slua_dispatch);
	lua_pushlightuserdata(L, k);
	status = lua_pcall(L, 1, 0, 1);
	b->mark.in_call = 0;
	if (status == LUA_OK && !k->failed) {
		lua_settop(L, 0);
		return 0;
	}
	if (status != LUA_OK)
		why = box_why(b, slua_hook_names[k->hook]);
	else
		why = g_strdup_printf("init: %s: %s", b->gen->path, k->why);
	if (k->c)
		b->gen->api->log(k->c, SINKD_LOG_ERROR, why);
	else
		log_error("sink %s: %s", b->gen->name, why);
	g_free(why);
	lua_settop(L, 0);
	return -1;
}

/*
 * slua_run - a hook of g on this thread's state; a Lua error or a limit
 * gives SINKD_ERROR, and a state that hit a limit is made anew next time
 */
static enum sinkd_verdict
slua_run(struct slua_gen *g, struct sinkd_ctx *c, enum slua_hook hook,
	const char *arg, int closing)
{
	struct slua_call k = {.hook = hook, .c = c, .arg = arg,
			     .closing = closing, .v = SINKD_CONTINUE};
	struct slua_box *b;

	if ((b = box_for_thread(g, c)) == NULL)
		return SINKD_ERROR;
	if (box_call(b, &k) == 0)
		return k.v;
	if (b->stop != SLUA_STOP_NONE)
		box_drop(b);
	return SINKD_ERROR;
}

/* ------------------------------------------------------------------ */
/* the script's table                                                   */

/* gen_key_type - a key's type by name */
static int
gen_key_type(const char *s, enum sinkd_key_type *t)
{
	static const char *const names[] = {
		[SINKD_KEY_STRING] = "string",
		[SINKD_KEY_BOOL] = "bool",
		[SINKD_KEY_INT] = "int",
		[SINKD_KEY_SIZE] = "size",
		[SINKD_KEY_TIME] = "time",
		[SINKD_KEY_PATH] = "path",
		[SINKD_KEY_LIST] = "list",
		[SINKD_KEY_REPLY] = "reply",
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (!strcmp(s, names[i])) {
			*t = (enum sinkd_key_type) i;
			return 0;
		}
	return -1;
}

/* gen_key_merge - a key's merge rule by name */
static int
gen_key_merge(const char *s, enum sinkd_merge *m)
{
	static const char *const names[] = {
		[SINKD_MERGE_AGREE] = "agree",
		[SINKD_MERGE_ANY] = "any",
		[SINKD_MERGE_ALL] = "all",
		[SINKD_MERGE_MIN] = "min",
		[SINKD_MERGE_UNION] = "union",
		[SINKD_MERGE_COMMON] = "common",
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (!strcmp(s, names[i])) {
			*m = (enum sinkd_merge) i;
			return 0;
		}
	return -1;
}

/*
 * gen_field - field f of the table at t (raw) as a string: 1, 0 when nil,
 * error when of another type (numbers and booleans spelled as
 * sinkd.conf would: 10, yes)
 */
static int
gen_field(lua_State *L, int t, const char *f, const char *what, char **out)
{
	struct slua_box *b = box_of(L);
	int type;

	lua_pushstring(L, f);
	type = lua_rawget(L, t);
	if (type == LUA_TNIL) {
		lua_pop(L, 1);
		return 0;
	}
	if (type == LUA_TBOOLEAN)
		*out = g_strdup(lua_toboolean(L, -1) ? "yes" : "no");
	else if (type == LUA_TSTRING || type == LUA_TNUMBER)
		*out = g_strdup(lua_tostring(L, -1));
	else
		luaL_error(L, "%s: %s%s: a %s, not a string", b->gen->path,
			   what, f, lua_typename(L, type));
	lua_pop(L, 1);
	return 1;
}

/* gen_key - key entry at index t, the i-th of keys, into *k */
static void
gen_key(lua_State *L, int t, lua_Integer i, struct sinkd_key *k)
{
	struct slua_gen *g = box_of(L)->gen;
	char what[64], *s = NULL;
	const char *p;

	snprintf(what, sizeof(what), "keys[%lld].", (long long) i);
	if (!lua_istable(L, t))
		luaL_error(L, "%s: keys[%lld]: a %s, not a table", g->path,
			   (long long) i, luaL_typename(L, t));
	if (!gen_field(L, t, "name", what, (char **) &k->name) || !*k->name)
		luaL_error(L, "%s: keys[%lld]: no name", g->path, (long long) i);
	for (p = k->name; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			luaL_error(L, "%s: keys[%lld]: name \"%s\": letters, digits, '-', '_' and '.' only",
				   g->path, (long long) i, k->name);
	k->type = SINKD_KEY_STRING;
	if (gen_field(L, t, "type", what, &s) && gen_key_type(s, &k->type) < 0) {
		lua_pushfstring(L, "%s: keys[%d].type: \"%s\" is not one of string, bool, int, size, time, path, list, reply",
				g->path, (int) i, s);
		g_free(s);
		lua_error(L);
	}
	g_free(s);
	s = NULL;
	k->merge = SINKD_MERGE_AGREE;
	if (gen_field(L, t, "merge", what, &s) && gen_key_merge(s, &k->merge) < 0) {
		lua_pushfstring(L, "%s: keys[%d].merge: \"%s\" is not one of agree, any, all, min, union, common",
				g->path, (int) i, s);
		g_free(s);
		lua_error(L);
	}
	g_free(s);
	if (!gen_field(L, t, "default", what, (char **) &k->def))
		k->def = g_strdup("");
	if (!gen_field(L, t, "doc", what, (char **) &k->doc))
		k->doc = g_strdup("");
}

/* gen_keys - g->keys: sinkd's keys for Lua sinks, then the table at t's */
static void
gen_keys(lua_State *L, struct slua_gen *g, int t)
{
	lua_Integer n = 0, i, j;

	if (t != 0)
		n = (lua_Integer) lua_rawlen(L, t);
	if (n > 1000)
		luaL_error(L, "%s: keys: more than 1000", g->path);
	g->keys = g_new0(struct sinkd_key, n + 3);
	g->keys[0] = (struct sinkd_key) {
		.name = g_strdup(SLUA_MEM_KEY), .type = SINKD_KEY_SIZE,
		.def = g_strdup(SLUA_MEM_DEF), .merge = SINKD_MERGE_MIN,
		.doc = g_strdup("memory one Lua state of the script may hold (sinkd-lua(5))"),
	};
	g->keys[1] = (struct sinkd_key) {
		.name = g_strdup(SLUA_INSN_KEY), .type = SINKD_KEY_INT,
		.def = g_strdup(SLUA_INSN_DEF), .merge = SINKD_MERGE_MIN,
		.doc = g_strdup("Lua instructions one hook may run; 0: no limit (sinkd-lua(5))"),
	};
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, t, i);
		gen_key(L, lua_gettop(L), i, &g->keys[i + 1]);
		lua_pop(L, 1);
		for (j = 0; j < i + 1; j++)
			if (!strcmp(g->keys[j].name, g->keys[i + 1].name))
				luaL_error(L, "%s: keys[%d]: %s: %s", g->path, (int) i,
					   g->keys[j].name, j < 2
					   ? "sinkd's own key for Lua sinks"
					   : "declared twice");
	}
}

/*
 * gen_read - in protected mode, on the first state: the name, keys and
 * functions of the script's table
 */
static int
gen_read(lua_State *L)
{
	struct slua_box *b = box_of(L);
	struct slua_gen *g = b->gen;
	const char *base, *p;
	int h, type;

	lua_settop(L, 0);
	lua_rawgeti(L, LUA_REGISTRYINDEX, b->table);
	if (!gen_field(L, 1, "name", "", &g->name)) {
		base = strrchr(g->path, '/') ? strrchr(g->path, '/') + 1 : g->path;
		g->name = g_strndup(base, (p = strrchr(base, '.')) && p != base
				    ? (size_t) (p - base) : strlen(base));
	}
	for (p = g->name; *p; p++)
		if ((unsigned char) *p < ' ' || *p == 0x7f)
			luaL_error(L, "%s: name: control characters", g->path);
	lua_pushliteral(L, "keys");
	type = lua_rawget(L, 1);
	if (type != LUA_TNIL && type != LUA_TTABLE)
		luaL_error(L, "%s: keys: a %s, not a table", g->path,
			   lua_typename(L, type));
	gen_keys(L, g, type == LUA_TTABLE ? 2 : 0);
	lua_settop(L, 1);
	for (h = 0; h < SLUA_HOOK_COUNT; h++) {
		lua_pushstring(L, slua_hook_names[h]);
		type = lua_rawget(L, 1);
		if (type != LUA_TNIL && type != LUA_TFUNCTION)
			luaL_error(L, "%s: %s: a %s, not a function", g->path,
				   slua_hook_names[h], lua_typename(L, type));
		lua_pop(L, 1);
	}
	return 0;
}

/* gen_has - whether the script's table (in the first state) holds hook h */
static int
gen_has(struct slua_gen *g, enum slua_hook h)
{
	lua_State *L = g->main->L;
	int has;

	lua_rawgeti(L, LUA_REGISTRYINDEX, g->main->table);
	lua_pushstring(L, slua_hook_names[h]);
	has = lua_rawget(L, -2) == LUA_TFUNCTION;
	lua_settop(L, 0);
	return has;
}

/* gen_free - free what open() made of g */
static void
gen_free(struct slua_gen *g)
{
	struct sinkd_key *k;

	if (g == NULL)
		return;
	box_free(g->main);
	for (k = g->keys; k && k->name; k++) {
		g_free((char *) k->name);
		g_free((char *) k->def);
		g_free((char *) k->doc);
	}
	g_free(g->keys);
	g_free(g->name);
	g_free(g->text);
	g_free(g->short_src);
	g_free(g->chunk);
	g_free(g->path);
	g_free(g);
}

/* ------------------------------------------------------------------ */
/* the provider                                                         */

/* The generation of a hook: init set the state to it. */
#define GEN(state)	((struct slua_gen *) (state))

/*
 * slua_init - the configuration's limits for the states to come, then the
 * script's init(ctx) in the first state: false (and why) refuses
 */
static int
slua_init(const struct sinkd_api *api, struct sinkd_ctx *config, void **state)
{
	struct slua_gen *g = config->sink->handle;
	struct slua_call k = {.hook = SLUA_HOOK_INIT, .c = config};
	long long v;
	int rc = 0;

	(void) api;
	*state = g;
	if ((v = slua_number(g->api->config(config, SLUA_MEM_KEY), 0)) >= 0)
		g->def_memory = (size_t) v;
	if ((v = slua_number(g->api->config(config, SLUA_INSN_KEY), 0)) >= 0)
		g->def_insns = v;
	if (gen_has(g, SLUA_HOOK_INIT))
		rc = box_call(g->main, &k);
	g_free(k.why);
	return rc;
}

/* slua_reload - the script's reload() in the first state */
static void
slua_reload(void *state)
{
	struct slua_call k = {.hook = SLUA_HOOK_RELOAD};

	if (gen_has(GEN(state), SLUA_HOOK_RELOAD))
		(void) box_call(GEN(state)->main, &k);
}

/* slua_shutdown - the script's shutdown() in the first state */
static void
slua_shutdown(void *state)
{
	struct slua_call k = {.hook = SLUA_HOOK_SHUTDOWN};

	if (gen_has(GEN(state), SLUA_HOOK_SHUTDOWN))
		(void) box_call(GEN(state)->main, &k);
}

/* slua_connect - the script's connect(ctx) on this thread's state */
static enum sinkd_verdict
slua_connect(void *state, struct sinkd_ctx *c)
{
	return slua_run(GEN(state), c, SLUA_HOOK_CONNECT, NULL, 0);
}

/* slua_helo - the script's helo(ctx) on this thread's state */
static enum sinkd_verdict
slua_helo(void *state, struct sinkd_ctx *c)
{
	return slua_run(GEN(state), c, SLUA_HOOK_HELO, NULL, 0);
}

/* slua_mail - the script's mail(ctx) on this thread's state */
static enum sinkd_verdict
slua_mail(void *state, struct sinkd_ctx *c)
{
	return slua_run(GEN(state), c, SLUA_HOOK_MAIL, NULL, 0);
}

/* slua_rcpt - the script's rcpt(ctx, addr) on this thread's state */
static enum sinkd_verdict
slua_rcpt(void *state, struct sinkd_ctx *c, const char *addr)
{
	return slua_run(GEN(state), c, SLUA_HOOK_RCPT, addr, 0);
}

/* slua_data - the script's data(ctx) on this thread's state */
static enum sinkd_verdict
slua_data(void *state, struct sinkd_ctx *c)
{
	return slua_run(GEN(state), c, SLUA_HOOK_DATA, NULL, 0);
}

/* slua_unknown - the script's unknown(ctx, command) on this thread's state */
static enum sinkd_verdict
slua_unknown(void *state, struct sinkd_ctx *c, const char *cmd)
{
	return slua_run(GEN(state), c, SLUA_HOOK_UNKNOWN, cmd, 0);
}

/* slua_eom - the script's eom(ctx) on this thread's state */
static enum sinkd_verdict
slua_eom(void *state, struct sinkd_ctx *c)
{
	return slua_run(GEN(state), c, SLUA_HOOK_EOM, NULL, 0);
}

/* slua_abort - the script's abort(ctx, closing) on this thread's state */
static void
slua_abort(void *state, struct sinkd_ctx *c, int closing)
{
	(void) slua_run(GEN(state), c, SLUA_HOOK_ABORT, NULL, closing);
}

/* slua_read - the script's text into g; -1 with *why set */
static int
slua_read(struct slua_gen *g, char **why)
{
	GError *err = NULL;

	if (!g_file_get_contents(g->path, &g->text, &g->len, &err)) {
		*why = g_strdup(err->message);
		g_error_free(err);
		return -1;
	}
	if (g->len > SLUA_SCRIPT_MAX) {
		*why = g_strdup_printf("%s: larger than %d bytes", g->path,
				       SLUA_SCRIPT_MAX);
		return -1;
	}
	return 0;
}

/*
 * slua_open - the provider's open: read and compile path, run it in a
 * sandbox, and make a sink of the table it returns
 */
static const struct sinkd_sink *
slua_open(const char *path, const struct sinkd_api *api, void **handle,
	 char **why)
{
	struct slua_gen *g = g_new0(struct slua_gen, 1);
	lua_State *L;

	*handle = NULL;
	*why = NULL;
	g->api = api;
	g->path = g_strdup(path);
	g->chunk = g_strconcat("@", path, NULL);
	g->def_memory = (size_t) slua_number(SLUA_MEM_DEF, 0);
	g->def_insns = slua_number(SLUA_INSN_DEF, 0);
	if (slua_read(g, why) < 0 || (g->main = box_new(g, why)) == NULL)
		goto fail;
	L = g->main->L;
	lua_pushcfunction(L, box_msgh);
	lua_pushcfunction(L, gen_read);
	if (lua_pcall(L, 0, 0, 1) != LUA_OK) {
		*why = box_why(g->main, NULL);
		goto fail;
	}
	lua_settop(L, 0);

	g->sink.abi_major = SINKD_SINK_ABI_MAJOR;
	g->sink.abi_minor = SINKD_SINK_ABI_MINOR;
	g->sink.name = g->name;
	g->sink.keys = g->keys;
	g->sink.init = slua_init;
	g->sink.reload = slua_reload;
	g->sink.shutdown = slua_shutdown;
	/* a hook the script lacks is NULL: sinkd then need not ask the MTA */
	g->sink.connect = gen_has(g, SLUA_HOOK_CONNECT) ? slua_connect : NULL;
	g->sink.helo = gen_has(g, SLUA_HOOK_HELO) ? slua_helo : NULL;
	g->sink.mail = gen_has(g, SLUA_HOOK_MAIL) ? slua_mail : NULL;
	g->sink.rcpt = gen_has(g, SLUA_HOOK_RCPT) ? slua_rcpt : NULL;
	g->sink.data = gen_has(g, SLUA_HOOK_DATA) ? slua_data : NULL;
	g->sink.unknown = gen_has(g, SLUA_HOOK_UNKNOWN) ? slua_unknown : NULL;
	g->sink.eom = gen_has(g, SLUA_HOOK_EOM) ? slua_eom : NULL;
	g->sink.abort = gen_has(g, SLUA_HOOK_ABORT) ? slua_abort : NULL;

	pthread_mutex_lock(&slua_lock);
	g->serial = ++slua_serials;
	g->next = slua_live;
	slua_live = g;
	pthread_mutex_unlock(&slua_lock);
	*handle = g;
	return &g->sink;
fail:
	gen_free(g);
	return NULL;
}

/*
 * slua_close - the provider's close, after shutdown: every state of the
 * generation (no hook of it runs any more), then the rest
 */
static void
slua_close(void *handle)
{
	struct slua_gen *g = handle, **pp;
	struct slua_box *b, *next;

	if (g == NULL)
		return;
	pthread_mutex_lock(&slua_lock);
	for (pp = &slua_live; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	b = g->boxes;
	g->boxes = NULL;
	pthread_mutex_unlock(&slua_lock);
	for (; b; b = next) {
		next = b->next;
		box_free(b);
	}
	gen_free(g);
}

const struct sink_provider sink_lua = {
	.key = "script",
	.stop = "the script is stopped at its next instruction check",
	.open = slua_open,
	.close = slua_close,
};
