/* SPDX-License-Identifier: MIT */
/*
 * test_jsonw: escaping of every byte class, UTF-8 validation with maximal
 * subpart replacement, nesting, numbers, BUG_ON on misuse, and Python's
 * json module as an independent parser and UTF-8 decoder of the output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jsonw.h"

#define S(lit) lit, sizeof(lit) - 1

struct esc_case {
	const char *in;
	size_t len;
	const char *out; /* the whole JSON string, quotes included */
};

/* ASCII: every escape class and its neighbours. */
static const struct esc_case esc_ascii[] = {
    {S(""), "\"\""},
    {S("plain text 123 ~"), "\"plain text 123 ~\""},
    {S("\""), "\"\\\"\""},
    {S("\\"), "\"\\\\\""},
    {S("/"), "\"/\""},
    {S("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\""},
    {S("\0"), "\"\\u0000\""},
    {S("\x01"), "\"\\u0001\""},
    {S("\x0b"), "\"\\u000b\""},
    {S("\x1b[31m"), "\"\\u001b[31m\""},
    {S("\x1f"), "\"\\u001f\""},
    {S(" "), "\" \""},
    {S("\x7f"), "\"\\u007f\""},
    {S("a\0b"), "\"a\\u0000b\""},
    {S("250 ok\r\nMAIL FROM:<x>"), "\"250 ok\\r\\nMAIL FROM:<x>\""},
    {S("\"\\\"\\"), "\"\\\"\\\\\\\"\\\\\""},
};

/* Well-formed UTF-8 at the edges of every row of Unicode Table 3-7. */
static const struct esc_case esc_utf8_valid[] = {
    {S("\xc2\x80"), "\"\xc2\x80\""}, /* U+0080 */
    {S("\xc3\xa9t\xc3\xa9"), "\"\xc3\xa9t\xc3\xa9\""},
    {S("\xdf\xbf"), "\"\xdf\xbf\""},                 /* U+07FF */
    {S("\xe0\xa0\x80"), "\"\xe0\xa0\x80\""},         /* U+0800 */
    {S("\xe1\x80\x80"), "\"\xe1\x80\x80\""},         /* U+1000 */
    {S("\xe2\x82\xac"), "\"\xe2\x82\xac\""},         /* U+20AC euro */
    {S("\xe2\x80\xa7"), "\"\xe2\x80\xa7\""},         /* U+2027 */
    {S("\xe2\x80\xaa"), "\"\xe2\x80\xaa\""},         /* U+202A */
    {S("\xec\xbf\xbf"), "\"\xec\xbf\xbf\""},         /* U+CFFF */
    {S("\xed\x9f\xbf"), "\"\xed\x9f\xbf\""},         /* U+D7FF */
    {S("\xee\x80\x80"), "\"\xee\x80\x80\""},         /* U+E000 */
    {S("\xef\xbf\xbd"), "\"\xef\xbf\xbd\""},         /* U+FFFD */
    {S("\xef\xbf\xbf"), "\"\xef\xbf\xbf\""},         /* U+FFFF */
    {S("\xf0\x90\x80\x80"), "\"\xf0\x90\x80\x80\""}, /* U+10000 */
    {S("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\""}, /* U+1F600 */
    {S("\xf1\x80\x80\x80"), "\"\xf1\x80\x80\x80\""}, /* U+40000 */
    {S("\xf3\xbf\xbf\xbf"), "\"\xf3\xbf\xbf\xbf\""}, /* U+FFFFF */
    {S("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\""}, /* U+10FFFF */
    /* JS-unsafe line and paragraph separators are escaped */
    {S("\xe2\x80\xa8"), "\"\\u2028\""},
    {S("a\xe2\x80\xa9z"), "\"a\\u2029z\""},
};

#define R "\\ufffd"
/* Ill-formed UTF-8: one U+FFFD per maximal subpart. */
static const struct esc_case esc_utf8_invalid[] = {
    /* stray continuation bytes */
    {S("\x80"), "\"" R "\""},
    {S("\xbf"), "\"" R "\""},
    {S("\x80\x80"), "\"" R R "\""},
    {S("a\x80z"), "\"a" R "z\""},
    /* bytes that never start a sequence */
    {S("\xc0\x80"), "\"" R R "\""}, /* overlong NUL */
    {S("\xc1\xbf"), "\"" R R "\""},
    {S("\xf5\x80\x80\x80"), "\"" R R R R "\""},
    {S("\xf8\x88\x80\x80\x80"), "\"" R R R R R "\""},
    {S("\xfe\xff"), "\"" R R "\""},
    /* overlong 3- and 4-byte forms */
    {S("\xe0\x80\x80"), "\"" R R R "\""},
    {S("\xe0\x9f\xbf"), "\"" R R R "\""},
    {S("\xf0\x80\x80\x80"), "\"" R R R R "\""},
    {S("\xf0\x8f\xbf\xbf"), "\"" R R R R "\""},
    /* UTF-8-encoded surrogates, alone and as a CESU-8 pair */
    {S("\xed\xa0\x80"), "\"" R R R "\""},
    {S("\xed\xbf\xbf"), "\"" R R R "\""},
    {S("\xed\xa0\xbd\xed\xb8\x80"), "\"" R R R R R R "\""},
    /* above U+10FFFF */
    {S("\xf4\x90\x80\x80"), "\"" R R R R "\""},
    {S("\xf7\xbf\xbf\xbf"), "\"" R R R R "\""},
    /* truncated at the end of input: one replacement each */
    {S("\xc2"), "\"" R "\""},
    {S("\xe2\x82"), "\"" R "\""},
    {S("\xe1"), "\"" R "\""},
    {S("\xf0\x9f\x98"), "\"" R "\""},
    {S("\xf4\x8f\xbf"), "\"" R "\""},
    /* truncated before another character */
    {S("\xe2\x82\x41"), "\"" R "A\""},
    {S("\xf0\x9f\x41"), "\"" R "A\""},
    {S("\xc2\xc2\x80"), "\"" R "\xc2\x80\""},
    {S("\xe2\x82\xe2\x82\xac"), "\"" R "\xe2\x82\xac\""},
    {S("\xf0\x9f\x98\"x"), "\"" R "\\\"x\""},
    {S("\xe1\x80\n"), "\"" R "\\n\""},
    {S("\xe2\x80\xe2\x80\xa8"), "\"" R "\\u2028\""},
    /* a 4-byte lead followed by a valid 3-byte sequence */
    {S("\xf0\xe2\x82\xac"), "\"" R "\xe2\x82\xac\""},
};
#undef R

static void
check_cases(const struct esc_case *c, size_t n)
{
	struct jsonw w;

	jsonw_init(&w);
	for (size_t i = 0; i < n; i++) {
		jsonw_reset(&w);
		jsonw_str_n(&w, c[i].in, c[i].len);
		if (strcmp(w.buf, c[i].out) != 0)
			fail_msg("case %zu: got %s want %s", i, w.buf,
				 c[i].out);
		assert_int_equal(w.len, strlen(c[i].out));
		assert_true(jsonw_complete(&w));
	}
	jsonw_fini(&w);
}

static void
test_escape_ascii(void **state)
{
	(void)state;
	check_cases(esc_ascii, nitems(esc_ascii));
}

static void
test_utf8_valid(void **state)
{
	(void)state;
	check_cases(esc_utf8_valid, nitems(esc_utf8_valid));
}

static void
test_utf8_invalid(void **state)
{
	(void)state;
	check_cases(esc_utf8_invalid, nitems(esc_utf8_invalid));
}

/* Keys go through the same escaper; NULL strings are null. */
static void
test_keys_and_null_strings(void **state)
{
	struct jsonw w;

	(void)state;
	jsonw_init(&w);
	jsonw_obj_begin(&w);
	jsonw_key_n(&w, "k\"\n\xff", 4);
	jsonw_str(&w, NULL);
	jsonw_key(&w, "s");
	jsonw_str_n(&w, NULL, 5);
	jsonw_kv_str(&w, "t", "x");
	jsonw_obj_end(&w);
	assert_string_equal(
	    w.buf, "{\"k\\\"\\n\\ufffd\":null,\"s\":null,\"t\":\"x\"}");
	jsonw_fini(&w);
}

static void
test_nesting(void **state)
{
	struct jsonw w;

	(void)state;
	jsonw_init(&w);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "a");
	jsonw_arr_begin(&w);
	jsonw_int(&w, 1);
	jsonw_str(&w, "two");
	jsonw_obj_begin(&w);
	jsonw_kv_null(&w, "b");
	jsonw_kv_bool(&w, "c", true);
	jsonw_obj_end(&w);
	jsonw_arr_begin(&w);
	jsonw_arr_end(&w);
	jsonw_arr_end(&w);
	assert_false(jsonw_complete(&w));
	jsonw_key(&w, "e");
	assert_false(jsonw_complete(&w));
	jsonw_obj_begin(&w);
	jsonw_obj_end(&w);
	jsonw_key(&w, "r");
	jsonw_raw(&w, "{\"x\":[1]}", 9);
	jsonw_kv_bool(&w, "f", false);
	jsonw_obj_end(&w);
	assert_true(jsonw_complete(&w));
	jsonw_newline(&w);
	jsonw_arr_begin(&w);
	jsonw_arr_end(&w);
	jsonw_newline(&w);
	jsonw_str(&w, "top");
	jsonw_newline(&w);
	assert_string_equal(w.buf,
			    "{\"a\":[1,\"two\",{\"b\":null,\"c\":true},[]],"
			    "\"e\":{},\"r\":{\"x\":[1]},\"f\":false}\n"
			    "[]\n\"top\"\n");
	jsonw_fini(&w);
	assert_null(w.buf);
}

/* Reset keeps the allocation, forgets state; growth beyond one block. */
static void
test_reset_and_growth(void **state)
{
	struct jsonw w;
	char *buf;
	size_t cap;

	(void)state;
	jsonw_init(&w);
	jsonw_reset(&w); /* harmless before the first write */
	assert_null(w.buf);
	jsonw_arr_begin(&w);
	buf = w.buf;
	cap = w.cap;
	jsonw_reset(&w);
	assert_ptr_equal(w.buf, buf);
	assert_int_equal(w.cap, cap);
	assert_int_equal(w.len, 0);
	assert_string_equal(w.buf, "");
	assert_true(jsonw_complete(&w));
	jsonw_obj_begin(&w); /* depth 0 again after reset */
	jsonw_obj_end(&w);
	assert_string_equal(w.buf, "{}");

	jsonw_reset(&w);
	jsonw_arr_begin(&w);
	for (int i = 0; i < 10000; i++)
		jsonw_str_n(&w, "\x01", 1);
	jsonw_arr_end(&w);
	assert_int_equal(w.len, 2 + 10000 * 8 + 9999);
	assert_true(w.cap > w.len);
	assert_int_equal(w.buf[w.len], '\0');
	assert_memory_equal(w.buf, "[\"\\u0001\",\"\\u0001\",", 19);
	assert_string_equal(w.buf + w.len - 10, ",\"\\u0001\"]");
	jsonw_fini(&w);
}

static void
test_integers(void **state)
{
	struct jsonw w;

	(void)state;
	jsonw_init(&w);
	jsonw_arr_begin(&w);
	jsonw_int(&w, INT64_MIN);
	jsonw_int(&w, INT64_MAX);
	jsonw_int(&w, 0);
	jsonw_int(&w, -1);
	jsonw_uint(&w, UINT64_MAX);
	jsonw_uint(&w, 0);
	jsonw_arr_end(&w);
	assert_string_equal(w.buf, "[-9223372036854775808,9223372036854775807,"
				   "0,-1,18446744073709551615,0]");
	jsonw_reset(&w);
	jsonw_obj_begin(&w);
	jsonw_kv_int(&w, "i", -42);
	jsonw_kv_uint(&w, "u", 42);
	jsonw_kv_double(&w, "d", 0.5);
	jsonw_obj_end(&w);
	assert_string_equal(w.buf, "{\"i\":-42,\"u\":42,\"d\":0.5}");
	jsonw_fini(&w);
}

/* Integers against printf at every power-of-ten edge and sign. */
static void
test_integers_vs_printf(void **state)
{
	struct jsonw w;
	char want[32];

	(void)state;
	jsonw_init(&w);
	for (uint64_t p = 1; p != 0; p = p <= UINT64_MAX / 10 ? p * 10 : 0) {
		const uint64_t us[] = {p - 1, p, p + 1};

		for (size_t i = 0; i < nitems(us); i++) {
			int64_t v = (int64_t)us[i];

			jsonw_reset(&w);
			jsonw_uint(&w, us[i]);
			snprintf(want, sizeof(want), "%llu",
				 (unsigned long long)us[i]);
			assert_string_equal(w.buf, want);
			if (v < 0)
				continue;
			jsonw_reset(&w);
			jsonw_int(&w, v);
			snprintf(want, sizeof(want), "%lld", (long long)v);
			assert_string_equal(w.buf, want);
			jsonw_reset(&w);
			jsonw_int(&w, -v);
			snprintf(want, sizeof(want), "%lld", (long long)-v);
			assert_string_equal(w.buf, want);
		}
	}
	jsonw_fini(&w);
}

/* One byte sequence that is not copied verbatim, and its escape. */
static const struct esc_case esc_in_runs[] = {
    {S("\""), "\\\""},
    {S("\\"), "\\\\"},
    {S("\n"), "\\n"},
    {S("\x01"), "\\u0001"},
    {S("\x7f"), "\\u007f"},
    {S("\xff"), "\\ufffd"},
    {S("\xe2\x80\xa8"), "\\u2028"},
    {S("\xc3\xa9"), "\xc3\xa9"},                 /* valid: verbatim */
    {S("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80"}, /* valid: verbatim */
    {S("\xe2\x80"), "\\ufffd"},                  /* truncated */
};

/*
 * Exact output for each special sequence at every offset of plain runs
 * of several lengths (the scanner steps four bytes at a time), for long
 * strings that grow the buffer mid-string, and for all-escape strings
 * (six output bytes per input byte).
 */
static void
test_escape_in_long_runs(void **state)
{
	static char in[1100], want[1200];
	struct jsonw w;

	(void)state;
	jsonw_init(&w);
	for (size_t c = 0; c < nitems(esc_in_runs); c++) {
		const struct esc_case *e = &esc_in_runs[c];
		size_t olen = strlen(e->out);

		for (size_t len = 0; len <= 1024; len += len < 40 ? 1 : 331) {
			for (size_t at = 0; at <= len; at++) {
				memset(in, 'a' + (int)(at % 26), len);
				memcpy(in + len, e->in, e->len);
				memmove(in + at + e->len, in + at, len - at);
				memcpy(in + at, e->in, e->len);
				want[0] = '"';
				memset(want + 1, 'a' + (int)(at % 26), len);
				memcpy(want + 1 + at, e->out, olen);
				memset(want + 1 + at + olen,
				       'a' + (int)(at % 26), len - at);
				memcpy(want + 1 + len + olen, "\"", 2);
				jsonw_fini(&w); /* regrow from nothing */
				jsonw_str_n(&w, in, len + e->len);
				if (strcmp(w.buf, want) != 0)
					fail_msg("case %zu len %zu at %zu: %s",
						 c, len, at, w.buf);
				if (len > 40)
					at += 97;
			}
		}
	}
	/* Escapes fill the buffer up to a power of two, then a plain tail
	 * must still find room (ASan checks the writes). */
	for (size_t k = 1; k <= 90; k++) {
		for (size_t tail = 0; tail <= 600; tail += 1 + tail / 2) {
			memset(in, 0x01, k);
			memset(in + k, 'z', tail);
			jsonw_fini(&w);
			jsonw_str_n(&w, in, k + tail);
			assert_int_equal(w.len, 6 * k + tail + 2);
			assert_memory_equal(w.buf + 1 + 6 * (k - 1), "\\u0001z",
					    tail > 0 ? 7 : 6);
			assert_string_equal(w.buf + 1 + 6 * k + tail, "\"");
		}
	}
	memset(in, 0x01, 1000);
	jsonw_fini(&w);
	jsonw_str_n(&w, in, 1000);
	assert_int_equal(w.len, 6 * 1000 + 2);
	for (size_t i = 0; i < 1000; i++)
		assert_memory_equal(w.buf + 1 + 6 * i, "\\u0001", 6);
	jsonw_fini(&w);
}

static const struct {
	double v;
	const char *out;
} double_cases[] = {
    {0.0, "0"},
    {-0.0, "-0"},
    {1.0, "1"},
    {-1.5, "-1.5"},
    {0.1, "0.1"},
    {1.0 / 3.0, "0.3333333333333333"},
    {2.0 / 3.0, "0.6666666666666666"},
    {123456789.0, "123456789"},
    {1e21, "1e+21"},
    {1e300, "1e+300"},
    {-2.5e-7, "-2.5e-07"},
    {5e-324, "5e-324"},
    {DBL_MAX, "1.7976931348623157e+308"},
    {DBL_MIN, "2.2250738585072014e-308"},
    {0.30000000000000004, "0.30000000000000004"},
};

static void
test_doubles(void **state)
{
	struct jsonw w;

	(void)state;
	jsonw_init(&w);
	for (size_t i = 0; i < nitems(double_cases); i++) {
		jsonw_reset(&w);
		jsonw_double(&w, double_cases[i].v);
		if (strcmp(w.buf, double_cases[i].out) != 0)
			fail_msg("double %zu: got %s want %s", i, w.buf,
				 double_cases[i].out);
		assert_true(strtod(w.buf, NULL) == double_cases[i].v);
	}
	jsonw_reset(&w);
	jsonw_arr_begin(&w);
	jsonw_double(&w, NAN);
	jsonw_double(&w, -NAN);
	jsonw_double(&w, INFINITY);
	jsonw_double(&w, -INFINITY);
	jsonw_bool(&w, true);
	jsonw_bool(&w, false);
	jsonw_null(&w);
	jsonw_arr_end(&w);
	assert_string_equal(w.buf, "[null,null,null,null,true,false,null]");
	jsonw_fini(&w);
}

/* Misuse, each run in a child that must die of BUG_ON's abort(). */
enum misuse {
	MISUSE_VALUE_NO_KEY = 0,
	MISUSE_END_NO_BEGIN,
	MISUSE_ARR_END_ON_OBJ,
	MISUSE_OBJ_END_ON_ARR,
	MISUSE_KEY_IN_ARRAY,
	MISUSE_KEY_AT_TOP,
	MISUSE_TWO_KEYS,
	MISUSE_KEY_NO_VALUE,
	MISUSE_TWO_TOP_VALUES,
	MISUSE_NEWLINE_OPEN,
	MISUSE_NEWLINE_EMPTY,
	MISUSE_TOO_DEEP,
	MISUSE__COUNT /* must stay last */
};

static void
misuse_run(enum misuse m)
{
	struct jsonw w;

	jsonw_init(&w);
	switch (m) {
	case MISUSE_VALUE_NO_KEY:
		jsonw_obj_begin(&w);
		jsonw_int(&w, 1);
		break;
	case MISUSE_END_NO_BEGIN:
		jsonw_obj_end(&w);
		break;
	case MISUSE_ARR_END_ON_OBJ:
		jsonw_obj_begin(&w);
		jsonw_arr_end(&w);
		break;
	case MISUSE_OBJ_END_ON_ARR:
		jsonw_arr_begin(&w);
		jsonw_obj_end(&w);
		break;
	case MISUSE_KEY_IN_ARRAY:
		jsonw_arr_begin(&w);
		jsonw_key(&w, "k");
		break;
	case MISUSE_KEY_AT_TOP:
		jsonw_key(&w, "k");
		break;
	case MISUSE_TWO_KEYS:
		jsonw_obj_begin(&w);
		jsonw_key(&w, "a");
		jsonw_key(&w, "b");
		break;
	case MISUSE_KEY_NO_VALUE:
		jsonw_obj_begin(&w);
		jsonw_key(&w, "a");
		jsonw_obj_end(&w);
		break;
	case MISUSE_TWO_TOP_VALUES:
		jsonw_int(&w, 1);
		jsonw_int(&w, 2);
		break;
	case MISUSE_NEWLINE_OPEN:
		jsonw_arr_begin(&w);
		jsonw_newline(&w);
		break;
	case MISUSE_NEWLINE_EMPTY:
		jsonw_newline(&w);
		break;
	case MISUSE_TOO_DEEP:
		for (int i = 0; i <= JSONW_MAX_DEPTH; i++)
			jsonw_arr_begin(&w);
		break;
	case MISUSE__COUNT:
		break;
	}
	jsonw_fini(&w);
}

static void
test_misuse_aborts(void **state)
{
	(void)state;
	for (int m = 0; m < MISUSE__COUNT; m++) {
		int st;
		pid_t pid;

		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 2); /* silence "BUG at ..." */
			misuse_run((enum misuse)m);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
			fail_msg("misuse %d did not abort (status %#x)", m, st);
	}
	/* The deepest legal nesting does not abort. */
	{
		struct jsonw w;

		jsonw_init(&w);
		for (int i = 0; i < JSONW_MAX_DEPTH; i++)
			jsonw_arr_begin(&w);
		for (int i = 0; i < JSONW_MAX_DEPTH; i++)
			jsonw_arr_end(&w);
		assert_int_equal(w.len, 2 * JSONW_MAX_DEPTH);
		jsonw_fini(&w);
	}
}

/*
 * Run a Python script with input on stdin (through a temporary file, as
 * popen is one-way); returns its exit status, output in out.  quiet hides
 * the traceback of a failure the test expects.
 */
static int
py_run(const char *script, const char *input, size_t len, char *out,
       size_t outsz, bool quiet)
{
	char path[] = "/tmp/test_jsonw.XXXXXX";
	char cmd[4096];
	int fd = mkstemp(path);
	FILE *p;
	size_t n;
	int st;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, input, len), (ssize_t)len);
	close(fd);
	assert_true(access("/usr/bin/python3", X_OK) == 0);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c '%s' < %s%s", script,
		 path, quiet ? " 2>/dev/null" : "");
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, outsz - 1, p);
	out[n] = '\0';
	st = pclose(p);
	unlink(path);
	return st;
}

