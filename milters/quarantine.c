/*
 * quarantine - held messages on disk, and the token that lets a released
 *	one through again
 *
 * The file layout, the ID and the token are described in quarantine.h.
 * Every file is written the same way (write_file): to a mkstemp() name
 * ".tmp-XXXXXX" in the quarantine directory, mode 0600, fsync()ed, then
 * given its name, and the directory fsync()ed, so that once a function
 * returns 0 the change survives a crash.  ID.eml is linked into place
 * rather than renamed: link() never replaces, so two IDs that collide
 * (64 random bits within one second) cannot overwrite each other.
 *
 * Random bytes (IDs, the key) come from getrandom(2); the MAC and the
 * digests from OpenSSL.  Diagnostics are errno values, for the caller to
 * report: nothing here logs.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "../src/conf.h"
#include "../src/dirs.h"
#include "../src/log.h"
#include "quarantine.h"

#define KEY_FILE	".key"
#define KEY_LEN		32
#define GROUP		"quarantine"
#define ID_RANDOM	8	/* bytes: 16 hex digits */
#define MAC_HEX		(2 * SHA256_DIGEST_LENGTH)
#define ENV_HEX		32	/* digits of the envelope's SHA-256 kept */
#define NONCE_HEX	16
#define TIME_DIGITS	19	/* of a gint64 */
#define TOKEN_TAG	"sinkd-release-2"
#define TOKEN_SKEW	300	/* seconds a token may seem to come from the future */
#define MARKER_PREFIX	".used-"

/* random_bytes - fill buf from the kernel's CSPRNG; 0, or -1 with errno */
static int
random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

/* hex - lower-case hex of len bytes into out (2 * len + 1 bytes) */
static void
hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* write_all - write(2) until done; 0, or -1 with errno */
static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

/* write_temp - data in a new ".tmp-XXXXXX" file of dir, mode 0600,
 * fsync()ed, owned by uid:gid when uid is not -1; its path (g_free()), or
 * NULL with errno, leaving nothing behind */
static char *
write_temp(const char *dir, const void *data, size_t len, uid_t uid, gid_t gid)
{
	char *path = g_build_filename(dir, ".tmp-XXXXXX", NULL);
	int fd = mkostemp(path, O_CLOEXEC);
	int saved;

	if (fd < 0)
		goto fail;
	if (fchmod(fd, 0600) < 0 || write_all(fd, data, len) < 0
	    || (uid != (uid_t) -1 && fchown(fd, uid, gid) < 0)
	    || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(path);
		errno = saved;
		goto fail;
	}
	if (close(fd) < 0) {
		saved = errno;
		unlink(path);
		errno = saved;
		goto fail;
	}
	return path;
fail:
	saved = errno;
	g_free(path);
	errno = saved;
	return NULL;
}

/* entry_path - dir/ID.ext */
static char *
entry_path(const char *dir, const char *id, const char *ext)
{
	char *name = g_strconcat(id, ext, NULL);
	char *path = g_build_filename(dir, name, NULL);

	g_free(name);
	return path;
}

/* read_file - a regular file's bytes, NUL-terminated (not counted), never
 * through a symbolic link; g_free() them; NULL with errno */
static char *
read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int saved;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	buf = g_malloc((size_t) st.st_size + 1);
	while (got < (size_t) st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;	/* shrank meanwhile: what there is */
		got += (size_t) n;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
fail:
	saved = errno;
	close(fd);
	g_free(buf);
	errno = saved;
	return NULL;
}

/* read_key - the directory's secret, owned by root, the process or user;
 * 0, or -1 with errno (EINVAL: the key file is not exactly KEY_LEN bytes;
 * EKEYREJECTED: others could read or change it, which is logged) */
