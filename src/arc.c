/*
 * arc - ARC (RFC 8617): validate the chain a message came with, and seal
 * a new ARC set over the message as it leaves (arc.h)
 *
 * Canonicalisation is RFC 6376 3.4 (simple and relaxed, header and
 * body); signatures and hashes are OpenSSL's (EVP_DigestSign,
 * EVP_DigestVerify); base64 is GLib's.
 */
#include <string.h>
#include <time.h>
#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "arc.h"
#include "dkcanon.h"
#include "message.h"

#define TAGS_MAX	32	/* tags in one tag list */
#define HLIST_MAX	128	/* names in an ARC-Message-Signature's h= */
#define KEY_TXT_MAX	8192	/* the longest key record looked at */
#define KEY_BITS_MIN	1024
#define KEY_BITS_MAX	8192

const char *const arc_sign_headers[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", NULL,
};

/* The three fields of an ARC set. */
enum arc_kind {
	ARC_AAR,		/* ARC-Authentication-Results */
	ARC_AMS,		/* ARC-Message-Signature */
	ARC_AS,			/* ARC-Seal */
	ARC_KINDS,
};

static const char *const kind_names[] = {
	[ARC_AAR] = "ARC-Authentication-Results",
	[ARC_AMS] = "ARC-Message-Signature",
	[ARC_AS] = "ARC-Seal",
};
G_STATIC_ASSERT(G_N_ELEMENTS(kind_names) == ARC_KINDS);

/* The ARC sets of a header list, by instance. */
struct chain {
	const struct header *f[ARC_MAX_INSTANCE + 1][ARC_KINDS];
	unsigned n;		/* the highest instance */
	int fail_seal;		/* an ARC-Seal says cv=fail */
};

/* The key look-ups of one validation. */
struct vstate {
	arc_key_fn fn;
	void *ctx;
	GHashTable *keys;	/* "s._domainkey.d" -> EVP_PKEY * */
	int temperror;		/* a key was not had in time */
};

/* arc_cv_name - cv= as RFC 8617 names it */
const char *
arc_cv_name(enum arc_cv cv)
{
	static const char *const names[] = {
		[ARC_CV_NONE] = "none", [ARC_CV_PASS] = "pass", [ARC_CV_FAIL] = "fail",
	};

	return names[cv];
}

/* arc_result_clear - free what r holds and zero it */
void
arc_result_clear(struct arc_result *r)
{
	g_free(r->reason);
	g_free(r->domain);
	memset(r, 0, sizeof *r);
}

/* arc_set_clear - free the three fields and zero them */
void
arc_set_clear(struct arc_set *set)
{
	g_free(set->aar);
	g_free(set->ams);
	g_free(set->as);
	memset(set, 0, sizeof *set);
}

/* --- tag lists (RFC 6376 3.2) --- */

/* wsp - folding white space */
static int
wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* squeeze - s with every white space character taken out, in place */
static char *
squeeze(char *s)
{
	char *d = s, *p;

	for (p = s; *p; p++)
		if (!wsp(*p))
			*d++ = *p;
	*d = 0;
	return s;
}

/* trim - s without white space at either end, in place */
static char *
trim(char *s)
{
	char *e;

	while (wsp(*s))
		s++;
	e = s + strlen(s);
	while (e > s && wsp(e[-1]))
		e--;
	*e = 0;
	return s;
}

/*
 * tags_parse - the tags of a tag list, name -> value (white space around
 * each taken out; inside b=, bh=, h= and p= too); NULL with *why when
 * the list is not one
 */
static GHashTable *
tags_parse(const char *v, const char **why)
{
	GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	char **parts = g_strsplit(v, ";", TAGS_MAX + 2);
	guint i, n = g_strv_length(parts);

	*why = NULL;
	if (n > TAGS_MAX + 1)
		*why = "too many tags";
	for (i = 0; i < n && *why == NULL; i++) {
		char *part = trim(parts[i]), *eq = strchr(part, '='), *name, *val, *p;

		if (*part == 0) {
			if (i + 1 < n)
				*why = "an empty tag";
			continue;
		}
		if (eq == NULL) {
			*why = "a tag without \"=\"";
			break;
		}
		*eq = 0;
		name = trim(part);
		val = trim(eq + 1);
		if (!g_ascii_isalpha(*name)) {
			*why = "a bad tag name";
			break;
		}
		for (p = name; *p; p++)
			if (!g_ascii_isalnum(*p) && *p != '_')
				break;
		if (*p) {
			*why = "a bad tag name";
			break;
		}
		if (g_hash_table_contains(t, name)) {
			*why = "a tag given twice";
			break;
		}
		if (!strcmp(name, "b") || !strcmp(name, "bh") || !strcmp(name, "h")
		    || !strcmp(name, "p"))
			squeeze(val);
		g_hash_table_insert(t, g_strdup(name), g_strdup(val));
	}
	g_strfreev(parts);
	if (*why) {
		g_hash_table_destroy(t);
		return NULL;
	}
	return t;
}

