/* SPDX-License-Identifier: MIT */
/*
 * dlog.h: the delivery log line formatter (DESIGN.md, operator-facing
 * contract).
 *
 * One JSON object per line, keys always in this order:
 *   ts event id rcpt domain binding mx ip code enhanced text tls cipher
 *   attempt ms [sender] [size] [stage] [node]
 * Absent mandatory fields are written as null; the bracketed ones are
 * omitted when absent.  Pure: the daemon queues the bytes to the log file
 * through io_uring; nothing here does I/O or reads the clock.
 */
#ifndef RINGMTA_DLOG_H
#define RINGMTA_DLOG_H

#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"

enum dlog_ev {
	DLOG_EV_RECEIVED = 0, /* accepted into the spool */
	DLOG_EV_DELIVERED,    /* remote 2xx after the final dot */
	DLOG_EV_DEFERRED,     /* temporary failure, will retry */
	DLOG_EV_BOUNCED,      /* permanent failure, DSN generated */
	DLOG_EV_EXPIRED,      /* retries exhausted (message_expiration) */
	DLOG_EV_FAILED, /* given up without a DSN (admin fail, no sender) */
	DLOG_EV__COUNT  /* must stay last */
};

/* The event's name as logged ("delivered"), or "?" when out of range. */
const char *dlog_ev_str(enum dlog_ev ev);

/*
 * What the caller fills.  Strings are borrowed for the duration of
 * dlog_format() and may hold any bytes (they are escaped); NULL means
 * absent, as do negative numbers.  Start from dlog_event_init(), then set
 * what is known.
 */
struct dlog_event {
	int64_t ts_ms;    /* wall clock, milliseconds since the Unix epoch */
	enum dlog_ev ev;  /* "event" */
	const char *id;   /* message id */
	const char *rcpt; /* recipient address */
	const char *domain;
	const char *binding;
	const char *mx;       /* MX host name */
	const char *ip;       /* bare remote address, no port */
	int code;             /* SMTP reply code; < 0 null */
	const char *enhanced; /* "2.0.0" */
	const char *text;     /* remote reply text or our reason */
	size_t text_len;      /* bytes of text; 0: text is NUL-terminated */
	const char *tls;      /* protocol, e.g. "TLSv1.3"; NULL: plaintext */
	const char *cipher;
	unsigned attempt; /* delivery attempts so far, this one included */
	int64_t ms;       /* transaction latency in ms; < 0 null */
	/* Optional: omitted when NULL / negative. */
	const char *sender;
	int64_t size;      /* message bytes */
	const char *stage; /* where the outcome arose: "rcpt", "data" */
	const char *node;  /* cluster node id */
};

/* Mark every field absent (strings NULL; code, ms, size -1); ts_ms and
 * attempt become 0 and ev DLOG_EV_RECEIVED. */
void dlog_event_init(struct dlog_event *ev);

/*
 * Format ts_ms as RFC 3339 UTC with milliseconds ("2026-11-25T02:51:31.123Z")
 * into out, NUL-terminated; returns 24, the length.  Times outside years
 * 0000..9999 are clamped to those bounds.
 */
int dlog_ts_format(char out[static 25], int64_t ts_ms);

/*
 * Append exactly one line, the JSON object for ev followed by "\n", to w.
 * w must be between top-level values (nothing open, no line pending).
 */
void dlog_format(struct jsonw *w, const struct dlog_event *ev);

#endif
