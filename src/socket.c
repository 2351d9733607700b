/*
 * socket - parse and respell listening socket specs
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "socket.h"

static int
parse_port(const char *s, unsigned *port)
{
	char *end;
	long p = strtol(s, &end, 10);

	if (*s == 0 || *end || p < 1 || p > 65535)
		return -1;
	*port = (unsigned) p;
	return 0;
}

/* sock_parse - any accepted spelling into s; -1 and *why on error */
int
sock_parse(const char *spec, struct sock_spec *s, const char **why)
{
	const char *rest, *at, *colon;
	unsigned char buf[16];

	memset(s, 0, sizeof(*s));
	if (!strncmp(spec, "unix:", 5) || !strncmp(spec, "local:", 6)) {
		rest = strchr(spec, ':') + 1;
		if (*rest != '/') {
			*why = "a unix socket needs an absolute path, as in unix:/run/sinkd/sinkd.sock";
			return -1;
		}
		s->family = AF_UNIX;
		s->path = g_strdup(rest);
		return 0;
	}
	if (!strncmp(spec, "inet:", 5))
		s->family = AF_INET;
	else if (!strncmp(spec, "inet6:", 6))
		s->family = AF_INET6;
	else {
		*why = "must start with unix:, inet: or inet6:";
		return -1;
	}
	rest = strchr(spec, ':') + 1;
	if ((at = strchr(rest, '@')) != NULL) {
		/* libmilter: port@host */
		char *p = g_strndup(rest, at - rest);
		int bad = parse_port(p, &s->port);

		g_free(p);
		if (bad)
			goto badport;
		s->host = g_strdup(at + 1);
	} else if (*rest == '[') {
		/* Postfix: [v6addr]:port */
		const char *close = strchr(rest, ']');

		if (close == NULL || close[1] != ':')
			goto badform;
		s->host = g_strndup(rest + 1, close - rest - 1);
		if (parse_port(close + 2, &s->port) < 0)
			goto badport;
		s->family = AF_INET6;
	} else if ((colon = strrchr(rest, ':')) != NULL) {
		/* Postfix: host:port */
		s->host = g_strndup(rest, colon - rest);
		if (parse_port(colon + 1, &s->port) < 0)
			goto badport;
	} else {
		/* libmilter: port alone, any address */
		if (parse_port(rest, &s->port) < 0)
			goto badport;
	}
	if (s->host && *s->host == 0) {
		g_free(s->host);
		s->host = NULL;
	}
	if (s->host && inet_pton(AF_INET6, s->host, buf) == 1)
		s->family = AF_INET6;
	return 0;
badport:
	*why = "bad port number (1 to 65535)";
	sock_free(s);
	return -1;
badform:
	*why = "write inet:port@host, inet:host:port or inet:[address]:port";
	sock_free(s);
	return -1;
}

int
sock_check(const char *spec, const char **why)
{
	struct sock_spec s;

	if (sock_parse(spec, &s, why) < 0)
		return -1;
	sock_free(&s);
	return 0;
}

/* sock_parse_listen - a listening address as metrics-listen spells it:
 * sock_parse()'s, or host:port and [v6addr]:port without a prefix, which
 * are inet: and need a port */
int
sock_parse_listen(const char *spec, struct sock_spec *s, const char **why)
{
	char *full;
	int rc;

	if (!strncmp(spec, "unix:", 5) || !strncmp(spec, "local:", 6)
	    || !strncmp(spec, "inet:", 5) || !strncmp(spec, "inet6:", 6))
		return sock_parse(spec, s, why);
	full = g_strconcat("inet:", spec, NULL);
	rc = sock_parse(full, s, why);
	g_free(full);
	if (rc == 0 && s->port == 0) {
		sock_free(s);
		*why = "needs a port, as in 127.0.0.1:9193";
		return -1;
	}
	return rc;
}

void
sock_free(struct sock_spec *s)
{
	g_free(s->path);
	g_free(s->host);
	memset(s, 0, sizeof(*s));
}

/* sock_libmilter - the spelling smfi_setconn() wants */
char *
sock_libmilter(const struct sock_spec *s)
{
	if (s->family == AF_UNIX)
		return g_strdup_printf("unix:%s", s->path);
	return g_strdup_printf("%s:%u%s%s", s->family == AF_INET6 ? "inet6" : "inet",
			       s->port, s->host ? "@" : "", s->host ? s->host : "");
}

