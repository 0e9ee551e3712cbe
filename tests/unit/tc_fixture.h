/* SPDX-License-Identifier: MIT */
/*
 * tc_fixture: the owner and the TLS client of test_smtp_server_tls (see
 * tc_fixture.c).  Needs <cmocka.h>.
 */
#ifndef TC_FIXTURE_H
#define TC_FIXTURE_H

#include "ring.h"
#include "smtp_server.h"
#include "smtps_fixture.h"
#include "timer.h"
#include "tls.h"

#define TC_BODY_MAX (256 * 1024)

#define TC_OR_SKIP(x)                                                          \
	struct tc *x = *state;                                                 \
	if (x == NULL)                                                         \
	skip()

/* The owner (records, answers as told) and the client. */
struct tc {
	struct ring *r;
	struct smtps_server *srv;
	struct smtps_config cfg;
	struct smtps_session *sess;
	/* owner behaviour */
	unsigned starttls_code; /* reply to STARTTLS (0: 220) */
	int64_t starttls_async; /* > 0: answer STARTTLS from a timer */
	const char *inject;     /* smtps_inject_raw() after the 220 */
	struct timer tm;
	/* owner records */
	unsigned asked[SMTPS_STAGE__COUNT];
	unsigned tls_up;
	struct smtps_tls_info ti;     /* at on_tls */
	struct smtps_tls_info ti_dot; /* at on_data_end */
	char mail[300];
	char *body;
	size_t body_len;
	bool closed;
	enum smtps_close_why why;
	/* client */
	int cfd;
	struct tls_ctx *cctx;
	struct tls_sess *ct;
	int hs_rc, rd_rc;
	bool eof;
	char in[65536];
	size_t in_len;
};

/* The owner's callbacks (udata: the struct tc). */
extern const struct smtps_ops tc_ops;

/* cmocka group setup and teardown: certificates in a temporary
 * directory (tls_fixture.sh) and the server's TLS context; removed. */
int tc_group_setup(void **state);
int tc_group_teardown(void **state);
/* cmocka setup: a struct tc with a ring and the default configuration
 * with TLS, or *state NULL when io_uring is unavailable (TC_OR_SKIP). */
int tc_setup(void **state);
/* Run the ring for ms milliseconds. */
void tc_drain(struct tc *x, int ms);
/* cmocka teardown: close the client, stop the server, free everything. */
int tc_teardown(void **state);
/* Start the server and one session over a socketpair (x->cfd). */
void tc_start(struct tc *x);
/* Send s (encrypted once the client has TLS); large s in pieces. */
void tc_send_n(struct tc *x, const char *s, size_t n);
/* tc_send_n() of the string s. */
void tc_send(struct tc *x, const char *s);
/* Expect exactly s next from the server, and consume it. */
void tc_expect(struct tc *x, const char *s);
/* Expect the server to close (EOF) within 3 s. */
void tc_expect_eof(struct tc *x);
/* A client context: verify the test CA, TLS up to maxv. */
void tc_client_ctx(struct tc *x, enum tls_version maxv);
/* After the 220: the client handshake, until done (asserts success). */
void tc_handshake(struct tc *x);
/* EHLO and its whole 250 reply (STARTTLS offered or not, asserted). */
void tc_ehlo(struct tc *x, bool expect_starttls);
/* Greeting, EHLO, STARTTLS, handshake. */
void tc_to_tls(struct tc *x);

#endif
