/*
 * policy - load, check, combine and swap configuration snapshots
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <glib.h>

#include "handler.h"
#include "log.h"
#include "policy.h"
#include "sink.h"
#include "event.h"

#define MERGED_CACHE_MAX 256	/* combined inbound policies kept */

static const char *const on_error_values[] = {"reject", "tempfail", "accept", NULL};
static const char *const journal_full_values[] = {"tempfail", "drop-oldest", NULL};

/* The [sinkd] group.  sinkd.conf(5) documents each key; t/ checks it does. */
const struct conf_key sinkd_main_keys[] = {
	{"socket", CONF_SOCKET, "unix:/run/sinkd/sinkd.sock", .flags = CONF_RESTART,
	 .doc = "where sinkd listens: unix:/path, inet:port@host, inet:host:port, inet:[v6addr]:port, inet6:port@host"},
	{"socket-mode", CONF_MODE, "0660", .flags = CONF_RESTART,
	 .doc = "permissions of a unix socket"},
	{"user", CONF_STRING, "sinkd", .flags = CONF_RESTART,
	 .doc = "unprivileged user sinkd runs as after opening its socket"},
	{"group", CONF_STRING, "", .flags = CONF_RESTART,
	 .doc = "group sinkd runs as and that owns a unix socket; empty: the user's primary group"},
	{"allow-root", CONF_BOOL, "no", .flags = CONF_RESTART,
	 .doc = "keep running as root when user is root (not recommended)"},
	{"internal-hosts", CONF_CIDRS, "127.0.0.0/8, ::1",
	 .doc = "clients whose mail is outbound (the sender domain's policy applies)"},
	{"domains-dir", CONF_PATH, "domains",
	 .doc = "directory of default.conf and <domain>.conf policy files"},
	{"spool-dir", CONF_PATH, "/run/sinkd/spool",
	 .doc = "where message bodies over body-memory-limit are kept (unlinked files; tmpfs)"},
	{"chain", CONF_LIST, "protocol",
	 .doc = "handlers to run, in order"},
	{"backlog", CONF_INT, "128", 1, 65535, .flags = CONF_RESTART,
	 .doc = "listen(2) backlog of the socket"},
	{"timeout", CONF_TIME, "7210", 1, 86400, .flags = CONF_RESTART,
	 .doc = "how long to wait for the MTA before dropping a connection"},
	{"max-connections", CONF_INT, "1000", 0, 1000000,
	 .doc = "MTA connections served at once; one more is refused at connect with 421 4.3.2; 0: no limit"},
	{"max-message-size", CONF_SIZE, "50m", 0, 1LL << 40,
	 .doc = "larger messages are refused with 552 5.3.4 (by MAIL FROM SIZE= when no handler reads the body); 0: no limit"},
	{"body-memory-limit", CONF_SIZE, "1m", 0, 1LL << 30,
	 .doc = "a message larger than this is kept in a file in spool-dir"},
	{"shutdown-timeout", CONF_TIME, "30s", 0, 3600,
	 .doc = "on SIGTERM, how long messages in flight may take to finish"},
	{"debug", CONF_BOOL, "no",
	 .doc = "log debug lines"},
	{"state-dir", CONF_PATH, "/var/lib/sinkd", .flags = CONF_RESTART,
	 .doc = "where sinkd keeps what must outlive it: the journal of after-accept events (sinkd-events(5))"},
	{"journal-size", CONF_SIZE, "1g", 64 << 10, 1LL << 40, .flags = CONF_RESTART,
	 .doc = "the most the journal of events and its message copies may take on disk"},
	{"journal-full", CONF_ENUM, "tempfail", .values = journal_full_values, .flags = CONF_RESTART,
	 .doc = "when the journal is full: tempfail the message, or drop-oldest events to make room"},
	{"pid-file", CONF_PATH, "/run/sinkd/sinkd.pid", .flags = CONF_RESTART,
	 .doc = "the daemon's pid, locked while it runs: a second sinkd on it (or on the same unix socket) refuses to start"},
	{"control-socket", CONF_STRING, "", .flags = CONF_RESTART,
	 .doc = "the unix socket sinkd -S asks (root and sinkd's group only); empty: control.sock beside pid-file; none: no socket"},
	{"log-file", CONF_PATH, "", .flags = CONF_RESTART,
	 .doc = "also log to this file (appended; opened again on SIGUSR1); empty: none"},
	{"syslog-facility", CONF_ENUM, "mail", .values = log_facility_names, .flags = CONF_RESTART,
	 .doc = "syslog facility: mail, daemon, user, local0 to local7"},
	{"syslog-socket", CONF_PATH, "/dev/log", .flags = CONF_RESTART,
	 .doc = "the syslog daemon's socket; empty: no syslog"},
	{"metrics-listen", CONF_STRING, "", .flags = CONF_RESTART,
	 .doc = "where to serve GET /metrics and /healthz over HTTP: host:port, [v6addr]:port or unix:/path; empty: nowhere"},
	{"metrics-max-domains", CONF_INT, "50", 1, 1000,
	 .doc = "distinct policy domains (and virus names) the metrics count by name; past it they count as other"},
	{NULL},
};

