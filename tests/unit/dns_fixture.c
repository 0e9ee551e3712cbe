/* SPDX-License-Identifier: MIT */
/*
 * dns_fixture: the fixture shared by test_dns, test_dns_route and
 * test_dns_cache.  Owns the fake backend (records the queries sent; a test
 * answers them by hand), answers built from short specs, and the capture
 * and check of results.  It drives no request and holds no test's state
 * but the fake's list of queries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_fixture.h"
struct dfx_fake dfx_fake;

static void
dfx_send(struct dns *d, struct dns_node *n)
{
	(void)d;
	assert_true(dfx_fake.nsent < nitems(dfx_fake.sent));
	dfx_fake.sent[dfx_fake.nsent++] = n;
}

const struct dns_backend dfx_be = {.send = dfx_send, .stop = NULL};

struct dns *
dfx_new(const struct dns_opts *o)
{
	struct dns_opts def;
	int err = 1;
	struct dns *d;

	if (o == NULL) {
		dns_opts_init(&def);
		def.seed = 42;
		o = &def;
	}
	memset(&dfx_fake, 0, sizeof(dfx_fake));
	d = dns_alloc(NULL, o, &dfx_be, &err);
	assert_non_null(d);
	assert_int_equal(err, 0);
	d->fake_now = 1000000000;
	return d;
}

/* The pending node for (name, t), or NULL. */
struct dns_node *
dfx_find(const char *name, enum dns_qtype t)
{
	for (size_t i = 0; i < dfx_fake.nsent; i++) {
		struct dns_node *n = dfx_fake.sent[i];

		if (n && n->type == t && !strcmp(n->name, name) &&
		    n->state == DNS_N_PENDING)
			return n;
	}
	return NULL;
}

size_t
dfx_count(const char *name, enum dns_qtype t)
{
	size_t c = 0;

	for (size_t i = 0; i < dfx_fake.nsent; i++)
		if (dfx_fake.sent[i]->type == t &&
		    !strcmp(dfx_fake.sent[i]->name, name))
			c++;
	return c;
}

void
dfx_answer(struct dns *d, const char *name, enum dns_qtype t,
	   struct dns_answer *a)
{
	struct dns_node *n = dfx_find(name, t);

	if (n == NULL)
		fail_msg("no pending query %s/%s", name, dns_qtype_str(t));
	for (size_t i = 0; i < dfx_fake.nsent; i++)
		if (dfx_fake.sent[i] == n)
			dfx_fake.sent[i] = dfx_fake.sent[--dfx_fake.nsent];
	dns_node_complete(d, n, a);
	dns_run(d);
}

void
dfx_ans_status(struct dns_answer *a, enum dns_astatus st, enum dns_reason why)
{
	memset(a, 0, sizeof(*a));
	a->st = st;
	a->reason = why;
}

/* "10 mx1.x, 20 mx2.x" */
void
dfx_ans_mx(struct dns_answer *a, uint32_t ttl, const char *spec)
{
	uint16_t prefs[128];
	const char *targets[128];
	char buf[4096], *save = NULL;
	size_t n = 0;

	memset(a, 0, sizeof(*a));
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned pref;
		char *sp;

		while (*tok == ' ')
			tok++;
		pref = (unsigned)strtoul(tok, &sp, 10);
		while (*sp == ' ')
			sp++;
		prefs[n] = (uint16_t)pref;
		targets[n++] = sp;
	}
	dns_answer_set_mx(a, prefs, targets, n);
	a->ttl = ttl;
}

/* "1.2.3.4 5.6.7.8" or "::1" */
void
dfx_ans_ip(struct dns_answer *a, uint32_t ttl, const char *spec)
{
	char buf[1024], *save = NULL;

	memset(a, 0, sizeof(*a));
	a->st = DNS_A_OK;
	a->ttl = ttl;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		uint8_t addr[16];
		int fam = strchr(tok, ':') ? AF_INET6 : AF_INET;

		assert_int_equal(inet_pton(fam, tok, addr), 1);
		dns_answer_add_ip(a, fam, addr);
	}
}

void
dfx_answer_mx(struct dns *d, const char *name, uint32_t ttl, const char *spec)
{
	struct dns_answer a;

	dfx_ans_mx(&a, ttl, spec);
	dfx_answer(d, name, DNS_QT_MX, &a);
}

void
dfx_answer_ip(struct dns *d, const char *name, enum dns_qtype t, uint32_t ttl,
	      const char *spec)
{
	struct dns_answer a;

	dfx_ans_ip(&a, ttl, spec);
	dfx_answer(d, name, t, &a);
}

void
dfx_answer_st(struct dns *d, const char *name, enum dns_qtype t,
	      enum dns_astatus st, enum dns_reason why)
{
	struct dns_answer a;

	dfx_ans_status(&a, st, why);
	dfx_answer(d, name, t, &a);
}

void
dfx_got_cb(void *arg, struct dns_mx_result *res)
{
	struct dfx_got *g = arg;

	g->calls++;
	dns_mx_result_free(g->res);
	g->res = res;
}

void
dfx_got_free(struct dfx_got *g)
{
	dns_mx_result_free(g->res);
	g->res = NULL;
}

static const char *
dfx_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
			  buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
			  (socklen_t)len);
	return buf;
}

/* "mx1.x=1.2.3.4|::1;mx2.x=" : hosts in order, their address sets. */
void
dfx_assert_hosts(const struct dns_mx_result *res, const char *want)
{
	char buf[2048];
	size_t off = 0;

	for (size_t i = 0; i < res->nhosts; i++) {
		const struct dns_host *h = &res->hosts[i];

		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"%s%s=", i ? ";" : "", h->name);
		for (size_t j = 0; j < h->naddrs; j++) {
			char a[INET6_ADDRSTRLEN];

			off += (size_t)snprintf(
			    buf + off, sizeof(buf) - off, "%s%s", j ? "|" : "",
			    dfx_addr_str(&h->addrs[j], a, sizeof(a)));
		}
	}
	buf[MIN(off, sizeof(buf) - 1)] = '\0';
	assert_string_equal(buf, want);
}
