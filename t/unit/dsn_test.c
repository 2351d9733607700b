/*
 * dsn_test - dsn_parse(): the bounces of t/lists/dsn (real ones from
 *	mail libraries' test suites; constructed ones: a Postfix bounce
 *	for two recipients in CRLF, status parts in base64 and
 *	quoted-printable, a report inside a multipart/mixed and one too
 *	deep for it, a global DSN in UTF-8), what is no DSN (a reply, a
 *	read receipt, broken reports), hostile field values, and the
 *	bounds: recipients, blocks, bytes of the status part, bytes of
 *	the message, and a message too costly for GMime to parse whole
 *
 *	t/unit/dsn_test [DIR]	(DIR: the samples; t/lists/dsn by default,
 *				found from the program's own path)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "../../lists/dsn.h"
#include "tap.h"

static char *dir;		/* the samples */

/* sample - dsn_parse() of the sample name; *why as it says */
static struct dsn *
sample(const char *name, char **why)
{
	char *path = g_build_filename(dir, name, NULL), *data;
	GError *err = NULL;
	struct dsn *d;
	gsize len;

	if (!g_file_get_contents(path, &data, &len, &err)) {
		printf("Bail out! %s\n", err->message);
		exit(255);
	}
	d = dsn_parse(data, len, why);
	g_free(data);
	g_free(path);
	return d;
}

/* report - a bounce whose status part holds status, in transfer
 * encoding cte (NULL: as it is) */
static char *
report(const char *status, const char *cte)
{
	return g_strdup_printf("From: postmaster@mx.example.net\n"
			       "To: announce-bounces@list.example\n"
			       "Subject: Delivery Status Notification\n"
			       "MIME-Version: 1.0\n"
			       "Content-Type: multipart/report; report-type=delivery-status;"
			       " boundary=\"rb\"\n"
			       "\n"
			       "--rb\n"
			       "Content-Type: text/plain\n"
			       "\n"
			       "A bounce.\n"
			       "\n"
			       "--rb\n"
			       "Content-Type: message/delivery-status\n"
			       "%s%s%s"
			       "\n"
			       "%s\n"
			       "--rb--\n",
			       cte ? "Content-Transfer-Encoding: " : "", cte ? cte : "",
			       cte ? "\n" : "", status);
}

/* parse - dsn_parse() of the string msg, which it frees */
static struct dsn *
parse(char *msg, char **why)
{
	struct dsn *d = dsn_parse(msg, strlen(msg), why);

	g_free(msg);
	return d;
}

/* base64 - s base64-encoded in lines of 76 */
static char *
base64(const char *s)
{
	char *b = g_base64_encode((const guchar *) s, strlen(s));
	GString *out = g_string_new(NULL);
	size_t i, n = strlen(b);

	for (i = 0; i < n; i += 76) {
		g_string_append_len(out, b + i, MIN(76, n - i));
		g_string_append_c(out, '\n');
	}
	g_free(b);
	return g_string_free(out, FALSE);
}

/* rcpt - recipient i of d, or one with nothing in it when d has none */
static const struct dsn_rcpt *
rcpt(const struct dsn *d, guint i)
{
	static const struct dsn_rcpt none = {NULL, NULL, DSN_UNKNOWN, "", NULL};

	return d && i < d->rcpts->len ? g_ptr_array_index(d->rcpts, i) : &none;
}

/* check - recipient i of d is all this */
static void
check(const struct dsn *d, guint i, const char *final, const char *original,
      enum dsn_action a, const char *status, const char *diag, const char *what)
{
	const struct dsn_rcpt *r = rcpt(d, i);
	char *w;

	w = g_strdup_printf("%s: recipient %u's Final-Recipient", what, i);
	is_str(r->final, final, w);
	g_free(w);
	w = g_strdup_printf("%s: recipient %u's Original-Recipient", what, i);
	is_str(r->original, original, w);
	g_free(w);
	w = g_strdup_printf("%s: recipient %u's Action", what, i);
	is_str(dsn_action_name(r->action), dsn_action_name(a), w);
	g_free(w);
	w = g_strdup_printf("%s: recipient %u's Status", what, i);
	is_str(r->status, status, w);
	g_free(w);
	w = g_strdup_printf("%s: recipient %u's Diagnostic-Code", what, i);
	is_str(r->diagnostic, diag, w);
	g_free(w);
}

