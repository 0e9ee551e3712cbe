/* SPDX-License-Identifier: MIT */
/*
 * outcome.c: the delivery policy table (see outcome.h).
 *
 * Owns outcome_table[]: rows of {match -> decision}, scanned in order,
 * first match wins.  A row matches on the kind of fact (recipient result,
 * session end, DNS status), the engine's stage and failure class, the
 * reply code range, the enhanced code (only when it agrees with the reply
 * code: RELIABILITY R10), the errno, and the context (TLS policy, STARTTLS
 * tried, "." sent without reply, recipients accepted).  One rule lives
 * outside the rows because it applies to every one of them: NEXT_MX on the
 * last MX host becomes DEFER_DOMAIN.  Must not: do I/O (but the dump),
 * keep state, or know anything about queues; unknown input never bounces.
 */
#include "outcome.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static const char *const outcome_scope_names[] = {
    [OUTCOME_SCOPE_RCPT] = "rcpt",       [OUTCOME_SCOPE_MESSAGE] = "message",
    [OUTCOME_SCOPE_HOST] = "host",       [OUTCOME_SCOPE_DOMAIN] = "domain",
    [OUTCOME_SCOPE_BINDING] = "binding",
};
_Static_assert(nitems(outcome_scope_names) == OUTCOME_SCOPE__COUNT, "scope");

static const char *const outcome_action_names[] = {
    [OUTCOME_DELIVERED] = "delivered",
    [OUTCOME_RETRY] = "retry",
    [OUTCOME_BOUNCE] = "bounce",
    [OUTCOME_NEXT_MX] = "next-mx",
    [OUTCOME_DEFER_DOMAIN] = "defer-domain",
    [OUTCOME_PURGE_DOMAIN] = "purge-domain",
    [OUTCOME_SUSPEND_BINDING] = "suspend-binding",
    [OUTCOME_NEW_TXN] = "new-txn",
    [OUTCOME_PLAINTEXT_RETRY] = "plaintext-retry",
};
_Static_assert(nitems(outcome_action_names) == OUTCOME__COUNT, "action");

/* What a row classifies. */
enum outcome_kind {
	OUTCOME_K_RCPT = 0, /* a recipient's result */
	OUTCOME_K_SESSION,  /* a session's end (on_close) */
	OUTCOME_K_DNS,      /* a lookup's status */
	OUTCOME_K__COUNT    /* must stay last */
};

static const char *const outcome_kind_names[] = {
    [OUTCOME_K_RCPT] = "rcpt",
    [OUTCOME_K_SESSION] = "session",
    [OUTCOME_K_DNS] = "dns",
};
_Static_assert(nitems(outcome_kind_names) == OUTCOME_K__COUNT, "kind");

/* A three-way match on a yes/no fact. */
enum outcome_tri {
	OUTCOME_ANY = 0,
	OUTCOME_YES,
	OUTCOME_NO,
	OUTCOME_TRI__COUNT /* must stay last */
};

/* Only for the dump: config.h's names live in the config dumper. */
static const char *const outcome_tls_names[] = {
    [CONFIG_TLS_NONE] = "none",
    [CONFIG_TLS_OPPORTUNISTIC] = "opportunistic",
    [CONFIG_TLS_REQUIRED] = "required",
};
_Static_assert(nitems(outcome_tls_names) == CONFIG_TLS__COUNT, "tls");

enum outcome_flag {
	OUTCOME_F_PENALIZE = 1u << 0, /* penalize_host */
	OUTCOME_F_COUNT = 1u << 1,    /* count_attempt */
	OUTCOME_F_NO_REUSE = 1u << 2, /* no_reuse */
};

#define OUTCOME_NUM_ANY 1000u /* esc subject/detail wildcard */
#define OUTCOME_NERRS   3

/*
 * A row's condition; every zero field means "any" (so a row names only
 * what it cares about), except esc[1..2], which are only read when esc[0]
 * is set and must then be given (OUTCOME_NUM_ANY for any).
 */
struct outcome_match {
	enum outcome_kind kind;
	uint32_t stages;         /* 1u << enum smtpc_stage */
	uint32_t fails;          /* 1u << enum smtpc_fail */
	uint32_t dns;            /* 1u << enum dns_status */
	int code_lo, code_hi;    /* inclusive; code_hi 0: any */
	unsigned esc[3];         /* the (consistent) enhanced code */
	int errs[OUTCOME_NERRS]; /* positive errno values, 0-terminated */
	uint32_t tls;            /* 1u << enum config_tls */
	enum outcome_tri tls_tried, dup, accepted;
};

struct outcome_row {
	const char *rule;
	struct outcome_match m;
	enum outcome_scope scope;
	enum outcome_action action;
	unsigned flags;  /* enum outcome_flag */
	const char *esc; /* ours, when the server's does not fit */
	const char *why; /* one line for docs/ERRORS.md */
};

