/*
 * lists - the list addresses, the texts sent to people, the outbox's
 *	sender (lists.h)
 *
 * Messages are made with GMime (header encoding, charsets, transfer
 * encodings are its own), written with CRLF line ends, and sent with
 * reinject_smtp(), which gives no recipient the message unless every one
 * is taken.
 */
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "../src/template.h"
#include "../tools/reinject.h"
#include "lists.h"

static const struct {
	const char *suffix;
	enum la_kind kind;
	int token;
} forms[] = {
	{"-request", LA_REQUEST, 0},
	{"-owner", LA_OWNER, 0},
	{"-bounces", LA_BOUNCES, 0},
	{"+subscribe", LA_SUBSCRIBE, 0},
	{"+unsubscribe", LA_UNSUBSCRIBE, 0},
	{"+help", LA_HELP, 0},
	{"+info", LA_INFO, 0},
	{"+confirm-", LA_CONFIRM, 1},
	{"+approve-", LA_APPROVE, 1},
	{"+reject-", LA_REJECT, 1},
};

static const char *const kind_names[] = {
	"none", "post", "request", "owner", "bounces", "subscribe", "unsubscribe",
	"help", "info", "confirm", "approve", "reject",
};

const char *
la_name(enum la_kind k)
{
	return kind_names[k];
}

enum la_kind
la_parse(const char *addr, char **list, char **token)
{
	const char *at = strrchr(addr, '@');
	size_t i, n, local;

	*list = NULL;
	if (token)
		*token = NULL;
	if (at == NULL || at == addr)
		return LA_NONE;
	local = (size_t) (at - addr);
	for (i = 0; i < G_N_ELEMENTS(forms); i++) {
		const char *f;

		n = strlen(forms[i].suffix);
		if (forms[i].token) {
			/* LIST+confirm-TOKEN: the form in the local part */
			f = g_strstr_len(addr, (gssize) local, forms[i].suffix);
			if (f == NULL || f == addr || f + n >= at)
				continue;
			if (token)
				*token = g_strndup(f + n, (gsize) (at - f - n));
		} else {
			if (local <= n || strncmp(at - n, forms[i].suffix, n) != 0)
				continue;
			f = at - n;
		}
		*list = g_strdup_printf("%.*s%s", (int) (f - addr), addr, at);
		return forms[i].kind;
	}
	*list = g_strdup(addr);
	return LA_POST;
}

char *
la_with(const char *list, const char *sep, const char *what)
{
	const char *at = strrchr(list, '@');

	if (at == NULL)
		return g_strconcat(list, sep, what, NULL);
	return g_strdup_printf("%.*s%s%s%s", (int) (at - list), list, sep, what, at);
}

char *
la_list_id(const char *list)
{
	char *id = g_strdup(list), *at = strrchr(id, '@');

	if (at)
		*at = '.';
	return id;
}

/* ------------------------------------------------------------------ */
/* texts                                                                */

const char *const lt_names[] = {
	"confirm-subscribe", "confirm-unsubscribe", "welcome", "goodbye", "help", "info",
	"results", "moderate", "held", "rejected", "disabled", NULL
};

const char *const lt_var_names[] = {
	"list", "list_id", "description", "address", "token", "confirm", "approve", "reject",
	"request", "owner", "subscribe", "unsubscribe", "subject", "from", "results", "score",
	NULL
};

