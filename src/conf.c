/*
 * conf - typed keys, key files with line numbers, collected errors
 */
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "cidr.h"
#include "conf.h"
#include "log.h"
#include "socket.h"

struct conf_file {
	char *path;
	GKeyFile *kf;
	GHashTable *lines;	/* "group\nkey" or "group" -> line */
	GPtrArray *groups;	/* in file order */
};

/* conf_errors_init - an empty error list */
void
conf_errors_init(struct conf_errors *e)
{
	e->msgs = g_ptr_array_new_with_free_func(g_free);
	e->warnings = g_ptr_array_new_with_free_func(g_free);
	e->files = g_ptr_array_new_with_free_func(g_free);
	e->user = (uid_t) -1;
}

void
conf_errors_free(struct conf_errors *e)
{
	if (e->msgs)
		g_ptr_array_free(e->msgs, TRUE);
	if (e->warnings)
		g_ptr_array_free(e->warnings, TRUE);
	if (e->files)
		g_ptr_array_free(e->files, TRUE);
	e->msgs = e->warnings = e->files = NULL;
}

/* one_line - msg with its control characters escaped (a value quoted in
 * it may hold a newline), so that one error stays one line; frees msg */
static char *
one_line(char *msg)
{
	GString *o = g_string_sized_new(strlen(msg));
	const unsigned char *p;

	for (p = (const unsigned char *) msg; *p; p++) {
		if (*p == '\n')
			g_string_append(o, "\\n");
		else if ((*p < ' ' && *p != '\t') || *p == 0x7f)
			g_string_append_printf(o, "\\x%02x", *p);
		else
			g_string_append_c(o, *p);
	}
	g_free(msg);
	return g_string_free(o, FALSE);
}

/* add_once - add msg (taken over) to a, unless a holds it: a value
 * inherited by several policies is reported once */
static void
add_once(GPtrArray *a, char *msg)
{
	guint i;

	for (i = 0; i < a->len; i++) {
		if (!strcmp(g_ptr_array_index(a, i), msg)) {
			g_free(msg);
			return;
		}
	}
	g_ptr_array_add(a, msg);
}

/* conf_errorf - add one preformatted error */
void
conf_errorf(struct conf_errors *e, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = one_line(g_strdup_vprintf(fmt, ap));
	va_end(ap);
	add_once(e->msgs, msg);
}

/* conf_warnf - add one preformatted warning ("file:line: key: warning:
 * what"): something that works, though likely not as meant */
void
conf_warnf(struct conf_errors *e, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (e->warnings == NULL)
		return;
	va_start(ap, fmt);
	msg = one_line(g_strdup_vprintf(fmt, ap));
	va_end(ap);
	add_once(e->warnings, msg);
}

/* conf_key_warn - "file:line: key: warning: message" for a value */
void
conf_key_warn(struct conf_errors *e, const struct conf_group *g,
	      const char *key, const char *fmt, ...)
{
	const struct conf_value *v = conf_get(g, key);
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (v->file)
		conf_warnf(e, "%s:%d: %s: warning: %s", v->file, v->line, key, msg);
	else
		conf_warnf(e, "built-in default of [%s] %s: warning: %s", g->name,
			   key, msg);
	g_free(msg);
}

/* A message, as conf_errors_report() sorts it. */
struct report_item {
	const char *msg;
	int warning;
	unsigned file;		/* 0: no file; 1 + index in files read;
				 * then files not read, by name */
	const char *name;	/* such a file's name (not NUL-terminated) */
	size_t namelen;
	long line;
};

/* report_place - where msg says it is: "file:line: ..." or "file: ..." */
static void
report_place(const struct conf_errors *e, struct report_item *r)
{
	const char *m = r->msg, *p;
	guint i;

	for (i = 0; e->files && i < e->files->len; i++) {
		const char *f = g_ptr_array_index(e->files, i);
		size_t n = strlen(f);

		if (!strncmp(m, f, n) && m[n] == ':') {
			r->file = 1 + i;
			r->line = isdigit((unsigned char) m[n + 1]) ? strtol(m + n + 1, NULL, 10) : 0;
			return;
		}
	}
	/* "file:123: " or "/file: " of a file not read (a template, a list,
	 * a policy file with a bad name) */
	if (*m == '/' && (p = strstr(m, ": ")) != NULL && memchr(m, ' ', p - m) == NULL) {
		r->file = G_MAXUINT;
		r->name = m;
		r->namelen = (size_t) (p - m);
	}
	for (p = m; *p && *p != ' '; p++) {
		if (*p == ':' && isdigit((unsigned char) p[1])) {
			char *end;
			long line = strtol(p + 1, &end, 10);

			if (*end == ':' && p > m) {
				r->file = G_MAXUINT;
				r->name = m;
				r->namelen = (size_t) (p - m);
				r->line = line;
				return;
			}
		}
	}
}

/* report_cmp - order of messages: those of no file first, then by file
 * (in the order read), then by line; g_ptr_array_sort is stable */
static gint
report_cmp(gconstpointer a, gconstpointer b)
{
	const struct report_item *x = *(struct report_item *const *) a;
	const struct report_item *y = *(struct report_item *const *) b;
	int c;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->file == G_MAXUINT) {
		c = strncmp(x->name, y->name, MIN(x->namelen, y->namelen));
		if (c == 0 && x->namelen != y->namelen)
			c = x->namelen < y->namelen ? -1 : 1;
		if (c)
			return c;
	}
	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * conf_errors_report - every error and warning, sorted by file (files in
 * the order they were read, messages of no file first) and line, each
 * passed to out() with whether it is a warning
 */
void
conf_errors_report(const struct conf_errors *e, conf_report_fn out, void *ctx)
{
	GPtrArray *all = g_ptr_array_new_with_free_func(g_free);
	guint i, w;

	for (w = 0; w < 2; w++) {
		GPtrArray *src = w ? e->warnings : e->msgs;

		for (i = 0; src && i < src->len; i++) {
			struct report_item *r = g_new0(struct report_item, 1);

			r->msg = g_ptr_array_index(src, i);
			r->warning = (int) w;
			report_place(e, r);
			g_ptr_array_add(all, r);
		}
	}
	g_ptr_array_sort(all, report_cmp);
	for (i = 0; i < all->len; i++) {
		struct report_item *r = g_ptr_array_index(all, i);

		out(r->warning, r->msg, ctx);
	}
	g_ptr_array_free(all, TRUE);
}

