/* SPDX-License-Identifier: MIT */
/*
 * tls.h: TLS for STARTTLS, client and server side, over caller buffers.
 *
 * The only module that talks to wolfSSL (tls.c, tls_ctx.c, tls_cache.c
 * and tls_int.h; no other file includes its headers).  It does no socket
 * I/O at all: the session (on the ring) moves ciphertext between its
 * socket and a struct tls_sess:
 *
 *   recv CQE (n bytes)  -> tls_feed(t, buf, n)        (copied; buf is free)
 *                          tls_handshake(t) / tls_read(t, ...)
 *   after ANY tls_* call -> tls_pending_out(t, &p, &len): if 1, send p[len]
 *   send CQE (n bytes)  -> tls_consume_out(t, n), then tls_pending_out again
 *   recv CQE 0 (EOF)    -> tls_feed_eof(t)
 *
 * Policies live in a struct tls_ctx (one per policy, made at start-up or
 * reload: client opportunistic/verify-ca/verify-host, and the server with
 * its certificate).  Resumption on the client side goes through a struct
 * tls_cache keyed by a string the caller builds (MX host, port, binding).
 *
 * Errors are -errno, and every session keeps the first one (sticky) with a
 * human-readable reason from tls_sess_error():
 *   -EKEYREJECTED  the peer certificate failed verification (verify=ca|host)
 *   -EPROTO        anything else the TLS layer refused: garbage or tampered
 *                  records, version or cipher mismatch, a fatal alert
 *   -ECONNRESET    transport EOF (tls_feed_eof) without close_notify
 *   -EPIPE         the peer sent close_notify (orderly end of the stream)
 *   -ENOBUFS       a buffer went over its cap (see buf_cap)
 *   -ENOMEM        wolfSSL could not allocate
 * Single-threaded, like the rest of ringmta.
 */
#ifndef RINGMTA_TLS_H
#define RINGMTA_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"

/* Default cap on each session's buffered ciphertext, in and out. */
#define TLS_BUF_CAP_DEFAULT (256u * 1024u)

enum tls_verify {
	TLS_VERIFY_NONE = 0, /* encrypt; record whether the peer is trusted */
	TLS_VERIFY_CA,       /* the chain must verify against the CA store */
	TLS_VERIFY_HOST,     /* the chain and the name given per session */
	TLS_VERIFY__COUNT    /* must stay last */
};

enum tls_version {
	TLS_V_ANY = 0, /* as a minimum: TLSv1.2; as a maximum: the newest */
	TLS_V_1_2,
	TLS_V_1_3,
	TLS_V__COUNT /* must stay last */
};

/* "none", "ca", "host"; "?" outside the enum. */
const char *tls_verify_str(enum tls_verify v);
/* "any", "TLSv1.2", "TLSv1.3"; "?" outside the enum. */
const char *tls_version_str(enum tls_version v);

struct tls_client_opts {
	enum tls_verify verify;
	const char *ca_file; /* PEM bundle; NULL: the system trust store */
	enum tls_version min_version;
	enum tls_version max_version;
	const char *ciphers; /* wolfSSL cipher list; NULL or "": ours
			      * (tls_ctx.c: forward-secret, ChaCha20 first) */
	size_t buf_cap;      /* 0: TLS_BUF_CAP_DEFAULT */
};

struct tls_server_opts {
	const char *cert_file; /* PEM chain, leaf first */
	const char *key_file;  /* PEM private key matching the leaf */
	enum tls_version min_version;
	enum tls_version max_version;
	const char *ciphers; /* as for the client */
	size_t buf_cap;      /* 0: TLS_BUF_CAP_DEFAULT */
};

struct tls_ctx;
struct tls_sess;
struct tls_cache;

/*
 * Build a client policy: TLSv1.2 at least, session tickets on, and the CA
 * store (ca_file, else the system store) loaded for every verify mode, so
 * that opportunistic sessions can still report whether the peer was
 * trusted.  With verify=none a system store that fails to load is not an
 * error (nothing is then trusted); a ca_file always must load.  Returns 0
 * with *ctx_r set, or -EINVAL (bad option, unusable CA file or cipher
 * list), -ENOENT/-EACCES (ca_file unreadable), -ENOMEM, with a reason in
 * err[err_size] (always NUL-terminated when err_size > 0).
 */
