/*
 * sink_proc - co-process sinks: workers that speak JSON lines
 *
 * See sink_proc.h for the design and sinkd-sink-protocol(7) for what
 * goes over the line.  The file reads top-down: the worker's hello and
 * the struct sinkd_sink made from it; starting a worker (fork and exec
 * as its user with its limits, through the spawner when sinkd is no
 * longer root, or connecting to a service); a worker's reader thread;
 * the pool; a request and its answer; the providers.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "conf.h"
#include "log.h"
#include "message.h"
#include "policy.h"
#include "room.h"
#include "sink_proc.h"

#define HELLO_TIMEOUT	30	/* seconds, for the hello at open */
#define OPEN_LINE_MAX	(1024 * 1024)	/* the hello's line, at open */
#define STDERR_LINE_MAX	2000	/* a worker's stderr line, logged */
#define STDERR_LINES	100	/* stderr lines logged per worker and window */
#define STDERR_WINDOW	10	/* seconds */
#define RETIRE_GRACE	2	/* seconds between EOF and SIGKILL */
#define JSON_DEPTH	32	/* arrays and objects in one another, at most */

/* the hooks a worker may have, as the protocol names them */
enum sproc_hook {
	HOOK_CONNECT, HOOK_HELO, HOOK_MAIL, HOOK_RCPT, HOOK_DATA,
	HOOK_UNKNOWN, HOOK_EOM, HOOK_ABORT, HOOK_N,
};
static const char *const hook_names[HOOK_N] = {
	[HOOK_CONNECT] = "connect", [HOOK_HELO] = "helo", [HOOK_MAIL] = "mail",
	[HOOK_RCPT] = "rcpt", [HOOK_DATA] = "data", [HOOK_UNKNOWN] = "unknown",
	[HOOK_EOM] = "eom", [HOOK_ABORT] = "abort",
};

/* sinkd's keys of every co-process sink, before the worker's own;
 * documented in sinkd-policy(5) and sinkd-sink-protocol(7) */
static const struct sinkd_key pool_keys[] = {
	{"workers-min", SINKD_KEY_INT, "1",
	 "workers started, one per hook, before an idle one is reused", SINKD_MERGE_AGREE},
	{"workers-max", SINKD_KEY_INT, "4",
	 "workers at most; more requests wait queue-timeout, then tempfail", SINKD_MERGE_AGREE},
	{"concurrency", SINKD_KEY_INT, "1",
	 "requests one worker is given at once", SINKD_MERGE_AGREE},
	{"max-requests", SINKD_KEY_INT, "1000",
	 "requests after which a worker is replaced (0: never)", SINKD_MERGE_AGREE},
	{"queue-timeout", SINKD_KEY_TIME, "2s",
	 "how long a request waits for a worker when all are busy", SINKD_MERGE_AGREE},
	{"user", SINKD_KEY_STRING, "",
	 "the user workers run as (empty: sinkd's)", SINKD_MERGE_AGREE},
	{"memory-limit", SINKD_KEY_SIZE, "1g",
	 "a worker's address space (RLIMIT_AS; 0: none)", SINKD_MERGE_AGREE},
	{"cpu-limit", SINKD_KEY_TIME, "0",
	 "a worker's CPU time (RLIMIT_CPU; 0: none)", SINKD_MERGE_AGREE},
	{"nofile-limit", SINKD_KEY_INT, "256",
	 "a worker's open files (RLIMIT_NOFILE; 0: sinkd's)", SINKD_MERGE_AGREE},
	{"max-line", SINKD_KEY_SIZE, "16m",
	 "the longest answer line; a longer one is garbage", SINKD_MERGE_AGREE},
	{"message-dir", SINKD_KEY_PATH, "",
	 "where the message files of eom requests are made (empty: spool-dir)", SINKD_MERGE_AGREE},
	{NULL},
};
#define NPOOL	(G_N_ELEMENTS(pool_keys) - 1)

/* the pool's settings, from the default policy at init */
struct pool_cfg {
	long long wmin, wmax, conc, maxreq, queue_us, mem, cpu, nofile, maxline;
	int setuser;
	uid_t uid;
	gid_t gid;
	char *user;
	char *msgdir;		/* "": the spool directory */
};

struct worker;

/* one co-process sink of a configuration generation */
struct sproc {
	struct sinkd_sink ss;	/* what the glue sees */
	char *arg;		/* the command line, or unix:PATH */
	char **argv;		/* the command, or NULL */
	char *path;		/* the socket, or NULL */
	char *wname;		/* the worker's own name (hello) */
	char *sink;		/* "sink:NAME", from init */
	unsigned hooks;		/* 1 << enum sproc_hook */
	int accepted;		/* the worker has the accepted hook */
	int accepted_body;	/* and wants the message's copy */
	struct sinkd_key *keys;	/* pool_keys, then the worker's */
	unsigned nkeys;
	char **macros;		/* macros the worker wants, or NULL */
	GPtrArray *strings;	/* what keys and macros point into */
	struct pool_cfg pc;

	GMutex lock;		/* everything below */
	GCond cond;		/* a request answered, a worker freed */
	GPtrArray *workers;	/* struct worker *, live or dying */
	unsigned starting;	/* workers being started */
	unsigned serial;	/* workers started, for logs */
	guint64 tokens;
	guint64 sessions;
	GHashTable *session;	/* struct sinkd_ctx * -> guint64 id */
	int closing;
};

/* a request on its way, on its sender's stack */
struct req {
	gint64 token;
	JsonNode *answer;	/* the answer's object */
	int state;		/* 0 waiting, 1 answered, -1 worker gone */
};

/* one worker process, or one connection to the service */
struct worker {
	struct sproc *p;
	unsigned id;
	pid_t pid;		/* -1: a connection */
	int remote;		/* started by the spawner: not our child */
	int in, out, err;	/* its input, output, stderr; in == out for
				 * a connection */
	GMutex wlock;		/* writing to in */
	GHashTable *pending;	/* token -> struct req * */
	unsigned inflight;
	unsigned long served;
	int dead;		/* takes no more requests */
	gint64 killed;		/* SIGKILLed (or the socket shut) at
				 * (monotonic µs), or 0 */
	gint64 retired;		/* EOF sent at (monotonic µs), or 0 */
	gint64 err_window;	/* stderr: the window's start (reader's) */
	unsigned err_lines, err_dropped;	/* in the window */
	int refs;		/* the reader's and the senders' */
};

/* ------------------------------------------------------------------ */
/* the hello                                                            */

static char *json_text(JsonBuilder *b);

static const struct {
	const char *name;
	enum sinkd_key_type type;
} key_types[] = {
	{"string", SINKD_KEY_STRING}, {"bool", SINKD_KEY_BOOL},
	{"int", SINKD_KEY_INT}, {"size", SINKD_KEY_SIZE},
	{"time", SINKD_KEY_TIME}, {"path", SINKD_KEY_PATH},
	{"list", SINKD_KEY_LIST}, {"reply", SINKD_KEY_REPLY},
};

static const struct {
	const char *name;
	enum sinkd_merge merge;
} merges[] = {
	{"agree", SINKD_MERGE_AGREE}, {"any", SINKD_MERGE_ANY},
	{"all", SINKD_MERGE_ALL}, {"min", SINKD_MERGE_MIN},
	{"union", SINKD_MERGE_UNION}, {"common", SINKD_MERGE_COMMON},
};

/* jstr - o's string member name, or NULL */
static const char *
jstr(JsonObject *o, const char *name)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;

	if (n == NULL || JSON_NODE_TYPE(n) != JSON_NODE_VALUE
	    || json_node_get_value_type(n) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(n);
}

/* jint - o's integer member name into *v; -1 when it is none */
static int
jint(JsonObject *o, const char *name, gint64 *v)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;

	if (n == NULL || JSON_NODE_TYPE(n) != JSON_NODE_VALUE
	    || json_node_get_value_type(n) != G_TYPE_INT64)
		return -1;
	*v = json_node_get_int(n);
	return 0;
}

/* jarray - o's array member name, or NULL */
static JsonArray *
jarray(JsonObject *o, const char *name)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;

	return n && JSON_NODE_TYPE(n) == JSON_NODE_ARRAY ? json_node_get_array(n) : NULL;
}

/* keep - s, owned by p */
static const char *
keep(struct sproc *p, const char *s)
{
	char *c = g_strdup(s);

	g_ptr_array_add(p->strings, c);
	return c;
}

/* hello_key - the worker's i-th key k into p's table; why on error */
static char *
hello_key(struct sproc *p, unsigned i, JsonNode *n)
{
	JsonObject *k = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
	struct sinkd_key *sk = &p->keys[p->nkeys];
	const char *name = jstr(k, "name"), *type = jstr(k, "type");
	const char *merge = jstr(k, "merge"), *def;
	unsigned j;

	if (name == NULL)
		return g_strdup_printf("hello: keys[%u]: no name", i);
	for (j = 0; j < NPOOL; j++)
		if (!strcmp(name, pool_keys[j].name))
			return g_strdup_printf("hello: key \"%s\": a name sinkd gives co-process sinks",
					       name);
	sk->name = keep(p, name);
	sk->type = SINKD_KEY_STRING;
	if (type) {
		for (j = 0; j < G_N_ELEMENTS(key_types); j++)
			if (!strcmp(type, key_types[j].name))
				break;
		if (j == G_N_ELEMENTS(key_types))
			return g_strdup_printf("hello: key \"%s\": type \"%s\": unknown", name, type);
		sk->type = key_types[j].type;
	}
	sk->merge = SINKD_MERGE_AGREE;
	if (merge) {
		for (j = 0; j < G_N_ELEMENTS(merges); j++)
			if (!strcmp(merge, merges[j].name))
				break;
		if (j == G_N_ELEMENTS(merges))
			return g_strdup_printf("hello: key \"%s\": merge \"%s\": unknown", name, merge);
		sk->merge = merges[j].merge;
	}
	def = jstr(k, "default");
	sk->def = keep(p, def ? def : "");
	sk->doc = keep(p, jstr(k, "doc") ? jstr(k, "doc") : "");
	p->nkeys++;
	return NULL;
}

/* hello_read - the worker's hello (o) into p: its version, name, hooks,
 * keys and macros; why on error */
