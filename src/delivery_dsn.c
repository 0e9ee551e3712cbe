/* SPDX-License-Identifier: MIT */
/*
 * delivery_dsn.c: DSNs (bounce.c) injected through the spool like any
 * message: sender <>, one recipient (the original return path),
 * RECORD_MSG_F_BOUNCE so that it is never bounced itself.  Once the spool
 * says it is durable it is queued for delivery (dlv_queue_msg).  Two
 * kinds: failure DSNs (dlv_dsn_send; bounce_should_send() was asked per
 * recipient by delivery_batch.c) and delay notices (dlv_dsn_delay, which
 * decides itself, docs/BOUNCES.md "Delay notices").
 *
 * Each DSN is a job owned by this file.  It copies every fact it needs at
 * the start, then reads the original through the ring (IORING_OP_READ)
 * into its own buffer, on its own dup of the segment fd: the message may
 * be done and its segment closed and reclaimed before the read completes.
 * The kernel owns the buffer and the uop until the read's completion.
 * Then the DSN is built and committed; the job lives until the commit
 * callback.  At shutdown (dlv_dsn_abort_all) reads in flight get a short
 * wait to finish (their DSN is then still written), the rest are cancelled
 * and detached: their completion frees them, without touching the dlv.
 * Never decides routing, never writes recipient marks.
 */
#include "delivery_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

#define DLV_DSN_DRAIN_NS (2 * 1000000000LL) /* shutdown wait for reads */

struct dlv_dsn_job {
	struct dlv_dsn_job *next, **pprev;
	struct dlv *d; /* NULL: detached at shutdown, freed by the read */
	struct uop op; /* the read of the original */
	bool reading;  /* the read is in flight (op armed) */
	int fd;        /* our dup of the segment fd, -1: closed */
	uint64_t off;  /* the body's offset in the segment */
	char *buf;     /* the original's first len bytes */
	size_t len, got;
	enum bounce_kind kind;
	struct dlv_dsn_rcpt *rc; /* deep copies */
	uint32_t n;
	char *sender, *envid, *binding;
	uint32_t msg_flags;
	uint8_t ret;
	int64_t arrival;
	struct dlv_mark *marks; /* written once the DSN is committed */
	uint32_t nmarks;
	uint64_t seed[4];
	char idstr[SPOOL_ID_STR_LEN];
	uint8_t msg_id[SPOOL_ID_LEN]; /* the original's */
	struct spool_txn txn;
	uint8_t id[SPOOL_ID_LEN]; /* the DSN's own id */
};

static void dlv_dsn_read_next(struct dlv_dsn_job *j);

static void
dlv_dsn_unlink(struct dlv_dsn_job *j)
{
	*j->pprev = j->next;
	if (j->next)
		j->next->pprev = j->pprev;
	j->next = NULL;
	j->pprev = NULL;
}

static void
dlv_dsn_link(struct dlv *d, struct dlv_dsn_job *j)
{
	j->next = d->dsn_jobs;
	if (j->next)
		j->next->pprev = &j->next;
	j->pprev = (struct dlv_dsn_job **)&d->dsn_jobs;
	d->dsn_jobs = j;
}

/* Free the strings of one recipient. */
static void
dlv_dsn_rcpt_fini(struct dlv_dsn_rcpt *r)
{
	free(r->addr);
	free(r->orcpt);
	free(r->diag);
	free(r->mta);
}

/* Free an unlinked job whose read is over and whose txn is idle. */
static void
dlv_dsn_free(struct dlv_dsn_job *j)
{
	uop_fini(&j->op);
	if (j->fd >= 0)
		close(j->fd);
	for (uint32_t i = 0; i < j->n; i++)
		dlv_dsn_rcpt_fini(&j->rc[i]);
	free(j->rc);
	free(j->marks);
	free(j->sender);
	free(j->envid);
	free(j->binding);
	free(j->buf);
	free(j);
}

void
dlv_dsn_mark_write(struct dlv *d, const uint8_t id[DOM_ID_LEN],
		   const struct dlv_mark *mk)
{
	struct spool_state st = {
	    .state = mk->state,
	    .attempts = mk->attempts,
	    .next_try_us = mk->next_try_us,
	    .code = mk->code,
	    .ecode = mk->ecode[0] ? mk->ecode : NULL,
	    .text = mk->text[0] ? mk->text : NULL,
	};
	char idstr[SPOOL_ID_STR_LEN];
	int rc = spool_mark(d->sp, id, mk->idx, 1, &st, NULL, NULL);

	if (rc < 0)
		log_warn("message %s recipient %" PRIu32
			 ": cannot record state: %s",
			 spool_id_str(id, idstr), mk->idx, strerror(-rc));
}

