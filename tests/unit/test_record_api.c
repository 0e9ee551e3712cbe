/* SPDX-License-Identifier: MIT */
/*
 * test_record_api: the codec's API edges: the recipient cap, the buffer
 * pool, encoder errors, head-only decoding, the segment header, zeroed
 * bytes and empty buffers, and the name tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "record.h"
#include "record_fixture.h"

static void
test_buf_pool(void **state)
{
	static uint8_t body[100 * 1024];
	struct record_buf a, b, bufs[RECORD_POOL_MAX + 1];
	struct record_msg m;
	struct record_extent xa, xb;
	uint8_t *first, *copy;
	size_t bytes, cap;

	(void)state;
	record_buf_pool_drain();
	assert_int_equal(record_buf_pool_count(&bytes), 0);
	assert_int_equal(bytes, 0);
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7);
	rfx_msg_init(&m);
	record_buf_init(&a);
	xa = rfx_enc_msg(&a, &m, &rfx_rcpt_xy, 1, body, sizeof(body), 5);
	first = a.data;
	cap = a.cap;
	assert_true(cap >= xa.size);
	copy = xmalloc(xa.size);
	memcpy(copy, a.data, xa.size);
	record_buf_fini(&a);
	assert_null(a.data);
	assert_int_equal(record_buf_pool_count(&bytes), 1);
	assert_int_equal(bytes, cap);

	/* Same message again: the same allocation, no growth, same bytes. */
	memset(first, 0xee, cap);
	record_buf_init(&b);
	xb = rfx_enc_msg(&b, &m, &rfx_rcpt_xy, 1, body, sizeof(body), 5);
	assert_ptr_equal(b.data, first);
	assert_int_equal(b.cap, cap);
	assert_int_equal(record_buf_pool_count(NULL), 0);
	assert_int_equal(xb.size, xa.size);
	assert_memory_equal(b.data, copy, xa.size);
	free(copy);

	/* At most RECORD_POOL_MAX allocations are kept. */
	for (size_t i = 0; i < nitems(bufs); i++) {
		record_buf_init(&bufs[i]);
		(void)rfx_enc_msg(&bufs[i], &m, &rfx_rcpt_xy, 1, body, 16, 1);
	}
	for (size_t i = 0; i < nitems(bufs); i++)
		record_buf_fini(&bufs[i]);
	assert_int_equal(record_buf_pool_count(NULL), RECORD_POOL_MAX);
	record_buf_fini(&b); /* full: freed */
	assert_int_equal(record_buf_pool_count(NULL), RECORD_POOL_MAX);

	/* And at most RECORD_POOL_BYTES in all: a huge one is freed. */
	record_buf_pool_drain();
	assert_int_equal(record_buf_pool_count(&bytes), 0);
	record_buf_init(&a);
	a.data = xmalloc(RECORD_POOL_BYTES + 1);
	a.cap = RECORD_POOL_BYTES + 1;
	record_buf_fini(&a);
	assert_int_equal(record_buf_pool_count(&bytes), 0);
	assert_int_equal(bytes, 0);
	record_buf_fini(&a); /* empty: harmless */
	assert_int_equal(record_buf_pool_count(NULL), 0);
}