/* conf_key_error - "file:line: key: message" for a value in a group */
void
conf_key_error(struct conf_errors *e, const struct conf_group *g,
	       const char *key, const char *fmt, ...)
{
	const struct conf_value *v = conf_get(g, key);
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (v->file)
		conf_errorf(e, "%s:%d: %s: %s", v->file, v->line, key, msg);
	else
		conf_errorf(e, "built-in default of [%s] %s: %s", g->name, key,
			    msg);
	g_free(msg);
}

/* line_key - the key name on a "key = value" line, or NULL */
static char *
line_key(const char *line)
{
	const char *eq = strchr(line, '='), *end;

	if (eq == NULL || eq == line)
		return NULL;
	end = eq;
	while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == line)
		return NULL;
	return g_strndup(line, end - line);
}

/*
 * comment_start - where an inline comment starts in a value as written:
 * a # at its start or after white space, not escaped (\#); NULL when
 * there is none
 */
static const char *
comment_start(const char *raw)
{
	const char *p;

	for (p = raw; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '#' && (p == raw || p[-1] == ' ' || p[-1] == '\t'))
			return p;
	}
	return NULL;
}

/*
 * value_unescape - a value as written, its inline comment cut off, with
 * the key-file escapes undone: \s, \n, \t, \r, \\ and sinkd's \# (a #
 * that does not start a comment); an escape of neither kind is kept as
 * written (\d in a regex, \, in a list); g_free() the answer
 */
static char *
value_unescape(const char *raw)
{
	const char *end = comment_start(raw), *p;
	GString *o = g_string_new(NULL);

	if (end == NULL)
		end = raw + strlen(raw);
	for (p = raw; p < end; p++) {
		if (*p != '\\' || p + 1 >= end) {
			g_string_append_c(o, *p);
			continue;
		}
		switch (*++p) {
		case 's': g_string_append_c(o, ' '); break;
		case 'n': g_string_append_c(o, '\n'); break;
		case 't': g_string_append_c(o, '\t'); break;
		case 'r': g_string_append_c(o, '\r'); break;
		case '\\': g_string_append_c(o, '\\'); break;
		case '#': g_string_append_c(o, '#'); break;
		default:
			g_string_append_c(o, '\\');
			g_string_append_c(o, *p);
		}
	}
	return g_strstrip(g_string_free(o, FALSE));
}

/*
 * conf_value_escape - raw written as a value that reads back as raw: the
 * escapes value_unescape() undoes, a # that would start a comment as \#,
 * and white space at either end as \s; g_free() the answer
 */
char *
conf_value_escape(const char *raw)
{
	GString *o = g_string_new(NULL);
	const char *p;

	for (p = raw; *p; p++) {
		switch (*p) {
		case '\n': g_string_append(o, "\\n"); break;
		case '\t': g_string_append(o, "\\t"); break;
		case '\r': g_string_append(o, "\\r"); break;
		case '\\':
			/* "\," in a list stays: it is the list's own escape */
			g_string_append(o, p[1] == ',' ? "\\" : "\\\\");
			break;
		case '#':
			g_string_append(o, p == raw || p[-1] == ' ' ? "\\#" : "#");
			break;
		case ' ':
			g_string_append(o, p == raw || p[1] == 0 ? "\\s" : " ");
			break;
		default:
			g_string_append_c(o, *p);
		}
	}
	return g_string_free(o, FALSE);
}

/* inline_comment - warn of a comment after a value, which sinkd.conf(5)
 * takes as one, though a reader used to main.cf would not */
static void
inline_comment(const struct conf_file *f, int line, const char *key,
	       const char *l, struct conf_errors *e)
{
	const char *v = strchr(l, '=') + 1, *c;

	while (*v == ' ' || *v == '\t')
		v++;
	if ((c = comment_start(v)) == NULL)
		return;
	conf_warnf(e, "%s:%d: %s: warning: \"%s\" is taken as a comment; write \\# for a # in a value",
		   f->path, line, key, c);
}

/*
 * conf_index - note where groups and keys are; report what GKeyFile would
 * accept silently (keys set twice) or report without a line number, and
 * warn of inline comments.  Every problem is reported: the lines in error
 * are made comments in text (which GKeyFile then reads), and after a bad
 * group line every line up to the next group, so that one mistake does
 * not hide the next.  The number of errors.
 */
