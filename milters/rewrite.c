/*
 * rewrite - header rules, subject tags, text substitutions and banned
 *	attachments, per domain, with no code
 *
 * At end of message, in this order:
 *
 *  1. banned attachments: every leaf part, attached messages' and the
 *     content of opaque-signed S/MIME included (smime_leaves), any of
 *     whose file names (every name and filename parameter of every
 *     Content-Type and Content-Disposition field, RFC 2231 and RFC 2047
 *     decoded by GMime: mime_part_names) has a banned extension or
 *     matches a banned glob, or whose type matches a banned type glob, or
 *     that is an archive holding such a name at any depth
 *     (banned-in-archives, milters/archive.h), is replaced by a text/plain
 *     notice naming the file and the rule (banned-action = notice), or
 *     the message is refused (reject).  A part that could not be checked
 *     (too deep, too many, archive limits, an archive that cannot be
 *     read) fails the handler: on-error applies;
 *  2. text substitutions, link prefixing and defanging (milters/textrw.h)
 *     on the decoded text of the body's text/plain and text/html parts
 *     (not attachments, not attached messages), in the part's charset and
 *     transfer encoding (src/mime.h);
 *  3. header rules: delete (names, globs, /regex/), change (every field
 *     of a name gets a value, or a /regex/ substitution in its decoded
 *     value), add; values with ${variables}, RFC 2047-encoded when 8-bit;
 *  4. the subject tag, on inbound mail only, once: a Subject that already
 *     holds the tag (a reply, a re-injected message) is left alone.
 *
 * Body changes go to the shared MIME tree, so that the disclaimer (which
 * goes on after them whatever the chain order, src/mime.h) sees them and
 * parts neither touches stay byte-identical.  Header rules apply to the
 * fields the message came with (src/edits.h); a field a handler before
 * this one changed, or deleted, is left as that handler left it.
 * Signed and encrypted content is never changed in place: where a body
 * rule would change it, the domain's disclaimer "signed" / "encrypted"
 * key decides: reject refuses the message with its reply, anything else
 * leaves the content as it is (named in X-Sinkd-Rewrite).  A banned
 * attachment that cannot be cut out (inside signed or encrypted content,
 * or in a part whose bytes GMime does not see as they are) refuses the
 * message: it is never let through.  The one exception: inside
 * opaque-signed content with banned-action = notice, the whole signed
 * part gives way to banned-signed-notice (signed_replaceable).
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "../src/dkim.h"
#include "../src/handler.h"
#include "../src/hrule.h"
#include "../src/log.h"
#include "../src/match.h"
#include "../src/mime.h"
#include "../src/policy.h"
#include "../src/room.h"
#include "../src/rx.h"
#include "../src/stats.h"
#include "../src/template.h"
#include "archive.h"
#include "registry.h"
#include "smime.h"
#include "textrw.h"

#define HEADER "X-Sinkd-Rewrite"
#define MAX_LEAVES 10000
#define MAX_DEPTH 64

static const char *const banned_values[] = {"reject", "notice", NULL};

/*
 * check_extension - a banned-extensions entry: ".exe" (or "exe", made
 * ".exe"); "*.scr", a glob where an extension belongs, is taken as
 * ".scr" with a warning; what can never be the last extension of a file
 * name (white space, a slash, a glob, two dots' worth) is an error
 */
static int
check_extension(char **entry, char **why)
{
	const char *x = *entry;
	int rc = 0;

	if (x[0] == '*' && x[1] == '.') {
		x++;
		rc = 1;
		*why = g_strdup("banned-extensions takes extensions; globs go in banned-names");
	}
	x += *x == '.';
	if (*x == 0 || strpbrk(x, " \t/\\*?[]") != NULL) {
		g_free(*why);
		*why = g_strdup("not an extension (such as .exe); globs go in banned-names");
		return -1;
	}
	if (strchr(x, '.') != NULL) {
		g_free(*why);
		*why = g_strdup_printf("only the last extension of a name is compared; write banned-names = *.%s", x);
		return -1;
	}
	x = g_strconcat(".", x, NULL);
	g_free(*entry);
	*entry = (char *) x;
	return rc;
}

/* check_name - a banned-names entry: a glob; one with neither * nor ?
 * that starts with a dot names a file called that, not an extension */
static int
check_name(char **entry, char **why)
{
	if (**entry == '.' && strpbrk(*entry, "*?") == NULL) {
		*why = g_strdup_printf("matches only a file named \"%s\"; for the extension write *%s or use banned-extensions",
				       *entry, *entry);
		return 1;
	}
	return 0;
}

/* check_type - a banned-types entry: a type/subtype glob (or "*") */
static int
check_type(char **entry, char **why)
{
	if (strcmp(*entry, "*") && (strchr(*entry, '/') == NULL || strpbrk(*entry, " \t") != NULL)) {
		*why = g_strdup("not a MIME type glob (type/subtype, such as application/x-msdownload)");
		return -1;
	}
	return 0;
}

