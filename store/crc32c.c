/* SPDX-License-Identifier: MIT */
/*
 * crc32c.c: CRC-32C, hardware (SSE4.2) and slicing-by-8 software paths.
 *
 * Owns only the eight 256-entry tables and the CPU check, both set once by a
 * constructor (and again harmlessly on first use if another constructor gets
 * here first).  Must not do I/O or allocate.  Bytes are read one at a time
 * or with memcpy, so any alignment and either byte order works.
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

static uint32_t crc32c_table[8][256];
static int crc32c_ready;
static int crc32c_use_hw;

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
/* The crc32 instruction, 8 bytes per step; memcpy keeps loads unaligned-safe.
 */
__attribute__((target("sse4.2"))) uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		c = _mm_crc32_u64(c, v);
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
