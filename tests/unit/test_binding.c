/* SPDX-License-Identifier: MIT */
/*
 * test_binding: the binding table built from a configuration: slots in
 * name order, lookup, the choice of a message's binding (X-Binding name,
 * listener default, "default", unknown names), group round robin skipping
 * suspended members, source addresses per family (round robin, none),
 * suspension reported once, the reload diff (same, changed, added,
 * removed, more added than spare slots) applied in place, and the units
 * of a removed binding moved (at once, and again while its sessions
 * remain).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>

#include "binding.h"
#include "binding_move.h"
#include "config.h"
#include "ring.h"

/* The pool a1..a3; conf adds "solo", conf_no_solo is the file without it. */
#define POOL                                                                   \
	"[binding a1]\n"                                                       \
	"address = 127.0.0.2, 127.0.0.3, ::1\n"                                \
	"ehlo = a1.test\n"                                                     \
	"group = pool\n"                                                       \
	"[binding a2]\n"                                                       \
	"address = 127.0.0.4\n"                                                \
	"group = pool\n"                                                       \
	"[binding a3]\n"                                                       \
	"address = 127.0.0.5\n"                                                \
	"group = pool\n"

static const char conf[] = POOL "[binding solo]\n"
				"address = 127.0.0.6\n"
				"ehlo = solo.test\n";
static const char conf_no_solo[] = POOL;

static struct config *load(const char *text);

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
	assert_int_equal(bnd_resume(b), 0);
	assert_false(b->suspended);
	assert_string_equal(b->reason, "");
	assert_true(bnd_suspend(b, "again"));
}

static struct config *
load(const char *text)
{
	struct config_err_list errs;
	struct config *cfg = NULL;

	config_err_list_init(&errs);
	if (config_load_string("reload", text, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			print_error("%s\n", errs.v[i]);
		fail_msg("config did not load");
	}
	config_err_list_fini(&errs);
	return cfg;
}

static const struct bnd_diff_ent *
diff_of(const struct bnd_diff *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].name, name) == 0)
			return &d->v[i];
	fail_msg("%s not in the diff", name);
	return NULL;
}

/* The same file: nothing changes. */
static void
test_diff_same(void **state)
{
	struct bnd_table *t = *state;
	struct config *cfg = load(conf);
	struct bnd_diff d;

	bnd_diff(t, cfg, &d);
	assert_int_equal(d.n, 5);
	assert_int_equal(d.count[BND_SAME], 5);
	for (size_t i = 0; i < d.n; i++)
		assert_int_equal(d.v[i].slot, (int)i);
	bnd_diff_fini(&d);
	bnd_table_reload(t, cfg, NULL);
	assert_int_equal(t->n, 5);
	config_free(cfg);
}

/*
 * a1: new EHLO; a2: another address; a3: leaves the group; solo: removed;
 * b1, b2: added.  Table-driven over what each binding becomes.
 */
