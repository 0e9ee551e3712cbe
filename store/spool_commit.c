/* SPDX-License-Identifier: MIT */
/*
 * spool_commit.c: group commit on the ring.
 *
 * A before-sleep hook gathers everything queued during the loop turn
 * (messages, state marks, DONE records) into one batch with fresh seqs:
 * each message's record as its transaction encoded it (keyed for the
 * append segment; re-encoded into the batch's buffer otherwise), the
 * state records encoded into the batch's buffer, written at the tail with
 * one writev (short writes resumed), then one fdatasync; only then are the
 * commit callbacks told 0.  One batch is in flight at a time: write N+1 is
 * not issued before fdatasync N returned, because a failed fdatasync
 * abandons its segment (nothing may be appended after bytes of unknown
 * fate) and seq order must equal file order (seal before advance); the
 * next batch simply grows meanwhile, which is what group commit wants.
 *
 * A small batch (under SPOOL_BATCH_ENOUGH entries) may wait up to
 * commit_delay for transactions already open and for sessions that hinted
 * a commit is coming (spool_hint_*: counters by epoch, so a leaked hint
 * expires); it starts as soon as it holds enough.
 *
 * Segment creation and reclaim are spool_seg.c's.
 *
 * Owns: the batch in flight, the hint counters.  Never reads records back;
 * never acknowledges a failed batch.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "log.h"
#include "spool_int.h"

/* A batch stops growing past this many bytes (and past max_batch). */
#define SPOOL_BATCH_BYTES  (8u << 20)
/* A batch holding this many entries waits no longer: one fdatasync for
 * sixteen records keeps intake under 0.1 fdatasync per message with margin,
 * and a fast stream of commits shortens the wait (docs/SPOOL.md 5.2). */
#define SPOOL_BATCH_ENOUGH 16u

static void spool_batch_on_done(struct uop *op, int res, unsigned flags);
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

/*
 * Append a piece to the batch (p: len bytes of a transaction's buffer;
 * NULL: b->buf[off..off+len), joined to the previous such piece).
 */
static void
spool_batch_piece(struct spool_batch *b, const uint8_t *p, size_t off,
		  size_t len)
{
	struct spool_piece *last = b->npcs ? &b->pcs[b->npcs - 1] : NULL;

	b->len += len;
	if (p == NULL && last != NULL && last->p == NULL &&
	    last->off + last->len == off) {
		last->len += len;
		return;
	}
	if (b->npcs == b->pcs_cap) {
		b->pcs_cap = b->pcs_cap ? 2 * b->pcs_cap : 64;
		b->pcs = xreallocarray(b->pcs, b->pcs_cap, sizeof(*b->pcs));
		b->iov = xreallocarray(b->iov, b->pcs_cap, sizeof(*b->iov));
	}
	b->pcs[b->npcs++] = (struct spool_piece){p, off, len};
}

/*
 * Put in's MSG record into the batch with the next seq: written from the
 * transaction's own buffer as encoded when it was keyed for this segment
 * (no copy; the buffer is freed with the transaction, after the batch),
 * else re-encoded into the batch's buffer with this segment's key.  Fills
 * the index entry's location and body CRC, the one the encoder just wrote
 * into the header (its segment is set when the batch is durable).
 */
static int
spool_batch_add_in(struct spool *sp, struct spool_batch *b, struct spool_in *in)
{
	uint64_t seq = ++sp->seq, nonce = b->seg->nonce;
	uint64_t foff = b->off + b->len;
	struct record_extent x;
	size_t off = b->buf.len;
	int rc;

	if (in->nonce == nonce && !in->stale) {
		rc = record_enc_end(&in->enc, seq, &x);
		if (rc < 0)
			return rc;
		spool_batch_piece(b, in->buf.data + x.off, 0, x.size);
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
		record_buf_fini(&in->buf); /* the body now lives in b->buf */
		spool_batch_piece(b, NULL, off, b->buf.len - off);
	}
	in->msg->rec_off = foff;
	in->msg->body_off = (uint32_t)x.body_off;
	in->msg->body_len = x.body_len;
	in->msg->body_crc = x.body_crc;
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

/* Write the pieces from byte done on (at most IOV_MAX of them: the rest
 * follows as after a short write). */
static void
spool_batch_write(struct spool *sp)
{
	struct spool_batch *b = &sp->fly;
	size_t skip = b->done;
	unsigned n = 0;
	int rc;

	for (unsigned i = 0; i < b->npcs && n < IOV_MAX; i++) {
		const struct spool_piece *pc = &b->pcs[i];
		const uint8_t *p = pc->p ? pc->p : b->buf.data + pc->off;

		if (skip >= pc->len) {
			skip -= pc->len;
			continue;
		}
		b->iov[n].iov_base = (void *)(uintptr_t)(p + skip);
		b->iov[n++].iov_len = pc->len - skip;
		skip = 0;
	}
	rc =
	    ring_writev(sp->r, &b->op, b->seg->fd, b->iov, n, b->off + b->done);
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
	b->npcs = 0;
	b->len = 0;
	b->seg = sp->cur;
	b->off = sp->cur->tail;
	b->done = 0;
	b->syncing = false;
	while ((e = sp->pend.head) != NULL && n < sp->o.max_batch &&
	       b->len < SPOOL_BATCH_BYTES) {
		size_t before = b->buf.len;

		if (e->kind == SPOOL_ENT_IN &&
		    container_of(e, struct spool_in, ent)->st != NULL)
			break; /* a streamed message: linked on its own */
		spool_entq_pop(&sp->pend);
		if (spool_batch_add(sp, b, e) < 0)
			continue;
		if (e->kind != SPOOL_ENT_IN && b->buf.len > before)
			spool_batch_piece(b, NULL, before, b->buf.len - before);
		spool_entq_push(&b->ents, e);
		n++;
	}
	if (b->len == 0)
		return;
	b->active = true;
	sp->cur->tail += b->len;
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
	if (b->done < b->len) {
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
	spool_hint_roll(sp);
	/* A live hint stays; one that lapsed (its count already dropped by
	 * the roll) begins again, e.g. at MAIL after a slow STARTTLS. */
	if (h->gen != 0 && h->epoch >= sp->hint_epoch - 1)
		return;
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

/* Entries at which a waiting batch starts (max_batch when smaller). */
static unsigned
spool_batch_enough(const struct spool *sp)
{
	return MIN(SPOOL_BATCH_ENOUGH, sp->o.max_batch);
}

/*
 * Group-commit wait: should the batch about to start (pend non-empty, no
 * batch in flight) wait for more commits?  Only a small batch (under
 * SPOOL_BATCH_ENOUGH entries, or max_batch if smaller) waits, only while
 * transactions or commit hints begun before the wait are still open
 * (mid-body, or hinted sessions on their way to their end of data: each
 * would otherwise take the next batch and fdatasync of its own), and at
 * most commit_delay_us.  A lone injector never waits: with no other
 * transaction or hint open there is nothing to wait for.  Those begun
 * during the wait are not waited for, so steady load cannot stretch it;
 * their commits do count toward enough.  Returns true to hold the batch
 * back.
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
		    sp->pend.n >= spool_batch_enough(sp))
			return false;
		sp->wait_end = now + (int64_t)sp->o.commit_delay_us * 1000;
		sp->wait_gen = sp->gen;
		sp->wait_left = coming;
		sp->st.waits++;
		timer_arm(th, &sp->wait, sp->wait_end);
		return true;
	}
	if (now < sp->wait_end && sp->wait_left > 0 &&
	    sp->pend.n < spool_batch_enough(sp))
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
