/*
 * disclaimer - per-domain text and HTML disclaimers, placed where a reader
 *	sees them, in the part's own charset, once per thread; signed and
 *	encrypted mail never silently broken
 *
 * Placement: a text/plain body gets the text after an empty line; a
 * text/html body gets the HTML before </body>, else before </html>, else
 * at the end; multipart/alternative: both alternatives; multipart/mixed
 * and related: the first body found, never attachments, attached
 * messages, calendars or reports.  A message without a text body is
 * wrapped: a new multipart/mixed holds it unchanged, then the disclaimer.
 *
 * Protected mail (milters/smime.h) is never edited in place: by the
 * domain's "signed" and "encrypted" keys it is wrapped (kept byte for
 * byte as the first part of a new multipart/mixed), attached (the whole
 * message as message/rfc822 under a body with the disclaimer), stripped
 * of its signature, skipped or refused.  Every such outcome is named in
 * an X-Sinkd-Disclaimer header field and in the log.
 *
 * Once per thread: the longest line of the text disclaimer without a
 * variable is its marker; a body whose text already holds it (quote marks
 * and white space ignored) gets no second disclaimer.
 *
 * DKIM: under dkim-signed = skip, a signature that verified holds the
 * disclaimer back (dkim_may_change()), unless the change is an append
 * after the body as received (appends()), which a signature with l=
 * leaves valid.
 *
 * Bounces (null sender) get none.  Text is handled in UTF-8 through GMime
 * (src/mime.h); the tree is written back by splicing, so parts not changed
 * stay byte-identical.
 *
 * Order: at end of message the handler only decides whether it applies
 * and refuses protected mail the domain refuses; the disclaimer itself
 * goes on at commit (mime_at_commit), after every other handler whatever
 * its place in the chain: no other handler's rule sees or changes its
 * text, and it goes onto the message as they left it (a banned part
 * replaced by its notice, text rewritten), a wrap included.
 */
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>
#include <openssl/bio.h>
#include <openssl/cms.h>

#include "../src/dkim.h"
#include "../src/handler.h"
#include "../src/log.h"
#include "../src/mime.h"
#include "../src/policy.h"
#include "../src/stats.h"
#include "../src/template.h"
#include "registry.h"
#include "smime.h"

#define HEADER "X-Sinkd-Disclaimer"
#define FOOTER_HEADER "X-Sinkd-Footer"

enum action { ACT_WRAP, ACT_ATTACH, ACT_RESIGN, ACT_STRIP, ACT_SKIP, ACT_REJECT };

static const char *const signed_values[] = {"wrap", "attach", "resign", "strip", "skip", "reject", NULL};
static const char *const fallback_values[] = {"wrap", "attach", "strip", "skip", "reject", NULL};
static const char *const digest_values[] = {"sha256", "sha384", "sha512", NULL};
static const char *const encrypted_values[] = {"skip", "wrap", "reject", NULL};

static const struct conf_key disclaimer_keys[] = {
	{"text-file", CONF_PATH, "", .merge = MERGE_AGREE,
	 .doc = "plain-text disclaimer template (UTF-8, ${variables})"},
	{"html-file", CONF_PATH, "", .merge = MERGE_AGREE,
	 .doc = "HTML disclaimer template (UTF-8, ${variables} are HTML-escaped)"},
	{"direction", CONF_ENUM, "outbound", .values = direction_values, .merge = MERGE_ENUM_LAST,
	 .doc = "which mail gets the disclaimer: outbound, inbound or both"},
	{"signed", CONF_ENUM, "wrap", .values = signed_values, .merge = MERGE_AGREE,
	 .doc = "signed mail: wrap, attach, resign, strip, skip or reject"},
	{"resign-fallback", CONF_ENUM, "wrap", .values = fallback_values, .merge = MERGE_AGREE,
	 .doc = "what signed = resign does with mail it cannot re-sign (PGP)"},
	{"sign-cert", CONF_PATH, "", .merge = MERGE_AGREE,
	 .doc = "the domain's S/MIME signing certificate (PEM), for signed = resign"},
	{"sign-key", CONF_PATH, "", .merge = MERGE_AGREE,
	 .doc = "its private key (PEM, not readable by others)"},
	{"sign-chain", CONF_PATH, "", .merge = MERGE_AGREE,
	 .doc = "intermediate certificates sent with the signature (PEM)"},
	{"sign-digest", CONF_ENUM, "sha256", .values = digest_values, .merge = MERGE_AGREE,
	 .doc = "digest of the new signature: sha256, sha384 or sha512"},
	{"encrypted", CONF_ENUM, "skip", .values = encrypted_values, .merge = MERGE_AGREE,
	 .doc = "encrypted mail: skip, wrap or reject"},
	{"signed-reply", CONF_REPLY, "550 5.7.1 Signed mail must carry a disclaimer this gateway cannot add", .merge = MERGE_DEFAULT,
	 .doc = "reply when signed = reject"},
	{"encrypted-reply", CONF_REPLY, "550 5.7.1 Encrypted mail must carry a disclaimer this gateway cannot add", .merge = MERGE_DEFAULT,
	 .doc = "reply when encrypted = reject"},
	{"strip-notice", CONF_STRING,
	 "The sender's digital signature was removed because this gateway added a disclaimer, which would have invalidated it.", .merge = MERGE_DEFAULT,
	 .doc = "text added with the disclaimer when signed = strip removes a signature"},
	{NULL},
};

