/* SPDX-License-Identifier: MIT */
/*
 * fuzz_smtp_data.c: the DATA decoder and encoder.
 *
 * Input: byte 0 = bits 0-2 input chunk - 1, bits 3-5 output chunk - 1 for
 * the split runs; byte 1 = size cap selector (0: none, else 1..255); the
 * rest is x.  Properties checked:
 *   1. encode(x) is the same whole or split, and encoded in place
 *      (sdata_enc_pass() prefixes kept as they are, the rest through
 *      sdata_encode(), pieces of ic, 17 + 3 * ic bytes or all); it has no
 *      bare CR, LF or NUL and exactly one terminator, at its end;
 *   2. decode(encode(x)) == canonical(x) in both modes, no anomalies, and
 *      the decoder stops exactly at the end of the wire bytes;
 *   3. x + CRLF.CRLF decoded raw: whole and split agree (output, end, every
 *      counter); STRICT and NORMALIZE end at the same byte with the same
 *      counters; NORMALIZE output is CRLF-canonical and, re-encoded and
 *      decoded, comes back identical as one message;
 *   4. with a cap, the output is the first min(size, cap) bytes and
 *      oversize is set exactly when size > cap;
 *   5. when a decode sets stats.wire, its output encodes (in place) to
 *      itself followed by ".\r\n" only.
 */
#include "smtp_data.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

#define FZ_MIN(a, b) ((a) < (b) ? (a) : (b))

struct fz_dec {
	int rc;
	size_t used, outlen;
	char *out;
	struct sdata_stats st;
};

/* Decode in with at most ic input / oc output bytes per call (0: all). */
static void
fz_decode(enum sdata_mode mode, uint64_t cap, const char *in, size_t len,
	  size_t ic, size_t oc, struct fz_dec *r, size_t outsz)
{
	struct sdata_dec d;
	size_t pos = 0;

	sdata_dec_init(&d, mode, cap);
	r->outlen = 0;
	for (;;) {
		size_t n = ic ? FZ_MIN(ic, len - pos) : len - pos;
		size_t room =
		    oc ? FZ_MIN(oc, outsz - r->outlen) : outsz - r->outlen;
		size_t used, prod;

		r->rc = sdata_decode(&d, in + pos, n, &used, r->out + r->outlen,
				     room, &prod);
		FZ_CHECK(used <= n && prod <= room);
		pos += used;
		r->outlen += prod;
		if (r->rc == 1)
			break;
		FZ_CHECK(r->rc == 0);
		if (pos == len && prod == 0)
			break;
		FZ_CHECK(used > 0 || prod > 0);
	}
	r->used = pos;
	r->st = d.stats;
}

/*
 * Encode in with at most ic input / oc output bytes per call (0: all).
 * inplace: first keep the sdata_enc_pass() prefix of each piece as it is
 * (as the client does with a read), then encode what is left of it.
 */
static size_t
fz_encode(const char *in, size_t len, size_t ic, size_t oc, int inplace,
	  char *out, size_t outsz)
{
	struct sdata_enc e;
	size_t pos = 0, o = 0, used, prod;

	sdata_enc_init(&e);
	while (pos < len) {
		size_t n = ic ? FZ_MIN(ic, len - pos) : len - pos;
		size_t room = oc ? FZ_MIN(oc, outsz - o) : outsz - o;
		size_t k = inplace ? sdata_enc_pass(&e, in + pos, n) : 0;

		FZ_CHECK(k <= n && o + k <= outsz);
		memcpy(out + o, in + pos, k);
		o += k;
		pos += k;
		if (k == n)
			continue;
		FZ_CHECK(sdata_encode(&e, in + pos, n - k, &used, out + o,
				      FZ_MIN(room, outsz - o), &prod) == 0);
		FZ_CHECK(used <= n - k && prod <= room && (used || prod));
		pos += used;
		o += prod;
	}
	for (;;) {
		size_t room = oc ? FZ_MIN(oc, outsz - o) : outsz - o;
		int rc = sdata_enc_finish(&e, out + o, room, &prod);

		o += prod;
		if (rc == 1)
			break;
		FZ_CHECK(rc == 0 && prod > 0);
	}
	return o;
}

