/*
 * socket - parse and respell listening socket specs
 */
#include <sys/socket.h>
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
