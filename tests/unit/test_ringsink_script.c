/* SPDX-License-Identifier: MIT */
/*
 * test_ringsink_script: ringsink's fault-rule language, table-driven.
 * Every form and qualifier judged against events, sequences with per-key
 * counters across "connections", the tNNN convention, durations, and the
 * errors (with their flag or file:line origin).
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
#include <unistd.h>

#include "../../tools/ringsink_script.h"

static void
judge(struct sscript *sc, enum sscript_stage st, const char *subject,
      const char *key, struct sscript_verdict *v)
{
	struct sscript_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.stage = st;
	ev.subjects = &subject;
	ev.nsubjects = subject ? 1 : 0;
	ev.keys[SSCRIPT_KEY_RCPT] = key;
	ev.keys[SSCRIPT_KEY_MSG] = key;
	ev.keys[SSCRIPT_KEY_CONN] = key;
	sscript_eval(sc, &ev, v);
}

struct valid_case {
	const char *form, *arg;
	enum sscript_stage stage; /* event judged */
	const char *subject;
	enum sscript_act act;
	unsigned code;
	const char *text; /* NULL: none */
	int64_t delay_ns;
};

static const struct valid_case valid[] = {
    {"reply", "rcpt=451:4.3.0 try later", SSCRIPT_RCPT, "bob", SSCRIPT_REPLY,
     451, "4.3.0 try later", 0},
    {"reply", "rcpt=451 4.3.0 space form", SSCRIPT_RCPT, "bob", SSCRIPT_REPLY,
     451, "4.3.0 space form", 0},
    {"reply", "mail=550", SSCRIPT_MAIL, "a", SSCRIPT_REPLY, 550, NULL, 0},
    {"reply", "mail=550:", SSCRIPT_MAIL, "a", SSCRIPT_REPLY, 550, NULL, 0},
    {"reply", "mail=550", SSCRIPT_RCPT, "a", SSCRIPT_PASS, 0, NULL, 0},
    {"reply", "banner=554:5.3.2 go away", SSCRIPT_BANNER, "127.0.0.1",
     SSCRIPT_REPLY, 554, "5.3.2 go away", 0},
    {"reply", "data=354:go on", SSCRIPT_DATA, NULL, SSCRIPT_REPLY, 354, "go on",
     0},
    {"reply", "dot=421:4.3.2 bye", SSCRIPT_DOT, NULL, SSCRIPT_CLOSE, 421,
     "4.3.2 bye", 0},
    {"reply", "rcpt=550:5.1.1 user@example.com unknown", SSCRIPT_RCPT, "x",
     SSCRIPT_REPLY, 550, "5.1.1 user@example.com unknown", 0},
    {"reply", "RCPT=452", SSCRIPT_RCPT, "x", SSCRIPT_REPLY, 452, NULL, 0},
    {"reply", "ehlo=550", SSCRIPT_EHLO, "h", SSCRIPT_REPLY, 550, NULL, 0},
    {"reply", "ehlo=550", SSCRIPT_HELO, "h", SSCRIPT_PASS, 0, NULL, 0},
    {"reply", "helo=550", SSCRIPT_HELO, "h", SSCRIPT_REPLY, 550, NULL, 0},
    {"reply", "rset=451", SSCRIPT_RSET, NULL, SSCRIPT_REPLY, 451, NULL, 0},
    {"reply", "quit=221:2.0.0 ciao", SSCRIPT_QUIT, NULL, SSCRIPT_REPLY, 221,
     "2.0.0 ciao", 0},
    {"reply", "rcpt/bad*=550:5.1.1 no", SSCRIPT_RCPT, "badguy", SSCRIPT_REPLY,
     550, "5.1.1 no", 0},
    {"reply", "rcpt/bad*=550:5.1.1 no", SSCRIPT_RCPT, "good", SSCRIPT_PASS, 0,
     NULL, 0},
    {"reply", "rcpt/BAD*=550", SSCRIPT_RCPT, "badguy", SSCRIPT_REPLY, 550, NULL,
     0},
    {"reply-close", "mail=421:4.7.0 bye", SSCRIPT_MAIL, "a", SSCRIPT_CLOSE, 421,
     "4.7.0 bye", 0},
    {"reply-close", "rcpt=554", SSCRIPT_RCPT, "a", SSCRIPT_CLOSE, 554, NULL, 0},
    {"drop", "data", SSCRIPT_DATA, NULL, SSCRIPT_DROP, 0, NULL, 0},
    {"drop", "rcpt/x*", SSCRIPT_RCPT, "xy", SSCRIPT_DROP, 0, NULL, 0},
    {"drop", "rcpt/x*", SSCRIPT_RCPT, "yx", SSCRIPT_PASS, 0, NULL, 0},
    {"delay", "dot=2s", SSCRIPT_DOT, NULL, SSCRIPT_PASS, 0, NULL, 2000000000LL},
    {"delay", "rcpt=250ms", SSCRIPT_RCPT, "a", SSCRIPT_PASS, 0, NULL,
     250000000LL},
    {"delay", "banner=1.5s", SSCRIPT_BANNER, NULL, SSCRIPT_PASS, 0, NULL,
     1500000000LL},
    {"rcpt", "t451*=451:4.2.0 busy", SSCRIPT_RCPT, "t451a", SSCRIPT_REPLY, 451,
     "4.2.0 busy", 0},
    {"rcpt", "t451*=451:4.2.0 busy", SSCRIPT_RCPT, "u451", SSCRIPT_PASS, 0,
     NULL, 0},
    {"rcpt", "gone=421", SSCRIPT_RCPT, "gone", SSCRIPT_CLOSE, 421, NULL, 0},
    {"--reply", "rcpt=451", SSCRIPT_RCPT, "a", SSCRIPT_REPLY, 451, NULL, 0},
    {"sequence", "rcpt = 451:4.3.0 later; 250", SSCRIPT_RCPT, "a",
     SSCRIPT_REPLY, 451, "4.3.0 later", 0},
    {"sequence", "dot = delay 1s", SSCRIPT_DOT, NULL, SSCRIPT_PASS, 0, NULL,
     1000000000LL},
    {"sequence", "mail = drop", SSCRIPT_MAIL, "a", SSCRIPT_DROP, 0, NULL, 0},
    {"sequence", "mail = close 421:4.7.0 x", SSCRIPT_MAIL, "a", SSCRIPT_CLOSE,
     421, "4.7.0 x", 0},
    {"sequence", "mail = pass; 550", SSCRIPT_MAIL, "a", SSCRIPT_PASS, 0, NULL,
     0},
};

