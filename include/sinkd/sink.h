/*
 * sinkd/sink.h - the sink API: handlers administrators write themselves
 *
 * A sink is an entry of sinkd's handler chain ("chain = protocol, clamav,
 * sink:dlp, disclaimer") whose code is not sinkd's: a native shared object
 * (module = /usr/lib/sinkd/sinks/dlp.so) or a Lua script (script =
 * /etc/sinkd/sinks/dlp.lua, which sinkd runs on this same API).  This
 * header is the whole contract between sinkd and a native sink; see
 * sinkd-sink(3).
 *
 * Nothing of sinkd's own libraries crosses it: a sink sees opaque handles
 * (struct sinkd_ctx, struct sinkd_part), plain C strings and byte ranges,
 * and calls sinkd back only through the function table it is given
 * (struct sinkd_api), never through symbols of the sinkd executable.
 * Every call names what it reads or does in data that could be sent over
 * a pipe (names, indices, strings, bytes), so that the same API can carry
 * sinks that run in a process of their own.
 *
 * Versions: a module exports
 *
 *	const struct sinkd_sink *sinkd_sink_entry(void);
 *
 * whose result's abi_major must equal sinkd's SINKD_SINK_ABI_MAJOR and
 * whose abi_minor must be at most sinkd's SINKD_SINK_ABI_MINOR (a module
 * built against a newer header may use calls this sinkd lacks); otherwise
 * the configuration does not load.  Minor versions only append: fields at
 * the end of struct sinkd_sink and struct sinkd_api, values at the end of
 * the enums.  A sink built against minor M reads api->size before calling
 * anything added after M.
 *
 * Threads: hooks run on many threads at once, one message per thread; a
 * sink's process-wide state (what init returns) is shared by all of them
 * and the sink guards it itself.  A struct sinkd_ctx is one connection's
 * and is used by one thread at a time.
 *
 * Lifetimes: strings and bytes sinkd returns stay valid until the hook
 * returns, unless a call says otherwise; strings a sink passes in are
 * copied before the call returns.
 *
 * A native sink is trusted code: it runs inside sinkd, as sinkd's user,
 * and a crash in it is a crash of sinkd.  sinkd logs a hook that overruns
 * the sink's deadline (the sink's timeout key) and gives the message the
 * sink's on-error action; it cannot stop the hook.
 *
 * BSD-2-Clause, like the rest of sinkd.
 */
#ifndef SINKD_SINK_H
#define SINKD_SINK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SINKD_SINK_ABI_MAJOR	1
#define SINKD_SINK_ABI_MINOR	3

/* The entry point a module exports, by this name. */
#define SINKD_SINK_ENTRY	"sinkd_sink_entry"

struct sinkd_ctx;		/* one connection, and its current message */
struct sinkd_part;		/* one MIME part of the current message */
struct sinkd_api;

/* What a hook returns. */
enum sinkd_verdict {
	SINKD_CONTINUE,		/* no objection: the next handler */
	SINKD_ACCEPT,		/* accept: skip the rest of the chain */
	SINKD_REJECT,		/* 5xx: the reply set with api->reply(), or
				 * "550 5.7.1 rejected by sink:NAME" */
	SINKD_TEMPFAIL,		/* 4xx: likewise, "451 4.7.1 ..." */
	SINKD_DISCARD,		/* accept and drop silently */
	SINKD_QUARANTINE,	/* hold the message (the MTA's hold queue) */
	SINKD_ERROR,		/* the sink failed: its on-error action */
};

/* The type of a key a sink declares; the syntax is sinkd.conf(5)'s. */
enum sinkd_key_type {
	SINKD_KEY_STRING,
	SINKD_KEY_BOOL,		/* yes/no */
	SINKD_KEY_INT,		/* a decimal integer */
	SINKD_KEY_SIZE,		/* bytes, k/m/g suffix */
	SINKD_KEY_TIME,		/* seconds, s/m/h/d suffix */
	SINKD_KEY_PATH,		/* relative: from sinkd.conf's directory */
	SINKD_KEY_LIST,		/* comma-separated */
	SINKD_KEY_REPLY,	/* "550 5.7.1 text" */
};

/*
 * How inbound mail for several domains combines a key (sinkd-policy(5),
 * "Combining policies").  SINKD_MERGE_AGREE, the default: domains that
 * differ on it cannot share a transaction, and the second is deferred at
 * RCPT TO.
 */
enum sinkd_merge {
	SINKD_MERGE_AGREE,
	SINKD_MERGE_ANY,	/* bool: yes if any domain says yes */
	SINKD_MERGE_ALL,	/* bool: yes only if every domain does */
	SINKD_MERGE_MIN,	/* numbers: the smallest; 0 ("none") loses */
	SINKD_MERGE_UNION,	/* lists: every domain's entries */
	SINKD_MERGE_COMMON,	/* lists: the entries every domain has */
};