#define OUTCOME_ST(x) (1u << SMTPC_STAGE_##x)
#define OUTCOME_FL(x) (1u << SMTPC_FAIL_##x)
#define OUTCOME_DN(x) (1u << DNS_##x)
#define OUTCOME_TL(x) (1u << CONFIG_TLS_##x)
#define OUTCOME_PCN   (OUTCOME_F_PENALIZE | OUTCOME_F_COUNT | OUTCOME_F_NO_REUSE)
#define OUTCOME_TXN_STAGES                                                     \
	(OUTCOME_ST(MAIL) | OUTCOME_ST(DATA) | OUTCOME_ST(DOT))
/* A row's match for each kind (clang-format would spread these). */
/* clang-format off */
#define OUTCOME_RCPT(...)    {.kind = OUTCOME_K_RCPT, __VA_ARGS__}
#define OUTCOME_SESSION(...) {.kind = OUTCOME_K_SESSION, __VA_ARGS__}
#define OUTCOME_DNS(...)     {.kind = OUTCOME_K_DNS, __VA_ARGS__}
/* clang-format on */

/* THE TABLE.  Order matters: specific rows before general ones. */
static const struct outcome_row outcome_table[] = {
    /* ---- a recipient's result ---- */
    {"rcpt-delivered",
     OUTCOME_RCPT(.stages = OUTCOME_ST(DOT), .fails = OUTCOME_FL(NONE),
		  .code_lo = 200, .code_hi = 299),
     OUTCOME_SCOPE_RCPT, OUTCOME_DELIVERED, 0, "2.0.0",
     "2xx to \".\": delivered"},
    {"rcpt-cancelled",
     OUTCOME_RCPT(.fails = OUTCOME_FL(LOCAL), .errs = {ECANCELED}),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_F_NO_REUSE, "4.3.0",
     "session cancelled by us (shutdown, admin): retry, not an attempt"},
    {"rcpt-caps-8bitmime",
     OUTCOME_RCPT(.stages = OUTCOME_ST(LOCAL), .fails = OUTCOME_FL(CAPS),
		  .esc = {5, 6, 3}),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_BOUNCE, 0, "5.6.3",
     "8-bit body, server lacks 8BITMIME (RFC 6152)"},
    {"rcpt-caps-smtputf8",
     OUTCOME_RCPT(.stages = OUTCOME_ST(LOCAL), .fails = OUTCOME_FL(CAPS),
		  .esc = {5, 6, 7}),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_BOUNCE, 0, "5.6.7",
     "UTF-8 envelope, server lacks SMTPUTF8 (RFC 6531)"},
    {"rcpt-caps-size",
     OUTCOME_RCPT(.stages = OUTCOME_ST(LOCAL), .fails = OUTCOME_FL(CAPS),
		  .esc = {5, 3, 4}),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_BOUNCE, 0, "5.3.4",
     "message larger than the server's SIZE (RFC 1870)"},
    {"rcpt-caps-other", OUTCOME_RCPT(.fails = OUTCOME_FL(CAPS)),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_F_COUNT, "4.3.0",
     "a capability refusal we do not know: never bounce the unknown"},
    {"rcpt-bad-address",
     OUTCOME_RCPT(.stages = OUTCOME_ST(LOCAL), .fails = OUTCOME_FL(LOCAL),
		  .esc = {5, 1, 3}),
     OUTCOME_SCOPE_RCPT, OUTCOME_BOUNCE, 0, "5.1.3",
     "recipient address cannot be sent (refused before sending)"},
    {"rcpt-bad-sender",
     OUTCOME_RCPT(.stages = OUTCOME_ST(LOCAL), .fails = OUTCOME_FL(LOCAL),
		  .esc = {5, 1, 7}),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_BOUNCE, 0, "5.1.7",
     "sender or MAIL parameters cannot be sent"},
    {"rcpt-local", OUTCOME_RCPT(.fails = OUTCOME_FL(LOCAL)),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_F_NO_REUSE, "4.3.0",
     "our side failed (memory, fds, unknown refusal): retry, not an "
     "attempt"},
    {"rcpt-maybe-dup",
     OUTCOME_RCPT(.fails = OUTCOME_FL(TIMEOUT) | OUTCOME_FL(RESET) |
			   OUTCOME_FL(PROTO) | OUTCOME_FL(TLS),
		  .dup = OUTCOME_YES),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_PCN, "4.4.2",
     "\".\" sent, no reply (timeout, reset): retry, possible duplicate"},
    {"rcpt-421",
     OUTCOME_RCPT(.fails = OUTCOME_FL(REPLY), .code_lo = 421, .code_hi = 421),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_PCN, "4.3.2",
     "421 at any stage: session ends, recipients deferred"},
    {"msg-5xx-policy",
     OUTCOME_RCPT(.stages = OUTCOME_TXN_STAGES, .fails = OUTCOME_FL(REPLY),
		  .code_lo = 500, .code_hi = 599,
		  .esc = {5, 7, OUTCOME_NUM_ANY}),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_BOUNCE, 0, "5.7.0",
     "5.7.x policy rejection of MAIL, DATA or \".\" (configurable later)"},
    {"mail-5xx",
     OUTCOME_RCPT(.stages = OUTCOME_ST(MAIL), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 500, .code_hi = 599),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_BOUNCE, 0, "5.0.0",
     "MAIL refused permanently: bounce the whole message"},
    {"mail-4xx",
     OUTCOME_RCPT(.stages = OUTCOME_ST(MAIL), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 400, .code_hi = 499),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_F_COUNT, "4.0.0",
     "MAIL refused temporarily: defer the whole message"},
    {"rcpt-mailbox-full",
     OUTCOME_RCPT(.stages = OUTCOME_ST(RCPT), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 450, .code_hi = 452, .esc = {4, 2, 2}),
     OUTCOME_SCOPE_RCPT, OUTCOME_RETRY, OUTCOME_F_COUNT, "4.2.2",
     "450/451/452 4.2.2 mailbox full: retry that recipient"},
    {"rcpt-too-many",
     OUTCOME_RCPT(.stages = OUTCOME_ST(RCPT), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 452, .code_hi = 452, .accepted = OUTCOME_YES),
     OUTCOME_SCOPE_RCPT, OUTCOME_NEW_TXN, 0, "4.5.3",
     "452 after some recipients were accepted: the rest in a new "
     "transaction"},
    {"rcpt-too-many-552",
     OUTCOME_RCPT(.stages = OUTCOME_ST(RCPT), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 552, .code_hi = 552, .esc = {5, 5, 3},
		  .accepted = OUTCOME_YES),
     OUTCOME_SCOPE_RCPT, OUTCOME_NEW_TXN, 0, "4.5.3",
     "552 5.5.3 is RFC 821's \"too many recipients\" (RFC 5321 "
     "4.5.3.1.10)"},
    {"rcpt-too-many-552-first",
     OUTCOME_RCPT(.stages = OUTCOME_ST(RCPT), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 552, .code_hi = 552, .esc = {5, 5, 3}),
     OUTCOME_SCOPE_RCPT, OUTCOME_RETRY, OUTCOME_F_COUNT, "4.5.3",
     "552 5.5.3 before any acceptance: temporary, per RFC 5321"},
    {"rcpt-4xx",
     OUTCOME_RCPT(.stages = OUTCOME_ST(RCPT), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 400, .code_hi = 499),
     OUTCOME_SCOPE_RCPT, OUTCOME_RETRY, OUTCOME_F_COUNT, "4.0.0",
     "RCPT refused temporarily (452 with nothing accepted too)"},
    {"rcpt-5xx-policy",
     OUTCOME_RCPT(.stages = OUTCOME_ST(RCPT), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 500, .code_hi = 599,
		  .esc = {5, 7, OUTCOME_NUM_ANY}),
     OUTCOME_SCOPE_RCPT, OUTCOME_BOUNCE, 0, "5.7.0",
     "5.7.x policy rejection of RCPT (configurable later)"},
    {"rcpt-5xx",
     OUTCOME_RCPT(.stages = OUTCOME_ST(RCPT), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 500, .code_hi = 599),
     OUTCOME_SCOPE_RCPT, OUTCOME_BOUNCE, 0, "5.0.0",
     "RCPT refused permanently: bounce that recipient"},
    {"data-5xx",
     OUTCOME_RCPT(.stages = OUTCOME_ST(DATA), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 500, .code_hi = 599),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_BOUNCE, 0, "5.0.0",
     "DATA refused permanently: bounce the accepted recipients"},
    {"data-4xx",
     OUTCOME_RCPT(.stages = OUTCOME_ST(DATA), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 400, .code_hi = 499),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_F_COUNT, "4.0.0",
     "DATA refused temporarily: defer the accepted recipients"},
    {"dot-5xx",
     OUTCOME_RCPT(.stages = OUTCOME_ST(DOT), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 500, .code_hi = 599),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_BOUNCE, 0, "5.0.0",
     "content refused permanently: bounce the accepted recipients"},
    {"dot-4xx",
     OUTCOME_RCPT(.stages = OUTCOME_ST(DOT), .fails = OUTCOME_FL(REPLY),
		  .code_lo = 400, .code_hi = 499),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_F_COUNT, "4.0.0",
     "content refused temporarily: defer the accepted recipients"},
    {"rcpt-reply-other", OUTCOME_RCPT(.fails = OUTCOME_FL(REPLY)),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_PCN, "4.5.0",
     "a reply where none should end a recipient: host at fault"},
    {"rcpt-timeout", OUTCOME_RCPT(.fails = OUTCOME_FL(TIMEOUT)),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_PCN, "4.4.2",
     "a deadline passed before \".\": defer, penalise the host"},
    {"rcpt-conn-lost",
     OUTCOME_RCPT(.fails = OUTCOME_FL(RESET) | OUTCOME_FL(REFUSED) |
			   OUTCOME_FL(UNREACH)),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_PCN, "4.4.2",
     "connection lost before \".\": defer, penalise the host"},
    {"rcpt-protocol", OUTCOME_RCPT(.fails = OUTCOME_FL(PROTO)),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_PCN, "4.5.0",
     "protocol error (R7, R8): defer, penalise the host, no reuse"},
    {"rcpt-tls", OUTCOME_RCPT(.fails = OUTCOME_FL(TLS)), OUTCOME_SCOPE_MESSAGE,
     OUTCOME_RETRY, OUTCOME_PCN, "4.7.5",
     "TLS failed under a transaction: defer, penalise the host"},
    {"rcpt-not-settled", OUTCOME_RCPT(.fails = OUTCOME_FL(NONE)),
     OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY, OUTCOME_F_COUNT, "4.0.0",
     "no failure yet no 2xx to \".\": never assume delivery"},
    {"rcpt-default", OUTCOME_RCPT(), OUTCOME_SCOPE_MESSAGE, OUTCOME_RETRY,
     OUTCOME_F_COUNT | OUTCOME_F_NO_REUSE, "4.0.0",
     "anything else (out-of-range values): retry"},

    /* ---- a session's end ---- */
    {"session-clean", OUTCOME_SESSION(.fails = OUTCOME_FL(NONE)),
     OUTCOME_SCOPE_HOST, OUTCOME_DELIVERED, 0, "2.0.0",
     "QUIT answered: no fault"},
    {"session-cancelled",
     OUTCOME_SESSION(.fails = OUTCOME_FL(LOCAL), .errs = {ECANCELED}),
     OUTCOME_SCOPE_HOST, OUTCOME_RETRY, 0, "4.3.0",
     "cancelled by us: no fault of the host"},
    {"binding-unavailable",
     OUTCOME_SESSION(.fails = OUTCOME_FL(LOCAL), .errs = {EADDRNOTAVAIL}),
     OUTCOME_SCOPE_BINDING, OUTCOME_SUSPEND_BINDING, 0, "4.3.5",
     "source address not on this host: suspend the binding, report once"},
    {"session-local", OUTCOME_SESSION(.fails = OUTCOME_FL(LOCAL)),
     OUTCOME_SCOPE_BINDING, OUTCOME_RETRY, 0, "4.3.0",
     "our side failed (fds, memory): retry later, host not at fault"},
    {"connect-refused", OUTCOME_SESSION(.fails = OUTCOME_FL(REFUSED)),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.4.1",
     "connection refused: next MX"},
    {"connect-unreach", OUTCOME_SESSION(.fails = OUTCOME_FL(UNREACH)),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.4.1",
     "network or host unreachable: next MX"},
    {"connect-timeout",
     OUTCOME_SESSION(.stages = OUTCOME_ST(CONNECT),
		     .fails = OUTCOME_FL(TIMEOUT)),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.4.1",
     "no answer to connect: next MX"},
    {"session-idle-end",
     OUTCOME_SESSION(.stages = OUTCOME_ST(IDLE) | OUTCOME_ST(QUIT),
		     .fails = OUTCOME_FL(TIMEOUT) | OUTCOME_FL(RESET) |
			      OUTCOME_FL(PROTO) | OUTCOME_FL(TLS)),
     OUTCOME_SCOPE_HOST, OUTCOME_DELIVERED, 0, "2.0.0",
     "dropped while idle or after QUIT: no fault, nothing in flight"},
    {"tls-required-refused",
     OUTCOME_SESSION(.stages = OUTCOME_ST(STARTTLS),
		     .fails = OUTCOME_FL(TLS) | OUTCOME_FL(REPLY),
		     .code_lo = 400, .code_hi = 599,
		     .tls = OUTCOME_TL(REQUIRED)),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.7.4",
     "TLS required, STARTTLS refused (454/5xx): next MX, no bounce (T2)"},
    {"tls-required-missing",
     OUTCOME_SESSION(.fails = OUTCOME_FL(TLS), .esc = {4, 7, 4},
		     .tls = OUTCOME_TL(REQUIRED)),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.7.4",
     "TLS required, STARTTLS not offered: next MX, never plaintext (T2)"},
    {"tls-required-failed",
     OUTCOME_SESSION(.fails = OUTCOME_FL(TLS), .tls = OUTCOME_TL(REQUIRED)),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.7.5",
     "TLS required, handshake or verification failed: next MX (T3, T6)"},
    {"tls-fallback-refused",
     OUTCOME_SESSION(.stages = OUTCOME_ST(STARTTLS),
		     .fails = OUTCOME_FL(TLS) | OUTCOME_FL(REPLY),
		     .code_lo = 400, .code_hi = 599,
		     .tls = OUTCOME_TL(OPPORTUNISTIC),
		     .tls_tried = OUTCOME_YES),
     OUTCOME_SCOPE_HOST, OUTCOME_PLAINTEXT_RETRY, OUTCOME_F_NO_REUSE, "4.7.4",
     "opportunistic STARTTLS refused (if reported): same host in plaintext"},
    {"tls-fallback-handshake",
     OUTCOME_SESSION(.stages = OUTCOME_ST(STARTTLS), .fails = OUTCOME_FL(TLS),
		     .tls = OUTCOME_TL(OPPORTUNISTIC),
		     .tls_tried = OUTCOME_YES),
     OUTCOME_SCOPE_HOST, OUTCOME_PLAINTEXT_RETRY, OUTCOME_F_NO_REUSE, "4.7.5",
     "opportunistic TLS handshake failed: same host in plaintext (T3)"},
    {"tls-error", OUTCOME_SESSION(.fails = OUTCOME_FL(TLS)), OUTCOME_SCOPE_HOST,
     OUTCOME_NEXT_MX, OUTCOME_PCN, "4.7.5",
     "TLS failed mid-session (or unasked): next MX"},
    {"banner-5xx",
     OUTCOME_SESSION(.stages = OUTCOME_ST(BANNER), .fails = OUTCOME_FL(REPLY),
		     .code_lo = 500, .code_hi = 599),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.3.2",
     "5xx greeting: next MX, no bounce (R14)"},
    {"banner-4xx",
     OUTCOME_SESSION(.stages = OUTCOME_ST(BANNER), .fails = OUTCOME_FL(REPLY),
		     .code_lo = 400, .code_hi = 499),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.3.2",
     "4xx/421 greeting: next MX"},
    {"helo-refused",
     OUTCOME_SESSION(.stages = OUTCOME_ST(EHLO) | OUTCOME_ST(HELO),
		     .fails = OUTCOME_FL(REPLY), .code_lo = 400,
		     .code_hi = 599),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.3.2",
     "EHLO 4xx or HELO 4xx/5xx: next MX, no bounce"},
    {"session-421",
     OUTCOME_SESSION(.fails = OUTCOME_FL(REPLY), .code_lo = 421,
		     .code_hi = 421),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.3.2",
     "421 mid-session: next MX (this host later)"},
    {"session-reply-other", OUTCOME_SESSION(.fails = OUTCOME_FL(REPLY)),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.5.0",
     "any other session-ending reply: next MX"},
    {"session-timeout", OUTCOME_SESSION(.fails = OUTCOME_FL(TIMEOUT)),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.4.2",
     "a reply deadline passed: next MX"},
    {"session-reset", OUTCOME_SESSION(.fails = OUTCOME_FL(RESET)),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.4.2",
     "connection reset or closed: next MX"},
    {"session-protocol", OUTCOME_SESSION(.fails = OUTCOME_FL(PROTO)),
     OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX, OUTCOME_PCN, "4.5.0",
     "protocol error: next MX, no reuse (R7)"},
    {"session-caps", OUTCOME_SESSION(.fails = OUTCOME_FL(CAPS)),
     OUTCOME_SCOPE_HOST, OUTCOME_DELIVERED, 0, "2.0.0",
     "a capability refusal is per message: no fault of the host"},
    {"session-default", OUTCOME_SESSION(), OUTCOME_SCOPE_HOST, OUTCOME_NEXT_MX,
     OUTCOME_PCN, "4.0.0", "anything else (out-of-range values): next MX"},

    /* ---- a DNS lookup ---- */
    {"dns-ok", OUTCOME_DNS(.dns = OUTCOME_DN(OK)), OUTCOME_SCOPE_DOMAIN,
     OUTCOME_DELIVERED, 0, "2.0.0", "addresses found: go on"},
    {"dns-nxdomain", OUTCOME_DNS(.dns = OUTCOME_DN(NXDOMAIN)),
     OUTCOME_SCOPE_DOMAIN, OUTCOME_PURGE_DOMAIN, 0, "5.1.2",
     "the domain does not exist (N2)"},
    {"dns-null-mx", OUTCOME_DNS(.dns = OUTCOME_DN(NULL_MX)),
     OUTCOME_SCOPE_DOMAIN, OUTCOME_PURGE_DOMAIN, 0, "5.1.10",
     "null MX: accepts no mail (RFC 7505, N1)"},
    {"dns-bad-name", OUTCOME_DNS(.dns = OUTCOME_DN(BAD_NAME)),
     OUTCOME_SCOPE_DOMAIN, OUTCOME_PURGE_DOMAIN, 0, "5.1.2",
     "not a valid domain name"},
    {"dns-tempfail", OUTCOME_DNS(.dns = OUTCOME_DN(TEMPFAIL)),
     OUTCOME_SCOPE_DOMAIN, OUTCOME_DEFER_DOMAIN, OUTCOME_F_COUNT, "4.4.3",
     "SERVFAIL or timeout: defer the domain, no A fallback (N2)"},
    {"dns-no-addresses", OUTCOME_DNS(.dns = OUTCOME_DN(NO_ADDRESSES)),
     OUTCOME_SCOPE_DOMAIN, OUTCOME_DEFER_DOMAIN, OUTCOME_F_COUNT, "4.4.4",
     "no usable address (or all filtered): defer the domain"},
    {"dns-cancelled", OUTCOME_DNS(.dns = OUTCOME_DN(CANCELLED)),
     OUTCOME_SCOPE_DOMAIN, OUTCOME_RETRY, 0, "4.3.0",
     "lookup cancelled by us: retry, not an attempt"},
    {"dns-default", OUTCOME_DNS(), OUTCOME_SCOPE_DOMAIN, OUTCOME_DEFER_DOMAIN,
     OUTCOME_F_COUNT, "4.4.3",
     "anything else (out-of-range values): defer the domain"},
};

