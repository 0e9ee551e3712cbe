/* SPDX-License-Identifier: MIT */
/*
 * crc32c.h: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Owns the checksum that protects every spool segment header and record.
 * Pure functions over caller memory: no I/O, no allocation.  The dispatcher
 * uses the SSE4.2 crc32 instruction when the CPU has it and a slicing-by-8
 * table otherwise; both give the same result for every input.  The tables
 * are built once at load time (or on first use), so the functions are safe
 * to call from any thread afterwards.
 */
#ifndef RINGMTA_CRC32C_H
#define RINGMTA_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue a CRC-32C over len bytes at buf (buf may be NULL when len is 0).
 * Start with crc = 0; crc32c(crc32c(0, a), b) == crc32c(0, a || b), so a
 * checksum can be computed over pieces as they arrive.
 * crc32c(0, "123456789", 9) == 0xE3069283.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable slicing-by-8 path; same contract as crc32c(). */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/*
 * The SSE4.2 path; same contract as crc32c().  Call it only when
 * crc32c_hw_available() returns 1 (on other CPUs it is crc32c_sw()).
 */
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);

/* 1 when this CPU has the SSE4.2 crc32 instruction, else 0. */
int crc32c_hw_available(void);

#endif
