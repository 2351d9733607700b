/*
 * main - sinkd's command line and daemon life; the composition root
 *
 * main() only wires modules together: it parses options, loads the
 * configuration with the handler registry, and then either checks it
 * (-n), prints the keys (-d), runs one message offline (-t), or runs the
 * daemon: open the socket as root, drop privileges, serve in libmilter's
 * threads, and wait for signals here (SIGHUP: reload; SIGUSR1: open the
 * log file again; SIGTERM, SIGINT: stop).  The main thread alone takes them: it blocks them before any
 * thread exists (GLib's, libclamav's, libmilter's, the engine loader), so
 * that every thread inherits the mask, and reads them from a signalfd,
 * so that they stay blocked in every thread at every moment and wait
 * there, queued, while the main thread is busy (stopping, say).
 * libmilter's own signal thread, which would take SIGHUP as "stop
 * serving", waits in sigwait() below, for ever.
 */
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "../milters/registry.h"
#include "control.h"
#include "dirs.h"
#include "event.h"
#include "handler.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "mime.h"
#include "offline.h"
#include "pidfile.h"
#include "policy.h"
#include "privs.h"
#include "sink.h"
#include "sink_proc.h"
#include "status.h"
#include "stats.h"

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

static char *dirs_ready(const struct snapshot *s, int start, uid_t uid, gid_t gid);

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

/* signals_block - the signals the daemon takes (SIGHUP, SIGTERM, SIGINT,
 * SIGUSR1) blocked, before any thread exists, so that every thread inherits the
 * mask and only the main thread's signalfd takes them; SIGPIPE
 * ignored: a peer gone is an error of the write, not the end of sinkd */
static void
signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0)
		log_fatal("cannot block signals");
	signal(SIGPIPE, SIG_IGN);
}

/* Where load() reports the configuration's errors and warnings. */
enum report_to {
	REPORT_LOG,		/* the daemon: the log (and stderr, with -f) */
	REPORT_STDERR,		/* -n, -P: stderr */
	REPORT_ERRORS,		/* -t: stderr, errors only; its stderr is for
				 * the verdict */
};

/* report - one error or warning of the configuration, as load() says */
static void
report(int warning, const char *msg, void *ctx)
{
	enum report_to to = *(const enum report_to *) ctx;

	if (to == REPORT_ERRORS && warning)
		return;
	if (to != REPORT_LOG)
		fprintf(stderr, "%s\n", msg);
	else if (warning)
		log_warn("%s", msg);
	else
		log_error("%s", msg);
}

/* load - a snapshot, or NULL; every error and warning reported, sorted
 * by file and line */
static struct snapshot *
load(const char *path, enum report_to to)
{
	struct conf_errors e;
	struct snapshot *s;

	conf_errors_init(&e);
	s = snapshot_load(path, sinkd_handlers, &e);
	conf_errors_report(&e, report, &to);
	conf_errors_free(&e);
	return s;
}

/* dump_key - one key for sinkd -d: its description as a comment line
 * ("# type[, restart only][, not per domain | , merge RULE]: doc"), then
 * "key = default", as sinkd.conf(5) reads it */
static void
dump_key(const struct conf_key *k, int handler)
{
	char *def = conf_value_escape(k->def);

	printf("# %s%s%s%s: %s\n%s = %s\n", conf_type_name(k->type),
	       k->flags & CONF_RESTART ? ", restart only" : "",
	       !handler ? "" : k->flags & CONF_NODOMAIN ? ", not per domain" : ", merge ",
	       !handler || (k->flags & CONF_NODOMAIN) ? "" : conf_merge_name(k->merge),
	       k->doc, k->name, def);
	g_free(def);
}

/* dump_keys - every key with its default and description (sinkd -d): a
 * configuration sinkd -n accepts, each key under a comment line giving
 * its type and, for a handler key, "not per domain" or how inbound mail
 * for several domains combines it ("merge RULE", sinkd-policy(5)) */