static void
test_valid_forms(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(valid); i++) {
		const struct valid_case *c = &valid[i];
		struct sscript *sc = sscript_new();
		struct sscript_verdict v;
		char err[256] = "";

		if (sscript_add(sc, c->form, c->arg, "--x", err, sizeof(err)) !=
		    0) {
			fprintf(stderr, "case %zu: %s\n", i, err);
			fail();
		}
		assert_int_equal(sscript_rule_count(sc), 1);
		judge(sc, c->stage, c->subject, "k", &v);
		if (v.act != c->act || v.code != c->code ||
		    v.delay_ns != c->delay_ns ||
		    (c->text == NULL) != (v.text == NULL) ||
		    (c->text && strcmp(c->text, v.text) != 0)) {
			fprintf(
			    stderr, "case %zu (%s %s): got %s %u [%s] %lld\n",
			    i, c->form, c->arg, sscript_act_str(v.act), v.code,
			    v.text ? v.text : "(null)", (long long)v.delay_ns);
			fail();
		}
		sscript_free(sc);
	}
}

struct invalid_case {
	const char *form, *arg, *err;
};

static const struct invalid_case invalid[] = {
    {"reply", "rcpt451", "--reply: expected STAGE[/GLOB]=CODE[:TEXT]"},
    {"reply", "bogus=451", "--reply: unknown stage \"bogus\""},
    {"reply", "rcpt=45", "--reply: expected CODE[:TEXT], got \"45\""},
    {"reply", "rcpt=4511", "--reply: expected CODE[:TEXT]"},
    {"reply", "rcpt=abc", "--reply: expected CODE[:TEXT]"},
    {"reply", "rcpt=354", "--reply: code 354 is not a valid"},
    {"reply", "data=250", "--reply: code 250 is not a valid"},
    {"reply", "mail=650", "--reply: code 650 is not a valid"},
    {"reply", "rcpt/=451", "--reply: empty pattern"},
    {"reply", "rcpt=451:a\tb", "--reply: control character"},
    {"reply-close", "mail=250", "--reply-close: code 250 is not a valid"},
    {"drop", "data=1", "--drop: drop takes STAGE[/GLOB], no \"=\""},
    {"drop", "nowhere", "--drop: unknown stage \"nowhere\""},
    {"delay", "dot=2", "--delay: bad duration \"2\""},
    {"delay", "dot=2h", "--delay: bad duration"},
    {"delay", "dot=999m", "--delay: bad duration"},
    {"delay", "dot", "--delay: expected STAGE[/GLOB]=DURATION"},
    {"rcpt", "=451", "--rcpt: empty pattern"},
    {"rcpt", "x=251x", "--rcpt: expected CODE[:TEXT]"},
    {"sequence", "rcpt 451", "--sequence: expected STAGE[/GLOB] [per KEY]"},
    {"sequence", "rcpt per nobody = 451", "--sequence: unknown key"},
    {"sequence", "rcpt = 451; 0*250", "--sequence: bad repeat count"},
    {"sequence", "rcpt = 451; delay x", "--sequence: bad duration"},
    {"sequence", "rcpt = 451;", "--sequence: expected CODE[:TEXT], got \"\""},
    {"sequence", "data = 250", "--sequence: code 250 is not a valid"},
    {"frobnicate", "x", "--x: unknown rule \"frobnicate\""},
};

