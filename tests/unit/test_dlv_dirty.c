/* SPDX-License-Identifier: MIT */
/*
 * test_dlv_dirty: the delivery code marks a domain record dirty
 * (dom_dirty) whenever it changes what store/rstate.c publishes for it,
 * so the publisher, which visits only dirty records, misses nothing.  On
 * the routing context of dlv_fixture.c every record's published state is
 * snapshot with the dirty list emptied; after each step (queueing, batch
 * results, a domain-wide deferral, DNS lookups, whole sessions against a
 * small SMTP server in the test) every record whose state moved must be
 * on the list.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "connection.h"
#include "dlv_fixture.h"
#include "outcome.h"

/* What store/rstate.c publishes of one record (docs/REDIS.md). */
struct t_pub {
	const domain_record *dr;
	uint32_t active, delayed, defer_failures;
	unsigned nconn;
	int64_t next_due, backoff_until;
	enum dom_mx_state mx;
	bool suspended;
	char last_error[DOM_ERR_MAX];
	uint64_t ctr[5];
};

#define T_MAX 16
struct t_snap {
	struct t_pub v[T_MAX];
	unsigned n;
	unsigned moved; /* records that moved at the last check */
};

static void
t_take(const domain_record *dr, struct t_pub *p)
{
	memset(p, 0, sizeof(*p));
	p->dr = dr;
	p->active = dr->nactive;
	p->delayed = dr->delayed.count;
	p->defer_failures = dr->defer_failures;
	p->nconn = dr->nconn;
	p->next_due = dom_next_due(dr);
	p->backoff_until = dr->backoff_until_ms;
	p->mx = dr->mx_state;
	p->suspended = dr->suspended;
	memcpy(p->last_error, dr->last_error, sizeof(p->last_error));
	p->ctr[0] = dr->received;
	p->ctr[1] = dr->attempts;
	p->ctr[2] = dr->deliveries;
	p->ctr[3] = dr->transients;
	p->ctr[4] = dr->failures;
}

static void
t_snap_one(domain_record *dr, void *arg)
{
	struct t_snap *s = arg;

	assert_true(s->n < T_MAX);
	t_take(dr, &s->v[s->n++]);
}

/* Empty the dirty list (a round ran) and snapshot every record. */
static void
t_reset(struct dlv_fx *f, struct t_snap *s)
{
	while (dom_dirty_pop(&f->doms) != NULL)
		;
	s->n = 0;
	dom_foreach(&f->doms, t_snap_one, s);
}

static void
t_check_one(domain_record *dr, void *arg)
{
	struct t_snap *s = arg;
	struct t_pub now;

	t_take(dr, &now);
	for (unsigned i = 0; i < s->n; i++) {
		if (s->v[i].dr != dr)
			continue;
		if (memcmp(&s->v[i], &now, sizeof(now)) == 0)
			return;
		break; /* moved */
	}
	/* moved, or new since the snapshot: must be marked */
	if (dr->dirty_prev == NULL)
		fail_msg("%s changed but is not marked dirty", dr->name);
	s->moved++;
}

/* Every record that moved since t_reset() is dirty; returns how many
 * moved (so a step that should change something can say so). */
static unsigned
t_check(struct dlv_fx *f, struct t_snap *s)
{
	s->moved = 0;
	dom_foreach(&f->doms, t_check_one, s);
	return s->moved;
}

static void
t_msg(struct dlv_fx *f, const char *rcpts_csv, uint8_t id[SPOOL_ID_LEN])
{
	struct record_msg_rcpt rc[4];
	char buf[256], *save = NULL, *p;
	uint32_t n = 0;
	static const char body[] = "Subject: t\r\n\r\nbody\r\n";
	struct spool_env env = {
	    .sender = {(const uint8_t *)"s@src.test", 10},
	    .rcpt = rc,
	};

	snprintf(buf, sizeof(buf), "%s", rcpts_csv);
	memset(rc, 0, sizeof(rc));
	for (p = strtok_r(buf, ",", &save); p && n < 4;
	     p = strtok_r(NULL, ",", &save)) {
		rc[n].addr.p = (const uint8_t *)p;
		rc[n++].addr.len = strlen(p);
	}
	env.nrcpt = n;
	dlv_fx_spool(f, &env, body, sizeof(body) - 1, id);
	dlv_queue_msg(f->d, spool_find(f->sp, id));
}

static struct smtpc_result
t_res(enum smtpc_status st, int code, const char *text)
{
	struct smtpc_result r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	r.fail = st == SMTPC_R_DELIVERED ? SMTPC_FAIL_NONE : SMTPC_FAIL_REPLY;
	r.stage = st == SMTPC_R_DELIVERED ? SMTPC_STAGE_DOT : SMTPC_STAGE_RCPT;
	r.code = code;
	r.esc[0] = (unsigned)code / 100;
	snprintf(r.text, sizeof(r.text), "%s", text);
	return r;
}

