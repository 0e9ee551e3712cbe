/* SPDX-License-Identifier: MIT */
/*
 * sig.c: a signalfd read through the ring, re-armed after each signal.
 */
#include "sig.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void sig_on_read(struct uop *op, int res, unsigned flags);

static int
sig_arm(struct sig_watch *w)
{
	return ring_read(w->ring, &w->op, w->fd, &w->si, sizeof(w->si), 0);
}

int
sig_watch_start(struct sig_watch *w, struct ring *r, const int *signals,
		size_t n, sig_fn *cb)
{
	sigset_t set;
	int rc;

	memset(w, 0, sizeof(*w));
	uop_init(&w->op, sig_on_read);
	w->ring = r;
	w->cb = cb;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	for (size_t i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -errno;
	w->fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (w->fd == -1)
		return -errno;
	rc = sig_arm(w);
	if (rc < 0) {
		close(w->fd);
		w->fd = -1;
	}
	return rc;
}

void
sig_watch_stop(struct sig_watch *w)
{
	w->stopping = true;
	if (uop_busy(&w->op))
		ring_cancel(w->ring, &w->op);
	else if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
}

static void
sig_on_read(struct uop *op, int res, unsigned flags)
{
	struct sig_watch *w = container_of(op, struct sig_watch, op);

	(void)flags;
	if (w->stopping || res == -ECANCELED) {
		if (w->fd >= 0) {
			close(w->fd);
			w->fd = -1;
		}
		return;
	}
	if (res == (int)sizeof(w->si))
		w->cb(w, (int)w->si.ssi_signo);
	else if (res < 0)
		log_warn("signals: read failed: %s", strerror(-res));
	if (!w->stopping && sig_arm(w) < 0)
		log_err("signals: cannot re-arm the signal read");
}