static int
conf_index(struct conf_file *f, char *text, struct conf_errors *e)
{
	char **lines = g_strsplit(text, "\n", -1), *group = NULL, *out = text;
	int i, bad = 0, skip = 0;

	for (i = 0; lines[i]; i++) {
		char *l = lines[i], *key, *id;
		size_t len;
		int drop = 1;
		gpointer seen;

		while (*l == ' ' || *l == '\t')
			l++;
		len = strlen(l);
		if (len && l[len - 1] == '\r')
			l[--len] = 0;
		if (*l == 0 || *l == '#') {
			drop = 0;
		} else if (!g_utf8_validate(l, -1, NULL)) {
			/* GLib's globs and case folding take UTF-8 only */
			conf_errorf(e, "%s:%d: not valid UTF-8: a configuration file is UTF-8",
				    f->path, i + 1);
			bad++;
		} else if (*l == '[') {
			if (len < 3 || l[len - 1] != ']') {
				conf_errorf(e, "%s:%d: bad group line \"%s\": write [name]",
					    f->path, i + 1, l);
				bad++;
				skip = 1;
			} else {
				g_free(group);
				group = g_strndup(l + 1, len - 2);
				skip = 0;
				drop = 0;
				if (g_hash_table_lookup_extended(f->lines, group, NULL, &seen)) {
					/* GKeyFile takes the keys of both */
					conf_errorf(e, "%s:%d: [%s]: group appears twice (first at line %d)",
						    f->path, i + 1, group, GPOINTER_TO_INT(seen));
					bad++;
				} else {
					g_hash_table_insert(f->lines, g_strdup(group), GINT_TO_POINTER(i + 1));
					g_ptr_array_add(f->groups, g_strdup(group));
				}
			}
		} else if (skip) {
			/* in a group whose line is bad: reported there */
		} else if ((key = line_key(l)) == NULL) {
			conf_errorf(e, "%s:%d: not a \"key = value\" line, a [group] or a # comment: \"%s\"",
				    f->path, i + 1, l);
			bad++;
		} else if (group == NULL) {
			conf_errorf(e, "%s:%d: %s: key before any [group]",
				    f->path, i + 1, key);
			bad++;
			g_free(key);
		} else {
			id = g_strconcat(group, "\n", key, NULL);
			if (g_hash_table_lookup_extended(f->lines, id, NULL, &seen)) {
				conf_errorf(e, "%s:%d: %s: set twice in [%s] (first at line %d)",
					    f->path, i + 1, key, group, GPOINTER_TO_INT(seen));
				bad++;
				g_free(id);
			} else {
				g_hash_table_insert(f->lines, id, GINT_TO_POINTER(i + 1));
				inline_comment(f, i + 1, key, l, e);
				drop = 0;
			}
			g_free(key);
		}
		/* text becomes the lines again, those in error as comments */
		len = strlen(lines[i]);
		if (drop) {
			*out++ = '#';
			memset(out, ' ', len ? len - 1 : 0);
			out += len ? len - 1 : 0;
		} else {
			memmove(out, lines[i], len);
			out += len;
		}
		if (lines[i + 1])
			*out++ = '\n';
	}
	*out = 0;
	g_free(group);
	g_strfreev(lines);
	return bad;
}

/* user_name - the name of uid, or NULL; g_free() */
static char *
user_name(uid_t uid)
{
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) != 0 || found == NULL)
		return NULL;
	return g_strdup(pw.pw_name);
}

/* trusted_names - who may own sinkd's files: "root", "root or sinkd",
 * "root, alice or sinkd"; g_free() */
static char *
trusted_names(uid_t user)
{
	uid_t ids[] = {0, geteuid(), user};
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GString *out = g_string_new(NULL);
	unsigned i, j;

	for (i = 0; i < G_N_ELEMENTS(ids); i++) {
		char *name;

		for (j = 0; j < i && ids[j] != ids[i]; j++)
			;
		if (j < i || ids[i] == (uid_t) -1)
			continue;
		name = user_name(ids[i]);
		g_ptr_array_add(names, name ? name : g_strdup_printf("uid %u", (unsigned) ids[i]));
	}
	for (i = 0; i < names->len; i++)
		g_string_append_printf(out, "%s%s", i == 0 ? "" : i + 1 == names->len ? " or " : ", ",
				       (char *) g_ptr_array_index(names, i));
	g_ptr_array_free(names, TRUE);
	return g_string_free(out, FALSE);
}

/* stat_unsafe - why path, as st describes it, cannot be trusted, or NULL;
 * g_free() */
static char *
stat_unsafe(const char *path, const struct stat *st, unsigned flags, uid_t user)
{
	unsigned mode = (unsigned) (st->st_mode & 07777);
	char *name, *who, *why;

	if (mode & S_IWOTH)
		return g_strdup_printf("%s: writable by others (mode %04o); chmod %s it",
				       path, mode, mode & S_IWGRP ? "go-w" : "o-w");
	if (mode & S_IWGRP)
		return g_strdup_printf("%s: group-writable (mode %04o); chmod g-w it", path, mode);
	if (!(flags & CONF_FILE_ANY_OWNER) && st->st_uid != 0 && st->st_uid != geteuid()
	    && st->st_uid != user) {
		name = user_name(st->st_uid);
		who = trusted_names(user);
		why = g_strdup_printf("%s: owned by uid %u (%s), not %s; chown root it", path,
				      (unsigned) st->st_uid, name ? name : "no such user", who);
		g_free(name);
		g_free(who);
		return why;
	}
	if ((flags & CONF_FILE_SECRET) && (mode & S_IROTH))
		return g_strdup_printf("%s: a secret readable by others (mode %04o); chmod o-rwx it",
				       path, mode);
	return NULL;
}

/* dir_unsafe - why the directory holding path cannot be trusted, or NULL */
static char *
dir_unsafe(const char *path, unsigned flags, uid_t user)
{
	char *dir = g_path_get_dirname(path), *why = NULL;
	struct stat st;

	if (stat(dir, &st) == 0)
		why = stat_unsafe(dir, &st, flags & ~CONF_FILE_SECRET, user);
	g_free(dir);
	return why;
}

/*
 * conf_file_unsafe - why path cannot be trusted, or NULL: a file that
 * others or its group may write, or that belongs to someone other than
 * root, the process itself and user (sinkd's user; (uid_t) -1: none) —
 * anyone who can change it could change what sinkd does — and the same of
 * the directory holding it (which decides what file stands under the
 * name) and, for a symbolic link, of the directory holding its target.
 * CONF_FILE_SECRET: others must not read the file either (a key);
 * CONF_FILE_ANY_OWNER: its owner does not matter, its mode does (the
 * signatures freshclam keeps as user clamav).  g_free() the answer.  A
 * file that cannot be looked at is left to the caller, whose open() says
 * why.
 */
char *
conf_file_unsafe(const char *path, unsigned flags, uid_t user)
{
	struct stat st;
	char *why, *real;

	if (stat(path, &st) < 0)
		return NULL;
	if ((why = stat_unsafe(path, &st, flags, user)) != NULL)
		return why;
	if ((why = dir_unsafe(path, flags, user)) != NULL)
		return why;
	real = realpath(path, NULL);
	if (real) {
		char *a = g_path_get_dirname(path), *b = g_path_get_dirname(real);
		char *ra = realpath(a, NULL);

		if (ra == NULL || strcmp(ra, b))
			why = dir_unsafe(real, flags, user);
		free(ra);
		g_free(a);
		g_free(b);
		free(real);
	}
	return why;
}

