/*
 * dkim - the dkim handler: DKIM verification of the message as received
 *
 * At end of message, before any handler's eom hook (the before_eom
 * hook, whatever the handler's place in the chain), every DKIM-Signature
 * of the message as received is verified with libopendkim, at most
 * dkim-max-signatures of them (the topmost; the rest are only counted).
 * What it found goes three ways:
 *
 *   - struct msg's dkim (src/dkim.h), with the policy's dkim-signed
 *     choice, which dkim_may_change() reads when another handler is
 *     about to change the message;
 *   - facts for handlers and sinks (dkim.count, dkim.N.result, ...:
 *     sinkd-sink(3)), and one note for the log line;
 *   - with authserv-id set, an Authentication-Results field (RFC 8601)
 *     at the top of the header, and the removal of any the message came
 *     with that claim the same authserv-id.
 *
 * Keys: with dkim-keys-file set (read once per snapshot, when the
 * default policy is compiled), from that file alone; else from DNS
 * through the system resolver (res_nquery(3), a resolver state of the
 * call's own), every look-up of a message within one budget
 * (dkim-dns-timeout).  A key that cannot be had in time makes the
 * signature temperror, and the message follows dkim-temperror.
 * libopendkim asks for keys through dkim_set_key_lookup(), so that its
 * own resolver, which has no budget, is never used.
 *
 * Signing: after every change (the after_eom hook), when the message is
 * to be accepted: outbound mail of a policy with dkim-sign = yes, and
 * mail of a policy with dkim-signed = resign whose changes broke a
 * signature that passed (the signing domain's broken signatures are
 * then removed) get a DKIM-Signature over the message as it will leave
 * (src/final.h), relaxed/relaxed, at the top of the header: RSA keys
 * with libopendkim's dkim_sign(), Ed25519 keys with dkimsign.c (OpenSSL;
 * libopendkim 2.11 leaks an Ed25519 key per message).  The key is read
 * and checked when the policy is compiled (once per snapshot).
 *
 * Threading: one DKIM_LIB for the process, made on first use; each
 * message has a DKIM handle of its own, with its look-up context
 * (struct vctx) as the handle's user context.
 */
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <dkim.h>

#include "dkim.h"
#include "dkimsign.h"
#include "../src/final.h"
#include "../src/log.h"
#include "../src/policy.h"

/* strictest first (MERGE_ENUM): skip keeps every signature good, resign
 * and arc make good what a change broke, ignore does not */
static const char *const signed_values[] = {"skip", "resign", "arc", "ignore", NULL};

static int sign_header_check(char **entry, char **why);

#define SIGN_HEADERS_DEFAULT "+from, to, cc, subject, date, message-id, reply-to, " \
	"in-reply-to, references, mime-version, content-type, content-transfer-encoding"

static const char *const temperror_values[] = {"tempfail", "proceed", NULL};

static const struct conf_key dkim_keys[] = {
	{"dkim-signed", CONF_ENUM, "ignore", .values = signed_values, .merge = MERGE_ENUM,
	 .doc = "changes to mail with a DKIM signature that verified: skip those that would break it, make them and resign or arc-seal, or ignore it"},
	{"dkim-sign", CONF_BOOL, "no", .merge = MERGE_TRUE,
	 .doc = "DKIM-sign outbound mail of this sender domain as it leaves, after every change"},
	{"dkim-domain", CONF_STRING, "", .merge = MERGE_AGREE,
	 .doc = "d= of sinkd's signatures and ARC sets; empty: the policy's own domain"},
	{"dkim-selector", CONF_STRING, "", .merge = MERGE_AGREE,
	 .doc = "s= of sinkd's signatures and ARC sets"},
	{"dkim-key", CONF_PATH, "", .merge = MERGE_AGREE,
	 .doc = "the signing key (PEM; RSA of 1024 bits or more, or Ed25519; not readable by others)"},
	{"dkim-sign-headers", CONF_LIST, SIGN_HEADERS_DEFAULT, .merge = MERGE_AGREE,
	 .check = sign_header_check,
	 .doc = "header fields signed (from among them); +name: over-signed, so that none can be added"},
	{"dkim-temperror", CONF_ENUM, "proceed", .values = temperror_values, .merge = MERGE_ENUM,
	 .doc = "a key that cannot be had in time: tempfail the message, or proceed with the signature temperror"},
	{"dkim-dns-timeout", CONF_TIME, "5s", 1, 60, .flags = CONF_NODOMAIN,
	 .doc = "the time all of a message's DNS key look-ups may take together"},
	{"dkim-keys-file", CONF_PATH, "", .flags = CONF_NODOMAIN,
	 .doc = "keys from this file (lines: SELECTOR._domainkey.DOMAIN TXT-value) instead of DNS; empty: DNS"},
	{"dkim-max-signatures", CONF_INT, "5", 1, 50, .flags = CONF_NODOMAIN,
	 .doc = "signatures verified per message, the topmost; the others are neutral"},
	{"authserv-id", CONF_STRING, "", .flags = CONF_NODOMAIN,
	 .doc = "add Authentication-Results under this authserv-id, removing those that claim it; empty: none"},
	{NULL},
};

struct dkim_cfg {
	enum dkim_signed signed_choice;
	int sign;		/* dkim-sign: outbound mail */
	struct dkim_signer *signer;	/* NULL: no key */
	int temperror_tempfail;
	gint64 timeout;		/* µs */
	unsigned max;
	char *authserv_id;	/* "" : no Authentication-Results */
	GHashTable *keys;	/* default policy only: name (lower case) ->
				 * TXT value, or NULL: DNS */
};

