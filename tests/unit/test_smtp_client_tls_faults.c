/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_client_tls_faults: STARTTLS refused and TLS going wrong in the
 * client session, on a real ring, against the scripted TLS peer of
 * ctls_fixture.c: 454 under both policies, 554 when required, the
 * handshake deadline, garbage in the handshake, the peer's close_notify
 * with trailing bytes, records split small and a large body, policy none,
 * STARTTLS not offered, a missing context; the memory of a TLS session and
 * the state tables.  Skips loudly without io_uring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
/* ASan's allocator (its header is not installed with gcc here) */
size_t __sanitizer_get_current_allocated_bytes(void);
#else
#include <malloc.h>
#endif

#include "ctls_fixture.h"
#include "smtp_client.h"
#include "tls.h"

static void
test_454_opportunistic_plaintext(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PLAIN_STARTTLS),
	    {CTLS_P_EXPECT, "STARTTLS\r\n", 0},
	    {CTLS_P_SEND, "454 4.7.0 TLS not available\r\n", 0},
	    {CTLS_P_EXPECT_1, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n",
	     0},
	    {CTLS_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CTLS_P_EXPECT, CTLS_B1_DOT, 0},
	    {CTLS_P_SEND, "250 ok\r\n", 0},
	    CTLS_QUIT_END,
	    {CTLS_P_END, NULL, 0},
	};

	ctls_client_ctx(f, TLS_VERIFY_NONE);
	(void)ctls_msg(f, 0, CTLS_B1);
	ctls_run(f, script);
	assert_int_equal(f->ndone, 1);
	speer_assert_res("b@y", &f->msgs[0].rc[0].res, SMTPC_R_DELIVERED, 250,
			 SMTPC_STAGE_DOT);
	assert_int_equal(f->done_info[0].state, SMTPC_TLS_S_REFUSED);
	assert_int_equal(f->done_info[0].code, 454);
	assert_string_equal(f->done_info[0].proto, "");
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

/* Refused under required: QUIT, reply at stage starttls, temporary. */
static void
refused_required(void **state, const char *reply, int code)
{
	FX_GET(f);
	const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PLAIN_STARTTLS),
	    {CTLS_P_EXPECT, "STARTTLS\r\n", 0},
	    {CTLS_P_SEND, reply, 0},
	    CTLS_QUIT_END,
	    {CTLS_P_END, NULL, 0},
	};

	f->o.tls = SMTPC_TLS_POLICY_REQUIRED;
	ctls_client_ctx(f, TLS_VERIFY_NONE);
	(void)ctls_msg(f, 0, CTLS_B1);
	ctls_run(f, script);
	assert_int_equal(f->next_calls, 0);
	assert_int_equal(f->why.fail, SMTPC_FAIL_REPLY);
	assert_int_equal(f->why.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->why.code, code);
	assert_int_equal(f->why.esc[1], 7);
	assert_int_equal(f->why.stage, SMTPC_STAGE_STARTTLS);
	assert_int_equal(f->close_info.state, SMTPC_TLS_S_REFUSED);
	assert_int_equal(f->close_info.code, code);
}

static void
test_454_required_fails(void **state)
{
	refused_required(state, "454 4.7.0 TLS not available\r\n", 454);
}

static void
test_554_required_fails_temporary(void **state)
{
	refused_required(state, "554 5.7.0 no TLS for you\r\n", 554);
}

static void
test_handshake_deadline(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    CTLS_STARTTLS_220,
	    {CTLS_P_SLEEP, NULL, 900}, /* the ClientHello is never answered */
	    {CTLS_P_END, NULL, 0},
	};
	int64_t t0 = speer_mono_ms();

	f->o.tmo.starttls = 300;
	ctls_client_ctx(f, TLS_VERIFY_NONE);
	ctls_run(f, script);
	assert_int_equal(f->why.fail, SMTPC_FAIL_TLS);
	assert_int_equal(f->why.err, -ETIMEDOUT);
	assert_int_equal(f->why.stage, SMTPC_STAGE_STARTTLS);
	assert_int_equal(f->close_info.state, SMTPC_TLS_S_FAILED);
	assert_true(f->closed_ms - t0 < 850);
	assert_int_equal(f->next_calls, 0);
}

