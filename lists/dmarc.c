/*
 * dmarc - the DMARC policy of an author's domain (see dmarc.h)
 *
 * DNS: each query is res_nquery() on a resolver state of the look-up's
 * own (struct dmarc_dns), which makes look-ups safe from many threads at
 * once.  Its settings hold the deadline:
 *  - retrans and retry.  glibc's resolver waits retrans seconds, whole
 *    seconds, for the first server's answer, retrans * 2^i / nscount for
 *    the i-th server after it (at least one second), and goes round
 *    retry times: at most retry * nscount * retrans seconds in all.  A
 *    query is given the whole seconds left before the deadline, and
 *    servers past what they allow are dropped from the state.
 *  - RES_IGNTC.  Without it, a truncated answer (TC) makes glibc ask
 *    again over TCP, where it connects and reads with no timeout at all:
 *    a server that accepts and says nothing would hold the thread for
 *    ever.  With it the truncated answer comes back, and is a temperror;
 *    RES_USE_EDNS0 makes that rare (answers up to 1200 bytes fit).
 *    RES_USEVC is cleared, whatever resolv.conf says, for the same
 *    reason.
 * A failure the server states (SERVFAIL, REFUSED) ends a query as a
 * timeout does (glibc tries the next server, then gives up with
 * TRY_AGAIN); the last datagram read is still in the answer buffer, so
 * its header says which it was.
 *
 * A nameserver given replaces resolv.conf's in the state: an IPv4
 * address in nsaddr_list[], an IPv6 one as res_ninit() puts those of
 * resolv.conf, in a malloc'd _u._ext.nsaddrs[] entry (res_nclose() frees
 * it) with its nsaddr_list[] entry's family 0.  XXX _u._ext is glibc's
 * own rather than an interface, but the only way to an IPv6 server.
 *
 * Answers are read with ns_initparse() and ns_parserr(); only the TXT
 * data's character-strings are taken apart here.  A CNAME chain in the
 * answer is followed to its end (DMARC_CNAME_HOPS links at most: a loop
 * or a longer chain is no record), whose TXT records are the set.
 *
 * The Public Suffix List: libpsl's psl_latest(NULL) loads the list of
 * Debian's publicsuffix package (/usr/share/publicsuffix/, recommended
 * by libpsl5 and updated apart from libpsl) when it is newer than the
 * copy built into libpsl, else gives that builtin copy (psl_builtin(),
 * made from the same package when libpsl was built: in Debian 12, the
 * list of February 2023).  So the newer of the two is used, and the
 * builtin one when the package is not installed.  Loaded once per
 * process, on first use; never freed.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <libpsl.h>

#include "dmarc.h"

#define DMARC_NAME_MAX		253	/* a domain name, dots included */
#define DMARC_LABEL_MAX		63
#define DMARC_ANSWER_MAX	65536	/* the largest DNS message */
#define DMARC_CNAME_HOPS	8	/* links of a CNAME chain followed */
#define DMARC_CNAME_KEPT	32	/* CNAME records of one answer looked at */
#define DMARC_SLACK_MS		20	/* what may go past the deadline rather
					 * than lose a whole second of it */

static const char *const dmarc_names[] = {
	[DMARC_ABSENT] = "absent",
	[DMARC_NONE] = "none",
	[DMARC_QUARANTINE] = "quarantine",
	[DMARC_REJECT] = "reject",
	[DMARC_TEMPERROR] = "temperror",
};
G_STATIC_ASSERT(G_N_ELEMENTS(dmarc_names) == DMARC_TEMPERROR + 1);

/* one tag-spec of a record: name and value, white space around cut */
struct dmarc_tag {
	const char *name;
	size_t nlen;
	const char *val;
	size_t vlen;
};

/* a look-up's resolver and deadline */
struct dmarc_dns {
	struct __res_state res;
	gint64 deadline;	/* monotonic, g_get_monotonic_time() */
	unsigned char *ans;	/* DMARC_ANSWER_MAX bytes */
};

