/*
 * arc_test - arc_validate() and arc_seal(): chains sealed here pass
 *	(rsa-sha256 and ed25519-sha256, i=1, i=2, 50 sets), what relaxed
 *	canonicalisation lets through still passes, and every broken
 *	chain fails with its reason: a changed body or header, a missing,
 *	doubled or out-of-range set, a wrong cv=, a key that is missing,
 *	late, revoked or too small; a chain that ended with cv=fail, or
 *	has 50 sets, is not extended
 */
#include <string.h>
#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../../src/arc.h"
#include "../../src/message.h"
#include "tap.h"

#define AR "mx.example.net; dkim=pass header.d=example.com"

static GHashTable *keys;	/* "sel._domainkey.dom" -> TXT */
static int key_late;		/* the look-up says: no answer in time */

/* key_lookup - arc_key_fn over keys */
static enum arc_key
key_lookup(void *ctx, const char *sel, const char *dom, char **txt)
{
	char *name = g_strdup_printf("%s._domainkey.%s", sel, dom);
	const char *v = g_hash_table_lookup(keys, name);

	g_free(name);
	if (key_late)
		return ARC_KEY_TEMPFAIL;
	if (v == NULL)
		return ARC_KEY_NOTFOUND;
	*txt = g_strdup(v);
	return ARC_KEY_FOUND;
}

/* publish - the key record of key under sel and dom */
static void
publish(EVP_PKEY *key, const char *sel, const char *dom)
{
	unsigned char *der = NULL, raw[32];
	size_t rawlen = sizeof raw;
	char *b64, *txt;
	int len;

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		EVP_PKEY_get_raw_public_key(key, raw, &rawlen);
		b64 = g_base64_encode(raw, rawlen);
		txt = g_strdup_printf("v=DKIM1; k=ed25519; p=%s", b64);
	} else {
		len = i2d_PUBKEY(key, &der);
		b64 = g_base64_encode(der, len);
		OPENSSL_free(der);
		txt = g_strdup_printf("v=DKIM1; k=rsa; p=%s", b64);
	}
	g_hash_table_insert(keys, g_strdup_printf("%s._domainkey.%s", sel, dom), txt);
	g_free(b64);
}

/* put - a field at position pos of hs (-1: the end) */
static void
put(GPtrArray *hs, int pos, const char *name, const char *value)
{
	struct header *h = g_new0(struct header, 1);

	h->name = g_strdup(name);
	h->value = g_strconcat(" ", value, NULL);
	if (pos < 0)
		g_ptr_array_add(hs, h);
	else
		g_ptr_array_insert(hs, pos, h);
}

/* message - a header list without ARC fields */
static GPtrArray *
message(void)
{
	GPtrArray *hs = g_ptr_array_new_with_free_func(header_free);

	put(hs, -1, "Received", "from mx.example.com by mx.example.net");
	put(hs, -1, "From", "Alice <alice@example.com>");
	put(hs, -1, "To", "bob@example.net");
	put(hs, -1, "Subject", "a  test\n\tfolded");
	put(hs, -1, "Date", "Thu, 03 Dec 2026 10:00:00 +0000");
	put(hs, -1, "Message-ID", "<1@example.com>");
	return hs;
}

static const char body[] = "Hello  there \r\n\r\nsecond line\r\n\r\n\r\n";

/* field - the value of the nth (1-based) field called name, or NULL */
static struct header *
field(GPtrArray *hs, const char *name, int nth)
{
	guint i;

	for (i = 0; i < hs->len; i++) {
		struct header *h = g_ptr_array_index(hs, i);

		if (!g_ascii_strcasecmp(h->name, name) && --nth == 0)
			return h;
	}
	return NULL;
}

/* check - validate hs over b; the result in *r (arc_result_clear) */
static void
check(GPtrArray *hs, const char *b, struct arc_result *r)
{
	arc_validate(hs, (const guchar *) b, strlen(b), key_lookup, NULL, r);
}

/* seal - validate hs, then seal it with key (d=dom s=sel) on top: 0,
 * or -1 and *why (g_free) */