/* number - a tag's decimal value, at most max; -1 when it is not one */
static gint64
number(const char *s, gint64 max)
{
	gint64 n = 0;

	if (s == NULL || *s == 0)
		return -1;
	for (; *s; s++) {
		if (!g_ascii_isdigit(*s))
			return -1;
		n = n * 10 + (*s - '0');
		if (n > max)
			return max + 1;
	}
	return n;
}

/* aar_instance - the i= an ARC-Authentication-Results value starts
 * with, or -1 */
static gint64
aar_instance(const char *v)
{
	const char *p = v, *d;
	char *digits;
	gint64 n;

	while (wsp(*p))
		p++;
	if (*p != 'i' && *p != 'I')
		return -1;
	for (p++; wsp(*p); p++)
		;
	if (*p != '=')
		return -1;
	for (p++; wsp(*p); p++)
		;
	for (d = p; g_ascii_isdigit(*p) && p - d < 8; p++)
		;
	digits = g_strndup(d, p - d);
	while (wsp(*p))
		p++;
	n = *p == ';' ? number(digits, 1000) : -1;
	g_free(digits);
	return n;
}

/* b_blank - a signature field's value with the value of b= taken out
 * (RFC 6376 3.7: everything between "b=" and the next ";" or the end) */
static char *
b_blank(const char *v)
{
	const char *p = v, *name;

	while (*p) {
		while (wsp(*p))
			p++;
		name = p;
		while (g_ascii_isalnum(*p) || *p == '_')
			p++;
		if (p - name == 1 && *name == 'b') {
			const char *q = p;

			while (wsp(*q))
				q++;
			if (*q == '=') {
				const char *end = strchr(q, ';');
				GString *s = g_string_new_len(v, q + 1 - v);

				if (end)
					g_string_append(s, end);
				return g_string_free(s, FALSE);
			}
		}
		p = strchr(p, ';');
		if (p == NULL)
			break;
		p++;
	}
	return g_strdup(v);
}

/* --- the chain's structure (RFC 8617 5.2) --- */

/* field_kind - which ARC field name is, or -1 */
static int
field_kind(const char *name)
{
	int k;

	for (k = 0; k < ARC_KINDS; k++)
		if (!g_ascii_strcasecmp(name, kind_names[k]))
			return k;
	return -1;
}

/* collect - the ARC sets of headers into c (c->n: the highest instance
 * from 1 to 50 any ARC field has); -1 with *why (g_free, the first
 * problem) when their structure is broken */
