/*
 * journal - the durable, bounded, append-only record of after-accept
 *	events (see journal.h)
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "journal.h"
#include "log.h"
#include "stats.h"

#define JOURNAL_MAGIC	0x314a4b53u	/* "SKJ1" */
#define JOURNAL_HDR	24
#define JOURNAL_REC_MAX	(1u << 31)	/* a record past this is corrupt */
#define CURSOR_SUFFIX	".cursor"
#define JOURNAL_SYNCERS	2		/* syncs running at once, at most */

/* One segment file. */
struct seg {
	guint64 first;		/* its name: the first seq it holds or will */
	guint64 last;		/* the last seq in it; first - 1: none */
	gsize size;
	char *path;
};

/* One target's cursor and reading position. */
struct reader {
	char *name;
	int wants_body;
	guint64 cursor;		/* done with every seq up to here */
	guint64 durable;	/* the cursor as its file has it */
	int fd;			/* the segment being read, or -1 */
	guint64 seg_first;	/* which one */
	gsize off;		/* where the next record starts */
};

struct journal {
	char *dir, *bodies;
	int dirfd, bodiesfd;
	guint64 max;
	int drop_oldest;
	GMutex lock;
	GCond synced;		/* a sync finished */
	GCond more;		/* records became durable, or journal_wake */
	GQueue segs;		/* struct seg *, oldest first */
	int fd;			/* the last segment, for appending */
	guint64 next;		/* the next seq */
	guint64 durable;	/* every seq up to here is on disk */
	gsize durable_off;	/* the last segment's bytes on disk */
	int syncing;		/* syncs running */
	int broken;		/* a failed sync is cutting off the segment */
	guint64 sync_upto;	/* the last seq the latest of them covers */
	GArray *failed;		/* guint64 pairs: ranges of seqs whose sync
				 * failed (rare: kept until exit) */
	int woken;		/* journal_wake() */
	unsigned nreaders;
	struct reader *r;
	struct journal_stats st;
};

/* crc32 - CRC-32 (IEEE 802.3) of len bytes, continuing from crc */
static guint32
crc32(guint32 crc, const void *data, gsize len)
{
	static guint32 table[256];
	static gsize ready;
	const guchar *p = data;
	gsize i;

	if (g_once_init_enter(&ready)) {
		for (guint32 n = 0; n < 256; n++) {
			guint32 c = n;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[n] = c;
		}
		g_once_init_leave(&ready, 1);
	}
	crc = ~crc;
	for (i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* write_all - write(2) until done; 0, or -1 with errno */
static int
write_all(int fd, const void *data, gsize len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (gsize) n;
	}
	return 0;
}

/* read_at - n bytes at off; 1, 0 at (or past) the end, -1 with errno */
static int
read_at(int fd, void *buf, gsize n, off_t off)
{
	gsize got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *) buf + got, n - got, off + (off_t) got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		got += (gsize) r;
	}
	return 1;
}

static void
seg_free(struct seg *s)
{
	g_free(s->path);
	g_free(s);
}

/* seg_path - DIR/%016x.seg */
static char *
seg_path(const struct journal *j, guint64 first)
{
	return g_strdup_printf("%s/%016" G_GINT64_MODIFIER "x.seg", j->dir, first);
}

/*
 * rec_read - the record at off of fd (a segment of size bytes) into r;
 * 1, 0 when there is no whole, sound record there (*why says why, or
 * NULL at the clean end), -1 on a read error
 */
