/*
 * edits - the changes handlers ask for, applied once at end of message
 *
 * Handlers never talk to the MTA: they append to a message's edit list,
 * and the glue (milter.c, or offline.c for sinkd -t) applies the list in
 * order when the chain has finished: header edits, then recipient and
 * sender edits, then the body replacement, if any, in one run.
 *
 * Header edits name a field by its index among the fields of that name
 * the message came with, whatever other handlers did before: the index
 * the MTA is given is worked out here, and a field is deleted once (a
 * second handler's edit of a field an earlier one deleted is dropped).
 * So header rules apply to the fields as received, never to fields
 * another handler added (those are appended, after them).
 *
 * Header names and values are made safe here: a value can never carry a
 * bare CR or LF into the MTA (a line break must be a fold: CRLF followed
 * by white space), so no mail data can inject a header.
 */
#ifndef SINKD_EDITS_H
#define SINKD_EDITS_H

#include <glib.h>

enum edit_kind {
	EDIT_ADD_HEADER,	/* append name: value */
	EDIT_INSERT_HEADER,	/* insert at index (0: first) */
	EDIT_CHANGE_HEADER,	/* index-th (1-based) name: value; NULL deletes */
	EDIT_ADD_RCPT,		/* envelope recipient added */
	EDIT_DEL_RCPT,		/* envelope recipient removed */
	EDIT_CHANGE_FROM,	/* envelope sender replaced */
};

struct edit {
	enum edit_kind kind;
	char *name;		/* header name, or the address */
	char *value;		/* header value (NULL: delete) */
	int index;		/* as the MTA counts when it applies the edit */
	int received;		/* EDIT_CHANGE_HEADER: the index among the
				 * fields the message came with */
	const char *by;		/* handler name */
};

struct edits {
	GPtrArray *list;	/* struct edit * */
	GBytes *body;		/* replacement body, or NULL */
	const char *body_by;
	/* header changes by the field as received: "index name" (lower
	 * case) -> the last edit of it; name -> the received indices
	 * deleted, in order (GSequence); so that each edit costs a lookup,
	 * however many fields and edits there are */
	GHashTable *changed;
	GHashTable *deleted;
};

void edits_init(struct edits *e);
void edits_free(struct edits *e);
void edits_add_header(struct edits *e, const char *by, const char *name,
		      const char *value);
void edits_insert_header(struct edits *e, const char *by, int index,
			 const char *name, const char *value);
int edits_change_header(struct edits *e, const char *by, const char *name,
			int index, const char *value);
void edits_add_rcpt(struct edits *e, const char *by, const char *addr);
void edits_del_rcpt(struct edits *e, const char *by, const char *addr);
void edits_change_from(struct edits *e, const char *by, const char *addr);
void edits_replace_body(struct edits *e, const char *by, GBytes *body);
void edits_move(struct edits *to, struct edits *from);
const char *edits_first_header(const struct edits *e, const char *name,
			       const char *original);
const struct edit *edits_header_edit(const struct edits *e, const char *name,
				     int index);
void edits_apply_headers(const struct edits *e, guint n, GPtrArray *fields);
unsigned edits_count(const struct edits *e);
char *edits_safe_value(const char *value);
#define EDITS_NAME_MAX	996	/* 998, the line limit, less ": " */
int edits_header_name_ok(const char *name);
/* A GHashTable keyed by header names, case-insensitive (ASCII). */
guint edits_name_hash(gconstpointer name);
gboolean edits_name_equal(gconstpointer a, gconstpointer b);

#endif