/* Write the marks the job holds (its DSN is committed, or impossible). */
static void
dlv_dsn_marks_flush(struct dlv_dsn_job *j)
{
	for (uint32_t i = 0; i < j->nmarks; i++)
		dlv_dsn_mark_write(j->d, j->msg_id, &j->marks[i]);
	j->nmarks = 0;
}

/* End a job before its commit (logged by the caller): its marks are
 * written all the same, then it is unlinked and freed. */
static void
dlv_dsn_drop(struct dlv_dsn_job *j)
{
	dlv_dsn_marks_flush(j);
	if (j->pprev != NULL)
		dlv_dsn_unlink(j);
	dlv_dsn_free(j);
}

static void
dlv_dsn_on_commit(void *arg, int err)
{
	struct dlv_dsn_job *j = arg;
	struct dlv *d = j->d;
	char idstr[SPOOL_ID_STR_LEN];
	const struct spool_msg *m;

	if (err < 0) {
		log_err("DSN for message %s: spool refused it: %s", j->idstr,
			strerror(-err));
	} else {
		log_info("DSN %s (%s) queued for message %s",
			 spool_id_str(j->id, idstr), bounce_kind_str(j->kind),
			 j->idstr);
		m = spool_find(d->sp, j->id);
		if (m != NULL && !d->stopping)
			dlv_queue_msg(d, m);
	}
	dlv_dsn_drop(j);
}

static void
dlv_dsn_on_resume(void *arg)
{
	(void)arg; /* the whole DSN is handed over at once */
}

/* Inject out's message; the job stays on d's list until committed. */
static int
dlv_dsn_inject(struct dlv_dsn_job *j, const struct bounce_out *out)
{
	struct record_msg_rcpt rc = {
	    .addr = {(const uint8_t *)out->env_rcpt, strlen(out->env_rcpt)},
	};
	struct spool_env env = {
	    .binding = {(const uint8_t *)j->binding, strlen(j->binding)},
	    .flags =
		RECORD_MSG_F_BOUNCE |
		(out->flags & BOUNCE_OUT_8BIT ? RECORD_MSG_F_8BITMIME : 0) |
		(out->flags & BOUNCE_OUT_SMTPUTF8 ? RECORD_MSG_F_SMTPUTF8 : 0),
	    .rcpt = &rc,
	    .nrcpt = 1,
	};
	int rc2;

	rc2 = spool_txn_begin(j->d->sp, &j->txn, &env, dlv_dsn_on_resume, j);
	if (rc2 < 0)
		return rc2;
	memcpy(j->id, spool_txn_id(&j->txn), SPOOL_ID_LEN);
	rc2 = spool_txn_body(&j->txn, out->msg, out->len);
	if (rc2 < 0) {
		spool_txn_abort(&j->txn);
		return rc2;
	}
	spool_txn_commit(&j->txn, dlv_dsn_on_commit, j);
	/* After the commit: the spool writes in order, so the marks are
	 * never durable before the DSN. */
	dlv_dsn_marks_flush(j);
	return 0;
}

/* The job's facts as bounce_build() input; br[j->n] is the caller's. */
static void
dlv_dsn_in(const struct dlv_dsn_job *j, struct bounce_rcpt *br,
	   struct bounce_in *in)
{
	static const enum bounce_action act[] = {
	    [BOUNCE_FAILED] = BOUNCE_ACTION_FAILED,
	    [BOUNCE_DELAYED] = BOUNCE_ACTION_DELAYED,
	    [BOUNCE_RELAYED] = BOUNCE_ACTION_RELAYED,
	    [BOUNCE_DELIVERED] = BOUNCE_ACTION_DELIVERED,
	};
	_Static_assert(nitems(act) == BOUNCE_KIND__COUNT, "dsn actions");

