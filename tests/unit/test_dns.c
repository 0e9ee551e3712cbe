/* SPDX-License-Identifier: MIT */
/*
 * test_dns.c: the resolver without a network.  The pure parts (names, MX
 * target checks, sorting and shuffling, the wire walker, c-ares answer
 * translation on hand-built packets, result building and filtering), then
 * whole requests through a fake backend that records queries and answers
 * them by hand, with a fake clock: routing outcomes, caps, cache TTLs and
 * eviction, coalescing, cancel and destruction.  The real c-ares on the
 * real ring is tests/integration/test_dns.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "dns_int.h"

/* ---- fake backend ---------------------------------------------------- */

struct fake {
	struct dns_node *sent[512];
	size_t nsent;
};
static struct fake fake;

static void
fake_send(struct dns *d, struct dns_node *n)
{
	(void)d;
	assert_true(fake.nsent < nitems(fake.sent));
	fake.sent[fake.nsent++] = n;
}

static const struct dns_backend fake_be = {.send = fake_send, .stop = NULL};

static struct dns *
tnew(const struct dns_opts *o)
{
	struct dns_opts def;
	int err = 1;
	struct dns *d;

	if (o == NULL) {
		dns_opts_init(&def);
		def.seed = 42;
		o = &def;
	}
	memset(&fake, 0, sizeof(fake));
	d = dns_alloc(NULL, o, &fake_be, &err);
	assert_non_null(d);
	assert_int_equal(err, 0);
	d->fake_now = 1000000000;
	return d;
}

/* The pending node for (name, t), or NULL. */
static struct dns_node *
fake_find(const char *name, enum dns_qtype t)
{
	for (size_t i = 0; i < fake.nsent; i++) {
		struct dns_node *n = fake.sent[i];

		if (n && n->type == t && !strcmp(n->name, name) &&
		    n->state == DNS_N_PENDING)
			return n;
	}
	return NULL;
}

static size_t
fake_count(const char *name, enum dns_qtype t)
{
	size_t c = 0;

	for (size_t i = 0; i < fake.nsent; i++)
		if (fake.sent[i]->type == t &&
		    !strcmp(fake.sent[i]->name, name))
			c++;
	return c;
}

static void
fake_answer(struct dns *d, const char *name, enum dns_qtype t,
	    struct dns_answer *a)
{
	struct dns_node *n = fake_find(name, t);

	if (n == NULL)
		fail_msg("no pending query %s/%s", name, dns_qtype_str(t));
	for (size_t i = 0; i < fake.nsent; i++)
		if (fake.sent[i] == n)
			fake.sent[i] = fake.sent[--fake.nsent];
	dns_node_complete(d, n, a);
	dns_run(d);
}

static void
ans_status(struct dns_answer *a, enum dns_astatus st, enum dns_reason why)
{
	memset(a, 0, sizeof(*a));
	a->st = st;
	a->reason = why;
}

/* "10 mx1.x, 20 mx2.x" */
static void
ans_mx(struct dns_answer *a, uint32_t ttl, const char *spec)
{
	uint16_t prefs[128];
	const char *targets[128];
	char buf[4096], *save = NULL;
	size_t n = 0;

	memset(a, 0, sizeof(*a));
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned pref;
		char *sp;

		while (*tok == ' ')
			tok++;
		pref = (unsigned)strtoul(tok, &sp, 10);
		while (*sp == ' ')
			sp++;
		prefs[n] = (uint16_t)pref;
		targets[n++] = sp;
	}
	dns_answer_set_mx(a, prefs, targets, n);
	a->ttl = ttl;
}

/* "1.2.3.4 5.6.7.8" or "::1" */
static void
ans_ip(struct dns_answer *a, uint32_t ttl, const char *spec)
{
	char buf[1024], *save = NULL;

	memset(a, 0, sizeof(*a));
	a->st = DNS_A_OK;
	a->ttl = ttl;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		uint8_t addr[16];
		int fam = strchr(tok, ':') ? AF_INET6 : AF_INET;

		assert_int_equal(inet_pton(fam, tok, addr), 1);
		dns_answer_add_ip(a, fam, addr);
	}
}

static void
answer_mx(struct dns *d, const char *name, uint32_t ttl, const char *spec)
{
	struct dns_answer a;

	ans_mx(&a, ttl, spec);
	fake_answer(d, name, DNS_QT_MX, &a);
}

static void
answer_ip(struct dns *d, const char *name, enum dns_qtype t, uint32_t ttl,
	  const char *spec)
{
	struct dns_answer a;

	ans_ip(&a, ttl, spec);
	fake_answer(d, name, t, &a);
}

static void
answer_st(struct dns *d, const char *name, enum dns_qtype t,
	  enum dns_astatus st, enum dns_reason why)
{
	struct dns_answer a;

	ans_status(&a, st, why);
	fake_answer(d, name, t, &a);
}

/* ---- result capture -------------------------------------------------- */

struct got {
	unsigned calls;
	struct dns_mx_result *res;
};

static void
got_cb(void *arg, struct dns_mx_result *res)
{
	struct got *g = arg;

	g->calls++;
	dns_mx_result_free(g->res);
	g->res = res;
}

static void
got_free(struct got *g)
{
	dns_mx_result_free(g->res);
	g->res = NULL;
}

static const char *
addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
			  buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
			  (socklen_t)len);
	return buf;
}

/* "mx1.x=1.2.3.4|::1;mx2.x=" : hosts in order, their address sets. */
static void
assert_hosts(const struct dns_mx_result *res, const char *want)
{
	char buf[2048];
	size_t off = 0;

	for (size_t i = 0; i < res->nhosts; i++) {
		const struct dns_host *h = &res->hosts[i];

		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"%s%s=", i ? ";" : "", h->name);
		for (size_t j = 0; j < h->naddrs; j++) {
			char a[INET6_ADDRSTRLEN];

			off += (size_t)snprintf(
			    buf + off, sizeof(buf) - off, "%s%s", j ? "|" : "",
			    addr_str(&h->addrs[j], a, sizeof(a)));
		}
	}
	buf[MIN(off, sizeof(buf) - 1)] = '\0';
	assert_string_equal(buf, want);
}

/* ---- pure parts ------------------------------------------------------ */

