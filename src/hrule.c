/*
 * hrule - "Name: template" header-field rules (see hrule.h)
 */
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "edits.h"
#include "hrule.h"
#include "message.h"
#include "template.h"

static void
hrule_free(gpointer p)
{
	struct hrule *r = p;

	g_free(r->name);
	g_free(r->tmpl);
	g_free(r);
}

GPtrArray *
hrule_load(const struct conf_group *g, const char *key, struct conf_errors *e)
{
	char *const *l = conf_list(g, key);
	GPtrArray *out = g_ptr_array_new_with_free_func(hrule_free);
	unsigned i;

	for (i = 0; l && l[i]; i++) {
		const char *colon = strchr(l[i], ':');
		struct hrule *r;
		char *why = NULL;

		if (colon == NULL) {
			conf_key_error(e, g, key, "\"%s\": write Name: value", l[i]);
			continue;
		}
		r = g_new0(struct hrule, 1);
		r->name = g_strstrip(g_strndup(l[i], colon - l[i]));
		r->tmpl = g_strstrip(g_strdup(colon + 1));
		g_ptr_array_add(out, r);
		if (!edits_header_name_ok(r->name))
			conf_key_error(e, g, key, "\"%s\": bad header name", r->name);
		if (tmpl_check(r->tmpl, msg_variables, &why) < 0) {
			conf_key_error(e, g, key, "%s: %s", r->name, why);
			g_free(why);
		}
	}
	return out;
}

/* hrule_encode - text for a header value: as it is when 7-bit, else
 * RFC 2047 encoded words (UTF-8) */
char *
hrule_encode(const char *utf8)
{
	if (g_str_is_ascii(utf8))
		return g_strdup(utf8);
	return g_mime_utils_header_encode_text(NULL, utf8, "utf-8");
}

char *
hrule_value(const struct hrule *r, struct msg *m)
{
	char *v = tmpl_expand(r->tmpl, msg_variable, m), *enc;

	if (!g_utf8_validate(v, -1, NULL)) {
		char *valid = g_utf8_make_valid(v, -1);

		g_free(v);
		v = valid;
	}
	enc = hrule_encode(v);
	g_free(v);
	return enc;
}
