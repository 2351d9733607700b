/*
 * milter - libmilter callbacks onto the handler chain
 *
 * Per connection, a struct conn is the private data (smfi_setpriv); per
 * transaction, conn->msg.  Each callback hands the stage to chain.c and
 * turns the verdict into an sfsistat and a reply.  At end of message the
 * edit list is applied in one go: header edits, recipient and sender
 * edits, then the body replacement as one unbroken run of chunks (Postfix
 * treats anything between body chunks as a filter error).
 *
 * Negotiation asks only for what the configuration needs: no header, body
 * or unknown-command steps when no handler looks at them, no replies to
 * header and body chunks, and a reply to CONNECT, HELO, MAIL, RCPT and
 * DATA only where some policy's rules can refuse (handler_decides()).
 * The envelope itself always comes: the policy and the log line need it.
 * A refusal at a step negotiated without a reply (a MAIL FROM SIZE= over
 * max-message-size, say) is held and given at the next step that has one,
 * end of message at the latest: it is never lost.
 *
 * Over TCP the steps keep their replies whatever the rules say, and DATA
 * is always asked for with one: a step with no reply leaves the MTA's next
 * small packet waiting on delayed ACK (about 40 ms a message).
 * TCP_NODELAY on the listener does the rest.
 *
 * Packets may come in any order: libmilter lets HELO, MAIL and unknown
 * commands through before any negotiation, RCPT, DATA and body chunks
 * after an unknown command, CONNECT again after SMFIC_QUIT_NC, and any
 * client of the socket can send them.  Each callback checks that its step
 * may come where the connection stands (enum mf_step); one that may not
 * is a disorder (mf_disorder()): logged once, and from then on every step
 * of the connection tempfails, so that nothing it carries is accepted.  A
 * step with no connection context at all (no negotiation, or after the
 * close of SMFIC_QUIT_NC) gets one made for it, already in disorder, so
 * that the same rules, the counters and the close apply.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <libmilter/mfapi.h>

#include "chain.h"
#include "event.h"
#include "log.h"
#include "milter.h"
#include "policy.h"
#include "stats.h"

static gint in_flight;		/* messages between MAIL FROM and their end */
static gint connections;	/* connections between negotiation and close */
static gint stopping;		/* milter_stop() was called */
static gint failed;		/* libmilter stopped serving on its own */
static char *unix_path;		/* to remove at exit ... */
static dev_t unix_dev;		/* ... if it is still this file */
static ino_t unix_ino;

/* Where a connection stands, as far as the glue has seen it. */
enum mf_step {
	MF_NEGOTIATED,		/* options agreed: CONNECT is next */
	MF_CONNECTED,		/* CONNECT seen: HELO, MAIL, unknown commands */
	MF_ENVELOPE,		/* MAIL FROM seen: RCPT TO, DATA, the header */
	MF_HEADER,		/* DATA or a header field seen: more fields,
				 * end of header; body when no EOH comes */
	MF_BODY,		/* end of header seen: body, end of message */
};

/* What the glue keeps per connection besides struct conn. */
struct mf {
	SMFICTX *ctx;
	unsigned long proto;	/* negotiated SMFIP_* flags */
	enum mf_step step;	/* where the connection stands */
	enum verdict held_conn;	/* a refusal held for the connection */
	enum verdict held_msg;	/* ... and for the current message */
	int over_limit;		/* refused: max-connections reached */
	int disorder;		/* a step came out of order: refuse all */
};

static struct conn *
conn_of(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

static const char *
mf_macro(struct conn *c, const char *name)
{
	struct mf *mf = c->mta;

	return smfi_getsymval(mf->ctx, (char *) name);
}

/* mf_symval - a macro's value for the log, "" when the MTA sent none */
static const char *
mf_symval(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *) name);

	return v ? v : "";
}

/* mf_escape - '%' doubled, as smfi_setreply wants */
static char *
mf_escape(const char *s)
{
	GString *o = g_string_new(NULL);

	for (; *s; s++) {
		if (*s == '%')
			g_string_append_c(o, '%');
		g_string_append_c(o, *s);
	}
	return g_string_free(o, FALSE);
}