/* The brief's check, verbatim: the output is one JSON document. */
#define PY_PARSES "import json,sys; json.loads(sys.stdin.read())"

/*
 * Each line is {"in": hex of the input bytes, "out": our string}.  The
 * file must be strict UTF-8 without raw control bytes (but the newlines),
 * DEL, U+2028 or U+2029, and each decoded "out" must equal Python's own
 * decoding of "in" with errors="replace" (maximal subparts as well).
 */
#define PY_ORACLE                                                              \
	"import json,sys\n"                                                    \
	"raw = sys.stdin.buffer.read()\n"                                      \
	"text = raw.decode(\"utf-8\")\n"                                       \
	"bad = [c for c in text if (ord(c) < 32 and c != \"\\n\")"             \
	" or c in \"\\x7f\\u2028\\u2029\"]\n"                                  \
	"assert not bad, bad\n"                                                \
	"n = 0\n"                                                              \
	"for line in text.splitlines():\n"                                     \
	"    o = json.loads(line)\n"                                           \
	"    want = bytes.fromhex(o[\"in\"]).decode(\"utf-8\", \"replace\")\n" \
	"    assert o[\"out\"] == want, (o, want)\n"                           \
	"    n += 1\n"                                                         \
	"print(\"ok\", n)\n"

static void
oracle_line(struct jsonw *w, const char *in, size_t len)
{
	char hex[2 * 64 + 1];

	assert_true(len <= 64);
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)in[i]);
	hex[2 * len] = '\0';
	jsonw_obj_begin(w);
	jsonw_kv_str(w, "in", hex);
	jsonw_key(w, "out");
	jsonw_str_n(w, in, len);
	jsonw_obj_end(w);
	jsonw_newline(w);
}

