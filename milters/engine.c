/*
 * engine - the embedded libclamav engine (see engine.h)
 */
#include <sys/stat.h>
#include <errno.h>
#include <string.h>
#include <glib.h>
#include <clamav.h>
#include <openssl/evp.h>

#include "../src/conf.h"
#include "../src/log.h"
#include "../src/room.h"
#include "../src/stats.h"
#include "engine.h"

#define LIMIT_PREFIX "Heuristics.Limits.Exceeded"
#define RETRY_SECONDS 30	/* no engine yet and no watch period */
#define TMP_SLACK (1ULL << 20)	/* room in tmpdir beyond twice the message */

struct eng {
	gint refs;
	struct cl_engine *cl;
	unsigned sigs;
	unsigned dbversion;
	time_t dbtime;		/* build time of that version; 0: unknown */
	unsigned long long max_filesize;
	char *tmpdir;		/* where libclamav writes what it extracts */
};

static GMutex lock;
static GCond cond;
static struct eng *cur;			/* under lock */
static struct engine_settings want;	/* under lock */
static unsigned want_gen, done_gen;	/* under lock */
static int stopping;			/* under lock */
static GThread *watcher;
static GOnce cl_once = G_ONCE_INIT;

static void
eng_unref(struct eng *e)
{
	if (e && g_atomic_int_dec_and_test(&e->refs)) {
		cl_engine_free(e->cl);
		g_free(e->tmpdir);
		g_free(e);
	}
}

/* eng_get - a reference to the current engine, or NULL */
static struct eng *
eng_get(void)
{
	struct eng *e;

	g_mutex_lock(&lock);
	if ((e = cur) != NULL)
		g_atomic_int_inc(&e->refs);
	g_mutex_unlock(&lock);
	return e;
}

/* eng_install - make e current; the old one goes when its scans end */
static void
eng_install(struct eng *e)
{
	struct eng *old;

	g_mutex_lock(&lock);
	old = cur;
	cur = e;
	stats_gauge_set(STATS_ENGINE_LOADED, e != NULL);
	stats_gauge_set(STATS_ENGINE_SIGS, e ? e->sigs : 0);
	stats_gauge_set(STATS_ENGINE_DB_VERSION, e ? e->dbversion : 0);
	stats_gauge_set(STATS_ENGINE_DB_TIME, e ? e->dbtime : 0);
	g_mutex_unlock(&lock);
	eng_unref(old);
}

/* inspect - libclamav's file-inspection callback: note each file it
 * looks at, so that the caller can tell which parts it never saw.  The
 * outermost file (level 0) is the buffer engine_scan was given: a whole
 * message or reading, never a part's decoded content, and summing it
 * would cost more than all its parts together. */
static cl_error_t
inspect(int fd, const char *type, const char **ancestors, size_t parent_size,
	const char *name, size_t size, const char *buf, uint32_t level,
	uint32_t attributes, void *context)
{
	(void) fd;
	(void) ancestors;
	(void) parent_size;
	(void) name;
	(void) attributes;
	if (context == NULL || buf == NULL || level == 0)
		return CL_CLEAN;
	g_hash_table_add(context, engine_fingerprint(buf, size, 0));
	/* text, whose line ends libclamav's mail parser changes (binary
	 * parts, the bulk of the bytes, need only the one sum) */
	if (type && (g_str_has_prefix(type, "CL_TYPE_TEXT") || g_str_has_prefix(type, "CL_TYPE_HTML")
		     || !strcmp(type, "CL_TYPE_MAIL")))
		g_hash_table_add(context, engine_fingerprint(buf, size, 1));
	return CL_CLEAN;
}

/*
 * engine_fingerprint - "[t]LEN:SHA256" of the bytes exactly, or with text,
 * of the text whatever its line ends: without CRs and without trailing
 * newlines, the runs between CRs gathered in a buffer and fed to the
 * digest a buffer at a time (a digest update per line of CRLF text costs
 * more than the sum itself).  OpenSSL's SHA-256 (which uses the CPU's SHA
 * instructions where there are some): these sums cover every inner file
 * libclamav inspects and every decoded part.
 */
static gpointer
sha256_fetch(gpointer unused)
{
	(void) unused;
	return EVP_MD_fetch(NULL, "SHA256", NULL);
}