/* conf_file_read - parse one key file; NULL (errors added) on failure */
struct conf_file *
conf_file_read(const char *path, struct conf_errors *e)
{
	struct conf_file *f = g_new0(struct conf_file, 1);
	GError *err = NULL;
	char *text = NULL, *why;
	gsize len;

	f->path = g_strdup(path);
	f->lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	f->groups = g_ptr_array_new_with_free_func(g_free);
	f->kf = g_key_file_new();
	if (e->files && !g_ptr_array_find_with_equal_func(e->files, path, g_str_equal, NULL))
		g_ptr_array_add(e->files, g_strdup(path));
	if (access(path, R_OK) < 0) {
		conf_errorf(e, "%s: cannot read: %s", path, g_strerror(errno));
		goto fail;
	}
	if ((why = conf_file_unsafe(path, 0, e->user)) != NULL) {
		conf_errorf(e, "%s", why);
		g_free(why);
		goto fail;
	}
	if (!g_file_get_contents(path, &text, &len, &err)) {
		conf_errorf(e, "%s: cannot read: %s", path, err->message);
		goto fail;
	}
	if (memchr(text, 0, len) != NULL) {
		conf_errorf(e, "%s: contains a NUL byte", path);
		goto fail;
	}
	/* errors or not, the rest is read, to report every error at once;
	 * the caller sees them in e */
	conf_index(f, text, e);
	if (!g_key_file_load_from_data(f->kf, text, strlen(text), G_KEY_FILE_NONE, &err)) {
		conf_errorf(e, "%s: %s", path, err->message);
		goto fail;
	}
	g_free(text);
	return f;
fail:
	g_clear_error(&err);
	g_free(text);
	conf_file_free(f);
	return NULL;
}

void
conf_file_free(struct conf_file *f)
{
	if (f == NULL)
		return;
	g_key_file_free(f->kf);
	g_hash_table_destroy(f->lines);
	g_ptr_array_free(f->groups, TRUE);
	g_free(f->path);
	g_free(f);
}

const char *
conf_file_path(const struct conf_file *f)
{
	return f->path;
}

/* conf_file_groups - group names in file order (caller frees the vector) */
char **
conf_file_groups(const struct conf_file *f)
{
	char **v = g_new0(char *, f->groups->len + 1);
	guint i;

	for (i = 0; i < f->groups->len; i++)
		v[i] = g_strdup(g_ptr_array_index(f->groups, i));
	return v;
}

int
conf_file_group_line(const struct conf_file *f, const char *group)
{
	return GPOINTER_TO_INT(g_hash_table_lookup(f->lines, group));
}

int
conf_file_key_line(const struct conf_file *f, const char *group,
		   const char *key)
{
	char *id = g_strconcat(group, "\n", key, NULL);
	int line = GPOINTER_TO_INT(g_hash_table_lookup(f->lines, id));

	g_free(id);
	return line;
}

/* parse_num - integer with an optional unit suffix */
static int
parse_num(const char *s, enum conf_type t, long long *out, const char **why)
{
	char *end;
	long long n, mul = 1;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || errno == ERANGE) {
		*why = t == CONF_SIZE ? "not a size (a number, optionally with k, m or g)"
			: t == CONF_TIME ? "not a time (a number, optionally with s, m, h or d)"
			: "not a number";
		return -1;
	}
	if (*end && t == CONF_SIZE && end[1] == 0) {
		switch (tolower((unsigned char) *end)) {
		case 'k': mul = 1024; break;
		case 'm': mul = 1024 * 1024; break;
		case 'g': mul = 1024LL * 1024 * 1024; break;
		default: mul = 0;
		}
		end++;
	} else if (*end && t == CONF_TIME && end[1] == 0) {
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: mul = 0;
		}
		end++;
	}
	if (*end || mul == 0) {
		*why = t == CONF_SIZE ? "not a size (a number, optionally with k, m or g)"
			: t == CONF_TIME ? "not a time (a number, optionally with s, m, h or d)"
			: "not a number";
		return -1;
	}
	if (n > LLONG_MAX / mul || n < LLONG_MIN / mul) {
		*why = "out of range";
		return -1;
	}
	*out = n * mul;
	return 0;
}

/* conf_file_keys - the keys of a group, in file order (caller frees) */
char **
conf_file_keys(const struct conf_file *f, const char *group)
{
	return g_key_file_get_keys(f->kf, group, NULL, NULL);
}

/* conf_file_get - a value with its inline comment cut off and key-file
 * escapes undone (caller frees) */
char *
conf_file_get(const struct conf_file *f, const char *group, const char *key)
{
	char *v = g_key_file_get_value(f->kf, group, key, NULL), *u;

	if (v == NULL)
		return NULL;
	u = value_unescape(v);
	g_free(v);
	return u;
}

/* split_list - comma-separated entries, trimmed, empty ones dropped */
char **
conf_split_list(const char *raw)
{
	GPtrArray *out = g_ptr_array_new();
	GString *cur = g_string_new(NULL);
	const char *p;

	for (p = raw;; p++) {
		if (*p == '\\' && p[1] == ',') {
			g_string_append_c(cur, ',');
			p++;
			continue;
		}
		if (*p == ',' || *p == 0) {
			char *s = g_strstrip(g_strdup(cur->str));

			if (*s)
				g_ptr_array_add(out, s);
			else
				g_free(s);
			g_string_truncate(cur, 0);
			if (*p == 0)
				break;
			continue;
		}
		g_string_append_c(cur, *p);
	}
	g_string_free(cur, TRUE);
	g_ptr_array_add(out, NULL);
	return (char **) g_ptr_array_free(out, FALSE);
}

/* value_clear - release what a value owns */
static void
value_clear(struct conf_value *v)
{
	g_free(v->raw);
	g_strfreev(v->list);
	g_free(v->added_to);
	reply_clear(&v->reply);
	memset(v, 0, sizeof(*v));
}