/* the built-in texts: a Subject: line, an empty line, the body */
static const char *const builtin[] = {
	/* confirm-subscribe */
	"Subject: confirm ${token}\n\n"
	"Someone, maybe you, asked to subscribe ${address} to the list\n"
	"${list}.  To confirm, reply to this message, or send any message to\n\n"
	"    ${confirm}\n\n"
	"If you did not ask for this, do nothing: the request expires.\n",
	/* confirm-unsubscribe */
	"Subject: confirm ${token}\n\n"
	"Someone, maybe you, asked to unsubscribe ${address} from the list\n"
	"${list}.  To confirm, reply to this message, or send any message to\n\n"
	"    ${confirm}\n\n"
	"If you did not ask for this, do nothing: the request expires.\n",
	/* welcome */
	"Subject: Welcome to ${list}\n\n"
	"${address} is now subscribed to ${list}.\n\n"
	"Post to the list: ${list}\n"
	"Leave it: send a message to ${unsubscribe}\n"
	"Help: send a message to ${request} with the subject \"help\".\n",
	/* goodbye */
	"Subject: You have left ${list}\n\n"
	"${address} is no longer subscribed to ${list}.\n",
	/* help */
	"Subject: Help for ${list}\n\n"
	"Send a message to ${request} with one command a line, in the\n"
	"subject or the body:\n\n"
	"    subscribe [ADDRESS]     join the list (you confirm by mail)\n"
	"    unsubscribe [ADDRESS]   leave it (you confirm by mail)\n"
	"    info                    what the list is\n"
	"    help                    this text\n"
	"    confirm TOKEN           confirm a request\n\n"
	"Or send any message to ${subscribe} or ${unsubscribe}.\n"
	"The owners are at ${owner}.\n",
	/* info */
	"Subject: About ${list}\n\n"
	"${list}: ${description}\n\n"
	"Post to the list: ${list}\n"
	"Join: send a message to ${subscribe}\n"
	"The owners are at ${owner}.\n",
	/* results */
	"Subject: Results of your commands to ${list}\n\n"
	"${results}\n",
	/* moderate */
	"Subject: Held for approval: ${subject}\n\n"
	"A post to ${list} waits for a moderator.\n\n"
	"    From:    ${from}\n"
	"    Subject: ${subject}\n\n"
	"To send it to the list, send any message to\n\n"
	"    ${approve}\n\n"
	"To refuse it, send any message to\n\n"
	"    ${reject}\n\n"
	"If nobody does either, it expires.\n",
	/* held */
	"Subject: Your post to ${list} waits for approval\n\n"
	"Your message \"${subject}\" to ${list} is held until a moderator\n"
	"approves it.\n",
	/* rejected */
	"Subject: Your post to ${list} was refused\n\n"
	"A moderator of ${list} refused your message \"${subject}\".\n",
	/* disabled */
	"Subject: Your delivery from ${list} is suspended\n\n"
	"Mail from ${list} to ${address} bounced ${score} times, so the list\n"
	"sends you nothing more.  Ask the owners (${owner}) to turn it on again.\n",
};

/* template_text - the template NAME from dir, or the built-in one */
static char *
template_text(const char *dir, const char *name, char **why)
{
	unsigned i;

	for (i = 0; lt_names[i]; i++)
		if (!strcmp(lt_names[i], name))
			break;
	if (lt_names[i] == NULL) {
		*why = g_strdup_printf("%s: no such template", name);
		return NULL;
	}
	if (dir && *dir) {
		char *path = g_strdup_printf("%s/%s.txt", dir, name), *t = NULL;
		gsize len;
		GError *e = NULL;

		if (g_file_get_contents(path, &t, &len, &e)) {
			if (len > 65536 || !g_utf8_validate(t, (gssize) len, NULL)
			    || strlen(t) != len) {
				*why = g_strdup_printf("%s: not UTF-8 text of at most 64 KiB", path);
				g_free(t);
				t = NULL;
			}
			g_free(path);
			return t;
		}
		g_free(path);
		if (!g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
			*why = g_strdup(e->message);
			g_error_free(e);
			return NULL;
		}
		g_error_free(e);
	}
	return g_strdup(builtin[i]);
}

/* split - a template's subject and body; -1 if it has no Subject: line */
static int
split(const char *t, char **subject, const char **body)
{
	const char *nl;

	if (g_ascii_strncasecmp(t, "Subject:", 8) != 0 || (nl = strchr(t, '\n')) == NULL
	    || nl[1] != '\n')
		return -1;
	*subject = g_strstrip(g_strndup(t + 8, (gsize) (nl - t - 8)));
	*body = nl + 2;
	return 0;
}

int
lt_check(const char *dir, char **why)
{
	unsigned i;

	if (dir && *dir && !g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		*why = g_strdup_printf("%s: no such directory", dir);
		return -1;
	}
	for (i = 0; lt_names[i]; i++) {
		char *t = template_text(dir, lt_names[i], why), *subject, *e = NULL;
		const char *body;

		if (t == NULL)
			return -1;
		if (split(t, &subject, &body) < 0) {
			*why = g_strdup_printf("%s/%s.txt: no Subject: line and empty line first",
					       dir, lt_names[i]);
			g_free(t);
			return -1;
		}
		g_free(subject);
		if (tmpl_check(t, lt_var_names, &e) < 0) {
			*why = g_strdup_printf("%s/%s.txt: %s", dir, lt_names[i], e);
			g_free(e);
			g_free(t);
			return -1;
		}
		g_free(t);
	}
	return 0;
}

struct vars {
	const char *const *v;
};

static const char *
var_of(const char *name, void *ctx)
{
	const struct vars *vs = ctx;
	unsigned i;

	for (i = 0; vs->v && vs->v[i] && vs->v[i + 1]; i += 2)
		if (!strcmp(vs->v[i], name))
			return vs->v[i + 1];
	return "";
}

