/* SPDX-License-Identifier: MIT */
/*
 * smtp_client.h: the outbound SMTP client session engine (struct smtpc).
 *
 * One session = one connection to one destination address from one
 * binding.  It connects (bind() to the binding's source address first),
 * reads the banner, says EHLO (HELO after a 5xx to EHLO), then delivers the
 * messages its owner hands it through ops->next_msg(), one transaction at
 * a time, with PIPELINING (RFC 2920) when the server offers it: MAIL, every
 * RCPT and DATA leave in one send, and on a reused connection they follow
 * the previous "." in the same send.  The body is streamed from the owner's
 * file through the ring in bounded chunks, CRLF-canonical and dot-stuffed
 * by sdata_encode().  When no message is available it waits up to
 * idle_timeout (smtpc_kick() wakes it), then QUITs.
 *
 * Policy-free: the engine reports, never decides.  Every recipient of every
 * message it took ends with exactly one result (delivered / temporary /
 * permanent, with the reply, the stage and a failure class), reported by
 * ops->on_msg_done(); the session's end is reported once by ops->on_close().
 * Retry, bounce, next MX: the owner's business.
 *
 * Byte path: recv bytes land in s->rbuf and go through smtpc_input() to
 * the reply parser; protocol output is formatted into the output buffers
 * and leaves through smtpc_flush().  After STARTTLS (smtp_client_tls.c) a
 * struct tls_sess sits between the two: ciphertext from rbuf is fed to it
 * and the plaintext it yields goes to smtpc_input(); output is encrypted
 * by tls_write() and its ciphertext block is what the kernel sends.  The
 * protocol code above both points never sees the difference.
 *
 * TLS policy (opts.tls): none never sends STARTTLS; opportunistic sends it
 * when offered and otherwise (not offered, 4xx/5xx to it) delivers in
 * plaintext; required never sends a byte of a message in plaintext: not
 * offered ends the session with SMTPC_FAIL_TLS (-EOPNOTSUPP), a 4xx/5xx to
 * STARTTLS with SMTPC_FAIL_REPLY at stage starttls (temporary), both
 * before any message is taken.  A failed handshake is SMTPC_FAIL_TLS at
 * stage starttls under every policy (plaintext after the 220: -EBADMSG);
 * retrying in plaintext on a new connection is the owner's call.
 * smtpc_tls_info() says what happened (for the delivery log and metrics).
 *
 * Ownership (STYLE 3.5):
 *  - struct smtpc is allocated by smtpc_new() and freed by the engine only,
 *    right after ops->on_close() returns (from a ring_defer() task, when no
 *    op is in flight).  The owner must not touch s after on_close().
 *  - Ops embedded in s: op_conn (connect), op_recv (one recv, always armed
 *    while connected, into rbuf), op_send (one send, from obuf[busy]),
 *    op_read (one file read, into the end of obuf[fill]).  At most one of
 *    each in flight.  The kernel owns the buffer of each busy op.
 *  - Output is double-buffered: obuf[fill] is being filled while
 *    obuf[!fill] is in the kernel; a short send resumes from the same
 *    buffer.  Buffers are inline (bounded, a command each); for a body
 *    each becomes a 64 KiB buffer of a per-thread pool until its last
 *    body bytes are sent.  File reads land in obuf[fill] and stay there
 *    as far as they need no stuffing (sdata_enc_pass); only the rest is
 *    copied to a chunk buffer (pooled too, only for that message) and
 *    encoded.  So an idle plaintext session holds no more than
 *    sizeof(struct smtpc).
 *  - Sends carry no linked timeout: the session's one timer (uring/timer.h
 *    heap) is armed at the earliest deadline awaited (reply, send, idle,
 *    handshake) and, when it fires, ends the session, which cancels the
 *    op in flight.
 *  - With TLS, obuf[fill] is encrypted into the struct tls_sess only when
 *    no send is in flight, and the kernel then owns the session's pending
 *    ciphertext block (tls_pending_out) until its send completes; the
 *    tls_sess (created at the 220 to STARTTLS, owned by s) is freed by the
 *    reap task after on_close(), when no op is in flight.
 *  - struct smtpc_msg and its recipients belong to the owner; the engine
 *    borrows them from next_msg() until on_msg_done() for that message
 *    (after which it never touches them again).  The engine writes only
 *    the "engine's" fields and the recipients' res.  The body fd stays
 *    the owner's (never closed here) and must stay open until
 *    on_msg_done().
 *  - The strings of struct smtpc_opts are copied by smtpc_new();
 *    tls_ctx and tls_cache are borrowed.
 */