/* dmarc_policy_name - see dmarc.h */
const char *
dmarc_policy_name(enum dmarc_policy p)
{
	return (unsigned) p < G_N_ELEMENTS(dmarc_names) ? dmarc_names[p] : "?";
}

/* dmarc_space - white space of a tag list: WSP, or the line end of FWS */
static int
dmarc_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * dmarc_next - the tag-spec of txt (len bytes) at *i, *i moved past it
 * and its ";": 1, or 0 at the end of the list, or -1 when what comes is
 * no tag-spec.  Empty ones (";;", a final ";") are skipped, but not
 * before the first tag.
 */
static int
dmarc_next(const char *txt, size_t len, size_t *i, struct dmarc_tag *t)
{
	size_t j = *i;

	while (j < len && (dmarc_space(txt[j]) || (txt[j] == ';' && *i > 0)))
		j++;
	if (j == len) {
		*i = j;
		return 0;
	}
	if (!g_ascii_isalpha(txt[j]))
		return -1;
	t->name = txt + j;
	while (j < len && (g_ascii_isalnum(txt[j]) || txt[j] == '_'))
		j++;
	t->nlen = (size_t) (txt + j - t->name);
	while (j < len && dmarc_space(txt[j]))
		j++;
	if (j == len || txt[j] != '=')
		return -1;
	for (j++; j < len && dmarc_space(txt[j]); j++)
		;
	t->val = txt + j;
	while (j < len && txt[j] != ';')
		j++;
	t->vlen = (size_t) (txt + j - t->val);
	while (t->vlen > 0 && dmarc_space(t->val[t->vlen - 1]))
		t->vlen--;
	*i = j < len ? j + 1 : j;
	return 1;
}

/* dmarc_is - s (n bytes) is word, in any case */
static int
dmarc_is(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && g_ascii_strncasecmp(s, word, n) == 0;
}

/* dmarc_versioned - txt begins with the tag v=DMARC1 (RFC 7489 6.6.3
 * step 2: what is a DMARC record at all); *i moved past it */
static int
dmarc_versioned(const char *txt, size_t len, size_t *i)
{
	struct dmarc_tag t;

	return dmarc_next(txt, len, i, &t) > 0 && dmarc_is(t.name, t.nlen, "v")
		&& dmarc_is(t.val, t.vlen, "DMARC1");
}

/* dmarc_request - the policy a p= or sp= value names, or -1 */
static int
dmarc_request(const struct dmarc_tag *t)
{
	static const enum dmarc_policy words[] = {DMARC_NONE, DMARC_QUARANTINE, DMARC_REJECT};
	size_t k;

	for (k = 0; k < G_N_ELEMENTS(words); k++)
		if (dmarc_is(t->val, t->vlen, dmarc_names[words[k]]))
			return (int) words[k];
	return -1;
}

/* dmarc_parse - see dmarc.h */
int
dmarc_parse(const char *txt, size_t len, enum dmarc_policy *p, enum dmarc_policy *sp)
{
	struct dmarc_tag t;
	size_t i = 0;
	int rc, pv = -1, spv = -1;

	if (!dmarc_versioned(txt, len, &i))
		return -1;
	while ((rc = dmarc_next(txt, len, &i, &t)) > 0) {
		if (dmarc_is(t.name, t.nlen, "v"))
			return -1;
		if (dmarc_is(t.name, t.nlen, "p")) {
			if (pv >= 0 || (pv = dmarc_request(&t)) < 0)
				return -1;
		} else if (dmarc_is(t.name, t.nlen, "sp")) {
			if (spv >= 0 || (spv = dmarc_request(&t)) < 0)
				return -1;
		}
	}
	if (rc < 0 || pv < 0)
		return -1;
	*p = (enum dmarc_policy) pv;
	*sp = (enum dmarc_policy) (spv >= 0 ? spv : pv);
	return 0;
}

