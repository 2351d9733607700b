/*
 * event_redis - the Redis Streams event target: each event an entry of
 * a stream, once per key
 *
 * [event:NAME] with type = redis, address = host:port or unix:/path:
 * each event is XADDed to stream (fields key, json, queue_id, sender,
 * direction, verdict, size) by a small Lua script run with EVALSHA (EVAL
 * when the server does not have it yet), which first looks for
 * STREAM:seen:KEY and adds nothing when it is there, else adds the entry
 * (trimmed to about maxlen with MAXLEN ~) and then sets STREAM:seen:KEY
 * to the entry's id with a time to live of seen-ttl.  A script runs
 * atomically and a failing XADD leaves no mark, so an event delivered
 * again (a retry after a lost answer, a replay after a crash) is in the
 * stream once.
 *
 * The connection is made at the first delivery (AUTH with password or
 * password-file, SELECT db, sent with the first command) and kept until
 * it fails; a delivery, connecting included, is bounded by timeout (the
 * host name looked up within it by resolve_host(), then each of its
 * addresses tried; the connection's timeout set to what is left before
 * each command).  No
 * answer (refused, reset, timed out) is tried again later, on a new
 * connection; an error reply of the server is a refusal (WRONGTYPE,
 * NOAUTH, WRONGPASS, NOPERM: logged and skipped) unless it says the
 * server is busy for now (LOADING, BUSY, TRYAGAIN, MASTERDOWN, READONLY,
 * OOM, CLUSTERDOWN), which is tried again.
 */
#include <sys/time.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "event.h"
#include "resolve.h"

#define REDIS_PORT	6379
#define REDIS_SECRET_MAX 4096	/* bytes of a password file */

/* documented in sinkd-events(5), THE REDIS TARGET */
static const struct conf_key redis_keys[] = {
	{"address", CONF_STRING, "127.0.0.1:6379", .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "the Redis server: host:port, [v6]:port or unix:/path"},
	{"stream", CONF_STRING, "sinkd:events", .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "the stream the events are added to"},
	{"maxlen", CONF_INT, "0", 0, 1000000000000LL, .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "trim the stream to about this many entries (MAXLEN ~); 0: never"},
	{"seen-ttl", CONF_TIME, "7d", 60, 31536000, .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "how long the server remembers a key it added, against duplicates"},
	{"db", CONF_INT, "0", 0, 100000, .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "the database number (SELECT)"},
	{"user", CONF_STRING, "", .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "the ACL user to AUTH as; empty: the default user"},
	{"password", CONF_STRING, "", .flags = CONF_NODOMAIN | CONF_RESTART | CONF_SECRET,
	 .doc = "the password to AUTH with; better: password-file"},
	{"password-file", CONF_PATH, "", .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "a file holding the password (its first line), readable by root and sinkd only"},
	{"timeout", CONF_TIME, "5s", 1, 3600, .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "how long one delivery may take, connecting included"},
	{NULL},
};

/*
 * The script: KEYS[1] the stream, KEYS[2] STREAM:seen:KEY; ARGV[1] the
 * time to live, ARGV[2] maxlen (0: no trimming), then the entry's field
 * and value pairs.  Answers the new entry's id, or 0 when the key was
 * seen.
 */
static const char redis_script[] =
	"if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end\n"
	"local id\n"
	"if ARGV[2] == '0' then\n"
	"  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))\n"
	"else\n"
	"  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))\n"
	"end\n"
	"redis.call('SET', KEYS[2], id, 'EX', ARGV[1])\n"
	"return id\n";

/* Error replies that mean "not now" rather than "never". */
static const char *const redis_busy[] = {
	"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY", "OOM", "CLUSTERDOWN", NULL,
};

struct redis {
	char *host;		/* or NULL: a unix socket */
	int port;
	char *path;		/* the unix socket */
	char *address;		/* as configured, for the log */
	char *stream;
	char *seen;		/* "STREAM:seen:" */
	char *maxlen;		/* as an argument */
	char *ttl;		/* seconds, as an argument */
	long long db;
	char *user;
	char *password;		/* or NULL */
	struct timeval timeout;
	gint64 deadline;	/* the delivery's end (monotonic) */
	char sha[41];		/* the script's SHA-1 */
	redisContext *c;	/* NULL until the first delivery, and after
				 * a failure */
};

/*
 * redis_address - split addr ("host:port", "[v6]:port", "host",
 * "unix:/path") into r; 0, or -1 with *why (g_free)
 */
