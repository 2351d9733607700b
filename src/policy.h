/*
 * policy - configuration snapshots and per-domain policy
 *
 * A snapshot is everything sinkd.conf and the domains directory say,
 * loaded, checked and compiled: the [sinkd] settings, the handler chain,
 * the default policy and one policy per domain file.  It is immutable and
 * reference-counted; snapshot_current() hands out a reference to the live
 * one and snapshot_install() swaps in a new one, so a reload never touches
 * a transaction in flight.
 *
 * A policy is one domain's view: for every handler, its key group (built
 * up from the built-in defaults, sinkd.conf's [handler] group, the
 * domains directory's default.conf and the domain's own file, key by key)
 * and the handler's compiled config for it.
 *
 * Which policy applies (sinkd-policy(5)): outbound mail (client in
 * internal-hosts, or SMTP-authenticated) takes the sender domain's; inbound
 * mail takes each recipient domain's at RCPT TO, and for the message as a
 * whole the strictest combination of its recipients' domains, combined key
 * by key as each key's conf_merge rule says.  A domain without a file of
 * its own takes its parent domain's (a.example.com: example.com), then the
 * default.
 *
 * Combining works on each policy's inbound view: its groups as each
 * handler's inbound hook says they act on inbound mail.  The result is a
 * function of the set of domains, never of the recipients' order.  Where
 * no combination is safe (keys whose rule is MERGE_AGREE), two domains
 * that differ cannot share a transaction: policy_conflict() says so, and
 * the chain defers the second recipient at RCPT TO (452 4.5.3) so that the
 * client sends it in a transaction of its own.
 */
#ifndef SINKD_POLICY_H
#define SINKD_POLICY_H

#include <stdio.h>
#include <glib.h>

#include "cidr.h"
#include "conf.h"
#include "socket.h"

struct handler;
struct sink_set;
struct event_set;

struct policy {
	char *domain;		/* "default" or a domain name */
	struct conf_group *groups;	/* per registered handler */
	void **cfg;		/* per chain position: handler config */
	struct conf_group *inbound;	/* per registered handler: groups as
					 * they act on inbound mail (NULL in a
					 * combined policy) */
	const struct snapshot *snap;
	char *file;		/* the file it was read from; a combined
				 * policy: its domains' files, ", " between */
	GPtrArray *decided;	/* combined: a line for each key on which its
				 * domains differ, saying how it was decided */
};

struct snapshot {
	gint refs;
	char *conf_path;
	char *conf_dir;
	const struct handler *const *registry;
	unsigned nregistry;
	struct conf_group main;	/* [sinkd] */
	struct sock_spec socket;
	struct cidr_list *internal;
	const struct handler **chain;
	unsigned *chain_reg;	/* registry index of chain[i] */
	unsigned nchain;
	struct policy *def;
	GHashTable *domains;	/* domain -> struct policy * */
	GMutex merge_lock;
	GHashTable *merged;	/* "a,b" -> struct policy * */
	unsigned needs;		/* HANDLER_NEEDS_* of the chain */
	unsigned decides;	/* HANDLER_AT_* of every policy's configs */
	int conflicts;		/* some two policies differ on a key that
				 * must agree: RCPT TO may defer */
	struct sink_set *sinks;	/* the sinks sinkd.conf names (sink.h), or
				 * NULL; registry then is the built-in
				 * handlers followed by theirs, owned */
	const struct handler **own_registry;
	struct event_set *events;	/* the [event:NAME] targets (event.h),
					 * or NULL; their handlers end the
					 * registry */
};

extern const struct conf_key sinkd_main_keys[];
extern const struct conf_key sinkd_common_keys[];

/* The values of a handler's direction key (disclaimer, rewrite, every
 * sink), in the order of enum direction. */
extern const char *const direction_values[];
enum direction { DIRECTION_OUTBOUND, DIRECTION_INBOUND, DIRECTION_BOTH };
int direction_applies(int direction, int outbound);

struct snapshot *snapshot_load(const char *path,
			       const struct handler *const *registry,
			       struct conf_errors *e);
struct snapshot *snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s);
void snapshot_install(struct snapshot *s);
struct snapshot *snapshot_current(void);

const struct policy *policy_for_domain(const struct snapshot *s,
				       const char *domain);
const struct policy *policy_combine(struct snapshot *s,
				    const struct policy *const *p, unsigned n,
				    struct policy **owned);
const char *policy_conflict(const struct policy *a, const struct policy *b,
			    const char **group);
void policy_free(struct policy *p);
const struct conf_group *policy_group(const struct policy *p, unsigned chainpos);
const void *policy_handler_cfg(const struct policy *p, const struct handler *h);
const struct conf_group *snapshot_group(const struct snapshot *s,
					const struct handler *h);
int snapshot_in_chain(const struct snapshot *s, const struct handler *h);
void policy_print(FILE *out, const struct snapshot *s, const char *domain);
char *policy_describe(const struct policy *p, int outbound);
void policy_debug(const struct policy *p, const char *id);
const struct conf_group *policy_group_of(const struct policy *p,
					 const struct handler *h);

#endif
