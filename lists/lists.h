/*
 * lists - what the list sink and sinkd-list share: the list addresses,
 *	the texts sent to people (templates), and the outbox's sender
 *
 * The addresses of a list LIST@DOMAIN (sinkd-list(8)):
 *	LIST@DOMAIN			posts
 *	LIST-request@DOMAIN		commands in the subject or body
 *	LIST-owner@DOMAIN		the owners
 *	LIST-bounces@DOMAIN		delivery status notifications
 *	LIST+subscribe@ +unsubscribe@ +help@ +info@	one command each
 *	LIST+confirm-TOKEN@ +approve-TOKEN@ +reject-TOKEN@	token replies
 */
#ifndef SINKD_LISTS_H
#define SINKD_LISTS_H

#include <glib.h>
#include <gmime/gmime.h>

#include "store.h"

#define LS_DEFAULT_STORE "sqlite:/var/lib/sinkd/lists.db"
#define LS_DEFAULT_SUBMIT "127.0.0.1:25"
/* the field an approved post comes back with */
#define LM_APPROVED_FIELD "X-Sinkd-List-Approved"

enum la_kind {
	LA_NONE,		/* not a list's address */
	LA_POST,
	LA_REQUEST,
	LA_OWNER,
	LA_BOUNCES,
	LA_SUBSCRIBE,
	LA_UNSUBSCRIBE,
	LA_HELP,
	LA_INFO,
	LA_CONFIRM,
	LA_APPROVE,
	LA_REJECT,
};

/* la_parse - what addr (normalized) would be of the list it names: the
 * kind, *list (g_free()d: the list's address) and *token for the token
 * kinds; LA_NONE when its form names no list.  Whether the list exists
 * is the store's to say. */
enum la_kind la_parse(const char *addr, char **list, char **token);
const char *la_name(enum la_kind k);

/* la_with - LIST@DOMAIN with "-what" or "+what" after the local part */
char *la_with(const char *list, const char *sep, const char *what);

/* la_list_id - RFC 2919 list-id of a list address: LIST.DOMAIN */
char *la_list_id(const char *list);

/*
 * Texts: each template is a file NAME.txt of dir (or the built-in one):
 * a Subject: line, an empty line, the body; ${variables} as vars gives
 * them (name, value pairs, NULL-ended).  lt_message() makes the whole
 * message (From the list's -request address, Auto-Submitted, CRLF line
 * ends) for the outbox; NULL with *why when the template is bad.
 */
extern const char *const lt_names[];
extern const char *const lt_var_names[];
int lt_check(const char *dir, char **why);
GBytes *lt_message(const char *dir, const char *name, const char *list, const char *to,
		   const char *const *vars, char **why);

/* lt_queue - lt_message() into the outbox, sent from LIST-bounces@ */
int lt_queue(struct lstore *s, const char *dir, const char *name, const char *list,
	     const char *to, const char *const *vars, char **why);

/* lt_vars - the variables every text has, of list l, for address;
 * lt_var one more; lt_send lt_queue() of name with them */
void lt_vars(GPtrArray *v, const struct ls_list *l, const char *address);
void lt_var(GPtrArray *v, const char *name, const char *value);
int lt_send(struct lstore *s, const char *dir, const struct ls_list *l, const char *name,
	    const char *to, GPtrArray *v, char **why);

/* lm_subject - a message's subject, or "(no subject)" */
char *lm_subject(GMimeMessage *m);

/*
 * lm_decide - a moderator's word on the post held under token: approved,
 * it goes to the outbox, addressed to the list, with the token in
 * LM_APPROVED_FIELD, and the token waits for it (action "release", a
 * day); refused, the token goes and the poster is told.  1 done, 0 no
 * such held post, -1 (*why) the store failed.
 */
int lm_decide(struct lstore *s, const char *dir, const char *list, const char *token,
	      int approve, char **why);

/*
 * lo_flush - send what the outbox holds to relay (host:port, over SMTP),
 * at most max messages; the number sent, or -1 when one could not be
 * sent now (*why; it stays for the next try).  A message the relay
 * refuses for good (5xx) is dropped and logged through log.
 */
int lo_flush(struct lstore *s, const char *relay, unsigned max,
	     void (*log)(void *arg, const char *line), void *arg, char **why);

#endif
