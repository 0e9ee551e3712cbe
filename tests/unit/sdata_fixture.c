/* SPDX-License-Identifier: MIT */
/*
 * sdata_fixture.c: the DATA tests' chunked drivers (sdata_fixture.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sdata_fixture.h"

#include "compat.h"

/* See sdata_fixture.h. */
void
sdfx_dec_run(enum sdata_mode mode, uint64_t cap, const char *in, size_t len,
	     size_t inchunk, size_t outchunk, struct sdfx_dec *r)
{
	struct sdata_dec d;
	size_t pos = 0;

	sdata_dec_init(&d, mode, cap);
	r->rc = 0;
	r->outlen = 0;
	for (;;) {
		size_t n = inchunk ? MIN(inchunk, len - pos) : len - pos;
		size_t room = sizeof(r->out) - r->outlen, used, prod;

		if (outchunk)
			room = MIN(room, outchunk);
		r->rc = sdata_decode(&d, in + pos, n, &used, r->out + r->outlen,
				     room, &prod);
		assert_true(used <= n);
		assert_true(prod <= room);
		pos += used;
		r->outlen += prod;
		if (r->rc == 1)
			break;
		assert_int_equal(r->rc, 0);
		/* Input gone and nothing produced: nothing is pending. */
		if (pos == len && prod == 0)
			break;
		assert_true(used > 0 || prod > 0);
	}
	r->used = pos;
	r->stats = d.stats;
	if (r->rc == 1) {
		size_t used, prod;
		char x;

		/* After the end: nothing more is consumed or produced. */
		assert_int_equal(sdata_decode(&d, "x", 1, &used, &x, 1, &prod),
				 1);
		assert_int_equal(used, 0);
		assert_int_equal(prod, 0);
	}
}

/* See sdata_fixture.h. */
void
sdfx_assert_crlf_canonical(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		assert_int_not_equal(s[i], '\0');
		if (s[i] == '\r')
			assert_true(i + 1 < len && s[i + 1] == '\n');
		if (s[i] == '\n')
			assert_true(i > 0 && s[i - 1] == '\r');
	}
}

/* See sdata_fixture.h. */
size_t
sdfx_enc_run(const char *in, size_t len, size_t inchunk, size_t outchunk,
	     char *out, size_t outsz)
{
	struct sdata_enc e;
	size_t pos = 0, o = 0;

	sdata_enc_init(&e);
	while (pos < len) {
		size_t n = inchunk ? MIN(inchunk, len - pos) : len - pos;
		size_t room = outchunk ? MIN(outchunk, outsz - o) : outsz - o;
		size_t used, prod;

		assert_int_equal(
		    sdata_encode(&e, in + pos, n, &used, out + o, room, &prod),
		    0);
		assert_true(used <= n && prod <= room);
		assert_true(used > 0 || prod > 0);
		pos += used;
		o += prod;
	}
	for (;;) {
		size_t room = outchunk ? MIN(outchunk, outsz - o) : outsz - o;
		size_t prod;
		int rc = sdata_enc_finish(&e, out + o, room, &prod);

		o += prod;
		if (rc == 1)
			break;
		assert_int_equal(rc, 0);
		assert_true(prod > 0);
	}
	return o;
}
