/*
 * registry - the handlers sinkd is built with
 *
 * sinkd_handlers is the one list; main.c hands it to the core.  Adding a
 * handler is one file in milters/ and one line in registry.c.
 */
#ifndef SINKD_REGISTRY_H
#define SINKD_REGISTRY_H

#include "../src/handler.h"

extern const struct handler protocol_handler;
extern const struct handler disclaimer_handler;
extern const struct handler clamav_handler;
extern const struct handler rewrite_handler;
extern const struct handler dkim_handler;

extern const struct handler *const sinkd_handlers[];

struct msg;
/* disclaimer_footer - a sink's footer, placed as the disclaimer's text
 * (milters/disclaimer.c); 0, or -1 when it may not go on */
int disclaimer_footer(struct msg *m, const char *by, const char *text, const char *html);

#endif