/* dmarc_domain_ok - d is a domain name as dmarc_policy_of() takes it */
static int
dmarc_domain_ok(const char *d)
{
	size_t label = 0;
	const char *c;

	if (d == NULL || *d == 0 || strnlen(d, DMARC_NAME_MAX + 1) > DMARC_NAME_MAX)
		return 0;
	for (c = d;; c++) {
		if (*c == '.' || *c == 0) {
			if (label == 0 || label > DMARC_LABEL_MAX || c[-1] == '-')
				return 0;
			if (*c == 0)
				return 1;
			label = 0;
		} else if (g_ascii_islower(*c) || g_ascii_isdigit(*c) || (*c == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
}

/* dmarc_psl_load - the Public Suffix List (see the top of the file) */
static gpointer
dmarc_psl_load(gpointer unused)
{
	psl_ctx_t *psl = psl_latest(NULL);

	(void) unused;
	return psl ? (gpointer) psl : (gpointer) psl_builtin();
}

/* dmarc_org - the organizational domain of domain when it is another
 * (a pointer into domain), or NULL: domain is its own, or a public
 * suffix, or no list could be had */
static const char *
dmarc_org(const char *domain)
{
	static GOnce once = G_ONCE_INIT;
	const psl_ctx_t *psl = g_once(&once, dmarc_psl_load, NULL);
	const char *org = psl ? psl_registrable_domain(psl, domain) : NULL;

	return org && strcmp(org, domain) != 0 ? org : NULL;
}

/* dmarc_printable - s for a message: escaped, cut at 80 bytes */
static char *
dmarc_printable(const char *s)
{
	char *cut = g_strndup(s, 80), *out = g_strescape(cut, NULL);

	g_free(cut);
	return out;
}

/* dmarc_server - the address of spec ("ADDRESS", "ADDRESS:PORT",
 * "[ADDRESS]:PORT", an IPv6 address bare) into *ss: 0, or -1 */
static int
dmarc_server(const char *spec, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *) ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
	const char *end, *port = NULL;
	char host[INET6_ADDRSTRLEN];
	size_t n;
	unsigned long num = 53;
	int bracket = spec[0] == '[';

	if (bracket) {
		if ((end = strchr(spec, ']')) == NULL || (end[1] != 0 && end[1] != ':'))
			return -1;
		n = (size_t) (end - spec - 1);
		if (end[1] == ':')
			port = end + 2;
		spec++;
	} else if ((end = strchr(spec, ':')) != NULL && strchr(end + 1, ':') == NULL) {
		n = (size_t) (end - spec);
		port = end + 1;
	} else {
		n = strlen(spec);
	}
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, spec, n);
	host[n] = 0;
	if (port) {
		if (*port == 0 || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port))
			return -1;
		num = strtoul(port, NULL, 10);
		if (num == 0 || num > 65535)
			return -1;
	}
	memset(ss, 0, sizeof(*ss));
	if (!bracket && inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t) num);
		return 0;
	}
	if ((bracket || port == NULL) && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t) num);
		return 0;
	}
	return -1;
}

/* dmarc_set_server - the state's servers: ss alone; -1 when out of memory */
static int
dmarc_set_server(res_state st, const struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *in6;
	int i;

	/* res_ninit() left an IPv6 server of resolv.conf in _u._ext.nsaddrs[]
	 * (malloc'd) and NULL in the other entries */
	for (i = 0; i < MAXNS; i++) {
		free(st->_u._ext.nsaddrs[i]);
		st->_u._ext.nsaddrs[i] = NULL;
	}
	if (ss->ss_family == AF_INET) {
		memcpy(&st->nsaddr_list[0], ss, sizeof(struct sockaddr_in));
	} else {
		/* malloc, not g_malloc: res_nclose() frees it */
		if ((in6 = malloc(sizeof(*in6))) == NULL)
			return -1;
		memcpy(in6, ss, sizeof(*in6));
		st->nsaddr_list[0].sin_family = 0;
		st->_u._ext.nsaddrs[0] = in6;
	}
	st->nscount = 1;
	st->_u._ext.nscount = 0;	/* res_nsend() takes the list afresh */
	return 0;
}

/* dmarc_keep_servers - the first n servers of the state (n >= 1), the
 * others dropped.  Between queries glibc has closed every socket and
 * keeps a malloc'd copy of each server's address (before the first
 * query, of the IPv6 ones), which res_nclose() frees for the servers
 * counted only: those dropped are freed here. */
