/*
 * util_test - replies, networks, patterns, templates, sockets, edits,
 *	file trust
 */
#include <sys/stat.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "../../src/cidr.h"
#include "../../src/conf.h"
#include "../../src/edits.h"
#include "../../src/match.h"
#include "../../src/reply.h"
#include "../../src/socket.h"
#include "../../src/spool.h"
#include "../../src/template.h"
#include "tap.h"

static void
test_reply(void)
{
	static const struct {
		const char *spec;
		int good;
		const char *code, *xcode, *text;
	} cases[] = {
		{"550 5.7.1 Go away", 1, "550", "5.7.1", "Go away"},
		{"451 4.3.0 Try later", 1, "451", "4.3.0", "Try later"},
		{"550 5.7.1 one\ntwo", 1, "550", "5.7.1", "one\ntwo"},
		{"250 2.0.0 fine", 0, NULL, NULL, NULL},
		{"550 4.7.1 class mismatch", 0, NULL, NULL, NULL},
		{"550 5.7 short", 0, NULL, NULL, NULL},
		{"550 5.7.1", 0, NULL, NULL, NULL},
		{"55 5.7.1 x", 0, NULL, NULL, NULL},
		{"550 5.7.1 bad\r\nreply", 0, NULL, NULL, NULL},
		{"550 5.7.1 a\n\nb", 0, NULL, NULL, NULL},
		{"550 5.1234.1 long", 0, NULL, NULL, NULL},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct reply r;
		const char *why = NULL;
		int rc = reply_parse(&r, cases[i].spec, &why);
		char *shown = g_strescape(cases[i].spec, NULL);

		ok((rc == 0) == cases[i].good, "reply_parse \"%s\" %s", shown,
		   cases[i].good ? "accepted" : "refused");
		g_free(shown);
		if (rc == 0 && cases[i].good) {
			is_str(r.code, cases[i].code, "  code");
			is_str(r.xcode, cases[i].xcode, "  enhanced code");
			is_str(r.text, cases[i].text, "  text");
		}
		if (rc < 0)
			ok(why != NULL && *why, "  says why: %s", why ? why : "");
		reply_clear(&r);
	}
}

static void
test_cidr(void)
{
	char *nets[] = {"192.0.2.0/24", "10.1.2.3", "2001:db8::/32", NULL};
	const char *bad, *why;
	struct cidr_list *l = cidr_list_parse(nets, &bad, &why);
	char *worse[] = {"192.0.2.0/33", NULL};

	ok(l != NULL, "cidr list parses");
	ok(cidr_list_match(l, "192.0.2.77"), "192.0.2.77 in 192.0.2.0/24");
	ok(!cidr_list_match(l, "192.0.3.1"), "192.0.3.1 not in list");
	ok(cidr_list_match(l, "10.1.2.3"), "single address");
	ok(!cidr_list_match(l, "10.1.2.4"), "single address is /32");
	ok(cidr_list_match(l, "2001:db8:1::5"), "IPv6 prefix");
	ok(cidr_list_match(l, "::ffff:192.0.2.9"), "v4-mapped IPv6 matches IPv4 network");
	ok(!cidr_list_match(l, "garbage"), "garbage matches nothing");
	ok(cidr_list_parse(worse, &bad, &why) == NULL, "prefix /33 refused");
	cidr_list_free(l);
}

static void
test_match(void)
{
	char *addrs[] = {"bad@example.net", "@spam.example", "@.sub.example", "<>",
			 "/^noreply-/", NULL};
	char *hosts[] = {"*.dynamic.example", "/^mail[0-9]+\\./", NULL};
	char *bad[] = {"not an address", NULL};
	char *why = NULL;
	struct match_list *a = match_compile(MATCH_ADDR, addrs, &why);
	struct match_list *h = match_compile(MATCH_NAME, hosts, &why);
	char *evil[] = {"/(a+)+$/", NULL};
	struct match_list *e = match_compile(MATCH_ADDR, evil, &why);
	GString *s = g_string_new(NULL);
	int i;

	ok(a && h, "pattern lists compile");
	ok(match_test(a, "BAD@Example.NET", NULL) == 1, "address, case-insensitive");
	ok(match_test(a, "good@example.net", NULL) == 0, "other address");
	ok(match_test(a, "x@spam.example", NULL) == 1, "@domain");
	ok(match_test(a, "x@a.spam.example", NULL) == 0, "@domain is not subdomains");
	ok(match_test(a, "x@a.sub.example", NULL) == 1, "@.domain matches a subdomain");
	ok(match_test(a, "x@sub.example", NULL) == 0, "@.domain is not the domain itself");
	ok(match_test(a, "", NULL) == 1, "<> matches the null sender");
	ok(match_test(a, "noreply-7@x.example", NULL) == 1, "/regex/");
	ok(match_test(h, "host-1.dynamic.example", NULL) == 1, "host glob");
	ok(match_test(h, "mail12.example.org", NULL) == 1, "host regex");
	ok(match_test(h, "mx.example.org", NULL) == 0, "host no match");
	ok(match_compile(MATCH_ADDR, bad, &why) == NULL && why, "bad entry refused: %s", why);
	g_free(why);
	why = NULL;
	ok(e != NULL, "catastrophic regex compiles");
	for (i = 0; i < 40; i++)
		g_string_append_c(s, 'a');
	g_string_append_c(s, '!');
	ok(match_test(e, s->str, NULL) == -1, "catastrophic backtracking hits the match limit");
	g_string_free(s, TRUE);
	match_free(a);
	match_free(h);
	match_free(e);
}