/* Recipient caps: RECORD_RCPT_MAX encodes and decodes, one more does not. */
static void
test_rcpt_cap(void **state)
{
	struct record_buf b;
	struct record_msg m, o;
	struct record_msg_rcpt r = rfx_rcpt_xy, ro;
	struct record_enc e;
	struct record_view v;
	struct tw w = {0}, rc = {0};
	struct tw_hdr h = {.type = RECORD_T_MSG, .version = 1};
	size_t pos = 0, n = 0, size;
	uint8_t *rec;

	(void)state;
	record_buf_init(&b);
	rfx_msg_init(&m);
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	for (uint32_t i = 0; i < RECORD_RCPT_MAX; i++)
		assert_int_equal(record_msg_add_rcpt(&e, &r), 0);
	assert_int_equal(record_msg_add_rcpt(&e, &r), -EMSGSIZE);
	assert_int_equal(record_enc_end(&e, 1, NULL), -EMSGSIZE);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.busy, 0);

	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	for (uint32_t i = 0; i < RECORD_RCPT_MAX; i++)
		assert_int_equal(record_msg_add_rcpt(&e, &r), 0);
	assert_int_equal(record_enc_end(&e, 1, NULL), 0);
	assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
	assert_int_equal(record_msg_parse(&v, &o), 0);
	assert_int_equal(o.rcpt_count, RECORD_RCPT_MAX);
	while (record_msg_rcpt_next(&o, &pos, &ro) == 1)
		n++;
	assert_int_equal(n, RECORD_RCPT_MAX);

	/* Hand-made: one recipient too many. */
	tw_msg_env(&w, RECORD_TAG_RCPT);
	tw_tlv(&rc, RECORD_TAG_ADDR, "x", 1);
	for (uint32_t i = 0; i <= RECORD_RCPT_MAX; i++)
		tw_tlv(&w, RECORD_TAG_RCPT, rc.p, rc.len);
	tw_tlv(&w, RECORD_TAG_END, NULL, 0);
	rec = tw_record(&h, w.p, w.len, NULL, 0, NONCE, &size);
	assert_int_equal(record_decode(rec, size, NONCE, &v), -EBADMSG);
	free(rec);
	free(w.p);
	free(rc.p);
	record_buf_fini(&b);
}