static void
test_invalid_forms(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(invalid); i++) {
		const struct invalid_case *c = &invalid[i];
		struct sscript *sc = sscript_new();
		char err[256] = "", where[32];

		snprintf(where, sizeof(where), "--%s",
			 strcmp(c->form, "frobnicate") ? c->form : "x");
		assert_int_equal(
		    sscript_add(sc, c->form, c->arg, where, err, sizeof(err)),
		    -EINVAL);
		if (strncmp(err, c->err, strlen(c->err)) != 0) {
			fprintf(stderr, "case %zu: want [%s] got [%s]\n", i,
				c->err, err);
			fail();
		}
		assert_int_equal(sscript_rule_count(sc), 0);
		sscript_free(sc);
	}
}

static void
test_qualifiers(void **state)
{
	struct sscript *sc = sscript_new();
	struct sscript_verdict v;
	char err[256];
	unsigned hits = 0;

	(void)state;
	assert_int_equal(
	    sscript_add(sc, "reply", "dot=451@first:2", "f", err, sizeof(err)),
	    0);
	assert_int_equal(
	    sscript_add(sc, "reply", "rcpt=452@from:3", "f", err, sizeof(err)),
	    0);
	assert_int_equal(
	    sscript_add(sc, "drop", "mail@nth:2", "f", err, sizeof(err)), 0);
	for (int i = 1; i <= 4; i++) {
		judge(sc, SSCRIPT_DOT, NULL, NULL, &v);
		assert_int_equal(v.act, i <= 2 ? SSCRIPT_REPLY : SSCRIPT_PASS);
		judge(sc, SSCRIPT_RCPT, "a", NULL, &v);
		assert_int_equal(v.act, i >= 3 ? SSCRIPT_REPLY : SSCRIPT_PASS);
		judge(sc, SSCRIPT_MAIL, "a", NULL, &v);
		assert_int_equal(v.act, i == 2 ? SSCRIPT_DROP : SSCRIPT_PASS);
	}
	sscript_free(sc);

	sc = sscript_new();
	sscript_seed(sc, 42);
	assert_int_equal(sscript_add(sc, "reply", "rcpt=451:4.3.0 later@0.3",
				     "f", err, sizeof(err)),
			 0);
	for (int i = 0; i < 10000; i++) {
		judge(sc, SSCRIPT_RCPT, "a", NULL, &v);
		if (v.act == SSCRIPT_REPLY) {
			hits++;
			assert_string_equal(v.text, "4.3.0 later");
		}
	}
	assert_in_range(hits, 2700, 3300);
	sscript_free(sc);

	/* combined: probability and first:N; text with '@' kept */
	sc = sscript_new();
	assert_int_equal(sscript_add(sc, "reply",
				     "rcpt=550:no user@host@first:1@1", "f",
				     err, sizeof(err)),
			 0);
	judge(sc, SSCRIPT_RCPT, "a", NULL, &v);
	assert_string_equal(v.text, "no user@host");
	judge(sc, SSCRIPT_RCPT, "a", NULL, &v);
	assert_int_equal(v.act, SSCRIPT_PASS);
	sscript_free(sc);
}

