/*
 * control - the daemon's control socket (see control.h)
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "conf.h"
#include "control.h"
#include "log.h"
#include "policy.h"
#include "status.h"

#define CONTROL_WAIT_MS 5000	/* for the request, and for each write */
#define CONTROL_REQUEST 64	/* longest request line */

static int listen_fd = -1;
static int stop_pipe[2] = {-1, -1};
static char *sock_path;
static dev_t sock_dev;
static ino_t sock_ino;
static GThread *server;

/* control_path - the control socket's path (g_free() it), or NULL for
 * none: control-socket, "none", or empty for control.sock in the pid
 * file's directory (none without a pid file) */
char *
control_path(const struct snapshot *s)
{
	const char *key = conf_str(&s->main, "control-socket");
	const char *pid = conf_str(&s->main, "pid-file");
	char *dir, *path;

	if (!strcmp(key, "none"))
		return NULL;
	if (*key)
		return g_strdup(key);
	if (*pid == 0)
		return NULL;
	dir = g_path_get_dirname(pid);
	path = g_build_filename(dir, "control.sock", NULL);
	g_free(dir);
	return path;
}

/* sun_set - path into *sa; -1 when too long */
static int
sun_set(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

/* answering - a socket at path that accepts a connection */
static int
answering(const char *path)
{
	struct sockaddr_un sa;
	int fd, rc;

	if (sun_set(&sa, path) < 0 || (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
	close(fd);
	return rc;
}

/* control_open - bind and listen at path, root:gid 0660, while still
 * root; 0, or -1 with *why (g_free() it) */
int
control_open(const char *path, gid_t gid, char **why)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd;

	if (sun_set(&sa, path) < 0) {
		*why = g_strdup_printf("control-socket %s: path too long", path);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*why = g_strdup_printf("control-socket %s: exists and is not a socket", path);
			return -1;
		}
		if (answering(path)) {
			*why = g_strdup_printf("control-socket %s: another sinkd answers there", path);
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	/* no moment at which others could connect */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (chown(path, 0, gid) < 0 || chmod(path, 0660) < 0 || listen(fd, 16) < 0
	    || stat(path, &st) < 0 || pipe2(stop_pipe, O_CLOEXEC) < 0) {
		unlink(path);
		goto fail;
	}
	listen_fd = fd;
	sock_path = g_strdup(path);
	sock_dev = st.st_dev;
	sock_ino = st.st_ino;
	return 0;
fail:
	*why = g_strdup_printf("control-socket %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* wait_fd - poll one descriptor; >0 ready, 0 timed out, -1 error */
static int
wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {fd, events, 0};
	int rc;

	while ((rc = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return rc;
}

/* write_all - len bytes to fd, each wait bounded; 0 or -1 */
static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if (wait_fd(fd, POLLOUT, CONTROL_WAIT_MS) <= 0)
			return -1;
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* serve_one - read one request line and answer it */
static void
serve_one(int fd)
{
	char req[CONTROL_REQUEST + 1];
	size_t used = 0;
	GString *out = g_string_new(NULL);
	ssize_t n;

	while (used < CONTROL_REQUEST && memchr(req, '\n', used) == NULL) {
		if (wait_fd(fd, POLLIN, CONTROL_WAIT_MS) <= 0)
			break;
		if ((n = recv(fd, req + used, CONTROL_REQUEST - used, 0)) <= 0)
			break;
		used += n;
	}
	req[used] = 0;
	req[strcspn(req, "\r\n")] = 0;
	if (!strcmp(req, "status"))
		status_render(out);
	else
		g_string_append_printf(out, "error: %s\n",
				       used == 0 ? "no request" : "unknown request (known: status)");
	write_all(fd, out->str, out->len);
	g_string_free(out, TRUE);
}

/* serve - the control thread: accept, answer, close, until stopped */
static gpointer
serve(gpointer unused)
{
	struct pollfd p[2];
	int fd;

	(void) unused;
	for (;;) {
		p[0] = (struct pollfd) {listen_fd, POLLIN, 0};
		p[1] = (struct pollfd) {stop_pipe[0], POLLIN, 0};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("control-socket: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		if ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		serve_one(fd);
		close(fd);
	}
	return NULL;
}

/* control_start - serve on a thread of its own (nothing without a
 * socket) */
int
control_start(void)
{
	if (listen_fd < 0)
		return 0;
	server = g_thread_new("control", serve, NULL);
	return 0;
}

/* control_close - stop serving; remove the socket while it is ours */
void
control_close(void)
{
	struct stat st;
	int i;

	if (server) {
		if (write(stop_pipe[1], "", 1) < 0)
			log_warn("control-socket: cannot stop its thread: %s", strerror(errno));
		g_thread_join(server);
		server = NULL;
	}
	if (listen_fd >= 0) {
		close(listen_fd);
		listen_fd = -1;
	}
	/* only the socket this process made: a later sinkd may own the path */
	if (sock_path && stat(sock_path, &st) == 0 && st.st_dev == sock_dev && st.st_ino == sock_ino)
		unlink(sock_path);
	g_free(sock_path);
	sock_path = NULL;
	for (i = 0; i < 2; i++)
		if (stop_pipe[i] >= 0) {
			close(stop_pipe[i]);
			stop_pipe[i] = -1;
		}
	status_reset();
}

/* control_query - the client: one request, the answer copied to out */
int
control_query(const char *path, const char *request, FILE *out, char **why)
{
	struct sockaddr_un sa;
	char buf[4096];
	char *line;
	ssize_t n;
	int fd;

	if (sun_set(&sa, path) < 0 || (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		*why = g_strdup_printf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		int e = errno;

		*why = g_strdup_printf("cannot reach sinkd at %s: %s%s", path, strerror(e),
				       e == ENOENT || e == ECONNREFUSED ? " (is sinkd running?)"
				       : e == EACCES ? " (root and the members of sinkd's group may ask)" : "");
		close(fd);
		return -1;
	}
	line = g_strconcat(request, "\n", NULL);
	if (write_all(fd, line, strlen(line)) < 0) {
		*why = g_strdup_printf("%s: cannot send the request: %s", path, strerror(errno));
		g_free(line);
		close(fd);
		return -1;
	}
	g_free(line);
	while (wait_fd(fd, POLLIN, 30000) > 0 && (n = recv(fd, buf, sizeof(buf), 0)) > 0)
		fwrite(buf, 1, (size_t) n, out);
	close(fd);
	return 0;
}
