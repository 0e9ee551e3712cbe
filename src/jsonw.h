/* SPDX-License-Identifier: MIT */
/*
 * jsonw.h: a small streaming JSON writer into a growable byte buffer.
 *
 * Used by the delivery log (dlog.h), ringsink's summary, ringctl --json and
 * the Redis module.  Strings are arbitrary bytes (peer text included): the
 * output is always valid UTF-8 JSON with no raw control bytes, DEL, U+2028
 * or U+2029, and invalid UTF-8 replaced by \ufffd per maximal subpart.
 * Nesting mistakes are our bugs and abort (BUG_ON); allocation failure
 * aborts (xrealloc).  The writer owns buf; nothing here does I/O.
 */
#ifndef RINGMTA_JSONW_H
#define RINGMTA_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"

#define JSONW_MAX_DEPTH 32

struct jsonw {
	char *buf; /* the output, NUL-terminated after len (when buf != NULL) */
	size_t len; /* bytes of output, excluding the NUL */
	size_t cap;
	unsigned depth;  /* open objects/arrays */
	bool want_value; /* a key was written; its value is due */
	bool top_done;   /* a top-level value is complete; newline is due */
	unsigned char frame[JSONW_MAX_DEPTH]; /* JSONW_F_* per open container */
};

/* Start empty (no allocation until the first write). */
void jsonw_init(struct jsonw *w);
/* Free the buffer; w may be re-initialised afterwards. */
void jsonw_fini(struct jsonw *w);
/* Forget all output and nesting state but keep the buffer for reuse. */
void jsonw_reset(struct jsonw *w);

/*
 * Containers.  A value (including a container) written at depth 0 is a
 * top-level value; jsonw_newline() must follow it before the next one, so a
 * buffer holds JSON lines.  Inside an object every value needs a key first.
 */
void jsonw_obj_begin(struct jsonw *w);
void jsonw_obj_end(struct jsonw *w);
void jsonw_arr_begin(struct jsonw *w);
void jsonw_arr_end(struct jsonw *w);
/* End the current top-level value with "\n" (depth 0, value complete). */
void jsonw_newline(struct jsonw *w);

/* Object keys: n arbitrary bytes, escaped like string values. */
void jsonw_key_n(struct jsonw *w, const char *key, size_t n);
/* As jsonw_key_n with a NUL-terminated key. */
void jsonw_key(struct jsonw *w, const char *key);

/* A string of n arbitrary bytes; s == NULL writes null. */
void jsonw_str_n(struct jsonw *w, const char *s, size_t n);
/* A NUL-terminated string; s == NULL writes null. */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_uint(struct jsonw *w, uint64_t v);
/* Shortest decimal that reads back as v; NaN and infinities write null. */
void jsonw_double(struct jsonw *w, double v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/* A pre-encoded value of n bytes, copied verbatim: the caller vouches that
 * it is exactly one valid JSON value. */
void jsonw_raw(struct jsonw *w, const char *json, size_t n);

/* Key and value in one call (key NUL-terminated). */
void jsonw_kv_str(struct jsonw *w, const char *key, const char *s);
void jsonw_kv_int(struct jsonw *w, const char *key, int64_t v);
void jsonw_kv_uint(struct jsonw *w, const char *key, uint64_t v);
void jsonw_kv_double(struct jsonw *w, const char *key, double v);
void jsonw_kv_bool(struct jsonw *w, const char *key, bool v);
void jsonw_kv_null(struct jsonw *w, const char *key);

/* True when nothing is open and no key awaits its value. */
bool jsonw_complete(const struct jsonw *w);

#endif
