/*
 * sink - the mailing-list service, a native sink (sinkd-list(8))
 *
 * In the transaction, at RCPT TO: a recipient that is one of a list's
 * addresses is checked against the store (the list there, a token known
 * and not expired, no post from the null sender), and a list post is
 * kept alone in its transaction (452 4.5.3 to a recipient that would
 * share it: the list changes the envelope sender and the header for
 * every recipient).
 *
 * At end of message: a post is refused when it carries the list's own
 * List-Id or loop marker, held when the list's policy says so, else
 * expanded: the list's address replaced by its members, the envelope
 * sender made LIST-bounces@, the List-* fields (RFC 2369, RFC 2919),
 * Precedence: list, the loop marker and the subject prefix added.
 * Mail to LIST-owner@ goes to the owners.  Every other address of a list
 * is taken out of the envelope (the MTA then delivers the message to
 * the other recipients, or to nobody) and what it asks for is noted
 * ("list-work") for later.
 *
 * After the message was accepted, the accepted hook (sinkd-events(5))
 * gets the event, with the message as received, on a thread no message
 * waits for: it does the noted work (commands, confirmations, held posts,
 * approvals), puts the replies into the store's outbox and sends them
 * through the MTA (submit).  An event is acted on once (the store keeps
 * its key); a failure of the store or of the MTA is a retry, so nothing
 * is lost while either is down.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <gmime/gmime.h>
#include <json-glib/json-glib.h>
#include <sinkd/sink.h>

#include "dmarc.h"
#include "dsn.h"
#include "lists.h"
#include "store.h"

#define WORK_KEY "list-work"
#define LOOP_FIELD "X-Sinkd-Loop"
#define MAX_BODY (256 * 1024)	/* command text read at most */

struct lsink {
	const struct sinkd_api *api;
	struct lstore *store;
	char *submit;
	char *templates;
	gint64 expired;		/* when expired rows were last removed */
	GMutex dlock;
	GHashTable *domains;	/* the domains of the lists, as last read */
	gint64 domains_at;	/* when (monotonic) */
};

/* the defaults of store and submit are sinkd-list's too (lists.h) */
static const struct sinkd_key keys[] = {
	{"store", SINKD_KEY_STRING, "sqlite:/var/lib/sinkd/lists.db",
	 "the lists' store: sqlite:PATH or a PostgreSQL connection string", SINKD_MERGE_AGREE},
	{"submit", SINKD_KEY_STRING, "127.0.0.1:25",
	 "the SMTP server (through sinkd) replies and approved posts are sent to", SINKD_MERGE_AGREE},
	{"templates", SINKD_KEY_PATH, "",
	 "a directory of texts replacing the built-in ones (NAME.txt)", SINKD_MERGE_AGREE},
	{"confirm-expiry", SINKD_KEY_TIME, "3d",
	 "how long a subscribe or unsubscribe request waits for its confirmation", SINKD_MERGE_AGREE},
	{"held-expiry", SINKD_KEY_TIME, "7d",
	 "how long a held post waits for a moderator", SINKD_MERGE_AGREE},
	{"max-commands", SINKD_KEY_INT, "10",
	 "command lines read from one message to LIST-request@", SINKD_MERGE_AGREE},
	{"dns-server", SINKD_KEY_STRING, "",
	 "the DNS server DMARC policies are asked of (addr or addr:port; empty: the system's)",
	 SINKD_MERGE_AGREE},
	{"expire-interval", SINKD_KEY_TIME, "1h",
	 "how often expired requests and held posts are removed", SINKD_MERGE_AGREE},
	{"dmarc-timeout", SINKD_KEY_TIME, "5s",
	 "how long a post waits for its author's DMARC policy", SINKD_MERGE_AGREE},
	{NULL, 0, NULL, NULL, 0},
};

/* seconds - a TIME key's value as sinkd.conf spells it */
static long
seconds(const char *v, long def)
{
	char *e;
	long n;

	if (v == NULL || *v == 0)
		return def;
	n = strtol(v, &e, 10);
	switch (*e) {
	case 'd': n *= 86400; break;
	case 'h': n *= 3600; break;
	case 'm': n *= 60; break;
	default: break;
	}
	return n > 0 ? n : def;
}

static long
now_s(void)
{
	return (long) (g_get_real_time() / G_USEC_PER_SEC);
}