	for (uint32_t i = 0; br != NULL && i < j->n; i++) {
		br[i].addr = j->rc[i].addr;
		br[i].orcpt = j->rc[i].orcpt;
		br[i].action = act[j->kind];
		br[i].status = j->rc[i].status;
		br[i].remote_mta = j->rc[i].mta;
		br[i].diag = j->rc[i].diag;
		br[i].diag_len = j->rc[i].diag ? strlen(j->rc[i].diag) : 0;
		br[i].last_attempt = j->rc[i].last_attempt;
		br[i].retry_until = j->rc[i].retry_until;
	}
	memset(in, 0, sizeof(*in));
	in->reporting_mta = j->d->cfg->server.hostname;
	in->sender = j->sender;
	in->flags =
	    (j->msg_flags & RECORD_MSG_F_BOUNCE ? BOUNCE_F_IS_DSN : 0) |
	    (j->msg_flags & RECORD_MSG_F_SMTPUTF8 ? BOUNCE_F_SMTPUTF8 : 0);
	in->envid = j->envid[0] ? j->envid : NULL;
	in->ret = (enum bounce_ret)j->ret;
	in->arrival = j->arrival;
	in->queue_id = j->idstr;
	in->kind = j->kind;
	in->rcpts = br;
	in->nrcpt = j->n;
	in->orig = j->buf;
	in->orig_len = j->got;
	in->seed = (const uint8_t *)j->seed;
	in->seed_len = sizeof(j->seed);
}

/* The original is in: build the DSN and hand it to the spool. */
static void
dlv_dsn_build(struct dlv_dsn_job *j)
{
	struct bounce_rcpt *br = xcalloc(j->n, sizeof(*br));
	struct bounce_out out;
	struct bounce_in in;
	int rc;

	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	dlv_dsn_in(j, br, &in);
	in.now = dlv_wall_ms(j->d) / 1000;
	rc = bounce_build(&in, &out);
	free(br);
	if (rc < 0) {
		log_err("DSN for message %s: cannot build: %s", j->idstr,
			strerror(-rc));
		dlv_dsn_drop(j);
		return;
	}
	rc = dlv_dsn_inject(j, &out);
	bounce_out_fini(&out);
	if (rc < 0) {
		log_err("DSN for message %s: cannot spool: %s", j->idstr,
			strerror(-rc));
		dlv_dsn_drop(j);
		return;
	}
	j->d->st.dsns++;
}

/* A read of the original completed (every completion, even detached). */
static void
dlv_dsn_on_read(struct uop *op, int res, unsigned flags)
{
	struct dlv_dsn_job *j = container_of(op, struct dlv_dsn_job, op);

	(void)flags;
	j->reading = false;
	if (j->d == NULL) {
		dlv_dsn_free(j); /* detached at shutdown: nothing to send */
		return;
	}
	if (res < 0) {
		log_err("DSN for message %s: cannot read the original: %s",
			j->idstr, strerror(-res));
		dlv_dsn_drop(j);
		return;
	}
	if (res == 0)
		j->len = j->got; /* shorter than the index said */
	j->got += (size_t)res;
	dlv_dsn_read_next(j);
}

/* Read what is still missing, or build once everything is in. */
static void
dlv_dsn_read_next(struct dlv_dsn_job *j)
{
	int rc;

	if (j->got >= j->len) {
		dlv_dsn_build(j);
		return;
	}
	rc = ring_read(j->d->ring, &j->op, j->fd, j->buf + j->got,
		       j->len - j->got, j->off + j->got);
	if (rc < 0) {
		log_err("DSN for message %s: cannot read the original: %s",
			j->idstr, strerror(-rc));
		dlv_dsn_drop(j);
		return;
	}
	j->reading = true;
}

/* Deep copies of rcpts[n] into the job. */
static void
dlv_dsn_copy_rcpts(struct dlv_dsn_job *j, const struct dlv_dsn_rcpt *rcpts,
		   uint32_t n)
{
	j->rc = xcalloc(n, sizeof(*j->rc));
	j->n = n;
	for (uint32_t i = 0; i < n; i++) {
		j->rc[i] = rcpts[i];
		j->rc[i].addr = xstrdup(rcpts[i].addr);
		j->rc[i].orcpt =
		    rcpts[i].orcpt ? xstrdup(rcpts[i].orcpt) : NULL;
		j->rc[i].diag = rcpts[i].diag ? xstrdup(rcpts[i].diag) : NULL;
		j->rc[i].mta = rcpts[i].mta ? xstrdup(rcpts[i].mta) : NULL;
	}
}

