/* SPDX-License-Identifier: MIT */
/*
 * test_bounce: DSN generation.  Every DSN built here is also parsed by
 * Python's email package (policy.default) through popen(): it must be a
 * multipart/report with the expected parts and per-recipient fields, with
 * every line CRLF-terminated and at most 998 bytes.  Tables cover the four
 * kinds with one and several recipients, ORCPT/ENVID present and absent,
 * RET=FULL/HDRS/none, big originals, hostile diagnostic text and addresses,
 * SMTPUTF8, boundary collisions, the status rules, NOTIFY rules, the null
 * sender and DSNs of DSNs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bounce.h"

#define T_NOW     1700000100 /* Tue, 14 Nov 2023 22:15:00 +0000 */
#define T_ARRIVAL 1699990000

/*
 * The validator: reads the DSN from argv[1], asserts the line rules, and
 * prints "key=value" lines describing what the email package parsed.
 */
static const char test_py[] =
    "import sys, email, email.policy\n"
    "d = open(sys.argv[1], 'rb').read()\n"
    "ls = d.split(b'\\r\\n')\n"
    "assert ls[-1] == b'', 'no final CRLF'\n"
    "for l in ls[:-1]:\n"
    "    assert b'\\r' not in l and b'\\n' not in l, 'bare CR/LF'\n"
    "    assert len(l) <= 998, 'line too long'\n"
    "    assert b'\\0' not in l, 'NUL'\n"
    "m = email.message_from_bytes(d, policy=email.policy.default)\n"
    "def o(k, v):\n"
    "    print('%s=%s' % (k, str(v).replace('\\n', '\\\\n')))\n"
    "o('defects', len(m.defects))\n"
    "o('ct', m.get_content_type())\n"
    "o('report-type', m.get_param('report-type'))\n"
    "for h in ('from', 'to', 'subject', 'date', 'message-id', "
    "'auto-submitted', 'mime-version', 'bcc'):\n"
    "    o(h, m[h])\n"
    "o('nkeys', len(m.keys()))\n"
    "ps = m.get_payload()\n"
    "o('parts', ','.join(p.get_content_type() for p in ps))\n"
    "o('pdefects', sum(len(p.defects) for p in ps))\n"
    "o('text', ps[0].get_content())\n"
    "if ps[1].get_content_type() == 'message/delivery-status':\n"
    "    bs = ps[1].get_payload()\n"
    "    o('nblocks', len(bs))\n"
    "    for k, v in bs[0].items():\n"
    "        o('msg.' + k, v)\n"
    "    for i, b in enumerate(bs[1:]):\n"
    "        o('rcpt%d.n' % i, len(b.keys()))\n"
    "        for k, v in b.items():\n"
    "            o('rcpt%d.%s' % (i, k), v)\n"
    "if len(ps) > 2:\n"
    "    p = ps[2]\n"
    "    if p.get_content_type() == 'message/rfc822':\n"
    "        im = p.get_payload()[0]\n"
    "        o('orig.subject', im['subject'])\n"
    "        o('orig.body', im.get_payload())\n"
    "    else:\n"
    "        o('orig.text', p.get_payload())\n";

struct test_py_out {
	char buf[256 * 1024];
	char val[64 * 1024];
};

/* Run the validator on msg; the output goes to r->buf.  Returns status. */
static int
test_py_run(const char *msg, size_t len, struct test_py_out *r)
{
	char path[] = "/tmp/test_bounce.XXXXXX", cmd[256], spath[64];
	int fd = mkstemp(path), st;
	FILE *p;
	size_t n = 0, k;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, msg, len), (ssize_t)len);
	close(fd);
	snprintf(spath, sizeof(spath), "%s.py", path);
	p = fopen(spath, "wx");
	assert_non_null(p);
	fputs(test_py, p);
	fclose(p);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s", spath, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((k = fread(r->buf + n, 1, sizeof(r->buf) - 1 - n, p)) > 0)
		n += k;
	r->buf[n] = '\0';
	st = pclose(p);
	unlink(path);
	unlink(spath);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The value printed for key, or NULL. */
static const char *
test_py_get(struct test_py_out *r, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = r->buf; *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);

		if (n > kl && strncmp(l, key, kl) == 0 && l[kl] == '=') {
			memcpy(r->val, l + kl + 1, n - kl - 1);
			r->val[n - kl - 1] = '\0';
			return r->val;
		}
		l += n + (e ? 1 : 0);
	}
	return NULL;
}

static void
test_py_eq(struct test_py_out *r, const char *key, const char *want)
{
	const char *v = test_py_get(r, key);

	if (want == NULL) {
		if (v != NULL)
			fail_msg("%s: unexpected '%s'", key, v);
		return;
	}
	if (v == NULL)
		fail_msg("%s: missing (want '%s')\n%s", key, want, r->buf);
	if (strcmp(v, want) != 0)
		fail_msg("%s: got '%s' want '%s'", key, v, want);
}

