/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_parse: line framing at every split, command syntax, ESMTP
 * parameters, and the reply table (paths and xtext: test_smtp_path.c).
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

/* ---- reply and name tables --------------------------------------------- */

static void
test_err_table(void **state)
{
	(void)state;
	for (unsigned e = 0; e < SMTPP_ERR__COUNT; e++) {
		const char *s = smtpp_err_str((enum smtpp_err)e);

		/* "DDD C.S.D text": code class equals enhanced class. */
		assert_non_null(s);
		assert_true(strlen(s) > 10);
		assert_true(s[0] >= '2' && s[0] <= '5');
		assert_true(s[1] >= '0' && s[1] <= '9');
		assert_true(s[2] >= '0' && s[2] <= '9');
		assert_int_equal(s[3], ' ');
		assert_int_equal(s[4], s[0]);
		assert_int_equal(s[5], '.');
		assert_null(strchr(s, '\r'));
		assert_null(strchr(s, '\n'));
	}
	assert_string_equal(smtpp_err_str(SMTPP_ERR_LINE_TOO_LONG),
			    "500 5.5.6 Line too long");
	assert_string_equal(smtpp_err_str(SMTPP_ERR_RCPT_ADDR_SYNTAX),
			    "501 5.1.3 Bad recipient address syntax");
	assert_string_equal(smtpp_err_str(SMTPP_ERR_SENDER_SYNTAX),
			    "501 5.1.7 Bad sender address syntax");
	assert_string_equal(smtpp_err_str(SMTPP_ERR_PARAM_UNKNOWN),
			    "555 5.5.4 Unsupported parameter");
	assert_string_equal(smtpp_err_str(SMTPP_ERR_PARAM_VALUE),
			    "501 5.5.4 Invalid parameter value");
	assert_string_equal(smtpp_err_str(SMTPP_ERR_RELAY_FORM),
			    "554 5.7.1 Relay access denied");
	assert_string_equal(smtpp_err_str(SMTPP_ERR__COUNT),
			    "451 4.3.0 Internal error");
}

static void
test_name_tables(void **state)
{
	(void)state;
	for (unsigned v = 0; v < SMTPP_VERB__COUNT; v++)
		assert_non_null(smtpp_verb_str((enum smtpp_verb)v));
	assert_string_equal(smtpp_verb_str(SMTPP_VERB_STARTTLS), "STARTTLS");
	assert_string_equal(smtpp_verb_str(SMTPP_VERB_UNKNOWN), "UNKNOWN");
	assert_string_equal(smtpp_verb_str(SMTPP_VERB__COUNT), "UNKNOWN");
	for (unsigned b = 0; b < SMTPP_PATH_F__BITS; b++)
		assert_string_not_equal(smtpp_path_flag_str(b), "?");
	assert_string_equal(smtpp_path_flag_str(4), "percent");
	assert_string_equal(smtpp_path_flag_str(SMTPP_PATH_F__BITS), "?");
	assert_string_equal(smtpp_body_str(SMTPP_BODY_8BITMIME), "8BITMIME");
	assert_string_equal(smtpp_body_str(SMTPP_BODY__COUNT), "?");
	assert_string_equal(smtpp_ret_str(SMTPP_RET_HDRS), "HDRS");
	assert_string_equal(smtpp_ret_str(SMTPP_RET__COUNT), "?");
}

static void
test_line_err(void **state)
{
	(void)state;
	assert_int_equal(smtpp_line_err(0), SMTPP_OK);
	assert_int_equal(smtpp_line_err(SMTPP_LINE_F_8BIT | SMTPP_LINE_F_CTRL),
			 SMTPP_OK);
	assert_int_equal(smtpp_line_err(SMTPP_LINE_F_BARE_LF),
			 SMTPP_ERR_BARE_LF);
	assert_int_equal(
	    smtpp_line_err(SMTPP_LINE_F_BARE_CR | SMTPP_LINE_F_BARE_LF),
	    SMTPP_ERR_BARE_CR);
	assert_int_equal(smtpp_line_err(SMTPP_LINE_F_NUL |
					SMTPP_LINE_F_BARE_CR |
					SMTPP_LINE_F_BARE_LF),
			 SMTPP_ERR_NUL);
}

