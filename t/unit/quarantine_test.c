/*
 * quarantine_test - entries on disk, IDs, bodies, the release token
 *
 * Everything happens under a fresh directory in $TMPDIR.  The read-only
 * case runs in a child that, when the test runs as root (who may write
 * anywhere), first gives up the capabilities that let root ignore file
 * modes.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "../../milters/quarantine.h"
#include "tap.h"


static const char msg_crlf[] =
	"Received:from x\r\nSubject: test\r\n\r\nline one\r\n.\r\nbinary \0 byte\r\n";
static char *const rcpts[] = {"<a@example.com>", "<b;c@example.org>", NULL};

/* mode_of - the permission bits of path, or -1 */
static int
mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 ? -1 : (int) (st.st_mode & 07777);
}

/* entry_file - dir/id + ext; g_free() */
static char *
entry_file(const char *dir, const char *id, const char *ext)
{
	char *name = g_strconcat(id, ext, NULL);
	char *path = g_build_filename(dir, name, NULL);

	g_free(name);
	return path;
}

/* temp_files - how many ".tmp-*" files dir holds */
static int
temp_files(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	int n = 0;

	while (d && (name = g_dir_read_name(d)))
		n += g_str_has_prefix(name, ".tmp-");
	if (d)
		g_dir_close(d);
	return n;
}

/* store - one entry of msg_crlf with the usual meta; the id, or "" */
static void
store(const char *dir, const char *sender, char id[QUARANTINE_ID_LEN])
{
	struct quarantine_meta m = {
		.queue_id = "4AbCdE", .sender = sender, .rcpts = rcpts,
		.client_addr = "192.0.2.1", .client_name = "mx.example.net",
		.helo = "mx.example.net", .virus = "Eicar-Signature",
	};

	if (quarantine_store(dir, &m, msg_crlf, sizeof(msg_crlf) - 1, id) < 0)
		id[0] = '\0';
}

static void
test_id(void)
{
	static const struct {
		const char *s;
		int good;
	} cases[] = {
		{"20240501T120000-0123456789abcdef", 1},
		{"20240501T120000-0123456789ABCDEF", 0},
		{"20240501T120000-0123456789abcde", 0},
		{"20240501T120000-0123456789abcdef0", 0},
		{"20240501 120000-0123456789abcdef", 0},
		{"2024050xT120000-0123456789abcdef", 0},
		{"20240501T120000_0123456789abcdef", 0},
		{"../../../etc/passwd", 0},
		{"20240501T120000-0123456789abcde/", 0},
		{"", 0},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++)
		ok(quarantine_id_ok(cases[i].s) == cases[i].good, "id \"%s\" %s",
		   cases[i].s, cases[i].good ? "accepted" : "refused");
	ok(!quarantine_id_ok(NULL), "id NULL refused");
}

static void
test_body(void)
{
	static const struct {
		const char *msg, *body;
	} cases[] = {
		{"A: b\r\nC: d\r\n\r\nbody\r\n", "body\r\n"},
		{"A: b\nC: d\n\nbody\n\nmore\n", "body\n\nmore\n"},
		{"A: b\r\n\r\n", ""},
		{"\r\nbody only\r\n", "body only\r\n"},
		{"\nbody only\n", "body only\n"},
		{"A: b\r\nC: d\r\n", ""},
		{"A: b\r\n \r\nC: d\r\n\r\nx", "x"},
		{"", ""},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		size_t blen = 99;
		const char *b = quarantine_body(cases[i].msg, strlen(cases[i].msg), &blen);
		char *shown = g_strescape(cases[i].msg, NULL);

		ok(blen == strlen(cases[i].body) && !memcmp(b, cases[i].body, blen),
		   "body of \"%s\"", shown);
		g_free(shown);
	}
}