static const struct conf_key rewrite_keys[] = {
	{"direction", CONF_ENUM, "both", .values = direction_values, .merge = MERGE_ENUM_LAST,
	 .doc = "which mail the header and body rules apply to: outbound, inbound or both"},
	{"header-delete", CONF_LIST, "", .merge = MERGE_UNION,
	 .doc = "header fields to delete: names, globs (X-Spam-*) or /regex/"},
	{"header-change", CONF_LIST, "", .merge = MERGE_AGREE,
	 .doc = "\"Name: value\" (every such field gets the value, ${variables}) or \"Name: /regex/flags => new\" (a substitution in each value)"},
	{"header-add", CONF_LIST, "", .merge = MERGE_UNION,
	 .doc = "\"Name: value\" entries: fields to add (${variables})"},
	{"subject-tag", CONF_STRING, "", .merge = MERGE_AGREE,
	 .doc = "put before the Subject of inbound mail, once (for example [EXTERNAL])"},
	{"text-replace", CONF_LIST, "", .merge = MERGE_AGREE,
	 .doc = "substitutions on body text: \"old => new\" or \"/regex/flags => new\""},
	{"link-prefix", CONF_STRING, "", .merge = MERGE_AGREE,
	 .doc = "rewrite every http(s) link to this prefix + the URL, percent-encoded"},
	{"defang", CONF_BOOL, "no", .merge = MERGE_TRUE,
	 .doc = "make links in body text unclickable: hxxp://host[.]example"},
	{"regex-budget", CONF_INT, RX_BUDGET_DEFAULT, 1000, 1000000000000LL, .merge = MERGE_MIN,
	 .doc = "steps every /regex/ of the rules together may take on one message; more is a failure (on-error)"},
	{"banned-extensions", CONF_LIST, "", .merge = MERGE_UNION, .check = check_extension,
	 .doc = "attachment file-name extensions banned (.exe, .scr, ...)"},
	{"banned-names", CONF_LIST, "", .merge = MERGE_UNION, .check = check_name,
	 .doc = "attachment file-name globs banned (*.pdf.exe, ...), case-insensitive"},
	{"banned-types", CONF_LIST, "", .merge = MERGE_UNION, .check = check_type,
	 .doc = "attachment MIME-type globs banned (application/x-msdownload, ...)"},
	{"banned-action", CONF_ENUM, "notice", .values = banned_values, .merge = MERGE_ENUM,
	 .doc = "a banned attachment: notice (replace it by a text part) or reject"},
	{"banned-reply", CONF_REPLY, "550 5.7.1 Attachment ${file} is not accepted (${rule})", .merge = MERGE_DEFAULT,
	 .doc = "reply for banned-action = reject; ${file} and ${rule}"},
	{"banned-notice", CONF_STRING,
	 "The attachment \"${file}\" was removed by the mail gateway (${rule}).", .merge = MERGE_DEFAULT,
	 .doc = "text of the part put in place of a banned attachment"},
	{"banned-in-archives", CONF_BOOL, "yes", .merge = MERGE_TRUE,
	 .doc = "also ban an archive (zip, 7z, rar, tar, ...) holding a banned name, at any depth"},
	{"archive-max-depth", CONF_INT, "8", 1, 100, .merge = MERGE_MIN,
	 .doc = "deepest nesting of archives read for banned names; deeper is on-error"},
	{"archive-max-members", CONF_INT, "10000", 1, 10000000, .merge = MERGE_MIN,
	 .doc = "most archive members per message read for banned names; more is on-error"},
	{"archive-max-size", CONF_SIZE, "256m", 1, 16LL << 30, .merge = MERGE_MIN,
	 .doc = "most bytes decompressed per message looking for banned names; more is on-error"},
	{"banned-signed-notice", CONF_STRING,
	 "Signed content holding the attachment \"${file}\" was removed by the mail gateway (${rule}); its signature could not be kept.", .merge = MERGE_DEFAULT,
	 .doc = "text put in place of opaque-signed content holding a banned attachment (banned-action = notice)"},
	{NULL},
};

struct rewrite_cfg {
	int direction;
	guint64 regex_budget;	/* steps for every regex on one message */
	struct match_list *del;
	GPtrArray *change, *add;	/* struct hrule * */
	GPtrArray *subst;	/* struct hsub *: header-change substitutions */
	char *tag;
	struct textrw *text;
	char **ext;		/* lower case, no dot */
	GPtrArray *names, *types;	/* GPatternSpec *; pattern strings */
	char **name_src, **type_src;
	int reject_banned;
	const struct reply *banned_reply;
	const char *notice;
	int in_archives;	/* banned-in-archives */
	struct archive_limits archive;
	const char *signed_notice;
};

static const char *const file_variables[] = {
	"file", "rule", "client_addr", "client_name", "helo", "sender",
	"sender_domain", "queue_id", "auth_user", "nrcpt", "direction",
	"policy", "date", NULL,
};

/* A header-change entry "Name: /regex/ => new": a substitution in the
 * decoded value of every field of that name. */
struct hsub {
	char *name;
	struct textrw *rw;
};

static void
hsub_free(gpointer p)
{
	struct hsub *h = p;

	g_free(h->name);
	textrw_free(h->rw);
	g_free(h);
}

/* split_changes - header-change's substitutions out of c->change */
static void
split_changes(struct rewrite_cfg *c, const struct conf_group *g, struct conf_errors *e)
{
	guint i = 0;

	c->subst = g_ptr_array_new_with_free_func(hsub_free);
	while (i < c->change->len) {
		struct hrule *r = g_ptr_array_index(c->change, i);
		char *rule[2] = {r->tmpl, NULL}, *why = NULL;
		struct hsub *h;

		if (r->tmpl[0] != '/') {
			i++;
			continue;
		}
		h = g_new0(struct hsub, 1);
		h->name = g_strdup(r->name);
		if ((h->rw = textrw_new(rule, "", 0, &why)) == NULL) {
			conf_key_error(e, g, "header-change", "%s: %s", r->name,
				       why ? why : "empty rule");
			g_free(why);
			hsub_free(h);
		} else {
			g_ptr_array_add(c->subst, h);
		}
		g_ptr_array_remove_index(c->change, i);
	}
}

static void
rewrite_unload(void *p)
{
	struct rewrite_cfg *c = p;

	match_free(c->del);
	g_ptr_array_unref(c->change);
	g_ptr_array_unref(c->subst);
	g_ptr_array_unref(c->add);
	g_free(c->tag);
	textrw_free(c->text);
	g_strfreev(c->ext);
	g_ptr_array_unref(c->names);
	g_ptr_array_unref(c->types);
	g_strfreev(c->name_src);
	g_strfreev(c->type_src);
	g_free(c);
}

/* globs - lower-cased GPatternSpecs for a list key */
static GPtrArray *
globs(const struct conf_group *g, const char *key, char ***src)
{
	char *const *l = conf_list(g, key);
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) g_pattern_spec_free);
	GPtrArray *s = g_ptr_array_new();
	unsigned i;

	for (i = 0; l && l[i]; i++) {
		char *low = g_utf8_strdown(l[i], -1);

		g_ptr_array_add(out, g_pattern_spec_new(low));
		g_ptr_array_add(s, low);
	}
	g_ptr_array_add(s, NULL);
	*src = (char **) g_ptr_array_free(s, FALSE);
	return out;
}