/* NUL dropped, every ending CRLF, final CRLF added when missing. */
static size_t
fz_canonical(const char *in, size_t len, char *out)
{
	size_t o = 0;
	int cr = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\0')
			continue;
		if (cr) {
			out[o++] = '\r';
			out[o++] = '\n';
			cr = 0;
			if (in[i] == '\n')
				continue;
		}
		if (in[i] == '\r') {
			cr = 1;
		} else if (in[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		} else {
			out[o++] = in[i];
		}
	}
	if (cr || (o > 0 && out[o - 1] != '\n')) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

static void
fz_check_canonical(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		FZ_CHECK(s[i] != '\0');
		if (s[i] == '\r')
			FZ_CHECK(i + 1 < n && s[i + 1] == '\n');
		if (s[i] == '\n')
			FZ_CHECK(i > 0 && s[i - 1] == '\r');
	}
}

static void
fz_check_wire(const char *w, size_t n)
{
	fz_check_canonical(w, n);
	FZ_CHECK(n >= 3);
	if (n == 3) {
		FZ_CHECK(memcmp(w, ".\r\n", 3) == 0);
		return;
	}
	FZ_CHECK(memcmp(w + n - 5, "\r\n.\r\n", 5) == 0);
	FZ_CHECK(memmem(w, n, "\r\n.\r\n", 5) == w + n - 5);
	FZ_CHECK(!(w[0] == '.' && w[1] == '\r'));
}

static int
fz_same(const struct fz_dec *a, const struct fz_dec *b)
{
	return a->rc == b->rc && a->used == b->used && a->outlen == b->outlen &&
	       memcmp(a->out, b->out, a->outlen) == 0 &&
	       memcmp(a->st.an, b->st.an, sizeof(a->st.an)) == 0 &&
	       a->st.size == b->st.size && a->st.lines == b->st.lines &&
	       a->st.max_line == b->st.max_line &&
	       a->st.dot_bol == b->st.dot_bol && a->st.wire == b->st.wire &&
	       a->st.oversize == b->st.oversize;
}

/* Properties 1 and 2. */
static void
fz_roundtrip(const char *x, size_t len, size_t ic, size_t oc, struct fz_dec *r,
	     char *wire, char *wire2, char *canon, size_t bufsz)
{
	size_t wlen = fz_encode(x, len, 0, 0, 0, wire, bufsz);
	size_t clen = fz_canonical(x, len, canon);

	FZ_CHECK(fz_encode(x, len, ic, oc, 0, wire2, bufsz) == wlen);
	FZ_CHECK(memcmp(wire, wire2, wlen) == 0);
	for (size_t c = 0; c < 3; c++) {
		size_t chunk = c == 0 ? ic : c == 1 ? 17 + 3 * ic : 0;

		FZ_CHECK(fz_encode(x, len, chunk, c == 0 ? oc : 0, 1, wire2,
				   bufsz) == wlen);
		FZ_CHECK(memcmp(wire, wire2, wlen) == 0);
	}
	fz_check_wire(wire, wlen);
	for (int m = 0; m < SDATA_MODE__COUNT; m++) {
		fz_decode((enum sdata_mode)m, 0, wire, wlen, ic, oc, r, bufsz);
		FZ_CHECK(r->rc == 1 && r->used == wlen);
		FZ_CHECK(r->outlen == clen);
		FZ_CHECK(memcmp(r->out, canon, clen) == 0);
		for (int a = 0; a < SDATA_AN__COUNT; a++)
			FZ_CHECK(r->st.an[a] == 0);
	}
}

