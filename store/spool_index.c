/* SPDX-License-Identifier: MIT */
/*
 * spool_index.c: the in-memory index of live messages and recipient state.
 *
 * Owns struct spool_msg (one allocation per message: recipients and every
 * envelope string) and the open-addressing table keyed by message id.  About
 * 40 bytes per recipient plus its address; bodies are never here.  A
 * message enters when its MSG record is durable (or replayed) and leaves,
 * freed, when its last recipient becomes final (spool_mark queues the DONE).
 * No I/O.
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "spool_int.h"

/* --- index entries --- */

static void
spool_msg_fields(const struct spool_msg *msg, struct record_bytes f[5])
{
	const char *p = msg->blob;

	for (int i = 0; i < 5; i++) {
		f[i].p = (const uint8_t *)p;
		f[i].len = msg->len[i];
		p += msg->len[i];
	}
}

/*
 * Allocate an index entry for m's envelope with room for nrcpt recipients
 * whose address + ORCPT bytes total rcpt_bytes; fill them with
 * spool_msg_set_rcpt in index order.
 */
static struct spool_msg *
spool_msg_alloc(const uint8_t *id, const struct record_msg *m, uint32_t nrcpt,
		size_t rcpt_bytes)
{
	const struct record_bytes *f[5] = {&m->sender, &m->envid, &m->binding,
					   &m->client_addr, &m->client_helo};
	size_t str = rcpt_bytes, sz;
	struct spool_msg *msg;
	char *p;

	for (int i = 0; i < 5; i++)
		str += f[i]->len;
	sz = sizeof(*msg) + (size_t)nrcpt * sizeof(struct spool_rcpt) + str;
	msg = xmalloc(sz);
	memset(msg, 0, sizeof(*msg) + nrcpt * sizeof(struct spool_rcpt));
	memcpy(msg->id, id, SPOOL_ID_LEN);
	msg->ret = m->ret;
	msg->flags = m->flags;
	msg->received_us = m->received_us;
	msg->nrcpt = nrcpt;
	msg->nlive = nrcpt;
	msg->blob = (char *)&msg->rcpt[nrcpt];
	p = msg->blob;
	for (int i = 0; i < 5; i++) {
		msg->len[i] = (uint16_t)f[i]->len;
		if (f[i]->len)
			memcpy(p, f[i]->p, f[i]->len);
		p += f[i]->len;
	}
	msg->blob_fill = (uint32_t)(p - msg->blob);
	return msg;
}

static void
spool_msg_set_rcpt(struct spool_msg *msg, uint32_t i,
		   const struct record_msg_rcpt *r)
{
	struct spool_rcpt *d = &msg->rcpt[i];

	d->addr_off = msg->blob_fill;
	d->addr_len = (uint16_t)r->addr.len;
	memcpy(msg->blob + msg->blob_fill, r->addr.p, r->addr.len);
	msg->blob_fill += (uint32_t)r->addr.len;
	d->orcpt_off = msg->blob_fill;
	d->orcpt_len = (uint16_t)r->orcpt.len;
	if (r->orcpt.len)
		memcpy(msg->blob + msg->blob_fill, r->orcpt.p, r->orcpt.len);
	msg->blob_fill += (uint32_t)r->orcpt.len;
	d->notify = r->notify;
	d->state = RECORD_RS_PENDING;
}

/*
 * Build an index entry from a parsed MSG record (replay).  Returns it, or
 * NULL when the recipients do not parse (the caller quarantines).
 */
struct spool_msg *
spool_msg_new(const uint8_t id[SPOOL_ID_LEN], const struct record_msg *m)
{
	struct record_msg_rcpt r;
	struct spool_msg *msg;
	size_t pos = 0, bytes = 0;
	uint32_t n = 0;

	while (record_msg_rcpt_next(m, &pos, &r) == 1) {
		bytes += r.addr.len + r.orcpt.len;
		n++;
	}
	if (n == 0 || n != m->rcpt_count)
		return NULL;
	msg = spool_msg_alloc(id, m, n, bytes);
	pos = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (record_msg_rcpt_next(m, &pos, &r) != 1) {
			spool_msg_free(msg);
			return NULL;
		}
		spool_msg_set_rcpt(msg, i, &r);
	}
	return msg;
}

static void
spool_env_to_msg(const struct spool_env *env, struct record_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->received_us = spool_now_us();
	m->sender = env->sender;
	m->envid = env->envid;
	m->ret = env->ret;
	m->flags = env->flags;
	m->binding = env->binding;
	m->client_addr = env->client_addr;
	m->client_helo = env->client_helo;
}

