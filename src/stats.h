/*
 * stats - counters and gauges of the running daemon, for sinkd_* metrics
 *
 * Every update is a few atomic operations on a series found in a
 * lock-free table (open addressing, slots claimed by compare-and-swap,
 * never removed): milter threads update from any number of threads at
 * once with no lock on the mail path.  A series is a metric family
 * (enum stats_family: name, type, help, label names) and its label
 * values; labels whose values come from outside the configuration
 * (policy domains, virus names) are capped: past stats_configure()'s
 * limit of distinct values, a new value counts as "other".
 *
 * Two renderers read the table, from any thread, while updates go on:
 * stats_render_prometheus() (the text exposition format 0.0.4, for GET
 * /metrics, src/metrics.c) and stats_render_text() (the same for a
 * person).  A reading is not a snapshot across series: each value is
 * read once, atomically.
 *
 * Values in base units: seconds (latency, ages), bytes.
 */
#ifndef SINKD_STATS_H
#define SINKD_STATS_H

#include <glib.h>

/* Counters without labels. */
enum stats_counter {
	STATS_CONN_REFUSED,	/* MTA connections refused: max-connections */
	STATS_QUARANTINED,	/* quarantine entries stored */
	STATS_RELEASED,		/* released messages let through */
	STATS_RELOAD_OK,	/* reloads installed */
	STATS_RELOAD_FAILED,	/* reloads refused (the old snapshot kept) */
	STATS_EVENTS_QUEUED,	/* after-accept events written to the journal */
	STATS_EVENTS_REFUSED,	/* ... refused: the journal full (tempfail) */
	STATS_EVENTS_DROPPED,	/* ... dropped to make room (journal-full) */
	STATS_SCAN_SLOT_TIMEOUTS,	/* messages that got no scan slot in time */
	STATS_NCOUNTERS
};

/* Gauges without labels. */
enum stats_gauge {
	STATS_CONNECTIONS,	/* MTA connections open */
	STATS_IN_FLIGHT,	/* messages between MAIL FROM and their end */
	STATS_START_TIME,	/* when the daemon started (Unix time) */
	STATS_GENERATION,	/* configuration generation: 1 at start */
	STATS_SPOOL_BYTES,	/* bytes of spool files in spool-dir */
	STATS_ENGINE_WANTED,	/* 1: the embedded engine is configured */
	STATS_ENGINE_LOADED,	/* 1: an engine is loaded */
	STATS_ENGINE_SIGS,	/* its signatures */
	STATS_ENGINE_DB_VERSION,	/* its database version */
	STATS_ENGINE_DB_TIME,	/* its database's build time (Unix) */
	STATS_CLAMD_UP,		/* clamd pool members answering */
	STATS_CLAMD_DOWN,	/* ... marked down */
	STATS_SCAN_SLOTS,	/* scan-slots in force */
	STATS_SCAN_SLOTS_BUSY,	/* ... held by messages being scanned */
	STATS_SCAN_SLOTS_WAITING,	/* messages waiting for one */
	STATS_NGAUGES
};

void stats_inc(enum stats_counter c);
void stats_add(enum stats_counter c, guint64 n);
void stats_gauge_add(enum stats_gauge g, gint64 delta);
void stats_gauge_set(enum stats_gauge g, gint64 value);
gint64 stats_gauge_get(enum stats_gauge g);

/* stats_configure - the cap on distinct policy domains and virus names
 * (metrics-max-domains); values already counted keep their series */
void stats_configure(unsigned max_labels);

/* stats_message - one message's end: its verdict (verdict_name()), the
 * handler that decided it (NULL: none), its direction and the policy
 * domain(s) that judged it (NULL: none) */
void stats_message(const char *verdict, const char *handler, int outbound,
		   const char *domain);

/* stats_latency - the time one handler took for one message, in
 * microseconds: a histogram per handler */
void stats_latency(const char *handler, gint64 usec);

/* stats_slot_wait - how long one message waited for a scan slot, in
 * microseconds (0: one was free): a histogram */
void stats_slot_wait(gint64 usec);

/* stats_virus - a virus found, by signature name */
void stats_virus(const char *name);

/* stats_banned - a banned attachment: "replaced" or "refused" */
void stats_banned(const char *action);

/* stats_disclaimer - what the disclaimer handler did: added, wrapped,
 * attached, stripped, resigned, skipped, present (there already),
 * refused, failed (the change could not be made: tempfailed) */
void stats_disclaimer(const char *outcome);

/* stats_render_prometheus - every metric in the text exposition format
 * 0.0.4 (# HELP, # TYPE, samples), appended to out */
void stats_render_prometheus(GString *out);

/* stats_render_text - the counters since start for a person, one
 * "name{labels} value" per line under a title per family, appended */
void stats_render_text(GString *out);

#endif