#ifndef RINGMTA_SMTP_CLIENT_H
#define RINGMTA_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "compat.h"
#include "ring.h"
#include "smtp_cmd.h"
#include "smtp_data.h"
#include "smtp_reply.h"
#include "timer.h"

struct smtpc;
struct tls_ctx;
struct tls_cache;

/* What the session was doing (also a recipient result's stage). */
enum smtpc_stage {
	SMTPC_STAGE_NONE = 0,
	SMTPC_STAGE_CONNECT,
	SMTPC_STAGE_BANNER,
	SMTPC_STAGE_EHLO,
	SMTPC_STAGE_HELO,
	SMTPC_STAGE_STARTTLS,
	SMTPC_STAGE_MAIL,
	SMTPC_STAGE_RCPT,
	SMTPC_STAGE_DATA,
	SMTPC_STAGE_BODY,
	SMTPC_STAGE_DOT,
	SMTPC_STAGE_RSET,
	SMTPC_STAGE_QUIT,
	SMTPC_STAGE_IDLE,
	SMTPC_STAGE_LOCAL, /* refused before sending: 8BITMIME/SMTPUTF8/SIZE */
	SMTPC_STAGE__COUNT /* must stay last */
};
const char *smtpc_stage_str(enum smtpc_stage st);

/* Engine states (the send side; replies are matched through pend[]). */
enum smtpc_state {
	SMTPC_S_INIT = 0, /* created, not started */
	SMTPC_S_CONNECT,  /* connect SQE with its deadline in flight */
	SMTPC_S_BANNER,   /* waiting for 220 */
	SMTPC_S_EHLO,
	SMTPC_S_HELO,
	SMTPC_S_STARTTLS, /* STARTTLS queued if offered and wanted */
	SMTPC_S_TLS,      /* handshake: fed by recv until done, then EHLO */
	SMTPC_S_NEXT,     /* choose: next message, idle or QUIT */
	SMTPC_S_TXN,      /* [RSET] MAIL RCPT... DATA queued, up to 354 */
	SMTPC_S_BODY,     /* file chunk -> sdata_encode -> send, then "." */
	SMTPC_S_IDLE,     /* no message: idle timer, smtpc_kick() wakes */
	SMTPC_S_QUIT,     /* QUIT sent (never behind "."), waiting */
	SMTPC_S_SHUTDOWN, /* TLS: 221 read, close_notify being sent */
	SMTPC_S_CLOSING,  /* cancels issued; freed when nothing in flight */
	SMTPC_S__COUNT    /* must stay last */
};
const char *smtpc_state_str(enum smtpc_state st);

/* Connection-level failure class, decided once. */
enum smtpc_fail {
	SMTPC_FAIL_NONE = 0, /* clean: QUIT answered */
	SMTPC_FAIL_REFUSED,  /* -ECONNREFUSED */
	SMTPC_FAIL_UNREACH,  /* -ENETUNREACH, -EHOSTUNREACH, ... */
	SMTPC_FAIL_TIMEOUT,  /* a stage deadline passed */
	SMTPC_FAIL_RESET,    /* -ECONNRESET, -EPIPE, EOF */
	SMTPC_FAIL_TLS,      /* STARTTLS required but absent, handshake
			      * failed, plaintext after the 220 */
	SMTPC_FAIL_PROTO,    /* bad reply syntax, reply to nothing, bad code */
	SMTPC_FAIL_LOCAL,    /* our side: -EADDRNOTAVAIL, -EMFILE, bad input */
	SMTPC_FAIL_REPLY,    /* a well-formed 4xx/5xx: read code/enhanced */
	SMTPC_FAIL_CAPS,     /* server lacks 8BITMIME/SMTPUTF8/SIZE room */
	SMTPC_FAIL__COUNT    /* must stay last */
};
const char *smtpc_fail_str(enum smtpc_fail f);
/* Classify a -errno (from the ring or a syscall). */
enum smtpc_fail smtpc_fail_from_errno(int err);

enum smtpc_status {
	SMTPC_R_PENDING = 0, /* not decided yet */
	SMTPC_R_DELIVERED,
	SMTPC_R_TEMPORARY,
	SMTPC_R_PERMANENT,
	SMTPC_R__COUNT /* must stay last */
};
const char *smtpc_status_str(enum smtpc_status st);

#define SMTPC_TEXT_MAX 512 /* stored reply text, NUL included */

