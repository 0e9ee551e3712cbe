/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jsonw: arbitrary bytes as JSON string values and keys.
 *
 * Properties checked (abort on violation):
 *  - the output is strict UTF-8 with no raw control byte, DEL, U+2028 or
 *    U+2029, and every escape is one jsonw may write;
 *  - unescaped and decoded, the string equals the input decoded by an
 *    independent reference (code-point arithmetic, not jsonw's table) with
 *    one U+FFFD per maximal ill-formed subpart;
 *  - the first 8 bytes as an int64 and as a double read back exactly.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_BAD (-1L)

static int
fz_valid_cp(long lo, long hi, size_t n)
{
	static const long min[5] = {0, 0, 0x80, 0x800, 0x10000};
	static const long max[5] = {0, 0x7f, 0x7ff, 0xffff, 0x10ffff};

	if (hi < min[n] || lo > max[n])
		return 0;
	lo = lo < min[n] ? min[n] : lo;
	hi = hi > max[n] ? max[n] : hi;
	/* [lo, hi] must hold something outside D800..DFFF */
	return lo < 0xd800 || hi > 0xdfff;
}

/*
 * Reference decoder: the code point at p (advancing *i), or U+FFFD for the
 * maximal ill-formed subpart there: the longest prefix that some choice of
 * further continuation bytes completes into a valid scalar value.
 */
static long
fz_decode(const uint8_t *p, size_t n, size_t *i, int *bad_r)
{
	uint8_t c = p[*i];
	size_t len, m, best = 0;
	long lo = 0, hi;

	len = c < 0x80             ? 1
	      : (c & 0xe0) == 0xc0 ? 2
	      : (c & 0xf0) == 0xe0 ? 3
	      : (c & 0xf8) == 0xf0 ? 4
				   : 0;
	if (len == 1) {
		(*i)++;
		return c;
	}
	for (m = 1; len > 0 && m <= len && *i + m <= n; m++) {
		if (m > 1 && (p[*i + m - 1] & 0xc0) != 0x80)
			break;
		lo = c & (0x7f >> len);
		for (size_t k = 1; k < m; k++)
			lo = lo << 6 | (p[*i + k] & 0x3f);
		hi = lo;
		for (size_t k = m; k < len; k++) {
			lo = lo << 6;
			hi = hi << 6 | 0x3f;
		}
		if (!fz_valid_cp(lo, hi, len))
			break;
		best = m;
	}
	if (len > 0 && best == len) {
		*i += len;
		return lo;
	}
	*i += best ? best : 1;
	*bad_r = 1;
	return 0xfffd;
}

static int
fz_hex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	abort(); /* jsonw writes lowercase hex only */
}

/* One unescaped code point of a JSON string body at s[*i]. */
static long
fz_unescape(const uint8_t *s, size_t n, size_t *i)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	long cp;
	int bad = 0;

	if (s[*i] != '\\') {
		cp = fz_decode(s, n, i, &bad);
		if (bad || cp < 0x20 || cp == 0x7f || cp == '"' ||
		    cp == 0x2028 || cp == 0x2029)
			abort(); /* invalid UTF-8 or a raw byte that must not be
				  */
		return cp;
	}
	if (*i + 1 >= n)
		abort();
	if (s[*i + 1] == 'u') {
		if (*i + 6 > n)
			abort();
		cp = 0;
		for (size_t k = 2; k < 6; k++)
			cp = cp << 4 | fz_hex(s[*i + k]);
		if (cp >= 0xd800 && cp <= 0xdfff)
			abort(); /* we never write surrogate escapes */
		*i += 6;
		return cp;
	}
	for (size_t k = 0; from[k] != '\0'; k++) {
		if (s[*i + 1] == (uint8_t)from[k]) {
			*i += 2;
			return (uint8_t)to[k];
		}
	}
	abort();
}

static void
fz_check_string(const uint8_t *in, size_t size, const char *out, size_t len)
{
	const uint8_t *s = (const uint8_t *)out;
	size_t i = 0, j = 1;

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		abort();
	while (i < size) {
		int bad = 0;
		long want = fz_decode(in, size, &i, &bad);

		if (j >= len - 1 || fz_unescape(s, len - 1, &j) != want)
			abort();
	}
	if (j != len - 1)
		abort(); /* output holds more than the input */
}

/* The whole buffer: strict UTF-8, no raw controls but the final newline. */
static void
fz_check_utf8(const char *out, size_t len)
{
	const uint8_t *s = (const uint8_t *)out;
	size_t i = 0;

	while (i < len) {
		int bad = 0;
		long cp = fz_decode(s, len, &i, &bad);

		if (bad || cp == 0x7f || cp == 0x2028 || cp == 0x2029 ||
		    (cp < 0x20 && !(cp == '\n' && i == len)))
			abort();
	}
}

static void
fz_numbers(struct jsonw *w, const uint8_t *data, size_t size)
{
	int64_t iv;
	uint64_t uv;
	double dv, back;

	if (size < 8)
		return;
	memcpy(&iv, data, 8);
	memcpy(&uv, data, 8);
	memcpy(&dv, data, 8);
	jsonw_reset(w);
	jsonw_int(w, iv);
	if (strtoll(w->buf, NULL, 10) != iv)
		abort();
	jsonw_reset(w);
	jsonw_uint(w, uv);
	if (strtoull(w->buf, NULL, 10) != uv)
		abort();
	jsonw_reset(w);
	jsonw_double(w, dv);
	if (!isfinite(dv)) {
		if (strcmp(w->buf, "null") != 0)
			abort();
		return;
	}
	back = strtod(w->buf, NULL);
	if (back != dv || signbit(back) != signbit(dv) ||
	    strspn(w->buf, "0123456789-+.e") != w->len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct jsonw w;

	jsonw_init(&w);
	jsonw_str_n(&w, s, size);
	fz_check_string(data, size, w.buf, w.len);

	jsonw_reset(&w);
	jsonw_obj_begin(&w);
	jsonw_key_n(&w, s, size);
	jsonw_arr_begin(&w);
	jsonw_str_n(&w, s, size / 2);
	jsonw_str_n(&w, s + size / 2, size - size / 2);
	jsonw_arr_end(&w);
	jsonw_obj_end(&w);
	jsonw_newline(&w);
	fz_check_utf8(w.buf, w.len);

	fz_numbers(&w, data, size);
	jsonw_fini(&w);
	return 0;
}