static void
test_first_rule_decides_delays_add(void **state)
{
	struct sscript *sc = sscript_new();
	struct sscript_verdict v;
	char err[256];

	(void)state;
	assert_int_equal(
	    sscript_add(sc, "rcpt", "a*=451", "f", err, sizeof(err)), 0);
	assert_int_equal(
	    sscript_add(sc, "reply", "rcpt=550", "f", err, sizeof(err)), 0);
	assert_int_equal(
	    sscript_add(sc, "delay", "rcpt=100ms", "f", err, sizeof(err)), 0);
	assert_int_equal(
	    sscript_add(sc, "delay", "rcpt/a*=1s", "f", err, sizeof(err)), 0);
	judge(sc, SSCRIPT_RCPT, "abc", NULL, &v);
	assert_int_equal(v.code, 451);
	assert_int_equal(v.delay_ns, 1100000000LL);
	judge(sc, SSCRIPT_RCPT, "xyz", NULL, &v);
	assert_int_equal(v.code, 550);
	assert_int_equal(v.delay_ns, 100000000LL);
	sscript_free(sc);
}

static void
test_sequence_per_key(void **state)
{
	struct sscript *sc = sscript_new();
	struct sscript_verdict v;
	char err[256];

	(void)state;
	assert_int_equal(sscript_add(sc, "sequence",
				     "rcpt/retry* = 451:4.3.0 later; 250", "f",
				     err, sizeof(err)),
			 0);
	/* first attempt of each recipient: 451; later attempts: 250 */
	judge(sc, SSCRIPT_RCPT, "retry1", "retry1@x", &v);
	assert_int_equal(v.code, 451);
	judge(sc, SSCRIPT_RCPT, "retry2", "retry2@x", &v);
	assert_int_equal(v.code, 451);
	judge(sc, SSCRIPT_RCPT, "retry1", "retry1@x", &v);
	assert_int_equal(v.code, 250);
	judge(sc, SSCRIPT_RCPT, "retry1", "retry1@x", &v);
	assert_int_equal(v.code, 250);
	judge(sc, SSCRIPT_RCPT, "other", "other@x", &v);
	assert_int_equal(v.act, SSCRIPT_PASS);
	sscript_free(sc);

	/* repeat counts, a global key, and the last step repeating */
	sc = sscript_new();
	assert_int_equal(
	    sscript_add(sc, "sequence",
			"dot per global = 2*451; drop; 3*pass; 550", "f", err,
			sizeof(err)),
	    0);
	{
		static const enum sscript_act want[] = {
		    SSCRIPT_REPLY, SSCRIPT_REPLY, SSCRIPT_DROP,  SSCRIPT_PASS,
		    SSCRIPT_PASS,  SSCRIPT_PASS,  SSCRIPT_REPLY, SSCRIPT_REPLY};

		for (size_t i = 0; i < nitems(want); i++) {
			judge(sc, SSCRIPT_DOT, NULL, i % 2 ? "a" : "b", &v);
			assert_int_equal(v.act, want[i]);
		}
		assert_int_equal(v.code, 550);
	}
	sscript_free(sc);

	/* per msg at dot, per conn at mail */
	sc = sscript_new();
	assert_int_equal(sscript_add(sc, "sequence",
				     "mail per conn = pass; 421", "f", err,
				     sizeof(err)),
			 0);
	judge(sc, SSCRIPT_MAIL, "a", "c1", &v);
	assert_int_equal(v.act, SSCRIPT_PASS);
	judge(sc, SSCRIPT_MAIL, "a", "c2", &v);
	assert_int_equal(v.act, SSCRIPT_PASS);
	judge(sc, SSCRIPT_MAIL, "a", "c1", &v);
	assert_int_equal(v.act, SSCRIPT_CLOSE);
	sscript_free(sc);
}

