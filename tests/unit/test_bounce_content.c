/* SPDX-License-Identifier: MIT */
/*
 * test_bounce_content: what a DSN carries, each DSN validated by Python's
 * email package (bounce_fixture.h): the original message (RET=FULL/HDRS/
 * none, big originals cut to size, the streamed reader, the canonical
 * form), hostile diagnostic text and addresses, SMTPUTF8 and boundary
 * collisions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bounce.h"
#include "bounce_fixture.h"

/* ---- the original message: size, reader, canonical form ---------------- */

static void
test_big_original(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out out;
	struct bfx_py_out *py;
	size_t n = 300 * 1024;
	char *big = malloc(n);

	(void)state;
	memcpy(big, bfx_orig, bfx_orig_len);
	memset(big + bfx_orig_len, 'x', n - (bfx_orig_len + 1) + 1);
	for (size_t i = (bfx_orig_len + 1) + 70; i < n; i += 72)
		memcpy(big + i - 2, "\r\n", 2);
	bfx_in_init(&in, &r, 1);
	in.orig = big;
	in.orig_len = n;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY | BOUNCE_OUT_TOO_BIG);
	assert_true(out.len < 8 * 1024);
	py = bfx_py_check(&out);
	bfx_py_eq(py, "parts",
		  "text/plain,message/delivery-status,text/rfc822-headers");
	assert_non_null(
	    strstr(bfx_py_get(py, "text"), "larger than 102400 bytes"));
	free(py);
	bounce_out_fini(&out);

	/* The same size is fine under a bigger limit; 1 byte over is not. */
	in.max_body = n;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, 0);
	assert_true(out.len > n);
	bounce_out_fini(&out);
	in.max_body = n - 1;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY | BOUNCE_OUT_TOO_BIG);
	bounce_out_fini(&out);
	free(big);
}

struct test_reader {
	const char *p;
	size_t len, chunk;
	int fail_at; /* call number that fails, 0: none */
	int calls;
};

static ssize_t
test_read(void *arg, uint64_t off, char *buf, size_t len)
{
	struct test_reader *t = arg;
	size_t n;

	if (++t->calls == t->fail_at)
		return -EIO;
	if (off >= t->len)
		return 0;
	n = MIN(MIN(len, t->chunk), t->len - off);
	memcpy(buf, t->p + off, n);
	return (ssize_t)n;
}

static void
test_reader(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct test_reader t = {bfx_orig, bfx_orig_len, 7, 0, 0};
	struct bounce_in in;
	struct bounce_out out, ref;
	struct bfx_py_out *py;

	(void)state;
	bfx_in_init(&in, &r, 1);
	assert_int_equal(bounce_build(&in, &ref), 0);
	in.orig = NULL;
	in.orig_read = test_read;
	in.orig_arg = &t;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.len, ref.len);
	assert_memory_equal(out.msg, ref.msg, ref.len);
	py = bfx_py_check(&out);
	bfx_py_eq(py, "orig.subject", "lunch");
	free(py);
	bounce_out_fini(&out);

	/* Headers only through the reader: it is not read to the end. */
	t.calls = 0;
	in.kind = BOUNCE_DELAYED;
	in.max_headers = 55;
	t.chunk = 1;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY | BOUNCE_OUT_HDRS_CUT);
	assert_int_equal(t.calls, 57); /* max_headers + 2 */
	assert_non_null(strstr(out.msg, "To: bob@b.example\r\n\r\n--"));
	assert_null(strstr(out.msg, "Subject: lunch"));
	bounce_out_fini(&out);

	/* Bare LFs grow the header section past the cap with no more input. */
	in.orig_read = NULL;
	in.orig = "A: 1\nB: 2\nC: 3\nD: 45\n";
	in.orig_len = 21;
	in.max_headers = 20;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY | BOUNCE_OUT_HDRS_CUT);
	assert_non_null(strstr(out.msg, "C: 3\r\n\r\n--"));
	assert_null(strstr(out.msg, "D: 4"));
	bounce_out_fini(&out);
	in.orig_len = 20; /* "D: 45" cut by the caller: not by us */
	in.max_headers = 30;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY);
	assert_non_null(strstr(out.msg, "D: 45\r\n\r\n--"));
	bounce_out_fini(&out);
	in.orig = NULL;
	in.orig_read = test_read;

	/* A read error fails the build and leaks nothing. */
	t.calls = 0;
	t.fail_at = 3;
	assert_int_equal(bounce_build(&in, &out), -EIO);
	assert_null(out.msg);
	bounce_out_fini(&ref);
}

