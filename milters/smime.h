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

#include "../src/mime.h"

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
 * Opaque-signed S/MIME (application/pkcs7-mime or x-pkcs7-mime holding
 * CMS signed-data with its content inside, whatever smime-type says or
 * omits; application/octet-stream named *.p7m too) carries a MIME entity
 * that mail clients unwrap and show.  smime_signed_content() reads that
 * content with OpenSSL (no signature check: reading needs none); NULL
 * when the part holds no such content (enveloped, detached, unreadable).
 *
 * smime_leaves() lists the leaves under root as mime_leaves() does, and
 * the leaves of every signed content too, unwrapped and parsed by GMime,
 * at any depth (opaque-signed inside a multipart inside opaque-signed
 * ...), under the same count and depth; the contents together may not
 * exceed max_bytes.  What was left out comes back as for mime_leaves()
 * (MIME_WALK_SIZE: the bytes).  smime_leaves_clear() frees what it made;
 * the leaves of unwrapped content live until then.
 */
struct smime_leaves {
	GPtrArray *leaves;	/* GMimeObject *: every leaf, in order */
	GHashTable *carriers;	/* leaf in signed content -> the outermost
				 * pkcs7-mime part of root's own tree that
				 * holds it */
	GPtrArray *contents;	/* GBytes *: each signed content (a MIME
				 * entity), outermost first */
	GPtrArray *trees;	/* GMimeObject *: the same, parsed */
	gsize bytes;		/* the contents' size, all together */
	/* the walk's bounds, and where it is */
	gsize max_bytes;
	guint max;
	gboolean into_messages;
	GMimeObject *carrier;
};

GBytes *smime_signed_content(GMimePart *part);
GMimeObject *smime_signed_entity(GMimePart *part);
enum mime_walk smime_leaves(GMimeObject *root, gboolean into_messages, guint max,
			    int depth, gsize max_bytes, struct smime_leaves *out);
void smime_leaves_clear(struct smime_leaves *l);

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
