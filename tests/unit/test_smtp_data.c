/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_data: DATA decoder in both modes (smuggling variants, stuffing,
 * anomalies, size cap, any input/output split) and the encoder, plus the
 * round-trip property decode(encode(x)) == canonical(x).
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
#include "smtp_data.h"

/* ---- helpers ----------------------------------------------------------- */

struct dec_result {
	int rc;
	size_t used;
	size_t outlen;
	char out[8192];
	struct sdata_stats stats;
};

/*
 * Decode in[0..len) feeding at most inchunk bytes per call and offering at
 * most outchunk bytes of output per call (0: unlimited), until end of data
 * or the input is gone.
 */
static void
dec_run(enum sdata_mode mode, uint64_t cap, const char *in, size_t len,
	size_t inchunk, size_t outchunk, struct dec_result *r)
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

static const size_t chunks[] = {0, 1, 2, 3, 5, 7};

/* ---- decoder table ----------------------------------------------------- */

struct dec_case {
	const char *in;
	size_t len;         /* 0: strlen */
	const char *strict; /* expected output, STRICT */
	size_t slen;        /* 0: strlen (set it when NUL is inside) */
	const char *norm;   /* expected output, NORMALIZE */
	long used;          /* bytes up to the end; 0: all of in; -1: no end */
	const char *an;     /* expected anomalies: "name:count ..." */
};

