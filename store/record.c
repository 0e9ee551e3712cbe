/* SPDX-License-Identifier: MIT */
/*
 * record.c: spool segment headers and records: the field tables, keys,
 * buffers and the encoder (record_dec.c verifies, decodes and resyncs).
 *
 * Owns nothing but constant tables.  Every TLV field of every record type is
 * described once (record_*_fields[]); the encoder and the decoder both walk
 * those tables, so they cannot disagree.  Must not do I/O, must not trust a
 * length before the keyed header CRC matches, and does all length arithmetic
 * in size_t/uint64_t against RECORD_PAYLOAD_MAX so that lengths near 2^32
 * cannot wrap.  The byte layout is documented in docs/SPOOL.md.
 */
#include "record.h"

#include <errno.h>
#include <string.h>

#include "crc32c.h"
#include "record_int.h"

/* Encoder states and body modes. */
#define RECORD_ENC_HEAD   0
#define RECORD_ENC_BODY   1
#define RECORD_ENC_CLOSED 2
#define RECORD_BODY_NONE  0
#define RECORD_BODY_COPY  1
#define RECORD_BODY_SAVE  2 /* streamed: CRC and length only */

_Static_assert(RECORD_TAG__COUNT <= 64, "seen-tag mask is a uint64_t");
_Static_assert((RECORD_F_ALL & (RECORD_F_ALL + 1)) == 0, "low bits");
_Static_assert((RECORD_MSG_F_ALL & (RECORD_MSG_F_ALL + 1)) == 0, "low bits");
_Static_assert((RECORD_NOTIFY_ALL & (RECORD_NOTIFY_ALL + 1)) == 0, "bits");
_Static_assert(RECORD_HDR_SIZE % RECORD_ALIGN == 0, "aligned records");
_Static_assert(RECORD_SEG_HDR_SIZE % RECORD_ALIGN == 0, "aligned records");
_Static_assert(RECORD_PAYLOAD_MAX <= UINT32_MAX - 2 * RECORD_HDR_SIZE,
	       "payload length fits in u32 with room for the header");

#define RECORD_FIELD(type, member, tag, kind, flags, max)                      \
	{                                                                      \
		RECORD_TAG_##tag, RECORD_K_##kind, flags,                      \
		    sizeof(((struct type *)0)->member), max,                   \
		    offsetof(struct type, member)                              \
	}

static const struct record_field record_mrcpt_fields[] = {
    RECORD_FIELD(record_msg_rcpt, addr, ADDR, BYTES,
		 RECORD_FF_REQ | RECORD_FF_NONEMPTY, RECORD_ADDR_MAX),
    RECORD_FIELD(record_msg_rcpt, notify, NOTIFY, UINT, 0, RECORD_NOTIFY_ALL),
    RECORD_FIELD(record_msg_rcpt, orcpt, ORCPT, BYTES, 0, RECORD_ORCPT_MAX),
};
const struct record_spec record_mrcpt_spec = {
    record_mrcpt_fields, nitems(record_mrcpt_fields), 0, NULL};

static const struct record_field record_msg_fields[] = {
    RECORD_FIELD(record_msg, id, MSGID, FIXED, RECORD_FF_REQ, 0),
    RECORD_FIELD(record_msg, received_us, RECEIVED, UINT, RECORD_FF_REQ,
		 UINT64_MAX),
    RECORD_FIELD(record_msg, sender, SENDER, BYTES, RECORD_FF_REQ,
		 RECORD_ADDR_MAX),
    RECORD_FIELD(record_msg, envid, ENVID, BYTES, 0, RECORD_ENVID_MAX),
    RECORD_FIELD(record_msg, ret, RET, UINT, 0, RECORD_RET__COUNT - 1),
    RECORD_FIELD(record_msg, flags, MSG_FLAGS, UINT, 0, RECORD_MSG_F_ALL),
    RECORD_FIELD(record_msg, binding, BINDING, BYTES, 0, RECORD_NAME_MAX),
    RECORD_FIELD(record_msg, client_addr, CLIENT_ADDR, BYTES, 0,
		 RECORD_NAME_MAX),
    RECORD_FIELD(record_msg, client_helo, CLIENT_HELO, BYTES, 0,
		 RECORD_NAME_MAX),
    RECORD_FIELD(record_msg, rcpt_count, RCPT, NEST, RECORD_FF_REQ,
		 RECORD_RCPT_MAX),
};
const struct record_spec record_msg_spec = {
    record_msg_fields, nitems(record_msg_fields), 1, &record_mrcpt_spec};

