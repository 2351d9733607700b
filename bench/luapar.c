/*
 * luapar - Lua sinks on many threads: hooks per second, 1 to N threads
 *
 * usage: luapar [-n hooks] [-t threads] [script]
 *
 * Opens the script (by default a CPU-bound one: a sum over a loop and a
 * string scan) with sinkd's Lua provider, as sinkd opens a sink, and runs
 * its eom hook -n times in all (default 2000) on 1, 2, ... -t threads
 * (default: the number of CPUs), each thread on its own state, then
 * the same hooks in as many processes of one thread each (forked: no
 * memory shared), and prints one line per count: hooks, seconds, hooks
 * per second, the speed-up over one thread, and the time of the
 * processes over that of the threads.  With no lock around the states
 * threads scale as processes do (a ratio near 1), whatever else the
 * machine runs; a lock would keep the threads' time at one thread's.
 *
 * The struct sinkd_api here answers only config (the limits) and
 * header_get; the hook's work is the script's own.
 */
#include <pthread.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>

#include "../src/sink_lua.h"

static const char default_script[] =
	"local text = string.rep('lorem ipsum dolor sit amet ', 400)\n"
	"return {\n"
	"  eom = function(ctx)\n"
	"    local sum = 0\n"
	"    for i = 1, 100000 do sum = (sum + i * i) % 1000003 end\n"
	"    local n = 0\n"
	"    for w in text:gmatch('%a+') do n = n + #w end\n"
	"    if ctx:header_get('Subject') == 'x' .. sum .. n then return 'reject' end\n"
	"  end,\n"
	"}\n";

/* b_config - api->config: every key at its default */
static const char *
b_config(struct sinkd_ctx *c, const char *key)
{
	(void) c;
	(void) key;
	return NULL;		/* the defaults */
}

/* b_header_get - api->header_get: one value for every field */
static const char *
b_header_get(struct sinkd_ctx *c, const char *name, unsigned n)
{
	(void) c;
	(void) name;
	(void) n;
	return "bench";
}

/* b_log - api->log: to stderr */
static void
b_log(struct sinkd_ctx *c, enum sinkd_log level, const char *text)
{
	(void) c;
	fprintf(stderr, "luapar: log %d: %s\n", (int) level, text);
}

static const struct sinkd_api api = {
	.size = sizeof(struct sinkd_api),
	.abi_major = SINKD_SINK_ABI_MAJOR,
	.abi_minor = SINKD_SINK_ABI_MINOR,
	.config = b_config,
	.header_get = b_header_get,
	.log = b_log,
};

static const struct sinkd_sink *ss;
static struct sink sink;
static void *state;
static int failed;

/* worker - n eom hooks on this thread */
static void *
worker(void *arg)
{
	long n = (long) arg, i;
	struct sinkd_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.sink = &sink;
	for (i = 0; i < n; i++)
		if (ss->eom(state, &ctx) == SINKD_ERROR)
			__atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* run - hooks on threads; the seconds it took */
static double
run(long hooks, int threads)
{
	pthread_t t[threads];
	struct timespec a, b;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, worker,
				   (void *) (hooks / threads + (i < hooks % threads))) != 0) {
			perror("luapar: pthread_create");
			exit(1);
		}
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

/* run_procs - hooks in procs processes of one thread; the seconds */
static double
run_procs(long hooks, int procs)
{
	struct timespec a, b;
	int i, status;
	pid_t pid;

	fflush(NULL);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) < 0) {
			perror("luapar: fork");
			exit(1);
		}
		if (pid == 0) {
			run(hooks / procs + (i < hooks % procs), 1);
			_exit(failed ? 1 : 0);
		}
	}
	for (i = 0; i < procs; i++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

int
main(int argc, char **argv)
{
	long hooks = 2000;
	int threads = (int) sysconf(_SC_NPROCESSORS_ONLN), n, c;
	char *path = NULL, *dir = NULL, *why = NULL;
	struct sinkd_ctx config;
	double one = 0, s, p;

	while ((c = getopt(argc, argv, "n:t:")) != -1) {
		switch (c) {
		case 'n':
			hooks = atol(optarg);
			break;
		case 't':
			threads = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: luapar [-n hooks] [-t threads] [script]\n");
			return 64;
		}
	}
	if (hooks < 1 || threads < 1 || threads > 256) {
		fprintf(stderr, "luapar: bad -n or -t\n");
		return 64;
	}
	if (optind < argc) {
		path = g_strdup(argv[optind]);
	} else {
		dir = g_build_filename(g_get_tmp_dir(), "luapar.XXXXXX", NULL);
		if (g_mkdtemp(dir) == NULL)
			return 1;
		path = g_build_filename(dir, "bench.lua", NULL);
		if (!g_file_set_contents(path, default_script, -1, NULL))
			return 1;
	}
	if ((ss = sink_lua.open(path, &api, &sink.handle, &why)) == NULL) {
		fprintf(stderr, "luapar: %s\n", why);
		return 1;
	}
	memset(&config, 0, sizeof(config));
	config.sink = &sink;
	if (ss->init(&api, &config, &state) < 0 || ss->eom == NULL) {
		fprintf(stderr, "luapar: init failed, or the script has no eom\n");
		return 1;
	}
	for (n = 1; n <= threads; n++) {
		s = run(hooks, n);
		p = run_procs(hooks, n);
		if (n == 1)
			one = s;
		printf("threads=%d hooks=%ld seconds=%.3f hooks_per_second=%.0f speedup=%.2f processes_seconds=%.3f processes_over_threads=%.2f\n",
		       n, hooks, s, hooks / s, one / s, p, p / s);
	}
	ss->shutdown(state);
	sink_lua.close(sink.handle);
	if (dir) {
		unlink(path);
		rmdir(dir);
	}
	g_free(path);
	g_free(dir);
	return failed ? 1 : 0;
}
