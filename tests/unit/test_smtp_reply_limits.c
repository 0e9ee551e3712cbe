/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_reply_limits.c: the SMTP reply parser's limits: long lines
 * truncated per line and in total (UTF-8 kept whole), the line and reply
 * caps, floods, custom limits.  Each input is also replayed at every split
 * (reply_fixture.h) where the result must not depend on the chunking.
 */
#include "smtp_reply.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "reply_fixture.h"

/* ---- limits ---- */

/* "250 " + n bytes of fill + "\r\n" in a calloc'd buffer. */
static char *
long_line(size_t n, char fill, size_t *len_r)
{
	char *b = calloc(1, n + 7);

	assert_non_null(b);
	memcpy(b, "250 ", 4);
	memset(b + 4, fill, n);
	memcpy(b + 4 + n, "\r\n", 2);
	*len_r = n + 6;
	return b;
}

static void
test_long_line_truncated(void **state)
{
	static const size_t lens[] = {505, 506, 507, 600, 4092};
	struct reply_parser p;
	struct smtp_reply r;
	size_t used, len;

	(void)state;
	for (size_t i = 0; i < nitems(lens); i++) {
		char *in = long_line(lens[i], 'x', &len);

		reply_parser_init(&p, 0, 0);
		assert_int_equal(reply_parse(&p, in, len, &used, &r), 1);
		assert_int_equal(used, len);
		assert_int_equal(r.lines, 1);
		assert_int_equal(r.text_len, MIN(lens[i], REPLY_LINE_TEXT_MAX));
		assert_int_equal(r.truncated, lens[i] > REPLY_LINE_TEXT_MAX);
		assert_memory_equal(r.text, in + 4, r.text_len);
		free(in);
	}
}

/* A line cut at its cap does not cut the lines after it. */
static void
test_truncation_per_line(void **state)
{
	struct reply_parser p;
	struct smtp_reply r;
	size_t used, len;
	char *in = long_line(600, 'x', &len);

	(void)state;
	in[3] = '-';
	reply_parser_init(&p, 0, 0);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), 0);
	assert_int_equal(reply_parse(&p, S("250 tail\r\n"), &used, &r), 1);
	assert_int_equal(r.lines, 2);
	assert_true(r.truncated);
	assert_int_equal(r.text_len, REPLY_LINE_TEXT_MAX + 6);
	assert_string_equal(r.text + REPLY_LINE_TEXT_MAX, "; tail");
	free(in);
}

/* A UTF-8 sequence that does not fit is dropped whole, never cut. */
static void
test_truncation_keeps_utf8_whole(void **state)
{
	struct reply_parser p;
	struct smtp_reply r;
	size_t used, len;
	char *in = long_line(REPLY_LINE_TEXT_MAX + 1, 'x', &len);

	(void)state;
	memcpy(in + 4 + REPLY_LINE_TEXT_MAX - 1, "\xc3\xa9", 2);
	reply_parser_init(&p, 0, 0);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), 1);
	assert_int_equal(r.text_len, REPLY_LINE_TEXT_MAX - 1);
	assert_true(r.truncated);
	assert_int_equal(r.text[r.text_len - 1], 'x');
	free(in);
}

/* Twenty 400-byte lines: the stored text is the first 4 KiB of the join. */
static void
test_text_total_cap(void **state)
{
	char in[20 * 406 + 1], join[20 * 402 + 1];
	size_t len = 0, jlen = 0, used;
	struct reply_parser p;
	struct smtp_reply r;

	(void)state;
	for (int i = 0; i < 20; i++) {
		memcpy(in + len, i < 19 ? "250-" : "250 ", 4);
		memset(in + len + 4, 'a' + i, 400);
		memcpy(in + len + 404, "\r\n", 2);
		len += 406;
		if (i > 0) {
			memcpy(join + jlen, REPLY_TEXT_SEP, 2);
			jlen += 2;
		}
		memset(join + jlen, 'a' + i, 400);
		jlen += 400;
	}
	reply_parser_init(&p, 0, 0);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), 1);
	assert_int_equal(used, len);
	assert_int_equal(r.lines, 20);
	assert_true(r.truncated);
	assert_int_equal(r.text_len, REPLY_TEXT_MAX);
	assert_memory_equal(r.text, join, REPLY_TEXT_MAX);
	rt_check_splits(in, len, true);
}

static void
test_line_cap(void **state)
{
	struct reply_parser p;
	struct smtp_reply r;
	size_t used, len;
	char *in;

	(void)state;
	/* exactly the cap (code and text, CR LF not counted): accepted */
	in = long_line(REPLY_LINE_MAX_DEFAULT - 4, 'x', &len);
	reply_parser_init(&p, 0, 0);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), 1);
	assert_int_equal(used, len);
	/* LF alone at the cap */
	in[len - 2] = '\n';
	reply_parser_init(&p, 0, 0);
	assert_int_equal(reply_parse(&p, in, len - 1, &used, &r), 1);
	free(in);
	/* one more byte: refused at that byte */
	in = long_line(REPLY_LINE_MAX_DEFAULT - 3, 'x', &len);
	reply_parser_init(&p, 0, 0);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), -EMSGSIZE);
	assert_int_equal(used, REPLY_LINE_MAX_DEFAULT + 1);
	assert_int_equal(reply_parser_error(&p), REPLY_ERR_LINE_TOO_LONG);
	free(in);
	/* the cap applies to every line, not just the first */
	in = long_line(REPLY_LINE_MAX_DEFAULT - 3, 'x', &len);
	reply_parser_init(&p, 0, 0);
	assert_int_equal(reply_parse(&p, S("250-a\r\n"), &used, &r), 0);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), -EMSGSIZE);
	assert_int_equal(used, REPLY_LINE_MAX_DEFAULT + 1);
	free(in);
}

