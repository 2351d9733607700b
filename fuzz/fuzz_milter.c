/*
 * fuzz_milter - milter packets, in any order, to sinkd's callbacks
 *
 * The input is what an MTA (or any client of the socket) writes to the
 * milter socket: packets of a 4-byte length, a command byte and its data.
 * They are cut and decoded as libmilter cuts and decodes them (a packet
 * of more than 65535 data bytes, an unknown command or data libmilter
 * cannot decode ends the session), and each goes to the callback libmilter
 * would call, from src/milter.c (milter_desc()), but in the order given:
 * no state table stands in front, so the callbacks meet every order a
 * client can write, including those libmilter's own table holds back.
 * SMFIC_MACRO packets set the macros smfi_getsymval() answers.  At the
 * end, as libmilter does, abort and close.
 *
 * The smfi_* functions the callbacks call are replaced here: the private
 * data, the macros, the reply, and the message edits, which (as in
 * libmilter) succeed only during end of message.  libmilter's own
 * smfi_register() and smfi_opensocket() are real: milter_open() sets up
 * the unix socket of fuzz/milter.conf, so that sinkd negotiates as it does
 * on one (steps without replies).
 *
 * Besides the sanitizers, the target aborts when a session ends with a
 * connection or a message still counted (milter_counts()), with the
 * private data still set, or when a message is accepted at end of message
 * that no negotiated, connected session began with MAIL FROM.
 *
 * t/fuzz-regress.t replays fuzz/regress/fuzz_milter/ to a running sinkd
 * over its socket (t/unit/milterseq).
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "../src/milter.h"
#include "../src/policy.h"
#include "fuzz.h"

#define DATA_MAX	65535	/* libmilter's longest packet data */
#define NCLASS		7	/* macro classes: C H M R T E N */

static struct snapshot *snap;
static SMFICTX *const fz_ctx = (SMFICTX *) &snap;	/* any unique address */

/* The one session's libmilter state, as far as the callbacks see it. */
static struct {
	void *priv;
	char **macros[NCLASS];	/* name, value, ...; NULL-terminated */
	char *macbuf[NCLASS];	/* the packet data they point into */
	int in_eom;		/* edits allowed */
	int negotiated, connected, mail;	/* what came, in order */
} fz;

/* fz_valid - the callbacks are only ever given the session's context */
static void
fz_valid(SMFICTX *ctx)
{
	if (ctx != fz_ctx) {
		fprintf(stderr, "fuzz_milter: a foreign SMFICTX\n");
		abort();
	}
}

int
smfi_setpriv(SMFICTX *ctx, void *data)
{
	fz_valid(ctx);
	fz.priv = data;
	return MI_SUCCESS;
}

void *
smfi_getpriv(SMFICTX *ctx)
{
	fz_valid(ctx);
	return fz.priv;
}

/* smfi_getsymval - as libmilter: "x", "{x}" and the other spelling; a
 * name without a value ends the list */
char *
smfi_getsymval(SMFICTX *ctx, char *name)
{
	int i;

	fz_valid(ctx);
	if (name == NULL || *name == '\0')
		return NULL;
	for (i = NCLASS - 1; i >= 0; i--) {
		char **s;

		for (s = fz.macros[i]; s && s[0] && s[1]; s += 2) {
			size_t n = strlen(name), k = strlen(*s);

			if (!strcmp(*s, name)
			    || (n == 3 && name[0] == '{' && name[2] == '}' && k == 1 && **s == name[1])
			    || (n == 1 && k == 3 && (*s)[0] == '{' && (*s)[2] == '}' && (*s)[1] == *name))
				return s[1];
		}
	}
	return NULL;
}

/* fz_reply_ok - what libmilter's smfi_setreply() checks */
static int
fz_reply_ok(const char *code, const char *xcode, const char *text)
{
	if (code == NULL || strlen(code) != 3 || (code[0] != '4' && code[0] != '5')
	    || !g_ascii_isdigit(code[1]) || !g_ascii_isdigit(code[2]))
		return 0;
	if (xcode && xcode[0] != code[0])
		return 0;
	return text == NULL || strpbrk(text, "\r\n") == NULL;
}

int
smfi_setreply(SMFICTX *ctx, char *code, char *xcode, char *text)
{
	fz_valid(ctx);
	return fz_reply_ok(code, xcode, text) ? MI_SUCCESS : MI_FAILURE;
}

