/* SPDX-License-Identifier: MIT */
/*
 * fuzz_record: the spool record codec on arbitrary bytes.
 *
 * The first input byte picks a mode:
 *   0  raw bytes as a segment: segment header, then a replay loop over
 *      records (record_decode, parse, recipients; record_scan_next to
 *      resync after anything that is not a record);
 *   1  the rest is wrapped into a record with valid keyed CRCs, so the
 *      fuzzer reaches the TLV parsers: [type][version][flags][head length
 *      u16][payload...];
 *   2  round trip: fields taken from the input are encoded (MSG with a body
 *      appended in input-chosen pieces, also streamed; RCPT; DONE), then
 *      decoded and compared: decode(encode(x)) == x, byte for byte.
 * Property violations abort().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "record.h"

#define FZ_NONCE UINT64_C(0x5eed5eed12345678)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_in {
	const uint8_t *p;
	size_t n;
};

static void
fz_check(int cond)
{
	if (!cond)
		abort();
}

static uint8_t
fz_u8(struct fz_in *in)
{
	uint8_t v = 0;

	if (in->n > 0) {
		v = in->p[0];
		in->p++;
		in->n--;
	}
	return v;
}

static uint32_t
fz_u32(struct fz_in *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)fz_u8(in) << (8 * i);
	return v;
}

static uint64_t
fz_u64(struct fz_in *in)
{
	uint64_t lo = fz_u32(in);

	return lo | (uint64_t)fz_u32(in) << 32;
}

/* Up to max bytes (length from the input, sometimes one over the cap). */
static struct record_bytes
fz_bytes(struct fz_in *in, size_t max, int *over)
{
	struct record_bytes b;
	size_t len = fz_u8(in);

	len |= (size_t)fz_u8(in) << 8;
	len %= max + 2;
	len = len < in->n ? len : in->n;
	b.p = in->p;
	b.len = len;
	in->p += len;
	in->n -= len;
	if (len > max)
		*over = 1;
	return b;
}