/* The facts one lookup is matched against. */
struct outcome_in {
	enum outcome_kind kind;
	uint32_t stage_bit, fail_bit, dns_bit, tls_bit; /* 0: out of range */
	int err;                                        /* -errno or 0 */
	int code;
	unsigned esc[3]; /* consistent enhanced code, else zeros */
	bool dup, tls_tried, accepted;
};

const char *
outcome_scope_str(enum outcome_scope s)
{
	return (unsigned)s < OUTCOME_SCOPE__COUNT ? outcome_scope_names[s]
						  : "?";
}

const char *
outcome_action_str(enum outcome_action a)
{
	return (unsigned)a < OUTCOME__COUNT ? outcome_action_names[a] : "?";
}

static uint32_t
outcome_bit(unsigned v, unsigned count)
{
	return v < count ? 1u << v : 0;
}

static bool
outcome_tri_ok(enum outcome_tri t, bool v)
{
	return t == OUTCOME_ANY || (t == OUTCOME_YES) == v;
}

static bool
outcome_mask_ok(uint32_t want, uint32_t bit)
{
	return want == 0 || (want & bit) != 0;
}

static bool
outcome_errs_ok(const int *errs, int err)
{
	if (errs[0] == 0)
		return true;
	for (size_t i = 0; i < OUTCOME_NERRS && errs[i] != 0; i++) {
		if (err == -errs[i]) /* errs > 0: never negates INT_MIN */
			return true;
	}
	return false;
}

