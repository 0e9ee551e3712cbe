/* SPDX-License-Identifier: MIT */
/*
 * ringsink_hash.h: the string hash of ringsink's keyed tables (64-bit
 * FNV-1a; prefix shash_), shared by the statistics tables
 * (ringsink_stats.c) and the fault rules' per-key counters
 * (ringsink_script_eval.c).  Header-only, so each lookup keeps it inlined.
 * Owns no table and no state; not meant to resist chosen collisions (the
 * tables are bounded instead).
 */
#ifndef RINGMTA_RINGSINK_HASH_H
#define RINGMTA_RINGSINK_HASH_H

#include <stdint.h>

/*
 * FNV-1a of the NUL-terminated key, its offset basis XORed with salt (0:
 * plain FNV-1a; a rule number keeps equal keys of two rules apart).
 */
static inline uint64_t
shash_str(uint64_t salt, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull ^ salt;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	return h;
}

#endif
