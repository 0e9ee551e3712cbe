/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_server_tls: STARTTLS in the inbound ESMTP engine, on a real
 * ring over a socketpair, the client side driven by tls.c client sessions
 * in this process.  STARTTLS, EHLO again and a message over TLSv1.3 and
 * TLSv1.2; pipelined plaintext behind STARTTLS discarded and counted (in
 * the same write, and while the owner's reply is pending); a pipelined
 * batch over TLS in one send; double STARTTLS, arguments, a transaction;
 * garbage, EOF and timeout in the handshake; tls_required; the owner
 * refusing STARTTLS; raw injection for test tools; idle timeout and QUIT
 * under TLS with close_notify.  Certificates come from tls_fixture.sh.
 * Skips (loudly) where io_uring is unavailable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ring.h"
#include "smtp_server.h"
#include "smtps_fixture.h"
#include "timer.h"
#include "tls.h"

static char tt_dir[64];
static struct tls_ctx *tt_srv_ctx;

#define TC_BODY_MAX (256 * 1024)

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

/* ---- owner ----------------------------------------------------------------
 */

static struct tc *
tc_of(struct smtps_session *s)
{
	return smtps_server_udata(smtps_session_server(s));
}

static void
tc_ask(struct smtps_session *s, enum smtps_stage st)
{
	struct tc *x = tc_of(s);

	x->asked[st]++;
	x->sess = s;
	assert_int_equal(smtps_pending(s), st);
	assert_int_equal(smtps_reply(s, 0, NULL), 0);
}

static void
tc_on_connect(struct smtps_session *s)
{
	tc_ask(s, SMTPS_STAGE_GREETING);
}

static void
tc_on_helo(struct smtps_session *s, bool ehlo, const char *name)
{
	(void)ehlo;
	(void)name;
	tc_ask(s, SMTPS_STAGE_HELO);
}

static void
tc_on_mail(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	struct tc *x = tc_of(s);

	smtpp_addr_str(&cmd->path, x->mail, sizeof(x->mail));
	tc_ask(s, SMTPS_STAGE_MAIL);
}

static void
tc_on_rcpt(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	(void)cmd;
	tc_ask(s, SMTPS_STAGE_RCPT);
}

static void
tc_on_data(struct smtps_session *s)
{
	tc_ask(s, SMTPS_STAGE_DATA);
}

static void
tc_on_body(struct smtps_session *s, const char *buf, size_t len)
{
	struct tc *x = tc_of(s);

	assert_true(x->body_len + len <= TC_BODY_MAX);
	memcpy(x->body + x->body_len, buf, len);
	x->body_len += len;
}

static void
tc_on_data_end(struct smtps_session *s, const struct smtps_data_info *info)
{
	struct tc *x = tc_of(s);

	(void)info;
	assert_true(smtps_tls_info(s, &x->ti_dot));
	tc_ask(s, SMTPS_STAGE_DOT);
}

static void
tc_on_rset(struct smtps_session *s)
{
	tc_ask(s, SMTPS_STAGE_RSET);
}

static void
tc_on_quit(struct smtps_session *s)
{
	tc_ask(s, SMTPS_STAGE_QUIT);
}

static void
tc_timer(struct timer *t)
{
	struct tc *x = container_of(t, struct tc, tm);

	assert_int_equal(smtps_reply(x->sess, x->starttls_code, NULL), 0);
}

static void
tc_on_starttls(struct smtps_session *s)
{
	struct tc *x = tc_of(s);

	x->asked[SMTPS_STAGE_STARTTLS]++;
	x->sess = s;
	assert_false(smtps_tls_info(s, NULL));
	/* 2xx other than 220 cannot answer STARTTLS */
	assert_int_equal(smtps_reply(s, 250, NULL), -EINVAL);
	if (x->starttls_async > 0) {
		timer_arm(ring_timers(x->r), &x->tm,
			  ring_now(x->r) + x->starttls_async);
		return;
	}
	assert_int_equal(smtps_reply(s, x->starttls_code, NULL), 0);
	if (x->inject)
		assert_int_equal(
		    smtps_inject_raw(s, x->inject, strlen(x->inject)), 0);
}

static void
tc_on_tls(struct smtps_session *s)
{
	struct tc *x = tc_of(s);

	x->tls_up++;
	assert_true(smtps_tls_info(s, &x->ti));
	assert_string_equal(smtps_helo_name(s), "");
}

static void
tc_on_close(struct smtps_session *s, enum smtps_close_why why)
{
	struct tc *x = tc_of(s);

	x->closed = true;
	x->why = why;
	timer_cancel(ring_timers(x->r), &x->tm);
}

static const struct smtps_ops tc_ops = {
    .on_connect = tc_on_connect,
    .on_helo = tc_on_helo,
    .on_mail = tc_on_mail,
    .on_rcpt = tc_on_rcpt,
    .on_data = tc_on_data,
    .on_body = tc_on_body,
    .on_data_end = tc_on_data_end,
    .on_rset = tc_on_rset,
    .on_quit = tc_on_quit,
    .on_starttls = tc_on_starttls,
    .on_tls = tc_on_tls,
    .on_close = tc_on_close,
};

/* ---- fixture ---------------------------------------------------------------
 */

static int
group_setup(void **state)
{
	char cmd[512], cert[128], key[128], err[256];
	const char *src = __FILE__;
	const char *slash = strrchr(src, '/');
	int len = slash != NULL ? (int)(slash - src) : 1;
	struct tls_server_opts so = {0};

	(void)state;
	snprintf(tt_dir, sizeof(tt_dir), "/tmp/ringmta-stls-XXXXXX");
	if (mkdtemp(tt_dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "sh '%.*s/tls_fixture.sh' '%s'", len,
		 slash != NULL ? src : ".", tt_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "'%s' failed (is openssl there?)\n", cmd);
		return -1;
	}
	snprintf(cert, sizeof(cert), "%s/mx-chain.crt", tt_dir);
	snprintf(key, sizeof(key), "%s/mx.key", tt_dir);
	so.cert_file = cert;
	so.key_file = key;
	if (tls_ctx_new_server(&so, &tt_srv_ctx, err, sizeof(err)) < 0) {
		fprintf(stderr, "server ctx: %s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	tls_ctx_free(tt_srv_ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tt_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
setup(void **state)
{
	struct tc *x = calloc(1, sizeof(*x));

	x->r = sfx_ring_new();
	if (x->r == NULL) {
		free(x);
		*state = NULL;
		return 0;
	}
	x->body = malloc(TC_BODY_MAX);
	x->cfg.tls = tt_srv_ctx;
	sfx_config(&x->cfg);
	x->cfd = -1;
	timer_init(&x->tm, tc_timer);
	*state = x;
	return 0;
}

static void
tc_drain(struct tc *x, int ms)
{
	sfx_drain(x->r, ms);
}

static int
teardown(void **state)
{
	struct tc *x = *state;

	if (x == NULL)
		return 0;
	sfx_teardown(x->r, x->srv, x->cfd);
	tls_sess_free(x->ct);
	tls_ctx_free(x->cctx);
	free(x->body);
	free(x);
	return 0;
}

#define TC_OR_SKIP(x)                                                          \
	struct tc *x = *state;                                                 \
	if (x == NULL)                                                         \
	skip()

/* ---- client ----------------------------------------------------------------
 */

static void
tc_start(struct tc *x)
{
	x->cfd = sfx_start(x->r, &x->cfg, &tc_ops, x, &x->srv);
}

/* Move bytes: client ciphertext out, server bytes in (decrypted). */
static void
tc_io(struct tc *x)
{
	char buf[16384];
	const void *p;
	size_t len;
	ssize_t n;
	int rc = 0;

	while (x->ct && tls_pending_out(x->ct, &p, &len) == 1) {
		n = write(x->cfd, p, len);
		if (n <= 0)
			break;
		tls_consume_out(x->ct, (size_t)n);
	}
	while (!x->eof && (n = read(x->cfd, buf, sizeof(buf))) >= 0) {
		if (n == 0) {
			x->eof = true;
			if (x->ct)
				tls_feed_eof(x->ct);
			break;
		}
		if (x->ct != NULL) {
			(void)tls_feed(x->ct, buf, (size_t)n);
			continue;
		}
		assert_true(x->in_len + (size_t)n < sizeof(x->in));
		memcpy(x->in + x->in_len, buf, (size_t)n);
		x->in_len += (size_t)n;
	}
	if (x->ct == NULL)
		return;
	if (!tls_sess_established(x->ct))
		x->hs_rc = tls_handshake(x->ct);
	while (tls_sess_established(x->ct) &&
	       (rc = tls_read(x->ct, x->in + x->in_len,
			      sizeof(x->in) - 1 - x->in_len)) > 0)
		x->in_len += (size_t)rc;
	if (tls_sess_established(x->ct))
		x->rd_rc = rc;
	x->in[x->in_len] = '\0';
}

static void
tc_step(struct tc *x)
{
	tc_io(x);
	assert_true(ring_run_once(x->r, 2000000) >= 0);
	tc_io(x);
}

/* Send s (encrypted once the client has TLS); large s in pieces. */
static void
tc_send_n(struct tc *x, const char *s, size_t n)
{
	while (n > 0) {
		size_t k = MIN(n, (size_t)8192);

		if (x->ct != NULL) {
			int rc;

			while ((rc = tls_write(x->ct, s, k)) == -ENOBUFS)
				tc_step(x);
			assert_int_equal(rc, (int)k);
			tc_io(x);
		} else {
			assert_int_equal(write(x->cfd, s, k), (ssize_t)k);
		}
		s += k;
		n -= k;
	}
}

static void
tc_send(struct tc *x, const char *s)
{
	tc_send_n(x, s, strlen(s));
}

/* Run until the client has want bytes, EOF, or 3 s. */
static void
tc_wait(struct tc *x, size_t want)
{
	int64_t end = ring_now_update(x->r) + 3000000000LL;

	while (x->in_len < want && !x->eof && ring_now_update(x->r) < end)
		tc_step(x);
}

/* Expect exactly s next from the server, and consume it. */
static void
tc_expect(struct tc *x, const char *s)
{
	size_t n = strlen(s);

	tc_wait(x, n);
	if (x->in_len < n || memcmp(x->in, s, n) != 0) {
		fprintf(stderr, "expected: [%s]\n     got: [%.*s]\n", s,
			(int)x->in_len, x->in);
		fail();
	}
	memmove(x->in, x->in + n, x->in_len - n + 1);
	x->in_len -= n;
}

/* Read a whole multi-line reply into out (consumed). */
static void
tc_reply(struct tc *x, char *out, size_t size)
{
	int64_t end = ring_now_update(x->r) + 3000000000LL;
	size_t at = 0;

	for (;;) {
		char *nl = strstr(x->in + at, "\r\n");

		if (nl != NULL && (size_t)(nl - x->in) >= at + 3 &&
		    x->in[at + 3] == ' ') {
			size_t n = (size_t)(nl + 2 - x->in);

			snprintf(out, size, "%.*s", (int)n, x->in);
			memmove(x->in, x->in + n, x->in_len - n + 1);
			x->in_len -= n;
			return;
		}
		if (nl != NULL) {
			at = (size_t)(nl + 2 - x->in);
			continue;
		}
		if (x->eof || ring_now_update(x->r) >= end)
			fail_msg("no complete reply: [%s]", x->in);
		tc_step(x);
	}
}

static void
tc_expect_eof(struct tc *x)
{
	int64_t end = ring_now_update(x->r) + 3000000000LL;

	while (!x->eof && ring_now_update(x->r) < end)
		tc_step(x);
	assert_true(x->eof);
	tc_drain(x, 20);
}

/* A client context: verify the test CA, TLS up to maxv. */
static void
tc_client_ctx(struct tc *x, enum tls_version maxv)
{
	char ca[128], err[256];
	struct tls_client_opts co = {0};

	snprintf(ca, sizeof(ca), "%s/ca.crt", tt_dir);
	co.verify = TLS_VERIFY_HOST;
	co.ca_file = ca;
	co.max_version = maxv;
	assert_int_equal(tls_ctx_new_client(&co, &x->cctx, err, sizeof(err)),
			 0);
}

/* After the 220: the client handshake, until done (asserts success). */
static void
tc_handshake(struct tc *x)
{
	int64_t end = ring_now_update(x->r) + 3000000000LL;

	if (x->cctx == NULL)
		tc_client_ctx(x, TLS_V_ANY);
	assert_int_equal(tls_sess_new_client(x->cctx, "mx.test.example",
					     "mx.test.example", &x->ct),
			 0);
	x->hs_rc = tls_handshake(x->ct);
	while (x->hs_rc == 0 && !x->eof && ring_now_update(x->r) < end)
		tc_step(x);
	if (x->hs_rc != 1)
		fail_msg("client handshake: %d %s", x->hs_rc,
			 tls_sess_error(x->ct) ? tls_sess_error(x->ct) : "");
	assert_true(tls_sess_peer_verified(x->ct));
	/* the server side finishes with the client's Finished */
	for (int i = 0; i < 100 && x->tls_up == 0; i++)
		tc_step(x);
	assert_int_equal(x->tls_up, 1);
}

static void
tc_ehlo(struct tc *x, bool expect_starttls)
{
	char r[1024];

	tc_send(x, "EHLO client.test\r\n");
	tc_reply(x, r, sizeof(r));
	assert_int_equal(strncmp(r, "250-test.host\r\n", 15), 0);
	assert_true((strstr(r, "\r\n250-STARTTLS\r\n") != NULL ||
		     strstr(r, "\r\n250 STARTTLS\r\n") != NULL) ==
		    expect_starttls);
}

/* Greeting, EHLO, STARTTLS, handshake. */
static void
tc_to_tls(struct tc *x)
{
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, true);
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
	assert_int_equal(x->in_len, 0);
	tc_handshake(x);
}

/* ---- tests -------------------------------------------------------------- */

static void
tc_message(struct tc *x, enum tls_version maxv, const char *proto)
{
	const struct smtps_server_stats *st;
	char *body = malloc(100000);
	size_t n = 0;

	x->cfg.size_max = 1000000;
	tc_client_ctx(x, maxv);
	tc_to_tls(x);
	assert_string_equal(tls_sess_protocol(x->ct), proto);
	assert_string_equal(x->ti.protocol, proto);
	assert_string_equal(x->ti.cipher, tls_sess_cipher(x->ct));
	assert_string_equal(x->ti.sni, "mx.test.example");
	/* RFC 3207: the EHLO before TLS is forgotten */
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "503 5.5.1 Error: send HELO/EHLO first\r\n");
	tc_ehlo(x, false);
	/* a body over several records and receive buffers */
	while (n < 99000) {
		n += (size_t)snprintf(body + n, 100000 - n,
				      "line %06zu .. some text to fill it\r\n",
				      n);
	}
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n");
	tc_send(x, "RCPT TO:<c@d.test>\r\n");
	tc_expect(x, "250 2.1.5 Ok\r\n");
	tc_send(x, "DATA\r\n");
	tc_expect(x, "354 End data with <CR><LF>.<CR><LF>\r\n");
	tc_send_n(x, body, n);
	tc_send(x, ".\r\nQUIT\r\n");
	tc_expect(x, "250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n");
	tc_expect_eof(x);
	assert_int_equal(x->rd_rc, -EPIPE); /* close_notify, not a cut */
	assert_int_equal(x->body_len, n);
	assert_memory_equal(x->body, body, n);
	assert_string_equal(x->ti_dot.protocol, proto);
	assert_true(x->closed);
	assert_int_equal(x->why, SMTPS_CLOSE_QUIT);
	st = smtps_server_stats(x->srv);
	assert_int_equal(st->tls_starts, 1);
	assert_int_equal(st->tls_handshakes, 1);
	assert_int_equal(st->tls_failures, 0);
	assert_int_equal(st->tls_injected_bytes, 0);
	assert_int_equal(x->asked[SMTPS_STAGE_STARTTLS], 1);
	free(body);
}

static void
test_message_tls13(void **state)
{
	TC_OR_SKIP(x);
	tc_message(x, TLS_V_ANY, "TLSv1.3");
}

static void
test_message_tls12(void **state)
{
	TC_OR_SKIP(x);
	tc_message(x, TLS_V_1_2, "TLSv1.2");
}

/* A pipelined batch over TLS is answered in one send. */
static void
test_pipelined_batch_over_tls(void **state)
{
	uint64_t sends;

	TC_OR_SKIP(x);
	tc_to_tls(x);
	tc_ehlo(x, false);
	tc_drain(x, 20);
	sends = smtps_server_stats(x->srv)->sends;
	tc_send(x, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n"
		   "RCPT TO:<e@f.test>\r\nDATA\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
		     "354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_int_equal(smtps_server_stats(x->srv)->sends - sends, 1);
	tc_send(x, "Subject: x\r\n\r\n..dot\r\n.\r\n");
	tc_expect(x, "250 2.0.0 Ok: queued\r\n");
	assert_int_equal(x->body_len, 20);
	assert_memory_equal(x->body, "Subject: x\r\n\r\n.dot\r\n", 20);
}

/* CVE-2011-0411: what follows STARTTLS in the same write is dropped. */
static void
test_injection_same_write(void **state)
{
	const char junk[] = "MAIL FROM:<inject@evil.test>\r\n";
	const struct smtps_server_stats *st;

	TC_OR_SKIP(x);
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, true);
	tc_send(x, "STARTTLS\r\nMAIL FROM:<inject@evil.test>\r\n");
	tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
	tc_handshake(x);
	assert_int_equal(x->asked[SMTPS_STAGE_MAIL], 0);
	st = smtps_server_stats(x->srv);
	assert_int_equal(st->tls_injected_bytes, sizeof(junk) - 1);
	assert_int_equal(st->tls_injected_sessions, 1);
	assert_int_equal(smtps_tls_injected(x->sess), sizeof(junk) - 1);
	/* the injected MAIL did not open a transaction inside TLS */
	tc_ehlo(x, false);
	tc_send(x, "RCPT TO:<c@d.test>\r\n");
	tc_expect(x, "503 5.5.1 Error: need MAIL command\r\n");
	tc_send(x, "MAIL FROM:<good@b.test>\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n");
	assert_string_equal(x->mail, "good@b.test");
	assert_int_equal(x->asked[SMTPS_STAGE_MAIL], 1);
}

/* Plaintext arriving while the owner's 220 is pending is dropped too. */
static void
test_injection_while_pending(void **state)
{
	TC_OR_SKIP(x);
	x->starttls_async = 100000000; /* 100 ms */
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, true);
	tc_send(x, "STARTTLS\r\n");
	tc_drain(x, 20);
	tc_send(x, "RSET\r\n");
	tc_drain(x, 20);
	tc_send(x, "NOOP\r\n");
	tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
	assert_int_equal(x->in_len, 0); /* no 250 for RSET/NOOP */
	tc_handshake(x);
	assert_int_equal(x->asked[SMTPS_STAGE_RSET], 0);
	assert_int_equal(smtps_server_stats(x->srv)->tls_injected_bytes, 12);
	tc_ehlo(x, false);
}

static void
test_starttls_sequence(void **state)
{
	TC_OR_SKIP(x);
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, true);
	tc_send(x, "STARTTLS now\r\n");
	tc_expect(x, "501 5.5.4 Syntax error, no parameters allowed\r\n");
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n");
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "503 5.5.1 Error: MAIL transaction in progress\r\n");
	tc_send(x, "RSET\r\n");
	tc_expect(x, "250 2.0.0 Ok\r\n");
	assert_int_equal(x->asked[SMTPS_STAGE_STARTTLS], 0);
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
	tc_handshake(x);
	tc_ehlo(x, false);
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "503 5.5.1 Error: TLS already active\r\n");
	tc_send(x, "QUIT\r\n");
	tc_expect(x, "221 2.0.0 Bye\r\n");
	tc_expect_eof(x);
	assert_int_equal(x->asked[SMTPS_STAGE_STARTTLS], 1);
}

