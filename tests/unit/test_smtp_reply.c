/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_reply.c: table-driven tests of the SMTP reply and EHLO parser
 * (limits and truncation: test_smtp_reply_limits.c).
 *
 * Every table entry is also replayed byte by byte, at every two-part split
 * (and every three-part split of short inputs), and back to back in one
 * buffer, and each run must give exactly the same replies, errors and
 * consumed byte counts as one whole-buffer parse.
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

/* ---- valid replies ---- */

struct valid_case {
	const char *in;
	size_t len;
	int code;
	unsigned lines;
	const char *text;
	const char *esc; /* "c.s.d" or "" when absent */
};

static const struct valid_case valid_cases[] = {
    {S("250 ok\r\n"), 250, 1, "ok", ""},
    /* CVE-2020-8794: a final line of just the code */
    {S("250\r\n"), 250, 1, "", ""},
    {S("250\n"), 250, 1, "", ""},
    {S("250 \r\n"), 250, 1, "", ""},
    {S("250-\r\n250 ok\r\n"), 250, 2, "ok", ""},
    {S("250-first\r\n250\r\n"), 250, 2, "first", ""},
    {S("250-a\n250-b\r\n250 c\n"), 250, 3, "a; b; c", ""},
    {S("250-a\r\n250-\r\n250 b\r\n"), 250, 3, "a; b", ""},
    {S("220-mx.example ESMTP\r\n220-\r\n220 ready\r\n"), 220, 3,
     "mx.example ESMTP; ready", ""},
    {S("200 x\r\n"), 200, 1, "x", ""},
    {S("299 x\r\n"), 299, 1, "x", ""},
    {S("421 bye\r\n"), 421, 1, "bye", ""},
    {S("599 x\r\n"), 599, 1, "x", ""},
    /* enhanced status codes, RFC 3463 */
    {S("550 5.1.1 no such user\r\n"), 550, 1, "5.1.1 no such user", "5.1.1"},
    {S("550-5.1.1 one\r\n550 5.1.1 two\r\n"), 550, 2, "5.1.1 one; 5.1.1 two",
     "5.1.1"},
    {S("550 5.1.1\r\n"), 550, 1, "5.1.1", "5.1.1"},
    {S("550 5.123.456 x\r\n"), 550, 1, "5.123.456 x", "5.123.456"},
    {S("550 5.01.001 x\r\n"), 550, 1, "5.01.001 x", "5.1.1"},
    {S("450 4.7.1 later\r\n"), 450, 1, "4.7.1 later", "4.7.1"},
    {S("250 2.0.0 ok\r\n"), 250, 1, "2.0.0 ok", "2.0.0"},
    {S("550 5.1.1\tuser\r\n"), 550, 1, "5.1.1 user", "5.1.1"},
    {S("250 5.1.1 mismatch\r\n"), 250, 1, "5.1.1 mismatch", ""},
    {S("550 2.0.0 mismatch\r\n"), 550, 1, "2.0.0 mismatch", ""},
    {S("354 3.0.0 go\r\n"), 354, 1, "3.0.0 go", ""},
    {S("550 5.1 x\r\n"), 550, 1, "5.1 x", ""},
    {S("550 5.1.1000 x\r\n"), 550, 1, "5.1.1000 x", ""},
    {S("550 5.1234.1 x\r\n"), 550, 1, "5.1234.1 x", ""},
    {S("550 5.1.1x\r\n"), 550, 1, "5.1.1x", ""},
    {S("550 5.1.1.1 x\r\n"), 550, 1, "5.1.1.1 x", ""},
    {S("550 55.1.1 x\r\n"), 550, 1, "55.1.1 x", ""},
    {S("550 .1.1 x\r\n"), 550, 1, ".1.1 x", ""},
    {S("550 5..1 x\r\n"), 550, 1, "5..1 x", ""},
    {S("550 5.1. x\r\n"), 550, 1, "5.1. x", ""},
    {S("550 5.1.\r\n"), 550, 1, "5.1.", ""},
    {S("550 5\r\n"), 550, 1, "5", ""},
    {S("550  5.1.1 x\r\n"), 550, 1, " 5.1.1 x", ""},
    {S("550-no code\r\n550 5.1.1 later\r\n"), 550, 2, "no code; 5.1.1 later",
     ""},
    /* CR, control bytes and UTF-8 */
    {S("250 a\rb\r\n"), 250, 1, "a?b", ""},
    {S("250 a\r\r\n"), 250, 1, "a?", ""},
    {S("250 a\0b\r\n"), 250, 1, "a?b", ""},
    {S("250 \x1b[31mred\r\n"), 250, 1, "?[31mred", ""},
    {S("250 a\x7f\xff\xfe\r\n"), 250, 1, "a???", ""},
    {S("250 tab\there\r\n"), 250, 1, "tab here", ""},
    {S("250 caf\xc3\xa9\r\n"), 250, 1, "caf\xc3\xa9", ""},
    {S("250 \xf0\x9f\x98\x80!\r\n"), 250, 1, "\xf0\x9f\x98\x80!", ""},
    {S("250 \xe2\x82\xac\r\n"), 250, 1, "\xe2\x82\xac", ""},
    {S("250 \xc0\xaf\r\n"), 250, 1, "??", ""},
    {S("250 \xe0\x80\xaf\r\n"), 250, 1, "???", ""},
    {S("250 \xed\xa0\x80x\r\n"), 250, 1, "???x", ""},
    {S("250 \xf4\x90\x80\x80\r\n"), 250, 1, "????", ""},
    {S("250 \xf5\x80\r\n"), 250, 1, "??", ""},
    {S("250 \x80x\r\n"), 250, 1, "?x", ""},
    {S("250 a\xc3\r\n"), 250, 1, "a?", ""},
    {S("250 \xe2\x82x\r\n"), 250, 1, "?x", ""},
    {S("250 \xf0\x9f\x98\r\n"), 250, 1, "?", ""},
    {S("250 \xc3\xc3\xa9\r\n"), 250, 1, "?\xc3\xa9", ""},
    {S("250-\xc3\r\n250 \xa9\r\n"), 250, 2, "?; ?", ""},
    {S("250 \xc2\x85|\xe2\x80\xa8|\xe2\x80\xae|\xe2\x81\xa6\r\n"), 250, 1,
     "?|?|?|?", ""},
    {S("250 \xc2\xa0\r\n"), 250, 1, "\xc2\xa0", ""},
};