static void
dump_keys(void)
{
	unsigned h, i, t;

	printf("[sinkd]\n");
	for (i = 0; sinkd_main_keys[i].name; i++)
		dump_key(&sinkd_main_keys[i], 0);
	for (h = 0; sinkd_handlers[h]; h++) {
		const struct conf_key *tables[] = {sinkd_common_keys, sinkd_handlers[h]->keys};

		printf("\n[%s]\n", sinkd_handlers[h]->name);
		for (t = 0; t < 2; t++)
			for (i = 0; tables[t] && tables[t][i].name; i++)
				dump_key(&tables[t][i], 1);
	}
	sink_dump_keys(dump_key);
	event_dump_keys(dump_key);
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
		char *why;

		g_mutex_lock(&reload_lock);
		while (!reload_wanted)
			g_cond_wait(&reload_cond, &reload_lock);
		reload_wanted = 0;
		g_mutex_unlock(&reload_lock);
		log_info("reloading %s", conf_path);
		new = load(conf_path, REPORT_LOG);
		if (new == NULL) {
			log_error("reload failed; keeping the running configuration");
			stats_inc(STATS_RELOAD_FAILED);
			continue;
		}
		if ((why = dirs_ready(new, 0, geteuid(), getegid())) != NULL) {
			log_error("reload failed: %s; keeping the running configuration", why);
			g_free(why);
			snapshot_unref(new);
			stats_inc(STATS_RELOAD_FAILED);
			continue;
		}
		old = snapshot_current();
		restart_changes(old, new);
		snapshot_unref(old);
		event_reload(new);
		log_set_debug(conf_bool(&new->main, "debug"));
		snapshot_install(new);
		status_loaded(new);
		handler_configure(new, 0);
		stats_configure((unsigned) conf_num(&new->main, "metrics-max-domains"));
		stats_gauge_add(STATS_GENERATION, 1);
		stats_inc(STATS_RELOAD_OK);
		log_info("configuration reloaded");
	}
	return NULL;
}

/* daemon_dirs - the directories the daemon writes to under s, with the
 * key that names each: in need, those it cannot work without (spool,
 * the handlers', and at start the log file's); in leave, at start, those
 * where it only removes its socket and pid file at exit */
static void
daemon_dirs(const struct snapshot *s, int start, GPtrArray *need[2], GPtrArray *leave[2])
{
	const char *log_path = conf_str(&s->main, "log-file");
	const char *pid_path = conf_str(&s->main, "pid-file");
	char *control;
	unsigned i;

	g_ptr_array_add(need[0], (gpointer) "spool-dir");
	g_ptr_array_add(need[1], g_strdup(conf_str(&s->main, "spool-dir")));
	handler_dirs(s, need[0], need[1]);
	for (i = 1; i < need[1]->len; i++)	/* handlers' strings are theirs */
		g_ptr_array_index(need[1], i) = g_strdup(g_ptr_array_index(need[1], i));
	/* the journal of after-accept events: its own directory (the
	 * state directory itself may be root's: systemd's StateDirectory) */
	if (event_any(s)) {
		g_ptr_array_add(need[0], (gpointer) "state-dir");
		g_ptr_array_add(need[1], g_build_filename(conf_str(&s->main, "state-dir"),
							  "journal", NULL));
	}
	if (!start)
		return;
	if (*log_path) {
		g_ptr_array_add(need[0], (gpointer) "log-file");
		g_ptr_array_add(need[1], g_path_get_dirname(log_path));
	}
	if (s->socket.family == AF_UNIX) {
		g_ptr_array_add(leave[0], (gpointer) "socket");
		g_ptr_array_add(leave[1], g_path_get_dirname(s->socket.path));
	}
	if (*pid_path) {
		g_ptr_array_add(leave[0], (gpointer) "pid-file");
		g_ptr_array_add(leave[1], g_path_get_dirname(pid_path));
	}
	if ((control = control_path(s)) != NULL) {
		g_ptr_array_add(leave[0], (gpointer) "control-socket");
		g_ptr_array_add(leave[1], g_path_get_dirname(control));
		g_free(control);
	}
}

/* make_dirs - the directories of a list made when missing: the spool,
 * libclamav's tmpdir and the quarantine mode 0700, the socket's 0750,
 * others 0755, uid:gid's when root makes them (missing parents 0755); an
 * existing one keeps its owner and mode, except the spool, which is the
 * user's.  NULL, or what failed (caller frees). */