/* load_hidden - the keys for names hidden in archives and signed content */
static void
load_hidden(struct rewrite_cfg *c, const struct conf_group *g, struct conf_errors *e)
{
	char *why = NULL;

	c->in_archives = conf_bool(g, "banned-in-archives");
	c->archive.depth = (unsigned) conf_num(g, "archive-max-depth");
	c->archive.members = (unsigned) conf_num(g, "archive-max-members");
	c->archive.size = (unsigned long long) conf_num(g, "archive-max-size");
	c->signed_notice = conf_str(g, "banned-signed-notice");
	if (tmpl_check(c->signed_notice, file_variables, &why) < 0) {
		conf_key_error(e, g, "banned-signed-notice", "%s", why);
		g_free(why);
	}
}

static void *
rewrite_load(const struct conf_group *g, struct conf_errors *e)
{
	struct rewrite_cfg *c = g_new0(struct rewrite_cfg, 1);
	char *const *ext = conf_list(g, "banned-extensions");
	char *why = NULL;
	GPtrArray *x = g_ptr_array_new();
	unsigned i;

	c->direction = (int) conf_num(g, "direction");
	c->regex_budget = (guint64) conf_num(g, "regex-budget");
	if ((c->del = match_compile(MATCH_NAME, (char **) conf_list(g, "header-delete"), &why)) == NULL
	    && why) {
		conf_key_error(e, g, "header-delete", "%s", why);
		g_free(why);
		why = NULL;
	}
	c->change = hrule_load(g, "header-change", e);
	split_changes(c, g, e);
	c->add = hrule_load(g, "header-add", e);
	c->tag = g_strstrip(g_strdup(conf_str(g, "subject-tag")));
	if (!g_utf8_validate(c->tag, -1, NULL))
		conf_key_error(e, g, "subject-tag", "not UTF-8");
	c->text = textrw_new((char **) conf_list(g, "text-replace"), conf_str(g, "link-prefix"),
			     conf_bool(g, "defang"), &why);
	if (c->text == NULL && why) {
		conf_key_error(e, g, g_str_has_prefix(why, "link prefix") ? "link-prefix"
			       : "text-replace", "%s", why);
		g_free(why);
		why = NULL;
	}
	for (i = 0; ext && ext[i]; i++) {
		const char *x0 = ext[i] + (ext[i][0] == '.');

		if (*x0 == '\0' || strchr(x0, '/'))
			conf_key_error(e, g, "banned-extensions", "\"%s\": not an extension", ext[i]);
		g_ptr_array_add(x, g_utf8_strdown(x0, -1));
	}
	g_ptr_array_add(x, NULL);
	c->ext = (char **) g_ptr_array_free(x, FALSE);
	c->names = globs(g, "banned-names", &c->name_src);
	c->types = globs(g, "banned-types", &c->type_src);
	c->reject_banned = conf_num(g, "banned-action") == 0;
	c->banned_reply = conf_reply(g, "banned-reply");
	if (reply_is_temp(c->banned_reply))
		conf_key_error(e, g, "banned-reply", "must be a 5xx reply");
	if (tmpl_check(c->banned_reply->text, file_variables, &why) < 0) {
		conf_key_error(e, g, "banned-reply", "%s", why);
		g_free(why);
		why = NULL;
	}
	c->notice = conf_str(g, "banned-notice");
	if (tmpl_check(c->notice, file_variables, &why) < 0) {
		conf_key_error(e, g, "banned-notice", "%s", why);
		g_free(why);
		why = NULL;
	}
	load_hidden(c, g, e);
	return c;
}

/* body_rules - whether any rule may change the body */
static int
body_rules(const struct rewrite_cfg *c)
{
	return c->text || c->ext[0] || c->names->len || c->types->len;
}

/* --- banned attachments --- */

struct ban {
	GMimeObject *part;
	GMimeObject *carrier;	/* the opaque-signed part holding it, or NULL */
	char *file;		/* as named, made printable */
	char *rule;		/* "extension exe", "name *.pdf.exe", ... */
};

static void
ban_free(gpointer p)
{
	struct ban *b = p;

	g_free(b->file);
	g_free(b->rule);
	g_free(b);
}

/* printable - attacker-named text made safe for a reply or a log line:
 * controls (bidirectional overrides too) replaced, at most 100 chars */
static char *
printable(const char *s)
{
	GString *o = g_string_new(NULL);
	char *v = g_utf8_make_valid(s, -1);
	const char *p;
	unsigned n = 0;

	for (p = v; *p && n < 100; p = g_utf8_next_char(p), n++) {
		gunichar u = g_utf8_get_char(p);

		if (g_unichar_iscntrl(u) || g_unichar_type(u) == G_UNICODE_FORMAT || u == '"')
			g_string_append_c(o, '?');
		else
			g_string_append_unichar(o, u);
	}
	g_free(v);
	return g_string_free(o, FALSE);
}

/* normal_name - a file name as Windows would take it: lower case, without
 * trailing dots and blanks, without invisible format characters (a
 * right-to-left override shows "exe.pdf" for "fdp.exe") */
static char *
normal_name(const char *name)
{
	char *v = g_utf8_make_valid(name, -1), *low;
	GString *o = g_string_new(NULL);
	const char *p;

	for (p = v; *p; p = g_utf8_next_char(p)) {
		gunichar u = g_utf8_get_char(p);

		if (g_unichar_type(u) != G_UNICODE_FORMAT && !g_unichar_iscntrl(u))
			g_string_append_unichar(o, u);
	}
	while (o->len && (o->str[o->len - 1] == '.' || g_ascii_isspace(o->str[o->len - 1])))
		g_string_truncate(o, o->len - 1);
	low = g_utf8_strdown(o->str, -1);
	g_string_free(o, TRUE);
	g_free(v);
	return low;
}

