/* SPDX-License-Identifier: MIT */
/*
 * test_tls_sess: an established struct tls_sess pair (tls_pair.c, no
 * sockets, tls_fixture.sh certificates): resumption (v1.2 ticket and
 * v1.3) and the cache, close_notify, EOF, garbage, plaintext before the
 * handshake, the buffer caps, the stable output block and the heap an
 * idle session and a cache entry hold.  test_tls covers the constructors
 * and the handshake.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"
#include "tls_pair.h"

/* ---- tests ------------------------------------------------------------ */

/* Handshake, then the server speaks so a TLSv1.3 client gets its ticket. */
static struct tt_pair *
tt_connect(struct tls_ctx *cctx, struct tls_ctx *sctx, struct tls_cache *c,
	   const char *key, int64_t now, int want_get)
{
	struct tt_pair *p =
	    tt_pair_new(cctx, sctx, "mx.test.example", "mx.test.example");

	if (c != NULL)
		assert_int_equal(tls_cache_get(c, key, p->c.t, now), want_get);
	tt_run(&p->c, &p->s, 65536);
	tt_assert_established(p);
	assert_int_equal(tls_write(p->s.t, "220 hi\r\n", 8), 8);
	tt_run(&p->c, &p->s, 65536);
	assert_int_equal(p->c.rxlen, 8);
	return p;
}