/* value_parse - parse raw text into v by k's type; -1 and *why if bad */
static int
value_parse(const struct conf_key *k, struct conf_value *v, const char *raw,
	    const char *basedir, const char **why)
{
	struct conf_value n = {0};
	unsigned i;

	switch (k->type) {
	case CONF_BOOL:
		if (!g_ascii_strcasecmp(raw, "yes") || !g_ascii_strcasecmp(raw, "true")
		    || !g_ascii_strcasecmp(raw, "on") || !strcmp(raw, "1"))
			n.num = 1;
		else if (!g_ascii_strcasecmp(raw, "no") || !g_ascii_strcasecmp(raw, "false")
			 || !g_ascii_strcasecmp(raw, "off") || !strcmp(raw, "0"))
			n.num = 0;
		else {
			*why = "not a boolean (yes or no)";
			return -1;
		}
		break;
	case CONF_INT:
	case CONF_SIZE:
	case CONF_TIME:
		if (parse_num(raw, k->type, &n.num, why) < 0)
			return -1;
		if (n.num < k->min || n.num > k->max) {
			static __thread char buf[128];

			snprintf(buf, sizeof(buf), "out of range (%lld to %lld)",
				 k->min, k->max);
			*why = buf;
			return -1;
		}
		break;
	case CONF_MODE:
		{
			char *end;

			n.num = strtol(raw, &end, 8);
			if (*raw == 0 || *end || n.num < 0 || n.num > 0777) {
				*why = "not an octal file mode (such as 0660)";
				return -1;
			}
		}
		break;
	case CONF_ENUM:
		for (i = 0; k->values[i]; i++)
			if (!strcmp(raw, k->values[i]))
				break;
		if (k->values[i] == NULL) {
			static __thread char buf[256];
			char *all = g_strjoinv(", ", (char **) k->values);

			snprintf(buf, sizeof(buf), "\"%s\" is not one of: %s", raw, all);
			g_free(all);
			*why = buf;
			return -1;
		}
		n.num = i;
		break;
	case CONF_REPLY:
		if (reply_parse(&n.reply, raw, why) < 0)
			return -1;
		break;
	case CONF_LIST:
		n.list = conf_split_list(raw);
		break;
	case CONF_CIDRS:
		n.list = conf_split_list(raw);
		for (i = 0; n.list[i]; i++) {
			if (cidr_valid(n.list[i], why) < 0) {
				static __thread char buf[256];

				snprintf(buf, sizeof(buf), "\"%s\": %s", n.list[i], *why);
				*why = buf;
				g_strfreev(n.list);
				return -1;
			}
		}
		break;
	case CONF_SOCKET:
		if (sock_check(raw, why) < 0)
			return -1;
		break;
	case CONF_PATH:
		if (*raw && *raw != '/' && basedir && strcmp(basedir, ".") != 0) {
			n.raw = g_build_filename(basedir, raw, NULL);
			break;
		}
		break;
	case CONF_STRING:
		break;
	}
	if (n.raw == NULL)
		n.raw = g_strdup(raw);
	value_clear(v);
	*v = n;
	return 0;
}

/* conf_group_init - a group holding every key's default */
void
conf_group_init(struct conf_group *g, const char *name, const char *domain,
		const struct conf_key *const *tables, const char *basedir,
		struct conf_errors *e)
{
	unsigned t, i, n = 0;
	const char *why;

	memset(g, 0, sizeof(*g));
	g->name = name;
	g->domain = domain;
	g->keys = tables;
	for (t = 0; tables[t]; t++)
		for (i = 0; tables[t][i].name; i++)
			n++;
	g->n = n;
	g->key = g_new0(const struct conf_key *, n);
	g->val = g_new0(struct conf_value, n);
	n = 0;
	for (t = 0; tables[t]; t++) {
		for (i = 0; tables[t][i].name; i++, n++) {
			g->key[n] = &tables[t][i];
			if (value_parse(g->key[n], &g->val[n], g->key[n]->def,
					basedir, &why) < 0)
				conf_errorf(e, "built-in default of [%s] %s: %s",
					    name, g->key[n]->name, why);
		}
	}
}

/* value_copy - deep copy */
static void
value_copy(struct conf_value *dst, const struct conf_value *src)
{
	*dst = *src;
	dst->raw = g_strdup(src->raw);
	dst->list = g_strdupv(src->list);
	dst->added_to = g_strdup(src->added_to);
	memset(&dst->reply, 0, sizeof(dst->reply));
	if (src->reply.text)
		reply_copy(&dst->reply, &src->reply);
}

void
conf_group_copy(struct conf_group *dst, const struct conf_group *src,
		const char *domain)
{
	unsigned i;

	*dst = *src;
	dst->domain = domain;
	dst->key = g_memdup2(src->key, src->n * sizeof(*src->key));
	dst->val = g_new0(struct conf_value, src->n);
	for (i = 0; i < src->n; i++)
		value_copy(&dst->val[i], &src->val[i]);
}

void
conf_group_free(struct conf_group *g)
{
	unsigned i;

	for (i = 0; g->val && i < g->n; i++)
		value_clear(&g->val[i]);
	g_free(g->val);
	g_free(g->key);
	memset(g, 0, sizeof(*g));
}

static int
key_index(const struct conf_group *g, const char *name)
{
	unsigned i;

	for (i = 0; i < g->n; i++)
		if (!strcmp(g->key[i]->name, name))
			return (int) i;
	return -1;
}

static void list_set(struct conf_value *dst, GPtrArray *all);

/* check_entries - run key k's entry check on each entry of a list
 * value, set at path:line: entries put in their usual form are warned
 * of, those that can never match are errors; the number of errors */
