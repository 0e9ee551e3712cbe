/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_client: the client session on a real ring against scripted
 * servers on 127.0.0.1 (a peer thread with blocking sockets runs each
 * script: expect these bytes, send these bytes, split at every byte,
 * dribble, reset).  Pipelined groups checked as one read, reuse with the
 * next MAIL behind the previous ".", per-recipient outcomes, 421, 5xx
 * banner, HELO fallback, lone ".", timeouts, resets, dot-stuffing, the
 * capability refusals and source binding.  Skips loudly without io_uring.
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "smtp_client.h"
#include "timer.h"

#include "scripted_peer.h"

/* ---- scripted peer ------------------------------------------------------ */

enum pk {
	P_END = 0,
	P_SEND,      /* send s in one write */
	P_SPLIT,     /* send s one byte per write */
	P_DRIBBLE,   /* one byte every ms milliseconds, stop on error */
	P_EXPECT,    /* read exactly s (any split) */
	P_EXPECT_1,  /* s must arrive in ONE read */
	P_SLEEP,     /* ms */
	P_RESET,     /* close with RST */
	P_EOF,       /* the client closes */
	P_EOF_NODOT, /* bytes then EOF, and no end of data among them */
};

struct pstep {
	enum pk k;
	const char *s;
	int ms;
};

struct peer {
	struct speer sp;
	const struct pstep *script;
	char peer_ip[INET6_ADDRSTRLEN];
};

