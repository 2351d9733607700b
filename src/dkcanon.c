/*
 * dkcanon - canonical forms and signatures shared by DKIM signing and
 * ARC (dkcanon.h)
 */
#include <string.h>
#include <glib.h>
#include <openssl/evp.h>

#include "dkcanon.h"

#define B64_FOLD	64	/* b= characters per line */

/* dkc_header - one header field in out, relaxed or simple, with the
 * CRLF after it when crlf */
void
dkc_header(GString *out, const char *name, const char *value, int relaxed, int crlf)
{
	const char *p;

	if (!relaxed) {
		g_string_append_printf(out, "%s:", name);
		for (p = value; *p; p++) {
			if (*p == '\r' && p[1] == '\n')
				continue;
			if (*p == '\n')
				g_string_append_c(out, '\r');
			g_string_append_c(out, *p);
		}
	} else {
		gsize start = out->len;
		int space = 0;

		for (p = name; *p; p++)
			g_string_append_c(out, g_ascii_tolower(*p));
		while (out->len > start && (out->str[out->len - 1] == ' '
					    || out->str[out->len - 1] == '\t'))
			g_string_truncate(out, out->len - 1);
		g_string_append_c(out, ':');
		start = out->len;
		for (p = value; *p; p++) {
			if (*p == '\r' || *p == '\n')
				continue;
			if (*p == ' ' || *p == '\t') {
				space = 1;
				continue;
			}
			if (space && out->len > start)
				g_string_append_c(out, ' ');
			space = 0;
			g_string_append_c(out, *p);
		}
	}
	if (crlf)
		g_string_append(out, "\r\n");
}

/* The body hash under way. */
struct bodyhash {
	EVP_MD_CTX *md;
	gint64 left;		/* bytes l= still lets in; -1: all */
};

/* bh_put - n bytes of canonical body into the hash, up to l= */
static void
bh_put(struct bodyhash *b, const char *p, gsize n)
{
	if (b->left >= 0) {
		n = MIN(n, (gsize) b->left);
		b->left -= n;
	}
	if (n)
		EVP_DigestUpdate(b->md, p, n);
}

/*
 * dkc_body_hash - the SHA-256 of the body in relaxed or simple form (empty
 * lines at the end left out; simple: an empty body is one CRLF), the
 * first limit bytes of it when limit >= 0, in base64 (g_free)
 */
char *
dkc_body_hash(const guchar *body, gsize len, int relaxed, gint64 limit)
{
	struct bodyhash b = {EVP_MD_CTX_new(), limit};
	const guchar *p = body, *end = body + len;
	GString *line = g_string_new(NULL);
	gsize empties = 0;
	int out = 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char *r = NULL;

	if (b.md == NULL || !EVP_DigestInit_ex(b.md, EVP_sha256(), NULL))
		goto done;
	while (p < end) {
		const guchar *nl = memchr(p, '\n', end - p), *e = nl ? nl : end;
		gsize n = e - p, k;

		if (nl && n > 0 && p[n - 1] == '\r')
			n--;
		g_string_truncate(line, 0);
		if (relaxed) {
			int space = 0;

			for (k = 0; k < n; k++) {
				if (p[k] == ' ' || p[k] == '\t') {
					space = 1;
					continue;
				}
				if (space)
					g_string_append_c(line, ' ');
				space = 0;
				g_string_append_c(line, p[k]);
			}
		} else {
			g_string_append_len(line, (const char *) p, n);
		}
		if (line->len == 0) {
			empties++;
		} else {
			for (; empties; empties--)
				bh_put(&b, "\r\n", 2);
			bh_put(&b, line->str, line->len);
			bh_put(&b, "\r\n", 2);
			out = 1;
		}
		p = nl ? nl + 1 : end;
	}
	if (!out && !relaxed)
		bh_put(&b, "\r\n", 2);
	if (EVP_DigestFinal_ex(b.md, md, &mdlen))
		r = g_base64_encode(md, mdlen);
done:
	EVP_MD_CTX_free(b.md);
	g_string_free(line, TRUE);
	return r;
}

/* sha256 - the SHA-256 of data into md (32 bytes); 0 on failure */
static int
sha256(const GString *data, unsigned char *md)
{
	unsigned len = 0;

	return EVP_Digest(data->str, data->len, md, &len, EVP_sha256(), NULL) && len == 32;
}

/* dkc_sign - the signature of data with key, in base64 folded for a field
 * (g_free); NULL on failure */
char *
dkc_sign(EVP_PKEY *key, int ed, const GString *data)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32], *sig = NULL;
	size_t siglen = 0;
	char *b64 = NULL;
	GString *folded;
	gsize i, n;
	int ok = 0;

	if (ctx && !ed)
		ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1
			&& EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *) data->str,
					  data->len) == 1
			&& (sig = g_malloc(siglen))
			&& EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *) data->str,
					  data->len) == 1;
	else if (ctx)
		ok = sha256(data, md)
			&& EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1
			&& EVP_DigestSign(ctx, NULL, &siglen, md, sizeof md) == 1
			&& (sig = g_malloc(siglen))
			&& EVP_DigestSign(ctx, sig, &siglen, md, sizeof md) == 1;
	EVP_MD_CTX_free(ctx);
	if (ok)
		b64 = g_base64_encode(sig, siglen);
	g_free(sig);
	if (b64 == NULL)
		return NULL;
	folded = g_string_new(NULL);
	for (i = 0, n = strlen(b64); i < n; i += B64_FOLD) {
		if (i)
			g_string_append(folded, "\r\n\t ");
		g_string_append_len(folded, b64 + i, MIN(B64_FOLD, n - i));
	}
	g_free(b64);
	return g_string_free(folded, FALSE);
}


/* dkc_verify - 1 when sig is key's signature of data, else 0 */
int
dkc_verify(EVP_PKEY *key, int ed, const guchar *sig, gsize siglen, const GString *data)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	int ok = 0;

	if (ctx && !ed)
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1
			&& EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *) data->str,
					    data->len) == 1;
	else if (ctx)
		ok = sha256(data, md)
			&& EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1
			&& EVP_DigestVerify(ctx, sig, siglen, md, sizeof md) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}