/* clean_str - s is NULL, or valid UTF-8 without control characters,
 * at most max bytes */
static int
clean_str(const char *s, size_t max)
{
	const char *p;

	if (s == NULL)
		return 1;
	if (strlen(s) > max || !g_utf8_validate(s, -1, NULL))
		return 0;
	for (p = s; *p; p = g_utf8_next_char(p))
		if (g_unichar_iscntrl(g_utf8_get_char(p)))
			return 0;
	return 1;
}

/* sane - every string of d is clean, addresses look like addresses */
static void
sane(const struct dsn *d, const char *what)
{
	int good = d != NULL && clean_str(d->reporting_mta, DSN_MAX_ADDR - 1)
		   && d->rcpts->len <= DSN_MAX_RCPTS;
	guint i;

	for (i = 0; good && i < d->rcpts->len; i++) {
		const struct dsn_rcpt *r = rcpt(d, i);

		good = clean_str(r->final, DSN_MAX_ADDR - 1) && clean_str(r->original, DSN_MAX_ADDR - 1)
		       && clean_str(r->diagnostic, DSN_MAX_DIAG) && clean_str(r->status, 9)
		       && (r->final == NULL || (strchr(r->final, '@') && !strchr(r->final, ' ')))
		       && (r->original == NULL || (strchr(r->original, '@') && !strchr(r->original, ' ')));
	}
	ok(good, "%s: every string is clean UTF-8 and in bounds", what);
}

/* test_postfix - two recipients, failed and delayed, in CRLF */
static void
test_postfix(void)
{
	char *why = NULL;
	struct dsn *d = sample("lists/dsn/postfix-two.eml", &why);

	ok(d != NULL && why == NULL, "postfix-two.eml is a DSN, no why");
	is_str(d ? d->reporting_mta : NULL, "mx.list.example", "postfix: Reporting-MTA, type left out");
	is_int(d ? d->rcpts->len : 0, 2, "postfix: two recipients (the per-message block is none)");
	check(d, 0, "alice@example.net", "alice@example.net", DSN_FAILED, "5.1.1",
	      "smtp; 550 5.1.1 <alice@example.net>: Recipient address rejected:"
	      " User unknown in virtual mailbox table", "postfix");
	check(d, 1, "bob@example.org", "Bob@Example.org", DSN_DELAYED, "4.4.1",
	      "X-Postfix; connect to mx.example.org[198.51.100.7]:25: Connection timed out",
	      "postfix");
	sane(d, "postfix");
	dsn_free(d);
	g_free(why);
}

/* one sample's expected result: NULL when why is set */
struct expect {
	const char *name;
	const char *why;		/* not a DSN: why, exactly */
	const char *mta;
	int n;				/* recipients */
	guint i;			/* the one checked */
	const char *final, *original;
	enum dsn_action action;
	const char *status, *diag;
};

