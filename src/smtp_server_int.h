/* SPDX-License-Identifier: MIT */
/*
 * smtp_server_int.h: private to smtp_server.c (I/O, lifecycle, replies),
 * smtp_server_out.c (output), smtp_server_cmd.c (commands, body, the input
 * loop) and smtp_server_tls.c (STARTTLS), and to their unit tests.
 * Nothing else may include it.
 */
#ifndef RINGMTA_SMTP_SERVER_INT_H
#define RINGMTA_SMTP_SERVER_INT_H

#include <netinet/in.h>

#include "ring.h"
#include "smtp_server.h"
#include "timer.h"

#define SMTPS_OUT_SIZE  1024  /* each of the two output buffers */
#define SMTPS_REPLY_MAX 512   /* one reply, all its lines */
#define SMTPS_SCRATCH   16384 /* decoded body bytes per on_body call */
#define SMTPS_NAME_MAX  256   /* HELO name kept (truncated) */
#define SMTPS_ADDR_MAX  (INET6_ADDRSTRLEN + 8)
#define SMTPS_LINGER_NS (2 * 1000000000LL)
#define SMTPS_POOL_MAX  256         /* freed sessions kept for reuse */
#define SMTPS_BODY_BUF  (64 * 1024) /* receive buffer lent for a body */
#define SMTPS_BODY_POOL 32          /* lent buffers kept for reuse */

/*
 * Session states (STYLE 3.3).  CMD and BODY/BDAT read input; the rest are
 * the teardown path: FLUSH sends what is queued, LINGER has shut down the
 * write side and reads until EOF (so the last reply is not lost to a RST),
 * CLOSING waits for the ops to finish and closes the fd, CLOSED is reaped.
 */
enum smtps_state {
	SMTPS_S_CMD = 0, /* reading commands (greeting may be pending) */
	SMTPS_S_BODY,    /* DATA body through the decoder */
	SMTPS_S_BDAT,    /* BDAT chunk bytes (bdat_left) */
	SMTPS_S_FLUSH,   /* final reply queued: send, then LINGER */
	SMTPS_S_LINGER,  /* SHUT_WR done: drain input until EOF */
	SMTPS_S_CLOSING, /* ops cancelled; close the fd when idle */
	SMTPS_S_CLOSED,  /* fd closed; freed when nothing is in flight */
	SMTPS_S__COUNT   /* must stay last */
};
const char *smtps_state_str(enum smtps_state st);

/*
 * TLS under a session (orthogonal to enum smtps_state).  OFF: plaintext.
 * STARTING: 220 queued, not yet sent; everything received is discarded
 * (injection).  HANDSHAKE: the 220 is out; received bytes go to
 * tls_handshake(); nothing is processed and no reply can be queued.  ON:
 * input is tls_read() into in[], replies are tls_write()n at flush.
 * tls != NULL from STARTING until the session is reaped.
 */
enum smtps_tls_st {
	SMTPS_TLS_OFF = 0,
	SMTPS_TLS_STARTING,
	SMTPS_TLS_HANDSHAKE,
	SMTPS_TLS_ON,
	SMTPS_TLS__COUNT /* must stay last */
};
const char *smtps_tls_st_str(enum smtps_tls_st st);

struct smtps_listener {
	struct smtps_server *srv;
	struct uop op_accept;
	struct timer retry; /* re-arm after EMFILE and friends */
	int fd;
	unsigned index;
	bool stopping;
	char name[SMTPS_ADDR_MAX];
};

/* A connection over sessions_max: send 421, close, free. */
struct smtps_reject {
	struct smtps_server *srv;
	struct uop op;
	int fd;
	bool sent;
	struct smtps_reject *next, *prev;
};

struct smtps_session {
	struct smtps_server *srv;
	struct smtps_session *next, *prev; /* srv->sessions */
	uint64_t id;
	int fd;
	unsigned listener;
	enum smtps_state state;
	enum smtps_stage pending; /* reply awaited from the owner */
	enum smtps_close_why why;
	const char *action; /* for log lines: "... while reading MAIL" */

	/* protocol */
	bool greeted;        /* the greeting reply was queued */
	bool noservice;      /* 554 greeting: only QUIT works */
	bool in_process;     /* inside smtps_process(): replies don't recurse */
	bool close_notified; /* on_close ran */
	bool ehlo_pending;   /* the pending HELO stage is an EHLO */
	bool bdat_pending;   /* the pending DATA stage is a first BDAT */
	bool txn_utf8;       /* MAIL had SMTPUTF8 */
	bool replied_since_recv; /* a reply was queued after the last recv */
	bool paused;             /* smtps_pause(): no recv, no processing */
	unsigned char helo;      /* 0 none, 1 HELO, 2 EHLO */
	bool in_mail;
	bool bdat_last;   /* the chunk being read is the LAST one */
	bool bdat_failed; /* BDAT refused: chunk bytes are discarded */
	bool bdat_in_txn; /* a BDAT chunk was accepted in this transaction */
	unsigned nrcpt;   /* RCPT commands answered 2xx this transaction */
	unsigned errors;
	unsigned messages;
	uint64_t bdat_left; /* chunk bytes still to read */
	uint64_t bdat_size; /* message bytes so far (BDAT) */
	bool bdat_over;
	char helo_name[SMTPS_NAME_MAX];

