/*
 * badkeys - a test sink declaring keys sinkd must refuse: a name sinkd
 * gives every sink, a name that is no key name, a merge rule that does
 * not fit its type, a default that is not of its type
 */
#include "sinkd/sink.h"

static const struct sinkd_key keys[] = {
	{"timeout", SINKD_KEY_TIME, "1s", "clashes with sinkd's", SINKD_MERGE_MIN},
	{"Bad_Name", SINKD_KEY_STRING, "", "not a key name", SINKD_MERGE_AGREE},
	{"count", SINKD_KEY_INT, "1", "union of numbers", SINKD_MERGE_UNION},
	{"size", SINKD_KEY_SIZE, "big", "a size that is none", SINKD_MERGE_MIN},
	{NULL},
};

static const struct sinkd_sink badkeys = {
	.abi_major = SINKD_SINK_ABI_MAJOR,
	.abi_minor = SINKD_SINK_ABI_MINOR,
	.name = "badkeys",
	.keys = keys,
};

/* sinkd_sink_entry - the sink this module is */
const struct sinkd_sink *
sinkd_sink_entry(void)
{
	return &badkeys;
}
