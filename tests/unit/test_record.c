/* SPDX-License-Identifier: MIT */
/*
 * test_record: the spool record codec against docs/SPOOL.md: encodings
 * byte for byte against records written by hand from the document
 * (record_fixture.c), byte-exact round trips of every byte value in every
 * field, and streaming vs buffered bodies.  Corruption, the decode table
 * and the API's edges are in test_record_corrupt.c, test_record_table.c
 * and test_record_api.c.
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

/* ---- tests ---- */

/* The encoder writes exactly the documented bytes. */
static void
test_layout_matches_doc(void **state)
{
	struct record_buf b;
	struct record_msg m;
	struct record_done d = {.time_us = 77};
	struct record_rcpt r = {.index = 3,
				.count = 2,
				.state = RECORD_RS_DEFERRED,
				.code = 451,
				.attempts = 4,
				.time_us = 99,
				.next_try_us = 1234,
				.ecode = rfx_bytes("4.4.1", 5),
				.text = rfx_bytes("try later", 9)};
	struct tw w = {0};
	struct tw_hdr h = {.version = 1, .seq = 42};
	struct record_extent x;
	uint8_t *want;
	size_t size;

	(void)state;
	record_buf_init(&b);
	memcpy(d.msgid, tw_id, 16);
	memcpy(r.msgid, tw_id, 16);

	assert_int_equal(record_done_encode(&b, NONCE, 42, &d, &x), 0);
	tw_tlv(&w, RECORD_TAG_MSGID, tw_id, 16);
	tw_uint(&w, RECORD_TAG_TIME, 77, 8);
	h.type = RECORD_T_DONE;
	want = tw_record(&h, w.p, w.len, NULL, 0, NONCE, &size);
	assert_int_equal(x.off, 0);
	assert_int_equal(x.size, size);
	assert_int_equal(b.len, size);
	assert_memory_equal(b.data, want, size);
	free(want);

	w.len = 0;
	record_buf_reset(&b);
	assert_int_equal(record_rcpt_encode(&b, NONCE, 42, &r, &x), 0);
	tw_tlv(&w, RECORD_TAG_MSGID, tw_id, 16);
	tw_uint(&w, RECORD_TAG_INDEX, 3, 4);
	tw_uint(&w, RECORD_TAG_COUNT, 2, 4);
	tw_uint(&w, RECORD_TAG_STATE, RECORD_RS_DEFERRED, 1);
	tw_uint(&w, RECORD_TAG_TIME, 99, 8);
	tw_uint(&w, RECORD_TAG_ATTEMPTS, 4, 4);
	tw_uint(&w, RECORD_TAG_NEXT_TRY, 1234, 8);
	tw_uint(&w, RECORD_TAG_CODE, 451, 2);
	tw_tlv(&w, RECORD_TAG_ECODE, "4.4.1", 5);
	tw_tlv(&w, RECORD_TAG_TEXT, "try later", 9);
	h.type = RECORD_T_RCPT;
	want = tw_record(&h, w.p, w.len, NULL, 0, NONCE, &size);
	assert_int_equal(b.len, size);
	assert_memory_equal(b.data, want, size);
	free(want);

	w.len = 0;
	record_buf_reset(&b);
	rfx_msg_init(&m);
	m.ret = RECORD_RET_HDRS;
	m.copy = 1;
	x = rfx_enc_msg(&b, &m, &rfx_rcpt_xy, 1, "Body\r\n", 6, 42);
	/* Envelope fields in table order, then recipients, then END. */
	tw_msg_env(&w, RECORD_TAG_RCPT);
	tw_uint(&w, RECORD_TAG_RET, RECORD_RET_HDRS, 1);
	tw_tlv(&w, RECORD_TAG_RCPT, "\x0b\0\x03\0\0\0x@y", 9);
	tw_tlv(&w, RECORD_TAG_END, NULL, 0);
	h.type = RECORD_T_MSG;
	h.version = RECORD_MSG_VERSION; /* 2; RCPT and DONE stay at 1 */
	h.flags = RECORD_F_COPY;
	want = tw_record(&h, w.p, w.len, (const uint8_t *)"Body\r\n", 6, NONCE,
			 &size);
	assert_int_equal(b.len, size);
	assert_memory_equal(b.data, want, size);
	assert_int_equal(x.body_off, RECORD_HDR_SIZE + w.len);
	assert_int_equal(x.body_len, 6);
	assert_int_equal(x.pad, size - RECORD_HDR_SIZE - w.len - 6);
	free(want);
	free(w.p);
	record_buf_fini(&b);
}

