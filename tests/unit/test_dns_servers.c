/* SPDX-License-Identifier: MIT */
/*
 * test_dns_servers: dns_set_servers() and dns_reconfigure() on a real
 * ring with real c-ares, against tiny DNS responders on loopback (threads
 * answering every A query with their own address after a delay, or with
 * an error RCODE, or never).  A query in flight when the servers change
 * finishes on the old server; the next query goes to the new one; bad
 * servers are refused and the old ones kept.  A new timeout or tries
 * applies to new queries while one in flight keeps the old ones; a smaller
 * cache evicts; bad options change nothing.  SERVFAIL and REFUSED replies
 * give their own reasons (c-ares 1.18 says ECONNREFUSED for both), over
 * UDP and TCP, and the reason is that of a query's last answer.
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
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "ring.h"

/* A responder: answers every query with one A record `addr`. */
struct resp {
	int fd;
	int tfd; /* tcp: the TCP listener on the same port, else -1 */
	uint16_t port;
	uint8_t addr[4];
	unsigned delay_ms;
	uint8_t rcode; /* != 0: answer with this RCODE and no record */
	bool drop;     /* never answer */
	bool tcp;      /* UDP answers are truncated (TC): the real one is TCP */
	unsigned asked; /* queries received (before answering) */
	volatile bool stop;
	pthread_t th;
};

/* Build the answer to query q[n] into out; returns its length or 0.  tc:
 * an empty truncated answer (RCODE 0, TC set). */
static size_t
resp_answer(const struct resp *r, const uint8_t *q, size_t n, uint8_t *out,
	    bool tc)
{
	static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
	uint8_t rcode = tc ? 0 : r->rcode;
	size_t end = 12;

	if (n < 17 || n > 400)
		return 0;
	while (end < n && q[end] != 0) /* the question's name */
		end += (size_t)q[end] + 1;
	end += 5; /* root label, type, class */
	if (end > n)
		return 0;
	memcpy(out, q, end);
	out[2] = tc ? 0x83 : 0x81; /* QR, (TC,) RD */
	out[3] = 0x80 | rcode;     /* RA */
	out[6] = 0;
	out[7] = rcode || tc ? 0 : 1; /* one answer unless an error */
	memset(out + 8, 0, 4);
	if (rcode || tc)
		return end;
	memcpy(out + end, rr, sizeof(rr));
	memcpy(out + end + sizeof(rr), r->addr, 4);
	return end + sizeof(rr) + 4;
}

/* One TCP connection: answer its length-prefixed queries until EOF. */
static void
resp_tcp(struct resp *r, int cfd)
{
	struct timeval tv = {.tv_sec = 1};
	uint8_t q[512], a[600];
	size_t m;

	(void)setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!r->stop) {
		size_t len;

		if (recv(cfd, q, 2, MSG_WAITALL) != 2)
			break;
		len = (size_t)q[0] << 8 | q[1];
		if (len > sizeof(q) ||
		    recv(cfd, q, len, MSG_WAITALL) != (ssize_t)len)
			break;
		__atomic_add_fetch(&r->asked, 1, __ATOMIC_SEQ_CST);
		m = resp_answer(r, q, len, a + 2, false);
		a[0] = (uint8_t)(m >> 8);
		a[1] = (uint8_t)m;
		if (m == 0 || write(cfd, a, m + 2) != (ssize_t)(m + 2))
			break;
	}
	close(cfd);
}

static void *
resp_main(void *arg)
{
	struct resp *r = arg;
	uint8_t q[512], a[600];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t n;
	size_t m;

	while (!r->stop) {
		struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN},
				      {.fd = r->tfd, .events = POLLIN}};

		if (poll(p, 2, 50) <= 0)
			continue;
		if (p[1].revents & POLLIN) {
			int cfd = accept(r->tfd, NULL, NULL);

			if (cfd >= 0)
				resp_tcp(r, cfd);
			continue;
		}
		flen = sizeof(from);
		n = recvfrom(r->fd, q, sizeof(q), 0, (struct sockaddr *)&from,
			     &flen);
		if (n <= 0)
			continue;
		__atomic_add_fetch(&r->asked, 1, __ATOMIC_SEQ_CST);
		if (r->delay_ms)
			usleep(r->delay_ms * 1000);
		m = r->drop ? 0 : resp_answer(r, q, (size_t)n, a, r->tcp);
		if (m > 0)
			(void)sendto(r->fd, a, m, 0, (struct sockaddr *)&from,
				     flen);
	}
	return NULL;
}

/* Bind fd (of type) to 127.0.0.1:port (0: any); the port, or 0. */
static uint16_t
resp_bind(int fd, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		return 0;
	return ntohs(sin.sin_port);
}