static void
test_python_parses(void **state)
{
	struct jsonw w;
	char out[256];

	(void)state;
	jsonw_init(&w);
	jsonw_obj_begin(&w);
	jsonw_kv_int(&w, "min", INT64_MIN);
	jsonw_kv_uint(&w, "max", UINT64_MAX);
	jsonw_kv_double(&w, "d", 1.0 / 3.0);
	jsonw_kv_double(&w, "nan", NAN);
	jsonw_key(&w, "bytes");
	jsonw_str_n(&w, "\0\x1f\x7f\"\\\xff\xed\xa0\x80\xe2\x80\xa8", 12);
	jsonw_key(&w, "a");
	jsonw_arr_begin(&w);
	jsonw_obj_begin(&w);
	jsonw_obj_end(&w);
	jsonw_arr_end(&w);
	jsonw_obj_end(&w);
	assert_int_equal(
	    py_run(PY_PARSES, w.buf, w.len, out, sizeof(out), false), 0);
	/* and the check can fail: a broken document is rejected */
	assert_int_not_equal(
	    py_run(PY_PARSES, "{\"a\":}", 6, out, sizeof(out), true), 0);
	jsonw_fini(&w);
}

static void
test_python_oracle(void **state)
{
	static const unsigned char pool[] = {
	    0x00, 0x0a, 0x1f, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x8f, 0x90,
	    0x9f, 0xa0, 0xa8, 0xa9, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe2,
	    0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x80, 0xbf, 0x82, 0xac,
	};
	const struct esc_case *tables[] = {esc_ascii, esc_utf8_valid,
					   esc_utf8_invalid};
	const size_t counts[] = {nitems(esc_ascii), nitems(esc_utf8_valid),
				 nitems(esc_utf8_invalid)};
	uint64_t x = 0x9e3779b97f4a7c15u;
	struct jsonw w;
	char out[256], want[32];
	size_t lines = 0;

	(void)state;
	jsonw_init(&w);
	for (size_t t = 0; t < nitems(tables); t++)
		for (size_t i = 0; i < counts[t]; i++, lines++)
			oracle_line(&w, tables[t][i].in, tables[t][i].len);
	/* Random strings biased towards the interesting bytes. */
	for (int i = 0; i < 4000; i++, lines++) {
		char in[24];
		size_t len;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = x % sizeof(in);
		for (size_t j = 0; j < len; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			in[j] = (char)((x >> 8) % 3 ? pool[x % sizeof(pool)]
						    : (unsigned char)(x >> 16));
		}
		oracle_line(&w, in, len);
	}
	assert_int_equal(
	    py_run(PY_ORACLE, w.buf, w.len, out, sizeof(out), false), 0);
	snprintf(want, sizeof(want), "ok %zu\n", lines);
	assert_string_equal(out, want);
	/* the oracle can fail: a wrong replacement count is caught */
	jsonw_reset(&w);
	jsonw_raw(&w, "{\"in\":\"e08080\",\"out\":\"\\ufffd\"}", 30);
	jsonw_newline(&w);
	assert_int_not_equal(
	    py_run(PY_ORACLE, w.buf, w.len, out, sizeof(out), true), 0);
	jsonw_fini(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape_ascii),
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_utf8_invalid),
	    cmocka_unit_test(test_keys_and_null_strings),
	    cmocka_unit_test(test_nesting),
	    cmocka_unit_test(test_reset_and_growth),
	    cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_integers_vs_printf),
	    cmocka_unit_test(test_escape_in_long_runs),
	    cmocka_unit_test(test_doubles),
	    cmocka_unit_test(test_misuse_aborts),
	    cmocka_unit_test(test_python_parses),
	    cmocka_unit_test(test_python_oracle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
