/* SPDX-License-Identifier: MIT */
/*
 * test_tls: a client and a server struct tls_sess in one process, pumping
 * ciphertext between them through tls_feed/tls_pending_out (no sockets;
 * tls_pair.c), with certificates made at start by tls_fixture.sh.  Covers
 * the enum tables, the context and session constructors' errors, TLSv1.3
 * and v1.2, the key exchange group (X25519 first, another one when the peer
 * lacks it), SNI, version mismatch, opportunistic sessions, the three
 * verify policies and 1-byte feeds.  test_tls_sess covers what follows an
 * established session.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"
#include "tls_int.h" /* the peers' wolfSSL contexts, to restrict groups */
#include "tls_pair.h"

/* ---- tests ------------------------------------------------------------ */

static void
test_enum_str(void **state)
{
	(void)state;
	assert_string_equal(tls_verify_str(TLS_VERIFY_NONE), "none");
	assert_string_equal(tls_verify_str(TLS_VERIFY_CA), "ca");
	assert_string_equal(tls_verify_str(TLS_VERIFY_HOST), "host");
	assert_string_equal(tls_verify_str(TLS_VERIFY__COUNT), "?");
	assert_string_equal(tls_verify_str((enum tls_verify) - 1), "?");
	assert_string_equal(tls_version_str(TLS_V_ANY), "any");
	assert_string_equal(tls_version_str(TLS_V_1_2), "TLSv1.2");
	assert_string_equal(tls_version_str(TLS_V_1_3), "TLSv1.3");
	assert_string_equal(tls_version_str(TLS_V__COUNT), "?");
}