static char *
make_dirs(GPtrArray *list[2], uid_t uid, gid_t gid)
{
	unsigned i;

	for (i = 0; i < list[1]->len; i++) {
		const char *key = g_ptr_array_index(list[0], i);
		const char *dir = g_ptr_array_index(list[1], i);
		mode_t mode = 0755;

		if (!strcmp(key, "spool-dir") || !strcmp(key, "quarantine-dir")
		    || !strcmp(key, "state-dir") || !strcmp(key, "tmpdir"))
			mode = 0700;
		else if (!strcmp(key, "socket"))
			mode = 0750;
		/* one the user may not make is explained by dirs_check() */
		if ((dirs_make(dir, mode, uid, gid) < 0 && errno != EACCES)
		    || (!strcmp(key, "spool-dir") && geteuid() == 0 && chown(dir, uid, gid) < 0))
			return g_strdup_printf("%s %s: %s", key, dir, strerror(errno));
	}
	return NULL;
}

/* dirs_ready - make what s needs and check, as user uid:gid, that it can
 * write to every directory it needs (NULL, or what is wrong: caller
 * frees).  Where it only removes its socket and pid file at exit, a
 * directory it cannot write to is a warning: the files stay behind and
 * the next start replaces them (the locks make that safe). */
static char *
dirs_ready(const struct snapshot *s, int start, uid_t uid, gid_t gid)
{
	GPtrArray *need[2] = {g_ptr_array_new(), g_ptr_array_new_with_free_func(g_free)};
	GPtrArray *leave[2] = {g_ptr_array_new(), g_ptr_array_new_with_free_func(g_free)};
	const char *user = conf_str(&s->main, "user");
	char *why, *soft;
	int i;

	daemon_dirs(s, start, need, leave);
	if ((why = make_dirs(leave, uid, gid)) == NULL
	    && (why = make_dirs(need, uid, gid)) == NULL
	    && handler_setup(s, uid, gid) < 0)
		why = g_strdup("a handler's directories could not be made");
	if (why == NULL)
		why = dirs_check(need[0], need[1], user, uid, gid);
	if (why == NULL && leave[1]->len
	    && (soft = dirs_check(leave[0], leave[1], user, uid, gid)) != NULL) {
		log_warn("%s; sinkd leaves its socket and pid file there at exit", soft);
		g_free(soft);
	}
	for (i = 0; i < 2; i++) {
		g_ptr_array_free(need[i], TRUE);
		g_ptr_array_free(leave[i], TRUE);
	}
	return why;
}

/* take_lock - path locked, or fatal naming the sinkd that holds it */
static int
take_lock(const char *key, const char *path)
{
	long holder;
	int fd = pidfile_lock(path, &holder);

	if (fd >= 0)
		return fd;
	if (errno == EWOULDBLOCK && holder > 0)
		log_fatal("%s %s: sinkd is already running as pid %ld", key, path, holder);
	if (errno == EWOULDBLOCK)
		log_fatal("%s %s: sinkd is already running (starting, its pid not yet written)",
			  key, path);
	log_fatal("%s %s: %s", key, path, strerror(errno));
}

/* log_setup - syslog with the configured socket and facility, and the
 * log file (made uid:gid's, so that SIGUSR1 can open it again after the
 * drop); a daemon that would detach with neither is refused */
static void
log_setup(const struct snapshot *s, int foreground, uid_t uid, gid_t gid)
{
	const char *sock = conf_str(&s->main, "syslog-socket");
	const char *file = conf_str(&s->main, "log-file");
	char *why = NULL;

	if (log_syslog(sock, (unsigned) conf_num(&s->main, "syslog-facility")) < 0)
		why = g_strdup_printf("syslog-socket %s: %s", sock, strerror(errno));
	else if (*sock == 0)
		why = g_strdup("syslog-socket is empty");
	if (*file && log_file(file, uid, gid) < 0)
		log_fatal("log-file %s: %s", file, strerror(errno));
	if (!foreground && !log_has_sink())
		log_fatal("nowhere to log once detached (%s, and no log-file): "
			  "set log-file, start a syslog daemon, or run in the foreground (-f)",
			  why ? why : "no syslog");
	g_free(why);
}

