/* SPDX-License-Identifier: MIT */
/*
 * test_spool: the spool on a real ring, in temporary directories.  Commit
 * and replay byte-exact, group commit under 1,000 concurrent commits, state
 * marks and DONE through replay, rotation and oldest-first reclaim, a torn
 * tail cut at every offset of the last record, a bit flip in a middle
 * segment (quarantined), a 5 MB streamed message fed in small pieces, a
 * full disk (a 1 MiB tmpfs) and a failed fdatasync (fault seam): never an
 * acknowledgement, never replayed, healed by itself.  The commit delay
 * (waits for open transactions only, ends early, bounded, off) and
 * envelope flags set after begin (inline, streamed) through replay.  Commit
 * hints: they hold a small batch back, end it early, expire when leaked;
 * the listener's accounting over real SMTP sessions (committed, refused,
 * RSET, EHLO, QUIT, dropped connections, errors) returns to zero.  Also
 * measures replay
 * of a large spool (RINGMTA_SPOOL_BIG=messages, default 100000 x 10
 * recipients x 4 KiB; set 0 to skip).  Skips loudly without io_uring.
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
#include "spool_int.h"

struct fx {
	struct ring *r;
	char dir[128];
	char tmp[64];
	struct spool *sp;
	struct spool_opts o;
};

/* A commit's outcome. */
struct cres {
	int calls;
	int err;
	int resumed;
	uint8_t id[SPOOL_ID_LEN];
};

static void
cres_on_commit(void *arg, int err)
{
	struct cres *c = arg;

	c->calls++;
	c->err = err;
}

static void
cres_on_resume(void *arg)
{
	((struct cres *)arg)->resumed++;
}

static int
fx_setup(void **state)
{
	struct ring_opts ro = {.sq_entries = 256, .cq_entries = 8192};
	struct fx *f = calloc(1, sizeof(*f));
	int err;

	log_set_level(LOG_ERR);
	f->r = ring_new(&ro, &err);
	if (f->r == NULL) {
		fprintf(stderr, "*** io_uring unavailable (%s): SKIPPING ***\n",
			strerror(-err));
		free(f);
		*state = NULL;
		return 0;
	}
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/test_spool.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof(f->dir), "%s/spool", f->tmp);
	f->o.dir = f->dir;
	f->o.probe_ms = 50;
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
	umount2(f->tmp, MNT_DETACH);
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
fx_open(struct fx *f)
{
	assert_int_equal(spool_open(f->r, &f->o, &f->sp), 0);
}

static void
fx_reopen(struct fx *f)
{
	spool_close(f->sp);
	f->sp = NULL;
	fx_open(f);
}

/* Run ring turns until *flag >= n (at most 20 s). */
static void
run_until(struct fx *f, const int *flag, int n)
{
	for (int i = 0; i < 20000 && *flag < n; i++)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	assert_true(*flag >= n);
}

static void
run_ms(struct fx *f, int ms)
{
	int64_t end = ring_now_update(f->r) + (int64_t)ms * 1000000;

	while (ring_now_update(f->r) < end)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
}

/* Deterministic body of message n, len bytes. */
static void
body_fill(uint8_t *p, size_t len, unsigned n)
{
	uint32_t x = 2463534242u ^ (n * 2654435761u);

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	if (len >= 2) {
		p[len - 2] = '\r';
		p[len - 1] = '\n';
	}
}

struct env_buf {
	struct spool_env env;
	struct record_msg_rcpt rcpt[16];
	char addr[16][32];
};

static void
env_make(struct env_buf *e, unsigned nrcpt)
{
	memset(e, 0, sizeof(*e));
	e->env.sender = (struct record_bytes){(const uint8_t *)"s@ex.org", 8};
	e->env.envid = (struct record_bytes){(const uint8_t *)"E\r\n1", 4};
	e->env.binding = (struct record_bytes){(const uint8_t *)"out1", 4};
	e->env.ret = RECORD_RET_HDRS;
	e->env.flags = RECORD_MSG_F_8BITMIME;
	for (unsigned i = 0; i < nrcpt; i++) {
		int n = snprintf(e->addr[i], sizeof(e->addr[i]),
				 "r%u@d%u.example", i, i % 3);

		e->rcpt[i].addr = (struct record_bytes){
		    (const uint8_t *)e->addr[i], (size_t)n};
		e->rcpt[i].notify = i % 2 ? RECORD_NOTIFY_FAILURE : 0;
		if (i == 1)
			e->rcpt[i].orcpt = (struct record_bytes){
			    (const uint8_t *)"rfc822;x@y", 10};
	}
	e->env.rcpt = e->rcpt;
	e->env.nrcpt = nrcpt;
}

/* Begin + body (in pieces of chunk) + commit; returns with c filled in. */
static void
submit(struct fx *f, struct spool_txn *t, struct cres *c, unsigned n,
       size_t len, unsigned nrcpt)
{
	struct env_buf e;
	uint8_t *b = malloc(len ? len : 1);

	env_make(&e, nrcpt);
	body_fill(b, len, n);
	memset(c, 0, sizeof(*c));
	assert_int_equal(spool_txn_begin(f->sp, t, &e.env, cres_on_resume, c),
			 0);
	memcpy(c->id, spool_txn_id(t), SPOOL_ID_LEN);
	assert_int_equal(spool_txn_body(t, b, len), 0);
	spool_txn_commit(t, cres_on_commit, c);
	free(b);
}

static void
commit_one(struct fx *f, struct cres *c, unsigned n, size_t len)
{
	struct spool_txn t = {0};

	submit(f, &t, c, n, len, 3);
	assert_int_equal(c->calls, 0); /* never synchronously */
	run_until(f, &c->calls, 1);
	assert_int_equal(c->calls, 1);
}

