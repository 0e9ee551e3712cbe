/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_path: the RFC 5321 path grammar through smtpp_command() (valid
 * and invalid paths, relay-hostile forms, length limits, the printable
 * forms) and xtext encoding and decoding (src/smtp_path.c).
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

#include "compat.h"
#include "smtp_parse.h"

/* ---- paths ------------------------------------------------------------- */

struct path_case {
	const char *line;
	enum smtpp_err err;
	unsigned flags;     /* path flags expected (also on error) */
	const char *local;  /* NULL: don't check */
	const char *domain; /* NULL: don't check */
	const char *canon;  /* smtpp_path_str(); NULL: don't check */
};

static const struct path_case path_cases[] = {
    {"MAIL FROM:<user@example.com>", SMTPP_OK, 0, "user", "example.com",
     "<user@example.com>"},
    {"mail from:<User@Example.COM>", SMTPP_OK, 0, "User", "Example.COM",
     "<User@Example.COM>"},
    {"MAIL FROM:<>", SMTPP_OK, SMTPP_PATH_F_NULL, "", "", "<>"},
    {"MAIL FROM:<\"john doe\"@example.com>", SMTPP_OK, SMTPP_PATH_F_QUOTED,
     "john doe", "example.com", "<\"john doe\"@example.com>"},
    {"MAIL FROM:<\"john\"@example.com>", SMTPP_OK, SMTPP_PATH_F_QUOTED, "john",
     "example.com", "<john@example.com>"},
    {"MAIL FROM:<\"a\\\"b\\\\c\"@x.y>", SMTPP_OK, SMTPP_PATH_F_QUOTED,
     "a\"b\\c", "x.y", "<\"a\\\"b\\\\c\"@x.y>"},
    {"MAIL FROM:<\"\\a\"@x.y>", SMTPP_OK, SMTPP_PATH_F_QUOTED, "a", "x.y",
     "<a@x.y>"},
    {"MAIL FROM:<\"\"@x.y>", SMTPP_OK, SMTPP_PATH_F_QUOTED, "", "x.y",
     "<\"\"@x.y>"},
    {"MAIL FROM:<\"a..b\"@x.y>", SMTPP_OK, SMTPP_PATH_F_QUOTED, "a..b", "x.y",
     "<\"a..b\"@x.y>"},
    {"MAIL FROM:<a.b.c@d-e.f>", SMTPP_OK, 0, "a.b.c", "d-e.f", NULL},
    {"MAIL FROM:<a@b>", SMTPP_OK, 0, "a", "b", "<a@b>"},
    {"MAIL FROM:<x@123.example>", SMTPP_OK, 0, NULL, "123.example", NULL},
    {"MAIL FROM:<a@[192.0.2.1]>", SMTPP_OK, SMTPP_PATH_F_LITERAL, "a",
     "[192.0.2.1]", "<a@[192.0.2.1]>"},
    {"MAIL FROM:<a@[IPv6:2001:db8::1]>", SMTPP_OK, SMTPP_PATH_F_LITERAL, "a",
     "[IPv6:2001:db8::1]", NULL},
    {"MAIL FROM:<a@[ipv6:::1]>", SMTPP_OK, SMTPP_PATH_F_LITERAL, "a",
     "[ipv6:::1]", NULL},
    {"MAIL FROM:<@r1.example,@r2.example:u@c.example>", SMTPP_OK,
     SMTPP_PATH_F_ROUTE, "u", "c.example", "<u@c.example>"},
    {"MAIL FROM:<a%b@c>", SMTPP_OK, SMTPP_PATH_F_PERCENT, "a%b", "c",
     "<a%b@c>"},
    {"MAIL FROM:<a!b@c>", SMTPP_OK, SMTPP_PATH_F_BANG, "a!b", "c", NULL},
    {"MAIL FROM:<\"a@b\"@c>", SMTPP_OK,
     SMTPP_PATH_F_QUOTED | SMTPP_PATH_F_QUOTED_AT, "a@b", "c", "<\"a@b\"@c>"},
    {"MAIL FROM:<\"a%b\"@c>", SMTPP_OK,
     SMTPP_PATH_F_QUOTED | SMTPP_PATH_F_PERCENT, "a%b", "c", "<a%b@c>"},
    {"MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc"
     "cher.de>",
     SMTPP_OK, SMTPP_PATH_F_UTF8, "j\xc3\xb6rg",
     "b\xc3\xbc"
     "cher.de",
     NULL},
    {"MAIL FROM:<\"j\xc3\xb6 rg\"@x>", SMTPP_OK,
     SMTPP_PATH_F_QUOTED | SMTPP_PATH_F_UTF8, "j\xc3\xb6 rg", "x", NULL},
    /* I10: metacharacters are opaque data, stored byte-exact. */
    {"MAIL FROM:<|cmd@x>", SMTPP_OK, 0, "|cmd", "x", NULL},
    {"MAIL FROM:<$x{y}`z`@x>", SMTPP_OK, 0, "$x{y}`z`", "x", NULL},
    {"MAIL FROM:<\"`;sleep 5;`\"@x>", SMTPP_OK, SMTPP_PATH_F_QUOTED,
     "`;sleep 5;`", "x", "<\"`;sleep 5;`\"@x>"},
    {"MAIL FROM:<\"${run{/bin/true}}\"@x>", SMTPP_OK, SMTPP_PATH_F_QUOTED,
     "${run{/bin/true}}", "x", "<${run{/bin/true}}@x>"},
    {"MAIL FROM:<`;sleep 5;`@x>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    /* Tolerated: one space after the colon (flagged on the command). */
    {"MAIL FROM: <a@b.c>", SMTPP_OK, 0, "a", "b.c", NULL},
    /* MAIL syntax and path syntax errors. */
    {"MAIL FROM:user@example.com", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL,
     NULL},
    {"MAIL FROM:<user@example.com", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL,
     NULL},
    {"MAIL FROM:", SMTPP_ERR_MAIL_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM: ", SMTPP_ERR_MAIL_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL TO:<a@b>", SMTPP_ERR_MAIL_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM <a@b>", SMTPP_ERR_MAIL_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL  FROM:<a@b>", SMTPP_ERR_MAIL_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:  <a@b>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<a@b>x", SMTPP_ERR_MAIL_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<postmaster>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<a..b@c>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<.a@c>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<a.@c>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<@c>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_ROUTE, NULL, NULL,
     NULL},
    {"MAIL FROM:<a@>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<a@b.>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<a@.b>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<a@-b>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<a@b->", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<a@b_c>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<a b@c>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<a@b c>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<a>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<\"a@b>", SMTPP_ERR_SENDER_SYNTAX,
     SMTPP_PATH_F_QUOTED | SMTPP_PATH_F_QUOTED_AT, NULL, NULL, NULL},
    {"MAIL FROM:<\"a\\\xc3\xa9\"@b>", SMTPP_ERR_SENDER_SYNTAX,
     SMTPP_PATH_F_QUOTED, NULL, NULL, NULL},
    {"MAIL FROM:<a@[1.2.3]>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_LITERAL,
     NULL, NULL, NULL},
    {"MAIL FROM:<a@[300.1.1.1]>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_LITERAL,
     NULL, NULL, NULL},
    {"MAIL FROM:<a@[IPv6:zz]>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_LITERAL,
     NULL, NULL, NULL},
    {"MAIL FROM:<a@[IPv6:1.2.3.4]>", SMTPP_ERR_SENDER_SYNTAX,
     SMTPP_PATH_F_LITERAL, NULL, NULL, NULL},
    {"MAIL FROM:<a@[tag:foo]>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_LITERAL,
     NULL, NULL, NULL},
    {"MAIL FROM:<a@[]>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_LITERAL, NULL,
     NULL, NULL},
    {"MAIL FROM:<a@[1.2.3.4>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_LITERAL,
     NULL, NULL, NULL},
    {"MAIL FROM:<a@[1.2.3.4]x>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_LITERAL,
     NULL, NULL, NULL},
    {"MAIL FROM:<\xc3@x>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<\xc0\xaf@x>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<\xed\xa0\x80@x>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL,
     NULL},
    {"MAIL FROM:<\xf4\x90\x80\x80@x>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL,
     NULL},
    {"MAIL FROM:<a@\xff>", SMTPP_ERR_SENDER_SYNTAX, 0, NULL, NULL, NULL},
    {"MAIL FROM:<@a:>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_ROUTE, NULL, NULL,
     NULL},
    {"MAIL FROM:<@a,b:u@c>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_ROUTE, NULL,
     NULL, NULL},
    {"MAIL FROM:<@:u@c>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_ROUTE, NULL,
     NULL, NULL},
    {"MAIL FROM:<@a u@c>", SMTPP_ERR_SENDER_SYNTAX, SMTPP_PATH_F_ROUTE, NULL,
     NULL, NULL},
    /* a@b@c: always refused as a relay form. */
    {"MAIL FROM:<a@b@c>", SMTPP_ERR_RELAY_FORM, SMTPP_PATH_F_MULTI_AT, NULL,
     NULL, NULL},
    {"MAIL FROM:<@r:a@b@c>", SMTPP_ERR_RELAY_FORM,
     SMTPP_PATH_F_ROUTE | SMTPP_PATH_F_MULTI_AT, NULL, NULL, NULL},
    {"MAIL FROM:<\"x@y\"@b@c>", SMTPP_ERR_RELAY_FORM, SMTPP_PATH_F_MULTI_AT,
     NULL, NULL, NULL},
    /* RCPT. */
    {"RCPT TO:<a@b>", SMTPP_OK, 0, "a", "b", "<a@b>"},
    {"rcpt to:<a@b>", SMTPP_OK, 0, "a", "b", "<a@b>"},
    {"RCPT TO: <a@b>", SMTPP_OK, 0, "a", "b", "<a@b>"},
    {"RCPT TO:<postmaster>", SMTPP_OK, SMTPP_PATH_F_POSTMASTER, "postmaster",
     "", "<postmaster>"},
    {"RCPT TO:<PostMaster>", SMTPP_OK, SMTPP_PATH_F_POSTMASTER, "PostMaster",
     "", "<PostMaster>"},
    {"RCPT TO:<postmaster@example.org>", SMTPP_OK, 0, "postmaster",
     "example.org", NULL},
    {"RCPT TO:<\"postmaster\">", SMTPP_ERR_RCPT_ADDR_SYNTAX,
     SMTPP_PATH_F_QUOTED, NULL, NULL, NULL},
    {"RCPT TO:<@a:postmaster>", SMTPP_ERR_RCPT_ADDR_SYNTAX, SMTPP_PATH_F_ROUTE,
     NULL, NULL, NULL},
    {"RCPT TO:<postmistress>", SMTPP_ERR_RCPT_ADDR_SYNTAX, 0, NULL, NULL, NULL},
    {"RCPT TO:<>", SMTPP_ERR_RCPT_ADDR_SYNTAX, 0, NULL, NULL, NULL},
    {"RCPT TO:", SMTPP_ERR_RCPT_SYNTAX, 0, NULL, NULL, NULL},
    {"RCPT FROM:<a@b>", SMTPP_ERR_RCPT_SYNTAX, 0, NULL, NULL, NULL},
    {"RCPT TO <a@b>", SMTPP_ERR_RCPT_SYNTAX, 0, NULL, NULL, NULL},
    {"RCPT TO:a@b", SMTPP_ERR_RCPT_ADDR_SYNTAX, 0, NULL, NULL, NULL},
    {"RCPT TO:<a@b@c>", SMTPP_ERR_RELAY_FORM, SMTPP_PATH_F_MULTI_AT, NULL, NULL,
     NULL},
    {"RCPT TO:<a@b>junk", SMTPP_ERR_RCPT_SYNTAX, 0, NULL, NULL, NULL},
};

static void
check_path(const struct path_case *c, size_t idx)
{
	struct smtpp_cmd cmd;
	char buf[SMTPP_PATH_STR_SIZE];
	int rc = smtpp_command(c->line, strlen(c->line), &cmd);

	if (cmd.err != c->err || cmd.path.flags != c->flags)
		fail_msg("case %zu '%s': err %d (%s) flags %x", idx, c->line,
			 cmd.err, smtpp_err_str(cmd.err), cmd.path.flags);
	assert_int_equal(rc, c->err == SMTPP_OK ? 0 : -EBADMSG);
	if (c->local != NULL) {
		assert_string_equal(cmd.path.local, c->local);
		assert_int_equal(cmd.path.local_len, strlen(c->local));
	}
	if (c->domain != NULL) {
		assert_string_equal(cmd.path.domain, c->domain);
		assert_int_equal(cmd.path.domain_len, strlen(c->domain));
	}
	if (c->canon != NULL) {
		rc = smtpp_path_str(&cmd.path, buf, sizeof(buf));
		assert_int_equal(rc, (int)strlen(c->canon));
		assert_string_equal(buf, c->canon);
	}
	/* A rendered valid path parses back to the same path. */
	if (c->err == SMTPP_OK) {
		char line[SMTPP_PATH_STR_SIZE + 16];
		struct smtpp_cmd again;
		bool mail = cmd.verb == SMTPP_VERB_MAIL;

		assert_true(smtpp_path_str(&cmd.path, buf, sizeof(buf)) > 0);
		snprintf(line, sizeof(line), "%s%s",
			 mail ? "MAIL FROM:" : "RCPT TO:", buf);
		assert_int_equal(smtpp_command(line, strlen(line), &again), 0);
		assert_string_equal(again.path.local, cmd.path.local);
		assert_string_equal(again.path.domain, cmd.path.domain);
	}
}

static void
test_path_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(path_cases); i++)
		check_path(&path_cases[i], i);
}