/* mf_reply - give the MTA the connection's reply (multi-line allowed) */
static void
mf_reply(SMFICTX *ctx, const struct reply *r)
{
	char *l[REPLY_MAX_LINES + 1] = {0}, **split;
	unsigned i;

	if (r->text == NULL)
		return;
	split = g_strsplit(r->text, "\n", REPLY_MAX_LINES);
	for (i = 0; split[i] && i < REPLY_MAX_LINES; i++)
		l[i] = mf_escape(split[i]);
	if (i <= 1) {
		if (smfi_setreply(ctx, (char *) r->code, (char *) r->xcode, l[0]) != MI_SUCCESS)
			log_warn("smfi_setreply failed for \"%s\"", r->text);
	} else if (smfi_setmlreply(ctx, r->code, r->xcode, l[0], l[1], l[2], l[3],
				   l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11],
				   l[12], l[13], l[14], l[15], l[16], l[17], l[18],
				   l[19], l[20], l[21], l[22], l[23], l[24], l[25],
				   l[26], l[27], l[28], l[29], l[30], l[31],
				   (char *) NULL) != MI_SUCCESS) {
		log_warn("smfi_setmlreply failed for \"%s\"", r->text);
	}
	for (i = 0; i < REPLY_MAX_LINES; i++)
		g_free(l[i]);
	g_strfreev(split);
}

/* mf_status - a verdict as libmilter wants it */
static sfsistat
mf_status(SMFICTX *ctx, struct conn *c, enum verdict v)
{
	switch (v) {
	case VERDICT_REJECT:
		mf_reply(ctx, &c->reply);
		return SMFIS_REJECT;
	case VERDICT_TEMPFAIL:
		mf_reply(ctx, &c->reply);
		return SMFIS_TEMPFAIL;
	case VERDICT_DISCARD:
		return SMFIS_DISCARD;
	default:
		return SMFIS_CONTINUE;
	}
}

/* mf_msg_end - the message is over, whichever way */
static void
mf_msg_end(struct conn *c)
{
	struct mf *mf = c->mta;

	mf->held_msg = VERDICT_CONTINUE;
	if (mf->step > MF_CONNECTED)
		mf->step = MF_CONNECTED;
	if (c->msg) {
		msg_free(c->msg);
		g_atomic_int_add(&in_flight, -1);
		stats_gauge_add(STATS_IN_FLIGHT, -1);
	}
}

/* mf_abandon - the message ends before its end: a message whose content
 * had begun to arrive gets a line, as no verdict line will come */
static void
mf_abandon(struct conn *c)
{
	if (c->msg && c->msg->size > 0)
		log_warn("%s: from=<%s> abandoned after %zu bytes, before end of message",
			 c->msg->queue_id, c->msg->sender, c->msg->size);
	mf_msg_end(c);
}

/* mf_attach - a new connection context for ctx, counted */
static struct conn *
mf_attach(SMFICTX *ctx)
{
	struct snapshot *s = snapshot_current();
	struct conn *c = conn_new(s);
	struct mf *mf = g_new0(struct mf, 1);
	long long max;
	int n;

	snapshot_unref(s);
	mf->ctx = ctx;
	c->mta = mf;
	c->macro = mf_macro;
	smfi_setpriv(ctx, c);
	max = conf_num(&c->snap->main, "max-connections");
	n = g_atomic_int_add(&connections, 1) + 1;
	stats_gauge_add(STATS_CONNECTIONS, 1);
	mf->over_limit = max > 0 && n > max;
	return c;
}

/*
 * mf_disorder - a step came where it cannot (no MTA sends it there; another
 * client of the socket may): the connection is refused from here on.  The
 * first disorder is logged and held for the connection as a tempfail, so
 * that this step and every later one (end of message at the latest) is
 * refused and no message of the connection is accepted.  The return value
 * is this step's: the held refusal, or no reply where nr was negotiated.
 */
static sfsistat
mf_disorder(SMFICTX *ctx, struct conn *c, const char *step, unsigned long nr)
{
	struct mf *mf = c->mta;

	if (!mf->disorder) {
		static const char *const where[] = {
			[MF_NEGOTIATED] = "before CONNECT",
			[MF_CONNECTED] = "outside a transaction",
			[MF_ENVELOPE] = "in the envelope",
			[MF_HEADER] = "in the header",
			[MF_BODY] = "in the body",
		};

		mf->disorder = 1;
		log_warn("%s: milter protocol step %s out of order (%s); "
			 "refusing the connection's mail", msg_queue_id(c->msg),
			 step, where[mf->step]);
	}
	if (mf->held_conn == VERDICT_CONTINUE) {
		reply_set(&c->reply, "451", "4.3.0", "Temporary local problem, try again later");
		c->decided_by = "sinkd";
		mf->held_conn = VERDICT_TEMPFAIL;
	}
	if (mf->proto & nr)
		return SMFIS_NOREPLY;
	return mf_status(ctx, c, mf->held_conn);
}