/* Encoder refusals; the buffer keeps earlier records and stays usable. */
static void
test_encode_errors(void **state)
{
	static uint8_t big[RECORD_ADDR_MAX + 2];
	struct record_buf b, b2;
	struct record_msg m;
	struct record_msg_rcpt r;
	struct record_enc e, e2;
	struct record_rcpt rr;
	struct record_done d = {0};
	struct record_seg s = {.flags = 2};
	uint8_t seg[RECORD_SEG_HDR_SIZE];
	size_t keep;
	struct {
		const char *name;
		int field;
		size_t len;
		int rc;
	} caps[] = {
	    {"sender max", 0, RECORD_ADDR_MAX, 0},
	    {"sender max+1", 0, RECORD_ADDR_MAX + 1, -EMSGSIZE},
	    {"envid max+1", 1, RECORD_ENVID_MAX + 1, -EMSGSIZE},
	    {"binding max+1", 2, RECORD_NAME_MAX + 1, -EMSGSIZE},
	    {"helo max+1", 3, RECORD_NAME_MAX + 1, -EMSGSIZE},
	    {"addr max", 4, RECORD_ADDR_MAX, 0},
	    {"addr max+1", 4, RECORD_ADDR_MAX + 1, -EMSGSIZE},
	    {"addr empty", 4, 0, -EINVAL},
	    {"orcpt max+1", 5, RECORD_ORCPT_MAX + 1, -EMSGSIZE},
	};

	(void)state;
	memset(big, 'q', sizeof(big));
	record_buf_init(&b);
	assert_int_equal(record_done_encode(&b, NONCE, 1, &d, NULL), 0);
	keep = b.len;
	for (size_t i = 0; i < nitems(caps); i++) {
		struct record_bytes f = {big, caps[i].len};
		int rc;

		rfx_msg_init(&m);
		r = rfx_rcpt_xy;
		if (caps[i].field == 0)
			m.sender = f;
		if (caps[i].field == 1)
			m.envid = f;
		if (caps[i].field == 2)
			m.binding = f;
		if (caps[i].field == 3)
			m.client_helo = f;
		if (caps[i].field == 4)
			r.addr = f;
		if (caps[i].field == 5)
			r.orcpt = f;
		(void)!record_msg_begin(&e, &b, NONCE, &m);
		(void)!record_msg_add_rcpt(&e, &r);
		rc = record_enc_end(&e, 1, NULL);
		if (rc != caps[i].rc)
			fail_msg("%s: %d want %d", caps[i].name, rc,
				 caps[i].rc);
		if (rc < 0)
			assert_int_equal(b.len, keep);
		b.len = keep;
	}

	/* Bad enum/flag values. */
	rfx_msg_init(&m);
	m.ret = RECORD_RET__COUNT;
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), -EINVAL);
	record_enc_abort(&e);
	m.ret = 0;
	m.flags = RECORD_MSG_F_ALL + 1;
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), -EINVAL);
	assert_int_equal(record_enc_end(&e, 1, NULL), -EINVAL);
	m.flags = 0;
	r = rfx_rcpt_xy;
	r.notify = 0x10;
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	assert_int_equal(record_msg_add_rcpt(&e, &r), -EINVAL);
	record_enc_abort(&e);
	r.notify = 0;
	r.orcpt.len = 3; /* length without a pointer */
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	assert_int_equal(record_msg_add_rcpt(&e, &r), -EINVAL);
	record_enc_abort(&e);
	assert_int_equal(b.len, keep);

	/* Call order. */
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	assert_int_equal(record_body_append(&e, "x", 1), -EINVAL);
	assert_int_equal(record_enc_end(&e, 1, NULL), -EINVAL);
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	assert_int_equal(record_enc_end(&e, 1, NULL), -EINVAL); /* no rcpt */
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	assert_int_equal(record_msg_add_rcpt(&e, &rfx_rcpt_xy), 0);
	assert_int_equal(record_msg_body_begin(&e, NULL), 0);
	assert_int_equal(record_msg_add_rcpt(&e, &rfx_rcpt_xy), -EINVAL);
	record_enc_abort(&e);
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	assert_int_equal(record_msg_add_rcpt(&e, &rfx_rcpt_xy), 0);
	assert_int_equal(record_msg_body_begin(&e, NULL), 0);
	assert_int_equal(record_body_append(&e, "ab", 2), 0);
	assert_int_equal(record_body_stream(&e, "c", 1), -EINVAL);
	assert_int_equal(record_enc_end(&e, 1, NULL), -EINVAL);
	assert_int_equal(b.len, keep);
	/* One encoder per buffer at a time. */
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	assert_int_equal(record_msg_begin(&e2, &b, NONCE, &m), -EBUSY);
	assert_int_equal(record_enc_end(&e2, 1, NULL), -EBUSY);
	record_enc_abort(&e2);
	assert_int_equal(record_done_encode(&b, NONCE, 1, &d, NULL), -EBUSY);
	assert_int_equal(record_msg_add_rcpt(&e, &rfx_rcpt_xy), 0);
	assert_int_equal(record_enc_end(&e, 1, NULL), 0);
	assert_int_equal(record_enc_end(&e, 1, NULL), -EINVAL); /* twice */
	assert_true(b.len > keep);
	b.len = keep;
	/* A streamed body over the payload cap; a huge n does not wrap. */
	record_buf_init(&b2);
	assert_int_equal(record_msg_begin(&e, &b2, NONCE, &m), 0);
	assert_int_equal(record_msg_add_rcpt(&e, &rfx_rcpt_xy), 0);
	assert_int_equal(record_msg_body_begin(&e, NULL), 0);
	assert_int_equal(record_body_stream(&e, big, SIZE_MAX), -EMSGSIZE);
	assert_int_equal(record_enc_end(&e, 1, NULL), -EMSGSIZE);
	assert_int_equal(b2.len, 0);
	record_buf_fini(&b2);

	/* RCPT semantics. */
	memset(&rr, 0, sizeof(rr));
	rr.index = RECORD_RCPT_MAX - 1;
	rr.count = 2;
	assert_int_equal(record_rcpt_encode(&b, NONCE, 1, &rr, NULL), -EINVAL);
	rr.index = 0;
	rr.count = UINT32_MAX;
	assert_int_equal(record_rcpt_encode(&b, NONCE, 1, &rr, NULL), -EINVAL);
	rr.count = 1;
	rr.state = RECORD_RS_DEFERRED;
	assert_int_equal(record_rcpt_encode(&b, NONCE, 1, &rr, NULL), -EINVAL);
	rr.state = RECORD_RS_DELIVERED;
	rr.next_try_us = 5;
	assert_int_equal(record_rcpt_encode(&b, NONCE, 1, &rr, NULL), -EINVAL);
	rr.next_try_us = 0;
	rr.state = RECORD_RS__COUNT;
	assert_int_equal(record_rcpt_encode(&b, NONCE, 1, &rr, NULL), -EINVAL);
	rr.state = RECORD_RS_BOUNCED;
	rr.text = rfx_bytes(big, RECORD_TEXT_MAX + 1);
	assert_int_equal(record_rcpt_encode(&b, NONCE, 1, &rr, NULL),
			 -EMSGSIZE);
	rr.text = rfx_bytes(big, 0);
	rr.ecode = rfx_bytes(big, RECORD_ECODE_MAX + 1);
	assert_int_equal(record_rcpt_encode(&b, NONCE, 1, &rr, NULL),
			 -EMSGSIZE);
	assert_int_equal(b.len, keep);
	assert_int_equal(record_seg_encode(&s, seg), -EINVAL);
	record_buf_fini(&b);
}

