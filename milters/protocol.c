/*
 * protocol - SMTP-stage policy: who may connect, send and receive, and
 *	routing edits (list expansion, recipient and sender rewriting, BCC,
 *	header additions)
 *
 * Stages and their keys (sinkd-policy(5) has the full list):
 *	connect	connect-allow, connect-deny, connect-deny-hosts
 *	HELO	helo-deny
 *	MAIL	require-auth, allow-senders, deny-senders
 *	RCPT	max-recipients, allow-recipients, deny-recipients
 *	DATA	reject-multi-recipient-bounce
 *	unknown	unknown-commands, unknown-reply
 *	end	list-file, rewrite-recipients, bcc, rewrite-sender, add-headers
 * Every refusal has its own reply key.  Connection-stage keys are read
 * from sinkd.conf and default.conf only: no domain is known yet.
 *
 * Lists: list-file is a key file whose [lists] group maps a list address
 * to its members; a member may be another list of the same file.  Lists
 * are expanded when the file is loaded, so a loop is a configuration error
 * (file:line), and at end of message a list recipient is replaced by its
 * members (each once, never one already a recipient).
 */
#include <string.h>
#include <glib.h>

#include "../src/cidr.h"
#include "../src/dkim.h"
#include "../src/handler.h"
#include "../src/hrule.h"
#include "../src/log.h"
#include "../src/match.h"
#include "../src/policy.h"
#include "../src/rx.h"
#include "registry.h"

#define LIST_DEPTH_MAX 8

struct verb_reply {
	char *verb;
	struct reply reply;
};

struct addr_rewrite {
	char *from;		/* "user@domain" or "@domain", lower case */
	char *to;		/* "user@domain" or "@domain" */
};

struct proto_cfg {
	struct cidr_list *connect_allow, *connect_deny, *auth_exempt;
	struct match_list *connect_deny_hosts, *helo_deny;
	struct match_list *allow_senders, *deny_senders;
	struct match_list *allow_rcpts, *deny_rcpts;
	const struct reply *connect_reply, *helo_reply, *sender_reply,
		*auth_reply, *rcpt_reply, *max_rcpts_reply, *bounce_reply,
		*unknown_reply;
	int require_auth, reject_bounce;
	unsigned decides;	/* HANDLER_AT_*: steps its rules refuse at */
	long long max_rcpts;
	guint64 regex_budget;	/* steps for the regexes of one check */
	GPtrArray *unknown;	/* struct verb_reply * */
	GPtrArray *headers;	/* struct hrule * */
	GHashTable *lists;	/* list address -> char ** members */
	GPtrArray *rcpt_rewrites, *sender_rewrites;	/* addr_rewrite * */
	char **bcc;
};

