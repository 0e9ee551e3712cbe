/* SPDX-License-Identifier: MIT */
/*
 * spool_commit.c: group commit, segment creation and reclaim, on the ring.
 *
 * A before-sleep hook gathers everything queued during the loop turn
 * (messages, state marks, DONE records) into one buffer, encodes it with
 * the append segment's key and fresh seqs, and writes it at the tail with
 * one write (short writes resumed), then one fdatasync; only then are the
 * commit callbacks told 0.  One batch is in flight at a time: write N+1 is
 * not issued before fdatasync N returned, because a failed fdatasync
 * abandons its segment (nothing may be appended after bytes of unknown
 * fate) and seq order must equal file order (seal before advance); the
 * next batch simply grows meanwhile, which is what group commit wants.
 *
 * A small batch may wait up to commit_delay for transactions already open
 * and for sessions that hinted a commit is coming (spool_hint_*: counters
 * by epoch, so a leaked hint expires).
 *
 * Owns: the batch in flight, the segment being created, the segment being
 * reclaimed, the hint counters.  Never reads records back; never
 * acknowledges a failed batch.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "log.h"
#include "spool_int.h"

/* A batch stops growing past this many bytes (and past max_batch). */
#define SPOOL_BATCH_BYTES (8u << 20)

enum spool_mk_step {
	SPOOL_MK_OPEN = 0,
	SPOOL_MK_WRITE,
	SPOOL_MK_FSYNC,
	SPOOL_MK_DIRSYNC,
	SPOOL_MK_UNLINK, /* cleanup after a failure */
	SPOOL_MK_CLOSE,
	SPOOL_MK__COUNT /* must stay last */
};

enum spool_rc_step {
	SPOOL_RC_CLOSE = 0,
	SPOOL_RC_UNLINK,
	SPOOL_RC_DIRSYNC,
	SPOOL_RC__COUNT /* must stay last */
};

static void spool_batch_on_done(struct uop *op, int res, unsigned flags);
static void spool_mk_on_done(struct uop *op, int res, unsigned flags);
static void spool_rc_on_done(struct uop *op, int res, unsigned flags);
static void spool_wait_on_timer(struct timer *t);

void
spool_commit_init(struct spool *sp)
{
	sp->hook.fn = spool_commit_hook;
	timer_init(&sp->wait, spool_wait_on_timer);
	uop_init(&sp->fly.op, spool_batch_on_done);
	uop_init(&sp->mk.op, spool_mk_on_done);
	uop_init(&sp->rc.op, spool_rc_on_done);
	record_buf_init(&sp->fly.buf);
	spool_entq_init(&sp->fly.ents);
}

/* Nothing pending, in flight, being created, reclaimed or streamed. */
bool
spool_commit_idle(const struct spool *sp)
{
	return sp->pend.n == 0 && !sp->fly.active && !sp->mk.active &&
	       !sp->rc.active && sp->barrier == NULL && sp->streams == 0;
}

/* Fail every message waiting in pend (state marks stay queued). */
void
spool_commit_fail_pending(struct spool *sp, int err)
{
	struct spool_entq keep;
	struct spool_ent *e;

	spool_entq_init(&keep);
	while ((e = spool_entq_pop(&sp->pend)) != NULL) {
		struct spool_in *in = container_of(e, struct spool_in, ent);

		if (e->kind != SPOOL_ENT_IN)
			spool_entq_push(&keep, e);
		else if (in->st != NULL)
			spool_stream_fail(in, err);
		else
			spool_in_finish(in, err);
	}
	sp->pend = keep;
	if (keep.head == NULL)
		spool_entq_init(&sp->pend);
}