/* The live message id has body n of len bytes, byte-exact, CRC valid. */
static void
check_body(struct fx *f, const uint8_t *id, unsigned n, size_t len)
{
	struct spool_body b;
	uint8_t *want = malloc(len + 1), *got = malloc(len + 1);

	assert_int_equal(spool_body_loc(f->sp, id, &b), 0);
	assert_int_equal(b.len, len);
	assert_int_equal(pread(b.fd, got, len, (off_t)b.off), (ssize_t)len);
	body_fill(want, len, n);
	assert_memory_equal(got, want, len);
	assert_int_equal(crc32c(b.crc_init, got, len), b.crc_final);
	free(want);
	free(got);
}

static int
count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), s = strlen(suffix);

		if (de->d_name[0] != '.' && l >= s &&
		    strcmp(de->d_name + l - s, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
test_commit_replay(void **state)
{
	FX();
	struct spool_msg_info mi;
	struct spool_rcpt_info ri;
	struct cres c;
	char ids[SPOOL_ID_STR_LEN];

	fx_open(f);
	assert_true(spool_healthy(f->sp));
	commit_one(f, &c, 7, 5000);
	assert_int_equal(c.err, 0);
	assert_true(spool_stats(f->sp)->fdatasyncs >= 1);
	assert_int_equal(spool_stats(f->sp)->messages, 1);
	check_body(f, c.id, 7, 5000);
	assert_int_equal(strlen(spool_id_str(c.id, ids)), 32);
	fx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 1);
	assert_int_equal(spool_stats(f->sp)->live_rcpts, 3);
	check_body(f, c.id, 7, 5000);
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
	FX();
	struct spool_txn t = {0};
	struct env_buf e;
	struct cres c = {0};
	uint8_t b[100];

	fx_open(f);
	env_make(&e, 2);
	e.env.nrcpt = 0;
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, NULL, NULL),
			 -EMSGSIZE);
	env_make(&e, 2);
	e.rcpt[1].addr.len = 0;
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, NULL, NULL),
			 -EMSGSIZE);
	assert_null(t.in);
	/* Aborted before commit: no callback, nothing written. */
	env_make(&e, 1);
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, NULL, NULL), 0);
	assert_int_equal(spool_txn_body(&t, b, sizeof(b)), 0);
	spool_txn_abort(&t);
	assert_null(t.in);
	run_ms(f, 20);
	assert_int_equal(c.calls, 0);
	/* Aborted after commit (session lost): written, no callback. */
	env_make(&e, 1);
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, NULL, NULL), 0);
	assert_int_equal(spool_txn_body(&t, b, sizeof(b)), 0);
	spool_txn_commit(&t, cres_on_commit, &c);
	spool_txn_abort(&t);
	run_ms(f, 20);
	assert_int_equal(spool_drain(f->sp, 5000), 0); /* a loaded disk */
	assert_int_equal(c.calls, 0);
	assert_int_equal(spool_stats(f->sp)->messages, 1);
	fx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 1);
}

static void
test_group_commit(void **state)
{
	FX();
	enum {
		N = 1000
	};
	struct spool_txn *t = calloc(N, sizeof(*t));
	struct cres *c = calloc(N, sizeof(*c));
	const struct spool_stats *s;
	uint64_t syncs0;
	int done = 0;

	f->o.max_batch = 4096;
	fx_open(f);
	syncs0 = spool_stats(f->sp)->fdatasyncs;
	for (unsigned i = 0; i < N; i++)
		submit(f, &t[i], &c[i], i, 1000 + i, 1 + i % 4);
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
	fx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, N);
	for (unsigned i = 0; i < N; i += 97)
		check_body(f, c[i].id, i, 1000 + i);
	free(t);
	free(c);
}

struct mres {
	int calls, err;
};

static void
mres_on_mark(void *arg, int err)
{
	struct mres *m = arg;

	m->calls++;
	m->err = err;
}

static void
test_marks_replay(void **state)
{
	FX();
	struct spool_state def = {.state = RECORD_RS_DEFERRED,
				  .attempts = 2,
				  .next_try_us = 1234567,
				  .code = 451,
				  .ecode = "4.4.1",
				  .text = "try\r\nlater"};
	struct spool_state dlv = {.state = RECORD_RS_DELIVERED, .code = 250};
	struct spool_state bad = {.state = RECORD_RS_DEFERRED};
	struct spool_rcpt_info ri;
	struct cres a, b;
	struct mres m = {0};
	uint8_t nope[SPOOL_ID_LEN] = {1};

	fx_open(f);
	commit_one(f, &a, 1, 100);
	commit_one(f, &b, 2, 100);
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
	assert_int_equal(spool_mark(f->sp, a.id, 0, 1, &def, mres_on_mark, &m),
			 0);
	assert_int_equal(spool_mark(f->sp, a.id, 1, 2, &dlv, NULL, NULL), 0);
	assert_int_equal(spool_mark(f->sp, b.id, 0, 2, &dlv, NULL, NULL), 0);
	assert_int_equal(spool_stats(f->sp)->live_rcpts, 2);
	assert_int_equal(spool_mark(f->sp, b.id, 2, 1, &dlv, NULL, NULL), 1);
	assert_null(spool_find(f->sp, b.id));
	assert_int_equal(m.calls, 0);
	run_until(f, &m.calls, 1);
	assert_int_equal(m.err, 0);
	assert_int_equal(spool_stats(f->sp)->dones, 1);
	fx_reopen(f);
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
	fx_reopen(f);
	spool_msg_rcpt(spool_find(f->sp, a.id), 0, &ri);
	assert_int_equal(ri.attempts, 3);
	assert_int_equal(ri.next_try_us, 999);
	/* Final: DONE, gone after replay. */
	dlv.state = RECORD_RS_BOUNCED;
	assert_int_equal(spool_mark(f->sp, a.id, 0, 1, &dlv, NULL, NULL), 1);
	fx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 0);
}

