/* SPDX-License-Identifier: MIT */
/*
 * scripted_peer: the harness shared by the SMTP client tests (see
 * scripted_peer.h).  Blocking sockets in the peer thread, cmocka
 * assertions in the main thread; no script steps live here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "scripted_peer.h"

void
speer_fail(struct speer *p, int step, const char *what, const char *got,
	   size_t n)
{
	size_t o;

	if (p->failed++)
		return;
	o = (size_t)snprintf(p->err, sizeof(p->err),
			     "conn %u step %d: %s; got \"", p->conn, step,
			     what);
	for (size_t i = 0; i < n && o + 8 < sizeof(p->err); i++) {
		unsigned char c = (unsigned char)got[i];

		o += (size_t)snprintf(p->err + o, sizeof(p->err) - o,
				      c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x",
				      c);
	}
	snprintf(p->err + o, sizeof(p->err) - o, "\"");
}

int
speer_accept(struct speer *p, char *ip, size_t ip_cap)
{
	struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct timeval tv = {5, 0};

	p->fd = -1;
	if (poll(&pfd, 1, 5000) != 1)
		return -1;
	p->fd = accept(p->lfd, (struct sockaddr *)&ss, &sl);
	if (p->fd < 0)
		return -1;
	if (ip != NULL && ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip,
			  (socklen_t)ip_cap);
	setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

void
speer_start(struct speer *p, void *(*fn)(void *), void *arg)
{
	assert_int_equal(pthread_create(&p->th, NULL, fn, arg), 0);
}

void
speer_join(struct speer *p)
{
	pthread_join(p->th, NULL);
	if (p->failed)
		fail_msg("peer: %s", p->err);
}

struct ring *
speer_setup(struct smtpc_opts *o, int *lfd_r, const char *mx_host)
{
	struct ring_opts ro = {.sq_entries = 64, .cq_entries = 256};
	struct sockaddr_in *sin = (struct sockaddr_in *)&o->dst;
	socklen_t sl = sizeof(*sin);
	struct ring *r;
	int err, lfd;

	r = ring_new(&ro, &err);
	if (r == NULL) {
		fprintf(stderr, "*** io_uring unavailable (%s): SKIPPING ***\n",
			strerror(-err));
		return NULL;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)sin, sl), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)sin, &sl), 0);
	o->dst_len = sl;
	o->mx_host = mx_host;
	o->ehlo_name = "client.example";
	smtpc_timeouts_default(&o->tmo);
	o->tmo.idle = 100;
	*lfd_r = lfd;
	return r;
}

void
speer_teardown(struct ring *r, int lfd)
{
	assert_int_equal(ring_shutdown(r, 1000), 0);
	ring_free(r);
	close(lfd);
}

void
speer_msg_close(struct smtpc_msg *m)
{
	if (m->body_fd > 0)
		close(m->body_fd);
}

struct smtpc_msg *
speer_next(struct smtpc_msg *const *q, unsigned nq, unsigned *qhead,
	   unsigned *calls)
{
	(*calls)++;
	return *qhead < nq ? q[(*qhead)++] : NULL;
}

void
speer_pump(struct ring *r, const bool *done)
{
	int64_t t0 = speer_mono_ms();

	while (!*done) {
		assert_true(ring_run_once(r, 50 * 1000000LL) >= 0);
		if (speer_mono_ms() - t0 > 10000)
			fail_msg("session did not end");
	}
}

int64_t
speer_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void
speer_msg_init(struct smtpc_msg *m, struct smtpc_rcpt *rc, const char *prefix,
	       const char *body, size_t len)
{
	size_t pl = strlen(prefix);

	m->body_fd = memfd_create("body", MFD_CLOEXEC);
	assert_true(m->body_fd >= 0);
	assert_int_equal(write(m->body_fd, prefix, pl), (ssize_t)pl);
	assert_int_equal(write(m->body_fd, body, len), (ssize_t)len);
	m->body_off = pl;
	m->body_len = len;
	m->from = "a@x";
	m->rcpt = rc;
}

void
speer_assert_res(const char *who, const struct smtpc_result *r,
		 enum smtpc_status st, int code, enum smtpc_stage stage)
{
	if (r->status != st || r->code != code || r->stage != stage)
		fail_msg("%s: %s %d %s, want %s %d %s (%s)", who,
			 smtpc_status_str(r->status), r->code,
			 smtpc_stage_str(r->stage), smtpc_status_str(st), code,
			 smtpc_stage_str(stage), r->text);
}