static const struct record_field record_rcpt_fields[] = {
    RECORD_FIELD(record_rcpt, msgid, MSGID, FIXED, RECORD_FF_REQ, 0),
    RECORD_FIELD(record_rcpt, index, INDEX, UINT, RECORD_FF_REQ,
		 RECORD_RCPT_MAX - 1),
    RECORD_FIELD(record_rcpt, count, COUNT, UINT, 0, RECORD_RCPT_MAX),
    RECORD_FIELD(record_rcpt, state, STATE, UINT, RECORD_FF_REQ,
		 RECORD_RS__COUNT - 1),
    RECORD_FIELD(record_rcpt, time_us, TIME, UINT, RECORD_FF_REQ, UINT64_MAX),
    RECORD_FIELD(record_rcpt, attempts, ATTEMPTS, UINT, 0, UINT32_MAX),
    RECORD_FIELD(record_rcpt, next_try_us, NEXT_TRY, UINT, 0, UINT64_MAX),
    RECORD_FIELD(record_rcpt, code, CODE, UINT, 0, UINT16_MAX),
    RECORD_FIELD(record_rcpt, ecode, ECODE, BYTES, 0, RECORD_ECODE_MAX),
    RECORD_FIELD(record_rcpt, text, TEXT, BYTES, 0, RECORD_TEXT_MAX),
};
const struct record_spec record_rcpt_spec = {
    record_rcpt_fields, nitems(record_rcpt_fields), 0, NULL};

static const struct record_field record_done_fields[] = {
    RECORD_FIELD(record_done, msgid, MSGID, FIXED, RECORD_FF_REQ, 0),
    RECORD_FIELD(record_done, time_us, TIME, UINT, RECORD_FF_REQ, UINT64_MAX),
};
const struct record_spec record_done_spec = {
    record_done_fields, nitems(record_done_fields), 0, NULL};

static const char *const record_type_names[] = {
    "invalid",
    "msg",
    "rcpt",
    "done",
};
_Static_assert(nitems(record_type_names) == RECORD_T__COUNT, "type names");

static const char *const record_rcpt_state_names[] = {
    "pending", "deferred", "delivered", "bounced", "expired", "deleted",
};
_Static_assert(nitems(record_rcpt_state_names) == RECORD_RS__COUNT, "names");

static const char *const record_ret_names[] = {"none", "full", "hdrs"};
_Static_assert(nitems(record_ret_names) == RECORD_RET__COUNT, "ret names");

static const char *const record_tag_names[] = {
    "end",       "msgid",    "received",    "sender",      "envid", "ret",
    "msg-flags", "binding",  "client-addr", "client-helo", "rcpt",  "addr",
    "notify",    "orcpt",    "index",       "count",       "state", "time",
    "attempts",  "next-try", "code",        "ecode",       "text",
};
_Static_assert(nitems(record_tag_names) == RECORD_TAG__COUNT, "tag names");

/* Little-endian store (record_int.h). */
void
record_put_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Little-endian load (record_int.h). */
uint64_t
record_get_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Little-endian 32-bit load (record_int.h). */
uint32_t
record_get32(const uint8_t *p)
{
	return (uint32_t)record_get_le(p, 4);
}

/* Round up to RECORD_ALIGN (record_int.h). */
size_t
record_align(size_t n)
{
	return (n + RECORD_ALIGN - 1) & ~(size_t)(RECORD_ALIGN - 1);
}