static const char *
lookup(const char *name, void *ctx)
{
	(void) ctx;
	if (!strcmp(name, "sender"))
		return "a@b";
	if (!strcmp(name, "evil"))
		return "x\r\nBcc: victim@example.com";
	return NULL;
}

static void
test_template(void)
{
	const char *known[] = {"sender", "evil", NULL};
	char *why = NULL, *out, *safe;

	ok(tmpl_check("from ${sender}", known, &why) == 0, "known variable passes");
	ok(tmpl_check("from ${sendr}", known, &why) < 0 && strstr(why, "sendr"),
	   "unknown variable refused: %s", why);
	g_free(why);
	why = NULL;
	ok(tmpl_check("from ${sender", known, &why) < 0, "unterminated refused");
	g_free(why);
	out = tmpl_expand("from ${sender} via ${evil}", lookup, NULL);
	is_str(out, "from a@b via x\r\nBcc: victim@example.com", "expansion");
	safe = edits_safe_value(out);
	ok(strchr(safe, '\r') == NULL && strchr(safe, '\n') == NULL,
	   "edits_safe_value removes CR/LF that are not folds: %s", safe);
	g_free(safe);
	g_free(out);
	safe = edits_safe_value("folded\r\n\tvalue");
	is_str(safe, "folded\r\n\tvalue", "a fold is kept");
	g_free(safe);
}

static void
test_socket(void)
{
	static const struct {
		const char *in, *lib, *pf, *sm;
	} cases[] = {
		{"unix:/run/sinkd/s.sock", "unix:/run/sinkd/s.sock", "unix:/run/sinkd/s.sock", "unix:/run/sinkd/s.sock"},
		{"local:/run/s", "unix:/run/s", "unix:/run/s", "unix:/run/s"},
		{"inet:8890@127.0.0.1", "inet:8890@127.0.0.1", "inet:127.0.0.1:8890", "inet:8890@127.0.0.1"},
		{"inet:127.0.0.1:8890", "inet:8890@127.0.0.1", "inet:127.0.0.1:8890", "inet:8890@127.0.0.1"},
		{"inet:8890", "inet:8890", "inet:127.0.0.1:8890", "inet:8890@127.0.0.1"},
		{"inet:[::1]:8890", "inet6:8890@::1", "inet:[::1]:8890", "inet6:8890@::1"},
		{"inet6:8890@::1", "inet6:8890@::1", "inet:[::1]:8890", "inet6:8890@::1"},
	};
	const char *bad[] = {"unix:relative", "inet:0@x", "inet:70000", "tcp:1@x", "inet:[::1]8890"};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct sock_spec s;
		const char *why;
		char *a, *b, *c;

		if (!ok(sock_parse(cases[i].in, &s, &why) == 0, "socket %s parses", cases[i].in))
			continue;
		a = sock_libmilter(&s);
		b = sock_postfix(&s);
		c = sock_sendmail(&s);
		is_str(a, cases[i].lib, "  libmilter spelling");
		is_str(b, cases[i].pf, "  Postfix spelling");
		is_str(c, cases[i].sm, "  Sendmail spelling");
		g_free(a);
		g_free(b);
		g_free(c);
		sock_free(&s);
	}
	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		const char *why = NULL;

		ok(sock_check(bad[i], &why) < 0 && why, "socket %s refused: %s", bad[i], why ? why : "");
	}
}

/* the main.cf lines for what postconf said (queue directory, chrooted
 * services), joined with '|' */