static struct test_py_out *
test_py_check(const struct bounce_out *out)
{
	struct test_py_out *r = malloc(sizeof(*r));

	assert_non_null(r);
	if (test_py_run(out->msg, out->len, r) != 0)
		fail_msg("python rejected the DSN:\n%.*s\n%s", (int)out->len,
			 out->msg, r->buf);
	test_py_eq(r, "defects", "0");
	test_py_eq(r, "pdefects", "0");
	test_py_eq(r, "ct", "multipart/report");
	test_py_eq(r, "report-type", "delivery-status");
	assert_true(strncmp(test_py_get(r, "from"),
			    "Mail Delivery System <MAILER-DAEMON@", 36) == 0);
	test_py_eq(r, "date", "Tue, 14 Nov 2023 22:15:00 +0000");
	test_py_eq(r, "auto-submitted", "auto-replied");
	test_py_eq(r, "mime-version", "1.0");
	test_py_eq(r, "bcc", "None");
	/* From To Subject Date Message-ID MIME Auto CT CTE: nothing else. */
	test_py_eq(r, "nkeys", "9");
	return r;
}

static const char test_orig[] = "From: Alice <alice@a.example>\r\n"
				"To: bob@b.example\r\n"
				"Subject: lunch\r\n"
				"Message-ID: <1@a.example>\r\n"
				"\r\n"
				"See you at noon.\r\n";

static void
test_in_init(struct bounce_in *in, struct bounce_rcpt *r, size_t nrcpt)
{
	*in = (struct bounce_in){
	    .reporting_mta = "mta.example",
	    .sender = "alice@a.example",
	    .kind = BOUNCE_FAILED,
	    .rcpts = r,
	    .nrcpt = nrcpt,
	    .orig = test_orig,
	    .orig_len = sizeof(test_orig) - 1,
	    .seed = (const uint8_t *)"0123456789abcdef",
	    .seed_len = 16,
	    .now = T_NOW,
	};
}

/* ---- the kind table ------------------------------------------------------ */

struct kind_case {
	const char *name;
	enum bounce_kind kind;
	enum bounce_action action;
	enum bounce_ret ret;
	size_t nrcpt;
	bool orcpt, envid;
	const char *subject, *parts, *status, *text_has;
	unsigned flags; /* expected out flags */
};

static const struct kind_case kind_cases[] = {
    {"failed 1 orcpt envid", BOUNCE_FAILED, BOUNCE_ACTION_FAILED,
     BOUNCE_RET_NONE, 1, true, true, "Undelivered Mail Returned to Sender",
     "text/plain,message/delivery-status,message/rfc822", "5.1.1",
     "could not be delivered", 0},
    {"failed 3 full", BOUNCE_FAILED, BOUNCE_ACTION_FAILED, BOUNCE_RET_FULL, 3,
     false, false, "Undelivered Mail Returned to Sender",
     "text/plain,message/delivery-status,message/rfc822", "5.1.1",
     "A copy of your message is attached.", 0},
    {"failed 2 hdrs", BOUNCE_FAILED, BOUNCE_ACTION_FAILED, BOUNCE_RET_HDRS, 2,
     true, false, "Undelivered Mail Returned to Sender",
     "text/plain,message/delivery-status,text/rfc822-headers", "5.1.1",
     "The header section of your message is attached.", BOUNCE_OUT_HDRS_ONLY},
    {"delayed 1", BOUNCE_DELAYED, BOUNCE_ACTION_DELAYED, BOUNCE_RET_FULL, 1,
     false, true, "Delayed Mail (still being retried)",
     "text/plain,message/delivery-status,text/rfc822-headers", "4.1.1",
     "will keep trying", BOUNCE_OUT_HDRS_ONLY},
    {"delayed 4", BOUNCE_DELAYED, BOUNCE_ACTION_DELAYED, BOUNCE_RET_NONE, 4,
     true, true, "Delayed Mail (still being retried)",
     "text/plain,message/delivery-status,text/rfc822-headers", "4.1.1",
     "Trying until: Wed, 15 Nov 2023", BOUNCE_OUT_HDRS_ONLY},
    {"relayed 1", BOUNCE_RELAYED, BOUNCE_ACTION_RELAYED, BOUNCE_RET_FULL, 1,
     true, true, "Successful Mail Delivery Report",
     "text/plain,message/delivery-status,text/rfc822-headers", "2.1.1",
     "not offer delivery notifications", BOUNCE_OUT_HDRS_ONLY},
    {"delivered 2", BOUNCE_DELIVERED, BOUNCE_ACTION_DELIVERED, BOUNCE_RET_NONE,
     2, false, false, "Successful Mail Delivery Report",
     "text/plain,message/delivery-status,text/rfc822-headers", "2.1.1",
     "was delivered to", BOUNCE_OUT_HDRS_ONLY},
};