static void
test_space_after_colon_flag(void **state)
{
	struct smtpp_cmd cmd;

	(void)state;
	assert_int_equal(smtpp_command("MAIL FROM: <a@b>", 16, &cmd), 0);
	assert_int_equal(cmd.flags, SMTPP_CMD_F_SPACE_AFTER_COLON);
	assert_int_equal(smtpp_command("MAIL FROM:<a@b>", 15, &cmd), 0);
	assert_int_equal(cmd.flags, 0);
}

/* Build "VERB:<" + local + "@" + domain + ">" and parse it. */
static enum smtpp_err
parse_sized(const char *verb, size_t local, size_t label, size_t nlabels,
	    size_t last, struct smtpp_cmd *cmd)
{
	char line[2048];
	size_t o = (size_t)snprintf(line, sizeof(line), "%s<", verb);

	memset(line + o, 'l', local);
	o += local;
	line[o++] = '@';
	for (size_t i = 0; i < nlabels; i++) {
		size_t n = i + 1 == nlabels ? last : label;

		memset(line + o, 'd', n);
		o += n;
		if (i + 1 < nlabels)
			line[o++] = '.';
	}
	line[o++] = '>';
	smtpp_command(line, o, cmd);
	return cmd->err;
}

static void
test_path_lengths(void **state)
{
	struct smtpp_cmd cmd;
	char buf[SMTPP_PATH_STR_SIZE];

	(void)state;
	assert_int_equal(parse_sized("MAIL FROM:", 64, 1, 1, 1, &cmd),
			 SMTPP_OK);
	assert_int_equal(cmd.path.flags, 0);
	assert_int_equal(parse_sized("MAIL FROM:", 65, 1, 1, 1, &cmd),
			 SMTPP_OK);
	assert_int_equal(cmd.path.flags, SMTPP_PATH_F_LONG_LOCAL);
	assert_int_equal(parse_sized("RCPT TO:", 128, 1, 1, 1, &cmd), SMTPP_OK);
	assert_int_equal(cmd.path.local_len, 128);
	assert_true(smtpp_path_str(&cmd.path, buf, sizeof(buf)) == 132);
	assert_int_equal(parse_sized("MAIL FROM:", 129, 1, 1, 1, &cmd),
			 SMTPP_ERR_SENDER_TOO_LONG);
	assert_int_equal(parse_sized("RCPT TO:", 129, 1, 1, 1, &cmd),
			 SMTPP_ERR_RCPT_TOO_LONG);
	/* Labels: 63 ok, 64 not. */
	assert_int_equal(parse_sized("RCPT TO:", 1, 63, 1, 63, &cmd), SMTPP_OK);
	assert_int_equal(parse_sized("RCPT TO:", 1, 63, 1, 64, &cmd),
			 SMTPP_ERR_RCPT_ADDR_SYNTAX);
	/* Path <a@D> = 4 + |D| <= 256: |D| = 252 fits, 253 does not. */
	assert_int_equal(parse_sized("RCPT TO:", 1, 63, 4, 60, &cmd), SMTPP_OK);
	assert_int_equal(cmd.path.domain_len, 252);
	assert_int_equal(parse_sized("RCPT TO:", 1, 63, 4, 61, &cmd),
			 SMTPP_ERR_RCPT_TOO_LONG);
	/* Domain > 255 on its own. */
	assert_int_equal(parse_sized("MAIL FROM:", 1, 63, 5, 10, &cmd),
			 SMTPP_ERR_SENDER_TOO_LONG);
	/* Quoted local: the raw length (quotes included) counts. */
	{
		char line[300] = "MAIL FROM:<\"";
		size_t o = strlen(line);

		memset(line + o, 'q', 126);
		o += 126;
		memcpy(line + o, "\"@x>", 4);
		assert_int_equal(smtpp_command(line, o + 4, &cmd), 0);
		assert_int_equal(cmd.path.local_len, 126);
		line[o] = 'q';
		memcpy(line + o + 1, "\"@x>", 4);
		assert_int_equal(smtpp_command(line, o + 5, &cmd), -EBADMSG);
		assert_int_equal(cmd.err, SMTPP_ERR_SENDER_TOO_LONG);
	}
}