static void
logf_(const struct lsink *k, struct sinkd_ctx *c, enum sinkd_log level, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

static void
logf_(const struct lsink *k, struct sinkd_ctx *c, enum sinkd_log level, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	k->api->log(c, level, s);
	g_free(s);
}

/* store_down - the store failed: log it, and tempfail */
static enum sinkd_verdict
store_down(const struct lsink *k, struct sinkd_ctx *c, char *why)
{
	logf_(k, c, SINKD_LOG_ERROR, "store: %s", why);
	g_free(why);
	k->api->reply(c, "451", "4.3.0", "the list service is not available now");
	return SINKD_TEMPFAIL;
}

static enum sinkd_verdict
refuse(const struct lsink *k, struct sinkd_ctx *c, const char *code, const char *x,
       const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static enum sinkd_verdict
refuse(const struct lsink *k, struct sinkd_ctx *c, const char *code, const char *x,
       const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	k->api->reply(c, code, x, s);
	g_free(s);
	return *code == '5' ? SINKD_REJECT : SINKD_TEMPFAIL;
}

/* ------------------------------------------------------------------ */
/* load                                                                 */

static int
ls_init(const struct sinkd_api *api, struct sinkd_ctx *config, void **state)
{
	struct lsink *k = g_new0(struct lsink, 1);
	char *why = NULL, *msg;
	const char *t, *key = "store";

	k->api = api;
	/* the store is opened on first use: init may run as root, before
	 * sinkd forks and drops its privileges */
	if ((k->store = ls_open(api->config(config, "store"), &why)) == NULL)
		goto fail;
	k->submit = g_strdup(api->config(config, "submit"));
	t = api->config(config, "templates");
	k->templates = g_strdup(t ? t : "");
	key = "templates";
	if (lt_check(k->templates, &why) < 0)
		goto fail;
	g_mutex_init(&k->dlock);
	*state = k;
	return 0;
fail:
	/* "KEY: why": sinkd gives it as the key's file:line */
	msg = g_strdup_printf("%s: %s", key, why);
	api->log(config, SINKD_LOG_ERROR, msg);
	g_free(msg);
	g_free(why);
	ls_close(k->store);
	g_free(k->submit);
	g_free(k->templates);
	g_free(k);
	return -1;
}

static void
ls_shutdown(void *state)
{
	struct lsink *k = state;

	ls_close(k->store);
	g_free(k->submit);
	g_free(k->templates);
	if (k->domains)
		g_hash_table_destroy(k->domains);
	g_mutex_clear(&k->dlock);
	g_free(k);
}

/* ------------------------------------------------------------------ */
/* RCPT TO                                                              */

/* consumed - a kind whose recipient leaves the envelope at eom */
static int
consumed(enum la_kind kind)
{
	return kind != LA_NONE && kind != LA_POST && kind != LA_OWNER;
}

/* domains_read - the domains of the lists, read again when what was read
 * is a minute old: what classify() goes by while the store is down */
static void
domains_read(struct lsink *k)
{
	gint64 now = g_get_monotonic_time();
	GPtrArray *names;
	GHashTable *d;
	char *why = NULL, *at;
	guint i;

	g_mutex_lock(&k->dlock);
	if (k->domains && now - k->domains_at < 60 * G_USEC_PER_SEC) {
		g_mutex_unlock(&k->dlock);
		return;
	}
	k->domains_at = now;	/* one reader at a time */
	g_mutex_unlock(&k->dlock);
	if (ls_lists(k->store, &names, &why) < 0) {
		g_free(why);
		return;
	}
	d = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (i = 0; i < names->len; i++)
		if ((at = strrchr(names->pdata[i], '@')) != NULL)
			g_hash_table_add(d, g_strdup(at + 1));
	g_ptr_array_free(names, TRUE);
	g_mutex_lock(&k->dlock);
	if (k->domains)
		g_hash_table_destroy(k->domains);
	k->domains = d;
	g_mutex_unlock(&k->dlock);
}

/* listless - addr's domain had no list when the store last said (and
 * the store has said) */
static int
listless(struct lsink *k, const char *addr)
{
	const char *at = strrchr(addr, '@');
	int r;

	g_mutex_lock(&k->dlock);
	r = at && k->domains && !g_hash_table_contains(k->domains, at + 1);
	g_mutex_unlock(&k->dlock);
	return r;
}

/*
 * classify - what addr is to the lists of the store: a list's address
 * (the list's, and a token, newly allocated) or LA_NONE; -1 when the
 * store failed (*why).  While the store is down, an address in a domain
 * that had no list a minute before is LA_NONE: mail for the rest of the
 * server goes on.
 */
static int
classify(struct lsink *k, struct sinkd_ctx *c, const char *addr, enum la_kind *kind,
	 char **list, char **token, char **why)
{
	char *norm = ls_addr_norm(addr);
	struct ls_list l;
	int rc;

	*kind = LA_NONE;
	*list = *token = NULL;
	if (norm == NULL)
		return 0;
	*kind = la_parse(norm, list, token);
	if (*kind == LA_NONE) {
		g_free(norm);
		return 0;
	}
	rc = ls_list_get(k->store, *list, &l, why);
	ls_list_clear(&l);
	if (rc >= 0) {
		domains_read(k);
	} else if (listless(k, norm)) {
		logf_(k, c, SINKD_LOG_WARNING, "store: %s; %s: no list in its domain, it passes",
		      *why, norm);
		g_free(*why);
		*why = NULL;
		rc = 0;
	}
	g_free(norm);
	if (rc == 1)
		return 0;
	/* "a-request@" is no list's address when there is no list "a@":
	 * it may be a list of its own name, or nobody's */
	g_free(*list);
	g_free(*token);
	*list = *token = NULL;
	*kind = LA_NONE;
	return rc;
}

/* token_for - token t is one kind may use for list */
static int
token_for(const struct ls_token *t, enum la_kind kind, const char *list)
{
	if (strcmp(t->list, list) != 0)
		return 0;
	if (kind == LA_CONFIRM)
		return !strcmp(t->action, "subscribe") || !strcmp(t->action, "unsubscribe");
	return !strcmp(t->action, "post");
}

static enum sinkd_verdict
ls_rcpt(void *state, struct sinkd_ctx *c, const char *addr)
{
	struct lsink *k = state;
	const struct sinkd_api *api = k->api;
	const char *sender = api->get(c, "sender"), *post = api->kv_get(c, "lists.post");
	char *list, *token, *why = NULL;
	enum la_kind kind;
	enum sinkd_verdict v = SINKD_CONTINUE;

	if (classify(k, c, addr, &kind, &list, &token, &why) < 0)
		return store_down(k, c, why);
	if (kind == LA_POST || kind == LA_OWNER || kind == LA_NONE) {
		/* a post alone: its envelope and header become the list's */
		if (post && (kind != LA_POST || strcmp(post, list) != 0))
			v = refuse(k, c, "452", "4.5.3", "one list post per message: send to %s again",
				   addr);
		else if (kind == LA_POST && api->kv_get(c, "lists.other"))
			v = refuse(k, c, "452", "4.5.3", "a list post goes alone: send to %s again",
				   addr);
	}
	if (v == SINKD_CONTINUE && kind != LA_NONE && kind != LA_BOUNCES
	    && (sender == NULL || *sender == 0))
		v = refuse(k, c, "550", "5.7.1", "%s takes no mail from the null sender", list);
	if (v == SINKD_CONTINUE && (kind == LA_CONFIRM || kind == LA_APPROVE || kind == LA_REJECT)) {
		struct ls_token t;
		int rc = ls_token_get(k->store, token, now_s(), &t, &why);

		if (rc < 0)
			v = store_down(k, c, why);
		else if (rc == 0 || !token_for(&t, kind, list))
			v = refuse(k, c, "550", "5.7.1", "%s: no such request, or it expired", addr);
		ls_token_clear(&t);
	}
	if (v == SINKD_CONTINUE && kind == LA_OWNER) {
		GPtrArray *o;

		if (ls_members(k->store, list, LS_OWNER, 0, &o, &why) < 0)
			v = store_down(k, c, why);
		else if (o->len == 0)
			v = refuse(k, c, "550", "5.1.1", "%s has no owner", list);
		if (o)
			g_ptr_array_free(o, TRUE);
	}
	if (v == SINKD_CONTINUE) {
		if (kind == LA_POST)
			api->kv_set(c, "lists.post", list);
		else if (kind == LA_OWNER || kind == LA_NONE)
			api->kv_set(c, "lists.other", "1");
	}
	g_free(list);
	g_free(token);
	return v;
}

/* ------------------------------------------------------------------ */
/* end of message                                                       */

/* header_count - how many fields name has */
static unsigned
header_count(const struct lsink *k, struct sinkd_ctx *c, const char *name)
{
	unsigned n = 0;

	while (k->api->header_get(c, name, n + 1))
		n++;
	return n;
}

/* from_addr - the first address of the From field, normalized, or NULL */
static char *
from_addr(const struct lsink *k, struct sinkd_ctx *c)
{
	const char *f = k->api->header_get(c, "From", 1);
	InternetAddressList *al;
	char *out = NULL;
	int i;

	if (f == NULL || (al = internet_address_list_parse(NULL, f)) == NULL)
		return NULL;
	for (i = 0; out == NULL && i < internet_address_list_length(al); i++) {
		InternetAddress *a = internet_address_list_get_address(al, i);

		if (INTERNET_ADDRESS_IS_MAILBOX(a))
			out = ls_addr_norm(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
	}
	g_object_unref(al);
	return out;
}

/* is_member - addr has one of roles on list: 1, 0, -1 (*why) */
static int
is_member(struct lsink *k, const char *list, const char *addr, unsigned roles, char **why)
{
	struct ls_member m;
	int rc;

	if (addr == NULL)
		return 0;
	rc = ls_member_get(k->store, list, addr, &m, why);
	if (rc == 1)
		rc = (m.roles & roles) != 0;
	ls_member_clear(&m);
	return rc;
}

/* looped - the post came from this list: its List-Id or loop marker */
static int
looped(const struct lsink *k, struct sinkd_ctx *c, const char *list)
{
	char *id = la_list_id(list), *want = g_strdup_printf("<%s>", id);
	const char *v;
	unsigned n;
	int hit = 0;

	for (n = 1; !hit && (v = k->api->header_get(c, "List-Id", n)) != NULL; n++)
		hit = strstr(v, want) != NULL;
	for (n = 1; !hit && (v = k->api->header_get(c, LOOP_FIELD, n)) != NULL; n++) {
		char *t = g_strstrip(g_ascii_strdown(v, -1));

		hit = !strcmp(t, list);
		g_free(t);
	}
	g_free(id);
	g_free(want);
	return hit;
}

/* fields a list sets: an earlier list's go */
static const char *const list_fields[] = {
	"List-Id", "List-Help", "List-Subscribe", "List-Unsubscribe", "List-Post",
	"List-Owner", "List-Archive", "Precedence", NULL
};

/* subject - the prefix before the Subject as received, unless there */
static void
subject(const struct lsink *k, struct sinkd_ctx *c, const char *prefix)
{
	const char *raw = NULL, *dec = k->api->header_get(c, "Subject", 1), *name, *r, *d;
	char *enc, *v;
	unsigned i;

	if (prefix == NULL || *prefix == 0)
		return;
	/* never twice: a reply quotes the subject it answers */
	if (dec && strstr(dec, prefix))
		return;
	for (i = 0; k->api->header(c, i, &name, &r, &d) == 0; i++)
		if (!g_ascii_strcasecmp(name, "Subject")) {
			raw = r;
			break;
		}
	enc = g_mime_utils_header_encode_text(NULL, prefix, "utf-8");
	if (raw == NULL) {
		k->api->header_add(c, "Subject", enc);
	} else {
		v = g_strdup_printf("%s %s", enc, raw);
		k->api->header_change(c, "Subject", 1, v);
		g_free(v);
	}
	g_free(enc);
}

/* raw_of - the first field name has, as received, or NULL */
static const char *
raw_of(const struct lsink *k, struct sinkd_ctx *c, const char *name)
{
	const char *n, *r, *d;
	unsigned i;

	for (i = 0; k->api->header(c, i, &n, &r, &d) == 0; i++)
		if (!g_ascii_strcasecmp(n, name))
			return r;
	return NULL;
}

/*
 * strict - the author of a post whose domain publishes p=reject or
 * quarantine (or whose policy could not be had in time): the From's
 * mailbox (a new reference) and its policy's name; NULL for any other
 */
static InternetAddress *
strict(struct lsink *k, struct sinkd_ctx *c, const char **policy)
{
	const struct sinkd_api *api = k->api;
	const char *from = api->header_get(c, "From", 1), *addr, *at;
	const char *ns = api->config(c, "dns-server");
	InternetAddressList *al;
	InternetAddress *a = NULL;
	enum dmarc_policy p;
	char *why = NULL, *dom;
	long t;

	if (from == NULL || (al = internet_address_list_parse(NULL, from)) == NULL)
		return NULL;
	if (internet_address_list_length(al) > 0)
		a = g_object_ref(internet_address_list_get_address(al, 0));
	g_object_unref(al);
	if (a == NULL || !INTERNET_ADDRESS_IS_MAILBOX(a)
	    || (addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a))) == NULL
	    || (at = strrchr(addr, '@')) == NULL) {
		g_clear_object(&a);
		return NULL;
	}
	dom = g_ascii_strdown(at + 1, -1);
	t = seconds(api->config(c, "dmarc-timeout"), 5);
	p = dmarc_policy_of(dom, ns && *ns ? ns : NULL, (unsigned) (t * 1000), &why);
	if (p == DMARC_TEMPERROR)
		logf_(k, c, SINKD_LOG_WARNING, "DMARC policy of %s: %s; the post is sent as if it "
		      "had p=reject", dom, why ? why : "no answer");
	g_free(why);
	g_free(dom);
	if (p != DMARC_REJECT && p != DMARC_QUARANTINE && p != DMARC_TEMPERROR) {
		g_object_unref(a);
		return NULL;
	}
	*policy = dmarc_policy_name(p);
	return a;
}

/*
 * dmarc - a post whose author's domain publishes p=reject or quarantine
 * goes out From the list, so that receivers that enforce DMARC take it,
 * the author in Reply-To (unless the post has one): "munge" (Mailman's)
 * rewrites the post's From and names the author in X-Original-From;
 * "wrap" sends the post as it came inside a new message From the list
 * (sink ABI 1.3), the footer after it; a post that cannot be wrapped is
 * munged.
 * Returns 1 when the post was wrapped (its footer is placed).
 */
static int
dmarc(struct lsink *k, struct sinkd_ctx *c, const struct ls_list *l)
{
	const struct sinkd_api *api = k->api;
	const char *raw = raw_of(k, c, "From"), *addr, *name, *policy = NULL;
	InternetAddress *a, *m;
	char *via, *v;
	int wrapped = 0;

	if (!strcmp(l->dmarc, "none") || raw == NULL || (a = strict(k, c, &policy)) == NULL)
		return 0;
	if (!strcmp(l->dmarc, "wrap")) {
		if (api->wrap(c, *l->footer ? l->footer : NULL) == 0)
			wrapped = 1;
		else
			logf_(k, c, SINKD_LOG_INFO, "%s: the post cannot be wrapped; its From is "
			      "rewritten", l->address);
	}
	addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
	name = internet_address_get_name(a);
	via = g_strdup_printf("%s via %s", name && *name ? name : addr,
			      *l->description ? l->description : l->address);
	m = internet_address_mailbox_new(via, l->address);
	v = internet_address_to_string(m, NULL, TRUE);
	api->header_change(c, "From", 1, v);
	g_free(v);
	g_object_unref(m);
	g_free(via);
	if (api->header_get(c, "Reply-To", 1) == NULL)
		api->header_add(c, "Reply-To", raw);
	if (!wrapped)
		api->header_add(c, "X-Original-From", raw);
	api->note(c, "dmarc", policy);
	api->note(c, "dmarc-action", wrapped ? "wrap" : "munge");
	g_object_unref(a);
	return wrapped;
}

/* expand - the post goes to the members, as the list's */
static enum sinkd_verdict
expand(struct lsink *k, struct sinkd_ctx *c, const char *rcpt, const struct ls_list *l,
       GString *work)
{
	const struct sinkd_api *api = k->api;
	const char *list = l->address;
	GPtrArray *members;
	char *why = NULL, *id, *v, *a;
	unsigned i, n;
	int wrapped;

	if (ls_members(k->store, list, LS_MEMBER, 1, &members, &why) < 0)
		return store_down(k, c, why);
	/* first: a post wrapped keeps every field of its own inside */
	wrapped = dmarc(k, c, l);
	api->rcpt_delete(c, rcpt);
	for (i = 0; i < members->len; i++)
		api->rcpt_add(c, members->pdata[i]);
	a = la_with(list, "-", "bounces");
	api->sender_change(c, a);
	g_free(a);
	for (i = 0; list_fields[i]; i++)
		for (n = header_count(k, c, list_fields[i]); n > 0; n--)
			api->header_change(c, list_fields[i], n, NULL);
	id = la_list_id(list);
	if (*l->description) {
		char *d = g_mime_utils_header_encode_phrase(NULL, l->description, "utf-8");

		v = g_strdup_printf("%s <%s>", d, id);
		g_free(d);
	} else
		v = g_strdup_printf("<%s>", id);
	api->header_add(c, "List-Id", v);
	g_free(v);
	g_free(id);
	v = g_strdup_printf("<mailto:%s>", list);
	api->header_add(c, "List-Post", v);
	g_free(v);
	a = la_with(list, "-", "request");
	v = g_strdup_printf("<mailto:%s?subject=help>", a);
	api->header_add(c, "List-Help", v);
	g_free(v);
	g_free(a);
	a = la_with(list, "+", "subscribe");
	v = g_strdup_printf("<mailto:%s>", a);
	api->header_add(c, "List-Subscribe", v);
	g_free(v);
	g_free(a);
	a = la_with(list, "+", "unsubscribe");
	v = g_strdup_printf("<mailto:%s>", a);
	api->header_add(c, "List-Unsubscribe", v);
	g_free(v);
	g_free(a);
	a = la_with(list, "-", "owner");
	v = g_strdup_printf("<mailto:%s>", a);
	api->header_add(c, "List-Owner", v);
	g_free(v);
	g_free(a);
	api->header_add(c, "Precedence", "list");
	api->header_add(c, LOOP_FIELD, list);
	subject(k, c, l->prefix);
	/* the footer where the disclaimer would put it (sink ABI 1.2; this
	 * module's minor, 3, is refused by a sinkd without it) */
	if (!wrapped && *l->footer && api->footer(c, l->footer, NULL) < 0)
		logf_(k, c, SINKD_LOG_INFO, "%s: the footer may not go on this post", list);
	g_string_append_printf(work, "%spost:%s", work->len ? " " : "", list);
	v = g_strdup_printf("%u", members->len);
	api->note(c, "members", v);
	g_free(v);
	g_ptr_array_free(members, TRUE);
	return SINKD_CONTINUE;
}

/* post - a message to the list's address: refused, held, or expanded */
static enum sinkd_verdict
post(struct lsink *k, struct sinkd_ctx *c, const char *rcpt, const char *list, GString *work)
{
	const struct sinkd_api *api = k->api;
	const char *approved = api->header_get(c, LM_APPROVED_FIELD, 1);
	char *why = NULL, *sender, *from = NULL;
	struct ls_list l;
	enum sinkd_verdict v;
	int rc, ok = 0;

	if ((rc = ls_list_get(k->store, list, &l, &why)) <= 0) {
		ls_list_clear(&l);
		return rc < 0 ? store_down(k, c, why) : SINKD_CONTINUE;
	}
	if (looped(k, c, list)) {
		ls_list_clear(&l);
		return refuse(k, c, "554", "5.4.6", "mail loop: this came from %s", list);
	}
	if (approved) {
		struct ls_token t;
		char *tok = g_strstrip(g_strdup(approved));

		/* a post a moderator approved, sent again by the list */
		rc = ls_token_get(k->store, tok, now_s(), &t, &why);
		if (rc == 1 && !strcmp(t.action, "release") && !strcmp(t.list, list)) {
			api->header_change(c, LM_APPROVED_FIELD, 1, NULL);
			g_string_append_printf(work, "%sreleased:%s:%s", work->len ? " " : "",
					       list, tok);
			ok = 1;
		}
		ls_token_clear(&t);
		g_free(tok);
		if (rc < 0) {
			ls_list_clear(&l);
			return store_down(k, c, why);
		}
		if (!ok) {
			ls_list_clear(&l);
			return refuse(k, c, "550", "5.7.1", "not an approval of %s", list);
		}
	}
	if (!ok && !strcmp(l.policy, "open"))
		ok = 1;
	if (!ok) {
		unsigned roles = !strcmp(l.policy, "moderated") ? LS_MODERATOR | LS_OWNER
			: LS_MEMBER | LS_MODERATOR | LS_OWNER;

		sender = ls_addr_norm(api->get(c, "sender"));
		from = from_addr(k, c);
		rc = is_member(k, list, sender, roles, &why);
		if (rc == 0 && from && (!sender || strcmp(from, sender)))
			rc = is_member(k, list, from, roles, &why);
		g_free(sender);
		g_free(from);
		if (rc < 0) {
			ls_list_clear(&l);
			return store_down(k, c, why);
		}
		ok = rc;
	}
	if (!ok) {
		/* held: the message goes nowhere now; the accepted hook keeps
		 * it for the moderators */
		api->rcpt_delete(c, rcpt);
		g_string_append_printf(work, "%shold:%s", work->len ? " " : "", list);
		api->note(c, "held", list);
		ls_list_clear(&l);
		return SINKD_CONTINUE;
	}
	v = expand(k, c, rcpt, &l, work);
	ls_list_clear(&l);
	return v;
}

static enum sinkd_verdict
ls_eom(void *state, struct sinkd_ctx *c)
{
	struct lsink *k = state;
	const struct sinkd_api *api = k->api;
	GString *work = g_string_new(NULL);
	enum sinkd_verdict v = SINKD_CONTINUE;
	const char *r;
	unsigned i;
	GPtrArray *rcpts = g_ptr_array_new_with_free_func(g_free);

	/* the edits below change the recipients: read them all first */
	for (i = 0; (r = api->rcpt(c, i)) != NULL; i++)
		g_ptr_array_add(rcpts, g_strdup(r));
	for (i = 0; v == SINKD_CONTINUE && i < rcpts->len; i++) {
		const char *addr = rcpts->pdata[i];
		char *list, *token, *why = NULL;
		enum la_kind kind;

		if (classify(k, c, addr, &kind, &list, &token, &why) < 0) {
			v = store_down(k, c, why);
			break;
		}
		if (kind == LA_POST)
			v = post(k, c, addr, list, work);
		else if (kind == LA_OWNER) {
			GPtrArray *o;
			unsigned j;

			if (ls_members(k->store, list, LS_OWNER, 0, &o, &why) < 0)
				v = store_down(k, c, why);
			else {
				api->rcpt_delete(c, addr);
				for (j = 0; j < o->len; j++)
					api->rcpt_add(c, o->pdata[j]);
				g_ptr_array_free(o, TRUE);
			}
		} else if (consumed(kind)) {
			api->rcpt_delete(c, addr);
			g_string_append_printf(work, "%s%s:%s%s%s", work->len ? " " : "",
					       la_name(kind), list, token ? ":" : "", token ? token : "");
		}
		g_free(list);
		g_free(token);
	}
	if (v == SINKD_CONTINUE && work->len)
		api->note(c, WORK_KEY, work->str);
	g_string_free(work, TRUE);
	g_ptr_array_free(rcpts, TRUE);
	return v;
}

/* ------------------------------------------------------------------ */
/* after acceptance                                                     */

/* what one accepted message asks of the lists */
struct job {
	struct lsink *k;
	struct sinkd_ctx *c;
	const char *sender;	/* normalized, or NULL */
	const char *body;	/* the message's file */
	GMimeMessage *msg;	/* parsed on first need */
	GBytes *raw;		/* read on first need */
	long confirm_expiry, held_expiry;
	unsigned max_commands;
	int failed;		/* the store failed: retry */
};

static void
job_log(struct job *j, enum sinkd_log level, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
job_log(struct job *j, enum sinkd_log level, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	j->k->api->log(j->c, level, s);
	g_free(s);
}

/* job_store - a store failure: logged, and the event comes again */
static void
job_store(struct job *j, char *why)
{
	job_log(j, SINKD_LOG_ERROR, "store: %s", why);
	g_free(why);
	j->failed = 1;
}

static GBytes *
job_raw(struct job *j)
{
	GError *e = NULL;
	gchar *data;
	gsize len;

	if (j->raw == NULL && j->body) {
		if (!g_file_get_contents(j->body, &data, &len, &e)) {
			job_log(j, SINKD_LOG_ERROR, "%s", e->message);
			g_error_free(e);
			return NULL;
		}
		j->raw = g_bytes_new_take(data, len);
	}
	return j->raw;
}

static GMimeMessage *
job_msg(struct job *j)
{
	GBytes *raw = job_raw(j);
	GMimeStream *st;
	GMimeParser *p;
	gsize len;
	const void *d;

	if (j->msg == NULL && raw) {
		d = g_bytes_get_data(raw, &len);
		st = g_mime_stream_mem_new_with_buffer(d, len);
		p = g_mime_parser_new_with_stream(st);
		j->msg = g_mime_parser_construct_message(p, NULL);
		g_object_unref(p);
		g_object_unref(st);
	}
	return j->msg;
}

/* send_text - template name to whom, from list l */
static void
send_text(struct job *j, const struct ls_list *l, const char *name, const char *to,
	  GPtrArray *v)
{
	char *why = NULL;

	if (lt_send(j->k->store, j->k->templates, l, name, to, v, &why) < 0)
		job_store(j, why);
}

/* request - a subscribe or unsubscribe waiting for its confirmation */
static void
request(struct job *j, const struct ls_list *l, const char *action, const char *addr,
	GString *results)
{
	char *why = NULL, *tok, *confirm;
	struct ls_member m;
	GPtrArray *pending, *v;
	unsigned i;
	int rc;

	rc = ls_member_get(j->k->store, l->address, addr, &m, &why);
	if (rc < 0) {
		job_store(j, why);
		return;
	}
	if (!strcmp(action, "subscribe") ? rc == 1 && (m.roles & LS_MEMBER)
					 : rc == 0 || !(m.roles & LS_MEMBER)) {
		g_string_append_printf(results, "%s %s: %s\n", action, addr, rc == 1
				       ? "already a member" : "not a member");
		ls_member_clear(&m);
		return;
	}
	ls_member_clear(&m);
	/* one confirmation waiting per address and action: asking again
	 * does not make the list mail the address again */
	if (ls_tokens(j->k->store, l->address, action, now_s(), &pending, &why) < 0) {
		job_store(j, why);
		return;
	}
	for (i = 0; i < pending->len; i++)
		if (!strcmp(((struct ls_token *) pending->pdata[i])->address, addr))
			break;
	rc = i < pending->len;
	g_ptr_array_free(pending, TRUE);
	if (rc) {
		g_string_append_printf(results, "%s %s: a confirmation was sent already\n",
				       action, addr);
		return;
	}
	tok = ls_token_new(j->k->store, l->address, action, addr, now_s() + j->confirm_expiry,
			   NULL, 0, &why);
	if (tok == NULL) {
		job_store(j, why);
		return;
	}
	confirm = la_with(l->address, "+confirm-", tok);
	v = g_ptr_array_new();
	lt_vars(v, l, addr);
	lt_var(v, "token", tok);
	lt_var(v, "confirm", confirm);
	send_text(j, l, !strcmp(action, "subscribe") ? "confirm-subscribe" : "confirm-unsubscribe",
		  addr, v);
	g_ptr_array_free(v, TRUE);
	job_log(j, SINKD_LOG_INFO, "%s: %s of %s waits for its confirmation", l->address, action,
		addr);
	g_free(confirm);
	g_free(tok);
}

/* confirm - token, from the address it was sent to */
static void
confirm(struct job *j, const char *list, const char *token, GString *results)
{
	struct ls_token t;
	struct ls_list l;
	char *why = NULL;
	GPtrArray *v;
	int rc;

	rc = ls_token_take(j->k->store, token, now_s(), &t, &why);
	if (rc < 0) {
		job_store(j, why);
		return;
	}
	if (rc == 0 || strcmp(t.list, list) || (strcmp(t.action, "subscribe")
						 && strcmp(t.action, "unsubscribe"))) {
		if (results)
			g_string_append_printf(results, "confirm %s: no such request, or it expired\n",
					       token);
		ls_token_clear(&t);
		return;
	}
	if ((rc = ls_list_get(j->k->store, list, &l, &why)) <= 0) {
		if (rc < 0)
			job_store(j, why);
		ls_token_clear(&t);
		ls_list_clear(&l);
		return;
	}
	if (!strcmp(t.action, "subscribe"))
		rc = ls_member_add(j->k->store, list, (char *[]) {t.address, NULL}, LS_MEMBER, &why);
	else
		rc = ls_member_remove(j->k->store, list, t.address, &why);
	if (rc < 0) {
		job_log(j, SINKD_LOG_WARNING, "%s: %s of %s: %s", list, t.action, t.address, why);
		g_free(why);
	} else {
		job_log(j, SINKD_LOG_INFO, "%s: %s %s", list, t.address,
			!strcmp(t.action, "subscribe") ? "subscribed" : "unsubscribed");
		v = g_ptr_array_new();
		lt_vars(v, &l, t.address);
		send_text(j, &l, !strcmp(t.action, "subscribe") ? "welcome" : "goodbye", t.address, v);
		g_ptr_array_free(v, TRUE);
	}
	ls_token_clear(&t);
	ls_list_clear(&l);
}

/* text_of - the message's subject and first text/plain body, UTF-8,
 * at most MAX_BODY bytes of its encoded form read */
static char *
text_of(GMimeMessage *msg)
{
	GMimePartIter *it;
	GMimeObject *o, *body = NULL;
	GMimeDataWrapper *w;
	GMimeStream *in, *sub, *f, *out;
	GByteArray *buf;
	const char *cs;
	gint64 len, start;
	char *s;

	if (GMIME_IS_TEXT_PART(g_mime_message_get_mime_part(msg)))
		body = g_mime_message_get_mime_part(msg);
	it = g_mime_part_iter_new(GMIME_OBJECT(msg));
	while (body == NULL && g_mime_part_iter_is_valid(it)) {
		o = g_mime_part_iter_get_current(it);
		if (GMIME_IS_TEXT_PART(o) && !g_mime_part_is_attachment(GMIME_PART(o))
		    && g_mime_content_type_is_type(g_mime_object_get_content_type(o), "text", "plain"))
			body = o;
		g_mime_part_iter_next(it);
	}
	g_mime_part_iter_free(it);
	if (body == NULL || (w = g_mime_part_get_content(GMIME_PART(body))) == NULL)
		return g_strdup("");
	in = g_mime_data_wrapper_get_stream(w);
	g_mime_stream_reset(in);
	/* a substream of a memory stream shares its buffer and reads up to
	 * the end it is given: never past the content's own */
	len = g_mime_stream_length(in);
	start = g_mime_stream_tell(in);
	sub = g_mime_stream_substream(in, start, start + (len >= 0 && len < MAX_BODY ? len : MAX_BODY));
	f = g_mime_stream_filter_new(sub);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(f),
				 g_mime_filter_basic_new(g_mime_data_wrapper_get_encoding(w), FALSE));
	cs = g_mime_object_get_content_type_parameter(body, "charset");
	if (cs && g_ascii_strcasecmp(cs, "utf-8") && g_ascii_strcasecmp(cs, "us-ascii")) {
		GMimeFilter *cf = g_mime_filter_charset_new(cs, "utf-8");

		if (cf)
			g_mime_stream_filter_add(GMIME_STREAM_FILTER(f), cf);
	}
	buf = g_byte_array_new();
	out = g_mime_stream_mem_new_with_byte_array(buf);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(out), FALSE);
	g_mime_stream_write_to_stream(f, out);
	g_byte_array_append(buf, (const guint8 *) "", 1);
	s = (char *) g_byte_array_free(buf, FALSE);
	g_object_unref(out);
	g_object_unref(f);
	g_object_unref(sub);
	if (!g_utf8_validate(s, -1, NULL)) {
		char *v = g_utf8_make_valid(s, -1);

		g_free(s);
		s = v;
	}
	return s;
}

