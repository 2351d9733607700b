/*
 * registry - NULL-terminated list of every handler, in no particular order
 * (the chain's order comes from sinkd.conf)
 */
#include "registry.h"

const struct handler *const sinkd_handlers[] = {
	&protocol_handler,
	&disclaimer_handler,
	&clamav_handler,
	&rewrite_handler,
	&dkim_handler,
	NULL,
};
