/*
 * scanshim - an LD_PRELOAD library for t/scan-slots.t: it stands
 *	between sinkd and libclamav's cl_scanmap_callback(), the one entry
 *	the embedded engine scans through (milters/engine.c)
 *
 * With SCANSHIM_DIR set to a directory, every scan:
 *
 *	counts itself in flight, and writes DIR/inflight (the number now)
 *	and DIR/max (the most at once since DIR/max was last removed) and
 *	DIR/calls (scans begun);
 *	waits, before scanning, while DIR/hold exists;
 *	then scans (the real cl_scanmap_callback) and counts itself out.
 *
 * The files are written whole (a temporary name, then rename), so a
 * reader never sees one half written.  Without SCANSHIM_DIR the shim
 * only passes calls on.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <clamav.h>

typedef cl_error_t (*scanmap_fn)(cl_fmap_t *, const char *, const char **, unsigned long *,
				  const struct cl_engine *, struct cl_scan_options *, void *);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned inflight, most, calls;	/* under lock */

/* put - DIR/name holds n; under lock */
static void
put(const char *dir, const char *name, unsigned n)
{
	char tmp[4096], path[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "%u\n", n);
	if (fclose(f) == 0)
		rename(tmp, path);
}

/* note - the counts after a scan came in (delta 1) or went out (-1) */
static void
note(const char *dir, int delta)
{
	char path[4096];

	pthread_mutex_lock(&lock);
	inflight += delta;
	if (delta > 0) {
		calls++;
		snprintf(path, sizeof(path), "%s/max", dir);
		if (access(path, F_OK) != 0)	/* removed: measure afresh */
			most = 0;
		if (inflight > most)
			most = inflight;
		put(dir, "max", most);
		put(dir, "calls", calls);
	}
	put(dir, "inflight", inflight);
	pthread_mutex_unlock(&lock);
}

cl_error_t
cl_scanmap_callback(cl_fmap_t *map, const char *filename, const char **virname,
		    unsigned long *scanned, const struct cl_engine *engine,
		    struct cl_scan_options *scanoptions, void *context)
{
	scanmap_fn real = (scanmap_fn) dlsym(RTLD_NEXT, "cl_scanmap_callback");
	const char *dir = getenv("SCANSHIM_DIR");
	char hold[4096];
	cl_error_t rc;

	if (real == NULL)
		return CL_EARG;
	if (dir == NULL)
		return real(map, filename, virname, scanned, engine, scanoptions, context);
	note(dir, 1);
	snprintf(hold, sizeof(hold), "%s/hold", dir);
	while (access(hold, F_OK) == 0)
		usleep(10000);
	rc = real(map, filename, virname, scanned, engine, scanoptions, context);
	note(dir, -1);
	return rc;
}