static int
redis_address(struct redis *r, const char *addr, char **why)
{
	const char *colon;
	char *end;
	long port = REDIS_PORT;

	if (g_str_has_prefix(addr, "unix:")) {
		if (addr[5] != '/') {
			*why = g_strdup_printf("\"%s\": unix: needs an absolute path", addr);
			return -1;
		}
		r->path = g_strdup(addr + 5);
		return 0;
	}
	if (*addr == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close == addr + 1 || (close[1] && close[1] != ':')) {
			*why = g_strdup_printf("\"%s\": not [address]:port", addr);
			return -1;
		}
		r->host = g_strndup(addr + 1, (gsize) (close - addr - 1));
		colon = close[1] ? close + 1 : NULL;
	} else {
		colon = strrchr(addr, ':');
		if (colon && strchr(addr, ':') != colon) {
			*why = g_strdup_printf("\"%s\": write an IPv6 address as [address]:port", addr);
			return -1;
		}
		r->host = colon ? g_strndup(addr, (gsize) (colon - addr)) : g_strdup(addr);
	}
	if (colon) {
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || port < 1 || port > 65535) {
			*why = g_strdup_printf("\"%s\": not a port number (1 to 65535)", colon + 1);
			return -1;
		}
	}
	if (*r->host == 0 || strpbrk(r->host, " \t/")) {
		*why = g_strdup_printf("\"%s\": not host:port or unix:/path", addr);
		return -1;
	}
	r->port = (int) port;
	return 0;
}

/*
 * redis_secret - the first line of the file path, checked to be safe and
 * secret (conf_file_unsafe()); NULL with *why (g_free) when it is not
 */
static char *
redis_secret(const char *path, uid_t user, char **why)
{
	GError *err = NULL;
	char *text = NULL, *nl;
	gsize len;

	if ((*why = conf_file_unsafe(path, CONF_FILE_SECRET, user)) != NULL)
		return NULL;
	if (!g_file_get_contents(path, &text, &len, &err)) {
		*why = g_strdup(err->message);
		g_error_free(err);
		return NULL;
	}
	if (len > REDIS_SECRET_MAX || memchr(text, 0, len)) {
		*why = g_strdup_printf("%s: not a password file (one line of text)", path);
		g_free(text);
		return NULL;
	}
	if ((nl = strpbrk(text, "\r\n")) != NULL)
		*nl = 0;
	if (*text == 0) {
		*why = g_strdup_printf("%s: empty", path);
		g_free(text);
		return NULL;
	}
	return text;
}

/* redis_close - the handle and its connection */
static void
redis_close(void *handle)
{
	struct redis *r = handle;

	if (r == NULL)
		return;
	if (r->c)
		redisFree(r->c);
	g_free(r->host);
	g_free(r->path);
	g_free(r->address);
	g_free(r->stream);
	g_free(r->seen);
	g_free(r->maxlen);
	g_free(r->ttl);
	g_free(r->user);
	if (r->password) {
		explicit_bzero(r->password, strlen(r->password));
		g_free(r->password);
	}
	g_free(r);
}

/* redis_open - check the group (no I/O but the password file); the
 * handle */
static void *
redis_open(const struct conf_group *g, struct conf_errors *e)
{
	struct redis *r = g_new0(struct redis, 1);
	const char *pw = conf_str(g, "password"), *pwfile = conf_str(g, "password-file");
	char *why = NULL, *sha;
	int bad = 0;

	r->address = g_strdup(conf_str(g, "address"));
	if (redis_address(r, r->address, &why) < 0) {
		conf_key_error(e, g, "address", "%s", why);
		g_free(why);
		bad = 1;
	}
	r->stream = g_strdup(conf_str(g, "stream"));
	if (*r->stream == 0) {
		conf_key_error(e, g, "stream", "empty");
		bad = 1;
	}
	if (*pw && *pwfile) {
		conf_key_error(e, g, "password-file", "password is set too: set one of them");
		bad = 1;
	} else if (*pwfile) {
		if ((r->password = redis_secret(pwfile, e->user, &why)) == NULL) {
			conf_key_error(e, g, "password-file", "%s", why);
			g_free(why);
			bad = 1;
		}
	} else if (*pw) {
		r->password = g_strdup(pw);
	}
	r->user = g_strdup(conf_str(g, "user"));
	if (*r->user && r->password == NULL) {
		conf_key_error(e, g, "user", "a user needs a password (password-file)");
		bad = 1;
	}
	if (bad) {
		redis_close(r);
		return NULL;
	}
	r->seen = g_strconcat(r->stream, ":seen:", NULL);
	r->maxlen = g_strdup_printf("%lld", conf_num(g, "maxlen"));
	r->ttl = g_strdup_printf("%lld", conf_num(g, "seen-ttl"));
	r->db = conf_num(g, "db");
	r->timeout.tv_sec = (time_t) conf_num(g, "timeout");
	sha = g_compute_checksum_for_string(G_CHECKSUM_SHA1, redis_script, -1);
	g_strlcpy(r->sha, sha, sizeof(r->sha));
	g_free(sha);
	return r;
}

