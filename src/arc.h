/*
 * arc - ARC (RFC 8617): validate the chain a message came with, and seal
 * a new ARC set over the message as it leaves
 *
 * arc_validate() reads the ARC sets of a header list
 * (ARC-Authentication-Results, ARC-Message-Signature and ARC-Seal, each
 * with its instance i=1..50), checks their structure (RFC 8617 5.2: one
 * of each per instance, no gap, cv=none for i=1 and pass above it),
 * verifies the ARC-Message-Signature of the highest instance over the
 * header and body, then every ARC-Seal from the highest instance down,
 * and says cv = none (no ARC field), pass, or fail with the reason.
 * Keys are the caller's: a function that returns the TXT record of
 * SELECTOR._domainkey.DOMAIN (the dkim handler's key source: the keys
 * file, or DNS within the message's budget).
 *
 * arc_seal() makes the next set over the final header and body: the
 * ARC-Authentication-Results with the results sinkd saw (the value of
 * its own Authentication-Results), an ARC-Message-Signature
 * (relaxed/relaxed) over a fixed list of header fields and the body, and
 * an ARC-Seal over the sets before it and the new one (over the new one
 * alone when the chain failed, as a sealer after a failed chain does).
 * It refuses to extend a chain whose top ARC-Seal already says cv=fail,
 * one with 50 sets, or one whose keys were not had in time (a failure
 * of the validator's, which a cv=fail would make the chain's for good).
 *
 * Algorithms: rsa-sha256 (keys of 1024 to 8192 bits) and ed25519-sha256
 * (RFC 8463); canonicalisation simple or relaxed when validating,
 * relaxed/relaxed when sealing.  Work is bounded: at most
 * ARC_MAX_FIELDS ARC fields are looked at, each key at most once.
 *
 * Header lists are struct msg's kind: GPtrArray of struct header *
 * (src/message.h), top first, values as received.
 *
 * Ownership: struct arc_result's strings are the result's
 * (arc_result_clear()); arc_seal()'s fields are the caller's (g_free).
 * Threading: no state outside the call.
 */
#ifndef SINKD_ARC_H
#define SINKD_ARC_H

#include <glib.h>
#include <openssl/evp.h>

#define ARC_MAX_INSTANCE	50	/* RFC 8617 4.2.1 */
#define ARC_MAX_FIELDS		(3 * ARC_MAX_INSTANCE)

/* The chain validation status (cv=). */
enum arc_cv {
	ARC_CV_NONE,		/* no ARC set */
	ARC_CV_PASS,
	ARC_CV_FAIL,
};

/* What a key look-up found. */
enum arc_key {
	ARC_KEY_FOUND,		/* *txt set (g_free) */
	ARC_KEY_NOTFOUND,
	ARC_KEY_TEMPFAIL,	/* no answer in time */
};

/* arc_key_fn - the TXT value of selector._domainkey.domain */
typedef enum arc_key (*arc_key_fn)(void *ctx, const char *selector,
				   const char *domain, char **txt);

struct arc_result {
	enum arc_cv cv;
	unsigned count;		/* the highest instance (0: none) */
	char *reason;		/* why fail, or NULL */
	char *domain;		/* d= of the highest ARC-Seal, or NULL */
	int temperror;		/* fail because a key was not had in time */
	int sealed_fail;	/* the highest ARC-Seal says cv=fail: the
				 * chain is never extended */
};

/* What arc_seal() signs with. */
struct arc_signer {
	EVP_PKEY *key;		/* RSA or Ed25519 */
	const char *domain;	/* d= */
	const char *selector;	/* s= */
	const char *const *headers;	/* the fields the AMS signs (lower
					 * case, NULL-terminated), or NULL:
					 * arc_sign_headers */
	gint64 timestamp;	/* t=, seconds; 0: now */
};

/* The three fields of a new set: values without the name. */
struct arc_set {
	char *aar;		/* ARC-Authentication-Results */
	char *ams;		/* ARC-Message-Signature */
	char *as;		/* ARC-Seal */
};

extern const char *const arc_sign_headers[];

void arc_validate(const GPtrArray *headers, const guchar *body, gsize len,
		  arc_key_fn key, void *ctx, struct arc_result *r);
void arc_result_clear(struct arc_result *r);
const char *arc_cv_name(enum arc_cv cv);

int arc_seal(const GPtrArray *headers, const guchar *body, gsize len,
	     const struct arc_signer *s, const char *ar,
	     const struct arc_result *chain, struct arc_set *out, char **why);
void arc_set_clear(struct arc_set *set);

#endif