/*
 * A key of the sink's group ([sink:NAME] in sinkd.conf and in policy
 * files, per domain like every group); the array ends with a NULL name.
 * sinkd checks values (sinkd -n: file:line: key: what is wrong), shows
 * them (sinkd -d, sinkd -P) and hands them over with api->config().
 * Names must not be those sinkd gives every sink: module, script,
 * evaluate, timeout, on-error, direction, and the keys sinkd-policy(5)
 * lists for every handler.
 */
struct sinkd_key {
	const char *name;
	enum sinkd_key_type type;
	const char *def;	/* the default, as written in sinkd.conf */
	const char *doc;	/* one line, for sinkd -d */
	enum sinkd_merge merge;
};

/* Log levels (api->log): as sinkd's own lines. */
enum sinkd_log {
	SINKD_LOG_DEBUG,	/* only with debug = yes */
	SINKD_LOG_INFO,
	SINKD_LOG_WARNING,
	SINKD_LOG_ERROR,
};

/* What the accepted hook returns (ABI 1.1). */
enum sinkd_event_result {
	SINKD_EVENT_DONE,	/* done with the event (or had it already) */
	SINKD_EVENT_RETRY,	/* not now: the same event again later */
	SINKD_EVENT_FAIL,	/* never: sinkd logs it and goes on */
};

/* sinkd_sink.accepted_flags (ABI 1.1) */
#define SINKD_ACCEPTED_BODY	(1u << 0)	/* hand the hook the message */

/*
 * A sink: every hook is optional (NULL: not interested; sinkd then does
 * not ask the MTA for that step).  state is what init set.
 */
struct sinkd_sink {
	unsigned abi_major;	/* SINKD_SINK_ABI_MAJOR */
	unsigned abi_minor;	/* SINKD_SINK_ABI_MINOR */
	const char *name;	/* the sink's own name, for logs */
	const struct sinkd_key *keys;	/* NULL: none of its own */

	/*
	 * Process-wide, on the thread that loads the configuration.  init
	 * runs once per configuration generation (at start, and for the
	 * new generation at each reload, while the old one still serves
	 * messages in flight), with the default policy's group; it returns
	 * 0, or -1 after api->log() said why, and the configuration does
	 * not load.  reload runs on a new generation's state when it
	 * replaces another on SIGHUP (not at start).  shutdown runs when
	 * the generation's last message is done.
	 */
	int (*init)(const struct sinkd_api *api, struct sinkd_ctx *config,
		    void **state);
	void (*reload)(void *state);
	void (*shutdown)(void *state);

	/* The SMTP steps.  A verdict other than SINKD_CONTINUE ends the
	 * step for the message (or, at rcpt, for that recipient only). */
	enum sinkd_verdict (*connect)(void *state, struct sinkd_ctx *c);
	enum sinkd_verdict (*helo)(void *state, struct sinkd_ctx *c);
	enum sinkd_verdict (*mail)(void *state, struct sinkd_ctx *c);
	enum sinkd_verdict (*rcpt)(void *state, struct sinkd_ctx *c,
				   const char *addr);
	enum sinkd_verdict (*data)(void *state, struct sinkd_ctx *c);
	enum sinkd_verdict (*unknown)(void *state, struct sinkd_ctx *c,
				      const char *cmd);
	/* The whole message: its header fields, MIME parts and raw bytes
	 * readable, and every edit of struct sinkd_api allowed. */
	enum sinkd_verdict (*eom)(void *state, struct sinkd_ctx *c);
	/* The message ended without end of message (the client went away,
	 * RSET, or an earlier verdict), or the connection closes (then
	 * closing is 1); for what a sink keeps per message or connection. */
	void (*abort)(void *state, struct sinkd_ctx *c, int closing);

	/* --- ABI 1.1 (sinkd reads these only from a sink whose abi_minor
	 * is at least 1) ------------------------------------------------- */

	/*
	 * After the fact: sinkd accepted (or quarantined) a message and
	 * recorded it in its journal (sinkd-events(5)); the hook gets the
	 * event later, on a thread of its own that no message waits for,
	 * at least once (a key seen again must not be acted on twice), in
	 * the order messages were accepted.  event is the event as one
	 * line of JSON (sinkd-events(5)); body, with SINKD_ACCEPTED_BODY
	 * in accepted_flags, the path of a read-only copy of the message
	 * as received, else NULL.  Both stay valid until the hook returns.
	 * It cannot change the message: c is a context of its own, on
	 * which only log() and config() (the default policy's keys) work.
	 * SINKD_EVENT_RETRY: the same event again after a back-off.
	 */
	enum sinkd_event_result (*accepted)(void *state, struct sinkd_ctx *c,
					    const char *event, const char *body);
	unsigned accepted_flags;	/* SINKD_ACCEPTED_* */
};