static void
test_open(const char *top)
{
	char *dir = g_build_filename(top, "a", "q", NULL);
	char *key = g_build_filename(dir, ".key", NULL);
	char *k1 = NULL, *k2 = NULL;
	gsize n1 = 0, n2 = 0;

	ok(quarantine_open(dir, getuid(), getgid()) == 0, "open makes the directory");
	is_int(mode_of(dir), 0700, "  directory mode 0700");
	is_int(mode_of(key), 0600, "  key mode 0600");
	g_file_get_contents(key, &k1, &n1, NULL);
	is_int((long long) n1, 32, "  key is 32 bytes");
	ok(quarantine_open(dir, getuid(), getgid()) == 0, "open again");
	g_file_get_contents(key, &k2, &n2, NULL);
	ok(k1 && k2 && n1 == n2 && !memcmp(k1, k2, n1), "  keeps the key");
	is_int(temp_files(dir), 0, "  no temporary file left");
	g_chmod(dir, 0775);
	ok(quarantine_open(dir, getuid(), getgid()) == 0, "open a directory of mode 0775");
	is_int(mode_of(dir), 0700, "  it is made 0700");
	g_chmod(dir, 0755);
	quarantine_open(dir, getuid(), getgid());
	is_int(mode_of(dir), 0700, "  and a 0755 one too");
	if (geteuid() == 0) {
		struct stat st;

		ok(chown(dir, 65534, 65534) == 0 && quarantine_open(dir, 0, 0) == 0
		   && stat(dir, &st) == 0 && st.st_uid == 0 && st.st_gid == 0,
		   "as root: a directory of another user's is made uid:gid's");
		ok(chown(key, 65534, 65534) == 0 && quarantine_open(dir, 0, 0) < 0
		   && errno == EKEYREJECTED, "  a key of another user's is refused (EKEYREJECTED)");
		ok(chown(key, 0, 0) == 0 && quarantine_open(dir, 0, 0) == 0, "  and taken once root's");
	}
	g_free(k1);
	g_free(k2);
	g_free(key);
	g_free(dir);
}

static void
test_store(const char *dir)
{
	char id[QUARANTINE_ID_LEN], *path, *data, *s, **list;
	size_t len = 0;
	gsize n = 0;
	GKeyFile *kf;

	store(dir, "<s@example.net>", id);
	ok(quarantine_id_ok(id), "store gives an ID: %s", id);
	path = entry_file(dir, id, ".eml");
	is_int(mode_of(path), 0600, "  ID.eml mode 0600");
	g_free(path);
	path = entry_file(dir, id, ".meta");
	is_int(mode_of(path), 0600, "  ID.meta mode 0600");
	g_free(path);
	is_int(temp_files(dir), 0, "  no temporary file left");

	data = quarantine_load_message(dir, id, &len);
	ok(data && len == sizeof(msg_crlf) - 1 && !memcmp(data, msg_crlf, len),
	   "  message bytes identical (NUL included)");
	g_free(data);

	kf = quarantine_load_meta(dir, id);
	ok(kf != NULL, "  meta loads");
	if (kf == NULL)
		return;
	s = g_key_file_get_string(kf, "quarantine", "id", NULL);
	is_str(s, id, "  id");
	g_free(s);
	s = g_key_file_get_string(kf, "quarantine", "time", NULL);
	ok(s && strlen(s) == 20 && s[10] == 'T' && s[19] == 'Z'
	   && !strncmp(s, id, 4), "  time is ISO 8601 UTC: %s", s ? s : "");
	g_free(s);
#define META(key, want) \
	do { s = g_key_file_get_string(kf, "quarantine", key, NULL); \
	     is_str(s, want, "  " key); g_free(s); } while (0)
	META("queue-id", "4AbCdE");
	META("sender", "<s@example.net>");
	META("client-addr", "192.0.2.1");
	META("client-name", "mx.example.net");
	META("helo", "mx.example.net");
	META("virus", "Eicar-Signature");
	META("status", "held");
#undef META
	list = g_key_file_get_string_list(kf, "quarantine", "recipients", &n, NULL);
	ok(list && n == 2 && !strcmp(list[0], rcpts[0]) && !strcmp(list[1], rcpts[1]),
	   "  recipients (one with the list separator in it)");
	g_strfreev(list);
	is_int((long long) g_key_file_get_uint64(kf, "quarantine", "size", NULL),
	       sizeof(msg_crlf) - 1, "  size");
	s = g_key_file_get_string(kf, "quarantine", "sha256", NULL);
	data = quarantine_sha256_hex(msg_crlf, sizeof(msg_crlf) - 1);
	is_str(s, data, "  sha256 of ID.eml");
	g_free(s);
	g_free(data);
	g_key_file_free(kf);

	store(dir, "<\xff\xfe@example.net>", id);
	kf = quarantine_load_meta(dir, id);
	s = kf ? g_key_file_get_string(kf, "quarantine", "sender", NULL) : NULL;
	is_str(s, "<\xef\xbf\xbd\xef\xbf\xbd@example.net>",
	       "a sender that is not UTF-8 is stored with U+FFFD");
	g_free(s);
	if (kf)
		g_key_file_free(kf);
}

