/* SPDX-License-Identifier: MIT */
/*
 * spool_stream.c: large messages streamed to a private segment
 * (docs/SPOOL.md 5.3), through the ring.
 *
 * Past inline_max a transaction's body goes to seg/tmp-<random>.seg under a
 * fresh key: one write in flight, the next chunk filling meanwhile; the
 * session is told SPOOL_BUSY while a chunk is full and resumed when it
 * drained, so RAM per session stays near two chunks.  At commit, once every
 * body byte and the padding are written, the message waits its turn in the
 * commit queue; the hook links it when no batch is in flight (seal before
 * advance): segment header + record head at offset 0 (the header goes last,
 * so zeros at 64 never look like a record), fdatasync, rename to its
 * number, directory fsync, then 250.  Shared appends continue in a new
 * segment numbered after it.  A stream owns itself: aborting the session
 * detaches it, and it frees itself after its last completion.
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

#define SPOOL_STREAM_CHUNK (256u << 10)

enum spool_st_step {
	SPOOL_ST_OPEN = 0,
	SPOOL_ST_WRITE,
	SPOOL_ST_LINK_WRITE,
	SPOOL_ST_LINK_FSYNC,
	SPOOL_ST_LINK_RENAME,
	SPOOL_ST_LINK_DIRSYNC,
	SPOOL_ST_UNLINK, /* cleanup */
	SPOOL_ST_CLOSE,
	SPOOL_ST__COUNT /* must stay last */
};

struct spool_stream {
	struct spool_in *in;
	struct uop op;
	int fd;
	int step;
	uint64_t nonce, number;
	char name[40], final[32];
	uint8_t *fill, *wbuf, *head;
	size_t fill_len, fill_cap, wbuf_cap, wlen, wdone, head_len;
	uint64_t woff, next_off, size;
	bool busy, opened, blocked, queued, dead, cleaning, renamed;
};

static void spool_stream_on_done(struct uop *op, int res, unsigned flags);
static void spool_stream_cleanup(struct spool_stream *st);
static void spool_stream_link_fail(struct spool_stream *st, int err);

static void
spool_stream_put(struct spool_stream *st, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (st->fill_len + n > st->fill_cap) {
		size_t cap = st->fill_cap ? st->fill_cap : SPOOL_STREAM_CHUNK;

		while (cap < st->fill_len + n)
			cap *= 2;
		st->fill = xrealloc(st->fill, cap);
		st->fill_cap = cap;
	}
	memcpy(st->fill + st->fill_len, p, n);
	st->fill_len += n;
}

static void
spool_stream_free(struct spool_stream *st)
{
	struct spool *sp = st->in->sp;

	uop_fini(&st->op);
	st->in->st = NULL;
	sp->streams--;
	free(st->fill);
	free(st->wbuf);
	free(st->head);
	free(st);
}

/*
 * Switch an inline transaction to streaming: re-key its head for a private
 * file, keep the body bytes so far for the first write, open the file.
 * Returns 0 or -errno (the transaction is then failed by the caller).
 */
