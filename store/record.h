/* SPDX-License-Identifier: MIT */
/*
 * record.h: the spool's on-disk format (pure codec, see docs/SPOOL.md).
 *
 * Owns the byte layout of segment headers and records: encoding into a
 * growable buffer (whole records, or a header + envelope while the body is
 * streamed to disk by the caller), verification, decoding, and resync after
 * corruption.  It does no I/O and keeps no state between calls.  It never
 * trusts a length before the keyed header CRC has matched, and it copies
 * nothing out: views and parsed structs point into the caller's buffer and
 * are valid as long as that buffer is.
 *
 * Return values: decoders return 1 (complete and valid), 0 (the bytes so far
 * are consistent but more are needed), -EBADMSG (corrupt or malformed) or
 * -ENOTSUP (a valid record written by a newer ringmta: do not quarantine it
 * as corruption).  Encoders return 0 or -EINVAL/-EMSGSIZE/-EBUSY.
 */
#ifndef RINGMTA_RECORD_H
#define RINGMTA_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "compat.h"

/* Segment header. */
#define RECORD_SEG_MAGIC    "RINGSPL1"
#define RECORD_SEG_HDR_SIZE 64   /* what this version writes */
#define RECORD_SEG_HDR_MAX  4096 /* largest header a newer minor may write */
#define RECORD_SEG_MAJOR    1
#define RECORD_SEG_MINOR    0

/* Records. */
#define RECORD_HDR_SIZE     40
#define RECORD_ALIGN        8       /* records start at multiples of this */
#define RECORD_TLV_HDR_SIZE 6       /* u16 tag, u32 length */
#define RECORD_TAG_CRITICAL 0x8000u /* unknown tag with this bit: -ENOTSUP */
#define RECORD_VERSION      1       /* payload version of RCPT, DONE */
#define RECORD_MSG_VERSION  2       /* of MSG: 2 added RECORD_MSG_F_WIRE */

/* Limits (inclusive).  Encoders refuse more, decoders reject more. */
#define RECORD_PAYLOAD_MAX (1u << 30)
#define RECORD_RCPT_MAX    100000u /* recipients per message */
#define RECORD_MSGID_LEN   16
#define RECORD_ADDR_MAX    1024 /* sender, recipient address */
#define RECORD_ENVID_MAX   100  /* RFC 3461 ENVID, xtext-decoded */
#define RECORD_ORCPT_MAX   500  /* RFC 3461 ORCPT "type;address", decoded */
#define RECORD_NAME_MAX    255  /* binding, client address, client HELO */
#define RECORD_ECODE_MAX   16   /* enhanced status code text, "5.1.1" */
#define RECORD_TEXT_MAX    512  /* sanitised reply text */

enum record_type {
	RECORD_T_INVALID = 0, /* never written: zeroed bytes are no record */
	RECORD_T_MSG,         /* an accepted message: envelope, then body */
	RECORD_T_RCPT,        /* new state of one (or a run of) recipient(s) */
	RECORD_T_DONE,        /* every recipient is final: reclaimable */
	RECORD_T__COUNT       /* must stay last */
};

/* Record header flags. */
enum record_flag {
	RECORD_F_SKIPPABLE = 1u << 0, /* readers that lack the type skip it */
	RECORD_F_COPY = 1u << 1,      /* MSG rewritten by compaction */
};
#define RECORD_F_ALL 0x0003u

enum record_rcpt_state {
	RECORD_RS_PENDING = 0, /* not tried yet (or requeued by an admin) */
	RECORD_RS_DEFERRED,    /* temporary failure: attempts, next_try_us */
	RECORD_RS_DELIVERED,   /* final */
	RECORD_RS_BOUNCED,     /* final: permanent failure, DSN owed */
	RECORD_RS_EXPIRED,     /* final: queue lifetime over, DSN owed */
	RECORD_RS_DELETED,     /* final: removed by an admin, no DSN */
	RECORD_RS__COUNT       /* must stay last */
};

enum record_ret {
	RECORD_RET_NONE = 0, /* no RET= given */
	RECORD_RET_FULL,
	RECORD_RET_HDRS,
	RECORD_RET__COUNT /* must stay last */
};

