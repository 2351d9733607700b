/*
 * sinkd-archive - list, search and export the messages an archive event
 * target stored
 *
 *	sinkd-archive [-c sinkd.conf] [-t NAME] list
 *	sinkd-archive [-c sinkd.conf] [-t NAME] search [--sender ADDR]
 *		[--recipient ADDR] [--since DATE] [--until DATE]
 *		[--subject TEXT] [--message-id ID]
 *	sinkd-archive [-c sinkd.conf] [-t NAME] show ID
 *	sinkd-archive [-c sinkd.conf] [-t NAME] export [--crlf] [-o FILE] ID
 *
 * sinkd.conf is read with sinkd's own loader, so that the target
 * [event:NAME] (NAME: -t, or the only archive there is) and its store
 * mean what they mean to the daemon.  The store is astore.c's.  Run as
 * root on a SQLite store, the tool becomes the database file's owner
 * (after opening the file of export -o), so that it never leaves a file
 * sinkd cannot write (SQLite's -wal and -shm).
 *
 * list and search print one line per message: key, time, direction,
 * sender, recipients, subject, tab-separated, control characters as
 * '?'.  show and export write the message as stored, byte for byte.
 *
 * Exit status: 0 done, 1 failed (the reason on stderr), 64 usage.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "../milters/registry.h"
#include "../src/astore.h"
#include "../src/log.h"
#include "../src/policy.h"

#ifndef SINKD_SYSCONFDIR
#define SINKD_SYSCONFDIR "/usr/local/etc"
#endif

#define PROG		"sinkd-archive"
#define EXIT_USAGE	64

struct aconf {
	char *target;		/* "event:NAME" */
	char *store;		/* its store key */
	int group_read;
	int timeout;
};

/* help - the synopsis on f */
static void
help(FILE *f)
{
	fprintf(f, "usage: " PROG " [-c sinkd.conf] [-t name] list\n"
		"       " PROG " [-c sinkd.conf] [-t name] search [--sender addr] [--recipient addr]\n"
		"                [--since date] [--until date] [--subject text] [--message-id id]\n"
		"       " PROG " [-c sinkd.conf] [-t name] show id\n"
		"       " PROG " [-c sinkd.conf] [-t name] export [--crlf] [-o file] id\n");
}

/* usage - the synopsis on stderr; EXIT_USAGE */
static int
usage(void)
{
	help(stderr);
	return EXIT_USAGE;
}

/* printable - s with invalid UTF-8 as U+FFFD and control characters as
 * '?' (g_free) */
static char *
printable(const char *s)
{
	char *valid = g_utf8_make_valid(s ? s : "", -1);
	GString *out = g_string_sized_new(strlen(valid));
	const char *p;

	for (p = valid; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (g_unichar_iscntrl(c))
			g_string_append_c(out, '?');
		else
			g_string_append_unichar(out, c);
	}
	g_free(valid);
	return g_string_free(out, FALSE);
}

/* load_conf - the archive target of sinkd.conf: name, or the only one
 * when name is NULL; 0, or -1 with every error printed */
static int
load_conf(const char *path, const char *name, struct aconf *a)
{
	struct conf_errors e;
	struct snapshot *s;
	char *want = name ? (g_str_has_prefix(name, "event:") ? g_strdup(name)
			     : g_strconcat("event:", name, NULL)) : NULL;
	const struct conf_group *g = NULL;
	unsigned i, found = 0;
	int rc = -1;

	conf_errors_init(&e);
	s = snapshot_load(path, sinkd_handlers, &e);
	for (i = 0; i < e.msgs->len; i++)
		fprintf(stderr, "%s\n", (char *) g_ptr_array_index(e.msgs, i));
	conf_errors_free(&e);
	if (s == NULL) {
		g_free(want);
		return -1;
	}
	for (i = 0; i < s->nregistry; i++) {
		const struct conf_group *tg;

		if (!g_str_has_prefix(s->registry[i]->name, "event:"))
			continue;
		tg = snapshot_group(s, s->registry[i]);
		if (tg == NULL || strcmp(conf_str(tg, "type"), "archive"))
			continue;
		if (want && strcmp(want, s->registry[i]->name))
			continue;
		found++;
		g = tg;
	}
	if (found == 0)
		fprintf(stderr, PROG ": %s: no archive target%s%s\n", path,
			want ? " " : "", want ? want : "");
	else if (found > 1)
		fprintf(stderr, PROG ": %s: more than one archive target: name one with -t\n", path);
	else {
		a->target = g_strdup(g->name);
		a->store = g_strdup(conf_str(g, "store"));
		a->group_read = conf_bool(g, "group-read");
		a->timeout = (int) conf_num(g, "timeout");
		rc = 0;
	}
	snapshot_unref(s);
	g_free(want);
	return rc;
}

