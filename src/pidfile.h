/*
 * pidfile - one sinkd per pid file and per unix socket
 *
 * pidfile_lock() opens (or makes, mode 0644) a file and takes an
 * exclusive flock(2) on it without waiting; the descriptor is kept for
 * the daemon's life, and the lock with it, across the fork that
 * detaches.  A lock held by another process is -1 with errno
 * EWOULDBLOCK and that process's pid (read from the file; 0 if it wrote
 * none yet) in *holder.  A file removed and made again while waiting for
 * the lock is opened again, so that two processes never hold locks on
 * two files of one name.
 *
 * pidfile_write() writes the process's pid into a locked file;
 * pidfile_remove() removes path when it is still the file fd holds.
 */
#ifndef SINKD_PIDFILE_H
#define SINKD_PIDFILE_H

int pidfile_lock(const char *path, long *holder);
int pidfile_write(int fd);
void pidfile_remove(const char *path, int fd);

#endif
