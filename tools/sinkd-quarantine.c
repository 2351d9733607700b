/*
 * sinkd-quarantine - list, show, release and delete quarantined messages
 *
 *	sinkd-quarantine [-c sinkd.conf] list
 *	sinkd-quarantine [-c sinkd.conf] show [-r] ID
 *	sinkd-quarantine [-c sinkd.conf] release ID [ADDR...]
 *	sinkd-quarantine [-c sinkd.conf] delete ID
 *
 * sinkd.conf is read with sinkd's own loader and handler registry, so the
 * [clamav] keys quarantine-dir, release-via, release-sendmail and
 * release-relay mean exactly what they mean to the daemon (relative paths
 * included).  The entries themselves are quarantine.c's; re-injection is
 * reinject.c's.  Nothing of mail data reaches the terminal unfiltered but
 * the bytes show -r is asked for: control characters are shown as '?'.
 *
 * Exit status: 0 done, 1 failed (the reason on stderr), 64 usage.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "../milters/quarantine.h"
#include "../milters/registry.h"
#include "../src/log.h"
#include "../src/policy.h"
#include "reinject.h"

#ifndef SINKD_SYSCONFDIR
#define SINKD_SYSCONFDIR "/usr/local/etc"
#endif

#define PROG		"sinkd-quarantine"
#define EXIT_USAGE	64
#define GROUP		"quarantine"

struct qconf {
	char *dir;		/* quarantine-dir */
	int smtp;		/* release-via = smtp */
	char *sendmail;		/* release-sendmail */
	char *relay;		/* release-relay */
	uid_t user;		/* sinkd's user, who owns the key; -1: none */
};

/* help - the synopsis on f */
static void
help(FILE *f)
{
	fprintf(f, "usage: " PROG " [-c sinkd.conf] list\n"
		"       " PROG " [-c sinkd.conf] show [-r] ID\n"
		"       " PROG " [-c sinkd.conf] release ID [ADDR...]\n"
		"       " PROG " [-c sinkd.conf] delete ID\n");
}

/* usage - the synopsis on stderr; EXIT_USAGE */
static int
usage(void)
{
	help(stderr);
	return EXIT_USAGE;
}

/* printable - s with invalid UTF-8 as U+FFFD and control characters as
 * '?' (tab and newline kept when keep_space); g_free() */
static char *
printable(const char *s, gssize len, int keep_space)
{
	char *valid = g_utf8_make_valid(s ? s : "", s ? len : 0);
	GString *out = g_string_sized_new(strlen(valid));
	const char *p;

	for (p = valid; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (keep_space && (c == '\t' || c == '\n'))
			g_string_append_unichar(out, c);
		else if (g_unichar_iscntrl(c))
			g_string_append_c(out, '?');
		else
			g_string_append_unichar(out, c);
	}
	g_free(valid);
	return g_string_free(out, FALSE);
}

/* meta_str - a string key of the entry, "" when missing; g_free() */
static char *
meta_str(GKeyFile *kf, const char *key)
{
	char *v = g_key_file_get_string(kf, GROUP, key, NULL);

	return v ? v : g_strdup("");
}

/* meta_list - a list key, empty when missing; g_strfreev() */
static char **
meta_list(GKeyFile *kf, const char *key)
{
	char **v = g_key_file_get_string_list(kf, GROUP, key, NULL, NULL);

	return v ? v : g_new0(char *, 1);
}

/* strip_brackets - addr without surrounding angle brackets; g_free() */
static char *
strip_brackets(const char *addr)
{
	size_t n = strlen(addr);

	if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
		return g_strndup(addr + 1, n - 2);
	return g_strdup(addr);
}

/* bracketed - "<a>, <b>" for a list of addresses, made printable */
static char *
bracketed(char *const *addrs)
{
	GString *out = g_string_new(NULL);
	unsigned i;

	for (i = 0; addrs[i]; i++) {
		char *bare = strip_brackets(addrs[i]), *shown = printable(bare, -1, 0);

		g_string_append_printf(out, "%s<%s>", i ? ", " : "", shown);
		g_free(bare);
		g_free(shown);
	}
	return g_string_free(out, FALSE);
}

/* load_conf - the [clamav] keys of sinkd.conf's default policy; 0, or -1
 * with every error printed */
