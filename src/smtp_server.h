/* SPDX-License-Identifier: MIT */
/*
 * smtp_server.h: the inbound ESMTP session engine (prefix smtps_).
 *
 * Shared by ringsink and ringmta's injection listener.  The engine does the
 * protocol (framing, sequence, limits, EHLO, PIPELINING batching, DATA
 * decoding, timeouts) and knows NO policy: the greeting, HELO/EHLO, MAIL,
 * RCPT, DATA, end-of-data, RSET and QUIT are handed to the owner's
 * struct smtps_ops callbacks, and each is answered with smtps_reply() either
 * at once (inside the callback) or later (from a timer, after spool I/O).
 * While a reply is pending the engine processes no further input; it stays
 * buffered.  Replies are batched in an output buffer and sent when no
 * complete command is left to process or a reply is pending (RFC 2920).
 *
 * Ownership and lifetime:
 *  - struct smtps_server is the owner's (smtps_server_new/_free).  It owns
 *    the listeners, every session, and a scratch buffer for decoded body
 *    bytes (on_body's buf points into it, or into the owner's body_buf:
 *    valid during the call only).
 *  - A session (struct smtps_session) belongs to the engine.  It embeds its
 *    ops (recv, send, close), its receive buffer (the kernel owns it while
 *    the recv is armed), two output buffers (the kernel owns the one being
 *    sent until the send's completion; replies go into the other), the
 *    command-line parser's buffer and the DATA decoder.  At most one recv
 *    and one send are in flight.  The owner's per-session udata is the
 *    owner's: on_close is the last callback, after which the owner must not
 *    use the session pointer (cancel its timers there).  The engine frees
 *    the session only when no op is in flight (STYLE 3.5 rule 4), never
 *    from inside a handler of its own op without that check.
 *  - Pointers handed to callbacks (cmd, name, info, buf) are valid for the
 *    duration of the callback only; an owner that answers later copies what
 *    it needs.
 *  - STARTTLS (struct smtps_config.tls set): the struct tls_sess exists
 *    only on a session that got 220 to STARTTLS; the session owns it and
 *    frees it when it is reaped (never while a send of its ciphertext is
 *    in flight).  The ring still does every recv and send: ciphertext is
 *    received into the free tail of the receive buffer and fed to tls.c
 *    (which copies it), decrypted into the same buffer, and replies are
 *    encrypted from the output buffer into tls.c's own output block, which
 *    is what the send then hands to the kernel.  Input buffered behind the
 *    STARTTLS line, and anything received before the 220 is out, is
 *    discarded and counted (CVE-2011-0411); after the handshake the SMTP
 *    state is that after the greeting (RFC 3207: EHLO again).
 */
#ifndef RINGMTA_SMTP_SERVER_H
#define RINGMTA_SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "compat.h"
#include "smtp_data.h"
#include "smtp_parse.h"

struct ring;
struct smtps_server;
struct smtps_session;

/* Advertised EHLO capabilities (struct smtps_config.caps). */
enum smtps_cap {
	SMTPS_CAP_PIPELINING = 1u << 0,
	SMTPS_CAP_8BITMIME = 1u << 1,
	SMTPS_CAP_SIZE = 1u << 2,
	SMTPS_CAP_SMTPUTF8 = 1u << 3,
	SMTPS_CAP_ENHANCEDSTATUSCODES = 1u << 4,
	SMTPS_CAP_DSN = 1u << 5,
	SMTPS_CAP_CHUNKING = 1u << 6,
	/* Advertised iff struct smtps_config.tls is set (the bit in caps is
	 * ignored), and only until TLS is up. */
	SMTPS_CAP_STARTTLS = 1u << 7,
};
#define SMTPS_CAP_DEFAULT                                                      \
	(SMTPS_CAP_PIPELINING | SMTPS_CAP_8BITMIME | SMTPS_CAP_SIZE |          \
	 SMTPS_CAP_SMTPUTF8 | SMTPS_CAP_ENHANCEDSTATUSCODES | SMTPS_CAP_DSN)

/* The command a pending reply answers. */
enum smtps_stage {
	SMTPS_STAGE_NONE = 0,
	SMTPS_STAGE_GREETING, /* 220 / 421 / 554 */
	SMTPS_STAGE_HELO,     /* HELO or EHLO: 250 / 4xx / 5xx */
	SMTPS_STAGE_MAIL,
	SMTPS_STAGE_RCPT,
	SMTPS_STAGE_DATA, /* 354 or 4xx / 5xx */
	SMTPS_STAGE_DOT,  /* end of data, or the last BDAT chunk */
	SMTPS_STAGE_RSET,
	SMTPS_STAGE_QUIT,     /* the session closes after this reply */
	SMTPS_STAGE_STARTTLS, /* 220 starts TLS; 4xx/5xx stay in plaintext */
	SMTPS_STAGE__COUNT    /* must stay last */
};
const char *smtps_stage_str(enum smtps_stage st);