struct disc_cfg {
	char *text;		/* templates, LF line ends; NULL: none */
	char *html;
	char *marker;		/* normalized once-per-thread marker, or NULL */
	int direction;
	enum action on_signed, on_encrypted, resign_fallback;
	struct smime_signer *signer;	/* signed = resign */
	const struct reply *signed_reply, *encrypted_reply;
	char *notice;
	/* a sink's footer (disclaimer_footer) placed as the disclaimer is:
	 * named so in logs, notes and its own header field, which the edit
	 * list credits to by (the sink); signer borrowed */
	int footer;
	char *by;
};

/* name - what the log lines call c's text */
#define NAME(c) ((c)->footer ? "footer" : "disclaimer")

static void
disc_unload(void *p)
{
	struct disc_cfg *c = p;

	g_free(c->text);
	g_free(c->html);
	g_free(c->marker);
	g_free(c->notice);
	g_free(c->by);
	if (!c->footer)
		smime_signer_free(c->signer);
	g_free(c);
}

/* normalize - text without white space and quote marks, for the marker */
static char *
normalize(const char *s)
{
	GString *o = g_string_new(NULL);

	for (; *s; s++)
		if (!g_ascii_isspace(*s) && *s != '>')
			g_string_append_c(o, *s);
	return g_string_free(o, FALSE);
}

/* strip_tags - HTML text without its tags (for the marker test only) */
static char *
strip_tags(const char *html)
{
	GString *o = g_string_new(NULL);
	int in_tag = 0;

	for (; *html; html++) {
		if (*html == '<')
			in_tag = 1;
		else if (*html == '>' && in_tag)
			in_tag = 0;
		else if (!in_tag)
			g_string_append_c(o, *html);
	}
	return g_string_free(o, FALSE);
}

/* make_marker - the longest line of the template without a variable */
static char *
make_marker(const char *tmpl)
{
	char **lines = g_strsplit(tmpl, "\n", -1), *best = NULL;
	unsigned i;

	for (i = 0; lines[i]; i++) {
		char *n;

		if (strstr(lines[i], "${"))
			continue;
		n = normalize(lines[i]);
		if (strlen(n) >= 8 && (best == NULL || strlen(n) > strlen(best))) {
			g_free(best);
			best = n;
		} else {
			g_free(n);
		}
	}
	g_strfreev(lines);
	return best;
}

/* load_template - a template file: UTF-8, known variables, LF line ends */
static char *
load_template(const struct conf_group *g, const char *key, struct conf_errors *e)
{
	const char *path = conf_str(g, key);
	const char *const *known = msg_variables;
	GError *err = NULL;
	char *text = NULL, *why = NULL, **parts;

	if (*path == 0)
		return NULL;
	if ((why = conf_file_unsafe(path, 0, e->user)) != NULL) {
		conf_key_error(e, g, key, "%s", why);
		g_free(why);
		return NULL;
	}
	if (!g_file_get_contents(path, &text, NULL, &err)) {
		conf_key_error(e, g, key, "%s", err->message);
		g_error_free(err);
		return NULL;
	}
	if (!g_utf8_validate(text, -1, NULL))
		conf_key_error(e, g, key, "%s: not UTF-8", path);
	else if (tmpl_check(text, known, &why) < 0)
		conf_key_error(e, g, key, "%s: %s", path, why);
	g_free(why);
	parts = g_strsplit(text, "\r\n", -1);
	g_free(text);
	text = g_strjoinv("\n", parts);
	g_strfreev(parts);
	g_strchomp(text);
	return text;
}

/* unsafe_signer_files - sign-cert, sign-key (a secret) and sign-chain
 * that others could change or read (conf_file_unsafe), each an error;
 * how many */
static unsigned
unsafe_signer_files(const struct conf_group *g, struct conf_errors *e)
{
	static const struct {
		const char *key;
		unsigned flags;
	} files[] = {{"sign-cert", 0}, {"sign-key", CONF_FILE_SECRET}, {"sign-chain", 0}};
	unsigned i, n = 0;

	for (i = 0; i < G_N_ELEMENTS(files); i++) {
		const char *path = conf_str(g, files[i].key);
		char *why = *path ? conf_file_unsafe(path, files[i].flags, e->user) : NULL;

		if (why) {
			conf_key_error(e, g, files[i].key, "%s", why);
			g_free(why);
			n++;
		}
	}
	return n;
}

static enum action
action_of(const char *v)
{
	static const struct {
		const char *name;
		enum action a;
	} map[] = {
		{"wrap", ACT_WRAP}, {"attach", ACT_ATTACH}, {"resign", ACT_RESIGN},
		{"strip", ACT_STRIP},
		{"skip", ACT_SKIP}, {"reject", ACT_REJECT},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(map); i++)
		if (!strcmp(v, map[i].name))
			return map[i].a;
	return ACT_SKIP;
}

static void *
disc_load(const struct conf_group *g, struct conf_errors *e)
{
	struct disc_cfg *c = g_new0(struct disc_cfg, 1);
	unsigned before = e->msgs->len;

	c->text = load_template(g, "text-file", e);
	c->html = load_template(g, "html-file", e);
	if (c->text)
		c->marker = make_marker(c->text);
	else if (c->html) {
		char *plain = strip_tags(c->html);

		c->marker = make_marker(plain);
		g_free(plain);
	}
	/* without a marker, the once-per-thread check has nothing to find */
	if ((c->text || c->html) && c->marker == NULL)
		conf_key_warn(e, g, c->text ? "text-file" : "html-file",
			      "%s: no line of 8 or more characters without a ${variable}: sinkd cannot tell a message that already carries the disclaimer, and adds it again to every reply in a thread",
			      conf_str(g, c->text ? "text-file" : "html-file"));
	c->direction = (int) conf_num(g, "direction");
	c->on_signed = action_of(conf_str(g, "signed"));
	c->on_encrypted = action_of(conf_str(g, "encrypted"));
	c->resign_fallback = action_of(conf_str(g, "resign-fallback"));
	if (c->on_signed == ACT_RESIGN) {
		char *why = NULL;

		if (!*conf_str(g, "sign-cert") || !*conf_str(g, "sign-key"))
			conf_key_error(e, g, "signed", "resign needs sign-cert and sign-key");
		else if (unsafe_signer_files(g, e) == 0
			 && (c->signer = smime_signer_load(conf_str(g, "sign-cert"),
							conf_str(g, "sign-key"),
							conf_str(g, "sign-chain"),
							conf_str(g, "sign-digest"), &why)) == NULL) {
			conf_key_error(e, g, "sign-key", "%s", why);
			g_free(why);
		}
	}
	c->signed_reply = conf_reply(g, "signed-reply");
	c->encrypted_reply = conf_reply(g, "encrypted-reply");
	c->notice = g_strdup(conf_str(g, "strip-notice"));
	if (e->msgs->len != before) {
		disc_unload(c);
		return NULL;
	}
	return c;
}

