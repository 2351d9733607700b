/*
 * astore_maildir - the archive's Maildir store (see astore.h)
 *
 * Maildir: a message is written to tmp/; astore_md_sync() then fsyncs
 * it, renames it into new/ and fsyncs new/ (once for all the copies
 * since the last sync, as it fsyncs the index once); a directory made
 * on the way is fsync'd in its parent at once.  Copies not yet synced
 * when the store goes stay in tmp/ (a Maildir reader ignores them) and
 * are written again when the event is put again.
 * Its file name is TIME.MUSECKHASH.HOST: TIME and USEC the event's time
 * (end of message), HASH the first 16 hex digits of the SHA-256 of the
 * event's key, HOST this host's name ('/' written \057, ':' \072).  The
 * same event always makes the same name, so a put that finds it in new/
 * (or, moved there by a reader, in cur/ with ":2,..." after it) stores
 * nothing.  The index line is appended (and synced) before the files
 * are moved to new/, so that a crash between the two leaves an index
 * line whose files the next put of the same event writes; a key indexed
 * twice is listed once.
 *
 * Diagnostics: functions say what went wrong in *why (g_free).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "astore_impl.h"
#include "dirs.h"

#define HASH_HEX	16	/* of the key's SHA-256, in a file name */

/* ------------------------------------------------------------------ */
/* Maildir                                                              */

/* make_dir - path a directory (not a link, unless follow: the root the
 * administrator named), made with mode and made durable in parent when
 * new; 0 or -1 (*why) */
static int
make_dir(const char *parent, const char *path, mode_t mode, int follow, char **why)
{
	struct stat st;

	if (mkdir(path, mode) == 0) {
		if (dirs_sync(parent, O_DIRECTORY) == 0)
			return 0;
	} else if (errno == EEXIST && (follow ? stat(path, &st) : lstat(path, &st)) == 0
		   && S_ISDIR(st.st_mode)) {
		return 0;
	} else if (errno == EEXIST) {
		errno = ENOTDIR;
	}
	*why = g_strdup_printf("%s: %s", path, g_strerror(errno));
	return -1;
}