static void
test_diff_apply(void **state)
{
	static const char next[] = "[binding a1]\n"
				   "address = 127.0.0.2, 127.0.0.3, ::1\n"
				   "ehlo = a1-new.test\n"
				   "group = pool\n"
				   "[binding a2]\n"
				   "address = 127.0.0.44\n"
				   "group = pool\n"
				   "[binding a3]\n"
				   "address = 127.0.0.5\n"
				   "[binding b1]\n"
				   "address = 127.0.0.7\n"
				   "ehlo = b1.test\n"
				   "[binding b2]\n"
				   "ehlo = b2.test\n";
	static const struct {
		const char *name;
		enum bnd_change what;
		int slot;
	} want[] = {
	    {"a1", BND_CHANGED, 0},   {"a2", BND_CHANGED, 1},
	    {"a3", BND_CHANGED, 2},   {"default", BND_SAME, 3},
	    {"solo", BND_REMOVED, 4}, {"b1", BND_ADDED, 5},
	    {"b2", BND_ADDED, 6},
	};
	struct bnd_table *t = *state;
	struct config *cfg = load(next);
	struct sockaddr_storage ss;
	const char *old_ehlo = bnd_get(t, 0)->ehlo;
	struct bnd_diff d;
	socklen_t len;
	char buf[64];

	bnd_get(t, 1)->deliveries = 7;
	assert_true(bnd_suspend(bnd_get(t, 1), "EADDRNOTAVAIL"));
	bnd_table_reload(t, cfg, &d);
	assert_int_equal(d.n, nitems(want));
	for (size_t i = 0; i < nitems(want); i++) {
		const struct bnd_diff_ent *e = diff_of(&d, want[i].name);

		if (e->what != want[i].what || e->slot != want[i].slot)
			fail_msg("%s: %s slot %d, want %s slot %d",
				 want[i].name, bnd_change_str(e->what), e->slot,
				 bnd_change_str(want[i].what), want[i].slot);
	}
	assert_int_equal(d.count[BND_CHANGED], 3);
	assert_int_equal(d.count[BND_ADDED], 2);
	assert_int_equal(d.count[BND_REMOVED], 1);
	bnd_diff_fini(&d);
	config_free(cfg); /* the table keeps its own copies */
	/* changed in place: slots, names and counters stay */
	assert_int_equal(t->n, 7);
	assert_string_equal(bnd_get(t, 0)->ehlo, "a1-new.test");
	assert_string_equal(old_ehlo, "a1.test"); /* still readable */
	assert_int_equal(bnd_get(t, 1)->deliveries, 7);
	assert_false(bnd_get(t, 1)->suspended);
	assert_int_equal(bnd_source(bnd_get(t, 1), AF_INET, &ss, &len), 1);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf,
		  sizeof(buf));
	assert_string_equal(buf, "127.0.0.44");
	assert_null(bnd_get(t, 2)->group);
	/* removed: retired, its slot kept for open sessions, chosen for
	 * nothing (its name falls back to the listener's, then default) */
	assert_true(bnd_get(t, 4)->retired);
	assert_true(bnd_get(t, 4)->suspended);
	assert_string_equal(bnd_get(t, 4)->reason,
			    "removed from the configuration");
	assert_string_equal(bnd_get(t, 4)->ehlo, "solo.test");
	assert_int_equal(bnd_find(t, "solo"), -ENOENT);
	assert_int_equal(bnd_choose(t, "solo", NULL), 3);
	assert_int_equal(bnd_choose(t, "solo", "b1"), 5);
	/* added: found by name, chosen, no address for b2 */
	assert_int_equal(bnd_find(t, "b1"), 5);
	assert_int_equal(bnd_get(t, 6)->slot, 6);
	assert_string_equal(bnd_get(t, 6)->ehlo, "b2.test");
	assert_int_equal(bnd_choose(t, "b1", NULL), 5);
	assert_int_equal(bnd_source(bnd_get(t, 6), AF_INET, &ss, &len), 0);
	/* the group lost a3 */
	for (int i = 0; i < 6; i++)
		assert_int_not_equal(bnd_choose(t, "a1", NULL), 2);
	/* the same file again: the retired binding stays retired, quietly */
	cfg = load(next);
	bnd_diff(t, cfg, &d);
	assert_int_equal(diff_of(&d, "solo")->what, BND_SAME);
	assert_int_equal(d.count[BND_SAME], 7);
	bnd_diff_fini(&d);
	config_free(cfg);
	/* named again (the first file): it comes back in its old slot */
	cfg = load(conf);
	bnd_table_reload(t, cfg, &d);
	assert_int_equal(diff_of(&d, "solo")->what, BND_CHANGED);
	assert_int_equal(diff_of(&d, "solo")->slot, 4);
	assert_int_equal(diff_of(&d, "b1")->what, BND_REMOVED);
	bnd_diff_fini(&d);
	config_free(cfg);
	assert_false(bnd_get(t, 4)->retired);
	assert_false(bnd_get(t, 4)->suspended);
	assert_int_equal(bnd_find(t, "solo"), 4);
	assert_int_equal(bnd_find(t, "b1"), -ENOENT);
	assert_int_equal(t->n, 7); /* slots are never reused */
}

