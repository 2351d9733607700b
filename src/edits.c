/*
 * edits - the edit list
 */
#include <string.h>

#include "edits.h"

static void
edit_free(gpointer p)
{
	struct edit *ed = p;

	if (ed == NULL)
		return;
	g_free(ed->name);
	g_free(ed->value);
	g_free(ed);
}

void
edits_init(struct edits *e)
{
	memset(e, 0, sizeof(*e));
	e->list = g_ptr_array_new_with_free_func(edit_free);
	e->changed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	e->deleted = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   (GDestroyNotify) g_sequence_free);
}

void
edits_free(struct edits *e)
{
	if (e->list)
		g_ptr_array_free(e->list, TRUE);
	if (e->body)
		g_bytes_unref(e->body);
	if (e->changed)
		g_hash_table_destroy(e->changed);
	if (e->deleted)
		g_hash_table_destroy(e->deleted);
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

/* edits_header_name_ok - printable ASCII, no colon, not empty (RFC 5322),
 * and short enough that "NAME: " fits on a line of 998 characters (a
 * name cannot be folded) */
int
edits_header_name_ok(const char *name)
{
	const char *p;

	if (name == NULL || *name == 0)
		return 0;
	for (p = name; *p; p++)
		if (*p < 33 || *p > 126 || *p == ':' || p - name >= EDITS_NAME_MAX)
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
/* field_key - the key of the index-th field called name in e->changed */
static char *
field_key(const char *name, int index)
{
	char *low = g_ascii_strdown(name, -1), *k = g_strdup_printf("%d %s", index, low);

	g_free(low);
	return k;
}

static gint
int_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
	(void) unused;
	return GPOINTER_TO_INT(a) - GPOINTER_TO_INT(b);
}

int
edits_change_header(struct edits *e, const char *by, const char *name,
		    int index, const char *value)
{
	char *key = field_key(name, index), *low;
	const struct edit *last = g_hash_table_lookup(e->changed, key);
	struct edit *ed;
	GSequence *del;
	int now;

	if (last && last->value == NULL) {	/* deleted already */
		g_free(key);
		return 0;
	}
	low = g_ascii_strdown(name, -1);
	if ((del = g_hash_table_lookup(e->deleted, low)) == NULL) {
		del = g_sequence_new(NULL);
		g_hash_table_insert(e->deleted, g_strdup(low), del);
	}
	/* each deleted field before this one moves it up */
	now = index - g_sequence_iter_get_position(
		g_sequence_search(del, GINT_TO_POINTER(index), int_cmp, NULL));
	if (value == NULL)
		g_sequence_insert_sorted(del, GINT_TO_POINTER(index), int_cmp, NULL);
	g_free(low);
	ed = edit_new(e, EDIT_CHANGE_HEADER, by);
	ed->name = g_strdup(name);
	ed->value = value ? edits_safe_value(value) : NULL;
	ed->index = now;
	ed->received = index;
	g_hash_table_replace(e->changed, key, ed);
	return 1;
}

/* edits_header_edit - the last edit of the index-th field called name
 * as received, or NULL when none changed it */
const struct edit *
edits_header_edit(const struct edits *e, const char *name, int index)
{
	char *key = field_key(name, index);
	const struct edit *last = g_hash_table_lookup(e->changed, key);

	g_free(key);
	return last;
}

/*
 * The header block while edits are applied to it: the fields in order (a
 * queue, so that a field goes in constant time), and for each name its
 * fields in order (a GSequence: the index-th of a name is found, and
 * removed, in logarithmic time).  So applying the edits costs in
 * proportion to their number, whatever the number of fields.
 */
struct hblock {
	GQueue *lines;		/* char * "name:value" */
	GHashTable *byname;	/* name -> GSequence of GList * (of lines) */
};

/* hblock_seq - the fields of a name (created empty when new) */
static GSequence *
hblock_seq(struct hblock *b, const char *name, size_t len)
{
	char *key = g_ascii_strdown(name, (gssize) len);
	GSequence *q = g_hash_table_lookup(b->byname, key);

	if (q == NULL) {
		q = g_sequence_new(NULL);
		g_hash_table_insert(b->byname, key, q);
	} else {
		g_free(key);
	}
	return q;
}

/* hblock_add - a field at the end */
static void
hblock_add(struct hblock *b, const char *name, size_t nl, char *line)
{
	g_queue_push_tail(b->lines, line);
	g_sequence_append(hblock_seq(b, name, nl), b->lines->tail);
}

/* hblock_insert - a field at position index (0: first; past the end: the
 * end); a walk, but insertions come from the configuration, a few a
 * message */
static void
hblock_insert(struct hblock *b, const char *name, guint index, char *line)
{
	size_t nl = strlen(name);
	GSequence *q = hblock_seq(b, name, nl);
	GList *l = b->lines->head;
	guint i, before = 0;

	for (i = 0; i < index && l; i++, l = l->next) {
		const char *t = l->data;

		before += !g_ascii_strncasecmp(t, name, nl) && t[nl] == ':';
	}
	if (l == NULL) {
		hblock_add(b, name, nl, line);
		return;
	}
	g_queue_insert_before(b->lines, l, line);
	g_sequence_insert_before(g_sequence_get_iter_at_pos(q, (gint) before), l->prev);
}

/* hblock_change - the index-th field of name (1-based) gets line, or goes
 * when line is NULL; a new field at the end when there is no such field
 * and line is not NULL (as the MTA does) */
static void
hblock_change(struct hblock *b, const char *name, int index, char *line)
{
	size_t nl = strlen(name);
	GSequence *q = hblock_seq(b, name, nl);
	GSequenceIter *it;
	GList *l;

	if (index < 1 || index > g_sequence_get_length(q)) {
		if (line)
			hblock_add(b, name, nl, line);
		return;
	}
	it = g_sequence_get_iter_at_pos(q, index - 1);
	l = g_sequence_get(it);
	g_free(l->data);
	if (line) {
		l->data = line;
	} else {
		g_queue_delete_link(b->lines, l);
		g_sequence_remove(it);
	}
}

/*
 * edits_apply_headers - the header edits among the first n of the list
 * applied to fields, "name:value" strings (g_free), as the MTA applies
 * them: a change of a field that is not there adds it, a deletion of
 * one does nothing.  For sinkd -t, and for a copy of the message that a
 * body change puts inside the new one.  Linear in fields and edits.
 */
void
edits_apply_headers(const struct edits *e, guint n, GPtrArray *fields)
{
	struct hblock b;
	GList *l;
	guint i;

	b.lines = g_queue_new();
	b.byname = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 (GDestroyNotify) g_sequence_free);
	for (i = 0; i < fields->len; i++) {
		char *line = g_ptr_array_index(fields, i);
		const char *colon = strchr(line, ':');

		hblock_add(&b, line, colon ? (size_t) (colon - line) : strlen(line), line);
	}
	g_ptr_array_set_free_func(fields, NULL);
	g_ptr_array_set_size(fields, 0);
	g_ptr_array_set_free_func(fields, g_free);
	for (i = 0; i < n && i < e->list->len; i++) {
		const struct edit *ed = g_ptr_array_index(e->list, i);
		char *line = ed->kind <= EDIT_CHANGE_HEADER && ed->value
			? g_strdup_printf("%s: %s", ed->name, ed->value) : NULL;

		switch (ed->kind) {
		case EDIT_ADD_HEADER:
			hblock_add(&b, ed->name, strlen(ed->name), line);
			break;
		case EDIT_INSERT_HEADER:
			/* a negative index is the end, as for libmilter */
			hblock_insert(&b, ed->name, ed->index < 0 ? G_MAXUINT : (guint) ed->index,
				      line);
			break;
		case EDIT_CHANGE_HEADER:
			hblock_change(&b, ed->name, ed->index, line);
			break;
		default:
			break;
		}
	}
	for (l = b.lines->head; l; l = l->next)
		g_ptr_array_add(fields, l->data);
	g_queue_free(b.lines);
	g_hash_table_destroy(b.byname);
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

/* edits_move - from's list at the end of to's, in order, each header
 * change counted again among to's (fields to's edits deleted move it, a
 * field deleted there already drops it); from is left empty (its body,
 * if any, stays with it) */
void
edits_move(struct edits *to, struct edits *from)
{
	guint i;

	for (i = 0; i < from->list->len; i++) {
		struct edit *ed = g_ptr_array_index(from->list, i);

		if (ed->kind == EDIT_CHANGE_HEADER) {
			edits_change_header(to, ed->by, ed->name, ed->received, ed->value);
			continue;
		}
		g_ptr_array_add(to->list, ed);
		g_ptr_array_index(from->list, i) = NULL;
	}
	g_ptr_array_set_size(from->list, 0);
	g_hash_table_remove_all(from->changed);
	g_hash_table_remove_all(from->deleted);
}

unsigned
edits_count(const struct edits *e)
{
	return e->list->len + (e->body != NULL);
}