/* The look-up context of one message's verification. */
struct vctx {
	GHashTable *keys;	/* or NULL: DNS */
	gint64 deadline;	/* monotonic µs, for every DNS look-up */
	unsigned max;
	GHashTable *temp;	/* DKIM_SIGINFO * whose key timed out */
	const char *id;		/* queue id, for the log */
};

#define TXT_MAX	8192		/* the longest key record taken */
#define ANSWER_MAX 65535	/* a DNS answer, over TCP */

/* --- the keys file --- */

/*
 * txt_value - the TXT value of a keys-file line: the text as it is, or
 * one or more "quoted strings" (as a zone file has them, the parentheses
 * of a multi-line record left out) joined; NULL with *why on bad quoting
 */
static char *
txt_value(const char *s, const char **why)
{
	GString *v;

	if (*s != '"' && *s != '(')
		return g_strdup(s);
	v = g_string_new(NULL);
	while (*s) {
		if (*s == ' ' || *s == '\t' || *s == '(' || *s == ')') {
			s++;
			continue;
		}
		if (*s == ';')		/* a zone file's comment */
			break;
		if (*s != '"') {
			*why = "text between the quoted strings";
			g_string_free(v, TRUE);
			return NULL;
		}
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			g_string_append_c(v, *s);
		}
		if (*s != '"') {
			*why = "a quoted string is not closed";
			g_string_free(v, TRUE);
			return NULL;
		}
		s++;
	}
	return g_string_free(v, FALSE);
}

/* keys_load - the keys file named by g's dkim-keys-file; NULL on error,
 * each bad line reported as "file:line: dkim-keys-file: what" */
static GHashTable *
keys_load(const struct conf_group *g, struct conf_errors *e)
{
	const char *path = conf_str(g, "dkim-keys-file");
	GHashTable *keys;
	GError *err = NULL;
	char *text, **lines, *name, *value;
	const char *why = NULL;
	unsigned before = e->msgs->len;
	int i;

	if (!g_file_get_contents(path, &text, NULL, &err)) {
		conf_key_error(e, g, "dkim-keys-file", "%s", err->message);
		g_error_free(err);
		return NULL;
	}
	keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	lines = g_strsplit(text, "\n", -1);
	for (i = 0; lines[i]; i++) {
		char *l = g_strstrip(lines[i]), *sp;

		if (*l == 0 || *l == '#')
			continue;
		sp = l + strcspn(l, " \t");
		if (*sp == 0) {
			conf_errorf(e, "%s:%d: dkim-keys-file: a name without a TXT value", path, i + 1);
			continue;
		}
		*sp++ = 0;
		name = g_ascii_strdown(l, -1);
		if (g_str_has_suffix(name, "."))
			name[strlen(name) - 1] = 0;
		if (strstr(name, "._domainkey.") == NULL || *name == '.') {
			conf_errorf(e, "%s:%d: dkim-keys-file: \"%s\" is not SELECTOR._domainkey.DOMAIN",
				    path, i + 1, l);
			g_free(name);
			continue;
		}
		sp += strspn(sp, " \t");
		/* a zone file's "IN TXT" may stay */
		if (!g_ascii_strncasecmp(sp, "IN", 2) && (sp[2] == ' ' || sp[2] == '\t'))
			sp += 2 + strspn(sp + 2, " \t");
		if (!g_ascii_strncasecmp(sp, "TXT", 3) && (sp[3] == ' ' || sp[3] == '\t'))
			sp += 3 + strspn(sp + 3, " \t");
		if ((value = txt_value(sp, &why)) == NULL) {
			conf_errorf(e, "%s:%d: dkim-keys-file: %s", path, i + 1, why);
			g_free(name);
			continue;
		}
		if (*value == 0 || strlen(value) > TXT_MAX) {
			conf_errorf(e, "%s:%d: dkim-keys-file: %s TXT value", path, i + 1,
				    *value ? "too long a" : "an empty");
			g_free(name);
			g_free(value);
			continue;
		}
		if (g_hash_table_contains(keys, name)) {
			conf_errorf(e, "%s:%d: dkim-keys-file: %s given twice", path, i + 1, name);
			g_free(name);
			g_free(value);
			continue;
		}
		g_hash_table_insert(keys, name, value);
	}
	g_strfreev(lines);
	g_free(text);
	if (e->msgs->len != before) {
		g_hash_table_destroy(keys);
		return NULL;
	}
	return keys;
}

/* --- the signer --- */

/* sign_header_check - a dkim-sign-headers entry: a field name, "+" before
 * it to over-sign; lower case */
static int
sign_header_check(char **entry, char **why)
{
	const char *name = **entry == '+' ? *entry + 1 : *entry;
	char *low;

	if (!edits_header_name_ok(name)) {
		*why = g_strdup_printf("\"%s\" is not a header field name", *entry);
		return -1;
	}
	low = g_ascii_strdown(*entry, -1);
	g_free(*entry);
	*entry = low;
	return 0;
}

/* dkim_alg_name - the a= tag of an algorithm */
const char *
dkim_alg_name(enum dkim_alg a)
{
	static const char *const names[] = {
		[DKIM_ALG_RSA_SHA256] = "rsa-sha256",
		[DKIM_ALG_ED25519_SHA256] = "ed25519-sha256",
	};

	return names[a];
}

/* signer_free - a signer; NULL is fine */
static void
signer_free(struct dkim_signer *s)
{
	if (s == NULL)
		return;
	if (s->lib)
		dkim_close(s->lib);
	EVP_PKEY_free(s->key);
	if (s->pem)
		OPENSSL_cleanse(s->pem, strlen(s->pem));
	g_free(s->pem);
	g_free(s->domain);
	g_free(s->selector);
	g_strfreev(s->headers);
	g_strfreev(s->oversign);
	g_free(s);
}