/*
 * bounce_orig_want(): the size per kind, RET and caps; the first want
 * bytes of an original longer than every cap, given as a buffer, give
 * exactly the DSN of the whole original (and of want + 7 bytes).  That
 * the reader is asked for no more is test_reader's max_headers + 2.
 */
static void
test_orig_want(void **state)
{
	static const struct {
		enum bounce_kind kind;
		enum bounce_ret ret;
		size_t max_body, max_headers, want;
	} cases[] = {
	    {BOUNCE_FAILED, BOUNCE_RET_NONE, 300, 100, 302},
	    {BOUNCE_FAILED, BOUNCE_RET_FULL, 50, 100, 102},
	    {BOUNCE_FAILED, BOUNCE_RET_HDRS, 300, 100, 102},
	    {BOUNCE_DELAYED, BOUNCE_RET_FULL, 300, 100, 102},
	    {BOUNCE_DELIVERED, BOUNCE_RET_NONE, 300, 100, 102},
	    {BOUNCE_FAILED, BOUNCE_RET_NONE, 0, 0, BOUNCE_MAX_BODY_DEFAULT + 2},
	    {BOUNCE_DELAYED, BOUNCE_RET_NONE, 0, 0,
	     BOUNCE_MAX_HEADERS_DEFAULT + 2},
	};
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out ref, out;
	char big[1201]; /* 1200 bytes and snprintf's last NUL */

	(void)state;
	/* 20 header lines of 40 bytes, then a body: longer than any cap. */
	for (size_t i = 0; i + 1 < sizeof(big); i += 40)
		snprintf(big + i, 41, "%s%02zu: %-31s\r\n",
			 i < 800 ? "X-H" : "bod", i / 40, "v");
	memcpy(big + 800, "\r\n", 2);
	for (size_t i = 0; i < nitems(cases); i++) {
		bfx_in_init(&in, &r, 1);
		in.kind = cases[i].kind;
		in.ret = cases[i].ret;
		in.max_body = cases[i].max_body;
		in.max_headers = cases[i].max_headers;
		in.orig = big;
		in.orig_len = sizeof(big) - 1;
		assert_int_equal(bounce_orig_want(&in), cases[i].want);
		if (cases[i].want > sizeof(big))
			continue;
		assert_int_equal(bounce_build(&in, &ref), 0);
		in.orig_len = cases[i].want;
		assert_int_equal(bounce_build(&in, &out), 0);
		assert_int_equal(out.len, ref.len);
		assert_memory_equal(out.msg, ref.msg, ref.len);
		bounce_out_fini(&out);
		in.orig_len = cases[i].want + 7;
		assert_int_equal(bounce_build(&in, &out), 0);
		assert_int_equal(out.len, ref.len);
		assert_memory_equal(out.msg, ref.msg, ref.len);
		bounce_out_fini(&out);
		bounce_out_fini(&ref);
	}
}

static void
test_no_original(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out out;
	struct bfx_py_out *py;

	(void)state;
	bfx_in_init(&in, &r, 1);
	in.orig = NULL;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_NO_ORIG);
	py = bfx_py_check(&out);
	bfx_py_eq(py, "parts", "text/plain,message/delivery-status");
	assert_null(strstr(bfx_py_get(py, "text"), "attached"));
	bfx_py_eq(py, "rcpt0.Status", "5.0.0");
	bfx_py_eq(py, "rcpt0.n", "3");
	free(py);
	bounce_out_fini(&out);
}

/* Bare LF and CR, NUL, 8-bit, 3000-byte lines in headers and body. */
static void
test_original_canon(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out out;
	struct bfx_py_out *py;
	char orig[8192];
	size_t n = 0;

	(void)state;
	n += (size_t)sprintf(orig + n, "Subject: x\nX-Long: ");
	memset(orig + n, 'h', 3000);
	n += 3000;
	n += (size_t)sprintf(orig + n, "\rX-Nul: a");
	orig[n++] = '\0';
	n += (size_t)sprintf(orig + n, "b\r\n\nbody\xe9\n");
	memset(orig + n, 'b', 3000);
	n += 3000;
	bfx_in_init(&in, &r, 1);
	in.orig = orig;
	in.orig_len = n;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_8BIT);
	py = bfx_py_check(&out);
	bfx_py_eq(py, "orig.subject", "x");
	assert_non_null(strstr(out.msg, "X-Nul: a?b\r\n\r\nbody\xe9\r\n"));
	assert_non_null(strstr(out.msg, "Content-Transfer-Encoding: 8bit\r\n"
					"\r\nSubject: x\r\nX-Long: hhh"));
	free(py);
	bounce_out_fini(&out);

	/* Headers only: the long header is folded, never cut mid-way. */
	in.ret = BOUNCE_RET_HDRS;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY);
	py = bfx_py_check(&out);
	assert_non_null(strstr(out.msg, "hhh\r\n hhh"));
	assert_null(strstr(out.msg, "body"));
	free(py);
	bounce_out_fini(&out);
}