static void
test_kind_one(const struct kind_case *c)
{
	struct bounce_rcpt r[4];
	struct bounce_in in;
	struct bounce_out out;
	struct test_py_out *py;
	char addr[4][48], orcpt[4][64], key[64], want[96];

	for (size_t i = 0; i < c->nrcpt; i++) {
		snprintf(addr[i], sizeof(addr[i]), "rcpt%zu@b.example", i);
		snprintf(orcpt[i], sizeof(orcpt[i]), "rfc822;Rcpt%zu@B.example",
			 i);
		r[i] = (struct bounce_rcpt){
		    .addr = addr[i],
		    .orcpt = c->orcpt ? orcpt[i] : NULL,
		    .action = c->action,
		    .status = "5.1.1",
		    .remote_mta = "mx.b.example",
		    .diag = "550 5.1.1 user unknown",
		    .diag_len = 22,
		    .last_attempt = T_NOW - 10,
		    .retry_until = T_NOW + 86400,
		};
	}
	test_in_init(&in, r, c->nrcpt);
	in.kind = c->kind;
	in.ret = c->ret;
	in.envid = c->envid ? "ENV-42" : NULL;
	in.arrival = T_ARRIVAL;
	in.queue_id = "Q123";
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, c->flags);
	assert_string_equal(out.env_sender, "");
	assert_string_equal(out.env_rcpt, "alice@a.example");
	py = test_py_check(&out);
	test_py_eq(py, "to", "alice@a.example");
	test_py_eq(py, "from",
		   "Mail Delivery System <MAILER-DAEMON@mta.example>");
	test_py_eq(py, "subject", c->subject);
	test_py_eq(py, "parts", c->parts);
	assert_non_null(strstr(test_py_get(py, "text"), c->text_has));
	snprintf(want, sizeof(want), "%zu", c->nrcpt + 1);
	test_py_eq(py, "nblocks", want);
	test_py_eq(py, "msg.Reporting-MTA", "dns; mta.example");
	test_py_eq(py, "msg.Original-Envelope-Id", c->envid ? "ENV-42" : NULL);
	test_py_eq(py, "msg.Arrival-Date", "Tue, 14 Nov 2023 19:26:40 +0000");
	test_py_eq(py, "msg.X-Ringmta-Queue-ID", "Q123");
	for (size_t i = 0; i < c->nrcpt; i++) {
		bool delayed = c->action == BOUNCE_ACTION_DELAYED;

#define RKEY(f) (snprintf(key, sizeof(key), "rcpt%zu." f, i), key)
		snprintf(want, sizeof(want), "rfc822; rcpt%zu@b.example", i);
		test_py_eq(py, RKEY("Final-Recipient"), want);
		snprintf(want, sizeof(want), "rfc822; Rcpt%zu@B.example", i);
		test_py_eq(py, RKEY("Original-Recipient"),
			   c->orcpt ? want : NULL);
		test_py_eq(py, RKEY("Action"), bounce_action_str(c->action));
		test_py_eq(py, RKEY("Status"), c->status);
		test_py_eq(py, RKEY("Remote-MTA"), "dns; mx.b.example");
		test_py_eq(py, RKEY("Diagnostic-Code"),
			   "smtp; 550 5.1.1 user unknown");
		test_py_eq(py, RKEY("Last-Attempt-Date"),
			   "Tue, 14 Nov 2023 22:14:50 +0000");
		test_py_eq(py, RKEY("Will-Retry-Until"),
			   delayed ? "Wed, 15 Nov 2023 22:15:00 +0000" : NULL);
		snprintf(want, sizeof(want), "%d",
			 (c->orcpt ? 7 : 6) + (delayed ? 1 : 0));
		test_py_eq(py, RKEY("n"), want);
#undef RKEY
	}
	if (strstr(c->parts, "message/rfc822")) {
		test_py_eq(py, "orig.subject", "lunch");
		test_py_eq(py, "orig.body", "See you at noon.\r\\n");
	} else {
		const char *t = test_py_get(py, "orig.text");

		assert_non_null(strstr(t, "Subject: lunch"));
		assert_null(strstr(t, "noon"));
	}
	free(py);
	bounce_out_fini(&out);
}

static void
test_kinds(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(kind_cases); i++) {
		print_message("case %s\n", kind_cases[i].name);
		test_kind_one(&kind_cases[i]);
	}
}

/* ---- the original message: size, reader, canonical form ---------------- */

static void
test_big_original(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out out;
	struct test_py_out *py;
	size_t n = 300 * 1024;
	char *big = malloc(n);

	(void)state;
	memcpy(big, test_orig, sizeof(test_orig) - 1);
	memset(big + sizeof(test_orig) - 1, 'x', n - sizeof(test_orig) + 1);
	for (size_t i = sizeof(test_orig) + 70; i < n; i += 72)
		memcpy(big + i - 2, "\r\n", 2);
	test_in_init(&in, &r, 1);
	in.orig = big;
	in.orig_len = n;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY | BOUNCE_OUT_TOO_BIG);
	assert_true(out.len < 8 * 1024);
	py = test_py_check(&out);
	test_py_eq(py, "parts",
		   "text/plain,message/delivery-status,text/rfc822-headers");
	assert_non_null(
	    strstr(test_py_get(py, "text"), "larger than 102400 bytes"));
	free(py);
	bounce_out_fini(&out);

	/* The same size is fine under a bigger limit; 1 byte over is not. */
	in.max_body = n;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, 0);
	assert_true(out.len > n);
	bounce_out_fini(&out);
	in.max_body = n - 1;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY | BOUNCE_OUT_TOO_BIG);
	bounce_out_fini(&out);
	free(big);
}