static bool
outcome_esc_ok(const unsigned *want, const unsigned *esc)
{
	if (want[0] == 0)
		return true;
	return esc[0] == want[0] &&
	       (want[1] == OUTCOME_NUM_ANY || want[1] == esc[1]) &&
	       (want[2] == OUTCOME_NUM_ANY || want[2] == esc[2]);
}

static bool
outcome_row_ok(const struct outcome_match *m, const struct outcome_in *in)
{
	if (m->kind != in->kind || !outcome_mask_ok(m->stages, in->stage_bit) ||
	    !outcome_mask_ok(m->fails, in->fail_bit) ||
	    !outcome_mask_ok(m->dns, in->dns_bit) ||
	    !outcome_mask_ok(m->tls, in->tls_bit))
		return false;
	if (m->code_hi != 0 && (in->code < m->code_lo || in->code > m->code_hi))
		return false;
	return outcome_esc_ok(m->esc, in->esc) &&
	       outcome_errs_ok(m->errs, in->err) &&
	       outcome_tri_ok(m->tls_tried, in->tls_tried) &&
	       outcome_tri_ok(m->dup, in->dup) &&
	       outcome_tri_ok(m->accepted, in->accepted);
}

/* The class an enhanced code must have to be reported with action a. */
static unsigned
outcome_action_class(enum outcome_action a)
{
	switch (a) {
	case OUTCOME_DELIVERED:
		return 2;
	case OUTCOME_BOUNCE:
	case OUTCOME_PURGE_DOMAIN:
		return 5;
	case OUTCOME_RETRY:
	case OUTCOME_NEXT_MX:
	case OUTCOME_DEFER_DOMAIN:
	case OUTCOME_SUSPEND_BINDING:
	case OUTCOME_NEW_TXN:
	case OUTCOME_PLAINTEXT_RETRY:
	case OUTCOME__COUNT:
		break;
	}
	return 4;
}

