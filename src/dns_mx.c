/* SPDX-License-Identifier: MIT */
/*
 * dns_mx.c: the pure parts of routing lookups: name normalization, MX
 * target checks, preference sorting and shuffling, the raw-answer walker
 * (TTL and CNAME count), result building, filtering and freeing, and the
 * string tables.
 *
 * No I/O, no c-ares, no clock: everything here is driven by its arguments
 * (the PRNG state included), so the unit tests and the fuzz target can run
 * it with fixed inputs.  DNS data is hostile: every read is bounded by the
 * lengths given, and every name is checked before it is kept.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dns_int.h"

static const char *const dns_status_names[] = {
    [DNS_OK] = "ok",
    [DNS_NXDOMAIN] = "nxdomain",
    [DNS_NULL_MX] = "null_mx",
    [DNS_TEMPFAIL] = "tempfail",
    [DNS_NO_ADDRESSES] = "no_addresses",
    [DNS_BAD_NAME] = "bad_name",
    [DNS_CANCELLED] = "cancelled",
};
_Static_assert(nitems(dns_status_names) == DNS__COUNT, "dns status names");

static const char *const dns_reason_names[] = {
    [DNS_R_NONE] = "none",
    [DNS_R_TIMEOUT] = "timeout",
    [DNS_R_SERVFAIL] = "servfail",
    [DNS_R_REFUSED] = "refused",
    [DNS_R_FORMERR] = "formerr",
    [DNS_R_LOCAL] = "local",
    [DNS_R_NXDOMAIN] = "nxdomain",
    [DNS_R_NODATA] = "nodata",
    [DNS_R_BAD_TARGETS] = "bad_targets",
    [DNS_R_CNAME_DEPTH] = "cname_depth",
    [DNS_R_FILTERED] = "filtered",
};
_Static_assert(nitems(dns_reason_names) == DNS_R__COUNT, "dns reason names");

static const char *const dns_host_status_names[] = {
    [DNS_H_OK] = "ok",
    [DNS_H_NO_ADDRESS] = "no_address",
    [DNS_H_TEMPFAIL] = "tempfail",
    [DNS_H_OVER_LIMIT] = "over_limit",
    [DNS_H_FILTERED] = "filtered",
};
_Static_assert(nitems(dns_host_status_names) == DNS_H__COUNT,
	       "dns host status names");

static const char *const dns_qtype_names[] = {
    [DNS_QT_MX] = "MX",
    [DNS_QT_A] = "A",
    [DNS_QT_AAAA] = "AAAA",
};
_Static_assert(nitems(dns_qtype_names) == DNS_QT__COUNT, "dns qtype names");
static const uint16_t dns_qtype_numbers[] = {
    [DNS_QT_MX] = 15,
    [DNS_QT_A] = 1,
    [DNS_QT_AAAA] = 28,
};
_Static_assert(nitems(dns_qtype_numbers) == DNS_QT__COUNT, "dns qtype nums");

static const char *const dns_astatus_names[] = {
    [DNS_A_OK] = "ok",           [DNS_A_NXDOMAIN] = "nxdomain",
    [DNS_A_NODATA] = "nodata",   [DNS_A_TEMP] = "temp",
    [DNS_A_BADNAME] = "badname", [DNS_A_CANCELLED] = "cancelled",
};
_Static_assert(nitems(dns_astatus_names) == DNS_A__COUNT, "dns answer names");

const char *
dns_status_str(enum dns_status s)
{
	return (unsigned)s < DNS__COUNT ? dns_status_names[s] : "?";
}

bool
dns_status_permanent(enum dns_status s)
{
	return s == DNS_NXDOMAIN || s == DNS_NULL_MX || s == DNS_BAD_NAME;
}

const char *
dns_reason_str(enum dns_reason r)
{
	return (unsigned)r < DNS_R__COUNT ? dns_reason_names[r] : "?";
}

const char *
dns_host_status_str(enum dns_host_status s)
{
	return (unsigned)s < DNS_H__COUNT ? dns_host_status_names[s] : "?";
}

const char *
dns_qtype_str(enum dns_qtype t)
{
	return (unsigned)t < DNS_QT__COUNT ? dns_qtype_names[t] : "?";
}

uint16_t
dns_qtype_wire(enum dns_qtype t)
{
	return (unsigned)t < DNS_QT__COUNT ? dns_qtype_numbers[t] : 0;
}

const char *
dns_astatus_str(enum dns_astatus s)
{
	return (unsigned)s < DNS_A__COUNT ? dns_astatus_names[s] : "?";
}

void
dns_opts_init(struct dns_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_ms = 2000;
	o->tries = 2;
	o->cache_size = 100000;
	o->min_ttl_ms = 60 * 1000;
	o->max_ttl_ms = 86400 * 1000;
	o->negative_ttl_ms = 300 * 1000;
	o->max_mx_hosts = 10;
	o->max_addresses = 20;
	o->max_cname = DNS_CNAME_MAX_DEFAULT;
	o->family = DNS_FAM_ANY;
}

static bool
dns_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int
dns_name_normalize(const char *in, char *out, size_t outsz)
{
	size_t len = strlen(in), lab = 0;
	bool digits = true;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX || outsz < len + 1)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (lab == 0 || out[i - 1] == '-')
				return -EINVAL;
			lab = 0;
			digits = true;
		} else {
			if (!dns_ldh(c) || ++lab > 63)
				return -EINVAL;
			if (c == '-' && lab == 1)
				return -EINVAL;
			if (c < '0' || c > '9')
				digits = false;
		}
		out[i] = c;
	}
	if (out[len - 1] == '-' || digits)
		return -EINVAL;
	out[len] = '\0';
	return 0;
}

void
dns_answer_fini(struct dns_answer *a)
{
	for (size_t i = 0; a->mx && i < a->n; i++)
		free(a->mx[i].host);
	free(a->mx);
	free(a->ip);
	memset(a, 0, sizeof(*a));
}

void
dns_answer_copy(struct dns_answer *dst, const struct dns_answer *src)
{
	*dst = *src;
	dst->mx = NULL;
	dst->ip = NULL;
	if (src->mx) {
		dst->mx = xcalloc(src->n ? src->n : 1, sizeof(*dst->mx));
		for (size_t i = 0; i < src->n; i++) {
			dst->mx[i].pref = src->mx[i].pref;
			dst->mx[i].host = xstrdup(src->mx[i].host);
		}
	}
	if (src->ip) {
		dst->ip = xcalloc(src->n ? src->n : 1, sizeof(*dst->ip));
		memcpy(dst->ip, src->ip, src->n * sizeof(*dst->ip));
	}
}

static int
dns_mxrr_cmp(const void *a, const void *b)
{
	const struct dns_mxrr *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return strcmp(x->host, y->host);
}

static bool
dns_target_is_root(const char *t)
{
	return t[0] == '\0' || (t[0] == '.' && t[1] == '\0');
}

void
dns_answer_set_mx(struct dns_answer *a, const uint16_t *prefs,
		  const char *const *targets, size_t n)
{
	char name[DNS_NAME_MAX + 1];
	size_t kept = 0;

	a->st = DNS_A_OK;
	if (n == 1 && prefs[0] == 0 && dns_target_is_root(targets[0])) {
		a->null_mx = true;
		return;
	}
	a->mx = xcalloc(n ? n : 1, sizeof(*a->mx));
	for (size_t i = 0; i < n; i++) {
		/* A root target among others, an IP literal, a bad label:
		 * skip it (RFC 7505 3: "0 ." must stand alone). */
		if (dns_name_normalize(targets[i], name, sizeof(name)) < 0) {
			if (a->skipped < UINT16_MAX)
				a->skipped++;
			continue;
		}
		a->mx[kept].pref = prefs[i];
		a->mx[kept].host = xstrdup(name);
		kept++;
	}
	qsort(a->mx, kept, sizeof(*a->mx), dns_mxrr_cmp);
	/* Drop duplicates (same host twice), keeping the best preference. */
	size_t w = 0;
	for (size_t i = 0; i < kept; i++) {
		bool dup = false;

		for (size_t j = 0; j < w && !dup; j++)
			dup = strcmp(a->mx[j].host, a->mx[i].host) == 0;
		if (dup || w >= DNS_MX_RR_MAX) {
			free(a->mx[i].host);
			continue;
		}
		a->mx[w++] = a->mx[i];
	}
	a->n = (uint16_t)w;
}