struct test_reader {
	const char *p;
	size_t len, chunk;
	int fail_at; /* call number that fails, 0: none */
	int calls;
};

static ssize_t
test_read(void *arg, uint64_t off, char *buf, size_t len)
{
	struct test_reader *t = arg;
	size_t n;

	if (++t->calls == t->fail_at)
		return -EIO;
	if (off >= t->len)
		return 0;
	n = MIN(MIN(len, t->chunk), t->len - off);
	memcpy(buf, t->p + off, n);
	return (ssize_t)n;
}

static void
test_reader(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct test_reader t = {test_orig, sizeof(test_orig) - 1, 7, 0, 0};
	struct bounce_in in;
	struct bounce_out out, ref;
	struct test_py_out *py;

	(void)state;
	test_in_init(&in, &r, 1);
	assert_int_equal(bounce_build(&in, &ref), 0);
	in.orig = NULL;
	in.orig_read = test_read;
	in.orig_arg = &t;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.len, ref.len);
	assert_memory_equal(out.msg, ref.msg, ref.len);
	py = test_py_check(&out);
	test_py_eq(py, "orig.subject", "lunch");
	free(py);
	bounce_out_fini(&out);

	/* Headers only through the reader: it is not read to the end. */
	t.calls = 0;
	in.kind = BOUNCE_DELAYED;
	in.max_headers = 55;
	t.chunk = 1;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY | BOUNCE_OUT_HDRS_CUT);
	assert_int_equal(t.calls, 57); /* max_headers + 2 */
	assert_non_null(strstr(out.msg, "To: bob@b.example\r\n\r\n--"));
	assert_null(strstr(out.msg, "Subject: lunch"));
	bounce_out_fini(&out);

	/* Bare LFs grow the header section past the cap with no more input. */
	in.orig_read = NULL;
	in.orig = "A: 1\nB: 2\nC: 3\nD: 45\n";
	in.orig_len = 21;
	in.max_headers = 20;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY | BOUNCE_OUT_HDRS_CUT);
	assert_non_null(strstr(out.msg, "C: 3\r\n\r\n--"));
	assert_null(strstr(out.msg, "D: 4"));
	bounce_out_fini(&out);
	in.orig_len = 20; /* "D: 45" cut by the caller: not by us */
	in.max_headers = 30;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY);
	assert_non_null(strstr(out.msg, "D: 45\r\n\r\n--"));
	bounce_out_fini(&out);
	in.orig = NULL;
	in.orig_read = test_read;

	/* A read error fails the build and leaks nothing. */
	t.calls = 0;
	t.fail_at = 3;
	assert_int_equal(bounce_build(&in, &out), -EIO);
	assert_null(out.msg);
	bounce_out_fini(&ref);
}

/*
 * bounce_orig_want(): the size per kind, RET and caps; the first want
 * bytes of an original longer than every cap, given as a buffer, give
 * exactly the DSN of the whole original (and of want + 7 bytes).  That
 * the reader is asked for no more is test_reader's max_headers + 2.
 */
static void
test_orig_want(void **state)
{
	static const struct {
		enum bounce_kind kind;
		enum bounce_ret ret;
		size_t max_body, max_headers, want;
	} cases[] = {
	    {BOUNCE_FAILED, BOUNCE_RET_NONE, 300, 100, 302},
	    {BOUNCE_FAILED, BOUNCE_RET_FULL, 50, 100, 102},
	    {BOUNCE_FAILED, BOUNCE_RET_HDRS, 300, 100, 102},
	    {BOUNCE_DELAYED, BOUNCE_RET_FULL, 300, 100, 102},
	    {BOUNCE_DELIVERED, BOUNCE_RET_NONE, 300, 100, 102},
	    {BOUNCE_FAILED, BOUNCE_RET_NONE, 0, 0, BOUNCE_MAX_BODY_DEFAULT + 2},
	    {BOUNCE_DELAYED, BOUNCE_RET_NONE, 0, 0,
	     BOUNCE_MAX_HEADERS_DEFAULT + 2},
	};
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out ref, out;
	char big[1201]; /* 1200 bytes and snprintf's last NUL */

	(void)state;
	/* 20 header lines of 40 bytes, then a body: longer than any cap. */
	for (size_t i = 0; i + 1 < sizeof(big); i += 40)
		snprintf(big + i, 41, "%s%02zu: %-31s\r\n",
			 i < 800 ? "X-H" : "bod", i / 40, "v");
	memcpy(big + 800, "\r\n", 2);
	for (size_t i = 0; i < nitems(cases); i++) {
		test_in_init(&in, &r, 1);
		in.kind = cases[i].kind;
		in.ret = cases[i].ret;
		in.max_body = cases[i].max_body;
		in.max_headers = cases[i].max_headers;
		in.orig = big;
		in.orig_len = sizeof(big) - 1;
		assert_int_equal(bounce_orig_want(&in), cases[i].want);
		if (cases[i].want > sizeof(big))
			continue;
		assert_int_equal(bounce_build(&in, &ref), 0);
		in.orig_len = cases[i].want;
		assert_int_equal(bounce_build(&in, &out), 0);
		assert_int_equal(out.len, ref.len);
		assert_memory_equal(out.msg, ref.msg, ref.len);
		bounce_out_fini(&out);
		in.orig_len = cases[i].want + 7;
		assert_int_equal(bounce_build(&in, &out), 0);
		assert_int_equal(out.len, ref.len);
		assert_memory_equal(out.msg, ref.msg, ref.len);
		bounce_out_fini(&out);
		bounce_out_fini(&ref);
	}
}