static int
rec_read(int fd, gsize off, gsize size, struct journal_rec *r, const char **why)
{
	guchar h[JOURNAL_HDR];
	guint32 magic, crc, len, blen;
	char *buf;
	int rc;

	*why = NULL;
	if (off == size)
		return 0;
	*why = "a torn record";
	if (off + JOURNAL_HDR > size)
		return 0;
	if ((rc = read_at(fd, h, JOURNAL_HDR, (off_t) off)) <= 0)
		return rc;
	memcpy(&magic, h, 4);
	memcpy(&crc, h + 4, 4);
	memcpy(&len, h + 8, 4);
	memcpy(&blen, h + 12, 4);
	magic = GUINT32_FROM_LE(magic);
	crc = GUINT32_FROM_LE(crc);
	len = GUINT32_FROM_LE(len);
	blen = GUINT32_FROM_LE(blen);
	if (magic != JOURNAL_MAGIC || len > JOURNAL_REC_MAX || blen > len) {
		*why = "not a record";
		return 0;
	}
	if (off + JOURNAL_HDR + len > size)
		return 0;
	buf = g_malloc(len + 1);
	if ((rc = read_at(fd, buf, len, (off_t) (off + JOURNAL_HDR))) <= 0) {
		g_free(buf);
		return rc;
	}
	buf[len] = 0;
	if (crc32(crc32(0, h + 8, JOURNAL_HDR - 8), buf, len) != crc) {
		g_free(buf);
		*why = "a record with a bad checksum";
		return 0;
	}
	memcpy(&r->seq, h + 16, 8);
	r->seq = GUINT64_FROM_LE(r->seq);
	r->body = NULL;
	r->body_len = blen;
	r->body_data = blen ? g_memdup2(buf, blen) : NULL;
	r->len = len - blen;
	r->data = g_memdup2(buf + blen, r->len + 1);
	g_free(buf);
	*why = NULL;
	return 1;
}

/* journal_rec_clear - what a record holds, freed; its body's file
 * (journal_next made it for the reader) removed */
void
journal_rec_clear(struct journal_rec *r)
{
	if (r->body)
		unlink(r->body);
	g_free(r->body);
	g_free(r->body_data);
	g_free(r->data);
	memset(r, 0, sizeof(*r));
}

/* sync_failed - whether seq's sync failed; under lock */
static int
sync_failed(const struct journal *j, guint64 seq)
{
	guint i;

	for (i = 0; i + 1 < j->failed->len; i += 2)
		if (seq > g_array_index(j->failed, guint64, i)
		    && seq <= g_array_index(j->failed, guint64, i + 1))
			return 1;
	return 0;
}

/* dir_sync - fsync(2) of a directory fd; 0 or -1 */
static int
dir_sync(int fd)
{
	return fsync(fd) < 0 && errno != EINVAL ? -1 : 0;
}

/* cursor_write - t's cursor into NAME.cursor (write, sync, rename); 0
 * or -1 with errno */
static int
cursor_write(struct journal *j, struct reader *r, guint64 seq)
{
	char *path = g_strdup_printf("%s/%s%s", j->dir, r->name, CURSOR_SUFFIX);
	char *tmp = g_strconcat(path, ".new", NULL);
	char *text = g_strdup_printf("%" G_GUINT64_FORMAT "\n", seq);
	int fd, rc = -1, saved;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0) {
		if (write_all(fd, text, strlen(text)) == 0 && fdatasync(fd) == 0
		    && close(fd) == 0)
			rc = rename(tmp, path);
		else
			close(fd);
	}
	saved = errno;
	if (rc < 0)
		unlink(tmp);
	g_free(text);
	g_free(tmp);
	g_free(path);
	errno = saved;
	return rc;
}

/* cursor_read - NAME.cursor's number, 0 when there is none */
static guint64
cursor_read(struct journal *j, const char *name)
{
	char *path = g_strdup_printf("%s/%s%s", j->dir, name, CURSOR_SUFFIX);
	char *text = NULL;
	guint64 v = 0;

	if (g_file_get_contents(path, &text, NULL, NULL))
		v = g_ascii_strtoull(text, NULL, 10);
	g_free(text);
	g_free(path);
	return v;
}

/* seg_open_new - a new last segment starting at j->next; 0 or -1 with
 * errno; under the lock, with no sync running.  A last segment that
 * holds no record has that name already: it is emptied (of what a
 * failed write may have left) and taken again. */