int
smfi_setmlreply(SMFICTX *ctx, const char *code, const char *xcode, ...)
{
	va_list ap;
	const char *l;
	int n = 0, ok = 1;

	fz_valid(ctx);
	va_start(ap, xcode);
	while ((l = va_arg(ap, const char *)) != NULL && n < 32) {
		ok &= fz_reply_ok(code, xcode, l);
		n++;
	}
	va_end(ap);
	return ok && n > 0 ? MI_SUCCESS : MI_FAILURE;
}

/* fz_edit - a message edit: libmilter allows it at end of message only */
static int
fz_edit(SMFICTX *ctx, const void *arg)
{
	fz_valid(ctx);
	return fz.in_eom && arg ? MI_SUCCESS : MI_FAILURE;
}

int smfi_addheader(SMFICTX *ctx, char *n, char *v) { return fz_edit(ctx, n && v ? n : NULL); }
int smfi_insheader(SMFICTX *ctx, int i, char *n, char *v) { (void) i; return fz_edit(ctx, n && v ? n : NULL); }
int smfi_chgheader(SMFICTX *ctx, char *n, int i, char *v) { (void) i; (void) v; return fz_edit(ctx, n); }
int smfi_addrcpt(SMFICTX *ctx, char *r) { return fz_edit(ctx, r); }
int smfi_delrcpt(SMFICTX *ctx, char *r) { return fz_edit(ctx, r); }
int smfi_chgfrom(SMFICTX *ctx, char *f, char *a) { (void) a; return fz_edit(ctx, f); }
int smfi_quarantine(SMFICTX *ctx, char *why) { return fz_edit(ctx, why); }

int
smfi_replacebody(SMFICTX *ctx, unsigned char *b, int len)
{
	return fz_edit(ctx, b || len == 0 ? "" : NULL);
}

/* fz_argv - data split at NULs as libmilter splits it (dec_argv): NULL
 * when there is none; the caller frees the array, not the strings */
static char **
fz_argv(char *buf, size_t len)
{
	size_t i, n = 0, e = 0;
	char **v;

	for (i = 0; i < len; i++)
		n += buf[i] == '\0';
	if (n == 0)
		return NULL;
	v = g_new0(char *, n + 1);
	v[0] = buf;
	for (i = 0; i < len && e < n; i++)
		if (buf[i] == '\0')
			v[++e] = i + 1 < len ? buf + i + 1 : NULL;
	v[n] = NULL;
	return v;
}

/* fz_macros - SMFIC_MACRO: the class, then name, value, ...; a packet
 * libmilter cannot decode is ignored, as libmilter ignores it */
static void
fz_macros(const char *buf, size_t len)
{
	static const char classes[NCLASS] = {
		SMFIC_CONNECT, SMFIC_HELO, SMFIC_MAIL, SMFIC_RCPT, SMFIC_DATA,
		SMFIC_BODYEOB, SMFIC_EOH,
	};
	const char *k;
	char *copy, **v;
	int i;

	if (len < 1 || (k = memchr(classes, buf[0], NCLASS)) == NULL)
		return;
	copy = g_memdup2(buf, len + 1);
	if ((v = fz_argv(copy + 1, len - 1)) == NULL) {
		g_free(copy);
		return;
	}
	i = k - classes;
	g_free(fz.macros[i]);
	g_free(fz.macbuf[i]);
	fz.macros[i] = v;
	fz.macbuf[i] = copy;
}

/* fz_connect - SMFIC_CONNECT as libmilter decodes it; -1: ends the session */
static int
fz_connect(const struct smfiDesc *d, char *buf, size_t len)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} a;
	size_t i = strnlen(buf, len);
	char family;

	if (i + 1 >= len)
		return -1;
	family = buf[++i];
	i++;
	memset(&a, 0, sizeof(a));
	if (family != SMFIA_UNKNOWN) {
		uint16_t port;

		if (i + sizeof(port) >= len || buf[len - 1] != '\0')
			return -1;
		memcpy(&port, buf + i, sizeof(port));
		i += sizeof(port);
		if (family == SMFIA_INET && inet_pton(AF_INET, buf + i, &a.in.sin_addr) == 1) {
			a.in.sin_family = AF_INET;
			a.in.sin_port = port;
		} else if (family == SMFIA_INET6
			   && inet_pton(AF_INET6, buf + i, &a.in6.sin6_addr) == 1) {
			a.in6.sin6_family = AF_INET6;
			a.in6.sin6_port = port;
		} else if (family == SMFIA_UNIX && strlen(buf + i) < sizeof(a.un.sun_path)) {
			a.un.sun_family = AF_UNIX;
			strcpy(a.un.sun_path, buf + i);
		} else {
			return -1;
		}
	}
	d->xxfi_connect(fz_ctx, buf, family != SMFIA_UNKNOWN ? &a.sa : NULL);
	fz.connected |= fz.negotiated;
	return 0;
}

