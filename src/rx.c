/*
 * rx - regular expressions that spend from a budget (see rx.h)
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <string.h>
#include <glib.h>
#include <pcre2.h>

#include "rx.h"

struct rx {
	pcre2_code *code;
};

/* What a replacement is made of, in order. */
enum piece_kind {
	PIECE_TEXT,		/* text: literal text (or an escaped character) */
	PIECE_GROUP,		/* num: a numbered group's text */
	PIECE_NAMED,		/* text: a named group's text */
	PIECE_CASE,		/* change: \l \u \L \U or \E from here on */
};

enum change {
	CHANGE_NONE,
	CHANGE_UPPER,		/* \U: every character until \E */
	CHANGE_LOWER,		/* \L */
	CHANGE_UPPER_ONE,	/* \u: the next character */
	CHANGE_LOWER_ONE,	/* \l */
};

struct piece {
	enum piece_kind kind;
	char *text;
	int num;
	enum change change;
};

struct rx_subst {
	GArray *pieces;		/* struct piece */
	int escapes;		/* \x or octal: the result may not be UTF-8 */
};

/* rx_budget_init - steps for everything b will be given to */
void
rx_budget_init(struct rx_budget *b, guint64 steps)
{
	memset(b, 0, sizeof(*b));
	b->left = steps;
}

/* rx_new - compile as GRegex does, with a callout before every item */
struct rx *
rx_new(const char *pattern, int caseless, char **why)
{
	GError *err = NULL;
	GRegex *g;
	pcre2_compile_context *cc;
	pcre2_code *code;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	struct rx *re;
	int ec;

	*why = NULL;
	if (!g_utf8_validate(pattern, -1, NULL)) {
		*why = g_strdup("not UTF-8");
		return NULL;
	}
	/* GLib first, so that a bad pattern is explained in its words, as it
	 * always was */
	g = g_regex_new(pattern, caseless ? G_REGEX_CASELESS : 0, 0, &err);
	if (g == NULL) {
		*why = g_strdup(err->message);
		g_error_free(err);
		return NULL;
	}
	g_regex_unref(g);
	cc = pcre2_compile_context_create(NULL);
	pcre2_set_newline(cc, PCRE2_NEWLINE_ANY);
	pcre2_set_bsr(cc, PCRE2_BSR_UNICODE);
	code = pcre2_compile((PCRE2_SPTR) pattern, PCRE2_ZERO_TERMINATED,
			     PCRE2_UTF | PCRE2_UCP | PCRE2_AUTO_CALLOUT
			     | (caseless ? PCRE2_CASELESS : 0), &ec, &off, cc);
	pcre2_compile_context_free(cc);
	if (code == NULL) {
		pcre2_get_error_message(ec, msg, sizeof(msg));
		*why = g_strdup_printf("%s at char %zu", (char *) msg, (size_t) off);
		return NULL;
	}
	/* the JIT counts the same steps, faster; without it (no executable
	 * memory), the interpreter */
	pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	re = g_new0(struct rx, 1);
	re->code = code;
	return re;
}

void
rx_free(struct rx *re)
{
	if (re == NULL)
		return;
	pcre2_code_free(re->code);
	g_free(re);
}

/* A search in progress: its match data and its context. */
struct run {
	pcre2_match_data *md;
	pcre2_match_context *mc;
	struct rx_budget own;	/* when the caller gave none */
	struct rx_budget *b;
	int groups;		/* of the last match: the highest set, + 1 */
	size_t at;		/* where the last callout saw the match */
};

/*
 * step - the callout before each pattern item: one step, and one more
 * for each character the match moved across since the last callout.
 * Items alone would miss a repeat that crosses a long run and then fails
 * without going back (possessive, or made so by PCRE2), at every
 * position: the characters crossed are what that costs.  With both, a
 * step is a few nanoseconds of work at most.
 */
static int
step(pcre2_callout_block *cb, void *data)
{
	struct run *r = data;
	struct rx_budget *b = r->b;
	size_t p = cb->current_position;
	guint64 cost = 1 + (p > r->at ? p - r->at : r->at - p);

	r->at = p;
	if (cost > b->left) {
		b->used += b->left;
		b->left = 0;
		b->spent = 1;
		return PCRE2_ERROR_CALLOUT;
	}
	b->left -= cost;
	b->used += cost;
	return 0;
}

static void
run_init(struct run *r, const struct rx *re, struct rx_budget *b)
{
	if (b == NULL) {
		rx_budget_init(&r->own, g_ascii_strtoull(RX_BUDGET_DEFAULT, NULL, 10));
		b = &r->own;
	}
	r->b = b;
	r->md = pcre2_match_data_create_from_pattern(re->code, NULL);
	r->mc = pcre2_match_context_create(NULL);
	pcre2_set_callout(r->mc, step, r);
	pcre2_set_match_limit(r->mc, RX_MATCH_LIMIT);
}