/*
 * Start the DSN of kind for message id and rcpts[n]: copy the facts, dup
 * the segment fd, start reading the part of the original bounce_build()
 * needs.  Returns 0 (the rest is logged), -ENOENT or -errno of the dup.
 */
static int
dlv_dsn_start(struct dlv *d, const uint8_t id[DOM_ID_LEN],
	      enum bounce_kind kind, const struct dlv_dsn_rcpt *rcpts,
	      uint32_t n, const struct dlv_mark *marks, uint32_t nmarks)
{
	const struct spool_msg *m = spool_find(d->sp, id);
	struct dlv_dsn_job *j;
	struct spool_msg_info mi;
	struct spool_body body;
	struct bounce_in in;

	if (m == NULL || n == 0 || spool_body_loc(d->sp, id, &body) < 0)
		return -ENOENT;
	spool_msg_info(m, &mi);
	j = xcalloc(1, sizeof(*j));
	uop_init(&j->op, dlv_dsn_on_read);
	j->d = d;
	j->kind = kind;
	j->fd = fcntl(body.fd, F_DUPFD_CLOEXEC, 0);
	if (j->fd < 0) {
		int err = -errno;

		log_err("DSN for message %s: cannot reach the original: %s",
			spool_id_str(id, j->idstr), strerror(-err));
		dlv_dsn_free(j);
		return err;
	}
	spool_id_str(id, j->idstr);
	memcpy(j->msg_id, id, SPOOL_ID_LEN);
	if (nmarks > 0) {
		j->marks = xcalloc(nmarks, sizeof(*j->marks));
		memcpy(j->marks, marks, nmarks * sizeof(*marks));
		j->nmarks = nmarks;
	}
	j->sender = xstrndup((const char *)mi.sender.p, mi.sender.len);
	j->envid = xstrndup((const char *)mi.envid.p,
			    MIN(mi.envid.len, BOUNCE_ENVID_MAX));
	j->binding = xstrndup((const char *)mi.binding.p, mi.binding.len);
	j->msg_flags = mi.flags;
	j->ret = mi.ret;
	j->arrival = (int64_t)(mi.received_us / 1000000);
	dlv_dsn_copy_rcpts(j, rcpts, n);
	for (size_t i = 0; i < nitems(j->seed); i++)
		j->seed[i] = dlv_rand(d);
	dlv_dsn_in(j, NULL, &in);
	j->off = body.off;
	j->len = (size_t)MIN(body.len, (uint64_t)bounce_orig_want(&in));
	j->buf = xmalloc(j->len ? j->len : 1);
	dlv_dsn_link(d, j);
	dlv_dsn_read_next(j);
	return 0;
}

int
dlv_dsn_send(struct dlv *d, const uint8_t id[DOM_ID_LEN],
	     const struct dlv_dsn_rcpt *rcpts, uint32_t n)
{
	return dlv_dsn_start(d, id, BOUNCE_FAILED, rcpts, n, NULL, 0);
}

/* Whether a mark in this state waits for the DSN (bounced, expired). */
static bool
dlv_dsn_takes(uint8_t state)
{
	return state == RECORD_RS_BOUNCED || state == RECORD_RS_EXPIRED;
}

void
dlv_dsn_send_batch(struct dlv_batch *b)
{
	struct dlv_mark *fin;
	uint32_t nfin = 0, keep = 0;

	if (b->ndsn == 0 || !b->live)
		return;
	fin = xcalloc(b->nmarks ? b->nmarks : 1, sizeof(*fin));
	for (uint32_t i = 0; i < b->nmarks; i++)
		if (dlv_dsn_takes(b->marks[i].state))
			fin[nfin++] = b->marks[i];
	if (dlv_dsn_start(b->d, b->u->id, BOUNCE_FAILED, b->dsn, b->ndsn, fin,
			  nfin) == 0) {
		for (uint32_t i = 0; i < b->nmarks; i++)
			if (!dlv_dsn_takes(b->marks[i].state))
				b->marks[keep++] = b->marks[i];
		b->nmarks = keep;
		for (uint32_t i = 0; i < b->ndsn; i++)
			dlv_dsn_rcpt_fini(&b->dsn[i]);
		b->ndsn = 0; /* consumed: a second call does nothing */
	}
	free(fin);
}

/*
 * The rule (docs/BOUNCES.md): with T = received + warn, the deferral that
 * moves the next try from prev_us (0: never deferred) to next_us sends the
 * notice iff prev_us < T <= next_us.  Next-try times only grow, so exactly
 * one deferral of a recipient does, and both times are in the spool.
 */