const char *const direction_values[] = {"outbound", "inbound", "both", NULL};

/* direction_applies - whether a key direction (enum direction) takes in
 * mail that is outbound or not */
int
direction_applies(int direction, int outbound)
{
	return direction == DIRECTION_BOTH || (direction == DIRECTION_OUTBOUND) == (outbound != 0);
}

/* Keys every handler group has. */
const struct conf_key sinkd_common_keys[] = {
	{"on-error", CONF_ENUM, "tempfail", .values = on_error_values,
	 .merge = MERGE_ENUM,
	 .doc = "what a failure of the handler itself means: tempfail, reject or accept"},
	{NULL},
};

G_LOCK_DEFINE_STATIC(current);
static struct snapshot *current;

/* handler_tables - the key tables of a handler's group */
static void
handler_tables(const struct handler *h, const struct conf_key *t[3])
{
	t[0] = sinkd_common_keys;
	t[1] = h->keys;
	t[2] = NULL;
	if (g_str_has_prefix(h->name, "event:")) {	/* a target's: its own */
		t[0] = h->keys;
		t[1] = NULL;
	}
}

void
policy_free(struct policy *p)
{
	const struct snapshot *s;
	unsigned i;

	if (p == NULL)
		return;
	s = p->snap;
	for (i = 0; p->cfg && i < s->nchain; i++)
		if (p->cfg[i] && s->chain[i]->unload)
			s->chain[i]->unload(p->cfg[i]);
	for (i = 0; p->groups && i < s->nregistry; i++)
		conf_group_free(&p->groups[i]);
	for (i = 0; p->inbound && i < s->nregistry; i++)
		conf_group_free(&p->inbound[i]);
	g_free(p->groups);
	g_free(p->inbound);
	g_free(p->cfg);
	g_free(p->domain);
	g_free(p->file);
	if (p->decided)
		g_ptr_array_free(p->decided, TRUE);
	g_free(p);
}

/* policy_compile - run each chained handler's load; errors counted */
static int
policy_compile(struct policy *p, struct conf_errors *e)
{
	const struct snapshot *s = p->snap;
	unsigned i, before = e->msgs->len;

	p->cfg = g_new0(void *, s->nchain);
	for (i = 0; i < s->nchain; i++) {
		const struct handler *h = s->chain[i];

		if (h->load_self)
			p->cfg[i] = h->load_self(h, &p->groups[s->chain_reg[i]], e);
		else if (h->load)
			p->cfg[i] = h->load(&p->groups[s->chain_reg[i]], e);
		else
			continue;
		if (p->cfg[i] == NULL && e->msgs->len == before)
			conf_errorf(e, "%s: handler %s failed to load its policy",
				    p->domain, h->name);
	}
	return e->msgs->len == before ? 0 : -1;
}

/* handler_names - "a, b, c" */
static char *
handler_names(const struct snapshot *s)
{
	GString *all = g_string_new(NULL);
	unsigned j;

	for (j = 0; j < s->nregistry; j++)
		g_string_append_printf(all, "%s%s", j ? ", " : "", s->registry[j]->name);
	return g_string_free(all, FALSE);
}

/* policy_from - a policy inheriting parent's groups, overlaid with f */
static struct policy *
policy_from(struct snapshot *s, const struct policy *parent,
	    const char *domain, const struct conf_file *f, int per_domain,
	    struct conf_errors *e)
{
	struct policy *p = g_new0(struct policy, 1);
	char **groups;
	unsigned i, j;

	p->domain = g_strdup(domain);
	p->snap = s;
	p->file = g_strdup(conf_file_path(f));
	p->groups = g_new0(struct conf_group, s->nregistry);
	for (i = 0; i < s->nregistry; i++) {
		conf_group_copy(&p->groups[i], &parent->groups[i], p->domain);
		conf_group_apply(&p->groups[i], f, s->conf_dir, per_domain, e);
	}
	groups = conf_file_groups(f);
	for (j = 0; groups[j]; j++) {
		if (!strcmp(groups[j], "sinkd")) {
			conf_errorf(e, "%s:%d: [sinkd]: belongs in sinkd.conf, not in a policy file",
				    conf_file_path(f), conf_file_group_line(f, groups[j]));
			continue;
		}
		if (!per_domain && g_str_has_prefix(groups[j], "sink:"))
			sink_policy_file(f, groups[j], e);	/* domains': NODOMAIN */
		for (i = 0; i < s->nregistry; i++)
			if (!strcmp(groups[j], s->registry[i]->name))
				break;
		if (i == s->nregistry) {
			char *known = handler_names(s);

			conf_errorf(e, "%s:%d: [%s]: unknown group (handlers: %s)",
				    conf_file_path(f), conf_file_group_line(f, groups[j]),
				    groups[j], known);
			g_free(known);
		}
	}
	g_strfreev(groups);
	return p;
}

