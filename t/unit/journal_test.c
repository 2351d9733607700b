/*
 * journal_test - the journal of after-accept events (src/journal.c):
 * concurrent appends (group commit) all durable and read back in order,
 * cursors kept across a close, a body in its record handed as a file only
 * to a target that wants bodies, a failed sync failing its append and the next
 * one going to a new segment, a torn record cut off at replay with numbering
 * going on after it, a damaged record skipped with the rest of its
 * segment, and both settings of a full journal
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "../../src/journal.h"
#include "../../src/log.h"
#include "tap.h"

#define THREADS	10
#define EACH	50

static struct journal *J;
static volatile int fail_syncs;	/* fdatasync() fails while set */

/*
 * fdatasync - the C library's, unless fail_syncs is set: then EIO, as a
 * disk that lost the pages says (this definition in the executable
 * takes the place of the C library's for the journal too)
 */
int
fdatasync(int fd)
{
	if (fail_syncs) {
		errno = EIO;
		return -1;
	}
	return (int) syscall(SYS_fdatasync, fd);
}

/* writer - EACH appends of "t:i"; the count that failed */
static gpointer
writer(gpointer data)
{
	int t = GPOINTER_TO_INT(data), i, bad = 0;

	for (i = 0; i < EACH; i++) {
		char *p = g_strdup_printf("%d:%d", t, i);
		guint64 seq;

		if (journal_append(J, p, strlen(p), NULL, 0, &seq) < 0 || seq == 0)
			bad++;
		g_free(p);
	}
	return GINT_TO_POINTER(bad);
}

/* count_files - regular files in dir whose names end with suffix */
static int
count_files(const char *dir, const char *suffix)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *n;
	int c = 0;

	while (d && (n = g_dir_read_name(d)) != NULL)
		if (g_str_has_suffix(n, suffix))
			c++;
	if (d)
		g_dir_close(d);
	return c;
}

/* last_segment - the path of the newest segment (g_free) */
static char *
last_segment(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *n;
	char *best = NULL;

	while (d && (n = g_dir_read_name(d)) != NULL)
		if (g_str_has_suffix(n, ".seg") && (best == NULL || strcmp(n, best) > 0)) {
			g_free(best);
			best = g_strdup(n);
		}
	if (d)
		g_dir_close(d);
	n = best;
	best = g_build_filename(dir, n, NULL);
	g_free((char *) n);
	return best;
}

static void
test_group_commit(const char *dir)
{
	char *names[] = {"a", "b", NULL}, *why = NULL;
	int bodies[] = {0, 1};
	GThread *th[THREADS];
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	struct journal_rec r = {0};
	struct journal_stats st;
	guint64 prev = 0;
	int i, bad = 0, order = 1, n = 0;

	J = journal_open(dir, 64 << 20, 0, names, bodies, &why);
	ok(J != NULL, "a journal opens in an empty directory (%s)", why ? why : "");
	for (i = 0; i < THREADS; i++)
		th[i] = g_thread_new("w", writer, GINT_TO_POINTER(i));
	for (i = 0; i < THREADS; i++)
		bad += GPOINTER_TO_INT(g_thread_join(th[i]));
	is_int(bad, 0, "500 concurrent appends from 10 threads all durable");
	journal_stats(J, &st);
	is_int((long long) st.appended, THREADS * EACH, "  counted as written");
	is_int((long long) st.last, THREADS * EACH, "  numbered 1 to 500");
	while (journal_next(J, 0, &r, g_get_monotonic_time()) == 1) {
		if (r.seq != prev + 1)
			order = 0;
		prev = r.seq;
		g_hash_table_add(seen, g_strdup(r.data));
		journal_done(J, 0, r.seq, 0);
		journal_rec_clear(&r);
		n++;
	}
	is_int(n, THREADS * EACH, "target a reads every record");
	ok(order, "  in order, one after the other");
	is_int(g_hash_table_size(seen), THREADS * EACH, "  each payload once");
	ok(g_hash_table_contains(seen, "7:49"), "  payloads as written");
	journal_done(J, 0, prev, 1);
	journal_close(J);
	g_hash_table_destroy(seen);
	g_free(why);
}

