/* SPDX-License-Identifier: MIT */
/*
 * dns.h: the routing lookups of outbound delivery, on the ring (c-ares).
 *
 * dns_resolve_mx() turns a recipient domain into the ordered list of hosts
 * and addresses to try (RFC 5321 5.1: MX sorted by preference, equal
 * preferences shuffled, implicit MX on NODATA, null MX per RFC 7505);
 * dns_resolve_host() does A+AAAA for a configured relay.  Both give a
 * struct dns_mx_result whose status is already a routing decision (permanent,
 * temporary, usable).  Answers are cached by (name, type) within TTL
 * bounds, and concurrent lookups of one (name, type) share one query.
 *
 * Callbacks are never called from inside dns_resolve_*(), dns_cancel() or
 * c-ares: they run from the ring loop (a timer at "now").  The result
 * belongs to the callback, which frees it with dns_mx_result_free().
 * dns.c is the only file that includes <ares.h>; nothing here exposes it.
 * The destination allow-list is the caller's: dns_mx_result_filter() applies
 * a caller predicate (e.g. value_cidr_match) to every address.
 */
#ifndef RINGMTA_DNS_H
#define RINGMTA_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "compat.h"
#include "value.h"

struct ring;
struct dns;
struct dns_req;

#define DNS_NAME_MAX 253 /* longest name, without the trailing dot */

/* The outcome of a whole lookup: what routing should do. */
enum dns_status {
	DNS_OK = 0,       /* hosts[] has at least one address */
	DNS_NXDOMAIN,     /* permanent: the domain does not exist (5.1.2) */
	DNS_NULL_MX,      /* permanent: RFC 7505 null MX (556 5.1.10) */
	DNS_TEMPFAIL,     /* temporary: see reason (timeout, servfail...) */
	DNS_NO_ADDRESSES, /* temporary: no host had a usable address */
	DNS_BAD_NAME,     /* permanent: the name is not a valid domain */
	DNS_CANCELLED,    /* dns_free() ran before the lookup finished */
	DNS__COUNT        /* must stay last */
};
const char *dns_status_str(enum dns_status s);
/* True for the statuses that must fail the recipients permanently. */
bool dns_status_permanent(enum dns_status s);

/* Why: the detail behind a status (and behind a host's status). */
enum dns_reason {
	DNS_R_NONE = 0,
	DNS_R_TIMEOUT,     /* no answer within tries x timeout */
	DNS_R_SERVFAIL,    /* the resolver answered SERVFAIL */
	DNS_R_REFUSED,     /* REFUSED, or nothing listening (ECONNREFUSED) */
	DNS_R_FORMERR,     /* malformed or unparseable answer */
	DNS_R_LOCAL,       /* our side: out of memory, channel failure */
	DNS_R_NXDOMAIN,    /* the name does not exist */
	DNS_R_NODATA,      /* the name exists but has no record of the type */
	DNS_R_BAD_TARGETS, /* every MX target was malformed */
	DNS_R_CNAME_DEPTH, /* CNAME chain longer than max_cname */
	DNS_R_FILTERED,    /* every address refused by dns_mx_result_filter */
	DNS_R__COUNT       /* must stay last */
};
const char *dns_reason_str(enum dns_reason r);

/* One host's status inside a result. */
enum dns_host_status {
	DNS_H_OK = 0,     /* naddrs > 0 */
	DNS_H_NO_ADDRESS, /* NXDOMAIN or NODATA for every family */
	DNS_H_TEMPFAIL,   /* a lookup failed temporarily, nothing usable */
	DNS_H_OVER_LIMIT, /* max_addresses was reached by earlier hosts */
	DNS_H_FILTERED,   /* every address removed by dns_mx_result_filter */
	DNS_H__COUNT      /* must stay last */
};
const char *dns_host_status_str(enum dns_host_status s);