/* one_line - s with every control character a space (a header value) */
static char *
one_line(const char *s)
{
	char *o = g_strdup(s), *p;

	for (p = o; *p; p++)
		if ((unsigned char) *p < ' ' || *p == 0x7f)
			*p = ' ';
	return o;
}

GBytes *
lt_message(const char *dir, const char *name, const char *list, const char *to,
	   const char *const *vars, char **why)
{
	char *t = template_text(dir, name, why), *subject, *s, *b, *from, *id, *text;
	const char *body;
	struct vars vs = {vars};
	GMimeMessage *m;
	GMimeTextPart *part;
	GMimeFormatOptions *fo;
	GDateTime *now;

	if (t == NULL)
		return NULL;
	if (split(t, &subject, &body) < 0) {
		*why = g_strdup_printf("%s: no Subject: line and empty line first", name);
		g_free(t);
		return NULL;
	}
	s = tmpl_expand(subject, var_of, &vs);
	b = tmpl_expand(body, var_of, &vs);
	m = g_mime_message_new(TRUE);
	from = la_with(list, "-", "request");
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM, NULL, from);
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, NULL, to);
	text = one_line(s);
	g_mime_message_set_subject(m, text, "utf-8");
	g_free(text);
	now = g_date_time_new_now_local();
	g_mime_message_set_date(m, now);
	g_date_time_unref(now);
	id = g_mime_utils_generate_message_id(strrchr(list, '@') + 1);
	g_mime_message_set_message_id(m, id);
	g_free(id);
	/* RFC 3834: no auto-reply answers it */
	g_mime_object_set_header(GMIME_OBJECT(m), "Auto-Submitted", "auto-replied", NULL);
	id = la_list_id(list);
	text = g_strdup_printf("<%s>", id);
	g_mime_object_set_header(GMIME_OBJECT(m), "List-Id", text, NULL);
	g_free(text);
	g_free(id);
	part = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_text(part, b);
	g_mime_message_set_mime_part(m, GMIME_OBJECT(part));
	g_object_unref(part);
	fo = g_mime_format_options_clone(NULL);
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	text = g_mime_object_to_string(GMIME_OBJECT(m), fo);
	g_mime_format_options_free(fo);
	g_object_unref(m);
	g_free(from);
	g_free(s);
	g_free(b);
	g_free(subject);
	g_free(t);
	return g_bytes_new_take(text, strlen(text));
}

int
lt_queue(struct lstore *s, const char *dir, const char *name, const char *list, const char *to,
	 const char *const *vars, char **why)
{
	GBytes *msg = lt_message(dir, name, list, to, vars, why);
	char *sender, *rcpts[2] = {(char *) to, NULL};
	gsize len;
	const void *data;
	int rc;

	if (msg == NULL)
		return -1;
	sender = la_with(list, "-", "bounces");
	data = g_bytes_get_data(msg, &len);
	rc = ls_out_add(s, sender, rcpts, data, len, why);
	g_free(sender);
	g_bytes_unref(msg);
	return rc;
}

/* ------------------------------------------------------------------ */
/* the outbox                                                           */

/* refused - the relay's answer says 5xx: the message will never go */
static int
refused(const char *said)
{
	static GRegex *rx;

	if (g_once_init_enter(&rx)) {
		GRegex *r = g_regex_new("(^|[ :])5[0-9][0-9][ -]", 0, 0, NULL);

		g_once_init_leave(&rx, r);
	}
	return said && g_regex_match(rx, said, 0, NULL);
}

int
lo_flush(struct lstore *s, const char *relay, unsigned max,
	 void (*log)(void *arg, const char *line), void *arg, char **why)
{
	long now = (long) (g_get_real_time() / G_USEC_PER_SEC);
	unsigned sent = 0;
	struct ls_out o;
	int rc = 0;

	while (sent < max && (rc = ls_out_claim(s, now, 600, &o, why)) == 1) {
		struct reinject r = {.sender = o.sender, .rcpts = o.rcpts};
		char *said = NULL, *line;
		gsize len;

		r.msg = g_bytes_get_data(o.data, &len);
		r.len = len;
		if (reinject_smtp(relay, &r, &said) < 0 && !refused(said)) {
			*why = said;
			ls_out_clear(&o);
			return -1;
		}
		line = g_strdup_printf("to %s%s: %s", o.rcpts[0], o.rcpts[0] && o.rcpts[1]
				       ? " and others" : "", said ? g_strstrip(said) : "");
		log(arg, line);
		g_free(line);
		g_free(said);
		rc = ls_out_done(s, o.id, why);
		ls_out_clear(&o);
		if (rc < 0)
			return -1;
		sent++;
	}
	return rc < 0 ? -1 : (int) sent;
}