/* Read exactly n bytes (5 s cap).  Returns bytes read. */
static size_t
peer_read(int fd, char *buf, size_t n)
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
peer_step(struct peer *p, int i, const struct pstep *st)
{
	int fd = p->sp.fd;
	static char buf[1 << 16];
	size_t n = st->s ? strlen(st->s) : 0, got;
	struct linger lg = {1, 0};
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t r;

	switch (st->k) {
	case P_SEND:
		if (send(fd, st->s, n, MSG_NOSIGNAL) != (ssize_t)n)
			speer_fail(&p->sp, i, "send", "", 0);
		break;
	case P_SPLIT:
	case P_DRIBBLE:
		for (size_t j = 0; j < n; j++) {
			if (send(fd, st->s + j, 1, MSG_NOSIGNAL) != 1) {
				if (st->k == P_SPLIT)
					speer_fail(&p->sp, i, "send", "", 0);
				break;
			}
			usleep(st->k == P_SPLIT ? 2000 : st->ms * 1000);
		}
		break;
	case P_EXPECT:
		/* in pieces: bodies can be larger than buf */
		for (size_t off = 0; off < n; off += got) {
			size_t want =
			    n - off < sizeof(buf) ? n - off : sizeof(buf);

			got = peer_read(fd, buf, want);
			if (got != want ||
			    memcmp(buf, st->s + off, want) != 0) {
				speer_fail(&p->sp, i, n > 200 ? "large" : st->s,
					   buf, got < 200 ? got : 200);
				break;
			}
		}
		break;
	case P_EXPECT_1:
		if (poll(&pfd, 1, 5000) != 1) {
			speer_fail(&p->sp, i, "poll", "", 0);
			break;
		}
		r = recv(fd, buf, sizeof(buf), 0);
		if (r != (ssize_t)n || memcmp(buf, st->s, n) != 0)
			speer_fail(&p->sp, i, st->s, buf,
				   r > 0 ? (size_t)r : 0);
		break;
	case P_SLEEP:
		usleep(st->ms * 1000);
		break;
	case P_RESET:
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		break;
	case P_EOF:
		r = recv(fd, buf, sizeof(buf), 0);
		if (r != 0)
			speer_fail(&p->sp, i, "EOF", buf,
				   r > 0 ? (size_t)r : 0);
		break;
	case P_EOF_NODOT:
		got = 0;
		while ((r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
			got += (size_t)r;
		buf[got] = '\0';
		if (r != 0 || strstr(buf, "\r\n.\r\n") != NULL)
			speer_fail(&p->sp, i, "EOF without end of data", buf,
				   got);
		break;
	case P_END:
		break;
	}
}

static void *
peer_main(void *arg)
{
	struct peer *p = arg;

	if (speer_accept(&p->sp, p->peer_ip, sizeof(p->peer_ip)) < 0) {
		speer_fail(&p->sp, -1, "no connection", "", 0);
		return NULL;
	}
	for (int i = 0; p->script[i].k != P_END; i++) {
		peer_step(p, i, &p->script[i]);
		if (p->script[i].k == P_RESET)
			break;
	}
	close(p->sp.fd);
	return NULL;
}

/* ---- fixture ------------------------------------------------------------ */

struct tmsg {
	struct smtpc_msg m;
	struct smtpc_rcpt rc[48];
};

struct fx {
	struct ring *r;
	struct peer peer;
	struct smtpc_opts o;
	struct smtpc *s;
	struct tmsg msgs[4];
	struct smtpc_msg *q[4];
	unsigned nq, qhead, next_calls;
	struct smtpc_msg *done[4];
	unsigned ndone;
	bool closed;
	struct timespec closed_at;
	struct smtpc_result why;
	struct timer late; /* adds msgs[late_idx] and kicks */
	unsigned late_idx;
};

static struct smtpc_msg *
fx_next(struct smtpc *s, void *arg)
{
	struct fx *f = arg;

	(void)s;
	return speer_next(f->q, f->nq, &f->qhead, &f->next_calls);
}

static void
fx_done(struct smtpc *s, struct smtpc_msg *m, void *arg)
{
	struct fx *f = arg;

	(void)s;
	assert_true(f->ndone < 4);
	for (unsigned i = 0; i < m->nrcpt; i++)
		assert_int_not_equal(m->rcpt[i].res.status, SMTPC_R_PENDING);
	f->done[f->ndone++] = m;
}

static void
fx_close(struct smtpc *s, const struct smtpc_result *why, void *arg)
{
	struct fx *f = arg;

	(void)s;
	assert_false(f->closed);
	f->closed = true;
	clock_gettime(CLOCK_MONOTONIC, &f->closed_at);
	f->why = *why;
	f->s = NULL;
}

static const struct smtpc_ops fx_ops = {fx_next, fx_done, fx_close};

static int
setup(void **state)
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

static int
teardown(void **state)
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
static struct smtpc_msg *
fx_msg(struct fx *f, unsigned i, const char *body, size_t len,
       const char *const *to)
{
	struct tmsg *t = &f->msgs[i];

	/* a few bytes of junk first: the body is a byte range */
	speer_msg_init(&t->m, t->rc, "JUNK", body, len);
	for (t->m.nrcpt = 0; to[t->m.nrcpt] != NULL; t->m.nrcpt++)
		t->rc[t->m.nrcpt].addr = to[t->m.nrcpt];
	return &t->m;
}

static void
fx_queue(struct fx *f, struct smtpc_msg *m)
{
	f->q[f->nq++] = m;
}

/* Run the script against a new session until it closes. */
static void
fx_run(struct fx *f, const struct pstep *script)
{
	f->peer.script = script;
	speer_start(&f->peer.sp, peer_main, &f->peer);
	f->s = smtpc_new(f->r, &f->o, &fx_ops, f);
	(void)smtpc_start(f->s);
	speer_pump(f->r, &f->closed);
	speer_join(&f->peer.sp);
}

static void
assert_rcpt(const struct smtpc_rcpt *rc, enum smtpc_status st, int code,
	    enum smtpc_stage stage)
{
	speer_assert_res(rc->addr, &rc->res, st, code, stage);
}

#define BANNER_EHLO(caps)                                                      \
	{P_SEND, "220 mx.test ESMTP\r\n", 0},                                  \
	    {P_EXPECT, "EHLO client.example\r\n", 0},                          \
	{                                                                      \
		P_SEND, caps, 0                                                \
	}
#define CAPS_PIPE                                                              \
	"250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000\r\n"
#define QUIT_END                                                               \
	{P_EXPECT, "QUIT\r\n", 0}, {P_SEND, "221 bye\r\n", 0},                 \
	{                                                                      \
		P_EOF, NULL, 0                                                 \
	}

static const char *const to2[] = {"b@y", "c@y", NULL};
static const char *const to1[] = {"b@y", NULL};
static const char body1[] = "Subject: t\r\n\r\nhello\r\n";
#define B1LEN "21"
#define GROUP2                                                                 \
	"MAIL FROM:<a@x> SIZE=" B1LEN                                          \
	"\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\n"
#define GROUP1 "MAIL FROM:<a@x> SIZE=" B1LEN "\r\nRCPT TO:<b@y>\r\nDATA\r\n"

static void
test_pipelined_group_one_send(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1, GROUP2, 0},
	    {P_SEND, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT, "Subject: t\r\n\r\nhello\r\n.\r\n", 0},
	    {P_SEND, "250 2.0.0 queued as X\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};

	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to2));
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_DELIVERED, 250, SMTPC_STAGE_DOT);
	assert_rcpt(&f->msgs[0].rc[1], SMTPC_R_DELIVERED, 250, SMTPC_STAGE_DOT);
	assert_int_equal(f->msgs[0].rc[0].res.esc[0], 2);
	assert_non_null(strstr(f->msgs[0].rc[0].res.text, "queued as X"));
	assert_false(f->msgs[0].rc[0].res.maybe_dup);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
	assert_int_equal(f->why.code, 221);
	/* the message; none after "."; none after its reply (not on sends) */
	assert_int_equal(f->next_calls, 3);
}

