/*
 * room - free space on the file systems sinkd writes temporary files to,
 *	reserved before the writes and counted once per file system
 *
 * Several writers share a file system: libclamav's temporary files
 * (the clamav handler's tmpdir), messages spilled from memory to
 * spool-dir, and parts decoded to files there.  With the defaults both
 * directories are on the one tmpfs of /run.  Before it writes, a writer
 * asks room_reserve() for what it may write; the answer counts what the
 * other writers of the same file system (the same st_dev) hold and have
 * not written yet, so two messages never both count the same free bytes.
 * Bytes once written show in statvfs(2)'s free count: a writer that has
 * written what it reserved gives the hold back with room_give() (the
 * spool, a chunk at a time), and one that cannot tell how much it wrote
 * keeps it until room_release() (a scan, whose files libclamav removes
 * at its end).  Writers other than sinkd on the same file system are
 * not counted: give the directories a file system of their own.
 *
 * room_reserve() adds bytes to the hold r (zeroed, or ROOM_INIT, before
 * its first use; one hold, one directory): 0, or -1 with errno ENOSPC
 * (no room: not enough free bytes beyond what is held, or no free inode)
 * or statvfs(2)'s errno, and in why a line naming dir, the bytes free,
 * the bytes held, the bytes needed.  room_give() gives back bytes of a
 * hold (at most what it holds); room_release() all of it; both leave
 * errno as it was, so a writer can give its hold back before it reports
 * why its write failed.  room_held()
 * is what all holds on dir's file system come to (0 on error).
 *
 * Threads: any; one mutex covers the table and the statvfs(2) of each
 * reservation.
 */
#ifndef SINKD_ROOM_H
#define SINKD_ROOM_H

#include <stddef.h>
#include <sys/types.h>

struct room {
	dev_t dev;			/* the file system, once held > 0 */
	unsigned long long held;	/* reserved and not given back */
};

#define ROOM_INIT {0, 0}

int room_reserve(struct room *r, const char *dir, unsigned long long bytes,
		 char *why, size_t whylen);
void room_give(struct room *r, unsigned long long bytes);
void room_release(struct room *r);
unsigned long long room_held(const char *dir);

#endif