/* token_for - a token for id and body to the usual envelope, made at when */
static char *
token_for(const char *dir, const char *id, gint64 when, const void *body, size_t len)
{
	char *const to[] = {"b@example.org", "A@Example.com", NULL};
	struct quarantine_envelope env = {.sender = "s@example.net", .rcpts = to};

	return quarantine_token(dir, (uid_t) -1, id, when, &env, body, len);
}

/* field_of - the nth (0-based) "; "-separated field of tok; g_free() */
static char *
field_of(const char *tok, unsigned n)
{
	char **f = g_strsplit(tok, "; ", -1);
	char *v = g_strv_length(f) > n ? g_strdup(f[n]) : g_strdup("");

	g_strfreev(f);
	return v;
}

/* check - quarantine_token_check at now with a lifetime of an hour */
static enum quarantine_token_status
check(const char *dir, const char *tok, const char *sender, char *const *to,
      const void *body, size_t len, gint64 now)
{
	struct quarantine_envelope env = {.sender = sender, .rcpts = to};

	return quarantine_token_check(dir, (uid_t) -1, tok, &env, body, len, now, 3600);
}

static void
test_token(const char *dir, const char *other_dir)
{
	char id[QUARANTINE_ID_LEN], other[QUARANTINE_ID_LEN], *tok, *bad, *f;
	size_t blen;
	const char *body = quarantine_body(msg_crlf, sizeof(msg_crlf) - 1, &blen);
	static const char changed[] = "line one\r\n.\r\nbinary \0 bytE\r\n";
	char *const to[] = {"<a@example.com>", "b@example.org", NULL};
	char *const to_again[] = {"B@EXAMPLE.ORG", "a@example.com", "<b@example.org>", NULL};
	char *const to_more[] = {"a@example.com", "b@example.org", "c@example.org", NULL};
	char *const to_less[] = {"a@example.com", NULL};
	char *const to_other[] = {"a@example.com", "x@example.org", NULL};
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	static const char *const malformed[] = {
		"", "garbage; 1234", "20240501T120000-0123456789abcdef",
		"20240501T120000-0123456789abcdef; "
		"0000000000000000000000000000000000000000000000000000000000000000",
	};
	unsigned i;

	store(dir, "<s@example.net>", id);
	store(dir, "<s@example.net>", other);
	tok = token_for(dir, id, now, body, blen);
	ok(tok != NULL, "a token is made");
	if (tok == NULL)
		return;
	f = field_of(tok, 0);
	is_str(f, id, "  its first field is the ID");
	g_free(f);
	f = field_of(tok, 1);
	ok(g_ascii_strtoll(f, NULL, 10) == now, "  then the time it was made");
	g_free(f);
	f = field_of(tok, 2);
	is_int((long long) strlen(f), 16, "  then a 16-digit nonce");
	g_free(f);
	f = field_of(tok, 3);
	is_int((long long) strlen(f), 32, "  then 32 digits naming the envelope");
	g_free(f);
	f = field_of(tok, 4);
	ok(strlen(f) == 64 && strspn(f, "0123456789abcdef") == 64, "  then a 64-digit lower-case MAC");
	g_free(f);
	bad = token_for(dir, id, now, body, blen);
	ok(bad && strcmp(tok, bad), "two releases make two tokens (the nonce)");
	g_free(bad);

	is_int(check(dir, tok, "<S@example.net>", to, body, blen, now), QTOKEN_OK,
	       "right body and envelope: ok");
	is_int(check(dir, tok, "s@example.net", to_again, body, blen, now), QTOKEN_OK,
	       "  recipients in another order, repeated, in upper case, bracketed: ok");
	bad = g_strdup_printf(" \t%s \r\n", tok);
	is_int(check(dir, bad, "s@example.net", to, body, blen, now), QTOKEN_OK,
	       "  with blanks around it: ok");
	g_free(bad);
	is_int(check(dir, tok, "s@example.net", to, body, blen, now + 3600), QTOKEN_OK,
	       "  an hour on, with a lifetime of an hour: ok");
	if (geteuid() == 0) {
		char *key = g_build_filename(dir, ".key", NULL);
		struct quarantine_envelope env = {.sender = "s@example.net", .rcpts = to};

		ok(chown(key, 65534, 65534) == 0, "as root: the key given to uid 65534");
		is_int(check(dir, tok, "s@example.net", to, body, blen, now), QTOKEN_ERROR,
		       "  not root's, not sinkd's user's: the key is not used");
		is_int(quarantine_token_check(dir, 65534, tok, &env, body, blen, now, 3600), QTOKEN_OK,
		       "  when uid 65534 is sinkd's user: ok");
		chown(key, 0, 0);
		g_free(key);
	}

	is_int(check(dir, tok, "s@example.net", to, changed, sizeof(changed) - 1, now),
	       QTOKEN_FORGED, "changed body: refused (MAC)");
	is_int(check(dir, tok, "s@example.net", to, body, blen - 1, now), QTOKEN_FORGED,
	       "truncated body: refused (MAC)");
	bad = g_strdup_printf("%s%s", other, tok + 32);
	is_int(check(dir, bad, "s@example.net", to, body, blen, now), QTOKEN_FORGED,
	       "other ID, same MAC: refused (MAC)");
	g_free(bad);
	is_int(check(other_dir, tok, "s@example.net", to, body, blen, now), QTOKEN_FORGED,
	       "other directory's key: refused (MAC)");
	bad = g_strdup(tok);
	bad[33] = bad[33] == '1' ? '2' : '1';
	is_int(check(dir, bad, "s@example.net", to, body, blen, now), QTOKEN_FORGED,
	       "its time changed: refused (MAC)");
	g_free(bad);

	is_int(check(dir, tok, "mallory@example.net", to, body, blen, now), QTOKEN_ENVELOPE,
	       "another sender: refused (envelope)");
	is_int(check(dir, tok, "", to, body, blen, now), QTOKEN_ENVELOPE,
	       "the null sender: refused (envelope)");
	is_int(check(dir, tok, "s@example.net", to_more, body, blen, now), QTOKEN_ENVELOPE,
	       "one recipient more: refused (envelope)");
	is_int(check(dir, tok, "s@example.net", to_less, body, blen, now), QTOKEN_ENVELOPE,
	       "one recipient less: refused (envelope)");
	is_int(check(dir, tok, "s@example.net", to_other, body, blen, now), QTOKEN_ENVELOPE,
	       "another recipient: refused (envelope)");

	is_int(check(dir, tok, "s@example.net", to, body, blen, now + 3601), QTOKEN_EXPIRED,
	       "an hour and a second on: refused (expired)");
	g_free(tok);
	tok = token_for(dir, id, now - 7200, body, blen);
	is_int(check(dir, tok, "s@example.net", to, body, blen, now), QTOKEN_EXPIRED,
	       "a token made two hours ago: refused (expired)");
	g_free(tok);
	tok = token_for(dir, id, now + 3600, body, blen);
	is_int(check(dir, tok, "s@example.net", to, body, blen, now), QTOKEN_EXPIRED,
	       "a token from an hour in the future: refused");
	g_free(tok);

	tok = token_for(dir, id, now, body, blen);
	for (i = 0; i < G_N_ELEMENTS(malformed); i++)
		ok(check(dir, malformed[i], "s@example.net", to, body, blen, now)
		   == QTOKEN_MALFORMED, "not a token: \"%.40s\"", malformed[i]);
	is_int(check(dir, NULL, "s@example.net", to, body, blen, now), QTOKEN_MALFORMED,
	       "NULL: not a token");
	bad = g_strndup(tok, strlen(tok) - 1);
	is_int(check(dir, bad, "s@example.net", to, body, blen, now), QTOKEN_MALFORMED,
	       "truncated value: refused");
	g_free(bad);
	bad = g_strdup_printf("%s0", tok);
	is_int(check(dir, bad, "s@example.net", to, body, blen, now), QTOKEN_MALFORMED,
	       "extra digit: refused");
	g_free(bad);
	bad = g_strdup_printf("%s; x", tok);
	is_int(check(dir, bad, "s@example.net", to, body, blen, now), QTOKEN_MALFORMED,
	       "a field more: refused");
	g_free(bad);
	bad = g_ascii_strup(tok, -1);
	memcpy(bad, tok, strlen(tok) - 64);
	is_int(check(dir, bad, "s@example.net", to, body, blen, now), QTOKEN_MALFORMED,
	       "upper-case MAC: refused");
	g_free(bad);
	bad = g_strdup(tok);
	bad[32] = ',';
	is_int(check(dir, bad, "s@example.net", to, body, blen, now), QTOKEN_MALFORMED,
	       "',' for ';': refused");
	g_free(bad);
	ok(token_for(dir, "../x", now, body, blen) == NULL && errno == EINVAL,
	   "token for a bad ID: EINVAL");
	g_free(tok);
}

