/*
 * archive - the names of the members of archives (see archive.h)
 */
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <archive.h>
#include <archive_entry.h>

#include "archive.h"

#define BLOCK 65536

/* The decompression filters read: only those the library does itself.
 * One whose library libarchive was built without is done by running an
 * external program, which a mail filter must never do: probe() keeps
 * only those that register without a warning. */
static const struct {
	int (*support)(struct archive *);
} filters[] = {
	{archive_read_support_filter_gzip},
	{archive_read_support_filter_bzip2},
	{archive_read_support_filter_xz},
	{archive_read_support_filter_lzma},
	{archive_read_support_filter_lzip},
	{archive_read_support_filter_zstd},
	{archive_read_support_filter_compress},
	{archive_read_support_filter_lz4},
};

/* Suffixes of a file compressed alone, and what its name is without. */
static const struct {
	const char *suffix, *becomes;
} compressed[] = {
	{".gz", ""}, {".gzip", ""}, {".z", ""}, {".bz2", ""}, {".bz", ""},
	{".xz", ""}, {".lzma", ""}, {".lz", ""}, {".zst", ""}, {".lz4", ""},
	{".tgz", ".tar"}, {".tbz", ".tar"}, {".tbz2", ".tar"}, {".txz", ".tar"},
	{".tzst", ".tar"},
};

/* Which reading of an archive: every format, zip by its central
 * directory (what Windows and 7-Zip show); or zip by its local headers
 * alone (what a streaming extractor shows), for names the central
 * directory leaves out. */
enum pass { PASS_ALL, PASS_LOCAL };

struct walk {
	const struct archive_limits *l;
	struct archive_count *count;
	archive_name_fn fn;
	void *ctx;
};

/* What an archive is read from: bytes in memory, or a file (fd >= 0). */
struct src {
	const void *data;
	size_t len;
	int fd;
};

static enum archive_result list_both(struct walk *w, const struct src *in,
				     const char *name, const char *prefix, unsigned depth);

/* probe - which filters register without an external program */
static gpointer
probe(gpointer unused)
{
	unsigned mask = 1u << 31, i;

	(void) unused;
	for (i = 0; i < G_N_ELEMENTS(filters); i++) {
		struct archive *a = archive_read_new();

		if (a && filters[i].support(a) == ARCHIVE_OK)
			mask |= 1u << i;
		archive_read_free(a);
	}
	return GUINT_TO_POINTER(mask);
}