static void
dmarc_keep_servers(res_state st, int n)
{
	int i;

	for (i = n; i < st->nscount && i < MAXNS; i++) {
		free(st->_u._ext.nsaddrs[i]);
		st->_u._ext.nsaddrs[i] = NULL;
	}
	if (n < st->nscount)
		st->nscount = n;
}

/* dmarc_dns_free - a look-up's resolver and buffer */
static void
dmarc_dns_free(struct dmarc_dns *dns)
{
	if (dns == NULL)
		return;
	res_nclose(&dns->res);
	g_free(dns->ans);
	g_free(dns);
}

/* dmarc_dns_new - a resolver for one look-up, its deadline
 * timeout_ms from now; NULL with *why */
static struct dmarc_dns *
dmarc_dns_new(const char *nameserver, unsigned timeout_ms, char **why)
{
	struct dmarc_dns *dns = g_new0(struct dmarc_dns, 1);
	struct sockaddr_storage ss;
	char *s;

	if (nameserver && dmarc_server(nameserver, &ss) < 0) {
		*why = g_strdup_printf("nameserver \"%s\" is not ADDRESS[:PORT]",
				       s = dmarc_printable(nameserver));
		g_free(s);
		g_free(dns);
		return NULL;
	}
	if (res_ninit(&dns->res) < 0) {
		*why = g_strdup("cannot set up the resolver (res_ninit)");
		g_free(dns);
		return NULL;
	}
	dns->res.options |= RES_USE_EDNS0 | RES_IGNTC;
	dns->res.options &= ~(unsigned long) RES_USEVC;
	if (nameserver && dmarc_set_server(&dns->res, &ss) < 0) {
		*why = g_strdup("out of memory");
		dmarc_dns_free(dns);
		return NULL;
	}
	dns->deadline = g_get_monotonic_time() + (gint64) MAX(timeout_ms, 1000u) * 1000;
	dns->ans = g_malloc(DMARC_ANSWER_MAX);
	return dns;
}

/* dmarc_rcode - the name of a DNS rcode */
static const char *
dmarc_rcode(unsigned rcode)
{
	switch (rcode) {
	case ns_r_formerr:
		return "FORMERR";
	case ns_r_servfail:
		return "SERVFAIL";
	case ns_r_notimpl:
		return "NOTIMP";
	case ns_r_refused:
		return "REFUSED";
	default:
		return "an error";
	}
}

/* dmarc_txt - the text of a TXT record, its character-strings joined
 * (g_bytes_unref); NULL when they do not fill its data exactly */
static GBytes *
dmarc_txt(const ns_rr *rr)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t len = ns_rr_rdlen(*rr), k = 0, n;
	GByteArray *text = g_byte_array_sized_new((guint) len);

	while (k < len) {
		n = rd[k];
		if (k + 1 + n > len) {
			g_byte_array_unref(text);
			return NULL;
		}
		g_byte_array_append(text, rd + k + 1, (guint) n);
		k += 1 + n;
	}
	return g_byte_array_free_to_bytes(text);
}

/* dmarc_samename - a and b, names as ns_parserr() and
 * ns_name_uncompress() write them, are one name: case aside, and a
 * final dot (ns_samename() is deprecated) */
static int
dmarc_samename(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na > 1 && a[na - 1] == '.')
		na--;
	if (nb > 1 && b[nb - 1] == '.')
		nb--;
	return na == nb && g_ascii_strncasecmp(a, b, na) == 0;
}

/*
 * dmarc_answer - the TXT records of the answer (len bytes in dns->ans)
 * to the query for qname, at the end of its CNAME chain: 0 with *set
 * (GBytes, maybe none), or -1 with *why when the answer cannot be read
 */
