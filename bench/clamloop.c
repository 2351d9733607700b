/*
 * clamloop - the scanning floor: libclamav alone, no milter, no MTA
 *
 *   clamloop [-t THREADS] [-n ROUNDS] [-T TMPDIR] [-C] [-v] DBDIR DIR
 *
 * Loads the signatures of DBDIR into one engine with the settings the
 * clamav handler uses by default (max-scansize 400m, max-filesize 100m,
 * max-recursion 16, max-files 10000, max-scantime 120 s; every parser,
 * general heuristics, the "limits exceeded" heuristic), with libclamav's
 * clean-file cache off unless -C, reads every regular file of DIR into
 * memory, then scans each of them from memory ROUNDS times over with
 * THREADS threads sharing the engine.  Reading the files and loading the
 * engine are not timed.
 *
 * Prints key=value lines: the engine load, then for the scanning phase
 * msgs, msgs_per_s, mb_per_s, cpu_ms_per_msg (user and system time of
 * this process, from getrusage), p50_ms and p99_ms per message, the
 * verdict counts (clean, virus, limit, error), the RSS once the engine is
 * loaded, before the files are read (loaded_rss_kb), and the peak RSS.
 * With -v, one line per message that is not clean (first round only).
 *
 * Exit status: 0, or 2 on a usage or load error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <clamav.h>

#include "measure.h"

#define LIMIT_PREFIX "Heuristics.Limits.Exceeded"

enum verdict { V_CLEAN, V_VIRUS, V_LIMIT, V_ERROR, V_COUNT };
static const char *const verdict_name[V_COUNT] = { "clean", "virus", "limit", "error" };

struct file {
	char *name;
	unsigned char *data;
	size_t len;
};

static struct cl_engine *engine;
static struct file *files;
static size_t nfiles;
static unsigned long rounds = 1;
static unsigned long long max_filesize = 100ULL << 20;
static int verbose;

static unsigned long next_job;		/* atomic: index into rounds x files */
static double *latency;			/* ms, one per job */
static unsigned long counts[V_COUNT];	/* atomic */

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("clamloop: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void __attribute__((noreturn))
usage(void)
{
	fputs("usage: clamloop [-t THREADS] [-n ROUNDS] [-T TMPDIR] [-C] [-v] DBDIR DIR\n", stderr);
	exit(2);
}

/* VmRSS of this process in kB, from /proc/self/status; -1 if unknown */
static long
vmrss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static unsigned long
parse_count(const char *s, unsigned long min)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min)
		usage();
	return v;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct file *) a)->name, ((const struct file *) b)->name);
}

/* read_dir - every regular file of dir, sorted by name */
static void
read_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	if (d == NULL)
		die("%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		struct file f;
		ssize_t n;
		size_t got = 0;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		if ((fd = openat(dirfd(d), de->d_name, O_RDONLY)) < 0)
			die("%s/%s: %s", dir, de->d_name, strerror(errno));
		if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			close(fd);
			continue;
		}
		f.name = strdup(de->d_name);
		f.len = (size_t) sb.st_size;
		f.data = malloc(f.len ? f.len : 1);
		if (f.name == NULL || f.data == NULL)
			die("out of memory");
		while (got < f.len && (n = read(fd, f.data + got, f.len - got)) > 0)
			got += (size_t) n;
		close(fd);
		if (got != f.len)
			die("%s/%s: short read", dir, de->d_name);
		if (nfiles == cap) {
			cap = cap ? cap * 2 : 64;
			if ((files = realloc(files, cap * sizeof(*files))) == NULL)
				die("out of memory");
		}
		files[nfiles++] = f;
	}
	closedir(d);
	if (nfiles == 0)
		die("%s: no files", dir);
	qsort(files, nfiles, sizeof(*files), name_cmp);
}

/* scan - one message, classified as the clamav handler does */
static enum verdict
scan(const struct file *f, const char **virname)
{
	struct cl_scan_options o;
	unsigned long scanned = 0;
	cl_fmap_t *map;
	cl_error_t rc;
	enum verdict v;

	*virname = NULL;
	if (f->len == 0)
		return V_CLEAN;
	if (f->len > max_filesize) {
		*virname = LIMIT_PREFIX ".MaxFileSize";
		return V_LIMIT;
	}
	if ((map = cl_fmap_open_memory(f->data, f->len)) == NULL) {
		*virname = "cl_fmap_open_memory failed";
		return V_ERROR;
	}
	memset(&o, 0, sizeof(o));
	o.parse = ~0u;
	o.general = CL_SCAN_GENERAL_HEURISTICS;
	o.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	rc = cl_scanmap_callback(map, NULL, virname, &scanned, engine, &o, NULL);
	switch (rc) {
	case CL_CLEAN:
		v = V_CLEAN;
		break;
	case CL_VIRUS:
		v = *virname && strncmp(*virname, LIMIT_PREFIX, strlen(LIMIT_PREFIX)) == 0 ?
			V_LIMIT : V_VIRUS;
		break;
	case CL_ETIMEOUT:
	case CL_EMAXREC:
	case CL_EMAXSIZE:
	case CL_EMAXFILES:
		*virname = cl_strerror(rc);
		v = V_LIMIT;
		break;
	default:
		*virname = cl_strerror(rc);
		v = V_ERROR;
		break;
	}
	cl_fmap_close(map);
	return v;
}

