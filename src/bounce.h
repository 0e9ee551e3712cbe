/* SPDX-License-Identifier: MIT */
/*
 * bounce.h: delivery status notifications (RFC 3464 multipart/report).
 *
 * Builds the complete DSN message (failure, delay, success or "relayed")
 * for one original message and some of its recipients, and decides whether
 * one may be sent at all (null sender, DSN of a DSN, NOTIFY).  Pure: no
 * I/O, no clock, no randomness of its own (the caller passes the time and
 * a seed), no policy beyond RFC 3461/3464.  Everything remote (diagnostic
 * text, names, the original message) is sanitised here so that it can
 * never break the MIME structure or forge a header.  The result is one
 * heap buffer owned by the caller (bounce_out_fini()).  docs/BOUNCES.md.
 */
#ifndef RINGMTA_BOUNCE_H
#define RINGMTA_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "compat.h"

/* Limits (bytes).  Longer values are truncated, never rejected. */
#define BOUNCE_MAX_BODY_DEFAULT    (100u * 1024) /* whole original returned */
#define BOUNCE_MAX_HEADERS_DEFAULT (64u * 1024)  /* header section returned */
#define BOUNCE_DIAG_MAX            1024 /* diagnostic text after cleaning */
#define BOUNCE_ADDR_MAX            512  /* an address after cleaning */
#define BOUNCE_NAME_MAX            255  /* an MTA name, a domain */
#define BOUNCE_ENVID_MAX           100  /* RFC 3461 ENVID */
#define BOUNCE_LINE_MAX            998  /* RFC 5322 2.1.1, CRLF excluded */
#define BOUNCE_BOUNDARY_TRIES      32

/* What the DSN reports; selects the subject and the explanation. */
enum bounce_kind {
	BOUNCE_FAILED = 0, /* permanent failure or expiry: a bounce */
	BOUNCE_DELAYED,    /* still being retried (NOTIFY=DELAY) */
	BOUNCE_RELAYED,    /* SUCCESS asked, next hop has no DSN */
	BOUNCE_DELIVERED,  /* SUCCESS asked, next hop took it */
	BOUNCE_KIND__COUNT /* must stay last */
};
const char *bounce_kind_str(enum bounce_kind k);

/* RFC 3464 2.3.3 Action values (the string is the field value). */
enum bounce_action {
	BOUNCE_ACTION_FAILED = 0,
	BOUNCE_ACTION_DELAYED,
	BOUNCE_ACTION_DELIVERED,
	BOUNCE_ACTION_RELAYED,
	BOUNCE_ACTION_EXPANDED,
	BOUNCE_ACTION__COUNT /* must stay last */
};
const char *bounce_action_str(enum bounce_action a);

/* RFC 3461 RET= of the original message. */
enum bounce_ret {
	BOUNCE_RET_NONE = 0, /* absent: like FULL for failures */
	BOUNCE_RET_FULL,
	BOUNCE_RET_HDRS,
	BOUNCE_RET__COUNT /* must stay last */
};
const char *bounce_ret_str(enum bounce_ret r);

/* RFC 3461 NOTIFY= flags (same bit values as enum smtpp_notify). */
enum bounce_notify {
	BOUNCE_NOTIFY_NEVER = 1u << 0,
	BOUNCE_NOTIFY_SUCCESS = 1u << 1,
	BOUNCE_NOTIFY_FAILURE = 1u << 2,
	BOUNCE_NOTIFY_DELAY = 1u << 3
};

/* Facts about the original message (struct bounce_in.flags). */
enum bounce_flag {
	BOUNCE_F_IS_DSN = 1u << 0,   /* it is itself a DSN: never answer */
	BOUNCE_F_SMTPUTF8 = 1u << 1, /* it was received with SMTPUTF8 */
};

/* Facts about the DSN built (struct bounce_out.flags). */
enum bounce_out_flag {
	BOUNCE_OUT_8BIT = 1u << 0,      /* send with BODY=8BITMIME */
	BOUNCE_OUT_SMTPUTF8 = 1u << 1,  /* send with SMTPUTF8 */
	BOUNCE_OUT_HDRS_ONLY = 1u << 2, /* part 3 is the header section */
	BOUNCE_OUT_TOO_BIG = 1u << 3,   /* ... because of max_body */
	BOUNCE_OUT_HDRS_CUT = 1u << 4,  /* ... and it was truncated */
	BOUNCE_OUT_NO_ORIG = 1u << 5,   /* no part 3 at all */
};