static bool
dns_ip_usable(int family, const uint8_t *p)
{
	static const uint8_t zero[16];

	if (family == AF_INET) {
		/* 0.0.0.0/8 ("this network"), multicast, broadcast */
		return p[0] != 0 && (p[0] & 0xf0) != 0xe0 &&
		       memcmp(p, "\xff\xff\xff\xff", 4) != 0;
	}
	return memcmp(p, zero, 16) != 0 && p[0] != 0xff;
}

int
dns_answer_add_ip(struct dns_answer *a, int family, const void *addr)
{
	size_t sz = family == AF_INET ? 4 : 16;

	if ((family != AF_INET && family != AF_INET6) ||
	    !dns_ip_usable(family, addr) || a->n >= DNS_ADDR_RR_MAX)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->ip[i].family == family &&
		    !memcmp(a->ip[i].addr, addr, sz))
			return 0;
	if (a->ip == NULL)
		a->ip = xcalloc(DNS_ADDR_RR_MAX, sizeof(*a->ip));
	a->ip[a->n].family = family;
	memcpy(a->ip[a->n].addr, addr, sz);
	a->n++;
	return 1;
}

uint64_t
dns_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t
dns_rng_below(uint64_t *rng, size_t n)
{
	return (size_t)(((unsigned __int128)dns_rng_next(rng) * n) >> 64);
}