/*
 * Keep r's enhanced code only if it is well-formed and agrees with the
 * reply code (R10: act on the code, ignore an out-of-sync enhanced code).
 */
static void
outcome_esc_clean(const struct smtpc_result *r, unsigned esc[3])
{
	unsigned c = r->esc[0];

	esc[0] = esc[1] = esc[2] = 0;
	if (c != 2 && c != 4 && c != 5)
		return;
	if (r->esc[1] > 999 || r->esc[2] > 999)
		return;
	if (r->code != 0 &&
	    (r->code < 200 || r->code > 599 || (unsigned)(r->code / 100) != c))
		return;
	memcpy(esc, r->esc, sizeof(r->esc));
}

static void
outcome_in_result(struct outcome_in *in, enum outcome_kind kind,
		  const struct smtpc_result *r, const struct outcome_ctx *ctx)
{
	memset(in, 0, sizeof(*in));
	in->kind = kind;
	in->stage_bit = outcome_bit((unsigned)r->stage, SMTPC_STAGE__COUNT);
	in->fail_bit = outcome_bit((unsigned)r->fail, SMTPC_FAIL__COUNT);
	in->tls_bit = outcome_bit((unsigned)ctx->tls, CONFIG_TLS__COUNT);
	in->err = r->err;
	in->code = r->code;
	outcome_esc_clean(r, in->esc);
	in->dup = r->maybe_dup;
	in->tls_tried = ctx->tls_attempted;
	in->accepted = ctx->accepted > 0;
}