static void
test_resumption(void **state)
{
	static const struct {
		enum tls_version max;
		enum tls_verify verify;
		bool self_signed;
		const char *proto;
	} cases[] = {
	    {TLS_V_ANY, TLS_VERIFY_HOST, false, "TLSv1.3"},
	    {TLS_V_1_2, TLS_VERIFY_HOST, false, "TLSv1.2"}, /* ticket */
	    {TLS_V_ANY, TLS_VERIFY_NONE, true, "TLSv1.3"},
	    {TLS_V_1_2, TLS_VERIFY_NONE, true, "TLSv1.2"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_ctx *cctx =
		    tt_client(cases[i].verify, tt_ca, 0, cases[i].max, 0);
		struct tls_ctx *sctx =
		    cases[i].self_signed ? tt_server(tt_self, tt_self_key, 0, 0)
					 : tt_server(tt_mx, tt_mx_key, 0, 0);
		struct tls_cache *c = tls_cache_new(8, 60000 * TT_MS);
		struct tt_pair *p = tt_pair_new(cctx, sctx, "mx.test.example",
						"mx.test.example");
		bool verified = !cases[i].self_signed;

		/* not resumable before the handshake */
		assert_int_equal(tls_cache_put(c, "mx:25", p->c.t, 0), 0);
		p->c.no_read = true;
		tt_run(&p->c, &p->s, 65536);
		tt_assert_established(p);
		/* TLSv1.3: the ticket comes after the handshake, unread yet */
		assert_int_equal(tls_cache_put(c, "mx:25", p->c.t, 0),
				 strcmp(cases[i].proto, "TLSv1.2") == 0);
		p->c.no_read = false;
		assert_int_equal(tls_write(p->s.t, "220 hi\r\n", 8), 8);
		tt_run(&p->c, &p->s, 65536);
		assert_int_equal(tls_cache_put(c, "mx:25", p->c.t, 0), 1);
		assert_int_equal(tls_cache_put(c, "mx:25", p->s.t, 0), 0);
		assert_int_equal(tls_cache_count(c), 1);
		assert_int_equal(tls_sess_peer_verified(p->c.t), verified);
		tt_pair_free(p, false);

		p = tt_connect(cctx, sctx, c, "mx:25", 1000 * TT_MS, 1);
		if (!tls_sess_resumed(p->c.t) || !tls_sess_resumed(p->s.t))
			fail_msg("case %zu: not resumed", i);
		assert_string_equal(tls_sess_protocol(p->c.t), cases[i].proto);
		/* the resumed session inherits the first one's verdict */
		assert_int_equal(tls_sess_peer_verified(p->c.t), verified);
		if (!verified)
			assert_non_null(strstr(tls_sess_verify_error(p->c.t),
					       "self-signed"));
		/* a resumed session can be stored again */
		assert_int_equal(tls_cache_put(c, "mx:25", p->c.t, 0), 1);
		tt_pair_free(p, false);

		/* another key: a full handshake */
		p = tt_connect(cctx, sctx, c, "other:25", 0, 0);
		assert_false(tls_sess_resumed(p->c.t));
		tt_pair_free(p, false);
		tls_cache_free(c);
		tls_ctx_free(cctx);
		tls_ctx_free(sctx);
	}
}

static void
test_cache(void **state)
{
	struct tls_ctx *cctx = tt_client(TLS_VERIFY_HOST, tt_ca, 0, 0, 0);
	struct tls_ctx *cctx2 = tt_client(TLS_VERIFY_HOST, tt_ca, 0, 0, 0);
	struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, 0, 0);
	struct tls_cache *c = tls_cache_new(2, 100 * TT_MS);
	struct tt_pair *src = tt_connect(cctx, sctx, NULL, NULL, 0, 0);
	struct tt_pair *p;
	struct tls_sess *t;

	(void)state;
	assert_int_equal(tls_cache_put(c, "a", src->c.t, 0), 1);
	assert_int_equal(tls_cache_put(c, "b", src->c.t, 10 * TT_MS), 1);
	assert_int_equal(tls_cache_count(c), 2);
	/* "a" used: "b" becomes the least recently used and is evicted */
	assert_int_equal(tls_sess_new_client(cctx, "mx", "mx", &t), 0);
	assert_int_equal(tls_cache_get(c, "a", t, 20 * TT_MS), 1);
	tls_sess_free(t);
	assert_int_equal(tls_cache_put(c, "c", src->c.t, 20 * TT_MS), 1);
	assert_int_equal(tls_cache_count(c), 2);
	assert_int_equal(tls_sess_new_client(cctx, "mx", "mx", &t), 0);
	assert_int_equal(tls_cache_get(c, "b", t, 20 * TT_MS), 0);
	/* another policy's entry is never offered (nor dropped) */
	tls_sess_free(t);
	assert_int_equal(tls_sess_new_client(cctx2, "mx", "mx", &t), 0);
	assert_int_equal(tls_cache_get(c, "c", t, 20 * TT_MS), 0);
	tls_sess_free(t);
	assert_int_equal(tls_cache_count(c), 2);
	/* expiry: "a" was stored at 0, lives until 100 ms */
	assert_int_equal(tls_sess_new_client(cctx, "mx", "mx", &t), 0);
	assert_int_equal(tls_cache_get(c, "a", t, 100 * TT_MS), 0);
	assert_int_equal(tls_cache_count(c), 1);
	assert_int_equal(tls_cache_get(c, "c", t, 119 * TT_MS), 1);
	tls_sess_free(t);
	/* replacing keeps one entry per key */
	assert_int_equal(tls_cache_put(c, "c", src->c.t, 50 * TT_MS), 1);
	assert_int_equal(tls_cache_count(c), 1);
	tls_cache_del(c, "nope");
	assert_int_equal(tls_cache_count(c), 1);
	/* too late once the handshake started */
	p = tt_pair_new(cctx, sctx, "mx.test.example", "mx.test.example");
	assert_int_equal(tls_handshake(p->c.t), 0);
	assert_int_equal(tls_cache_get(c, "c", p->c.t, 50 * TT_MS), 0);
	tt_pair_free(p, false);
	tls_cache_del(c, "c");
	assert_int_equal(tls_cache_count(c), 0);
	/* many keys through a one-entry cache */
	tls_cache_free(c);
	c = tls_cache_new(1, 1);
	for (int i = 0; i < 50; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(tls_cache_put(c, key, src->c.t, i), 1);
		assert_int_equal(tls_cache_count(c), 1);
	}
	tls_cache_free(c);
	tls_cache_free(NULL);
	tt_pair_free(src, false);
	tls_ctx_free(cctx);
	tls_ctx_free(cctx2);
	tls_ctx_free(sctx);
}

