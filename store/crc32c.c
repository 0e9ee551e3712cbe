/* SPDX-License-Identifier: MIT */
/*
 * crc32c.c: CRC-32C, hardware (SSE4.2) and slicing-by-8 software paths.
 *
 * The hardware path runs three crc32q streams side by side over long
 * buffers (the instruction's latency is three times its issue interval, so
 * one stream uses a third of it) and joins them with "shift by N zero
 * bytes" tables (Mark Adler's method): crc(A || B) = shift(crc(A), |B|)
 * ^ crc_from_0(B), the register being linear in its input.
 *
 * Owns only the eight 256-entry tables, the two shift tables and the CPU
 * check, all set once by a constructor (and again harmlessly on first use
 * if another constructor gets here first).  Must not do I/O or allocate.
 * Bytes are read one at a time or with memcpy, so any alignment and either
 * byte order works.
 */
#include "crc32c.h"

#include <string.h>

#include "compat.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#define CRC32C_HAVE_SSE42 1
#else
#define CRC32C_HAVE_SSE42 0
#endif

#define CRC32C_POLY 0x82F63B78u

/* Stream lengths of the three-way hardware loop (powers of two). */
#define CRC32C_LONG  8192u
#define CRC32C_SHORT 256u

static uint32_t crc32c_table[8][256];
/* crc32c_shift_*[k][b]: the register after LONG/SHORT zero bytes, for a
 * register holding only byte k = b. */
static uint32_t crc32c_shift_long[4][256];
static uint32_t crc32c_shift_short[4][256];
static int crc32c_ready;
static int crc32c_use_hw;

/* mat (32 columns over GF(2)) times vec. */
static uint32_t
crc32c_gf2_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;

	for (; vec != 0; vec >>= 1, mat++)
		if (vec & 1)
			sum ^= *mat;
	return sum;
}

static void
crc32c_gf2_square(uint32_t *sq, const uint32_t *mat)
{
	for (int n = 0; n < 32; n++)
		sq[n] = crc32c_gf2_times(mat, mat[n]);
}

/* Fill tab with the operator "append len zero bytes" (len a power of 2). */
static void
crc32c_shift_init(uint32_t tab[4][256], size_t len)
{
	uint32_t even[32], odd[32], row = 1, *op = even;

	odd[0] = CRC32C_POLY; /* one zero bit */
	for (int n = 1; n < 32; n++, row <<= 1)
		odd[n] = row;
	crc32c_gf2_square(even, odd); /* two zero bits */
	crc32c_gf2_square(odd, even); /* four */
	for (;;) {                    /* one byte, two, four, ... */
		crc32c_gf2_square(even, odd);
		op = even;
		len >>= 1;
		if (len == 0)
			break;
		crc32c_gf2_square(odd, even);
		op = odd;
		len >>= 1;
		if (len == 0)
			break;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int k = 0; k < 4; k++)
			tab[k][b] = crc32c_gf2_times(op, b << (8 * k));
}

static void
crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++) {
			uint32_t prev = crc32c_table[t - 1][i];

			crc32c_table[t][i] =
			    (prev >> 8) ^ crc32c_table[0][prev & 0xff];
		}
	crc32c_shift_init(crc32c_shift_long, CRC32C_LONG);
	crc32c_shift_init(crc32c_shift_short, CRC32C_SHORT);
#if CRC32C_HAVE_SSE42
	__builtin_cpu_init();
	crc32c_use_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
	crc32c_ready = 1;
}

__attribute__((constructor)) static void
crc32c_ctor(void)
{
	crc32c_init();
}

static uint32_t
crc32c_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Slicing-by-8: eight table lookups fold eight input bytes at a time. */
uint32_t
crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	const uint32_t(*t)[256] = (const uint32_t(*)[256])crc32c_table;

	if (unlikely(!crc32c_ready))
		crc32c_init();
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = crc32c_le32(p) ^ crc;
		uint32_t hi = crc32c_le32(p + 4);

		crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^
		      t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
		      t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
		      t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if CRC32C_HAVE_SSE42
/* The register after appending the shift table's length of zero bytes. */
static inline uint32_t
crc32c_shift(const uint32_t tab[4][256], uint32_t c)
{
	return tab[0][c & 0xff] ^ tab[1][(c >> 8) & 0xff] ^
	       tab[2][(c >> 16) & 0xff] ^ tab[3][c >> 24];
}

static inline uint64_t
crc32c_ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Three streams of n bytes each (n a multiple of 8) while 3n remain, joined
 * with tab (the n-zero-bytes operator).  Returns the register.
 */
__attribute__((target("sse4.2"))) static uint64_t
crc32c_hw3(uint64_t c0, const uint8_t **pp, size_t *lenp, size_t n,
	   const uint32_t tab[4][256])
{
	const uint8_t *p = *pp;
	size_t len = *lenp;

	while (len >= 3 * n) {
		uint64_t c1 = 0, c2 = 0;

		for (size_t i = 0; i < n; i += 8) {
			c0 = _mm_crc32_u64(c0, crc32c_ld64(p + i));
			c1 = _mm_crc32_u64(c1, crc32c_ld64(p + n + i));
			c2 = _mm_crc32_u64(c2, crc32c_ld64(p + 2 * n + i));
		}
		c0 = crc32c_shift(tab, (uint32_t)c0) ^ (uint32_t)c1;
		c0 = crc32c_shift(tab, (uint32_t)c0) ^ (uint32_t)c2;
		p += 3 * n;
		len -= 3 * n;
	}
	*pp = p;
	*lenp = len;
	return c0;
}

/* The crc32 instruction, 8 bytes per step, three streams on long runs. */
__attribute__((target("sse4.2"))) uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	if (unlikely(!crc32c_ready))
		crc32c_init();
	c = crc32c_hw3(c, &p, &len, CRC32C_LONG, crc32c_shift_long);
	c = crc32c_hw3(c, &p, &len, CRC32C_SHORT, crc32c_shift_short);
	while (len >= 8) {
		c = _mm_crc32_u64(c, crc32c_ld64(p));
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#else
/* No SSE4.2 on this architecture: the hardware name maps to the table. */
uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return crc32c_sw(crc, buf, len);
}
#endif

/* 1 when the hardware path is usable on this CPU. */
int
crc32c_hw_available(void)
{
	if (unlikely(!crc32c_ready))
		crc32c_init();
	return crc32c_use_hw;
}

/* Dispatch to the fastest path this CPU supports. */
uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	if (unlikely(!crc32c_ready))
		crc32c_init();
	if (crc32c_use_hw)
		return crc32c_hw(crc, buf, len);
	return crc32c_sw(crc, buf, len);
}
