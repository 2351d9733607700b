/*
 * dkimsign - a DKIM-Signature made with OpenSSL (dkimsign.h)
 */
#include <string.h>
#include <glib.h>
#include <openssl/evp.h>

#include "dkimsign.h"

#define WSP(c)	((c) == ' ' || (c) == '\t')

/*
 * dks_canon_header - append field ("name:value", folds CRLF or LF
 * followed by white space) in relaxed canonical form (RFC 6376 3.4.2):
 * the name in lower case, the value unfolded, runs of white space one
 * space, none at the end or around the colon; CRLF after it
 */
void
dks_canon_header(GString *out, const char *field)
{
	const char *colon = strchr(field, ':'), *p;
	gsize start;
	int space = 0;

	if (colon == NULL)
		colon = field + strlen(field);
	for (p = field; p < colon; p++)
		if (!WSP(*p))
			g_string_append_c(out, g_ascii_tolower(*p));
	g_string_append_c(out, ':');
	start = out->len;
	for (p = *colon ? colon + 1 : colon; *p; p++) {
		if (*p == '\r' || *p == '\n' || WSP(*p)) {
			space = 1;
			continue;
		}
		if (space && out->len > start)
			g_string_append_c(out, ' ');
		space = 0;
		g_string_append_c(out, *p);
	}
	g_string_append(out, "\r\n");
}

/*
 * dks_body_hash - the base64 SHA-256 of body in relaxed canonical form
 * (RFC 6376 3.4.4): runs of white space one space, none at the end of
 * a line, no empty lines at the end, CRLF after the last line (a bare
 * LF ends a line as CRLF does); an empty body hashes as nothing
 */
char *
dks_body_hash(const guchar *body, gsize len)
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	GString *line = g_string_new(NULL);
	guint8 digest[32];
	gsize dlen = sizeof digest, i = 0, empty = 0;
	char *b64;

	while (i < len) {
		const guchar *nl = memchr(body + i, '\n', len - i);
		gsize end = nl ? (gsize) (nl - body) : len, j;
		int space = 0;

		g_string_truncate(line, 0);
		for (j = i; j < end; j++) {
			if (body[j] == '\r' && j + 1 == end && nl)
				break;		/* the CR of CRLF */
			if (WSP(body[j])) {
				space = 1;
				continue;
			}
			if (space)
				g_string_append_c(line, ' ');
			space = 0;
			g_string_append_c(line, body[j]);
		}
		i = nl ? end + 1 : len;
		if (line->len == 0) {	/* held until a line with text */
			empty++;
			continue;
		}
		for (; empty > 0; empty--)
			g_checksum_update(sum, (const guchar *) "\r\n", 2);
		g_checksum_update(sum, (const guchar *) line->str, line->len);
		g_checksum_update(sum, (const guchar *) "\r\n", 2);
	}
	g_checksum_get_digest(sum, digest, &dlen);
	g_checksum_free(sum);
	g_string_free(line, TRUE);
	b64 = g_base64_encode(digest, dlen);
	return b64;
}

/* instance - the nth field called name from the bottom (1: the last),
 * or NULL */
static const char *
instance(GPtrArray *headers, const char *name, unsigned nth)
{
	gsize n = strlen(name);
	guint i;

	for (i = headers->len; i-- > 0;) {
		const char *f = g_ptr_array_index(headers, i);
		const char *c = strchr(f, ':');

		if (c && (gsize) (c - f) == n && !g_ascii_strncasecmp(f, name, n) && --nth == 0)
			return f;
	}
	return NULL;
}

/* raw_sign - the signature of data under s's key: RSA PKCS#1 v1.5 over
 * SHA-256, or Ed25519 over SHA-256(data) (RFC 8463 section 3) */
static char *
raw_sign(const struct dkim_signer *s, const GString *data, char **why)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const guchar *in = (const guchar *) data->str;
	gsize inlen = data->len, siglen = 0, dlen = 32;
	guint8 digest[32], *sig = NULL;
	char *b64 = NULL;
	int ok;

	if (s->alg == DKIM_ALG_ED25519_SHA256) {
		GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);

		g_checksum_update(sum, in, inlen);
		g_checksum_get_digest(sum, digest, &dlen);
		g_checksum_free(sum);
		in = digest;
		inlen = dlen;
	}
	ok = ctx && EVP_DigestSignInit(ctx, NULL, s->alg == DKIM_ALG_ED25519_SHA256
				       ? NULL : EVP_sha256(), NULL, s->key) == 1
		&& EVP_DigestSign(ctx, NULL, &siglen, in, inlen) == 1;
	if (ok) {
		sig = g_malloc(siglen);
		ok = EVP_DigestSign(ctx, sig, &siglen, in, inlen) == 1;
	}
	if (ok)
		b64 = g_base64_encode(sig, siglen);
	else
		*why = g_strdup("OpenSSL cannot sign with the key");
	g_free(sig);
	EVP_MD_CTX_free(ctx);
	return b64;
}

/*
 * dks_sign - the value of a DKIM-Signature field by s over headers and
 * body, time stamp now (seconds); NULL with *why (g_free) on failure.
 * h= names each field of s->headers as often as the message has it
 * (signed from the bottom up), an over-signed one once more.
 */
char *
dks_sign(const struct dkim_signer *s, GPtrArray *headers, const guchar *body,
	 gsize len, gint64 now, char **why)
{
	GString *v = g_string_new(NULL), *data = g_string_new(NULL), *h = g_string_new(NULL);
	char *bh = dks_body_hash(body, len), *b;
	char **name, **o;
	gsize i, col;

	for (name = s->headers; *name; name++) {
		unsigned n = 0, k;

		while (instance(headers, *name, n + 1))
			n++;
		for (o = s->oversign; *o; o++)
			if (!g_ascii_strcasecmp(*o, *name))
				break;
		for (k = 1; k <= n + (*o != NULL); k++) {
			const char *f = instance(headers, *name, k);

			if (f)
				dks_canon_header(data, f);
			g_string_append_printf(h, "%s%s", h->len ? ":" : "", *name);
		}
	}
	g_string_append_printf(v, "v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s;\r\n\tt=%"
			       G_GINT64_FORMAT "; bh=%s;\r\n\th=", dkim_alg_name(s->alg),
			       s->domain, s->selector, now, bh);
	/* h= folded at colons, under 78 columns */
	for (i = 0, col = 3; i < h->len; i++) {
		if (h->str[i] == ':' && col > 70) {
			g_string_append(v, ":\r\n\t ");
			col = 2;
			continue;
		}
		g_string_append_c(v, h->str[i]);
		col++;
	}
	g_string_append(v, ";\r\n\tb=");
	{
		char *field = g_strconcat("DKIM-Signature:", v->str, NULL);

		dks_canon_header(data, field);
		g_string_truncate(data, data->len - 2);	/* no CRLF after it */
		g_free(field);
	}
	b = raw_sign(s, data, why);
	for (i = 0; b && b[i]; i += MIN(64, strlen(b + i))) {
		if (i)
			g_string_append(v, "\r\n\t ");
		g_string_append_len(v, b + i, MIN(64, strlen(b + i)));
	}
	g_free(bh);
	g_string_free(h, TRUE);
	g_string_free(data, TRUE);
	if (b == NULL) {
		g_string_free(v, TRUE);
		return NULL;
	}
	g_free(b);
	return g_string_free(v, FALSE);
}