static const struct conf_key protocol_keys[] = {
	{"connect-allow", CONF_CIDRS, "", .flags = CONF_NODOMAIN,
	 .doc = "clients exempt from connect-deny, connect-deny-hosts and helo-deny"},
	{"connect-deny", CONF_CIDRS, "", .flags = CONF_NODOMAIN,
	 .doc = "client networks refused at connect"},
	{"connect-deny-hosts", CONF_LIST, "", .flags = CONF_NODOMAIN,
	 .doc = "client host name globs or /regex/ refused at connect"},
	{"connect-reply", CONF_REPLY, "554 5.7.1 Access denied", .flags = CONF_NODOMAIN,
	 .doc = "reply to a refused client"},
	{"helo-deny", CONF_LIST, "", .flags = CONF_NODOMAIN,
	 .doc = "HELO/EHLO name globs or /regex/ refused"},
	{"helo-reply", CONF_REPLY, "550 5.7.1 HELO name rejected", .flags = CONF_NODOMAIN,
	 .doc = "reply to a refused HELO"},
	{"require-auth", CONF_BOOL, "no", .merge = MERGE_TRUE,
	 .doc = "outbound mail from internal hosts must be SMTP-authenticated (see auth-exempt)"},
	{"auth-exempt", CONF_CIDRS, "127.0.0.0/8, ::1", .merge = MERGE_INTERSECT,
	 .doc = "internal clients require-auth leaves alone (Postfix presents local submissions as 127.0.0.1)"},
	{"auth-reply", CONF_REPLY, "530 5.7.0 Authentication required", .merge = MERGE_DEFAULT,
	 .doc = "reply when require-auth refuses a sender"},
	{"allow-senders", CONF_LIST, "", .merge = MERGE_INTERSECT,
	 .doc = "senders never refused by deny-senders"},
	{"deny-senders", CONF_LIST, "", .merge = MERGE_UNION,
	 .doc = "senders refused: addresses, @domain, @.domain, <> or /regex/"},
	{"sender-reply", CONF_REPLY, "550 5.7.1 Sender address rejected", .merge = MERGE_DEFAULT,
	 .doc = "reply to a refused sender"},
	{"allow-recipients", CONF_LIST, "", .merge = MERGE_INTERSECT,
	 .doc = "recipients never refused by deny-recipients"},
	{"deny-recipients", CONF_LIST, "", .merge = MERGE_UNION,
	 .doc = "recipients refused: addresses, @domain, @.domain or /regex/"},
	{"recipient-reply", CONF_REPLY, "550 5.7.1 Recipient address rejected", .merge = MERGE_DEFAULT,
	 .doc = "reply to a refused recipient"},
	{"max-recipients", CONF_INT, "0", 0, 1000000, .merge = MERGE_MIN,
	 .doc = "recipients per message; more are refused; 0: no limit"},
	{"max-recipients-reply", CONF_REPLY, "452 4.5.3 Too many recipients", .merge = MERGE_DEFAULT,
	 .doc = "reply to a recipient over max-recipients"},
	{"reject-multi-recipient-bounce", CONF_BOOL, "no", .merge = MERGE_TRUE,
	 .doc = "refuse at DATA a null-sender message with more than one recipient"},
	{"multi-recipient-bounce-reply", CONF_REPLY,
	 "550 5.5.3 Multi-recipient bounce rejected", .merge = MERGE_DEFAULT,
	 .doc = "reply to a multi-recipient bounce"},
	{"regex-budget", CONF_INT, RX_BUDGET_DEFAULT, 1000, 1000000000000LL, .merge = MERGE_MIN,
	 .doc = "steps the /regex/ entries may take on one client name, HELO name, sender or recipient; more is a failure (on-error)"},
	{"unknown-commands", CONF_LIST, "", .flags = CONF_NODOMAIN,
	 .doc = "replies to unknown SMTP commands, one per verb: VERB 5xx x.y.z text"},
	{"unknown-reply", CONF_REPLY, "502 5.5.2 Error: command not recognized",
	 .flags = CONF_NODOMAIN,
	 .doc = "reply to an unknown command not in unknown-commands"},
	{"add-headers", CONF_LIST, "", .merge = MERGE_UNION,
	 .doc = "headers added at end of message: Name: value with ${variables}"},
	{"list-file", CONF_PATH, "", .merge = MERGE_RCPT,
	 .doc = "key file whose [lists] group maps list addresses to members"},
	{"rewrite-recipients", CONF_LIST, "", .merge = MERGE_RCPT,
	 .doc = "recipient rewrites: old@domain => new@domain, or @old => @new"},
	{"bcc", CONF_LIST, "", .merge = MERGE_UNION,
	 .doc = "recipients added to every message"},
	{"rewrite-sender", CONF_LIST, "", .merge = MERGE_AGREE,
	 .doc = "envelope sender rewrites: old@domain => new@domain, or @old => @new"},
	{NULL},
};

static void
rewrite_free(struct addr_rewrite *r)
{
	g_free(r->from);
	g_free(r->to);
	g_free(r);
}

static void
verb_free(struct verb_reply *v)
{
	g_free(v->verb);
	reply_clear(&v->reply);
	g_free(v);
}

