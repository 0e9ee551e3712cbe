/* SPDX-License-Identifier: MIT */
/*
 * test_dlog: delivery log lines byte for byte (full, minimal, peer bytes),
 * timestamps, event names, key order as Python's json sees it, and the
 * aborts on misuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dlog.h"

static void
test_ev_str(void **state)
{
	static const char *const want[] = {
	    "received", "delivered", "deferred", "bounced", "expired", "failed",
	};

	(void)state;
	assert_int_equal(nitems(want), DLOG_EV__COUNT);
	for (int i = 0; i < DLOG_EV__COUNT; i++)
		assert_string_equal(dlog_ev_str((enum dlog_ev)i), want[i]);
	assert_string_equal(dlog_ev_str(DLOG_EV__COUNT), "?");
	assert_string_equal(dlog_ev_str((enum dlog_ev) - 1), "?");
}

static const struct {
	int64_t ms;
	const char *out;
} ts_cases[] = {
    {0, "1970-01-01T00:00:00.000Z"},
    {1, "1970-01-01T00:00:00.001Z"},
    {999, "1970-01-01T00:00:00.999Z"},
    {1000, "1970-01-01T00:00:01.000Z"},
    {-1, "1969-12-31T23:59:59.999Z"},
    {-1000, "1969-12-31T23:59:59.000Z"},
    {-1001, "1969-12-31T23:59:58.999Z"},
    {1795575091123, "2026-11-25T02:51:31.123Z"},
    {1709251199999, "2024-02-29T23:59:59.999Z"},
    {253402300799999, "9999-12-31T23:59:59.999Z"},
    {253402300800000, "9999-12-31T23:59:59.999Z"}, /* clamped */
    {INT64_MAX, "9999-12-31T23:59:59.999Z"},
    {-62167219200000, "0000-01-01T00:00:00.000Z"},
    {INT64_MIN, "0000-01-01T00:00:00.000Z"},
};

static void
test_ts_format(void **state)
{
	char out[25];

	(void)state;
	for (size_t i = 0; i < nitems(ts_cases); i++) {
		memset(out, 'x', sizeof(out));
		assert_int_equal(dlog_ts_format(out, ts_cases[i].ms), 24);
		if (strcmp(out, ts_cases[i].out) != 0)
			fail_msg("ts %zu: got %s want %s", i, out,
				 ts_cases[i].out);
	}
}

static void
full_event(struct dlog_event *ev)
{
	dlog_event_init(ev);
	ev->ts_ms = 1795575091123;
	ev->ev = DLOG_EV_DELIVERED;
	ev->id = "0123456789abcdef";
	ev->rcpt = "user@example.org";
	ev->domain = "example.org";
	ev->binding = "default";
	ev->mx = "mx1.example.org";
	ev->ip = "2001:db8::25";
	ev->code = 250;
	ev->enhanced = "2.0.0";
	ev->text = "2.0.0 Ok: queued as 4Xy";
	ev->tls = "TLSv1.3";
	ev->cipher = "TLS_AES_256_GCM_SHA384";
	ev->attempt = 3;
	ev->ms = 412;
	ev->sender = "bounce@example.net";
	ev->size = 12345;
	ev->stage = "data";
	ev->node = "n1";
}

#define FULL_LINE                                                              \
	"{\"ts\":\"2026-11-25T02:51:31.123Z\",\"event\":\"delivered\","        \
	"\"id\":\"0123456789abcdef\",\"rcpt\":\"user@example.org\","           \
	"\"domain\":\"example.org\",\"binding\":\"default\","                  \
	"\"mx\":\"mx1.example.org\",\"ip\":\"2001:db8::25\",\"code\":250,"     \
	"\"enhanced\":\"2.0.0\",\"text\":\"2.0.0 Ok: queued as 4Xy\","         \
	"\"tls\":\"TLSv1.3\",\"cipher\":\"TLS_AES_256_GCM_SHA384\","           \
	"\"attempt\":3,\"ms\":412,\"sender\":\"bounce@example.net\","          \
	"\"size\":12345,\"stage\":\"data\",\"node\":\"n1\"}\n"

