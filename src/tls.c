/* SPDX-License-Identifier: MIT */
/*
 * tls.c: the wolfSSL glue (see tls.h): policies, sessions over caller
 * buffers, and the client resumption cache.
 *
 * Owns every call into wolfSSL and the translation of its codes into
 * -errno plus text.  Must not touch sockets, the ring, the clock or the
 * log: callers move the bytes, supply the time and log the outcome.  The
 * send callback always accepts everything (TOOLCHAIN 3.3 #3) into a
 * bounded, double-buffered output, so wolfSSL never sees WANT_WRITE.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>

#include <wolfssl/options.h> /* must precede every other wolfSSL header */
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#define TLS_REC_MAX      16384u /* plaintext bytes per record */
#define TLS_REC_OVERHEAD 256u   /* header, IV, MAC/tag, padding: generous */
#define TLS_NAME_MAX     253u   /* DNS name without the trailing dot */
#define TLS_ERR_MAX      256u
#define TLS_BUF_MIN      4096u

/* Bytes p[off .. off + len) are live; cap is the allocation. */
struct tls_buf {
	unsigned char *p;
	size_t off;
	size_t len;
	size_t cap;
};

struct tls_ctx {
	WOLFSSL_CTX *wctx;
	uint64_t
	    id; /* cache entries only resume under the ctx that made them */
	unsigned refs;
	bool server;
	enum tls_verify verify;
	size_t buf_cap;
};

struct tls_sess {
	struct tls_ctx *ctx;
	WOLFSSL *ssl;
	struct tls_buf in; /* ciphertext fed, not yet read by wolfSSL */
	struct tls_buf
	    out[2]; /* out[out_send] is handed out; the other fills */
	unsigned out_send;
	int err; /* first error, sticky */
	bool eof;
	bool started; /* tls_handshake() ran: too late to offer a session */
	bool done;
	bool shut_sent;
	bool peer_closed; /* close_notify received */
	bool name_checked;
	bool verify_seen;   /* the verify callback ran at least once */
	bool verify_failed; /* ... and reported a failure */
	bool verified;      /* final result, set when the handshake completes */
	bool resume_offered;
	bool resume_verified; /* from the cache entry offered */
	bool resumed;
	const char *cipher;
	char resume_verr[TLS_ERR_MAX];
	char verr[TLS_ERR_MAX];
	char errmsg[TLS_ERR_MAX];
	char sni[TLS_NAME_MAX + 1];
};

static const char *const tls_verify_names[] = {
    [TLS_VERIFY_NONE] = "none",
    [TLS_VERIFY_CA] = "ca",
    [TLS_VERIFY_HOST] = "host",
};
_Static_assert(nitems(tls_verify_names) == TLS_VERIFY__COUNT,
	       "tls_verify_names must name every enum tls_verify");

static const char *const tls_version_names[] = {
    [TLS_V_ANY] = "any",
    [TLS_V_1_2] = "TLSv1.2",
    [TLS_V_1_3] = "TLSv1.3",
};
_Static_assert(nitems(tls_version_names) == TLS_V__COUNT,
	       "tls_version_names must name every enum tls_version");

static uint64_t tls_ctx_last_id;

/* The policy's name as configured, or "?" outside the enum. */
const char *
tls_verify_str(enum tls_verify v)
{
	if ((unsigned)v >= TLS_VERIFY__COUNT)
		return "?";
	return tls_verify_names[v];
}