/* mf_conn - the connection context of a step; one made for a step that
 * came before any negotiation (libmilter lets HELO, MAIL and unknown
 * commands through), in disorder already */
static struct conn *
mf_conn(SMFICTX *ctx, const char *step)
{
	struct conn *c = conn_of(ctx);

	if (c == NULL) {
		c = mf_attach(ctx);
		mf_disorder(ctx, c, step, 0);
	}
	return c;
}

static sfsistat
mf_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
	     unsigned long f2, unsigned long f3, unsigned long *pf0,
	     unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct conn *c = conn_of(ctx);
	struct snapshot *s;
	struct mf *mf;
	unsigned long want = 0;
	unsigned at;

	(void) f2;
	(void) f3;
	*pf0 = *pf1 = *pf2 = *pf3 = 0;
	if (c != NULL) {
		/* negotiated once already, or a step came first: libmilter
		 * ends the session on anything but SMFIS_CONTINUE here */
		mf_disorder(ctx, c, "OPTNEG", 0);
		return SMFIS_TEMPFAIL;
	}
	c = mf_attach(ctx);
	mf = c->mta;
	s = c->snap;
	at = s->decides;
	if (mf->over_limit)
		at |= HANDLER_AT_CONNECT;
	if (at & HANDLER_AT_MAIL)	/* inbound: recipient domains' sender rules */
		at |= HANDLER_AT_RCPT;
	if (unix_path == NULL)	/* listening over TCP */
		at |= HANDLER_AT_CONNECT | HANDLER_AT_HELO | HANDLER_AT_MAIL
			| HANDLER_AT_RCPT | HANDLER_AT_DATA;
	if (!(at & HANDLER_AT_CONNECT))
		want |= SMFIP_NR_CONN;
	if (!(at & HANDLER_AT_HELO))
		want |= SMFIP_NR_HELO;
	if (!(at & HANDLER_AT_MAIL))
		want |= SMFIP_NR_MAIL;
	if (!(at & HANDLER_AT_RCPT))
		want |= SMFIP_NR_RCPT;
	if (!(at & HANDLER_AT_DATA))
		want |= SMFIP_NODATA;
	if (!(at & HANDLER_AT_UNKNOWN))
		want |= SMFIP_NOUNKNOWN;
	if (!(s->needs & (HANDLER_NEEDS_HEADERS | HANDLER_NEEDS_BODY)))
		want |= SMFIP_NOHDRS | SMFIP_NOEOH;
	if (!(s->needs & HANDLER_NEEDS_BODY))
		want |= SMFIP_NOBODY;
	want |= SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC;
	mf->proto = want & f1;
	*pf0 = (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT
		| SMFIF_CHGFROM | SMFIF_CHGBODY | SMFIF_QUARANTINE) & f0;
	*pf1 = mf->proto;
	return SMFIS_CONTINUE;
}

/* mf_held - the refusal held for the connection or the message, if any */
static enum verdict
mf_held(struct conn *c)
{
	struct mf *mf = c->mta;

	return mf->held_conn != VERDICT_CONTINUE ? mf->held_conn : mf->held_msg;
}

/*
 * mf_answer - a step's verdict as the MTA gets it.  At a step negotiated
 * without a reply (nr), a refusal is held, for the message when there is
 * one and else for the connection, and given at the next step that has a
 * reply; end of message always has one.
 */
static sfsistat
mf_answer(SMFICTX *ctx, struct conn *c, enum verdict v, unsigned long nr)
{
	struct mf *mf = c->mta;
	enum verdict *held = c->msg ? &mf->held_msg : &mf->held_conn;

	if (!(mf->proto & nr))
		return mf_status(ctx, c, v);
	if (v != VERDICT_CONTINUE && *held == VERDICT_CONTINUE)
		*held = v;
	return SMFIS_NOREPLY;
}

