/* SPDX-License-Identifier: MIT */
/*
 * listener_hdr.c: the listener's body path (see listener.c for the rest).
 *
 * Body path: the engine hands unstuffed body bytes to lst_on_body.  The
 * header section is held (up to LST_HOLD_MAX) until its end, so that the
 * binding (X-Binding:) is known before the spool transaction begins and
 * Message-ID:/Date: can be added when missing; then the Received: line,
 * the added fields, the kept header fields and everything after them are
 * streamed into the transaction.
 *
 * Flow control: when the spool says SPOOL_BUSY (a streamed body is behind
 * the disk) the session is paused (smtps_pause: nothing more is read) until
 * the spool's resume callback.  8-bit data: every body chunk is scanned for
 * bytes >= 0x80 (64 bytes a step) until the first is seen; a message that has
 * them without BODY=8BITMIME is flagged RECORD_MSG_F_8BITMIME in the spool all
 * the same (spool_txn_set_flags), so the delivery engine announces it.
 *
 * Owns the held header section and what is added to the message; must not
 * acknowledge anything (the commit in listener.c does, after the spool's
 * fdatasync).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <netinet/in.h>

#include "listener_int.h"
#include "log.h"
#include "tls.h"
#include "value.h"

/*
 * The prefix (Received:, Message-ID:, Date:) is built in one buffer whose
 * size is the sum of the longest value of every piece, so nothing is ever
 * cut.  Each variable piece is bounded where it is printed (%.*s) or by its
 * type:
 *   HELO          LST_HELO_SIZE - 1 = 127   (lst_clean's buffer)
 *   client        INET6_ADDRSTRLEN - 1 = 45 (smtps peer_str)
 *   hostname      VALUE_HOST_MAX = 253       (value_hostname)
 *   "with"        "UTF8SMTPS" = 9
 *   TLS protocol  LST_TLS_PROTO_MAX = 15     ("TLSv1.3": 7)
 *   id            SPOOL_ID_STR_LEN - 1 = 32
 *   recipient     SMTPP_PATH_STR_SIZE - 1 = 518 (listener.c renders it into
 *                 SMTPP_LOCAL_HARD_MAX + SMTPP_DOMAIN_MAX + 8 = 391 bytes and
 *                 the parser refuses a raw path > SMTPP_PATH_MAX = 256)
 *   date          LST_DATE_SIZE - 1 = 31     (RFC 5322, e.g.
 *                 "Wed, 25 Nov 2026 12:00:00 +0000")
 * Received:   15 + 127 + 2 + 45 + 7 + 253 + 16 + 9 + 2 + 15 + 1 + 4 + 32
 *             + 8 + 518 + 1 + 4 + 31 + 2 = 1,092
 * Message-ID: 13 + 32 + 1 + 253 + 3 = 302
 * Date:       6 + 31 + 2 = 39
 * total 1,433 bytes + NUL.  A recipient longer than its bound (it cannot
 * be) leaves out the "for" clause rather than cutting a line.
 */
#define LST_HELO_SIZE     128
#define LST_TLS_PROTO_MAX 15
#define LST_DATE_SIZE     32
#define LST_LIT(s)        (sizeof(s) - 1)
#define LST_RECEIVED_MAX                                                       \
	(LST_LIT("Received: from ") + (LST_HELO_SIZE - 1) + LST_LIT(" (") +    \
	 (INET6_ADDRSTRLEN - 1) + LST_LIT(")\r\n\tby ") + VALUE_HOST_MAX +     \
	 LST_LIT(" (ringmta) with ") + LST_LIT("UTF8SMTPS") + LST_LIT(" (") +  \
	 LST_TLS_PROTO_MAX + LST_LIT(")") + LST_LIT(" id ") +                  \
	 (SPOOL_ID_STR_LEN - 1) + LST_FOR_MAX + LST_TAIL_MAX)
#define LST_TAIL_MAX                                                           \
	(LST_LIT(";\r\n\t") + (LST_DATE_SIZE - 1) + LST_LIT("\r\n"))