/* command - one command line; 0 done, -1 not a command */
static int
command(struct job *j, const struct ls_list *l, const char *line, GHashTable *done,
	GString *results)
{
	char **w = g_strsplit_set(line, " \t", 0), **a = w, *verb, *arg = NULL, *addr, *key;
	unsigned n = 0;
	GPtrArray *v;
	int rc = 0;

	while (a[n]) {
		if (*a[n] == 0) {
			g_free(a[n]);
			memmove(a + n, a + n + 1, sizeof(*a) * (g_strv_length(a + n + 1) + 1));
		} else
			n++;
	}
	if (n == 0 || n > 2) {
		g_strfreev(w);
		return -1;
	}
	verb = g_ascii_strdown(a[0], -1);
	if (n == 2)
		arg = a[1];
	/* one answer to each command, however often it is repeated */
	key = g_strdup_printf("%s %s", verb, arg ? arg : "");
	if (g_hash_table_contains(done, key)) {
		g_free(key);
		g_free(verb);
		g_strfreev(w);
		return 0;
	}
	g_hash_table_add(done, key);
	if (!strcmp(verb, "subscribe") || !strcmp(verb, "unsubscribe")) {
		addr = arg ? ls_addr_norm(arg) : g_strdup(j->sender);
		if (addr == NULL)
			g_string_append_printf(results, "%s: not an address\n", line);
		else
			request(j, l, verb, addr, results);
		g_free(addr);
	} else if ((!strcmp(verb, "help") || !strcmp(verb, "info")) && arg == NULL) {
		v = g_ptr_array_new();
		lt_vars(v, l, j->sender);
		send_text(j, l, verb, j->sender, v);
		g_ptr_array_free(v, TRUE);
	} else if (!strcmp(verb, "confirm") && arg)
		confirm(j, l->address, arg, results);
	else
		rc = -1;
	g_free(verb);
	g_strfreev(w);
	return rc;
}

