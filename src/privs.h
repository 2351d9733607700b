/*
 * privs - the one place where sinkd gives up root
 *
 * privs_lookup() resolves user and group while the files are readable
 * (one that does not exist is fatal);
 * privs_drop() then calls setgroups, setgid and setuid, each fatal on
 * failure, and checks that root cannot be regained.  Running as root is
 * refused unless allow-root says otherwise.
 */
#ifndef SINKD_PRIVS_H
#define SINKD_PRIVS_H

#include <sys/types.h>

int privs_lookup(const char *user, const char *group, uid_t *uid, gid_t *gid);
void privs_drop(uid_t uid, gid_t gid, int allow_root);

#endif