/* clang-format off */
static const struct dec_case dec_cases[] = {
	{ "hello\r\n.\r\n", 0, "hello\r\n", 0, "hello\r\n", 0, "" },
	{ ".\r\n", 0, "", 0, "", 0, "" },
	{ "\r\n.\r\n", 0, "\r\n", 0, "\r\n", 0, "" },
	{ "..\r\n.\r\n", 0, ".\r\n", 0, ".\r\n", 0, "" },
	{ "..x\r\n.\r\n", 0, ".x\r\n", 0, ".x\r\n", 0, "" },
	{ ".x\r\n.\r\n", 0, "x\r\n", 0, "x\r\n", 0, "" },
	{ "...\r\n.\r\n", 0, "..\r\n", 0, "..\r\n", 0, "" },
	{ "a\r\n.\r\nMAIL FROM:<>\r\n", 0, "a\r\n", 0, "a\r\n", 6, "" },
	{ "a\r\n.\r", 0, "a\r\n", 0, "a\r\n", -1, "" },
	{ "a\r\n.", 0, "a\r\n", 0, "a\r\n", -1, "" },
	{ "a\r\n", 0, "a\r\n", 0, "a\r\n", -1, "" },
	{ "a\r", 0, "a", 0, "a", -1, "" },
	/* SEC Consult variants between "x" and "y"; only the real end ends. */
	{ "x\n.\ny\r\n.\r\n", 0, "x\n.\ny\r\n", 0, "x\r\n.\r\ny\r\n", 0,
	  "bare_lf:2 lf_dot_lf:1" },
	{ "x\n.\r\ny\r\n.\r\n", 0, "x\n.\r\ny\r\n", 0, "x\r\n.\r\ny\r\n", 0,
	  "bare_lf:1 lf_dot_crlf:1" },
	{ "x\r.\ry\r\n.\r\n", 0, "x\r.\ry\r\n", 0, "x\r\n.\r\ny\r\n", 0,
	  "bare_cr:2 cr_dot_cr:1" },
	{ "x\r\n.\ry\r\n.\r\n", 0, "x\r\n.\ry\r\n", 0, "x\r\n.\r\ny\r\n", 0,
	  "bare_cr:1 crlf_dot_cr:1" },
	{ "x\r.\r\ny\r\n.\r\n", 0, "x\r.\r\ny\r\n", 0, "x\r\n.\r\ny\r\n", 0,
	  "bare_cr:1 cr_dot_crlf:1" },
	{ "x\r\n\0.\r\ny\r\n.\r\n", 13, "x\r\n\0.\r\ny\r\n", 10,
	  "x\r\n.\r\ny\r\n", 0, "nul:1" },
	{ "x\r\n.\ny\r\n.\r\n", 0, "x\r\n.\ny\r\n", 0, "x\r\n.\r\ny\r\n", 0,
	  "bare_lf:1 crlf_dot_lf:1" },
	{ "x\n.\ry\r\n.\r\n", 0, "x\n.\ry\r\n", 0, "x\r\n.\r\ny\r\n", 0,
	  "bare_lf:1 bare_cr:1 lf_dot_cr:1" },
	{ "x\r.\ny\r\n.\r\n", 0, "x\r.\ny\r\n", 0, "x\r\n.\r\ny\r\n", 0,
	  "bare_lf:1 bare_cr:1 cr_dot_lf:1" },
	/* A smuggling "." line at the very start (the start counts as CRLF). */
	{ ".\nMAIL\r\n.\r\n", 0, ".\nMAIL\r\n", 0, ".\r\nMAIL\r\n", 0,
	  "bare_lf:1 crlf_dot_lf:1" },
	/* The real end straight after a smuggling line. */
	{ "a\r\n.\r\r\n.\r\n", 0, "a\r\n.\r\r\n", 0, "a\r\n.\r\n\r\n", 0,
	  "bare_cr:1 crlf_dot_cr:1" },
	{ "a\n.\r\n.\r\n", 0, "a\n.\r\n", 0, "a\r\n.\r\n", 0,
	  "bare_lf:1 lf_dot_crlf:1" },
	{ "a\n.\r\nb\r\n.\r\n", 0, "a\n.\r\nb\r\n", 0, "a\r\n.\r\nb\r\n", 0,
	  "bare_lf:1 lf_dot_crlf:1" },
	/* Plain bare endings and NUL. */
	{ "a\nb\r\n.\r\n", 0, "a\nb\r\n", 0, "a\r\nb\r\n", 0, "bare_lf:1" },
	{ "a\rb\r\n.\r\n", 0, "a\rb\r\n", 0, "a\r\nb\r\n", 0, "bare_cr:1" },
	{ "\r\r\n.\r\n", 0, "\r\r\n", 0, "\r\n\r\n", 0, "bare_cr:1" },
	{ "a\0b\r\n.\r\n", 8, "a\0b\r\n", 5, "ab\r\n", 0, "nul:1" },
	{ ".\0\r\n.\r\n", 7, "\0\r\n", 3, "\r\n", 0, "nul:1" },
	{ "\0.\r\n.\r\n", 7, "\0.\r\n", 4, ".\r\n", 0, "nul:1" },
	/* Unstuffing after a bare ending: STRICT keeps the dots, NORMALIZE not. */
	{ "a\n..b\r\n.\r\n", 0, "a\n..b\r\n", 0, "a\r\n.b\r\n", 0, "bare_lf:1" },
	{ "a\r..b\r\n.\r\n", 0, "a\r..b\r\n", 0, "a\r\n.b\r\n", 0, "bare_cr:1" },
};
/* clang-format on */

/* Expected counters from "name:count ..." (names from sdata_an_str()). */
static void
parse_an(const char *spec, uint64_t an[SDATA_AN__COUNT])
{
	memset(an, 0, sizeof(uint64_t) * SDATA_AN__COUNT);
	while (*spec != '\0') {
		const char *colon = strchr(spec, ':');
		bool found = false;

		assert_non_null(colon);
		for (unsigned a = 0; a < SDATA_AN__COUNT; a++) {
			const char *name = sdata_an_str((enum sdata_an)a);

			if (strlen(name) == (size_t)(colon - spec) &&
			    memcmp(name, spec, strlen(name)) == 0) {
				an[a] = strtoull(colon + 1, NULL, 10);
				found = true;
			}
		}
		assert_true(found);
		spec = strchr(colon, ' ');
		if (spec == NULL)
			break;
		spec++;
	}
}

