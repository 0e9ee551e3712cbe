/* SPDX-License-Identifier: MIT */
/*
 * test_spool_stream: the spool's streamed bodies and its storage faults,
 * on a real ring (spool_fixture.c).  A 5 MB streamed message fed in small
 * pieces, the body room of a batch, bodies in pieces; envelope flags set
 * after begin (inline, streamed) through replay; a full disk (a 1 MiB
 * tmpfs), a failed fdatasync and a failed streamed link (fault seam):
 * never an acknowledgement, never replayed, healed by itself.  Skips
 * loudly without io_uring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crc32c.h"
#include "listener.h"
#include "log.h"
#include "ring.h"
#include "spool.h"
#include "spool_fixture.h"
#include "spool_int.h"

static void
test_streamed(void **state)
{
	SPFX();
	enum {
		LEN = 5 * 1000 * 1000 + 3,
		PIECE = 4093
	};
	struct spool_txn t = {0};
	struct spfx_env e;
	struct spfx_cres c = {0}, s2;
	uint8_t *b = malloc(LEN);
	char segdir[256];
	size_t off = 0;

	f->o.inline_max = 1 << 20;
	spfx_open(f);
	spfx_env_make(&e, 2);
	spfx_body_fill(b, LEN, 99);
	assert_int_equal(
	    spool_txn_begin(f->sp, &t, &e.env, spfx_cres_on_resume, &c), 0);
	memcpy(c.id, spool_txn_id(&t), SPOOL_ID_LEN);
	while (off < LEN) {
		size_t n = MIN((size_t)PIECE, LEN - off);
		int rc = spool_txn_body(&t, b + off, n);

		assert_true(rc == 0 || rc == SPOOL_BUSY);
		off += n;
		if (rc == SPOOL_BUSY) {
			int want = c.resumed + 1;

			spfx_run_until(f, &c.resumed, want);
		}
	}
	assert_true(c.resumed > 0);
	snprintf(segdir, sizeof(segdir), "%s/seg", f->dir);
	assert_int_equal(spfx_count_files(segdir, ".seg"), 2); /* + tmp- */
	spool_txn_commit(&t, spfx_cres_on_commit, &c);
	spfx_run_until(f, &c.calls, 1);
	assert_int_equal(c.err, 0);
	assert_int_equal(spool_stats(f->sp)->streamed, 1);
	spfx_check_body(f, c.id, 99, LEN);
	spfx_commit_one(f, &s2, 5, 100); /* shared appends go on after it */
	assert_int_equal(s2.err, 0);
	spfx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 2);
	spfx_check_body(f, c.id, 99, LEN);
	spfx_check_body(f, s2.id, 5, 100);
	/* An aborted stream leaves no file behind. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    spool_txn_begin(f->sp, &t, &e.env, spfx_cres_on_resume, &c), 0);
	assert_true(spool_txn_body(&t, b, 2 << 20) >= 0);
	spool_txn_abort(&t);
	assert_int_equal(spool_drain(f->sp, 5000), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(spfx_count_files(segdir, ".seg"),
			 (int)__builtin_popcountll(spfx_seg_set(f)));
	free(b);
}

/*
 * A body produced in place (spool_txn_body_room, then spool_txn_body with
 * that pointer) is stored byte-exact and replays; no room past inline_max
 * (there the body streams), after commit, or with no transaction.
 */
