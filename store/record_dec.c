/* SPDX-License-Identifier: MIT */
/*
 * record_dec.c: the reading side of spool records: TLV walking against
 * record.c's field tables, header verification, decoding, resync after
 * damage, the typed parsers and segment headers.  Split from record.c.
 *
 * Owns nothing.  Must not do I/O, must not trust a length before the keyed
 * header CRC matches, and does all length arithmetic in size_t/uint64_t
 * against RECORD_PAYLOAD_MAX so that lengths near 2^32 cannot wrap.  The
 * byte layout is documented in docs/SPOOL.md.
 */
#include "record.h"

#include <errno.h>
#include <string.h>

#include "crc32c.h"
#include "record_int.h"

/* One TLV as found in a payload. */
struct record_tlv {
	uint16_t tag;
	const uint8_t *p;
	size_t len;
};

/* Read the TLV at *off in p[0, len): 1 and advance, 0 at the end. */
static int
record_tlv_next(const uint8_t *p, size_t len, size_t *off, struct record_tlv *t)
{
	size_t left = len - *off;

	if (left == 0)
		return 0;
	if (left < RECORD_TLV_HDR_SIZE)
		return -EBADMSG;
	t->tag = (uint16_t)record_get_le(p + *off, 2);
	t->len = record_get32(p + *off + 2);
	if (t->len > left - RECORD_TLV_HDR_SIZE)
		return -EBADMSG;
	t->p = p + *off + RECORD_TLV_HDR_SIZE;
	*off += RECORD_TLV_HDR_SIZE + t->len;
	return 1;
}

/* Check one TLV value against its field and store it into dst. */
static int
record_field_get(const struct record_field *f, const struct record_tlv *t,
		 void *dst)
{
	uint8_t *d = (uint8_t *)dst + f->off;
	struct record_bytes b = {t->p, t->len};
	uint64_t v;

	switch (f->kind) {
	case RECORD_K_BYTES:
		if (t->len > f->max ||
		    (t->len == 0 && (!(f->flags & RECORD_FF_REQ) ||
				     (f->flags & RECORD_FF_NONEMPTY))))
			return -EBADMSG; /* empty optional: never written */
		memcpy(d, &b, sizeof(b));
		return 0;
	case RECORD_K_FIXED:
		if (t->len != f->size)
			return -EBADMSG;
		memcpy(d, t->p, f->size);
		return 0;
	}
	if (t->len != f->size)
		return -EBADMSG;
	v = record_get_le(t->p, f->size);
	if (v > f->max || (v == 0 && !(f->flags & RECORD_FF_REQ)))
		return -EBADMSG; /* zero optional: never written */
	record_uint_store(d, f->size, v);
	return 0;
}

static int record_walk(const struct record_spec *s, const uint8_t *p,
		       size_t len, void *dst, size_t *used_r);

/* A nested recipient: validate it and count it (capped). */
static int
record_nest_get(const struct record_spec *s, const struct record_field *f,
		const struct record_tlv *t, void *dst)
{
	struct record_msg_rcpt r;
	uint8_t *d = (uint8_t *)dst + f->off;
	uint64_t count = record_uint_load(d, f->size);
	int rc;

	memset(&r, 0, sizeof(r));
	rc = record_walk(s->nest, t->p, t->len, &r, NULL);
	if (rc < 0)
		return rc;
	if (count >= f->max)
		return -EBADMSG;
	record_uint_store(d, f->size, count + 1);
	return 0;
}

/* Dispatch one TLV: unknown tags are skipped unless critical. */
static int
record_walk_one(const struct record_spec *s, const struct record_tlv *t,
		void *dst, uint64_t *seen)
{
	const struct record_field *f = NULL;
	uint64_t bit;

	if (t->tag & RECORD_TAG_CRITICAL)
		return -ENOTSUP; /* a newer writer says: do not ignore me */
	if (t->tag >= RECORD_TAG__COUNT)
		return 0; /* from a newer minor version: skippable */
	for (size_t i = 0; i < s->n && f == NULL; i++)
		if (s->f[i].tag == t->tag)
			f = &s->f[i];
	if (f == NULL)
		return -EBADMSG; /* a known tag in the wrong place */
	bit = 1ull << t->tag;
	if (f->kind == RECORD_K_NEST) {
		*seen |= bit;
		return record_nest_get(s, f, t, dst);
	}
	if (*seen & bit)
		return -EBADMSG;
	*seen |= bit;
	return record_field_get(f, t, dst);
}

