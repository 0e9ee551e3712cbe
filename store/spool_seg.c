/* SPDX-License-Identifier: MIT */
/*
 * spool_seg.c: creating the next shared segment and reclaiming dead ones,
 * on the ring (split from spool_commit.c, which calls them from its hook).
 *
 * Creation: open O_EXCL, write the header, fdatasync it and the directory;
 * only then is the segment the append target.  Reclaim: close, unlink and
 * fsync the directory, one segment at a time, oldest first.  Owns the
 * segment being created and the one being reclaimed; must not touch a
 * batch or an index entry.
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

/* A creation step completed: the next step, or finish. */
void
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
void
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

/* A reclaim step completed: the next step, or finish. */
void
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
void
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
