/*
 * probe - a test sink: every hook, every call, as its keys ask
 *
 * Built against include/sinkd/sink.h alone (make tests).  What it did
 * and what sinkd answered goes to notes (sink.probe.KEY), which sinkd -t
 * prints on its verdict line, so that t/sink.t can check them.
 *
 * Keys (all per domain):
 *	verdicts	"step=verdict" entries (connect, helo, mail, rcpt,
 *			data, eom; continue, accept, reject, tempfail,
 *			discard, quarantine, error, bogus)
 *	reply		"code xcode text" given with a reject or tempfail
 *	refuse-rcpt	recipients refused at RCPT (reject)
 *	add-header	"Name: value", added at end of message
 *	change-header	"Name: value": the first field of the name changed
 *			("Name:" deletes it)
 *	insert-header	"Name: value", inserted first
 *	replace		every attachment's new content (replaced.txt)
 *	append		text appended to every text part
 *	footer		a footer (footer(), ABI 1.2), its text
 *	footer-html	  and its HTML form (empty: the text, escaped)
 *	wrap		the message wrapped (wrap(), ABI 1.3) before the other
 *			edits, this text after it ("-": none); a second
 *			wrap noted as wrap-again
 *	remove		remove every attachment, leaving this note
 *	attach		the content of a file attached as probe.txt
 *	add-rcpt, del-rcpt, sender	envelope edits
 *	sleep		seconds the eom hook sleeps
 *	hostile		yes: calls with CR/LF and bad arguments (and a
 *			footer before end of message)
 *	report		yes: what the calls read, as notes
 *	level, tags, strict	keys of each type and merge rule, for -P
 *
 * After a reload (its reload hook), it notes reloaded=yes.
 */
#define _POSIX_C_SOURCE 200809L	/* nanosleep */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sinkd/sink.h"

static const struct sinkd_api *api;

static const struct sinkd_key keys[] = {
	{"verdicts", SINKD_KEY_LIST, "", "step=verdict entries", SINKD_MERGE_UNION},
	{"reply", SINKD_KEY_STRING, "", "code xcode text of a refusal", SINKD_MERGE_AGREE},
	{"refuse-rcpt", SINKD_KEY_LIST, "", "recipients refused at RCPT", SINKD_MERGE_UNION},
	{"add-header", SINKD_KEY_STRING, "", "Name: value to add", SINKD_MERGE_AGREE},
	{"change-header", SINKD_KEY_STRING, "", "Name: value to change", SINKD_MERGE_AGREE},
	{"insert-header", SINKD_KEY_STRING, "", "Name: value to insert first", SINKD_MERGE_AGREE},
	{"replace", SINKD_KEY_STRING, "", "new content of attachments", SINKD_MERGE_AGREE},
	{"append", SINKD_KEY_STRING, "", "text appended to text parts", SINKD_MERGE_AGREE},
	{"footer", SINKD_KEY_STRING, "", "a footer's text", SINKD_MERGE_AGREE},
	{"footer-html", SINKD_KEY_STRING, "", "a footer's HTML form", SINKD_MERGE_AGREE},
	{"wrap", SINKD_KEY_STRING, "", "the message wrapped, this text after it", SINKD_MERGE_AGREE},
	{"remove", SINKD_KEY_STRING, "", "attachments removed, leaving this note", SINKD_MERGE_AGREE},
	{"attach", SINKD_KEY_PATH, "", "a file attached", SINKD_MERGE_AGREE},
	{"add-rcpt", SINKD_KEY_STRING, "", "a recipient added", SINKD_MERGE_AGREE},
	{"del-rcpt", SINKD_KEY_STRING, "", "a recipient removed", SINKD_MERGE_AGREE},
	{"sender", SINKD_KEY_STRING, "", "a new sender", SINKD_MERGE_AGREE},
	{"sleep", SINKD_KEY_TIME, "0", "seconds the eom hook sleeps", SINKD_MERGE_MIN},
	{"hostile", SINKD_KEY_BOOL, "no", "calls with bad arguments", SINKD_MERGE_ANY},
	{"report", SINKD_KEY_BOOL, "no", "notes of what the calls read", SINKD_MERGE_ANY},
	{"level", SINKD_KEY_INT, "3", "a number", SINKD_MERGE_MIN},
	{"tags", SINKD_KEY_LIST, "a, b", "a list", SINKD_MERGE_COMMON},
	{"strict", SINKD_KEY_BOOL, "no", "a flag", SINKD_MERGE_ALL},
	{"limit", SINKD_KEY_SIZE, "1m", "a size", SINKD_MERGE_MIN},
	{"refusal", SINKD_KEY_REPLY, "550 5.7.1 refused by probe", "a reply", SINKD_MERGE_AGREE},
	{"where", SINKD_KEY_PATH, "probe.d", "a path", SINKD_MERGE_AGREE},
	{NULL},
};

