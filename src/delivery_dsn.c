/* SPDX-License-Identifier: MIT */
/*
 * delivery_dsn.c: failure DSNs (bounce.c) injected through the spool like
 * any message: sender <>, one recipient (the original return path),
 * RECORD_MSG_F_BOUNCE so that it is never bounced itself.  Once the spool
 * says it is durable it is queued for delivery (dlv_queue_msg).  bounce.c
 * decides nothing about whether to send: bounce_should_send() was asked
 * per recipient before (delivery_batch.c).
 *
 * The original is read with pread() from its spool segment (page cache):
 * a bounded, rare read (the DSN returns at most BOUNCE_MAX_BODY_DEFAULT
 * bytes), the one blocking file read in the loop.  Each DSN in commit is
 * a job owned by this file until its commit callback, or detached at
 * shutdown (the message is still written, and replayed at next start).
 */
#include "delivery_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

struct dlv_dsn_job {
	struct dlv_dsn_job *next, **pprev;
	struct dlv *d;
	struct spool_txn txn;
	uint8_t id[SPOOL_ID_LEN];
	char orig[SPOOL_ID_STR_LEN];
};

struct dlv_dsn_reader {
	struct spool_body body;
};

static ssize_t
dlv_dsn_read(void *arg, uint64_t off, char *buf, size_t len)
{
	struct dlv_dsn_reader *rd = arg;
	ssize_t n;

	if (off >= rd->body.len)
		return 0;
	len = MIN(len, rd->body.len - off);
	n = pread(rd->body.fd, buf, len, (off_t)(rd->body.off + off));
	return n < 0 ? -errno : n;
}

static void
dlv_dsn_unlink(struct dlv_dsn_job *j)
{
	*j->pprev = j->next;
	if (j->next)
		j->next->pprev = j->pprev;
}

static void
dlv_dsn_on_commit(void *arg, int err)
{
	struct dlv_dsn_job *j = arg;
	struct dlv *d = j->d;
	char idstr[SPOOL_ID_STR_LEN];
	const struct spool_msg *m;

	dlv_dsn_unlink(j);
	if (err < 0) {
		log_err("DSN for message %s: spool refused it: %s", j->orig,
			strerror(-err));
	} else {
		log_info("DSN %s queued for message %s",
			 spool_id_str(j->id, idstr), j->orig);
		m = spool_find(d->sp, j->id);
		if (m != NULL && !d->stopping)
			dlv_queue_msg(d, m);
	}
	free(j);
}

static void
dlv_dsn_on_resume(void *arg)
{
	(void)arg; /* the whole DSN is handed over at once */
}

/* Inject out's message; the job is owned by d's list until committed. */
static int
dlv_dsn_inject(struct dlv *d, const struct spool_msg_info *mi,
	       const struct bounce_out *out, const char *orig)
{
	struct dlv_dsn_job *j = xcalloc(1, sizeof(*j));
	struct record_msg_rcpt rc = {
	    .addr = {(const uint8_t *)out->env_rcpt, strlen(out->env_rcpt)},
	};
	struct spool_env env = {
	    .binding = mi->binding,
	    .flags =
		RECORD_MSG_F_BOUNCE |
		(out->flags & BOUNCE_OUT_8BIT ? RECORD_MSG_F_8BITMIME : 0) |
		(out->flags & BOUNCE_OUT_SMTPUTF8 ? RECORD_MSG_F_SMTPUTF8 : 0),
	    .rcpt = &rc,
	    .nrcpt = 1,
	};
	int rc2;

	j->d = d;
	snprintf(j->orig, sizeof(j->orig), "%s", orig);
	rc2 = spool_txn_begin(d->sp, &j->txn, &env, dlv_dsn_on_resume, j);
	if (rc2 < 0) {
		free(j);
		return rc2;
	}
	memcpy(j->id, spool_txn_id(&j->txn), SPOOL_ID_LEN);
	rc2 = spool_txn_body(&j->txn, out->msg, out->len);
	if (rc2 < 0) {
		spool_txn_abort(&j->txn);
		free(j);
		return rc2;
	}
	j->next = d->dsn_jobs;
	if (j->next)
		j->next->pprev = &j->next;
	j->pprev = (struct dlv_dsn_job **)&d->dsn_jobs;
	d->dsn_jobs = j;
	spool_txn_commit(&j->txn, dlv_dsn_on_commit, j);
	return 0;
}