static char *
hello_read(struct sproc *p, JsonObject *o)
{
	JsonArray *hooks = jarray(o, "hooks"), *keys = jarray(o, "keys");
	JsonArray *macros = jarray(o, "macros");
	const char *type = jstr(o, "type"), *name = jstr(o, "name");
	JsonNode *ab = json_object_get_member(o, "accepted-body");
	gint64 version;
	unsigned i, j, nk;
	char *why;

	if (type == NULL || strcmp(type, "hello"))
		return g_strdup("the first line is no hello (\"type\": \"hello\")");
	if (jint(o, "version", &version) < 0)
		return g_strdup("hello: no version");
	if (version != SPROC_VERSION)
		return g_strdup_printf("hello: protocol version %" G_GINT64_FORMAT
				       "; this sinkd speaks %d", version, SPROC_VERSION);
	if (name == NULL || *name == 0)
		return g_strdup("hello: no name");
	p->wname = g_strdup(name);
	if (hooks == NULL)
		return g_strdup("hello: no list of hooks");
	for (i = 0; i < json_array_get_length(hooks); i++) {
		JsonNode *n = json_array_get_element(hooks, i);
		const char *h = JSON_NODE_HOLDS_VALUE(n)
			&& json_node_get_value_type(n) == G_TYPE_STRING ? json_node_get_string(n) : NULL;

		for (j = 0; h && j < HOOK_N; j++)
			if (!strcmp(h, hook_names[j]))
				break;
		if (h && !strcmp(h, "accepted")) {
			p->accepted = 1;	/* after-accept events */
			continue;
		}
		if (h == NULL || j == HOOK_N)
			return g_strdup_printf("hello: hooks[%u]: %s%s%s", i, h ? "\"" : "",
					       h ? h : "not a string", h ? "\": no such hook" : "");
		p->hooks |= 1u << j;
	}
	nk = keys ? json_array_get_length(keys) : 0;
	p->keys = g_new0(struct sinkd_key, NPOOL + nk + 1);
	memcpy(p->keys, pool_keys, NPOOL * sizeof(*p->keys));
	p->nkeys = NPOOL;
	for (i = 0; i < nk; i++)
		if ((why = hello_key(p, i, json_array_get_element(keys, i))) != NULL)
			return why;
	if (ab && JSON_NODE_HOLDS_VALUE(ab) && json_node_get_value_type(ab) == G_TYPE_BOOLEAN)
		p->accepted_body = json_node_get_boolean(ab);
	if (macros) {
		p->macros = g_new0(char *, json_array_get_length(macros) + 1);
		for (i = j = 0; i < json_array_get_length(macros); i++) {
			JsonNode *n = json_array_get_element(macros, i);

			if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
				return g_strdup_printf("hello: macros[%u]: not a string", i);
			p->macros[j++] = g_strdup(json_node_get_string(n));
		}
	}
	return NULL;
}

/* hello_line - our hello, a line for sink (g_free()) */
static char *
hello_line(const char *sink, long long maxline)
{
	JsonBuilder *b = json_builder_new();
	char *s, *line;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "type");
	json_builder_add_string_value(b, "hello");
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, SPROC_VERSION);
	json_builder_set_member_name(b, "sink");
	json_builder_add_string_value(b, sink);
	json_builder_set_member_name(b, "max-line");
	json_builder_add_int_value(b, maxline);
	json_builder_end_object(b);
	s = json_text(b);
	line = g_strconcat(s, "\n", NULL);
	g_free(s);
	g_object_unref(b);
	return line;
}

/*
 * shallow - whether the JSON text line nests arrays and objects at most
 * max deep; json-glib's parser recurses once per level, so that a line
 * of a million '[' would overflow the reader thread's stack.  Only the
 * brackets outside strings are counted (a backslash escapes the next
 * character in a string); the text is judged by the parser afterwards.
 */
static int
shallow(const char *line, gsize len, unsigned max)
{
	unsigned depth = 0;
	int in_str = 0;
	gsize i;

	for (i = 0; i < len; i++) {
		char c = line[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return 0;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return 1;
}

/* parse_line - line as a JSON object (json_node_unref()), or NULL (not
 * JSON, not an object, or nested deeper than JSON_DEPTH) */
static JsonNode *
parse_line(const char *line, gsize len)
{
	JsonParser *jp;
	JsonNode *root = NULL;

	if (!shallow(line, len, JSON_DEPTH))
		return NULL;
	jp = json_parser_new_immutable();
	if (json_parser_load_from_data(jp, line, (gssize) len, NULL)
	    && (root = json_parser_get_root(jp)) != NULL && JSON_NODE_HOLDS_OBJECT(root))
		root = json_node_ref(root);
	else
		root = NULL;
	g_object_unref(jp);
	return root;
}

/* ------------------------------------------------------------------ */
/* starting a worker                                                    */

/* write_all - the whole of s to fd; -1 with errno */
static int
write_all(int fd, const char *s, gsize n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (gsize) w;
	}
	return 0;
}

/* child - in the forked child: become the worker (never returns) */
static void
child(char **argv, char **envp, const struct pool_cfg *pc, int in, int out,
      int err)
{
	struct rlimit rl;
	struct sigaction sa;
	sigset_t none;
	static const char nouser[] = "sinkd: cannot become the worker's user\n";
	static const char noexec[] = "sinkd: cannot execute the worker: ";

	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	close_range(3, ~0U, 0);
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	if (pc && pc->mem > 0) {
		rl.rlim_cur = rl.rlim_max = (rlim_t) pc->mem;
		setrlimit(RLIMIT_AS, &rl);
	}
	if (pc && pc->cpu > 0) {
		rl.rlim_cur = (rlim_t) pc->cpu;
		rl.rlim_max = (rlim_t) pc->cpu + 1;
		setrlimit(RLIMIT_CPU, &rl);
	}
	if (pc && pc->nofile > 0) {
		rl.rlim_cur = rl.rlim_max = (rlim_t) pc->nofile;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (pc && pc->setuser
	    && (setgroups(1, &pc->gid) < 0 || setgid(pc->gid) < 0 || setuid(pc->uid) < 0
		|| setuid(0) == 0)) {
		if (write(2, nouser, sizeof(nouser) - 1) < 0)
			_exit(126);
		_exit(126);
	}
	if (chdir("/") < 0)
		_exit(126);
	execve(argv[0], argv, envp);
	if (write(2, noexec, sizeof(noexec) - 1) >= 0) {
		const char *e = strerror(errno);

		if (write(2, e, strlen(e)) >= 0 && write(2, "\n", 1) >= 0)
			_exit(127);
	}
	_exit(127);
}

/*
 * The spawner: a process that sinkd forks while it is still root (before
 * it drops privileges), and that stays root to start workers as the user
 * of their sink, since sinkd itself no longer can.  It does only what
 * sinkd.conf, which it reads again for each request, allows: a worker of
 * a [sink:NAME] group whose command and user are those asked for (never
 * root), and a SIGKILL to a worker it started.  It ends when sinkd does.
 * sinkd asks over a SOCK_SEQPACKET pair, one JSON object a message; the
 * answer to a spawn carries the worker's three pipe ends (SCM_RIGHTS).
 */
static int spawner_fd = -1;	/* sinkd's end, or -1: no spawner */
static GMutex spawner_lock;	/* one question and answer at a time */
static int sproc_users;		/* a loaded sink has a user (init) */

static void child(char **argv, char **envp, const struct pool_cfg *pc,
		  int in, int out, int err);

/* env_new - the worker's environment (g_strfreev()) */
static char **
env_new(const char *sink)
{
	char **env = g_new0(char *, 5);

	env[0] = g_strdup("PATH=/usr/local/bin:/usr/bin:/bin");
	env[1] = g_strdup("LANG=C.UTF-8");
	env[2] = g_strdup_printf("SINKD_SINK=%s", sink);
	env[3] = g_strdup_printf("SINKD_PROTOCOL=%d", SPROC_VERSION);
	return env;
}

/* json_text - the object b built, as one line of JSON text (g_free()) */
static char *
json_text(JsonBuilder *b)
{
	JsonGenerator *g = json_generator_new();
	JsonNode *root = json_builder_get_root(b);
	char *s;

	json_generator_set_root(g, root);
	s = json_generator_to_data(g, NULL);
	json_node_unref(root);
	g_object_unref(g);
	return s;
}

/* spawner_send - message s with fds (n of them) on fd; -1 on error */
static int
spawner_send(int fd, const char *s, const int *fds, unsigned n)
{
	struct iovec iov = {.iov_base = (void *) s, .iov_len = strlen(s)};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(3 * sizeof(int))];
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t r;

	if (n) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), fds, n * sizeof(int));
	}
	while ((r = sendmsg(fd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return r < 0 ? -1 : 0;
}

/* spawner_recv - a message from fd as a JSON object (json_node_unref()),
 * with up to 3 descriptors into fds (*n of them); NULL at EOF or error */
static JsonNode *
spawner_recv(int fd, int *fds, unsigned *n)
{
	char buf[65536];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(3 * sizeof(int))];
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c;
	ssize_t r;

	*n = 0;
	while ((r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (r <= 0)
		return NULL;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			unsigned k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			memcpy(fds + *n, CMSG_DATA(c), MIN(k, 3 - *n) * sizeof(int));
			*n += MIN(k, 3 - *n);
		}
	return parse_line(buf, (gsize) r);
}

/* spawner_allowed - why sinkd.conf (path) does not let group run command
 * as user, or NULL */
static char *
spawner_allowed(const char *path, const char *group, const char *command,
		const char *user)
{
	struct conf_errors e;
	struct conf_file *f;
	char *c = NULL, *u = NULL, *why = NULL;

	conf_errors_init(&e);
	if ((f = conf_file_read(path, &e)) == NULL)
		why = g_strdup_printf("%s: cannot be read", path);
	else if ((c = conf_file_get(f, group, "command")) == NULL
		 || strcmp(g_strstrip(c), command))
		why = g_strdup_printf("%s: [%s] has no command = %s", path, group, command);
	else if ((u = conf_file_get(f, group, "user")) == NULL || strcmp(g_strstrip(u), user))
		why = g_strdup_printf("%s: [%s] has no user = %s", path, group, user);
	g_free(c);
	g_free(u);
	if (f)
		conf_file_free(f);
	conf_errors_free(&e);
	return why;
}

/* spawner_spawn - in the spawner: start what request o asks for;
 * answers on fd; the pid, or -1 */
static pid_t
spawner_spawn(int fd, const char *conf, JsonObject *o)
{
	const char *group = jstr(o, "sink"), *command = jstr(o, "command");
	const char *user = jstr(o, "user");
	struct pool_cfg pc = {.setuser = 1};
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, fds[3];
	GError *gerr = NULL;
	char **argv = NULL, **env = NULL, *why = NULL, *ans;
	struct passwd *pw;
	JsonBuilder *b;
	pid_t pid = -1;
	gint64 v;
	unsigned i;

	if (group == NULL || command == NULL || user == NULL)
		why = g_strdup("a request without sink, command or user");
	else if ((why = spawner_allowed(conf, group, command, user)) != NULL)
		;
	else if ((pw = getpwnam(user)) == NULL || pw->pw_uid == 0)
		why = g_strdup_printf("user %s: no such user, or root", user);
	else if (!g_shell_parse_argv(command, NULL, &argv, &gerr)) {
		why = g_strdup(gerr->message);
		g_error_free(gerr);
	} else {
		pc.uid = pw->pw_uid;
		pc.gid = pw->pw_gid;
		pc.mem = jint(o, "memory-limit", &v) == 0 ? v : 0;
		pc.cpu = jint(o, "cpu-limit", &v) == 0 ? v : 0;
		pc.nofile = jint(o, "nofile-limit", &v) == 0 ? v : 0;
		env = env_new(group);
		if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0
		    || pipe2(err, O_CLOEXEC) < 0 || (pid = fork()) < 0)
			why = g_strdup_printf("pipe or fork: %s", g_strerror(errno));
		else if (pid == 0)
			child(argv, env, &pc, in[0], out[1], err[1]);
	}
	b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, why ? "error" : "pid");
	if (why)
		json_builder_add_string_value(b, why);
	else
		json_builder_add_int_value(b, pid);
	json_builder_end_object(b);
	ans = json_text(b);
	g_object_unref(b);
	fds[0] = in[1];
	fds[1] = out[0];
	fds[2] = err[0];
	spawner_send(fd, ans, fds, why ? 0 : 3);
	for (i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	g_free(ans);
	g_free(why);
	g_strfreev(argv);
	g_strfreev(env);
	return why ? -1 : pid;
}

/* spawner_main - the spawner's loop (never returns) */
static void
spawner_main(int fd, const char *conf)
{
	GHashTable *mine = g_hash_table_new(g_direct_hash, g_direct_equal);

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		JsonNode *req;
		JsonObject *o;
		const char *op;
		unsigned n;
		int status, fds[3];
		gint64 pid;
		pid_t r;

		while ((r = waitpid(-1, &status, WNOHANG)) > 0)
			g_hash_table_remove(mine, GINT_TO_POINTER(r));
		if (poll(&pfd, 1, 500) <= 0)
			continue;
		if ((req = spawner_recv(fd, fds, &n)) == NULL) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			_exit(0);	/* sinkd is gone */
		}
		o = json_node_get_object(req);
		op = jstr(o, "op");
		if (op && !strcmp(op, "spawn")) {
			if ((r = spawner_spawn(fd, conf, o)) > 0)
				g_hash_table_add(mine, GINT_TO_POINTER(r));
		} else if (op && !strcmp(op, "kill") && jint(o, "pid", &pid) == 0
			   && g_hash_table_contains(mine, GINT_TO_POINTER((pid_t) pid))) {
			kill(-(pid_t) pid, SIGKILL);
			kill((pid_t) pid, SIGKILL);
		}
		json_node_unref(req);
	}
}

