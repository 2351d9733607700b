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
 *	X-Sinkd-Released: ID; TIME; NONCE; ENV; MAC
 * put first.  TIME is when the release was made (Unix seconds), NONCE 16
 * random hex digits, ENV the first 32 hex digits of the SHA-256 of the
 * envelope the release uses (the sender, a NUL, then each distinct
 * recipient in byte order followed by a NUL; every address without angle
 * brackets and in lower case), and MAC the lower-case hex HMAC-SHA256,
 * keyed with the directory's secret (the file ".key": 32 random bytes,
 * mode 0600, made by quarantine_open()), of "sinkd-release-2", ID, TIME,
 * NONCE and ENV, each followed by a NUL, and the SHA-256 of the message's
 * body (everything after the empty line that ends the header block, CRLF
 * line ends as the MTA hands them to a milter).
 *
 * A message passes on such a field only when the MAC checks out for its
 * body, ENV is its own envelope's, TIME is within the lifetime the caller
 * allows, and the token has not been spent: spending it makes the file
 * ".used-MAC" in the directory with O_EXCL (naming the message that spent
 * it), so of two messages carrying the same token only one passes.  A
 * spent token is given back (the marker removed) when the message that
 * spent it was not accepted after all, so that the MTA's retry passes.
 * Markers are never removed otherwise: once older than the lifetime they
 * are inert and may be deleted.
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

/* quarantine_open - create dir (mode 0700; missing parents 0755) and its
 * key if missing, owned by uid:gid when run as root; an existing dir with
 * another mode is made 0700, and (as root) uid:gid's, which is logged; 0,
 * or -1 with errno (EKEYREJECTED: the key is readable or writable by
 * others, or not root's or uid's, which is logged; EPERM: not root, and
 * the directory is another user's) */
int quarantine_open(const char *dir, uid_t uid, gid_t gid);

/* quarantine_store - write one entry; 0 and id set, or -1 with errno
 * (disk full, say: the caller tempfails) */
int quarantine_store(const char *dir, const struct quarantine_meta *meta,
		     const void *msg, size_t len,
		     char id[QUARANTINE_ID_LEN]);

/* What a release token binds a message to. */
struct quarantine_envelope {
	const char *sender;	/* with or without <>; "" or "<>": none */
	char *const *rcpts;	/* NULL-terminated; any order, repeats allowed */
};

/* quarantine_token - the X-Sinkd-Released value releasing entry id's body
 * to env, made at issued (Unix seconds); the key may also be user's (the
 * daemon's, for a tool run as root); g_free() it; NULL (errno) if the key
 * cannot be read or id is not an ID (EINVAL) */
char *quarantine_token(const char *dir, uid_t user, const char *id,
		       gint64 issued, const struct quarantine_envelope *env,
		       const void *body, size_t len);

enum quarantine_token_status {
	QTOKEN_OK,		/* valid for this message */
	QTOKEN_MALFORMED,	/* not a token */
	QTOKEN_FORGED,		/* the MAC does not check: other content */
	QTOKEN_ENVELOPE,	/* made for another envelope */
	QTOKEN_EXPIRED,		/* older than the lifetime, or from the future */
	QTOKEN_USED,		/* spent by another message */
	QTOKEN_ERROR,		/* the key or marker failed: errno */
};

/* quarantine_token_check - value's worth for a message with this envelope
 * and body at now (Unix seconds), for a lifetime in seconds, the key owned
 * by root, the process or user; does not look at whether it is spent */
enum quarantine_token_status
quarantine_token_check(const char *dir, uid_t user, const char *value,
		       const struct quarantine_envelope *env, const void *body,
		       size_t len, gint64 now, gint64 lifetime);

/* quarantine_token_spend - mark value spent by spender (one line of text
 * naming the message, unique to it): QTOKEN_OK, QTOKEN_USED (spent
 * before), QTOKEN_MALFORMED or QTOKEN_ERROR (errno) */
enum quarantine_token_status
quarantine_token_spend(const char *dir, const char *value,
		       const char *spender);

/* quarantine_token_spent - whether value was spent, writing nothing (for
 * a dry run): QTOKEN_OK (not spent), QTOKEN_USED, QTOKEN_MALFORMED or
 * QTOKEN_ERROR (errno) */
enum quarantine_token_status
quarantine_token_spent(const char *dir, const char *value);
/* quarantine_token_unspend - give value back if spender spent it; 0, or
 * -1 with errno (ENOENT: not spent by spender) */
int quarantine_token_unspend(const char *dir, const char *value,
			     const char *spender);

/* quarantine_token_why - a status in words, for the log */
const char *quarantine_token_why(enum quarantine_token_status st);

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
