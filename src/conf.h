/*
 * conf - typed configuration keys, key files with line numbers, errors
 *
 * Every key sinkd knows is declared once, in a const table of struct
 * conf_key: its name, type, default, bounds, whether a change needs a
 * restart, whether it may be set per domain, how inbound mail for several
 * domains combines it, and a one-line description.  The [sinkd] table is
 * the core's (policy.c); each handler brings its own table in its vtable.
 *
 * A struct conf_group holds one value per key of a table, each knowing the
 * file and line it came from, so that any later check (a handler compiling
 * a regex, say) can report "file:line: key: what is wrong".  Errors are
 * collected in a struct conf_errors and all printed before sinkd refuses
 * to start.
 *
 * Key files are parsed by GLib's GKeyFile.  GKeyFile keeps no line
 * numbers, so conf_file_read() also indexes where each group and key
 * starts; the same pass reports lines that are neither a key, a group nor
 * a comment, and keys set twice, which GKeyFile would silently accept,
 * and makes such lines comments for GKeyFile, so that the rest of the
 * file is still read and one run reports every error.
 *
 * Values: a # at the start of a value or after white space starts a
 * comment (warned of: main.cf has no such thing), \# is a literal #;
 * "key += entries" adds to a list key instead of replacing it, and the
 * value remembers where the list it extended came from (added_to).  A
 * list key may check its entries (struct conf_key.check): an entry put
 * in its usual form is a warning, one that can never match an error.
 *
 * Warnings are a class of their own (conf_warnf, conf_key_warn): they do
 * not stop sinkd.  conf_errors_report() hands out errors and warnings
 * sorted by file (in the order read) and line.
 *
 * Threading: groups are immutable once loaded and may be read from any
 * thread.
 */
#ifndef SINKD_CONF_H
#define SINKD_CONF_H

#include <sys/types.h>
#include <glib.h>

#include "reply.h"

enum conf_type {
	CONF_BOOL,		/* yes/no, true/false, on/off, 1/0 */
	CONF_INT,		/* decimal integer within min..max */
	CONF_SIZE,		/* bytes, with optional k/m/g suffix */
	CONF_TIME,		/* seconds, with optional s/m/h/d suffix */
	CONF_STRING,		/* text, key-file escapes (\n, \t) honoured */
	CONF_PATH,		/* a path; relative ones are taken from the
				 * directory of sinkd.conf */
	CONF_LIST,		/* comma-separated entries; "\," is a comma */
	CONF_ENUM,		/* one of values[] */
	CONF_REPLY,		/* "550 5.7.1 text" */
	CONF_CIDRS,		/* a list of addresses and networks */
	CONF_SOCKET,		/* unix:/path, inet:port@host, inet:host:port */
	CONF_MODE,		/* octal file mode */
};

/*
 * How inbound mail with recipients in several domains combines a key
 * (sinkd-policy(5), "Combining policies").  No rule decides by the order
 * of the recipients.  Every key that may be set per domain names its rule
 * in its table; conf_table_check() refuses a table where one does not,
 * so that a new key cannot fall back to an order-dependent choice.
 */
enum conf_merge {
	MERGE_UNSET,		/* no rule: only for keys that are the same in
				 * every policy (CONF_NODOMAIN, [sinkd]) */
	MERGE_MIN,		/* "min": the smallest number; 0 ("no
				 * limit") loses */
	MERGE_UNION,		/* "union": lists: every domain's entries */
	MERGE_INTERSECT,	/* "common": lists: only the entries every
				 * domain has (exemptions) */
	MERGE_TRUE,		/* "any": yes if any domain says yes */
	MERGE_FALSE,		/* "all": yes only if every domain says yes */
	MERGE_ENUM,		/* "strictest": the value listed first in
				 * values[] wins: tables list strictest first */
	MERGE_ENUM_LAST,	/* "widest": the value listed last wins
				 * (direction: outbound, inbound, both) */
	MERGE_AGREE,		/* "agree": no combination is safe; the
				 * domains must agree, and a recipient whose
				 * domain does not is deferred at RCPT */
	MERGE_DEFAULT,		/* "default": when the domains differ, the
				 * default policy's value (replies, notices) */
	MERGE_RCPT,		/* "recipient": never combined; each
				 * recipient's own domain's value applies */
	MERGE_NRULES
};

#define CONF_RESTART	(1u << 0)	/* a change needs a restart */
#define CONF_NODOMAIN	(1u << 1)	/* not in per-domain files */
#define CONF_SECRET	(1u << 2)	/* a credential: sinkd -P shows where it
					 * is set, never its value */

struct conf_key {
	const char *name;
	enum conf_type type;
	const char *def;	/* the default, written as in a file */
	long long min, max;	/* INT, SIZE, TIME bounds */
	const char *const *values;	/* ENUM: NULL-terminated */
	unsigned flags;
	enum conf_merge merge;
	const char *doc;	/* one line, for -d and the man page check */
	/* LIST: one entry checked, *entry (g_free()able) replaced by its
	 * usual form where it can be; 0: fine, 1: likely not what was
	 * meant (*why: a warning), -1: can never match (*why: an error);
	 * *why is g_free()d */
	int (*check)(char **entry, char **why);
};

