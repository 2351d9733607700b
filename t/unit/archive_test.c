/*
 * archive_test - the archive's stores (src/astore.c): mailbox names made
 * safe for the file system; a Maildir put (the layout, the file names,
 * LF copies, modes, nothing left in tmp/, a second put of the key storing
 * nothing, also after a reader moved the file to cur/), an outbound
 * message in the sender's mailbox, a store that cannot be written tried
 * again, an event without a copy refused; the SQL stores (SQLite, and
 * PostgreSQL when ASTORE_PG names a database): one row per key, the
 * message byte-identical, searches by each field, keys by their start.
 *
 *	archive_test DIR	the stores are made under DIR, and kept
 */
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "../../src/astore.h"
#include "tap.h"

static const char message[] =
	"From: Alice <alice@one.test>\r\n"
	"To: bob@one.test\r\n"
	"Subject: Quarterly Figures\r\n"
	"Message-ID: <q4.1@one.test>\r\n"
	"Date: Thu, 03 Dec 2026 07:00:00 +0000\r\n"
	"\r\n"
	"line one\r\n"
	"a bare\rCR and a bare\nLF\r\n"
	".\r\n";

static char *Dir;

/* event - an event as sinkd builds it (g_object_unref: json_object_unref) */
static JsonObject *
event(const char *qid, const char *time, const char *direction, const char *sender,
      const char *rcpts_json, const char *subject)
{
	char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, message, -1);
	char *js = g_strdup_printf(
		"{\"version\":1,\"key\":\"%s.%s\",\"time\":\"%s\",\"queue_id\":\"%s\","
		"\"sender\":\"%s\",\"recipients\":%s,\"direction\":\"%s\",\"policy\":[\"default\"],"
		"\"verdict\":\"accept\",\"handler\":null,\"facts\":{\"x\":\"1\"},"
		"\"headers\":{\"from\":[\"Alice <alice@one.test>\"],\"to\":[\"bob@one.test\"],"
		"\"subject\":[\"%s\"],\"message-id\":[\"<%s@one.test>\"]},"
		"\"size\":%zu,\"sha256\":\"%s\"}",
		qid, sha, time, qid, sender, rcpts_json, direction, subject, qid,
		sizeof(message) - 1, sha);
	JsonParser *p = json_parser_new();
	JsonObject *o = NULL;

	if (json_parser_load_from_data(p, js, -1, NULL))
		o = json_object_ref(json_node_get_object(json_parser_get_root(p)));
	g_object_unref(p);
	g_free(js);
	g_free(sha);
	return o;
}