/* ---- line framing ------------------------------------------------------ */

/*
 * Frame all of in with the given chunk size (0: all at once) and describe
 * the events: "L<flags>:<content>|" per line (content with \r \0 as ^M ^@),
 * "E<flags>:<prefix>|" per overlong line, then "P<pending>" if a partial
 * line remains.
 */
static void
frame(size_t cap, const char *in, size_t len, size_t chunk, char *out,
      size_t outsz, uint64_t *discarded_r)
{
	struct smtpp_lineparser lp;
	size_t pos = 0, o = 0;

	assert_int_equal(smtpp_line_init(&lp, cap), 0);
	out[0] = '\0';
	while (pos < len) {
		size_t n = chunk == 0 ? len - pos : MIN(chunk, len - pos);
		size_t used = 0;
		struct smtpp_line line = {0};
		int rc = smtpp_line(&lp, in + pos, n, &used, &line);

		assert_true(used <= n);
		pos += used;
		if (rc == 0) {
			assert_int_equal(used, n);
			continue;
		}
		assert_true(rc == 1 || rc == -EMSGSIZE);
		assert_true(line.len + 2 <= cap);
		assert_int_equal(line.ptr[line.len], '\0');
		o += (size_t)snprintf(out + o, outsz - o,
				      "%c%x:", rc == 1 ? 'L' : 'E', line.flags);
		for (size_t i = 0; i < line.len && o + 3 < outsz; i++) {
			char c = line.ptr[i];

			if (c == '\r' || c == '\0') {
				out[o++] = '^';
				out[o++] = c == '\r' ? 'M' : '@';
			} else {
				out[o++] = c;
			}
		}
		o += (size_t)snprintf(out + o, outsz - o, "|");
		assert_true(o < outsz);
	}
	if (!lp.done && (lp.len > 0 || lp.cr || lp.skipping))
		snprintf(out + o, outsz - o, "P%zu", lp.len);
	if (discarded_r != NULL)
		*discarded_r = lp.discarded;
	smtpp_line_fini(&lp);
}

struct line_case {
	const char *in;
	size_t len; /* 0: strlen */
	const char *want;
};

static const struct line_case line_cases[] = {
    {"HELO x\r\n", 0, "L0:HELO x|"},
    {"A\r\nB\r\n", 0, "L0:A|L0:B|"},
    {"A\nB\r\n", 0, "L1:A|L0:B|"},
    {"A\rB\r\n", 0, "L2:A^MB|"},
    {"A\r\r\n", 0, "L2:A^M|"},
    {"A\r\rB\n", 0, "L3:A^M^MB|"},
    {"A\0B\r\n", 5, "L4:A^@B|"},
    {"\r\n", 0, "L0:|"},
    {"\n", 0, "L1:|"},
    {"\r\n\r\n", 0, "L0:|L0:|"},
    {"X\x01Y\r\n", 0, "L8:X\x01Y|"},
    {"X\x7fY\r\n", 0, "L8:X\x7fY|"},
    {"X\tY\r\n", 0, "L0:X\tY|"},
    {"caf\xc3\xa9\r\n", 0, "L10:caf\xc3\xa9|"},
    {"ABC", 0, "P3"},
    {"ABC\r", 0, "P3"},
    {"A\r\0\n", 4, "L7:A^M^@|"},
    {"QUIT\r\nDATA", 0, "L0:QUIT|P4"},
};

static void
test_line_table(void **state)
{
	char got[4096];

	(void)state;
	for (size_t i = 0; i < nitems(line_cases); i++) {
		const struct line_case *c = &line_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);

		/* Whole, byte at a time, and every two-part split. */
		for (size_t chunk = 0; chunk <= len; chunk++) {
			frame(512, c->in, len, chunk, got, sizeof(got), NULL);
			if (strcmp(got, c->want) != 0)
				fail_msg("case %zu chunk %zu: got '%s' want "
					 "'%s'",
					 i, chunk, got, c->want);
		}
	}
}