static void
test_name_normalize(void **state)
{
	static const struct {
		const char *in, *out; /* out NULL: -EINVAL */
	} c[] = {
	    {"example.com", "example.com"},
	    {"Example.COM.", "example.com"},
	    {"a", "a"}, /* one label, not all digits */
	    {"xn--bcher-kva.example", "xn--bcher-kva.example"},
	    {"a-b.c0", "a-b.c0"},
	    {"mx1.example.test", "mx1.example.test"},
	    {"123.example", "123.example"},
	    {"", NULL},
	    {".", NULL},
	    {"..", NULL},
	    {"a..b", NULL},
	    {".a.b", NULL},
	    {"a.b..", NULL},
	    {"-a.com", NULL},
	    {"a-.com", NULL},
	    {"a.-b.com", NULL},
	    {"a_b.com", NULL},
	    {"a b.com", NULL},
	    {"exa\xc3\xa9.com", NULL},
	    {"1.2.3.4", NULL},
	    {"[1.2.3.4]", NULL},
	    {"::1", NULL},
	    {"com.123", NULL},
	    {"a*.com", NULL},
	    {"a\n.com", NULL},
	};
	char out[DNS_NAME_MAX + 1];
	char big[300];

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		const char *want = c[i].out;
		int rc = dns_name_normalize(c[i].in, out, sizeof(out));
		print_message("'%s' -> %d\n", c[i].in, rc);
		if (want) {
			assert_int_equal(rc, 0);
			assert_string_equal(out, want);
		} else {
			assert_int_equal(rc, -EINVAL);
		}
	}
	/* 63-byte label ok, 64 not */
	memset(big, 'a', 63);
	strcpy(big + 63, ".com");
	assert_int_equal(dns_name_normalize(big, out, sizeof(out)), 0);
	memset(big, 'a', 64);
	strcpy(big + 64, ".com");
	assert_int_equal(dns_name_normalize(big, out, sizeof(out)), -EINVAL);
	/* 253 bytes ok (with or without the dot), 254 not */
	for (size_t i = 0; i < 253; i++)
		big[i] = (i % 2) ? '.' : 'a';
	big[253] = '\0';
	assert_int_equal(dns_name_normalize(big, out, sizeof(out)), 0);
	big[253] = '.';
	big[254] = '\0';
	assert_int_equal(dns_name_normalize(big, out, sizeof(out)), 0);
	big[253] = 'b';
	big[252] = '.';
	assert_int_equal(dns_name_normalize(big, out, sizeof(out)), -EINVAL);
	/* small output buffer */
	assert_int_equal(dns_name_normalize("abc.de", out, 6), -EINVAL);
	assert_int_equal(dns_name_normalize("abc.de", out, 7), 0);
}

static void
test_set_mx(void **state)
{
	struct dns_answer a;

	(void)state;
	ans_mx(&a, 60, "0 ");
	assert_true(a.null_mx);
	assert_int_equal(a.n, 0);
	dns_answer_fini(&a);
	ans_mx(&a, 60, "0 .");
	assert_true(a.null_mx);
	dns_answer_fini(&a);
	/* null MX among others: the root target is skipped, the rest used */
	ans_mx(&a, 60, "0 ., 10 mx.b.test");
	assert_false(a.null_mx);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.skipped, 1);
	assert_string_equal(a.mx[0].host, "mx.b.test");
	dns_answer_fini(&a);
	/* "10 ." alone is not RFC 7505's null MX: malformed */
	ans_mx(&a, 60, "10 .");
	assert_false(a.null_mx);
	assert_int_equal(a.n, 0);
	assert_int_equal(a.skipped, 1);
	dns_answer_fini(&a);
	/* malformed targets skipped, the rest sorted, duplicates merged */
	ans_mx(&a, 60,
	       "30 C.test, 10 1.2.3.4, 20 b.test, 5 bad_name.test, "
	       "10 a.test, 40 b.test., 7 [1.2.3.4], 9 ::1");
	assert_int_equal(a.skipped, 4);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.mx[0].pref, 10);
	assert_string_equal(a.mx[0].host, "a.test");
	assert_int_equal(a.mx[1].pref, 20);
	assert_string_equal(a.mx[1].host, "b.test");
	assert_int_equal(a.mx[2].pref, 30);
	assert_string_equal(a.mx[2].host, "c.test");
	dns_answer_fini(&a);
}

static void
test_set_mx_cap(void **state)
{
	uint16_t prefs[200];
	const char *t[200];
	char names[200][24];
	struct dns_answer a;

	(void)state;
	for (int i = 0; i < 200; i++) {
		prefs[i] = (uint16_t)(200 - i);
		snprintf(names[i], sizeof(names[i]), "h%d.test", i);
		t[i] = names[i];
	}
	memset(&a, 0, sizeof(a));
	dns_answer_set_mx(&a, prefs, t, 200);
	assert_int_equal(a.n, DNS_MX_RR_MAX);
	assert_int_equal(a.mx[0].pref, 1); /* the best ones are kept */
	assert_int_equal(a.mx[DNS_MX_RR_MAX - 1].pref, DNS_MX_RR_MAX);
	dns_answer_fini(&a);
}

static void
test_add_ip(void **state)
{
	struct dns_answer a;
	uint8_t v4[4], v6[16];
	static const char *const bad4[] = {"0.0.0.0", "0.1.2.3", "224.0.0.1",
					   "239.255.255.255",
					   "255.255.255.255"};
	static const char *const bad6[] = {"::", "ff02::1"};

	(void)state;
	memset(&a, 0, sizeof(a));
	for (size_t i = 0; i < nitems(bad4); i++) {
		assert_int_equal(inet_pton(AF_INET, bad4[i], v4), 1);
		assert_int_equal(dns_answer_add_ip(&a, AF_INET, v4), 0);
	}
	for (size_t i = 0; i < nitems(bad6); i++) {
		assert_int_equal(inet_pton(AF_INET6, bad6[i], v6), 1);
		assert_int_equal(dns_answer_add_ip(&a, AF_INET6, v6), 0);
	}
	assert_int_equal(inet_pton(AF_INET, "127.0.0.2", v4), 1);
	assert_int_equal(dns_answer_add_ip(&a, AF_INET, v4), 1);
	assert_int_equal(dns_answer_add_ip(&a, AF_INET, v4), 0); /* dup */
	assert_int_equal(inet_pton(AF_INET6, "::1", v6), 1);
	assert_int_equal(dns_answer_add_ip(&a, AF_INET6, v6), 1);
	assert_int_equal(dns_answer_add_ip(&a, AF_UNIX, v6), 0);
	for (int i = 0; i < 100; i++) {
		v4[0] = 10;
		v4[3] = (uint8_t)i;
		dns_answer_add_ip(&a, AF_INET, v4);
	}
	assert_int_equal(a.n, DNS_ADDR_RR_MAX);
	dns_answer_fini(&a);
}

static void
test_shuffle(void **state)
{
	struct dns_mxrr v[6];
	char *names[] = {"a", "b", "c", "d", "e", "f"};
	unsigned first_b = 0, perms[6] = {0};
	uint64_t rng = 7;

	(void)state;
	for (int run = 0; run < 3000; run++) {
		/* 10 a, 10 b | 20 c, 20 d, 20 e | 30 f */
		static const uint16_t p[] = {10, 10, 20, 20, 20, 30};

		for (int i = 0; i < 6; i++) {
			v[i].pref = p[i];
			v[i].host = names[i];
		}
		dns_mx_shuffle(v, 6, &rng);
		for (int i = 0; i < 6; i++)
			assert_int_equal(v[i].pref, p[i]); /* order kept */
		assert_string_equal(v[5].host, "f");
		first_b += v[0].host[0] == 'b';
		/* which permutation of c, d, e */
		unsigned k = (unsigned)(v[2].host[0] - 'c') * 3 +
			     (unsigned)(v[3].host[0] - 'c');
		perms[k == 1   ? 0
		      : k == 2 ? 1
		      : k == 3 ? 2
		      : k == 5 ? 3
		      : k == 6 ? 4
			       : 5]++;
	}
	/* Each order of {a, b}: 1500 expected; each of the 6 orders of
	 * {c, d, e}: 500 expected.  Wide bounds, fixed seed. */
	assert_in_range(first_b, 1350, 1650);
	for (int i = 0; i < 6; i++)
		assert_in_range(perms[i], 400, 600);
	/* Same seed, same sequence. */
	uint64_t r1 = 99, r2 = 99;
	for (int i = 0; i < 10; i++)
		assert_true(dns_rng_next(&r1) == dns_rng_next(&r2));
}