/* become_owner - as root, the owner of the SQLite file f from now on,
 * so that the -wal and -shm files SQLite makes are its too; 0, or -1
 * (printed) */
static int
become_owner(const char *f)
{
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (stat(f, &st) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", f,
			errno == ENOENT ? "nothing archived yet" : g_strerror(errno));
		return -1;
	}
	if (st.st_uid == 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0) {
		fprintf(stderr, PROG ": cannot become the owner of %s: %s\n", f, g_strerror(errno));
		return -1;
	}
	return 0;
}

/* print_rec - one line of list or search */
static void
print_rec(const struct astore_rec *r, void *ctx)
{
	char *rc = g_strjoinv(",", r->recipients), *f[6];
	const char *raw[6] = {r->key, r->time, r->direction, r->sender, rc, r->subject};
	unsigned i;

	(*(unsigned *) ctx)++;
	for (i = 0; i < 6; i++)
		f[i] = printable(raw[i]);
	printf("%s\t%s\t%s\t%s\t%s\t%s\n", f[0], f[1], f[2], f[3], f[4], f[5]);
	for (i = 0; i < 6; i++)
		g_free(f[i]);
	g_free(rc);
}

/* date_ok - YYYY-MM-DD or an RFC 3339 time */
static int
date_ok(const char *s)
{
	GDateTime *t;
	char *full;

	if (strlen(s) == 10) {
		full = g_strconcat(s, "T00:00:00Z", NULL);
		t = g_date_time_new_from_iso8601(full, NULL);
		g_free(full);
	} else {
		t = g_date_time_new_from_iso8601(s, NULL);
	}
	if (t)
		g_date_time_unref(t);
	return t != NULL;
}

/* parse_search - search's options into q (list has none); 0, or -1:
 * usage */
static int
parse_search(int argc, char **argv, struct astore_query *q)
{
	static const char *const opts[] = {"--sender", "--recipient", "--since", "--until",
					   "--subject", "--message-id"};
	const char **slot[] = {&q->sender, &q->recipient, &q->since, &q->until, &q->subject,
			       &q->message_id};
	unsigned k;
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL;

		for (k = 0; k < G_N_ELEMENTS(opts); k++) {
			gsize l = strlen(opts[k]);

			if (!strncmp(arg, opts[k], l) && arg[l] == '=')
				val = arg + l + 1;
			else if (!strcmp(arg, opts[k]) && i + 1 < argc)
				val = argv[++i];
			if (val)
				break;
		}
		if (val == NULL || strcmp(argv[0], "search"))
			return -1;
		*slot[k] = val;
	}
	if ((q->since && !date_ok(q->since)) || (q->until && !date_ok(q->until))) {
		fprintf(stderr, PROG ": a date is YYYY-MM-DD or an RFC 3339 time\n");
		return -1;
	}
	return 0;
}

/* cmd_search - list or search: a line per message answering q */
static int
cmd_search(struct astore *st, const struct astore_query *q)
{
	char *why = NULL;
	unsigned n = 0;

	if (astore_search(st, q, print_rec, &n, &why) < 0) {
		fprintf(stderr, PROG ": %s\n", why);
		g_free(why);
		return 1;
	}
	return 0;
}

/* crlf_copy - d with each LF not after a CR as CRLF */
static GBytes *
crlf_copy(GBytes *d)
{
	gsize n, i;
	const char *p = g_bytes_get_data(d, &n);
	GString *o = g_string_sized_new(n + n / 32);

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			g_string_append_c(o, '\r');
		g_string_append_c(o, p[i]);
	}
	return g_string_free_to_bytes(o);
}

/* cmd_get - show ID, export [--crlf] [-o FILE] ID; out: the file of -o,
 * opened before privileges went, or -1 */