static void
test_ctx_client_errors(void **state)
{
	static const struct {
		enum tls_verify verify;
		const char *ca; /* "@ca", "@key": fixture files */
		enum tls_version min, max;
		const char *ciphers;
		int want;
		const char *text;
	} cases[] = {
	    {TLS_VERIFY_CA, "/nonexistent/ca.pem", TLS_V_ANY, TLS_V_ANY, NULL,
	     -ENOENT, "No such file"},
	    {TLS_VERIFY_NONE, "/nonexistent/ca.pem", TLS_V_ANY, TLS_V_ANY, NULL,
	     -ENOENT, "CA file"},
	    {TLS_VERIFY_CA, "@key", TLS_V_ANY, TLS_V_ANY, NULL, -EINVAL,
	     "no usable PEM"},
	    {TLS_VERIFY_CA, "@ca", TLS_V_1_3, TLS_V_1_2, NULL, -EINVAL,
	     "version range"},
	    {TLS_VERIFY_CA, "@ca", TLS_V__COUNT, TLS_V_ANY, NULL, -EINVAL,
	     "version range"},
	    {TLS_VERIFY__COUNT, "@ca", TLS_V_ANY, TLS_V_ANY, NULL, -EINVAL,
	     "verify mode"},
	    {TLS_VERIFY_CA, "@ca", TLS_V_ANY, TLS_V_ANY, "NO-SUCH-CIPHER",
	     -EINVAL, "cipher list"},
	    {TLS_VERIFY_CA, "@ca", TLS_V_1_2, TLS_V_1_3, NULL, 0, ""},
	    {TLS_VERIFY_HOST, NULL, TLS_V_ANY, TLS_V_ANY, NULL, 0, ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_client_opts o = {
		    .verify = cases[i].verify,
		    .ca_file = cases[i].ca,
		    .min_version = cases[i].min,
		    .max_version = cases[i].max,
		    .ciphers = cases[i].ciphers,
		};
		struct tls_ctx *ctx = (struct tls_ctx *)&o; /* must be reset */
		char err[256];
		int r;

		if (o.ca_file != NULL && strcmp(o.ca_file, "@ca") == 0)
			o.ca_file = tt_ca;
		else if (o.ca_file != NULL && strcmp(o.ca_file, "@key") == 0)
			o.ca_file = tt_mx_key;
		r = tls_ctx_new_client(&o, &ctx, err, sizeof(err));
		if (r != cases[i].want)
			fail_msg("case %zu: %d != %d (%s)", i, r, cases[i].want,
				 err);
		if (strstr(err, cases[i].text) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
				 cases[i].text);
		if (r < 0)
			assert_null(ctx);
		else
			assert_non_null(ctx);
		tls_ctx_free(ctx);
	}
}

static void
test_ctx_server_errors(void **state)
{
	static const struct {
		const char *cert, *key; /* '@' + fixture name */
		enum tls_version min, max;
		int want;
		const char *text;
	} cases[] = {
	    {NULL, "@mx.key", TLS_V_ANY, TLS_V_ANY, -EINVAL, "needed"},
	    {"@mx.crt", NULL, TLS_V_ANY, TLS_V_ANY, -EINVAL, "needed"},
	    {"@none.crt", "@mx.key", TLS_V_ANY, TLS_V_ANY, -ENOENT,
	     "certificate"},
	    {"@mx.crt", "@none.key", TLS_V_ANY, TLS_V_ANY, -ENOENT, "key"},
	    {"@mx.key", "@mx.key", TLS_V_ANY, TLS_V_ANY, -EINVAL,
	     "no usable PEM chain"},
	    {"@mx.crt", "@mx.crt", TLS_V_ANY, TLS_V_ANY, -EINVAL,
	     "no usable PEM private key"},
	    {"@mx.crt", "@self.key", TLS_V_ANY, TLS_V_ANY, -EINVAL,
	     "does not match"},
	    {"@mx.crt", "@mx.key", TLS_V_1_3, TLS_V_1_2, -EINVAL,
	     "version range"},
	    {"@mx-chain.crt", "@mx.key", TLS_V_1_2, TLS_V_ANY, 0, ""},
	    {"@self.crt", "@self.key", TLS_V_1_3, TLS_V_1_3, 0, ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char cert[128], key[128], err[256];
		struct tls_server_opts o = {
		    .min_version = cases[i].min,
		    .max_version = cases[i].max,
		};
		struct tls_ctx *ctx = NULL;
		int r;

		if (cases[i].cert != NULL) {
			tt_path(cert, cases[i].cert + 1);
			o.cert_file = cert;
		}
		if (cases[i].key != NULL) {
			tt_path(key, cases[i].key + 1);
			o.key_file = key;
		}
		r = tls_ctx_new_server(&o, &ctx, err, sizeof(err));
		if (r != cases[i].want)
			fail_msg("case %zu: %d != %d (%s)", i, r, cases[i].want,
				 err);
		if (strstr(err, cases[i].text) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
				 cases[i].text);
		assert_true((r == 0) == (ctx != NULL));
		tls_ctx_free(ctx);
	}
}

static void
test_sess_new_errors(void **state)
{
	struct tls_ctx *host = tt_client(TLS_VERIFY_HOST, NULL, 0, 0, 0);
	struct tls_ctx *none = tt_client(TLS_VERIFY_NONE, NULL, 0, 0, 0);
	struct tls_ctx *srv = tt_server(tt_mx, tt_mx_key, 0, 0);
	struct tls_sess *s = (struct tls_sess *)&s;
	char longname[300];

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(tls_sess_new_client(srv, "x", "x", &s), -EINVAL);
	assert_null(s);
	assert_int_equal(tls_sess_new_server(host, &s), -EINVAL);
	assert_null(s);
	assert_int_equal(tls_sess_new_client(host, "mx", NULL, &s), -EINVAL);
	assert_int_equal(tls_sess_new_client(host, "mx", "", &s), -EINVAL);
	assert_int_equal(tls_sess_new_client(host, "mx", ".", &s), -EINVAL);
	assert_int_equal(tls_sess_new_client(host, "mx", longname, &s),
			 -EINVAL);
	assert_int_equal(tls_sess_new_client(none, longname, NULL, &s),
			 -EINVAL);
	assert_null(s);
	/* 253 bytes plus a trailing dot is the longest valid name */
	longname[253] = '.';
	longname[254] = '\0';
	assert_int_equal(tls_sess_new_client(host, "mx", longname, &s), 0);
	tls_sess_free(s);
	assert_int_equal(tls_sess_new_client(none, NULL, NULL, &s), 0);
	/* nothing happened yet */
	assert_false(tls_sess_established(s));
	assert_null(tls_sess_protocol(s));
	assert_null(tls_sess_cipher(s));
	assert_false(tls_sess_peer_verified(s));
	assert_string_equal(tls_sess_verify_error(s), "handshake not complete");
	assert_null(tls_sess_error(s));
	assert_int_equal(tls_sess_errno(s), 0);
	assert_int_equal(tt_pending(s), 0);
	tls_sess_free(s);
	tls_sess_free(NULL);
	/* contexts outlive their owner's free while sessions remain */
	assert_int_equal(tls_sess_new_server(srv, &s), 0);
	tls_ctx_free(srv);
	tls_ctx_free(host);
	tls_ctx_free(none);
	tls_ctx_free(NULL);
	assert_int_equal(tls_sess_errno(s), 0);
	tls_sess_free(s);
}

static void
test_handshake_versions(void **state)
{
	static const struct {
		enum tls_version cmax, smax;
		const char *proto;
		size_t chunk;
	} cases[] = {
	    {TLS_V_ANY, TLS_V_ANY, "TLSv1.3", 65536},
	    {TLS_V_1_3, TLS_V_1_3, "TLSv1.3", 100},
	    {TLS_V_1_2, TLS_V_ANY, "TLSv1.2", 65536},
	    {TLS_V_ANY, TLS_V_1_2, "TLSv1.2", 7},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_ctx *cctx =
		    tt_client(TLS_VERIFY_HOST, tt_ca, 0, cases[i].cmax, 0);
		struct tls_ctx *sctx =
		    tt_server(tt_mx, tt_mx_key, cases[i].smax, 0);
		struct tt_pair *p = tt_pair_new(cctx, sctx, "mx.test.example",
						"mx.test.example");

		tt_run(&p->c, &p->s, cases[i].chunk);
		tt_assert_established(p);
		assert_string_equal(tls_sess_protocol(p->c.t), cases[i].proto);
		assert_string_equal(tls_sess_protocol(p->s.t), cases[i].proto);
		assert_non_null(tls_sess_cipher(p->c.t));
		assert_string_equal(tls_sess_cipher(p->c.t),
				    tls_sess_cipher(p->s.t));
		assert_memory_equal(tls_sess_cipher(p->c.t), "TLS_", 4);
		/* our default list puts ChaCha20-Poly1305 first (no AES-NI) */
		assert_non_null(strstr(tls_sess_cipher(p->c.t), "CHACHA20"));
		/* and X25519 first among the groups (no P-256 assembly) */
		assert_string_equal(tls_sess_group(p->c.t), "X25519");
		assert_string_equal(tls_sess_group(p->s.t), "X25519");
		assert_true(tls_sess_peer_verified(p->c.t));
		assert_null(tls_sess_verify_error(p->c.t));
		assert_false(tls_sess_resumed(p->c.t));
		assert_false(tls_sess_resumed(p->s.t));
		/* SNI seen by the server; the server verifies nobody */
		assert_string_equal(tls_sess_sni(p->s.t), "mx.test.example");
		assert_null(tls_sess_sni(p->c.t));
		assert_false(tls_sess_peer_verified(p->s.t));
		assert_non_null(tls_sess_verify_error(p->s.t));
		/* a second call after completion stays complete */
		assert_int_equal(tls_handshake(p->c.t), 1);
		assert_int_equal(tls_handshake(p->s.t), 1);
		tt_pair_free(p, true);
	}
}

/* Peers that lack X25519: the client's first key share is refused
 * (TLSv1.3: a HelloRetryRequest) and the handshake settles on P-256.
 * wolfSSL's TLSv1.2 server ignores its own group list, so the server side
 * of that case is only covered against OpenSSL (test_tls_interop.sh). */
static void
test_group_fallback(void **state)
{
	static const struct {
		bool restrict_client; /* else the server */
		enum tls_version max;
		const char *proto;
	} cases[] = {
	    {false, TLS_V_ANY, "TLSv1.3"},
	    {true, TLS_V_ANY, "TLSv1.3"},
	    {true, TLS_V_1_2, "TLSv1.2"},
	};
	int p256[] = {WOLFSSL_ECC_SECP256R1};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_ctx *cctx =
		    tt_client(TLS_VERIFY_HOST, tt_ca, 0, cases[i].max, 0);
		struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, 0, 0);
		struct tls_ctx *narrow = cases[i].restrict_client ? cctx : sctx;
		struct tt_pair *p;

		assert_int_equal(wolfSSL_CTX_set_groups(narrow->wctx, p256, 1),
				 WOLFSSL_SUCCESS);
		p = tt_pair_new(cctx, sctx, "mx.test.example",
				"mx.test.example");
		assert_null(tls_sess_group(p->c.t));
		tt_run(&p->c, &p->s, 65536);
		tt_assert_established(p);
		assert_string_equal(tls_sess_protocol(p->c.t), cases[i].proto);
		assert_string_equal(tls_sess_group(p->c.t), "SECP256R1");
		assert_string_equal(tls_sess_group(p->s.t), "SECP256R1");
		assert_true(tls_sess_peer_verified(p->c.t));
		tt_pair_free(p, true);
	}
}

