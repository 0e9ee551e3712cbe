/* SPDX-License-Identifier: MIT */
/*
 * dlogw.c: double-buffered appends of delivery-log lines through the ring.
 * See dlogw.h for the buffer ownership and the drop policy.
 */
#include "dlogw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "jsonw.h"
#include "log.h"

#define DLOGW_CAP (8u << 20) /* bytes buffered before lines are dropped */

struct dlogw {
	struct ring *ring;
	int fd;
	struct uop op;
	struct ring_hook hook;
	struct jsonw buf[2]; /* [fill] takes lines, [!fill] is in the kernel */
	int fill;
	size_t sent; /* bytes of buf[!fill] already written */
	uint64_t dropped;
	bool dropping;
	bool failed; /* a write error was logged */
};

static void dlogw_on_write(struct uop *op, int res, unsigned flags);

/* Submit the busy buffer's unwritten rest. */
static void
dlogw_submit(struct dlogw *w)
{
	struct jsonw *b = &w->buf[!w->fill];
	int rc = ring_write(w->ring, &w->op, w->fd, b->buf + w->sent,
			    b->len - w->sent, (uint64_t)-1);

	if (rc < 0) {
		log_err("delivery log: cannot queue a write: %s",
			strerror(-rc));
		jsonw_reset(b);
		w->sent = 0;
	}
}

static void
dlogw_flush(struct dlogw *w)
{
	if (uop_busy(&w->op) || w->buf[w->fill].len == 0)
		return;
	w->fill = !w->fill;
	w->sent = 0;
	dlogw_submit(w);
}

static void
dlogw_on_hook(struct ring_hook *h)
{
	dlogw_flush(container_of(h, struct dlogw, hook));
}

static void
dlogw_on_write(struct uop *op, int res, unsigned flags)
{
	struct dlogw *w = container_of(op, struct dlogw, op);
	struct jsonw *b = &w->buf[!w->fill];

	(void)flags;
	if (res < 0) {
		if (!w->failed)
			log_err("delivery log: write failed: %s "
				"(lines are being lost)",
				strerror(-res));
		w->failed = true;
		jsonw_reset(b);
		w->sent = 0;
		return;
	}
	w->failed = false;
	w->sent += (size_t)res;
	if (w->sent < b->len && res > 0) {
		dlogw_submit(w); /* short write: the rest, same buffer */
		return;
	}
	jsonw_reset(b);
	w->sent = 0;
}

int
dlogw_open(struct ring *r, const char *path, struct dlogw **w_r)
{
	struct dlogw *w;
	int fd, rc;

	rc = fsutil_mkdirs_for(path, 0750);
	if (rc < 0)
		return rc;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -errno;
	w = xcalloc(1, sizeof(*w));
	w->ring = r;
	w->fd = fd;
	uop_init(&w->op, dlogw_on_write);
	jsonw_init(&w->buf[0]);
	jsonw_init(&w->buf[1]);
	w->hook.fn = dlogw_on_hook;
	ring_hook_add(r, &w->hook);
	*w_r = w;
	return 0;
}

void
dlogw_event(struct dlogw *w, const struct dlog_event *ev)
{
	struct jsonw *b = &w->buf[w->fill];

	if (b->len >= DLOGW_CAP) {
		if (!w->dropping)
			log_warn("delivery log: disk too slow, dropping lines");
		w->dropping = true;
		w->dropped++;
		return;
	}
	w->dropping = false;
	dlog_format(b, ev);
}

uint64_t
dlogw_dropped(const struct dlogw *w)
{
	return w->dropped;
}

void
dlogw_close(struct dlogw *w)
{
	int64_t end;

	if (w == NULL)
		return;
	end = ring_now_update(w->ring) + 5000000000LL;
	while ((uop_busy(&w->op) || w->buf[w->fill].len) &&
	       ring_now_update(w->ring) < end) {
		dlogw_flush(w);
		if (ring_run_once(w->ring, 100000000) < 0)
			break;
	}
	ring_hook_del(w->ring, &w->hook);
	if (uop_busy(&w->op)) {
		/* Never free a buffer the kernel still owns. */
		log_warn("delivery log: write still in flight at close");
		return;
	}
	if (w->dropped)
		log_warn("delivery log: %llu lines were dropped",
			 (unsigned long long)w->dropped);
	close(w->fd);
	jsonw_fini(&w->buf[0]);
	jsonw_fini(&w->buf[1]);
	free(w);
}