static void
check_dec_case(const struct dec_case *c, size_t idx, enum sdata_mode mode)
{
	size_t len = c->len ? c->len : strlen(c->in);
	const char *want = mode == SDATA_STRICT ? c->strict : c->norm;
	size_t wlen = mode == SDATA_STRICT && c->slen ? c->slen : strlen(want);
	struct dec_result *r = xmalloc(sizeof(*r));
	uint64_t an[SDATA_AN__COUNT];

	parse_an(c->an, an);
	for (size_t i = 0; i < nitems(chunks); i++) {
		for (size_t o = 0; o < nitems(chunks); o++) {
			dec_run(mode, 0, c->in, len, chunks[i], chunks[o], r);
			if (r->outlen != wlen ||
			    memcmp(r->out, want, wlen) != 0)
				fail_msg("case %zu %s in %zu out %zu: output "
					 "differs (len %zu want %zu)",
					 idx, sdata_mode_str(mode), chunks[i],
					 chunks[o], r->outlen, wlen);
			if (c->used < 0) {
				assert_int_equal(r->rc, 0);
				assert_int_equal(r->used, len);
			} else {
				assert_int_equal(r->rc, 1);
				assert_int_equal(
				    r->used, c->used ? (size_t)c->used : len);
			}
			for (unsigned a = 0; a < SDATA_AN__COUNT; a++)
				if (r->stats.an[a] != an[a])
					fail_msg(
					    "case %zu %s: %s = %llu", idx,
					    sdata_mode_str(mode),
					    sdata_an_str((enum sdata_an)a),
					    (unsigned long long)r->stats.an[a]);
		}
	}
	free(r);
}

static void
test_decode_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(dec_cases); i++) {
		check_dec_case(&dec_cases[i], i, SDATA_STRICT);
		check_dec_case(&dec_cases[i], i, SDATA_NORMALIZE);
	}
}

/* Normalized output never holds a bare CR, a bare LF or a NUL. */
static void
assert_crlf_canonical(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		assert_int_not_equal(s[i], '\0');
		if (s[i] == '\r')
			assert_true(i + 1 < len && s[i + 1] == '\n');
		if (s[i] == '\n')
			assert_true(i > 0 && s[i - 1] == '\r');
	}
}

static void
test_decode_normalize_canonical(void **state)
{
	struct dec_result *r = xmalloc(sizeof(*r));

	(void)state;
	for (size_t i = 0; i < nitems(dec_cases); i++) {
		const struct dec_case *c = &dec_cases[i];

		dec_run(SDATA_NORMALIZE, 0, c->in,
			c->len ? c->len : strlen(c->in), 0, 0, r);
		if (r->rc == 1)
			assert_crlf_canonical(r->out, r->outlen);
	}
	free(r);
}

static void
test_dot_lines_total(void **state)
{
	struct dec_result *r = xmalloc(sizeof(*r));
	const char *in = "a\n.\rb\r\n.\n.\r\n.\r\n";

	(void)state;
	dec_run(SDATA_STRICT, 0, in, strlen(in), 0, 0, r);
	assert_int_equal(r->rc, 1);
	assert_int_equal(r->stats.dot_lines, 3);
	assert_int_equal(r->stats.an[SDATA_AN_LF_DOT_CR], 1);
	assert_int_equal(r->stats.an[SDATA_AN_CRLF_DOT_LF], 1);
	assert_int_equal(r->stats.an[SDATA_AN_LF_DOT_CRLF], 1);
	assert_int_equal(r->used, strlen(in));
	free(r);
}

/* ---- caps, counters and replies ---------------------------------------- */

static void
test_decode_size_cap(void **state)
{
	static const char in[] = "0123456789\r\nabcdefghij\r\n.\r\nQUIT\r\n";
	struct dec_result *r = xmalloc(sizeof(*r));

	(void)state;
	for (size_t i = 0; i < nitems(chunks); i++) {
		for (size_t o = 0; o < nitems(chunks); o++) {
			/* 24 message bytes; cap 15 keeps exactly 15. */
			dec_run(SDATA_STRICT, 15, in, strlen(in), chunks[i],
				chunks[o], r);
			assert_int_equal(r->rc, 1);
			assert_int_equal(r->used, 27);
			assert_int_equal(r->outlen, 15);
			assert_memory_equal(r->out, "0123456789\r\nabc", 15);
			assert_true(r->stats.oversize);
			assert_int_equal(r->stats.size, 24);
			/* Exactly at the cap is fine. */
			dec_run(SDATA_NORMALIZE, 24, in, strlen(in), chunks[i],
				chunks[o], r);
			assert_false(r->stats.oversize);
			assert_int_equal(r->outlen, 24);
			dec_run(SDATA_NORMALIZE, 23, in, strlen(in), chunks[i],
				chunks[o], r);
			assert_true(r->stats.oversize);
			assert_int_equal(r->outlen, 23);
		}
	}
	free(r);
}