/* Expansion context: HTML values are escaped; the copies are kept here. */
struct expand {
	struct msg *m;
	int html;
	GPtrArray *keep;
};

static const char *
lookup(const char *name, void *ctx)
{
	struct expand *x = ctx;
	const char *v = msg_variable(name, x->m);
	char *esc;

	if (v == NULL || !x->html)
		return v;
	esc = g_markup_escape_text(v, -1);
	g_ptr_array_add(x->keep, esc);
	return esc;
}

/* expand - a template filled in for m, with newline nl */
static char *
expand(const char *tmpl, struct msg *m, int html, const char *nl)
{
	struct expand x = {m, html, g_ptr_array_new_with_free_func(g_free)};
	char *t = tmpl_expand(tmpl, lookup, &x), **lines, *out;

	g_ptr_array_free(x.keep, TRUE);
	lines = g_strsplit(t, "\n", -1);
	out = g_strjoinv(nl, lines);
	g_strfreev(lines);
	g_free(t);
	return out;
}

/* fill - t (c's text or HTML) with nl line ends: the disclaimer's a
 * template expanded, a footer's as the sink gave it (its text escaped
 * where it goes into HTML) */
static char *
fill(const struct disc_cfg *c, const char *t, struct msg *m, int html, const char *nl)
{
	char *e, **lines, *out;

	if (!c->footer)
		return expand(t, m, html, nl);
	e = html && t == c->text ? g_markup_escape_text(t, -1) : g_strdup(t);
	lines = g_strsplit(e, "\n", -1);
	out = g_strjoinv(nl, lines);
	g_strfreev(lines);
	g_free(e);
	return out;
}

/* text_for - the plain disclaimer (and strip notice) for m, or NULL */
static char *
text_for(const struct disc_cfg *c, struct msg *m, const char *nl, int notice)
{
	char *t = c->text ? fill(c, c->text, m, 0, nl) : NULL;

	if (t == NULL && c->html) {
		char *h = fill(c, c->html, m, 0, "\n"), *plain = strip_tags(h), **l;

		l = g_strsplit(plain, "\n", -1);
		t = g_strstrip(g_strjoinv(nl, l));
		g_strfreev(l);
		g_free(plain);
		g_free(h);
	}
	if (notice && t) {
		char *n = g_strconcat(t, nl, nl, c->notice, NULL);

		g_free(t);
		t = n;
	}
	return t;
}

/* html_for - the HTML disclaimer (and notice) for m */
static char *
html_for(const struct disc_cfg *c, struct msg *m, const char *nl, int notice)
{
	char *h, *n;

	if (c->html)
		h = fill(c, c->html, m, 1, nl);
	else {
		char *t = fill(c, c->text, m, 1, "\n"), **l = g_strsplit(t, "\n", -1);
		char *joined = g_strjoinv("<br>", l);

		h = g_strconcat("<p>", joined, "</p>", NULL);
		g_free(joined);
		g_strfreev(l);
		g_free(t);
	}
	if (!notice)
		return h;
	{
		char *esc = g_markup_escape_text(c->notice, -1);

		n = g_strconcat(h, nl, "<p>", esc, "</p>", NULL);
		g_free(esc);
	}
	g_free(h);
	return n;
}

static int
is_type(GMimeObject *o, const char *type, const char *sub)
{
	return g_mime_content_type_is_type(g_mime_object_get_content_type(o), type, sub);
}

/* body_leaf - a text/plain or text/html part that is not an attachment */
static int
body_leaf(GMimeObject *o)
{
	return GMIME_IS_TEXT_PART(o) && !g_mime_part_is_attachment(GMIME_PART(o))
		&& (is_type(o, "text", "plain") || is_type(o, "text", "html"));
}

/* find_bodies - the parts that get the disclaimer; returns whether any */
static int
find_bodies(GMimeObject *o, GPtrArray *out)
{
	int i, n, found = 0;

	if (body_leaf(o)) {
		g_ptr_array_add(out, o);
		return 1;
	}
	if (!GMIME_IS_MULTIPART(o) || is_type(o, "multipart", "report")
	    || is_type(o, "multipart", "digest"))
		return 0;
	n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
	for (i = 0; i < n; i++) {
		GMimeObject *child = g_mime_multipart_get_part(GMIME_MULTIPART(o), i);

		if (is_type(o, "multipart", "alternative")) {
			found |= find_bodies(child, out);
		} else if (find_bodies(child, out)) {
			return 1;	/* mixed, related: the first body only */
		}
	}
	return found;
}

/*
 * beside_content - where a wrap (this handler's, on an earlier pass)
 * puts the disclaimer: the body leaves of each part after the first of a
 * top-level multipart/mixed (the first is the content the wrap kept as
 * it was, undecodable text say, whose bodies find_bodies() gives), so
 * that a wrapped message is not given a second disclaimer
 */