/* connect_host - where a client on this machine reaches a wildcard socket */
static const char *
connect_host(const struct sock_spec *s)
{
	if (s->host)
		return s->host;
	return s->family == AF_INET6 ? "::1" : "127.0.0.1";
}

/* sock_postfix - the value for smtpd_milters */
char *
sock_postfix(const struct sock_spec *s)
{
	if (s->family == AF_UNIX)
		return g_strdup_printf("unix:%s", s->path);
	if (s->family == AF_INET6)
		return g_strdup_printf("inet:[%s]:%u", connect_host(s), s->port);
	return g_strdup_printf("inet:%s:%u", connect_host(s), s->port);
}

/* sock_sendmail - the S= equate of INPUT_MAIL_FILTER */
char *
sock_sendmail(const struct sock_spec *s)
{
	if (s->family == AF_UNIX)
		return g_strdup_printf("unix:%s", s->path);
	return g_strdup_printf("%s:%u@%s", s->family == AF_INET6 ? "inet6" : "inet",
			       s->port, connect_host(s));
}

/* postconf_run - the standard output of postconf(1) with args, or NULL
 * when it is not installed or fails (no main.cf, say); g_free() */
static char *
postconf_run(const char *const *args)
{
	char *path = g_find_program_in_path("postconf"), *out = NULL;
	GPtrArray *argv = g_ptr_array_new();
	int status = -1;

	if (path == NULL && g_file_test("/usr/sbin/postconf", G_FILE_TEST_IS_EXECUTABLE))
		path = g_strdup("/usr/sbin/postconf");
	if (path == NULL) {
		g_ptr_array_free(argv, TRUE);
		return NULL;
	}
	g_ptr_array_add(argv, path);
	for (; *args; args++)
		g_ptr_array_add(argv, (char *) *args);
	g_ptr_array_add(argv, NULL);
	if (!g_spawn_sync(NULL, (char **) argv->pdata, NULL,
			  G_SPAWN_STDERR_TO_DEV_NULL,
			  NULL, NULL, &out, NULL, &status, NULL)
	    || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		g_free(out);
		out = NULL;
	}
	g_free(path);
	g_ptr_array_free(argv, TRUE);
	return out;
}

/* master_chrooted - append "name/type" to out when the line of postconf
 * -M describes a smtpd or cleanup service with y in its chroot column */
static void
master_chrooted(const char *line, GString *out)
{
	const char *col[8];
	char **f;
	unsigned n = 0, i;

	if (*line == 0 || g_ascii_isspace(*line) || *line == '#')
		return;
	f = g_strsplit_set(line, " \t", -1);
	for (i = 0; f[i] && n < G_N_ELEMENTS(col); i++)
		if (*f[i])
			col[n++] = f[i];
	if (n == G_N_ELEMENTS(col) && !strcmp(col[4], "y")
	    && (!strcmp(col[7], "smtpd") || !strcmp(col[7], "cleanup")))
		g_string_append_printf(out, "%s%s/%s", out->len ? ", " : "", col[0], col[1]);
	g_strfreev(f);
}

/*
 * sock_postfix_ask - fill pe from postconf(1): queue_directory, and the
 * master.cf services whose command is smtpd or cleanup (the processes
 * that talk to milters) with y in the chroot column ("-" is n, Postfix
 * 3.0's default).  -1 when postconf is missing or fails; pe is then
 * unknown (queue_dir NULL).  Free it with sock_postfix_env_free().
 */
int
sock_postfix_ask(struct sock_postfix_env *pe)
{
	static const char *const qd[] = {"-h", "queue_directory", NULL};
	static const char *const ms[] = {"-M", NULL};
	char *q, *m, **lines, **l;
	GString *chrooted;

	memset(pe, 0, sizeof(*pe));
	if ((q = postconf_run(qd)) == NULL)
		return -1;
	g_strstrip(q);
	if (*q != '/' || (m = postconf_run(ms)) == NULL) {
		g_free(q);
		return -1;
	}
	chrooted = g_string_new(NULL);
	lines = g_strsplit(m, "\n", -1);
	for (l = lines; *l; l++)
		master_chrooted(*l, chrooted);
	g_strfreev(lines);
	g_free(m);
	pe->queue_dir = q;
	pe->chrooted = g_string_free(chrooted, FALSE);
	return 0;
}