static sfsistat
mf_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct conn *c = mf_conn(ctx, "CONNECT");
	struct mf *mf = c->mta;
	char addr[INET6_ADDRSTRLEN] = "";
	const char *a = NULL;

	if (mf->step != MF_NEGOTIATED || mf->disorder)
		return mf_disorder(ctx, c, "CONNECT", SMFIP_NR_CONN);
	mf->step = MF_CONNECTED;
	if (mf->over_limit) {
		log_warn("connection refused: %d connections, max-connections = %lld",
			 g_atomic_int_get(&connections),
			 conf_num(&c->snap->main, "max-connections"));
		stats_inc(STATS_CONN_REFUSED);
		reply_set(&c->reply, "421", "4.3.2", "Too many connections to the mail filter, try again later");
		c->decided_by = "sinkd";
		return mf_status(ctx, c, VERDICT_TEMPFAIL);
	}
	if (sa && sa->sa_family == AF_INET)
		a = inet_ntop(AF_INET, &((struct sockaddr_in *) sa)->sin_addr, addr, sizeof(addr));
	else if (sa && sa->sa_family == AF_INET6)
		a = inet_ntop(AF_INET6, &((struct sockaddr_in6 *) sa)->sin6_addr, addr, sizeof(addr));
	conn_set_client(c, a, host);
	log_debug("connect from %s[%s] daemon_name=%s daemon_addr=%s j=%s _=%s",
		  host ? host : "", a ? a : "", mf_symval(ctx, "{daemon_name}"),
		  mf_symval(ctx, "{daemon_addr}"), mf_symval(ctx, "j"),
		  mf_symval(ctx, "_"));
	return mf_answer(ctx, c, chain_connect(c), SMFIP_NR_CONN);
}

static sfsistat
mf_helo(SMFICTX *ctx, char *helo)
{
	struct conn *c = mf_conn(ctx, "HELO");
	struct mf *mf = c->mta;
	enum verdict v;

	if (mf->step == MF_NEGOTIATED)
		return mf_disorder(ctx, c, "HELO", SMFIP_NR_HELO);
	mf_abandon(c);		/* HELO again resets a transaction */
	g_free(c->helo);
	c->helo = g_strdup(helo);
	if ((v = mf_held(c)) == VERDICT_CONTINUE)
		v = chain_helo(c);
	return mf_answer(ctx, c, v, SMFIP_NR_HELO);
}

/* mf_refused - a transaction refused before end of message gets its log
 * line too (the MAIL FROM and DATA stages), when the refusal is given */
static sfsistat
mf_refused(SMFICTX *ctx, struct conn *c, enum verdict v, unsigned long nr)
{
	if (v != VERDICT_CONTINUE && c->msg && !(((struct mf *) c->mta)->proto & nr))
		chain_log_message(c->msg, v);
	return mf_answer(ctx, c, v, nr);
}

static sfsistat
mf_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = mf_conn(ctx, "MAIL");
	struct mf *mf = c->mta;
	struct msg *m;
	enum verdict v;
	int i;

	if (mf->step == MF_NEGOTIATED || argv == NULL || argv[0] == NULL)
		return mf_disorder(ctx, c, "MAIL", SMFIP_NR_MAIL);
	mf_abandon(c);
	m = msg_new(c, argv[0], smfi_getsymval(ctx, "{auth_authen}"));
	g_atomic_int_inc(&in_flight);
	stats_gauge_add(STATS_IN_FLIGHT, 1);
	mf->step = MF_ENVELOPE;
	m->mail_params = g_strdupv(argv + 1);
	for (i = 1; argv[i]; i++)
		if (!g_ascii_strncasecmp(argv[i], "SIZE=", 5))
			m->declared_size = g_ascii_strtoull(argv[i] + 5, NULL, 10);
	msg_set_queue_id(m, smfi_getsymval(ctx, "i"));
	if ((v = mf_held(c)) == VERDICT_CONTINUE)
		v = chain_envfrom(m);
	return mf_refused(ctx, c, v, SMFIP_NR_MAIL);
}

