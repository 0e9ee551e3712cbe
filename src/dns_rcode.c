/* SPDX-License-Identifier: MIT */
/*
 * dns_rcode.c: the RCODE of a resolver's error reply, noted on the query
 * it answers.  c-ares 1.18 ends a query whose every try got SERVFAIL,
 * NOTIMP or REFUSED with the status it starts with, ARES_ECONNREFUSED, as
 * if nothing listened (docs/DNS.md).  dns_sock.c (c-ares's socket hooks)
 * shows every reply it reads for c-ares to dns_note_reply() (over TCP through a
 * struct dns_tcp_stream, which takes the 2-byte length prefixes off), and every
 * query c-ares writes to dns_note_query(): each try of a query forgets the
 * RCODE of the one before, an error reply marks the pending node of its
 * question, and the completion reports the reason of the last answer.  Reads
 * only the header and the question; no I/O, no c-ares.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

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

/*
 * The pending nodes (0 or 1) of the one question of message p[len], whose
 * QR bit is qr: each gets bad_rcode = rcode.  Returns how many.
 */
static int
dns_rcode_set(struct dns *d, const uint8_t *p, size_t len, bool qr,
	      uint8_t rcode)
{
	char name[DNS_NAME_MAX + 1];
	unsigned qtype;
	size_t off;
	int marked = 0;

	if (len < 12 || ((p[2] & 0x80) != 0) != qr || p[4] != 0 || p[5] != 1)
		return 0; /* not a message with one question */
	if (dns_rcode_qname(p, len, name, &off) < 0 || len - off < 4)
		return 0;
	qtype = (unsigned)p[off] << 8 | p[off + 1];
	for (int t = 0; t < DNS_QT__COUNT; t++) {
		struct dns_node *n;

		if (dns_qtype_wire((enum dns_qtype)t) != qtype)
			continue;
		n = dns_node_pending(d, name, (enum dns_qtype)t);
		if (n != NULL) {
			n->bad_rcode = rcode;
			marked++;
		}
	}
	return marked;
}

/* See dns_int.h. */
int
dns_note_reply(struct dns *d, const uint8_t *p, size_t len)
{
	unsigned rcode = len >= 4 ? p[3] & 0x0fu : 0;

	if (rcode != DNS_RCODE_SERVFAIL && rcode != DNS_RCODE_NOTIMP &&
	    rcode != DNS_RCODE_REFUSED)
		return 0;
	return dns_rcode_set(d, p, len, true, (uint8_t)rcode);
}

/* See dns_int.h. */
int
dns_note_query(struct dns *d, const uint8_t *p, size_t len)
{
	return dns_rcode_set(d, p, len, false, 0);
}

/* See dns_int.h. */
void
dns_tcp_reset(struct dns_tcp_stream *st)
{
	st->nlen = 0;
	st->len = st->pos = 0;
}

/*
 * Take n bytes of the stream: note(d, message) for each message completed
 * (note may be NULL: the bytes only move the stream on).  Returns the sum
 * of what note returned.
 */
static int
dns_tcp_feed(struct dns *d, struct dns_tcp_stream *st, const uint8_t *p,
	     size_t n, int (*note)(struct dns *, const uint8_t *, size_t))
{
	int marked = 0;

	while (n > 0) {
		size_t k;

		if (st->nlen < 2) {
			st->len = (uint16_t)(st->len << 8 | *p++);
			n--;
			if (++st->nlen < 2)
				continue;
			st->pos = 0;
		} else {
			k = MIN(n, (size_t)(st->len - st->pos));
			if (st->pos < sizeof(st->head))
				memcpy(st->head + st->pos, p,
				       MIN(k, sizeof(st->head) - st->pos));
			st->pos = (uint16_t)(st->pos + k);
			p += k;
			n -= k;
		}
		if (st->pos < st->len)
			continue;
		if (note != NULL)
			marked += note(d, st->head,
				       MIN((size_t)st->len, sizeof(st->head)));
		dns_tcp_reset(st);
	}
	return marked;
}

/* See dns_int.h. */
int
dns_tcp_read(struct dns *d, struct dns_tcp_stream *st, const void *p, size_t n)
{
	return dns_tcp_feed(d, st, p, n, dns_note_reply);
}

/* See dns_int.h. */
int
dns_tcp_write(struct dns *d, struct dns_tcp_stream *st, const struct iovec *iov,
	      int iovcnt, ssize_t sent)
{
	struct dns_tcp_stream tried = *st;
	int cleared = 0;

	for (int i = 0; i < iovcnt; i++)
		cleared += dns_tcp_feed(d, &tried, iov[i].iov_base,
					iov[i].iov_len, dns_note_query);
	for (int i = 0; i < iovcnt && sent > 0; i++) {
		size_t k = MIN(iov[i].iov_len, (size_t)sent);

		(void)dns_tcp_feed(d, st, iov[i].iov_base, k, NULL);
		sent -= (ssize_t)k;
	}
	return cleared;
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