#define LST_FOR_MAX                                                            \
	(LST_LIT("\r\n\tfor <") + (SMTPP_PATH_STR_SIZE - 1) + LST_LIT(">"))
#define LST_MSGID_MAX                                                          \
	(LST_LIT("Message-ID: <") + (SPOOL_ID_STR_LEN - 1) + LST_LIT("@") +    \
	 VALUE_HOST_MAX + LST_LIT(">\r\n"))
#define LST_DATE_MAX    (LST_LIT("Date: ") + (LST_DATE_SIZE - 1) + LST_LIT("\r\n"))
#define LST_PREFIX_SIZE (LST_RECEIVED_MAX + LST_MSGID_MAX + LST_DATE_MAX + 1)
_Static_assert(LST_PREFIX_SIZE == 1433 + 1, "the sum in the comment above");
_Static_assert(SMTPP_PATH_STR_SIZE > SMTPP_LOCAL_HARD_MAX + SMTPP_DOMAIN_MAX,
	       "a rendered recipient (listener.c) fits the for clause");

/* Append to the transaction, remembering the first error. */
static void
lst_put(struct lst_sess *ls, const void *buf, size_t len)
{
	int rc;

	if (len == 0 || !ls->txn_open || ls->txn_err)
		return;
	rc = spool_txn_body(ls->txn, buf, len);
	if (rc < 0) {
		ls->txn_err = rc;
		return;
	}
	ls->size += len;
	if (rc == SPOOL_BUSY && !smtps_paused(ls->s)) {
		/* the bytes were taken; read no more until lst_on_resume */
		ls->l->st.pauses++;
		log_debug("listener: session %016" PRIx64 " paused: spool busy",
			  smtps_session_id(ls->s));
		smtps_pause(ls->s);
	}
}

/* The spool caught up with a streamed body (see lst_put). */
static void
lst_on_resume(void *arg)
{
	struct lst_sess *ls = arg;

	smtps_resume(ls->s);
}

/*
 * True when buf has a byte >= 0x80.  64 bytes a step: four 16-byte loads
 * OR-ed, one sign-bit mask (SSE2; else words), stopping at the first hit.
 */
static bool
lst_has_8bit(const char *buf, size_t len)
{
	size_t i = 0;
	uint64_t acc = 0;

#if defined(__SSE2__)
	for (; i + 64 <= len; i += 64) {
		const __m128i *q = (const __m128i *)(const void *)(buf + i);
		__m128i v = _mm_or_si128(
		    _mm_or_si128(_mm_loadu_si128(q), _mm_loadu_si128(q + 1)),
		    _mm_or_si128(_mm_loadu_si128(q + 2),
				 _mm_loadu_si128(q + 3)));

		if (_mm_movemask_epi8(v) != 0)
			return true;
	}
#endif
	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, buf + i, 8);
		acc |= w;
	}
	for (; i < len; i++)
		acc |= (uint8_t)buf[i];
	return (acc & 0x8080808080808080ull) != 0;
}

/* Flag the open transaction 8BITMIME (undeclared 8-bit data). */
static void
lst_flag_8bit(struct lst_sess *ls)
{
	int rc;

	if (!ls->txn_open || ls->body8bit)
		return;
	rc = spool_txn_set_flags(ls->txn, RECORD_MSG_F_8BITMIME);
	if (rc == 0) {
		ls->l->st.undeclared_8bit++;
		log_info("listener: message %s: 8-bit data without "
			 "BODY=8BITMIME, stored as 8BITMIME",
			 lst_txn_idstr(ls));
	} else {
		log_warn("listener: message %s: 8-bit data without "
			 "BODY=8BITMIME past the first %s, not flagged: %s",
			 lst_txn_idstr(ls), "MiB", strerror(-rc));
	}
}

static bool
lst_field_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/* The "with" protocol of the Received field (RFC 3848, RFC 6531). */
static const char *
lst_proto(bool smtputf8, bool tls)
{
	if (smtputf8)
		return tls ? "UTF8SMTPS" : "UTF8SMTP";
	return tls ? "ESMTPS" : "ESMTP";
}

