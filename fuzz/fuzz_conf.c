/*
 * fuzz_conf - the input as sinkd.conf
 *
 * Written to a scratch directory, then loaded with the real handler
 * registry, as sinkd -n does.  Errors are expected: what must not happen
 * is a crash, a leak, a hang, or an error that is not one line naming its
 * file (and line).  The directory also holds what a configuration may
 * name (lists, disclaimer templates), so that keys naming them get past
 * the open; there is no domains directory: that is fuzz_policy's part.
 */
#include <stdint.h>
#include <stdio.h>
#include <glib.h>

#include "../src/policy.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fuzz_init();
	fuzz_copy("t/conf/ok/lists", "lists");
	fuzz_copy("etc/disclaimer.txt", "disclaimer.txt");
	fuzz_copy("etc/disclaimer.html", "disclaimer.html");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors e;

	fuzz_write("sinkd.conf", data, size);
	conf_errors_init(&e);
	snapshot_unref(fuzz_load("sinkd.conf", &e));
	fuzz_check_errors(&e);
	conf_errors_free(&e);
	return 0;
}
