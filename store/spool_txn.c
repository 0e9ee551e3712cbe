/* SPDX-License-Identifier: MIT */
/*
 * spool_txn.c: intake transactions (spool_txn_*).
 *
 * A transaction encodes its MSG record as the body arrives, keyed for the
 * append segment, in a buffer it owns; past inline_max it hands over to
 * spool_stream.c.  Commit queues it for the next group commit; its callback
 * runs only from the loop.  The session's handle is a pointer: the spool
 * owns the transaction, so aborting never waits for the kernel.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "spool_int.h"

/* --- intake --- */

/* Release an intake message (not its callback). */
void
spool_in_free(struct spool_in *in)
{
	if (in->enc.buf != NULL)
		record_enc_abort(&in->enc);
	record_buf_fini(&in->buf);
	spool_msg_free(in->msg);
	free(in);
}

/* Report the commit result (unless detached) and free in. */
void
spool_in_finish(struct spool_in *in, int err)
{
	if (err < 0)
		in->sp->st.failed++;
	if (in->txn != NULL)
		in->txn->in = NULL;
	if (!in->detached && in->cb != NULL)
		in->cb(in->cb_arg, err);
	if (err == 0)
		in->msg = NULL; /* now the index's */
	spool_in_free(in);
}

/* Start a transaction.  See spool.h. */
int
spool_txn_begin(struct spool *sp, struct spool_txn *txn,
		const struct spool_env *env, spool_resume_fn *resume, void *arg)
{
	uint8_t id[SPOOL_ID_LEN];
	struct spool_in *in;
	int rc = spool_status(sp);

	BUG_ON(txn->in != NULL);
	if (rc < 0)
		return rc;
	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
		return -EIO;
	in = xcalloc(1, sizeof(*in));
	in->msg = spool_msg_from_env(id, env);
	if (in->msg == NULL) {
		free(in);
		return -EMSGSIZE;
	}
	in->ent.kind = SPOOL_ENT_IN;
	in->sp = sp;
	in->resume = resume;
	in->resume_arg = arg;
	record_buf_init(&in->buf);
	in->nonce = sp->cur ? sp->cur->nonce : 0;
	rc = spool_msg_encode_head(in->msg, &in->enc, &in->buf, in->nonce,
				   &in->body_off);
	if (rc < 0) {
		spool_in_free(in);
		return rc;
	}
	in->txn = txn;
	in->gen = ++sp->gen;
	sp->open++;
	txn->in = in;
	return 0;
}

const uint8_t *
spool_txn_id(const struct spool_txn *txn)
{
	return txn->in ? txn->in->msg->id : NULL;
}

/* Body bytes.  See spool.h. */
int
spool_txn_body(struct spool_txn *txn, const void *buf, size_t len)
{
	struct spool_in *in = txn->in;
	int rc;

	BUG_ON(in == NULL || in->committed);
	if (in->err)
		return in->err;
	if (in->st == NULL && in->body_len + len > in->sp->o.inline_max) {
		rc = spool_stream_start(in);
		if (rc < 0)
			return in->err = rc;
	}
	if (in->st != NULL)
		return spool_stream_body(in, buf, len);
	rc = record_body_append(&in->enc, buf, len);
	if (rc < 0)
		return in->err = rc;
	in->body_len += len;
	return 0;
}

/* In-place room for body bytes.  See spool.h. */
void *
spool_txn_body_room(struct spool_txn *txn, size_t n)
{
	struct spool_in *in = txn->in;

	if (in == NULL || in->committed || in->err || in->st != NULL ||
	    in->body_len + n > in->sp->o.inline_max)
		return NULL;
	return record_body_room(&in->enc, n);
}

/*
 * Overwrite the MSG_FLAGS value in in's encoded head (the head CRC is
 * computed when the record is ended).  Returns 0, or -ENOENT when the head
 * has no MSG_FLAGS field (it had no flags).
 */
static int
spool_in_patch_flags(struct spool_in *in)
{
	size_t len = 0, i = 0;
	uint8_t *h = record_enc_head(&in->enc, &len);

	while (i + 6 <= len) {
		uint16_t tag = (uint16_t)(h[i] | h[i + 1] << 8);
		uint32_t n = (uint32_t)h[i + 2] | (uint32_t)h[i + 3] << 8 |
			     (uint32_t)h[i + 4] << 16 |
			     (uint32_t)h[i + 5] << 24;

		if (tag == RECORD_TAG_MSG_FLAGS && n == 4) {
			for (int k = 0; k < 4; k++)
				h[i + 6 + k] =
				    (uint8_t)(in->msg->flags >> (8 * k));
			return 0;
		}
		if (tag == RECORD_TAG_END)
			break;
		i += 6 + n;
	}
	return -ENOENT;
}

/* Add envelope flags.  See spool.h. */
int
spool_txn_set_flags(struct spool_txn *txn, uint32_t flags)
{
	struct spool_in *in = txn->in;
	uint32_t old;

	BUG_ON(in == NULL || in->committed);
	if (flags & ~(uint32_t)RECORD_MSG_F_ALL)
		return -EINVAL;
	old = in->msg->flags;
	if ((old | flags) == old)
		return 0;
	if (old == 0 && in->st != NULL)
		return -EBUSY; /* the head would grow under a streamed body */
	in->msg->flags = old | flags;
	if (old == 0)
		in->stale = true; /* re-encoded when it joins a batch */
	else
		BUG_ON(spool_in_patch_flags(in) != 0);
	return 0;
}

/* End of data.  See spool.h. */
void
spool_txn_commit(struct spool_txn *txn, spool_commit_fn *cb, void *arg)
{
	struct spool_in *in = txn->in;

	BUG_ON(in == NULL || in->committed);
	in->committed = true;
	spool_commit_txn_closed(in->sp, in);
	in->cb = cb;
	in->cb_arg = arg;
	if (in->st != NULL)
		spool_stream_commit(in);
	else
		spool_entq_push(&in->sp->pend, &in->ent);
}

/* Drop or detach the transaction.  See spool.h. */
void
spool_txn_abort(struct spool_txn *txn)
{
	struct spool_in *in = txn->in;

	if (in == NULL)
		return;
	txn->in = NULL;
	in->txn = NULL;
	in->detached = true;
	if (in->committed)
		return; /* the spool finishes it; no callback */
	spool_commit_txn_closed(in->sp, in);
	if (in->st != NULL)
		spool_stream_abort(in);
	else
		spool_in_free(in);
}