/*
 * Read up to len bytes of the original message at offset off into buf.
 * Returns the count (0 at the end) or -errno.
 */
typedef ssize_t bounce_read_fn(void *arg, uint64_t off, char *buf, size_t len);

/* One recipient the DSN reports on.  Strings are NUL-terminated. */
struct bounce_rcpt {
	const char *addr;  /* final recipient, required */
	const char *orcpt; /* ORCPT "type;addr" (decoded), NULL: none */
	enum bounce_action action;
	const char *status;     /* RFC 3463 "5.1.1"; NULL/bad: from action */
	const char *remote_mta; /* host name, NULL: none */
	const char *diag_type;  /* NULL: "smtp" (RFC 3464 diagnostic-type) */
	const char *diag;       /* remote text, ANY bytes, NULL: none */
	size_t diag_len;
	int64_t last_attempt; /* unix time, 0: omit */
	int64_t retry_until;  /* unix time, 0: omit (delayed only) */
};

struct bounce_in {
	const char *reporting_mta; /* our host name, required */
	const char *msgid_domain;  /* for our Message-ID, NULL: reporting */
	const char *sender;        /* original return path, no <>; "": null */
	unsigned flags;            /* enum bounce_flag */
	const char *envid;         /* decoded ENVID, NULL: none */
	enum bounce_ret ret;
	int64_t arrival;      /* unix time the original arrived, 0: omit */
	const char *queue_id; /* our id of the original, NULL: none */
	enum bounce_kind kind;
	const struct bounce_rcpt *rcpts;
	size_t nrcpt; /* >= 1 */
	/* The original: a buffer, else a reader, else none (no part 3). */
	const char *orig;
	size_t orig_len;
	bounce_read_fn *orig_read;
	void *orig_arg;
	const uint8_t *seed; /* boundary / Message-ID randomness */
	size_t seed_len;
	int64_t now;        /* the DSN's Date, unix time, > 0 */
	size_t max_body;    /* 0: BOUNCE_MAX_BODY_DEFAULT */
	size_t max_headers; /* 0: BOUNCE_MAX_HEADERS_DEFAULT */
};

struct bounce_out {
	char *msg;        /* the DSN, CRLF canonical, heap; msg[len] == '\0' */
	size_t len;       /* (the NUL is not part of the message) */
	char *env_sender; /* "" (null reverse path), heap */
	char *env_rcpt;   /* the original sender verbatim, heap */
	unsigned flags;   /* enum bounce_out_flag */
	char boundary[64];
	char message_id[BOUNCE_NAME_MAX + 64]; /* without <> */
};

/*
 * Whether a DSN of this kind may be sent for a recipient whose NOTIFY flags
 * are notify (0: absent, read as FAILURE,DELAY per RFC 3461 4.1), for a
 * message with this return path and flags (enum bounce_flag).  False for
 * the null sender, for a message that is itself a DSN, for NEVER, and when
 * the kind's flag (FAILURE; DELAY; SUCCESS for DELIVERED/RELAYED) is not
 * set.
 */
bool bounce_should_send(const char *sender, unsigned flags, unsigned notify,
			enum bounce_kind kind);

/*
 * Whether the header section hdr[0..len) (an original message, possibly
 * with its body) declares a delivery report: Content-Type multipart/report
 * with report-type delivery-status or global-delivery-status.  For callers
 * that must set BOUNCE_F_IS_DSN on messages with a non-null sender.
 */
bool bounce_is_dsn(const char *hdr, size_t len);

/*
 * Build the DSN for in into *out (cleared first).  On success out->msg
 * holds the message, out->env_* its envelope, and the caller owns them
 * (bounce_out_fini()).  Returns 0; -EINVAL for a null sender, a DSN
 * original, no recipients, a missing required field or a time out of
 * range; the reader's -errno; -EEXIST if no boundary free of the content
 * could be drawn from the seed (only if the content was crafted against
 * that seed: draw a new one).  On error *out holds nothing to free.
 */
ATTR_WUR int bounce_build(const struct bounce_in *in, struct bounce_out *out);

/*
 * The most bytes of the original bounce_build(in) reads (from in->kind,
 * in->ret, in->max_body and in->max_headers).  A caller that loads the
 * original itself (e.g. asynchronously) passes its first
 * MIN(length, bounce_orig_want(in)) bytes as in->orig / in->orig_len and
 * gets exactly the DSN the reader path would give.
 */
size_t bounce_orig_want(const struct bounce_in *in);

/* Free what bounce_build() put in out; idempotent. */
void bounce_out_fini(struct bounce_out *out);

#endif
