/*
 * metrics - GET /metrics and GET /healthz on metrics-listen
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <microhttpd.h>

#include "handler.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "policy.h"
#include "socket.h"
#include "stats.h"

static int listen_fd = -1;
static struct MHD_Daemon *daemon_;
static char *unix_path;		/* to remove at exit */
static gint stopping;		/* metrics_stopping() was called */

/* bind_unix - a listening unix socket at path, mode 0660, uid:gid's */
static int
bind_unix(const char *path, unsigned uid, unsigned gid)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* a stale socket of an earlier run; never another kind of file */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0
	    || chmod(path, 0660) < 0 || chown(path, uid, gid) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* bind_inet - a listening socket on host (NULL: any) and port */
static int
bind_inet(const struct sock_spec *s, const char **why)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res, *ai;
	char port[16];
	int fd = -1, one = 1, rc;

	hints.ai_family = s->host ? AF_UNSPEC : AF_INET;
	snprintf(port, sizeof(port), "%u", s->port);
	if ((rc = getaddrinfo(s->host, port, &hints, &res)) != 0) {
		*why = gai_strerror(rc);
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		*why = strerror(errno);
	return fd;
}

/* metrics_open - bind and listen on metrics-listen, if set; fatal when
 * that fails */
void
metrics_open(const struct snapshot *s, unsigned uid, unsigned gid)
{
	const char *spec = conf_str(&s->main, "metrics-listen");
	const char *why = NULL;
	struct sock_spec ss;

	if (*spec == 0)
		return;
	if (sock_parse_listen(spec, &ss, &why) < 0)
		log_fatal("metrics-listen %s: %s", spec, why);
	if (ss.family == AF_UNIX) {
		if ((listen_fd = bind_unix(ss.path, uid, gid)) >= 0)
			unix_path = g_strdup(ss.path);
		else
			why = strerror(errno);
	} else {
		listen_fd = bind_inet(&ss, &why);
	}
	sock_free(&ss);
	if (listen_fd < 0 || listen(listen_fd, 16) < 0)
		log_fatal("metrics-listen %s: cannot listen: %s", spec,
			  listen_fd < 0 ? why : strerror(errno));
}

/* dir_unusable - why sinkd cannot write to the directories it needs
 * now, or NULL */
static char *
dir_unusable(const struct snapshot *s)
{
	GPtrArray *keys = g_ptr_array_new(), *paths = g_ptr_array_new();
	char *why = NULL;
	guint i;

	g_ptr_array_add(keys, (gpointer) "spool-dir");
	g_ptr_array_add(paths, (gpointer) conf_str(&s->main, "spool-dir"));
	handler_dirs(s, keys, paths);
	for (i = 0; i < paths->len && why == NULL; i++)
		if (access(g_ptr_array_index(paths, i), W_OK | X_OK) < 0)
			why = g_strdup_printf("%s %s: %s", (char *) g_ptr_array_index(keys, i),
					      (char *) g_ptr_array_index(paths, i), strerror(errno));
	g_ptr_array_free(keys, TRUE);
	g_ptr_array_free(paths, TRUE);
	return why;
}

char *
metrics_health(void)
{
	struct snapshot *s;
	char *why;

	if (g_atomic_int_get(&stopping))
		return g_strdup("shutting down");
	if (milter_failed())
		return g_strdup("libmilter stopped serving");
	if (stats_gauge_get(STATS_ENGINE_WANTED) && !stats_gauge_get(STATS_ENGINE_LOADED))
		return g_strdup("clamav: the signature engine is not loaded");
	if (stats_gauge_get(STATS_CLAMD_DOWN) > 0 && stats_gauge_get(STATS_CLAMD_UP) == 0)
		return g_strdup("clamav: no clamd server is answering");
	s = snapshot_current();
	why = s ? dir_unusable(s) : g_strdup("no configuration");
	snapshot_unref(s);
	return why;
}

/* reply - a response from a string of ours (copied) */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *type, GString *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(body->len, body->str,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* serve - one request: GET (or HEAD) /metrics or /healthz */
static enum MHD_Result
serve(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
      const char *version, const char *upload, size_t *upload_size, void **state)
{
	GString *body = g_string_new(NULL);
	enum MHD_Result rc;
	unsigned status = MHD_HTTP_OK;
	const char *type = "text/plain; charset=utf-8";
	char *why;

	(void) cls; (void) version; (void) upload; (void) state;
	if (*upload_size) {		/* a body nobody asked for */
		*upload_size = 0;
		g_string_free(body, TRUE);
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		g_string_append(body, "only GET\n");
	} else if (!strcmp(url, "/metrics")) {
		type = "text/plain; version=0.0.4; charset=utf-8";
		stats_render_prometheus(body);
	} else if (!strcmp(url, "/healthz")) {
		if ((why = metrics_health()) != NULL) {
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
			g_string_append_printf(body, "%s\n", why);
			g_free(why);
		} else {
			g_string_append(body, "ok\n");
		}
	} else {
		status = MHD_HTTP_NOT_FOUND;
		g_string_append(body, "/metrics or /healthz\n");
	}
	rc = reply(conn, status, type, body);
	g_string_free(body, TRUE);
	return rc;
}

/* metrics_start - serve the socket metrics_open() opened, in
 * libmicrohttpd's thread */
void
metrics_start(void)
{
	if (listen_fd < 0)
		return;
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL,
				   0, NULL, NULL, serve, NULL,
				   MHD_OPTION_LISTEN_SOCKET, listen_fd,
				   MHD_OPTION_CONNECTION_LIMIT, (unsigned) 32,
				   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 10,
				   MHD_OPTION_END);
	if (daemon_ == NULL)
		log_fatal("metrics-listen: cannot start the HTTP server");
}

/* metrics_stopping - /healthz says 503 from now on */
void
metrics_stopping(void)
{
	g_atomic_int_set(&stopping, 1);
}

/* metrics_stop - stop serving, close the socket, remove a unix one */
void
metrics_stop(void)
{
	if (daemon_) {
		MHD_stop_daemon(daemon_);
		daemon_ = NULL;
	}
	if (listen_fd >= 0) {
		close(listen_fd);
		listen_fd = -1;
	}
	if (unix_path) {
		unlink(unix_path);
		g_free(unix_path);
		unix_path = NULL;
	}
}
