/* SPDX-License-Identifier: MIT */
/*
 * smtp_data.h: SMTP DATA body framing, both directions (pure, no I/O).
 *
 * Decoder (server side): raw DATA bytes -> message bytes, dot-unstuffed, with
 * end-of-data detected ONLY at <CRLF>.<CRLF>, and every line-ending anomaly
 * (bare LF, bare CR, NUL, the SMTP smuggling "." lines) counted.  Encoder
 * (client side): spool bytes -> wire bytes, CRLF-canonical and dot-stuffed,
 * never emitting a bare CR or LF or an early terminator.  Both are resumable
 * at any split of input and output, write into caller buffers, and hold at
 * most a few pending bytes; they never allocate.  Embed the structs; they are
 * plain values (no _fini).
 *
 * Line rules the decoder implements (raw = bytes as received):
 *   - A line ends at CRLF, at a bare LF or at a bare CR (CR not followed by
 *     LF).  The data ends only at a "." line with CRLF on BOTH sides in the
 *     raw input (the start of the data counts as a CRLF).
 *   - Unstuffing: a line starting with "." and having more bytes loses that
 *     first "." (RFC 5321 4.5.2).  STRICT does this only after CRLF;
 *     NORMALIZE after any line ending.
 *   - A "." line that is not the terminator (any non-CRLF ending on either
 *     side: <LF>.<LF>, <CR>.<CR>, <CRLF>.<LF>, ...) is counted as its own
 *     anomaly and is message content: STRICT passes its raw bytes through;
 *     NORMALIZE emits the content line "." + CRLF.  The output is UNSTUFFED
 *     content, so that "." line can only reach another server through an
 *     encoder that stuffs it (sdata_encode() makes it ".."): it can never
 *     become a terminator again.  The same holds for "\r\n\0.\r\n": NUL is
 *     content in STRICT (the line is "\0.") and dropped in NORMALIZE (the
 *     line becomes "." content), and it never ends the data in either mode.
 *   - STRICT passes every other byte through unmodified.  NORMALIZE drops
 *     NUL and writes every line ending as CRLF, so its output never holds a
 *     bare CR, a bare LF or a NUL.
 */
#ifndef RINGMTA_SMTP_DATA_H
#define RINGMTA_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sdata_mode {
	SDATA_STRICT = 0, /* ringsink default; listener "reject" */
	SDATA_NORMALIZE,  /* listener "normalize" */
	SDATA_MODE__COUNT /* must stay last */
};
const char *sdata_mode_str(enum sdata_mode m);

/*
 * Anomalies, counted separately.  The dot-line ones name the raw line ending
 * before and after the lone "." (CRLF before and after is the terminator,
 * not an anomaly); each also counts under BARE_LF / BARE_CR for its bare
 * endings.
 */
enum sdata_an {
	SDATA_AN_BARE_LF = 0, /* LF not preceded by CR */
	SDATA_AN_BARE_CR,     /* CR not followed by LF */
	SDATA_AN_NUL,         /* NUL byte */
	SDATA_AN_LF_DOT_LF,   /* <LF>.<LF> */
	SDATA_AN_LF_DOT_CR,   /* <LF>.<CR> */
	SDATA_AN_LF_DOT_CRLF, /* <LF>.<CR><LF> */
	SDATA_AN_CR_DOT_LF,   /* <CR>.<LF> */
	SDATA_AN_CR_DOT_CR,   /* <CR>.<CR> */
	SDATA_AN_CR_DOT_CRLF, /* <CR>.<CR><LF> */
	SDATA_AN_CRLF_DOT_LF, /* <CR><LF>.<LF> */
	SDATA_AN_CRLF_DOT_CR, /* <CR><LF>.<CR> */
	SDATA_AN__COUNT       /* must stay last */
};
/* Short name, e.g. "bare_lf", "lf_dot_crlf" (stable: used as JSON keys). */
const char *sdata_an_str(enum sdata_an a);