static void
test_close_notify(void **state)
{
	struct tls_ctx *cctx = tt_client(TLS_VERIFY_HOST, tt_ca, 0, 0, 0);
	struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, 0, 0);
	struct tt_pair *p = tt_connect(cctx, sctx, NULL, NULL, 0, 0);
	const char *junk = "250 injected after close_notify\r\n";
	const void *out;
	size_t len;
	char buf[64];

	(void)state;
	/* data, close_notify and trailing plaintext in one feed */
	assert_int_equal(tls_write(p->s.t, "221 bye\r\n", 9), 9);
	assert_int_equal(tls_shutdown(p->s.t), 0);
	assert_int_equal(tls_shutdown(p->s.t), 0);
	assert_int_equal(tls_write(p->s.t, "x", 1), -EPIPE);
	assert_int_equal(tls_pending_out(p->s.t, &out, &len), 1);
	assert_int_equal(tls_feed(p->c.t, out, len), 0);
	tls_consume_out(p->s.t, len);
	assert_int_equal(tt_pending(p->s.t), 0); /* only one close_notify */
	assert_int_equal(tls_feed(p->c.t, junk, strlen(junk)), 0);
	assert_int_equal(tls_read(p->c.t, buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "221 bye\r\n", 9);
	assert_int_equal(tls_read(p->c.t, buf, sizeof(buf)), -EPIPE);
	assert_int_equal(tls_read(p->c.t, buf, sizeof(buf)), -EPIPE);
	assert_non_null(strstr(tls_sess_error(p->c.t), "close_notify"));
	assert_int_equal(tls_feed(p->c.t, junk, strlen(junk)), -EPIPE);
	assert_int_equal(tls_write(p->c.t, "QUIT\r\n", 6), -EPIPE);
	/* we may still answer with our own close_notify */
	assert_int_equal(tls_shutdown(p->c.t), 0);
	assert_true(tt_pending(p->c.t) > 0);
	assert_int_equal(tls_shutdown(p->c.t), 0);
	tt_pair_free(p, true);
}

static void
test_eof(void **state)
{
	struct tls_ctx *cctx = tt_client(TLS_VERIFY_HOST, tt_ca, 0, 0, 0);
	struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, 0, 0);
	struct tt_pair *p = tt_connect(cctx, sctx, NULL, NULL, 0, 0);
	const void *out;
	size_t len;
	char buf[64];

	(void)state;
	/* a whole record then EOF: the data first, then the truncation */
	assert_int_equal(tls_write(p->s.t, "250 ok\r\n", 8), 8);
	assert_int_equal(tls_pending_out(p->s.t, &out, &len), 1);
	assert_int_equal(tls_feed(p->c.t, out, len), 0);
	tls_consume_out(p->s.t, len);
	tls_feed_eof(p->c.t);
	assert_int_equal(tls_feed(p->c.t, "x", 1), -EINVAL);
	assert_int_equal(tls_read(p->c.t, buf, sizeof(buf)), 8);
	assert_int_equal(tls_read(p->c.t, buf, sizeof(buf)), -ECONNRESET);
	assert_non_null(strstr(tls_sess_error(p->c.t), "without close_notify"));
	tt_pair_free(p, false);

	/* EOF halfway through a record */
	p = tt_connect(cctx, sctx, NULL, NULL, 0, 0);
	assert_int_equal(tls_write(p->s.t, "250 ok\r\n", 8), 8);
	assert_int_equal(tls_pending_out(p->s.t, &out, &len), 1);
	assert_int_equal(tls_feed(p->c.t, out, len - 3), 0);
	tls_feed_eof(p->c.t);
	assert_int_equal(tls_read(p->c.t, buf, sizeof(buf)), -ECONNRESET);
	tt_pair_free(p, false);

	/* EOF during the handshake */
	p = tt_pair_new(cctx, sctx, "mx.test.example", "mx.test.example");
	assert_int_equal(tls_handshake(p->c.t), 0);
	tls_feed_eof(p->c.t);
	assert_int_equal(tls_handshake(p->c.t), -ECONNRESET);
	assert_int_equal(tls_handshake(p->s.t), 0);
	tls_feed_eof(p->s.t);
	assert_int_equal(tls_handshake(p->s.t), -ECONNRESET);
	tt_pair_free(p, true);
}