/*
 * sink_proc_spawner_start - before sinkd drops root: the spawner, when a
 * co-process sink of the configuration (conf, the path of sinkd.conf)
 * has a user of its own
 */
void
sink_proc_spawner_start(const char *conf)
{
	int sv[2];
	pid_t pid;

	if (geteuid() != 0 || !sproc_users || spawner_fd >= 0)
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_error("sink: spawner: socketpair: %s", g_strerror(errno));
		return;
	}
	if ((pid = fork()) < 0) {
		log_error("sink: spawner: fork: %s", g_strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (pid == 0) {
		/* nothing of sinkd's but the pair: not its pid file lock,
		 * not the milter socket */
		if (dup2(sv[1], 3) < 0)
			_exit(1);
		close_range(4, ~0U, 0);
		spawner_main(3, conf);
	}
	close(sv[1]);
	spawner_fd = sv[0];
	log_info("sink: spawner %d started (root), for workers of their own users", (int) pid);
}

/* spawn_remote - ask the spawner for a worker of sink (command) as
 * pc's user; 0, or -1 with *why */
static int
spawn_remote(const char *sink, const struct pool_cfg *pc, const char *command,
	     struct worker *w, char **why)
{
	JsonBuilder *b = json_builder_new();
	JsonNode *ans;
	char *req;
	int fds[3], rc = -1;
	unsigned n = 0, i;
	gint64 pid;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "op");
	json_builder_add_string_value(b, "spawn");
	json_builder_set_member_name(b, "sink");
	json_builder_add_string_value(b, sink);
	json_builder_set_member_name(b, "command");
	json_builder_add_string_value(b, command);
	json_builder_set_member_name(b, "user");
	json_builder_add_string_value(b, pc->user);
	json_builder_set_member_name(b, "memory-limit");
	json_builder_add_int_value(b, pc->mem);
	json_builder_set_member_name(b, "cpu-limit");
	json_builder_add_int_value(b, pc->cpu);
	json_builder_set_member_name(b, "nofile-limit");
	json_builder_add_int_value(b, pc->nofile);
	json_builder_end_object(b);
	req = json_text(b);
	g_object_unref(b);
	g_mutex_lock(&spawner_lock);
	ans = spawner_send(spawner_fd, req, NULL, 0) < 0 ? NULL
		: spawner_recv(spawner_fd, fds, &n);
	g_mutex_unlock(&spawner_lock);
	g_free(req);
	if (ans == NULL)
		*why = g_strdup("the spawner is gone");
	else if (jstr(json_node_get_object(ans), "error"))
		*why = g_strdup_printf("the spawner: %s", jstr(json_node_get_object(ans), "error"));
	else if (jint(json_node_get_object(ans), "pid", &pid) < 0 || n != 3)
		*why = g_strdup("the spawner's answer has no worker");
	else {
		w->pid = (pid_t) pid;
		w->remote = 1;
		w->in = fds[0];
		w->out = fds[1];
		w->err = fds[2];
		n = 0;
		rc = 0;
	}
	for (i = 0; i < n; i++)
		close(fds[i]);
	if (ans)
		json_node_unref(ans);
	return rc;
}

/* worker_signal - SIGKILL to w's process group (through the spawner for
 * a worker it started) */
static void
worker_signal(struct worker *w)
{
	char *req;

	if (w->pid <= 0)
		return;
	if (!w->remote) {
		kill(-w->pid, SIGKILL);
		kill(w->pid, SIGKILL);
		return;
	}
	req = g_strdup_printf("{\"op\":\"kill\",\"pid\":%d}", (int) w->pid);
	g_mutex_lock(&spawner_lock);
	spawner_send(spawner_fd, req, NULL, 0);
	g_mutex_unlock(&spawner_lock);
	g_free(req);
}

/* spawn - start argv as a worker (pc: its user and limits; NULL: as
 * sinkd, without limits); through the spawner when the user is another
 * than sinkd's and sinkd is no longer root; 0, or -1 with *why */
static int
spawn(char **argv, const char *sink, const struct pool_cfg *pc,
      const char *command, struct worker *w, char **why)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	char **env;
	pid_t pid;

	if (pc && pc->setuser && geteuid() != 0 && pc->uid != geteuid()) {
		if (spawner_fd >= 0)
			return spawn_remote(sink, pc, command, w, why);
		*why = g_strdup_printf("user %s: sinkd runs as uid %u, and no spawner was started as root",
				       pc->user, (unsigned) geteuid());
		return -1;
	}
	env = env_new(sink);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		*why = g_strdup_printf("pipe: %s", g_strerror(errno));
		pid = -1;
		goto out;
	}
	if ((pid = fork()) < 0) {
		*why = g_strdup_printf("fork: %s", g_strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(argv, env, pc, in[0], out[1], err[1]);
	w->pid = pid;
	w->in = in[1];
	w->out = out[0];
	w->err = err[0];
	in[1] = out[0] = err[0] = -1;
out:
	for (unsigned i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	g_strfreev(env);
	return pid < 0 ? -1 : 0;
}

/* connect_to - a connection to the service at path within timeout
 * seconds; 0, or -1 with *why */
static int
connect_to(const char *path, long long timeout, struct worker *w, char **why)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct pollfd pfd;
	int fd, rc, e = 0;
	socklen_t elen = sizeof(e);

	if (strlen(path) >= sizeof(sun.sun_path)) {
		*why = g_strdup_printf("%s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		*why = g_strdup_printf("socket: %s", g_strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *) &sun, sizeof(sun));
	if (rc < 0 && (errno == EINPROGRESS || errno == EAGAIN)) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int) (timeout * 1000)) <= 0) {
			*why = g_strdup_printf("unix:%s: no connection within %llds", path, timeout);
			close(fd);
			return -1;
		}
		rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0 || e ? -1 : 0;
		if (e)
			errno = e;
	}
	if (rc < 0) {
		*why = g_strdup_printf("unix:%s: %s", path, g_strerror(errno));
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	w->pid = -1;
	w->in = w->out = fd;
	w->err = -1;
	return 0;
}

/* read_line - one line of fd into *line (g_free()), within deadline
 * (monotonic µs), at most max bytes; what comes on errfd meanwhile goes
 * to errbuf; 1, 0 at EOF, -1 with *why */
static int
read_line(int fd, int errfd, GString *buf, GString *errbuf, gsize max,
	  gint64 deadline, char **line, char **why)
{
	char chunk[4096];

	for (;;) {
		char *nl = memchr(buf->str, '\n', buf->len);
		struct pollfd pfd[2];
		gint64 left;
		ssize_t n;
		int np = 1;

		if (nl) {
			*line = g_strndup(buf->str, (gsize) (nl - buf->str));
			g_string_erase(buf, 0, nl - buf->str + 1);
			return 1;
		}
		if (buf->len > max) {
			*why = g_strdup_printf("a line longer than %zu bytes", max);
			return -1;
		}
		if ((left = deadline - g_get_monotonic_time()) <= 0) {
			*why = g_strdup("no answer in time");
			return -1;
		}
		pfd[0].fd = fd;
		pfd[0].events = POLLIN;
		if (errfd >= 0) {
			pfd[1].fd = errfd;
			pfd[1].events = POLLIN;
			np = 2;
		}
		if (poll(pfd, np, (int) (left / 1000) + 1) < 0 && errno != EINTR) {
			*why = g_strdup_printf("poll: %s", g_strerror(errno));
			return -1;
		}
		if (np == 2 && pfd[1].revents) {
			n = read(errfd, chunk, sizeof(chunk));
			if (n > 0 && errbuf->len < 65536)
				g_string_append_len(errbuf, chunk, n);
			else if (n <= 0)
				errfd = -1;
		}
		if (pfd[0].revents) {
			n = read(fd, chunk, sizeof(chunk));
			if (n == 0)
				return 0;
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				*why = g_strdup_printf("read: %s", g_strerror(errno));
				return -1;
			}
			if (n > 0)
				g_string_append_len(buf, chunk, n);
		}
	}
}

/* last_err - the last non-empty line of a worker's stderr, or NULL */
static char *
last_err(GString *errbuf, int fd)
{
	char chunk[4096], **v;
	ssize_t n;
	int i;
	char *last = NULL;

	if (fd >= 0) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		while (errbuf->len < 65536 && (n = read(fd, chunk, sizeof(chunk))) > 0)
			g_string_append_len(errbuf, chunk, n);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	}
	v = g_strsplit(errbuf->str, "\n", -1);
	for (i = g_strv_length(v) - 1; i >= 0 && last == NULL; i--)
		if (*g_strstrip(v[i]))
			last = g_strdup(v[i]);
	g_strfreev(v);
	return last;
}

/* reap - wait for pid, SIGKILLed after grace seconds; its end, for a
 * log line (g_free()) */
static char *
reap(pid_t pid, int grace)
{
	if (pid <= 0)
		return g_strdup("ended");	/* the spawner's child */
	gint64 until = g_get_monotonic_time() + (gint64) grace * G_USEC_PER_SEC;
	int status = 0;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && g_get_monotonic_time() < until)
		g_usleep(10000);
	if (r == 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
	}
	if (r < 0)
		return g_strdup_printf("waitpid: %s", g_strerror(errno));
	if (WIFEXITED(status))
		return g_strdup_printf("exit status %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return g_strdup_printf("signal %d", WTERMSIG(status));
	return g_strdup("ended");
}

/* worker_close_fds - w's descriptors closed */
static void
worker_close_fds(struct worker *w)
{
	if (w->in >= 0 && w->in != w->out)
		close(w->in);
	if (w->out >= 0)
		close(w->out);
	if (w->err >= 0)
		close(w->err);
	w->in = w->out = w->err = -1;
}

/*
 * worker_start - a worker for p (a process, or a connection) as pc's
 * user and with its limits, hello said and answered within timeout
 * seconds; first: at open, whose hello is read into p; NULL with *why
 */