static int
read_key(const char *dir, uid_t user, unsigned char key[KEY_LEN])
{
	char *path = g_build_filename(dir, KEY_FILE, NULL);
	char *why = conf_file_unsafe(path, CONF_FILE_SECRET, user);
	size_t len = 0;
	char *buf;

	if (why != NULL) {
		log_error("%s", why);
		g_free(why);
		g_free(path);
		errno = EKEYREJECTED;
		return -1;
	}
	buf = read_file(path, &len);
	g_free(path);
	if (buf == NULL)
		return -1;
	if (len != KEY_LEN) {
		OPENSSL_cleanse(buf, len);
		g_free(buf);
		errno = EINVAL;
		return -1;
	}
	memcpy(key, buf, KEY_LEN);
	OPENSSL_cleanse(buf, len);
	g_free(buf);
	return 0;
}

/* make_key - create dir's key unless there is one; 0, or -1 with errno */
static int
make_key(const char *dir, uid_t uid, gid_t gid)
{
	char *path = g_build_filename(dir, KEY_FILE, NULL);
	unsigned char key[KEY_LEN];
	char *tmp = NULL;
	int rc = -1, saved;

	if (random_bytes(key, sizeof(key)) < 0)
		goto out;
	if ((tmp = write_temp(dir, key, sizeof(key), uid, gid)) == NULL)
		goto out;
	/* link(): another process that made a key first wins, and keeps it */
	if (link(tmp, path) < 0 && errno != EEXIST)
		goto out;
	rc = dirs_sync(dir, O_DIRECTORY);
out:
	saved = errno;
	OPENSSL_cleanse(key, sizeof(key));
	if (tmp)
		unlink(tmp);
	g_free(tmp);
	g_free(path);
	errno = saved;
	return rc;
}

/* own_key - make an existing key uid:gid's */
static int
own_key(const char *dir, uid_t uid, gid_t gid)
{
	char *path = g_build_filename(dir, KEY_FILE, NULL);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int rc = -1, saved;

	g_free(path);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0)
		rc = (st.st_uid == uid && st.st_gid == gid) ? 0 : fchown(fd, uid, gid);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* tighten - make dir mode 0700 and uid:gid's (root: any owner;
 * otherwise only a directory of the process's own), saying what changed
 * unless it was just made; 0, or -1 with errno (EPERM: not ours, and not
 * root) */
static int
tighten(const char *dir, const struct stat *st, uid_t uid, gid_t gid, int made)
{
	int root = geteuid() == 0;

	if (!root && st->st_uid != geteuid()) {
		log_error("quarantine-dir %s: owned by uid %u, not by this process (uid %u)",
			  dir, (unsigned) st->st_uid, (unsigned) geteuid());
		errno = EPERM;
		return -1;
	}
	if (root && (st->st_uid != uid || st->st_gid != gid)) {
		if (chown(dir, uid, gid) < 0)
			return -1;
		if (!made)
			log_warn("quarantine-dir %s: was owned by %u:%u; now %u:%u", dir,
				 (unsigned) st->st_uid, (unsigned) st->st_gid,
				 (unsigned) uid, (unsigned) gid);
	}
	if ((st->st_mode & 07777) != 0700) {
		if (chmod(dir, 0700) < 0)
			return -1;
		if (!made)
			log_warn("quarantine-dir %s: was mode %04o; now 0700", dir,
				 (unsigned) (st->st_mode & 07777));
	}
	return 0;
}

/* quarantine_open - create dir (mode 0700) and its key if missing, owned
 * by uid:gid when run as root, and tighten an existing one; 0, or -1 with
 * errno */
