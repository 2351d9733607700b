/*
 * dkimsign - a DKIM-Signature (RFC 6376, relaxed/relaxed) made with
 * OpenSSL, for keys libopendkim cannot sign with cleanly
 *
 * libopendkim 2.11 signs ed25519-sha256 (RFC 8463) but never frees the
 * key it loads for it, a leak per message in a daemon; so the dkim
 * handler signs Ed25519 here and RSA with libopendkim's dkim_sign().
 * dks_sign() takes the header fields as they will leave ("name:value",
 * folds CRLF + white space) and the body (CRLF lines), and returns the
 * field's value; dks_canon_header() and dks_body_hash() are the two
 * canonicalisations, for other code that signs (ARC).
 *
 * Ownership: results are the caller's (g_free, g_string_free).  No
 * state: any thread.
 */
#ifndef SINKD_MILTERS_DKIMSIGN_H
#define SINKD_MILTERS_DKIMSIGN_H

#include <glib.h>

#include "dkim.h"

void dks_canon_header(GString *out, const char *field);
char *dks_body_hash(const guchar *body, gsize len);
char *dks_sign(const struct dkim_signer *s, GPtrArray *headers,
	       const guchar *body, gsize len, gint64 now, char **why);

#endif