/* I1: the open-relay matrix; each form is refused or flagged hostile. */
static void
test_relay_matrix(void **state)
{
	static const char *const hostile[] = {
	    "RCPT TO:<a%b@us.example>",     "RCPT TO:<@r.example:a@b.example>",
	    "RCPT TO:<@r1,@r2:a@b>",        "RCPT TO:<\"a@b\"@us.example>",
	    "RCPT TO:<\"a%b\"@us.example>", "RCPT TO:<a@b@us.example>",
	    "RCPT TO:<a@[1.2.3.4]>",        "RCPT TO:<a@[IPv6:::1]>",
	    "RCPT TO:<b!a@us.example>",     "RCPT TO:<\"b!a\"@us.example>",
	    "MAIL FROM:<a%b@us.example>",   "MAIL FROM:<a@b@c>",
	};
	static const char *const benign[] = {
	    "RCPT TO:<a@us.example>",       "RCPT TO:<postmaster>",
	    "RCPT TO:<\"a b\"@us.example>", "MAIL FROM:<>",
	    "MAIL FROM:<a+tag@us.example>",
	};
	struct smtpp_cmd cmd;

	(void)state;
	for (size_t i = 0; i < nitems(hostile); i++) {
		int rc = smtpp_command(hostile[i], strlen(hostile[i]), &cmd);

		if (rc == 0)
			assert_true(cmd.path.flags & SMTPP_PATH_F_RELAY_MASK);
		else
			assert_int_equal(cmd.err, SMTPP_ERR_RELAY_FORM);
	}
	for (size_t i = 0; i < nitems(benign); i++) {
		assert_int_equal(
		    smtpp_command(benign[i], strlen(benign[i]), &cmd), 0);
		assert_false(cmd.path.flags & SMTPP_PATH_F_RELAY_MASK);
	}
}

