/*
 * clamav - block viruses: every message scanned whole, by the embedded
 *	libclamav engine or a pool of clamd servers, before the MTA takes it
 *
 * At end of message the whole message as received (header block and
 * body: the spool, in memory or mapped from its file; no copy is made)
 * is scanned with libclamav's mail, archive and document parsers, and
 * each part as GMime decodes it (scan-parts), as received too: what a
 * handler before this one changed (a banned part replaced) does not
 * change the verdict, whatever the chain order.  What the scan finds
 * decides:
 *
 *	virus	the domain's action: reject (the reply names the virus),
 *		tempfail, discard, quarantine (stored in quarantine-dir and
 *		discarded, or held in the MTA's hold queue) or tag (header
 *		fields and a subject prefix, then delivered);
 *	limit	a scan limit was reached (nesting, size, file count, time):
 *		on-limit says reject, tempfail or accept;
 *	error	the scanner failed, timed out or has no engine yet: the
 *		chain's on-error applies (tempfail unless the administrator
 *		chose to fail open).
 *
 * The content of opaque-signed S/MIME parts, which libclamav does not
 * unwrap, is unwrapped (milters/smime.h) and scanned too, at any depth
 * (scan_signed).  With block-encrypted, an archive or document libclamav
 * finds encrypted, which it cannot look into, is a finding
 * (Heuristics.Encrypted.*) and the domain's action applies.
 *
 * A message is never passed unscanned except by on-error = accept,
 * on-limit = accept, skip-authenticated / skip-internal, or a release
 * token (quarantine.h) that checks out for its body.
 *
 * The scanner is process-wide state: configure() (at start and on every
 * reload) points the handler at the embedded engine (engine.h) or at a
 * clamd pool (clamd.h) built from the [clamav] group's keys, which are
 * not per domain; only the verdict keys are.
 *
 * How old the signatures are is known from the engine (its database's
 * build time) or from clamd's answer to VERSION: logged at each load,
 * warned of over signatures-warn-age (fresh_check), and, per domain, a
 * reason to tempfail (signatures-too-old, too_old).  clamav.h hands it
 * to the rest of sinkd; the status report shows it (clamav_status).
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "../src/handler.h"
#include "../src/log.h"
#include "../src/mime.h"
#include "../src/policy.h"
#include "../src/room.h"
#include "../src/status.h"
#include "../src/stats.h"
#include "../src/template.h"
#include "clamav.h"
#include "clamd.h"
#include "engine.h"
#include "quarantine.h"
#include "registry.h"
#include "scan.h"
#include "slots.h"
#include "smime.h"

enum action { ACT_REJECT, ACT_TEMPFAIL, ACT_QUARANTINE, ACT_DISCARD, ACT_TAG };
enum limit { LIM_REJECT, LIM_TEMPFAIL, LIM_ACCEPT };

static const char *const backend_values[] = {"embedded", "clamd", NULL};
static const char *const action_values[] = {"reject", "tempfail", "quarantine", "discard", "tag", NULL};
static const char *const limit_values[] = {"reject", "tempfail", "accept", NULL};
static const char *const method_values[] = {"store", "hold", NULL};
static const char *const via_values[] = {"sendmail", "smtp", NULL};
static const char *const parts_values[] = {"all", "unseen", "none", NULL};
static const char *const too_old_values[] = {"tempfail", "scan", NULL};

enum parts { PARTS_ALL, PARTS_UNSEEN, PARTS_NONE };
enum too_old { TOO_OLD_TEMPFAIL, TOO_OLD_SCAN };

#define AGE_MAX (3650LL * 86400)	/* bound of the signatures-*-age keys */

#define G CONF_NODOMAIN

static const struct conf_key clamav_keys[] = {
	{"backend", CONF_ENUM, "embedded", .values = backend_values, .flags = G,
	 .doc = "embedded (libclamav in sinkd) or clamd (a pool of clamd servers)"},
	{"database", CONF_PATH, "/var/lib/clamav", .flags = G,
	 .doc = "signature directory the embedded engine loads (.cvd, .cld, .hdb, .ndb, .ldb, ...)"},
	{"watch-interval", CONF_TIME, "60s", 0, 86400, .flags = G,
	 .doc = "how often the database directory is checked for changes; 0: only on SIGHUP"},
	{"tmpdir", CONF_PATH, "/run/sinkd/tmp", .flags = G,
	 .doc = "where libclamav extracts parts while scanning (tmpfs), made at start; empty: $TMPDIR or /tmp"},
	{"max-scansize", CONF_SIZE, "400m", 1, 4LL << 30, .flags = G,
	 .doc = "most data scanned per message, extracted parts included"},
	{"max-filesize", CONF_SIZE, "100m", 1, 4LL << 30, .flags = G,
	 .doc = "largest single part or archive member scanned"},
	{"max-recursion", CONF_INT, "16", 1, 100, .flags = G,
	 .doc = "deepest nesting of archives and attached messages"},
	{"max-files", CONF_INT, "10000", 1, 1000000, .flags = G,
	 .doc = "most parts and archive members scanned per message"},
	{"max-scantime", CONF_TIME, "120s", 1, 3600, .flags = G,
	 .doc = "longest time one message may be scanned"},
	{"scan-slots", CONF_INT, "0", 0, 4096, .flags = G,
	 .doc = "most messages the embedded engine scans at once (others wait up to half max-scantime); 0: one per CPU"},
	{"clean-cache", CONF_BOOL, "yes", .flags = G,
	 .doc = "libclamav's cache of parts already found clean"},
	{"clamd", CONF_LIST, "", .flags = G,
	 .doc = "clamd servers for backend = clamd: unix:/path, tcp:host:port, ..."},
	{"clamd-connect-timeout", CONF_TIME, "5s", 1, 600, .flags = G,
	 .doc = "how long to wait for a clamd server to accept a connection"},
	{"clamd-timeout", CONF_TIME, "120s", 1, 3600, .flags = G,
	 .doc = "how long to wait for each read or write to a clamd server"},
	{"clamd-retry", CONF_TIME, "30s", 0, 3600, .flags = G,
	 .doc = "how long a clamd server that failed is left alone"},
	{"quarantine-dir", CONF_PATH, "/var/lib/sinkd/quarantine", .flags = G,
	 .doc = "where action = quarantine with quarantine-method = store keeps messages"},
	{"release-via", CONF_ENUM, "sendmail", .values = via_values, .flags = G,
	 .doc = "how sinkd-quarantine release re-injects a message: sendmail or smtp"},
	{"release-sendmail", CONF_PATH, "/usr/sbin/sendmail", .flags = G,
	 .doc = "the MTA's sendmail command, for release-via = sendmail"},
	{"release-relay", CONF_STRING, "127.0.0.1:25", .flags = G,
	 .doc = "host:port of the SMTP server, for release-via = smtp"},
	{"signatures-warn-age", CONF_TIME, "7d", 0, AGE_MAX, .flags = G,
	 .doc = "warn when the signatures in use were built longer ago than this; 0: never"},
	{"action", CONF_ENUM, "reject", .values = action_values, .merge = MERGE_ENUM,
	 .doc = "what a virus means: reject, tempfail, quarantine, discard or tag"},
	{"reply", CONF_REPLY, "550 5.7.1 Message contains a virus (${virus})", .merge = MERGE_DEFAULT,
	 .doc = "reply for action = reject; ${virus} is the signature's name"},
	{"tempfail-reply", CONF_REPLY, "451 4.7.1 Message contains a virus (${virus}), try again later", .merge = MERGE_DEFAULT,
	 .doc = "reply for action = tempfail"},
	{"quarantine-method", CONF_ENUM, "store", .values = method_values, .merge = MERGE_AGREE,
	 .doc = "action = quarantine: store (in quarantine-dir, then discard) or hold (the MTA's hold queue)"},
	{"tag-subject", CONF_STRING, "[VIRUS]", .merge = MERGE_AGREE,
	 .doc = "action = tag: tag put before the Subject; empty: none"},
	{"scan-parts", CONF_ENUM, "unseen", .values = parts_values, .merge = MERGE_ENUM,
	 .doc = "also scan each part as a mail client decodes it: all, unseen (those libclamav did not inspect) or none"},
	{"on-limit", CONF_ENUM, "reject", .values = limit_values, .merge = MERGE_ENUM,
	 .doc = "a message beyond a scan limit (max-*): reject, tempfail or accept"},
	{"limit-reply", CONF_REPLY, "554 5.7.0 Message could not be scanned completely (${virus})", .merge = MERGE_DEFAULT,
	 .doc = "reply for on-limit = reject; ${virus} names the limit"},
	{"status-headers", CONF_BOOL, "no", .merge = MERGE_TRUE,
	 .doc = "add X-Virus-Scanned and X-Virus-Status (and remove received ones); may break DKIM signatures"},
	{"skip-authenticated", CONF_BOOL, "no", .merge = MERGE_FALSE,
	 .doc = "do not scan mail from SMTP-authenticated senders"},
	{"skip-internal", CONF_BOOL, "no", .merge = MERGE_FALSE,
	 .doc = "do not scan mail from internal-hosts"},
	{"release-lifetime", CONF_TIME, "1h", 1, 7 * 86400, .merge = MERGE_MIN,
	 .doc = "how long a release by sinkd-quarantine lets its message through"},
	{"block-encrypted", CONF_BOOL, "yes", .merge = MERGE_TRUE,
	 .doc = "an encrypted archive or document, which cannot be scanned, is a finding (Heuristics.Encrypted.*): action applies"},
	{"signatures-max-age", CONF_TIME, "0", 0, AGE_MAX, .merge = MERGE_MIN,
	 .doc = "signatures built longer ago than this are too old (signatures-too-old); 0: no limit"},
	{"signatures-too-old", CONF_ENUM, "scan", .values = too_old_values, .merge = MERGE_ENUM,
	 .doc = "signatures older than signatures-max-age: tempfail the domain's mail, or scan it anyway"},
	{NULL},
};

