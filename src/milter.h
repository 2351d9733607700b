/*
 * milter - the libmilter glue: the only file that calls smfi_*()
 *
 * milter_open() registers the callbacks and opens the listening socket
 * (as root, before privileges are dropped; a failure is fatal, and a
 * unix socket is removed at exit only while it is still the one made); milter_start() runs
 * smfi_main() in a thread of its own, so that the main thread can take
 * SIGHUP and SIGTERM; milter_stop() stops accepting connections and waits
 * up to a bound for the messages in flight; milter_failed() tells whether
 * libmilter stopped serving on its own, which makes the stop a failure.
 *
 * milter_mta_config() gives the lines to paste into the MTA's
 * configuration (for `sinkd -n` too: it needs no running daemon);
 * milter_log_mta_config() logs them at start.
 *
 * milter_desc() and milter_counts() are for the fuzz target, which calls
 * the callbacks itself as libmilter would, in any order.
 */
#ifndef SINKD_MILTER_H
#define SINKD_MILTER_H

struct smfiDesc;
struct snapshot;

int milter_open(const struct snapshot *s, unsigned uid, unsigned gid);
int milter_start(void);
void milter_stop(unsigned timeout_seconds);
int milter_failed(void);
char **milter_mta_config(const struct snapshot *s);
void milter_log_mta_config(const struct snapshot *s);
const struct smfiDesc *milter_desc(void);
void milter_counts(int *conns, int *msgs);

#endif