static void
test_path_str_bounds(void **state)
{
	struct smtpp_cmd cmd;
	char buf[64];

	(void)state;
	assert_int_equal(smtpp_command("RCPT TO:<ab@cd>", 15, &cmd), 0);
	/* "<ab@cd>" needs 7 + NUL. */
	assert_int_equal(smtpp_path_str(&cmd.path, buf, 8), 7);
	assert_string_equal(buf, "<ab@cd>");
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(smtpp_path_str(&cmd.path, buf, 7), -EMSGSIZE);
	assert_string_equal(buf, "");
	assert_int_equal(smtpp_path_str(&cmd.path, buf, 0), -EMSGSIZE);
	assert_int_equal(smtpp_addr_str(&cmd.path, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "ab@cd");
	assert_int_equal(smtpp_command("MAIL FROM:<>", 12, &cmd), 0);
	assert_int_equal(smtpp_addr_str(&cmd.path, buf, 0), -EMSGSIZE);
	assert_int_equal(smtpp_addr_str(&cmd.path, buf, 1), 0);
	assert_int_equal(smtpp_path_str(&cmd.path, buf, 2), -EMSGSIZE);
	assert_int_equal(smtpp_path_str(&cmd.path, buf, 3), 2);
	assert_string_equal(buf, "<>");
	assert_int_equal(smtpp_addr_str(&cmd.path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(smtpp_command("RCPT TO:<Postmaster>", 20, &cmd), 0);
	assert_int_equal(smtpp_addr_str(&cmd.path, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "Postmaster");
}

/* ---- xtext ------------------------------------------------------------- */

static void
test_xtext_every_byte(void **state)
{
	char all[256], enc[3 * 256 + 1], dec[257];
	size_t elen, dlen;

	(void)state;
	for (unsigned b = 0; b < 256; b++) {
		char one = (char)b;

		assert_int_equal(
		    smtpp_xtext_encode(&one, 1, enc, sizeof(enc), &elen), 0);
		if (b >= 33 && b <= 126 && b != '+' && b != '=') {
			assert_int_equal(elen, 1);
			assert_int_equal((unsigned char)enc[0], b);
		} else {
			char want[4];

			snprintf(want, sizeof(want), "+%02X", b);
			assert_string_equal(enc, want);
		}
		assert_int_equal(
		    smtpp_xtext_decode(enc, elen, dec, sizeof(dec), &dlen), 0);
		assert_int_equal(dlen, 1);
		assert_int_equal((unsigned char)dec[0], b);
		all[b] = (char)b;
	}
	assert_int_equal(smtpp_xtext_encode(all, 256, enc, sizeof(enc), &elen),
			 0);
	for (size_t i = 0; i < elen; i++) {
		unsigned char c = (unsigned char)enc[i];

		assert_true(c >= 33 && c <= 126 && c != '=');
	}
	assert_int_equal(smtpp_xtext_decode(enc, elen, dec, sizeof(dec), &dlen),
			 0);
	assert_int_equal(dlen, 256);
	assert_memory_equal(dec, all, 256);
}

static void
test_xtext_invalid(void **state)
{
	static const char *const bad[] = {"+2b",      "+",   "+G1",  "+2",
					  "a+",       "a=b", "a b",  "\x7f",
					  "\xc3\xa9", "+g0", "++41", "a+4"};
	char dec[64], enc[8];
	size_t n;

	(void)state;
	for (size_t i = 0; i < nitems(bad); i++)
		assert_int_equal(smtpp_xtext_decode(bad[i], strlen(bad[i]), dec,
						    sizeof(dec), &n),
				 -EBADMSG);
	assert_int_equal(
	    smtpp_xtext_decode("+41+2B+3D", 9, dec, sizeof(dec), &n), 0);
	assert_string_equal(dec, "A+=");
	assert_int_equal(smtpp_xtext_decode("", 0, dec, sizeof(dec), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(smtpp_xtext_decode("abc", 3, dec, 3, &n), -EMSGSIZE);
	assert_int_equal(smtpp_xtext_decode("abc", 3, dec, 4, &n), 0);
	assert_int_equal(smtpp_xtext_decode("", 0, dec, 0, &n), -EMSGSIZE);
	/* Encoder bounds: "a+" -> "a+2B" needs 5 bytes with the NUL. */
	assert_int_equal(smtpp_xtext_encode("a+", 2, enc, 4, &n), -EMSGSIZE);
	assert_int_equal(smtpp_xtext_encode("a+", 2, enc, 5, &n), 0);
	assert_string_equal(enc, "a+2B");
	assert_int_equal(smtpp_xtext_encode("ab", 2, enc, 2, &n), -EMSGSIZE);
	assert_int_equal(smtpp_xtext_encode("", 0, enc, 0, &n), -EMSGSIZE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_table),
	    cmocka_unit_test(test_space_after_colon_flag),
	    cmocka_unit_test(test_path_lengths),
	    cmocka_unit_test(test_relay_matrix),
	    cmocka_unit_test(test_path_str_bounds),
	    cmocka_unit_test(test_xtext_every_byte),
	    cmocka_unit_test(test_xtext_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
