/*
 * main - sinkd's command line and daemon life; the composition root
 *
 * main() only wires modules together: it parses options, loads the
 * configuration with the handler registry, and then either checks it
 * (-n), prints the keys (-d), runs one message offline (-t), or runs the
 * daemon: open the socket as root, drop privileges, serve in libmilter's
 * threads, and wait for signals here (SIGHUP: reload; SIGTERM, SIGINT:
 * stop).  The main thread alone takes them: it blocks them before any
 * thread exists (GLib's, libclamav's, libmilter's, the engine loader), so
 * that every thread inherits the mask, and reads them from a signalfd,
 * so that they stay blocked in every thread at every moment and wait
 * there, queued, while the main thread is busy (stopping, say).
 * libmilter's own signal thread, which would take SIGHUP as "stop
 * serving", waits in sigwait() below, for ever.
 */
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "../milters/registry.h"
#include "handler.h"
#include "log.h"
#include "milter.h"
#include "offline.h"
#include "policy.h"
#include "privs.h"

#ifndef SINKD_VERSION
#define SINKD_VERSION "0.1"
#endif
#ifndef SINKD_SYSCONFDIR
#define SINKD_SYSCONFDIR "/usr/local/etc"
#endif

static GMutex reload_lock;
static GCond reload_cond;
static int reload_wanted;
static char *conf_path;

/*
 * sigwait - libmilter's signal thread, the one caller of sigwait(3) in
 * the process (sinkd's own main thread reads a signalfd), comes here:
 * this definition in the executable takes the place of the C library's.
 * That thread would take SIGHUP or SIGTERM whenever the main thread is
 * not waiting for one (while it stops, say) and make libmilter stop
 * serving, the messages in flight with it; here it waits for ever, with
 * the signals blocked, and takes none.
 */
int
sigwait(const sigset_t *set, int *sig)
{
	(void) set;
	(void) sig;
	for (;;)
		pause();
}

/* signals_block - the signals the daemon takes (SIGHUP, SIGTERM, SIGINT)
 * blocked, before any thread exists, so that every thread inherits the
 * mask and only the main thread's signalfd takes them; SIGPIPE
 * ignored: a peer gone is an error of the write, not the end of sinkd */
static void
signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0)
		log_fatal("cannot block signals");
	signal(SIGPIPE, SIG_IGN);
}

/* load - a snapshot, or NULL with every error logged */
static struct snapshot *
load(const char *path, int to_stderr)
{
	struct conf_errors e;
	struct snapshot *s;
	guint i;

	conf_errors_init(&e);
	s = snapshot_load(path, sinkd_handlers, &e);
	for (i = 0; i < e.msgs->len; i++) {
		if (to_stderr)
			fprintf(stderr, "%s\n", (char *) g_ptr_array_index(e.msgs, i));
		else
			log_error("%s", (char *) g_ptr_array_index(e.msgs, i));
	}
	conf_errors_free(&e);
	return s;
}

/* dump_keys - every key with its default and description (sinkd -d); a
 * handler key says "not per domain", or how inbound mail for several
 * domains combines it ("merge RULE", sinkd-policy(5)) */
static void
dump_keys(void)
{
	unsigned h, i, t;

	printf("[sinkd]\n");
	for (i = 0; sinkd_main_keys[i].name; i++)
		printf("%s = %s\t# %s: %s\n", sinkd_main_keys[i].name,
		       sinkd_main_keys[i].def, conf_type_name(sinkd_main_keys[i].type),
		       sinkd_main_keys[i].doc);
	for (h = 0; sinkd_handlers[h]; h++) {
		const struct conf_key *tables[] = {sinkd_common_keys, sinkd_handlers[h]->keys};

		printf("\n[%s]\n", sinkd_handlers[h]->name);
		for (t = 0; t < 2; t++) {
			for (i = 0; tables[t] && tables[t][i].name; i++) {
				const struct conf_key *k = &tables[t][i];

				printf("%s = %s\t# %s%s%s: %s\n", k->name, k->def,
				       conf_type_name(k->type),
				       k->flags & CONF_NODOMAIN ? ", not per domain" : ", merge ",
				       k->flags & CONF_NODOMAIN ? "" : conf_merge_name(k->merge),
				       k->doc);
			}
		}
	}
}