static void
test_postfix_lines(void)
{
	static const struct {
		const char *sock, *queue, *chrooted, *want;
	} cases[] = {
		{"unix:/run/sinkd/sinkd.sock", "/var/spool/postfix", "",
		 "Postfix main.cf: smtpd_milters = unix:/run/sinkd/sinkd.sock|"
		 "Postfix main.cf: non_smtpd_milters = unix:/run/sinkd/sinkd.sock"},
		{"unix:/var/spool/postfix/sinkd/sinkd.sock", "/var/spool/postfix/", "smtp/inet",
		 "Postfix: the socket is in queue_directory /var/spool/postfix/: named relative "
		 "to it, for chrooted (smtp/inet) and unchrooted processes alike|"
		 "Postfix main.cf: smtpd_milters = unix:sinkd/sinkd.sock|"
		 "Postfix main.cf: non_smtpd_milters = unix:sinkd/sinkd.sock"},
		{"unix:/run/sinkd/sinkd.sock", "/var/spool/postfix", "smtp/inet, cleanup/unix",
		 "warning: Postfix's smtp/inet, cleanup/unix run chrooted in /var/spool/postfix "
		 "and cannot reach /run/sinkd/sinkd.sock: set socket = "
		 "unix:/var/spool/postfix/sinkd/sinkd.sock in sinkd.conf (then smtpd_milters = "
		 "unix:sinkd/sinkd.sock), or their chroot column in master.cf to n (then the "
		 "lines below)|"
		 "Postfix main.cf: smtpd_milters = unix:/run/sinkd/sinkd.sock|"
		 "Postfix main.cf: non_smtpd_milters = unix:/run/sinkd/sinkd.sock"},
		/* a name that only starts like the queue directory */
		{"unix:/var/spool/postfix2/s", "/var/spool/postfix", "",
		 "Postfix main.cf: smtpd_milters = unix:/var/spool/postfix2/s|"
		 "Postfix main.cf: non_smtpd_milters = unix:/var/spool/postfix2/s"},
		{"unix:/var/spool/postfix/s", NULL, NULL,
		 "Postfix: no answer from postconf; with queue_directory = /var/spool/postfix, "
		 "chrooted or not:|"
		 "Postfix main.cf: smtpd_milters = unix:s|"
		 "Postfix main.cf: non_smtpd_milters = unix:s"},
		{"inet:8890@127.0.0.1", "/var/spool/postfix", "smtp/inet",
		 "Postfix main.cf: smtpd_milters = inet:127.0.0.1:8890|"
		 "Postfix main.cf: non_smtpd_milters = inet:127.0.0.1:8890"},
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct sock_spec s;
		struct sock_postfix_env pe = {(char *) cases[i].queue, (char *) cases[i].chrooted};
		const char *why;
		char **lines, *got, *want;

		if (!ok(sock_parse(cases[i].sock, &s, &why) == 0, "socket %s parses", cases[i].sock))
			continue;
		lines = sock_postfix_lines(&s, &pe);
		got = g_strjoinv("|", lines);
		want = g_strconcat(cases[i].want, "|Postfix main.cf: milter_default_action = tempfail"
				   "|Postfix main.cf: milter_protocol = 6", NULL);
		is_str(got, want, "  its main.cf lines for what postconf said");
		g_free(got);
		g_free(want);
		g_strfreev(lines);
		sock_free(&s);
	}
}

static void
test_edits(void)
{
	struct edits e;
	GBytes *b = g_bytes_new_static("x", 1);

	edits_init(&e);
	is_int(edits_count(&e), 0, "no edits");
	edits_add_header(&e, "t", "X-A", "1");
	edits_change_header(&e, "t", "Subject", 1, NULL);
	edits_add_rcpt(&e, "t", "a@b");
	edits_replace_body(&e, "t", b);
	is_int(edits_count(&e), 4, "three list edits and a body");
	ok(((struct edit *) g_ptr_array_index(e.list, 1))->value == NULL,
	   "change with NULL value deletes");
	ok(edits_header_name_ok("X-Sinkd") && !edits_header_name_ok("X Bad")
	   && !edits_header_name_ok("X:Bad") && !edits_header_name_ok(""),
	   "header name check");
	edits_free(&e);
	g_bytes_unref(b);
}

