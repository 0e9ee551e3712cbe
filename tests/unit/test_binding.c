/* SPDX-License-Identifier: MIT */
/*
 * test_binding: the binding table built from a configuration: slots in
 * name order, lookup, the choice of a message's binding (X-Binding name,
 * listener default, "default", unknown names), group round robin skipping
 * suspended members, source addresses per family (round robin, none), and
 * suspension reported once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "binding.h"
#include "config.h"

static const char conf[] = "[binding a1]\n"
			   "address = 127.0.0.2, 127.0.0.3, ::1\n"
			   "ehlo = a1.test\n"
			   "group = pool\n"
			   "[binding a2]\n"
			   "address = 127.0.0.4\n"
			   "group = pool\n"
			   "[binding a3]\n"
			   "address = 127.0.0.5\n"
			   "group = pool\n"
			   "[binding solo]\n"
			   "address = 127.0.0.6\n"
			   "ehlo = solo.test\n";

static int
setup(void **state)
{
	struct config_err_list errs;
	struct config *cfg = NULL;
	struct bnd_table *t = calloc(1, sizeof(*t));

	config_err_list_init(&errs);
	if (config_load_string("test", conf, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			print_error("%s\n", errs.v[i]);
		return -1;
	}
	config_err_list_fini(&errs);
	bnd_table_init(t, cfg);
	config_free(cfg); /* the table keeps its own copies */
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	bnd_table_fini(*state);
	free(*state);
	return 0;
}

static void
test_slots(void **state)
{
	struct bnd_table *t = *state;

	/* a1 a2 a3 default solo: name order. */
	assert_int_equal(t->n, 5);
	assert_int_equal(bnd_find(t, "a1"), 0);
	assert_int_equal(bnd_find(t, "default"), 3);
	assert_int_equal(bnd_find(t, "solo"), 4);
	assert_int_equal(bnd_find(t, "nope"), -ENOENT);
	assert_string_equal(bnd_get(t, 0)->ehlo, "a1.test");
	assert_non_null(bnd_get(t, 3)->ehlo); /* the server hostname */
	assert_null(bnd_get(t, 3)->group);
	assert_string_equal(bnd_get(t, 1)->group, "pool");
	assert_null(bnd_get(t, -1));
	assert_null(bnd_get(t, 5));
	for (int i = 0; i < 5; i++)
		assert_int_equal(bnd_get(t, i)->slot, i);
}

static void
test_choose(void **state)
{
	struct bnd_table *t = *state;
	int seen[5] = {0};

	assert_int_equal(bnd_choose(t, "solo", NULL), 4);
	assert_int_equal(bnd_choose(t, "", "solo"), 4);
	assert_int_equal(bnd_choose(t, NULL, NULL), 3);
	assert_int_equal(bnd_choose(t, "unknown", NULL), 3);
	assert_int_equal(bnd_choose(t, "unknown", "also-unknown"), 3);
	/* A grouped binding spreads over the group's members. */
	for (int i = 0; i < 30; i++)
		seen[bnd_choose(t, "a2", NULL)]++;
	assert_int_equal(seen[0], 10);
	assert_int_equal(seen[1], 10);
	assert_int_equal(seen[2], 10);
	assert_int_equal(seen[3] + seen[4], 0);
	/* Suspended members are skipped. */
	assert_true(bnd_suspend(bnd_get(t, 1), "test"));
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 20; i++)
		seen[bnd_choose(t, "a1", NULL)]++;
	assert_int_equal(seen[1], 0);
	assert_int_equal(seen[0], 10);
	assert_int_equal(seen[2], 10);
	/* Every member suspended: the named binding itself. */
	bnd_suspend(bnd_get(t, 0), "test");
	bnd_suspend(bnd_get(t, 2), "test");
	assert_int_equal(bnd_choose(t, "a3", NULL), 2);
}

static void
test_source(void **state)
{
	struct bnd_table *t = *state;
	struct binding *b = bnd_get(t, 0);
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64];

	assert_int_equal(bnd_source(b, AF_INET, &ss, &len), 1);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf,
		  sizeof(buf));
	assert_string_equal(buf, "127.0.0.2");
	assert_int_equal(bnd_source(b, AF_INET, &ss, &len), 1);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf,
		  sizeof(buf));
	assert_string_equal(buf, "127.0.0.3");
	assert_int_equal(bnd_source(b, AF_INET, &ss, &len), 1);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf,
		  sizeof(buf));
	assert_string_equal(buf, "127.0.0.2"); /* round robin, v4 only */
	assert_int_equal(bnd_source(b, AF_INET6, &ss, &len), 1);
	assert_int_equal(ss.ss_family, AF_INET6);
	/* No IPv6 address: let the kernel choose. */
	assert_int_equal(bnd_source(bnd_get(t, 4), AF_INET6, &ss, &len), 0);
	assert_int_equal(len, 0);
	/* default has no address at all. */
	assert_int_equal(bnd_source(bnd_get(t, 3), AF_INET, &ss, &len), 0);
}

static void
test_suspend_once(void **state)
{
	struct bnd_table *t = *state;
	struct binding *b = bnd_get(t, 4);

	assert_false(b->suspended);
	assert_true(bnd_suspend(b, "EADDRNOTAVAIL"));
	assert_true(b->suspended);
	assert_string_equal(b->reason, "EADDRNOTAVAIL");
	assert_false(bnd_suspend(b, "again")); /* reported once */
	assert_string_equal(b->reason, "EADDRNOTAVAIL");
	bnd_resume(b);
	assert_false(b->suspended);
	assert_string_equal(b->reason, "");
	assert_true(bnd_suspend(b, "again"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_slots, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_choose, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_source, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_suspend_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
