/* SPDX-License-Identifier: MIT */
/*
 * dns_req.c: routing requests.  An MX request looks up the domain's MX
 * RRset, decides (null MX, NXDOMAIN, temporary failure, implicit MX), then
 * looks up A and AAAA of every kept MX host at once and builds the result;
 * a host request does the second half for one relay host.
 *
 * A request is owned by its caller's callback slot: it lives from
 * dns_resolve_*() until its callback has been called (or dns_cancel()).
 * Callbacks run only from dns_run() (the ring's timer at "now"), never from
 * inside dns_resolve_*(), dns_cancel() or c-ares.  Answers are copied into
 * the request as they arrive, so cache eviction never pulls data from
 * under it.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dns_int.h"
#include "log.h"

enum dns_req_kind {
	DNS_RK_MX = 0,
	DNS_RK_HOST,
	DNS_RK__COUNT /* must stay last */
};

struct dns_req {
	struct dns *d;
	struct dns_req *next, **pprev; /* d->reqs: every undelivered one */
	struct dns_req *ready_next;
	enum dns_req_kind kind;
	bool ready;     /* res is set; waiting on d->ready list */
	bool cancelled; /* dns_cancel() after ready: drop res */
	dns_mx_fn *cb;
	void *arg;
	char domain[DNS_NAME_MAX + 1];
	uint16_t port;
	unsigned pending; /* lookups not answered yet */
	struct dns_wait mx_wait;
	struct dns_rhost *hosts;
	struct dns_wait *hwait; /* two per host: A, AAAA */
	size_t nhosts;
	bool implicit_mx;
	unsigned skipped, truncated;
	uint64_t ttl_ms; /* UINT64_MAX until an answer with a TTL */
	struct dns_mx_result *res;
};

static struct dns_req *
dns_req_new(struct dns *d, enum dns_req_kind kind, dns_mx_fn *cb, void *arg)
{
	struct dns_req *req = xcalloc(1, sizeof(*req));

	req->d = d;
	req->kind = kind;
	req->cb = cb;
	req->arg = arg;
	req->ttl_ms = UINT64_MAX;
	req->mx_wait.req = req;
	req->next = d->reqs;
	if (d->reqs)
		d->reqs->pprev = &req->next;
	req->pprev = &d->reqs;
	d->reqs = req;
	return req;
}

static void
dns_req_free(struct dns_req *req)
{
	*req->pprev = req->next;
	if (req->next)
		req->next->pprev = req->pprev;
	dns_wait_unlink(&req->mx_wait);
	for (size_t i = 0; i < req->nhosts; i++) {
		dns_wait_unlink(&req->hwait[2 * i]);
		dns_wait_unlink(&req->hwait[2 * i + 1]);
		free(req->hosts[i].name);
		dns_answer_fini(&req->hosts[i].fam[0]);
		dns_answer_fini(&req->hosts[i].fam[1]);
	}
	free(req->hosts);
	free(req->hwait);
	dns_mx_result_free(req->res);
	free(req);
}

static void
dns_req_finish(struct dns_req *req, struct dns_mx_result *res)
{
	struct dns *d = req->d;

	BUG_ON(req->ready);
	req->res = res;
	req->ready = true;
	req->ready_next = NULL;
	*d->ready_tail = req;
	d->ready_tail = &req->ready_next;
	log_trace("dns: %s %s: %s (%s), %zu host(s), %zu address(es)",
		  req->kind == DNS_RK_MX ? "mx" : "host", res->domain,
		  dns_status_str(res->status), dns_reason_str(res->reason),
		  res->nhosts, res->naddrs);
	dns_kick(d);
}

static void
dns_req_fail(struct dns_req *req, const char *name, enum dns_status st,
	     enum dns_reason why)
{
	struct dns_mx_result *res = dns_result_status(name, st, why);

	res->skipped = req->skipped;
	res->ttl_ms = req->ttl_ms == UINT64_MAX ? 0 : req->ttl_ms;
	dns_req_finish(req, res);
}

