/*
 * match - compiled pattern lists
 */
#include <string.h>
#include <glib.h>

#include "match.h"

enum pat_kind { PAT_ADDR, PAT_DOMAIN, PAT_SUBDOMAIN, PAT_NULL, PAT_REGEX, PAT_GLOB };

struct pattern {
	enum pat_kind kind;
	char *text;		/* lower-cased literal */
	GRegex *re;
	GPatternSpec *glob;
};

struct match_list {
	unsigned n;
	struct pattern p[];
};

/* match_regex_new - compile with a match limit; NULL and *why on error */
void *
match_regex_new(const char *pattern, char **why)
{
	char *limited = g_strdup_printf("(*LIMIT_MATCH=%d)%s", MATCH_LIMIT, pattern);
	GError *err = NULL;
	GRegex *re;

	re = g_regex_new(limited, G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, &err);
	g_free(limited);
	if (re == NULL) {
		*why = g_strdup_printf("bad regex /%s/: %s", pattern, err->message);
		g_error_free(err);
	}
	return re;
}

/* match_regex - 1 match, 0 none, -1 limit or other matching error */
int
match_regex(void *re, const char *subject)
{
	GError *err = NULL;
	gboolean hit;

	hit = g_regex_match_full(re, subject, -1, 0, 0, NULL, &err);
	if (err) {
		g_error_free(err);
		return -1;
	}
	return hit ? 1 : 0;
}

/* match_compile - one list; NULL and *why (caller frees) on a bad entry */
struct match_list *
match_compile(enum match_kind kind, char *const *entries, char **why)
{
	unsigned n = entries ? g_strv_length((char **) entries) : 0, i;
	struct match_list *l = g_malloc0(sizeof(*l) + n * sizeof(struct pattern));

	for (i = 0; i < n; i++) {
		const char *e = entries[i];
		struct pattern *p = &l->p[i];
		size_t len = strlen(e);

		l->n = i + 1;
		if (len >= 2 && e[0] == '/' && e[len - 1] == '/') {
			char *body = g_strndup(e + 1, len - 2);

			p->kind = PAT_REGEX;
			p->re = match_regex_new(body, why);
			g_free(body);
			if (p->re == NULL)
				goto fail;
		} else if (kind == MATCH_NAME) {
			p->kind = PAT_GLOB;
			p->text = g_ascii_strdown(e, -1);
			p->glob = g_pattern_spec_new(p->text);
		} else if (!strcmp(e, "<>")) {
			p->kind = PAT_NULL;
		} else if (e[0] == '@' && e[1] == '.' && e[2]) {
			p->kind = PAT_SUBDOMAIN;
			p->text = g_ascii_strdown(e + 1, -1);
		} else if (e[0] == '@' && e[1]) {
			p->kind = PAT_DOMAIN;
			p->text = g_ascii_strdown(e + 1, -1);
		} else if (strchr(e, '@') && e[len - 1] != '@') {
			p->kind = PAT_ADDR;
			p->text = g_ascii_strdown(e, -1);
		} else {
			*why = g_strdup_printf("\"%s\" is not an address, @domain, @.domain, <> or /regex/", e);
			goto fail;
		}
	}
	return l;
fail:
	match_free(l);
	return NULL;
}

void
match_free(struct match_list *l)
{
	unsigned i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		g_free(l->p[i].text);
		if (l->p[i].re)
			g_regex_unref(l->p[i].re);
		if (l->p[i].glob)
			g_pattern_spec_free(l->p[i].glob);
	}
	g_free(l);
}

/* match_test - does subject match any entry */
int
match_test(const struct match_list *l, const char *subject)
{
	char *low;
	const char *at, *dom;
	unsigned i;
	int hit = 0;

	if (l == NULL || l->n == 0)
		return 0;
	low = g_ascii_strdown(subject, -1);
	at = strrchr(low, '@');
	dom = at ? at + 1 : "";
	for (i = 0; i < l->n && hit == 0; i++) {
		const struct pattern *p = &l->p[i];
		size_t dl = strlen(dom), pl;

		switch (p->kind) {
		case PAT_ADDR:
			hit = !strcmp(low, p->text);
			break;
		case PAT_DOMAIN:
			hit = at && !strcmp(dom, p->text);
			break;
		case PAT_SUBDOMAIN:
			pl = strlen(p->text);	/* ".example.com" */
			hit = at && dl > pl && !strcmp(dom + dl - pl, p->text);
			break;
		case PAT_NULL:
			hit = *low == 0;
			break;
		case PAT_GLOB:
			hit = g_pattern_spec_match_string(p->glob, low);
			break;
		case PAT_REGEX:
			hit = match_regex(p->re, subject);
			break;
		}
	}
	g_free(low);
	return hit;
}
