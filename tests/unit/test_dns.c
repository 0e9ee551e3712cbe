/* SPDX-License-Identifier: MIT */
/*
 * test_dns.c: the resolver's pure parts, without a network: names, MX
 * target checks, sorting and shuffling, the wire walker, and c-ares answer
 * translation on hand-built packets.  Whole requests through the fake
 * backend are test_dns_route.c (MX routing outcomes) and test_dns_cache.c
 * (cache, coalescing, cancel, hosts); the real c-ares on the real ring is
 * test_dns_servers.c and tests/integration/test_dns.sh.
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
#include "dns_fixture.h"
#include "dns_int.h"

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
	dfx_ans_mx(&a, 60, "0 ");
	assert_true(a.null_mx);
	assert_int_equal(a.n, 0);
	dns_answer_fini(&a);
	dfx_ans_mx(&a, 60, "0 .");
	assert_true(a.null_mx);
	dns_answer_fini(&a);
	/* null MX among others: the root target is skipped, the rest used */
	dfx_ans_mx(&a, 60, "0 ., 10 mx.b.test");
	assert_false(a.null_mx);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.skipped, 1);
	assert_string_equal(a.mx[0].host, "mx.b.test");
	dns_answer_fini(&a);
	/* "10 ." alone is not RFC 7505's null MX: malformed */
	dfx_ans_mx(&a, 60, "10 .");
	assert_false(a.null_mx);
	assert_int_equal(a.n, 0);
	assert_int_equal(a.skipped, 1);
	dns_answer_fini(&a);
	/* malformed targets skipped, the rest sorted, duplicates merged */
	dfx_ans_mx(&a, 60,
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