static void
test_body_room(void **state)
{
	SPFX();
	enum {
		LEN = 40000,
		PIECE = 3000
	};
	struct spool_txn t = {0}, none = {0};
	struct spfx_env e;
	struct spfx_cres c = {0};
	uint8_t *b = malloc(LEN);
	size_t off = 0;

	f->o.inline_max = 32 << 10;
	spfx_open(f);
	spfx_env_make(&e, 2);
	spfx_body_fill(b, LEN, 42);
	assert_null(spool_txn_body_room(&none, 1));
	assert_int_equal(
	    spool_txn_begin(f->sp, &t, &e.env, spfx_cres_on_resume, &c), 0);
	memcpy(c.id, spool_txn_id(&t), SPOOL_ID_LEN);
	assert_null(spool_txn_body_room(&t, (32 << 10) + 1));
	while (off < 30000) {
		size_t n = MIN((size_t)PIECE, 30000 - off);
		uint8_t *p = spool_txn_body_room(&t, PIECE);

		assert_non_null(p);
		memcpy(p, b + off, n);
		assert_int_equal(spool_txn_body(&t, p, n), 0);
		off += n;
	}
	assert_null(spool_txn_body_room(&t, 3000)); /* would pass 32 KiB */
	assert_int_equal(spool_txn_body(&t, b + off, LEN - off), 0);
	assert_null(spool_txn_body_room(&t, 1)); /* streamed now */
	spool_txn_commit(&t, spfx_cres_on_commit, &c);
	spfx_run_until(f, &c.calls, 1);
	assert_int_equal(c.err, 0);
	spfx_check_body(f, c.id, 42, LEN);
	/* Wholly in place, inline. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    spool_txn_begin(f->sp, &t, &e.env, spfx_cres_on_resume, &c), 0);
	memcpy(c.id, spool_txn_id(&t), SPOOL_ID_LEN);
	{
		uint8_t *p = spool_txn_body_room(&t, 20000);

		assert_non_null(p);
		spfx_body_fill(p, 20000, 43);
		assert_int_equal(spool_txn_body(&t, p, 20000), 0);
	}
	spool_txn_commit(&t, spfx_cres_on_commit, &c);
	assert_null(spool_txn_body_room(&t, 1)); /* committed */
	spfx_run_until(f, &c.calls, 1);
	assert_int_equal(c.err, 0);
	spfx_check_body(f, c.id, 43, 20000);
	spfx_reopen(f);
	spfx_check_body(f, c.id, 43, 20000);
	free(b);
}

/*
 * A batch is written from the transactions' own buffers and its own (state
 * marks): messages and marks interleaved, more pieces than one writev takes
 * (IOV_MAX), and short writes that stop inside a piece or on its edge, are
 * all on disk in order and replay byte-exact.
 */
static void
test_batch_pieces(void **state)
{
	SPFX();
	enum {
		N = 1500,
		OLD = 20
	};
	static const int cuts[] = {1, 37, 4096, 100000};
	struct spool_state dlv = {.state = RECORD_RS_DELIVERED, .code = 250};
	struct spool_txn *t = calloc(N, sizeof(*t));
	struct spfx_cres *c = calloc(N, sizeof(*c)), old[OLD];
	struct spfx_mres m[OLD];

	f->o.max_batch = 4096;
	spfx_open(f);
	for (unsigned i = 0; i < OLD; i++)
		spfx_commit_one(f, &old[i], 5000 + i, 700);
	for (size_t k = 0; k < nitems(cuts); k++) {
		uint64_t b0 = spool_stats(f->sp)->batches;
		int done = 0;

		memset(m, 0, sizeof(m));
		for (unsigned i = 0; i < N; i++) {
			spfx_submit(f, &t[i], &c[i], (unsigned)(k * N + i),
				    100 + i % 300, 1);
			if (i % 75 == 0) /* a mark between messages */
				assert_int_equal(
				    spool_mark(f->sp, old[i / 75].id, 0, 1,
					       &dlv, spfx_mres_on_mark,
					       &m[i / 75]),
				    0);
		}
		spool_fault_inject(f->sp, RING_OP_WRITE, 0, cuts[k]);
		for (int r = 0; r < 20000 && done < N; r++) {
			assert_true(ring_run_once(f->r, 1000000) >= 0);
			done = 0;
			for (unsigned i = 0; i < N; i++)
				done += c[i].calls;
		}
		assert_int_equal(done, N);
		assert_int_equal(spool_stats(f->sp)->batches, b0 + 1);
		for (unsigned i = 0; i < N; i++)
			assert_int_equal(c[i].err, 0);
		for (unsigned i = 0; i < OLD; i++)
			assert_int_equal(m[i].calls, 1);
		spfx_reopen(f);
		for (unsigned i = 0; i < N; i += 7)
			spfx_check_body(f, c[i].id, (unsigned)(k * N + i),
					100 + i % 300);
		spfx_check_body(f, c[N - 1].id, (unsigned)(k * N + N - 1),
				100 + (N - 1) % 300);
		assert_int_equal(spool_stats(f->sp)->live_msgs,
				 OLD + (k + 1) * N);
	}
	free(t);
	free(c);
}