struct state {
	int inits;
	volatile int reloaded;	/* reload ran on this generation */
};

static const char *const step_names[] = {
	"connect", "helo", "mail", "rcpt", "data", "unknown", "eom",
};

/* verdict_for - the verdict the verdicts key gives step */
static enum sinkd_verdict
verdict_for(struct sinkd_ctx *c, const char *step)
{
	static const char *const names[] = {
		"continue", "accept", "reject", "tempfail", "discard",
		"quarantine", "error",
	};
	const char *e;
	size_t n = strlen(step);
	unsigned i, j;

	for (i = 0; (e = api->config_list(c, "verdicts", i)) != NULL; i++) {
		if (strncmp(e, step, n) || e[n] != '=')
			continue;
		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			if (!strcmp(e + n + 1, names[j]))
				return (enum sinkd_verdict) j;
		return (enum sinkd_verdict) 99;	/* "bogus": no verdict */
	}
	return SINKD_CONTINUE;
}

/* decide - the verdict for step, with the configured reply */
static enum sinkd_verdict
decide(struct sinkd_ctx *c, const char *step)
{
	enum sinkd_verdict v = verdict_for(c, step);
	const char *r = api->config(c, "reply");
	char code[4], xcode[16];

	if ((v == SINKD_REJECT || v == SINKD_TEMPFAIL) && r && *r
	    && sscanf(r, "%3s %15s", code, xcode) == 2 && strlen(r) > 4 + strlen(xcode))
		api->reply(c, code, xcode, r + 4 + strlen(xcode) + 1);
	return v;
}

/* probe_init - keep the API table; level = -1 fails */
static int
probe_init(const struct sinkd_api *a, struct sinkd_ctx *config, void **state)
{
	struct state *s = calloc(1, sizeof(*s));
	const char *lvl;

	api = a;
	if (s == NULL)
		return -1;
	lvl = a->config(config, "level");
	if (lvl && !strcmp(lvl, "-1")) {
		a->log(config, SINKD_LOG_ERROR, "level: -1: refusing to start");
		free(s);
		return -1;
	}
	s->inits++;
	*state = s;
	return 0;
}

/* probe_reload - remember that a reload ran */
static void
probe_reload(void *state)
{
	((struct state *) state)->reloaded = 1;
}

/* probe_shutdown - free the state */
static void
probe_shutdown(void *state)
{
	free(state);
}

/* probe_connect - the verdict for connect */
static enum sinkd_verdict
probe_connect(void *state, struct sinkd_ctx *c)
{
	(void) state;
	return decide(c, step_names[0]);
}

/* probe_helo - the verdict for helo */
static enum sinkd_verdict
probe_helo(void *state, struct sinkd_ctx *c)
{
	(void) state;
	return decide(c, step_names[1]);
}

/* probe_mail - keep the sender in the store; the verdict for mail */
static enum sinkd_verdict
probe_mail(void *state, struct sinkd_ctx *c)
{
	(void) state;
	api->kv_set(c, "probe.mail", api->get(c, "sender"));
	return decide(c, step_names[2]);
}

/* probe_rcpt - refuse-rcpt's recipients; else the verdict for rcpt */
static enum sinkd_verdict
probe_rcpt(void *state, struct sinkd_ctx *c, const char *addr)
{
	const char *e;
	unsigned i;

	(void) state;
	for (i = 0; (e = api->config_list(c, "refuse-rcpt", i)) != NULL; i++)
		if (!strcmp(e, addr)) {
			api->reply(c, "550", "5.1.1", "probe refuses this recipient");
			return SINKD_REJECT;
		}
	return decide(c, step_names[3]);
}

