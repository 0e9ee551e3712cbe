/* SPDX-License-Identifier: MIT */
/*
 * dlog.c: delivery log events formatted as JSON lines (see dlog.h).
 *
 * Owns the key names and their order, which operators and tests rely on;
 * extend at the end, never rename or reorder.  Must not do I/O, read the
 * clock or decide which events are logged.
 */
#include "dlog.h"

#include <string.h>

static const char *const dlog_ev_names[] = {
    [DLOG_EV_RECEIVED] = "received", [DLOG_EV_DELIVERED] = "delivered",
    [DLOG_EV_DEFERRED] = "deferred", [DLOG_EV_BOUNCED] = "bounced",
    [DLOG_EV_EXPIRED] = "expired",   [DLOG_EV_FAILED] = "failed",
};
_Static_assert(nitems(dlog_ev_names) == DLOG_EV__COUNT,
	       "dlog_ev_names must name every enum dlog_ev");

/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z */
#define DLOG_TS_MIN (-62167219200000LL)
#define DLOG_TS_MAX (253402300799999LL)

/* The event's name as logged, or "?" for a value outside the enum. */
const char *
dlog_ev_str(enum dlog_ev ev)
{
	if ((unsigned)ev >= DLOG_EV__COUNT)
		return "?";
	return dlog_ev_names[ev];
}

/* Clear ev: every string NULL, code/ms/size -1, attempt 0, ts 1970. */
void
dlog_event_init(struct dlog_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->code = -1;
	ev->ms = -1;
	ev->size = -1;
}

/* Write v as exactly width decimal digits ending at end (v >= 0). */
static void
dlog_digits(char *end, unsigned v, int width)
{
	while (width-- > 0) {
		*--end = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * Civil date of a day count since 1970-01-01 (proleptic Gregorian, as
 * gmtime_r): H. Hinnant's days_from_civil inverse, valid far beyond the
 * clamped range.  Done by hand because gmtime_r and snprintf were most of
 * the cost of a log line.
 */
static void
dlog_civil(int64_t days, int *y_r, unsigned *m_r, unsigned *d_r)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d_r = doy - (153 * mp + 2) / 5 + 1;
	*m_r = mp < 10 ? mp + 3 : mp - 9;
	*y_r = (int)(yoe + era * 400) + (*m_r <= 2);
}

/* RFC 3339 UTC with milliseconds into out[25], clamped to years 0..9999;
 * returns the length (24). */
int
dlog_ts_format(char out[static 25], int64_t ts_ms)
{
	int64_t days, ms_of_day;
	unsigned m, d, sec;
	int y;

	ts_ms = MAX(DLOG_TS_MIN, MIN(DLOG_TS_MAX, ts_ms));
	/* Floor division, so that times before 1970 stay correct. */
	days = ts_ms / 86400000;
	ms_of_day = ts_ms % 86400000;
	if (ms_of_day < 0) {
		ms_of_day += 86400000;
		days--;
	}
	dlog_civil(days, &y, &m, &d);
	sec = (unsigned)(ms_of_day / 1000);
	memcpy(out, "0000-00-00T00:00:00.000Z", 25);
	dlog_digits(out + 4, (unsigned)y, 4);
	dlog_digits(out + 7, m, 2);
	dlog_digits(out + 10, d, 2);
	dlog_digits(out + 13, sec / 3600, 2);
	dlog_digits(out + 16, sec / 60 % 60, 2);
	dlog_digits(out + 19, sec % 60, 2);
	dlog_digits(out + 23, (unsigned)(ms_of_day % 1000), 3);
	return 24;
}

static void
dlog_kv_int_or_null(struct jsonw *w, const char *key, int64_t v)
{
	if (v < 0)
		jsonw_kv_null(w, key);
	else
		jsonw_kv_int(w, key, v);
}

static void
dlog_kv_optional(struct jsonw *w, const char *key, const char *s)
{
	if (s != NULL)
		jsonw_kv_str(w, key, s);
}

/* Append ev's JSON object and "\n" to w (between top-level values); the
 * strings in ev are only read during the call. */
void
dlog_format(struct jsonw *w, const struct dlog_event *ev)
{
	char ts[25];

	BUG_ON((unsigned)ev->ev >= DLOG_EV__COUNT);
	BUG_ON(w->depth != 0 || w->top_done); /* mid-value: not a new line */
	dlog_ts_format(ts, ev->ts_ms);
	jsonw_obj_begin(w);
	jsonw_kv_str(w, "ts", ts);
	jsonw_kv_str(w, "event", dlog_ev_str(ev->ev));
	jsonw_kv_str(w, "id", ev->id);
	jsonw_kv_str(w, "rcpt", ev->rcpt);
	jsonw_kv_str(w, "domain", ev->domain);
	jsonw_kv_str(w, "binding", ev->binding);
	jsonw_kv_str(w, "mx", ev->mx);
	jsonw_kv_str(w, "ip", ev->ip);
	dlog_kv_int_or_null(w, "code", ev->code);
	jsonw_kv_str(w, "enhanced", ev->enhanced);
	jsonw_key(w, "text");
	if (ev->text != NULL && ev->text_len > 0)
		jsonw_str_n(w, ev->text, ev->text_len);
	else
		jsonw_str(w, ev->text);
	jsonw_kv_str(w, "tls", ev->tls);
	jsonw_kv_str(w, "cipher", ev->cipher);
	jsonw_kv_uint(w, "attempt", ev->attempt);
	dlog_kv_int_or_null(w, "ms", ev->ms);
	dlog_kv_optional(w, "sender", ev->sender);
	if (ev->size >= 0)
		jsonw_kv_int(w, "size", ev->size);
	dlog_kv_optional(w, "stage", ev->stage);
	dlog_kv_optional(w, "node", ev->node);
	jsonw_obj_end(w);
	jsonw_newline(w);
}