int tls_ctx_new_client(const struct tls_client_opts *opts,
		       struct tls_ctx **ctx_r, char *err,
		       size_t err_size) ATTR_WUR;
/*
 * Build a server policy (listener, ringsink) from a certificate chain and
 * its key; the key must match the leaf.  Returns as tls_ctx_new_client().
 */
int tls_ctx_new_server(const struct tls_server_opts *opts,
		       struct tls_ctx **ctx_r, char *err,
		       size_t err_size) ATTR_WUR;
/*
 * Drop the owner's reference (NULL is a no-op).  Sessions made from ctx
 * keep it alive, so a reload may free the old contexts while their
 * sessions finish.
 */
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * A client session.  sni_host (may be NULL) is sent as SNI unless it is an
 * IP literal; verify_name is the name the certificate must carry (needed
 * for verify=host, also checked but never enforced with verify=none, and
 * ignored with verify=ca).  One trailing dot is ignored in both.  Returns
 * 0 with *sess_r, -EINVAL (server ctx, verify=host without a name, a name
 * over 253 bytes) or -ENOMEM.  The session references ctx.
 */
int tls_sess_new_client(struct tls_ctx *ctx, const char *sni_host,
			const char *verify_name,
			struct tls_sess **sess_r) ATTR_WUR;
/* A server session; returns as tls_sess_new_client() (-EINVAL: client ctx). */
int tls_sess_new_server(struct tls_ctx *ctx, struct tls_sess **sess_r) ATTR_WUR;
/*
 * Free the session and its buffers (NULL is a no-op).  The caller must not
 * free while the kernel still holds tls_pending_out() bytes.
 */
void tls_sess_free(struct tls_sess *sess);

/*
 * Ciphertext received from the socket: len bytes are copied (buf is free on
 * return).  Returns 0, -ENOBUFS when the buffered input would pass the cap
 * (fatal: the caller must call tls_read/tls_handshake between recvs), -EPIPE
 * after the peer's close_notify (the bytes are dropped: the stream is
 * dead), or the session's earlier error.
 */
int tls_feed(struct tls_sess *sess, const void *buf, size_t len);
/* The socket reached EOF: once the buffered input runs out, the session
 * fails with -ECONNRESET (truncation) unless close_notify came first. */
void tls_feed_eof(struct tls_sess *sess);

/*
 * Ciphertext to send.  Returns 1 with *buf_r and *len_r set, or 0 when nothing
 * is pending.  The bytes stay valid and unmoved (the kernel may own them)
 * until tls_consume_out() has consumed all of them, whatever other tls_*
 * calls happen meanwhile; new output queues behind them.  Output may be
 * pending after a failure too (an alert): sending it is optional.
 */
int tls_pending_out(struct tls_sess *sess, const void **buf_r, size_t *len_r);
/* n bytes of the last tls_pending_out() block were sent (n <= its length). */
void tls_consume_out(struct tls_sess *sess, size_t n);

/*
 * Advance the handshake with the input fed so far.  Returns 1 when it is
 * complete (and on every later call), 0 when more input is needed (send
 * the pending output, then recv), or the session's error.  The client
 * starts by producing its ClientHello: call this once before the first
 * recv.  Bytes fed before the handshake are handshake bytes: plaintext
 * there fails it (-EPROTO) and can never come out of tls_read().
 */
int tls_handshake(struct tls_sess *sess);

/*
 * Decrypted application data: returns 1..len bytes, 0 when more ciphertext
 * is needed, -ENOTCONN before the handshake completes, -EPIPE once the peer
 * sent close_notify, -ECONNRESET on EOF without it, or another error.  A
 * record may hold more than len bytes: call again until it returns 0.
 * Reading also processes post-handshake messages (TLSv1.3 session tickets,
 * key updates), which may queue output.
 */
int tls_read(struct tls_sess *sess, void *buf, size_t len);

