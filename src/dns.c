/* SPDX-License-Identifier: MIT */
/*
 * dns.c: c-ares 1.18 on the ring.  With dns_sock.c (c-ares's socket
 * hooks), the only file that includes <ares.h>.
 *
 * Owns the channel, the one-shot polls of c-ares's sockets (fdpoll, one
 * slot per socket, told by sock_state_cb), the timer that stands for
 * ares_timeout(), and the translation of c-ares completions (status code
 * and raw answer) into struct dns_answer.  Queries go out with ares_query
 * (never ares_search: no search-list appending).  The cache, coalescing
 * and requests are dns_cache.c and dns_req.c; this file never calls a
 * request's callback.
 *
 * At most o.max_inflight queries are out (over every channel); the rest
 * wait in a FIFO.  ares_timeout() walks every query in flight, so it runs
 * once per loop turn (the sync timer, at "now"), not after every send or
 * answer; waiting queries are started there too.
 *
 * c-ares may call our query callback from inside ares_query() (bad name)
 * or ares_process_fd(); that callback only files the answer and arms the
 * run timer, so no state is changed under c-ares's feet.  A poll slot the
 * kernel still holds outlives dns_free() until its last completion.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

#include <ares.h>

#include "dns_int.h"
#include "fdpoll.h"
#include "log.h"
#include "ring.h"
#include "timer.h"

#define DNS_CLASS_IN 1

struct dns_slot {
	struct fdpoll fp;
	struct dns *d;
};

static void
dns_ares_status(int status, struct dns_answer *a)
{
	a->st = DNS_A_TEMP;
	switch (status) {
	case ARES_ENODATA:
		a->st = DNS_A_NODATA;
		break;
	case ARES_ENOTFOUND:
		a->st = DNS_A_NXDOMAIN;
		break;
	case ARES_ETIMEOUT:
		a->reason = DNS_R_TIMEOUT;
		break;
	case ARES_ESERVFAIL:
		a->reason = DNS_R_SERVFAIL;
		break;
	case ARES_ECONNREFUSED:
	case ARES_EREFUSED:
	case ARES_ENOTIMP:
		a->reason = DNS_R_REFUSED;
		break;
	case ARES_EFORMERR:
	case ARES_EBADRESP:
		a->reason = DNS_R_FORMERR;
		break;
	case ARES_EBADNAME:
		a->st = DNS_A_BADNAME;
		break;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		a->st = DNS_A_CANCELLED;
		break;
	default: /* ENOMEM, EBADQUERY, ... */
		a->reason = DNS_R_LOCAL;
		break;
	}
}

static void
dns_ares_parse_mx(const uint8_t *abuf, int alen, struct dns_answer *a)
{
	struct ares_mx_reply *mx = NULL;
	uint16_t *prefs = NULL;
	const char **targets = NULL;
	size_t n = 0, cap = 0;
	int rc = ares_parse_mx_reply(abuf, alen, &mx);

	if (rc != ARES_SUCCESS) {
		dns_ares_status(rc == ARES_EBADRESP ? ARES_EFORMERR : rc, a);
		return;
	}
	for (struct ares_mx_reply *p = mx; p; p = p->next) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			prefs = xreallocarray(prefs, cap, sizeof(*prefs));
			targets = xreallocarray(targets, cap, sizeof(*targets));
		}
		prefs[n] = p->priority;
		targets[n++] = p->host ? p->host : "";
	}
	dns_answer_set_mx(a, prefs, targets, n);
	free(prefs);
	free(targets);
	ares_free_data(mx);
}

static void
dns_ares_parse_addr(enum dns_qtype t, const uint8_t *abuf, int alen,
		    struct dns_answer *a)
{
	struct ares_addrttl v4[DNS_ADDR_RR_MAX];
	struct ares_addr6ttl v6[DNS_ADDR_RR_MAX];
	int n = DNS_ADDR_RR_MAX, rc;

	if (t == DNS_QT_A)
		rc = ares_parse_a_reply(abuf, alen, NULL, v4, &n);
	else
		rc = ares_parse_aaaa_reply(abuf, alen, NULL, v6, &n);
	if (rc != ARES_SUCCESS) {
		dns_ares_status(rc == ARES_EBADRESP ? ARES_EFORMERR : rc, a);
		return;
	}
	a->st = DNS_A_OK;
	for (int i = 0; i < n && i < DNS_ADDR_RR_MAX; i++) {
		if (t == DNS_QT_A)
			dns_answer_add_ip(a, AF_INET, &v4[i].ipaddr);
		else
			dns_answer_add_ip(a, AF_INET6, &v6[i].ip6addr);
	}
	if (a->n == 0) /* only unusable addresses (0.0.0.0, multicast) */
		a->st = DNS_A_NODATA;
}