static int
load_conf(const char *path, struct qconf *q)
{
	struct conf_errors e;
	const struct conf_group *g = NULL;
	struct snapshot *s;
	struct passwd *pw;
	unsigned i;

	conf_errors_init(&e);
	s = snapshot_load(path, sinkd_handlers, &e);
	for (i = 0; i < e.msgs->len; i++)
		fprintf(stderr, "%s\n", (char *) g_ptr_array_index(e.msgs, i));
	conf_errors_free(&e);
	if (s == NULL)
		return -1;
	for (i = 0; i < s->nregistry && g == NULL; i++)
		if (!strcmp(s->registry[i]->name, "clamav"))
			g = snapshot_group(s, s->registry[i]);
	if (g == NULL) {
		fprintf(stderr, PROG ": this sinkd has no clamav handler\n");
		snapshot_unref(s);
		return -1;
	}
	q->dir = g_strdup(conf_str(g, "quarantine-dir"));
	q->smtp = !strcmp(conf_str(g, "release-via"), "smtp");
	q->sendmail = g_strdup(conf_str(g, "release-sendmail"));
	q->relay = g_strdup(conf_str(g, "release-relay"));
	pw = getpwnam(conf_str(&s->main, "user"));
	q->user = pw ? pw->pw_uid : (uid_t) -1;
	snapshot_unref(s);
	if (*q->dir == '\0') {
		fprintf(stderr, PROG ": %s: [clamav] quarantine-dir is empty\n", path);
		return -1;
	}
	return 0;
}

/* load_entry - an entry's meta, or NULL with the reason printed */
static GKeyFile *
load_entry(const struct qconf *q, const char *id)
{
	GKeyFile *kf;

	if (!quarantine_id_ok(id)) {
		fprintf(stderr, PROG ": \"%s\" is not a quarantine ID\n", id);
		return NULL;
	}
	kf = quarantine_load_meta(q->dir, id);
	if (kf == NULL && errno == ENOENT)
		fprintf(stderr, PROG ": %s: no such entry in %s\n", id, q->dir);
	else if (kf == NULL)
		fprintf(stderr, PROG ": %s/%s.meta: %s\n", q->dir, id, strerror(errno));
	return kf;
}

/* load_eml - an entry's message, or NULL with the reason printed; *intact
 * says whether its SHA-256 is the one recorded */
static char *
load_eml(const struct qconf *q, GKeyFile *kf, const char *id, size_t *len,
	 int *intact)
{
	char *msg = quarantine_load_message(q->dir, id, len), *sum, *want;

	if (msg == NULL) {
		fprintf(stderr, PROG ": %s/%s.eml: %s\n", q->dir, id, strerror(errno));
		return NULL;
	}
	sum = quarantine_sha256_hex(msg, *len);
	want = meta_str(kf, "sha256");
	*intact = !strcmp(sum, want);
	g_free(sum);
	g_free(want);
	return msg;
}

/* cmd_list - one line per entry: ID, time, sender, recipients, virus,
 * status, separated by tabs */