static void
proto_unload(void *p)
{
	struct proto_cfg *c = p;

	cidr_list_free(c->connect_allow);
	cidr_list_free(c->connect_deny);
	cidr_list_free(c->auth_exempt);
	match_free(c->connect_deny_hosts);
	match_free(c->helo_deny);
	match_free(c->allow_senders);
	match_free(c->deny_senders);
	match_free(c->allow_rcpts);
	match_free(c->deny_rcpts);
	if (c->unknown)
		g_ptr_array_free(c->unknown, TRUE);
	if (c->headers)
		g_ptr_array_free(c->headers, TRUE);
	if (c->lists)
		g_hash_table_destroy(c->lists);
	if (c->rcpt_rewrites)
		g_ptr_array_free(c->rcpt_rewrites, TRUE);
	if (c->sender_rewrites)
		g_ptr_array_free(c->sender_rewrites, TRUE);
	g_strfreev(c->bcc);
	g_free(c);
}

/* load_match - compile one pattern-list key */
static struct match_list *
load_match(const struct conf_group *g, const char *key, enum match_kind kind,
	   struct conf_errors *e)
{
	char *why = NULL;
	struct match_list *l = match_compile(kind, conf_list(g, key), &why);

	if (l == NULL) {
		conf_key_error(e, g, key, "%s", why);
		g_free(why);
	}
	return l;
}

/* addr_ok - something that looks like local@domain */
static int
addr_ok(const char *a)
{
	const char *at = strrchr(a, '@');

	return at && at != a && at[1] && !strpbrk(a, " \t<>,;\r\n");
}

/* load_rewrites - "from => to" entries */
static GPtrArray *
load_rewrites(const struct conf_group *g, const char *key, struct conf_errors *e)
{
	char *const *l = conf_list(g, key);
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) rewrite_free);
	unsigned i;

	for (i = 0; l && l[i]; i++) {
		char **side = g_strsplit(l[i], "=>", 2);
		struct addr_rewrite *r;

		if (g_strv_length(side) != 2) {
			conf_key_error(e, g, key, "\"%s\": write old => new", l[i]);
			g_strfreev(side);
			continue;
		}
		r = g_new0(struct addr_rewrite, 1);
		r->from = g_ascii_strdown(g_strstrip(side[0]), -1);
		r->to = g_strdup(g_strstrip(side[1]));
		g_strfreev(side);
		g_ptr_array_add(out, r);
		if ((r->from[0] == '@') != (r->to[0] == '@')
		    || (r->from[0] == '@' ? !r->from[1] || !r->to[1] || strchr(r->from + 1, '@') || strchr(r->to + 1, '@')
			: !addr_ok(r->from) || !addr_ok(r->to)))
			conf_key_error(e, g, key,
				       "\"%s => %s\": both sides must be addresses, or both @domain",
				       r->from, r->to);
	}
	return out;
}

/* load_unknown - "VERB 5xx x.y.z text" entries */
static GPtrArray *
load_unknown(const struct conf_group *g, struct conf_errors *e)
{
	char *const *l = conf_list(g, "unknown-commands");
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) verb_free);
	unsigned i;

	for (i = 0; l && l[i]; i++) {
		const char *sp = strchr(l[i], ' '), *why;
		struct verb_reply *v = g_new0(struct verb_reply, 1);

		if (sp == NULL) {
			conf_key_error(e, g, "unknown-commands",
				       "\"%s\": write VERB 502 5.5.1 text", l[i]);
			g_free(v);
			continue;
		}
		v->verb = g_ascii_strup(l[i], sp - l[i]);
		if (reply_parse(&v->reply, sp + 1, &why) < 0)
			conf_key_error(e, g, "unknown-commands", "%s: reply %s",
				       v->verb, why);
		g_ptr_array_add(out, v);
	}
	return out;
}

