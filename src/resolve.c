/*
 * resolve - host name look-ups bounded by a deadline (see resolve.h)
 *
 * A look-up is a struct resolve_job, shared by the thread that runs
 * getaddrinfo() and every caller waiting for it, each holding a
 * reference; the last one to let go frees it.  Jobs under way are in
 * resolve_jobs by name, so that a second caller joins the look-up
 * already running.  One lock (resolve_lock) guards the table and every
 * job's result; one condition (resolve_cond) is broadcast when a job is
 * done, its waiters each checking their own.
 */
#include <sys/socket.h>
#include <netdb.h>
#include <errno.h>
#include <string.h>
#include <glib.h>
#include <libpq-fe.h>

#include "resolve.h"

struct resolve_job {
	gint refs;		/* the thread's and each waiter's */
	char *host;
	int done;		/* set (under the lock) when the answer is in */
	char **addrs;		/* the answer, or NULL and: */
	char *error;		/* what went wrong */
};

static GMutex resolve_lock;
static GCond resolve_cond;
static GHashTable *resolve_jobs;	/* host -> job under way, or NULL */

/* resolve_numeric - see resolve.h */
int
resolve_numeric(const char *host)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_flags = AI_NUMERICHOST};
	struct addrinfo *res = NULL;

	if (host == NULL || *host == 0 || getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	freeaddrinfo(res);
	return 1;
}

/* resolve_unref - drop a reference to job; the last frees it */
static void
resolve_unref(struct resolve_job *job)
{
	if (!g_atomic_int_dec_and_test(&job->refs))
		return;
	g_free(job->host);
	g_strfreev(job->addrs);
	g_free(job->error);
	g_free(job);
}

/* resolve_answer - the numeric addresses of res, each once, in order
 * (g_strfreev), or NULL when there is none */
static char **
resolve_answer(const struct addrinfo *res)
{
	GPtrArray *out = g_ptr_array_new();
	char buf[NI_MAXHOST];
	const struct addrinfo *ai;
	guint i;

	for (ai = res; ai; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, sizeof(buf), NULL, 0,
				NI_NUMERICHOST) != 0)
			continue;
		for (i = 0; i < out->len; i++)
			if (!strcmp(out->pdata[i], buf))
				break;
		if (i == out->len)
			g_ptr_array_add(out, g_strdup(buf));
	}
	if (out->len == 0) {
		g_ptr_array_free(out, TRUE);
		return NULL;
	}
	g_ptr_array_add(out, NULL);
	return (char **) g_ptr_array_free(out, FALSE);
}

/* resolve_thread - the look-up: getaddrinfo(), the answer into the job,
 * the waiters woken, the thread's reference dropped */
static gpointer
resolve_thread(gpointer data)
{
	struct resolve_job *job = data;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char **addrs = NULL, *error = NULL;
	int rc;

	rc = getaddrinfo(job->host, NULL, &hints, &res);
	if (rc == 0) {
		if ((addrs = resolve_answer(res)) == NULL)
			error = g_strdup_printf("%s: no address", job->host);
		freeaddrinfo(res);
	} else {
		error = g_strdup_printf("%s: %s", job->host,
					rc == EAI_SYSTEM ? g_strerror(errno) : gai_strerror(rc));
	}
	g_mutex_lock(&resolve_lock);
	job->addrs = addrs;
	job->error = error;
	job->done = 1;
	if (g_hash_table_lookup(resolve_jobs, job->host) == job)
		g_hash_table_remove(resolve_jobs, job->host);
	if (g_hash_table_size(resolve_jobs) == 0) {
		g_hash_table_destroy(resolve_jobs);
		resolve_jobs = NULL;
	}
	g_cond_broadcast(&resolve_cond);
	g_mutex_unlock(&resolve_lock);
	resolve_unref(job);
	return NULL;
}

/* resolve_join - the job looking host up (one reference for the
 * caller), started when none is under way; NULL with *why when no
 * thread can be made.  Called with the lock held. */
static struct resolve_job *
resolve_join(const char *host, char **why)
{
	struct resolve_job *job;
	GThread *t;
	GError *err = NULL;

	if (resolve_jobs == NULL)
		resolve_jobs = g_hash_table_new(g_str_hash, g_str_equal);
	if ((job = g_hash_table_lookup(resolve_jobs, host)) != NULL) {
		g_atomic_int_inc(&job->refs);
		return job;
	}
	job = g_new0(struct resolve_job, 1);
	job->refs = 2;		/* the caller's, the thread's */
	job->host = g_strdup(host);
	g_hash_table_insert(resolve_jobs, job->host, job);
	if ((t = g_thread_try_new("resolve", resolve_thread, job, &err)) == NULL) {
		*why = g_strdup_printf("%s: cannot look it up: %s", host, err->message);
		g_error_free(err);
		g_hash_table_remove(resolve_jobs, host);
		job->refs = 1;
		resolve_unref(job);
		return NULL;
	}
	g_thread_unref(t);	/* it ends on its own */
	return job;
}