static void
test_no_original(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out out;
	struct test_py_out *py;

	(void)state;
	test_in_init(&in, &r, 1);
	in.orig = NULL;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_NO_ORIG);
	py = test_py_check(&out);
	test_py_eq(py, "parts", "text/plain,message/delivery-status");
	assert_null(strstr(test_py_get(py, "text"), "attached"));
	test_py_eq(py, "rcpt0.Status", "5.0.0");
	test_py_eq(py, "rcpt0.n", "3");
	free(py);
	bounce_out_fini(&out);
}

/* Bare LF and CR, NUL, 8-bit, 3000-byte lines in headers and body. */
static void
test_original_canon(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out out;
	struct test_py_out *py;
	char orig[8192];
	size_t n = 0;

	(void)state;
	n += (size_t)sprintf(orig + n, "Subject: x\nX-Long: ");
	memset(orig + n, 'h', 3000);
	n += 3000;
	n += (size_t)sprintf(orig + n, "\rX-Nul: a");
	orig[n++] = '\0';
	n += (size_t)sprintf(orig + n, "b\r\n\nbody\xe9\n");
	memset(orig + n, 'b', 3000);
	n += 3000;
	test_in_init(&in, &r, 1);
	in.orig = orig;
	in.orig_len = n;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_8BIT);
	py = test_py_check(&out);
	test_py_eq(py, "orig.subject", "x");
	assert_non_null(strstr(out.msg, "X-Nul: a?b\r\n\r\nbody\xe9\r\n"));
	assert_non_null(strstr(out.msg, "Content-Transfer-Encoding: 8bit\r\n"
					"\r\nSubject: x\r\nX-Long: hhh"));
	free(py);
	bounce_out_fini(&out);

	/* Headers only: the long header is folded, never cut mid-way. */
	in.ret = BOUNCE_RET_HDRS;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_HDRS_ONLY);
	py = test_py_check(&out);
	assert_non_null(strstr(out.msg, "hhh\r\n hhh"));
	assert_null(strstr(out.msg, "body"));
	free(py);
	bounce_out_fini(&out);
}

/* ---- hostile input --------------------------------------------------------
 */

static void
test_hostile_diag(void **state)
{
	static const char d1[] = "550 5.1.1 no\r\nSubject: x\r\n\r\nBcc: e@x";
	static const char d2[] = "550\0hidden\t\xff\xfe tail  ";
	static char d3[10 * 1024];
	struct bounce_rcpt r[4] = {
	    {.addr = "a@b.example", .diag = d1, .diag_len = sizeof(d1) - 1},
	    {.addr = "c@b.example", .diag = d2, .diag_len = sizeof(d2) - 1},
	    {.addr = "d@b.example", .diag = d3, .diag_len = sizeof(d3)},
	    {.addr = "e@b.example",
	     .diag = "",
	     .diag_len = 0,
	     .diag_type = "x-local\r\nX: y"},
	};
	struct bounce_in in;
	struct bounce_out out;
	struct test_py_out *py;
	const char *v;

	(void)state;
	for (size_t i = 0; i < sizeof(d3); i++)
		d3[i] = (char)(i > 2000 && i % 97 == 0 ? ' ' : 'a' + i % 26);
	test_in_init(&in, r, 4);
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, 0);
	py = test_py_check(&out);
	test_py_eq(py, "subject", "Undelivered Mail Returned to Sender");
	test_py_eq(py, "rcpt0.Diagnostic-Code",
		   "smtp; 550 5.1.1 no Subject: x Bcc: e@x");
	test_py_eq(py, "rcpt1.Diagnostic-Code", "smtp; 550 hidden ?? tail");
	v = test_py_get(py, "rcpt2.Diagnostic-Code");
	assert_true(strlen(v) <= BOUNCE_DIAG_MAX + 6 + 20);
	assert_true(strlen(v) > BOUNCE_DIAG_MAX - 100);
	assert_non_null(strstr(v, "..."));
	test_py_eq(py, "rcpt3.Diagnostic-Code", "x-local??X:?y;");
	for (int i = 0; i < 4; i++) {
		char key[32];

		snprintf(key, sizeof(key), "rcpt%d.n", i);
		test_py_eq(py, key, "4");
	}
	assert_non_null(strstr(test_py_get(py, "text"),
			       "Reason: 550 5.1.1 no Subject: x Bcc: e@x"));
	free(py);
	bounce_out_fini(&out);
}

