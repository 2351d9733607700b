/*
 * socket - the listening socket's spellings
 *
 * sinkd.conf's "socket" takes unix:/path (or local:/path), libmilter's
 * inet:port@host and inet6:port@host, and Postfix's inet:host:port and
 * inet:[v6addr]:port.  A spec is parsed once into struct sock_spec, from
 * which come the string libmilter wants, the line for Postfix's main.cf
 * and the one for a Sendmail .mc file.
 *
 * Postfix's processes look a unix: path up inside their chroot, the
 * queue directory, when master.cf runs them chrooted: sock_postfix_ask()
 * asks postconf(1) (which honours MAIL_CONFIG) for the queue directory
 * and which of the services that run milters (smtpd, cleanup) are
 * chrooted, and sock_postfix_lines() spells main.cf's lines for what it
 * found, or for both cases, each introduced by when it applies, when
 * postconf gave no answer.
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
int sock_parse_listen(const char *spec, struct sock_spec *s, const char **why);
void sock_free(struct sock_spec *s);
char *sock_libmilter(const struct sock_spec *s);
char *sock_postfix(const struct sock_spec *s);
char *sock_sendmail(const struct sock_spec *s);

struct sock_postfix_env {
	char *queue_dir;	/* postconf -h queue_directory; NULL: unknown */
	char *chrooted;		/* "smtp/inet, cleanup/unix": master.cf
				 * services running smtpd or cleanup
				 * chrooted; "" none */
};

int sock_postfix_ask(struct sock_postfix_env *pe);
void sock_postfix_env_free(struct sock_postfix_env *pe);
char **sock_postfix_lines(const struct sock_spec *s, const struct sock_postfix_env *pe);

#endif