#undef G

struct clamav_cfg {
	enum action action;
	enum limit on_limit;
	enum parts parts;
	unsigned max_parts;	/* max-files */
	int hold;		/* quarantine-method = hold */
	int add_headers;
	int skip_auth, skip_internal;
	const struct reply *reply, *tempfail_reply, *limit_reply;
	const char *tag_subject;
	const char *quarantine_dir;
	long long release_lifetime;
	uid_t user;		/* sinkd's, who may own the quarantine key */
	unsigned scan_flags;	/* ENGINE_SCAN_*: block-encrypted */
	unsigned long long max_scansize;	/* for signed content unwrapped */
	enum too_old too_old;
	long long max_age;	/* signatures-max-age; 0: no limit */
	gint64 slot_wait_us;	/* longest wait for a scan slot (slots.h) */
};

/* the scanner in use: the embedded engine, or a clamd pool */
struct pool_ref {
	gint refs;
	struct clamd_pool *pool;
};

static GMutex sc_lock;
static int sc_backend = -1;		/* index in backend_values; -1: none */
static struct pool_ref *sc_pool;	/* backend clamd */

static const char *const reply_variables[] = {
	"virus", "client_addr", "client_name", "helo", "sender",
	"sender_domain", "queue_id", "auth_user", "nrcpt", "direction",
	"policy", "date", NULL,
};

/* scan_set - fill a result; name made printable ASCII and cut to fit */
void
scan_set(struct scan_result *r, enum scan_status st, const char *name)
{
	size_t i;

	r->status = st;
	g_strlcpy(r->name, name ? name : "", sizeof(r->name));
	for (i = 0; r->name[i]; i++)
		if (!g_ascii_isprint(r->name[i]))
			r->name[i] = '?';
}

static void
pool_unref(struct pool_ref *p)
{
	if (p && g_atomic_int_dec_and_test(&p->refs)) {
		clamd_pool_free(p->pool);
		g_free(p);
	}
}

/*
 * What the signatures in use are and how old: the embedded engine says
 * (engine_db); for a clamd pool, a thread of its own asks VERSION at
 * each configure and again after watch-interval (at most once a minute,
 * from the mail path: fresh_check), so that no message waits for it.
 */
struct clamd_said {
	int known;		/* the last VERSION was answered */
	int failed;		/* the last one was not: said once */
	char version[64];
	unsigned db_version;
	time_t db_time;
	char server[128];
};

static struct clamd_said sc_clamd;	/* under sc_lock */
static long long sc_warn_age;		/* signatures-warn-age; under sc_lock */
static long long sc_watch;		/* watch-interval; under sc_lock */
static gint64 sc_asked;			/* when VERSION was last asked
					 * (real seconds); under sc_lock */
static GMutex ver_lock;
static GThread *ver_thread;		/* under ver_lock */
static atomic_int ver_busy;

#define FRESH_EVERY 60		/* seconds between checks from the mail path */
#define FRESH_REPEAT 3600	/* seconds between warnings of the same age */

static void fresh_check(int loaded);