void
dns_ares_parse(enum dns_qtype t, int status, const uint8_t *abuf, int alen,
	       unsigned max_cname, struct dns_answer *a)
{
	struct dns_wire_info wi;

	memset(a, 0, sizeof(*a));
	if (status != ARES_SUCCESS) {
		dns_ares_status(status, a);
		return;
	}
	if (abuf == NULL || alen <= 0 ||
	    dns_wire_scan(abuf, (size_t)alen, dns_qtype_wire(t), &wi) < 0) {
		dns_ares_status(ARES_EFORMERR, a);
		return;
	}
	if (wi.cnames > max_cname) {
		a->st = DNS_A_TEMP;
		a->reason = DNS_R_CNAME_DEPTH;
		return;
	}
	if (t == DNS_QT_MX)
		dns_ares_parse_mx(abuf, alen, a);
	else
		dns_ares_parse_addr(t, abuf, alen, a);
	if (a->st == DNS_A_OK)
		a->ttl = wi.min_ttl == UINT32_MAX ? 0 : wi.min_ttl;
}

struct dns_chan {
	ares_channel ch;
	unsigned inflight;     /* queries sent whose callback has not run */
	struct dns_chan *next; /* on d->draining */
};

/* One query: its node, and the channel that carries it once sent (NULL
 * while it waits on d->wait_head for a slot under max_inflight). */
struct dns_q {
	struct dns_node *n;
	struct dns_chan *c;
	struct dns_q *next; /* d->wait_head */
};

static void
dns_chan_free(struct dns_chan *c)
{
	ares_destroy(c->ch); /* pending queries: ARES_EDESTRUCTION */
	free(c);
}

/* Destroy the draining channels whose last query has completed.  Never
 * called from inside c-ares (its callbacks only count). */
static void
dns_chan_reap(struct dns *d)
{
	struct dns_chan **pp = &d->draining, *c;

	while ((c = *pp) != NULL) {
		if (c->inflight > 0) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		dns_chan_free(c);
		log_info("dns: the previous resolver channel finished its "
			 "queries and was closed");
	}
}

/* Re-arm the timer for c-ares's next retry or timeout (every channel). */
static void
dns_ares_timer(struct dns *d)
{
	struct timeval tv, tv2, *tp;
	int64_t when;

	if (d->chan == NULL || d->ring == NULL)
		return;
	dns_chan_reap(d);
	tp = ares_timeout(d->chan->ch, NULL, &tv);
	for (struct dns_chan *c = d->draining; c != NULL; c = c->next) {
		struct timeval *t2 = ares_timeout(c->ch, tp, &tv2);

		if (t2 == &tv2) {
			tv = tv2;
			tp = &tv;
		}
	}
	if (tp == NULL) {
		timer_cancel(ring_timers(d->ring), &d->tmo);
		return;
	}
	when = ring_now_update(d->ring) + (int64_t)tp->tv_sec * 1000000000 +
	       (int64_t)tp->tv_usec * 1000;
	timer_arm(ring_timers(d->ring), &d->tmo, when);
}

/* Re-arm tmo and start waiting queries later in this loop turn, once for
 * every send and answer of the turn: ares_timeout() is O(queries). */
static void
dns_ares_sync_soon(struct dns *d)
{
	if (d->ring && !timer_armed(&d->sync))
		timer_arm(ring_timers(d->ring), &d->sync, ring_now(d->ring));
}

/* Let every channel handle rfd/wfd (a channel ignores sockets that are
 * not its own) and its timeouts. */
static void
dns_ares_process(struct dns *d, ares_socket_t rfd, ares_socket_t wfd)
{
	ares_process_fd(d->chan->ch, rfd, wfd);
	for (struct dns_chan *c = d->draining; c != NULL; c = c->next)
		ares_process_fd(c->ch, rfd, wfd);
	dns_ares_sync_soon(d);
}