static void
test_decode_counters(void **state)
{
	struct dec_result *r = xmalloc(sizeof(*r));
	char *in = xmalloc(4096);
	size_t len = 0;

	(void)state;
	len += (size_t)sprintf(in + len, "abc\r\n..xyz\r\n\r\n");
	memset(in + len, 'L', 2000);
	len += 2000;
	len += (size_t)sprintf(in + len, "\r\nshort\r\n.\r\n");
	dec_run(SDATA_STRICT, 0, in, len, 0, 0, r);
	assert_int_equal(r->rc, 1);
	assert_int_equal(r->stats.lines, 5);
	assert_int_equal(r->stats.max_line, 2000);
	assert_int_equal(r->stats.size, r->outlen);
	dec_run(SDATA_STRICT, 0, "..xyzw\r\n.\r\n", 11, 1, 1, r);
	/* Raw length: the stuffing dot counts. */
	assert_int_equal(r->stats.max_line, 6);
	assert_int_equal(r->stats.lines, 1);
	free(in);
	free(r);
}

static void
test_decode_reply(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *strict, *norm; /* reply prefix; NULL: none */
	} t[] = {
	    {"ok\r\n.\r\n", 7, NULL, NULL},
	    {"a\nb\r\n.\r\n", 8, "550 5.5.2 Message contains bare <LF>", NULL},
	    {"a\rb\r\n.\r\n", 8, "550 5.5.2 Message contains bare <CR>", NULL},
	    {"a\0b\r\n.\r\n", 8, "554 5.6.0", NULL},
	    {"a\n.\nb\r\n.\r\n", 10,
	     "550 5.5.2 Message contains a "
	     "non-standard end-of-data",
	     NULL},
	};
	struct sdata_dec d;
	size_t used, prod;
	char out[64];

	(void)state;
	for (size_t i = 0; i < nitems(t); i++) {
		for (unsigned m = 0; m < SDATA_MODE__COUNT; m++) {
			const char *want =
			    m == SDATA_STRICT ? t[i].strict : t[i].norm;
			const char *got;

			sdata_dec_init(&d, (enum sdata_mode)m, 0);
			assert_int_equal(sdata_decode(&d, t[i].in, t[i].len,
						      &used, out, sizeof(out),
						      &prod),
					 1);
			got = sdata_dec_reply(&d);
			if (want == NULL) {
				assert_null(got);
			} else {
				assert_non_null(got);
				assert_int_equal(
				    strncmp(got, want, strlen(want)), 0);
			}
			assert_int_equal(sdata_dec_anomalies(&d) == 0,
					 t[i].strict == NULL);
		}
	}
	/* Oversize wins in both modes. */
	for (unsigned m = 0; m < SDATA_MODE__COUNT; m++) {
		sdata_dec_init(&d, (enum sdata_mode)m, 2);
		assert_int_equal(sdata_decode(&d, "a\nbcd\r\n.\r\n", 10, &used,
					      out, sizeof(out), &prod),
				 1);
		assert_string_equal(
		    sdata_dec_reply(&d),
		    "552 5.3.4 Message size exceeds fixed limit");
	}
}

static void
test_name_tables(void **state)
{
	(void)state;
	for (unsigned a = 0; a < SDATA_AN__COUNT; a++)
		assert_string_not_equal(sdata_an_str((enum sdata_an)a), "?");
	assert_string_equal(sdata_an_str(SDATA_AN_LF_DOT_CRLF), "lf_dot_crlf");
	assert_string_equal(sdata_an_str(SDATA_AN__COUNT), "?");
	assert_string_equal(sdata_mode_str(SDATA_NORMALIZE), "normalize");
	assert_string_equal(sdata_mode_str(SDATA_MODE__COUNT), "?");
}

