/*
 * sinkd-list - manage the mailing lists of sinkd's list service
 *	(sinkd-list(8))
 *
 * The store, the SMTP server replies go to and the texts are the list
 * sink's keys in sinkd.conf ([sink:lists], or the group -g names), read
 * with GLib's key file parser as sinkd reads them; -s names a store
 * instead.  Run as root on an SQLite store, it becomes the owner of the
 * store's directory first, so that the files it makes are that user's
 * (sinkd's), not root's.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "lists.h"
#include "store.h"

#define PROG "sinkd-list"

struct tool {
	struct lstore *s;
	char *submit;
	char *templates;
};

static int
usage(void)
{
	fprintf(stderr,
		"usage: " PROG " [-c sinkd.conf] [-g group] [-s store] command [argument ...]\n"
		"  lists                        the lists\n"
		"  create LIST [OWNER ...]      a new list\n"
		"  delete LIST                  a list and its members, requests and held posts\n"
		"  show LIST                    its settings\n"
		"  set LIST KEY VALUE           a setting: %s\n"
		"  add [-r ROLES] LIST ADDRESS ...   members (- reads them from stdin);\n"
		"                               ROLES: member, moderator, owner (default member)\n"
		"  remove LIST ADDRESS ...      members gone\n"
		"  members [-a] LIST            who gets the posts (-a: everyone, with roles)\n"
		"  enable LIST ADDRESS          delivery on again, bounces forgotten\n"
		"  held LIST                    posts waiting for a moderator\n"
		"  pending LIST                 requests waiting for their confirmation\n"
		"  approve LIST TOKEN           send a held post to the list\n"
		"  reject LIST TOKEN            refuse it (the poster is told)\n"
		"  expire                       remove expired requests and held posts\n"
		"  flush                        send what waits in the outbox\n",
		"policy, subject-prefix, description, footer, dmarc, bounce-score");
	return 2;
}

static int
fail(const char *what, char *why)
{
	fprintf(stderr, PROG ": %s%s%s\n", what ? what : "", what ? ": " : "", why);
	g_free(why);
	return 1;
}

/* list_arg - a list address as given, normalized; NULL after saying so */
static char *
list_arg(const char *a)
{
	char *n = ls_addr_norm(a);

	if (n == NULL)
		fprintf(stderr, PROG ": %s: not an address\n", a);
	return n;
}

static long
now_s(void)
{
	return (long) time(NULL);
}

static int
cmd_lists(struct tool *t)
{
	GPtrArray *names;
	char *why = NULL;
	unsigned i;

	if (ls_lists(t->s, &names, &why) < 0)
		return fail(NULL, why);
	for (i = 0; i < names->len; i++)
		printf("%s\n", (char *) names->pdata[i]);
	g_ptr_array_free(names, TRUE);
	return 0;
}

static int
cmd_show(struct tool *t, const char *list)
{
	struct ls_list l;
	char *why = NULL, *footer;
	int rc = ls_list_get(t->s, list, &l, &why);

	if (rc <= 0) {
		ls_list_clear(&l);
		return rc < 0 ? fail(list, why) : fail(list, g_strdup("no such list"));
	}
	footer = g_strescape(l.footer, "");
	printf("list = %s\npolicy = %s\nsubject-prefix = %s\ndescription = %s\n"
	       "dmarc = %s\nfooter = %s\nbounce-score = %ld\n", l.address, l.policy, l.prefix,
	       l.description, l.dmarc, footer, l.bounce_score);
	g_free(footer);
	ls_list_clear(&l);
	return 0;
}

/* roles_of - "member,moderator" as LS_* bits; 0 if bad */
static unsigned
roles_of(const char *s)
{
	char **w = g_strsplit(s, ",", 0);
	unsigned r = 0, i;

	for (i = 0; w[i]; i++) {
		char *x = g_strstrip(w[i]);

		if (!strcmp(x, "member"))
			r |= LS_MEMBER;
		else if (!strcmp(x, "moderator"))
			r |= LS_MODERATOR;
		else if (!strcmp(x, "owner"))
			r |= LS_OWNER;
		else {
			r = 0;
			break;
		}
	}
	g_strfreev(w);
	return r;
}