/* commands - a message to LIST-request@: the subject, then the body,
 * one command a line, at most max_commands lines */
static void
commands(struct job *j, const char *list)
{
	GMimeMessage *msg = job_msg(j);
	GHashTable *done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GString *results = g_string_new(NULL);
	struct ls_list l;
	char *why = NULL, *text, **lines;
	const char *subj;
	unsigned i, seen = 0, bad = 0;
	int rc;

	if (j->sender == NULL || msg == NULL || (rc = ls_list_get(j->k->store, list, &l, &why)) == 0)
		goto out;
	if (rc < 0) {
		job_store(j, why);
		goto out;
	}
	subj = g_mime_message_get_subject(msg);
	text = text_of(msg);
	lines = g_strsplit(text, "\n", 0);
	g_free(text);
	/* the subject first ("Re:" before it is a mail client's) */
	if (subj) {
		char *s = g_strstrip(g_strdup(subj));
		const char *p = s;

		if (!g_ascii_strncasecmp(p, "re:", 3))
			p += 3;
		while (*p == ' ')
			p++;
		seen++;
		if (command(j, &l, p, done, results) < 0)
			bad++;
		g_free(s);
	}
	for (i = 0; lines[i] && seen < j->max_commands && !j->failed; i++) {
		char *line = g_strstrip(lines[i]);

		if (*line == 0)
			continue;
		/* the end of the commands: a signature, a quote */
		if (!strcmp(line, "--") || !strcmp(line, "-- ") || *line == '>'
		    || !g_ascii_strcasecmp(line, "end"))
			break;
		seen++;
		if (command(j, &l, line, done, results) < 0) {
			bad++;
			g_string_append_printf(results, "%.80s: not a command\n", line);
		}
	}
	g_strfreev(lines);
	if (bad == seen) {
		/* nothing it said was a command: the help text */
		command(j, &l, "help", done, results);
	} else if (results->len) {
		GPtrArray *v = g_ptr_array_new();

		lt_vars(v, &l, j->sender);
		lt_var(v, "results", results->str);
		send_text(j, &l, "results", j->sender, v);
		g_ptr_array_free(v, TRUE);
	}
	ls_list_clear(&l);
out:
	g_string_free(results, TRUE);
	g_hash_table_destroy(done);
}