/* resolve_host - see resolve.h */
char **
resolve_host(const char *host, gint64 deadline, char **why)
{
	struct resolve_job *job;
	gint64 start = g_get_monotonic_time();
	char **addrs = NULL;

	if (resolve_numeric(host)) {
		addrs = g_new0(char *, 2);
		addrs[0] = g_strdup(host);
		return addrs;
	}
	g_mutex_lock(&resolve_lock);
	if ((job = resolve_join(host, why)) == NULL) {
		g_mutex_unlock(&resolve_lock);
		return NULL;
	}
	while (!job->done)
		if (!g_cond_wait_until(&resolve_cond, &resolve_lock, deadline))
			break;
	if (!job->done)
		*why = g_strdup_printf("%s: DNS lookup timed out after %g s", host,
				       (double) ((g_get_monotonic_time() - start + 50000) / 100000)
				       / 10);
	else if (job->addrs)
		addrs = g_strdupv(job->addrs);
	else
		*why = g_strdup(job->error);
	g_mutex_unlock(&resolve_lock);
	resolve_unref(job);
	return addrs;
}

/* resolve_busy - see resolve.h */
unsigned
resolve_busy(void)
{
	unsigned n;

	g_mutex_lock(&resolve_lock);
	n = resolve_jobs ? g_hash_table_size(resolve_jobs) : 0;
	g_mutex_unlock(&resolve_lock);
	return n;
}

/* resolve_pg_skip - a host entry of a connection string libpq is left
 * to deal with: the default, a directory (a unix socket's), an address */
static int
resolve_pg_skip(const char *entry)
{
	return *entry == 0 || *entry == '/' || *entry == '@' || resolve_numeric(entry);
}

/* resolve_pg_value - the value of keyword in opts, or NULL when unset */
static const char *
resolve_pg_value(const PQconninfoOption *opts, const char *keyword)
{
	const PQconninfoOption *o;

	for (o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, keyword))
			return o->val && *o->val ? o->val : NULL;
	return NULL;
}

/* resolve_pg - see resolve.h */
int
resolve_pg(const char *conninfo, gint64 deadline, char ***kw, char ***val, char **why)
{
	PQconninfoOption *opts;
	const char *hostlist, *portlist;
	char **hosts = NULL, **ports = NULL, **addrs, *err = NULL;
	GPtrArray *h, *a, *p;
	guint i, j, named = 0;
	int rc = 0;

	*kw = *val = NULL;
	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		*why = g_strdup_printf("not a libpq connection string: %s",
				       err ? g_strchomp(err) : "out of memory");
		PQfreemem(err);
		return -1;
	}
	hostlist = resolve_pg_value(opts, "host");
	portlist = resolve_pg_value(opts, "port");
	if (hostlist == NULL || resolve_pg_value(opts, "hostaddr")) {
		PQconninfoFree(opts);
		return 0;
	}
	hosts = g_strsplit(hostlist, ",", -1);
	if (portlist && strchr(portlist, ',')
	    && g_strv_length((ports = g_strsplit(portlist, ",", -1))) != g_strv_length(hosts))
		g_clear_pointer(&ports, g_strfreev);	/* libpq says what is wrong */
	h = g_ptr_array_new_with_free_func(g_free);
	a = g_ptr_array_new_with_free_func(g_free);
	p = g_ptr_array_new_with_free_func(g_free);
	for (i = 0; hosts[i] && rc == 0; i++) {
		if (resolve_pg_skip(hosts[i])) {
			addrs = g_new0(char *, 2);
			addrs[0] = g_strdup("");
		} else if ((addrs = resolve_host(hosts[i], deadline, why)) == NULL) {
			rc = -1;
			break;
		} else {
			named++;
		}
		for (j = 0; addrs[j]; j++) {
			g_ptr_array_add(h, g_strdup(hosts[i]));
			g_ptr_array_add(a, g_strdup(addrs[j]));
			if (ports)
				g_ptr_array_add(p, g_strdup(ports[i]));
		}
		g_strfreev(addrs);
	}
	if (rc == 0 && named) {
		GPtrArray *k = g_ptr_array_new(), *v = g_ptr_array_new();

		g_ptr_array_add(h, NULL);
		g_ptr_array_add(a, NULL);
		g_ptr_array_add(p, NULL);
		g_ptr_array_add(k, g_strdup("host"));
		g_ptr_array_add(v, g_strjoinv(",", (char **) h->pdata));
		g_ptr_array_add(k, g_strdup("hostaddr"));
		g_ptr_array_add(v, g_strjoinv(",", (char **) a->pdata));
		if (ports) {
			g_ptr_array_add(k, g_strdup("port"));
			g_ptr_array_add(v, g_strjoinv(",", (char **) p->pdata));
		}
		g_ptr_array_add(k, NULL);
		g_ptr_array_add(v, NULL);
		*kw = (char **) g_ptr_array_free(k, FALSE);
		*val = (char **) g_ptr_array_free(v, FALSE);
		rc = 1;
	}
	g_ptr_array_free(h, TRUE);
	g_ptr_array_free(a, TRUE);
	g_ptr_array_free(p, TRUE);
	g_strfreev(hosts);
	g_strfreev(ports);
	PQconninfoFree(opts);
	return rc;
}
