/* SPDX-License-Identifier: MIT */
/*
 * test_crc32c: published CRC-32C vectors, incremental use, and equality of
 * the SSE4.2 and slicing-by-8 paths on random data of every length/offset,
 * and on long buffers around the three-stream lengths (3 x 256 and
 * 3 x 8192 bytes) where the hardware path joins its streams.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

typedef uint32_t test_crc_fn(uint32_t, const void *, size_t);

struct test_vec {
	const char *name;
	const uint8_t *data;
	size_t len;
	uint32_t crc;
};

static uint8_t test_zeros[32];
static uint8_t test_ones[32];
static uint8_t test_inc[32];
static uint8_t test_dec[32];
/* RFC 3720 B.4: an iSCSI READ command PDU. */
static const uint8_t test_iscsi[48] = {
    0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
    0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static int
test_setup(void **state)
{
	(void)state;
	memset(test_ones, 0xff, sizeof(test_ones));
	for (size_t i = 0; i < 32; i++) {
		test_inc[i] = (uint8_t)i;
		test_dec[i] = (uint8_t)(31 - i);
	}
	return 0;
}

static void
test_check_vectors(test_crc_fn *fn)
{
	const struct test_vec vecs[] = {
	    {"check", (const uint8_t *)"123456789", 9, 0xE3069283u},
	    {"empty", NULL, 0, 0x00000000u},
	    {"a", (const uint8_t *)"a", 1, 0xC1D04330u},
	    {"zeros", test_zeros, 32, 0x8A9136AAu},
	    {"ones", test_ones, 32, 0x62A8AB43u},
	    {"inc", test_inc, 32, 0x46DD794Eu},
	    {"dec", test_dec, 32, 0x113FDB5Cu},
	    {"iscsi", test_iscsi, 48, 0xD9963A56u},
	};

	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		uint32_t got = fn(0, vecs[i].data, vecs[i].len);

		if (got != vecs[i].crc)
			fail_msg("%s: got %08x want %08x", vecs[i].name, got,
				 vecs[i].crc);
	}
}

static void
test_vectors_dispatch(void **state)
{
	(void)state;
	test_check_vectors(crc32c);
}

static void
test_vectors_sw(void **state)
{
	(void)state;
	test_check_vectors(crc32c_sw);
}

static void
test_vectors_hw(void **state)
{
	(void)state;
	/* Every x86-64 machine we build on has SSE4.2; elsewhere the hw name
	 * is the table and the vectors must still hold. */
#if defined(__x86_64__)
	assert_int_equal(crc32c_hw_available(), 1);
#endif
	test_check_vectors(crc32c_hw);
}

/* Splitting the input at any point gives the same CRC, on both paths. */
static void
test_incremental(void **state)
{
	uint8_t buf[300];
	test_crc_fn *fns[] = {crc32c, crc32c_sw, crc32c_hw};

	(void)state;
	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (size_t f = 0; f < 3; f++) {
		uint32_t whole = fns[f](0, buf, sizeof(buf));

		for (size_t cut = 0; cut <= sizeof(buf); cut++) {
			uint32_t c = fns[f](0, buf, cut);

			c = fns[f](c, buf + cut, sizeof(buf) - cut);
			assert_int_equal(c, whole);
		}
	}
}

/* hw == sw over buf[off..off+len) from a random seed. */
static void
test_hw_sw_same(const uint8_t *buf, size_t off, size_t len)
{
	uint32_t seed = (uint32_t)rand();
	uint32_t a = crc32c_sw(seed, buf + off, len);
	uint32_t b = crc32c_hw(seed, buf + off, len);

	if (a != b)
		fail_msg("off %zu len %zu: sw %08x hw %08x", off, len, a, b);
}

/* Random data at every offset 0..15 and length 0..1100: hw == sw. */
static void
test_hw_equals_sw(void **state)
{
	size_t n = 1200;
	uint8_t *buf = malloc(n);

	(void)state;
	assert_non_null(buf);
	srand(12345);
	for (size_t round = 0; round < 4; round++) {
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rand();
		for (size_t off = 0; off < 16; off++)
			for (size_t len = 0; len + off <= 1100; len++)
				test_hw_sw_same(buf, off, len);
	}
	free(buf);
}

/*
 * Long buffers: every length around the three-stream boundaries (3 x
 * 256, 3 x 8192 and their multiples), at odd offsets, hw == sw; a
 * flipped bit in each stream changes the hardware CRC; split anywhere,
 * the same CRC.
 */
static void
test_hw_equals_sw_long(void **state)
{
	static const size_t bases[] = {
	    768, 1536, 24576, 24576 + 768, 49152, 102400, 3 * 24576 + 2 * 768};
	size_t n = 102400 + 64;
	uint8_t *buf = malloc(n);

	(void)state;
	assert_non_null(buf);
	srand(777);
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)rand();
	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++)
		for (size_t len = bases[b] - 9; len <= bases[b] + 9; len++)
			for (size_t off = 0; off < 3; off++)
				test_hw_sw_same(buf, off, len);
	{
		size_t len = 102400;
		uint32_t whole = crc32c_hw(0, buf, len);
		const size_t flips[] = {5,         8192 + 5,        16384 + 5,
					24576 + 5, 24576 + 256 + 5, len - 1};
		const size_t cuts[] = {1, 767, 8193, 24575, 50000, len - 1};

		for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
			buf[flips[i]] ^= 0x10;
			assert_int_not_equal(crc32c_hw(0, buf, len), whole);
			assert_int_equal(crc32c_hw(0, buf, len),
					 crc32c_sw(0, buf, len));
			buf[flips[i]] ^= 0x10;
		}
		for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
			uint32_t c = crc32c_hw(0, buf, cuts[i]);

			c = crc32c_hw(c, buf + cuts[i], len - cuts[i]);
			assert_int_equal(c, whole);
		}
		assert_int_equal(crc32c(0, buf, len), whole);
	}
	free(buf);
}

/* A single flipped bit anywhere changes the CRC (CRCs detect
 * all of them). */
static void
test_single_bit_flips(void **state)
{
	uint8_t buf[64];

	(void)state;
	memcpy(buf, test_iscsi, sizeof(test_iscsi));
	memset(buf + 48, 0x5a, 16);
	uint32_t good = crc32c(0, buf, sizeof(buf));
	for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_not_equal(crc32c(0, buf, sizeof(buf)), good);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(crc32c(0, buf, sizeof(buf)), good);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors_dispatch),
	    cmocka_unit_test(test_vectors_sw),
	    cmocka_unit_test(test_vectors_hw),
	    cmocka_unit_test(test_incremental),
	    cmocka_unit_test(test_hw_equals_sw),
	    cmocka_unit_test(test_hw_equals_sw_long),
	    cmocka_unit_test(test_single_bit_flips),
	};

	return cmocka_run_group_tests(tests, test_setup, NULL);
}
