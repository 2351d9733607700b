/*
 * smime - find signed and encrypted parts
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "../src/conf.h"
#include "../src/mime.h"
#include "smime.h"

/* cms_kind - the CMS content type of a pkcs7-mime part's decoded content */
static enum smime_kind
cms_kind(GMimePart *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *s;
	GByteArray *der;
	enum smime_kind k = SMIME_SIGNED;	/* unreadable: do not touch */
	CMS_ContentInfo *cms;
	BIO *bio;

	if (w == NULL)
		return k;
	s = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, s);
	der = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	bio = BIO_new_mem_buf(der->data, (int) der->len);
	cms = bio ? d2i_CMS_bio(bio, NULL) : NULL;
	if (cms) {
		int nid = OBJ_obj2nid(CMS_get0_type(cms));

		if (nid == NID_pkcs7_enveloped || nid == NID_id_smime_ct_authEnvelopedData
		    || nid == NID_pkcs7_encrypted)
			k = SMIME_ENCRYPTED;
		CMS_ContentInfo_free(cms);
	}
	BIO_free(bio);
	g_object_unref(s);
	return k;
}

/* pkcs7_kind - application/(x-)pkcs7-mime: smime-type, else the CMS type */
static enum smime_kind
pkcs7_kind(GMimeObject *part, int *opaque)
{
	const char *t = g_mime_object_get_content_type_parameter(part, "smime-type");
	enum smime_kind k;

	if (t && (!g_ascii_strcasecmp(t, "enveloped-data")
		  || !g_ascii_strcasecmp(t, "authEnveloped-data")))
		return SMIME_ENCRYPTED;
	if (t && !g_ascii_strcasecmp(t, "signed-data")) {
		*opaque = 1;
		return SMIME_SIGNED;
	}
	k = GMIME_IS_PART(part) ? cms_kind(GMIME_PART(part)) : SMIME_SIGNED;
	if (k == SMIME_SIGNED)
		*opaque = 1;
	return k;
}

/* armour - inline PGP in a text part */
static enum smime_kind
armour(GMimeObject *part)
{
	enum smime_kind k = SMIME_NONE;
	char *text;

	if (!GMIME_IS_TEXT_PART(part) || g_mime_part_is_attachment(GMIME_PART(part)))
		return SMIME_NONE;
	text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
	if (text && strstr(text, "-----BEGIN PGP MESSAGE-----"))
		k = SMIME_ENCRYPTED;
	else if (text && strstr(text, "-----BEGIN PGP SIGNED MESSAGE-----"))
		k = SMIME_SIGNED;
	g_free(text);
	return k;
}

struct walk {
	struct smime_scan *out;
};

static void
note(struct smime_scan *o, enum smime_kind k, GMimeObject *parent,
     GMimeObject *part)
{
	if (k == SMIME_SIGNED && o->signed_part == NULL) {
		o->signed_part = part;
		o->signed_parent = parent;
	}
	if (k > o->kind)
		o->kind = k;
}

/* visit - one part (g_mime_message_foreach) */
static void
visit(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	struct smime_scan *o = data;
	GMimeContentType *ct = g_mime_object_get_content_type(part);
	enum smime_kind k;

	if (GMIME_IS_MULTIPART_ENCRYPTED(part)
	    || g_mime_content_type_is_type(ct, "multipart", "encrypted")) {
		note(o, SMIME_ENCRYPTED, parent, part);
		o->pgp |= g_mime_content_type_get_parameter(ct, "protocol")
			&& strstr(g_mime_content_type_get_parameter(ct, "protocol"), "pgp") != NULL;
	} else if (GMIME_IS_MULTIPART_SIGNED(part)
		   || g_mime_content_type_is_type(ct, "multipart", "signed")) {
		const char *proto = g_mime_content_type_get_parameter(ct, "protocol");

		note(o, SMIME_SIGNED, parent, part);
		o->pgp |= proto && strstr(proto, "pgp") != NULL;
	} else if (g_mime_content_type_is_type(ct, "application", "pkcs7-mime")
		   || g_mime_content_type_is_type(ct, "application", "x-pkcs7-mime")) {
		note(o, pkcs7_kind(part, &o->opaque), parent, part);
	} else if ((k = armour(part)) != SMIME_NONE) {
		note(o, k, parent, part);
		o->pgp = 1;
	}
}

/* smime_scan - the protection a message carries */
void
smime_scan(GMimeMessage *msg, struct smime_scan *out)
{
	GMimeObject *top = g_mime_message_get_mime_part(msg);

	memset(out, 0, sizeof(*out));
	if (top == NULL)
		return;
	/* g_mime_message_foreach visits the top part too (its parent is the
	 * message), but never the parts of an attached message/rfc822 */
	g_mime_message_foreach(msg, visit, out);
}