void
sock_postfix_env_free(struct sock_postfix_env *pe)
{
	g_free(pe->queue_dir);
	g_free(pe->chrooted);
	memset(pe, 0, sizeof(*pe));
}

/* under_dir - path relative to dir when path lies below it, else NULL */
static const char *
under_dir(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (strncmp(path, dir, n) || path[n] != '/')
		return NULL;
	while (path[n] == '/')
		n++;
	return path[n] ? path + n : NULL;
}

/* add_milters - the two main.cf lines naming value */
static void
add_milters(GPtrArray *out, const char *value)
{
	g_ptr_array_add(out, g_strdup_printf("Postfix main.cf: smtpd_milters = %s", value));
	g_ptr_array_add(out, g_strdup_printf("Postfix main.cf: non_smtpd_milters = %s", value));
}

/*
 * sock_postfix_lines - the lines for Postfix's main.cf, for the socket s
 * and what sock_postfix_ask() found (pe; queue_dir NULL: unknown), as a
 * NULL-terminated vector (g_strfreev()).  Lines that set a parameter read
 * "Postfix main.cf: name = value"; the others explain, and those that
 * start with "warning: " tell of a socket Postfix cannot reach.
 *
 * A unix: path under the queue directory is named relative to it
 * ("unix:sinkd/sinkd.sock"): every Postfix process works in the queue
 * directory, which is the root of the chrooted ones, so chrooted and
 * unchrooted processes find it alike.  A path elsewhere is out of sight
 * of a chrooted smtpd or cleanup.
 */
char **
sock_postfix_lines(const struct sock_spec *s, const struct sock_postfix_env *pe)
{
	GPtrArray *out = g_ptr_array_new();
	char *abs = sock_postfix(s), *base, *v;
	const char *rel;

	if (s->family != AF_UNIX) {
		add_milters(out, abs);
		goto tail;
	}
	base = g_path_get_basename(s->path);
	if (pe->queue_dir == NULL) {
		/* postconf gave no answer: both cases, with Debian's queue
		 * directory for the chrooted one */
		const char *q = "/var/spool/postfix";

		if ((rel = under_dir(s->path, q)) != NULL) {
			g_ptr_array_add(out, g_strdup_printf("Postfix: no answer from postconf; "
				"with queue_directory = %s, chrooted or not:", q));
			v = g_strdup_printf("unix:%s", rel);
			add_milters(out, v);
			g_free(v);
		} else {
			g_ptr_array_add(out, g_strdup("Postfix: no answer from postconf; where "
				"smtpd and cleanup run unchrooted (chroot column n in master.cf):"));
			add_milters(out, abs);
			g_ptr_array_add(out, g_strdup_printf("Postfix: where they run chrooted in "
				"the queue directory (Debian's master.cf), %s is out of their "
				"sight: set socket = unix:%s/sinkd/%s in sinkd.conf, then:",
				s->path, q, base));
			v = g_strdup_printf("unix:sinkd/%s", base);
			add_milters(out, v);
			g_free(v);
		}
	} else if ((rel = under_dir(s->path, pe->queue_dir)) != NULL) {
		g_ptr_array_add(out, g_strdup_printf("Postfix: the socket is in queue_directory "
			"%s: named relative to it, for chrooted (%s) and unchrooted "
			"processes alike", pe->queue_dir, *pe->chrooted ? pe->chrooted : "none"));
		v = g_strdup_printf("unix:%s", rel);
		add_milters(out, v);
		g_free(v);
	} else if (*pe->chrooted) {
		g_ptr_array_add(out, g_strdup_printf("warning: Postfix's %s run chrooted in %s "
			"and cannot reach %s: set socket = unix:%s/sinkd/%s in sinkd.conf "
			"(then smtpd_milters = unix:sinkd/%s), or their chroot column in "
			"master.cf to n (then the lines below)",
			pe->chrooted, pe->queue_dir, s->path, pe->queue_dir, base, base));
		add_milters(out, abs);
	} else {
		add_milters(out, abs);
	}
	g_free(base);
tail:
	g_ptr_array_add(out, g_strdup("Postfix main.cf: milter_default_action = tempfail"));
	g_ptr_array_add(out, g_strdup("Postfix main.cf: milter_protocol = 6"));
	g_ptr_array_add(out, NULL);
	g_free(abs);
	return (char **) g_ptr_array_free(out, FALSE);
}
