/* SPDX-License-Identifier: MIT */
/*
 * tc_fixture: the fixture of test_smtp_server_tls.  Owns the certificates
 * (tls_fixture.sh, once per group) and the server's TLS context, the owner
 * (struct tc: records what the engine asks, answers STARTTLS as told, now
 * or from a timer), the per-test setup and teardown, and the client: a
 * tls.c client session over the socketpair (send, expect, handshake,
 * EHLO, STARTTLS).  The ring and server set-up are smtps_fixture.c's.
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
#include "tc_fixture.h"

static char tc_dir[64];
static struct tls_ctx *tc_srv_ctx;

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

const struct smtps_ops tc_ops = {
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

int
tc_group_setup(void **state)
{
	char cmd[512], cert[128], key[128], err[256];
	const char *src = __FILE__;
	const char *slash = strrchr(src, '/');
	int len = slash != NULL ? (int)(slash - src) : 1;
	struct tls_server_opts so = {0};

	(void)state;
	snprintf(tc_dir, sizeof(tc_dir), "/tmp/ringmta-stls-XXXXXX");
	if (mkdtemp(tc_dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "sh '%.*s/tls_fixture.sh' '%s'", len,
		 slash != NULL ? src : ".", tc_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "'%s' failed (is openssl there?)\n", cmd);
		return -1;
	}
	snprintf(cert, sizeof(cert), "%s/mx-chain.crt", tc_dir);
	snprintf(key, sizeof(key), "%s/mx.key", tc_dir);
	so.cert_file = cert;
	so.key_file = key;
	if (tls_ctx_new_server(&so, &tc_srv_ctx, err, sizeof(err)) < 0) {
		fprintf(stderr, "server ctx: %s\n", err);
		return -1;
	}
	return 0;
}

int
tc_group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	tls_ctx_free(tc_srv_ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tc_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
tc_setup(void **state)
{
	struct tc *x = calloc(1, sizeof(*x));

	x->r = sfx_ring_new();
	if (x->r == NULL) {
		free(x);
		*state = NULL;
		return 0;
	}
	x->body = malloc(TC_BODY_MAX);
	x->cfg.tls = tc_srv_ctx;
	sfx_config(&x->cfg);
	x->cfd = -1;
	timer_init(&x->tm, tc_timer);
	*state = x;
	return 0;
}

void
tc_drain(struct tc *x, int ms)
{
	sfx_drain(x->r, ms);
}

int
tc_teardown(void **state)
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

/* ---- client ----------------------------------------------------------------
 */

void
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
void
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

void
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
void
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

void
tc_expect_eof(struct tc *x)
{
	int64_t end = ring_now_update(x->r) + 3000000000LL;

	while (!x->eof && ring_now_update(x->r) < end)
		tc_step(x);
	assert_true(x->eof);
	tc_drain(x, 20);
}

/* A client context: verify the test CA, TLS up to maxv. */
void
tc_client_ctx(struct tc *x, enum tls_version maxv)
{
	char ca[128], err[256];
	struct tls_client_opts co = {0};

	snprintf(ca, sizeof(ca), "%s/ca.crt", tc_dir);
	co.verify = TLS_VERIFY_HOST;
	co.ca_file = ca;
	co.max_version = maxv;
	assert_int_equal(tls_ctx_new_client(&co, &x->cctx, err, sizeof(err)),
			 0);
}

/* After the 220: the client handshake, until done (asserts success). */
void
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

void
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
void
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