/* reader - data opened for one pass, or NULL when no format bids */
static struct archive *
reader(const struct src *in, enum pass pass)
{
	static GOnce once = G_ONCE_INIT;
	unsigned mask = GPOINTER_TO_UINT(g_once(&once, probe, NULL)), i;
	struct archive *a = archive_read_new();

	if (a == NULL)
		return NULL;
	if (pass == PASS_LOCAL) {
		/* a zip inside a compressed stream is a member of a file
		 * compressed alone: PASS_ALL reads it, both ways, as such */
		archive_read_support_format_zip_streamable(a);
	} else {
		for (i = 0; i < G_N_ELEMENTS(filters); i++)
			if (mask & (1u << i))
				filters[i].support(a);
		archive_read_support_format_zip_seekable(a);
		archive_read_support_format_7zip(a);
		archive_read_support_format_rar(a);
		archive_read_support_format_rar5(a);
		archive_read_support_format_tar(a);
		archive_read_support_format_iso9660(a);
		archive_read_support_format_cab(a);
		archive_read_support_format_raw(a);
	}
	if (in->fd >= 0 ? lseek(in->fd, 0, SEEK_SET) != 0
	    || archive_read_open_fd(a, in->fd, BLOCK) != ARCHIVE_OK
	    : archive_read_open_memory(a, in->data, in->len) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* alone_name - a file compressed alone is called as its attachment (or
 * the member holding it) without the compression suffix */
static char *
alone_name(const char *name)
{
	size_t len = name ? strlen(name) : 0, sl;
	const char *base;
	unsigned i;

	if (name == NULL || *name == '\0')
		return g_strdup("data");
	base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	len = strlen(base);
	for (i = 0; i < G_N_ELEMENTS(compressed); i++) {
		sl = strlen(compressed[i].suffix);
		if (len > sl && !g_ascii_strcasecmp(base + len - sl, compressed[i].suffix))
			return g_strdup_printf("%.*s%s", (int) (len - sl), base, compressed[i].becomes);
	}
	return g_strdup(base);
}

/* member_names - the names one member goes by: UTF-8 where the archive
 * tells its names' charset, and the bytes as they are where those differ */
static GPtrArray *
member_names(struct archive *a, struct archive_entry *e, const char *name)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	const char *u, *raw;

	if (archive_format(a) == ARCHIVE_FORMAT_RAW) {
		g_ptr_array_add(out, alone_name(name));
		return out;
	}
	u = archive_entry_pathname_utf8(e);
	raw = archive_entry_pathname(e);
	if (u && *u)
		g_ptr_array_add(out, g_strdup(u));
	if (raw && *raw && (u == NULL || strcmp(u, raw)))
		g_ptr_array_add(out, g_strdup(raw));
	return out;
}

/* member_data - read a member's data, within the size limit, and list
 * the archive it is, if it is one (path: its own path, or NULL when it
 * needs no look) */
static enum archive_result
member_data(struct walk *w, struct archive *a, const char *member, const char *path,
	    unsigned depth)
{
	GByteArray *b = path ? g_byte_array_new() : NULL;
	enum archive_result res = ARCHIVE_RESULT_DONE;
	char *buf = g_malloc(BLOCK), *prefix;
	la_ssize_t n;

	while ((n = archive_read_data(a, buf, BLOCK)) > 0) {
		if ((unsigned long long) n > w->l->size - w->count->size) {
			res = ARCHIVE_RESULT_SIZE;
			break;
		}
		w->count->size += (unsigned long long) n;
		if (b)
			g_byte_array_append(b, (guint8 *) buf, (guint) n);
	}
	g_free(buf);
	if (res == ARCHIVE_RESULT_DONE && n < 0)
		res = ARCHIVE_RESULT_UNREADABLE;
	if (res == ARCHIVE_RESULT_DONE && b && b->len > 0) {
		struct src inner = {b->data, b->len, -1};

		prefix = g_strconcat(path, "/", NULL);
		res = list_both(w, &inner, member, prefix, depth + 1);
		if (res == ARCHIVE_RESULT_NONE)
			res = ARCHIVE_RESULT_DONE;
		g_free(prefix);
	}
	if (b)
		g_byte_array_free(b, TRUE);
	return res;
}

/* member - one member: its names to the callback, then its data */
static enum archive_result
member(struct walk *w, struct archive *a, struct archive_entry *e, const char *name,
       const char *prefix, unsigned depth, enum pass pass, GHashTable *shown)
{
	GPtrArray *names = member_names(a, e, name);
	enum archive_result res = ARCHIVE_RESULT_DONE;
	char *path = NULL;
	int look;
	guint i;

	if (names->len == 0) {
		g_ptr_array_unref(names);
		return ARCHIVE_RESULT_UNREADABLE;
	}
	/* a member the central directory showed was looked into then */
	look = pass == PASS_ALL || !g_hash_table_contains(shown, g_ptr_array_index(names, 0));
	for (i = 0; i < names->len && res == ARCHIVE_RESULT_DONE; i++) {
		char *p = g_strconcat(prefix, (char *) g_ptr_array_index(names, i), NULL);

		if (pass == PASS_ALL)
			g_hash_table_add(shown, g_strdup(g_ptr_array_index(names, i)));
		if (archive_entry_filetype(e) != AE_IFDIR && w->fn(p, w->ctx))
			res = ARCHIVE_RESULT_STOPPED;
		if (path == NULL)
			path = p;
		else
			g_free(p);
	}
	if (res != ARCHIVE_RESULT_DONE) {
		/* stopped: no more reading */
	} else if (archive_entry_is_data_encrypted(e)) {
		/* its data cannot be read without the password: skip it */
		if (archive_read_data_skip(a) != ARCHIVE_OK)
			res = ARCHIVE_RESULT_UNREADABLE;
	} else if (!look && archive_entry_size_is_set(e)) {
		if (archive_read_data_skip(a) != ARCHIVE_OK)
			res = ARCHIVE_RESULT_UNREADABLE;
	} else {
		res = member_data(w, a, g_ptr_array_index(names, 0), look ? path : NULL, depth);
	}
	g_free(path);
	g_ptr_array_unref(names);
	return res;
}

/* list - one pass over one archive at depth (1: the attachment) */
static enum archive_result
list(struct walk *w, const struct src *in, const char *name,
     const char *prefix, unsigned depth, enum pass pass, GHashTable *shown)
{
	struct archive *a = reader(in, pass);
	struct archive_entry *e;
	enum archive_result res = ARCHIVE_RESULT_DONE;
	int first = 1, rc;

	if (a == NULL)
		return ARCHIVE_RESULT_NONE;
	while (res == ARCHIVE_RESULT_DONE) {
		rc = archive_read_next_header(a, &e);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc < ARCHIVE_WARN) {
			/* a first header that does not read is no archive
			 * after all, unless what cannot be read is its names */
			res = first && archive_read_has_encrypted_entries(a) <= 0
				? ARCHIVE_RESULT_NONE : ARCHIVE_RESULT_UNREADABLE;
			break;
		}
		if (first && archive_format(a) == ARCHIVE_FORMAT_RAW && archive_filter_count(a) < 2) {
			/* the raw format takes anything: only a decompressed
			 * stream is a file compressed alone */
			res = ARCHIVE_RESULT_NONE;
			break;
		}
		if (first && depth > w->l->depth) {
			res = ARCHIVE_RESULT_DEPTH;
			break;
		}
		first = 0;
		if (w->count->members >= w->l->members) {
			res = ARCHIVE_RESULT_MEMBERS;
			break;
		}
		w->count->members++;
		res = member(w, a, e, name, prefix, depth, pass, shown);
	}
	archive_read_free(a);
	return res;
}

