/* SPDX-License-Identifier: MIT */
/*
 * sig.h: signals delivered through the ring.
 *
 * The watched signals are blocked and read from a signalfd with a ring
 * read, so the handler runs in the loop like any completion: no
 * async-signal-safety concerns and no work in signal context.  The struct
 * is embedded in its owner and must outlive its read (sig_watch_busy()).
 */
#ifndef RINGMTA_SIG_H
#define RINGMTA_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/signalfd.h>

#include "ring.h"

struct sig_watch;
typedef void sig_fn(struct sig_watch *w, int signo);

struct sig_watch {
	struct uop op;
	struct ring *ring;
	sig_fn *cb;
	int fd;
	bool stopping;
	struct signalfd_siginfo si; /* the kernel writes here while armed */
};

/*
 * Block signals[0..n) and start reading them; cb runs once per signal.
 * SIGPIPE is ignored as a side effect (hiredis and c-ares write(2) to
 * sockets).  Returns 0 or -errno.
 */
int sig_watch_start(struct sig_watch *w, struct ring *r, const int *signals,
		    size_t n, sig_fn *cb) ATTR_WUR;
/* Stop reading (the read is cancelled); close the fd once idle. */
void sig_watch_stop(struct sig_watch *w);
static inline bool
sig_watch_busy(const struct sig_watch *w)
{
	return uop_busy(&w->op);
}

#endif