static int
cmd_get(struct astore *st, int argc, char **argv, int out, int crlf)
{
	const char *id = argv[argc - 1];
	GBytes *msg = NULL;
	char *full = NULL, *why = NULL;
	const char *d;
	gsize n;
	int rc;

	rc = astore_get(st, id, &msg, &full, &why);
	if (rc == -1 || rc == -2) {
		fprintf(stderr, PROG ": %s: %s\n", id, rc == -1 ? "no such message"
			: "more than one message's key starts so: give more of it");
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, PROG ": %s: %s\n", id, why ? why : "cannot read it");
		g_free(why);
		return 1;
	}
	if (crlf) {
		GBytes *c = crlf_copy(msg);
		const char *sha = strchr(full, '.');
		char *got;

		g_bytes_unref(msg);
		msg = c;
		/* the key ends with the SHA-256 of the message as received */
		got = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, msg);
		if (sha && strcmp(sha + 1, got))
			fprintf(stderr, PROG ": %s: warning: with CRLF line ends it is not the message "
				"as received (that had a bare LF or CR): its SHA-256 differs\n", full);
		g_free(got);
	}
	d = g_bytes_get_data(msg, &n);
	rc = 0;
	while (n > 0) {
		ssize_t w = write(out >= 0 ? out : STDOUT_FILENO, d, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fprintf(stderr, PROG ": %s: write: %s\n", full, g_strerror(errno));
			rc = 1;
			break;
		}
		d += w;
		n -= (gsize) w;
	}
	g_bytes_unref(msg);
	g_free(full);
	return rc;
}

/* parse_get - export's options (show has none): *file, *crlf; the index
 * of ID in argv, or -1 */
static int
parse_get(int argc, char **argv, const char **file, int *crlf)
{
	int i;

	for (i = 1; i < argc - 1; i++) {
		if (strcmp(argv[0], "export"))
			return -1;
		if (!strcmp(argv[i], "--crlf"))
			*crlf = 1;
		else if (!strcmp(argv[i], "-o") && i + 1 < argc - 1)
			*file = argv[++i];
		else
			return -1;
	}
	return argc >= 2 && argv[argc - 1][0] != '-' ? argc - 1 : -1;
}

int
main(int argc, char **argv)
{
	const char *path = SINKD_SYSCONFDIR "/sinkd/sinkd.conf", *name = NULL, *file = NULL;
	struct aconf a = {0};
	struct astore *st = NULL;
	struct astore_query q = {0};
	char *abs = NULL, **cmd;
	int c, rc = 1, ncmd, crlf = 0, out = -1;

	while ((c = getopt(argc, argv, "+c:t:h")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 't':
			name = optarg;
			break;
		case 'h':
			help(stdout);
			return 0;
		default:
			return usage();
		}
	}
	cmd = argv + optind;
	ncmd = argc - optind;
	if (ncmd < 1)
		return usage();
	if (!strcmp(cmd[0], "list") || !strcmp(cmd[0], "search")) {
		if (parse_search(ncmd, cmd, &q) < 0)
			return usage();
	} else if (!strcmp(cmd[0], "show") || !strcmp(cmd[0], "export")) {
		if (parse_get(ncmd, cmd, &file, &crlf) < 0)
			return usage();
	} else {
		return usage();
	}
	log_open(PROG, 1, 0);
	/* absolute, as sinkd makes it: relative paths in it resolve the same */
	abs = g_canonicalize_filename(path, NULL);
	if (load_conf(abs, name, &a) < 0)
		goto out;
	if (file && (out = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", file, g_strerror(errno));
		goto out;
	}
	if ((st = astore_open(a.store, a.group_read, a.timeout)) == NULL) {
		fprintf(stderr, PROG ": %s: store \"%s\" is not usable\n", a.target, a.store);
		goto out;
	}
	if (astore_kind(st) == ASTORE_SQLITE && become_owner(a.store + strlen("sqlite:")) < 0)
		goto out;
	if (!strcmp(cmd[0], "list") || !strcmp(cmd[0], "search"))
		rc = cmd_search(st, &q);
	else
		rc = cmd_get(st, ncmd, cmd, out, crlf);
	if (out >= 0 && close(out) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", file, g_strerror(errno));
		rc = 1;
	}
	out = -1;
out:
	if (out >= 0)
		close(out);
	astore_close(st);
	g_free(abs);
	g_free(a.target);
	g_free(a.store);
	return rc;
}