/* footer - api->footer() where this sinkd has it (sink ABI 1.2); else -1 */
static int
footer(struct sinkd_ctx *c, const char *text, const char *html)
{
	if (api->size < offsetof(struct sinkd_api, footer) + sizeof(api->footer))
		return -1;
	return api->footer(c, text, html);
}

/* probe_data - under hostile, a footer too early; the verdict for data */
static enum sinkd_verdict
probe_data(void *state, struct sinkd_ctx *c)
{
	const char *v = api->config(c, "hostile");
	char buf[32];

	(void) state;
	if (v && !strcmp(v, "yes")) {
		snprintf(buf, sizeof(buf), "%d", footer(c, "too early for a footer", NULL));
		api->note(c, "footer-data", buf);
	}
	return decide(c, step_names[4]);
}

/* split - "Name: value" into name (a buffer of n) and the value */
static const char *
split(const char *spec, char *name, size_t n)
{
	const char *colon = strchr(spec, ':');
	size_t len;

	if (colon == NULL || (len = (size_t) (colon - spec)) >= n)
		return NULL;
	memcpy(name, spec, len);
	name[len] = 0;
	colon++;
	while (*colon == ' ')
		colon++;
	return colon;
}

/* hostile - calls sinkd must refuse; each result noted */
static void
hostile(struct sinkd_ctx *c)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%d", api->reply(c, "550", "5.7.1", "two\r\nlines"));
	api->note(c, "reply-crlf", buf);
	snprintf(buf, sizeof(buf), "%d", api->reply(c, "550", "4.7.1", "class"));
	api->note(c, "reply-class", buf);
	snprintf(buf, sizeof(buf), "%d", api->header_add(c, "X-Evil", "a\nInjected: yes"));
	api->note(c, "header-lf", buf);
	snprintf(buf, sizeof(buf), "%d", api->header_add(c, "X-Evil", "a\rb"));
	api->note(c, "header-cr", buf);
	snprintf(buf, sizeof(buf), "%d", api->header_add(c, "X:Evil", "a"));
	api->note(c, "header-name", buf);
	snprintf(buf, sizeof(buf), "%d", api->header_add(c, "X-Folded", "a\r\n b"));
	api->note(c, "header-fold", buf);
	snprintf(buf, sizeof(buf), "%d", api->rcpt_add(c, "evil@x\r\nRCPT TO:<y@z>"));
	api->note(c, "rcpt-crlf", buf);
	snprintf(buf, sizeof(buf), "%d", api->part_info(c, 100000, &(struct sinkd_part_info){0}));
	api->note(c, "part-range", buf);
	snprintf(buf, sizeof(buf), "%d", api->note(c, "bad key", "x"));
	api->note(c, "note-key", buf);
	snprintf(buf, sizeof(buf), "%d", footer(c, "bad \xff UTF-8 in a footer", NULL));
	api->note(c, "footer-utf8", buf);
	snprintf(buf, sizeof(buf), "%d", footer(c, "a footer", "bad \xfe UTF-8 in its HTML"));
	api->note(c, "footer-html-utf8", buf);
	snprintf(buf, sizeof(buf), "%d", footer(c, NULL, NULL));
	api->note(c, "footer-null", buf);
}