/* list_both - an archive by its central directory and by its local
 * headers.  The central directory is what mail users' tools show; when
 * it was read, a local-header reading that fails (a streaming reader
 * cannot always find where a member ends) takes nothing away from it. */
static enum archive_result
list_both(struct walk *w, const struct src *in, const char *name,
	  const char *prefix, unsigned depth)
{
	GHashTable *shown = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	enum archive_result all, local;

	all = list(w, in, name, prefix, depth, PASS_ALL, shown);
	if (all != ARCHIVE_RESULT_DONE && all != ARCHIVE_RESULT_NONE) {
		g_hash_table_destroy(shown);
		return all;
	}
	local = list(w, in, name, prefix, depth, PASS_LOCAL, shown);
	g_hash_table_destroy(shown);
	if (local == ARCHIVE_RESULT_UNREADABLE && all == ARCHIVE_RESULT_DONE)
		return ARCHIVE_RESULT_DONE;
	if (local != ARCHIVE_RESULT_DONE && local != ARCHIVE_RESULT_NONE)
		return local;
	return all == ARCHIVE_RESULT_DONE || local == ARCHIVE_RESULT_DONE
		? ARCHIVE_RESULT_DONE : ARCHIVE_RESULT_NONE;
}

enum archive_result
archive_names(const void *data, size_t len, const char *name,
	      const struct archive_limits *l, struct archive_count *count,
	      archive_name_fn fn, void *ctx)
{
	struct walk w = {l, count, fn, ctx};
	struct src in = {data, len, -1};

	if (data == NULL || len == 0)
		return ARCHIVE_RESULT_NONE;
	return list_both(&w, &in, name, "", 1);
}

/* archive_names_fd - the same for the bytes of the file open on fd (read
 * from its start, a block at a time: a large attachment needs no memory
 * of its size) */
enum archive_result
archive_names_fd(int fd, const char *name, const struct archive_limits *l,
		 struct archive_count *count, archive_name_fn fn, void *ctx)
{
	struct walk w = {l, count, fn, ctx};
	struct src in = {NULL, 0, fd};
	off_t end = lseek(fd, 0, SEEK_END);

	if (end <= 0)
		return end < 0 ? ARCHIVE_RESULT_UNREADABLE : ARCHIVE_RESULT_NONE;
	return list_both(&w, &in, name, "", 1);
}

const char *
archive_result_name(enum archive_result r)
{
	static const char *const names[] = {
		[ARCHIVE_RESULT_NONE] = "not an archive",
		[ARCHIVE_RESULT_DONE] = "read",
		[ARCHIVE_RESULT_STOPPED] = "stopped",
		[ARCHIVE_RESULT_DEPTH] = "archives nested deeper than archive-max-depth",
		[ARCHIVE_RESULT_MEMBERS] = "more members than archive-max-members",
		[ARCHIVE_RESULT_SIZE] = "more data than archive-max-size",
		[ARCHIVE_RESULT_UNREADABLE] = "damaged, or its names encrypted",
	};

	return (unsigned) r < G_N_ELEMENTS(names) ? names[r] : "?";
}