/*
 * Walk the TLVs in p[0, len) against s, storing fields into dst (zeroed by
 * the caller).  A terminated spec stops after END and sets *used_r to the
 * bytes consumed; otherwise the TLVs must fill len exactly.
 */
static int
record_walk(const struct record_spec *s, const uint8_t *p, size_t len,
	    void *dst, size_t *used_r)
{
	uint64_t seen = 0;
	size_t off = 0;
	struct record_tlv t;
	int rc;

	for (;;) {
		rc = record_tlv_next(p, len, &off, &t);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if (s->terminated)
				return -EBADMSG;
			break;
		}
		if (t.tag == RECORD_TAG_END) {
			if (!s->terminated || t.len != 0)
				return -EBADMSG;
			break;
		}
		rc = record_walk_one(s, &t, dst, &seen);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < s->n; i++)
		if ((s->f[i].flags & RECORD_FF_REQ) &&
		    !(seen & (1ull << s->f[i].tag)))
			return -EBADMSG;
	if (used_r != NULL)
		*used_r = off;
	return 0;
}

/*
 * Is a valid record header at buf?  1 (v filled), 0 (a prefix of one:
 * every byte so far agrees) or -EBADMSG.  Lengths are read only after the
 * keyed header CRC matched.
 */
static int
record_hdr_check(const uint8_t *buf, size_t len, const struct record_key *k,
		 struct record_view *v)
{
	uint8_t magic[4];
	uint32_t plen, hlen;

	if (len == 0)
		return 0;
	record_put_le(magic, k->magic, 4);
	if (memcmp(buf, magic, MIN(len, sizeof(magic))) != 0)
		return -EBADMSG;
	if (len < RECORD_HDR_SIZE)
		return 0;
	if (record_get32(buf + RECORD_H_CRC) !=
	    crc32c(k->seed, buf, RECORD_H_CRC))
		return -EBADMSG;
	plen = record_get32(buf + RECORD_H_PLEN);
	hlen = record_get32(buf + RECORD_H_HLEN);
	if (plen > RECORD_PAYLOAD_MAX || hlen > plen ||
	    record_get32(buf + RECORD_H_RSVD) != 0 ||
	    buf[RECORD_H_TYPE] == RECORD_T_INVALID ||
	    buf[RECORD_H_VERSION] == 0)
		return -EBADMSG;
	v->type = buf[RECORD_H_TYPE];
	v->version = buf[RECORD_H_VERSION];
	v->flags = (uint16_t)record_get_le(buf + RECORD_H_FLAGS, 2);
	v->seq = record_get_le(buf + RECORD_H_SEQ, 8);
	v->payload = buf + RECORD_HDR_SIZE;
	v->payload_len = plen;
	v->head_len = hlen;
	v->body_len = plen - hlen;
	v->body_crc = record_get32(buf + RECORD_H_BCRC);
	v->size = RECORD_HDR_SIZE + record_align(plen);
	return 1;
}

/* What a valid header promises, checked before reading the payload. */
static int
record_hdr_semantics(const struct record_view *v)
{
	if (v->flags & ~RECORD_F_ALL)
		return -ENOTSUP;
	if (v->type >= RECORD_T__COUNT)
		return (v->flags & RECORD_F_SKIPPABLE) ? 0 : -ENOTSUP;
	if (v->version >
	    (v->type == RECORD_T_MSG ? RECORD_MSG_VERSION : RECORD_VERSION))
		return -ENOTSUP;
	if (v->type != RECORD_T_MSG &&
	    (v->head_len != v->payload_len || (v->flags & RECORD_F_COPY)))
		return -EBADMSG;
	return 0;
}

/* Full structural validation of a known type's head. */
static int
record_head_check(const struct record_view *v)
{
	struct record_msg m;
	struct record_rcpt r;
	struct record_done d;

	switch (v->type) {
	case RECORD_T_MSG:
		return record_msg_parse(v, &m);
	case RECORD_T_RCPT:
		return record_rcpt_parse(v, &r);
	case RECORD_T_DONE:
		return record_done_parse(v, &d);
	}
	return 0; /* unknown and skippable */
}

static int
record_decode_any(const uint8_t *buf, size_t len, uint64_t nonce,
		  struct record_view *v, int full)
{
	struct record_key k;
	const uint8_t *body;
	int rc;

