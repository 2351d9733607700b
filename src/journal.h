/*
 * journal - the durable, bounded, append-only record of after-accept
 *	events, read by one cursor per target
 *
 * The journal is a directory (state-dir/journal, mode 0700, sinkd's
 * user's) of segment files named by the sequence number of their first
 * record (%016x.seg), a bodies/ directory of message copies made for
 * readers, and one
 * cursor file per target (NAME.cursor: the sequence number of the last
 * record the target is done with).
 *
 * A record is [magic, crc, len, bodylen, seq] (little-endian, 24 bytes),
 * the message's body (bodylen bytes, none without one), then the
 * payload (len - bodylen bytes, opaque here: event.c's JSON).  The CRC-32
 * covers everything after itself.  Sequence numbers start at 1 and never
 * repeat: the last segment is never removed, and its name says where
 * numbering goes on when it is empty.
 *
 * journal_append() writes a record with one write(2) and returns once it
 * is on disk: concurrent writers share fdatasync(2) calls (group commit:
 * a writer whose record no running sync covers starts one, which covers
 * everything written so far; the others wait on a condition for the sync
 * that covers theirs; up to two syncs overlap).
 * A sync that fails fails every record it covered (the caller tempfails
 * the message), and the next record goes to a new segment.  Readers
 * (journal_next()) see only records that are on disk.
 *
 * Bounds: the segments may take max bytes.  A
 * record that does not fit is refused (ENOSPC: the caller tempfails)
 * or, with drop_oldest, the oldest segments are removed, every cursor
 * still in them moved past them, and what was dropped logged and
 * counted.
 *
 * Collection: journal_done() with persist set writes a target's cursor
 * (write, fdatasync, rename) and removes the segments every target is
 * past.  journal_next() hands a reader that wants bodies as files
 * (JOURNAL_BODY_FILE) the record's body as a file of its own in bodies/
 * (not synced: the record makes it again), which journal_rec_clear()
 * removes; one that wants them in memory (JOURNAL_BODY_DATA) the bytes.
 * A damaged record met while reading ends its reader's reading of that
 * segment (logged and counted); where the segment is the one being
 * written, a new one is started first, so that the reader goes on.
 *
 * Replay: journal_open() scans every segment, checking each record's
 * CRC; a torn record at the end of a segment (a crash during a write)
 * and what follows it is cut off and logged.  Body files of readers
 * from before are removed.  Cursors then say what each target still has to
 * get.
 *
 * Threading: every function may be called from any thread; a target's
 * reading (journal_next, journal_done with its index) from one thread at
 * a time.
 */
#ifndef SINKD_JOURNAL_H
#define SINKD_JOURNAL_H

#include <glib.h>

struct journal;

/* What a reader wants of the bodies (journal_open's wants_body) */
#define JOURNAL_BODY_NONE	0
#define JOURNAL_BODY_FILE	1	/* a file of its own, rec.body */
#define JOURNAL_BODY_DATA	2	/* the bytes, rec.body_data */

/* One record, as journal_next() hands it out; journal_rec_clear() */
struct journal_rec {
	guint64 seq;
	char *body;		/* the body's file, for a JOURNAL_BODY_FILE
				 * reader and a record that has one; or NULL */
	char *body_data;	/* the body's bytes, for a JOURNAL_BODY_DATA
				 * reader (else NULL once handed out) */
	gsize body_len;
	char *data;		/* payload, NUL-terminated */
	gsize len;
};

/* What a journal counts (journal_stats) */
struct journal_stats {
	guint64 appended;	/* records made durable */
	guint64 refused;	/* appends refused: full (tempfail) */
	guint64 dropped;	/* records dropped to make room */
	guint64 failed;		/* appends whose write or sync failed */
	guint64 lost;		/* records skipped as damaged on disk
				 * (counted once per target) */
	guint64 syncs;		/* fdatasync(2) calls for appends: fewer
				 * than appended when writers shared them */
	guint64 bytes;		/* segments and bodies, now */
	guint64 last;		/* the last sequence number */
};

struct journal *journal_open(const char *dir, guint64 max, int drop_oldest,
			     char *const *targets, const int *wants_body,
			     char **why);
void journal_close(struct journal *j);
int journal_append(struct journal *j, const void *data, gsize len,
		   const void *body, gsize blen, guint64 *seq);
int journal_next(struct journal *j, unsigned t, struct journal_rec *r,
		 gint64 until);
void journal_done(struct journal *j, unsigned t, guint64 seq, int persist);
guint64 journal_cursor(struct journal *j, unsigned t);
void journal_rewind(struct journal *j, unsigned t, guint64 seq);
void journal_wake(struct journal *j);
void journal_rec_clear(struct journal_rec *r);
void journal_stats(struct journal *j, struct journal_stats *st);

#endif