void
dns_mx_shuffle(struct dns_mxrr *v, size_t n, uint64_t *rng)
{
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && v[j].pref == v[i].pref; j++)
			;
		for (size_t k = j - 1; k > i; k--) {
			size_t r = i + dns_rng_below(rng, k - i + 1);
			struct dns_mxrr t = v[k];

			v[k] = v[r];
			v[r] = t;
		}
	}
}

/* Skip a (possibly compressed) name at *off; bounded by len. */
static int
dns_wire_skip_name(const uint8_t *buf, size_t len, size_t *off)
{
	size_t o = *off;

	for (unsigned labels = 0; labels < 128; labels++) {
		if (o >= len)
			return -EBADMSG;
		uint8_t c = buf[o];

		if (c == 0) {
			*off = o + 1;
			return 0;
		}
		if ((c & 0xc0) == 0xc0) {
			if (o + 2 > len)
				return -EBADMSG;
			*off = o + 2;
			return 0;
		}
		if (c & 0xc0)
			return -EBADMSG; /* 0x40/0x80: reserved label types */
		o += 1 + (size_t)c;
	}
	return -EBADMSG;
}

static unsigned
dns_get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

int
dns_wire_scan(const uint8_t *buf, size_t len, uint16_t qtype,
	      struct dns_wire_info *wi)
{
	size_t off = 12;

	memset(wi, 0, sizeof(*wi));
	wi->min_ttl = UINT32_MAX;
	if (len < 12)
		return -EBADMSG;
	wi->rcode = buf[3] & 0x0f;
	wi->qdcount = dns_get16(buf + 4);
	wi->ancount = dns_get16(buf + 6);
	for (unsigned i = 0; i < wi->qdcount; i++) {
		if (dns_wire_skip_name(buf, len, &off) < 0 || off + 4 > len)
			return -EBADMSG;
		off += 4;
	}
	for (unsigned i = 0; i < wi->ancount; i++) {
		if (dns_wire_skip_name(buf, len, &off) < 0 || off + 10 > len)
			return -EBADMSG;
		unsigned type = dns_get16(buf + off);
		uint32_t ttl = (uint32_t)dns_get16(buf + off + 4) << 16 |
			       dns_get16(buf + off + 6);
		size_t rdlen = dns_get16(buf + off + 8);

		off += 10;
		if (rdlen > len - off)
			return -EBADMSG;
		off += rdlen;
		if (ttl > INT32_MAX)
			ttl = 0; /* RFC 2181 8: a TTL with the top bit set */
		if (type == qtype)
			wi->matches++;
		else if (type == 5)
			wi->cnames++;
		else
			continue;
		if (ttl < wi->min_ttl)
			wi->min_ttl = ttl;
	}
	return 0;
}

void
dns_mx_result_free(struct dns_mx_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->nhosts; i++) {
		free(res->hosts[i].name);
		free(res->hosts[i].addrs);
	}
	free(res->hosts);
	free(res->domain);
	free(res);
}

struct dns_mx_result *
dns_result_status(const char *domain, enum dns_status st, enum dns_reason why)
{
	struct dns_mx_result *res = xcalloc(1, sizeof(*res));

	res->status = st;
	res->reason = why;
	res->domain = xstrndup(domain, DNS_NAME_MAX + 2);
	return res;
}

static void
dns_sockaddr_set(struct sockaddr_storage *ss, const struct dns_ip *ip,
		 uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (ip->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip->addr, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, ip->addr, 16);
	}
}

/* Append one family's addresses, shuffled, within the budget. */
static void
dns_host_add_family(struct dns_host *h, const struct dns_answer *a,
		    size_t *budget, uint16_t port, uint64_t *rng)
{
	size_t idx[DNS_ADDR_RR_MAX];
	size_t n = MIN((size_t)a->n, (size_t)DNS_ADDR_RR_MAX);

	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	for (size_t k = n; k > 1; k--) {
		size_t r = dns_rng_below(rng, k), t = idx[k - 1];

		idx[k - 1] = idx[r];
		idx[r] = t;
	}
	for (size_t i = 0; i<n && * budget> 0; i++, (*budget)--)
		dns_sockaddr_set(&h->addrs[h->naddrs++], &a->ip[idx[i]], port);
}

