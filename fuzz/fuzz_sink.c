/*
 * fuzz_sink - a Lua sink's script and a message, through the chain
 *
 * The input is a script, then a line "__END__" and a message; without
 * that line, the whole input is the script and the message is a fixed
 * one (a text part and an attachment).  An input that begins with a NUL
 * byte is a sequence of API calls instead: the script is then
 * fuzz/sink-calls.lua, which reads the rest of the input (before any
 * "__END__" line) as calls of its context's methods, with arguments
 * from a pool of hostile values, in every hook.  The script is written to
 * sink.lua and fuzz/sink.conf is loaded afresh for each input, so that
 * the real Lua provider compiles it and runs it in its sandbox (the keys
 * it declares checked, its init run), then offline_run_buffer() gives the
 * message to the chain, as sinkd -t does: protocol, the script's hooks
 * from connect to end of message (or abort), and the disclaimer after it,
 * every call of the script's context objects going through the real
 * struct sinkd_api into sinkd's edit list and MIME tree.  Hostile
 * scripts and hostile arguments to every call (huge strings, CR and LF,
 * NUL bytes, part numbers out of range, wrong types) are the point.
 *
 * A configuration that does not load is judged by the form of its
 * errors (fuzz_check_errors(): one line each, naming the file).  The
 * script's top level runs under the provider's default limits; fuzz
 * builds make them small (the Makefile's FUZZ_CFLAGS), and the hooks run
 * under sink.conf's.
 *
 * t/fuzz-regress.t replays fuzz/regress/fuzz_sink/ through sinkd -t with
 * the same configuration and envelope.
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

static const char separator[] = "\n__END__\n";

static const char default_message[] =
	"From: Sender <sender@example.net>\r\n"
	"To: rcpt@example.org\r\n"
	"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
	"X-Spam: yes\r\n"
	"X-Spam: no\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=b1\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Hello =C3=A9 world\r\n"
	"--b1\r\n"
	"Content-Type: application/octet-stream; name=a.bin\r\n"
	"Content-Disposition: attachment; filename=a.bin\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"AAECAwQFBgc=\r\n"
	"--b1--\r\n";

static FILE *devnull;
static char *calls;		/* fuzz/sink-calls.lua */
static gsize calls_len;
static char *sender = "sender@example.net";
static char *rcpts[] = {"rcpt@example.org", "other@example.org", NULL};
static char *client = "192.0.2.10,mx.example.net";

/* release - at exit */
static void
release(void)
{
	fclose(devnull);
	g_free(calls);
}

/* calls_script - fuzz/sink-calls.lua, after a line setting prog to the
 * len bytes of p (g_free()) */
static char *
calls_script(const uint8_t *p, size_t len, size_t *out)
{
	GString *o = g_string_sized_new(len * 4 + calls_len + 32);
	size_t i;

	g_string_append(o, "local prog = \"");
	for (i = 0; i < len; i++)
		g_string_append_printf(o, "\\%03u", p[i]);
	g_string_append(o, "\"\n");
	g_string_append_len(o, calls, (gssize) calls_len);
	*out = o->len;
	return g_string_free(o, FALSE);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fuzz_init();
	fuzz_mkdir("spool");
	fuzz_copy("fuzz/sink.conf", "sinkd.conf");
	fuzz_copy("t/disclaimer/text.tmpl", "text.tmpl");
	fuzz_copy("t/disclaimer/html.tmpl", "html.tmpl");
	if (!g_file_get_contents(FUZZ_TOP "/fuzz/sink-calls.lua", &calls, &calls_len, NULL)) {
		fprintf(stderr, "fuzz_sink: cannot read fuzz/sink-calls.lua\n");
		exit(2);
	}
	if ((devnull = fopen("/dev/null", "w")) == NULL) {
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
	const uint8_t *msg = (const uint8_t *) default_message;
	size_t script = size, len = sizeof(default_message) - 1;
	const uint8_t *sep = memmem(data, size, separator, sizeof(separator) - 1);
	struct conf_errors e;
	struct snapshot *s;

	if (sep) {
		script = (size_t) (sep - data);
		msg = sep + sizeof(separator) - 1;
		len = size - script - (sizeof(separator) - 1);
	}
	if (script > 0 && data[0] == 0) {
		size_t n;
		char *text = calls_script(data + 1, script - 1, &n);

		fuzz_write("sink.lua", text, n);
		g_free(text);
	} else {
		fuzz_write("sink.lua", data, script);
	}
	conf_errors_init(&e);
	s = fuzz_load("sinkd.conf", &e);
	fuzz_check_errors(&e);
	conf_errors_free(&e);
	if (s == NULL)
		return 0;
	/* as sinkd -t: a handler that could not get ready fails each
	 * message by its on-error */
	handler_configure(s, 1);
	offline_run_buffer(s, &a, msg, len, devnull, devnull);
	handler_stop(s);
	snapshot_unref(s);
	return 0;
}
