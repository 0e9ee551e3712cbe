/* SPDX-License-Identifier: MIT */
/*
 * test_listener_prefix: the Received:/Message-ID:/Date: prefix the listener
 * adds (src/listener_hdr.c) over real SMTP sessions on 127.0.0.1
 * (listener_fixture.c), read back from the spool: every line whole and
 * ending in CRLF even with a 253-byte hostname, a HELO past 127 bytes and
 * the longest recipient the parser accepts; the fields present or not as
 * docs/INTAKE.md says; the body flagged WIRE, plus STUFF only when the
 * decoded body is not its own wire form.  Skips loudly without io_uring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listener_fixture.h"
#include "record.h"
#include "spool.h"
#include "spool_fixture.h"

#define TLP_TRUST "127.0.0.0/8"

/* A 253-byte host name: three 63-byte labels and one of 61. */
static char tlp_host253[254];
/* A 200-byte HELO name (kept as its first 127 bytes). */
static char tlp_helo200[201];
/* The longest recipient: "<" 128 local "@" 125 domain ">" = 256 raw. */
static char tlp_rcpt254[255];
/* One byte more: refused by the parser (SMTPP_PATH_MAX). */
static char tlp_rcpt255[256];

static void
tlp_fill(char *out, size_t n, char c)
{
	memset(out, c, n);
	out[n] = '\0';
}

/* A domain of n bytes: labels of 63 'c's joined by dots. */
static void
tlp_domain(char *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = i % 64 == 63 ? '.' : 'c';
	out[n] = '\0';
}

static void
tlp_names(void)
{
	tlp_domain(tlp_host253, 253);
	tlp_fill(tlp_helo200, 200, 'h');
	tlp_fill(tlp_rcpt254, 128, 'r');
	tlp_rcpt254[128] = '@';
	tlp_domain(tlp_rcpt254 + 129, 125);
	tlp_fill(tlp_rcpt255, 128, 'r');
	tlp_rcpt255[128] = '@';
	tlp_domain(tlp_rcpt255 + 129, 126);
}

struct tlp_case {
	const char *name;
	const char *host, *helo;
	const char *rcpt[2]; /* NULL: none */
	const char *msg;     /* the DATA text, with its "." line */
	bool msgid, date;    /* added by the listener */
	bool stuff;          /* RECORD_MSG_F_STUFF expected */
};

static const struct tlp_case tlp_cases[] = {
    {"longest of everything",
     tlp_host253,
     tlp_helo200,
     {tlp_rcpt254, NULL},
     "Subject: t\r\n\r\nhello\r\n.\r\n",
     true,
     true,
     false},
    {"longest, dot line",
     tlp_host253,
     tlp_helo200,
     {tlp_rcpt254, NULL},
     "Subject: t\r\n\r\n..x\r\n.\r\n",
     true,
     true,
     true},
    {"short, fields present",
     "t.test",
     "c.test",
     {"b@d.test", NULL},
     "Message-ID: <m@c>\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
     "\r\nhi\r\n.\r\n",
     false,
     false,
     false},
    {"two recipients: no for",
     tlp_host253,
     tlp_helo200,
     {tlp_rcpt254, "b@d.test"},
     "Date: x\r\n\r\nhi\r\n.\r\n",
     true,
     false,
     false},
};

/* Every LF of p[0, len) follows a CR and every CR is followed by LF. */
static void
tlp_check_crlf(const char *name, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			fail_msg("%s: bare LF at %zu", name, i);
		if (p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n'))
			fail_msg("%s: bare CR at %zu", name, i);
	}
}

/* The prefix the listener must have written for case k (date aside). */
static void
tlp_check_prefix(const struct tlp_case *k, const char *got, size_t len,
		 const char *idstr)
{
	char want[2048], helo[128], date[40];
	size_t n, dn;

	tlp_check_crlf(k->name, got, len);
	snprintf(helo, sizeof(helo), "%.127s", k->helo);
	n = (size_t)snprintf(
	    want, sizeof(want),
	    "Received: from %s (127.0.0.1)\r\n\tby %s (ringmta) with ESMTP id "
	    "%s%s%s%s;\r\n\t",
	    helo, k->host, idstr, k->rcpt[1] ? "" : "\r\n\tfor <",
	    k->rcpt[1] ? "" : k->rcpt[0], k->rcpt[1] ? "" : ">");
	if (len < n + 33 || memcmp(got, want, n) != 0)
		fail_msg("%s: Received: is\n%.*s\nwant\n%s", k->name,
			 (int)MIN(len, n + 40), got, want);
	/* "Wed, 25 Nov 2026 12:00:00 +0000" */
	dn = 31;
	memcpy(date, got + n, dn);
	date[dn] = '\0';
	if (date[3] != ',' || strcmp(date + dn - 6, " +0000") != 0 ||
	    memcmp(got + n + dn, "\r\n", 2) != 0)
		fail_msg("%s: date line %.40s", k->name, got + n);
	n += dn + 2;
	if (k->msgid) {
		int m = snprintf(want, sizeof(want), "Message-ID: <%s@%s>\r\n",
				 idstr, k->host);

		if (len < n + (size_t)m || memcmp(got + n, want, (size_t)m))
			fail_msg("%s: no Message-ID: %.80s", k->name, got + n);
		n += (size_t)m;
	}
	if (k->date) {
		int m = snprintf(want, sizeof(want), "Date: %s\r\n", date);

		if (len < n + (size_t)m || memcmp(got + n, want, (size_t)m))
			fail_msg("%s: no Date: %.80s", k->name, got + n);
		n += (size_t)m;
	}
	/* then the client's own header section, unchanged */
	if (strncmp(got + n, k->msg, 8) != 0)
		fail_msg("%s: after the prefix: %.40s", k->name, got + n);
}

