/*
 * stats - lock-free counters and gauges, rendered for Prometheus and
 *	for a person
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <glib.h>

#include "stats.h"

#define SLOTS 8192		/* series and admitted label values; a power of 2 */
#define LABEL_MAX 200		/* bytes of a label value kept */

/* Latency buckets, seconds (le=); +Inf is the count. */
static const double bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define NBOUNDS G_N_ELEMENTS(bounds)

/* Families of labelled series, and the label sets capped. */
enum fam {
	FAM_MESSAGES,		/* verdict, handler */
	FAM_POLICY,		/* direction, domain */
	FAM_LATENCY,		/* handler (histogram) */
	FAM_VIRUSES,		/* name */
	FAM_BANNED,		/* action */
	FAM_DISCLAIMERS,	/* outcome */
	FAM_SLOT_WAIT,		/* none: one series (histogram) */
	FAM_ADMIT_DOMAIN,	/* a domain counted by name (not rendered) */
	FAM_ADMIT_VIRUS,	/* a virus name counted by name (not rendered) */
	NFAMS
};

struct series {
	enum fam fam;
	char *labels;		/* label="value",... as rendered; the key */
	_Atomic unsigned long long v;	/* counter; histogram: count */
	_Atomic unsigned long long sum_us;	/* histogram */
	_Atomic unsigned long long bucket[NBOUNDS];	/* histogram, not cumulative */
};

static _Atomic(struct series *) slots[SLOTS];
static _Atomic unsigned long long counters[STATS_NCOUNTERS];
static _Atomic long long gauges[STATS_NGAUGES];
static atomic_uint admitted[2];		/* domains, virus names */
static atomic_uint max_labels = 50;
static atomic_ulong lost;		/* updates with no free slot */

void
stats_inc(enum stats_counter c)
{
	atomic_fetch_add_explicit(&counters[c], 1, memory_order_relaxed);
}

void
stats_add(enum stats_counter c, guint64 n)
{
	atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed);
}

void
stats_gauge_add(enum stats_gauge g, gint64 delta)
{
	atomic_fetch_add_explicit(&gauges[g], delta, memory_order_relaxed);
}

void
stats_gauge_set(enum stats_gauge g, gint64 value)
{
	atomic_store_explicit(&gauges[g], value, memory_order_relaxed);
}

gint64
stats_gauge_get(enum stats_gauge g)
{
	return atomic_load_explicit(&gauges[g], memory_order_relaxed);
}

void
stats_configure(unsigned max)
{
	atomic_store(&max_labels, max);
}

/* escape - a label value as the exposition format quotes it: backslash,
 * double quote and newline escaped, other control bytes and bytes past
 * ASCII made '_' (the value stays valid UTF-8), at most LABEL_MAX bytes
 * of the value kept; into out (size at least 2 * LABEL_MAX + 1) */
static void
escape(char *out, const char *v)
{
	size_t n = 0;

	for (; *v && n < LABEL_MAX; v++, n++) {
		unsigned char ch = (unsigned char) *v;

		if (ch == '\\' || ch == '"') {
			*out++ = '\\';
			*out++ = (char) ch;
		} else if (ch == '\n') {
			*out++ = '\\';
			*out++ = 'n';
		} else {
			*out++ = ch < 0x20 || ch > 0x7e ? '_' : (char) ch;
		}
	}
	*out = 0;
}

/* hash - of a family and its labels (FNV-1a) */
static guint
hash(enum fam f, const char *labels)
{
	guint h = 2166136261u ^ (guint) f;

	for (; *labels; labels++)
		h = (h ^ (unsigned char) *labels) * 16777619u;
	return h;
}

/*
 * find - the series of f with these labels; made when create is set and
 * there is none (the slot taken with compare-and-swap: the loser of a
 * race frees its copy and takes the winner's).  NULL: not there (create
 * unset), or the table is full.
 */
static struct series *
find(enum fam f, const char *labels, int create)
{
	guint i = hash(f, labels) & (SLOTS - 1), n;
	struct series *fresh = NULL;

	for (n = 0; n < SLOTS; n++, i = (i + 1) & (SLOTS - 1)) {
		struct series *s = atomic_load_explicit(&slots[i], memory_order_acquire);

		if (s == NULL) {
			if (!create)
				return NULL;
			if (fresh == NULL) {
				fresh = g_new0(struct series, 1);
				fresh->fam = f;
				fresh->labels = g_strdup(labels);
			}
			if (atomic_compare_exchange_strong(&slots[i], &s, fresh))
				return fresh;
			/* s is now the winner's: compare it as any other */
		}
		if (s->fam == f && !strcmp(s->labels, labels)) {
			if (fresh) {
				g_free(fresh->labels);
				g_free(fresh);
			}
			return s;
		}
	}
	if (fresh) {
		g_free(fresh->labels);
		g_free(fresh);
	}
	atomic_fetch_add(&lost, 1);
	return NULL;
}