static sfsistat
mf_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = mf_conn(ctx, "RCPT");
	struct mf *mf = c->mta;
	struct rcpt *r;
	enum verdict v;

	if (mf->step != MF_ENVELOPE || argv == NULL || argv[0] == NULL)
		return mf_disorder(ctx, c, "RCPT", SMFIP_NR_RCPT);
	msg_set_queue_id(c->msg, smfi_getsymval(ctx, "i"));
	r = msg_rcpt_new(c->msg, argv[0]);
	r->params = g_strdupv(argv + 1);
	v = mf_held(c);
	if (v != VERDICT_CONTINUE && (mf->proto & SMFIP_NR_RCPT)) {
		msg_rcpt_keep(c->msg, r);	/* refused with the message later */
		return SMFIS_NOREPLY;
	}
	if (v == VERDICT_CONTINUE)
		v = chain_envrcpt(c->msg, r);
	if (v == VERDICT_CONTINUE) {
		msg_rcpt_keep(c->msg, r);
	} else {
		c->msg->rcpts_rejected++;
		log_info("%s: rcpt=<%s> verdict=%s handler=%s code=%s xcode=%s",
			 c->msg->queue_id, r->addr, verdict_name(v), c->decided_by,
			 c->reply.code, c->reply.xcode);
		msg_rcpt_free(r);
	}
	return mf_answer(ctx, c, v, SMFIP_NR_RCPT);
}

static sfsistat
mf_data(SMFICTX *ctx)
{
	struct conn *c = mf_conn(ctx, "DATA");
	struct mf *mf = c->mta;
	enum verdict v;

	if (mf->step != MF_ENVELOPE)
		return mf_disorder(ctx, c, "DATA", 0);
	mf->step = MF_HEADER;
	msg_set_queue_id(c->msg, smfi_getsymval(ctx, "i"));
	if ((v = mf_held(c)) == VERDICT_CONTINUE)
		v = chain_data(c->msg);
	return mf_refused(ctx, c, v, 0);
}

/* mf_unknown - an SMTP command the MTA does not know; a refusal held for
 * the connection answers it, not one held for a message */
static sfsistat
mf_unknown(SMFICTX *ctx, const char *cmd)
{
	struct conn *c = mf_conn(ctx, "UNKNOWN");
	struct mf *mf = c->mta;

	if (mf->step == MF_NEGOTIATED || cmd == NULL)
		return mf_disorder(ctx, c, "UNKNOWN", 0);
	if (mf->held_conn != VERDICT_CONTINUE)
		return mf_status(ctx, c, mf->held_conn);
	return mf_status(ctx, c, chain_unknown(c, cmd));
}

static sfsistat
mf_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = mf_conn(ctx, "HEADER");
	struct mf *mf = c->mta;

	if (mf->step != MF_ENVELOPE && mf->step != MF_HEADER)
		return mf_disorder(ctx, c, "HEADER", SMFIP_NR_HDR);
	if (name == NULL || value == NULL)
		return mf_disorder(ctx, c, "HEADER", SMFIP_NR_HDR);
	mf->step = MF_HEADER;
	msg_header(c->msg, name, value);
	return mf_answer(ctx, c, VERDICT_CONTINUE, SMFIP_NR_HDR);
}

static sfsistat
mf_eoh(SMFICTX *ctx)
{
	struct conn *c = mf_conn(ctx, "EOH");
	struct mf *mf = c->mta;

	if (mf->step != MF_ENVELOPE && mf->step != MF_HEADER)
		return mf_disorder(ctx, c, "EOH", SMFIP_NR_EOH);
	mf->step = MF_BODY;
	msg_end_headers(c->msg);
	return mf_answer(ctx, c, VERDICT_CONTINUE, SMFIP_NR_EOH);
}

/* mf_body - a body chunk; before the end of header only where no end of
 * header was to come (SMFIP_NOEOH) */
static sfsistat
mf_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	struct conn *c = mf_conn(ctx, "BODY");
	struct mf *mf = c->mta;

	if (mf->step != MF_BODY
	    && !((mf->step == MF_ENVELOPE || mf->step == MF_HEADER)
		 && (mf->proto & SMFIP_NOEOH)))
		return mf_disorder(ctx, c, "BODY", SMFIP_NR_BODY);
	if (data == NULL && len > 0)
		return mf_disorder(ctx, c, "BODY", SMFIP_NR_BODY);
	mf->step = MF_BODY;
	msg_body(c->msg, data, len);
	return mf_answer(ctx, c, VERDICT_CONTINUE, SMFIP_NR_BODY);
}

