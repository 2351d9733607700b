/*
 * dkim - the dkim handler: DKIM verification of the message as received
 * (src/dkim.h has the results and dkim_may_change())
 */
#ifndef SINKD_MILTERS_DKIM_H
#define SINKD_MILTERS_DKIM_H

#include "../src/dkim.h"
#include "../src/handler.h"

extern const struct handler dkim_handler;

int dkim_verify_msg(struct msg *m, GHashTable *keys, gint64 timeout,
		    unsigned max, struct dkim_state *st);

#endif
