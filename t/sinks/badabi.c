/*
 * badabi - a test sink built for a sink ABI this sinkd does not have
 */
#include "sinkd/sink.h"

static const struct sinkd_sink badabi = {
	.abi_major = SINKD_SINK_ABI_MAJOR + 1,
	.abi_minor = 0,
	.name = "badabi",
};

/* sinkd_sink_entry - the sink this module is */
const struct sinkd_sink *
sinkd_sink_entry(void)
{
	return &badabi;
}