static void
test_replay(const char *dir)
{
	char *names[] = {"a", "b", NULL}, *why = NULL, *seg, *body, *orphan, *text;
	int bodies[] = {0, 1}, fd;
	gsize tlen;
	struct journal_rec r = {0};
	struct stat st;
	guint64 seq = 0;
	off_t before;
	char *bodies_dir = g_build_filename(dir, "bodies", NULL);

	J = journal_open(dir, 64 << 20, 0, names, bodies, &why);
	ok(J != NULL, "the journal opens again");
	is_int((long long) journal_cursor(J, 0), THREADS * EACH, "  a's cursor was kept");
	is_int((long long) journal_cursor(J, 1), 0, "  b's too: it read nothing");
	ok(journal_append(J, "with body", 9, "From: x\r\n\r\nhello\r\n", 18, &seq) == 0
	   && seq == THREADS * EACH + 1, "a record with a body is numbered on (501)");
	is_int(journal_next(J, 0, &r, g_get_monotonic_time()), 1, "  target a reads it");
	ok(r.body == NULL && !strcmp(r.data, "with body"), "  without a body file: a wants none");
	journal_done(J, 0, r.seq, 1);
	journal_rec_clear(&r);
	/* b reads through; the record with a body comes with a file */
	body = NULL;
	while (journal_next(J, 1, &r, g_get_monotonic_time()) == 1) {
		seq = r.seq;
		if (r.body) {
			g_free(body);
			body = g_strdup(r.body);
			ok(r.seq == THREADS * EACH + 1, "target b gets the body of the record that has one");
			ok(g_file_get_contents(r.body, &text, &tlen, NULL) && tlen == 18
			   && !memcmp(text, "From: x\r\n\r\nhello\r\n", 18), "  as a file holding it");
			g_free(text);
			ok(stat(r.body, &st) == 0 && (st.st_mode & 0777) == 0400, "  read-only (0400)");
		}
		journal_rec_clear(&r);
	}
	ok(body && access(body, F_OK) < 0, "  the file is removed with the record read");
	is_int((long long) seq, THREADS * EACH + 1, "target b reads to the end");
	journal_done(J, 1, seq, 1);
	is_int(count_files(dir, ".seg"), 1, "  and every segment but the last");
	journal_close(J);

	/* a torn record at the end of the last segment, as a crash leaves */
	seg = last_segment(dir);
	stat(seg, &st);
	before = st.st_size;
	fd = open(seg, O_WRONLY | O_APPEND);
	ok(fd >= 0 && write(fd, "SKJ1 half a record", 18) == 18, "a torn record is appended");
	close(fd);
	orphan = g_build_filename(bodies_dir, "m.orphan", NULL);
	fd = open(orphan, O_WRONLY | O_CREAT, 0400);
	close(fd);
	g_free(orphan);
	J = journal_open(dir, 64 << 20, 0, names, bodies, &why);
	ok(J != NULL, "  the journal still opens");
	stat(seg, &st);
	is_int((long long) st.st_size, (long long) before, "  the torn record is cut off");
	is_int(count_files(bodies_dir, ""), 0, "  a body file left from before is removed");
	ok(journal_append(J, "after", 5, NULL, 0, &seq) == 0 && seq == THREADS * EACH + 2,
	   "  numbering goes on after the last sound record (502)");
	is_int(journal_next(J, 0, &r, g_get_monotonic_time()), 1, "  target a gets it");
	ok(r.seq == seq && !strcmp(r.data, "after"), "  and only it");
	journal_rec_clear(&r);
	journal_close(J);
	g_free(seg);
	g_free(body);
	g_free(bodies_dir);
	g_free(why);
}

/* read_all - what target t reads now appended to got, each record's
 * data and a space */
static void
read_all(struct journal *j, unsigned t, GString *got)
{
	struct journal_rec r = {0};

	while (journal_next(j, t, &r, g_get_monotonic_time()) == 1) {
		g_string_append_printf(got, "%s ", r.data);
		journal_done(j, t, r.seq, 1);
		journal_rec_clear(&r);
	}
}

