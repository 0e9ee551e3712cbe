/* SPDX-License-Identifier: MIT */
/*
 * test_record_table: valid and invalid record heads and headers, built by
 * hand (record_fixture.c) and decoded: required and duplicate tags, ranges,
 * nesting, unknown and critical tags, versions (-ENOTSUP) and flags.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "record.h"
#include "record_fixture.h"

struct dcase {
	const char *name;
	uint8_t type, version;
	uint16_t flags;
	uint32_t rsvd;
	unsigned omit;    /* MSG: leave this tag out of the base envelope */
	int no_base;      /* do not add the base envelope/fields */
	uint16_t tag;     /* an extra TLV (0xffff: none) */
	uint32_t len;     /* its length */
	const char *val;  /* its value (NULL: len bytes of 'x') */
	int no_end;       /* MSG: leave out END */
	const char *tail; /* MSG: bytes after END inside the head */
	int rc;
};

#define NOTAG 0xffff

/* Build the head for a table case. */
static void
dcase_head(const struct dcase *c, struct tw *w)
{
	uint8_t fill[RECORD_ADDR_MAX + 8];

	memset(fill, 'x', sizeof(fill));
	if (!c->no_base && c->type == RECORD_T_MSG)
		tw_msg_env(w, c->omit);
	if (!c->no_base && c->type == RECORD_T_RCPT) {
		tw_tlv(w, RECORD_TAG_MSGID, tw_id, 16);
		tw_uint(w, RECORD_TAG_INDEX, 0, 4);
		if (c->omit != RECORD_TAG_STATE)
			tw_uint(w, RECORD_TAG_STATE, RECORD_RS_DELIVERED, 1);
		tw_uint(w, RECORD_TAG_TIME, 1, 8);
	}
	if (!c->no_base && c->type == RECORD_T_DONE) {
		tw_tlv(w, RECORD_TAG_MSGID, tw_id, 16);
		if (c->omit != RECORD_TAG_TIME)
			tw_uint(w, RECORD_TAG_TIME, 1, 8);
	}
	if (c->tag != NOTAG)
		tw_tlv(w, c->tag, c->val ? (const void *)c->val : fill, c->len);
	if (c->type == RECORD_T_MSG && !c->no_end)
		tw_tlv(w, RECORD_TAG_END, NULL, 0);
	if (c->tail != NULL)
		tw_bytes(w, c->tail, strlen(c->tail));
}

#define T_MSG     RECORD_T_MSG, 1, 0, 0
#define T_MSG2    RECORD_T_MSG, 2, 0, 0
#define T_RCPT    RECORD_T_RCPT, 1, 0, 0
#define T_DONE    RECORD_T_DONE, 1, 0, 0
#define NESTED(s) sizeof(s) - 1, (s)

