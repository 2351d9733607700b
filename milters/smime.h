/*
 * smime - what kind of cryptographic protection a MIME tree carries
 *
 * smime_scan() looks at every part of a message (not inside attached
 * messages, whose protection is theirs): multipart/signed (S/MIME or PGP),
 * application/(x-)pkcs7-mime by its smime-type or, when that is missing,
 * by the CMS content type OpenSSL finds in it, multipart/encrypted, and
 * inline PGP armour in text parts.  The disclaimer handler uses it to
 * decide whether it may touch the message at all.
 */
#ifndef SINKD_SMIME_H
#define SINKD_SMIME_H

#include <gmime/gmime.h>

enum smime_kind {
	SMIME_NONE,
	SMIME_SIGNED,		/* a signature would break if changed */
	SMIME_ENCRYPTED,	/* content cannot be read */
};

struct smime_scan {
	enum smime_kind kind;	/* the strongest found: encrypted > signed */
	int pgp;		/* a PGP signature or message was found */
	int opaque;		/* S/MIME signed-data (content inside the CMS) */
	GMimeObject *signed_part;	/* the outermost signed part, if any */
	GMimeObject *signed_parent;	/* its parent (the message at the top) */
};

void smime_scan(GMimeMessage *msg, struct smime_scan *out);
const char *smime_kind_name(enum smime_kind k);

/*
 * A domain's signing identity, loaded once per configuration snapshot:
 * certificate, private key, optional chain, digest (the caller has
 * checked who may change or read the files: conf_file_unsafe()).  smime_sign() makes a detached CMS signature (DER) over
 * content already in canonical CRLF form.
 */
struct smime_signer;

struct smime_signer *smime_signer_load(const char *cert, const char *key,
				       const char *chain, const char *digest,
				       char **why);
void smime_signer_free(struct smime_signer *s);
GBytes *smime_sign(const struct smime_signer *s, GBytes *content);
const char *smime_micalg(const struct smime_signer *s);

#endif