static void
check_valid(const struct valid_case *c)
{
	struct reply_parser p;
	struct smtp_reply r;
	char esc[16];
	size_t used;

	reply_parser_init(&p, 0, 0);
	assert_int_equal(reply_parse(&p, c->in, c->len, &used, &r), 1);
	assert_int_equal(used, c->len);
	assert_int_equal(r.code, c->code);
	if (r.esc_class == 0)
		esc[0] = '\0';
	else
		snprintf(esc, sizeof(esc), "%u.%u.%u", r.esc_class,
			 r.esc_subject, r.esc_detail);
	assert_string_equal(esc, c->esc);
	assert_int_equal(r.lines, c->lines);
	assert_string_equal(r.text, c->text);
	assert_int_equal(r.text_len, strlen(c->text));
	assert_false(r.truncated);
	assert_true(reply_parser_idle(&p));
	rt_check_reply(&r);
	rt_check_splits(c->in, c->len, false);
	rt_check_splits(c->in, c->len, true);
}

static void
test_valid_table(void **state)
{
	(void)state;
	rt_case = "valid_cases";
	for (size_t i = 0; i < nitems(valid_cases); i++) {
		rt_case_idx = i;
		check_valid(&valid_cases[i]);
	}
	rt_case = NULL;
}

/* Every valid reply back to back in one buffer (PIPELINING). */
static void
test_pipelined_all(void **state)
{
	char buf[4096];
	size_t len = 0, end[nitems(valid_cases)];

	(void)state;
	for (size_t i = 0; i < nitems(valid_cases); i++) {
		assert_true(len + valid_cases[i].len <= sizeof(buf));
		memcpy(buf + len, valid_cases[i].in, valid_cases[i].len);
		len += valid_cases[i].len;
		end[i] = len;
	}
	rt_run_stream(&rt_base, buf, len, NULL, 0, false);
	assert_int_equal(rt_base.n, nitems(valid_cases));
	assert_int_equal(rt_base.rc, 0);
	assert_true(rt_base.idle);
	for (size_t i = 0; i < nitems(valid_cases); i++) {
		assert_int_equal(rt_base.r[i].end, end[i]);
		assert_int_equal(rt_base.r[i].code, valid_cases[i].code);
		assert_string_equal(rt_base.r[i].text, valid_cases[i].text);
	}
	rt_check_splits(buf, len, true);
}