/* test_spend - a token passes once: the marker, giving it back */
static void
test_spend(const char *dir)
{
	char id[QUARANTINE_ID_LEN], *tok, *mac, *marker, *name;
	size_t blen;
	const char *body = quarantine_body(msg_crlf, sizeof(msg_crlf) - 1, &blen);

	store(dir, "<s@example.net>", id);
	tok = token_for(dir, id, g_get_real_time() / G_USEC_PER_SEC, body, blen);
	if (tok == NULL) {
		ok(0, "a token to spend");
		return;
	}
	mac = field_of(tok, 4);
	name = g_strconcat(".used-", mac, NULL);
	marker = g_build_filename(dir, name, NULL);
	ok(mode_of(marker) < 0, "a new token has no marker");
	is_int(quarantine_token_spend(dir, tok, "4AbCdE 1"), QTOKEN_OK, "spent by message 4AbCdE 1");
	is_int(mode_of(marker), 0600, "  .used-MAC made, mode 0600");
	is_int(quarantine_token_spend(dir, tok, "5FgHiJ 2"), QTOKEN_USED,
	       "  another message with it: used");
	is_int(quarantine_token_spend(dir, tok, "4AbCdE 1"), QTOKEN_USED,
	       "  the same again: used");
	ok(quarantine_token_unspend(dir, tok, "5FgHiJ 2") < 0 && errno == ENOENT,
	   "  given back by a message that did not spend it: no");
	ok(mode_of(marker) == 0600, "  so the marker stays");
	ok(quarantine_token_unspend(dir, tok, "4AbCdE 1") == 0, "  given back by its spender");
	ok(mode_of(marker) < 0, "  the marker is gone");
	is_int(quarantine_token_spend(dir, tok, "5FgHiJ 2"), QTOKEN_OK,
	       "  then another message may spend it");
	ok(quarantine_token_unspend(dir, tok, "4AbCdE 1") < 0 && errno == ENOENT,
	   "  and the first can no longer give it back");
	g_unlink(marker);
	ok(symlink("/nonexistent/sinkd-marker", marker) == 0
	   && quarantine_token_spend(dir, tok, "4AbCdE 1") == QTOKEN_USED,
	   "a symbolic link for the marker: used, not followed");
	g_unlink(marker);
	is_int(quarantine_token_spend(dir, "garbage", "4AbCdE 1"), QTOKEN_MALFORMED,
	       "spending what is not a token: malformed");
	g_free(marker);
	g_free(name);
	g_free(mac);
	g_free(tok);
}