/* write_all - all of d to fd; 0 or -1 (errno) */
static int
write_all(int fd, const char *d, gsize n)
{
	while (n > 0) {
		ssize_t w = write(fd, d, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		d += w;
		n -= (gsize) w;
	}
	return 0;
}

/* lf_copy - d with each CRLF as LF */
static GString *
lf_copy(const char *d, gsize n)
{
	GString *o = g_string_sized_new(n);
	gsize i, from = 0;

	for (i = 0; i + 1 < n; i++)
		if (d[i] == '\r' && d[i + 1] == '\n') {
			g_string_append_len(o, d + from, (gssize) (i - from));
			from = i + 1;
		}
	g_string_append_len(o, d + from, (gssize) (n - from));
	return o;
}

/* md_name - the file name of event ev in a Maildir (g_free), or NULL */
static char *
md_name(const struct astore *a, JsonObject *ev)
{
	GDateTime *t = g_date_time_new_from_iso8601(astore_ev_str(ev, "time", ""), NULL);
	char *h, *name;

	if (t == NULL)
		return NULL;
	h = g_compute_checksum_for_string(G_CHECKSUM_SHA256, astore_ev_str(ev, "key", ""), -1);
	name = g_strdup_printf("%" G_GINT64_FORMAT ".M%06dK%.*s.%s", g_date_time_to_unix(t),
			       g_date_time_get_microsecond(t), HASH_HEX, h, a->host);
	g_free(h);
	g_date_time_unref(t);
	return name;
}

/* md_find - the path of name in Maildir dir: new/NAME, or cur/NAME or
 * cur/NAME:2,... (g_free); NULL when it is in neither */
static char *
md_find(const char *dir, const char *name)
{
	char *p = g_build_filename(dir, "new", name, NULL), *cur;
	gsize n = strlen(name);
	const char *e;
	GDir *d;

	if (g_file_test(p, G_FILE_TEST_EXISTS))
		return p;
	g_free(p);
	p = NULL;
	cur = g_build_filename(dir, "cur", NULL);
	if ((d = g_dir_open(cur, 0, NULL)) != NULL) {
		while (p == NULL && (e = g_dir_read_name(d)) != NULL)
			if (!strncmp(e, name, n) && (e[n] == 0 || e[n] == ':'))
				p = g_build_filename(cur, e, NULL);
		g_dir_close(d);
	}
	g_free(cur);
	return p;
}

/* md_mailboxes - the mailboxes of ev, "DOMAIN/LOCAL" each once: each
 * recipient's for inbound mail (those want(rcpt, ctx) says yes to, when
 * want is not NULL), the sender's for outbound (g_strfreev) */
static char **
md_mailboxes(JsonObject *ev, astore_want_fn want, void *ctx)
{
	GPtrArray *v = g_ptr_array_new();
	char **rcpts = NULL, **p;
	const char *one[2] = {astore_ev_str(ev, "sender", ""), NULL};
	int in = strcmp(astore_ev_str(ev, "direction", ""), "outbound") != 0;

	if (in) {
		rcpts = astore_ev_recipients(ev);
		p = rcpts;
	} else {
		p = (char **) one;
	}
	for (; *p; p++) {
		char *dom, *loc, *mb;
		guint i;

		if (in && want && !want(*p, ctx))
			continue;
		astore_mailbox(*p, &dom, &loc);
		mb = g_build_filename(dom, loc, NULL);
		g_free(dom);
		g_free(loc);
		for (i = 0; i < v->len && strcmp(g_ptr_array_index(v, i), mb); i++)
			;
		if (i < v->len)
			g_free(mb);
		else
			g_ptr_array_add(v, mb);
	}
	g_strfreev(rcpts);
	g_ptr_array_add(v, NULL);
	return (char **) g_ptr_array_free(v, FALSE);
}

/* md_index - append ev's index line (files relative to the root) and
 * make it durable; 0 or -1 (*why) */
static int
md_index(struct astore *a, JsonObject *ev, char **files, char **why)
{
	static const char *const copy[] = {"key", "time", "queue_id", "direction", "sender",
					    "recipients", "headers", "size", "sha256"};
	JsonObject *o = json_object_new();
	JsonArray *fv = json_array_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	char *path = g_build_filename(a->where, ASTORE_INDEX, NULL), *line, *all;
	unsigned i;
	int fd, rc = -1;

	for (i = 0; i < G_N_ELEMENTS(copy); i++) {
		JsonNode *m = json_object_get_member(ev, copy[i]);

		if (m)
			json_object_set_member(o, copy[i], json_node_copy(m));
	}
	for (i = 0; files[i]; i++)
		json_array_add_string_element(fv, files[i]);
	json_object_set_array_member(o, "files", fv);
	json_node_take_object(n, o);
	line = json_to_string(n, FALSE);
	all = g_strconcat(line, "\n", NULL);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, a->fmode);
	if (fd < 0 || write_all(fd, all, strlen(all)) < 0)
		*why = g_strdup_printf("%s: %s", path, g_strerror(errno));
	else
		rc = 0;
	a->md_index_dirty = 1;
	if (fd >= 0)
		close(fd);
	json_node_unref(n);
	g_free(line);
	g_free(all);
	g_free(path);
	return rc;
}

/* md_write - data as dir/tmp/name, moved to dir/new/ by
 * astore_md_sync(); 0 or -1 (*why) */
static int
md_write(struct astore *a, const char *dir, const char *name, const GString *data,
	 char **why)
{
	char *tmp = g_build_filename(dir, "tmp", name, NULL);
	int fd;

	/* a tmp file of this name is a crashed try of this event's */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, a->fmode);
	if (fd < 0 || write_all(fd, data->str, data->len) < 0 || close(fd) < 0) {
		*why = g_strdup_printf("%s: %s", tmp, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		g_free(tmp);
		return -1;
	}
	if (a->md_pending == NULL)
		a->md_pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_hash_table_replace(a->md_pending, tmp, g_build_filename(dir, "new", name, NULL));
	return 0;
}

/*
 * astore_md_sync - the index and every copy written since the last sync
 * on disk, the copies moved to new/ and each new/ synced once; DONE, or
 * RETRY (*why): what is left is put again (a copy already in new/ is
 * then found there)
 */