/* expand_list - the members of list, nested lists expanded */
static int
expand_list(GHashTable *raw, const char *list, GPtrArray *path,
	    GPtrArray *out, GHashTable *seen, GString *why)
{
	char **members = g_hash_table_lookup(raw, list);
	unsigned i, j;

	for (i = 0; i < path->len; i++) {
		if (!strcmp(g_ptr_array_index(path, i), list)) {
			for (j = 0; j < path->len; j++)
				g_string_append_printf(why, "%s -> ",
						       (char *) g_ptr_array_index(path, j));
			g_string_append(why, list);
			return -1;
		}
	}
	if (path->len >= LIST_DEPTH_MAX) {
		g_string_append_printf(why, "lists nested deeper than %d", LIST_DEPTH_MAX);
		return -1;
	}
	g_ptr_array_add(path, (char *) list);
	for (i = 0; members[i]; i++) {
		char *low = g_ascii_strdown(members[i], -1);

		if (g_hash_table_contains(raw, low)) {
			if (expand_list(raw, low, path, out, seen, why) < 0) {
				g_free(low);
				return -1;
			}
			g_free(low);
			continue;
		}
		/* each member once, whatever its case: a set, not a scan,
		 * so that a list of 50,000 loads in linear time */
		if (g_hash_table_add(seen, low))
			g_ptr_array_add(out, g_strdup(members[i]));
	}
	g_ptr_array_remove_index(path, path->len - 1);
	return 0;
}

/* load_lists - read list-file and expand every list */
static GHashTable *
load_lists(const struct conf_group *g, struct conf_errors *e)
{
	const char *path = conf_str(g, "list-file");
	GHashTable *raw, *lists;
	struct conf_file *f;
	char **keys;
	unsigned i, j;

	lists = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
				      (GDestroyNotify) g_strfreev);
	if (*path == 0)
		return lists;
	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		conf_key_error(e, g, "list-file", "%s: no such file", path);
		return lists;
	}
	if ((f = conf_file_read(path, e)) == NULL)
		return lists;
	raw = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
				    (GDestroyNotify) g_strfreev);
	keys = conf_file_keys(f, "lists");
	if (keys == NULL)
		conf_errorf(e, "%s: no [lists] group", path);
	for (i = 0; keys && keys[i]; i++) {
		char *v = conf_file_get(f, "lists", keys[i]);
		char **members = conf_split_list(v ? v : "");

		g_free(v);
		if (!addr_ok(keys[i]))
			conf_errorf(e, "%s:%d: %s: a list name must be an address",
				    path, conf_file_key_line(f, "lists", keys[i]), keys[i]);
		if (members[0] == NULL)
			conf_errorf(e, "%s:%d: %s: list has no members",
				    path, conf_file_key_line(f, "lists", keys[i]), keys[i]);
		for (j = 0; members[j]; j++)
			if (!addr_ok(members[j]))
				conf_errorf(e, "%s:%d: %s: member \"%s\" is not an address",
					    path, conf_file_key_line(f, "lists", keys[i]),
					    keys[i], members[j]);
		g_hash_table_insert(raw, g_ascii_strdown(keys[i], -1), members);
	}
	for (i = 0; keys && keys[i]; i++) {
		GPtrArray *path_v = g_ptr_array_new(), *out = g_ptr_array_new_with_free_func(g_free);
		GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		GString *why = g_string_new(NULL);
		char *low = g_ascii_strdown(keys[i], -1);

		if (expand_list(raw, low, path_v, out, seen, why) < 0) {
			conf_errorf(e, "%s:%d: %s: list loop: %s", path,
				    conf_file_key_line(f, "lists", keys[i]), keys[i], why->str);
			g_ptr_array_free(out, TRUE);
			g_free(low);
		} else {
			g_ptr_array_set_free_func(out, NULL);
			g_ptr_array_add(out, NULL);
			g_hash_table_insert(lists, low, g_ptr_array_free(out, FALSE));
		}
		g_string_free(why, TRUE);
		g_ptr_array_free(path_v, TRUE);
		g_hash_table_destroy(seen);
	}
	g_strfreev(keys);
	g_hash_table_destroy(raw);
	conf_file_free(f);
	return lists;
}

/* proto_load - compile one policy's [protocol] group */
/*
 * rule_steps - the steps g's rules may refuse at.  Unknown commands are
 * asked for only when sinkd has a reply of its own to give: the MTA
 * refuses them anyway, with the same text as unknown-reply's default.
 */
