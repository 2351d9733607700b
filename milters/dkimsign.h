/*
 * dkimsign - a DKIM-Signature (RFC 6376, relaxed/relaxed) made with
 * OpenSSL on a key decoded once per snapshot
 *
 * libopendkim's dkim_sign() takes the key as PEM text and decodes it
 * for every message (OpenSSL 3's decoders and a new RSA blinding each
 * time: four fifths of what RSA signing cost), and never frees an
 * Ed25519 key it loads; so the dkim handler signs here, with the
 * EVP_PKEY of its compiled policy, and libopendkim only verifies.
 * dks_sign() takes the header fields as they will leave ("name:value",
 * folds CRLF + white space) and the body (CRLF lines), and returns the
 * field's value.  The canonical forms and the signature itself are
 * dkcanon's (src/dkcanon.h), which ARC shares.
 *
 * Ownership: results are the caller's (g_free, g_string_free).  No
 * state: any thread.
 */
#ifndef SINKD_MILTERS_DKIMSIGN_H
#define SINKD_MILTERS_DKIMSIGN_H

#include <glib.h>

#include "dkim.h"

char *dks_sign(const struct dkim_signer *s, GPtrArray *headers,
	       const guchar *body, gsize len, gint64 now, char **why);

#endif