static void
test_line_used_stops_at_terminator(void **state)
{
	struct smtpp_lineparser lp;
	struct smtpp_line line;
	const char *in = "BDAT 4 LAST\r\nabcdQUIT\r\n";
	size_t used;

	(void)state;
	assert_int_equal(smtpp_line_init(&lp, 512), 0);
	assert_int_equal(smtpp_line(&lp, in, strlen(in), &used, &line), 1);
	assert_int_equal(used, 13);
	assert_int_equal(line.len, 11);
	assert_memory_equal(line.ptr, "BDAT 4 LAST", 11);
	/* Content stays valid until the next call. */
	assert_string_equal(line.ptr, "BDAT 4 LAST");
	assert_int_equal(
	    smtpp_line(&lp, in + 17, strlen(in + 17), &used, &line), 1);
	assert_string_equal(line.ptr, "QUIT");
	smtpp_line_fini(&lp);
	assert_null(lp.buf);
}

/* Lines around the cap: content + CRLF must be <= cap. */
static void
test_line_cap(void **state)
{
	static const struct {
		size_t content;
		const char *tail;
		bool ok;
	} t[] = {
	    {510, "\r\n", true},     {511, "\r\n", false},
	    {510, "\n", true},       {511, "\n", false},
	    {509, "\rx\r\n", false}, {508, "\rx\r\n", true},
	    {510, "\r", true}, /* then "\n" below */
	};
	char in[1024], got[2048];

	(void)state;
	for (size_t i = 0; i < nitems(t); i++) {
		size_t len = t[i].content;

		memset(in, 'a', len);
		memcpy(in + len, t[i].tail, strlen(t[i].tail));
		len += strlen(t[i].tail);
		if (in[len - 1] == '\r')
			in[len++] = '\n';
		memcpy(in + len, "QUIT\r\n", 6);
		len += 6;
		for (size_t chunk = 0; chunk < 4; chunk++) {
			frame(512, in, len, chunk == 3 ? 509 : chunk, got,
			      sizeof(got), NULL);
			assert_int_equal(got[0], t[i].ok ? 'L' : 'E');
			assert_non_null(strstr(got, "|L0:QUIT|"));
			assert_null(strchr(got, 'P'));
		}
	}
}

/* I5: 513 B, 1 MB, 10 MB lines: -EMSGSIZE, memory bounded, recovery. */
static void
test_line_overlong_recovers(void **state)
{
	static const size_t sizes[] = {513, 1u << 20, 10u << 20};
	char got[2048];

	(void)state;
	for (size_t i = 0; i < nitems(sizes); i++) {
		size_t n = sizes[i], len = n + 2 + 6;
		char *in = xmalloc(len);
		uint64_t discarded;

		memset(in, 'x', n);
		memcpy(in + n, "\r\nNOOP\r\n", 8);
		frame(512, in, len, 0, got, sizeof(got), &discarded);
		assert_int_equal(strncmp(got, "E0:xxx", 6), 0);
		assert_non_null(strstr(got, "|L0:NOOP|"));
		/* 510 bytes kept, the rest (and the CR) discarded. */
		assert_true(discarded >= n - 510);
		assert_true(discarded <= n - 510 + 1);
		frame(512, in, len, 4096, got, sizeof(got), NULL);
		assert_non_null(strstr(got, "|L0:NOOP|"));
		free(in);
	}
}

static void
test_line_init_reset(void **state)
{
	struct smtpp_lineparser lp;
	struct smtpp_line line;
	size_t used;

	(void)state;
	assert_int_equal(smtpp_line_init(&lp, 511), -EINVAL);
	assert_null(lp.buf);
	assert_int_equal(smtpp_line_init(&lp, SMTPP_LINE_CAP_MAX + 1), -EINVAL);
	assert_int_equal(smtpp_line_init(&lp, SMTPP_LINE_CAP_MAX), 0);
	smtpp_line_fini(&lp);
	assert_int_equal(smtpp_line_init(&lp, 512), 0);
	assert_int_equal(smtpp_line(&lp, "STARTTLS\r", 9, &used, &line), 0);
	smtpp_line_reset(&lp);
	assert_int_equal(smtpp_line(&lp, "\nEHLO x\r\n", 9, &used, &line), 1);
	assert_int_equal(used, 1);
	assert_int_equal(line.len, 0);
	assert_int_equal(line.flags, SMTPP_LINE_F_BARE_LF);
	smtpp_line_fini(&lp);
}

/* ---- commands ---------------------------------------------------------- */