/* banned_name - the rule a file name breaks, or NULL */
static char *
banned_name(const struct rewrite_cfg *c, const char *name)
{
	char *n = normal_name(name), *dot = strrchr(n, '.'), *rule = NULL;
	unsigned i;

	for (i = 0; dot && c->ext[i] && !rule; i++)
		if (!strcmp(dot + 1, c->ext[i]))
			rule = g_strdup_printf("extension %s", c->ext[i]);
	for (i = 0; i < c->names->len && !rule; i++)
		if (g_pattern_spec_match_string(g_ptr_array_index(c->names, i), n))
			rule = g_strdup_printf("name %s", c->name_src[i]);
	g_free(n);
	return rule;
}

/* banned_path - banned_name for an archive member's path, and for the
 * name alone (a glob such as "x*.exe" is meant for it) */
static char *
banned_path(const struct rewrite_cfg *c, const char *path)
{
	const char *base = strrchr(path, '/');
	char *rule = banned_name(c, path);

	if (rule == NULL && base && base[1])
		rule = banned_name(c, base + 1);
	return rule;
}

struct member_ctx {
	const struct rewrite_cfg *c;
	char *rule;		/* the first banned member's rule */
	char *path;		/* ... and its path */
};

/* member_banned - archive_names' callback: stop at a banned member */
static int
member_banned(const char *path, void *ctx)
{
	struct member_ctx *mc = ctx;

	if ((mc->rule = banned_path(mc->c, path)) == NULL)
		return 0;
	mc->path = g_strdup(path);
	return 1;
}

/* part_archive - the first banned name among the members of a part that
 * is an archive: the rule, with *member set (NULL: none); *res says
 * whether every member could be read.  The part is decoded in memory
 * when its encoded size is within body-memory-limit, else into an
 * unlinked file in spool-dir that libarchive reads a block at a time,
 * with room for it reserved there first (room.h). */
static char *
part_archive(struct msg *m, const struct rewrite_cfg *c, GMimeObject *o,
	     struct archive_count *count, const char *name, char **member,
	     enum archive_result *res)
{
	const struct conf_group *g = &m->conn->snap->main;
	GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));
	struct member_ctx mc = {c, NULL, NULL};
	struct room room = ROOM_INIT;
	char why[200];
	GMimeStream *raw, *s;
	gint64 encoded;
	GByteArray *b;
	int fd;

	*member = NULL;
	*res = ARCHIVE_RESULT_NONE;
	if (w == NULL)
		return NULL;
	raw = g_mime_data_wrapper_get_stream(w);
	encoded = raw ? g_mime_stream_length(raw) : 0;
	if (encoded >= 0 && encoded <= conf_num(g, "body-memory-limit")) {
		s = g_mime_stream_mem_new();
		g_mime_data_wrapper_write_to_stream(w, s);
		b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
		*res = archive_names(b->data, b->len, name, &c->archive, count,
				     member_banned, &mc);
	} else if (room_reserve(&room, conf_str(g, "spool-dir"),
				(unsigned long long) (encoded >= 0 ? encoded : (gint64) m->size),
				why, sizeof(why)) < 0
		   || (fd = spool_tmpfile(conf_str(g, "spool-dir"))) < 0) {
		if (room.held == 0)
			log_warn("%s: rewrite: cannot decode a part to read it as an archive: spool-dir %s",
				 m->queue_id, why);
		else
			log_warn("%s: rewrite: cannot decode a part to read it as an archive: %s",
				 m->queue_id, g_strerror(errno));
		room_release(&room);
		*res = ARCHIVE_RESULT_UNREADABLE;
		return NULL;
	} else {
		/* the room is held while the part is written: then the
		 * file system counts its bytes itself (room.h) */
		s = g_mime_stream_fs_new(fd);	/* closes fd */
		if (g_mime_data_wrapper_write_to_stream(w, s) < 0 || g_mime_stream_flush(s) < 0) {
			room_release(&room);
			*res = ARCHIVE_RESULT_UNREADABLE;
		} else {
			room_release(&room);
			*res = archive_names_fd(fd, name, &c->archive, count, member_banned, &mc);
		}
	}
	g_object_unref(s);
	*member = mc.path;
	return mc.rule;
}

/* part_type - a part's MIME type, lower case (caller frees) */
static char *
part_type(GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	char *mt, *type;

	if (ct == NULL)
		return g_strdup("text/plain");
	mt = g_mime_content_type_get_mime_type(ct);
	type = g_ascii_strdown(mt, -1);
	g_free(mt);
	return type;
}

/* check_part - the rule one leaf breaks: any of its names, its type, or
 * a name inside it when it is an archive; NULL, with *problem set when
 * the archive could not be read whole */
static char *
check_part(struct msg *m, const struct rewrite_cfg *c, GMimeObject *o,
	   struct archive_count *count, char **file, const char **problem)
{
	GPtrArray *names = mime_part_names(o);
	char *rule = NULL, *type = part_type(o), *member = NULL;
	const char *first = names->len ? g_ptr_array_index(names, 0) : NULL;
	enum archive_result res;
	guint k;

	*file = NULL;
	/* any name a mail client may show: one banned is enough */
	for (k = 0; k < names->len && !rule; k++)
		if ((rule = banned_name(c, g_ptr_array_index(names, k))) != NULL)
			*file = g_strdup(g_ptr_array_index(names, k));
	for (k = 0; k < c->types->len && !rule; k++)
		if (g_pattern_spec_match_string(g_ptr_array_index(c->types, k), type)) {
			rule = g_strdup_printf("type %s", c->type_src[k]);
			*file = g_strdup(first ? first : type);
		}
	if (rule == NULL && c->in_archives && (c->ext[0] || c->names->len)) {
		rule = part_archive(m, c, o, count, first, &member, &res);
		if (rule) {
			*file = first ? g_strdup_printf("%s/%s", first, member)
				: g_strdup_printf("[%s]/%s", type, member);
			g_free(member);
		} else if (res != ARCHIVE_RESULT_NONE && res != ARCHIVE_RESULT_DONE) {
			*problem = archive_result_name(res);
		}
	}
	g_free(type);
	g_ptr_array_unref(names);
	return rule;
}

