/* SPDX-License-Identifier: MIT */
/*
 * tls.c: TLS sessions over caller buffers (see tls.h): the ciphertext
 * buffers, wolfSSL's I/O callbacks, the handshake, read, write and
 * shutdown, and the translation of wolfSSL's codes into -errno plus text.
 *
 * Must not touch sockets, the ring, the clock or the log: callers move the
 * bytes and log the outcome.  The send callback always accepts everything
 * (TOOLCHAIN 3.3 #3) into a bounded, double-buffered output, so wolfSSL
 * never sees WANT_WRITE.  Idle sessions hold no ciphertext buffer, and the
 * handshake's key arrays are freed once it completes (docs/TLS.md,
 * "Memory per connection").  Policies are tls_ctx.c, resumption
 * tls_cache.c.
 */
#include "tls_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

/* ---- buffers ---------------------------------------------------------- */

static void
tls_buf_append(struct tls_buf *b, const void *data, size_t n)
{
	if (b->cap - b->off - b->len < n && b->off > 0) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
	}
	if (b->cap - b->len < n) {
		size_t cap = MAX(MAX(b->cap * 2, b->len + n), TLS_BUF_MIN);

		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->off + b->len, data, n);
	b->len += n;
}

static void
tls_buf_free(struct tls_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Drop n bytes from the front; an emptied buffer gives its memory back, so
 * an idle session holds no ciphertext buffers at all. */
static void
tls_buf_drop(struct tls_buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		tls_buf_free(b);
}

static size_t
tls_out_len(const struct tls_sess *sess)
{
	return sess->out[0].len + sess->out[1].len;
}

/* ---- errors ----------------------------------------------------------- */

static int tls_set_error(struct tls_sess *sess, int err, const char *fmt, ...)
    ATTR_FMT(3, 4);

/* Record the session's first error; returns the sticky one. */
static int
tls_set_error(struct tls_sess *sess, int err, const char *fmt, ...)
{
	va_list ap;

	if (sess->err != 0)
		return sess->err;
	sess->err = err;
	va_start(ap, fmt);
	vsnprintf(sess->errmsg, sizeof(sess->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

/* wolfSSL's text for error e (never NULL). */
static const char *
tls_wolf_text(int e, char *buf, size_t size)
{
	wolfSSL_ERR_error_string_n((unsigned long)e, buf, size);
	return buf;
}

/*
 * Translate a failed wolfSSL call (error code e from wolfSSL_get_error)
 * into the session's sticky -errno and reason.
 */
static int
tls_fail(struct tls_sess *sess, int e, const char *what)
{
	char text[128];
	WOLFSSL_ALERT_HISTORY h;

	if (sess->err != 0)
		return sess->err; /* a callback already said why */
	if (e == WOLFSSL_ERROR_ZERO_RETURN || e == ZERO_RETURN) {
		sess->peer_closed = true;
		tls_buf_free(&sess->in);
		return tls_set_error(sess, -EPIPE, "peer sent close_notify");
	}
	if (sess->eof && sess->in.len == 0 &&
	    (e == SOCKET_PEER_CLOSED_E || e == SOCKET_ERROR_E ||
	     e == WOLFSSL_ERROR_SYSCALL))
		return tls_set_error(sess, -ECONNRESET,
				     "connection closed without close_notify "
				     "during %s",
				     what);
	if (e == MEMORY_E || e == MEMORY_ERROR)
		return tls_set_error(sess, -ENOMEM, "out of memory during %s",
				     what);
	if (!sess->ctx->server && sess->ctx->verify != TLS_VERIFY_NONE &&
	    sess->verify_failed)
		return tls_set_error(sess, -EKEYREJECTED,
				     "certificate verify failed: %s",
				     sess->verr);
	if (e == FATAL_ERROR &&
	    wolfSSL_get_alert_history(sess->ssl, &h) == WOLFSSL_SUCCESS)
		return tls_set_error(
		    sess, -EPROTO, "peer sent fatal alert %s during %s",
		    wolfSSL_alert_desc_string_long(h.last_rx.code), what);
	return tls_set_error(sess, -EPROTO, "%s (%d) during %s",
			     tls_wolf_text(e, text, sizeof(text)), e, what);
}

/* After a wolfSSL call returned ret != success: 0 to wait, or the error. */
static int
tls_check(struct tls_sess *sess, int ret, const char *what)
{
	int e;

	if (sess->err != 0)
		return sess->err;
	e = wolfSSL_get_error(sess->ssl, ret);
	/* 0: the WANT_WRITE quirk (TOOLCHAIN 3.3 #3); our send never blocks */
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE ||
	    e == 0)
		return 0; /* EOF is not WANT_READ: tls_io_recv says CONN_CLOSE
			   */
	return tls_fail(sess, e, what);
}

/* ---- wolfSSL callbacks ------------------------------------------------ */

/* See tls_int.h. */
int
tls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_sess *sess = arg;
	size_t n;

	(void)ssl;
	if (sess->in.len == 0)
		return sess->eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE
				 : WOLFSSL_CBIO_ERR_WANT_READ;
	if (sz <= 0)
		return WOLFSSL_CBIO_ERR_GENERAL;
	n = MIN((size_t)sz, sess->in.len);
	memcpy(buf, sess->in.p + sess->in.off, n);
	tls_buf_drop(&sess->in, n);
	return (int)n;
}

/* See tls_int.h. */
int
tls_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_sess *sess = arg;
	size_t cap = sess->ctx->buf_cap;

	(void)ssl;
	if (sz < 0)
		return WOLFSSL_CBIO_ERR_GENERAL;
	if ((size_t)sz > cap - tls_out_len(sess)) {
		tls_set_error(sess, -ENOBUFS,
			      "TLS output would pass the %zu-byte cap", cap);
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
	tls_buf_append(&sess->out[sess->out_send ^ 1u], buf, (size_t)sz);
	return sz;
}

/* ---- sessions --------------------------------------------------------- */

/* Copy name without one trailing dot into out[TLS_NAME_MAX + 1]; returns
 * its length, or -EINVAL when empty or too long. */
static int
tls_name_copy(const char *name, char *out)
{
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > TLS_NAME_MAX)
		return -EINVAL;
	memcpy(out, name, n);
	out[n] = '\0';
	return (int)n;
}

static bool
tls_is_ip_literal(const char *name)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, name, addr) == 1 ||
	       inet_pton(AF_INET6, name, addr) == 1;
}