/* Table-driven: valid and invalid heads and headers, built by hand. */
static void
test_decode_table(void **state)
{
	static const struct dcase cases[] = {
	    {"msg ok", T_MSG, 0, 0, NOTAG, 0, NULL, 0, NULL, 1},
	    {"msg no msgid", T_MSG, RECORD_TAG_MSGID, 0, NOTAG, 0, NULL, 0,
	     NULL, -EBADMSG},
	    {"msg no received", T_MSG, RECORD_TAG_RECEIVED, 0, NOTAG, 0, NULL,
	     0, NULL, -EBADMSG},
	    {"msg no sender", T_MSG, RECORD_TAG_SENDER, 0, NOTAG, 0, NULL, 0,
	     NULL, -EBADMSG},
	    {"msg no rcpt", T_MSG, RECORD_TAG_RCPT, 0, NOTAG, 0, NULL, 0, NULL,
	     -EBADMSG},
	    {"msg no end", T_MSG, 0, 0, NOTAG, 0, NULL, 1, NULL, -EBADMSG},
	    {"msg end with value", T_MSG, 0, 0, RECORD_TAG_END, 1, "z", 1, NULL,
	     -EBADMSG},
	    {"msg bytes after end", T_MSG, 0, 0, NOTAG, 0, NULL, 0, "zzzzzz",
	     -EBADMSG},
	    {"msg empty sender", T_MSG, RECORD_TAG_SENDER, 0, RECORD_TAG_SENDER,
	     0, "", 0, NULL, 1},
	    {"msg dup sender", T_MSG, 0, 0, RECORD_TAG_SENDER, 1, "s", 0, NULL,
	     -EBADMSG},
	    {"msg msgid 15", T_MSG, RECORD_TAG_MSGID, 0, RECORD_TAG_MSGID, 15,
	     NULL, 0, NULL, -EBADMSG},
	    {"msg msgid 17", T_MSG, RECORD_TAG_MSGID, 0, RECORD_TAG_MSGID, 17,
	     NULL, 0, NULL, -EBADMSG},
	    {"msg received 4", T_MSG, RECORD_TAG_RECEIVED, 0,
	     RECORD_TAG_RECEIVED, 4, "1234", 0, NULL, -EBADMSG},
	    {"msg empty envid", T_MSG, 0, 0, RECORD_TAG_ENVID, 0, "", 0, NULL,
	     -EBADMSG},
	    {"msg envid max", T_MSG, 0, 0, RECORD_TAG_ENVID, RECORD_ENVID_MAX,
	     NULL, 0, NULL, 1},
	    {"msg envid max+1", T_MSG, 0, 0, RECORD_TAG_ENVID,
	     RECORD_ENVID_MAX + 1, NULL, 0, NULL, -EBADMSG},
	    {"msg sender max+1", T_MSG, RECORD_TAG_SENDER, 0, RECORD_TAG_SENDER,
	     RECORD_ADDR_MAX + 1, NULL, 0, NULL, -EBADMSG},
	    {"msg ret 2", T_MSG, 0, 0, RECORD_TAG_RET, 1, "\x02", 0, NULL, 1},
	    {"msg ret 3", T_MSG, 0, 0, RECORD_TAG_RET, 1, "\x03", 0, NULL,
	     -EBADMSG},
	    {"msg ret 0 written", T_MSG, 0, 0, RECORD_TAG_RET, 1, "\x00", 0,
	     NULL, -EBADMSG},
	    {"msg flags unknown bit", T_MSG, 0, 0, RECORD_TAG_MSG_FLAGS, 4,
	     "\x40\0\0\0", 0, NULL, -EBADMSG},
	    {"msg flags u16", T_MSG, 0, 0, RECORD_TAG_MSG_FLAGS, 2, "\x01\0", 0,
	     NULL, -EBADMSG},
	    {"msg unknown tag skipped", T_MSG, 0, 0, 0x0100, 3, "abc", 0, NULL,
	     1},
	    {"msg unknown critical", T_MSG, 0, 0, 0x8100, 3, "abc", 0, NULL,
	     -ENOTSUP},
	    {"msg known critical", T_MSG, 0, 0, 0x8000 | RECORD_TAG_ENVID, 1,
	     "e", 0, NULL, -ENOTSUP},
	    {"msg tag of rcpt record", T_MSG, 0, 0, RECORD_TAG_INDEX, 4,
	     "\0\0\0\0", 0, NULL, -EBADMSG},
	    {"msg nested tag at top", T_MSG, 0, 0, RECORD_TAG_ADDR, 3, "a@b", 0,
	     NULL, -EBADMSG},
	    {"rcpt empty addr", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\0\0\0\0"), 0, NULL, -EBADMSG},
	    {"rcpt no addr", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0c\0\x01\0\0\0\x02"), 0, NULL, -EBADMSG},
	    {"rcpt notify bad", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x0c\0\x01\0\0\0\x10"), 0, NULL,
	     -EBADMSG},
	    {"rcpt notify ok", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x0c\0\x01\0\0\0\x0f"), 0, NULL, 1},
	    {"rcpt nested end", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\0\0\0\0\0\0"), 0, NULL, -EBADMSG},
	    {"rcpt nested unknown", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x77\0\x01\0\0\0q"), 0, NULL, 1},
	    {"rcpt nested critical", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x77\x80\x01\0\0\0q"), 0, NULL, -ENOTSUP},
	    {"rcpt nested overrun", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x09\0\0\0a"), 0, NULL, -EBADMSG},
	    {"rcpt nested dup addr", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x0b\0\x01\0\0\0b"), 0, NULL, -EBADMSG},
	    {"rcpt nested short tlv", T_MSG, 0, 0, RECORD_TAG_RCPT,
	     NESTED("\x0b\0\x01\0\0\0a\x0b\0"), 0, NULL, -EBADMSG},
	    {"msg trailing 3 bytes", T_MSG, 0, 0, NOTAG, 0, NULL, 1,
	     "\x01\x01\x01", -EBADMSG},
	    {"msg version 2", RECORD_T_MSG, 2, 0, 0, 0, 0, NOTAG, 0, NULL, 0,
	     NULL, 1},
	    {"msg version 3", RECORD_T_MSG, 3, 0, 0, 0, 0, NOTAG, 0, NULL, 0,
	     NULL, -ENOTSUP},
	    {"rcpt version 2", RECORD_T_RCPT, 2, 0, 0, 0, 0, NOTAG, 0, NULL, 0,
	     NULL, -ENOTSUP},
	    {"done version 2", RECORD_T_DONE, 2, 0, 0, 0, 0, NOTAG, 0, NULL, 0,
	     NULL, -ENOTSUP},
	    {"msg v1 wire", T_MSG, 0, 0, RECORD_TAG_MSG_FLAGS, 4, "\x08\0\0\0",
	     0, NULL, -EBADMSG},
	    {"msg v1 stuff", T_MSG, 0, 0, RECORD_TAG_MSG_FLAGS, 4, "\x10\0\0\0",
	     0, NULL, -EBADMSG},
	    {"msg v1 all v1 flags", T_MSG, 0, 0, RECORD_TAG_MSG_FLAGS, 4,
	     "\x07\0\0\0", 0, NULL, 1},
	    {"msg v2 wire", T_MSG2, 0, 0, RECORD_TAG_MSG_FLAGS, 4, "\x08\0\0\0",
	     0, NULL, 1},
	    {"msg v2 wire stuff", T_MSG2, 0, 0, RECORD_TAG_MSG_FLAGS, 4,
	     "\x18\0\0\0", 0, NULL, 1},
	    {"msg v2 unknown bit", T_MSG2, 0, 0, RECORD_TAG_MSG_FLAGS, 4,
	     "\x20\0\0\0", 0, NULL, -EBADMSG},
	    {"version 0", RECORD_T_MSG, 0, 0, 0, 0, 0, NOTAG, 0, NULL, 0, NULL,
	     -EBADMSG},
	    {"type 0", 0, 1, 0, 0, 0, 1, NOTAG, 0, NULL, 0, NULL, -EBADMSG},
	    {"type unknown", 9, 1, 0, 0, 0, 1, 0x0100, 1, "z", 0, NULL,
	     -ENOTSUP},
	    {"type unknown skippable", 9, 1, RECORD_F_SKIPPABLE, 0, 0, 1,
	     0x0100, 1, "z", 0, NULL, 1},
	    {"flag unknown", RECORD_T_MSG, 1, 0x0004, 0, 0, 0, NOTAG, 0, NULL,
	     0, NULL, -ENOTSUP},
	    {"reserved set", RECORD_T_MSG, 1, 0, 1, 0, 0, NOTAG, 0, NULL, 0,
	     NULL, -EBADMSG},
	    {"rcpt ok", T_RCPT, 0, 0, NOTAG, 0, NULL, 0, NULL, 1},
	    {"rcpt copy flag", RECORD_T_RCPT, 1, RECORD_F_COPY, 0, 0, 0, NOTAG,
	     0, NULL, 0, NULL, -EBADMSG},
	    {"rcpt no state", T_RCPT, RECORD_TAG_STATE, 0, NOTAG, 0, NULL, 0,
	     NULL, -EBADMSG},
	    {"rcpt state 6", T_RCPT, RECORD_TAG_STATE, 0, RECORD_TAG_STATE, 1,
	     "\x06", 0, NULL, -EBADMSG},
	    {"rcpt deferred no next", T_RCPT, RECORD_TAG_STATE, 0,
	     RECORD_TAG_STATE, 1, "\x01", 0, NULL, -EBADMSG},
	    {"rcpt next without deferred", T_RCPT, 0, 0, RECORD_TAG_NEXT_TRY, 8,
	     "\x01\0\0\0\0\0\0\0", 0, NULL, -EBADMSG},
	    {"rcpt count 0", T_RCPT, 0, 0, RECORD_TAG_COUNT, 4, "\0\0\0\0", 0,
	     NULL, -EBADMSG},
	    {"rcpt count max", T_RCPT, 0, 0, RECORD_TAG_COUNT, 4,
	     "\xa0\x86\x01\0", 0, NULL, 1},
	    {"rcpt count max+1", T_RCPT, 0, 0, RECORD_TAG_COUNT, 4,
	     "\xa1\x86\x01\0", 0, NULL, -EBADMSG},
	    {"rcpt end tag", T_RCPT, 0, 0, RECORD_TAG_END, 0, "", 0, NULL,
	     -EBADMSG},
	    {"rcpt text max", T_RCPT, 0, 0, RECORD_TAG_TEXT, RECORD_TEXT_MAX,
	     NULL, 0, NULL, 1},
	    {"rcpt text max+1", T_RCPT, 0, 0, RECORD_TAG_TEXT,
	     RECORD_TEXT_MAX + 1, NULL, 0, NULL, -EBADMSG},
	    {"rcpt sender tag", T_RCPT, 0, 0, RECORD_TAG_SENDER, 1, "a", 0,
	     NULL, -EBADMSG},
	    {"rcpt unknown tag", T_RCPT, 0, 0, 0x0200, 0, "", 0, NULL, 1},
	    {"done ok", T_DONE, 0, 0, NOTAG, 0, NULL, 0, NULL, 1},
	    {"done no time", T_DONE, RECORD_TAG_TIME, 0, NOTAG, 0, NULL, 0,
	     NULL, -EBADMSG},
	    {"done dup msgid", T_DONE, 0, 0, RECORD_TAG_MSGID, 16,
	     "0123456789abcdef", 0, NULL, -EBADMSG},
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		const struct dcase *c = &cases[i];
		struct tw w = {0};
		struct tw_hdr h = {c->type, c->version, c->flags, 7,
				   c->rsvd, 0,          0};
		struct record_view v;
		uint8_t *rec;
		size_t size;
		int rc, rch;

		dcase_head(c, &w);
		rec = tw_record(&h, w.p, w.len, (const uint8_t *)"body", 4,
				NONCE, &size);
		if (c->type != RECORD_T_MSG) {
			free(rec); /* no body outside MSG */
			rec = tw_record(&h, w.p, w.len, NULL, 0, NONCE, &size);
		}
		rc = record_decode(rec, size, NONCE, &v);
		rch = record_decode_head(rec, size, NONCE, &v);
		if (rc != c->rc || rch != c->rc)
			fail_msg("%s: decode %d, head %d, want %d", c->name, rc,
				 rch, c->rc);
		free(rec);
		free(w.p);
	}
}

/*
 * record_buf_fini() pools the allocation and the next buffer to grow takes
 * it (no regrowth); the pool is bounded in count and bytes; a record
 * encoded into a pooled buffer is the same as into a fresh one.
 */

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