/* Start a responder; tcp: also on TCP, the same port (UDP truncates). */
static void
resp_open(struct resp *r, uint8_t last, unsigned delay_ms, bool tcp)
{
	memset(r, 0, sizeof(*r));
	r->addr[0] = 10;
	r->addr[3] = last;
	r->delay_ms = delay_ms;
	r->tcp = tcp;
	r->tfd = -1;
	for (int i = 0; i < 20; i++) { /* a port free for UDP and TCP */
		r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		assert_true(r->fd >= 0);
		r->port = resp_bind(r->fd, 0);
		assert_true(r->port != 0);
		if (!tcp)
			break;
		r->tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(r->tfd >= 0);
		if (resp_bind(r->tfd, r->port) == r->port &&
		    listen(r->tfd, 4) == 0)
			break;
		close(r->tfd);
		close(r->fd);
		r->tfd = -1;
	}
	assert_true(!tcp || r->tfd >= 0);
	assert_int_equal(pthread_create(&r->th, NULL, resp_main, r), 0);
}

static void
resp_start(struct resp *r, uint8_t last, unsigned delay_ms)
{
	resp_open(r, last, delay_ms, false);
}

static void
resp_stop(struct resp *r)
{
	r->stop = true;
	pthread_join(r->th, NULL);
	close(r->fd);
	if (r->tfd >= 0)
		close(r->tfd);
}

static void
server_of(const struct resp *r, struct value_sockaddr *v)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&v->ss;

	memset(v, 0, sizeof(*v));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(r->port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	v->len = sizeof(*sin);
}

/* One lookup's outcome. */
struct got {
	bool done;
	enum dns_status status;
	enum dns_reason reason;
	uint8_t last; /* last byte of the first address */
};