static unsigned
rule_steps(const struct conf_group *g)
{
	static const struct {
		const char *key;
		unsigned at;
	} lists[] = {
		{"connect-deny", HANDLER_AT_CONNECT},
		{"connect-deny-hosts", HANDLER_AT_CONNECT},
		{"helo-deny", HANDLER_AT_HELO},
		{"deny-senders", HANDLER_AT_MAIL},
		{"deny-recipients", HANDLER_AT_RCPT},
		{"unknown-commands", HANDLER_AT_UNKNOWN},
	};
	unsigned at = 0, i;

	for (i = 0; i < G_N_ELEMENTS(lists); i++) {
		char *const *l = conf_list(g, lists[i].key);

		if (l && l[0])
			at |= lists[i].at;
	}
	if (conf_bool(g, "require-auth"))
		at |= HANDLER_AT_MAIL;
	if (conf_num(g, "max-recipients") > 0)
		at |= HANDLER_AT_RCPT;
	if (conf_bool(g, "reject-multi-recipient-bounce"))
		at |= HANDLER_AT_DATA;
	if (conf_get(g, "unknown-reply")->file != NULL)
		at |= HANDLER_AT_UNKNOWN;
	return at;
}

static void *
proto_load(const struct conf_group *g, struct conf_errors *e)
{
	struct proto_cfg *c = g_new0(struct proto_cfg, 1);
	const char *bad, *why;
	unsigned before = e->msgs->len;

	c->connect_allow = cidr_list_parse((char **) conf_list(g, "connect-allow"), &bad, &why);
	c->connect_deny = cidr_list_parse((char **) conf_list(g, "connect-deny"), &bad, &why);
	c->auth_exempt = cidr_list_parse((char **) conf_list(g, "auth-exempt"), &bad, &why);
	c->connect_deny_hosts = load_match(g, "connect-deny-hosts", MATCH_NAME, e);
	c->helo_deny = load_match(g, "helo-deny", MATCH_NAME, e);
	c->allow_senders = load_match(g, "allow-senders", MATCH_ADDR, e);
	c->deny_senders = load_match(g, "deny-senders", MATCH_ADDR, e);
	c->allow_rcpts = load_match(g, "allow-recipients", MATCH_ADDR, e);
	c->deny_rcpts = load_match(g, "deny-recipients", MATCH_ADDR, e);
	c->connect_reply = conf_reply(g, "connect-reply");
	c->helo_reply = conf_reply(g, "helo-reply");
	c->sender_reply = conf_reply(g, "sender-reply");
	c->auth_reply = conf_reply(g, "auth-reply");
	c->rcpt_reply = conf_reply(g, "recipient-reply");
	c->max_rcpts_reply = conf_reply(g, "max-recipients-reply");
	c->bounce_reply = conf_reply(g, "multi-recipient-bounce-reply");
	c->unknown_reply = conf_reply(g, "unknown-reply");
	c->require_auth = conf_bool(g, "require-auth");
	c->reject_bounce = conf_bool(g, "reject-multi-recipient-bounce");
	c->max_rcpts = conf_num(g, "max-recipients");
	c->regex_budget = (guint64) conf_num(g, "regex-budget");
	c->unknown = load_unknown(g, e);
	c->decides = rule_steps(g);
	c->headers = hrule_load(g, "add-headers", e);
	c->lists = load_lists(g, e);
	c->rcpt_rewrites = load_rewrites(g, "rewrite-recipients", e);
	c->sender_rewrites = load_rewrites(g, "rewrite-sender", e);
	c->bcc = g_strdupv((char **) conf_list(g, "bcc"));
	for (unsigned i = 0; c->bcc[i]; i++)
		if (!addr_ok(c->bcc[i]))
			conf_key_error(e, g, "bcc", "\"%s\" is not an address", c->bcc[i]);
	if (e->msgs->len != before) {
		proto_unload(c);
		return NULL;
	}
	return c;
}

/* check - subject against l, the regexes with the budget of this check
 * (b, begun by the caller); 1, 0, or -1 (logged) */
static int
check(const struct match_list *l, const char *subject, struct rx_budget *b,
      const char *qid)
{
	int hit = match_test(l, subject, b);

	if (hit < 0)
		log_warn("%s: protocol: a regex %s", qid,
			 b->spent ? "spent the check's regex-budget" : "hit its match limit");
	return hit;
}

