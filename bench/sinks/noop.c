/*
 * noop - a sink that does nothing, for bench/sinkcost
 *
 * Built twice (make -C bench): noop-eom.so has an end-of-message hook
 * alone, noop-all.so (-DNOOP_ALL) every hook of struct sinkd_sink.  Each
 * hook returns SINKD_CONTINUE at once, so that what bench/sinkcost
 * measures is the cost of a sink in sinkd's chain, not the sink's work.
 * Built against include/sinkd/sink.h alone.
 */
#include "sinkd/sink.h"

/* noop_init - no state */
static int
noop_init(const struct sinkd_api *api, struct sinkd_ctx *config, void **state)
{
	(void) api;
	(void) config;
	*state = NULL;
	return 0;
}

/* noop_eom - no objection */
static enum sinkd_verdict
noop_eom(void *state, struct sinkd_ctx *c)
{
	(void) state;
	(void) c;
	return SINKD_CONTINUE;
}

#ifdef NOOP_ALL
/* noop_reload, noop_shutdown - nothing to do */
static void
noop_state(void *state)
{
	(void) state;
}

/* noop_step - connect, helo, mail, data: no objection */
static enum sinkd_verdict
noop_step(void *state, struct sinkd_ctx *c)
{
	(void) state;
	(void) c;
	return SINKD_CONTINUE;
}

/* noop_arg - rcpt, unknown: no objection */
static enum sinkd_verdict
noop_arg(void *state, struct sinkd_ctx *c, const char *arg)
{
	(void) state;
	(void) c;
	(void) arg;
	return SINKD_CONTINUE;
}

/* noop_abort - nothing kept */
static void
noop_abort(void *state, struct sinkd_ctx *c, int closing)
{
	(void) state;
	(void) c;
	(void) closing;
}
#endif

static const struct sinkd_sink noop = {
	.abi_major = SINKD_SINK_ABI_MAJOR,
	.abi_minor = SINKD_SINK_ABI_MINOR,
	.name = "noop",
	.init = noop_init,
	.eom = noop_eom,
#ifdef NOOP_ALL
	.reload = noop_state,
	.shutdown = noop_state,
	.connect = noop_step,
	.helo = noop_step,
	.mail = noop_step,
	.rcpt = noop_arg,
	.data = noop_step,
	.unknown = noop_arg,
	.abort = noop_abort,
#endif
};

/* sinkd_sink_entry - the sink this module is */
const struct sinkd_sink *
sinkd_sink_entry(void)
{
	return &noop;
}
