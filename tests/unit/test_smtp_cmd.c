/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_cmd: table-driven command formatting, xtext in ENVID/ORCPT,
 * injection attempts (CR, LF, NUL, controls, brackets) refused, the line
 * caps, and a too-small buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "smtp_cmd.h"

struct mail_case {
	struct smtpcmd_mail m;
	int rc;
	const char *want;
};

static void
test_mail_table(void **state)
{
	static const struct mail_case cases[] = {
	    {{.from = "a@b.example"}, 0, "MAIL FROM:<a@b.example>\r\n"},
	    {{.from = ""}, 0, "MAIL FROM:<>\r\n"},
	    {{.from = "a@b", .size = 1234, .body = SMTPCMD_BODY_8BITMIME},
	     0,
	     "MAIL FROM:<a@b> SIZE=1234 BODY=8BITMIME\r\n"},
	    {{.from = "a@b", .body = SMTPCMD_BODY_7BIT},
	     0,
	     "MAIL FROM:<a@b> BODY=7BIT\r\n"},
	    {{.from = "\xc3\xa9@b", .smtputf8 = true},
	     0,
	     "MAIL FROM:<\xc3\xa9@b> SMTPUTF8\r\n"},
	    {{.from = "a@b", .ret = SMTPCMD_RET_HDRS, .envid = "id+1= x"},
	     0,
	     "MAIL FROM:<a@b> RET=HDRS ENVID=id+2B1+3D+20x\r\n"},
	    {{.from = "a@b", .ret = SMTPCMD_RET_FULL},
	     0,
	     "MAIL FROM:<a@b> RET=FULL\r\n"},
	    {{.from = "\"john doe\"@b"}, 0, "MAIL FROM:<\"john doe\"@b>\r\n"},
	    /* injection and syntax breakers */
	    {{.from = "a@b>\r\nRCPT TO:<x@y"}, -EINVAL, NULL},
	    {{.from = "a@b\n"}, -EINVAL, NULL},
	    {{.from = "a@b\r"}, -EINVAL, NULL},
	    {{.from = "a\x7f@b"}, -EINVAL, NULL},
	    {{.from = "a@b\t"}, -EINVAL, NULL},
	    {{.from = "a b@c"}, -EINVAL, NULL},
	    {{.from = "a>@c"}, -EINVAL, NULL},
	    {{.from = "a<@c"}, -EINVAL, NULL},
	    {{.from = "\"unterminated@c"}, -EINVAL, NULL},
	    {{.from = "\xc3\xa9@b"}, -EINVAL, NULL},
	    {{.from = NULL}, -EINVAL, NULL},
	    {{.from = "a@b", .envid = ""}, -EINVAL, NULL},
	    {{.from = "a@b", .body = SMTPCMD_BODY__COUNT}, -EINVAL, NULL},
	    {{.from = "a@b", .ret = SMTPCMD_RET__COUNT}, -EINVAL, NULL},
	};
	char buf[SMTPCMD_BUF_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = 0;
		int rc = smtpcmd_mail(buf, sizeof(buf), &cases[i].m, &len);

		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d want %d", i, rc, cases[i].rc);
		if (rc == 0) {
			assert_int_equal(len, strlen(cases[i].want));
			assert_memory_equal(buf, cases[i].want, len);
		}
	}
}

struct rcpt_case {
	struct smtpcmd_rcpt r;
	int rc;
	const char *want;
};

