/*
 * sink_luamod - the sink API as Lua sees it: the table sinkd and the
 * context object
 *
 * slua_module_push() makes the global table sinkd (constants);
 * slua_ctx_open() the context objects' metatable, whose methods are the
 * calls of struct sinkd_api (sinkd-lua(5), THE CONTEXT), and
 * slua_ctx_push() the context of one call.  A method checks its
 * arguments, refuses (false) a string holding a NUL byte, which no C
 * string of the API can carry, and an index out of range, and otherwise
 * returns what sinkd's call says; a context used once its call returned
 * is an error.  Lists count from 1 as Lua does, MIME parts from 0 as
 * sinkd numbers them.
 *
 * Threads: each function works on the state it is given, which one
 * thread uses at a time (sink_lua.c).
 */
#include <sys/stat.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include <lua.h>
#include <lauxlib.h>

#include "conf.h"
#include "sink_lua.h"

#define SLUA_LIST_MAX	100000		/* entries a list call collects */
#define SLUA_FILE_MAX	(1 << 20)	/* bytes ctx:config_file() reads */
#define SLUA_CTX_META	"sinkd.ctx"

/* slua_module_push - push the table sinkd: verdicts, log levels, part flags */
void
slua_module_push(lua_State *L)
{
	static const struct {
		const char *name;
		lua_Integer value;
	} c[] = {
		{"CONTINUE", SINKD_CONTINUE},
		{"ACCEPT", SINKD_ACCEPT},
		{"REJECT", SINKD_REJECT},
		{"TEMPFAIL", SINKD_TEMPFAIL},
		{"DISCARD", SINKD_DISCARD},
		{"QUARANTINE", SINKD_QUARANTINE},
		{"ERROR", SINKD_ERROR},
		{"LOG_DEBUG", SINKD_LOG_DEBUG},
		{"LOG_INFO", SINKD_LOG_INFO},
		{"LOG_WARNING", SINKD_LOG_WARNING},
		{"LOG_ERROR", SINKD_LOG_ERROR},
		{"PART_MULTIPART", SINKD_PART_MULTIPART},
		{"PART_MESSAGE", SINKD_PART_MESSAGE},
		{"PART_SIGNED", SINKD_PART_SIGNED},
		{"PART_ENCRYPTED", SINKD_PART_ENCRYPTED},
		{"PART_ATTACHMENT", SINKD_PART_ATTACHMENT},
		{"PART_TEXT", SINKD_PART_TEXT},
		{"EVENT_DONE", SINKD_EVENT_DONE},
		{"EVENT_RETRY", SINKD_EVENT_RETRY},
		{"EVENT_FAIL", SINKD_EVENT_FAIL},
		{"ABI_MAJOR", SINKD_SINK_ABI_MAJOR},
		{"ABI_MINOR", SINKD_SINK_ABI_MINOR},
	};
	size_t i;

	lua_createtable(L, 0, G_N_ELEMENTS(c) + 1);
	for (i = 0; i < G_N_ELEMENTS(c); i++) {
		lua_pushinteger(L, c[i].value);
		lua_setfield(L, -2, c[i].name);
	}
#ifdef SINKD_VERSION
	lua_pushliteral(L, SINKD_VERSION);
	lua_setfield(L, -2, "VERSION");
#endif
}


/* What a hook's context object holds. */
struct slua_ctx {
	struct sinkd_ctx *c;
	const struct sinkd_api *api;
	const struct slua_mark *mark;	/* its state's */
	unsigned long call;	/* the call it belongs to */
};

/* ctx_check - argument 1 as a context of the call running */
static struct slua_ctx *
ctx_check(lua_State *L)
{
	struct slua_ctx *x = luaL_checkudata(L, 1, SLUA_CTX_META);

	if (!x->mark->in_call || x->call != x->mark->call)
		luaL_error(L, "a context used after its hook returned");
	return x;
}

#define API(x)	((x)->api)

/*
 * ctx_str - argument i as a C string (NULL: nil, where opt); *bad set when
 * it holds a NUL, which no string of the API may
 */
