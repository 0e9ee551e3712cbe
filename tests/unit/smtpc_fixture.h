/* SPDX-License-Identifier: MIT */
/*
 * smtpc_fixture.h: the fixture of test_smtp_client.c and
 * test_smtp_client_conn.c: a scripted SMTP peer thread on 127.0.0.1 with
 * blocking sockets (expect these bytes, send these bytes, split at every
 * byte, dribble, reset) and one client session on a real ring with what
 * its callbacks saw.  Without io_uring the setup leaves *state NULL and
 * FX_GET() skips, loudly.  Owns the ring, the peer and the messages; tests
 * only borrow.
 */
#ifndef RINGMTA_SMTPC_FIXTURE_H
#define RINGMTA_SMTPC_FIXTURE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "scripted_peer.h"
#include "smtp_client.h"
#include "timer.h"

enum cfx_pk {
	CFX_P_END = 0,
	CFX_P_SEND,      /* send s in one write */
	CFX_P_SPLIT,     /* send s one byte per write */
	CFX_P_DRIBBLE,   /* one byte every ms milliseconds, stop on error */
	CFX_P_EXPECT,    /* read exactly s (any split) */
	CFX_P_EXPECT_1,  /* s must arrive in ONE read */
	CFX_P_SLEEP,     /* ms */
	CFX_P_RESET,     /* close with RST */
	CFX_P_EOF,       /* the client closes */
	CFX_P_EOF_NODOT, /* bytes then EOF, and no end of data among them */
};

struct cfx_step {
	enum cfx_pk k;
	const char *s;
	int ms;
};

struct cfx_peer {
	struct speer sp;
	const struct cfx_step *script;
	char peer_ip[INET6_ADDRSTRLEN];
};

struct cfx_tmsg {
	struct smtpc_msg m;
	struct smtpc_rcpt rc[48];
};

struct fx {
	struct ring *r;
	struct cfx_peer peer;
	struct smtpc_opts o;
	struct smtpc *s;
	struct cfx_tmsg msgs[4];
	struct smtpc_msg *q[4];
	unsigned nq, qhead, next_calls;
	struct smtpc_msg *done[4];
	unsigned ndone;
	bool closed;
	struct timespec closed_at;
	struct smtpc_result why;
	struct timer late; /* adds msgs[late_idx] and kicks */
	unsigned late_idx;
};

/* on_next / on_done / on_close of the session, recording into struct fx. */
extern const struct smtpc_ops cfx_ops;
/* Recipient lists {"b@y", "c@y"} and {"b@y"} (NULL-terminated) and a
 * 21-byte body. */
extern const char *const cfx_to2[];
extern const char *const cfx_to1[];
extern const char cfx_body1[];

/* cmocka setup: ring, listener, options; *state = the fixture or NULL
 * without io_uring.  0. */
int cfx_setup(void **state);
/* cmocka teardown: stop the ring and the listener, free the messages; 0. */
int cfx_teardown(void **state);
/* Queue message i: from, up to 48 recipients (NULL-terminated), body. */
struct smtpc_msg *cfx_msg(struct fx *f, unsigned i, const char *body,
			  size_t len, const char *const *to);
/* Put m on the queue the session takes its next message from. */
void cfx_queue(struct fx *f, struct smtpc_msg *m);
/* Run the script against a new session until it closes. */
void cfx_run(struct fx *f, const struct cfx_step *script);
/* Recipient rc ended with status st, reply code and stage (cmocka). */
void cfx_assert_rcpt(const struct smtpc_rcpt *rc, enum smtpc_status st,
		     int code, enum smtpc_stage stage);
/* Message 0 (body, to b@y) through script in one session, which must
 * deliver it: one on_msg_done, the recipient delivered with 250 at ".". */
void cfx_deliver_one(struct fx *f, const struct cfx_step *script,
		     const char *body);

/* ---- script pieces --------------------------------------------------------
 */

#define CFX_BANNER_EHLO(caps)                                                  \
	{CFX_P_SEND, "220 mx.test ESMTP\r\n", 0},                              \
	    {CFX_P_EXPECT, "EHLO client.example\r\n", 0},                      \
	{                                                                      \
		CFX_P_SEND, caps, 0                                            \
	}
#define CFX_CAPS_PIPE                                                          \
	"250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000\r\n"
#define CFX_QUIT_END                                                           \
	{CFX_P_EXPECT, "QUIT\r\n", 0}, {CFX_P_SEND, "221 bye\r\n", 0},         \
	{                                                                      \
		CFX_P_EOF, NULL, 0                                             \
	}

#define CFX_B1LEN "21"
#define CFX_GROUP2                                                             \
	"MAIL FROM:<a@x> SIZE=" CFX_B1LEN                                      \
	"\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\n"
#define CFX_GROUP1                                                             \
	"MAIL FROM:<a@x> SIZE=" CFX_B1LEN "\r\nRCPT TO:<b@y>\r\nDATA\r\n"
/* Without PIPELINING: MAIL, RCPT (b@y) and DATA answered one by one, up
 * to the 354. */
#define CFX_TXN_LOCKSTEP                                                       \
	{CFX_P_EXPECT_1, "MAIL FROM:<a@x>\r\n", 0},                            \
	    {CFX_P_SEND, "250 ok\r\n", 0},                                     \
	    {CFX_P_EXPECT_1, "RCPT TO:<b@y>\r\n", 0},                          \
	    {CFX_P_SEND, "250 ok\r\n", 0}, {CFX_P_EXPECT_1, "DATA\r\n", 0},    \
	{                                                                      \
		CFX_P_SEND, "354 go\r\n", 0                                    \
	}

/* body1 with its end of data. */
#define CFX_BODYDOT "Subject: t\r\n\r\nhello\r\n.\r\n"

#endif
