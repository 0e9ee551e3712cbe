/* SPDX-License-Identifier: MIT */
/*
 * tls_pair: the fixture shared by test_tls and test_tls_sess (see
 * tls_pair.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls_pair.h"

static char tt_dir[64];
char tt_ca[128], tt_mx[128], tt_mx_key[128], tt_mx_chain[128];
char tt_self[128], tt_self_key[128];

/* ---- fixture ------------------------------------------------------------ */

void
tt_path(char *out, const char *name)
{
	snprintf(out, 128, "%s/%s", tt_dir, name);
}

int
tt_setup(void **state)
{
	char cmd[512];
	const char *src = __FILE__;
	const char *slash = strrchr(src, '/');
	int len = slash != NULL ? (int)(slash - src) : 1;

	(void)state;
	snprintf(tt_dir, sizeof(tt_dir), "/tmp/ringmta-tls-XXXXXX");
	if (mkdtemp(tt_dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	/* The fixture sits next to this file; tests run from the top. */
	snprintf(cmd, sizeof(cmd), "sh '%.*s/tls_fixture.sh' '%s'", len,
		 slash != NULL ? src : ".", tt_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "tls_pair: '%s' failed (is openssl there?)\n",
			cmd);
		return -1;
	}
	tt_path(tt_ca, "ca.crt");
	tt_path(tt_mx, "mx.crt");
	tt_path(tt_mx_key, "mx.key");
	tt_path(tt_mx_chain, "mx-chain.crt");
	tt_path(tt_self, "self.crt");
	tt_path(tt_self_key, "self.key");
	return 0;
}

int
tt_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tt_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- contexts ----------------------------------------------------------- */

struct tls_ctx *
tt_client(enum tls_verify verify, const char *ca_file, enum tls_version min,
	  enum tls_version max, size_t cap)
{
	struct tls_client_opts o = {
	    .verify = verify,
	    .ca_file = ca_file,
	    .min_version = min,
	    .max_version = max,
	    .buf_cap = cap,
	};
	struct tls_ctx *ctx = NULL;
	char err[256];

	assert_int_equal(tls_ctx_new_client(&o, &ctx, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_non_null(ctx);
	return ctx;
}

struct tls_ctx *
tt_server(const char *cert, const char *key, enum tls_version max, size_t cap)
{
	struct tls_server_opts o = {
	    .cert_file = cert,
	    .key_file = key,
	    .max_version = max,
	    .buf_cap = cap,
	};
	struct tls_ctx *ctx = NULL;
	char err[256];

	assert_int_equal(tls_ctx_new_server(&o, &ctx, err, sizeof(err)), 0);
	assert_non_null(ctx);
	return ctx;
}

/* ---- endpoints and the pump ------------------------------------------- */

void
tt_ep_init(struct tt_ep *e, struct tls_sess *t)
{
	e->t = t;
	e->hs = 0;
	e->rerr = 0;
	e->ferr = 0;
	e->read_size = 0;
	e->no_read = false;
	e->rxlen = 0;
}

/* Advance e: the handshake, then read everything decryptable. */
void
tt_step(struct tt_ep *e)
{
	size_t want = e->read_size ? e->read_size : 4096;
	int n;

	if (e->hs < 0 || e->rerr < 0)
		return;
	if (e->hs == 0) {
		e->hs = tls_handshake(e->t);
		if (e->hs != 1)
			return;
	}
	while (!e->no_read) {
		assert_true(e->rxlen + want <= sizeof(e->rx));
		n = tls_read(e->t, e->rx + e->rxlen, want);
		if (n < 0)
			e->rerr = n;
		if (n <= 0)
			return;
		assert_true((size_t)n <= want);
		e->rxlen += (size_t)n;
	}
}

/* Move from's pending output to `to`, chunk bytes per feed, stepping `to`
 * after every feed.  Returns the bytes moved. */
size_t
tt_xfer(struct tt_ep *from, struct tt_ep *to, size_t chunk)
{
	const void *p;
	size_t len, n, moved = 0;
	int r;

	while (tls_pending_out(from->t, &p, &len) == 1) {
		assert_true(len > 0);
		n = len < chunk ? len : chunk;
		r = tls_feed(to->t, p, n);
		if (r < 0 && to->ferr == 0)
			to->ferr = r;
		tls_consume_out(from->t, n);
		moved += n;
		tt_step(to);
	}
	return moved;
}

/* Run both ends until nothing moves. */
void
tt_run(struct tt_ep *c, struct tt_ep *s, size_t chunk)
{
	tt_step(c);
	tt_step(s);
	for (int i = 0; i < 1000; i++)
		if (tt_xfer(c, s, chunk) + tt_xfer(s, c, chunk) == 0)
			return;
	fail_msg("the pump did not settle");
}

size_t
tt_pending(struct tls_sess *t)
{
	const void *p;
	size_t len;

	return tls_pending_out(t, &p, &len) == 1 ? len : 0;
}

struct tt_pair *
tt_pair_new(struct tls_ctx *cctx, struct tls_ctx *sctx, const char *sni,
	    const char *name)
{
	struct tt_pair *p = calloc(1, sizeof(*p));
	struct tls_sess *c, *s;

	assert_non_null(p);
	p->cctx = cctx;
	p->sctx = sctx;
	assert_int_equal(tls_sess_new_client(cctx, sni, name, &c), 0);
	assert_int_equal(tls_sess_new_server(sctx, &s), 0);
	tt_ep_init(&p->c, c);
	tt_ep_init(&p->s, s);
	return p;
}

/* Free the sessions, and the contexts when free_ctx. */
void
tt_pair_free(struct tt_pair *p, bool free_ctx)
{
	tls_sess_free(p->c.t);
	tls_sess_free(p->s.t);
	if (free_ctx) {
		tls_ctx_free(p->cctx);
		tls_ctx_free(p->sctx);
	}
	free(p);
}

void
tt_assert_established(struct tt_pair *p)
{
	assert_int_equal(p->c.hs, 1);
	assert_int_equal(p->s.hs, 1);
	assert_true(tls_sess_established(p->c.t));
	assert_true(tls_sess_established(p->s.t));
	assert_null(tls_sess_error(p->c.t));
	assert_null(tls_sess_error(p->s.t));
}

void
tt_fill(unsigned char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
}