static void
test_split_every_byte_multiline(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    {P_SPLIT, "220-mx.test ESMTP\r\n220 welcome\r\n", 0},
	    {P_EXPECT, "EHLO client.example\r\n", 0},
	    {P_SPLIT, CAPS_PIPE, 0},
	    {P_EXPECT_1, GROUP2, 0},
	    {P_SPLIT, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT, "Subject: t\r\n\r\nhello\r\n.\r\n", 0},
	    {P_SPLIT, "250-2.0.0 queued\r\n250 2.0.0 as Y\r\n", 0},
	    {P_EXPECT, "QUIT\r\n", 0},
	    {P_SPLIT, "221 bye\r\n", 0},
	    {P_EOF, NULL, 0},
	    {P_END, NULL, 0},
	};

	f->o.tmo.idle = 300;
	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to2));
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_rcpt(&f->msgs[0].rc[1], SMTPC_R_DELIVERED, 250, SMTPC_STAGE_DOT);
	assert_non_null(strstr(f->msgs[0].rc[1].res.text, "as Y"));
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_helo_fallback_no_pipelining(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO("502 5.5.1 EHLO not here\r\n"),
	    {P_EXPECT, "HELO client.example\r\n", 0},
	    {P_SEND, "250 mx.test\r\n", 0},
	    {P_EXPECT_1, "MAIL FROM:<a@x>\r\n", 0},
	    {P_SEND, "250 ok\r\n", 0},
	    {P_EXPECT_1, "RCPT TO:<b@y>\r\n", 0},
	    {P_SEND, "250 ok\r\n", 0},
	    {P_EXPECT_1, "DATA\r\n", 0},
	    {P_SEND, "354 go\r\n", 0},
	    {P_EXPECT, "Subject: t\r\n\r\nhello\r\n.\r\n", 0},
	    {P_SEND, "250 ok\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};

	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to1));
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_DELIVERED, 250, SMTPC_STAGE_DOT);
}

static void
test_all_rcpts_rejected_lone_dot(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1, GROUP2, 0},
	    {P_SEND, "250 ok\r\n550 5.1.1 no b\r\n550 5.1.1 no c\r\n354 go\r\n",
	     0},
	    {P_EXPECT_1, ".\r\n", 0},
	    {P_SEND, "554 5.5.1 no valid recipients\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};

	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to2));
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_PERMANENT, 550,
		    SMTPC_STAGE_RCPT);
	assert_rcpt(&f->msgs[0].rc[1], SMTPC_R_PERMANENT, 550,
		    SMTPC_STAGE_RCPT);
	assert_int_equal(f->msgs[0].rc[1].res.fail, SMTPC_FAIL_REPLY);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_mixed_rcpt_outcomes_dsn(void **state)
{
	FX_GET(f);
	static const char *const to3[] = {"b@y", "c@y", "d@y", NULL};
	static const struct pstep script[] = {
	    BANNER_EHLO("250-mx.test\r\n250-PIPELINING\r\n250 DSN\r\n"),
	    {P_EXPECT_1,
	     "MAIL FROM:<a@x> RET=HDRS ENVID=e+2B1\r\n"
	     "RCPT TO:<b@y> NOTIFY=FAILURE ORCPT=rfc822;B@y\r\n"
	     "RCPT TO:<c@y>\r\nRCPT TO:<d@y>\r\nDATA\r\n",
	     0},
	    {P_SEND,
	     "250 ok\r\n250 ok\r\n451 4.2.0 later\r\n550 5.1.1 unknown\r\n"
	     "354 go\r\n",
	     0},
	    {P_EXPECT, "Subject: t\r\n\r\nhello\r\n.\r\n", 0},
	    {P_SEND, "250 2.0.0 ok\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};
	struct smtpc_msg *m = fx_msg(f, 0, body1, strlen(body1), to3);

	m->ret = SMTPCMD_RET_HDRS;
	m->envid = "e+1";
	m->rcpt[0].notify = SMTPCMD_NOTIFY_FAILURE;
	m->rcpt[0].orcpt = "B@y";
	fx_queue(f, m);
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_rcpt(&m->rcpt[0], SMTPC_R_DELIVERED, 250, SMTPC_STAGE_DOT);
	assert_rcpt(&m->rcpt[1], SMTPC_R_TEMPORARY, 451, SMTPC_STAGE_RCPT);
	assert_rcpt(&m->rcpt[2], SMTPC_R_PERMANENT, 550, SMTPC_STAGE_RCPT);
	assert_int_equal(m->rcpt[1].res.esc[0], 4);
	assert_int_equal(m->rcpt[1].res.esc[2], 0);
	assert_int_equal(m->rcpt[2].res.esc[2], 1);
}

static void
test_421_mid_transaction(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1, GROUP2, 0},
	    {P_SEND, "250 ok\r\n421 4.3.2 shutting down\r\n", 0},
	    {P_EOF, NULL, 0},
	    {P_END, NULL, 0},
	};

	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to2));
	fx_queue(f, fx_msg(f, 1, body1, strlen(body1), to1));
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_TEMPORARY, 421,
		    SMTPC_STAGE_RCPT);
	assert_rcpt(&f->msgs[0].rc[1], SMTPC_R_TEMPORARY, 421,
		    SMTPC_STAGE_RCPT);
	assert_false(f->msgs[0].rc[0].res.maybe_dup);
	assert_int_equal(f->why.fail, SMTPC_FAIL_REPLY);
	assert_int_equal(f->why.code, 421);
	assert_int_equal(f->qhead, 1); /* the second message never taken */
}