/* one - the command of an address LIST+command@ */
static void
one(struct job *j, const char *list, const char *what)
{
	GHashTable *done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GString *results = g_string_new(NULL);
	struct ls_list l;
	char *why = NULL;
	int rc;

	if (j->sender && (rc = ls_list_get(j->k->store, list, &l, &why)) != 0) {
		if (rc < 0)
			job_store(j, why);
		else {
			command(j, &l, what, done, results);
			if (results->len) {
				GPtrArray *v = g_ptr_array_new();

				lt_vars(v, &l, j->sender);
				lt_var(v, "results", results->str);
				send_text(j, &l, "results", j->sender, v);
				g_ptr_array_free(v, TRUE);
			}
			ls_list_clear(&l);
		}
	}
	g_string_free(results, TRUE);
	g_hash_table_destroy(done);
}

/* hold - a post kept for the moderators, who are asked */
static void
hold(struct job *j, const char *list)
{
	GBytes *raw = job_raw(j);
	GMimeMessage *msg = job_msg(j);
	struct ls_list l;
	GPtrArray *mods, *v;
	char *why = NULL, *tok, *subj, *approve, *reject, *from;
	const void *d;
	gsize len;
	unsigned i;
	int rc;

	if (raw == NULL || (rc = ls_list_get(j->k->store, list, &l, &why)) == 0)
		return;
	if (rc < 0) {
		job_store(j, why);
		return;
	}
	d = g_bytes_get_data(raw, &len);
	tok = ls_token_new(j->k->store, list, "post", j->sender ? j->sender : "",
			   now_s() + j->held_expiry, d, len, &why);
	if (tok == NULL) {
		job_store(j, why);
		ls_list_clear(&l);
		return;
	}
	if (ls_members(j->k->store, list, LS_MODERATOR, 0, &mods, &why) < 0
	    || (mods->len == 0 && (g_ptr_array_free(mods, TRUE),
				   ls_members(j->k->store, list, LS_OWNER, 0, &mods, &why)) < 0)) {
		job_store(j, why);
		g_free(tok);
		ls_list_clear(&l);
		return;
	}
	subj = lm_subject(msg);
	from = msg && g_mime_message_get_from(msg)
		? internet_address_list_to_string(g_mime_message_get_from(msg), NULL, FALSE)
		: g_strdup(j->sender);
	approve = la_with(list, "+approve-", tok);
	reject = la_with(list, "+reject-", tok);
	v = g_ptr_array_new();
	lt_vars(v, &l, j->sender);
	lt_var(v, "token", tok);
	lt_var(v, "approve", approve);
	lt_var(v, "reject", reject);
	lt_var(v, "subject", subj);
	lt_var(v, "from", from);
	for (i = 0; i < mods->len; i++)
		send_text(j, &l, "moderate", mods->pdata[i], v);
	if (j->sender)
		send_text(j, &l, "held", j->sender, v);
	job_log(j, SINKD_LOG_INFO, "%s: post from %s held (%s), %u moderators asked", list,
		j->sender ? j->sender : "<>", tok, mods->len);
	g_ptr_array_free(v, TRUE);
	g_ptr_array_free(mods, TRUE);
	g_free(from);
	g_free(subj);
	g_free(approve);
	g_free(reject);
	g_free(tok);
	ls_list_clear(&l);
}

