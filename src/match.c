/*
 * match - compiled pattern lists
 */
#include <string.h>
#include <glib.h>

#include "match.h"
#include "rx.h"

enum pat_kind { PAT_ADDR, PAT_DOMAIN, PAT_SUBDOMAIN, PAT_NULL, PAT_REGEX, PAT_GLOB };

struct pattern {
	enum pat_kind kind;
	char *text;		/* lower-cased literal */
	struct rx *re;
	GPatternSpec *glob;
};

struct match_list {
	unsigned n;
	struct pattern p[];
};

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
			char *body = g_strndup(e + 1, len - 2), *bad = NULL;

			p->kind = PAT_REGEX;
			p->re = rx_new(body, 1, &bad);
			if (p->re == NULL)
				*why = g_strdup_printf("bad regex /%s/: %s", body, bad);
			g_free(body);
			g_free(bad);
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
		rx_free(l->p[i].re);
		if (l->p[i].glob)
			g_pattern_spec_free(l->p[i].glob);
	}
	g_free(l);
}

/* match_test - does subject match any entry; a regex sees it as valid
 * UTF-8 (a byte that is not is U+FFFD) */
int
match_test(const struct match_list *l, const char *subject, struct rx_budget *b)
{
	struct rx_budget own;
	char *low, *valid = NULL;
	const char *at, *dom;
	size_t start, end;
	unsigned i;
	int hit = 0;

	if (l == NULL || l->n == 0)
		return 0;
	if (b == NULL) {
		rx_budget_init(&own, g_ascii_strtoull(RX_BUDGET_DEFAULT, NULL, 10));
		b = &own;
	}
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
			if (valid == NULL)
				valid = g_utf8_make_valid(subject, -1);
			hit = rx_find(p->re, valid, strlen(valid), 0, b, &start, &end);
			break;
		}
	}
	g_free(low);
	g_free(valid);
	return hit;
}
