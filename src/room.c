/*
 * room - space reserved on the file systems of temporary files (room.h)
 */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <errno.h>
#include <string.h>
#include <glib.h>

#include "room.h"

static GMutex lock;
static GHashTable *held_by_dev;	/* dev_t as guint64 -> guint64 held; under lock */

/* fs_held - the bytes held on file system dev (under lock) */
static guint64 *
fs_held(dev_t dev)
{
	guint64 key = (guint64) dev, *v;

	if (held_by_dev == NULL)
		held_by_dev = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	if ((v = g_hash_table_lookup(held_by_dev, &key)) == NULL) {
		v = g_new0(guint64, 1);
		g_hash_table_insert(held_by_dev, g_memdup2(&key, sizeof(key)), v);
	}
	return v;
}

/* room_reserve - bytes more for r on dir's file system (room.h) */
int
room_reserve(struct room *r, const char *dir, unsigned long long bytes,
	     char *why, size_t whylen)
{
	unsigned long long avail;
	struct statvfs sv;
	struct stat st;
	guint64 *held;
	int saved, noinode;

	g_mutex_lock(&lock);
	if (stat(dir, &st) < 0 || statvfs(dir, &sv) < 0) {
		saved = errno;
		g_mutex_unlock(&lock);
		g_snprintf(why, whylen, "%s: %s", dir, g_strerror(saved));
		errno = saved;
		return -1;
	}
	held = fs_held(st.st_dev);
	avail = (unsigned long long) sv.f_bavail * sv.f_frsize;
	noinode = sv.f_files > 0 && sv.f_favail == 0;
	if (avail < *held + bytes || noinode) {
		g_snprintf(why, whylen,
			   "%s: %llu bytes free, %llu held by writes in flight, %llu more needed%s",
			   dir, avail, (unsigned long long) *held, bytes,
			   noinode ? ", no inode free" : "");
		g_mutex_unlock(&lock);
		errno = ENOSPC;
		return -1;
	}
	*held += bytes;
	r->dev = st.st_dev;
	r->held += bytes;
	g_mutex_unlock(&lock);
	return 0;
}

/* room_give - bytes of r's hold given back (room.h) */
void
room_give(struct room *r, unsigned long long bytes)
{
	int saved = errno;	/* the caller's, from the write it made */
	guint64 *held;

	if (bytes > r->held)
		bytes = r->held;
	if (bytes == 0)
		return;
	g_mutex_lock(&lock);
	held = fs_held(r->dev);
	*held -= MIN(*held, bytes);
	g_mutex_unlock(&lock);
	r->held -= bytes;
	errno = saved;
}

/* room_release - all of r's hold given back */
void
room_release(struct room *r)
{
	room_give(r, r->held);
}

/* room_held - what all holds on dir's file system come to */
unsigned long long
room_held(const char *dir)
{
	unsigned long long n;
	struct stat st;

	if (stat(dir, &st) < 0)
		return 0;
	g_mutex_lock(&lock);
	n = *fs_held(st.st_dev);
	g_mutex_unlock(&lock);
	return n;
}
