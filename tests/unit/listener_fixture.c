/* SPDX-License-Identifier: MIT */
/*
 * listener_fixture.c: see listener_fixture.h.  Loopback only; the port is
 * the kernel's.  Must not touch the spool beyond what the listener does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listener_fixture.h"

/* The listener's accepted callback: count and keep the id. */
static void
lfx_on_accepted(void *arg, const uint8_t id[SPOOL_ID_LEN])
{
	struct lfx *x = arg;

	x->accepted++;
	memcpy(x->last_id, id, SPOOL_ID_LEN);
}

/* See listener_fixture.h. */
void
lfx_start(struct spfx *f, struct lfx *x, const char *hostname,
	  const char *relay)
{
	struct config_err_list errs;
	const char *bound;
	unsigned port;
	char conf[1024];

	memset(x, 0, sizeof(*x));
	snprintf(conf, sizeof(conf),
		 "[server]\nhostname = %s\n[listener]\n"
		 "address = 127.0.0.1:0\nrelay_networks = %s\n"
		 "max_errors = 3\n",
		 hostname, relay);
	config_err_list_init(&errs);
	if (config_load_string("t", conf, &x->cfg, &errs) != 0)
		fail_msg("config: %s", errs.n ? errs.v[0] : "?");
	config_err_list_fini(&errs);
	assert_int_equal(
	    listener_new(f->r, x->cfg, f->sp, NULL, lfx_on_accepted, x, &x->l),
	    0);
	bound = listener_bound(x->l, 0);
	assert_non_null(bound);
	assert_int_equal(sscanf(bound, "127.0.0.1:%u", &port), 1);
	x->sa.sin_family = AF_INET;
	x->sa.sin_port = htons((uint16_t)port);
	x->sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* See listener_fixture.h. */
void
lfx_stop(struct spfx *f, struct lfx *x)
{
	listener_stop(x->l);
	for (int i = 0; i < 5000 && !listener_idle(x->l); i++)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	assert_true(listener_idle(x->l));
	listener_free(x->l);
	config_free(x->cfg);
}

/* See listener_fixture.h. */
int
lfx_chat(struct spfx *f, int fd, const char *line)
{
	char buf[2048];
	size_t len = 0;

	if (line != NULL)
		assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL),
				 (ssize_t)strlen(line));
	for (int i = 0; i < 5000; i++) {
		ssize_t n;

		assert_true(ring_run_once(f->r, 1000000) >= 0);
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n > 0)
			len += (size_t)n;
		buf[len] = '\0';
		for (char *p = buf, *e; (e = strstr(p, "\r\n")) != NULL;
		     p = e + 2)
			if (e - p >= 4 && p[3] == ' ' && e[2] == '\0')
				return atoi(p);
	}
	fail_msg("no reply to %s", line ? line : "(connect)");
	return -1;
}

/* See listener_fixture.h. */
int
lfx_connect(struct spfx *f, struct lfx *x)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(
	    connect(fd, (const struct sockaddr *)&x->sa, sizeof(x->sa)), 0);
	assert_int_equal(lfx_chat(f, fd, NULL), 220);
	return fd;
}