/* no_passphrase - OpenSSL's passphrase callback: never ask (a key with a
 * passphrase does not load) */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* key_load - the private key of path into s (key, pem, alg); NULL, or
 * what is wrong with it (g_free) */
static char *
key_load(struct dkim_signer *s, const char *path, uid_t user)
{
	GError *err = NULL;
	char *why, *text;
	gsize len;
	BIO *bio;

	if ((why = conf_file_unsafe(path, CONF_FILE_SECRET, user)) != NULL)
		return why;
	if (!g_file_get_contents(path, &text, &len, &err)) {
		why = g_strdup(err->message);
		g_error_free(err);
		return why;
	}
	bio = BIO_new_mem_buf(text, (int) MIN(len, G_MAXINT));
	s->key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	s->pem = text;
	if (s->key == NULL)
		return g_strdup_printf("%s: not a PEM private key (or one with a passphrase)", path);
	switch (EVP_PKEY_base_id(s->key)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_bits(s->key) < 1024)
			return g_strdup_printf("%s: an RSA key of %d bits; DKIM needs 1024 or more (RFC 8301)",
					       path, EVP_PKEY_bits(s->key));
		s->alg = DKIM_ALG_RSA_SHA256;
		return NULL;
	case EVP_PKEY_ED25519:
		s->alg = DKIM_ALG_ED25519_SHA256;
		return NULL;
	}
	return g_strdup_printf("%s: neither an RSA nor an Ed25519 key", path);
}

/* name_ok - a domain or selector: dot-separated labels of letters,
 * digits, "-" and "_" */
static int
name_ok(const char *s)
{
	const char *p;

	if (*s == 0 || *s == '.' || strlen(s) > 253)
		return 0;
	for (p = s; *p; p++)
		if (!(g_ascii_isalnum(*p) || *p == '-' || *p == '_'
		      || (*p == '.' && p[1] != '.' && p[1] != 0)))
			return 0;
	return 1;
}