static const char *
ctx_str(lua_State *L, int i, int opt, int *bad)
{
	const char *s;
	size_t len;

	if (opt && lua_isnoneornil(L, i))
		return NULL;
	s = luaL_checklstring(L, i, &len);
	if (strlen(s) != len)
		*bad = 1;
	return s;
}

/* ctx_index - argument i as an index from base; *bad when out of range
 * (compared before base is taken off: math.mininteger - 1 overflows) */
static unsigned
ctx_index(lua_State *L, int i, lua_Integer base, int *bad)
{
	lua_Integer v = luaL_checkinteger(L, i);

	if (v < base || v - base > UINT_MAX) {
		*bad = 1;
		return 0;
	}
	return (unsigned) (v - base);
}

/* ctx_done - push the outcome of a call that does something */
static int
ctx_done(lua_State *L, int rc)
{
	lua_pushboolean(L, rc == 0);
	return 1;
}

/* ctx_get - ctx:get(name) */
static int
ctx_get(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *name = ctx_str(L, 2, 0, &bad);

	lua_pushstring(L, bad ? NULL : API(x)->get(x->c, name));
	return 1;
}

/* The lists read entry by entry. */
enum ctx_list {
	CTX_MAIL_PARAM,
	CTX_RCPT_PARAM,
	CTX_RCPT,
	CTX_CONFIG_LIST,
};

/* ctx_list_at - entry i of a list */
static const char *
ctx_list_at(struct slua_ctx *x, enum ctx_list which, const char *key,
	    unsigned i)
{
	switch (which) {
	case CTX_MAIL_PARAM:
		return API(x)->mail_param(x->c, i);
	case CTX_RCPT_PARAM:
		return API(x)->rcpt_param(x->c, i);
	case CTX_RCPT:
		return API(x)->rcpt(x->c, i);
	case CTX_CONFIG_LIST:
		return API(x)->config_list(x->c, key, i);
	}
	return NULL;
}

/*
 * ctx_list - argument argi: the entry of that index (from 1), or without
 * it, all of them as a sequence
 */
static int
ctx_list(lua_State *L, enum ctx_list which, int argi)
{
	struct slua_ctx *x = ctx_check(L);
	const char *key = NULL, *s;
	int bad = 0;
	unsigned i;

	if (which == CTX_CONFIG_LIST)
		key = ctx_str(L, 2, 0, &bad);
	if (!lua_isnoneornil(L, argi)) {
		i = ctx_index(L, argi, 1, &bad);
		lua_pushstring(L, bad ? NULL : ctx_list_at(x, which, key, i));
		return 1;
	}
	if (bad) {
		lua_pushnil(L);
		return 1;
	}
	lua_newtable(L);
	for (i = 0; i < SLUA_LIST_MAX; i++) {
		if ((s = ctx_list_at(x, which, key, i)) == NULL)
			break;
		lua_pushstring(L, s);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* ctx_mail_param - ctx:mail_param([i]) */
static int
ctx_mail_param(lua_State *L)
{
	return ctx_list(L, CTX_MAIL_PARAM, 2);
}

/* ctx_rcpt_param - ctx:rcpt_param([i]) */
static int
ctx_rcpt_param(lua_State *L)
{
	return ctx_list(L, CTX_RCPT_PARAM, 2);
}

/* ctx_rcpt - ctx:rcpt([i]) */
static int
ctx_rcpt(lua_State *L)
{
	return ctx_list(L, CTX_RCPT, 2);
}

/* ctx_config_list - ctx:config_list(key [, i]) */
static int
ctx_config_list(lua_State *L)
{
	return ctx_list(L, CTX_CONFIG_LIST, 3);
}

/* ctx_config - ctx:config(key) */
static int
ctx_config(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *key = ctx_str(L, 2, 0, &bad);

	lua_pushstring(L, bad ? NULL : API(x)->config(x->c, key));
	return 1;
}

/* path_key - whether key is one the sink declared of type path: only
 * those name files the admin meant the script to read */
static int
path_key(const struct sinkd_ctx *c, const char *key)
{
	const struct conf_key *k;

	if (c == NULL || c->sink == NULL || c->sink->keys == NULL)
		return 0;
	for (k = c->sink->keys; k->name; k++)
		if (!strcmp(k->name, key))
			return k->type == CONF_PATH;
	return 0;
}

/*
 * ctx_config_file - ctx:config_file(key): the text of the file a path key
 * of the sink names (the sandbox has no io), or nil and why.  The file
 * must be owned by root or the user this sinkd runs as (sinkd -n and
 * init at start run as root) and writable by nobody else, as sinkd.conf,
 * and hold at most SLUA_FILE_MAX bytes.
 */
static int
ctx_config_file(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *key = ctx_str(L, 2, 0, &bad), *path;
	char *why = NULL, *text = NULL;
	struct stat st;
	gsize len;
	GError *err = NULL;

	path = bad || !path_key(x->c, key) ? NULL : API(x)->config(x->c, key);
	if (path == NULL || *path != '/')
		why = g_strdup_printf("%s: not a path key of the sink", key);
	else if ((why = conf_file_unsafe(path, 0, geteuid())) != NULL)
		;
	else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)
		 && st.st_size > SLUA_FILE_MAX)
		why = g_strdup_printf("%s: larger than %d bytes", path, SLUA_FILE_MAX);
	else if (!g_file_get_contents(path, &text, &len, &err)) {
		why = g_strdup(err->message);
		g_error_free(err);
	} else if (len > SLUA_FILE_MAX) {
		why = g_strdup_printf("%s: larger than %d bytes", path, SLUA_FILE_MAX);
	}
	if (why) {
		g_free(text);
		lua_pushnil(L);
		lua_pushstring(L, why);
		g_free(why);
		return 2;
	}
	lua_pushlstring(L, text, len);
	g_free(text);
	return 1;
}