/* Segment numbers present in seg/, as a bit set of the first 64. */
static uint64_t
seg_set(struct fx *f)
{
	char p[256];
	DIR *d;
	struct dirent *de;
	uint64_t set = 0;

	snprintf(p, sizeof(p), "%s/seg", f->dir);
	d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		unsigned long long n;

		if (sscanf(de->d_name, "%16llx.seg", &n) == 1 && n < 64)
			set |= 1ull << n;
	}
	closedir(d);
	return set;
}

static void
test_rotation_reclaim(void **state)
{
	FX();
	enum {
		N = 40
	};
	struct cres c[N];
	struct spool_state dlv = {.state = RECORD_RS_DELIVERED};
	uint64_t set, prev;

	f->o.segment_size = 16 << 10;
	fx_open(f);
	for (unsigned i = 0; i < N; i++)
		commit_one(f, &c[i], i, 3000);
	assert_true(spool_stats(f->sp)->segments >= 5);
	prev = seg_set(f);
	/* Finish every message but the first: nothing may be reclaimed,
	 * because only the oldest segment is ever deleted. */
	for (unsigned i = 1; i < N; i++)
		assert_int_equal(
		    spool_mark(f->sp, c[i].id, 0, 3, &dlv, NULL, NULL), 1);
	run_ms(f, 50);
	assert_int_equal(seg_set(f), prev);
	assert_int_equal(spool_stats(f->sp)->reclaimed, 0);
	/* The first goes: every older segment is deleted, oldest first. */
	assert_int_equal(spool_mark(f->sp, c[0].id, 0, 3, &dlv, NULL, NULL), 1);
	for (int k = 0; k < 200; k++) {
		assert_true(ring_run_once(f->r, 1000000) >= 0);
		set = seg_set(f);
		/* What remains of prev is always a suffix of it: only the
		 * oldest segments go, never one with an older one left. */
		assert_int_not_equal(set, 0);
		assert_int_equal(set & prev,
				 prev & ~((1ull << __builtin_ctzll(set)) - 1));
	}
	set = seg_set(f);
	assert_int_equal(__builtin_popcountll(set), 1); /* the append one */
	assert_true(spool_stats(f->sp)->reclaimed >= 5);
	fx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 0);
}

/* Path of the first segment file (lowest number) in seg/. */
static void
first_seg(struct fx *f, char *out, size_t n, int which)
{
	uint64_t set = seg_set(f);
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
rm_segs_except(struct fx *f, const char *keep)
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
	FX();
	struct cres c[3];
	struct spool_body b;
	char path[256];
	uint8_t *orig;
	struct stat st;
	uint64_t rec_off;
	int fd;

	f->o.unsafe_no_sync = true; /* hundreds of reopens */
	fx_open(f);
	for (unsigned i = 0; i < 3; i++)
		commit_one(f, &c[i], i, 200);
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
		fx_open(f);
		assert_int_equal(spool_stats(f->sp)->live_msgs, 2);
		assert_non_null(spool_find(f->sp, c[0].id));
		assert_non_null(spool_find(f->sp, c[1].id));
		assert_null(spool_find(f->sp, c[2].id));
		assert_int_equal(spool_stats(f->sp)->torn,
				 cut > (off_t)rec_off);
		check_body(f, c[1].id, 1, 200);
		spool_close(f->sp);
		f->sp = NULL;
		assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)rec_off);
	}
	/* A tail of garbage (not zeros) is quarantined before the cut. */
	assert_int_equal(pwrite(fd, orig, (size_t)st.st_size, 0), st.st_size);
	memset(orig + rec_off + 100, 0x5a, 50);
	assert_int_equal(pwrite(fd, orig, (size_t)st.st_size, 0), st.st_size);
	rm_segs_except(f, path);
	fx_open(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 2);
	assert_int_equal(spool_stats(f->sp)->quarantined, 1);
	close(fd);
	free(orig);
}

static void
test_bitflip_middle(void **state)
{
	FX();
	struct cres c[5];
	char path[256], q[256];
	uint64_t off;
	uint8_t byte;
	int fd;

	fx_open(f);
	commit_one(f, &c[0], 0, 500);
	fx_reopen(f); /* each open starts a new segment */
	for (unsigned i = 1; i < 4; i++)
		commit_one(f, &c[i], i, 500);
	off = spool_find(f->sp, c[2].id)->rec_off;
	fx_reopen(f);
	commit_one(f, &c[4], 4, 500);
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
	fx_open(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 4);
	assert_null(spool_find(f->sp, c[2].id));
	for (unsigned i = 0; i < 5; i++)
		if (i != 2)
			check_body(f, c[i].id, i, 500);
	assert_int_equal(spool_stats(f->sp)->quarantined, 1);
	snprintf(q, sizeof(q), "%s/quarantine", f->dir);
	assert_int_equal(count_files(q, ".bin"), 1);
	/* The region is skipped the same way at every replay. */
	fx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 4);
}