static int
collect(const GPtrArray *headers, struct chain *c, char **why)
{
	guint i, fields = 0;
	unsigned k;

	memset(c, 0, sizeof *c);
	*why = NULL;
	for (i = 0; i < headers->len; i++)
		if (field_kind(((const struct header *) g_ptr_array_index(headers, i))->name) >= 0)
			fields++;
	if (fields > ARC_MAX_FIELDS) {
		*why = g_strdup_printf("more than %d ARC fields", ARC_MAX_FIELDS);
		return -1;
	}
	for (i = 0; i < headers->len; i++) {
		const struct header *h = g_ptr_array_index(headers, i);
		int kind = field_kind(h->name);
		char *bad = NULL;
		gint64 n;

		if (kind < 0)
			continue;
		if (kind == ARC_AAR) {
			n = aar_instance(h->value);
		} else {
			const char *tbad;
			GHashTable *t = tags_parse(h->value, &tbad);

			if (t == NULL) {
				bad = g_strdup_printf("%s: %s", kind_names[kind], tbad);
				n = 0;
			} else {
				n = number(g_hash_table_lookup(t, "i"), 1000);
				if (kind == ARC_AS && !g_strcmp0(g_hash_table_lookup(t, "cv"), "fail"))
					c->fail_seal = 1;
				g_hash_table_destroy(t);
			}
		}
		if (bad)
			;
		else if (n < 1)
			bad = g_strdup_printf("%s without a valid i=", kind_names[kind]);
		else if (n > ARC_MAX_INSTANCE)
			bad = g_strdup_printf("%s with i= over %d", kind_names[kind], ARC_MAX_INSTANCE);
		else if (c->f[n][kind])
			bad = g_strdup_printf("two %s fields with i=%u", kind_names[kind], (unsigned) n);
		else
			c->f[n][kind] = h;
		if (n >= 1 && n <= ARC_MAX_INSTANCE)
			c->n = MAX(c->n, (unsigned) n);
		if (bad && *why == NULL)
			*why = bad;
		else
			g_free(bad);
	}
	for (k = 1; k <= c->n && *why == NULL; k++) {
		int kind;

		for (kind = 0; kind < ARC_KINDS; kind++)
			if (c->f[k][kind] == NULL) {
				*why = g_strdup_printf("ARC set i=%u has no %s", k, kind_names[kind]);
				break;
			}
	}
	return *why ? -1 : 0;
}

/* --- keys and signatures --- */

/* b64_decode - base64 text (white space already out) as bytes, NULL when
 * it has anything base64 has not */
static guchar *
b64_decode(const char *s, gsize *len)
{
	const char *p;

	if (s == NULL || *s == 0)
		return NULL;
	for (p = s; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '+' && *p != '/' && *p != '=')
			return NULL;
	return g_base64_decode(s, len);
}

/* key_parse - the public key of a key record, for algorithm ed (1:
 * ed25519, 0: rsa); NULL with *why */
static EVP_PKEY *
key_parse(const char *txt, int ed, const char **why)
{
	const char *bad;
	GHashTable *t = tags_parse(txt, &bad);
	const char *v, *k, *p;
	guchar *der = NULL;
	gsize len = 0;
	EVP_PKEY *key = NULL;

	if (t == NULL) {
		*why = "key record is not a tag list";
		return NULL;
	}
	v = g_hash_table_lookup(t, "v");
	k = g_hash_table_lookup(t, "k");
	p = g_hash_table_lookup(t, "p");
	if (v && strcmp(v, "DKIM1")) {
		*why = "key record is not v=DKIM1";
	} else if (strcmp(k ? k : "rsa", ed ? "ed25519" : "rsa")) {
		*why = "key type does not match a=";
	} else if (p == NULL || *p == 0) {
		*why = "key revoked (empty p=)";
	} else if ((der = b64_decode(p, &len)) == NULL) {
		*why = "key p= is not base64";
	} else if (ed) {
		if (len == 32)
			key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, len);
		if (key == NULL)
			*why = "bad ed25519 key";
	} else {
		const unsigned char *q = der;

		key = d2i_PUBKEY(NULL, &q, len);
		if (key == NULL) {
			q = der;
			key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, len);
		}
		if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
			*why = "bad RSA key";
		} else if (EVP_PKEY_get_bits(key) < KEY_BITS_MIN
			   || EVP_PKEY_get_bits(key) > KEY_BITS_MAX) {
			*why = "RSA key size out of range (1024 to 8192 bits)";
		} else {
			g_free(der);
			g_hash_table_destroy(t);
			return key;
		}
		EVP_PKEY_free(key);
		key = NULL;
	}
	g_free(der);
	g_hash_table_destroy(t);
	return key;
}

/* key_get - the key of s= and d=, from the look-up (once per
 * validation); NULL with *why */
