/*
 * cidr - address/prefix lists for IPv4 and IPv6
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "cidr.h"

struct cidr {
	int family;
	unsigned char addr[16];
	unsigned prefix;
};

struct cidr_list {
	unsigned n;
	struct cidr net[];
};

/* cidr_one - parse one entry */
static int
cidr_one(const char *entry, struct cidr *c, const char **why)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned max;
	long p;

	if (strlen(entry) >= sizeof(buf)) {
		*why = "not an address or network";
		return -1;
	}
	strcpy(buf, entry);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf[0] == '[' ? buf + 1 : buf, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		*why = "not an IPv4 or IPv6 address or network";
		return -1;
	}
	c->prefix = max;
	if (slash) {
		p = strtol(slash, &end, 10);
		if (*slash == 0 || *end || p < 0 || p > (long) max) {
			*why = "bad prefix length";
			return -1;
		}
		c->prefix = (unsigned) p;
	}
	return 0;
}

/* cidr_valid - check an entry without keeping it */
int
cidr_valid(const char *entry, const char **why)
{
	struct cidr c;

	return cidr_one(entry, &c, why);
}

/* cidr_list_parse - compile a NULL-terminated list; NULL and *bad on error */
struct cidr_list *
cidr_list_parse(char **entries, const char **bad, const char **why)
{
	struct cidr_list *l;
	unsigned n = entries ? g_strv_length(entries) : 0, i;

	l = g_malloc0(sizeof(*l) + n * sizeof(struct cidr));
	for (i = 0; i < n; i++) {
		if (cidr_one(entries[i], &l->net[i], why) < 0) {
			*bad = entries[i];
			g_free(l);
			return NULL;
		}
	}
	l->n = n;
	return l;
}

void
cidr_list_free(struct cidr_list *l)
{
	g_free(l);
}

/* prefix_eq - the first bits of two addresses agree */
static int
prefix_eq(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest))) == 0;
}

/* cidr_list_match - does addr (text form) fall in any network */
int
cidr_list_match(const struct cidr_list *l, const char *addr)
{
	unsigned char a[16], mapped[16];
	int fam, have_mapped = 0;
	unsigned i;

	if (l == NULL || addr == NULL)
		return 0;
	if (inet_pton(AF_INET, addr, a) == 1) {
		fam = AF_INET;
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		fam = AF_INET6;
		/* ::ffff:192.0.2.1 also matches IPv4 networks */
		static const unsigned char v4map[12] =
			{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, v4map, 12) == 0) {
			memcpy(mapped, a + 12, 4);
			have_mapped = 1;
		}
	} else {
		return 0;
	}
	for (i = 0; i < l->n; i++) {
		const struct cidr *c = &l->net[i];

		if (c->family == fam && prefix_eq(a, c->addr, c->prefix))
			return 1;
		if (have_mapped && c->family == AF_INET
		    && prefix_eq(mapped, c->addr, c->prefix))
			return 1;
	}
	return 0;
}