static void
on_host(void *arg, struct dns_mx_result *res)
{
	struct got *g = arg;

	g->done = true;
	g->status = res->status;
	g->reason = res->reason;
	if (res->status == DNS_OK && res->hosts[0].naddrs > 0) {
		const struct sockaddr_in *sin =
		    (const void *)&res->hosts[0].addrs[0];

		g->last = ((const uint8_t *)&sin->sin_addr)[3];
	}
	dns_mx_result_free(res);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the ring until *flag or ms of wall time have passed. */
static void
run_until(struct ring *r, const bool *flag, int ms)
{
	int64_t end = mono_ms() + ms;

	while (!*flag && mono_ms() < end)
		assert_true(ring_run_once(r, 10 * 1000000LL) >= 0);
}

/* A ring and a resolver on it, asking srv[n]. */
struct fx {
	struct ring *r;
	struct dns *d;
	struct dns_opts o; /* as given to dns_new */
};

static void
fx_start(struct fx *f, const struct value_sockaddr *srv, size_t n)
{
	struct dns_opts *o = &f->o;
	int err = 0;

	f->r = ring_new(NULL, &err);
	assert_non_null(f->r);
	dns_opts_init(o);
	o->servers = srv;
	o->nservers = n;
	o->timeout_ms = 2000;
	o->tries = 1;
	o->cache_size = 0; /* every lookup is a query */
	o->family = DNS_FAM_IPV4;
	f->d = dns_new(f->r, o, &err);
	assert_non_null(f->d);
}

static void
fx_stop(struct fx *f)
{
	dns_free(f->d);
	ring_shutdown(f->r, 1000);
	ring_free(f->r);
}

/* Start a lookup of name into *g. */
static void
ask(struct fx *f, const char *name, struct got *g)
{
	memset(g, 0, sizeof(*g));
	assert_int_equal(dns_resolve_host(f->d, name, 25, on_host, g, NULL), 0);
}

/* Look name up and wait: the last byte of its first address. */
static uint8_t
ask_wait(struct fx *f, const char *name)
{
	struct got g;

	ask(f, name, &g);
	run_until(f->r, &g.done, 2000);
	assert_true(g.done);
	assert_int_equal(g.status, DNS_OK);
	return g.last;
}

/* Static: a failed test must not leave a thread on a dead stack. */
static struct resp a, b;

static unsigned
asked(const struct resp *r)
{
	return __atomic_load_n(&r->asked, __ATOMIC_SEQ_CST);
}

static void
test_switch_in_flight(void **state)
{
	struct value_sockaddr sa, sb;
	struct got g1;
	struct fx f;

	(void)state;
	resp_start(&a, 1, 300); /* slow: still in flight at the switch */
	resp_start(&b, 2, 0);
	server_of(&a, &sa);
	server_of(&b, &sb);
	fx_start(&f, &sa, 1);
	ask(&f, "one.test", &g1);
	for (int i = 0; i < 10; i++) /* let the query leave for a */
		ring_run_once(f.r, 5 * 1000000LL);
	assert_false(g1.done);
	assert_int_equal(dns_set_servers(f.d, &sb, 1), 0);
	assert_int_equal(ask_wait(&f, "two.test"), 2); /* the new server */
	run_until(f.r, &g1.done, 2000);
	assert_true(g1.done);
	assert_int_equal(g1.status, DNS_OK);
	assert_int_equal(g1.last, 1); /* finished on the old server */
	/* a later query goes to the new one only */
	assert_int_equal(ask_wait(&f, "three.test"), 2);
	assert_int_equal(asked(&a), 1);
	assert_int_equal(asked(&b), 2);
	fx_stop(&f);
	resp_stop(&a);
	resp_stop(&b);
}

static void
test_bad_servers_kept(void **state)
{
	struct value_sockaddr sa, bad;
	struct sockaddr_un *sun = (struct sockaddr_un *)&bad.ss;
	struct fx f;

	(void)state;
	resp_start(&a, 7, 0);
	server_of(&a, &sa);
	fx_start(&f, &sa, 1);
	memset(&bad, 0, sizeof(bad));
	sun->sun_family = AF_UNIX;
	bad.len = sizeof(*sun);
	assert_int_equal(dns_set_servers(f.d, &bad, 1), -EINVAL);
	assert_int_equal(ask_wait(&f, "x.test"), 7); /* the old server */
	/* a switch with nothing in flight */
	assert_int_equal(dns_set_servers(f.d, &sa, 1), 0);
	assert_int_equal(ask_wait(&f, "y.test"), 7);
	assert_int_equal(asked(&a), 2);
	fx_stop(&f);
	resp_stop(&a);
}

/* A new timeout and tries apply to new queries; the one in flight keeps
 * the old ones (it drains on the old channel). */
static void
test_timeout_tries(void **state)
{
	struct value_sockaddr sa;
	struct got g1, g2, g3;
	int64_t t0, t1;
	unsigned n0;
	struct fx f;

	(void)state;
	resp_start(&a, 1, 0);
	a.drop = true; /* every query times out */
	server_of(&a, &sa);
	fx_start(&f, &sa, 1); /* timeout 2 s, 1 try */
	t0 = mono_ms();
	ask(&f, "old.test", &g1);
	for (int i = 0; i < 10; i++)
		ring_run_once(f.r, 5 * 1000000LL);
	f.o.timeout_ms = 200;
	assert_int_equal(dns_reconfigure(f.d, &f.o), 0);
	t1 = mono_ms();
	ask(&f, "new.test", &g2);
	run_until(f.r, &g2.done, 1500);
	assert_true(g2.done);
	assert_int_equal(g2.status, DNS_TEMPFAIL);
	assert_int_equal(g2.reason, DNS_R_TIMEOUT);
	assert_in_range(mono_ms() - t1, 150, 1000); /* the new 200 ms */
	assert_false(g1.done);                      /* still on 2 s */
	run_until(f.r, &g1.done, 3000);
	assert_true(g1.done);
	assert_int_equal(g1.reason, DNS_R_TIMEOUT);
	assert_true(mono_ms() - t0 >= 1800);
	/* 3 tries of 100 ms (c-ares doubles: 100 + 200 + 400) */
	f.o.timeout_ms = 100;
	f.o.tries = 3;
	assert_int_equal(dns_reconfigure(f.d, &f.o), 0);
	n0 = asked(&a);
	ask(&f, "three.test", &g3);
	run_until(f.r, &g3.done, 3000);
	assert_true(g3.done);
	assert_int_equal(g3.reason, DNS_R_TIMEOUT);
	assert_int_equal(asked(&a) - n0, 3);
	fx_stop(&f);
	resp_stop(&a);
}

/* Cache limits apply at once; bad options change nothing. */
static void
test_cache_and_bad_opts(void **state)
{
	struct value_sockaddr sa;
	const struct dns_stats *st;
	struct dns_opts bad;
	struct fx f;

	(void)state;
	resp_start(&a, 9, 0);
	server_of(&a, &sa);
	fx_start(&f, &sa, 1);
	f.o.cache_size = 100;
	assert_int_equal(dns_reconfigure(f.d, &f.o), 0);
	assert_int_equal(ask_wait(&f, "c1.test"), 9);
	assert_int_equal(ask_wait(&f, "c2.test"), 9);
	assert_int_equal(ask_wait(&f, "c3.test"), 9);
	st = dns_stats(f.d);
	assert_int_equal(st->entries, 3);
	f.o.cache_size = 1; /* keeps the newest */
	assert_int_equal(dns_reconfigure(f.d, &f.o), 0);
	assert_int_equal(st->entries, 1);
	assert_int_equal(st->evictions, 2);
	assert_int_equal(ask_wait(&f, "c3.test"), 9);
	assert_int_equal(asked(&a), 3); /* c3 from the cache */
	assert_int_equal(st->hits, 1);
	/* unchanged options: nothing happens, still 0 */
	assert_int_equal(dns_reconfigure(f.d, &f.o), 0);
	assert_int_equal(st->entries, 1);
	/* refused: every value kept */
	bad = f.o;
	bad.tries = 0;
	assert_int_equal(dns_reconfigure(f.d, &bad), -EINVAL);
	bad = f.o;
	bad.cache_size = 0;
	bad.min_ttl_ms = bad.max_ttl_ms + 1;
	assert_int_equal(dns_reconfigure(f.d, &bad), -EINVAL);
	bad = f.o;
	bad.max_inflight = DNS_MAX_INFLIGHT_MAX + 1;
	assert_int_equal(dns_reconfigure(f.d, &bad), -EINVAL);
	assert_int_equal(st->entries, 1);
	assert_int_equal(ask_wait(&f, "c3.test"), 9);
	assert_int_equal(asked(&a), 3);
	fx_stop(&f);
	resp_stop(&a);
}

/* SERVFAIL and REFUSED replies keep their reasons; a closed port is
 * refused (nothing answered). */
static void
test_error_reasons(void **state)
{
	static const struct {
		uint8_t rcode;
		unsigned tries;
		enum dns_reason want;
	} cases[] = {
	    {2, 1, DNS_R_SERVFAIL}, {2, 2, DNS_R_SERVFAIL},
	    {5, 1, DNS_R_REFUSED},  {4, 1, DNS_R_REFUSED},
	    {0, 1, DNS_R_REFUSED}, /* closed port */
	};
	struct value_sockaddr sa;
	struct got g;
	struct fx f;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		resp_start(&a, 1, 0);
		a.rcode = cases[i].rcode;
		server_of(&a, &sa);
		if (cases[i].rcode == 0) { /* nothing listens there */
			resp_stop(&a);
			a.fd = -1;
		}
		fx_start(&f, &sa, 1);
		f.o.tries = cases[i].tries;
		f.o.timeout_ms = 500;
		assert_int_equal(dns_reconfigure(f.d, &f.o), 0);
		ask(&f, "err.test", &g);
		run_until(f.r, &g.done, 3000);
		assert_true(g.done);
		assert_int_equal(g.status, DNS_TEMPFAIL);
		if (g.reason != cases[i].want)
			fail_msg("case %zu: reason %s, want %s", i,
				 dns_reason_str(g.reason),
				 dns_reason_str(cases[i].want));
		fx_stop(&f);
		if (cases[i].rcode != 0)
			resp_stop(&a);
	}
}

