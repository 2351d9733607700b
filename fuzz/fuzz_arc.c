/*
 * fuzz_arc - ARC validation of one message's header and body, then the
 * seal that would extend it (src/arc.c)
 *
 * The input is a message: header fields (a line starting with white
 * space continues the field above, as the MTA hands fields to a milter)
 * up to the empty line, then the body.  Every key look-up answers with
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

/* header_free - one field of split() */
static void
header_free(struct header *h)
{
	g_free(h->name);
	g_free(h->value);
	g_free(h);
}

/* split - the fields of data's header, *body where the body starts */
static GPtrArray *
split(const char *data, size_t len, size_t *body)
{
	GPtrArray *hs = g_ptr_array_new_with_free_func((GDestroyNotify) header_free);
	const char *p = data, *end = data + len;
	struct header *cur = NULL;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p), *e = nl ? nl + 1 : end;
		const char *colon;

		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) {
			p = e;
			break;
		}
		if ((*p == ' ' || *p == '\t') && cur) {
			char *more = g_strndup(p, e - p), *v = g_strconcat(cur->value, "\n", more, NULL);

			g_free(more);
			g_free(cur->value);
			cur->value = v;
		} else if ((colon = memchr(p, ':', e - p)) != NULL) {
			cur = g_new0(struct header, 1);
			cur->name = g_strndup(p, colon - p);
			cur->value = g_strndup(colon + 1, e - colon - 1);
			g_ptr_array_add(hs, cur);
		} else {
			break;
		}
		p = e;
	}
	*body = p - data;
	return hs;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
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
	GPtrArray *hs = split(text, len, &body);
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