#define MINIMAL_LINE                                                           \
	"{\"ts\":\"1970-01-01T00:00:00.000Z\",\"event\":\"received\","         \
	"\"id\":\"abc\",\"rcpt\":null,\"domain\":null,\"binding\":null,"       \
	"\"mx\":null,\"ip\":null,\"code\":null,\"enhanced\":null,"             \
	"\"text\":null,\"tls\":null,\"cipher\":null,\"attempt\":0,"            \
	"\"ms\":null}\n"

/* The formatter before it was done by hand: gmtime_r and snprintf. */
static void
ts_reference(char out[25], int64_t ms)
{
	int64_t lo = -62167219200000, hi = 253402300799999, r;
	struct tm tm;
	time_t sec;

	ms = ms < lo ? lo : ms > hi ? hi : ms;
	r = ((ms % 1000) + 1000) % 1000;
	sec = (time_t)((ms - r) / 1000);
	assert_non_null(gmtime_r(&sec, &tm));
	snprintf(out, 25, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)r);
}

static void
ts_check(int64_t ms)
{
	char got[25], want[25];

	assert_int_equal(dlog_ts_format(got, ms), 24);
	ts_reference(want, ms);
	if (strcmp(got, want) != 0)
		fail_msg("ts %lld: got %s want %s", (long long)ms, got, want);
}

/* The hand-made calendar against glibc: every day's first and last
 * millisecond over years 0..9999 (century and 400-year leap rules, both
 * ends of the clamp) and random instants over the whole int64 range. */
static void
test_ts_matches_gmtime(void **state)
{
	const int64_t day = 86400000;
	uint64_t x = 0x243f6a8885a308d3u;

	(void)state;
	for (int64_t d = -62167219200000 / day - 2; d <= 2932897 + 2; d++) {
		ts_check(d * day);
		ts_check(d * day - 1);
	}
	for (int i = 0; i < 50000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ts_check((int64_t)x);
		ts_check((int64_t)(x % 316000000000000u) - 63000000000000);
	}
}

static void
test_full_event(void **state)
{
	struct dlog_event ev;
	struct jsonw w;

	(void)state;
	full_event(&ev);
	jsonw_init(&w);
	dlog_format(&w, &ev);
	assert_string_equal(w.buf, FULL_LINE);
	assert_true(jsonw_complete(&w));
	jsonw_fini(&w);
}

static void
test_minimal_event(void **state)
{
	struct dlog_event ev;
	struct jsonw w;

	(void)state;
	dlog_event_init(&ev);
	ev.ev = DLOG_EV_RECEIVED;
	ev.id = "abc";
	jsonw_init(&w);
	dlog_format(&w, &ev);
	assert_string_equal(w.buf, MINIMAL_LINE);
	jsonw_fini(&w);
}

/* Zero is a value, not "absent", for every number that can be null. */
static void
test_zero_numbers(void **state)
{
	struct dlog_event ev;
	struct jsonw w;

	(void)state;
	dlog_event_init(&ev);
	ev.ev = DLOG_EV_FAILED;
	ev.code = 0;
	ev.ms = 0;
	ev.size = 0;
	ev.sender = "";
	jsonw_init(&w);
	dlog_format(&w, &ev);
	assert_string_equal(
	    w.buf, "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"event\":\"failed\","
		   "\"id\":null,\"rcpt\":null,\"domain\":null,\"binding\":null,"
		   "\"mx\":null,\"ip\":null,\"code\":0,\"enhanced\":null,"
		   "\"text\":null,\"tls\":null,\"cipher\":null,\"attempt\":0,"
		   "\"ms\":0,\"sender\":\"\",\"size\":0}\n");
	jsonw_fini(&w);
}