/* series1, series2 - the series of f with one or two label values */
static struct series *
series2(enum fam f, const char *k1, const char *v1, const char *k2, const char *v2)
{
	char e1[2 * LABEL_MAX + 1], e2[2 * LABEL_MAX + 1], labels[5 * LABEL_MAX];

	escape(e1, v1);
	if (k2) {
		escape(e2, v2);
		snprintf(labels, sizeof(labels), "%s=\"%s\",%s=\"%s\"", k1, e1, k2, e2);
	} else {
		snprintf(labels, sizeof(labels), "%s=\"%s\"", k1, e1);
	}
	return find(f, labels, 1);
}

static struct series *
series1(enum fam f, const char *k, const char *v)
{
	return series2(f, k, v, NULL, NULL);
}

static void
add(struct series *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->v, 1, memory_order_relaxed);
}

/*
 * capped - v, or "other" once max_labels distinct values of this kind
 * (FAM_ADMIT_*) are counted and v is not one of them.  A value counted
 * already, and any value once the cap is reached (the count never goes
 * down), take no lock; admitting one of the first max_labels values
 * does, so that the count is exact and a value is never both.
 */
static const char *
capped(enum fam kind, const char *v)
{
	static GMutex admit_lock;
	atomic_uint *n = &admitted[kind - FAM_ADMIT_DOMAIN];
	char e[2 * LABEL_MAX + 1];
	const char *r = "other";

	escape(e, v);
	if (find(kind, e, 0))
		return v;
	if (atomic_load(n) >= atomic_load(&max_labels))
		return r;
	g_mutex_lock(&admit_lock);
	if (find(kind, e, 0))
		r = v;
	else if (atomic_load(n) < atomic_load(&max_labels) && find(kind, e, 1)) {
		atomic_fetch_add(n, 1);
		r = v;
	}
	g_mutex_unlock(&admit_lock);
	return r;
}

void
stats_message(const char *verdict, const char *handler, int outbound,
	      const char *domain)
{
	add(series2(FAM_MESSAGES, "verdict", verdict, "handler", handler ? handler : "none"));
	add(series2(FAM_POLICY, "direction", outbound ? "outbound" : "inbound",
		    "domain", domain ? capped(FAM_ADMIT_DOMAIN, domain) : "none"));
}

/* observe - one observation of usec into the histogram series s */
static void
observe(struct series *s, gint64 usec)
{
	double sec = usec / 1e6;
	unsigned i;

	if (s == NULL)
		return;
	for (i = 0; i < NBOUNDS && sec > bounds[i]; i++)
		;
	if (i < NBOUNDS)
		atomic_fetch_add_explicit(&s->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_us, (unsigned long long) (usec > 0 ? usec : 0),
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&s->v, 1, memory_order_relaxed);
}

void
stats_latency(const char *handler, gint64 usec)
{
	observe(series1(FAM_LATENCY, "handler", handler), usec);
}

void
stats_slot_wait(gint64 usec)
{
	observe(find(FAM_SLOT_WAIT, "", 1), usec);
}

void
stats_virus(const char *name)
{
	add(series1(FAM_VIRUSES, "name", capped(FAM_ADMIT_VIRUS, name)));
}

void
stats_banned(const char *action)
{
	add(series1(FAM_BANNED, "action", action));
}

void
stats_disclaimer(const char *outcome)
{
	add(series1(FAM_DISCLAIMERS, "outcome", outcome));
}

/* What is rendered, in order.  kind: LABELLED (the family's series),
 * COUNTER or GAUGE (one value, index), or a computed one. */
enum kind { K_LABELLED, K_COUNTER, K_GAUGE, K_RELOADS, K_CLAMD, K_DB_AGE, K_LOST };

