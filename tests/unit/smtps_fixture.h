/* SPDX-License-Identifier: MIT */
/*
 * smtps_fixture: the fixture shared by test_smtp_server,
 * test_smtp_server_limits (through tst_fixture) and test_smtp_server_tls
 * (through tc_fixture).  Owns the ring's creation and shutdown, the
 * server's default test configuration, adopting a socketpair's server end
 * and stopping the server until it is idle.  It does not own the owner
 * callbacks or the client side: each test keeps its own.
 */
#ifndef SMTPS_FIXTURE_H
#define SMTPS_FIXTURE_H

#include "ring.h"
#include "smtp_server.h"

/*
 * A ring for a server test (256 SQ / 4096 CQ entries), or NULL when
 * io_uring is unavailable (said loudly on stderr: the caller skips).
 */
struct ring *sfx_ring_new(void);

/* The tests' defaults: hostname test.host, default caps, 5 s idle. */
void sfx_config(struct smtps_config *cfg);

/* Run r for ms milliseconds. */
void sfx_drain(struct ring *r, int ms);

/*
 * Start a server on r with cfg, ops and udata into *srv_r and give it one
 * session over a socketpair.  Returns the client end (non-blocking; the
 * caller closes it).  Asserts on failure.
 */
int sfx_start(struct ring *r, const struct smtps_config *cfg,
	      const struct smtps_ops *ops, void *udata,
	      struct smtps_server **srv_r);

/*
 * Close cfd (if >= 0), stop srv (if any) and run r until it is idle
 * (asserted), free it, then shut r down and free it.
 */
void sfx_teardown(struct ring *r, struct smtps_server *srv, int cfd);

#endif
