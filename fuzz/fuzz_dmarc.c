/*
 * fuzz_dmarc - one TXT record's text read as a DMARC record
 * (dmarc_parse(), lists/dmarc.c)
 *
 * The input is the record's text as DNS gives it, its character-strings
 * joined: any bytes, NULs too.  Beyond the sanitizers' findings, the
 * target aborts when the parse breaks what it promises: a record taken
 * has policies for p= and sp= (none, quarantine, reject); case changes
 * nothing; and a record taken is taken the same with a tag added after
 * it.  Seeds: fuzz/seeds/fuzz_dmarc/ (records as published, white space,
 * case, tags in every place, records that are not valid), and
 * fuzz/regress/fuzz_dmarc/ once it has findings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "../lists/dmarc.h"

/* policy - p is one a record may give */
static int
policy(enum dmarc_policy p)
{
	return p == DMARC_NONE || p == DMARC_QUARANTINE || p == DMARC_REJECT;
}

/* finding - what the parse broke: abort, a finding */
static void __attribute__((noreturn))
finding(const char *what)
{
	fprintf(stderr, "fuzz_dmarc: %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum dmarc_policy p, sp, p2, sp2;
	char *upper, *more;
	size_t i;
	int rc, rc2;

	rc = dmarc_parse((const char *) data, size, &p, &sp);
	if (rc != 0 && rc != -1)
		finding("neither 0 nor -1");
	if (rc == 0 && (!policy(p) || !policy(sp)))
		finding("a record taken without policies");

	/* case changes nothing (in memory of its own, exactly size bytes) */
	upper = g_malloc(size ? size : 1);
	for (i = 0; i < size; i++)
		upper[i] = g_ascii_toupper((char) data[i]);	/* NULs too */
	rc2 = dmarc_parse(upper, size, &p2, &sp2);
	if (rc2 != rc || (rc == 0 && (p2 != p || sp2 != sp)))
		finding("case changed the result");
	g_free(upper);

	/* a tag added after a record taken changes nothing */
	if (rc == 0) {
		more = g_malloc(size + 8);
		memcpy(more, data, size);
		memcpy(more + size, "; x_1=y", 7);
		rc2 = dmarc_parse(more, size + 7, &p2, &sp2);
		if (rc2 != 0 || p2 != p || sp2 != sp)
			finding("a tag added after the record changed the result");
		g_free(more);
	}
	return 0;
}