enum record_msg_flag {
	RECORD_MSG_F_8BITMIME = 1u << 0,
	RECORD_MSG_F_SMTPUTF8 = 1u << 1,
	RECORD_MSG_F_BOUNCE = 1u << 2, /* a DSN we generated: never bounce it */
	/* WIRE without STUFF: the body is its own SMTP wire encoding (no
	 * line starts with ".", no bare CR or LF, no NUL, empty or ends in
	 * CRLF), sent as it lies followed by ".\r\n".  Intake sets WIRE
	 * when the transaction begins (so the head has its MSG_FLAGS field
	 * and the end of data only patches it) and adds STUFF if the body
	 * turned out not to be.  MSG version 2 and later only. */
	RECORD_MSG_F_WIRE = 1u << 3,
	RECORD_MSG_F_STUFF = 1u << 4, /* overrides WIRE: encode the body */
};
#define RECORD_MSG_F_ALL 0x001fu
#define RECORD_MSG_F_V1  0x0007u /* the bits MSG version 1 may carry */

enum record_notify {
	RECORD_NOTIFY_NEVER = 1u << 0,
	RECORD_NOTIFY_SUCCESS = 1u << 1,
	RECORD_NOTIFY_FAILURE = 1u << 2,
	RECORD_NOTIFY_DELAY = 1u << 3,
};
#define RECORD_NOTIFY_ALL 0x0fu

enum record_seg_flag {
	RECORD_SEG_F_SINGLE = 1u << 0, /* holds one large, streamed message */
};
#define RECORD_SEG_F_ALL 0x0001u

/* TLV tags; one number space for every record type (see docs/SPOOL.md). */
enum record_tag {
	RECORD_TAG_END = 0, /* ends a MSG envelope; the body follows */
	RECORD_TAG_MSGID,
	RECORD_TAG_RECEIVED,
	RECORD_TAG_SENDER,
	RECORD_TAG_ENVID,
	RECORD_TAG_RET,
	RECORD_TAG_MSG_FLAGS,
	RECORD_TAG_BINDING,
	RECORD_TAG_CLIENT_ADDR,
	RECORD_TAG_CLIENT_HELO,
	RECORD_TAG_RCPT, /* nested: ADDR, NOTIFY, ORCPT */
	RECORD_TAG_ADDR,
	RECORD_TAG_NOTIFY,
	RECORD_TAG_ORCPT,
	RECORD_TAG_INDEX,
	RECORD_TAG_COUNT,
	RECORD_TAG_STATE,
	RECORD_TAG_TIME,
	RECORD_TAG_ATTEMPTS,
	RECORD_TAG_NEXT_TRY,
	RECORD_TAG_CODE,
	RECORD_TAG_ECODE,
	RECORD_TAG_TEXT,
	RECORD_TAG__COUNT /* must stay last */
};

/* Any bytes (NUL, CR, LF, 0xff...): the codec never interprets them. */
struct record_bytes {
	const uint8_t *p;
	size_t len;
};

struct record_seg {
	uint64_t number;     /* matches the file name %016llx.seg */
	uint64_t created_us; /* Unix time, microseconds */
	uint64_t nonce;      /* getrandom(): keys every record in the segment */
	uint32_t flags;      /* RECORD_SEG_F_* */
	/* Set by record_seg_decode (record_seg_encode writes its own). */
	uint16_t major, minor;
	uint32_t hdr_size; /* the first record starts here */
};

/* A recipient inside a MSG record; its index is its position. */
struct record_msg_rcpt {
	struct record_bytes addr;  /* 1..RECORD_ADDR_MAX bytes */
	uint8_t notify;            /* RECORD_NOTIFY_*, 0 = no NOTIFY= */
	struct record_bytes orcpt; /* empty = none */
};

struct record_msg {
	uint8_t id[RECORD_MSGID_LEN];
	uint64_t received_us;
	struct record_bytes sender;      /* empty = the null sender <> */
	struct record_bytes envid;       /* empty = none */
	uint8_t ret;                     /* enum record_ret */
	uint32_t flags;                  /* RECORD_MSG_F_* */
	struct record_bytes binding;     /* empty = none */
	struct record_bytes client_addr; /* empty = none */
	struct record_bytes client_helo; /* empty = none */
	int copy;                        /* RECORD_F_COPY on the record */
	/* Filled by record_msg_parse; ignored by record_msg_begin. */
	uint32_t rcpt_count;
	size_t body_off;     /* from the record's first byte: pread here */
	size_t body_len;     /* CRLF canonical, not dot-stuffed */
	const uint8_t *body; /* NULL when only the head was decoded */
	uint32_t body_crc;   /* see record_body_crc_init() */
	const uint8_t *env;  /* the envelope TLVs, for record_msg_rcpt_next */
	size_t env_len;
};

