/*
 * sinklua_test - Lua sinks run in parallel: one state per thread, no lock
 *
 * The script's eom waits, spinning in Lua, until every thread has entered
 * it: that ends only if all of them run Lua at the same moment, which a
 * state shared behind a lock would never allow (the first thread would
 * spin to its timeout and fail).  Then each does the same CPU-bound sum,
 * and counts its calls in a global of its state: the second call of each
 * thread sees 2, as no thread shares a state with another; a thread
 * started later takes over the state of one that ended.  A second
 * generation of the script has states of its own, and closing the first
 * while threads keep the second leaves the second working.
 *
 * The struct sinkd_api here answers only what the script asks (get,
 * config, kv_set, note, log): the rest of the API is t/sink-lua.t's,
 * through sinkd -t.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "../../src/sink_lua.h"
#include "tap.h"

#define THREADS	4

static int arrived;		/* threads inside eom, atomically */
static __thread char got[32];	/* what get() returned */
static __thread char noted[64];	/* what note() was told */

/* t_get - api->get: the count of threads arrived, as "arrived" */
static const char *
t_get(struct sinkd_ctx *c, const char *name)
{
	(void) c;
	if (strcmp(name, "arrived"))
		return NULL;
	snprintf(got, sizeof(got), "%d", g_atomic_int_get(&arrived));
	return got;
}

/* t_config - api->config: the limits of the test */
static const char *
t_config(struct sinkd_ctx *c, const char *key)
{
	(void) c;
	/* no instruction limit: a lock would show as the timeout, not hang */
	if (!strcmp(key, "instruction-limit"))
		return "0";
	if (!strcmp(key, "timeout"))
		return "60s";
	return NULL;
}

/* t_kv_set - api->kv_set: "arrive" counts a thread in */
static int
t_kv_set(struct sinkd_ctx *c, const char *key, const char *value)
{
	(void) c;
	(void) value;
	if (!strcmp(key, "arrive"))
		g_atomic_int_inc(&arrived);
	return 0;
}

/* t_note - api->note: kept for the thread to check */
static int
t_note(struct sinkd_ctx *c, const char *key, const char *value)
{
	(void) c;
	snprintf(noted, sizeof(noted), "%s=%s", key, value);
	return 0;
}

/* t_log - api->log: to stderr, as TAP comments */
static void
t_log(struct sinkd_ctx *c, enum sinkd_log level, const char *text)
{
	(void) c;
	fprintf(stderr, "# log %d: %s\n", (int) level, text);
}

static const struct sinkd_api api = {
	.size = sizeof(struct sinkd_api),
	.abi_major = SINKD_SINK_ABI_MAJOR,
	.abi_minor = SINKD_SINK_ABI_MINOR,
	.get = t_get,
	.config = t_config,
	.kv_set = t_kv_set,
	.note = t_note,
	.log = t_log,
};

static const char script[] =
	"local calls = 0\n"
	"return {\n"
	"  eom = function(ctx)\n"
	"    calls = calls + 1\n"
	"    if calls == 1 then\n"
	"      ctx:kv_set('arrive', '1')\n"
	"      while tonumber(ctx:get('arrived')) < " G_STRINGIFY(THREADS) " do end\n"
	"    end\n"
	"    local sum = 0\n"
	"    for i = 1, 3000000 do sum = (sum + i * i) % 1000003 end\n"
	"    ctx:note('r', calls .. ':' .. sum)\n"
	"    return 'accept'\n"
	"  end,\n"
	"}\n";

/* One generation of the script, as sinkd holds it. */
struct gen {
	const struct sinkd_sink *ss;
	struct sink sink;	/* what a context names: the provider's handle */
	void *state;
};

struct worker {
	struct gen *gen;
	enum sinkd_verdict v[2];
	char noted[2][64];
};

/* expected - the sum the script computes */
static long long
expected(void)
{
	long long sum = 0, i;

	for (i = 1; i <= 3000000; i++)
		sum = (sum + i * i) % 1000003;
	return sum;
}