/* ctx_field - push {name=, raw=, value=} of header field i; 0 past the end */
static int
ctx_field(lua_State *L, struct slua_ctx *x, unsigned i, int as_table)
{
	const char *name = NULL, *raw = NULL, *dec = NULL;

	if (API(x)->header(x->c, i, &name, &raw, &dec) < 0)
		return 0;
	if (!as_table) {
		lua_pushstring(L, name);
		lua_pushstring(L, raw);
		lua_pushstring(L, dec);
		return 3;
	}
	lua_createtable(L, 0, 3);
	lua_pushstring(L, name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, raw);
	lua_setfield(L, -2, "raw");
	lua_pushstring(L, dec);
	lua_setfield(L, -2, "value");
	return 1;
}

/* ctx_header - ctx:header(i): name, raw, decoded; ctx:header(): all, as tables */
static int
ctx_header(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0, n;
	unsigned i;

	if (!lua_isnoneornil(L, 2)) {
		i = ctx_index(L, 2, 1, &bad);
		if (bad || (n = ctx_field(L, x, i, 0)) == 0) {
			lua_pushnil(L);
			return 1;
		}
		return n;
	}
	lua_newtable(L);
	for (i = 0; i < SLUA_LIST_MAX && ctx_field(L, x, i, 1); i++)
		lua_rawseti(L, -2, i + 1);
	return 1;
}

/* ctx_header_get - ctx:header_get(name [, n]) */
static int
ctx_header_get(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *name = ctx_str(L, 2, 0, &bad);
	unsigned n = lua_isnoneornil(L, 3) ? 1 : ctx_index(L, 3, 0, &bad);

	lua_pushstring(L, bad ? NULL : API(x)->header_get(x->c, name, n));
	return 1;
}