/* moderate - a moderator's approval or refusal of a held post */
static void
moderate(struct job *j, const char *list, const char *token, int approve)
{
	char *why = NULL;
	int rc = lm_decide(j->k->store, j->k->templates, list, token, approve, &why);

	if (rc < 0)
		job_store(j, why);
	else if (rc == 0)
		job_log(j, SINKD_LOG_INFO, "%s: %s: no such held post", list, token);
	else
		job_log(j, SINKD_LOG_INFO, "%s: held post %s %s", list, token,
			approve ? "approved" : "refused");
}

/* released - an approved post went out: its token is spent */
static void
released(struct job *j, const char *token)
{
	struct ls_token t;
	char *why = NULL;

	if (ls_token_take(j->k->store, token, now_s(), &t, &why) < 0)
		job_store(j, why);
	ls_token_clear(&t);
}

/*
 * bounces - a delivery status notification to LIST-bounces@: each
 * member it says failed for good (action failed, status 5.x.x) counts
 * one failure (a day at most); at the list's bounce-score the member's
 * delivery is suspended and the member told
 */
static void
bounces(struct job *j, const char *list)
{
	GBytes *raw = job_raw(j);
	struct dsn *d;
	struct ls_list l;
	char *why = NULL;
	const void *data;
	gsize len;
	unsigned i;
	int rc;

	if (raw == NULL)
		return;
	data = g_bytes_get_data(raw, &len);
	if ((d = dsn_parse(data, len, &why)) == NULL) {
		job_log(j, SINKD_LOG_INFO, "%s: not a delivery status notification: %s", list, why);
		g_free(why);
		return;
	}
	if ((rc = ls_list_get(j->k->store, list, &l, &why)) <= 0) {
		if (rc < 0)
			job_store(j, why);
		dsn_free(d);
		ls_list_clear(&l);
		return;
	}
	for (i = 0; i < d->rcpts->len && !j->failed; i++) {
		const struct dsn_rcpt *r = d->rcpts->pdata[i];
		char *addr = ls_addr_norm(r->original ? r->original : r->final);

		if (addr && r->action == DSN_FAILED && r->status[0] == '5') {
			rc = ls_bounce(j->k->store, list, addr, now_s() / 86400, &why);
			if (rc < 0)
				job_store(j, why);
			else if (rc == 1) {
				GPtrArray *v = g_ptr_array_new();
				char score[32];

				g_snprintf(score, sizeof(score), "%ld", l.bounce_score);
				job_log(j, SINKD_LOG_INFO, "%s: %s bounced %s times: delivery suspended",
					list, addr, score);
				lt_vars(v, &l, addr);
				lt_var(v, "score", score);
				send_text(j, &l, "disabled", addr, v);
				g_ptr_array_free(v, TRUE);
			} else
				job_log(j, SINKD_LOG_INFO, "%s: %s bounced (%s)", list, addr, r->status);
		}
		g_free(addr);
	}
	dsn_free(d);
	ls_list_clear(&l);
}