/* Why a session ended (on_close). */
enum smtps_close_why {
	SMTPS_CLOSE_QUIT = 0,        /* client QUIT */
	SMTPS_CLOSE_EOF,             /* client closed the connection */
	SMTPS_CLOSE_IO,              /* recv/send error or send deadline */
	SMTPS_CLOSE_IDLE,            /* idle timeout: 421 4.4.2 */
	SMTPS_CLOSE_SESSION_TIMEOUT, /* session deadline: 421 4.4.2 */
	SMTPS_CLOSE_ERRORS,          /* too many errors: 421 4.7.0 */
	SMTPS_CLOSE_EARLY_TALKER,    /* talked before the greeting: 554 */
	SMTPS_CLOSE_PIPELINING,      /* pipelined without PIPELINING: 554 */
	SMTPS_CLOSE_OWNER_REPLY,     /* smtps_reply_close(), or a 421 reply */
	SMTPS_CLOSE_OWNER_DROP,      /* smtps_drop() */
	SMTPS_CLOSE_SHUTDOWN,        /* smtps_server_stop() */
	SMTPS_CLOSE_TLS,   /* handshake failed or timed out, TLS error */
	SMTPS_CLOSE__COUNT /* must stay last */
};
const char *smtps_close_why_str(enum smtps_close_why why);

/* What on_data_end learns about the message just received. */
struct smtps_data_info {
	const struct sdata_stats *stats; /* decoder counters (DATA only) */
	uint64_t size;                   /* message bytes after unstuffing */
	uint64_t anomalies;              /* sum of stats->an[] */
	bool oversize; /* over size_max: the engine already replied 552 5.3.4
			  and the owner must NOT reply */
	bool bdat;     /* received with BDAT (CHUNKING) */
};

/*
 * The owner's callbacks.  Those marked (reply) leave a reply pending that
 * the owner answers with smtps_reply()/smtps_reply_close()/smtps_drop(),
 * now or later; a NULL (reply) callback means the default positive reply
 * (smtps_reply(s, 0, NULL)).  The others are notifications.  Every callback
 * may call smtps_drop()/smtps_reply_close().
 */
struct smtps_ops {
	/* (reply) a new connection: the greeting decision. */
	void (*on_connect)(struct smtps_session *s);
	/* (reply) HELO/EHLO name; any open transaction is already gone. */
	void (*on_helo)(struct smtps_session *s, bool ehlo, const char *name);
	/* (reply) MAIL, syntax/sequence/SIZE already checked. */
	void (*on_mail)(struct smtps_session *s, const struct smtpp_cmd *cmd);
	/* (reply) RCPT, syntax/sequence/recipient limit already checked. */
	void (*on_rcpt)(struct smtps_session *s, const struct smtpp_cmd *cmd);
	/* (reply) DATA (or the first BDAT) with >= 1 accepted recipient:
	 * reply 354 (smtps_reply(s, 0, NULL)) to receive the body. */
	void (*on_data)(struct smtps_session *s);
	/* Unstuffed body bytes, in order, in chunks of any size. */
	void (*on_body)(struct smtps_session *s, const char *buf, size_t len);
	/* Optional (DATA only): where the engine may decode up to len body
	 * bytes for the next on_body call (whose buf is then this pointer),
	 * in the owner's memory, valid until that call; NULL: the engine's
	 * scratch buffer.  Lets an owner take the body with no copy. */
	char *(*body_buf)(struct smtps_session *s, size_t len);
	/* (reply unless info->oversize) the end of data. */
	void (*on_data_end)(struct smtps_session *s,
			    const struct smtps_data_info *info);
	/* (reply) RSET; the transaction is already discarded. */
	void (*on_rset)(struct smtps_session *s);
	/* (reply) QUIT; the session closes after the reply (default 221). */
	void (*on_quit)(struct smtps_session *s);
	/* (reply) STARTTLS (offered, no transaction open, not yet TLS): 220
	 * (smtps_reply(s, 0, NULL)) starts TLS; 4xx/5xx keep plaintext. */
	void (*on_starttls)(struct smtps_session *s);
	/* Notification: the TLS handshake completed (smtps_tls_info() is
	 * valid from now on); HELO/EHLO is forgotten, the client must EHLO
	 * again. */
	void (*on_tls)(struct smtps_session *s);
	/* Notification: a reply with this code was queued (statistics). */
	void (*on_reply)(struct smtps_session *s, unsigned code);
	/* Notification: the session is closing; last callback. */
	void (*on_close)(struct smtps_session *s, enum smtps_close_why why);
};