static void
test_streamed(void **state)
{
	FX();
	enum {
		LEN = 5 * 1000 * 1000 + 3,
		PIECE = 4093
	};
	struct spool_txn t = {0};
	struct env_buf e;
	struct cres c = {0}, s2;
	uint8_t *b = malloc(LEN);
	char segdir[256];
	size_t off = 0;

	f->o.inline_max = 1 << 20;
	fx_open(f);
	env_make(&e, 2);
	body_fill(b, LEN, 99);
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, cres_on_resume, &c),
			 0);
	memcpy(c.id, spool_txn_id(&t), SPOOL_ID_LEN);
	while (off < LEN) {
		size_t n = MIN((size_t)PIECE, LEN - off);
		int rc = spool_txn_body(&t, b + off, n);

		assert_true(rc == 0 || rc == SPOOL_BUSY);
		off += n;
		if (rc == SPOOL_BUSY) {
			int want = c.resumed + 1;

			run_until(f, &c.resumed, want);
		}
	}
	assert_true(c.resumed > 0);
	snprintf(segdir, sizeof(segdir), "%s/seg", f->dir);
	assert_int_equal(count_files(segdir, ".seg"), 2); /* + tmp- */
	spool_txn_commit(&t, cres_on_commit, &c);
	run_until(f, &c.calls, 1);
	assert_int_equal(c.err, 0);
	assert_int_equal(spool_stats(f->sp)->streamed, 1);
	check_body(f, c.id, 99, LEN);
	commit_one(f, &s2, 5, 100); /* shared appends go on after it */
	assert_int_equal(s2.err, 0);
	fx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, 2);
	check_body(f, c.id, 99, LEN);
	check_body(f, s2.id, 5, 100);
	/* An aborted stream leaves no file behind. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, cres_on_resume, &c),
			 0);
	assert_true(spool_txn_body(&t, b, 2 << 20) >= 0);
	spool_txn_abort(&t);
	assert_int_equal(spool_drain(f->sp, 5000), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(count_files(segdir, ".seg"),
			 (int)__builtin_popcountll(seg_set(f)));
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
	FX();
	enum {
		LEN = 40000,
		PIECE = 3000
	};
	struct spool_txn t = {0}, none = {0};
	struct env_buf e;
	struct cres c = {0};
	uint8_t *b = malloc(LEN);
	size_t off = 0;

	f->o.inline_max = 32 << 10;
	fx_open(f);
	env_make(&e, 2);
	body_fill(b, LEN, 42);
	assert_null(spool_txn_body_room(&none, 1));
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, cres_on_resume, &c),
			 0);
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
	spool_txn_commit(&t, cres_on_commit, &c);
	run_until(f, &c.calls, 1);
	assert_int_equal(c.err, 0);
	check_body(f, c.id, 42, LEN);
	/* Wholly in place, inline. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, cres_on_resume, &c),
			 0);
	memcpy(c.id, spool_txn_id(&t), SPOOL_ID_LEN);
	{
		uint8_t *p = spool_txn_body_room(&t, 20000);

		assert_non_null(p);
		body_fill(p, 20000, 43);
		assert_int_equal(spool_txn_body(&t, p, 20000), 0);
	}
	spool_txn_commit(&t, cres_on_commit, &c);
	assert_null(spool_txn_body_room(&t, 1)); /* committed */
	run_until(f, &c.calls, 1);
	assert_int_equal(c.err, 0);
	check_body(f, c.id, 43, 20000);
	fx_reopen(f);
	check_body(f, c.id, 43, 20000);
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
	FX();
	enum {
		N = 1500,
		OLD = 20
	};
	static const int cuts[] = {1, 37, 4096, 100000};
	struct spool_state dlv = {.state = RECORD_RS_DELIVERED, .code = 250};
	struct spool_txn *t = calloc(N, sizeof(*t));
	struct cres *c = calloc(N, sizeof(*c)), old[OLD];
	struct mres m[OLD];

	f->o.max_batch = 4096;
	fx_open(f);
	for (unsigned i = 0; i < OLD; i++)
		commit_one(f, &old[i], 5000 + i, 700);
	for (size_t k = 0; k < nitems(cuts); k++) {
		uint64_t b0 = spool_stats(f->sp)->batches;
		int done = 0;

		memset(m, 0, sizeof(m));
		for (unsigned i = 0; i < N; i++) {
			submit(f, &t[i], &c[i], (unsigned)(k * N + i),
			       100 + i % 300, 1);
			if (i % 75 == 0) /* a mark between messages */
				assert_int_equal(
				    spool_mark(f->sp, old[i / 75].id, 0, 1,
					       &dlv, mres_on_mark, &m[i / 75]),
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
		fx_reopen(f);
		for (unsigned i = 0; i < N; i += 7)
			check_body(f, c[i].id, (unsigned)(k * N + i),
				   100 + i % 300);
		check_body(f, c[N - 1].id, (unsigned)(k * N + N - 1),
			   100 + (N - 1) % 300);
		assert_int_equal(spool_stats(f->sp)->live_msgs,
				 OLD + (k + 1) * N);
	}
	free(t);
	free(c);
}

/* Begin a transaction with some body and leave it open. */
static void
open_txn(struct fx *f, struct spool_txn *t, uint32_t flags)
{
	struct env_buf e;
	uint8_t b[64];

	env_make(&e, 1);
	e.env.flags = flags;
	body_fill(b, sizeof(b), 1);
	assert_int_equal(spool_txn_begin(f->sp, t, &e.env, NULL, NULL), 0);
	assert_int_equal(spool_txn_body(t, b, sizeof(b)), 0);
}

/* ms since t0 (ring_now scale). */
static int64_t
since_ms(struct fx *f, int64_t t0)
{
	return (ring_now_update(f->r) - t0) / 1000000;
}

static void
test_commit_delay(void **state)
{
	FX();
	struct spool_txn b = {0}, c3 = {0}, t1 = {0}, t2 = {0};
	struct cres a, a2, bres = {0};
	uint64_t batches;
	int64_t t0;

	f->o.commit_delay_us = 200000; /* 200 ms: unmistakable */
	fx_open(f);
	/* A lone transaction never waits. */
	t0 = ring_now_update(f->r);
	commit_one(f, &a, 1, 100);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);

	/* Another one open: the batch waits for it, then both share it. */
	open_txn(f, &b, 0);
	submit(f, &t1, &a, 2, 100, 1);
	run_ms(f, 20);
	assert_int_equal(a.calls, 0);
	assert_int_equal(spool_stats(f->sp)->waits, 1);
	batches = spool_stats(f->sp)->batches;
	t0 = ring_now_update(f->r);
	spool_txn_commit(&b, cres_on_commit, &bres);
	run_until(f, &bres.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_int_equal(bres.err, 0);
	assert_true(since_ms(f, t0) < 150); /* ended early */
	assert_int_equal(spool_stats(f->sp)->batches, batches + 1);

	/* The sibling never commits: the wait ends at commit_delay. */
	open_txn(f, &b, 0);
	t0 = ring_now_update(f->r);
	submit(f, &t1, &a, 3, 100, 1);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_true(since_ms(f, t0) >= 195);
	assert_non_null(b.in);

	/* An abort of the awaited one ends the wait; one begun during the
	 * wait is not waited for. */
	submit(f, &t1, &a, 4, 100, 1);
	run_ms(f, 10);
	assert_int_equal(a.calls, 0);
	open_txn(f, &c3, 0);
	t0 = ring_now_update(f->r);
	spool_txn_abort(&b);
	run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	spool_txn_abort(&c3);

	/* A full batch (max_batch) starts at once. */
	f->o.max_batch = 2;
	fx_reopen(f);
	open_txn(f, &b, 0);
	t0 = ring_now_update(f->r);
	submit(f, &t1, &a, 5, 100, 1);
	submit(f, &t2, &a2, 6, 100, 1);
	run_until(f, &a2.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);
	spool_txn_abort(&b);

	/* SPOOL_DELAY_OFF: never waits. */
	f->o.max_batch = 0;
	f->o.commit_delay_us = SPOOL_DELAY_OFF;
	fx_reopen(f);
	open_txn(f, &b, 0);
	t0 = ring_now_update(f->r);
	submit(f, &t1, &a, 7, 100, 1);
	run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);
	spool_txn_abort(&b);
}

