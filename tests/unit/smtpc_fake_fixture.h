/* SPDX-License-Identifier: MIT */
/*
 * smtpc_fake_fixture.h: the fixture of test_smtp_client_fake.c and
 * test_smtp_client_fake_bytes.c: one client session on the fake ring
 * (tests/fakes/fake_ring.c), its messages and what its callbacks saw, and
 * the steps that walk it to a state (connect, EHLO, ready, the pipelined
 * group, the body) by completing operations by hand.  Owns the session and
 * the messages; tests only borrow.
 */
#ifndef RINGMTA_SMTPC_FAKE_FIXTURE_H
#define RINGMTA_SMTPC_FAKE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_ring.h"
#include "ring.h"
#include "smtp_client.h"
#include "timer.h"

#define FFX_MS        1000000LL
#define FFX_STAGE_ANY SMTPC_STAGE__COUNT /* stage not checked: see the top */

#define FFX_BANNER "220 mx.example ESMTP\r\n"
#define FFX_EHLO   "EHLO client.example\r\n"
#define FFX_EHLO_PIPE                                                          \
	"250-mx.example hello\r\n250-PIPELINING\r\n250-8BITMIME\r\n"           \
	"250 ENHANCEDSTATUSCODES\r\n"
#define FFX_GROUP                                                              \
	"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"             \
	"RCPT TO:<c@example.net>\r\nDATA\r\n"
#define FFX_BODY_IN  "Hello\r\n.dot\r\n"
#define FFX_BODY_OUT "Hello\r\n..dot\r\n.\r\n"

struct ffx_tmsg {
	struct smtpc_msg m;
	struct smtpc_rcpt rc[2];
};

struct fx {
	struct ring *r;
	struct smtpc_opts o;
	struct smtpc *s;
	struct ffx_tmsg msg[2];
	unsigned nmsg, taken, done, closed;
	struct smtpc_result why;
};

/* Message t: sender, recipients and the body BODY_IN, not yet offered. */
void ffx_msg_init(struct ffx_tmsg *t);
/* cmocka setup: the fake ring, options and messages; *state = the
 * fixture.  0. */
int ffx_setup(void **state);
/* Make and start a new session (the previous one must have closed). */
void ffx_start(struct fx *f);
/* Cancel if still open, deliver every cancelled completion, reap. */
void ffx_end(struct fx *f);
/* cmocka teardown: end the session (ffx_end) and free everything; 0. */
int ffx_teardown(void **state);
/* The armed send must hold exactly want; complete it in full. */
void ffx_expect_sent(const char *want);
/* Complete the connect (the session then waits for the banner). */
void ffx_connect(struct fx *f);
/* Connect, greet, EHLO sent; the reply is the test's. */
void ffx_to_ehlo(struct fx *f);
/* nmsg messages offered; connect, greet, EHLO answered with PIPELINING:
 * the session must then be in state want. */
void ffx_to_ready(struct fx *f, unsigned nmsg, enum smtpc_state want);
/* Up to the pipelined group of msg[0] being armed (not completed). */
void ffx_to_group(struct fx *f);
/* Up to the body read being armed after "354". */
void ffx_to_body(struct fx *f);
/* The session closed once with fail at stage (FFX_STAGE_ANY: any) and
 * reply code. */
void ffx_expect_closed(struct fx *f, enum smtpc_fail fail,
		       enum smtpc_stage stage, int err, int code);
/* The body's wire bytes, written plainly: "." doubled at a line start,
 * then ".\r\n"; out holds 2 * len + 3 bytes.  Returns the length. */
size_t ffx_stuffed(const char *in, size_t len, char *out);

#endif
