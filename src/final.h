/*
 * final - the message as it will leave sinkd
 *
 * For the after_eom stage (src/handler.h): once every handler's eom hook
 * has run and mime_commit() has turned the body changes into edits, the
 * message the MTA will relay is the header fields as received with the
 * edit list applied (edits_apply_headers(), as the MTA applies it), the
 * empty line, and the replacement body if one was queued, else the body
 * as spooled.  Both are CRLF throughout, as the MTA relays them.
 *
 * final_headers() gives the header block as "name:value" strings, the
 * value as received (its leading space) or as an edit set it (": value"),
 * folds CRLF followed by white space.  final_body() gives the body bytes.
 * Something that signs the message (DKIM, ARC) feeds these to its signer;
 * a field it then adds at the top (edits_insert_header() at index 0)
 * comes into the next final_headers().
 *
 * Ownership: final_headers() returns a new array (g_ptr_array_free(..,
 * TRUE)); final_body() points into the message (the replacement's
 * GBytes or the spool), valid until the message or its edits change.
 * Threading: a message is one thread's at a time.
 */
#ifndef SINKD_FINAL_H
#define SINKD_FINAL_H

#include <glib.h>

struct msg;

GPtrArray *final_headers(struct msg *m);
const guchar *final_body(struct msg *m, gsize *len);
GString *final_render(struct msg *m);

#endif