static void
test_rcpt_table(void **state)
{
	static const struct rcpt_case cases[] = {
	    {{.to = "x@y"}, 0, "RCPT TO:<x@y>\r\n"},
	    {{.to = "x@y", .notify = SMTPCMD_NOTIFY_NEVER},
	     0,
	     "RCPT TO:<x@y> NOTIFY=NEVER\r\n"},
	    {{.to = "x@y",
	      .notify = SMTPCMD_NOTIFY_SUCCESS | SMTPCMD_NOTIFY_FAILURE |
			SMTPCMD_NOTIFY_DELAY},
	     0,
	     "RCPT TO:<x@y> NOTIFY=SUCCESS,FAILURE,DELAY\r\n"},
	    {{.to = "x@y", .orcpt = "o+r=ig@y"},
	     0,
	     "RCPT TO:<x@y> ORCPT=rfc822;o+2Br+3Dig@y\r\n"},
	    {{.to = "x@y", .orcpt = "a\r\nb"},
	     0,
	     "RCPT TO:<x@y> ORCPT=rfc822;a+0D+0Ab\r\n"},
	    {{.to = "\xc3\xa9@y", .utf8 = true}, 0, "RCPT TO:<\xc3\xa9@y>\r\n"},
	    {{.to = "\xc3\xa9@y"}, -EINVAL, NULL},
	    {{.to = ""}, -EINVAL, NULL},
	    {{.to = NULL}, -EINVAL, NULL},
	    {{.to = "x@y\r\nDATA"}, -EINVAL, NULL},
	    {{.to = "x@y\0hidden"}, 0, "RCPT TO:<x@y>\r\n"},
	    {{.to = "x@y",
	      .notify = SMTPCMD_NOTIFY_NEVER | SMTPCMD_NOTIFY_SUCCESS},
	     -EINVAL,
	     NULL},
	    {{.to = "x@y", .notify = 1u << 4}, -EINVAL, NULL},
	    {{.to = "x@y", .orcpt = ""}, -EINVAL, NULL},
	};
	char buf[SMTPCMD_BUF_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = 0;
		int rc = smtpcmd_rcpt(buf, sizeof(buf), &cases[i].r, &len);

		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d want %d", i, rc, cases[i].rc);
		if (rc == 0) {
			assert_int_equal(len, strlen(cases[i].want));
			assert_memory_equal(buf, cases[i].want, len);
		}
	}
}

static void
test_helo_and_simple(void **state)
{
	char buf[64];
	size_t len;

	(void)state;
	assert_int_equal(smtpcmd_helo(buf, sizeof(buf), true, "mx.a", &len), 0);
	assert_memory_equal(buf, "EHLO mx.a\r\n", len);
	assert_int_equal(len, 11);
	assert_int_equal(smtpcmd_helo(buf, sizeof(buf), false, "mx.a", &len),
			 0);
	assert_memory_equal(buf, "HELO mx.a\r\n", len);
	assert_int_equal(smtpcmd_helo(buf, sizeof(buf), true, "", &len),
			 -EINVAL);
	assert_int_equal(smtpcmd_helo(buf, sizeof(buf), true, NULL, &len),
			 -EINVAL);
	assert_int_equal(
	    smtpcmd_helo(buf, sizeof(buf), true, "a\r\nMAIL", &len), -EINVAL);
	assert_int_equal(smtpcmd_helo(buf, sizeof(buf), true, "a b", &len),
			 -EINVAL);
	assert_int_equal(smtpcmd_helo(buf, sizeof(buf), true, "\xc3\xa9", &len),
			 -EINVAL);
	static const char *const want[] = {"DATA\r\n", "RSET\r\n", "QUIT\r\n",
					   "NOOP\r\n", "STARTTLS\r\n"};
	for (unsigned v = 0; v < SMTPCMD__COUNT; v++) {
		assert_int_equal(smtpcmd_simple(buf, sizeof(buf), v, &len), 0);
		assert_int_equal(len, strlen(want[v]));
		assert_memory_equal(buf, want[v], len);
	}
	assert_int_equal(smtpcmd_simple(buf, sizeof(buf), SMTPCMD__COUNT, &len),
			 -EINVAL);
	assert_int_equal(smtpcmd_simple(buf, 5, SMTPCMD_DATA, &len), -ENOBUFS);
	assert_int_equal(smtpcmd_simple(buf, 6, SMTPCMD_DATA, &len), 0);
}