static int
seal(GPtrArray *hs, const char *b, EVP_PKEY *key, const char *dom, const char *sel, char **why)
{
	struct arc_signer s = {key, dom, sel, NULL, 1796300000};
	struct arc_result r;
	struct arc_set set;
	int rc;

	check(hs, b, &r);
	rc = arc_seal(hs, (const guchar *) b, strlen(b), &s, AR, &r, &set, why);
	if (rc == 0) {
		put(hs, 0, "ARC-Authentication-Results", set.aar);
		put(hs, 0, "ARC-Message-Signature", set.ams);
		put(hs, 0, "ARC-Seal", set.as);
		arc_set_clear(&set);
	}
	arc_result_clear(&r);
	return rc;
}

/* expect - the result of validating hs: cv, count and a reason that
 * contains why (NULL: none) */
static void
expect(GPtrArray *hs, const char *b, enum arc_cv cv, unsigned count, const char *why,
       const char *what)
{
	struct arc_result r;
	char *w = g_strdup_printf("%s: count", what);

	check(hs, b, &r);
	is_str(arc_cv_name(r.cv), arc_cv_name(cv), what);
	is_int(r.count, count, w);
	g_free(w);
	if (why)
		ok(r.reason && strstr(r.reason, why), "%s: reason \"%s\" has \"%s\"", what,
		   r.reason ? r.reason : "(none)", why);
	else
		ok(r.reason == NULL, "%s: no reason (%s)", what, r.reason ? r.reason : "");
	arc_result_clear(&r);
}

static EVP_PKEY *rsa, *ed, *rsa2;

static void
test_none(void)
{
	GPtrArray *hs = message();

	expect(hs, body, ARC_CV_NONE, 0, NULL, "no ARC field: none");
	g_ptr_array_unref(hs);
}

static void
test_pass(void)
{
	GPtrArray *hs = message();
	char *why = NULL;
	struct arc_result r;

	ok(seal(hs, body, rsa, "example.net", "arc", &why) == 0, "sealed i=1 (rsa-sha256)");
	ok(strstr(field(hs, "ARC-Seal", 1)->value, "cv=none") != NULL, "i=1 says cv=none");
	ok(strstr(field(hs, "ARC-Authentication-Results", 1)->value, "i=1; " AR) != NULL,
	   "the AAR carries the results");
	expect(hs, body, ARC_CV_PASS, 1, NULL, "i=1 passes");
	check(hs, body, &r);
	is_str(r.domain, "example.net", "the domain of the top seal");
	arc_result_clear(&r);
	/* relaxed canonicalisation: white space in a signed field, empty
	 * lines and trailing blanks at the end of the body */
	g_free(field(hs, "Subject", 1)->value);
	field(hs, "Subject", 1)->value = g_strdup("   a test   folded  ");
	expect(hs, "Hello there\r\n\r\nsecond line  \r\n", ARC_CV_PASS, 1, NULL,
	       "refolded header, body white space: pass");
	ok(seal(hs, body, rsa2, "relay.example", "s2", &why) == 0, "sealed i=2");
	ok(strstr(field(hs, "ARC-Seal", 1)->value, "cv=pass") != NULL, "i=2 says cv=pass");
	expect(hs, body, ARC_CV_PASS, 2, NULL, "i=2 passes");
	/* an unsigned field added after sealing changes nothing */
	put(hs, 0, "X-Later", "added");
	expect(hs, body, ARC_CV_PASS, 2, NULL, "a field the AMS does not sign: pass");
	g_ptr_array_unref(hs);

	hs = message();
	ok(seal(hs, body, ed, "example.org", "ed", &why) == 0, "sealed i=1 (ed25519-sha256)");
	ok(strstr(field(hs, "ARC-Seal", 1)->value, "a=ed25519-sha256") != NULL,
	   "the algorithm follows the key");
	expect(hs, body, ARC_CV_PASS, 1, NULL, "ed25519 passes");
	g_ptr_array_unref(hs);
}