static const struct metric {
	const char *name;
	const char *type;
	enum kind kind;
	int index;		/* enum fam, stats_counter or stats_gauge */
	const char *help;
} metrics[] = {
	{"sinkd_messages_total", "counter", K_LABELLED, FAM_MESSAGES,
	 "Messages by verdict and the handler that decided it (none: accepted with no decision)"},
	{"sinkd_policy_messages_total", "counter", K_LABELLED, FAM_POLICY,
	 "Messages by direction and the policy domain(s) that judged them (other: past metrics-max-domains)"},
	{"sinkd_handler_latency_seconds", "histogram", K_LABELLED, FAM_LATENCY,
	 "Time each handler took per message, all its steps together"},
	{"sinkd_viruses_total", "counter", K_LABELLED, FAM_VIRUSES,
	 "Viruses found, by signature name (other: past metrics-max-domains names)"},
	{"sinkd_banned_attachments_total", "counter", K_LABELLED, FAM_BANNED,
	 "Banned attachments, by what was done: replaced by a notice, or the message refused"},
	{"sinkd_disclaimers_total", "counter", K_LABELLED, FAM_DISCLAIMERS,
	 "Disclaimer outcomes: added, wrapped, attached, stripped, resigned, skipped, present, refused, failed"},
	{"sinkd_quarantined_total", "counter", K_COUNTER, STATS_QUARANTINED,
	 "Messages stored in the quarantine"},
	{"sinkd_released_total", "counter", K_COUNTER, STATS_RELEASED,
	 "Messages released from quarantine and let through"},
	{"sinkd_connections_refused_total", "counter", K_COUNTER, STATS_CONN_REFUSED,
	 "MTA connections refused at max-connections"},
	{"sinkd_connections", "gauge", K_GAUGE, STATS_CONNECTIONS,
	 "MTA connections open"},
	{"sinkd_messages_in_flight", "gauge", K_GAUGE, STATS_IN_FLIGHT,
	 "Messages between MAIL FROM and their end"},
	{"sinkd_reloads_total", "counter", K_RELOADS, 0,
	 "Reloads by result: ok (installed) or failed (the running configuration kept)"},
	{"sinkd_config_generation", "gauge", K_GAUGE, STATS_GENERATION,
	 "Configuration generation: 1 at start, one more per reload installed"},
	{"sinkd_start_time_seconds", "gauge", K_GAUGE, STATS_START_TIME,
	 "When the daemon started, seconds since the Unix epoch"},
	{"sinkd_spool_bytes", "gauge", K_GAUGE, STATS_SPOOL_BYTES,
	 "Bytes of messages spooled to files in spool-dir"},
	{"sinkd_engine_loaded", "gauge", K_GAUGE, STATS_ENGINE_LOADED,
	 "1 when the embedded ClamAV engine is loaded"},
	{"sinkd_engine_signatures", "gauge", K_GAUGE, STATS_ENGINE_SIGS,
	 "Signatures of the loaded engine"},
	{"sinkd_engine_database_version", "gauge", K_GAUGE, STATS_ENGINE_DB_VERSION,
	 "Version of the loaded signature database (daily's)"},
	{"sinkd_engine_database_age_seconds", "gauge", K_DB_AGE, 0,
	 "Age of the loaded signature database, from its build time"},
	{"sinkd_clamd_servers", "gauge", K_CLAMD, 0,
	 "clamd servers of the pool, by state: up (answering) or down"},
	{"sinkd_scan_slots", "gauge", K_GAUGE, STATS_SCAN_SLOTS,
	 "Messages the embedded engine may scan at once (scan-slots)"},
	{"sinkd_scan_slots_busy", "gauge", K_GAUGE, STATS_SCAN_SLOTS_BUSY,
	 "Scan slots held by messages being scanned"},
	{"sinkd_scan_slots_waiting", "gauge", K_GAUGE, STATS_SCAN_SLOTS_WAITING,
	 "Messages waiting for a scan slot"},
	{"sinkd_scan_slot_wait_seconds", "histogram", K_LABELLED, FAM_SLOT_WAIT,
	 "Time each message scanned by the embedded engine waited for a scan slot"},
	{"sinkd_scan_slot_timeouts_total", "counter", K_COUNTER, STATS_SCAN_SLOT_TIMEOUTS,
	 "Messages that got no scan slot in time (tempfailed through on-error)"},
	{"sinkd_events_queued_total", "counter", K_COUNTER, STATS_EVENTS_QUEUED,
	 "After-accept events written to the journal"},
	{"sinkd_events_refused_total", "counter", K_COUNTER, STATS_EVENTS_REFUSED,
	 "Messages tempfailed because the journal of events was full (journal-full = tempfail)"},
	{"sinkd_events_dropped_total", "counter", K_COUNTER, STATS_EVENTS_DROPPED,
	 "After-accept events dropped to make room (journal-full = drop-oldest)"},
	{"sinkd_metrics_lost_total", "counter", K_LOST, 0,
	 "Metric updates lost: the table of series was full"},
};

static gint
by_labels(gconstpointer a, gconstpointer b)
{
	return strcmp((*(struct series *const *) a)->labels, (*(struct series *const *) b)->labels);
}

/* family - the series of f, sorted by labels; g_ptr_array_free() */
static GPtrArray *
family(enum fam f)
{
	GPtrArray *a = g_ptr_array_new();
	unsigned i;

	for (i = 0; i < SLOTS; i++) {
		struct series *s = atomic_load_explicit(&slots[i], memory_order_acquire);

		if (s && s->fam == f)
			g_ptr_array_add(a, s);
	}
	g_ptr_array_sort(a, by_labels);
	return a;
}

