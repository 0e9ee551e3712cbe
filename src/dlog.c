/* SPDX-License-Identifier: MIT */
/*
 * dlog.c: delivery log events formatted as JSON lines (see dlog.h).
 *
 * Owns the key names and their order, which operators and tests rely on;
 * extend at the end, never rename or reorder.  Must not do I/O, read the
 * clock or decide which events are logged.
 */
#include "dlog.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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

/* RFC 3339 UTC with milliseconds into out[25], clamped to years 0..9999;
 * returns the length (24). */
int
dlog_ts_format(char out[static 25], int64_t ts_ms)
{
	struct tm tm;
	time_t sec;
	int64_t ms;

	ts_ms = MAX(DLOG_TS_MIN, MIN(DLOG_TS_MAX, ts_ms));
	/* Floor division, so that times before 1970 stay correct. */
	ms = ts_ms % 1000;
	if (ms < 0)
		ms += 1000;
	sec = (time_t)((ts_ms - ms) / 1000);
	BUG_ON(gmtime_r(&sec, &tm) == NULL);
	return snprintf(out, 25, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
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
