/* SPDX-License-Identifier: MIT */
/*
 * dns_fixture: the fixture shared by test_dns, test_dns_route and
 * test_dns_cache (see dns_fixture.c).  Needs <cmocka.h> before it.
 */
#ifndef DNS_FIXTURE_H
#define DNS_FIXTURE_H

#include "dns.h"
#include "dns_int.h"

/* The queries the fake backend was given and not yet answered. */
struct dfx_fake {
	struct dns_node *sent[512];
	size_t nsent;
};
extern struct dfx_fake dfx_fake;
extern const struct dns_backend dfx_be;

/* A resolver on the fake backend (o NULL: defaults, seed 42), the fake
 * emptied, the fake clock at 1 s.  Asserts on failure. */
struct dns *dfx_new(const struct dns_opts *o);
/* The pending node for (name, t) sent to the fake, or NULL. */
struct dns_node *dfx_find(const char *name, enum dns_qtype t);
/* How many queries for (name, t) the fake holds. */
size_t dfx_count(const char *name, enum dns_qtype t);
/* Complete the pending query (name, t) with a (moved) and run d. */
void dfx_answer(struct dns *d, const char *name, enum dns_qtype t,
		struct dns_answer *a);

/* Answers built by hand into a (overwritten). */
void dfx_ans_status(struct dns_answer *a, enum dns_astatus st,
		    enum dns_reason why);
/* spec: "10 mx1.x, 20 mx2.x" */
void dfx_ans_mx(struct dns_answer *a, uint32_t ttl, const char *spec);
/* spec: "1.2.3.4 5.6.7.8" or "::1" */
void dfx_ans_ip(struct dns_answer *a, uint32_t ttl, const char *spec);
/* Build such an answer and dfx_answer() it. */
void dfx_answer_mx(struct dns *d, const char *name, uint32_t ttl,
		   const char *spec);
void dfx_answer_ip(struct dns *d, const char *name, enum dns_qtype t,
		   uint32_t ttl, const char *spec);
void dfx_answer_st(struct dns *d, const char *name, enum dns_qtype t,
		   enum dns_astatus st, enum dns_reason why);

/* A request's result, captured by dfx_got_cb (arg: the struct). */
struct dfx_got {
	unsigned calls;
	struct dns_mx_result *res;
};
void dfx_got_cb(void *arg, struct dns_mx_result *res);
void dfx_got_free(struct dfx_got *g);
/* want: "mx1.x=1.2.3.4|::1;mx2.x=": the hosts in order, their addresses. */
void dfx_assert_hosts(const struct dns_mx_result *res, const char *want);

#endif