struct cmd_case {
	const char *line;
	size_t len; /* 0: strlen */
	enum smtpp_verb verb;
	enum smtpp_err err;
	const char *arg; /* NULL: don't check */
	unsigned flags;
};

static const struct cmd_case cmd_cases[] = {
    {"HELO example.com", 0, SMTPP_VERB_HELO, SMTPP_OK, "example.com", 0},
    {"helo example.com", 0, SMTPP_VERB_HELO, SMTPP_OK, "example.com", 0},
    {"EhLo [127.0.0.1]", 0, SMTPP_VERB_EHLO, SMTPP_OK, "[127.0.0.1]", 0},
    {"EHLO my_host", 0, SMTPP_VERB_EHLO, SMTPP_OK, "my_host",
     SMTPP_CMD_F_HELO_NOT_DOMAIN},
    {"EHLO [1.2.3]", 0, SMTPP_VERB_EHLO, SMTPP_OK, NULL,
     SMTPP_CMD_F_HELO_NOT_DOMAIN},
    {"EHLO", 0, SMTPP_VERB_EHLO, SMTPP_ERR_ARG_REQUIRED, NULL, 0},
    {"EHLO ", 0, SMTPP_VERB_EHLO, SMTPP_ERR_ARG_REQUIRED, NULL,
     SMTPP_CMD_F_TRAILING_WS},
    {"EHLO a b", 0, SMTPP_VERB_EHLO, SMTPP_ERR_HELO_SYNTAX, NULL, 0},
    {"EHLO  a", 0, SMTPP_VERB_EHLO, SMTPP_ERR_HELO_SYNTAX, NULL, 0},
    {"DATA", 0, SMTPP_VERB_DATA, SMTPP_OK, "", 0},
    {"data", 0, SMTPP_VERB_DATA, SMTPP_OK, "", 0},
    {"DATA ", 0, SMTPP_VERB_DATA, SMTPP_OK, "", SMTPP_CMD_F_TRAILING_WS},
    {"DATA\t", 0, SMTPP_VERB_DATA, SMTPP_OK, "", SMTPP_CMD_F_TRAILING_WS},
    {"DATA x", 0, SMTPP_VERB_DATA, SMTPP_ERR_NO_ARGS, NULL, 0},
    {"RSET", 0, SMTPP_VERB_RSET, SMTPP_OK, "", 0},
    {"RSET now", 0, SMTPP_VERB_RSET, SMTPP_ERR_NO_ARGS, NULL, 0},
    {"QUIT", 0, SMTPP_VERB_QUIT, SMTPP_OK, "", 0},
    {"QUIT x", 0, SMTPP_VERB_QUIT, SMTPP_ERR_NO_ARGS, NULL, 0},
    {"STARTTLS", 0, SMTPP_VERB_STARTTLS, SMTPP_OK, "", 0},
    {"StartTLS x", 0, SMTPP_VERB_STARTTLS, SMTPP_ERR_NO_ARGS, NULL, 0},
    {"NOOP", 0, SMTPP_VERB_NOOP, SMTPP_OK, "", 0},
    {"NOOP hello there", 0, SMTPP_VERB_NOOP, SMTPP_OK, "hello there", 0},
    {"NOOP caf\xc3\xa9", 0, SMTPP_VERB_NOOP, SMTPP_OK, "caf\xc3\xa9",
     SMTPP_CMD_F_8BIT},
    {"HELP", 0, SMTPP_VERB_HELP, SMTPP_OK, "", 0},
    {"HELP MAIL", 0, SMTPP_VERB_HELP, SMTPP_OK, "MAIL", 0},
    {"VRFY", 0, SMTPP_VERB_VRFY, SMTPP_ERR_ARG_REQUIRED, NULL, 0},
    {"VRFY bob", 0, SMTPP_VERB_VRFY, SMTPP_OK, "bob", 0},
    {"EXPN staff", 0, SMTPP_VERB_EXPN, SMTPP_OK, "staff", 0},
    {"EXPN", 0, SMTPP_VERB_EXPN, SMTPP_ERR_ARG_REQUIRED, NULL, 0},
    {"AUTH", 0, SMTPP_VERB_AUTH, SMTPP_ERR_ARG_REQUIRED, NULL, 0},
    {"AUTH PLAIN AGJvYgBwdw==", 0, SMTPP_VERB_AUTH, SMTPP_OK,
     "PLAIN AGJvYgBwdw==", 0},
    {"FOO", 0, SMTPP_VERB_UNKNOWN, SMTPP_ERR_UNKNOWN_VERB, NULL, 0},
    {"", 0, SMTPP_VERB_UNKNOWN, SMTPP_ERR_UNKNOWN_VERB, NULL, 0},
    {" NOOP", 0, SMTPP_VERB_UNKNOWN, SMTPP_ERR_UNKNOWN_VERB, NULL, 0},
    {"MAI", 0, SMTPP_VERB_UNKNOWN, SMTPP_ERR_UNKNOWN_VERB, NULL, 0},
    {"MAILX FROM:<>", 0, SMTPP_VERB_UNKNOWN, SMTPP_ERR_UNKNOWN_VERB, NULL, 0},
    {"MAIL1 FROM:<>", 0, SMTPP_VERB_UNKNOWN, SMTPP_ERR_UNKNOWN_VERB, NULL, 0},
    {"QUIT\xc3\xa9", 0, SMTPP_VERB_UNKNOWN, SMTPP_ERR_UNKNOWN_VERB, NULL, 0},
    {"NOOP\0", 5, SMTPP_VERB_NOOP, SMTPP_ERR_NUL, NULL, 0},
    {"NO\0OP", 5, SMTPP_VERB_UNKNOWN, SMTPP_ERR_NUL, NULL, 0},
    {"NOOP \x01", 0, SMTPP_VERB_NOOP, SMTPP_ERR_BAD_CHAR, NULL, 0},
    {"NOOP a\rb", 0, SMTPP_VERB_NOOP, SMTPP_ERR_BAD_CHAR, NULL, 0},
    {"NOOP a\x7f", 0, SMTPP_VERB_NOOP, SMTPP_ERR_BAD_CHAR, NULL, 0},
    {"NOOP \t", 0, SMTPP_VERB_NOOP, SMTPP_OK, "", SMTPP_CMD_F_TRAILING_WS},
    {"NOOP a\tb", 0, SMTPP_VERB_NOOP, SMTPP_ERR_BAD_CHAR, NULL, 0},
    {"BDAT 100", 0, SMTPP_VERB_BDAT, SMTPP_OK, "100", 0},
    {"BDAT 0 LAST", 0, SMTPP_VERB_BDAT, SMTPP_OK, NULL, 0},
    {"bdat 7 last", 0, SMTPP_VERB_BDAT, SMTPP_OK, NULL, 0},
    {"BDAT", 0, SMTPP_VERB_BDAT, SMTPP_ERR_ARG_REQUIRED, NULL, 0},
    {"BDAT x", 0, SMTPP_VERB_BDAT, SMTPP_ERR_BDAT_SYNTAX, NULL, 0},
    {"BDAT -1", 0, SMTPP_VERB_BDAT, SMTPP_ERR_BDAT_SYNTAX, NULL, 0},
    {"BDAT 1 LASTX", 0, SMTPP_VERB_BDAT, SMTPP_ERR_BDAT_SYNTAX, NULL, 0},
    {"BDAT 1  LAST", 0, SMTPP_VERB_BDAT, SMTPP_ERR_BDAT_SYNTAX, NULL, 0},
    {"BDAT  1", 0, SMTPP_VERB_BDAT, SMTPP_ERR_BDAT_SYNTAX, NULL, 0},
    {"BDAT 18446744073709551616", 0, SMTPP_VERB_BDAT, SMTPP_ERR_BDAT_SYNTAX,
     NULL, 0},
    {"MAIL", 0, SMTPP_VERB_MAIL, SMTPP_ERR_MAIL_SYNTAX, NULL, 0},
    {"RCPT", 0, SMTPP_VERB_RCPT, SMTPP_ERR_RCPT_SYNTAX, NULL, 0},
};

