/* SPDX-License-Identifier: MIT */
/*
 * test_dns_rcode: dns_note_reply() and dns_rcode_reason() (dns_rcode.c)
 * on a resolver with a backend that never answers, so lookups stay
 * pending.  Table-driven replies: SERVFAIL, NOTIMP and REFUSED mark the
 * pending node of their question (name in any case, type MX/A/AAAA);
 * NOERROR, NXDOMAIN, queries (QR clear), two questions, compressed or
 * truncated names, unknown types and names nobody asked for mark nothing.
 * dns_note_query() clears the RCODE of a query's node; TCP streams of
 * replies and queries (dns_tcp_read/write) cut anywhere.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

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

/* A resolver with example.test (MX) and mx1.example.test (A, AAAA)
 * pending. */
static struct dns *
pending_dns(void)
{
	struct dns_opts o;
	struct dns *d;
	int err = 0;

	dns_opts_init(&o);
	o.seed = 1;
	d = dns_alloc(NULL, &o, &never_be, &err);
	assert_non_null(d);
	assert_int_equal(dns_resolve_mx(d, "example.test", on_res, NULL, NULL),
			 0);
	assert_int_equal(
	    dns_resolve_host(d, "mx1.example.test", 25, on_res, NULL, NULL), 0);
	return d;
}

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
	struct dns *d = pending_dns();

	(void)state;
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

/* A query c-ares sends clears its node's RCODE: nothing else does. */
static void
test_note_query(void **state)
{
	static const struct {
		const char *what;
		uint8_t flags2, qd;
		const char *qname;
		uint16_t qtype;
		size_t cut;
		int cleared;
	} cases[] = {
	    {"query mx", 0x01, 1, NAME_EX, 15, 0, 1},
	    {"query, upper case", 0x01, 1, NAME_UP, 15, 0, 1},
	    {"a reply, not a query", 0x81, 1, NAME_EX, 15, 0, 0},
	    {"two questions", 0x01, 2, NAME_EX, 15, 0, 0},
	    {"type not asked", 0x01, 1, NAME_EX, 1, 0, 0},
	    {"type cut off", 0x01, 1, NAME_EX, 15, 3, 0},
	    {"header only", 0x01, 1, NAME_EX, 15, 18, 0},
	};
	struct dns *d = pending_dns();
	struct dns_node *mx = dns_node_pending(d, "example.test", DNS_QT_MX);

	(void)state;
	assert_non_null(mx);
	for (size_t i = 0; i < nitems(cases); i++) {
		uint8_t buf[512];
		size_t n = reply(buf, cases[i].flags2, 0, cases[i].qd,
				 (const uint8_t *)cases[i].qname,
				 strlen(cases[i].qname) + 1, cases[i].qtype);
		int got;

		mx->bad_rcode = DNS_RCODE_SERVFAIL;
		got = dns_note_query(d, buf, n - cases[i].cut);
		if (got != cases[i].cleared)
			fail_msg("%s: cleared %d, want %d", cases[i].what, got,
				 cases[i].cleared);
		assert_int_equal(mx->bad_rcode, got ? 0 : DNS_RCODE_SERVFAIL);
	}
	dns_free(d);
}

/* Append msg[n] behind its 2-byte length to out at *at. */
static void
framed(uint8_t *out, size_t *at, const uint8_t *msg, size_t n)
{
	out[(*at)++] = (uint8_t)(n >> 8);
	out[(*at)++] = (uint8_t)n;
	memcpy(out + *at, msg, n);
	*at += n;
}

/*
 * A TCP stream of replies, cut at every place into two reads, and read a
 * byte at a time: the same two marks each way.  An empty message, and a
 * reply longer than the head kept (padding behind the question), too.
 */