static const struct expect samples[] = {
	{"corpus/mailparser/delivery-status.eml", NULL, "amazonses.com", 1, 0,
	 "xxxx@xxxx.com", NULL, DSN_FAILED, "5.1.1",
	 "Amazon SES did not send the message to this address because it is on the"
	 " suppression list for your account. For more information about removing"
	 " addresses from the suppression list, see the Amazon SES Developer Guide at"
	 " https://docs.aws.amazon.com/ses/latest/DeveloperGuide/"
	 "sending-email-suppression-list.html"},
	/* no Status field: "" */
	{"corpus/mimekit/messages/delivery-status.txt", NULL, "mm1", 1, 0,
	 "newsletter-request@imusic.com", NULL, DSN_FAILED, "", "X-LOCAL; 500 (err.nosuchuser)"},
	{"corpus/mimekit/messages/delivery-status-no-blank-line.txt", NULL, "mm1", 1, 0,
	 "newsletter-request@imusic.com", NULL, DSN_FAILED, "", "X-LOCAL; 500 (err.nosuchuser)"},
	/* two empty lines between the blocks, no Final-Recipient, no
	 * Action, no empty line (nor closing boundary) at the end */
	{"corpus/mimekit/messages/delivery-status-multiple-blank-lines.txt", NULL, "someserver.com", 1, 0,
	 NULL, "orig_recip@customer.com", DSN_UNKNOWN, "5.5.0", "smtp;550 Requested action not taken"},
	/* the per-recipient block base64-encoded inside the status part's
	 * own content: no fields in it, so no recipient */
	{"corpus/mimekit/messages/bounce.txt", NULL, "hmail.jitbit.com", 0, 0,
	 NULL, NULL, DSN_UNKNOWN, "", NULL},
	/* no report-type; a comment after the status code */
	{"corpus/python-email/msg_16.txt", NULL, "cougar.noc.ucla.edu", 1, 0,
	 "jangel1@cougar.noc.ucla.edu", "jangel1@cougar.noc.ucla.edu", DSN_FAILED, "5.0.0", NULL},
	{"corpus/python-email/msg_43.txt", NULL, "sacspam01.dot.ca.gov", 25, 24,
	 "xxxxxxx@dot.ca.gov", NULL, DSN_FAILED, "5.7.1",
	 "smtp; 550 5.7.1 Message content rejected, id=01956-02-2 - BANNED: auto__mail.python.bat"},
	{"lists/dsn/base64-status.eml", NULL, "mail.example.com", 1, 0,
	 "carol@example.com", NULL, DSN_FAILED, "5.2.2", "smtp; 552 5.2.2 Mailbox full"},
	/* =2B, and soft line breaks in the address and the diagnostic */
	{"lists/dsn/qp-status.eml", NULL, "mx.example.com", 1, 0,
	 "dave+news@example.com", NULL, DSN_FAILED, "5.1.10",
	 "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"},
	{"lists/dsn/nested-mixed.eml", NULL, "relay.example.org", 1, 0,
	 "erin@example.org", NULL, DSN_FAILED, "5.4.1", NULL},
	{"lists/dsn/global.eml", NULL, "mx.example.de", 1, 0,
	 "j\xc3\xb6rg@b\xc3\xbc" "cher.example", NULL, DSN_FAILED, "5.1.1",
	 "smtp; 550 5.1.1 <j\xc3\xb6rg@b\xc3\xbc" "cher.example>: Empf\xc3\xa4nger unbekannt"},
	/* not DSNs */
	{.name = "lists/dsn/plain.eml", .why = "no multipart/report of delivery status"},
	{.name = "lists/dsn/mdn.eml", .why = "no multipart/report of delivery status"},
	{.name = "lists/dsn/too-deep.eml", .why = "no multipart/report of delivery status"},
	{.name = "corpus/python-email/msg_05.txt", .why = "no delivery-status part in the report"},
	/* the boundary parameter cut short: GMime finds no parts */
	{.name = "corpus/python-email/msg_25.txt", .why = "no delivery-status part in the report"},
};

/* test_samples - the table above */
static void
test_samples(void)
{
	const struct expect *e;
	struct dsn *d;
	char *why;

	for (e = samples; e < samples + G_N_ELEMENTS(samples); e++) {
		why = NULL;
		d = sample(e->name, &why);
		if (e->why) {
			ok(d == NULL, "%s is no DSN", e->name);
			is_str(why, e->why, e->name);
		} else {
			ok(d != NULL && why == NULL, "%s is a DSN, no why", e->name);
			is_str(d ? d->reporting_mta : NULL, e->mta, e->name);
			is_int(d ? (int) d->rcpts->len : -1, e->n, e->name);
			if (e->n > 0)
				check(d, e->i, e->final, e->original, e->action, e->status, e->diag,
				      e->name);
			sane(d, e->name);
		}
		dsn_free(d);
		g_free(why);
	}
}

/* test_report_type - the report-type decides, in any case; the content
 * type of the part too */