static void
beside_content(GMimeObject *top, GPtrArray *out)
{
	int i, n;

	if (!GMIME_IS_MULTIPART(top) || !is_type(top, "multipart", "mixed"))
		return;
	n = g_mime_multipart_get_count(GMIME_MULTIPART(top));
	for (i = 1; i < n; i++) {
		GMimeObject *child = g_mime_multipart_get_part(GMIME_MULTIPART(top), i);

		if (body_leaf(child) || is_type(child, "multipart", "alternative"))
			find_bodies(child, out);
	}
}

/* has_marker - a body, or a part beside the content of a wrapped
 * message (beside_content()), already carries the disclaimer */
static int
has_marker(const struct disc_cfg *c, GMimeMessage *msg, GPtrArray *bodies)
{
	GPtrArray *all;
	guint i;
	int hit = 0;

	if (c->marker == NULL)
		return 0;
	all = g_ptr_array_new();
	for (i = 0; i < bodies->len; i++)
		g_ptr_array_add(all, g_ptr_array_index(bodies, i));
	beside_content(g_mime_message_get_mime_part(msg), all);
	for (i = 0; i < all->len && !hit; i++) {
		GMimeObject *o = g_ptr_array_index(all, i);
		char *t = mime_text_get(GMIME_TEXT_PART(o)), *plain, *n;

		if (t == NULL)
			continue;
		plain = is_type(o, "text", "html") ? strip_tags(t) : g_strdup(t);
		n = normalize(plain);
		hit = strstr(n, c->marker) != NULL;
		g_free(n);
		g_free(plain);
		g_free(t);
	}
	g_ptr_array_free(all, TRUE);
	return hit;
}

/* all_decode - every body part's text decodes to UTF-8 */
static int
all_decode(GPtrArray *bodies)
{
	guint i;

	for (i = 0; i < bodies->len; i++) {
		char *t = mime_text_get(GMIME_TEXT_PART(g_ptr_array_index(bodies, i)));

		if (t == NULL)
			return 0;
		g_free(t);
	}
	return 1;
}

/* all_editable - every body part can be written back over its own bytes */
static int
all_editable(struct msg *m, GPtrArray *bodies)
{
	guint i;

	for (i = 0; i < bodies->len; i++)
		if (!mime_part_editable(m, g_ptr_array_index(bodies, i)))
			return 0;
	return 1;
}

/* html_point - where the HTML goes: before </body>, else </html>, else end */
static gsize
html_point(const char *text)
{
	const char *tags[] = {"</body", "</html"};
	gsize len = strlen(text);
	unsigned t;

	for (t = 0; t < 2; t++) {
		gsize i, tl = strlen(tags[t]);

		for (i = len >= tl ? len - tl + 1 : 0; i-- > 0;)
			if (!g_ascii_strncasecmp(text + i, tags[t], tl))
				return i;
	}
	return len;
}

/* flowed_safe - disclaimer lines for format=flowed: no trailing space (no
 * soft break), space-stuffed where needed (RFC 3676) */
static char *
flowed_safe(const char *dis, const char *nl)
{
	char **l = g_strsplit(dis, nl, -1), *out;
	unsigned i;

	for (i = 0; l[i]; i++) {
		char *line;

		if (!strcmp(l[i], "-- "))
			continue;	/* the signature separator stays as it is */
		line = g_strchomp(l[i]);

		if (line[0] == ' ' || line[0] == '>' || g_str_has_prefix(line, "From ")) {
			l[i] = g_strconcat(" ", line, NULL);
			g_free(line);
		}
	}
	out = g_strjoinv(nl, l);
	g_strfreev(l);
	return out;
}

/* with_disclaimer - the text of body part o with the disclaimer (and
 * the notice) in it, or NULL if its text is unreadable */
static char *
with_disclaimer(struct msg *m, const struct disc_cfg *c, GMimeObject *o, int notice)
{
	char *text = mime_text_get(GMIME_TEXT_PART(o)), *dis, *new;
	const char *nl;
	gsize len;

	if (text == NULL)
		return NULL;
	nl = strstr(text, "\r\n") ? "\r\n" : "\n";
	len = strlen(text);
	if (is_type(o, "text", "html")) {
		gsize at = html_point(text);

		dis = html_for(c, m, nl, notice);
		new = g_strdup_printf("%.*s%s%s%s", (int) at, text, dis, nl, text + at);
	} else {
		const char *fmt = g_mime_object_get_content_type_parameter(o, "format");

		dis = text_for(c, m, nl, notice);
		if (fmt && !g_ascii_strcasecmp(fmt, "flowed")) {
			char *safe = flowed_safe(dis, nl);

			g_free(dis);
			dis = safe;
		}
		new = g_strconcat(text, len && !g_str_has_suffix(text, "\n") ? nl : "",
				  nl, dis, nl, NULL);
	}
	g_free(dis);
	g_free(text);
	return new;
}

/* add_to - the disclaimer into one body part; -1 if its text is unreadable */
static int
add_to(struct msg *m, const struct disc_cfg *c, GMimeObject *o, int notice)
{
	char *new = with_disclaimer(m, c, o, notice);

	if (new == NULL)
		return -1;
	mime_text_set(GMIME_TEXT_PART(o), new);
	mime_part_changed(m, o);
	g_free(new);
	return 0;
}