static char *
roles_name(unsigned r)
{
	GString *s = g_string_new(NULL);

	if (r & LS_MEMBER)
		g_string_append(s, "member,");
	if (r & LS_MODERATOR)
		g_string_append(s, "moderator,");
	if (r & LS_OWNER)
		g_string_append(s, "owner,");
	if (s->len)
		g_string_truncate(s, s->len - 1);
	return g_string_free(s, FALSE);
}

/* addresses - argv's addresses, or stdin's lines for "-"; NULL after
 * saying which is not one */
static GPtrArray *
addresses(int argc, char **argv)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	char line[1024];
	int i;

	for (i = 0; i < argc; i++) {
		char *n;

		if (!strcmp(argv[i], "-")) {
			unsigned no = 0;

			while (fgets(line, sizeof(line), stdin)) {
				char *x = g_strstrip(line);

				no++;
				if (*x == 0 || *x == '#')
					continue;
				if ((n = ls_addr_norm(x)) == NULL) {
					fprintf(stderr, PROG ": stdin:%u: %s: not an address\n", no, x);
					g_ptr_array_free(a, TRUE);
					return NULL;
				}
				g_ptr_array_add(a, n);
			}
			continue;
		}
		if ((n = list_arg(argv[i])) == NULL) {
			g_ptr_array_free(a, TRUE);
			return NULL;
		}
		g_ptr_array_add(a, n);
	}
	g_ptr_array_add(a, NULL);
	return a;
}

static int
cmd_create(struct tool *t, const char *list, int argc, char **argv)
{
	GPtrArray *owners = addresses(argc, argv);
	char *why = NULL;

	if (owners == NULL)
		return 1;
	if (ls_list_create(t->s, list, &why) < 0) {
		g_ptr_array_free(owners, TRUE);
		return fail(list, why);
	}
	if (owners->len > 1 && ls_member_add(t->s, list, (char **) owners->pdata, LS_OWNER,
					     &why) < 0) {
		g_ptr_array_free(owners, TRUE);
		return fail(list, why);
	}
	g_ptr_array_free(owners, TRUE);
	printf("%s: created\n", list);
	return 0;
}

static int
cmd_add(struct tool *t, int argc, char **argv)
{
	unsigned roles = LS_MEMBER;
	GPtrArray *a;
	char *list, *why = NULL;
	int rc = 0;

	if (argc >= 2 && !strcmp(argv[0], "-r")) {
		if ((roles = roles_of(argv[1])) == 0) {
			fprintf(stderr, PROG ": %s: roles are member, moderator, owner\n", argv[1]);
			return 2;
		}
		argc -= 2;
		argv += 2;
	}
	if (argc < 2)
		return usage();
	if ((list = list_arg(argv[0])) == NULL || (a = addresses(argc - 1, argv + 1)) == NULL) {
		g_free(list);
		return 1;
	}
	if (ls_member_add(t->s, list, (char **) a->pdata, roles, &why) < 0)
		rc = fail(list, why);
	else
		printf("%s: %u added\n", list, a->len - 1);
	g_ptr_array_free(a, TRUE);
	g_free(list);
	return rc;
}

static int
cmd_remove(struct tool *t, const char *list, int argc, char **argv)
{
	char *why = NULL;
	int i, rc = 0;

	for (i = 0; i < argc; i++) {
		char *a = list_arg(argv[i]);

		if (a == NULL)
			rc = 1;
		else if (ls_member_remove(t->s, list, a, &why) < 0)
			rc = fail(a, why);
		else
			printf("%s: removed\n", a);
		g_free(a);
	}
	return rc;
}