bool
dns_req_deliver_one(struct dns *d)
{
	struct dns_req *req = d->ready_head;
	struct dns_mx_result *res;
	dns_mx_fn *cb;
	void *arg;

	if (req == NULL)
		return false;
	d->ready_head = req->ready_next;
	if (d->ready_head == NULL)
		d->ready_tail = &d->ready_head;
	res = req->res;
	req->res = NULL;
	cb = req->cancelled ? NULL : req->cb;
	arg = req->arg;
	dns_req_free(req);
	if (cb)
		cb(arg, res); /* res is the callback's now */
	else
		dns_mx_result_free(res);
	return true;
}

size_t
dns_req_count(const struct dns *d)
{
	size_t n = 0;

	for (const struct dns_req *r = d->reqs; r; r = r->next)
		n++;
	return n;
}

void
dns_cancel(struct dns_req *req)
{
	if (req == NULL)
		return;
	if (req->ready) {
		/* On the ready list: dropped, uncalled, by dns_run(). */
		req->cancelled = true;
		return;
	}
	dns_req_free(req);
}

static void
dns_req_ttl(struct dns_req *req, const struct dns_answer *a)
{
	uint64_t t = dns_answer_ttl_ms(req->d, a);

	if (t > 0 && t < req->ttl_ms)
		req->ttl_ms = t;
}

static void
dns_req_build(struct dns_req *req)
{
	struct dns_build b = {
	    .domain = req->domain,
	    .implicit_mx = req->implicit_mx,
	    .skipped = req->skipped,
	    .truncated = req->truncated,
	    .ttl_ms = req->ttl_ms == UINT64_MAX ? 0 : req->ttl_ms,
	    .max_addresses = req->d->o.max_addresses,
	    .port = req->port,
	};

	dns_req_finish(
	    req, dns_result_build(&b, req->hosts, req->nhosts, &req->d->rng));
}

/* Look up A and AAAA (as configured) of hosts; names are copied. */
static void
dns_req_start_hosts(struct dns_req *req, const struct dns_mxrr *mx, size_t n)
{
	struct dns *d = req->d;
	bool asked[2] = {d->o.family != DNS_FAM_IPV6,
			 d->o.family != DNS_FAM_IPV4};

	req->nhosts = n;
	req->hosts = xcalloc(n, sizeof(*req->hosts));
	req->hwait = xcalloc(2 * n, sizeof(*req->hwait));
	for (size_t i = 0; i < n; i++) {
		req->hosts[i].name = xstrdup(mx[i].host);
		req->hosts[i].pref = mx[i].pref;
		for (unsigned f = 0; f < 2; f++) {
			req->hosts[i].asked[f] = asked[f];
			req->hwait[2 * i + f].req = req;
			req->hwait[2 * i + f].slot = 1 + 2 * (unsigned)i + f;
			req->pending += asked[f];
		}
	}
	/* Every count is in before the first lookup: a cache hit answers
	 * at once, and the last one finishes the request. */
	for (size_t i = 0; i < n; i++)
		for (unsigned f = 0; f < 2; f++)
			if (asked[f])
				dns_lookup(d, req->hosts[i].name,
					   f ? DNS_QT_AAAA : DNS_QT_A,
					   &req->hwait[2 * i + f]);
}

static void
dns_req_on_mx_ok(struct dns_req *req, const struct dns_answer *a)
{
	struct dns_mxrr mx[DNS_MX_RR_MAX];
	size_t n = MIN((size_t)a->n, (size_t)DNS_MX_RR_MAX), keep;

	req->skipped = a->skipped;
	if (a->null_mx) {
		dns_req_fail(req, req->domain, DNS_NULL_MX, DNS_R_NONE);
		return;
	}
	if (n == 0) {
		dns_req_fail(req, req->domain, DNS_TEMPFAIL, DNS_R_BAD_TARGETS);
		return;
	}
	memcpy(mx, a->mx, n * sizeof(*mx)); /* names borrowed from a */
	dns_mx_shuffle(mx, n, &req->d->rng);
	keep = MIN(n, (size_t)req->d->o.max_mx_hosts);
	req->truncated = (unsigned)(n - keep);
	dns_req_start_hosts(req, mx, keep);
}

