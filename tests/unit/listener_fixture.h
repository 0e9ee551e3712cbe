/* SPDX-License-Identifier: MIT */
/*
 * listener_fixture.h: a real listener on 127.0.0.1 (kernel-chosen port)
 * over spool_fixture.c's ring and spool, and a client that talks to it
 * line by line (test_listener_hints.c, test_listener_prefix.c).  Owns the
 * listener and its config; the ring and the spool stay spool_fixture's.
 */
#ifndef RINGMTA_LISTENER_FIXTURE_H
#define RINGMTA_LISTENER_FIXTURE_H

#include <netinet/in.h>

#include "config.h"
#include "listener.h"
#include "spool_fixture.h"

struct lfx {
	struct config *cfg;
	struct listener *l;
	struct sockaddr_in sa;
	unsigned accepted;             /* messages acknowledged */
	uint8_t last_id[SPOOL_ID_LEN]; /* the last one's id */
};

/* Start a listener on 127.0.0.1:0 with [server] hostname = hostname (any
 * length up to 253: one config line holds it) and relay_networks = relay
 * (a CIDR list); fails the test on an error. */
void lfx_start(struct spfx *f, struct lfx *x, const char *hostname,
	       const char *relay);
/* Stop it, run the loop until it is idle, free it and its config. */
void lfx_stop(struct spfx *f, struct lfx *x);
/* Send line (NULL: nothing), run the loop until the reply's last line
 * arrives; its code (0: the server closed the connection). */
int lfx_chat(struct spfx *f, int fd, const char *line);
/* A connected client whose 220 banner was read; the caller closes it. */
int lfx_connect(struct spfx *f, struct lfx *x);

#endif