/*
 * Build an index entry from an intake envelope, checking the caps the
 * format enforces.  Returns it or NULL (bad envelope).
 */
struct spool_msg *
spool_msg_from_env(const uint8_t id[SPOOL_ID_LEN], const struct spool_env *env)
{
	struct record_msg m;
	struct spool_msg *msg;
	size_t bytes = 0;

	if (env->nrcpt == 0 || env->nrcpt > RECORD_RCPT_MAX ||
	    env->sender.len > RECORD_ADDR_MAX ||
	    env->envid.len > RECORD_ENVID_MAX ||
	    env->binding.len > RECORD_NAME_MAX ||
	    env->client_addr.len > RECORD_NAME_MAX ||
	    env->client_helo.len > RECORD_NAME_MAX)
		return NULL;
	for (uint32_t i = 0; i < env->nrcpt; i++) {
		const struct record_msg_rcpt *r = &env->rcpt[i];

		if (r->addr.len == 0 || r->addr.len > RECORD_ADDR_MAX ||
		    r->orcpt.len > RECORD_ORCPT_MAX)
			return NULL;
		bytes += r->addr.len + r->orcpt.len;
	}
	spool_env_to_msg(env, &m);
	msg = spool_msg_alloc(id, &m, env->nrcpt, bytes);
	for (uint32_t i = 0; i < env->nrcpt; i++)
		spool_msg_set_rcpt(msg, i, &env->rcpt[i]);
	return msg;
}

void
spool_msg_free(struct spool_msg *m)
{
	if (m == NULL)
		return;
	for (uint32_t i = 0; i < m->nrcpt; i++)
		free(m->rcpt[i].last);
	free(m);
}

/*
 * Encode the MSG record head of m (envelope and recipients, PENDING) into
 * b keyed by nonce, leaving e open for the body.  Returns 0 or the
 * encoder's -errno.
 */
int
spool_msg_encode_head(const struct spool_msg *msg, struct record_enc *e,
		      struct record_buf *b, uint64_t nonce, size_t *body_off_r)
{
	struct record_bytes f[5];
	struct record_msg m;
	int rc;

	spool_msg_fields(msg, f);
	memset(&m, 0, sizeof(m));
	memcpy(m.id, msg->id, SPOOL_ID_LEN);
	m.received_us = msg->received_us;
	m.sender = f[0];
	m.envid = f[1];
	m.binding = f[2];
	m.client_addr = f[3];
	m.client_helo = f[4];
	m.ret = msg->ret;
	m.flags = msg->flags;
	rc = record_msg_begin(e, b, nonce, &m);
	for (uint32_t i = 0; rc == 0 && i < msg->nrcpt; i++) {
		const struct spool_rcpt *s = &msg->rcpt[i];
		struct record_msg_rcpt r = {
		    .addr = {(const uint8_t *)msg->blob + s->addr_off,
			     s->addr_len},
		    .notify = s->notify,
		    .orcpt = {(const uint8_t *)msg->blob + s->orcpt_off,
			      s->orcpt_len},
		};
		rc = record_msg_add_rcpt(e, &r);
	}
	if (rc == 0)
		rc = record_msg_body_begin(e, body_off_r);
	if (rc < 0)
		record_enc_abort(e);
	return rc;
}

/* --- the index: open addressing on the (random) id --- */

static uint32_t
spool_hash(const uint8_t *id, uint32_t cap)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return (uint32_t)(h ^ (h >> 29)) & (cap - 1);
}

static void
spool_index_grow(struct spool *sp)
{
	uint32_t cap = sp->tab_cap ? sp->tab_cap * 2 : 1024;
	struct spool_msg **old = sp->tab;
	uint32_t ocap = sp->tab_cap;

	sp->tab = xcalloc(cap, sizeof(*sp->tab));
	sp->tab_cap = cap;
	for (uint32_t i = 0; i < ocap; i++) {
		uint32_t j;

		if (old[i] == NULL)
			continue;
		j = spool_hash(old[i]->id, cap);
		while (sp->tab[j] != NULL)
			j = (j + 1) & (cap - 1);
		sp->tab[j] = old[i];
	}
	free(old);
}