static void
test_pipelined_partial(void **state)
{
	struct reply_parser p;
	struct smtp_reply r;
	size_t used;

	(void)state;
	reply_parser_init(&p, 0, 0);
	assert_int_equal(reply_parse(&p, S("250 a\r\n25"), &used, &r), 1);
	assert_int_equal(used, 7);
	assert_string_equal(r.text, "a");
	assert_true(reply_parser_idle(&p));
	assert_int_equal(reply_parse(&p, "25", 2, &used, &r), 0);
	assert_int_equal(used, 2);
	assert_false(reply_parser_idle(&p));
	/* an empty read neither completes nor disturbs anything */
	assert_int_equal(reply_parse(&p, NULL, 0, &used, &r), 0);
	assert_int_equal(used, 0);
	assert_int_equal(reply_parse(&p, S("1 b\r\n354 go\r\n"), &used, &r), 1);
	assert_int_equal(used, 5);
	assert_int_equal(r.code, 251);
	assert_string_equal(r.text, "b");
	assert_int_equal(reply_parse(&p, S("354 go\r\n"), &used, &r), 1);
	assert_int_equal(r.code, 354);
	assert_int_equal(reply_class(r.code), 3);
}

/* ---- invalid replies ---- */

struct invalid_case {
	const char *in;
	size_t len;
	int rc;
	enum reply_err err;
	size_t used; /* the offending byte included */
};

static const struct invalid_case invalid_cases[] = {
    {S("25 ok\r\n"), -EBADMSG, REPLY_ERR_BAD_CODE, 3},
    {S("2500 ok\r\n"), -EBADMSG, REPLY_ERR_BAD_SEPARATOR, 4},
    {S("25x ok\r\n"), -EBADMSG, REPLY_ERR_BAD_CODE, 3},
    {S("abc\r\n"), -EBADMSG, REPLY_ERR_BAD_CODE, 1},
    {S("\r\n"), -EBADMSG, REPLY_ERR_EMPTY_LINE, 2},
    {S("\n"), -EBADMSG, REPLY_ERR_EMPTY_LINE, 1},
    {S("050 x\r\n"), -EBADMSG, REPLY_ERR_CODE_RANGE, 1},
    {S("150 x\r\n"), -EBADMSG, REPLY_ERR_CODE_RANGE, 1},
    {S("650 x\r\n"), -EBADMSG, REPLY_ERR_CODE_RANGE, 1},
    {S("750 x\r\n"), -EBADMSG, REPLY_ERR_CODE_RANGE, 1},
    {S("850 x\r\n"), -EBADMSG, REPLY_ERR_CODE_RANGE, 1},
    {S("950 x\r\n"), -EBADMSG, REPLY_ERR_CODE_RANGE, 1},
    {S("250-a\r\n251 b\r\n"), -EBADMSG, REPLY_ERR_MIXED_CODES, 10},
    {S("250-a\r\n550 b\r\n"), -EBADMSG, REPLY_ERR_MIXED_CODES, 10},
    {S("250-a\r\n150 b\r\n"), -EBADMSG, REPLY_ERR_CODE_RANGE, 8},
    {S("250-a\r\n\r\n"), -EBADMSG, REPLY_ERR_EMPTY_LINE, 9},
    {S("250-a\r\n2x"), -EBADMSG, REPLY_ERR_BAD_CODE, 9},
    {S("250-a\r\n250x"), -EBADMSG, REPLY_ERR_BAD_SEPARATOR, 11},
    {S("250-a\r\n25\r\n"), -EBADMSG, REPLY_ERR_BAD_CODE, 11},
    {S("250_ok\r\n"), -EBADMSG, REPLY_ERR_BAD_SEPARATOR, 4},
    {S("250\tok\r\n"), -EBADMSG, REPLY_ERR_BAD_SEPARATOR, 4},
    {S("25\r\n"), -EBADMSG, REPLY_ERR_BAD_CODE, 4},
    {S("2\n"), -EBADMSG, REPLY_ERR_BAD_CODE, 2},
    {S(" 250 ok\r\n"), -EBADMSG, REPLY_ERR_BAD_CODE, 1},
    {S("-250 ok\r\n"), -EBADMSG, REPLY_ERR_BAD_CODE, 1},
    {S("\x00\x00"), -EBADMSG, REPLY_ERR_BAD_CODE, 1},
    {S("2\xff"
       "5"),
     -EBADMSG, REPLY_ERR_BAD_CODE, 2},
    {S("\xef\xbb\xbf"
       "250 bom\r\n"),
     -EBADMSG, REPLY_ERR_BAD_CODE, 1},
    /* a CR alone does not end a line, it is a byte of the line */
    {S("250\rok\r\n"), -EBADMSG, REPLY_ERR_BAD_SEPARATOR, 5},
    {S("\r250 ok\r\n"), -EBADMSG, REPLY_ERR_BAD_CODE, 2},
    {S("250\r\r\n"), -EBADMSG, REPLY_ERR_BAD_SEPARATOR, 5},
    /* garbage after a complete reply belongs to the next one */
    {S("250 ok\r\nabc"), -EBADMSG, REPLY_ERR_BAD_CODE, 9},
    {S("250 ok\r\n\r\n"), -EBADMSG, REPLY_ERR_EMPTY_LINE, 10},
};

