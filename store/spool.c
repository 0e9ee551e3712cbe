/* SPDX-License-Identifier: MIT */
/*
 * spool.c: the spool's front: open/close, health, the fault seam and
 * small shared helpers.
 *
 * The index and marks are spool_index.c, intake spool_txn.c, writing
 * spool_commit.c (group commit, segments, reclaim), large bodies
 * spool_stream.c, start-up spool_replay.c.  After open this file does no
 * file I/O but fstatvfs() for the free-space floor; it never blocks the
 * loop.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool_int.h"

#define SPOOL_DEF_SEGMENT (64ull << 20)
#define SPOOL_DEF_BATCH   256u
#define SPOOL_DEF_INLINE  (1u << 20)
#define SPOOL_DEF_PROBE   1000u

/* --- small helpers --- */

uint64_t
spool_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Format a message id as 32 lowercase hex digits.  Accepts any 16 bytes;
 * returns out.
 */
char *
spool_id_str(const uint8_t id[SPOOL_ID_LEN], char out[SPOOL_ID_STR_LEN])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < SPOOL_ID_LEN; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[2 * SPOOL_ID_LEN] = '\0';
	return out;
}

void
spool_entq_init(struct spool_entq *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->n = 0;
}

void
spool_entq_push(struct spool_entq *q, struct spool_ent *e)
{
	e->next = NULL;
	*q->tail = e;
	q->tail = &e->next;
	q->n++;
}

struct spool_ent *
spool_entq_pop(struct spool_entq *q)
{
	struct spool_ent *e = q->head;

	if (e == NULL)
		return NULL;
	q->head = e->next;
	if (q->head == NULL)
		q->tail = &q->head;
	q->n--;
	e->next = NULL;
	return e;
}

/* Move every entry of front before q's entries; front ends empty. */
void
spool_entq_prepend(struct spool_entq *q, struct spool_entq *front)
{
	if (front->head == NULL)
		return;
	*front->tail = q->head;
	if (q->head == NULL)
		q->tail = front->tail;
	q->head = front->head;
	q->n += front->n;
	spool_entq_init(front);
}

static bool
spool_floor_set(const struct spool *sp)
{
	return sp->o.min_free_bytes != 0 || sp->o.min_free_percent != 0;
}

/* Whether the probe must run again: a storage error (its wake-up lets the
 * commit hook retry segment creation), or a free-space floor while mail
 * is being accepted or the space is low.  An idle spool wakes nothing;
 * spool_status() checks at once when intake resumes. */
static bool
spool_probe_wanted(const struct spool *sp)
{
	return sp->err != 0 ||
	       (spool_floor_set(sp) &&
		(sp->low_space || sp->open > 0 || !spool_commit_idle(sp)));
}

/* Run the probe one period from now unless it runs already (or the
 * spool is still opening: spool_open() starts it). */
static void
spool_probe_start(struct spool *sp)
{
	if (sp->probe.fn != NULL && !timer_armed(&sp->probe))
		timer_arm(ring_timers(sp->r), &sp->probe,
			  ring_now(sp->r) + (int64_t)sp->o.probe_ms * 1000000);
}

/*
 * Map a storage error to the three the listener distinguishes, mark the
 * spool unhealthy and abandon the append segment (healing goes through a
 * fresh segment).  Returns the mapped error.
 */
int
spool_set_err(struct spool *sp, int err, const char *what)
{
	int e;

	if (err == -ENOSPC || err == -EDQUOT || err == -EFBIG)
		e = -ENOSPC;
	else if (err == -EMFILE || err == -ENFILE)
		e = -EMFILE;
	else
		e = -EIO;
	if (sp->err == 0)
		log_err("spool: %s: %s: refusing mail until it heals", what,
			strerror(-err));
	sp->err = e;
	if (sp->cur != NULL) {
		sp->cur->sealed = true;
		sp->cur = NULL;
	}
	sp->retry_at = ring_now(sp->r) + (int64_t)sp->o.probe_ms * 1000000 / 4;
	spool_probe_start(sp); /* its wake-ups heal, even when idle */
	return e;
}

/* Test seam: see spool_int.h. */
void
spool_fault_inject(struct spool *sp, enum ring_op kind, unsigned skip, int err)
{
	sp->fault_kind = (int)kind;
	sp->fault_skip = skip;
	sp->fault_err = err;
}

