/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dns_rcode: any bytes as a UDP reply read for c-ares, shown to
 * dns_note_reply() while lookups of example.test (MX) and
 * mx1.example.test (A, AAAA) are pending.  Never a crash or a read past
 * the input; a marked lookup carries one of the three error RCODEs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_int.h"

static void
fz_send(struct dns *d, struct dns_node *n)
{
	(void)d;
	(void)n; /* never answered: the lookups stay pending */
}

static const struct dns_backend fz_be = {.send = fz_send};

static void
fz_cb(void *arg, struct dns_mx_result *res)
{
	(void)arg;
	dns_mx_result_free(res);
}

static struct dns *
fz_dns(void)
{
	static struct dns *d;
	struct dns_opts o;
	int err = 0;

	if (d != NULL)
		return d;
	dns_opts_init(&o);
	o.seed = 1;
	d = dns_alloc(NULL, &o, &fz_be, &err);
	if (d == NULL ||
	    dns_resolve_mx(d, "example.test", fz_cb, NULL, NULL) != 0 ||
	    dns_resolve_host(d, "mx1.example.test", 25, fz_cb, NULL, NULL) != 0)
		__builtin_trap();
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const char *name;
		enum dns_qtype t;
	} pend[] = {{"example.test", DNS_QT_MX},
		    {"mx1.example.test", DNS_QT_A},
		    {"mx1.example.test", DNS_QT_AAAA}};
	struct dns *d = fz_dns();
	/* an exact-size copy: ASan sees any read past the reply */
	uint8_t *p = xmalloc(size ? size : 1);
	int marked;

	memcpy(p, data, size);
	for (size_t i = 0; i < 3; i++)
		dns_node_pending(d, pend[i].name, pend[i].t)->bad_rcode = 0;
	marked = dns_note_reply(d, p, size);
	if (marked < 0 || marked > 1)
		__builtin_trap();
	for (size_t i = 0; i < 3; i++) {
		unsigned rc =
		    dns_node_pending(d, pend[i].name, pend[i].t)->bad_rcode;

		if (rc != 0 && dns_rcode_reason(rc) == DNS_R_NONE)
			__builtin_trap();
	}
	free(p);
	return 0;
}
