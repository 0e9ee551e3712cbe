/* SPDX-License-Identifier: MIT */
/*
 * ctls_fixture.h: the fixture of test_smtp_client_tls.c and
 * test_smtp_client_tls_faults.c: the test certificates (tls_fixture.sh, in
 * a directory made by the group setup), a scripted peer thread on
 * 127.0.0.1 that speaks TLS through tls.c's server side (its own tls_ctx),
 * and one client session on a real ring with the TLS facts its callbacks
 * saw.  Without io_uring the setup leaves *state NULL and FX_GET() skips,
 * loudly.  Owns the ring, the peer and the contexts; tests only borrow.
 */
#ifndef RINGMTA_CTLS_FIXTURE_H
#define RINGMTA_CTLS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "scripted_peer.h"
#include "smtp_client.h"
#include "timer.h"
#include "tls.h"

/* Paths of the CA, the server chain and key (mx.test.example), and a
 * self-signed certificate and key; set by ctls_group_setup. */
extern char ctls_ca[128], ctls_mx[128], ctls_mx_key[128], ctls_self[128],
    ctls_self_key[128];

enum ctls_pk {
	CTLS_P_END = 0,
	CTLS_P_SEND,         /* s, through TLS once it is on */
	CTLS_P_SEND_RAW,     /* s in plaintext, even with TLS on (ms: length) */
	CTLS_P_SPLIT,        /* s one byte per TLS record (per write) */
	CTLS_P_EXPECT,       /* read exactly s (any split) */
	CTLS_P_EXPECT_1,     /* s must arrive in ONE recv */
	CTLS_P_SLEEP,        /* ms */
	CTLS_P_TLS,          /* server handshake must succeed */
	CTLS_P_TLS_FAIL,     /* server handshake must fail */
	CTLS_P_CLOSE_NOTIFY, /* our close_notify, then s in plaintext */
	CTLS_P_EOF,          /* nothing more; with TLS, close_notify first */
	CTLS_P_DRAIN,        /* read and ignore up to EOF */
	CTLS_P_NEXT_CONN,    /* close, accept the next connection */
};

struct ctls_step {
	enum ctls_pk k;
	const char *s;
	int ms;
};

struct ctls_peer {
	struct speer sp;
	const struct ctls_step *script;
	const char *cert, *key;
	enum tls_version max;
	struct tls_ctx *ctx; /* the thread's own, made and freed there */
	struct tls_sess *t;
	char sni[2][64];
	char proto[2][16];
	bool resumed[2];
	bool close_notify; /* the client's close_notify arrived */
	size_t stash_len;
	char stash[1 << 16]; /* plaintext received, not yet expected */
};

/* TLS facts copied out of the callbacks (the strings die with s). */
struct ctls_tinfo {
	enum smtpc_tls_state state;
	int code;
	bool verified, resumed;
	char proto[16], cipher[64], verr[128], error[256];
};

struct ctls_tmsg {
	struct smtpc_msg m;
	struct smtpc_rcpt rc[4];
};

struct fx {
	struct ring *r;
	struct ctls_peer peer;
	struct smtpc_opts o;
	struct smtpc *s;
	struct tls_ctx *cctx;
	struct tls_cache *cache;
	struct ctls_tmsg msgs[4];
	struct smtpc_msg *q[4];
	unsigned nq, qhead, next_calls, ndone;
	struct ctls_tinfo done_info[4], close_info;
	bool closed;
	struct smtpc_result why;
	int64_t closed_ms;
};

/* on_next / on_done / on_close of the session, recording into struct fx. */
extern const struct smtpc_ops ctls_ops;

/* cmocka group setup: make the certificates in a new directory (-1 when
 * tls_fixture.sh fails) / remove it. */
int ctls_group_setup(void **state);
int ctls_group_teardown(void **state);
/* cmocka setup: ring, listener, options (opportunistic, the mx
 * certificate); *state = the fixture or NULL without io_uring.  0. */