/* ---- raw packets ----------------------------------------------------- */

struct pkt {
	uint8_t b[1024];
	size_t n;
	unsigned an;
};

static void
pkt_name(struct pkt *p, const char *name)
{
	const char *s = name;

	while (*s) {
		const char *dot = strchr(s, '.');
		size_t len = dot ? (size_t)(dot - s) : strlen(s);

		p->b[p->n++] = (uint8_t)len;
		memcpy(p->b + p->n, s, len);
		p->n += len;
		s += len + (dot != NULL);
	}
	p->b[p->n++] = 0;
}

static void
pkt_u16(struct pkt *p, unsigned v)
{
	p->b[p->n++] = (uint8_t)(v >> 8);
	p->b[p->n++] = (uint8_t)v;
}

static void
pkt_start(struct pkt *p, const char *qname, unsigned qtype)
{
	memset(p, 0, sizeof(*p));
	pkt_u16(p, 0x1234);
	pkt_u16(p, 0x8180); /* response, RD, RA, NOERROR */
	pkt_u16(p, 1);
	pkt_u16(p, 0); /* ancount, patched by pkt_rr */
	pkt_u16(p, 0);
	pkt_u16(p, 0);
	pkt_name(p, qname);
	pkt_u16(p, qtype);
	pkt_u16(p, 1);
}

/* An answer RR; rdata given raw, or name-valued if rname is set. */
static void
pkt_rr(struct pkt *p, const char *owner, unsigned type, uint32_t ttl, int pref,
       const char *rname, const void *raw, size_t rawlen)
{
	size_t lenpos;

	pkt_name(p, owner);
	pkt_u16(p, type);
	pkt_u16(p, 1);
	pkt_u16(p, ttl >> 16);
	pkt_u16(p, ttl & 0xffff);
	lenpos = p->n;
	pkt_u16(p, 0);
	if (pref >= 0)
		pkt_u16(p, (unsigned)pref);
	if (rname)
		pkt_name(p, rname);
	if (raw) {
		memcpy(p->b + p->n, raw, rawlen);
		p->n += rawlen;
	}
	p->b[lenpos] = (uint8_t)((p->n - lenpos - 2) >> 8);
	p->b[lenpos + 1] = (uint8_t)(p->n - lenpos - 2);
	p->an++;
	p->b[6] = (uint8_t)(p->an >> 8);
	p->b[7] = (uint8_t)p->an;
}

static void
test_wire_scan(void **state)
{
	struct pkt p;
	struct dns_wire_info wi;

	(void)state;
	pkt_start(&p, "example.test", 15);
	pkt_rr(&p, "example.test", 15, 300, 10, "mx1.example.test", NULL, 0);
	pkt_rr(&p, "example.test", 15, 100, 20, "mx2.example.test", NULL, 0);
	pkt_rr(&p, "example.test", 16, 5, -1, NULL, "\x03txt", 4);
	assert_int_equal(dns_wire_scan(p.b, p.n, 15, &wi), 0);
	assert_int_equal(wi.qdcount, 1);
	assert_int_equal(wi.ancount, 3);
	assert_int_equal(wi.matches, 2);
	assert_int_equal(wi.cnames, 0);
	assert_int_equal(wi.min_ttl, 100);
	assert_int_equal(wi.rcode, 0);
	/* every truncation is an error, never an overread */
	for (size_t n = 0; n < p.n; n++)
		assert_int_equal(dns_wire_scan(p.b, n, 15, &wi), -EBADMSG);
	/* CNAME counted, TTL with the top bit set reads as 0 */
	pkt_start(&p, "a.test", 1);
	pkt_rr(&p, "a.test", 5, 0x80000000u, -1, "b.test", NULL, 0);
	pkt_rr(&p, "b.test", 1, 50, -1, NULL, "\x7f\0\0\x01", 4);
	assert_int_equal(dns_wire_scan(p.b, p.n, 1, &wi), 0);
	assert_int_equal(wi.cnames, 1);
	assert_int_equal(wi.matches, 1);
	assert_int_equal(wi.min_ttl, 0);
	/* reserved label type 0x40 */
	pkt_start(&p, "a.test", 1);
	p.b[12] = 0x41;
	assert_int_equal(dns_wire_scan(p.b, p.n, 1, &wi), -EBADMSG);
	/* rdlength past the end */
	pkt_start(&p, "a.test", 1);
	pkt_rr(&p, "a.test", 1, 50, -1, NULL, "\x7f\0\0\x01", 4);
	p.b[p.n - 5] = 9;
	assert_int_equal(dns_wire_scan(p.b, p.n, 1, &wi), -EBADMSG);
	/* compression pointer accepted as a name end */
	pkt_start(&p, "a.test", 1);
	p.b[p.n++] = 0xc0;
	p.b[p.n++] = 12;
	pkt_u16(&p, 1);
	pkt_u16(&p, 1);
	pkt_u16(&p, 0);
	pkt_u16(&p, 60);
	pkt_u16(&p, 4);
	memcpy(p.b + p.n, "\x7f\0\0\x02", 4);
	p.n += 4;
	p.b[7] = 1;
	assert_int_equal(dns_wire_scan(p.b, p.n, 1, &wi), 0);
	assert_int_equal(wi.min_ttl, 60);
	/* short header */
	assert_int_equal(dns_wire_scan(p.b, 11, 1, &wi), -EBADMSG);
}