static void
test_plaintext_into_handshake(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE), CTLS_STARTTLS_220,
	    {CTLS_P_SLEEP, NULL, 50},     {CTLS_P_SEND_RAW, "250 fake\r\n", 0},
	    {CTLS_P_DRAIN, NULL, 0},      {CTLS_P_END, NULL, 0},
	};

	ctls_client_ctx(f, TLS_VERIFY_NONE);
	(void)ctls_msg(f, 0, CTLS_B1);
	ctls_run(f, script);
	assert_int_equal(f->next_calls, 0);
	assert_int_equal(f->why.fail, SMTPC_FAIL_TLS);
	assert_int_equal(f->why.err, -EPROTO);
	assert_int_equal(f->close_info.state, SMTPC_TLS_S_FAILED);
}

static void
test_peer_close_notify_then_bytes(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    CTLS_TLS_EHLO(CTLS_CAPS_POST),
	    {CTLS_P_SLEEP, NULL, 50},
	    /* anything after close_notify must be dropped, not parsed */
	    {CTLS_P_CLOSE_NOTIFY, "250 fake\r\n", 0},
	    {CTLS_P_DRAIN, NULL, 0},
	    {CTLS_P_END, NULL, 0},
	};

	f->o.tmo.idle = 3000;
	ctls_client_ctx(f, TLS_VERIFY_NONE);
	ctls_run(f, script);
	assert_int_equal(f->why.fail, SMTPC_FAIL_RESET);
	assert_int_equal(f->why.err, -EPIPE);
	assert_int_equal(f->why.stage, SMTPC_STAGE_IDLE);
}

static void
test_split_records_and_large_body(void **state)
{
	FX_GET(f);
	size_t cap = 300u << 10, bl = 0, wl = 0;
	char *body = malloc(cap + 1), *wire = malloc(cap * 2);
	struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    CTLS_STARTTLS_220,
	    {CTLS_P_TLS, NULL, 0},
	    {CTLS_P_EXPECT, "EHLO client.example\r\n", 0},
	    {CTLS_P_SPLIT,
	     "250-mx.test.example\r\n250-PIPELINING\r\n250 SIZE 1000000\r\n",
	     0},
	    {CTLS_P_EXPECT_1, NULL, 0}, /* MAIL, set below */
	    {CTLS_P_SPLIT, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CTLS_P_EXPECT, wire, 0},
	    {CTLS_P_SPLIT, "250-2.0.0 queued\r\n250 2.0.0 as Z\r\n", 0},
	    CTLS_QUIT_END,
	    {CTLS_P_END, NULL, 0},
	};
	char mail[128];

	/* a "." at every 5th line start: stuffing across records and sends */
	for (unsigned n = 0; bl < cap - 200; n++) {
		char line[160];
		int ll =
		    snprintf(line, sizeof(line), "%s%u %.*s\r\n",
			     n % 5 == 0 ? "." : "", n, (int)(n % 101),
			     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrs"
			     "tuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"
			     "lmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");

		memcpy(body + bl, line, (size_t)ll);
		bl += (size_t)ll;
		if (n % 5 == 0)
			wire[wl++] = '.';
		memcpy(wire + wl, line, (size_t)ll);
		wl += (size_t)ll;
	}
	body[bl] = '\0';
	memcpy(wire + wl, ".\r\n", 4);
	snprintf(mail, sizeof(mail),
		 "MAIL FROM:<a@x> SIZE=%zu\r\nRCPT TO:<b@y>\r\nDATA\r\n", bl);
	for (unsigned i = 0; i < nitems(script); i++) {
		if (script[i].k == CTLS_P_EXPECT_1 && script[i].s == NULL)
			script[i].s = mail;
	}
	ctls_client_ctx(f, TLS_VERIFY_HOST);
	(void)ctls_msg(f, 0, body);
	ctls_run(f, script);
	free(body);
	free(wire);
	assert_int_equal(f->ndone, 1);
	speer_assert_res("b@y", &f->msgs[0].rc[0].res, SMTPC_R_DELIVERED, 250,
			 SMTPC_STAGE_DOT);
	assert_non_null(strstr(f->msgs[0].rc[0].res.text, "as Z"));
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_policy_none_never_starttls(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PLAIN_STARTTLS),
	    {CTLS_P_EXPECT_1, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n",
	     0},
	    {CTLS_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CTLS_P_EXPECT, CTLS_B1_DOT, 0},
	    {CTLS_P_SEND, "250 ok\r\n", 0},
	    CTLS_QUIT_END,
	    {CTLS_P_END, NULL, 0},
	};

	f->o.tls = SMTPC_TLS_POLICY_NONE; /* no context needed */
	(void)ctls_msg(f, 0, CTLS_B1);
	ctls_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->done_info[0].state, SMTPC_TLS_S_OFF);
	assert_int_equal(f->done_info[0].code, 0);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_opportunistic_not_offered_plaintext(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE("250-mx.test.example\r\n250 PIPELINING\r\n"),
	    {CTLS_P_EXPECT_1, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n",
	     0},
	    {CTLS_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CTLS_P_EXPECT, CTLS_B1_DOT, 0},
	    {CTLS_P_SEND, "250 ok\r\n", 0},
	    CTLS_QUIT_END,
	    {CTLS_P_END, NULL, 0},
	};

	ctls_client_ctx(f, TLS_VERIFY_NONE);
	(void)ctls_msg(f, 0, CTLS_B1);
	ctls_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->done_info[0].state, SMTPC_TLS_S_NOT_OFFERED);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_missing_context_is_local(void **state)
{
	FX_GET(f);

	f->o.tls = SMTPC_TLS_POLICY_REQUIRED; /* and no tls_ctx */
	f->s = smtpc_new(f->r, &f->o, &ctls_ops, f);
	assert_int_equal(smtpc_start(f->s), -EINVAL);
	while (!f->closed)
		assert_true(ring_run_once(f->r, 50 * 1000000LL) >= 0);
	assert_int_equal(f->why.fail, SMTPC_FAIL_LOCAL);
	assert_int_equal(f->why.err, -EINVAL);
}