static void
check_cmd(const struct cmd_case *c, size_t idx)
{
	struct smtpp_cmd cmd;
	size_t len = c->len ? c->len : strlen(c->line);
	int rc = smtpp_command(c->line, len, &cmd);

	if (cmd.verb != c->verb || cmd.err != c->err || cmd.flags != c->flags)
		fail_msg("case %zu '%s': verb %s err %d flags %x", idx, c->line,
			 smtpp_verb_str(cmd.verb), cmd.err, cmd.flags);
	assert_int_equal(rc, c->err == SMTPP_OK ? 0 : -EBADMSG);
	if (c->arg != NULL) {
		assert_int_equal(cmd.arg_len, strlen(c->arg));
		assert_memory_equal(cmd.arg, c->arg, cmd.arg_len);
	}
}

static void
test_command_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(cmd_cases); i++)
		check_cmd(&cmd_cases[i], i);
}

static void
test_bdat_values(void **state)
{
	struct smtpp_cmd cmd;

	(void)state;
	assert_int_equal(smtpp_command("BDAT 0 LAST", 11, &cmd), 0);
	assert_true(cmd.bdat.last);
	assert_int_equal(cmd.bdat.size, 0);
	assert_int_equal(smtpp_command("BDAT 18446744073709551615", 25, &cmd),
			 0);
	assert_true(cmd.bdat.size == UINT64_MAX);
	assert_false(cmd.bdat.last);
	assert_int_equal(smtpp_command("BDAT 000123", 11, &cmd), 0);
	assert_int_equal(cmd.bdat.size, 123);
}

