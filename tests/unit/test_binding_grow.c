/* SPDX-License-Identifier: MIT */
/*
 * test_binding_grow: reloads that add more bindings than the spare slots.
 * 20 bindings added over 5 reloads while units are queued on every slot
 * (active and delayed, in records made before and after each growth):
 * the binding table and every record's per-slot queues grow, the units
 * stay where they were, an empty queue from before the growth takes units
 * (its tail is set again), a binding removed on the way is retired, its
 * units moved, and it comes back in its own slot when named again.  A
 * retired binding refuses bnd_resume().  dom_table_grow_bind() on its own.
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

#include "binding.h"
#include "binding_move.h"
#include "config.h"
#include "domain.h"

#define GROW_RELOADS 5
#define GROW_EACH    4 /* bindings added per reload: 20 in all */

static struct config *
load(const char *text)
{
	struct config_err_list errs;
	struct config *cfg = NULL;

	config_err_list_init(&errs);
	if (config_load_string("grow", text, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			print_error("%s\n", errs.v[i]);
		fail_msg("config did not load");
	}
	config_err_list_fini(&errs);
	return cfg;
}

/*
 * The file of reload k (0: the start): default and keep (unless
 * !with_keep), plus GROW_EACH bindings n<r>_<i> for every r in 1..k.
 */
static struct config *
conf_k(int k, bool with_keep)
{
	char text[8192];
	size_t off = 0;

	off += (size_t)snprintf(text + off, sizeof(text) - off,
				"[binding default]\naddress = 127.0.0.2\n");
	if (with_keep)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"[binding keep]\nehlo = keep.test\n");
	for (int r = 1; r <= k; r++)
		for (int i = 0; i < GROW_EACH; i++)
			off += (size_t)snprintf(
			    text + off, sizeof(text) - off,
			    "[binding n%d_%d]\nehlo = n%d-%d.test\n", r, i, r,
			    i);
	return load(text);
}

/* What daemon.c does on a reload: grow the records with the table. */
static void
reload(struct bnd_table *t, struct dom_table *doms, struct config *cfg)
{
	size_t cap = t->cap;

	bnd_table_reload(t, cfg, NULL);
	if (t->cap > cap)
		dom_table_grow_bind(doms, (unsigned)t->cap);
	(void)bnd_move_retired(t, doms, NULL, NULL);
	config_free(cfg);
}

static struct dom_unit *
queue(struct dom_table *doms, domain_record *dr, int slot, bool delayed)
{
	static uint8_t seq;
	uint8_t id[DOM_ID_LEN] = {++seq};
	struct dom_unit *u = dom_unit_new(id, 1);

	u->bslot = slot;
	u->rcpt[0] = seq;
	if (delayed) {
		u->due_ms = 1000 + seq;
		dom_delayed_push(doms, dr, u);
	} else {
		dom_active_push(doms, dr, u);
	}
	return u;
}

/* Every queue of dr agrees with its count, its slot and its tail. */
static void
check_record(const struct bnd_table *t, const domain_record *dr)
{
	uint32_t all = 0;

	assert_int_equal(dr->nbind, t->cap);
	for (unsigned s = 0; s < dr->nbind; s++) {
		const struct dom_queue *q = &dr->bind[s].active;
		struct dom_unit *const *tail = &q->head;
		uint32_t n = 0;

		for (const struct dom_unit *u = q->head; u; u = u->next) {
			assert_int_equal(u->bslot, (int)s);
			assert_ptr_equal(u->dr, dr);
			tail = &u->next;
			n++;
		}
		assert_int_equal(n, q->count);
		assert_ptr_equal(q->tail, tail);
		all += n;
	}
	assert_int_equal(all, dr->nactive);
}

