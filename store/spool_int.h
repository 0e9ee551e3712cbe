/* SPDX-License-Identifier: MIT */
/*
 * spool_int.h: the spool's private structures, shared by store/spool*.c and
 * the unit test (fault-injection seam).  Nothing else includes it.
 */
#ifndef RINGMTA_SPOOL_INT_H
#define RINGMTA_SPOOL_INT_H

#include "record.h"
#include "ring.h"
#include "spool.h"
#include "timer.h"

/* A segment file, oldest first in sp->segs. */
struct spool_seg {
	struct spool_seg *next;
	uint64_t number;
	uint64_t nonce;
	uint64_t tail;  /* append offset (written or in flight) */
	uint32_t live;  /* live messages whose MSG record is here */
	uint32_t flags; /* RECORD_SEG_F_* */
	int fd;         /* O_RDWR; -1 once closed */
	bool sealed;    /* no more appends (full, failed or replayed) */
};

/* One recipient in the index (32 bytes + its strings). */
struct spool_rcpt {
	uint32_t addr_off, orcpt_off; /* into the message's string blob */
	uint16_t addr_len, orcpt_len;
	uint8_t notify, state;
	uint16_t code;
	uint32_t attempts;
	uint64_t next_try_us;
	char *last; /* "ecode\0text\0" of the last attempt, or NULL */
};

/* A live message: one allocation, rcpt[] then the string blob. */
struct spool_msg {
	uint8_t id[SPOOL_ID_LEN];
	uint8_t ret;
	uint32_t flags;
	uint32_t nrcpt, nlive;
	uint32_t body_off; /* from the record's first byte */
	uint32_t body_crc;
	struct spool_seg *seg; /* NULL until durable */
	uint64_t rec_off;
	uint64_t body_len;
	uint64_t received_us;
	uint16_t len[5]; /* sender, envid, binding, client_addr, helo */
	uint32_t blob_fill;
	char *blob;
	struct spool_rcpt rcpt[];
};

enum spool_ent_kind {
	SPOOL_ENT_IN = 0, /* a message (struct spool_in) */
	SPOOL_ENT_RCPT,   /* a state mark (struct spool_mark) */
	SPOOL_ENT_DONE,   /* a DONE record (struct spool_done) */
	SPOOL_ENT__COUNT  /* must stay last */
};

/* Something waiting in (or written by) a batch. */
struct spool_ent {
	struct spool_ent *next;
	uint8_t kind; /* enum spool_ent_kind */
};

struct spool_mark {
	struct spool_ent ent;
	struct record_rcpt r; /* ecode/text point into str */
	spool_mark_fn *cb;
	void *arg;
	char *str;
};

struct spool_done {
	struct spool_ent ent;
	uint8_t id[SPOOL_ID_LEN];
	struct spool_seg *seg; /* its MSG's segment (live--), NULL if none */
};

struct spool_entq {
	struct spool_ent *head, **tail;
	unsigned n;
};

/* A message being received, then committed (owned by the spool). */
struct spool_in {
	struct spool_ent ent;
	struct spool *sp;
	struct spool_txn *txn; /* the session's handle, NULL once detached */
	struct spool_msg *msg;
	struct record_buf buf; /* inline: the MSG record being encoded */
	struct record_enc enc;
	uint64_t nonce; /* key of the encoding in buf */
	size_t body_off;
	uint64_t body_len;
	int err;      /* sticky */
	uint64_t gen; /* begin order, for the commit delay */
	bool committed, detached;
	bool stale; /* flags changed after begin: re-encode the head */
	spool_commit_fn *cb;
	void *cb_arg;
	spool_resume_fn *resume;
	void *resume_arg;
	struct spool_stream *st; /* non-NULL once streamed */
};

/* Segment creation through the ring: open, header, fdatasync, dir fsync. */
struct spool_mkseg {
	struct uop op;
	struct spool_seg *seg;
	uint8_t hdr[RECORD_SEG_HDR_SIZE];
	char name[32];
	int step;
	bool active;
};

/*
 * One run of the batch's bytes: an intake record where its transaction
 * encoded it (p; the transaction's buffer lives until the batch is done),
 * or buf[off..off+len) of the batch's own buffer (p NULL: records encoded
 * here, which may move while the batch grows).
 */
struct spool_piece {
	const uint8_t *p;
	size_t off, len;
};

/* The batch in flight: one write(v), then one fdatasync. */
struct spool_batch {
	struct uop op;
	struct record_buf buf;   /* marks, DONEs, re-encoded messages */
	struct spool_piece *pcs; /* file order */
	struct iovec *iov;       /* pcs_cap entries, for the writev */
	unsigned npcs, pcs_cap;
	size_t len; /* bytes of all pieces */
	struct spool_seg *seg;
	uint64_t off;
	size_t done;
	struct spool_entq ents;
	bool syncing, active;
};

