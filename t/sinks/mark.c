/*
 * mark - a test sink with an end-of-message hook only: it notes
 * mark=set for the handlers after it, and adds no step to negotiate
 */
#include "sinkd/sink.h"

static const struct sinkd_api *api;

/* mark_init - keep the API table */
static int
mark_init(const struct sinkd_api *a, struct sinkd_ctx *config, void **state)
{
	(void) config;
	api = a;
	*state = NULL;
	return 0;
}

/* mark_eom - note mark=set */
static enum sinkd_verdict
mark_eom(void *state, struct sinkd_ctx *c)
{
	(void) state;
	return api->note(c, "mark", "set") == 0 ? SINKD_CONTINUE : SINKD_ERROR;
}

static const struct sinkd_sink mark = {
	.abi_major = SINKD_SINK_ABI_MAJOR,
	.abi_minor = SINKD_SINK_ABI_MINOR,
	.name = "mark",
	.init = mark_init,
	.eom = mark_eom,
};

/* sinkd_sink_entry - the sink this module is */
const struct sinkd_sink *
sinkd_sink_entry(void)
{
	return &mark;
}