/* age_text - "12d03h" or "5h20m"; into buf */
static const char *
age_text(long long s, char *buf, size_t size)
{
	if (s >= 86400)
		g_snprintf(buf, size, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	else
		g_snprintf(buf, size, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	return buf;
}

/* clamd_said_parse - "ClamAV 1.4.6/27100/Thu Dec  3 08:22:14 2026" (the
 * date as clamd's ctime() wrote it: its local time, English names) */
static void
clamd_said_parse(const char *text, struct clamd_said *c)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char **f = g_strsplit(text, "/", 3);
	char wday[4], mon[4];
	const char *at;
	struct tm tm;

	memset(c, 0, sizeof(*c));
	c->known = 1;
	g_strlcpy(c->version, g_str_has_prefix(f[0], "ClamAV ") ? f[0] + 7 : f[0],
		  sizeof(c->version));
	memset(&tm, 0, sizeof(tm));
	if (f[1] && f[2]) {
		c->db_version = (unsigned) g_ascii_strtoull(f[1], NULL, 10);
		if (sscanf(f[2], "%3s %3s %d %d:%d:%d %d", wday, mon, &tm.tm_mday, &tm.tm_hour,
			   &tm.tm_min, &tm.tm_sec, &tm.tm_year) == 7
		    && (at = strstr(months, mon)) != NULL && (at - months) % 3 == 0) {
			tm.tm_mon = (int) (at - months) / 3;
			tm.tm_year -= 1900;
			tm.tm_isdst = -1;
			c->db_time = mktime(&tm);
			if (c->db_time < 0)
				c->db_time = 0;
		}
	}
	g_strfreev(f);
}

/* version_run - the VERSION thread: ask p (a reference, dropped here),
 * note the answer if p is still the pool in use, and say what changed */
static gpointer
version_run(gpointer data)
{
	struct pool_ref *p = data;
	struct clamd_said now = {0};
	char text[256], server[128] = "", *built;
	int rc, changed = 0, say_fail = 0;

	rc = clamd_version(p->pool, text, sizeof(text), server, sizeof(server));
	if (rc == 0) {
		clamd_said_parse(text, &now);
		g_strlcpy(now.server, server, sizeof(now.server));
	}
	g_mutex_lock(&sc_lock);
	if (sc_pool == p) {
		if (rc == 0) {
			changed = !sc_clamd.known || sc_clamd.db_version != now.db_version
				|| sc_clamd.db_time != now.db_time;
			sc_clamd = now;
		} else {
			say_fail = !sc_clamd.failed;
			sc_clamd.failed = 1;
		}
	}
	g_mutex_unlock(&sc_lock);
	if (changed) {
		built = engine_time_text(now.db_time);
		log_info("clamav: clamd %s: ClamAV %s, database version %u built %s "
			 "(clamd does not say how many signatures)",
			 now.server, now.version, now.db_version, built);
		g_free(built);
	} else if (say_fail) {
		log_warn("clamav: clamd VERSION: %s; the signatures' age is not known", text);
	}
	pool_unref(p);
	atomic_store(&ver_busy, 0);
	if (changed)
		fresh_check(1);
	return NULL;
}

/* version_ask - ask p's version: on a thread of its own, or here when
 * wait is set (sinkd -t); a question in flight already is enough */
static void
version_ask(struct pool_ref *p, int wait)
{
	g_atomic_int_inc(&p->refs);
	if (wait) {
		atomic_store(&ver_busy, 1);
		version_run(p);
		return;
	}
	g_mutex_lock(&ver_lock);
	if (atomic_exchange(&ver_busy, 1)) {
		g_mutex_unlock(&ver_lock);
		pool_unref(p);
		return;
	}
	if (ver_thread)
		g_thread_join(ver_thread);
	ver_thread = g_thread_new("clamd-version", version_run, p);
	g_mutex_unlock(&ver_lock);
}

/* version_wait - the VERSION thread, if any, is done */
static void
version_wait(void)
{
	g_mutex_lock(&ver_lock);
	if (ver_thread)
		g_thread_join(ver_thread);
	ver_thread = NULL;
	g_mutex_unlock(&ver_lock);
}

/* clamav_engine_info - what the current scanner uses (clamav.h) */
bool
clamav_engine_info(struct clamav_engine_info *i)
{
	struct engine_db db;
	int backend;

	memset(i, 0, sizeof(*i));
	g_mutex_lock(&sc_lock);
	backend = sc_backend;
	if (backend == 1 && sc_clamd.known) {
		i->loaded = true;
		g_strlcpy(i->version, sc_clamd.version, sizeof(i->version));
		i->db_version = sc_clamd.db_version;
		i->db_time = sc_clamd.db_time;
		g_strlcpy(i->server, sc_clamd.server, sizeof(i->server));
	}
	g_mutex_unlock(&sc_lock);
	i->backend = backend == 0 ? "embedded" : backend == 1 ? "clamd" : "none";
	if (backend == 0 && engine_db(&db) == 0) {
		i->loaded = true;
		g_strlcpy(i->version, db.clamav, sizeof(i->version));
		i->db_version = db.version;
		i->db_time = db.built;
		i->signatures = db.sigs;
	}
	return i->loaded;
}

/* signatures_age - how long ago the signatures in use were built; 0, or
 * -1 when that is not known (no scanner yet, no .cvd, clamd silent) */
static int
signatures_age(long long *age, struct clamav_engine_info *i)
{
	if (!clamav_engine_info(i) || i->db_time == 0)
		return -1;
	*age = (long long) (g_get_real_time() / G_USEC_PER_SEC) - (long long) i->db_time;
	if (*age < 0)
		*age = 0;
	return 0;
}

/*
 * fresh_check - warn when the signatures in use are older than
 * signatures-warn-age: at once after a load (loaded set), else at most
 * every FRESH_EVERY seconds (from the mail path), when they cross it and
 * then every FRESH_REPEAT seconds while they stay old.  For a clamd pool
 * it also asks VERSION again once watch-interval has passed.
 */
static void
fresh_check(int loaded)
{
	static _Atomic gint64 next;
	static GMutex fresh_lock;
	static int old;			/* under fresh_lock */
	static gint64 warned;		/* under fresh_lock */
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	struct clamav_engine_info i;
	struct pool_ref *p = NULL;
	long long age, warn_age;
	char a[32], w[32], *built;

	if (!loaded && now < atomic_load(&next))
		return;
	atomic_store(&next, now + FRESH_EVERY);
	g_mutex_lock(&sc_lock);
	warn_age = sc_warn_age;
	if (!loaded && sc_backend == 1 && sc_pool && sc_watch > 0 && now >= sc_asked + sc_watch) {
		sc_asked = now;
		p = sc_pool;
		g_atomic_int_inc(&p->refs);
	}
	g_mutex_unlock(&sc_lock);
	if (p) {
		version_ask(p, 0);
		pool_unref(p);
	}
	g_mutex_lock(&fresh_lock);
	if (warn_age == 0 || signatures_age(&age, &i) < 0 || age <= warn_age) {
		old = 0;
	} else if (loaded || !old || now >= warned + FRESH_REPEAT) {
		built = engine_time_text(i.db_time);
		log_warn("clamav: signatures are %s old (database version %u built %s), "
			 "over signatures-warn-age %s: is freshclam running?",
			 age_text(age, a, sizeof(a)), i.db_version, built,
			 age_text(warn_age, w, sizeof(w)));
		g_free(built);
		warned = now;
		old = 1;
	}
	g_mutex_unlock(&fresh_lock);
}

/* clamav_status - the scanner and its signatures, for sinkd -S */
static void
clamav_status(GString *out)
{
	struct clamav_engine_info i;
	long long age, warn_age;
	char a[32], *built;

	g_mutex_lock(&sc_lock);
	warn_age = sc_warn_age;
	g_mutex_unlock(&sc_lock);
	if (!clamav_engine_info(&i)) {
		g_string_append_printf(out, "backend: %s\nengine: not ready\n", i.backend);
		if (!strcmp(i.backend, "embedded"))
			slots_status(out);
		return;
	}
	built = engine_time_text(i.db_time);
	g_string_append_printf(out, "backend: %s\nengine: ready\nclamav-version: %s\n"
			       "database-version: %u\ndatabase-built: %s\n", i.backend,
			       i.version, i.db_version, built);
	g_free(built);
	if (signatures_age(&age, &i) == 0)
		g_string_append_printf(out, "database-age: %s%s\n", age_text(age, a, sizeof(a)),
				       warn_age && age > warn_age ? " (over signatures-warn-age)" : "");
	else
		g_string_append(out, "database-age: unknown\n");
	if (i.signatures)
		g_string_append_printf(out, "signatures: %u\n", i.signatures);
	else
		g_string_append(out, "signatures: unknown\n");
	if (*i.server)
		g_string_append_printf(out, "clamd-server: %s\n", i.server);
	if (!strcmp(i.backend, "embedded"))
		slots_status(out);
}

/* engine_loaded - the embedded engine made a new engine current */
static void
engine_loaded(void)
{
	fresh_check(1);
}

/*
 * too_old - the domain tempfails while the signatures are older than its
 * signatures-max-age (signatures-too-old = tempfail); with scan, the
 * message is scanned and the verdict line says the signatures are old.
 * An age that is not known (no .cvd or .cld, clamd silent) is not old.
 */
static int
too_old(struct msg *m, const struct clamav_cfg *c)
{
	struct clamav_engine_info i;
	long long age;
	char a[32], w[32];

	if (c->max_age == 0 || signatures_age(&age, &i) < 0 || age <= c->max_age)
		return 0;
	msg_note(m, "signatures-age", "%s", age_text(age, a, sizeof(a)));
	if (c->too_old == TOO_OLD_SCAN)
		return 0;
	log_warn("%s: clamav: signatures too old: database version %u is %s old, "
		 "over signatures-max-age %s; signatures-too-old=tempfail", m->queue_id,
		 i.db_version, a, age_text(c->max_age, w, sizeof(w)));
	return 1;
}

static void *
clamav_load(const struct conf_group *g, struct conf_errors *e)
{
	struct clamav_cfg *c = g_new0(struct clamav_cfg, 1);
	static const char *const replies[] = {"reply", "tempfail-reply", "limit-reply"};
	char *const *servers = conf_list(g, "clamd");
	const char *why;
	char *unsafe;
	unsigned i;

	c->action = (enum action) conf_num(g, "action");
	c->on_limit = (enum limit) conf_num(g, "on-limit");
	c->parts = (enum parts) conf_num(g, "scan-parts");
	c->max_parts = (unsigned) conf_num(g, "max-files");
	c->hold = conf_num(g, "quarantine-method") == 1;
	c->add_headers = conf_bool(g, "status-headers");
	c->skip_auth = conf_bool(g, "skip-authenticated");
	c->skip_internal = conf_bool(g, "skip-internal");
	c->reply = conf_reply(g, "reply");
	c->tempfail_reply = conf_reply(g, "tempfail-reply");
	c->limit_reply = conf_reply(g, "limit-reply");
	c->tag_subject = conf_str(g, "tag-subject");
	c->quarantine_dir = conf_str(g, "quarantine-dir");
	c->release_lifetime = conf_num(g, "release-lifetime");
	c->user = e->user;
	c->scan_flags = conf_bool(g, "block-encrypted") ? ENGINE_SCAN_ENCRYPTED : 0;
	c->max_scansize = (unsigned long long) conf_num(g, "max-scansize");
	c->too_old = (enum too_old) conf_num(g, "signatures-too-old");
	c->max_age = conf_num(g, "signatures-max-age");
	c->slot_wait_us = slots_wait_us(conf_num(g, "max-scantime"));
	if (c->too_old == TOO_OLD_TEMPFAIL && c->max_age == 0)
		conf_key_warn(e, g, "signatures-too-old",
			      "tempfail has no effect without signatures-max-age");
	for (i = 0; i < G_N_ELEMENTS(replies); i++) {
		char *w = NULL;

		if (tmpl_check(conf_reply(g, replies[i])->text, reply_variables, &w) < 0) {
			conf_key_error(e, g, replies[i], "%s", w);
			g_free(w);
		}
	}
	if (reply_is_temp(c->reply))
		conf_key_error(e, g, "reply", "must be a 5xx reply");
	if (!reply_is_temp(c->tempfail_reply))
		conf_key_error(e, g, "tempfail-reply", "must be a 4xx reply");
	if (reply_is_temp(c->limit_reply))
		conf_key_error(e, g, "limit-reply", "must be a 5xx reply");
	/* process-wide keys: checked once, in the default policy */
	if (strcmp(g->domain, "default"))
		return c;
	if (conf_num(g, "backend") == 1 && servers[0] == NULL)
		conf_key_error(e, g, "backend", "clamd needs at least one server in clamd");
	for (i = 0; servers[i]; i++)
		if (clamd_spec_check(servers[i], &why) < 0)
			conf_key_error(e, g, "clamd", "\"%s\": %s", servers[i], why);
	if (conf_num(g, "backend") == 0
	    && !g_file_test(conf_str(g, "database"), G_FILE_TEST_IS_DIR))
		conf_key_error(e, g, "database", "%s: not a directory", conf_str(g, "database"));
	else if (conf_num(g, "backend") == 0
		 && (unsafe = engine_database_unsafe(conf_str(g, "database"))) != NULL) {
		conf_key_error(e, g, "database", "%s", unsafe);
		g_free(unsafe);
	}
	/* a missing one is made at start, as spool-dir is */
	if (*conf_str(g, "tmpdir") && g_file_test(conf_str(g, "tmpdir"), G_FILE_TEST_EXISTS)
	    && !g_file_test(conf_str(g, "tmpdir"), G_FILE_TEST_IS_DIR))
		conf_key_error(e, g, "tmpdir", "%s: not a directory", conf_str(g, "tmpdir"));
	return c;
}

static void
clamav_unload(void *p)
{
	g_free(p);
}

/* clamav_setup - the quarantine directory, made while still root */
static int
clamav_setup(const struct snapshot *s, uid_t uid, gid_t gid)
{
	const struct conf_group *g = snapshot_group(s, &clamav_handler);

	if (!snapshot_in_chain(s, &clamav_handler))
		return 0;
	if (quarantine_open(conf_str(g, "quarantine-dir"), uid, gid) == 0)
		return 0;
	if (errno == EKEYREJECTED)	/* a key others can read or change: logged */
		return -1;
	log_warn("clamav: quarantine-dir %s: %s; action = quarantine will tempfail",
		 conf_str(g, "quarantine-dir"), strerror(errno));
	return 0;
}

/* clamav_dirs - the quarantine directory, and libclamav's tmpdir for
 * the embedded engine, when the handler runs */
static void
clamav_dirs(const struct snapshot *s, GPtrArray *keys, GPtrArray *paths)
{
	const struct conf_group *g = snapshot_group(s, &clamav_handler);

	if (!snapshot_in_chain(s, &clamav_handler))
		return;
	g_ptr_array_add(keys, (gpointer) "quarantine-dir");
	g_ptr_array_add(paths, (gpointer) conf_str(g, "quarantine-dir"));
	if (conf_num(g, "backend") == 0 && *conf_str(g, "tmpdir")) {
		g_ptr_array_add(keys, (gpointer) "tmpdir");
		g_ptr_array_add(paths, (gpointer) conf_str(g, "tmpdir"));
	}
}

/* clamav_configure - point at the engine or the clamd pool the
 * snapshot's [clamav] group describes; a reload always reloads the
 * engine, so SIGHUP after a signature update takes effect at once */
static int
clamav_configure(const struct snapshot *s, int wait)
{
	const struct conf_group *g = snapshot_group(s, &clamav_handler);
	struct pool_ref *np = NULL, *old;
	int backend = -1, rc = 0;

	if (snapshot_in_chain(s, &clamav_handler))
		backend = (int) conf_num(g, "backend");
	status_register("clamav", clamav_status);
	if (backend == 0) {
		struct engine_settings es = {
			.database = (char *) conf_str(g, "database"),
			/* sinkd -t (wait) writes only under the
			 * directory of its own it makes $TMPDIR */
			.tmpdir = wait ? "" : (char *) conf_str(g, "tmpdir"),
			.max_scansize = (unsigned long long) conf_num(g, "max-scansize"),
			.max_filesize = (unsigned long long) conf_num(g, "max-filesize"),
			.max_recursion = (unsigned) conf_num(g, "max-recursion"),
			.max_files = (unsigned) conf_num(g, "max-files"),
			.max_scantime_ms = (unsigned) conf_num(g, "max-scantime") * 1000,
			.cache = conf_bool(g, "clean-cache"),
			.watch = (unsigned) conf_num(g, "watch-interval"),
			.loaded = engine_loaded,
		};

		g_mutex_lock(&sc_lock);
		sc_warn_age = conf_num(g, "signatures-warn-age");
		sc_backend = 0;
		g_mutex_unlock(&sc_lock);
		slots_configure((unsigned) conf_num(g, "scan-slots"));
		rc = engine_configure(&es, wait);
	} else {
		slots_unused();
		engine_stop();
	}
	if (backend == 1) {
		np = g_new0(struct pool_ref, 1);
		np->refs = 1;
		np->pool = clamd_pool_new(conf_list(g, "clamd"),
					  (unsigned) conf_num(g, "clamd-connect-timeout") * 1000,
					  (unsigned) conf_num(g, "clamd-timeout") * 1000,
					  (unsigned) conf_num(g, "clamd-retry"));
		log_info("clamav: scanning with clamd %s", conf_str(g, "clamd"));
	}
	g_mutex_lock(&sc_lock);
	old = sc_pool;
	sc_pool = np;
	sc_backend = backend;
	memset(&sc_clamd, 0, sizeof(sc_clamd));
	if (backend >= 0) {
		sc_warn_age = conf_num(g, "signatures-warn-age");
		sc_watch = conf_num(g, "watch-interval");
	}
	sc_asked = g_get_real_time() / G_USEC_PER_SEC;
	g_mutex_unlock(&sc_lock);
	pool_unref(old);
	if (np)
		version_ask(np, wait);
	return rc;
}

static void
clamav_stop(void)
{
	struct pool_ref *old;

	engine_stop();
	version_wait();
	g_mutex_lock(&sc_lock);
	old = sc_pool;
	sc_pool = NULL;
	sc_backend = -1;
	memset(&sc_clamd, 0, sizeof(sc_clamd));
	g_mutex_unlock(&sc_lock);
	pool_unref(old);
}

/* scan - the message through whichever scanner is current; flags for
 * the embedded engine (clamd's own configuration decides its own); each
 * call counted in *calls */
static void
scan(const void *data, size_t len, struct scan_result *r, GHashTable *seen,
     unsigned flags, unsigned *calls)
{
	struct pool_ref *p;
	int backend;

	memset(r, 0, sizeof(*r));
	(*calls)++;
	g_mutex_lock(&sc_lock);
	backend = sc_backend;
	if ((p = sc_pool) != NULL)
		g_atomic_int_inc(&p->refs);
	g_mutex_unlock(&sc_lock);
	if (backend == 0)
		engine_scan(data, len, r, seen, flags);
	else if (backend == 1 && p)
		clamd_scan(p->pool, data, len, r);
	else
		scan_set(r, SCAN_ERROR, "no scanner configured");
	pool_unref(p);
}

static int
backend_embedded(void)
{
	int b;

	g_mutex_lock(&sc_lock);
	b = sc_backend;
	g_mutex_unlock(&sc_lock);
	return b == 0;
}

struct reply_ctx {
	struct msg *m;
	const char *virus;
};

static const char *
reply_lookup(const char *name, void *ctx)
{
	struct reply_ctx *rc = ctx;

	if (!strcmp(name, "virus"))
		return rc->virus;
	return msg_variable(name, rc->m);
}

/* refuse - the reply template filled in with the virus's name */
static enum verdict
refuse(struct msg *m, const struct reply *tmpl, const char *virus)
{
	struct reply_ctx rc = {m, virus};
	char *text = tmpl_expand(tmpl->text, reply_lookup, &rc);
	struct reply r = {.text = NULL};
	char *p;
	enum verdict v;

	for (p = text; *p; p++)	/* names may come from third-party signatures */
		if (*p == '\r' || (*p == '\n' && p[1] == '\0'))
			*p = ' ';
	reply_set(&r, tmpl->code, tmpl->xcode, text);
	v = handler_refuse(m->conn, &r);
	reply_clear(&r);
	g_free(text);
	return v;
}

/* status_headers - X-Virus-Scanned and X-Virus-Status, replacing any the
 * message came with (they could claim a scan that never happened) */
static void
status_headers(struct msg *m, struct edits *e, const char *status)
{
	static const char *const names[] = {"X-Virus-Scanned", "X-Virus-Status"};
	char host[256], *scanned, *ver;
	unsigned i;
	int n;

	for (i = 0; i < G_N_ELEMENTS(names); i++)
		for (n = msg_header_count(m, names[i], m->headers->len); n > 0; n--)
			edits_change_header(e, clamav_handler.name, names[i], n, NULL);
	if (gethostname(host, sizeof(host)) < 0)
		g_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	g_mutex_lock(&sc_lock);
	ver = sc_backend == 1 ? g_strdup("clamd") : engine_version();
	g_mutex_unlock(&sc_lock);
	scanned = g_strdup_printf("sinkd (%s) on %s", ver, host);
	edits_add_header(e, clamav_handler.name, "X-Virus-Scanned", scanned);
	edits_add_header(e, clamav_handler.name, "X-Virus-Status", status);
	g_free(scanned);
	g_free(ver);
}

/* tag - deliver with the virus named in the header and the subject */
static void
tag(struct msg *m, struct edits *e, const struct clamav_cfg *c, const char *virus)
{
	const char *subject = edits_first_header(e, "Subject", msg_header_value(m, "Subject"));
	char *status = g_strdup_printf("Infected (%s)", virus);
	char *tagged;

	status_headers(m, e, status);
	if (*c->tag_subject) {
		tagged = g_strconcat(c->tag_subject, " ",
				     subject ? subject + strspn(subject, " \t") : "", NULL);
		if (subject)
			edits_change_header(e, clamav_handler.name, "Subject", 1, tagged);
		else
			edits_add_header(e, clamav_handler.name, "Subject", tagged);
		g_free(tagged);
	}
	g_free(status);
}

/* quarantine - store the message and discard it; tempfail if it cannot be
 * stored (never accept a message known to carry a virus) */
static enum verdict
quarantine(struct msg *m, const struct clamav_cfg *c, const char *virus,
	   const void *data, size_t len)
{
	struct quarantine_meta q = {
		.queue_id = m->queue_id, .sender = m->sender,
		.client_addr = m->conn->client_addr,
		.client_name = m->conn->client_name,
		.helo = m->conn->helo, .virus = virus,
	};
	char id[QUARANTINE_ID_LEN];
	char **rcpts = g_new0(char *, m->rcpts->len + 1);
	guint i;
	int rc;

	if (c->hold) {
		g_free(rcpts);
		msg_note(m, "quarantine", "hold");
		return VERDICT_QUARANTINE;
	}
	if (m->conn->dry_run) {
		g_free(rcpts);
		log_info("%s: clamav: would quarantine in %s", m->queue_id, c->quarantine_dir);
		msg_note(m, "quarantine", "%s", c->quarantine_dir);
		return VERDICT_DISCARD;
	}
	for (i = 0; i < m->rcpts->len; i++)
		rcpts[i] = ((struct rcpt *) g_ptr_array_index(m->rcpts, i))->addr;
	q.rcpts = rcpts;
	rc = quarantine_store(c->quarantine_dir, &q, data, len, id);
	g_free(rcpts);
	if (rc < 0) {
		log_error("%s: clamav: cannot quarantine in %s: %s", m->queue_id,
			  c->quarantine_dir, strerror(errno));
		reply_set(&m->conn->reply, "451", "4.3.0", "Temporary local problem, try again later");
		return VERDICT_TEMPFAIL;
	}
	stats_inc(STATS_QUARANTINED);
	log_info("%s: clamav: quarantined as %s", m->queue_id, id);
	msg_note(m, "quarantine", "%s/%s.eml", c->quarantine_dir, id);
	return VERDICT_DISCARD;
}

/* How deep the check of each part goes; libclamav stops sooner, at
 * max-recursion, unless that is raised. */
#define PARTS_DEPTH 64

/* What a walk of the parts that left some out is reported as: a limit,
 * so that on-limit applies and nothing passes partly scanned. */
static const char *const walk_limits[] = {
	[MIME_WALK_DEPTH] = "Heuristics.Limits.Exceeded.MaxRecursion",
	[MIME_WALK_COUNT] = "Heuristics.Limits.Exceeded.MaxFiles",
	[MIME_WALK_AMBIGUOUS] = "Sinkd.MIME.AmbiguousBoundary",
	[MIME_WALK_SIZE] = "Heuristics.Limits.Exceeded.MaxScanSize",
};

/* A part's content as a mail client decodes it: where it is in the
 * spool when it has no transfer encoding to undo; else in memory when
 * its encoded size is within body-memory-limit (decoding never makes it
 * larger), else written to an unlinked file in spool-dir and mapped. */
struct decoded {
	const guchar *data;
	gsize len;
	GMimeStream *mem;
	void *map;
	int kept;		/* in the spool, not copied */
};

/* The spool a tree was parsed from (mime_parse), and its bytes. */
struct source {
	struct spool *spool;
	const guchar *data;
	gsize len;
};

/* in_place - w's content, when it needs no decoding, as it lies in the
 * spool src its tree was parsed from: with no base64, quoted-printable
 * or uuencoding, GMime writes the content's bytes unchanged (no charset
 * or line-end conversion), and its stream is a substream of the spool's
 * own (the same buffer, or a file descriptor on the same file), bounded
 * by offsets in it; 1, or 0 when that cannot be told for sure */
static int
in_place(GMimeDataWrapper *w, const struct source *src, struct decoded *d)
{
	GMimeStream *raw = g_mime_data_wrapper_get_stream(w);
	struct stat a, b;

	if (src == NULL || src->data == NULL || raw == NULL)
		return 0;
	switch (g_mime_data_wrapper_get_encoding(w)) {
	case GMIME_CONTENT_ENCODING_BASE64:
	case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
	case GMIME_CONTENT_ENCODING_UUENCODE:
		return 0;
	default:
		break;
	}
	if (raw->bound_start < 0 || raw->bound_end < raw->bound_start
	    || (guint64) raw->bound_end > src->len)
		return 0;
	if (GMIME_IS_STREAM_MEM(raw)) {
		if (spool_memory(src->spool) == NULL
		    || g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(raw)) != spool_memory(src->spool))
			return 0;
	} else if (GMIME_IS_STREAM_FS(raw)) {
		if (spool_fd(src->spool) < 0 || fstat(spool_fd(src->spool), &a) < 0
		    || fstat(GMIME_STREAM_FS(raw)->fd, &b) < 0
		    || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
			return 0;
	} else {
		return 0;
	}
	d->data = src->data + raw->bound_start;
	d->len = (gsize) (raw->bound_end - raw->bound_start);
	d->kept = 1;
	return 1;
}

/* decode - w's content decoded into d (in place when it can be: src may
 * be NULL); -1 with why set when the file fails.  The file's bytes are
 * reserved first on spool-dir's file system (room.h), for as long as
 * they are written. */
static int
decode(struct msg *m, GMimeDataWrapper *w, const struct source *src, struct decoded *d,
       char *why, size_t whylen)
{
	const struct conf_group *g = &m->conn->snap->main;
	GMimeStream *raw = g_mime_data_wrapper_get_stream(w), *fs;
	gint64 encoded = raw ? g_mime_stream_length(raw) : 0;
	struct room room = ROOM_INIT;
	char room_why[200];
	GByteArray *b;
	int fd, rc;

	memset(d, 0, sizeof(*d));
	d->data = (const guchar *) "";
	if (in_place(w, src, d))
		return 0;
	if (encoded >= 0 && encoded <= conf_num(g, "body-memory-limit")) {
		d->mem = g_mime_stream_mem_new();
		g_mime_data_wrapper_write_to_stream(w, d->mem);
		b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(d->mem));
		d->data = b->data ? b->data : d->data;
		d->len = b->len;
		return 0;
	}
	/* a length GMime cannot tell: the message's, which holds the part */
	if (room_reserve(&room, conf_str(g, "spool-dir"),
			 encoded >= 0 ? (unsigned long long) encoded : (unsigned long long) m->size,
			 room_why, sizeof(room_why)) < 0) {
		g_snprintf(why, whylen, "cannot decode a part to scan it: spool-dir %s", room_why);
		return -1;
	}
	if ((fd = spool_tmpfile(conf_str(g, "spool-dir"))) < 0) {
		g_snprintf(why, whylen, "cannot decode a part to scan it: spool-dir %s: %s",
			   conf_str(g, "spool-dir"), g_strerror(errno));
		room_release(&room);
		return -1;
	}
	fs = g_mime_stream_fs_new(fd);
	rc = g_mime_data_wrapper_write_to_stream(w, fs) < 0 || g_mime_stream_flush(fs) < 0 ? -1 : 0;
	room_release(&room);	/* errno kept */
	if (rc < 0) {
		g_snprintf(why, whylen, "cannot decode a part to scan it: spool-dir %s: %s",
			   conf_str(g, "spool-dir"), g_strerror(errno));
		g_object_unref(fs);
		return -1;
	}
	d->len = (gsize) lseek(fd, 0, SEEK_END);
	if (d->len > 0) {
		d->map = mmap(NULL, d->len, PROT_READ, MAP_SHARED, fd, 0);
		if (d->map == MAP_FAILED) {
			g_snprintf(why, whylen, "cannot map a decoded part: %s", g_strerror(errno));
			d->map = NULL;
			g_object_unref(fs);
			return -1;
		}
		d->data = d->map;
	}
	g_object_unref(fs);	/* closes fd; the mapping stays */
	return 0;
}