static void
test_list_release_delete(const char *dir)
{
	char id[QUARANTINE_ID_LEN], **before, **after, **list, *s, *path;
	char *const to[] = {"admin@example.com", NULL};
	guint i, n0;
	gsize n = 0;
	GKeyFile *kf;

	path = g_build_filename(dir, "junk.meta", NULL);
	g_file_set_contents(path, "x", 1, NULL);
	g_free(path);
	path = g_build_filename(dir, ".tmp-abcdef", NULL);
	g_file_set_contents(path, "x", 1, NULL);
	g_free(path);
	before = quarantine_list(dir);
	n0 = before ? g_strv_length(before) : 0;
	store(dir, "<s@example.net>", id);
	after = quarantine_list(dir);
	ok(after && g_strv_length(after) == n0 + 1, "list: one more entry, strays ignored");
	for (i = 0; after && after[i + 1]; i++)
		if (strcmp(after[i], after[i + 1]) >= 0)
			break;
	ok(after && after[i + 1] == NULL, "  sorted");
	ok(after && g_strv_contains((const char *const *) after, id), "  has the new ID");
	g_strfreev(before);
	g_strfreev(after);
	path = g_build_filename(dir, ".tmp-abcdef", NULL);
	g_unlink(path);
	g_free(path);

	ok(quarantine_mark_released(dir, id, to) == 0, "mark released");
	kf = quarantine_load_meta(dir, id);
	s = kf ? g_key_file_get_string(kf, "quarantine", "status", NULL) : NULL;
	is_str(s, "released", "  status=released");
	g_free(s);
	s = kf ? g_key_file_get_string(kf, "quarantine", "released-time", NULL) : NULL;
	ok(s && strlen(s) == 20 && s[19] == 'Z', "  released-time");
	g_free(s);
	list = kf ? g_key_file_get_string_list(kf, "quarantine", "released-to", &n, NULL) : NULL;
	ok(list && n == 1 && !strcmp(list[0], to[0]), "  released-to");
	g_strfreev(list);
	s = kf ? g_key_file_get_string(kf, "quarantine", "virus", NULL) : NULL;
	is_str(s, "Eicar-Signature", "  the other fields kept");
	g_free(s);
	if (kf)
		g_key_file_free(kf);
	path = entry_file(dir, id, ".meta");
	is_int(mode_of(path), 0600, "  ID.meta still mode 0600");
	g_free(path);
	is_int(temp_files(dir), 0, "  no temporary file left");

	ok(quarantine_delete(dir, id) == 0, "delete");
	path = entry_file(dir, id, ".eml");
	ok(mode_of(path) < 0, "  ID.eml gone");
	g_free(path);
	ok(quarantine_load_meta(dir, id) == NULL && errno == ENOENT, "  meta: ENOENT");
	ok(quarantine_delete(dir, id) < 0 && errno == ENOENT, "  delete again: ENOENT");
	after = quarantine_list(dir);
	ok(after && !g_strv_contains((const char *const *) after, id), "  not listed");
	g_strfreev(after);
	ok(quarantine_delete(dir, "../../etc/x") < 0 && errno == EINVAL, "delete a bad ID: EINVAL");
	ok(quarantine_load_meta(dir, "../x") == NULL && errno == EINVAL, "load a bad ID: EINVAL");
	ok(quarantine_list("/nonexistent/sinkd-q") == NULL && errno == ENOENT,
	   "list a missing directory: ENOENT");
}