static int
seg_open_new(struct journal *j)
{
	struct seg *s, *tail = j->segs.tail ? j->segs.tail->data : NULL;
	int fd;

	if (tail && tail->first == j->next) {
		fd = open(tail->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, 0) < 0) {
			int saved = errno;

			if (fd >= 0)
				close(fd);
			errno = saved;
			return -1;
		}
		j->st.bytes -= tail->size;
		tail->size = 0;
		if (j->fd >= 0)
			close(j->fd);
		j->fd = fd;
		j->durable_off = 0;
		return 0;
	}
	s = g_new0(struct seg, 1);
	s->first = j->next;
	s->last = s->first - 1;
	s->path = seg_path(j, s->first);
	fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || dir_sync(j->dirfd) < 0) {
		int saved = errno;

		if (fd >= 0)
			close(fd);
		seg_free(s);
		errno = saved;
		return -1;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->durable_off = 0;
	g_queue_push_tail(&j->segs, s);
	return 0;
}

/* scan_seg - replay one segment: its records counted, a torn tail cut
 * off; 0 or -1 with *why */
static int
scan_seg(struct journal *j, struct seg *s, char **why)
{
	struct journal_rec r = {0};
	struct stat st;
	const char *bad = NULL;
	gsize off = 0;
	int fd, rc;

	if ((fd = open(s->path, O_RDWR | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		*why = g_strdup_printf("%s: %s", s->path, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((rc = rec_read(fd, off, (gsize) st.st_size, &r, &bad)) == 1) {
		off += JOURNAL_HDR + r.len + r.body_len;
		s->last = r.seq;
		journal_rec_clear(&r);
	}
	if (rc < 0) {
		*why = g_strdup_printf("%s: %s", s->path, g_strerror(errno));
		close(fd);
		return -1;
	}
	if (bad) {
		log_warn("journal %s: %s at offset %zu: cut off there (%zu bytes)",
			 s->path, bad, off, (gsize) st.st_size - off);
		if (ftruncate(fd, (off_t) off) < 0 || fdatasync(fd) < 0) {
			*why = g_strdup_printf("%s: %s", s->path, g_strerror(errno));
			close(fd);
			return -1;
		}
	}
	close(fd);
	s->size = off;
	j->st.bytes += off;
	return 0;
}

/* cmp_str - g_ptr_array_sort order of strings */
static gint
cmp_str(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* replay - the segments and bodies on disk into j; 0 or -1 with *why */
static int
replay(struct journal *j, char **why)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GDir *d;
	const char *n;
	guint i;
	int rc = 0;

	if ((d = g_dir_open(j->dir, 0, NULL)) != NULL) {
		while ((n = g_dir_read_name(d)) != NULL)
			if (strlen(n) == 20 && g_str_has_suffix(n, ".seg"))
				g_ptr_array_add(names, g_strdup(n));
		g_dir_close(d);
	}
	g_ptr_array_sort(names, cmp_str);
	for (i = 0; i < names->len && rc == 0; i++) {
		struct seg *s = g_new0(struct seg, 1);

		s->first = g_ascii_strtoull(g_ptr_array_index(names, i), NULL, 16);
		s->last = s->first - 1;
		s->path = g_build_filename(j->dir, (char *) g_ptr_array_index(names, i), NULL);
		g_queue_push_tail(&j->segs, s);
		rc = scan_seg(j, s, why);
		if (s->first > j->next)
			j->next = s->first;
		if (s->last + 1 > j->next)
			j->next = s->last + 1;
	}
	/* the files readers made of bodies before a stop: made again from
	 * the records when they are read again */
	if (rc == 0 && (d = g_dir_open(j->bodies, 0, NULL)) != NULL) {
		while ((n = g_dir_read_name(d)) != NULL) {
			char *p = g_build_filename(j->bodies, n, NULL);

			unlink(p);
			g_free(p);
		}
		g_dir_close(d);
	}
	g_ptr_array_free(names, TRUE);
	return rc;
}

/* collect - segments every target is past: removed (by the durable
 * cursors); under lock */
static void
collect(struct journal *j)
{
	guint64 all = G_MAXUINT64;
	unsigned t;

	for (t = 0; t < j->nreaders; t++)
		all = MIN(all, j->r[t].durable);
	if (j->nreaders == 0)
		all = j->durable;
	while (j->segs.length > 1) {
		struct seg *s = g_queue_peek_head(&j->segs);

		if (s->last > all)
			break;
		unlink(s->path);
		j->st.bytes -= s->size;
		seg_free(g_queue_pop_head(&j->segs));
	}
}

/* journal_open - open (make) dir and replay it; targets: the names whose
 * cursors it keeps (NULL-terminated), wants_body[i]: whether target i
 * needs body copies; NULL with *why (g_free) on failure */
struct journal *
journal_open(const char *dir, guint64 max, int drop_oldest,
	     char *const *targets, const int *wants_body, char **why)
{
	struct journal *j = g_new0(struct journal, 1);
	unsigned t;

	j->dir = g_strdup(dir);
	j->bodies = g_build_filename(dir, "bodies", NULL);
	j->max = max;
	j->drop_oldest = drop_oldest;
	j->fd = j->dirfd = j->bodiesfd = -1;
	j->next = 1;
	g_mutex_init(&j->lock);
	g_cond_init(&j->synced);
	g_cond_init(&j->more);
	g_queue_init(&j->segs);
	j->failed = g_array_new(FALSE, FALSE, sizeof(guint64));
	if ((g_mkdir_with_parents(j->dir, 0700) < 0 || g_mkdir_with_parents(j->bodies, 0700) < 0)
	    || (j->dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0
	    || (j->bodiesfd = open(j->bodies, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		*why = g_strdup_printf("%s: %s", j->dir, g_strerror(errno));
		goto fail;
	}
	if (replay(j, why) < 0)
		goto fail;
	/* appending goes on in a segment of its own: the last one is
	 * never removed, so numbering goes on from its name */
	if (seg_open_new(j) < 0) {
		*why = g_strdup_printf("%s: a new segment: %s", j->dir, g_strerror(errno));
		goto fail;
	}
	j->durable = j->next - 1;
	j->st.last = j->durable;
	while (targets && targets[j->nreaders])
		j->nreaders++;
	j->r = g_new0(struct reader, j->nreaders);
	for (t = 0; t < j->nreaders; t++) {
		struct reader *r = &j->r[t];

		r->name = g_strdup(targets[t]);
		r->wants_body = wants_body ? wants_body[t] : 0;
		r->cursor = MIN(cursor_read(j, r->name), j->durable);
		r->durable = r->cursor;
		r->fd = -1;
	}
	collect(j);
	return j;
fail:
	journal_close(j);
	return NULL;
}

/* journal_close - everything j holds, its cursors written */
void
journal_close(struct journal *j)
{
	unsigned t;

	if (j == NULL)
		return;
	for (t = 0; t < j->nreaders; t++) {
		if (j->r[t].cursor != j->r[t].durable)
			(void) cursor_write(j, &j->r[t], j->r[t].cursor);
		if (j->r[t].fd >= 0)
			close(j->r[t].fd);
		g_free(j->r[t].name);
	}
	g_free(j->r);
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	if (j->bodiesfd >= 0)
		close(j->bodiesfd);
	g_array_free(j->failed, TRUE);
	g_queue_clear_full(&j->segs, (GDestroyNotify) seg_free);
	g_mutex_clear(&j->lock);
	g_cond_clear(&j->synced);
	g_cond_clear(&j->more);
	g_free(j->dir);
	g_free(j->bodies);
	g_free(j);
}

/* drop_head - the oldest segment removed to make room, cursors moved
 * past it; 0, or -1 when only the last one is left; under lock */
static int
drop_head(struct journal *j)
{
	struct seg *s;
	unsigned t;
	guint64 n;

	if (j->segs.length < 2)
		return -1;
	s = g_queue_pop_head(&j->segs);
	n = s->last + 1 - s->first;
	for (t = 0; t < j->nreaders; t++) {
		if (j->r[t].cursor < s->last)
			j->r[t].cursor = s->last;
		if (j->r[t].durable < s->last && cursor_write(j, &j->r[t], s->last) == 0)
			j->r[t].durable = s->last;
	}
	unlink(s->path);
	j->st.bytes -= s->size;
	j->st.dropped += n;
	stats_add(STATS_EVENTS_DROPPED, n);
	log_warn("journal full (%" G_GUINT64_FORMAT " bytes): dropped events %" G_GUINT64_FORMAT
		 " to %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT " dropped in all)",
		 j->max, s->first, s->last, j->st.dropped);
	seg_free(s);
	return 0;
}

/* make_room - room for need more bytes: 0, or an errno (ENOSPC: it
 * does not fit); under lock, no sync running */
static int
make_room(struct journal *j, gsize need)
{
	struct seg *last;

	while (j->st.bytes + need > j->max) {
		if (!j->drop_oldest)
			return ENOSPC;
		if (drop_head(j) == 0)
			continue;
		/* only the last segment: start another, then drop it */
		last = g_queue_peek_tail(&j->segs);
		if (last->size == 0)
			return ENOSPC;
		if (fdatasync(j->fd) < 0 || seg_open_new(j) < 0)
			return errno;
		j->durable = j->next - 1;
	}
	return 0;
}

/* rotate_due - whether the last segment holds its share */
static int
rotate_due(const struct journal *j)
{
	const struct seg *last = j->segs.tail->data;

	return last->size >= MAX(j->max / 8, 4096);
}

/* rotate - a new last segment; under lock, no sync running; 0 or an
 * errno */
static int
rotate(struct journal *j)
{
	struct seg *last = g_queue_peek_tail(&j->segs);

	if (fdatasync(j->fd) < 0)
		return errno;
	j->durable = j->next - 1;
	j->durable_off = last->size;
	g_cond_broadcast(&j->more);
	return seg_open_new(j) < 0 ? errno : 0;
}

/*
 * cut_tail - the last segment, last, cut at off (what a failed write or
 * sync left after it removed, where ftruncate can) and closed: the next
 * record starts a segment of its own.  Under lock; no record is written,
 * and no sync uses the segment's fd, meanwhile.  0 when it was cut; -1
 * when it was only closed, or another thread is at it.
 */
static int
cut_tail(struct journal *j, struct seg *last, gsize off)
{
	int rc = -1;

	if (j->broken)
		return -1;
	j->broken = 1;
	while (j->syncing)
		g_cond_wait(&j->synced, &j->lock);
	if (j->segs.tail->data == last) {
		if (off <= last->size && ftruncate(j->fd, (off_t) off) == 0) {
			j->st.bytes -= last->size - off;
			last->size = off;
			rc = 0;
		}
		(void) seg_open_new(j);
	}
	j->broken = 0;
	g_cond_broadcast(&j->synced);
	return rc;
}

/*
 * sync_lead - one sync of the segment last (the tail), covering every
 * record written so far; under lock, released during the sync.  0, or
 * the errno of a failed sync, which fails every record of the segment.
 */
static int
sync_lead(struct journal *j, struct seg *last)
{
	guint64 upto = j->next - 1, seg = last->first;
	gsize off = last->size;
	int fd = j->fd, rc, err;
	gint64 t0;

	j->syncing++;
	j->sync_upto = upto;
	g_mutex_unlock(&j->lock);
	t0 = g_get_monotonic_time();
	rc = fdatasync(fd);
	err = rc < 0 ? errno : 0;
	log_debug("journal: sync to event %" G_GUINT64_FORMAT ": %.3f ms", upto,
		  (g_get_monotonic_time() - t0) / 1000.0);
	g_mutex_lock(&j->lock);
	j->syncing--;
	j->st.syncs++;
	if (rc == 0) {
		if (upto > j->durable) {
			j->durable = upto;
			if (((struct seg *) j->segs.tail->data)->first == seg)
				j->durable_off = MAX(j->durable_off, off);
		}
		if (upto > j->st.last) {
			j->st.appended += upto - j->st.last;
			j->st.last = upto;
		}
	} else {
		/*
		 * Every record written to this segment so far fails, those
		 * after upto too: the pages may be gone (and a sync running
		 * beside this one may not hear of it), and the next record
		 * starts a segment of its own.  Readers skip them (their
		 * messages were tempfailed, so they give no event), and
		 * they are cut off the segment where it is still the last
		 * one, so that a restart does not find them either.
		 */
		upto = j->next - 1;
		log_error("journal %s: %s", last->path, g_strerror(err));
		g_array_append_val(j->failed, j->durable);
		g_array_append_val(j->failed, upto);
		if (upto > j->st.last) {
			j->st.failed += upto - j->st.last;
			j->st.last = upto;
		}
		if (((struct seg *) j->segs.tail->data)->first == seg) {
			guint64 keep = j->durable;

			if (cut_tail(j, last, j->durable_off) == 0)
				last->last = MIN(last->last, keep);
		}
		j->durable = MAX(j->durable, upto);
	}
	g_cond_broadcast(&j->more);
	g_cond_broadcast(&j->synced);
	return err;
}

/*
 * journal_append - a record of data, and of the message body (blen
 * bytes; none: NULL, 0), on disk; 0 with *seq set, or -1 with errno:
 * ENOSPC when it does not fit (or passes JOURNAL_REC_MAX), else the
 * write or the sync failed.  The body goes into the record itself, so
 * that the sync the record shares with others makes it durable too: no
 * file, and no sync, of its own.
 */
int
journal_append(struct journal *j, const void *data, gsize len,
	       const void *body, gsize blen, guint64 *seq)
{
	gsize reclen = JOURNAL_HDR + blen + len;
	guchar *rec;
	guint32 v32, crc;
	guint64 v64, my;
	struct seg *last;
	int err = 0;

	if (blen + len > JOURNAL_REC_MAX) {
		errno = ENOSPC;
		return -1;
	}
	rec = g_malloc(reclen);
	g_mutex_lock(&j->lock);
	while (j->broken)
		g_cond_wait(&j->synced, &j->lock);
	/* records are written while a sync runs; a new segment or room
	 * waits for it */
	if (rotate_due(j) || j->st.bytes + reclen > j->max) {
		while (j->syncing)
			g_cond_wait(&j->synced, &j->lock);
		if ((rotate_due(j) && (err = rotate(j)) != 0)
		    || (err = make_room(j, reclen)) != 0) {
			if (err == ENOSPC)
				j->st.refused++;
			goto out;
		}
	}
	my = j->next;
	v32 = GUINT32_TO_LE(JOURNAL_MAGIC);
	memcpy(rec, &v32, 4);
	v32 = GUINT32_TO_LE((guint32) (blen + len));
	memcpy(rec + 8, &v32, 4);
	v32 = GUINT32_TO_LE((guint32) blen);
	memcpy(rec + 12, &v32, 4);
	v64 = GUINT64_TO_LE(my);
	memcpy(rec + 16, &v64, 8);
	if (blen)
		memcpy(rec + JOURNAL_HDR, body, blen);
	memcpy(rec + JOURNAL_HDR + blen, data, len);
	crc = crc32(0, rec + 8, reclen - 8);
	v32 = GUINT32_TO_LE(crc);
	memcpy(rec + 4, &v32, 4);
	last = g_queue_peek_tail(&j->segs);
	if (write_all(j->fd, rec, reclen) < 0) {
		err = errno;
		j->st.failed++;
		cut_tail(j, last, last->size);
		goto out;
	}
	j->next++;
	last->last = my;
	last->size += reclen;
	j->st.bytes += reclen;
	/*
	 * Group commit: wait when a sync running started after this record
	 * was written (it covers it), else start one at once, which covers
	 * every record written before it: a record waits for one sync, and
	 * those written meanwhile share the next.  Syncs may overlap (up to
	 * JOURNAL_SYNCERS): each one that ends makes what it covered
	 * durable, whatever the order they end in.
	 */
	for (;;) {
		if (sync_failed(j, my)) {
			err = EIO;
			break;
		}
		if (j->durable >= my)
			break;
		if ((j->syncing && j->sync_upto >= my) || j->syncing >= JOURNAL_SYNCERS) {
			g_cond_wait(&j->synced, &j->lock);
			continue;
		}
		err = sync_lead(j, last);
	}
	if (sync_failed(j, my))
		err = EIO;
	if (err == 0)
		*seq = my;
out:
	g_mutex_unlock(&j->lock);
	g_free(rec);
	errno = err;
	return err ? -1 : 0;
}

/* reader_seek - r positioned at the first record after its cursor: the
 * segment holding it opened; under lock.  0, or -1 when that record is
 * not durable yet. */
static int
reader_seek(struct journal *j, struct reader *r)
{
	GList *l;
	struct seg *s = NULL;

	for (l = j->segs.head; l; l = l->next) {
		struct seg *c = l->data;

		if (c->last > r->cursor || l->next == NULL) {
			s = c;
			break;
		}
	}
	if (s == NULL)
		return -1;
	if (r->fd >= 0 && r->seg_first == s->first)
		return 0;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	r->seg_first = s->first;
	r->off = 0;
	return r->fd >= 0 ? 0 : -1;
}

/*
 * body_file - for a reader that wants bodies as files, the record's
 * body as a read-only file of its own in bodies/ (rec->body;
 * journal_rec_clear() removes it); no sync: after a crash the record
 * makes it again.  The bytes are freed then, and for a reader that wants
 * no body; one that wants them in memory keeps them.  0, or -1 after
 * logging.
 */
static int
body_file(struct journal *j, unsigned t, struct journal_rec *rec)
{
	char *path;
	int fd;

	if (j->r[t].wants_body == JOURNAL_BODY_DATA)
		return 0;
	if (rec->body_data == NULL || j->r[t].wants_body != JOURNAL_BODY_FILE) {
		g_clear_pointer(&rec->body_data, g_free);
		return 0;
	}
	path = g_strdup_printf("%s/%016" G_GINT64_MODIFIER "x.%u", j->bodies, rec->seq, t);
	unlink(path);	/* the same record read again (a retry) */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (fd < 0 || write_all(fd, rec->body_data, rec->body_len) < 0) {
		log_error("journal %s: %s: %s", j->dir, path, g_strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		g_free(path);
		journal_rec_clear(rec);
		return -1;
	}
	close(fd);
	g_clear_pointer(&rec->body_data, g_free);
	rec->body = path;
	return 0;
}

/*
 * journal_next - the first durable record after target t's cursor into
 * *rec: 1; 0 when there is none before monotonic time until (or
 * journal_wake()); -1 after logging a read error
 */
int
journal_next(struct journal *j, unsigned t, struct journal_rec *rec, gint64 until)
{
	struct reader *r = &j->r[t];
	const char *bad;
	gsize size, at;
	int rc;

	g_mutex_lock(&j->lock);
	for (;;) {
		struct seg *s;
		GList *l;

		while (j->durable <= r->cursor && !j->woken)
			if (!g_cond_wait_until(&j->more, &j->lock, until))
				break;
		if (j->woken || j->durable <= r->cursor) {
			g_mutex_unlock(&j->lock);
			return 0;
		}
		if (reader_seek(j, r) < 0) {
			log_error("journal %s: cannot read: %s", j->dir, g_strerror(errno));
			g_mutex_unlock(&j->lock);
			return -1;
		}
		size = 0;
		for (l = j->segs.head; l; l = l->next) {
			s = l->data;
			if (s->first == r->seg_first)
				size = l->next ? s->size : j->durable_off;
		}
		g_mutex_unlock(&j->lock);
		rc = rec_read(r->fd, r->off, size, rec, &bad);
		g_mutex_lock(&j->lock);
		if (rc < 0) {
			log_error("journal segment %016" G_GINT64_MODIFIER "x: %s at %zu",
				  r->seg_first, g_strerror(errno), r->off);
			g_mutex_unlock(&j->lock);
			return -1;
		}
		if (bad && ((struct seg *) j->segs.tail->data)->first == r->seg_first) {
			/* damage where records are still written: they go
			 * to a new segment, so that this one can be skipped */
			while (j->broken)
				g_cond_wait(&j->synced, &j->lock);
			if (((struct seg *) j->segs.tail->data)->first == r->seg_first)
				(void) cut_tail(j, j->segs.tail->data, G_MAXSIZE);
			if (((struct seg *) j->segs.tail->data)->first == r->seg_first) {
				log_error("journal segment %016" G_GINT64_MODIFIER "x: %s at %zu",
					  r->seg_first, bad, r->off);
				g_mutex_unlock(&j->lock);
				return -1;
			}
		}
		if (bad) {	/* a segment that changed under sinkd: its rest is lost */
			for (l = j->segs.head; l; l = l->next)
				if (((struct seg *) l->data)->first == r->seg_first)
					break;
			j->st.lost += l ? ((struct seg *) l->data)->last - r->cursor : 0;
			log_error("journal segment %016" G_GINT64_MODIFIER "x: %s at %zu: %s skips the rest of it"
				  " (events %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT ")",
				  r->seg_first, bad, r->off, r->name, r->cursor + 1,
				  l ? ((struct seg *) l->data)->last : r->cursor);
		}
		if (rc == 0) {
			/* this segment is read through: the next one */
			close(r->fd);
			r->fd = -1;
			for (l = j->segs.head; l; l = l->next)
				if (((struct seg *) l->data)->first > r->seg_first)
					break;
			if (l == NULL) {
				(void) g_cond_wait_until(&j->more, &j->lock, until);
				g_mutex_unlock(&j->lock);
				return 0;
			}
			if (r->cursor < ((struct seg *) l->data)->first - 1)
				r->cursor = ((struct seg *) l->data)->first - 1;
			continue;
		}
		at = r->off;
		r->off += JOURNAL_HDR + rec->len + rec->body_len;
		if (rec->seq <= r->cursor || sync_failed(j, rec->seq)) {
			journal_rec_clear(rec);
			continue;
		}
		g_mutex_unlock(&j->lock);
		if (body_file(j, t, rec) < 0) {
			r->off = at;	/* read again next time */
			return -1;
		}
		return 1;
	}
}

/* journal_done - target t is done with everything up to seq; persist:
 * its cursor written, and what no target needs any more removed */
void
journal_done(struct journal *j, unsigned t, guint64 seq, int persist)
{
	struct reader *r = &j->r[t];

	g_mutex_lock(&j->lock);
	if (seq > r->cursor)
		r->cursor = seq;
	if (persist && r->durable != r->cursor) {
		if (cursor_write(j, r, r->cursor) == 0)
			r->durable = r->cursor;
		else
			log_error("journal %s: cursor of %s: %s", j->dir, r->name,
				  g_strerror(errno));
		collect(j);
	}
	g_mutex_unlock(&j->lock);
}

/* journal_cursor - target t's cursor */
guint64
journal_cursor(struct journal *j, unsigned t)
{
	guint64 c;

	g_mutex_lock(&j->lock);
	c = j->r[t].cursor;
	g_mutex_unlock(&j->lock);
	return c;
}

/* journal_rewind - target t reads again from the record after seq (not
 * before its cursor on disk, which stays) */
void
journal_rewind(struct journal *j, unsigned t, guint64 seq)
{
	struct reader *r = &j->r[t];

	g_mutex_lock(&j->lock);
	r->cursor = MAX(seq, r->durable);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	g_mutex_unlock(&j->lock);
}

/* journal_wake - every journal_next() returns, now and from now on */
void
journal_wake(struct journal *j)
{
	g_mutex_lock(&j->lock);
	j->woken = 1;
	g_cond_broadcast(&j->more);
	g_mutex_unlock(&j->lock);
}

/* journal_stats - what j counted */
void
journal_stats(struct journal *j, struct journal_stats *st)
{
	g_mutex_lock(&j->lock);
	*st = j->st;
	g_mutex_unlock(&j->lock);
}