static int
cmd_members(struct tool *t, int all, const char *list)
{
	GPtrArray *rows;
	char *why = NULL;
	unsigned i;

	if (!all) {
		if (ls_members(t->s, list, LS_MEMBER, 1, &rows, &why) < 0)
			return fail(list, why);
		for (i = 0; i < rows->len; i++)
			printf("%s\n", (char *) rows->pdata[i]);
		g_ptr_array_free(rows, TRUE);
		return 0;
	}
	if (ls_member_rows(t->s, list, &rows, &why) < 0)
		return fail(list, why);
	for (i = 0; i < rows->len; i++) {
		struct ls_member *m = rows->pdata[i];
		char *r = roles_name(m->roles);

		printf("%s %s%s bounces=%ld\n", m->address, r, m->disabled ? " suspended" : "", m->score);
		g_free(r);
	}
	g_ptr_array_free(rows, TRUE);
	return 0;
}

/* print_tokens - one line each */
static void
print_tokens(GPtrArray *rows)
{
	unsigned i;

	for (i = 0; i < rows->len; i++) {
		struct ls_token *k = rows->pdata[i];
		char when[32];
		time_t e = (time_t) k->expires;

		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&e));
		printf("%s %s %s expires %s\n", k->token, k->action,
		       *k->address ? k->address : "<>", when);
	}
}

static int
cmd_tokens(struct tool *t, const char *list, int held)
{
	static const char *const pending[] = {"subscribe", "unsubscribe", NULL};
	static const char *const posts[] = {"post", NULL};
	const char *const *a = held ? posts : pending;
	GPtrArray *rows;
	char *why = NULL;

	for (; *a; a++) {
		if (ls_tokens(t->s, list, *a, now_s(), &rows, &why) < 0)
			return fail(list, why);
		print_tokens(rows);
		g_ptr_array_free(rows, TRUE);
	}
	return 0;
}

static void
flush_log(void *arg, const char *line)
{
	(void) arg;
	printf("sent %s\n", line);
}

static int
flush(struct tool *t)
{
	char *why = NULL;
	int n = lo_flush(t->s, t->submit, 100000, flush_log, NULL, &why);

	if (n < 0) {
		fprintf(stderr, PROG ": not sent now, kept for the next try: %s\n", why);
		g_free(why);
		return 1;
	}
	return 0;
}

static int
cmd_decide(struct tool *t, const char *list, const char *token, int approve)
{
	char *why = NULL;
	int rc = lm_decide(t->s, t->templates, list, token, approve, &why);

	if (rc < 0)
		return fail(list, why);
	if (rc == 0)
		return fail(list, g_strdup_printf("%s: no such held post", token));
	printf("%s: %s\n", token, approve ? "approved" : "refused");
	return flush(t);
}

static int
run(struct tool *t, int argc, char **argv)
{
	const char *cmd = argv[0];
	char *list = NULL, *why = NULL;
	int rc = 2;

	if (!strcmp(cmd, "lists") && argc == 1)
		return cmd_lists(t);
	if (!strcmp(cmd, "expire") && argc == 1) {
		if ((rc = ls_expire(t->s, now_s(), &why)) < 0)
			return fail(NULL, why);
		printf("%d expired\n", rc);
		return 0;
	}
	if (!strcmp(cmd, "flush") && argc == 1)
		return flush(t);
	if (!strcmp(cmd, "add"))
		return cmd_add(t, argc - 1, argv + 1);
	if (!strcmp(cmd, "members") && argc == 3 && !strcmp(argv[1], "-a")) {
		if ((list = list_arg(argv[2])) == NULL)
			return 1;
		rc = cmd_members(t, 1, list);
		g_free(list);
		return rc;
	}
	if (argc < 2)
		return usage();
	if ((list = list_arg(argv[1])) == NULL)
		return 1;
	if (!strcmp(cmd, "create"))
		rc = cmd_create(t, list, argc - 2, argv + 2);
	else if (!strcmp(cmd, "delete") && argc == 2) {
		if (ls_list_delete(t->s, list, &why) < 0)
			rc = fail(list, why);
		else
			printf("%s: deleted\n", list), rc = 0;
	} else if (!strcmp(cmd, "show") && argc == 2)
		rc = cmd_show(t, list);
	else if (!strcmp(cmd, "set") && argc == 4) {
		if (ls_list_set(t->s, list, argv[2], argv[3], &why) < 0)
			rc = fail(list, why);
		else
			rc = 0;
	} else if (!strcmp(cmd, "remove") && argc >= 3)
		rc = cmd_remove(t, list, argc - 2, argv + 2);
	else if (!strcmp(cmd, "members") && argc == 2)
		rc = cmd_members(t, 0, list);
	else if (!strcmp(cmd, "enable") && argc == 3) {
		char *a = list_arg(argv[2]);

		if (a == NULL)
			rc = 1;
		else if (ls_member_enable(t->s, list, a, &why) < 0)
			rc = fail(a, why);
		else
			printf("%s: enabled\n", a), rc = 0;
		g_free(a);
	} else if (!strcmp(cmd, "held") && argc == 2)
		rc = cmd_tokens(t, list, 1);
	else if (!strcmp(cmd, "pending") && argc == 2)
		rc = cmd_tokens(t, list, 0);
	else if ((!strcmp(cmd, "approve") || !strcmp(cmd, "reject")) && argc == 3)
		rc = cmd_decide(t, list, argv[2], !strcmp(cmd, "approve"));
	else
		rc = usage();
	g_free(list);
	return rc;
}