static void
test_garbage(void **state)
{
	struct tls_ctx *cctx = tt_client(TLS_VERIFY_HOST, tt_ca, 0, 0, 0);
	struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, 0, 0);
	struct tt_pair *p = tt_connect(cctx, sctx, NULL, NULL, 0, 0);
	unsigned char junk[300], rec[64];
	const void *out;
	size_t len;
	char buf[64];

	(void)state;
	/* random bytes after the handshake */
	tt_fill(junk, sizeof(junk), 42);
	assert_int_equal(tls_feed(p->s.t, junk, sizeof(junk)), 0);
	assert_int_equal(tls_read(p->s.t, buf, sizeof(buf)), -EPROTO);
	assert_non_null(tls_sess_error(p->s.t));
	assert_int_equal(tls_read(p->s.t, buf, sizeof(buf)), -EPROTO);
	assert_int_equal(tls_write(p->s.t, "x", 1), -EPROTO);
	assert_int_equal(tls_feed(p->s.t, junk, 1), -EPROTO);
	assert_int_equal(tls_shutdown(p->s.t), -EPROTO);
	tt_pair_free(p, false);

	/* a real record with one byte flipped: bad MAC, no data */
	p = tt_connect(cctx, sctx, NULL, NULL, 0, 0);
	assert_int_equal(tls_write(p->s.t, "250 ok\r\n", 8), 8);
	assert_int_equal(tls_pending_out(p->s.t, &out, &len), 1);
	assert_true(len <= sizeof(rec));
	memcpy(rec, out, len);
	rec[len - 2] ^= 0x01;
	assert_int_equal(tls_feed(p->c.t, rec, len), 0);
	assert_int_equal(tls_read(p->c.t, buf, sizeof(buf)), -EPROTO);
	tt_pair_free(p, false);

	/* garbage instead of a ClientHello, and instead of a ServerHello */
	p = tt_pair_new(cctx, sctx, "mx.test.example", "mx.test.example");
	assert_int_equal(tls_feed(p->s.t, junk, sizeof(junk)), 0);
	assert_int_equal(tls_handshake(p->s.t), -EPROTO);
	assert_int_equal(tls_handshake(p->c.t), 0);
	assert_int_equal(tls_feed(p->c.t, junk, sizeof(junk)), 0);
	assert_int_equal(tls_handshake(p->c.t), -EPROTO);
	assert_non_null(tls_sess_error(p->c.t));
	tt_pair_free(p, true);
}

/*
 * STARTTLS injection: plaintext fed before the ClientHello is never data.
 * Most junk fails the handshake at once; a fake record header can only
 * stall it (the session's deadline ends that), but never yields data.
 */
static void
test_plaintext_before_handshake(void **state)
{
	static const struct {
		const char *junk;
		bool fails;
	} cases[] = {
	    {"MAIL FROM:<evil@example.org>\r\n", true},
	    {"\r\n", true},
	    {"\x15\x03\x03\x00\x02\x01\x00", true}, /* plaintext alert */
	    {"\x17\x03\x03\x00\x05hello", true},    /* "application data" */
	    {"\x16\x03\x01", false},                /* a record header prefix */
	};
	struct tls_ctx *cctx = tt_client(TLS_VERIFY_HOST, tt_ca, 0, 0, 0);
	struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, 0, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tt_pair *p = tt_pair_new(cctx, sctx, "mx.test.example",
						"mx.test.example");
		size_t n = i == 2 ? 7 : i == 3 ? 10 : strlen(cases[i].junk);
		char buf[64];

		assert_int_equal(tls_read(p->s.t, buf, sizeof(buf)), -ENOTCONN);
		assert_int_equal(tls_feed(p->s.t, cases[i].junk, n), 0);
		tt_run(&p->c, &p->s, 65536);
		if (cases[i].fails ? p->s.hs >= 0 : p->s.hs != 0)
			fail_msg("case %zu: server handshake %d", i, p->s.hs);
		assert_int_equal(p->s.rxlen, 0);
		assert_true(tls_read(p->s.t, buf, sizeof(buf)) < 0);
		assert_false(tls_sess_established(p->s.t));
		/* and the client does not get through either */
		assert_true(p->c.hs != 1);
		tt_pair_free(p, false);
	}
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

static void
test_not_connected(void **state)
{
	struct tls_ctx *cctx = tt_client(TLS_VERIFY_HOST, tt_ca, 0, 0, 0);
	struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, 0, 0);
	struct tt_pair *p =
	    tt_pair_new(cctx, sctx, "mx.test.example", "mx.test.example");
	char buf[8];

	(void)state;
	assert_int_equal(tls_read(p->c.t, buf, sizeof(buf)), -ENOTCONN);
	assert_int_equal(tls_write(p->c.t, "x", 1), -ENOTCONN);
	assert_int_equal(tls_shutdown(p->c.t), 0); /* nothing to send */
	assert_int_equal(tt_pending(p->c.t), 0);
	assert_int_equal(tls_sess_errno(p->c.t), 0);
	tt_pair_free(p, true);
}

