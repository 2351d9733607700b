/*
 * dkimsign - a DKIM-Signature made with OpenSSL (dkimsign.h)
 */
#include <string.h>
#include <glib.h>
#include <openssl/evp.h>

#include "dkimsign.h"
#include "../src/dkcanon.h"

/* canon_field - field ("name:value", as it will leave) in relaxed
 * canonical form, with CRLF after it unless last */
static void
canon_field(GString *out, const char *field, int last)
{
	const char *colon = strchr(field, ':');
	char *name = g_strndup(field, colon ? (gsize) (colon - field) : strlen(field));

	dkc_header(out, name, colon ? colon + 1 : "", 1, !last);
	g_free(name);
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
	char *bh = dkc_body_hash(body, len, 1, -1), *b;
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
				canon_field(data, f, 0);
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

		canon_field(data, field, 1);
		g_free(field);
	}
	if ((b = dkc_sign(s->key, s->alg == DKIM_ALG_ED25519_SHA256, data)) == NULL)
		*why = g_strdup("OpenSSL cannot sign with the key");
	else
		g_string_append(v, b);
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
