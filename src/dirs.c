/*
 * dirs - the directories the daemon writes to: made with owners its user
 *	can use, and checked as that user
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "dirs.h"

/* make_one - mkdir path with mode (umask or not), uid:gid's when root
 * and uid is not (uid_t) -1 */
static int
make_one(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	if (mkdir(path, mode) < 0)
		return errno == EEXIST ? 0 : -1;
	if (chmod(path, mode) < 0)
		return -1;
	if (geteuid() == 0 && uid != (uid_t) -1 && chown(path, uid, gid) < 0)
		return -1;
	return 0;
}

/* dirs_make - dir made when missing, parents 0755; 0 or -1 with errno */
int
dirs_make(const char *dir, mode_t mode, uid_t uid, gid_t gid)
{
	char *p = g_strdup(dir), *slash;
	int rc = 0;

	if (g_file_test(dir, G_FILE_TEST_IS_DIR))
		goto out;
	for (slash = strchr(p + 1, '/'); slash && rc == 0; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		if (*p && !g_file_test(p, G_FILE_TEST_IS_DIR))
			rc = make_one(p, 0755, (uid_t) -1, 0);
		*slash = '/';
	}
	if (rc == 0)
		rc = make_one(dir, mode, uid, gid);
out:
	g_free(p);
	return rc;
}

/* blocker - the first directory from the top down to dir that this
 * process cannot pass (or, dir itself, write to); NULL if none */
static char *
blocker(const char *dir)
{
	char *p = g_strdup(dir), *slash;

	for (slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		if (*p && access(p, X_OK) < 0)
			return p;
		*slash = '/';
	}
	if (access(dir, W_OK | X_OK) < 0)
		return p;
	g_free(p);
	return NULL;
}

/* try_write - make and remove a file in dir; 0, or -1 with errno */
static int
try_write(const char *dir)
{
	char *path = g_build_filename(dir, ".sinkd-check-XXXXXX", NULL);
	int fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0600), saved;

	if (fd >= 0) {
		close(fd);
		if (unlink(path) < 0)
			fd = -1;
	}
	saved = errno;
	g_free(path);
	errno = saved;
	return fd >= 0 ? 0 : -1;
}

/* check_all - the first dir of paths this process cannot write to, as
 * "INDEX ERRNO BLOCKER"; NULL when every one is fine */
static char *
check_all(GPtrArray *paths)
{
	char *b, *r;
	guint i;
	int e;

	for (i = 0; i < paths->len; i++) {
		const char *dir = g_ptr_array_index(paths, i);

		if (try_write(dir) == 0)
			continue;
		e = errno;
		b = blocker(dir);
		r = g_strdup_printf("%u %d %s", i, e, b ? b : "");
		g_free(b);
		return r;
	}
	return NULL;
}

/* check_as - check_all() as uid:gid, in a child; the answer through a
 * pipe */
static char *
check_as(GPtrArray *paths, uid_t uid, gid_t gid)
{
	char buf[4200];
	ssize_t n, got = 0;
	int fds[2], status;
	pid_t pid;

	if (pipe(fds) < 0)
		return g_strdup_printf("0 %d ", errno);
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return g_strdup_printf("0 %d ", errno);
	}
	if (pid == 0) {
		char *r;

		close(fds[0]);
		if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(2);
		r = check_all(paths);
		if (r && write(fds[1], r, strlen(r)) < 0)
			_exit(2);
		_exit(r ? 1 : 0);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf + got, sizeof(buf) - 1 - (size_t) got)) > 0)
		got += n;
	close(fds[0]);
	buf[got] = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return NULL;
	if (got == 0)
		return g_strdup_printf("0 %d ", EPERM);
	return g_strdup(buf);
}

/* owner - "MODE USER:GROUP" of path */
static char *
owner(const char *path)
{
	struct stat st;
	struct passwd *pw;
	struct group *gr;
	char u[32], g[32];

	if (stat(path, &st) < 0)
		return g_strdup(g_strerror(errno));
	pw = getpwuid(st.st_uid);
	gr = getgrgid(st.st_gid);
	snprintf(u, sizeof(u), "%u", (unsigned) st.st_uid);
	snprintf(g, sizeof(g), "%u", (unsigned) st.st_gid);
	return g_strdup_printf("%04o %s:%s", (unsigned) (st.st_mode & 07777),
			       pw ? pw->pw_name : u, gr ? gr->gr_name : g);
}

/* dirs_check - NULL when user can write to every path, else why not */
char *
dirs_check(GPtrArray *keys, GPtrArray *paths, const char *user, uid_t uid, gid_t gid)
{
	char *r, *b, *how, *msg;
	const char *key, *dir;
	unsigned i;
	int e, off = 0;

	r = geteuid() == 0 && uid != 0 ? check_as(paths, uid, gid) : check_all(paths);
	if (r == NULL)
		return NULL;
	if (sscanf(r, "%u %d %n", &i, &e, &off) < 2 || i >= paths->len)
		i = 0, e = EPERM, off = (int) strlen(r);
	key = g_ptr_array_index(keys, i);
	dir = g_ptr_array_index(paths, i);
	b = r + off;
	if (*b == 0) {
		msg = g_strdup_printf("%s %s: user %s cannot write here: %s", key, dir, user,
				      g_strerror(e));
	} else if (strcmp(b, dir) == 0) {
		how = owner(b);
		msg = g_strdup_printf("%s %s: user %s cannot write here (it is %s): "
				      "chown %s %s or choose another directory",
				      key, dir, user, how, user, dir);
		g_free(how);
	} else {
		how = owner(b);
		msg = g_strdup_printf("%s %s: user %s cannot write here (parent %s is %s): "
				      "chmod o+x %s or choose another directory",
				      key, dir, user, b, how, b);
		g_free(how);
	}
	g_free(r);
	return msg;
}

/* dirs_sync - fsync(2) of path, opened with flags (O_DIRECTORY for a
 * directory, O_NOFOLLOW for a file); 0 or -1 (errno) */
int
dirs_sync(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags), rc, saved;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}