int
spool_stream_start(struct spool_in *in)
{
	struct spool *sp = in->sp;
	struct spool_stream *st = xcalloc(1, sizeof(*st));
	uint64_t rnd;
	int rc;

	if (getrandom(&st->nonce, sizeof(st->nonce), 0) != sizeof(st->nonce) ||
	    getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		free(st);
		return -EIO;
	}
	st->in = in;
	st->fd = -1;
	uop_init(&st->op, spool_stream_on_done);
	snprintf(st->name, sizeof(st->name), "tmp-%016" PRIx64 ".seg", rnd);
	spool_stream_put(st, in->buf.data + in->body_off, in->body_len);
	record_enc_abort(&in->enc);
	record_buf_reset(&in->buf);
	rc = spool_msg_encode_head(in->msg, &in->enc, &in->buf, st->nonce,
				   &in->body_off);
	if (rc == 0)
		rc = record_body_stream(&in->enc, st->fill, st->fill_len);
	if (rc == 0)
		rc = ring_openat(sp->r, &st->op, sp->segfd, st->name,
				 O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (rc < 0) {
		free(st->fill);
		free(st);
		return rc;
	}
	in->nonce = st->nonce;
	in->stale = false; /* the head was encoded again just now */
	st->next_off = RECORD_SEG_HDR_SIZE + in->body_off;
	st->step = SPOOL_ST_OPEN;
	st->busy = true;
	in->st = st;
	sp->streams++;
	return 0;
}

static void
spool_stream_write(struct spool_stream *st)
{
	struct spool *sp = st->in->sp;
	int rc;

	st->step = SPOOL_ST_WRITE;
	rc = ring_write(sp->r, &st->op, st->fd, st->wbuf + st->wdone,
			st->wlen - st->wdone, st->woff + st->wdone);
	if (rc < 0) {
		st->in->err = spool_set_err(sp, rc, "streaming a body");
		spool_stream_cleanup(st);
		return;
	}
	st->busy = true;
}

/* Write the filled chunk when the file is idle. */
static void
spool_stream_kick(struct spool_stream *st)
{
	uint8_t *t;
	size_t c;

	if (st->busy || !st->opened || st->fill_len == 0 || st->in->err)
		return;
	t = st->wbuf;
	c = st->wbuf_cap;
	st->wbuf = st->fill;
	st->wbuf_cap = st->fill_cap;
	st->wlen = st->fill_len;
	st->fill = t;
	st->fill_cap = c;
	st->fill_len = 0;
	st->wdone = 0;
	st->woff = st->next_off;
	st->next_off += st->wlen;
	spool_stream_write(st);
}

/* After any progress: write more, resume the session, queue the commit. */
static void
spool_stream_progress(struct spool_stream *st)
{
	struct spool_in *in = st->in;

	spool_stream_kick(st);
	if (st->cleaning)
		return;
	if (st->blocked && st->fill_len < SPOOL_STREAM_CHUNK) {
		st->blocked = false;
		if (!in->detached && !in->committed && in->resume != NULL)
			in->resume(in->resume_arg);
	}
	if (in->committed && !st->queued && !st->busy && st->fill_len == 0) {
		st->queued = true;
		spool_entq_push(&in->sp->pend, &in->ent);
	}
}

/* Body bytes for a streamed transaction (see spool_txn_body). */
int
spool_stream_body(struct spool_in *in, const void *p, size_t n)
{
	struct spool_stream *st = in->st;
	int rc = record_body_stream(&in->enc, p, n);

	if (rc < 0)
		return in->err = rc;
	spool_stream_put(st, p, n);
	in->body_len += n;
	spool_stream_kick(st);
	if (st->fill_len >= SPOOL_STREAM_CHUNK) {
		st->blocked = true;
		return SPOOL_BUSY;
	}
	return 0;
}

/* End of data: the record's zero padding, then wait for the writes. */
void
spool_stream_commit(struct spool_in *in)
{
	struct spool_stream *st = in->st;
	static const uint8_t zeros[RECORD_ALIGN];
	size_t plen = in->body_off - RECORD_HDR_SIZE + in->body_len;
	size_t pad = (RECORD_ALIGN - plen % RECORD_ALIGN) % RECORD_ALIGN;

	if (st->cleaning)
		return; /* finished when the cleanup completes */
	if (in->err) {
		st->dead = true;
		if (!st->busy)
			spool_stream_cleanup(st);
		return;
	}
	spool_stream_put(st, zeros, pad);
	st->size = st->next_off + st->fill_len;
	spool_stream_progress(st);
}

/* Session gone before commit: drop the file once the kernel is done. */
void
spool_stream_abort(struct spool_in *in)
{
	struct spool_stream *st = in->st;

	st->dead = true;
	if (!st->busy)
		spool_stream_cleanup(st);
}

/* Fail a streamed message waiting in the commit queue. */
void
spool_stream_fail(struct spool_in *in, int err)
{
	in->err = err;
	if (!in->st->busy)
		spool_stream_cleanup(in->st);
}

/* Cleanup done (or nothing to clean): finish the transaction as it is. */
static void
spool_stream_gone(struct spool_stream *st)
{
	struct spool_in *in = st->in;

	spool_stream_free(st);
	if (in->committed)
		spool_in_finish(in, in->err ? in->err : -EIO);
	else if (in->detached)
		spool_in_free(in);
	/* else: the session sees in->err at its next body or commit call */
}

static void
spool_stream_step(struct spool_stream *st, int step)
{
	struct spool *sp = st->in->sp;
	int rc = 0;

	st->step = step;
	switch ((enum spool_st_step)step) {
	case SPOOL_ST_UNLINK:
		rc = ring_unlinkat(sp->r, &st->op, sp->segfd, st->name, 0);
		if (rc < 0)
			unlinkat(sp->segfd, st->name, 0);
		break;
	case SPOOL_ST_CLOSE:
		rc = ring_close(sp->r, &st->op, st->fd);
		if (rc < 0)
			close(st->fd);
		st->fd = -1;
		break;
	case SPOOL_ST_LINK_WRITE:
		rc = ring_write(sp->r, &st->op, st->fd, st->head, st->head_len,
				0);
		break;
	case SPOOL_ST_LINK_FSYNC:
		sp->st.fdatasyncs++;
		rc = ring_fsync(sp->r, &st->op, st->fd, true);
		break;
	case SPOOL_ST_LINK_RENAME:
		rc = ring_renameat(sp->r, &st->op, sp->segfd, st->name,
				   sp->segfd, st->final);
		break;
	case SPOOL_ST_LINK_DIRSYNC:
		sp->st.fdatasyncs++;
		rc = ring_fsync(sp->r, &st->op, sp->segfd, false);
		break;
	case SPOOL_ST_OPEN:
	case SPOOL_ST_WRITE:
	case SPOOL_ST__COUNT:
		BUG_ON(1);
	}
	st->busy = rc == 0;
	if (rc == 0)
		return;
	if (step == SPOOL_ST_UNLINK)
		spool_stream_step(st, SPOOL_ST_CLOSE);
	else if (step == SPOOL_ST_CLOSE)
		spool_stream_gone(st);
	else
		spool_stream_link_fail(st, rc);
}

/* Remove the private file: unlink, close, then spool_stream_gone. */
static void
spool_stream_cleanup(struct spool_stream *st)
{
	st->cleaning = true;
	if (st->fd < 0) {
		spool_stream_gone(st);
		return;
	}
	spool_stream_step(st, SPOOL_ST_UNLINK);
}

/*
 * The commit queue reached this streamed message and no batch is in
 * flight: seal the shared segment, give the message the next number and
 * seq, and write its header (see the file comment).
 */
void
spool_stream_link(struct spool_in *in)
{
	struct spool_stream *st = in->st;
	struct spool *sp = in->sp;
	struct record_seg h = {0};
	struct record_extent x;
	struct record_view v;
	int rc;

	sp->barrier = in;
	if (sp->cur != NULL) {
		sp->cur->sealed = true;
		sp->cur = NULL;
	}
	rc = record_enc_end(&in->enc, ++sp->seq, &x);
	if (rc < 0) {
		sp->barrier = NULL;
		in->err = rc;
		spool_stream_cleanup(st);
		return;
	}
	st->number = sp->next_number++;
	h.number = st->number;
	h.created_us = spool_now_us();
	h.nonce = st->nonce;
	h.flags = RECORD_SEG_F_SINGLE;
	st->head_len = RECORD_SEG_HDR_SIZE + x.body_off;
	st->head = xmalloc(st->head_len);
	BUG_ON(record_seg_encode(&h, st->head) < 0);
	memcpy(st->head + RECORD_SEG_HDR_SIZE, in->buf.data + x.off,
	       x.body_off);
	rc = record_decode_head(st->head + RECORD_SEG_HDR_SIZE, x.body_off,
				st->nonce, &v);
	BUG_ON(rc != 1);
	in->msg->rec_off = RECORD_SEG_HDR_SIZE;
	in->msg->body_off = (uint32_t)x.body_off;
	in->msg->body_len = x.body_len;
	in->msg->body_crc = v.body_crc;
	st->size = RECORD_SEG_HDR_SIZE + x.size;
	snprintf(st->final, sizeof(st->final), "%016" PRIx64 ".seg",
		 st->number);
	spool_stream_step(st, SPOOL_ST_LINK_WRITE);
}

static struct spool_seg *
spool_stream_seg(struct spool_stream *st)
{
	struct spool_seg *seg = xcalloc(1, sizeof(*seg));

	seg->number = st->number;
	seg->nonce = st->nonce;
	seg->fd = st->fd;
	seg->flags = RECORD_SEG_F_SINGLE;
	seg->sealed = true;
	seg->tail = st->size;
	st->fd = -1;
	spool_seg_append(st->in->sp, seg);
	return seg;
}

/* Durable under its number: index it, acknowledge. */
static void
spool_stream_linked(struct spool_stream *st)
{
	struct spool_in *in = st->in;
	struct spool *sp = in->sp;
	struct spool_seg *seg = spool_stream_seg(st);

	seg->live = 1;
	in->msg->seg = seg;
	spool_index_add(sp, in->msg);
	sp->st.streamed++;
	sp->st.messages++;
	sp->barrier = NULL;
	spool_stream_free(st);
	spool_in_finish(in, 0);
}

/*
 * Linking failed: refuse the message.  Before the rename the file is just
 * removed; after it, the segment stays in the chain (reclaimed in order)
 * and a DONE record, first in the queue, kills the message.
 */
static void
spool_stream_link_fail(struct spool_stream *st, int err)
{
	struct spool_in *in = st->in;
	struct spool *sp = in->sp;
	struct spool_entq q;
	struct spool_done *d;

	in->err = spool_set_err(sp, err, "linking a streamed message");
	sp->barrier = NULL;
	if (!st->renamed) {
		spool_stream_cleanup(st);
		return;
	}
	(void)spool_stream_seg(st);
	d = xcalloc(1, sizeof(*d));
	d->ent.kind = SPOOL_ENT_DONE;
	memcpy(d->id, in->msg->id, SPOOL_ID_LEN);
	spool_entq_init(&q);
	spool_entq_push(&q, &d->ent);
	spool_entq_prepend(&sp->pend, &q);
	spool_stream_gone(st);
}

static void
spool_stream_on_write(struct spool_stream *st, int res)
{
	struct spool_in *in = st->in;

	if (st->dead) {
		spool_stream_cleanup(st);
		return;
	}
	if (res <= 0) {
		in->err = spool_set_err(in->sp, res < 0 ? res : -EIO,
					"streaming a body");
		spool_stream_cleanup(st);
		return;
	}
	st->wdone += (size_t)res;
	if (st->wdone < st->wlen) {
		spool_stream_write(st); /* short write: the rest */
		return;
	}
	spool_stream_progress(st);
}

static void
spool_stream_on_done(struct uop *op, int res, unsigned flags)
{
	struct spool_stream *st = container_of(op, struct spool_stream, op);
	struct spool *sp = st->in->sp;
	int step = st->step;

	(void)flags;
	st->busy = false;
	res = spool_fault(sp, op->kind, res);
	switch ((enum spool_st_step)step) {
	case SPOOL_ST_OPEN:
		if (res >= 0) {
			st->fd = res;
			st->opened = true;
		} else {
			st->in->err = spool_set_err(sp, res, "opening a file");
		}
		if (st->dead || res < 0)
			spool_stream_cleanup(st);
		else
			spool_stream_progress(st);
		return;
	case SPOOL_ST_WRITE:
		spool_stream_on_write(st, res);
		return;
	case SPOOL_ST_LINK_WRITE:
		if (res != (int)st->head_len)
			spool_stream_link_fail(st, res < 0 ? res : -EIO);
		else
			spool_stream_step(st, sp->o.unsafe_no_sync
						  ? SPOOL_ST_LINK_RENAME
						  : SPOOL_ST_LINK_FSYNC);
		return;
	case SPOOL_ST_LINK_FSYNC:
		if (res < 0)
			spool_stream_link_fail(st, res);
		else
			spool_stream_step(st, SPOOL_ST_LINK_RENAME);
		return;
	case SPOOL_ST_LINK_RENAME:
		if (res < 0) {
			spool_stream_link_fail(st, res);
			return;
		}
		st->renamed = true;
		if (sp->o.unsafe_no_sync)
			spool_stream_linked(st);
		else
			spool_stream_step(st, SPOOL_ST_LINK_DIRSYNC);
		return;
	case SPOOL_ST_LINK_DIRSYNC:
		if (res < 0)
			spool_stream_link_fail(st, res);
		else
			spool_stream_linked(st);
		return;
	case SPOOL_ST_UNLINK:
		spool_stream_step(st, SPOOL_ST_CLOSE);
		return;
	case SPOOL_ST_CLOSE:
		spool_stream_gone(st);
		return;
	case SPOOL_ST__COUNT:
		break;
	}
	BUG_ON(1);
}
