/*
 * slots_test - the scan slots (milters/slots.c): a free slot is taken
 * at once; waiters are served first come, first served; a wait that
 * runs out holds no slot; a limit raised hands out slots at once, one
 * lowered hands out none until enough are given back; many threads
 * never hold more than the limit; 0 means one per CPU
 */
#include <unistd.h>
#include <glib.h>

#include "../../milters/slots.h"
#include "../../src/stats.h"
#include "tap.h"

#define LONG_WAIT (30 * G_USEC_PER_SEC)	/* never reached when all goes well */

/* A waiter on a thread of its own. */
struct taker {
	int id;
	gint64 timeout_us;
	enum slots_took took;
	gint64 waited_us;
	GThread *thread;
};

static GMutex order_lock;
static GArray *order;		/* ids in the order their slots came */

static gpointer
take(gpointer data)
{
	struct taker *t = data;

	t->took = slots_take(t->timeout_us, &t->waited_us);
	g_mutex_lock(&order_lock);
	g_array_append_val(order, t->id);
	g_mutex_unlock(&order_lock);
	return NULL;
}

/* until_waiting - the gauge says n messages wait (up to 10 s) */
static int
until_waiting(gint64 n)
{
	int i;

	for (i = 0; i < 1000; i++) {
		if (stats_gauge_get(STATS_SCAN_SLOTS_WAITING) == n)
			return 1;
		g_usleep(10000);
	}
	return 0;
}

/* taken - how many takers have their answer */
static guint
taken(void)
{
	guint n;

	g_mutex_lock(&order_lock);
	n = order->len;
	g_mutex_unlock(&order_lock);
	return n;
}

static void
start(struct taker *t, int id, gint64 timeout_us)
{
	t->id = id;
	t->timeout_us = timeout_us;
	t->thread = g_thread_new("taker", take, t);
}

static void
fifo(void)
{
	struct taker t[4];
	gint64 waited;
	int i;

	is_int(slots_configure(1), 1, "limit 1");
	is_int(slots_take(LONG_WAIT, &waited), SLOTS_FREE, "a free slot: taken at once");
	is_int(waited, 0, "  no wait");
	for (i = 0; i < 4; i++) {
		start(&t[i], i, LONG_WAIT);
		ok(until_waiting(i + 1), "taker %d waits", i);
	}
	is_int(stats_gauge_get(STATS_SCAN_SLOTS_BUSY), 1, "one slot busy");
	for (i = 0; i < 4; i++) {
		slots_give();
		g_thread_join(t[i].thread);
		is_int(t[i].took, SLOTS_WAITED, "a slot given back goes to the next in line");
		ok(t[i].waited_us > 0, "  it waited");
	}
	for (i = 0; i < 4; i++)
		is_int(g_array_index(order, int, i), i, "first come, first served");
	is_int(taken(), 4, "every taker served");
	slots_give();
	is_int(stats_gauge_get(STATS_SCAN_SLOTS_BUSY), 0, "all given back");
	g_array_set_size(order, 0);
}

static void
timeout(void)
{
	struct taker t;
	gint64 waited;

	slots_configure(1);
	slots_take(LONG_WAIT, &waited);
	start(&t, 1, G_USEC_PER_SEC / 10);
	g_thread_join(t.thread);
	is_int(t.took, SLOTS_TIMEOUT, "a wait that runs out: no slot");
	ok(t.waited_us >= G_USEC_PER_SEC / 10, "  after its time (%lld us)", (long long) t.waited_us);
	is_int(stats_gauge_get(STATS_SCAN_SLOTS_WAITING), 0, "  it waits no more");
	is_int(stats_gauge_get(STATS_SCAN_SLOTS_BUSY), 1, "  and holds nothing");
	slots_give();
	is_int(slots_take(0, &waited), SLOTS_FREE, "the slot is free again");
	slots_give();
	g_array_set_size(order, 0);
}

static void
reload(void)
{
	struct taker t[3];
	gint64 waited;
	int i;

	slots_configure(1);
	slots_take(LONG_WAIT, &waited);
	for (i = 0; i < 3; i++) {
		start(&t[i], i, LONG_WAIT);
		until_waiting(i + 1);
	}
	slots_configure(3);
	g_thread_join(t[0].thread);
	g_thread_join(t[1].thread);
	is_int(stats_gauge_get(STATS_SCAN_SLOTS_BUSY), 3, "limit raised to 3: two more slots at once");
	is_int(stats_gauge_get(STATS_SCAN_SLOTS_WAITING), 1, "  one still waits");
	slots_configure(1);
	slots_give();
	slots_give();
	g_usleep(100000);
	is_int(taken(), 2, "limit lowered to 1 with 3 busy: 2 given back, nobody served");
	is_int(stats_gauge_get(STATS_SCAN_SLOTS_BUSY), 1, "  1 busy");
	slots_give();
	g_thread_join(t[2].thread);
	is_int(t[2].took, SLOTS_WAITED, "the last given back: the waiter served");
	slots_give();
	is_int(stats_gauge_get(STATS_SCAN_SLOTS_BUSY), 0, "all given back");
	g_array_set_size(order, 0);
}

/* Many threads, many slots: never more than the limit held at once. */
#define THREADS 16
#define ROUNDS 200
#define LIMIT 3

static gint holding, most;

static gpointer
churn(gpointer unused)
{
	gint64 waited;
	int i, now, m;

	(void) unused;
	for (i = 0; i < ROUNDS; i++) {
		if (slots_take(LONG_WAIT, &waited) == SLOTS_TIMEOUT)
			continue;
		now = g_atomic_int_add(&holding, 1) + 1;
		while ((m = g_atomic_int_get(&most)) < now
		       && !g_atomic_int_compare_and_exchange(&most, m, now))
			;
		g_thread_yield();
		g_atomic_int_add(&holding, -1);
		slots_give();
	}
	return NULL;
}

static void
bound(void)
{
	GThread *th[THREADS];
	int i;

	slots_configure(LIMIT);
	for (i = 0; i < THREADS; i++)
		th[i] = g_thread_new("churn", churn, NULL);
	for (i = 0; i < THREADS; i++)
		g_thread_join(th[i]);
	ok(g_atomic_int_get(&most) <= LIMIT, "%d threads: at most %d slots held at once (%d)",
	   THREADS, LIMIT, g_atomic_int_get(&most));
	is_int(stats_gauge_get(STATS_SCAN_SLOTS_BUSY), 0, "  all given back");
	is_int(stats_gauge_get(STATS_SCAN_SLOTS_WAITING), 0, "  nobody waiting");
}

int
main(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	order = g_array_new(FALSE, FALSE, sizeof(int));
	fifo();
	timeout();
	reload();
	bound();
	is_int(slots_configure(0), cpus > 0 ? cpus : 1, "0: one slot per CPU");
	is_int(stats_gauge_get(STATS_SCAN_SLOTS), cpus > 0 ? cpus : 1, "  the gauge says so");
	is_int(slots_wait_us(120), 60 * G_USEC_PER_SEC, "the wait: half of max-scantime");
	g_array_free(order, TRUE);
	return tap_done();
}
