/* SPDX-License-Identifier: MIT */
/*
 * record_fixture.c: what the record codec tests share (test_record*.c):
 * records written by hand from the byte tables of docs/SPOOL.md (tw_*)
 * and small helpers around the codec (rfx_*).  Test code only: it
 * asserts, and it allocates with realloc/calloc (callers free).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "record_fixture.h"

/* ---- hand-made records, per docs/SPOOL.md ---- */

void
tw_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void
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

void
tw_tlv(struct tw *w, uint16_t tag, const void *p, size_t n)
{
	uint8_t h[6];

	tw_le(h, tag, 2);
	tw_le(h + 2, n, 4);
	tw_bytes(w, h, 6);
	tw_bytes(w, p, n);
}

void
tw_uint(struct tw *w, uint16_t tag, uint64_t v, size_t n)
{
	uint8_t b[8];

	tw_le(b, v, n);
	tw_tlv(w, tag, b, n);
}

/* Wrap head + body into a record keyed by nonce; returns malloc'd bytes. */
uint8_t *
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

const uint8_t tw_id[16] = "0123456789abcdef";

/* The minimal valid MSG envelope, optionally without one tag. */
void
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

struct record_bytes
rfx_bytes(const void *p, size_t n)
{
	struct record_bytes b = {p, n};

	return b;
}

void
rfx_assert_bytes(struct record_bytes got, const void *want, size_t n)
{
	assert_int_equal(got.len, n);
	if (n > 0)
		assert_memory_equal(got.p, want, n);
}

void
rfx_msg_init(struct record_msg *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->id, tw_id, 16);
	m->received_us = 1700000000000000u;
	m->sender = rfx_bytes("a@b", 3);
}

/* Encode a MSG with n recipients and a body into b; returns the extent. */
struct record_extent
rfx_enc_msg(struct record_buf *b, const struct record_msg *m,
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

const struct record_msg_rcpt rfx_rcpt_xy = {
    {(const uint8_t *)"x@y", 3}, 0, {NULL, 0}};