/* The head-only decoder needs header + envelope, never the body. */
static void
test_decode_head_only(void **state)
{
	struct record_buf b;
	struct record_msg m, o;
	struct record_view v;
	struct record_extent x;
	uint8_t body[1000];

	(void)state;
	memset(body, 'b', sizeof(body));
	record_buf_init(&b);
	rfx_msg_init(&m);
	x = rfx_enc_msg(&b, &m, &rfx_rcpt_xy, 1, body, sizeof(body), 1);
	assert_int_equal(record_decode_head(b.data, x.body_off, NONCE, &v), 1);
	assert_null(v.body);
	assert_int_equal(v.body_len, sizeof(body));
	assert_int_equal(v.size, x.size);
	assert_int_equal(record_msg_parse(&v, &o), 0);
	assert_null(o.body);
	assert_int_equal(o.body_off, x.body_off);
	assert_int_equal(o.body_len, sizeof(body));
	assert_int_equal(record_decode(b.data, x.body_off, NONCE, &v), 0);
	record_buf_fini(&b);
}

/* Segment header: layout, round trip, flips, truncation, versions. */
static void
test_segment_header(void **state)
{
	struct record_seg s = {.number = 0x1122334455667788u,
			       .created_us = 1700000000123456u,
			       .nonce = NONCE,
			       .flags = RECORD_SEG_F_SINGLE},
			  o;
	uint8_t buf[RECORD_SEG_HDR_MAX + 64];
	uint8_t big[256];

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(record_seg_encode(&s, buf), 0);
	assert_memory_equal(buf, "RINGSPL1", 8);
	assert_int_equal(buf[8], 1);
	assert_int_equal(buf[12], 64);
	assert_int_equal(buf[16], 0x88);
	assert_int_equal(buf[32], 0xef);
	assert_int_equal(buf[40], 1);
	for (int i = 44; i < 60; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[60] | buf[61] << 8 | buf[62] << 16 |
			     (uint32_t)buf[63] << 24,
			 crc32c(0, buf, 60));
	assert_int_equal(record_seg_decode(buf, sizeof(buf), &o), 1);
	assert_true(o.number == s.number);
	assert_true(o.created_us == s.created_us);
	assert_true(o.nonce == s.nonce);
	assert_int_equal(o.flags, s.flags);
	assert_int_equal(o.major, RECORD_SEG_MAJOR);
	assert_int_equal(o.minor, RECORD_SEG_MINOR);
	assert_int_equal(o.hdr_size, RECORD_SEG_HDR_SIZE);
	for (size_t n = 0; n < RECORD_SEG_HDR_SIZE; n++)
		assert_int_equal(record_seg_decode(buf, n, &o), 0);
	for (size_t bit = 0; bit < RECORD_SEG_HDR_SIZE * 8; bit++) {
		int rc;

		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(record_seg_decode(buf, sizeof(buf), &o),
				 -EBADMSG);
		rc = record_seg_decode(buf, RECORD_SEG_HDR_SIZE, &o);
		assert_true(rc == -EBADMSG || rc == 0);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* A newer minor with a larger header is read; a new major is not. */
	memset(big, 0, sizeof(big));
	memcpy(big, buf, 60);
	tw_le(big + 10, 7, 2);
	tw_le(big + 12, 128, 4);
	tw_le(big + 124, crc32c(0, big, 124), 4);
	assert_int_equal(record_seg_decode(big, 127, &o), 0);
	assert_int_equal(record_seg_decode(big, 128, &o), 1);
	assert_int_equal(o.minor, 7);
	assert_int_equal(o.hdr_size, 128);
	tw_le(big + 8, 2, 2);
	tw_le(big + 124, crc32c(0, big, 124), 4);
	assert_int_equal(record_seg_decode(big, 128, &o), -ENOTSUP);
	tw_le(big + 8, 1, 2);
	tw_le(big + 40, 2, 4);
	tw_le(big + 124, crc32c(0, big, 124), 4);
	assert_int_equal(record_seg_decode(big, 128, &o), -ENOTSUP);
	/* Header sizes out of range or unaligned. */
	const uint32_t bad[] = {0, 56, 60, 66, RECORD_SEG_HDR_MAX + 8};
	for (size_t i = 0; i < nitems(bad); i++) {
		tw_le(buf + 12, bad[i], 4);
		assert_int_equal(record_seg_decode(buf, sizeof(buf), &o),
				 -EBADMSG);
	}
	assert_int_equal(record_seg_decode((const uint8_t *)"RINGSPX", 7, &o),
			 -EBADMSG);
	assert_int_equal(record_seg_decode(NULL, 0, &o), 0);
}

/* Zeroed (preallocated or torn) space is never a record. */
static void
test_zeros_and_empty(void **state)
{
	uint8_t z[128];
	struct record_view v;

	(void)state;
	memset(z, 0, sizeof(z));
	assert_int_equal(record_decode(z, sizeof(z), NONCE, &v), -EBADMSG);
	assert_int_equal(record_decode(z, sizeof(z), 0, &v), -EBADMSG);
	assert_int_equal(record_decode(NULL, 0, NONCE, &v), 0);
	for (uint64_t n = 0; n < 100000; n++) {
		struct record_key k;

		record_key_init(&k, n * UINT64_C(0x9e3779b97f4a7c15));
		assert_int_not_equal(k.magic, 0);
	}
}

/* Names, and the final-state predicate. */
static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(record_type_str(RECORD_T_MSG), "msg");
	assert_string_equal(record_type_str(RECORD_T_DONE), "done");
	assert_string_equal(record_type_str(200), "unknown");
	assert_string_equal(record_rcpt_state_str(RECORD_RS_EXPIRED),
			    "expired");
	assert_string_equal(record_rcpt_state_str(RECORD_RS__COUNT), "unknown");
	assert_string_equal(record_ret_str(RECORD_RET_HDRS), "hdrs");
	assert_string_equal(record_ret_str(9), "unknown");
	assert_string_equal(record_tag_str(RECORD_TAG_NEXT_TRY), "next-try");
	assert_string_equal(record_tag_str(RECORD_TAG_TEXT), "text");
	assert_string_equal(record_tag_str(0x8001), "unknown");
	assert_false(record_rcpt_state_final(RECORD_RS_PENDING));
	assert_false(record_rcpt_state_final(RECORD_RS_DEFERRED));
	assert_true(record_rcpt_state_final(RECORD_RS_DELIVERED));
	assert_true(record_rcpt_state_final(RECORD_RS_BOUNCED));
	assert_true(record_rcpt_state_final(RECORD_RS_EXPIRED));
	assert_true(record_rcpt_state_final(RECORD_RS_DELETED));
	assert_false(record_rcpt_state_final(RECORD_RS__COUNT));
}

