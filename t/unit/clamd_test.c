/*
 * clamd_test - the clamd pool: server specs, and a driver for t/clamd-pool.t
 *
 *	clamd_test
 *		TAP: spec syntax, and scans that fail without any clamd
 *	clamd_test scan [-c CONNECT_MS] [-i IO_MS] [-r RETRY_S] SPECS FILE...
 *		scan each FILE in turn with one pool of the comma-separated
 *		SPECS; a FILE "-" reads file names from stdin, one a line,
 *		answering each at once (for a test that changes the servers
 *		between scans); one line per scan:
 *		STATUS<TAB>NAME<TAB>SERVER<TAB>MILLISECONDS
 *	clamd_test scan -j THREADS -n TIMES [...] SPECS FILE
 *		scan FILE TIMES times from each of THREADS threads on one
 *		pool; one line per distinct result, sorted:
 *		COUNT<TAB>STATUS<TAB>NAME<TAB>SERVER
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "../../milters/clamd.h"
#include "../../src/log.h"
#include "tap.h"

static const char *const status_names[] = {
	[SCAN_CLEAN] = "CLEAN",
	[SCAN_VIRUS] = "VIRUS",
	[SCAN_LIMIT] = "LIMIT",
	[SCAN_ERROR] = "ERROR",
};

/* scan_set - as milters/clamav.c defines it: the server is left alone */
void
scan_set(struct scan_result *r, enum scan_status st, const char *name)
{
	r->status = st;
	g_strlcpy(r->name, name ? name : "", sizeof(r->name));
}

static void
test_specs(void)
{
	static const struct {
		const char *spec;
		int good;
	} cases[] = {
		{"unix:/run/clamav/clamd.ctl", 1},
		{"tcp:localhost:3310", 1},
		{"tcp:127.0.0.1:3310", 1},
		{"tcp:[::1]:3310", 1},
		{"tcp:clamd-1.example.org:65535", 1},
		{"unix:relative/clamd.ctl", 0},
		{"unix:", 0},
		{"local:/run/clamav/clamd.ctl", 0},
		{"/run/clamav/clamd.ctl", 0},
		{"tcp:localhost", 0},
		{"tcp::3310", 0},
		{"tcp:localhost:", 0},
		{"tcp:localhost:0", 0},
		{"tcp:localhost:65536", 0},
		{"tcp:localhost:33x", 0},
		{"tcp:localhost:+3310", 0},
		{"tcp:::1:3310", 0},
		{"tcp:[::1:3310", 0},
		{"tcp:[::1]3310", 0},
		{"tcp:[not-v6]:3310", 0},
		{"tcp:bad host:3310", 0},
		{"", 0},
	};
	char longpath[200];
	const char *why;
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		why = NULL;
		ok((clamd_spec_check(cases[i].spec, &why) == 0) == cases[i].good,
		   "clamd_spec_check \"%s\" %s", cases[i].spec,
		   cases[i].good ? "accepted" : "refused");
		if (!cases[i].good)
			ok(why != NULL && *why, "  says why: %s", why ? why : "");
	}
	why = NULL;
	clamd_spec_check("tcp:x:99999", &why);
	is_str(why, "bad port", "a bad port is named");
	clamd_spec_check("inet:x:3310", &why);
	is_str(why, "expected unix:/path or tcp:host:port", "an unknown kind is named");
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	{
		char *spec = g_strconcat("unix:", longpath, NULL);

		int rc = clamd_spec_check(spec, &why);

		ok(rc < 0, "a path longer than sun_path is refused: %s", why);
		g_free(spec);
	}
	{
		char *bad[] = {"unix:/tmp/x", "tcp:nowhere", NULL};

		ok(clamd_pool_new(bad, 100, 100, 1) == NULL, "clamd_pool_new refuses a bad spec");
	}
}