struct tls_ctx;

struct smtps_config {
	const char *hostname; /* greeting and EHLO; copied */
	unsigned caps;        /* enum smtps_cap; STARTTLS ignored */
	/* Server TLS context (tls_ctx_new_server): STARTTLS is offered when
	 * set.  Kept by pointer: the owner frees it after the server (live
	 * sessions hold their own reference, see tls_ctx_free()). */
	struct tls_ctx *tls;
	unsigned handshake_timeout_ms; /* after the 220; 0: idle_timeout_ms */
	bool tls_required;   /* MAIL before TLS: 530 5.7.0 (RFC 3207 sec. 4) */
	size_t line_max;     /* command line cap incl. CRLF; 0: 2048 */
	uint64_t size_max;   /* message size limit; 0: none */
	unsigned rcpt_max;   /* recipients per message; 0: 1000 */
	unsigned errors_max; /* protocol errors per session; 0: 10 */
	unsigned sessions_max;       /* concurrent sessions; 0: 10000 */
	unsigned idle_timeout_ms;    /* waiting for the client; 0: 300000 */
	unsigned session_timeout_ms; /* whole session; 0: 3600000 */
	bool early_talker_ok;      /* false: input before the greeting -> 554 */
	enum sdata_mode data_mode; /* STRICT (counts) or NORMALIZE */
	size_t recv_buf;           /* 0: 4096; a fast body: 64 KiB lent */
	bool reuseport;            /* SO_REUSEPORT on the listeners */
	int backlog;               /* listen(2) backlog; 0: 4096 */
};

/* Counters the engine keeps per server. */
struct smtps_server_stats {
	uint64_t accepted;      /* sessions started */
	uint64_t rejected_busy; /* sessions_max reached: 421 and close */
	uint64_t accept_errors; /* accept CQEs with an error */
	uint64_t sessions;      /* open now */
	uint64_t sessions_peak; /* maximum of sessions */
	uint64_t pipelining_violations;
	uint64_t early_talkers;
	uint64_t sends;      /* send requests issued (batching: < replies) */
	uint64_t tls_starts; /* 220 to STARTTLS sent (handshakes begun) */
	uint64_t tls_handshakes; /* handshakes completed */
	uint64_t tls_failures;   /* handshakes failed, timed out or cut */
	uint64_t tls_injected_sessions; /* sessions with discarded input */
	uint64_t tls_injected_bytes;    /* plaintext discarded at STARTTLS */
};

/*
 * Create a server on ring r with a copy of cfg, the owner's ops (kept by
 * pointer: must outlive the server) and udata.  No listener yet.  Returns
 * the server (never NULL: allocation aborts).
 */
struct smtps_server *smtps_server_new(struct ring *r,
				      const struct smtps_config *cfg,
				      const struct smtps_ops *ops, void *udata);
/*
 * Bind and listen on "ADDR:PORT" (IPv4 "127.0.0.1:25", IPv6 "[::1]:0";
 * port 0: kernel-chosen) and start a multishot accept.  On success returns
 * the listener's index (>= 0) and writes the bound address "ADDR:PORT" to
 * bound_r[bound_sz] when bound_r != NULL; else -errno (-EINVAL for a
 * malformed address).
 */
int smtps_listen(struct smtps_server *srv, const char *addr, char *bound_r,
		 size_t bound_sz) ATTR_WUR;
/*
 * Start a session on an already connected stream socket fd (accept does
 * this; tests pass one end of a socketpair), counted under listener index
 * lst.  On success the server owns fd; on failure (-ESHUTDOWN when
 * stopping) the caller keeps it.  Returns 0 or -errno.
 */
int smtps_adopt(struct smtps_server *srv, int fd, unsigned lst);
unsigned smtps_listener_count(const struct smtps_server *srv);
/* The bound "ADDR:PORT" of listener i (static for the server's life). */
const char *smtps_listener_name(const struct smtps_server *srv, unsigned i);
void *smtps_server_udata(const struct smtps_server *srv);
const struct smtps_server_stats *
smtps_server_stats(const struct smtps_server *srv);
/*
 * Stop: close the listeners and end every session (idle ones get "421 4.3.2
 * shutting down", busy ones are dropped; on_close runs for each).  Then
 * run the ring until smtps_server_idle() before smtps_server_free().
 */