static void
test_symlink(const char *dir)
{
	char id[QUARANTINE_ID_LEN], *meta, *target;
	size_t len;

	store(dir, "<s@example.net>", id);
	meta = entry_file(dir, id, ".meta");
	target = g_build_filename(dir, "elsewhere", NULL);
	g_rename(meta, target);
	ok(symlink(target, meta) == 0 && quarantine_load_meta(dir, id) == NULL
	   && errno == ELOOP, "a symbolic link for ID.meta is not followed");
	g_unlink(meta);
	g_unlink(target);
	g_free(meta);
	g_free(target);
	g_free(quarantine_load_message(dir, id, &len));
	quarantine_delete(dir, id);
}

/* drop_dac - give up CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and
 * CAP_FOWNER, so that file modes bind root too; 0, or -1 */
static int
drop_dac(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	unsigned mask = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH)
		| (1u << CAP_FOWNER);

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	d[0].effective &= ~mask;
	d[0].permitted &= ~mask;
	d[0].inheritable &= ~mask;
	return (int) syscall(SYS_capset, &h, d);
}

/* readonly_store - in a child, without root's way around file modes:
 * errno of a store into a read-only directory (0: it succeeded) */
static int
readonly_store(const char *dir)
{
	pid_t pid;
	int status;

	g_chmod(dir, 0555);
	pid = fork();
	if (pid == 0) {
		char id[QUARANTINE_ID_LEN];
		struct quarantine_meta m = {.rcpts = rcpts};

		if (geteuid() == 0 && drop_dac() < 0)
			_exit(255);
		if (quarantine_store(dir, &m, msg_crlf, sizeof(msg_crlf) - 1, id) == 0)
			_exit(0);
		_exit(errno & 0x7f ? errno & 0x7f : 254);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	g_chmod(dir, 0700);
	return WEXITSTATUS(status);
}

static void
test_failures(const char *top)
{
	char *dir = g_build_filename(top, "ro", NULL);
	char *file = g_build_filename(top, "plain", NULL);
	char id[QUARANTINE_ID_LEN];
	struct quarantine_meta m = {.rcpts = rcpts};
	int e;

	g_mkdir(dir, 0700);
	e = readonly_store(dir);
	ok(e == EACCES, "store into a read-only directory: EACCES (got %d)", e);
	is_int(temp_files(dir), 0, "  nothing left there");
	ok(quarantine_store("/nonexistent/sinkd-q", &m, "x", 1, id) < 0 && errno == ENOENT
	   && id[0] == '\0', "store into a missing directory: ENOENT, no ID");
	g_file_set_contents(file, "x", 1, NULL);
	ok(quarantine_open(file, getuid(), getgid()) < 0, "open a plain file: refused");
	g_unlink(file);
	g_rmdir(dir);
	g_free(dir);
	g_free(file);
}

/* test_names - file names come from sinkd alone: a queue ID, sender and
 * recipient made of path pieces change nothing; a key others can read is
 * refused */
static void
test_names(const char *top)
{
	char *dir = g_build_filename(top, "names", NULL);
	char *key = g_build_filename(dir, ".key", NULL);
	static char *const evil_rcpts[] = {"../../../etc/passwd", "/tmp/x", NULL};
	struct quarantine_meta m = {
		.queue_id = "../../../tmp/q", .sender = "../x/../../etc/shadow",
		.rcpts = evil_rcpts, .client_addr = "192.0.2.1",
		.client_name = "../..", .helo = "/", .virus = "../../v",
	};
	char id[QUARANTINE_ID_LEN], *expect_eml, *expect_meta;
	GDir *d;
	const char *name;
	unsigned others = 0;

	ok(quarantine_open(dir, getuid(), getgid()) == 0, "open a fresh directory");
	ok(quarantine_store(dir, &m, msg_crlf, sizeof(msg_crlf) - 1, id) == 0
	   && quarantine_id_ok(id), "store with path pieces in every field: an ID of its own (%s)", id);
	expect_eml = g_strconcat(id, ".eml", NULL);
	expect_meta = g_strconcat(id, ".meta", NULL);
	d = g_dir_open(dir, 0, NULL);
	while (d && (name = g_dir_read_name(d)))
		others += strcmp(name, expect_eml) && strcmp(name, expect_meta)
			&& strcmp(name, ".key");
	if (d)
		g_dir_close(d);
	is_int(others, 0, "  the directory holds ID.eml, ID.meta and .key, nothing else");
	ok(!g_file_test("/tmp/q.eml", G_FILE_TEST_EXISTS), "  nothing was written outside it");
	g_chmod(key, 0644);
	ok(quarantine_open(dir, getuid(), getgid()) < 0 && errno == EKEYREJECTED,
	   "a key readable by others is refused (EKEYREJECTED)");
	g_chmod(key, 0600);
	ok(quarantine_open(dir, getuid(), getgid()) == 0, "  and taken again once it is 0600");
	g_free(expect_eml);
	g_free(expect_meta);
	g_free(key);
	g_free(dir);
}

/* remove_tree - rm -r dir */
static void
remove_tree(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		char *path = g_build_filename(dir, name, NULL);

		if (g_file_test(path, G_FILE_TEST_IS_DIR)
		    && !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
			remove_tree(path);
		else
			g_unlink(path);
		g_free(path);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(dir);
}

int
main(void)
{
	char *top = g_dir_make_tmp("sinkd-quarantine-XXXXXX", NULL);
	char *dir = g_build_filename(top, "a", "q", NULL);
	char *other = g_build_filename(top, "other", NULL);

	if (top == NULL)
		return 255;
	test_id();
	test_body();
	test_open(top);
	quarantine_open(other, getuid(), getgid());
	test_store(dir);
	test_token(dir, other);
	test_spend(dir);
	test_list_release_delete(dir);
	test_symlink(dir);
	test_failures(top);
	test_names(top);
	remove_tree(top);
	g_free(dir);
	g_free(other);
	g_free(top);
	return tap_done();
}