static void
test_report_type(void)
{
	char *path = g_build_filename(dir, "lists/dsn/mdn.eml", NULL), *data, *msg, *why = NULL;
	struct dsn *d;
	GRegex *rx;

	g_file_get_contents(path, &data, NULL, NULL);
	/* mdn.eml with report-type=Delivery-Status is a DSN */
	rx = g_regex_new("report-type=disposition-notification", 0, 0, NULL);
	msg = g_regex_replace_literal(rx, data, -1, 0, "report-type=Delivery-Status", 0, NULL);
	d = parse(msg, &why);
	ok(d != NULL, "report-type=Delivery-Status: a DSN");
	is_int(d ? d->rcpts->len : 0, 1, "report-type=Delivery-Status: one recipient");
	check(d, 0, "frank@example.com", NULL, DSN_FAILED, "5.0.0", NULL, "Delivery-Status");
	dsn_free(d);
	g_regex_unref(rx);
	/* ... and without its message/delivery-status part, no DSN */
	rx = g_regex_new("message/delivery-status", 0, 0, NULL);
	msg = g_regex_replace_literal(rx, data, -1, 0, "text/plain", 0, NULL);
	g_free(data);
	data = msg;
	g_regex_unref(rx);
	rx = g_regex_new("report-type=disposition-notification", 0, 0, NULL);
	msg = g_regex_replace_literal(rx, data, -1, 0, "report-type=delivery-status", 0, NULL);
	ok(parse(msg, &why) == NULL, "a delivery-status report without a status part: no DSN");
	is_str(why, "no delivery-status part in the report", "... and why");
	g_free(why);
	why = NULL;
	ok(dsn_parse("", 0, &why) == NULL, "an empty message: no DSN");
	is_str(why, "an empty message", "... and why");
	g_free(why);
	ok(dsn_parse("x", 1, NULL) == NULL, "why may be NULL");
	g_regex_unref(rx);
	g_free(data);
	g_free(path);
}

/* test_blocks - how blocks are cut and read */
static void
test_blocks(void)
{
	struct dsn *d;

	/* no empty line after the per-message fields */
	d = parse(report("Reporting-MTA: dns; one.example\n"
			 "Final-Recipient: rfc822; first@example.com\n"
			 "Action: failed\n"
			 "Status: 5.1.1\n", NULL), NULL);
	is_str(d ? d->reporting_mta : NULL, "one.example", "one block: Reporting-MTA");
	is_int(d ? d->rcpts->len : 0, 1, "one block: also one recipient");
	check(d, 0, "first@example.com", NULL, DSN_FAILED, "5.1.1", NULL, "one block");
	dsn_free(d);
	/* empty lines with white space in them, CRLF, leading empty lines,
	 * a field folded over three lines, the same field twice */
	d = parse(report("\r\n \r\nReporting-MTA: dns;\r\n  two.example\r\n \t\r\n"
			 "Final-Recipient: rfc822; a@example.com\r\n"
			 "Final-Recipient: rfc822; not-this@example.com\r\n"
			 "Action: delayed\r\n"
			 "Diagnostic-Code: smtp; 451 4.3.0\r\n\tTry again\r\n   later\r\n"
			 "   \r\n\r\n\t\r\n"
			 "Final-Recipient: rfc822; b@example.com\r\n"
			 "Action: delivered\r\n", NULL), NULL);
	is_str(d ? d->reporting_mta : NULL, "two.example", "folded Reporting-MTA");
	is_int(d ? d->rcpts->len : 0, 2, "white-space lines end blocks");
	check(d, 0, "a@example.com", NULL, DSN_DELAYED, "", "smtp; 451 4.3.0 Try again later",
	      "folded");
	check(d, 1, "b@example.com", NULL, DSN_DELIVERED, "", NULL, "folded");
	sane(d, "folded");
	dsn_free(d);
	/* a status part with nothing in it (base64 of nothing): a DSN
	 * without recipients */
	d = parse(report("", "base64"), NULL);
	ok(d != NULL && d->reporting_mta == NULL, "empty status part: a DSN, no Reporting-MTA");
	is_int(d ? (int) d->rcpts->len : -1, 0, "empty status part: no recipients");
	dsn_free(d);
}