static EVP_PKEY *
key_get(struct vstate *v, const char *sel, const char *dom, int ed, char **why)
{
	char *name = g_strdup_printf("%s._domainkey.%s/%d", sel, dom, ed), *txt = NULL;
	const char *bad = NULL;
	EVP_PKEY *key = g_hash_table_lookup(v->keys, name);

	if (key) {
		g_free(name);
		return key;
	}
	switch (v->fn ? v->fn(v->ctx, sel, dom, &txt) : ARC_KEY_NOTFOUND) {
	case ARC_KEY_FOUND:
		if (txt == NULL || strlen(txt) > KEY_TXT_MAX)
			bad = "key record too long";
		else
			key = key_parse(txt, ed, &bad);
		break;
	case ARC_KEY_NOTFOUND:
		bad = "no key";
		break;
	case ARC_KEY_TEMPFAIL:
		bad = "key not found in time";
		v->temperror = 1;
		break;
	}
	g_free(txt);
	if (key == NULL) {
		*why = g_strdup_printf("%s (s=%s d=%s)", bad, sel, dom);
		g_free(name);
		return NULL;
	}
	g_hash_table_insert(v->keys, name, key);
	return key;
}

/* algorithm - 1 for ed25519-sha256, 0 for rsa-sha256, -1 for any other */
static int
algorithm(const char *a)
{
	if (!g_strcmp0(a, "rsa-sha256"))
		return 0;
	if (!g_strcmp0(a, "ed25519-sha256"))
		return 1;
	return -1;
}

/* sig_check - whether the signature of tags t (a=, b=, d=, s=) is good
 * over data: 0 yes; -1 no, *why (g_free) */
static int
sig_check(struct vstate *v, GHashTable *t, const GString *data, char **why)
{
	const char *a = g_hash_table_lookup(t, "a");
	int ed = algorithm(a), ok = 0;
	guchar *sig;
	gsize siglen = 0;
	EVP_PKEY *key;

	if (ed < 0) {
		*why = g_strdup("unknown algorithm");
		return -1;
	}
	if ((sig = b64_decode(g_hash_table_lookup(t, "b"), &siglen)) == NULL || siglen == 0) {
		g_free(sig);
		*why = g_strdup("b= is not base64");
		return -1;
	}
	if ((key = key_get(v, g_hash_table_lookup(t, "s"), g_hash_table_lookup(t, "d"), ed, why))
	    == NULL) {
		g_free(sig);
		return -1;
	}
	ok = dkc_verify(key, ed, sig, siglen, data);
	g_free(sig);
	if (!ok) {
		*why = g_strdup("signature did not verify");
		return -1;
	}
	return 0;
}

/* required - the first of names that t lacks, or NULL */
static const char *
required(GHashTable *t, const char *const *names)
{
	for (; *names; names++)
		if (!g_hash_table_contains(t, *names))
			return *names;
	return NULL;
}

/* --- validation --- */

/* add_signed_headers - the fields h= names into out, each name taking
 * the lowest field of that name not yet taken (RFC 6376 5.4.2) */
static void
add_signed_headers(GString *out, const GPtrArray *headers, char **names, int relaxed)
{
	GHashTable *used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	char **n;

	for (n = names; *n; n++) {
		char *low = g_ascii_strdown(*n, -1);
		guint taken = GPOINTER_TO_UINT(g_hash_table_lookup(used, low)), seen = 0, i;

		for (i = headers->len; i-- > 0;) {
			const struct header *h = g_ptr_array_index(headers, i);

			if (g_ascii_strcasecmp(h->name, low))
				continue;
			if (seen++ == taken) {
				dkc_header(out, h->name, h->value, relaxed, 1);
				break;
			}
		}
		g_hash_table_insert(used, low, GUINT_TO_POINTER(taken + 1));
	}
	g_hash_table_destroy(used);
}

/* ams_check - the ARC-Message-Signature f over headers and body: 0
 * good; -1, *why (g_free) */