int
quarantine_open(const char *dir, uid_t uid, gid_t gid)
{
	int root = geteuid() == 0;
	unsigned char key[KEY_LEN];
	char *parent = g_path_get_dirname(dir);
	struct stat st;
	int rc, made;

	/* parents as any directory: traversable by uid once root is gone,
	 * whatever the umask */
	rc = dirs_make(parent, 0755, (uid_t) -1, 0);
	g_free(parent);
	if (rc < 0)
		return -1;
	if (!(made = mkdir(dir, 0700) == 0) && errno != EEXIST)
		return -1;
	if (lstat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if (tighten(dir, &st, uid, gid, made) < 0)
		return -1;
	if (read_key(dir, uid, key) == 0) {
		OPENSSL_cleanse(key, sizeof(key));
		return root ? own_key(dir, uid, gid) : 0;
	}
	if (errno != ENOENT)
		return -1;
	return make_key(dir, root ? uid : (uid_t) -1, gid);
}

/* quarantine_id_ok - 1 if s has the shape of an ID (safe as a file name) */
int
quarantine_id_ok(const char *s)
{
	/* "YYYYMMDDTHHMMSS-" and 16 lower-case hex digits */
	static const char shape[] = "ddddddddTdddddd-xxxxxxxxxxxxxxxx";
	unsigned i;

	if (s == NULL)
		return 0;
	for (i = 0; shape[i]; i++) {
		char c = s[i];

		switch (shape[i]) {
		case 'd':
			if (c < '0' || c > '9')
				return 0;
			break;
		case 'x':
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				return 0;
			break;
		default:
			if (c != shape[i])
				return 0;
		}
	}
	return s[i] == '\0';
}

/* quarantine_body - what follows the first empty line */
const char *
quarantine_body(const void *msg, size_t len, size_t *body_len)
{
	const char *p = msg, *end = p + len;
	const char *line = p;

	/* walk the lines: the first one that is empty (LF or CRLF) ends the
	 * header block, whichever line end the message uses */
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t) (end - line));

		if (nl == NULL)
			break;
		if (nl == line || (nl == line + 1 && line[0] == '\r')) {
			*body_len = (size_t) (end - (nl + 1));
			return nl + 1;
		}
		line = nl + 1;
	}
	*body_len = 0;
	return end;
}

/* quarantine_sha256_hex - lower-case hex SHA-256 of data */
char *
quarantine_sha256_hex(const void *data, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *out = g_malloc(2 * sizeof(md) + 1);

	SHA256(data, len, md);
	hex(md, sizeof(md), out);
	return out;
}

/* norm_addr - addr as a token binds it: without angle brackets, in
 * lower case; g_free() */
static char *
norm_addr(const char *addr)
{
	size_t n = addr ? strlen(addr) : 0;

	if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
		return g_ascii_strdown(addr + 1, (gssize) n - 2);
	return g_ascii_strdown(addr ? addr : "", (gssize) n);
}

/* by_string - qsort comparison of two char * */
static int
by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* envelope_hex - ENV_HEX hex digits of SHA-256 over the normalized
 * sender, a NUL, and each distinct normalized recipient in byte order,
 * each followed by a NUL, into out (ENV_HEX + 1 bytes) */
static void
envelope_hex(const struct quarantine_envelope *env, char out[ENV_HEX + 1])
{
	GPtrArray *r = g_ptr_array_new_with_free_func(g_free);
	unsigned char md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *sender = norm_addr(env->sender);
	unsigned i;

	for (i = 0; env->rcpts && env->rcpts[i]; i++)
		g_ptr_array_add(r, norm_addr(env->rcpts[i]));
	qsort(r->pdata, r->len, sizeof(char *), by_string);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, sender, strlen(sender) + 1);
	for (i = 0; i < r->len; i++) {
		const char *a = g_ptr_array_index(r, i);

		if (i > 0 && !strcmp(a, g_ptr_array_index(r, i - 1)))
			continue;
		EVP_DigestUpdate(ctx, a, strlen(a) + 1);
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	hex(md, ENV_HEX / 2, out);
	g_free(sender);
	g_ptr_array_free(r, TRUE);
}

/* The fields of a token, as text: "ID; TIME; NONCE; ENV; MAC". */
struct token {
	char id[QUARANTINE_ID_LEN];
	char time[TIME_DIGITS + 1];
	char nonce[NONCE_HEX + 1];
	char env[ENV_HEX + 1];
	char mac[MAC_HEX + 1];
};