/* ctx_part - push the table of part i; 0 past the end */
static int
ctx_part(lua_State *L, struct slua_ctx *x, unsigned i)
{
	static const struct {
		const char *name;
		unsigned flag;
	} flags[] = {
		{"multipart", SINKD_PART_MULTIPART},
		{"message", SINKD_PART_MESSAGE},
		{"signed", SINKD_PART_SIGNED},
		{"encrypted", SINKD_PART_ENCRYPTED},
		{"attachment", SINKD_PART_ATTACHMENT},
		{"text", SINKD_PART_TEXT},
	};
	struct sinkd_part_info info;
	size_t f;

	memset(&info, 0, sizeof(info));
	if (API(x)->part_info(x->c, i, &info) < 0)
		return 0;
	lua_createtable(L, 0, 14);
	lua_pushinteger(L, info.index);
	lua_setfield(L, -2, "index");
	lua_pushinteger(L, info.parent);
	lua_setfield(L, -2, "parent");
	lua_pushinteger(L, info.depth);
	lua_setfield(L, -2, "depth");
	lua_pushinteger(L, info.flags);
	lua_setfield(L, -2, "flags");
	lua_pushstring(L, info.type);
	lua_setfield(L, -2, "type");
	lua_pushstring(L, info.charset);
	lua_setfield(L, -2, "charset");
	lua_pushstring(L, info.encoding);
	lua_setfield(L, -2, "encoding");
	lua_pushstring(L, info.filename);
	lua_setfield(L, -2, "filename");
	lua_pushinteger(L, (lua_Integer) info.size);
	lua_setfield(L, -2, "size");
	for (f = 0; f < G_N_ELEMENTS(flags); f++) {
		lua_pushboolean(L, (info.flags & flags[f].flag) != 0);
		lua_setfield(L, -2, flags[f].name);
	}
	return 1;
}

/* ctx_part_info - ctx:part_info(i), i from 0 (the message) */
static int
ctx_part_info(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	unsigned i = ctx_index(L, 2, 0, &bad);

	if (bad || !ctx_part(L, x, i))
		lua_pushnil(L);
	return 1;
}

/* ctx_parts - ctx:parts(): every part's table, in order (parts()[1] is part 0) */
static int
ctx_parts(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	unsigned i;

	lua_newtable(L);
	for (i = 0; i < SLUA_LIST_MAX && ctx_part(L, x, i); i++)
		lua_rawseti(L, -2, i + 1);
	return 1;
}

/* ctx_part_content - ctx:part_content(i [, utf8 [, max]]) */
static int
ctx_part_content(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0, utf8 = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
	unsigned i = ctx_index(L, 2, 0, &bad);
	lua_Integer max = luaL_optinteger(L, 4, 0);
	const char *data = NULL;
	size_t len = 0;

	if (bad || max < 0
	    || API(x)->part_content(x->c, i, utf8, (size_t) max, &data, &len) < 0)
		lua_pushnil(L);
	else
		lua_pushlstring(L, data, len);
	return 1;
}

/* ctx_raw - ctx:raw() */
static int
ctx_raw(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	const char *data = NULL;
	size_t len = 0;

	if (API(x)->raw(x->c, &data, &len) < 0)
		lua_pushnil(L);
	else
		lua_pushlstring(L, data, len);
	return 1;
}

/* ctx_kv_get - ctx:kv_get(key) */
static int
ctx_kv_get(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *key = ctx_str(L, 2, 0, &bad);

	lua_pushstring(L, bad ? NULL : API(x)->kv_get(x->c, key));
	return 1;
}

/* ctx_kv_set - ctx:kv_set(key, value or nil) */
static int
ctx_kv_set(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *key = ctx_str(L, 2, 0, &bad);
	const char *value = ctx_str(L, 3, 1, &bad);

	return ctx_done(L, bad ? -1 : API(x)->kv_set(x->c, key, value));
}

/* ctx_reply - ctx:reply(code, xcode or nil, text) */
static int
ctx_reply(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *code = ctx_str(L, 2, 0, &bad);
	const char *xcode = ctx_str(L, 3, 1, &bad);
	const char *text = ctx_str(L, 4, 0, &bad);

	return ctx_done(L, bad ? -1 : API(x)->reply(x->c, code, xcode, text));
}

/* ctx_header_add - ctx:header_add(name, value) */
static int
ctx_header_add(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *name = ctx_str(L, 2, 0, &bad);
	const char *value = ctx_str(L, 3, 0, &bad);

	return ctx_done(L, bad ? -1 : API(x)->header_add(x->c, name, value));
}

/* ctx_header_insert - ctx:header_insert(index, name, value), index from 0 (the top) */
static int
ctx_header_insert(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	unsigned i = ctx_index(L, 2, 0, &bad);
	const char *name = ctx_str(L, 3, 0, &bad);
	const char *value = ctx_str(L, 4, 0, &bad);

	return ctx_done(L, bad ? -1
			: API(x)->header_insert(x->c, i, name, value));
}