void smtps_server_stop(struct smtps_server *srv);
/* True when no session, listener or op of the server is left in flight. */
bool smtps_server_idle(const struct smtps_server *srv);
/* Free a stopped, idle server (BUG_ON otherwise); NULL is fine. */
void smtps_server_free(struct smtps_server *srv);

/*
 * Answer the pending reply.  code: 2xx-5xx valid for the stage (3xx only
 * for DATA), or 0 for the stage's default positive reply (220, 250, 354,
 * 221).  text: "x.y.z words" without CRLF, or NULL for the engine's default
 * text for (stage, code); CR/LF/controls are replaced and it is truncated to
 * fit one reply (512 bytes).  The enhanced code is removed when
 * ENHANCEDSTATUSCODES is not advertised.  A 421 reply closes the session
 * after it is sent.  Returns 0; -EALREADY if no reply is pending (e.g. after
 * oversize); -EINVAL for a code the stage cannot take; -ECONNRESET if the
 * session is closing.  May be called from inside the callback or later.
 */
int smtps_reply(struct smtps_session *s, unsigned code, const char *text);
/*
 * Reply (to the pending command, or unsolicited when none is pending:
 * meant for 421) and close the session after the reply is sent.  Returns
 * 0 or -ECONNRESET if the session is already closing.
 */
int smtps_reply_close(struct smtps_session *s, unsigned code, const char *text);
/*
 * Disconnect without answering the pending command (replies queued before
 * it are still sent).  Harmless on a closing session.
 */
void smtps_drop(struct smtps_session *s);

/*
 * Flow control, for an owner whose sink is slower than the client (the
 * spool's SPOOL_BUSY): after smtps_pause() the engine arms no recv and
 * processes no buffered input (a recv already in flight completes into the
 * buffer, which bounds what is taken), until smtps_resume(), which
 * continues from the loop (never inside the call).  Pausing inside on_body
 * stops after that chunk.  Replies are still sent while paused.  The idle
 * timeout does not run while paused (the wait is ours, not the client's);
 * the session timeout does.  Both are harmless on a closing session and
 * idempotent.
 */
void smtps_pause(struct smtps_session *s);
void smtps_resume(struct smtps_session *s);
bool smtps_paused(const struct smtps_session *s);

void *smtps_udata(const struct smtps_session *s);
void smtps_set_udata(struct smtps_session *s, void *udata);
struct smtps_server *smtps_session_server(const struct smtps_session *s);
/* A per-server unique id, for logs ("%016" PRIx64). */
uint64_t smtps_session_id(const struct smtps_session *s);
/* The client's address without port ("127.0.0.1", "::1"). */
const char *smtps_peer_addr(const struct smtps_session *s);
/* The peer's sockaddr. */
const struct sockaddr_storage *smtps_peer_sa(const struct smtps_session *s);
/* Index of the listener that accepted the session. */
unsigned smtps_session_listener(const struct smtps_session *s);
/* The last accepted HELO/EHLO name ("" before one). */
const char *smtps_helo_name(const struct smtps_session *s);
/* The stage whose reply is pending, SMTPS_STAGE_NONE when none. */
enum smtps_stage smtps_pending(const struct smtps_session *s);
/* Messages accepted (2xx at end of data) on this session so far. */
unsigned smtps_session_messages(const struct smtps_session *s);
/* Bytes of memory a session takes (struct and buffers), for reports.  A
 * TLS session adds tls.c's state (see docs/TLS.md, server side). */
size_t smtps_session_footprint(const struct smtps_server *srv);

/* What the owner may learn about a session's TLS (strings static or owned
 * by the session: valid until on_close returns). */
struct smtps_tls_info {
	const char *protocol; /* "TLSv1.3", "TLSv1.2" */
	const char *cipher;   /* IANA name, "TLS_AES_128_GCM_SHA256" */
	const char *sni;      /* host name the client sent, or NULL */
	bool resumed;         /* the handshake resumed a session (ticket) */
};
/*
 * True once the handshake completed, with *info filled (info may be
 * NULL); false (and *info zeroed) for a plaintext session or before the
 * handshake completed.
 */
bool smtps_tls_info(const struct smtps_session *s, struct smtps_tls_info *info);
/* Plaintext bytes discarded after this session's STARTTLS (0: none). */
uint64_t smtps_tls_injected(const struct smtps_session *s);
/*
 * For test tools only (ringsink --tls-fault): append len raw bytes to the
 * output behind the replies queued so far, so that they leave in the same
 * write (e.g. plaintext behind the 220 to STARTTLS).  Returns 0, -ENOSPC,
 * or -ECONNRESET when the session is closing.
 */
int smtps_inject_raw(struct smtps_session *s, const char *buf, size_t len);

#endif
