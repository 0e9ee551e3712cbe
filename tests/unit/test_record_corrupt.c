/* SPDX-License-Identifier: MIT */
/*
 * test_record_corrupt: the record codec against damage: truncation at
 * every length, every single-bit flip, wrong nonces, headers forged inside
 * bodies, resync, huge lengths, TLV overruns, and a magic never zero.
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
three_records(struct record_buf *b, struct record_extent x[3])
{
	struct record_msg m;
	struct record_rcpt r = {.index = 0,
				.state = RECORD_RS_BOUNCED,
				.code = 550,
				.text = rfx_bytes("no such user", 12)};
	struct record_done d = {.time_us = 5};

	record_buf_init(b);
	rfx_msg_init(&m);
	x[0] = rfx_enc_msg(b, &m, &rfx_rcpt_xy, 1, "hello\r\n", 7, 1);
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
	rfx_msg_init(&m);
	x = rfx_enc_msg(&b, &m, &rfx_rcpt_xy, 1, body, sizeof(body), 1);
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
	x = rfx_enc_msg(&b, &m, &rfx_rcpt_xy, 1, body, sizeof(body), 1);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_truncation_every_length),
	    cmocka_unit_test(test_every_bit_flip),
	    cmocka_unit_test(test_sequence_and_wrong_nonce),
	    cmocka_unit_test(test_forged_header_in_body),
	    cmocka_unit_test(test_resync),
	    cmocka_unit_test(test_scan_partial),
	    cmocka_unit_test(test_huge_lengths),
	    cmocka_unit_test(test_tlv_overrun),
	    cmocka_unit_test(test_magic_never_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
