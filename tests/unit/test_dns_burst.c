/* SPDX-License-Identifier: MIT */
/*
 * test_dns_burst: thousands of lookups at once on a real ring with real
 * c-ares, against a responder on 127.0.0.1 served from the test's own loop
 * (no thread).  Every lookup completes, no more than max_inflight queries
 * are ever out, the waiting ones start in FIFO order, and the CPU time
 * grows linearly with the burst (W5: ares_timeout() per send was O(n^2)).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "ring.h"

/* The responder: answers each A query with 10.0.0.1, TTL 60. */
static int resp_fd = -1;
static struct value_sockaddr resp_addr;

static void
resp_open(void)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&resp_addr.ss;
	socklen_t len = sizeof(*sin);
	int big = 4 << 20;

	memset(&resp_addr, 0, sizeof(resp_addr));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	resp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(resp_fd >= 0);
	(void)setsockopt(resp_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	assert_int_equal(bind(resp_fd, (struct sockaddr *)sin, len), 0);
	assert_int_equal(getsockname(resp_fd, (struct sockaddr *)sin, &len), 0);
	resp_addr.len = len;
}

/* Turn the query buf[n] into its answer in place; returns the length. */
static size_t
resp_reply(uint8_t *buf, size_t n)
{
	static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0,  1, 0, 0,
				     0,    60,   0, 4, 10, 0, 0, 1};
	size_t q = 12;

	while (q < n && buf[q] != 0)
		q += (size_t)buf[q] + 1;
	q += 5; /* root label, QTYPE, QCLASS */
	if (n < 17 || q > n)
		return 0;
	buf[2] = 0x81; /* QR, RD */
	buf[3] = 0x80; /* RA, NOERROR */
	buf[7] = 1;    /* ANCOUNT */
	memcpy(buf + q, rr, sizeof(rr));
	return q + sizeof(rr);
}

/* Answer every query waiting on the socket; returns how many. */
static unsigned
resp_serve(void)
{
	uint8_t buf[600];
	struct sockaddr_storage from;
	socklen_t flen;
	unsigned served = 0;
	ssize_t n;
	size_t m;

	for (;;) {
		flen = sizeof(from);
		n = recvfrom(resp_fd, buf, 512, MSG_DONTWAIT,
			     (struct sockaddr *)&from, &flen);
		if (n < 0)
			return served;
		served++;
		m = resp_reply(buf, (size_t)n);
		if (m > 0)
			(void)sendto(resp_fd, buf, m, 0,
				     (struct sockaddr *)&from, flen);
	}
}

/* The lookups of one burst. */
struct burst {
	unsigned done, ok, cancelled;
	unsigned order_errors; /* completions out of request order */
	unsigned next;         /* the index expected next (FIFO check) */
	uint64_t peak_sent;    /* most queries out, seen between turns */
};
struct ticket {
	struct burst *b;
	unsigned idx;
};

static void
on_host(void *arg, struct dns_mx_result *res)
{
	struct ticket *t = arg;
	struct burst *b = t->b;

	b->done++;
	if (res->status == DNS_OK)
		b->ok++;
	if (res->status == DNS_CANCELLED)
		b->cancelled++;
	if (t->idx != b->next)
		b->order_errors++;
	b->next = t->idx + 1;
	dns_mx_result_free(res);
}

struct fx {
	struct ring *r;
	struct dns *d;
	struct ticket *tk;
	struct burst b;
};

static void
fx_start(struct fx *f, unsigned max_inflight, unsigned n)
{
	struct dns_opts o;
	int err = 0;

	memset(f, 0, sizeof(*f));
	f->r = ring_new(NULL, &err);
	assert_non_null(f->r);
	dns_opts_init(&o);
	o.servers = &resp_addr;
	o.nservers = 1;
	o.timeout_ms = 1000;
	o.tries = 3;
	o.cache_size = 0; /* every lookup is a query */
	o.family = DNS_FAM_IPV4;
	o.max_inflight = max_inflight;
	f->d = dns_new(f->r, &o, &err);
	assert_non_null(f->d);
	f->tk = calloc(n, sizeof(*f->tk));
	assert_non_null(f->tk);
}

static void
fx_stop(struct fx *f)
{
	dns_free(f->d);
	ring_shutdown(f->r, 1000);
	ring_free(f->r);
	free(f->tk);
}

/* Ask for n distinct names at once. */
static void
fx_ask(struct fx *f, unsigned n)
{
	char name[64];

	for (unsigned i = 0; i < n; i++) {
		f->tk[i].b = &f->b;
		f->tk[i].idx = i;
		snprintf(name, sizeof(name), "h%u.burst.test", i);
		assert_int_equal(
		    dns_resolve_host(f->d, name, 25, on_host, &f->tk[i], NULL),
		    0);
	}
}

