/*
 * metrics - the HTTP endpoint of metrics-listen: GET /metrics and
 *	GET /healthz, served by libmicrohttpd
 *
 * metrics_open() binds and listens on the address (as root, before the
 * privilege drop, so that a port below 1024 or a unix socket in a
 * root-owned directory works; a failure is fatal); metrics_start() hands
 * the socket to libmicrohttpd, whose own thread (internal polling)
 * serves it: no request ever waits for mail, nor mail for a request.
 * /metrics is stats_render_prometheus() (text format 0.0.4); /healthz
 * answers 200 "ok" when sinkd would take mail, else 503 and one line
 * saying why (shutting down, libmilter stopped, the ClamAV engine not
 * loaded, no clamd server answering, a directory sinkd writes to not
 * writable).  The listener lives as long as the process: a reload keeps
 * it, and a change of metrics-listen needs a restart (CONF_RESTART).
 */
#ifndef SINKD_METRICS_H
#define SINKD_METRICS_H

struct snapshot;

void metrics_open(const struct snapshot *s, unsigned uid, unsigned gid);
void metrics_start(void);
void metrics_stopping(void);
void metrics_stop(void);

/* metrics_health - NULL when sinkd would take mail, else why not
 * (g_free()) */
char *metrics_health(void);

#endif
