/*
 * fuzz_arc - ARC validation of one message's header and body, then the
 * seal that would extend it (src/arc.c)
 *
 * The input is a message: header fields, read by GMime as the MTA hands
 * them to a milter (mime_header_fields()), up to the empty line, then
 * the body.  Every key look-up answers with
 * the value of the message's first X-Key field (so the input chooses
 * the key record: huge, bad, or the one that makes its signatures
 * verify), or "not found" when it has none; selector "late" answers "no
 * answer in time".  After validation, arc_seal() extends the chain with
 * a fixed RSA key, as sinkd would.  Work must stay bounded: many sets,
 * huge instance numbers, long tag lists and keys up to the record limit.
 * Seeds: fuzz/seeds/fuzz_arc/ (a sealed chain that carries its key, and
 * hostile fields), and fuzz/regress/fuzz_arc/ once it has findings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <openssl/evp.h>

#include "../src/arc.h"
#include "../src/message.h"
#include "../src/mime.h"
#include "fuzz.h"

static EVP_PKEY *key;

/* key_of - arc_key_fn: the first X-Key field of the message */
static enum arc_key
key_of(void *ctx, const char *sel, const char *dom, char **txt)
{
	GPtrArray *hs = ctx;
	guint i;

	(void) dom;
	if (!strcmp(sel, "late"))
		return ARC_KEY_TEMPFAIL;
	for (i = 0; i < hs->len; i++) {
		const struct header *h = g_ptr_array_index(hs, i);

		if (!g_ascii_strcasecmp(h->name, "X-Key")) {
			*txt = g_strdup(h->value);
			return ARC_KEY_FOUND;
		}
	}
	return ARC_KEY_NOTFOUND;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fuzz_init();
	key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
	if (key == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = g_strndup((const char *) data, size);	/* no NUL inside */
	size_t len = strlen(text), body;
	GPtrArray *hs = mime_header_fields(text, len, &body);
	struct arc_result r;
	struct arc_signer s = {key, "sinkd.example", "arc", NULL, 1796300000};
	struct arc_set set;
	char *why = NULL;

	arc_validate(hs, (const guchar *) text + body, len - body, key_of, hs, &r);
	if (arc_seal(hs, (const guchar *) text + body, len - body, &s,
		     "mx.sinkd.example; arc=pass", &r, &set, &why) == 0)
		arc_set_clear(&set);
	g_free(why);
	arc_result_clear(&r);
	g_ptr_array_unref(hs);
	g_free(text);
	return 0;
}
