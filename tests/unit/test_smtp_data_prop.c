/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_data_prop: properties of the DATA coder over random and
 * adversarial inputs: decode(encode(x)) == canonical(x), normalisation,
 * and the encoder's fast path (long runs, dots and CRLFs at chunk
 * boundaries) against a byte-by-byte reference.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "sdata_fixture.h"
#include "smtp_data.h"

/* ---- round-trip property ----------------------------------------------- */

static uint32_t rng_state = 0x12345678u;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* NUL dropped, every line ending CRLF, a final CRLF added if missing. */
static size_t
canonical(const char *in, size_t len, char *out)
{
	size_t o = 0;
	bool cr = false;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '\0')
			continue;
		if (cr) {
			out[o++] = '\r';
			out[o++] = '\n';
			cr = false;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			cr = true;
		} else if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		} else {
			out[o++] = c;
		}
	}
	if (cr || (o > 0 && out[o - 1] != '\n')) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

/* Wire bytes: no bare CR/LF/NUL, one terminator and only at the end. */
static void
assert_wire_ok(const char *w, size_t n)
{
	const char *end;

	assert_true(n >= 3);
	sdfx_assert_crlf_canonical(w, n);
	if (n == 3) {
		assert_memory_equal(w, ".\r\n", 3);
		return;
	}
	assert_memory_equal(w + n - 5, "\r\n.\r\n", 5);
	end = memmem(w, n, "\r\n.\r\n", 5);
	assert_true(end == w + n - 5);
	assert_false(w[0] == '.' && w[1] == '\r');
}

static void
test_roundtrip_property(void **state)
{
	static const char alpha[] = {'\r', '\n', '.', '\0', 'a', ' ', '\x80'};
	char *x = xmalloc(600), *canon = xmalloc(1400), *wire = xmalloc(2000);
	struct sdfx_dec *r = xmalloc(sizeof(*r));

	(void)state;
	for (unsigned iter = 0; iter < 3000; iter++) {
		size_t len = rng() % 300, clen, wlen, wlen2;

		for (size_t i = 0; i < len; i++)
			x[i] = alpha[rng() % sizeof(alpha)];
		clen = canonical(x, len, canon);
		wlen = sdfx_enc_run(x, len, 1 + rng() % 9, 1 + rng() % 9, wire,
				    2000);
		wlen2 = sdfx_enc_run(x, len, 0, 0, r->out, sizeof(r->out));
		assert_int_equal(wlen, wlen2);
		assert_memory_equal(wire, r->out, wlen);
		assert_wire_ok(wire, wlen);
		for (unsigned m = 0; m < SDATA_MODE__COUNT; m++) {
			sdfx_dec_run((enum sdata_mode)m, 0, wire, wlen,
				     rng() % 9, rng() % 9, r);
			assert_int_equal(r->rc, 1);
			assert_int_equal(r->used, wlen);
			assert_int_equal(r->outlen, clen);
			assert_memory_equal(r->out, canon, clen);
			for (unsigned a = 0; a < SDATA_AN__COUNT; a++)
				assert_int_equal(r->stats.an[a], 0);
		}
		/* Canonical input comes back exactly. */
		wlen = sdfx_enc_run(canon, clen, 0, 0, wire, 2000);
		sdfx_dec_run(SDATA_STRICT, 0, wire, wlen, 0, 0, r);
		assert_int_equal(r->outlen, clen);
		assert_memory_equal(r->out, canon, clen);
	}
	free(x);
	free(canon);
	free(wire);
	free(r);
}