/* Decode + parse of a hand-made MSG (any field order) gives the fields. */
static void
test_decode_handmade_msg(void **state)
{
	struct tw w = {0};
	struct tw_hdr h = {.type = RECORD_T_MSG, .version = 1, .seq = 9};
	struct record_view v;
	struct record_msg m;
	struct record_msg_rcpt r;
	size_t size, pos = 0;
	uint8_t *rec;

	(void)state;
	tw_uint(&w, RECORD_TAG_MSG_FLAGS, RECORD_MSG_F_SMTPUTF8, 4);
	tw_msg_env(&w, 99);
	tw_tlv(&w, RECORD_TAG_END, NULL, 0);
	rec = tw_record(&h, w.p, w.len, (const uint8_t *)"B", 1, NONCE, &size);
	assert_int_equal(record_decode(rec, size, NONCE, &v), 1);
	assert_int_equal(v.type, RECORD_T_MSG);
	assert_int_equal(v.seq, 9);
	assert_int_equal(v.size, size);
	assert_int_equal(record_msg_parse(&v, &m), 0);
	assert_memory_equal(m.id, tw_id, 16);
	assert_int_equal(m.flags, RECORD_MSG_F_SMTPUTF8);
	assert_int_equal(m.received_us, 1700000000000000u);
	rfx_assert_bytes(m.sender, "a@b", 3);
	assert_int_equal(m.rcpt_count, 1);
	assert_int_equal(m.body_len, 1);
	assert_int_equal(m.body[0], 'B');
	assert_ptr_equal(m.body, rec + m.body_off);
	assert_int_equal(record_msg_rcpt_next(&m, &pos, &r), 1);
	rfx_assert_bytes(r.addr, "x@y", 3);
	assert_int_equal(record_msg_rcpt_next(&m, &pos, &r), 0);
	assert_int_equal(record_msg_rcpt_next(&m, &pos, &r), 0);
	free(rec);
	free(w.p);
}

/* Round-trip one MSG whose field `which` holds bytes lo..lo+n-1. */
static void
roundtrip_msg_field(int which, unsigned lo, size_t n)
{
	uint8_t val[1024];
	struct record_buf b;
	struct record_msg m, o;
	struct record_msg_rcpt r[2], ro;
	struct record_view v;
	struct record_extent x;
	struct record_bytes f = {val, n};
	size_t pos = 0;

	for (size_t i = 0; i < n; i++)
		val[i] = (uint8_t)(lo + i);
	record_buf_init(&b);
	rfx_msg_init(&m);
	r[0] = rfx_rcpt_xy;
	r[1] = rfx_rcpt_xy;
	switch (which) {
	case 0:
		m.sender = f;
		break;
	case 1:
		m.envid = f;
		break;
	case 2:
		m.binding = f;
		break;
	case 3:
		m.client_addr = f;
		break;
	case 4:
		m.client_helo = f;
		break;
	case 5:
		r[1].addr = f;
		break;
	case 6:
		r[1].orcpt = f;
		break;
	}
	x = rfx_enc_msg(&b, &m, r, 2, val, n, 5);
	assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
	assert_int_equal(record_msg_parse(&v, &o), 0);
	rfx_assert_bytes(o.sender, m.sender.p, m.sender.len);
	rfx_assert_bytes(o.envid, m.envid.p, m.envid.len);
	rfx_assert_bytes(o.binding, m.binding.p, m.binding.len);
	rfx_assert_bytes(o.client_addr, m.client_addr.p, m.client_addr.len);
	rfx_assert_bytes(o.client_helo, m.client_helo.p, m.client_helo.len);
	assert_int_equal(o.rcpt_count, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(record_msg_rcpt_next(&o, &pos, &ro), 1);
		rfx_assert_bytes(ro.addr, r[i].addr.p, r[i].addr.len);
		rfx_assert_bytes(ro.orcpt, r[i].orcpt.p, r[i].orcpt.len);
	}
	assert_int_equal(o.body_off, x.body_off);
	rfx_assert_bytes(rfx_bytes(b.data + o.body_off, o.body_len), val, n);
	record_buf_fini(&b);
}