static const struct outcome_row *
outcome_find(const struct outcome_in *in)
{
	for (size_t i = 0; i < nitems(outcome_table); i++) {
		if (outcome_row_ok(&outcome_table[i].m, in))
			return &outcome_table[i];
	}
	BUG_ON(1); /* every kind ends in a default row */
	return NULL;
}

/* Write row's decision for in into o (ctx NULL: no MX context). */
static void
outcome_fill(struct outcome *o, const struct outcome_row *row,
	     const struct outcome_in *in, const struct outcome_ctx *ctx)
{
	memset(o, 0, sizeof(*o));
	o->scope = row->scope;
	o->action = row->action;
	if (o->action == OUTCOME_NEXT_MX && ctx != NULL && ctx->last_mx) {
		o->action = OUTCOME_DEFER_DOMAIN;
		o->scope = OUTCOME_SCOPE_DOMAIN;
	}
	o->penalize_host = (row->flags & OUTCOME_F_PENALIZE) != 0;
	o->count_attempt = (row->flags & OUTCOME_F_COUNT) != 0;
	o->no_reuse = (row->flags & OUTCOME_F_NO_REUSE) != 0;
	o->maybe_dup = in->dup;
	o->rule = row->rule;
	if (in->esc[0] != 0 && in->esc[0] == outcome_action_class(o->action))
		snprintf(o->esc, sizeof(o->esc), "%u.%u.%u", in->esc[0],
			 in->esc[1], in->esc[2]);
	else
		snprintf(o->esc, sizeof(o->esc), "%s", row->esc);
}

