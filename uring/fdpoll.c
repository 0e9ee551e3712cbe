/* SPDX-License-Identifier: MIT */
/*
 * fdpoll.c: one-shot polls re-armed after each callback, for foreign fds.
 * See fdpoll.h for the why and the lifetime rules.
 */
#include "fdpoll.h"

#include <errno.h>
#include <poll.h>

static void fdpoll_on_cqe(struct uop *op, int res, unsigned flags);

void
fdpoll_init(struct fdpoll *fp, struct ring *r, fdpoll_fn *cb)
{
	uop_init(&fp->op, fdpoll_on_cqe);
	fp->ring = r;
	fp->cb = cb;
	fp->fd = -1;
	fp->want = 0;
	fp->armed = 0;
	fp->in_cb = false;
	fp->on_idle = NULL;
}

/* Bring the armed poll in line with fd/want. */
static int
fdpoll_sync(struct fdpoll *fp)
{
	int rc;

	if (fp->in_cb)
		return 0; /* re-armed when the callback returns */
	if (fp->want == 0 || fp->fd < 0) {
		if (fp->armed) {
			fp->armed = 0;
			return ring_poll_remove(fp->ring, &fp->op);
		}
		return 0;
	}
	if (fp->armed == fp->want)
		return 0;
	rc = ring_poll(fp->ring, &fp->op, fp->fd, fp->want);
	if (rc < 0) {
		fp->armed = 0;
		return rc;
	}
	fp->armed = fp->want;
	return 0;
}

int
fdpoll_want(struct fdpoll *fp, int fd, unsigned events)
{
	if (fd != fp->fd && fp->armed) {
		/* A new fd (maybe the same number): drop the old request. */
		fp->fd = fd;
		fp->want = events;
		if (events == 0) {
			fp->armed = 0;
			return ring_poll_remove(fp->ring, &fp->op);
		}
		fp->armed = 0;
		if (!fp->in_cb) {
			int rc = ring_poll(fp->ring, &fp->op, fd, events);

			if (rc < 0)
				return rc;
			fp->armed = events;
		}
		return 0;
	}
	fp->fd = fd;
	fp->want = events;
	return fdpoll_sync(fp);
}

int
fdpoll_stop(struct fdpoll *fp)
{
	return fdpoll_want(fp, fp->fd, 0);
}

static void
fdpoll_on_cqe(struct uop *op, int res, unsigned flags)
{
	struct fdpoll *fp = container_of(op, struct fdpoll, op);

	if (!(flags & RING_CQE_STALE)) {
		fp->armed = 0;
		if (res != -ECANCELED && fp->want) {
			unsigned revents = res < 0 ? POLLERR : (unsigned)res;

			fp->in_cb = true;
			fp->cb(fp, revents);
			fp->in_cb = false;
			/* one-shot: re-arm for what the owner wants now */
			if (fdpoll_sync(fp) < 0)
				fp->cb(fp, POLLERR);
		}
	}
	if (!uop_busy(op) && fp->on_idle)
		fp->on_idle(fp);
}