const char *
smime_kind_name(enum smime_kind k)
{
	return k == SMIME_ENCRYPTED ? "encrypted" : k == SMIME_SIGNED ? "signed" : "none";
}

/* is_pkcs7 - a leaf mail clients read as S/MIME: application/(x-)pkcs7-mime,
 * or application/octet-stream named *.p7m (as Outlook and Thunderbird do);
 * not one whose smime-type says it holds no signed content */
static int
is_pkcs7(GMimeObject *part)
{
	GMimeContentType *ct = g_mime_object_get_content_type(part);
	const char *t;
	GPtrArray *names;
	guint i;
	int p7m = 0;

	if (!GMIME_IS_PART(part) || ct == NULL)
		return 0;
	t = g_mime_content_type_get_parameter(ct, "smime-type");
	if (t && (!g_ascii_strcasecmp(t, "enveloped-data") || !g_ascii_strcasecmp(t, "authEnveloped-data")
		  || !g_ascii_strcasecmp(t, "certs-only")))
		return 0;
	if (g_mime_content_type_is_type(ct, "application", "pkcs7-mime")
	    || g_mime_content_type_is_type(ct, "application", "x-pkcs7-mime"))
		return 1;
	if (!g_mime_content_type_is_type(ct, "application", "octet-stream"))
		return 0;
	names = mime_part_names(part);
	for (i = 0; i < names->len && !p7m; i++) {
		const char *n = g_ptr_array_index(names, i);
		size_t len = strlen(n);

		p7m = len >= 4 && !g_ascii_strcasecmp(n + len - 4, ".p7m");
	}
	g_ptr_array_unref(names);
	return p7m;
}

/* smime_signed_content - the content inside a signed-data part */
GBytes *
smime_signed_content(GMimePart *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *s;
	GByteArray *der;
	CMS_ContentInfo *cms = NULL;
	ASN1_OCTET_STRING **pos;
	GBytes *out = NULL;
	BIO *bio;

	if (w == NULL)
		return NULL;
	s = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, s);
	der = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	if (der->len > 0 && der->len <= G_MAXINT
	    && (bio = BIO_new_mem_buf(der->data, (int) der->len)) != NULL) {
		cms = d2i_CMS_bio(bio, NULL);
		BIO_free(bio);
	}
	if (cms && OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed
	    && (pos = CMS_get0_content(cms)) != NULL && *pos != NULL)
		out = g_bytes_new(ASN1_STRING_get0_data(*pos), ASN1_STRING_length(*pos));
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	g_object_unref(s);
	return out;
}

/* parse_entity - content as GMime reads a MIME entity (caller owns) */
static GMimeObject *
parse_entity(GBytes *content)
{
	gsize len;
	const guint8 *data = g_bytes_get_data(content, &len);
	GMimeStream *s = g_mime_stream_mem_new_with_buffer((const char *) data, len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeObject *o = g_mime_parser_construct_part(p, NULL);

	g_object_unref(p);
	g_object_unref(s);
	return o;
}

/* smime_signed_entity - the MIME entity inside a signed-data part, as
 * GMime reads it (caller owns), or NULL */
GMimeObject *
smime_signed_entity(GMimePart *part)
{
	GBytes *content = smime_signed_content(part);
	GMimeObject *o = content ? parse_entity(content) : NULL;

	if (content)
		g_bytes_unref(content);
	return o;
}

/* unwrap - the visitor of smime_leaves: each leaf is noted with the part
 * that carries it; signed content is unwrapped and walked in turn */
static enum mime_walk
unwrap(GMimeObject *leaf, GPtrArray *out, int depth, void *ctx)
{
	struct smime_leaves *l = ctx;
	GMimeObject *inner, *was;
	GBytes *content;
	enum mime_walk w;
	gsize len;

	if (l->carrier)
		g_hash_table_insert(l->carriers, leaf, l->carrier);
	if (!is_pkcs7(leaf) || (content = smime_signed_content(GMIME_PART(leaf))) == NULL)
		return MIME_WALK_COMPLETE;
	len = g_bytes_get_size(content);
	if (len > l->max_bytes - l->bytes) {
		g_bytes_unref(content);
		return MIME_WALK_SIZE;
	}
	l->bytes += len;
	g_ptr_array_add(l->contents, content);
	if ((inner = parse_entity(content)) == NULL)
		return MIME_WALK_COMPLETE;
	g_ptr_array_add(l->trees, inner);
	was = l->carrier;
	if (was == NULL)
		l->carrier = leaf;
	w = mime_leaves_visit(inner, out, l->into_messages, l->max, depth - 1, unwrap, l);
	l->carrier = was;
	return w;
}

/* smime_leaves - the leaves under root, those of signed content too */
enum mime_walk
smime_leaves(GMimeObject *root, gboolean into_messages, guint max, int depth,
	     gsize max_bytes, struct smime_leaves *out)
{
	memset(out, 0, sizeof(*out));
	out->leaves = g_ptr_array_new();
	out->carriers = g_hash_table_new(NULL, NULL);
	out->contents = g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
	out->trees = g_ptr_array_new_with_free_func(g_object_unref);
	out->max_bytes = max_bytes;
	out->max = max;
	out->into_messages = into_messages;
	return mime_leaves_visit(root, out->leaves, into_messages, max, depth, unwrap, out);
}

void
smime_leaves_clear(struct smime_leaves *l)
{
	if (l->leaves)
		g_ptr_array_unref(l->leaves);
	if (l->carriers)
		g_hash_table_destroy(l->carriers);
	if (l->trees)
		g_ptr_array_unref(l->trees);
	if (l->contents)
		g_ptr_array_unref(l->contents);
	memset(l, 0, sizeof(*l));
}

struct smime_signer {
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) *chain;
	const EVP_MD *md;
	const char *micalg;
};