/* Commit t (open, body n of len bytes); the message's flags after replay. */
static uint32_t
flags_after_replay(struct spfx *f, struct spool_txn *t, struct spfx_cres *c,
		   unsigned n, size_t len)
{
	struct spool_msg_info mi;

	memcpy(c->id, spool_txn_id(t), SPOOL_ID_LEN);
	spool_txn_commit(t, spfx_cres_on_commit, c);
	spfx_run_until(f, &c->calls, 1);
	assert_int_equal(c->err, 0);
	spfx_reopen(f);
	spfx_check_body(f, c->id, n, len);
	spool_msg_info(spool_find(f->sp, c->id), &mi);
	return mi.flags;
}

/* Begin with flags, feed body n (len bytes), set add after `at` bytes. */
static int
flags_txn(struct spfx *f, struct spool_txn *t, struct spfx_cres *c,
	  uint32_t flags, unsigned n, size_t len, size_t at, uint32_t add)
{
	struct spfx_env e;
	uint8_t *b = malloc(len);
	int rc = 0;

	spfx_env_make(&e, 2);
	e.env.flags = flags;
	spfx_body_fill(b, len, n);
	memset(c, 0, sizeof(*c));
	assert_int_equal(
	    spool_txn_begin(f->sp, t, &e.env, spfx_cres_on_resume, c), 0);
	for (size_t off = 0; off < len; off += 65536) {
		size_t k = MIN((size_t)65536, len - off);
		int r;

		if (off <= at && at < off + k)
			rc = spool_txn_set_flags(t, add);
		r = spool_txn_body(t, b + off, k);
		assert_true(r == 0 || r == SPOOL_BUSY);
		if (r == SPOOL_BUSY)
			spfx_run_until(f, &c->resumed, c->resumed + 1);
	}
	free(b);
	return rc;
}

static void
test_set_flags(void **state)
{
	SPFX();
	const uint32_t e8 = RECORD_MSG_F_8BITMIME, u8 = RECORD_MSG_F_SMTPUTF8;
	const size_t big = (3u << 20) + 11;
	struct spool_txn t = {0};
	struct spfx_cres c;

	f->o.inline_max = 1 << 20;
	spfx_open(f);
	/* Inline, no flags at begin: the head is encoded again. */
	assert_int_equal(flags_txn(f, &t, &c, 0, 1, 5000, 3000, e8), 0);
	assert_int_equal(spool_txn_set_flags(&t, 1u << 9), -EINVAL);
	assert_int_equal(spool_txn_set_flags(&t, e8), 0); /* again: no-op */
	assert_int_equal(flags_after_replay(f, &t, &c, 1, 5000), e8);
	/* Inline, flags at begin: the field is patched in place. */
	assert_int_equal(flags_txn(f, &t, &c, u8, 2, 5000, 0, e8), 0);
	assert_int_equal(flags_after_replay(f, &t, &c, 2, 5000), e8 | u8);
	/* Set while inline, then streamed: the stream's head has it. */
	assert_int_equal(flags_txn(f, &t, &c, 0, 3, big, 70000, e8), 0);
	assert_non_null(t.in->st);
	assert_int_equal(flags_after_replay(f, &t, &c, 3, big), e8);
	/* Streamed with flags: patched. */
	assert_int_equal(flags_txn(f, &t, &c, u8, 4, big, 2u << 20, e8), 0);
	assert_int_equal(flags_after_replay(f, &t, &c, 4, big), e8 | u8);
	/* Streamed without flags: the head cannot grow; unchanged. */
	assert_int_equal(flags_txn(f, &t, &c, 0, 5, big, 2u << 20, e8), -EBUSY);
	assert_int_equal(flags_after_replay(f, &t, &c, 5, big), 0);
}

