/*
 * edits - the edit list
 */
#include <string.h>

#include "edits.h"

static void
edit_free(gpointer p)
{
	struct edit *ed = p;

	g_free(ed->name);
	g_free(ed->value);
	g_free(ed);
}

void
edits_init(struct edits *e)
{
	memset(e, 0, sizeof(*e));
	e->list = g_ptr_array_new_with_free_func(edit_free);
}

void
edits_free(struct edits *e)
{
	if (e->list)
		g_ptr_array_free(e->list, TRUE);
	if (e->body)
		g_bytes_unref(e->body);
	memset(e, 0, sizeof(*e));
}

/* edits_safe_value - a copy whose line breaks are all folds (CRLF + WSP);
 * any other CR or LF becomes a space */
char *
edits_safe_value(const char *value)
{
	GString *out = g_string_sized_new(strlen(value));
	const char *p;

	for (p = value; *p; p++) {
		if (*p == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t')) {
			g_string_append(out, "\r\n");
			p++;
		} else if (*p == '\n' && (p[1] == ' ' || p[1] == '\t')) {
			g_string_append(out, "\r\n");
		} else if (*p == '\r' || *p == '\n') {
			g_string_append_c(out, ' ');
		} else {
			g_string_append_c(out, *p);
		}
	}
	return g_string_free(out, FALSE);
}

/* edits_header_name_ok - printable ASCII, no colon, not empty (RFC 5322) */
int
edits_header_name_ok(const char *name)
{
	const char *p;

	if (name == NULL || *name == 0)
		return 0;
	for (p = name; *p; p++)
		if (*p < 33 || *p > 126 || *p == ':')
			return 0;
	return 1;
}

/* edits_name_hash - a header name's hash, whatever its case (djb2 on the
 * lower-cased bytes, as g_str_hash on the lower-cased name) */
guint
edits_name_hash(gconstpointer name)
{
	const unsigned char *p;
	guint h = 5381;

	for (p = name; *p; p++)
		h = (h << 5) + h + g_ascii_tolower(*p);
	return h;
}

/* edits_name_equal - the same header name, whatever its case */
gboolean
edits_name_equal(gconstpointer a, gconstpointer b)
{
	return g_ascii_strcasecmp(a, b) == 0;
}

static struct edit *
edit_new(struct edits *e, enum edit_kind kind, const char *by)
{
	struct edit *ed = g_new0(struct edit, 1);

	ed->kind = kind;
	ed->by = by;
	g_ptr_array_add(e->list, ed);
	return ed;
}

void
edits_add_header(struct edits *e, const char *by, const char *name,
		 const char *value)
{
	struct edit *ed = edit_new(e, EDIT_ADD_HEADER, by);

	ed->name = g_strdup(name);
	ed->value = edits_safe_value(value);
}

void
edits_insert_header(struct edits *e, const char *by, int index,
		    const char *name, const char *value)
{
	struct edit *ed = edit_new(e, EDIT_INSERT_HEADER, by);

	ed->name = g_strdup(name);
	ed->value = edits_safe_value(value);
	ed->index = index;
}

void
edits_change_header(struct edits *e, const char *by, const char *name,
		    int index, const char *value)
{
	struct edit *ed = edit_new(e, EDIT_CHANGE_HEADER, by);

	ed->name = g_strdup(name);
	ed->value = value ? edits_safe_value(value) : NULL;
	ed->index = index;
}

/*
 * edits_first_header - the value the first field called name has once
 * the edits so far are applied, given its value in the message (original,
 * NULL when there is none): so that a handler changing a field an earlier
 * one changed (two Subject tags) builds on that change instead of undoing
 * it.  NULL when there is no such field.
 */
const char *
edits_first_header(const struct edits *e, const char *name, const char *original)
{
	const char *v = original;
	guint i;

	for (i = 0; i < e->list->len; i++) {
		const struct edit *ed = g_ptr_array_index(e->list, i);

		if (ed->kind > EDIT_CHANGE_HEADER || g_ascii_strcasecmp(ed->name, name))
			continue;
		if (ed->kind == EDIT_CHANGE_HEADER && ed->index == 1)
			v = ed->value;
		else if (ed->kind == EDIT_ADD_HEADER && v == NULL)
			v = ed->value;
		else if (ed->kind == EDIT_INSERT_HEADER && (v == NULL || ed->index == 0))
			v = ed->value;
	}
	return v;
}

void
edits_add_rcpt(struct edits *e, const char *by, const char *addr)
{
	edit_new(e, EDIT_ADD_RCPT, by)->name = g_strdup(addr);
}

void
edits_del_rcpt(struct edits *e, const char *by, const char *addr)
{
	edit_new(e, EDIT_DEL_RCPT, by)->name = g_strdup(addr);
}

void
edits_change_from(struct edits *e, const char *by, const char *addr)
{
	edit_new(e, EDIT_CHANGE_FROM, by)->name = g_strdup(addr);
}

/* edits_replace_body - the new body (takes a reference); last one wins */
void
edits_replace_body(struct edits *e, const char *by, GBytes *body)
{
	if (e->body)
		g_bytes_unref(e->body);
	e->body = g_bytes_ref(body);
	e->body_by = by;
}

/* edits_move - from's list at the end of to's, in order; from is left
 * empty (its body, if any, stays with it) */
void
edits_move(struct edits *to, struct edits *from)
{
	guint i;

	for (i = 0; i < from->list->len; i++)
		g_ptr_array_add(to->list, g_ptr_array_index(from->list, i));
	g_ptr_array_set_free_func(from->list, NULL);
	g_ptr_array_set_size(from->list, 0);
	g_ptr_array_set_free_func(from->list, edit_free);
}

unsigned
edits_count(const struct edits *e)
{
	return e->list->len + (e->body != NULL);
}