/* mf_apply - the edit list, in order, then the body; -1 on failure */
static int
mf_apply(SMFICTX *ctx, struct conn *c, struct edits *e)
{
	int lead = ((struct mf *) c->mta)->proto & SMFIP_HDR_LEADSPC;
	guint i;
	int rc = MI_SUCCESS;

	for (i = 0; i < e->list->len && rc == MI_SUCCESS; i++) {
		struct edit *ed = g_ptr_array_index(e->list, i);
		char *v = ed->value ? g_strconcat(lead ? " " : "", ed->value, NULL) : NULL;
		char *a = ed->kind >= EDIT_ADD_RCPT ? g_strdup_printf("<%s>", ed->name) : NULL;

		switch (ed->kind) {
		case EDIT_ADD_HEADER:
			rc = smfi_addheader(ctx, ed->name, v);
			break;
		case EDIT_INSERT_HEADER:
			rc = smfi_insheader(ctx, ed->index, ed->name, v);
			break;
		case EDIT_CHANGE_HEADER:
			rc = smfi_chgheader(ctx, ed->name, ed->index, v);
			break;
		case EDIT_ADD_RCPT:
			rc = smfi_addrcpt(ctx, a);
			break;
		case EDIT_DEL_RCPT:
			rc = smfi_delrcpt(ctx, a);
			break;
		case EDIT_CHANGE_FROM:
			rc = smfi_chgfrom(ctx, a, NULL);
			break;
		}
		if (rc != MI_SUCCESS)
			log_error("%s: edit by %s failed (%s %s)", c->msg->queue_id,
				  ed->by, ed->name, ed->value ? ed->value : "");
		g_free(v);
		g_free(a);
	}
	if (rc == MI_SUCCESS && e->body) {
		gsize len;
		const guchar *b = g_bytes_get_data(e->body, &len);

		rc = smfi_replacebody(ctx, (unsigned char *) b, len);
		if (rc != MI_SUCCESS)
			log_error("%s: body replacement by %s failed", c->msg->queue_id,
				  e->body_by);
	}
	return rc == MI_SUCCESS ? 0 : -1;
}

/* mf_finish - the chain at end of message, its edits and quarantine */
static enum verdict
mf_finish(SMFICTX *ctx, struct conn *c, struct msg *m)
{
	enum verdict v = chain_eom(m);

	if ((v == VERDICT_CONTINUE || v == VERDICT_QUARANTINE)
	    && mf_apply(ctx, c, &m->edits) < 0) {
		reply_set(&c->reply, "451", "4.3.0", "Temporary local problem, try again later");
		c->decided_by = "sinkd";
		v = VERDICT_TEMPFAIL;
	}
	if (v == VERDICT_QUARANTINE) {
		char *why = g_strdup_printf("held by %s", c->decided_by);

		if (smfi_quarantine(ctx, why) != MI_SUCCESS) {
			reply_set(&c->reply, "451", "4.3.0", "Temporary local problem, try again later");
			v = VERDICT_TEMPFAIL;
		}
		g_free(why);
	}
	return v;
}

static sfsistat
mf_eom(SMFICTX *ctx)
{
	struct conn *c = mf_conn(ctx, "EOM");
	struct msg *m = c->msg;
	enum verdict v;
	sfsistat st;

	if (m == NULL)
		return mf_disorder(ctx, c, "EOM", 0);
	msg_set_queue_id(m, smfi_getsymval(ctx, "i"));
	if ((v = mf_held(c)) == VERDICT_CONTINUE)
		v = mf_finish(ctx, c, m);
	/* an accepted message's event is on disk before the MTA hears */
	if ((v == VERDICT_CONTINUE || v == VERDICT_ACCEPT || v == VERDICT_QUARANTINE)
	    && event_accepted(m, v) < 0) {
		reply_set(&c->reply, "451", "4.3.0", "Temporary local problem, try again later");
		c->decided_by = "sinkd";
		v = VERDICT_TEMPFAIL;
	}
	chain_log_message(m, v);
	chain_done(m, v);
	st = mf_status(ctx, c, v);
	mf_msg_end(c);
	return st;
}

/* mf_abort - the MTA ended the transaction, or libmilter the connection
 * (a packet over its 64 KiB limit, a read error); at any point, and
 * without a transaction too */
static sfsistat
mf_abort(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);

	if (c)
		mf_abandon(c);
	return SMFIS_CONTINUE;
}

/* mf_close - the connection's end (also after SMFIC_QUIT_NC, which a
 * CONNECT may follow: it finds no context, and is a disorder) */