/* A diagnostic (or original) holding the boundary forces another one. */
static void
test_boundary_collision(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out out;
	struct test_py_out *py;
	char first[64], *orig;
	size_t on, cap = sizeof(test_orig) + 64 * (BOUNCE_BOUNDARY_TRIES + 1);
	int rc = 0, rounds = 0;

	(void)state;
	test_in_init(&in, &r, 1);
	assert_int_equal(bounce_build(&in, &out), 0);
	strcpy(first, out.boundary);
	bounce_out_fini(&out);

	/* The same boundary in the original (upper case): another one. */
	orig = malloc(cap);
	snprintf(orig, cap, "%s\r\n--%s--\r\n", test_orig, first);
	for (char *p = orig + sizeof(test_orig); *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
	in.orig = orig;
	in.orig_len = strlen(orig);
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_string_not_equal(out.boundary, first);
	py = test_py_check(&out);
	test_py_eq(py, "parts",
		   "text/plain,message/delivery-status,message/rfc822");
	free(py);
	bounce_out_fini(&out);

	/* Each drawn boundary appended to the original: all tries fail. */
	on = (size_t)sprintf(orig, "%s", test_orig);
	for (;;) {
		in.orig_len = on;
		rc = bounce_build(&in, &out);
		if (rc < 0)
			break;
		rounds++;
		on += (size_t)sprintf(orig + on, "--%s\r\n", out.boundary);
		bounce_out_fini(&out);
		assert_true(rounds <= BOUNCE_BOUNDARY_TRIES);
	}
	assert_int_equal(rc, -EEXIST);
	assert_int_equal(rounds, BOUNCE_BOUNDARY_TRIES);
	assert_null(out.msg);
	/* A new seed gets through. */
	in.seed = (const uint8_t *)"another seed";
	in.seed_len = 12;
	assert_int_equal(bounce_build(&in, &out), 0);
	bounce_out_fini(&out);
	free(orig);
}

static void
test_hostile_addresses(void **state)
{
	struct bounce_rcpt r[2] = {
	    {.addr = "x@b.example\r\nBcc: evil@x", .orcpt = "rfc822;o\n@x"},
	    {.addr = "\xc3\xa9t\xe9@b.example", .orcpt = "no-semicolon@x"},
	};
	struct bounce_in in;
	struct bounce_out out;
	struct test_py_out *py;

	(void)state;
	test_in_init(&in, r, 2);
	in.sender = "s@a.example>\r\nBcc: evil@x";
	in.reporting_mta = "mta.example\r\nX-Evil: 1";
	in.envid = "E\r\nX: y";
	in.queue_id = "Q 1\n";
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_string_equal(out.env_rcpt, in.sender);
	assert_int_equal(out.flags, 0);
	py = test_py_check(&out);
	test_py_eq(py, "msg.Reporting-MTA", "dns; mta.example??X-Evil:?1");
	test_py_eq(py, "msg.Original-Envelope-Id", "E X: y");
	test_py_eq(py, "msg.X-Ringmta-Queue-ID", "Q?1?");
	test_py_eq(py, "rcpt0.Final-Recipient",
		   "rfc822; x@b.example??Bcc: evil@x");
	test_py_eq(py, "rcpt0.Original-Recipient", "rfc822; o?@x");
	test_py_eq(py, "rcpt1.Final-Recipient", "rfc822; ??t?@b.example");
	test_py_eq(py, "rcpt1.Original-Recipient", "rfc822; no-semicolon@x");
	free(py);
	bounce_out_fini(&out);
}

/* SMTPUTF8: UTF-8 addresses kept (bad UTF-8 still '?'), global types. */
static void
test_smtputf8(void **state)
{
	static const char orig[] = "Subject: caf\xc3\xa9\r\n\r\nok\r\n";
	struct bounce_rcpt r[2] = {
	    {.addr = "\xc3\xa9t\xc3\xa9@b.example"},
	    {.addr = "a\xe9\xc2\x85@b.example"},
	};
	struct bounce_in in;
	struct bounce_out out;
	struct test_py_out *py;

	(void)state;
	test_in_init(&in, r, 2);
	in.flags = BOUNCE_F_SMTPUTF8;
	in.sender = "\xd0\xb4@a.example";
	in.orig = orig;
	in.orig_len = sizeof(orig) - 1;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, BOUNCE_OUT_SMTPUTF8 | BOUNCE_OUT_8BIT);
	py = test_py_check(&out);
	test_py_eq(py, "parts",
		   "text/plain,message/global-delivery-status,"
		   "message/global");
	test_py_eq(py, "to", "\xd0\xb4@a.example");
	free(py);
	assert_non_null(strstr(out.msg, "Final-Recipient: utf-8; "
					"\xc3\xa9t\xc3\xa9@b.example\r\n"));
	assert_non_null(strstr(out.msg, "Final-Recipient: rfc822; "
					"a???@b.example\r\n"));
	assert_non_null(strstr(out.msg, "charset=utf-8"));
	bounce_out_fini(&out);

	/* ASCII-only content under SMTPUTF8 stays plain 7bit. */
	in.sender = "s@a.example";
	r[0].addr = "x@b.example";
	r[1].addr = "y@b.example";
	in.orig = test_orig;
	in.orig_len = sizeof(test_orig) - 1;
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, 0);
	assert_non_null(strstr(out.msg, "Content-Transfer-Encoding: 7bit"));
	bounce_out_fini(&out);
}