/* ------------------------------------------------------------------ */
/* template variables, held posts                                       */

void
lt_vars(GPtrArray *v, const struct ls_list *l, const char *address)
{
	g_ptr_array_set_free_func(v, g_free);
	lt_var(v, "list", l->address);
	g_ptr_array_add(v, g_strdup("list_id"));
	g_ptr_array_add(v, la_list_id(l->address));
	lt_var(v, "description", *l->description ? l->description : l->address);
	lt_var(v, "address", address);
	g_ptr_array_add(v, g_strdup("request"));
	g_ptr_array_add(v, la_with(l->address, "-", "request"));
	g_ptr_array_add(v, g_strdup("owner"));
	g_ptr_array_add(v, la_with(l->address, "-", "owner"));
	g_ptr_array_add(v, g_strdup("subscribe"));
	g_ptr_array_add(v, la_with(l->address, "+", "subscribe"));
	g_ptr_array_add(v, g_strdup("unsubscribe"));
	g_ptr_array_add(v, la_with(l->address, "+", "unsubscribe"));
}

void
lt_var(GPtrArray *v, const char *name, const char *value)
{
	g_ptr_array_add(v, g_strdup(name));
	g_ptr_array_add(v, g_strdup(value ? value : ""));
}

int
lt_send(struct lstore *s, const char *dir, const struct ls_list *l, const char *name,
	const char *to, GPtrArray *v, char **why)
{
	int rc;

	g_ptr_array_add(v, NULL);
	rc = lt_queue(s, dir, name, l->address, to, (const char *const *) v->pdata, why);
	g_ptr_array_remove_index(v, v->len - 1);
	return rc;
}

char *
lm_subject(GMimeMessage *m)
{
	const char *s = m ? g_mime_message_get_subject(m) : NULL;

	return g_strdup(s ? s : "(no subject)");
}

/* held_subject - the subject of a held post's bytes */
static char *
held_subject(GBytes *data)
{
	gsize len;
	const void *d = g_bytes_get_data(data, &len);
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(d, len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
	char *s = lm_subject(m);

	if (m)
		g_object_unref(m);
	g_object_unref(p);
	g_object_unref(st);
	return s;
}

int
lm_decide(struct lstore *s, const char *dir, const char *list, const char *token, int approve,
	  char **why)
{
	struct ls_token t;
	struct ls_list l;
	long now = (long) (g_get_real_time() / G_USEC_PER_SEC);
	int rc;

	if ((rc = ls_token_get(s, token, now, &t, why)) <= 0 || strcmp(t.action, "post")
	    || strcmp(t.list, list) || t.data == NULL) {
		ls_token_clear(&t);
		return rc < 0 ? -1 : 0;
	}
	if ((rc = ls_list_get(s, list, &l, why)) <= 0) {
		ls_token_clear(&t);
		ls_list_clear(&l);
		return rc;
	}
	if (approve) {
		/* the post goes to the list again, through the MTA and sinkd,
		 * with the token that lets it pass: expanded to the members
		 * of the moment, as any post */
		GString *m = g_string_new(NULL);
		gsize len;
		const char *d = g_bytes_get_data(t.data, &len);
		char *rcpts[2] = {(char *) list, NULL};

		g_string_append_printf(m, "%s: %s\r\n", LM_APPROVED_FIELD, token);
		g_string_append_len(m, d, (gssize) len);
		rc = ls_token_rekey(s, token, "release", now + 86400, 0, why) < 0
			|| ls_out_add(s, t.address, rcpts, m->str, m->len, why) < 0 ? -1 : 1;
		g_string_free(m, TRUE);
	} else {
		struct ls_token gone;

		rc = ls_token_take(s, token, now, &gone, why);
		if (rc == 1 && *t.address) {
			GPtrArray *v = g_ptr_array_new();
			char *subj = held_subject(t.data);

			lt_vars(v, &l, t.address);
			lt_var(v, "subject", subj);
			if (lt_send(s, dir, &l, "rejected", t.address, v, why) < 0)
				rc = -1;
			g_ptr_array_free(v, TRUE);
			g_free(subj);
		}
		ls_token_clear(&gone);
	}
	ls_token_clear(&t);
	ls_list_clear(&l);
	return rc;
}
