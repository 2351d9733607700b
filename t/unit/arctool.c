/*
 * arctool - the ARC module (src/arc.c) on a message from standard input,
 *	for t/arc.t to hold against dkimpy
 *
 *	arctool verify KEYS
 *		prints "cv=RESULT count=N" and, on fail, "reason=WHY"
 *	arctool seal KEYS PEM DOMAIN SELECTOR AR
 *		validates the chain, then prints the message with the new
 *		ARC set on top (and "cv=..." of the chain it extends on
 *		standard error); exit 1 when it may not be sealed
 *
 * KEYS has the lines of dkim-keys-file: SELECTOR._domainkey.DOMAIN and
 * the TXT value.  The header is read into fields by GMime
 * (mime_header_fields()), as the MTA hands them to a milter.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include <openssl/pem.h>

#include "../../src/arc.h"
#include "../../src/message.h"
#include "../../src/mime.h"

/* key_file - arc_key_fn over a GHashTable of name -> TXT */
static enum arc_key
key_file(void *ctx, const char *sel, const char *dom, char **txt)
{
	char *name = g_ascii_strdown(sel, -1), *full;
	const char *v;

	full = g_strdup_printf("%s._domainkey.%s", name, dom);
	g_free(name);
	name = g_ascii_strdown(full, -1);
	v = g_hash_table_lookup(ctx, name);
	g_free(full);
	g_free(name);
	if (v == NULL)
		return ARC_KEY_NOTFOUND;
	*txt = g_strdup(v);
	return ARC_KEY_FOUND;
}

/* keys_read - KEYS as a table */
static GHashTable *
keys_read(const char *path)
{
	GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	char *text, **lines, **l;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return t;
	lines = g_strsplit(text, "\n", -1);
	for (l = lines; *l; l++) {
		char *sp = strchr(*l, ' ');

		if (sp == NULL)
			continue;
		*sp = 0;
		g_hash_table_insert(t, g_ascii_strdown(*l, -1), g_strdup(g_strstrip(sp + 1)));
	}
	g_strfreev(lines);
	g_free(text);
	return t;
}

int
main(int argc, char **argv)
{
	GIOChannel *in = g_io_channel_unix_new(0);
	char *msg = NULL;
	gsize len = 0, body;
	GPtrArray *hs;
	GHashTable *keys;
	struct arc_result r;
	int rc = 0;

	if (argc < 3 || (strcmp(argv[1], "verify") && (strcmp(argv[1], "seal") || argc != 7))) {
		fprintf(stderr, "usage: arctool verify KEYS | seal KEYS PEM DOMAIN SELECTOR AR\n");
		return 2;
	}
	g_mime_init();
	g_io_channel_set_encoding(in, NULL, NULL);
	g_io_channel_read_to_end(in, &msg, &len, NULL);
	g_io_channel_unref(in);
	hs = mime_header_fields(msg, len, &body);
	keys = keys_read(argv[2]);
	arc_validate(hs, (const guchar *) msg + body, len - body, key_file, keys, &r);
	if (!strcmp(argv[1], "verify")) {
		printf("cv=%s count=%u\n", arc_cv_name(r.cv), r.count);
		if (r.reason)
			printf("reason=%s\n", r.reason);
	} else {
		FILE *f = fopen(argv[3], "r");
		EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
		struct arc_signer s = {key, argv[4], argv[5], NULL, 0};
		struct arc_set set;
		char *why = NULL;

		if (f)
			fclose(f);
		fprintf(stderr, "cv=%s count=%u%s%s\n", arc_cv_name(r.cv), r.count,
			r.reason ? " reason=" : "", r.reason ? r.reason : "");
		if (key == NULL || arc_seal(hs, (const guchar *) msg + body, len - body, &s,
					    argv[6], &r, &set, &why) < 0) {
			fprintf(stderr, "not sealed: %s\n", why ? why : "no key");
			rc = 1;
		} else {
			printf("ARC-Seal: %s\r\nARC-Message-Signature: %s\r\n"
			       "ARC-Authentication-Results: %s\r\n", set.as, set.ams, set.aar);
			fwrite(msg, 1, len, stdout);
			arc_set_clear(&set);
		}
		g_free(why);
		EVP_PKEY_free(key);
	}
	arc_result_clear(&r);
	g_hash_table_destroy(keys);
	g_ptr_array_unref(hs);
	g_free(msg);
	return rc;
}