/*
 * appends - whether the disclaimer goes onto msg as bytes after its body
 * as received, and nowhere else: the body is one text part, the whole
 * message (not multipart, neither signed nor encrypted), whose text
 * decodes and whose bytes GMime can write back, and the footer goes at
 * its end in the body's own charset and transfer encoding, with no byte
 * of the body re-encoded (mime_text_appends(): a 7bit body that the
 * footer would make quoted-printable, a base64 body, quoted-printable
 * that GMime would write otherwise, a charset the footer does not fit,
 * an HTML body with </body>, are not appends).  A body that already carries the disclaimer gets nothing,
 * which appends nothing either.  A DKIM signature with l= over the whole
 * body stays valid under such a change (DKIM_TOUCH_BODY_APPEND).
 */
static int
appends(struct msg *m, const struct disc_cfg *c, GMimeMessage *msg)
{
	GMimeObject *top = g_mime_message_get_mime_part(msg);
	struct smime_scan sc;
	GPtrArray *bodies;
	char *new;
	int yes;

	smime_scan(msg, &sc);
	if (top == NULL || sc.kind != SMIME_NONE || !body_leaf(top))
		return 0;
	bodies = g_ptr_array_new();
	g_ptr_array_add(bodies, top);
	yes = has_marker(c, msg, bodies);
	g_ptr_array_free(bodies, TRUE);
	if (yes)
		return 1;
	if ((new = with_disclaimer(m, c, top, 0)) == NULL)
		return 0;
	yes = mime_text_appends(m, GMIME_TEXT_PART(top), new);
	g_free(new);
	return yes;
}

/* disclaimer_part - a new part: text/plain, or multipart/alternative with
 * the HTML version too */
static GMimeObject *
disclaimer_part(const struct disc_cfg *c, struct msg *m, int notice)
{
	GMimeTextPart *t = g_mime_text_part_new_with_subtype("plain"), *h;
	GMimeMultipart *alt;
	char *s;

	s = text_for(c, m, "\n", notice);
	mime_text_set(t, s);
	g_free(s);
	g_mime_object_set_disposition(GMIME_OBJECT(t), "inline");
	if (c->html == NULL)
		return GMIME_OBJECT(t);
	h = g_mime_text_part_new_with_subtype("html");
	s = html_for(c, m, "\n", notice);
	mime_text_set(h, s);
	g_free(s);
	alt = g_mime_multipart_new_with_subtype("alternative");
	g_mime_multipart_add(alt, GMIME_OBJECT(t));
	g_mime_multipart_add(alt, GMIME_OBJECT(h));
	g_object_unref(t);
	g_object_unref(h);
	g_mime_object_set_disposition(GMIME_OBJECT(alt), "inline");
	return GMIME_OBJECT(alt);
}

/* wrap - the content untouched as the first part of a new
 * multipart/mixed, the disclaimer after it */
static void
wrap(struct msg *m, const struct disc_cfg *c)
{
	GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
	GMimePart *ph = mime_placeholder_new();
	GMimeObject *d = disclaimer_part(c, m, 0);

	g_mime_multipart_add(mixed, GMIME_OBJECT(ph));
	g_mime_multipart_add(mixed, d);
	mime_wrap(m, GMIME_OBJECT(mixed), GMIME_OBJECT(ph), MIME_ENTITY_CONTENT);
	g_object_unref(d);
	g_object_unref(ph);
	g_object_unref(mixed);
}

/* attach - the whole message as message/rfc822 under the disclaimer */
static void
attach(struct msg *m, const struct disc_cfg *c)
{
	GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
	GMimePart *ph = mime_message_placeholder_new(m);
	GMimeObject *d = disclaimer_part(c, m, 0);

	g_mime_multipart_add(mixed, d);
	g_mime_multipart_add(mixed, GMIME_OBJECT(ph));
	mime_wrap(m, GMIME_OBJECT(mixed), GMIME_OBJECT(ph), MIME_ENTITY_MESSAGE);
	g_object_unref(d);
	g_object_unref(ph);
	g_object_unref(mixed);
}

/* opaque_content - the MIME entity inside an S/MIME signed-data blob */
static GMimeObject *
opaque_content(GMimeObject *part)
{
	return GMIME_IS_PART(part) ? smime_signed_entity(GMIME_PART(part)) : NULL;
}

/* unsign - replace the outermost signed part by its content */
static int
unsign(GMimeMessage *msg, const struct smime_scan *sc)
{
	GMimeObject *sp = sc->signed_part, *content;

	if (GMIME_IS_MULTIPART(sp) && g_mime_multipart_get_count(GMIME_MULTIPART(sp)) > 0)
		content = g_object_ref(g_mime_multipart_get_part(GMIME_MULTIPART(sp), 0));
	else if (!GMIME_IS_TEXT_PART(sp) && (content = opaque_content(sp)) != NULL)
		;
	else
		return -1;	/* inline PGP, or CMS that does not parse */
	if (GMIME_IS_MESSAGE(sc->signed_parent)) {
		g_mime_message_set_mime_part(msg, content);
	} else {
		GMimeMultipart *parent = GMIME_MULTIPART(sc->signed_parent);
		int idx = g_mime_multipart_index_of(parent, sp);

		if (idx < 0) {
			g_object_unref(content);
			return -1;
		}
		g_object_unref(g_mime_multipart_replace(parent, idx, content));
	}
	g_object_unref(content);
	return 0;
}

/* unsigned_with_disclaimer - every signature removed, then the disclaimer
 * (and the notice) added: into the bodies, or beside the content when it
 * has none or is encrypted inside.  The new top-level content (a new
 * reference), or NULL when a signature cannot be removed. */
