/*
 * fuzz_dsn - the list service's bounce parser (lists/dsn.c)
 *
 * The input is a message, given to dsn_parse() as the list service
 * gives it a bounce.  Beyond what the sanitizers find, the target holds
 * dsn_parse() to its promises and aborts (a finding) when one is
 * broken: NULL comes with a reason and a DSN without one; at most
 * DSN_MAX_RCPTS recipients; every string valid UTF-8 with no control
 * character, in its bound; an address with one '@', something on each
 * side of it and no white space; a status code of class 2, 4 or 5.
 * Work must stay bounded too (fuzz/run's timeout): deep nesting, many
 * blocks, a status part past the byte cap, in any transfer encoding.
 * Seeds: fuzz/seeds/fuzz_dsn/ (hostile fields, many blocks, deep
 * nesting, a nested report, each transfer encoding, an empty status
 * part: a NULL pointer once) and the bounces of t/lists/dsn/.
 *
 * It needs nothing of fuzz.c's: no scratch directory, no configuration,
 * only GMime, set up once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "../lists/dsn.h"

/* broken - a promise dsn_parse() did not keep: a finding */
static void __attribute__((noreturn))
broken(const char *what, const char *value)
{
	fprintf(stderr, "fuzz_dsn: %s: \"%s\"\n", what, value ? value : "(null)");
	abort();
}

/* check_str - s is NULL or valid UTF-8 with no control character, at
 * most max bytes */
static void
check_str(const char *s, size_t max, const char *what)
{
	const char *p;

	if (s == NULL)
		return;
	if (strlen(s) > max || !g_utf8_validate(s, -1, NULL))
		broken(what, s);
	for (p = s; *p; p = g_utf8_next_char(p))
		if (g_unichar_iscntrl(g_utf8_get_char(p)))
			broken(what, s);
}

/* check_addr - a is NULL or looks like local@domain */
static void
check_addr(const char *a, const char *what)
{
	const char *at;

	if (a == NULL)
		return;
	check_str(a, DSN_MAX_ADDR - 1, what);
	at = strchr(a, '@');
	if (at == NULL || at == a || at[1] == 0 || strchr(at + 1, '@') || strpbrk(a, " \t"))
		broken(what, a);
}

/* check_status - s is "" or class.subject.detail */
static void
check_status(const char *s)
{
	unsigned c, sub, det;
	int n = 0;

	if (s[0] == 0)
		return;
	if (sscanf(s, "%1u.%3u.%3u%n", &c, &sub, &det, &n) != 3 || s[n] != 0
	    || (c != 2 && c != 4 && c != 5))
		broken("status", s);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	g_mime_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *why = NULL;
	struct dsn *d = dsn_parse((const char *) data, size, &why);
	guint i;

	if ((d == NULL) != (why != NULL))
		broken("a DSN with a reason, or none with none", why);
	check_str(why, 1024, "why");
	if (d) {
		if (d->rcpts->len > DSN_MAX_RCPTS)
			broken("recipients over the cap", NULL);
		check_str(d->reporting_mta, DSN_MAX_ADDR - 1, "Reporting-MTA");
		for (i = 0; i < d->rcpts->len; i++) {
			const struct dsn_rcpt *r = g_ptr_array_index(d->rcpts, i);

			check_addr(r->final, "Final-Recipient");
			check_addr(r->original, "Original-Recipient");
			check_status(r->status);
			check_str(r->diagnostic, DSN_MAX_DIAG, "Diagnostic-Code");
			if (strcmp(dsn_action_name(r->action), "unknown") == 0
			    && r->action != DSN_UNKNOWN)
				broken("action", dsn_action_name(r->action));
		}
	}
	dsn_free(d);
	g_free(why);
	return 0;
}