static void
decoded_free(struct decoded *d)
{
	if (d->mem)
		g_object_unref(d->mem);
	if (d->map)
		munmap(d->map, d->len);
	memset(d, 0, sizeof(*d));
}

/* part_check - one part's bytes, as a mail client decodes them, against
 * what libclamav inspected (seen; NULL: nothing known, scan): nothing
 * when it inspected these very bytes; a raw scan (ENGINE_SCAN_RAW: hash
 * and body signatures on the bytes as they are) when it inspected the
 * same text with other line ends, as its mail parser writes LF lines
 * where the part has CRLF, the form a client on Windows saves: a hash
 * signature of that form matches nothing else, and what parsing the
 * text finds was found in libclamav's form; otherwise a full scan.
 * text: the part is text/ by its Content-Type.  Returns 1 when it made
 * a scan call, counting a raw one in *raw. */
static int
part_check(const struct clamav_cfg *c, const void *data, size_t len, int text,
	   GHashTable *seen, struct scan_result *r, unsigned *calls, unsigned *raw)
{
	unsigned flags = c->scan_flags;
	char *f;
	int known;

	if (len == 0)
		return 0;
	if (seen != NULL) {
		f = engine_fingerprint(data, len, 0);
		known = g_hash_table_contains(seen, f);
		g_free(f);
		if (known)
			return 0;
		if (text) {
			f = engine_fingerprint(data, len, 1);
			if (g_hash_table_contains(seen, f)) {
				flags |= ENGINE_SCAN_RAW;
				(*raw)++;
			}
			g_free(f);
		}
	}
	scan(data, len, r, NULL, flags, calls);
	return 1;
}

