/* SPDX-License-Identifier: MIT */
/*
 * dns_int.h: the resolver's insides, shared by dns.c (c-ares and the ring),
 * dns_sock.c (c-ares's socket hooks), dns_cache.c (cache, coalescing, the
 * run loop), dns_req.c (requests), dns_mx.c (pure helpers) and dns_rcode.c
 * (error RCODEs), and by their unit tests and fuzz targets.  Nothing else
 * may include it.
 *
 * The seam for tests is struct dns_backend: dns.c's backend sends queries
 * through c-ares; a test's backend records them and answers by hand with
 * dns_node_complete(), then calls dns_run().  With no ring (tests), time is
 * d->fake_now and nothing is scheduled: the test drives dns_run().
 */
#ifndef RINGMTA_DNS_INT_H
#define RINGMTA_DNS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dns.h"
#include "fdpoll.h"
#include "timer.h"

/* Records kept from one answer: the rest are dropped (memory bound). */
#define DNS_MX_RR_MAX         64
#define DNS_ADDR_RR_MAX       32
#define DNS_CNAME_MAX_DEFAULT 8

enum dns_qtype {
	DNS_QT_MX = 0,
	DNS_QT_A,
	DNS_QT_AAAA,
	DNS_QT__COUNT /* must stay last */
};
const char *dns_qtype_str(enum dns_qtype t);
/* The wire type number (15, 1, 28). */
uint16_t dns_qtype_wire(enum dns_qtype t);

/* What one (name, type) query came back with. */
enum dns_astatus {
	DNS_A_OK = 0,    /* n records (n may be 0 for MX: all skipped) */
	DNS_A_NXDOMAIN,  /* name does not exist */
	DNS_A_NODATA,    /* name exists, no record of this type */
	DNS_A_TEMP,      /* temporary failure: see reason */
	DNS_A_BADNAME,   /* the resolver refused the name */
	DNS_A_CANCELLED, /* the resolver is being destroyed */
	DNS_A__COUNT     /* must stay last */
};
const char *dns_astatus_str(enum dns_astatus s);