/* Arbitrary raw DATA: normalize output is canonical and survives re-send. */
static void
test_normalize_property(void **state)
{
	static const char alpha[] = {'\r', '\n', '.', '\0', 'a'};
	char *raw = xmalloc(400), *wire = xmalloc(2000);
	struct sdfx_dec *r = xmalloc(sizeof(*r)), *r2 = xmalloc(sizeof(*r2));

	(void)state;
	for (unsigned iter = 0; iter < 3000; iter++) {
		size_t len = rng() % 300, wlen;

		for (size_t i = 0; i < len; i++)
			raw[i] = alpha[rng() % sizeof(alpha)];
		memcpy(raw + len, "\r\n.\r\n", 5);
		len += 5;
		sdfx_dec_run(SDATA_NORMALIZE, 0, raw, len, 0, 0, r);
		assert_int_equal(r->rc, 1);
		sdfx_assert_crlf_canonical(r->out, r->outlen);
		sdfx_dec_run(SDATA_NORMALIZE, 0, raw, len, 1 + rng() % 5,
			     1 + rng() % 5, r2);
		assert_int_equal(r2->used, r->used);
		assert_int_equal(r2->outlen, r->outlen);
		assert_memory_equal(r2->out, r->out, r->outlen);
		/* Re-sending the message yields it again, one message. */
		wlen = sdfx_enc_run(r->out, r->outlen, 0, 0, wire, 2000);
		assert_wire_ok(wire, wlen);
		sdfx_dec_run(SDATA_STRICT, 0, wire, wlen, 0, 0, r2);
		assert_int_equal(r2->rc, 1);
		assert_int_equal(r2->used, wlen);
		assert_int_equal(r2->outlen, r->outlen);
		assert_memory_equal(r2->out, r->out, r->outlen);
		/* STRICT on the raw input ends at the same place. */
		sdfx_dec_run(SDATA_STRICT, 0, raw, len, 0, 0, r2);
		assert_int_equal(r2->used, r->used);
		assert_memory_equal(r2->stats.an, r->stats.an,
				    sizeof(r->stats.an));
	}
	free(raw);
	free(wire);
	free(r);
	free(r2);
}

/* ---- the fast path: long runs, dots and CRLFs at chunk boundaries ------- */

/* Wire bytes for x by the rules, written plainly: canonical, stuffed, ".". */
static size_t
ref_wire(const char *x, size_t len, char *out)
{
	char *canon = xmalloc(2 * len + 2);
	size_t clen = canonical(x, len, canon), o = 0;

	for (size_t i = 0; i < clen; i++) {
		if (canon[i] == '.' && (i == 0 || canon[i - 1] == '\n'))
			out[o++] = '.';
		out[o++] = canon[i];
	}
	memcpy(out + o, ".\r\n", 3);
	free(canon);
	return o + 3;
}

/* Line counters the decoder must report for clean wire bytes w[0..n). */
static void
ref_lines(const char *w, size_t n, uint64_t *lines_r, uint64_t *max_r)
{
	uint64_t lines = 0, maxl = 0, cur = 0;

	for (size_t i = 0; i + 3 < n; i++) { /* the final ".\r\n" excluded */
		if (w[i] == '\r')
			continue;
		if (w[i] == '\n') {
			lines++;
			maxl = MAX(maxl, cur);
			cur = 0;
		} else {
			cur++;
		}
	}
	*lines_r = lines;
	*max_r = maxl;
}

/*
 * Encode x as the client does in place: each chunk of ic bytes (0: all)
 * keeps its sdata_enc_pass() prefix as it is, and only the rest goes
 * through sdata_encode().  Returns the wire length; *kept_r counts the
 * bytes kept in place.
 */
static size_t
enc_inplace(const char *x, size_t len, size_t ic, char *out, size_t outsz,
	    size_t *kept_r)
{
	struct sdata_enc e;
	size_t pos = 0, o = 0, used, prod;

	sdata_enc_init(&e);
	*kept_r = 0;
	while (pos < len) {
		size_t n = ic ? MIN(ic, len - pos) : len - pos;
		size_t k = sdata_enc_pass(&e, x + pos, n);

		assert_true(k <= n && o + k <= outsz);
		memcpy(out + o, x + pos, k);
		o += k;
		*kept_r += k;
		assert_int_equal(sdata_encode(&e, x + pos + k, n - k, &used,
					      out + o, outsz - o, &prod),
				 0);
		assert_int_equal(used, n - k);
		o += prod;
		pos += n;
	}
	assert_int_equal(sdata_enc_finish(&e, out + o, outsz - o, &prod), 1);
	return o + prod;
}