/* A host's status when it has no address: temp beats no-data beats NX. */
static void
dns_host_failure(struct dns_host *h, const struct dns_rhost *rh)
{
	bool nx = true;

	h->status = DNS_H_NO_ADDRESS;
	h->reason = DNS_R_NODATA;
	for (int f = 0; f < 2; f++) {
		const struct dns_answer *a = &rh->fam[f];

		if (!rh->asked[f])
			continue;
		if (a->st == DNS_A_TEMP) {
			h->status = DNS_H_TEMPFAIL;
			h->reason = a->reason;
			return;
		}
		if (a->st != DNS_A_NXDOMAIN)
			nx = false;
	}
	if (nx)
		h->reason = DNS_R_NXDOMAIN;
}

static void
dns_result_host(struct dns_host *h, const struct dns_rhost *rh, size_t *budget,
		uint16_t port, uint64_t *rng)
{
	size_t avail = 0;

	h->name = xstrdup(rh->name);
	h->pref = rh->pref;
	for (int f = 0; f < 2; f++)
		if (rh->asked[f] && rh->fam[f].st == DNS_A_OK)
			avail += rh->fam[f].n;
	if (avail == 0) {
		dns_host_failure(h, rh);
		return;
	}
	if (*budget == 0) {
		h->status = DNS_H_OVER_LIMIT;
		return;
	}
	h->addrs = xcalloc(MIN(avail, *budget), sizeof(*h->addrs));
	for (int f = 0; f < 2; f++)
		if (rh->asked[f] && rh->fam[f].st == DNS_A_OK)
			dns_host_add_family(h, &rh->fam[f], budget, port, rng);
	h->status = DNS_H_OK;
}

struct dns_mx_result *
dns_result_build(const struct dns_build *b, const struct dns_rhost *h, size_t n,
		 uint64_t *rng)
{
	struct dns_mx_result *res = dns_result_status(b->domain, DNS_OK, 0);
	size_t budget = b->max_addresses;
	const struct dns_host *temp = NULL;

	res->implicit_mx = b->implicit_mx;
	res->skipped = b->skipped;
	res->truncated = b->truncated;
	res->ttl_ms = b->ttl_ms;
	res->nhosts = n;
	res->hosts = xcalloc(n ? n : 1, sizeof(*res->hosts));
	for (size_t i = 0; i < n; i++) {
		struct dns_host *rh = &res->hosts[i];

		for (int f = 0; f < 2; f++)
			if (h[i].asked[f] && h[i].fam[f].st == DNS_A_CANCELLED)
				res->status = DNS_CANCELLED;
		dns_result_host(rh, &h[i], &budget, b->port, rng);
		res->naddrs += rh->naddrs;
		if (rh->status == DNS_H_TEMPFAIL && temp == NULL)
			temp = rh;
	}
	if (res->status == DNS_CANCELLED || res->naddrs > 0)
		return res;
	if (temp) {
		res->status = DNS_TEMPFAIL;
		res->reason = temp->reason;
	} else {
		res->status = DNS_NO_ADDRESSES;
		res->reason = n ? res->hosts[0].reason : DNS_R_NODATA;
	}
	return res;
}

void
dns_mx_result_set_port(struct dns_mx_result *res, uint16_t port)
{
	for (size_t i = 0; i < res->nhosts; i++) {
		for (size_t j = 0; j < res->hosts[i].naddrs; j++) {
			struct sockaddr_storage *ss = &res->hosts[i].addrs[j];

			if (ss->ss_family == AF_INET)
				((struct sockaddr_in *)ss)->sin_port =
				    htons(port);
			else
				((struct sockaddr_in6 *)ss)->sin6_port =
				    htons(port);
		}
	}
}

size_t
dns_mx_result_filter(struct dns_mx_result *res,
		     bool (*keep)(void *arg, const struct sockaddr *sa),
		     void *arg)
{
	size_t total = 0;

	for (size_t i = 0; i < res->nhosts; i++) {
		struct dns_host *h = &res->hosts[i];
		size_t w = 0;

		for (size_t j = 0; j < h->naddrs; j++) {
			if (keep(arg, (const struct sockaddr *)&h->addrs[j]))
				h->addrs[w++] = h->addrs[j];
			else
				res->filtered++;
		}
		if (h->naddrs > 0 && w == 0) {
			h->status = DNS_H_FILTERED;
			h->reason = DNS_R_FILTERED;
		}
		h->naddrs = w;
		total += w;
	}
	res->naddrs = total;
	if (res->status == DNS_OK && total == 0) {
		res->status = DNS_NO_ADDRESSES;
		res->reason = DNS_R_FILTERED;
	}
	return total;
}
