/*
 * dkim - the dkim handler: DKIM verification of the message as received
 * (src/dkim.h has the results and dkim_may_change()), and DKIM signing of
 * the message as it leaves
 *
 * A policy that signs (dkim-sign = yes, or dkim-signed = resign or arc)
 * has a signer in its compiled config, made once per snapshot when the
 * policy is compiled: the d= and s= of its signatures, the private key
 * (RSA of 1024 bits or more: rsa-sha256; Ed25519: ed25519-sha256, RFC
 * 8463), and the header fields signed.  dkim_signer() hands it to other
 * code that signs with the domain's key (ARC sealing).  The signer is
 * the policy's: transfer none, immutable, shared by every thread.
 */
#ifndef SINKD_MILTERS_DKIM_H
#define SINKD_MILTERS_DKIM_H

#include "../src/dkim.h"
#include "../src/handler.h"

extern const struct handler dkim_handler;

struct policy;
struct evp_pkey_st;

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,	/* rsa-sha256 */
	DKIM_ALG_ED25519_SHA256,	/* ed25519-sha256 (RFC 8463) */
};

struct dkim_signer {
	char *domain;		/* d= */
	char *selector;		/* s= */
	enum dkim_alg alg;	/* follows the key */
	struct evp_pkey_st *key;	/* the private key (EVP_PKEY) */
	char *pem;		/* the key file's text, for libopendkim */
	char **headers;		/* the fields signed, lower case, in order */
	char **oversign;	/* of those, the ones signed once more than
				 * the message has them (none may be added) */
	void *lib;		/* libopendkim's DKIM_LIB for this list (RSA) */
};

const struct dkim_signer *dkim_signer(const struct policy *p);
const char *dkim_alg_name(enum dkim_alg a);

int dkim_verify_msg(struct msg *m, GHashTable *keys, gint64 timeout,
		    unsigned max, struct dkim_state *st);

#endif
