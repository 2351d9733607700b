/*
 * slots - a bound on the messages the embedded engine scans at once
 *	(see slots.h)
 *
 * A counter of busy slots and a queue of waiters under one mutex.  Each
 * waiter sleeps on a condition of its own; a slot given back goes
 * straight to the first waiter (granted set, its condition signalled),
 * so the order is first come, first served, and no wake-up is wasted on
 * the others.  A waiter whose time runs out leaves the queue, unless a
 * slot was handed to it meanwhile, which it then keeps.
 */
#include <unistd.h>
#include <glib.h>

#include "../src/stats.h"
#include "slots.h"

/* One message waiting for a slot; on its thread's stack. */
struct waiter {
	GCond cond;
	int granted;		/* a slot is now this waiter's */
};

static GMutex lock;
static unsigned limit = 1;	/* under lock */
static unsigned busy;		/* slots held; may exceed limit after a
				 * reload lowers it; under lock */
static GQueue queue = G_QUEUE_INIT;	/* struct waiter *, first come
					 * first; under lock */

/* gauges - the figures as they are now; under lock */
static void
gauges(void)
{
	stats_gauge_set(STATS_SCAN_SLOTS, limit);
	stats_gauge_set(STATS_SCAN_SLOTS_BUSY, busy);
	stats_gauge_set(STATS_SCAN_SLOTS_WAITING, queue.length);
}

/* grant - hand free slots to the first waiters; under lock */
static void
grant(void)
{
	struct waiter *w;

	while (busy < limit && (w = g_queue_pop_head(&queue)) != NULL) {
		w->granted = 1;
		busy++;
		g_cond_signal(&w->cond);
	}
	gauges();
}

unsigned
slots_configure(unsigned n)
{
	long cpus;

	if (n == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (unsigned) cpus : 1;
	}
	g_mutex_lock(&lock);
	limit = n;
	grant();
	g_mutex_unlock(&lock);
	return n;
}

void
slots_unused(void)
{
	g_mutex_lock(&lock);
	gauges();
	stats_gauge_set(STATS_SCAN_SLOTS, 0);
	g_mutex_unlock(&lock);
}

/*
 * slots_wait_us - half of max-scantime.  The MTA waits for the end of
 * message as a whole, wait and scan together (Postfix's
 * milter_content_timeout, Sendmail's E=, 5 minutes each by default),
 * and libclamav counts max-scantime from the start of a scan, whatever
 * the wait before it: with half for the wait, the two stay within one
 * and a half times max-scantime, and a slot that comes still leaves the
 * scan at least half its time.
 */
gint64
slots_wait_us(long long max_scantime)
{
	return (gint64) max_scantime * G_USEC_PER_SEC / 2;
}

enum slots_took
slots_take(gint64 timeout_us, gint64 *waited_us)
{
	gint64 t0 = g_get_monotonic_time();
	enum slots_took took = SLOTS_WAITED;
	struct waiter w = {.granted = 0};

	*waited_us = 0;
	g_mutex_lock(&lock);
	if (busy < limit && queue.length == 0) {
		busy++;
		gauges();
		g_mutex_unlock(&lock);
		stats_slot_wait(0);
		return SLOTS_FREE;
	}
	g_cond_init(&w.cond);
	g_queue_push_tail(&queue, &w);
	gauges();
	while (!w.granted)
		if (!g_cond_wait_until(&w.cond, &lock, t0 + timeout_us))
			break;
	if (!w.granted) {
		g_queue_remove(&queue, &w);
		gauges();
		took = SLOTS_TIMEOUT;
	}
	g_mutex_unlock(&lock);
	g_cond_clear(&w.cond);
	*waited_us = g_get_monotonic_time() - t0;
	stats_slot_wait(*waited_us);
	if (took == SLOTS_TIMEOUT)
		stats_inc(STATS_SCAN_SLOT_TIMEOUTS);
	return took;
}

void
slots_give(void)
{
	g_mutex_lock(&lock);
	if (busy == 0)
		g_error("slots_give: no slot is held");
	busy--;
	grant();
	g_mutex_unlock(&lock);
}

void
slots_status(GString *out)
{
	unsigned l, b, q;

	g_mutex_lock(&lock);
	l = limit;
	b = busy;
	q = queue.length;
	g_mutex_unlock(&lock);
	g_string_append_printf(out, "scan-slots: %u\nscan-slots-busy: %u\nscan-slots-waiting: %u\n",
			       l, b, q);
}