static void
dns_on_tmo(struct timer *t)
{
	struct dns *d = container_of(t, struct dns, tmo);

	if (d->chan == NULL)
		return;
	dns_ares_process(d, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

static void
dns_ares_on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
		   int alen)
{
	struct dns_q *q = arg;
	struct dns_node *n = q->n;
	struct dns_answer a;

	(void)timeouts;
	q->c->inflight--;
	q->n->d->sent--;
	free(q);
	dns_ares_parse(n->type, status, abuf, alen, n->d->o.max_cname, &a);
	if (status == ARES_ECONNREFUSED && n->bad_rcode != 0)
		a.reason = dns_rcode_reason(n->bad_rcode);
	dns_node_complete(n->d, n, &a);
}

static void
dns_ares_query(struct dns *d, struct dns_q *q)
{
	q->c = d->chan;
	q->n->bad_rcode = 0;
	q->c->inflight++; /* before: the callback may run inside ares_query */
	d->sent++;
	if (d->sent > d->st.sent_peak)
		d->st.sent_peak = d->sent;
	ares_query(d->chan->ch, q->n->name, DNS_CLASS_IN,
		   dns_qtype_wire(q->n->type), dns_ares_on_answer, q);
	dns_ares_sync_soon(d);
}

/* Send waiting queries, oldest first, while there is room. */
static void
dns_ares_pump(struct dns *d)
{
	struct dns_q *q;

	while (d->sent < d->o.max_inflight && (q = d->wait_head) != NULL) {
		d->wait_head = q->next;
		if (d->wait_head == NULL)
			d->wait_tail = &d->wait_head;
		q->next = NULL;
		d->st.waiting--;
		dns_ares_query(d, q);
	}
}

static void
dns_on_sync(struct timer *t)
{
	struct dns *d = container_of(t, struct dns, sync);

	if (d->chan == NULL)
		return;
	dns_ares_pump(d);
	/* the queries just sent re-armed this timer (dns_ares_query): the
	 * ares_timeout() below covers them, so it must not run again now */
	timer_cancel(ring_timers(d->ring), &d->sync);
	dns_ares_timer(d);
}

static void
dns_ares_send(struct dns *d, struct dns_node *n)
{
	struct dns_q *q = xcalloc(1, sizeof(*q));

	q->n = n;
	if (d->sent < d->o.max_inflight && d->wait_head == NULL) {
		dns_ares_query(d, q);
		return;
	}
	*d->wait_tail = q;
	d->wait_tail = &q->next;
	d->st.waiting++;
}

static void
dns_ares_stop(struct dns *d)
{
	struct dns_chan *c;
	struct dns_q *q;

	/* Waiting nodes stay pending: dns_shutdown() cancels them. */
	while ((q = d->wait_head) != NULL) {
		d->wait_head = q->next;
		free(q);
	}
	d->wait_tail = &d->wait_head;
	d->st.waiting = 0;
	while ((c = d->draining) != NULL) {
		d->draining = c->next;
		dns_chan_free(c);
	}
	if (d->chan) {
		dns_chan_free(d->chan);
		d->chan = NULL;
		ares_library_cleanup();
	}
	if (d->ring) {
		timer_cancel(ring_timers(d->ring), &d->tmo);
		timer_cancel(ring_timers(d->ring), &d->sync);
	}
}

static const struct dns_backend dns_ares_backend = {
    .send = dns_ares_send,
    .stop = dns_ares_stop,
};

static void
dns_slot_on_ready(struct fdpoll *fp, unsigned revents)
{
	struct dns_slot *s = container_of(fp, struct dns_slot, fp);
	struct dns *d = s->d;
	int fd = fp->fd;

	if (d->chan == NULL)
		return;
	dns_ares_process(
	    d, revents & (POLLIN | POLLERR | POLLHUP) ? fd : ARES_SOCKET_BAD,
	    revents & POLLOUT ? fd : ARES_SOCKET_BAD);
}

/* Free d once dns_free() ran and the kernel holds no poll of it. */
static void
dns_release(struct dns *d)
{
	for (size_t i = 0; i < d->nslots; i++)
		if (fdpoll_busy(&d->slots[i]->fp))
			return;
	for (size_t i = 0; i < d->nslots; i++) {
		uop_fini(&d->slots[i]->fp.op);
		free(d->slots[i]);
	}
	free(d->slots);
	dns_sock_conns_free(d);
	free(d->srv);
	free(d);
}

static void
dns_slot_on_idle(struct fdpoll *fp)
{
	struct dns_slot *s = container_of(fp, struct dns_slot, fp);

	if (s->d->dead)
		dns_release(s->d);
}

static struct dns_slot *
dns_slot_get(struct dns *d, int fd, bool create)
{
	struct dns_slot *idle = NULL, *s;

	for (size_t i = 0; i < d->nslots; i++) {
		s = d->slots[i];
		if (s->fp.fd == fd && (s->fp.want || create))
			return s;
		if (s->fp.want == 0 && idle == NULL)
			idle = s;
	}
	if (!create)
		return NULL;
	if (idle)
		return idle;
	s = xcalloc(1, sizeof(*s));
	s->d = d;
	fdpoll_init(&s->fp, d->ring, dns_slot_on_ready);
	s->fp.on_idle = dns_slot_on_idle;
	d->slots = xreallocarray(d->slots, d->nslots + 1, sizeof(*d->slots));
	d->slots[d->nslots++] = s;
	return s;
}

static void
dns_ares_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	unsigned ev = (readable ? POLLIN : 0) | (writable ? POLLOUT : 0);
	struct dns_slot *s = dns_slot_get(d, fd, ev != 0);
	int rc;

	if (s == NULL)
		return;
	rc = fdpoll_want(&s->fp, fd, ev);
	if (rc < 0 && ev)
		log_warn("dns: cannot poll resolver socket %d: %s", fd,
			 strerror(-rc));
}

