/*
 * reply - parse and copy SMTP replies
 */
#include <ctype.h>
#include <string.h>
#include <glib.h>

#include "reply.h"

/* xcode_ok - "C.SSS.DDD" with C matching the reply's first digit */
static int
xcode_ok(const char *x, char cls)
{
	const char *p;
	int digits = 0, dots = 0;

	if (x[0] != cls || x[1] != '.')
		return 0;
	for (p = x + 2; *p; p++) {
		if (*p == '.') {
			if (digits == 0 || digits > 3)
				return 0;
			dots++;
			digits = 0;
		} else if (isdigit((unsigned char) *p)) {
			digits++;
		} else {
			return 0;
		}
	}
	return dots == 1 && digits >= 1 && digits <= 3;
}

/* reply_parse - parse "550 5.7.1 text"; on error *why says what is wrong */
int
reply_parse(struct reply *r, const char *spec, const char **why)
{
	const char *p = spec, *x, *t;
	size_t xlen;
	unsigned lines = 1;

	memset(r, 0, sizeof(*r));
	while (*p == ' ')
		p++;
	if (!(p[0] == '4' || p[0] == '5') || !isdigit((unsigned char) p[1])
	    || !isdigit((unsigned char) p[2]) || p[3] != ' ') {
		*why = "must start with a 4xx or 5xx reply code, as in \"550 5.7.1 text\"";
		return -1;
	}
	x = p + 4;
	while (*x == ' ')
		x++;
	t = strchr(x, ' ');
	xlen = t ? (size_t) (t - x) : strlen(x);
	if (xlen >= sizeof(r->xcode)) {
		*why = "enhanced status code too long";
		return -1;
	}
	memcpy(r->xcode, x, xlen);
	r->xcode[xlen] = 0;
	if (!xcode_ok(r->xcode, p[0])) {
		*why = "needs an enhanced status code of the same class after the reply code, as in \"550 5.7.1 text\"";
		return -1;
	}
	memcpy(r->code, p, 3);
	r->code[3] = 0;
	t = t ? t + 1 : "";
	while (*t == ' ')
		t++;
	if (*t == 0) {
		*why = "needs a text after the enhanced status code";
		return -1;
	}
	for (p = t; *p; p++) {
		if (*p == '\r' || (*p == '\n' && (p[1] == 0 || p[1] == '\n'))) {
			*why = "has a carriage return or an empty line in its text";
			return -1;
		}
		if (*p == '\n')
			lines++;
		if ((unsigned char) *p < 0x20 && *p != '\n' && *p != '\t') {
			*why = "has a control character in its text";
			return -1;
		}
	}
	if (lines > REPLY_MAX_LINES) {
		*why = "has more than 32 lines";
		return -1;
	}
	r->text = g_strdup(t);
	return 0;
}

/* reply_set - fill a reply from its parts (text copied, CR/LF removed) */
void
reply_set(struct reply *dst, const char *code, const char *xcode,
	  const char *text)
{
	char *p;

	reply_clear(dst);
	g_strlcpy(dst->code, code, sizeof(dst->code));
	g_strlcpy(dst->xcode, xcode, sizeof(dst->xcode));
	dst->text = g_strdup(text);
	for (p = dst->text; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
}

/* reply_copy - deep copy */
void
reply_copy(struct reply *dst, const struct reply *src)
{
	reply_clear(dst);
	memcpy(dst->code, src->code, sizeof(dst->code));
	memcpy(dst->xcode, src->xcode, sizeof(dst->xcode));
	dst->text = g_strdup(src->text);
}

/* reply_clear - release the text */
void
reply_clear(struct reply *r)
{
	g_free(r->text);
	memset(r, 0, sizeof(*r));
}

/* reply_is_temp - a 4xx reply */
int
reply_is_temp(const struct reply *r)
{
	return r->code[0] == '4';
}