/* Peer text with NUL, CR LF, ESC and invalid UTF-8 stays on one line. */
static void
test_text_bytes(void **state)
{
	static const char text[] = "550 no\0pe\r\n\x1b[0m\xff\xe2\x80\xa8 ok";
	struct dlog_event ev;
	struct jsonw w;
	const char *t;

	(void)state;
	dlog_event_init(&ev);
	ev.ev = DLOG_EV_BOUNCED;
	ev.code = 550;
	ev.text = text;
	ev.text_len = sizeof(text) - 1;
	jsonw_init(&w);
	dlog_format(&w, &ev);
	t = strstr(w.buf, "\"text\":");
	assert_non_null(t);
	assert_non_null(strstr(t, "\"text\":\"550 no\\u0000pe\\r\\n\\u001b[0m"
				  "\\ufffd\\u2028 ok\",\"tls\":null,"));
	assert_ptr_equal(strchr(w.buf, '\n'), w.buf + w.len - 1);

	/* text_len 0: NUL-terminated, so the NUL ends it */
	jsonw_reset(&w);
	ev.text_len = 0;
	dlog_format(&w, &ev);
	assert_non_null(strstr(w.buf, "\"text\":\"550 no\",\"tls\""));

	/* empty text is "", not null */
	jsonw_reset(&w);
	ev.text = "";
	dlog_format(&w, &ev);
	assert_non_null(strstr(w.buf, "\"text\":\"\",\"tls\""));
	jsonw_fini(&w);
}

/* Python's view: lines parse, keys come in the contract's order. */
#define PY_KEYS                                                                \
	"import json,sys\n"                                                    \
	"lines = sys.stdin.buffer.read().decode(\"utf-8\").split(\"\\n\")\n"   \
	"assert lines.pop() == \"\"\n"                                         \
	"base = \"ts event id rcpt domain binding mx ip code enhanced text"    \
	" tls cipher attempt ms\".split()\n"                                   \
	"opt = \"sender size stage node\".split()\n"                           \
	"d = [json.loads(l) for l in lines]\n"                                 \
	"assert list(d[0]) == base + opt, list(d[0])\n"                        \
	"assert list(d[1]) == base, list(d[1])\n"                              \
	"assert d[0][\"code\"] == 250 and d[0][\"ip\"] == \"2001:db8::25\"\n"  \
	"assert d[1][\"code\"] is None and d[1][\"ms\"] is None\n"             \
	"assert d[2][\"text\"] == \"a\\ufffd\\u2028\", d[2]\n"                 \
	"print(len(d))\n"

static int
py_run(const char *script, const char *input, size_t len, char *out,
       size_t outsz)
{
	char path[] = "/tmp/test_dlog.XXXXXX";
	char cmd[4096];
	int fd = mkstemp(path);
	FILE *p;
	size_t n;
	int st;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, input, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c '%s' < %s", script,
		 path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, outsz - 1, p);
	out[n] = '\0';
	st = pclose(p);
	unlink(path);
	return st;
}

static void
test_python_key_order(void **state)
{
	struct dlog_event ev;
	struct jsonw w;
	char out[64];

	(void)state;
	jsonw_init(&w);
	full_event(&ev);
	dlog_format(&w, &ev);
	dlog_event_init(&ev);
	ev.ev = DLOG_EV_DEFERRED;
	dlog_format(&w, &ev);
	ev.text = "a\xc0\xe2\x80\xa8";
	dlog_format(&w, &ev);
	assert_int_equal(py_run(PY_KEYS, w.buf, w.len, out, sizeof(out)), 0);
	assert_string_equal(out, "3\n");
	jsonw_fini(&w);
}

/* dlog_format on a writer mid-value, or with a bad event, aborts. */
static void
test_misuse_aborts(void **state)
{
	(void)state;
	for (int m = 0; m < 3; m++) {
		struct dlog_event ev;
		struct jsonw w;
		pid_t pid;
		int st;

		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 2);
			jsonw_init(&w);
			dlog_event_init(&ev);
			if (m == 0)
				jsonw_int(&w, 1); /* line pending */
			else if (m == 1)
				jsonw_arr_begin(&w); /* inside an array */
			else
				ev.ev = DLOG_EV__COUNT;
			dlog_format(&w, &ev);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
			fail_msg("misuse %d did not abort (status %#x)", m, st);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ev_str),
	    cmocka_unit_test(test_ts_format),
	    cmocka_unit_test(test_ts_matches_gmtime),
	    cmocka_unit_test(test_full_event),
	    cmocka_unit_test(test_minimal_event),
	    cmocka_unit_test(test_zero_numbers),
	    cmocka_unit_test(test_text_bytes),
	    cmocka_unit_test(test_python_key_order),
	    cmocka_unit_test(test_misuse_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
