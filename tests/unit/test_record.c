/* SPDX-License-Identifier: MIT */
/*
 * test_record: the spool record codec against docs/SPOOL.md.
 *
 * Records are also built by hand here (tw_*), straight from the byte tables
 * in the document, so the codec is checked against the format and not only
 * against itself.  Covers: byte-exact round trips of every byte value in
 * every field, truncation at every length, every single-bit flip, forged
 * headers inside bodies, resync, huge lengths, caps, streaming vs buffered
 * bodies, versioning (-ENOTSUP) and the segment header.
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

#define NONCE  UINT64_C(0x0123456789abcdef)
#define NONCE2 UINT64_C(0xfedcba9876543210)

/* ---- hand-made records, per docs/SPOOL.md ---- */

static void
tw_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

struct tw {
	uint8_t *p;
	size_t len, cap;
};

static void
tw_bytes(struct tw *w, const void *p, size_t n)
{
	if (w->len + n + 1 > w->cap) {
		w->cap = (w->len + n + 1) * 2;
		w->p = realloc(w->p, w->cap);
		assert_non_null(w->p);
	}
	if (n > 0)
		memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void
tw_tlv(struct tw *w, uint16_t tag, const void *p, size_t n)
{
	uint8_t h[6];

	tw_le(h, tag, 2);
	tw_le(h + 2, n, 4);
	tw_bytes(w, h, 6);
	tw_bytes(w, p, n);
}

static void
tw_uint(struct tw *w, uint16_t tag, uint64_t v, size_t n)
{
	uint8_t b[8];

	tw_le(b, v, n);
	tw_tlv(w, tag, b, n);
}

struct tw_hdr {
	uint8_t type, version;
	uint16_t flags;
	uint64_t seq;
	uint32_t rsvd;
	uint32_t plen_override; /* 0: real length */
	uint32_t hlen_override; /* 0: real head length */
};

/* Wrap head + body into a record keyed by nonce; returns malloc'd bytes. */
static uint8_t *
tw_record(const struct tw_hdr *h, const uint8_t *head, size_t hlen,
	  const uint8_t *body, size_t blen, uint64_t nonce, size_t *size_r)
{
	struct record_key k;
	size_t plen = hlen + blen;
	size_t size = RECORD_HDR_SIZE + ((plen + 7) & ~(size_t)7);
	uint8_t *r = calloc(1, size);

	assert_non_null(r);
	record_key_init(&k, nonce);
	tw_le(r, k.magic, 4);
	r[4] = h->type;
	r[5] = h->version;
	tw_le(r + 6, h->flags, 2);
	tw_le(r + 8, h->seq, 8);
	tw_le(r + 16, h->plen_override ? h->plen_override : plen, 4);
	tw_le(r + 20, h->hlen_override ? h->hlen_override : hlen, 4);
	tw_le(r + 24, crc32c(k.seed, head, hlen), 4);
	tw_le(r + 28, crc32c(k.seed, body, blen), 4);
	tw_le(r + 32, h->rsvd, 4);
	tw_le(r + 36, crc32c(k.seed, r, 36), 4);
	if (hlen)
		memcpy(r + RECORD_HDR_SIZE, head, hlen);
	if (blen)
		memcpy(r + RECORD_HDR_SIZE + hlen, body, blen);
	*size_r = size;
	return r;
}

static const uint8_t tw_id[16] = "0123456789abcdef";

/* The minimal valid MSG envelope, optionally without one tag. */
static void
tw_msg_env(struct tw *w, unsigned omit)
{
	struct tw rc = {0};

	if (omit != RECORD_TAG_MSGID)
		tw_tlv(w, RECORD_TAG_MSGID, tw_id, 16);
	if (omit != RECORD_TAG_RECEIVED)
		tw_uint(w, RECORD_TAG_RECEIVED, 1700000000000000u, 8);
	if (omit != RECORD_TAG_SENDER)
		tw_tlv(w, RECORD_TAG_SENDER, "a@b", 3);
	tw_tlv(&rc, RECORD_TAG_ADDR, "x@y", 3);
	if (omit != RECORD_TAG_RCPT)
		tw_tlv(w, RECORD_TAG_RCPT, rc.p, rc.len);
	free(rc.p);
}

/* ---- helpers around the codec ---- */

static struct record_bytes
bytes(const void *p, size_t n)
{
	struct record_bytes b = {p, n};

	return b;
}

static void
assert_bytes(struct record_bytes got, const void *want, size_t n)
{
	assert_int_equal(got.len, n);
	if (n > 0)
		assert_memory_equal(got.p, want, n);
}

static void
msg_init(struct record_msg *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->id, tw_id, 16);
	m->received_us = 1700000000000000u;
	m->sender = bytes("a@b", 3);
}

