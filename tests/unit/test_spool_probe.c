/* SPDX-License-Identifier: MIT */
/*
 * test_spool_probe: the spool's free-space probe wakes the loop only while
 * it has something to watch.  On a real ring in a temporary directory: no
 * probe after opening an idle spool; spool_status() checks at once and
 * starts it; it keeps running while a transaction is open or the space is
 * below the floor, and stops one period after; never without a floor;
 * always under a storage error.  Skips loudly without io_uring.
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
#include <unistd.h>

#include "log.h"
#include "ring.h"
#include "spool.h"
#include "spool_int.h"

#define PROBE_MS 30

struct fx {
	struct ring *r;
	char dir[128];
	char tmp[64];
	struct spool *sp;
};

static int
fx_setup(void **state)
{
	struct ring_opts ro = {.sq_entries = 64, .cq_entries = 256};
	struct fx *f = calloc(1, sizeof(*f));
	int err;

	assert_non_null(f);
	log_set_level(LOG_ERR);
	f->r = ring_new(&ro, &err);
	if (f->r == NULL) {
		fprintf(stderr, "*** io_uring unavailable (%s): SKIPPING ***\n",
			strerror(-err));
		free(f);
		*state = NULL;
		return 0;
	}
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/test_spool_probe.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof(f->dir), "%s/spool", f->tmp);
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[256];

	if (f == NULL)
		return 0;
	spool_close(f->sp);
	assert_int_equal(ring_shutdown(f->r, 2000), 0);
	ring_free(f->r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->tmp);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

#define FX()                                                                   \
	struct fx *f = *state;                                                 \
	if (f == NULL) {                                                       \
		skip();                                                        \
		return;                                                        \
	}

static void
fx_open(struct fx *f, uint64_t min_free_bytes, unsigned min_free_percent)
{
	struct spool_opts o = {.dir = f->dir,
			       .probe_ms = PROBE_MS,
			       .min_free_bytes = min_free_bytes,
			       .min_free_percent = min_free_percent};

	assert_int_equal(spool_open(f->r, &o, &f->sp), 0);
}

static void
run_ms(struct fx *f, int ms)
{
	int64_t end = ring_now_update(f->r) + (int64_t)ms * 1000000;

	while (ring_now_update(f->r) < end)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
}

static bool
probing(const struct fx *f)
{
	return timer_armed(&f->sp->probe);
}

/* A transaction open over several periods keeps the probe; its end lets
 * it stop. */
static void
txn_keeps_probe(struct fx *f)
{
	static const char addr[] = "r@d.example";
	struct record_msg_rcpt rc = {
	    .addr = {(const uint8_t *)addr, sizeof(addr) - 1}};
	struct spool_env env = {.rcpt = &rc, .nrcpt = 1};
	struct spool_txn t = {0};

	assert_int_equal(spool_txn_begin(f->sp, &t, &env, NULL, NULL), 0);
	assert_true(probing(f));
	run_ms(f, PROBE_MS * 4);
	assert_true(probing(f)); /* accepting: still watched */
	spool_txn_abort(&t);
	run_ms(f, PROBE_MS * 3);
	assert_false(probing(f));
}

/* A floor the disk meets: idle costs nothing, intake starts the probe. */
static void
test_idle_no_probe(void **state)
{
	FX();
	fx_open(f, 0, 1);
	assert_false(probing(f));
	run_ms(f, PROBE_MS * 4);
	assert_false(probing(f));
	assert_int_equal(spool_status(f->sp), 0); /* a banner: checks */
	assert_true(probing(f));
	run_ms(f, PROBE_MS * 3); /* nothing came: one period, then off */
	assert_false(probing(f));
	txn_keeps_probe(f);
}

/* Below the floor: refused, and watched until the space is back. */
static void
test_low_space_watched(void **state)
{
	FX();
	fx_open(f, UINT64_MAX / 4, 0);
	assert_true(f->sp->low_space);
	assert_int_equal(spool_status(f->sp), -ENOSPC);
	assert_true(probing(f));
	run_ms(f, PROBE_MS * 4);
	assert_true(probing(f));
	assert_int_equal(spool_status(f->sp), -ENOSPC);
	f->sp->o.min_free_bytes = 1; /* space back */
	run_ms(f, PROBE_MS * 3);
	assert_false(f->sp->low_space);
	assert_false(probing(f));
	assert_int_equal(spool_status(f->sp), 0);
}

/* No floor: no probe at all; a storage error: always, until healed. */
static void
test_no_floor_and_error(void **state)
{
	FX();
	static const char addr[] = "r@d.example";
	struct record_msg_rcpt rc = {
	    .addr = {(const uint8_t *)addr, sizeof(addr) - 1}};
	struct spool_env env = {.rcpt = &rc, .nrcpt = 1};
	struct spool_txn t = {0};
	int64_t end;

	fx_open(f, 0, 0);
	assert_false(probing(f));
	assert_int_equal(spool_status(f->sp), 0);
	assert_false(probing(f));
	assert_int_equal(spool_txn_begin(f->sp, &t, &env, NULL, NULL), 0);
	run_ms(f, PROBE_MS * 2);
	assert_false(probing(f));
	spool_txn_abort(&t);
	/* A storage error starts it, even idle and without a floor: its
	 * wake-ups let the commit hook heal (a fresh segment); healed, it
	 * stops. */
	spool_set_err(f->sp, -EIO, "test");
	assert_true(probing(f));
	end = ring_now_update(f->r) + 2000LL * 1000000;
	while (f->sp->err != 0 && ring_now_update(f->r) < end)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	assert_int_equal(f->sp->err, 0);
	run_ms(f, PROBE_MS * 3);
	assert_false(probing(f));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_idle_no_probe, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_low_space_watched, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_no_floor_and_error, fx_setup,
					    fx_teardown),
	};

	log_init("test_spool_probe");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