/* is_text - a part whose Content-Type is text/ */
static int
is_text(GMimeObject *part)
{
	GMimeContentType *ct = g_mime_object_get_content_type(part);

	return ct && !g_ascii_strcasecmp(g_mime_content_type_get_media_type(ct), "text");
}

/* scan_parts - each part of msg as GMime decodes it (what a recipient's
 * mail client opens), scanned on its own unless libclamav already
 * inspected the same bytes: a message built so that libclamav's MIME
 * parser and others disagree (odd or repeated boundary parameters) hides
 * nothing that way.  Parts the walk cannot reach (too deep, too many, or
 * behind a boundary given twice, which parsers resolve differently) make
 * a limit.  r keeps the first finding that is not clean.  src: the
 * spool msg was parsed from, whose bytes parts without a transfer
 * encoding are summed and scanned in. */
static void
scan_parts(struct msg *m, const struct clamav_cfg *c, GMimeMessage *msg,
	   const struct source *src, GHashTable *seen, struct scan_result *r,
	   unsigned *calls)
{
	char why[sizeof(r->name)];
	GPtrArray *parts;
	enum mime_walk walk;
	unsigned i, extra = 0, kept = 0, raw = 0;

	if (msg == NULL)
		return;
	parts = g_ptr_array_new();
	walk = mime_leaves(g_mime_message_get_mime_part(msg), parts, TRUE, c->max_parts,
			   PARTS_DEPTH);
	for (i = 0; i < parts->len && r->status == SCAN_CLEAN; i++) {
		GMimeObject *part = g_ptr_array_index(parts, i);
		GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(part));
		struct decoded d;

		if (w == NULL)
			continue;
		if (decode(m, w, src, &d, why, sizeof(why)) < 0) {
			scan_set(r, SCAN_ERROR, why);
			break;
		}
		extra += part_check(c, d.data, d.len, is_text(part), seen, r, calls, &raw);
		kept += d.kept;
		decoded_free(&d);
	}
	if (r->status == SCAN_CLEAN && walk != MIME_WALK_COMPLETE)
		scan_set(r, SCAN_LIMIT, walk_limits[walk]);
	log_debug("%s: clamav: %u of %u parts scanned on their own (%u in place, %u raw)",
		  m->queue_id, extra, parts->len, kept, raw);
	g_ptr_array_free(parts, TRUE);
}

