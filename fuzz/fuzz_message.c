/*
 * fuzz_message - one message through the chain, as sinkd -t runs it
 *
 * The input is the message: offline_run_buffer() gives it to the very
 * chain functions the milter glue calls, from connect to end of message,
 * and applies the edits to its own copy.  The configuration is
 * fuzz/message.conf, loaded once: the protocol, clamav (the embedded
 * engine, on a signature database built here as t/lib/clamav.sh builds
 * it), rewrite and disclaimer handlers, with the disclaimer templates of
 * t/disclaimer/.  The result and the verdict line go to /dev/null.
 *
 * t/fuzz-regress.t replays fuzz/regress/fuzz_message/ through sinkd -t
 * with the same configuration and the same envelope.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "../src/handler.h"
#include "../src/offline.h"
#include "../src/policy.h"
#include "fuzz.h"

/* the EICAR test string, whose MD5 sum makes one signature */
static const char eicar[] =
	"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

static struct snapshot *snap;
static FILE *sink;
static char *sender = "sender@example.net";
static char *rcpts[] = {"rcpt@example.org", NULL};
static char *client = "192.0.2.10,mx.example.net";

/* signatures - db/: ClamAV's own test signatures and EICAR's MD5 */
static void
signatures(void)
{
	char *sum = g_compute_checksum_for_string(G_CHECKSUM_MD5, eicar, -1);
	char *line = g_strdup_printf("%s:%zu:eicar.com\n", sum, strlen(eicar));

	fuzz_mkdir("db");
	fuzz_copy("t/corpus/clamav/sigs/clamav.hdb", "db/clamav.hdb");
	fuzz_copy("t/corpus/clamav/sigs/other_sigs/Clamav-Unit-Test-Signature.ndb",
		  "db/Clamav-Unit-Test-Signature.ndb");
	fuzz_write("db/eicar.hdb", line, strlen(line));
	g_free(line);
	g_free(sum);
}

/* release - the engine and the snapshot, at exit */
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
	fuzz_mkdir("tmp");
	fuzz_copy("fuzz/message.conf", "sinkd.conf");
	fuzz_copy("t/disclaimer/text.tmpl", "text.tmpl");
	fuzz_copy("t/disclaimer/html.tmpl", "html.tmpl");
	signatures();
	snap = fuzz_ready("sinkd.conf", "fuzz_message");
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