/* ---- ESMTP parameters -------------------------------------------------- */

struct param_case {
	const char *line;
	enum smtpp_err err;
	unsigned params; /* expected cmd.params on success */
};

static const struct param_case param_cases[] = {
    {"MAIL FROM:<a@b> SIZE=1000", SMTPP_OK, SMTPP_PARAM_SIZE},
    {"MAIL FROM:<a@b> size=0", SMTPP_OK, SMTPP_PARAM_SIZE},
    {"MAIL FROM:<a@b> SIZE=", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> SIZE", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> SIZE=abc", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> SIZE=-1", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> SIZE=1x", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> SIZE=1=2", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> SIZE=99999999999999999999999", SMTPP_OK,
     SMTPP_PARAM_SIZE},
    {"MAIL FROM:<a@b> BODY=8BITMIME", SMTPP_OK, SMTPP_PARAM_BODY},
    {"MAIL FROM:<a@b> body=7bit", SMTPP_OK, SMTPP_PARAM_BODY},
    {"MAIL FROM:<a@b> BODY=BINARYMIME", SMTPP_ERR_PARAM_UNSUPPORTED, 0},
    {"MAIL FROM:<a@b> BODY=9BIT", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> BODY", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> SMTPUTF8", SMTPP_OK, SMTPP_PARAM_SMTPUTF8},
    {"MAIL FROM:<a@b> SMTPUTF8=yes", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> RET=FULL", SMTPP_OK, SMTPP_PARAM_RET},
    {"MAIL FROM:<a@b> ret=hdrs", SMTPP_OK, SMTPP_PARAM_RET},
    {"MAIL FROM:<a@b> RET=X", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> RET", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> ENVID=abc+2B123", SMTPP_OK, SMTPP_PARAM_ENVID},
    {"MAIL FROM:<a@b> ENVID=a+20b", SMTPP_OK, SMTPP_PARAM_ENVID},
    {"MAIL FROM:<a@b> ENVID=a+0Db", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> ENVID=a+0Ab", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> ENVID=a+00b", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> ENVID=a+7F", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> ENVID=a+C3+A9", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> ENVID=+2b", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> ENVID=a+", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> ENVID=a+G1", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> ENVID=", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> ENVID", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> ENVID=\xc3\xa9", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> AUTH=<>", SMTPP_OK, SMTPP_PARAM_AUTH},
    {"MAIL FROM:<a@b> AUTH=a+2Bb@c", SMTPP_OK, SMTPP_PARAM_AUTH},
    {"MAIL FROM:<a@b> AUTH=a+0A", SMTPP_ERR_PARAM_VALUE, 0},
    {"MAIL FROM:<a@b> SIZE=1 SIZE=2", SMTPP_ERR_PARAM_DUP, 0},
    {"MAIL FROM:<a@b> SIZE=1 size=1", SMTPP_ERR_PARAM_DUP, 0},
    {"MAIL FROM:<a@b> SMTPUTF8 SMTPUTF8", SMTPP_ERR_PARAM_DUP, 0},
    {"MAIL FROM:<a@b> BODY=7BIT BODY=8BITMIME", SMTPP_ERR_PARAM_DUP, 0},
    {"MAIL FROM:<a@b> FOO=bar", SMTPP_ERR_PARAM_UNKNOWN, 0},
    {"MAIL FROM:<a@b> FOO", SMTPP_ERR_PARAM_UNKNOWN, 0},
    {"MAIL FROM:<a@b> =x", SMTPP_ERR_PARAM_UNKNOWN, 0},
    {"MAIL FROM:<a@b> NOTIFY=NEVER", SMTPP_ERR_PARAM_UNKNOWN, 0},
    {"MAIL FROM:<a@b> ORCPT=rfc822;a@b", SMTPP_ERR_PARAM_UNKNOWN, 0},
    {"MAIL FROM:<a@b> SIZE=1  BODY=7BIT", SMTPP_OK,
     SMTPP_PARAM_SIZE | SMTPP_PARAM_BODY},
    {"MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x "
     "AUTH=<>",
     SMTPP_OK,
     SMTPP_PARAM_SIZE | SMTPP_PARAM_BODY | SMTPP_PARAM_SMTPUTF8 |
	 SMTPP_PARAM_RET | SMTPP_PARAM_ENVID | SMTPP_PARAM_AUTH},
    {"RCPT TO:<a@b> NOTIFY=NEVER", SMTPP_OK, SMTPP_PARAM_NOTIFY},
    {"RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE,DELAY", SMTPP_OK,
     SMTPP_PARAM_NOTIFY},
    {"RCPT TO:<a@b> notify=delay,success", SMTPP_OK, SMTPP_PARAM_NOTIFY},
    {"RCPT TO:<a@b> NOTIFY=NEVER,SUCCESS", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> NOTIFY=FAILURE,NEVER", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> NOTIFY=SUCCESS,SUCCESS", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> NOTIFY=", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> NOTIFY", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> NOTIFY=SUCCESS,", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> NOTIFY=,SUCCESS", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> NOTIFY=BOGUS", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER", SMTPP_ERR_PARAM_DUP, 0},
    {"RCPT TO:<a@b> ORCPT=rfc822;a+2Bb@c", SMTPP_OK, SMTPP_PARAM_ORCPT},
    {"RCPT TO:<a@b> ORCPT=rfc822;", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> ORCPT=;a@b", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> ORCPT=rfc822", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> ORCPT=rfc 822;a", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> ORCPT=rf(c;a", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> ORCPT=rfc822;a+0D+0Ab", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> ORCPT=rfc822;a+0Ab", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> ORCPT=rfc822;a+00", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> ORCPT=rfc822;a+2b", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> ORCPT", SMTPP_ERR_PARAM_VALUE, 0},
    {"RCPT TO:<a@b> SIZE=1", SMTPP_ERR_PARAM_UNKNOWN, 0},
    {"RCPT TO:<a@b> NOTIFY=NEVER ORCPT=rfc822;x@y", SMTPP_OK,
     SMTPP_PARAM_NOTIFY | SMTPP_PARAM_ORCPT},
    {"RCPT TO:<a@b> ORCPT=rfc822;x@y ORCPT=rfc822;x@y", SMTPP_ERR_PARAM_DUP, 0},
};

static void
test_param_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(param_cases); i++) {
		const struct param_case *c = &param_cases[i];
		struct smtpp_cmd cmd;
		int rc = smtpp_command(c->line, strlen(c->line), &cmd);

		if (cmd.err != c->err)
			fail_msg("case %zu '%s': err %d (%s)", i, c->line,
				 cmd.err, smtpp_err_str(cmd.err));
		assert_int_equal(rc, c->err == SMTPP_OK ? 0 : -EBADMSG);
		if (c->err == SMTPP_OK)
			assert_int_equal(cmd.params, c->params);
	}
}

static void
test_param_values(void **state)
{
	struct smtpp_cmd cmd;
	const char *l;

	(void)state;
	l = "MAIL FROM:<a@b> SIZE=10 BODY=8bitmime SMTPUTF8 RET=hdrs "
	    "ENVID=Q+2BQ AUTH=u+2Bv@w";
	assert_int_equal(smtpp_command(l, strlen(l), &cmd), 0);
	assert_int_equal(cmd.mail.size, 10);
	assert_int_equal(cmd.mail.body, SMTPP_BODY_8BITMIME);
	assert_true(cmd.mail.smtputf8);
	assert_int_equal(cmd.mail.ret, SMTPP_RET_HDRS);
	assert_string_equal(cmd.mail.envid, "Q+Q");
	assert_int_equal(cmd.mail.envid_len, 3);
	assert_string_equal(cmd.mail.auth, "u+v@w");
	assert_int_equal(cmd.mail.auth_len, 5);

	l = "MAIL FROM:<a@b> SIZE=18446744073709551615";
	assert_int_equal(smtpp_command(l, strlen(l), &cmd), 0);
	assert_true(cmd.mail.size == UINT64_MAX);
	l = "MAIL FROM:<a@b> SIZE=18446744073709551616";
	assert_int_equal(smtpp_command(l, strlen(l), &cmd), 0);
	assert_true(cmd.mail.size == UINT64_MAX);
	l = "MAIL FROM:<a@b> SIZE=1844674407370955161";
	assert_int_equal(smtpp_command(l, strlen(l), &cmd), 0);
	assert_true(cmd.mail.size == 1844674407370955161ull);

	l = "RCPT TO:<a@b> NOTIFY=success,Delay ORCPT=RFC822;a+2Bb@c";
	assert_int_equal(smtpp_command(l, strlen(l), &cmd), 0);
	assert_int_equal(cmd.rcpt.notify,
			 SMTPP_NOTIFY_SUCCESS | SMTPP_NOTIFY_DELAY);
	assert_string_equal(cmd.rcpt.orcpt_type, "RFC822");
	assert_string_equal(cmd.rcpt.orcpt, "a+b@c");
	assert_int_equal(cmd.rcpt.orcpt_len, 5);
	l = "RCPT TO:<a@b> NOTIFY=NEVER";
	assert_int_equal(smtpp_command(l, strlen(l), &cmd), 0);
	assert_int_equal(cmd.rcpt.notify, SMTPP_NOTIFY_NEVER);
}

/* RFC 3461 length bounds: ENVID 100, ORCPT 500 (encoded). */
static void
test_param_lengths(void **state)
{
	char line[1024];
	struct smtpp_cmd cmd;
	size_t o;

	(void)state;
	for (size_t n = 99; n <= 101; n++) {
		o = (size_t)snprintf(line, sizeof(line), "MAIL FROM:<> ENVID=");
		memset(line + o, 'e', n);
		smtpp_command(line, o + n, &cmd);
		assert_int_equal(cmd.err,
				 n <= 100 ? SMTPP_OK : SMTPP_ERR_PARAM_VALUE);
	}
	for (size_t n = 499; n <= 501; n++) {
		o = (size_t)snprintf(line, sizeof(line),
				     "RCPT TO:<a@b> ORCPT=rfc822;");
		memset(line + o, 'o', n - 7);
		smtpp_command(line, o + n - 7, &cmd);
		assert_int_equal(cmd.err,
				 n <= 500 ? SMTPP_OK : SMTPP_ERR_PARAM_VALUE);
	}
	o = (size_t)snprintf(line, sizeof(line), "RCPT TO:<a@b> ORCPT=");
	memset(line + o, 't', 33);
	memcpy(line + o + 33, ";x", 2);
	smtpp_command(line, o + 35, &cmd);
	assert_int_equal(cmd.err, SMTPP_ERR_PARAM_VALUE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_err_table),
	    cmocka_unit_test(test_name_tables),
	    cmocka_unit_test(test_line_err),
	    cmocka_unit_test(test_line_table),
	    cmocka_unit_test(test_line_used_stops_at_terminator),
	    cmocka_unit_test(test_line_cap),
	    cmocka_unit_test(test_line_overlong_recovers),
	    cmocka_unit_test(test_line_init_reset),
	    cmocka_unit_test(test_command_table),
	    cmocka_unit_test(test_bdat_values),
	    cmocka_unit_test(test_param_table),
	    cmocka_unit_test(test_param_values),
	    cmocka_unit_test(test_param_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
