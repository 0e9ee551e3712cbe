/* SPDX-License-Identifier: MIT */
/* fuzz_dns: c-ares answers through the raw walker, the parser and whole
 * fake-backend requests (never a crash, bounded results). */
/* Out-of-tree fuzz harness: c-ares answer -> dns_answer -> request result. */
#include <stdint.h>
#include <string.h>
#include "dns.h"
#include "dns_int.h"

static struct dns_node *fz_sent[64];
static size_t fz_n;
static void
fz_send(struct dns *d, struct dns_node *n)
{
	(void)d;
	if (fz_n < 64)
		fz_sent[fz_n++] = n;
}
static const struct dns_backend fz_be = {.send = fz_send};
static void
fz_cb(void *arg, struct dns_mx_result *res)
{
	(void)arg;
	size_t t = 0;
	for (size_t i = 0; i < res->nhosts; i++)
		t += res->hosts[i].naddrs;
	if (t != res->naddrs)
		__builtin_trap();
	dns_mx_result_free(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_wire_info wi;
	struct dns_answer a;
	struct dns_opts o;
	int err;

	if (size < 1)
		return 0;
	enum dns_qtype t = (enum dns_qtype)(data[0] % 3);
	if (dns_wire_scan(data + 1, size - 1, dns_qtype_wire(t), &wi) < 0)
		wi.matches =
		    0; /* malformed: only the no-crash property matters */
	dns_ares_parse(t, 0, data + 1, (int)(size - 1), 8, &a);
	dns_answer_fini(&a);
	/* full request: MX from the input, every host answered from the input
	 * too */
	dns_opts_init(&o);
	o.seed = 1;
	o.max_mx_hosts = 5;
	o.max_addresses = 7;
	fz_n = 0;
	struct dns *d = dns_alloc(NULL, &o, &fz_be, &err);
	char name[300];
	size_t nl = data[0] % 40;
	if (nl > size - 1)
		nl = size - 1;
	memcpy(name, data + 1, nl);
	name[nl] = 0;
	if (dns_resolve_mx(d, nl ? name : "fuzz.test", fz_cb, NULL, NULL) < 0)
		__builtin_trap();
	for (int round = 0; round < 4 && fz_n; round++) {
		size_t n = fz_n;
		struct dns_node *v[64];
		memcpy(v, fz_sent, n * sizeof(*v));
		fz_n = 0;
		for (size_t i = 0; i < n; i++) {
			dns_ares_parse(v[i]->type,
				       (int)((i + round) % 3 == 2
						 ? data[size - 1] % 25
						 : 0),
				       data + 1, (int)(size - 1), 8, &a);
			dns_node_complete(d, v[i], &a);
		}
		dns_run(d);
	}
	dns_free(d);
	return 0;
}
