/* SPDX-License-Identifier: MIT */
/*
 * tls_pair: the fixture shared by test_tls and test_tls_sess (prefix tt_).
 * Owns the certificate directory (made by tls_fixture.sh in the group
 * setup, removed in the teardown), the test contexts, and a client and a
 * server struct tls_sess in one process with a pump that moves ciphertext
 * between them through tls_feed/tls_pending_out (no sockets).  It does not
 * own any check of the library's behaviour beyond asserting that its own
 * calls succeed: the tests keep those.
 */
#ifndef TLS_PAIR_H
#define TLS_PAIR_H

#include <stdbool.h>
#include <stddef.h>

#include "tls.h"

#define TT_MS 1000000LL /* ns per ms */

/* The fixture's files (full paths), set by tt_setup. */
extern char tt_ca[128], tt_mx[128], tt_mx_key[128], tt_mx_chain[128];
extern char tt_self[128], tt_self_key[128];

/* One end of a pair: its session and what it has read. */
struct tt_ep {
	struct tls_sess *t;
	int hs;           /* last tls_handshake() result */
	int rerr;         /* first negative tls_read() result */
	int ferr;         /* first negative tls_feed() result */
	size_t read_size; /* bytes asked per tls_read(); 0: 4096 */
	bool no_read;     /* handshake only: leave records unread */
	unsigned char rx[200000];
	size_t rxlen;
};

/* A client and a server end and the contexts they were made from. */
struct tt_pair {
	struct tls_ctx *cctx, *sctx;
	struct tt_ep c, s;
};

/*
 * cmocka group setup: make a private directory under /tmp and run
 * tls_fixture.sh (next to this file) into it; sets tt_ca and the others.
 * Returns 0, or -1 (said on stderr) when that failed.
 */
int tt_setup(void **state);

/* out (128 bytes) = the fixture directory's file name. */
void tt_path(char *out, const char *name);

/* cmocka group teardown: remove the directory.  Returns 0 or -1. */
int tt_teardown(void **state);

/* A client context with these options; asserts it was made. */
struct tls_ctx *tt_client(enum tls_verify verify, const char *ca_file,
			  enum tls_version min, enum tls_version max,
			  size_t cap);

/* A server context with cert, key, max and cap; asserts it was made. */
struct tls_ctx *tt_server(const char *cert, const char *key,
			  enum tls_version max, size_t cap);

/* Reset e to a fresh end for session t (not owned). */
void tt_ep_init(struct tt_ep *e, struct tls_sess *t);

/* Advance e: the handshake, then read everything decryptable into rx. */
void tt_step(struct tt_ep *e);

/*
 * Move from's pending output to `to`, chunk bytes per feed, stepping `to`
 * after every feed.  Returns the bytes moved.
 */
size_t tt_xfer(struct tt_ep *from, struct tt_ep *to, size_t chunk);

/* Run both ends until nothing moves (fails the test after 1000 rounds). */
void tt_run(struct tt_ep *c, struct tt_ep *s, size_t chunk);

/* The bytes t has pending to send (0 when none). */
size_t tt_pending(struct tls_sess *t);

/*
 * A new pair over cctx and sctx (not yet handshaken; the client sends
 * sni and checks name).  The caller frees it with tt_pair_free.
 */
struct tt_pair *tt_pair_new(struct tls_ctx *cctx, struct tls_ctx *sctx,
			    const char *sni, const char *name);

/* Free p's sessions and p, and its contexts when free_ctx. */
void tt_pair_free(struct tt_pair *p, bool free_ctx);

/* Assert both ends of p finished the handshake without an error. */
void tt_assert_established(struct tt_pair *p);

/* Fill buf with n pseudo-random bytes derived from seed. */
void tt_fill(unsigned char *buf, size_t n, unsigned seed);

#endif