static int
dns_ares_servers(ares_channel ch, const struct value_sockaddr *servers,
		 size_t n)
{
	struct ares_addr_port_node *nodes;
	int rc;

	if (n == 0)
		return 0;
	nodes = xcalloc(n, sizeof(*nodes));
	for (size_t i = 0; i < n; i++) {
		const struct sockaddr_storage *ss = &servers[i].ss;
		struct ares_addr_port_node *p = &nodes[i];
		uint16_t port;

		p->next = i + 1 < n ? &nodes[i + 1] : NULL;
		p->family = ss->ss_family;
		if (ss->ss_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)ss;

			memcpy(&p->addr.addr4, &sin->sin_addr, 4);
			port = ntohs(sin->sin_port);
		} else if (ss->ss_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const void *)ss;

			memcpy(&p->addr.addr6, &sin6->sin6_addr, 16);
			port = ntohs(sin6->sin6_port);
		} else {
			free(nodes);
			return -EINVAL;
		}
		p->udp_port = p->tcp_port = port ? port : 53;
	}
	rc = ares_set_servers_ports(ch, nodes);
	free(nodes);
	return rc == ARES_SUCCESS ? 0 : -EINVAL;
}

/* A channel with d's options and these servers (none: resolv.conf). */
static int
dns_chan_new(struct dns *d, const struct value_sockaddr *servers, size_t n,
	     struct dns_chan **c_r)
{
	struct dns_chan *c = xcalloc(1, sizeof(*c));
	struct ares_options ao;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
		   ARES_OPT_TRIES | ARES_OPT_FLAGS;
	int rc;

	memset(&ao, 0, sizeof(ao));
	ao.sock_state_cb = dns_ares_sock_state;
	ao.sock_state_cb_data = d;
	ao.timeout = (int)MIN(d->o.timeout_ms, 3600u * 1000);
	ao.tries = (int)d->o.tries;
	ao.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	rc = ares_init_options(&c->ch, &ao, mask);
	if (rc != ARES_SUCCESS) {
		free(c);
		return rc == ARES_ENOMEM ? -ENOMEM : -EIO;
	}
	dns_sock_attach(c->ch, d);
	rc = dns_ares_servers(c->ch, servers, n);
	if (rc < 0) {
		dns_chan_free(c);
		return rc;
	}
	*c_r = c;
	return 0;
}

static int
dns_ares_init(struct dns *d, const struct dns_opts *o)
{
	int rc = ares_library_init(ARES_LIB_INIT_ALL);

	if (rc != ARES_SUCCESS)
		return rc == ARES_ENOMEM ? -ENOMEM : -EIO;
	rc = dns_chan_new(d, o->servers, o->nservers, &d->chan);
	if (rc < 0) {
		d->chan = NULL;
		ares_library_cleanup();
	}
	return rc;
}

/* Remember servers[n] as the channel's (d->srv). */
static void
dns_keep_servers(struct dns *d, const struct value_sockaddr *servers, size_t n)
{
	free(d->srv);
	d->srv = NULL;
	if (n > 0) {
		d->srv = xcalloc(n, sizeof(*servers));
		memcpy(d->srv, servers, n * sizeof(*servers));
	}
	d->nsrv = n;
}

/* True when servers[n] differ from the channel's (order counts). */
static bool
dns_servers_differ(const struct dns *d, const struct value_sockaddr *servers,
		   size_t n)
{
	if (n != d->nsrv)
		return true;
	for (size_t i = 0; i < n; i++)
		if (servers[i].len != d->srv[i].len ||
		    memcmp(&servers[i].ss, &d->srv[i].ss, d->srv[i].len) != 0)
			return true;
	return false;
}

