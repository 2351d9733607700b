/*
 * socket - the listening socket's spellings
 *
 * sinkd.conf's "socket" takes unix:/path (or local:/path), libmilter's
 * inet:port@host and inet6:port@host, and Postfix's inet:host:port and
 * inet:[v6addr]:port.  A spec is parsed once into struct sock_spec, from
 * which come the string libmilter wants, the line for Postfix's main.cf
 * and the one for a Sendmail .mc file.
 */
#ifndef SINKD_SOCKET_H
#define SINKD_SOCKET_H

struct sock_spec {
	int family;		/* AF_UNIX, AF_INET, AF_INET6 */
	char *path;		/* AF_UNIX */
	char *host;		/* inet: address or name; NULL: any */
	unsigned port;
};

int sock_check(const char *spec, const char **why);
int sock_parse(const char *spec, struct sock_spec *s, const char **why);
void sock_free(struct sock_spec *s);
char *sock_libmilter(const struct sock_spec *s);
char *sock_postfix(const struct sock_spec *s);
char *sock_sendmail(const struct sock_spec *s);

#endif