static void
test_sync_fails(const char *dir)
{
	char *names2[] = {"a", "b", NULL}, *why = NULL;
	GString *got = g_string_new(NULL);
	struct journal_stats st;
	guint64 seq = 0, first;
	int rc, segs;

	J = journal_open(dir, 64 << 20, 0, names2, NULL, &why);
	ok(journal_append(J, "one", 3, NULL, 0, &first) == 0, "an append before the disk fails");
	segs = count_files(dir, ".seg");
	fail_syncs = 1;
	rc = journal_append(J, "two", 3, NULL, 0, &seq);
	is_int(rc == -1 ? errno : 0, EIO, "a sync that fails fails the append (EIO: the message is tempfailed)");
	fail_syncs = 0;
	journal_stats(J, &st);
	is_int((long long) st.failed, 1, "  counted");
	ok(journal_append(J, "three", 5, NULL, 0, &seq) == 0 && seq == first + 2,
	   "  the next append, with the disk back, succeeds");
	is_int(count_files(dir, ".seg"), segs + 1, "  in a segment of its own");
	read_all(J, 0, got);
	is_str(got->str, "one three ", "  the target reads it, and not the record whose sync failed");
	journal_close(J);
	/* after a restart, the target that had read nothing yet */
	J = journal_open(dir, 64 << 20, 0, names2, NULL, &why);
	g_string_truncate(got, 0);
	read_all(J, 1, got);
	is_str(got->str, "one three ", "  nor does a target after a restart (it was cut off)");
	journal_close(J);
	g_string_free(got, TRUE);
	g_free(why);
}

/*
 * test_corrupt_tail - a record damaged on disk in the segment still
 * being written: the target skips the rest of it (counted), and goes on
 * with what is appended next, without a restart
 */
static void
test_corrupt_tail(const char *dir)
{
	char *names[] = {"a", NULL}, *why = NULL, *seg;
	struct journal_stats st;
	GString *got = g_string_new(NULL);
	guint64 seq;
	int fd;

	J = journal_open(dir, 64 << 20, 0, names, NULL, &why);
	ok(journal_append(J, "r1", 2, NULL, 0, &seq) == 0 && journal_append(J, "r2", 2, NULL, 0, &seq) == 0
	   && journal_append(J, "r3", 2, NULL, 0, &seq) == 0, "three records in the last segment");
	seg = last_segment(dir);
	fd = open(seg, O_WRONLY);
	ok(fd >= 0 && pwrite(fd, "z", 1, 24 + 2 + 24 + 1) == 1, "  the second is damaged on disk");
	close(fd);
	read_all(J, 0, got);
	is_str(got->str, "r1 ", "  the target reads up to it");
	ok(journal_append(J, "r4", 2, NULL, 0, &seq) == 0, "  an append after it");
	read_all(J, 0, got);
	is_str(got->str, "r1 r4 ", "  is read: the target skipped the damaged rest and is not stuck");
	journal_stats(J, &st);
	is_int((long long) st.lost, 2, "  the two records skipped are counted as lost");
	journal_close(J);
	g_string_free(got, TRUE);
	g_free(seg);
	g_free(why);
}

static void
test_restarts(const char *dir)
{
	char *names[] = {"a", NULL}, *why = NULL;
	struct journal_rec r = {0};
	guint64 seq = 0;
	int i;

	for (i = 0; i < 3; i++) {
		J = journal_open(dir, 64 << 20, 0, names, NULL, &why);
		journal_close(J);
	}
	is_int(count_files(dir, ".seg"), 1, "restarts without an event leave one segment");
	J = journal_open(dir, 64 << 20, 0, names, NULL, &why);
	ok(journal_append(J, "kept", 4, NULL, 0, &seq) == 0 && seq == 1, "  an append after them");
	journal_close(J);
	J = journal_open(dir, 64 << 20, 0, names, NULL, &why);
	is_int(journal_next(J, 0, &r, g_get_monotonic_time()), 1, "  is there after the next restart");
	ok(r.data && !strcmp(r.data, "kept"), "  as written");
	journal_rec_clear(&r);
	journal_close(J);
	g_free(why);
}