/* WIRE / STUFF: MSG version 2 on the disk, the flags round-trip (also
 * through a COPY), and only WIRE without STUFF means "send as it lies". */
static void
test_msg_wire_flags(void **state)
{
	static const uint32_t fl[] = {
	    0, RECORD_MSG_F_WIRE, RECORD_MSG_F_WIRE | RECORD_MSG_F_STUFF,
	    RECORD_MSG_F_STUFF, RECORD_MSG_F_WIRE | RECORD_MSG_F_8BITMIME};
	static const int wire[] = {0, 1, 0, 0, 1};
	struct record_buf b;
	struct record_msg m, got, again;
	struct record_view v;
	struct record_enc e;

	(void)state;
	record_buf_init(&b);
	for (size_t i = 0; i < nitems(fl); i++) {
		assert_int_equal(record_msg_flags_wire(fl[i]), wire[i]);
		record_buf_reset(&b);
		rfx_msg_init(&m);
		m.flags = fl[i];
		(void)rfx_enc_msg(&b, &m, &rfx_rcpt_xy, 1, "a\r\n", 3, 1);
		assert_int_equal(b.data[5], RECORD_MSG_VERSION);
		assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
		assert_int_equal(record_msg_parse(&v, &got), 0);
		assert_int_equal(got.flags, fl[i]);
		/* compaction's copy keeps them */
		got.copy = 1;
		record_buf_reset(&b);
		(void)rfx_enc_msg(&b, &got, &rfx_rcpt_xy, 1, "a\r\n", 3, 2);
		assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
		assert_int_equal(record_msg_parse(&v, &again), 0);
		assert_int_equal(again.flags, fl[i]);
		assert_int_equal(again.copy, 1);
	}
	rfx_msg_init(&m);
	m.flags = RECORD_MSG_F_ALL + 1; /* a bit no version defines */
	record_buf_reset(&b);
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), -EINVAL);
	record_buf_fini(&b);
}