/* work - one item of the note */
static void
work(struct job *j, const char *item)
{
	char **f = g_strsplit(item, ":", 3);
	const char *kind = f[0], *list = f[1], *token = f[1] ? f[2] : NULL;

	if (list == NULL)
		;
	else if (!strcmp(kind, "request"))
		commands(j, list);
	else if (!strcmp(kind, "subscribe") || !strcmp(kind, "unsubscribe")
		 || !strcmp(kind, "help") || !strcmp(kind, "info"))
		one(j, list, kind);
	else if (!strcmp(kind, "confirm") && token)
		confirm(j, list, token, NULL);
	else if ((!strcmp(kind, "approve") || !strcmp(kind, "reject")) && token)
		moderate(j, list, token, !strcmp(kind, "approve"));
	else if (!strcmp(kind, "released") && token)
		released(j, token);
	else if (!strcmp(kind, "hold"))
		hold(j, list);
	else if (!strcmp(kind, "bounces"))
		bounces(j, list);
	g_strfreev(f);
}

/* work_of - the note of this sink in the event's facts, or NULL */
static const char *
work_of(JsonObject *ev)
{
	JsonObject *facts = json_object_has_member(ev, "facts")
		? json_object_get_object_member(ev, "facts") : NULL;
	GList *names, *n;
	const char *w = NULL;

	if (facts == NULL)
		return NULL;
	names = json_object_get_members(facts);
	for (n = names; n && w == NULL; n = n->next)
		if (g_str_has_prefix(n->data, "sink.") && g_str_has_suffix(n->data, "." WORK_KEY))
			w = json_object_get_string_member(facts, n->data);
	g_list_free(names);
	return w;
}