static void
test_commit_hints(void **state)
{
	FX();
	struct spool_hint h = {0}, h2 = {0}, many[50];
	struct spool_txn b = {0}, t1 = {0};
	struct cres a, bres = {0};
	uint64_t batches, waits;
	int64_t t0;

	f->o.commit_delay_us = 200000; /* 200 ms: unmistakable */
	fx_open(f);
	/* Begin twice counts once, end twice is harmless. */
	assert_int_equal(spool_hints(f->sp), 0);
	spool_hint_begin(f->sp, &h);
	spool_hint_begin(f->sp, &h);
	assert_int_equal(spool_hints(f->sp), 1);
	spool_hint_end(f->sp, &h);
	spool_hint_end(f->sp, &h);
	assert_int_equal(spool_hints(f->sp), 0);
	memset(many, 0, sizeof(many));
	for (unsigned i = 0; i < nitems(many); i++)
		spool_hint_begin(f->sp, &many[i]);
	assert_int_equal(spool_hints(f->sp), nitems(many));
	for (unsigned i = nitems(many); i-- > 0;)
		spool_hint_end(f->sp, &many[i]);
	assert_int_equal(spool_hints(f->sp), 0);

	/* A hinted session holds a lone commit back; its end (commit,
	 * RSET, QUIT...) ends the wait early. */
	spool_hint_begin(f->sp, &h);
	submit(f, &t1, &a, 1, 100, 1);
	run_ms(f, 20);
	assert_int_equal(a.calls, 0);
	assert_int_equal(spool_stats(f->sp)->waits, 1);
	t0 = ring_now_update(f->r);
	spool_hint_end(f->sp, &h);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_true(since_ms(f, t0) < 150);

	/* The listener's order: hint at MAIL, transaction at the end of
	 * the headers, both closed at commit: one batch for both, early. */
	spool_hint_begin(f->sp, &h);
	open_txn(f, &b, 0);
	submit(f, &t1, &a, 2, 100, 1);
	run_ms(f, 20);
	assert_int_equal(a.calls, 0);
	batches = spool_stats(f->sp)->batches;
	t0 = ring_now_update(f->r);
	spool_txn_commit(&b, cres_on_commit, &bres);
	spool_hint_end(f->sp, &h);
	run_until(f, &bres.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(bres.err, 0);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->batches, batches + 1);

	/* A hint begun during the wait is not waited for. */
	spool_hint_begin(f->sp, &h);
	submit(f, &t1, &a, 3, 100, 1);
	run_ms(f, 10);
	spool_hint_begin(f->sp, &h2);
	t0 = ring_now_update(f->r);
	spool_hint_end(f->sp, &h);
	run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	spool_hint_end(f->sp, &h2);

	/* A leaked hint: a batch waits commit_delay at most, and once the
	 * hint has expired nothing waits for it. */
	spool_hint_begin(f->sp, &h);
	t0 = ring_now_update(f->r);
	submit(f, &t1, &a, 4, 100, 1);
	run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) >= 195);
	run_ms(f, 2 * SPOOL_HINT_TTL_MS + 10);
	assert_int_equal(spool_hints(f->sp), 0);
	waits = spool_stats(f->sp)->waits;
	t0 = ring_now_update(f->r);
	submit(f, &t1, &a, 5, 100, 1);
	run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, waits);
	spool_hint_end(f->sp, &h); /* late: changes nothing */
	assert_int_equal(spool_hints(f->sp), 0);
	spool_hint_begin(f->sp, &h); /* and it can be used again */
	assert_int_equal(spool_hints(f->sp), 1);
	spool_hint_end(f->sp, &h);

	/* SPOOL_DELAY_OFF: a hint never holds a batch back. */
	f->o.commit_delay_us = SPOOL_DELAY_OFF;
	fx_reopen(f);
	spool_hint_begin(f->sp, &h);
	t0 = ring_now_update(f->r);
	submit(f, &t1, &a, 6, 100, 1);
	run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);
	spool_hint_end(f->sp, &h);
}