static int
dmarc_answer(struct dmarc_dns *dns, int len, const char *qname, GPtrArray **set, char **why)
{
	ns_msg msg;
	ns_rr rr;
	GPtrArray *cnames = g_ptr_array_new_with_free_func(g_free);	/* owner, target */
	char target[NS_MAXDNAME];
	const char *at = qname;
	GBytes *text;
	int i, count, hops;
	guint k;

	*set = NULL;
	if (ns_initparse(dns->ans, len, &msg) < 0)
		goto bad;
	if (ns_msg_getflag(msg, ns_f_tc)) {
		*why = g_strdup_printf("%s: an answer cut short (TC)", qname);
		g_ptr_array_free(cnames, TRUE);
		return -1;
	}
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			goto bad;
		if (ns_rr_class(rr) != ns_c_in || ns_rr_type(rr) != ns_t_cname
		    || cnames->len >= 2 * DMARC_CNAME_KEPT)
			continue;
		if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr),
				       target, sizeof(target)) < 0)
			goto bad;
		g_ptr_array_add(cnames, g_strdup(ns_rr_name(rr)));
		g_ptr_array_add(cnames, g_strdup(target));
	}
	/* the chain: at most DMARC_CNAME_HOPS links, else no record */
	for (hops = 0; at; hops++) {
		for (k = 0; k < cnames->len; k += 2)
			if (dmarc_samename(g_ptr_array_index(cnames, k), at))
				break;
		if (k == cnames->len)
			break;	/* its end */
		at = hops < DMARC_CNAME_HOPS ? g_ptr_array_index(cnames, k + 1) : NULL;
	}
	*set = g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
	for (i = 0; i < count && at; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			goto bad;
		if (ns_rr_class(rr) != ns_c_in || ns_rr_type(rr) != ns_t_txt
		    || !dmarc_samename(ns_rr_name(rr), at))
			continue;
		if ((text = dmarc_txt(&rr)) == NULL)
			goto bad;
		g_ptr_array_add(*set, text);
	}
	g_ptr_array_free(cnames, TRUE);
	return 0;
bad:
	*why = g_strdup_printf("%s: an answer that cannot be read", qname);
	if (*set)
		g_ptr_array_free(*set, TRUE);
	*set = NULL;
	g_ptr_array_free(cnames, TRUE);
	return -1;
}

/*
 * dmarc_query - the TXT records at qname (GBytes in *set, maybe none:
 * NXDOMAIN, no TXT record), or -1 with *why: no time left, no answer in
 * the time left, a failure the server said, an answer cut short or that
 * cannot be read
 */
static int
dmarc_query(struct dmarc_dns *dns, const char *qname, GPtrArray **set, char **why)
{
	const HEADER *h = (const HEADER *) dns->ans;
	gint64 left = dns->deadline - g_get_monotonic_time();
	int secs, servers, len;

	*set = NULL;
	secs = left > 0 ? (int) ((left / 1000 + DMARC_SLACK_MS) / 1000) : 0;
	if (secs == 0) {
		*why = g_strdup_printf("%s: no time left to ask", qname);
		return -1;
	}
	servers = MAX(1, MIN(dns->res.nscount, secs));
	dmarc_keep_servers(&dns->res, servers);
	dns->res.retry = secs / servers >= 2 ? 2 : 1;
	dns->res.retrans = secs / servers / dns->res.retry;
	memset(dns->ans, 0, HFIXEDSZ);
	errno = 0;
	len = res_nquery(&dns->res, qname, ns_c_in, ns_t_txt, dns->ans, DMARC_ANSWER_MAX);
	if (len >= 0)
		return dmarc_answer(dns, len, qname, set, why);
	if (h->qr && h->tc) {
		*why = g_strdup_printf("%s: an answer cut short (TC)", qname);
		return -1;
	}
	switch (dns->res.res_h_errno) {
	case HOST_NOT_FOUND:	/* NXDOMAIN */
	case NO_DATA:		/* the name, and no TXT record */
		*set = g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
		return 0;
	case TRY_AGAIN:
		if (h->qr && h->rcode != ns_r_noerror)
			*why = g_strdup_printf("%s: the DNS server answered %s", qname,
					       dmarc_rcode(h->rcode));
		else if (errno == ECONNREFUSED)
			*why = g_strdup_printf("%s: no DNS server there (connection refused)",
					       qname);
		else
			*why = g_strdup_printf("%s: no answer within %d s", qname, secs);
		return -1;
	default:
		if (h->qr)
			*why = g_strdup_printf("%s: the DNS server answered %s", qname,
					       dmarc_rcode(h->rcode));
		else
			*why = g_strdup_printf("%s: the query could not be made", qname);
		return -1;
	}
}