/* redis_drop - forget the connection (made again at the next delivery) */
static void
redis_drop(struct redis *r)
{
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
}

/*
 * redis_command - argv to the server; the reply (freeReplyObject()), or
 * NULL when there is none (the connection is dropped, *why says why)
 */
static redisReply *
redis_command(struct redis *r, int argc, const char **argv, const size_t *len, char **why)
{
	redisReply *rep = redisCommandArgv(r->c, argc, argv, len);

	if (rep == NULL) {
		*why = g_strdup_printf("%s: %s", r->address,
				       r->c->err ? r->c->errstr : "no answer");
		redis_drop(r);
	}
	return rep;
}

/* redis_refused - the result of an error reply: retry when the server
 * is busy for now, else fail; *why says what it said */
static enum event_result
redis_refused(struct redis *r, const redisReply *rep, const char *what, char **why)
{
	unsigned i;

	*why = g_strdup_printf("%s: %s: %s", r->address, what, rep->str);
	for (i = 0; redis_busy[i]; i++)
		if (g_str_has_prefix(rep->str, redis_busy[i])
		    && (rep->str[strlen(redis_busy[i])] == ' ' || rep->str[strlen(redis_busy[i])] == 0))
			return EVENT_RETRY;
	return EVENT_FAIL;
}

/*
 * redis_connect - connect within the timeout (the first step of a
 * delivery), the host name looked up within it too (resolve_host()), each
 * of its addresses tried in turn; EVENT_DONE (r->c is ready), or
 * EVENT_RETRY with *why
 */
static enum event_result
redis_connect(struct redis *r, char **why)
{
	char **addrs;
	struct timeval tv;
	gint64 left = 1;
	int i;

	if (r->path) {
		r->c = redisConnectUnixWithTimeout(r->path, r->timeout);
	} else {
		if ((addrs = resolve_host(r->host, r->deadline, why)) == NULL)
			return EVENT_RETRY;
		for (i = 0; addrs[i]; i++) {
			redis_drop(r);
			if ((left = r->deadline - g_get_monotonic_time()) <= 0)
				break;
			tv.tv_sec = (time_t) (left / G_USEC_PER_SEC);
			tv.tv_usec = (suseconds_t) (left % G_USEC_PER_SEC);
			r->c = redisConnectWithTimeout(addrs[i], r->port, tv);
			if (r->c && r->c->err == 0)
				break;
		}
		g_strfreev(addrs);
		if (r->c == NULL && left <= 0) {
			*why = g_strdup_printf("%s: timed out", r->address);
			return EVENT_RETRY;
		}
	}
	if (r->c == NULL || r->c->err) {
		*why = g_strdup_printf("%s: %s", r->address, r->c ? r->c->errstr : "out of memory");
		redis_drop(r);
		return EVENT_RETRY;
	}
	return EVENT_DONE;
}

/*
 * redis_hello - AUTH and SELECT as configured, queued on a new
 * connection ahead of the first command (one round trip); the number
 * of replies to read
 */
static int
redis_hello(struct redis *r)
{
	const char *argv[3];
	size_t len[3];
	char db[24];
	int n = 0, i, replies = 0;

	if (r->password) {
		argv[n++] = "AUTH";
		if (*r->user)
			argv[n++] = r->user;
		argv[n++] = r->password;
		for (i = 0; i < n; i++)
			len[i] = strlen(argv[i]);
		redisAppendCommandArgv(r->c, n, argv, len);
		replies++;
	}
	if (r->db) {
		g_snprintf(db, sizeof(db), "%lld", r->db);
		argv[0] = "SELECT";
		argv[1] = db;
		len[0] = 6;
		len[1] = strlen(db);
		redisAppendCommandArgv(r->c, 2, argv, len);
		replies++;
	}
	return replies;
}

/*
 * redis_replies - the replies to hello commands, then the command's
 * (*rep, freeReplyObject()); EVENT_DONE, or what the delivery comes to
 * with *why (the connection dropped)
 */
static enum event_result
redis_replies(struct redis *r, int hello, redisReply **rep, char **why)
{
	enum event_result res = EVENT_DONE;
	void *p;
	int i;

	*rep = NULL;
	for (i = 0; i <= hello; i++) {
		if (redisGetReply(r->c, &p) != REDIS_OK || p == NULL) {
			if (*why == NULL)
				*why = g_strdup_printf("%s: %s", r->address,
						       r->c->err ? r->c->errstr : "no answer");
			redis_drop(r);
			if (*rep)
				freeReplyObject(*rep);
			*rep = NULL;
			return res == EVENT_DONE ? EVENT_RETRY : res;
		}
		if (i < hello) {
			redisReply *h = p;

			if (h->type == REDIS_REPLY_ERROR && res == EVENT_DONE)
				res = redis_refused(r, h, i == 0 && r->password ? "AUTH" : "SELECT", why);
			freeReplyObject(h);
		} else {
			*rep = p;
		}
	}
	if (res != EVENT_DONE) {
		freeReplyObject(*rep);
		*rep = NULL;
		redis_drop(r);
	}
	return res;
}

