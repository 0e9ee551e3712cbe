/* SPDX-License-Identifier: MIT */
/*
 * smtp_data.c: DATA body decoder (dot-unstuffing, end-of-data, anomaly
 * counting, optional normalisation) and encoder (CRLF canonicalisation and
 * dot-stuffing).  See smtp_data.h for the exact line rules.
 *
 * Both are byte-driven state machines over caller buffers: every input byte
 * is either copied through a fast path or stepped, and a step's output (at
 * most 5 bytes) waits in pend[] until the caller's output buffer has room,
 * so any split of input or output gives the same bytes.  The fast path
 * (sdata_span) scans 16 bytes a step (SSE2, else byte by byte) and crosses
 * CRLF line ends followed by a plain byte, so a canonical body with no
 * leading dots is one memcpy per call.  Must not allocate, do I/O, or
 * buffer more than pend[].
 */
#include "smtp_data.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "compat.h"

/* Decoder states.  eol (the ending before the current line) is separate. */
enum sdata_dec_state {
	SDATA_D_BOL = 0, /* at a line start */
	SDATA_D_DOT,     /* "." held at a line start */
	SDATA_D_DOT_CR,  /* ".\r" held at a line start */
	SDATA_D_TEXT,    /* inside a line */
	SDATA_D_CR,      /* "\r" held inside a line */
	SDATA_D__COUNT   /* must stay last */
};

enum sdata_eol {
	SDATA_EOL_CRLF = 0,
	SDATA_EOL_LF,
	SDATA_EOL_CR,
	SDATA_EOL__COUNT /* must stay last */
};

/* Encoder states. */
enum sdata_enc_state {
	SDATA_E_BOL = 0, /* at a line start: a "." must be doubled */
	SDATA_E_TEXT,    /* inside a line */
	SDATA_E_CR,      /* "\r" held: CRLF or bare CR, both become CRLF */
	SDATA_E__COUNT   /* must stay last */
};

static const char *const sdata_mode_tab[] = {
    [SDATA_STRICT] = "strict",
    [SDATA_NORMALIZE] = "normalize",
};
_Static_assert(nitems(sdata_mode_tab) == SDATA_MODE__COUNT, "sdata_mode_tab");

static const char *const sdata_an_tab[] = {
    [SDATA_AN_BARE_LF] = "bare_lf",
    [SDATA_AN_BARE_CR] = "bare_cr",
    [SDATA_AN_NUL] = "nul",
    [SDATA_AN_LF_DOT_LF] = "lf_dot_lf",
    [SDATA_AN_LF_DOT_CR] = "lf_dot_cr",
    [SDATA_AN_LF_DOT_CRLF] = "lf_dot_crlf",
    [SDATA_AN_CR_DOT_LF] = "cr_dot_lf",
    [SDATA_AN_CR_DOT_CR] = "cr_dot_cr",
    [SDATA_AN_CR_DOT_CRLF] = "cr_dot_crlf",
    [SDATA_AN_CRLF_DOT_LF] = "crlf_dot_lf",
    [SDATA_AN_CRLF_DOT_CR] = "crlf_dot_cr",
};
_Static_assert(nitems(sdata_an_tab) == SDATA_AN__COUNT, "sdata_an_tab");

/* [ending before "."][ending after "."]; CRLF/CRLF is the terminator. */
static const enum sdata_an sdata_dot_an[SDATA_EOL__COUNT][SDATA_EOL__COUNT] = {
    [SDATA_EOL_CRLF] = {[SDATA_EOL_CRLF] = SDATA_AN__COUNT,
			[SDATA_EOL_LF] = SDATA_AN_CRLF_DOT_LF,
			[SDATA_EOL_CR] = SDATA_AN_CRLF_DOT_CR},
    [SDATA_EOL_LF] = {[SDATA_EOL_CRLF] = SDATA_AN_LF_DOT_CRLF,
		      [SDATA_EOL_LF] = SDATA_AN_LF_DOT_LF,
		      [SDATA_EOL_CR] = SDATA_AN_LF_DOT_CR},
    [SDATA_EOL_CR] = {[SDATA_EOL_CRLF] = SDATA_AN_CR_DOT_CRLF,
		      [SDATA_EOL_LF] = SDATA_AN_CR_DOT_LF,
		      [SDATA_EOL_CR] = SDATA_AN_CR_DOT_CR},
};