/* Every byte value 0x00-0xff in every envelope field, byte-exact. */
static void
test_all_bytes_every_field(void **state)
{
	const size_t caps[] = {
	    RECORD_ADDR_MAX, RECORD_ENVID_MAX, RECORD_NAME_MAX, RECORD_NAME_MAX,
	    RECORD_NAME_MAX, RECORD_ADDR_MAX,  RECORD_ORCPT_MAX};

	(void)state;
	for (int f = 0; f < 7; f++) {
		size_t chunk = caps[f] < 256 ? caps[f] : 256;

		for (unsigned lo = 0; lo < 256; lo += (unsigned)chunk)
			roundtrip_msg_field(f, lo, MIN(chunk, 256 - lo));
	}
}

/* RCPT and DONE records: every field, every byte value in the texts. */
static void
test_rcpt_done_roundtrip(void **state)
{
	uint8_t all[256];
	struct record_buf b;
	struct record_view v;
	struct record_rcpt r, o;
	struct record_done d = {.time_us = UINT64_MAX}, od;

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	record_buf_init(&b);
	for (unsigned st = 0; st < RECORD_RS__COUNT; st++) {
		for (unsigned lo = 0; lo < 256; lo += RECORD_ECODE_MAX) {
			memset(&r, 0, sizeof(r));
			memcpy(r.msgid, all + 7, 16);
			r.index = RECORD_RCPT_MAX - 5;
			r.count = 5;
			r.state = (uint8_t)st;
			r.code = 65535;
			r.attempts = UINT32_MAX;
			r.time_us = UINT64_MAX - 1;
			r.next_try_us = st == RECORD_RS_DEFERRED ? 1 : 0;
			r.ecode = rfx_bytes(all + lo, RECORD_ECODE_MAX);
			r.text = rfx_bytes(all, 256);
			record_buf_reset(&b);
			assert_int_equal(
			    record_rcpt_encode(&b, NONCE, 1, &r, NULL), 0);
			assert_int_equal(
			    record_decode(b.data, b.len, NONCE, &v), 1);
			assert_int_equal(record_rcpt_parse(&v, &o), 0);
			assert_memory_equal(o.msgid, r.msgid, 16);
			assert_int_equal(o.index, r.index);
			assert_int_equal(o.count, r.count);
			assert_int_equal(o.state, r.state);
			assert_int_equal(o.code, r.code);
			assert_int_equal(o.attempts, r.attempts);
			assert_true(o.time_us == r.time_us);
			assert_true(o.next_try_us == r.next_try_us);
			rfx_assert_bytes(o.ecode, r.ecode.p, r.ecode.len);
			rfx_assert_bytes(o.text, all, 256);
		}
	}
	/* count 0 and 1 both mean one recipient; minimal fields only. */
	memset(&r, 0, sizeof(r));
	record_buf_reset(&b);
	assert_int_equal(record_rcpt_encode(&b, NONCE, 1, &r, NULL), 0);
	assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
	assert_int_equal(record_rcpt_parse(&v, &o), 0);
	assert_int_equal(o.count, 1);
	assert_int_equal(o.text.len, 0);
	assert_null(o.text.p);

	memcpy(d.msgid, all + 100, 16);
	record_buf_reset(&b);
	assert_int_equal(record_done_encode(&b, NONCE, 2, &d, NULL), 0);
	assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
	assert_int_equal(record_done_parse(&v, &od), 0);
	assert_memory_equal(od.msgid, d.msgid, 16);
	assert_true(od.time_us == UINT64_MAX);
	/* Parsing as the wrong type is refused. */
	assert_int_equal(record_rcpt_parse(&v, &o), -EINVAL);
	assert_int_equal(record_msg_parse(&v, &(struct record_msg){0}),
			 -EINVAL);
	record_buf_fini(&b);
}