static unsigned long long
get(_Atomic unsigned long long *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

/* histogram - one histogram series: cumulative buckets, sum, count (a
 * series without labels has no braces but those of le) */
static void
histogram(GString *out, const char *name, const struct series *s)
{
	const char *comma = *s->labels ? "," : "";
	char *braced = *s->labels ? g_strdup_printf("{%s}", s->labels) : g_strdup("");
	unsigned long long cum = 0;
	unsigned i;

	for (i = 0; i < NBOUNDS; i++) {
		cum += get((_Atomic unsigned long long *) &s->bucket[i]);
		g_string_append_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, s->labels,
				       comma, bounds[i], cum);
	}
	g_string_append_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, s->labels,
			       comma, get((_Atomic unsigned long long *) &s->v));
	g_string_append_printf(out, "%s_sum%s %.6f\n", name, braced,
			       get((_Atomic unsigned long long *) &s->sum_us) / 1e6);
	g_string_append_printf(out, "%s_count%s %llu\n", name, braced,
			       get((_Atomic unsigned long long *) &s->v));
	g_free(braced);
}

/* samples - the samples of metric m, each "name{labels} value\n";
 * text: for a person (a histogram as its count and mean) */
static void
samples(GString *out, const struct metric *m, int text)
{
	GPtrArray *a;
	guint i;

	switch (m->kind) {
	case K_LABELLED:
		a = family((enum fam) m->index);
		for (i = 0; i < a->len; i++) {
			struct series *s = g_ptr_array_index(a, i);
			unsigned long long n = get(&s->v);

			if (strcmp(m->type, "histogram"))
				g_string_append_printf(out, "%s{%s} %llu\n", m->name, s->labels, n);
			else if (!text)
				histogram(out, m->name, s);
			else
				g_string_append_printf(out, "%s%s%s%s count=%llu mean=%.6fs\n", m->name,
						       *s->labels ? "{" : "", s->labels,
						       *s->labels ? "}" : "", n,
						       n ? get(&s->sum_us) / 1e6 / n : 0.0);
		}
		g_ptr_array_free(a, TRUE);
		break;
	case K_COUNTER:
		g_string_append_printf(out, "%s %llu\n", m->name, get(&counters[m->index]));
		break;
	case K_GAUGE:
		g_string_append_printf(out, "%s %lld\n", m->name, (long long) stats_gauge_get(m->index));
		break;
	case K_RELOADS:
		g_string_append_printf(out, "%s{result=\"ok\"} %llu\n%s{result=\"failed\"} %llu\n",
				       m->name, get(&counters[STATS_RELOAD_OK]),
				       m->name, get(&counters[STATS_RELOAD_FAILED]));
		break;
	case K_CLAMD:
		g_string_append_printf(out, "%s{state=\"up\"} %lld\n%s{state=\"down\"} %lld\n",
				       m->name, (long long) stats_gauge_get(STATS_CLAMD_UP),
				       m->name, (long long) stats_gauge_get(STATS_CLAMD_DOWN));
		break;
	case K_DB_AGE:
		/* only with a loaded engine that knows its build time */
		if (stats_gauge_get(STATS_ENGINE_LOADED) && stats_gauge_get(STATS_ENGINE_DB_TIME) > 0)
			g_string_append_printf(out, "%s %lld\n", m->name,
					       (long long) time(NULL) - stats_gauge_get(STATS_ENGINE_DB_TIME));
		break;
	case K_LOST:
		g_string_append_printf(out, "%s %lu\n", m->name, atomic_load(&lost));
		break;
	}
}

void
stats_render_prometheus(GString *out)
{
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(metrics); i++) {
		g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", metrics[i].name,
				       metrics[i].help, metrics[i].name, metrics[i].type);
		samples(out, &metrics[i], 0);
	}
}

void
stats_render_text(GString *out)
{
	gint64 start = stats_gauge_get(STATS_START_TIME);
	GDateTime *t = g_date_time_new_from_unix_utc(start);
	char *when = t ? g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ") : NULL;
	unsigned i;
	gsize before;

	g_string_append_printf(out, "sinkd counters since %s (%lld seconds)\n",
			       when ? when : "?", (long long) (time(NULL) - start));
	g_free(when);
	if (t)
		g_date_time_unref(t);
	for (i = 0; i < G_N_ELEMENTS(metrics); i++) {
		g_string_append_printf(out, "\n%s:\n", metrics[i].help);
		before = out->len;
		samples(out, &metrics[i], 1);
		if (out->len == before)
			g_string_append(out, "(none)\n");
	}
}