/* The version's protocol name, or "?" outside the enum. */
const char *
tls_version_str(enum tls_version v)
{
	if ((unsigned)v >= TLS_V__COUNT)
		return "?";
	return tls_version_names[v];
}

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
tls_buf_drop(struct tls_buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

static void
tls_buf_free(struct tls_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static size_t
tls_out_len(const struct tls_sess *sess)
{
	return sess->out[0].len + sess->out[1].len;
}

/* ---- errors ----------------------------------------------------------- */

static void tls_errmsg(char *err, size_t err_size, const char *fmt, ...)
    ATTR_FMT(3, 4);

static void
tls_errmsg(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

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

/* OpenSSL's texts, which wolfSSL lacks, for the X509_V_ERR_* it reports. */
static const struct {
	int code;
	const char *text;
} tls_x509_texts[] = {
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, "unable to get issuer certificate"},
    {X509_V_ERR_CERT_SIGNATURE_FAILURE, "certificate signature failure"},
    {X509_V_ERR_CERT_NOT_YET_VALID, "certificate is not yet valid"},
    {X509_V_ERR_CERT_HAS_EXPIRED, "certificate has expired"},
    {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "self-signed certificate"},
    {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
     "self-signed certificate in certificate chain"},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
     "unable to get local issuer certificate"},
    {X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
     "unable to verify the first certificate"},
    {X509_V_ERR_CERT_CHAIN_TOO_LONG, "certificate chain too long"},
    {X509_V_ERR_CERT_REVOKED, "certificate revoked"},
    {X509_V_ERR_INVALID_CA, "invalid CA certificate"},
    {X509_V_ERR_INVALID_PURPOSE, "unsupported certificate purpose"},
    {X509_V_ERR_CERT_UNTRUSTED, "certificate not trusted"},
    {X509_V_ERR_CERT_REJECTED, "certificate rejected"},
};

/* The text for an X509_V_ERR_* value or a (negative) wolfSSL code. */
static const char *
tls_verify_text(int code)
{
	for (size_t i = 0; i < nitems(tls_x509_texts); i++)
		if (tls_x509_texts[i].code == code)
			return tls_x509_texts[i].text;
	return wolfSSL_X509_verify_cert_error_string(code);
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

static int
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

static int
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

/*
 * Called for every certificate (WOLFSSL_ALWAYS_VERIFY_CB is on in this
 * build) and for the name check.  Records the first failure; only
 * verify=none overrides it.
 */
static int
tls_on_verify(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	WOLFSSL *ssl = wolfSSL_X509_STORE_CTX_get_ex_data(
	    store, wolfSSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_sess *sess;
	int code, depth;

	if (ssl == NULL)
		return preverify;
	sess = wolfSSL_GetIOReadCtx(ssl);
	sess->verify_seen = true;
	if (!preverify && !sess->verify_failed) {
		sess->verify_failed = true;
		code = wolfSSL_X509_STORE_CTX_get_error(store);
		depth = wolfSSL_X509_STORE_CTX_get_error_depth(store);
		if (depth > 0)
			snprintf(sess->verr, sizeof(sess->verr),
				 "%s (chain depth %d)", tls_verify_text(code),
				 depth);
		else
			snprintf(sess->verr, sizeof(sess->verr), "%s",
				 tls_verify_text(code));
	}
	return sess->ctx->verify == TLS_VERIFY_NONE ? 1 : preverify;
}

/* ---- contexts --------------------------------------------------------- */

static void
tls_lib_init(void)
{
	static bool ready;

	if (!ready) {
		BUG_ON(wolfSSL_Init() != WOLFSSL_SUCCESS);
		ready = true;
	}
}

static int
tls_ctx_versions(WOLFSSL_CTX *wctx, enum tls_version min, enum tls_version max,
		 char *err, size_t err_size)
{
	if ((unsigned)min >= TLS_V__COUNT || (unsigned)max >= TLS_V__COUNT ||
	    (max != TLS_V_ANY && min > max)) {
		tls_errmsg(err, err_size, "bad TLS version range %s..%s",
			   tls_version_str(min), tls_version_str(max));
		return -EINVAL;
	}
	if (wolfSSL_CTX_SetMinVersion(
		wctx, min == TLS_V_1_3 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2) !=
	    WOLFSSL_SUCCESS) {
		tls_errmsg(err, err_size, "cannot set the minimum version");
		return -EINVAL;
	}
	if (max == TLS_V_1_2 && wolfSSL_CTX_set_max_proto_version(
				    wctx, TLS1_2_VERSION) != WOLFSSL_SUCCESS) {
		tls_errmsg(err, err_size, "cannot set the maximum version");
		return -EINVAL;
	}
	return 0;
}

/* Check that path is a readable file, for a precise errno. */
static int
tls_check_file(const char *what, const char *path, char *err, size_t err_size)
{
	FILE *f = fopen(path, "r");
	int e = errno;

	if (f == NULL) {
		tls_errmsg(err, err_size, "%s %s: %s", what, path, strerror(e));
		return -e;
	}
	fclose(f);
	return 0;
}

static int
tls_ctx_common(WOLFSSL_CTX *wctx, enum tls_version min, enum tls_version max,
	       const char *ciphers, char *err, size_t err_size)
{
	int r = tls_ctx_versions(wctx, min, max, err, err_size);

	if (r < 0)
		return r;
	if (ciphers != NULL &&
	    wolfSSL_CTX_set_cipher_list(wctx, ciphers) != WOLFSSL_SUCCESS) {
		tls_errmsg(err, err_size, "unusable cipher list \"%s\"",
			   ciphers);
		return -EINVAL;
	}
	wolfSSL_CTX_SetIORecv(wctx, tls_io_recv);
	wolfSSL_CTX_SetIOSend(wctx, tls_io_send);
	return 0;
}

static struct tls_ctx *
tls_ctx_wrap(WOLFSSL_CTX *wctx, bool server, size_t buf_cap)
{
	struct tls_ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->wctx = wctx;
	ctx->id = ++tls_ctx_last_id;
	ctx->refs = 1;
	ctx->server = server;
	ctx->buf_cap = buf_cap ? buf_cap : TLS_BUF_CAP_DEFAULT;
	return ctx;
}

static int
tls_client_trust(WOLFSSL_CTX *wctx, const struct tls_client_opts *opts,
		 char *err, size_t err_size)
{
	int r;

	if (opts->ca_file != NULL) {
		r = tls_check_file("CA file", opts->ca_file, err, err_size);
		if (r < 0)
			return r;
		if (wolfSSL_CTX_load_verify_locations(
			wctx, opts->ca_file, NULL) != WOLFSSL_SUCCESS) {
			tls_errmsg(err, err_size,
				   "CA file %s: no usable PEM certificate",
				   opts->ca_file);
			return -EINVAL;
		}
		return 0;
	}
	if (wolfSSL_CTX_load_system_CA_certs(wctx) != WOLFSSL_SUCCESS &&
	    opts->verify != TLS_VERIFY_NONE) {
		tls_errmsg(err, err_size, "cannot load the system CA store");
		return -ENOENT;
	}
	return 0;
}

/* See tls.h. */
int
tls_ctx_new_client(const struct tls_client_opts *opts, struct tls_ctx **ctx_r,
		   char *err, size_t err_size)
{
	WOLFSSL_CTX *wctx;
	int r;

	*ctx_r = NULL;
	tls_errmsg(err, err_size, "%s", "");
	if ((unsigned)opts->verify >= TLS_VERIFY__COUNT) {
		tls_errmsg(err, err_size, "bad verify mode %d", opts->verify);
		return -EINVAL;
	}
	tls_lib_init();
	wctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (wctx == NULL) {
		tls_errmsg(err, err_size, "wolfSSL_CTX_new failed");
		return -ENOMEM;
	}
	r = tls_ctx_common(wctx, opts->min_version, opts->max_version,
			   opts->ciphers, err, err_size);
	if (r == 0)
		r = tls_client_trust(wctx, opts, err, err_size);
	if (r == 0 && wolfSSL_CTX_UseSessionTicket(wctx) != WOLFSSL_SUCCESS) {
		tls_errmsg(err, err_size, "cannot enable session tickets");
		r = -EINVAL;
	}
	if (r < 0) {
		wolfSSL_CTX_free(wctx);
		return r;
	}
	/* Always PEER: the callback decides, so verify=none still learns
	 * whether the peer is trusted (TOOLCHAIN 3.3 #2). */
	wolfSSL_CTX_set_verify(wctx, WOLFSSL_VERIFY_PEER, tls_on_verify);
	*ctx_r = tls_ctx_wrap(wctx, false, opts->buf_cap);
	(*ctx_r)->verify = opts->verify;
	return 0;
}

static int
tls_server_keys(WOLFSSL_CTX *wctx, const struct tls_server_opts *opts,
		char *err, size_t err_size)
{
	int r;

	if (opts->cert_file == NULL || opts->key_file == NULL) {
		tls_errmsg(err, err_size, "a certificate and a key are needed");
		return -EINVAL;
	}
	r = tls_check_file("certificate", opts->cert_file, err, err_size);
	if (r == 0)
		r = tls_check_file("key", opts->key_file, err, err_size);
	if (r < 0)
		return r;
	if (wolfSSL_CTX_use_certificate_chain_file(wctx, opts->cert_file) !=
	    WOLFSSL_SUCCESS) {
		tls_errmsg(err, err_size, "certificate %s: no usable PEM chain",
			   opts->cert_file);
		return -EINVAL;
	}
	if (wolfSSL_CTX_use_PrivateKey_file(wctx, opts->key_file,
					    WOLFSSL_FILETYPE_PEM) !=
	    WOLFSSL_SUCCESS) {
		tls_errmsg(err, err_size, "key %s: no usable PEM private key",
			   opts->key_file);
		return -EINVAL;
	}
	if (wolfSSL_CTX_check_private_key(wctx) != WOLFSSL_SUCCESS) {
		tls_errmsg(err, err_size,
			   "key %s does not match certificate %s",
			   opts->key_file, opts->cert_file);
		return -EINVAL;
	}
	return 0;
}

/* See tls.h. */
int
tls_ctx_new_server(const struct tls_server_opts *opts, struct tls_ctx **ctx_r,
		   char *err, size_t err_size)
{
	WOLFSSL_CTX *wctx;
	int r;

	*ctx_r = NULL;
	tls_errmsg(err, err_size, "%s", "");
	tls_lib_init();
	wctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	if (wctx == NULL) {
		tls_errmsg(err, err_size, "wolfSSL_CTX_new failed");
		return -ENOMEM;
	}
	r = tls_ctx_common(wctx, opts->min_version, opts->max_version,
			   opts->ciphers, err, err_size);
	if (r == 0)
		r = tls_server_keys(wctx, opts, err, err_size);
	if (r < 0) {
		wolfSSL_CTX_free(wctx);
		return r;
	}
	/* No client certificates; SNI is kept (WOLFSSL_ALWAYS_KEEP_SNI). */
	wolfSSL_CTX_set_verify(wctx, WOLFSSL_VERIFY_NONE, NULL);
	*ctx_r = tls_ctx_wrap(wctx, true, opts->buf_cap);
	(*ctx_r)->verify = TLS_VERIFY_NONE;
	return 0;
}

static void
tls_ctx_unref(struct tls_ctx *ctx)
{
	BUG_ON(ctx->refs == 0);
	if (--ctx->refs > 0)
		return;
	wolfSSL_CTX_free(ctx->wctx);
	free(ctx);
}

/* See tls.h. */
void
tls_ctx_free(struct tls_ctx *ctx)
{
	if (ctx != NULL)
		tls_ctx_unref(ctx);
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

/* ---- resumption cache ------------------------------------------------- */

struct tls_cache_ent {
	TAILQ_ENTRY(tls_cache_ent) lru; /* head: most recently used */
	struct tls_cache_ent *hnext;
	uint32_t hash;
	uint64_t ctx_id;
	int64_t expires;
	WOLFSSL_SESSION *ws;
	bool verified;
	char *verr; /* NULL when verified */
	char key[];
};

TAILQ_HEAD(tls_cache_lru, tls_cache_ent);

struct tls_cache {
	struct tls_cache_lru lru;
	struct tls_cache_ent **bucket;
	size_t nbucket; /* power of two */
	size_t count;
	size_t max;
	int64_t ttl;
};

static uint32_t
tls_cache_hash(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* See tls.h. */
struct tls_cache *
tls_cache_new(size_t max_entries, int64_t ttl_ns)
{
	struct tls_cache *c = xcalloc(1, sizeof(*c));

	BUG_ON(max_entries == 0 || ttl_ns <= 0);
	TAILQ_INIT(&c->lru);
	c->max = max_entries;
	c->ttl = ttl_ns;
	c->nbucket = 16;
	while (c->nbucket < max_entries && c->nbucket < 65536)
		c->nbucket *= 2;
	c->bucket = xcalloc(c->nbucket, sizeof(*c->bucket));
	return c;
}

static struct tls_cache_ent **
tls_cache_slot(struct tls_cache *c, const char *key, uint32_t hash)
{
	struct tls_cache_ent **pp = &c->bucket[hash & (c->nbucket - 1)];

	while (*pp != NULL &&
	       ((*pp)->hash != hash || strcmp((*pp)->key, key) != 0))
		pp = &(*pp)->hnext;
	return pp;
}

static void
tls_cache_ent_free(struct tls_cache_ent *e)
{
	wolfSSL_SESSION_free(e->ws);
	free(e->verr);
	free(e);
}

/* Unlink and free the entry *pp points at. */
static void
tls_cache_remove(struct tls_cache *c, struct tls_cache_ent **pp)
{
	struct tls_cache_ent *e = *pp;

	*pp = e->hnext;
	TAILQ_REMOVE(&c->lru, e, lru);
	c->count--;
	tls_cache_ent_free(e);
}

/* See tls.h. */
void
tls_cache_free(struct tls_cache *c)
{
	struct tls_cache_ent *e;

	if (c == NULL)
		return;
	while ((e = TAILQ_FIRST(&c->lru)) != NULL) {
		TAILQ_REMOVE(&c->lru, e, lru);
		tls_cache_ent_free(e);
	}
	free(c->bucket);
	free(c);
}

static void
tls_cache_evict_lru(struct tls_cache *c)
{
	struct tls_cache_ent *e = TAILQ_LAST(&c->lru, tls_cache_lru);

	tls_cache_remove(c, tls_cache_slot(c, e->key, e->hash));
}

/* TLSv1.3 resumes only with a ticket (it arrives after the handshake);
 * TLSv1.2 with a ticket or a session id. */
static bool
tls_resumable(struct tls_sess *sess, WOLFSSL_SESSION *ws)
{
	if (wolfSSL_SESSION_has_ticket(ws))
		return true;
	if (wolfSSL_version(sess->ssl) == TLS1_3_VERSION)
		return false;
	return wolfSSL_SESSION_is_resumable(ws) != 0;
}

/* See tls.h. */
int
tls_cache_put(struct tls_cache *c, const char *key, struct tls_sess *sess,
	      int64_t now_ns)
{
	uint32_t hash = tls_cache_hash(key);
	struct tls_cache_ent **pp, *e;
	WOLFSSL_SESSION *ws;
	size_t klen = strlen(key);

	if (sess->ctx->server || !sess->done || sess->err != 0)
		return 0;
	ws = wolfSSL_get1_session(sess->ssl);
	if (ws == NULL)
		return 0;
	if (!tls_resumable(sess, ws)) {
		wolfSSL_SESSION_free(ws);
		return 0;
	}
	pp = tls_cache_slot(c, key, hash);
	if (*pp != NULL)
		tls_cache_remove(c, pp);
	if (c->count >= c->max)
		tls_cache_evict_lru(c);
	e = xcalloc(1, sizeof(*e) + klen + 1);
	memcpy(e->key, key, klen + 1);
	e->hash = hash;
	e->ctx_id = sess->ctx->id;
	e->expires = now_ns + c->ttl;
	e->ws = ws;
	e->verified = tls_sess_peer_verified(sess);
	e->verr = e->verified ? NULL : xstrdup(tls_sess_verify_error(sess));
	pp = &c->bucket[hash & (c->nbucket - 1)];
	e->hnext = *pp;
	*pp = e;
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	c->count++;
	return 1;
}

/* See tls.h. */
int
tls_cache_get(struct tls_cache *c, const char *key, struct tls_sess *sess,
	      int64_t now_ns)
{
	struct tls_cache_ent **pp = tls_cache_slot(c, key, tls_cache_hash(key));
	struct tls_cache_ent *e = *pp;

	if (e == NULL || sess->ctx->server || sess->started || sess->err != 0)
		return 0;
	if (now_ns >= e->expires) {
		tls_cache_remove(c, pp);
		return 0;
	}
	if (e->ctx_id != sess->ctx->id)
		return 0;
	if (wolfSSL_set_session(sess->ssl, e->ws) != WOLFSSL_SUCCESS) {
		tls_cache_remove(c, pp);
		return 0;
	}
	TAILQ_REMOVE(&c->lru, e, lru);
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	sess->resume_offered = true;
	sess->resume_verified = e->verified;
	snprintf(sess->resume_verr, sizeof(sess->resume_verr), "%s",
		 e->verr != NULL ? e->verr : "");
	return 1;
}

/* See tls.h. */
void
tls_cache_del(struct tls_cache *c, const char *key)
{
	struct tls_cache_ent **pp = tls_cache_slot(c, key, tls_cache_hash(key));

	if (*pp != NULL)
		tls_cache_remove(c, pp);
}

/* See tls.h. */
size_t
tls_cache_count(const struct tls_cache *c)
{
	return c->count;
}
