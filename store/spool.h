/* SPDX-License-Identifier: MIT */
/*
 * spool.h: ringmta's durable message store on the ring (docs/SPOOL.md).
 *
 * Owns the spool directory: segments, group commit (one write + one
 * fdatasync per loop turn for every message and state mark gathered in
 * it), replay at open, the in-memory index of live messages, reclaim of
 * dead segments and the spool's health.  After spool_open() every file
 * operation goes through the ring; open() itself replays with plain
 * syscalls, before the loop runs.  It never decides delivery policy and
 * never keeps queued bodies in RAM: bodies are read back from segments
 * (spool_body_loc).  Single-threaded, like the ring.
 *
 * Acknowledgement rule (RELIABILITY P1, D3): a commit callback reports 0
 * only after the fdatasync covering the message returned 0 (plus the
 * rename and directory fsync for streamed messages).  A failed write or
 * fdatasync fails its whole batch, is never retried into a success, and
 * abandons its segment; DONE records for the refused ids are the first
 * thing written to the next segment, so they are never delivered.
 */
#ifndef RINGMTA_SPOOL_H
#define RINGMTA_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"
#include "record.h"

struct ring;
struct spool;
struct spool_msg;
struct spool_in;

#define SPOOL_ID_LEN     RECORD_MSGID_LEN
#define SPOOL_ID_STR_LEN (2 * SPOOL_ID_LEN + 1)

struct spool_opts {
	const char *dir;       /* created if missing, with seg/, quarantine/ */
	uint64_t segment_size; /* seal a shared segment past this; 0: 64 MiB */
	unsigned max_batch;    /* records per write + fdatasync; 0: 256 */
	size_t inline_max;     /* bodies past this are streamed; 0: 1 MiB */
	bool unsafe_no_sync;   /* skip fdatasync: loses mail on a crash */
	uint64_t min_free_bytes;   /* refuse new mail below this (0: off) */
	unsigned min_free_percent; /* same, as a percentage (0: off) */
	unsigned probe_ms;         /* health/free-space probe period; 0: 1000 */
	/* Group-commit wait (docs/SPOOL.md 11): a small batch waits up to
	 * this long for transactions already open to commit.  0: the
	 * default (SPOOL_DEF_DELAY_US); SPOOL_DELAY_OFF: never wait. */
	uint32_t commit_delay_us;
};
#define SPOOL_DEF_DELAY_US 2000u
#define SPOOL_DELAY_OFF    UINT32_MAX

/* Counters for benchmarks and ringctl. */
struct spool_stats {
	uint64_t batches;     /* batches written */
	uint64_t fdatasyncs;  /* fdatasync/fsync calls on files and dirs */
	uint64_t messages;    /* messages acknowledged */
	uint64_t marks;       /* RCPT records written */
	uint64_t dones;       /* DONE records written */
	uint64_t failed;      /* commits failed (never acknowledged) */
	uint64_t streamed;    /* messages streamed to their own segment */
	uint64_t waits;       /* batches held back by commit_delay */
	uint64_t segments;    /* segments created */
	uint64_t reclaimed;   /* segments deleted */
	uint64_t quarantined; /* byte ranges or files moved to quarantine/ */
	uint64_t torn;        /* torn tails truncated at replay */
	uint64_t replay_ns;   /* time spool_open spent replaying */
	uint32_t live_msgs;   /* messages in the index */
	uint64_t live_rcpts;  /* non-final recipients in the index */
};

/* The envelope handed over at DATA; copied by spool_txn_begin. */
struct spool_env {
	struct record_bytes sender; /* empty = <> */
	struct record_bytes envid, binding, client_addr, client_helo;
	uint8_t ret;    /* enum record_ret */
	uint32_t flags; /* RECORD_MSG_F_* */
	const struct record_msg_rcpt *rcpt;
	uint32_t nrcpt; /* 1 .. RECORD_RCPT_MAX */
};

/*
 * Intake transaction, embedded in the listener's session.  A handle only:
 * the spool owns what it points to, so a session may be freed right after
 * spool_txn_abort() even while the spool still has I/O in flight for it.
 */
struct spool_txn {
	struct spool_in *in; /* NULL when idle */
};

/*
 * Commit hint, embedded in a listener session: "this session will probably
 * commit a message soon" (a trusted injector's session from its
 * connection on, any other from MAIL, until its transaction ends).  The
 * group commit's wait (commit_delay, docs/SPOOL.md 5.2) also waits for
 * hinted sessions, which a message that arrives in one piece would
 * otherwise hide until its end of data.  Plain numbers only: the spool
 * keeps no pointer to it, and a hint never ended (a leak) stops counting
 * after SPOOL_HINT_TTL_MS to 2 * SPOOL_HINT_TTL_MS, as does a slow session.
 */