/* Garbage, EOF, and silence in the handshake: closed, counted. */
static void
test_handshake_failures(void **state)
{
	static const struct {
		const char *send; /* NULL: say nothing; "": close */
		const char *name;
	} cases[] = {
	    {"EHLO plaintext.test\r\nMAIL FROM:<a@b>\r\n", "plaintext"},
	    {"\x16\x03\x01\x00\x05hello", "bad record"},
	    {"\x15\x03\x03\x00\x02\x02\x28", "alert"},
	    {"", "eof"},
	    {NULL, "timeout"},
	};

	TC_OR_SKIP(x);
	x->cfg.handshake_timeout_ms = 300;
	x->srv = smtps_server_new(x->r, &x->cfg, &tc_ops, x);
	for (size_t i = 0; i < nitems(cases); i++) {
		int sv[2];
		int64_t t0;

		fprintf(stderr, "case %s\n", cases[i].name);
		assert_int_equal(
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		x->cfd = sv[1];
		x->eof = false;
		x->closed = false;
		x->in_len = 0;
		assert_int_equal(fcntl(x->cfd, F_SETFL, O_NONBLOCK), 0);
		assert_int_equal(smtps_adopt(x->srv, sv[0], 0), 0);
		tc_expect(x, "220 test.host ESMTP\r\n");
		tc_send(x, "STARTTLS\r\n");
		tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
		t0 = ring_now_update(x->r);
		if (cases[i].send && cases[i].send[0])
			tc_send(x, cases[i].send);
		else if (cases[i].send)
			shutdown(x->cfd, SHUT_WR);
		tc_expect_eof(x);
		if (cases[i].send == NULL)
			assert_true(ring_now_update(x->r) - t0 >= 290000000);
		/* nothing readable came back: no SMTP reply in clear */
		assert_null(strstr(x->in, "250"));
		assert_true(x->closed);
		assert_int_equal(x->why, SMTPS_CLOSE_TLS);
		assert_int_equal(smtps_server_stats(x->srv)->tls_failures,
				 i + 1);
		close(x->cfd);
		x->cfd = -1;
	}
	assert_int_equal(x->asked[SMTPS_STAGE_HELO], 0);
	assert_int_equal(x->asked[SMTPS_STAGE_MAIL], 0);
	assert_int_equal(smtps_server_stats(x->srv)->tls_handshakes, 0);
}

static void
test_tls_required(void **state)
{
	TC_OR_SKIP(x);
	x->cfg.tls_required = true;
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, true);
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "530 5.7.0 Must issue a STARTTLS command first\r\n");
	tc_send(x, "RCPT TO:<c@d.test>\r\n");
	tc_expect(x, "503 5.5.1 Error: need MAIL command\r\n");
	assert_int_equal(x->asked[SMTPS_STAGE_MAIL], 0);
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
	tc_handshake(x);
	tc_ehlo(x, false);
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n");
	assert_int_equal(x->asked[SMTPS_STAGE_MAIL], 1);
}

