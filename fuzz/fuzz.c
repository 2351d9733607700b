/*
 * fuzz - the fuzz targets' scratch directory and fixed files
 *
 * A failure to set up (a file missing from the tree, a full disk) is no
 * finding: it stops the target at once, with the reason on stderr.
 */
#include <sys/stat.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gmime/gmime.h>

#include "../milters/registry.h"
#include "../src/handler.h"
#include "../src/log.h"
#include "../src/mime.h"
#include "../src/policy.h"
#include "fuzz.h"

#ifndef FUZZ_TOP
#define FUZZ_TOP "."
#endif

static char *scratch;

/* die - a set-up failure: no finding, stop */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* rm_tree - remove dir and everything under it */
static void
rm_tree(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, name, NULL);

		if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
			rm_tree(p);
		else
			g_unlink(p);
		g_free(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(dir);
}

static void
cleanup(void)
{
	if (scratch)
		rm_tree(scratch);
	g_free(scratch);
	scratch = NULL;
}

/* fuzz_init - GMime, a silent log and the scratch directory; its path */
const char *
fuzz_init(void)
{
	GError *err = NULL;

	if (scratch)
		return scratch;
	umask(077);
	log_open("sinkd-fuzz", 0, 0);
	log_set_quiet(1);
	g_mime_init();
	mime_footer = disclaimer_footer;
	if ((scratch = g_dir_make_tmp("sinkd-fuzz-XXXXXX", &err)) == NULL)
		die("scratch directory: %s", err->message);
	atexit(cleanup);
	return scratch;
}

/* fuzz_path - rel in the scratch directory; the caller frees it */
char *
fuzz_path(const char *rel)
{
	return g_build_filename(scratch, rel, NULL);
}

/* fuzz_mkdir - a directory in the scratch directory */
void
fuzz_mkdir(const char *rel)
{
	char *p = fuzz_path(rel);

	if (g_mkdir_with_parents(p, 0700) < 0)
		die("%s: %s", p, strerror(errno));
	g_free(p);
}

/* fuzz_write - rel in the scratch directory holds exactly data */
void
fuzz_write(const char *rel, const void *data, size_t len)
{
	char *p = fuzz_path(rel);
	GError *err = NULL;

	/* in place, no fsync: this runs once per input */
	if (!g_file_set_contents_full(p, data, len, G_FILE_SET_CONTENTS_NONE, 0600, &err))
		die("%s", err->message);
	g_free(p);
}

/* fuzz_copy - a file of the source tree into the scratch directory */
void
fuzz_copy(const char *top_rel, const char *rel)
{
	char *from = g_build_filename(FUZZ_TOP, top_rel, NULL), *data;
	GError *err = NULL;
	gsize len;

	if (!g_file_get_contents(from, &data, &len, &err))
		die("%s", err->message);
	fuzz_write(rel, data, len);
	g_free(data);
	g_free(from);
}

/* fuzz_load - snapshot_load() of rel in the scratch directory with the
 * real registry; NULL with the errors in e */
struct snapshot *
fuzz_load(const char *rel, struct conf_errors *e)
{
	char *p = fuzz_path(rel);
	struct snapshot *s = snapshot_load(p, sinkd_handlers, e);

	g_free(p);
	return s;
}

/* fuzz_ready - fuzz_load() of rel and its handlers configured, as a
 * target's fixed setup; exits 2 (the errors on stderr, who saying
 * which target) when that fails */
struct snapshot *
fuzz_ready(const char *rel, const char *who)
{
	struct conf_errors e;
	struct snapshot *s;
	guint i;

	conf_errors_init(&e);
	s = fuzz_load(rel, &e);
	for (i = 0; i < e.msgs->len; i++)
		fprintf(stderr, "%s\n", (char *) g_ptr_array_index(e.msgs, i));
	conf_errors_free(&e);
	if (s == NULL || handler_configure(s, 1) < 0) {
		fprintf(stderr, "%s: cannot load %s\n", who, rel);
		exit(2);
	}
	return s;
}

/* fuzz_check_errors - every error and warning one line, naming its file
 * (in the scratch directory) or the built-in default; else abort: a
 * finding */
void
fuzz_check_errors(const struct conf_errors *e)
{
	size_t n = strlen(scratch);
	guint i, w;

	for (w = 0; w < 2; w++)
	for (i = 0; i < (w ? e->warnings : e->msgs)->len; i++) {
		const char *m = g_ptr_array_index(w ? e->warnings : e->msgs, i);
		const unsigned char *p;

		for (p = (const unsigned char *) m; *p; p++)
			if ((*p < ' ' && *p != '\t') || *p == 0x7f)
				break;
		if (*p == 0 && ((!strncmp(m, scratch, n) && m[n] == '/')
				|| g_str_has_prefix(m, "built-in default of [")))
			continue;
		fprintf(stderr, "fuzz: an error is not one line naming its file: \"%s\"\n", m);
		abort();
	}
}