/* ---- encoder ----------------------------------------------------------- */

/* Encode all of in (inchunk/outchunk as in dec_run) and finish. */
static size_t
enc_run(const char *in, size_t len, size_t inchunk, size_t outchunk, char *out,
	size_t outsz)
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

static const struct {
	const char *in;
	size_t len;
	const char *wire;
} enc_cases[] = {
    {"", 0, ".\r\n"},
    {"a", 1, "a\r\n.\r\n"},
    {"a\r\n", 3, "a\r\n.\r\n"},
    {"a\n", 2, "a\r\n.\r\n"},
    {"a\r", 2, "a\r\n.\r\n"},
    {"a\rb", 3, "a\r\nb\r\n.\r\n"},
    {"\r\r\n", 3, "\r\n\r\n.\r\n"},
    {"\n\n", 2, "\r\n\r\n.\r\n"},
    {".", 1, "..\r\n.\r\n"},
    {".\r\n", 3, "..\r\n.\r\n"},
    {"..\r\n", 4, "...\r\n.\r\n"},
    {".x", 2, "..x\r\n.\r\n"},
    {"x.y\r\n.z", 7, "x.y\r\n..z\r\n.\r\n"},
    {"a\n.\n", 4, "a\r\n..\r\n.\r\n"},
    {"a\n.\r\n", 5, "a\r\n..\r\n.\r\n"},
    {"a\r.\r", 4, "a\r\n..\r\n.\r\n"},
    {"a\r\n.\r", 5, "a\r\n..\r\n.\r\n"},
    {"a\r.\r\n", 5, "a\r\n..\r\n.\r\n"},
    {"\r\n\0.\r\n", 6, "\r\n..\r\n.\r\n"},
    {"\r\0\n", 3, "\r\n.\r\n"},
    {"\0", 1, ".\r\n"},
    {"\0.", 2, "..\r\n.\r\n"},
    {"a\0b", 3, "ab\r\n.\r\n"},
};

static void
test_encode_table(void **state)
{
	char out[256];

	(void)state;
	for (size_t i = 0; i < nitems(enc_cases); i++) {
		for (size_t a = 0; a < nitems(chunks); a++) {
			for (size_t b = 0; b < nitems(chunks); b++) {
				size_t n = enc_run(enc_cases[i].in,
						   enc_cases[i].len, chunks[a],
						   chunks[b], out, sizeof(out));

				if (n != strlen(enc_cases[i].wire) ||
				    memcmp(out, enc_cases[i].wire, n) != 0)
					fail_msg("encode case %zu in %zu out "
						 "%zu",
						 i, chunks[a], chunks[b]);
			}
		}
	}
}

