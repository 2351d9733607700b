/*
 * quarantine - held messages on disk, and the token that lets a released
 *	one through again
 *
 * A quarantined message is two files in the quarantine directory:
 * ID.eml, the message exactly as sinkd received it (its spool bytes), and
 * ID.meta, a GLib key file with group [quarantine] holding id, time
 * (ISO 8601 UTC), queue-id, sender, recipients (list), client-addr,
 * client-name, helo, virus, size, sha256 (of ID.eml), and status (held or
 * released, with released-time and released-to once released).  IDs are
 * made by sinkd from the time and random bytes, never from mail data:
 * "YYYYMMDDTHHMMSS-" followed by 16 lower-case hex digits.
 *
 * Both files are written to temporary names in the directory, fsync()ed
 * and renamed, ID.eml first; ID.meta appearing is what makes an entry
 * exist, so a crash leaves no half entry visible (at worst a stray
 * temporary file, named ".tmp-*").
 *
 * Release: the message is re-injected with a header field
 *	X-Sinkd-Released: ID; HMAC
 * put first, where HMAC is the lower-case hex HMAC-SHA256, keyed with the
 * directory's secret (the file ".key": 32 random bytes, mode 0600, made
 * by quarantine_open()), of ID, a newline, and the SHA-256 of the
 * message's body (everything after the empty line that ends the header
 * block, CRLF line ends as the MTA hands them to a milter).  A message
 * whose field checks out is the one an administrator released, and is not
 * held again; a forged or copied field on other content does not check.
 *
 * Meta values are stored as UTF-8 (GKeyFile's encoding): a byte sequence
 * from mail data that is not valid UTF-8 is stored with U+FFFD in its
 * place.
 *
 * Only names made from an ID that quarantine_id_ok() accepts are ever
 * opened, and never through a symbolic link.
 *
 * Threading: every function may run concurrently with the others, in any
 * thread or process; none keeps state between calls.
 */
#ifndef SINKD_QUARANTINE_H
#define SINKD_QUARANTINE_H

#include <stddef.h>
#include <sys/types.h>
#include <glib.h>

#define QUARANTINE_ID_LEN 33	/* 32 characters and the NUL */
#define QUARANTINE_HEADER "X-Sinkd-Released"

struct quarantine_meta {
	const char *queue_id;
	const char *sender;
	char *const *rcpts;	/* NULL-terminated */
	const char *client_addr, *client_name, *helo;
	const char *virus;
};

/* quarantine_open - create dir (mode 0700) and its key if missing, owned
 * by uid:gid when run as root; 0, or -1 with errno (EKEYREJECTED: the key
 * is readable or writable by others, which is logged) */
int quarantine_open(const char *dir, uid_t uid, gid_t gid);

/* quarantine_store - write one entry; 0 and id set, or -1 with errno
 * (disk full, say: the caller tempfails) */
int quarantine_store(const char *dir, const struct quarantine_meta *meta,
		     const void *msg, size_t len,
		     char id[QUARANTINE_ID_LEN]);

/* quarantine_token - the X-Sinkd-Released value for id and this body;
 * g_free() it; NULL (errno) if the key cannot be read */
char *quarantine_token(const char *dir, const char *id,
		       const void *body, size_t len);

/* quarantine_token_ok - 1 if value is a valid token for this body */
int quarantine_token_ok(const char *dir, const char *value,
			const void *body, size_t len);

/* quarantine_id_ok - 1 if s has the shape of an ID (safe as a file name) */
int quarantine_id_ok(const char *s);

/* quarantine_body - the body of a message: what follows the first empty
 * line (CRLF CRLF or LF LF); length 0 when there is none.  Points into
 * msg. */
const char *quarantine_body(const void *msg, size_t len, size_t *body_len);

/* quarantine_sha256_hex - lower-case hex SHA-256 of data; g_free() it */
char *quarantine_sha256_hex(const void *data, size_t len);

/* quarantine_list - the IDs of the entries in dir (those with an ID.meta),
 * sorted, hence oldest first; g_strfreev() it; NULL (errno) if the
 * directory cannot be read */
char **quarantine_list(const char *dir);

/* quarantine_load_meta - entry id's key file, group [quarantine] present
 * and its id matching; g_key_file_free() it; NULL with errno: ENOENT (no
 * such entry), EINVAL (not an ID), EBADMSG (not a meta file), or the
 * error that reading gave */
GKeyFile *quarantine_load_meta(const char *dir, const char *id);

/* quarantine_load_message - the bytes of ID.eml, exactly; g_free() them;
 * NULL with errno as quarantine_load_meta() */
char *quarantine_load_message(const char *dir, const char *id, size_t *len);

/* quarantine_mark_released - rewrite ID.meta, atomically as at store
 * time and keeping its owner, with status=released, released-time (now)
 * and released-to (the NULL-terminated rcpts); 0, or -1 with errno */
int quarantine_mark_released(const char *dir, const char *id,
			     char *const *rcpts);

/* quarantine_delete - remove the entry: ID.meta first (from then on it
 * does not exist), then ID.eml; 0, or -1 with errno (ENOENT: no entry) */
int quarantine_delete(const char *dir, const char *id);

#endif