static void
test_caps_and_buffers(void **state)
{
	char big[2048], buf[SMTPCMD_BUF_MAX];
	struct smtpcmd_mail m = {.from = big};
	struct smtpcmd_rcpt r = {.to = big};
	size_t len;

	(void)state;
	/* An address that fills the line exactly: 512 with CRLF. */
	memset(big, 'a', sizeof(big));
	big[512 - strlen("MAIL FROM:<>\r\n")] = '\0';
	assert_int_equal(smtpcmd_mail(buf, sizeof(buf), &m, &len), 0);
	assert_int_equal(len, 512);
	assert_memory_equal(buf + len - 2, "\r\n", 2);
	/* The MAIL allowance lets parameters exceed 512... */
	m.size = 99999;
	assert_int_equal(smtpcmd_mail(buf, sizeof(buf), &m, &len), 0);
	/* ... but not an address past the cap. */
	memset(big, 'a', sizeof(big));
	big[SMTPCMD_MAIL_MAX] = '\0';
	assert_int_equal(smtpcmd_mail(buf, sizeof(buf), &m, &len), -EMSGSIZE);
	memset(big, 'a', sizeof(big));
	big[SMTPCMD_RCPT_MAX - strlen("RCPT TO:<>\r\n")] = '\0';
	assert_int_equal(smtpcmd_rcpt(buf, sizeof(buf), &r, &len), 0);
	assert_int_equal(len, SMTPCMD_RCPT_MAX);
	big[SMTPCMD_RCPT_MAX - strlen("RCPT TO:<>\r\n")] = 'a';
	big[SMTPCMD_RCPT_MAX] = '\0';
	assert_int_equal(smtpcmd_rcpt(buf, sizeof(buf), &r, &len), -EMSGSIZE);
	/* Too small a buffer for a line within the cap. */
	big[20] = '\0';
	assert_int_equal(smtpcmd_rcpt(buf, 20, &r, &len), -ENOBUFS);
	/* ORCPT past the RFC 3461 bound. */
	r.to = "x@y";
	r.orcpt = big;
	big[20] = 'a';
	big[501] = '\0';
	assert_int_equal(smtpcmd_rcpt(buf, sizeof(buf), &r, &len), -EMSGSIZE);
	/* 8-bit detection. */
	assert_true(smtpcmd_has_8bit("ab\x80", 3));
	assert_false(smtpcmd_has_8bit("ab\x7f", 3));
	assert_string_equal(smtpcmd_verb_str(SMTPCMD__COUNT), "?");
	assert_string_equal(smtpcmd_body_str(SMTPCMD_BODY_8BITMIME),
			    "8BITMIME");
	assert_string_equal(smtpcmd_ret_str(SMTPCMD_RET_HDRS), "HDRS");
}

/* No output of any formatter ever holds CR or LF except the final CRLF. */
static void
test_no_inner_crlf(void **state)
{
	char buf[SMTPCMD_BUF_MAX], addr[8];
	size_t len;

	(void)state;
	for (int c = 0; c < 256; c++) {
		struct smtpcmd_rcpt r = {.to = addr, .utf8 = true};

		if (c == 0)
			continue; /* ends the C string: "a" is valid */
		addr[0] = 'a';
		addr[1] = (char)c;
		addr[2] = '@';
		addr[3] = 'b';
		addr[4] = '\0';
		if (smtpcmd_rcpt(buf, sizeof(buf), &r, &len) < 0)
			continue;
		assert_true(c >= 0x20 && c != 0x7f && c != ' ' && c != '<' &&
			    c != '>' && c != '"');
		assert_null(memchr(buf, '\r', len - 2));
		assert_null(memchr(buf, '\n', len - 2));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mail_table),
	    cmocka_unit_test(test_rcpt_table),
	    cmocka_unit_test(test_helo_and_simple),
	    cmocka_unit_test(test_caps_and_buffers),
	    cmocka_unit_test(test_no_inner_crlf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
