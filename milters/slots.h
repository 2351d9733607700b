/*
 * slots - a bound on the messages the embedded engine scans at once
 *
 * Every message the embedded libclamav engine scans holds, for the
 * whole scan, its decoded parts and libclamav's own buffers; with
 * hundreds of connections at end of message at once, that is hundreds
 * of such sets.  A message takes one slot for its whole scan (the
 * message, each part, each signed content, the bare-CR reading) and
 * gives it back when the scan is done, so at most slots_configure()'s
 * number of messages are being scanned at once.  The others wait in
 * the order they asked, each for at most the time it was given; one
 * whose time runs out gets no slot (the caller tempfails it).
 *
 * The limit may change at any time (a reload): messages holding a slot
 * keep it and give it back as any other; no new slot is handed out
 * while as many as the new limit are busy.
 *
 * Diagnostics: none of its own; the gauges and counters (stats.h) and
 * slots_status() say how many are configured, busy and waiting.
 *
 * Threading: every function may be called from any thread.
 */
#ifndef SINKD_SLOTS_H
#define SINKD_SLOTS_H

#include <glib.h>

/* What one slots_take() came to. */
enum slots_took {
	SLOTS_FREE,		/* a slot was free at once */
	SLOTS_WAITED,		/* a slot came after a wait */
	SLOTS_TIMEOUT,		/* none came in time: no slot held */
};

/* slots_configure - at most n messages scanned at once; 0: as many as
 * the machine has CPUs online (at least 1); the limit in force */
unsigned slots_configure(unsigned n);

/* slots_unused - the embedded engine is not in use: the gauge of slots
 * in force says 0 (slots still held are given back as ever) */
void slots_unused(void);

/* slots_wait_us - how long a message may wait for a slot, given
 * max-scantime in seconds: half of it, in microseconds */
gint64 slots_wait_us(long long max_scantime);

/* slots_take - a slot, waiting at most timeout_us (monotonic
 * microseconds) behind those who asked first; *waited_us is the time
 * spent waiting.  SLOTS_FREE and SLOTS_WAITED: give it back with
 * slots_give() */
enum slots_took slots_take(gint64 timeout_us, gint64 *waited_us);

/* slots_give - the slot one slots_take() gave is free again */
void slots_give(void);

/* slots_status - "scan-slots: N" and how many are busy and waiting,
 * one line each, for sinkd -S */
void slots_status(GString *out);

#endif