/* Insert m (its id must not be in the index). */
void
spool_index_add(struct spool *sp, struct spool_msg *m)
{
	uint32_t j;

	if ((uint64_t)(sp->nmsg + 1) * 2 > sp->tab_cap)
		spool_index_grow(sp);
	j = spool_hash(m->id, sp->tab_cap);
	while (sp->tab[j] != NULL)
		j = (j + 1) & (sp->tab_cap - 1);
	sp->tab[j] = m;
	sp->nmsg++;
	sp->nlive += m->nlive;
}

static uint32_t
spool_index_slot(const struct spool *sp, const uint8_t *id)
{
	uint32_t j;

	if (sp->tab_cap == 0)
		return UINT32_MAX;
	j = spool_hash(id, sp->tab_cap);
	while (sp->tab[j] != NULL) {
		if (memcmp(sp->tab[j]->id, id, SPOOL_ID_LEN) == 0)
			return j;
		j = (j + 1) & (sp->tab_cap - 1);
	}
	return UINT32_MAX;
}

struct spool_msg *
spool_index_get(const struct spool *sp, const uint8_t *id)
{
	uint32_t j = spool_index_slot(sp, id);

	return j == UINT32_MAX ? NULL : sp->tab[j];
}

/* Remove m (backward-shift deletion: no tombstones). */
void
spool_index_del(struct spool *sp, struct spool_msg *m)
{
	uint32_t mask = sp->tab_cap - 1, i = spool_index_slot(sp, m->id), j;

	BUG_ON(i == UINT32_MAX);
	sp->tab[i] = NULL;
	sp->nmsg--;
	sp->nlive -= m->nlive;
	for (j = (i + 1) & mask; sp->tab[j] != NULL; j = (j + 1) & mask) {
		uint32_t h = spool_hash(sp->tab[j]->id, sp->tab_cap);

		/* Move j back to i unless its home lies cyclically in (i, j].
		 */
		if (i <= j ? (h > i && h <= j) : (h > i || h <= j))
			continue;
		sp->tab[i] = sp->tab[j];
		sp->tab[j] = NULL;
		i = j;
	}
}

/*
 * Apply a RCPT record (or a mark) to m: states, attempts, last reply.
 * The caller checked index + count <= nrcpt.
 */
void
spool_rcpt_apply(struct spool *sp, struct spool_msg *m,
		 const struct record_rcpt *r)
{
	uint32_t count = r->count ? r->count : 1;

	for (uint32_t i = r->index; i < r->index + count; i++) {
		struct spool_rcpt *d = &m->rcpt[i];
		int was = record_rcpt_state_final(d->state);
		int now = record_rcpt_state_final(r->state);

		if (was && !now) {
			m->nlive++;
			sp->nlive++;
		} else if (!was && now) {
			m->nlive--;
			sp->nlive--;
		}
		d->state = r->state;
		d->code = r->code;
		d->attempts = r->attempts;
		d->next_try_us = r->next_try_us;
		free(d->last);
		d->last = NULL;
		if (r->ecode.len || r->text.len) {
			size_t n = r->ecode.len + r->text.len + 2;

			d->last = xcalloc(1, n);
			if (r->ecode.len)
				memcpy(d->last, r->ecode.p, r->ecode.len);
			if (r->text.len)
				memcpy(d->last + r->ecode.len + 1, r->text.p,
				       r->text.len);
		}
	}
}

/* Queue a DONE record for id (seg: its MSG's segment, live-- when durable). */
void
spool_queue_done(struct spool *sp, const uint8_t *id, struct spool_seg *seg)
{
	struct spool_done *d = xcalloc(1, sizeof(*d));

	d->ent.kind = SPOOL_ENT_DONE;
	memcpy(d->id, id, SPOOL_ID_LEN);
	d->seg = seg;
	spool_entq_push(&sp->pend, &d->ent);
}

/* Link a segment at the young end of the list. */
void
spool_seg_append(struct spool *sp, struct spool_seg *seg)
{
	seg->next = NULL;
	if (sp->segs_tail)
		sp->segs_tail->next = seg;
	else
		sp->segs = seg;
	sp->segs_tail = seg;
}

/* --- state marks --- */

static int
spool_state_check(const struct spool_state *s)
{
	if (s->state >= RECORD_RS__COUNT ||
	    (s->state == RECORD_RS_DEFERRED) != (s->next_try_us != 0))
		return -EINVAL;
	if (s->ecode != NULL && strlen(s->ecode) > RECORD_ECODE_MAX)
		return -EINVAL;
	return 0;
}

