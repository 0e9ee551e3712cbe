/* SPDX-License-Identifier: MIT */
/*
 * jsonw.c: JSON writer into a growable buffer (see jsonw.h).
 *
 * Owns the escaping of arbitrary bytes into JSON strings: the output must
 * be valid UTF-8 whatever a remote peer sent, so UTF-8 is validated here
 * against Unicode Table 3-7 and every ill-formed maximal subpart becomes
 * one \ufffd (the Unicode/WHATWG recommended practice, as Python does).
 * Must not do I/O or decide what is logged; the nesting state only guards
 * our own call sequences (BUG_ON).
 */
#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Flags kept per open container in jsonw.frame[]. */
enum {
	JSONW_F_OBJECT = 1u << 0,   /* an object (else an array) */
	JSONW_F_NONEMPTY = 1u << 1, /* holds a member: the next needs a comma */
};

#define JSONW_MIN_CAP 256

static const char jsonw_hex[] = "0123456789abcdef";

/* 1 for the ASCII bytes copied verbatim into a string: 0x20..0x7e except
 * '"' and '\\'.  Bytes >= 0x80 are 0 here and go through UTF-8 checks. */
/* clang-format off */
#define JSONW_P16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char jsonw_plain_ascii[256] = {
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* '"' */
    [0x30] = JSONW_P16,
    [0x40] = JSONW_P16,
    [0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* '\\' */
    [0x60] = JSONW_P16,
    [0x70] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* DEL */
};
#undef JSONW_P16
/* clang-format on */

/* Empty writer; the buffer is allocated on the first write. */
void
jsonw_init(struct jsonw *w)
{
	memset(w, 0, sizeof(*w));
}