/* conf - the sink group's keys from sinkd.conf; -1 after saying why */
static int
conf(const char *path, const char *group, const char *store, struct tool *t, char **where)
{
	GKeyFile *kf = g_key_file_new();
	GError *e = NULL;
	char *dir = g_path_get_dirname(path), *v;

	*where = NULL;
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &e)) {
		/* no sinkd.conf: the defaults, or -s */
		if (!g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
			fprintf(stderr, PROG ": %s: %s\n", path, e->message);
			g_error_free(e);
			g_key_file_free(kf);
			g_free(dir);
			return -1;
		}
		g_clear_error(&e);
	}
	v = g_key_file_get_string(kf, group, "store", NULL);
	*where = g_strdup(store ? store : v ? g_strstrip(v) : LS_DEFAULT_STORE);
	g_free(v);
	v = g_key_file_get_string(kf, group, "submit", NULL);
	t->submit = g_strdup(v ? g_strstrip(v) : LS_DEFAULT_SUBMIT);
	g_free(v);
	v = g_key_file_get_string(kf, group, "templates", NULL);
	g_strstrip(v ? v : (v = g_strdup("")));
	if (*v && *v != '/') {
		t->templates = g_build_filename(dir, v, NULL);
		g_free(v);
	} else
		t->templates = v;
	g_key_file_free(kf);
	g_free(dir);
	return 0;
}

/* become - as root, the owner of an SQLite store's directory */
static int
become(const char *where)
{
	const char *path = g_str_has_prefix(where, "sqlite:") ? where + 7 : where;
	char *dir;
	struct stat st;
	int rc;

	if (geteuid() != 0 || *path != '/')
		return 0;
	dir = g_path_get_dirname(path);
	rc = stat(dir, &st);
	g_free(dir);
	if (rc < 0 || st.st_uid == 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0) {
		fprintf(stderr, PROG ": cannot become the store's owner: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = SINKD_SYSCONFDIR "/sinkd/sinkd.conf", *group = "lists", *store = NULL;
	struct tool t = {0};
	char *where, *abs, *g, *why = NULL;
	int c, rc;

	while ((c = getopt(argc, argv, "+c:g:s:h")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'g':
			group = optarg;
			break;
		case 's':
			store = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();
	abs = g_canonicalize_filename(path, NULL);
	g = g_strdup_printf("sink:%s", group);
	rc = conf(abs, g, store, &t, &where);
	g_free(abs);
	g_free(g);
	if (rc < 0)
		return 1;
	if (become(where) < 0 || (t.s = ls_open(where, &why)) == NULL) {
		if (why)
			fail(NULL, why);
		g_free(where);
		return 1;
	}
	g_free(where);
	g_mime_init();
	rc = run(&t, argc - optind, argv + optind);
	g_mime_shutdown();
	ls_close(t.s);
	g_free(t.submit);
	g_free(t.templates);
	return rc;
}