/* Apply an injected fault to a completion of kind; returns the result. */
int
spool_fault(struct spool *sp, enum ring_op kind, int res)
{
	if (sp->fault_err == 0 || sp->fault_kind != (int)kind)
		return res;
	if (sp->fault_skip > 0) {
		sp->fault_skip--;
		return res;
	}
	if (sp->fault_err < 0 || res > sp->fault_err)
		res = sp->fault_err;
	sp->fault_err = 0;
	return res;
}

/* --- open / close --- */

static int
spool_mkdirat(int dfd, const char *name)
{
	if (mkdirat(dfd, name, 0700) == -1 && errno != EEXIST)
		return -errno;
	return 0;
}

static int
spool_open_dirs(struct spool *sp)
{
	int rc;

	if (mkdir(sp->dir, 0700) == -1 && errno != EEXIST)
		return -errno;
	sp->dirfd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd == -1)
		return -errno;
	rc = spool_mkdirat(sp->dirfd, "seg");
	if (rc == 0)
		rc = spool_mkdirat(sp->dirfd, "quarantine");
	if (rc < 0)
		return rc;
	sp->segfd =
	    openat(sp->dirfd, "seg", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->segfd == -1)
		return -errno;
	sp->qfd =
	    openat(sp->dirfd, "quarantine", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->qfd == -1)
		return -errno;
	/* The directories themselves must survive a crash too. */
	if (!sp->o.unsafe_no_sync && fsync(sp->dirfd) == -1)
		return -errno;
	return 0;
}

/* Free-space floor: sets sp->low_space (logs transitions). */
static void
spool_check_space(struct spool *sp)
{
	struct statvfs v;
	uint64_t avail, floor = sp->o.min_free_bytes;
	bool low;

	if (floor == 0 && sp->o.min_free_percent == 0)
		return;
	if (fstatvfs(sp->dirfd, &v) == -1)
		return;
	avail = (uint64_t)v.f_bavail * v.f_frsize;
	if (sp->o.min_free_percent)
		floor = MAX(floor, (uint64_t)v.f_blocks * v.f_frsize / 100 *
				       sp->o.min_free_percent);
	low = avail < floor;
	if (low != sp->low_space)
		log_warn("spool: free space %" PRIu64 " MiB is %s the floor "
			 "(%" PRIu64 " MiB): %s new mail",
			 avail >> 20, low ? "below" : "back above", floor >> 20,
			 low ? "refusing" : "accepting");
	sp->low_space = low;
}

/* Health probe: free space, and a retry of segment creation (the test
 * write) when a storage error made the spool unhealthy. */
void
spool_probe_on_timer(struct timer *t)
{
	struct spool *sp = container_of(t, struct spool, probe);

	spool_check_space(sp);
	if (spool_probe_wanted(sp))
		timer_arm(ring_timers(sp->r), &sp->probe,
			  ring_now(sp->r) + (int64_t)sp->o.probe_ms * 1000000);
}

static void
spool_opts_defaults(struct spool_opts *o)
{
	if (o->segment_size == 0)
		o->segment_size = SPOOL_DEF_SEGMENT;
	if (o->max_batch == 0)
		o->max_batch = SPOOL_DEF_BATCH;
	if (o->inline_max == 0)
		o->inline_max = SPOOL_DEF_INLINE;
	if (o->probe_ms == 0)
		o->probe_ms = SPOOL_DEF_PROBE;
	if (o->commit_delay_us == 0)
		o->commit_delay_us = SPOOL_DEF_DELAY_US;
}

static void
spool_free(struct spool *sp)
{
	struct spool_ent *e;

	while ((e = spool_entq_pop(&sp->pend)) != NULL) {
		if (e->kind == SPOOL_ENT_RCPT)
			free(container_of(e, struct spool_mark, ent)->str);
		if (e->kind == SPOOL_ENT_IN)
			spool_in_finish(container_of(e, struct spool_in, ent),
					-ESHUTDOWN);
		else
			free(e);
	}
	for (uint32_t i = 0; i < sp->tab_cap; i++)
		spool_msg_free(sp->tab[i]);
	free(sp->tab);
	while (sp->segs) {
		struct spool_seg *s = sp->segs;

		sp->segs = s->next;
		if (s->fd >= 0)
			close(s->fd);
		free(s);
	}
	record_buf_fini(&sp->fly.buf);
	free(sp->fly.pcs);
	free(sp->fly.iov);
	if (sp->qfd >= 0)
		close(sp->qfd);
	if (sp->segfd >= 0)
		close(sp->segfd);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	free(sp->dir);
	free(sp);
}