static void
check_invalid(const struct invalid_case *c)
{
	struct reply_parser p;
	struct smtp_reply r;
	size_t used, off = 0;
	int rc;

	reply_parser_init(&p, 0, 0);
	while ((rc = reply_parse(&p, c->in + off, c->len - off, &used, &r)) ==
	       1)
		off += used;
	assert_int_equal(rc, c->rc);
	assert_int_equal(off + used, c->used);
	assert_int_equal(reply_parser_error(&p), c->err);
	assert_false(reply_parser_idle(&p));
	/* the error is final: nothing more is consumed */
	assert_int_equal(reply_parse(&p, S("250 ok\r\n"), &used, &r), c->rc);
	assert_int_equal(used, 0);
	assert_int_equal(reply_parser_error(&p), c->err);
	rt_check_splits(c->in, c->len, false);
	rt_check_splits(c->in, c->len, true);
	assert_int_equal(rt_base.off, c->used);
}

static void
test_invalid_table(void **state)
{
	(void)state;
	rt_case = "invalid_cases";
	for (size_t i = 0; i < nitems(invalid_cases); i++) {
		rt_case_idx = i;
		check_invalid(&invalid_cases[i]);
	}
	rt_case = NULL;
}

/* Each single byte as the whole text: kept if printable, else '?'. */
static void
test_every_text_byte(void **state)
{
	struct reply_parser p;
	struct smtp_reply r;
	size_t used;

	(void)state;
	for (int b = 0; b < 256; b++) {
		char in[] = "250 ?\r\n";
		char want[2] = {(char)b, '\0'};

		in[4] = (char)b;
		if (b == '\n')
			continue; /* ends the line: "250 " then "\r\n" */
		if (b == '\t')
			want[0] = ' ';
		else if (b < 0x20 || b >= 0x7f)
			want[0] = '?';
		reply_parser_init(&p, 0, 0);
		assert_int_equal(reply_parse(&p, S(in), &used, &r), 1);
		assert_int_equal(used, sizeof(in) - 1);
		assert_string_equal(r.text, want);
	}
}

/* ---- EHLO capabilities ---- */

struct ehlo_case {
	const char *in;
	size_t len;
	uint32_t flags;
	uint32_t auth;
	uint64_t size_max;
	unsigned auth_other;
	unsigned unknown;
};

#define POSTFIX_EHLO                                                           \
	"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"        \
	"250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n"                             \
	"250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"               \
	"250-SMTPUTF8\r\n250 CHUNKING\r\n"

