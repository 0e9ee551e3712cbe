/* SPDX-License-Identifier: MIT */
/*
 * bounce_fixture.h: what the DSN tests share (test_bounce.c,
 * test_bounce_content.c): the validator, a Python script run through
 * popen() that parses a DSN with the email package (policy.default),
 * asserts the line rules (CRLF, at most 998 bytes) and prints "key=value"
 * lines of what it parsed; a sample original message and a struct
 * bounce_in around it.  Test code only: it asserts.
 */
#ifndef RINGMTA_BOUNCE_FIXTURE_H
#define RINGMTA_BOUNCE_FIXTURE_H

#include <stddef.h>

#include "bounce.h"

#define BFX_NOW     1700000100 /* Tue, 14 Nov 2023 22:15:00 +0000 */
#define BFX_ARRIVAL 1699990000

struct bfx_py_out {
	char buf[256 * 1024];
	char val[64 * 1024];
};

/* Run the validator on msg; the output goes to r->buf.  Returns its exit
 * status. */
int bfx_py_run(const char *msg, size_t len, struct bfx_py_out *r);
/* The value of key in r's output (copied into r->val), or NULL. */
const char *bfx_py_get(struct bfx_py_out *r, const char *key);
/* Assert that key's value is want. */
void bfx_py_eq(struct bfx_py_out *r, const char *key, const char *want);
/* Validate out as a DSN and check the top-level headers every DSN has;
 * returns the parsed output (the caller frees it). */
struct bfx_py_out *bfx_py_check(const struct bounce_out *out);

/* A short original message (From, To, Subject, Message-ID, a body line). */
extern const char bfx_orig[];
extern const size_t bfx_orig_len;
/* in: one failed DSN from alice@a.example at BFX_NOW for r[0..nrcpt),
 * with bfx_orig as the original. */
void bfx_in_init(struct bounce_in *in, struct bounce_rcpt *r, size_t nrcpt);

#endif