/* test_hostile - values that are not what they should be */
static void
test_hostile(void)
{
	char *local = g_strnfill(DSN_MAX_ADDR, 'l'), *e_acute, *status, *cut, *want;
	GString *s = g_string_new(NULL);
	struct dsn *d;
	int i;

	for (i = 0; i < 300; i++)
		g_string_append(s, "\xc3\xa9");
	e_acute = g_string_free(s, FALSE);
	status = g_strconcat(
		"Reporting-MTA: dns; evil" "\x01" "host.example\n"
		"\n"
		"Final-Recipient: rfc822; user name@example.com\n"
		"Action: FAILED (permanent)\n"
		"Status: 5.1.1234\n"
		"\n"
		"Final-Recipient: rfc822; a@b@example.com\n"
		"Action: delayed\n"
		"Status: 6.1.1\n"
		"\n"
		"Final-Recipient: RFC822;<ok@example.com>\n"
		"Action: bounced\n"
		"Status: 5.1\n"
		"\n"
		"Final-Recipient: rfc822; ctl" "\x01" "x@example.com\n"
		"Action: relayed\n"
		"Status: 4.7.0 (greylisted)\n"
		"\n"
		"Final-Recipient: rfc822; ", local, "@example.com\n"
		"Action: expanded\n"
		"Status: 2.0.0\n"
		"\n"
		"Final-Recipient: rfc822; @example.com\n"
		"Original-Recipient: rfc822; user@\n"
		"Action: delivered\n"
		"Status: 2.1.5\n"
		"\n"
		"Final-Recipient: rfc822; dot@.example.com\n"
		"Original-Recipient: rfc822; @route.example:x@example.com\n"
		"Status: 5.1.1x\n"
		"Diagnostic-Code: smtp; 550" "\x01" "bad" "\x7f" "thing" "\x1b" "[31m red\n"
		"\n"
		"Final-Recipient: rfc822; long@example.com\n"
		"Status:5.1.1\n"
		"Diagnostic-Code: a", e_acute, "\n"
		"\n"
		"Final-Recipient: rfc822; latin@example.com\n"
		"Diagnostic-Code: caf" "\xe9" " " "\xff\xfe" "\n"
		"\n"
		"Action: failed\n"
		"Status: 5.0.0\n"
		"\n"
		"not a field at all\n"
		"Final-Recipient: rfc822; hidden@example.com\n", NULL);
	d = parse(report(status, NULL), NULL);
	is_str(d ? d->reporting_mta : NULL, "evil host.example", "control character in Reporting-MTA");
	/* the block without Final- or Original-Recipient, and the one whose
	 * first line is no field, are no recipients */
	is_int(d ? d->rcpts->len : 0, 9, "hostile: every block that names a recipient");
	check(d, 0, NULL, NULL, DSN_FAILED, "", NULL, "space in address, comment after action");
	check(d, 1, NULL, NULL, DSN_DELAYED, "", NULL, "two @, class 6");
	check(d, 2, "ok@example.com", NULL, DSN_UNKNOWN, "", NULL, "<>, unknown action, 5.1");
	check(d, 3, NULL, NULL, DSN_RELAYED, "4.7.0", NULL, "control character, comment");
	check(d, 4, NULL, NULL, DSN_EXPANDED, "2.0.0", NULL, "address too long");
	check(d, 5, NULL, NULL, DSN_DELIVERED, "2.1.5", NULL, "no local part, no domain");
	check(d, 6, NULL, NULL, DSN_UNKNOWN, "", "smtp; 550 bad thing [31m red",
	      "dot domain, route, 5.1.1x, control characters");
	/* cut to DSN_MAX_DIAG bytes at a character: the "a" and 255 of the
	 * 300 two-byte ones, 511 bytes */
	cut = g_strndup(e_acute, 2 * 255);
	want = g_strconcat("a", cut, NULL);
	check(d, 7, "long@example.com", NULL, DSN_UNKNOWN, "5.1.1", want, "long diagnostic");
	/* GMime reads 8-bit that is not UTF-8 as ISO-8859-1 */
	check(d, 8, "latin@example.com", NULL, DSN_UNKNOWN, "",
	      "caf\xc3\xa9 \xc3\xbf\xc3\xbe", "8-bit diagnostic");
	sane(d, "hostile");
	dsn_free(d);
	g_free(want);
	g_free(cut);
	g_free(status);
	g_free(e_acute);
	g_free(local);
}

