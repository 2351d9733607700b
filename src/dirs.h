/*
 * dirs - the directories the daemon writes to: made with owners its user
 *	can use, and checked as that user
 *
 * dirs_make() makes a missing directory: the missing directories above
 * it mode 0755 and the process's own (root's at start: others pass
 * through), the directory itself with the given mode and, when run as
 * root, owned by uid:gid.  The modes are set with chmod(2), whatever the
 * umask (systemd's UMask=0077 would make 0700 parents the user cannot
 * pass).  An existing directory is left as it is: it is the
 * administrator's.
 *
 * dirs_check() tells whether user uid:gid can create and remove a file
 * in each directory of a list: as root in a child process that drops to
 * that user and tries (so that ACLs, read-only mounts and every parent's
 * mode count), otherwise in this process.  The answer is NULL, or a
 * message naming the key, the path, what stops the user (the first
 * directory that user cannot pass, with its mode and owner) and a fix;
 * the caller frees it.
 *
 * dirs_sync() makes what was done to a path last: fsync(2) of the path
 * opened with the given flags (O_DIRECTORY for a directory, whose new
 * and renamed names then last; O_NOFOLLOW for a file).
 */
#ifndef SINKD_DIRS_H
#define SINKD_DIRS_H

#include <sys/types.h>
#include <glib.h>

int dirs_make(const char *dir, mode_t mode, uid_t uid, gid_t gid);
char *dirs_check(GPtrArray *keys, GPtrArray *paths, const char *user,
		 uid_t uid, gid_t gid);
int dirs_sync(const char *path, int flags);

#endif