static struct tls_sess *
tls_sess_alloc(struct tls_ctx *ctx)
{
	struct tls_sess *sess;
	WOLFSSL *ssl = wolfSSL_new(ctx->wctx);

	if (ssl == NULL)
		return NULL;
	sess = xcalloc(1, sizeof(*sess));
	sess->ctx = ctx;
	sess->ssl = ssl;
	ctx->refs++;
	wolfSSL_SetIOReadCtx(ssl, sess);
	wolfSSL_SetIOWriteCtx(ssl, sess);
	return sess;
}

static int
tls_sess_names(struct tls_sess *sess, const char *sni_host,
	       const char *verify_name)
{
	char name[TLS_NAME_MAX + 1];
	int n;

	if (sni_host != NULL) {
		n = tls_name_copy(sni_host, name);
		if (n < 0)
			return n;
		if (!tls_is_ip_literal(name) &&
		    wolfSSL_UseSNI(sess->ssl, WOLFSSL_SNI_HOST_NAME, name,
				   (unsigned short)n) != WOLFSSL_SUCCESS)
			return -ENOMEM;
	}
	if (sess->ctx->verify == TLS_VERIFY_CA)
		return 0;
	if (verify_name == NULL)
		return sess->ctx->verify == TLS_VERIFY_HOST ? -EINVAL : 0;
	n = tls_name_copy(verify_name, name);
	if (n < 0)
		return n;
	if (wolfSSL_check_domain_name(sess->ssl, name) != WOLFSSL_SUCCESS)
		return -ENOMEM;
	sess->name_checked = true;
	return 0;
}

/* See tls.h. */
int
tls_sess_new_client(struct tls_ctx *ctx, const char *sni_host,
		    const char *verify_name, struct tls_sess **sess_r)
{
	struct tls_sess *sess;
	int r;

	*sess_r = NULL;
	if (ctx->server)
		return -EINVAL;
	sess = tls_sess_alloc(ctx);
	if (sess == NULL)
		return -ENOMEM;
	r = tls_sess_names(sess, sni_host, verify_name);
	if (r < 0) {
		tls_sess_free(sess);
		return r;
	}
	*sess_r = sess;
	return 0;
}