static void
test_grow_20_over_5(void **state)
{
	struct bnd_table t;
	struct dom_table doms;
	struct config *cfg = conf_k(0, true);
	domain_record *x, *y, *late[GROW_RELOADS];
	struct dom_unit *first, *kept_delayed;
	uint64_t units = 0;
	char lname[16];
	int keep;

	(void)state;
	bnd_table_init(&t, cfg);
	config_free(cfg);
	dom_table_init(&doms, (unsigned)t.cap);
	keep = bnd_find(&t, "keep");
	assert_int_equal(keep, 1);
	x = dom_get(&doms, "x.test");
	y = dom_get(&doms, "y.test"); /* stays empty on every slot */
	first = queue(&doms, x, 0, false);
	queue(&doms, x, keep, false);
	kept_delayed = queue(&doms, x, keep, true);
	units = 3;
	for (int k = 1; k <= GROW_RELOADS; k++) {
		size_t n0 = t.n;

		/* reload 4 drops keep, reload 5 names it again */
		reload(&t, &doms, conf_k(k, k != 4));
		assert_int_equal(t.n, n0 + GROW_EACH);
		assert_true(t.cap >= t.n);
		for (int i = 0; i < GROW_EACH; i++) {
			char name[32];
			int slot;

			snprintf(name, sizeof(name), "n%d_%d", k, i);
			slot = bnd_find(&t, name);
			assert_int_equal(slot, (int)n0 + i);
			assert_string_equal(bnd_get(&t, slot)->name, name);
			/* x had units before; y's queues were all empty */
			queue(&doms, x, slot, false);
			queue(&doms, x, slot, i % 2 == 0);
			queue(&doms, y, slot, false);
			units += 3;
		}
		/* the oldest empty queue of y, from before every growth */
		queue(&doms, y, 0, false);
		units++;
		/* a record made after the growth */
		snprintf(lname, sizeof(lname), "l%d.test", k);
		late[k - 1] = dom_get(&doms, lname);
		queue(&doms, late[k - 1], (int)t.n - 1, false);
		units++;
		assert_int_equal(doms.units, units);
		check_record(&t, x);
		check_record(&t, y);
		for (int j = 0; j < k; j++)
			check_record(&t, late[j]);
		if (k == 4) {
			/* keep retired: its units went to default (slot 0) */
			assert_int_equal(bnd_find(&t, "keep"), -ENOENT);
			assert_int_equal(x->bind[keep].active.count, 0);
			assert_int_equal(kept_delayed->bslot, 0);
		}
	}
	/* 20 added over 5 reloads; keep back in its own slot */
	assert_int_equal(t.n, 2 + GROW_RELOADS * GROW_EACH);
	assert_int_equal(bnd_find(&t, "keep"), keep);
	assert_false(bnd_get(&t, keep)->retired);
	assert_false(bnd_get(&t, keep)->suspended);
	assert_string_equal(bnd_get(&t, keep)->ehlo, "keep.test");
	/* the first unit is still first on default's queue */
	assert_ptr_equal(x->bind[0].active.head, first);
	/* every unit comes out of the queue it was put on */
	while (x->nactive > 0) {
		struct dom_unit *u = dom_active_pop_any(&doms, x);

		assert_non_null(u);
		dom_unit_free(u);
	}
	assert_int_equal(x->bind[t.n - 1].active.count, 0);
	dom_table_fini(&doms);
	bnd_table_fini(&t);
}

/* A retired binding stays retired whatever asks to resume it. */
static void
test_resume_retired(void **state)
{
	struct bnd_table t;
	struct config *cfg = conf_k(1, true);
	struct binding *b;
	int keep;

	(void)state;
	bnd_table_init(&t, cfg);
	config_free(cfg);
	keep = bnd_find(&t, "keep");
	cfg = conf_k(1, false);
	bnd_table_reload(&t, cfg, NULL);
	config_free(cfg);
	b = bnd_get(&t, keep);
	assert_true(b->retired);
	assert_true(b->suspended);
	assert_int_equal(bnd_resume(b), -EPERM);
	assert_true(b->retired);
	assert_true(b->suspended);
	assert_string_equal(b->reason, "removed from the configuration");
	assert_false(bnd_suspend(b, "EADDRNOTAVAIL")); /* already */
	for (int i = 0; i < 20; i++)
		assert_int_not_equal(bnd_choose(&t, "keep", NULL), keep);
	/* named again by a reload: back, resumed */
	cfg = conf_k(1, true);
	bnd_table_reload(&t, cfg, NULL);
	config_free(cfg);
	b = bnd_get(&t, keep);
	assert_false(b->retired);
	assert_false(b->suspended);
	assert_int_equal(bnd_choose(&t, "keep", NULL), keep);
	assert_int_equal(bnd_resume(b), 0);
	bnd_table_fini(&t);
}

/* dom_table_grow_bind alone: counters, queues and tails survive. */
static void
test_dom_grow_bind(void **state)
{
	struct dom_table doms;
	domain_record *a, *b;
	struct dom_unit *u;

	(void)state;
	dom_table_init(&doms, 2);
	a = dom_get(&doms, "a.test");
	b = dom_get(&doms, "b.test");
	queue(&doms, a, 1, false);
	a->bind[1].nconn = 3;
	a->bind[1].waiting = 1;
	dom_table_grow_bind(&doms, 2); /* not larger: nothing */
	assert_int_equal(a->nbind, 2);
	dom_table_grow_bind(&doms, 1);
	assert_int_equal(doms.nbind, 2);
	dom_table_grow_bind(&doms, 7);
	assert_int_equal(doms.nbind, 7);
	assert_int_equal(a->nbind, 7);
	assert_int_equal(b->nbind, 7);
	assert_int_equal(a->bind[1].nconn, 3);
	assert_int_equal(a->bind[1].waiting, 1);
	assert_int_equal(a->bind[6].nconn, 0);
	assert_int_equal(a->bind[1].active.count, 1);
	/* b's slot 0 was empty: its tail must point into the new array */
	queue(&doms, b, 0, false);
	queue(&doms, b, 0, false);
	queue(&doms, b, 6, false);
	assert_int_equal(b->bind[0].active.count, 2);
	assert_non_null(b->bind[0].active.head->next);
	assert_int_equal(dom_get(&doms, "c.test")->nbind, 7);
	u = dom_active_pop(&doms, b, 6);
	assert_non_null(u);
	dom_unit_free(u);
	assert_ptr_equal(b->bind[6].active.tail, &b->bind[6].active.head);
	dom_table_fini(&doms);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grow_20_over_5),
	    cmocka_unit_test(test_resume_retired),
	    cmocka_unit_test(test_dom_grow_bind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
