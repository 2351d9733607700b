/*
 * control - the daemon's control socket, and sinkd -S, its client
 *
 * A unix stream socket (control-socket in sinkd.conf(5)) made by the
 * daemon while still root, owned by root and sinkd's group, mode 0660:
 * root and the members of that group may ask, nobody else.  One request
 * per connection: a line ("status"), answered with text (status.h) and
 * the connection closed.  A request that does not come within a few
 * seconds, or is not known, is answered "error: ..." .
 *
 * control_open() binds the socket: a socket file there that still
 * answers is another sinkd's (fatal); one that does not is stale and
 * replaced.  control_start() serves on a thread of its own;
 * control_close() stops it and removes the socket file while it is
 * still the one this process made.
 *
 * control_query() is the client: it sends one request and writes the
 * answer to out; 0, or -1 with *why (g_free() it).
 *
 * Threading: open, start and close are called by the main thread.
 */
#ifndef SINKD_CONTROL_H
#define SINKD_CONTROL_H

#include <sys/types.h>
#include <stdio.h>

struct snapshot;

char *control_path(const struct snapshot *s);
int control_open(const char *path, gid_t gid, char **why);
int control_start(void);
void control_close(void);
int control_query(const char *path, const char *request, FILE *out, char **why);

#endif
