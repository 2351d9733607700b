/*
 * mime - a message's MIME tree, for handlers that change the body
 *
 * mime_message() parses the spooled message with GMime once, on first
 * use, and every body-changing handler of the chain works on that one
 * tree.  The parse has a bounded cost (mime_parse): a message built to
 * make GMime's parser slow is cut short, and mime_leaves() reports it.  Changes are written back as splices of the original bytes, so
 * that what no handler touched stays byte-identical (GMime's own
 * re-serialization does not promise that):
 *
 *  - a leaf part a handler changed in place (mime_part_changed) is
 *    written by GMime (its header fields and content) over the byte range
 *    it had in the original;
 *  - a new container (mime_wrap) replaces the whole body: GMime writes it,
 *    and the placeholder part in it is replaced by the entity as the
 *    handlers left it: the original bytes of the top-level content (its
 *    Content-* fields and the body) or of the whole message, with every
 *    leaf changed in place spliced in (and, for the whole message, the
 *    handlers' header edits), so that a wrap never undoes another
 *    handler's change; what no handler touched stays byte for byte.
 *    A second wrap of the content (MIME_ENTITY_CONTENT, with a
 *    placeholder) nests around the first: its placeholder stands for
 *    the first container.  mime_wrap_message() (a sink's wrap) puts the
 *    whole message, its header as the edits made until then left it, in
 *    a message/rfc822 part; later header edits are the new message's,
 *    and a later wrap that cannot nest around it is not made.
 *
 * mime_at_commit() holds a change back until every handler has run: the
 * disclaimer's, so that no other handler's rule sees or changes its text,
 * and it goes on the message as they left it, whatever the chain order.
 *
 * mime_commit() runs once after the chain's end-of-message hooks, runs
 * the changes held back, and turns all this into the edit list: a body replacement and the top-level
 * header edits (Content-Type, Content-Transfer-Encoding, MIME-Version).
 * A message whose tree no handler changed gets no edit at all.
 *
 * mime_text_get() and mime_text_set() read and write a text part's
 * decoded text in UTF-8, keeping the part's charset when the text fits it
 * (else UTF-8) and its transfer encoding (a 7bit part that gains 8-bit
 * text becomes quoted-printable).  mime_text_appends() tells whether
 * such new text for the message's own body would only add bytes after
 * it (what a DKIM signature with l= leaves outside what it signs).
 */
#ifndef SINKD_MIME_H
#define SINKD_MIME_H

#include <gmime/gmime.h>

struct msg;
struct mime;
struct spool;

enum mime_entity {
	MIME_ENTITY_CONTENT,	/* the top-level Content-* fields and body */
	MIME_ENTITY_MESSAGE,	/* every header field and the body */
};

GMimeMessage *mime_message(struct msg *m);
GMimeStream *mime_spool_stream(struct spool *s);
GMimeMessage *mime_parse(struct spool *s, int *cut, gint64 *headers_end);
int mime_cut(const struct msg *m);

/* a header field as GMime's parser read it: name, raw value (its last
 * line end removed) and offset in the stream parsed */
struct mime_field {
	char *name;
	char *value;
	gint64 offset;
};

GPtrArray *mime_fields_collect(GMimeParser *p);
gsize mime_field_end(const guchar *p, gsize len, gsize off);
GPtrArray *mime_header_fields(const void *data, gsize len, gsize *body);

/* What a walk of the leaves left out, if anything. */
enum mime_walk {
	MIME_WALK_COMPLETE,	/* every leaf is listed */
	MIME_WALK_DEPTH,	/* nesting went deeper than the walk */
	MIME_WALK_COUNT,	/* there were more leaves than the walk takes */
	MIME_WALK_AMBIGUOUS,	/* a multipart names two different boundaries:
				 * parsers that take the other one see other
				 * parts than GMime (which takes the first) */
	MIME_WALK_SIZE,		/* content a visitor unwrapped from the parts
				 * went beyond the bytes the walk takes */
};

/* mime_leaves - the GMimePart leaves under o, in order (inside attached
 * messages too when into_messages), at most max, no deeper than depth:
 * hostile nesting and part counts stay bounded.  Returns what was left
 * out (the first reason met), so that a caller that must see every part
 * can tell. */
enum mime_walk mime_leaves(GMimeObject *o, GPtrArray *out,
			   gboolean into_messages, guint max, int depth);

/* mime_leaves_visit - as mime_leaves, and visit(leaf, out, depth, ctx) is
 * called on each leaf as it is listed, depth being what is left below it.
 * A visitor that finds more leaves inside one (content unwrapped from it)
 * lists them with mime_leaves_visit(inner, out, ..., depth - 1, ...) into
 * the same out, so that one count and one depth bound them all; what it
 * returns, unless MIME_WALK_COMPLETE, is what was left out. */
typedef enum mime_walk (*mime_visit_fn)(GMimeObject *leaf, GPtrArray *out,
					 int depth, void *ctx);
enum mime_walk mime_leaves_visit(GMimeObject *o, GPtrArray *out,
				 gboolean into_messages, guint max, int depth,
				 mime_visit_fn visit, void *ctx);

/* mime_part_names - every file name a mail client may show for a part
 * (caller frees the array): each name and filename parameter of each
 * Content-Type and Content-Disposition field it has, as GMime decodes
 * them (RFC 2231, continuations, RFC 2047), duplicates that disagree
 * and repeated fields included, each distinct name once */
GPtrArray *mime_part_names(GMimeObject *part);
void mime_part_changed(struct msg *m, GMimeObject *leaf);
int mime_part_editable(struct msg *m, GMimeObject *leaf);
int mime_wrap(struct msg *m, GMimeObject *container, GMimeObject *placeholder,
	      enum mime_entity entity);
int mime_wrap_message(struct msg *m, GMimeObject *container,
		      GMimeObject *placeholder);
void mime_wrap_bytes(struct msg *m, GMimeObject *container,
		     GMimeObject *placeholder, GBytes *entity);
/* mime_footer - what places a sink's footer as the disclaimer places its
 * text (set by main() to the disclaimer handler's; NULL: none) */
extern int (*mime_footer)(struct msg *m, const char *by, const char *text,
			  const char *html);
void mime_at_commit_free(struct msg *m, int (*fn)(struct msg *m, const void *arg), void *arg,
			 GDestroyNotify free);
void mime_at_commit(struct msg *m, int (*fn)(struct msg *m, const void *arg),
		    const void *arg);
GBytes *mime_write(GMimeObject *obj);
GMimePart *mime_placeholder_new(void);
GMimePart *mime_message_placeholder_new(struct msg *m);
int mime_changed(const struct msg *m);
int mime_wrapped(const struct msg *m);
int mime_commit(struct msg *m);
void mime_free(struct mime *mi);

char *mime_text_get(GMimeTextPart *part);
int mime_text_set(GMimeTextPart *part, const char *utf8);
int mime_text_appends(struct msg *m, GMimeTextPart *part, const char *utf8);

#endif