/* Raw bytes of each ending (STRICT passes them through). */
static const char *const sdata_eol_raw[SDATA_EOL__COUNT] = {
    [SDATA_EOL_CRLF] = "\r\n",
    [SDATA_EOL_LF] = "\n",
    [SDATA_EOL_CR] = "\r",
};

/* Name of mode m. */
const char *
sdata_mode_str(enum sdata_mode m)
{
	if ((unsigned)m >= SDATA_MODE__COUNT)
		return "?";
	return sdata_mode_tab[m];
}

/* Name of anomaly a (stable, used as JSON keys). */
const char *
sdata_an_str(enum sdata_an a)
{
	if ((unsigned)a >= SDATA_AN__COUNT)
		return "?";
	return sdata_an_tab[a];
}

/* ---- the shared fast path ---------------------------------------------- */

/* Offset of the first CR, LF or NUL in p[0..n), or n (16 bytes a step). */
static size_t
sdata_scan(const char *p, size_t n)
{
	size_t i = 0;

#if defined(__SSE2__)
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	const __m128i nul = _mm_setzero_si128();

	for (; i + 16 <= n; i += 16) {
		__m128i v =
		    _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		__m128i m = _mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)),
		    _mm_cmpeq_epi8(v, nul));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);

		if (bits != 0)
			return i + (size_t)__builtin_ctz(bits);
	}
#endif
	while (i < n && p[i] != '\r' && p[i] != '\n' && p[i] != '\0')
		i++;
	return i;
}

/* A byte that starts a line both coders pass through as it is. */
static bool
sdata_plain_bol(char c)
{
	return c != '.' && c != '\r' && c != '\n' && c != '\0';
}

/*
 * Length of the prefix of in[0..n), read from inside a line, that the
 * decoder (either mode) and the encoder both pass through unchanged and
 * that again ends inside a line: text without CR, LF or NUL, and CRLFs
 * (empty lines included) only where a plain byte follows them in in.
 * Updates the line counters for the CRLFs it crosses: *lines, *max_line
 * and *linelen (the current line's raw length).
 */
static size_t
sdata_span(const char *in, size_t n, uint64_t *lines, uint64_t *max_line,
	   uint64_t *linelen)
{
	size_t i = 0, j, k;

	for (;;) {
		j = i + sdata_scan(in + i, n - i);
		*linelen += j - i;
		k = j;
		while (n - k >= 3 && in[k] == '\r' && in[k + 1] == '\n')
			k += 2;
		if (k == j || k >= n || !sdata_plain_bol(in[k]))
			return j;
		*lines += (k - j) / 2;
		*max_line = MAX(*max_line, *linelen);
		*linelen = 1;
		i = k + 1;
	}
}

/* ---- decoder ----------------------------------------------------------- */

/* Start a message (see header). */
void
sdata_dec_init(struct sdata_dec *d, enum sdata_mode mode, uint64_t size_cap)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->size_cap = size_cap;
	d->state = SDATA_D_BOL;
	d->eol = SDATA_EOL_CRLF; /* "DATA\r\n" came before */
}

/* Queue n message bytes, counting them; past the cap they are dropped. */
static void
sdata_dec_emit(struct sdata_dec *d, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		d->stats.size++;
		if (d->size_cap != 0 && d->stats.size > d->size_cap) {
			d->stats.oversize = true;
			continue;
		}
		BUG_ON(d->npend >= sizeof(d->pend));
		d->pend[d->npend++] = s[i];
	}
}

