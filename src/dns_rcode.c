/* SPDX-License-Identifier: MIT */
/*
 * dns_rcode.c: the RCODE of a resolver's error reply, noted on the query
 * it answers.  c-ares 1.18 ends a query whose every try got SERVFAIL,
 * NOTIMP or REFUSED with the status it starts with, ARES_ECONNREFUSED, as
 * if nothing listened (docs/DNS.md).  dns.c hands every UDP reply it reads
 * for c-ares to dns_note_reply(); an error reply marks the pending node of
 * its question, and the completion reports that RCODE's reason instead.
 * Reads only the header and the question; no I/O, no c-ares.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "dns_int.h"

/* The question's name (lower case, no trailing dot) into out, and the
 * offset just past it; -EBADMSG if it is not a plain uncompressed name. */
static int
dns_rcode_qname(const uint8_t *p, size_t len, char out[DNS_NAME_MAX + 1],
		size_t *end_r)
{
	size_t off = 12, o = 0;

	while (off < len && p[off] != 0) {
		size_t n = p[off++];

		if (n > 63 || n > len - off || o + n + (o > 0) > DNS_NAME_MAX)
			return -EBADMSG; /* a pointer, or too long */
		if (o > 0)
			out[o++] = '.';
		for (size_t i = 0; i < n; i++) {
			uint8_t c = p[off + i];

			out[o++] =
			    (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		}
		off += n;
	}
	if (off >= len || o == 0)
		return -EBADMSG;
	out[o] = '\0';
	*end_r = off + 1;
	return 0;
}

/* See dns_int.h. */
int
dns_note_reply(struct dns *d, const uint8_t *p, size_t len)
{
	char name[DNS_NAME_MAX + 1];
	unsigned rcode, qtype;
	size_t off;
	int marked = 0;

	if (len < 12 || (p[2] & 0x80) == 0 || p[4] != 0 || p[5] != 1)
		return 0; /* not a reply to one question */
	rcode = p[3] & 0x0fu;
	if (rcode != DNS_RCODE_SERVFAIL && rcode != DNS_RCODE_NOTIMP &&
	    rcode != DNS_RCODE_REFUSED)
		return 0;
	if (dns_rcode_qname(p, len, name, &off) < 0 || len - off < 4)
		return 0;
	qtype = (unsigned)p[off] << 8 | p[off + 1];
	for (int t = 0; t < DNS_QT__COUNT; t++) {
		struct dns_node *n;

		if (dns_qtype_wire((enum dns_qtype)t) != qtype)
			continue;
		n = dns_node_pending(d, name, (enum dns_qtype)t);
		if (n != NULL) {
			n->bad_rcode = (uint8_t)rcode;
			marked++;
		}
	}
	return marked;
}

/* See dns_int.h. */
enum dns_reason
dns_rcode_reason(unsigned rcode)
{
	switch (rcode) {
	case DNS_RCODE_SERVFAIL:
		return DNS_R_SERVFAIL;
	case DNS_RCODE_NOTIMP:
	case DNS_RCODE_REFUSED:
		return DNS_R_REFUSED;
	default:
		return DNS_R_NONE;
	}
}