/* The owner says 454: plaintext goes on; without a context: 502. */
static void
test_owner_refuses(void **state)
{
	TC_OR_SKIP(x);
	x->starttls_code = 454;
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, true);
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "454 4.7.0 TLS not available\r\n");
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n");
	assert_false(smtps_tls_info(x->sess, NULL));
	assert_int_equal(smtps_server_stats(x->srv)->tls_starts, 0);
}

static void
test_no_context(void **state)
{
	TC_OR_SKIP(x);
	x->cfg.tls = NULL;
	x->cfg.caps |= SMTPS_CAP_STARTTLS; /* ignored without a context */
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, false);
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "502 5.5.1 Error: command not implemented\r\n");
	assert_int_equal(x->asked[SMTPS_STAGE_STARTTLS], 0);
}

/* smtps_inject_raw: the bytes leave with the 220, in the same write. */
static void
test_inject_raw(void **state)
{
	char buf[256];
	ssize_t n;

	TC_OR_SKIP(x);
	x->inject = "250 injected\r\n";
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_send(x, "STARTTLS\r\n");
	for (int i = 0; i < 20; i++)
		assert_true(ring_run_once(x->r, 5000000) >= 0);
	n = read(x->cfd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf,
			    "220 2.0.0 Ready to start TLS\r\n250 injected\r\n");
}