/* mac_hex - the hex HMAC-SHA256, under dir's key, of TOKEN_TAG, the ID,
 * time, nonce and envelope fields each ended by a NUL, and the SHA-256 of
 * body; into t->mac; 0, or -1 with errno */
static int
mac_hex(const char *dir, uid_t user, struct token *t, const void *body, size_t len)
{
	unsigned char key[KEY_LEN], mac[EVP_MAX_MD_SIZE], md[SHA256_DIGEST_LENGTH];
	GByteArray *in;
	unsigned maclen = 0;
	int rc = 0;

	if (read_key(dir, user, key) < 0)
		return -1;
	SHA256(body, len, md);
	in = g_byte_array_new();
	g_byte_array_append(in, (const guint8 *) TOKEN_TAG, sizeof(TOKEN_TAG));
	g_byte_array_append(in, (const guint8 *) t->id, strlen(t->id) + 1);
	g_byte_array_append(in, (const guint8 *) t->time, strlen(t->time) + 1);
	g_byte_array_append(in, (const guint8 *) t->nonce, strlen(t->nonce) + 1);
	g_byte_array_append(in, (const guint8 *) t->env, strlen(t->env) + 1);
	g_byte_array_append(in, md, sizeof(md));
	if (HMAC(EVP_sha256(), key, KEY_LEN, in->data, in->len, mac, &maclen) == NULL
	    || maclen != SHA256_DIGEST_LENGTH) {
		errno = EIO;
		rc = -1;
	} else {
		hex(mac, maclen, t->mac);
	}
	OPENSSL_cleanse(key, sizeof(key));
	g_byte_array_free(in, TRUE);
	return rc;
}

