/* SPDX-License-Identifier: MIT */
/*
 * test_dns_rcode: dns_note_reply() and dns_rcode_reason() (dns_rcode.c)
 * on a resolver with a backend that never answers, so lookups stay
 * pending.  Table-driven replies: SERVFAIL, NOTIMP and REFUSED mark the
 * pending node of their question (name in any case, type MX/A/AAAA);
 * NOERROR, NXDOMAIN, queries (QR clear), two questions, compressed or
 * truncated names, unknown types and names nobody asked for mark nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "dns_int.h"

static void
never_send(struct dns *d, struct dns_node *n)
{
	(void)d;
	(void)n;
}

static const struct dns_backend never_be = {.send = never_send};

static void
on_res(void *arg, struct dns_mx_result *res)
{
	(void)arg;
	dns_mx_result_free(res);
}

/*
 * A reply: header (id 7, flags, rcode, qdcount) then the question, name
 * given as "len:label..." bytes in wire form by the caller.  Returns the
 * length.
 */
static size_t
reply(uint8_t *out, uint8_t flags2, uint8_t rcode, uint8_t qd,
      const uint8_t *qname, size_t qlen, uint16_t qtype)
{
	size_t n = 0;
	const uint8_t hdr[12] = {
	    0, 7, flags2, (uint8_t)(0x80 | rcode), 0, qd, 0, 0, 0, 0, 0, 0};

	memcpy(out, hdr, sizeof(hdr));
	n = sizeof(hdr);
	memcpy(out + n, qname, qlen);
	n += qlen;
	out[n++] = (uint8_t)(qtype >> 8);
	out[n++] = (uint8_t)qtype;
	out[n++] = 0;
	out[n++] = 1; /* class IN */
	return n;
}

#define NAME_EX  "\7example\4test"      /* example.test, pending MX */
#define NAME_UP  "\7ExAmPlE\4TEST"      /* the same, other case */
#define NAME_MX1 "\3mx1\7example\4test" /* pending A (a relay host) */

static void
test_note_reply(void **state)
{
	static const struct {
		const char *what;
		uint8_t flags2, rcode, qd;
		const char *qname;
		size_t qlen; /* 0: strlen(qname) + 1 */
		uint16_t qtype;
		size_t cut; /* drop this many bytes from the end */
		int marked;
		const char *node; /* the node marked (or looked at) */
		enum dns_qtype t;
	} cases[] = {
	    {"servfail mx", 0x81, 2, 1, NAME_EX, 0, 15, 0, 1, "example.test",
	     DNS_QT_MX},
	    {"refused mx", 0x81, 5, 1, NAME_EX, 0, 15, 0, 1, "example.test",
	     DNS_QT_MX},
	    {"notimp mx", 0x81, 4, 1, NAME_EX, 0, 15, 0, 1, "example.test",
	     DNS_QT_MX},
	    {"servfail, upper case", 0x81, 2, 1, NAME_UP, 0, 15, 0, 1,
	     "example.test", DNS_QT_MX},
	    {"servfail a", 0x81, 2, 1, NAME_MX1, 0, 1, 0, 1, "mx1.example.test",
	     DNS_QT_A},
	    {"servfail aaaa", 0x81, 2, 1, NAME_MX1, 0, 28, 0, 1,
	     "mx1.example.test", DNS_QT_AAAA},
	    {"noerror", 0x81, 0, 1, NAME_EX, 0, 15, 0, 0, "example.test",
	     DNS_QT_MX},
	    {"nxdomain", 0x81, 3, 1, NAME_EX, 0, 15, 0, 0, "example.test",
	     DNS_QT_MX},
	    {"a query, not a reply", 0x01, 2, 1, NAME_EX, 0, 15, 0, 0,
	     "example.test", DNS_QT_MX},
	    {"two questions", 0x81, 2, 2, NAME_EX, 0, 15, 0, 0, "example.test",
	     DNS_QT_MX},
	    {"no question", 0x81, 2, 0, NAME_EX, 0, 15, 0, 0, "example.test",
	     DNS_QT_MX},
	    {"type not asked (a of example.test)", 0x81, 2, 1, NAME_EX, 0, 1, 0,
	     0, "example.test", DNS_QT_A},
	    {"unknown type", 0x81, 2, 1, NAME_EX, 0, 16, 0, 0, "example.test",
	     DNS_QT_MX},
	    {"name nobody asked", 0x81, 2, 1, "\5other\4test", 0, 15, 0, 0,
	     "other.test", DNS_QT_MX},
	    {"compressed name", 0x81, 2, 1, "\xc0\x0c", 2, 15, 0, 0,
	     "example.test", DNS_QT_MX},
	    {"root name", 0x81, 2, 1, "", 1, 15, 0, 0, "example.test",
	     DNS_QT_MX},
	    {"type cut off", 0x81, 2, 1, NAME_EX, 0, 15, 3, 0, "example.test",
	     DNS_QT_MX},
	    {"name cut off", 0x81, 2, 1, NAME_EX, 0, 15, 10, 0, "example.test",
	     DNS_QT_MX},
	    {"label past the end", 0x81, 2, 1, "\77ab", 3, 15, 0, 0,
	     "example.test", DNS_QT_MX},
	};
	struct dns_opts o;
	struct dns *d;
	int err = 0;

	(void)state;
	dns_opts_init(&o);
	o.seed = 1;
	d = dns_alloc(NULL, &o, &never_be, &err);
	assert_non_null(d);
	assert_int_equal(dns_resolve_mx(d, "example.test", on_res, NULL, NULL),
			 0);
	assert_int_equal(
	    dns_resolve_host(d, "mx1.example.test", 25, on_res, NULL, NULL), 0);
	for (size_t i = 0; i < nitems(cases); i++) {
		uint8_t buf[512];
		size_t qlen =
		    cases[i].qlen ? cases[i].qlen : strlen(cases[i].qname) + 1;
		size_t n = reply(buf, cases[i].flags2, cases[i].rcode,
				 cases[i].qd, (const uint8_t *)cases[i].qname,
				 qlen, cases[i].qtype);
		struct dns_node *node =
		    dns_node_pending(d, cases[i].node, cases[i].t);
		int got;

		if (node != NULL)
			node->bad_rcode = 0;
		got = dns_note_reply(d, buf, n - cases[i].cut);
		if (got != cases[i].marked)
			fail_msg("%s: marked %d, want %d", cases[i].what, got,
				 cases[i].marked);
		if (cases[i].marked) {
			assert_non_null(node);
			assert_int_equal(node->bad_rcode, cases[i].rcode);
		} else if (node != NULL) {
			assert_int_equal(node->bad_rcode, 0);
		}
	}
	/* shorter than a header */
	assert_int_equal(dns_note_reply(d, (const uint8_t *)"\0\7\x81\x82", 4),
			 0);
	dns_free(d); /* the pending lookups end cancelled */
}

static void
test_rcode_reason(void **state)
{
	(void)state;
	assert_int_equal(dns_rcode_reason(DNS_RCODE_SERVFAIL), DNS_R_SERVFAIL);
	assert_int_equal(dns_rcode_reason(DNS_RCODE_NOTIMP), DNS_R_REFUSED);
	assert_int_equal(dns_rcode_reason(DNS_RCODE_REFUSED), DNS_R_REFUSED);
	assert_int_equal(dns_rcode_reason(0), DNS_R_NONE);
	assert_int_equal(dns_rcode_reason(3), DNS_R_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_note_reply),
	    cmocka_unit_test(test_rcode_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