/* Native unsigned of 1, 2, 4 or 8 bytes at p (a struct member). */
uint64_t
record_uint_load(const uint8_t *p, size_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (size) {
	case 1:
		memcpy(&u8, p, 1);
		return u8;
	case 2:
		memcpy(&u16, p, 2);
		return u16;
	case 4:
		memcpy(&u32, p, 4);
		return u32;
	}
	BUG_ON(size != 8);
	memcpy(&u64, p, 8);
	return u64;
}

/* Store v in a native unsigned of size bytes at p (record_int.h). */
void
record_uint_store(uint8_t *p, size_t size, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (size) {
	case 1:
		memcpy(p, &u8, 1);
		return;
	case 2:
		memcpy(p, &u16, 2);
		return;
	case 4:
		memcpy(p, &u32, 4);
		return;
	}
	BUG_ON(size != 8);
	memcpy(p, &v, 8);
}

/*
 * Derive the record magic and CRC seed from a segment nonce (splitmix64's
 * finaliser: every nonce bit affects both).  The magic is never 0, so a
 * zeroed region can never start a record.
 */
void
record_key_init(struct record_key *k, uint64_t nonce)
{
	uint64_t z = nonce + UINT64_C(0x9e3779b97f4a7c15);

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	z ^= z >> 31;
	k->magic = (uint32_t)z;
	if (k->magic == 0)
		k->magic = 0x474e4952u; /* "RING" */
	k->seed = (uint32_t)(z >> 32);
}

/* The value to start a body CRC with: crc32c(seed, body) == body_crc. */
uint32_t
record_body_crc_init(uint64_t nonce)
{
	struct record_key k;

	record_key_init(&k, nonce);
	return k.seed;
}

/* WIRE without STUFF (record.h). */
int
record_msg_flags_wire(uint32_t flags)
{
	return (flags & (RECORD_MSG_F_WIRE | RECORD_MSG_F_STUFF)) ==
	       RECORD_MSG_F_WIRE;
}

/* Name of a record type; "unknown" for values this version lacks. */
const char *
record_type_str(unsigned type)
{
	return type < RECORD_T__COUNT ? record_type_names[type] : "unknown";
}

/* Name of a recipient state; "unknown" out of range. */
const char *
record_rcpt_state_str(unsigned state)
{
	return state < RECORD_RS__COUNT ? record_rcpt_state_names[state]
					: "unknown";
}

/* Name of a RET= value; "unknown" out of range. */
const char *
record_ret_str(unsigned ret)
{
	return ret < RECORD_RET__COUNT ? record_ret_names[ret] : "unknown";
}

/* Name of a TLV tag; "unknown" for tags this version lacks. */
const char *
record_tag_str(unsigned tag)
{
	return tag < RECORD_TAG__COUNT ? record_tag_names[tag] : "unknown";
}

/* 1 when a recipient in this state needs nothing more. */
int
record_rcpt_state_final(unsigned state)
{
	return state == RECORD_RS_DELIVERED || state == RECORD_RS_BOUNCED ||
	       state == RECORD_RS_EXPIRED || state == RECORD_RS_DELETED;
}

/*
 * Allocations of finished buffers, kept for the next ones (one per
 * thread): an intake message's buffer grows to its body's size and is
 * freed once its batch is durable (written from it), so without this every
 * message would regrow one from 4 KiB by reallocs (five for 100 KiB, each
 * copying everything so far).  Bounded in count and bytes; see docs/SPOOL.md.
 */
struct record_pool {
	uint8_t *data[RECORD_POOL_MAX];
	size_t cap[RECORD_POOL_MAX];
	size_t bytes;
	unsigned n;
};

static _Thread_local struct record_pool record_pool;

/* An empty buffer; owns nothing until the first record is encoded. */
void
record_buf_init(struct record_buf *b)
{
	memset(b, 0, sizeof(*b));
}

/*
 * Give b's memory back: kept in the pool while it has room (count and
 * bytes), else freed.  b may be reused after record_buf_init().
 */