static void
test_banner_5xx(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    {P_SEND, "554 5.7.1 go away\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};

	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to1));
	fx_run(f, script);
	assert_int_equal(f->ndone, 0);
	assert_int_equal(f->next_calls, 0);
	assert_int_equal(f->why.fail, SMTPC_FAIL_REPLY);
	assert_int_equal(f->why.code, 554);
	assert_int_equal(f->why.stage, SMTPC_STAGE_BANNER);
	assert_int_equal(f->why.esc[1], 7);
}

static void
test_reset_during_data(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO("250-mx.test\r\n250 PIPELINING\r\n"),
	    {P_EXPECT_1, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n", 0},
	    {P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_SLEEP, NULL, 100},
	    {P_RESET, NULL, 0},
	    {P_END, NULL, 0},
	};
	size_t len = 16u << 20;
	char *big = malloc(len);

	for (size_t i = 0; i < len; i++)
		big[i] = (i % 64 == 63) ? '\n' : 'a';
	fx_queue(f, fx_msg(f, 0, big, len, to1));
	free(big);
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->msgs[0].rc[0].res.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->msgs[0].rc[0].res.fail, SMTPC_FAIL_RESET);
	assert_int_equal(f->msgs[0].rc[0].res.stage, SMTPC_STAGE_BODY);
	assert_false(f->msgs[0].rc[0].res.maybe_dup);
	assert_int_equal(f->why.fail, SMTPC_FAIL_RESET);
}

static void
test_dot_reply_dribble_times_out(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1, GROUP1, 0},
	    {P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT, "Subject: t\r\n\r\nhello\r\n.\r\n", 0},
	    {P_DRIBBLE, "250 2.0.0 ok\r\n", 100},
	    {P_END, NULL, 0},
	};
	struct timespec t0, t1;
	long ms;

	f->o.tmo.dot = 300;
	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to1));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fx_run(f, script);
	t1 = f->closed_at;
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->msgs[0].rc[0].res.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->msgs[0].rc[0].res.fail, SMTPC_FAIL_TIMEOUT);
	assert_int_equal(f->msgs[0].rc[0].res.stage, SMTPC_STAGE_DOT);
	assert_true(f->msgs[0].rc[0].res.maybe_dup);
	assert_int_equal(f->why.fail, SMTPC_FAIL_TIMEOUT);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	/* The deadline did not move with each byte (1.4 s of dribble). */
	assert_true(ms < 1200);
}

#define BODYDOT "Subject: t\r\n\r\nhello\r\n.\r\n"