static void
test_fsync_fails(void **state)
{
	SPFX();
	struct spfx_cres a, b, c;

	spfx_open(f);
	spfx_commit_one(f, &a, 1, 300);
	spool_fault_inject(f->sp, RING_OP_FSYNC, 0, -EIO);
	spfx_commit_one(f, &b, 2, 300);
	assert_int_equal(b.err, -EIO);
	assert_false(spool_healthy(f->sp));
	assert_int_equal(spool_status(f->sp), -EIO);
	assert_null(spool_find(f->sp, b.id));
	/* Refused while unhealthy; heals by itself (a new segment). */
	for (int i = 0; i < 200 && !spool_healthy(f->sp); i++)
		spfx_run_ms(f, 10);
	assert_true(spool_healthy(f->sp));
	spfx_commit_one(f, &c, 3, 300);
	assert_int_equal(c.err, 0);
	spfx_reopen(f);
	assert_non_null(spool_find(f->sp, a.id));
	assert_null(spool_find(f->sp, b.id)); /* never delivered later */
	assert_non_null(spool_find(f->sp, c.id));
	/* A failed write: the same. */
	spool_fault_inject(f->sp, RING_OP_WRITE, 0, -ENOSPC);
	spfx_commit_one(f, &b, 4, 300);
	assert_int_equal(b.err, -ENOSPC);
	assert_int_equal(spool_status(f->sp), -ENOSPC);
	spfx_reopen(f);
	assert_null(spool_find(f->sp, b.id));
	assert_int_equal(spool_stats(f->sp)->live_msgs, 2);
	/* A short write is resumed, not failed. */
	spool_fault_inject(f->sp, RING_OP_WRITE, 0, 10);
	spfx_commit_one(f, &b, 5, 3000);
	assert_int_equal(b.err, 0);
	assert_true(spool_healthy(f->sp));
	spfx_reopen(f);
	spfx_check_body(f, b.id, 5, 3000);
}

/* Stream a body of len in pieces, then commit; c gets the outcome. */
static void
stream_one(struct spfx *f, struct spfx_cres *c, unsigned n, size_t len)
{
	struct spool_txn t = {0};
	struct spfx_env e;
	uint8_t *b = malloc(len);
	size_t off = 0;

	spfx_env_make(&e, 1);
	spfx_body_fill(b, len, n);
	memset(c, 0, sizeof(*c));
	assert_int_equal(
	    spool_txn_begin(f->sp, &t, &e.env, spfx_cres_on_resume, c), 0);
	memcpy(c->id, spool_txn_id(&t), SPOOL_ID_LEN);
	while (off < len) {
		size_t k = MIN((size_t)100000, len - off);
		int rc = spool_txn_body(&t, b + off, k);

		assert_true(rc == 0 || rc == SPOOL_BUSY);
		off += k;
		if (rc == SPOOL_BUSY)
			spfx_run_until(f, &c->resumed, c->resumed + 1);
	}
	spool_txn_commit(&t, spfx_cres_on_commit, c);
	spfx_run_until(f, &c->calls, 1);
	free(b);
}