/* report - what the reading calls say, as notes */
static void
report(struct sinkd_ctx *c)
{
	struct sinkd_part_info pi;
	char buf[512], types[400] = "";
	const char *name, *raw, *dec, *data, *v;
	size_t len, n;
	unsigned i;

	api->note(c, "sender", (v = api->get(c, "sender")) ? v : "-");
	api->note(c, "direction", (v = api->get(c, "direction")) ? v : "-");
	api->note(c, "policy", (v = api->get(c, "policy")) ? v : "-");
	api->note(c, "client", (v = api->get(c, "client.addr")) ? v : "-");
	api->note(c, "helo", (v = api->get(c, "helo")) ? v : "-");
	api->note(c, "queue", (v = api->get(c, "queue-id")) ? v : "-");
	api->note(c, "nrcpt", (v = api->get(c, "rcpt-count")) ? v : "-");
	api->note(c, "rcpt0", (v = api->rcpt(c, 0)) ? v : "-");
	api->note(c, "kv", (v = api->kv_get(c, "probe.mail")) ? v : "-");
	api->note(c, "level", (v = api->config(c, "level")) ? v : "-");
	api->note(c, "tag1", (v = api->config_list(c, "tags", 1)) ? v : "-");
	api->note(c, "unknown-key", api->config(c, "no-such-key") ? "found" : "null");
	api->note(c, "earlier", (v = api->get(c, "sink.first.mark")) ? v : "-");
	api->note(c, "subject", (v = api->header_get(c, "Subject", 1)) ? v : "-");
	if (api->header(c, 0, &name, &raw, &dec) == 0) {
		snprintf(buf, sizeof(buf), "%s=%s", name, raw);
		api->note(c, "header0", buf);
	}
	for (i = 0; api->part_info(c, i, &pi) == 0; i++) {
		n = strlen(types);
		snprintf(types + n, sizeof(types) - n, "%s%u:%s:%u:%x%s%s", i ? "," : "",
			 pi.index, pi.type, pi.parent, pi.flags,
			 pi.filename ? ":" : "", pi.filename ? pi.filename : "");
	}
	api->note(c, "parts", types);
	for (i = 0; api->part_info(c, i, &pi) == 0; i++)
		if ((pi.flags & SINKD_PART_TEXT) && !(pi.flags & SINKD_PART_ATTACHMENT)
		    && api->part_content(c, i, 1, 40, &data, &len) == 0) {
			snprintf(buf, sizeof(buf), "%.*s", (int) len, data);
			for (n = 0; buf[n]; n++)
				if (buf[n] == '\n' || buf[n] == '\r')
					buf[n] = '|';
			api->note(c, "text", buf);
			break;
		}
	if (api->raw(c, &data, &len) == 0) {
		snprintf(buf, sizeof(buf), "%zu", len);
		api->note(c, "raw", buf);
	}
	api->note(c, "mailparam", (v = api->mail_param(c, 0)) ? v : "-");
	api->note(c, "dry-run", (v = api->get(c, "dry-run")) ? v : "-");
	api->note(c, "macro-i", (v = api->get(c, "macro.i")) ? v : "-");
	api->note(c, "no-fact", api->get(c, "no.such.fact") ? "found" : "null");
	api->note(c, "header-past", api->header(c, 1000, &name, &raw, &dec) < 0 ? "-1" : "0");
	api->kv_set(c, "probe.eom", "yes");
	api->note(c, "kv-eom", (v = api->kv_get(c, "probe.eom")) ? v : "-");
}