void
record_buf_fini(struct record_buf *b)
{
	struct record_pool *p = &record_pool;

	if (b->data != NULL && p->n < RECORD_POOL_MAX &&
	    b->cap <= RECORD_POOL_BYTES - p->bytes) {
		p->data[p->n] = b->data;
		p->cap[p->n++] = b->cap;
		p->bytes += b->cap;
	} else {
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

/* Free what the calling thread's pool holds (at exit, or in tests). */
void
record_buf_pool_drain(void)
{
	struct record_pool *p = &record_pool;

	while (p->n > 0)
		free(p->data[--p->n]);
	p->bytes = 0;
}

/* Allocations the calling thread's pool holds, and their bytes. */
unsigned
record_buf_pool_count(size_t *bytes_r)
{
	if (bytes_r != NULL)
		*bytes_r = record_pool.bytes;
	return record_pool.n;
}

/* An empty b takes the pool's most recent allocation, if any. */
static void
record_buf_adopt(struct record_buf *b)
{
	struct record_pool *p = &record_pool;

	if (p->n == 0)
		return;
	p->n--;
	b->data = p->data[p->n];
	b->cap = p->cap[p->n];
	p->bytes -= b->cap;
}

/* Drop the contents, keep the allocation.  No encoder may be open. */
void
record_buf_reset(struct record_buf *b)
{
	BUG_ON(b->busy);
	b->len = 0;
}

/* Append n bytes (uninitialised); NULL when the size would overflow. */
static uint8_t *
record_buf_grow(struct record_buf *b, size_t n)
{
	if (b->len > SIZE_MAX / 2 || n > SIZE_MAX / 2 - b->len)
		return NULL;
	if (b->cap == 0)
		record_buf_adopt(b);
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	b->len += n;
	return b->data + b->len - n;
}

static int
record_enc_fail(struct record_enc *e, int err)
{
	if (e->err == 0)
		e->err = err;
	return e->err;
}

/* Open a record of the given type at the end of b (header zeroed for now).
 */
static int
record_enc_begin(struct record_enc *e, struct record_buf *b, uint8_t type,
		 uint16_t flags, uint64_t nonce)
{
	struct record_key k;
	uint8_t *h;

	memset(e, 0, sizeof(*e));
	e->state = RECORD_ENC_CLOSED;
	if (b->busy)
		return e->err = -EBUSY;
	h = record_buf_grow(b, RECORD_HDR_SIZE);
	if (h == NULL)
		return e->err = -EMSGSIZE;
	memset(h, 0, RECORD_HDR_SIZE);
	record_key_init(&k, nonce);
	e->buf = b;
	e->off = b->len - RECORD_HDR_SIZE;
	e->magic = k.magic;
	e->seed = k.seed;
	e->body_crc = k.seed;
	e->type = type;
	e->flags = flags;
	e->state = RECORD_ENC_HEAD;
	b->busy = 1;
	return 0;
}

/* Append one TLV to the head. */
static int
record_tlv_put(struct record_enc *e, uint16_t tag, const void *p, size_t n)
{
	size_t head;
	uint8_t *d;

	if (e->err)
		return e->err;
	if (e->state != RECORD_ENC_HEAD)
		return record_enc_fail(e, -EINVAL);
	head = e->buf->len - e->off - RECORD_HDR_SIZE;
	if (head > RECORD_PAYLOAD_MAX - RECORD_TLV_HDR_SIZE ||
	    n > RECORD_PAYLOAD_MAX - RECORD_TLV_HDR_SIZE - head)
		return record_enc_fail(e, -EMSGSIZE);
	d = record_buf_grow(e->buf, RECORD_TLV_HDR_SIZE + n);
	if (d == NULL)
		return record_enc_fail(e, -EMSGSIZE);
	record_put_le(d, tag, 2);
	record_put_le(d + 2, n, 4);
	if (n > 0)
		memcpy(d + RECORD_TLV_HDR_SIZE, p, n);
	return 0;
}

/* Append every field of src that is required or non-zero/non-empty. */
static int
record_fields_put(struct record_enc *e, const struct record_spec *s,
		  const void *src)
{
	for (size_t i = 0; i < s->n && e->err == 0; i++) {
		const struct record_field *f = &s->f[i];
		const uint8_t *m = (const uint8_t *)src + f->off;
		struct record_bytes b;
		uint8_t le[8];
		uint64_t v;

		switch (f->kind) {
		case RECORD_K_BYTES:
			memcpy(&b, m, sizeof(b));
			if (b.len > f->max)
				return record_enc_fail(e, -EMSGSIZE);
			if ((b.len == 0 && (f->flags & RECORD_FF_NONEMPTY)) ||
			    (b.len > 0 && b.p == NULL))
				return record_enc_fail(e, -EINVAL);
			if (b.len > 0 || (f->flags & RECORD_FF_REQ))
				record_tlv_put(e, f->tag, b.p, b.len);
			continue;
		case RECORD_K_FIXED:
			record_tlv_put(e, f->tag, m, f->size);
			continue;
		case RECORD_K_NEST:
			continue;
		}
		v = record_uint_load(m, f->size);
		if (v > f->max)
			return record_enc_fail(e, -EINVAL);
		if (v == 0 && !(f->flags & RECORD_FF_REQ))
			continue;
		record_put_le(le, v, f->size);
		record_tlv_put(e, f->tag, le, f->size);
	}
	return e->err;
}

/*
 * Open a MSG record at the end of b and write m's envelope fields (m->copy
 * sets RECORD_F_COPY; parse-only members are ignored).  Next: one
 * record_msg_add_rcpt() per recipient, in index order, then the body, then
 * record_enc_end().  Returns 0, -EBUSY (another encoder is open on b),
 * -EMSGSIZE (a field over its RECORD_*_MAX) or -EINVAL (bad enum/flags).
 * Errors are sticky: record_enc_end() reports them and removes the partial
 * record.  The encoder keeps b (not m) until record_enc_end/abort.
 */
int
record_msg_begin(struct record_enc *e, struct record_buf *b, uint64_t nonce,
		 const struct record_msg *m)
{
	int rc = record_enc_begin(e, b, RECORD_T_MSG,
				  m->copy ? RECORD_F_COPY : 0, nonce);

	if (rc < 0)
		return rc;
	return record_fields_put(e, &record_msg_spec, m);
}

/*
 * Add the next recipient (index = number added before).  Returns 0,
 * -EMSGSIZE (over RECORD_RCPT_MAX recipients or a field too long) or
 * -EINVAL (empty address, unknown NOTIFY bits, called after the body).
 */
int
record_msg_add_rcpt(struct record_enc *e, const struct record_msg_rcpt *r)
{
	size_t start;
	int rc;

	if (e->err)
		return e->err;
	if (e->type != RECORD_T_MSG || e->state != RECORD_ENC_HEAD)
		return record_enc_fail(e, -EINVAL);
	if (e->rcpt_count >= RECORD_RCPT_MAX)
		return record_enc_fail(e, -EMSGSIZE);
	start = e->buf->len;
	rc = record_tlv_put(e, RECORD_TAG_RCPT, NULL, 0);
	if (rc == 0)
		rc = record_fields_put(e, &record_mrcpt_spec, r);
	if (rc < 0)
		return rc;
	record_put_le(e->buf->data + start + 2,
		      e->buf->len - start - RECORD_TLV_HDR_SIZE, 4);
	e->rcpt_count++;
	return 0;
}

/*
 * Close the envelope (END tag); only body bytes may follow.  *body_off_r
 * (may be NULL) gets the body's offset from the record's first byte: a
 * streaming caller writes body bytes from there.  Returns 0 or -EINVAL (no
 * recipient, not a MSG, called twice).
 */
int
record_msg_body_begin(struct record_enc *e, size_t *body_off_r)
{
	int rc;

	if (e->err)
		return e->err;
	if (e->type != RECORD_T_MSG || e->state != RECORD_ENC_HEAD ||
	    e->rcpt_count == 0)
		return record_enc_fail(e, -EINVAL);
	rc = record_tlv_put(e, RECORD_TAG_END, NULL, 0);
	if (rc < 0)
		return rc;
	e->head_len = e->buf->len - e->off - RECORD_HDR_SIZE;
	e->state = RECORD_ENC_BODY;
	if (body_off_r != NULL)
		*body_off_r = RECORD_HDR_SIZE + e->head_len;
	return 0;
}

static int
record_body_add(struct record_enc *e, const void *p, size_t n, uint8_t mode)
{
	uint8_t *d;

	if (e->err)
		return e->err;
	if (e->state != RECORD_ENC_BODY ||
	    (e->mode != RECORD_BODY_NONE && e->mode != mode))
		return record_enc_fail(e, -EINVAL);
	if (n == 0)
		return 0;
	if (n > RECORD_PAYLOAD_MAX - e->head_len - e->body_len)
		return record_enc_fail(e, -EMSGSIZE);
	e->mode = mode;
	if (mode == RECORD_BODY_COPY) {
		d = record_buf_grow(e->buf, n);
		if (d == NULL)
			return record_enc_fail(e, -EMSGSIZE);
		if (d != p) /* else produced in place (record_body_room) */
			memcpy(d, p, n);
	}
	e->body_crc = crc32c(e->body_crc, p, n);
	e->body_len += n;
	return 0;
}

/*
 * Copy n body bytes into the buffer after the envelope (any split gives
 * the same record).  Returns 0, -EMSGSIZE past RECORD_PAYLOAD_MAX, or
 * -EINVAL before record_msg_body_begin() or after record_body_stream().
 */
int
record_body_append(struct record_enc *e, const void *p, size_t n)
{
	return record_body_add(e, p, n, RECORD_BODY_COPY);
}

/* Room for n body bytes produced in place.  See record.h. */
void *
record_body_room(struct record_enc *e, size_t n)
{
	uint8_t *d;

	if (e->err || e->state != RECORD_ENC_BODY ||
	    (e->mode != RECORD_BODY_NONE && e->mode != RECORD_BODY_COPY) ||
	    n > RECORD_PAYLOAD_MAX - e->head_len - e->body_len)
		return NULL;
	d = record_buf_grow(e->buf, n);
	if (d == NULL)
		return NULL;
	e->buf->len -= n;
	return d;
}

/*
 * Account for n body bytes that the caller writes to disk itself, at
 * body_off + (bytes streamed so far) from the record's start: only the CRC
 * and the length are kept.  Same returns as record_body_append(); the two
 * may not be mixed in one record.
 */
int
record_body_stream(struct record_enc *e, const void *p, size_t n)
{
	return record_body_add(e, p, n, RECORD_BODY_SAVE);
}

/*
 * Drop the open record from the buffer (nothing if none is open).  The
 * buffer is usable again; its earlier records are untouched.
 */
void
record_enc_abort(struct record_enc *e)
{
	if (e->state == RECORD_ENC_CLOSED)
		return;
	e->buf->len = e->off;
	e->buf->busy = 0;
	e->state = RECORD_ENC_CLOSED;
}

/* The open record's head, for in-place patches.  See record.h. */
uint8_t *
record_enc_head(struct record_enc *e, size_t *len_r)
{
	uint8_t *h;

	if (e->state == RECORD_ENC_CLOSED || e->buf == NULL)
		return NULL;
	h = e->buf->data + e->off + RECORD_HDR_SIZE;
	*len_r = e->state == RECORD_ENC_HEAD
		     ? e->buf->len - e->off - RECORD_HDR_SIZE
		     : e->head_len;
	return h;
}

static void
record_hdr_fill(struct record_enc *e, uint64_t seq)
{
	uint8_t *h = e->buf->data + e->off;
	uint32_t head_crc = crc32c(e->seed, h + RECORD_HDR_SIZE, e->head_len);

	record_put_le(h, e->magic, 4);
	h[RECORD_H_TYPE] = e->type;
	h[RECORD_H_VERSION] =
	    e->type == RECORD_T_MSG ? RECORD_MSG_VERSION : RECORD_VERSION;
	record_put_le(h + RECORD_H_FLAGS, e->flags, 2);
	record_put_le(h + RECORD_H_SEQ, seq, 8);
	record_put_le(h + RECORD_H_PLEN, e->head_len + e->body_len, 4);
	record_put_le(h + RECORD_H_HLEN, e->head_len, 4);
	record_put_le(h + RECORD_H_HCRC, head_crc, 4);
	record_put_le(h + RECORD_H_BCRC, e->body_crc, 4);
	record_put_le(h + RECORD_H_RSVD, 0, 4);
	record_put_le(h + RECORD_H_CRC, crc32c(e->seed, h, RECORD_H_CRC), 4);
}

/*
 * Finish the record: sequence number, lengths, CRCs, padding.  *x_r (may
 * be NULL) says where it lies.  Buffered: b->data[off, off + size) is the
 * whole record.  Streamed: b holds [off, off + body_off) (header and
 * envelope), to be written at the record's disk offset once all body bytes
 * and x->pad zero bytes after them are written; until then the record is
 * invalid on disk (see docs/SPOOL.md).  Returns 0 or the first sticky
 * error, in which case the partial record is removed from b.
 */
int
record_enc_end(struct record_enc *e, uint64_t seq, struct record_extent *x_r)
{
	size_t plen, pad;
	uint8_t *d;
	int rc;

	if (e->state == RECORD_ENC_CLOSED)
		return e->err ? e->err : -EINVAL;
	if (e->state == RECORD_ENC_HEAD && e->type == RECORD_T_MSG)
		rc = record_msg_body_begin(e, NULL); /* sticky: see below */
	else if (e->state == RECORD_ENC_HEAD)
		e->head_len = e->buf->len - e->off - RECORD_HDR_SIZE;
	plen = e->head_len + e->body_len;
	pad = record_align(plen) - plen;
	if (e->err == 0 && e->mode != RECORD_BODY_SAVE) {
		d = record_buf_grow(e->buf, pad);
		if (d == NULL)
			record_enc_fail(e, -EMSGSIZE);
		else
			memset(d, 0, pad);
	}
	if (e->err) {
		rc = e->err;
		record_enc_abort(e);
		return rc;
	}
	record_hdr_fill(e, seq);
	if (x_r != NULL) {
		x_r->off = e->off;
		x_r->size = RECORD_HDR_SIZE + plen + pad;
		x_r->body_off = RECORD_HDR_SIZE + e->head_len;
		x_r->body_len = e->body_len;
		x_r->pad = pad;
		x_r->body_crc = e->body_crc;
		x_r->streamed = e->mode == RECORD_BODY_SAVE;
	}
	e->buf->busy = 0;
	e->state = RECORD_ENC_CLOSED;
	return 0;
}

/*
 * Append a complete RCPT record for r to b.  r->count 0 means 1; index +
 * count must not exceed RECORD_RCPT_MAX, and next_try_us must be non-zero
 * exactly when the state is DEFERRED.  Returns 0, -EINVAL, -EMSGSIZE (text
 * or ecode too long) or -EBUSY; nothing is appended on error.
 */
int
record_rcpt_encode(struct record_buf *b, uint64_t nonce, uint64_t seq,
		   const struct record_rcpt *r, struct record_extent *x_r)
{
	struct record_rcpt c = *r;
	struct record_enc e;
	int rc;

	if (c.count == 0)
		c.count = 1;
	if ((uint64_t)c.index + c.count > RECORD_RCPT_MAX ||
	    (c.state == RECORD_RS_DEFERRED) != (c.next_try_us != 0))
		return -EINVAL;
	if (c.count == 1)
		c.count = 0; /* the default: not written */
	rc = record_enc_begin(&e, b, RECORD_T_RCPT, 0, nonce);
	if (rc < 0)
		return rc;
	(void)record_fields_put(&e, &record_rcpt_spec, &c);
	return record_enc_end(&e, seq, x_r);
}

/* Append a complete DONE record for d to b.  Returns 0 or -EBUSY. */
int
record_done_encode(struct record_buf *b, uint64_t nonce, uint64_t seq,
		   const struct record_done *d, struct record_extent *x_r)
{
	struct record_enc e;
	int rc;

	rc = record_enc_begin(&e, b, RECORD_T_DONE, 0, nonce);
	if (rc < 0)
		return rc;
	(void)record_fields_put(&e, &record_done_spec, d);
	return record_enc_end(&e, seq, x_r);
}