static int
ams_check(struct vstate *v, const GPtrArray *headers, const struct header *f,
	  const guchar *body, gsize len, char **why)
{
	static const char *const need[] = {"i", "a", "b", "bh", "d", "h", "s", NULL};
	const char *bad, *c, *lack;
	GHashTable *t = tags_parse(f->value, &bad);
	char **names = NULL, **n, *bh = NULL, *blank;
	int hrelaxed = 0, brelaxed = 0, rc = -1;
	gint64 l = -1;
	GString *data = NULL;

	if (t == NULL) {
		*why = g_strdup(bad);
		return -1;
	}
	if ((lack = required(t, need))) {
		*why = g_strdup_printf("no %s=", lack);
		goto out;
	}
	c = g_hash_table_lookup(t, "c");
	if (c == NULL || !strcmp(c, "simple") || !strcmp(c, "simple/simple")) {
		/* the defaults */
	} else if (!strcmp(c, "relaxed")) {
		hrelaxed = 1;
	} else if (!strcmp(c, "relaxed/relaxed")) {
		hrelaxed = brelaxed = 1;
	} else if (!strcmp(c, "relaxed/simple")) {
		hrelaxed = 1;
	} else if (!strcmp(c, "simple/relaxed")) {
		brelaxed = 1;
	} else {
		*why = g_strdup("unknown c=");
		goto out;
	}
	if (g_hash_table_contains(t, "l")
	    && (l = number(g_hash_table_lookup(t, "l"), G_MAXINT64 / 20)) < 0) {
		*why = g_strdup("bad l=");
		goto out;
	}
	names = g_strsplit(g_hash_table_lookup(t, "h"), ":", HLIST_MAX + 1);
	if (g_strv_length(names) > HLIST_MAX) {
		*why = g_strdup("too many names in h=");
		goto out;
	}
	for (n = names; *n; n++)
		if (**n == 0 || !g_ascii_strcasecmp(*n, "arc-seal")) {
			*why = g_strdup(**n ? "h= names ARC-Seal" : "an empty name in h=");
			goto out;
		}
	bh = dkc_body_hash(body, len, brelaxed, l);
	if (bh == NULL || strcmp(bh, g_hash_table_lookup(t, "bh"))) {
		*why = g_strdup("body hash did not verify");
		goto out;
	}
	data = g_string_new(NULL);
	add_signed_headers(data, headers, names, hrelaxed);
	blank = b_blank(f->value);
	dkc_header(data, f->name, blank, hrelaxed, 0);
	g_free(blank);
	rc = sig_check(v, t, data, why);
out:
	if (data)
		g_string_free(data, TRUE);
	g_free(bh);
	g_strfreev(names);
	g_hash_table_destroy(t);
	return rc;
}

/* seal_data - what the ARC-Seal of instance i signs: the sets 1..i-1
 * (from when prior), then set i, its ARC-Seal with b= blank and no CRLF
 * (RFC 8617 5.1.1) */
static GString *
seal_data(const struct chain *c, unsigned from, unsigned i, const char *aar,
	  const char *ams, const char *as)
{
	GString *data = g_string_new(NULL);
	char *blank = b_blank(as);
	unsigned k;
	int kind;

	for (k = from; k < i; k++)
		for (kind = 0; kind < ARC_KINDS; kind++)
			dkc_header(data, kind_names[kind], c->f[k][kind]->value, 1, 1);
	dkc_header(data, kind_names[ARC_AAR], aar, 1, 1);
	dkc_header(data, kind_names[ARC_AMS], ams, 1, 1);
	dkc_header(data, kind_names[ARC_AS], blank, 1, 0);
	g_free(blank);
	return data;
}

/* as_check - the ARC-Seal of instance i: 0 good; -1, *why (g_free) */
static int
as_check(struct vstate *v, const struct chain *c, unsigned i, char **why)
{
	static const char *const need[] = {"i", "a", "b", "cv", "d", "s", NULL};
	const char *bad, *lack;
	GHashTable *t = tags_parse(c->f[i][ARC_AS]->value, &bad);
	GString *data;
	int rc;

	if (t == NULL) {
		*why = g_strdup(bad);
		return -1;
	}
	if ((lack = required(t, need))) {
		*why = g_strdup_printf("no %s=", lack);
		g_hash_table_destroy(t);
		return -1;
	}
	if (g_hash_table_contains(t, "h")) {
		*why = g_strdup("h= in an ARC-Seal");
		g_hash_table_destroy(t);
		return -1;
	}
	data = seal_data(c, 1, i, c->f[i][ARC_AAR]->value, c->f[i][ARC_AMS]->value,
			 c->f[i][ARC_AS]->value);
	rc = sig_check(v, t, data, why);
	g_string_free(data, TRUE);
	g_hash_table_destroy(t);
	return rc;
}

/* seal_tag - tag name of the ARC-Seal of instance i (g_free), or NULL */
static char *
seal_tag(const struct chain *c, unsigned i, const char *name)
{
	const char *bad;
	GHashTable *t = tags_parse(c->f[i][ARC_AS]->value, &bad);
	char *v;

	if (t == NULL)
		return NULL;
	v = g_strdup(g_hash_table_lookup(t, name));
	g_hash_table_destroy(t);
	return v;
}