/*
 * One result: a recipient's outcome, or the session's end (on_close).
 * code 0 means no reply was involved (timeout, reset, local refusal); esc
 * is the enhanced code (ours for local refusals, e.g. 5.6.3).  maybe_dup:
 * "." was sent and no reply came: the server may have accepted the
 * message, so a retry may duplicate it.
 */
struct smtpc_result {
	enum smtpc_status status;
	enum smtpc_fail fail;
	enum smtpc_stage stage;
	int err; /* -errno behind fail, 0 if none */
	int code;
	unsigned esc[3];
	bool maybe_dup;
	char text[SMTPC_TEXT_MAX];
};

/*
 * r in one line that says each fact once (docs/ERRORS.md, "Failure
 * text"): a reply "<code> at <stage>: <text>", any other result its text
 * ("<failure> at <stage>" when it has none).  Writes at most n bytes to
 * buf (cut to fit, terminated when n > 0) and returns buf.
 */
const char *smtpc_result_describe(const struct smtpc_result *r, char *buf,
				  size_t n);

struct smtpc_rcpt {
	const char *addr;        /* without <> */
	unsigned notify;         /* enum smtpcmd_notify, sent only if DSN */
	const char *orcpt;       /* raw ORCPT, NULL: none; sent only if DSN */
	struct smtpc_result res; /* written by the engine */
};

/*
 * A message: the owner fills everything but the engine's fields.  The body
 * is body_len bytes at body_off in body_fd, CRLF-canonical and not
 * dot-stuffed.
 */
struct smtpc_msg {
	const char *from; /* "" for the null path */
	enum smtpcmd_ret ret;
	const char *envid; /* NULL: none; RET/ENVID sent only if DSN */
	bool eightbit;     /* body holds 8-bit bytes: needs 8BITMIME */
	bool smtputf8;     /* needs SMTPUTF8 */
	bool wire; /* body is its own wire encoding (RECORD_MSG_F_WIRE) */
	int body_fd;
	uint64_t body_off, body_len;
	struct smtpc_rcpt *rcpt;
	unsigned nrcpt;
	void *udata; /* owner's */
	/* engine's */
	unsigned npend;    /* replies still expected for this message */
	unsigned accepted; /* recipients with a 2xx to RCPT */
	bool mail_failed;  /* MAIL got a non-2xx (result given) */
	bool open;         /* more commands may still be queued for it */
	bool dot_sent;     /* "." queued: outcome unknown without its reply */
};

/*
 * RFC 5321 4.5.3.2 defaults; all in milliseconds.  starttls bounds the
 * reply to STARTTLS and, separately, the whole TLS handshake (0: use ehlo).
 */
struct smtpc_timeouts {
	int64_t connect, banner, ehlo, mail, rcpt, data, block, dot, rset, quit,
	    idle, starttls;
};
void smtpc_timeouts_default(struct smtpc_timeouts *t);

/* Per-destination TLS policy (config `tls = none|opportunistic|required`). */
enum smtpc_tls_policy {
	SMTPC_TLS_POLICY_NONE = 0,      /* never STARTTLS */
	SMTPC_TLS_POLICY_OPPORTUNISTIC, /* if offered; else plaintext */
	SMTPC_TLS_POLICY_REQUIRED,      /* TLS or no message at all */
	SMTPC_TLS_POLICY__COUNT         /* must stay last */
};
const char *smtpc_tls_policy_str(enum smtpc_tls_policy p);

/* What became of STARTTLS on this connection. */
enum smtpc_tls_state {
	SMTPC_TLS_S_OFF = 0,     /* not tried (policy none, or not yet) */
	SMTPC_TLS_S_NOT_OFFERED, /* EHLO did not offer STARTTLS (or HELO) */
	SMTPC_TLS_S_REFUSED,     /* 4xx/5xx to STARTTLS (starttls_code) */
	SMTPC_TLS_S_HANDSHAKE,   /* 220 read, handshake under way */
	SMTPC_TLS_S_FAILED,      /* handshake failed (error says why) */
	SMTPC_TLS_S_INJECTED,    /* plaintext followed the 220: aborted */
	SMTPC_TLS_S_ON,          /* established */
	SMTPC_TLS_S__COUNT       /* must stay last */
};
const char *smtpc_tls_state_str(enum smtpc_tls_state st);

/*
 * TLS facts for the owner (delivery log `tls`, `cipher`; metrics).  The
 * strings belong to the session's struct tls_sess: valid until on_close()
 * returns.
 */
