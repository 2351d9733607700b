/*
 * privs - user and group switch
 */
#include <sys/types.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privs.h"

/* privs_lookup - uid and gid of the configured user and group; a user
 * or group that does not exist is fatal: sinkd cannot run without it */
int
privs_lookup(const char *user, const char *group, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(user);
	struct group *gr;

	if (pw == NULL) {
		log_fatal("user: no such user \"%s\"", user);
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (group && *group) {
		if ((gr = getgrnam(group)) == NULL) {
			log_fatal("group: no such group \"%s\"", group);
		}
		*gid = gr->gr_gid;
	}
	return 0;
}

/* privs_drop - become uid/gid for good */
void
privs_drop(uid_t uid, gid_t gid, int allow_root)
{
	if (uid == 0 && !allow_root)
		log_fatal("refusing to run as root: set user to an unprivileged account (or allow-root = yes)");
	if (geteuid() != 0) {
		if (geteuid() != uid)
			log_warn("not started as root: running as uid %u, not as the configured user (uid %u)",
				 (unsigned) geteuid(), (unsigned) uid);
		return;
	}
	if (uid == 0)
		return;
	if (setgroups(1, &gid) < 0)
		log_fatal("setgroups(%u): %s", (unsigned) gid, strerror(errno));
	if (setgid(gid) < 0)
		log_fatal("setgid(%u): %s", (unsigned) gid, strerror(errno));
	if (setuid(uid) < 0)
		log_fatal("setuid(%u): %s", (unsigned) uid, strerror(errno));
	if (setuid(0) == 0)
		log_panic("privs_drop: could regain root after setuid(%u)", (unsigned) uid);
}