/* Reclaim: unlink the oldest dead segment, then fsync the directory. */
struct spool_reclaim {
	struct uop op;
	struct spool_seg *seg;
	char name[32];
	int step;
	bool active;
	int64_t retry_at;
};

struct spool {
	struct ring *r;
	struct spool_opts o;
	char *dir;
	int dirfd, segfd, qfd;
	struct spool_seg *segs, *segs_tail; /* oldest first */
	struct spool_seg *cur;              /* append target, or NULL */
	uint64_t next_number, seq;
	struct spool_msg **tab; /* open addressing by id */
	uint32_t tab_cap, nmsg;
	uint64_t nlive;
	struct spool_entq pend;
	struct spool_batch fly;
	struct spool_mkseg mk;
	struct spool_reclaim rc;
	struct spool_in *barrier; /* a streamed message being linked in */
	/* commit delay (spool_commit.c) */
	unsigned open;      /* transactions begun, not committed or aborted */
	uint64_t gen;       /* transactions begun so far */
	uint64_t wait_gen;  /* a wait is for those begun up to this one */
	unsigned wait_left; /* of those, still open */
	int64_t wait_end;   /* ring_now() end of the wait; 0: not waiting */
	struct timer wait;  /* wakes the loop at wait_end */
	unsigned hints[2];  /* live hints begun in epoch e, at [e & 1] */
	int64_t hint_epoch; /* the current hint epoch */
	unsigned streams;   /* spool_stream objects alive */
	int err;            /* storage error: unhealthy until healed */
	bool low_space;
	int64_t retry_at; /* no segment creation before (ring_now) */
	struct timer probe;
	struct ring_hook hook;
	struct spool_stats st;
	int fault_kind, fault_err; /* test seam: spool_fault_inject */
	unsigned fault_skip;
};

/* spool.c */
void spool_entq_init(struct spool_entq *q);
void spool_entq_push(struct spool_entq *q, struct spool_ent *e);
struct spool_ent *spool_entq_pop(struct spool_entq *q);
void spool_entq_prepend(struct spool_entq *q, struct spool_entq *front);
struct spool_msg *spool_msg_new(const uint8_t id[SPOOL_ID_LEN],
				const struct record_msg *m);
struct spool_msg *spool_msg_from_env(const uint8_t id[SPOOL_ID_LEN],
				     const struct spool_env *env);
void spool_msg_free(struct spool_msg *m);
int spool_msg_encode_head(const struct spool_msg *m, struct record_enc *e,
			  struct record_buf *b, uint64_t nonce,
			  size_t *body_off_r) ATTR_WUR;
void spool_index_add(struct spool *sp, struct spool_msg *m);
void spool_index_del(struct spool *sp, struct spool_msg *m);
struct spool_msg *spool_index_get(const struct spool *sp, const uint8_t *id);
void spool_rcpt_apply(struct spool *sp, struct spool_msg *m,
		      const struct record_rcpt *r);
void spool_queue_done(struct spool *sp, const uint8_t *id,
		      struct spool_seg *seg);
void spool_seg_append(struct spool *sp, struct spool_seg *seg);
uint64_t spool_now_us(void);
int spool_set_err(struct spool *sp, int err, const char *what);
int spool_fault(struct spool *sp, enum ring_op kind, int res);
void spool_in_free(struct spool_in *in);
void spool_in_finish(struct spool_in *in, int err);

/* spool_commit.c */
void spool_commit_init(struct spool *sp);
void spool_commit_hook(struct ring_hook *h);
bool spool_commit_idle(const struct spool *sp);
void spool_batch_fail(struct spool *sp, int err);
void spool_commit_fail_pending(struct spool *sp, int err);
void spool_probe_on_timer(struct timer *t);
void spool_commit_txn_closed(struct spool *sp, struct spool_in *in);

/* spool_seg.c: segment creation and reclaim (the ops' completions). */
void spool_mk_start(struct spool *sp);
void spool_mk_on_done(struct uop *op, int res, unsigned flags);
void spool_reclaim_kick(struct spool *sp);
void spool_rc_on_done(struct uop *op, int res, unsigned flags);

/* spool_stream.c */
int spool_stream_start(struct spool_in *in);
int spool_stream_body(struct spool_in *in, const void *p, size_t n);
void spool_stream_commit(struct spool_in *in);
void spool_stream_link(struct spool_in *in);
void spool_stream_abort(struct spool_in *in);
void spool_stream_fail(struct spool_in *in, int err);

/* spool_replay.c */
int spool_replay(struct spool *sp) ATTR_WUR;

/*
 * Test seam: after skip more completions of ops of this kind issued by the
 * spool, the next one reports err instead of its result (the op itself did
 * run); err > 0 caps a read/write result at err bytes (a short write).
 */
void spool_fault_inject(struct spool *sp, enum ring_op kind, unsigned skip,
			int err);

#endif