static sfsistat
mf_close(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	mf_abandon(c);
	g_atomic_int_add(&connections, -1);
	stats_gauge_add(STATS_CONNECTIONS, -1);
	g_free(c->mta);
	conn_free(c);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc mf_desc = {
	.xxfi_name = "sinkd",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT
		| SMFIF_CHGFROM | SMFIF_CHGBODY | SMFIF_QUARANTINE,
	.xxfi_connect = mf_connect,
	.xxfi_helo = mf_helo,
	.xxfi_envfrom = mf_envfrom,
	.xxfi_envrcpt = mf_envrcpt,
	.xxfi_header = mf_header,
	.xxfi_eoh = mf_eoh,
	.xxfi_body = mf_body,
	.xxfi_eom = mf_eom,
	.xxfi_abort = mf_abort,
	.xxfi_close = mf_close,
	.xxfi_unknown = mf_unknown,
	.xxfi_data = mf_data,
	.xxfi_negotiate = mf_negotiate,
};

/* milter_desc - the callbacks as libmilter gets them, for the fuzz target
 * (fuzz/fuzz_milter.c), which calls them in any order */
const struct smfiDesc *
milter_desc(void)
{
	return &mf_desc;
}

/* milter_counts - connections between negotiation and close, messages
 * between MAIL FROM and their end: both 0 once every connection closed */
void
milter_counts(int *conns, int *msgs)
{
	*conns = g_atomic_int_get(&connections);
	*msgs = g_atomic_int_get(&in_flight);
}

#define MAX_LISTENERS 8

static int listeners[MAX_LISTENERS];	/* libmilter's listening sockets */
static int nlisteners;

/* find_listeners - libmilter does not hand out its listening descriptor:
 * look for it among ours (SO_ACCEPTCONN); over TCP, set TCP_NODELAY on it,
 * which accepted connections inherit */
static void
find_listeners(void)
{
	int fd, one = 1;

	for (fd = 0; fd < 1024 && nlisteners < MAX_LISTENERS; fd++) {
		int acc = 0;
		socklen_t len = sizeof(acc);
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc)
			continue;
		listeners[nlisteners++] = fd;
		if (getsockname(fd, (struct sockaddr *) &ss, &sl) < 0)
			continue;
		if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
			log_warn("TCP_NODELAY on the listening socket: %s", strerror(errno));
	}
}

/* milter_open - register and open the socket; a unix socket gets the
 * configured mode and owner (its directory is the caller's to make), and
 * is noted (device and inode) so that only this socket is removed at
 * exit.  Runs as root, before the privilege drop.  Every failure here
 * ends sinkd: fatal, with the path and the system's reason. */
int
milter_open(const struct snapshot *s, unsigned uid, unsigned gid)
{
	char *conn = sock_libmilter(&s->socket);
	struct stat st;
	mode_t old;
	int rc;

	smfi_setconn(conn);
	g_free(conn);
	if (smfi_register(mf_desc) != MI_SUCCESS)
		log_fatal("smfi_register failed");
	smfi_setbacklog((int) conf_num(&s->main, "backlog"));
	smfi_settimeout((int) conf_num(&s->main, "timeout"));
	old = umask(0177);
	errno = 0;
	/* a socket left at the path is removed first: the caller holds the
	 * socket's lock, so it is a dead sinkd's */
	rc = smfi_opensocket(true);
	umask(old);
	if (rc != MI_SUCCESS)
		log_fatal("cannot open socket %s: %s", conf_str(&s->main, "socket"),
			  errno ? strerror(errno) : "libmilter gave no reason");
	if (s->socket.family == AF_UNIX) {
		unix_path = g_strdup(s->socket.path);
		if (lstat(unix_path, &st) < 0)
			log_fatal("socket %s: %s", unix_path, strerror(errno));
		unix_dev = st.st_dev;
		unix_ino = st.st_ino;
		if (chmod(unix_path, (mode_t) conf_num(&s->main, "socket-mode")) < 0)
			log_fatal("socket %s: chmod %04o: %s", unix_path,
				  (unsigned) conf_num(&s->main, "socket-mode"), strerror(errno));
		if (geteuid() == 0 && chown(unix_path, uid, gid) < 0)
			log_fatal("socket %s: chown %u:%u: %s", unix_path, uid, gid, strerror(errno));
	}
	find_listeners();
	return 0;
}

