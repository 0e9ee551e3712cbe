/* SPDX-License-Identifier: MIT */
/*
 * dlv_fixture.h: the routing context of the delivery unit tests (shared by
 * test_delivery.c, test_delivery_dsn.c and test_connection.c): a real
 * ring, a spool and a delivery log in a temporary directory, the binding
 * and domain tables and a struct dlv over them, built from a configuration
 * text.  Without io_uring the setup leaves *state NULL and DLV_FX() skips
 * the test, loudly.  Owns everything it creates; tests only borrow.
 */
#ifndef RINGMTA_DLV_FIXTURE_H
#define RINGMTA_DLV_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "delivery_int.h"
#include "dlogw.h"
#include "spool.h"

struct dlv_fx {
	struct ring *r;
	char tmp[64], dir[96], logp[96];
	struct config *cfg;
	struct spool *sp;
	struct dlogw *dl;
	struct dom_table doms;
	struct bnd_table bnds;
	struct dlv *d;
};

/* At the top of a test: f = the fixture, or skip without io_uring. */
#define DLV_FX()                                                               \
	struct dlv_fx *f = *state;                                             \
	if (f == NULL) {                                                       \
		skip();                                                        \
		return;                                                        \
	}

/*
 * Build the fixture from configuration text conf in a new directory
 * /tmp/<name>.XXXXXX: *state = the fixture, or NULL when io_uring is
 * unavailable.  Returns 0 (cmocka setup convention); fails the test on
 * any other error.
 */
int dlv_fx_setup(void **state, const char *name, const char *conf);
/* Free what dlv_fx_setup made and remove the directory; 0. */
int dlv_fx_teardown(void **state);
/* Open the spool at f->dir and the domain table and dlv on it / close
 * them again (a restart keeps the directory, bindings and log). */
void dlv_fx_open(struct dlv_fx *f);
void dlv_fx_close(struct dlv_fx *f);
/* Spool env with body[len] and wait for its commit; id = its id. */
void dlv_fx_spool(struct dlv_fx *f, const struct spool_env *env,
		  const char *body, size_t len, uint8_t id[SPOOL_ID_LEN]);
/* Spool a message from s@src.test to rcpt alone, wait for its commit
 * and queue it (one unit); id = its id. */
void dlv_fx_msg1(struct dlv_fx *f, const char *rcpt, uint8_t id[SPOOL_ID_LEN]);
/* Let the spool write what it holds, then run the ring rounds times. */
void dlv_fx_drain(struct dlv_fx *f, int rounds);

#endif