/* cmp_domain - g_ptr_array_sort order of strings */
static gint
cmp_domain(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* domain_name_ok - a plausible domain name for a policy file */
static int
domain_name_ok(const char *d)
{
	const char *p;

	if (*d == 0 || *d == '.' || strstr(d, ".."))
		return 0;
	for (p = d; *p; p++)
		if (!isalnum((unsigned char) *p) && *p != '.' && *p != '-')
			return 0;
	return 1;
}

/* load_domains - default.conf, then one policy per <domain>.conf */
static void
load_domains(struct snapshot *s, struct policy *base, struct conf_errors *e)
{
	const char *dir = conf_str(&s->main, "domains-dir");
	GError *err = NULL;
	GPtrArray *names;
	const char *name;
	char *path;
	struct conf_file *f;
	GDir *d;
	guint i;

	d = g_dir_open(dir, 0, &err);
	if (d == NULL && err->code == G_FILE_ERROR_NOENT
	    && conf_get(&s->main, "domains-dir")->file == NULL) {
		/* the default directory need not exist: no policy files */
		g_error_free(err);
		s->def = base;
		return;
	}
	if (d == NULL) {
		conf_key_error(e, &s->main, "domains-dir", "%s: %s", dir,
			       g_strerror(err->code == G_FILE_ERROR_NOENT ? ENOENT
					  : err->code == G_FILE_ERROR_ACCES ? EACCES
					  : err->code == G_FILE_ERROR_NOTDIR ? ENOTDIR : EIO));
		g_error_free(err);
		s->def = base;
		return;
	}
	names = g_ptr_array_new_with_free_func(g_free);
	while ((name = g_dir_read_name(d)) != NULL)
		if (g_str_has_suffix(name, ".conf") && name[0] != '.')
			g_ptr_array_add(names, g_strdup(name));
	g_dir_close(d);
	g_ptr_array_sort(names, cmp_domain);

	path = g_build_filename(dir, "default.conf", NULL);
	s->def = base;
	if (g_file_test(path, G_FILE_TEST_EXISTS)) {
		if ((f = conf_file_read(path, e)) != NULL) {
			s->def = policy_from(s, base, "default", f, 0, e);
			policy_free(base);
			conf_file_free(f);
		}
	}
	g_free(path);

	for (i = 0; i < names->len; i++) {
		char *file = g_ptr_array_index(names, i), *domain;

		if (!strcmp(file, "default.conf"))
			continue;
		domain = g_ascii_strdown(file, strlen(file) - 5);
		path = g_build_filename(dir, file, NULL);
		if (!domain_name_ok(domain)) {
			conf_errorf(e, "%s: file name is not <domain>.conf", path);
		} else if ((f = conf_file_read(path, e)) != NULL) {
			g_hash_table_replace(s->domains, g_strdup(domain),
					     policy_from(s, s->def, domain, f, 1, e));
			conf_file_free(f);
		}
		g_free(path);
		g_free(domain);
	}
	g_ptr_array_free(names, TRUE);
}

/* resolve_chain - chain names to handlers */
static void
resolve_chain(struct snapshot *s, struct conf_errors *e)
{
	char *const *names = conf_list(&s->main, "chain");
	unsigned i, j, n = names ? g_strv_length((char **) names) : 0;

	s->chain = g_new0(const struct handler *, n + 1);
	s->chain_reg = g_new0(unsigned, n + 1);
	for (i = 0; i < n; i++) {
		for (j = 0; j < s->nregistry; j++)
			if (!strcmp(names[i], s->registry[j]->name))
				break;
		if (j == s->nregistry && g_str_has_prefix(names[i], "sink:"))
			continue;	/* sink_set_load() said why */
		if (g_str_has_prefix(names[i], "event:")) {
			conf_key_error(e, &s->main, "chain", "\"%s\" is an event target, not a handler (its group alone makes it one)",
				       names[i]);
			continue;
		}
		if (j == s->nregistry) {
			char *known = handler_names(s);

			conf_key_error(e, &s->main, "chain", "unknown handler \"%s\" (known: %s)",
				       names[i], known);
			g_free(known);
			continue;
		}
		for (unsigned k = 0; k < s->nchain; k++)
			if (s->chain[k] == s->registry[j])
				conf_key_error(e, &s->main, "chain", "handler \"%s\" listed twice",
					       names[i]);
		s->chain_reg[s->nchain] = j;
		s->chain[s->nchain++] = s->registry[j];
		s->needs |= s->registry[j]->needs;
	}
}

/* check_groups - every group of sinkd.conf is [sinkd] or a handler's */
static void
check_groups(struct snapshot *s, const struct conf_file *f,
	     struct conf_errors *e)
{
	char **groups = conf_file_groups(f);
	unsigned i, j;

	for (j = 0; groups[j]; j++) {
		if (!strcmp(groups[j], "sinkd") || g_str_has_prefix(groups[j], "sink:")
		    || g_str_has_prefix(groups[j], "event:"))
			continue;	/* sink_set_load(), event_set_load() checked them */
		for (i = 0; i < s->nregistry; i++)
			if (!strcmp(groups[j], s->registry[i]->name))
				break;
		if (i == s->nregistry)
			conf_errorf(e, "%s:%d: [%s]: unknown group (neither [sinkd] nor a handler)",
				    conf_file_path(f), conf_file_group_line(f, groups[j]),
				    groups[j]);
	}
	g_strfreev(groups);
}

static void
snapshot_free(struct snapshot *s)
{
	if (s->domains)
		g_hash_table_destroy(s->domains);
	if (s->merged)
		g_hash_table_destroy(s->merged);
	policy_free(s->def);
	g_mutex_clear(&s->merge_lock);
	conf_group_free(&s->main);
	sock_free(&s->socket);
	cidr_list_free(s->internal);
	g_free(s->chain);
	g_free(s->chain_reg);
	/* after the policies: their sink configs are the sinks' */
	sink_set_free(s->sinks);
	event_set_free(s->events);
	g_free(s->own_registry);
	g_free(s->conf_path);
	g_free(s->conf_dir);
	g_free(s);
}

/* user_uid - the uid of the user called name, or (uid_t) -1 */
static uid_t
user_uid(const char *name)
{
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (getpwnam_r(name, &pw, buf, sizeof(buf), &found) != 0 || found == NULL)
		return (uid_t) -1;
	return pw.pw_uid;
}

/* in_group - whether user name (primary group pgid) is in group gid */
static int
in_group(const char *name, gid_t pgid, gid_t gid)
{
	struct group gr, *found = NULL;
	char buf[16384];
	unsigned i;

	if (pgid == gid)
		return 1;
	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &found) != 0 || found == NULL)
		return 1;	/* cannot tell: no warning */
	for (i = 0; gr.gr_mem[i]; i++)
		if (!strcmp(gr.gr_mem[i], name))
			return 1;
	return 0;
}