static const struct ehlo_case ehlo_cases[] = {
    {S(POSTFIX_EHLO),
     F(PIPELINING) | F(SIZE) | F(STARTTLS) | F(ENHANCEDSTATUSCODES) |
	 F(8BITMIME) | F(DSN) | F(SMTPUTF8) | F(CHUNKING),
     0, 10240000, 0, 2},
    /* smtp-sink: an empty final keyword line */
    {S("250-sink.example\r\n250-8BITMIME\r\n250 \r\n"), F(8BITMIME), 0, 0, 0,
     0},
    {S("250-h\r\n250-PIPELINING\r\n250\r\n"), F(PIPELINING), 0, 0, 0, 0},
    {S("250 \r\n"), 0, 0, 0, 0, 0},
    {S("250 mx.example\r\n"), 0, 0, 0, 0, 0},
    /* the first line names the server, it is no capability */
    {S("250 STARTTLS\r\n"), 0, 0, 0, 0, 0},
    {S("250-PIPELINING\r\n250 STARTTLS\r\n"), F(STARTTLS), 0, 0, 0, 0},
    {S("250-h\r\n250-\r\n250 STARTTLS\r\n"), F(STARTTLS), 0, 0, 0, 0},
    {S("250-h\r\n250-DSN\r\n250-BINARYMIME\r\n250 CHUNKING\r\n"),
     F(DSN) | F(BINARYMIME) | F(CHUNKING), 0, 0, 0, 0},
    {S("250-h\n250-8BITMIME\n250 SMTPUTF8\n"), F(8BITMIME) | F(SMTPUTF8), 0, 0,
     0, 0},
    /* case-insensitive keywords and parameters */
    {S("250-h\r\n250-pipelining\r\n250-StartTLS\r\n250 size 42\r\n"),
     F(PIPELINING) | F(STARTTLS) | F(SIZE), 0, 42, 0, 0},
    /* SIZE */
    {S("250-h\r\n250 SIZE\r\n"), F(SIZE), 0, 0, 0, 0},
    {S("250-h\r\n250 SIZE 0\r\n"), F(SIZE), 0, 0, 0, 0},
    {S("250-h\r\n250 SIZE abc\r\n"), F(SIZE), 0, 0, 0, 0},
    {S("250-h\r\n250 SIZE 12x\r\n"), F(SIZE), 0, 0, 0, 0},
    {S("250-h\r\n250 SIZE -1\r\n"), F(SIZE), 0, 0, 0, 0},
    {S("250-h\r\n250 SIZE 99999999999999999999\r\n"), F(SIZE), 0, 0, 0, 0},
    {S("250-h\r\n250 SIZE 18446744073709551615\r\n"), F(SIZE), 0, UINT64_MAX, 0,
     0},
    {S("250-h\r\n250 SIZE 18446744073709551616\r\n"), F(SIZE), 0, 0, 0, 0},
    {S("250-h\r\n250 SIZE 1000 2000\r\n"), F(SIZE), 0, 1000, 0, 0},
    {S("250-h\r\n250 SIZE=5000\r\n"), F(SIZE), 0, 5000, 0, 0},
    {S("250-h\r\n250 SIZE\t35882577\r\n"), F(SIZE), 0, 35882577, 0, 0},
    {S("250-h\r\n250 SIZE   7  \r\n"), F(SIZE), 0, 7, 0, 0},
    {S("250-h\r\n250-SIZE 100\r\n250 SIZE abc\r\n"), F(SIZE), 0, 100, 0, 0},
    {S("250-h\r\n250 SIZE 000000000000000000000000000000001\r\n"), F(SIZE), 0,
     0, 0, 0},
    {S("250-h\r\n250 SIZE 00000000000000000000000000000042\r\n"), F(SIZE), 0,
     42, 0, 0},
    /* AUTH */
    {S("250-h\r\n250 AUTH PLAIN LOGIN XOAUTH2 GSSAPI\r\n"), F(AUTH),
     A(PLAIN) | A(LOGIN) | A(XOAUTH2), 0, 1, 0},
    {S("250-h\r\n250-AUTH=LOGIN PLAIN\r\n250 AUTH\r\n"), F(AUTH),
     A(LOGIN) | A(PLAIN), 0, 0, 0},
    {S("250-h\r\n250 auth plain cram-md5 OAuthBearer\r\n"), F(AUTH),
     A(PLAIN) | A(CRAM_MD5) | A(OAUTHBEARER), 0, 0, 0},
    {S("250-h\r\n250 AUTH PLAINX PLAI SCRAM-SHA-256-PLUS-AND-MORE-BYTES\r\n"),
     F(AUTH), 0, 0, 3, 0},
    {S("250-h\r\n250-AUTH\r\n250 PLAIN\r\n"), F(AUTH), 0, 0, 0, 1},
    /* unknown, too long or invalid keywords */
    {S("250-h\r\n250-VRFY\r\n250-X-EXPS GSSAPI\r\n250 XCLIENT NAME\r\n"), 0, 0,
     0, 0, 3},
    {S("250-h\r\n250 STARTTLSSTARTTLSSTARTTLSSTARTTLSSTARTTLS\r\n"), 0, 0, 0, 0,
     1},
    {S("250-h\r\n250 ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\r\n"), 0, 0, 0, 0, 1},
    {S("250-h\r\n250-PIPE_LINING\r\n250-START\0TLS\r\n250 -STARTTLS\r\n"), 0, 0,
     0, 0, 3},
    {S("250-h\r\n250-STARTTLS\rX\r\n250 ok\r\n"), 0, 0, 0, 0, 2},
    {S("250-h\r\n250-STARTTLS\r\r\n250 ok\r\n"), 0, 0, 0, 0, 2},
    {S("250-h\r\n250-ST\xc3\xa9RTTLS\r\n250 8bitmime\r\n"), F(8BITMIME), 0, 0,
     0, 1},
    /* separators */
    {S("250-h\r\n250-   PIPELINING\r\n250 CHUNKING  \r\n"),
     F(PIPELINING) | F(CHUNKING), 0, 0, 0, 0},
    {S("250-h\r\n250-PIPELINING extra words\r\n250 DSN\r\n"),
     F(PIPELINING) | F(DSN), 0, 0, 0, 0},
    /* not a 250: nothing is filled */
    {S("550 5.7.1 go away\r\n"), 0, 0, 0, 0, 0},
    {S("502-h\r\n502 PIPELINING\r\n"), 0, 0, 0, 0, 0},
    {S("220-h\r\n220 STARTTLS\r\n"), 0, 0, 0, 0, 0},
    {S("421-h\r\n421 STARTTLS\r\n"), 0, 0, 0, 0, 0},
};