/* refuse_if - the verdict for a match_test result */
static enum verdict
refuse_if(int hit, struct conn *conn, const struct reply *r)
{
	if (hit < 0)
		return VERDICT_ERROR;
	return hit ? handler_refuse(conn, r) : VERDICT_CONTINUE;
}

static enum verdict
proto_connect(struct conn *conn, const void *cfg)
{
	const struct proto_cfg *c = cfg;
	struct rx_budget b;

	if (conn->client_addr == NULL
	    || cidr_list_match(c->connect_allow, conn->client_addr))
		return VERDICT_CONTINUE;
	if (cidr_list_match(c->connect_deny, conn->client_addr))
		return handler_refuse(conn, c->connect_reply);
	rx_budget_init(&b, c->regex_budget);
	return refuse_if(check(c->connect_deny_hosts, conn->client_name, &b, "NOQUEUE"),
			 conn, c->connect_reply);
}

static enum verdict
proto_helo(struct conn *conn, const void *cfg)
{
	const struct proto_cfg *c = cfg;
	struct rx_budget b;

	if (conn->client_addr && cidr_list_match(c->connect_allow, conn->client_addr))
		return VERDICT_CONTINUE;
	rx_budget_init(&b, c->regex_budget);
	return refuse_if(check(c->helo_deny, conn->helo ? conn->helo : "", &b, "NOQUEUE"),
			 conn, c->helo_reply);
}

static enum verdict
proto_envfrom(struct msg *m, const void *cfg)
{
	const struct proto_cfg *c = cfg;
	struct rx_budget b;
	int hit;

	if (c->require_auth && m->outbound && m->auth_user == NULL
	    && m->conn->client_addr != NULL
	    && !cidr_list_match(c->auth_exempt, m->conn->client_addr))
		return handler_refuse(m->conn, c->auth_reply);
	rx_budget_init(&b, c->regex_budget);
	hit = check(c->allow_senders, m->sender, &b, m->queue_id);
	if (hit != 0)
		return hit < 0 ? VERDICT_ERROR : VERDICT_CONTINUE;
	return refuse_if(check(c->deny_senders, m->sender, &b, m->queue_id), m->conn,
			 c->sender_reply);
}

static enum verdict
proto_envrcpt(struct msg *m, struct rcpt *r, const void *cfg)
{
	const struct proto_cfg *c = cfg;
	struct rx_budget b;
	int hit;

	if (c->max_rcpts > 0 && m->rcpts->len >= (guint) c->max_rcpts)
		return handler_refuse(m->conn, c->max_rcpts_reply);
	rx_budget_init(&b, c->regex_budget);
	hit = check(c->allow_rcpts, r->addr, &b, m->queue_id);
	if (hit != 0)
		return hit < 0 ? VERDICT_ERROR : VERDICT_CONTINUE;
	return refuse_if(check(c->deny_rcpts, r->addr, &b, m->queue_id), m->conn,
			 c->rcpt_reply);
}

static enum verdict
proto_data(struct msg *m, const void *cfg)
{
	const struct proto_cfg *c = cfg;

	if (c->reject_bounce && *m->sender == 0 && m->rcpts->len > 1)
		return handler_refuse(m->conn, c->bounce_reply);
	return VERDICT_CONTINUE;
}

static enum verdict
proto_unknown(struct conn *conn, const char *cmd, const void *cfg)
{
	const struct proto_cfg *c = cfg;
	size_t len = strcspn(cmd, " \t\r\n");
	guint i;

	for (i = 0; i < c->unknown->len; i++) {
		const struct verb_reply *v = g_ptr_array_index(c->unknown, i);

		if (strlen(v->verb) == len && !g_ascii_strncasecmp(cmd, v->verb, len))
			return handler_refuse(conn, &v->reply);
	}
	return handler_refuse(conn, c->unknown_reply);
}

static unsigned
proto_decides(const void *cfg)
{
	return ((const struct proto_cfg *) cfg)->decides;
}

