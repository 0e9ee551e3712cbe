/* SPDX-License-Identifier: MIT */
/*
 * test_spool: the spool on a real ring, in temporary directories (the
 * fixture is spool_fixture.c).  Commit and replay byte-exact, a bad
 * envelope and an abort, group commit under 1,000 concurrent commits,
 * state marks and DONE through replay, rotation and oldest-first reclaim,
 * a torn tail cut at every offset of the last record, a bit flip in a
 * middle segment (quarantined), a segment from a newer ringmta.  Also
 * measures replay of a large spool (RINGMTA_SPOOL_BIG=messages, default
 * 100000 x 10 recipients x 4 KiB; set 0 to skip).  Streamed bodies and
 * storage faults are in test_spool_stream.c, commit delay and hints in
 * test_spool_hints.c.  Skips loudly without io_uring.
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
test_commit_replay(void **state)
{
	SPFX();
	struct spool_msg_info mi;
	struct spool_rcpt_info ri;
	struct spfx_cres c;
	char ids[SPOOL_ID_STR_LEN];

	spfx_open(f);
	assert_true(spool_healthy(f->sp));
	spfx_commit_one(f, &c, 7, 5000);
	assert_int_equal(c.err, 0);
	assert_true(spool_stats(f->sp)->fdatasyncs >= 1);
	assert_int_equal(spool_stats(f->sp)->messages, 1);
	spfx_check_body(f, c.id, 7, 5000);
	assert_int_equal(strlen(spool_id_str(c.id, ids)), 32);
	spfx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 1);
	assert_int_equal(spool_stats(f->sp)->live_rcpts, 3);
	spfx_check_body(f, c.id, 7, 5000);
	spool_msg_info(spool_find(f->sp, c.id), &mi);
	assert_int_equal(mi.nrcpt, 3);
	assert_int_equal(mi.sender.len, 8);
	assert_memory_equal(mi.sender.p, "s@ex.org", 8);
	assert_memory_equal(mi.envid.p, "E\r\n1", 4);
	assert_int_equal(mi.ret, RECORD_RET_HDRS);
	assert_int_equal(mi.flags, RECORD_MSG_F_8BITMIME);
	spool_msg_rcpt(spool_find(f->sp, c.id), 1, &ri);
	assert_memory_equal(ri.addr.p, "r1@d1.example", 13);
	assert_int_equal(ri.orcpt.len, 10);
	assert_int_equal(ri.notify, RECORD_NOTIFY_FAILURE);
	assert_int_equal(ri.state, RECORD_RS_PENDING);
}

static void
test_bad_envelope_and_abort(void **state)
{
	SPFX();
	struct spool_txn t = {0};
	struct spfx_env e;
	struct spfx_cres c = {0};
	uint8_t b[100];

	spfx_open(f);
	spfx_env_make(&e, 2);
	e.env.nrcpt = 0;
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, NULL, NULL),
			 -EMSGSIZE);
	spfx_env_make(&e, 2);
	e.rcpt[1].addr.len = 0;
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, NULL, NULL),
			 -EMSGSIZE);
	assert_null(t.in);
	/* Aborted before commit: no callback, nothing written. */
	spfx_env_make(&e, 1);
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, NULL, NULL), 0);
	assert_int_equal(spool_txn_body(&t, b, sizeof(b)), 0);
	spool_txn_abort(&t);
	assert_null(t.in);
	spfx_run_ms(f, 20);
	assert_int_equal(c.calls, 0);
	/* Aborted after commit (session lost): written, no callback. */
	spfx_env_make(&e, 1);
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, NULL, NULL), 0);
	assert_int_equal(spool_txn_body(&t, b, sizeof(b)), 0);
	spool_txn_commit(&t, spfx_cres_on_commit, &c);
	spool_txn_abort(&t);
	spfx_run_ms(f, 20);
	assert_int_equal(spool_drain(f->sp, 5000), 0); /* a loaded disk */
	assert_int_equal(c.calls, 0);
	assert_int_equal(spool_stats(f->sp)->messages, 1);
	spfx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 1);
}

static void
test_group_commit(void **state)
{
	SPFX();
	enum {
		N = 1000
	};
	struct spool_txn *t = calloc(N, sizeof(*t));
	struct spfx_cres *c = calloc(N, sizeof(*c));
	const struct spool_stats *s;
	uint64_t syncs0;
	int done = 0;

	f->o.max_batch = 4096;
	spfx_open(f);
	syncs0 = spool_stats(f->sp)->fdatasyncs;
	for (unsigned i = 0; i < N; i++)
		spfx_submit(f, &t[i], &c[i], i, 1000 + i, 1 + i % 4);
	for (int k = 0; k < 20000 && done < N; k++) {
		assert_true(ring_run_once(f->r, 1000000) >= 0);
		done = 0;
		for (unsigned i = 0; i < N; i++)
			done += c[i].calls;
	}
	assert_int_equal(done, N);
	s = spool_stats(f->sp);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(c[i].err, 0);
	print_message("group commit: %u messages, %" PRIu64
		      " fdatasyncs, %" PRIu64 " batches\n",
		      N, s->fdatasyncs - syncs0, s->batches);
	assert_true((double)(s->fdatasyncs - syncs0) < 0.1 * N);
	spfx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, N);
	for (unsigned i = 0; i < N; i += 97)
		spfx_check_body(f, c[i].id, i, 1000 + i);
	free(t);
	free(c);
}