/*
 * Open the spool: directories, replay, a fresh segment, the commit hook
 * and the health probe.  See spool.h.
 */
int
spool_open(struct ring *r, const struct spool_opts *o, struct spool **sp_r)
{
	struct spool *sp;
	int64_t t0 = ring_now_update(r);
	int rc;

	if (o->dir == NULL || o->dir[0] == '\0')
		return -EINVAL;
	sp = xcalloc(1, sizeof(*sp));
	sp->r = r;
	sp->o = *o;
	spool_opts_defaults(&sp->o);
	sp->dir = xstrdup(o->dir);
	sp->o.dir = sp->dir;
	sp->dirfd = sp->segfd = sp->qfd = -1;
	sp->next_number = 1;
	spool_entq_init(&sp->pend);
	spool_commit_init(sp);
	if (sp->o.unsafe_no_sync)
		log_warn("spool: unsafe_no_sync: accepted mail is NOT synced "
			 "to disk and can be lost in a crash");
	rc = spool_open_dirs(sp);
	if (rc == 0)
		rc = spool_replay(sp);
	if (rc < 0) {
		log_err("spool: cannot open %s: %s", sp->dir, strerror(-rc));
		spool_free(sp);
		return rc;
	}
	sp->st.replay_ns = (uint64_t)(ring_now_update(r) - t0);
	ring_hook_add(r, &sp->hook);
	timer_init(&sp->probe, spool_probe_on_timer);
	spool_probe_on_timer(&sp->probe);
	*sp_r = sp;
	return 0;
}

/*
 * Run ring turns until nothing of the spool is pending or in flight.
 * Returns 0, or -ETIMEDOUT (with something still outstanding).
 */
int
spool_drain(struct spool *sp, int timeout_ms)
{
	int64_t end = ring_now_update(sp->r) + (int64_t)timeout_ms * 1000000;

	while (!spool_commit_idle(sp)) {
		if (ring_now_update(sp->r) >= end)
			return -ETIMEDOUT;
		if (ring_run_once(sp->r, 10 * 1000000) < 0)
			return -EIO;
	}
	return 0;
}

/* Flush, wait for the spool's I/O, free.  See spool.h. */
void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (spool_drain(sp, 10000) < 0) {
		spool_commit_fail_pending(sp, -ESHUTDOWN);
		if (spool_drain(sp, 5000) < 0) {
			/* The kernel still owns our buffers (ring.h rule 2). */
			log_err("spool: I/O still in flight at close; leaking");
			ring_hook_del(sp->r, &sp->hook);
			timer_cancel(ring_timers(sp->r), &sp->probe);
			timer_cancel(ring_timers(sp->r), &sp->wait);
			return;
		}
	}
	ring_hook_del(sp->r, &sp->hook);
	timer_cancel(ring_timers(sp->r), &sp->probe);
	timer_cancel(ring_timers(sp->r), &sp->wait);
	spool_free(sp);
}

/* See spool.h. */
int
spool_status(struct spool *sp)
{
	/* Intake after an idle spell: the space now, and the probe again
	 * for as long as mail comes in. */
	if (!timer_armed(&sp->probe) && sp->probe.fn != NULL &&
	    spool_floor_set(sp)) {
		spool_check_space(sp);
		spool_probe_start(sp);
	}
	if (sp->err)
		return sp->err;
	return sp->low_space ? -ENOSPC : 0;
}

/* See spool.h. */
bool
spool_healthy(struct spool *sp)
{
	return spool_status(sp) == 0;
}

const struct spool_stats *
spool_stats(const struct spool *sp)
{
	struct spool *w = (struct spool *)(uintptr_t)sp;

	w->st.live_msgs = sp->nmsg;
	w->st.live_rcpts = sp->nlive;
	return &sp->st;
}