int
dlv_dsn_send(struct dlv *d, const uint8_t id[DOM_ID_LEN],
	     const struct dlv_dsn_rcpt *rcpts, uint32_t n)
{
	const struct spool_msg *m = spool_find(d->sp, id);
	struct spool_msg_info mi;
	struct dlv_dsn_reader rd;
	struct bounce_rcpt *br;
	struct bounce_in in;
	struct bounce_out out;
	char sender[RECORD_ADDR_MAX + 1], envid[BOUNCE_ENVID_MAX + 1];
	char idstr[SPOOL_ID_STR_LEN];
	uint64_t seed[4];
	int rc;

	if (m == NULL || n == 0)
		return -ENOENT;
	spool_msg_info(m, &mi);
	spool_id_str(id, idstr);
	if (spool_body_loc(d->sp, id, &rd.body) < 0)
		return -ENOENT;
	snprintf(sender, sizeof(sender), "%.*s", (int)mi.sender.len,
		 (const char *)mi.sender.p);
	snprintf(envid, sizeof(envid), "%.*s", (int)mi.envid.len,
		 (const char *)mi.envid.p);
	br = xcalloc(n, sizeof(*br));
	for (uint32_t i = 0; i < n; i++) {
		br[i].addr = rcpts[i].addr;
		br[i].orcpt = rcpts[i].orcpt;
		br[i].action = BOUNCE_ACTION_FAILED;
		br[i].status = rcpts[i].status;
		br[i].remote_mta = rcpts[i].mta;
		br[i].diag = rcpts[i].diag;
		br[i].diag_len = rcpts[i].diag ? strlen(rcpts[i].diag) : 0;
		br[i].last_attempt = rcpts[i].last_attempt;
	}
	for (size_t i = 0; i < nitems(seed); i++)
		seed[i] = dlv_rand(d);
	memset(&in, 0, sizeof(in));
	in.reporting_mta = d->cfg->server.hostname;
	in.sender = sender;
	in.flags = (mi.flags & RECORD_MSG_F_BOUNCE ? BOUNCE_F_IS_DSN : 0) |
		   (mi.flags & RECORD_MSG_F_SMTPUTF8 ? BOUNCE_F_SMTPUTF8 : 0);
	in.envid = envid[0] ? envid : NULL;
	in.ret = (enum bounce_ret)mi.ret;
	in.arrival = (int64_t)(mi.received_us / 1000000);
	in.queue_id = idstr;
	in.kind = BOUNCE_FAILED;
	in.rcpts = br;
	in.nrcpt = n;
	in.orig_read = dlv_dsn_read;
	in.orig_arg = &rd;
	in.seed = (const uint8_t *)seed;
	in.seed_len = sizeof(seed);
	in.now = dlv_wall_ms(d) / 1000;
	rc = bounce_build(&in, &out);
	free(br);
	if (rc < 0) {
		log_err("DSN for message %s: cannot build: %s", idstr,
			strerror(-rc));
		return rc;
	}
	rc = dlv_dsn_inject(d, &mi, &out, idstr);
	if (rc < 0)
		log_err("DSN for message %s: cannot spool: %s", idstr,
			strerror(-rc));
	else
		d->st.dsns++;
	bounce_out_fini(&out);
	return rc;
}

void
dlv_dsn_abort_all(struct dlv *d)
{
	struct dlv_dsn_job *j;

	while ((j = d->dsn_jobs) != NULL) {
		dlv_dsn_unlink(j);
		spool_txn_abort(&j->txn);
		free(j);
	}
}