static void
sdata_dec_eol(struct sdata_dec *d, enum sdata_eol eol)
{
	if (eol == SDATA_EOL_LF)
		d->stats.an[SDATA_AN_BARE_LF]++;
	else if (eol == SDATA_EOL_CR)
		d->stats.an[SDATA_AN_BARE_CR]++;
	d->stats.lines++;
	d->stats.max_line = MAX(d->stats.max_line, d->linelen);
	d->linelen = 0;
	if (d->mode == SDATA_NORMALIZE)
		sdata_dec_emit(d, "\r\n", 2);
	else
		sdata_dec_emit(d, sdata_eol_raw[eol],
			       strlen(sdata_eol_raw[eol]));
	d->eol = eol;
	d->state = SDATA_D_BOL;
}

/* A lone "." line that is not the terminator: content ".". */
static void
sdata_dec_dot_line(struct sdata_dec *d, enum sdata_eol after)
{
	d->stats.an[sdata_dot_an[d->eol][after]]++;
	d->stats.dot_lines++;
	d->stats.dot_bol++;
	sdata_dec_emit(d, ".", 1);
	sdata_dec_eol(d, after);
}

/*
 * At the end of data: is the output its own encoding?  It is empty or ends
 * in CRLF (the terminator follows a CRLF line end, and NORMALIZE writes
 * every ending as CRLF), so what is left is the line starts and, in
 * STRICT, the bare endings passed through, and NULs.
 */
static bool
sdata_dec_is_wire(const struct sdata_dec *d)
{
	const struct sdata_stats *st = &d->stats;

	/* A NUL dropped at a line start would hide the "." after it. */
	if (st->oversize || st->dot_bol != 0 || st->an[SDATA_AN_NUL] != 0)
		return false;
	return d->mode == SDATA_NORMALIZE ||
	       (st->an[SDATA_AN_BARE_LF] == 0 && st->an[SDATA_AN_BARE_CR] == 0);
}

/*
 * One input byte.  Returns 1 when c was consumed, 0 when c must be stepped
 * again in the new state (at most twice more), 2 at the end of data.
 */
static int
sdata_dec_step(struct sdata_dec *d, unsigned char c)
{
	bool unstuff = d->eol == SDATA_EOL_CRLF || d->mode == SDATA_NORMALIZE;
	char ch = (char)c;

	BUG_ON((unsigned)d->state >= SDATA_D__COUNT);
	switch ((enum sdata_dec_state)d->state) {
	case SDATA_D_BOL:
		if (c != '.') {
			d->state = SDATA_D_TEXT;
			return 0;
		}
		d->linelen++;
		d->state = SDATA_D_DOT;
		return 1;
	case SDATA_D_DOT:
		if (c == '\r') {
			d->state = SDATA_D_DOT_CR;
			return 1;
		}
		if (c == '\n') {
			sdata_dec_dot_line(d, SDATA_EOL_LF);
			return 1;
		}
		/* ".x": a stuffed line; its first dot goes when unstuffing. */
		if (!unstuff || c == '.')
			d->stats.dot_bol++; /* the line still starts with "." */
		if (!unstuff)
			sdata_dec_emit(d, ".", 1);
		d->state = SDATA_D_TEXT;
		return 0;
	case SDATA_D_DOT_CR:
		if (c == '\n' && d->eol == SDATA_EOL_CRLF) {
			d->done = true;
			d->stats.wire = sdata_dec_is_wire(d);
			return 2;
		}
		sdata_dec_dot_line(d,
				   c == '\n' ? SDATA_EOL_CRLF : SDATA_EOL_CR);
		return c == '\n';
	case SDATA_D_TEXT:
		if (c == '\r') {
			d->state = SDATA_D_CR;
			return 1;
		}
		if (c == '\n') {
			sdata_dec_eol(d, SDATA_EOL_LF);
			return 1;
		}
		d->linelen++;
		if (c == 0) {
			d->stats.an[SDATA_AN_NUL]++;
			if (d->mode == SDATA_NORMALIZE)
				return 1;
		}
		sdata_dec_emit(d, &ch, 1);
		return 1;
	case SDATA_D_CR:
		sdata_dec_eol(d, c == '\n' ? SDATA_EOL_CRLF : SDATA_EOL_CR);
		return c == '\n';
	case SDATA_D__COUNT:
		break;
	}
	return 1;
}