static void
test_script_file_errors(void **state)
{
	static const char good[] =
	    "# faults for the retry test\n"
	    "\n"
	    "reply mail=451:4.3.0 first mail fails@first:1\r\n"
	    "   rcpt bad*=550:5.1.1 no such user\n"
	    "sequence rcpt/retry* per rcpt = 451:4.3.0 later; 250\n"
	    "--delay dot=10ms\n";
	static const struct {
		const char *buf, *err;
	} bad[] = {
	    {"reply rcpt=451\n\nreply rcpt=999\n", "t.rules:3: code 999"},
	    {"# c\nfrob x\n", "t.rules:2: unknown rule \"frob\""},
	    {"drop\n", "t.rules:1: unknown stage \"\""},
	    {"reply rcpt=451\nsequence rcpt\n", "t.rules:2: expected STAGE"},
	    {"averyveryveryverylongformnamethatisnotarule x\n",
	     "t.rules:1: unknown rule"},
	};
	struct sscript *sc = sscript_new();
	struct sscript_verdict v;
	char err[256], path[] = "/tmp/test_ringsink_script.XXXXXX";
	int fd;

	(void)state;
	assert_int_equal(sscript_load_buf(sc, "t.rules", good, strlen(good),
					  err, sizeof(err)),
			 0);
	assert_int_equal(sscript_rule_count(sc), 4);
	judge(sc, SSCRIPT_MAIL, "a", NULL, &v);
	assert_string_equal(v.text, "4.3.0 first mail fails");
	judge(sc, SSCRIPT_RCPT, "badx", "badx@y", &v);
	assert_int_equal(v.code, 550);
	judge(sc, SSCRIPT_RCPT, "retry", "retry@y", &v);
	assert_int_equal(v.code, 451);
	judge(sc, SSCRIPT_DOT, NULL, NULL, &v);
	assert_int_equal(v.delay_ns, 10000000);
	sscript_free(sc);
	for (size_t i = 0; i < nitems(bad); i++) {
		sc = sscript_new();
		assert_int_equal(sscript_load_buf(sc, "t.rules", bad[i].buf,
						  strlen(bad[i].buf), err,
						  sizeof(err)),
				 -EINVAL);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0) {
			fprintf(stderr, "bad %zu: want [%s] got [%s]\n", i,
				bad[i].err, err);
			fail();
		}
		sscript_free(sc);
	}
	/* from a file: errors name the file and line */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "reply rcpt=451\ndelay dot=x\n", 27), 27);
	close(fd);
	sc = sscript_new();
	assert_int_equal(sscript_load_file(sc, path, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, ":2: bad duration"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	unlink(path);
	assert_int_equal(sscript_load_file(sc, path, err, sizeof(err)),
			 -ENOENT);
	sscript_free(sc);
}

static void
test_convention(void **state)
{
	static const struct {
		const char *local;
		int match;
		enum sscript_act act;
		unsigned code;
	} t[] = {
	    {"t451", 1, SSCRIPT_REPLY, 451},
	    {"T550", 1, SSCRIPT_REPLY, 550},
	    {"t421", 1, SSCRIPT_CLOSE, 421},
	    {"t550-anything", 1, SSCRIPT_REPLY, 550},
	    {"t452+tag", 1, SSCRIPT_REPLY, 452},
	    {"t250.x", 1, SSCRIPT_REPLY, 250},
	    {"t4511", 0, SSCRIPT_PASS, 0},
	    {"t45", 0, SSCRIPT_PASS, 0},
	    {"t999", 0, SSCRIPT_PASS, 0},
	    {"t351", 0, SSCRIPT_PASS, 0},
	    {"x451", 0, SSCRIPT_PASS, 0},
	    {"t451x", 0, SSCRIPT_PASS, 0},
	    {"", 0, SSCRIPT_PASS, 0},
	};
	struct sscript_verdict v;

	(void)state;
	assert_int_equal(sscript_convention(NULL, &v), 0);
	for (size_t i = 0; i < nitems(t); i++) {
		memset(&v, 0, sizeof(v));
		assert_int_equal(sscript_convention(t[i].local, &v),
				 t[i].match);
		if (!t[i].match)
			continue;
		assert_int_equal(v.act, t[i].act);
		assert_int_equal(v.code, t[i].code);
		assert_non_null(v.text);
		assert_int_equal(v.text[0], '0' + (int)t[i].code / 100);
	}
}

static void
test_durations_and_names(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int64_t ns;
	} t[] = {
	    {"1ms", 0, 1000000},
	    {"250ms", 0, 250000000},
	    {"2s", 0, 2000000000LL},
	    {"1.5s", 0, 1500000000LL},
	    {"1m", 0, 60000000000LL},
	    {".5s", 0, 500000000},
	    {"0s", 0, 0},
	    {"2", -EINVAL, 0},
	    {"s", -EINVAL, 0},
	    {"1.2.3s", -EINVAL, 0},
	    {"-1s", -EINVAL, 0},
	    {"61m", -EINVAL, 0},
	    {"5 s", -EINVAL, 0},
	    {"10us", -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < nitems(t); i++) {
		int64_t ns = -1;

		assert_int_equal(sscript_duration(t[i].s, strlen(t[i].s), &ns),
				 t[i].rc);
		if (t[i].rc == 0)
			assert_int_equal(ns, t[i].ns);
	}
	assert_int_equal(sscript_stage_parse("dot", 3), SSCRIPT_DOT);
	assert_int_equal(sscript_stage_parse("BANNER", 6), SSCRIPT_BANNER);
	assert_int_equal(sscript_stage_parse("do", 2), -EINVAL);
	assert_string_equal(sscript_stage_str(SSCRIPT_QUIT), "quit");
	assert_string_equal(sscript_stage_str(SSCRIPT_STAGE__COUNT), "?");
	assert_string_equal(sscript_act_str(SSCRIPT_DROP), "drop");
	assert_string_equal(sscript_key_str(SSCRIPT_KEY_MSG), "msg");
	assert_true(sscript_is_form("reply-close"));
	assert_false(sscript_is_form("listen"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_forms),
	    cmocka_unit_test(test_invalid_forms),
	    cmocka_unit_test(test_qualifiers),
	    cmocka_unit_test(test_first_rule_decides_delays_add),
	    cmocka_unit_test(test_sequence_per_key),
	    cmocka_unit_test(test_script_file_errors),
	    cmocka_unit_test(test_convention),
	    cmocka_unit_test(test_durations_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
