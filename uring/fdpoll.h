/* SPDX-License-Identifier: MIT */
/*
 * fdpoll.h: readiness polling for fds owned by foreign libraries (c-ares,
 * hiredis), on the ring.
 *
 * Polls are ONE-SHOT and re-armed after the library has been called: a
 * multishot poll is edge-triggered, and a library that reads only part of
 * what is buffered (hiredis reads 16 KiB per call) would then never hear of
 * the rest (TOOLCHAIN.md 2.2 #7).  After the callback returns, the poll is
 * re-armed for whatever fdpoll_want() last asked.
 *
 * Lifetime: a struct fdpoll is embedded in its owner.  fdpoll_stop()
 * removes the armed poll; the removal's completion still arrives, so the
 * owner may free the fdpoll only when fdpoll_busy() is false (or after
 * ring_shutdown()).  Changing the fd or the mask while a poll is armed is
 * allowed: the earlier request completes as stale and is ignored, which is
 * what makes a reused fd number harmless.
 */
#ifndef RINGMTA_FDPOLL_H
#define RINGMTA_FDPOLL_H

#include <stdbool.h>

#include "ring.h"

struct fdpoll;
/* revents: the poll(2) mask that fired (POLLIN, POLLOUT, POLLERR, ...). */
typedef void fdpoll_fn(struct fdpoll *fp, unsigned revents);

struct fdpoll {
	struct uop op;
	struct ring *ring;
	fdpoll_fn *cb;
	int fd;
	unsigned want;  /* events the owner wants now */
	unsigned armed; /* events of the poll in flight, 0 if none */
	bool in_cb;     /* inside cb: re-arm after it returns */
	void (*on_idle)(struct fdpoll *fp); /* optional: last CQE arrived */
};

void fdpoll_init(struct fdpoll *fp, struct ring *r, fdpoll_fn *cb);
/*
 * Watch fd for events (0 stops watching).  Arms, re-arms or removes the
 * one-shot poll as needed.  Returns 0 or -errno.
 */
int fdpoll_want(struct fdpoll *fp, int fd, unsigned events);
/* Stop watching; equivalent to fdpoll_want(fp, fp->fd, 0). */
int fdpoll_stop(struct fdpoll *fp);
static inline bool
fdpoll_busy(const struct fdpoll *fp)
{
	return uop_busy(&fp->op);
}

#endif