/* More new bindings than spare slots: the table grows, every one added. */
static void
test_diff_grow(void **state)
{
	struct bnd_table *t = *state;
	char text[4096];
	size_t off = strlen(conf), cap = t->cap;
	struct config *cfg;
	struct bnd_diff d;

	assert_int_equal(cap, 5 + BND_SPARE_SLOTS);
	memcpy(text, conf, off);
	for (int i = 0; i < BND_SPARE_SLOTS + 2; i++)
		off +=
		    (size_t)snprintf(text + off, sizeof(text) - off,
				     "[binding n%d]\nehlo = n%d.test\n", i, i);
	cfg = load(text);
	bnd_diff(t, cfg, &d); /* only looks */
	assert_int_equal(t->cap, cap);
	assert_int_equal(d.count[BND_ADDED], BND_SPARE_SLOTS + 2);
	bnd_diff_fini(&d);
	bnd_table_reload(t, cfg, &d);
	assert_int_equal(d.count[BND_ADDED], BND_SPARE_SLOTS + 2);
	assert_int_equal(diff_of(&d, "n5")->slot, 5 + 5);
	assert_int_equal(t->n, 5 + BND_SPARE_SLOTS + 2);
	assert_int_equal(t->cap, 2 * cap); /* doubled */
	assert_int_equal(bnd_find(t, "n5"), 5 + 5);
	assert_int_equal(bnd_find(t, "n3"), 5 + 3);
	assert_string_equal(bnd_get(t, 10)->ehlo, "n5.test");
	assert_null(bnd_get(t, (int)t->n)); /* allocated, not in use */
	/* the old slots kept their settings across the move */
	assert_string_equal(bnd_get(t, 0)->ehlo, "a1.test");
	assert_int_equal(bnd_get(t, 0)->naddr, 3);
	bnd_diff_fini(&d);
	/* a second reload of the same file: nothing to do */
	bnd_diff(t, cfg, &d);
	assert_int_equal(d.count[BND_SAME], 5 + BND_SPARE_SLOTS + 2);
	assert_int_equal(d.count[BND_ADDED], 0);
	bnd_diff_fini(&d);
	config_free(cfg);
	assert_string_equal(bnd_change_str(BND_ADDED), "added");
	assert_string_equal(bnd_change_str(BND_CHANGE__COUNT), "?");
}

/* ---- moving the units of a removed binding -------------------------- */

static unsigned pokes;

static void
count_poke(domain_record *dr)
{
	(void)dr;
	pokes++;
}

static struct dom_unit *
unit_on(struct dom_table *doms, domain_record *dr, int slot, bool delayed)
{
	static const uint8_t id[DOM_ID_LEN] = {1};
	struct dom_unit *u = dom_unit_new(id, 1);

	u->bslot = slot;
	if (delayed) {
		u->due_ms = 1000;
		dom_delayed_push(doms, dr, u);
	} else {
		dom_active_push(doms, dr, u);
	}
	return u;
}

/* conf without "solo" (slot 4): solo is retired. */
static void
retire_solo(struct bnd_table *t)
{
	struct config *cfg = load(conf_no_solo);

	bnd_table_reload(t, cfg, NULL);
	config_free(cfg);
	assert_true(bnd_get(t, 4)->retired);
}

