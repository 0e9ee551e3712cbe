/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dns_rcode: any bytes as a UDP reply read for c-ares, shown to
 * dns_note_reply(), as a query to dns_note_query(), and as a TCP stream
 * read (whole and in pieces) and written (dns_tcp_read/write), while
 * lookups of example.test (MX) and mx1.example.test (A, AAAA) are
 * pending.  Never a crash or a read past the input; a marked lookup
 * carries one of the three error RCODEs; a stream marks the same however
 * it is cut.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

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

static const struct {
	const char *name;
	enum dns_qtype t;
} fz_pend[] = {{"example.test", DNS_QT_MX},
	       {"mx1.example.test", DNS_QT_A},
	       {"mx1.example.test", DNS_QT_AAAA}};

/* Every pending lookup's RCODE: 0 or an error's (bits of the three). */
static unsigned
fz_marks(struct dns *d, uint8_t set)
{
	unsigned bits = 0;

	for (size_t i = 0; i < nitems(fz_pend); i++) {
		struct dns_node *n =
		    dns_node_pending(d, fz_pend[i].name, fz_pend[i].t);
		unsigned rc = n->bad_rcode;

		if (rc != 0 && rc != set && dns_rcode_reason(rc) == DNS_R_NONE)
			__builtin_trap();
		bits = bits << 4 | rc;
		n->bad_rcode = set;
	}
	return bits;
}

/*
 * The input as one TCP stream, read whole and then in pieces of
 * 1 + data[0] % 7 bytes: the same marks either way.  Then written (as
 * queries) in two iovecs with a short write: everything tried is cleared.
 */
static void
fz_tcp(struct dns *d, const uint8_t *p, size_t size)
{
	struct dns_tcp_stream st = {0};
	struct iovec iov[2];
	unsigned whole, cut;
	size_t step = size ? 1 + p[0] % 7 : 1, half = size / 2;
	int m1, m2 = 0;

	(void)fz_marks(d, 0);
	m1 = dns_tcp_read(d, &st, p, size);
	whole = fz_marks(d, 0);
	dns_tcp_reset(&st);
	for (size_t off = 0; off < size; off += step)
		m2 += dns_tcp_read(d, &st, p + off, MIN(step, size - off));
	cut = fz_marks(d, DNS_RCODE_SERVFAIL);
	if (m1 != m2 || whole != cut || m1 < 0)
		__builtin_trap();
	dns_tcp_reset(&st);
	iov[0] = (struct iovec){.iov_base = (void *)p, .iov_len = half};
	iov[1] = (struct iovec){.iov_base = (void *)(p + half),
				.iov_len = size - half};
	m1 = dns_tcp_write(d, &st, iov, 2, (ssize_t)(size / 3));
	if (m1 < 0 || st.nlen > 2 || (st.nlen == 2 && st.pos > st.len))
		__builtin_trap();
	(void)fz_marks(d, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns *d = fz_dns();
	/* an exact-size copy: ASan sees any read past the input */
	uint8_t *p = xmalloc(size ? size : 1);
	int marked;

	memcpy(p, data, size);
	(void)fz_marks(d, 0);
	marked = dns_note_reply(d, p, size);
	if (marked < 0 || marked > 1)
		__builtin_trap();
	(void)fz_marks(d, DNS_RCODE_SERVFAIL);
	marked = dns_note_query(d, p, size);
	if (marked < 0 || marked > 1 ||
	    __builtin_popcount(fz_marks(d, 0) ^ 0x222) != marked)
		__builtin_trap();
	fz_tcp(d, p, size);
	free(p);
	return 0;
}
