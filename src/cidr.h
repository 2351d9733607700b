/*
 * cidr - match client addresses against lists of networks
 *
 * A list is parsed once (cidr_list_parse) from entries such as
 * "192.0.2.0/24", "10.1.2.3" or "2001:db8::/32"; matching is a linear walk,
 * which is what these short admin-written lists want.
 */
#ifndef SINKD_CIDR_H
#define SINKD_CIDR_H

struct cidr_list;

struct cidr_list *cidr_list_parse(char **entries, const char **bad,
				  const char **why);
void cidr_list_free(struct cidr_list *l);
int cidr_list_match(const struct cidr_list *l, const char *addr);
int cidr_valid(const char *entry, const char **why);

#endif