/* restart_changes - warn about keys a reload cannot apply */
static void
restart_changes(const struct snapshot *old, const struct snapshot *new)
{
	unsigned i;

	for (i = 0; i < old->main.n; i++)
		if ((old->main.key[i]->flags & CONF_RESTART)
		    && !conf_value_equal(&old->main.val[i], &new->main.val[i]))
			log_warn("%s: a change needs a restart; still using \"%s\"",
				 old->main.key[i]->name, old->main.val[i].raw);
}

/* reloader - load a new snapshot whenever SIGHUP asks */
static gpointer
reloader(gpointer unused)
{
	(void) unused;
	for (;;) {
		struct snapshot *new, *old;

		g_mutex_lock(&reload_lock);
		while (!reload_wanted)
			g_cond_wait(&reload_cond, &reload_lock);
		reload_wanted = 0;
		g_mutex_unlock(&reload_lock);
		log_info("reloading %s", conf_path);
		new = load(conf_path, 0);
		if (new == NULL) {
			log_error("reload failed; keeping the running configuration");
			continue;
		}
		old = snapshot_current();
		restart_changes(old, new);
		snapshot_unref(old);
		log_set_debug(conf_bool(&new->main, "debug"));
		snapshot_install(new);
		handler_configure(new, 0);
		log_info("configuration reloaded");
	}
	return NULL;
}

/* spool_dir - make sure the spool directory exists, owned by the user */
static void
spool_dir(const char *dir, uid_t uid, gid_t gid)
{
	if (g_mkdir_with_parents(dir, 0700) < 0)
		log_fatal("spool-dir %s: %s", dir, strerror(errno));
	if (geteuid() == 0 && chown(dir, uid, gid) < 0)
		log_fatal("spool-dir %s: %s", dir, strerror(errno));
}

/* daemonize - detach from the terminal */
static void
daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		log_fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	setsid();
	if (chdir("/") < 0)
		log_fatal("chdir /: %s", strerror(errno));
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/* run_daemon - serve until SIGTERM; set: the signals blocked at start */
static int
run_daemon(struct snapshot *s, int foreground, const sigset_t *set)
{
	uid_t uid;
	gid_t gid;
	int sig, sfd;

	if (privs_lookup(conf_str(&s->main, "user"), conf_str(&s->main, "group"),
			 &uid, &gid) < 0)
		return 1;
	spool_dir(conf_str(&s->main, "spool-dir"), uid, gid);
	if (handler_setup(s, uid, gid) < 0)
		return 1;
	if (milter_open(s, uid, gid) < 0)
		return 1;
	if (!foreground) {
		log_open("sinkd", 0, 1);
		daemonize();
	}
	privs_drop(uid, gid, conf_bool(&s->main, "allow-root"));
	log_set_debug(conf_bool(&s->main, "debug"));
	snapshot_install(s);
	handler_configure(s, 0);

	g_thread_unref(g_thread_new("reload", reloader, NULL));
	if (milter_start() < 0)
		log_fatal("cannot start the milter thread");
	milter_log_mta_config(s);
	log_info("sinkd %s ready on %s (uid %u)", SINKD_VERSION,
		 conf_str(&s->main, "socket"), (unsigned) geteuid());
	if ((sfd = signalfd(-1, set, SFD_CLOEXEC)) < 0)
		log_fatal("signalfd: %s", strerror(errno));
	for (;;) {
		struct signalfd_siginfo si;

		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		sig = (int) si.ssi_signo;
		if (sig == SIGHUP) {
			g_mutex_lock(&reload_lock);
			reload_wanted = 1;
			g_cond_signal(&reload_cond);
			g_mutex_unlock(&reload_lock);
			continue;
		}
		break;
	}
	close(sfd);
	log_info("stopping on signal %d", sig);
	s = snapshot_current();
	milter_stop((unsigned) conf_num(&s->main, "shutdown-timeout"));
	handler_stop(s);
	snapshot_unref(s);
	log_info("stopped");
	/* a failure when libmilter gave up: a supervisor restarts sinkd */
	return milter_failed() ? 1 : 0;
}