static bool
dlv_dsn_delay_due(uint64_t received_us, const struct domain_policy *pol,
		  uint64_t prev_us, uint64_t next_us)
{
	uint64_t t;

	if (pol->delay_warning_ms == 0 ||
	    pol->delay_warning_ms >= pol->message_expiration_ms)
		return false;
	t = received_us + pol->delay_warning_ms * 1000;
	return prev_us < t && next_us >= t;
}

void
dlv_dsn_delay(const struct dlv_batch *b)
{
	const struct spool_msg *m =
	    b->live ? spool_find(b->d->sp, b->u->id) : NULL;
	unsigned flags =
	    b->msg_flags & RECORD_MSG_F_BOUNCE ? BOUNCE_F_IS_DSN : 0;
	struct dlv_dsn_rcpt *dr;
	struct spool_msg_info mi;
	struct spool_rcpt_info ri;
	uint32_t n = 0;

	if (m == NULL || b->pol->delay_warning_ms == 0 || b->nmarks == 0)
		return;
	spool_msg_info(m, &mi);
	dr = xcalloc(b->nmarks, sizeof(*dr));
	for (uint32_t i = 0; i < b->nmarks; i++) {
		const struct dlv_mark *mk = &b->marks[i];

		if (mk->state != RECORD_RS_DEFERRED || mk->idx >= mi.nrcpt)
			continue;
		spool_msg_rcpt(m, mk->idx, &ri);
		if (!dlv_dsn_delay_due(
			mi.received_us, b->pol,
			ri.state == RECORD_RS_DEFERRED ? ri.next_try_us : 0,
			mk->next_try_us) ||
		    !bounce_should_send(b->sender, flags, ri.notify,
					BOUNCE_DELAYED))
			continue;
		dr[n].addr = xstrndup((const char *)ri.addr.p, ri.addr.len);
		dr[n].orcpt = ri.orcpt.len ? xstrndup((const char *)ri.orcpt.p,
						      ri.orcpt.len)
					   : NULL;
		dr[n].diag = mk->text[0] ? xstrdup(mk->text) : NULL;
		dr[n].mta = b->mx ? xstrdup(b->mx) : NULL;
		dlv_strcpy(dr[n].status, sizeof(dr[n].status), mk->ecode);
		dr[n].last_attempt = b->now_ms / 1000;
		dr[n].retry_until = (int64_t)((mi.received_us / 1000 +
					       b->pol->message_expiration_ms) /
					      1000);
		n++;
	}
	if (n > 0 &&
	    dlv_dsn_start(b->d, b->u->id, BOUNCE_DELAYED, dr, n, NULL, 0) == 0)
		log_info("message %s: delay notice for %" PRIu32
			 " recipient(s)",
			 b->idstr, n);
	for (uint32_t i = 0; i < n; i++)
		dlv_dsn_rcpt_fini(&dr[i]);
	free(dr);
}

/* Whether a job of d still has a read in flight. */
static bool
dlv_dsn_any_reading(const struct dlv *d)
{
	for (const struct dlv_dsn_job *j = d->dsn_jobs; j; j = j->next)
		if (j->reading)
			return true;
	return false;
}

void
dlv_dsn_abort_all(struct dlv *d)
{
	dlv_dsn_abort_wait(d, DLV_DSN_DRAIN_NS);
}

void
dlv_dsn_abort_wait(struct dlv *d, int64_t wait_ns)
{
	int64_t end = ring_now_update(d->ring) + wait_ns;
	struct dlv_dsn_job *j;

	while (dlv_dsn_any_reading(d) && ring_now_update(d->ring) < end)
		if (ring_run_once(d->ring, 100000000) < 0)
			break;
	while ((j = d->dsn_jobs) != NULL) {
		dlv_dsn_unlink(j);
		if (j->reading) {
			log_warn("DSN for message %s: dropped at shutdown "
				 "(reading the original)%s",
				 j->idstr,
				 j->nmarks ? "; its recipients stay queued"
					   : "");
			j->d = NULL; /* its completion frees it */
			(void)ring_cancel(d->ring, &j->op);
			continue;
		}
		spool_txn_abort(&j->txn); /* still written by spool_close */
		dlv_dsn_free(j);
	}
}
