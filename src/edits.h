/*
 * edits - the changes handlers ask for, applied once at end of message
 *
 * Handlers never talk to the MTA: they append to a message's edit list,
 * and the glue (milter.c, or offline.c for sinkd -t) applies the list in
 * order when the chain has finished: header edits, then recipient and
 * sender edits, then the body replacement, if any, in one run.
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
	int index;
	const char *by;		/* handler name */
};

struct edits {
	GPtrArray *list;	/* struct edit * */
	GBytes *body;		/* replacement body, or NULL */
	const char *body_by;
};

void edits_init(struct edits *e);
void edits_free(struct edits *e);
void edits_add_header(struct edits *e, const char *by, const char *name,
		      const char *value);
void edits_insert_header(struct edits *e, const char *by, int index,
			 const char *name, const char *value);
void edits_change_header(struct edits *e, const char *by, const char *name,
			 int index, const char *value);
void edits_add_rcpt(struct edits *e, const char *by, const char *addr);
void edits_del_rcpt(struct edits *e, const char *by, const char *addr);
void edits_change_from(struct edits *e, const char *by, const char *addr);
void edits_replace_body(struct edits *e, const char *by, GBytes *body);
void edits_move(struct edits *to, struct edits *from);
const char *edits_first_header(const struct edits *e, const char *name,
			       const char *original);
unsigned edits_count(const struct edits *e);
char *edits_safe_value(const char *value);
int edits_header_name_ok(const char *name);
/* A GHashTable keyed by header names, case-insensitive (ASCII). */
guint edits_name_hash(gconstpointer name);
gboolean edits_name_equal(gconstpointer a, gconstpointer b);

#endif