static void
test_ares_parse(void **state)
{
	struct pkt p;
	struct dns_answer a;

	(void)state;
	/* MX: TTL is the smallest MX TTL; IP literal target skipped */
	pkt_start(&p, "example.test", 15);
	pkt_rr(&p, "example.test", 15, 300, 20, "mx2.example.test", NULL, 0);
	pkt_rr(&p, "example.test", 15, 200, 10, "MX1.example.test", NULL, 0);
	pkt_rr(&p, "example.test", 15, 900, 5, "10.0.0.1", NULL, 0);
	dns_ares_parse(DNS_QT_MX, 0, p.b, (int)p.n, 8, &a);
	assert_int_equal(a.st, DNS_A_OK);
	assert_int_equal(a.ttl, 200);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.skipped, 1);
	assert_string_equal(a.mx[0].host, "mx1.example.test");
	assert_string_equal(a.mx[1].host, "mx2.example.test");
	dns_answer_fini(&a);
	/* null MX on the wire */
	pkt_start(&p, "nullmx.test", 15);
	pkt_rr(&p, "nullmx.test", 15, 3600, 0, "", NULL, 0);
	dns_ares_parse(DNS_QT_MX, 0, p.b, (int)p.n, 8, &a);
	assert_int_equal(a.st, DNS_A_OK);
	assert_true(a.null_mx);
	assert_int_equal(a.ttl, 3600);
	dns_answer_fini(&a);
	/* A through a CNAME; 0.0.0.0 dropped */
	pkt_start(&p, "www.test", 1);
	pkt_rr(&p, "www.test", 5, 70, -1, "host.test", NULL, 0);
	pkt_rr(&p, "host.test", 1, 90, -1, NULL, "\x7f\0\0\x05", 4);
	pkt_rr(&p, "host.test", 1, 90, -1, NULL, "\0\0\0\0", 4);
	dns_ares_parse(DNS_QT_A, 0, p.b, (int)p.n, 8, &a);
	assert_int_equal(a.st, DNS_A_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.ip[0].family, AF_INET);
	assert_memory_equal(a.ip[0].addr, "\x7f\0\0\x05", 4);
	assert_int_equal(a.ttl, 70);
	dns_answer_fini(&a);
	/* the same with max_cname 0: too deep */
	dns_ares_parse(DNS_QT_A, 0, p.b, (int)p.n, 0, &a);
	assert_int_equal(a.st, DNS_A_TEMP);
	assert_int_equal(a.reason, DNS_R_CNAME_DEPTH);
	/* only 0.0.0.0: nothing usable */
	pkt_start(&p, "zero.test", 1);
	pkt_rr(&p, "zero.test", 1, 90, -1, NULL, "\0\0\0\0", 4);
	dns_ares_parse(DNS_QT_A, 0, p.b, (int)p.n, 8, &a);
	assert_int_equal(a.st, DNS_A_NODATA);
	dns_answer_fini(&a);
	/* AAAA */
	pkt_start(&p, "v6.test", 28);
	pkt_rr(&p, "v6.test", 28, 30, -1, NULL,
	       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	dns_ares_parse(DNS_QT_AAAA, 0, p.b, (int)p.n, 8, &a);
	assert_int_equal(a.st, DNS_A_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.ip[0].family, AF_INET6);
	dns_answer_fini(&a);
	/* an A answer for another owner name is not ours */
	pkt_start(&p, "x.test", 1);
	pkt_rr(&p, "evil.test", 1, 90, -1, NULL, "\x7f\0\0\x05", 4);
	dns_ares_parse(DNS_QT_A, 0, p.b, (int)p.n, 8, &a);
	assert_int_not_equal(a.st, DNS_A_OK);
	dns_answer_fini(&a);
	/* garbage and truncation: temporary FORMERR */
	dns_ares_parse(DNS_QT_MX, 0, p.b, 11, 8, &a);
	assert_int_equal(a.st, DNS_A_TEMP);
	assert_int_equal(a.reason, DNS_R_FORMERR);
	dns_ares_parse(DNS_QT_MX, 0, NULL, 0, 8, &a);
	assert_int_equal(a.st, DNS_A_TEMP);
}

static void
test_ares_status(void **state)
{
	/* c-ares 1.18 ARES_* numbers (stable ABI) */
	static const struct {
		int code;
		enum dns_astatus st;
		enum dns_reason why;
	} c[] = {
	    {1, DNS_A_NODATA, DNS_R_NONE},     /* ENODATA */
	    {2, DNS_A_TEMP, DNS_R_FORMERR},    /* EFORMERR */
	    {3, DNS_A_TEMP, DNS_R_SERVFAIL},   /* ESERVFAIL */
	    {4, DNS_A_NXDOMAIN, DNS_R_NONE},   /* ENOTFOUND */
	    {5, DNS_A_TEMP, DNS_R_REFUSED},    /* ENOTIMP */
	    {6, DNS_A_TEMP, DNS_R_REFUSED},    /* EREFUSED */
	    {8, DNS_A_BADNAME, DNS_R_NONE},    /* EBADNAME */
	    {10, DNS_A_TEMP, DNS_R_FORMERR},   /* EBADRESP */
	    {11, DNS_A_TEMP, DNS_R_REFUSED},   /* ECONNREFUSED */
	    {12, DNS_A_TEMP, DNS_R_TIMEOUT},   /* ETIMEOUT */
	    {15, DNS_A_TEMP, DNS_R_LOCAL},     /* ENOMEM */
	    {16, DNS_A_CANCELLED, DNS_R_NONE}, /* EDESTRUCTION */
	    {24, DNS_A_CANCELLED, DNS_R_NONE}, /* ECANCELLED */
	    {13, DNS_A_TEMP, DNS_R_LOCAL},     /* EOF */
	};
	struct dns_answer a;

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		dns_ares_parse(DNS_QT_MX, c[i].code, NULL, 0, 8, &a);
		print_message("ares %d -> %s/%s\n", c[i].code,
			      dns_astatus_str(a.st), dns_reason_str(a.reason));
		assert_int_equal(a.st, c[i].st);
		assert_int_equal(a.reason, c[i].why);
	}
}

/* ---- whole requests -------------------------------------------------- */

static void
test_mx_basic(void **state)
{
	struct dns *d = tnew(NULL);
	struct got g = {0};
	struct dns_req *req = NULL;

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "Example.TEST.", got_cb, &g, &req),
			 0);
	assert_non_null(req);
	assert_int_equal(fake.nsent, 1);
	assert_non_null(fake_find("example.test", DNS_QT_MX));
	answer_mx(d, "example.test", 300,
		  "20 mx2.example.test, 10 mx1.example.test");
	assert_int_equal(g.calls, 0);
	assert_int_equal(fake.nsent, 4); /* A and AAAA of both, at once */
	answer_ip(d, "mx1.example.test", DNS_QT_A, 600, "127.0.0.2");
	answer_st(d, "mx1.example.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	answer_ip(d, "mx2.example.test", DNS_QT_AAAA, 600, "::1");
	assert_int_equal(g.calls, 0);
	answer_ip(d, "mx2.example.test", DNS_QT_A, 120, "127.0.0.3");
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.res->status, DNS_OK);
	assert_string_equal(g.res->domain, "example.test");
	assert_false(g.res->implicit_mx);
	assert_int_equal(g.res->nhosts, 2);
	assert_int_equal(g.res->naddrs, 3);
	assert_hosts(g.res, "mx1.example.test=127.0.0.2;"
			    "mx2.example.test=127.0.0.3|::1");
	assert_int_equal(g.res->hosts[0].pref, 10);
	assert_int_equal(g.res->hosts[1].pref, 20);
	assert_int_equal(g.res->hosts[0].status, DNS_H_OK);
	assert_int_equal(g.res->ttl_ms, 120000);
	got_free(&g);
	assert_int_equal(dns_req_count(d), 0);
	dns_free(d);
}

