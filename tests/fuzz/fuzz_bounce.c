/* SPDX-License-Identifier: MIT */
/*
 * fuzz_bounce.c: DSN generation from hostile fields.
 *
 * Input: byte 0 = bits 0-1 kind, 2-3 RET, 4 SMTPUTF8, 5-6 recipients - 1,
 * 7 small limits; byte 1 = reader chunk size (0: all at once); the rest
 * is split at "\xde\xad" into sender, recipient, ORCPT, diagnostic, remote
 * MTA, ENVID, status, original message (later fields may be missing).
 * Properties checked on every DSN built:
 *   1. it is built (only the null sender is refused), NUL-free, CRLF only,
 *      every line <= 998 bytes, and identical through the reader;
 *   2. its header section holds exactly our nine fields in order (any other
 *      line is a fold) and ends where expected;
 *   3. the boundary occurs (any case) exactly once per delimiter, each at a
 *      line start, plus once in Content-Type; every part header holds only
 *      Content-* fields;
 *   4. no 8-bit byte unless flagged, and without SMTPUTF8 none outside
 *      part 3;
 *   5. no white-space-only line before part 3.
 */
#include "bounce.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

enum {
	FZ_SENDER = 0,
	FZ_RCPT,
	FZ_ORCPT,
	FZ_DIAG,
	FZ_MTA,
	FZ_ENVID,
	FZ_STATUS,
	FZ_ORIG,
	FZ__COUNT /* must stay last */
};

struct fz_reader {
	const char *p;
	size_t len, chunk;
};

static ssize_t
fz_read(void *arg, uint64_t off, char *buf, size_t len)
{
	struct fz_reader *r = arg;
	size_t n;

	if (off >= r->len)
		return 0;
	n = r->len - off;
	if (n > len)
		n = len;
	if (r->chunk && n > r->chunk)
		n = r->chunk;
	memcpy(buf, r->p + off, n);
	return (ssize_t)n;
}

/* Split at "\xde\xad"; string fields are NUL-terminated copies. */
static void
fz_split(const uint8_t *d, size_t n, char **f, size_t *flen)
{
	size_t k = 0, start = 0;

	for (size_t i = 0; i <= n && k < FZ__COUNT; i++) {
		bool end = i == n || (i + 1 < n && d[i] == 0xde &&
				      d[i + 1] == 0xad && k + 1 < FZ__COUNT);

		if (!end)
			continue;
		flen[k] = i - start;
		f[k] = malloc(flen[k] + 1);
		memcpy(f[k], d + start, flen[k]);
		f[k][flen[k]] = '\0';
		k++;
		start = i + 2;
		if (i == n)
			break;
		i++;
	}
	for (; k < FZ__COUNT; k++) {
		f[k] = calloc(1, 1);
		flen[k] = 0;
	}
}

static const char *const fz_fields[] = {
    "From: ",           "To: ",           "Subject: ",
    "Date: ",           "Message-ID: ",   "MIME-Version: ",
    "Auto-Submitted: ", "Content-Type: ", "Content-Transfer-Encoding: ",
};

/* Property 1 and 2; returns the offset of the body. */
static size_t
fz_check_lines(const struct bounce_out *o)
{
	size_t col = 0, nf = 0, body = 0;
	bool line_start = true;

	FZ_CHECK(o->msg[o->len] == '\0');
	for (size_t i = 0; i < o->len; i++) {
		char c = o->msg[i];

		FZ_CHECK(c != '\0');
		if (c == '\r') {
			FZ_CHECK(i + 1 < o->len && o->msg[i + 1] == '\n');
			continue;
		}
		if (c == '\n') {
			FZ_CHECK(i > 0 && o->msg[i - 1] == '\r');
			if (body == 0 && col == 0) {
				body = i + 1;
				FZ_CHECK(nf == nitems(fz_fields));
			}
			col = 0;
			line_start = true;
			continue;
		}
		FZ_CHECK(++col <= BOUNCE_LINE_MAX + 0u);
		if (body == 0 && line_start && (c == ' ' || c == '\t')) {
			size_t k = i;

			/* A fold line is never white space only. */
			while (o->msg[k] == ' ' || o->msg[k] == '\t')
				k++;
			FZ_CHECK(o->msg[k] != '\r');
		}
		if (body == 0 && line_start && c != ' ' && c != '\t') {
			const char *f =
			    nf < nitems(fz_fields) ? fz_fields[nf] : NULL;

			FZ_CHECK(f != NULL &&
				 strncmp(o->msg + i, f, strlen(f)) == 0);
			nf++;
		}
		line_start = false;
	}
	FZ_CHECK(body > 0 && o->len >= 2 && o->msg[o->len - 1] == '\n');
	return body;
}

/*
 * Before part 3 (all ours), no line is white space only: a lenient parser
 * could take it for the empty line that ends a header or a status block.
 */