/* x must encode to ref_wire(x) at the splits given, and decode back. */
static void
check_coding(const char *x, size_t len, size_t ic, size_t oc, size_t dic,
	     size_t doc)
{
	char *want = xmalloc(3 * len + 8), *wire = xmalloc(3 * len + 8);
	char *canon = xmalloc(2 * len + 2);
	struct sdfx_dec *r = xmalloc(sizeof(*r));
	size_t wlen = ref_wire(x, len, want), n, clen;
	uint64_t lines, maxl;

	n = sdfx_enc_run(x, len, ic, oc, wire, 3 * len + 8);
	assert_int_equal(n, wlen);
	assert_memory_equal(wire, want, wlen);
	n = enc_inplace(x, len, ic, wire, 3 * len + 8, &clen);
	assert_int_equal(n, wlen);
	assert_memory_equal(wire, want, wlen);
	clen = canonical(x, len, canon);
	ref_lines(want, wlen, &lines, &maxl);
	for (unsigned m = 0; m < SDATA_MODE__COUNT; m++) {
		sdfx_dec_run((enum sdata_mode)m, 0, want, wlen, dic, doc, r);
		assert_int_equal(r->rc, 1);
		assert_int_equal(r->used, wlen);
		assert_int_equal(r->outlen, clen);
		assert_memory_equal(r->out, canon, clen);
		assert_int_equal(r->stats.size, clen);
		assert_int_equal(r->stats.lines, lines);
		assert_int_equal(r->stats.max_line, maxl);
		assert_int_equal(
		    sdata_dec_anomalies(&(struct sdata_dec){.stats = r->stats}),
		    0);
	}
	free(want);
	free(wire);
	free(canon);
	free(r);
}

/*
 * A dot that must be stuffed (and unstuffed) at every offset from a chunk
 * boundary, in either coder's input or output, after plain text long
 * enough for the 16-byte scan, next to empty lines and CRLFs split across
 * calls.
 */
static void
test_dot_at_chunk_boundaries(void **state)
{
	char x[160];
	size_t len = 0;

	(void)state;
	memset(x, 'a', 37);
	len = 37;
	memcpy(x + len, "\r\n.b\r\n\r\n.\r\n..\r\n", 16);
	len += 16;
	memset(x + len, 'c', 40);
	len += 40;
	memcpy(x + len, "\r\n.\r\n", 5);
	len += 5;
	for (size_t c = 1; c <= len + 1; c++) {
		check_coding(x, len, c, 0, c, 0);
		check_coding(x, len, 0, c, 0, c);
		check_coding(x, len, c, c + 1, c + 2, c);
	}
	/* the same with the dot first in the body */
	for (size_t c = 1; c <= 8; c++)
		check_coding(x + 39, len - 39, c, c, c, c);
}

/* What sdata_enc_pass() keeps in place, and when it keeps nothing. */
static void
test_enc_pass(void **state)
{
	static const struct {
		const char *before; /* encoded first (state, pending) */
		size_t blen;
		const char *buf;
		size_t kept;
	} cases[] = {
	    {"", 0, "ab\r\ncd\r\n\r\nef\r\n", 14}, /* all of it */
	    {"", 0, "ab\r\n.cd\r\n", 4},           /* up to the "." */
	    {"", 0, ".ab", 0},                     /* "." first */
	    {"", 0, "ab.c\r\n", 6},                /* "." inside */
	    {"", 0, "ab\ncd", 2},                  /* bare LF */
	    {"", 0, "ab\rcd", 2},                  /* bare CR */
	    {"", 0, "ab\r", 2},                    /* CR at the end */
	    {"", 0, "a\0b", 1},                    /* NUL */
	    {"", 0, "\r\n.", 2},                   /* CRLF, then "." */
	    {"x\r", 2, "\nab", 0},                 /* CR held */
	    {"x\r\n", 3, "ab", 2},                 /* at a line start */
	    {"x\r\n", 3, ".ab", 0},
	    {"x", 1, ".ab\r\n", 5}, /* inside a line: "." is text */
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		struct sdata_enc e;
		size_t used, prod;
		char out[32];

		sdata_enc_init(&e);
		assert_int_equal(sdata_encode(&e, cases[i].before,
					      cases[i].blen, &used, out,
					      sizeof(out), &prod),
				 0);
		if (sdata_enc_pass(&e, cases[i].buf, strlen(cases[i].buf)) !=
		    cases[i].kept)
			fail_msg("pass case %zu", i);
	}
	/* Nothing is kept while output is pending (out was too small). */
	{
		struct sdata_enc e;
		size_t used, prod;
		char out[1];

		sdata_enc_init(&e);
		assert_int_equal(
		    sdata_encode(&e, ".x", 2, &used, out, sizeof(out), &prod),
		    0);
		assert_int_equal(prod, 1);
		assert_int_equal(sdata_enc_pass(&e, "abc", 3), 0);
	}
}