/* ---- hostile input --------------------------------------------------------
 */

static void
test_hostile_diag(void **state)
{
	static const char d1[] = "550 5.1.1 no\r\nSubject: x\r\n\r\nBcc: e@x";
	static const char d2[] = "550\0hidden\t\xff\xfe tail  ";
	static char d3[10 * 1024];
	struct bounce_rcpt r[4] = {
	    {.addr = "a@b.example", .diag = d1, .diag_len = sizeof(d1) - 1},
	    {.addr = "c@b.example", .diag = d2, .diag_len = sizeof(d2) - 1},
	    {.addr = "d@b.example", .diag = d3, .diag_len = sizeof(d3)},
	    {.addr = "e@b.example",
	     .diag = "",
	     .diag_len = 0,
	     .diag_type = "x-local\r\nX: y"},
	};
	struct bounce_in in;
	struct bounce_out out;
	struct bfx_py_out *py;
	const char *v;

	(void)state;
	for (size_t i = 0; i < sizeof(d3); i++)
		d3[i] = (char)(i > 2000 && i % 97 == 0 ? ' ' : 'a' + i % 26);
	bfx_in_init(&in, r, 4);
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, 0);
	py = bfx_py_check(&out);
	bfx_py_eq(py, "subject", "Undelivered Mail Returned to Sender");
	bfx_py_eq(py, "rcpt0.Diagnostic-Code",
		  "smtp; 550 5.1.1 no Subject: x Bcc: e@x");
	bfx_py_eq(py, "rcpt1.Diagnostic-Code", "smtp; 550 hidden ?? tail");
	v = bfx_py_get(py, "rcpt2.Diagnostic-Code");
	assert_true(strlen(v) <= BOUNCE_DIAG_MAX + 6 + 20);
	assert_true(strlen(v) > BOUNCE_DIAG_MAX - 100);
	assert_non_null(strstr(v, "..."));
	bfx_py_eq(py, "rcpt3.Diagnostic-Code", "x-local??X:?y;");
	for (int i = 0; i < 4; i++) {
		char key[32];

		snprintf(key, sizeof(key), "rcpt%d.n", i);
		bfx_py_eq(py, key, "4");
	}
	assert_non_null(strstr(bfx_py_get(py, "text"),
			       "Reason: 550 5.1.1 no Subject: x Bcc: e@x"));
	free(py);
	bounce_out_fini(&out);
}

