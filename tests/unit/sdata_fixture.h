/* SPDX-License-Identifier: MIT */
/*
 * sdata_fixture.h: what the DATA tests share (test_smtp_data.c,
 * test_smtp_data_prop.c): the decoder and the encoder driven with any
 * input and output chunk sizes, asserting at every call that progress is
 * made and nothing is over-consumed, and the CRLF-canonical check.  Test
 * code only: it asserts.
 */
#ifndef RINGMTA_SDATA_FIXTURE_H
#define RINGMTA_SDATA_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "smtp_data.h"

struct sdfx_dec {
	int rc;
	size_t used;
	size_t outlen;
	char out[8192];
	struct sdata_stats stats;
};

/* Decode in[0..len) feeding at most inchunk bytes per call and offering at
 * most outchunk bytes of output per call (0: unlimited), until end of data
 * or the input is gone; the result, output and counters go to *r. */
void sdfx_dec_run(enum sdata_mode mode, uint64_t cap, const char *in,
		  size_t len, size_t inchunk, size_t outchunk,
		  struct sdfx_dec *r);
/* Assert that s holds no bare CR, bare LF or NUL. */
void sdfx_assert_crlf_canonical(const char *s, size_t len);
/* Encode all of in (chunks as in sdfx_dec_run) into out[0..outsz) and
 * finish; returns the bytes written. */
size_t sdfx_enc_run(const char *in, size_t len, size_t inchunk, size_t outchunk,
		    char *out, size_t outsz);

#endif
