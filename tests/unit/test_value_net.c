/* SPDX-License-Identifier: MIT */
/*
 * test_value_net.c: the network parsers of value_net.c (socket addresses
 * and their lists, IPs, host:port next hops, CIDRs and matching),
 * table-driven, valid and invalid, with their formatters.
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sockaddr),
	    cmocka_unit_test(test_sockaddr_list),
	    cmocka_unit_test(test_ip),
	    cmocka_unit_test(test_hostport),
	    cmocka_unit_test(test_cidr),
	    cmocka_unit_test(test_cidr_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