/*
 * scan_signed - what opaque-signed S/MIME parts hold (milters/smime.h):
 * libclamav does not unwrap CMS signed-data, and a mail client shows its
 * content, attachments and all.  Each content, at any depth, is scanned
 * as one file (libclamav's mail parser takes the entity apart), then, as
 * scan-parts says, each of its parts as GMime decodes it.  Signed content
 * beyond the walk's bounds (max-files parts, PARTS_DEPTH levels, all the
 * contents together over max-scansize) makes a limit.
 */
#define MIME_VERSION "MIME-Version: 1.0\r\n"

static void
scan_signed(struct msg *m, const struct clamav_cfg *c, GMimeMessage *msg,
	    GHashTable *seen, struct scan_result *r, unsigned *calls)
{
	struct smime_leaves sl;
	enum mime_walk walk;
	unsigned i, extra = 0, raw = 0;

	if (msg == NULL)
		return;
	walk = smime_leaves(g_mime_message_get_mime_part(msg), TRUE, c->max_parts, PARTS_DEPTH,
			    c->max_scansize, &sl);
	for (i = 0; i < sl.contents->len && r->status == SCAN_CLEAN; i++) {
		gsize len;
		const void *data = g_bytes_get_data(g_ptr_array_index(sl.contents, i), &len);
		GByteArray *mail;

		/* as it is, then as mail: libclamav takes a text that starts
		 * with Content-Type for text, and its mail parser would not
		 * see the entity's parts */
		scan(data, len, r, seen, c->scan_flags, calls);
		if (r->status != SCAN_CLEAN)
			break;
		mail = g_byte_array_sized_new(len + 32);
		g_byte_array_append(mail, (const guint8 *) MIME_VERSION, strlen(MIME_VERSION));
		g_byte_array_append(mail, data, len);
		scan(mail->data, mail->len, r, seen, c->scan_flags, calls);
		g_byte_array_free(mail, TRUE);
	}
	for (i = 0; i < sl.leaves->len && r->status == SCAN_CLEAN && c->parts != PARTS_NONE; i++) {
		GMimeObject *part = g_ptr_array_index(sl.leaves, i);
		GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(part));
		GMimeStream *mem;
		GByteArray *b;

		if (w == NULL || !g_hash_table_contains(sl.carriers, part))
			continue;
		mem = g_mime_stream_mem_new();
		g_mime_data_wrapper_write_to_stream(w, mem);
		b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
		extra += part_check(c, b->data, b->len, is_text(part), seen, r, calls, &raw);
		g_object_unref(mem);
	}
	/* an ambiguous boundary is scan-parts' business (scan_parts) */
	if (r->status == SCAN_CLEAN && walk != MIME_WALK_COMPLETE && walk != MIME_WALK_AMBIGUOUS)
		scan_set(r, SCAN_LIMIT, walk_limits[walk]);
	if (sl.contents->len)
		log_debug("%s: clamav: %u signed contents unwrapped and scanned, %u of their parts "
			  "on their own (%u raw)", m->queue_id, sl.contents->len, extra, raw);
	smime_leaves_clear(&sl);
}