/* See tls.h. */
int
tls_sess_new_server(struct tls_ctx *ctx, struct tls_sess **sess_r)
{
	*sess_r = NULL;
	if (!ctx->server)
		return -EINVAL;
	*sess_r = tls_sess_alloc(ctx);
	return *sess_r != NULL ? 0 : -ENOMEM;
}

/* See tls.h. */
void
tls_sess_free(struct tls_sess *sess)
{
	if (sess == NULL)
		return;
	wolfSSL_free(sess->ssl);
	tls_buf_free(&sess->in);
	tls_buf_free(&sess->out[0]);
	tls_buf_free(&sess->out[1]);
	tls_ctx_unref(sess->ctx);
	free(sess);
}

/* See tls.h. */
int
tls_feed(struct tls_sess *sess, const void *buf, size_t len)
{
	size_t cap = sess->ctx->buf_cap;

	if (sess->peer_closed)
		return -EPIPE;
	if (sess->err != 0)
		return sess->err;
	if (sess->eof)
		return -EINVAL;
	if (len > cap - sess->in.len)
		return tls_set_error(sess, -ENOBUFS,
				     "TLS input would pass the %zu-byte cap",
				     cap);
	if (len > 0)
		tls_buf_append(&sess->in, buf, len);
	return 0;
}

/* See tls.h. */
void
tls_feed_eof(struct tls_sess *sess)
{
	sess->eof = true;
}

/* See tls.h. */
int
tls_pending_out(struct tls_sess *sess, const void **buf_r, size_t *len_r)
{
	struct tls_buf *b = &sess->out[sess->out_send];

	if (b->len == 0) {
		b = &sess->out[sess->out_send ^ 1u];
		if (b->len == 0) {
			*buf_r = NULL;
			*len_r = 0;
			return 0;
		}
		sess->out_send ^= 1u; /* the fill side is handed out now */
	}
	*buf_r = b->p + b->off;
	*len_r = b->len;
	return 1;
}

/* See tls.h. */
void
tls_consume_out(struct tls_sess *sess, size_t n)
{
	struct tls_buf *b = &sess->out[sess->out_send];

	BUG_ON(n > b->len);
	tls_buf_drop(b, n);
}

static void
tls_on_established(struct tls_sess *sess)
{
	const char *sni = NULL;
	unsigned short n;
	int cs;

	sess->done = true;
	sess->resumed = wolfSSL_session_reused(sess->ssl) != 0;
	/* wolfSSL already ran FreeHandshakeResources (a no-op for TLSv1.3
	 * in this build, which keeps state for post-handshake auth); the
	 * key-material arrays (~5.5 KB) are kept for the OpenSSL layer's
	 * exporters, which we never call. */
	wolfSSL_FreeArrays(sess->ssl);
	cs = wolfSSL_get_current_cipher_suite(sess->ssl);
	sess->cipher = wolfSSL_get_cipher_name_iana_from_suite(
	    (unsigned char)(cs >> 8), (unsigned char)cs);
	if (sess->cipher == NULL || strcmp(sess->cipher, "None") == 0)
		sess->cipher = wolfSSL_get_cipher_name(sess->ssl);
	if (sess->ctx->server) {
		n = wolfSSL_SNI_GetRequest(sess->ssl, WOLFSSL_SNI_HOST_NAME,
					   (void **)&sni);
		if (sni != NULL && n > 0) {
			n = MIN(n, TLS_NAME_MAX);
			memcpy(sess->sni, sni, n);
			sess->sni[n] = '\0';
		}
		return;
	}
	if (sess->resumed && sess->resume_offered) {
		sess->verified = sess->resume_verified;
		memcpy(sess->verr, sess->resume_verr, sizeof(sess->verr));
	} else if (!sess->verify_seen) {
		snprintf(sess->verr, sizeof(sess->verr),
			 "no peer certificate was checked");
	} else {
		sess->verified = !sess->verify_failed;
	}
}

