/* SPDX-License-Identifier: MIT */
/*
 * test_value.c: the parsers of value.c (numbers, durations, sizes, booleans,
 * enums, rates, host and domain names, tokens), table-driven, valid and
 * invalid, plus the formatters (which must read back to the same value).
 * The network values of value_net.c: test_value_net.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "value.h"

struct num_case {
	const char *in;
	int rc;
	uint64_t out;
};

static void
run_num_cases(const struct num_case *c, size_t n,
	      int (*fn)(const char *, uint64_t *, char *, size_t))
{
	for (size_t i = 0; i < n; i++) {
		char why[VALUE_WHY_MAX] = "";
		uint64_t v = 12345;
		int rc = fn(c[i].in, &v, why, sizeof(why));

		print_message("case '%s' -> %d (%s)\n", c[i].in, rc, why);
		assert_int_equal(rc, c[i].rc);
		if (rc == 0) {
			assert_true(v == c[i].out);
			assert_string_equal(why, "");
		} else {
			assert_true(v == 12345);
			assert_true(strlen(why) > 0);
		}
	}
}

static void
test_duration(void **state)
{
	static const struct num_case c[] = {
	    {"30s", 0, 30000},
	    {"5m", 0, 300000},
	    {"2h", 0, 7200000},
	    {"5d", 0, 432000000},
	    {"250ms", 0, 250},
	    {"7", 0, 7000},
	    {"0", 0, 0},
	    {"0ms", 0, 0},
	    {"007s", 0, 7000},
	    {"18446744073709551615ms", 0, UINT64_MAX},
	    {"", -EINVAL, 0},
	    {"-5s", -EINVAL, 0},
	    {"5 s", -EINVAL, 0},
	    {" 5s", -EINVAL, 0},
	    {"5M", -EINVAL, 0},
	    {"5S", -EINVAL, 0},
	    {"x5m", -EINVAL, 0},
	    {"5mm", -EINVAL, 0},
	    {"1.5h", -EINVAL, 0},
	    {"5sec", -EINVAL, 0},
	    {"s", -EINVAL, 0},
	    {"+5s", -EINVAL, 0},
	    {"18446744073709551616ms", -ERANGE, 0},
	    {"18446744073709552s", -ERANGE, 0},
	    {"213503982334601d", -ERANGE, 0},
	};
	char why[VALUE_WHY_MAX];
	uint64_t v;

	(void)state;
	run_num_cases(c, nitems(c), value_duration);
	assert_int_equal(value_duration("x5m", &v, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "bad duration 'x5m': expected a number "
				 "followed by ms, s, m, h or d");
	assert_int_equal(value_duration("", &v, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "empty duration");
	/* A NULL why buffer is allowed. */
	assert_int_equal(value_duration("bad", &v, NULL, 0), -EINVAL);
}

static void
test_size(void **state)
{
	static const struct num_case c[] = {
	    {"10M", 0, 10u << 20},
	    {"512K", 0, 512u << 10},
	    {"1G", 0, 1u << 30},
	    {"2T", 0, 2ull << 40},
	    {"10m", 0, 10u << 20},
	    {"4k", 0, 4096},
	    {"100", 0, 100},
	    {"0", 0, 0},
	    {"", -EINVAL, 0},
	    {"10MB", -EINVAL, 0},
	    {"10 M", -EINVAL, 0},
	    {"-1", -EINVAL, 0},
	    {"1.5G", -EINVAL, 0},
	    {"K", -EINVAL, 0},
	    {"10X", -EINVAL, 0},
	    {"16777216T", -ERANGE, 0},
	    {"17179869184G", -ERANGE, 0},
	    {"99999999999999999999", -ERANGE, 0},
	};
	char why[VALUE_WHY_MAX];
	uint64_t v;

	(void)state;
	run_num_cases(c, nitems(c), value_size);
	assert_int_equal(value_size("10X", &v, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "bad size '10X': expected a number of bytes, "
				 "optionally followed by K, M, G or T");
}

static void
test_uint(void **state)
{
	static const struct {
		const char *in;
		uint64_t min, max;
		int rc;
		uint64_t out;
	} c[] = {
	    {"25", 1, 65535, 0, 25},
	    {"1", 1, 65535, 0, 1},
	    {"65535", 1, 65535, 0, 65535},
	    {"0", 0, 10, 0, 0},
	    {"0", 1, 65535, -ERANGE, 0},
	    {"65536", 1, 65535, -ERANGE, 0},
	    {"99999999999999999999", 0, UINT64_MAX, -ERANGE, 0},
	    {"", 0, 10, -EINVAL, 0},
	    {"-1", 0, 10, -EINVAL, 0},
	    {"1x", 0, 10, -EINVAL, 0},
	    {"0x10", 0, 100, -EINVAL, 0},
	    {" 1", 0, 10, -EINVAL, 0},
	};
	char why[VALUE_WHY_MAX];
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		v = 777;
		assert_int_equal(value_uint(c[i].in, c[i].min, c[i].max, &v,
					    why, sizeof(why)),
				 c[i].rc);
		assert_true(v == (c[i].rc == 0 ? c[i].out : 777));
	}
	assert_int_equal(value_uint("0", 1, 10, &v, why, sizeof(why)), -ERANGE);
	assert_string_equal(why, "0 is out of range: expected 1 to 10");
}