/* Decide a recipient's fate; see outcome.h. */
void
outcome_classify_rcpt(const struct smtpc_result *r,
		      const struct outcome_ctx *ctx, struct outcome *o)
{
	struct outcome_in in;

	outcome_in_result(&in, OUTCOME_K_RCPT, r, ctx);
	outcome_fill(o, outcome_find(&in), &in, ctx);
}

/* Decide what a session's end means for its host; see outcome.h. */
void
outcome_classify_session(const struct smtpc_result *r,
			 const struct outcome_ctx *ctx, struct outcome *o)
{
	struct outcome_in in;

	outcome_in_result(&in, OUTCOME_K_SESSION, r, ctx);
	outcome_fill(o, outcome_find(&in), &in, ctx);
}

/* Decide what a lookup's status means for its domain; see outcome.h. */
void
outcome_classify_dns(enum dns_status st, struct outcome *o)
{
	struct outcome_in in;

	memset(&in, 0, sizeof(in));
	in.kind = OUTCOME_K_DNS;
	in.dns_bit = outcome_bit((unsigned)st, DNS__COUNT);
	outcome_fill(o, outcome_find(&in), &in, NULL);
}

/* Number of rows. */
size_t
outcome_table_size(void)
{
	return nitems(outcome_table);
}

/* Row i's rule name, or NULL when i is past the end. */
const char *
outcome_table_rule(size_t i)
{
	return i < nitems(outcome_table) ? outcome_table[i].rule : NULL;
}

