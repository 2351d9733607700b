/*
 * fuzz_dkim - DKIM verification of one message, and the changes that ask
 * dkim_may_change(), as sinkd -t runs them
 *
 * The input is the message, given to the chain by offline_run_buffer()
 * as fuzz_message does.  The configuration is fuzz/dkim.conf, loaded
 * once: the dkim handler (keys from fuzz/dkim.keys, never DNS), rewrite
 * and the disclaimer.  Seeds (fuzz/run): the corpus's signed samples,
 * whose signatures are real, and fuzz/regress/fuzz_dkim/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <glib.h>

#include "../src/handler.h"
#include "../src/offline.h"
#include "../src/policy.h"
#include "fuzz.h"

static struct snapshot *snap;
static FILE *sink;
static char *sender = "sender@example.net";
static char *rcpts[] = {"rcpt@example.org", NULL};
static char *client = "192.0.2.10,mx.example.net";

/* release - the snapshot, at exit */
static void
release(void)
{
	handler_stop(snap);
	snapshot_unref(snap);
	fclose(sink);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fuzz_init();
	fuzz_mkdir("spool");
	fuzz_copy("fuzz/dkim.conf", "sinkd.conf");
	fuzz_copy("fuzz/dkim.keys", "dkim.keys");
	fuzz_copy("t/disclaimer/text.tmpl", "text.tmpl");
	snap = fuzz_ready("sinkd.conf", "fuzz_dkim");
	if ((sink = fopen("/dev/null", "w")) == NULL) {
		perror("/dev/null");
		exit(2);
	}
	atexit(release);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct offline_args a = {
		.sender = sender,
		.rcpts = rcpts,
		.client = client,
	};

	offline_run_buffer(snap, &a, data, size, sink, sink);
	return 0;
}