static const char fx_conf[] = "[server]\n"
			      "hostname = mta.test\n"
			      "[dns]\n"
			      "servers = 127.0.0.1:9\n"
			      "timeout = 100ms\n"
			      "tries = 1\n"
			      "[delivery]\n"
			      "tls = none\n";

static int
fx_setup(void **state)
{
	return dlv_fx_setup(state, "test_dlv_dirty", fx_conf);
}

/* Queueing, batch results and a domain-wide deferral. */
static void
test_queue_results_defer(void **state)
{
	DLV_FX();
	struct t_snap s;
	uint8_t id[SPOOL_ID_LEN];
	domain_record *dr;
	struct dom_unit *u;
	struct dlv_batch b;
	struct outcome o;
	uint32_t fails;
	const struct smtpc_result r[3] = {
	    t_res(SMTPC_R_DELIVERED, 250, "ok"),
	    t_res(SMTPC_R_TEMPORARY, 451, "later"),
	    t_res(SMTPC_R_PERMANENT, 550, "no such user"),
	};

	t_reset(f, &s);
	t_msg(f, "a@r.test,b@r.test,c@r.test,d@q.test", id);
	assert_int_equal(t_check(f, &s), 2);
	/* the results of one transaction: counters and the delayed queue */
	dr = dom_find(&f->doms, "r.test");
	u = dom_active_pop_any(&f->doms, dr);
	assert_non_null(u);
	t_reset(f, &s);
	dlv_batch_init(&b, f->d, dr, u);
	for (unsigned i = 0; i < 3; i++)
		dlv_batch_rcpt(&b, i, &r[i], 1);
	dlv_batch_finish(&b);
	dlv_fx_drain(f, 5); /* marks, the DSN queued for src.test */
	assert_int_equal(dr->deliveries, 1);
	assert_int_equal(dr->transients, 1);
	assert_int_equal(dr->failures, 1);
	assert_true(t_check(f, &s) >= 1);
	/* each counter alone marks it too */
	for (unsigned i = 0; i < 3; i++) {
		t_msg(f, "e@r.test", id);
		u = dom_active_pop_any(&f->doms, dr);
		t_reset(f, &s);
		dlv_batch_init(&b, f->d, dr, u);
		dlv_batch_rcpt(&b, 0, &r[i], 0);
		dlv_batch_finish(&b);
		dlv_fx_drain(f, 5);
		assert_true(t_check(f, &s) >= 1);
	}
	/* a domain-wide deferral: failures in a row, back-off, queues */
	dr = dom_find(&f->doms, "q.test");
	t_reset(f, &s);
	fails = dr->defer_failures; /* its own lookups failed meanwhile */
	outcome_classify_dns(DNS_TEMPFAIL, &o);
	dlv_domain_fail(f->d, dr, &o, 0, "DNS: servfail");
	assert_int_equal(dr->defer_failures, fails + 1);
	assert_true(t_check(f, &s) >= 1);
}

/* A DNS lookup: resolving, then failed (nobody answers on port 9). */
static void
test_dns_lookup(void **state)
{
	DLV_FX();
	struct t_snap s;
	uint8_t id[SPOOL_ID_LEN];
	domain_record *dr;

	t_msg(f, "a@dns.test", id);
	dr = dom_find(&f->doms, "dns.test");
	t_reset(f, &s);
	dlv_resolve(f->d, dr);
	assert_int_equal(dr->mx_state, DOM_MX_RESOLVING);
	assert_int_equal(t_check(f, &s), 1);
	t_reset(f, &s);
	for (int i = 0; i < 200 && dr->mx_state == DOM_MX_RESOLVING; i++)
		ring_run_once(f->r, 5000000);
	assert_int_equal(dr->mx_state, DOM_MX_NONE);
	assert_true(dr->last_error[0] != '\0');
	assert_true(t_check(f, &s) >= 1);
}

/* ---- whole sessions against a small SMTP server -------------------- */

struct t_srv {
	int lfd, fd;
	char in[2048];
	size_t len;
	bool data, quit;
	const char *banner; /* "220 ..." or "421 ..." */
};

static void
t_srv_open(struct t_srv *sv, const char *banner)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};

	memset(sv, 0, sizeof(*sv));
	sv->fd = -1;
	sv->banner = banner;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(sv->lfd >= 0);
	assert_int_equal(bind(sv->lfd, (struct sockaddr *)&sin, sizeof(sin)),
			 0);
	assert_int_equal(listen(sv->lfd, 4), 0);
}

static uint16_t
t_srv_port(const struct t_srv *sv)
{
	struct sockaddr_in sin;
	socklen_t l = sizeof(sin);

	assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&sin, &l), 0);
	return ntohs(sin.sin_port);
}