static void
flush_log(void *arg, const char *line)
{
	struct job *j = arg;

	job_log(j, SINKD_LOG_INFO, "sent %s", line);
}

/* expire - expired requests and held posts removed from the store, once
 * an expire-interval at most (whichever worker comes first) */
static void
expire(struct lsink *k, struct sinkd_ctx *c)
{
	gint64 now = now_s(), last = __atomic_load_n(&k->expired, __ATOMIC_SEQ_CST);
	long every = seconds(k->api->config(c, "expire-interval"), 3600);
	char *why = NULL;
	int n;

	if (now - last < every
	    || !__atomic_compare_exchange_n(&k->expired, &last, now, 0,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return;
	if ((n = ls_expire(k->store, now, &why)) < 0) {
		logf_(k, c, SINKD_LOG_WARNING, "expiry: %s", why ? why : "store error");
		g_free(why);
		__atomic_store_n(&k->expired, last, __ATOMIC_SEQ_CST);
	} else if (n > 0) {
		logf_(k, c, SINKD_LOG_INFO, "%d expired requests and held posts removed", n);
	}
}

static enum sinkd_event_result
ls_accepted(void *state, struct sinkd_ctx *c, const char *event, const char *body)
{
	struct lsink *k = state;
	JsonParser *p = json_parser_new();
	JsonObject *ev;
	const char *w, *key;
	char *why = NULL, **items;
	struct job j = {.k = k, .c = c, .body = body};
	char *sender = NULL;
	unsigned i;
	int rc;

	if (!json_parser_load_from_data(p, event, -1, NULL)
	    || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
		g_object_unref(p);
		return SINKD_EVENT_FAIL;
	}
	expire(k, c);
	ev = json_node_get_object(json_parser_get_root(p));
	w = work_of(ev);
	key = json_object_has_member(ev, "key") ? json_object_get_string_member(ev, "key") : NULL;
	if (w == NULL || key == NULL) {
		g_object_unref(p);
		return SINKD_EVENT_DONE;
	}
	if ((rc = ls_seen(k->store, key, &why)) < 0) {
		job_store(&j, why);
		goto out;
	}
	if (rc == 0) {
		sender = ls_addr_norm(json_object_get_string_member(ev, "sender"));
		j.sender = sender;
		j.confirm_expiry = seconds(k->api->config(c, "confirm-expiry"), 3 * 86400);
		j.held_expiry = seconds(k->api->config(c, "held-expiry"), 7 * 86400);
		j.max_commands = (unsigned) seconds(k->api->config(c, "max-commands"), 10);
		items = g_strsplit(w, " ", 64);
		for (i = 0; items[i] && !j.failed; i++)
			work(&j, items[i]);
		g_strfreev(items);
		if (!j.failed && ls_seen_mark(k->store, key, now_s(), &why) < 0)
			job_store(&j, why);
	}
	if (!j.failed && lo_flush(k->store, k->submit, 1000, flush_log, &j, &why) < 0) {
		job_log(&j, SINKD_LOG_WARNING, "outbox: %s", why);
		g_free(why);
		j.failed = 1;
	}
out:
	if (j.msg)
		g_object_unref(j.msg);
	if (j.raw)
		g_bytes_unref(j.raw);
	g_free(sender);
	g_object_unref(p);
	return j.failed ? SINKD_EVENT_RETRY : SINKD_EVENT_DONE;
}

static const struct sinkd_sink lists_sink = {
	.abi_major = SINKD_SINK_ABI_MAJOR,
	.abi_minor = 3,
	.name = "lists",
	.keys = keys,
	.init = ls_init,
	.shutdown = ls_shutdown,
	.rcpt = ls_rcpt,
	.eom = ls_eom,
	.accepted = ls_accepted,
	.accepted_flags = SINKD_ACCEPTED_BODY,
};

const struct sinkd_sink *sinkd_sink_entry(void);

const struct sinkd_sink *
sinkd_sink_entry(void)
{
	return &lists_sink;
}