enum astore_result
astore_md_sync(struct astore *a, char **why)
{
	GHashTable *dirs;
	GHashTableIter it;
	gpointer tmp, nw;
	char *path;
	int bad = 0;

	if (a->md_index_dirty) {
		path = g_build_filename(a->where, ASTORE_INDEX, NULL);
		if (dirs_sync(path, O_NOFOLLOW) < 0) {
			*why = g_strdup_printf("%s: %s", path, g_strerror(errno));
			g_free(path);
			return ASTORE_RETRY;
		}
		g_free(path);
		a->md_index_dirty = 0;
	}
	if (a->md_pending == NULL || g_hash_table_size(a->md_pending) == 0)
		return ASTORE_DONE;
	/* the data first (on ext4 the first fsync commits the others' too) */
	g_hash_table_iter_init(&it, a->md_pending);
	while (!bad && g_hash_table_iter_next(&it, &tmp, &nw))
		if (dirs_sync(tmp, O_NOFOLLOW) < 0) {
			*why = g_strdup_printf("%s: %s", (char *) tmp, g_strerror(errno));
			bad = 1;
		}
	dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_hash_table_iter_init(&it, a->md_pending);
	while (!bad && g_hash_table_iter_next(&it, &tmp, &nw)) {
		if (rename(tmp, nw) < 0) {
			*why = g_strdup_printf("%s: %s", (char *) nw, g_strerror(errno));
			bad = 1;
			break;
		}
		g_hash_table_add(dirs, g_path_get_dirname(nw));
	}
	g_hash_table_iter_init(&it, dirs);
	while (!bad && g_hash_table_iter_next(&it, &tmp, NULL))
		if (dirs_sync(tmp, O_DIRECTORY) < 0) {
			*why = g_strdup_printf("%s: %s", (char *) tmp, g_strerror(errno));
			bad = 1;
		}
	g_hash_table_destroy(dirs);
	g_hash_table_remove_all(a->md_pending);
	return bad ? ASTORE_RETRY : ASTORE_DONE;
}

/* astore_md_put - ev's message in each of its mailboxes (see the head) */
enum astore_result
astore_md_put(struct astore *a, JsonObject *ev, const char *data, gsize len, astore_want_fn want,
       void *ctx, char **why)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	char *name = md_name(a, ev), **boxes = NULL, **files = NULL, **todo = NULL, *up;
	GString *lf = NULL;
	enum astore_result res = ASTORE_RETRY;
	guint i, k, n;

	if (name == NULL) {
		*why = g_strdup_printf("event time \"%s\" is not RFC 3339", astore_ev_str(ev, "time", ""));
		return ASTORE_FAIL;
	}
	boxes = md_mailboxes(ev, want, ctx);
	n = g_strv_length(boxes);
	if (n == 0) {		/* no recipient's domain wants it now */
		res = ASTORE_DONE;
		goto out;
	}
	files = g_new0(char *, n + 1);
	todo = g_new0(char *, n + 1);
	up = g_path_get_dirname(a->where);
	k = make_dir(up, a->where, a->dmode, 1, why) < 0;
	g_free(up);
	if (k)
		goto out;
	for (i = 0, k = 0; i < n; i++) {
		char *dom = g_path_get_dirname(boxes[i]);
		char *dpath = g_build_filename(a->where, dom, NULL);
		char *mpath = g_build_filename(a->where, boxes[i], NULL);
		char *found;
		unsigned s;
		int bad = make_dir(a->where, dpath, a->dmode, 0, why) < 0
			|| make_dir(dpath, mpath, a->dmode, 0, why) < 0;

		for (s = 0; !bad && s < G_N_ELEMENTS(subs); s++) {
			char *sp = g_build_filename(mpath, subs[s], NULL);

			bad = make_dir(mpath, sp, a->dmode, 0, why) < 0;
			g_free(sp);
		}
		files[i] = g_build_filename(boxes[i], "new", name, NULL);
		if (!bad && (found = md_find(mpath, name)) == NULL)
			todo[k++] = g_strdup(mpath);
		else if (!bad)
			g_free(found);
		g_free(dom);
		g_free(dpath);
		g_free(mpath);
		if (bad)
			goto out;
	}
	if (k == 0) {		/* every copy is there: stored before */
		res = ASTORE_DONE;
		goto out;
	}
	if (md_index(a, ev, files, why) < 0)
		goto out;
	lf = lf_copy(data, len);
	for (i = 0; i < k; i++)
		if (md_write(a, todo[i], name, lf, why) < 0)
			goto out;
	res = ASTORE_DONE;
out:
	if (lf)
		g_string_free(lf, TRUE);
	g_strfreev(boxes);
	g_strfreev(files);
	g_strfreev(todo);
	g_free(name);
	return res;
}

/* md_records - the index's records, each key once (its last line) in
 * the order first seen, with their files (g_ptr_array_unref); NULL when
 * the index cannot be read (*why) */
