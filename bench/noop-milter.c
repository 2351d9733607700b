/*
 * noop-milter - a libmilter filter that does nothing, as cheaply as it can
 *
 * usage: noop-milter [-e] socket
 *
 * The protocol floor for benchmarks: it asks the MTA to skip every step it
 * may (SMFIP_NOCONNECT, NOHELO, NOMAIL, NORCPT, NOHDRS, NOEOH, NOBODY,
 * NOUNKNOWN, NODATA) and to expect no reply where one could still come
 * (SMFIP_NR_*), asks for no action, and accepts every message at end of
 * message, the one step the protocol always sends.  With -e it takes the
 * envelope as well, MAIL and RCPT with no reply: the floor for a filter
 * that must know who sends to whom (a policy per domain, a log line) but
 * decides nothing before end of message.  socket is a libmilter
 * spec: unix:/path, inet:port@host or inet6:port@host; a stale unix socket
 * is removed first, and the socket file again at exit.
 *
 * Threading: libmilter's own; the callbacks keep no state at all.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <libmilter/mfapi.h>

/* Every step a filter can decline, and every reply it can leave out. */
#define NOOP_PROTOCOL	(SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL \
			| SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOHDRS \
			| SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA \
			| SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL \
			| SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN \
			| SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY)

static int envelope;	/* -e */

/* noop_negotiate - no actions; of the steps offered, skip all it can */
static sfsistat
noop_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
	       unsigned long f2, unsigned long f3, unsigned long *pf0,
	       unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	(void) ctx;
	(void) f0;
	(void) f2;
	(void) f3;
	*pf0 = 0;
	*pf1 = f1 & NOOP_PROTOCOL & ~(envelope ? SMFIP_NOMAIL | SMFIP_NORCPT : 0);
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

/* noop_envfrom, noop_envrcpt - seen, not answered (-e) */
static sfsistat
noop_envfrom(SMFICTX *ctx, char **argv)
{
	(void) ctx;
	(void) argv;
	return SMFIS_NOREPLY;
}

static sfsistat
noop_envrcpt(SMFICTX *ctx, char **argv)
{
	(void) ctx;
	(void) argv;
	return SMFIS_NOREPLY;
}

/* noop_eom - accept the message */
static sfsistat
noop_eom(SMFICTX *ctx)
{
	(void) ctx;
	return SMFIS_ACCEPT;
}

static struct smfiDesc noop_desc = {
	.xxfi_name = "noop",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_envfrom = noop_envfrom,
	.xxfi_envrcpt = noop_envrcpt,
	.xxfi_eom = noop_eom,
	.xxfi_negotiate = noop_negotiate,
};

/* main - open the socket, serve until SIGTERM or SIGINT */
int
main(int argc, char **argv)
{
	const char *path = NULL;
	int rc;

	if (argc == 3 && strcmp(argv[1], "-e") == 0) {
		envelope = 1;
		argv++;
		argc--;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: noop-milter [-e] socket\n");
		return 64;
	}
	if (strncmp(argv[1], "unix:", 5) == 0 || strncmp(argv[1], "local:", 6) == 0)
		path = strchr(argv[1], ':') + 1;
	else if (argv[1][0] == '/')
		path = argv[1];
	if (smfi_setconn(argv[1]) != MI_SUCCESS ||
	    smfi_register(noop_desc) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "noop-milter: cannot listen on %s\n", argv[1]);
		return 1;
	}
	rc = smfi_main();
	if (path)
		unlink(path);
	return rc == MI_SUCCESS ? 0 : 1;
}