/* rewrite_addr - the rewritten address, or NULL when no rule matches */
static char *
rewrite_addr(const GPtrArray *rules, const char *addr)
{
	const char *at = strrchr(addr, '@');
	guint i;

	for (i = 0; i < rules->len; i++) {
		const struct addr_rewrite *r = g_ptr_array_index(rules, i);

		if (r->from[0] == '@') {
			if (at && !g_ascii_strcasecmp(at, r->from))
				return g_strdup_printf("%.*s%s", (int) (at - addr), addr, r->to);
		} else if (!g_ascii_strcasecmp(addr, r->from)) {
			return g_strdup(r->to);
		}
	}
	return NULL;
}

/* has_addr - addr is in the set v (of lower-cased addresses) */
static int
has_addr(GHashTable *v, const char *addr)
{
	char *low = g_ascii_strdown(addr, -1);
	int in = g_hash_table_contains(v, low);

	g_free(low);
	return in;
}

/* add_addr - addr into the set v */
static void
add_addr(GHashTable *v, const char *addr)
{
	g_hash_table_add(v, g_ascii_strdown(addr, -1));
}

/* route_recipients - list expansion, recipient rewriting and BCC */
static void
route_recipients(struct msg *m, struct edits *e, const struct proto_cfg *c)
{
	GHashTable *now = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	guint i, j;

	for (i = 0; i < m->rcpts->len; i++)
		add_addr(now, ((struct rcpt *) g_ptr_array_index(m->rcpts, i))->addr);
	for (i = 0; i < m->rcpts->len; i++) {
		const struct rcpt *r = g_ptr_array_index(m->rcpts, i);
		const struct proto_cfg *rc = policy_handler_cfg(r->policy, &protocol_handler);
		char *low = g_ascii_strdown(r->addr, -1), **members, *to;

		if (rc == NULL)
			rc = c;
		if ((members = g_hash_table_lookup(rc->lists, low)) != NULL) {
			edits_del_rcpt(e, protocol_handler.name, r->addr);
			for (j = 0; members[j]; j++) {
				if (has_addr(now, members[j]))
					continue;
				edits_add_rcpt(e, protocol_handler.name, members[j]);
				add_addr(now, members[j]);
			}
		} else if ((to = rewrite_addr(rc->rcpt_rewrites, r->addr)) != NULL) {
			edits_del_rcpt(e, protocol_handler.name, r->addr);
			if (!has_addr(now, to)) {
				edits_add_rcpt(e, protocol_handler.name, to);
				add_addr(now, to);
			}
			g_free(to);
		}
		g_free(low);
	}
	for (i = 0; c->bcc[i]; i++) {
		if (has_addr(now, c->bcc[i]))
			continue;
		edits_add_rcpt(e, protocol_handler.name, c->bcc[i]);
		add_addr(now, c->bcc[i]);
	}
	g_hash_table_destroy(now);
}

static enum verdict
proto_eom(struct msg *m, struct edits *e, const void *cfg)
{
	const struct proto_cfg *c = cfg;
	char *from;
	guint i;

	route_recipients(m, e, c);
	if (*m->sender && (from = rewrite_addr(c->sender_rewrites, m->sender)) != NULL) {
		edits_change_from(e, protocol_handler.name, from);
		g_free(from);
	}
	for (i = 0; i < c->headers->len; i++) {
		const struct hrule *r = g_ptr_array_index(c->headers, i);
		char *v;

		/* a field named in a passing signature's h= (dkim-signed) */
		if (!dkim_may_change(m, DKIM_TOUCH_HEADER(r->name), protocol_handler.name))
			continue;
		v = hrule_value(r, m);
		edits_add_header(e, protocol_handler.name, r->name, v);
		g_free(v);
	}
	return VERDICT_CONTINUE;
}

const struct handler protocol_handler = {
	.name = "protocol",
	.keys = protocol_keys,
	.decides = proto_decides,
	.load = proto_load,
	.unload = proto_unload,
	.connect = proto_connect,
	.helo = proto_helo,
	.envfrom = proto_envfrom,
	.envrcpt = proto_envrcpt,
	.data = proto_data,
	.unknown = proto_unknown,
	.eom = proto_eom,
};