static void
test_mx_outcomes(void **state)
{
	static const struct {
		enum dns_astatus st;
		enum dns_reason why;
		enum dns_status want;
		enum dns_reason want_why;
		bool perm;
	} c[] = {
	    {DNS_A_NXDOMAIN, 0, DNS_NXDOMAIN, DNS_R_NXDOMAIN, true},
	    {DNS_A_TEMP, DNS_R_TIMEOUT, DNS_TEMPFAIL, DNS_R_TIMEOUT, false},
	    {DNS_A_TEMP, DNS_R_SERVFAIL, DNS_TEMPFAIL, DNS_R_SERVFAIL, false},
	    {DNS_A_TEMP, DNS_R_REFUSED, DNS_TEMPFAIL, DNS_R_REFUSED, false},
	    {DNS_A_BADNAME, 0, DNS_BAD_NAME, DNS_R_NONE, true},
	    {DNS_A_CANCELLED, 0, DNS_CANCELLED, DNS_R_NONE, false},
	};

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		struct dns *d = tnew(NULL);
		struct got g = {0};

		assert_int_equal(dns_resolve_mx(d, "x.test", got_cb, &g, NULL),
				 0);
		answer_st(d, "x.test", DNS_QT_MX, c[i].st, c[i].why);
		assert_int_equal(g.calls, 1);
		assert_int_equal(g.res->status, c[i].want);
		assert_int_equal(g.res->reason, c[i].want_why);
		assert_int_equal(dns_status_permanent(g.res->status),
				 c[i].perm);
		assert_int_equal(g.res->nhosts, 0);
		/* never an A fallback */
		assert_int_equal(fake.nsent, 0);
		assert_int_equal(fake_count("x.test", DNS_QT_A), 0);
		got_free(&g);
		dns_free(d);
	}
}

static void
test_mx_null_and_bad_targets(void **state)
{
	struct dns *d = tnew(NULL);
	struct got g = {0};

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "nullmx.test", got_cb, &g, NULL), 0);
	answer_mx(d, "nullmx.test", 300, "0 .");
	assert_int_equal(g.res->status, DNS_NULL_MX);
	assert_true(dns_status_permanent(DNS_NULL_MX));
	assert_int_equal(fake.nsent, 0);
	/* every target malformed: temporary, counted */
	assert_int_equal(dns_resolve_mx(d, "bad.test", got_cb, &g, NULL), 0);
	answer_mx(d, "bad.test", 300, "10 1.2.3.4, 20 [::1], 30 a_b.test");
	assert_int_equal(g.calls, 2);
	assert_int_equal(g.res->status, DNS_TEMPFAIL);
	assert_int_equal(g.res->reason, DNS_R_BAD_TARGETS);
	assert_int_equal(g.res->skipped, 3);
	assert_int_equal(fake.nsent, 0);
	/* some malformed: skipped and counted, the rest used */
	assert_int_equal(dns_resolve_mx(d, "some.test", got_cb, &g, NULL), 0);
	answer_mx(d, "some.test", 300, "10 1.2.3.4, 20 ok.test");
	answer_ip(d, "ok.test", DNS_QT_A, 300, "127.0.0.7");
	answer_st(d, "ok.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.res->status, DNS_OK);
	assert_int_equal(g.res->skipped, 1);
	assert_hosts(g.res, "ok.test=127.0.0.7");
	got_free(&g);
	/* a bad domain: BAD_NAME through the callback, never synchronous */
	assert_int_equal(dns_resolve_mx(d, "bad..name", got_cb, &g, NULL), 0);
	assert_int_equal(g.calls, 3);
	assert_int_equal(fake.nsent, 0);
	dns_run(d);
	assert_int_equal(g.calls, 4);
	assert_int_equal(g.res->status, DNS_BAD_NAME);
	dns_free(d);
	got_free(&g);
}

