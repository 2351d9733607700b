/*
 * dkcanon - what DKIM signatures and ARC sets share: the canonical
 *	forms of RFC 6376 3.4, and signing and checking under
 *	rsa-sha256 and ed25519-sha256 (RFC 8463) with OpenSSL
 *
 * dkc_header() appends one header field (name, and value as it stands
 * after the colon, folds included) in simple or relaxed form.
 * dkc_body_hash() is the base64 SHA-256 of a body (lines ended by CRLF
 * or LF) in either form, cut to l= bytes when limit >= 0.
 * dkc_sign() signs data with an RSA key (PKCS#1 v1.5 over SHA-256) or an
 * Ed25519 key (over SHA-256 of data, RFC 8463 section 3) and returns the
 * base64, folded for a field (CRLF TAB SP every 64 characters);
 * dkc_verify() checks such a signature.
 *
 * Ownership: results are the caller's (g_free).  No state: any thread.
 */
#ifndef SINKD_DKCANON_H
#define SINKD_DKCANON_H

#include <glib.h>
#include <openssl/evp.h>

void dkc_header(GString *out, const char *name, const char *value, int relaxed, int crlf);
char *dkc_body_hash(const guchar *body, gsize len, int relaxed, gint64 limit);
char *dkc_sign(EVP_PKEY *key, int ed, const GString *data);
int dkc_verify(EVP_PKEY *key, int ed, const guchar *sig, gsize siglen, const GString *data);

#endif