/* What a walk of the parts that left some out is logged as. */
static const char *const walk_problems[] = {
	[MIME_WALK_DEPTH] = "parts nested too deep",
	[MIME_WALK_COUNT] = "too many parts",
	[MIME_WALK_AMBIGUOUS] = "an ambiguous boundary",
	[MIME_WALK_SIZE] = "too much signed content",
};

/* find_bans - leaves under root, attached messages' and opaque-signed
 * content's included, whose name or type is banned, or that are archives
 * holding a banned name; NULL, or what kept a part from being checked */
static const char *
find_bans(const struct rewrite_cfg *c, struct msg *m, GMimeObject *root, GPtrArray *out,
	  struct smime_leaves *sl)
{
	struct archive_count count = {0, 0};
	const char *problem = NULL;
	enum mime_walk walk;
	guint l;

	/* signed content unwrapped, all levels together, comes to less than
	 * the message as long as it is base64; binary nesting is bounded */
	walk = smime_leaves(root, TRUE, MAX_LEAVES, MAX_DEPTH, 4 * m->spool.len + (1 << 20), sl);
	if (walk != MIME_WALK_COMPLETE)
		return walk_problems[walk];
	for (l = 0; l < sl->leaves->len && problem == NULL; l++) {
		GMimeObject *o = g_ptr_array_index(sl->leaves, l);
		char *file = NULL, *rule = check_part(m, c, o, &count, &file, &problem);
		struct ban *b;

		if (rule == NULL)
			continue;
		b = g_new0(struct ban, 1);
		b->part = o;
		b->carrier = g_hash_table_lookup(sl->carriers, o);
		b->file = printable(file);
		b->rule = rule;
		g_ptr_array_add(out, b);
		g_free(file);
	}
	return problem;
}

struct file_ctx {
	struct msg *m;
	const struct ban *b;
};

static const char *
file_lookup(const char *name, void *ctx)
{
	struct file_ctx *f = ctx;

	if (!strcmp(name, "file"))
		return f->b->file;
	if (!strcmp(name, "rule"))
		return f->b->rule;
	return msg_variable(name, f->m);
}

/* refuse_ban - the banned-reply for the first banned part */
static enum verdict
refuse_ban(struct msg *m, const struct rewrite_cfg *c, const struct ban *b)
{
	struct file_ctx f = {m, b};
	char *text = tmpl_expand(c->banned_reply->text, file_lookup, &f);
	struct reply r = {.text = NULL};
	enum verdict v;

	stats_banned("refused");
	log_info("%s: rewrite: banned attachment \"%s\" (%s); refused", m->queue_id,
		 b->file, b->rule);
	reply_set(&r, c->banned_reply->code, c->banned_reply->xcode, text);
	v = handler_refuse(m->conn, &r);
	reply_clear(&r);
	g_free(text);
	return v;
}

/* replace_ban - the part o (the banned one, or the signed part holding
 * it) becomes a text/plain notice from tmpl, in place */
static void
replace_ban(struct msg *m, GMimeObject *o, const char *tmpl, const struct ban *b)
{
	struct file_ctx f = {m, b};
	char *text = tmpl_expand(tmpl, file_lookup, &f);
	GMimeContentType *ct = g_mime_content_type_new("text", "plain");
	GMimeStream *s = g_mime_stream_mem_new();
	GMimeDataWrapper *w;
	GString *body = g_string_new(text);
	int eight = !g_str_is_ascii(text);

	g_string_append(body, "\r\n");
	g_mime_content_type_set_parameter(ct, "charset", eight ? "utf-8" : "us-ascii");
	g_mime_object_set_content_type(o, ct);
	g_object_unref(ct);
	/* every occurrence: a second field could still name the file */
	while (g_mime_object_remove_header(o, "Content-Disposition"))
		;
	while (g_mime_object_remove_header(o, "Content-Description"))
		;
	while (g_mime_object_remove_header(o, "Content-ID"))
		;
	g_mime_stream_write(s, body->str, body->len);
	g_mime_stream_reset(s);
	w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(GMIME_PART(o), w);
	g_mime_part_set_content_encoding(GMIME_PART(o), eight ? GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE
					 : GMIME_CONTENT_ENCODING_7BIT);
	g_object_unref(w);
	g_object_unref(s);
	g_string_free(body, TRUE);
	g_free(text);
	mime_part_changed(m, o);
}

/* under_signature - whether target lies inside a multipart/signed or
 * multipart/encrypted under o (inside: o itself is): 1 or 0, -1 when
 * target is not under o at all */
static int
under_signature(GMimeObject *o, GMimeObject *target, int inside, int depth)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	int i, n, r;

	if (o == target)
		return inside;
	if (depth <= 0)
		return -1;
	if (GMIME_IS_MULTIPART(o)) {
		inside |= GMIME_IS_MULTIPART_SIGNED(o) || GMIME_IS_MULTIPART_ENCRYPTED(o)
			|| (ct && (g_mime_content_type_is_type(ct, "multipart", "signed")
				   || g_mime_content_type_is_type(ct, "multipart", "encrypted")));
		n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (i = 0; i < n; i++)
			if ((r = under_signature(g_mime_multipart_get_part(GMIME_MULTIPART(o), i),
						 target, inside, depth - 1)) >= 0)
				return r;
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		if (inner)
			return under_signature(g_mime_message_get_mime_part(inner), target, inside,
					       depth - 1);
	}
	return -1;
}

/*
 * signed_replaceable - a banned part inside opaque-signed content cannot
 * be cut out of it: the content is inside the signature.  With
 * banned-action = notice the whole signed part gives way to a notice
 * (the signature would be lost whatever is changed), unless the part's
 * bytes are not as GMime sees them or a signature around it (a
 * multipart/signed or /encrypted above) would break too: then, as with
 * banned-action = reject, the message is refused.
 */
