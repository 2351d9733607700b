/*
 * chain_test - verdicts through the chain: first final verdict wins, a
 *	handler's failure becomes its on-error action, accept skips the rest,
 *	a release lets the message through with no handler's edits; the
 *	after_eom stage runs only for a message to be accepted, sees every
 *	edit, and its failure is on-error too
 *
 * Two test handlers, alpha and beta, each do what their "mode" key says
 * at every stage and count their calls.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "../../src/chain.h"
#include "../../src/final.h"
#include "../../src/policy.h"
#include "tap.h"
#include "testconf.h"

static const char *const modes[] = {"continue", "reject", "tempfail", "error",
				    "accept", "discard", "release", NULL};

static const char *const after_modes[] = {"continue", "error", NULL};

static const struct conf_key test_keys[] = {
	{"mode", CONF_ENUM, "continue", .values = modes, .merge = MERGE_ENUM,
	 .doc = "what to answer"},
	{"after", CONF_ENUM, "continue", .values = after_modes, .merge = MERGE_ENUM,
	 .doc = "what to answer at after_eom"},
	{NULL},
};

struct tcfg {
	int mode;
	int after;
	int *calls;
};

static int alpha_calls, beta_calls;
static int after_calls;		/* after_eom hooks run, either handler */
static int after_saw;		/* ... that saw X-Test in final_headers() */
static int after_top;		/* ... that saw X-After on top */

static void *
load_alpha(const struct conf_group *g, struct conf_errors *e)
{
	struct tcfg *c = g_new0(struct tcfg, 1);

	(void) e;
	c->mode = (int) conf_num(g, "mode");
	c->after = (int) conf_num(g, "after");
	c->calls = &alpha_calls;
	return c;
}

static void *
load_beta(const struct conf_group *g, struct conf_errors *e)
{
	struct tcfg *c = load_alpha(g, e);

	c->calls = &beta_calls;
	return c;
}

static enum verdict
answer(struct conn *conn, const struct tcfg *c)
{
	static const struct reply rej = {"554", "5.7.0", "refused by test"};
	static const struct reply tmp = {"450", "4.7.0", "later, says test"};

	(*c->calls)++;
	switch (c->mode) {
	case 1: return handler_refuse(conn, &rej);
	case 2: return handler_refuse(conn, &tmp);
	case 3: return VERDICT_ERROR;
	case 4: return VERDICT_ACCEPT;
	case 5: return VERDICT_DISCARD;
	default: return VERDICT_CONTINUE;
	}
}

static enum verdict
t_envfrom(struct msg *m, const void *cfg)
{
	edits_add_header(&m->edits, "test", "X-Early", "1");
	return answer(m->conn, cfg);
}

/* t_release - mode release: the message is let through as it is, with
 * this handler's one edit */
static int
t_release(struct msg *m, struct edits *e, const void *cfg)
{
	const struct tcfg *c = cfg;

	(void) m;
	if (c->mode != 6)
		return 0;
	edits_add_header(e, "test", "X-Released", "1");
	return 1;
}

static enum verdict
t_eom(struct msg *m, struct edits *e, const void *cfg)
{
	edits_add_header(e, "test", "X-Test", "1");
	return answer(m->conn, cfg);
}

/* t_after - the message as it will leave: note whether an eom edit is
 * in it, add a field at the top */
static enum verdict
t_after(struct msg *m, struct edits *e, const void *cfg)
{
	const struct tcfg *c = cfg;
	GPtrArray *h = final_headers(m);
	guint i;

	after_calls++;
	for (i = 0; i < h->len; i++)
		if (!strcmp(g_ptr_array_index(h, i), "X-Test: 1"))
			break;
	after_saw += i < h->len;
	/* the second hook finds the first one's field on top */
	after_top += h->len > 0 && !strcmp(g_ptr_array_index(h, 0), "X-After: 1");
	g_ptr_array_free(h, TRUE);
	edits_insert_header(e, "test", 0, "X-After", "1");
	return c->after == 1 ? VERDICT_ERROR : VERDICT_CONTINUE;
}

static const struct handler alpha = {
	.name = "alpha", .keys = test_keys, .load = load_alpha, .unload = g_free,
	.envfrom = t_envfrom, .eom = t_eom, .release = t_release, .after_eom = t_after,
};
static const struct handler beta = {
	.name = "beta", .keys = test_keys, .load = load_beta, .unload = g_free,
	.envfrom = t_envfrom, .eom = t_eom, .release = t_release, .after_eom = t_after,
};
static const struct handler *const registry[] = {&alpha, &beta, NULL};

/* run_case - load a config with these groups, run MAIL FROM then
 * end of message; return the end verdict (or the MAIL one if final) */
static enum verdict
run_case(const char *dir, const char *groups, struct conn **cp, enum verdict *mailv)
{
	char *text = g_strdup_printf("[sinkd]\nchain = alpha, beta\nspool-dir = %s\n%s", dir, groups);
	char *path = g_build_filename(dir, "sinkd.conf", NULL);
	struct conf_errors e;
	struct snapshot *s;
	struct conn *c;
	struct msg *m;
	enum verdict v;

	tc_write(dir, "sinkd.conf", text);
	tc_write(dir, "domains/default.conf", "");
	conf_errors_init(&e);
	s = snapshot_load(path, registry, &e);
	g_free(text);
	g_free(path);
	if (s == NULL) {
		printf("# config error: %s\n", (char *) g_ptr_array_index(e.msgs, 0));
		conf_errors_free(&e);
		return VERDICT_ERROR;
	}
	conf_errors_free(&e);
	alpha_calls = beta_calls = after_calls = after_saw = after_top = 0;
	c = conn_new(s);
	snapshot_unref(s);
	conn_set_client(c, "192.0.2.1", "client");
	m = msg_new(c, "a@b.example", NULL);
	*mailv = v = chain_envfrom(m);
	if (v == VERDICT_CONTINUE) {
		msg_rcpt_keep(m, msg_rcpt_new(m, "x@y.example"));
		v = chain_eom(m);
	}
	*cp = c;
	return v;
}