static void
test_mx_implicit(void **state)
{
	struct dns *d = tnew(NULL);
	struct got g = {0};

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "nomx.test", got_cb, &g, NULL), 0);
	answer_st(d, "nomx.test", DNS_QT_MX, DNS_A_NODATA, 0);
	answer_ip(d, "nomx.test", DNS_QT_A, 300, "127.0.0.9");
	answer_st(d, "nomx.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.res->status, DNS_OK);
	assert_true(g.res->implicit_mx);
	assert_int_equal(g.res->hosts[0].pref, 0);
	assert_hosts(g.res, "nomx.test=127.0.0.9");
	/* NODATA for MX, A and AAAA: no address, temporary */
	assert_int_equal(dns_resolve_mx(d, "empty.test", got_cb, &g, NULL), 0);
	answer_st(d, "empty.test", DNS_QT_MX, DNS_A_NODATA, 0);
	answer_st(d, "empty.test", DNS_QT_A, DNS_A_NODATA, 0);
	answer_st(d, "empty.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.res->status, DNS_NO_ADDRESSES);
	assert_int_equal(g.res->reason, DNS_R_NODATA);
	assert_false(dns_status_permanent(g.res->status));
	assert_true(g.res->implicit_mx);
	dns_free(d);
	got_free(&g);
}

static void
test_mx_host_failures(void **state)
{
	struct dns *d = tnew(NULL);
	struct got g = {0};

	(void)state;
	/* one host without address, one fine: OK, per-host statuses */
	assert_int_equal(dns_resolve_mx(d, "a.test", got_cb, &g, NULL), 0);
	answer_mx(d, "a.test", 300, "10 gone.a.test, 20 ok.a.test");
	answer_st(d, "gone.a.test", DNS_QT_A, DNS_A_NXDOMAIN, 0);
	answer_st(d, "gone.a.test", DNS_QT_AAAA, DNS_A_NXDOMAIN, 0);
	answer_ip(d, "ok.a.test", DNS_QT_A, 300, "127.0.0.8");
	answer_st(d, "ok.a.test", DNS_QT_AAAA, DNS_A_TEMP, DNS_R_TIMEOUT);
	assert_int_equal(g.res->status, DNS_OK);
	assert_int_equal(g.res->hosts[0].status, DNS_H_NO_ADDRESS);
	assert_int_equal(g.res->hosts[0].reason, DNS_R_NXDOMAIN);
	assert_int_equal(g.res->hosts[1].status, DNS_H_OK);
	assert_hosts(g.res, "gone.a.test=;ok.a.test=127.0.0.8");
	/* no host has an address, none failed temporarily */
	assert_int_equal(dns_resolve_mx(d, "b.test", got_cb, &g, NULL), 0);
	answer_mx(d, "b.test", 300, "10 h1.b.test, 20 h2.b.test");
	answer_st(d, "h1.b.test", DNS_QT_A, DNS_A_NODATA, 0);
	answer_st(d, "h1.b.test", DNS_QT_AAAA, DNS_A_NXDOMAIN, 0);
	answer_st(d, "h2.b.test", DNS_QT_A, DNS_A_NXDOMAIN, 0);
	answer_st(d, "h2.b.test", DNS_QT_AAAA, DNS_A_NXDOMAIN, 0);
	assert_int_equal(g.res->status, DNS_NO_ADDRESSES);
	assert_int_equal(g.res->hosts[0].reason, DNS_R_NODATA);
	assert_int_equal(g.res->hosts[1].reason, DNS_R_NXDOMAIN);
	/* one temporary failure among them: TEMPFAIL with its reason */
	assert_int_equal(dns_resolve_mx(d, "c.test", got_cb, &g, NULL), 0);
	answer_mx(d, "c.test", 300, "10 h1.c.test, 20 h2.c.test");
	answer_st(d, "h1.c.test", DNS_QT_A, DNS_A_NODATA, 0);
	answer_st(d, "h1.c.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	answer_st(d, "h2.c.test", DNS_QT_A, DNS_A_TEMP, DNS_R_SERVFAIL);
	answer_st(d, "h2.c.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.res->status, DNS_TEMPFAIL);
	assert_int_equal(g.res->reason, DNS_R_SERVFAIL);
	assert_int_equal(g.res->hosts[1].status, DNS_H_TEMPFAIL);
	assert_int_equal(g.calls, 3);
	dns_free(d);
	got_free(&g);
}

static void
test_mx_caps(void **state)
{
	struct dns_opts o;
	struct dns *d;
	struct got g = {0};

	(void)state;
	dns_opts_init(&o);
	o.seed = 1;
	o.max_mx_hosts = 3;
	o.max_addresses = 3;
	d = tnew(&o);
	assert_int_equal(dns_resolve_mx(d, "big.test", got_cb, &g, NULL), 0);
	answer_mx(d, "big.test", 300,
		  "40 h4.test, 10 h1.test, 30 h3.test, 20 h2.test");
	assert_int_equal(fake.nsent, 6); /* h1..h3, A and AAAA */
	assert_null(fake_find("h4.test", DNS_QT_A));
	answer_ip(d, "h1.test", DNS_QT_A, 300, "127.0.1.1 127.0.1.2");
	answer_st(d, "h1.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	answer_ip(d, "h2.test", DNS_QT_A, 300, "127.0.2.1 127.0.2.2");
	answer_st(d, "h2.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	answer_ip(d, "h3.test", DNS_QT_A, 300, "127.0.3.1");
	answer_st(d, "h3.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.res->status, DNS_OK);
	assert_int_equal(g.res->truncated, 1);
	assert_int_equal(g.res->nhosts, 3);
	assert_int_equal(g.res->naddrs, 3);
	assert_int_equal(g.res->hosts[0].naddrs, 2);
	assert_int_equal(g.res->hosts[1].naddrs, 1);
	assert_int_equal(g.res->hosts[2].status, DNS_H_OVER_LIMIT);
	assert_int_equal(g.res->hosts[2].naddrs, 0);
	dns_free(d);
	got_free(&g);
}

static void
test_mx_shuffle_flow(void **state)
{
	struct dns *d = tnew(NULL);
	struct got g = {0};
	unsigned a_first = 0;

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "eq.test", got_cb, &g, NULL), 0);
	answer_mx(d, "eq.test", 3600,
		  "10 a.eq.test, 10 b.eq.test, 5 z.eq.test");
	answer_ip(d, "a.eq.test", DNS_QT_A, 3600, "127.0.0.10");
	answer_ip(d, "b.eq.test", DNS_QT_A, 3600, "127.0.0.11");
	answer_ip(d, "z.eq.test", DNS_QT_A, 3600, "127.0.0.12");
	answer_st(d, "a.eq.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	answer_st(d, "b.eq.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	answer_st(d, "z.eq.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	/* 400 more, all from the cache */
	for (int i = 0; i < 400; i++) {
		assert_int_equal(g.res->status, DNS_OK);
		assert_string_equal(g.res->hosts[0].name, "z.eq.test");
		a_first += g.res->hosts[1].name[0] == 'a';
		assert_int_equal(dns_resolve_mx(d, "eq.test", got_cb, &g, NULL),
				 0);
		dns_run(d);
	}
	assert_int_equal(fake.nsent, 0);
	assert_in_range(a_first, 150, 250);
	dns_free(d);
	got_free(&g);
}

static void
test_cache_ttl(void **state)
{
	struct dns_opts o;
	struct dns *d;
	struct got g = {0};
	const int64_t s = 1000000000;

	(void)state;
	dns_opts_init(&o);
	o.seed = 3;
	o.min_ttl_ms = 60000;
	o.max_ttl_ms = 3600000;
	o.negative_ttl_ms = 10000;
	d = tnew(&o);
	/* TTL 1 s is raised to the 60 s floor */
	assert_int_equal(
	    dns_resolve_host(d, "short.test", 25, got_cb, &g, NULL), 0);
	answer_ip(d, "short.test", DNS_QT_A, 1, "127.0.0.1");
	answer_st(d, "short.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.res->ttl_ms, 10000); /* the NODATA one: 10 s */
	d->fake_now += 9 * s;
	assert_int_equal(
	    dns_resolve_host(d, "short.test", 25, got_cb, &g, NULL), 0);
	assert_int_equal(fake.nsent, 0); /* both cached */
	dns_run(d);
	assert_int_equal(g.calls, 2);
	d->fake_now += 2 * s; /* 11 s: AAAA (negative) expired, A not */
	assert_int_equal(
	    dns_resolve_host(d, "short.test", 25, got_cb, &g, NULL), 0);
	assert_int_equal(fake.nsent, 1);
	assert_non_null(fake_find("short.test", DNS_QT_AAAA));
	answer_st(d, "short.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.calls, 3);
	d->fake_now += 48 * s; /* 59 s: the A is still there (floor) */
	assert_int_equal(
	    dns_resolve_host(d, "short.test", 25, got_cb, &g, NULL), 0);
	assert_null(fake_find("short.test", DNS_QT_A));
	assert_non_null(fake_find("short.test", DNS_QT_AAAA));
	answer_st(d, "short.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	d->fake_now += 2 * s; /* 61 s: the A expired */
	assert_int_equal(
	    dns_resolve_host(d, "short.test", 25, got_cb, &g, NULL), 0);
	assert_non_null(fake_find("short.test", DNS_QT_A));
	assert_null(fake_find("short.test", DNS_QT_AAAA));
	answer_ip(d, "short.test", DNS_QT_A, 1, "127.0.0.1");
	assert_int_equal(g.calls, 5);
	/* TTL 1 day is cut to the 1 h ceiling */
	assert_int_equal(dns_resolve_mx(d, "long.test", got_cb, &g, NULL), 0);
	answer_mx(d, "long.test", 86400, "10 short.test");
	assert_int_equal(g.calls, 6); /* both host answers cached */
	d->fake_now += 3599 * s;
	assert_int_equal(dns_resolve_mx(d, "long.test", got_cb, &g, NULL), 0);
	assert_null(fake_find("long.test", DNS_QT_MX));
	d->fake_now += 2 * s;
	assert_int_equal(dns_resolve_mx(d, "long.test", got_cb, &g, NULL), 0);
	assert_non_null(fake_find("long.test", DNS_QT_MX));
	/* temporary failures are never cached */
	answer_st(d, "long.test", DNS_QT_MX, DNS_A_TEMP, DNS_R_TIMEOUT);
	dns_run(d);
	assert_int_equal(dns_resolve_mx(d, "long.test", got_cb, &g, NULL), 0);
	assert_non_null(fake_find("long.test", DNS_QT_MX));
	answer_st(d, "long.test", DNS_QT_MX, DNS_A_NXDOMAIN, 0);
	/* NXDOMAIN is, for negative_ttl */
	assert_int_equal(dns_resolve_mx(d, "long.test", got_cb, &g, NULL), 0);
	assert_null(fake_find("long.test", DNS_QT_MX));
	dns_run(d);
	assert_int_equal(g.res->status, DNS_NXDOMAIN);
	assert_true(dns_stats(d)->hits > 0);
	assert_true(dns_stats(d)->failures == 1);
	dns_free(d);
	got_free(&g);
}

static void
test_cache_lru(void **state)
{
	struct dns_opts o;
	struct dns *d;
	struct got g = {0};
	static const char *const names[] = {"a.test", "b.test", "c.test"};

	(void)state;
	dns_opts_init(&o);
	o.seed = 4;
	o.cache_size = 2;
	o.family = DNS_FAM_IPV4;
	d = tnew(&o);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    dns_resolve_host(d, names[i], 25, got_cb, &g, NULL), 0);
		answer_ip(d, names[i], DNS_QT_A, 300, "127.0.0.1");
	}
	assert_int_equal(dns_stats(d)->entries, 2);
	/* touch a, then add c: b (least recently used) goes */
	assert_int_equal(dns_resolve_host(d, "a.test", 25, got_cb, &g, NULL),
			 0);
	assert_int_equal(dns_resolve_host(d, "c.test", 25, got_cb, &g, NULL),
			 0);
	answer_ip(d, "c.test", DNS_QT_A, 300, "127.0.0.1");
	assert_int_equal(dns_stats(d)->entries, 2);
	assert_int_equal(dns_stats(d)->evictions, 1);
	assert_int_equal(dns_resolve_host(d, "a.test", 25, got_cb, &g, NULL),
			 0);
	assert_null(fake_find("a.test", DNS_QT_A));
	assert_int_equal(dns_resolve_host(d, "b.test", 25, got_cb, &g, NULL),
			 0);
	assert_non_null(fake_find("b.test", DNS_QT_A));
	answer_ip(d, "b.test", DNS_QT_A, 300, "127.0.0.1");
	/* cache off: every lookup is a query */
	dns_free(d);
	got_free(&g);
	o.cache_size = 0;
	d = tnew(&o);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    dns_resolve_host(d, "a.test", 25, got_cb, &g, NULL), 0);
		answer_ip(d, "a.test", DNS_QT_A, 300, "127.0.0.1");
	}
	assert_int_equal(dns_stats(d)->queries, 2);
	assert_int_equal(dns_stats(d)->entries, 0);
	dns_free(d);
	got_free(&g);
}

static void
test_coalesce(void **state)
{
	struct dns *d = tnew(NULL);
	struct got g1 = {0}, g2 = {0}, g3 = {0};

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "co.test", got_cb, &g1, NULL), 0);
	assert_int_equal(dns_resolve_mx(d, "CO.test.", got_cb, &g2, NULL), 0);
	assert_int_equal(fake.nsent, 1);
	answer_mx(d, "co.test", 300, "10 mx.co.test");
	/* both requests now wait on the same two host queries */
	assert_int_equal(fake.nsent, 2);
	/* a third for the relay host joins the A/AAAA in flight */
	assert_int_equal(
	    dns_resolve_host(d, "mx.co.test", 2525, got_cb, &g3, NULL), 0);
	assert_int_equal(fake.nsent, 2);
	answer_ip(d, "mx.co.test", DNS_QT_A, 300, "127.0.0.4");
	answer_ip(d, "mx.co.test", DNS_QT_AAAA, 300, "::1");
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g2.calls, 1);
	assert_int_equal(g3.calls, 1);
	assert_hosts(g1.res, "mx.co.test=127.0.0.4|::1");
	assert_hosts(g2.res, "mx.co.test=127.0.0.4|::1");
	assert_int_equal(
	    ntohs(((struct sockaddr_in *)&g3.res->hosts[0].addrs[0])->sin_port),
	    2525);
	assert_int_equal(dns_stats(d)->queries, 3);
	/* g2: MX, A, AAAA; g3: A, AAAA */
	assert_int_equal(dns_stats(d)->coalesced, 5);
	got_free(&g1);
	got_free(&g2);
	got_free(&g3);
	dns_free(d);
}

static void
test_cancel(void **state)
{
	struct dns *d = tnew(NULL);
	struct got g1 = {0}, g2 = {0};
	struct dns_req *r1, *r2;

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "k.test", got_cb, &g1, &r1), 0);
	assert_int_equal(dns_resolve_mx(d, "k.test", got_cb, &g2, &r2), 0);
	dns_cancel(r1);
	answer_mx(d, "k.test", 300, "10 mx.k.test");
	dns_cancel(r2); /* while waiting for host answers */
	assert_int_equal(dns_req_count(d), 0);
	answer_ip(d, "mx.k.test", DNS_QT_A, 300, "127.0.0.4");
	answer_st(d, "mx.k.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g1.calls + g2.calls, 0);
	/* the answers still filled the cache */
	assert_int_equal(dns_resolve_mx(d, "k.test", got_cb, &g1, &r1), 0);
	assert_int_equal(fake.nsent, 0);
	/* finished (on the ready list) then cancelled: never called */
	dns_cancel(r1);
	dns_run(d);
	assert_int_equal(g1.calls, 0);
	assert_int_equal(dns_req_count(d), 0);
	dns_cancel(NULL);
	dns_free(d);
}

struct freeing {
	struct dns *d;
	unsigned calls;
	int again;
	enum dns_status st;
};

static void
freeing_cb(void *arg, struct dns_mx_result *res)
{
	struct freeing *f = arg;

	f->calls++;
	f->st = res->status;
	f->again = dns_resolve_mx(f->d, "late.test", freeing_cb, f, NULL);
	dns_mx_result_free(res);
}

static void
test_free_pending(void **state)
{
	struct dns *d = tnew(NULL);
	struct freeing f1 = {.d = d}, f2 = {.d = d}, f3 = {.d = d};

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "p.test", freeing_cb, &f1, NULL), 0);
	assert_int_equal(dns_resolve_mx(d, "q.test", freeing_cb, &f2, NULL), 0);
	answer_mx(d, "q.test", 300, "10 mx.q.test");
	/* finished but not delivered yet */
	assert_int_equal(dns_resolve_mx(d, "bad..x", freeing_cb, &f3, NULL), 0);
	dns_free(d);
	assert_int_equal(f1.calls, 1);
	assert_int_equal(f1.st, DNS_CANCELLED);
	assert_int_equal(f1.again, -ESHUTDOWN);
	assert_int_equal(f2.calls, 1);
	assert_int_equal(f2.st, DNS_CANCELLED);
	assert_int_equal(f3.calls, 1);
	assert_int_equal(f3.st, DNS_BAD_NAME);
	assert_int_equal(f3.again, -ESHUTDOWN);
}

