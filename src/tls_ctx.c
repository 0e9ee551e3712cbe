/* SPDX-License-Identifier: MIT */
/*
 * tls_ctx.c: TLS policies (see tls.h): client contexts with their trust
 * store and verify mode, server contexts with their certificate and key,
 * the version range and ciphers, and the verify callback that records why
 * a peer is not trusted.
 *
 * Built at start-up or reload, never per connection; reference-counted so
 * sessions outlive their owner's free.  No I/O besides reading the
 * configured files; no logging: errors go back as -errno plus text.
 */
#include "tls_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/* ---- errors and verification ----------------------------------------- */

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

static uint64_t tls_ctx_last_id;

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

/*
 * The list used when none is configured: forward-secret AEAD and CBC suites
 * of TLS 1.3 and 1.2, ChaCha20-Poly1305 first.  Debian's wolfSSL is built
 * without AES-NI, so AES-GCM runs in portable C (about 160 MB/s on the
 * benchmark machine) and ChaCha20-Poly1305 at about 360 MB/s: preferring it
 * halves the cost of every byte under TLS.  Peers that honour the client's
 * order (OpenSSL's default, Postfix's tls_preempt_cipherlist = no) pick it;
 * the others choose from the same set as before.  wolfSSL's compiled-in
 * list cannot be reordered as it is: it also holds NULL, RC4, anonymous and
 * PSK suites.  Static-RSA suites are not compiled into Debian's build.
 */
static const char tls_ciphers_default[] =
    "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:"
    "TLS13-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "DHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:"
    "DHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:"
    "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:"
    "ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:"
    "DHE-RSA-AES128-SHA:DHE-RSA-AES256-SHA";

/*
 * Key exchange groups, both sides, X25519 first (OpenSSL's order).  This
 * wolfSSL build has no SP assembly for P-256 (no WOLFSSL_HAVE_SP_ECC), so a
 * P-256 shared secret costs about 480 us of generic big-number code against
 * about 60 us for X25519, and wolfSSL's own default sends a P-256 key share:
 * a resumed TLSv1.3 handshake (client and server) went from 1,140 to 340 us
 * of CPU with this list.  The TLSv1.3 ClientHello carries one key share (the
 * first group); a server without X25519 answers with a HelloRetryRequest
 * for another group in the list.  The rest keeps wolfSSL's default set minus
 * secp256k1 and secp224r1 (the list holds at most WOLFSSL_MAX_GROUP_COUNT),
 * so TLSv1.2 peers with P-256/384/521 or brainpool ECDSA certificates and
 * RFC 7919 DHE still find their group.
 */
static int tls_groups_default[] = {
    WOLFSSL_ECC_X25519,
    WOLFSSL_ECC_SECP256R1,
    WOLFSSL_ECC_SECP384R1,
    WOLFSSL_ECC_SECP521R1,
    WOLFSSL_ECC_X448,
    WOLFSSL_ECC_BRAINPOOLP256R1,
    WOLFSSL_ECC_BRAINPOOLP384R1,
    WOLFSSL_ECC_BRAINPOOLP512R1,
    WOLFSSL_FFDHE_2048,
    WOLFSSL_FFDHE_3072,
};
_Static_assert(nitems(tls_groups_default) <= WOLFSSL_MAX_GROUP_COUNT,
	       "wolfSSL takes at most WOLFSSL_MAX_GROUP_COUNT groups");

/* A wolfSSL context for the client or server side with the version range,
 * ciphers, key exchange groups and our I/O callbacks; freed again on
 * failure. */
static int
tls_ctx_make(bool client, enum tls_version min, enum tls_version max,
	     const char *ciphers, WOLFSSL_CTX **wctx_r, char *err,
	     size_t err_size)
{
	WOLFSSL_CTX *wctx;
	int r;

	tls_lib_init();
	wctx = wolfSSL_CTX_new(client ? wolfSSLv23_client_method()
				      : wolfSSLv23_server_method());
	if (wctx == NULL) {
		tls_errmsg(err, err_size, "wolfSSL_CTX_new failed");
		return -ENOMEM;
	}
	r = tls_ctx_versions(wctx, min, max, err, err_size);
	if (ciphers == NULL || ciphers[0] == '\0')
		ciphers = tls_ciphers_default;
	if (r == 0 &&
	    wolfSSL_CTX_set_cipher_list(wctx, ciphers) != WOLFSSL_SUCCESS) {
		tls_errmsg(err, err_size, "unusable cipher list \"%s\"",
			   ciphers);
		r = -EINVAL;
	}
	if (r == 0 && wolfSSL_CTX_set_groups(wctx, tls_groups_default,
					     (int)nitems(tls_groups_default)) !=
			  WOLFSSL_SUCCESS) {
		tls_errmsg(err, err_size, "cannot set the key exchange groups");
		r = -EINVAL;
	}
	if (r < 0) {
		wolfSSL_CTX_free(wctx);
		return r;
	}
	wolfSSL_CTX_SetIORecv(wctx, tls_io_recv);
	wolfSSL_CTX_SetIOSend(wctx, tls_io_send);
	*wctx_r = wctx;
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
	r = tls_ctx_make(true, opts->min_version, opts->max_version,
			 opts->ciphers, &wctx, err, err_size);
	if (r < 0)
		return r;
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
	r = tls_ctx_make(false, opts->min_version, opts->max_version,
			 opts->ciphers, &wctx, err, err_size);
	if (r < 0)
		return r;
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

/* See tls_int.h. */
void
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