static void
test_marks_replay(void **state)
{
	SPFX();
	struct spool_state def = {.state = RECORD_RS_DEFERRED,
				  .attempts = 2,
				  .next_try_us = 1234567,
				  .code = 451,
				  .ecode = "4.4.1",
				  .text = "try\r\nlater"};
	struct spool_state dlv = {.state = RECORD_RS_DELIVERED, .code = 250};
	struct spool_state bad = {.state = RECORD_RS_DEFERRED};
	struct spool_rcpt_info ri;
	struct spfx_cres a, b;
	struct spfx_mres m = {0};
	uint8_t nope[SPOOL_ID_LEN] = {1};

	spfx_open(f);
	spfx_commit_one(f, &a, 1, 100);
	spfx_commit_one(f, &b, 2, 100);
	/* Table of refusals. */
	assert_int_equal(spool_mark(f->sp, nope, 0, 1, &dlv, NULL, NULL),
			 -ENOENT);
	assert_int_equal(spool_mark(f->sp, a.id, 3, 1, &dlv, NULL, NULL),
			 -ERANGE);
	assert_int_equal(spool_mark(f->sp, a.id, 1, 3, &dlv, NULL, NULL),
			 -ERANGE);
	assert_int_equal(spool_mark(f->sp, a.id, 0, 0, &dlv, NULL, NULL),
			 -ERANGE);
	assert_int_equal(spool_mark(f->sp, a.id, 0, 1, &bad, NULL, NULL),
			 -EINVAL);
	dlv.next_try_us = 5;
	assert_int_equal(spool_mark(f->sp, a.id, 0, 1, &dlv, NULL, NULL),
			 -EINVAL);
	dlv.next_try_us = 0;
	/* a: r0 deferred, r1..r2 delivered.  b: everything delivered. */
	assert_int_equal(
	    spool_mark(f->sp, a.id, 0, 1, &def, spfx_mres_on_mark, &m), 0);
	assert_int_equal(spool_mark(f->sp, a.id, 1, 2, &dlv, NULL, NULL), 0);
	assert_int_equal(spool_mark(f->sp, b.id, 0, 2, &dlv, NULL, NULL), 0);
	assert_int_equal(spool_stats(f->sp)->live_rcpts, 2);
	assert_int_equal(spool_mark(f->sp, b.id, 2, 1, &dlv, NULL, NULL), 1);
	assert_null(spool_find(f->sp, b.id));
	assert_int_equal(m.calls, 0);
	spfx_run_until(f, &m.calls, 1);
	assert_int_equal(m.err, 0);
	assert_int_equal(spool_stats(f->sp)->dones, 1);
	spfx_reopen(f);
	assert_null(spool_find(f->sp, b.id));
	assert_int_equal(spool_stats(f->sp)->live_msgs, 1);
	assert_int_equal(spool_stats(f->sp)->live_rcpts, 1);
	spool_msg_rcpt(spool_find(f->sp, a.id), 0, &ri);
	assert_int_equal(ri.state, RECORD_RS_DEFERRED);
	assert_int_equal(ri.attempts, 2);
	assert_int_equal(ri.next_try_us, 1234567);
	assert_int_equal(ri.code, 451);
	assert_string_equal(ri.ecode, "4.4.1");
	assert_string_equal(ri.text, "try\r\nlater");
	spool_msg_rcpt(spool_find(f->sp, a.id), 2, &ri);
	assert_int_equal(ri.state, RECORD_RS_DELIVERED);
	assert_string_equal(ri.ecode, "");
	/* A later mark wins over an earlier one. */
	def.attempts = 3;
	def.next_try_us = 999;
	assert_int_equal(spool_mark(f->sp, a.id, 0, 1, &def, NULL, NULL), 0);
	spfx_reopen(f);
	spool_msg_rcpt(spool_find(f->sp, a.id), 0, &ri);
	assert_int_equal(ri.attempts, 3);
	assert_int_equal(ri.next_try_us, 999);
	/* Final: DONE, gone after replay. */
	dlv.state = RECORD_RS_BOUNCED;
	assert_int_equal(spool_mark(f->sp, a.id, 0, 1, &dlv, NULL, NULL), 1);
	spfx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 0);
}