static int
cmd_list(const struct qconf *q)
{
	char **ids = quarantine_list(q->dir);
	unsigned i;

	if (ids == NULL) {
		fprintf(stderr, PROG ": %s: %s\n", q->dir, strerror(errno));
		return 1;
	}
	for (i = 0; ids[i]; i++) {
		GKeyFile *kf = quarantine_load_meta(q->dir, ids[i]);
		char *f[4], **rcpts, *from, *to;
		unsigned j;

		if (kf == NULL) {
			/* deleted meanwhile, or unreadable: say so, go on */
			if (errno != ENOENT)
				fprintf(stderr, PROG ": %s/%s.meta: %s\n", q->dir, ids[i],
					strerror(errno));
			continue;
		}
		f[0] = meta_str(kf, "time");
		f[1] = meta_str(kf, "sender");
		f[2] = meta_str(kf, "virus");
		f[3] = meta_str(kf, "status");
		rcpts = meta_list(kf, "recipients");
		from = bracketed((char *const[]) {f[1], NULL});
		to = bracketed(rcpts);
		for (j = 0; j < 4; j++) {
			char *p = printable(f[j], -1, 0);

			g_free(f[j]);
			f[j] = p;
		}
		printf("%s\t%s\t%s\t%s\t%s\t%s\n", ids[i], f[0], from, to, f[2], f[3]);
		for (j = 0; j < 4; j++)
			g_free(f[j]);
		g_free(from);
		g_free(to);
		g_strfreev(rcpts);
		g_key_file_free(kf);
	}
	g_strfreev(ids);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* show_meta - every key of the entry as "key: value", lists with ", " */
static void
show_meta(GKeyFile *kf)
{
	char **keys = g_key_file_get_keys(kf, GROUP, NULL, NULL);
	unsigned i;

	for (i = 0; keys && keys[i]; i++) {
		int list = !strcmp(keys[i], "recipients") || !strcmp(keys[i], "released-to");
		char *v, *shown;

		if (list) {
			char **l = meta_list(kf, keys[i]);

			v = bracketed(l);
			g_strfreev(l);
		} else {
			v = meta_str(kf, keys[i]);
		}
		shown = printable(v, -1, 0);
		printf("%s: %s\n", keys[i], shown);
		g_free(shown);
		g_free(v);
	}
	g_strfreev(keys);
}

/* show_header - the message's header block, LF line ends, filtered */
static void
show_header(const char *msg, size_t len)
{
	size_t blen;
	const char *body = quarantine_body(msg, len, &blen);
	GString *h = g_string_sized_new((gsize) (body - msg));
	const char *p;
	char *shown;

	for (p = msg; p < body; p++)
		if (!(*p == '\r' && p + 1 < body && p[1] == '\n'))
			g_string_append_c(h, *p);
	shown = printable(h->str, (gssize) h->len, 1);
	fputs(shown, stdout);
	g_free(shown);
	g_string_free(h, TRUE);
}

/* cmd_show - the meta fields and the header block, or (raw) the bytes */
static int
cmd_show(const struct qconf *q, const char *id, int raw)
{
	GKeyFile *kf = load_entry(q, id);
	size_t len = 0;
	int intact = 0;
	char *msg;

	if (kf == NULL)
		return 1;
	msg = load_eml(q, kf, id, &len, &intact);
	if (msg == NULL) {
		g_key_file_free(kf);
		return 1;
	}
	if (raw) {
		fwrite(msg, 1, len, stdout);
	} else {
		show_meta(kf);
		printf("message: %zu bytes%s\n\n", len,
		       intact ? "" : ", SHA-256 DOES NOT MATCH: the file was changed");
		show_header(msg, len);
	}
	g_free(msg);
	g_key_file_free(kf);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* release_rcpts - the ADDRs given, or the stored recipients, without
 * brackets, each once (the release token binds the set); g_strfreev() */
static char **
release_rcpts(GKeyFile *kf, char **addrs)
{
	char **stored = addrs && *addrs ? NULL : meta_list(kf, "recipients");
	char **from = stored ? stored : addrs;
	GPtrArray *out = g_ptr_array_new();
	unsigned i, j;

	for (i = 0; from[i]; i++) {
		char *a = strip_brackets(from[i]);

		for (j = 0; j < out->len; j++)
			if (!g_ascii_strcasecmp(a, g_ptr_array_index(out, j)))
				break;
		if (j < out->len)
			g_free(a);
		else
			g_ptr_array_add(out, a);
	}
	g_ptr_array_add(out, NULL);
	g_strfreev(stored);
	return (char **) g_ptr_array_free(out, FALSE);
}

/* resend - re-inject with the token first, made for this envelope and
 * body now; 0, or -1 with the reason printed */
static int
resend(const struct qconf *q, const char *id, const char *msg, size_t len,
     const char *sender, char **rcpts)
{
	size_t blen;
	const char *body = quarantine_body(msg, len, &blen);
	struct quarantine_envelope env = {.sender = sender, .rcpts = rcpts};
	char *token = quarantine_token(q->dir, q->user, id, g_get_real_time() / G_USEC_PER_SEC,
				       &env, body, blen);
	char *said = NULL, *shown;
	struct reinject r = {.sender = sender, .rcpts = rcpts, .msg = msg, .len = len};
	int rc;

	if (token == NULL) {
		fprintf(stderr, PROG ": %s/.key: %s\n", q->dir, strerror(errno));
		return -1;
	}
	r.first = g_strconcat(QUARANTINE_HEADER ": ", token, NULL);
	rc = q->smtp ? reinject_smtp(q->relay, &r, &said)
		: reinject_sendmail(q->sendmail, &r, &said);
	shown = printable(said, -1, 0);
	if (rc < 0)
		fprintf(stderr, PROG ": %s: not released: %s\n", id, shown);
	else
		printf("%s: sent via %s %s: %s\n", id, q->smtp ? "smtp" : "sendmail",
		       q->smtp ? q->relay : q->sendmail, shown);
	g_free(shown);
	g_free(said);
	g_free((char *) r.first);
	g_free(token);
	return rc;
}

/* cmd_release - re-inject, then mark the entry released */
static int
cmd_release(const struct qconf *q, const char *id, char **addrs)
{
	GKeyFile *kf = load_entry(q, id);
	char *msg = NULL, *stored = NULL, *sender = NULL, *status = NULL, **rcpts = NULL;
	size_t len = 0;
	int intact = 0, rc = 1;

	if (kf == NULL || (msg = load_eml(q, kf, id, &len, &intact)) == NULL)
		goto out;
	if (!intact) {
		fprintf(stderr, PROG ": %s: the message's SHA-256 is not the one recorded; "
			"not released\n", id);
		goto out;
	}
	status = meta_str(kf, "status");
	if (!strcmp(status, "released"))
		fprintf(stderr, PROG ": note: %s was released before\n", id);
	stored = meta_str(kf, "sender");
	sender = strip_brackets(stored);
	rcpts = release_rcpts(kf, addrs);
	if (rcpts[0] == NULL) {
		fprintf(stderr, PROG ": %s: no recipient stored; give one\n", id);
		goto out;
	}
	if (resend(q, id, msg, len, sender, rcpts) < 0)
		goto out;
	if (quarantine_mark_released(q->dir, id, rcpts) < 0) {
		fprintf(stderr, PROG ": %s: sent, but not marked released: %s\n", id,
			strerror(errno));
		goto out;
	}
	{
		char *to = bracketed(rcpts), *from = printable(sender, -1, 0);

		printf("%s: released from <%s> to %s\n", id, from, to);
		g_free(to);
		g_free(from);
	}
	rc = 0;
out:
	g_strfreev(rcpts);
	g_free(sender);
	g_free(stored);
	g_free(status);
	g_free(msg);
	if (kf)
		g_key_file_free(kf);
	return rc;
}

/* cmd_delete - remove the entry */
static int
cmd_delete(const struct qconf *q, const char *id)
{
	if (!quarantine_id_ok(id)) {
		fprintf(stderr, PROG ": \"%s\" is not a quarantine ID\n", id);
		return 1;
	}
	if (quarantine_delete(q->dir, id) < 0) {
		if (errno == ENOENT)
			fprintf(stderr, PROG ": %s: no such entry in %s\n", id, q->dir);
		else
			fprintf(stderr, PROG ": %s: %s\n", id, strerror(errno));
		return 1;
	}
	printf("%s: deleted\n", id);
	return 0;
}

/* run - one command on argv (argv[0] is its name); an exit status */
static int
run(const struct qconf *q, int argc, char **argv)
{
	const char *cmd = argv[0];

	if (!strcmp(cmd, "list"))
		return argc == 1 ? cmd_list(q) : usage();
	if (!strcmp(cmd, "show")) {
		int raw = argc >= 2 && !strcmp(argv[1], "-r");

		if (argc != 2 + raw)
			return usage();
		return cmd_show(q, argv[1 + raw], raw);
	}
	if (!strcmp(cmd, "release"))
		return argc >= 2 ? cmd_release(q, argv[1], argv + 2) : usage();
	if (!strcmp(cmd, "delete"))
		return argc == 2 ? cmd_delete(q, argv[1]) : usage();
	return usage();
}

/* known_command - whether run() knows name */
static int
known_command(const char *name)
{
	return !strcmp(name, "list") || !strcmp(name, "show")
		|| !strcmp(name, "release") || !strcmp(name, "delete");
}

int
main(int argc, char **argv)
{
	const char *path = SINKD_SYSCONFDIR "/sinkd/sinkd.conf";
	struct qconf q = {0};
	char *abs;
	int c, rc;

	while ((c = getopt(argc, argv, "+c:h")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			help(stdout);
			return 0;
		default:
			return usage();
		}
	}
	if (optind >= argc || !known_command(argv[optind]))
		return usage();
	log_open(PROG, 1, 0);
	g_mime_init();
	/* absolute, as sinkd makes it: relative paths in it resolve the same */
	abs = g_canonicalize_filename(path, NULL);
	if (load_conf(abs, &q) < 0)
		rc = 1;
	else
		rc = run(&q, argc - optind, argv + optind);
	g_free(abs);
	g_mime_shutdown();
	g_free(q.dir);
	g_free(q.sendmail);
	g_free(q.relay);
	return rc;
}