static int
fz_same(struct record_bytes a, struct record_bytes b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Everything a parser can do with a decoded record. */
static void
fz_use(const struct record_view *v)
{
	struct record_msg m;
	struct record_msg_rcpt r;
	struct record_rcpt rr;
	struct record_done d;
	size_t pos = 0;
	uint32_t n = 0;

	if (record_msg_parse(v, &m) == 0) {
		fz_check(m.rcpt_count >= 1 && m.rcpt_count <= RECORD_RCPT_MAX);
		while (record_msg_rcpt_next(&m, &pos, &r) == 1) {
			fz_check(r.addr.len >= 1 &&
				 r.addr.len <= RECORD_ADDR_MAX);
			n++;
		}
		fz_check(n == m.rcpt_count);
		fz_check(m.body_off == RECORD_HDR_SIZE + v->head_len);
	}
	if (record_rcpt_parse(v, &rr) == 0)
		fz_check((uint64_t)rr.index + rr.count <= RECORD_RCPT_MAX &&
			 rr.count >= 1);
	if (record_done_parse(v, &d) == 0)
		fz_check(v->type == RECORD_T_DONE);
}

/* Replay as the spool would: decode, or resync past what is not a record.
 */
static void
fz_replay(const uint8_t *p, size_t n, uint64_t nonce)
{
	size_t off = 0, skip;
	struct record_view v, vh;

	while (off < n) {
		int rc = record_decode(p + off, n - off, nonce, &v);
		int rch = record_decode_head(p + off, n - off, nonce, &vh);

		/* Head-only never fails where the full decode succeeds. */
		fz_check(rc != 1 || rch == 1);
		if (rc == 1) {
			fz_check(v.size >= RECORD_HDR_SIZE &&
				 v.size <= n - off);
			fz_check(v.size % RECORD_ALIGN == 0);
			fz_use(&v);
			off += v.size;
			continue;
		}
		if (rch == 1)
			fz_use(&vh);
		if (n - off <= RECORD_ALIGN)
			break;
		rc = record_scan_next(p + off + RECORD_ALIGN,
				      n - off - RECORD_ALIGN, nonce, &skip);
		fz_check(skip % RECORD_ALIGN == 0);
		if (rc == 0)
			break;
		off += RECORD_ALIGN + skip;
	}
}

static void
fz_mode_raw(const uint8_t *p, size_t n)
{
	struct record_seg s;
	int rc = record_seg_decode(p, n, &s);

	if (rc == 1 && s.hdr_size <= n) {
		fz_replay(p + s.hdr_size, n - s.hdr_size, s.nonce);
		return;
	}
	fz_replay(p, n, FZ_NONCE);
}

static void
fz_put(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
fz_mode_wrap(struct fz_in *in)
{
	struct record_key k;
	uint8_t type = fz_u8(in), version = fz_u8(in), flags = fz_u8(in);
	size_t hlen = fz_u8(in);
	size_t plen, size;
	uint8_t *r;

	hlen |= (size_t)fz_u8(in) << 8;
	plen = in->n;
	hlen = hlen < plen ? hlen : plen;
	if (type != RECORD_T_MSG && type < RECORD_T__COUNT)
		hlen = plen;
	size = RECORD_HDR_SIZE + ((plen + 7) & ~(size_t)7);
	r = calloc(1, size);
	if (r == NULL)
		return;
	record_key_init(&k, FZ_NONCE);
	fz_put(r, k.magic, 4);
	r[4] = type;
	r[5] = version;
	fz_put(r + 6, flags, 2);
	fz_put(r + 8, 1, 8);
	fz_put(r + 16, plen, 4);
	fz_put(r + 20, hlen, 4);
	fz_put(r + 24, crc32c(k.seed, in->p, hlen), 4);
	fz_put(r + 28, crc32c(k.seed, in->p + hlen, plen - hlen), 4);
	fz_put(r + 36, crc32c(k.seed, r, 36), 4);
	if (plen > 0)
		memcpy(r + RECORD_HDR_SIZE, in->p, plen);
	fz_replay(r, size, FZ_NONCE);
	free(r);
}

struct fz_msg {
	struct record_msg m;
	struct record_msg_rcpt r[8];
	size_t nr;
	struct record_bytes body;
	int over;
};

static void
fz_msg_take(struct fz_in *in, struct fz_msg *f)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < RECORD_MSGID_LEN; i++)
		f->m.id[i] = fz_u8(in);
	f->m.received_us = fz_u64(in);
	f->m.ret = fz_u8(in) % RECORD_RET__COUNT;
	f->m.flags = fz_u8(in) & RECORD_MSG_F_ALL;
	f->m.copy = fz_u8(in) & 1;
	f->m.sender = fz_bytes(in, RECORD_ADDR_MAX, &f->over);
	f->m.envid = fz_bytes(in, RECORD_ENVID_MAX, &f->over);
	f->m.binding = fz_bytes(in, RECORD_NAME_MAX, &f->over);
	f->m.client_addr = fz_bytes(in, RECORD_NAME_MAX, &f->over);
	f->m.client_helo = fz_bytes(in, RECORD_NAME_MAX, &f->over);
	f->nr = 1 + fz_u8(in) % 8;
	for (size_t i = 0; i < f->nr; i++) {
		f->r[i].addr = fz_bytes(in, RECORD_ADDR_MAX, &f->over);
		if (f->r[i].addr.len == 0)
			f->r[i].addr =
			    (struct record_bytes){(const uint8_t *)"@", 1};
		f->r[i].notify = fz_u8(in) & RECORD_NOTIFY_ALL;
		f->r[i].orcpt = fz_bytes(in, RECORD_ORCPT_MAX, &f->over);
	}
	f->body.p = in->p;
	f->body.len = in->n;
}

/* Encode f's message into b; pieces of the body sized by step. */
static int
fz_msg_encode(struct record_buf *b, const struct fz_msg *f, size_t step,
	      int stream, struct record_extent *x)
{
	struct record_enc e;
	int rc = record_msg_begin(&e, b, FZ_NONCE, &f->m);

	for (size_t i = 0; i < f->nr && rc == 0; i++)
		rc = record_msg_add_rcpt(&e, &f->r[i]);
	if (rc == 0)
		rc = record_msg_body_begin(&e, NULL);
	for (size_t o = 0; o < f->body.len && rc == 0; o += step) {
		size_t n = f->body.len - o < step ? f->body.len - o : step;

		rc = stream ? record_body_stream(&e, f->body.p + o, n)
			    : record_body_append(&e, f->body.p + o, n);
	}
	return record_enc_end(&e, 77, x);
}

static void
fz_msg_compare(const struct fz_msg *f, const struct record_buf *b)
{
	struct record_view v;
	struct record_msg o;
	struct record_msg_rcpt r;
	size_t pos = 0;

	fz_check(record_decode(b->data, b->len, FZ_NONCE, &v) == 1);
	fz_check(v.size == b->len && v.seq == 77);
	fz_check(record_msg_parse(&v, &o) == 0);
	fz_check(memcmp(o.id, f->m.id, RECORD_MSGID_LEN) == 0);
	fz_check(o.received_us == f->m.received_us && o.ret == f->m.ret);
	fz_check(o.flags == f->m.flags && o.copy == f->m.copy);
	fz_check(fz_same(o.sender, f->m.sender) &&
		 fz_same(o.envid, f->m.envid));
	fz_check(fz_same(o.binding, f->m.binding));
	fz_check(fz_same(o.client_addr, f->m.client_addr));
	fz_check(fz_same(o.client_helo, f->m.client_helo));
	fz_check(o.rcpt_count == f->nr);
	for (size_t i = 0; i < f->nr; i++) {
		fz_check(record_msg_rcpt_next(&o, &pos, &r) == 1);
		fz_check(fz_same(r.addr, f->r[i].addr));
		fz_check(fz_same(r.orcpt, f->r[i].orcpt));
		fz_check(r.notify == f->r[i].notify);
	}
	fz_check(record_msg_rcpt_next(&o, &pos, &r) == 0);
	fz_check(fz_same((struct record_bytes){o.body, o.body_len}, f->body));
	fz_check(o.body == b->data + o.body_off);
}

