/*
 * status - the daemon's report of itself (see status.h)
 */
#include <unistd.h>
#include <glib.h>

#include "handler.h"
#include "policy.h"
#include "status.h"

#ifndef SINKD_VERSION
#define SINKD_VERSION "0.1"
#endif

struct section {
	char *name;
	status_fn fn;
};

static GMutex lock;
static GArray *sections;	/* struct section; under lock */
static unsigned generation;	/* under lock */
static gint64 started, loaded;	/* real time, us; under lock */

/* status_register - add a section, or give one of that name a new
 * function */
void
status_register(const char *section, status_fn fn)
{
	struct section sec = {NULL, fn};
	guint i;

	g_mutex_lock(&lock);
	if (sections == NULL)
		sections = g_array_new(FALSE, FALSE, sizeof(struct section));
	for (i = 0; i < sections->len; i++)
		if (!g_strcmp0(g_array_index(sections, struct section, i).name, section)) {
			g_array_index(sections, struct section, i).fn = fn;
			break;
		}
	if (i == sections->len) {
		sec.name = g_strdup(section);
		g_array_append_val(sections, sec);
	}
	g_mutex_unlock(&lock);
}

/* status_reset - forget every section (at exit) */
void
status_reset(void)
{
	guint i;

	g_mutex_lock(&lock);
	for (i = 0; sections && i < sections->len; i++)
		g_free(g_array_index(sections, struct section, i).name);
	if (sections)
		g_array_free(sections, TRUE);
	sections = NULL;
	g_mutex_unlock(&lock);
}

/* status_loaded - a snapshot was installed: the next generation */
void
status_loaded(const struct snapshot *s)
{
	(void) s;
	g_mutex_lock(&lock);
	loaded = g_get_real_time();
	if (started == 0)
		started = loaded;
	generation++;
	g_mutex_unlock(&lock);
}

/* when - a real time (us) as "YYYY-MM-DD HH:MM:SS UTC" */
static void
when(GString *out, gint64 us)
{
	GDateTime *d = g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC);
	char *t = g_date_time_format(d, "%Y-%m-%d %H:%M:%S UTC");

	g_string_append(out, t);
	g_free(t);
	g_date_time_unref(d);
}

/* duration - seconds as "3d 04:05:06" */
static void
duration(GString *out, gint64 s)
{
	if (s >= 86400)
		g_string_append_printf(out, "%" G_GINT64_FORMAT "d ", s / 86400);
	g_string_append_printf(out, "%02d:%02d:%02d", (int) (s % 86400 / 3600),
			       (int) (s % 3600 / 60), (int) (s % 60));
}

/* files - the files a snapshot was read from: sinkd.conf, the domains'
 * default.conf and each domain's file, sorted */
static void
files(GString *out, const struct snapshot *s)
{
	GPtrArray *list = g_ptr_array_new();
	GHashTableIter it;
	gpointer k, v;
	guint i;

	if (s->def && s->def->file && g_strcmp0(s->def->file, s->conf_path))
		g_ptr_array_add(list, s->def->file);
	g_hash_table_iter_init(&it, s->domains);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (((struct policy *) v)->file)
			g_ptr_array_add(list, ((struct policy *) v)->file);
	g_ptr_array_sort(list, (GCompareFunc) g_strcmp0);
	g_string_append_printf(out, "config-file: %s\n", s->conf_path);
	for (i = 0; i < list->len; i++)
		if (i == 0 || g_strcmp0(*(char **) &list->pdata[i], *(char **) &list->pdata[i - 1]))
			g_string_append_printf(out, "config-file: %s\n", (char *) list->pdata[i]);
	g_ptr_array_free(list, TRUE);
}

/* status_render - the whole report, core lines then each section */
void
status_render(GString *out)
{
	struct snapshot *s = snapshot_current();
	gint64 now = g_get_real_time();
	GArray *copy;
	unsigned gen, i;
	gint64 t0, t1;

	g_mutex_lock(&lock);
	gen = generation;
	t0 = started;
	t1 = loaded;
	copy = g_array_new(FALSE, FALSE, sizeof(struct section));
	for (i = 0; sections && i < sections->len; i++) {
		struct section sec = g_array_index(sections, struct section, i);

		sec.name = g_strdup(sec.name);
		g_array_append_val(copy, sec);
	}
	g_mutex_unlock(&lock);

	g_string_append_printf(out, "version: sinkd %s\npid: %ld\n", SINKD_VERSION, (long) getpid());
	g_string_append(out, "started: ");
	when(out, t0 ? t0 : now);
	g_string_append(out, "\nuptime: ");
	duration(out, (now - (t0 ? t0 : now)) / G_USEC_PER_SEC);
	g_string_append_printf(out, "\nconfig-generation: %u\nconfig-loaded: ", gen);
	when(out, t1 ? t1 : now);
	g_string_append_c(out, '\n');
	if (s) {
		files(out, s);
		g_string_append(out, "chain:");
		for (i = 0; i < s->nchain; i++)
			g_string_append_printf(out, " %s", s->chain[i]->name);
		g_string_append_c(out, '\n');
		for (i = 0; i < s->nchain; i++) {
			const struct conf_group *g = snapshot_group(s, s->chain[i]);

			g_string_append_printf(out, "handler %s: in chain, on-error=%s\n",
					       s->chain[i]->name, g ? conf_get(g, "on-error")->raw : "-");
		}
		snapshot_unref(s);
	}
	for (i = 0; i < copy->len; i++) {
		struct section *sec = &g_array_index(copy, struct section, i);

		g_string_append_printf(out, "\n[%s]\n", sec->name);
		sec->fn(out);
		g_free(sec->name);
	}
	g_array_free(copy, TRUE);
}