static void
test_reuse_three_pipelined_behind_dot(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1, GROUP1, 0},
	    {P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT_1, BODYDOT GROUP1, 0},
	    {P_SEND, "250 one\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT_1, BODYDOT GROUP1, 0},
	    {P_SEND, "250 two\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT_1, BODYDOT, 0},
	    {P_SEND, "250 three\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};

	for (unsigned i = 0; i < 3; i++)
		fx_queue(f, fx_msg(f, i, body1, strlen(body1), to1));
	fx_run(f, script);
	assert_int_equal(f->ndone, 3);
	for (unsigned i = 0; i < 3; i++) {
		static const char *const want[] = {"one", "two", "three"};

		assert_ptr_equal(f->done[i], &f->msgs[i].m);
		assert_rcpt(&f->msgs[i].rc[0], SMTPC_R_DELIVERED, 250,
			    SMTPC_STAGE_DOT);
		assert_string_equal(f->msgs[i].rc[0].res.text, want[i]);
	}
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_max_deliveries_then_quit(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1, GROUP1, 0},
	    {P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT_1, BODYDOT GROUP1, 0},
	    {P_SEND, "250 one\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT_1, BODYDOT, 0},
	    {P_SLEEP, NULL, 50}, /* QUIT must not follow "." unanswered */
	    {P_SEND, "250 two\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};

	f->o.max_deliveries = 2;
	f->o.tmo.idle = 5000; /* QUIT must come from the limit */
	for (unsigned i = 0; i < 3; i++)
		fx_queue(f, fx_msg(f, i, body1, strlen(body1), to1));
	fx_run(f, script);
	assert_int_equal(f->ndone, 2);
	assert_int_equal(f->qhead, 2);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
fx_late(struct timer *t)
{
	struct fx *f = container_of(t, struct fx, late);

	fx_queue(f, &f->msgs[f->late_idx].m);
	if (f->s != NULL)
		smtpc_kick(f->s);
}

static void
test_idle_kick_then_idle_timeout(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1, GROUP1, 0},
	    {P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT_1, BODYDOT, 0},
	    {P_SEND, "250 ok\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};
	struct timespec t0, t1;
	long ms;

	f->o.tmo.idle = 400;
	(void)fx_msg(f, 0, body1, strlen(body1), to1);
	f->late_idx = 0;
	timer_init(&f->late, fx_late);
	timer_arm(ring_timers(f->r), &f->late,
		  ring_now_update(f->r) + 150 * 1000000LL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fx_run(f, script);
	t1 = f->closed_at;
	assert_int_equal(f->ndone, 1);
	assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_DELIVERED, 250, SMTPC_STAGE_DOT);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 150 + 400); /* kicked, then a full idle period */
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_rset_after_mail_rejection(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1, GROUP1, 0},
	    {P_SEND,
	     "550 5.7.1 sender refused\r\n503 5.5.1 need MAIL\r\n"
	     "503 5.5.1 need MAIL\r\n",
	     0},
	    {P_EXPECT_1, "RSET\r\n" GROUP1, 0},
	    {P_SEND, "250 flushed\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT_1, BODYDOT, 0},
	    {P_SEND, "250 ok\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};

	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to1));
	fx_queue(f, fx_msg(f, 1, body1, strlen(body1), to1));
	fx_run(f, script);
	assert_int_equal(f->ndone, 2);
	assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_PERMANENT, 550,
		    SMTPC_STAGE_MAIL);
	assert_rcpt(&f->msgs[1].rc[0], SMTPC_R_DELIVERED, 250, SMTPC_STAGE_DOT);
}

static void
test_dot_stuffing_exact(void **state)
{
	FX_GET(f);
	static const char body[] = ".\r\n..\r\n.x\r\nmid.dle\r\n\r\nend";
	static const struct pstep script[] = {
	    BANNER_EHLO("250-mx.test\r\n250 PIPELINING\r\n"),
	    {P_EXPECT_1, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n", 0},
	    {P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT, "..\r\n...\r\n..x\r\nmid.dle\r\n\r\nend\r\n.\r\n", 0},
	    {P_SEND, "250 ok\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};

	fx_queue(f, fx_msg(f, 0, body, strlen(body), to1));
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_DELIVERED, 250, SMTPC_STAGE_DOT);
}

static void
test_capability_refusals_not_sent(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO("250-mx.test\r\n250-PIPELINING\r\n250 SIZE 20\r\n"),
	    QUIT_END,
	    {P_END, NULL, 0},
	};
	static const char b8[] = "Subject: \xc3\xa9\r\n\r\nx\r\n";
	struct smtpc_msg *m8 = fx_msg(f, 0, b8, strlen(b8), to1);
	struct smtpc_msg *mu = fx_msg(f, 1, "x\r\n", 3, to1);
	struct smtpc_msg *mbig = fx_msg(f, 2, body1, strlen(body1), to1);

	m8->eightbit = true;
	mu->smtputf8 = true;
	fx_queue(f, m8);
	fx_queue(f, mu);
	fx_queue(f, mbig);
	fx_run(f, script);
	assert_int_equal(f->ndone, 3);
	for (unsigned i = 0; i < 3; i++) {
		static const unsigned want[3][2] = {{6, 3}, {6, 7}, {3, 4}};
		const struct smtpc_result *r = &f->msgs[i].rc[0].res;

		assert_int_equal(r->status, SMTPC_R_PERMANENT);
		assert_int_equal(r->fail, SMTPC_FAIL_CAPS);
		assert_int_equal(r->stage, SMTPC_STAGE_LOCAL);
		assert_int_equal(r->code, 0);
		assert_int_equal(r->esc[0], 5);
		assert_int_equal(r->esc[1], want[i][0]);
		assert_int_equal(r->esc[2], want[i][1]);
	}
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_source_address_binding(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    QUIT_END,
	    {P_END, NULL, 0},
	};
	struct sockaddr_in *src = (struct sockaddr_in *)&f->o.src;

	src->sin_family = AF_INET;
	src->sin_addr.s_addr = htonl(0x7f000002);
	f->o.src_len = sizeof(*src);
	fx_run(f, script);
	assert_string_equal(f->peer.peer_ip, "127.0.0.2");
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_connect_refused(void **state)
{
	FX_GET(f);

	/* Nobody listens on the port once the listener is closed. */
	close(f->peer.sp.lfd);
	f->peer.sp.lfd = socket(AF_INET, SOCK_STREAM, 0);
	f->s = smtpc_new(f->r, &f->o, &fx_ops, f);
	assert_int_equal(smtpc_start(f->s), 0);
	while (!f->closed)
		assert_true(ring_run_once(f->r, 50 * 1000000LL) >= 0);
	assert_int_equal(f->why.fail, SMTPC_FAIL_REFUSED);
	assert_int_equal(f->why.stage, SMTPC_STAGE_CONNECT);
	assert_int_equal(f->next_calls, 0);
}

static void
test_many_rcpts_beyond_pend_window(void **state)
{
	FX_GET(f);
	static char names[40][8];
	static const char *to40[41];
	static char group_a[4096], group_b[1024], replies_a[1024],
	    replies_b[512];
	struct pstep script[] = {
	    BANNER_EHLO("250-mx.test\r\n250 PIPELINING\r\n"),
	    {P_EXPECT, group_a, 0},
	    {P_SEND, replies_a, 0},
	    {P_EXPECT, group_b, 0},
	    {P_SEND, replies_b, 0},
	    {P_EXPECT, "x\r\n.\r\n", 0},
	    {P_SEND, "250 ok\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};
	size_t oa, ob;
	unsigned i;

	/* pend[] holds 32: MAIL + 31 RCPT go first, the rest after replies */
	oa = (size_t)snprintf(group_a, sizeof(group_a), "MAIL FROM:<a@x>\r\n");
	ob = 0;
	for (i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "r%u@y", i);
		to40[i] = names[i];
		if (i < 31)
			oa +=
			    (size_t)snprintf(group_a + oa, sizeof(group_a) - oa,
					     "RCPT TO:<%s>\r\n", names[i]);
		else
			ob +=
			    (size_t)snprintf(group_b + ob, sizeof(group_b) - ob,
					     "RCPT TO:<%s>\r\n", names[i]);
	}
	to40[40] = NULL;
	snprintf(group_b + ob, sizeof(group_b) - ob, "DATA\r\n");
	replies_a[0] = replies_b[0] = '\0';
	for (i = 0; i < 32; i++)
		strcat(replies_a, i == 5 ? "550 5.1.1 no\r\n" : "250 ok\r\n");
	for (i = 0; i < 9; i++)
		strcat(replies_b, "250 ok\r\n");
	strcat(replies_b, "354 go\r\n");
	fx_queue(f, fx_msg(f, 0, "x\r\n", 3, to40));
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	for (i = 0; i < 40; i++) {
		if (i == 4)
			assert_rcpt(&f->msgs[0].rc[i], SMTPC_R_PERMANENT, 550,
				    SMTPC_STAGE_RCPT);
		else
			assert_rcpt(&f->msgs[0].rc[i], SMTPC_R_DELIVERED, 250,
				    SMTPC_STAGE_DOT);
	}
}

static void
test_banner_timeout(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    {P_EOF, NULL, 0},
	    {P_END, NULL, 0},
	};

	f->o.tmo.banner = 200;
	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to1));
	fx_run(f, script);
	assert_int_equal(f->why.fail, SMTPC_FAIL_TIMEOUT);
	assert_int_equal(f->why.stage, SMTPC_STAGE_BANNER);
	assert_int_equal(f->why.err, -ETIMEDOUT);
	assert_int_equal(f->next_calls, 0);
}

static void
fx_cancel(struct timer *t)
{
	struct fx *f = container_of(t, struct fx, late);

	if (f->s != NULL)
		smtpc_cancel(f->s);
}

static void
test_cancel_in_flight(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1, GROUP1, 0},
	    {P_EOF, NULL, 0},
	    {P_END, NULL, 0},
	};

	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to1));
	timer_init(&f->late, fx_cancel);
	timer_arm(ring_timers(f->r), &f->late,
		  ring_now_update(f->r) + 200 * 1000000LL);
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->msgs[0].rc[0].res.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->msgs[0].rc[0].res.err, -ECANCELED);
	assert_int_equal(f->why.fail, SMTPC_FAIL_LOCAL);
	assert_int_equal(f->why.err, -ECANCELED);
	assert_int_equal(f->why.stage, SMTPC_STAGE_MAIL);
}