static void
test_bool(void **state)
{
	static const struct {
		const char *in;
		int rc;
		bool out;
	} c[] = {
	    {"yes", 0, true},
	    {"no", 0, false},
	    {"true", 0, true},
	    {"false", 0, false},
	    {"on", 0, true},
	    {"off", 0, false},
	    {"1", 0, true},
	    {"0", 0, false},
	    {"YES", 0, true},
	    {"Off", 0, false},
	    {"", -EINVAL, false},
	    {"y", -EINVAL, false},
	    {"2", -EINVAL, false},
	    {"yess", -EINVAL, false},
	    {"enable", -EINVAL, false},
	};
	char why[VALUE_WHY_MAX];

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		bool v = !c[i].out;

		assert_int_equal(value_bool(c[i].in, &v, why, sizeof(why)),
				 c[i].rc);
		if (c[i].rc == 0)
			assert_true(v == c[i].out);
	}
	assert_int_equal(value_bool("y", &(bool){0}, why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "bad boolean 'y': expected yes, no, true, "
				 "false, on, off, 1 or 0");
}

static void
test_enum(void **state)
{
	static const char *const names[] = {"none", "opportunistic", "required",
					    NULL};
	static const char *const one[] = {"only", NULL};
	char why[VALUE_WHY_MAX];
	int v = -1;

	(void)state;
	assert_int_equal(value_enum("none", names, &v, why, sizeof(why)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(value_enum("required", names, &v, why, sizeof(why)),
			 0);
	assert_int_equal(v, 2);
	assert_int_equal(
	    value_enum("Opportunistic", names, &v, why, sizeof(why)), 0);
	assert_int_equal(v, 1);
	v = -1;
	assert_int_equal(value_enum("req", names, &v, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(v, -1);
	assert_string_equal(why, "bad value 'req': expected none, "
				 "opportunistic or required");
	assert_int_equal(value_enum("", names, &v, why, sizeof(why)), -EINVAL);
	assert_int_equal(value_enum("x", one, &v, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "bad value 'x': expected only");
}

static void
test_rate(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t count, period;
		const char *out;
	} c[] = {
	    {"100/1m", 0, 100, 60000, "100/1m"},
	    {"10/s", 0, 10, 1000, "10/1s"},
	    {"5/1h", 0, 5, 3600000, "5/1h"},
	    {"7/250ms", 0, 7, 250, "7/250ms"},
	    {"3/d", 0, 3, 86400000, "3/1d"},
	    {"10/30", 0, 10, 30000, "10/30s"},
	    {"10", 0, 10, 1000, "10/1s"},
	    {"", -EINVAL, 0, 0, NULL},
	    {"0", -ERANGE, 0, 0, NULL},
	    {"0/1m", -ERANGE, 0, 0, NULL},
	    {"10/", -EINVAL, 0, 0, NULL},
	    {"10/0s", -ERANGE, 0, 0, NULL},
	    {"10/x", -EINVAL, 0, 0, NULL},
	    {"10/1m/2", -EINVAL, 0, 0, NULL},
	    {"10/-1s", -EINVAL, 0, 0, NULL},
	    {"/5", -EINVAL, 0, 0, NULL},
	    {"-1", -EINVAL, 0, 0, NULL},
	    {"1.5/s", -EINVAL, 0, 0, NULL},
	    {"10 /s", -EINVAL, 0, 0, NULL},
	    {"abc", -EINVAL, 0, 0, NULL},
	    {"99999999999999999999/s", -ERANGE, 0, 0, NULL},
	    {"1/99999999999999999999d", -EINVAL, 0, 0, NULL},
	};
	struct value_rate r;
	char why[VALUE_WHY_MAX], buf[VALUE_FMT_MAX];

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		int rc = value_rate(c[i].in, 1000, &r, why, sizeof(why));

		print_message("rate '%s' -> %d %s\n", c[i].in, rc,
			      rc < 0 ? why : "");
		assert_int_equal(rc, c[i].rc);
		if (rc < 0)
			continue;
		assert_true(r.count == c[i].count);
		assert_true(r.period_ms == c[i].period);
		value_rate_fmt(&r, buf, sizeof(buf));
		assert_string_equal(buf, c[i].out);
	}
	assert_int_equal(value_rate("10", 60000, &r, why, sizeof(why)), 0);
	assert_true(r.period_ms == 60000);
	r.count = 0;
	value_rate_fmt(&r, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void
test_hostname(void **state)
{
	char l63[64], l64[65], long253[254], long254[255];
	const char *ok[] = {
	    "mx.example.com", "localhost",      "a-b.c", "A1.B2", "x", l63,
	    long253,          "123.example.com"};
	const char *bad[] = {"",
			     "-a.com",
			     "a-.com",
			     "a..com",
			     "a.com.",
			     ".a.com",
			     "a_b.com",
			     l64,
			     long254,
			     "1.2.3.4",
			     "42",
			     "exa mple.com",
			     "*.com",
			     "b\xc3\xbc"
			     "cher.de"};
	char why[VALUE_WHY_MAX];

	(void)state;
	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'a', 64);
	l64[64] = '\0';
	/* 63 + '.' + 63 + '.' + 63 + '.' + 61 = 253 */
	snprintf(long253, sizeof(long253), "%s.%s.%s.%.61s", l63, l63, l63,
		 l63);
	snprintf(long254, sizeof(long254), "%s.%s.%s.%.62s", l63, l63, l63,
		 l63);
	assert_int_equal(strlen(long253), 253);
	assert_int_equal(strlen(long254), 254);
	for (size_t i = 0; i < nitems(ok); i++)
		assert_int_equal(value_hostname(ok[i], why, sizeof(why)), 0);
	for (size_t i = 0; i < nitems(bad); i++) {
		print_message("hostname bad %zu\n", i);
		assert_int_equal(value_hostname(bad[i], why, sizeof(why)),
				 -EINVAL);
	}
	assert_int_equal(value_hostname("a_b.com", why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "bad host name 'a_b.com': only letters, "
				 "digits, '-' and '.' are allowed");
}

static void
test_domain(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} c[] = {
	    {"example.com", 0, "example.com"},
	    {"Example.COM.", 0, "example.com"},
	    {"EXAMPLE.com", 0, "example.com"},
	    {"b\xc3\xbc"
	     "cher.de",
	     0, "xn--bcher-kva.de"},
	    {"B\xc3\x9c"
	     "CHER.DE",
	     0, "xn--bcher-kva.de"},
	    {"xn--bcher-kva.de", 0, "xn--bcher-kva.de"},
	    {"XN--BCHER-KVA.DE.", 0, "xn--bcher-kva.de"},
	    {"localhost", 0, "localhost"},
	    {"1.2.3.4", 0, "1.2.3.4"},
	    {"xn--zz.com", -EINVAL, NULL},
	    {"*.example.com", -EINVAL, NULL},
	    {"a b.com", -EINVAL, NULL},
	    {"exa?mple.com", -EINVAL, NULL},
	    {"[1.2.3.4]", -EINVAL, NULL},
	    {"{x}.com", -EINVAL, NULL},
	    {"a:b.com", -EINVAL, NULL},
	    {"a\rb.com", -EINVAL, NULL},
	    {"a\nb.com", -EINVAL, NULL},
	    {"a\x01"
	     "b.com",
	     -EINVAL, NULL},
	    {"a..b", -EINVAL, NULL},
	    {".", -EINVAL, NULL},
	    {"", -EINVAL, NULL},
	    {"example.com..", -EINVAL, NULL},
	    {".example.com", -EINVAL, NULL},
	    {"under_score.com", -EINVAL, NULL},
	    {"-a.com", -EINVAL, NULL},
	    {"a-.com", -EINVAL, NULL},
	    {"\xff\xfe.com", -EINVAL, NULL},
	    {"b\xc3\xbc-.de", -EINVAL, NULL},
	};
	char why[VALUE_WHY_MAX], out[VALUE_HOST_MAX + 1], l63[64], big[300];

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		int rc =
		    value_domain(c[i].in, out, sizeof(out), why, sizeof(why));

		print_message("domain %zu -> %d %s\n", i, rc,
			      rc < 0 ? why : out);
		assert_int_equal(rc, c[i].rc);
		if (rc == 0)
			assert_string_equal(out, c[i].out);
	}
	memset(l63, 'a', 63);
	l63[63] = '\0';
	snprintf(big, sizeof(big), "%s.%s.%s.%.61s", l63, l63, l63, l63);
	assert_int_equal(value_domain(big, out, sizeof(out), why, sizeof(why)),
			 0);
	snprintf(big, sizeof(big), "%s.%s.%s.%.61s.", l63, l63, l63, l63);
	assert_int_equal(value_domain(big, out, sizeof(out), why, sizeof(why)),
			 0);
	snprintf(big, sizeof(big), "%s.%s.%s.%.62s", l63, l63, l63, l63);
	assert_int_equal(value_domain(big, out, sizeof(out), why, sizeof(why)),
			 -EINVAL);
	snprintf(big, sizeof(big), "%sa.com", l63);
	assert_int_equal(value_domain(big, out, sizeof(out), why, sizeof(why)),
			 -EINVAL);
	/* A too-small output buffer is an error, never a truncation. */
	assert_int_equal(value_domain("example.com", out, 5, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(
	    value_domain("a*b.com", out, sizeof(out), why, sizeof(why)),
	    -EINVAL);
	assert_string_equal(why, "bad domain 'a*b.com': only letters, digits, "
				 "'-' and '.' are allowed");
}

static void
test_token(void **state)
{
	char why[VALUE_WHY_MAX], l65[66];

	(void)state;
	memset(l65, 'a', 65);
	l65[65] = '\0';
	assert_int_equal(value_token("out-1_a.B", 64, why, sizeof(why)), 0);
	assert_int_equal(value_token(l65 + 1, 64, why, sizeof(why)), 0);
	assert_int_equal(value_token(l65, 64, why, sizeof(why)), -EINVAL);
	assert_int_equal(value_token("", 64, why, sizeof(why)), -EINVAL);
	assert_int_equal(value_token("a b", 64, why, sizeof(why)), -EINVAL);
	assert_int_equal(value_token("a:b", 64, why, sizeof(why)), -EINVAL);
	assert_int_equal(value_token("a*", 64, why, sizeof(why)), -EINVAL);
	assert_int_equal(value_token("\xc3\xbc", 64, why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "bad name '?\?': expected 1 to 64 of A-Z a-z "
				 "0-9 _ . -");
}

static void
test_formatters(void **state)
{
	static const struct {
		uint64_t v;
		const char *dur, *size;
	} c[] = {
	    {0, "0s", "0"},
	    {1, "1ms", "1"},
	    {1000, "1s", "1000"},
	    {1500, "1500ms", "1500"},
	    {90000, "90s", "90000"},
	    {4096, "4096ms", "4K"},
	    {3600000, "1h", "3600000"},
	    {86400000, "1d", "84375K"},
	    {1ull << 30, "1073741824ms", "1G"},
	    {3ull << 40, "3298534883328ms", "3T"},
	};
	char buf[VALUE_FMT_MAX], why[VALUE_WHY_MAX];
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		value_duration_fmt(c[i].v, buf, sizeof(buf));
		assert_string_equal(buf, c[i].dur);
		assert_int_equal(value_duration(buf, &v, why, sizeof(why)), 0);
		assert_true(v == c[i].v);
		value_size_fmt(c[i].v, buf, sizeof(buf));
		assert_string_equal(buf, c[i].size);
		assert_int_equal(value_size(buf, &v, why, sizeof(why)), 0);
		assert_true(v == c[i].v);
	}
	/* Truncation is safe. */
	value_duration_fmt(86400000, buf, 2);
	assert_string_equal(buf, "1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration), cmocka_unit_test(test_size),
	    cmocka_unit_test(test_uint),     cmocka_unit_test(test_bool),
	    cmocka_unit_test(test_enum),     cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_hostname), cmocka_unit_test(test_domain),
	    cmocka_unit_test(test_token),    cmocka_unit_test(test_formatters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
