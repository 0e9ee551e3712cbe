/* SPDX-License-Identifier: MIT */
/*
 * record_fixture.h: shared by the record codec tests (test_record*.c):
 * hand-made records (tw_*, straight from docs/SPOOL.md, so the codec is
 * checked against the format and not only against itself) and helpers
 * around the codec (rfx_*).  Test code only: it asserts.
 */
#ifndef RINGMTA_RECORD_FIXTURE_H
#define RINGMTA_RECORD_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define NONCE  UINT64_C(0x0123456789abcdef)
#define NONCE2 UINT64_C(0xfedcba9876543210)

/* A growing byte string; free(p) when done. */
struct tw {
	uint8_t *p;
	size_t len, cap;
};

/* Header fields of a hand-made record. */
struct tw_hdr {
	uint8_t type, version;
	uint16_t flags;
	uint64_t seq;
	uint32_t rsvd;
	uint32_t plen_override; /* 0: real length */
	uint32_t hlen_override; /* 0: real head length */
};

/* The MSGID every hand-made record uses. */
extern const uint8_t tw_id[16];
/* Store v little-endian in n bytes. */
void tw_le(uint8_t *p, uint64_t v, size_t n);
/* Append n bytes / one TLV / one n-byte unsigned TLV to w. */
void tw_bytes(struct tw *w, const void *p, size_t n);
void tw_tlv(struct tw *w, uint16_t tag, const void *p, size_t n);
void tw_uint(struct tw *w, uint16_t tag, uint64_t v, size_t n);
/* Wrap head + body into a record keyed by nonce; returns malloc'd bytes
 * (*size_r of them, padding included). */
uint8_t *tw_record(const struct tw_hdr *h, const uint8_t *head, size_t hlen,
		   const uint8_t *body, size_t blen, uint64_t nonce,
		   size_t *size_r);
/* Append the minimal valid MSG envelope, without tag omit (0: none). */
void tw_msg_env(struct tw *w, unsigned omit);

/* A record_bytes view of p[0..n). */
struct record_bytes rfx_bytes(const void *p, size_t n);
/* Assert that got holds exactly want[0..n). */
void rfx_assert_bytes(struct record_bytes got, const void *want, size_t n);
/* The minimal valid message: tw_id, a time, sender "a@b". */
void rfx_msg_init(struct record_msg *m);
/* Encode a MSG with n recipients and a body into b (keyed by NONCE);
 * returns the extent. */
struct record_extent rfx_enc_msg(struct record_buf *b,
				 const struct record_msg *m,
				 const struct record_msg_rcpt *r, size_t n,
				 const void *body, size_t blen, uint64_t seq);
/* One recipient, "x@y". */
extern const struct record_msg_rcpt rfx_rcpt_xy;

#endif