/* edits - the edits the keys ask for, each result noted */
static void
edits(struct sinkd_ctx *c)
{
	struct sinkd_part_info pi;
	const char *v, *val;
	char name[128], buf[32];
	unsigned i;
	int rc;

	if ((v = api->config(c, "wrap")) && *v) {
		if (api->size < offsetof(struct sinkd_api, wrap) + sizeof(api->wrap))
			rc = -1;
		else
			rc = api->wrap(c, strcmp(v, "-") ? v : NULL);
		snprintf(buf, sizeof(buf), "%d", rc);
		api->note(c, "wrap", buf);
		snprintf(buf, sizeof(buf), "%d", rc < 0 ? -1 : api->wrap(c, NULL));
		api->note(c, "wrap-again", buf);
	}
	if ((v = api->config(c, "add-header")) && *v && (val = split(v, name, sizeof(name)))) {
		snprintf(buf, sizeof(buf), "%d", api->header_add(c, name, val));
		api->note(c, "add-header", buf);
	}
	if ((v = api->config(c, "change-header")) && *v && (val = split(v, name, sizeof(name)))) {
		snprintf(buf, sizeof(buf), "%d", api->header_change(c, name, 1, *val ? val : NULL));
		api->note(c, "change-header", buf);
	}
	if ((v = api->config(c, "insert-header")) && *v && (val = split(v, name, sizeof(name)))) {
		snprintf(buf, sizeof(buf), "%d", api->header_insert(c, 0, name, val));
		api->note(c, "insert-header", buf);
	}
	if ((v = api->config(c, "replace")) && *v) {
		for (i = 0; api->part_info(c, i, &pi) == 0; i++)
			if (pi.flags & SINKD_PART_ATTACHMENT) {
				rc = api->part_replace(c, i, "text/plain; charset=utf-8",
						       "replaced.txt", v, strlen(v));
				snprintf(buf, sizeof(buf), "%d", rc);
				api->note(c, "replace", buf);
			}
	}
	if ((v = api->config(c, "append")) && *v) {
		for (i = 0; api->part_info(c, i, &pi) == 0; i++)
			if ((pi.flags & SINKD_PART_TEXT) && !(pi.flags & SINKD_PART_ATTACHMENT)) {
				snprintf(buf, sizeof(buf), "%d", api->text_append(c, i, v));
				api->note(c, "append", buf);
			}
	}
	if ((v = api->config(c, "footer")) && *v) {
		val = api->config(c, "footer-html");
		snprintf(buf, sizeof(buf), "%d", footer(c, v, val && *val ? val : NULL));
		api->note(c, "footer", buf);
	}
	if ((v = api->config(c, "remove")) && *v) {
		for (i = 0; api->part_info(c, i, &pi) == 0; i++)
			if (pi.flags & SINKD_PART_ATTACHMENT) {
				snprintf(buf, sizeof(buf), "%d", api->part_remove(c, i, v));
				api->note(c, "remove", buf);
			}
	}
	if ((v = api->config(c, "attach")) && *v) {
		FILE *fp = fopen(v, "rb");
		char data[4096];
		size_t n = fp ? fread(data, 1, sizeof(data), fp) : 0;

		if (fp)
			fclose(fp);
		rc = api->part_add(c, "text/plain; charset=utf-8", "probe.txt", data, n);
		snprintf(buf, sizeof(buf), "%d", rc);
		api->note(c, "attach", buf);
	}
	if ((v = api->config(c, "add-rcpt")) && *v)
		api->rcpt_add(c, v);
	if ((v = api->config(c, "del-rcpt")) && *v)
		api->rcpt_delete(c, v);
	if ((v = api->config(c, "sender")) && *v)
		api->sender_change(c, v);
}

/* probe_eom - sleep, report, hostile calls, edits; the verdict for eom */
static enum sinkd_verdict
probe_eom(void *state, struct sinkd_ctx *c)
{
	const char *v = api->config(c, "sleep");
	long secs = v ? atol(v) : 0;

	if (((struct state *) state)->reloaded)
		api->note(c, "reloaded", "yes");
	if (secs > 0) {
		struct timespec ts = {secs, 0};

		while (nanosleep(&ts, &ts) != 0)
			;
	}
	if ((v = api->config(c, "report")) && !strcmp(v, "yes"))
		report(c);
	if ((v = api->config(c, "hostile")) && !strcmp(v, "yes"))
		hostile(c);
	edits(c);
	api->log(c, SINKD_LOG_INFO, "end of message\nseen");
	return decide(c, step_names[6]);
}

/* probe_abort - nothing kept per message */
static void
probe_abort(void *state, struct sinkd_ctx *c, int closing)
{
	(void) state;
	(void) c;
	(void) closing;
}

static const struct sinkd_sink probe = {
	.abi_major = SINKD_SINK_ABI_MAJOR,
	.abi_minor = SINKD_SINK_ABI_MINOR,
	.name = "probe",
	.keys = keys,
	.init = probe_init,
	.reload = probe_reload,
	.shutdown = probe_shutdown,
	.connect = probe_connect,
	.helo = probe_helo,
	.mail = probe_mail,
	.rcpt = probe_rcpt,
	.data = probe_data,
	.eom = probe_eom,
	.abort = probe_abort,
};

/* sinkd_sink_entry - the sink this module is */
const struct sinkd_sink *
sinkd_sink_entry(void)
{
	return &probe;
}
