/* SPDX-License-Identifier: MIT */
/*
 * control.h: the daemon side of ringctl's actions and of per-domain
 * overrides (docs/REDIS.md "Control").
 *
 * store/rstate.c reads PREFIX:ctl and PREFIX:override:NAME and calls the
 * hooks below; this module carries the action out on the in-memory queues
 * and the spool (queue, message, flush, fail, retry, delete) and answers
 * through rstate_reply(), or builds dr->policy_ovr from the configuration
 * and the override text so that dlv_policy() returns it.  It decides no
 * delivery policy of its own: bounces go through dlv_domain_fail(), and
 * everything else is a queue move, a spool mark or a maintainer poke.
 * control_ovr.c holds the pure override parser, which ringctl shares.
 *
 * Lifetime: ctl_new() before rstate_new() (its hooks take the ctl as
 * cb_arg), ctl_attach() once the rstate and the routing context exist,
 * ctl_free() after rstate_free().  Single-threaded, like the ring.
 */
#ifndef RINGMTA_CONTROL_H
#define RINGMTA_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "compat.h"
#include "config.h"
#include "domain.h"

struct dlv;
struct rstate;
struct rstate_ctl_msg;
struct ctl;

#define CTL_QUEUE_ROWS 1000 /* most units one node lists for `queue` */

/* The policy keys an override may set. */
enum ctl_ovr_key {
	CTL_OVR_MAX_OUTBOUND_CONNECTIONS = 0,
	CTL_OVR_THROTTLE_MESSAGES,
	CTL_OVR_THROTTLE_CONNECTIONS,
	CTL_OVR_MAX_DELIVERIES_PER_CONNECTION,
	CTL_OVR_RETRY_INTERVAL,
	CTL_OVR_MAX_RETRY_INTERVAL,
	CTL_OVR_MESSAGE_EXPIRATION,
	CTL_OVR_IDLE_TIMEOUT,
	CTL_OVR_MAX_BINDING_CONNECTIONS,
	CTL_OVR__COUNT /* must stay last */
};
/* The key's name as in the configuration file ("retry_interval"). */
const char *ctl_ovr_key_str(enum ctl_ovr_key k);

/*
 * Parse one override into pol with the configuration's value parsers and
 * ranges: key a name of ctl_ovr_key_str(), val as it would be written in
 * the file ("" for a throttle: unlimited).  Returns 0, -ENOENT (not an
 * overridable key) or -EINVAL / -ERANGE with a reason in why.
 */
int ctl_ovr_parse(struct domain_policy *pol, const char *key, const char *val,
		  char *why, size_t whylen) ATTR_WUR;
/*
 * A copy of base with text ("key=value ..." words, rstate's format)
 * applied; bad words are logged (naming domain) and skipped.  Returns a
 * malloc'd policy that shares base's strings (so it must be rebuilt
 * before base's config is freed); the caller frees it with free().
 */
struct domain_policy *ctl_ovr_build(const struct domain_policy *base,
				    const char *text, const char *domain);

struct ctl_opts {
	const struct config *cfg;
	struct dom_table *doms;
};

/* Create the control context (borrows o's pointers).  Never fails. */
struct ctl *ctl_new(const struct ctl_opts *o);
/* Set the state publisher (answers) and the routing context (actions). */
void ctl_attach(struct ctl *c, struct rstate *rs, struct dlv *d);
/* A new configuration: rebuild every override on its policies.  Call it
 * before the old configuration is freed. */
void ctl_set_config(struct ctl *c, const struct config *cfg);
/* Free the context (the records keep their policy_ovr).  NULL is fine. */
void ctl_free(struct ctl *c);

/* rstate hook (arg: the ctl): carry out request m and answer it. */
void ctl_on_request(const struct rstate_ctl_msg *m, void *arg);
/* rstate hook (arg: the ctl): dr's overrides are text (NULL: none). */
void ctl_on_override(domain_record *dr, const char *text, void *arg);
/* rstate hook (arg: the ctl): dr was resumed; poke its maintainer. */
void ctl_on_resume(domain_record *dr, void *arg);

/* 32 hex digits (either case) into id; 0 or -EINVAL. */
int ctl_id_parse(const char *hex, uint8_t id[DOM_ID_LEN]) ATTR_WUR;

#endif