static void
run_free(struct run *r)
{
	pcre2_match_data_free(r->md);
	pcre2_match_context_free(r->mc);
}

/* run_match - one search from from: 1 (a match, groups in r->md), 0 or -1 */
static int
run_match(struct run *r, const struct rx *re, const char *s, size_t len, size_t from)
{
	int rc;

	r->at = from;
	rc = pcre2_match(re->code, (PCRE2_SPTR) s, len, from, PCRE2_NO_UTF_CHECK,
			 r->md, r->mc);

	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		if (!r->b->spent)
			r->b->limit = 1;
		return -1;
	}
	r->groups = rc;
	return 1;
}

int
rx_find(const struct rx *re, const char *s, size_t len, size_t from,
	struct rx_budget *b, size_t *start, size_t *end)
{
	struct run r;
	int rc;

	if (from > len)
		return 0;
	run_init(&r, re, b);
	rc = run_match(&r, re, s, len, from);
	if (rc > 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r.md);

		*start = ov[0];
		*end = ov[1];
	}
	run_free(&r);
	return rc;
}

static void
piece_clear(gpointer p)
{
	g_free(((struct piece *) p)->text);
}

/* add_text - a piece of literal text (n bytes) */
static void
add_text(struct rx_subst *t, const char *s, size_t n)
{
	struct piece p = {PIECE_TEXT, g_strndup(s, n), 0, CHANGE_NONE};

	g_array_append_val(t->pieces, p);
}

/* add_char - a character given by its code, as UTF-8 */
static void
add_char(struct rx_subst *t, gunichar c)
{
	char buf[8] = {0};

	/* the character 0 is nothing, as for GLib */
	if (c != 0)
		add_text(t, buf, g_unichar_to_utf8(c, buf));
	t->escapes = 1;
}

/* escape - the escape after a backslash at p; where it ends */
static const char *
escape(struct rx_subst *t, const char *p)
{
	static const char simple[] = "t\tn\nv\vr\rf\fa\ab\b\\\\";
	struct piece x = {PIECE_CASE, NULL, 0, CHANGE_NONE};
	const char *q, *k;
	gunichar c = 0;
	int i, oct = 0, dec = 0, base = 0;

	for (k = simple; *k; k += 2)
		if (*p == k[0]) {
			add_text(t, k + 1, 1);
			return p + 1;
		}
	switch (*p) {
	case 'x':
		p++;
		if (*p == '{') {
			for (p++; g_ascii_isxdigit(*p); p++)
				c = c * 16 + g_ascii_xdigit_value(*p);
			p += *p == '}';
		} else {
			for (i = 0; i < 2 && g_ascii_isxdigit(*p); i++, p++)
				c = c * 16 + g_ascii_xdigit_value(*p);
		}
		add_char(t, c);
		return p;
	case 'l':
	case 'u':
	case 'L':
	case 'U':
	case 'E':
		x.change = *p == 'l' ? CHANGE_LOWER_ONE : *p == 'u' ? CHANGE_UPPER_ONE
			: *p == 'L' ? CHANGE_LOWER : *p == 'U' ? CHANGE_UPPER : CHANGE_NONE;
		g_array_append_val(t->pieces, x);
		return p + 1;
	case 'g':
		/* \g<number> or \g<name> (g_regex_check_replacement saw it) */
		q = p + 2;
		if ((p = strchr(q, '>')) == NULL)
			return q + strlen(q);
		if (g_ascii_isdigit(*q)) {
			x.kind = PIECE_GROUP;
			for (; q < p; q++)
				x.num = x.num * 10 + g_ascii_digit_value(*q);
		} else {
			x.kind = PIECE_NAMED;
			x.text = g_strndup(q, p - q);
		}
		g_array_append_val(t->pieces, x);
		return p + 1;
	default:
		break;
	}
	if (!g_ascii_isdigit(*p)) {
		add_text(t, p - 1, 1);	/* not reached: checked before */
		return p;
	}
	/* \0 and a digit: an octal character; else up to three digits, octal
	 * when they are three octal ones, else a group's number (two digits
	 * at most) */
	if (*p == '0' && g_ascii_isdigit(p[1])) {
		base = 8;
		p++;
	}
	for (i = 0; i < 3 && g_ascii_isdigit(*p); i++, p++) {
		int h = g_ascii_digit_value(*p);

		if (h > 7) {
			if (base == 8)
				break;
			base = 10;
		}
		if (i == 2 && base == 10)
			break;
		oct = oct * 8 + h;
		dec = dec * 10 + h;
	}
	if (base == 8 || i == 3) {
		add_char(t, oct);
	} else {
		x.kind = PIECE_GROUP;
		x.num = dec;
		g_array_append_val(t->pieces, x);
	}
	return p;
}