/* Idle timeout under TLS: an encrypted 421, close_notify, EOF. */
static void
test_idle_timeout_tls(void **state)
{
	TC_OR_SKIP(x);
	x->cfg.idle_timeout_ms = 300;
	tc_to_tls(x);
	tc_ehlo(x, false);
	tc_expect(x, "421 4.4.2 Error: timeout exceeded\r\n");
	tc_expect_eof(x);
	assert_int_equal(x->rd_rc, -EPIPE);
	assert_int_equal(x->why, SMTPS_CLOSE_IDLE);
}

/* The client's close_notify ends the session like EOF. */
static void
test_client_close_notify(void **state)
{
	TC_OR_SKIP(x);
	tc_to_tls(x);
	tc_ehlo(x, false);
	assert_int_equal(tls_shutdown(x->ct), 0);
	tc_expect_eof(x);
	assert_int_equal(x->why, SMTPS_CLOSE_EOF);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_message_tls13, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_message_tls12, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_batch_over_tls,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_injection_same_write, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_injection_while_pending, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_starttls_sequence, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_failures, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tls_required, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_owner_refuses, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_no_context, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inject_raw, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_timeout_tls, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_client_close_notify, setup,
					    teardown),
	};

	return cmocka_run_group_tests_name("smtp_server_tls", tests,
					   group_setup, group_teardown);
}