/* Flags of api->part_info(). */
#define SINKD_PART_MULTIPART	(1u << 0)	/* a container */
#define SINKD_PART_MESSAGE	(1u << 1)	/* message/rfc822 */
#define SINKD_PART_SIGNED	(1u << 2)	/* multipart/signed or S/MIME
						 * signed-data */
#define SINKD_PART_ENCRYPTED	(1u << 3)	/* encrypted content */
#define SINKD_PART_ATTACHMENT	(1u << 4)	/* disposition attachment, or
						 * a file name */
#define SINKD_PART_TEXT		(1u << 5)	/* text/plain or text/html */

/* What api->part_info() says of a part; the strings are sinkd's. */
struct sinkd_part_info {
	unsigned index;		/* in document order, 0: the message */
	unsigned parent;	/* the container's index (0 for the top) */
	unsigned depth;		/* 0: the message itself */
	unsigned flags;		/* SINKD_PART_* */
	const char *type;	/* "text/plain", lower case */
	const char *charset;	/* NULL: none given */
	const char *encoding;	/* Content-Transfer-Encoding, lower case */
	const char *filename;	/* as sinkd resolves it (RFC 2231,
				 * RFC 2047, Content-Disposition before
				 * Content-Type's name); NULL: none */
	size_t size;		/* encoded size, in bytes */
};

/*
 * The calls a sink makes.  Each returns 0 (or a value) on success and -1
 * when the call is not allowed at this step or its arguments are bad
 * (a header name with a colon, an address with CR or LF, a part index
 * out of range); a sink that ignores -1 loses only that one effect.
 */
struct sinkd_api {
	size_t size;		/* sizeof(struct sinkd_api) of this sinkd */
	unsigned abi_major, abi_minor;

	/* --- reading ---------------------------------------------------- */

	/*
	 * A fact by name, or NULL when it is not known (yet):
	 *   client.addr client.name client.port helo auth
	 *   tls.version tls.cipher tls.bits tls.subject tls.issuer
	 *   queue-id sender direction ("inbound", "outbound") policy
	 *   ("example.com", "a.test,b.test" combined, "default")
	 *   size (of the message, decimal) rcpt-count
	 *   dry-run ("yes" under sinkd -t: store and spend nothing)
	 *   macro.NAME (any MTA macro: macro.j, macro.{daemon_name})
	 *   and what earlier handlers noted, by the key they note under
	 *   (virus, quarantine, disclaimer, rewrite) and sinks' own
	 *   (sink.NAME.KEY, api->note()).
	 */
	const char *(*get)(struct sinkd_ctx *c, const char *name);
	/* The i-th ESMTP parameter of MAIL FROM ("SIZE=1234"), or of
	 * the recipient being judged in the rcpt hook; NULL past the end. */
	const char *(*mail_param)(struct sinkd_ctx *c, unsigned i);
	const char *(*rcpt_param)(struct sinkd_ctx *c, unsigned i);
	/* The i-th accepted recipient (from data on); NULL past the end. */
	const char *(*rcpt)(struct sinkd_ctx *c, unsigned i);

	/* The sink's key in the policy in effect for this message (at
	 * connect and helo, and in init: the default policy's), as the
	 * configuration spells it ("yes", "10m", "a, b"); a LIST key's
	 * i-th entry with config_list (NULL past the end). */
	const char *(*config)(struct sinkd_ctx *c, const char *key);
	const char *(*config_list)(struct sinkd_ctx *c, const char *key,
				   unsigned i);

	/* Header fields in order (from eom, and data for what came with
	 * the message): the i-th field's name and value, the value as
	 * received (unfolded, leading space removed) or decoded
	 * (RFC 2047, to UTF-8).  -1 past the end. */
	int (*header)(struct sinkd_ctx *c, unsigned i, const char **name,
		      const char **raw, const char **decoded);
	/* The n-th (1-based) field of this name, decoded; NULL: none. */
	const char *(*header_get)(struct sinkd_ctx *c, const char *name,
				  unsigned n);

	/* MIME parts (eom): part 0 is the message; -1 past the end. */
	int (*part_info)(struct sinkd_ctx *c, unsigned i,
			 struct sinkd_part_info *info);
	/* The part's content decoded (transfer encoding undone; for a
	 * text part also converted to UTF-8 when utf8 is set), at most
	 * max bytes (0: the whole part); -1 for a container. */
	int (*part_content)(struct sinkd_ctx *c, unsigned i, int utf8,
			    size_t max, const char **data, size_t *len);
	/* The message as received, header and body, CRLF line ends. */
	int (*raw)(struct sinkd_ctx *c, const char **data, size_t *len);