/* Free the buffer and clear w. */
void
jsonw_fini(struct jsonw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

/* Drop the output and nesting state; keep the allocation for reuse. */
void
jsonw_reset(struct jsonw *w)
{
	char *buf = w->buf;
	size_t cap = w->cap;

	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	if (buf != NULL)
		buf[0] = '\0';
}

/* True when no container is open and no key awaits its value. */
bool
jsonw_complete(const struct jsonw *w)
{
	return w->depth == 0 && !w->want_value;
}

/* Slow path of jsonw_grow(): reallocate to the next power of two. */
static void
jsonw_grow_slow(struct jsonw *w, size_t extra)
{
	size_t need, cap = w->cap ? w->cap : JSONW_MIN_CAP;

	BUG_ON(extra > SIZE_MAX - w->len - 1);
	need = w->len + extra + 1;
	while (cap < need) {
		BUG_ON(cap > SIZE_MAX / 2);
		cap *= 2;
	}
	w->buf = xrealloc(w->buf, cap);
	w->cap = cap;
}

/* Make room for extra more bytes plus the terminating NUL; inline so that
 * the common case costs one compare (len < cap whenever cap != 0). */
static inline void
jsonw_grow(struct jsonw *w, size_t extra)
{
	if (extra >= w->cap - w->len)
		jsonw_grow_slow(w, extra);
}

static inline void
jsonw_put(struct jsonw *w, const char *s, size_t n)
{
	jsonw_grow(w, n);
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static inline void
jsonw_putc(struct jsonw *w, char c)
{
	jsonw_grow(w, 1);
	w->buf[w->len++] = c;
	w->buf[w->len] = '\0';
}

/*
 * Length of the well-formed UTF-8 sequence at p (2..4) in *len_r and 1, or
 * the length of its maximal ill-formed subpart (>= 1) in *len_r and 0.  A
 * maximal subpart is the longest prefix of a well-formed sequence, or the
 * lone byte when it cannot start one (Unicode 15, section 3.9, Table 3-7).
 */
static int
jsonw_utf8_seq(const unsigned char *p, size_t n, size_t *len_r)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates U+D800..DFFF */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		*len_r = 1; /* ASCII, continuation, C0, C1, F5..FF */
		return c < 0x80;
	}
	for (i = 1; i < need; i++) {
		if (i >= n || p[i] < lo || p[i] > hi) {
			*len_r = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	*len_r = need;
	return 1;
}

/* U+2028 LINE SEPARATOR or U+2029 PARAGRAPH SEPARATOR (not JS-safe). */
static bool
jsonw_is_ls_ps(const unsigned char *p, size_t len)
{
	return len == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
	       (p[2] == 0xa8 || p[2] == 0xa9);
}

/* Length of the prefix of p that may be copied verbatim. */
static size_t
jsonw_plain_run(const unsigned char *p, size_t n)
{
	size_t i = 0, len;

	while (i < n) {
		/* Plain ASCII four bytes a step, then one by one. */
		while (n - i >= 4 &&
		       (jsonw_plain_ascii[p[i]] & jsonw_plain_ascii[p[i + 1]] &
			jsonw_plain_ascii[p[i + 2]] &
			jsonw_plain_ascii[p[i + 3]]))
			i += 4;
		while (i < n && jsonw_plain_ascii[p[i]])
			i++;
		if (i == n || p[i] < 0x80)
			break;
		if (!jsonw_utf8_seq(p + i, n - i, &len) ||
		    jsonw_is_ls_ps(p + i, len))
			break;
		i += len;
	}
	return i;
}

static void
jsonw_put_u(struct jsonw *w, unsigned cp)
{
	char e[6] = {'\\',
		     'u',
		     jsonw_hex[(cp >> 12) & 0xf],
		     jsonw_hex[(cp >> 8) & 0xf],
		     jsonw_hex[(cp >> 4) & 0xf],
		     jsonw_hex[cp & 0xf]};

	jsonw_put(w, e, sizeof(e));
}

/* Escape what starts at p (not plain); returns the input bytes consumed. */
static size_t
jsonw_put_special(struct jsonw *w, const unsigned char *p, size_t n)
{
	static const char short_esc[0x20] = {
	    ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n',
	    ['\r'] = 'r', ['\t'] = 't',
	};
	char e[2] = {'\\', 0};
	size_t len;

	if (p[0] == '"' || p[0] == '\\' || (p[0] < 0x20 && short_esc[p[0]])) {
		e[1] = p[0] < 0x20 ? short_esc[p[0]] : (char)p[0];
		jsonw_put(w, e, sizeof(e));
		return 1;
	}
	if (p[0] < 0x80) {
		jsonw_put_u(w, p[0]); /* other C0 controls and DEL */
		return 1;
	}
	if (jsonw_utf8_seq(p, n, &len)) {
		BUG_ON(!jsonw_is_ls_ps(p, len));
		jsonw_put_u(w, p[2] == 0xa8 ? 0x2028 : 0x2029);
		return len;
	}
	jsonw_put_u(w, 0xfffd);
	return len;
}

/*
 * Quote and escape n bytes.  Room for the plain case (n + 2) is reserved
 * once and runs are copied straight into it; an escape grows the buffer
 * itself, after which the rest is reserved again.
 */
static void
jsonw_put_string(struct jsonw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run;

	jsonw_grow(w, n + 2);
	w->buf[w->len++] = '"';
	while (i < n) {
		run = jsonw_plain_run(p + i, n - i);
		memcpy(w->buf + w->len, s + i, run);
		w->len += run;
		i += run;
		if (i < n) {
			i += jsonw_put_special(w, p + i, n - i);
			jsonw_grow(w, n - i + 1);
		}
	}
	w->buf[w->len++] = '"';
	w->buf[w->len] = '\0';
}

/* Place a value: check the nesting state and write the comma if due. */
static void
jsonw_before_value(struct jsonw *w)
{
	unsigned char *f;

	if (w->depth == 0) {
		BUG_ON(w->top_done); /* jsonw_newline() missing */
		return;
	}
	f = &w->frame[w->depth - 1];
	if (*f & JSONW_F_OBJECT) {
		BUG_ON(!w->want_value); /* value without key */
		w->want_value = false;
		return;
	}
	if (*f & JSONW_F_NONEMPTY)
		jsonw_putc(w, ',');
	*f |= JSONW_F_NONEMPTY;
}

static void
jsonw_after_value(struct jsonw *w)
{
	if (w->depth == 0)
		w->top_done = true;
}

static void
jsonw_begin(struct jsonw *w, unsigned char flags, char c)
{
	jsonw_before_value(w);
	BUG_ON(w->depth >= JSONW_MAX_DEPTH);
	w->frame[w->depth++] = flags;
	jsonw_putc(w, c);
}

static void
jsonw_end(struct jsonw *w, unsigned char obj, char c)
{
	BUG_ON(w->depth == 0); /* end without begin */
	BUG_ON((w->frame[w->depth - 1] & JSONW_F_OBJECT) != obj);
	BUG_ON(w->want_value); /* key without value */
	w->depth--;
	jsonw_putc(w, c);
	jsonw_after_value(w);
}

/* Open an object as the next value. */
void
jsonw_obj_begin(struct jsonw *w)
{
	jsonw_begin(w, JSONW_F_OBJECT, '{');
}

/* Close the innermost container, which must be an object. */
void
jsonw_obj_end(struct jsonw *w)
{
	jsonw_end(w, JSONW_F_OBJECT, '}');
}

/* Open an array as the next value. */
void
jsonw_arr_begin(struct jsonw *w)
{
	jsonw_begin(w, 0, '[');
}

/* Close the innermost container, which must be an array. */
void
jsonw_arr_end(struct jsonw *w)
{
	jsonw_end(w, 0, ']');
}

/* Terminate the completed top-level value with a newline (JSON lines). */
void
jsonw_newline(struct jsonw *w)
{
	BUG_ON(w->depth != 0 || !w->top_done);
	w->top_done = false;
	jsonw_putc(w, '\n');
}

/* Write a key (n arbitrary bytes) in the innermost object. */
void
jsonw_key_n(struct jsonw *w, const char *key, size_t n)
{
	unsigned char *f;

	BUG_ON(w->depth == 0);
	f = &w->frame[w->depth - 1];
	BUG_ON(!(*f & JSONW_F_OBJECT)); /* key inside an array */
	BUG_ON(w->want_value);          /* two keys in a row */
	if (*f & JSONW_F_NONEMPTY)
		jsonw_putc(w, ',');
	*f |= JSONW_F_NONEMPTY;
	jsonw_put_string(w, key, n);
	jsonw_putc(w, ':');
	w->want_value = true;
}

/* Write a NUL-terminated key in the innermost object. */
void
jsonw_key(struct jsonw *w, const char *key)
{
	jsonw_key_n(w, key, strlen(key));
}

/* Write n bytes as a JSON string (null when s is NULL). */
void
jsonw_str_n(struct jsonw *w, const char *s, size_t n)
{
	if (s == NULL) {
		jsonw_null(w);
		return;
	}
	jsonw_before_value(w);
	jsonw_put_string(w, s, n);
	jsonw_after_value(w);
}

/* Write a NUL-terminated string (null when s is NULL). */
void
jsonw_str(struct jsonw *w, const char *s)
{
	jsonw_str_n(w, s, s != NULL ? strlen(s) : 0);
}

/* Write pre-encoded JSON; the caller guarantees it is one valid value. */
void
jsonw_raw(struct jsonw *w, const char *json, size_t n)
{
	jsonw_before_value(w);
	jsonw_put(w, json, n);
	jsonw_after_value(w);
}

/* Decimal digits of v written backwards ending at end; returns the start. */
static char *
jsonw_utoa_rev(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

/* Write a signed 64-bit integer (by hand: printf costs ~10x). */
void
jsonw_int(struct jsonw *w, int64_t v)
{
	char b[24], *p;
	/* Negate in unsigned arithmetic so that INT64_MIN does not overflow. */
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	p = jsonw_utoa_rev(b + sizeof(b), u);
	if (v < 0)
		*--p = '-';
	jsonw_raw(w, p, (size_t)(b + sizeof(b) - p));
}

/* Write an unsigned 64-bit integer. */
void
jsonw_uint(struct jsonw *w, uint64_t v)
{
	char b[24], *p = jsonw_utoa_rev(b + sizeof(b), v);

	jsonw_raw(w, p, (size_t)(b + sizeof(b) - p));
}

/*
 * Write a finite double as the shortest %g form that reads back exactly
 * (at most 17 significant digits always do); NaN and infinities, which
 * JSON cannot express, become null.
 */
void
jsonw_double(struct jsonw *w, double v)
{
	char b[40];
	int n = 0;

	if (!isfinite(v)) {
		jsonw_null(w);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(b, sizeof(b), "%.*g", prec, v);
		if (strtod(b, NULL) == v)
			break;
	}
	/* A non-C LC_NUMERIC may use a decimal comma; JSON needs a point. */
	for (char *c = b; *c != '\0'; c++)
		if (*c == ',')
			*c = '.';
	jsonw_raw(w, b, (size_t)n);
}

/* Write true or false. */
void
jsonw_bool(struct jsonw *w, bool v)
{
	if (v)
		jsonw_raw(w, "true", 4);
	else
		jsonw_raw(w, "false", 5);
}

/* Write null. */
void
jsonw_null(struct jsonw *w)
{
	jsonw_raw(w, "null", 4);
}

/* Key (NUL-terminated) then a string value (null when s is NULL). */
void
jsonw_kv_str(struct jsonw *w, const char *key, const char *s)
{
	jsonw_key(w, key);
	jsonw_str(w, s);
}

/* Key then a signed integer. */
void
jsonw_kv_int(struct jsonw *w, const char *key, int64_t v)
{
	jsonw_key(w, key);
	jsonw_int(w, v);
}

/* Key then an unsigned integer. */
void
jsonw_kv_uint(struct jsonw *w, const char *key, uint64_t v)
{
	jsonw_key(w, key);
	jsonw_uint(w, v);
}

/* Key then a double (null when not finite). */
void
jsonw_kv_double(struct jsonw *w, const char *key, double v)
{
	jsonw_key(w, key);
	jsonw_double(w, v);
}

/* Key then true or false. */
void
jsonw_kv_bool(struct jsonw *w, const char *key, bool v)
{
	jsonw_key(w, key);
	jsonw_bool(w, v);
}

/* Key then null. */
void
jsonw_kv_null(struct jsonw *w, const char *key)
{
	jsonw_key(w, key);
	jsonw_null(w);
}