static void
t_srv_say(struct t_srv *sv, const char *line)
{
	assert_int_equal(write(sv->fd, line, strlen(line)),
			 (ssize_t)strlen(line));
}

/* Answer one command line (or the end of DATA). */
static void
t_srv_line(struct t_srv *sv, const char *l)
{
	if (sv->data) {
		if (strcmp(l, ".") == 0) {
			sv->data = false;
			t_srv_say(sv, "250 queued\r\n");
		}
		return;
	}
	if (strncmp(l, "DATA", 4) == 0) {
		sv->data = true;
		t_srv_say(sv, "354 go\r\n");
	} else if (strncmp(l, "QUIT", 4) == 0) {
		t_srv_say(sv, "221 bye\r\n");
		sv->quit = true;
	} else {
		t_srv_say(sv, "250 ok\r\n");
	}
}

/* Accept, greet, answer what arrived; close after QUIT or a 421. */
static void
t_srv_poll(struct t_srv *sv)
{
	ssize_t n;
	char *eol;

	if (sv->fd < 0) {
		sv->fd = accept4(sv->lfd, NULL, NULL, SOCK_NONBLOCK);
		if (sv->fd < 0)
			return;
		t_srv_say(sv, sv->banner);
		if (sv->banner[0] == '4') {
			close(sv->fd);
			sv->fd = -2; /* done */
		}
		return;
	}
	n = read(sv->fd, sv->in + sv->len, sizeof(sv->in) - 1 - sv->len);
	if (n <= 0)
		return;
	sv->len += (size_t)n;
	sv->in[sv->len] = '\0';
	while ((eol = strstr(sv->in, "\r\n")) != NULL) {
		*eol = '\0';
		t_srv_line(sv, sv->in);
		sv->len -= (size_t)(eol + 2 - sv->in);
		memmove(sv->in, eol + 2, sv->len + 1);
	}
	if (sv->quit) {
		close(sv->fd);
		sv->fd = -2;
	}
}

static void
t_srv_close(struct t_srv *sv)
{
	if (sv->fd >= 0)
		close(sv->fd);
	close(sv->lfd);
}

/* dr's MX: 127.0.0.1:port, ready for an hour. */
static void
t_mx(domain_record *dr, uint16_t port, int64_t now_ms)
{
	struct dom_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;

	memset(&a, 0, sizeof(a));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.len = sizeof(*sin);
	snprintf(a.host, sizeof(a.host), "mx.%.64s", dr->name);
	snprintf(a.ip, sizeof(a.ip), "127.0.0.1");
	dom_mx_set(dr, &a, 1, now_ms + 3600 * 1000);
}

/*
 * One session for dr's queued unit against a server greeting with
 * banner: each step (opened, then everything until the unit is delivered
 * or the session ended) moves the record and marks it.
 */
static void
t_session(struct dlv_fx *f, const char *name, const char *banner)
{
	bool ok = banner[0] == '2';
	struct t_snap s;
	struct t_srv sv;
	struct timeval now;
	uint8_t id[SPOOL_ID_LEN];
	domain_record *dr;
	char rcpt[64];

	gettimeofday(&now, NULL);
	snprintf(rcpt, sizeof(rcpt), "x@%s", name);
	t_msg(f, rcpt, id);
	dr = dom_find(&f->doms, name);
	t_srv_open(&sv, banner);
	t_mx(dr, t_srv_port(&sv), (int64_t)now.tv_sec * 1000);
	t_reset(f, &s);
	assert_int_equal(
	    initiate_connection_smtp(dr, bnd_find(&f->bnds, "default"), &now),
	    0);
	assert_int_equal(dr->nconn, 1);
	assert_int_equal(t_check(f, &s), 1);
	t_reset(f, &s);
	for (int i = 0; i < 1000 && (ok ? dr->deliveries == 0 : dr->nconn > 0);
	     i++) {
		ring_run_once(f->r, 2000000);
		t_srv_poll(&sv);
	}
	assert_int_equal(dr->deliveries, ok ? 1 : 0);
	assert_int_equal(dr->nconn, ok ? 1 : 0); /* idle, or closed */
	assert_true(t_check(f, &s) >= 1);
	dlv_fx_drain(f, 5);
	t_srv_close(&sv);
}

static void
test_sessions(void **state)
{
	DLV_FX();
	domain_record *dr;

	t_session(f, "ok.test", "220 fake\r\n");
	dr = dom_find(&f->doms, "ok.test");
	assert_int_equal(dr->attempts, 1);
	assert_int_equal(dr->deliveries, 1);
	t_session(f, "busy.test", "421 busy\r\n");
	dr = dom_find(&f->doms, "busy.test");
	assert_int_equal(dr->deliveries, 0);
	assert_non_null(strstr(dr->last_error, "421 at greeting: busy"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_queue_results_defer, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dns_lookup, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_sessions, fx_setup,
					    dlv_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
