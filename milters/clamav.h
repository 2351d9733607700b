/*
 * clamav - the virus-scanning handler: what it tells the rest of sinkd
 *
 * The handler itself is clamav_handler (registry.h).  clamav_engine_info()
 * says which signatures the current scanner uses: the embedded engine's
 * (libclamav's CL_ENGINE_DB_VERSION and CL_ENGINE_DB_TIME, the count
 * cl_load() gave), or what the clamd pool answered to VERSION (no count:
 * clamd does not say).  The status report and the metrics read it.
 *
 * Threading: clamav_engine_info() may be called from any thread.
 */
#ifndef SINKD_CLAMAV_H
#define SINKD_CLAMAV_H

#include <stdbool.h>
#include <time.h>

struct clamav_engine_info {
	bool loaded;		/* a scanner is ready and its signatures are
				 * known; the rest is 0 or "" when not */
	const char *backend;	/* "embedded", "clamd" or "none" (static) */
	char version[64];	/* ClamAV's version ("1.4.6") */
	unsigned db_version;	/* the database version; 0: no .cvd/.cld */
	time_t db_time;		/* its build time; 0: unknown */
	unsigned signatures;	/* signatures loaded; 0: unknown (clamd) */
	char server[128];	/* clamd: the server that answered, else "" */
};

/* clamav_engine_info - fill *i; true when a scanner is loaded */
bool clamav_engine_info(struct clamav_engine_info *i);

#endif