/* quarantine_token - "ID; TIME; NONCE; ENV; MAC" */
char *
quarantine_token(const char *dir, uid_t user, const char *id, gint64 issued,
		 const struct quarantine_envelope *env, const void *body, size_t len)
{
	unsigned char nonce[NONCE_HEX / 2];
	struct token t;

	if (!quarantine_id_ok(id) || issued < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (random_bytes(nonce, sizeof(nonce)) < 0)
		return NULL;
	g_strlcpy(t.id, id, sizeof(t.id));
	g_snprintf(t.time, sizeof(t.time), "%" G_GINT64_FORMAT, issued);
	hex(nonce, sizeof(nonce), t.nonce);
	envelope_hex(env, t.env);
	if (mac_hex(dir, user, &t, body, len) < 0)
		return NULL;
	return g_strdup_printf("%s; %s; %s; %s; %s", t.id, t.time, t.nonce, t.env, t.mac);
}

/* is_blank - a character the token's fields may be surrounded by */
static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* field - copy one ';'-separated field of *p, blanks around it dropped,
 * into out (size bytes); 0, or -1 when it is empty or too long */
static int
field(const char **p, char *out, size_t size)
{
	const char *s = *p, *e;
	size_t n;

	while (is_blank(*s))
		s++;
	for (e = s; *e && *e != ';'; e++)
		;
	*p = *e ? e + 1 : e;
	while (e > s && is_blank(e[-1]))
		e--;
	n = (size_t) (e - s);
	if (n == 0 || n >= size)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* lower_hex - s is exactly n lower-case hex digits */
static int
lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

/* parse_token - value's fields into t; 0, or -1 if it is not a token */
static int
parse_token(const char *value, struct token *t)
{
	const char *p = value;
	size_t i;

	if (p == NULL || field(&p, t->id, sizeof(t->id)) < 0
	    || field(&p, t->time, sizeof(t->time)) < 0
	    || field(&p, t->nonce, sizeof(t->nonce)) < 0
	    || field(&p, t->env, sizeof(t->env)) < 0
	    || field(&p, t->mac, sizeof(t->mac)) < 0 || p[-1] == ';')
		return -1;
	for (; *p; p++)
		if (!is_blank(*p))
			return -1;
	for (i = 0; t->time[i]; i++)
		if (!g_ascii_isdigit(t->time[i]))
			return -1;
	return quarantine_id_ok(t->id) && lower_hex(t->nonce, NONCE_HEX)
		&& lower_hex(t->env, ENV_HEX) && lower_hex(t->mac, MAC_HEX) ? 0 : -1;
}

/* quarantine_token_check - the token's worth for this message */
enum quarantine_token_status
quarantine_token_check(const char *dir, uid_t user, const char *value,
		       const struct quarantine_envelope *env, const void *body,
		       size_t len, gint64 now, gint64 lifetime)
{
	struct token t;
	char claimed[MAC_HEX + 1], here[ENV_HEX + 1];
	gint64 issued;

	if (parse_token(value, &t) < 0)
		return QTOKEN_MALFORMED;
	g_strlcpy(claimed, t.mac, sizeof(claimed));
	if (mac_hex(dir, user, &t, body, len) < 0)
		return QTOKEN_ERROR;
	if (CRYPTO_memcmp(claimed, t.mac, MAC_HEX) != 0)
		return QTOKEN_FORGED;
	envelope_hex(env, here);
	if (strcmp(here, t.env))
		return QTOKEN_ENVELOPE;
	issued = g_ascii_strtoll(t.time, NULL, 10);
	if (issued > now + TOKEN_SKEW || now - issued > lifetime)
		return QTOKEN_EXPIRED;
	return QTOKEN_OK;
}

/* marker_path - dir/.used-MAC for a token value, or NULL when it is not
 * one; g_free() */
static char *
marker_path(const char *dir, const char *value)
{
	struct token t;
	char *name, *path;

	if (parse_token(value, &t) < 0)
		return NULL;
	name = g_strconcat(MARKER_PREFIX, t.mac, NULL);
	path = g_build_filename(dir, name, NULL);
	g_free(name);
	return path;
}

/* marker_is - the marker at path names spender */
static int
marker_is(const char *path, const char *spender)
{
	size_t len = 0;
	char *data = read_file(path, &len);
	char *want = g_strconcat(spender, "\n", NULL);
	int same = data && len == strlen(want) && !memcmp(data, want, len);

	g_free(data);
	g_free(want);
	return same;
}

/* quarantine_token_spend - .used-MAC made with O_EXCL, naming spender */
enum quarantine_token_status
quarantine_token_spend(const char *dir, const char *value, const char *spender)
{
	char *path = marker_path(dir, value), *line;
	enum quarantine_token_status st = QTOKEN_OK;
	int fd, saved;

	if (path == NULL)
		return QTOKEN_MALFORMED;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		st = errno == EEXIST ? QTOKEN_USED : QTOKEN_ERROR;
		goto out;
	}
	line = g_strconcat(spender, "\n", NULL);
	if (write_all(fd, line, strlen(line)) < 0 || fsync(fd) < 0)
		st = QTOKEN_ERROR;
	g_free(line);
	saved = errno;
	if (close(fd) < 0 && st == QTOKEN_OK)
		st = QTOKEN_ERROR;
	else
		errno = saved;
	if (st == QTOKEN_OK && dirs_sync(dir, O_DIRECTORY) < 0)
		st = QTOKEN_ERROR;
	if (st == QTOKEN_ERROR) {
		saved = errno;
		unlink(path);
		errno = saved;
	}
out:
	saved = errno;
	g_free(path);
	errno = saved;
	return st;
}

/* quarantine_token_spent - whether .used-MAC exists, nothing written */
enum quarantine_token_status
quarantine_token_spent(const char *dir, const char *value)
{
	char *path = marker_path(dir, value);
	struct stat st;
	enum quarantine_token_status rc;
	int saved;

	if (path == NULL)
		return QTOKEN_MALFORMED;
	if (lstat(path, &st) == 0)
		rc = QTOKEN_USED;
	else
		rc = errno == ENOENT ? QTOKEN_OK : QTOKEN_ERROR;
	saved = errno;
	g_free(path);
	errno = saved;
	return rc;
}

/* quarantine_token_unspend - remove .used-MAC if spender made it */
int
quarantine_token_unspend(const char *dir, const char *value, const char *spender)
{
	char *path = marker_path(dir, value);
	int rc = -1, saved;

	if (path == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (!marker_is(path, spender))
		errno = ENOENT;
	else if (unlink(path) == 0)
		rc = dirs_sync(dir, O_DIRECTORY);
	saved = errno;
	g_free(path);
	errno = saved;
	return rc;
}

/* quarantine_token_why - what a status means, for the log */
const char *
quarantine_token_why(enum quarantine_token_status st)
{
	static const char *const why[] = {
		[QTOKEN_OK] = "valid",
		[QTOKEN_MALFORMED] = "not a release token",
		[QTOKEN_FORGED] = "its MAC does not check (another message, a changed body, or forged)",
		[QTOKEN_ENVELOPE] = "issued for another sender or other recipients",
		[QTOKEN_EXPIRED] = "expired (older than release-lifetime)",
		[QTOKEN_USED] = "already used",
		[QTOKEN_ERROR] = "the quarantine directory could not be used",
	};

	return (unsigned) st < G_N_ELEMENTS(why) && why[st] ? why[st] : "unknown";
}

/* utf8 - s as valid UTF-8 (U+FFFD for what is not); "" for NULL; g_free() */
static char *
utf8(const char *s)
{
	return g_utf8_make_valid(s ? s : "", -1);
}

/* set_str - a string value, made valid UTF-8 */
static void
set_str(GKeyFile *kf, const char *key, const char *value)
{
	char *v = utf8(value);

	g_key_file_set_string(kf, GROUP, key, v);
	g_free(v);
}

/* set_list - a list value, each entry made valid UTF-8 */
static void
set_list(GKeyFile *kf, const char *key, char *const *values)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	unsigned i;

	for (i = 0; values && values[i]; i++)
		g_ptr_array_add(a, utf8(values[i]));
	g_key_file_set_string_list(kf, GROUP, key,
				   (const char *const *) a->pdata, a->len);
	g_ptr_array_free(a, TRUE);
}

/* iso_time - "YYYY-MM-DDTHH:MM:SSZ" for t; g_free() */
static char *
iso_time(GDateTime *t)
{
	return g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ");
}

/* new_id - "YYYYMMDDTHHMMSS-" and 16 random hex digits; 0, or -1 (errno) */
static int
new_id(GDateTime *now, char id[QUARANTINE_ID_LEN])
{
	unsigned char r[ID_RANDOM];
	char *stamp, rhex[2 * ID_RANDOM + 1];

	if (random_bytes(r, sizeof(r)) < 0)
		return -1;
	hex(r, sizeof(r), rhex);
	stamp = g_date_time_format(now, "%Y%m%dT%H%M%S");
	g_snprintf(id, QUARANTINE_ID_LEN, "%s-%s", stamp, rhex);
	g_free(stamp);
	return 0;
}

/* place_eml - ID.eml from the temporary file tmp, under a fresh ID when
 * the first one is taken; 0 and id set, or -1 with errno */
static int
place_eml(const char *dir, const char *tmp, GDateTime *now,
	  char id[QUARANTINE_ID_LEN])
{
	unsigned tries;

	for (tries = 0; tries < 5; tries++) {
		char *path;
		int rc;

		if (new_id(now, id) < 0)
			return -1;
		path = entry_path(dir, id, ".eml");
		rc = link(tmp, path);
		g_free(path);
		if (rc == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* meta_data - the key file text of a new entry; g_free() */
static char *
meta_data(const char *id, GDateTime *now, const struct quarantine_meta *meta,
	  const void *msg, size_t len, gsize *out_len)
{
	GKeyFile *kf = g_key_file_new();
	char *t = iso_time(now), *sum = quarantine_sha256_hex(msg, len), *data;

	g_key_file_set_string(kf, GROUP, "id", id);
	g_key_file_set_string(kf, GROUP, "time", t);
	set_str(kf, "queue-id", meta->queue_id);
	set_str(kf, "sender", meta->sender);
	set_list(kf, "recipients", meta->rcpts);
	set_str(kf, "client-addr", meta->client_addr);
	set_str(kf, "client-name", meta->client_name);
	set_str(kf, "helo", meta->helo);
	set_str(kf, "virus", meta->virus);
	g_key_file_set_uint64(kf, GROUP, "size", len);
	g_key_file_set_string(kf, GROUP, "sha256", sum);
	g_key_file_set_string(kf, GROUP, "status", "held");
	data = g_key_file_to_data(kf, out_len, NULL);
	g_key_file_free(kf);
	g_free(t);
	g_free(sum);
	return data;
}

/* quarantine_store - ID.eml, then ID.meta, each written whole first */
int
quarantine_store(const char *dir, const struct quarantine_meta *meta,
		 const void *msg, size_t len, char id[QUARANTINE_ID_LEN])
{
	GDateTime *now = g_date_time_new_now_utc();
	char *tmp_eml = NULL, *tmp_meta = NULL, *eml = NULL, *path, *data;
	gsize dlen = 0;
	int rc = -1, saved;

	id[0] = '\0';
	if ((tmp_eml = write_temp(dir, msg, len, (uid_t) -1, 0)) == NULL)
		goto out;
	if (place_eml(dir, tmp_eml, now, id) < 0) {
		id[0] = '\0';
		goto out;
	}
	eml = entry_path(dir, id, ".eml");
	/* ID.eml must be there for good before ID.meta makes it an entry */
	if (dirs_sync(dir, O_DIRECTORY) < 0)
		goto out;
	data = meta_data(id, now, meta, msg, len, &dlen);
	tmp_meta = write_temp(dir, data, dlen, (uid_t) -1, 0);
	g_free(data);
	if (tmp_meta == NULL)
		goto out;
	path = entry_path(dir, id, ".meta");
	rc = rename(tmp_meta, path);
	g_free(path);
	if (rc == 0) {
		g_free(tmp_meta);
		tmp_meta = NULL;
		rc = dirs_sync(dir, O_DIRECTORY);
	}
out:
	saved = errno;
	if (tmp_eml)
		unlink(tmp_eml);
	if (tmp_meta)
		unlink(tmp_meta);
	if (rc < 0 && eml) {
		char *mpath = entry_path(dir, id, ".meta");

		unlink(mpath);
		unlink(eml);
		g_free(mpath);
		id[0] = '\0';
	}
	g_free(tmp_eml);
	g_free(tmp_meta);
	g_free(eml);
	g_date_time_unref(now);
	errno = saved;
	return rc;
}

/* quarantine_list - the IDs that have an ID.meta, sorted */
char **
quarantine_list(const char *dir)
{
	DIR *d = opendir(dir);
	GPtrArray *ids;
	struct dirent *de;

	if (d == NULL)
		return NULL;
	ids = g_ptr_array_new();
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n == QUARANTINE_ID_LEN - 1 + 5
		    && !strcmp(de->d_name + QUARANTINE_ID_LEN - 1, ".meta")) {
			char *id = g_strndup(de->d_name, QUARANTINE_ID_LEN - 1);

			if (quarantine_id_ok(id))
				g_ptr_array_add(ids, id);
			else
				g_free(id);
		}
		errno = 0;
	}
	if (errno) {
		int saved = errno;

		closedir(d);
		g_ptr_array_add(ids, NULL);
		g_strfreev((char **) g_ptr_array_free(ids, FALSE));
		errno = saved;
		return NULL;
	}
	closedir(d);
	qsort(ids->pdata, ids->len, sizeof(char *), by_string);
	g_ptr_array_add(ids, NULL);
	return (char **) g_ptr_array_free(ids, FALSE);
}

/* quarantine_load_meta - ID.meta, checked to be this entry's */
GKeyFile *
quarantine_load_meta(const char *dir, const char *id)
{
	GKeyFile *kf;
	char *path, *data, *stored;
	size_t len = 0;
	int good;

	if (!quarantine_id_ok(id)) {
		errno = EINVAL;
		return NULL;
	}
	path = entry_path(dir, id, ".meta");
	data = read_file(path, &len);
	g_free(path);
	if (data == NULL)
		return NULL;
	kf = g_key_file_new();
	good = g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, NULL);
	g_free(data);
	stored = good ? g_key_file_get_string(kf, GROUP, "id", NULL) : NULL;
	good = stored && !strcmp(stored, id);
	g_free(stored);
	if (!good) {
		g_key_file_free(kf);
		errno = EBADMSG;
		return NULL;
	}
	return kf;
}

/* quarantine_load_message - ID.eml's bytes */
char *
quarantine_load_message(const char *dir, const char *id, size_t *len)
{
	char *path, *data;

	if (!quarantine_id_ok(id)) {
		errno = EINVAL;
		return NULL;
	}
	path = entry_path(dir, id, ".eml");
	data = read_file(path, len);
	g_free(path);
	return data;
}

/* quarantine_mark_released - status=released, written as a new ID.meta */
int
quarantine_mark_released(const char *dir, const char *id, char *const *rcpts)
{
	GKeyFile *kf = quarantine_load_meta(dir, id);
	GDateTime *now;
	char *path, *t, *data, *tmp;
	struct stat st;
	gsize len = 0;
	int rc, saved;

	if (kf == NULL)
		return -1;
	path = entry_path(dir, id, ".meta");
	if (lstat(path, &st) < 0) {
		saved = errno;
		g_free(path);
		g_key_file_free(kf);
		errno = saved;
		return -1;
	}
	now = g_date_time_new_now_utc();
	t = iso_time(now);
	g_key_file_set_string(kf, GROUP, "status", "released");
	g_key_file_set_string(kf, GROUP, "released-time", t);
	set_list(kf, "released-to", rcpts);
	data = g_key_file_to_data(kf, &len, NULL);
	/* keep the owner: root releasing must leave sinkd's files sinkd's */
	tmp = write_temp(dir, data, len, geteuid() == 0 ? st.st_uid : (uid_t) -1,
			 st.st_gid);
	rc = tmp ? rename(tmp, path) : -1;
	saved = errno;
	if (tmp && rc < 0)
		unlink(tmp);
	if (rc == 0)
		rc = dirs_sync(dir, O_DIRECTORY);
	else
		errno = saved;
	saved = errno;
	g_free(tmp);
	g_free(data);
	g_free(t);
	g_free(path);
	g_date_time_unref(now);
	g_key_file_free(kf);
	errno = saved;
	return rc;
}

/* quarantine_delete - ID.meta, then ID.eml */
int
quarantine_delete(const char *dir, const char *id)
{
	char *meta, *eml;
	int rc = -1, saved;

	if (!quarantine_id_ok(id)) {
		errno = EINVAL;
		return -1;
	}
	meta = entry_path(dir, id, ".meta");
	eml = entry_path(dir, id, ".eml");
	if (unlink(meta) == 0 && (unlink(eml) == 0 || errno == ENOENT))
		rc = dirs_sync(dir, O_DIRECTORY);
	saved = errno;
	g_free(meta);
	g_free(eml);
	errno = saved;
	return rc;
}
