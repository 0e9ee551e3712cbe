/* SPDX-License-Identifier: MIT */
/*
 * tst_fixture: the owner and the plaintext client shared by test_smtp_server
 * and test_smtp_server_limits (see tst_fixture.c).  Needs <cmocka.h>.
 */
#ifndef TST_FIXTURE_H
#define TST_FIXTURE_H

#include "ring.h"
#include "smtp_server.h"
#include "smtps_fixture.h"
#include "timer.h"

#define SMTPS_SCRATCH_TEST 16384

#define TST_OR_SKIP(x)                                                         \
	struct tst *x = *state;                                                \
	if (x == NULL)                                                         \
	skip()

/* The owner: records what the engine asks and answers as told. */
struct tst {
	struct ring *r;
	struct smtps_server *srv;
	struct smtps_config cfg;
	int cfd; /* client end */
	char in[65536];
	size_t in_len;
	/* owner behaviour */
	enum smtps_stage async_stage; /* answer this stage from a timer */
	int64_t async_ns;
	enum smtps_stage drop_stage; /* smtps_drop() at this stage */
	bool pause_on_body;          /* smtps_pause() in the next on_body */
	unsigned own_mode; /* body_buf: 0 NULL, 1 own[], 2 own[] every 2nd */
	char own[SMTPS_SCRATCH_TEST];
	unsigned own_asked, own_bodies;
	const char *own_given; /* what body_buf returned last */
	struct timer tm;
	struct smtps_session *sess;
	/* records */
	unsigned asked[SMTPS_STAGE__COUNT];
	char body[65536];
	size_t body_len;
	unsigned body_calls;
	struct smtps_data_info info;
	bool closed;
	enum smtps_close_why why;
	char helo[300];
	char rcpt[300];
};

/* The owner's callbacks (udata: the struct tst). */
extern const struct smtps_ops tst_ops;

/* cmocka setup: a struct tst with a ring and the default configuration,
 * or *state NULL when io_uring is unavailable (TST_OR_SKIP skips). */
int tst_setup(void **state);
/* Run the ring for ms milliseconds. */
void tst_drain(struct tst *x, int ms);
/* cmocka teardown: close the client, stop the server, free everything. */
int tst_teardown(void **state);
/* Start the server and one session over a socketpair. */
void tst_start(struct tst *x);
/* Write s from the client (whole, asserted). */
void tst_send(struct tst *x, const char *s);
/* Read what the server sent; returns false at EOF. */
bool tst_read(struct tst *x);
/* Run the ring until the client has want bytes, EOF, or 3 s. */
void tst_wait(struct tst *x, size_t want);
/* Expect exactly s next from the server, and consume it. */
void tst_expect(struct tst *x, const char *s);
/* Expect the connection to be closed (EOF) within 3 s, nothing else. */
void tst_expect_eof(struct tst *x);
/* Expect the stream to end with tail, then EOF. */
void tst_expect_eof_after(struct tst *x, const char *tail);
/* Expect the greeting, send EHLO, consume the whole 250 reply. */
void tst_ehlo(struct tst *x);

#endif