/* test_rcpt_cap - 5000 recipient blocks: the first DSN_MAX_RCPTS */
static void
test_rcpt_cap(void)
{
	GString *s = g_string_new("Reporting-MTA: dns; big.example\n\n");
	struct dsn *d;
	char *want;
	int i;

	for (i = 0; i < 5000; i++)
		g_string_append_printf(s, "Final-Recipient:rfc822;u%04d@x.ex\nAction:failed\n\n", i);
	ok(s->len < DSN_MAX_STATUS, "5000 blocks within the bytes read");
	d = parse(report(s->str, NULL), NULL);
	is_int(d ? d->rcpts->len : 0, DSN_MAX_RCPTS, "5000 recipients: the first DSN_MAX_RCPTS kept");
	check(d, 0, "u0000@x.ex", NULL, DSN_FAILED, "", NULL, "5000");
	want = g_strdup_printf("u%04d@x.ex", DSN_MAX_RCPTS - 1);
	check(d, DSN_MAX_RCPTS - 1, want, NULL, DSN_FAILED, "", NULL, "5000");
	g_free(want);
	dsn_free(d);
	g_string_free(s, TRUE);
}

/* test_block_cap - blocks that name no recipient count too */
static void
test_block_cap(void)
{
	GString *s;
	struct dsn *d;
	int junk, i;

	for (junk = DSN_MAX_BLOCKS - 2; junk <= DSN_MAX_BLOCKS - 1; junk++) {
		s = g_string_new("Reporting-MTA: dns; junk.example\n\n");
		for (i = 0; i < junk; i++)
			g_string_append_printf(s, "X-Junk: %d\n\n", i);
		g_string_append(s, "Final-Recipient: rfc822; last@example.com\nAction: failed\n\n");
		d = parse(report(s->str, NULL), NULL);
		is_int(d ? (int) d->rcpts->len : -1, junk == DSN_MAX_BLOCKS - 2,
		       junk == DSN_MAX_BLOCKS - 2 ? "the recipient in the last block parsed is read"
		       : "the recipient in the block after it is not");
		dsn_free(d);
		g_string_free(s, TRUE);
	}
}

/* test_byte_cap - a status part over DSN_MAX_STATUS decoded bytes, in
 * base64: the blocks that end within it, none cut through */
static void
test_byte_cap(void)
{
	const char *pre = "Reporting-MTA: dns; big.example\nX-Pad: ";
	char *block = g_strdup_printf("Final-Recipient: rfc822; u%05d@example.com\n"
				      "Action: failed\nDiagnostic-Code: smtp; 550 %0400d\n\n", 0, 0);
	size_t len = strlen(block), pad, first, n, i;
	GString *s = g_string_new(pre);
	struct dsn *d;
	char *b64, *want;

	/* the cap falls 35 bytes into a block: "Final-Recipient: rfc822;
	 * u01234@exa", an address that looks like one */
	pad = ((DSN_MAX_STATUS - 35 - strlen(pre) - 2) % len + len) % len;
	for (i = 0; i < pad; i++)
		g_string_append_c(s, 'p');
	g_string_append(s, "\n\n");
	first = s->len;
	n = (DSN_MAX_STATUS - first) / len;
	for (i = 0; i < n + 20; i++)
		g_string_append_printf(s, "Final-Recipient: rfc822; u%05zu@example.com\n"
				       "Action: failed\nDiagnostic-Code: smtp; 550 %0400d\n\n", i, 0);
	ok(n < DSN_MAX_RCPTS && (DSN_MAX_STATUS - first) % len == 35,
	   "byte cap: fewer blocks than the recipient cap, cut 35 bytes into one");
	b64 = base64(s->str);
	d = parse(report(b64, "base64"), NULL);
	is_int(d ? d->rcpts->len : 0, n, "byte cap: the blocks that end within the decoded bytes read");
	want = g_strdup_printf("u%05zu@example.com", n - 1);
	is_str(rcpt(d, n - 1)->final, want, "byte cap: the last one whole");
	g_free(want);
	dsn_free(d);
	g_free(b64);
	g_string_free(s, TRUE);
	g_free(block);
}