static GMimeObject *
unsigned_with_disclaimer(struct msg *m, const struct disc_cfg *c,
			 GMimeMessage *msg, const struct smime_scan *first,
			 int notice)
{
	struct smime_scan sc = *first;
	GMimeObject *top;
	GPtrArray *bodies;
	int rounds = 0;
	guint i;

	while (sc.signed_part && rounds++ < 16) {
		if (unsign(msg, &sc) < 0)
			return NULL;
		smime_scan(msg, &sc);
	}
	if (sc.signed_part)
		return NULL;
	top = g_mime_message_get_mime_part(msg);
	bodies = g_ptr_array_new();
	if (sc.kind == SMIME_NONE && find_bodies(top, bodies) && all_decode(bodies)) {
		for (i = 0; i < bodies->len; i++)
			add_to(m, c, g_ptr_array_index(bodies, i), notice);
		g_object_ref(top);
	} else {
		GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
		GMimeObject *d = disclaimer_part(c, m, notice);

		g_mime_multipart_add(mixed, top);
		g_mime_multipart_add(mixed, d);
		g_object_unref(d);
		top = GMIME_OBJECT(mixed);
	}
	g_ptr_array_free(bodies, TRUE);
	return top;
}

/* strip - the signatures removed, the disclaimer and the notice added;
 * GMime writes the new structure.  -1: a signature cannot be removed */
static int
strip(struct msg *m, const struct disc_cfg *c, GMimeMessage *msg,
      const struct smime_scan *first)
{
	GMimeObject *top = unsigned_with_disclaimer(m, c, msg, first, 1);

	if (top == NULL)
		return -1;
	mime_wrap(m, top, NULL, MIME_ENTITY_CONTENT);
	g_object_unref(top);
	return 0;
}

/* resign - the signatures removed, the disclaimer added, the content
 * signed again with the domain's identity as a detached S/MIME signature
 * over exactly the bytes spliced into the message.  -1: it cannot be done
 * (the caller falls back) */
static int
resign(struct msg *m, const struct disc_cfg *c, GMimeMessage *msg,
       const struct smime_scan *first)
{
	GMimeObject *top = unsigned_with_disclaimer(m, c, msg, first, 0);
	GMimeMultipart *signedp;
	GMimePart *ph, *sig;
	GBytes *content, *der;
	GMimeStream *s;
	GMimeDataWrapper *w;

	if (top == NULL)
		return -1;
	content = mime_write(top);
	g_object_unref(top);
	if ((der = smime_sign(c->signer, content)) == NULL) {
		g_bytes_unref(content);
		log_error("%s: disclaimer: signing failed", m->queue_id);
		return -1;
	}
	signedp = g_mime_multipart_new_with_subtype("signed");
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(signedp), "protocol",
						 "application/pkcs7-signature");
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(signedp), "micalg",
						 smime_micalg(c->signer));
	ph = mime_placeholder_new();
	sig = g_mime_part_new_with_type("application", "pkcs7-signature");
	s = g_mime_stream_mem_new();
	g_mime_stream_write(s, g_bytes_get_data(der, NULL), g_bytes_get_size(der));
	g_mime_stream_reset(s);
	w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(sig, w);
	g_mime_part_set_content_encoding(sig, GMIME_CONTENT_ENCODING_BASE64);
	g_mime_part_set_filename(sig, "smime.p7s");
	g_mime_multipart_add(signedp, GMIME_OBJECT(ph));
	g_mime_multipart_add(signedp, GMIME_OBJECT(sig));
	mime_wrap_bytes(m, GMIME_OBJECT(signedp), GMIME_OBJECT(ph), content);
	g_object_unref(w);
	g_object_unref(s);
	g_object_unref(sig);
	g_object_unref(ph);
	g_object_unref(signedp);
	g_bytes_unref(content);
	g_bytes_unref(der);
	return 0;
}

/* outcome - name a non-default outcome in a header field and the log */
/* count - the disclaimer's outcomes are counted (metrics); a footer's not */
static void
count(const struct disc_cfg *c, const char *what)
{
	if (!c->footer)
		stats_disclaimer(what);
}

static void
outcome(struct msg *m, struct edits *e, const struct disc_cfg *c, const char *what,
	const char *why)
{
	char *v = why ? g_strdup_printf("%s (%s)", what, why) : g_strdup(what);

	edits_add_header(e, c->by ? c->by : disclaimer_handler.name,
			 c->footer ? FOOTER_HEADER : HEADER, v);
	msg_note(m, NAME(c), "%s", what);
	count(c, what);
	log_info("%s: %s: %s", m->queue_id, NAME(c), v);
	g_free(v);
}

/* action_for - what the domain does with this protected mail; resign
 * falls back for what it cannot sign: PGP, or a signature whose content
 * does not parse */
static enum action
action_for(const struct disc_cfg *c, const struct smime_scan *sc)
{
	enum action a = sc->kind == SMIME_ENCRYPTED ? c->on_encrypted : c->on_signed;
	GMimeObject *content;

	if (a != ACT_RESIGN)
		return a;
	if (sc->pgp)
		return c->resign_fallback;
	if (GMIME_IS_MULTIPART(sc->signed_part))
		return g_mime_multipart_get_count(GMIME_MULTIPART(sc->signed_part)) > 0
			? a : c->resign_fallback;
	if ((content = opaque_content(sc->signed_part)) == NULL)
		return c->resign_fallback;
	g_object_unref(content);
	return a;
}

/* protected - signed or encrypted mail, by the domain's choice (a
 * refusal was given at end of message); -1 when nothing can be done */
