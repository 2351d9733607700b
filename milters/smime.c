/*
 * smime - find signed and encrypted parts
 */
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/objects.h>

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