static void
test_tcp_read(void **state)
{
	uint8_t stream[1024], msg[600];
	size_t len = 0, n;
	struct dns *d = pending_dns();
	struct dns_node *mx = dns_node_pending(d, "example.test", DNS_QT_MX);
	struct dns_node *a = dns_node_pending(d, "mx1.example.test", DNS_QT_A);
	struct dns_tcp_stream st;

	(void)state;
	n = reply(msg, 0x81, 2, 1, (const uint8_t *)NAME_EX, sizeof(NAME_EX),
		  15);
	framed(stream, &len, msg, n);
	framed(stream, &len, msg, 0); /* an empty message */
	n = reply(msg, 0x81, 5, 1, (const uint8_t *)NAME_MX1, sizeof(NAME_MX1),
		  1);
	memset(msg + n, 0, 400); /* longer than DNS_MSG_HEAD */
	framed(stream, &len, msg, n + 400);
	assert_true(n + 400 > DNS_MSG_HEAD);
	for (size_t cut = 0; cut <= len; cut++) {
		int marks;

		mx->bad_rcode = a->bad_rcode = 0;
		memset(&st, 0, sizeof(st));
		marks = dns_tcp_read(d, &st, stream, cut);
		marks += dns_tcp_read(d, &st, stream + cut, len - cut);
		if (marks != 2 || mx->bad_rcode != 2 || a->bad_rcode != 5)
			fail_msg("cut at %zu: %d marks, mx %u, a %u", cut,
				 marks, mx->bad_rcode, a->bad_rcode);
		assert_int_equal(st.nlen, 0);
	}
	mx->bad_rcode = a->bad_rcode = 0;
	dns_tcp_reset(&st);
	/* a mark at the last byte of each reply: the MX one is at
	 * 2 + (12 + name + 4) - 1, the A one ends the stream */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(dns_tcp_read(d, &st, stream + i, 1),
				 i == 1 + sizeof(NAME_EX) + 16 || i == len - 1);
	assert_int_equal(mx->bad_rcode, 2);
	assert_int_equal(a->bad_rcode, 5);
	/* half a reply marks nothing yet */
	mx->bad_rcode = 0;
	dns_tcp_reset(&st);
	assert_int_equal(dns_tcp_read(d, &st, stream, 10), 0);
	assert_int_equal(mx->bad_rcode, 0);
	dns_free(d);
}

/*
 * c-ares writes queries, each behind its length, possibly cut by a short
 * write: every query a write tries is a new try (even when the write
 * fails), and the stream moves by the bytes sent only.
 */
static void
test_tcp_write(void **state)
{
	uint8_t q1[300], q2[300];
	size_t n1 = 0, n2 = 0;
	struct dns *d = pending_dns();
	struct dns_node *mx = dns_node_pending(d, "example.test", DNS_QT_MX);
	struct dns_node *a = dns_node_pending(d, "mx1.example.test", DNS_QT_A);
	struct dns_tcp_stream st = {0};
	uint8_t msg[300];
	size_t n;
	struct iovec iov[2];

	(void)state;
	n = reply(msg, 0x01, 0, 1, (const uint8_t *)NAME_EX, sizeof(NAME_EX),
		  15);
	framed(q1, &n1, msg, n);
	n = reply(msg, 0x01, 0, 1, (const uint8_t *)NAME_MX1, sizeof(NAME_MX1),
		  1);
	framed(q2, &n2, msg, n);
	iov[0] = (struct iovec){.iov_base = q1, .iov_len = n1};
	iov[1] = (struct iovec){.iov_base = q2, .iov_len = n2};
	/* a failed write: both tries seen, nothing sent */
	mx->bad_rcode = a->bad_rcode = 2;
	assert_int_equal(dns_tcp_write(d, &st, iov, 2, -1), 2);
	assert_int_equal(mx->bad_rcode + a->bad_rcode, 0);
	assert_int_equal(st.nlen, 0);
	/* a short write: 5 bytes of q1 went out */
	mx->bad_rcode = a->bad_rcode = 2;
	assert_int_equal(dns_tcp_write(d, &st, iov, 2, 5), 2);
	assert_int_equal(st.nlen, 2);
	assert_int_equal(st.pos, 3);
	/* c-ares writes the rest: q1 from byte 5, then q2 */
	iov[0] = (struct iovec){.iov_base = q1 + 5, .iov_len = n1 - 5};
	mx->bad_rcode = a->bad_rcode = 2;
	assert_int_equal(dns_tcp_write(d, &st, iov, 2, (ssize_t)(n1 - 5 + n2)),
			 2);
	assert_int_equal(mx->bad_rcode + a->bad_rcode, 0);
	assert_int_equal(st.nlen, 0);
	/* q2 alone, one byte of its length sent */
	a->bad_rcode = 2;
	assert_int_equal(dns_tcp_write(d, &st, iov + 1, 1, 1), 1);
	assert_int_equal(a->bad_rcode, 0);
	assert_int_equal(st.nlen, 1);
	dns_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_note_reply),
	    cmocka_unit_test(test_rcode_reason),
	    cmocka_unit_test(test_note_query),
	    cmocka_unit_test(test_tcp_read),
	    cmocka_unit_test(test_tcp_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
