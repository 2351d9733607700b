/*
 * spool - bounded in-memory buffer with an unlinked temp file behind it
 */
#include <sys/mman.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "room.h"
#include "spool.h"
#include "stats.h"

void
spool_init(struct spool *s, const char *dir, gsize mem_limit)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->limit = mem_limit;
	s->dir = g_strdup(dir);
	s->mem = g_byte_array_new();
}

/* write_all - write(2) until done */
static int
write_all(int fd, const void *data, gsize len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* spool_tmpfile - an unlinked temp file in dir, open for reading and
 * writing; -1 with errno on failure */
int
spool_tmpfile(const char *dir)
{
	char *path = g_build_filename(dir, "sinkd.XXXXXX", NULL);
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	g_free(path);
	return fd;
}

/* spool_problem - what made a write fail, kept for spool_why(); errno
 * is kept */
static void
spool_problem(struct spool *s, const char *what, const char *detail)
{
	int saved = errno;

	g_free(s->why);
	s->why = detail ? g_strdup_printf("%s (spool-dir %s)", what, detail)
		: g_strdup_printf("%s (spool-dir %s)", what, s->dir);
	errno = saved;
}

/* spool_write - len bytes to the file, with room for them reserved
 * first on the spool's file system (room.h): the hold lasts the write,
 * after which statvfs(2) counts the bytes itself.  0, or -1 with errno
 * (ENOSPC when there is no room) and spool_why() set. */
static int
spool_write(struct spool *s, int fd, const void *data, gsize len)
{
	struct room r = ROOM_INIT;
	char why[512];
	int rc;

	if (room_reserve(&r, s->dir, len, why, sizeof(why)) < 0) {
		spool_problem(s, g_strerror(errno), why);
		return -1;
	}
	if ((rc = write_all(fd, data, len)) < 0)
		spool_problem(s, g_strerror(errno), NULL);
	room_release(&r);
	return rc;
}

/* spool_spill - move the memory buffer into an unlinked temp file */
static int
spool_spill(struct spool *s)
{
	int fd = spool_tmpfile(s->dir);

	if (fd < 0) {
		spool_problem(s, g_strerror(errno), NULL);
		return -1;
	}
	if (spool_write(s, fd, s->mem->data, s->mem->len) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	s->fd = fd;
	s->disk = s->mem->len;
	stats_gauge_add(STATS_SPOOL_BYTES, (gint64) s->disk);
	g_byte_array_free(s->mem, TRUE);
	s->mem = NULL;
	return 0;
}

/* spool_append - add bytes; -1 with errno set on failure (ENOSPC, ...) */
int
spool_append(struct spool *s, const void *data, gsize len)
{
	if (s->map) {
		munmap(s->map, s->maplen);
		s->map = NULL;
	}
	if (s->fd < 0 && s->mem->len + len > s->limit && spool_spill(s) < 0)
		return -1;
	if (s->fd >= 0) {
		if (spool_write(s, s->fd, data, len) < 0)
			return -1;
		s->disk += len;
		stats_gauge_add(STATS_SPOOL_BYTES, (gint64) len);
	} else {
		g_byte_array_append(s->mem, data, len);
	}
	s->len += len;
	return 0;
}

/* spool_data - the whole content, read-only; NULL on mmap failure */
const guchar *
spool_data(struct spool *s, gsize *len)
{
	*len = s->len;
	if (s->fd < 0)
		return s->mem->data ? s->mem->data : (const guchar *) "";
	if (s->map == NULL && s->len > 0) {
		void *m = mmap(NULL, s->len, PROT_READ, MAP_SHARED, s->fd, 0);

		if (m == MAP_FAILED)
			return NULL;
		s->map = m;
		s->maplen = s->len;
	}
	return s->map ? s->map : (const guchar *) "";
}

/* spool_read - up to n bytes from offset off into buf (fewer at the
 * end); -1 (errno) on a read error */
gssize
spool_read(const struct spool *s, gsize off, void *buf, gsize n)
{
	if (off >= s->len)
		return 0;
	n = MIN(n, s->len - off);
	if (s->fd < 0) {
		memcpy(buf, s->mem->data + off, n);
		return n;
	}
	return spool_pread(s->fd, buf, n, (off_t) off);
}

/* spool_pread - n bytes of the file fd from offset off into buf, fewer
 * only at its end; -1 (errno) on a read error */
gssize
spool_pread(int fd, void *buf, gsize n, off_t off)
{
	gsize got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *) buf + got, n - got, off + (off_t) got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -1 : (gssize) got;
		got += r;
	}
	return got;
}

int
spool_on_disk(const struct spool *s)
{
	return s->fd >= 0;
}

/* spool_fd - the file descriptor, -1 while in memory */
int
spool_fd(const struct spool *s)
{
	return s->fd;
}

/* spool_memory - the buffer, NULL once on disk */
GByteArray *
spool_memory(const struct spool *s)
{
	return s->mem;
}

/* spool_release - the mapped pages out of the resident set; the range
 * spool_data() gave stays valid */
void
spool_release(struct spool *s)
{
	if (s->map)
		madvise(s->map, s->maplen, MADV_DONTNEED);
}

/* spool_why - why the last write failed: the error, then the directory
 * and, when there was no room, its free and held bytes; NULL when none
 * failed */
const char *
spool_why(const struct spool *s)
{
	return s->why;
}

void
spool_free(struct spool *s)
{
	if (s->map)
		munmap(s->map, s->maplen);
	if (s->fd >= 0)
		close(s->fd);
	if (s->disk)
		stats_gauge_add(STATS_SPOOL_BYTES, -(gint64) s->disk);
	if (s->mem)
		g_byte_array_free(s->mem, TRUE);
	g_free(s->dir);
	g_free(s->why);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}
