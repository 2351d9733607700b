/*
 * attachhash - a native sink: one header field per attachment with the
 * SHA-256 of its decoded content, for a forensic trail
 *
 * For each attachment of a message (a part with a file name or
 * disposition attachment, at any depth), attachhash adds
 *
 *	X-Attachment-SHA256: <64 hex digits> <file name>
 *
 * the digest being that of the content with its transfer encoding undone
 * (the bytes a reader saves), the file name as sinkd resolves it, with
 * bytes outside printable ASCII, blanks and '%' written as %XX ("-": no
 * name).  It changes nothing else.  See sinkd-sinks(7).
 *
 * Built against the installed header alone, as any third-party sink:
 *
 *	cc -shared -fPIC -O2 -I/usr/include -o attachhash.so attachhash.c -lcrypto
 *
 * (-I the PREFIX/include that make install filled), then
 *
 *	[sink:attachhash]
 *	module = /usr/lib/sinkd/sinks/attachhash.so
 *
 * Keys: header (the field's name) and max-parts (attachments hashed per
 * message; past it, one more field says how many were left out).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <sinkd/sink.h>

static const struct sinkd_key ah_keys[] = {
	{"header", SINKD_KEY_STRING, "X-Attachment-SHA256",
	 "the header field added per attachment", SINKD_MERGE_AGREE},
	{"max-parts", SINKD_KEY_INT, "100",
	 "attachments hashed per message; the rest are counted", SINKD_MERGE_MIN},
	{NULL, 0, NULL, NULL, 0},
};

struct ah_state {
	const struct sinkd_api *api;
};

/* ah_init - keep the function table */
static int
ah_init(const struct sinkd_api *api, struct sinkd_ctx *config, void **state)
{
	struct ah_state *s;
	const char *h = api->config(config, "header");

	if (h == NULL || *h == '\0' || strpbrk(h, ": \t\r\n") != NULL) {
		api->log(config, SINKD_LOG_ERROR, "header: not a header field name");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		api->log(config, SINKD_LOG_ERROR, "out of memory");
		return -1;
	}
	s->api = api;
	*state = s;
	return 0;
}

/* ah_shutdown - free the state */
static void
ah_shutdown(void *state)
{
	free(state);
}

/* ah_name - the file name as the field shows it, in out (size n) */
static void
ah_name(const char *name, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t o = 0;

	if (name == NULL || *name == '\0') {
		snprintf(out, n, "-");
		return;
	}
	for (p = (const unsigned char *) name; *p && o + 4 < n; p++) {
		if (*p > ' ' && *p < 0x7f && *p != '%') {
			out[o++] = (char) *p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
}

/* ah_digest - the SHA-256 of data as hex in out (65 bytes); -1 on failure */
static int
ah_digest(const void *data, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * mdlen] = '\0';
	return 0;
}

/* ah_eom - one field per attachment */
static enum sinkd_verdict
ah_eom(void *state, struct sinkd_ctx *c)
{
	const struct sinkd_api *api = ((struct ah_state *) state)->api;
	const char *header = api->config(c, "header");
	const char *maxs = api->config(c, "max-parts");
	long max = maxs ? strtol(maxs, NULL, 10) : 100;
	struct sinkd_part_info pi;
	const char *data;
	size_t len;
	char hexd[65], name[1024], value[1200];
	unsigned i;
	long done = 0, left = 0;

	for (i = 0; api->part_info(c, i, &pi) == 0; i++) {
		if (!(pi.flags & SINKD_PART_ATTACHMENT)
		    || (pi.flags & (SINKD_PART_MULTIPART | SINKD_PART_MESSAGE)))
			continue;
		if (done >= max) {
			left++;
			continue;
		}
		if (api->part_content(c, i, 0, 0, &data, &len) < 0)
			continue;
		if (ah_digest(data, len, hexd) < 0) {
			api->log(c, SINKD_LOG_ERROR, "SHA-256 failed");
			return SINKD_ERROR;
		}
		ah_name(pi.filename, name, sizeof(name));
		snprintf(value, sizeof(value), "%s %s", hexd, name);
		if (api->header_add(c, header, value) < 0)
			return SINKD_ERROR;
		done++;
	}
	if (left > 0) {
		snprintf(value, sizeof(value), "%ld more attachments not hashed", left);
		if (api->header_add(c, header, value) < 0)
			return SINKD_ERROR;
	}
	if (done > 0) {
		snprintf(value, sizeof(value), "%ld", done);
		api->note(c, "hashed", value);
	}
	return SINKD_CONTINUE;
}

static const struct sinkd_sink ah_sink = {
	.abi_major = SINKD_SINK_ABI_MAJOR,
	.abi_minor = SINKD_SINK_ABI_MINOR,
	.name = "attachhash",
	.keys = ah_keys,
	.init = ah_init,
	.shutdown = ah_shutdown,
	.eom = ah_eom,
};

/* sinkd_sink_entry - the module's entry point */
const struct sinkd_sink *
sinkd_sink_entry(void)
{
	return &ah_sink;
}