/* redis_time_left - the connection's timeout set to what is left of
 * the delivery's; 0, or -1 with *why (the connection dropped) when
 * nothing is */
static int
redis_time_left(struct redis *r, char **why)
{
	gint64 left = r->deadline - g_get_monotonic_time();
	struct timeval tv;

	if (left <= 0) {
		*why = g_strdup_printf("%s: timed out", r->address);
		redis_drop(r);
		return -1;
	}
	tv.tv_sec = (time_t) (left / G_USEC_PER_SEC);
	tv.tv_usec = (suseconds_t) (left % G_USEC_PER_SEC);
	if (redisSetTimeout(r->c, tv) != REDIS_OK) {
		*why = g_strdup_printf("%s: cannot set a timeout: %s", r->address, r->c->errstr);
		redis_drop(r);
		return -1;
	}
	return 0;
}

/* member - a string member of the event, or "" */
static const char *
member(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	if (n == NULL || json_node_get_value_type(n) != G_TYPE_STRING)
		return "";
	return json_node_get_string(n);
}

/* redis_deliver - the event into the stream, once; see the head of the
 * file */
static enum event_result
redis_deliver(void *handle, const struct event *ev, char **why)
{
	struct redis *r = handle;
	enum event_result res;
	const char *argv[24];
	size_t len[24];
	char *seen, size[24];
	redisReply *rep;
	int n = 0, i, hello = 0;

	r->deadline = g_get_monotonic_time() + r->timeout.tv_sec * G_USEC_PER_SEC;
	if (r->c == NULL) {
		if ((res = redis_connect(r, why)) != EVENT_DONE)
			return res;
		hello = redis_hello(r);
	}
	if (redis_time_left(r, why) < 0)
		return EVENT_RETRY;
	seen = g_strconcat(r->seen, ev->key, NULL);
	g_snprintf(size, sizeof(size), "%" G_GINT64_FORMAT,
		   json_object_has_member(ev->obj, "size")
		   ? json_object_get_int_member(ev->obj, "size") : 0);
	argv[n++] = "EVALSHA";
	argv[n++] = r->sha;
	argv[n++] = "2";
	argv[n++] = r->stream;
	argv[n++] = seen;
	argv[n++] = r->ttl;
	argv[n++] = r->maxlen;
	argv[n++] = "key";
	argv[n++] = ev->key;
	argv[n++] = "json";
	argv[n++] = ev->json;
	argv[n++] = "queue_id";
	argv[n++] = member(ev->obj, "queue_id");
	argv[n++] = "sender";
	argv[n++] = member(ev->obj, "sender");
	argv[n++] = "direction";
	argv[n++] = member(ev->obj, "direction");
	argv[n++] = "verdict";
	argv[n++] = member(ev->obj, "verdict");
	argv[n++] = "size";
	argv[n++] = size;
	for (i = 0; i < n; i++)
		len[i] = argv[i] == ev->json ? ev->len : strlen(argv[i]);
	redisAppendCommandArgv(r->c, n, argv, len);
	if ((res = redis_replies(r, hello, &rep, why)) != EVENT_DONE) {
		g_free(seen);
		return res;
	}
	if (rep->type == REDIS_REPLY_ERROR && g_str_has_prefix(rep->str, "NOSCRIPT")) {
		/* first time on this server: the script itself */
		freeReplyObject(rep);
		if (redis_time_left(r, why) < 0) {
			g_free(seen);
			return EVENT_RETRY;
		}
		argv[0] = "EVAL";
		argv[1] = redis_script;
		len[0] = 4;
		len[1] = sizeof(redis_script) - 1;
		rep = redis_command(r, n, argv, len, why);
	}
	g_free(seen);
	if (rep == NULL)
		return EVENT_RETRY;
	if (rep->type == REDIS_REPLY_ERROR)
		res = redis_refused(r, rep, "XADD", why);
	else
		res = EVENT_DONE;	/* the entry's id, or 0: already there */
	freeReplyObject(rep);
	return res;
}

const struct event_type event_redis = {
	.name = "redis",
	.keys = redis_keys,
	.open = redis_open,
	.deliver = redis_deliver,
	.close = redis_close,
};