/* fail - r says fail, for the reason fmt */
static void G_GNUC_PRINTF(2, 3)
fail(struct arc_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r->cv = ARC_CV_FAIL;
	g_free(r->reason);
	r->reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

/*
 * arc_validate - the chain of the header list headers (top first) over
 * the body: r->cv none (no ARC field), pass, or fail with r->reason;
 * r->count the highest instance.  Keys through key(ctx, ...).
 */
void
arc_validate(const GPtrArray *headers, const guchar *body, gsize len,
	     arc_key_fn key, void *ctx, struct arc_result *r)
{
	struct chain c;
	struct vstate v = {key, ctx, NULL, 0};
	char *why = NULL, *cv;
	unsigned i;

	memset(r, 0, sizeof *r);
	if (collect(headers, &c, &why) < 0) {
		r->count = c.n;
		r->sealed_fail = c.fail_seal;
		fail(r, "%s", why);
		g_free(why);
		return;
	}
	r->count = c.n;
	r->sealed_fail = c.fail_seal;
	if (c.n == 0)
		return;
	r->domain = seal_tag(&c, c.n, "d");
	if (c.fail_seal) {
		fail(r, "an ARC-Seal says cv=fail");
		return;
	}
	for (i = 1; i <= c.n; i++) {
		const char *want = i == 1 ? "none" : "pass";

		cv = seal_tag(&c, i, "cv");
		if (g_strcmp0(cv, want)) {
			fail(r, "ARC-Seal i=%u has cv=%s, not %s", i, cv ? cv : "(none)", want);
			g_free(cv);
			return;
		}
		g_free(cv);
	}
	v.keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
				       (GDestroyNotify) EVP_PKEY_free);
	if (ams_check(&v, headers, c.f[c.n][ARC_AMS], body, len, &why) < 0) {
		fail(r, "ARC-Message-Signature i=%u: %s", c.n, why);
		goto out;
	}
	for (i = c.n; i >= 1; i--)
		if (as_check(&v, &c, i, &why) < 0) {
			fail(r, "ARC-Seal i=%u: %s", i, why);
			goto out;
		}
	r->cv = ARC_CV_PASS;
out:
	r->temperror = r->cv == ARC_CV_FAIL && v.temperror;
	g_free(why);
	g_hash_table_destroy(v.keys);
}

/* --- sealing --- */

/* dns_label_ok - s may stand in d= or s=: letters, digits, ".", "-", "_" */
static int
dns_label_ok(const char *s)
{
	if (s == NULL || *s == 0 || strlen(s) > 253)
		return 0;
	for (; *s; s++)
		if (!g_ascii_isalnum(*s) && !strchr(".-_", *s))
			return 0;
	return 1;
}

/* h_list - the h= of a new ARC-Message-Signature: each name of the list
 * as often as headers has it, and From once more (over-signed); never an
 * ARC field (an AMS may not sign ARC-Seal) */
static char *
h_list(const GPtrArray *headers, const char *const *names)
{
	GString *h = g_string_new(NULL);
	guint i, k, n;

	for (; *names; names++) {
		if (field_kind(*names) >= 0)
			continue;
		for (n = 0, i = 0; i < headers->len; i++)
			if (!g_ascii_strcasecmp(((const struct header *)
						 g_ptr_array_index(headers, i))->name, *names))
				n++;
		if (!g_ascii_strcasecmp(*names, "from"))
			n++;
		for (k = 0; k < n && k < HLIST_MAX / 2; k++)
			g_string_append_printf(h, "%s%s", h->len ? ":" : "", *names);
	}
	return g_string_free(h, FALSE);
}

/*
 * arc_seal - the next ARC set over headers (the final header list, top
 * first) and body, signed with s, its ARC-Authentication-Results
 * carrying ar (authserv-id and results), after the chain chain (what
 * arc_validate() said of these headers; zeroed: no chain).  0 and *out;
 * -1 and *why (g_free) when the chain may not be extended; -2 and *why
 * when no signature could be made.
 */
