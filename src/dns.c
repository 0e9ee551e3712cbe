/* SPDX-License-Identifier: MIT */
/*
 * dns.c: c-ares 1.18 on the ring.  The only file that includes <ares.h>.
 *
 * Owns the channel, the one-shot polls of c-ares's sockets (fdpoll, one
 * slot per socket, told by sock_state_cb), the timer that stands for
 * ares_timeout(), and the translation of c-ares completions (status code
 * and raw answer) into struct dns_answer.  Queries go out with ares_query
 * (never ares_search: no search-list appending).  The cache, coalescing
 * and requests are dns_cache.c and dns_req.c; this file never calls a
 * request's callback.
 *
 * c-ares may call our query callback from inside ares_query() (bad name)
 * or ares_process_fd(); that callback only files the answer and arms the
 * run timer, so no state is changed under c-ares's feet.  A poll slot the
 * kernel still holds outlives dns_free() until its last completion.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
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

/* Re-arm the timer for c-ares's next retry or timeout. */
static void
dns_ares_timer(struct dns *d)
{
	struct timeval tv, *tp;
	int64_t when;

	if (d->ch == NULL || d->ring == NULL)
		return;
	tp = ares_timeout(d->ch, NULL, &tv);
	if (tp == NULL) {
		timer_cancel(ring_timers(d->ring), &d->tmo);
		return;
	}
	when = ring_now_update(d->ring) + (int64_t)tp->tv_sec * 1000000000 +
	       (int64_t)tp->tv_usec * 1000;
	timer_arm(ring_timers(d->ring), &d->tmo, when);
}

static void
dns_on_tmo(struct timer *t)
{
	struct dns *d = container_of(t, struct dns, tmo);

	if (d->ch == NULL)
		return;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_ares_timer(d);
}

static void
dns_ares_on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
		   int alen)
{
	struct dns_node *n = arg;
	struct dns_answer a;

	(void)timeouts;
	dns_ares_parse(n->type, status, abuf, alen, n->d->o.max_cname, &a);
	dns_node_complete(n->d, n, &a);
}

static void
dns_ares_send(struct dns *d, struct dns_node *n)
{
	ares_query(d->ch, n->name, DNS_CLASS_IN, dns_qtype_wire(n->type),
		   dns_ares_on_answer, n);
	dns_ares_timer(d);
}

static void
dns_ares_stop(struct dns *d)
{
	if (d->ch) {
		ares_destroy(d->ch); /* pending queries: ARES_EDESTRUCTION */
		d->ch = NULL;
		ares_library_cleanup();
	}
	if (d->ring)
		timer_cancel(ring_timers(d->ring), &d->tmo);
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

	if (d->ch == NULL)
		return;
	ares_process_fd(
	    d->ch,
	    revents & (POLLIN | POLLERR | POLLHUP) ? fd : ARES_SOCKET_BAD,
	    revents & POLLOUT ? fd : ARES_SOCKET_BAD);
	dns_ares_timer(d);
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
dns_ares_servers(struct dns *d, const struct dns_opts *o)
{
	struct ares_addr_port_node *nodes;
	int rc;

	if (o->nservers == 0)
		return 0;
	nodes = xcalloc(o->nservers, sizeof(*nodes));
	for (size_t i = 0; i < o->nservers; i++) {
		const struct sockaddr_storage *ss = &o->servers[i].ss;
		struct ares_addr_port_node *p = &nodes[i];
		uint16_t port;

		p->next = i + 1 < o->nservers ? &nodes[i + 1] : NULL;
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
	rc = ares_set_servers_ports(d->ch, nodes);
	free(nodes);
	return rc == ARES_SUCCESS ? 0 : -EINVAL;
}

static int
dns_ares_init(struct dns *d, const struct dns_opts *o)
{
	struct ares_options ao;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
		   ARES_OPT_TRIES | ARES_OPT_FLAGS;
	int rc = ares_library_init(ARES_LIB_INIT_ALL);

	if (rc != ARES_SUCCESS)
		return rc == ARES_ENOMEM ? -ENOMEM : -EIO;
	memset(&ao, 0, sizeof(ao));
	ao.sock_state_cb = dns_ares_sock_state;
	ao.sock_state_cb_data = d;
	ao.timeout = (int)MIN(o->timeout_ms, 3600u * 1000);
	ao.tries = (int)o->tries;
	ao.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	rc = ares_init_options(&d->ch, &ao, mask);
	if (rc != ARES_SUCCESS) {
		d->ch = NULL;
		ares_library_cleanup();
		return rc == ARES_ENOMEM ? -ENOMEM : -EIO;
	}
	return dns_ares_servers(d, o);
}

struct dns *
dns_new(struct ring *r, const struct dns_opts *o, int *err_r)
{
	struct dns *d;
	int rc;

	if (r == NULL) {
		*err_r = -EINVAL;
		return NULL;
	}
	d = dns_alloc(r, o, &dns_ares_backend, err_r);
	if (d == NULL)
		return NULL;
	timer_init(&d->tmo, dns_on_tmo);
	rc = dns_ares_init(d, o);
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