/* Copy what passes unchanged (sdata_span) from in straight to out. */
static size_t
sdata_dec_run(struct sdata_dec *d, const char *in, size_t inlen, char *out,
	      size_t room, size_t *produced)
{
	uint64_t lines = d->stats.lines;
	size_t n, copy;

	if (!d->stats.oversize)
		inlen = MIN(inlen, room);
	n = sdata_span(in, inlen, &d->stats.lines, &d->stats.max_line,
		       &d->linelen);
	if (d->stats.lines != lines)
		d->eol = SDATA_EOL_CRLF;
	copy = n;
	if (d->size_cap != 0) {
		uint64_t left = d->stats.size >= d->size_cap
				    ? 0
				    : d->size_cap - d->stats.size;

		if (copy > left) {
			copy = (size_t)left;
			d->stats.oversize = true;
		}
	}
	memcpy(out, in, copy);
	*produced += copy;
	d->stats.size += n;
	return n;
}

/* Decode a chunk of DATA (see header for the contract). */
int
sdata_decode(struct sdata_dec *d, const char *in, size_t inlen, size_t *used_r,
	     char *out, size_t outsz, size_t *produced_r)
{
	size_t i = 0, o = 0;
	int r;

	*used_r = 0;
	*produced_r = 0;
	if (d->done)
		return 1;
	for (;;) {
		while (d->pend_off < d->npend && o < outsz)
			out[o++] = d->pend[d->pend_off++];
		if (d->pend_off < d->npend || i >= inlen)
			break;
		d->npend = d->pend_off = 0;
		if (d->state == SDATA_D_TEXT) {
			i += sdata_dec_run(d, in + i, inlen - i, out + o,
					   outsz - o, &o);
			if (i >= inlen)
				break;
		}
		r = sdata_dec_step(d, (unsigned char)in[i]);
		if (r == 2) {
			*used_r = i + 1;
			*produced_r = o;
			return 1;
		}
		i += (size_t)r;
	}
	if (d->pend_off == d->npend)
		d->npend = d->pend_off = 0;
	*used_r = i;
	*produced_r = o;
	return 0;
}

/* Sum of d's anomaly counters. */
uint64_t
sdata_dec_anomalies(const struct sdata_dec *d)
{
	uint64_t n = 0;

	for (unsigned a = 0; a < SDATA_AN__COUNT; a++)
		n += d->stats.an[a];
	return n;
}

/* Reply for a rejecting server after end of data, or NULL (see header). */
const char *
sdata_dec_reply(const struct sdata_dec *d)
{
	const struct sdata_stats *st = &d->stats;

	if (st->oversize)
		return "552 5.3.4 Message size exceeds fixed limit";
	if (d->mode == SDATA_NORMALIZE)
		return NULL;
	if (st->dot_lines != 0)
		return "550 5.5.2 Message contains a non-standard "
		       "end-of-data sequence";
	if (st->an[SDATA_AN_BARE_CR] != 0)
		return "550 5.5.2 Message contains bare <CR>";
	if (st->an[SDATA_AN_BARE_LF] != 0)
		return "550 5.5.2 Message contains bare <LF>";
	if (st->an[SDATA_AN_NUL] != 0)
		return "554 5.6.0 Message contains NUL characters";
	return NULL;
}

/* ---- encoder ----------------------------------------------------------- */

/* Start a body (see header). */
void
sdata_enc_init(struct sdata_enc *e)
{
	memset(e, 0, sizeof(*e));
	e->state = SDATA_E_BOL;
}