/*
 * The encoder's public result: record_enc_head() is the open record's
 * head (NULL when none is open, longer once the body began: END) and
 * the extent's body_crc is the CRC the header carries.
 */
static void
test_enc_result(void **state)
{
	static const char body[] = "Subject: x\r\n\r\nhello\r\n";
	struct record_buf b;
	struct record_msg m, got;
	struct record_extent x;
	struct record_view v;
	struct record_enc e;
	size_t head0, head1, off;

	(void)state;
	record_buf_init(&b);
	rfx_msg_init(&m);
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	assert_non_null(record_enc_head(&e, &head0));
	assert_true(head0 > 0);
	assert_int_equal(record_msg_add_rcpt(&e, &rfx_rcpt_xy), 0);
	assert_int_equal(record_msg_body_begin(&e, &off), 0);
	assert_non_null(record_enc_head(&e, &head1));
	assert_true(head1 > head0);
	assert_int_equal(record_body_append(&e, body, sizeof(body) - 1), 0);
	memset(&x, 0, sizeof(x));
	assert_int_equal(record_enc_end(&e, 1, &x), 0);
	assert_null(record_enc_head(&e, &head0));
	assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
	assert_int_equal(record_msg_parse(&v, &got), 0);
	assert_int_equal(got.body_len, sizeof(body) - 1);
	assert_int_equal(x.body_crc, got.body_crc);
	assert_true(x.body_crc != 0);
	record_buf_fini(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rcpt_cap),
	    cmocka_unit_test(test_enc_result),
	    cmocka_unit_test(test_buf_pool),
	    cmocka_unit_test(test_encode_errors),
	    cmocka_unit_test(test_decode_head_only),
	    cmocka_unit_test(test_segment_header),
	    cmocka_unit_test(test_zeros_and_empty),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_msg_wire_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