/* ---- small rules ------------------------------------------------------- */

struct status_case {
	enum bounce_action action;
	const char *in, *want;
};

static void
test_status_table(void **state)
{
	static const struct status_case cases[] = {
	    {BOUNCE_ACTION_FAILED, "5.1.1", "5.1.1"},
	    {BOUNCE_ACTION_FAILED, "4.4.7", "5.4.7"},
	    {BOUNCE_ACTION_FAILED, "5.123.456", "5.123.456"},
	    {BOUNCE_ACTION_FAILED, "5.1234.1", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, "5.1.1 ", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, "5.1.", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, "5..1", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, "3.1.1", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, "", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, NULL, "5.0.0"},
	    {BOUNCE_ACTION_DELAYED, "4.4.1", "4.4.1"},
	    {BOUNCE_ACTION_DELAYED, "5.4.1", "4.4.1"},
	    {BOUNCE_ACTION_DELAYED, "x", "4.0.0"},
	    {BOUNCE_ACTION_DELIVERED, "2.0.0", "2.0.0"},
	    {BOUNCE_ACTION_RELAYED, "5.1.1", "2.1.1"},
	    {BOUNCE_ACTION_EXPANDED, NULL, "2.0.0"},
	};
	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		struct bounce_rcpt r = {.addr = "b@b.example",
					.action = cases[i].action,
					.status = cases[i].in};
		struct bounce_in in;
		struct bounce_out out;
		char want[64];

		test_in_init(&in, &r, 1);
		assert_int_equal(bounce_build(&in, &out), 0);
		snprintf(want, sizeof(want), "\r\nStatus: %s\r\n",
			 cases[i].want);
		if (strstr(out.msg, want) == NULL)
			fail_msg("case %zu: %s not found", i, want);
		snprintf(want, sizeof(want), "\r\nAction: %s\r\n",
			 bounce_action_str(cases[i].action));
		assert_non_null(strstr(out.msg, want));
		bounce_out_fini(&out);
	}
}

static void
test_build_refuses(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_rcpt bad = {.addr = NULL};
	struct bounce_in in;
	struct bounce_out out;

	(void)state;
	for (int i = 0; i < 11; i++) {
		test_in_init(&in, &r, 1);
		switch (i) {
		case 0:
			in.sender = "";
			break;
		case 1:
			in.sender = NULL;
			break;
		case 2:
			in.flags = BOUNCE_F_IS_DSN;
			break;
		case 3:
			in.nrcpt = 0;
			break;
		case 4:
			in.reporting_mta = "";
			break;
		case 5:
			in.now = 0;
			break;
		case 6:
			in.now = INT64_MAX;
			break;
		case 7:
			in.rcpts = &bad;
			break;
		case 8:
			in.kind = BOUNCE_KIND__COUNT;
			break;
		case 9:
			in.arrival = -5;
			break;
		case 10:
			r.last_attempt = INT64_MIN;
			break;
		}
		out.msg = (char *)"stale";
		if (bounce_build(&in, &out) != -EINVAL)
			fail_msg("case %d not refused", i);
		assert_null(out.msg);
		bounce_out_fini(&out);
		r.last_attempt = 0;
	}
}

