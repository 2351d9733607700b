/*
 * mimewarn - count GMime's parser warnings for a message (a test tool)
 *
 * usage: mimewarn FILE
 * Prints the number of warnings GMime's parser reports (defects such as
 * unterminated boundaries or malformed headers); t/disclaimer.t checks the
 * handler's output has no more than its input.
 */
#include <fcntl.h>
#include <stdio.h>
#include <gmime/gmime.h>

static void
count(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
	(void) offset;
	(void) code;
	(void) item;
	(*(int *) data)++;
}

int
main(int argc, char **argv)
{
	GMimeParserOptions *o;
	GMimeStream *s;
	GMimeParser *p;
	GMimeMessage *m;
	int n = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: mimewarn FILE\n");
		return 64;
	}
	g_mime_init();
	if ((s = g_mime_stream_fs_open(argv[1], O_RDONLY, 0, NULL)) == NULL) {
		perror(argv[1]);
		return 1;
	}
	o = g_mime_parser_options_new();
	g_mime_parser_options_set_warning_callback(o, count, &n);
	p = g_mime_parser_new_with_stream(s);
	m = g_mime_parser_construct_message(p, o);
	printf("%d\n", n);
	if (m)
		g_object_unref(m);
	g_object_unref(p);
	g_object_unref(s);
	g_mime_parser_options_free(o);
	g_mime_shutdown();
	return 0;
}