/* Scalars, several recipients, flags; the body is where body_off says. */
static void
test_msg_full_roundtrip(void **state)
{
	struct record_buf b;
	struct record_msg m, o;
	struct record_msg_rcpt r[3] =
	    {
		{{(const uint8_t *)"one@a", 5}, RECORD_NOTIFY_NEVER, {NULL, 0}},
		{{(const uint8_t *)"two@b", 5},
		 RECORD_NOTIFY_SUCCESS | RECORD_NOTIFY_FAILURE |
		     RECORD_NOTIFY_DELAY,
		 {(const uint8_t *)"rfc822;two@b", 12}},
		{{(const uint8_t *)"three@c", 7}, 0, {NULL, 0}},
	    },
			       ro;
	struct record_view v;
	struct record_extent x;
	const char body[] = "Subject: hi\r\n\r\n.\r\n..x\r\n";
	size_t pos = 0;
	uint32_t crc;

	(void)state;
	record_buf_init(&b);
	rfx_msg_init(&m);
	m.sender = rfx_bytes("", 0);
	m.envid = rfx_bytes("env-1", 5);
	m.ret = RECORD_RET_FULL;
	m.flags = RECORD_MSG_F_ALL;
	m.binding = rfx_bytes("pool1", 5);
	m.client_addr = rfx_bytes("127.0.0.1", 9);
	m.client_helo = rfx_bytes("client.example", 14);
	x = rfx_enc_msg(&b, &m, r, 3, body, sizeof(body) - 1, UINT64_MAX);
	assert_int_equal(x.size % RECORD_ALIGN, 0);
	assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
	assert_true(v.seq == UINT64_MAX);
	assert_int_equal(v.flags, 0);
	assert_int_equal(record_msg_parse(&v, &o), 0);
	assert_int_equal(o.copy, 0);
	assert_int_equal(o.sender.len, 0);
	rfx_assert_bytes(o.envid, "env-1", 5);
	assert_int_equal(o.ret, RECORD_RET_FULL);
	assert_int_equal(o.flags, RECORD_MSG_F_ALL);
	rfx_assert_bytes(o.binding, "pool1", 5);
	rfx_assert_bytes(o.client_addr, "127.0.0.1", 9);
	rfx_assert_bytes(o.client_helo, "client.example", 14);
	assert_true(o.received_us == m.received_us);
	assert_int_equal(o.rcpt_count, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(record_msg_rcpt_next(&o, &pos, &ro), 1);
		rfx_assert_bytes(ro.addr, r[i].addr.p, r[i].addr.len);
		assert_int_equal(ro.notify, r[i].notify);
		rfx_assert_bytes(ro.orcpt, r[i].orcpt.p, r[i].orcpt.len);
	}
	assert_int_equal(record_msg_rcpt_next(&o, &pos, &ro), 0);
	assert_int_equal(o.body_off, x.body_off);
	assert_int_equal(o.body_len, sizeof(body) - 1);
	assert_memory_equal(b.data + o.body_off, body, sizeof(body) - 1);
	/* The delivery engine verifies a pread body with the seed. */
	crc = record_body_crc_init(NONCE);
	crc = crc32c(crc, b.data + o.body_off, 10);
	crc = crc32c(crc, b.data + o.body_off + 10, o.body_len - 10);
	assert_int_equal(crc, o.body_crc);
	assert_int_not_equal(crc32c(record_body_crc_init(NONCE2),
				    b.data + o.body_off, o.body_len),
			     o.body_crc);
	record_buf_fini(&b);
}

/* Any split of the body, buffered or streamed, gives the same record. */
static void
test_body_split_and_stream(void **state)
{
	uint8_t body[3001];
	struct record_buf one, many, hs;
	struct record_msg m;
	struct record_enc e;
	struct record_extent x1, x2, xs;
	size_t splits[] = {1, 7, 8, 64, 1000, 3001};
	size_t body_off;

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 31 + 7);
	record_buf_init(&one);
	rfx_msg_init(&m);
	x1 = rfx_enc_msg(&one, &m, &rfx_rcpt_xy, 1, body, sizeof(body), 3);
	for (size_t s = 0; s < nitems(splits); s++) {
		record_buf_init(&many);
		record_buf_init(&hs);
		assert_int_equal(record_msg_begin(&e, &many, NONCE, &m), 0);
		assert_int_equal(record_msg_add_rcpt(&e, &rfx_rcpt_xy), 0);
		assert_int_equal(record_msg_body_begin(&e, &body_off), 0);
		assert_int_equal(body_off, x1.body_off);
		for (size_t o = 0; o < sizeof(body); o += splits[s])
			assert_int_equal(
			    record_body_append(
				&e, body + o, MIN(splits[s], sizeof(body) - o)),
			    0);
		assert_int_equal(record_enc_end(&e, 3, &x2), 0);
		assert_int_equal(many.len, one.len);
		assert_memory_equal(many.data, one.data, one.len);
		assert_int_equal(x2.streamed, 0);

		/* Streamed: the buffer holds header + envelope only. */
		assert_int_equal(record_msg_begin(&e, &hs, NONCE, &m), 0);
		assert_int_equal(record_msg_add_rcpt(&e, &rfx_rcpt_xy), 0);
		assert_int_equal(record_msg_body_begin(&e, &body_off), 0);
		for (size_t o = 0; o < sizeof(body); o += splits[s])
			assert_int_equal(
			    record_body_stream(
				&e, body + o, MIN(splits[s], sizeof(body) - o)),
			    0);
		assert_int_equal(record_enc_end(&e, 3, &xs), 0);
		assert_int_equal(xs.streamed, 1);
		assert_int_equal(hs.len, body_off);
		assert_int_equal(xs.size, x1.size);
		assert_int_equal(xs.pad, x1.pad);
		/* "Disk" = header+envelope, body, pad zeros. */
		hs.data = realloc(hs.data, xs.size);
		hs.cap = xs.size; /* record_buf_fini() may pool it */
		memcpy(hs.data + body_off, body, sizeof(body));
		memset(hs.data + body_off + sizeof(body), 0, xs.pad);
		assert_memory_equal(hs.data, one.data, one.len);
		record_buf_fini(&many);
		record_buf_fini(&hs);
	}
	record_buf_fini(&one);
}

