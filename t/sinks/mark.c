/*
 * mark - a test sink with an end-of-message hook only: it notes
 * mark=set for the handlers after it, and adds no step to negotiate
 */
#include "sinkd/sink.h"

static const struct sinkd_api *api;

static int
mark_init(const struct sinkd_api *a, struct sinkd_ctx *config, void **state)
{
	(void) config;
	api = a;
	*state = NULL;
	return 0;
}

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

const struct sinkd_sink *
sinkd_sink_entry(void)
{
	return &mark;
}