/*
 * Encrypt len bytes into the output buffer.  Returns len (all of it, or
 * nothing), -ENOBUFS (not sticky, nothing written) when the pending output
 * plus these records would pass the cap: wait for sends to complete, then
 * retry; -ENOTCONN before the handshake, -EPIPE after tls_shutdown() or
 * the peer's close_notify, or the session's error.
 */
int tls_write(struct tls_sess *sess, const void *buf, size_t len);

/*
 * Queue close_notify (once; later calls return 0).  Returns 0, or the
 * session's error.  Before the handshake completed nothing is sent.  The
 * peer's close_notify is not awaited: for SMTP, QUIT/221 already ended the
 * conversation.
 */
int tls_shutdown(struct tls_sess *sess);

/* The first error's reason, e.g. "certificate verify failed: peer subject
 * name mismatch (-322)"; NULL while the session is healthy. */
const char *tls_sess_error(const struct tls_sess *sess);
/* The session's sticky error (0 while healthy). */
int tls_sess_errno(const struct tls_sess *sess);
/* True once tls_handshake() returned 1. */
bool tls_sess_established(const struct tls_sess *sess);
/* "TLSv1.3", "TLSv1.2"; NULL before the handshake completed. */
const char *tls_sess_protocol(const struct tls_sess *sess);
/* IANA name, e.g. "TLS_AES_128_GCM_SHA256"; NULL before completion. */
const char *tls_sess_cipher(const struct tls_sess *sess);
/* The key exchange group as wolfSSL names it ("X25519", "SECP256R1", ...);
 * NULL before completion or when wolfSSL names none (e.g. TLSv1.2 DHE). */
const char *tls_sess_group(const struct tls_sess *sess);
/*
 * Client: the peer's chain verified against the CA store and, when a
 * verify_name was checked, the name matched.  A resumed session carries the
 * result of the handshake it resumes.  Always false on the server side
 * (client certificates are not requested).
 */
bool tls_sess_peer_verified(const struct tls_sess *sess);
/* Why the peer is not verified ("unable to get local issuer certificate",
 * "peer subject name mismatch", ...); NULL when verified. */
const char *tls_sess_verify_error(const struct tls_sess *sess);
/* The handshake resumed an earlier session (ticket or session id). */
bool tls_sess_resumed(const struct tls_sess *sess);
/* Server: the SNI host name the client sent; NULL if none. */
const char *tls_sess_sni(const struct tls_sess *sess);

/*
 * Client session cache for resumption: at most max_entries (>= 1) entries,
 * least recently used evicted first, each expiring ttl_ns after it was
 * stored (times are the caller's monotonic clock, e.g. ring_now()).  The
 * cache keeps each session serialized (about 1 KB) and frees it on
 * eviction.
 */
struct tls_cache *tls_cache_new(size_t max_entries, int64_t ttl_ns);
/* Free the cache and every entry (NULL is a no-op). */
void tls_cache_free(struct tls_cache *cache);
/*
 * Store sess's resumable state under key (replacing an older entry).  Call
 * it after the first tls_read() that returned data, since TLSv1.3 tickets
 * arrive after the handshake.  Returns 1 when stored, 0 when there is
 * nothing resumable (no ticket yet, handshake incomplete, failed session,
 * server side).
 */
int tls_cache_put(struct tls_cache *cache, const char *key,
		  struct tls_sess *sess, int64_t now_ns);
/*
 * Offer the entry under key to a fresh client session, before its first
 * tls_handshake().  Returns 1 when offered (the server may still refuse:
 * see tls_sess_resumed()), 0 when there is no usable entry (none, expired,
 * made by another tls_ctx, or refused by wolfSSL: such entries are
 * dropped).
 */
int tls_cache_get(struct tls_cache *cache, const char *key,
		  struct tls_sess *sess, int64_t now_ns);
/* Forget key (e.g. after a failed handshake with a resumed session). */
void tls_cache_del(struct tls_cache *cache, const char *key);
/* Entries held (expired ones included until looked up or evicted). */
size_t tls_cache_count(const struct tls_cache *cache);

#endif