/* A RCPT record: recipients index .. index + count - 1 of message msgid. */
struct record_rcpt {
	uint8_t msgid[RECORD_MSGID_LEN];
	uint32_t index;
	uint32_t count; /* >= 1 after parse; 0 is taken as 1 when encoding */
	uint8_t state;  /* enum record_rcpt_state */
	uint16_t code;  /* last SMTP reply code, 0 = none */
	uint32_t attempts;
	uint64_t time_us;
	uint64_t next_try_us; /* non-zero iff state == RECORD_RS_DEFERRED */
	struct record_bytes ecode; /* empty = none */
	struct record_bytes text;  /* sanitised by the caller; empty = none */
};

struct record_done {
	uint8_t msgid[RECORD_MSGID_LEN];
	uint64_t time_us;
};

/* A verified record inside the caller's buffer. */
struct record_view {
	uint8_t type; /* enum record_type, or an unknown skippable type */
	uint8_t version;
	uint16_t flags; /* RECORD_F_* */
	uint64_t seq;
	const uint8_t *payload; /* head_len bytes, then the body if present */
	size_t payload_len;
	size_t head_len;
	const uint8_t *body; /* NULL after record_decode_head() */
	size_t body_len;
	uint32_t body_crc;
	size_t size; /* header + payload + padding; 0: header incomplete */
};

/* Growable output buffer; several records may be appended for one write. */
struct record_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int busy; /* an encoder is open on it */
};

/* Where an encoded record lies. */
struct record_extent {
	size_t off;      /* its first byte in the record_buf */
	size_t size;     /* header + payload + padding (multiple of 8) */
	size_t body_off; /* from the record's first byte */
	size_t body_len;
	size_t pad;        /* zero bytes after the body */
	uint32_t body_crc; /* as in the header (see record_body_crc_init) */
	int streamed;      /* 1: the buffer holds only [off, off + body_off) */
};

/* Encoder state; fields are private to record.c. */
struct record_enc {
	struct record_buf *buf;
	size_t off;
	size_t head_len;
	size_t body_len;
	uint32_t magic, seed, body_crc, rcpt_count;
	int err;
	uint16_t flags;
	uint8_t type, state, mode;
};

/* Keys derived from a segment nonce; nobody outside the spool knows them. */
struct record_key {
	uint32_t magic; /* first 4 bytes of every record header; never 0 */
	uint32_t seed;  /* initial value of every record CRC */
};
void record_key_init(struct record_key *k, uint64_t nonce);

/* Names for logs; "unknown" for values this version does not define. */
const char *record_type_str(unsigned type);
const char *record_rcpt_state_str(unsigned state);
const char *record_ret_str(unsigned ret);
const char *record_tag_str(unsigned tag);
/* 1 if MSG flags say the body goes out as it lies (WIRE, not STUFF). */
int record_msg_flags_wire(uint32_t flags);
/* 1 for DELIVERED, BOUNCED, EXPIRED, DELETED; else 0. */
int record_rcpt_state_final(unsigned state);

/*
 * Batch buffer: encode records into it, write [0, len) at the tail, reset.
 * It grows by doubling from 4 KiB.  record_buf_fini() keeps the memory in
 * a per-thread pool (at most RECORD_POOL_MAX allocations, RECORD_POOL_BYTES
 * in all) that the next empty buffer to grow takes from, so a stream of
 * similar messages allocates nothing after the first few.  A message's
 * buffer is kept until its batch is durable (spool_commit.c writes from
 * it), so a whole batch's buffers come back at once: the count bound is
 * the default [spool] max_batch, the byte bound caps the memory.
 */
#define RECORD_POOL_MAX   256
#define RECORD_POOL_BYTES (8u << 20)
void record_buf_init(struct record_buf *b);
void record_buf_fini(struct record_buf *b);
void record_buf_reset(struct record_buf *b);
/* Free the calling thread's pooled allocations. */
void record_buf_pool_drain(void);
/* The number of pooled allocations; *bytes_r (may be NULL) their size. */
unsigned record_buf_pool_count(size_t *bytes_r);

/* Segment header: 0 / -EINVAL; decode 1 / 0 / -EBADMSG / -ENOTSUP. */
int record_seg_encode(const struct record_seg *s,
		      uint8_t out[RECORD_SEG_HDR_SIZE]) ATTR_WUR;