static void
dns_req_on_mx(struct dns_req *req, const struct dns_answer *a)
{
	struct dns_mxrr self = {.pref = 0, .host = req->domain};

	dns_req_ttl(req, a);
	switch (a->st) {
	case DNS_A_OK:
		dns_req_on_mx_ok(req, a);
		return;
	case DNS_A_NODATA: /* RFC 5321 5.1: the implicit MX */
		req->implicit_mx = true;
		dns_req_start_hosts(req, &self, 1);
		return;
	case DNS_A_NXDOMAIN:
		dns_req_fail(req, req->domain, DNS_NXDOMAIN, DNS_R_NXDOMAIN);
		return;
	case DNS_A_TEMP: /* never an A fallback (RFC 5321 5.1) */
		dns_req_fail(req, req->domain, DNS_TEMPFAIL, a->reason);
		return;
	case DNS_A_BADNAME:
		dns_req_fail(req, req->domain, DNS_BAD_NAME, DNS_R_NONE);
		return;
	case DNS_A_CANCELLED:
	case DNS_A__COUNT:
		break;
	}
	dns_req_fail(req, req->domain, DNS_CANCELLED, DNS_R_NONE);
}

void
dns_req_on_answer(struct dns_req *req, unsigned slot,
		  const struct dns_answer *a)
{
	BUG_ON(req->pending == 0 || req->ready);
	if (slot == 0) {
		req->pending--;
		dns_req_on_mx(req, a);
		return;
	}
	size_t i = (slot - 1) / 2;
	unsigned f = (slot - 1) % 2;

	BUG_ON(i >= req->nhosts);
	dns_answer_copy(&req->hosts[i].fam[f], a);
	dns_req_ttl(req, a);
	if (--req->pending == 0)
		dns_req_build(req);
}

int
dns_resolve_mx(struct dns *d, const char *domain, dns_mx_fn *cb, void *arg,
	       struct dns_req **req_r)
{
	struct dns_req *req;

	if (d->closing)
		return -ESHUTDOWN;
	req = dns_req_new(d, DNS_RK_MX, cb, arg);
	if (req_r)
		*req_r = req;
	if (dns_name_normalize(domain, req->domain, sizeof(req->domain)) < 0) {
		dns_req_fail(req, domain, DNS_BAD_NAME, DNS_R_NONE);
		return 0;
	}
	req->pending = 1;
	dns_lookup(d, req->domain, DNS_QT_MX, &req->mx_wait);
	return 0;
}

/* "10.0.0.1", "::1" or "[::1]": an address used as is. */
static bool
dns_req_literal(struct dns_req *req, const char *host)
{
	char buf[INET6_ADDRSTRLEN + 2];
	uint8_t addr[16];
	size_t len = strlen(host);
	int fam = AF_INET;

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']' &&
	    len - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
	} else if (len < sizeof(buf)) {
		memcpy(buf, host, len + 1);
	} else {
		return false;
	}
	if (inet_pton(AF_INET, buf, addr) != 1) {
		fam = AF_INET6;
		if (inet_pton(AF_INET6, buf, addr) != 1)
			return false;
	}
	snprintf(req->domain, sizeof(req->domain), "%s", buf);
	req->nhosts = 1;
	req->hosts = xcalloc(1, sizeof(*req->hosts));
	req->hwait = xcalloc(2, sizeof(*req->hwait));
	req->hosts[0].name = xstrdup(buf);
	req->hosts[0].asked[fam == AF_INET6] = true;
	req->hosts[0].fam[fam == AF_INET6].st = DNS_A_OK;
	if (dns_answer_add_ip(&req->hosts[0].fam[fam == AF_INET6], fam, addr) ==
	    0)
		req->hosts[0].fam[fam == AF_INET6].st = DNS_A_NODATA;
	dns_req_build(req);
	return true;
}

int
dns_resolve_host(struct dns *d, const char *host, uint16_t port, dns_mx_fn *cb,
		 void *arg, struct dns_req **req_r)
{
	struct dns_req *req;
	struct dns_mxrr self;

	if (d->closing)
		return -ESHUTDOWN;
	req = dns_req_new(d, DNS_RK_HOST, cb, arg);
	req->port = port;
	if (req_r)
		*req_r = req;
	if (dns_req_literal(req, host))
		return 0;
	if (dns_name_normalize(host, req->domain, sizeof(req->domain)) < 0) {
		dns_req_fail(req, host, DNS_BAD_NAME, DNS_R_NONE);
		return 0;
	}
	self.pref = 0;
	self.host = req->domain;
	dns_req_start_hosts(req, &self, 1);
	return 0;
}