int ctls_setup(void **state);
/* cmocka teardown: stop the ring and the listener, free messages and
 * contexts; 0. */
int ctls_teardown(void **state);
/* The client policy context (made here, in the main thread). */
void ctls_client_ctx(struct fx *f, enum tls_verify verify);
/* Queue message i (one recipient b@y) with body; returns it. */
struct smtpc_msg *ctls_msg(struct fx *f, unsigned i, const char *body);
/* Start the peer thread on script / wait for it to end. */
void ctls_peer_start(struct fx *f, const struct ctls_step *script);
void ctls_peer_join(struct fx *f);
/* One session, from start to on_close. */
void ctls_session(struct fx *f);
/* ctls_peer_start, ctls_session, ctls_peer_join. */
void ctls_run(struct fx *f, const struct ctls_step *script);

/* ---- script pieces --------------------------------------------------------
 */

#define CTLS_BANNER "220 mx.test.example ESMTP\r\n"
/* Before TLS: SIZE 10 (our bodies are larger) and no 8BITMIME, so a
 * delivery proves that only the post-TLS capabilities were used. */
#define CTLS_CAPS_PRE                                                          \
	"250-mx.test.example\r\n250-PIPELINING\r\n250-SIZE 10\r\n"             \
	"250 STARTTLS\r\n"
#define CTLS_CAPS_POST                                                         \
	"250-mx.test.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n"            \
	"250 SIZE 100000\r\n"
/* A server that (wrongly) offers STARTTLS again after TLS. */
#define CTLS_CAPS_POST_AGAIN                                                   \
	"250-mx.test.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n"            \
	"250-STARTTLS\r\n250 SIZE 100000\r\n"
#define CTLS_CAPS_PLAIN_STARTTLS                                               \
	"250-mx.test.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
#define CTLS_EHLO_PRE(caps)                                                    \
	{CTLS_P_SEND, CTLS_BANNER, 0},                                         \
	    {CTLS_P_EXPECT, "EHLO client.example\r\n", 0},                     \
	{                                                                      \
		CTLS_P_SEND, caps, 0                                           \
	}
#define CTLS_STARTTLS_220                                                      \
	{CTLS_P_EXPECT, "STARTTLS\r\n", 0},                                    \
	{                                                                      \
		CTLS_P_SEND, "220 2.0.0 ready\r\n", 0                          \
	}
#define CTLS_TLS_EHLO(caps)                                                    \
	CTLS_STARTTLS_220, {CTLS_P_TLS, NULL, 0},                              \
	    {CTLS_P_EXPECT, "EHLO client.example\r\n", 0},                     \
	{                                                                      \
		CTLS_P_SEND, caps, 0                                           \
	}
#define CTLS_QUIT_END                                                          \
	{CTLS_P_EXPECT, "QUIT\r\n", 0}, {CTLS_P_SEND, "221 2.0.0 bye\r\n", 0}, \
	{                                                                      \
		CTLS_P_EOF, NULL, 0                                            \
	}

/* 8-bit, with lines that need dot-stuffing and no final CRLF. */
#define CTLS_B8      "Subject: \xc3\xa9\r\n\r\n.\r\n..x\r\nend"
#define CTLS_B8_WIRE "Subject: \xc3\xa9\r\n\r\n..\r\n...x\r\nend\r\n.\r\n"
#define CTLS_B8_MAIL                                                           \
	"MAIL FROM:<a@x> SIZE=26 BODY=8BITMIME\r\nRCPT TO:<b@y>\r\nDATA\r\n"
#define CTLS_B1      "Subject: t\r\n\r\nhello\r\n"
#define CTLS_B1_MAIL "MAIL FROM:<a@x> SIZE=21\r\nRCPT TO:<b@y>\r\nDATA\r\n"
#define CTLS_B1_DOT  CTLS_B1 ".\r\n"

#endif