/*
 * socket_reach - warn of a unix socket the MTA cannot connect to.
 * Connecting needs write permission on the socket, which sinkd's user
 * owns with group "group" (or that user's primary group).  Without
 * write permission for the group or others, only sinkd's user can
 * connect, and Postfix's smtpd runs as user postfix; with the group's,
 * the MTA's user must be in that group.  Only a user postfix that
 * exists is looked at: Sendmail connects as root.
 */
static void
socket_reach(const struct snapshot *s, struct conf_errors *e)
{
	unsigned mode = (unsigned) conf_num(&s->main, "socket-mode");
	const char *user = conf_str(&s->main, "user"), *group = conf_str(&s->main, "group");
	struct passwd pw, *mta = NULL, upw, *u = NULL;
	struct group gr, *g = NULL;
	char b1[4096], b2[4096], b3[16384];
	gid_t gid;

	if (s->socket.family != AF_UNIX || (mode & S_IWOTH))
		return;
	if (getpwnam_r("postfix", &pw, b1, sizeof(b1), &mta) != 0 || mta == NULL
	    || !strcmp(user, "postfix"))
		mta = NULL;
	if (!(mode & S_IWGRP)) {
		conf_key_warn(e, &s->main, "socket-mode",
			      "%04o: only user %s can connect to %s; the MTA's user (postfix for Postfix) needs the group's write permission (0660) and group = a group it is in",
			      mode, user, s->socket.path);
		return;
	}
	if (mta == NULL || getpwnam_r(user, &upw, b2, sizeof(b2), &u) != 0 || u == NULL)
		return;
	if (*group) {
		if (getgrnam_r(group, &gr, b3, sizeof(b3), &g) != 0 || g == NULL)
			return;
		gid = g->gr_gid;
	} else {
		gid = u->pw_gid;
	}
	if (!in_group("postfix", mta->pw_gid, gid)) {
		g = NULL;
		if (getgrgid_r(gid, &gr, b3, sizeof(b3), &g) != 0)
			g = NULL;
		conf_key_warn(e, &s->main, conf_get(&s->main, "group")->file ? "group"
			      : conf_get(&s->main, "user")->file ? "user" : "socket-mode",
			      "the socket's group %s does not have user postfix in it, so Postfix cannot connect; add postfix to it (usermod -aG %s postfix) or set group = postfix",
			      g ? g->gr_name : "?", g ? g->gr_name : "GROUP");
	}
}

/* policy_decides - the steps at which p's handler configs may refuse; a
 * combined policy's are among its domains', so the snapshot's union over
 * the default and every domain covers every policy it can hand out */
static unsigned
policy_decides(const struct policy *p)
{
	unsigned i, at = 0;

	for (i = 0; i < p->snap->nchain; i++)
		at |= handler_decides(p->snap->chain[i], p->cfg[i]);
	return at;
}

/* policy_inbound - p's inbound view: a copy of each group as its
 * handler's inbound hook says it acts on inbound mail; a handler without
 * the hook is compared on every key when in the chain, on none when not */