/* fz_negotiate - SMFIC_OPTNEG: version, actions, steps; -1: ends it */
static int
fz_negotiate(const struct smfiDesc *d, const unsigned char *buf, size_t len)
{
	unsigned long f[3], p0, p1, p2, p3;
	int i;

	if (len < 12)
		return -1;
	for (i = 0; i < 3; i++)
		f[i] = (unsigned long) buf[4 * i] << 24 | (unsigned long) buf[4 * i + 1] << 16
			| (unsigned long) buf[4 * i + 2] << 8 | buf[4 * i + 3];
	if (f[0] < 2 || f[0] > 0x7fffffff)
		return -1;
	if (f[1] == 0)
		f[1] = SMFI_V1_ACTS;
	if (f[2] == 0)
		f[2] = SMFI_V1_PROT;
	/* libmilter offers the no-reply flags it can fake, whatever the MTA */
	f[2] |= SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT
		| SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_HDR | SMFIP_NR_EOH
		| SMFIP_NR_BODY;
	if (d->xxfi_negotiate(fz_ctx, f[1], f[2], 0, 0, &p0, &p1, &p2, &p3) != SMFIS_CONTINUE)
		return -1;
	fz.negotiated = 1;
	return 0;
}

/* fz_eom - end of message, and the verdict checked: nothing accepted that
 * no negotiated, connected session began with MAIL FROM */
static void
fz_eom(const struct smfiDesc *d)
{
	sfsistat st;

	fz.in_eom = 1;
	st = d->xxfi_eom(fz_ctx);
	fz.in_eom = 0;
	if ((st == SMFIS_CONTINUE || st == SMFIS_ACCEPT || st == SMFIS_DISCARD)
	    && !(fz.negotiated && fz.connected && fz.mail)) {
		fprintf(stderr, "fuzz_milter: a message accepted at end of message "
			"that no session began (negotiated %d, connected %d, mail %d)\n",
			fz.negotiated, fz.connected, fz.mail);
		abort();
	}
	fz.mail = 0;
}

/* fz_quit - SMFIC_QUIT and SMFIC_QUIT_NC: the close callback */
static void
fz_quit(const struct smfiDesc *d)
{
	d->xxfi_close(fz_ctx);
	fz.negotiated = fz.connected = fz.mail = 0;
}

/* fz_packet - one packet to its callback, as libmilter's st_*() would
 * give it; -1: libmilter would end the session here */
static int
fz_packet(const struct smfiDesc *d, char cmd, char *buf, size_t len)
{
	char **argv;
	size_t i;

	switch (cmd) {
	case SMFIC_OPTNEG:
		return fz_negotiate(d, (const unsigned char *) buf, len);
	case SMFIC_MACRO:
		fz_macros(buf, len);
		return 0;
	case SMFIC_CONNECT:
		return len ? fz_connect(d, buf, len) : -1;
	case SMFIC_HELO:
		/* libmilter ignores a HELO without its NUL */
		if (len > 0 && buf[len - 1] == '\0') {
			d->xxfi_helo(fz_ctx, buf);
			fz.mail = 0;
		}
		return 0;
	case SMFIC_MAIL:
	case SMFIC_RCPT:
		if (len == 0 || (argv = fz_argv(buf, len)) == NULL)
			return -1;
		if (cmd == SMFIC_MAIL) {
			d->xxfi_envfrom(fz_ctx, argv);
			fz.mail = 1;
		} else {
			d->xxfi_envrcpt(fz_ctx, argv);
		}
		g_free(argv);
		return 0;
	case SMFIC_DATA:
		d->xxfi_data(fz_ctx);
		return 0;
	case SMFIC_UNKNOWN:
		if (len == 0)
			return -1;
		d->xxfi_unknown(fz_ctx, buf);
		return 0;
	case SMFIC_HEADER:
		/* name NUL value NUL, or the session ends (dec_arg2) */
		if (len == 0 || buf[len - 1] != '\0')
			return -1;
		for (i = 1; i < len && buf[i] != '\0'; i++)
			continue;
		if (i >= len - 1)
			return -1;
		d->xxfi_header(fz_ctx, buf, buf + i + 1);
		return 0;
	case SMFIC_EOH:
		d->xxfi_eoh(fz_ctx);
		return 0;
	case SMFIC_BODY:
		if (len == 0)
			return -1;
		d->xxfi_body(fz_ctx, (unsigned char *) buf, len);
		return 0;
	case SMFIC_BODYEOB:
		/* a last chunk, then end of message if the chunk went on */
		if (len == 0 || d->xxfi_body(fz_ctx, (unsigned char *) buf, len) == SMFIS_CONTINUE)
			fz_eom(d);
		return 0;
	case SMFIC_ABORT:
		d->xxfi_abort(fz_ctx);
		fz.mail = 0;
		return 0;
	case SMFIC_QUIT_NC:
		fz_quit(d);
		return 0;
	case SMFIC_QUIT:
		fz_quit(d);
		return 1;
	default:
		return -1;	/* libmilter knows no other command */
	}
}