static void
test_sni_names(void **state)
{
	static const struct {
		const char *sni, *want;
	} cases[] = {
	    {"mx.test.example.", "mx.test.example"}, /* trailing dot dropped */
	    {"192.0.2.1", NULL},                     /* IP literals: no SNI */
	    {"2001:db8::1", NULL},
	    {NULL, NULL},
	};
	struct tls_ctx *cctx = tt_client(TLS_VERIFY_NONE, tt_ca, 0, 0, 0);
	struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, 0, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tt_pair *p =
		    tt_pair_new(cctx, sctx, cases[i].sni, "mx.test.example.");

		tt_run(&p->c, &p->s, 65536);
		tt_assert_established(p);
		if (cases[i].want == NULL)
			assert_null(tls_sess_sni(p->s.t));
		else
			assert_string_equal(tls_sess_sni(p->s.t),
					    cases[i].want);
		/* the name check ignores the trailing dot too */
		assert_true(tls_sess_peer_verified(p->c.t));
		tt_pair_free(p, false);
	}
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

static void
test_version_mismatch(void **state)
{
	struct tls_ctx *cctx =
	    tt_client(TLS_VERIFY_NONE, tt_ca, TLS_V_1_3, TLS_V_ANY, 0);
	struct tls_ctx *sctx = tt_server(tt_mx, tt_mx_key, TLS_V_1_2, 0);
	struct tt_pair *p = tt_pair_new(cctx, sctx, "mx.test.example", NULL);

	(void)state;
	tt_run(&p->c, &p->s, 65536);
	assert_int_equal(p->s.hs, -EPROTO);
	assert_int_equal(p->c.hs, -EPROTO);
	assert_non_null(
	    strstr(tls_sess_error(p->s.t), "fatal alert protocol_version"));
	assert_non_null(strstr(tls_sess_error(p->c.t), "version"));
	assert_false(tls_sess_established(p->c.t));
	assert_null(tls_sess_protocol(p->c.t));
	/* sticky */
	assert_int_equal(tls_handshake(p->c.t), -EPROTO);
	assert_int_equal(tls_sess_errno(p->c.t), -EPROTO);
	tt_pair_free(p, true);
}