static void
test_data_and_dot_rejections(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1, GROUP1, 0},
	    {P_SEND, "250 ok\r\n250 ok\r\n451 4.3.0 try later\r\n", 0},
	    {P_EXPECT_1, "RSET\r\n" GROUP1, 0},
	    {P_SEND, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT_1, BODYDOT GROUP1, 0},
	    {P_SEND, "554 5.7.1 spam\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT_1, BODYDOT, 0},
	    {P_SEND, "452 4.3.1 full\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};

	for (unsigned i = 0; i < 3; i++)
		fx_queue(f, fx_msg(f, i, body1, strlen(body1), to1));
	fx_run(f, script);
	assert_int_equal(f->ndone, 3);
	assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_TEMPORARY, 451,
		    SMTPC_STAGE_DATA);
	assert_rcpt(&f->msgs[1].rc[0], SMTPC_R_PERMANENT, 554, SMTPC_STAGE_DOT);
	assert_rcpt(&f->msgs[2].rc[0], SMTPC_R_TEMPORARY, 452, SMTPC_STAGE_DOT);
	assert_false(f->msgs[2].rc[0].res.maybe_dup);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_garbage_reply_is_protocol_error(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1, GROUP1, 0},
	    {P_SEND, "250 ok\r\n25x what\r\n", 0},
	    {P_EOF, NULL, 0},
	    {P_END, NULL, 0},
	};

	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to1));
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->msgs[0].rc[0].res.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->msgs[0].rc[0].res.fail, SMTPC_FAIL_PROTO);
	assert_int_equal(f->msgs[0].rc[0].res.stage, SMTPC_STAGE_RCPT);
	assert_int_equal(f->why.fail, SMTPC_FAIL_PROTO);
}

