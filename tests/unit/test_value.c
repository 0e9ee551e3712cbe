/* SPDX-License-Identifier: MIT */
/*
 * test_value.c: every parser of value.c, table-driven, valid and invalid,
 * plus the formatters (which must read back to the same value).
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

static const char *
fmt_sa(const struct value_sockaddr *sa)
{
	static char buf[VALUE_FMT_MAX];

	value_sockaddr_fmt((const struct sockaddr *)&sa->ss, true, buf,
			   sizeof(buf));
	return buf;
}

static void
test_sockaddr(void **state)
{
	static const struct {
		const char *in;
		unsigned flags;
		int rc;
		const char *out; /* formatted back */
		int family;
	} c[] = {
	    {"127.0.0.1:25", 0, 0, "127.0.0.1:25", AF_INET},
	    {"[::1]:25", 0, 0, "[::1]:25", AF_INET6},
	    {"[2001:DB8::1]:2525", 0, 0, "[2001:db8::1]:2525", AF_INET6},
	    {"*:25", VALUE_SA_WILDCARD, 0, "0.0.0.0:25", AF_INET},
	    {"[::]:25", VALUE_SA_WILDCARD, 0, "[::]:25", AF_INET6},
	    {"0.0.0.0:25", VALUE_SA_WILDCARD, 0, "0.0.0.0:25", AF_INET},
	    {"127.0.0.1:0", VALUE_SA_PORT0, 0, "127.0.0.1:0", AF_INET},
	    {"[::ffff:1.2.3.4]:25", 0, 0, "[::ffff:1.2.3.4]:25", AF_INET6},
	    {"127.0.0.1:65535", 0, 0, "127.0.0.1:65535", AF_INET},
	    {"127.0.0.1", 0, -EINVAL, NULL, 0},
	    {"::1:25", 0, -EINVAL, NULL, 0},
	    {"::1", 0, -EINVAL, NULL, 0},
	    {"[::1]25", 0, -EINVAL, NULL, 0},
	    {"[::1]", 0, -EINVAL, NULL, 0},
	    {"[::1:25", 0, -EINVAL, NULL, 0},
	    {"localhost:25", 0, -EINVAL, NULL, 0},
	    {"127.0.0.1:0", 0, -EINVAL, NULL, 0},
	    {"*:25", 0, -EINVAL, NULL, 0},
	    {"[::]:25", 0, -EINVAL, NULL, 0},
	    {"0.0.0.0:25", 0, -EINVAL, NULL, 0},
	    {"127.0.0.1:65536", 0, -EINVAL, NULL, 0},
	    {"127.0.0.1:-1", 0, -EINVAL, NULL, 0},
	    {"127.0.0.1:", 0, -EINVAL, NULL, 0},
	    {"127.0.0.1:2x", 0, -EINVAL, NULL, 0},
	    {"[1.2.3.4]:25", 0, -EINVAL, NULL, 0},
	    {"[*]:25", VALUE_SA_WILDCARD, -EINVAL, NULL, 0},
	    {":25", 0, -EINVAL, NULL, 0},
	    {"", 0, -EINVAL, NULL, 0},
	    {"[fe80::1%eth0]:25", 0, -EINVAL, NULL, 0},
	    {"01.2.3.4:25", 0, -EINVAL, NULL, 0},
	    {"1.2.3:25", 0, -EINVAL, NULL, 0},
	};
	char why[VALUE_WHY_MAX];
	struct value_sockaddr sa;

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		int rc =
		    value_sockaddr(c[i].in, c[i].flags, &sa, why, sizeof(why));

		print_message("sockaddr '%s' -> %d %s\n", c[i].in, rc,
			      rc < 0 ? why : "");
		assert_int_equal(rc, c[i].rc);
		if (rc < 0)
			continue;
		assert_int_equal(sa.ss.ss_family, c[i].family);
		assert_int_equal(sa.len, c[i].family == AF_INET
					     ? sizeof(struct sockaddr_in)
					     : sizeof(struct sockaddr_in6));
		assert_string_equal(fmt_sa(&sa), c[i].out);
	}
	assert_int_equal(value_sockaddr("::1:25", 0, &sa, why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "IPv6 addresses need brackets, as in "
				 "[::1]:25: '::1:25'");
	assert_int_equal(
	    value_sockaddr("127.0.0.1:0", 0, &sa, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "port 0 is not allowed here");
}

static void
test_sockaddr_list(void **state)
{
	struct value_sockaddr_list l = {0};
	char why[VALUE_WHY_MAX], big[4096];
	size_t o = 0;

	(void)state;
	assert_int_equal(value_sockaddr_list("127.0.0.1:25, [::1]:26 ,\t*:27",
					     VALUE_SA_WILDCARD, &l, why,
					     sizeof(why)),
			 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(fmt_sa(&l.v[0]), "127.0.0.1:25");
	assert_string_equal(fmt_sa(&l.v[1]), "[::1]:26");
	assert_string_equal(fmt_sa(&l.v[2]), "0.0.0.0:27");
	value_sockaddr_list_free(&l);
	assert_null(l.v);
	assert_int_equal(value_sockaddr_list("", 0, &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
	assert_int_equal(value_sockaddr_list("1.2.3.4:1,,1.2.3.4:2", 0, &l, why,
					     sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "empty element in list");
	assert_int_equal(l.n, 0);
	assert_int_equal(
	    value_sockaddr_list("1.2.3.4:1,", 0, &l, why, sizeof(why)),
	    -EINVAL);
	assert_int_equal(value_sockaddr_list(" , ", 0, &l, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(value_sockaddr_list("1.2.3.4:1, 1.2.3.4:1", 0, &l, why,
					     sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "duplicate address '1.2.3.4:1' in list");
	assert_int_equal(
	    value_sockaddr_list("1.2.3.4:1, bad", 0, &l, why, sizeof(why)),
	    -EINVAL);
	assert_int_equal(l.n, 0);
	for (int i = 1; i <= VALUE_LIST_MAX + 1; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s1.2.3.4:%d",
				      i > 1 ? "," : "", i);
	assert_int_equal(value_sockaddr_list(big, 0, &l, why, sizeof(why)),
			 -ERANGE);
	assert_int_equal(l.n, 0);
}

static void
test_ip(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int family;
	} c[] = {
	    {"192.0.2.1", 0, AF_INET},
	    {"2001:db8::1", 0, AF_INET6},
	    {"::ffff:192.0.2.1", 0, AF_INET6},
	    {"0.0.0.0", -EINVAL, 0},
	    {"::", -EINVAL, 0},
	    {"[::1]", -EINVAL, 0},
	    {"1.2.3.4:25", -EINVAL, 0},
	    {"host.example", -EINVAL, 0},
	    {"", -EINVAL, 0},
	    {"1.2.3.4/32", -EINVAL, 0},
	};
	struct value_sockaddr_list l;
	struct value_sockaddr sa;
	char why[VALUE_WHY_MAX], buf[VALUE_FMT_MAX];

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		assert_int_equal(value_ip(c[i].in, &sa, why, sizeof(why)),
				 c[i].rc);
		if (c[i].rc == 0) {
			assert_int_equal(sa.ss.ss_family, c[i].family);
			value_sockaddr_fmt((struct sockaddr *)&sa.ss, false,
					   buf, sizeof(buf));
			assert_string_equal(buf, c[i].in);
		}
	}
	assert_int_equal(
	    value_ip_list("192.0.2.1, 2001:db8::1", &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(((struct sockaddr_in *)&l.v[0].ss)->sin_port, 0);
	value_sockaddr_list_free(&l);
	assert_int_equal(
	    value_ip_list("192.0.2.1, 192.0.2.1", &l, why, sizeof(why)),
	    -EINVAL);
	assert_int_equal(value_ip_list("192.0.2.1,", &l, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(value_ip_list("", &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, 0);
}

static void
test_hostport(void **state)
{
	static const struct {
		const char *in;
		unsigned flags;
		int rc;
		const char *host;
		int family;
		unsigned port;
	} c[] = {
	    {"mx.example.com:25", 0, 0, "mx.example.com", 0, 25},
	    {"10.0.0.1:2525", 0, 0, "10.0.0.1", AF_INET, 2525},
	    {"[::1]:25", 0, 0, "::1", AF_INET6, 25},
	    {"smarthost", VALUE_HP_PORT_OPTIONAL, 0, "smarthost", 0, 0},
	    {"[::1]", VALUE_HP_PORT_OPTIONAL, 0, "::1", AF_INET6, 0},
	    {"127.0.0.1", VALUE_HP_PORT_OPTIONAL, 0, "127.0.0.1", AF_INET, 0},
	    {"smarthost", 0, -EINVAL, NULL, 0, 0},
	    {"mx..com:25", 0, -EINVAL, NULL, 0, 0},
	    {"-mx.com:25", 0, -EINVAL, NULL, 0, 0},
	    {"under_score.com:25", 0, -EINVAL, NULL, 0, 0},
	    {"[1.2.3.4]:25", 0, -EINVAL, NULL, 0, 0},
	    {"[mx.com]:25", 0, -EINVAL, NULL, 0, 0},
	    {"[::1", 0, -EINVAL, NULL, 0, 0},
	    {"::1:25", 0, -EINVAL, NULL, 0, 0},
	    {"host:0", 0, -EINVAL, NULL, 0, 0},
	    {"host:99999", 0, -EINVAL, NULL, 0, 0},
	    {"host:", VALUE_HP_PORT_OPTIONAL, -EINVAL, NULL, 0, 0},
	    {"1.2.3:25", 0, -EINVAL, NULL, 0, 0},
	    {"", VALUE_HP_PORT_OPTIONAL, -EINVAL, NULL, 0, 0},
	    {":25", 0, -EINVAL, NULL, 0, 0},
	};
	struct value_hostport hp;
	char why[VALUE_WHY_MAX], buf[VALUE_FMT_MAX];

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		int rc =
		    value_hostport(c[i].in, c[i].flags, &hp, why, sizeof(why));

		print_message("hostport '%s' -> %d %s\n", c[i].in, rc,
			      rc < 0 ? why : "");
		assert_int_equal(rc, c[i].rc);
		if (rc < 0)
			continue;
		assert_string_equal(hp.host, c[i].host);
		assert_int_equal(hp.family, c[i].family);
		assert_int_equal(hp.port, c[i].port);
		value_hostport_fmt(&hp, buf, sizeof(buf));
		assert_string_equal(buf, c[i].in);
	}
}

static void
test_cidr(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} c[] = {
	    {"10.0.0.0/8", 0, "10.0.0.0/8"},
	    {"10.1.2.3", 0, "10.1.2.3/32"},
	    {"::1/128", 0, "::1/128"},
	    {"::1", 0, "::1/128"},
	    {"0.0.0.0/0", 0, "0.0.0.0/0"},
	    {"::/0", 0, "::/0"},
	    {"192.168.0.0/23", 0, "192.168.0.0/23"},
	    {"2001:db8::/32", 0, "2001:db8::/32"},
	    {"::ffff:10.0.0.0/104", 0, "10.0.0.0/8"},
	    {"::ffff:0:0/96", 0, "0.0.0.0/0"},
	    {"::ffff:0:0/112", 0, "0.0.0.0/16"},
	    {"::ffff:0:0/95", -EINVAL, NULL},
	    {"10.0.0.0/008", 0, "10.0.0.0/8"},
	    {"10.1.2.3/8", -EINVAL, NULL},
	    {"10.0.0.1/31", -EINVAL, NULL},
	    {"10.0.0.0/33", -EINVAL, NULL},
	    {"::/129", -EINVAL, NULL},
	    {"10.0.0.0/", -EINVAL, NULL},
	    {"10.0.0.0/-1", -EINVAL, NULL},
	    {"10.0.0.0/0008", -EINVAL, NULL},
	    {"10.0.0.0/8/9", -EINVAL, NULL},
	    {"10.0.0.0/8x", -EINVAL, NULL},
	    {"/8", -EINVAL, NULL},
	    {"host/8", -EINVAL, NULL},
	    {"[::1]/128", -EINVAL, NULL},
	    {"", -EINVAL, NULL},
	    {"10.0.0/8", -EINVAL, NULL},
	};
	struct value_cidr r;
	char why[VALUE_WHY_MAX], buf[VALUE_FMT_MAX];

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		int rc = value_cidr(c[i].in, &r, why, sizeof(why));

		print_message("cidr '%s' -> %d %s\n", c[i].in, rc,
			      rc < 0 ? why : "");
		assert_int_equal(rc, c[i].rc);
		if (rc < 0)
			continue;
		value_cidr_fmt(&r, buf, sizeof(buf));
		assert_string_equal(buf, c[i].out);
	}
	assert_int_equal(value_cidr("10.1.2.3/8", &r, why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "host bits set in '10.1.2.3/8' (did you mean "
				 "10.0.0.0/8?)");
	assert_int_equal(value_cidr("10.0.0.0/33", &r, why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "bad prefix length in '10.0.0.0/33': "
				 "expected /0 to /32");
}

static struct sockaddr_storage
mk_sa(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) ==
	    1) {
		ss.ss_family = AF_INET;
	} else {
		assert_int_equal(
		    inet_pton(AF_INET6, ip,
			      &((struct sockaddr_in6 *)&ss)->sin6_addr),
		    1);
		ss.ss_family = AF_INET6;
	}
	return ss;
}

static void
test_cidr_match(void **state)
{
	static const struct {
		const char *list;
		const char *ip;
		bool match;
	} c[] = {
	    {"127.0.0.0/8, ::1/128", "127.5.6.7", true},
	    {"127.0.0.0/8, ::1/128", "128.0.0.1", false},
	    {"127.0.0.0/8, ::1/128", "::1", true},
	    {"127.0.0.0/8, ::1/128", "::2", false},
	    {"127.0.0.0/8, ::1/128", "::ffff:127.0.0.1", true},
	    {"127.0.0.0/8, ::1/128", "::ffff:10.0.0.1", false},
	    {"10.1.2.3", "10.1.2.3", true},
	    {"10.1.2.3", "10.1.2.4", false},
	    {"10.1.2.3", "::ffff:10.1.2.3", true},
	    {"192.168.0.0/23", "192.168.1.255", true},
	    {"192.168.0.0/23", "192.168.2.0", false},
	    {"2001:db8::/32", "2001:db8:1::5", true},
	    {"2001:db8::/32", "2001:db9::", false},
	    {"0.0.0.0/0", "203.0.113.9", true},
	    {"0.0.0.0/0", "::ffff:203.0.113.9", true},
	    {"0.0.0.0/0", "2001:db8::1", false},
	    {"::/0", "2001:db8::1", true},
	    {"::/0", "::ffff:203.0.113.9", false},
	    {"::ffff:10.0.0.0/104", "10.9.9.9", true},
	    {"", "127.0.0.1", false},
	};
	struct value_cidr_list l;
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	char why[VALUE_WHY_MAX];

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		struct sockaddr_storage ss = mk_sa(c[i].ip);

		assert_int_equal(
		    value_cidr_list(c[i].list, &l, why, sizeof(why)), 0);
		print_message("match %s in %s\n", c[i].ip, c[i].list);
		assert_int_equal(value_cidr_match(&l, (struct sockaddr *)&ss),
				 c[i].match);
		value_cidr_list_free(&l);
	}
	assert_int_equal(value_cidr_list("0.0.0.0/0", &l, why, sizeof(why)), 0);
	assert_false(value_cidr_match(&l, (struct sockaddr *)&un));
	value_cidr_list_free(&l);
	assert_int_equal(
	    value_cidr_list("10.0.0.0/8, 10.1.0.0/8", &l, why, sizeof(why)),
	    -EINVAL);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
	assert_int_equal(
	    value_cidr_list("10.0.0.0/8,,::1", &l, why, sizeof(why)), -EINVAL);
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
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_size),
	    cmocka_unit_test(test_uint),
	    cmocka_unit_test(test_bool),
	    cmocka_unit_test(test_enum),
	    cmocka_unit_test(test_sockaddr),
	    cmocka_unit_test(test_sockaddr_list),
	    cmocka_unit_test(test_ip),
	    cmocka_unit_test(test_hostport),
	    cmocka_unit_test(test_cidr),
	    cmocka_unit_test(test_cidr_match),
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_hostname),
	    cmocka_unit_test(test_domain),
	    cmocka_unit_test(test_token),
	    cmocka_unit_test(test_formatters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