static void
fz_check_blank(const struct bounce_out *o, size_t body)
{
	const char *end = o->msg + body, *l = o->msg;

	for (int k = 0; k < 3 && end != NULL; k++)
		end = strstr(end + 1, o->boundary);
	if (end == NULL)
		end = o->msg + o->len;
	while (l < end) {
		size_t n = strcspn(l, "\r"), ws = strspn(l, " \t");

		FZ_CHECK(n == 0 || ws < n);
		l += n + 2;
	}
}

/* Property 3 and 4. */
static void
fz_check_parts(const struct bounce_out *o, size_t body, bool utf8)
{
	size_t bl = strlen(o->boundary), delims = 0, last = 0;
	int nparts = o->flags & BOUNCE_OUT_NO_ORIG ? 2 : 3;

	FZ_CHECK(bl > 10);
	for (size_t i = 0; i + bl <= o->len; i++) {
		if (strncasecmp(o->msg + i, o->boundary, bl) != 0)
			continue;
		if (i < body)
			continue; /* the Content-Type parameter */
		FZ_CHECK(i >= 4 && memcmp(o->msg + i - 4, "\r\n--", 4) == 0);
		delims++;
		last = i;
		if ((int)delims > nparts)
			continue;
		/* The part header: Content-* lines, then an empty one. */
		for (size_t p = i + bl + 2;;) {
			if (memcmp(o->msg + p, "\r\n", 2) == 0)
				break;
			FZ_CHECK(strncmp(o->msg + p, "Content-", 8) == 0);
			p = (size_t)(strstr(o->msg + p, "\r\n") - o->msg) + 2;
		}
	}
	FZ_CHECK((int)delims == nparts + 1);
	fz_check_blank(o, body);
	FZ_CHECK(strcmp(o->msg + last + bl, "--\r\n") == 0);
	for (size_t i = 0; i < o->len; i++) {
		if ((unsigned char)o->msg[i] < 0x80)
			continue;
		FZ_CHECK(o->flags & BOUNCE_OUT_8BIT);
		if (!utf8) {
			/* Only inside part 3: after its delimiter. */
			const char *p3 = o->msg + body;

			for (int k = 0; k < 3 && p3 != NULL; k++)
				p3 = strstr(p3 + 1, o->boundary);
			FZ_CHECK(p3 != NULL && o->msg + i > p3);
		}
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[FZ__COUNT];
	size_t flen[FZ__COUNT];
	struct bounce_rcpt r[4];
	struct bounce_in in;
	struct bounce_out o1, o2;
	struct fz_reader rd;
	uint8_t b0, b1;
	int rc;

	if (size < 2)
		return 0;
	b0 = data[0];
	b1 = data[1];
	fz_split(data + 2, size - 2, f, flen);
	for (size_t i = 0; i < 4; i++)
		r[i] = (struct bounce_rcpt){
		    .addr = f[FZ_RCPT],
		    .orcpt = i & 1 ? f[FZ_ORCPT] : NULL,
		    .action = (enum bounce_action)((b0 + i) % 5),
		    .status = f[FZ_STATUS],
		    .remote_mta = i & 2 ? NULL : f[FZ_MTA],
		    .diag = i == 3 ? NULL : f[FZ_DIAG],
		    .diag_len = flen[FZ_DIAG],
		    .diag_type = i == 2 ? f[FZ_MTA] : NULL,
		    .last_attempt = 1700000000,
		    .retry_until = 1700300000,
		};
	in = (struct bounce_in){
	    .reporting_mta = "mta.example",
	    .sender = f[FZ_SENDER],
	    .flags = b0 & 0x10 ? BOUNCE_F_SMTPUTF8 : 0,
	    .envid = flen[FZ_ENVID] ? f[FZ_ENVID] : NULL,
	    .ret = (enum bounce_ret)((b0 >> 2) % 3),
	    .arrival = 1699990000,
	    .queue_id = "Q1",
	    .kind = (enum bounce_kind)(b0 & 3),
	    .rcpts = r,
	    .nrcpt = 1 + ((b0 >> 5) & 3),
	    .orig = f[FZ_ORIG],
	    .orig_len = flen[FZ_ORIG],
	    .seed = data,
	    .seed_len = 2,
	    .now = 1700000100,
	    .max_body = b0 & 0x80 ? 64 : 0,
	    .max_headers = b0 & 0x80 ? 32 : 0,
	};
	rc = bounce_build(&in, &o1);
	if (f[FZ_SENDER][0] == '\0') {
		FZ_CHECK(rc == -EINVAL && o1.msg == NULL);
		goto out;
	}
	FZ_CHECK(rc == 0);
	fz_check_parts(&o1, fz_check_lines(&o1), (b0 & 0x10) != 0);
	rd = (struct fz_reader){f[FZ_ORIG], flen[FZ_ORIG], b1};
	in.orig = NULL;
	in.orig_read = fz_read;
	in.orig_arg = &rd;
	FZ_CHECK(bounce_build(&in, &o2) == 0);
	FZ_CHECK(o1.len == o2.len && memcmp(o1.msg, o2.msg, o1.len) == 0);
	bounce_out_fini(&o2);
	bounce_out_fini(&o1);
out:
	for (size_t i = 0; i < FZ__COUNT; i++)
		free(f[i]);
	return 0;
}