static void
test_rotation_reclaim(void **state)
{
	SPFX();
	enum {
		N = 40
	};
	struct spfx_cres c[N];
	struct spool_state dlv = {.state = RECORD_RS_DELIVERED};
	uint64_t set, prev;

	f->o.segment_size = 16 << 10;
	spfx_open(f);
	for (unsigned i = 0; i < N; i++)
		spfx_commit_one(f, &c[i], i, 3000);
	assert_true(spool_stats(f->sp)->segments >= 5);
	prev = spfx_seg_set(f);
	/* Finish every message but the first: nothing may be reclaimed,
	 * because only the oldest segment is ever deleted. */
	for (unsigned i = 1; i < N; i++)
		assert_int_equal(
		    spool_mark(f->sp, c[i].id, 0, 3, &dlv, NULL, NULL), 1);
	spfx_run_ms(f, 50);
	assert_int_equal(spfx_seg_set(f), prev);
	assert_int_equal(spool_stats(f->sp)->reclaimed, 0);
	/* The first goes: every older segment is deleted, oldest first. */
	assert_int_equal(spool_mark(f->sp, c[0].id, 0, 3, &dlv, NULL, NULL), 1);
	for (int k = 0; k < 200; k++) {
		assert_true(ring_run_once(f->r, 1000000) >= 0);
		set = spfx_seg_set(f);
		/* What remains of prev is always a suffix of it: only the
		 * oldest segments go, never one with an older one left. */
		assert_int_not_equal(set, 0);
		assert_int_equal(set & prev,
				 prev & ~((1ull << __builtin_ctzll(set)) - 1));
	}
	set = spfx_seg_set(f);
	assert_int_equal(__builtin_popcountll(set), 1); /* the append one */
	assert_true(spool_stats(f->sp)->reclaimed >= 5);
	spfx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 0);
}

/* Path of the first segment file (lowest number) in seg/. */
static void
first_seg(struct spfx *f, char *out, size_t n, int which)
{
	uint64_t set = spfx_seg_set(f);
	int k = 0;

	for (int i = 0; i < 64; i++) {
		if (!(set & (1ull << i)))
			continue;
		if (k++ == which) {
			snprintf(out, n, "%s/seg/%016x.seg", f->dir, i);
			return;
		}
	}
	fail_msg("no segment %d", which);
}

static void
rm_segs_except(struct spfx *f, const char *keep)
{
	char cmd[768];

	snprintf(cmd, sizeof(cmd),
		 "cd %s/seg && for x in *.seg; do [ \"$PWD/$x\" = %s ] || rm "
		 "-f \"$x\"; done; rm -f %s/quarantine/*",
		 f->dir, keep, f->dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_torn_tail(void **state)
{
	SPFX();
	struct spfx_cres c[3];
	struct spool_body b;
	char path[256];
	uint8_t *orig;
	struct stat st;
	uint64_t rec_off;
	int fd;

	f->o.unsafe_no_sync = true; /* hundreds of reopens */
	spfx_open(f);
	for (unsigned i = 0; i < 3; i++)
		spfx_commit_one(f, &c[i], i, 200);
	assert_int_equal(spool_body_loc(f->sp, c[2].id, &b), 0);
	rec_off = spool_find(f->sp, c[2].id)->rec_off;
	spool_close(f->sp);
	f->sp = NULL;
	first_seg(f, path, sizeof(path), 0);
	assert_int_equal(stat(path, &st), 0);
	orig = malloc((size_t)st.st_size);
	fd = open(path, O_RDWR);
	assert_int_equal(pread(fd, orig, (size_t)st.st_size, 0), st.st_size);
	for (off_t cut = (off_t)rec_off; cut < st.st_size; cut++) {
		assert_int_equal(pwrite(fd, orig, (size_t)st.st_size, 0),
				 st.st_size);
		assert_int_equal(ftruncate(fd, cut), 0);
		rm_segs_except(f, path);
		spfx_open(f);
		assert_int_equal(spool_stats(f->sp)->live_msgs, 2);
		assert_non_null(spool_find(f->sp, c[0].id));
		assert_non_null(spool_find(f->sp, c[1].id));
		assert_null(spool_find(f->sp, c[2].id));
		assert_int_equal(spool_stats(f->sp)->torn,
				 cut > (off_t)rec_off);
		spfx_check_body(f, c[1].id, 1, 200);
		spool_close(f->sp);
		f->sp = NULL;
		assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)rec_off);
	}
	/* A tail of garbage (not zeros) is quarantined before the cut. */
	assert_int_equal(pwrite(fd, orig, (size_t)st.st_size, 0), st.st_size);
	memset(orig + rec_off + 100, 0x5a, 50);
	assert_int_equal(pwrite(fd, orig, (size_t)st.st_size, 0), st.st_size);
	rm_segs_except(f, path);
	spfx_open(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 2);
	assert_int_equal(spool_stats(f->sp)->quarantined, 1);
	close(fd);
	free(orig);
}

