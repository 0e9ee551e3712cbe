/* SPDX-License-Identifier: MIT */
/*
 * tls_int.h: what the pieces of the TLS module share (tls.c: sessions and
 * their byte path; tls_ctx.c: policies and certificate checks;
 * tls_cache.c: client resumption).  Only these three files include it,
 * and with it wolfSSL's headers; nothing outside sees wolfSSL.
 */
#ifndef RINGMTA_TLS_INT_H
#define RINGMTA_TLS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h> /* must precede every other wolfSSL header */
#include <wolfssl/ssl.h>

#include "tls.h"

#define TLS_REC_MAX      16384u /* plaintext bytes per record */
#define TLS_REC_OVERHEAD 256u   /* header, IV, MAC/tag, padding: generous */
#define TLS_NAME_MAX     253u   /* DNS name without the trailing dot */
#define TLS_ERR_MAX      256u
#define TLS_BUF_MIN      4096u

/* Bytes p[off .. off + len) are live; cap is the allocation. */
struct tls_buf {
	unsigned char *p;
	size_t off;
	size_t len;
	size_t cap;
};

struct tls_ctx {
	WOLFSSL_CTX *wctx;
	uint64_t
	    id; /* cache entries only resume under the ctx that made them */
	unsigned refs;
	bool server;
	enum tls_verify verify;
	size_t buf_cap;
};

struct tls_sess {
	struct tls_ctx *ctx;
	WOLFSSL *ssl;
	struct tls_buf in; /* ciphertext fed, not yet read by wolfSSL */
	struct tls_buf
	    out[2]; /* out[out_send] is handed out; the other fills */
	unsigned out_send;
	int err; /* first error, sticky */
	bool eof;
	bool started; /* tls_handshake() ran: too late to offer a session */
	bool done;
	bool shut_sent;
	bool peer_closed; /* close_notify received */
	bool name_checked;
	bool verify_seen;   /* the verify callback ran at least once */
	bool verify_failed; /* ... and reported a failure */
	bool verified;      /* final result, set when the handshake completes */
	bool resume_offered;
	bool resume_verified; /* from the cache entry offered */
	bool resumed;
	const char *cipher;
	char resume_verr[TLS_ERR_MAX];
	char verr[TLS_ERR_MAX];
	char errmsg[TLS_ERR_MAX];
	char sni[TLS_NAME_MAX + 1];
};

/* tls.c: wolfSSL's I/O callbacks over the session's buffers (arg: the
 * struct tls_sess).  The send side always takes everything (or fails the
 * session with -ENOBUFS at the cap), so wolfSSL never sees WANT_WRITE. */
int tls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg);
int tls_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg);

/* tls_ctx.c: drop one reference (the owner's or a session's); the last
 * one frees the wolfSSL context. */
void tls_ctx_unref(struct tls_ctx *ctx);

#endif
