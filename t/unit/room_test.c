/*
 * room_test - room.c and the spool's use of it on a file system of its
 *	own: room_test DIR, DIR on a small tmpfs no one else writes to
 *	(t/tmpfs.t mounts one); DIR/a and DIR/b are made here
 *
 * Checked: two holds on one file system add up, wherever on it their
 * directories are, until the free bytes are all held; one more byte is
 * refused with ENOSPC and a line naming the directory and the bytes
 * free, held and needed; a hold given back makes room again; a spool
 * write draws from the same count (refused while scans hold the room,
 * taken once they give it back, and holding nothing once written); a
 * spool write larger than the file system is refused before anything
 * is written.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "../../src/room.h"
#include "../../src/spool.h"
#include "tap.h"

/* free_bytes - what statvfs(2) says is free on dir's file system */
static unsigned long long
free_bytes(const char *dir)
{
	struct statvfs sv;

	if (statvfs(dir, &sv) < 0)
		return 0;
	return (unsigned long long) sv.f_bavail * sv.f_frsize;
}

int
main(int argc, char **argv)
{
	struct room r1 = ROOM_INIT, r2 = ROOM_INIT, r3 = ROOM_INIT;
	unsigned long long f, half;
	char why[512], *a, *b, *want;
	struct spool s;
	struct stat st;
	guchar *big;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: room_test DIR\n");
		return 2;
	}
	a = g_build_filename(argv[1], "a", NULL);
	b = g_build_filename(argv[1], "b", NULL);
	if ((mkdir(a, 0700) < 0 && errno != EEXIST) || (mkdir(b, 0700) < 0 && errno != EEXIST)) {
		fprintf(stderr, "room_test: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	f = free_bytes(a);
	ok(f > 65536, "the file system has room to share (%llu bytes)", f);
	half = f / 2;

	/* two holds, two directories, one file system: they add up */
	is_int(room_reserve(&r1, a, half, why, sizeof(why)), 0, "a first hold of half the room");
	is_int(room_reserve(&r2, b, f - half, why, sizeof(why)), 0,
	       "a second one, elsewhere on the file system, of the rest");
	is_int((long long) room_held(a), (long long) f, "the two add up, seen from one directory");
	is_int((long long) room_held(b), (long long) f, "and from the other");
	errno = 0;
	rc = room_reserve(&r3, a, 1, why, sizeof(why));
	ok(rc < 0 && errno == ENOSPC, "one byte more: no room (ENOSPC)");
	want = g_strdup_printf("%s: %llu bytes free, %llu held by writes in flight, 1 more needed",
			       a, f, f);
	is_str(why, want, "the refusal names the directory and the bytes free, held and needed");
	g_free(want);
	is_int((long long) r3.held, 0, "a refused reservation holds nothing");

	/* the spool draws from the same count */
	spool_init(&s, b, 0);
	errno = 0;
	rc = spool_append(&s, "x", 1);
	ok(rc < 0 && errno == ENOSPC, "a spool write while the scans hold all the room: refused (ENOSPC)");
	ok(spool_why(&s) && strstr(spool_why(&s), "spool-dir ") && strstr(spool_why(&s), b)
	   && strstr(spool_why(&s), "held by writes in flight"),
	   "spool_why names spool-dir, the directory and the hold: %s", spool_why(&s) ? spool_why(&s) : "(null)");
	spool_free(&s);

	room_give(&r1, 4096);
	is_int((long long) room_held(a), (long long) (f - 4096), "room_give gives part of a hold back");
	is_int(room_reserve(&r3, a, 4096, why, sizeof(why)), 0, "and that part can be held again");
	room_release(&r1);
	room_release(&r2);
	room_release(&r3);
	is_int((long long) room_held(a), 0, "all released: nothing held");

	spool_init(&s, b, 0);
	is_int(spool_append(&s, "hello\r\n", 7), 0, "room again: the spool writes to its file");
	ok(spool_on_disk(&s), "  (a file, body-memory-limit 0)");
	is_int((long long) room_held(b), 0, "  and holds nothing once its bytes are written");
	/* larger than the whole file system: refused before it is written */
	big = g_malloc0(f + 65536);
	errno = 0;
	rc = spool_append(&s, big, f + 65536);
	ok(rc < 0 && errno == ENOSPC, "a write larger than the file system: ENOSPC");
	if (fstat(spool_fd(&s), &st) < 0)
		st.st_size = -1;
	is_int((long long) st.st_size, 7, "  and nothing of it was written");
	is_int((long long) room_held(b), 0, "  and nothing is held after it");
	g_free(big);
	spool_free(&s);
	g_free(a);
	g_free(b);
	return tap_done();
}
