/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_data: DATA decoder in both modes (smuggling variants, stuffing,
 * anomalies, size cap, any input/output split) and the encoder from tables
 * (the properties: test_smtp_data_prop.c).
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

/* ---- helpers ----------------------------------------------------------- */

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
	struct sdfx_dec *r = xmalloc(sizeof(*r));
	uint64_t an[SDATA_AN__COUNT];

	parse_an(c->an, an);
	for (size_t i = 0; i < nitems(chunks); i++) {
		for (size_t o = 0; o < nitems(chunks); o++) {
			sdfx_dec_run(mode, 0, c->in, len, chunks[i], chunks[o],
				     r);
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

static void
test_decode_normalize_canonical(void **state)
{
	struct sdfx_dec *r = xmalloc(sizeof(*r));

	(void)state;
	for (size_t i = 0; i < nitems(dec_cases); i++) {
		const struct dec_case *c = &dec_cases[i];

		sdfx_dec_run(SDATA_NORMALIZE, 0, c->in,
			     c->len ? c->len : strlen(c->in), 0, 0, r);
		if (r->rc == 1)
			sdfx_assert_crlf_canonical(r->out, r->outlen);
	}
	free(r);
}

static void
test_dot_lines_total(void **state)
{
	struct sdfx_dec *r = xmalloc(sizeof(*r));
	const char *in = "a\n.\rb\r\n.\n.\r\n.\r\n";

	(void)state;
	sdfx_dec_run(SDATA_STRICT, 0, in, strlen(in), 0, 0, r);
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
	struct sdfx_dec *r = xmalloc(sizeof(*r));

	(void)state;
	for (size_t i = 0; i < nitems(chunks); i++) {
		for (size_t o = 0; o < nitems(chunks); o++) {
			/* 24 message bytes; cap 15 keeps exactly 15. */
			sdfx_dec_run(SDATA_STRICT, 15, in, strlen(in),
				     chunks[i], chunks[o], r);
			assert_int_equal(r->rc, 1);
			assert_int_equal(r->used, 27);
			assert_int_equal(r->outlen, 15);
			assert_memory_equal(r->out, "0123456789\r\nabc", 15);
			assert_true(r->stats.oversize);
			assert_int_equal(r->stats.size, 24);
			/* Exactly at the cap is fine. */
			sdfx_dec_run(SDATA_NORMALIZE, 24, in, strlen(in),
				     chunks[i], chunks[o], r);
			assert_false(r->stats.oversize);
			assert_int_equal(r->outlen, 24);
			sdfx_dec_run(SDATA_NORMALIZE, 23, in, strlen(in),
				     chunks[i], chunks[o], r);
			assert_true(r->stats.oversize);
			assert_int_equal(r->outlen, 23);
		}
	}
	free(r);
}

static void
test_decode_counters(void **state)
{
	struct sdfx_dec *r = xmalloc(sizeof(*r));
	char *in = xmalloc(4096);
	size_t len = 0;

	(void)state;
	len += (size_t)sprintf(in + len, "abc\r\n..xyz\r\n\r\n");
	memset(in + len, 'L', 2000);
	len += 2000;
	len += (size_t)sprintf(in + len, "\r\nshort\r\n.\r\n");
	sdfx_dec_run(SDATA_STRICT, 0, in, len, 0, 0, r);
	assert_int_equal(r->rc, 1);
	assert_int_equal(r->stats.lines, 5);
	assert_int_equal(r->stats.max_line, 2000);
	assert_int_equal(r->stats.size, r->outlen);
	sdfx_dec_run(SDATA_STRICT, 0, "..xyzw\r\n.\r\n", 11, 1, 1, r);
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
				size_t n = sdfx_enc_run(
				    enc_cases[i].in, enc_cases[i].len,
				    chunks[a], chunks[b], out, sizeof(out));

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

/* stats.wire: set at the end of data exactly when the output needs no
 * encoding (see smtp_data.h), for every split of the input. */
/* A table row: the input's length counts its NULs. */
#define WC(m, cap, in, w)                                                      \
	{                                                                      \
		m, cap, in, sizeof(in) - 1, w                                  \
	}

static void
test_decode_wire_fact(void **state)
{
	static const struct {
		enum sdata_mode mode;
		uint64_t cap;
		const char *in;
		size_t len;
		bool wire;
	} cases[] = {
	    WC(SDATA_STRICT, 0, "a\r\nb\r\n.\r\n", true),
	    WC(SDATA_STRICT, 0, ".\r\n", true),         /* empty body */
	    WC(SDATA_STRICT, 0, ".a\r\n.\r\n", true),   /* unstuffed: "a" */
	    WC(SDATA_STRICT, 0, "..a\r\n.\r\n", false), /* ".a" */
	    WC(SDATA_STRICT, 0, "x\r\n..\r\n.\r\n", false),
	    WC(SDATA_STRICT, 0, "a\nb\r\n.\r\n", false),
	    WC(SDATA_NORMALIZE, 0, "a\nb\r\n.\r\n", true),
	    WC(SDATA_STRICT, 0, "a\rb\r\n.\r\n", false),
	    WC(SDATA_NORMALIZE, 0, "a\rb\r\n.\r\n", true),
	    WC(SDATA_STRICT, 0, "a\n.b\r\n.\r\n", false),   /* kept ".b" */
	    WC(SDATA_NORMALIZE, 0, "a\n.b\r\n.\r\n", true), /* "b" */
	    WC(SDATA_NORMALIZE, 0, "a\n..b\r\n.\r\n", false),
	    WC(SDATA_STRICT, 0, "a\r\n.\nb\r\n.\r\n", false), /* "." line */
	    WC(SDATA_NORMALIZE, 0, "a\r\n.\nb\r\n.\r\n", false),
	    WC(SDATA_STRICT, 0, "a\0b\r\n.\r\n", false),
	    WC(SDATA_NORMALIZE, 0, "\0.b\r\n.\r\n", false), /* NUL: no */
	    WC(SDATA_STRICT, 4, "abcdef\r\n.\r\n", false),  /* oversize */
	    WC(SDATA_STRICT, 8, "abcdef\r\n.\r\n", true),
	    WC(SDATA_STRICT, 0, "abc\r\n", false), /* not ended */
	};
	struct sdfx_dec *r = malloc(sizeof(*r));

	(void)state;
	assert_non_null(r);
	for (size_t i = 0; i < nitems(cases); i++) {
		for (size_t ch = 0; ch < 4; ch++) {
			sdfx_dec_run(cases[i].mode, cases[i].cap, cases[i].in,
				     cases[i].len, ch, 0, r);
			if (r->stats.wire != cases[i].wire)
				fail_msg("case %zu chunk %zu: wire %d", i, ch,
					 (int)r->stats.wire);
		}
	}
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode_table),
	    cmocka_unit_test(test_decode_wire_fact),
	    cmocka_unit_test(test_decode_normalize_canonical),
	    cmocka_unit_test(test_dot_lines_total),
	    cmocka_unit_test(test_decode_size_cap),
	    cmocka_unit_test(test_decode_counters),
	    cmocka_unit_test(test_decode_reply),
	    cmocka_unit_test(test_name_tables),
	    cmocka_unit_test(test_encode_table),
	    cmocka_unit_test(test_encode_nul_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
