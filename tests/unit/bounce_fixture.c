/* SPDX-License-Identifier: MIT */
/*
 * bounce_fixture.c: the DSN tests' validator (Python's email package
 * through popen()) and their sample input (bounce_fixture.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bounce_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The validator: reads the DSN from argv[1], asserts the line rules, and
 * prints "key=value" lines describing what the email package parsed.
 */
static const char bfx_py[] =
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

/* Run the validator on msg; the output goes to r->buf.  Returns status. */
int
bfx_py_run(const char *msg, size_t len, struct bfx_py_out *r)
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
	fputs(bfx_py, p);
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
const char *
bfx_py_get(struct bfx_py_out *r, const char *key)
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

/* See bounce_fixture.h. */
void
bfx_py_eq(struct bfx_py_out *r, const char *key, const char *want)
{
	const char *v = bfx_py_get(r, key);

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

/* See bounce_fixture.h. */
struct bfx_py_out *
bfx_py_check(const struct bounce_out *out)
{
	struct bfx_py_out *r = malloc(sizeof(*r));

	assert_non_null(r);
	if (bfx_py_run(out->msg, out->len, r) != 0)
		fail_msg("python rejected the DSN:\n%.*s\n%s", (int)out->len,
			 out->msg, r->buf);
	bfx_py_eq(r, "defects", "0");
	bfx_py_eq(r, "pdefects", "0");
	bfx_py_eq(r, "ct", "multipart/report");
	bfx_py_eq(r, "report-type", "delivery-status");
	assert_true(strncmp(bfx_py_get(r, "from"),
			    "Mail Delivery System <MAILER-DAEMON@", 36) == 0);
	bfx_py_eq(r, "date", "Tue, 14 Nov 2023 22:15:00 +0000");
	bfx_py_eq(r, "auto-submitted", "auto-replied");
	bfx_py_eq(r, "mime-version", "1.0");
	bfx_py_eq(r, "bcc", "None");
	/* From To Subject Date Message-ID MIME Auto CT CTE: nothing else. */
	bfx_py_eq(r, "nkeys", "9");
	return r;
}

const char bfx_orig[] = "From: Alice <alice@a.example>\r\n"
			"To: bob@b.example\r\n"
			"Subject: lunch\r\n"
			"Message-ID: <1@a.example>\r\n"
			"\r\n"
			"See you at noon.\r\n";

const size_t bfx_orig_len = sizeof(bfx_orig) - 1;

/* See bounce_fixture.h. */
void
bfx_in_init(struct bounce_in *in, struct bounce_rcpt *r, size_t nrcpt)
{
	*in = (struct bounce_in){
	    .reporting_mta = "mta.example",
	    .sender = "alice@a.example",
	    .kind = BOUNCE_FAILED,
	    .rcpts = r,
	    .nrcpt = nrcpt,
	    .orig = bfx_orig,
	    .orig_len = bfx_orig_len,
	    .seed = (const uint8_t *)"0123456789abcdef",
	    .seed_len = 16,
	    .now = BFX_NOW,
	};
}