int
main(int argc, char **argv)
{
	gboolean check = FALSE, foreground = FALSE, version = FALSE,
		offline = FALSE, dump = FALSE;
	struct offline_args oa = {0};
	char *path = NULL;
	GOptionEntry opts[] = {
		{"config", 'c', 0, G_OPTION_ARG_FILENAME, &path, "configuration file", "FILE"},
		{"foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground, "stay in the foreground, log to stderr too", NULL},
		{"check", 'n', 0, G_OPTION_ARG_NONE, &check, "check every configuration and policy file, then exit", NULL},
		{"version", 'V', 0, G_OPTION_ARG_NONE, &version, "print the version", NULL},
		{"defaults", 'd', 0, G_OPTION_ARG_NONE, &dump, "print every key with its default", NULL},
		{"test", 't', 0, G_OPTION_ARG_NONE, &offline, "run one message from stdin through the chain", NULL},
		{"sender", 'F', 0, G_OPTION_ARG_STRING, &oa.sender, "-t: envelope sender", "ADDR"},
		{"rcpt", 'R', 0, G_OPTION_ARG_STRING_ARRAY, &oa.rcpts, "-t: envelope recipient (repeatable)", "ADDR"},
		{"client", 'C', 0, G_OPTION_ARG_STRING, &oa.client, "-t: client address and HELO name", "IP[,HELO]"},
		{"auth", 'A', 0, G_OPTION_ARG_STRING, &oa.auth, "-t: SMTP AUTH user", "USER"},
		{"quarantine", 0, 0, G_OPTION_ARG_NONE, &oa.quarantine, "-t: store quarantine entries and spend release tokens for real", NULL},
		{NULL},
	};
	GOptionContext *ctx = g_option_context_new("- mail filter for Postfix and Sendmail");
	GError *err = NULL;
	struct snapshot *s;
	sigset_t set;
	int rc;

	g_option_context_add_main_entries(ctx, opts, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, "sinkd: %s\n", err ? err->message : "unexpected argument");
		fprintf(stderr, "usage: sinkd [-fnVd] [-c file] [-t -F sender -R rcpt... [-C ip[,helo]] [-A user] [--quarantine]]\n");
		return 64;
	}
	g_option_context_free(ctx);
	if (version) {
		printf("sinkd %s\n", SINKD_VERSION);
		return 0;
	}
	if (dump) {
		dump_keys();
		return 0;
	}
	if (!check && !offline)
		signals_block(&set);
	/* absolute: the daemon leaves its directory, and reloads read it again */
	conf_path = g_canonicalize_filename(path ? path : SINKD_SYSCONFDIR "/sinkd/sinkd.conf", NULL);
	g_free(path);
	log_open("sinkd", 1, !check && !offline);
	log_set_quiet(offline);
	g_mime_init();
	s = load(conf_path, 1);
	if (s == NULL)
		return 1;
	if (check) {
		printf("configuration OK\n");
		snapshot_unref(s);
		rc = 0;
	} else if (offline) {
		log_set_debug(conf_bool(&s->main, "debug"));
		rc = offline_run(s, &oa);
		snapshot_unref(s);
	} else {
		rc = run_daemon(s, foreground, &set);
	}
	g_mime_shutdown();
	g_free(conf_path);
	g_free(oa.sender);
	g_strfreev(oa.rcpts);
	g_free(oa.client);
	g_free(oa.auth);
	return rc;
}