static struct worker *
worker_start(struct sproc *p, const char *sink, const struct pool_cfg *pc,
	     int first, long long timeout, char **why)
{
	struct worker *w = g_new0(struct worker, 1);
	GString *buf = g_string_new(NULL), *errbuf = g_string_new(NULL);
	long long maxline = pc->maxline;
	char *line = NULL, *hello, *err, *end;
	JsonNode *root = NULL;
	int rc;

	w->p = p;
	w->in = w->out = w->err = -1;
	if ((p->argv ? spawn(p->argv, sink, pc, p->arg, w, why)
	     : connect_to(p->path, timeout, w, why)) < 0) {
		g_string_free(buf, TRUE);
		g_string_free(errbuf, TRUE);
		g_free(w);
		return NULL;
	}
	hello = hello_line(sink, maxline);
	rc = write_all(w->in, hello, strlen(hello)) < 0 ? -1
		: read_line(w->out, w->err, buf, errbuf, (gsize) maxline,
			    g_get_monotonic_time() + timeout * G_USEC_PER_SEC, &line, why);
	g_free(hello);
	if (rc < 0 && *why == NULL)
		*why = errno == EPIPE ? g_strdup(p->argv ? "the worker ended before its hello"
						 : "the service closed the connection before its hello")
			: g_strdup_printf("cannot send the hello: %s", g_strerror(errno));
	else if (rc == 0)
		*why = g_strdup(p->argv ? "the worker ended before its hello"
				: "the service closed the connection before its hello");
	else if ((root = parse_line(line, strlen(line))) == NULL)
		*why = g_strdup("the worker's hello is not a JSON object");
	else if (first)
		*why = hello_read(p, json_node_get_object(root));
	else if (g_strcmp0(jstr(json_node_get_object(root), "type"), "hello"))
		*why = g_strdup("the first line is no hello");
	else if (g_strcmp0(jstr(json_node_get_object(root), "name"), p->wname))
		*why = g_strdup_printf("hello: name \"%s\", where the sink started as \"%s\"",
				       jstr(json_node_get_object(root), "name")
				       ? jstr(json_node_get_object(root), "name") : "", p->wname);
	if (root)
		json_node_unref(root);
	g_free(line);
	g_string_free(buf, TRUE);	/* nothing may come before an answer */
	if (*why == NULL) {
		g_string_free(errbuf, TRUE);
		return w;
	}
	worker_signal(w);
	err = last_err(errbuf, w->err);
	g_string_free(errbuf, TRUE);
	if (w->pid > 0) {
		end = reap(w->remote ? -1 : w->pid, 0);
		if (err == NULL)
			err = end;
		else
			g_free(end);
	}
	if (err) {
		char *both = g_strdup_printf("%s (%s)", *why, err);

		g_free(*why);
		*why = both;
		g_free(err);
	}
	worker_close_fds(w);
	g_free(w);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* a worker's reader thread                                             */

/* worker_unref - drop a reference (p->lock held); the last frees w */
static void
worker_unref(struct worker *w)
{
	if (--w->refs > 0)
		return;
	worker_close_fds(w);
	g_hash_table_destroy(w->pending);
	g_mutex_clear(&w->wlock);
	g_free(w);
}

/* fail_pending - every request w holds gets "worker gone" (lock held) */
static void
fail_pending(struct worker *w)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, w->pending);
	while (g_hash_table_iter_next(&it, NULL, &v))
		((struct req *) v)->state = -1;
	g_hash_table_remove_all(w->pending);
	g_cond_broadcast(&w->p->cond);
}

/* worker_kill - w is killed for why, and what it held fails (lock
 * held); logged once */
static void
worker_kill(struct worker *w, const char *why)
{
	struct sproc *p = w->p;

	if (!w->killed) {
		if (why)
			log_warn("%s: worker %d: %s; killed, %u request%s lost (on-error)",
				 p->sink, w->pid > 0 ? (int) w->pid : (int) w->id, why,
				 g_hash_table_size(w->pending),
				 g_hash_table_size(w->pending) == 1 ? "" : "s");
		if (w->pid > 0) {
			worker_signal(w);
		} else if (w->out >= 0) {
			shutdown(w->out, SHUT_RDWR);
		}
		w->killed = g_get_monotonic_time();
	}
	w->dead = 1;
	fail_pending(w);
}

/* worker_retire - w ends: EOF on its input once it is idle (lock held) */
static void
worker_retire(struct worker *w)
{
	w->dead = 1;
	if (w->inflight || w->retired)
		return;
	w->retired = g_get_monotonic_time();
	g_mutex_lock(&w->wlock);
	if (w->pid > 0 && w->in >= 0) {
		close(w->in);
		w->in = -1;
	} else if (w->out >= 0) {
		shutdown(w->out, SHUT_WR);
	}
	g_mutex_unlock(&w->wlock);
}

/* answer - a line of w's output: the answer to a request it holds, or
 * garbage (the worker is killed) */
static void
answer(struct worker *w, const char *line, gsize len)
{
	struct sproc *p = w->p;
	JsonNode *root = parse_line(line, len);
	struct req *r = NULL;
	gint64 token = -1;

	g_mutex_lock(&p->lock);
	if (root == NULL)
		worker_kill(w, "answered with a line that is not a JSON object");
	else if (jint(json_node_get_object(root), "token", &token) < 0)
		worker_kill(w, "answered without a token");
	else if ((r = g_hash_table_lookup(w->pending, &token)) == NULL)
		worker_kill(w, "answered a token it does not hold");
	if (r) {
		g_hash_table_remove(w->pending, &token);
		r->answer = root;
		r->state = 1;
		root = NULL;
		g_cond_broadcast(&p->cond);
	}
	g_mutex_unlock(&p->lock);
	if (root)
		json_node_unref(root);
}

/* stderr_lines - complete lines of buf to the log; all of it if flush */
static void
stderr_lines(struct worker *w, GString *buf, int flush)
{
	gint64 now = g_get_monotonic_time();
	char *nl;

	if (now - w->err_window >= STDERR_WINDOW * G_USEC_PER_SEC) {
		if (w->err_dropped)
			log_warn("%s: worker %d: %u more lines on stderr not logged (more than %d in %ds)",
				 w->p->sink, (int) w->pid, w->err_dropped, STDERR_LINES, STDERR_WINDOW);
		w->err_window = now;
		w->err_lines = w->err_dropped = 0;
	}
	while ((nl = memchr(buf->str, '\n', buf->len)) != NULL
	       || (buf->len > 0 && (flush || buf->len > STDERR_LINE_MAX))) {
		gsize n = nl ? (gsize) (nl - buf->str) : buf->len;
		char *l = g_strndup(buf->str, MIN(n, STDERR_LINE_MAX));

		g_strdelimit(l, "\r\t", ' ');
		if (*l && ++w->err_lines > STDERR_LINES)
			w->err_dropped++;
		else if (*l)
			log_warn("%s: worker %d: %s", w->p->sink, (int) w->pid, l);
		g_free(l);
		g_string_erase(buf, 0, nl ? (gssize) n + 1 : (gssize) n);
	}
	if (flush && w->err_dropped) {
		log_warn("%s: worker %d: %u more lines on stderr not logged (more than %d in %ds)",
			 w->p->sink, (int) w->pid, w->err_dropped, STDERR_LINES, STDERR_WINDOW);
		w->err_dropped = 0;
	}
}

/* reader - w's thread: its answers and its stderr, until its output
 * ends; then it is reaped and leaves the pool */