/* nest - depth multiparts, each inside the one before, then as many
 * lines as lines says, each beginning with "--" */
static void
nest(GString *s, int depth, int lines)
{
	int i;

	for (i = 0; i < depth; i++)
		g_string_append_printf(s, "Content-Type: multipart/mixed; boundary=\"n%d\"\n\n--n%d\n",
				       i, i);
	g_string_append(s, "Content-Type: text/plain\n\n");
	for (i = 0; i < lines; i++)
		g_string_append(s, "--n1000-not-quite-a-boundary-but-close-------------------\n");
}

/* test_parse_cost - a message built to make GMime's boundary checks slow
 * is parsed only in part (each within DSN_MAX_INPUT) */
static void
test_parse_cost(void)
{
	char *why = NULL, *tail;
	struct dsn *d;
	GString *s;
	int i;

	/* after the report: the report is read */
	s = g_string_new("Content-Type: multipart/report; report-type=delivery-status;"
			 " boundary=\"rb\"\n\n--rb\nContent-Type: message/delivery-status\n\n"
			 "Reporting-MTA: dns; deep.example\n\n"
			 "Final-Recipient: rfc822; h@example.com\nAction: failed\n\n"
			 "--rb\n");
	nest(s, 1100, 5000);
	d = dsn_parse(s->str, s->len, &why);
	ok(d != NULL && why == NULL, "deep nesting after the report: a DSN");
	check(d, 0, "h@example.com", NULL, DSN_FAILED, "", NULL, "deep after");
	dsn_free(d);
	g_string_free(s, TRUE);

	/* before it: the report is never reached */
	s = g_string_new("Content-Type: multipart/mixed; boundary=\"top\"\n\n--top\n");
	nest(s, 1100, 5000);
	g_string_append(s, "--top\nContent-Type: multipart/report; report-type=delivery-status;"
			" boundary=\"rb\"\n\n--rb\nContent-Type: message/delivery-status\n\n"
			"Reporting-MTA: dns; deep.example\n\n"
			"Final-Recipient: rfc822; h@example.com\nAction: failed\n\n--rb--\n--top--\n");
	d = dsn_parse(s->str, s->len, &why);
	ok(d == NULL, "deep nesting before the report: parsed only in part, no DSN");
	tail = g_strdup_printf(" of its %zu bytes (no more are parsed)", s->len);
	ok(why && g_str_has_prefix(why, "no multipart/report of delivery status in the first ")
	   && g_str_has_suffix(why, tail), "... and why says so: %s", why ? why : "(null)");
	g_free(tail);
	g_free(why);
	g_string_free(s, TRUE);

	/* the parse cut inside the status part: the block it cut is left
	 * out, though what is left of it ends with no field cut through */
	s = g_string_new(NULL);
	for (i = 0; i < 1100; i++)
		g_string_append_printf(s, "Content-Type-Note-%d: costly\n", i);
	g_string_append(s, "Content-Type: multipart/report; report-type=delivery-status;"
			" boundary=\"rb\"\n\n--rb\nContent-Type: message/delivery-status\n\n"
			"Reporting-MTA: dns; deep.example\n\n"
			"Final-Recipient: rfc822; a@example.com\nAction: failed\n\n"
			"Final-Recipient: rfc822; b@example.com\nAction: failed\n");
	for (i = 0; i < 5000; i++)
		g_string_append(s, "--------------------------------------------------\n");
	g_string_append(s, "\n--rb--\n");
	d = dsn_parse(s->str, s->len, &why);
	is_int(d ? d->rcpts->len : 0, 1, "parse cut in the status part: its last block left out");
	check(d, 0, "a@example.com", NULL, DSN_FAILED, "", NULL, "cut in status");
	dsn_free(d);
	g_string_free(s, TRUE);
}