/* signer_lib - a libopendkim handle that signs s's header fields */
static DKIM_LIB *
signer_lib(const struct dkim_signer *s)
{
	unsigned flags = DKIM_LIBFLAGS_FIXCRLF;
	DKIM_LIB *l = dkim_init(NULL, NULL);

	if (l == NULL)
		return NULL;
	if (dkim_options(l, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK
	    || dkim_options(l, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, s->headers,
			    sizeof s->headers) != DKIM_STAT_OK
	    || (s->oversign[0] && dkim_options(l, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
					       s->oversign, sizeof s->oversign) != DKIM_STAT_OK)) {
		dkim_close(l);
		return NULL;
	}
	return l;
}

/*
 * signer_load - the signer of g, when the policy signs (asking: the key
 * that makes it sign, for the errors); NULL with errors in e when it
 * cannot, or when nothing signs and no key is set
 */
static struct dkim_signer *
signer_load(const struct conf_group *g, const char *asking, struct conf_errors *e)
{
	const char *path = conf_str(g, "dkim-key"), *sel = conf_str(g, "dkim-selector");
	const char *dom = conf_str(g, "dkim-domain");
	char *const *list = conf_list(g, "dkim-sign-headers");
	struct dkim_signer *s;
	GPtrArray *h, *o;
	char *why;
	int from = 0;

	if (asking == NULL && *path == 0)
		return NULL;
	if (asking && (*path == 0 || *sel == 0)) {
		conf_key_error(e, g, asking, "%s needs dkim-selector and dkim-key",
			       conf_str(g, asking));
		return NULL;
	}
	/* the policy's own domain, where it has a single one */
	if (*dom == 0 && strcmp(g->domain, "default") && !strchr(g->domain, ','))
		dom = g->domain;
	s = g_new0(struct dkim_signer, 1);
	if (asking && *dom == 0)
		conf_key_error(e, g, asking, "%s needs dkim-domain in a policy of no single domain",
			       conf_str(g, asking));
	else if (*dom && !name_ok(dom))
		conf_key_error(e, g, "dkim-domain", "\"%s\" is not a domain name", dom);
	if (*sel && !name_ok(sel))
		conf_key_error(e, g, "dkim-selector", "\"%s\" is not a selector", sel);
	if ((why = key_load(s, path, e->user)) != NULL) {
		conf_key_error(e, g, "dkim-key", "%s", why);
		g_free(why);
	}
	s->domain = g_ascii_strdown(dom, -1);
	s->selector = g_strdup(sel);
	h = g_ptr_array_new();
	o = g_ptr_array_new();
	for (; list && *list; list++) {
		const char *n = **list == '+' ? *list + 1 : *list;

		from |= !strcmp(n, "from");
		g_ptr_array_add(h, g_strdup(n));
		if (**list == '+')
			g_ptr_array_add(o, g_strdup(n));
	}
	g_ptr_array_add(h, NULL);
	g_ptr_array_add(o, NULL);
	s->headers = (char **) g_ptr_array_free(h, FALSE);
	s->oversign = (char **) g_ptr_array_free(o, FALSE);
	if (!from)
		conf_key_error(e, g, "dkim-sign-headers", "From must be signed (RFC 6376 5.4)");
	else if (s->key && s->alg == DKIM_ALG_RSA_SHA256 && (s->lib = signer_lib(s)) == NULL)
		conf_key_error(e, g, "dkim-sign-headers", "libopendkim does not take this list");
	return s;
}

/* dkim_signer - the signer of policy p, or NULL when it has none */
const struct dkim_signer *
dkim_signer(const struct policy *p)
{
	const struct dkim_cfg *c = p ? policy_handler_cfg(p, &dkim_handler) : NULL;

	return c ? c->signer : NULL;
}

/* --- configuration --- */

/* dkim_unload - a compiled [dkim] group; NULL is fine */
static void
dkim_unload(void *p)
{
	struct dkim_cfg *c = p;

	if (c == NULL)
		return;
	signer_free(c->signer);
	if (c->keys)
		g_hash_table_destroy(c->keys);
	g_free(c->authserv_id);
	g_free(c);
}

/* authserv_ok - an authserv-id is a token: no white space, no ";", no
 * comment, nothing that would need quoting in the field */
static int
authserv_ok(const char *s)
{
	for (; *s; s++)
		if (!g_ascii_isgraph(*s) || strchr(";()\"\\", *s))
			return 0;
	return 1;
}

/* signed_choice - the dkim-signed value, by name */
static enum dkim_signed
signed_choice(const char *v)
{
	static const struct {
		const char *name;
		enum dkim_signed choice;
	} map[] = {
		{"skip", DKIM_SIGNED_SKIP}, {"resign", DKIM_SIGNED_RESIGN},
		{"arc", DKIM_SIGNED_ARC}, {"ignore", DKIM_SIGNED_IGNORE},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(map); i++)
		if (!strcmp(v, map[i].name))
			return map[i].choice;
	return DKIM_SIGNED_IGNORE;
}

/*
 * dkim_inbound - the group as it acts on inbound mail, for combining
 * policies: dkim-sign asks for nothing there; the signing keys count
 * only where dkim-signed resigns or seals, and then under the domain
 * they sign for, so that two domains that would sign as themselves
 * never share a transaction
 */
static void
dkim_inbound(struct conf_group *g, int chained)
{
	static const char *const signing[] = {
		"dkim-domain", "dkim-selector", "dkim-key", "dkim-sign-headers",
	};
	const char *sig = conf_str(g, "dkim-signed");
	unsigned i;

	if (!chained) {
		for (i = 0; i < g->n; i++)
			g->val[i].unused = 1;
		return;
	}
	conf_set(g, "dkim-sign", "no");
	if (strcmp(sig, "resign") && strcmp(sig, "arc")) {
		for (i = 0; i < G_N_ELEMENTS(signing); i++)
			conf_unused(g, signing[i]);
		return;
	}
	if (*conf_str(g, "dkim-domain") == 0 && strcmp(g->domain, "default"))
		conf_set(g, "dkim-domain", g->domain);
}

/* dkim_load - compile one policy's [dkim] group; the default policy's
 * also reads dkim-keys-file.  NULL, errors in e, when it does not load */
static void *
dkim_load(const struct conf_group *g, struct conf_errors *e)
{
	struct dkim_cfg *c = g_new0(struct dkim_cfg, 1);
	unsigned before = e->msgs->len;

	c->signed_choice = signed_choice(conf_str(g, "dkim-signed"));
	c->sign = conf_num(g, "dkim-sign") != 0;
	c->temperror_tempfail = strcmp(conf_str(g, "dkim-temperror"), "tempfail") == 0;
	c->timeout = conf_num(g, "dkim-dns-timeout") * G_USEC_PER_SEC;
	c->max = conf_num(g, "dkim-max-signatures");
	c->authserv_id = g_strdup(conf_str(g, "authserv-id"));
	if (!authserv_ok(c->authserv_id))
		conf_key_error(e, g, "authserv-id", "\"%s\" is not a single token (no white space, ';', quotes or parentheses)",
			       c->authserv_id);
	/* the keys are the snapshot's: read once, with the default policy
	 * (the key may not be set per domain) */
	if (!strcmp(g->domain, "default") && *conf_str(g, "dkim-keys-file"))
		c->keys = keys_load(g, e);
	/* the signing key: once per policy and snapshot */
	c->signer = signer_load(g, c->sign ? "dkim-sign"
				: c->signed_choice == DKIM_SIGNED_RESIGN
				|| c->signed_choice == DKIM_SIGNED_ARC ? "dkim-signed" : NULL, e);
	if (e->msgs->len != before) {
		dkim_unload(c);
		return NULL;
	}
	return c;
}

/* --- key look-up --- */

/* dns_txt - the TXT record of name through the resolver, within the
 * look-up budget: DKIM_CBSTAT_CONTINUE (buf set), _NOTFOUND, or
 * _TRYAGAIN (no answer in time, or a server failure) */
static DKIM_CBSTAT
dns_txt(struct vctx *v, const char *name, u_char *buf, size_t buflen)
{
	struct __res_state rs;
	unsigned char *ans;
	gint64 left = v->deadline - g_get_monotonic_time();
	ns_msg msg;
	ns_rr rr;
	int n, i, herr;
	GString *txt = NULL;

	if (left <= 0)
		return DKIM_CBSTAT_TRYAGAIN;
	memset(&rs, 0, sizeof rs);
	if (res_ninit(&rs) < 0)
		return DKIM_CBSTAT_TRYAGAIN;
	/* one try per server, the budget shared among them */
	rs.retry = 1;
	rs.retrans = (int) MAX(1, left / G_USEC_PER_SEC / MAX(1, rs.nscount));
	ans = g_malloc(ANSWER_MAX);
	n = res_nquery(&rs, name, ns_c_in, ns_t_txt, ans, ANSWER_MAX);
	herr = rs.res_h_errno;
	res_nclose(&rs);
	if (n < 0 || ns_initparse(ans, MIN(n, ANSWER_MAX), &msg) < 0) {
		g_free(ans);
		return n >= 0 || herr == HOST_NOT_FOUND || herr == NO_DATA
			? DKIM_CBSTAT_NOTFOUND : DKIM_CBSTAT_TRYAGAIN;
	}
	for (i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		const unsigned char *p, *end;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			break;
		if (ns_rr_type(rr) != ns_t_txt)
			continue;
		if (txt)	/* more than one record: RFC 6376 3.6.2.2 */
			break;
		txt = g_string_new(NULL);
		p = ns_rr_rdata(rr);
		end = p + ns_rr_rdlen(rr);
		while (p < end && p + 1 + *p <= end) {
			g_string_append_len(txt, (const char *) p + 1, *p);
			p += 1 + *p;
		}
	}
	g_free(ans);
	if (txt == NULL)
		return DKIM_CBSTAT_NOTFOUND;
	if (txt->len >= buflen) {
		g_string_free(txt, TRUE);
		return DKIM_CBSTAT_NOTFOUND;
	}
	memcpy(buf, txt->str, txt->len + 1);
	g_string_free(txt, TRUE);
	return DKIM_CBSTAT_CONTINUE;
}

/*
 * key_lookup - libopendkim's key look-up (dkim_set_key_lookup): from the
 * keys file, else DNS.  A key that cannot be had in time is noted in the
 * message's context, and libopendkim is told it was not found: it then
 * goes on to the next signature (a "try again" would end the
 * verification of all of them), and the signature is temperror here.
 */
static DKIM_CBSTAT
key_lookup(DKIM *d, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	struct vctx *v = dkim_get_user_context(d);
	const char *sel = (const char *) dkim_sig_getselector(sig);
	const char *dom = (const char *) dkim_sig_getdomain(sig);
	char *name, *low;
	const char *val;
	DKIM_CBSTAT rc;

	if (v == NULL || sel == NULL || dom == NULL)
		return DKIM_CBSTAT_NOTFOUND;
	name = g_strdup_printf("%s._domainkey.%s", sel, dom);
	if (v->keys) {
		low = g_ascii_strdown(name, -1);
		val = g_hash_table_lookup(v->keys, low);
		g_free(low);
		g_free(name);
		if (val == NULL || strlen(val) >= buflen)
			return DKIM_CBSTAT_NOTFOUND;
		memcpy(buf, val, strlen(val) + 1);
		return DKIM_CBSTAT_CONTINUE;
	}
	rc = dns_txt(v, name, buf, buflen);
	if (rc == DKIM_CBSTAT_TRYAGAIN) {
		log_info("%s: dkim: key %s: no answer in time", v->id, name);
		g_hash_table_add(v->temp, sig);
		rc = DKIM_CBSTAT_NOTFOUND;
	}
	g_free(name);
	return rc;
}

/* prescreen - only the topmost dkim-max-signatures are verified */
static DKIM_CBSTAT
prescreen(DKIM *d, DKIM_SIGINFO **sigs, int nsigs)
{
	struct vctx *v = dkim_get_user_context(d);
	int i;

	for (i = v ? (int) v->max : 0; i < nsigs; i++)
		dkim_sig_ignore(sigs[i]);
	return DKIM_CBSTAT_CONTINUE;
}

static DKIM_LIB *lib;	/* the process's, made by dkim_lib() */

/* dkim_lib - the process's libopendkim handle, made on first use */
static DKIM_LIB *
dkim_lib(void)
{
	static gsize once;

	if (g_once_init_enter(&once)) {
		unsigned flags = DKIM_LIBFLAGS_FIXCRLF | DKIM_LIBFLAGS_BADSIGHANDLES;
		DKIM_LIB *l = dkim_init(NULL, NULL);

		if (l) {
			dkim_options(l, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
			dkim_set_key_lookup(l, key_lookup);
			dkim_set_prescreen(l, prescreen);
		}
		lib = l;
		g_once_init_leave(&once, 1);
	}
	return lib;
}

/* dkim_stop - the libopendkim handle, at exit */
static void
dkim_stop(void)
{
	if (lib)
		dkim_close(lib);
	lib = NULL;
}

/* --- verification --- */

/* tag - a signature's tag value, or NULL */
static const char *
tag(DKIM_SIGINFO *sig, const char *name)
{
	return (const char *) dkim_sig_gettagvalue(sig, FALSE, (u_char *) name);
}

/* header_list - h= as a vector of lower-case names, folding white space
 * taken out */
static char **
header_list(const char *h)
{
	char **v, **p;

	if (h == NULL)
		return g_new0(char *, 1);
	v = g_strsplit(h, ":", -1);
	for (p = v; *p; p++) {
		char *s = *p, *d = s;

		for (; *s; s++)
			if (!g_ascii_isspace(*s))
				*d++ = g_ascii_tolower(*s);
		*d = 0;
	}
	return v;
}

/* record - what libopendkim found for one signature */
static struct dkim_sig *
record(struct vctx *v, DKIM_SIGINFO *sig)
{
	struct dkim_sig *s = g_new0(struct dkim_sig, 1);
	unsigned flags = dkim_sig_getflags(sig);
	int err = dkim_sig_geterror(sig);
	const char *l = tag(sig, "l"), *t;

	s->domain = g_strdup((t = (const char *) dkim_sig_getdomain(sig)) ? t : "");
	s->selector = g_strdup((t = (const char *) dkim_sig_getselector(sig)) ? t : "");
	s->identity = g_strdup(tag(sig, "i"));
	s->algorithm = g_strdup((t = tag(sig, "a")) ? t : "");
	s->b = g_strdup((t = tag(sig, "b")) ? t : "");
	s->headers = header_list(tag(sig, "h"));
	s->length = -1;
	if (l) {
		char *end;
		gint64 n = g_ascii_strtoll(l, &end, 10);

		s->length = (*l && *end == 0 && n >= 0) ? n : -1;
	}
	if (flags & DKIM_SIGFLAG_IGNORE) {
		s->result = DKIM_RESULT_NEUTRAL;
		s->reason = g_strdup("not verified (over dkim-max-signatures)");
	} else if (g_hash_table_contains(v->temp, sig)) {
		s->result = DKIM_RESULT_TEMPERROR;
		s->reason = g_strdup("key not found in time");
	} else if ((flags & DKIM_SIGFLAG_PASSED) && dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH) {
		s->result = DKIM_RESULT_PASS;
	} else if (err == DKIM_SIGERROR_BADSIG || (err == DKIM_SIGERROR_OK
						   && dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH)) {
		s->result = DKIM_RESULT_FAIL;
		s->reason = g_strdup(err == DKIM_SIGERROR_BADSIG ? "signature verification failed"
				     : "body hash did not verify");
	} else {
		s->result = DKIM_RESULT_PERMERROR;
		s->reason = g_strdup(err == DKIM_SIGERROR_OK ? "not verified"
				     : dkim_sig_geterrorstr(err));
	}
	if (s->result == DKIM_RESULT_PASS && l && s->length < 0)
		s->result = DKIM_RESULT_PERMERROR;	/* cannot be: be safe */
	return s;
}

/* facts - the results as facts for handlers and sinks, and one note */
static void
facts(struct msg *m, const struct dkim_state *st)
{
	GString *note = g_string_new(NULL);
	guint i;

	msg_fact(m, "dkim.count", "%u", st->total);
	msg_fact(m, "dkim.verified", "%u", st->sigs->len);
	for (i = 0; i < st->sigs->len; i++) {
		const struct dkim_sig *s = g_ptr_array_index(st->sigs, i);
		char key[64], *h = g_strjoinv(":", s->headers);

#define FACT(k, ...) (g_snprintf(key, sizeof key, "dkim.%u." k, i + 1), msg_fact(m, key, __VA_ARGS__))
		FACT("domain", "%s", s->domain);
		FACT("selector", "%s", s->selector);
		FACT("result", "%s", dkim_result_name(s->result));
		FACT("algorithm", "%s", s->algorithm);
		FACT("headers", "%s", h);
		if (s->identity)
			FACT("identity", "%s", s->identity);
		if (s->length >= 0)
			FACT("length", "%" G_GINT64_FORMAT, s->length);
		if (s->reason)
			FACT("reason", "%s", s->reason);
#undef FACT
		g_free(h);
		g_string_append_printf(note, "%s%s:%s", i ? "," : "",
				       dkim_result_name(s->result), s->domain);
	}
	msg_note(m, "dkim", "%s", st->total ? note->str : "none");
	g_string_free(note, TRUE);
}

/* ar_value - the Authentication-Results value: the results as verified,
 * before any change */
static char *
ar_value(const char *id, const struct dkim_state *st)
{
	GString *v = g_string_new(id);
	guint i;

	if (st->sigs->len == 0)
		g_string_append(v, "; dkim=none");
	for (i = 0; i < st->sigs->len; i++) {
		const struct dkim_sig *s = g_ptr_array_index(st->sigs, i);
		char *dom = g_strdup(s->domain), *sel = g_strdup(s->selector), *p;

		/* a property value is a token or a quoted string: leave out
		 * what could end either */
		for (p = dom; *p; p++)
			if (!g_ascii_isgraph(*p) || strchr(";()\"\\", *p))
				*p = '_';
		for (p = sel; *p; p++)
			if (!g_ascii_isgraph(*p) || strchr(";()\"\\", *p))
				*p = '_';
		g_string_append_printf(v, "; dkim=%s", dkim_result_name(s->result));
		if (s->reason)
			g_string_append_printf(v, " reason=\"%s\"", s->reason);
		if (*dom)
			g_string_append_printf(v, " header.d=%s", dom);
		if (*sel)
			g_string_append_printf(v, " header.s=%s", sel);
		if (*s->b) {
			GString *b = g_string_new(NULL);

			for (p = s->b; *p && b->len < 8; p++)
				if (g_ascii_isalnum(*p) || *p == '+' || *p == '/')
					g_string_append_c(b, *p);
			g_string_append_printf(v, " header.b=\"%s\"", b->str);
			g_string_free(b, TRUE);
		}
		g_free(dom);
		g_free(sel);
	}
	return g_string_free(v, FALSE);
}

/* ar_id - the authserv-id an Authentication-Results value claims (the
 * first token, after white space and comments), or NULL (g_free) */
static char *
ar_id(const char *v)
{
	int depth = 0;
	const char *s;

	for (;;) {
		while (*v && (g_ascii_isspace(*v) || depth)) {
			if (*v == '(')
				depth++;
			else if (*v == ')')
				depth--;
			else if (*v == '\\' && v[1])
				v++;
			v++;
		}
		if (*v != '(')
			break;
		depth = 1;
		v++;
	}
	s = v;
	while (*v && !g_ascii_isspace(*v) && *v != ';' && *v != '(')
		v++;
	return v > s ? g_strndup(s, v - s) : NULL;
}

/* auth_results - remove the Authentication-Results fields that claim
 * our authserv-id (forged, or an earlier pass's: RFC 8601 section 5),
 * then put ours at the top */
static void
auth_results(struct msg *m, struct edits *e, const char *id,
	     const struct dkim_state *st)
{
	guint n, i;
	const guint *pos = msg_header_positions(m, "Authentication-Results", &n);
	char *v;

	for (i = n; i-- > 0;) {
		const struct header *h = g_ptr_array_index(m->headers, pos[i]);
		char *claimed = ar_id(h->value);

		if (claimed && !g_ascii_strcasecmp(claimed, id)) {
			log_info("%s: dkim: removed an Authentication-Results field claiming %s",
				 m->queue_id, id);
			edits_change_header(e, dkim_handler.name, h->name, h->nth, NULL);
		}
		g_free(claimed);
	}
	v = ar_value(id, st);
	edits_insert_header(e, dkim_handler.name, 0, "Authentication-Results", v);
	g_free(v);
}

/* body_ends_crlf - the body as received ends with CRLF */
static int
body_ends_crlf(struct msg *m)
{
	gsize len;
	const guchar *d = msg_data(m, &len);

	return d && len >= m->body_offset + 2 && d[len - 2] == '\r' && d[len - 1] == '\n';
}

/*
 * dkim_verify_msg - every DKIM-Signature of m as received, into st;
 * -1 when libopendkim cannot be used (no memory) or the spool cannot be
 * read
 */
int
dkim_verify_msg(struct msg *m, GHashTable *keys, gint64 timeout, unsigned max,
		struct dkim_state *st)
{
	DKIM_LIB *l = dkim_lib();
	DKIM *d;
	DKIM_STAT status;
	DKIM_SIGINFO **sigs = NULL;
	struct vctx v = {keys, g_get_monotonic_time() + timeout, max, NULL, m->queue_id};
	const guchar *data;
	gsize len, off;
	int nsigs = 0, i;
	guint k;

	st->total = msg_header_count(m, "DKIM-Signature", G_MAXUINT);
	st->body_ends_crlf = body_ends_crlf(m);
	if (st->total == 0)
		return 0;
	/* the spool must be readable: a body not read would fail every
	 * signature that is good */
	if (l == NULL || (data = msg_data(m, &len)) == NULL)
		return -1;
	d = dkim_verify(l, (const u_char *) msg_queue_id(m), NULL, &status);
	if (d == NULL)
		return -1;
	v.temp = g_hash_table_new(g_direct_hash, g_direct_equal);
	dkim_set_user_context(d, &v);
	for (k = 0; k < m->headers->len; k++) {
		GString *line = msg_header_line(g_ptr_array_index(m->headers, k));

		g_string_truncate(line, line->len - 2);	/* the CRLF */
		status = dkim_header(d, (u_char *) line->str, line->len);
		g_string_free(line, TRUE);
		(void) status;	/* a field libopendkim refuses is left out */
	}
	status = dkim_eoh(d);
	if (status == DKIM_STAT_OK) {
		for (off = m->body_offset; off < len && status == DKIM_STAT_OK; off += 65536)
			status = dkim_body(d, (u_char *) data + off, MIN(65536, len - off));
		dkim_eom(d, NULL);
	}
	/* those past dkim-max-signatures are counted (total), not listed */
	if (dkim_getsiglist(d, &sigs, &nsigs) == DKIM_STAT_OK)
		for (i = 0; i < nsigs && i < (int) max; i++)
			g_ptr_array_add(st->sigs, record(&v, sigs[i]));
	/* a signature too malformed for libopendkim to list is still one
	 * the message has: permerror */
	while (st->sigs->len < MIN(st->total, max)) {
		struct dkim_sig *s = g_new0(struct dkim_sig, 1);

		s->result = DKIM_RESULT_PERMERROR;
		s->domain = g_strdup("");
		s->selector = g_strdup("");
		s->algorithm = g_strdup("");
		s->b = g_strdup("");
		s->headers = g_new0(char *, 1);
		s->length = -1;
		s->reason = g_strdup("signature could not be parsed");
		g_ptr_array_add(st->sigs, s);
	}
	dkim_free(d);
	g_hash_table_destroy(v.temp);
	return 0;
}

/* dkim_before_eom - verify, before any handler changes the message */
static enum verdict
dkim_before_eom(struct msg *m, struct edits *e, const void *cfg)
{
	const struct dkim_cfg *c = cfg;
	const struct dkim_cfg *def = policy_handler_cfg(m->conn->snap->def, &dkim_handler);
	struct dkim_state *st = dkim_state_new();
	struct reply r;
	guint i;

	if (dkim_verify_msg(m, def ? def->keys : NULL, c->timeout, c->max, st) < 0) {
		log_warn("%s: dkim: cannot verify (libopendkim)", m->queue_id);
		dkim_state_free(st);
		return VERDICT_ERROR;
	}
	st->signed_choice = c->signed_choice;
	dkim_state_free(m->dkim);
	m->dkim = st;
	facts(m, st);
	for (i = 0; i < st->sigs->len; i++)
		if (((struct dkim_sig *) g_ptr_array_index(st->sigs, i))->result == DKIM_RESULT_TEMPERROR)
			break;
	if (i < st->sigs->len && c->temperror_tempfail) {
		log_info("%s: dkim: a key was not found in time; dkim-temperror = tempfail",
			 m->queue_id);
		memset(&r, 0, sizeof r);
		reply_set(&r, "451", "4.7.5", "DKIM key not available, try again later");
		handler_refuse(m->conn, &r);
		reply_clear(&r);
		return VERDICT_TEMPFAIL;
	}
	if (*c->authserv_id)
		auth_results(m, e, c->authserv_id, st);
	return VERDICT_CONTINUE;
}

/* --- signing --- */

/* sig_field - which DKIM-Signature field as received carries b= b (white
 * space left out of both): its nth, 0 when none does */
static int
sig_field(struct msg *m, const char *b)
{
	guint n, i;
	const guint *pos = msg_header_positions(m, "DKIM-Signature", &n);
	char *want = g_strdelimit(g_strdup(b), " \t\r\n", ' '), *w, *r;
	int nth = 0;

	for (w = r = want; *r; r++)
		if (*r != ' ')
			*w++ = *r;
	*w = 0;
	for (i = 0; *want && i < n && nth == 0; i++) {
		const struct header *h = g_ptr_array_index(m->headers, pos[i]);
		GString *v = g_string_new(";");
		const char *p, *at;

		for (p = h->value; *p; p++)
			if (!g_ascii_isspace(*p))
				g_string_append_c(v, *p);
		g_string_append_c(v, ';');
		for (at = v->str; (at = strstr(at, ";b=")) != NULL; at++)
			if (!strncmp(at + 3, want, strlen(want)) && at[3 + strlen(want)] == ';')
				nth = h->nth;
		g_string_free(v, TRUE);
	}
	g_free(want);
	return nth;
}

/* sign_msg - a DKIM-Signature value for the message as it will leave,
 * signed by s; NULL when libopendkim cannot sign (logged) */
static char *
sign_msg(struct msg *m, const struct dkim_signer *s)
{
	static const dkim_alg_t alg[] = {
		[DKIM_ALG_RSA_SHA256] = DKIM_SIGN_RSASHA256,
		[DKIM_ALG_ED25519_SHA256] = DKIM_SIGN_ED25519SHA256,
	};
	DKIM_STAT st = DKIM_STAT_OK;
	GPtrArray *h;
	const guchar *body;
	u_char *sig = NULL;
	size_t siglen = 0;
	char *out = NULL;
	gsize len, off;
	guint i;
	DKIM *d;

	if ((body = final_body(m, &len)) == NULL) {
		log_warn("%s: dkim: cannot sign: the spool cannot be read", m->queue_id);
		return NULL;
	}
	if (s->alg == DKIM_ALG_ED25519_SHA256) {	/* dkimsign.h says why */
		char *why = NULL;

		h = final_headers(m);
		out = dks_sign(s, h, body, len, g_get_real_time() / G_USEC_PER_SEC, &why);
		g_ptr_array_free(h, TRUE);
		if (out == NULL)
			log_warn("%s: dkim: cannot sign: %s", m->queue_id, why);
		g_free(why);
		return out;
	}
	d = dkim_sign(s->lib, (const u_char *) msg_queue_id(m), NULL, (dkim_sigkey_t) s->pem,
		      (const u_char *) s->selector, (const u_char *) s->domain,
		      DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, alg[s->alg], -1, &st);
	if (d == NULL) {
		log_warn("%s: dkim: cannot sign: %s", m->queue_id, dkim_getresultstr(st));
		return NULL;
	}
	h = final_headers(m);
	for (i = 0; i < h->len && st == DKIM_STAT_OK; i++) {
		char *l = g_ptr_array_index(h, i);

		st = dkim_header(d, (u_char *) l, strlen(l));
	}
	g_ptr_array_free(h, TRUE);
	if (st == DKIM_STAT_OK)
		st = dkim_eoh(d);
	for (off = 0; off < len && st == DKIM_STAT_OK; off += 65536)
		st = dkim_body(d, (u_char *) body + off, MIN(65536, len - off));
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	if (st == DKIM_STAT_OK)
		st = dkim_getsighdr_d(d, strlen("DKIM-Signature: "), &sig, &siglen);
	if (st == DKIM_STAT_OK)
		out = g_strndup((const char *) sig, siglen);
	else
		log_warn("%s: dkim: cannot sign: %s%s%s", m->queue_id, dkim_getresultstr(st),
			 dkim_geterror(d) ? ": " : "", dkim_geterror(d) ? dkim_geterror(d) : "");
	dkim_free(d);
	return out;
}

/*
 * dkim_after_eom - sign the message as it will leave: outbound mail
 * under dkim-sign, and under dkim-signed = resign mail whose changes
 * broke a signature that passed (the signing domain's broken ones are
 * removed first; others stay as they are)
 */
static enum verdict
dkim_after_eom(struct msg *m, struct edits *e, const void *cfg)
{
	const struct dkim_cfg *c = cfg;
	const struct dkim_signer *s = c->signer;
	GPtrArray *broken = NULL;
	int sign = c->sign && m->outbound;
	char *v;
	guint i;

	if (c->signed_choice == DKIM_SIGNED_RESIGN && m->dkim) {
		broken = dkim_broken(m);
		sign |= broken->len > 0;
	}
	if (!sign) {
		if (broken)
			g_ptr_array_free(broken, TRUE);
		return VERDICT_CONTINUE;
	}
	if (s == NULL || s->key == NULL) {	/* dkim_load refuses this */
		log_warn("%s: dkim: no key to sign with", m->queue_id);
		if (broken)
			g_ptr_array_free(broken, TRUE);
		return VERDICT_ERROR;
	}
	for (i = 0; broken && i < broken->len; i++) {
		const struct dkim_sig *b = g_ptr_array_index(broken, i);
		int nth;

		if (g_ascii_strcasecmp(b->domain, s->domain) || (nth = sig_field(m, b->b)) == 0)
			continue;
		log_info("%s: dkim: removed the signature of d=%s s=%s, which the changes broke",
			 m->queue_id, b->domain, b->selector);
		edits_change_header(e, dkim_handler.name, "DKIM-Signature", nth, NULL);
	}
	if (broken)
		g_ptr_array_free(broken, TRUE);
	if ((v = sign_msg(m, s)) == NULL)
		return VERDICT_ERROR;
	edits_insert_header(e, dkim_handler.name, 0, "DKIM-Signature", v);
	log_info("%s: dkim: signed d=%s s=%s a=%s%s", m->queue_id, s->domain, s->selector,
		 dkim_alg_name(s->alg), m->outbound && c->sign ? "" : " (resign)");
	msg_note(m, "dkim.signed", "%s:%s:%s", s->domain, s->selector, dkim_alg_name(s->alg));
	g_free(v);
	return VERDICT_CONTINUE;
}

const struct handler dkim_handler = {
	.name = "dkim",
	.keys = dkim_keys,
	.needs = HANDLER_NEEDS_HEADERS | HANDLER_NEEDS_BODY,
	.load = dkim_load,
	.unload = dkim_unload,
	.before_eom = dkim_before_eom,
	.after_eom = dkim_after_eom,
	.inbound = dkim_inbound,
	.stop = dkim_stop,
};