/* write_pids - the pid into each locked file (fd -1: none) */
static void
write_pids(int pid_fd, int sock_fd)
{
	if ((pid_fd >= 0 && pidfile_write(pid_fd) < 0)
	    || (sock_fd >= 0 && pidfile_write(sock_fd) < 0))
		log_fatal("cannot write the pid: %s", strerror(errno));
}

/* daemonize - detach from the terminal; the parent exits once the child
 * wrote its pid, so that whoever started sinkd finds it in the pid file
 * (status 1 if the child failed before) */
static void
daemonize(int pid_fd, int sock_fd)
{
	int fd, ready[2];
	pid_t pid;
	char c;

	if (pipe(ready) < 0 || (pid = fork()) < 0)
		log_fatal("fork: %s", strerror(errno));
	if (pid > 0) {
		close(ready[1]);
		_exit(read(ready[0], &c, 1) == 1 ? 0 : 1);
	}
	close(ready[0]);
	setsid();
	if (chdir("/") < 0)
		log_fatal("chdir /: %s", strerror(errno));
	write_pids(pid_fd, sock_fd);
	if (write(ready[1], "", 1) < 0 || close(ready[1]) < 0)
		log_fatal("cannot tell the parent: %s", strerror(errno));
	log_detach();
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/* run_daemon - serve until SIGTERM; set: the signals blocked at start.
 * Still as root: make and check the directories, open the log file, take
 * the locks (pid-file, and SOCKET.lock beside a unix socket, so that two
 * configurations with one socket collide too), open the socket; then
 * detach, write the pid and drop privileges.  The locks are held until
 * exit; the socket and the pid file are removed at exit only while they
 * are still this process's. */
static int
run_daemon(struct snapshot *s, int foreground, const sigset_t *set)
{
	char *pid_path = g_strdup(conf_str(&s->main, "pid-file"));
	char *why, *lock_path = NULL, *control;
	int pid_fd = -1, sock_fd = -1;
	uid_t uid;
	gid_t gid;
	int sig, sfd;

	privs_lookup(conf_str(&s->main, "user"), conf_str(&s->main, "group"), &uid, &gid);
	if ((why = dirs_ready(s, 1, uid, gid)) != NULL)
		log_fatal("%s", why);
	log_setup(s, foreground, uid, gid);
	if (*pid_path)
		pid_fd = take_lock("pid-file", pid_path);
	if (s->socket.family == AF_UNIX) {
		lock_path = g_strconcat(s->socket.path, ".lock", NULL);
		sock_fd = take_lock("socket", lock_path);
	}
	milter_open(s, uid, gid);
	if ((control = control_path(s)) != NULL && control_open(control, gid, &why) < 0)
		log_fatal("%s", why);
	g_free(control);
	metrics_open(s, uid, gid);
	if (!foreground)
		daemonize(pid_fd, sock_fd);
	else
		write_pids(pid_fd, sock_fd);
	sink_proc_spawner_start(s->conf_path);
	privs_drop(uid, gid, conf_bool(&s->main, "allow-root"));
	log_set_debug(conf_bool(&s->main, "debug"));
	stats_gauge_set(STATS_START_TIME, (gint64) time(NULL));
	stats_gauge_set(STATS_GENERATION, 1);
	stats_configure((unsigned) conf_num(&s->main, "metrics-max-domains"));
	snapshot_install(s);
	status_register("counters", stats_render_text);
	status_loaded(s);
	handler_configure(s, 0);
	control_start();
	if (event_start(s) < 0)
		log_fatal("cannot start the shipper of after-accept events");

	g_thread_unref(g_thread_new("reload", reloader, NULL));
	if (milter_start() < 0)
		log_fatal("cannot start the milter thread");
	metrics_start();
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
		if (sig == SIGUSR1) {
			log_reopen();
			continue;
		}
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
	metrics_stopping();
	milter_stop((unsigned) conf_num(&s->main, "shutdown-timeout"));
	control_close();
	metrics_stop();
	event_stop();
	handler_stop(s);
	snapshot_unref(s);
	if (pid_fd >= 0)
		pidfile_remove(pid_path, pid_fd);
	g_free(pid_path);
	g_free(lock_path);
	/* a failure when libmilter gave up: a supervisor restarts sinkd */
	if (milter_failed())
		log_fatal("stopped: libmilter stopped serving (exit status 1, for a restart)");
	log_info("stopped");
	return 0;
}

/* ask_status - sinkd -S: the running daemon's status, asked through
 * its control socket; 0, or 1 when it cannot be asked */
static int
ask_status(const struct snapshot *s)
{
	char *path = control_path(s), *why = NULL;
	int rc = 0;

	if (path == NULL) {
		fprintf(stderr, "sinkd: no control socket (control-socket = none, or no pid-file)\n");
		return 1;
	}
	if (control_query(path, "status", stdout, &why) < 0) {
		fprintf(stderr, "sinkd: %s\n", why);
		rc = 1;
	}
	g_free(why);
	g_free(path);
	return rc;
}

/* offline_args_free - what option parsing allocated for -t */
static void
offline_args_free(struct offline_args *oa)
{
	g_free(oa->sender);
	g_strfreev(oa->rcpts);
	g_free(oa->client);
	g_free(oa->auth);
}

int
main(int argc, char **argv)
{
	gboolean check = FALSE, foreground = FALSE, version = FALSE,
		offline = FALSE, dump = FALSE, show = FALSE, status = FALSE;
	struct offline_args oa = {0};
	char *path = NULL;
	GOptionEntry opts[] = {
		{"config", 'c', 0, G_OPTION_ARG_FILENAME, &path, "configuration file", "FILE"},
		{"foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground, "stay in the foreground, log to stderr too", NULL},
		{"check", 'n', 0, G_OPTION_ARG_NONE, &check, "check every configuration and policy file, then exit", NULL},
		{"version", 'V', 0, G_OPTION_ARG_NONE, &version, "print the version", NULL},
		{"defaults", 'd', 0, G_OPTION_ARG_NONE, &dump, "print every key with its default", NULL},
		{"policy", 'P', 0, G_OPTION_ARG_NONE, &show, "print the effective policy of DOMAIN (default: the default policy), each key with the file:line it is from", NULL},
		{"status", 'S', 0, G_OPTION_ARG_NONE, &status, "print the running daemon's status (asked through control-socket)", NULL},
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
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc > 1 + show) {
		fprintf(stderr, "sinkd: %s\n", err ? err->message : "unexpected argument");
		fprintf(stderr, "usage: sinkd [-fnVdS] [-c file] [-P [domain]] [-t -F sender -R rcpt... [-C ip[,helo]] [-A user] [--quarantine]]\n");
		g_clear_error(&err);
		g_option_context_free(ctx);
		g_free(path);
		offline_args_free(&oa);
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
	if (status)
		check = TRUE;	/* the configuration only read */
	if (!check && !offline && !show)
		signals_block(&set);
	/* absolute: the daemon leaves its directory, and reloads read it again */
	conf_path = g_canonicalize_filename(path ? path : SINKD_SYSCONFDIR "/sinkd/sinkd.conf", NULL);
	g_free(path);
	log_open("sinkd", 1, !check && !offline && !show);
	log_set_quiet(offline || status);
	g_mime_init();
	mime_footer = disclaimer_footer;
	s = load(conf_path, offline || status ? REPORT_ERRORS : check || show ? REPORT_STDERR : REPORT_LOG);
	if (s == NULL && !check && !offline && !show)
		log_fatal("%s: not starting: the configuration has errors", conf_path);
	if (s == NULL) {
		rc = 1;
	} else if (status) {
		rc = ask_status(s);
		snapshot_unref(s);
	} else if (show) {
		policy_print(stdout, s, argc > 1 ? argv[1] : "default");
		snapshot_unref(s);
		rc = 0;
	} else if (check) {
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
	offline_args_free(&oa);
	return rc;
}
