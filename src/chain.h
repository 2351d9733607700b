/*
 * chain - run the configured handlers at each SMTP stage
 *
 * Each chain_* function runs the hook of every handler in chain order,
 * with the handler's config for the policy that applies at that stage,
 * and stops at the first final verdict (anything but continue), which it
 * returns; the reply is then in conn->reply and conn->decided_by names the
 * handler.  A handler's VERDICT_ERROR becomes its on-error action here,
 * in one place.  Both the milter glue and sinkd -t drive these same
 * functions, so the offline mode runs exactly the code the MTA sees.
 */
#ifndef SINKD_CHAIN_H
#define SINKD_CHAIN_H

#include "handler.h"

enum verdict chain_connect(struct conn *c);
enum verdict chain_helo(struct conn *c);
enum verdict chain_unknown(struct conn *c, const char *cmd);
enum verdict chain_envfrom(struct msg *m);
enum verdict chain_envrcpt(struct msg *m, struct rcpt *r);
enum verdict chain_data(struct msg *m);
enum verdict chain_eom(struct msg *m);
void chain_done(struct msg *m, enum verdict v);
void chain_log_message(struct msg *m, enum verdict v);
char *chain_timing(const struct msg *m);

#endif