static void
policy_inbound(struct policy *p)
{
	const struct snapshot *s = p->snap;
	unsigned i, k;

	p->inbound = g_new0(struct conf_group, s->nregistry);
	for (i = 0; i < s->nregistry; i++) {
		const struct handler *h = s->registry[i];
		int chained = snapshot_in_chain(s, h);

		conf_group_copy(&p->inbound[i], &p->groups[i], p->domain);
		if (h->inbound)
			h->inbound(&p->inbound[i], chained);
		else if (!chained)
			for (k = 0; k < p->inbound[i].n; k++)
				p->inbound[i].val[k].unused = 1;
	}
}

/* find_conflicts - whether some two of the snapshot's policies differ on
 * a key that must agree (in one pass per key: the first value in use
 * against every other one) */
static int
find_conflicts(const struct snapshot *s)
{
	GPtrArray *all = g_ptr_array_new();
	GHashTableIter it;
	gpointer v;
	unsigned i, k, j;
	int found = 0;

	g_ptr_array_add(all, s->def);
	g_hash_table_iter_init(&it, s->domains);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(all, v);
	for (i = 0; i < s->nregistry && !found; i++) {
		const struct conf_group *g0 = &s->def->inbound[i];

		for (k = 0; k < g0->n && !found; k++) {
			const struct conf_value *first = NULL;

			if (g0->key[k]->merge != MERGE_AGREE)
				continue;
			for (j = 0; j < all->len && !found; j++) {
				const struct conf_value *x =
					&((struct policy *) g_ptr_array_index(all, j))->inbound[i].val[k];

				if (x->unused)
					continue;
				if (first == NULL)
					first = x;
				else if (!conf_value_same(g0->key[k], first, x))
					found = 1;
			}
		}
	}
	g_ptr_array_free(all, TRUE);
	return found;
}

/*
 * policy_conflict - the key on which policies a and b differ although it
 * must agree (MERGE_AGREE), with its group in *group; NULL when mail for
 * both may share one transaction
 */
const char *
policy_conflict(const struct policy *a, const struct policy *b,
		const char **group)
{
	const struct snapshot *s = a->snap;
	const char *key;
	unsigned i;

	if (a == b || a->inbound == NULL || b->inbound == NULL)
		return NULL;
	for (i = 0; i < s->nregistry; i++) {
		if ((key = conf_group_conflict(&a->inbound[i], &b->inbound[i])) != NULL) {
			if (group)
				*group = s->registry[i]->name;
			return key;
		}
	}
	return NULL;
}

/* snapshot_load - read and check everything; NULL when e has errors */
struct snapshot *
snapshot_load(const char *path, const struct handler *const *registry,
	      struct conf_errors *e)
{
	static const struct conf_key *main_tables[] = {sinkd_main_keys, NULL};
	struct snapshot *s = g_new0(struct snapshot, 1);
	struct conf_file *f;
	struct policy *base;
	const char *bad = NULL, *why = NULL, *cs;
	unsigned before = e->msgs->len, i;
	GHashTableIter it;
	gpointer v;