#define BARE_CR_CHUNK 65536

/* bare_cr_put - n bytes of the reading: gathered in buf, written to alt a
 * chunk at a time (a long run directly); 1, or -1 */
static int
bare_cr_put(struct spool *alt, GByteArray *buf, const guchar *p, gsize n)
{
	if (buf->len + n > BARE_CR_CHUNK && buf->len > 0) {
		if (spool_append(alt, buf->data, buf->len) < 0)
			return -1;
		g_byte_array_set_size(buf, 0);
	}
	if (n >= BARE_CR_CHUNK)
		return spool_append(alt, p, n) < 0 ? -1 : 1;
	g_byte_array_append(buf, p, n);
	return 1;
}

/*
 * bare_cr_reading - the message with each CR that ends no line (no LF
 * after it) made CRLF, in alt (a spool: in memory up to body-memory-limit,
 * else in a file, written as it is made); 0 when there is no such CR, 1,
 * or -1 (errno) when the spool fails.  libclamav and GMime end lines at LF
 * only; mail clients that also end them at a bare CR see another
 * structure, and that reading must be scanned too.
 */
static int
bare_cr_reading(struct msg *m, const guchar *data, gsize len, struct spool *alt)
{
	const guchar *p, *from = data, *end = data + len;
	GByteArray *buf = NULL;
	int rc = 1;

	for (p = data; rc > 0 && (p = memchr(p, '\r', end - p)) != NULL; p++) {
		if (p + 1 < end && p[1] == '\n')
			continue;
		if (buf == NULL) {
			spool_init(alt, conf_str(&m->conn->snap->main, "spool-dir"),
				   conf_num(&m->conn->snap->main, "body-memory-limit"));
			buf = g_byte_array_sized_new(BARE_CR_CHUNK);
		}
		rc = bare_cr_put(alt, buf, from, p + 1 - from);
		if (rc > 0)
			rc = bare_cr_put(alt, buf, (const guchar *) "\n", 1);
		from = p + 1;
	}
	if (buf == NULL)
		return 0;
	if (rc > 0)
		rc = bare_cr_put(alt, buf, from, end - from);
	if (rc > 0 && buf->len > 0 && spool_append(alt, buf->data, buf->len) < 0)
		rc = -1;
	g_byte_array_free(buf, TRUE);
	return rc;
}

/* parse - a reading's own GMime tree (caller owns), or NULL; its parts'
 * content stays in the spool; a parse cut short (mime_parse) is reported
 * by the walk of its parts */
static GMimeMessage *
parse(struct spool *alt)
{
	int cut;

	return mime_parse(alt, &cut, NULL);
}

/* received_tree - a tree of its own of the message as received (caller
 * owns), parsed from the spool in place; NULL on failure */
static GMimeMessage *
received_tree(struct msg *m)
{
	int cut;

	return mime_parse(&m->spool, &cut, NULL);
}

/* scan_all - the message whole, its parts, and its bare-CR reading; each
 * reading's mapped pages are given back once it is scanned, so that the
 * two are not resident at once */
static void
scan_all(struct msg *m, const struct clamav_cfg *c, const guchar *data, gsize len,
	 struct scan_result *r)
{
	GHashTable *seen = c->parts == PARTS_UNSEEN && backend_embedded()
		? g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) : NULL;
	struct source own_src = {&m->spool, data, len}, alt_src;
	struct spool alt;
	const guchar *ad;
	unsigned calls = 0;
	gsize al;
	int bare;

	/* a structure too costly for GMime's parser is a limit at once: it
	 * costs libclamav's mail parser far more (over a gigabyte for 8 MB
	 * nested a few hundred deep) */
	if (c->parts != PARTS_NONE && (mime_message(m), mime_cut(m))) {
		memset(r, 0, sizeof(*r));
		scan_set(r, SCAN_LIMIT, "Sinkd.MIME.ParseLimit");
		goto done;
	}
	scan(data, len, r, seen, c->scan_flags, &calls);
	if (r->status == SCAN_CLEAN) {
		/* the parts as received: a handler before this one may have
		 * changed the shared tree (a banned part replaced by its
		 * notice), and the verdict does not depend on the chain order */
		GMimeMessage *own = mime_changed(m) ? received_tree(m) : NULL;

		if (mime_changed(m) && own == NULL) {
			scan_set(r, SCAN_ERROR, "cannot read the message's parts");
		} else {
			GMimeMessage *tree = own ? own : mime_message(m);

			if (c->parts != PARTS_NONE)
				scan_parts(m, c, tree, &own_src, seen, r, &calls);
			if (r->status == SCAN_CLEAN)
				scan_signed(m, c, tree, seen, r, &calls);
			g_clear_object(&own);
		}
	}
	spool_release(&m->spool);
	if (r->status == SCAN_CLEAN && (bare = bare_cr_reading(m, data, len, &alt)) != 0) {
		spool_release(&m->spool);
		log_debug("%s: clamav: bare CR line ends: scanned as CRLF too", m->queue_id);
		if (bare < 0 || (ad = spool_data(&alt, &al)) == NULL) {
			scan_set(r, SCAN_ERROR, "cannot spool the bare-CR reading");
		} else {
			scan(ad, al, r, seen, c->scan_flags, &calls);
			spool_release(&alt);
			if (r->status == SCAN_CLEAN) {
				GMimeMessage *msg = parse(&alt);

				alt_src = (struct source) {&alt, ad, al};
				if (c->parts != PARTS_NONE)
					scan_parts(m, c, msg, &alt_src, seen, r, &calls);
				if (r->status == SCAN_CLEAN)
					scan_signed(m, c, msg, seen, r, &calls);
				g_clear_object(&msg);
			}
		}
		spool_free(&alt);
	}
done:
	log_debug("%s: clamav: %u scan call%s", m->queue_id, calls, calls == 1 ? "" : "s");
	if (seen)
		g_hash_table_destroy(seen);
}

/*
 * scan_in_slot - scan_all() in a scan slot (slots.h) when the embedded
 * engine scans: one slot for the whole message, all its readings and
 * parts, given back when the verdict is known; 0, or -1 when no slot
 * came within c->slot_wait_us (logged: the message is not scanned and
 * the caller's on-error applies).  A message that had to wait has it on
 * its log line (clamav-wait=Nms).  clamd's servers bound their own work.
 */
static int
scan_in_slot(struct msg *m, const struct clamav_cfg *c, const guchar *data, gsize len,
	     struct scan_result *r)
{
	enum slots_took took;
	gint64 waited;

	if (!backend_embedded()) {
		scan_all(m, c, data, len, r);
		return 0;
	}
	took = slots_take(c->slot_wait_us, &waited);
	if (took != SLOTS_FREE)
		msg_log_note(m, "clamav-wait", "%lldms", (long long) (waited + 999) / 1000);
	if (took == SLOTS_TIMEOUT) {
		log_warn("%s: clamav: not scanned: no scan slot within %g s (scan-slots busy)",
			 m->queue_id, c->slot_wait_us / 1e6);
		return -1;
	}
	scan_all(m, c, data, len, r);
	slots_give();
	return 0;
}