static void
check_ehlo(const struct ehlo_case *c)
{
	struct reply_parser p;
	struct reply_caps caps;
	struct smtp_reply r;
	size_t used;

	memset(&caps, 0xff, sizeof(caps));
	reply_parser_init(&p, 0, 0);
	reply_parser_want_ehlo(&p, &caps);
	assert_int_equal(reply_parse(&p, c->in, c->len, &used, &r), 1);
	assert_int_equal(used, c->len);
	assert_int_equal(caps.flags, c->flags);
	assert_int_equal(caps.auth, c->auth);
	assert_int_equal(caps.size_max, c->size_max);
	assert_int_equal(caps.auth_other, c->auth_other);
	assert_int_equal(caps.unknown, c->unknown);
	rt_check_splits(c->in, c->len, true);
}

static void
test_ehlo_table(void **state)
{
	(void)state;
	rt_case = "ehlo_cases";
	for (size_t i = 0; i < nitems(ehlo_cases); i++) {
		rt_case_idx = i;
		check_ehlo(&ehlo_cases[i]);
	}
	rt_case = NULL;
}

/* The request covers one reply; a reset or a reply in progress delay it. */
static void
test_ehlo_one_shot(void **state)
{
	struct reply_parser p;
	struct reply_caps caps;
	struct smtp_reply r;
	size_t used;

	(void)state;
	reply_parser_init(&p, 0, 0);
	reply_parser_want_ehlo(&p, &caps);
	assert_int_equal(reply_parse(&p, S("250-h\r\n250 DSN\r\n"), &used, &r),
			 1);
	assert_int_equal(caps.flags, F(DSN));
	assert_int_equal(
	    reply_parse(&p, S("250-h\r\n250 STARTTLS\r\n"), &used, &r), 1);
	assert_int_equal(caps.flags, F(DSN));

	/* asked in the middle of a reply: applies to the next one */
	assert_int_equal(reply_parse(&p, S("250-h\r\n"), &used, &r), 0);
	reply_parser_want_ehlo(&p, &caps);
	assert_int_equal(reply_parse(&p, S("250 PIPELINING\r\n"), &used, &r),
			 1);
	assert_int_equal(caps.flags, 0);
	assert_int_equal(
	    reply_parse(&p, S("250-h\r\n250 STARTTLS\r\n"), &used, &r), 1);
	assert_int_equal(caps.flags, F(STARTTLS));

	/* a reset drops the request */
	reply_parser_want_ehlo(&p, &caps);
	reply_parser_reset(&p);
	assert_int_equal(reply_parse(&p, S("250-h\r\n250 DSN\r\n"), &used, &r),
			 1);
	assert_int_equal(caps.flags, 0);
}