static void
test_bitflip_middle(void **state)
{
	SPFX();
	struct spfx_cres c[5];
	char path[256], q[256];
	uint64_t off;
	uint8_t byte;
	int fd;

	spfx_open(f);
	spfx_commit_one(f, &c[0], 0, 500);
	spfx_reopen(f); /* each open starts a new segment */
	for (unsigned i = 1; i < 4; i++)
		spfx_commit_one(f, &c[i], i, 500);
	off = spool_find(f->sp, c[2].id)->rec_off;
	spfx_reopen(f);
	spfx_commit_one(f, &c[4], 4, 500);
	spool_close(f->sp);
	f->sp = NULL;
	/* Flip one bit in c[2]'s envelope, in the middle segment. */
	first_seg(f, path, sizeof(path), 1);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, (off_t)off + 60), 1);
	byte ^= 0x10;
	assert_int_equal(pwrite(fd, &byte, 1, (off_t)off + 60), 1);
	close(fd);
	spfx_open(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 4);
	assert_null(spool_find(f->sp, c[2].id));
	for (unsigned i = 0; i < 5; i++)
		if (i != 2)
			spfx_check_body(f, c[i].id, i, 500);
	assert_int_equal(spool_stats(f->sp)->quarantined, 1);
	snprintf(q, sizeof(q), "%s/quarantine", f->dir);
	assert_int_equal(spfx_count_files(q, ".bin"), 1);
	/* The region is skipped the same way at every replay. */
	spfx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 4);
}

static void
test_newer_version(void **state)
{
	SPFX();
	struct spfx_cres c;
	char path[256];
	uint8_t h[64];
	int fd;

	spfx_open(f);
	spfx_commit_one(f, &c, 1, 10);
	spool_close(f->sp);
	f->sp = NULL;
	first_seg(f, path, sizeof(path), 0);
	fd = open(path, O_RDWR);
	assert_int_equal(pread(fd, h, 64, 0), 64);
	h[8] = 2; /* major 2 */
	{
		uint32_t crc = crc32c(0, h, 60);

		memcpy(h + 60, &crc, 4);
	}
	assert_int_equal(pwrite(fd, h, 64, 0), 64);
	close(fd);
	assert_int_equal(spool_open(f->r, &f->o, &f->sp), -ENOTSUP);
	f->sp = NULL;
}

static void
test_replay_large(void **state)
{
	SPFX();
	const char *env = getenv("RINGMTA_SPOOL_BIG");
	unsigned n = env ? (unsigned)strtoul(env, NULL, 10) : 100000;
	enum {
		WAVE = 2000,
		RCPT = 10,
		LEN = 4096
	};
	struct spool_txn *t;
	struct spfx_cres *c;
	struct timespec a, b;
	double ms;

	if (n == 0) {
		skip();
		return;
	}
	t = calloc(WAVE, sizeof(*t));
	c = calloc(WAVE, sizeof(*c));
	f->o.max_batch = 4096;
	spfx_open(f);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned base = 0; base < n; base += WAVE) {
		unsigned w = MIN((unsigned)WAVE, n - base), done = 0;

		for (unsigned i = 0; i < w; i++)
			spfx_submit(f, &t[i], &c[i], base + i, LEN, RCPT);
		while (done < w) {
			assert_true(ring_run_once(f->r, 1000000) >= 0);
			done = 0;
			for (unsigned i = 0; i < w; i++)
				done += (unsigned)c[i].calls;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
	     (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	print_message("intake: %u messages x %d rcpts x %d B in %.0f ms "
		      "(%.0f msg/s, %" PRIu64 " fdatasyncs)\n",
		      n, RCPT, LEN, ms, n / ms * 1e3,
		      spool_stats(f->sp)->fdatasyncs);
	spfx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, n);
	assert_int_equal(spool_stats(f->sp)->live_rcpts, (uint64_t)n * RCPT);
	print_message("replay: %u messages, %" PRIu64
		      " recipients in %.0f ms\n",
		      n, spool_stats(f->sp)->live_rcpts,
		      spool_stats(f->sp)->replay_ns / 1e6);
	spfx_check_body(f, c[0].id, n - (n % WAVE ? n % WAVE : WAVE), LEN);
	free(t);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, spfx_setup, spfx_teardown)
	    T(test_commit_replay),    T(test_bad_envelope_and_abort),
	    T(test_group_commit),     T(test_marks_replay),
	    T(test_rotation_reclaim), T(test_torn_tail),
	    T(test_bitflip_middle),   T(test_newer_version),
	    T(test_replay_large),
#undef T
	};

	log_init("test_spool");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