/* release - the snapshot, at exit */
static void
release(void)
{
	snapshot_unref(snap);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conf_errors e;
	char *conf, *sock, *text;
	const char *dir;
	gsize len;
	guint i;

	(void) argc;
	(void) argv;
	dir = fuzz_init();
	fuzz_mkdir("spool");
	fuzz_copy("t/disclaimer/text.tmpl", "text.tmpl");
	fuzz_copy("t/disclaimer/html.tmpl", "html.tmpl");
	/* fuzz/milter.conf with the socket in the scratch directory */
	conf = g_build_filename(FUZZ_TOP, "fuzz", "milter.conf", NULL);
	if (!g_file_get_contents(conf, &text, &len, NULL)) {
		fprintf(stderr, "fuzz_milter: cannot read %s\n", conf);
		exit(2);
	}
	sock = g_strdup_printf("[sinkd]\nsocket = unix:%s/milter.sock\n%s", dir,
			       strstr(text, "[sinkd]\n") ? strstr(text, "[sinkd]\n") + 8 : text);
	fuzz_write("sinkd.conf", sock, strlen(sock));
	g_free(sock);
	g_free(text);
	g_free(conf);
	conf_errors_init(&e);
	snap = fuzz_load("sinkd.conf", &e);
	for (i = 0; i < e.msgs->len; i++)
		fprintf(stderr, "%s\n", (char *) g_ptr_array_index(e.msgs, i));
	conf_errors_free(&e);
	if (snap == NULL || milter_open(snap, getuid(), getgid()) < 0) {
		fprintf(stderr, "fuzz_milter: cannot load fuzz/milter.conf\n");
		exit(2);
	}
	snapshot_install(snapshot_ref(snap));
	atexit(release);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct smfiDesc *d = milter_desc();
	size_t at = 0;
	int conns, msgs, i, rc = 0;

	memset(&fz, 0, sizeof(fz));
	while (rc == 0 && size - at >= 5) {
		uint32_t n = (uint32_t) data[at] << 24 | (uint32_t) data[at + 1] << 16
			| (uint32_t) data[at + 2] << 8 | data[at + 3];
		char cmd = (char) data[at + 4], *buf;

		/* as mi_rd_cmd(): a length of 0 or over the limit, or data
		 * cut short by the end of the input, ends the session */
		if (n < 1 || n - 1 > DATA_MAX || n - 1 > size - at - 5)
			break;
		/* libmilter's buffer has a NUL past the data */
		buf = g_malloc(n);
		memcpy(buf, data + at + 5, n - 1);
		buf[n - 1] = '\0';
		at += 5 + (n - 1);
		rc = fz_packet(d, cmd, buf, n - 1);
		g_free(buf);
	}
	if (rc <= 0) {
		/* libmilter at the end of a session: abort, close */
		d->xxfi_abort(fz_ctx);
		d->xxfi_close(fz_ctx);
	}
	for (i = 0; i < NCLASS; i++) {
		g_free(fz.macros[i]);
		g_free(fz.macbuf[i]);
	}
	milter_counts(&conns, &msgs);
	if (fz.priv != NULL || conns != 0 || msgs != 0) {
		fprintf(stderr, "fuzz_milter: after the session: private data %p, "
			"%d connection(s), %d message(s) still counted\n", fz.priv, conns, msgs);
		abort();
	}
	return 0;
}