/* 10 MB without LF (or of bare CRs): refused at the cap, memory fixed. */
static void
test_line_cap_no_lf(void **state)
{
	static const char fills[] = {'x', '\r', '\0'};
	enum {
		chunk = 64 * 1024,
		total = 10 * 1024 * 1024
	};
	char *buf = malloc(chunk);
	struct reply_parser p;
	struct smtp_reply r;
	size_t used, fed;
	int rc;

	(void)state;
	assert_non_null(buf);
	for (size_t f = 0; f < nitems(fills); f++) {
		memset(buf, fills[f], chunk);
		reply_parser_init(&p, 0, 0);
		assert_int_equal(reply_parse(&p, "250 ", 4, &used, &r), 0);
		fed = 4;
		do {
			rc = reply_parse(&p, buf, chunk, &used, &r);
			fed += used;
		} while (rc == 0 && fed < total);
		assert_int_equal(rc, -EMSGSIZE);
		assert_int_equal(reply_parser_error(&p),
				 REPLY_ERR_LINE_TOO_LONG);
		/* a bare CR is held back one byte before it counts */
		assert_in_range(fed, REPLY_LINE_MAX_DEFAULT + 1,
				REPLY_LINE_MAX_DEFAULT + 2);
		assert_int_equal(reply_parse(&p, buf, chunk, &used, &r),
				 -EMSGSIZE);
		assert_int_equal(used, 0);
	}
	free(buf);
}

/* "250-x\r\n" * n + "250 end\r\n" */
static char *
flood(size_t n, size_t *len_r)
{
	char *b = malloc(n * 7 + 10);

	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		memcpy(b + i * 7, "250-x\r\n", 7);
	memcpy(b + n * 7, "250 end\r\n", 9);
	*len_r = n * 7 + 9;
	return b;
}

static void
test_flood(void **state)
{
	struct reply_parser p;
	struct smtp_reply r;
	size_t used, len;
	char *in = flood(100000, &len);

	(void)state;
	reply_parser_init(&p, 0, 0);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), -EMSGSIZE);
	assert_int_equal(used, REPLY_TOTAL_MAX_DEFAULT + 1);
	assert_int_equal(reply_parser_error(&p), REPLY_ERR_TOO_LONG);
	free(in);
	/* just under the total cap: complete, text capped */
	in = flood(9000, &len);
	assert_true(len <= REPLY_TOTAL_MAX_DEFAULT);
	reply_parser_init(&p, 0, 0);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), 1);
	assert_int_equal(used, len);
	assert_int_equal(r.lines, 9001);
	assert_true(r.truncated);
	assert_true(r.text_len <= REPLY_TEXT_MAX);
	assert_int_equal(strncmp(r.text, "x; x; x", 7), 0);
	free(in);
}

static void
test_custom_limits(void **state)
{
	struct reply_parser p;
	struct smtp_reply r;
	size_t used, len;
	char *in;

	(void)state;
	/* a line cap below 512 is raised to 512 */
	reply_parser_init(&p, 100, 0);
	in = long_line(REPLY_LINE_MAX_MIN - 4, 'x', &len);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), 1);
	free(in);
	in = long_line(REPLY_LINE_MAX_MIN - 3, 'x', &len);
	reply_parser_init(&p, 100, 0);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), -EMSGSIZE);
	assert_int_equal(used, REPLY_LINE_MAX_MIN + 1);
	free(in);
	/* a total cap below the line cap is raised to the line cap */
	reply_parser_init(&p, 1000, 600);
	in = long_line(996, 'x', &len);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), -EMSGSIZE);
	assert_int_equal(used, 1001);
	assert_int_equal(reply_parser_error(&p), REPLY_ERR_TOO_LONG);
	free(in);
	/* a small total cap stops a flood at its byte */
	reply_parser_init(&p, 600, 2000);
	in = flood(1000, &len);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), -EMSGSIZE);
	assert_int_equal(used, 2001);
	assert_int_equal(reply_parser_error(&p), REPLY_ERR_TOO_LONG);
	/* the same with every split, through the recorder */
	rt_line_max = 600;
	rt_total_max = 2000;
	rt_check_splits(in, 2100, false);
	assert_int_equal(rt_base.rc, -EMSGSIZE);
	assert_int_equal(rt_base.off, 2001);
	free(in);
	/* the total counts CR LF; exactly at the cap is fine */
	reply_parser_init(&p, 600, 2000);
	in = flood(284, &len); /* 284 * 7 + 9 = 1997 */
	assert_int_equal(reply_parse(&p, in, len, &used, &r), 1);
	free(in);
	reply_parser_init(&p, 600, 1997);
	in = flood(284, &len);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), 1);
	assert_int_equal(used, 1997);
	free(in);
	reply_parser_init(&p, 600, 1996);
	in = flood(284, &len);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), -EMSGSIZE);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    RT_TEST(test_long_line_truncated),
	    RT_TEST(test_truncation_per_line),
	    RT_TEST(test_truncation_keeps_utf8_whole),
	    RT_TEST(test_text_total_cap),
	    RT_TEST(test_line_cap),
	    RT_TEST(test_line_cap_no_lf),
	    RT_TEST(test_flood),
	    RT_TEST(test_custom_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