/* timed_scan - one scan and its duration in milliseconds */
static gint64
timed_scan(struct clamd_pool *p, const void *data, size_t len,
	   struct scan_result *r)
{
	gint64 t0 = g_get_monotonic_time();

	memset(r, 'x', sizeof(*r));
	clamd_scan(p, data, len, r);
	return (g_get_monotonic_time() - t0) / 1000;
}

static void
test_unreachable(void)
{
	char dir[] = "/tmp/clamd_test.XXXXXX";
	char *specs[4] = {NULL};
	struct clamd_pool *p;
	struct scan_result r;
	gint64 ms;
	char *want;
	int i;

	if (g_mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp: %s", g_strerror(errno));
		return;
	}
	specs[0] = g_strdup_printf("unix:%s/none.sock", dir);
	p = clamd_pool_new(specs, 500, 500, 60);
	ok(p != NULL, "a pool of one missing socket");
	ms = timed_scan(p, "hello", 5, &r);
	is_int(r.status, SCAN_ERROR, "  the scan is an error");
	want = g_strdup_printf("clamd %s: connect: No such file or directory", specs[0]);
	is_str(r.name, want, "  naming the server and the failure");
	is_str(r.server, "", "  answered by no server");
	ok(ms < 200, "  at once (%lld ms)", (long long) ms);
	g_free(want);
	ms = timed_scan(p, "hello", 5, &r);
	is_int(r.status, SCAN_ERROR, "  down, yet tried again when all are down");
	ok(strstr(r.name, "No such file") != NULL, "  with the same reason: %s", r.name);
	clamd_pool_free(p);

	/* a closed port, and an address nothing answers (or no route) */
	specs[1] = g_strdup("tcp:127.0.0.1:1");
	specs[2] = g_strdup("tcp:192.0.2.1:3310");
	p = clamd_pool_new(specs, 300, 300, 60);
	ok(p != NULL, "a pool of three unreachable servers");
	ms = timed_scan(p, "hello", 5, &r);
	is_int(r.status, SCAN_ERROR, "  the scan is an error");
	ok(ms < 300 + 200, "  within about the connect timeout (%lld ms)", (long long) ms);
	ok(g_str_has_prefix(r.name, "clamd "), "  reason: %s", r.name);
	ms = timed_scan(p, "", 0, &r);
	is_int(r.status, SCAN_ERROR, "  an empty message too");
	clamd_pool_free(p);

	{
		char *none[] = {NULL};

		p = clamd_pool_new(none, 100, 100, 1);
		clamd_scan(p, "x", 1, &r);
		is_int(r.status, SCAN_ERROR, "an empty pool gives an error");
		clamd_pool_free(p);
	}
	clamd_pool_free(NULL);
	for (i = 0; specs[i] != NULL; i++)
		g_free(specs[i]);
	rmdir(dir);
}

/* print_result - STATUS NAME SERVER MS */
static void
print_result(const struct scan_result *r, gint64 ms)
{
	printf("%s\t%s\t%s\t%lld\n", status_names[r->status], r->name,
	       r->server, (long long) ms);
	fflush(stdout);
}

/* scan_file - scan one file and print its line */
static int
scan_file(struct clamd_pool *p, const char *path)
{
	struct scan_result r;
	GError *err = NULL;
	gchar *data;
	gsize len;
	gint64 ms;

	if (!g_file_get_contents(path, &data, &len, &err)) {
		fprintf(stderr, "clamd_test: %s\n", err->message);
		g_error_free(err);
		printf("NOFILE\t%s\t\t0\n", path);
		fflush(stdout);
		return 1;
	}
	ms = timed_scan(p, data, len, &r);
	print_result(&r, ms);
	g_free(data);
	return 0;
}

struct hammer {
	struct clamd_pool *pool;
	const char *data;
	gsize len;
	int times;
	GHashTable *seen;		/* "STATUS\tNAME\tSERVER" -> count */
	GMutex lock;
};