/* Send case k's transaction; fails the test unless it is accepted. */
static void
tlp_send(struct spfx *f, struct lfx *x, int fd, const struct tlp_case *k)
{
	char line[600];

	snprintf(line, sizeof(line), "EHLO %s\r\n", k->helo);
	assert_int_equal(lfx_chat(f, fd, line), 250);
	assert_int_equal(lfx_chat(f, fd, "MAIL FROM:<a@s.test>\r\n"), 250);
	for (size_t i = 0; i < nitems(k->rcpt) && k->rcpt[i]; i++) {
		snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", k->rcpt[i]);
		if (lfx_chat(f, fd, line) != 250)
			fail_msg("%s: RCPT %zu refused", k->name, i);
	}
	assert_int_equal(lfx_chat(f, fd, "DATA\r\n"), 354);
	if (lfx_chat(f, fd, k->msg) != 250)
		fail_msg("%s: message refused", k->name);
	assert_int_equal(x->accepted, 1);
}

static void
test_prefix_whole(void **state)
{
	SPFX();

	tlp_names();
	spfx_open(f);
	for (size_t c = 0; c < nitems(tlp_cases); c++) {
		const struct tlp_case *k = &tlp_cases[c];
		char idstr[SPOOL_ID_STR_LEN];
		struct spool_msg_info mi;
		const struct spool_msg *m;
		struct spool_body b;
		struct lfx x;
		char *body;
		int fd;

		lfx_start(f, &x, k->host, TLP_TRUST);
		fd = lfx_connect(f, &x);
		tlp_send(f, &x, fd, k);
		assert_int_equal(lfx_chat(f, fd, "QUIT\r\n"), 221);
		close(fd);
		spool_id_str(x.last_id, idstr);
		m = spool_find(f->sp, x.last_id);
		assert_non_null(m);
		assert_int_equal(spool_body_loc(f->sp, x.last_id, &b), 0);
		body = malloc(b.len + 1);
		assert_int_equal(pread(b.fd, body, b.len, (off_t)b.off),
				 (ssize_t)b.len);
		body[b.len] = '\0';
		tlp_check_prefix(k, body, b.len, idstr);
		free(body);
		spool_msg_info(m, &mi);
		assert_true(mi.flags & RECORD_MSG_F_WIRE);
		if (!(mi.flags & RECORD_MSG_F_STUFF) != !k->stuff)
			fail_msg("%s: flags %#x", k->name, mi.flags);
		lfx_stop(f, &x);
	}
}

/* The recipient above is the longest the parser takes: one more byte is
 * refused, so no longer one reaches the prefix. */
static void
test_longest_rcpt(void **state)
{
	SPFX();
	char line[600];
	struct lfx x;
	int fd;

	tlp_names();
	spfx_open(f);
	lfx_start(f, &x, "t.test", TLP_TRUST);
	fd = lfx_connect(f, &x);
	assert_int_equal(lfx_chat(f, fd, "EHLO c.test\r\n"), 250);
	assert_int_equal(lfx_chat(f, fd, "MAIL FROM:<a@s.test>\r\n"), 250);
	snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", tlp_rcpt255);
	assert_in_range(lfx_chat(f, fd, line), 500, 599);
	snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", tlp_rcpt254);
	assert_int_equal(lfx_chat(f, fd, line), 250);
	assert_int_equal(lfx_chat(f, fd, "QUIT\r\n"), 221);
	close(fd);
	lfx_stop(f, &x);
}

int
main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, spfx_setup, spfx_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_prefix_whole),
	    T(test_longest_rcpt),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