/* Opportunistic (verify=none) sessions always complete and report trust. */
static void
test_opportunistic(void **state)
{
	static const struct {
		bool system_store; /* else the test CA */
		bool self_signed;  /* else the CA-signed mx certificate */
		const char *name;
		bool verified;
		const char *reason;
	} cases[] = {
	    {false, true, "mx.test.example", false, "self-signed"},
	    {false, true, NULL, false, "self-signed"},
	    {false, false, "other.test.example", false, "name mismatch"},
	    {true, false, "mx.test.example", false,
	     "unable to get local issuer certificate"},
	    {false, false, "mx.test.example", true, NULL},
	    {false, false, NULL, true, NULL}, /* chain only */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_ctx *cctx =
		    tt_client(TLS_VERIFY_NONE,
			      cases[i].system_store ? NULL : tt_ca, 0, 0, 0);
		struct tls_ctx *sctx =
		    cases[i].self_signed ? tt_server(tt_self, tt_self_key, 0, 0)
					 : tt_server(tt_mx, tt_mx_key, 0, 0);
		struct tt_pair *p =
		    tt_pair_new(cctx, sctx, "mx.test.example", cases[i].name);
		const char *why;

		tt_run(&p->c, &p->s, 65536);
		tt_assert_established(p);
		if (tls_sess_peer_verified(p->c.t) != cases[i].verified)
			fail_msg("case %zu: verified %d", i,
				 !cases[i].verified);
		why = tls_sess_verify_error(p->c.t);
		if (cases[i].reason == NULL)
			assert_null(why);
		else if (why == NULL || strstr(why, cases[i].reason) == NULL)
			fail_msg("case %zu: reason '%s' lacks '%s'", i,
				 why ? why : "(null)", cases[i].reason);
		tt_pair_free(p, true);
	}
}