/* release_envelope - m's envelope, for a release token; g_free() rcpts */
static struct quarantine_envelope
release_envelope(struct msg *m)
{
	struct quarantine_envelope env = {.sender = m->sender};
	char **rcpts = g_new0(char *, m->rcpts->len + 1);
	guint i;

	for (i = 0; i < m->rcpts->len; i++)
		rcpts[i] = ((struct rcpt *) g_ptr_array_index(m->rcpts, i))->addr;
	env.rcpts = rcpts;
	return env;
}

/* spender - what names m in the marker of a token it spends: its queue ID
 * and what tells it from any other message; g_free() */
static char *
spender(const struct msg *m)
{
	return g_strdup_printf("%s %ld %p %" G_GINT64_FORMAT, msg_queue_id(m),
			       (long) getpid(), (const void *) m, m->started);
}

/* clamav_done - a message that spent a release token and was refused
 * after all (by a later handler, say) gives it back for the MTA's retry */
static void
clamav_done(struct msg *m, enum verdict v, const void *cfg)
{
	const struct clamav_cfg *c = cfg;
	const char *token = msg_header_value(m, QUARANTINE_HEADER);
	char *who;

	if (c == NULL || token == NULL || (v != VERDICT_TEMPFAIL && v != VERDICT_REJECT))
		return;
	who = spender(m);
	if (quarantine_token_unspend(c->quarantine_dir, token, who) == 0)
		log_info("%s: clamav: message refused after all; its release token is unspent",
			 m->queue_id);
	g_free(who);
}

/* strip_token - remove every X-Sinkd-Released field: it is for sinkd alone */
static void
strip_token(struct msg *m, struct edits *e)
{
	int n;

	for (n = msg_header_count(m, QUARANTINE_HEADER, m->headers->len); n > 0; n--)
		edits_change_header(e, clamav_handler.name, QUARANTINE_HEADER, n, NULL);
}

/* released - the message carries a release token (quarantine.h) that
 * checks out for its body and envelope, has not expired, and is spent
 * now (under a dry run: is not spent yet, and stays so); the log says why
 * one is not honoured */
static int
released(struct msg *m, const struct clamav_cfg *c, const guchar *data, gsize len)
{
	const char *v = msg_header_value(m, QUARANTINE_HEADER);
	struct quarantine_envelope env;
	enum quarantine_token_status st;

	if (v == NULL || len < m->body_offset)
		return 0;
	env = release_envelope(m);
	st = quarantine_token_check(c->quarantine_dir, c->user, v, &env, data + m->body_offset,
				    len - m->body_offset, g_get_real_time() / G_USEC_PER_SEC,
				    c->release_lifetime);
	g_free((char **) env.rcpts);
	if (st == QTOKEN_OK && m->conn->dry_run) {
		st = quarantine_token_spent(c->quarantine_dir, v);
	} else if (st == QTOKEN_OK) {
		char *who = spender(m);

		st = quarantine_token_spend(c->quarantine_dir, v, who);
		g_free(who);
	}
	if (st != QTOKEN_OK)
		log_warn("%s: clamav: %s not honoured: %s%s%s", m->queue_id, QUARANTINE_HEADER,
			 quarantine_token_why(st), st == QTOKEN_ERROR ? ": " : "",
			 st == QTOKEN_ERROR ? strerror(errno) : "");
	return st == QTOKEN_OK;
}

/*
 * clamav_release - a message released from quarantine (a valid token,
 * spent now) goes to its recipients exactly as it was quarantined: the
 * chain lets no handler change it, and the token field is removed.  A
 * token that does not check out (forged, expired, for another envelope,
 * spent) gives no such pass: the message is filtered as any other, and
 * clamav_eom removes the field.
 */
static int
clamav_release(struct msg *m, struct edits *e, const void *cfg)
{
	const struct clamav_cfg *c = cfg;
	const guchar *data;
	gsize len;

	if (c == NULL || msg_header_value(m, QUARANTINE_HEADER) == NULL)
		return 0;
	if ((data = msg_data(m, &len)) == NULL) {
		log_error("%s: clamav: cannot read the spool: %s", m->queue_id, strerror(errno));
		return 0;
	}
	if (!released(m, c, data, len))
		return 0;
	stats_inc(STATS_RELEASED);
	log_info("%s: clamav: released from quarantine; passed unchanged", m->queue_id);
	strip_token(m, e);
	return 1;
}

static enum verdict
clamav_eom(struct msg *m, struct edits *e, const void *cfg)
{
	const struct clamav_cfg *c = cfg;
	struct scan_result r;
	const guchar *data;
	gsize len;

	strip_token(m, e);
	if ((c->skip_auth && m->auth_user) || (c->skip_internal && m->conn->internal)) {
		log_debug("%s: clamav: not scanned (%s sender)", m->queue_id,
			  m->auth_user ? "authenticated" : "internal");
		return VERDICT_CONTINUE;
	}
	fresh_check(0);
	if (too_old(m, c)) {
		reply_set(&m->conn->reply, "451", "4.7.1",
			  "Virus signatures are out of date, try again later");
		return VERDICT_TEMPFAIL;
	}
	if ((data = msg_data(m, &len)) == NULL) {
		log_error("%s: clamav: cannot read the spool: %s", m->queue_id, strerror(errno));
		return VERDICT_ERROR;
	}
	if (scan_in_slot(m, c, data, len, &r) < 0)
		return VERDICT_ERROR;
	switch (r.status) {
	case SCAN_CLEAN:
		if (c->add_headers)
			status_headers(m, e, "Clean");
		return VERDICT_CONTINUE;
	case SCAN_ERROR:
		log_warn("%s: clamav: not scanned: %s", m->queue_id, r.name);
		return VERDICT_ERROR;
	case SCAN_LIMIT:
		log_warn("%s: clamav: scan limit: %s on-limit=%s", m->queue_id,
			 r.name, limit_values[c->on_limit]);
		if (c->on_limit == LIM_ACCEPT)
			return VERDICT_CONTINUE;
		if (c->on_limit == LIM_REJECT)
			return refuse(m, c->limit_reply, r.name);
		reply_set(&m->conn->reply, "451", "4.3.0", "Message could not be scanned, try again later");
		return VERDICT_TEMPFAIL;
	case SCAN_VIRUS:
		break;
	}
	msg_note(m, "virus", "%s", r.name);
	stats_virus(r.name);
	log_info("%s: clamav: virus=\"%s\" action=%s%s%s", m->queue_id, r.name,
		 action_values[c->action], *r.server ? " server=" : "", r.server);
	switch (c->action) {
	case ACT_REJECT:
		return refuse(m, c->reply, r.name);
	case ACT_TEMPFAIL:
		return refuse(m, c->tempfail_reply, r.name);
	case ACT_DISCARD:
		return VERDICT_DISCARD;
	case ACT_QUARANTINE:
		return quarantine(m, c, r.name, data, len);
	case ACT_TAG:
		tag(m, e, c, r.name);
		return VERDICT_CONTINUE;
	}
	return VERDICT_ERROR;
}

/*
 * clamav_inbound - the group as it acts on inbound mail, for combining
 * policies: the settings of an action the domain does not take
 * (quarantine-method, tag-subject, the replies) are left out, so that
 * they keep no recipient apart; out of the chain, nothing is read.
 */
static void
clamav_inbound(struct conf_group *g, int chained)
{
	static const struct {
		const char *key, *action;
	} of[] = {
		{"reply", "reject"}, {"tempfail-reply", "tempfail"},
		{"quarantine-method", "quarantine"}, {"tag-subject", "tag"},
	};
	const char *action = conf_str(g, "action");
	unsigned i;

	for (i = 0; !chained && i < g->n; i++)
		g->val[i].unused = 1;
	for (i = 0; i < G_N_ELEMENTS(of); i++)
		if (strcmp(action, of[i].action) != 0)
			conf_unused(g, of[i].key);
}

const struct handler clamav_handler = {
	.name = "clamav",
	.keys = clamav_keys,
	.needs = HANDLER_NEEDS_HEADERS | HANDLER_NEEDS_BODY,
	.load = clamav_load,
	.unload = clamav_unload,
	.eom = clamav_eom,
	.release = clamav_release,
	.inbound = clamav_inbound,
	.done = clamav_done,
	.setup = clamav_setup,
	.dirs = clamav_dirs,
	.configure = clamav_configure,
	.stop = clamav_stop,
};