/* True when a channel for o would differ from d's: servers, timeout or
 * tries. */
static bool
dns_chan_differs(const struct dns *d, const struct dns_opts *o)
{
	return o->timeout_ms != d->o.timeout_ms || o->tries != d->o.tries ||
	       dns_servers_differ(d, o->servers, o->nservers);
}

/* New queries go to a new channel for o; those in flight finish on the
 * old one, closed after its last answer (dns_chan_reap). */
static int
dns_chan_replace(struct dns *d, const struct dns_opts *o)
{
	unsigned timeout_ms = d->o.timeout_ms, tries = d->o.tries;
	bool servers = dns_servers_differ(d, o->servers, o->nservers);
	struct dns_chan *c;
	int rc;

	d->o.timeout_ms = o->timeout_ms; /* dns_chan_new reads them */
	d->o.tries = o->tries;
	rc = dns_chan_new(d, o->servers, o->nservers, &c);
	if (rc < 0) {
		d->o.timeout_ms = timeout_ms;
		d->o.tries = tries;
		log_err("dns: new resolver settings refused (%s); keeping the "
			"old ones",
			strerror(-rc));
		return rc;
	}
	d->chan->next = d->draining;
	d->draining = d->chan;
	d->chan = c;
	dns_keep_servers(d, o->servers, o->nservers);
	if (servers)
		log_info("dns: %zu resolver server(s) in use for new "
			 "queries%s",
			 o->nservers,
			 o->nservers == 0 ? " (from /etc/resolv.conf)" : "");
	if (timeout_ms != o->timeout_ms || tries != o->tries)
		log_info("dns: timeout %u ms, %u tries for new queries",
			 o->timeout_ms, o->tries);
	return 0;
}

/* See dns.h. */
int
dns_reconfigure(struct dns *d, const struct dns_opts *o)
{
	int rc;

	if (d->chan == NULL || d->closing)
		return -ESHUTDOWN;
	if (dns_opts_check(o) < 0 || o->max_inflight > DNS_MAX_INFLIGHT_MAX) {
		log_err("dns: new resolver settings refused (%s); keeping the "
			"old ones",
			strerror(EINVAL));
		return -EINVAL;
	}
	if (dns_chan_differs(d, o)) {
		rc = dns_chan_replace(d, o);
		if (rc < 0)
			return rc;
	}
	if (dns_cache_set_opts(d, o))
		log_info("dns: cache of %u answers, TTL %" PRIu64
			 " ms to %" PRIu64 " ms (negative %" PRIu64
			 " ms), %u queries out at once",
			 d->o.cache_size, d->o.min_ttl_ms, d->o.max_ttl_ms,
			 d->o.negative_ttl_ms, d->o.max_inflight);
	dns_ares_sync_soon(d); /* a larger max_inflight sends waiting ones */
	return 0;
}

/* See dns.h. */
int
dns_set_servers(struct dns *d, const struct value_sockaddr *servers, size_t n)
{
	struct dns_opts o = d->o;

	o.servers = servers;
	o.nservers = n;
	return dns_reconfigure(d, &o);
}

struct dns *
dns_new(struct ring *r, const struct dns_opts *o, int *err_r)
{
	struct dns *d;
	int rc;

	if (r == NULL || o->max_inflight > DNS_MAX_INFLIGHT_MAX) {
		*err_r = -EINVAL;
		return NULL;
	}
	d = dns_alloc(r, o, &dns_ares_backend, err_r);
	if (d == NULL)
		return NULL;
	if (d->o.max_inflight == 0)
		d->o.max_inflight = DNS_MAX_INFLIGHT_DEFAULT;
	d->wait_tail = &d->wait_head;
	timer_init(&d->tmo, dns_on_tmo);
	timer_init(&d->sync, dns_on_sync);
	rc = dns_ares_init(d, o);
	if (rc == 0)
		dns_keep_servers(d, o->servers, o->nservers);
	if (rc < 0) {
		log_err("dns: cannot set up the resolver: %s", strerror(-rc));
		dns_free(d);
		*err_r = rc;
		return NULL;
	}
	return d;
}

void
dns_free(struct dns *d)
{
	if (d == NULL)
		return;
	BUG_ON(d->running);
	dns_shutdown(d);
	d->dead = true;
	dns_release(d);
}