/* Encode a MSG with n recipients and a body into b; returns the extent. */
static struct record_extent
enc_msg(struct record_buf *b, const struct record_msg *m,
	const struct record_msg_rcpt *r, size_t n, const void *body,
	size_t blen, uint64_t seq)
{
	struct record_enc e;
	struct record_extent x;

	assert_int_equal(record_msg_begin(&e, b, NONCE, m), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(record_msg_add_rcpt(&e, &r[i]), 0);
	assert_int_equal(record_msg_body_begin(&e, NULL), 0);
	assert_int_equal(record_body_append(&e, body, blen), 0);
	assert_int_equal(record_enc_end(&e, seq, &x), 0);
	return x;
}

static const struct record_msg_rcpt rcpt_xy = {
    {(const uint8_t *)"x@y", 3}, 0, {NULL, 0}};

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
				.ecode = bytes("4.4.1", 5),
				.text = bytes("try later", 9)};
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
	msg_init(&m);
	m.ret = RECORD_RET_HDRS;
	m.copy = 1;
	x = enc_msg(&b, &m, &rcpt_xy, 1, "Body\r\n", 6, 42);
	/* Envelope fields in table order, then recipients, then END. */
	tw_msg_env(&w, RECORD_TAG_RCPT);
	tw_uint(&w, RECORD_TAG_RET, RECORD_RET_HDRS, 1);
	tw_tlv(&w, RECORD_TAG_RCPT, "\x0b\0\x03\0\0\0x@y", 9);
	tw_tlv(&w, RECORD_TAG_END, NULL, 0);
	h.type = RECORD_T_MSG;
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
	assert_bytes(m.sender, "a@b", 3);
	assert_int_equal(m.rcpt_count, 1);
	assert_int_equal(m.body_len, 1);
	assert_int_equal(m.body[0], 'B');
	assert_ptr_equal(m.body, rec + m.body_off);
	assert_int_equal(record_msg_rcpt_next(&m, &pos, &r), 1);
	assert_bytes(r.addr, "x@y", 3);
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
	msg_init(&m);
	r[0] = rcpt_xy;
	r[1] = rcpt_xy;
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
	x = enc_msg(&b, &m, r, 2, val, n, 5);
	assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
	assert_int_equal(record_msg_parse(&v, &o), 0);
	assert_bytes(o.sender, m.sender.p, m.sender.len);
	assert_bytes(o.envid, m.envid.p, m.envid.len);
	assert_bytes(o.binding, m.binding.p, m.binding.len);
	assert_bytes(o.client_addr, m.client_addr.p, m.client_addr.len);
	assert_bytes(o.client_helo, m.client_helo.p, m.client_helo.len);
	assert_int_equal(o.rcpt_count, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(record_msg_rcpt_next(&o, &pos, &ro), 1);
		assert_bytes(ro.addr, r[i].addr.p, r[i].addr.len);
		assert_bytes(ro.orcpt, r[i].orcpt.p, r[i].orcpt.len);
	}
	assert_int_equal(o.body_off, x.body_off);
	assert_bytes(bytes(b.data + o.body_off, o.body_len), val, n);
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
			r.ecode = bytes(all + lo, RECORD_ECODE_MAX);
			r.text = bytes(all, 256);
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
			assert_bytes(o.ecode, r.ecode.p, r.ecode.len);
			assert_bytes(o.text, all, 256);
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
	msg_init(&m);
	m.sender = bytes("", 0);
	m.envid = bytes("env-1", 5);
	m.ret = RECORD_RET_FULL;
	m.flags = RECORD_MSG_F_ALL;
	m.binding = bytes("pool1", 5);
	m.client_addr = bytes("127.0.0.1", 9);
	m.client_helo = bytes("client.example", 14);
	x = enc_msg(&b, &m, r, 3, body, sizeof(body) - 1, UINT64_MAX);
	assert_int_equal(x.size % RECORD_ALIGN, 0);
	assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
	assert_true(v.seq == UINT64_MAX);
	assert_int_equal(v.flags, 0);
	assert_int_equal(record_msg_parse(&v, &o), 0);
	assert_int_equal(o.copy, 0);
	assert_int_equal(o.sender.len, 0);
	assert_bytes(o.envid, "env-1", 5);
	assert_int_equal(o.ret, RECORD_RET_FULL);
	assert_int_equal(o.flags, RECORD_MSG_F_ALL);
	assert_bytes(o.binding, "pool1", 5);
	assert_bytes(o.client_addr, "127.0.0.1", 9);
	assert_bytes(o.client_helo, "client.example", 14);
	assert_true(o.received_us == m.received_us);
	assert_int_equal(o.rcpt_count, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(record_msg_rcpt_next(&o, &pos, &ro), 1);
		assert_bytes(ro.addr, r[i].addr.p, r[i].addr.len);
		assert_int_equal(ro.notify, r[i].notify);
		assert_bytes(ro.orcpt, r[i].orcpt.p, r[i].orcpt.len);
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
	msg_init(&m);
	x1 = enc_msg(&one, &m, &rcpt_xy, 1, body, sizeof(body), 3);
	for (size_t s = 0; s < nitems(splits); s++) {
		record_buf_init(&many);
		record_buf_init(&hs);
		assert_int_equal(record_msg_begin(&e, &many, NONCE, &m), 0);
		assert_int_equal(record_msg_add_rcpt(&e, &rcpt_xy), 0);
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
		assert_int_equal(record_msg_add_rcpt(&e, &rcpt_xy), 0);
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
	msg_init(&m);
	x1 = enc_msg(&one, &m, &rcpt_xy, 1, body, sizeof(body), 3);
	for (size_t s = 0; s < nitems(splits); s++) {
		record_buf_init(&b);
		assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
		assert_null(record_body_room(&e, 16)); /* envelope open */
		assert_int_equal(record_msg_add_rcpt(&e, &rcpt_xy), 0);
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
	assert_int_equal(record_msg_add_rcpt(&e, &rcpt_xy), 0);
	assert_int_equal(record_msg_body_begin(&e, NULL), 0);
	assert_null(record_body_room(&e, RECORD_PAYLOAD_MAX));
	assert_int_equal(record_body_stream(&e, "ab", 2), 0);
	assert_null(record_body_room(&e, 1));
	record_enc_abort(&e);
	record_buf_fini(&b);
	record_buf_fini(&one);
}

/* Build MSG, RCPT, DONE records into one buffer. */
static void
three_records(struct record_buf *b, struct record_extent x[3])
{
	struct record_msg m;
	struct record_rcpt r = {.index = 0,
				.state = RECORD_RS_BOUNCED,
				.code = 550,
				.text = bytes("no such user", 12)};
	struct record_done d = {.time_us = 5};

	record_buf_init(b);
	msg_init(&m);
	x[0] = enc_msg(b, &m, &rcpt_xy, 1, "hello\r\n", 7, 1);
	assert_int_equal(record_rcpt_encode(b, NONCE, 2, &r, &x[1]), 0);
	assert_int_equal(record_done_encode(b, NONCE, 3, &d, &x[2]), 0);
}

/* Every prefix of a valid record is "need more", never an error. */
static void
test_truncation_every_length(void **state)
{
	struct record_buf b;
	struct record_extent x[3];
	struct record_view v;

	(void)state;
	three_records(&b, x);
	for (int i = 0; i < 3; i++) {
		const uint8_t *r = b.data + x[i].off;
		size_t head_end = x[i].body_off;

		for (size_t n = 0; n < x[i].size; n++) {
			uint8_t *copy = malloc(n ? n : 1);

			memcpy(copy, r,
			       n); /* exact-size: ASan sees overreads */
			assert_int_equal(record_decode(copy, n, NONCE, &v), 0);
			if (n >= RECORD_HDR_SIZE)
				assert_int_equal(v.size, x[i].size);
			else
				assert_int_equal(v.size, 0);
			assert_int_equal(record_decode_head(copy, n, NONCE, &v),
					 n < head_end ? 0 : 1);
			free(copy);
		}
		assert_int_equal(record_decode(r, x[i].size, NONCE, &v), 1);
		assert_int_equal(v.size, x[i].size);
	}
	record_buf_fini(&b);
}

/* Every single-bit flip anywhere in a record is detected. */
static void
test_every_bit_flip(void **state)
{
	struct record_buf b;
	struct record_extent x[3];
	struct record_view v;

	(void)state;
	three_records(&b, x);
	for (int i = 0; i < 3; i++) {
		uint8_t *r = b.data + x[i].off;

		for (size_t bit = 0; bit < x[i].size * 8; bit++) {
			size_t byte = bit / 8;

			r[byte] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(record_decode(r, x[i].size, NONCE, &v),
					 -EBADMSG);
			if (byte < x[i].body_off)
				assert_int_equal(
				    record_decode_head(r, x[i].size, NONCE, &v),
				    -EBADMSG);
			r[byte] ^= (uint8_t)(1u << (bit % 8));
		}
		assert_int_equal(record_decode(r, x[i].size, NONCE, &v), 1);
	}
	/* A flipped body bit passes head-only decoding but not the body CRC. */
	b.data[x[0].body_off] ^= 1;
	assert_int_equal(record_decode_head(b.data, b.len, NONCE, &v), 1);
	assert_null(v.body);
	assert_int_not_equal(crc32c(record_body_crc_init(NONCE),
				    b.data + x[0].body_off, v.body_len),
			     v.body_crc);
	record_buf_fini(&b);
}

/* Records in a buffer decode one after another; a wrong nonce finds none. */
static void
test_sequence_and_wrong_nonce(void **state)
{
	struct record_buf b;
	struct record_extent x[3];
	struct record_view v;
	size_t off = 0, skip;
	const uint8_t types[] = {RECORD_T_MSG, RECORD_T_RCPT, RECORD_T_DONE};

	(void)state;
	three_records(&b, x);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(off, x[i].off);
		assert_int_equal(off % RECORD_ALIGN, 0);
		assert_int_equal(
		    record_decode(b.data + off, b.len - off, NONCE, &v), 1);
		assert_int_equal(v.type, types[i]);
		assert_int_equal(v.seq, (uint64_t)i + 1);
		off += v.size;
	}
	assert_int_equal(off, b.len);
	assert_int_equal(record_decode(b.data, b.len, NONCE2, &v), -EBADMSG);
	assert_int_equal(record_scan_next(b.data, b.len, NONCE2, &skip), 0);
	assert_int_equal(skip, b.len);
	record_buf_fini(&b);
}

/*
 * A body carrying forged headers: a whole valid record of another segment,
 * and a header with the right magic (as if guessed) but an unkeyed CRC.
 * Neither confuses the decoder nor the scanner.
 */
static void
test_forged_header_in_body(void **state)
{
	struct record_buf other, b;
	struct record_done d = {.time_us = 1};
	struct record_key k;
	struct record_msg m;
	struct record_view v;
	struct record_extent x, xd;
	uint8_t body[512];
	size_t skip, sh;
	uint8_t *scan;

	(void)state;
	record_buf_init(&other);
	assert_int_equal(record_done_encode(&other, NONCE2, 1, &d, NULL), 0);
	memset(body, 'A', sizeof(body));
	/* Place them where they are 8-aligned in the segment. */
	record_buf_init(&b);
	msg_init(&m);
	x = enc_msg(&b, &m, &rcpt_xy, 1, body, sizeof(body), 1);
	sh = (RECORD_ALIGN - x.body_off % RECORD_ALIGN) % RECORD_ALIGN;
	record_buf_fini(&b);
	memcpy(body + sh + 16, other.data, other.len);
	record_key_init(&k, NONCE);
	for (size_t o = sh + 200; o + RECORD_HDR_SIZE <= 440; o += 40) {
		memcpy(body + o, other.data, RECORD_HDR_SIZE);
		tw_le(body + o, k.magic, 4);
		tw_le(body + o + 36, crc32c(0, body + o, 36), 4);
	}
	record_buf_init(&b);
	x = enc_msg(&b, &m, &rcpt_xy, 1, body, sizeof(body), 1);
	assert_int_equal(record_done_encode(&b, NONCE, 2, &d, &xd), 0);

	assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
	assert_int_equal(v.size, x.size);
	assert_int_equal(v.body_len, sizeof(body));
	/* Scanning from anywhere inside the MSG lands on the DONE record. */
	for (size_t from = RECORD_ALIGN; from < x.size; from += RECORD_ALIGN) {
		scan = b.data + from;
		assert_int_equal(
		    record_scan_next(scan, b.len - from, NONCE, &skip), 1);
		assert_int_equal(from + skip, xd.off);
	}
	/* Even with the MSG header destroyed, resync skips its body. */
	b.data[1] ^= 0x40;
	assert_int_equal(record_decode(b.data, b.len, NONCE, &v), -EBADMSG);
	assert_int_equal(record_scan_next(b.data + RECORD_ALIGN,
					  b.len - RECORD_ALIGN, NONCE, &skip),
			 1);
	assert_int_equal(RECORD_ALIGN + skip, xd.off);
	record_buf_fini(&other);
	record_buf_fini(&b);
}

/* Corrupt the middle record; resync finds the next one. */
static void
test_resync(void **state)
{
	struct record_buf b;
	struct record_extent x[3];
	struct record_view v;
	size_t skip, from;
	const size_t spots[] = {0, 4, 20, 36, 40, 45};

	(void)state;
	for (size_t s = 0; s < nitems(spots); s++) {
		three_records(&b, x);
		if (spots[s] == 45)
			memset(b.data + x[1].off, 0, x[1].size); /* zeroed */
		else
			b.data[x[1].off + spots[s]] ^= 0x10;
		assert_int_equal(record_decode(b.data, b.len, NONCE, &v), 1);
		assert_int_equal(record_decode(b.data + x[1].off,
					       b.len - x[1].off, NONCE, &v),
				 -EBADMSG);
		from = x[1].off + RECORD_ALIGN;
		assert_int_equal(
		    record_scan_next(b.data + from, b.len - from, NONCE, &skip),
		    1);
		assert_int_equal(from + skip, x[2].off);
		assert_int_equal(record_decode(b.data + from + skip,
					       b.len - from - skip, NONCE, &v),
				 1);
		assert_int_equal(v.type, RECORD_T_DONE);
		record_buf_fini(&b);
	}
}

/* The scanner asks for more bytes at a header prefix, and resumes. */
static void
test_scan_partial(void **state)
{
	struct record_buf b;
	struct record_extent x[3];
	size_t skip, from;
	uint8_t junk[64], magic[4];
	struct record_key k;

	(void)state;
	record_key_init(&k, NONCE);
	tw_le(magic, k.magic, 4);
	three_records(&b, x);
	from = x[1].off + RECORD_ALIGN;
	for (size_t n = 0; n < x[2].off - from + RECORD_HDR_SIZE; n++) {
		int rc = record_scan_next(b.data + from, n, NONCE, &skip);

		assert_int_equal(rc, 0);
		/* Not found yet: resume at the header or past the data. */
		assert_int_equal(skip % RECORD_ALIGN, 0);
		assert_true(skip <= ((n + 7) & ~(size_t)7));
		if (skip < n && from + skip != x[2].off)
			assert_memory_equal(
			    b.data + from + skip, magic,
			    MIN(4, n - skip)); /* a magic prefix by chance */
	}
	assert_int_equal(record_scan_next(b.data + from,
					  x[2].off - from + RECORD_HDR_SIZE,
					  NONCE, &skip),
			 1);
	assert_int_equal(from + skip, x[2].off);
	/* Junk and zeros only: nothing, resume past the end. */
	memset(junk, 0, sizeof(junk));
	assert_int_equal(record_scan_next(junk, 61, NONCE, &skip), 0);
	assert_int_equal(skip, 64);
	assert_int_equal(record_scan_next(junk, 0, NONCE, &skip), 0);
	assert_int_equal(skip, 0);
	assert_int_equal(record_scan_next(NULL, 0, NONCE, &skip), 0);
	record_buf_fini(&b);
}

/* Length fields near and past the caps, with valid keyed CRCs. */
static void
test_huge_lengths(void **state)
{
	struct tw w = {0};
	struct tw_hdr h = {.type = RECORD_T_MSG, .version = 1};
	struct record_view v;
	uint8_t *rec;
	size_t size;
	const struct {
		uint32_t plen, hlen; /* 0: the real length */
		int rc;
	} cases[] = {
	    {0xffffffffu, 0, -EBADMSG},
	    {0xffffffffu, 0xffffffffu, -EBADMSG},
	    {RECORD_PAYLOAD_MAX + 1u, 0, -EBADMSG},
	    {RECORD_PAYLOAD_MAX, 0, 0},
	    {RECORD_PAYLOAD_MAX, RECORD_PAYLOAD_MAX, 0},
	    {1000, 1001, -EBADMSG},
	    {0x7fffffffu, 8, -EBADMSG},
	    {0, 0, 1},
	};

	(void)state;
	tw_msg_env(&w, 99);
	tw_tlv(&w, RECORD_TAG_END, NULL, 0);
	for (size_t i = 0; i < nitems(cases); i++) {
		h.plen_override = cases[i].plen;
		h.hlen_override = cases[i].hlen;
		rec = tw_record(&h, w.p, w.len, NULL, 0, NONCE, &size);
		assert_int_equal(record_decode(rec, size, NONCE, &v),
				 cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(v.size,
					 RECORD_HDR_SIZE + RECORD_PAYLOAD_MAX);
		free(rec);
	}
	/* A TLV claiming 4 GiB inside a small head. */
	h.plen_override = h.hlen_override = 0;
	tw_le(w.p + 2, 0xffffffffu, 4);
	rec = tw_record(&h, w.p, w.len, NULL, 0, NONCE, &size);
	assert_int_equal(record_decode(rec, size, NONCE, &v), -EBADMSG);
	free(rec);
	free(w.p);
}

/* TLVs overrunning their region by 1..7 bytes, or cut inside the TLV
 * header; records are allocated to the byte so ASan sees any overread. */
static void
test_tlv_overrun(void **state)
{
	struct tw_hdr h = {.type = RECORD_T_DONE, .version = 1};
	struct record_view v;

	(void)state;
	for (uint32_t k = 1; k <= 8 + RECORD_TLV_HDR_SIZE; k++) {
		struct tw w = {0}, n = {0};
		uint8_t *rec, *exact;
		size_t size;

		/* DONE: TIME claims 8 bytes, or its header is cut short. */
		tw_tlv(&w, RECORD_TAG_MSGID, tw_id, 16);
		tw_uint(&w, RECORD_TAG_TIME, 1, 8);
		w.len -= k;
		rec = tw_record(&h, w.p, w.len, NULL, 0, NONCE, &size);
		exact = malloc(RECORD_HDR_SIZE + w.len);
		memcpy(exact, rec, RECORD_HDR_SIZE + w.len);
		assert_int_equal(record_decode_head(
				     exact, RECORD_HDR_SIZE + w.len, NONCE, &v),
				 -EBADMSG);
		free(exact);
		free(rec);
		/* A nested recipient whose ADDR claims k more bytes. */
		w.len = 0;
		tw_msg_env(&w, RECORD_TAG_RCPT);
		tw_tlv(&n, RECORD_TAG_ADDR, "abcdefgh", 8);
		tw_le(n.p + 2, 8 + k, 4);
		tw_tlv(&w, RECORD_TAG_RCPT, n.p, n.len);
		tw_tlv(&w, RECORD_TAG_END, NULL, 0);
		h.type = RECORD_T_MSG;
		rec = tw_record(&h, w.p, w.len, NULL, 0, NONCE, &size);
		assert_int_equal(record_decode(rec, size, NONCE, &v), -EBADMSG);
		h.type = RECORD_T_DONE;
		free(rec);
		free(w.p);
		free(n.p);
	}
}

/* Invert splitmix64's finaliser to find the nonce whose magic would be 0.
 */
static uint64_t
unxorshift(uint64_t x, unsigned s)
{
	uint64_t y = x;

	for (int i = 0; i < 64; i++)
		y = x ^ (y >> s);
	return y;
}

static uint64_t
inv_mul(uint64_t c)
{
	uint64_t inv = c;

	for (int i = 0; i < 6; i++)
		inv *= 2 - c * inv;
	return inv;
}

static void
test_magic_never_zero(void **state)
{
	uint64_t z = UINT64_C(0x1234567800000000);
	struct record_key k;
	struct record_buf b;
	struct record_done d = {.time_us = 1};
	struct record_view v;

	(void)state;
	z = unxorshift(z, 31) * inv_mul(UINT64_C(0x94d049bb133111eb));
	z = unxorshift(z, 27) * inv_mul(UINT64_C(0xbf58476d1ce4e5b9));
	z = unxorshift(z, 30) - UINT64_C(0x9e3779b97f4a7c15);
	record_key_init(&k, z);
	assert_int_equal(k.seed, 0x12345678);
	assert_int_not_equal(k.magic, 0);
	record_buf_init(&b);
	assert_int_equal(record_done_encode(&b, z, 1, &d, NULL), 0);
	assert_int_equal(record_decode(b.data, b.len, z, &v), 1);
	memset(b.data, 0, 4);
	assert_int_equal(record_decode(b.data, b.len, z, &v), -EBADMSG);
	record_buf_fini(&b);
}

struct dcase {
	const char *name;
	uint8_t type, version;
	uint16_t flags;
	uint32_t rsvd;
	unsigned omit;    /* MSG: leave this tag out of the base envelope */
	int no_base;      /* do not add the base envelope/fields */
	uint16_t tag;     /* an extra TLV (0xffff: none) */
	uint32_t len;     /* its length */
	const char *val;  /* its value (NULL: len bytes of 'x') */
	int no_end;       /* MSG: leave out END */
	const char *tail; /* MSG: bytes after END inside the head */
	int rc;
};

#define NOTAG 0xffff

/* Build the head for a table case. */
static void
dcase_head(const struct dcase *c, struct tw *w)
{
	uint8_t fill[RECORD_ADDR_MAX + 8];

	memset(fill, 'x', sizeof(fill));
	if (!c->no_base && c->type == RECORD_T_MSG)
		tw_msg_env(w, c->omit);
	if (!c->no_base && c->type == RECORD_T_RCPT) {
		tw_tlv(w, RECORD_TAG_MSGID, tw_id, 16);
		tw_uint(w, RECORD_TAG_INDEX, 0, 4);
		if (c->omit != RECORD_TAG_STATE)
			tw_uint(w, RECORD_TAG_STATE, RECORD_RS_DELIVERED, 1);
		tw_uint(w, RECORD_TAG_TIME, 1, 8);
	}
	if (!c->no_base && c->type == RECORD_T_DONE) {
		tw_tlv(w, RECORD_TAG_MSGID, tw_id, 16);
		if (c->omit != RECORD_TAG_TIME)
			tw_uint(w, RECORD_TAG_TIME, 1, 8);
	}
	if (c->tag != NOTAG)
		tw_tlv(w, c->tag, c->val ? (const void *)c->val : fill, c->len);
	if (c->type == RECORD_T_MSG && !c->no_end)
		tw_tlv(w, RECORD_TAG_END, NULL, 0);
	if (c->tail != NULL)
		tw_bytes(w, c->tail, strlen(c->tail));
}

#define T_MSG     RECORD_T_MSG, 1, 0, 0
#define T_RCPT    RECORD_T_RCPT, 1, 0, 0
#define T_DONE    RECORD_T_DONE, 1, 0, 0
#define NESTED(s) sizeof(s) - 1, (s)

/* Table-driven: valid and invalid heads and headers, built by hand. */
static void
test_decode_table(void **state)
{
	static const struct dcase cases[] = {
	    {"msg ok", T_MSG, 0, 0, NOTAG, 0, NULL, 0, NULL, 1},
	    {"msg no msgid", T_MSG, RECORD_TAG_MSGID, 0, NOTAG, 0, NULL, 0,
	     NULL, -EBADMSG},
	    {"msg no received", T_MSG, RECORD_TAG_RECEIVED, 0, NOTAG, 0, NULL,
	     0, NULL, -EBADMSG},
	    {"msg no sender", T_MSG, RECORD_TAG_SENDER, 0, NOTAG, 0, NULL, 0,
	     NULL, -EBADMSG},
	    {"msg no rcpt", T_MSG, RECORD_TAG_RCPT, 0, NOTAG, 0, NULL, 0, NULL,
	     -EBADMSG},
	    {"msg no end", T_MSG, 0, 0, NOTAG, 0, NULL, 1, NULL, -EBADMSG},
	    {"msg end with value", T_MSG, 0, 0, RECORD_TAG_END, 1, "z", 1, NULL,
	     -EBADMSG},
	    {"msg bytes after end", T_MSG, 0, 0, NOTAG, 0, NULL, 0, "zzzzzz",
	     -EBADMSG},
	    {"msg empty sender", T_MSG, RECORD_TAG_SENDER, 0, RECORD_TAG_SENDER,
	     0, "", 0, NULL, 1},
	    {"msg dup sender", T_MSG, 0, 0, RECORD_TAG_SENDER, 1, "s", 0, NULL,
	     -EBADMSG},
	    {"msg msgid 15", T_MSG, RECORD_TAG_MSGID, 0, RECORD_TAG_MSGID, 15,
	     NULL, 0, NULL, -EBADMSG},
	    {"msg msgid 17", T_MSG, RECORD_TAG_MSGID, 0, RECORD_TAG_MSGID, 17,
	     NULL, 0, NULL, -EBADMSG},
	    {"msg received 4", T_MSG, RECORD_TAG_RECEIVED, 0,
	     RECORD_TAG_RECEIVED, 4, "1234", 0, NULL, -EBADMSG},
	    {"msg empty envid", T_MSG, 0, 0, RECORD_TAG_ENVID, 0, "", 0, NULL,
	     -EBADMSG},
	    {"msg envid max", T_MSG, 0, 0, RECORD_TAG_ENVID, RECORD_ENVID_MAX,
	     NULL, 0, NULL, 1},
	    {"msg envid max+1", T_MSG, 0, 0, RECORD_TAG_ENVID,
	     RECORD_ENVID_MAX + 1, NULL, 0, NULL, -EBADMSG},
	    {"msg sender max+1", T_MSG, RECORD_TAG_SENDER, 0, RECORD_TAG_SENDER,
	     RECORD_ADDR_MAX + 1, NULL, 0, NULL, -EBADMSG},
	    {"msg ret 2", T_MSG, 0, 0, RECORD_TAG_RET, 1, "\x02", 0, NULL, 1},
	    {"msg ret 3", T_MSG, 0, 0, RECORD_TAG_RET, 1, "\x03", 0, NULL,
	     -EBADMSG},
	    {"msg ret 0 written", T_MSG, 0, 0, RECORD_TAG_RET, 1, "\x00", 0,
	     NULL, -EBADMSG},
	    {"msg flags unknown bit", T_MSG, 0, 0, RECORD_TAG_MSG_FLAGS, 4,
	     "\x08\0\0\0", 0, NULL, -EBADMSG},
	    {"msg flags u16", T_MSG, 0, 0, RECORD_TAG_MSG_FLAGS, 2, "\x01\0", 0,
	     NULL, -EBADMSG},
	    {"msg unknown tag skipped", T_MSG, 0, 0, 0x0100, 3, "abc", 0, NULL,
	     1},
	    {"msg unknown critical", T_MSG, 0, 0, 0x8100, 3, "abc", 0, NULL,
	     -ENOTSUP},
	    {"msg known critical", T_MSG, 0, 0, 0x8000 | RECORD_TAG_ENVID, 1,
	     "e", 0, NULL, -ENOTSUP},
	    {"msg tag of rcpt record", T_MSG, 0, 0, RECORD_TAG_INDEX, 4,
	     "\0\0\0\0", 0, NULL, -EBADMSG},
	    {"msg nested tag at top", T_MSG, 0, 0, RECORD_TAG_ADDR, 3, "a@b", 0,
	     NULL, -EBADMSG},
	    {"rcpt empty addr", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\0\0\0\0"), 0, NULL, -EBADMSG},
	    {"rcpt no addr", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0c\0\x01\0\0\0\x02"), 0, NULL, -EBADMSG},
	    {"rcpt notify bad", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x0c\0\x01\0\0\0\x10"), 0, NULL,
	     -EBADMSG},
	    {"rcpt notify ok", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x0c\0\x01\0\0\0\x0f"), 0, NULL, 1},
	    {"rcpt nested end", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\0\0\0\0\0\0"), 0, NULL, -EBADMSG},
	    {"rcpt nested unknown", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x77\0\x01\0\0\0q"), 0, NULL, 1},
	    {"rcpt nested critical", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x77\x80\x01\0\0\0q"), 0, NULL, -ENOTSUP},
	    {"rcpt nested overrun", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x09\0\0\0a"), 0, NULL, -EBADMSG},
	    {"rcpt nested dup addr", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x0b\0\x01\0\0\0b"), 0, NULL, -EBADMSG},
	    {"rcpt nested short tlv", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x0b\0"), 0, NULL, -EBADMSG},
	    {"msg trailing 3 bytes", T_MSG, 0, 0, NOTAG, 0, NULL, 1,
	     "\x01\x01\x01", -EBADMSG},
	    {"version 2", RECORD_T_MSG, 2, 0, 0, 0, 0, NOTAG, 0, NULL, 0, NULL,
	     -ENOTSUP},
	    {"version 0", RECORD_T_MSG, 0, 0, 0, 0, 0, NOTAG, 0, NULL, 0, NULL,
	     -EBADMSG},
	    {"type 0", 0, 1, 0, 0, 0, 1, NOTAG, 0, NULL, 0, NULL, -EBADMSG},
	    {"type unknown", 9, 1, 0, 0, 0, 1, 0x0100, 1, "z", 0, NULL,
	     -ENOTSUP},
	    {"type unknown skippable", 9, 1, RECORD_F_SKIPPABLE, 0, 0, 1,
	     0x0100, 1, "z", 0, NULL, 1},
	    {"flag unknown", RECORD_T_MSG, 1, 0x0004, 0, 0, 0, NOTAG, 0, NULL,
	     0, NULL, -ENOTSUP},
	    {"reserved set", RECORD_T_MSG, 1, 0, 1, 0, 0, NOTAG, 0, NULL, 0,
	     NULL, -EBADMSG},
	    {"rcpt ok", T_RCPT, 0, 0, NOTAG, 0, NULL, 0, NULL, 1},
	    {"rcpt copy flag", RECORD_T_RCPT, 1, RECORD_F_COPY, 0, 0, 0, NOTAG,
	     0, NULL, 0, NULL, -EBADMSG},
	    {"rcpt no state", T_RCPT, RECORD_TAG_STATE, 0, NOTAG, 0, NULL, 0,
	     NULL, -EBADMSG},
	    {"rcpt state 6", T_RCPT, RECORD_TAG_STATE, 0, RECORD_TAG_STATE, 1,
	     "\x06", 0, NULL, -EBADMSG},
	    {"rcpt deferred no next", T_RCPT, RECORD_TAG_STATE, 0,
	     RECORD_TAG_STATE, 1, "\x01", 0, NULL, -EBADMSG},
	    {"rcpt next without deferred", T_RCPT, 0, 0, RECORD_TAG_NEXT_TRY, 8,
	     "\x01\0\0\0\0\0\0\0", 0, NULL, -EBADMSG},
	    {"rcpt count 0", T_RCPT, 0, 0, RECORD_TAG_COUNT, 4, "\0\0\0\0", 0,
	     NULL, -EBADMSG},
	    {"rcpt count max", T_RCPT, 0, 0, RECORD_TAG_COUNT, 4,
	     "\xa0\x86\x01\0", 0, NULL, 1},
	    {"rcpt count max+1", T_RCPT, 0, 0, RECORD_TAG_COUNT, 4,
	     "\xa1\x86\x01\0", 0, NULL, -EBADMSG},
	    {"rcpt end tag", T_RCPT, 0, 0, RECORD_TAG_END, 0, "", 0, NULL,
	     -EBADMSG},
	    {"rcpt text max", T_RCPT, 0, 0, RECORD_TAG_TEXT, RECORD_TEXT_MAX,
	     NULL, 0, NULL, 1},
	    {"rcpt text max+1", T_RCPT, 0, 0, RECORD_TAG_TEXT,
	     RECORD_TEXT_MAX + 1, NULL, 0, NULL, -EBADMSG},
	    {"rcpt sender tag", T_RCPT, 0, 0, RECORD_TAG_SENDER, 1, "a", 0,
	     NULL, -EBADMSG},
	    {"rcpt unknown tag", T_RCPT, 0, 0, 0x0200, 0, "", 0, NULL, 1},
	    {"done ok", T_DONE, 0, 0, NOTAG, 0, NULL, 0, NULL, 1},
	    {"done no time", T_DONE, RECORD_TAG_TIME, 0, NOTAG, 0, NULL, 0,
	     NULL, -EBADMSG},
	    {"done dup msgid", T_DONE, 0, 0, RECORD_TAG_MSGID, 16,
	     "0123456789abcdef", 0, NULL, -EBADMSG},
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		const struct dcase *c = &cases[i];
		struct tw w = {0};
		struct tw_hdr h = {c->type, c->version, c->flags, 7,
				   c->rsvd, 0,          0};
		struct record_view v;
		uint8_t *rec;
		size_t size;
		int rc, rch;

		dcase_head(c, &w);
		rec = tw_record(&h, w.p, w.len, (const uint8_t *)"body", 4,
				NONCE, &size);
		if (c->type != RECORD_T_MSG) {
			free(rec); /* no body outside MSG */
			rec = tw_record(&h, w.p, w.len, NULL, 0, NONCE, &size);
		}
		rc = record_decode(rec, size, NONCE, &v);
		rch = record_decode_head(rec, size, NONCE, &v);
		if (rc != c->rc || rch != c->rc)
			fail_msg("%s: decode %d, head %d, want %d", c->name, rc,
				 rch, c->rc);
		free(rec);
		free(w.p);
	}
}

/*
 * record_buf_fini() pools the allocation and the next buffer to grow takes
 * it (no regrowth); the pool is bounded in count and bytes; a record
 * encoded into a pooled buffer is the same as into a fresh one.
 */
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
	msg_init(&m);
	record_buf_init(&a);
	xa = enc_msg(&a, &m, &rcpt_xy, 1, body, sizeof(body), 5);
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
	xb = enc_msg(&b, &m, &rcpt_xy, 1, body, sizeof(body), 5);
	assert_ptr_equal(b.data, first);
	assert_int_equal(b.cap, cap);
	assert_int_equal(record_buf_pool_count(NULL), 0);
	assert_int_equal(xb.size, xa.size);
	assert_memory_equal(b.data, copy, xa.size);
	free(copy);

	/* At most RECORD_POOL_MAX allocations are kept. */
	for (size_t i = 0; i < nitems(bufs); i++) {
		record_buf_init(&bufs[i]);
		(void)enc_msg(&bufs[i], &m, &rcpt_xy, 1, body, 16, 1);
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
	struct record_msg_rcpt r = rcpt_xy, ro;
	struct record_enc e;
	struct record_view v;
	struct tw w = {0}, rc = {0};
	struct tw_hdr h = {.type = RECORD_T_MSG, .version = 1};
	size_t pos = 0, n = 0, size;
	uint8_t *rec;

	(void)state;
	record_buf_init(&b);
	msg_init(&m);
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

		msg_init(&m);
		r = rcpt_xy;
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
	msg_init(&m);
	m.ret = RECORD_RET__COUNT;
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), -EINVAL);
	record_enc_abort(&e);
	m.ret = 0;
	m.flags = RECORD_MSG_F_ALL + 1;
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), -EINVAL);
	assert_int_equal(record_enc_end(&e, 1, NULL), -EINVAL);
	m.flags = 0;
	r = rcpt_xy;
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
	assert_int_equal(record_msg_add_rcpt(&e, &rcpt_xy), 0);
	assert_int_equal(record_msg_body_begin(&e, NULL), 0);
	assert_int_equal(record_msg_add_rcpt(&e, &rcpt_xy), -EINVAL);
	record_enc_abort(&e);
	assert_int_equal(record_msg_begin(&e, &b, NONCE, &m), 0);
	assert_int_equal(record_msg_add_rcpt(&e, &rcpt_xy), 0);
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
	assert_int_equal(record_msg_add_rcpt(&e, &rcpt_xy), 0);
	assert_int_equal(record_enc_end(&e, 1, NULL), 0);
	assert_int_equal(record_enc_end(&e, 1, NULL), -EINVAL); /* twice */
	assert_true(b.len > keep);
	b.len = keep;
	/* A streamed body over the payload cap; a huge n does not wrap. */
	record_buf_init(&b2);
	assert_int_equal(record_msg_begin(&e, &b2, NONCE, &m), 0);
	assert_int_equal(record_msg_add_rcpt(&e, &rcpt_xy), 0);
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
	rr.text = bytes(big, RECORD_TEXT_MAX + 1);
	assert_int_equal(record_rcpt_encode(&b, NONCE, 1, &rr, NULL),
			 -EMSGSIZE);
	rr.text = bytes(big, 0);
	rr.ecode = bytes(big, RECORD_ECODE_MAX + 1);
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
	msg_init(&m);
	x = enc_msg(&b, &m, &rcpt_xy, 1, body, sizeof(body), 1);
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
	    cmocka_unit_test(test_truncation_every_length),
	    cmocka_unit_test(test_every_bit_flip),
	    cmocka_unit_test(test_sequence_and_wrong_nonce),
	    cmocka_unit_test(test_forged_header_in_body),
	    cmocka_unit_test(test_resync),
	    cmocka_unit_test(test_scan_partial),
	    cmocka_unit_test(test_huge_lengths),
	    cmocka_unit_test(test_tlv_overrun),
	    cmocka_unit_test(test_magic_never_zero),
	    cmocka_unit_test(test_decode_table),
	    cmocka_unit_test(test_rcpt_cap),
	    cmocka_unit_test(test_buf_pool),
	    cmocka_unit_test(test_encode_errors),
	    cmocka_unit_test(test_decode_head_only),
	    cmocka_unit_test(test_segment_header),
	    cmocka_unit_test(test_zeros_and_empty),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