static void
test_tampered(void)
{
	GPtrArray *hs = message();
	char *why = NULL;

	seal(hs, body, rsa, "example.net", "arc", &why);
	seal(hs, body, rsa2, "relay.example", "s2", &why);
	expect(hs, "Hello there, changed\r\n", ARC_CV_FAIL, 2, "body hash did not verify",
	       "a changed body fails");
	g_free(field(hs, "Subject", 1)->value);
	field(hs, "Subject", 1)->value = g_strdup(" another subject");
	expect(hs, body, ARC_CV_FAIL, 2, "ARC-Message-Signature i=2: signature did not verify",
	       "a changed Subject fails");
	g_ptr_array_unref(hs);

	/* the older set changed: the seals fail */
	hs = message();
	seal(hs, body, rsa, "example.net", "arc", &why);
	seal(hs, body, rsa2, "relay.example", "s2", &why);
	{
		struct header *aar = field(hs, "ARC-Authentication-Results", 2);
		char *v = g_strconcat(aar->value, " x", NULL);

		g_free(aar->value);
		aar->value = v;
	}
	expect(hs, body, ARC_CV_FAIL, 2, "ARC-Seal i=2: signature did not verify",
	       "a changed AAR of i=1 fails the seals");
	g_ptr_array_unref(hs);
}

static void
test_structure(void)
{
	static const struct {
		const char *what;
		const char *name, *value;	/* a field added on top */
		const char *why;
		unsigned count;	/* the highest instance 1 to 50 seen */
	} cases[] = {
		{"a second AMS i=1", "ARC-Message-Signature", "i=1; a=rsa-sha256; b=x", "two ARC-Message-Signature", 1},
		{"an AAR i=51", "ARC-Authentication-Results", "i=51; x; none", "over 50", 1},
		{"an AS i=0", "ARC-Seal", "i=0; a=rsa-sha256; cv=none; b=x", "without a valid i=", 1},
		{"an AS i=abc", "ARC-Seal", "i=abc; cv=none", "without a valid i=", 1},
		{"an AS i=99999999999", "ARC-Seal", "i=99999999999; cv=none", "over 50", 1},
		{"an AAR without i=", "ARC-Authentication-Results", "mx; none", "without a valid i=", 1},
		{"an AS that is no tag list", "ARC-Seal", "i=2; cv", "without \"=\"", 1},
		{"an AS with a tag twice", "ARC-Seal", "i=2; i=2", "twice", 1},
		{"a lone AS i=2", "ARC-Seal", "i=2; cv=pass", "ARC set i=2 has no", 2},
	};
	char *why = NULL;
	guint i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		GPtrArray *hs = message();

		seal(hs, body, rsa, "example.net", "arc", &why);
		put(hs, 0, cases[i].name, cases[i].value);
		expect(hs, body, ARC_CV_FAIL, cases[i].count, cases[i].why, cases[i].what);
		g_ptr_array_unref(hs);
	}
	/* a set without its AS */
	{
		GPtrArray *hs = message();

		seal(hs, body, rsa, "example.net", "arc", &why);
		g_ptr_array_remove_index(hs, 0);
		expect(hs, body, ARC_CV_FAIL, 1, "ARC set i=1 has no ARC-Seal", "no ARC-Seal");
		g_ptr_array_unref(hs);
	}
	/* more fields than 50 sets have */
	{
		GPtrArray *hs = message();

		for (i = 0; i < ARC_MAX_FIELDS + 1; i++)
			put(hs, 0, "ARC-Authentication-Results", "i=1; x");
		expect(hs, body, ARC_CV_FAIL, 0, "more than", "151 ARC fields");
		g_ptr_array_unref(hs);
	}
}

/* replace - the value of the first field called name with s/from/to/ */
static void
replace(GPtrArray *hs, const char *name, const char *from, const char *to)
{
	struct header *h = field(hs, name, 1);
	char **parts = g_strsplit(h->value, from, 2);

	g_free(h->value);
	h->value = g_strjoinv(to, parts);
	g_strfreev(parts);
}