char *
engine_fingerprint(const void *data, size_t len, int text)
{
	static GOnce once = G_ONCE_INIT;
	static const char hex[] = "0123456789abcdef";
	/* an empty part's bytes may be a NULL pointer: no arithmetic on it */
	const unsigned char *p = data, *end = len ? p + len : p, *cr;
	unsigned char md[EVP_MAX_MD_SIZE], run[8192];
	char sum[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int mdlen = 0, i;
	size_t n = 0, fill = 0, k;
	const EVP_MD *sha256 = g_once(&once, sha256_fetch, NULL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (text)
		while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
			end--;
	if (sha256 == NULL || ctx == NULL || !EVP_DigestInit_ex(ctx, sha256, NULL))
		g_error("engine_fingerprint: OpenSSL cannot make a SHA-256 context");
	if (!text && p < end) {
		EVP_DigestUpdate(ctx, p, end - p);
		n = end - p;
	}
	while (text && p < end) {
		cr = memchr(p, '\r', end - p);
		k = MIN((size_t) ((cr ? cr : end) - p), sizeof(run) - fill);
		memcpy(run + fill, p, k);
		fill += k;
		n += k;
		p += k;
		if (p == cr)
			p++;
		if (fill == sizeof(run)) {
			EVP_DigestUpdate(ctx, run, fill);
			fill = 0;
		}
	}
	if (fill)
		EVP_DigestUpdate(ctx, run, fill);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < mdlen; i++) {
		sum[2 * i] = hex[md[i] >> 4];
		sum[2 * i + 1] = hex[md[i] & 15];
	}
	sum[2 * i] = 0;
	return g_strdup_printf("%s%zu:%s", text ? "t" : "", n, sum);
}

/* cl_message - libclamav's own messages, into sinkd's log */
static void
cl_message(enum cl_msg severity, const char *fullmsg, const char *msg,
	   void *context)
{
	char *line = g_strchomp(g_strdup(msg ? msg : fullmsg));

	(void) context;
	if (severity == CL_MSG_ERROR)
		log_warn("libclamav: %s", line);
	else
		log_debug("libclamav: %s", line);
	g_free(line);
}

static gpointer
cl_setup(gpointer unused)
{
	cl_error_t rc;

	(void) unused;
	cl_set_clcb_msg(cl_message);
	rc = cl_init(CL_INIT_DEFAULT);
	return GINT_TO_POINTER(rc == CL_SUCCESS ? 1 : -1);
}

static void
settings_copy(struct engine_settings *dst, const struct engine_settings *src)
{
	g_free(dst->database);
	g_free(dst->tmpdir);
	*dst = *src;
	dst->database = g_strdup(src->database);
	dst->tmpdir = g_strdup(src->tmpdir);
}

/* engine_time_text - a build time as UTC text, or "at an unknown time";
 * g_free() it */
char *
engine_time_text(time_t t)
{
	GDateTime *d = t > 0 ? g_date_time_new_from_unix_utc((gint64) t) : NULL;
	char *text = d ? g_date_time_format(d, "%Y-%m-%d %H:%M:%S UTC") : NULL;

	if (d)
		g_date_time_unref(d);
	return text ? text : g_strdup("at an unknown time");
}

static void
settings_clear(struct engine_settings *s)
{
	g_free(s->database);
	g_free(s->tmpdir);
	memset(s, 0, sizeof(*s));
}

/* eng_build - load and compile an engine; NULL with *why set */
static struct eng *
eng_build(const struct engine_settings *s, char **why)
{
	struct cl_engine *cl;
	unsigned sigs = 0;
	cl_error_t rc;
	struct eng *e;
	int err;

	if (GPOINTER_TO_INT(g_once(&cl_once, cl_setup, NULL)) < 0) {
		*why = g_strdup("cl_init failed");
		return NULL;
	}
	if ((*why = engine_database_unsafe(s->database)) != NULL)
		return NULL;
	if ((cl = cl_engine_new()) == NULL) {
		*why = g_strdup("cl_engine_new: out of memory");
		return NULL;
	}
	cl_engine_set_num(cl, CL_ENGINE_MAX_SCANSIZE, (long long) s->max_scansize);
	cl_engine_set_num(cl, CL_ENGINE_MAX_FILESIZE, (long long) s->max_filesize);
	cl_engine_set_num(cl, CL_ENGINE_MAX_RECURSION, s->max_recursion);
	cl_engine_set_num(cl, CL_ENGINE_MAX_FILES, s->max_files);
	cl_engine_set_num(cl, CL_ENGINE_MAX_SCANTIME, s->max_scantime_ms);
	cl_engine_set_num(cl, CL_ENGINE_DISABLE_CACHE, !s->cache);
	if (s->tmpdir && *s->tmpdir)
		cl_engine_set_str(cl, CL_ENGINE_TMPDIR, s->tmpdir);
	cl_engine_set_clcb_file_inspection(cl, inspect);
	rc = cl_load(s->database, cl, &sigs, CL_DB_STDOPT);
	if (rc == CL_SUCCESS && sigs == 0)
		*why = g_strdup_printf("%s: no signatures", s->database);
	else if (rc != CL_SUCCESS)
		*why = g_strdup_printf("%s: %s", s->database, cl_strerror(rc));
	else if ((rc = cl_engine_compile(cl)) != CL_SUCCESS)
		*why = g_strdup_printf("compile: %s", cl_strerror(rc));
	else
		*why = NULL;
	if (*why) {
		cl_engine_free(cl);
		return NULL;
	}
	e = g_new0(struct eng, 1);
	e->refs = 1;
	e->cl = cl;
	e->sigs = sigs;
	e->max_filesize = s->max_filesize;
	/* libclamav's own default: $TMPDIR, else /tmp */
	e->tmpdir = g_strdup(s->tmpdir && *s->tmpdir ? s->tmpdir : g_get_tmp_dir());
	e->dbversion = (unsigned) cl_engine_get_num(cl, CL_ENGINE_DB_VERSION, &err);
	e->dbtime = (time_t) cl_engine_get_num(cl, CL_ENGINE_DB_TIME, &err);
	if (err != CL_SUCCESS || e->dbtime < 0)
		e->dbtime = 0;
	return e;
}

/* What the database directory looked like at the last load. */
struct dbstate {
	struct cl_stat st;	/* libclamav's view: new and changed files */
	int have;
	char *listing;		/* names, sizes and times: removed files too */
};

static gint
name_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* listing - every entry of dir with its inode, size and mtime (to the
 * nanosecond), sorted */
static char *
listing(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GString *out = g_string_new(NULL);
	const char *n;
	guint i;

	while (d && (n = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(names, g_strdup(n));
	if (d)
		g_dir_close(d);
	g_ptr_array_sort(names, name_cmp);
	for (i = 0; i < names->len; i++) {
		char *path = g_build_filename(dir, (char *) names->pdata[i], NULL);
		struct stat sb;

		if (stat(path, &sb) == 0)
			g_string_append_printf(out, "%s:%llu:%lld:%lld.%09ld\n", (char *) names->pdata[i],
					       (unsigned long long) sb.st_ino, (long long) sb.st_size,
					       (long long) sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
		g_free(path);
	}
	g_ptr_array_unref(names);
	return g_string_free(out, FALSE);
}

static void
dbstate_clear(struct dbstate *d)
{
	if (d->have)
		cl_statfree(&d->st);
	g_free(d->listing);
	memset(d, 0, sizeof(*d));
}

/* dbstate_take - note the directory's state: taken before a load, so that
 * a change during the load is seen at the next check, not lost */
static void
dbstate_take(struct dbstate *d, const char *dir)
{
	dbstate_clear(d);
	d->have = cl_statinidir(dir, &d->st) == CL_SUCCESS;
	d->listing = listing(dir);
}

/* dbstate_changed - cl_statchkdir sees new and changed files; the
 * listing, files removed too */
static int
dbstate_changed(struct dbstate *d, const char *dir)
{
	char *now;
	int changed;

	if (d->listing == NULL)
		return 0;
	if (d->have && cl_statchkdir(&d->st) == 1) {
		log_debug("clamav: cl_statchkdir: %s changed", dir);
		return 1;
	}
	now = listing(dir);
	changed = strcmp(now, d->listing) != 0;
	if (changed)
		log_debug("clamav: %s: was\n%snow\n%s", dir, d->listing, now);
	g_free(now);
	return changed;
}

/* load - build an engine with s and make it current; 0 or -1 */
static int
load(const struct engine_settings *s, struct dbstate *d)
{
	gint64 t0 = g_get_monotonic_time();
	char *why = NULL, *built;
	struct eng *e;

	dbstate_take(d, s->database);
	if ((e = eng_build(s, &why)) == NULL) {
		log_error("clamav: cannot load the signature database %s; %s",
			  why, cur ? "keeping the running engine" : "no engine yet");
		g_free(why);
		return -1;
	}
	built = engine_time_text(e->dbtime);
	log_info("clamav: engine ready: ClamAV %s, database version %u built %s, "
		 "%u signatures from %s, loaded in %.2fs",
		 cl_retver(), e->dbversion, built, e->sigs, s->database,
		 (g_get_monotonic_time() - t0) / 1e6);
	g_free(built);
	eng_install(e);
	if (s->loaded)
		s->loaded();
	return 0;
}

/* watch - the loader thread: loads on request and on database change */
static gpointer
watch(gpointer unused)
{
	struct engine_settings s = {0};
	struct dbstate d = {0};
	gint64 due = 0;

	(void) unused;
	g_mutex_lock(&lock);
	for (;;) {
		unsigned gen;
		int force, ok;

		while (!stopping && want_gen == done_gen
		       && (due == 0 || g_get_monotonic_time() < due)) {
			if (due == 0)
				g_cond_wait(&cond, &lock);
			else
				g_cond_wait_until(&cond, &lock, due);
		}
		if (stopping)
			break;
		gen = want_gen;
		force = gen != done_gen || cur == NULL;
		settings_copy(&s, &want);
		g_mutex_unlock(&lock);

		if (!force && dbstate_changed(&d, s.database)) {
			log_info("clamav: %s changed; reloading", s.database);
			force = 1;
		}
		ok = force ? load(&s, &d) == 0 : 1;

		g_mutex_lock(&lock);
		done_gen = gen;
		if (s.watch)
			due = g_get_monotonic_time() + (gint64) s.watch * G_USEC_PER_SEC;
		else
			due = ok ? 0 : g_get_monotonic_time() + RETRY_SECONDS * G_USEC_PER_SEC;
	}
	g_mutex_unlock(&lock);
	dbstate_clear(&d);
	settings_clear(&s);
	return NULL;
}

int
engine_configure(const struct engine_settings *s, int wait)
{
	if (wait) {
		struct dbstate d = {0};
		int rc = load(s, &d);

		dbstate_clear(&d);
		return rc;
	}
	g_mutex_lock(&lock);
	settings_copy(&want, s);
	want_gen++;
	stopping = 0;
	stats_gauge_set(STATS_ENGINE_WANTED, 1);
	if (watcher == NULL)
		watcher = g_thread_new("clamav-loader", watch, NULL);
	g_cond_signal(&cond);
	g_mutex_unlock(&lock);
	return 0;
}

void
engine_stop(void)
{
	g_mutex_lock(&lock);
	stopping = 1;
	stats_gauge_set(STATS_ENGINE_WANTED, 0);
	g_cond_signal(&cond);
	g_mutex_unlock(&lock);
	if (watcher) {
		g_thread_join(watcher);
		watcher = NULL;
	}
	eng_install(NULL);
	g_mutex_lock(&lock);
	settings_clear(&want);
	g_mutex_unlock(&lock);
}

/*
 * scan_room - room on tmpdir's file system for what libclamav may write
 * while it scans len bytes: twice that, and TMP_SLACK (room.h counts
 * what other scans and the spool hold on the same file system).  Its
 * mail parser writes each decoded part to a file there and, when the
 * write fails (disk full), scans what reached the file and says nothing:
 * the message would pass as clean.  (Archive members are written with
 * their errors checked, and the decoded parts of a message come to less
 * than the message.)  The hold lasts the scan: libclamav removes its
 * files at the end.  0, or -1 with why set.
 */
static int
scan_room(struct room *r, const char *dir, size_t len, char *why, size_t whylen)
{
	char room_why[sizeof(((struct scan_result *) 0)->name)];

	if (room_reserve(r, dir, 2ULL * len + TMP_SLACK, room_why, sizeof(room_why)) == 0)
		return 0;
	g_snprintf(why, whylen, "tmpdir %s", room_why);
	return -1;
}

void
engine_scan(const void *data, size_t len, struct scan_result *r,
	    GHashTable *seen, unsigned flags)
{
	struct cl_scan_options o = {0};
	const char *virname = NULL;
	unsigned long scanned = 0;
	char why[sizeof(r->name)];
	struct room room = ROOM_INIT;
	struct eng *e;
	cl_fmap_t *map;
	cl_error_t rc;

	if ((e = eng_get()) == NULL) {
		scan_set(r, SCAN_ERROR, "engine not ready");
		return;
	}
	if (len == 0) {
		scan_set(r, SCAN_CLEAN, NULL);
		eng_unref(e);
		return;
	}
	/* the message is the outermost file: libclamav stops at its size
	 * without naming the limit */
	if (len > e->max_filesize) {
		scan_set(r, SCAN_LIMIT, LIMIT_PREFIX ".MaxFileSize");
		eng_unref(e);
		return;
	}
	if (scan_room(&room, e->tmpdir, len, why, sizeof(why)) < 0) {
		scan_set(r, SCAN_ERROR, why);
		eng_unref(e);
		return;
	}
	if ((map = cl_fmap_open_memory(data, len)) == NULL) {
		scan_set(r, SCAN_ERROR, "cl_fmap_open_memory failed");
		room_release(&room);
		eng_unref(e);
		return;
	}
	/* raw: the bytes as they are, for hash and body signatures; nothing
	 * taken apart or normalised */
	o.parse = flags & ENGINE_SCAN_RAW ? 0 : ~0u;
	o.general = CL_SCAN_GENERAL_HEURISTICS;
	o.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	if (flags & ENGINE_SCAN_ENCRYPTED)
		o.heuristic |= CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE | CL_SCAN_HEURISTIC_ENCRYPTED_DOC;
	rc = cl_scanmap_callback(map, NULL, &virname, &scanned, e->cl, &o, seen);
	switch (rc) {
	case CL_CLEAN:
		scan_set(r, SCAN_CLEAN, NULL);
		break;
	case CL_VIRUS:
		if (virname && g_str_has_prefix(virname, LIMIT_PREFIX))
			scan_set(r, SCAN_LIMIT, virname);
		else
			scan_set(r, SCAN_VIRUS, virname ? virname : "unnamed");
		break;
	case CL_ETIMEOUT:
	case CL_EMAXREC:
	case CL_EMAXSIZE:
	case CL_EMAXFILES:
		scan_set(r, SCAN_LIMIT, cl_strerror(rc));
		break;
	default:
		scan_set(r, SCAN_ERROR, cl_strerror(rc));
		break;
	}
	cl_fmap_close(map);
	room_release(&room);
	eng_unref(e);
}

char *
engine_version(void)
{
	struct eng *e = eng_get();
	char *v;

	if (e == NULL)
		return g_strdup("not ready");
	v = g_strdup_printf("ClamAV %s/%u/%u signatures", cl_retver(),
			    e->dbversion, e->sigs);
	eng_unref(e);
	return v;
}

/* engine_db - what the current engine was loaded from (engine.h) */
int
engine_db(struct engine_db *db)
{
	struct eng *e = eng_get();

	memset(db, 0, sizeof(*db));
	if (e == NULL)
		return -1;
	db->version = e->dbversion;
	db->built = e->dbtime;
	db->sigs = e->sigs;
	g_strlcpy(db->clamav, cl_retver(), sizeof(db->clamav));
	eng_unref(e);
	return 0;
}

/* engine_database_unsafe - the first file that the group or others could
 * change: the database itself, its directory, or a file in it */
char *
engine_database_unsafe(const char *database)
{
	char *why = conf_file_unsafe(database, CONF_FILE_ANY_OWNER, (uid_t) -1);
	GDir *d;
	const char *n;

	if (why || (d = g_dir_open(database, 0, NULL)) == NULL)
		return why;
	while (why == NULL && (n = g_dir_read_name(d)) != NULL) {
		char *path = g_build_filename(database, n, NULL);
		struct stat st;

		if (stat(path, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)))
			why = conf_file_unsafe(path, CONF_FILE_ANY_OWNER, (uid_t) -1);
		g_free(path);
	}
	g_dir_close(d);
	return why;
}