static void
test_streamed_fails(void **state)
{
	SPFX();
	struct spfx_cres c;
	char segdir[256];

	f->o.inline_max = 64 << 10;
	spfx_open(f);
	snprintf(segdir, sizeof(segdir), "%s/seg", f->dir);
	/* One that works first: the empty append segment it seals is
	 * reclaimed now, so no reclaim fsync races the faults below. */
	stream_one(f, &c, 0, 300000);
	assert_int_equal(c.err, 0);
	assert_int_equal(spool_drain(f->sp, 5000), 0);
	/* fdatasync of the private file fails: refused, file removed. */
	spool_fault_inject(f->sp, RING_OP_FSYNC, 0, -EIO);
	stream_one(f, &c, 1, 300000);
	assert_int_equal(c.err, -EIO);
	assert_null(spool_find(f->sp, c.id));
	assert_int_equal(spool_drain(f->sp, 5000), 0);
	for (int i = 0; i < 200 && !spool_healthy(f->sp); i++)
		spfx_run_ms(f, 10); /* heals by itself: a new segment */
	assert_true(spool_healthy(f->sp));
	assert_int_equal(spfx_count_files(segdir, ".seg"),
			 (int)__builtin_popcountll(spfx_seg_set(f)));
	/* The directory fsync after the rename fails: the renamed segment
	 * stays, a DONE record kills its message for good. */
	spool_fault_inject(f->sp, RING_OP_FSYNC, 1, -EIO);
	stream_one(f, &c, 2, 300000);
	assert_int_equal(c.err, -EIO);
	for (int i = 0; i < 200 && !spool_healthy(f->sp); i++)
		spfx_run_ms(f, 10);
	assert_true(spool_healthy(f->sp));
	spfx_reopen(f);
	assert_null(spool_find(f->sp, c.id));
	/* A short write while streaming is resumed. */
	spool_fault_inject(f->sp, RING_OP_WRITE, 0, 1000);
	stream_one(f, &c, 3, 300000);
	assert_int_equal(c.err, 0);
	spfx_reopen(f);
	spfx_check_body(f, c.id, 3, 300000);
}

static void
test_enospc(void **state)
{
	SPFX();
	enum {
		N = 40
	};
	struct spfx_cres c[N];
	struct spool_txn t = {0};
	struct spfx_env e;
	int ok = 0, full = 0;

	if (mount("tmpfs", f->tmp, "tmpfs", 0, "size=1m") != 0) {
		print_message("mount tmpfs failed (%s): ENOSPC covered by the "
			      "fault seam only\n",
			      strerror(errno));
		skip();
		return;
	}
	f->o.segment_size = 256 << 10;
	spfx_open(f);
	for (unsigned i = 0; i < N; i++) {
		if (!spool_healthy(f->sp)) {
			spfx_env_make(&e, 1);
			assert_int_equal(
			    spool_txn_begin(f->sp, &t, &e.env, NULL, NULL),
			    -ENOSPC);
			full++;
			continue;
		}
		spfx_commit_one(f, &c[i], i, 60000);
		if (c[i].err == 0) {
			ok++;
			continue;
		}
		assert_int_equal(c[i].err, -ENOSPC);
		assert_null(spool_find(f->sp, c[i].id));
		full++;
	}
	assert_true(ok > 0);
	assert_true(full > 0);
	assert_false(spool_healthy(f->sp));
	/* Space comes back: acceptance resumes by itself. */
	assert_int_equal(
	    mount("tmpfs", f->tmp, "tmpfs", MS_REMOUNT, "size=16m"), 0);
	for (int i = 0; i < 300 && !spool_healthy(f->sp); i++)
		spfx_run_ms(f, 10);
	assert_true(spool_healthy(f->sp));
	spfx_commit_one(f, &c[0], 1000, 100);
	assert_int_equal(c[0].err, 0);
	spfx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, ok + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, spfx_setup, spfx_teardown)
	    T(test_streamed),  T(test_body_room),   T(test_batch_pieces),
	    T(test_set_flags), T(test_fsync_fails), T(test_streamed_fails),
	    T(test_enospc),
#undef T
	};

	log_init("test_spool_stream");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
