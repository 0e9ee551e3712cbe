/* SPDX-License-Identifier: MIT */
/*
 * smtpc_fixture.c: the fixture of the client's plaintext tests on a real
 * ring (see smtpc_fixture.h): the scripted peer thread and one client
 * session.  cmocka assertions in the main thread; the peer thread records
 * failures (scripted_peer.c) instead of asserting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "smtpc_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Read exactly n bytes (5 s cap).  Returns bytes read. */
static size_t
cfx_peer_read(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void
cfx_peer_step(struct cfx_peer *p, int i, const struct cfx_step *st)
{
	int fd = p->sp.fd;
	static char buf[1 << 16];
	size_t n = st->s ? strlen(st->s) : 0, got;
	struct linger lg = {1, 0};
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t r;

	switch (st->k) {
	case CFX_P_SEND:
		if (send(fd, st->s, n, MSG_NOSIGNAL) != (ssize_t)n)
			speer_fail(&p->sp, i, "send", "", 0);
		break;
	case CFX_P_SPLIT:
	case CFX_P_DRIBBLE:
		for (size_t j = 0; j < n; j++) {
			if (send(fd, st->s + j, 1, MSG_NOSIGNAL) != 1) {
				if (st->k == CFX_P_SPLIT)
					speer_fail(&p->sp, i, "send", "", 0);
				break;
			}
			usleep(st->k == CFX_P_SPLIT ? 2000 : st->ms * 1000);
		}
		break;
	case CFX_P_EXPECT:
		/* in pieces: bodies can be larger than buf */
		for (size_t off = 0; off < n; off += got) {
			size_t want =
			    n - off < sizeof(buf) ? n - off : sizeof(buf);

			got = cfx_peer_read(fd, buf, want);
			if (got != want ||
			    memcmp(buf, st->s + off, want) != 0) {
				speer_fail(&p->sp, i, n > 200 ? "large" : st->s,
					   buf, got < 200 ? got : 200);
				break;
			}
		}
		break;
	case CFX_P_EXPECT_1:
		if (poll(&pfd, 1, 5000) != 1) {
			speer_fail(&p->sp, i, "poll", "", 0);
			break;
		}
		r = recv(fd, buf, sizeof(buf), 0);
		if (r != (ssize_t)n || memcmp(buf, st->s, n) != 0)
			speer_fail(&p->sp, i, st->s, buf,
				   r > 0 ? (size_t)r : 0);
		break;
	case CFX_P_SLEEP:
		usleep(st->ms * 1000);
		break;
	case CFX_P_RESET:
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		break;
	case CFX_P_EOF:
		r = recv(fd, buf, sizeof(buf), 0);
		if (r != 0)
			speer_fail(&p->sp, i, "EOF", buf,
				   r > 0 ? (size_t)r : 0);
		break;
	case CFX_P_EOF_NODOT:
		got = 0;
		while ((r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
			got += (size_t)r;
		buf[got] = '\0';
		if (r != 0 || strstr(buf, "\r\n.\r\n") != NULL)
			speer_fail(&p->sp, i, "EOF without end of data", buf,
				   got);
		break;
	case CFX_P_END:
		break;
	}
}

static void *
cfx_peer_main(void *arg)
{
	struct cfx_peer *p = arg;

	if (speer_accept(&p->sp, p->peer_ip, sizeof(p->peer_ip)) < 0) {
		speer_fail(&p->sp, -1, "no connection", "", 0);
		return NULL;
	}
	for (int i = 0; p->script[i].k != CFX_P_END; i++) {
		cfx_peer_step(p, i, &p->script[i]);
		if (p->script[i].k == CFX_P_RESET)
			break;
	}
	close(p->sp.fd);
	return NULL;
}

/* ---- fixture ------------------------------------------------------------ */

static struct smtpc_msg *
cfx_next(struct smtpc *s, void *arg)
{
	struct fx *f = arg;

	(void)s;
	return speer_next(f->q, f->nq, &f->qhead, &f->next_calls);
}

static void
cfx_done(struct smtpc *s, struct smtpc_msg *m, void *arg)
{
	struct fx *f = arg;

	(void)s;
	assert_true(f->ndone < 4);
	for (unsigned i = 0; i < m->nrcpt; i++)
		assert_int_not_equal(m->rcpt[i].res.status, SMTPC_R_PENDING);
	f->done[f->ndone++] = m;
}

static void
cfx_close(struct smtpc *s, const struct smtpc_result *why, void *arg)
{
	struct fx *f = arg;

	(void)s;
	assert_false(f->closed);
	f->closed = true;
	clock_gettime(CLOCK_MONOTONIC, &f->closed_at);
	f->why = *why;
	f->s = NULL;
}

const struct smtpc_ops cfx_ops = {cfx_next, cfx_done, cfx_close};

int
cfx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->r = speer_setup(&f->o, &f->peer.sp.lfd, "mx.test");
	if (f->r == NULL) {
		free(f);
		f = NULL;
	}
	*state = f;
	return 0;
}

int
cfx_teardown(void **state)
{
	struct fx *f = *state;

	if (f == NULL)
		return 0;
	speer_teardown(f->r, f->peer.sp.lfd);
	for (unsigned i = 0; i < 4; i++)
		speer_msg_close(&f->msgs[i].m);
	free(f);
	return 0;
}

/* Queue message i: from, up to 48 recipients (NULL-terminated), body. */
struct smtpc_msg *
cfx_msg(struct fx *f, unsigned i, const char *body, size_t len,
	const char *const *to)
{
	struct cfx_tmsg *t = &f->msgs[i];

	/* a few bytes of junk first: the body is a byte range */
	speer_msg_init(&t->m, t->rc, "JUNK", body, len);
	for (t->m.nrcpt = 0; to[t->m.nrcpt] != NULL; t->m.nrcpt++)
		t->rc[t->m.nrcpt].addr = to[t->m.nrcpt];
	return &t->m;
}

void
cfx_queue(struct fx *f, struct smtpc_msg *m)
{
	f->q[f->nq++] = m;
}

/* Run the script against a new session until it closes. */
void
cfx_run(struct fx *f, const struct cfx_step *script)
{
	f->peer.script = script;
	speer_start(&f->peer.sp, cfx_peer_main, &f->peer);
	f->s = smtpc_new(f->r, &f->o, &cfx_ops, f);
	(void)smtpc_start(f->s);
	speer_pump(f->r, &f->closed);
	speer_join(&f->peer.sp);
}

void
cfx_assert_rcpt(const struct smtpc_rcpt *rc, enum smtpc_status st, int code,
		enum smtpc_stage stage)
{
	speer_assert_res(rc->addr, &rc->res, st, code, stage);
}

const char *const cfx_to2[] = {"b@y", "c@y", NULL};
const char *const cfx_to1[] = {"b@y", NULL};
const char cfx_body1[] = "Subject: t\r\n\r\nhello\r\n";

void
cfx_deliver_one(struct fx *f, const struct cfx_step *script, const char *body)
{
	cfx_queue(f, cfx_msg(f, 0, body, strlen(body), cfx_to1));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 1);
	cfx_assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_DELIVERED, 250,
			SMTPC_STAGE_DOT);
}