static void
test_caps(void **state)
{
	static unsigned char big[9000];
	struct tls_ctx *cctx = tt_client(TLS_VERIFY_HOST, tt_ca, 0, 0, 8192);
	struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, 0, 0);
	struct tls_ctx *tiny = tt_server(tt_mx, tt_mx_key, 0, 1024);
	struct tt_pair *p = tt_connect(cctx, sctx, NULL, NULL, 0, 0);
	size_t before;

	(void)state;
	tt_fill(big, sizeof(big), 3);
	/* output: too big ever, too big now (not sticky), fits later */
	assert_int_equal(tls_write(p->c.t, big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(tls_write(p->c.t, big, 5000), 5000);
	before = tt_pending(p->c.t);
	assert_int_equal(tls_write(p->c.t, big, 5000), -ENOBUFS);
	assert_int_equal(tt_pending(p->c.t), before);
	assert_null(tls_sess_error(p->c.t));
	tt_run(&p->c, &p->s, 65536);
	assert_int_equal(p->s.rxlen, 5000);
	assert_int_equal(tls_write(p->c.t, big + 5000, 4000), 4000);
	tt_run(&p->c, &p->s, 65536);
	assert_int_equal(p->s.rxlen, 9000);
	assert_memory_equal(p->s.rx, big, 9000);
	/* input: over the cap is fatal */
	assert_int_equal(tls_feed(p->c.t, big, 8192), 0);
	assert_int_equal(tls_feed(p->c.t, big, 1), -ENOBUFS);
	assert_non_null(strstr(tls_sess_error(p->c.t), "cap"));
	assert_int_equal(tls_feed(p->c.t, big, 1), -ENOBUFS);
	tt_pair_free(p, false);

	/* a server whose certificate flight exceeds its cap fails cleanly */
	p = tt_pair_new(cctx, tiny, "mx.test.example", "mx.test.example");
	tt_run(&p->c, &p->s, 65536);
	assert_int_equal(p->s.hs, -ENOBUFS);
	assert_non_null(strstr(tls_sess_error(p->s.t), "1024-byte cap"));
	assert_true(p->c.hs != 1);
	tt_pair_free(p, false);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	tls_ctx_free(tiny);
}

/* The block tls_pending_out() hands out never moves while it is unsent. */
static void
test_pending_out_stable(void **state)
{
	static unsigned char big[100000];
	struct tls_ctx *cctx = tt_client(TLS_VERIFY_HOST, tt_ca, 0, 0, 0);
	struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, 0, 0);
	struct tt_pair *p = tt_connect(cctx, sctx, NULL, NULL, 0, 0);
	unsigned char copy[128];
	const void *out, *out2;
	size_t len, len2;

	(void)state;
	tt_fill(big, sizeof(big), 9);
	assert_int_equal(tls_write(p->c.t, "DATA\r\n", 6), 6);
	assert_int_equal(tls_pending_out(p->c.t, &out, &len), 1);
	assert_true(len <= sizeof(copy));
	memcpy(copy, out, len);
	/* more output while the first block is "in flight" */
	assert_int_equal(tls_write(p->c.t, big, sizeof(big)), sizeof(big));
	assert_int_equal(tls_pending_out(p->c.t, &out2, &len2), 1);
	assert_ptr_equal(out2, out);
	assert_int_equal(len2, len);
	assert_memory_equal(out, copy, len);
	/* a short send: the rest comes from the same memory */
	assert_int_equal(tls_feed(p->s.t, out, 5), 0);
	tls_consume_out(p->c.t, 5);
	assert_int_equal(tls_write(p->c.t, big, 10), 10);
	assert_int_equal(tls_pending_out(p->c.t, &out2, &len2), 1);
	assert_ptr_equal(out2, (const unsigned char *)out + 5);
	assert_int_equal(len2, len - 5);
	assert_memory_equal(out2, copy + 5, len - 5);
	assert_int_equal(tls_feed(p->s.t, out2, len2), 0);
	tls_consume_out(p->c.t, len2);
	/* then the queued records, in order */
	tt_run(&p->c, &p->s, 65536);
	assert_int_equal(p->s.rxlen, 6 + sizeof(big) + 10);
	assert_memory_equal(p->s.rx, "DATA\r\n", 6);
	assert_memory_equal(p->s.rx + 6, big, sizeof(big));
	assert_memory_equal(p->s.rx + 6 + sizeof(big), big, 10);
	tt_pair_free(p, true);
}

/* ---- memory per session ----------------------------------------------- */

size_t __sanitizer_get_current_allocated_bytes(void);

