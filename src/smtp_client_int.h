/* SPDX-License-Identifier: MIT */
/*
 * smtp_client_int.h: private to the smtp_client*.c files.
 *
 * The session struct and the helpers the files of the engine share.
 * smtp_client.c owns the session's life, state tables and closing;
 * smtp_client_io.c the byte path and completions; smtp_client_txn.c one
 * transaction (the message, MAIL/RCPT/DATA, the body and their replies);
 * smtp_client_tls.c STARTTLS, the handshake, the TLS byte path and the
 * TLS close; smtp_client_result.c the outcome vocabulary.  Nothing
 * outside these files includes this.
 */
#ifndef RINGMTA_SMTP_CLIENT_INT_H
#define RINGMTA_SMTP_CLIENT_INT_H

#include "smtp_client.h"

#define SMTPC_PEND_MAX 32
#define SMTPC_OBUF     2048 /* each of two inline; holds any one command */
#define SMTPC_RBUF     1024
/* Around a body: each output buffer, and the chunk (pooled). */
#define SMTPC_BIG      65536
#define SMTPC_READ_MIN 4096 /* a read into the output waits for this room */
#define SMTPC_MS       1000000LL

_Static_assert(SMTPC_OBUF >= SMTPCMD_BUF_MAX, "a command must fit");

/* A command awaiting its reply. */
struct smtpc_pend {
	struct smtpc_msg *m; /* NULL for session commands */
	int64_t deadline;    /* absolute ring_now() ns */
	uint16_t rcpt;       /* RCPT: recipient index */
	uint8_t stage;       /* enum smtpc_stage */
	uint8_t lone;        /* DOT: the lone "." after 354 with no rcpt */
};

struct smtpc {
	struct ring *r;
	const struct smtpc_ops *ops;
	void *arg;
	struct smtpc_opts o; /* mx_host, ehlo_name: our copies */
	uint64_t id;
	enum smtpc_state state;
	const char *action;
	unsigned step; /* progress inside TXN */
	int fd;
	struct uop op_conn, op_recv, op_send, op_read;
	struct timer tmr;
	struct ring_task reap_task;
	struct ring_task kick_task;
	bool pipelining, need_rset, close_set;
	/* TLS: tls is NULL until the 220 to STARTTLS */
	bool send_tls;     /* the send in flight is a tls_pending_out block */
	bool tls_offered;  /* a cached session was offered to the handshake */
	bool tls_cached;   /* this session was put into the cache */
	uint8_t tls_state; /* enum smtpc_tls_state */
	int16_t tls_code;  /* reply code to STARTTLS */
	uint32_t rleft;    /* plaintext bytes after the reply being handled */
	size_t tls_olen;   /* bytes of the ciphertext send in flight */
	int64_t tls_deadline; /* handshake deadline (absolute ns) */
	struct tls_sess *tls;
	bool polled;     /* next_msg() said "none"; ask again after an event */
	bool quit_asked; /* smtpc_quit(): QUIT at the next NEXT, take no more */
	/* Stage of the reply being handled (its pend[] entry is already
	 * popped), so a handler's failure names it; -1 outside handlers. */
	int reply_stage;
	unsigned ndeliv;
	int64_t idle_deadline, send_deadline;
	struct smtpc_msg *prev; /* "." queued, reply awaited */
	struct smtpc_msg *cur;  /* in TXN or BODY */
	struct smtpc_pend pend[SMTPC_PEND_MAX];
	unsigned phead, pn;
	/* body */
	struct sdata_enc enc;
	char *chunk;
	size_t chunk_len, chunk_off;
	uint64_t body_read;
	bool rd_obuf; /* the read in flight fills obuf[ofill] from olen */
	/* output: obuf[ofill] is filled, obuf[!ofill] is in the kernel.
	 * obuf[i] is obuf_in[i] (ocap SMTPC_OBUF), or SMTPC_BIG bytes of
	 * the pool from the body's start until it is sent (smtpc_obuf_fit). */
	char *obuf[2];
	size_t ocap[2], olen[2], osent;
	unsigned ofill;
	bool sending;
	struct reply_parser rp;
	struct reply_caps caps;
	struct smtpc_result close;
	char obuf_in[2][SMTPC_OBUF];
	char rbuf[SMTPC_RBUF];
};

typedef int smtpc_entry_fn(struct smtpc *s);
typedef int smtpc_reply_fn(struct smtpc *s, const struct smtpc_pend *p,
			   const struct smtp_reply *rep);

/* smtp_client.c: results (fill *res; never fail). */
void smtpc_result_set(struct smtpc_result *res, enum smtpc_status st,
		      enum smtpc_fail f, enum smtpc_stage stage, int err);
void smtpc_result_reply(struct smtpc_result *res, const struct smtp_reply *rep,
			enum smtpc_stage stage);
void smtpc_result_local(struct smtpc_result *res, enum smtpc_fail f,
			unsigned subject, unsigned detail, const char *text);