static void *
worker(void *unused)
{
	unsigned long total = rounds * nfiles, job;

	(void) unused;
	while ((job = __atomic_fetch_add(&next_job, 1, __ATOMIC_RELAXED)) < total) {
		const struct file *f = &files[job % nfiles];
		const char *virname;
		double t0 = now_ms();
		enum verdict v = scan(f, &virname);

		latency[job] = now_ms() - t0;
		__atomic_fetch_add(&counts[v], 1, __ATOMIC_RELAXED);
		if (verbose && v != V_CLEAN && job < nfiles)
			fprintf(stderr, "%s: %s %s\n", f->name, verdict_name[v],
				virname ? virname : "");
	}
	return NULL;
}

static void
cl_quiet(enum cl_msg severity, const char *fullmsg, const char *msg, void *ctx)
{
	(void) msg;
	(void) ctx;
	if (severity == CL_MSG_ERROR)
		fprintf(stderr, "libclamav: %s", fullmsg);
}

int
main(int argc, char **argv)
{
	unsigned long nthreads = 1, i, total;
	const char *tmpdir = NULL;
	unsigned sigs = 0;
	int opt, cache = 0;
	unsigned long long bytes = 0;
	long loaded_kb;
	double t0, c0, wall, cpu;
	struct rusage ru;
	pthread_t *tids;
	cl_error_t rc;

	while ((opt = getopt(argc, argv, "t:n:T:Cv")) != -1) {
		switch (opt) {
		case 't':
			nthreads = parse_count(optarg, 1);
			break;
		case 'n':
			rounds = parse_count(optarg, 1);
			break;
		case 'T':
			tmpdir = optarg;
			break;
		case 'C':
			cache = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();

	cl_set_clcb_msg(cl_quiet);
	if ((rc = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS)
		die("cl_init: %s", cl_strerror(rc));
	t0 = now_ms();
	c0 = cpu_ms();
	if ((engine = cl_engine_new()) == NULL)
		die("cl_engine_new failed");
	cl_engine_set_num(engine, CL_ENGINE_MAX_SCANSIZE, 400LL << 20);
	cl_engine_set_num(engine, CL_ENGINE_MAX_FILESIZE, (long long) max_filesize);
	cl_engine_set_num(engine, CL_ENGINE_MAX_RECURSION, 16);
	cl_engine_set_num(engine, CL_ENGINE_MAX_FILES, 10000);
	cl_engine_set_num(engine, CL_ENGINE_MAX_SCANTIME, 120 * 1000);
	cl_engine_set_num(engine, CL_ENGINE_DISABLE_CACHE, !cache);
	/* libclamav scans what it cannot write out as a short file and says
	 * nothing: every message would count as clean */
	if (tmpdir && access(tmpdir, W_OK | X_OK) < 0)
		die("%s: %s", tmpdir, strerror(errno));
	if (tmpdir && (rc = cl_engine_set_str(engine, CL_ENGINE_TMPDIR, tmpdir)) != CL_SUCCESS)
		die("%s: %s", tmpdir, cl_strerror(rc));
	if ((rc = cl_load(argv[optind], engine, &sigs, CL_DB_STDOPT)) != CL_SUCCESS)
		die("%s: %s", argv[optind], cl_strerror(rc));
	if (sigs == 0)
		die("%s: no signatures", argv[optind]);
	if ((rc = cl_engine_compile(engine)) != CL_SUCCESS)
		die("compile: %s", cl_strerror(rc));
	printf("clamav=%s\nsignatures=%u\nload_ms=%.1f\nload_cpu_ms=%.1f\n",
	       cl_retver(), sigs, now_ms() - t0, cpu_ms() - c0);

	loaded_kb = vmrss_kb();
	read_dir(argv[optind + 1]);
	for (i = 0; i < nfiles; i++)
		bytes += files[i].len;
	total = rounds * nfiles;
	if ((latency = calloc(total, sizeof(*latency))) == NULL ||
	    (tids = calloc(nthreads, sizeof(*tids))) == NULL)
		die("out of memory");

	t0 = now_ms();
	c0 = cpu_ms();
	for (i = 0; i < nthreads; i++) {
		int err = pthread_create(&tids[i], NULL, worker, NULL);

		if (err)
			die("pthread_create: %s", strerror(err));
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	wall = now_ms() - t0;
	cpu = cpu_ms() - c0;

	qsort(latency, total, sizeof(*latency), cmp_double);
	getrusage(RUSAGE_SELF, &ru);
	printf("files=%zu\nrounds=%lu\nthreads=%lu\ncache=%s\n", nfiles, rounds,
	       nthreads, cache ? "on" : "off");
	printf("msgs=%lu\nwall_s=%.3f\nmsgs_per_s=%.1f\nmb_per_s=%.2f\n", total,
	       wall / 1e3, (double) total / (wall / 1e3),
	       (double) bytes * (double) rounds / (1 << 20) / (wall / 1e3));
	printf("cpu_ms_per_msg=%.3f\np50_ms=%.3f\np99_ms=%.3f\n", cpu / (double) total,
	       pctl(latency, total, 50), pctl(latency, total, 99));
	for (i = 0; i < V_COUNT; i++)
		printf("%s=%lu\n", verdict_name[i], counts[i]);
	printf("loaded_rss_kb=%ld\nrss_kb=%ld\n", loaded_kb, ru.ru_maxrss);

	cl_engine_free(engine);
	for (i = 0; i < nfiles; i++) {
		free(files[i].name);
		free(files[i].data);
	}
	free(files);
	free(latency);
	free(tids);
	return 0;
}
