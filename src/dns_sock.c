/* SPDX-License-Identifier: MIT */
/*
 * dns_sock.c: c-ares's socket hooks (ares_set_socket_functions).  Owns
 * opening, connecting and closing c-ares's sockets as c-ares would (plus
 * our options), the TCP connections' byte streams (d->conns), and showing
 * every reply read and every query written to dns_rcode.c, so that a
 * lookup c-ares 1.18 ends as ARES_ECONNREFUSED carries the reason of its
 * last answer (docs/DNS.md, "SERVFAIL").  Must not decide anything about a
 * query: c-ares reads and writes exactly what it would without the hooks.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ares.h>

#include "dns_int.h"

#define DNS_SOCK_RCVBUF (1 << 20)

/* A TCP socket c-ares opened through dns_sock_open (d->conns). */
struct dns_conn {
	struct dns_conn *next;
	int fd;
	struct dns_tcp_stream rd, wr;
};

/* c-ares does not configure sockets it gets from us: non-blocking,
 * close-on-exec, the receive buffer (a burst of answers must not overflow
 * it; the kernel caps it at net.core.rmem_max), no Nagle for TCP. */
static ares_socket_t
dns_sock_open(int af, int type, int proto, void *arg)
{
	int fd = socket(af, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	int sz = DNS_SOCK_RCVBUF, one = 1;
	struct dns *d = arg;
	struct dns_conn *c;

	if (fd == -1)
		return ARES_SOCKET_BAD;
	if (type == SOCK_DGRAM) {
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		return fd;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->next = d->conns;
	d->conns = c;
	return fd;
}

/* The TCP connection of fd, or NULL (a UDP socket). */
static struct dns_conn *
dns_conn_of(struct dns *d, int fd)
{
	struct dns_conn *c = d->conns;

	while (c != NULL && c->fd != fd)
		c = c->next;
	return c;
}

static int
dns_sock_close(ares_socket_t fd, void *arg)
{
	struct dns *d = arg;

	for (struct dns_conn **pp = &d->conns, *c; (c = *pp) != NULL;
	     pp = &c->next) {
		if (c->fd == fd) {
			*pp = c->next;
			free(c);
			break;
		}
	}
	return close(fd);
}

static int
dns_sock_connect(ares_socket_t fd, const struct sockaddr *sa,
		 ares_socklen_t len, void *arg)
{
	(void)arg;
	return connect(fd, sa, len);
}

/*
 * c-ares 1.18 ends a query whose every try got SERVFAIL, NOTIMP or REFUSED
 * with ARES_ECONNREFUSED, as when nothing listens; dns_rcode.c keeps the
 * RCODE of each query's last answer to tell them apart.  Every reply read
 * goes to dns_note_reply: a UDP read (from != NULL) is one reply, TCP
 * reads are cut anywhere in a stream of length-prefixed replies (c-ares
 * reads the 2-byte length, then the rest).  A reply c-ares then discards
 * (wrong id or source) can change that reason only, never the outcome.
 */
static ares_ssize_t
dns_sock_recv(ares_socket_t fd, void *buf, size_t len, int flags,
	      struct sockaddr *from, ares_socklen_t *from_len, void *arg)
{
	ssize_t n = recvfrom(fd, buf, len, flags, from, from_len);
	struct dns_conn *c;

	if (n <= 0)
		return n;
	if (from != NULL)
		(void)dns_note_reply(arg, buf, (size_t)n);
	else if ((c = dns_conn_of(arg, fd)) != NULL)
		(void)dns_tcp_read(arg, &c->rd, buf, (size_t)n);
	return n;
}

/*
 * Each query c-ares writes is a new try of it (dns_note_query): the RCODE
 * of the try before is forgotten, so a SERVFAIL followed by a closed port
 * reads "refused".  Over UDP a write is one query; over TCP a stream of
 * them, noted even when the write fails (the try met a dead server).
 */
static ares_ssize_t
dns_sock_sendv(ares_socket_t fd, const struct iovec *iov, int n, void *arg)
{
	ssize_t sent = writev(fd, iov, n);
	struct dns_conn *c = dns_conn_of(arg, fd);
	uint8_t head[DNS_MSG_HEAD];
	size_t len = 0;

	if (c != NULL) {
		(void)dns_tcp_write(arg, &c->wr, iov, n, sent);
		return sent;
	}
	for (int i = 0; i < n && len < sizeof(head); i++) {
		size_t k = MIN(iov[i].iov_len, sizeof(head) - len);

		memcpy(head + len, iov[i].iov_base, k);
		len += k;
	}
	(void)dns_note_query(arg, head, len);
	return sent;
}

static const struct ares_socket_functions dns_sock_funcs = {
    .asocket = dns_sock_open,
    .aclose = dns_sock_close,
    .aconnect = dns_sock_connect,
    .arecvfrom = dns_sock_recv,
    .asendv = dns_sock_sendv,
};

/* See dns_int.h. */
void
dns_sock_attach(struct ares_channeldata *ch, struct dns *d)
{
	ares_set_socket_functions(ch, &dns_sock_funcs, d);
}

/* See dns_int.h. */
void
dns_sock_conns_free(struct dns *d)
{
	while (d->conns != NULL) {
		struct dns_conn *c = d->conns;

		d->conns = c->next;
		free(c);
	}
}