/* ---- memory ------------------------------------------------------------- */

static size_t
heap_bytes(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

/* Client-side bytes: every client call's heap delta is the client's. */
struct mem_pump {
	struct tls_sess *c, *sv;
	long client_bytes;
};

#define MEM_CLIENT(mp, call)                                                   \
	do {                                                                   \
		size_t b0_ = heap_bytes();                                     \
		call;                                                          \
		(mp)->client_bytes += (long)heap_bytes() - (long)b0_;          \
	} while (0)

static void
mem_move(struct mem_pump *mp, bool to_server)
{
	const void *b;
	size_t len;
	struct tls_sess *from = to_server ? mp->c : mp->sv;
	struct tls_sess *to = to_server ? mp->sv : mp->c;

	for (;;) {
		int more;

		if (to_server)
			MEM_CLIENT(mp, more = tls_pending_out(from, &b, &len));
		else
			more = tls_pending_out(from, &b, &len);
		if (more != 1)
			return;
		if (to_server) {
			assert_int_equal(tls_feed(to, b, len), 0);
			MEM_CLIENT(mp, tls_consume_out(from, len));
		} else {
			MEM_CLIENT(mp,
				   assert_int_equal(tls_feed(to, b, len), 0));
			tls_consume_out(from, len);
		}
	}
}

/*
 * One client session against a server session, pumped in memory: returns
 * the client's live heap bytes once idle after the handshake and an EHLO
 * exchange; *left_r: what freeing the client session did not give back.
 */
static long
mem_session(struct tls_ctx *cctx, struct tls_ctx *sctx, long *left_r)
{
	struct mem_pump mp = {0};
	char buf[512];
	int rc = 0, n;
	long idle;

	assert_int_equal(tls_sess_new_server(sctx, &mp.sv), 0);
	MEM_CLIENT(
	    &mp, assert_int_equal(tls_sess_new_client(cctx, "mx.test.example",
						      "mx.test.example", &mp.c),
				  0));
	for (int i = 0; i < 20 && rc != 1; i++) {
		MEM_CLIENT(&mp, rc = tls_handshake(mp.c));
		mem_move(&mp, true);
		(void)tls_handshake(mp.sv);
		mem_move(&mp, false);
	}
	assert_int_equal(rc, 1);
	/* an EHLO exchange, as an idle session has had */
	MEM_CLIENT(&mp, assert_int_equal(tls_write(mp.c, "EHLO x\r\n", 8), 8));
	mem_move(&mp, true);
	assert_int_equal(tls_read(mp.sv, buf, sizeof(buf)), 8);
	assert_int_equal(
	    tls_write(mp.sv, CTLS_CAPS_POST, strlen(CTLS_CAPS_POST)),
	    (int)strlen(CTLS_CAPS_POST));
	mem_move(&mp, false);
	MEM_CLIENT(&mp, n = tls_read(mp.c, buf, sizeof(buf)));
	assert_int_equal(n, (int)strlen(CTLS_CAPS_POST));
	idle = mp.client_bytes;
	MEM_CLIENT(&mp, tls_sess_free(mp.c));
	tls_sess_free(mp.sv);
	*left_r = mp.client_bytes;
	return idle;
}

static void
test_tls_session_memory(void **state)
{
	struct tls_client_opts co = {.verify = TLS_VERIFY_HOST,
				     .ca_file = ctls_ca};
	struct tls_server_opts so = {.cert_file = ctls_mx,
				     .key_file = ctls_mx_key};
	struct tls_ctx *cctx, *sctx;
	char err[256];
	long first, idle, left;

	(void)state;
	assert_int_equal(tls_ctx_new_client(&co, &cctx, err, sizeof(err)), 0);
	assert_int_equal(tls_ctx_new_server(&so, &sctx, err, sizeof(err)), 0);
	/* the first ECC use of a thread builds wolfSSL's per-thread cache
	 * (~850 KB, once): the warm-up run absorbs it */
	first = mem_session(cctx, sctx, &left);
	idle = mem_session(cctx, sctx, &left);
	fprintf(stderr,
		"TLS client session idle after the handshake: %ld bytes "
		"(warm-up run: %ld), %ld left after free; "
		"sizeof(struct smtpc) = %zu\n",
		idle, first, left, smtpc_session_size());
	assert_true(idle > 0);
#if defined(__SANITIZE_ADDRESS__)
	assert_true(left <= 0); /* per-session memory is all given back */
#else
	assert_true(left < 4096); /* mallinfo2 counts chunks, roughly */
#endif
	/* measured 90,898 bytes (wolfSSL 5.5, TLSv1.3, RSA-2048 leaf):
	 * guard against growth */
	assert_true(idle < 128 * 1024);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

static void
test_tls_tables(void **state)
{
	(void)state;
	assert_string_equal(smtpc_tls_policy_str(SMTPC_TLS_POLICY_REQUIRED),
			    "required");
	assert_string_equal(smtpc_tls_policy_str(SMTPC_TLS_POLICY__COUNT), "?");
	assert_string_equal(smtpc_tls_state_str(SMTPC_TLS_S_INJECTED),
			    "injected");
	assert_string_equal(smtpc_tls_state_str(SMTPC_TLS_S__COUNT), "?");
	assert_string_equal(smtpc_state_str(SMTPC_S_TLS), "TLS");
	assert_string_equal(smtpc_state_str(SMTPC_S_SHUTDOWN), "SHUTDOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, ctls_setup, ctls_teardown)
	    T(test_454_opportunistic_plaintext),
	    T(test_454_required_fails),
	    T(test_554_required_fails_temporary),
	    T(test_handshake_deadline),
	    T(test_plaintext_into_handshake),
	    T(test_peer_close_notify_then_bytes),
	    T(test_split_records_and_large_body),
	    T(test_policy_none_never_starttls),
	    T(test_opportunistic_not_offered_plaintext),
	    T(test_missing_context_is_local),
	    cmocka_unit_test(test_tls_session_memory),
	    cmocka_unit_test(test_tls_tables),
#undef T
	};

	return cmocka_run_group_tests(tests, ctls_group_setup,
				      ctls_group_teardown);
}
