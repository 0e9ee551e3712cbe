/* SPDX-License-Identifier: MIT */
/*
 * smtps_fixture: the server tests' shared fixture (see smtps_fixture.h).
 * cmocka assertions; no owner callbacks and no client protocol here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtps_fixture.h"

#include "ring_fixture.h"

struct ring *
sfx_ring_new(void)
{
	return ringfx_new(256, 4096);
}

void
sfx_config(struct smtps_config *cfg)
{
	cfg->hostname = "test.host";
	cfg->caps = SMTPS_CAP_DEFAULT;
	cfg->idle_timeout_ms = 5000;
}

void
sfx_drain(struct ring *r, int ms)
{
	int64_t end = ring_now_update(r) + (int64_t)ms * 1000000;

	while (ring_now_update(r) < end)
		assert_true(ring_run_once(r, 5000000) >= 0);
}

int
sfx_start(struct ring *r, const struct smtps_config *cfg,
	  const struct smtps_ops *ops, void *udata, struct smtps_server **srv_r)
{
	int sv[2];

	*srv_r = smtps_server_new(r, cfg, ops, udata);
	assert_non_null(*srv_r);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(smtps_adopt(*srv_r, sv[0], 0), 0);
	return sv[1];
}

void
sfx_teardown(struct ring *r, struct smtps_server *srv, int cfd)
{
	if (cfd >= 0)
		close(cfd);
	if (srv != NULL) {
		smtps_server_stop(srv);
		for (int i = 0; i < 200 && !smtps_server_idle(srv); i++)
			sfx_drain(r, 10);
		assert_true(smtps_server_idle(srv));
		smtps_server_free(srv);
	}
	assert_int_equal(ring_shutdown(r, 2000), 0);
	ring_free(r);
}