static int
signed_replaceable(struct msg *m, const struct rewrite_cfg *c, GMimeMessage *msg,
		   GMimeObject *carrier)
{
	if (c->reject_banned || !mime_part_editable(m, carrier))
		return 0;
	return under_signature(g_mime_message_get_mime_part(msg), carrier, 0, MAX_DEPTH) == 0;
}

/* replace_signed - the opaque-signed part holding b gives way to the
 * banned-signed-notice, named in X-Sinkd-Rewrite */
static void
replace_signed(struct msg *m, struct edits *e, const struct rewrite_cfg *c, const struct ban *b)
{
	char *why = g_strdup_printf("signed content removed (\"%s\", %s)", b->file, b->rule);

	replace_ban(m, b->carrier, c->signed_notice, b);
	edits_add_header(e, rewrite_handler.name, HEADER, why);
	log_info("%s: rewrite: banned attachment \"%s\" (%s) in opaque-signed content: "
		 "the signed part replaced by a notice, its signature removed",
		 m->queue_id, b->file, b->rule);
	g_free(why);
}

/* --- text --- */

/* is_body_text - a text/plain or text/html part that is not an attachment */
static int
is_body_text(GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	GMimeContentDisposition *cd = g_mime_object_get_content_disposition(o);

	if (!GMIME_IS_TEXT_PART(o) || ct == NULL)
		return 0;
	if (cd && !g_ascii_strcasecmp(g_mime_content_disposition_get_disposition(cd), "attachment"))
		return 0;
	return g_mime_content_type_is_type(ct, "text", "plain")
		|| g_mime_content_type_is_type(ct, "text", "html");
}

/* body_texts - the body's text parts, not inside attached messages */
static void
body_texts(GMimeObject *root, GPtrArray *out)
{
	GPtrArray *leaves = g_ptr_array_new();
	guint i;

	mime_leaves(root, leaves, FALSE, MAX_LEAVES, MAX_DEPTH);
	for (i = 0; i < leaves->len; i++)
		if (is_body_text(g_ptr_array_index(leaves, i)))
			g_ptr_array_add(out, g_ptr_array_index(leaves, i));
	g_ptr_array_unref(leaves);
}

/* rewrite_text - one part's rewritten text: 1 (and *out), 0, or -1 */
static int
rewrite_text(const struct rewrite_cfg *c, GMimeObject *o, char **out,
	     struct rx_budget *b)
{
	char *t = mime_text_get(GMIME_TEXT_PART(o));
	int rc;

	*out = NULL;
	if (t == NULL)
		return 0;
	if (g_mime_content_type_is_type(g_mime_object_get_content_type(o), "text", "html"))
		rc = textrw_html(c->text, t, out, b);
	else
		rc = textrw_plain(c->text, t, out, b);
	g_free(t);
	return rc;
}

/* --- headers --- */

/* taken - whether another handler earlier in the chain changed or
 * deleted the index-th field called name as received: its edit stands
 * (a later handler never undoes an earlier one's) and the rule is not
 * applied to that field; a change that is not applied is logged and
 * named in X-Sinkd-Rewrite */
static int
taken(struct msg *m, const struct edits *e, struct edits *hdr, const char *rule,
      const char *name, int index)
{
	const struct edit *ed = edits_header_edit(e, name, index);
	char *v;

	if (ed == NULL || !strcmp(ed->by, rewrite_handler.name))
		return 0;
	if (ed->value || strcmp(rule, "header-delete")) {
		v = g_strdup_printf("%s %s not applied (%s by %s)", rule, name,
				    ed->value ? "changed" : "deleted", ed->by);
		log_info("%s: rewrite: %s", m->queue_id, v);
		edits_add_header(hdr, rewrite_handler.name, HEADER, v);
		g_free(v);
	}
	return 1;
}

/* header_rules - delete, change, add, into hdr (e: the edits of the
 * handlers before); -1 when a regex spent the budget or hit its limit
 * (and hdr may hold some of the rules' edits) */
static int
header_rules(struct msg *m, const struct edits *e, struct edits *hdr,
	     const struct rewrite_cfg *c, struct rx_budget *b)
{
	guint i, k;
	int rc = 0;

	/* every field's index among its name, then deletions, last first */
	for (i = m->headers->len; i-- > 0 && c->del;) {
		const struct header *h = g_ptr_array_index(m->headers, i);
		int hit = match_test(c->del, h->name, b);

		if (hit < 0) {
			rc = -1;
			break;
		}
		if (hit && !taken(m, e, hdr, "header-delete", h->name, h->nth)
		    && dkim_may_change(m, DKIM_TOUCH_HEADER(h->name), rewrite_handler.name))
			edits_change_header(hdr, rewrite_handler.name, h->name, h->nth, NULL);
	}
	for (i = 0; rc == 0 && i < c->change->len; i++) {
		const struct hrule *r = g_ptr_array_index(c->change, i);
		char *v = hrule_value(r, m);
		int n = 0;

		for (k = 0; k < m->headers->len; k++)
			if (!g_ascii_strcasecmp(((struct header *) g_ptr_array_index(m->headers, k))->name, r->name)
			    && !taken(m, e, hdr, "header-change", r->name, ++n)
			    && dkim_may_change(m, DKIM_TOUCH_HEADER(r->name), rewrite_handler.name))
				edits_change_header(hdr, rewrite_handler.name, r->name, n, v);
		g_free(v);
	}
	for (i = 0; rc == 0 && i < c->subst->len; i++) {
		const struct hsub *h = g_ptr_array_index(c->subst, i);
		int n = 0;

		for (k = 0; rc == 0 && k < m->headers->len; k++) {
			const struct header *f = g_ptr_array_index(m->headers, k);
			const struct edit *ed;
			const char *now;
			char *value, *out = NULL, *enc;
			int r;

			if (g_ascii_strcasecmp(f->name, h->name))
				continue;
			/* on the value as the handlers so far left it: an
			 * earlier one's tag stays */
			n++;
			if ((ed = edits_header_edit(hdr, f->name, n)) == NULL)
				ed = edits_header_edit(e, f->name, n);
			if ((now = ed ? ed->value : f->value) == NULL)
				continue;
			value = g_mime_utils_header_decode_text(NULL, now + strspn(now, " \t"));
			r = textrw_plain(h->rw, value, &out, b);
			if (r < 0)
				rc = -1;
			if (r > 0 && dkim_may_change(m, DKIM_TOUCH_HEADER(f->name), rewrite_handler.name)) {
				enc = hrule_encode(out);
				edits_change_header(hdr, rewrite_handler.name, f->name, n, enc);
				g_free(enc);
			}
			g_free(out);
			g_free(value);
		}
	}
	for (i = 0; rc == 0 && i < c->add->len; i++) {
		const struct hrule *r = g_ptr_array_index(c->add, i);
		char *v;

		/* a field added at the end is the one a signature naming
		 * it in h= takes first */
		if (!dkim_may_change(m, DKIM_TOUCH_HEADER(r->name), rewrite_handler.name))
			continue;
		v = hrule_value(r, m);
		edits_add_header(hdr, rewrite_handler.name, r->name, v);
		g_free(v);
	}
	return rc;
}

