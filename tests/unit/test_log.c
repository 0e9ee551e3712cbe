/* SPDX-License-Identifier: MIT */
/* test_log: level names and parsing, and that peer bytes are sanitised. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void
test_level_parse(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("error"), LOG_ERR);
	assert_int_equal(log_level_parse("err"), LOG_ERR);
	assert_int_equal(log_level_parse("warn"), LOG_WARN);
	assert_int_equal(log_level_parse("trace"), LOG_TRACE);
	assert_int_equal(log_level_parse("loud"), -EINVAL);
	assert_string_equal(log_level_str(LOG_DEBUG), "debug");
}

/* Capture stderr into a pipe while logging one line. */
static void
capture(char *out, size_t outsz, const char *text)
{
	int p[2], saved;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	saved = dup(2);
	dup2(p[1], 2);
	log_msg(LOG_WARN, "peer said %s", text);
	dup2(saved, 2);
	close(saved);
	close(p[1]);
	n = read(p[0], out, outsz - 1);
	assert_true(n > 0);
	out[n] = '\0';
	close(p[0]);
}

static void
test_sanitised(void **state)
{
	char buf[4096];

	(void)state;
	log_init("t");
	capture(buf, sizeof(buf), "a\r\nb\x1b\xff\\");
	assert_non_null(strstr(buf, " t["));
	assert_non_null(
	    strstr(buf, "]: warn: peer said a\\x0d\\x0ab\\x1b\\xff\\\\\n"));
	/* exactly one line */
	assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
}

static void
test_level_filter(void **state)
{
	int p[2], saved;
	char c;

	(void)state;
	log_set_level(LOG_WARN);
	assert_int_equal(pipe(p), 0);
	saved = dup(2);
	dup2(p[1], 2);
	log_info("hidden");
	log_debug("hidden");
	dup2(saved, 2);
	close(saved);
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 0);
	close(p[0]);
	log_set_level(LOG_INFO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_level_parse),
	    cmocka_unit_test(test_sanitised),
	    cmocka_unit_test(test_level_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