static void
test_deterministic(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out a, b;

	(void)state;
	test_in_init(&in, &r, 1);
	assert_int_equal(bounce_build(&in, &a), 0);
	assert_int_equal(bounce_build(&in, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.msg, b.msg, a.len);
	assert_true(strncmp(a.message_id, "20231114221500.", 15) == 0);
	assert_non_null(strstr(a.message_id, "@mta.example"));
	bounce_out_fini(&b);
	in.seed = (const uint8_t *)"x";
	in.seed_len = 1;
	in.msgid_domain = "ids.example";
	assert_int_equal(bounce_build(&in, &b), 0);
	assert_string_not_equal(a.boundary, b.boundary);
	assert_string_not_equal(a.message_id, b.message_id);
	assert_non_null(strstr(b.message_id, "@ids.example"));
	bounce_out_fini(&a);
	bounce_out_fini(&b);
	bounce_out_fini(&b); /* idempotent */
}

struct notify_case {
	const char *sender;
	unsigned flags, notify;
	enum bounce_kind kind;
	bool want;
};

static void
test_should_send(void **state)
{
	enum {
		N = BOUNCE_NOTIFY_NEVER,
		S = BOUNCE_NOTIFY_SUCCESS,
		F = BOUNCE_NOTIFY_FAILURE,
		D = BOUNCE_NOTIFY_DELAY,
	};
	static const struct notify_case cases[] = {
	    {"a@b", 0, 0, BOUNCE_FAILED, true},
	    {"a@b", 0, 0, BOUNCE_DELAYED, true},
	    {"a@b", 0, 0, BOUNCE_DELIVERED, false},
	    {"a@b", 0, 0, BOUNCE_RELAYED, false},
	    {"", 0, 0, BOUNCE_FAILED, false},
	    {NULL, 0, F, BOUNCE_FAILED, false},
	    {"", 0, S, BOUNCE_DELIVERED, false},
	    {"a@b", BOUNCE_F_IS_DSN, F, BOUNCE_FAILED, false},
	    {"a@b", BOUNCE_F_IS_DSN, 0, BOUNCE_FAILED, false},
	    {"a@b", BOUNCE_F_SMTPUTF8, F, BOUNCE_FAILED, true},
	    {"a@b", 0, N, BOUNCE_FAILED, false},
	    {"a@b", 0, N | F, BOUNCE_FAILED, false},
	    {"a@b", 0, F, BOUNCE_FAILED, true},
	    {"a@b", 0, F, BOUNCE_DELAYED, false},
	    {"a@b", 0, F, BOUNCE_DELIVERED, false},
	    {"a@b", 0, D, BOUNCE_DELAYED, true},
	    {"a@b", 0, D, BOUNCE_FAILED, false},
	    {"a@b", 0, S, BOUNCE_DELIVERED, true},
	    {"a@b", 0, S, BOUNCE_RELAYED, true},
	    {"a@b", 0, S, BOUNCE_FAILED, false},
	    {"a@b", 0, S | F | D, BOUNCE_DELAYED, true},
	    {"a@b", 0, S | F | D, BOUNCE_KIND__COUNT, false},
	};
	(void)state;
	for (size_t i = 0; i < nitems(cases); i++)
		if (bounce_should_send(cases[i].sender, cases[i].flags,
				       cases[i].notify,
				       cases[i].kind) != cases[i].want)
			fail_msg("case %zu", i);
}

struct is_dsn_case {
	const char *hdr;
	bool want;
};

static void
test_is_dsn(void **state)
{
	static const struct is_dsn_case cases[] = {
	    {"Content-Type: multipart/report; "
	     "report-type=delivery-status;\r\n\tboundary=x\r\n\r\n",
	     true},
	    {"Subject: x\r\ncontent-type: Multipart/Report;\r\n "
	     "Report-Type=\"Delivery-Status\"\r\n\r\n",
	     true},
	    {"Content-Type: multipart/report; report-type = "
	     "global-delivery-status\n\n",
	     true},
	    {"Content-Type: multipart/report; "
	     "report-type=disposition-notification\r\n\r\n",
	     false},
	    {"Content-Type: multipart/reports; "
	     "report-type=delivery-status\r\n\r\n",
	     false},
	    {"Content-Type: text/plain\r\n\r\nContent-Type: multipart/report; "
	     "report-type=delivery-status\r\n",
	     false},
	    {"Subject: x\r\n\r\nContent-Type: multipart/report; "
	     "report-type=delivery-status\r\n",
	     false},
	    {"X-Content-Type: multipart/report; "
	     "report-type=delivery-status\r\n",
	     false},
	    {"Content-Type: multipart/report; report-type=delivery-statusx\r\n",
	     false},
	    {"Content-Type: multipart/report\r\nX: report-type=delivery-status"
	     "\r\n",
	     false},
	    {"", false},
	};
	(void)state;
	for (size_t i = 0; i < nitems(cases); i++)
		if (bounce_is_dsn(cases[i].hdr, strlen(cases[i].hdr)) !=
		    cases[i].want)
			fail_msg("case %zu", i);
}

/* Our own DSN is recognised as one (no bounce of a bounce). */
static void
test_own_dsn_is_dsn(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out out;

	(void)state;
	test_in_init(&in, &r, 1);
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_true(bounce_is_dsn(out.msg, out.len));
	bounce_out_fini(&out);
	assert_false(bounce_is_dsn(test_orig, sizeof(test_orig) - 1));
}

static void
test_strings(void **state)
{
	(void)state;
	assert_string_equal(bounce_kind_str(BOUNCE_DELAYED), "delayed");
	assert_string_equal(bounce_kind_str(BOUNCE_KIND__COUNT), "?");
	assert_string_equal(bounce_action_str(BOUNCE_ACTION_EXPANDED),
			    "expanded");
	assert_string_equal(bounce_action_str(BOUNCE_ACTION__COUNT), "?");
	assert_string_equal(bounce_ret_str(BOUNCE_RET_HDRS), "hdrs");
	assert_string_equal(bounce_ret_str(BOUNCE_RET__COUNT), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kinds),
	    cmocka_unit_test(test_big_original),
	    cmocka_unit_test(test_reader),
	    cmocka_unit_test(test_orig_want),
	    cmocka_unit_test(test_no_original),
	    cmocka_unit_test(test_original_canon),
	    cmocka_unit_test(test_hostile_diag),
	    cmocka_unit_test(test_boundary_collision),
	    cmocka_unit_test(test_hostile_addresses),
	    cmocka_unit_test(test_smtputf8),
	    cmocka_unit_test(test_status_table),
	    cmocka_unit_test(test_build_refuses),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_should_send),
	    cmocka_unit_test(test_is_dsn),
	    cmocka_unit_test(test_own_dsn_is_dsn),
	    cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