	s->refs = 1;
	s->registry = registry;
	while (registry[s->nregistry])
		s->nregistry++;
	s->conf_path = g_strdup(path);
	s->conf_dir = g_path_get_dirname(path);
	g_mutex_init(&s->merge_lock);
	s->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   (GDestroyNotify) policy_free);
	s->merged = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					  (GDestroyNotify) policy_free);
	conf_group_init(&s->main, "sinkd", "default", main_tables, s->conf_dir, e);
	f = conf_file_read(path, e);
	if (f == NULL)
		goto fail;
	conf_group_apply(&s->main, f, s->conf_dir, 0, e);
	check_groups(s, f, e);
	/* from here on, files of sinkd's user are trusted too; sinkd.conf,
	 * which names that user, had to be root's (or the process's own) */
	e->user = user_uid(conf_str(&s->main, "user"));
	/* the sinks' handlers join the registry: their groups and chain
	 * entries are known from here on */
	if ((s->sinks = sink_set_load(s, f, e)) != NULL) {
		s->registry = s->own_registry = sink_set_registry(s->sinks, registry);
		s->nregistry = 0;
		while (s->registry[s->nregistry])
			s->nregistry++;
	}
	/* and the event targets' ([event:NAME]), which are never chained */
	if ((s->events = event_set_load(s, f, e)) != NULL) {
		const struct handler **r = event_set_registry(s->events, (const struct handler **) s->registry);

		g_free(s->own_registry);
		s->registry = s->own_registry = r;
		s->nregistry = 0;
		while (s->registry[s->nregistry])
			s->nregistry++;
	}
	if (sock_parse(conf_str(&s->main, "socket"), &s->socket, &why) < 0)
		conf_key_error(e, &s->main, "socket", "%s", why);
	cs = conf_str(&s->main, "control-socket");
	if (*cs && strcmp(cs, "none") && !g_path_is_absolute(cs))
		conf_key_error(e, &s->main, "control-socket", "%s: not an absolute path", cs);
	else if (strlen(cs) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
		conf_key_error(e, &s->main, "control-socket", "%s: too long for a unix socket", cs);
	else
		socket_reach(s, e);
	if (*conf_str(&s->main, "metrics-listen")) {
		struct sock_spec ml;

		if (sock_parse_listen(conf_str(&s->main, "metrics-listen"), &ml, &why) < 0)
			conf_key_error(e, &s->main, "metrics-listen", "%s", why);
		else
			sock_free(&ml);
	}
	s->internal = cidr_list_parse((char **) conf_list(&s->main, "internal-hosts"),
				      &bad, &why);
	resolve_chain(s, e);
	/* an event carries the headers and the message's hash */
	if (event_any(s))
		s->needs |= HANDLER_NEEDS_HEADERS | HANDLER_NEEDS_BODY;

	base = g_new0(struct policy, 1);
	base->domain = g_strdup("default");
	base->snap = s;
	base->file = g_strdup(path);
	base->groups = g_new0(struct conf_group, s->nregistry);
	for (i = 0; i < s->nregistry; i++) {
		const struct conf_key *t[3];

		handler_tables(s->registry[i], t);
		conf_table_check(s->registry[i]->name, t, e);
		conf_group_init(&base->groups[i], s->registry[i]->name, base->domain,
				t, s->conf_dir, e);
		conf_group_apply(&base->groups[i], f, s->conf_dir, 0, e);
	}
	conf_file_free(f);
	load_domains(s, base, e);
	/* compile even after errors, so that -n reports everything at once */
	policy_compile(s->def, e);
	g_hash_table_iter_init(&it, s->domains);
	while (g_hash_table_iter_next(&it, NULL, &v))
		policy_compile(v, e);
	event_set_check(s, e);
	if (e->msgs->len != before)
		goto fail;
	s->decides = policy_decides(s->def);
	policy_inbound(s->def);
	g_hash_table_iter_init(&it, s->domains);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		s->decides |= policy_decides(v);
		policy_inbound(v);
	}
	/* recipients of domains that must not share a transaction are told
	 * at RCPT TO, which then needs a reply */
	s->conflicts = find_conflicts(s);
	if (s->conflicts)
		s->decides |= HANDLER_AT_RCPT;
	/* last: a sink's init sees a configuration that loads */
	if (sink_set_init(s->sinks, s, e) < 0)
		goto fail;
	return s;
fail:
	snapshot_free(s);
	return NULL;
}

struct snapshot *
snapshot_ref(struct snapshot *s)
{
	g_atomic_int_inc(&s->refs);
	return s;
}

void
snapshot_unref(struct snapshot *s)
{
	if (s && g_atomic_int_dec_and_test(&s->refs))
		snapshot_free(s);
}

/* snapshot_install - make s the live snapshot (takes over the caller's ref) */
void
snapshot_install(struct snapshot *s)
{
	struct snapshot *old;

	G_LOCK(current);
	old = current;
	current = s;
	G_UNLOCK(current);
	snapshot_unref(old);
}

/* snapshot_current - a reference to the live snapshot */
struct snapshot *
snapshot_current(void)
{
	struct snapshot *s;

	G_LOCK(current);
	s = current ? snapshot_ref(current) : NULL;
	G_UNLOCK(current);
	return s;
}

/* policy_for_domain - the domain's, a parent domain's, or the default */
const struct policy *
policy_for_domain(const struct snapshot *s, const char *domain)
{
	const char *d = domain;
	const struct policy *p;

	while (d && *d) {
		if ((p = g_hash_table_lookup(s->domains, d)) != NULL)
			return p;
		d = strchr(d, '.');
		if (d)
			d++;
	}
	return s->def;
}

/* cmp_policy - g_qsort order of policies: by domain name */
static gint
cmp_policy(gconstpointer a, gconstpointer b, gpointer unused)
{
	(void) unused;
	return strcmp((*(const struct policy *const *) a)->domain,
		      (*(const struct policy *const *) b)->domain);
}

/*
 * note_decided - for debug logging: each key of group dst (combined from
 * src, the groups of policies p[0..n-1]) on which the domains differ, as
 * "[group] key: a.test: value (file:line); b.test: ...; rule RULE: value"
 */
static void
note_decided(struct policy *m, const struct conf_group *dst,
	     const struct conf_group *const *src, const struct policy *const *p,
	     unsigned n)
{
	unsigned k, j;

	for (k = 0; k < dst->n; k++) {
		const struct conf_value *first = NULL;
		int differ = 0;
		GString *l;
		char *v;

		for (j = 0; j < n; j++) {
			if (src[j]->val[k].unused)
				continue;
			if (first && !conf_value_same(dst->key[k], first, &src[j]->val[k]))
				differ = 1;
			first = first ? first : &src[j]->val[k];
		}
		if (!differ)
			continue;
		l = g_string_new(NULL);
		g_string_append_printf(l, "[%s] %s:", dst->name, dst->key[k]->name);
		for (j = 0; j < n; j++) {
			char *o = conf_value_origin(&src[j]->val[k]);

			if (!src[j]->val[k].unused)
				g_string_append_printf(l, " %s: \"%s\" (%s);", p[j]->domain,
						       src[j]->val[k].raw, o);
			g_free(o);
		}
		v = g_strescape(dst->val[k].raw, NULL);
		g_string_append_printf(l, " rule %s: \"%s\"", conf_merge_name(dst->key[k]->merge), v);
		g_free(v);
		if (m->decided == NULL)
			m->decided = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(m->decided, g_string_free(l, FALSE));
	}
}

