/*
 * store - the mailing lists' store: lists, members, tokens, held posts,
 *	the outbox, and the events already acted on; in SQLite or PostgreSQL
 *
 * One store is named by a string: "sqlite:/var/lib/sinkd/lists.db" (or a
 * bare path) or a PostgreSQL connection string ("postgresql://..." or
 * "host=... dbname=..."), which several sinkd on several hosts may share.
 * The tables are made on first use.  Every call is one transaction and
 * takes the store's lock: a store may be shared by threads.  Calls that
 * can fail return -1 with *why (g_free()d by the caller); a failure of
 * the database itself is temporary (the caller tempfails or retries).
 *
 * Addresses are kept lower-cased (ls_addr_norm()); lists are named by
 * their posting address.
 */
#ifndef SINKD_LIST_STORE_H
#define SINKD_LIST_STORE_H

#include <stddef.h>
#include <glib.h>

struct lstore;

/* roles of a member (bits) */
#define LS_MEMBER	(1u << 0)	/* gets the posts */
#define LS_MODERATOR	(1u << 1)	/* approves held posts */
#define LS_OWNER	(1u << 2)	/* gets LIST-owner@ mail */

/* a list's settings; strings g_free()d by ls_list_clear() */
struct ls_list {
	char *address;		/* name@domain */
	char *policy;		/* open, members, moderated */
	char *prefix;		/* subject prefix, "" none */
	char *description;
	char *dmarc;		/* munge, wrap, none */
	char *footer;		/* "" none */
	long bounce_score;	/* failures that disable a member */
	long created;
};

/* a member's row */
struct ls_member {
	char *address;
	unsigned roles;		/* LS_* */
	long disabled;		/* 0, or when delivery was disabled */
	long score;		/* bounces counted */
	long bounce_day;	/* the day of the last one counted */
};

/* a token's row */
struct ls_token {
	char *token, *list, *action, *address;
	long expires;
	GBytes *data;		/* a held post, or NULL */
};

/* an outbox row */
struct ls_out {
	long id;
	char *sender;		/* "" for <> */
	char **rcpts;
	GBytes *data;		/* the message, CRLF line ends */
};

/* the list settings ls_list_set() knows, with what each accepts */
extern const char *const ls_settings[];

struct lstore *ls_open(const char *where, char **why);
void ls_close(struct lstore *s);
const char *ls_where(const struct lstore *s);

/* ls_addr_norm - addr lower-cased, or NULL when it is not local@domain
 * (no white space or control character, at most 254 bytes) */
char *ls_addr_norm(const char *addr);

/* lists */
int ls_list_get(struct lstore *s, const char *list, struct ls_list *l, char **why);
void ls_list_clear(struct ls_list *l);
int ls_list_create(struct lstore *s, const char *list, char **why);
int ls_list_delete(struct lstore *s, const char *list, char **why);
int ls_list_set(struct lstore *s, const char *list, const char *key, const char *value,
		char **why);
int ls_lists(struct lstore *s, GPtrArray **names, char **why);

/* members: ls_member_get 1 found, 0 not; ls_member_add the NULL-ended
 * addrs, in one transaction; ls_members the addresses with any of roles
 * (and, active, not disabled) */
int ls_member_get(struct lstore *s, const char *list, const char *addr,
		  struct ls_member *m, char **why);
void ls_member_clear(struct ls_member *m);
int ls_member_add(struct lstore *s, const char *list, char *const *addrs, unsigned roles,
		  char **why);
int ls_member_remove(struct lstore *s, const char *list, const char *addr, char **why);
int ls_member_enable(struct lstore *s, const char *list, const char *addr, char **why);
int ls_members(struct lstore *s, const char *list, unsigned roles, int active,
	       GPtrArray **addrs, char **why);
int ls_member_rows(struct lstore *s, const char *list, GPtrArray **rows, char **why);
/* ls_bounce - count a failure of addr on day (one a day at most); 1 when
 * its count is at the list's bounce score and its delivery was suspended
 * now, 0 otherwise */
int ls_bounce(struct lstore *s, const char *list, const char *addr, long day, char **why);

/* tokens: 128 random bits, hex; data may be NULL */
char *ls_token_new(struct lstore *s, const char *list, const char *action,
		   const char *addr, long expires, const void *data, size_t len, char **why);
/* ls_token_get 1 found (and not expired at now), 0 not; ls_token_take
 * likewise, and the token is gone */
int ls_token_get(struct lstore *s, const char *token, long now, struct ls_token *t,
		 char **why);
int ls_token_take(struct lstore *s, const char *token, long now, struct ls_token *t,
		  char **why);
void ls_token_clear(struct ls_token *t);
int ls_token_rekey(struct lstore *s, const char *token, const char *action, long expires,
		   int keep_data, char **why);
int ls_tokens(struct lstore *s, const char *list, const char *action, long now,
	      GPtrArray **rows, char **why);
/* ls_expire - remove what expired before now; how many tokens went */
int ls_expire(struct lstore *s, long now, char **why);

/* the outbox: messages to send; a claimed row is leased until now+lease */
int ls_out_add(struct lstore *s, const char *sender, char *const *rcpts,
	       const void *data, size_t len, char **why);
int ls_out_claim(struct lstore *s, long now, long lease, struct ls_out *o, char **why);
int ls_out_done(struct lstore *s, long id, char **why);
void ls_out_clear(struct ls_out *o);

/* events acted on: ls_seen 1 when key was recorded, 0 not; ls_seen_mark
 * records it (once acted on: a crash in between acts again, never
 * loses the event) */
int ls_seen(struct lstore *s, const char *key, char **why);
int ls_seen_mark(struct lstore *s, const char *key, long now, char **why);

#endif