/* Record new recipient state.  See spool.h. */
int
spool_mark(struct spool *sp, const uint8_t id[SPOOL_ID_LEN], uint32_t index,
	   uint32_t count, const struct spool_state *st, spool_mark_fn *cb,
	   void *arg)
{
	struct spool_msg *m = spool_index_get(sp, id);
	size_t el = st->ecode ? strlen(st->ecode) : 0;
	size_t tl = st->text ? strnlen(st->text, RECORD_TEXT_MAX) : 0;
	struct spool_mark *k;
	int rc = spool_state_check(st);

	if (rc < 0)
		return rc;
	if (m == NULL)
		return -ENOENT;
	if (count == 0 || index >= m->nrcpt || count > m->nrcpt - index)
		return -ERANGE;
	k = xcalloc(1, sizeof(*k));
	k->ent.kind = SPOOL_ENT_RCPT;
	k->str = xmalloc(el + tl + 2);
	memcpy(k->str, st->ecode ? st->ecode : "", el + 1);
	memcpy(k->str + el + 1, st->text ? st->text : "", tl);
	k->str[el + 1 + tl] = '\0';
	memcpy(k->r.msgid, id, SPOOL_ID_LEN);
	k->r.index = index;
	k->r.count = count;
	k->r.state = st->state;
	k->r.code = st->code;
	k->r.attempts = st->attempts;
	k->r.time_us = spool_now_us();
	k->r.next_try_us = st->next_try_us;
	k->r.ecode = (struct record_bytes){(const uint8_t *)k->str, el};
	k->r.text = (struct record_bytes){(const uint8_t *)k->str + el + 1, tl};
	k->cb = cb;
	k->arg = arg;
	spool_rcpt_apply(sp, m, &k->r);
	spool_entq_push(&sp->pend, &k->ent);
	if (m->nlive > 0)
		return 0;
	spool_queue_done(sp, m->id, m->seg);
	spool_index_del(sp, m);
	spool_msg_free(m);
	return 1;
}

/* --- read-only views --- */

int
spool_foreach_live(struct spool *sp, spool_foreach_fn *cb, void *arg)
{
	for (uint32_t i = 0; i < sp->tab_cap; i++) {
		int rc;

		if (sp->tab[i] == NULL)
			continue;
		rc = cb(arg, sp->tab[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

const struct spool_msg *
spool_find(const struct spool *sp, const uint8_t id[SPOOL_ID_LEN])
{
	return spool_index_get(sp, id);
}

void
spool_msg_info(const struct spool_msg *m, struct spool_msg_info *i_r)
{
	struct record_bytes f[5];

	spool_msg_fields(m, f);
	i_r->id = m->id;
	i_r->received_us = m->received_us;
	i_r->sender = f[0];
	i_r->envid = f[1];
	i_r->binding = f[2];
	i_r->client_addr = f[3];
	i_r->client_helo = f[4];
	i_r->ret = m->ret;
	i_r->flags = m->flags;
	i_r->nrcpt = m->nrcpt;
	i_r->nlive = m->nlive;
	i_r->body_len = m->body_len;
}

void
spool_msg_rcpt(const struct spool_msg *m, uint32_t i,
	       struct spool_rcpt_info *r_r)
{
	const struct spool_rcpt *s = &m->rcpt[i];

	BUG_ON(i >= m->nrcpt);
	r_r->addr.p = (const uint8_t *)m->blob + s->addr_off;
	r_r->addr.len = s->addr_len;
	r_r->orcpt.p = (const uint8_t *)m->blob + s->orcpt_off;
	r_r->orcpt.len = s->orcpt_len;
	r_r->notify = s->notify;
	r_r->state = s->state;
	r_r->code = s->code;
	r_r->attempts = s->attempts;
	r_r->next_try_us = s->next_try_us;
	r_r->ecode = s->last ? s->last : "";
	r_r->text = s->last ? s->last + strlen(s->last) + 1 : "";
}

int
spool_body_loc(const struct spool *sp, const uint8_t id[SPOOL_ID_LEN],
	       struct spool_body *b_r)
{
	const struct spool_msg *m = spool_index_get(sp, id);

	if (m == NULL || m->seg == NULL || m->seg->fd < 0)
		return -ENOENT;
	b_r->fd = m->seg->fd;
	b_r->off = m->rec_off + m->body_off;
	b_r->len = m->body_len;
	b_r->crc_init = record_body_crc_init(m->seg->nonce);
	b_r->crc_final = m->body_crc;
	return 0;
}