/* Capabilities are read from every line even when the text is cut. */
static void
test_ehlo_despite_truncation(void **state)
{
	char in[12 * 620];
	size_t len = 0, used;
	struct reply_parser p;
	struct reply_caps caps;
	struct smtp_reply r;

	(void)state;
	len += (size_t)sprintf(in, "250-mx.example\r\n");
	for (int i = 0; i < 10; i++) {
		len += (size_t)sprintf(in + len, "250-X%d ", i);
		memset(in + len, 'v', 600);
		len += 600;
		len += (size_t)sprintf(in + len, "\r\n");
	}
	len += (size_t)sprintf(in + len, "250-SIZE 77\r\n250 STARTTLS\r\n");
	reply_parser_init(&p, 0, 0);
	reply_parser_want_ehlo(&p, &caps);
	assert_int_equal(reply_parse(&p, in, len, &used, &r), 1);
	assert_int_equal(used, len);
	assert_true(r.truncated);
	assert_null(strstr(r.text, "STARTTLS"));
	assert_int_equal(caps.flags, F(STARTTLS) | F(SIZE));
	assert_int_equal(caps.size_max, 77);
	assert_int_equal(caps.unknown, 10);
}

/* ---- strings and helpers ---- */

static void
test_caps_str(void **state)
{
	struct reply_caps c;
	char buf[REPLY_CAPS_STR_MAX];
	char small[6];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_string_equal(reply_caps_str(&c, buf, sizeof(buf)), "none");
	c.flags = F(PIPELINING) | F(STARTTLS) | F(SIZE);
	assert_string_equal(reply_caps_str(&c, buf, sizeof(buf)),
			    "PIPELINING STARTTLS SIZE");
	c.size_max = 1000;
	c.flags |= F(AUTH);
	assert_string_equal(reply_caps_str(&c, buf, sizeof(buf)),
			    "PIPELINING STARTTLS SIZE=1000 AUTH");
	c.auth = A(PLAIN) | A(LOGIN);
	c.auth_other = 2;
	c.unknown = 3;
	assert_string_equal(
	    reply_caps_str(&c, buf, sizeof(buf)),
	    "PIPELINING STARTTLS SIZE=1000 AUTH=PLAIN,LOGIN,+2 unknown=3");
	c.auth = 0;
	assert_string_equal(reply_caps_str(&c, buf, sizeof(buf)),
			    "PIPELINING STARTTLS SIZE=1000 AUTH=+2 unknown=3");
	memset(&c, 0, sizeof(c));
	c.unknown = 1;
	assert_string_equal(reply_caps_str(&c, buf, sizeof(buf)), "unknown=1");
	/* cut, never overflowed */
	c.flags = F(PIPELINING);
	memset(small, 'Z', sizeof(small));
	assert_string_equal(reply_caps_str(&c, small, sizeof(small)), "PIPEL");
	assert_string_equal(reply_caps_str(&c, small, 1), "");
	/* the worst case fits REPLY_CAPS_STR_MAX */
	c.flags = (1u << REPLY_CAP__COUNT) - 1;
	c.auth = (1u << REPLY_AUTH__COUNT) - 1;
	c.auth_other = UINT_MAX;
	c.unknown = UINT_MAX;
	c.size_max = UINT64_MAX;
	reply_caps_str(&c, buf, sizeof(buf));
	assert_true(strlen(buf) < sizeof(buf) - 1);
	assert_non_null(strstr(buf, "unknown=4294967295"));
	assert_non_null(strstr(buf, "SIZE=18446744073709551615"));
	assert_non_null(strstr(buf, "AUTH=PLAIN,LOGIN,CRAM-MD5,XOAUTH2,"
				    "OAUTHBEARER,+4294967295"));
}