/* header edits name fields as received; the MTA's index is worked out */
static void
test_edits_index(void)
{
	struct edits e;
	GPtrArray *f = g_ptr_array_new_with_free_func(g_free);
	const char *const fields[] = {"X:1", "Y:y", "X:2", "X:3", "X:4"};
	const struct edit *ed;
	unsigned i;

	edits_init(&e);
	/* handler a deletes the first and second X in ascending order */
	is_int(edits_change_header(&e, "a", "X", 1, NULL), 1, "delete X 1");
	is_int(edits_change_header(&e, "a", "X", 2, NULL), 1, "delete X 2");
	is_int(((struct edit *) g_ptr_array_index(e.list, 1))->index, 1,
	       "  which is the first X once X 1 is gone");
	/* handler b deletes X 2 again, then changes X 4 and adds an X */
	is_int(edits_change_header(&e, "b", "X", 2, NULL), 0, "a second deletion is dropped");
	is_int(edits_change_header(&e, "b", "X", 2, "new"), 0, "so is a change of a deleted field");
	is_int(edits_change_header(&e, "b", "x", 4, "four"), 1, "change X 4");
	is_int(((struct edit *) g_ptr_array_index(e.list, 2))->index, 2, "  the MTA's second X");
	edits_add_header(&e, "b", "X", "added");
	/* handler a deletes X 3 last: the added X is not hit */
	is_int(edits_change_header(&e, "a", "X", 3, NULL), 1, "delete X 3");
	is_int(((struct edit *) g_ptr_array_index(e.list, 4))->index, 1, "  the MTA's first X");
	ed = edits_header_edit(&e, "X", 4);
	ok(ed && !strcmp(ed->by, "b") && !strcmp(ed->value, "four"), "the last edit of X 4 is b's");
	ok(edits_header_edit(&e, "X", 5) == NULL, "no edit of a field not there");
	for (i = 0; i < G_N_ELEMENTS(fields); i++)
		g_ptr_array_add(f, g_strdup(fields[i]));
	edits_apply_headers(&e, e.list->len, f);
	is_int(f->len, 3, "three fields left");
	is_str(f->len > 2 ? g_ptr_array_index(f, 0) : "", "Y:y", "  Y as it came");
	is_str(f->len > 2 ? g_ptr_array_index(f, 1) : "", "x: four", "  X 4 changed");
	is_str(f->len > 2 ? g_ptr_array_index(f, 2) : "", "X: added", "  the added X kept");
	g_ptr_array_free(f, TRUE);
	edits_free(&e);
}

static void
test_spool(void)
{
	char *dir = g_dir_make_tmp("sinkd-spool-XXXXXX", NULL);
	struct spool s;
	GString *want = g_string_new(NULL);
	const guchar *data;
	gsize len;
	GDir *d;
	int i;

	spool_init(&s, dir, 100);
	for (i = 0; i < 30; i++) {
		char line[16];

		g_snprintf(line, sizeof(line), "line %02d\r\n", i);
		g_string_append(want, line);
		spool_append(&s, line, strlen(line));
		if (i == 5)
			ok(!spool_on_disk(&s), "under the limit: in memory");
	}
	ok(spool_on_disk(&s), "over the limit: in a file");
	d = g_dir_open(dir, 0, NULL);
	ok(d && g_dir_read_name(d) == NULL, "the file is unlinked at once");
	if (d)
		g_dir_close(d);
	data = spool_data(&s, &len);
	ok(data && len == want->len && !memcmp(data, want->str, len), "content kept byte for byte");
	spool_append(&s, "more", 4);
	data = spool_data(&s, &len);
	ok(data && len == want->len + 4 && !memcmp(data + want->len, "more", 4),
	   "appending after a read remaps");
	spool_free(&s);
	g_rmdir(dir);
	g_free(dir);
	g_string_free(want, TRUE);
}

/* unsafe_is - conf_file_unsafe(path, flags, user) is want (NULL: trusted) */
static void
unsafe_is(const char *path, unsigned flags, uid_t user, const char *want,
	  const char *what)
{
	char *why = conf_file_unsafe(path, flags, user);

	if (want == NULL)
		ok(why == NULL, "%s: trusted%s%s", what, why ? "; refused: " : "", why ? why : "");
	else
		is_str(why, want, what);
	g_free(why);
}