static void
test_unsolicited_reply_while_idle(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_SEND, "250 surprise\r\n", 0},
	    {P_EOF, NULL, 0},
	    {P_END, NULL, 0},
	};

	f->o.tmo.idle = 2000;
	fx_run(f, script);
	assert_int_equal(f->why.fail, SMTPC_FAIL_PROTO);
	assert_int_equal(f->why.stage, SMTPC_STAGE_IDLE);
}

static void
test_large_body_streamed_byte_exact(void **state)
{
	FX_GET(f);
	size_t cap = 400u << 10, bl = 0, wl = 0;
	char *body = malloc(cap), *wire = malloc(cap * 2);
	struct pstep script[] = {
	    BANNER_EHLO("250-mx.test\r\n250 PIPELINING\r\n"),
	    {P_EXPECT_1, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n", 0},
	    {P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EXPECT, wire, 0},
	    {P_SEND, "250 ok\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};

	/* lines of varied length, a "." at every 7th line start, dots
	 * landing on every chunk and buffer boundary sooner or later */
	for (unsigned n = 0; bl < cap - 200; n++) {
		char line[160];
		int ll =
		    snprintf(line, sizeof(line), "%s%u %.*s\r\n",
			     n % 7 == 0 ? "." : "", n, (int)(n % 97),
			     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstu"
			     "vwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop"
			     "qrstuvwxyz");

		memcpy(body + bl, line, (size_t)ll);
		bl += (size_t)ll;
		if (n % 7 == 0)
			wire[wl++] = '.';
		memcpy(wire + wl, line, (size_t)ll);
		wl += (size_t)ll;
	}
	memcpy(body + bl, "tail", 4); /* no final CRLF */
	bl += 4;
	memcpy(wire + wl, "tail\r\n.\r\n", 10);
	wl += 9;
	wire[wl] = '\0';
	fx_queue(f, fx_msg(f, 0, body, bl, to1));
	fx_run(f, script);
	free(body);
	free(wire);
	assert_int_equal(f->ndone, 1);
	assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_DELIVERED, 250, SMTPC_STAGE_DOT);
}

static void
test_reuse_without_pipelining(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO("250-mx.test\r\n250 8BITMIME\r\n"),
	    {P_EXPECT_1, "MAIL FROM:<a@x>\r\n", 0},
	    {P_SEND, "250 ok\r\n", 0},
	    {P_EXPECT_1, "RCPT TO:<b@y>\r\n", 0},
	    {P_SEND, "250 ok\r\n", 0},
	    {P_EXPECT_1, "DATA\r\n", 0},
	    {P_SEND, "354 go\r\n", 0},
	    {P_EXPECT_1, BODYDOT, 0},
	    {P_SLEEP, NULL, 50}, /* nothing may follow "." unanswered */
	    {P_SEND, "250 one\r\n", 0},
	    {P_EXPECT_1, "MAIL FROM:<a@x>\r\n", 0},
	    {P_SEND, "250 ok\r\n", 0},
	    {P_EXPECT_1, "RCPT TO:<b@y>\r\n", 0},
	    {P_SEND, "250 ok\r\n", 0},
	    {P_EXPECT_1, "DATA\r\n", 0},
	    {P_SEND, "354 go\r\n", 0},
	    {P_EXPECT_1, BODYDOT, 0},
	    {P_SEND, "250 two\r\n", 0},
	    QUIT_END,
	    {P_END, NULL, 0},
	};

	fx_queue(f, fx_msg(f, 0, body1, strlen(body1), to1));
	fx_queue(f, fx_msg(f, 1, body1, strlen(body1), to1));
	fx_run(f, script);
	assert_int_equal(f->ndone, 2);
	assert_string_equal(f->msgs[1].rc[0].res.text, "two");
}

static void
test_short_body_file_never_ends_data(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    {P_EXPECT_1,
	     "MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<b@y>\r\nDATA\r\n", 0},
	    {P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {P_EOF_NODOT, NULL, 0},
	    {P_END, NULL, 0},
	};
	struct smtpc_msg *m = fx_msg(f, 0, body1, strlen(body1), to1);

	m->body_len = 100; /* the file holds 21 bytes after the offset */
	fx_queue(f, m);
	fx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->msgs[0].rc[0].res.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->msgs[0].rc[0].res.fail, SMTPC_FAIL_LOCAL);
	assert_int_equal(f->msgs[0].rc[0].res.err, -EIO);
	assert_false(f->msgs[0].rc[0].res.maybe_dup);
}