struct sdata_stats {
	uint64_t an[SDATA_AN__COUNT]; /* anomaly counters */
	uint64_t dot_lines;           /* sum of the *_DOT_* counters */
	uint64_t size;     /* message bytes (output, incl. dropped) */
	uint64_t lines;    /* lines ended (terminator excluded) */
	uint64_t max_line; /* longest raw line, terminator excluded */
	uint64_t dot_bol;  /* output lines that start with "." */
	bool oversize;     /* size went over the cap */
	/* Set at the end of data: the output is its own SMTP wire encoding
	 * (sdata_enc_pass() keeps all of it and sdata_enc_finish() adds only
	 * ".\r\n"): no line starts with ".", no bare CR or LF, no NUL, and
	 * it is empty or ends in CRLF; and it is whole (not oversize). */
	bool wire;
};

/* Decoder.  Fields are private to smtp_data.c except stats. */
struct sdata_dec {
	enum sdata_mode mode;
	uint64_t size_cap; /* 0: unlimited */
	struct sdata_stats stats;
	int state;
	int eol;          /* kind of the line ending before this line */
	uint64_t linelen; /* raw bytes of the current line */
	bool done;
	unsigned char npend, pend_off;
	char pend[6];
};

/*
 * Prepare d for one message in mode.  size_cap (0: none) bounds the
 * message: once the output would pass it, stats.oversize is set, output
 * stops (nothing past the cap is produced) but input is still consumed up to
 * the real end of data, so the session can reply 552 5.3.4 and go on.
 */
void sdata_dec_init(struct sdata_dec *d, enum sdata_mode mode,
		    uint64_t size_cap);

/*
 * Decode in[0..inlen) into out[0..outsz).  Sets *used_r (input consumed)
 * and *produced_r (output written).  Returns 1 when the end of data was
 * consumed (*used_r is just past it: pipelined commands that follow stay in
 * the caller's buffer, and all message bytes have been produced), or 0 when
 * it needs more input (*used_r == inlen) or more output room (out full).
 * Calling again after 1 returns 1 and consumes nothing.  Never fails.
 */
int sdata_decode(struct sdata_dec *d, const char *in, size_t inlen,
		 size_t *used_r, char *out, size_t outsz, size_t *produced_r);

/* Sum of all anomaly counters of d. */
uint64_t sdata_dec_anomalies(const struct sdata_dec *d);

/*
 * The reply a rejecting server should send after the end of data, or NULL
 * if the message is acceptable: 552 5.3.4 if oversize; in STRICT mode also
 * 550 5.5.2 for a non-terminator "." line, bare CR or bare LF, and
 * 554 5.6.0 for NUL (NORMALIZE repaired those).  Static storage, no CRLF.
 */
const char *sdata_dec_reply(const struct sdata_dec *d);

/* Encoder. Fields are private to smtp_data.c. */
struct sdata_enc {
	int state;
	bool finished;
	unsigned char npend, pend_off;
	char pend[6];
	uint64_t nul_dropped; /* NUL bytes removed from the input */
};

/* Prepare e for one message body. */
void sdata_enc_init(struct sdata_enc *e);

/*
 * Encode body bytes in[0..inlen) into wire bytes in out[0..outsz): CRLF and
 * bare LF and bare CR all become CRLF, NUL is dropped (a receiver that drops
 * it could otherwise see "\r\n\0.\r\n" as the end), and a "." at a line start
 * is doubled.  Sets *used_r and *produced_r; returns 0 (call again with the
 * rest when *used_r < inlen: out was full).  A CR at the end of in is held
 * until the next call or sdata_enc_finish().
 */
int sdata_encode(struct sdata_enc *e, const char *in, size_t inlen,
		 size_t *used_r, char *out, size_t outsz, size_t *produced_r);

/*
 * Encoding in place: the length of the prefix of buf[0..len) that is its
 * own encoding, given e's state (no "." at a line start, no bare CR or LF,
 * no NUL), with e moved past it as if sdata_encode() had written it.  The
 * caller keeps those bytes as wire bytes and gives the rest (from the
 * returned offset) to sdata_encode().  Returns 0 while e holds pending
 * output or a CR.  sdata_encode() copies through the same prefixes.
 */
size_t sdata_enc_pass(struct sdata_enc *e, const char *buf, size_t len);

/*
 * End the body: write CRLF if it did not end with a line ending (and was
 * not empty), then ".\r\n".  Sets *produced_r; returns 1 when the
 * terminator is fully written, 0 if out filled up first (call again).
 */
int sdata_enc_finish(struct sdata_enc *e, char *out, size_t outsz,
		     size_t *produced_r);

#endif