static int
check_entries(const struct conf_key *k, struct conf_value *v,
	      const char *path, int line, struct conf_errors *e)
{
	GPtrArray *all;
	unsigned i;
	int bad = 0;

	if (k->check == NULL || v->list == NULL)
		return 0;
	all = g_ptr_array_new();
	for (i = 0; v->list[i]; i++) {
		char *entry = g_strdup(v->list[i]), *why = NULL;
		int rc = k->check(&entry, &why);

		if (rc < 0) {
			conf_errorf(e, "%s:%d: %s: \"%s\": %s", path, line, k->name,
				    v->list[i], why);
			bad++;
		} else if (rc > 0 && strcmp(entry, v->list[i])) {
			conf_warnf(e, "%s:%d: %s: warning: \"%s\" taken as \"%s\": %s",
				   path, line, k->name, v->list[i], entry, why);
		} else if (rc > 0) {
			conf_warnf(e, "%s:%d: %s: warning: \"%s\": %s",
				   path, line, k->name, v->list[i], why);
		}
		g_free(why);
		if (!g_ptr_array_find_with_equal_func(all, entry, g_str_equal, NULL))
			g_ptr_array_add(all, entry);
		else
			g_free(entry);
	}
	list_set(v, all);
	return bad;
}

/* value_origin_of - "file:line" of a value, or "built-in default" */
static char *
value_origin_of(const struct conf_value *v)
{
	return v->file ? g_strdup_printf("%s:%d", v->file, v->line)
		: g_strdup("built-in default");
}

/*
 * conf_value_origin - where a value came from, for sinkd -P: "file:line",
 * "built-in default", or for a list extended with +=, every place in
 * order ("sinkd.conf:12 + domains/example.com.conf:3"); g_free()
 */
char *
conf_value_origin(const struct conf_value *v)
{
	char *here = value_origin_of(v), *all;

	if (v->added_to == NULL)
		return here;
	all = g_strdup_printf("%s + %s", v->added_to, here);
	g_free(here);
	return all;
}

/* add_entries - extend list value v by the entries of add (set at
 * path:line with +=), each once */
static void
add_entries(struct conf_value *v, const struct conf_value *add,
	    const char *path, int line)
{
	GPtrArray *all = g_ptr_array_new();
	char *before = conf_value_origin(v);
	unsigned i;

	for (i = 0; v->list && v->list[i]; i++)
		g_ptr_array_add(all, g_strdup(v->list[i]));
	for (i = 0; add->list && add->list[i]; i++)
		if (!g_ptr_array_find_with_equal_func(all, add->list[i], g_str_equal, NULL))
			g_ptr_array_add(all, g_strdup(add->list[i]));
	list_set(v, all);
	g_free(v->added_to);
	v->added_to = before;
	v->file = g_intern_string(path);
	v->line = line;
}

/*
 * apply_key - overlay one key of f's group g->name: "name = value" sets,
 * "name += value" (name as GKeyFile reads it: "name +") adds to a list;
 * the number of errors
 */
static int
apply_key(struct conf_group *g, const struct conf_file *f, const char *name,
	  const char *basedir, int per_domain, struct conf_errors *e)
{
	int line = conf_file_key_line(f, g->name, name);
	size_t n = strlen(name);
	int add = n > 1 && name[n - 1] == '+', k, bad = 0;
	struct conf_value nv = {0};
	const char *why;
	char *base, *raw;

	base = add ? g_strchomp(g_strndup(name, n - 1)) : g_strdup(name);
	k = key_index(g, base);
	if (k < 0) {
		conf_errorf(e, "%s:%d: %s: unknown key in [%s]", f->path, line, base, g->name);
		bad++;
		goto done;
	}
	if (per_domain && (g->key[k]->flags & CONF_NODOMAIN)) {
		conf_errorf(e, "%s:%d: %s: cannot be set per domain; set it in sinkd.conf or default.conf",
			    f->path, line, base);
		bad++;
		goto done;
	}
	if (add && g->key[k]->type != CONF_LIST && g->key[k]->type != CONF_CIDRS) {
		conf_errorf(e, "%s:%d: %s: \"+=\" adds entries to a list, and this key is of type %s; write \"%s = ...\"",
			    f->path, line, base, conf_type_name(g->key[k]->type), base);
		bad++;
		goto done;
	}
	raw = conf_file_get(f, g->name, name);
	if (raw == NULL)
		raw = g_strdup("");
	if (value_parse(g->key[k], &nv, raw, basedir, &why) < 0) {
		conf_errorf(e, "%s:%d: %s: %s", f->path, line, base, why);
		bad++;
	} else if (check_entries(g->key[k], &nv, f->path, line, e) > 0) {
		bad++;
	} else if (add) {
		add_entries(&g->val[k], &nv, f->path, line);
	} else {
		value_clear(&g->val[k]);
		g->val[k] = nv;
		memset(&nv, 0, sizeof(nv));
		g->val[k].file = g_intern_string(f->path);
		g->val[k].line = line;
	}
	value_clear(&nv);
	g_free(raw);
done:
	g_free(base);
	return bad;
}

/* conf_group_apply - overlay the values f sets in g's group: first those
 * set with "=", then the lists added to with "+="; count errors */
int
conf_group_apply(struct conf_group *g, const struct conf_file *f,
		 const char *basedir, int per_domain, struct conf_errors *e)
{
	char **keys;
	gsize nkeys, i;
	int bad = 0, pass;

	keys = g_key_file_get_keys(f->kf, g->name, &nkeys, NULL);
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; keys && i < nkeys; i++) {
			size_t n = strlen(keys[i]);

			if ((n > 1 && keys[i][n - 1] == '+') == pass)
				bad += apply_key(g, f, keys[i], basedir, per_domain, e);
		}
	}
	g_strfreev(keys);
	return bad;
}

/* list_set - dst's list and raw text become the entries of all */
static void
list_set(struct conf_value *dst, GPtrArray *all)
{
	GString *raw = g_string_new(NULL);
	guint i;

	for (i = 0; i < all->len; i++) {
		char **parts = g_strsplit(g_ptr_array_index(all, i), ",", -1);
		char *esc = g_strjoinv("\\,", parts);

		g_string_append_printf(raw, "%s%s", raw->len ? ", " : "", esc);
		g_free(esc);
		g_strfreev(parts);
	}
	g_ptr_array_add(all, NULL);
	g_strfreev(dst->list);
	dst->list = (char **) g_ptr_array_free(all, FALSE);
	g_free(dst->raw);
	dst->raw = g_string_free(raw, FALSE);
}