struct rx_subst *
rx_subst_new(const char *text, char **why)
{
	GError *err = NULL;
	struct rx_subst *t;
	const char *p, *run;

	*why = NULL;
	if (!g_regex_check_replacement(text, NULL, &err)) {
		*why = g_strdup(err->message);
		g_error_free(err);
		return NULL;
	}
	t = g_new0(struct rx_subst, 1);
	t->pieces = g_array_new(FALSE, FALSE, sizeof(struct piece));
	g_array_set_clear_func(t->pieces, piece_clear);
	for (p = run = text; *p;) {
		if (*p != '\\') {
			p++;
			continue;
		}
		if (p > run)
			add_text(t, run, p - run);
		p = run = escape(t, p + 1);
	}
	if (p > run)
		add_text(t, run, p - run);
	return t;
}

void
rx_subst_free(struct rx_subst *t)
{
	if (t == NULL)
		return;
	g_array_unref(t->pieces);
	g_free(t);
}

/* put - n bytes of text to out, their case changed by *c */
static void
put(GString *out, const char *s, size_t n, enum change *c)
{
	const char *end = s + n;

	if (n == 0)
		return;
	if (*c == CHANGE_NONE) {
		g_string_append_len(out, s, n);
		return;
	}
	for (; s < end; s = g_utf8_next_char(s)) {
		gunichar u = g_utf8_get_char(s);

		g_string_append_unichar(out, *c == CHANGE_LOWER || *c == CHANGE_LOWER_ONE
					? g_unichar_tolower(u) : g_unichar_toupper(u));
		if (*c == CHANGE_UPPER_ONE || *c == CHANGE_LOWER_ONE) {
			*c = CHANGE_NONE;
			g_string_append_len(out, g_utf8_next_char(s), end - g_utf8_next_char(s));
			return;
		}
	}
}

/* interpolate - the replacement for the match in r->md */
static void
interpolate(GString *out, const struct rx_subst *t, const struct rx *re,
	    struct run *r, const char *s)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
	enum change c = CHANGE_NONE;
	guint i;

	for (i = 0; i < t->pieces->len; i++) {
		const struct piece *p = &g_array_index(t->pieces, struct piece, i);
		int n = p->num;

		switch (p->kind) {
		case PIECE_TEXT:
			put(out, p->text, strlen(p->text), &c);
			break;
		case PIECE_CASE:
			c = p->change;
			break;
		case PIECE_NAMED:
			n = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR) p->text);
			if (n == PCRE2_ERROR_NOUNIQUESUBSTRING) {
				PCRE2_UCHAR *v;
				PCRE2_SIZE vl;

				/* a duplicate name: the first of its groups set */
				if (pcre2_substring_get_byname(r->md, (PCRE2_SPTR) p->text,
							       &v, &vl) == 0) {
					put(out, (char *) v, vl, &c);
					pcre2_substring_free(v);
				}
				break;
			}
			G_GNUC_FALLTHROUGH;
		case PIECE_GROUP:
			if (n >= 0 && n < r->groups && ov[2 * n] != PCRE2_UNSET)
				put(out, s + ov[2 * n], ov[2 * n + 1] - ov[2 * n], &c);
			break;
		}
	}
}

/*
 * rx_replace - as g_regex_replace_eval() walks a text: after a match
 * the search goes on where it ended, or one character further when it
 * was empty and where the search began; a match found twice (an empty
 * one) is replaced once.
 */
int
rx_replace(const struct rx *re, const struct rx_subst *t, const char *s,
	   size_t len, struct rx_budget *b, char **out)
{
	size_t pos = 0, done = 0, prev_s = (size_t) -1, prev_e = (size_t) -1;
	GString *o = NULL;
	struct run r;
	int rc = 0;

	*out = NULL;
	run_init(&r, re, b);
	while (pos <= len) {
		PCRE2_SIZE *ov;
		size_t ms, me;

		if ((rc = run_match(&r, re, s, len, pos)) <= 0)
			break;
		ov = pcre2_get_ovector_pointer(r.md);
		ms = ov[0];
		me = ov[1];
		if (pos == me)
			pos = me >= len ? len + 1 : (size_t) (g_utf8_next_char(s + me) - s);
		else
			pos = me;
		if (ms == prev_s && me == prev_e)
			continue;
		prev_s = ms;
		prev_e = me;
		if (o == NULL)
			o = g_string_sized_new(len + 64);
		g_string_append_len(o, s + done, ms - done);
		interpolate(o, t, re, &r, s);
		done = me;
	}
	run_free(&r);
	if (rc < 0 || o == NULL) {
		if (o)
			g_string_free(o, TRUE);
		return rc < 0 ? -1 : 0;
	}
	g_string_append_len(o, s + done, len - done);
	if (t->escapes && !g_utf8_validate(o->str, o->len, NULL)) {
		g_string_free(o, TRUE);
		return -1;
	}
	*out = g_string_free(o, FALSE);
	return 1;
}
