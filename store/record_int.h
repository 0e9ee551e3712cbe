/* SPDX-License-Identifier: MIT */
/*
 * record_int.h: what record.c (tables, encoder) and record_dec.c (walker,
 * decoder) share: the header offsets, the field descriptors and the
 * little-endian helpers.  Internal to store/record*.c; everyone else uses
 * record.h.
 */
#ifndef RINGMTA_RECORD_INT_H
#define RINGMTA_RECORD_INT_H

#include <stddef.h>
#include <stdint.h>

/* Record header offsets (docs/SPOOL.md, "Record header"). */
#define RECORD_H_TYPE    4
#define RECORD_H_VERSION 5
#define RECORD_H_FLAGS   6
#define RECORD_H_SEQ     8
#define RECORD_H_PLEN    16
#define RECORD_H_HLEN    20
#define RECORD_H_HCRC    24
#define RECORD_H_BCRC    28
#define RECORD_H_RSVD    32
#define RECORD_H_CRC     36

/* Field kinds: how a struct member maps to a TLV value. */
#define RECORD_K_BYTES 0 /* struct record_bytes, 0..max bytes */
#define RECORD_K_FIXED 1 /* uint8_t[size], exactly size bytes */
#define RECORD_K_UINT  2 /* unsigned of size bytes, little-endian, <= max */
#define RECORD_K_NEST  3 /* repeated nested TLVs, counted in a uint32_t */

#define RECORD_FF_REQ      1u /* must be present (written even if 0/empty) */
#define RECORD_FF_NONEMPTY 2u /* bytes: at least one */

/* One TLV field of a record type: a struct member and its limits. */
struct record_field {
	uint8_t tag;
	uint8_t kind;
	uint8_t flags;
	uint8_t size; /* sizeof the struct member */
	uint64_t max; /* bytes: longest; uint: largest; nest: most */
	size_t off;   /* offsetof the struct member */
};

/* A record type's (or a nested group's) fields. */
struct record_spec {
	const struct record_field *f;
	size_t n;
	int terminated;                 /* ends with END (the MSG head) */
	const struct record_spec *nest; /* for the RECORD_K_NEST field */
};

/* The field tables of record.c, walked by the encoder and the decoder. */
extern const struct record_spec record_msg_spec;   /* MSG head */
extern const struct record_spec record_mrcpt_spec; /* one MSG recipient */
extern const struct record_spec record_rcpt_spec;  /* RCPT */
extern const struct record_spec record_done_spec;  /* DONE */

/* Store the low n bytes of v at p, little-endian. */
void record_put_le(uint8_t *p, uint64_t v, size_t n);

/* The n-byte little-endian unsigned at p (n <= 8). */
uint64_t record_get_le(const uint8_t *p, size_t n);

/* The 4-byte little-endian unsigned at p. */
uint32_t record_get32(const uint8_t *p);

/* n rounded up to RECORD_ALIGN. */
size_t record_align(size_t n);

/* Native unsigned of 1, 2, 4 or 8 bytes at p (a struct member). */
uint64_t record_uint_load(const uint8_t *p, size_t size);

/* Store v as a native unsigned of 1, 2, 4 or 8 bytes at p. */
void record_uint_store(uint8_t *p, size_t size, uint64_t v);

#endif