struct conf_value {
	char *raw;		/* the value as written (escapes undone) */
	const char *file;	/* where set; NULL: the built-in default */
	int line;
	long long num;		/* BOOL, INT, SIZE, TIME, MODE, ENUM index */
	char **list;		/* LIST, CIDRS: NULL-terminated */
	struct reply reply;	/* REPLY */
	int unused;		/* no effect on inbound mail: left out when
				 * policies are combined (conf_unused()) */
	char *added_to;		/* a list extended with "key += ...": where
				 * the entries it added to came from
				 * ("file:line", "built-in default", or an
				 * earlier added_to and file:line); NULL: the
				 * value was set with "key = ..." */
};

struct conf_group {
	const char *name;	/* group name: "sinkd" or a handler's */
	const char *domain;	/* policy it belongs to ("default", ...) */
	const struct conf_key *const *keys;	/* tables, NULL-terminated */
	unsigned n;
	const struct conf_key **key;	/* flattened: n entries */
	struct conf_value *val;	/* n entries */
};

struct conf_errors {
	GPtrArray *msgs;	/* errors: sinkd refuses the configuration */
	GPtrArray *warnings;	/* "file:line: key: warning: ...": accepted */
	GPtrArray *files;	/* files in the order read, for sorting */
	uid_t user;		/* sinkd's user: its files are trusted, as
				 * root's are; (uid_t) -1 until [sinkd] is
				 * read (snapshot_load sets it) */
};

struct conf_file;

/* errors */
void conf_errors_init(struct conf_errors *e);
void conf_errors_free(struct conf_errors *e);
void conf_errorf(struct conf_errors *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void conf_key_error(struct conf_errors *e, const struct conf_group *g,
		    const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void conf_warnf(struct conf_errors *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void conf_key_warn(struct conf_errors *e, const struct conf_group *g,
		   const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
typedef void (*conf_report_fn)(int warning, const char *msg, void *ctx);
void conf_errors_report(const struct conf_errors *e, conf_report_fn out,
			void *ctx);
char *conf_value_origin(const struct conf_value *v);
char *conf_value_escape(const char *raw);

/* files */
#define CONF_FILE_SECRET	(1u << 0)	/* a key: others may not read it */
#define CONF_FILE_ANY_OWNER	(1u << 1)	/* any owner (ClamAV's signatures) */
char *conf_file_unsafe(const char *path, unsigned flags, uid_t user);
struct conf_file *conf_file_read(const char *path, struct conf_errors *e);
void conf_file_free(struct conf_file *f);
const char *conf_file_path(const struct conf_file *f);
char **conf_file_groups(const struct conf_file *f);
int conf_file_group_line(const struct conf_file *f, const char *group);
int conf_file_key_line(const struct conf_file *f, const char *group,
		       const char *key);
char **conf_file_keys(const struct conf_file *f, const char *group);
char *conf_file_get(const struct conf_file *f, const char *group,
		    const char *key);
char **conf_split_list(const char *raw);

/* groups */
void conf_group_init(struct conf_group *g, const char *name,
		     const char *domain, const struct conf_key *const *tables,
		     const char *basedir, struct conf_errors *e);
void conf_group_copy(struct conf_group *dst, const struct conf_group *src,
		     const char *domain);
void conf_group_free(struct conf_group *g);
int conf_group_apply(struct conf_group *g, const struct conf_file *f,
		     const char *basedir, int per_domain,
		     struct conf_errors *e);
int conf_group_merge(struct conf_group *dst,
		     const struct conf_group *const *src, unsigned n,
		     const struct conf_group *def, const char *domain,
		     const char **conflict);
const char *conf_group_conflict(const struct conf_group *a,
				const struct conf_group *b);
void conf_set(struct conf_group *g, const char *key, const char *raw);
void conf_unused(struct conf_group *g, const char *key);
int conf_table_check(const char *group, const struct conf_key *const *tables,
		     struct conf_errors *e);
const char *conf_key_default_check(const struct conf_key *k,
				   const char *basedir);

/* lookups, by key name; a name not in the group's tables is a panic */
const struct conf_value *conf_get(const struct conf_group *g,
				  const char *key);
int conf_bool(const struct conf_group *g, const char *key);
long long conf_num(const struct conf_group *g, const char *key);
const char *conf_str(const struct conf_group *g, const char *key);
char *const *conf_list(const struct conf_group *g, const char *key);
const struct reply *conf_reply(const struct conf_group *g, const char *key);
int conf_value_equal(const struct conf_value *a, const struct conf_value *b);
int conf_value_same(const struct conf_key *k, const struct conf_value *a,
		    const struct conf_value *b);

const char *conf_type_name(enum conf_type t);
const char *conf_merge_name(enum conf_merge m);

#endif