int
arc_seal(const GPtrArray *headers, const guchar *body, gsize len,
	 const struct arc_signer *s, const char *ar,
	 const struct arc_result *chain, struct arc_set *out, char **why)
{
	unsigned i = chain->count + 1;
	enum arc_cv cv = chain->count ? chain->cv : ARC_CV_NONE;
	const char *alg;
	struct chain c;
	int ed;
	gint64 t = s->timestamp ? s->timestamp : (gint64) time(NULL);
	char *bh = NULL, *h = NULL, *sig, *cwhy = NULL;
	GString *data;

	memset(out, 0, sizeof *out);
	memset(&c, 0, sizeof c);
	*why = NULL;
	if (chain->sealed_fail) {
		*why = g_strdup("the chain ended with cv=fail");
		return -1;
	}
	if (chain->temperror) {
		/* a failure of ours, not the chain's: sealing cv=fail would
		 * end it for good */
		*why = g_strdup("a key of the chain was not had in time");
		return -1;
	}
	if (i > ARC_MAX_INSTANCE) {
		*why = g_strdup_printf("the chain has %d sets already", ARC_MAX_INSTANCE);
		return -1;
	}
	if (cv == ARC_CV_NONE && chain->count) {
		*why = g_strdup("a chain without a result");
		return -1;
	}
	if (!dns_label_ok(s->domain) || !dns_label_ok(s->selector)) {
		*why = g_strdup("bad domain or selector");
		return -2;
	}
	if (s->key == NULL || (EVP_PKEY_get_base_id(s->key) != EVP_PKEY_RSA
			       && EVP_PKEY_get_base_id(s->key) != EVP_PKEY_ED25519)) {
		*why = g_strdup("the key is neither RSA nor Ed25519");
		return -2;
	}
	ed = EVP_PKEY_get_base_id(s->key) == EVP_PKEY_ED25519;
	alg = ed ? "ed25519-sha256" : "rsa-sha256";
	/* a chain that passed is sealed whole; one that failed is not
	 * vouched for: the seal covers its own set alone */
	if (chain->cv == ARC_CV_FAIL && chain->count == 0) {
		/* ARC fields, but no instance can be told: no set to add */
		*why = g_strdup("ARC fields without a valid instance");
		return -1;
	}
	if (cv == ARC_CV_PASS && (collect(headers, &c, &cwhy) < 0 || c.n != chain->count)) {
		g_free(cwhy);
		*why = g_strdup("the chain is not the one validated");
		return -1;
	}
	out->aar = g_strdup_printf("i=%u; %s", i, ar);
	if ((bh = dkc_body_hash(body, len, 1, -1)) == NULL)
		goto fail;
	h = h_list(headers, s->headers ? s->headers : arc_sign_headers);
	out->ams = g_strdup_printf("i=%u; a=%s; c=relaxed/relaxed; d=%s; s=%s; t=%" G_GINT64_FORMAT
				   ";\r\n\th=%s;\r\n\tbh=%s;\r\n\tb=", i, alg, s->domain,
				   s->selector, t, h, bh);
	data = g_string_new(NULL);
	{
		char **names = g_strsplit(h, ":", -1);

		add_signed_headers(data, headers, names, 1);
		g_strfreev(names);
	}
	dkc_header(data, kind_names[ARC_AMS], out->ams, 1, 0);
	sig = dkc_sign(s->key, ed, data);
	g_string_free(data, TRUE);
	if (sig == NULL)
		goto fail;
	out->ams = g_realloc(out->ams, strlen(out->ams) + strlen(sig) + 1);
	strcat(out->ams, sig);
	g_free(sig);
	out->as = g_strdup_printf("i=%u; a=%s; t=%" G_GINT64_FORMAT "; cv=%s;\r\n\td=%s; s=%s;\r\n\tb=",
				  i, alg, t, arc_cv_name(cv), s->domain, s->selector);
	data = seal_data(&c, cv == ARC_CV_PASS ? 1 : i, i, out->aar, out->ams, out->as);
	sig = dkc_sign(s->key, ed, data);
	g_string_free(data, TRUE);
	if (sig == NULL)
		goto fail;
	out->as = g_realloc(out->as, strlen(out->as) + strlen(sig) + 1);
	strcat(out->as, sig);
	g_free(sig);
	g_free(bh);
	g_free(h);
	return 0;
fail:
	*why = g_strdup("no signature could be made (OpenSSL)");
	g_free(bh);
	g_free(h);
	arc_set_clear(out);
	return -2;
}
