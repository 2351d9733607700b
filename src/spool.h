/*
 * spool - a message's bytes: in memory up to a limit, then in a file
 *
 * The file is created with mkstemp() in the spool directory and unlinked
 * at once, so nothing is left behind whatever happens to the process; its
 * name never comes from mail data.  spool_data() gives the whole content
 * as one read-only range (the memory buffer, or an mmap of the file);
 * spool_release() gives the mapped pages back (they come again from the
 * page cache if the range is read again), so that a handler that has read
 * a large message through does not keep it resident while the next one
 * works; spool_read() copies a range out without mapping anything.  The
 * same bounded buffer serves any other large byte string of
 * a message (a second reading, a decoded part): spool_tmpfile() makes
 * such a file for writers that need a descriptor.
 *
 * Every write to the file first reserves room for its bytes on the
 * spool directory's file system (room.h), beyond what scans and other
 * messages hold there: a full file system (the tmpfs of /run by
 * default) fails spool_append() with ENOSPC before anything is written,
 * and spool_why() says which directory, the bytes free, held and
 * needed.  The caller tempfails the message.
 */
#ifndef SINKD_SPOOL_H
#define SINKD_SPOOL_H

#include <sys/types.h>
#include <glib.h>

struct spool {
	GByteArray *mem;	/* while under the limit */
	int fd;			/* -1 until spilled to a file */
	gsize len;
	gsize disk;		/* bytes in the file (sinkd_spool_bytes) */
	gsize limit;
	char *dir;
	void *map;
	gsize maplen;
	char *why;		/* why the last write failed */
};

void spool_init(struct spool *s, const char *dir, gsize mem_limit);
int spool_append(struct spool *s, const void *data, gsize len);
const guchar *spool_data(struct spool *s, gsize *len);
gssize spool_read(const struct spool *s, gsize off, void *buf, gsize n);
gssize spool_pread(int fd, void *buf, gsize n, off_t off);
int spool_on_disk(const struct spool *s);
int spool_fd(const struct spool *s);
GByteArray *spool_memory(const struct spool *s);
void spool_release(struct spool *s);
const char *spool_why(const struct spool *s);
void spool_free(struct spool *s);
int spool_tmpfile(const char *dir);

#endif