/* A diagnostic (or original) holding the boundary forces another one. */
static void
test_boundary_collision(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out out;
	struct bfx_py_out *py;
	char first[64], *orig;
	size_t on, cap = (bfx_orig_len + 1) + 64 * (BOUNCE_BOUNDARY_TRIES + 1);
	int rc = 0, rounds = 0;

	(void)state;
	bfx_in_init(&in, &r, 1);
	assert_int_equal(bounce_build(&in, &out), 0);
	strcpy(first, out.boundary);
	bounce_out_fini(&out);

	/* The same boundary in the original (upper case): another one. */
	orig = malloc(cap);
	snprintf(orig, cap, "%s\r\n--%s--\r\n", bfx_orig, first);
	for (char *p = orig + (bfx_orig_len + 1); *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
	in.orig = orig;
	in.orig_len = strlen(orig);
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_string_not_equal(out.boundary, first);
	py = bfx_py_check(&out);
	bfx_py_eq(py, "parts",
		  "text/plain,message/delivery-status,message/rfc822");
	free(py);
	bounce_out_fini(&out);

	/* Each drawn boundary appended to the original: all tries fail. */
	on = (size_t)sprintf(orig, "%s", bfx_orig);
	for (;;) {
		in.orig_len = on;
		rc = bounce_build(&in, &out);
		if (rc < 0)
			break;
		rounds++;
		on += (size_t)sprintf(orig + on, "--%s\r\n", out.boundary);
		bounce_out_fini(&out);
		assert_true(rounds <= BOUNCE_BOUNDARY_TRIES);
	}
	assert_int_equal(rc, -EEXIST);
	assert_int_equal(rounds, BOUNCE_BOUNDARY_TRIES);
	assert_null(out.msg);
	/* A new seed gets through. */
	in.seed = (const uint8_t *)"another seed";
	in.seed_len = 12;
	assert_int_equal(bounce_build(&in, &out), 0);
	bounce_out_fini(&out);
	free(orig);
}

static void
test_hostile_addresses(void **state)
{
	struct bounce_rcpt r[2] = {
	    {.addr = "x@b.example\r\nBcc: evil@x", .orcpt = "rfc822;o\n@x"},
	    {.addr = "\xc3\xa9t\xe9@b.example", .orcpt = "no-semicolon@x"},
	};
	struct bounce_in in;
	struct bounce_out out;
	struct bfx_py_out *py;

	(void)state;
	bfx_in_init(&in, r, 2);
	in.sender = "s@a.example>\r\nBcc: evil@x";
	in.reporting_mta = "mta.example\r\nX-Evil: 1";
	in.envid = "E\r\nX: y";
	in.queue_id = "Q 1\n";
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_string_equal(out.env_rcpt, in.sender);
	assert_int_equal(out.flags, 0);
	py = bfx_py_check(&out);
	bfx_py_eq(py, "msg.Reporting-MTA", "dns; mta.example??X-Evil:?1");
	bfx_py_eq(py, "msg.Original-Envelope-Id", "E X: y");
	bfx_py_eq(py, "msg.X-Ringmta-Queue-ID", "Q?1?");
	bfx_py_eq(py, "rcpt0.Final-Recipient",
		  "rfc822; x@b.example??Bcc: evil@x");
	bfx_py_eq(py, "rcpt0.Original-Recipient", "rfc822; o?@x");
	bfx_py_eq(py, "rcpt1.Final-Recipient", "rfc822; ??t?@b.example");
	bfx_py_eq(py, "rcpt1.Original-Recipient", "rfc822; no-semicolon@x");
	free(py);
	bounce_out_fini(&out);
}

/* SMTPUTF8: UTF-8 addresses kept (bad UTF-8 still '?'), global types. */
static void
test_smtputf8(void **state)
{
	static const char orig[] = "Subject: caf\xc3\xa9\r\n\r\nok\r\n";
	struct bounce_rcpt r[2] = {
	    {.addr = "\xc3\xa9t\xc3\xa9@b.example"},
	    {.addr = "a\xe9\xc2\x85@b.example"},
	};
	struct bounce_in in;
	struct bounce_out out;
	struct bfx_py_out *py;

	(void)state;
	bfx_in_init(&in, r, 2);
	in.flags = BOUNCE_F_SMTPUTF8;
	in.sender = "\xd0\xb4@a.example";
	in.orig = orig;
	in.orig_len = sizeof(orig) - 1;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_SMTPUTF8 | BOUNCE_OUT_8BIT);
	py = bfx_py_check(&out);
	bfx_py_eq(py, "parts",
		  "text/plain,message/global-delivery-status,"
		  "message/global");
	bfx_py_eq(py, "to", "\xd0\xb4@a.example");
	free(py);
	assert_non_null(strstr(out.msg, "Final-Recipient: utf-8; "
					"\xc3\xa9t\xc3\xa9@b.example\r\n"));
	assert_non_null(strstr(out.msg, "Final-Recipient: rfc822; "
					"a???@b.example\r\n"));
	assert_non_null(strstr(out.msg, "charset=utf-8"));
	bounce_out_fini(&out);

	/* ASCII-only content under SMTPUTF8 stays plain 7bit. */
	in.sender = "s@a.example";
	r[0].addr = "x@b.example";
	r[1].addr = "y@b.example";
	in.orig = bfx_orig;
	in.orig_len = bfx_orig_len;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, 0);
	assert_non_null(strstr(out.msg, "Content-Transfer-Encoding: 7bit"));
	bounce_out_fini(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_big_original),
	    cmocka_unit_test(test_reader),
	    cmocka_unit_test(test_orig_want),
	    cmocka_unit_test(test_no_original),
	    cmocka_unit_test(test_original_canon),
	    cmocka_unit_test(test_hostile_diag),
	    cmocka_unit_test(test_boundary_collision),
	    cmocka_unit_test(test_hostile_addresses),
	    cmocka_unit_test(test_smtputf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