	memset(v, 0, sizeof(*v));
	record_key_init(&k, nonce);
	rc = record_hdr_check(buf, len, &k, v);
	if (rc <= 0)
		return rc;
	rc = record_hdr_semantics(v);
	if (rc < 0)
		return rc;
	if (len - RECORD_HDR_SIZE < v->head_len)
		return 0;
	if (crc32c(k.seed, v->payload, v->head_len) !=
	    record_get32(buf + RECORD_H_HCRC))
		return -EBADMSG;
	rc = record_head_check(v);
	if (rc < 0 || !full)
		return rc < 0 ? rc : 1;
	if (len < v->size)
		return 0;
	body = v->payload + v->head_len;
	if (crc32c(k.seed, body, v->body_len) != v->body_crc)
		return -EBADMSG;
	for (size_t i = RECORD_HDR_SIZE + v->payload_len; i < v->size; i++)
		if (buf[i] != 0)
			return -EBADMSG;
	v->body = body;
	return 1;
}

/*
 * Verify and decode the whole record at buf (an 8-aligned segment offset)
 * of a segment keyed by nonce.  Returns 1 (v points into buf; the next
 * record starts at buf + v->size), 0 (consistent so far but len is short:
 * when v->size != 0 the record needs v->size bytes, else read at least
 * RECORD_HDR_SIZE), -EBADMSG (not a record, corrupt, malformed) or
 * -ENOTSUP (valid, but from a newer version: unknown critical tag, flag,
 * type or version).
 */
int
record_decode(const uint8_t *buf, size_t len, uint64_t nonce,
	      struct record_view *v)
{
	return record_decode_any(buf, len, nonce, v, 1);
}

/*
 * As record_decode(), but needs and verifies only the header and the head
 * (the MSG envelope; all of other records): replay need not read bodies.
 * v->body is NULL; verify the body when reading it (record_body_crc_init).
 * Returns 0 when fewer than RECORD_HDR_SIZE + v->head_len bytes are given.
 */
int
record_decode_head(const uint8_t *buf, size_t len, uint64_t nonce,
		   struct record_view *v)
{
	return record_decode_any(buf, len, nonce, v, 0);
}

/*
 * Resync after corruption: find the first 8-aligned offset in buf[0, len)
 * where a record header of this segment starts (magic, keyed header CRC,
 * sane lengths).  Pass buf = the failed position + RECORD_ALIGN.  Returns 1
 * with *skip_r = its offset (decode it there: its payload may still be bad),
 * or 0 with *skip_r = where to resume once more bytes are available (a
 * header prefix near the end, or len rounded up to 8 when nothing was
 * found).  Message bodies cannot forge a header: the magic and the CRC seed
 * are secret (64 bits together).
 */
int
record_scan_next(const uint8_t *buf, size_t len, uint64_t nonce, size_t *skip_r)
{
	struct record_key k;
	struct record_view v;
	size_t off;

	record_key_init(&k, nonce);
	for (off = 0; off < len; off += RECORD_ALIGN) {
		int rc = record_hdr_check(buf + off, len - off, &k, &v);

		if (rc >= 0) {
			*skip_r = off;
			return rc;
		}
	}
	*skip_r = off;
	return 0;
}

/*
 * Parse a MSG view (from record_decode or record_decode_head) into m:
 * pointers into the view's buffer.  Returns 0, -EINVAL (not a MSG),
 * -EBADMSG or -ENOTSUP.
 */
int
record_msg_parse(const struct record_view *v, struct record_msg *m)
{
	size_t used;
	int rc;

	memset(m, 0, sizeof(*m));
	if (v->type != RECORD_T_MSG)
		return -EINVAL;
	rc = record_walk(&record_msg_spec, v->payload, v->head_len, m, &used);
	if (rc < 0)
		return rc;
	if (used != v->head_len)
		return -EBADMSG; /* the body must start right after END */
	if (v->version < 2 && (m->flags & ~(uint32_t)RECORD_MSG_F_V1))
		return -EBADMSG; /* a bit version 1 did not define */
	m->copy = (v->flags & RECORD_F_COPY) != 0;
	m->body_off = RECORD_HDR_SIZE + v->head_len;
	m->body_len = v->body_len;
	m->body = v->body;
	m->body_crc = v->body_crc;
	m->env = v->payload;
	m->env_len = v->head_len;
	return 0;
}

/*
 * Iterate over a parsed MSG's recipients in index order: start with
 * *pos = 0.  Returns 1 (r filled, pointing into the buffer), 0 (no more)
 * or -EBADMSG.
 */
int
record_msg_rcpt_next(const struct record_msg *m, size_t *pos,
		     struct record_msg_rcpt *r)
{
	size_t off = *pos;
	struct record_tlv t;
	int rc;