/* --- the listener's hints over real SMTP sessions --- */

struct lfx {
	struct config *cfg;
	struct listener *l;
	struct sockaddr_in sa;
};

static void
lfx_start(struct fx *f, struct lfx *x)
{
	static const char conf[] = "[server]\nhostname = t.test\n"
				   "[listener]\naddress = 127.0.0.1:0\n"
				   "relay_networks = 127.0.0.0/8\n"
				   "max_errors = 3\n";
	struct config_err_list errs;
	const char *bound;
	unsigned port;

	config_err_list_init(&errs);
	assert_int_equal(config_load_string("t", conf, &x->cfg, &errs), 0);
	config_err_list_fini(&errs);
	assert_int_equal(
	    listener_new(f->r, x->cfg, f->sp, NULL, NULL, NULL, &x->l), 0);
	bound = listener_bound(x->l, 0);
	assert_non_null(bound);
	assert_int_equal(sscanf(bound, "127.0.0.1:%u", &port), 1);
	memset(&x->sa, 0, sizeof(x->sa));
	x->sa.sin_family = AF_INET;
	x->sa.sin_port = htons((uint16_t)port);
	x->sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void
lfx_stop(struct fx *f, struct lfx *x)
{
	listener_stop(x->l);
	for (int i = 0; i < 5000 && !listener_idle(x->l); i++)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	assert_true(listener_idle(x->l));
	listener_free(x->l);
	config_free(x->cfg);
}

/* Send line (if not NULL), run the loop until a final reply arrives;
 * returns its code, or 0 when the server closed the connection. */
static int
lfx_chat(struct fx *f, int fd, const char *line)
{
	char buf[4096];
	size_t len = 0;
	int code;

	if (line != NULL)
		assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL),
				 (ssize_t)strlen(line));
	for (int i = 0; i < 5000; i++) {
		ssize_t n;
		char *eol;

		assert_true(ring_run_once(f->r, 1000000) >= 0);
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n > 0)
			len += (size_t)n;
		buf[len] = '\0';
		/* the last final line of those complete (replies sent
		 * together, e.g. 500 then 421, arrive together) */
		code = 0;
		for (char *p = buf; (eol = strstr(p, "\r\n")) != NULL;
		     p = eol + 2)
			if (eol - p >= 4 && p[3] == ' ')
				code = atoi(p);
		if (code != 0)
			return code;
	}
	fail_msg("no reply to %s", line ? line : "(connect)");
	return -1;
}

static int
lfx_connect(struct fx *f, struct lfx *x)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(
	    connect(fd, (const struct sockaddr *)&x->sa, sizeof(x->sa)), 0);
	assert_int_equal(lfx_chat(f, fd, NULL), 220);
	assert_int_equal(lfx_chat(f, fd, "EHLO c.test\r\n"), 250);
	return fd;
}

/* Run the loop until no hint is left (a dropped client is noticed). */
static unsigned
lfx_settle(struct fx *f)
{
	for (int i = 0; i < 2000 && spool_hints(f->sp) > 0; i++)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	return spool_hints(f->sp);
}

#define LFX_MAIL "MAIL FROM:<a@s.test>\r\n"
#define LFX_RCPT "RCPT TO:<b@d.test>\r\n"
#define LFX_BODY "Subject: t\r\n\r\nhello\r\n"

struct lfx_case {
	const char *name;
	struct {
		const char *line;
		int code; /* expected reply; -1: send only */
	} step[6];
	unsigned during; /* hints after the steps */
	const char *end; /* ends the session; NULL: drop the connection */
	int end_code;
};

static const struct lfx_case lfx_cases[] = {
    {"RSET", {{LFX_MAIL, 250}, {LFX_RCPT, 250}}, 1, "RSET\r\n", 250},
    {"QUIT", {{LFX_MAIL, 250}, {LFX_RCPT, 250}}, 1, "QUIT\r\n", 221},
    {"EHLO", {{LFX_MAIL, 250}}, 1, "EHLO c.test\r\n", 250},
    {"drop after MAIL", {{LFX_MAIL, 250}}, 1, NULL, 0},
    {"drop in the body",
     {{LFX_MAIL, 250},
      {LFX_RCPT, 250},
      {"DATA\r\n", 354},
      {"Subject: t\r\n\r\npart", -1}},
     1,
     NULL,
     0},
    {"committed",
     {{LFX_MAIL, 250},
      {LFX_RCPT, 250},
      {"DATA\r\n", 354},
      {LFX_BODY ".\r\n", 250}},
     0,
     "QUIT\r\n",
     221},
    {"refused at the end of data",
     {{LFX_MAIL, 250},
      {LFX_RCPT, 250},
      {"DATA\r\n", 354},
      {"X-Binding: nope\r\n\r\nx\r\n.\r\n", 550}},
     0,
     "QUIT\r\n",
     221},
    {"bad line endings",
     {{LFX_MAIL, 250},
      {LFX_RCPT, 250},
      {"DATA\r\n", 354},
      {"a\nb\r\n.\r\n", 550}},
     0,
     NULL,
     0},
    {"refused MAIL", {{"MAIL FROM:<\xc3\xa9@s.test>\r\n", 553}}, 0, NULL, 0},
    {"no valid recipient",
     {{LFX_MAIL, 250}, {"RCPT TO:<a@b@c>\r\n", 554}, {"DATA\r\n", 554}},
     1,
     "QUIT\r\n",
     221},
    {"nested MAIL", {{LFX_MAIL, 250}, {LFX_MAIL, 503}}, 1, "RSET\r\n", 250},
    {"too many errors",
     {{LFX_MAIL, 250}, {"FOO\r\n", 500}, {"FOO\r\n", 500}},
     1,
     "FOO\r\n",
     421},
};