/* hammer_thread - scan the same data times times */
static gpointer
hammer_thread(gpointer arg)
{
	struct hammer *h = arg;
	struct scan_result r;
	int i;

	for (i = 0; i < h->times; i++) {
		char *key;

		clamd_scan(h->pool, h->data, h->len, &r);
		key = g_strdup_printf("%s\t%s\t%s", status_names[r.status],
				      r.name, r.server);
		g_mutex_lock(&h->lock);
		g_hash_table_insert(h->seen, key, GINT_TO_POINTER(
			GPOINTER_TO_INT(g_hash_table_lookup(h->seen, key)) + 1));
		g_mutex_unlock(&h->lock);
	}
	return NULL;
}

/* hammer - threads x times scans of path, then the distinct results */
static int
hammer(struct clamd_pool *p, const char *path, int threads, int times)
{
	struct hammer h = { .pool = p, .times = times };
	GPtrArray *tids = g_ptr_array_new();
	GList *keys, *k;
	gchar *data;
	int i;

	if (!g_file_get_contents(path, &data, &h.len, NULL)) {
		fprintf(stderr, "clamd_test: cannot read %s\n", path);
		return 1;
	}
	h.data = data;
	h.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_mutex_init(&h.lock);
	for (i = 0; i < threads; i++)
		g_ptr_array_add(tids, g_thread_new("scan", hammer_thread, &h));
	for (i = 0; i < threads; i++)
		g_thread_join(g_ptr_array_index(tids, i));
	keys = g_list_sort(g_hash_table_get_keys(h.seen), (GCompareFunc) strcmp);
	for (k = keys; k != NULL; k = k->next)
		printf("%d\t%s\n", GPOINTER_TO_INT(g_hash_table_lookup(h.seen, k->data)),
		       (char *) k->data);
	g_list_free(keys);
	g_hash_table_destroy(h.seen);
	g_mutex_clear(&h.lock);
	g_ptr_array_free(tids, TRUE);
	g_free(data);
	return 0;
}

/* scan_main - the driver: see the head of this file */
static int
scan_main(int argc, char **argv)
{
	unsigned connect_ms = 2000, io_ms = 10000, retry_s = 60;
	int threads = 0, times = 1, c, rc = 0, i;
	struct clamd_pool *p;
	char **specs;

	while ((c = getopt(argc, argv, "c:i:r:j:n:")) != -1) {
		switch (c) {
		case 'c': connect_ms = atoi(optarg); break;
		case 'i': io_ms = atoi(optarg); break;
		case 'r': retry_s = atoi(optarg); break;
		case 'j': threads = atoi(optarg); break;
		case 'n': times = atoi(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: clamd_test scan [-c ms] [-i ms] [-r s] [-j threads -n times] SPECS FILE...\n");
		return 2;
	}
	specs = g_strsplit(argv[optind++], ",", -1);
	for (i = 0; specs[i] != NULL; i++) {
		const char *why;

		if (clamd_spec_check(specs[i], &why) < 0) {
			fprintf(stderr, "clamd_test: %s: %s\n", specs[i], why);
			return 2;
		}
	}
	p = clamd_pool_new(specs, connect_ms, io_ms, retry_s);
	if (threads > 0) {
		rc = hammer(p, argv[optind], threads, times);
	} else {
		for (; optind < argc; optind++) {
			if (strcmp(argv[optind], "-")) {
				rc |= scan_file(p, argv[optind]);
				continue;
			}
			{
				char line[4096];

				while (fgets(line, sizeof(line), stdin) != NULL) {
					g_strchomp(line);
					rc |= scan_file(p, line);
				}
			}
		}
	}
	clamd_pool_free(p);
	g_strfreev(specs);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "scan"))
		return scan_main(argc - 1, argv + 1);
	log_open("clamd_test", 0, 0);
	test_specs();
	test_unreachable();
	return tap_done();
}