/*
 * Body bytes produced in place (record_body_room, then record_body_append
 * with that pointer) give the same record as copied ones, for every split;
 * a room that was asked for but not used leaves nothing behind; no room
 * before the body, after streaming started, or past RECORD_PAYLOAD_MAX.
 */
static void
test_body_room(void **state)
{
	uint8_t body[3001];
	struct record_buf one, b;
	struct record_msg m;
	struct record_enc e;
	struct record_extent x1, x2;
	const size_t splits[] = {1, 7, 64, 1000, 3001};
	uint8_t *p;

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 13 + 1);
	record_buf_init(&one);
	rfx_msg_init(&m);
	x1 = rfx_enc_msg(&one, &m, &rfx_rcpt_xy, 1, body, sizeof(body), 3);
	for (size_t s = 0; s < nitems(splits); s++) {
		record_buf_init(&b);
		assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
		assert_null(record_body_room(&e, 16)); /* envelope open */
		assert_int_equal(record_msg_add_rcpt(&e, &rfx_rcpt_xy), 0);
		assert_int_equal(record_msg_body_begin(&e, NULL), 0);
		for (size_t o = 0; o < sizeof(body); o += splits[s]) {
			size_t n = MIN(splits[s], sizeof(body) - o);
			size_t len = b.len;

			/* more room than used: the rest is not counted */
			p = record_body_room(&e, n + 100);
			assert_non_null(p);
			assert_int_equal(b.len, len);
			assert_ptr_equal(p, b.data + b.len);
			assert_true(b.cap >= b.len + n + 100);
			memcpy(p, body + o, n);
			assert_int_equal(record_body_append(&e, p, n), 0);
			assert_int_equal(b.len, len + n);
		}
		assert_non_null(record_body_room(&e, 5)); /* unused */
		assert_int_equal(record_enc_end(&e, 3, &x2), 0);
		assert_int_equal(x2.size, x1.size);
		assert_int_equal(b.len, one.len);
		assert_memory_equal(b.data, one.data, one.len);
		assert_null(record_body_room(&e, 1)); /* closed */
		record_buf_fini(&b);
	}
	/* Streaming and too large. */
	record_buf_init(&b);
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	assert_int_equal(record_msg_add_rcpt(&e, &rfx_rcpt_xy), 0);
	assert_int_equal(record_msg_body_begin(&e, NULL), 0);
	assert_null(record_body_room(&e, RECORD_PAYLOAD_MAX));
	assert_int_equal(record_body_stream(&e, "ab", 2), 0);
	assert_null(record_body_room(&e, 1));
	record_enc_abort(&e);
	record_buf_fini(&b);
	record_buf_fini(&one);
}

/* Build MSG, RCPT, DONE records into one buffer. */

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout_matches_doc),
	    cmocka_unit_test(test_decode_handmade_msg),
	    cmocka_unit_test(test_all_bytes_every_field),
	    cmocka_unit_test(test_rcpt_done_roundtrip),
	    cmocka_unit_test(test_body_room),
	    cmocka_unit_test(test_msg_full_roundtrip),
	    cmocka_unit_test(test_body_split_and_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