static int
protected(struct msg *m, struct edits *e, const struct disc_cfg *c,
	  GMimeMessage *msg, const struct smime_scan *sc)
{
	const char *kind = smime_kind_name(sc->kind);
	enum action wanted = sc->kind == SMIME_ENCRYPTED ? c->on_encrypted : c->on_signed;
	enum action a = action_for(c, sc);

	if (wanted == ACT_RESIGN && a != ACT_RESIGN)
		log_info("%s: %s: cannot re-sign%s; resign-fallback applies",
			 m->queue_id, NAME(c), sc->pgp ? " PGP mail" : "");
	/* attach, strip and resign make a new message from the tree as it
	 * came, which would take the place of an earlier wrap (a sink's):
	 * wrap around it instead */
	if (mime_wrapped(m) && (a == ACT_ATTACH || a == ACT_STRIP || a == ACT_RESIGN)) {
		log_info("%s: %s: the message is wrapped already; wrapping around it",
			 m->queue_id, NAME(c));
		a = ACT_WRAP;
	}
	if (a == ACT_RESIGN) {
		/* a failure here (signing, or a signature nested inside that
		 * does not come off) leaves the tree half changed, after the
		 * chance to refuse: tempfail, never a broken signature */
		if (resign(m, c, msg, sc) < 0) {
			log_warn("%s: %s: cannot re-sign", m->queue_id, NAME(c));
			return -1;
		}
		outcome(m, e, c, "resigned", "signed; the sender's signature was replaced by the domain's");
		return 0;
	}
	switch (a) {
	case ACT_SKIP:
		outcome(m, e, c, "skipped", kind);
		return 0;
	case ACT_REJECT:
		return -1;	/* refused at end of message */
	case ACT_ATTACH:
		attach(m, c);
		outcome(m, e, c, "attached", kind);
		return 0;
	case ACT_STRIP:
		if (strip(m, c, msg, sc) == 0) {
			outcome(m, e, c, "stripped", kind);
			return 0;
		}
		/* inline PGP, or a signature whose content does not parse: the
		 * tree may be half changed, so nothing of it is written; the
		 * message is wrapped as it came */
		log_info("%s: %s: cannot strip this signature; wrapping", m->queue_id, NAME(c));
		break;
	case ACT_WRAP:
	case ACT_RESIGN:
		break;
	}
	wrap(m, c);
	outcome(m, e, c, "wrapped", kind);
	return 0;
}

/* disc_apply - the disclaimer onto the message as every handler left it
 * (mime_at_commit): into its bodies, or beside its content; -1 when it
 * cannot be done */
static int
disc_apply(struct msg *m, const void *cfg)
{
	const struct disc_cfg *c = cfg;
	GMimeMessage *msg = mime_message(m);
	struct smime_scan sc;
	GPtrArray *bodies;
	int rc = 0, found;
	guint i;

	if (msg == NULL)
		return -1;
	smime_scan(msg, &sc);
	bodies = g_ptr_array_new();
	found = find_bodies(g_mime_message_get_mime_part(msg), bodies);
	/* once per thread, whatever the message is: a wrap of an earlier
	 * pass (signed or undecodable content) keeps its content as it was,
	 * and the disclaimer beside it */
	if (has_marker(c, msg, bodies)) {
		log_info("%s: %s: already there", m->queue_id, NAME(c));
		count(c, "present");
	} else if (sc.kind != SMIME_NONE) {
		rc = protected(m, &m->edits, c, msg, &sc);
	} else if (!found) {
		wrap(m, c);
		outcome(m, &m->edits, c, "wrapped", "no text body");
	} else if (!all_decode(bodies)) {
		/* text that does not decode is never rewritten: the disclaimer
		 * goes beside it */
		wrap(m, c);
		outcome(m, &m->edits, c, "wrapped", "undecodable text");
	} else if (!all_editable(m, bodies)) {
		/* malformed structure GMime cannot write back exactly */
		wrap(m, c);
		outcome(m, &m->edits, c, "wrapped", "malformed structure");
	} else {
		for (i = 0; i < bodies->len && rc == 0; i++)
			rc = add_to(m, c, g_ptr_array_index(bodies, i), 0);
		if (rc == 0) {
			msg_note(m, NAME(c), "added");
			count(c, "added");
		}
	}
	g_ptr_array_free(bodies, TRUE);
	if (rc < 0)
		count(c, "failed");
	return rc;
}

/* disc_append - disc_apply() where only an append after the body as
 * received was allowed (a DKIM signature with l=): made when it still
 * is one on the tree as every handler left it, else skipped */
static int
disc_append(struct msg *m, const void *cfg)
{
	const struct disc_cfg *c = cfg;
	GMimeMessage *msg = mime_message(m);

	if (msg == NULL)
		return -1;
	if (!appends(m, cfg, msg)) {
		log_info("%s: %s: no longer an append after the DKIM-signed body", m->queue_id, NAME(c));
		outcome(m, &m->edits, c, "skipped", "DKIM signed");
		return 0;
	}
	log_info("%s: %s: appended after the DKIM-signed length (l=)", m->queue_id, NAME(c));
	return disc_apply(m, cfg);
}

/* disc_eom - decide now, refusing protected mail when the domain says
 * so; the change itself is made at commit, after every other handler
 * (mime_at_commit): their rules never see or change the disclaimer's
 * text, and it goes on the message as they left it (a banned part
 * replaced, text rewritten), whatever the chain order */