/*
 * A session failure of class f at stage from -errno err: temporary, X.7.5
 * for SMTPC_FAIL_TLS, text "<failure> at <stage>[: <reason>]"
 * (docs/ERRORS.md, "Failure text").  reason is the failing layer's words,
 * NULL for strerror(-err); it is left out where the failure says it.
 */
void smtpc_result_fail(struct smtpc_result *res, enum smtpc_fail f,
		       enum smtpc_stage stage, int err, const char *reason);
/* Give every still-pending recipient of m the result tmpl. */
void smtpc_msg_settle_rcpts(struct smtpc_msg *m,
			    const struct smtpc_result *tmpl);
/* Hand m back to the owner (on_msg_done); the engine forgets it. */
void smtpc_msg_report(struct smtpc *s, struct smtpc_msg *m);
/* smtp_client.c: output.  Room left in the buffer being filled. */
size_t smtpc_room(const struct smtpc *s);
/* Queue a command with its pend[] entry: 0, or -ENOBUFS to wait. */
int smtpc_push(struct smtpc *s, enum smtpc_stage st, struct smtpc_msg *m,
	       unsigned rcpt, const char *cmd, size_t len);
int smtpc_push_simple(struct smtpc *s, enum smtpc_stage st, struct smtpc_msg *m,
		      enum smtpcmd_verb v);

/* smtp_client.c: the machine.  Enter st and follow its entry actions. */
void smtpc_enter(struct smtpc *s, enum smtpc_state st);
/* Let the current state produce more (after a reply, send or read). */
void smtpc_resume(struct smtpc *s);
/* End the session from a -errno / with why; both idempotent. */
void smtpc_fail(struct smtpc *s, int err);
/* Remember why the session ends, without ending it (first one wins). */
void smtpc_set_close(struct smtpc *s, const struct smtpc_result *why);
void smtpc_close(struct smtpc *s, const struct smtpc_result *why);
/* Once no op is in flight: close the socket and schedule the free. */
void smtpc_reap_maybe(struct smtpc *s);
/* Feed received plaintext to the reply parser; 0 or -errno. */
int smtpc_input(struct smtpc *s, const char *buf, size_t len);
/* The reply timeout (ms) of a command of stage st. */
int64_t smtpc_stage_tmo(const struct smtpc *s, enum smtpc_stage st);

/* smtp_client_tls.c: entry actions, pumps and the STARTTLS reply. */
int smtpc_starttls_entry(struct smtpc *s);
int smtpc_tls_entry(struct smtpc *s);
int smtpc_tls_pump(struct smtpc *s);
int smtpc_shutdown_entry(struct smtpc *s);
int smtpc_shutdown_pump(struct smtpc *s);
int smtpc_starttls_reply(struct smtpc *s, const struct smtpc_pend *p,
			 const struct smtp_reply *rep);
/* smtp_client_tls.c: the TLS byte path (used by smtp_client_io.c). */
int smtpc_tls_flush(struct smtpc *s);
bool smtpc_tls_sent(struct smtpc *s, int res);
void smtpc_tls_recv(struct smtpc *s, int res);
/* smtp_client_tls.c: the failure of err in a TLS session: class, text. */
void smtpc_tls_fail_class(struct smtpc *s, int err, enum smtpc_fail *f_r,
			  const char **text_r);

/* smtp_client_io.c: ops and timer set-up, and the end of every event:
 * flush output, keep a recv armed, arm the timer at the next deadline. */
void smtpc_io_init(struct smtpc *s);
void smtpc_settle(struct smtpc *s);
/* Give the output buffers the kernel does not hold the big size (big) or,
 * when empty, the inline one again; smtpc_io_fini() frees what is left. */
void smtpc_obuf_fit(struct smtpc *s, bool big);
/* smtp_client_io.c: SMTPC_BIG buffers from the per-thread pool. */
char *smtpc_big_get(void);
void smtpc_big_put(char *p);
void smtpc_io_fini(struct smtpc *s);

/* smtp_client_txn.c: entry actions / pumps (next state or -errno). */
int smtpc_next_entry(struct smtpc *s);
int smtpc_txn_pump(struct smtpc *s);
int smtpc_body_entry(struct smtpc *s);
int smtpc_body_pump(struct smtpc *s);
/* A read of n body bytes landed in obuf[ofill] at olen: keep what is its
 * own encoding there (all of it, unscanned, for a wire body), copy the
 * rest to the chunk for sdata_encode(). */
void smtpc_body_inplace(struct smtpc *s, size_t n);
/* smtp_client_txn.c: reply handlers (next state or -errno). */
int smtpc_rset_reply(struct smtpc *s, const struct smtpc_pend *p,
		     const struct smtp_reply *rep);
int smtpc_mail_reply(struct smtpc *s, const struct smtpc_pend *p,
		     const struct smtp_reply *rep);
int smtpc_rcpt_reply(struct smtpc *s, const struct smtpc_pend *p,
		     const struct smtp_reply *rep);
int smtpc_data_reply(struct smtpc *s, const struct smtpc_pend *p,
		     const struct smtp_reply *rep);
int smtpc_dot_reply(struct smtpc *s, const struct smtpc_pend *p,
		    const struct smtp_reply *rep);

#endif
