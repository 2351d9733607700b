/*
 * tap - TAP output for sinkd's C unit tests
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"

static int tap_n, tap_failed;

int
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

int
tap_is_int(long long got, long long want, const char *what)
{
	if (tap_ok(got == want, "%s", what))
		return 1;
	printf("#      got: %lld\n# expected: %lld\n", got, want);
	return 0;
}

int
tap_is_str(const char *got, const char *want, const char *what)
{
	int same = (got == NULL && want == NULL)
		|| (got && want && strcmp(got, want) == 0);

	if (tap_ok(same, "%s", what))
		return 1;
	printf("#      got: '%s'\n# expected: '%s'\n", got ? got : "(null)",
	       want ? want : "(null)");
	return 0;
}

int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed > 254 ? 254 : tap_failed;
}