/* verify=ca and verify=host: failures are -EKEYREJECTED with a reason. */
static void
test_verify_policies(void **state)
{
	static const struct {
		enum tls_verify verify;
		bool system_store;
		bool self_signed;
		const char *name;
		int want;
		const char *reason;
		const char *alert; /* what the server hears */
	} cases[] = {
	    {TLS_VERIFY_CA, false, true, "mx.test.example", -EKEYREJECTED,
	     "self-signed certificate", "bad_certificate"},
	    {TLS_VERIFY_CA, true, false, "mx.test.example", -EKEYREJECTED,
	     "unable to get local issuer certificate", "unknown_ca"},
	    {TLS_VERIFY_HOST, false, false, "other.test.example", -EKEYREJECTED,
	     "peer subject name mismatch", "bad_certificate"},
	    {TLS_VERIFY_HOST, false, false, "test.example", -EKEYREJECTED,
	     "name mismatch", "bad_certificate"},
	    {TLS_VERIFY_HOST, false, true, "mx.test.example", -EKEYREJECTED,
	     "self-signed", "bad_certificate"},
	    /* verify=ca checks the chain, not the name */
	    {TLS_VERIFY_CA, false, false, "other.test.example", 1, NULL, NULL},
	    {TLS_VERIFY_CA, false, false, NULL, 1, NULL, NULL},
	    {TLS_VERIFY_HOST, false, false, "MX.Test.Example.", 1, NULL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_ctx *cctx =
		    tt_client(cases[i].verify,
			      cases[i].system_store ? NULL : tt_ca, 0, 0, 0);
		struct tls_ctx *sctx =
		    cases[i].self_signed ? tt_server(tt_self, tt_self_key, 0, 0)
					 : tt_server(tt_mx, tt_mx_key, 0, 0);
		struct tt_pair *p =
		    tt_pair_new(cctx, sctx, "mx.test.example", cases[i].name);
		const char *err;

		tt_run(&p->c, &p->s, 65536);
		if (p->c.hs != cases[i].want)
			fail_msg("case %zu: handshake %d (%s)", i, p->c.hs,
				 tls_sess_error(p->c.t));
		if (cases[i].want == 1) {
			tt_assert_established(p);
			assert_true(tls_sess_peer_verified(p->c.t));
		} else {
			err = tls_sess_error(p->c.t);
			assert_non_null(err);
			if (strstr(err, "certificate verify failed") == NULL ||
			    strstr(err, cases[i].reason) == NULL)
				fail_msg("case %zu: '%s' lacks '%s'", i, err,
					 cases[i].reason);
			assert_false(tls_sess_peer_verified(p->c.t));
			assert_non_null(strstr(tls_sess_verify_error(p->c.t),
					       cases[i].reason));
			/* the server hears the alert */
			assert_int_equal(p->s.hs, -EPROTO);
			err = tls_sess_error(p->s.t);
			if (strstr(err, "fatal alert") == NULL ||
			    strstr(err, cases[i].alert) == NULL)
				fail_msg("case %zu: server '%s'", i, err);
		}
		tt_pair_free(p, true);
	}
}

/* Data both ways after the handshake, every feed 1 byte, small reads. */
static void
test_data_split(void **state)
{
	static const size_t chunks[] = {1, 3, 5, 16389, 1 << 20};
	static unsigned char big[40000];
	const char *hello = "220 mx.test.example ESMTP\r\n";
	const char *ehlo = "EHLO client.example\r\n";

	(void)state;
	tt_fill(big, sizeof(big), 7);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct tls_ctx *cctx = tt_client(TLS_VERIFY_HOST, tt_ca, 0,
						 i % 2 ? TLS_V_1_2 : 0, 0);
		struct tls_ctx *sctx = tt_server(tt_mx_chain, tt_mx_key, 0, 0);
		struct tt_pair *p = tt_pair_new(cctx, sctx, "mx.test.example",
						"mx.test.example");

		p->c.read_size = 7;
		p->s.read_size = 1;
		tt_run(&p->c, &p->s, chunks[i]);
		tt_assert_established(p);
		assert_int_equal(tls_write(p->s.t, hello, strlen(hello)),
				 (int)strlen(hello));
		assert_int_equal(tls_write(p->c.t, ehlo, strlen(ehlo)),
				 (int)strlen(ehlo));
		assert_int_equal(tls_write(p->c.t, big, sizeof(big)),
				 (int)sizeof(big));
		assert_int_equal(tls_write(p->s.t, big, 1), 1);
		tt_run(&p->c, &p->s, chunks[i]);
		assert_int_equal(p->c.rxlen, strlen(hello) + 1);
		assert_memory_equal(p->c.rx, hello, strlen(hello));
		assert_int_equal(p->c.rx[strlen(hello)], big[0]);
		assert_int_equal(p->s.rxlen, strlen(ehlo) + sizeof(big));
		assert_memory_equal(p->s.rx, ehlo, strlen(ehlo));
		assert_memory_equal(p->s.rx + strlen(ehlo), big, sizeof(big));
		assert_int_equal(p->c.rerr, 0);
		assert_int_equal(p->s.rerr, 0);
		assert_int_equal(tls_write(p->c.t, "", 0), 0);
		tt_pair_free(p, true);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_enum_str),
	    cmocka_unit_test(test_ctx_client_errors),
	    cmocka_unit_test(test_ctx_server_errors),
	    cmocka_unit_test(test_sess_new_errors),
	    cmocka_unit_test(test_handshake_versions),
	    cmocka_unit_test(test_group_fallback),
	    cmocka_unit_test(test_sni_names),
	    cmocka_unit_test(test_version_mismatch),
	    cmocka_unit_test(test_opportunistic),
	    cmocka_unit_test(test_verify_policies),
	    cmocka_unit_test(test_data_split),
	};

	return cmocka_run_group_tests_name("tls", tests, tt_setup, tt_teardown);
}