/* ssl_why - OpenSSL's last error, as text (caller frees) */
static char *
ssl_why(const char *what, const char *path)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	ERR_clear_error();
	return g_strdup_printf("%s: %s: %s", path, what, buf);
}

/* smime_signer_load - NULL and *why (caller frees) when it cannot be used */
struct smime_signer *
smime_signer_load(const char *cert, const char *key, const char *chain,
		  const char *digest, char **why)
{
	static const struct {
		const char *name, *micalg;
	} digests[] = {{"sha256", "sha-256"}, {"sha384", "sha-384"}, {"sha512", "sha-512"}};
	struct smime_signer *s = g_new0(struct smime_signer, 1);
	struct stat st;
	BIO *bio = NULL;
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(digests); i++)
		if (!strcmp(digest, digests[i].name)) {
			s->md = EVP_get_digestbyname(digests[i].name);
			s->micalg = digests[i].micalg;
		}
	if (s->md == NULL) {
		*why = g_strdup_printf("unknown digest %s", digest);
		goto fail;
	}
	if (stat(key, &st) < 0) {
		*why = g_strdup_printf("%s: %s", key, g_strerror(errno));
		goto fail;
	}
	/* modes and owners of the three files: the caller's conf_file_unsafe() */
	if ((bio = BIO_new_file(cert, "r")) == NULL
	    || (s->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		*why = ssl_why("no certificate", cert);
		goto fail;
	}
	BIO_free(bio);
	if ((bio = BIO_new_file(key, "r")) == NULL
	    || (s->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		*why = ssl_why("no private key", key);
		goto fail;
	}
	BIO_free(bio);
	bio = NULL;
	if (X509_check_private_key(s->cert, s->key) != 1) {
		*why = ssl_why("the key does not match the certificate", key);
		goto fail;
	}
	s->chain = sk_X509_new_null();
	if (chain && *chain) {
		STACK_OF(X509_INFO) *infos;

		if ((bio = BIO_new_file(chain, "r")) == NULL
		    || (infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL)) == NULL) {
			*why = ssl_why("no certificates", chain);
			goto fail;
		}
		for (i = 0; i < (unsigned) sk_X509_INFO_num(infos); i++) {
			X509_INFO *xi = sk_X509_INFO_value(infos, i);

			if (xi->x509) {
				X509_up_ref(xi->x509);
				sk_X509_push(s->chain, xi->x509);
			}
		}
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
		BIO_free(bio);
		bio = NULL;
	}
	return s;
fail:
	BIO_free(bio);
	smime_signer_free(s);
	return NULL;
}

void
smime_signer_free(struct smime_signer *s)
{
	if (s == NULL)
		return;
	X509_free(s->cert);
	EVP_PKEY_free(s->key);
	if (s->chain)
		sk_X509_pop_free(s->chain, X509_free);
	g_free(s);
}

const char *
smime_micalg(const struct smime_signer *s)
{
	return s->micalg;
}

/* smime_sign - a detached signature (DER) over canonical content, or NULL */
GBytes *
smime_sign(const struct smime_signer *s, GBytes *content)
{
	unsigned flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL;
	gsize len;
	const void *data = g_bytes_get_data(content, &len);
	BIO *in = BIO_new_mem_buf(data, (int) len), *out = BIO_new(BIO_s_mem());
	CMS_ContentInfo *cms = NULL;
	GBytes *der = NULL;
	char *mem;
	long n;

	cms = CMS_sign(NULL, NULL, s->chain, NULL, flags);
	if (cms == NULL || CMS_add1_signer(cms, s->cert, s->key, s->md, flags) == NULL
	    || CMS_final(cms, in, NULL, flags) != 1 || i2d_CMS_bio(out, cms) != 1) {
		ERR_clear_error();
		goto done;
	}
	n = BIO_get_mem_data(out, &mem);
	der = g_bytes_new(mem, n);
done:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	BIO_free(out);
	return der;
}