/* subject_tag - the tag before the Subject, unless it is there already */
static void
subject_tag(struct msg *m, struct edits *e, const struct rewrite_cfg *c)
{
	const char *raw = edits_first_header(e, "Subject", msg_header_value(m, "Subject"));
	char *decoded, *low, *ltag, *tag, *v;

	if (raw) {
		decoded = g_mime_utils_header_decode_text(NULL, raw);
		low = g_utf8_casefold(decoded, -1);
		ltag = g_utf8_casefold(c->tag, -1);
		if (strstr(low, ltag)) {
			g_free(decoded);
			g_free(low);
			g_free(ltag);
			return;
		}
		g_free(decoded);
		g_free(low);
		g_free(ltag);
	}
	/* a signature that covers Subject and verified: dkim-signed says */
	if (!dkim_may_change(m, DKIM_TOUCH_SUBJECT, rewrite_handler.name))
		return;
	tag = hrule_encode(c->tag);
	if (raw) {
		v = g_strconcat(tag, " ", raw + strspn(raw, " \t"), NULL);
		edits_change_header(e, rewrite_handler.name, "Subject", 1, v);
	} else {
		v = g_strdup(tag);
		edits_add_header(e, rewrite_handler.name, "Subject", v);
	}
	g_free(v);
	g_free(tag);
}

/* --- protected mail --- */

/* protected_action - the disclaimer's signed / encrypted value for this
 * message's policy ("skip" when it cannot be read) */
static const char *
protected_action(struct msg *m, enum smime_kind k)
{
	const struct policy *p = msg_policy(m);
	const struct conf_group *g = p ? policy_group_of(p, &disclaimer_handler) : NULL;

	if (g == NULL)
		return "skip";
	return conf_str(g, k == SMIME_ENCRYPTED ? "encrypted" : "signed");
}

/* refuse_protected - the disclaimer's reply for protected mail */
static enum verdict
refuse_protected(struct msg *m, enum smime_kind k)
{
	const struct policy *p = msg_policy(m);
	const struct conf_group *g = policy_group_of(p, &disclaimer_handler);

	log_info("%s: rewrite: %s content would change; refused", m->queue_id,
		 smime_kind_name(k));
	return handler_refuse(m->conn, conf_reply(g, k == SMIME_ENCRYPTED
						   ? "encrypted-reply" : "signed-reply"));
}

/*
 * regex_failed - a regex of the rules (what) ran out: nothing of the
 * rules is applied, and the handler fails, so that on-error decides; when
 * it is accept, X-Sinkd-Rewrite says the rules were not applied
 */
static enum verdict
regex_failed(struct msg *m, struct edits *e, const char *what,
	     const struct rx_budget *b, const struct rewrite_cfg *c)
{
	const struct policy *p = msg_policy(m);
	const struct conf_group *g = p ? policy_group_of(p, &rewrite_handler) : NULL;

	if (b->spent)
		log_warn("%s: rewrite: the %s regexes spent regex-budget (%llu steps); "
			 "no rule applied", m->queue_id, what,
			 (unsigned long long) c->regex_budget);
	else
		log_warn("%s: rewrite: a %s regex hit its match limit; no rule applied",
			 m->queue_id, what);
	if (g && !strcmp(conf_str(g, "on-error"), "accept"))
		edits_add_header(e, rewrite_handler.name, HEADER,
				 b->spent ? "not applied (regex-budget spent)"
				 : "not applied (regex match limit)");
	return VERDICT_ERROR;
}

