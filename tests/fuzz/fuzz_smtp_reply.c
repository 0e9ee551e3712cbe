/* SPDX-License-Identifier: MIT */
/*
 * fuzz_smtp_reply.c: the reply and EHLO parser against arbitrary server
 * bytes split at arbitrary points.
 *
 * Input: byte 0 = bits 0-2 number of split sizes, bit 3 ask for EHLO caps,
 * bits 4-7 a limit selector (0 = default caps, else small caps that the
 * fuzzer can reach); then that many split sizes (each + 1); the rest is the
 * stream.  One parser gets the whole stream, another the chunks; both must
 * report the same replies, capabilities and errors at the same offsets, and
 * every reply must satisfy the documented invariants (code 200..599, text
 * free of control bytes and valid UTF-8, used <= len, errors final).
 */
#include "smtp_reply.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

struct fz_side {
	struct reply_parser p;
	struct reply_caps caps;
	const char *in;
	size_t len, off;
	bool ehlo;
};

/* Strict UTF-8 (RFC 3629) and no byte below 0x20 or 0x7f. */
static void
fz_check_text(const char *s, size_t n)
{
	size_t i = 0;

	FZ_CHECK(n <= REPLY_TEXT_MAX && strlen(s) == n);
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		unsigned char c1 = i + 1 < n ? (unsigned char)s[i + 1] : 0;

		FZ_CHECK(c >= 0x20 && c != 0x7f);
		FZ_CHECK(c < 0x80 || (c >= 0xc2 && c <= 0xf4));
		FZ_CHECK(i + k <= n);
		FZ_CHECK(c != 0xe0 || c1 >= 0xa0);
		FZ_CHECK(c != 0xed || c1 <= 0x9f);
		FZ_CHECK(c != 0xf0 || c1 >= 0x90);
		FZ_CHECK(c != 0xf4 || c1 <= 0x8f);
		for (size_t j = 1; j < k; j++)
			FZ_CHECK(((unsigned char)s[i + j] & 0xc0) == 0x80);
		i += k;
	}
}

static void
fz_check_reply(const struct smtp_reply *r, const struct reply_caps *caps,
	       bool ehlo)
{
	FZ_CHECK(r->code >= 200 && r->code <= 599);
	FZ_CHECK(reply_class(r->code) == r->code / 100);
	FZ_CHECK(r->lines >= 1);
	FZ_CHECK(r->esc_class == 0 || r->esc_class == (unsigned)r->code / 100);
	FZ_CHECK(r->esc_class != 0 || (r->esc_subject | r->esc_detail) == 0);
	FZ_CHECK(r->esc_subject <= 999 && r->esc_detail <= 999);
	fz_check_text(r->text, r->text_len);
	if (ehlo && r->code != 250)
		FZ_CHECK((caps->flags | caps->auth | caps->unknown |
			  caps->auth_other) == 0 &&
			 caps->size_max == 0);
	FZ_CHECK((caps->flags >> REPLY_CAP__COUNT) == 0);
	FZ_CHECK((caps->auth >> REPLY_AUTH__COUNT) == 0);
	if (ehlo) {
		char buf[REPLY_CAPS_STR_MAX], small[8];

		reply_caps_str(caps, buf, sizeof(buf));
		FZ_CHECK(strlen(buf) < sizeof(buf) - 1);
		reply_caps_str(caps, small, sizeof(small));
		FZ_CHECK(strncmp(buf, small, strlen(small)) == 0);
	}
}

/* One call on side s over in[off..end); checks what does not need a peer. */
static int
fz_step(struct fz_side *s, size_t end, size_t *used_r, struct smtp_reply *r)
{
	int rc = reply_parse(&s->p, s->in + s->off, end - s->off, used_r, r);

	FZ_CHECK(*used_r <= end - s->off);
	s->off += *used_r;
	if (rc < 0) {
		size_t again;

		FZ_CHECK(rc == -EBADMSG || rc == -EMSGSIZE);
		FZ_CHECK(*used_r > 0);
		FZ_CHECK(reply_parser_error(&s->p) != REPLY_ERR_NONE);
		FZ_CHECK(!reply_parser_idle(&s->p));
		FZ_CHECK(reply_parse(&s->p, "250 x\r\n", 7, &again, r) == rc);
		FZ_CHECK(again == 0);
		return rc;
	}
	FZ_CHECK(reply_parser_error(&s->p) == REPLY_ERR_NONE);
	if (rc == 0) {
		FZ_CHECK(s->off == end);
		return 0;
	}
	FZ_CHECK(rc == 1 && *used_r > 0);
	FZ_CHECK(reply_parser_idle(&s->p));
	fz_check_reply(r, &s->caps, s->ehlo);
	return 1;
}

static void
fz_rearm(struct fz_side *s)
{
	if (s->ehlo)
		reply_parser_want_ehlo(&s->p, &s->caps);
}

/* The whole-stream side must agree with what the chunked side just saw. */
static void
fz_agree(struct fz_side *whole, int rc, size_t off, const struct smtp_reply *r,
	 const struct reply_caps *caps)
{
	struct smtp_reply w;
	size_t used;
	int wrc = fz_step(whole, whole->len, &used, &w);

	FZ_CHECK(wrc == rc && whole->off == off);
	if (rc != 1)
		return;
	FZ_CHECK(w.code == r->code && w.lines == r->lines);
	FZ_CHECK(w.esc_class == r->esc_class &&
		 w.esc_subject == r->esc_subject &&
		 w.esc_detail == r->esc_detail);
	FZ_CHECK(w.truncated == r->truncated && w.text_len == r->text_len);
	FZ_CHECK(memcmp(w.text, r->text, w.text_len) == 0);
	FZ_CHECK(memcmp(&whole->caps, caps, sizeof(*caps)) == 0);
	fz_rearm(whole);
}

static void
fz_init(struct fz_side *s, const char *in, size_t len, unsigned sel, bool ehlo)
{
	size_t line_max = sel ? REPLY_LINE_MAX_MIN + sel * 64 : 0;
	size_t total_max = sel ? line_max + sel * 256 : 0;

	memset(s, 0, sizeof(*s));
	reply_parser_init(&s->p, line_max, total_max);
	s->in = in;
	s->len = len;
	s->ehlo = ehlo;
	fz_rearm(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_side whole, split;
	size_t nsplit, k = 0;
	struct smtp_reply r;
	const char *in;
	size_t len, used;
	int rc = 0;

	if (size < 1)
		return 0;
	nsplit = data[0] & 7;
	if (size < 1 + nsplit)
		return 0;
	in = (const char *)data + 1 + nsplit;
	len = size - 1 - nsplit;
	fz_init(&whole, in, len, data[0] >> 4, (data[0] & 8) != 0);
	fz_init(&split, in, len, data[0] >> 4, (data[0] & 8) != 0);
	while (rc >= 0 && split.off < len) {
		size_t end = len;

		if (nsplit > 0) {
			size_t step = data[1 + k++ % nsplit] + 1u;

			end = MIN(len, split.off + step);
		}
		do {
			rc = fz_step(&split, end, &used, &r);
			if (rc != 0)
				fz_agree(&whole, rc, split.off, &r,
					 &split.caps);
			if (rc == 1)
				fz_rearm(&split);
		} while (rc == 1 && split.off < end);
	}
	if (rc >= 0) {
		/* both consumed everything; both hold the same partial reply */
		FZ_CHECK(reply_parse(&whole.p, in + whole.off, len - whole.off,
				     &used, &r) == 0);
		FZ_CHECK(reply_parser_idle(&whole.p) ==
			 reply_parser_idle(&split.p));
	}
	return 0;
}