static gpointer
milter_thread(gpointer unused)
{
	(void) unused;
	smfi_main();
	if (!g_atomic_int_get(&stopping)) {
		/* libmilter gave up on its own (its signal thread took a signal,
		 * or the listener failed): stop the daemon, with a failure
		 * status (milter_failed()), so that a supervisor restarts it
		 * rather than a process that serves nobody */
		log_error("libmilter stopped serving; shutting down");
		g_atomic_int_set(&failed, 1);
		kill(getpid(), SIGTERM);
	}
	return NULL;
}

/* milter_failed - libmilter stopped serving on its own: the daemon's
 * stop is a failure, not a stop asked for */
int
milter_failed(void)
{
	return g_atomic_int_get(&failed);
}

/* milter_start - serve in a thread of its own */
int
milter_start(void)
{
	GThread *t = g_thread_try_new("milter", milter_thread, NULL, NULL);

	if (t == NULL)
		return -1;
	g_thread_unref(t);
	return 0;
}

/* remove_socket - remove the unix socket if it is still the one
 * milter_open() made: another sinkd's is never touched.  libmilter is
 * less careful: when its listener closes (smfi_main() returning) as a
 * user other than root, it removes whatever socket is at the path, and
 * smfi_opensocket(true) removes one before binding.  Both happen only
 * while this process holds the socket's lock (main.c, SOCKET.lock,
 * released at exit), so no other sinkd is serving on that path then. */
static void
remove_socket(void)
{
	struct stat st;

	if (lstat(unix_path, &st) < 0 || st.st_dev != unix_dev || st.st_ino != unix_ino)
		return;
	if (unlink(unix_path) < 0 && errno != ENOENT)
		log_warn("cannot remove socket %s: %s (it is removed at the next start)",
			 unix_path, strerror(errno));
}

/* milter_stop - stop accepting, then wait up to timeout for messages in
 * flight to finish.  smfi_stop() is no use here: it waits for libmilter's
 * listener to wake from its poll (seconds), and after it libmilter serves
 * no more packets, not even those of a message in flight.  So the
 * listening socket is shut down here instead (the MTA's new connections
 * fail and take its default action), the sessions go on being served, and
 * the process exits once they are done or the time is up. */
void
milter_stop(unsigned timeout)
{
	gint64 end = g_get_monotonic_time() + (gint64) timeout * G_USEC_PER_SEC;
	int n, i;

	g_atomic_int_set(&stopping, 1);
	if (unix_path)
		remove_socket();
	for (i = 0; i < nlisteners; i++)
		shutdown(listeners[i], SHUT_RDWR);
	while ((n = g_atomic_int_get(&in_flight)) > 0 && g_get_monotonic_time() < end)
		g_usleep(20000);
	if (n > 0)
		log_warn("stopping with %d message(s) in flight; the MTA will retry them", n);
}

/*
 * milter_mta_config - the lines to paste into Postfix's main.cf and a
 * Sendmail .mc file for the socket of s, Postfix's spelled for what
 * postconf(1) says of the Postfix on this machine (sock_postfix_lines()):
 * a NULL-terminated vector, g_strfreev().  A line that starts with
 * "warning: " tells of a socket the MTA cannot reach.
 */
char **
milter_mta_config(const struct snapshot *s)
{
	struct sock_postfix_env pe;
	char **pf, *sm;
	GPtrArray *out = g_ptr_array_new();
	unsigned i;

	sock_postfix_ask(&pe);
	pf = sock_postfix_lines(&s->socket, &pe);
	sock_postfix_env_free(&pe);
	for (i = 0; pf[i]; i++)
		g_ptr_array_add(out, pf[i]);
	g_free(pf);
	sm = sock_sendmail(&s->socket);
	g_ptr_array_add(out, g_strdup_printf("Sendmail .mc: INPUT_MAIL_FILTER(`sinkd', "
					     "`S=%s, F=T, T=C:10s;S:30s;R:30s;E:5m')", sm));
	g_free(sm);
	g_ptr_array_add(out, NULL);
	return (char **) g_ptr_array_free(out, FALSE);
}

/* milter_log_mta_config - log milter_mta_config()'s lines */
void
milter_log_mta_config(const struct snapshot *s)
{
	char **lines = milter_mta_config(s), **l;

	for (l = lines; *l; l++) {
		if (g_str_has_prefix(*l, "warning: "))
			log_warn("%s", *l + 9);
		else
			log_info("%s", *l);
	}
	g_strfreev(lines);
}