/* policy_combine - the strictest combination of n policies, built from
 * their inbound views in the order of their domain names, so that the
 * recipients' order makes no difference; NULL when it cannot be built
 * (domains that must agree do not, or a handler refuses the result: the
 * caller tempfails).  *owned is set when the result is not cached and
 * must be freed with the message. */
const struct policy *
policy_combine(struct snapshot *s, const struct policy *const *p, unsigned n,
	       struct policy **owned)
{
	GPtrArray *names = g_ptr_array_new();
	const struct policy **uniq = g_new0(const struct policy *, n);
	struct conf_errors e;
	struct policy *m = NULL;
	unsigned i, j, nu = 0;
	GPtrArray *files;
	char *key;

	*owned = NULL;
	for (i = 0; i < n; i++) {
		for (j = 0; j < nu; j++)
			if (uniq[j] == p[i])
				break;
		if (j == nu)
			uniq[nu++] = p[i];
	}
	if (nu == 1) {
		const struct policy *only = uniq[0];

		g_free(uniq);
		g_ptr_array_free(names, TRUE);
		return only;
	}
	g_qsort_with_data(uniq, nu, sizeof(*uniq), cmp_policy, NULL);
	for (i = 0; i < nu; i++)
		g_ptr_array_add(names, uniq[i]->domain);
	g_ptr_array_add(names, NULL);
	key = g_strjoinv(",", (char **) names->pdata);
	g_mutex_lock(&s->merge_lock);
	m = g_hash_table_lookup(s->merged, key);
	g_mutex_unlock(&s->merge_lock);
	if (m)
		goto done;

	files = g_ptr_array_new();
	m = g_new0(struct policy, 1);
	m->domain = g_strdup(key);
	m->snap = s;
	m->groups = g_new0(struct conf_group, s->nregistry);
	conf_errors_init(&e);
	for (i = 0; i < s->nregistry; i++) {
		const struct conf_group **src = g_new0(const struct conf_group *, nu);
		const char *bad = NULL;

		for (j = 0; j < nu; j++)
			src[j] = uniq[j]->inbound ? &uniq[j]->inbound[i] : &uniq[j]->groups[i];
		if (conf_group_merge(&m->groups[i], src, nu, &s->def->groups[i],
				     m->domain, &bad) < 0)
			conf_errorf(&e, "[%s] %s differs and must agree",
				    s->registry[i]->name, bad);
		else if (snapshot_in_chain(s, s->registry[i]))
			note_decided(m, &m->groups[i], src, uniq, nu);
		g_free(src);
	}
	for (i = 0; i < nu; i++)
		g_ptr_array_add(files, uniq[i]->file);
	g_ptr_array_add(files, NULL);
	m->file = g_strjoinv(", ", (char **) files->pdata);
	g_ptr_array_free(files, TRUE);
	e.user = user_uid(conf_str(&s->main, "user"));
	if (e.msgs->len > 0 || policy_compile(m, &e) < 0) {
		log_error("cannot combine policies %s: %s", key,
			  (char *) g_ptr_array_index(e.msgs, 0));
		policy_free(m);
		m = NULL;
	} else {
		g_mutex_lock(&s->merge_lock);
		if (g_hash_table_lookup(s->merged, key)) {
			policy_free(m);
			m = g_hash_table_lookup(s->merged, key);
		} else if (g_hash_table_size(s->merged) < MERGED_CACHE_MAX) {
			g_hash_table_insert(s->merged, g_strdup(key), m);
		} else {
			*owned = m;
		}
		g_mutex_unlock(&s->merge_lock);
	}
	conf_errors_free(&e);
done:
	g_free(key);
	g_free(uniq);
	g_ptr_array_free(names, TRUE);
	return m;
}

/* policy_group - the key group of the handler at a chain position */
const struct conf_group *
policy_group(const struct policy *p, unsigned chainpos)
{
	return &p->groups[p->snap->chain_reg[chainpos]];
}

/* policy_handler_cfg - handler h's compiled config in policy p, or NULL
 * when h is not in the chain */
const void *
policy_handler_cfg(const struct policy *p, const struct handler *h)
{
	unsigned i;

	for (i = 0; i < p->snap->nchain; i++)
		if (p->snap->chain[i] == h)
			return p->cfg[i];
	return NULL;
}

/* snapshot_group - handler h's group as the default policy has it: where
 * its process-wide (not per domain) keys are read; NULL: not registered */