static void
test_ipv6_loopback(void **state)
{
	FX_GET(f);
	static const struct pstep script[] = {
	    BANNER_EHLO(CAPS_PIPE),
	    QUIT_END,
	    {P_END, NULL, 0},
	};
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&f->o.dst;
	socklen_t sl = sizeof(*sin6);
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)sin6, sl) != 0) {
		fprintf(stderr, "*** no IPv6 loopback: SKIPPING ***\n");
		if (fd >= 0)
			close(fd);
		skip();
		return;
	}
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin6, &sl), 0);
	f->o.dst_len = sl;
	close(f->peer.sp.lfd);
	f->peer.sp.lfd = fd;
	fx_run(f, script);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_tables_and_size(void **state)
{
	(void)state;
	assert_string_equal(smtpc_fail_str(SMTPC_FAIL_REFUSED), "refused");
	assert_string_equal(smtpc_fail_str(SMTPC_FAIL__COUNT), "?");
	assert_string_equal(smtpc_state_str(SMTPC_S_TXN), "TXN");
	assert_string_equal(smtpc_stage_str(SMTPC_STAGE_DOT), "dot");
	assert_string_equal(smtpc_status_str(SMTPC_R_TEMPORARY), "temporary");
	assert_int_equal(smtpc_fail_from_errno(-ECONNREFUSED),
			 SMTPC_FAIL_REFUSED);
	assert_int_equal(smtpc_fail_from_errno(-EHOSTUNREACH),
			 SMTPC_FAIL_UNREACH);
	assert_int_equal(smtpc_fail_from_errno(-ETIMEDOUT), SMTPC_FAIL_TIMEOUT);
	assert_int_equal(smtpc_fail_from_errno(-EPIPE), SMTPC_FAIL_RESET);
	assert_int_equal(smtpc_fail_from_errno(-EBADMSG), SMTPC_FAIL_PROTO);
	assert_int_equal(smtpc_fail_from_errno(-EADDRNOTAVAIL),
			 SMTPC_FAIL_LOCAL);
	/* 10,000 idle sessions within 200 MB. */
	fprintf(stderr, "sizeof(struct smtpc) = %zu\n", smtpc_session_size());
	assert_true(smtpc_session_size() * 10000 < 200u * 1000 * 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_pipelined_group_one_send),
	    T(test_split_every_byte_multiline),
	    T(test_helo_fallback_no_pipelining),
	    T(test_all_rcpts_rejected_lone_dot),
	    T(test_mixed_rcpt_outcomes_dsn),
	    T(test_421_mid_transaction),
	    T(test_banner_5xx),
	    T(test_reset_during_data),
	    T(test_dot_reply_dribble_times_out),
	    T(test_reuse_three_pipelined_behind_dot),
	    T(test_max_deliveries_then_quit),
	    T(test_idle_kick_then_idle_timeout),
	    T(test_rset_after_mail_rejection),
	    T(test_dot_stuffing_exact),
	    T(test_capability_refusals_not_sent),
	    T(test_source_address_binding),
	    T(test_connect_refused),
	    T(test_many_rcpts_beyond_pend_window),
	    T(test_banner_timeout),
	    T(test_cancel_in_flight),
	    T(test_data_and_dot_rejections),
	    T(test_garbage_reply_is_protocol_error),
	    T(test_unsolicited_reply_while_idle),
	    T(test_large_body_streamed_byte_exact),
	    T(test_reuse_without_pipelining),
	    T(test_short_body_file_never_ends_data),
	    T(test_ipv6_loopback),
	    cmocka_unit_test(test_tables_and_size),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
