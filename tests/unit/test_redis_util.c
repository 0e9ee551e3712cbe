/* SPDX-License-Identifier: MIT */
/*
 * test_redis_util: the parts of store/redis that need no server and no
 * I/O (store/redis_util.c), from tables: the key builder and its name
 * check, SHA-1 vectors, argv packing, the bounded delta table, the target
 * parser.
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

#include "redis.h"
#include "redis_int.h"

/* ---- pure helpers ---------------------------------------------------- */

static void
test_key_table(void **state)
{
	static const struct {
		const char *prefix, *kind, *name;
		int rc;
		const char *key;
	} tab[] = {
	    {"ringmta", "dom", "example.org", 23, "ringmta:dom:example.org"},
	    {NULL, "dom", "xn--bcher-kva.example", 25,
	     "dom:xn--bcher-kva.example"},
	    {"", "cnt", "a_b-c.9", 11, "cnt:a_b-c.9"},
	    {"p", "dom", "Example.org", -EINVAL, NULL},
	    {"p", "dom", "a{b}", -EINVAL, NULL},
	    {"p", "dom", "{", -EINVAL, NULL},
	    {"p", "dom", "}", -EINVAL, NULL},
	    {"p", "dom", "a*", -EINVAL, NULL},
	    {"p", "dom", "a?", -EINVAL, NULL},
	    {"p", "dom", "[ab]", -EINVAL, NULL},
	    {"p", "dom", "a b", -EINVAL, NULL},
	    {"p", "dom", "a\tb", -EINVAL, NULL},
	    {"p", "dom", "a\r\nb", -EINVAL, NULL},
	    {"p", "dom", "a\x7f", -EINVAL, NULL},
	    {"p", "dom", "a\xc3\xa9", -EINVAL, NULL},
	    {"p", "dom", "a:b", -EINVAL, NULL},
	    {"p", "dom", "a/b", -EINVAL, NULL},
	    {"p", "dom", "a\\b", -EINVAL, NULL},
	    {"p", "dom", "a^b", -EINVAL, NULL},
	    {"p", "dom", "", -EINVAL, NULL},
	    {"p", "dom", NULL, -EINVAL, NULL},
	    {"p", "", "x", -EINVAL, NULL},
	    {"p", NULL, "x", -EINVAL, NULL},
	    {"P", "dom", "x", -EINVAL, NULL},
	    {"p:q", "dom", "x", -EINVAL, NULL},
	    {"p", "d{m", "x", -EINVAL, NULL},
	};
	char buf[RDS_KEY_MAX];

	(void)state;
	for (size_t i = 0; i < nitems(tab); i++) {
		int rc = rds_key(buf, sizeof(buf), tab[i].prefix, tab[i].kind,
				 tab[i].name);

		if (rc != tab[i].rc)
			fail_msg("row %zu: rc %d, want %d", i, rc, tab[i].rc);
		if (tab[i].key)
			assert_string_equal(buf, tab[i].key);
	}
	/* length: 255 accepted, 256 refused */
	char name[300];

	memset(name, 'a', sizeof(name));
	name[255] = '\0';
	assert_int_equal(rds_key(buf, sizeof(buf), "p", "d", name), 4 + 255);
	name[255] = 'a';
	name[256] = '\0';
	assert_int_equal(rds_key(buf, sizeof(buf), "p", "d", name), -EINVAL);
	/* the buffer: exact fit and one short */
	assert_int_equal(rds_key(buf, 6, "p", "d", "xy"), -ENOSPC);
	assert_int_equal(rds_key(buf, 7, "p", "d", "xy"), 6);
	assert_string_equal(buf, "p:d:xy");
	/* every byte outside [a-z0-9._-] is refused on its own */
	for (int c = 1; c < 256; c++) {
		char one[2] = {(char)c, 0};
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '-' || c == '_';

		assert_int_equal(rds_name_check(one), ok ? 0 : -EINVAL);
	}
}