static size_t
tt_heap(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

#define TT_MEM_N 16

/*
 * TT_MEM_N idle pairs after the handshake, an EHLO and its reply (the
 * client has read the TLSv1.3 tickets): the heap bytes each client and
 * each server session gives back when freed.
 */
static void
tt_mem_idle(enum tls_version max, long *client_r, long *server_r, long *cache_r)
{
	static const char caps[] = "250-mx.test.example\r\n250-PIPELINING\r\n"
				   "250 SIZE 10240000\r\n";
	struct tls_ctx *cctx = tt_client(TLS_VERIFY_HOST, tt_ca, 0, max, 0);
	struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, 0, 0);
	struct tls_cache *cache = tls_cache_new(TT_MEM_N, 60000 * TT_MS);
	struct tt_pair *p[TT_MEM_N];
	size_t b0, b1, b2, b3;
	char key[32];

	for (size_t i = 0; i < TT_MEM_N; i++) {
		p[i] = tt_pair_new(cctx, sctx, "mx.test.example",
				   "mx.test.example");
		tt_run(&p[i]->c, &p[i]->s, 65536);
		tt_assert_established(p[i]);
		assert_int_equal(tls_write(p[i]->c.t, "EHLO x\r\n", 8), 8);
		tt_run(&p[i]->c, &p[i]->s, 65536);
		assert_int_equal(tls_write(p[i]->s.t, caps, strlen(caps)),
				 (int)strlen(caps));
		tt_run(&p[i]->c, &p[i]->s, 65536);
		assert_int_equal(p[i]->c.rxlen, strlen(caps));
		assert_int_equal(tt_pending(p[i]->c.t), 0);
		assert_int_equal(tt_pending(p[i]->s.t), 0);
	}
	for (size_t i = 0; i < TT_MEM_N; i++) {
		snprintf(key, sizeof(key), "mx%zu:25", i);
		assert_int_equal(tls_cache_put(cache, key, p[i]->c.t, 0), 1);
	}
	b0 = tt_heap();
	for (size_t i = 0; i < TT_MEM_N; i++) {
		tls_sess_free(p[i]->s.t);
		p[i]->s.t = NULL;
	}
	b1 = tt_heap();
	for (size_t i = 0; i < TT_MEM_N; i++) {
		tls_sess_free(p[i]->c.t);
		p[i]->c.t = NULL;
	}
	b2 = tt_heap();
	tls_cache_free(cache);
	b3 = tt_heap();
	for (size_t i = 0; i < TT_MEM_N; i++)
		tt_pair_free(p[i], false);
	*server_r = ((long)b0 - (long)b1) / TT_MEM_N;
	*client_r = ((long)b1 - (long)b2) / TT_MEM_N;
	*cache_r = ((long)b2 - (long)b3) / TT_MEM_N;
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

static void
test_session_memory(void **state)
{
	static const struct {
		enum tls_version max;
		const char *proto;
	} cases[] = {
	    {TLS_V_ANY, "TLSv1.3"},
	    {TLS_V_1_2, "TLSv1.2"},
	};
	long c, s, e;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		tt_mem_idle(cases[i].max, &c, &s, &e);
		fprintf(stderr,
			"idle %s session after EHLO: client %ld bytes, "
			"server %ld bytes; cache entry %ld bytes\n",
			cases[i].proto, c, s, e);
		assert_true(c > 0 && s > 0 && e > 0);
		/* measured (ASan, wolfSSL 5.5.4, RSA-2048 leaf, X25519):
		 * client 70,903 / 69,383, server 53,861 / 51,080, cache
		 * entry 1,054; with P-256 as the group: 73,098 / 71,627,
		 * 56,007 / 53,130; before freeing idle buffers and the key
		 * arrays and serializing cached sessions: 90,900 / 89,429,
		 * 73,809 / 70,932 and 37,602.  Guard against regressions. */
		assert_true(c < 76 * 1024);
		assert_true(s < 58 * 1024);
		assert_true(e < 4096);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resumption),
	    cmocka_unit_test(test_cache),
	    cmocka_unit_test(test_close_notify),
	    cmocka_unit_test(test_eof),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_plaintext_before_handshake),
	    cmocka_unit_test(test_not_connected),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_pending_out_stable),
	    cmocka_unit_test(test_session_memory),
	};

	return cmocka_run_group_tests_name("tls_sess", tests, tt_setup,
					   tt_teardown);
}