/* RFC 5322 date of t into buf[LST_DATE_SIZE] (31 characters). */
static void
lst_date(char buf[LST_DATE_SIZE], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	/* 0 only past the year 9999: the epoch rather than nothing */
	if (strftime(buf, LST_DATE_SIZE, "%a, %d %b %Y %H:%M:%S +0000", &tm) ==
	    0)
		snprintf(buf, LST_DATE_SIZE, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/* Append one formatted piece to buf[size] at *len, whole or not at all
 * (then buf[*len] is restored to NUL).  0 or -EMSGSIZE. */
ATTR_FMT(4, 5)
static int
lst_prefix_add(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *len) {
		buf[*len] = '\0';
		return -EMSGSIZE;
	}
	*len += (size_t)n;
	return 0;
}

/* Copy a client-supplied token into out, printable ASCII only. */
static void
lst_clean(char *out, size_t len, const char *in)
{
	size_t o = 0;

	for (; *in && o + 1 < len; in++) {
		unsigned char c = (unsigned char)*in;

		out[o++] = c > 0x20 && c < 0x7f && c != '(' && c != ')'
			       ? (char)c
			       : '?';
	}
	out[o] = '\0';
}

/* The value of an X-Binding field line[0..len) (unfolded, blanks
 * dropped) into out. */
static void
lst_binding_value(const char *line, size_t len, char *out, size_t outlen)
{
	const char *colon = memchr(line, ':', len);
	size_t o = 0;

	out[0] = '\0';
	if (colon == NULL)
		return;
	for (const char *q = colon + 1; q < line + len; q++) {
		if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
			continue;
		if (o + 1 < outlen)
			out[o++] = *q;
	}
	out[o] = '\0';
}

/*
 * Build the prefix into buf[LST_PREFIX_SIZE]: Received: (with "for <rcpt>"
 * for a single recipient) and, when the flags say so, Message-ID: and
 * Date:.  Every line is whole and ends in CRLF.  Returns its length.
 */
static size_t
lst_prefix(struct lst_sess *ls, const char *idstr, bool add_msgid,
	   bool add_date, char buf[LST_PREFIX_SIZE])
{
	const char *host = ls->l->cfg->server.hostname;
	char date[LST_DATE_SIZE], helo[LST_HELO_SIZE];
	const char *rcpt = ls->nrcpt == 1 ? ls->rcpt[0].addr : NULL;
	struct smtps_tls_info ti;
	size_t len = 0;
	bool tls;
	int rc;

	memset(&ti, 0, sizeof(ti));
	tls = smtps_tls_info(ls->s, &ti) && ti.protocol != NULL;
	lst_date(date, time(NULL));
	lst_clean(helo, sizeof(helo), smtps_helo_name(ls->s));
	rc = lst_prefix_add(
	    buf, LST_PREFIX_SIZE, &len,
	    "Received: from %s (%.*s)\r\n\tby %.*s (ringmta) with %s%s%.*s%s "
	    "id %s",
	    helo[0] ? helo : "unknown", INET6_ADDRSTRLEN - 1,
	    smtps_peer_addr(ls->s), VALUE_HOST_MAX, host,
	    lst_proto(ls->smtputf8, tls), tls ? " (" : "", LST_TLS_PROTO_MAX,
	    tls ? ti.protocol : "", tls ? ")" : "", idstr);
	/* The for clause only when it fits with room for the rest. */
	if (rc == 0 && rcpt != NULL && strlen(rcpt) < SMTPP_PATH_STR_SIZE)
		(void)lst_prefix_add(buf,
				     LST_PREFIX_SIZE - LST_MSGID_MAX -
					 LST_DATE_MAX - LST_TAIL_MAX,
				     &len, "\r\n\tfor <%s>", rcpt);
	if (rc == 0)
		rc = lst_prefix_add(buf, LST_PREFIX_SIZE, &len, ";\r\n\t%s\r\n",
				    date);
	if (rc == 0 && add_msgid)
		rc = lst_prefix_add(buf, LST_PREFIX_SIZE, &len,
				    "Message-ID: <%s@%.*s>\r\n", idstr,
				    VALUE_HOST_MAX, host);
	if (rc == 0 && add_date)
		rc = lst_prefix_add(buf, LST_PREFIX_SIZE, &len, "Date: %s\r\n",
				    date);
	BUG_ON(rc < 0); /* the sizes above say it cannot happen */
	return len;
}

/*
 * The header section (hold[0, hlen)) is complete: begin the spool
 * transaction, write Received: (and Message-ID:/Date: when missing), then
 * the held bytes without X-Binding:.  Errors stay in ls->txn_err.
 */
void
lst_headers_done(struct lst_sess *ls, size_t hlen)
{
	struct listener *l = ls->l;
	const struct config *cfg = l->cfg;
	char binding[LST_BINDING_MAX + 1] = "", idstr[SPOOL_ID_STR_LEN];
	char prefix[LST_PREFIX_SIZE];
	bool have_msgid = false, have_date = false;
	struct record_msg_rcpt *rr;
	struct spool_env env;
	size_t i, start, plen;
	int rc;

	ls->in_headers = false;
	/* Pass 1: inspect the fields (a field runs until a line that does
	 * not start with SP/HT). */
	for (i = 0; i < hlen;) {
		const char *line = ls->hold + i;
		const char *nl = memchr(line, '\n', hlen - i);
		size_t len = nl ? (size_t)(nl - line) + 1 : hlen - i;

		if (line[0] != ' ' && line[0] != '\t') {
			if (lst_field_is(line, len, "message-id"))
				have_msgid = true;
			else if (lst_field_is(line, len, "date"))
				have_date = true;
			else if (lst_field_is(line, len, "x-binding"))
				lst_binding_value(line, len, binding,
						  sizeof(binding));
		}
		i += len;
	}
	if (binding[0] == '\0')
		snprintf(binding, sizeof(binding), "%s",
			 cfg->listener.binding ? cfg->listener.binding
					       : "default");
	if (config_binding(cfg, binding) == NULL) {
		snprintf(ls->refuse, sizeof(ls->refuse),
			 "5.7.1 Unknown binding '%.64s' in X-Binding", binding);
		return;
	}

	memset(&env, 0, sizeof(env));
	env.sender.p = (const uint8_t *)ls->sender;
	env.sender.len = strlen(ls->sender);
	env.envid.p = (const uint8_t *)ls->envid;
	env.envid.len = strlen(ls->envid);
	env.binding.p = (const uint8_t *)binding;
	env.binding.len = strlen(binding);
	env.client_addr.p = (const uint8_t *)smtps_peer_addr(ls->s);
	env.client_addr.len = strlen(smtps_peer_addr(ls->s));
	env.client_helo.p = (const uint8_t *)smtps_helo_name(ls->s);
	env.client_helo.len = strlen(smtps_helo_name(ls->s));
	env.ret = (uint8_t)ls->ret;
	/* WIRE until the end of data says otherwise (listener.c). */
	env.flags = (ls->body8bit ? RECORD_MSG_F_8BITMIME : 0) |
		    (ls->smtputf8 ? RECORD_MSG_F_SMTPUTF8 : 0) |
		    RECORD_MSG_F_WIRE;
	rr = xcalloc(ls->nrcpt, sizeof(*rr));
	for (uint32_t k = 0; k < ls->nrcpt; k++) {
		rr[k].addr.p = (const uint8_t *)ls->rcpt[k].addr;
		rr[k].addr.len = strlen(ls->rcpt[k].addr);
		rr[k].notify = ls->rcpt[k].notify;
		if (ls->rcpt[k].orcpt) {
			rr[k].orcpt.p = (const uint8_t *)ls->rcpt[k].orcpt;
			rr[k].orcpt.len = strlen(ls->rcpt[k].orcpt);
		}
	}
	env.rcpt = rr;
	env.nrcpt = ls->nrcpt;
	ls->txn = xcalloc(1, sizeof(*ls->txn));
	rc = spool_txn_begin(l->sp, ls->txn, &env, lst_on_resume, ls);
	free(rr);
	if (rc < 0) {
		ls->txn_err = rc;
		return;
	}
	ls->txn_open = true;
	if (ls->saw8bit) /* in the header section */
		lst_flag_8bit(ls);

	spool_id_str(spool_txn_id(ls->txn), idstr);
	plen =
	    lst_prefix(ls, idstr, !have_msgid && cfg->listener.add_message_id,
		       !have_date && cfg->listener.add_date, prefix);
	lst_put(ls, prefix, plen);

	/* Pass 2: the fields, without X-Binding (and its continuations). */
	start = 0;
	for (i = 0; i < hlen;) {
		const char *line = ls->hold + i;
		const char *nl = memchr(line, '\n', hlen - i);
		size_t len = nl ? (size_t)(nl - line) + 1 : hlen - i;

		if (line[0] != ' ' && line[0] != '\t' &&
		    lst_field_is(line, len, "x-binding")) {
			size_t end = i + len;

			while (end < hlen && (ls->hold[end] == ' ' ||
					      ls->hold[end] == '\t')) {
				const char *n2 =
				    memchr(ls->hold + end, '\n', hlen - end);

				end = n2 ? (size_t)(n2 - ls->hold) + 1 : hlen;
			}
			lst_put(ls, ls->hold + start, i - start);
			start = i = end;
			continue;
		}
		i += len;
	}
	lst_put(ls, ls->hold + start, ls->hold_len - start);
	ls->hold_len = 0;
}

/*
 * The engine's body_buf: past the header section, the end of the spool
 * transaction's record, so the decoder writes the body where the spool
 * keeps it and lst_put() copies nothing; NULL (the engine's scratch) while
 * the header section is held or nothing will be stored.
 */
char *
lst_body_buf(struct smtps_session *s, size_t len)
{
	struct lst_sess *ls = lst_sess(s);

	if (ls->refuse[0] || ls->txn_err || ls->in_headers || !ls->txn_open)
		return NULL;
	return spool_txn_body_room(ls->txn, len);
}

/* The engine's on_body: unstuffed body bytes of the current message. */
void
lst_on_body(struct smtps_session *s, const char *buf, size_t len)
{
	struct lst_sess *ls = lst_sess(s);

	if (ls->refuse[0] || ls->txn_err)
		return;
	/* Before the bytes go in: a flag must reach the spool while the
	 * body is still inline (see spool_txn_set_flags). */
	if (!ls->saw8bit && !ls->body8bit && lst_has_8bit(buf, len)) {
		ls->saw8bit = true;
		lst_flag_8bit(ls);
	}
	if (!ls->in_headers) {
		lst_put(ls, buf, len);
		return;
	}
	if (ls->hold_len + len > ls->hold_cap) {
		size_t cap = MAX(ls->hold_cap * 2, ls->hold_len + len);

		ls->hold = xrealloc(ls->hold, MIN(cap, LST_HOLD_MAX + len));
		ls->hold_cap = MIN(cap, LST_HOLD_MAX + len);
	}
	memcpy(ls->hold + ls->hold_len, buf, len);
	ls->hold_len += len;
	/* The header section ends at the first empty line. */
	if (ls->hold_len >= 2 && ls->hold_scan == 0 && ls->hold[0] == '\r' &&
	    ls->hold[1] == '\n') {
		lst_headers_done(ls, 0);
		return;
	}
	for (size_t i = ls->hold_scan > 3 ? ls->hold_scan - 3 : 0;
	     i + 4 <= ls->hold_len; i++) {
		if (memcmp(ls->hold + i, "\r\n\r\n", 4) == 0) {
			lst_headers_done(ls, i + 2);
			return;
		}
	}
	ls->hold_scan = ls->hold_len;
	if (ls->hold_len >= LST_HOLD_MAX)
		lst_headers_done(ls, ls->hold_len); /* no end in sight */
}