/* ctx_header_change - ctx:header_change(name, n, value or nil) */
static int
ctx_header_change(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *name = ctx_str(L, 2, 0, &bad);
	unsigned n = ctx_index(L, 3, 0, &bad);
	const char *value = ctx_str(L, 4, 1, &bad);

	return ctx_done(L, bad ? -1
			: API(x)->header_change(x->c, name, n, value));
}

/* ctx_header_delete - ctx:header_delete(name, n): header_change(name, n, nil) */
static int
ctx_header_delete(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *name = ctx_str(L, 2, 0, &bad);
	unsigned n = ctx_index(L, 3, 0, &bad);

	return ctx_done(L, bad ? -1
			: API(x)->header_change(x->c, name, n, NULL));
}

/* The envelope edits, of one address each. */
enum ctx_addr {
	CTX_RCPT_ADD,
	CTX_RCPT_DELETE,
	CTX_SENDER_CHANGE,
};

/* ctx_addr - ctx:rcpt_add(addr), rcpt_delete(addr), sender_change(addr) */
static int
ctx_addr(lua_State *L, enum ctx_addr which)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0, rc = -1;
	const char *addr = ctx_str(L, 2, 0, &bad);

	if (bad)
		return ctx_done(L, -1);
	switch (which) {
	case CTX_RCPT_ADD:
		rc = API(x)->rcpt_add(x->c, addr);
		break;
	case CTX_RCPT_DELETE:
		rc = API(x)->rcpt_delete(x->c, addr);
		break;
	case CTX_SENDER_CHANGE:
		rc = API(x)->sender_change(x->c, addr);
		break;
	}
	return ctx_done(L, rc);
}

/* ctx_rcpt_add - ctx:rcpt_add(addr) */
static int
ctx_rcpt_add(lua_State *L)
{
	return ctx_addr(L, CTX_RCPT_ADD);
}

/* ctx_rcpt_delete - ctx:rcpt_delete(addr) */
static int
ctx_rcpt_delete(lua_State *L)
{
	return ctx_addr(L, CTX_RCPT_DELETE);
}

/* ctx_sender_change - ctx:sender_change(addr) */
static int
ctx_sender_change(lua_State *L)
{
	return ctx_addr(L, CTX_SENDER_CHANGE);
}

/* ctx_part_replace - ctx:part_replace(i, type or nil, filename or nil, data) */
static int
ctx_part_replace(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	unsigned i = ctx_index(L, 2, 0, &bad);
	const char *type = ctx_str(L, 3, 1, &bad);
	const char *filename = ctx_str(L, 4, 1, &bad);
	size_t len;
	const char *data = luaL_checklstring(L, 5, &len);

	return ctx_done(L, bad ? -1 : API(x)->part_replace(x->c, i, type,
							    filename, data, len));
}

/* ctx_part_remove - ctx:part_remove(i [, note]) */
static int
ctx_part_remove(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	unsigned i = ctx_index(L, 2, 0, &bad);
	const char *note = ctx_str(L, 3, 1, &bad);

	return ctx_done(L, bad ? -1 : API(x)->part_remove(x->c, i, note));
}

/* ctx_part_add - ctx:part_add(type, filename or nil, data) */
static int
ctx_part_add(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *type = ctx_str(L, 2, 0, &bad);
	const char *filename = ctx_str(L, 3, 1, &bad);
	size_t len;
	const char *data = luaL_checklstring(L, 4, &len);

	return ctx_done(L, bad ? -1 : API(x)->part_add(x->c, type, filename,
							data, len));
}

/* ctx_text_append - ctx:text_append(i, text) */
static int
ctx_text_append(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	unsigned i = ctx_index(L, 2, 0, &bad);
	const char *text = ctx_str(L, 3, 0, &bad);

	return ctx_done(L, bad ? -1 : API(x)->text_append(x->c, i, text));
}

/* ctx_footer - ctx:footer(text [, html]) */
static int
ctx_footer(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *text = ctx_str(L, 2, 0, &bad);
	const char *html = ctx_str(L, 3, 1, &bad);

	return ctx_done(L, bad ? -1 : API(x)->footer(x->c, text, html));
}