/* list_has - whether list holds s */
static int
list_has(char *const *list, const char *s)
{
	unsigned i;

	for (i = 0; list && list[i]; i++)
		if (!strcmp(list[i], s))
			return 1;
	return 0;
}

/* merge_lists - the union (every entry of any value, once) or the
 * intersection (the entries of the first value every other one has) of
 * the lists of v[0..n-1], in the order they come */
static void
merge_lists(struct conf_value *dst, const struct conf_value *const *v,
	    unsigned n, int intersect)
{
	GPtrArray *all = g_ptr_array_new();
	unsigned i, j, k;

	for (i = 0; i < (intersect ? 1 : n); i++) {
		for (j = 0; v[i]->list && v[i]->list[j]; j++) {
			const char *s = v[i]->list[j];

			if (g_ptr_array_find_with_equal_func(all, s, g_str_equal, NULL))
				continue;
			for (k = 1; intersect && k < n; k++)
				if (!list_has(v[k]->list, s))
					break;
			if (!intersect || k == n)
				g_ptr_array_add(all, g_strdup(s));
		}
	}
	list_set(dst, all);
}

/* all_same - whether the n values are all the same */
static int
all_same(const struct conf_key *k, const struct conf_value *const *v, unsigned n)
{
	unsigned i;

	for (i = 1; i < n; i++)
		if (!conf_value_same(k, v[0], v[i]))
			return 0;
	return 1;
}

/*
 * merge_value - dst, key k's value combined from the n values v by k's
 * rule (values left out as unused are not among them; n >= 1); def is
 * the default policy's value.  -1 when the rule is "agree" and the
 * values differ.
 */
static int
merge_value(struct conf_value *dst, const struct conf_key *k,
	    const struct conf_value *const *v, unsigned n,
	    const struct conf_value *def)
{
	unsigned i, win = 0;

	switch (k->merge) {
	case MERGE_UNSET:
	case MERGE_NRULES:
		break;
	case MERGE_MIN:
		for (i = 1; i < n; i++)
			if (v[i]->num != 0 && (v[win]->num == 0 || v[i]->num < v[win]->num))
				win = i;
		break;
	case MERGE_TRUE:
	case MERGE_FALSE:
		for (i = 0; i < n; i++)
			if ((v[i]->num != 0) == (k->merge == MERGE_TRUE)) {
				win = i;
				break;
			}
		break;
	case MERGE_ENUM:
		for (i = 1; i < n; i++)
			if (v[i]->num < v[win]->num)
				win = i;
		break;
	case MERGE_ENUM_LAST:
		for (i = 1; i < n; i++)
			if (v[i]->num > v[win]->num)
				win = i;
		break;
	case MERGE_UNION:
	case MERGE_INTERSECT:
		value_copy(dst, v[0]);
		merge_lists(dst, v, n, k->merge == MERGE_INTERSECT);
		dst->unused = 0;
		return 0;
	case MERGE_AGREE:
		if (!all_same(k, v, n))
			return -1;
		break;
	case MERGE_DEFAULT:
		if (!all_same(k, v, n) && def)
			v = &def;
		break;
	case MERGE_RCPT:
		if (def)
			v = &def;
		break;
	}
	value_copy(dst, v[win]);
	dst->unused = 0;
	return 0;
}

/*
 * conf_group_merge - dst becomes the n groups of one name (n >= 2)
 * combined key by key, each key by its merge rule, over the values not
 * marked unused (all of them when every one is); def is the default
 * policy's group, for the rules that fall back to it.  -1, with
 * *conflict naming the key, when domains that must agree do not; dst
 * then holds every value still, and is freed as usual.
 */
int
conf_group_merge(struct conf_group *dst, const struct conf_group *const *src,
		 unsigned n, const struct conf_group *def, const char *domain,
		 const char **conflict)
{
	const struct conf_value **v = g_new0(const struct conf_value *, n);
	unsigned i, j, nv;
	int rc = 0;

	*dst = *src[0];
	dst->domain = domain;
	dst->key = g_memdup2(src[0]->key, src[0]->n * sizeof(*src[0]->key));
	dst->val = g_new0(struct conf_value, src[0]->n);
	for (i = 0; i < dst->n; i++) {
		for (j = nv = 0; j < n; j++)
			if (!src[j]->val[i].unused)
				v[nv++] = &src[j]->val[i];
		for (j = 0; nv == 0 && j < n; j++)
			v[nv++] = &src[j]->val[i];
		if (merge_value(&dst->val[i], dst->key[i], v, nv,
				def ? &def->val[i] : NULL) < 0) {
			value_copy(&dst->val[i], v[0]);
			if (rc == 0 && conflict)
				*conflict = dst->key[i]->name;
			rc = -1;
		}
	}
	g_free(v);
	return rc;
}

/*
 * conf_group_conflict - the first key whose rule is "agree" on which
 * groups a and b (one name, two policies) differ, values marked unused
 * left out; NULL when they agree on all
 */
const char *
conf_group_conflict(const struct conf_group *a, const struct conf_group *b)
{
	unsigned i;

	for (i = 0; i < a->n; i++)
		if (a->key[i]->merge == MERGE_AGREE && !a->val[i].unused
		    && !b->val[i].unused
		    && !conf_value_same(a->key[i], &a->val[i], &b->val[i]))
			return a->key[i]->name;
	return NULL;
}

/*
 * conf_set - give key the value raw, as if written in no file (for a
 * handler's inbound view of its group).  raw comes from the code: one
 * that is not a value of the key's type is a panic.
 */
void
conf_set(struct conf_group *g, const char *key, const char *raw)
{
	struct conf_value *v = (struct conf_value *) conf_get(g, key);
	const char *why;

	if (value_parse(g->key[v - g->val], v, raw, NULL, &why) < 0)
		log_panic("conf_set: [%s] %s = \"%s\": %s", g->name, key, raw, why);
	v->file = NULL;
	v->line = 0;
}

/* conf_unused - mark key as having no effect on inbound mail: combining
 * policies leaves its value out */
void
conf_unused(struct conf_group *g, const char *key)
{
	((struct conf_value *) conf_get(g, key))->unused = 1;
}