/* run - two eom calls on this thread */
static void *
run(void *arg)
{
	struct worker *w = arg;
	struct sinkd_ctx ctx;
	int i;

	memset(&ctx, 0, sizeof(ctx));
	ctx.sink = &w->gen->sink;
	for (i = 0; i < 2; i++) {
		w->v[i] = w->gen->ss->eom(w->gen->state, &ctx);
		memcpy(w->noted[i], noted, sizeof(noted));
	}
	return NULL;
}

/* gen_open - open and init the script at path */
static int
gen_open(struct gen *g, const char *path)
{
	struct sinkd_ctx config;
	char *why = NULL;

	memset(g, 0, sizeof(*g));
	if ((g->ss = sink_lua.open(path, &api, &g->sink.handle, &why)) == NULL) {
		fprintf(stderr, "# open: %s\n", why);
		g_free(why);
		return -1;
	}
	memset(&config, 0, sizeof(config));
	config.sink = &g->sink;
	return g->ss->init(&api, &config, &g->state);
}

/* gen_close - shutdown and close, as sinkd does when a generation ends */
static void
gen_close(struct gen *g)
{
	g->ss->shutdown(g->state);
	sink_lua.close(g->sink.handle);
}

/* threads - THREADS workers on g at once; the number that did it all */
static int
threads(struct gen *g, const char *what)
{
	struct worker w[THREADS];
	pthread_t t[THREADS];
	char want1[64], want2[64];
	int i, good = 0;

	snprintf(want1, sizeof(want1), "r=1:%lld", expected());
	snprintf(want2, sizeof(want2), "r=2:%lld", expected());
	g_atomic_int_set(&arrived, 0);
	memset(w, 0, sizeof(w));
	for (i = 0; i < THREADS; i++) {
		w[i].gen = g;
		if (pthread_create(&t[i], NULL, run, &w[i]) != 0)
			return -1;
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < THREADS; i++) {
		if (w[i].v[0] == SINKD_ACCEPT && w[i].v[1] == SINKD_ACCEPT
		    && !strcmp(w[i].noted[0], want1)
		    && !strcmp(w[i].noted[1], want2))
			good++;
		else
			fprintf(stderr, "# %s: thread %d: %d %d %s %s\n", what, i,
				w[i].v[0], w[i].v[1], w[i].noted[0], w[i].noted[1]);
	}
	return good;
}

int
main(void)
{
	char *dir, *path;
	struct gen a, b;
	struct worker solo;
	pthread_t t;
	char want[64];

	dir = g_build_filename(g_get_tmp_dir(), "sinklua_test.XXXXXX", NULL);
	if (g_mkdtemp(dir) == NULL)
		return 1;
	path = g_build_filename(dir, "spin.lua", NULL);
	if (!g_file_set_contents(path, script, -1, NULL))
		return 1;

	ok(gen_open(&a, path) == 0, "the script opens and inits");
	is_int(threads(&a, "a"), THREADS,
	       G_STRINGIFY(THREADS) " threads ran the script at once, each on a state of its own");

	ok(gen_open(&b, path) == 0, "a second generation of it opens");
	is_int(threads(&b, "b"), THREADS, "its threads have states of their own");

	/* a new thread takes the state of one that ended */
	memset(&solo, 0, sizeof(solo));
	solo.gen = &a;
	pthread_create(&t, NULL, run, &solo);
	pthread_join(t, NULL);
	snprintf(want, sizeof(want), "r=3:%lld", expected());
	is_str(solo.noted[0], want, "a later thread reuses the state of one that ended");

	/* the first generation closes; a thread of the second runs on */
	gen_close(&a);
	g_atomic_int_set(&arrived, THREADS - 1);
	memset(&solo, 0, sizeof(solo));
	solo.gen = &b;
	pthread_create(&t, NULL, run, &solo);
	pthread_join(t, NULL);
	ok(solo.v[0] == SINKD_ACCEPT && solo.v[1] == SINKD_ACCEPT,
	   "after the first generation closed, the second still serves");
	gen_close(&b);

	unlink(path);
	rmdir(dir);
	g_free(path);
	g_free(dir);
	return tap_done();
}