static void
test_host(void **state)
{
	struct dns *d = tnew(NULL);
	struct got g = {0};
	struct sockaddr_in6 *sin6;

	(void)state;
	assert_int_equal(
	    dns_resolve_host(d, "127.0.0.5", 2525, got_cb, &g, NULL), 0);
	assert_int_equal(fake.nsent, 0);
	dns_run(d);
	assert_int_equal(g.res->status, DNS_OK);
	assert_hosts(g.res, "127.0.0.5=127.0.0.5");
	assert_int_equal(
	    ntohs(((struct sockaddr_in *)&g.res->hosts[0].addrs[0])->sin_port),
	    2525);
	assert_int_equal(dns_resolve_host(d, "[::1]", 26, got_cb, &g, NULL), 0);
	dns_run(d);
	assert_hosts(g.res, "::1=::1");
	sin6 = (struct sockaddr_in6 *)&g.res->hosts[0].addrs[0];
	assert_int_equal(ntohs(sin6->sin6_port), 26);
	assert_int_equal(dns_resolve_host(d, "0.0.0.0", 25, got_cb, &g, NULL),
			 0);
	dns_run(d);
	assert_int_equal(g.res->status, DNS_NO_ADDRESSES);
	assert_int_equal(
	    dns_resolve_host(d, "relay.test", 25, got_cb, &g, NULL), 0);
	answer_st(d, "relay.test", DNS_QT_A, DNS_A_NXDOMAIN, 0);
	answer_st(d, "relay.test", DNS_QT_AAAA, DNS_A_NXDOMAIN, 0);
	/* a relay that does not exist is a deferral, not a bounce */
	assert_int_equal(g.res->status, DNS_NO_ADDRESSES);
	assert_int_equal(g.res->reason, DNS_R_NXDOMAIN);
	assert_int_equal(dns_resolve_host(d, "bad name", 25, got_cb, &g, NULL),
			 0);
	dns_run(d);
	assert_int_equal(g.res->status, DNS_BAD_NAME);
	assert_int_equal(g.calls, 5);
	dns_free(d);
	got_free(&g);
}