static void
test_encode_nul_count(void **state)
{
	struct sdata_enc e;
	size_t used, prod;
	char out[16];

	(void)state;
	sdata_enc_init(&e);
	assert_int_equal(
	    sdata_encode(&e, "\0a\0", 3, &used, out, sizeof(out), &prod), 0);
	assert_int_equal(used, 3);
	assert_int_equal(prod, 1);
	assert_int_equal(e.nul_dropped, 2);
	/* finish is idempotent once done. */
	assert_int_equal(sdata_enc_finish(&e, out, sizeof(out), &prod), 1);
	assert_int_equal(prod, 5);
	assert_int_equal(sdata_enc_finish(&e, out, sizeof(out), &prod), 1);
	assert_int_equal(prod, 0);
}

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
	assert_crlf_canonical(w, n);
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
	struct dec_result *r = xmalloc(sizeof(*r));

	(void)state;
	for (unsigned iter = 0; iter < 3000; iter++) {
		size_t len = rng() % 300, clen, wlen, wlen2;

		for (size_t i = 0; i < len; i++)
			x[i] = alpha[rng() % sizeof(alpha)];
		clen = canonical(x, len, canon);
		wlen =
		    enc_run(x, len, 1 + rng() % 9, 1 + rng() % 9, wire, 2000);
		wlen2 = enc_run(x, len, 0, 0, r->out, sizeof(r->out));
		assert_int_equal(wlen, wlen2);
		assert_memory_equal(wire, r->out, wlen);
		assert_wire_ok(wire, wlen);
		for (unsigned m = 0; m < SDATA_MODE__COUNT; m++) {
			dec_run((enum sdata_mode)m, 0, wire, wlen, rng() % 9,
				rng() % 9, r);
			assert_int_equal(r->rc, 1);
			assert_int_equal(r->used, wlen);
			assert_int_equal(r->outlen, clen);
			assert_memory_equal(r->out, canon, clen);
			for (unsigned a = 0; a < SDATA_AN__COUNT; a++)
				assert_int_equal(r->stats.an[a], 0);
		}
		/* Canonical input comes back exactly. */
		wlen = enc_run(canon, clen, 0, 0, wire, 2000);
		dec_run(SDATA_STRICT, 0, wire, wlen, 0, 0, r);
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
	struct dec_result *r = xmalloc(sizeof(*r)), *r2 = xmalloc(sizeof(*r2));

	(void)state;
	for (unsigned iter = 0; iter < 3000; iter++) {
		size_t len = rng() % 300, wlen;

		for (size_t i = 0; i < len; i++)
			raw[i] = alpha[rng() % sizeof(alpha)];
		memcpy(raw + len, "\r\n.\r\n", 5);
		len += 5;
		dec_run(SDATA_NORMALIZE, 0, raw, len, 0, 0, r);
		assert_int_equal(r->rc, 1);
		assert_crlf_canonical(r->out, r->outlen);
		dec_run(SDATA_NORMALIZE, 0, raw, len, 1 + rng() % 5,
			1 + rng() % 5, r2);
		assert_int_equal(r2->used, r->used);
		assert_int_equal(r2->outlen, r->outlen);
		assert_memory_equal(r2->out, r->out, r->outlen);
		/* Re-sending the message yields it again, one message. */
		wlen = enc_run(r->out, r->outlen, 0, 0, wire, 2000);
		assert_wire_ok(wire, wlen);
		dec_run(SDATA_STRICT, 0, wire, wlen, 0, 0, r2);
		assert_int_equal(r2->rc, 1);
		assert_int_equal(r2->used, wlen);
		assert_int_equal(r2->outlen, r->outlen);
		assert_memory_equal(r2->out, r->out, r->outlen);
		/* STRICT on the raw input ends at the same place. */
		dec_run(SDATA_STRICT, 0, raw, len, 0, 0, r2);
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
	struct dec_result *r = xmalloc(sizeof(*r));
	size_t wlen = ref_wire(x, len, want), n, clen;
	uint64_t lines, maxl;

	n = enc_run(x, len, ic, oc, wire, 3 * len + 8);
	assert_int_equal(n, wlen);
	assert_memory_equal(wire, want, wlen);
	n = enc_inplace(x, len, ic, wire, 3 * len + 8, &clen);
	assert_int_equal(n, wlen);
	assert_memory_equal(wire, want, wlen);
	clen = canonical(x, len, canon);
	ref_lines(want, wlen, &lines, &maxl);
	for (unsigned m = 0; m < SDATA_MODE__COUNT; m++) {
		dec_run((enum sdata_mode)m, 0, want, wlen, dic, doc, r);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode_table),
	    cmocka_unit_test(test_decode_normalize_canonical),
	    cmocka_unit_test(test_dot_lines_total),
	    cmocka_unit_test(test_decode_size_cap),
	    cmocka_unit_test(test_decode_counters),
	    cmocka_unit_test(test_decode_reply),
	    cmocka_unit_test(test_name_tables),
	    cmocka_unit_test(test_encode_table),
	    cmocka_unit_test(test_encode_nul_count),
	    cmocka_unit_test(test_roundtrip_property),
	    cmocka_unit_test(test_normalize_property),
	    cmocka_unit_test(test_dot_at_chunk_boundaries),
	    cmocka_unit_test(test_long_runs_property),
	    cmocka_unit_test(test_enc_pass),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