typedef const char *str_fn(int);

static void
check_str_table(str_fn *fn, int count)
{
	for (int i = 0; i < count; i++) {
		assert_non_null(fn(i));
		assert_string_not_equal(fn(i), "?");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(fn(i), fn(j));
	}
	assert_string_equal(fn(count), "?");
	assert_string_equal(fn(-1), "?");
}

static const char *
str_err(int v)
{
	return reply_err_str((enum reply_err)v);
}

static const char *
str_state(int v)
{
	return reply_state_str((enum reply_state)v);
}

static const char *
str_cap(int v)
{
	return reply_cap_str((enum reply_cap)v);
}

static const char *
str_auth(int v)
{
	return reply_auth_str((enum reply_auth)v);
}

static void
test_str_tables(void **state)
{
	(void)state;
	check_str_table(str_err, REPLY_ERR__COUNT);
	check_str_table(str_state, REPLY_S__COUNT);
	check_str_table(str_cap, REPLY_CAP__COUNT);
	check_str_table(str_auth, REPLY_AUTH__COUNT);
	assert_string_equal(reply_cap_str(REPLY_CAP_STARTTLS), "STARTTLS");
	assert_string_equal(reply_auth_str(REPLY_AUTH_CRAM_MD5), "CRAM-MD5");
}

static void
test_reply_class(void **state)
{
	static const struct {
		int code, class;
	} cases[] = {
	    {199, 0}, {200, 2}, {250, 2}, {299, 2}, {354, 3},  {421, 4},
	    {550, 5}, {599, 5}, {600, 0}, {0, 0},   {-250, 0},
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++)
		assert_int_equal(reply_class(cases[i].code), cases[i].class);
}

static void
test_idle_and_reset(void **state)
{
	struct reply_parser p;
	struct smtp_reply r;
	size_t used;

	(void)state;
	reply_parser_init(&p, 0, 0);
	assert_true(reply_parser_idle(&p));
	assert_int_equal(reply_parser_error(&p), REPLY_ERR_NONE);
	assert_int_equal(reply_parse(&p, "2", 1, &used, &r), 0);
	assert_false(reply_parser_idle(&p));
	reply_parser_reset(&p);
	assert_true(reply_parser_idle(&p));
	assert_int_equal(reply_parse(&p, S("x"), &used, &r), -EBADMSG);
	assert_false(reply_parser_idle(&p));
	reply_parser_reset(&p);
	assert_int_equal(reply_parser_error(&p), REPLY_ERR_NONE);
	assert_int_equal(reply_parse(&p, S("220 hi\r\n"), &used, &r), 1);
	assert_string_equal(r.text, "hi");
	/* reset keeps the configured caps */
	reply_parser_init(&p, 600, 1000);
	reply_parser_reset(&p);
	assert_int_equal(reply_parse(&p, S("250-"), &used, &r), 0);
	{
		char big[1000];

		memset(big, 'x', sizeof(big));
		assert_int_equal(reply_parse(&p, big, sizeof(big), &used, &r),
				 -EMSGSIZE);
		assert_int_equal(used, 597);
		assert_int_equal(reply_parser_error(&p),
				 REPLY_ERR_LINE_TOO_LONG);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    RT_TEST(test_valid_table),
	    RT_TEST(test_pipelined_all),
	    RT_TEST(test_pipelined_partial),
	    RT_TEST(test_invalid_table),
	    RT_TEST(test_every_text_byte),
	    RT_TEST(test_ehlo_table),
	    RT_TEST(test_ehlo_one_shot),
	    RT_TEST(test_ehlo_despite_truncation),
	    RT_TEST(test_caps_str),
	    RT_TEST(test_str_tables),
	    RT_TEST(test_reply_class),
	    RT_TEST(test_idle_and_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