/* ---- the dump ---- */

typedef const char *outcome_name_fn(unsigned v);

static const char *
outcome_stage_name(unsigned v)
{
	return smtpc_stage_str((enum smtpc_stage)v);
}

static const char *
outcome_fail_name(unsigned v)
{
	return smtpc_fail_str((enum smtpc_fail)v);
}

static const char *
outcome_dns_name(unsigned v)
{
	return dns_status_str((enum dns_status)v);
}

static const char *
outcome_tls_name(unsigned v)
{
	return v < CONFIG_TLS__COUNT ? outcome_tls_names[v] : "?";
}

/* Print a bit set as "a,b,c" ("any" for 0). */
static void
outcome_dump_mask(FILE *f, uint32_t mask, unsigned count, outcome_name_fn *name)
{
	const char *sep = "";

	if (mask == 0) {
		fputs("any", f);
		return;
	}
	for (unsigned i = 0; i < count; i++) {
		if (mask & (1u << i)) {
			fprintf(f, "%s%s", sep, name(i));
			sep = ",";
		}
	}
}

static void
outcome_dump_num(FILE *f, unsigned v)
{
	if (v == OUTCOME_NUM_ANY)
		fputc('x', f);
	else
		fprintf(f, "%u", v);
}

static void
outcome_dump_tri(FILE *f, const char *what, enum outcome_tri t)
{
	if (t != OUTCOME_ANY)
		fprintf(f, " %s%s", t == OUTCOME_NO ? "!" : "", what);
}

/* The "code", "esc" and "context" cells of a row. */
static void
outcome_dump_cond(FILE *f, const struct outcome_match *m)
{
	if (m->code_hi == 0)
		fputs("any", f);
	else if (m->code_lo == m->code_hi)
		fprintf(f, "%d", m->code_lo);
	else
		fprintf(f, "%d-%d", m->code_lo, m->code_hi);
	fputs(" | ", f);
	if (m->esc[0] == 0) {
		fputs("any", f);
	} else {
		fprintf(f, "%u.", m->esc[0]);
		outcome_dump_num(f, m->esc[1]);
		fputc('.', f);
		outcome_dump_num(f, m->esc[2]);
	}
	fputs(" |", f);
	for (size_t i = 0; i < OUTCOME_NERRS && m->errs[i] != 0; i++)
		fprintf(f, " %s%s", i == 0 ? "err=" : "/",
			strerrorname_np(m->errs[i]));
	if (m->tls != 0) {
		fputs(" tls=", f);
		outcome_dump_mask(f, m->tls, CONFIG_TLS__COUNT,
				  outcome_tls_name);
	}
	outcome_dump_tri(f, "tls-tried", m->tls_tried);
	outcome_dump_tri(f, "maybe-dup", m->dup);
	outcome_dump_tri(f, "accepted", m->accepted);
}

static void
outcome_dump_row(FILE *f, size_t i, const struct outcome_row *row)
{
	const struct outcome_match *m = &row->m;

	fprintf(f, "| %zu | `%s` | %s | ", i + 1, row->rule,
		outcome_kind_names[m->kind]);
	if (m->kind == OUTCOME_K_DNS) {
		outcome_dump_mask(f, m->dns, DNS__COUNT, outcome_dns_name);
	} else {
		outcome_dump_mask(f, m->stages, SMTPC_STAGE__COUNT,
				  outcome_stage_name);
		fputs(" / ", f);
		outcome_dump_mask(f, m->fails, SMTPC_FAIL__COUNT,
				  outcome_fail_name);
	}
	fputs(" | ", f);
	outcome_dump_cond(f, m);
	fprintf(
	    f, " | %s | %s%s | %s%s%s | %s | %s |\n",
	    outcome_scope_names[row->scope], outcome_action_names[row->action],
	    row->action == OUTCOME_NEXT_MX ? " (last MX: defer-domain)" : "",
	    row->flags & OUTCOME_F_PENALIZE ? "P" : "",
	    row->flags & OUTCOME_F_COUNT ? "C" : "",
	    row->flags & OUTCOME_F_NO_REUSE ? "N" : "", row->esc, row->why);
}

/* Print the table as Markdown; see outcome.h. */
int
outcome_table_dump(FILE *f)
{
	fputs("| # | rule | kind | stage / failure (dns: status) | code | "
	      "esc | context | scope | action | flags | esc | why |\n",
	      f);
	fputs("|---|---|---|---|---|---|---|---|---|---|---|---|\n", f);
	for (size_t i = 0; i < nitems(outcome_table); i++)
		outcome_dump_row(f, i, &outcome_table[i]);
	return ferror(f) ? -EIO : 0;
}