int record_seg_decode(const uint8_t *buf, size_t len,
		      struct record_seg *s) ATTR_WUR;

/*
 * MSG encoder (docs/SPOOL.md 5.2, 5.3):
 *   record_msg_begin(&e, &buf, nonce, &msg);
 *   record_msg_add_rcpt(&e, &rcpt) for each recipient, in index order;
 *   record_msg_body_begin(&e, &body_off);
 *   record_body_append(&e, p, n) (bytes go into buf) or
 *   record_body_stream(&e, p, n) (caller writes them at body_off + done);
 *   record_enc_end(&e, seq, &extent) or record_enc_abort(&e).
 * Errors are sticky; record_enc_end returns the first and removes the
 * partial record, leaving earlier records in buf untouched.
 */
int record_msg_begin(struct record_enc *e, struct record_buf *b, uint64_t nonce,
		     const struct record_msg *m) ATTR_WUR;
int record_msg_add_rcpt(struct record_enc *e,
			const struct record_msg_rcpt *r) ATTR_WUR;
int record_msg_body_begin(struct record_enc *e, size_t *body_off_r) ATTR_WUR;
int record_body_append(struct record_enc *e, const void *p, size_t n) ATTR_WUR;
/*
 * Room for n more body bytes at the end of e's buffer, not yet counted
 * (the buffer grows when needed): a caller may produce body bytes there
 * and pass that same pointer to record_body_append(), which then copies
 * nothing.  Valid until the buffer is next changed.  NULL when the record
 * does not take copied body bytes (e's error, if any, is unchanged).
 */
void *record_body_room(struct record_enc *e, size_t n);
int record_body_stream(struct record_enc *e, const void *p, size_t n) ATTR_WUR;
int record_enc_end(struct record_enc *e, uint64_t seq,
		   struct record_extent *x_r) ATTR_WUR;
void record_enc_abort(struct record_enc *e);
/*
 * The head TLVs encoded so far in e's buffer (*len_r bytes; the END tag
 * too once the body has begun), or NULL when no record is open.  The
 * caller may overwrite a value in place, keeping every length, before
 * record_enc_end() computes the head CRC.  Valid until the buffer is next
 * changed.
 */
uint8_t *record_enc_head(struct record_enc *e, size_t *len_r);

/* One-call state records appended to b: 0, -EINVAL, -EMSGSIZE, -EBUSY. */
int record_rcpt_encode(struct record_buf *b, uint64_t nonce, uint64_t seq,
		       const struct record_rcpt *r,
		       struct record_extent *x_r) ATTR_WUR;
int record_done_encode(struct record_buf *b, uint64_t nonce, uint64_t seq,
		       const struct record_done *d,
		       struct record_extent *x_r) ATTR_WUR;

/*
 * Verify the record at buf (an 8-aligned segment offset): 1 / 0 (need
 * v->size bytes, or RECORD_HDR_SIZE when v->size is 0) / -EBADMSG /
 * -ENOTSUP.  _head verifies header + envelope only (replay of sealed
 * segments); check the body later against record_body_crc_init().
 */
int record_decode(const uint8_t *buf, size_t len, uint64_t nonce,
		  struct record_view *v) ATTR_WUR;
int record_decode_head(const uint8_t *buf, size_t len, uint64_t nonce,
		       struct record_view *v) ATTR_WUR;
/* Resync: pass buf = failed offset + 8; 1 = header at *skip_r, 0 = more. */
int record_scan_next(const uint8_t *buf, size_t len, uint64_t nonce,
		     size_t *skip_r) ATTR_WUR;
uint32_t record_body_crc_init(uint64_t nonce);

/* Typed views of a decoded record: 0, -EINVAL (other type), -EBADMSG. */
int record_msg_parse(const struct record_view *v,
		     struct record_msg *m) ATTR_WUR;
/* Recipients in index order: size_t pos = 0; while (...(m, &pos, &r) == 1) */
int record_msg_rcpt_next(const struct record_msg *m, size_t *pos,
			 struct record_msg_rcpt *r) ATTR_WUR;
int record_rcpt_parse(const struct record_view *v,
		      struct record_rcpt *r) ATTR_WUR;
int record_done_parse(const struct record_view *v,
		      struct record_done *d) ATTR_WUR;

#endif