static void
test_sha1_vectors(void **state)
{
	static const struct {
		const char *in, *hex;
	} tab[] = {
	    {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	    {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
	    {"The quick brown fox jumps over the lazy dog",
	     "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
	};
	char hex[RDS_SHA_LEN], big[1000];

	(void)state;
	for (size_t i = 0; i < nitems(tab); i++) {
		rds_sha1_hex(tab[i].in, strlen(tab[i].in), hex);
		assert_string_equal(hex, tab[i].hex);
	}
	/* 1000 x 'a' crosses many blocks and a padding boundary */
	memset(big, 'a', sizeof(big));
	rds_sha1_hex(big, sizeof(big), hex);
	assert_string_equal(hex, "291e9a6c66994949b57ba5e650361e98fc36b1ba");
}

static void
test_pack_roundtrip(void **state)
{
	const char *argv[] = {"HSET", "k", "f\0x", ""};
	size_t lens[] = {4, 1, 3, 0}, olens[4];
	const char *out[4];
	int argc = 0;
	size_t n = rds_pack_size(4, argv, lens);
	char *p = malloc(n);

	(void)state;
	assert_int_equal(n, 4 + 4 * 4 + 8);
	rds_pack(p, 4, argv, lens);
	assert_int_equal(rds_unpack(p, &argc, out, olens), n);
	assert_int_equal(argc, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(olens[i], lens[i]);
		assert_memory_equal(out[i], argv[i], lens[i]);
	}
	free(p);
}

static void
test_dtab(void **state)
{
	struct rds_dtab t = {.max = 1000};
	char k[32];

	(void)state;
	assert_int_equal(rds_dtab_add(&t, "a", "bc", 1), 0);
	assert_int_equal(rds_dtab_add(&t, "ab", "c", 10), 0); /* distinct */
	assert_int_equal(rds_dtab_add(&t, "a", "bc", 2), 1);
	assert_int_equal(rds_dtab_add(&t, "a", "bc", -5), 1);
	assert_int_equal(rds_dtab_find(&t, "a", "bc")->delta, -2);
	assert_int_equal(rds_dtab_find(&t, "ab", "c")->delta, 10);
	assert_null(rds_dtab_find(&t, "a", "b"));
	assert_int_equal(rds_dtab_add(&t, "", "f", 1), -EINVAL);
	assert_int_equal(rds_dtab_add(&t, "k", "", 1), -EINVAL);
	assert_int_equal(rds_dtab_add(&t, NULL, "f", 1), -EINVAL);
	/* overflow refused, value unchanged */
	assert_int_equal(rds_dtab_add(&t, "o", "f", INT64_MAX), 0);
	assert_int_equal(rds_dtab_add(&t, "o", "f", 1), -ERANGE);
	assert_true(rds_dtab_find(&t, "o", "f")->delta == INT64_MAX);
	assert_int_equal(t.n, 3);
	/* growth keeps every pair; the bound holds */
	for (int i = 0; i < 997; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		assert_int_equal(rds_dtab_add(&t, k, "f", i), 0);
	}
	assert_int_equal(t.n, 1000);
	assert_int_equal(rds_dtab_add(&t, "new", "f", 1), -ENOBUFS);
	assert_int_equal(rds_dtab_add(&t, "key5", "f", 1), 1); /* merge ok */
	for (int i = 0; i < 997; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		assert_int_equal(rds_dtab_find(&t, k, "f")->delta,
				 i + (i == 5));
	}
	rds_dtab_clear(&t);
	assert_int_equal(t.n, 0);
	assert_null(rds_dtab_find(&t, "a", "bc"));
	rds_dtab_fini(&t);
}

static void
test_target_parse(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *host;
		int port;
	} tab[] = {
	    {"/run/r.sock", 0, "/run/r.sock", 0},
	    {"unix:/run/r.sock", 0, "/run/r.sock", 0},
	    {"127.0.0.1:6379", 0, "127.0.0.1", 6379},
	    {"localhost:1", 0, "127.0.0.1", 1},
	    {"[::1]:6380", 0, "::1", 6380},
	    {"unix:relative", -EINVAL, NULL, 0},
	    {"redis.example:6379", -EINVAL, NULL, 0},
	    {"127.0.0.1", -EINVAL, NULL, 0},
	    {"127.0.0.1:", -EINVAL, NULL, 0},
	    {"127.0.0.1:0", -EINVAL, NULL, 0},
	    {"127.0.0.1:65536", -EINVAL, NULL, 0},
	    {"127.0.0.1:12x", -EINVAL, NULL, 0},
	    {"[::1:6380", -EINVAL, NULL, 0},
	    {"", -EINVAL, NULL, 0},
	};
	char longp[200];

	(void)state;
	for (size_t i = 0; i < nitems(tab); i++) {
		char *host = NULL;
		int port = -1, rc = rds_target_parse(tab[i].in, &host, &port);

		if (rc != tab[i].rc)
			fail_msg("row %zu (%s): rc %d", i, tab[i].in, rc);
		if (rc == 0) {
			assert_string_equal(host, tab[i].host);
			assert_int_equal(port, tab[i].port);
		} else {
			assert_null(host);
		}
		free(host);
	}
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	char *h = NULL;
	int port;

	assert_int_equal(rds_target_parse(longp, &h, &port), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_table),
	    cmocka_unit_test(test_sha1_vectors),
	    cmocka_unit_test(test_pack_roundtrip),
	    cmocka_unit_test(test_dtab),
	    cmocka_unit_test(test_target_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