static int
by_name(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* files_in - the names in dir, sorted, ' ' between (g_free) */
static char *
files_in(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	GPtrArray *v = g_ptr_array_new_with_free_func(g_free);
	const char *n;
	char *r;

	while (d && (n = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(v, g_strdup(n));
	if (d)
		g_dir_close(d);
	g_ptr_array_sort(v, by_name);
	g_ptr_array_add(v, NULL);
	r = g_strjoinv(" ", (char **) v->pdata);
	g_ptr_array_free(v, TRUE);
	return r;
}

static char *
path(const char *a, const char *b, const char *c)
{
	return g_build_filename(Dir, a, b, c, NULL);
}

/* mode_of - the permission bits of p, or -1 */
static int
mode_of(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? (int) (st.st_mode & 07777) : -1;
}

/* test_names - mailbox names for the file system */
static void
test_names(void)
{
	char long_local[301], *c, *d, *l;

	memset(long_local, 'A', 300);
	long_local[300] = 0;
	c = astore_component("../x", ASTORE_LOCAL_MAX);
	is_str(c, "_._x", "\"../x\": no '/', no leading '.'");
	g_free(c);
	c = astore_component(".hidden", ASTORE_LOCAL_MAX);
	is_str(c, "_hidden", "\".hidden\": not hidden");
	g_free(c);
	c = astore_component("..", ASTORE_LOCAL_MAX);
	is_str(c, "_.", "\"..\" is not the parent");
	g_free(c);
	c = astore_component("", ASTORE_LOCAL_MAX);
	is_str(c, "_", "\"\" is \"_\"");
	g_free(c);
	c = astore_component("a\tb\x7f/C", ASTORE_LOCAL_MAX);
	is_str(c, "a_b__c", "control characters and '/' as '_', letters in lower case");
	g_free(c);
	c = astore_component(long_local, ASTORE_LOCAL_MAX);
	is_int((long long) strlen(c), ASTORE_LOCAL_MAX, "a long local part is cut to 64 bytes");
	ok(g_regex_match_simple("^a{47}~[0-9a-f]{16}$", c, 0, 0), "  its start, '~' and a hash: %s", c);
	g_free(c);
	long_local[299] = 'B';
	c = astore_component(long_local, ASTORE_LOCAL_MAX);
	d = astore_component("AAAA", ASTORE_LOCAL_MAX);
	long_local[299] = 'A';
	l = astore_component(long_local, ASTORE_LOCAL_MAX);
	ok(strcmp(c, l) != 0, "  two long names that differ at the end stay apart");
	g_free(c);
	g_free(d);
	g_free(l);
	astore_mailbox("<Bob.Smith@Example.COM>", &d, &l);
	is_str(d, "example.com", "astore_mailbox: the domain");
	is_str(l, "bob.smith", "  the local part");
	g_free(d);
	g_free(l);
	astore_mailbox("", &d, &l);
	ok(!strcmp(d, "_") && !strcmp(l, "_"), "  <> is _/_");
	g_free(d);
	g_free(l);
}

/* body_file - the message as sinkd's journal hands it over (g_free);
 * also written to DIR/body.eml, for t/archive.t to compare exports with */
static char *
body_file(void)
{
	char *p = g_build_filename(Dir, "body.eml", NULL);

	g_file_set_contents(p, message, sizeof(message) - 1, NULL);
	g_free(p);
	return g_memdup2(message, sizeof(message));
}

#define BODY_LEN	(sizeof(message) - 1)

/* put_sync - astore_put(), then astore_sync() when it is done: stored
 * as the shipper stores it */
static enum astore_result
put_sync(struct astore *a, JsonObject *ev, const char *data, gsize len, astore_want_fn want,
	 void *ctx, char **why)
{
	enum astore_result r = astore_put(a, ev, data, len, want, ctx, why);

	return r == ASTORE_DONE ? astore_sync(a, why) : r;
}

struct count {
	unsigned n;
	char *keys;
};

static void
count_rec(const struct astore_rec *r, void *ctx)
{
	struct count *c = ctx;
	char *k = g_strconcat(c->keys ? c->keys : "", c->keys ? " " : "", r->key, NULL);

	c->n++;
	g_free(c->keys);
	c->keys = k;
}

/* found - how many records answer q */
static unsigned
found(struct astore *a, const struct astore_query *q)
{
	struct count c = {0};
	char *why = NULL;

	if (astore_search(a, q, count_rec, &c, &why) < 0) {
		printf("# search: %s\n", why);
		g_free(why);
		return 999;
	}
	g_free(c.keys);
	return c.n;
}

/* not_two - a want(): no recipient of two.test */
static int
not_two(const char *rcpt, void *ctx)
{
	(*(int *) ctx)++;
	return !g_str_has_suffix(rcpt, "@two.test");
}

/* no_one - a want(): nobody */
static int
no_one(const char *rcpt, void *ctx)
{
	(void) rcpt;
	(void) ctx;
	return 0;
}

/* test_maildir - see the head */
static void
test_maildir(void)
{
	char *spec = g_strconcat("maildir:", Dir, "/md", NULL), *why = NULL, *body = body_file();
	char *p, *names, *got, *lf, *box, *host;
	struct astore *a = astore_open(spec, 0, 5);
	JsonObject *in = event("4AbC1", "2026-12-03T07:00:01.250Z", "inbound", "alice@elsewhere.test",
			       "[\"bob@one.test\",\"Bob@One.Test\",\"carol@two.test\","
			       "\"../x@two.test\",\".hidden@two.test\"]", "Quarterly Figures");
	JsonObject *out;
	GError *err = NULL;
	gsize n;
	int rc;

	ok(a != NULL && astore_kind(a) == ASTORE_MAILDIR, "a maildir store");
	rc = put_sync(a, in, body, BODY_LEN, NULL, NULL, &why);
	is_int(rc, ASTORE_DONE, "an inbound message stored");
	if (why)
		printf("# %s\n", why);
	g_clear_pointer(&why, g_free);
	got = files_in(p = path("md", NULL, NULL));
	is_str(got, ".index one.test two.test", "the root: the index and a directory per domain");
	g_free(got);
	g_free(p);
	got = files_in(p = path("md", "two.test", NULL));
	is_str(got, "_._x _hidden carol", "  a mailbox per recipient, hostile names made safe");
	g_free(got);
	g_free(p);
	got = files_in(p = path("md", "one.test", NULL));
	is_str(got, "bob", "  one mailbox for bob@ and Bob@");
	g_free(got);
	g_free(p);
	got = files_in(p = path("md", "one.test/bob", NULL));
	is_str(got, "cur new tmp", "  a Maildir: cur new tmp");
	g_free(got);
	g_free(p);
	is_int(mode_of(p = path("md", "one.test/bob", NULL)), 0700, "  mailboxes are 0700");
	g_free(p);
	got = files_in(p = path("md", "one.test/bob/tmp", NULL));
	is_str(got, "", "  nothing left in tmp/");
	g_free(got);
	g_free(p);
	names = files_in(p = path("md", "one.test/bob/new", NULL));
	g_free(p);
	host = g_strdup(g_get_host_name());
	ok(g_regex_match_simple("^1796281201\\.M250000K[0-9a-f]{16}\\.", names, 0, 0)
	   && g_str_has_suffix(names, host), "  the file name: TIME.MUSECKHASH.HOST: %s", names);
	g_free(host);
	box = path("md", "one.test/bob/new", names);
	is_int(mode_of(box), 0600, "  the file is 0600");
	g_file_get_contents(box, &got, &n, &err);
	lf = g_strdup("From: Alice <alice@one.test>\nTo: bob@one.test\nSubject: Quarterly Figures\n"
		      "Message-ID: <q4.1@one.test>\nDate: Thu, 03 Dec 2026 07:00:00 +0000\n\n"
		      "line one\na bare\rCR and a bare\nLF\n.\n");
	ok(got && n == strlen(lf) && !memcmp(got, lf, n), "  the message, each CRLF as LF, nothing else changed");
	g_free(box);
	g_free(got);
	p = path("md", "two.test/_hidden/new", names);
	ok(g_file_test(p, G_FILE_TEST_IS_REGULAR), "  the same name in every mailbox");
	g_free(p);

	rc = put_sync(a, in, body, BODY_LEN, NULL, NULL, &why);
	is_int(rc, ASTORE_DONE, "the same event again: done");
	g_clear_pointer(&why, g_free);
	got = files_in(p = path("md", "one.test/bob/new", NULL));
	is_str(got, names, "  and nothing stored twice");
	g_free(got);
	g_free(p);
	/* a reader moves it to cur/ */
	p = path("md", "two.test/carol/cur", NULL);
	got = g_strconcat(p, "/", names, ":2,S", NULL);
	g_free(p);
	p = path("md", "two.test/carol/new", names);
	rc = rename(p, got);
	g_free(p);
	g_free(got);
	put_sync(a, in, body, BODY_LEN, NULL, NULL, &why);
	g_clear_pointer(&why, g_free);
	got = files_in(p = path("md", "two.test/carol/new", NULL));
	is_str(got, "", "  nor when a reader moved it to cur/");
	g_free(got);
	g_free(p);
	p = path("md", ".index", NULL);
	g_file_get_contents(p, &got, &n, NULL);
	is_int(got ? (long long) (strchr(got, '\n') - got) + 1 == (long long) n : 0, 1,
	       "  the index has one line");
	g_free(got);
	g_free(p);

	out = event("4OuT2", "2026-12-03T07:00:02Z", "outbound", "Dave@One.Test",
		    "[\"x@far.test\",\"y@far.test\"]", "Hello");
	is_int(put_sync(a, out, body, BODY_LEN, NULL, NULL, &why), ASTORE_DONE, "an outbound message stored");
	g_clear_pointer(&why, g_free);
	got = files_in(p = path("md", "one.test", NULL));
	is_str(got, "bob dave", "  in the sender's mailbox, none of the recipients'");
	g_free(got);
	g_free(p);

	{
		struct astore_query q = {.recipient = "CAROL@two.test"};
		GBytes *msg = NULL;
		char *full = NULL;

		is_int(found(a, &q), 1, "search by recipient (any case)");
		q = (struct astore_query) {.sender = "dave@one.test"};
		is_int(found(a, &q), 1, "search by sender");
		q = (struct astore_query) {.subject = "figures"};
		is_int(found(a, &q), 1, "search by a piece of the subject");
		q = (struct astore_query) {0};
		is_int(found(a, &q), 2, "list: each message once");
		rc = astore_get(a, "4AbC1", &msg, &full, &why);
		is_int(rc, 0, "get by the queue id, the key's start");
		ok(msg && g_bytes_get_size(msg) == strlen(lf)
		   && !memcmp(g_bytes_get_data(msg, NULL), lf, strlen(lf)), "  the file as stored");
		ok(full && g_str_has_prefix(full, "4AbC1."), "  and the whole key");
		if (msg)
			g_bytes_unref(msg);
		g_free(full);
		g_clear_pointer(&why, g_free);
		is_int(astore_get(a, "4", &msg, &full, &why), -2, "a start two keys share: ambiguous");
		is_int(astore_get(a, "nope", &msg, &full, &why), -1, "an unknown key: none");
		g_clear_pointer(&why, g_free);
	}
	g_free(lf);
	g_free(names);

	/* an event without its copy, or with no usable time */
	is_int(put_sync(a, in, NULL, 0, NULL, NULL, &why), ASTORE_FAIL, "no copy of the message: refused");
	g_clear_pointer(&why, g_free);
	json_object_set_string_member(out, "time", "yesterday");
	json_object_set_string_member(out, "key", "other.key");
	is_int(put_sync(a, out, body, BODY_LEN, NULL, NULL, &why), ASTORE_FAIL, "  nor a time that is not RFC 3339");
	g_clear_pointer(&why, g_free);
	astore_close(a);

	/* a root that cannot be a directory: again later */
	p = path("blocked", NULL, NULL);
	g_file_set_contents(p, "", 0, NULL);
	g_free(spec);
	spec = g_strconcat("maildir:", p, "/md", NULL);
	g_free(p);
	a = astore_open(spec, 0, 5);
	is_int(put_sync(a, in, body, BODY_LEN, NULL, NULL, &why), ASTORE_RETRY, "a root that cannot be made: tried again");
	ok(why && strstr(why, "blocked"), "  saying where: %s", why ? why : "");
	g_clear_pointer(&why, g_free);
	astore_close(a);
	g_free(spec);

	/* a domain's directory that is a link: refused, nothing written */
	spec = g_strconcat("maildir:", Dir, "/mdl", NULL);
	p = path("mdl", NULL, NULL);
	g_mkdir(p, 0700);
	g_free(p);
	p = path("elsewhere", NULL, NULL);
	g_mkdir(p, 0700);
	names = path("mdl", "two.test", NULL);
	rc = symlink(p, names);
	g_free(names);
	a = astore_open(spec, 0, 5);
	is_int(put_sync(a, in, body, BODY_LEN, NULL, NULL, &why), ASTORE_RETRY, "a mailbox's directory that is a link: refused");
	g_clear_pointer(&why, g_free);
	got = files_in(p);
	is_str(got, "", "  nothing written where it points");
	g_free(got);
	g_free(p);
	astore_close(a);
	g_free(spec);
	/* a root that is a link is the administrator's choice */
	p = path("mdl2", NULL, NULL);
	names = path("elsewhere", NULL, NULL);
	rc = symlink(names, p);
	spec = g_strconcat("maildir:", p, NULL);
	a = astore_open(spec, 0, 5);
	is_int(put_sync(a, in, body, BODY_LEN, NULL, NULL, &why), ASTORE_DONE, "a root that is a link is followed");
	g_clear_pointer(&why, g_free);
	astore_close(a);
	g_free(spec);
	g_free(p);
	g_free(names);

	/* want(): the recipients whose domain archives */
	spec = g_strconcat("maildir:", Dir, "/mdw", NULL);
	a = astore_open(spec, 0, 5);
	{
		int asked = 0;

		is_int(put_sync(a, in, body, BODY_LEN, not_two, &asked, &why), ASTORE_DONE,
		       "want(): stored for the recipients it says yes to");
		is_int(asked, 5, "  asked once per recipient");
	}
	g_clear_pointer(&why, g_free);
	got = files_in(p = path("mdw", NULL, NULL));
	is_str(got, ".index one.test", "  none in the domain it says no to");
	g_free(got);
	g_free(p);
	json_object_unref(out);
	out = event("4OuT3", "2026-12-03T07:00:03Z", "outbound", "dave@one.test",
		    "[\"x@far.test\"]", "Hello");
	is_int(put_sync(a, out, body, BODY_LEN, no_one, NULL, &why), ASTORE_DONE,
	       "  outbound mail is the sender's: want() is not asked");
	g_clear_pointer(&why, g_free);
	got = files_in(p = path("mdw", "one.test", NULL));
	is_str(got, "bob dave", "  and stored");
	g_free(got);
	g_free(p);
	json_object_set_string_member(in, "key", "4NoNe.x");
	is_int(put_sync(a, in, body, BODY_LEN, no_one, NULL, &why), ASTORE_DONE, "  no recipient wanted: done");
	g_clear_pointer(&why, g_free);
	p = path("mdw", ".index", NULL);
	g_file_get_contents(p, &got, &n, NULL);
	ok(got && !strstr(got, "4NoNe"), "  and nothing stored, not even indexed");
	g_free(got);
	g_free(p);
	astore_close(a);
	g_free(spec);

	/* group-read */
	spec = g_strconcat("maildir:", Dir, "/mdg", NULL);
	a = astore_open(spec, 1, 5);
	put_sync(a, in, body, BODY_LEN, NULL, NULL, &why);
	g_clear_pointer(&why, g_free);
	is_int(mode_of(p = path("mdg", "two.test/carol", NULL)), 0750, "group-read: mailboxes 0750");
	g_free(p);
	names = files_in(p = path("mdg", "two.test/carol/new", NULL));
	g_free(p);
	is_int(mode_of(p = path("mdg", "two.test/carol/new", names)), 0640, "  files 0640");
	g_free(p);
	g_free(names);
	astore_close(a);
	g_free(spec);
	json_object_unref(in);
	json_object_unref(out);
	g_free(body);
}

/* test_sql - a SQL store; spec: sqlite:... or postgres:... */
static void
test_sql(const char *spec, const char *what)
{
	struct astore *a = astore_open(spec, 0, 5);
	char *why = NULL, *body = body_file(), *full = NULL;
	JsonObject *e1 = event("5SqL1", "2026-12-02T23:59:59.999Z", "inbound", "alice@elsewhere.test",
			       "[\"bob@one.test\",\"carol_x@two.test\"]", "Quarterly Figures");
	JsonObject *e2 = event("5SqL2", "2026-12-03T00:00:00Z", "outbound", "dave@one.test",
			       "[\"x@far.test\"]", "100% sure");
	struct astore_query q = {0};
	GBytes *msg = NULL;
	int rc;

	ok(a != NULL, "%s: a store", what);
	rc = astore_put(a, e1, body, BODY_LEN, NULL, NULL, &why);
	is_int(rc, ASTORE_DONE, "  a message stored");
	if (why)
		printf("# %s\n", why);
	g_clear_pointer(&why, g_free);
	is_int(astore_put(a, e1, body, BODY_LEN, NULL, NULL, &why), ASTORE_DONE, "  the same key again: done");
	g_clear_pointer(&why, g_free);
	is_int(astore_put(a, e2, body, BODY_LEN, NULL, NULL, &why), ASTORE_DONE, "  another");
	g_clear_pointer(&why, g_free);
	is_int(found(a, &q), 2, "  one row per key");
	q = (struct astore_query) {.sender = "Alice@Elsewhere.test"};
	is_int(found(a, &q), 1, "  search by sender");
	q = (struct astore_query) {.recipient = "carol_x@two.test"};
	is_int(found(a, &q), 1, "  by recipient");
	q = (struct astore_query) {.recipient = "carol%x@two.test"};
	is_int(found(a, &q), 0, "  a LIKE character is no wildcard");
	q = (struct astore_query) {.recipient = "carol"};
	is_int(found(a, &q), 0, "  a recipient is a whole address");
	q = (struct astore_query) {.subject = "100%"};
	is_int(found(a, &q), 1, "  by subject");
	q = (struct astore_query) {.subject = "FIGURES"};
	is_int(found(a, &q), 1, "  in any case");
	q = (struct astore_query) {.message_id = "5SqL2@one.test"};
	is_int(found(a, &q), 1, "  by Message-ID without <>");
	q = (struct astore_query) {.since = "2026-12-03"};
	is_int(found(a, &q), 1, "  since a day");
	q = (struct astore_query) {.until = "2026-12-02"};
	is_int(found(a, &q), 1, "  until a day (all of it)");
	q = (struct astore_query) {.since = "2026-12-02", .until = "2026-12-03"};
	is_int(found(a, &q), 2, "  both");
	rc = astore_get(a, "5SqL1", &msg, &full, &why);
	is_int(rc, 0, "  get by the key's start");
	ok(msg && g_bytes_get_size(msg) == sizeof(message) - 1
	   && !memcmp(g_bytes_get_data(msg, NULL), message, sizeof(message) - 1),
	   "  the message byte for byte, CRLF as received");
	if (msg)
		g_bytes_unref(msg);
	g_free(full);
	g_clear_pointer(&why, g_free);
	is_int(astore_get(a, "5SqL", &msg, &full, &why), -2, "  a start two keys share: ambiguous");
	is_int(astore_get(a, "5sql1", &msg, &full, &why), -1, "  a key is not found in another case");
	g_clear_pointer(&why, g_free);
	is_int(astore_sync(a, &why), ASTORE_DONE, "  synced");
	astore_close(a);
	json_object_unref(e1);
	json_object_unref(e2);
	g_free(body);
}

/*
 * test_md_sync - a Maildir copy is in tmp/ until the sync moves it to
 * new/; one left in tmp/ when the store went is written again, and
 * moved, by the next put of the event
 */
static void
test_md_sync(void)
{
	char *spec = g_strconcat("maildir:", Dir, "/mdsync", NULL), *why = NULL, *body = body_file();
	char *newd = path("mdsync", "one.test/b", "new"), *tmpd = path("mdsync", "one.test/b", "tmp"), *l;
	JsonObject *e = event("7MdS1", "2026-12-03T02:00:00Z", "inbound", "a@x.test", "[\"b@one.test\"]", "one");
	struct astore *a = astore_open(spec, 0, 5);

	is_int(astore_put(a, e, body, BODY_LEN, NULL, NULL, &why), ASTORE_DONE, "maildir: a put before a sync");
	is_str(l = files_in(newd), "", "  nothing in new/ yet");
	g_free(l);
	ok(*(l = files_in(tmpd)) != 0, "  the copy in tmp/");
	g_free(l);
	astore_close(a);
	a = astore_open(spec, 0, 5);
	is_int(put_sync(a, e, body, BODY_LEN, NULL, NULL, &why), ASTORE_DONE,
	       "  the store gone before a sync: the event put again, and synced");
	ok(*(l = files_in(newd)) != 0, "  the copy in new/");
	g_free(l);
	is_str(l = files_in(tmpd), "", "  nothing left in tmp/");
	g_free(l);
	astore_close(a);
	g_free(why);
	g_free(spec);
	g_free(newd);
	g_free(tmpd);
	json_object_unref(e);
	g_free(body);
}

/*
 * test_lite_sync - SQLite puts are durable, and seen by others, only
 * once synced: what was put and not synced when the store went (sinkd
 * killed) is not there, so that the shipper puts it again
 */
static void
test_lite_sync(const char *spec)
{
	struct astore *a = astore_open(spec, 0, 5), *b = astore_open(spec, 0, 5);
	char *why = NULL, *body = body_file();
	JsonObject *e1 = event("6SyN1", "2026-12-03T01:00:00Z", "inbound", "a@x.test", "[\"b@one.test\"]", "one");
	JsonObject *e2 = event("6SyN2", "2026-12-03T01:00:01Z", "inbound", "a@x.test", "[\"b@one.test\"]", "two");
	struct astore_query q = {0};

	is_int(astore_put(a, e1, body, BODY_LEN, NULL, NULL, &why), ASTORE_DONE, "sqlite: a put before a sync");
	is_int(found(a, &q), 1, "  is seen by its own store");
	is_int(found(b, &q), 0, "  not by another reader (not committed)");
	is_int(astore_sync(a, &why), ASTORE_DONE, "  synced");
	is_int(found(b, &q), 1, "  then seen by the other reader");
	is_int(astore_put(a, e2, body, BODY_LEN, NULL, NULL, &why), ASTORE_DONE, "a second put");
	astore_close(a);
	is_int(found(b, &q), 1, "  gone with its store before a sync: not stored");
	is_int(astore_sync(b, &why), ASTORE_DONE, "  a sync with nothing put is done");
	astore_close(b);
	g_free(why);
	json_object_unref(e1);
	json_object_unref(e2);
	g_free(body);
}

int
main(int argc, char **argv)
{
	const char *pg = getenv("ASTORE_PG");
	char *spec, *p;

	if (argc != 2) {
		fprintf(stderr, "usage: archive_test DIR\n");
		return 64;
	}
	Dir = argv[1];
	umask(022);
	test_names();
	test_maildir();
	spec = g_strconcat("sqlite:", Dir, "/db/archive.sqlite", NULL);
	test_sql(spec, "sqlite");
	is_int(mode_of(p = path("db", "archive.sqlite", NULL)), 0600, "  the SQLite file is 0600");
	g_free(p);
	g_free(spec);
	spec = g_strconcat("sqlite:", Dir, "/db/sync.sqlite", NULL);
	test_lite_sync(spec);
	g_free(spec);
	test_md_sync();
	if (pg && *pg) {
		spec = g_strconcat("postgres:", pg, NULL);
		test_sql(spec, "postgres");
		g_free(spec);
	}
	return tap_done();
}
