/*
 * template - variable expansion
 */
#include <string.h>
#include <glib.h>

#include "template.h"

/* tmpl_check - every ${name} is known and closed */
int
tmpl_check(const char *tmpl, const char *const *known, char **why)
{
	const char *p = tmpl, *end;
	unsigned i;

	while ((p = strstr(p, "${")) != NULL) {
		end = strchr(p, '}');
		if (end == NULL) {
			*why = g_strdup("unterminated ${");
			return -1;
		}
		for (i = 0; known[i]; i++)
			if (strlen(known[i]) == (size_t) (end - p - 2)
			    && !strncmp(p + 2, known[i], end - p - 2))
				break;
		if (known[i] == NULL) {
			char *all = g_strjoinv(", ", (char **) known);

			*why = g_strdup_printf("unknown variable ${%.*s} (known: %s)",
					       (int) (end - p - 2), p + 2, all);
			g_free(all);
			return -1;
		}
		p = end + 1;
	}
	return 0;
}

/* tmpl_expand - a new string with the variables replaced */
char *
tmpl_expand(const char *tmpl, tmpl_lookup lookup, void *ctx)
{
	GString *out = g_string_new(NULL);
	const char *p = tmpl, *v, *end;

	while (*p) {
		if (p[0] == '$' && p[1] == '{' && (end = strchr(p, '}')) != NULL) {
			char *name = g_strndup(p + 2, end - p - 2);

			v = lookup(name, ctx);
			g_string_append(out, v ? v : "unknown");
			g_free(name);
			p = end + 1;
		} else {
			g_string_append_c(out, *p++);
		}
	}
	return g_string_free(out, FALSE);
}