static enum verdict
rewrite_eom(struct msg *m, struct edits *e, const void *cfg)
{
	const struct rewrite_cfg *c = cfg;
	struct smime_scan sc = {0};
	struct smime_leaves sl = {0};
	struct rx_budget budget;
	struct edits hdr = {NULL};
	GMimeMessage *msg = NULL;
	GPtrArray *bans, *texts, *changed, *carriers;
	unsigned i, blocked = 0;
	enum verdict v = VERDICT_CONTINUE;
	const char *problem;

	if (!direction_applies(c->direction, m->outbound)) {
		/* the subject tag is for inbound mail whatever direction says */
		if (*c->tag && !m->outbound)
			subject_tag(m, e, c);
		return VERDICT_CONTINUE;
	}
	if (body_rules(c) && (msg = mime_message(m)) != NULL)
		smime_scan(msg, &sc);
	bans = g_ptr_array_new_with_free_func(ban_free);
	texts = g_ptr_array_new();
	changed = g_ptr_array_new();	/* part, its new text, ... */
	carriers = g_ptr_array_new();
	if (msg && (c->ext[0] || c->names->len || c->types->len)
	    && (problem = find_bans(c, m, g_mime_message_get_mime_part(msg), bans, &sl)) != NULL) {
		/* a part the check could not reach may be banned: never pass it */
		log_warn("%s: rewrite: banned attachments: not every part could be checked (%s)",
			 m->queue_id, problem);
		v = VERDICT_ERROR;
		goto done;
	}
	for (i = 0; i < bans->len; i++) {
		const struct ban *b = g_ptr_array_index(bans, i);

		/* never let a banned part through: one that cannot be cut out
		 * cleanly refuses the message */
		if (b->carrier ? !signed_replaceable(m, c, msg, b->carrier)
		    : (c->reject_banned || sc.kind != SMIME_NONE || !mime_part_editable(m, b->part))) {
			v = refuse_ban(m, c, b);
			goto done;
		}
	}
	if (sc.kind == SMIME_ENCRYPTED && bans->len == 0 && c->text) {
		/* the text cannot be read: whether a rule would change it is
		 * unknown, so only "reject" refuses */
		if (!strcmp(protected_action(m, sc.kind), "reject")) {
			v = refuse_protected(m, sc.kind);
			goto done;
		}
		blocked = 1;
	}
	/* every rule is worked out before anything changes: a regex that
	 * runs out of budget half-way leaves the message as it came */
	rx_budget_init(&budget, c->regex_budget);
	edits_init(&hdr);
	if (msg && c->text && sc.kind != SMIME_ENCRYPTED) {
		body_texts(g_mime_message_get_mime_part(msg), texts);
		for (i = 0; i < texts->len; i++) {
			GMimeObject *o = g_ptr_array_index(texts, i);
			char *out = NULL;
			int rc = rewrite_text(c, o, &out, &budget);

			if (rc < 0) {
				v = regex_failed(m, e, "text-replace", &budget, c);
				goto done;
			}
			if (rc == 0)
				continue;
			if (sc.kind == SMIME_SIGNED) {
				g_free(out);
				if (!strcmp(protected_action(m, sc.kind), "reject")) {
					v = refuse_protected(m, sc.kind);
					goto done;
				}
				blocked = 1;
				break;
			}
			/* text rules change the body: not under a
			 * signature that verified, when dkim-signed = skip
			 * (banned parts are replaced all the same) */
			if (!dkim_may_change(m, DKIM_TOUCH_BODY, rewrite_handler.name)) {
				g_free(out);
				break;
			}
			if (!mime_part_editable(m, o)) {
				log_warn("%s: rewrite: a text part does not match its bytes; left alone",
					 m->queue_id);
				g_free(out);
				continue;
			}
			g_ptr_array_add(changed, o);
			g_ptr_array_add(changed, out);
		}
	}
	if (header_rules(m, e, &hdr, c, &budget) < 0) {
		v = regex_failed(m, e, "header", &budget, c);
		goto done;
	}
	for (i = 0; i < changed->len; i += 2) {
		GMimeObject *o = g_ptr_array_index(changed, i);

		mime_text_set(GMIME_TEXT_PART(o), g_ptr_array_index(changed, i + 1));
		mime_part_changed(m, o);
	}
	if (changed->len)
		msg_note(m, "rewrite", "text");
	for (i = 0; i < bans->len; i++) {
		const struct ban *b = g_ptr_array_index(bans, i);

		stats_banned("replaced");
		if (b->carrier == NULL) {
			replace_ban(m, b->part, c->notice, b);
			msg_note(m, "rewrite", "replaced:%s", b->file);
			log_info("%s: rewrite: banned attachment \"%s\" (%s) replaced by a notice",
				 m->queue_id, b->file, b->rule);
		} else if (!g_ptr_array_find(carriers, b->carrier, NULL)) {
			g_ptr_array_add(carriers, b->carrier);
			replace_signed(m, e, c, b);
		}
	}
	edits_move(e, &hdr);
	if (blocked) {
		char *why = g_strdup_printf("skipped (%s)", smime_kind_name(sc.kind));

		edits_add_header(e, rewrite_handler.name, HEADER, why);
		log_info("%s: rewrite: %s content left unchanged", m->queue_id,
			 smime_kind_name(sc.kind));
		g_free(why);
	}
	if (*c->tag && !m->outbound)
		subject_tag(m, e, c);
done:
	for (i = 1; i < changed->len; i += 2)
		g_free(g_ptr_array_index(changed, i));
	g_ptr_array_unref(changed);
	if (hdr.list)
		edits_free(&hdr);
	g_ptr_array_unref(bans);
	g_ptr_array_unref(texts);
	g_ptr_array_unref(carriers);
	smime_leaves_clear(&sl);
	return v;
}

/*
 * rewrite_inbound - the group as it acts on inbound mail, for combining
 * policies.  With direction = outbound the domain asks for no rule on
 * inbound mail (the subject tag apart): its rules are emptied, so that
 * the combination takes another domain's bans as they are, and another
 * domain's text rules only where this one has none either.  Without
 * banned attachments, how they are handled is left out.
 */
static void
rewrite_inbound(struct conf_group *g, int chained)
{
	static const char *const rules[] = {
		"header-delete", "header-change", "header-add", "text-replace",
		"link-prefix", "banned-extensions", "banned-names", "banned-types",
	};
	static const char *const banned[] = {
		"banned-action", "banned-reply", "banned-notice",
	};
	unsigned i;

	if (!chained) {
		for (i = 0; i < g->n; i++)
			g->val[i].unused = 1;
		return;
	}
	if (!strcmp(conf_str(g, "direction"), "outbound")) {
		for (i = 0; i < G_N_ELEMENTS(rules); i++)
			conf_set(g, rules[i], "");
		conf_set(g, "defang", "no");
	}
	if (conf_list(g, "banned-extensions")[0] == NULL
	    && conf_list(g, "banned-names")[0] == NULL
	    && conf_list(g, "banned-types")[0] == NULL)
		for (i = 0; i < G_N_ELEMENTS(banned); i++)
			conf_unused(g, banned[i]);
}

const struct handler rewrite_handler = {
	.name = "rewrite",
	.keys = rewrite_keys,
	.needs = HANDLER_NEEDS_HEADERS | HANDLER_NEEDS_BODY,
	.load = rewrite_load,
	.unload = rewrite_unload,
	.eom = rewrite_eom,
	.inbound = rewrite_inbound,
};