static void
test_listener_hints(void **state)
{
	FX();
	struct lfx x;
	int fds[50], code;

	fx_open(f);
	lfx_start(f, &x);
	for (size_t c = 0; c < nitems(lfx_cases); c++) {
		const struct lfx_case *k = &lfx_cases[c];
		int fd = lfx_connect(f, &x);

		for (size_t i = 0; i < nitems(k->step) && k->step[i].line;
		     i++) {
			if (k->step[i].code < 0) {
				const char *p = k->step[i].line;

				assert_int_equal(send(fd, p, strlen(p), 0),
						 (ssize_t)strlen(p));
				run_ms(f, 5);
				continue;
			}
			code = lfx_chat(f, fd, k->step[i].line);
			if (code != k->step[i].code)
				fail_msg("%s: step %zu: %d", k->name, i, code);
		}
		if (spool_hints(f->sp) != k->during)
			fail_msg("%s: %u hints, want %u", k->name,
				 spool_hints(f->sp), k->during);
		if (k->end != NULL &&
		    (code = lfx_chat(f, fd, k->end)) != k->end_code)
			fail_msg("%s: end: %d", k->name, code);
		/* RSET, EHLO and QUIT drop the hint at once */
		if (k->end != NULL && code != 421 && spool_hints(f->sp) != 0)
			fail_msg("%s: hint kept", k->name);
		close(fd);
		if (lfx_settle(f) != 0)
			fail_msg("%s: %u hints left", k->name,
				 spool_hints(f->sp));
	}
	assert_int_equal(spool_stats(f->sp)->messages, 1);

	/* Fifty sessions in a transaction at once, then all dropped. */
	for (size_t i = 0; i < nitems(fds); i++) {
		fds[i] = lfx_connect(f, &x);
		assert_int_equal(lfx_chat(f, fds[i], LFX_MAIL), 250);
	}
	assert_int_equal(spool_hints(f->sp), nitems(fds));
	for (size_t i = 0; i < nitems(fds); i++)
		close(fds[i]);
	assert_int_equal(lfx_settle(f), 0);
	lfx_stop(f, &x);
}

/* Commit t (open, body n of len bytes); the message's flags after replay. */
static uint32_t
flags_after_replay(struct fx *f, struct spool_txn *t, struct cres *c,
		   unsigned n, size_t len)
{
	struct spool_msg_info mi;

	memcpy(c->id, spool_txn_id(t), SPOOL_ID_LEN);
	spool_txn_commit(t, cres_on_commit, c);
	run_until(f, &c->calls, 1);
	assert_int_equal(c->err, 0);
	fx_reopen(f);
	check_body(f, c->id, n, len);
	spool_msg_info(spool_find(f->sp, c->id), &mi);
	return mi.flags;
}

/* Begin with flags, feed body n (len bytes), set add after `at` bytes. */
static int
flags_txn(struct fx *f, struct spool_txn *t, struct cres *c, uint32_t flags,
	  unsigned n, size_t len, size_t at, uint32_t add)
{
	struct env_buf e;
	uint8_t *b = malloc(len);
	int rc = 0;

	env_make(&e, 2);
	e.env.flags = flags;
	body_fill(b, len, n);
	memset(c, 0, sizeof(*c));
	assert_int_equal(spool_txn_begin(f->sp, t, &e.env, cres_on_resume, c),
			 0);
	for (size_t off = 0; off < len; off += 65536) {
		size_t k = MIN((size_t)65536, len - off);
		int r;

		if (off <= at && at < off + k)
			rc = spool_txn_set_flags(t, add);
		r = spool_txn_body(t, b + off, k);
		assert_true(r == 0 || r == SPOOL_BUSY);
		if (r == SPOOL_BUSY)
			run_until(f, &c->resumed, c->resumed + 1);
	}
	free(b);
	return rc;
}

static void
test_set_flags(void **state)
{
	FX();
	const uint32_t e8 = RECORD_MSG_F_8BITMIME, u8 = RECORD_MSG_F_SMTPUTF8;
	const size_t big = (3u << 20) + 11;
	struct spool_txn t = {0};
	struct cres c;

	f->o.inline_max = 1 << 20;
	fx_open(f);
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
	FX();
	struct cres a, b, c;

	fx_open(f);
	commit_one(f, &a, 1, 300);
	spool_fault_inject(f->sp, RING_OP_FSYNC, 0, -EIO);
	commit_one(f, &b, 2, 300);
	assert_int_equal(b.err, -EIO);
	assert_false(spool_healthy(f->sp));
	assert_int_equal(spool_status(f->sp), -EIO);
	assert_null(spool_find(f->sp, b.id));
	/* Refused while unhealthy; heals by itself (a new segment). */
	for (int i = 0; i < 200 && !spool_healthy(f->sp); i++)
		run_ms(f, 10);
	assert_true(spool_healthy(f->sp));
	commit_one(f, &c, 3, 300);
	assert_int_equal(c.err, 0);
	fx_reopen(f);
	assert_non_null(spool_find(f->sp, a.id));
	assert_null(spool_find(f->sp, b.id)); /* never delivered later */
	assert_non_null(spool_find(f->sp, c.id));
	/* A failed write: the same. */
	spool_fault_inject(f->sp, RING_OP_WRITE, 0, -ENOSPC);
	commit_one(f, &b, 4, 300);
	assert_int_equal(b.err, -ENOSPC);
	assert_int_equal(spool_status(f->sp), -ENOSPC);
	fx_reopen(f);
	assert_null(spool_find(f->sp, b.id));
	assert_int_equal(spool_stats(f->sp)->live_msgs, 2);
	/* A short write is resumed, not failed. */
	spool_fault_inject(f->sp, RING_OP_WRITE, 0, 10);
	commit_one(f, &b, 5, 3000);
	assert_int_equal(b.err, 0);
	assert_true(spool_healthy(f->sp));
	fx_reopen(f);
	check_body(f, b.id, 5, 3000);
}

