/* SPDX-License-Identifier: MIT */
/*
 * scripted_peer: the harness shared by test_smtp_client and
 * test_smtp_client_tls.  Owns the loopback listener, the peer thread's
 * accept, start, join and failure record, the ring and the session pump,
 * message bodies in memfds and the result assertion.  It does not own the
 * scripts or their steps: each test's peer thread runs its own.
 */
#ifndef SCRIPTED_PEER_H
#define SCRIPTED_PEER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ring.h"
#include "smtp_client.h"

/* The part of a scripted peer the harness handles. */
struct speer {
	int lfd, fd; /* listener; accepted connection or -1 */
	pthread_t th;
	unsigned conn; /* connection index, in failure messages */
	int failed;
	char err[2048]; /* the first failure */
};

/*
 * The fixture getter of a test: struct fx from *state, or skip when
 * setup found no io_uring.  The including file defines struct fx.
 */
#define FX_GET(f)                                                              \
	struct fx *f = *state;                                                 \
	if (f == NULL) {                                                       \
		skip();                                                        \
		return;                                                        \
	}

/*
 * Record the first failure at script step `step`: `what` and the n bytes
 * of `got`, escaped.  Later failures only count.
 */
void speer_fail(struct speer *p, int step, const char *what, const char *got,
		size_t n);

/*
 * Wait up to 5 s for a connection on p->lfd and accept it into p->fd with
 * a 5 s receive timeout.  ip (ip_cap bytes, may be NULL) gets the client's
 * address.  Returns 0, or -1 with p->fd < 0.
 */
int speer_accept(struct speer *p, char *ip, size_t ip_cap);

/* Run fn(arg) in p->th; asserts on failure. */
void speer_start(struct speer *p, void *(*fn)(void *), void *arg);

/* Join p->th; fails the test with the peer's first failure, if any. */
void speer_join(struct speer *p);

/*
 * A test's ring and listener: returns a new ring, *lfd_r listening on
 * 127.0.0.1 (port from the kernel) and o with that destination, mx_host,
 * EHLO name client.example and default timeouts but idle 100 ms; or NULL
 * when io_uring is unavailable (said loudly on stderr: the caller skips).
 * Asserts on any other failure.
 */
struct ring *speer_setup(struct smtpc_opts *o, int *lfd_r, const char *mx_host);

/* Undo speer_setup(): shut the ring down, free it, close lfd. */
void speer_teardown(struct ring *r, int lfd);

/* Close m's body, if it has one. */
void speer_msg_close(struct smtpc_msg *m);

/*
 * on_next for a queue q[0..nq): counts the call in *calls and returns
 * q[*qhead++], or NULL once all are taken.
 */
struct smtpc_msg *speer_next(struct smtpc_msg *const *q, unsigned nq,
			     unsigned *qhead, unsigned *calls);

/* Run the ring until *done, failing the test after 10 s. */
void speer_pump(struct ring *r, const bool *done);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t speer_mono_ms(void);

/*
 * Fill m for a body of len bytes written after `prefix` (not part of the
 * body) into a new memfd, from a@x, recipients in rc (m->nrcpt is left to
 * the caller).  The caller closes m->body_fd.
 */
void speer_msg_init(struct smtpc_msg *m, struct smtpc_rcpt *rc,
		    const char *prefix, const char *body, size_t len);

/* Fail the test unless r is st/code/stage; who names it in the message. */
void speer_assert_res(const char *who, const struct smtpc_result *r,
		      enum smtpc_status st, int code, enum smtpc_stage stage);

#endif
