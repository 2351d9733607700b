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
#include "../src/log.h"
#include "quarantine.h"

#define KEY_FILE	".key"
#define KEY_LEN		32
#define GROUP		"quarantine"
#define ID_RANDOM	8	/* bytes: 16 hex digits */
#define MAC_HEX		(2 * SHA256_DIGEST_LENGTH)

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

/* sync_dir - fsync() a directory, so that names made in it last */
static int
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc, saved;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
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

/* read_key - the directory's secret; 0, or -1 with errno (EINVAL: the
 * key file is not exactly KEY_LEN bytes) */
static int
read_key(const char *dir, unsigned char key[KEY_LEN])
{
	char *path = g_build_filename(dir, KEY_FILE, NULL);
	char *why = conf_file_unsafe(path, 1);
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
	rc = sync_dir(dir);
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

/* quarantine_open - create dir (mode 0700) and its key if missing, owned
 * by uid:gid when run as root; 0, or -1 with errno */
int
quarantine_open(const char *dir, uid_t uid, gid_t gid)
{
	int root = geteuid() == 0;
	unsigned char key[KEY_LEN];
	struct stat st;

	if (g_mkdir_with_parents(dir, 0700) < 0)
		return -1;
	if (lstat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if (root && (st.st_uid != uid || st.st_gid != gid)
	    && chown(dir, uid, gid) < 0)
		return -1;
	if (read_key(dir, key) == 0) {
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

/* mac_hex - the hex HMAC-SHA256 of "id\n" + SHA-256(body) under dir's
 * key, into out (MAC_HEX + 1 bytes); 0, or -1 with errno */
static int
mac_hex(const char *dir, const char *id, const void *body, size_t len,
	char out[MAC_HEX + 1])
{
	unsigned char key[KEY_LEN], mac[EVP_MAX_MD_SIZE];
	unsigned char input[QUARANTINE_ID_LEN + SHA256_DIGEST_LENGTH];
	size_t idlen = strlen(id);
	unsigned maclen = 0;

	if (read_key(dir, key) < 0)
		return -1;
	memcpy(input, id, idlen);
	input[idlen] = '\n';
	SHA256(body, len, input + idlen + 1);
	if (HMAC(EVP_sha256(), key, KEY_LEN, input, idlen + 1 + SHA256_DIGEST_LENGTH,
		 mac, &maclen) == NULL || maclen != SHA256_DIGEST_LENGTH) {
		OPENSSL_cleanse(key, sizeof(key));
		errno = EIO;
		return -1;
	}
	OPENSSL_cleanse(key, sizeof(key));
	hex(mac, maclen, out);
	return 0;
}

/* quarantine_token - "ID; HMAC" for id and this body */
char *
quarantine_token(const char *dir, const char *id, const void *body, size_t len)
{
	char mac[MAC_HEX + 1];

	if (!quarantine_id_ok(id)) {
		errno = EINVAL;
		return NULL;
	}
	if (mac_hex(dir, id, body, len, mac) < 0)
		return NULL;
	return g_strdup_printf("%s; %s", id, mac);
}

/* quarantine_token_ok - 1 if value is "ID; HMAC" (blanks around it and
 * after the semicolon allowed) and HMAC is right for ID and this body */
int
quarantine_token_ok(const char *dir, const char *value, const void *body,
		    size_t len)
{
	char id[QUARANTINE_ID_LEN], want[MAC_HEX + 1];
	const char *p = value, *mac;
	unsigned i;

	if (p == NULL)
		return 0;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (strnlen(p, QUARANTINE_ID_LEN) < QUARANTINE_ID_LEN - 1)
		return 0;
	memcpy(id, p, QUARANTINE_ID_LEN - 1);
	id[QUARANTINE_ID_LEN - 1] = '\0';
	if (!quarantine_id_ok(id))
		return 0;
	p += QUARANTINE_ID_LEN - 1;
	if (*p++ != ';')
		return 0;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	mac = p;
	for (i = 0; i < MAC_HEX; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	for (p += MAC_HEX; *p; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return 0;
	if (mac_hex(dir, id, body, len, want) < 0)
		return 0;
	return CRYPTO_memcmp(mac, want, MAC_HEX) == 0;
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
	if (sync_dir(dir) < 0)
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
		rc = sync_dir(dir);
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

/* by_string - qsort comparison of two char * */
static int
by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
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
		rc = sync_dir(dir);
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
		rc = sync_dir(dir);
	saved = errno;
	g_free(meta);
	g_free(eml);
	errno = saved;
	return rc;
}