static GPtrArray *
md_records(struct astore *a, GPtrArray **files, char **why)
{
	char *path = g_build_filename(a->where, ASTORE_INDEX, NULL);
	GPtrArray *recs = g_ptr_array_new(), *fls = g_ptr_array_new_with_free_func((GDestroyNotify) g_strfreev);
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	JsonParser *jp = json_parser_new();
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;

	if (f == NULL) {
		if (errno != ENOENT) {
			*why = g_strdup_printf("%s: %s", path, g_strerror(errno));
			g_ptr_array_free(recs, TRUE);
			recs = NULL;
		}
		goto out;
	}
	while ((got = getline(&line, &cap, f)) > 0) {
		struct astore_rec *r;
		JsonObject *o;
		gpointer at;
		guint idx;

		if (!json_parser_load_from_data(jp, line, got, NULL)
		    || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(jp)))
			continue;	/* a torn last line */
		o = json_node_get_object(json_parser_get_root(jp));
		r = g_new0(struct astore_rec, 1);
		astore_rec_from_event(r, o);
		if (g_hash_table_lookup_extended(seen, r->key, NULL, &at)) {
			idx = GPOINTER_TO_UINT(at);
			astore_rec_clear(g_ptr_array_index(recs, idx));
			g_free(g_ptr_array_index(recs, idx));
			recs->pdata[idx] = r;
			g_strfreev(fls->pdata[idx]);
			fls->pdata[idx] = NULL;
		} else {
			idx = recs->len;
			g_hash_table_insert(seen, g_strdup(r->key), GUINT_TO_POINTER(idx));
			g_ptr_array_add(recs, r);
			g_ptr_array_add(fls, NULL);
		}
		{
			JsonNode *fn = json_object_get_member(o, "files");
			JsonArray *fa = fn && JSON_NODE_HOLDS_ARRAY(fn) ? json_node_get_array(fn) : NULL;
			guint i, nf = fa ? json_array_get_length(fa) : 0;
			char **v = g_new0(char *, nf + 1);

			for (i = 0; i < nf; i++)
				v[i] = g_strdup(json_array_get_string_element(fa, i));
			fls->pdata[idx] = v;
		}
	}
	fclose(f);
out:
	free(line);
	g_object_unref(jp);
	g_hash_table_destroy(seen);
	g_free(path);
	*files = fls;
	return recs;
}

/* recs_free - md_records()'s */
static void
recs_free(GPtrArray *recs, GPtrArray *files)
{
	guint i;

	for (i = 0; recs && i < recs->len; i++) {
		astore_rec_clear(g_ptr_array_index(recs, i));
		g_free(g_ptr_array_index(recs, i));
	}
	if (recs)
		g_ptr_array_free(recs, TRUE);
	g_ptr_array_unref(files);
}

/* astore_md_search - the index's records that answer q, to each */
int
astore_md_search(struct astore *a, const struct astore_query *q,
	  void (*each)(const struct astore_rec *r, void *ctx), void *ctx, char **why)
{
	GPtrArray *files, *recs = md_records(a, &files, why);
	guint i;

	if (recs == NULL) {
		g_ptr_array_unref(files);
		return -1;
	}
	for (i = 0; i < recs->len; i++)
		if (astore_record_matches(g_ptr_array_index(recs, i), q))
			each(g_ptr_array_index(recs, i), ctx);
	recs_free(recs, files);
	return 0;
}

/* astore_md_get - see astore_get() */
int
astore_md_get(struct astore *a, const char *key, GBytes **msg, char **full, char **why)
{
	GPtrArray *files, *recs = md_records(a, &files, why);
	struct astore_query q = {.key = key};
	guint i, hit = 0, n = 0;
	int rc = -1;

	if (recs == NULL) {
		g_ptr_array_unref(files);
		return -3;
	}
	for (i = 0; i < recs->len; i++) {
		struct astore_rec *r = g_ptr_array_index(recs, i);

		if (!strcmp(r->key, key)) {
			hit = i, n = 1;
			break;
		}
		if (astore_record_matches(r, &q))
			hit = i, n++;
	}
	if (n > 1)
		rc = -2;
	else if (n == 1) {
		char **f = g_ptr_array_index(files, hit);

		*why = g_strdup("none of its files is there");
		for (; f && *f && rc < 0; f++) {
			/* DOMAIN/LOCAL/new/NAME: found in new/ or cur/ */
			char *box = g_path_get_dirname(*f), *mb = g_path_get_dirname(box);
			char *name = g_path_get_basename(*f), *dir = g_build_filename(a->where, mb, NULL);
			char *p = md_find(dir, name), *d;
			gsize len;
			GError *err = NULL;

			if (p && g_file_get_contents(p, &d, &len, &err)) {
				*msg = g_bytes_new_take(d, len);
				*full = g_strdup(((struct astore_rec *) g_ptr_array_index(recs, hit))->key);
				g_clear_pointer(why, g_free);
				rc = 0;
			} else if (err) {
				g_free(*why);
				*why = g_strdup(err->message);
				g_error_free(err);
			}
			g_free(p);
			g_free(box);
			g_free(mb);
			g_free(name);
			g_free(dir);
		}
		if (rc < 0)
			rc = -3;
	}
	recs_free(recs, files);
	return rc;
}