const struct conf_group *
snapshot_group(const struct snapshot *s, const struct handler *h)
{
	return policy_group_of(s->def, h);
}

/* policy_group_of - handler h's group in policy p, whether or not h is
 * in the chain (a handler may follow another's keys); NULL: not
 * registered */
const struct conf_group *
policy_group_of(const struct policy *p, const struct handler *h)
{
	unsigned i;

	for (i = 0; i < p->snap->nregistry; i++)
		if (p->snap->registry[i] == h)
			return &p->groups[i];
	return NULL;
}

/* snapshot_in_chain - whether h is in the snapshot's chain */
int
snapshot_in_chain(const struct snapshot *s, const struct handler *h)
{
	unsigned i;

	for (i = 0; i < s->nchain; i++)
		if (s->chain[i] == h)
			return 1;
	return 0;
}

/* print_value - "# origin[; note]" and "key = value" for sinkd -P */
static void
print_value(FILE *out, const struct conf_key *k, const struct conf_value *v,
	    const struct conf_value *def)
{
	char *origin = conf_value_origin(v), *was = NULL, *val;

	/* a credential is never printed, only where it is set */
	val = k->flags & CONF_SECRET ? g_strdup("(secret, not shown)") : conf_value_escape(v->raw);

	if (def && v->file != def->file && def->file && v->added_to == NULL
	    && (k->type == CONF_LIST || k->type == CONF_CIDRS)
	    && def->list && def->list[0])
		was = conf_value_origin(def);
	fprintf(out, "# %s%s%s%s\n%s = %s\n", origin,
		was ? "; replaces the default policy's list from " : "",
		was ? was : "", was ? " (write += to add to it)" : "",
		k->name, val);
	g_free(was);
	g_free(origin);
	g_free(val);
}

/* print_group - the keys of g set in a file, each with where; def: the
 * default policy's group, when g is a domain's */
static void
print_group(FILE *out, const struct conf_group *g, const struct conf_group *def,
	    const char *note)
{
	unsigned i, shown = 0;

	for (i = 0; i < g->n; i++) {
		if (g->val[i].file == NULL)
			continue;
		if (shown++ == 0)
			fprintf(out, "\n[%s]\n%s", g->name, note ? note : "");
		print_value(out, g->key[i], &g->val[i], def ? &def->val[i] : NULL);
	}
}

/*
 * policy_print - sinkd -P: the policy for domain ("default": the default
 * policy) as a configuration, every key whose value is not the built-in
 * default under a comment line with the file:line it came from (or every
 * place, for a list added to with +=), and where a domain's list replaces
 * the default policy's, from where; [sinkd] with the default policy only,
 * as it is the same for all
 */
void
policy_print(FILE *out, const struct snapshot *s, const char *domain)
{
	int is_def = !strcmp(domain, "default");
	const struct policy *p = is_def ? s->def : policy_for_domain(s, domain);
	unsigned i;

	if (is_def)
		fprintf(out, "# the default policy\n");
	else if (p == s->def)
		fprintf(out, "# %s: no policy file of its own or of a parent domain: the default policy\n",
			domain);
	else if (strcmp(p->domain, domain))
		fprintf(out, "# %s: the policy of %s (no file of its own)\n", domain, p->domain);
	else
		fprintf(out, "# the policy of %s\n", domain);
	fprintf(out, "# each key not at its built-in default, under the file:line it is from\n");
	if (p == s->def)
		print_group(out, &s->main, NULL, NULL);
	else
		fprintf(out, "# [sinkd] is the same for every domain: sinkd -P shows it\n");
	for (i = 0; i < s->nregistry; i++)
		print_group(out, &p->groups[i], p == s->def ? NULL : &s->def->groups[i],
			    snapshot_in_chain(s, s->registry[i])
			    || g_str_has_prefix(s->registry[i]->name, "event:") ? NULL
			    : "# not in the chain: these keys have no effect\n");
}

/*
 * policy_describe - "direction=inbound policy=a.test,b.test": which way
 * a message goes (outbound: an internal or authenticated client's; the
 * sender domain's policy) and the policy domain(s) that judge it, for
 * the line logged per message and sinkd -t's verdict; g_free()
 */
char *
policy_describe(const struct policy *p, int outbound)
{
	return g_strdup_printf("direction=%s policy=%s", outbound ? "outbound" : "inbound",
			       p ? p->domain : "none");
}

/*
 * policy_debug - debug lines for the message id: the files policy p was
 * read from and, for a combined policy, how each key its domains differ
 * on was decided (note_decided)
 */
void
policy_debug(const struct policy *p, const char *id)
{
	guint i;

	if (p == NULL)
		return;
	log_debug("%s: policy %s from %s", id, p->domain, p->file ? p->file : "?");
	for (i = 0; p->decided && i < p->decided->len; i++)
		log_debug("%s: policy %s: %s", id, p->domain,
			  (char *) g_ptr_array_index(p->decided, i));
}