static void
spool_buf_append(struct record_buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;

		while (cap < b->len + n)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/*
 * Put in's MSG record into the batch with the next seq: copied as encoded
 * when it was keyed for this segment, else re-encoded with this segment's
 * key.  Fills the index entry's location (its segment is set when the
 * batch is durable).
 */
static int
spool_batch_add_in(struct spool *sp, struct spool_batch *b, struct spool_in *in)
{
	uint64_t seq = ++sp->seq, nonce = b->seg->nonce;
	struct record_extent x;
	struct record_view v;
	size_t off = b->buf.len;
	int rc;

	if (in->nonce == nonce && !in->stale) {
		rc = record_enc_end(&in->enc, seq, &x);
		if (rc < 0)
			return rc;
		spool_buf_append(&b->buf, in->buf.data + x.off, x.size);
	} else {
		struct record_enc e;
		size_t bo;

		rc = spool_msg_encode_head(in->msg, &e, &b->buf, nonce, &bo);
		if (rc < 0)
			return rc;
		rc = record_body_append(&e, in->buf.data + in->body_off,
					in->body_len);
		if (rc == 0)
			rc = record_enc_end(&e, seq, &x);
		else
			record_enc_abort(&e);
		record_enc_abort(&in->enc);
		if (rc < 0)
			return rc;
	}
	rc = record_decode_head(b->buf.data + off, b->buf.len - off, nonce, &v);
	BUG_ON(rc != 1);
	in->msg->rec_off = b->off + off;
	in->msg->body_off = (uint32_t)x.body_off;
	in->msg->body_len = x.body_len;
	in->msg->body_crc = v.body_crc;
	record_buf_fini(&in->buf); /* the body now lives in the batch */
	return 0;
}

/* Encode one queued entry into b; returns 0 or -errno (entry finished). */
static int
spool_batch_add(struct spool *sp, struct spool_batch *b, struct spool_ent *e)
{
	uint64_t nonce = b->seg->nonce;
	struct spool_mark *k;
	struct spool_done *d;
	struct spool_in *in;
	int rc = 0;

	switch ((enum spool_ent_kind)e->kind) {
	case SPOOL_ENT_IN:
		in = container_of(e, struct spool_in, ent);
		rc = in->err ? in->err : spool_batch_add_in(sp, b, in);
		if (rc < 0)
			spool_in_finish(in, rc);
		return rc;
	case SPOOL_ENT_RCPT:
		k = container_of(e, struct spool_mark, ent);
		rc = record_rcpt_encode(&b->buf, nonce, ++sp->seq, &k->r, NULL);
		if (rc < 0) {
			log_err("spool: cannot encode a state mark: %s",
				strerror(-rc));
			if (k->cb)
				k->cb(k->arg, rc);
			free(k->str);
			free(k);
		}
		return rc;
	case SPOOL_ENT_DONE: {
		struct record_done rd = {.time_us = spool_now_us()};

		d = container_of(e, struct spool_done, ent);
		memcpy(rd.msgid, d->id, SPOOL_ID_LEN);
		rc = record_done_encode(&b->buf, nonce, ++sp->seq, &rd, NULL);
		BUG_ON(rc < 0);
		return 0;
	}
	case SPOOL_ENT__COUNT:
		break;
	}
	BUG_ON(1);
	return -EINVAL;
}

static void
spool_batch_write(struct spool *sp)
{
	struct spool_batch *b = &sp->fly;
	int rc;

	rc = ring_write(sp->r, &b->op, b->seg->fd, b->buf.data + b->done,
			b->buf.len - b->done, b->off + b->done);
	if (rc < 0)
		spool_batch_fail(sp, rc);
}

/* Gather pend into one batch at the tail of the append segment, write. */
static void
spool_batch_start(struct spool *sp)
{
	struct spool_batch *b = &sp->fly;
	struct spool_ent *e;
	unsigned n = 0;

	record_buf_reset(&b->buf);
	b->seg = sp->cur;
	b->off = sp->cur->tail;
	b->done = 0;
	b->syncing = false;
	while ((e = sp->pend.head) != NULL && n < sp->o.max_batch &&
	       b->buf.len < SPOOL_BATCH_BYTES) {
		if (e->kind == SPOOL_ENT_IN &&
		    container_of(e, struct spool_in, ent)->st != NULL)
			break; /* a streamed message: linked on its own */
		spool_entq_pop(&sp->pend);
		if (spool_batch_add(sp, b, e) < 0)
			continue;
		spool_entq_push(&b->ents, e);
		n++;
	}
	if (b->buf.len == 0)
		return;
	b->active = true;
	sp->cur->tail += b->buf.len;
	spool_batch_write(sp);
}

/* The batch is durable: index its messages, acknowledge everything. */
static void
spool_batch_ok(struct spool *sp)
{
	struct spool_batch *b = &sp->fly;
	struct spool_ent *e;

	sp->st.batches++;
	b->active = false;
	while ((e = spool_entq_pop(&b->ents)) != NULL) {
		switch ((enum spool_ent_kind)e->kind) {
		case SPOOL_ENT_IN: {
			struct spool_in *in =
			    container_of(e, struct spool_in, ent);

			in->msg->seg = b->seg;
			b->seg->live++;
			spool_index_add(sp, in->msg);
			sp->st.messages++;
			spool_in_finish(in, 0);
			break;
		}
		case SPOOL_ENT_RCPT: {
			struct spool_mark *k =
			    container_of(e, struct spool_mark, ent);

			sp->st.marks++;
			if (k->cb)
				k->cb(k->arg, 0);
			free(k->str);
			free(k);
			break;
		}
		case SPOOL_ENT_DONE: {
			struct spool_done *d =
			    container_of(e, struct spool_done, ent);

			sp->st.dones++;
			if (d->seg != NULL) {
				BUG_ON(d->seg->live == 0);
				d->seg->live--;
			}
			free(d);
			break;
		}
		case SPOOL_ENT__COUNT:
			BUG_ON(1);
		}
	}
}

/*
 * The batch failed (write or fdatasync): never acknowledge it.  Its
 * messages are refused and get DONE records at the front of the queue, so
 * the next segment starts by killing whatever of them reached the disk;
 * its marks and DONEs are written again there.
 */
void
spool_batch_fail(struct spool *sp, int err)
{
	struct spool_batch *b = &sp->fly;
	struct spool_entq dones, again;
	struct spool_ent *e;

	err = spool_set_err(sp, err, "writing a batch");
	b->seg->sealed = true;
	b->active = false;
	spool_entq_init(&dones);
	spool_entq_init(&again);
	while ((e = spool_entq_pop(&b->ents)) != NULL) {
		if (e->kind == SPOOL_ENT_IN) {
			struct spool_in *in =
			    container_of(e, struct spool_in, ent);
			struct spool_done *d = xcalloc(1, sizeof(*d));

			d->ent.kind = SPOOL_ENT_DONE;
			memcpy(d->id, in->msg->id, SPOOL_ID_LEN);
			spool_entq_push(&dones, &d->ent);
			spool_in_finish(in, err);
		} else {
			spool_entq_push(&again, e);
		}
	}
	spool_entq_prepend(&sp->pend, &again);
	spool_entq_prepend(&sp->pend, &dones);
}

static void
spool_batch_on_done(struct uop *op, int res, unsigned flags)
{
	struct spool_batch *b = container_of(op, struct spool_batch, op);
	struct spool *sp = container_of(b, struct spool, fly);
	int rc;

	(void)flags;
	res = spool_fault(sp, b->syncing ? RING_OP_FSYNC : RING_OP_WRITE, res);
	if (res < 0 || (!b->syncing && res == 0)) {
		spool_batch_fail(sp, res < 0 ? res : -EIO);
		return;
	}
	if (b->syncing) {
		spool_batch_ok(sp);
		return;
	}
	b->done += (size_t)res;
	if (b->done < b->buf.len) {
		spool_batch_write(sp); /* short write: the rest */
		return;
	}
	if (sp->o.unsafe_no_sync) {
		spool_batch_ok(sp);
		return;
	}
	b->syncing = true;
	sp->st.fdatasyncs++;
	rc = ring_fsync(sp->r, &b->op, b->seg->fd, true);
	if (rc < 0)
		spool_batch_fail(sp, rc);
}

/* --- segment creation --- */

static void
spool_mk_finish(struct spool *sp, bool ok)
{
	struct spool_mkseg *mk = &sp->mk;

	mk->active = false;
	if (!ok) {
		free(mk->seg);
		mk->seg = NULL;
		sp->retry_at =
		    ring_now(sp->r) + (int64_t)sp->o.probe_ms * 1000000;
		return;
	}
	mk->seg->tail = RECORD_SEG_HDR_SIZE;
	spool_seg_append(sp, mk->seg);
	sp->cur = mk->seg;
	mk->seg = NULL;
	sp->st.segments++;
	if (sp->err) {
		log_info("spool: a new segment was written: accepting mail "
			 "again");
		sp->err = 0;
	}
}

/* Move the creation on to step with the op rc of arming it. */
static void
spool_mk_step(struct spool *sp, int step)
{
	struct spool_mkseg *mk = &sp->mk;
	struct spool_seg *s = mk->seg;
	int rc = 0;

	mk->step = step;
	switch ((enum spool_mk_step)step) {
	case SPOOL_MK_OPEN:
		rc = ring_openat(sp->r, &mk->op, sp->segfd, mk->name,
				 O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		break;
	case SPOOL_MK_WRITE:
		rc = ring_write(sp->r, &mk->op, s->fd, mk->hdr, sizeof(mk->hdr),
				0);
		break;
	case SPOOL_MK_FSYNC:
		sp->st.fdatasyncs++;
		rc = ring_fsync(sp->r, &mk->op, s->fd, true);
		break;
	case SPOOL_MK_DIRSYNC:
		sp->st.fdatasyncs++;
		rc = ring_fsync(sp->r, &mk->op, sp->segfd, false);
		break;
	case SPOOL_MK_UNLINK:
		rc = ring_unlinkat(sp->r, &mk->op, sp->segfd, mk->name, 0);
		break;
	case SPOOL_MK_CLOSE:
		rc = ring_close(sp->r, &mk->op, s->fd);
		s->fd = -1;
		break;
	case SPOOL_MK__COUNT:
		BUG_ON(1);
	}
	if (rc == 0)
		return;
	if (step == SPOOL_MK_CLOSE) {
		close(s->fd);
		spool_mk_finish(sp, false);
	} else if (step >= SPOOL_MK_UNLINK) {
		spool_mk_step(sp, SPOOL_MK_CLOSE);
	} else {
		spool_set_err(sp, rc, "creating a segment");
		if (s->fd >= 0)
			spool_mk_step(sp, SPOOL_MK_UNLINK);
		else
			spool_mk_finish(sp, false);
	}
}

static void
spool_mk_on_done(struct uop *op, int res, unsigned flags)
{
	struct spool_mkseg *mk = container_of(op, struct spool_mkseg, op);
	struct spool *sp = container_of(mk, struct spool, mk);
	int next = mk->step + 1;

	(void)flags;
	res = spool_fault(sp, op->kind, res);
	if (mk->step == SPOOL_MK_OPEN && res >= 0)
		mk->seg->fd = res;
	else if (mk->step == SPOOL_MK_WRITE && res >= 0 &&
		 res != (int)sizeof(mk->hdr))
		res = -EIO;
	if (mk->step >= SPOOL_MK_UNLINK) {
		if (mk->step == SPOOL_MK_CLOSE)
			spool_mk_finish(sp, false);
		else
			spool_mk_step(sp, SPOOL_MK_CLOSE);
		return;
	}
	if (res < 0) {
		spool_set_err(sp, res, "creating a segment");
		if (mk->seg->fd >= 0)
			spool_mk_step(sp, SPOOL_MK_UNLINK);
		else
			spool_mk_finish(sp, false);
		return;
	}
	if (mk->step == SPOOL_MK_DIRSYNC ||
	    (mk->step == SPOOL_MK_WRITE && sp->o.unsafe_no_sync)) {
		spool_mk_finish(sp, true);
		return;
	}
	spool_mk_step(sp, next);
}

/* Start creating the next shared segment (the append target). */
static void
spool_mk_start(struct spool *sp)
{
	struct spool_mkseg *mk = &sp->mk;
	struct record_seg h = {0};
	struct spool_seg *s = xcalloc(1, sizeof(*s));

	s->fd = -1;
	s->number = sp->next_number++;
	if (getrandom(&s->nonce, sizeof(s->nonce), 0) != sizeof(s->nonce)) {
		free(s);
		spool_set_err(sp, -EIO, "getrandom");
		return;
	}
	h.number = s->number;
	h.created_us = spool_now_us();
	h.nonce = s->nonce;
	BUG_ON(record_seg_encode(&h, mk->hdr) < 0);
	snprintf(mk->name, sizeof(mk->name), "%016" PRIx64 ".seg", s->number);
	mk->seg = s;
	mk->active = true;
	spool_mk_step(sp, SPOOL_MK_OPEN);
}

/* --- reclaim --- */

static void
spool_rc_finish(struct spool *sp, bool ok)
{
	struct spool_reclaim *rc = &sp->rc;
	struct spool_seg *s = rc->seg;

	rc->active = false;
	rc->seg = NULL;
	if (!ok) {
		rc->retry_at =
		    ring_now(sp->r) + (int64_t)sp->o.probe_ms * 1000000;
		return;
	}
	BUG_ON(sp->segs != s);
	sp->segs = s->next;
	if (sp->segs == NULL)
		sp->segs_tail = NULL;
	log_debug("spool: reclaimed segment %s", rc->name);
	sp->st.reclaimed++;
	free(s);
}

static void
spool_rc_step(struct spool *sp, int step)
{
	struct spool_reclaim *rc = &sp->rc;
	int r = 0;

	rc->step = step;
	switch ((enum spool_rc_step)step) {
	case SPOOL_RC_CLOSE:
		if (rc->seg->fd < 0) {
			spool_rc_step(sp, SPOOL_RC_UNLINK);
			return;
		}
		r = ring_close(sp->r, &rc->op, rc->seg->fd);
		if (r < 0)
			close(rc->seg->fd);
		rc->seg->fd = -1;
		if (r < 0)
			spool_rc_step(sp, SPOOL_RC_UNLINK);
		return;
	case SPOOL_RC_UNLINK:
		r = ring_unlinkat(sp->r, &rc->op, sp->segfd, rc->name, 0);
		break;
	case SPOOL_RC_DIRSYNC:
		if (sp->o.unsafe_no_sync) {
			spool_rc_finish(sp, true);
			return;
		}
		sp->st.fdatasyncs++;
		r = ring_fsync(sp->r, &rc->op, sp->segfd, false);
		break;
	case SPOOL_RC__COUNT:
		BUG_ON(1);
	}
	if (r < 0)
		spool_rc_finish(sp, false);
}

static void
spool_rc_on_done(struct uop *op, int res, unsigned flags)
{
	struct spool_reclaim *rc = container_of(op, struct spool_reclaim, op);
	struct spool *sp = container_of(rc, struct spool, rc);

	(void)flags;
	res = spool_fault(sp, op->kind, res);
	switch ((enum spool_rc_step)rc->step) {
	case SPOOL_RC_CLOSE:
		spool_rc_step(sp, SPOOL_RC_UNLINK);
		return;
	case SPOOL_RC_UNLINK:
		if (res < 0 && res != -ENOENT) {
			log_warn("spool: cannot delete segment %s: %s",
				 rc->name, strerror(-res));
			spool_rc_finish(sp, false);
			return;
		}
		spool_rc_step(sp, SPOOL_RC_DIRSYNC);
		return;
	case SPOOL_RC_DIRSYNC:
		if (res < 0)
			log_warn("spool: directory fsync after deleting %s: %s",
				 rc->name, strerror(-res));
		spool_rc_finish(sp, res >= 0);
		return;
	case SPOOL_RC__COUNT:
		break;
	}
	BUG_ON(1);
}

/*
 * Delete the oldest segment once no live message has its MSG there.  One
 * at a time, each unlink followed by a directory fsync, so a newer segment
 * (holding the DONE records that killed an older one's messages) never
 * disappears while the older one could come back.
 */
static void
spool_reclaim_kick(struct spool *sp)
{
	struct spool_reclaim *rc = &sp->rc;
	struct spool_seg *s = sp->segs;

	if (rc->active || s == NULL || s == sp->cur || !s->sealed ||
	    s->live > 0 || (sp->fly.active && sp->fly.seg == s) ||
	    ring_now(sp->r) < rc->retry_at)
		return;
	rc->seg = s;
	rc->active = true;
	snprintf(rc->name, sizeof(rc->name), "%016" PRIx64 ".seg", s->number);
	spool_rc_step(sp, SPOOL_RC_CLOSE);
}

/* --- the commit delay --- */

/* The wait's end: nothing to do but wake the loop, whose hook starts the
 * batch (timers fire before hooks in a turn). */
static void
spool_wait_on_timer(struct timer *t)
{
	(void)t;
}

/*
 * A transaction stopped being open (committed or aborted before commit).
 * A wait in progress ends early once every transaction it waits for has.
 */
void
spool_commit_txn_closed(struct spool *sp, struct spool_in *in)
{
	BUG_ON(sp->open == 0);
	sp->open--;
	if (sp->wait_end != 0 && in->gen <= sp->wait_gen && sp->wait_left > 0)
		sp->wait_left--;
}

/* --- commit hints --- */

#define SPOOL_HINT_EPOCH_NS ((int64_t)SPOOL_HINT_TTL_MS * 1000000)

/* Move to the current epoch; hints two epochs old expire (their counts
 * are dropped, so a leaked hint cannot hold commits back for long). */
static void
spool_hint_roll(struct spool *sp)
{
	int64_t e = ring_now(sp->r) / SPOOL_HINT_EPOCH_NS;

	if (e == sp->hint_epoch)
		return;
	if (e == sp->hint_epoch + 1)
		sp->hints[e & 1] = 0;
	else
		sp->hints[0] = sp->hints[1] = 0;
	sp->hint_epoch = e;
}

/* See spool.h. */
void
spool_hint_begin(struct spool *sp, struct spool_hint *h)
{
	if (h->gen != 0)
		return;
	spool_hint_roll(sp);
	h->gen = ++sp->gen;
	h->epoch = sp->hint_epoch;
	sp->hints[h->epoch & 1]++;
}

/* See spool.h.  A wait in progress ends early once every transaction and
 * hint it waits for has closed. */
void
spool_hint_end(struct spool *sp, struct spool_hint *h)
{
	if (h->gen == 0)
		return;
	spool_hint_roll(sp);
	if (h->epoch >= sp->hint_epoch - 1) {
		BUG_ON(sp->hints[h->epoch & 1] == 0);
		sp->hints[h->epoch & 1]--;
		if (sp->wait_end != 0 && h->gen <= sp->wait_gen &&
		    sp->wait_left > 0)
			sp->wait_left--;
	}
	h->gen = 0;
}

/* See spool.h. */
unsigned
spool_hints(struct spool *sp)
{
	spool_hint_roll(sp);
	return sp->hints[0] + sp->hints[1];
}

static void
spool_wait_stop(struct spool *sp)
{
	sp->wait_end = 0;
	timer_cancel(ring_timers(sp->r), &sp->wait);
}

/*
 * Group-commit wait: should the batch about to start (pend non-empty, no
 * batch in flight) wait for more commits?  Only a small batch (under
 * max_batch) waits, only while transactions or commit hints begun before
 * the wait are still open (mid-body, or sessions between MAIL and their
 * end of data: each would otherwise take the next batch and fdatasync of
 * its own), and at most commit_delay_us.  A lone injector never waits:
 * with no other transaction or hint open there is nothing to wait for.
 * Those begun during the wait are not waited for, so steady load cannot
 * stretch it.  Returns true to hold the batch back.
 */
static bool
spool_commit_wait(struct spool *sp)
{
	struct timer_heap *th = ring_timers(sp->r);
	int64_t now = ring_now(sp->r);

	if (sp->pend.head == NULL) {
		spool_wait_stop(sp); /* failed meanwhile: nothing to hold */
		return false;
	}
	if (sp->wait_end == 0) {
		unsigned coming = sp->open + spool_hints(sp);

		if (sp->o.commit_delay_us == SPOOL_DELAY_OFF || coming == 0 ||
		    sp->pend.n >= sp->o.max_batch)
			return false;
		sp->wait_end = now + (int64_t)sp->o.commit_delay_us * 1000;
		sp->wait_gen = sp->gen;
		sp->wait_left = coming;
		sp->st.waits++;
		timer_arm(th, &sp->wait, sp->wait_end);
		return true;
	}
	if (now < sp->wait_end && sp->wait_left > 0 &&
	    sp->pend.n < sp->o.max_batch)
		return true;
	spool_wait_stop(sp);
	return false;
}

/* --- the hook --- */

/*
 * End of every loop turn: reclaim what is dead, then write what this turn
 * gathered (or start the segment it needs).  See the file comment.
 */
void
spool_commit_hook(struct ring_hook *h)
{
	struct spool *sp = container_of(h, struct spool, hook);
	struct spool_ent *e;

	spool_reclaim_kick(sp);
	if (sp->fly.active || sp->barrier != NULL)
		return;
	if (sp->err)
		spool_commit_fail_pending(sp, sp->err);
	e = sp->pend.head;
	if (e != NULL && e->kind == SPOOL_ENT_IN &&
	    container_of(e, struct spool_in, ent)->st != NULL) {
		/* A streamed message takes a number: none may be half
		 * allocated by a segment being created. */
		if (sp->mk.active)
			return;
		spool_entq_pop(&sp->pend);
		spool_stream_link(container_of(e, struct spool_in, ent));
		return;
	}
	if (sp->cur != NULL && sp->cur->tail >= sp->o.segment_size) {
		sp->cur->sealed = true; /* its last batch is synced */
		sp->cur = NULL;
	}
	if (sp->cur == NULL) {
		/* Needed for pending records, or as the test write that
		 * heals an unhealthy spool. */
		if ((e != NULL || sp->err) && !sp->mk.active &&
		    ring_now(sp->r) >= sp->retry_at)
			spool_mk_start(sp);
		return;
	}
	if (spool_commit_wait(sp) || e == NULL)
		return;
	spool_batch_start(sp);
}
