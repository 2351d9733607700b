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

/*
 * edits_change_header - the index-th field called name (1-based, among
 * the fields of that name the message came with) gets value; NULL
 * deletes it.  The MTA counts the fields as they are when it applies the
 * edit, so each field an earlier edit deleted before this one moves it
 * up; an edit of a field an earlier edit deleted is dropped, since the
 * index would hit another field.  Fields added (appended) come after
 * every received one and move none; an insert (no handler makes one)
 * is not counted.  1 when the edit is listed, 0 when it was dropped.
 */
int
edits_change_header(struct edits *e, const char *by, const char *name,
		    int index, const char *value)
{
	struct edit *ed;
	int now = index;
	guint i;

	for (i = 0; i < e->list->len; i++) {
		const struct edit *x = g_ptr_array_index(e->list, i);

		if (x->kind != EDIT_CHANGE_HEADER || x->value != NULL
		    || g_ascii_strcasecmp(x->name, name))
			continue;
		if (x->received == index)
			return 0;
		if (x->received < index)
			now--;
	}
	ed = edit_new(e, EDIT_CHANGE_HEADER, by);
	ed->name = g_strdup(name);
	ed->value = value ? edits_safe_value(value) : NULL;
	ed->index = now;
	ed->received = index;
	return 1;
}

/* edits_header_edit - the last edit of the index-th field called name
 * as received, or NULL when none changed it */
const struct edit *
edits_header_edit(const struct edits *e, const char *name, int index)
{
	const struct edit *last = NULL;
	guint i;

	for (i = 0; i < e->list->len; i++) {
		const struct edit *x = g_ptr_array_index(e->list, i);

		if (x->kind == EDIT_CHANGE_HEADER && x->received == index
		    && !g_ascii_strcasecmp(x->name, name))
			last = x;
	}
	return last;
}

/*
 * edits_apply_headers - the header edits among the first n of the list
 * applied to fields, "name:value" strings (g_free), as the MTA applies
 * them: a change of a field that is not there adds it, a deletion of
 * one does nothing.  For sinkd -t, and for a copy of the message that a
 * body change puts inside the new one.
 */
void
edits_apply_headers(const struct edits *e, guint n, GPtrArray *fields)
{
	guint i, j;

	for (i = 0; i < n && i < e->list->len; i++) {
		const struct edit *ed = g_ptr_array_index(e->list, i);
		size_t nl = ed->name ? strlen(ed->name) : 0;
		int seen = 0;

		switch (ed->kind) {
		case EDIT_ADD_HEADER:
			g_ptr_array_add(fields, g_strdup_printf("%s: %s", ed->name, ed->value));
			break;
		case EDIT_INSERT_HEADER:
			g_ptr_array_insert(fields, MIN((guint) ed->index, fields->len),
					   g_strdup_printf("%s: %s", ed->name, ed->value));
			break;
		case EDIT_CHANGE_HEADER:
			for (j = 0; j < fields->len; j++) {
				char *l = g_ptr_array_index(fields, j);

				if (g_ascii_strncasecmp(l, ed->name, nl) || l[nl] != ':'
				    || ++seen != ed->index)
					continue;
				if (ed->value) {
					g_ptr_array_index(fields, j) =
						g_strdup_printf("%s: %s", ed->name, ed->value);
					g_free(l);
				} else {
					g_free(g_ptr_array_steal_index(fields, j));
				}
				break;
			}
			if (ed->value && j == fields->len)
				g_ptr_array_add(fields, g_strdup_printf("%s: %s", ed->name, ed->value));
			break;
		default:
			break;
		}
	}
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

unsigned
edits_count(const struct edits *e)
{
	return e->list->len + (e->body != NULL);
}