static enum verdict
disc_eom(struct msg *m, struct edits *e, const void *cfg)
{
	const struct disc_cfg *c = cfg;
	GMimeMessage *msg;
	struct smime_scan sc;

	if (c->text == NULL && c->html == NULL)
		return VERDICT_CONTINUE;
	if (!direction_applies(c->direction, m->outbound) || *m->sender == 0)
		return VERDICT_CONTINUE;
	if ((msg = mime_message(m)) == NULL)
		return VERDICT_ERROR;
	smime_scan(msg, &sc);
	if (sc.kind != SMIME_NONE && action_for(c, &sc) == ACT_REJECT) {
		log_info("%s: disclaimer: refused (%s)", m->queue_id, smime_kind_name(sc.kind));
		stats_disclaimer("refused");
		return handler_refuse(m->conn, sc.kind == SMIME_ENCRYPTED
				      ? c->encrypted_reply : c->signed_reply);
	}
	/* the disclaimer goes into the body: not under a DKIM signature
	 * that verified, when the policy's dkim-signed says skip; but a
	 * footer after a body signed with l= leaves it valid (asked only
	 * when it makes the difference: held back, the change is named
	 * "body" as any other) */
	if (dkim_holds(m, DKIM_TOUCH_BODY) && !dkim_holds(m, DKIM_TOUCH_BODY_APPEND)
	    && appends(m, c, msg)) {
		mime_at_commit(m, disc_append, c);
		return VERDICT_CONTINUE;
	}
	if (!dkim_may_change(m, DKIM_TOUCH_BODY, disclaimer_handler.name)) {
		outcome(m, e, c, "skipped", "DKIM signed");
		return VERDICT_CONTINUE;
	}
	mime_at_commit(m, disc_apply, c);
	return VERDICT_CONTINUE;
}

/*
 * disc_inbound - the group as it acts on inbound mail, for combining
 * policies.  A domain that adds no disclaimer to inbound mail (direction
 * = outbound, no template, or the handler out of the chain) asks for
 * none: its templates are emptied, so that it keeps apart from a domain
 * that adds one, and not from another that adds none whatever its own
 * outbound text; of signed and encrypted, which the rewrite handler
 * follows too, only "reject" still means something.  The signing keys
 * count only for signed = resign, strip-notice only where a signature
 * may be stripped.
 */
static void
disc_inbound(struct conf_group *g, int chained)
{
	static const char *const signing[] = {
		"resign-fallback", "sign-cert", "sign-key", "sign-chain", "sign-digest",
	};
	int active = chained && (*conf_str(g, "text-file") || *conf_str(g, "html-file"))
		&& strcmp(conf_str(g, "direction"), "outbound") != 0;
	const char *sig;
	unsigned i;

	if (!active) {
		conf_set(g, "text-file", "");
		conf_set(g, "html-file", "");
		conf_unused(g, "direction");
		if (strcmp(conf_str(g, "signed"), "reject") != 0)
			conf_set(g, "signed", "skip");
		if (strcmp(conf_str(g, "encrypted"), "reject") != 0)
			conf_set(g, "encrypted", "skip");
	}
	sig = conf_str(g, "signed");
	if (strcmp(sig, "resign") != 0)
		for (i = 0; i < G_N_ELEMENTS(signing); i++)
			conf_unused(g, signing[i]);
	if (strcmp(sig, "strip") != 0 && (strcmp(sig, "resign") != 0
					  || strcmp(conf_str(g, "resign-fallback"), "strip") != 0))
		conf_unused(g, "strip-notice");
}

/* footer_free - a footer's settings (the signer is the policy's) */
static void
footer_free(gpointer p)
{
	disc_unload(p);
}

/*
 * disclaimer_footer - a sink's (by) footer on m: text (UTF-8), and html, its
 * HTML form (NULL: the text, escaped), put at commit where and as the
 * disclaimer puts its own (the bodies a reader sees, once per thread),
 * protected mail by the signed and encrypted keys of m's disclaimer
 * policy (reject is skip here: a footer never refuses mail); 0, or -1
 * when m's DKIM policy holds body changes back or the message does not
 * parse
 */
int
disclaimer_footer(struct msg *m, const char *by, const char *text, const char *html)
{
	const struct policy *p = msg_policy(m);
	const struct disc_cfg *d = p ? policy_handler_cfg(p, &disclaimer_handler) : NULL;
	GMimeMessage *msg = mime_message(m);
	struct disc_cfg *c;

	if (msg == NULL || text == NULL)
		return -1;
	c = g_new0(struct disc_cfg, 1);
	c->footer = 1;
	c->by = by ? g_strdup(by) : NULL;
	c->text = g_strdup(text);
	c->html = html ? g_strdup(html) : NULL;
	c->marker = make_marker(text);
	c->on_signed = d ? d->on_signed : ACT_WRAP;
	c->on_encrypted = d ? d->on_encrypted : ACT_SKIP;
	c->resign_fallback = d ? d->resign_fallback : ACT_WRAP;
	if (c->on_signed == ACT_REJECT)
		c->on_signed = ACT_SKIP;
	if (c->on_encrypted == ACT_REJECT)
		c->on_encrypted = ACT_SKIP;
	if (c->resign_fallback == ACT_REJECT)
		c->resign_fallback = ACT_SKIP;
	c->signer = d ? d->signer : NULL;
	if (c->on_signed == ACT_RESIGN && c->signer == NULL)
		c->on_signed = c->resign_fallback;
	c->notice = g_strdup(d && d->notice ? d->notice : "");
	if (dkim_holds(m, DKIM_TOUCH_BODY) && !dkim_holds(m, DKIM_TOUCH_BODY_APPEND)
	    && appends(m, c, msg)) {
		mime_at_commit_free(m, disc_append, c, footer_free);
		return 0;
	}
	if (!dkim_may_change(m, DKIM_TOUCH_BODY, "footer")) {
		footer_free(c);
		return -1;
	}
	mime_at_commit_free(m, disc_apply, c, footer_free);
	return 0;
}

const struct handler disclaimer_handler = {
	.name = "disclaimer",
	.keys = disclaimer_keys,
	.needs = HANDLER_NEEDS_HEADERS | HANDLER_NEEDS_BODY,
	.load = disc_load,
	.unload = disc_unload,
	.eom = disc_eom,
	.inbound = disc_inbound,
};
