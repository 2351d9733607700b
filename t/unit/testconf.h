/*
 * testconf - write throw-away configuration trees for unit tests
 */
#ifndef SINKD_TESTCONF_H
#define SINKD_TESTCONF_H

#include <glib.h>

/* tc_write - write text to dir/name (directories created) */
static inline void
tc_write(const char *dir, const char *name, const char *text)
{
	char *path = g_build_filename(dir, name, NULL), *parent = g_path_get_dirname(path);

	g_mkdir_with_parents(parent, 0755);
	g_file_set_contents(path, text, -1, NULL);
	g_free(parent);
	g_free(path);
}

#endif