static void
test_cv_and_keys(void)
{
	GPtrArray *hs = message();
	char *why = NULL;
	struct arc_result r;
	struct arc_signer s = {rsa, "example.net", "arc", NULL, 0};
	struct arc_set set;

	seal(hs, body, rsa, "example.net", "arc", &why);
	replace(hs, "ARC-Seal", "cv=none", "cv=pass");
	expect(hs, body, ARC_CV_FAIL, 1, "ARC-Seal i=1 has cv=pass, not none", "i=1 with cv=pass");
	g_ptr_array_unref(hs);

	hs = message();
	seal(hs, body, rsa, "example.net", "arc", &why);
	g_hash_table_remove(keys, "arc._domainkey.example.net");
	expect(hs, body, ARC_CV_FAIL, 1, "no key (s=arc d=example.net)", "no key");
	g_hash_table_insert(keys, g_strdup("arc._domainkey.example.net"),
			    g_strdup("v=DKIM1; k=rsa; p="));
	expect(hs, body, ARC_CV_FAIL, 1, "key revoked", "a revoked key");
	g_hash_table_insert(keys, g_strdup("arc._domainkey.example.net"),
			    g_strdup("v=DKIM1; k=ed25519; p=AAAA"));
	expect(hs, body, ARC_CV_FAIL, 1, "key type does not match", "a key of another type");
	g_hash_table_insert(keys, g_strdup("arc._domainkey.example.net"),
			    g_strdup("v=DKIM1; k=rsa; p=!!!"));
	expect(hs, body, ARC_CV_FAIL, 1, "not base64", "a key that is not base64");
	{
		EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 512);

		publish(small, "arc", "example.net");
		expect(hs, body, ARC_CV_FAIL, 1, "key size", "a 512-bit key");
		EVP_PKEY_free(small);
	}
	publish(rsa, "arc", "example.net");
	key_late = 1;
	check(hs, body, &r);
	ok(r.cv == ARC_CV_FAIL && r.temperror, "a key not had in time: fail, temperror");
	ok(arc_seal(hs, (const guchar *) body, strlen(body), &s, AR, &r, &set, &why) == -1
	   && strstr(why, "not had in time"), "  such a chain is not sealed (%s)", why ? why : "");
	g_free(why);
	why = NULL;
	arc_result_clear(&r);
	key_late = 0;
	expect(hs, body, ARC_CV_PASS, 1, NULL, "the key back: pass");

	/* a failed chain is sealed once, with cv=fail, then never again */
	ok(seal(hs, "changed\r\n", rsa2, "relay.example", "s2", &why) == 0,
	   "a failed chain is sealed");
	ok(strstr(field(hs, "ARC-Seal", 1)->value, "cv=fail") != NULL, "with cv=fail");
	check(hs, "changed\r\n", &r);
	ok(r.cv == ARC_CV_FAIL && r.sealed_fail && r.count == 2,
	   "it validates as fail, ended (%s)", r.reason);
	ok(arc_seal(hs, (const guchar *) "x\r\n", 3, &s, AR, &r, &set, &why) < 0
	   && strstr(why, "cv=fail"), "and is not extended (%s)", why ? why : "");
	g_free(why);
	why = NULL;
	arc_result_clear(&r);
	g_ptr_array_unref(hs);
}

static void
test_fifty(void)
{
	GPtrArray *hs = message();
	char *why = NULL;
	int i, sealed = 0;

	for (i = 0; i < ARC_MAX_INSTANCE; i++)
		sealed += seal(hs, body, i % 2 ? rsa2 : ed, i % 2 ? "relay.example" : "example.org",
			       i % 2 ? "s2" : "ed", &why) == 0;
	is_int(sealed, ARC_MAX_INSTANCE, "50 sets sealed");
	expect(hs, body, ARC_CV_PASS, 50, NULL, "a chain of 50 passes");
	ok(seal(hs, body, rsa, "example.net", "arc", &why) < 0 && strstr(why, "50"),
	   "a 51st set is refused (%s)", why ? why : "");
	g_free(why);
	g_ptr_array_unref(hs);
}

int
main(void)
{
	keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
	rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	publish(rsa, "arc", "example.net");
	publish(rsa2, "s2", "relay.example");
	publish(ed, "ed", "example.org");
	test_none();
	test_pass();
	test_tampered();
	test_structure();
	test_cv_and_keys();
	test_fifty();
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(ed);
	g_hash_table_destroy(keys);
	return tap_done();
}