static void
test_file_trust(void)
{
	char *top = g_dir_make_tmp("sinkd-trust-XXXXXX", NULL);
	char *dir = g_build_filename(top, "d", NULL);
	char *f = g_build_filename(dir, "f", NULL);
	char *open_dir = g_build_filename(top, "open", NULL);
	char *far = g_build_filename(open_dir, "far", NULL);
	char *link = g_build_filename(dir, "link", NULL);
	char *missing = g_build_filename(dir, "missing", NULL);
	char *want;

	g_mkdir(dir, 0755);
	g_chmod(dir, 0755);
	g_file_set_contents(f, "x", 1, NULL);
	g_chmod(f, 0644);
	unsafe_is(f, 0, (uid_t) -1, NULL, "0644 in a 0755 directory");
	unsafe_is(missing, 0, (uid_t) -1, NULL, "a missing file: left to open()");
	g_chmod(f, 0664);
	want = g_strdup_printf("%s: group-writable (mode 0664); chmod g-w it", f);
	unsafe_is(f, 0, (uid_t) -1, want, "0664: group-writable");
	g_free(want);
	g_chmod(f, 0646);
	want = g_strdup_printf("%s: writable by others (mode 0646); chmod o-w it", f);
	unsafe_is(f, 0, (uid_t) -1, want, "0646: writable by others");
	g_free(want);
	g_chmod(f, 0666);
	want = g_strdup_printf("%s: writable by others (mode 0666); chmod go-w it", f);
	unsafe_is(f, CONF_FILE_ANY_OWNER, (uid_t) -1, want, "0666: go-w, whoever the owner");
	g_free(want);
	g_chmod(f, 0640);
	unsafe_is(f, CONF_FILE_SECRET, (uid_t) -1, NULL, "a secret 0640");
	g_chmod(f, 0604);
	want = g_strdup_printf("%s: a secret readable by others (mode 0604); chmod o-rwx it", f);
	unsafe_is(f, CONF_FILE_SECRET, (uid_t) -1, want, "a secret 0604: readable by others");
	g_free(want);
	unsafe_is(f, 0, (uid_t) -1, NULL, "  no secret: trusted");
	g_chmod(f, 0644);
	g_chmod(dir, 0775);
	want = g_strdup_printf("%s: group-writable (mode 0775); chmod g-w it", dir);
	unsafe_is(f, 0, (uid_t) -1, want, "a file in a 0775 directory: the directory is named");
	g_free(want);
	g_chmod(dir, 01777);
	want = g_strdup_printf("%s: writable by others (mode 1777); chmod go-w it", dir);
	unsafe_is(f, 0, (uid_t) -1, want, "  sticky or not");
	g_free(want);
	g_chmod(dir, 0755);
	g_mkdir(open_dir, 0777);
	g_chmod(open_dir, 0777);
	g_file_set_contents(far, "x", 1, NULL);
	g_chmod(far, 0644);
	ok(symlink(far, link) == 0, "a symbolic link to a file in a 0777 directory");
	want = g_strdup_printf("%s: writable by others (mode 0777); chmod go-w it", open_dir);
	unsafe_is(link, 0, (uid_t) -1, want, "  the target's directory is named");
	g_free(want);
	if (geteuid() == 0) {
		struct passwd *pw = getpwuid(65534);
		char *owner = g_strdup(pw ? pw->pw_name : "no such user");

		pw = getpwuid(1);
		ok(chown(f, 65534, 65534) == 0, "as root: a file of uid 65534");
		want = g_strdup_printf("%s: owned by uid 65534 (%s), not root; chown root it", f, owner);
		unsafe_is(f, 0, (uid_t) -1, want, "  refused");
		g_free(want);
		want = g_strdup_printf("%s: owned by uid 65534 (%s), not root or %s; chown root it",
				       f, owner, pw ? pw->pw_name : "uid 1");
		unsafe_is(f, 0, 1, want, "  refused, naming sinkd's user (uid 1)");
		g_free(want);
		g_free(owner);
		unsafe_is(f, 0, 65534, NULL, "  when it is sinkd's user's");
		unsafe_is(f, CONF_FILE_ANY_OWNER, (uid_t) -1, NULL, "  with any owner allowed");
		ok(chown(f, 0, 0) == 0 && chown(dir, 4242, 4242) == 0, "a directory of uid 4242");
		want = g_strdup_printf("%s: owned by uid 4242 (no such user), not root; chown root it", dir);
		unsafe_is(f, 0, (uid_t) -1, want, "  the file in it is refused");
		g_free(want);
		chown(dir, 0, 0);
	}
	g_unlink(link);
	g_unlink(far);
	g_unlink(f);
	g_rmdir(open_dir);
	g_rmdir(dir);
	g_rmdir(top);
	g_free(missing);
	g_free(link);
	g_free(far);
	g_free(open_dir);
	g_free(f);
	g_free(dir);
	g_free(top);
}

int
main(void)
{
	test_reply();
	test_cidr();
	test_match();
	test_template();
	test_socket();
	test_postfix_lines();
	test_edits();
	test_edits_index();
	test_spool();
	test_file_trust();
	return tap_done();
}