struct spool_hint {
	uint64_t gen;  /* begin order; 0: not active */
	int64_t epoch; /* ring_now() / the hint epoch, at begin */
};
#define SPOOL_HINT_TTL_MS 100u

/* Called with 0 once the message is durable, else -errno (never both). */
typedef void spool_commit_fn(void *arg, int err);
/* Called when a "busy" txn may take body bytes again. */
typedef void spool_resume_fn(void *arg);
/* Called once a state mark is durable (0) or could not be written. */
typedef void spool_mark_fn(void *arg, int err);

#define SPOOL_BUSY 1 /* spool_txn_body: stop reading until resume */

/* A recipient's state change (spool_mark). */
struct spool_state {
	uint8_t state;        /* enum record_rcpt_state */
	uint32_t attempts;    /* delivery attempts so far */
	uint64_t next_try_us; /* non-zero iff RECORD_RS_DEFERRED */
	uint16_t code;        /* last SMTP reply code, 0 = none */
	const char *ecode;    /* "4.4.1" or NULL; <= RECORD_ECODE_MAX */
	const char *text;     /* sanitised reply text or NULL (truncated at
				 RECORD_TEXT_MAX) */
};

/* Read-only views of the index (valid until the next spool call). */
struct spool_msg_info {
	const uint8_t *id;
	uint64_t received_us;
	struct record_bytes sender, envid, binding, client_addr, client_helo;
	uint8_t ret;
	uint32_t flags;
	uint32_t nrcpt; /* recipients in the message */
	uint32_t nlive; /* recipients not yet final */
	uint64_t body_len;
};
struct spool_rcpt_info {
	struct record_bytes addr, orcpt;
	uint8_t notify, state;
	uint16_t code;
	uint32_t attempts;
	uint64_t next_try_us;
	const char *ecode, *text; /* "" when none */
};

/* Where a body lies: ring_read(fd, off .. off + len) and check the CRC:
 * crc = crc_init; crc = crc32c(crc, chunk, n)...; crc == crc_final.  The
 * fd stays open while the message is live.  In-process only: crc_init is
 * derived from the segment's secret nonce. */
struct spool_body {
	int fd;
	uint64_t off, len;
	uint32_t crc_init, crc_final;
};

/*
 * Open (creating if needed) and replay the spool at o->dir, synchronously:
 * torn tails are truncated, corrupt ranges copied to quarantine/ and
 * skipped, every live message indexed, and a fresh segment created for
 * appends.  Registers the group-commit hook on r.  Returns 0 with *sp_r,
 * or -errno (-ENOTSUP: written by a newer ringmta; refuse to start).
 */
int spool_open(struct ring *r, const struct spool_opts *o,
	       struct spool **sp_r) ATTR_WUR;
/*
 * Write what is pending (running ring turns itself, so call it outside
 * ring_run, before ring_shutdown), wait for the spool's I/O, then free.
 * Abort open (uncommitted) transactions first.  Pending commits that cannot
 * be written within 10 s are failed.  NULL is fine.
 */
void spool_close(struct spool *sp);
/* Run ring turns until the spool has nothing pending or in flight, or
 * timeout_ms passes.  For tests and shutdown; returns 0 or -ETIMEDOUT. */
int spool_drain(struct spool *sp, int timeout_ms) ATTR_WUR;

/*
 * 0 when new mail is accepted, else -ENOSPC (disk full or below the free
 * space floor: 452 4.3.1), -EIO (451 4.3.0) or -EMFILE.  Not a pure read:
 * after an idle spell with a free-space floor set it checks the space at
 * once (fstatvfs) and arms the probe timer again, so sp is not const.
 */
int spool_status(struct spool *sp);
/* spool_status() == 0 (with its checks); the listener greets with 421
 * while false. */
bool spool_healthy(struct spool *sp);
const struct spool_stats *spool_stats(const struct spool *sp);

/* Format id as 32 lowercase hex digits + NUL into out; returns out. */
char *spool_id_str(const uint8_t id[SPOOL_ID_LEN], char out[SPOOL_ID_STR_LEN]);

/*
 * Start a transaction at DATA: copies env (the caller may free it after
 * this returns), assigns the id (16 random bytes; see spool_txn_id).
 * resume(arg) is called, from the loop, after spool_txn_body returned
 * SPOOL_BUSY, once it may take bytes again (never after commit or abort:
 * an owner paused at the end of data resumes itself).  Returns
 * 0, spool_status() when not accepting, or -EINVAL/-EMSGSIZE for an
 * envelope the format refuses.  txn must be idle.
 */