/* Run the ring and the responder until n lookups are done (or 60 s). */
static void
fx_run(struct fx *f, unsigned n)
{
	for (int i = 0; i < 60000 && f->b.done < n; i++) {
		const struct dns_stats *st = dns_stats(f->d);

		(void)resp_serve();
		assert_true(ring_run_once(f->r, 1000000LL) >= 0);
		if (st->inflight - st->waiting > f->b.peak_sent)
			f->b.peak_sent = st->inflight - st->waiting;
	}
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A burst of n lookups under cap; returns the CPU time it took. */
static double
burst(unsigned cap, unsigned n)
{
	const struct dns_stats *st;
	double t0 = cpu_now();
	struct fx f;

	fx_start(&f, cap, n);
	st = dns_stats(f.d);
	fx_ask(&f, n);
	assert_int_equal(st->inflight, n);
	assert_int_equal(st->waiting, n > cap ? n - cap : 0);
	fx_run(&f, n);
	assert_int_equal(f.b.done, n);
	assert_int_equal(f.b.ok, n);
	assert_int_equal(st->queries, n);
	assert_int_equal(st->inflight, 0);
	assert_int_equal(st->waiting, 0);
	assert_true(st->sent_peak <= cap);
	assert_true(f.b.peak_sent <= cap);
	if (n > cap)
		assert_int_equal(st->sent_peak, cap);
	fx_stop(&f);
	return cpu_now() - t0;
}

static void
test_burst_linear(void **state)
{
	double small, large;

	(void)state;
	(void)burst(64, 500); /* warm up (allocator, ASan shadow) */
	small = burst(256, 2000);
	large = burst(256, 20000);
	print_message("burst cpu: 2000 lookups %.3fs, 20000 lookups %.3fs\n",
		      small, large);
	/* Quadratic would be ~100x; linear ~10x. */
	assert_true(large < 20 * small);
}

static void
test_fifo_order(void **state)
{
	struct fx f;

	(void)state;
	/* One query at a time: answers come back in request order. */
	fx_start(&f, 1, 50);
	fx_ask(&f, 50);
	assert_int_equal(dns_stats(f.d)->waiting, 49);
	fx_run(&f, 50);
	assert_int_equal(f.b.done, 50);
	assert_int_equal(f.b.ok, 50);
	assert_int_equal(f.b.order_errors, 0);
	assert_int_equal(dns_stats(f.d)->sent_peak, 1);
	fx_stop(&f);
}

static void
test_coalesce_waiting(void **state)
{
	struct ticket t[3];
	struct fx f;

	(void)state;
	/* A name asked twice while its query waits: one query. */
	fx_start(&f, 1, 1);
	for (unsigned i = 0; i < 3; i++) {
		t[i].b = &f.b;
		t[i].idx = i;
	}
	assert_int_equal(
	    dns_resolve_host(f.d, "a.burst.test", 25, on_host, &t[0], NULL), 0);
	assert_int_equal(
	    dns_resolve_host(f.d, "b.burst.test", 25, on_host, &t[1], NULL), 0);
	assert_int_equal(
	    dns_resolve_host(f.d, "b.burst.test", 25, on_host, &t[2], NULL), 0);
	assert_int_equal(dns_stats(f.d)->queries, 2);
	assert_int_equal(dns_stats(f.d)->coalesced, 1);
	assert_int_equal(dns_stats(f.d)->waiting, 1);
	fx_run(&f, 3);
	assert_int_equal(f.b.ok, 3);
	fx_stop(&f);
}

static void
test_free_with_waiting(void **state)
{
	struct fx f;

	(void)state;
	/* dns_free() with queries out and queries waiting: every callback
	 * runs once, cancelled; nothing leaks (ASan). */
	fx_start(&f, 4, 100);
	fx_ask(&f, 100);
	assert_int_equal(dns_stats(f.d)->waiting, 96);
	fx_stop(&f);
	assert_int_equal(f.b.done, 100);
	assert_int_equal(f.b.cancelled, 100);
	(void)resp_serve(); /* drop what reached the responder */
}

static void
test_bad_max_inflight(void **state)
{
	struct dns_opts o;
	struct ring *r;
	struct dns *d;
	int err = 0;

	(void)state;
	r = ring_new(NULL, &err);
	assert_non_null(r);
	dns_opts_init(&o);
	o.servers = &resp_addr;
	o.nservers = 1;
	o.max_inflight = DNS_MAX_INFLIGHT_MAX + 1;
	assert_null(dns_new(r, &o, &err));
	assert_int_equal(err, -EINVAL);
	o.max_inflight = DNS_MAX_INFLIGHT_MAX;
	d = dns_new(r, &o, &err);
	assert_non_null(d);
	dns_free(d);
	ring_shutdown(r, 1000);
	ring_free(r);
}

static int
setup(void **state)
{
	(void)state;
	resp_open();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	close(resp_fd);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fifo_order),
	    cmocka_unit_test(test_coalesce_waiting),
	    cmocka_unit_test(test_free_with_waiting),
	    cmocka_unit_test(test_bad_max_inflight),
	    cmocka_unit_test(test_burst_linear),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