/* rule_fits - whether merge rule m can combine values of type t */
static int
rule_fits(enum conf_merge m, enum conf_type t)
{
	switch (m) {
	case MERGE_MIN:
		return t == CONF_INT || t == CONF_SIZE || t == CONF_TIME;
	case MERGE_UNION:
	case MERGE_INTERSECT:
		return t == CONF_LIST || t == CONF_CIDRS;
	case MERGE_TRUE:
	case MERGE_FALSE:
		return t == CONF_BOOL;
	case MERGE_ENUM:
	case MERGE_ENUM_LAST:
		return t == CONF_ENUM;
	case MERGE_UNSET:
	case MERGE_AGREE:
	case MERGE_DEFAULT:
	case MERGE_RCPT:
		return 1;
	case MERGE_NRULES:
		break;
	}
	return 0;
}

/*
 * conf_table_check - every key of a handler group's tables that may be
 * set per domain has a merge rule, one that fits its type; a key without
 * one is a defect of the table, reported as an error so that sinkd
 * refuses to start (and t/unit/policy_test fails) rather than combine it
 * by chance.  The number of errors added.
 */
int
conf_table_check(const char *group, const struct conf_key *const *tables,
		 struct conf_errors *e)
{
	unsigned t, i;
	int bad = 0;

	for (t = 0; tables[t]; t++) {
		for (i = 0; tables[t][i].name; i++) {
			const struct conf_key *k = &tables[t][i];

			if (k->merge == MERGE_UNSET && !(k->flags & CONF_NODOMAIN)) {
				conf_errorf(e, "built-in key table of [%s]: %s: may be set per domain but has no merge rule",
					    group, k->name);
				bad++;
			} else if (k->merge >= MERGE_NRULES || !rule_fits(k->merge, k->type)) {
				conf_errorf(e, "built-in key table of [%s]: %s: merge rule %s does not fit type %s",
					    group, k->name, conf_merge_name(k->merge),
					    conf_type_name(k->type));
				bad++;
			}
		}
	}
	return bad;
}

/*
 * conf_key_default_check - whether k's default parses by k's type (a key
 * a sink declares, which no table of sinkd's vouches for); NULL, or why not
 */
const char *
conf_key_default_check(const struct conf_key *k, const char *basedir)
{
	struct conf_value v = {0};
	const char *why = NULL;

	if (value_parse(k, &v, k->def ? k->def : "", basedir, &why) < 0)
		return why;
	value_clear(&v);
	return NULL;
}

/* conf_get - the value of a key; a key not declared is a programming error */
const struct conf_value *
conf_get(const struct conf_group *g, const char *key)
{
	int k = key_index(g, key);

	if (k < 0)
		log_panic("conf_get: no key \"%s\" in [%s]", key, g->name);
	return &g->val[k];
}

int
conf_bool(const struct conf_group *g, const char *key)
{
	return conf_get(g, key)->num != 0;
}

long long
conf_num(const struct conf_group *g, const char *key)
{
	return conf_get(g, key)->num;
}

const char *
conf_str(const struct conf_group *g, const char *key)
{
	return conf_get(g, key)->raw;
}

char *const *
conf_list(const struct conf_group *g, const char *key)
{
	return conf_get(g, key)->list;
}

const struct reply *
conf_reply(const struct conf_group *g, const char *key)
{
	return &conf_get(g, key)->reply;
}

int
conf_value_equal(const struct conf_value *a, const struct conf_value *b)
{
	return strcmp(a->raw, b->raw) == 0;
}

/* conf_value_same - whether a and b, two values of key k, mean the same:
 * numbers by value, lists entry by entry, replies by code and text */
int
conf_value_same(const struct conf_key *k, const struct conf_value *a,
		const struct conf_value *b)
{
	unsigned i;

	switch (k->type) {
	case CONF_BOOL:
	case CONF_INT:
	case CONF_SIZE:
	case CONF_TIME:
	case CONF_ENUM:
	case CONF_MODE:
		return a->num == b->num;
	case CONF_LIST:
	case CONF_CIDRS:
		for (i = 0; a->list && a->list[i]; i++)
			if (b->list == NULL || b->list[i] == NULL
			    || strcmp(a->list[i], b->list[i]))
				return 0;
		return b->list == NULL || b->list[i] == NULL;
	case CONF_REPLY:
		return !strcmp(a->reply.code, b->reply.code)
			&& !strcmp(a->reply.xcode, b->reply.xcode)
			&& !g_strcmp0(a->reply.text, b->reply.text);
	case CONF_STRING:
	case CONF_PATH:
	case CONF_SOCKET:
		break;
	}
	return strcmp(a->raw, b->raw) == 0;
}

const char *
conf_type_name(enum conf_type t)
{
	static const char *const names[] = {
		[CONF_BOOL] = "boolean", [CONF_INT] = "integer",
		[CONF_SIZE] = "size", [CONF_TIME] = "time",
		[CONF_STRING] = "string", [CONF_PATH] = "path",
		[CONF_LIST] = "list", [CONF_ENUM] = "enum",
		[CONF_REPLY] = "reply", [CONF_CIDRS] = "networks",
		[CONF_SOCKET] = "socket", [CONF_MODE] = "mode",
	};

	return names[t];
}

/* conf_merge_name - a merge rule's name, as sinkd -d and the man page
 * write it ("-": none) */
const char *
conf_merge_name(enum conf_merge m)
{
	static const char *const names[] = {
		[MERGE_UNSET] = "-", [MERGE_MIN] = "min",
		[MERGE_UNION] = "union", [MERGE_INTERSECT] = "common",
		[MERGE_TRUE] = "any", [MERGE_FALSE] = "all",
		[MERGE_ENUM] = "strictest", [MERGE_ENUM_LAST] = "widest",
		[MERGE_AGREE] = "agree", [MERGE_DEFAULT] = "default",
		[MERGE_RCPT] = "recipient",
	};

	G_STATIC_ASSERT(G_N_ELEMENTS(names) == MERGE_NRULES);
	return m < MERGE_NRULES ? names[m] : "?";
}