struct smtpc_tls_info {
	enum smtpc_tls_policy policy;
	enum smtpc_tls_state state;
	int starttls_code;        /* reply to STARTTLS (220, 454...), 0: none */
	const char *protocol;     /* "TLSv1.3", "TLSv1.2"; NULL unless ON */
	const char *cipher;       /* IANA name; NULL unless ON */
	bool verified;            /* chain (and name, if checked) verified */
	const char *verify_error; /* why not verified; NULL if verified/!ON */
	bool resumed;             /* abbreviated handshake from the cache */
	const char *error;        /* the TLS layer's reason after a failure */
};

struct smtpc_opts {
	struct sockaddr_storage dst; /* destination address and port */
	socklen_t dst_len;
	struct sockaddr_storage src; /* binding's source, port 0 */
	socklen_t src_len;           /* 0: let the kernel choose */
	const char *mx_host;         /* logs, TLS SNI and verify=host name */
	const char *ehlo_name;
	struct smtpc_timeouts tmo;
	unsigned max_deliveries; /* messages per connection, 0: no limit */
	bool no_pipelining;      /* ignore PIPELINING (tests, quirks) */
	/* TLS.  tls_ctx (a client policy from tls_ctx_new_client(): verify
	 * none/ca/host and the CA store) is needed unless tls is none;
	 * tls_cache may be NULL (no resumption).  Both are borrowed and must
	 * outlive the session (until on_close() returns). */
	enum smtpc_tls_policy tls;
	struct tls_ctx *tls_ctx;
	struct tls_cache *tls_cache;
	const char *tls_binding; /* cache key part; NULL: the source address */
};

struct smtpc_ops {
	/* The next message for this destination, or NULL for none now. */
	struct smtpc_msg *(*next_msg)(struct smtpc *s, void *arg);
	/* All of m's recipients have their result; m is the owner's again. */
	void (*on_msg_done)(struct smtpc *s, struct smtpc_msg *m, void *arg);
	/* The session ended; s is freed right after this returns. */
	void (*on_close)(struct smtpc *s, const struct smtpc_result *why,
			 void *arg);
};

/*
 * Create a session on ring r.  opts' strings are copied; ops and arg are
 * borrowed for the session's life.  Nothing happens until smtpc_start().
 */
struct smtpc *smtpc_new(struct ring *r, const struct smtpc_opts *opts,
			const struct smtpc_ops *ops, void *arg);

/*
 * Open the socket, bind, and arm the connect.  Returns 0; on -errno the
 * session is already closing and on_close() will report it (so the owner
 * has one path for every failure).
 */
int smtpc_start(struct smtpc *s);

/* A message became available: wake a session waiting in IDLE. */
void smtpc_kick(struct smtpc *s);

/*
 * End the session gracefully: an idle session sends QUIT (with the quit
 * timeout) from a deferred task, never from inside this call; a session
 * in a transaction (or still greeting) finishes it, takes no further
 * message and QUITs once every reply is in.  on_close() follows as after
 * any QUIT.  Idempotent; a no-op once QUIT is sent or the session closes.
 */
void smtpc_quit(struct smtpc *s);

/*
 * Stop now (shutdown, admin): in-flight messages get temporary results,
 * then on_close() with SMTPC_FAIL_LOCAL / err -ECANCELED (later, from the
 * ring, never from inside this call).  Idempotent.
 */
void smtpc_cancel(struct smtpc *s);

enum smtpc_state smtpc_get_state(const struct smtpc *s);
/* The EHLO capabilities (zero before EHLO). */
const struct reply_caps *smtpc_caps(const struct smtpc *s);
/* Transactions started on this connection (local refusals not counted). */
unsigned smtpc_deliveries(const struct smtpc *s);
/* sizeof(struct smtpc): the memory of an idle plaintext session (a TLS
 * session adds its struct tls_sess, see docs/TLS.md). */
size_t smtpc_session_size(void);
/*
 * Fill *info with the connection's TLS facts (any time, e.g. from
 * on_msg_done() or on_close()); see struct smtpc_tls_info for lifetimes.
 */
void smtpc_tls_info(const struct smtpc *s, struct smtpc_tls_info *info);
/*
 * Build the resumption cache key "mx_host:port:binding" into buf[size]
 * (cut to fit, NUL-terminated); binding is opts.tls_binding, else the
 * source address, else "-".  Returns buf.
 */
const char *smtpc_tls_cache_key(const struct smtpc *s, char *buf, size_t size);

#endif
