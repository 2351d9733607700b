/*
 * engine - the embedded libclamav engine, shared by every thread,
 *	reloaded in the background
 *
 * One engine at a time is current.  It is loaded from a signature
 * directory, compiled, and then only read: every scan takes a reference
 * to the current engine and drops it when done, so a reload that swaps
 * in a new engine never disturbs a scan in flight; the old engine is
 * freed by whichever scan finishes with it last.
 *
 * Loading takes seconds (minutes with the full official database), so it
 * happens on a thread of its own: at start, whenever the database
 * directory changes (checked every watch seconds: cl_statchkdir, and a
 * listing for removed files), and
 * whenever engine_configure() is called again (SIGHUP).  A load that
 * fails keeps the engine that was current and says why in the log; with
 * no engine at all yet, scans answer SCAN_ERROR ("not ready") and the
 * handler's on-error applies: by default mail is tempfailed until the
 * engine is ready.
 *
 * Threading: engine_scan() may run on any number of threads at once.
 * engine_configure() and engine_stop() are called by one thread at a time.
 */
#ifndef SINKD_ENGINE_H
#define SINKD_ENGINE_H

#include <stddef.h>
#include <time.h>
#include <glib.h>

#include "scan.h"

struct engine_settings {
	char *database;		/* signature directory (or one file) */
	char *tmpdir;		/* libclamav's temp dir; NULL: its default */
	unsigned long long max_scansize, max_filesize;
	unsigned max_recursion, max_files, max_scantime_ms;
	int cache;		/* the clean-file cache */
	unsigned watch;		/* seconds between database checks; 0: none */
	void (*loaded)(void);	/* called on the loader thread after each
				 * engine it makes current; NULL: none */
};

/* What the current engine was loaded from. */
struct engine_db {
	unsigned version;	/* the newest .cvd/.cld's; 0: none (plain
				 * .hdb, .ndb, ... files) */
	time_t built;		/* its build time; 0: unknown */
	unsigned sigs;		/* signatures loaded */
	char clamav[32];	/* libclamav's version */
};

/* engine_configure - (re)load with these settings: in the background, or
 * at once when wait is set (sinkd -t); 0, or -1 when wait is set and the
 * load failed */
int engine_configure(const struct engine_settings *s, int wait);
void engine_stop(void);

/* engine_scan - scan len bytes as one file (a message: libclamav's mail
 * parser takes it apart); when seen is not NULL, every file libclamav
 * inspected (the message, each part it decoded, each archive member) is
 * added to it by engine_fingerprint(), text a second time line-end-blind;
 * flags: ENGINE_SCAN_* */
void engine_scan(const void *data, size_t len, struct scan_result *r,
		 GHashTable *seen, unsigned flags);

/* encrypted archives and documents are findings (Heuristics.Encrypted.*) */
#define ENGINE_SCAN_ENCRYPTED	(1u << 0)

/* the bytes as they are, unparsed: nothing decoded or normalised */
#define ENGINE_SCAN_RAW		(1u << 1)

/* engine_fingerprint - a string naming these bytes (size and SHA-256);
 * text: of the bytes without CR and trailing LF, the same text whatever
 * its line ends; g_free() it */
char *engine_fingerprint(const void *data, size_t len, int text);

/* engine_version - "ClamAV 1.4.6/27100/12345 signatures" or "not ready";
 * g_free() it */
char *engine_version(void);

/* engine_time_text - a build time as "YYYY-MM-DD HH:MM:SS UTC", or "at
 * an unknown time" for 0; g_free() it */
char *engine_time_text(time_t t);

/* engine_db - what the current engine was loaded from: 0, or -1 when
 * there is no engine yet */
int engine_db(struct engine_db *db);

/* engine_database_unsafe - why the signature database cannot be trusted,
 * or NULL: it, its directory or a file in it is writable by its group or
 * by others (whoever writes there decides what is found, or whitelisted:
 * .ign2, .fp).  The owner does not matter: freshclam runs as clamav.
 * Checked at every load too; g_free() the answer */
char *engine_database_unsafe(const char *database);

#endif