/*
 * dmarc_at - policy discovery at _dmarc.name (RFC 7489 6.6.3, steps 1
 * and 2, or 3 and 4; then 5 and 6): 0 when there is no DMARC record
 * there; else 1 with *pol: the record's p=, or its sp= for a subdomain
 * (sub), DMARC_ABSENT when there are several or it is not valid, or
 * DMARC_TEMPERROR; *why then says which (for domain)
 */
static int
dmarc_at(struct dmarc_dns *dns, const char *domain, const char *name, int sub,
	 enum dmarc_policy *pol, char **why)
{
	char *qname = g_strconcat("_dmarc.", name, NULL), *problem = NULL;
	GPtrArray *set = NULL;
	GBytes *found = NULL;
	enum dmarc_policy p, sp;
	gsize len;
	size_t i;
	guint k, n = 0;
	int rc = 1;

	if (strlen(qname) > DMARC_NAME_MAX) {
		rc = 0;		/* no name: no record there */
	} else if (dmarc_query(dns, qname, &set, &problem) < 0) {
		*pol = DMARC_TEMPERROR;
		*why = g_strdup_printf("%s: %s", domain, problem);
	} else {
		for (k = 0; k < set->len; k++) {
			const char *txt = g_bytes_get_data(g_ptr_array_index(set, k), &len);

			i = 0;
			if (dmarc_versioned(txt, len, &i) && n++ == 0)
				found = g_ptr_array_index(set, k);
		}
		if (n == 0) {
			rc = 0;
		} else if (n > 1) {
			*pol = DMARC_ABSENT;
			*why = g_strdup_printf("%s: %u DMARC records at %s: none applies",
					       domain, n, qname);
		} else if (dmarc_parse(g_bytes_get_data(found, NULL), g_bytes_get_size(found),
				       &p, &sp) < 0) {
			*pol = DMARC_ABSENT;
			*why = g_strdup_printf("%s: the DMARC record at %s is not valid: "
					       "none applies", domain, qname);
		} else {
			*pol = sub ? sp : p;
			*why = g_strdup_printf("%s: %s, by %s%s", domain, dmarc_policy_name(*pol),
					       qname, sub ? " for its subdomains" : "");
		}
	}
	if (set)
		g_ptr_array_free(set, TRUE);
	g_free(problem);
	g_free(qname);
	return rc;
}

/* dmarc_policy_of - see dmarc.h */
enum dmarc_policy
dmarc_policy_of(const char *domain, const char *nameserver, unsigned timeout_ms, char **why)
{
	struct dmarc_dns *dns;
	enum dmarc_policy pol = DMARC_ABSENT;
	const char *org;
	char *said = NULL, *s;

	if (!dmarc_domain_ok(domain)) {
		said = g_strdup_printf("\"%s\": not a domain name",
				       s = dmarc_printable(domain ? domain : "(null)"));
		g_free(s);
	} else if ((dns = dmarc_dns_new(nameserver, timeout_ms, &s)) == NULL) {
		pol = DMARC_TEMPERROR;
		said = g_strdup_printf("%s: %s", domain, s);
		g_free(s);
	} else {
		org = dmarc_org(domain);
		if (!dmarc_at(dns, domain, domain, 0, &pol, &said)
		    && !(org && dmarc_at(dns, domain, org, 1, &pol, &said))) {
			pol = DMARC_ABSENT;
			if (org)
				said = g_strdup_printf("%s: no DMARC record at _dmarc.%s "
						       "or _dmarc.%s", domain, domain, org);
			else
				said = g_strdup_printf("%s: no DMARC record at _dmarc.%s",
						       domain, domain);
		}
		dmarc_dns_free(dns);
	}
	if (why)
		*why = said;
	else
		g_free(said);
	return pol;
}