static void
fz_mode_roundtrip_msg(struct fz_in *in)
{
	struct fz_msg f;
	struct record_buf b, s;
	struct record_extent x, xs;
	size_t step;
	int rc;

	step = 1 + fz_u8(in);
	fz_msg_take(in, &f);
	record_buf_init(&b);
	record_buf_init(&s);
	rc = fz_msg_encode(&b, &f, step, 0, &x);
	fz_check(f.over ? rc == -EMSGSIZE : rc == 0);
	fz_check(b.len == (rc == 0 ? x.size : 0) && !b.busy);
	if (rc == 0) {
		fz_msg_compare(&f, &b);
		/* Streamed = buffered once the caller places body and pad. */
		fz_check(fz_msg_encode(&s, &f, step + 3, 1, &xs) == 0);
		if (f.body.len > 0)
			fz_check(xs.streamed && s.len == xs.body_off);
		else /* nothing streamed: the buffer holds it all */
			fz_check(!xs.streamed && s.len == xs.size);
		fz_check(xs.size == x.size && xs.body_off == x.body_off);
		fz_check(memcmp(s.data, b.data, s.len) == 0);
	}
	record_buf_fini(&b);
	record_buf_fini(&s);
}

static void
fz_mode_roundtrip_rcpt(struct fz_in *in)
{
	struct record_rcpt r, o;
	struct record_done d, od;
	struct record_buf b;
	struct record_view v;
	int over = 0, rc;

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < RECORD_MSGID_LEN; i++)
		r.msgid[i] = fz_u8(in);
	r.index = fz_u32(in) % RECORD_RCPT_MAX;
	r.count = 1 + fz_u32(in) % (RECORD_RCPT_MAX - r.index);
	r.state = fz_u8(in) % RECORD_RS__COUNT;
	r.code = (uint16_t)fz_u32(in);
	r.attempts = fz_u32(in);
	r.time_us = fz_u64(in);
	r.next_try_us = r.state == RECORD_RS_DEFERRED ? fz_u64(in) | 1 : 0;
	r.ecode = fz_bytes(in, RECORD_ECODE_MAX, &over);
	r.text = fz_bytes(in, RECORD_TEXT_MAX, &over);
	record_buf_init(&b);
	rc = record_rcpt_encode(&b, FZ_NONCE, 5, &r, NULL);
	fz_check(over ? rc == -EMSGSIZE : rc == 0);
	if (rc == 0) {
		fz_check(record_decode(b.data, b.len, FZ_NONCE, &v) == 1);
		fz_check(record_rcpt_parse(&v, &o) == 0);
		fz_check(memcmp(o.msgid, r.msgid, RECORD_MSGID_LEN) == 0);
		fz_check(o.index == r.index && o.count == r.count);
		fz_check(o.state == r.state && o.code == r.code);
		fz_check(o.attempts == r.attempts && o.time_us == r.time_us);
		fz_check(o.next_try_us == r.next_try_us);
		fz_check(fz_same(o.ecode, r.ecode) && fz_same(o.text, r.text));
	}
	memcpy(d.msgid, r.msgid, RECORD_MSGID_LEN);
	d.time_us = r.time_us;
	record_buf_reset(&b);
	fz_check(record_done_encode(&b, FZ_NONCE, 6, &d, NULL) == 0);
	fz_check(record_decode(b.data, b.len, FZ_NONCE, &v) == 1);
	fz_check(record_done_parse(&v, &od) == 0);
	fz_check(memcmp(&od, &d, sizeof(d)) == 0);
	record_buf_fini(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};

	switch (fz_u8(&in) % 4) {
	case 0:
		fz_mode_raw(in.p, in.n);
		break;
	case 1:
		fz_mode_wrap(&in);
		break;
	case 2:
		fz_mode_roundtrip_msg(&in);
		break;
	case 3:
		fz_mode_roundtrip_rcpt(&in);
		break;
	}
	return 0;
}