/* ctx_wrap - ctx:wrap([text]) */
static int
ctx_wrap(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *text = ctx_str(L, 2, 1, &bad);

	return ctx_done(L, bad ? -1 : API(x)->wrap(x->c, text));
}

/* ctx_note - ctx:note(key, value) */
static int
ctx_note(lua_State *L)
{
	struct slua_ctx *x = ctx_check(L);
	int bad = 0;
	const char *key = ctx_str(L, 2, 0, &bad);
	const char *value = ctx_str(L, 3, 0, &bad);

	return ctx_done(L, bad ? -1 : API(x)->note(x->c, key, value));
}

/* ctx_log - ctx:log([level,] text): level sinkd.LOG_* or "debug" ... "error" */
static int
ctx_log(lua_State *L)
{
	static const char *const levels[] = {
		[SINKD_LOG_DEBUG] = "debug",
		[SINKD_LOG_INFO] = "info",
		[SINKD_LOG_WARNING] = "warning",
		[SINKD_LOG_ERROR] = "error",
		NULL
	};
	struct slua_ctx *x = ctx_check(L);
	enum sinkd_log level = SINKD_LOG_INFO;
	int bad = 0, t = 2;
	const char *text;

	if (lua_gettop(L) >= 3) {
		if (lua_type(L, 2) == LUA_TNUMBER) {
			lua_Integer v = luaL_checkinteger(L, 2);

			if (v < SINKD_LOG_DEBUG || v > SINKD_LOG_ERROR)
				return luaL_argerror(L, 2, "not a sinkd.LOG_* level");
			level = (enum sinkd_log) v;
		} else {
			level = (enum sinkd_log) luaL_checkoption(L, 2, NULL, levels);
		}
		t = 3;
	}
	text = ctx_str(L, t, 0, &bad);
	if (!bad)	/* a NUL would cut the line short */
		API(x)->log(x->c, level, text);
	lua_pushboolean(L, !bad);
	return 1;
}

static const luaL_Reg ctx_methods[] = {
	{"get", ctx_get},
	{"mail_param", ctx_mail_param},
	{"rcpt_param", ctx_rcpt_param},
	{"rcpt", ctx_rcpt},
	{"config", ctx_config},
	{"config_list", ctx_config_list},
	{"config_file", ctx_config_file},
	{"header", ctx_header},
	{"header_get", ctx_header_get},
	{"part_info", ctx_part_info},
	{"parts", ctx_parts},
	{"part_content", ctx_part_content},
	{"raw", ctx_raw},
	{"kv_get", ctx_kv_get},
	{"kv_set", ctx_kv_set},
	{"reply", ctx_reply},
	{"header_add", ctx_header_add},
	{"header_insert", ctx_header_insert},
	{"header_change", ctx_header_change},
	{"header_delete", ctx_header_delete},
	{"rcpt_add", ctx_rcpt_add},
	{"rcpt_delete", ctx_rcpt_delete},
	{"sender_change", ctx_sender_change},
	{"part_replace", ctx_part_replace},
	{"part_remove", ctx_part_remove},
	{"part_add", ctx_part_add},
	{"text_append", ctx_text_append},
	{"footer", ctx_footer},
	{"wrap", ctx_wrap},
	{"note", ctx_note},
	{"log", ctx_log},
	{NULL, NULL},
};

/* slua_ctx_open - in the sandbox: the metatable of context objects */
void
slua_ctx_open(lua_State *L)
{
	luaL_newmetatable(L, SLUA_CTX_META);
	lua_newtable(L);
	luaL_setfuncs(L, ctx_methods, 0);
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, SLUA_CTX_META);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
}

/*
 * slua_ctx_push - push the context of the call m is about to run, for c;
 * valid while m's call stays the same and runs
 */
void
slua_ctx_push(lua_State *L, struct sinkd_ctx *c, const struct sinkd_api *api,
	      const struct slua_mark *m)
{
	struct slua_ctx *x = lua_newuserdatauv(L, sizeof(*x), 0);

	x->c = c;
	x->api = api;
	x->mark = m;
	x->call = m->call;
	luaL_setmetatable(L, SLUA_CTX_META);
}