/* See tls.h. */
int
tls_handshake(struct tls_sess *sess)
{
	int ret;

	if (sess->err != 0)
		return sess->err;
	if (sess->done)
		return 1;
	sess->started = true;
	ret = sess->ctx->server ? wolfSSL_accept(sess->ssl)
				: wolfSSL_connect(sess->ssl);
	if (sess->err != 0)
		return sess->err;
	if (ret == WOLFSSL_SUCCESS) {
		tls_on_established(sess);
		return 1;
	}
	return tls_check(sess, ret, "the handshake");
}

/* See tls.h. */
int
tls_read(struct tls_sess *sess, void *buf, size_t len)
{
	int n;

	if (sess->err != 0)
		return sess->err;
	if (!sess->done)
		return -ENOTCONN;
	if (len == 0)
		return 0;
	n = wolfSSL_read(sess->ssl, buf, (int)MIN(len, (size_t)INT_MAX));
	if (sess->err != 0)
		return sess->err;
	if (n > 0)
		return n;
	return tls_check(sess, n, "read");
}

/* See tls.h. */
int
tls_write(struct tls_sess *sess, const void *buf, size_t len)
{
	size_t cap = sess->ctx->buf_cap;
	size_t need;
	int n;

	if (sess->err != 0)
		return sess->err;
	if (!sess->done)
		return -ENOTCONN;
	if (sess->shut_sent)
		return -EPIPE;
	if (len == 0)
		return 0;
	if (len > cap || len > INT_MAX / 2)
		return -EMSGSIZE;
	need = len + (len + TLS_REC_MAX - 1) / TLS_REC_MAX * TLS_REC_OVERHEAD;
	if (need > cap - tls_out_len(sess))
		return -ENOBUFS;
	n = wolfSSL_write(sess->ssl, buf, (int)len);
	if (sess->err != 0)
		return sess->err;
	if (n == (int)len)
		return n;
	return n > 0 ? tls_set_error(sess, -EPROTO, "short write (%d of %zu)",
				     n, len)
		     : tls_fail(sess, wolfSSL_get_error(sess->ssl, n), "write");
}

/* See tls.h. */
int
tls_shutdown(struct tls_sess *sess)
{
	int ret;

	if (sess->shut_sent)
		return 0;
	if (sess->err != 0 && !sess->peer_closed)
		return sess->err;
	sess->shut_sent = true;
	if (!sess->done)
		return 0;
	ret = wolfSSL_shutdown(sess->ssl);
	if (ret == WOLFSSL_SUCCESS || ret == WOLFSSL_SHUTDOWN_NOT_DONE)
		return 0;
	if (sess->err != 0 && !sess->peer_closed)
		return sess->err;
	return tls_fail(sess, wolfSSL_get_error(sess->ssl, ret), "shutdown");
}

/* See tls.h. */
const char *
tls_sess_error(const struct tls_sess *sess)
{
	return sess->err != 0 ? sess->errmsg : NULL;
}

/* See tls.h. */
int
tls_sess_errno(const struct tls_sess *sess)
{
	return sess->err;
}

/* See tls.h. */
bool
tls_sess_established(const struct tls_sess *sess)
{
	return sess->done;
}

/* See tls.h. */
const char *
tls_sess_protocol(const struct tls_sess *sess)
{
	return sess->done ? wolfSSL_get_version(sess->ssl) : NULL;
}

/* See tls.h. */
const char *
tls_sess_cipher(const struct tls_sess *sess)
{
	return sess->done ? sess->cipher : NULL;
}

/* See tls.h. */
const char *
tls_sess_group(const struct tls_sess *sess)
{
	return sess->done ? wolfSSL_get_curve_name(sess->ssl) : NULL;
}

/* See tls.h. */
bool
tls_sess_peer_verified(const struct tls_sess *sess)
{
	return sess->done && sess->verified;
}

/* See tls.h. */
const char *
tls_sess_verify_error(const struct tls_sess *sess)
{
	if (tls_sess_peer_verified(sess))
		return NULL;
	if (sess->ctx->server)
		return "client certificates are not requested";
	if (!sess->done && !sess->verify_failed)
		return "handshake not complete";
	return sess->verr;
}

/* See tls.h. */
bool
tls_sess_resumed(const struct tls_sess *sess)
{
	return sess->done && sess->resumed;
}

/* See tls.h. */
const char *
tls_sess_sni(const struct tls_sess *sess)
{
	return sess->sni[0] != '\0' ? sess->sni : NULL;
}