static void
test_move_retired(void **state)
{
	struct bnd_table *t = *state;
	struct dom_table doms;
	domain_record *x, *y;
	struct dom_unit *dx, *dy, *keep;

	dom_table_init(&doms, (unsigned)t->cap);
	x = dom_get(&doms, "x.test");
	y = dom_get(&doms, "y.test");
	for (int i = 0; i < 3; i++)
		unit_on(&doms, x, 4, false);
	keep = unit_on(&doms, x, 0, false);
	dx = unit_on(&doms, x, 4, true);
	dy = unit_on(&doms, y, 4, true);
	/* nothing retired yet: nothing moves */
	assert_int_equal(bnd_move_retired(t, &doms, NULL, count_poke), 0);
	retire_solo(t);
	pokes = 0;
	assert_int_equal(bnd_move_retired(t, &doms, NULL, count_poke), 5);
	assert_int_equal(x->bind[4].active.count, 0);
	assert_int_equal(x->bind[3].active.count, 3); /* default */
	assert_int_equal(x->bind[0].active.count, 1);
	assert_int_equal(keep->bslot, 0);
	assert_int_equal(dx->bslot, 3);
	assert_int_equal(dy->bslot, 3);
	assert_int_equal(x->nactive, 4);
	assert_int_equal(doms.units, 6);
	assert_int_equal(pokes, 1); /* y.test only had a delayed unit */
	/* a second pass finds nothing */
	assert_int_equal(bnd_move_retired(t, &doms, NULL, count_poke), 0);
	/* the listener's binding first, spread over its group */
	for (int i = 0; i < 3; i++)
		unit_on(&doms, y, 4, false);
	assert_int_equal(bnd_move_retired(t, &doms, "a2", NULL), 3);
	assert_int_equal(y->bind[0].active.count + y->bind[1].active.count +
			     y->bind[2].active.count,
			 3);
	assert_int_equal(y->bind[4].active.count, 0);
	/* busy while a session of the retired binding is open */
	assert_false(bnd_retired_busy(t));
	bnd_get(t, 4)->nconn = 1;
	assert_true(bnd_retired_busy(t));
	bnd_get(t, 4)->nconn = 0;
	dom_table_fini(&doms);
}

/* The mover repeats while a retired binding has sessions. */
static void
test_mover(void **state)
{
	struct bnd_table *t = *state;
	struct dom_table doms;
	struct bnd_mover m;
	domain_record *x;
	struct ring *r;
	int err;

	r = ring_new(NULL, &err);
	assert_non_null(r);
	dom_table_init(&doms, (unsigned)t->cap);
	x = dom_get(&doms, "x.test");
	bnd_mover_init(&m, r, t, &doms, count_poke);
	unit_on(&doms, x, 4, false);
	bnd_mover_run(&m, NULL); /* nothing retired: nothing moves */
	assert_int_equal(m.moved, 0);
	assert_false(timer_armed(&m.tm));
	retire_solo(t);
	bnd_get(t, 4)->nconn = 1; /* a session of solo is still open */
	bnd_mover_run(&m, NULL);
	assert_int_equal(m.moved, 1);
	assert_true(timer_armed(&m.tm));
	unit_on(&doms, x, 4, false); /* the session gives a unit back */
	for (int i = 0; i < 150 && m.moved < 2; i++)
		ring_run_once(r, 10 * 1000000LL);
	assert_int_equal(m.moved, 2);
	assert_int_equal(x->bind[3].active.count, 2);
	assert_true(timer_armed(&m.tm));
	bnd_get(t, 4)->nconn = 0; /* the last session closed */
	unit_on(&doms, x, 4, true);
	for (int i = 0; i < 150 && timer_armed(&m.tm); i++)
		ring_run_once(r, 10 * 1000000LL);
	assert_false(timer_armed(&m.tm));
	assert_int_equal(m.moved, 3); /* the last sweep took it */
	bnd_mover_fini(&m);
	dom_table_fini(&doms);
	ring_shutdown(r, 1000);
	ring_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_slots, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_choose, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_source, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_suspend_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_diff_same, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_diff_apply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_diff_grow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_move_retired, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mover, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
