/* SPDX-License-Identifier: MIT */
/*
 * reply_fixture.h: the recorder the reply parser's tests share
 * (test_smtp_reply.c, test_smtp_reply_limits.c).  rt_run_stream() feeds a
 * stream to a fresh parser in chunks and keeps every reply, error and
 * consumed byte count; rt_check_splits() replays an input whole, byte by
 * byte, at every two-part split (and every three-part split of short
 * inputs) and asserts that each run gives exactly what the whole-buffer
 * parse gave.  Test code only: it asserts.
 */
#ifndef RINGMTA_REPLY_FIXTURE_H
#define RINGMTA_REPLY_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp_reply.h"

#define S(x) x, sizeof(x) - 1
#define F(x) (1u << REPLY_CAP_##x)
#define A(x) (1u << REPLY_AUTH_##x)

struct rt_reply {
	int code;
	unsigned esc[3];
	unsigned lines;
	bool truncated;
	size_t text_len;
	size_t end; /* stream offset just past the reply */
	struct reply_caps caps;
	char text[REPLY_TEXT_MAX + 1];
};

#define RT_MAX 128

struct rt_run {
	size_t n;
	struct rt_reply r[RT_MAX];
	int rc;             /* 0: stream ended, else the error */
	size_t off;         /* stream offset of the end or the error */
	enum reply_err err; /* reply_parser_error() at the end */
	bool idle;
};

/* The whole-buffer run and the split runs compared with it. */
extern struct rt_run rt_base, rt_other;
/* Parser limits for the next runs (0: the defaults); reset by rt_setup. */
extern size_t rt_line_max, rt_total_max;
/* The table entry under test, named by rt_teardown after a failure;
 * clear rt_case when a table passes. */
extern const char *rt_case;
extern size_t rt_case_idx;

/* Assert the invariants every reply must satisfy, whatever the input. */
void rt_check_reply(const struct smtp_reply *r);
/* Parse in[0..len) in chunks ending at the sorted offsets cuts[] into
 * *run; with ehlo, ask for the capabilities of every reply. */
void rt_run_stream(struct rt_run *run, const char *in, size_t len,
		   const size_t *cuts, size_t ncuts, bool ehlo);
/* Assert that two runs saw the same replies, errors and offsets. */
void rt_assert_same(const struct rt_run *a, const struct rt_run *b);
/* Run in whole into rt_base, then byte by byte, every 2-part split and
 * (short inputs) every 3-part split, each the same as rt_base. */
void rt_check_splits(const char *in, size_t len, bool ehlo);
/* cmocka setup/teardown: default limits, no case; name a failed case. */
int rt_setup(void **state);
int rt_teardown(void **state);
#define RT_TEST(f) cmocka_unit_test_setup_teardown(f, rt_setup, rt_teardown)

#endif