/* Property 5: a decode that says wire is sent as it is, in place. */
static void
fz_check_wire_fact(const struct fz_dec *r, char *wire, size_t bufsz)
{
	size_t wlen;

	if (!r->st.wire)
		return;
	FZ_CHECK(r->rc == 1 && !r->st.oversize);
	wlen = fz_encode(r->out, r->outlen, 0, 0, 1, wire, bufsz);
	FZ_CHECK(wlen == r->outlen + 3);
	FZ_CHECK(memcmp(wire, r->out, r->outlen) == 0);
	FZ_CHECK(memcmp(wire + r->outlen, ".\r\n", 3) == 0);
}

/* Properties 3, 4 and 5 on raw = x + CRLF.CRLF. */
static void
fz_raw(const char *raw, size_t len, size_t ic, size_t oc, uint64_t cap,
       struct fz_dec *r, struct fz_dec *r2, char *wire, size_t bufsz)
{
	size_t wlen;

	fz_decode(SDATA_STRICT, 0, raw, len, 0, 0, r, bufsz);
	FZ_CHECK(r->rc == 1);
	fz_decode(SDATA_STRICT, 0, raw, len, ic, oc, r2, bufsz);
	FZ_CHECK(fz_same(r, r2));
	fz_check_wire_fact(r, wire, bufsz);
	fz_decode(SDATA_NORMALIZE, 0, raw, len, 0, 0, r2, bufsz);
	FZ_CHECK(r2->rc == 1 && r2->used == r->used);
	FZ_CHECK(memcmp(r->st.an, r2->st.an, sizeof(r->st.an)) == 0);
	fz_check_canonical(r2->out, r2->outlen);
	fz_check_wire_fact(r2, wire, bufsz);
	fz_decode(SDATA_NORMALIZE, 0, raw, len, ic, oc, r, bufsz);
	FZ_CHECK(fz_same(r, r2));
	/* The normalised message survives being sent on, as one message. */
	wlen = fz_encode(r2->out, r2->outlen, 0, 0, 0, wire, bufsz);
	fz_check_wire(wire, wlen);
	fz_decode(SDATA_STRICT, 0, wire, wlen, ic, oc, r, bufsz);
	FZ_CHECK(r->rc == 1 && r->used == wlen);
	FZ_CHECK(r->outlen == r2->outlen);
	FZ_CHECK(memcmp(r->out, r2->out, r->outlen) == 0);
	if (cap == 0)
		return;
	fz_decode(SDATA_NORMALIZE, cap, raw, len, ic, oc, r, bufsz);
	FZ_CHECK(r->rc == 1 && r->used == r2->used);
	FZ_CHECK(r->st.size == r2->st.size);
	FZ_CHECK(r->st.oversize == (r2->st.size > cap));
	FZ_CHECK(r->outlen == FZ_MIN(r2->outlen, cap));
	FZ_CHECK(memcmp(r->out, r2->out, r->outlen) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_dec r, r2;
	size_t len, bufsz, ic, oc;
	char *x, *wire, *wire2, *canon;
	uint64_t cap;

	if (size < 2)
		return 0;
	ic = (size_t)(data[0] & 7) + 1;
	oc = (size_t)((data[0] >> 3) & 7) + 1;
	cap = data[1];
	len = size - 2;
	bufsz = 2 * len + 16;
	x = malloc(len + 5);
	wire = malloc(bufsz);
	wire2 = malloc(bufsz);
	canon = malloc(bufsz);
	r.out = malloc(bufsz);
	r2.out = malloc(bufsz);
	FZ_CHECK(x && wire && wire2 && canon && r.out && r2.out);
	memcpy(x, data + 2, len);
	fz_roundtrip(x, len, ic, oc, &r, wire, wire2, canon, bufsz);
	memcpy(x + len, "\r\n.\r\n", 5);
	fz_raw(x, len + 5, ic, oc, cap, &r, &r2, wire, bufsz);
	free(x);
	free(wire);
	free(wire2);
	free(canon);
	free(r.out);
	free(r2.out);
	return 0;
}