struct dns_host {
	char *name;    /* normalized host name */
	uint16_t pref; /* MX preference (0 for implicit MX and relays) */
	enum dns_host_status status;
	enum dns_reason reason;
	size_t naddrs;
	struct sockaddr_storage *addrs; /* IPv4 first, then IPv6 */
};

/*
 * A lookup's result.  hosts are in the order to try them; addresses of a
 * host are IPv4 then IPv6, each family shuffled.  The ports are the port
 * given to dns_resolve_host(), or 0 after dns_resolve_mx() (the caller sets
 * its delivery port with dns_mx_result_set_port()).
 */
struct dns_mx_result {
	enum dns_status status;
	enum dns_reason reason;
	char *domain;       /* the normalized name that was looked up */
	bool implicit_mx;   /* no MX records: the domain itself, pref 0 */
	unsigned skipped;   /* malformed MX targets skipped */
	unsigned truncated; /* MX hosts dropped by max_mx_hosts */
	unsigned filtered;  /* addresses removed by dns_mx_result_filter */
	uint64_t ttl_ms;    /* smallest clamped TTL of the answers used */
	size_t nhosts;
	struct dns_host *hosts;
	size_t naddrs; /* sum of hosts[].naddrs */
};

/* Free a result and everything it holds; NULL is fine. */
void dns_mx_result_free(struct dns_mx_result *res);
/* Set the port of every address of res. */
void dns_mx_result_set_port(struct dns_mx_result *res, uint16_t port);
/*
 * Keep only the addresses for which keep(arg, sa) is true (the destination
 * allow-list).  A host that loses every address becomes DNS_H_FILTERED; a
 * DNS_OK result left with no address becomes DNS_NO_ADDRESSES with reason
 * DNS_R_FILTERED.  Returns the number of addresses kept.
 */
size_t dns_mx_result_filter(struct dns_mx_result *res,
			    bool (*keep)(void *arg, const struct sockaddr *sa),
			    void *arg);

/*
 * Normalize a domain or host name given as A-labels: lowercase, one
 * trailing dot removed.  Accepts LDH labels of 1-63 bytes (no leading or
 * trailing hyphen; '_' is refused), 1-253 bytes in all, and a last label
 * that is not all digits (so "10.0.0.1" is not a name).  Writes the result
 * into out (outsz >= DNS_NAME_MAX + 1).  Returns 0 or -EINVAL.
 */
int dns_name_normalize(const char *in, char *out, size_t outsz) ATTR_WUR;

enum dns_family {
	DNS_FAM_ANY = 0, /* A and AAAA */
	DNS_FAM_IPV4,    /* A only */
	DNS_FAM_IPV6,    /* AAAA only */
	DNS_FAM__COUNT   /* must stay last */
};

struct dns_opts {
	/* Resolvers (ip + port); none: /etc/resolv.conf. Borrowed. */
	const struct value_sockaddr *servers;
	size_t nservers;
	unsigned timeout_ms; /* per attempt (c-ares doubles it per round) */
	unsigned tries;      /* attempts per query */
	unsigned cache_size; /* cached answers; 0 disables the cache */
	uint64_t min_ttl_ms; /* cache floor */
	uint64_t max_ttl_ms; /* cache ceiling */
	uint64_t negative_ttl_ms; /* NXDOMAIN and NODATA */
	unsigned max_mx_hosts;    /* MX hosts kept, in preference order */
	unsigned max_addresses;   /* addresses kept over all hosts */
	unsigned max_cname;       /* CNAMEs allowed in one answer */
	enum dns_family family;
	uint64_t seed; /* shuffling; 0: from getrandom() */
	/* Queries sent to the resolvers at once; the rest wait in a FIFO.
	 * 0: DNS_MAX_INFLIGHT_DEFAULT. */
	unsigned max_inflight;
};
#define DNS_MAX_INFLIGHT_DEFAULT 128
#define DNS_MAX_INFLIGHT_MAX     100000
/* The defaults of docs/CONFIG.md [dns]. */
void dns_opts_init(struct dns_opts *o);

