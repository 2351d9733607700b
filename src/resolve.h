/*
 * resolve - host name look-ups bounded by a deadline
 *
 * getaddrinfo(3) has no timeout of its own: a DNS server that does not
 * answer holds the caller for the resolver's timeouts (resolv.conf
 * "options timeout: attempts:", up to minutes).  resolve_host() runs the
 * look-up in a thread of its own and waits for it until a deadline; when
 * the deadline passes first, the caller gets an error at once and the
 * look-up thread finishes on its own later, dropping its answer.  One
 * look-up per name is under way at a time: a caller asking for a name
 * already being looked up waits for that look-up (so a dead DNS server
 * costs one thread per name, not one per try).
 *
 * resolve_pg() does the same for the host names of a libpq connection
 * string, for libpq's own connecting (PQconnectdbParams,
 * PQconnectStartParams) resolves them with no deadline.
 *
 * Diagnostics: errors are said in *why (g_free), "HOST: what".
 *
 * Threading: every function may be called from any thread.  The state
 * a caller and its look-up thread share is reference-counted (the caller
 * and the thread each hold one) and guarded by one lock.
 */
#ifndef SINKD_RESOLVE_H
#define SINKD_RESOLVE_H

#include <glib.h>

/* resolve_numeric - host is an IPv4 or IPv6 address in numeric form */
int resolve_numeric(const char *host);

/*
 * resolve_host - the addresses of host in numeric form (IPv4 and IPv6,
 * as getaddrinfo orders them), looked up until deadline (monotonic
 * time, g_get_monotonic_time()); a NULL-terminated vector (g_strfreev),
 * or NULL with *why ("HOST: DNS lookup timed out after N s", or the
 * resolver's error).  A numeric host is its own answer, with no thread.
 */
char **resolve_host(const char *host, gint64 deadline, char **why);

/*
 * resolve_pg - for the libpq connection string conninfo: when its host
 * names one host or more (a comma-separated list; an entry that is a
 * directory, "/..." or "@...", or a numeric address, or empty, is left to
 * libpq) and it has no hostaddr, the keywords and values (NULL-terminated
 * vectors, g_strfreev, in *kw and *val) to add after the connection
 * string in PQconnectdbParams() and the like (expand_dbname): hostaddr
 * with each name's addresses, found before deadline, and host (and port,
 * when it is a list) repeated to match when a name has several.  1: *kw
 * and *val set; 0: nothing to add (*kw and *val NULL); -1: a name did
 * not resolve, or conninfo is not a connection string (*why).
 */
int resolve_pg(const char *conninfo, gint64 deadline, char ***kw, char ***val, char **why);

/* resolve_busy - the number of look-ups under way (threads not yet
 * finished), for diagnostics and tests */
unsigned resolve_busy(void);

#endif
