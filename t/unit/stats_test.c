/*
 * stats_test - the counters (src/stats.c): updates from many threads at
 * once all counted, the cap on label values ("other" past it, exact even
 * when threads race for the last place), label values escaped as the
 * exposition format wants, histograms cumulative (with labels and
 * without), gauges, and both renderings
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "../../src/stats.h"
#include "tap.h"

#define THREADS	8
#define EACH	20000

/* count - a sample's value in the text, or -1 when absent */
static long long
count(const char *text, const char *sample)
{
	char *key = g_strconcat("\n", sample, " ", NULL);
	const char *p = strstr(text, key);
	long long v = -1;

	if (p)
		sscanf(p + strlen(key), "%lld", &v);
	g_free(key);
	return v;
}

static char *
render(void)
{
	GString *s = g_string_new("\n");

	stats_render_prometheus(s);
	return g_string_free(s, FALSE);
}

static gpointer
hammer(gpointer arg)
{
	char name[32];
	int i, me = GPOINTER_TO_INT(arg);

	for (i = 0; i < EACH; i++) {
		stats_message("accept", NULL, 0, "example.org");
		stats_message("reject", "clamav", 1, "example.com");
		stats_latency("clamav", 1500);
		stats_inc(STATS_QUARANTINED);
		stats_gauge_add(STATS_IN_FLIGHT, 1);
		stats_gauge_add(STATS_IN_FLIGHT, -1);
		/* 40 virus names, 8 threads racing to admit each */
		snprintf(name, sizeof(name), "Virus.%d", (i + me) % 40);
		stats_virus(name);
	}
	return NULL;
}

int
main(void)
{
	GThread *t[THREADS];
	char *text;
	long long named = 0, v;
	int i;

	stats_configure(30);
	for (i = 0; i < THREADS; i++)
		t[i] = g_thread_new("hammer", hammer, GINT_TO_POINTER(i));
	for (i = 0; i < THREADS; i++)
		g_thread_join(t[i]);
	text = render();
	is_int(count(text, "sinkd_messages_total{verdict=\"accept\",handler=\"none\"}"),
	       THREADS * EACH, "every accept counted, from 8 threads");
	is_int(count(text, "sinkd_messages_total{verdict=\"reject\",handler=\"clamav\"}"),
	       THREADS * EACH, "every reject counted");
	is_int(count(text, "sinkd_policy_messages_total{direction=\"inbound\",domain=\"example.org\"}"),
	       THREADS * EACH, "inbound by domain");
	is_int(count(text, "sinkd_policy_messages_total{direction=\"outbound\",domain=\"example.com\"}"),
	       THREADS * EACH, "outbound by domain");
	is_int(count(text, "sinkd_quarantined_total"), THREADS * EACH, "a plain counter");
	is_int(count(text, "sinkd_messages_in_flight"), 0, "a gauge back to 0");
	is_int(count(text, "sinkd_handler_latency_seconds_count{handler=\"clamav\"}"),
	       THREADS * EACH, "histogram count");
	is_int(count(text, "sinkd_handler_latency_seconds_bucket{handler=\"clamav\",le=\"0.001\"}"),
	       0, "1.5 ms is not under 1 ms");
	is_int(count(text, "sinkd_handler_latency_seconds_bucket{handler=\"clamav\",le=\"0.0025\"}"),
	       THREADS * EACH, "1.5 ms is under 2.5 ms");
	is_int(count(text, "sinkd_handler_latency_seconds_bucket{handler=\"clamav\",le=\"10\"}"),
	       THREADS * EACH, "buckets are cumulative");
	ok(strstr(text, "sinkd_handler_latency_seconds_sum{handler=\"clamav\"} 240.000000\n") != NULL,
	   "histogram sum in seconds");
	/* the cap: 30 names (2 domains took 2 of the other kind's places: none) */
	for (i = 0; i < 40; i++) {
		char key[64];

		snprintf(key, sizeof(key), "sinkd_viruses_total{name=\"Virus.%d\"}", i);
		if ((v = count(text, key)) > 0)
			named++;
	}
	is_int(named, 30, "30 virus names counted by name (metrics-max-domains)");
	is_int(count(text, "sinkd_viruses_total{name=\"other\"}"), THREADS * EACH / 40 * 10,
	       "the other 10 names' finds count as other");
	is_int(count(text, "sinkd_metrics_lost_total"), 0, "nothing lost");
	g_free(text);

	/* escaping: quote, backslash, newline, bytes past ASCII */
	stats_virus("Bad\"Name\\x\nY\xc3\xa9");
	text = render();
	ok(strstr(text, "sinkd_viruses_total{name=\"other\"}") != NULL
	   && strstr(text, "Bad") == NULL, "a name past the cap is other, never printed");
	g_free(text);
	stats_configure(100);
	stats_virus("Bad\"Name\\x\nY\xc3\xa9");
	text = render();
	is_int(count(text, "sinkd_viruses_total{name=\"Bad\\\"Name\\\\x\\nY__\"}"), 1,
	       "a label value escaped: \\\" \\\\ \\n, bytes past ASCII made _");
	ok(strstr(text, "# HELP sinkd_messages_total ") && strstr(text, "# TYPE sinkd_messages_total counter\n")
	   && strstr(text, "# TYPE sinkd_handler_latency_seconds histogram\n"),
	   "HELP and TYPE lines");
	g_free(text);

	/* a histogram without labels: no empty braces */
	stats_slot_wait(0);
	stats_slot_wait(2 * G_USEC_PER_SEC);
	text = render();
	is_int(count(text, "sinkd_scan_slot_wait_seconds_bucket{le=\"0.0005\"}"), 1,
	       "unlabelled histogram: a bucket");
	is_int(count(text, "sinkd_scan_slot_wait_seconds_bucket{le=\"+Inf\"}"), 2,
	       "unlabelled histogram: +Inf");
	is_int(count(text, "sinkd_scan_slot_wait_seconds_count"), 2, "unlabelled histogram: count");
	ok(strstr(text, "\nsinkd_scan_slot_wait_seconds_sum 2.000000\n") != NULL,
	   "unlabelled histogram: sum");
	g_free(text);

	/* the text for a person */
	{
		GString *s = g_string_new(NULL);

		stats_gauge_set(STATS_START_TIME, 1000);
		stats_render_text(s);
		ok(g_str_has_prefix(s->str, "sinkd counters since 1970-01-01T00:16:40Z ("), "text: since when");
		ok(strstr(s->str, "sinkd_handler_latency_seconds{handler=\"clamav\"} count=160000 mean=0.001500s\n")
		   != NULL, "text: a histogram as its count and mean");
		ok(strstr(s->str, "\nsinkd_quarantined_total 160000\n") != NULL, "text: a counter");
		ok(strstr(s->str, "\nsinkd_scan_slot_wait_seconds count=2 mean=1.000000s\n") != NULL,
		   "text: a histogram without labels");
		ok(strstr(s->str, "# ") == NULL, "text: no exposition comments");
		g_string_free(s, TRUE);
	}
	return tap_done();
}