/* Stream a body of len in pieces, then commit; c gets the outcome. */
static void
stream_one(struct fx *f, struct cres *c, unsigned n, size_t len)
{
	struct spool_txn t = {0};
	struct env_buf e;
	uint8_t *b = malloc(len);
	size_t off = 0;

	env_make(&e, 1);
	body_fill(b, len, n);
	memset(c, 0, sizeof(*c));
	assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, cres_on_resume, c),
			 0);
	memcpy(c->id, spool_txn_id(&t), SPOOL_ID_LEN);
	while (off < len) {
		size_t k = MIN((size_t)100000, len - off);
		int rc = spool_txn_body(&t, b + off, k);

		assert_true(rc == 0 || rc == SPOOL_BUSY);
		off += k;
		if (rc == SPOOL_BUSY)
			run_until(f, &c->resumed, c->resumed + 1);
	}
	spool_txn_commit(&t, cres_on_commit, c);
	run_until(f, &c->calls, 1);
	free(b);
}

static void
test_streamed_fails(void **state)
{
	FX();
	struct cres c;
	char segdir[256];

	f->o.inline_max = 64 << 10;
	fx_open(f);
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
		run_ms(f, 10); /* heals by itself: a new segment */
	assert_true(spool_healthy(f->sp));
	assert_int_equal(count_files(segdir, ".seg"),
			 (int)__builtin_popcountll(seg_set(f)));
	/* The directory fsync after the rename fails: the renamed segment
	 * stays, a DONE record kills its message for good. */
	spool_fault_inject(f->sp, RING_OP_FSYNC, 1, -EIO);
	stream_one(f, &c, 2, 300000);
	assert_int_equal(c.err, -EIO);
	for (int i = 0; i < 200 && !spool_healthy(f->sp); i++)
		run_ms(f, 10);
	assert_true(spool_healthy(f->sp));
	fx_reopen(f);
	assert_null(spool_find(f->sp, c.id));
	/* A short write while streaming is resumed. */
	spool_fault_inject(f->sp, RING_OP_WRITE, 0, 1000);
	stream_one(f, &c, 3, 300000);
	assert_int_equal(c.err, 0);
	fx_reopen(f);
	check_body(f, c.id, 3, 300000);
}

static void
test_enospc(void **state)
{
	FX();
	enum {
		N = 40
	};
	struct cres c[N];
	struct spool_txn t = {0};
	struct env_buf e;
	int ok = 0, full = 0;

	if (mount("tmpfs", f->tmp, "tmpfs", 0, "size=1m") != 0) {
		print_message("mount tmpfs failed (%s): ENOSPC covered by the "
			      "fault seam only\n",
			      strerror(errno));
		skip();
		return;
	}
	f->o.segment_size = 256 << 10;
	fx_open(f);
	for (unsigned i = 0; i < N; i++) {
		if (!spool_healthy(f->sp)) {
			env_make(&e, 1);
			assert_int_equal(
			    spool_txn_begin(f->sp, &t, &e.env, NULL, NULL),
			    -ENOSPC);
			full++;
			continue;
		}
		commit_one(f, &c[i], i, 60000);
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
		run_ms(f, 10);
	assert_true(spool_healthy(f->sp));
	commit_one(f, &c[0], 1000, 100);
	assert_int_equal(c[0].err, 0);
	fx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, ok + 1);
}

static void
test_newer_version(void **state)
{
	FX();
	struct cres c;
	char path[256];
	uint8_t h[64];
	int fd;

	fx_open(f);
	commit_one(f, &c, 1, 10);
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
	FX();
	const char *env = getenv("RINGMTA_SPOOL_BIG");
	unsigned n = env ? (unsigned)strtoul(env, NULL, 10) : 100000;
	enum {
		WAVE = 2000,
		RCPT = 10,
		LEN = 4096
	};
	struct spool_txn *t;
	struct cres *c;
	struct timespec a, b;
	double ms;

	if (n == 0) {
		skip();
		return;
	}
	t = calloc(WAVE, sizeof(*t));
	c = calloc(WAVE, sizeof(*c));
	f->o.max_batch = 4096;
	fx_open(f);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned base = 0; base < n; base += WAVE) {
		unsigned w = MIN((unsigned)WAVE, n - base), done = 0;

		for (unsigned i = 0; i < w; i++)
			submit(f, &t[i], &c[i], base + i, LEN, RCPT);
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
	fx_reopen(f);
	assert_int_equal(spool_stats(f->sp)->live_msgs, n);
	assert_int_equal(spool_stats(f->sp)->live_rcpts, (uint64_t)n * RCPT);
	print_message("replay: %u messages, %" PRIu64
		      " recipients in %.0f ms\n",
		      n, spool_stats(f->sp)->live_rcpts,
		      spool_stats(f->sp)->replay_ns / 1e6);
	check_body(f, c[0].id, n - (n % WAVE ? n % WAVE : WAVE), LEN);
	free(t);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, fx_setup, fx_teardown)
	    T(test_commit_replay),    T(test_bad_envelope_and_abort),
	    T(test_group_commit),     T(test_marks_replay),
	    T(test_rotation_reclaim), T(test_torn_tail),
	    T(test_bitflip_middle),   T(test_streamed),
	    T(test_fsync_fails),      T(test_streamed_fails),
	    T(test_enospc),           T(test_newer_version),
	    T(test_replay_large),     T(test_commit_delay),
	    T(test_set_flags),        T(test_commit_hints),
	    T(test_listener_hints),   T(test_body_room),
	    T(test_batch_pieces),
#undef T
	};

	log_init("test_spool");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
