/*
 * pidfile - one sinkd per pid file and per unix socket
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pidfile.h"

/* read_pid - the pid written in fd, 0 if none */
static long
read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

/* pidfile_lock - fd of path, locked; -1 with errno (EWOULDBLOCK: held,
 * *holder its pid) */
int
pidfile_lock(const char *path, long *holder)
{
	struct stat fst, pst;
	int fd, saved, tries;

	*holder = 0;
	for (tries = 0; tries < 10; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return -1;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			saved = errno;
			if (saved == EWOULDBLOCK)
				*holder = read_pid(fd);
			close(fd);
			errno = saved;
			return -1;
		}
		if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode)) {
			close(fd);
			errno = EINVAL;
			return -1;
		}
		/* the file it locked is still the one of that name */
		if (lstat(path, &pst) == 0
		    && fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino)
			return fd;
		close(fd);
	}
	errno = EAGAIN;
	return -1;
}

/* pidfile_write - this process's pid, alone, in fd */
int
pidfile_write(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t) n, 0) != n)
		return -1;
	return 0;
}

/* pidfile_remove - remove path if it is still fd's file */
void
pidfile_remove(const char *path, int fd)
{
	struct stat fst, pst;

	if (fd >= 0 && fstat(fd, &fst) == 0 && lstat(path, &pst) == 0
	    && fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino)
		(void) unlink(path);
}
