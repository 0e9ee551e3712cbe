/* SPDX-License-Identifier: MIT */
/*
 * dlv_fixture.c: the routing context of the delivery unit tests (see
 * dlv_fixture.h).  Test support only: it asserts instead of returning
 * errors, and never opens a connection (configurations it is given keep
 * `[delivery] suspended = true` unless a test wants sessions staged).
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

#include "dlv_fixture.h"
#include "log.h"
#include "ring_fixture.h"

void
dlv_fx_open(struct dlv_fx *f)
{
	struct spool_opts so = {.dir = f->dir, .unsafe_no_sync = true};

	assert_int_equal(spool_open(f->r, &so, &f->sp), 0);
	dom_table_init(&f->doms, (unsigned)f->bnds.n);
	assert_int_equal(dlv_new(&(struct dlv_opts){.ring = f->r,
						    .cfg = f->cfg,
						    .sp = f->sp,
						    .dl = f->dl,
						    .doms = &f->doms,
						    .bnds = &f->bnds},
				 &f->d),
			 0);
}

void
dlv_fx_close(struct dlv_fx *f)
{
	dlv_free(f->d);
	f->d = NULL;
	spool_close(f->sp);
	f->sp = NULL;
	dom_table_fini(&f->doms);
}

int
dlv_fx_setup(void **state, const char *name, const char *conf)
{
	struct config_err_list errs;
	struct dlv_fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	log_set_level(LOG_ERR);
	f->r = ringfx_new(256, 4096);
	if (f->r == NULL) {
		free(f);
		*state = NULL;
		return 0;
	}
	ringfx_mkdtemp(f->tmp, sizeof(f->tmp), name);
	snprintf(f->dir, sizeof(f->dir), "%s/spool", f->tmp);
	snprintf(f->logp, sizeof(f->logp), "%s/d.jsonl", f->tmp);
	config_err_list_init(&errs);
	assert_int_equal(config_load_string("t", conf, &f->cfg, &errs), 0);
	config_err_list_fini(&errs);
	assert_int_equal(dlogw_open(f->r, f->logp, &f->dl), 0);
	bnd_table_init(&f->bnds, f->cfg);
	dlv_fx_open(f);
	*state = f;
	return 0;
}

int
dlv_fx_teardown(void **state)
{
	struct dlv_fx *f = *state;

	if (f == NULL)
		return 0;
	dlv_fx_close(f);
	dlogw_close(f->dl);
	bnd_table_fini(&f->bnds);
	config_free(f->cfg);
	assert_int_equal(ring_shutdown(f->r, 2000), 0);
	ring_free(f->r);
	ringfx_rmdir(f->tmp);
	free(f);
	return 0;
}

static void
dlv_fx_on_commit(void *arg, int err)
{
	*(int *)arg = err == 0 ? 1 : err;
}

static void
dlv_fx_on_resume(void *arg)
{
	(void)arg;
}

void
dlv_fx_spool(struct dlv_fx *f, const struct spool_env *env, const char *body,
	     size_t len, uint8_t id[SPOOL_ID_LEN])
{
	struct spool_txn txn = {0};
	int done = 0, rc;

	assert_int_equal(
	    spool_txn_begin(f->sp, &txn, env, dlv_fx_on_resume, NULL), 0);
	memcpy(id, spool_txn_id(&txn), SPOOL_ID_LEN);
	rc = spool_txn_body(&txn, body, len);
	assert_true(rc == 0 || rc == SPOOL_BUSY); /* all taken either way */
	spool_txn_commit(&txn, dlv_fx_on_commit, &done);
	while (!done)
		ring_run_once(f->r, 100000000);
	assert_int_equal(done, 1);
}

void
dlv_fx_msg1(struct dlv_fx *f, const char *rcpt, uint8_t id[SPOOL_ID_LEN])
{
	static const char body[] = "Subject: t\r\n\r\nbody\r\n";
	struct record_msg_rcpt rc = {
	    .addr = {(const uint8_t *)rcpt, strlen(rcpt)}};
	struct spool_env env = {
	    .sender = {(const uint8_t *)"s@src.test", 10},
	    .rcpt = &rc,
	    .nrcpt = 1,
	};

	dlv_fx_spool(f, &env, body, sizeof(body) - 1, id);
	assert_int_equal(dlv_queue_msg(f->d, spool_find(f->sp, id)), 1);
}

void
dlv_fx_drain(struct dlv_fx *f, int rounds)
{
	assert_int_equal(spool_drain(f->sp, 5000), 0);
	for (int i = 0; i < rounds; i++)
		ring_run_once(f->r, 10000000);
}