static void
test_family(void **state)
{
	struct dns_opts o;
	struct dns *d;
	struct got g = {0};

	(void)state;
	dns_opts_init(&o);
	o.seed = 5;
	o.family = DNS_FAM_IPV6;
	d = tnew(&o);
	assert_int_equal(dns_resolve_host(d, "six.test", 25, got_cb, &g, NULL),
			 0);
	assert_int_equal(fake.nsent, 1);
	assert_non_null(fake_find("six.test", DNS_QT_AAAA));
	answer_ip(d, "six.test", DNS_QT_AAAA, 60, "::1 2001:db8::1");
	assert_int_equal(g.res->naddrs, 2);
	dns_free(d);
	got_free(&g);
}

static bool
keep_loopback(void *arg, const struct sockaddr *sa)
{
	(*(unsigned *)arg)++;
	if (sa->sa_family == AF_INET)
		return ((const uint8_t *)&((const struct sockaddr_in *)sa)
			    ->sin_addr)[0] == 127;
	return IN6_IS_ADDR_LOOPBACK(
	    &((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static void
test_filter_and_port(void **state)
{
	struct dns *d = tnew(NULL);
	struct got g = {0};
	unsigned seen = 0;

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "f.test", got_cb, &g, NULL), 0);
	answer_mx(d, "f.test", 300, "10 out.f.test, 20 in.f.test");
	answer_ip(d, "out.f.test", DNS_QT_A, 300, "192.0.2.1 198.51.100.1");
	answer_ip(d, "out.f.test", DNS_QT_AAAA, 300, "2001:db8::1");
	answer_ip(d, "in.f.test", DNS_QT_A, 300, "10.1.1.1 127.0.0.3");
	answer_ip(d, "in.f.test", DNS_QT_AAAA, 300, "::1");
	assert_int_equal(g.res->naddrs, 6);
	assert_int_equal(dns_mx_result_filter(g.res, keep_loopback, &seen), 2);
	assert_int_equal(seen, 6);
	assert_int_equal(g.res->status, DNS_OK);
	assert_int_equal(g.res->filtered, 4);
	assert_int_equal(g.res->hosts[0].status, DNS_H_FILTERED);
	assert_hosts(g.res, "out.f.test=;in.f.test=127.0.0.3|::1");
	dns_mx_result_set_port(g.res, 2526);
	assert_int_equal(
	    ntohs(((struct sockaddr_in *)&g.res->hosts[1].addrs[0])->sin_port),
	    2526);
	assert_int_equal(
	    ntohs(
		((struct sockaddr_in6 *)&g.res->hosts[1].addrs[1])->sin6_port),
	    2526);
	/* nothing left: NO_ADDRESSES, reason FILTERED */
	g.res->hosts[1].addrs[0] = g.res->hosts[0].addrs[0];
	memset(&g.res->hosts[1].addrs[1], 0, sizeof(struct sockaddr_storage));
	g.res->hosts[1].addrs[1].ss_family = AF_INET;
	assert_int_equal(dns_mx_result_filter(g.res, keep_loopback, &seen), 0);
	assert_int_equal(g.res->status, DNS_NO_ADDRESSES);
	assert_int_equal(g.res->reason, DNS_R_FILTERED);
	dns_free(d);
	got_free(&g);
}

static void
test_strings_and_opts(void **state)
{
	struct dns_opts o;
	int err = 0;

	(void)state;
	for (int i = 0; i < DNS__COUNT; i++)
		assert_string_not_equal(dns_status_str((enum dns_status)i),
					"?");
	assert_string_equal(dns_status_str(DNS__COUNT), "?");
	for (int i = 0; i < DNS_R__COUNT; i++)
		assert_string_not_equal(dns_reason_str((enum dns_reason)i),
					"?");
	assert_string_equal(dns_reason_str(DNS_R__COUNT), "?");
	for (int i = 0; i < DNS_H__COUNT; i++)
		assert_string_not_equal(
		    dns_host_status_str((enum dns_host_status)i), "?");
	assert_string_equal(dns_host_status_str(DNS_H__COUNT), "?");
	assert_string_equal(dns_qtype_str(DNS_QT_AAAA), "AAAA");
	assert_int_equal(dns_qtype_wire(DNS_QT_MX), 15);
	/* bad options */
	dns_opts_init(&o);
	o.min_ttl_ms = o.max_ttl_ms + 1;
	assert_null(dns_alloc(NULL, &o, &fake_be, &err));
	assert_int_equal(err, -EINVAL);
	dns_opts_init(&o);
	o.tries = 0;
	assert_null(dns_alloc(NULL, &o, &fake_be, &err));
	dns_opts_init(&o);
	o.max_mx_hosts = 0;
	assert_null(dns_alloc(NULL, &o, &fake_be, &err));
	dns_opts_init(&o);
	assert_null(dns_new(NULL, &o, &err)); /* a ring is required */
	assert_int_equal(err, -EINVAL);
	dns_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_normalize),
	    cmocka_unit_test(test_set_mx),
	    cmocka_unit_test(test_set_mx_cap),
	    cmocka_unit_test(test_add_ip),
	    cmocka_unit_test(test_shuffle),
	    cmocka_unit_test(test_wire_scan),
	    cmocka_unit_test(test_ares_parse),
	    cmocka_unit_test(test_ares_status),
	    cmocka_unit_test(test_mx_basic),
	    cmocka_unit_test(test_mx_outcomes),
	    cmocka_unit_test(test_mx_null_and_bad_targets),
	    cmocka_unit_test(test_mx_implicit),
	    cmocka_unit_test(test_mx_host_failures),
	    cmocka_unit_test(test_mx_caps),
	    cmocka_unit_test(test_mx_shuffle_flow),
	    cmocka_unit_test(test_cache_ttl),
	    cmocka_unit_test(test_cache_lru),
	    cmocka_unit_test(test_coalesce),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_free_pending),
	    cmocka_unit_test(test_host),
	    cmocka_unit_test(test_family),
	    cmocka_unit_test(test_filter_and_port),
	    cmocka_unit_test(test_strings_and_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
