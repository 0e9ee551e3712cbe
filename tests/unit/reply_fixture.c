/* SPDX-License-Identifier: MIT */
/*
 * reply_fixture.c: the reply tests' recorder (reply_fixture.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "reply_fixture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rt_run rt_base, rt_other;
size_t rt_line_max, rt_total_max;
const char *rt_case;
size_t rt_case_idx;

/* See reply_fixture.h. */
void
rt_check_reply(const struct smtp_reply *r)
{
	assert_in_range(r->code, 200, 599);
	assert_true(r->lines >= 1);
	assert_int_equal(strlen(r->text), r->text_len);
	assert_true(r->text_len <= REPLY_TEXT_MAX);
	for (size_t i = 0; i < r->text_len; i++) {
		unsigned char c = (unsigned char)r->text[i];

		assert_true(c >= 0x20 && c != 0x7f);
	}
	if (r->esc_class != 0)
		assert_int_equal(r->esc_class, reply_class(r->code));
	else
		assert_true(r->esc_subject == 0 && r->esc_detail == 0);
}

static void
rt_record(struct rt_run *run, const struct smtp_reply *r, size_t end,
	  const struct reply_caps *caps)
{
	struct rt_reply *x;

	rt_check_reply(r);
	assert_true(run->n < RT_MAX);
	x = &run->r[run->n++];
	x->code = r->code;
	x->esc[0] = r->esc_class;
	x->esc[1] = r->esc_subject;
	x->esc[2] = r->esc_detail;
	x->lines = r->lines;
	x->truncated = r->truncated;
	x->text_len = r->text_len;
	memcpy(x->text, r->text, r->text_len + 1);
	x->end = end;
	x->caps = *caps;
	if (r->code != 250)
		assert_int_equal(caps->flags | caps->auth | caps->unknown, 0);
}

/*
 * Feed in[0..len) in chunks ending at the sorted offsets cuts[]; with ehlo,
 * ask for the capabilities of every reply.  Returns false on an error.
 */
static bool
rt_feed(struct reply_parser *p, struct rt_run *run, const char *in, size_t *off,
	size_t end, bool ehlo, struct reply_caps *caps)
{
	struct smtp_reply r;
	size_t used;
	int rc;

	do {
		rc = reply_parse(p, in + *off, end - *off, &used, &r);
		assert_true(used <= end - *off);
		*off += used;
		if (rc < 0) {
			assert_true(rc == -EBADMSG || rc == -EMSGSIZE);
			assert_true(used > 0);
			run->rc = rc;
			return false;
		}
		if (rc == 0) {
			assert_int_equal(*off, end);
			return true;
		}
		assert_int_equal(rc, 1);
		assert_true(used > 0);
		rt_record(run, &r, *off, caps);
		if (ehlo)
			reply_parser_want_ehlo(p, caps);
	} while (*off < end);
	return true;
}

/* See reply_fixture.h. */
void
rt_run_stream(struct rt_run *run, const char *in, size_t len,
	      const size_t *cuts, size_t ncuts, bool ehlo)
{
	struct reply_parser p;
	struct reply_caps caps;
	size_t off = 0;

	run->n = 0;
	run->rc = 0;
	memset(&caps, 0, sizeof(caps));
	reply_parser_init(&p, rt_line_max, rt_total_max);
	if (ehlo)
		reply_parser_want_ehlo(&p, &caps);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		if (!rt_feed(&p, run, in, &off, end, ehlo, &caps))
			break;
	}
	run->off = off;
	run->err = reply_parser_error(&p);
	run->idle = reply_parser_idle(&p);
	assert_int_equal(run->err == REPLY_ERR_NONE, run->rc == 0);
}

/* See reply_fixture.h. */
void
rt_assert_same(const struct rt_run *a, const struct rt_run *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct rt_reply *x = &a->r[i], *y = &b->r[i];

		assert_int_equal(x->code, y->code);
		assert_memory_equal(x->esc, y->esc, sizeof(x->esc));
		assert_int_equal(x->lines, y->lines);
		assert_int_equal(x->truncated, y->truncated);
		assert_string_equal(x->text, y->text);
		assert_int_equal(x->end, y->end);
		assert_memory_equal(&x->caps, &y->caps, sizeof(x->caps));
	}
	assert_int_equal(a->rc, b->rc);
	assert_int_equal(a->off, b->off);
	assert_int_equal(a->err, b->err);
	assert_int_equal(a->idle, b->idle);
}

/* Whole, byte by byte, every 2-part split and (short) every 3-part split. */
void
rt_check_splits(const char *in, size_t len, bool ehlo)
{
	size_t cuts[2];
	size_t *all = calloc(len + 1, sizeof(*all));

	assert_non_null(all);
	rt_run_stream(&rt_base, in, len, NULL, 0, ehlo);
	for (size_t i = 0; i < len; i++)
		all[i] = i;
	rt_run_stream(&rt_other, in, len, all, len, ehlo);
	rt_assert_same(&rt_base, &rt_other);
	free(all);
	for (size_t i = 0; i <= len; i++) {
		cuts[0] = i;
		rt_run_stream(&rt_other, in, len, cuts, 1, ehlo);
		rt_assert_same(&rt_base, &rt_other);
		for (size_t j = i; len <= 48 && j <= len; j++) {
			cuts[1] = j;
			rt_run_stream(&rt_other, in, len, cuts, 2, ehlo);
			rt_assert_same(&rt_base, &rt_other);
		}
	}
}

/* See reply_fixture.h. */
int
rt_setup(void **state)
{
	(void)state;
	rt_line_max = 0;
	rt_total_max = 0;
	rt_case = NULL;
	return 0;
}

/* Runs after a failure too: name the table entry that failed. */
int
rt_teardown(void **state)
{
	(void)state;
	if (rt_case != NULL)
		print_error("failed at %s[%zu]\n", rt_case, rt_case_idx);
	return 0;
}