static void
test_corrupt(const char *dir)
{
	char *names[] = {"a", NULL}, *why = NULL, rec[1000], *seg;
	struct journal_rec r = {0};
	guint64 seq, last = 0;
	int i, n = 0, fd;

	memset(rec, 'y', sizeof(rec));
	J = journal_open(dir, 64 << 10, 0, names, NULL, &why);
	for (i = 0; i < 20; i++)
		(void) journal_append(J, rec, sizeof(rec), NULL, 0, &seq);
	/* a byte of the second record of the first segment changed */
	seg = g_build_filename(dir, "0000000000000001.seg", NULL);
	fd = open(seg, O_WRONLY);
	ok(fd >= 0 && pwrite(fd, "z", 1, 24 + 1000 + 24 + 500) == 1, "a record of an old segment is damaged");
	close(fd);
	while (journal_next(J, 0, &r, g_get_monotonic_time()) == 1) {
		n++;
		last = r.seq;
		journal_done(J, 0, r.seq, 0);
		journal_rec_clear(&r);
	}
	ok(n > 1 && n < 20, "  the target skips the rest of that segment (%d of 20 read)", n);
	is_int((long long) last, 20, "  and reads on in the next ones");
	journal_close(J);
	g_free(seg);
	g_free(why);
}

static void
test_full(const char *dir_t, const char *dir_d)
{
	char *names[] = {"a", NULL}, *why = NULL, rec[1000];
	struct journal_stats st;
	struct journal_rec r = {0};
	guint64 seq, first = 0;
	int i, okn = 0, enospc = 0;

	memset(rec, 'x', sizeof(rec));
	J = journal_open(dir_t, 64 << 10, 0, names, NULL, &why);
	for (i = 0; i < 100; i++) {
		if (journal_append(J, rec, sizeof(rec), NULL, 0, &seq) == 0)
			okn++;
		else if (errno == ENOSPC)
			enospc++;
	}
	ok(okn > 50 && okn < 66, "journal-full = tempfail: appends succeed up to the size (%d)", okn);
	is_int(enospc, 100 - okn, "  then each is refused with ENOSPC");
	journal_stats(J, &st);
	is_int((long long) st.refused, enospc, "  and counted");
	ok(st.bytes <= 64 << 10, "  the journal stays within its size");
	/* delivered: room again */
	while (journal_next(J, 0, &r, g_get_monotonic_time()) == 1) {
		journal_done(J, 0, r.seq, 0);
		journal_rec_clear(&r);
	}
	journal_done(J, 0, journal_cursor(J, 0), 1);
	ok(journal_append(J, rec, sizeof(rec), NULL, 0, &seq) == 0, "  once the target is past them, appends succeed again");
	journal_close(J);

	J = journal_open(dir_d, 64 << 10, 1, names, NULL, &why);
	for (i = 0, okn = 0; i < 200; i++)
		if (journal_append(J, rec, sizeof(rec), NULL, 0, &seq) == 0)
			okn++;
	is_int(okn, 200, "journal-full = drop-oldest: every append succeeds");
	journal_stats(J, &st);
	ok(st.dropped > 0 && st.bytes <= 64 << 10, "  the oldest are dropped (%llu), the size kept",
	   (unsigned long long) st.dropped);
	ok(journal_cursor(J, 0) >= st.dropped, "  the target's cursor is moved past them");
	if (journal_next(J, 0, &r, g_get_monotonic_time()) == 1)
		first = r.seq;
	journal_rec_clear(&r);
	is_int((long long) first, (long long) st.dropped + 1, "  it reads on from the oldest kept");
	journal_close(J);
	g_free(why);
}

int
main(void)
{
	char *tmp = g_dir_make_tmp("journal-XXXXXX", NULL);
	char *d1 = g_build_filename(tmp, "j1", NULL);
	char *d2 = g_build_filename(tmp, "j2", NULL);
	char *d3 = g_build_filename(tmp, "j3", NULL);
	char *d4 = g_build_filename(tmp, "j4", NULL);
	char *d5 = g_build_filename(tmp, "j5", NULL);
	char *d6 = g_build_filename(tmp, "j6", NULL);
	char *d7 = g_build_filename(tmp, "j7", NULL);
	char *cmd;

	log_open("sinkd", 1, 0);
	test_group_commit(d1);
	test_replay(d1);
	test_full(d2, d3);
	test_sync_fails(d4);
	test_restarts(d5);
	test_corrupt(d6);
	test_corrupt_tail(d7);
	cmd = g_strdup_printf("rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp);
	g_free(cmd);
	g_free(d1);
	g_free(d2);
	g_free(d3);
	g_free(d4);
	g_free(d5);
	g_free(d6);
	g_free(d7);
	g_free(tmp);
	return tap_done();
}