struct dns_stats {
	uint64_t lookups;   /* (name, type) lookups asked by requests */
	uint64_t hits;      /* answered from the cache */
	uint64_t misses;    /* not in the cache (or expired) */
	uint64_t coalesced; /* joined a query already in flight */
	uint64_t queries;   /* queries sent to c-ares */
	uint64_t failures;  /* queries that ended in a temporary failure */
	uint64_t evictions; /* cache entries pushed out by the size bound */
	uint64_t entries;   /* cache entries now */
	uint64_t inflight;  /* queries not yet answered (sent or waiting) */
	uint64_t waiting;   /* of those, held back by max_inflight */
	uint64_t sent_peak; /* most queries out at the resolvers at once */
};

/*
 * Create a resolver on ring r.  Returns it, or NULL with *err_r = -errno
 * (-EINVAL for bad options or servers, -ENOMEM, -EIO if c-ares failed).
 */
struct dns *dns_new(struct ring *r, const struct dns_opts *o, int *err_r);
/*
 * Destroy d.  Every request still pending gets its callback, once, with
 * status DNS_CANCELLED (from inside this call; dns_resolve_*() returns
 * -ESHUTDOWN meanwhile), then d is gone.  Must not be called from a dns
 * callback.  Poll slots the kernel still holds are freed when their last
 * completion arrives (or by ring_shutdown()).  NULL is fine.
 */
void dns_free(struct dns *d);
const struct dns_stats *dns_stats(const struct dns *d);
/*
 * Apply o to a running resolver (a reload); o->servers is copied.  When
 * the servers (order counts), timeout_ms or tries differ from the running
 * ones, a new c-ares channel is made for every query sent from now on;
 * queries in flight finish (or time out, with their retries) on the old
 * channel with the old settings, and it is closed after its last answer.
 * The cache and answer limits (cache_size, TTL bounds, max_mx_hosts,
 * max_addresses, max_cname, family, max_inflight) apply from now on; a
 * smaller cache_size evicts the oldest answers at once; cached answers
 * keep the expiry they were given.  Logs one line per group that changed.
 * Returns 0, or -EINVAL (bad options or address), -ENOMEM, -EIO (c-ares)
 * with everything kept as it was, or -ESHUTDOWN.  Must not be called from
 * a dns callback.
 */
int dns_reconfigure(struct dns *d, const struct dns_opts *o);
/* dns_reconfigure() with d's options and servers[n]. */
int dns_set_servers(struct dns *d, const struct value_sockaddr *servers,
		    size_t n);

typedef void dns_mx_fn(void *arg, struct dns_mx_result *res);

/*
 * Start the routing lookup of a recipient domain (A-labels).  On success
 * returns 0, sets *req_r (may be NULL if the caller never cancels) and
 * cb(arg, res) is called exactly once later, unless dns_cancel(req) is
 * called first.  A malformed domain is reported through the callback as
 * DNS_BAD_NAME.  Returns -ESHUTDOWN during dns_free().
 */
int dns_resolve_mx(struct dns *d, const char *domain, dns_mx_fn *cb, void *arg,
		   struct dns_req **req_r) ATTR_WUR;
/*
 * A+AAAA of a relay host, or an IP literal ("10.0.0.1", "::1") used as
 * is.  The result has one host, pref 0, addresses with the given port.
 * NXDOMAIN and NODATA give DNS_NO_ADDRESSES (temporary: a relay is
 * configuration, not the recipient's fault) with the reason set.
 */
int dns_resolve_host(struct dns *d, const char *host, uint16_t port,
		     dns_mx_fn *cb, void *arg, struct dns_req **req_r) ATTR_WUR;
/* Forget a request: its callback will not be called.  The query itself
 * goes on (its answer still fills the cache). */
void dns_cancel(struct dns_req *req);

#endif
