/* SPDX-License-Identifier: MIT */
/*
 * spool_fixture.h: the fixture of the spool tests (test_spool.c,
 * test_spool_stream.c, test_spool_hints.c, test_spool_probe.c and others):
 * a real ring and a spool directory under a new
 * /tmp/test_spool.XXXXXX (ring_fixture.c), messages with deterministic
 * envelopes and bodies, and checks on what the spool kept.  Without
 * io_uring the setup leaves *state NULL and SPFX() skips the test, loudly.
 * Owns the ring, the spool and the directory; tests only borrow them.
 */
#ifndef RINGMTA_SPOOL_FIXTURE_H
#define RINGMTA_SPOOL_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ring.h"
#include "spool.h"
#include "spool_int.h"

struct spfx {
	struct ring *r;
	char dir[128];
	char tmp[64];
	struct spool *sp;
	struct spool_opts o;
};

/* A commit's outcome. */
struct spfx_cres {
	int calls;
	int err;
	int resumed;
	uint8_t id[SPOOL_ID_LEN];
};

struct spfx_mres {
	int calls, err;
};

struct spfx_env {
	struct spool_env env;
	struct record_msg_rcpt rcpt[16];
	char addr[16][32];
};

/* At the top of a test: f = the fixture, or skip without io_uring. */
#define SPFX()                                                                 \
	struct spfx *f = *state;                                               \
	if (f == NULL) {                                                       \
		skip();                                                        \
		return;                                                        \
	}

/* cmocka setup: a ring and a directory (f->o.dir, not yet opened; probe
 * every 50 ms); *state = the fixture or NULL without io_uring.  0. */
int spfx_setup(void **state);
/* cmocka teardown: close the spool, free the ring, remove the directory
 * (unmounting a tmpfs a test left on it); 0. */
int spfx_teardown(void **state);
/* Open the spool with f->o (fails the test on an error) / close and open
 * it again: a restart that replays the directory. */
void spfx_open(struct spfx *f);
void spfx_reopen(struct spfx *f);
/* Commit and resume callbacks: count the calls into a struct spfx_cres
 * and keep the error. */
void spfx_cres_on_commit(void *arg, int err);
void spfx_cres_on_resume(void *arg);
/* Mark callback: counts the calls into a struct spfx_mres. */
void spfx_mres_on_mark(void *arg, int err);
/* Run ring turns until *flag >= n (fails the test after 20 s). */
void spfx_run_until(struct spfx *f, const int *flag, int n);
/* Run ring turns for ms milliseconds. */
void spfx_run_ms(struct spfx *f, int ms);
/* Deterministic body of message n, len bytes, ending in CRLF. */
void spfx_body_fill(uint8_t *p, size_t len, unsigned n);
/* An envelope with nrcpt (<= 16) recipients in e (which owns the bytes). */
void spfx_env_make(struct spfx_env *e, unsigned nrcpt);
/* Begin (spfx_env_make) + body n of len bytes in one piece + commit, with
 * nrcpt recipients; c is reset and gets the id and the outcome. */
void spfx_submit(struct spfx *f, struct spool_txn *t, struct spfx_cres *c,
		 unsigned n, size_t len, unsigned nrcpt);
/* spfx_submit with 3 recipients, then run until it commits (never
 * synchronously). */
void spfx_commit_one(struct spfx *f, struct spfx_cres *c, unsigned n,
		     size_t len);
/* The live message id has body n of len bytes, byte-exact, CRC valid. */
void spfx_check_body(struct spfx *f, const uint8_t *id, unsigned n, size_t len);
/* Entries of dir whose name ends in suffix (dot files not counted); -1
 * when dir cannot be opened. */
int spfx_count_files(const char *dir, const char *suffix);
/* Segment numbers present in seg/, as a bit set of the first 64. */
uint64_t spfx_seg_set(struct spfx *f);

#endif