	/* A per-message store shared along the chain (sinks and sinkd's
	 * handlers), cleared at the next message; value NULL removes. */
	const char *(*kv_get)(struct sinkd_ctx *c, const char *key);
	int (*kv_set)(struct sinkd_ctx *c, const char *key, const char *value);

	/* --- doing ---------------------------------------------------------- */

	/* The reply of a REJECT or TEMPFAIL verdict returned next: code
	 * "550" or "451" (the verdict must match its class), xcode
	 * "5.7.1" (NULL: derived), text without CR or LF (-1 otherwise;
	 * at most 512 bytes, longer is cut). */
	int (*reply)(struct sinkd_ctx *c, const char *code, const char *xcode,
		     const char *text);

	/* Header edits (eom), through sinkd's edit list: a field is named
	 * by its 1-based index among the fields of its name as the message
	 * came (fields added by handlers are never renamed by others).
	 * change with value NULL deletes.  Values must not carry bare CR
	 * or LF; a long value is folded by sinkd. */
	int (*header_add)(struct sinkd_ctx *c, const char *name, const char *value);
	int (*header_insert)(struct sinkd_ctx *c, unsigned index, const char *name,
			     const char *value);
	int (*header_change)(struct sinkd_ctx *c, const char *name, unsigned n,
			     const char *value);

	/* Envelope edits (eom). */
	int (*rcpt_add)(struct sinkd_ctx *c, const char *addr);
	int (*rcpt_delete)(struct sinkd_ctx *c, const char *addr);
	int (*sender_change)(struct sinkd_ctx *c, const char *addr);

	/* Body edits (eom), through sinkd's MIME tree (the disclaimer's
	 * rules apply: signed parts are left alone and the call returns
	 * -1; charsets and transfer encodings are sinkd's to choose).
	 * part_replace: new content (type, e.g. "text/plain; charset=utf-8",
	 * and filename may be NULL: the part's own); part_remove: the part's
	 * content goes: it becomes a text/plain part holding note (empty
	 * when NULL), so that the message keeps its structure;
	 * part_add: a new attachment at the end of the message; text_append:
	 * text (UTF-8) after a text part's content (html: the text is
	 * escaped and put before </body>).  Under dkim-signed = skip, a
	 * header or body edit that would break a DKIM signature that
	 * verified is -1 and not made (fact dkim.held). */
	int (*part_replace)(struct sinkd_ctx *c, unsigned i, const char *type,
			    const char *filename, const void *data, size_t len);
	int (*part_remove)(struct sinkd_ctx *c, unsigned i, const char *note);
	int (*part_add)(struct sinkd_ctx *c, const char *type, const char *filename,
			const void *data, size_t len);
	int (*text_append)(struct sinkd_ctx *c, unsigned i, const char *text);

	/* Facts for later handlers and the log line: "sink.NAME.KEY" in
	 * api->get() and the per-message log line's notes. */
	int (*note)(struct sinkd_ctx *c, const char *key, const char *value);

	/* A log line, "QUEUEID: sink:NAME: text" (CR/LF become spaces). */
	void (*log)(struct sinkd_ctx *c, enum sinkd_log level, const char *text);

	/* --- ABI 1.2 (check api->size before calling: a sinkd of an older
	 * minor has no such member) --------------------------------------- */

	/* A footer (eom): text (UTF-8) and its HTML form (NULL: the text,
	 * escaped) put where and as the disclaimer handler puts its own, after
	 * every handler: into the bodies a reader sees (both alternatives),
	 * once per thread (a body already quoting it gets none), signed and
	 * encrypted mail by the signed and encrypted keys of the message's
	 * disclaimer policy (where it says reject, the footer is skipped);
	 * named in an X-Sinkd-Footer field when it cannot go inside.  -1
	 * under dkim-signed = skip for a DKIM-signed body, as body edits. */
	int (*footer)(struct sinkd_ctx *c, const char *text, const char *html);

	/* --- ABI 1.3 ------------------------------------------------------- */

	/* The message wrapped whole (eom): as it is now (its header as the
	 * edits made so far left it; its body with every body edit, made
	 * before or after) it becomes an inline message/rfc822 part of a new
	 * multipart/mixed message, followed by a text/plain part holding
	 * text (UTF-8; NULL: none).  The new message's header is the
	 * message's own with its Content-* fields those of the new body;
	 * header edits made after the call are the new message's only (a
	 * list's From for DMARC, Mailman's "wrap").  -1 when the message was
	 * wrapped already (part_add, an earlier wrap) or its MIME tree was
	 * cut short, and under dkim-signed = skip for a DKIM-signed body. */
	int (*wrap)(struct sinkd_ctx *c, const char *text);
};

#ifdef __cplusplus
}
#endif

#endif
