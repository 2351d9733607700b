/*
 * abi10 - a test sink as a module built for sink ABI 1.0 is: its struct
 * sinkd_sink ends at abort (1.1 appended accepted and accepted_flags), so
 * sinkd must read nothing past it; its end-of-message hook notes
 * old=seen
 */
#include "sinkd/sink.h"

/* struct sinkd_sink as ABI 1.0 laid it out */
struct sinkd_sink_1_0 {
	unsigned abi_major, abi_minor;
	const char *name;
	const struct sinkd_key *keys;
	int (*init)(const struct sinkd_api *, struct sinkd_ctx *, void **);
	void (*reload)(void *);
	void (*shutdown)(void *);
	enum sinkd_verdict (*connect)(void *, struct sinkd_ctx *);
	enum sinkd_verdict (*helo)(void *, struct sinkd_ctx *);
	enum sinkd_verdict (*mail)(void *, struct sinkd_ctx *);
	enum sinkd_verdict (*rcpt)(void *, struct sinkd_ctx *, const char *);
	enum sinkd_verdict (*data)(void *, struct sinkd_ctx *);
	enum sinkd_verdict (*unknown)(void *, struct sinkd_ctx *, const char *);
	enum sinkd_verdict (*eom)(void *, struct sinkd_ctx *);
	void (*abort)(void *, struct sinkd_ctx *, int);
};

static const struct sinkd_api *api;

/* old_init - keep the API table */
static int
old_init(const struct sinkd_api *a, struct sinkd_ctx *config, void **state)
{
	(void) config;
	api = a;
	*state = 0;
	return 0;
}

/* old_eom - note old=seen */
static enum sinkd_verdict
old_eom(void *state, struct sinkd_ctx *c)
{
	(void) state;
	return api->note(c, "old", "seen") == 0 ? SINKD_CONTINUE : SINKD_ERROR;
}

static const struct sinkd_sink_1_0 old = {
	.abi_major = 1,
	.abi_minor = 0,
	.name = "abi10",
	.init = old_init,
	.eom = old_eom,
};

/* sinkd_sink_entry - the sink this module is */
const struct sinkd_sink *
sinkd_sink_entry(void)
{
	return (const struct sinkd_sink *) (const void *) &old;
}