/* pad - n bytes (n > 0) of text in lines onto s */
static void
pad(GString *s, size_t n)
{
	size_t line;

	while (n > 0) {
		line = MIN(n, 100);
		g_string_append_len(s, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", line - 1);
		g_string_append_c(s, '\n');
		n -= line;
	}
}

/* test_input_cap - GMime reads the first DSN_MAX_INPUT bytes only */
static void
test_input_cap(void)
{
	const char *head = "Content-Type: multipart/report; report-type=delivery-status;"
			   " boundary=\"rb\"\n\n--rb\nContent-Type: text/plain\n\n";
	const char *status = "\n--rb\nContent-Type: message/delivery-status\n\n"
			     "Reporting-MTA: dns; cap.example\n\n"
			     "Final-Recipient: rfc822; a@example.com\nAction: failed\n\n";
	char *why = NULL, *want;
	struct dsn *d;
	GString *s;

	/* a report past the first DSN_MAX_INPUT bytes is not seen */
	s = g_string_new("Content-Type: multipart/mixed; boundary=\"top\"\n\n--top\n\n");
	pad(s, DSN_MAX_INPUT);
	g_string_append_printf(s, "--top\n%s%s--rb--\n--top--\n", head, status + 1);
	ok(dsn_parse(s->str, s->len, &why) == NULL, "a report past the input cap: no DSN");
	want = g_strdup_printf("no multipart/report of delivery status in the first %d of its %zu"
			       " bytes (no more are parsed)", DSN_MAX_INPUT, s->len);
	is_str(why, want, "... and why");
	g_free(want);
	g_free(why);
	g_string_free(s, TRUE);

	/* the cap 30 bytes into the second block, at "rfc822; bob@e": the
	 * block is left out */
	s = g_string_new(head);
	pad(s, DSN_MAX_INPUT - strlen(head) - strlen(status) - 30);
	g_string_append(s, status);
	ok(s->len == DSN_MAX_INPUT - 30, "input cap: 30 bytes into the second block");
	g_string_append(s, "Final-Recipient: rfc822; bob@example.com\nAction: failed\n\n--rb--\n");
	d = dsn_parse(s->str, s->len, &why);
	ok(d != NULL && why == NULL, "a status part cut by the input cap: a DSN");
	is_int(d ? d->rcpts->len : 0, 1, "input cap: the block it cut is left out");
	check(d, 0, "a@example.com", NULL, DSN_FAILED, "", NULL, "input cap");
	dsn_free(d);
	g_string_free(s, TRUE);
}

/* test_names - dsn_action_name(); dsn_free(NULL) does nothing */
static void
test_names(void)
{
	is_str(dsn_action_name(DSN_FAILED), "failed", "DSN_FAILED");
	is_str(dsn_action_name(DSN_DELAYED), "delayed", "DSN_DELAYED");
	is_str(dsn_action_name(DSN_DELIVERED), "delivered", "DSN_DELIVERED");
	is_str(dsn_action_name(DSN_RELAYED), "relayed", "DSN_RELAYED");
	is_str(dsn_action_name(DSN_EXPANDED), "expanded", "DSN_EXPANDED");
	is_str(dsn_action_name(DSN_UNKNOWN), "unknown", "DSN_UNKNOWN");
	is_str(dsn_action_name((enum dsn_action) 99), "unknown", "out of range");
	dsn_free(NULL);
}

int
main(int argc, char **argv)
{
	char *self = g_path_get_dirname(argv[0]);

	dir = argc > 1 ? g_strdup(argv[1]) : g_build_filename(self, "..", NULL);
	g_free(self);
	g_mime_init();
	test_postfix();
	test_samples();
	test_report_type();
	test_blocks();
	test_hostile();
	test_rcpt_cap();
	test_block_cap();
	test_byte_cap();
	test_parse_cost();
	test_input_cap();
	test_names();
	g_mime_shutdown();
	g_free(dir);
	return tap_done();
}