	if (off > m->env_len)
		return -EBADMSG;
	for (;;) {
		rc = record_tlv_next(m->env, m->env_len, &off, &t);
		if (rc <= 0)
			return -EBADMSG; /* parse saw an END */
		if (t.tag == RECORD_TAG_END)
			return 0;
		if (t.tag != RECORD_TAG_RCPT)
			continue;
		memset(r, 0, sizeof(*r));
		rc = record_walk(&record_mrcpt_spec, t.p, t.len, r, NULL);
		if (rc < 0)
			return rc;
		*pos = off;
		return 1;
	}
}

/*
 * Parse a RCPT view into r (count is >= 1).  Returns 0, -EINVAL (not a
 * RCPT record), -EBADMSG or -ENOTSUP.
 */
int
record_rcpt_parse(const struct record_view *v, struct record_rcpt *r)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if (v->type != RECORD_T_RCPT)
		return -EINVAL;
	rc = record_walk(&record_rcpt_spec, v->payload, v->head_len, r, NULL);
	if (rc < 0)
		return rc;
	if (r->count == 0)
		r->count = 1;
	if ((uint64_t)r->index + r->count > RECORD_RCPT_MAX ||
	    (r->state == RECORD_RS_DEFERRED) != (r->next_try_us != 0))
		return -EBADMSG;
	return 0;
}

/* Parse a DONE view into d.  Returns 0, -EINVAL, -EBADMSG or -ENOTSUP. */
int
record_done_parse(const struct record_view *v, struct record_done *d)
{
	memset(d, 0, sizeof(*d));
	if (v->type != RECORD_T_DONE)
		return -EINVAL;
	return record_walk(&record_done_spec, v->payload, v->head_len, d, NULL);
}

/*
 * Write the 64-byte header of a new segment (this version's major, minor
 * and size; s->major/minor/hdr_size are ignored).  Returns 0 or -EINVAL
 * (unknown flag bits).
 */
int
record_seg_encode(const struct record_seg *s, uint8_t out[RECORD_SEG_HDR_SIZE])
{
	if (s->flags & ~RECORD_SEG_F_ALL)
		return -EINVAL;
	memset(out, 0, RECORD_SEG_HDR_SIZE);
	memcpy(out, RECORD_SEG_MAGIC, 8);
	record_put_le(out + 8, RECORD_SEG_MAJOR, 2);
	record_put_le(out + 10, RECORD_SEG_MINOR, 2);
	record_put_le(out + 12, RECORD_SEG_HDR_SIZE, 4);
	record_put_le(out + 16, s->number, 8);
	record_put_le(out + 24, s->created_us, 8);
	record_put_le(out + 32, s->nonce, 8);
	record_put_le(out + 40, s->flags, 4);
	record_put_le(out + RECORD_SEG_HDR_SIZE - 4,
		      crc32c(0, out, RECORD_SEG_HDR_SIZE - 4), 4);
	return 0;
}

/*
 * Verify and decode a segment header at the start of a file.  Returns 1
 * (s filled; records start at s->hdr_size), 0 (a consistent prefix: read
 * more), -EBADMSG (not a segment, or corrupt) or -ENOTSUP (another major
 * version, or flags this version does not know).
 */
int
record_seg_decode(const uint8_t *buf, size_t len, struct record_seg *s)
{
	uint32_t size;

	memset(s, 0, sizeof(*s));
	if (len == 0)
		return 0;
	if (memcmp(buf, RECORD_SEG_MAGIC, MIN(len, 8)) != 0)
		return -EBADMSG;
	if (len < 16)
		return 0;
	size = record_get32(buf + 12);
	if (size < RECORD_SEG_HDR_SIZE || size > RECORD_SEG_HDR_MAX ||
	    size % RECORD_ALIGN != 0)
		return -EBADMSG;
	if (len < size)
		return 0;
	if (record_get32(buf + size - 4) != crc32c(0, buf, size - 4))
		return -EBADMSG;
	s->major = (uint16_t)record_get_le(buf + 8, 2);
	s->minor = (uint16_t)record_get_le(buf + 10, 2);
	s->hdr_size = size;
	s->number = record_get_le(buf + 16, 8);
	s->created_us = record_get_le(buf + 24, 8);
	s->nonce = record_get_le(buf + 32, 8);
	s->flags = record_get32(buf + 40);
	if (s->major != RECORD_SEG_MAJOR || (s->flags & ~RECORD_SEG_F_ALL))
		return -ENOTSUP;
	return 1;
}