/* Look "err.test" up on srv[n] (1 try): the reason of its tempfail. */
static enum dns_reason
ask_reason(const struct value_sockaddr *srv, size_t n)
{
	struct got g;
	struct fx f;

	fx_start(&f, srv, n);
	ask(&f, "err.test", &g);
	run_until(f.r, &g.done, 3000);
	fx_stop(&f);
	assert_true(g.done);
	assert_int_equal(g.status, DNS_TEMPFAIL);
	return g.reason;
}

/*
 * The reason follows each query's last answer, over UDP and TCP: a
 * SERVFAIL that came over TCP (after a truncated UDP answer) is servfail;
 * a SERVFAIL followed by a closed port on the next server is refused, the
 * other way round servfail.
 */
static void
test_last_answer_reasons(void **state)
{
	static const struct {
		bool tcp;         /* a answers over TCP */
		bool closed_last; /* b (closed) after a, else before */
		bool with_b;
		enum dns_reason want;
	} cases[] = {
	    {true, false, false, DNS_R_SERVFAIL},
	    {false, true, true, DNS_R_REFUSED},
	    {false, false, true, DNS_R_SERVFAIL},
	    {true, true, true, DNS_R_REFUSED},
	};
	struct value_sockaddr sv[2];
	enum dns_reason got;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		size_t ia = cases[i].closed_last ? 0 : 1;

		resp_start(&b, 2, 0);
		server_of(&b, &sv[1 - ia]);
		resp_stop(&b); /* nothing listens there now */
		resp_open(&a, 1, 0, cases[i].tcp);
		a.rcode = 2;
		server_of(&a, &sv[cases[i].with_b ? ia : 0]);
		got = ask_reason(sv, cases[i].with_b ? 2 : 1);
		if (got != cases[i].want)
			fail_msg("case %zu: reason %s, want %s", i,
				 dns_reason_str(got),
				 dns_reason_str(cases[i].want));
		assert_int_equal(asked(&a), cases[i].tcp ? 2 : 1);
		resp_stop(&a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_switch_in_flight),
	    cmocka_unit_test(test_bad_servers_kept),
	    cmocka_unit_test(test_timeout_tries),
	    cmocka_unit_test(test_cache_and_bad_opts),
	    cmocka_unit_test(test_error_reasons),
	    cmocka_unit_test(test_last_answer_reasons),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
