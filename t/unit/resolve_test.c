/*
 * resolve_test - host name look-ups bounded by a deadline (src/resolve.c),
 * against a DNS server that reads queries and never answers
 *
 * Run by t/resolve.t in a network and mount namespace of the test's own
 * (t/lib/dnsns.sh): /etc/resolv.conf names 127.0.0.1 with the resolver's
 * longest timeouts, /etc/hosts has localhost and the names below, and
 * DNS_PID is t/lib/dnsstall.py, which answers from SIGUSR1 on.  Checked:
 * numeric addresses and unix paths asked of no one; names in the hosts
 * file found; a name only DNS knows given up at the deadline, with one
 * look-up thread however often it is asked; the connection string's
 * host names turned into hostaddr; and once the server answers, the
 * held look-up's answer reaching a caller and its thread gone.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "../../src/resolve.h"
#include "tap.h"

#define SEC	G_USEC_PER_SEC

/* joined - the vector as one comma-separated string, or "(null)" */
static char *
joined(char **v)
{
	return v ? g_strjoinv(",", v) : g_strdup("(null)");
}

/* check_pg - resolve_pg() on conninfo: its result, then the keywords
 * and values it gave as "kw=val ..." */
static void
check_pg(const char *conninfo, int want, const char *want_kv, const char *what)
{
	char **kw = NULL, **val = NULL, *why = NULL;
	GString *kv = g_string_new("");
	int rc, i;

	rc = resolve_pg(conninfo, g_get_monotonic_time() + 2 * SEC, &kw, &val, &why);
	for (i = 0; kw && kw[i]; i++)
		g_string_append_printf(kv, "%s%s=%s", i ? " " : "", kw[i], val[i]);
	if (!is_int(rc, want, what))
		printf("# why: %s\n", why ? why : "(none)");
	is_str(kv->str, want_kv, "  keywords and values to add");
	g_strfreev(kw);
	g_strfreev(val);
	g_free(why);
	g_string_free(kv, TRUE);
}

/* timed_out - resolve_host(host) with a deadline of 1 s gives up; the
 * error it said */
static char *
timed_out(const char *host, gint64 *took)
{
	gint64 start = g_get_monotonic_time();
	char *why = NULL, **a;

	a = resolve_host(host, start + SEC, &why);
	*took = g_get_monotonic_time() - start;
	ok(a == NULL, "%s: no answer from a server that never answers", host);
	g_strfreev(a);
	return why;
}

int
main(void)
{
	const char *pid = getenv("DNS_PID");
	char **a, *s, *why = NULL;
	gint64 took, start;
	int i;

	if (pid == NULL) {
		printf("1..0 # SKIP DNS_PID not set: run by t/resolve.t\n");
		return 0;
	}

	ok(resolve_numeric("192.0.2.1") && resolve_numeric("2001:db8::1") && resolve_numeric("::1"),
	   "IPv4 and IPv6 addresses are numeric");
	ok(!resolve_numeric("localhost") && !resolve_numeric("") && !resolve_numeric("/tmp")
	   && !resolve_numeric("stalled.test"), "names, paths and nothing are not");

	a = resolve_host("192.0.2.1", g_get_monotonic_time() + SEC, &why);
	is_str(s = joined(a), "192.0.2.1", "a numeric address is its own answer");
	g_free(s);
	g_strfreev(a);
	is_int(resolve_busy(), 0, "  with no look-up");

	a = resolve_host("two.test", g_get_monotonic_time() + 5 * SEC, &why);
	s = joined(a);
	ok(a && g_strv_length(a) == 2 && strstr(s, "127.0.0.2") && strstr(s, "127.0.0.3"),
	   "a name in the hosts file: its addresses (%s)", s);
	g_free(s);
	g_strfreev(a);

	why = timed_out("stalled.test", &took);
	is_str(why, "stalled.test: DNS lookup timed out after 1 s", "  said so, with the timeout");
	g_clear_pointer(&why, g_free);
	ok(took < 10 * SEC, "  given up at the deadline, not the resolver's (%.1f s)",
	   (double) took / SEC);
	is_int(resolve_busy(), 1, "  its look-up goes on in its thread");

	why = timed_out("stalled.test", &took);
	g_clear_pointer(&why, g_free);
	is_int(resolve_busy(), 1, "  asked again: the same look-up, no second thread");

	start = g_get_monotonic_time();
	a = resolve_host("two.test", start + 5 * SEC, &why);
	ok(a != NULL && g_get_monotonic_time() - start < 5 * SEC,
	   "another name is found meanwhile");
	g_strfreev(a);

	check_pg("host=/run/postgresql dbname=x", 0, "", "pg: a socket directory: nothing to add");
	check_pg("host=192.0.2.1 port=5432", 0, "", "pg: a numeric host: nothing to add");
	check_pg("host=stalled.test hostaddr=192.0.2.1", 0, "", "pg: hostaddr given: nothing to add");
	check_pg("dbname=x", 0, "", "pg: no host: nothing to add");
	check_pg("postgresql://two.test:5433/x", 1, "host=two.test,two.test hostaddr=127.0.0.2,127.0.0.3",
		 "pg: a name (URI form) with two addresses");
	check_pg("host=two.test,/tmp,192.0.2.1 port=1,2,3", 1,
		 "host=two.test,two.test,/tmp,192.0.2.1 hostaddr=127.0.0.2,127.0.0.3,, port=1,1,2,3",
		 "pg: a list: the name's addresses, the rest left to libpq, ports matched");
	check_pg("host=two.test,stalled.test", -1, "", "pg: a name that times out");
	check_pg("host=nowhere.test dbname", -1, "", "pg: not a connection string");

	/* the server comes back: the held look-up is answered */
	kill((pid_t) atoi(pid), SIGUSR1);
	a = resolve_host("stalled.test", g_get_monotonic_time() + 20 * SEC, &why);
	is_str(s = joined(a), "127.0.0.1", "the server back: the held look-up's answer");
	if (a == NULL)
		printf("# why: %s\n", why);
	g_free(s);
	g_free(why);
	g_strfreev(a);
	for (i = 0; i < 200 && resolve_busy(); i++)
		g_usleep(50000);
	is_int(resolve_busy(), 0, "  and its thread gone, its state freed");
	check_pg("host=stalled.test port=5432", 1, "host=stalled.test hostaddr=127.0.0.1",
		 "pg: then the name is given as hostaddr");
	return tap_done();
}