static gpointer
reader(gpointer data)
{
	struct worker *w = data;
	struct sproc *p = w->p;
	GString *buf = g_string_new(NULL), *ebuf = g_string_new(NULL);
	char chunk[65536], *end = NULL;
	int errfd = w->err, eof = 0, exited = 0;
	/* the process's end, even while another holds its output */
	int pidfd = w->pid > 0 && !w->remote ? pidfd_open(w->pid, 0) : -1;

	while (!eof) {
		struct pollfd pfd[3] = {{.fd = w->out, .events = POLLIN},
					{.fd = errfd, .events = POLLIN},
					{.fd = exited ? -1 : pidfd, .events = POLLIN}};
		char *nl;
		ssize_t n;

		if (poll(pfd, 3, exited ? 0 : 500) < 0 && errno != EINTR)
			break;
		/* it ended: what it wrote is read, then it is done */
		if (exited && !pfd[0].revents && !pfd[1].revents)
			eof = 1;
		if (pfd[2].revents)
			exited = 1;
		if (errfd >= 0 && pfd[1].revents) {
			if ((n = read(errfd, chunk, sizeof(chunk))) > 0) {
				g_string_append_len(ebuf, chunk, n);
				stderr_lines(w, ebuf, 0);
			} else {
				errfd = -1;
			}
		}
		if (pfd[0].revents) {
			n = read(w->out, chunk, sizeof(chunk));
			if (n <= 0 && !(n < 0 && errno == EINTR))
				eof = 1;
			else if (n > 0)
				g_string_append_len(buf, chunk, n);
		}
		while ((nl = memchr(buf->str, '\n', buf->len)) != NULL
		       && nl - buf->str <= p->pc.maxline) {
			answer(w, buf->str, (gsize) (nl - buf->str));
			g_string_erase(buf, 0, nl - buf->str + 1);
		}
		g_mutex_lock(&p->lock);
		if (buf->len > (gsize) p->pc.maxline && !w->killed) {
			char *why = g_strdup_printf("answered a line longer than max-line (%lld bytes)",
						    p->pc.maxline);

			worker_kill(w, why);
			g_free(why);
			g_string_truncate(buf, 0);
		}
		if (w->retired && !w->killed
		    && g_get_monotonic_time() - w->retired > RETIRE_GRACE * G_USEC_PER_SEC)
			worker_kill(w, "did not end after its input was closed");
		/* a connection ends when shut; a process group whose output
		 * some process outside it still holds, a while after SIGKILL */
		if (w->killed && (w->pid <= 0
				  || g_get_monotonic_time() - w->killed > RETIRE_GRACE * G_USEC_PER_SEC))
			eof = 1;
		g_mutex_unlock(&p->lock);
	}
	if (pidfd >= 0)
		close(pidfd);
	if (w->pid > 0) {
		/* what it said on stderr before it ended */
		while (errfd >= 0) {
			struct pollfd pfd = {.fd = errfd, .events = POLLIN};
			ssize_t n;

			if (poll(&pfd, 1, 200) <= 0 || (n = read(errfd, chunk, sizeof(chunk))) <= 0)
				break;
			g_string_append_len(ebuf, chunk, n);
			stderr_lines(w, ebuf, 0);
		}
		stderr_lines(w, ebuf, 1);
		end = reap(w->remote ? -1 : w->pid, w->killed ? 0 : RETIRE_GRACE);
	}
	g_mutex_lock(&p->lock);
	if (!w->killed && !w->retired && g_hash_table_size(w->pending) == 0) {
		log_warn("%s: worker %d ended while it held no request: %s", p->sink,
			 w->pid > 0 ? (int) w->pid : (int) w->id,
			 w->pid > 0 ? (end ? end : "ended") : "the service closed the connection");
		w->killed = g_get_monotonic_time();
	} else if (!w->killed && !w->retired) {
		worker_kill(w, w->pid > 0 ? (end ? end : "ended") : "closed the connection");
	}
	else if (!w->killed && end && strcmp(end, "exit status 0"))
		log_warn("%s: worker %d ended after its input was closed: %s",
			 p->sink, (int) w->pid, end);
	w->dead = 1;
	fail_pending(w);
	g_ptr_array_remove(p->workers, w);
	g_cond_broadcast(&p->cond);
	worker_unref(w);
	g_mutex_unlock(&p->lock);
	g_free(end);
	g_string_free(buf, TRUE);
	g_string_free(ebuf, TRUE);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* the pool                                                             */

/* pick - the live worker with the fewest requests in hand, below
 * concurrency, or NULL (lock held) */
static struct worker *
pick(struct sproc *p)
{
	struct worker *best = NULL;
	unsigned i;

	for (i = 0; i < p->workers->len; i++) {
		struct worker *w = p->workers->pdata[i];

		if (w->dead || w->inflight >= (unsigned) p->pc.conc)
			continue;
		if (best == NULL || w->inflight < best->inflight)
			best = w;
	}
	return best;
}

/* live - workers that take requests, and those starting (lock held) */
static unsigned
live(struct sproc *p)
{
	unsigned i, n = p->starting;

	for (i = 0; i < p->workers->len; i++)
		if (!((struct worker *) p->workers->pdata[i])->dead)
			n++;
	return n;
}

enum acquire {
	ACQ_OK,			/* *wp holds a worker and a reference */
	ACQ_BUSY,		/* all busy past queue-timeout: tempfail */
	ACQ_FAIL,		/* a worker could not be started: on-error */
};

/* acquire - a worker for one request (lock held; it is released while a
 * worker starts); timeout: the hook's, for a new worker's hello */
static enum acquire
acquire(struct sproc *p, struct sinkd_ctx *x, long long timeout,
	struct worker **wp)
{
	gint64 until = g_get_monotonic_time() + p->pc.queue_us;
	struct worker *w;
	char *why = NULL;

	for (;;) {
		unsigned n = live(p);

		if ((w = pick(p)) != NULL && n >= (unsigned) p->pc.wmin)
			break;
		if (n < (unsigned) p->pc.wmax) {
			p->starting++;
			p->serial++;
			g_mutex_unlock(&p->lock);
			w = worker_start(p, p->sink, &p->pc, 0, timeout, &why);
			g_mutex_lock(&p->lock);
			p->starting--;
			if (w == NULL) {
				sink_api.log(x, SINKD_LOG_ERROR, why);
				g_free(why);
				g_cond_broadcast(&p->cond);
				/* below workers-min, a worker that is there
				 * still serves */
				if ((w = pick(p)) != NULL)
					break;
				return ACQ_FAIL;
			}
			w->id = p->serial;
			w->pending = g_hash_table_new(g_int64_hash, g_int64_equal);
			g_mutex_init(&w->wlock);
			w->refs = 1;	/* the reader's */
			g_ptr_array_add(p->workers, w);
			g_thread_unref(g_thread_new("sink-worker", reader, w));
			log_info("%s: worker %d started", p->sink,
				 w->pid > 0 ? (int) w->pid : (int) w->id);
			break;
		}
		if (w != NULL)
			break;
		if (!g_cond_wait_until(&p->cond, &p->lock, until)) {
			if ((w = pick(p)) != NULL)
				break;
			return ACQ_BUSY;
		}
	}
	w->refs++;
	w->inflight++;
	*wp = w;
	return ACQ_OK;
}

/* release - a request of w is done (lock held) */
static void
release(struct sproc *p, struct worker *w)
{
	w->inflight--;
	w->served++;
	if (p->pc.maxreq > 0 && w->served >= (unsigned long) p->pc.maxreq)
		worker_retire(w);
	else if (w->dead && !w->killed)
		worker_retire(w);
	g_cond_broadcast(&p->cond);
	worker_unref(w);
}

/* pool_close - every worker of p ends (EOF, then SIGKILL), and their
 * threads are gone */
static void
pool_close(struct sproc *p)
{
	gint64 until = g_get_monotonic_time() + (RETIRE_GRACE + 1) * G_USEC_PER_SEC;
	unsigned i;

	g_mutex_lock(&p->lock);
	p->closing = 1;
	for (i = 0; i < p->workers->len; i++)
		worker_retire(p->workers->pdata[i]);
	while (p->workers->len > 0)
		if (!g_cond_wait_until(&p->cond, &p->lock, until))
			for (i = 0; i < p->workers->len; i++)
				worker_kill(p->workers->pdata[i], NULL);
	g_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------------ */
/* a request                                                            */

/* member_str - "name": value, when value is not NULL (bytes that are
 * not UTF-8 become U+FFFD: JSON is UTF-8) */
static void
member_str(JsonBuilder *b, const char *name, const char *value)
{
	char *valid;

	if (value == NULL)
		return;
	json_builder_set_member_name(b, name);
	if (g_utf8_validate(value, -1, NULL)) {
		json_builder_add_string_value(b, value);
		return;
	}
	valid = g_utf8_make_valid(value, -1);
	json_builder_add_string_value(b, valid);
	g_free(valid);
}

/* member_strv - "name": [values of get(x, i) until NULL] */
static void
member_strv(JsonBuilder *b, const char *name, struct sinkd_ctx *x,
	    const char *(*get)(struct sinkd_ctx *, unsigned))
{
	const char *v;
	unsigned i;

	json_builder_set_member_name(b, name);
	json_builder_begin_array(b);
	for (i = 0; (v = get(x, i)) != NULL; i++) {
		char *valid = g_utf8_make_valid(v, -1);

		json_builder_add_string_value(b, valid);
		g_free(valid);
	}
	json_builder_end_array(b);
}

/* member_table - "name": {key: value...} of a string table, sorted */
static void
member_table(JsonBuilder *b, const char *name, GHashTable *t)
{
	GList *keys = t ? g_list_sort(g_hash_table_get_keys(t), (GCompareFunc) strcmp) : NULL, *l;

	json_builder_set_member_name(b, name);
	json_builder_begin_object(b);
	for (l = keys; l; l = l->next)
		member_str(b, l->data, g_hash_table_lookup(t, l->data));
	json_builder_end_object(b);
	g_list_free(keys);
}

/* the facts every request carries, when known */
static const char *const fact_names[] = {
	"client.addr", "client.name", "client.port", "helo", "auth",
	"tls.version", "tls.cipher", "tls.bits", "tls.subject", "tls.issuer",
	"queue-id", "sender", "direction", "policy", "size", "rcpt-count",
	"dry-run", NULL,
};

/* req_config - "config" of the request: the worker's own keys in the
 * policy in effect */
static void
req_config(JsonBuilder *b, struct sproc *p, struct sinkd_ctx *x)
{
	unsigned i, j;

	json_builder_set_member_name(b, "config");
	json_builder_begin_object(b);
	for (i = NPOOL; i < p->nkeys; i++) {
		const struct sinkd_key *k = &p->keys[i];
		const char *v;

		if (k->type != SINKD_KEY_LIST) {
			member_str(b, k->name, sink_api.config(x, k->name));
			continue;
		}
		json_builder_set_member_name(b, k->name);
		json_builder_begin_array(b);
		for (j = 0; (v = sink_api.config_list(x, k->name, j)) != NULL; j++)
			json_builder_add_string_value(b, v);
		json_builder_end_array(b);
	}
	json_builder_end_object(b);
}

/* req_facts - "facts", "macros", "config" and "kv" of the request */
static void
req_facts(JsonBuilder *b, struct sproc *p, struct sinkd_ctx *x)
{
	struct msg *m = x->conn ? x->conn->msg : NULL;
	unsigned i;

	json_builder_set_member_name(b, "facts");
	json_builder_begin_object(b);
	for (i = 0; fact_names[i]; i++)
		member_str(b, fact_names[i], sink_api.get(x, fact_names[i]));
	if (m && m->facts) {
		GList *keys = g_list_sort(g_hash_table_get_keys(m->facts), (GCompareFunc) strcmp), *l;

		for (l = keys; l; l = l->next)
			member_str(b, l->data, g_hash_table_lookup(m->facts, l->data));
		g_list_free(keys);
	}
	json_builder_end_object(b);
	json_builder_set_member_name(b, "macros");
	json_builder_begin_object(b);
	for (i = 0; p->macros && p->macros[i]; i++) {
		char *k = g_strconcat("macro.", p->macros[i], NULL);

		member_str(b, p->macros[i], sink_api.get(x, k));
		g_free(k);
	}
	json_builder_end_object(b);
	req_config(b, p, x);
	member_table(b, "kv", m ? m->kv : NULL);
}

/* req_message - what eom (and data: the header) reads: "headers",
 * "parts", and "message", the file msgfile holding the raw message */
static void
req_message(JsonBuilder *b, struct sinkd_ctx *x, int eom, const char *msgfile)
{
	struct sinkd_part_info pi;
	const char *name, *raw, *dec;
	unsigned i;
	static const struct {
		unsigned flag;
		const char *name;
	} flags[] = {
		{SINKD_PART_MULTIPART, "multipart"}, {SINKD_PART_MESSAGE, "message"},
		{SINKD_PART_SIGNED, "signed"}, {SINKD_PART_ENCRYPTED, "encrypted"},
		{SINKD_PART_ATTACHMENT, "attachment"}, {SINKD_PART_TEXT, "text"},
	};

	json_builder_set_member_name(b, "headers");
	json_builder_begin_array(b);
	for (i = 0; sink_api.header(x, i, &name, &raw, &dec) == 0; i++) {
		json_builder_begin_object(b);
		member_str(b, "name", name);
		member_str(b, "raw", raw);
		member_str(b, "decoded", dec);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	if (!eom)
		return;
	json_builder_set_member_name(b, "parts");
	json_builder_begin_array(b);
	for (i = 0; sink_api.part_info(x, i, &pi) == 0; i++) {
		unsigned j;

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "index");
		json_builder_add_int_value(b, pi.index);
		json_builder_set_member_name(b, "parent");
		json_builder_add_int_value(b, pi.parent);
		json_builder_set_member_name(b, "depth");
		json_builder_add_int_value(b, pi.depth);
		json_builder_set_member_name(b, "flags");
		json_builder_begin_array(b);
		for (j = 0; j < G_N_ELEMENTS(flags); j++)
			if (pi.flags & flags[j].flag)
				json_builder_add_string_value(b, flags[j].name);
		json_builder_end_array(b);
		member_str(b, "type", pi.type);
		member_str(b, "charset", pi.charset);
		member_str(b, "encoding", pi.encoding);
		member_str(b, "filename", pi.filename);
		json_builder_set_member_name(b, "size");
		json_builder_add_int_value(b, (gint64) pi.size);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	member_str(b, "message", msgfile);
}

/*
 * msg_file - the raw message in a new file, readable by the workers;
 * its path (g_free()), or NULL.  The file is in message-dir (or the
 * spool directory) under a name of 128 random bits, made with O_EXCL:
 * the workers' own when sinkd can give it away (root), else group-
 * readable with the workers' group when sinkd is in it, else readable
 * by anyone who knows the name (message-dir should then be mode 0711)
 */
static char *
msg_file(struct sproc *p, struct sinkd_ctx *x)
{
	const char *dir = *p->pc.msgdir ? p->pc.msgdir : conf_str(&x->conn->snap->main, "spool-dir");
	const char *qid = msg_queue_id(x->conn->msg);
	struct room room = ROOM_INIT;
	unsigned char rnd[16];
	char hex[33], *path, why[512];
	const char *data;
	mode_t mode = 0400;
	size_t len;
	unsigned i;
	int fd, rc;

	if (sink_api.raw(x, &data, &len) < 0)
		return NULL;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd)) {
		log_error("%s: %s: getrandom: %s", qid, p->sink, g_strerror(errno));
		return NULL;
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	path = g_strdup_printf("%s/sinkd-msg.%s", dir, hex);
	/* room for the file on its file system, shared with the spool and
	 * libclamav's tmpdir (room.h), held while it is written */
	if (room_reserve(&room, dir, len, why, sizeof(why)) < 0) {
		log_error("%s: %s: cannot write the message file: %s", qid, p->sink, why);
		g_free(path);
		return NULL;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		log_error("%s: %s: %s: %s", qid, p->sink, path, g_strerror(errno));
		room_release(&room);
		g_free(path);
		return NULL;
	}
	rc = write_all(fd, data, len);
	room_release(&room);
	if (rc == 0 && p->path)
		mode = 0440;
	else if (rc == 0 && p->pc.setuser && p->pc.uid != geteuid()) {
		if (geteuid() == 0)
			rc = fchown(fd, p->pc.uid, p->pc.gid);
		else
			mode = fchown(fd, (uid_t) -1, p->pc.gid) == 0 ? 0440 : 0444;
	}
	if (rc < 0 || fchmod(fd, mode) < 0) {
		log_error("%s: %s: %s: %s", qid, p->sink, path, g_strerror(errno));
		close(fd);
		unlink(path);
		g_free(path);
		return NULL;
	}
	close(fd);
	return path;
}

/* session - x's session id with p (lock held) */
static guint64
session(struct sproc *p, struct sinkd_ctx *x)
{
	gpointer v = g_hash_table_lookup(p->session, x);

	if (v == NULL) {
		v = GSIZE_TO_POINTER(++p->sessions);
		g_hash_table_insert(p->session, x, v);
	}
	return GPOINTER_TO_SIZE(v);
}

/* request_line - the request for hook h with token (g_free()) */
static char *
request_line(struct sproc *p, struct sinkd_ctx *x, enum sproc_hook h,
	     guint64 sid, gint64 token, const char *arg, int closing,
	     const char *msgfile)
{
	JsonBuilder *b = json_builder_new();
	char *s, *line;

	json_builder_begin_object(b);
	member_str(b, "type", "hook");
	member_str(b, "hook", hook_names[h]);
	json_builder_set_member_name(b, "session");
	json_builder_add_int_value(b, (gint64) sid);
	json_builder_set_member_name(b, "token");
	json_builder_add_int_value(b, token);
	if (x->evaluate) {
		json_builder_set_member_name(b, "evaluate");
		json_builder_add_boolean_value(b, TRUE);
	}
	if (h == HOOK_ABORT) {
		json_builder_set_member_name(b, "closing");
		json_builder_add_boolean_value(b, closing);
	}
	req_facts(b, p, x);
	if (h >= HOOK_MAIL && h != HOOK_UNKNOWN && h != HOOK_ABORT)
		member_strv(b, "mail-params", x, sink_api.mail_param);
	if (h == HOOK_RCPT) {
		member_str(b, "rcpt", arg);
		member_strv(b, "rcpt-params", x, sink_api.rcpt_param);
	}
	if (h == HOOK_DATA || h == HOOK_EOM)
		member_strv(b, "rcpts", x, sink_api.rcpt);
	if (h == HOOK_UNKNOWN)
		member_str(b, "command", arg);
	if (h == HOOK_DATA || h == HOOK_EOM)
		req_message(b, x, h == HOOK_EOM, msgfile);
	json_builder_end_object(b);
	s = json_text(b);
	line = g_strconcat(s, "\n", NULL);
	g_free(s);
	g_object_unref(b);
	return line;
}

/* ------------------------------------------------------------------ */
/* an answer's actions                                                  */

/* an action: check only (apply 0: -2 malformed, 0 fine), or apply
 * (-1 refused by struct sinkd_api, 0 done) */
typedef int (*action_fn)(struct sinkd_ctx *x, JsonObject *o, int apply);

/* jindex - o's non-negative integer member name into *v; -1: none */
static int
jindex(JsonObject *o, const char *name, unsigned *v)
{
	gint64 n;

	if (jint(o, name, &n) < 0 || n < 0 || n > G_MAXUINT)
		return -1;
	*v = (unsigned) n;
	return 0;
}

/* jnull - o's member name is null */
static int
jnull(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	return n && JSON_NODE_HOLDS_NULL(n);
}

/* jdata - o's "data" (UTF-8 text) or "base64" member as bytes
 * (g_free()); NULL: neither, or bad base64 */
static guchar *
jdata(JsonObject *o, gsize *len)
{
	const char *s;

	if ((s = jstr(o, "data")) != NULL) {
		*len = strlen(s);
		return (guchar *) g_strdup(s);
	}
	if ((s = jstr(o, "base64")) != NULL) {
		guchar *d = g_base64_decode(s, len);

		return d ? d : (guchar *) g_strdup("");
	}
	return NULL;
}

/* act_header_add - "header-add": name, value */
static int
act_header_add(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	if (!jstr(o, "name") || !jstr(o, "value"))
		return -2;
	return apply ? sink_api.header_add(x, jstr(o, "name"), jstr(o, "value")) : 0;
}

/* act_header_insert - "header-insert": index, name, value */
static int
act_header_insert(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	unsigned i;

	if (jindex(o, "index", &i) < 0 || !jstr(o, "name") || !jstr(o, "value"))
		return -2;
	return apply ? sink_api.header_insert(x, i, jstr(o, "name"), jstr(o, "value")) : 0;
}

/* act_header_change - "header-change": name, n, value (null: delete) */
static int
act_header_change(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	unsigned n;

	if (!jstr(o, "name") || jindex(o, "n", &n) < 0 || (!jstr(o, "value") && !jnull(o, "value")))
		return -2;
	return apply ? sink_api.header_change(x, jstr(o, "name"), n, jstr(o, "value")) : 0;
}

/* act_header_delete - "header-delete": name, n */
static int
act_header_delete(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	unsigned n;

	if (!jstr(o, "name") || jindex(o, "n", &n) < 0)
		return -2;
	return apply ? sink_api.header_change(x, jstr(o, "name"), n, NULL) : 0;
}

/* act_rcpt_add - "rcpt-add": addr */
static int
act_rcpt_add(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	if (!jstr(o, "addr"))
		return -2;
	return apply ? sink_api.rcpt_add(x, jstr(o, "addr")) : 0;
}

/* act_rcpt_delete - "rcpt-delete": addr */
static int
act_rcpt_delete(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	if (!jstr(o, "addr"))
		return -2;
	return apply ? sink_api.rcpt_delete(x, jstr(o, "addr")) : 0;
}

/* act_sender_change - "sender-change": addr */
static int
act_sender_change(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	if (!jstr(o, "addr"))
		return -2;
	return apply ? sink_api.sender_change(x, jstr(o, "addr")) : 0;
}

/* act_part_replace - "part-replace": part, [type], [filename], data or base64 */
static int
act_part_replace(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	unsigned i;
	guchar *d;
	gsize len;
	int rc;

	if (jindex(o, "part", &i) < 0 || (d = jdata(o, &len)) == NULL)
		return -2;
	rc = apply ? sink_api.part_replace(x, i, jstr(o, "type"), jstr(o, "filename"), d, len) : 0;
	g_free(d);
	return rc;
}

/* act_part_remove - "part-remove": part, [note] */
static int
act_part_remove(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	unsigned i;

	if (jindex(o, "part", &i) < 0)
		return -2;
	return apply ? sink_api.part_remove(x, i, jstr(o, "note")) : 0;
}

/* act_part_add - "part-add": type, [filename], data or base64 */
static int
act_part_add(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	guchar *d;
	gsize len;
	int rc;

	if (!jstr(o, "type") || (d = jdata(o, &len)) == NULL)
		return -2;
	rc = apply ? sink_api.part_add(x, jstr(o, "type"), jstr(o, "filename"), d, len) : 0;
	g_free(d);
	return rc;
}

/* act_text_append - "text-append": part, text */
static int
act_text_append(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	unsigned i;

	if (jindex(o, "part", &i) < 0 || !jstr(o, "text"))
		return -2;
	return apply ? sink_api.text_append(x, i, jstr(o, "text")) : 0;
}

/* act_footer - "footer": text, [html] (null: the text, escaped) */
static int
act_footer(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	if (!jstr(o, "text")
	    || (json_object_has_member(o, "html") && !jstr(o, "html") && !jnull(o, "html")))
		return -2;
	return apply ? sink_api.footer(x, jstr(o, "text"), jstr(o, "html")) : 0;
}

/* act_wrap - "wrap": [text] (null or absent: none) */
static int
act_wrap(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	if (json_object_has_member(o, "text") && !jstr(o, "text") && !jnull(o, "text"))
		return -2;
	return apply ? sink_api.wrap(x, jstr(o, "text")) : 0;
}

/* act_note - "note": key, value */
static int
act_note(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	if (!jstr(o, "key") || !jstr(o, "value"))
		return -2;
	return apply ? sink_api.note(x, jstr(o, "key"), jstr(o, "value")) : 0;
}

/* act_kv_set - "kv-set": key, value (null: remove) */
static int
act_kv_set(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	if (!jstr(o, "key") || (!jstr(o, "value") && !jnull(o, "value")))
		return -2;
	return apply ? sink_api.kv_set(x, jstr(o, "key"), jstr(o, "value")) : 0;
}

/* act_log - "log": [level], text */
static int
act_log(struct sinkd_ctx *x, JsonObject *o, int apply)
{
	static const char *const levels[] = {"debug", "info", "warning", "error"};
	const char *l = jstr(o, "level");
	unsigned i;

	for (i = 0; l && i < G_N_ELEMENTS(levels); i++)
		if (!strcmp(l, levels[i]))
			break;
	if (!jstr(o, "text") || (l && i == G_N_ELEMENTS(levels)))
		return -2;
	if (apply)
		sink_api.log(x, l ? (enum sinkd_log) i : SINKD_LOG_INFO, jstr(o, "text"));
	return 0;
}

/* the actions an answer may carry, by name */
static const struct {
	const char *name;
	action_fn fn;
} actions[] = {
	{"header-add", act_header_add}, {"header-insert", act_header_insert},
	{"header-change", act_header_change}, {"header-delete", act_header_delete},
	{"rcpt-add", act_rcpt_add}, {"rcpt-delete", act_rcpt_delete},
	{"sender-change", act_sender_change}, {"part-replace", act_part_replace},
	{"part-remove", act_part_remove}, {"part-add", act_part_add},
	{"text-append", act_text_append}, {"footer", act_footer},
	{"wrap", act_wrap},
	{"note", act_note}, {"kv-set", act_kv_set}, {"log", act_log},
};

/* action_of - the action o names, or NULL */
static action_fn
action_of(JsonObject *o)
{
	const char *name = jstr(o, "action");
	unsigned i;

	for (i = 0; name && i < G_N_ELEMENTS(actions); i++)
		if (!strcmp(name, actions[i].name))
			return actions[i].fn;
	return NULL;
}

static const char *const verdict_names[] = {
	[SINKD_CONTINUE] = "continue", [SINKD_ACCEPT] = "accept",
	[SINKD_REJECT] = "reject", [SINKD_TEMPFAIL] = "tempfail",
	[SINKD_DISCARD] = "discard", [SINKD_QUARANTINE] = "quarantine",
	[SINKD_ERROR] = "error",
};

/* apply - the answer a of hook h: its actions made (all checked first:
 * one malformed action fails the hook and none is made), its reply set;
 * its verdict */
static enum sinkd_verdict
apply(struct sinkd_ctx *x, enum sproc_hook h, JsonObject *a)
{
	const char *vs = jstr(a, "verdict");
	JsonArray *acts = jarray(a, "actions");
	JsonNode *rn = json_object_get_member(a, "reply");
	unsigned i, n = acts ? json_array_get_length(acts) : 0;
	enum sinkd_verdict v = SINKD_CONTINUE;
	char *why = NULL;

	if (vs) {
		for (i = 0; i < G_N_ELEMENTS(verdict_names); i++)
			if (!strcmp(vs, verdict_names[i]))
				break;
		if (i == G_N_ELEMENTS(verdict_names))
			why = g_strdup_printf("%s: verdict \"%s\": no such verdict", hook_names[h], vs);
		else
			v = (enum sinkd_verdict) i;
	} else if (json_object_has_member(a, "verdict")) {
		why = g_strdup_printf("%s: verdict: not a string", hook_names[h]);
	}
	if (why == NULL && json_object_has_member(a, "actions") && acts == NULL)
		why = g_strdup_printf("%s: actions: not a list", hook_names[h]);
	if (why == NULL && rn && !JSON_NODE_HOLDS_NULL(rn) && !JSON_NODE_HOLDS_OBJECT(rn))
		why = g_strdup_printf("%s: reply: not an object", hook_names[h]);
	for (i = 0; why == NULL && i < n; i++) {
		JsonNode *e = json_array_get_element(acts, i);
		JsonObject *o = JSON_NODE_HOLDS_OBJECT(e) ? json_node_get_object(e) : NULL;
		action_fn fn = o ? action_of(o) : NULL;

		if (fn == NULL)
			why = g_strdup_printf("%s: actions[%u]: no such action%s%s", hook_names[h], i,
					      jstr(o, "action") ? " " : "",
					      jstr(o, "action") ? jstr(o, "action") : "");
		else if (fn(x, o, 0) < 0)
			why = g_strdup_printf("%s: actions[%u] (%s): a member is missing or of the wrong type",
					      hook_names[h], i, jstr(o, "action"));
	}
	if (why) {
		sink_api.log(x, SINKD_LOG_ERROR, why);
		g_free(why);
		return SINKD_ERROR;
	}
	if (h == HOOK_ABORT)
		return SINKD_CONTINUE;
	for (i = 0; i < n; i++) {
		JsonObject *o = json_array_get_object_element(acts, i);

		if (action_of(o)(x, o, 1) < 0) {
			char *l = g_strdup_printf("%s: actions[%u] (%s) refused (sinkd-sink(3))",
						  hook_names[h], i, jstr(o, "action"));

			sink_api.log(x, SINKD_LOG_WARNING, l);
			g_free(l);
		}
	}
	if (rn && JSON_NODE_HOLDS_OBJECT(rn)) {
		JsonObject *r = json_node_get_object(rn);

		if (sink_api.reply(x, jstr(r, "code"), jstr(r, "xcode"), jstr(r, "text")) < 0) {
			char *l = g_strdup_printf("%s: reply refused (a code of 4xx or 5xx, a text without CR or LF)",
						  hook_names[h]);

			sink_api.log(x, SINKD_LOG_WARNING, l);
			g_free(l);
		}
	}
	return v;
}

/* ------------------------------------------------------------------ */
/* the hooks                                                            */

/* what ask() came to */
enum ask {
	ASK_ANSWERED,		/* *answer holds the answer */
	ASK_BUSY,		/* every worker busy past queue-timeout */
	ASK_FAILED,		/* no worker, or it failed (logged) */
};

/* a request line, for the token it is given (g_free()) */
typedef char *(*line_fn)(void *arg, gint64 token);

/*
 * ask - one request to a worker of p: a worker taken, the line made
 * for its token and written, the answer waited for until timeout
 * seconds (past them the worker is killed); a worker that fails
 * meanwhile costs this request only.  what names the request in logs
 */
static enum ask
ask(struct sproc *p, struct sinkd_ctx *x, const char *what, long long timeout,
    line_fn line, void *arg, JsonNode **answer)
{
	gint64 deadline = g_get_monotonic_time() + timeout * G_USEC_PER_SEC;
	struct req r = {.state = 0};
	struct worker *w = NULL;
	char *l, *why = NULL;
	enum acquire got;
	int wrc;

	g_mutex_lock(&p->lock);
	got = acquire(p, x, timeout, &w);
	if (got == ACQ_OK) {
		r.token = (gint64) ++p->tokens;
		g_hash_table_insert(w->pending, &r.token, &r);
	}
	g_mutex_unlock(&p->lock);
	if (got != ACQ_OK)
		return got == ACQ_BUSY ? ASK_BUSY : ASK_FAILED;
	l = line(arg, r.token);
	g_mutex_lock(&w->wlock);
	wrc = w->in >= 0 ? write_all(w->in, l, strlen(l)) : -1;
	g_mutex_unlock(&w->wlock);
	g_free(l);
	g_mutex_lock(&p->lock);
	if (wrc < 0 && r.state == 0)
		worker_kill(w, "cannot be written to");
	while (r.state == 0)
		if (!g_cond_wait_until(&p->cond, &p->lock, deadline) && r.state == 0) {
			why = g_strdup_printf("no answer to %s within %llds", what, timeout);
			worker_kill(w, why);
		}
	g_hash_table_remove(w->pending, &r.token);
	release(p, w);
	g_mutex_unlock(&p->lock);
	if (r.state == 1) {
		*answer = r.answer;
		g_free(why);
		return ASK_ANSWERED;
	}
	l = g_strdup_printf("%s: the worker failed (%s)", what, why ? why : "see its line");
	sink_api.log(x, SINKD_LOG_ERROR, l);
	g_free(l);
	g_free(why);
	return ASK_FAILED;
}

/* a hook's request, for hook_line() */
struct hook_req {
	struct sproc *p;
	struct sinkd_ctx *x;
	enum sproc_hook h;
	guint64 sid;
	const char *arg;
	int closing;
	const char *msgfile;
};

/* hook_line - the line of a hook's request (a struct hook_req) */
static char *
hook_line(void *arg, gint64 token)
{
	struct hook_req *q = arg;

	return request_line(q->p, q->x, q->h, q->sid, token, q->arg, q->closing, q->msgfile);
}

/*
 * run - hook h of the sink for x: the request asked, its answer applied;
 * a full pool gives tempfail, a worker that fails the sink's on-error
 */
static enum sinkd_verdict
run(struct sproc *p, struct sinkd_ctx *x, enum sproc_hook h, const char *arg,
    int closing)
{
	long long timeout = x->g ? conf_num(x->g, "timeout") : 30;
	struct hook_req q = {.p = p, .x = x, .h = h, .arg = arg, .closing = closing};
	enum sinkd_verdict v = SINKD_ERROR;
	char *msgfile = NULL, *l;
	JsonNode *answer = NULL;

	if (h == HOOK_EOM && (msgfile = msg_file(p, x)) == NULL)
		return SINKD_ERROR;
	q.msgfile = msgfile;
	g_mutex_lock(&p->lock);
	q.sid = session(p, x);
	if (closing)
		g_hash_table_remove(p->session, x);
	g_mutex_unlock(&p->lock);
	switch (ask(p, x, hook_names[h], timeout, hook_line, &q, &answer)) {
	case ASK_ANSWERED:
		v = apply(x, h, json_node_get_object(answer));
		json_node_unref(answer);
		break;
	case ASK_BUSY:
		l = g_strdup_printf("all %lld workers busy for %llds; tempfail",
				    p->pc.wmax, p->pc.queue_us / G_USEC_PER_SEC);
		sink_api.log(x, SINKD_LOG_ERROR, l);
		g_free(l);
		sink_api.reply(x, "451", "4.3.2", "mail filter busy, try again later");
		v = SINKD_TEMPFAIL;
		break;
	case ASK_FAILED:
		break;
	}
	if (msgfile) {
		unlink(msgfile);
		g_free(msgfile);
	}
	return v;
}

#ifdef SINKD_ACCEPTED_BODY
/* after-accept events (sink ABI 1.1: the accepted hook) */

/* an event's request, for accepted_line() */
struct accepted_req {
	const char *event;	/* one line of JSON */
	const char *body;	/* the message's copy, or NULL */
	struct sproc *p;
	struct sinkd_ctx *c;	/* config() answers in it */
};

/* accepted_line - {"type": "accepted", "token", "event", "body"} */
static char *
accepted_line(void *arg, gint64 token)
{
	struct accepted_req *q = arg;
	char *tok = g_strdup_printf("%" G_GINT64_FORMAT, token), *body = NULL, *line, *cfg;
	JsonBuilder *b = json_builder_new();
	JsonNode *root;

	/* the sink's keys, as in a hook's request: {"config": {...}} */
	json_builder_begin_object(b);
	req_config(b, q->p, q->c);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	cfg = json_to_string(root, FALSE);
	json_node_unref(root);
	g_object_unref(b);
	cfg[strlen(cfg) - 1] = 0;	/* {"config":{...}} less its last brace */
	if (q->body) {
		JsonNode *n = json_node_init_string(json_node_alloc(), q->body);

		body = json_to_string(n, FALSE);
		json_node_unref(n);
	}
	/* the event is JSON already (sinkd's own, one line): as it is */
	line = g_strconcat("{\"type\":\"accepted\",\"token\":", tok, ",\"event\":", q->event,
			   body ? ",\"body\":" : "", body ? body : "", ",", cfg + 1, "}\n", NULL);
	g_free(cfg);
	g_free(tok);
	g_free(body);
	return line;
}

/*
 * proc_accepted - an event to a worker: its answer's result ("done",
 * "retry", "fail"); a full pool, a failing worker or an answer without
 * a result is a retry
 */
static enum sinkd_event_result
proc_accepted(void *state, struct sinkd_ctx *c, const char *event,
	      const char *body)
{
	struct sproc *p = state;
	struct accepted_req q = {.event = event, .body = body, .p = state, .c = c};
	long long timeout = c->g ? conf_num(c->g, "timeout") : 30;
	JsonNode *answer = NULL;
	enum sinkd_event_result r = SINKD_EVENT_RETRY;
	const char *res;

	switch (ask(p, c, "accepted", timeout, accepted_line, &q, &answer)) {
	case ASK_ANSWERED:
		res = jstr(json_node_get_object(answer), "result");
		if (res && !strcmp(res, "done"))
			r = SINKD_EVENT_DONE;
		else if (res && !strcmp(res, "fail"))
			r = SINKD_EVENT_FAIL;
		else if (res == NULL || strcmp(res, "retry"))
			sink_api.log(c, SINKD_LOG_WARNING, "accepted: an answer without a result (done, retry, fail); retry");
		json_node_unref(answer);
		break;
	case ASK_BUSY:
		sink_api.log(c, SINKD_LOG_WARNING, "accepted: every worker busy; retry");
		break;
	case ASK_FAILED:
		break;
	}
	return r;
}
#endif

/* proc_connect - the worker's connect hook */
static enum sinkd_verdict
proc_connect(void *state, struct sinkd_ctx *c)
{
	return run(state, c, HOOK_CONNECT, NULL, 0);
}

/* proc_helo - the worker's helo hook */
static enum sinkd_verdict
proc_helo(void *state, struct sinkd_ctx *c)
{
	return run(state, c, HOOK_HELO, NULL, 0);
}

/* proc_mail - the worker's mail hook */
static enum sinkd_verdict
proc_mail(void *state, struct sinkd_ctx *c)
{
	return run(state, c, HOOK_MAIL, NULL, 0);
}

/* proc_rcpt - the worker's rcpt hook, for addr */
static enum sinkd_verdict
proc_rcpt(void *state, struct sinkd_ctx *c, const char *addr)
{
	return run(state, c, HOOK_RCPT, addr, 0);
}

/* proc_data - the worker's data hook */
static enum sinkd_verdict
proc_data(void *state, struct sinkd_ctx *c)
{
	return run(state, c, HOOK_DATA, NULL, 0);
}

/* proc_unknown - the worker's hook for a command the MTA does not know */
static enum sinkd_verdict
proc_unknown(void *state, struct sinkd_ctx *c, const char *cmd)
{
	return run(state, c, HOOK_UNKNOWN, cmd, 0);
}

/* proc_eom - the worker's end-of-message hook */
static enum sinkd_verdict
proc_eom(void *state, struct sinkd_ctx *c)
{
	return run(state, c, HOOK_EOM, NULL, 0);
}

/* proc_abort - the worker's abort, if it has one; the session ends
 * when the connection closes */
static void
proc_abort(void *state, struct sinkd_ctx *c, int closing)
{
	struct sproc *p = state;

	if (p->hooks & (1u << HOOK_ABORT)) {
		run(p, c, HOOK_ABORT, NULL, closing);
		return;
	}
	if (closing) {
		g_mutex_lock(&p->lock);
		g_hash_table_remove(p->session, c);
		g_mutex_unlock(&p->lock);
	}
}

/* cfg_error - an error line about key k of the default policy, led by
 * where k was set ("sinkd.conf:12: workers-max = 0: at least 1") */
static void G_GNUC_PRINTF(4, 5)
cfg_error(const struct sinkd_api *api, struct sinkd_ctx *c, const char *k,
	  const char *fmt, ...)
{
	char *where = conf_value_origin(conf_get(c->g, k)), *what, *l;
	va_list ap;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	l = g_strdup_printf("%s: %s", where, what);
	api->log(c, SINKD_LOG_ERROR, l);
	g_free(l);
	g_free(what);
	g_free(where);
}

/* cfg_num - key k of the default policy as a number, or -1 after a
 * log line when it is below min */
static long long
cfg_num(const struct sinkd_api *api, struct sinkd_ctx *c, const char *k,
	long long min)
{
	long long v = conf_num(c->g, k);

	if (v < min) {
		cfg_error(api, c, k, "%s = %lld: at least %lld", k, v, min);
		return -1;
	}
	return v;
}

/* proc_init - the pool's settings, from the default policy; no worker
 * starts here (sinkd may fork into the background after init) */
static int
proc_init(const struct sinkd_api *api, struct sinkd_ctx *c, void **state)
{
	struct sproc *p = (struct sproc *) c->sink->ss;	/* ss is p's first member */
	struct pool_cfg *pc = &p->pc;
	const char *user = api->config(c, "user");
	long long q;

	g_free(p->sink);
	p->sink = g_strdup(c->sink->name);
	if ((pc->wmin = cfg_num(api, c, "workers-min", 0)) < 0
	    || (pc->wmax = cfg_num(api, c, "workers-max", 1)) < 0
	    || (pc->conc = cfg_num(api, c, "concurrency", 1)) < 0
	    || (pc->maxreq = cfg_num(api, c, "max-requests", 0)) < 0
	    || (q = cfg_num(api, c, "queue-timeout", 0)) < 0
	    || (pc->nofile = cfg_num(api, c, "nofile-limit", 0)) < 0)
		return -1;
	if (pc->wmin > pc->wmax) {
		cfg_error(api, c, "workers-min", "workers-min is more than workers-max (%lld)",
			  pc->wmax);
		return -1;
	}
	if (pc->nofile > 0 && pc->nofile < 8) {
		cfg_error(api, c, "nofile-limit", "nofile-limit: at least 8 (or 0)");
		return -1;
	}
	pc->queue_us = q * G_USEC_PER_SEC;
	pc->mem = conf_num(c->g, "memory-limit");
	pc->cpu = conf_num(c->g, "cpu-limit");
	pc->maxline = conf_num(c->g, "max-line");
	g_free(pc->msgdir);
	pc->msgdir = g_strdup(api->config(c, "message-dir") ? api->config(c, "message-dir") : "");
	if (*pc->msgdir && !g_file_test(pc->msgdir, G_FILE_TEST_IS_DIR)) {
		cfg_error(api, c, "message-dir", "message-dir %s: not a directory", pc->msgdir);
		return -1;
	}
	if (pc->maxline < 4096)
		pc->maxline = 4096;
	g_free(pc->user);
	pc->user = g_strdup(user ? user : "");
	pc->setuser = 0;
	if (*pc->user) {
		struct passwd *pw = getpwnam(pc->user);
		char *l;

		if (p->path) {
			api->log(c, SINKD_LOG_ERROR, "user: a service (socket =) runs as its own user");
			return -1;
		}
		if (pw == NULL) {
			l = g_strdup_printf("user %s: no such user", pc->user);
			api->log(c, SINKD_LOG_ERROR, l);
			g_free(l);
			return -1;
		}
		if (pw->pw_uid == 0) {
			api->log(c, SINKD_LOG_ERROR, "user: workers never run as root");
			return -1;
		}
		pc->uid = pw->pw_uid;
		pc->gid = pw->pw_gid;
		pc->setuser = 1;
		sproc_users = 1;
	}
	*state = p;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the providers                                                        */

/* sproc_free - everything of p */
static void
sproc_free(struct sproc *p)
{
	if (p == NULL)
		return;
	if (p->workers) {
		pool_close(p);
		g_ptr_array_free(p->workers, TRUE);
	}
	if (p->session)
		g_hash_table_destroy(p->session);
	g_mutex_clear(&p->lock);
	g_cond_clear(&p->cond);
	g_strfreev(p->argv);
	g_strfreev(p->macros);
	if (p->strings)
		g_ptr_array_free(p->strings, TRUE);
	g_free(p->keys);
	g_free(p->arg);
	g_free(p->path);
	g_free(p->wname);
	g_free(p->sink);
	g_free(p->pc.user);
	g_free(p->pc.msgdir);
	g_free(p);
}

/* what the glue said of the group before open (sproc_group); open runs
 * on the thread that loads the configuration */
static __thread char *open_user;	/* the group's user key, or NULL */
static __thread uid_t open_sinkd_user = (uid_t) -1;

/* sproc_group - the user of the group that is opened next, and sinkd's */
static void
sproc_group(const struct conf_file *f, const char *group, uid_t sinkd_user)
{
	g_free(open_user);
	open_user = conf_file_get(f, group, "user");
	if (open_user && *g_strstrip(open_user) == 0) {
		g_free(open_user);
		open_user = NULL;
	}
	open_sinkd_user = sinkd_user;
}

/* open_pc - whom the worker that says hello at open runs as: as root,
 * the group's user, or else sinkd's user (never root, unless sinkd's
 * user is); otherwise sinkd's own; -1 with *why */
static int
open_pc(struct pool_cfg *pc, char **why)
{
	struct passwd *pw = NULL;

	memset(pc, 0, sizeof(*pc));
	pc->maxline = OPEN_LINE_MAX;
	if (geteuid() != 0)
		return 0;
	if (open_user && (pw = getpwnam(open_user)) == NULL) {
		*why = g_strdup_printf("user %s: no such user", open_user);
		return -1;
	}
	if (pw && pw->pw_uid == 0) {
		*why = g_strdup_printf("user %s: workers never run as root", open_user);
		return -1;
	}
	if (pw == NULL && open_sinkd_user != (uid_t) -1 && open_sinkd_user != 0)
		pw = getpwuid(open_sinkd_user);
	if (pw == NULL)
		return 0;
	pc->setuser = 1;
	pc->uid = pw->pw_uid;
	pc->gid = pw->pw_gid;
	pc->user = g_strdup(pw->pw_name);
	return 0;
}

/* sproc_open - the sink that arg (a command line, or unix:PATH) runs:
 * one worker started (as open_pc() says, without limits) or one
 * connection, its hello read, and let go; NULL with *why */
static const struct sinkd_sink *
sproc_open(const char *arg, int command, void **handle, char **why)
{
	struct sproc *p = g_new0(struct sproc, 1);
	struct sinkd_sink *ss = &p->ss;
	struct pool_cfg pc;
	GError *err = NULL;
	struct worker *w;
	int rc;

	*handle = NULL;
	g_mutex_init(&p->lock);
	g_cond_init(&p->cond);
	p->arg = g_strdup(arg);
	p->strings = g_ptr_array_new_with_free_func(g_free);
	p->sink = g_strdup("sink");
	if (command && !g_shell_parse_argv(arg, NULL, &p->argv, &err)) {
		*why = g_strdup(err->message);
		g_error_free(err);
		goto fail;
	}
	if (!command) {
		if (!g_str_has_prefix(arg, "unix:") || arg[5] != '/') {
			*why = g_strdup_printf("\"%s\": not unix:/PATH", arg);
			goto fail;
		}
		p->path = g_strdup(arg + 5);
	}
	rc = open_pc(&pc, why);
	g_free(open_user);	/* sproc_group's, for this open only */
	open_user = NULL;
	open_sinkd_user = (uid_t) -1;
	if (rc < 0)
		goto fail;
	w = worker_start(p, "sink", &pc, 1, HELLO_TIMEOUT, why);
	g_free(pc.user);
	if (w == NULL)
		goto fail;
	/* this worker only said hello: EOF, and it ends */
	if (w->pid > 0) {
		char *end;

		close(w->in);
		w->in = -1;
		end = reap(w->pid, RETIRE_GRACE);
		g_free(end);
	}
	worker_close_fds(w);
	g_free(w);
	ss->abi_major = SINKD_SINK_ABI_MAJOR;
	ss->abi_minor = SINKD_SINK_ABI_MINOR;
	ss->name = p->wname;
	ss->keys = p->keys;
	ss->init = proc_init;
	ss->connect = p->hooks & (1u << HOOK_CONNECT) ? proc_connect : NULL;
	ss->helo = p->hooks & (1u << HOOK_HELO) ? proc_helo : NULL;
	ss->mail = p->hooks & (1u << HOOK_MAIL) ? proc_mail : NULL;
	ss->rcpt = p->hooks & (1u << HOOK_RCPT) ? proc_rcpt : NULL;
	ss->data = p->hooks & (1u << HOOK_DATA) ? proc_data : NULL;
	ss->unknown = p->hooks & (1u << HOOK_UNKNOWN) ? proc_unknown : NULL;
	ss->eom = p->hooks & (1u << HOOK_EOM) ? proc_eom : NULL;
	ss->abort = proc_abort;	/* always: the session ends at close */
#ifdef SINKD_ACCEPTED_BODY
	ss->accepted = p->accepted ? proc_accepted : NULL;
	ss->accepted_flags = p->accepted_body ? SINKD_ACCEPTED_BODY : 0;
#endif
	p->workers = g_ptr_array_new();
	p->session = g_hash_table_new(g_direct_hash, g_direct_equal);
	p->pc.wmax = 1;
	p->pc.conc = 1;
	p->pc.maxline = OPEN_LINE_MAX;
	*handle = p;
	return ss;
fail:
	sproc_free(p);
	return NULL;
}

/* command_open - sink_proc_command's open */
static const struct sinkd_sink *
command_open(const char *arg, const struct sinkd_api *api, void **handle,
	     char **why)
{
	(void) api;
	return sproc_open(arg, 1, handle, why);
}

/* socket_open - sink_proc_socket's open */
static const struct sinkd_sink *
socket_open(const char *arg, const struct sinkd_api *api, void **handle,
	    char **why)
{
	(void) api;
	return sproc_open(arg, 0, handle, why);
}

/* sproc_close - the pool ends, and the sink with it */
static void
sproc_close(void *handle)
{
	sproc_free(handle);
}

const struct sink_provider sink_proc_command = {
	.key = "command",
	.arg = SINK_ARG_COMMAND,
	.stop = "the worker is killed",
	.open = command_open,
	.close = sproc_close,
	.group = sproc_group,
	.main_keys = pool_keys,
};

const struct sink_provider sink_proc_socket = {
	.key = "socket",
	.arg = SINK_ARG_ADDRESS,
	.stop = "the connection is closed",
	.open = socket_open,
	.close = sproc_close,
	.main_keys = pool_keys,
};