int
main(void)
{
	char *dir = g_dir_make_tmp("sinkd-chain-XXXXXX", NULL);
	struct conn *c;
	enum verdict v, mv;

	v = run_case(dir, "", &c, &mv);
	is_int(v, VERDICT_CONTINUE, "both continue: accepted");
	is_int(alpha_calls, 2, "alpha ran at MAIL and end of message");
	is_int(beta_calls, 2, "beta too");
	is_int(edits_count(&c->msg->edits), 6, "both handlers' edits are kept (MAIL, end, after_eom)");
	ok(c->msg->released == NULL, "  no release");
	conn_free(c);

	v = run_case(dir, "[beta]\nmode = reject\n", &c, &mv);
	is_int(mv, VERDICT_REJECT, "beta rejects at MAIL");
	is_str(c->decided_by, "beta", "  and is named");
	is_str(c->reply.code, "554", "  with its code");
	is_str(c->reply.text, "refused by test", "  and its text");
	conn_free(c);

	v = run_case(dir, "[alpha]\nmode = tempfail\n[beta]\nmode = reject\n", &c, &mv);
	is_int(mv, VERDICT_TEMPFAIL, "first final verdict wins (alpha's tempfail)");
	is_int(beta_calls, 0, "  beta is not asked");
	is_str(c->decided_by, "alpha", "  alpha is named");
	conn_free(c);

	v = run_case(dir, "[alpha]\nmode = error\n", &c, &mv);
	is_int(mv, VERDICT_TEMPFAIL, "handler failure: on-error defaults to tempfail");
	is_str(c->reply.code, "451", "  451");
	is_str(c->reply.xcode, "4.3.0", "  4.3.0");
	is_str(c->decided_by, "alpha", "  the failing handler is named");
	is_int(beta_calls, 0, "  the rest is not run");
	conn_free(c);

	v = run_case(dir, "[alpha]\nmode = error\non-error = reject\n", &c, &mv);
	is_int(mv, VERDICT_REJECT, "on-error = reject");
	is_str(c->reply.code, "550", "  550");
	conn_free(c);

	v = run_case(dir, "[alpha]\nmode = error\non-error = accept\n[beta]\nmode = discard\n", &c, &mv);
	is_int(mv, VERDICT_DISCARD, "on-error = accept fails open: the chain goes on to beta");
	is_int(beta_calls, 1, "  beta ran");
	is_str(c->decided_by, "beta", "  and decided");
	conn_free(c);

	v = run_case(dir, "[alpha]\nmode = accept\n[beta]\nmode = reject\n", &c, &mv);
	is_int(mv, VERDICT_CONTINUE, "accept at MAIL is not a refusal");
	is_int(v, VERDICT_CONTINUE, "accept skips the rest of the chain for the message");
	is_int(beta_calls, 0, "  beta never runs");
	is_int(alpha_calls, 1, "  nor alpha again at end of message");
	conn_free(c);

	v = run_case(dir, "[beta]\nmode = release\n", &c, &mv);
	is_int(v, VERDICT_CONTINUE, "a release: accepted");
	is_int(alpha_calls, 1, "  alpha ran at MAIL, not at end of message");
	is_int(beta_calls, 1, "  beta too");
	is_int(edits_count(&c->msg->edits), 1, "  the edits queued at MAIL are dropped; the release's own kept");
	is_str(((struct edit *) g_ptr_array_index(c->msg->edits.list, 0))->name, "X-Released",
	       "  that edit is the release hook's");
	is_str(c->msg->released, "beta", "  the handler that released it is named");
	conn_free(c);

	v = run_case(dir, "", &c, &mv);
	is_int(after_calls, 2, "after_eom: both hooks run for an accepted message");
	is_int(after_saw, 2, "  each sees the eom edits in final_headers()");
	is_int(after_top, 1, "  the second sees the first one's field at the top");
	conn_free(c);
	v = run_case(dir, "[alpha]\nmode = error\non-error = accept\n[beta]\nmode = discard\n", &c, &mv);
	is_int(after_calls, 0, "after_eom: not for a discarded message");
	conn_free(c);
	v = run_case(dir, "[alpha]\nmode = accept\n", &c, &mv);
	is_int(v, VERDICT_CONTINUE, "accepted at MAIL");
	is_int(after_calls, 2, "  after_eom runs all the same: the message leaves");
	conn_free(c);
	v = run_case(dir, "[beta]\nmode = release\n", &c, &mv);
	is_int(after_calls, 0, "after_eom: not for a released message");
	conn_free(c);
	v = run_case(dir, "[alpha]\nafter = error\n", &c, &mv);
	is_int(v, VERDICT_TEMPFAIL, "after_eom failure: on-error (tempfail)");
	is_str(c->decided_by, "alpha", "  the failing handler is named");
	is_int(after_calls, 1, "  the rest is not run");
	conn_free(c);
	v = run_case(dir, "[alpha]\nafter = error\non-error = accept\n", &c, &mv);
	is_int(v, VERDICT_CONTINUE, "after_eom failure, on-error = accept: accepted");
	is_int(after_calls, 2, "  and the chain goes on");
	conn_free(c);

	v = run_case(dir, "[alpha]\nmode = bogus\n", &c, &mv);
	is_int(v, VERDICT_ERROR, "a bad enum value is a configuration error");

	g_free(dir);
	return tap_done();
}
