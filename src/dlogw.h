/* SPDX-License-Identifier: MIT */
/*
 * dlogw.h: the delivery log file, written through the ring.
 *
 * Events are formatted by dlog_format() into the writer's fill buffer; a
 * before-sleep hook hands the buffer to one ring write (O_APPEND file) per
 * loop turn, while the next turn's lines go into the other buffer.  The
 * kernel owns the buffer being written until its completion.  When the disk
 * cannot keep up and the fill buffer reaches its cap, further lines are
 * dropped and counted (one warning per episode): the delivery log is an
 * audit trail, never a reason to stall delivery.  The spool, not this log,
 * is the system of record.
 */
#ifndef RINGMTA_DLOGW_H
#define RINGMTA_DLOGW_H

#include <stdint.h>

#include "dlog.h"
#include "ring.h"

struct dlogw;

/*
 * Open (creating directories and the file as needed, mode 0640) the log at
 * path for appending; blocking open at start-up.  Returns 0 with *w_r or
 * -errno.
 */
int dlogw_open(struct ring *r, const char *path, struct dlogw **w_r) ATTR_WUR;
/* Queue one event (written at the end of this loop turn). */
void dlogw_event(struct dlogw *w, const struct dlog_event *ev);
/* Lines dropped because the buffer was full. */
uint64_t dlogw_dropped(const struct dlogw *w);
/*
 * Flush what is buffered and wait for it (runs ring turns: call outside
 * ring_run, before ring_shutdown), then close and free.  NULL is fine.
 */
void dlogw_close(struct dlogw *w);

#endif
