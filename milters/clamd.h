/*
 * clamd - a pool of clamd servers spoken to with INSTREAM
 *
 * Servers are written "unix:/path" or "tcp:host:port" ("host" may be a
 * name, an IPv4 address or a bracketed IPv6 address).  clamd_scan() sends
 * the bytes it is given as one INSTREAM stream to the next server in
 * round-robin order; a server that cannot be reached, times out or
 * answers something unintelligible is marked down for retry seconds and
 * the next one is tried, until every server has been tried once.  Only
 * then is the result SCAN_ERROR.  A clamd reply naming a size limit
 * ("INSTREAM size limit exceeded") is SCAN_LIMIT.
 *
 * Threading: a pool is shared by every thread; clamd_scan() may run
 * concurrently (one connection per scan, no connection is shared).
 */
#ifndef SINKD_CLAMD_H
#define SINKD_CLAMD_H

#include <stddef.h>

#include "scan.h"

struct clamd_pool;

/* clamd_spec_check - 0 if spec is a valid server, else -1 and *why */
int clamd_spec_check(const char *spec, const char **why);

/* clamd_pool_new - from NULL-terminated specs, all valid (checked at
 * configuration time); timeouts in milliseconds, retry in seconds */
struct clamd_pool *clamd_pool_new(char *const *specs, unsigned connect_ms,
				  unsigned io_ms, unsigned retry_s);
void clamd_pool_free(struct clamd_pool *p);

/* clamd_scan - scan len bytes; never blocks longer than about
 * (connect_ms + io_ms) per server tried */
void clamd_scan(struct clamd_pool *p, const void *data, size_t len,
		struct scan_result *r);

/* clamd_version - what the first server that answers says to VERSION
 * ("ClamAV 1.4.6/27100/Thu Dec  3 08:22:14 2026", or "ClamAV 1.4.6"
 * without a .cvd), into out; 0, or -1 with out saying why; server (if
 * not NULL) names the server that answered */
int clamd_version(struct clamd_pool *p, char *out, size_t size,
		  char *server, size_t server_size);

#endif