/*
 * Long mostly plain bodies (long SSE2 runs, lines of every length): the
 * whole encode/decode matches the plain rules and every split, counters
 * included.
 */
static void
test_long_runs_property(void **state)
{
	static const char *const bits[] = {"\r\n",     "\r\n", "\r\n", "\r\n.",
					   "\r\n\r\n", "\n",   "\r",   ".",
					   "\0",       "\t"};
	char *x = xmalloc(3100);

	(void)state;
	for (unsigned iter = 0; iter < 400; iter++) {
		size_t len = 0, want = rng() % 3000;

		while (len < want) {
			uint32_t v = rng() % 64;

			if (v < nitems(bits)) {
				size_t n = v == 8 ? 1 : strlen(bits[v]);

				memcpy(x + len, bits[v], n);
				len += n;
			} else {
				x[len++] = (char)('a' + v % 26);
			}
		}
		check_coding(x, len, 0, 0, 0, 0);
		check_coding(x, len, 1 + rng() % 70, 1 + rng() % 70,
			     1 + rng() % 70, 1 + rng() % 70);
		check_coding(x, len, 1, 0, 1, 0); /* byte by byte: steps only */
	}
	free(x);
}

/* ---- the "own wire encoding" fact -------------------------------------- */

/* 1 if body[0..len) is sent as it is: all kept by sdata_enc_pass() and
 * sdata_enc_finish() adds only ".\r\n". */
static bool
sends_as_is(const char *body, size_t len)
{
	struct sdata_enc e;
	char fin[8];
	size_t prod;

	sdata_enc_init(&e);
	if (sdata_enc_pass(&e, body, len) != len)
		return false;
	assert_int_equal(sdata_enc_finish(&e, fin, sizeof(fin), &prod), 1);
	return prod == 3;
}

/*
 * stats.wire after random raw DATA (terminated) in both modes, any split:
 * set exactly when the output is sent as it is, except that a NUL in the
 * data always clears it (NORMALIZE may drop it before a line's ".").
 */
static void
test_wire_property(void **state)
{
	static const char *const bits[] = {"\r\n", "\r\n.", "\r\n..", "\n",
					   "\r",   ".",     "\0",     "x"};
	static const char term[] = "\r\n.\r\n";
	char *x = xmalloc(400);
	struct sdfx_dec *r = xmalloc(sizeof(*r));
	unsigned wired = 0, plain = 0;

	(void)state;
	for (unsigned iter = 0; iter < 4000; iter++) {
		size_t len = 0, want = rng() % 300;

		while (len < want) {
			uint32_t v = rng() % 16;
			const char *b = v < nitems(bits) ? bits[v] : "ab";
			size_t n = v == 6 ? 1 : strlen(b);

			memcpy(x + len, b, n);
			len += n;
		}
		memcpy(x + len, term, 5);
		len += 5;
		for (unsigned m = 0; m < SDATA_MODE__COUNT; m++) {
			bool as_is;

			sdfx_dec_run((enum sdata_mode)m, 0, x, len, rng() % 9,
				     rng() % 9, r);
			assert_int_equal(r->rc, 1);
			as_is = sends_as_is(r->out, r->outlen);
			if (r->stats.wire)
				assert_true(as_is);
			else if (r->stats.an[SDATA_AN_NUL] == 0)
				assert_false(as_is);
			wired += r->stats.wire;
			plain += !r->stats.wire;
		}
	}
	assert_true(wired > 100 && plain > 100); /* both sides were seen */
	free(r);
	free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_property),
	    cmocka_unit_test(test_normalize_property),
	    cmocka_unit_test(test_dot_at_chunk_boundaries),
	    cmocka_unit_test(test_long_runs_property),
	    cmocka_unit_test(test_enc_pass),
	    cmocka_unit_test(test_wire_property),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