static void
sdata_enc_put(struct sdata_enc *e, const char *s, size_t n)
{
	BUG_ON(e->npend + n > sizeof(e->pend));
	memcpy(e->pend + e->npend, s, n);
	e->npend = (unsigned char)(e->npend + n);
}

/* One input byte; returns 1 if consumed, 0 to step it again. */
static int
sdata_enc_step(struct sdata_enc *e, unsigned char c)
{
	/* NUL goes first so that "\r\0\n" is one CRLF, as if NUL never was. */
	if (c == 0) {
		e->nul_dropped++;
		return 1;
	}
	if (e->state == SDATA_E_CR) {
		sdata_enc_put(e, "\r\n", 2);
		e->state = SDATA_E_BOL;
		return c == '\n';
	}
	if (c == '\r') {
		e->state = SDATA_E_CR;
	} else if (c == '\n') {
		sdata_enc_put(e, "\r\n", 2);
		e->state = SDATA_E_BOL;
	} else if (c == '.' && e->state == SDATA_E_BOL) {
		sdata_enc_put(e, "..", 2);
		e->state = SDATA_E_TEXT;
	} else {
		char ch = (char)c;

		sdata_enc_put(e, &ch, 1);
		e->state = SDATA_E_TEXT;
	}
	return 1;
}

static void
sdata_enc_flush(struct sdata_enc *e, char *out, size_t outsz, size_t *o)
{
	while (e->pend_off < e->npend && *o < outsz)
		out[(*o)++] = e->pend[e->pend_off++];
	if (e->pend_off == e->npend)
		e->npend = e->pend_off = 0;
}

/* The prefix of buf that is its own encoding (see header). */
size_t
sdata_enc_pass(struct sdata_enc *e, const char *buf, size_t len)
{
	uint64_t lines = 0, maxl = 0, linelen = 0;
	size_t i = 0, n;

	if (e->npend != 0 || e->state == SDATA_E_CR)
		return 0;
	for (;;) {
		if (len - i >= 2 && buf[i] == '\r' && buf[i + 1] == '\n') {
			i += 2;
			e->state = SDATA_E_BOL;
			continue;
		}
		if (i == len ||
		    (e->state == SDATA_E_BOL && !sdata_plain_bol(buf[i])))
			return i;
		n = sdata_span(buf + i, len - i, &lines, &maxl, &linelen);
		if (n == 0)
			return i; /* a bare CR or LF, or NUL */
		i += n;
		e->state = SDATA_E_TEXT;
	}
}

/* Encode body bytes (see header for the contract). */
int
sdata_encode(struct sdata_enc *e, const char *in, size_t inlen, size_t *used_r,
	     char *out, size_t outsz, size_t *produced_r)
{
	size_t i = 0, o = 0, n;

	BUG_ON(e->finished);
	for (;;) {
		sdata_enc_flush(e, out, outsz, &o);
		if (e->npend != 0 || i >= inlen)
			break;
		n = sdata_enc_pass(e, in + i, MIN(inlen - i, outsz - o));
		if (n > 0) {
			memcpy(out + o, in + i, n);
			o += n;
			i += n;
			continue;
		}
		i += (size_t)sdata_enc_step(e, (unsigned char)in[i]);
	}
	*used_r = i;
	*produced_r = o;
	return 0;
}

/* Write the final CRLF if needed and ".\r\n" (see header). */
int
sdata_enc_finish(struct sdata_enc *e, char *out, size_t outsz,
		 size_t *produced_r)
{
	size_t o = 0;

	if (!e->finished) {
		sdata_enc_flush(e, out, outsz, &o);
		if (e->npend != 0) {
			*produced_r = o;
			return 0;
		}
		if (e->state != SDATA_E_BOL)
			sdata_enc_put(e, "\r\n", 2);
		sdata_enc_put(e, ".\r\n", 3);
		e->finished = true;
		e->state = SDATA_E_BOL;
	}
	sdata_enc_flush(e, out, outsz, &o);
	*produced_r = o;
	return e->npend == 0;
}