struct dns_ip {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

struct dns_mxrr {
	uint16_t pref;
	char *host; /* normalized, owned by the answer */
};

struct dns_answer {
	enum dns_astatus st;
	enum dns_reason reason; /* DNS_A_TEMP */
	uint32_t ttl;           /* seconds, smallest in the answer section */
	bool null_mx;           /* MX: the RRset is exactly "0 ." */
	uint16_t skipped;       /* MX: malformed targets dropped */
	uint16_t n;
	struct dns_mxrr *mx; /* MX: n valid targets sorted by preference */
	struct dns_ip *ip;   /* A/AAAA: n usable addresses */
};
void dns_answer_fini(struct dns_answer *a);
void dns_answer_copy(struct dns_answer *dst, const struct dns_answer *src);
/*
 * Fill a (zeroed) answer from raw MX records: targets are checked and
 * normalized, malformed ones counted in skipped, a lone "0 ." (empty or
 * "." target) sets null_mx, a root target among others is malformed; the
 * rest is sorted by preference (then name) and capped at DNS_MX_RR_MAX.
 */
void dns_answer_set_mx(struct dns_answer *a, const uint16_t *prefs,
		       const char *const *targets, size_t n);
/* Append an address unless it can never be a destination (unspecified,
 * multicast, broadcast) or the answer is full.  Returns 1 if kept. */
int dns_answer_add_ip(struct dns_answer *a, int family, const void *addr);

/* A deterministic PRNG (splitmix64) for shuffling. */
uint64_t dns_rng_next(uint64_t *state);
/* Shuffle each run of equal preferences of v (sorted by preference). */
void dns_mx_shuffle(struct dns_mxrr *v, size_t n, uint64_t *rng);

/* One pass over a raw DNS message (RFC 1035 4.1), bounded by len. */
struct dns_wire_info {
	unsigned rcode;
	unsigned qdcount, ancount;
	unsigned matches; /* answer RRs of the asked type */
	unsigned cnames;  /* answer CNAME RRs */
	uint32_t min_ttl; /* smallest TTL of those RRs; UINT32_MAX if none */
};
/* Returns 0, or -EBADMSG when the message is truncated or malformed. */
int dns_wire_scan(const uint8_t *buf, size_t len, uint16_t qtype,
		  struct dns_wire_info *wi) ATTR_WUR;

/* A host of a request, with its answers (deep copies). */
struct dns_rhost {
	char *name;
	uint16_t pref;
	bool asked[2]; /* [0] A, [1] AAAA */
	struct dns_answer fam[2];
};
struct dns_build {
	const char *domain;
	bool implicit_mx;
	unsigned skipped, truncated;
	uint64_t ttl_ms;
	unsigned max_addresses;
	uint16_t port;
};
/* Build the result of a request whose host answers are all in. */
struct dns_mx_result *dns_result_build(const struct dns_build *b,
				       const struct dns_rhost *h, size_t n,
				       uint64_t *rng);
/* A result with no host: a final status decided before host lookups. */
struct dns_mx_result *dns_result_status(const char *domain, enum dns_status st,
					enum dns_reason why);

/* Cache nodes: one per (name, type), pending or cached. */
enum dns_node_state {
	DNS_N_PENDING = 0, /* query in flight */
	DNS_N_DONE,        /* answer in, not yet handed to waiters */
	DNS_N_CACHED,      /* in the LRU, valid until expires */
	DNS_N__COUNT       /* must stay last */
};

struct dns_req;
struct dns_node;

/* A request waiting for one (name, type). */
struct dns_wait {
	struct dns_wait *next, **pprev; /* node's waiter list */
	struct dns_node *node;
	struct dns_req *req;
	unsigned slot; /* 0: the MX answer; 1 + 2 * host + family */
};

struct dns_node {
	struct dns *d;
	struct dns_node *hnext;               /* hash chain */
	struct dns_node *lru_prev, *lru_next; /* DNS_N_CACHED only */
	struct dns_node *done_next;           /* DNS_N_DONE only */
	struct dns_wait *waiters;
	int64_t expires;
	struct dns_answer ans;
	uint32_t hash;
	enum dns_qtype type;
	enum dns_node_state state;
	/* The RCODE of the last SERVFAIL, NOTIMP or REFUSED reply seen for
	 * this query (0: none): c-ares 1.18 reports a query whose servers
	 * all answered so as ARES_ECONNREFUSED (dns.c). */
	uint8_t bad_rcode;
	char name[DNS_NAME_MAX + 1];
};

struct dns_backend {
	/* Send n's query.  The answer comes back through
	 * dns_node_complete(), possibly before send returns. */
	void (*send)(struct dns *d, struct dns_node *n);
	/* Stop: complete (or drop) every query in flight; may be NULL. */
	void (*stop)(struct dns *d);
};

struct dns_slot; /* dns.c: one polled c-ares socket */
struct dns_q;    /* dns.c: one query, sent or waiting for a slot */
struct dns_chan; /* dns.c: one c-ares channel and its queries in flight */
struct dns_conn; /* dns_sock.c: one TCP socket of c-ares, its streams */
struct iovec;

struct dns {
	struct ring *ring; /* NULL in unit tests */
	struct dns_opts o;
	const struct dns_backend *be;
	void *be_data;
	struct dns_stats st;
	uint64_t rng;
	int64_t fake_now; /* the clock when ring is NULL */
	/* cache (dns_cache.c) */
	struct dns_node **htab;
	size_t hcap, hcount;
	struct dns_node *lru_head, *lru_tail;
	struct dns_node *done_head, **done_tail;
	/* requests (dns_req.c) */
	struct dns_req *reqs;
	struct dns_req *ready_head, **ready_tail;
	bool running; /* inside dns_run() */
	bool closing; /* inside dns_free() */
	struct timer kick;
	/* c-ares and the ring (dns.c) */
	struct dns_chan *chan;     /* where new queries go */
	struct dns_chan *draining; /* older channels finishing their queries
				    * (dns_reconfigure) */
	struct value_sockaddr
	    *srv; /* chan's servers (copy; none: resolv.conf) */
	size_t nsrv;
	struct timer tmo;
	struct timer sync; /* once per loop turn: start waiting queries,
			    * re-arm tmo (ares_timeout walks every query) */
	struct dns_q *wait_head, **wait_tail; /* FIFO over max_inflight */
	unsigned sent;                        /* queries out, all channels */
	struct dns_slot **slots;
	size_t nslots;
	struct dns_conn *conns; /* c-ares's TCP sockets (dns_sock.c) */
	bool dead;              /* freed; waiting for busy poll slots */
};

/* dns_cache.c */
struct dns *dns_alloc(struct ring *r, const struct dns_opts *o,
		      const struct dns_backend *be, int *err_r);
/* 0 if o is usable for dns_alloc(), else -EINVAL. */
int dns_opts_check(const struct dns_opts *o);
/*
 * Take o's cache and answer limits (cache_size, TTL bounds, max_mx_hosts,
 * max_addresses, max_cname, family, max_inflight; not servers, timeout
 * or tries, which belong to the channel) for what happens from now on;
 * a smaller cache_size evicts at once.  o was checked.  Returns true if
 * any of them changed.
 */
bool dns_cache_set_opts(struct dns *d, const struct dns_opts *o);
/* The pending node of (name, type), or NULL. */
struct dns_node *dns_node_pending(struct dns *d, const char *name,
				  enum dns_qtype t);

/* dns_rcode.c: the error RCODEs c-ares 1.18 reports as ECONNREFUSED. */
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NOTIMP   4
#define DNS_RCODE_REFUSED  5
/*
 * A reply read for c-ares (p[len], unchecked, without a TCP length
 * prefix): when it answers one question with SERVFAIL, NOTIMP or REFUSED,
 * note that RCODE on the pending node of the question (name compared in
 * lower case, type MX, A or AAAA).  Returns the number of nodes marked (0
 * or 1).
 */
int dns_note_reply(struct dns *d, const uint8_t *p, size_t len);
/*
 * A query c-ares is sending (p[len], unchecked, without a TCP length
 * prefix): a new try, so the pending node of its one question forgets the
 * RCODE of the try before (bad_rcode = 0).  Returns the nodes cleared.
 */
int dns_note_query(struct dns *d, const uint8_t *p, size_t len);

/* A message's header and one question: what the notes above read. */
#define DNS_MSG_HEAD (12 + DNS_NAME_MAX + 2 + 4)
/*
 * One direction of a DNS-over-TCP connection: messages behind 2-byte
 * lengths (RFC 1035 4.2.2), cut anywhere by reads and writes.  Zeroed or
 * dns_tcp_reset(): at a message boundary.
 */
struct dns_tcp_stream {
	uint8_t nlen; /* length bytes seen of the current message (0..2) */
	uint16_t len; /* its length, once nlen is 2 */
	uint16_t pos; /* its bytes seen */
	uint8_t head[DNS_MSG_HEAD]; /* its first bytes */
};
void dns_tcp_reset(struct dns_tcp_stream *st);
/* n bytes read from the connection: each reply they complete goes to
 * dns_note_reply().  Returns the nodes marked. */
int dns_tcp_read(struct dns *d, struct dns_tcp_stream *st, const void *p,
		 size_t n);
/*
 * c-ares writes iov[iovcnt] (each query whole, the first possibly the rest
 * of one partly written) and sent bytes went out (< 0: none): every query
 * the write tried goes to dns_note_query(), even when the write failed (a
 * try that meets a closed port forgets the RCODE too), and the stream
 * moves on by sent.  Returns the nodes cleared.
 */
int dns_tcp_write(struct dns *d, struct dns_tcp_stream *st,
		  const struct iovec *iov, int iovcnt, ssize_t sent);
/* DNS_R_SERVFAIL for SERVFAIL, DNS_R_REFUSED for NOTIMP and REFUSED,
 * DNS_R_NONE for anything else. */
enum dns_reason dns_rcode_reason(unsigned rcode);
/* Complete a pending node with ans (moved: ans is left empty). */
void dns_node_complete(struct dns *d, struct dns_node *n,
		       struct dns_answer *ans);
/* Look (name, type) up for w; the answer reaches dns_req_on_answer(),
 * possibly before this returns (cache hit). */
void dns_lookup(struct dns *d, const char *name, enum dns_qtype t,
		struct dns_wait *w);
/* Remove w from its node's waiters. */
void dns_wait_unlink(struct dns_wait *w);
/* Hand completed answers to waiters and finished requests to their
 * callbacks until nothing is left. */
void dns_run(struct dns *d);
/* Make sure dns_run() happens soon (a timer at now); no-op without ring. */
void dns_kick(struct dns *d);
int64_t dns_now(const struct dns *d);
/* The cache lifetime of an answer in ms (0: not cacheable). */
uint64_t dns_answer_ttl_ms(const struct dns *d, const struct dns_answer *a);
/* Drop every cache node (dns_free). */
void dns_cache_clear(struct dns *d);
/* Shared end of dns_free() once c-ares is gone. */
void dns_shutdown(struct dns *d);

/* dns_req.c */
void dns_req_on_answer(struct dns_req *req, unsigned slot,
		       const struct dns_answer *a);
/* Deliver one finished request (its callback); false if none. */
bool dns_req_deliver_one(struct dns *d);
size_t dns_req_count(const struct dns *d);

/* dns_sock.c: c-ares's socket hooks, with d as their argument (d->conns
 * holds the TCP sockets' streams).  ch is an ares_channel. */
struct ares_channeldata;
void dns_sock_attach(struct ares_channeldata *ch, struct dns *d);
/* Free what is left of d->conns (c-ares closed its sockets: nothing). */
void dns_sock_conns_free(struct dns *d);

/*
 * dns.c: turn a c-ares completion (status ARES_*, raw answer) into an
 * answer for a query of type t.  Exposed for tests and the fuzz target;
 * the ARES_* numbers are c-ares's stable ABI (ARES_SUCCESS is 0).
 */
void dns_ares_parse(enum dns_qtype t, int status, const uint8_t *abuf, int alen,
		    unsigned max_cname, struct dns_answer *a);

#endif