int spool_txn_begin(struct spool *sp, struct spool_txn *txn,
		    const struct spool_env *env, spool_resume_fn *resume,
		    void *arg) ATTR_WUR;
/* The id of an open transaction (16 bytes). */
const uint8_t *spool_txn_id(const struct spool_txn *txn);
/*
 * Body bytes as they arrive (CRLF canonical, unstuffed); copied, so buf is
 * the caller's again on return.  Returns 0 (send more), SPOOL_BUSY (the
 * bytes were taken; read no more until resume) or -errno (the transaction
 * failed: commit will report it; abort or commit it).  Past inline_max the
 * body is streamed to a private file, keeping RAM per session bounded.
 */
int spool_txn_body(struct spool_txn *txn, const void *buf, size_t len) ATTR_WUR;
/*
 * Where the next body bytes (at most n) may be produced in place: the end
 * of the transaction's own record, so that spool_txn_body() with this
 * pointer copies nothing.  Valid until the next spool_txn_* call.  NULL
 * when they would not stay inline (streamed, past inline_max), after an
 * error, or with no transaction: produce them elsewhere.
 */
void *spool_txn_body_room(struct spool_txn *txn, size_t n);
/*
 * Add RECORD_MSG_F_* bits to the envelope of an open, uncommitted
 * transaction (e.g. 8BITMIME once the body showed 8-bit bytes without
 * BODY=8BITMIME).  The MSG record carries them.  Returns 0, -EINVAL (an
 * unknown bit), or -EBUSY when the body is already streamed (past
 * inline_max) and its envelope had no flags at all: the head's length is
 * fixed then, so the bits cannot be added (the message is unchanged).
 */
int spool_txn_set_flags(struct spool_txn *txn, uint32_t flags) ATTR_WUR;
/*
 * End of data: cb(arg, 0) once durable, else cb(arg, -errno) (-ENOSPC,
 * -EIO, -EMFILE...).  cb always runs later, from the loop, never inside
 * this call.  The handle stays busy until cb runs (it is idle inside cb,
 * which may begin the next transaction on it); spool_txn_abort() before
 * that cancels the callback (the message is still written).
 */
void spool_txn_commit(struct spool_txn *txn, spool_commit_fn *cb, void *arg);
/* Drop the transaction (RSET, size limit, session lost), or, once
 * committed, detach from it.  Safe on an idle handle.  No callback runs
 * afterwards; the session may free the handle's memory at once. */
void spool_txn_abort(struct spool_txn *txn);

/*
 * Start a commit hint (idle h: zero it first; a live one is left as it
 * is, a lapsed one begins again).  The listener calls it when a trusted
 * session connects and when MAIL is accepted.  Never fails.
 */
void spool_hint_begin(struct spool *sp, struct spool_hint *h);
/* End a hint (committed, aborted, RSET, QUIT, session gone); safe on an
 * idle one.  Must run before the spool is closed. */
void spool_hint_end(struct spool *sp, struct spool_hint *h);
/* Hints active and not yet expired (tests, statistics). */
unsigned spool_hints(struct spool *sp);

/*
 * Record new state for recipients index .. index + count - 1 of id: the
 * index changes now, the RCPT record is written in the next batch, cb (may
 * be NULL) runs once it is durable.  When every recipient is final a DONE
 * record follows and the message leaves the index.  Returns 1 (message
 * now done), 0, -ENOENT (unknown id), -ERANGE (bad index/count) or
 * -EINVAL (bad state, next_try_us not set iff deferred, ecode too long).
 */
int spool_mark(struct spool *sp, const uint8_t id[SPOOL_ID_LEN], uint32_t index,
	       uint32_t count, const struct spool_state *st, spool_mark_fn *cb,
	       void *arg) ATTR_WUR;

/* Live messages.  cb returns 0 to go on, non-zero to stop (returned). */
typedef int spool_foreach_fn(void *arg, const struct spool_msg *m);
int spool_foreach_live(struct spool *sp, spool_foreach_fn *cb, void *arg);
const struct spool_msg *spool_find(const struct spool *sp,
				   const uint8_t id[SPOOL_ID_LEN]);
void spool_msg_info(const struct spool_msg *m, struct spool_msg_info *i_r);
/* Recipient i < nrcpt of m. */
void spool_msg_rcpt(const struct spool_msg *m, uint32_t i,
		    struct spool_rcpt_info *r_r);
/* Body location of a live message: 0 or -ENOENT. */
int spool_body_loc(const struct spool *sp, const uint8_t id[SPOOL_ID_LEN],
		   struct spool_body *b_r) ATTR_WUR;

#endif