	/* I/O */
	struct uop op_recv, op_send, op_close;
	struct ring_task task; /* run smtps_process() after an async reply */
	struct timer deadline; /* the session timer: all deadlines below */
	int64_t t_end;         /* session deadline (ring_now scale) */
	int64_t t_recv;        /* the recv in flight must end by; 0: none */
	int64_t t_send;        /* the send in flight must end by; 0: none */
	char *in;
	size_t in_cap, in_off, in_len; /* unconsumed: in[in_off..in_len) */
	char *in_own;    /* the session's own buffer while in is a lent one */
	size_t recv_len; /* bytes the recv in flight may fill */
	bool recv_full;  /* the last recv filled them */
	char out[2][SMTPS_OUT_SIZE];
	size_t out_len[2];
	unsigned out_fill;   /* buffer replies go into */
	size_t out_sent;     /* bytes of the other buffer already sent */
	bool out_sending;    /* the other buffer is with the kernel */
	bool replies_unsent; /* out[out_fill] holds unflushed replies */
	struct smtpp_lineparser lp;
	struct sdata_dec dec;

	/* TLS (smtp_server_tls.c) */
	struct tls_sess *tls;
	enum smtps_tls_st tls_st;
	bool tls_dry;      /* tls_read() said "need more": recv may be armed */
	int64_t t_hs;      /* handshake deadline */
	uint64_t injected; /* plaintext bytes discarded at STARTTLS */

	struct sockaddr_storage peer;
	char peer_str[INET6_ADDRSTRLEN];
	void *udata;
};

struct smtps_server {
	struct ring *ring;
	struct smtps_config cfg;
	const struct smtps_ops *ops;
	void *udata;
	char *hostname;
	struct smtps_listener **lst;
	unsigned nlst;
	struct smtps_session *sessions; /* open (any state) */
	struct smtps_session *pool;     /* freed, kept for reuse */
	unsigned npool;
	struct smtps_reject *rejects;
	uint64_t next_id;
	bool stopping;
	struct smtps_server_stats st;
	struct smtpp_cmd cmd; /* the command being dispatched */
	char busy_msg[SMTPS_REPLY_MAX];
	size_t busy_len;
	char scratch[SMTPS_SCRATCH];
	char *body_bufs[SMTPS_BODY_POOL]; /* SMTPS_BODY_BUF each, idle */
	unsigned nbody_bufs;
};

/* smtp_server.c */
void smtps_close(struct smtps_session *s, enum smtps_close_why why,
		 bool graceful);
void smtps_enter(struct smtps_session *s, enum smtps_state st);
void smtps_linger_start(struct smtps_session *s);
void smtps_closing_step(struct smtps_session *s);
void smtps_hard_close(struct smtps_session *s);

/* smtp_server_io.c */
void smtps_arm_recv(struct smtps_session *s);
void smtps_recv_done(struct uop *op, int res, unsigned flags);
void smtps_deadline_fire(struct timer *t);
void smtps_timer_want(struct smtps_session *s, int64_t when);
void smtps_send_deadline(struct smtps_session *s);
void smtps_in_return(struct smtps_session *s);
void smtps_body_bufs_free(struct smtps_server *srv);

/* smtp_server_out.c */
void smtps_send_done(struct uop *op, int res, unsigned flags);
int smtps_queue(struct smtps_session *s, unsigned code, const char *text);
int smtps_queue_raw(struct smtps_session *s, const char *buf, size_t len);
size_t smtps_out_room(const struct smtps_session *s);
void smtps_flush(struct smtps_session *s);
int smtps_parse_reply(const char *sugg, unsigned *code_r, const char **text_r);
int smtps_queue_sugg(struct smtps_session *s, const char *sugg);

/* smtp_server_tls.c */
bool smtps_tls_io(const struct smtps_session *s);
void smtps_tls_start(struct smtps_session *s, const char *text);
void smtps_tls_begin(struct smtps_session *s);
void smtps_tls_recv(struct smtps_session *s, int res);
void smtps_tls_recv_end(struct smtps_session *s, int res);
int smtps_tls_pull(struct smtps_session *s);
void smtps_tls_flush(struct smtps_session *s);
void smtps_tls_send_done(struct smtps_session *s, int res);
void smtps_tls_free(struct smtps_session *s);

/* smtp_server_cmd.c */
void smtps_process(struct smtps_session *s);
void smtps_apply_reply(struct smtps_session *s, enum smtps_stage st,
		       unsigned code, const char *text);
void smtps_txn_reset(struct smtps_session *s);
const char *smtps_default_text(enum smtps_stage st, unsigned code);
void smtps_error(struct smtps_session *s, const char *sugg);

#endif
