/*
 * final - the message as it will leave sinkd (final.h)
 */
#include <string.h>
#include <glib.h>

#include "final.h"
#include "edits.h"
#include "message.h"

/* final_headers - the header fields as received with every edit queued so
 * far applied, "name:value" each, in order (caller frees) */
GPtrArray *
final_headers(struct msg *m)
{
	GPtrArray *h = g_ptr_array_new_with_free_func(g_free);
	guint i;

	for (i = 0; i < m->headers->len; i++) {
		GString *l = msg_header_line(g_ptr_array_index(m->headers, i));

		g_string_truncate(l, l->len - 2);	/* the CRLF */
		g_ptr_array_add(h, g_string_free(l, FALSE));
	}
	edits_apply_headers(&m->edits, m->edits.list->len, h);
	return h;
}

/* final_body - the body that will leave: the replacement queued, else
 * the body as spooled; NULL when the spool cannot be read */
const guchar *
final_body(struct msg *m, gsize *len)
{
	const guchar *d;
	gsize n;

	if (m->edits.body)
		return g_bytes_get_data(m->edits.body, len);
	if ((d = msg_data(m, &n)) == NULL)
		return NULL;
	*len = n > m->body_offset ? n - m->body_offset : 0;
	return d + MIN(n, m->body_offset);
}

/* final_render - the whole message as it will leave, CRLF lines (for
 * tests and small messages: it copies the body); NULL when the spool
 * cannot be read */
GString *
final_render(struct msg *m)
{
	GPtrArray *h = final_headers(m);
	const guchar *b;
	GString *out;
	gsize len;
	guint i;

	if ((b = final_body(m, &len)) == NULL) {
		g_ptr_array_free(h, TRUE);
		return NULL;
	}
	out = g_string_new(NULL);
	for (i = 0; i < h->len; i++) {
		g_string_append(out, g_ptr_array_index(h, i));
		g_string_append(out, "\r\n");
	}
	g_string_append(out, "\r\n");
	g_string_append_len(out, (const char *) b, len);
	g_ptr_array_free(h, TRUE);
	return out;
}
