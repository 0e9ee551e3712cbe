/* SPDX-License-Identifier: MIT */
/*
 * smtp_server_out.c: the inbound ESMTP engine's output and reply API: the
 * two output buffers (one with the kernel while replies go into the other;
 * short sends resume from the same buffer), reply formatting (sanitised,
 * bounded, multi-line, enhanced codes stripped when not advertised), the
 * owner's smtps_reply/smtps_reply_close/smtps_drop, and the session
 * accessors.  Lifecycle and input are in smtp_server.c, commands in
 * smtp_server_cmd.c.
 */
#include "smtp_server.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "smtp_server_int.h"

/* ---- output ------------------------------------------------------------ */

size_t
smtps_out_room(const struct smtps_session *s)
{
	return SMTPS_OUT_SIZE - s->out_len[s->out_fill];
}

static void
smtps_send_start(struct smtps_session *s)
{
	unsigned idx = s->out_fill ^ 1;

	s->srv->st.sends++;
	if (ring_send(s->srv->ring, &s->op_send, s->fd,
		      s->out[idx] + s->out_sent, s->out_len[idx] - s->out_sent,
		      0) < 0) {
		s->out_sending = false;
		smtps_close(s, SMTPS_CLOSE_IO, false);
		return;
	}
	smtps_send_deadline(s); /* the session timer, no linked timeout */
}

/*
 * Send the replies queued in the fill buffer unless a send is in flight
 * (its completion calls back here).  In FLUSH with nothing left to send,
 * start the linger.
 */
void
smtps_flush(struct smtps_session *s)
{
	if (s->state >= SMTPS_S_LINGER)
		return;
	if (smtps_tls_io(s)) {
		smtps_tls_flush(s);
		return;
	}
	if (s->out_sending)
		return;
	if (s->out_len[s->out_fill] == 0) {
		if (s->state == SMTPS_S_FLUSH)
			smtps_linger_start(s);
		return;
	}
	s->out_fill ^= 1;
	s->out_len[s->out_fill] = 0;
	s->out_sent = 0;
	s->out_sending = true;
	s->replies_unsent = false;
	smtps_send_start(s);
}

void
smtps_send_done(struct uop *op, int res, unsigned flags)
{
	struct smtps_session *s =
	    container_of(op, struct smtps_session, op_send);
	unsigned idx = s->out_fill ^ 1;

	(void)flags;
	s->t_send = 0;
	if (s->state >= SMTPS_S_CLOSING) {
		s->out_sending = false;
		smtps_closing_step(s);
		return;
	}
	if (res <= 0) {
		s->out_sending = false;
		log_debug("smtps: %016" PRIx64 " send: %s while %s", s->id,
			  res ? strerror(-res) : "closed", s->action);
		smtps_close(s, SMTPS_CLOSE_IO, false);
		return;
	}
	if (smtps_tls_io(s)) {
		smtps_tls_send_done(s, res);
		return;
	}
	s->out_sent += (size_t)res;
	if (s->out_sent < s->out_len[idx]) {
		smtps_send_start(s); /* short send: the rest, same buffer */
		return;
	}
	s->out_len[idx] = 0;
	s->out_sending = false;
	if (s->state == SMTPS_S_FLUSH)
		smtps_flush(s);
	else if (s->tls_st == SMTPS_TLS_STARTING &&
		 s->out_len[s->out_fill] == 0)
		smtps_tls_begin(s); /* the 220 to STARTTLS is out */
	else
		smtps_process(s); /* it may have stopped for output room */
}

/* Append raw bytes to the fill buffer (truncated to the room left). */
int
smtps_queue_raw(struct smtps_session *s, const char *buf, size_t len)
{
	unsigned f = s->out_fill;
	size_t room = SMTPS_OUT_SIZE - s->out_len[f];

	if (len > room)
		return -ENOSPC;
	memcpy(s->out[f] + s->out_len[f], buf, len);
	s->out_len[f] += len;
	s->replies_unsent = true;
	s->replied_since_recv = true;
	return 0;
}

/* Length of a leading enhanced status code "d.ddd.ddd" plus its space. */
static size_t
smtps_enh_len(const char *t, size_t n)
{
	size_t i = 0, parts = 0, digits;

	if (n < 5 || (t[0] != '2' && t[0] != '4' && t[0] != '5'))
		return 0;
	for (;;) {
		digits = 0;
		while (i < n && t[i] >= '0' && t[i] <= '9' && digits < 4) {
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3 || (parts == 0 && digits != 1))
			return 0;
		if (++parts == 3)
			break;
		if (i >= n || t[i] != '.')
			return 0;
		i++;
	}
	if (i == n)
		return i;
	return t[i] == ' ' ? i + 1 : 0;
}

/*
 * Format "CODE<sep>text\r\n" into buf (sanitising text: controls become
 * '?'), at most size bytes including CRLF.  Returns the length.
 */
static size_t
smtps_fmt_line(const struct smtps_session *s, char *buf, size_t size,
	       unsigned code, bool last, const char *text, size_t n)
{
	size_t len, skip = 0;

	if (!(s->srv->cfg.caps & SMTPS_CAP_ENHANCEDSTATUSCODES))
		skip = smtps_enh_len(text, n);
	text += skip;
	n -= skip;
	while (n > 0 && text[n - 1] == ' ')
		n--;
	len = (size_t)snprintf(buf, size, "%03u%c", code, last ? ' ' : '-');
	for (size_t i = 0; i < n && len + 2 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		buf[len++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	buf[len++] = '\r';
	buf[len++] = '\n';
	return len;
}

/*
 * Queue a reply: text "x.y.z words", lines separated by '\n' (a multi-line
 * reply), bounded to SMTPS_REPLY_MAX and the room left.  Calls on_reply.
 * Returns 0 or -ENOSPC.
 */
int
smtps_queue(struct smtps_session *s, unsigned code, const char *text)
{
	char line[SMTPS_REPLY_MAX];
	size_t budget = MIN(smtps_out_room(s), (size_t)SMTPS_REPLY_MAX);
	const char *p = text ? text : "";

	if (budget < 8)
		return -ENOSPC;
	if (s->tls_st == SMTPS_TLS_HANDSHAKE)
		return -ENOTCONN; /* no reply can go out mid-handshake */
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		bool last = nl == NULL || budget < 16;
		size_t len = smtps_fmt_line(s, line, MIN(budget, sizeof(line)),
					    code, last, p, n);

		BUG_ON(smtps_queue_raw(s, line, len) != 0);
		budget -= len;
		if (last)
			break;
		p = nl + 1;
	}
	if (s->srv->ops->on_reply)
		s->srv->ops->on_reply(s, code);
	return 0;
}

/* Split a suggested reply "CODE x.y.z text" (smtp_parse.h). */
int
smtps_parse_reply(const char *sugg, unsigned *code_r, const char **text_r)
{
	if (sugg == NULL || strlen(sugg) < 3 || sugg[0] < '2' ||
	    sugg[0] > '5' || sugg[1] < '0' || sugg[1] > '9' || sugg[2] < '0' ||
	    sugg[2] > '9')
		return -EINVAL;
	*code_r = (unsigned)((sugg[0] - '0') * 100 + (sugg[1] - '0') * 10 +
			     (sugg[2] - '0'));
	*text_r = sugg[3] == ' ' ? sugg + 4 : sugg + 3;
	return 0;
}

int
smtps_queue_sugg(struct smtps_session *s, const char *sugg)
{
	unsigned code;
	const char *text;

	if (smtps_parse_reply(sugg, &code, &text) < 0) {
		code = 451;
		text = "4.3.0 Error: internal error";
	}
	return smtps_queue(s, code, text);
}

/* ---- the reply API ------------------------------------------------------ */

static bool
smtps_code_ok(enum smtps_stage st, unsigned code)
{
	if (code < 200 || code > 599)
		return false;
	if (code / 100 == 3)
		return st == SMTPS_STAGE_DATA && code == 354;
	if (st == SMTPS_STAGE_STARTTLS && code / 100 == 2)
		return code == 220;
	if (st == SMTPS_STAGE_DATA)
		return code / 100 != 2;
	return true;
}

static unsigned
smtps_default_code(enum smtps_stage st)
{
	switch (st) {
	case SMTPS_STAGE_GREETING:
	case SMTPS_STAGE_STARTTLS:
		return 220;
	case SMTPS_STAGE_DATA:
		return 354;
	case SMTPS_STAGE_QUIT:
		return 221;
	case SMTPS_STAGE_NONE:
	case SMTPS_STAGE_HELO:
	case SMTPS_STAGE_MAIL:
	case SMTPS_STAGE_RCPT:
	case SMTPS_STAGE_DOT:
	case SMTPS_STAGE_RSET:
	case SMTPS_STAGE__COUNT:
		break;
	}
	return 250;
}

/* Resume input processing after a reply given outside the input loop. */
static void
smtps_continue(struct smtps_session *s)
{
	if (!s->in_process && s->state < SMTPS_S_FLUSH)
		ring_defer(s->srv->ring, &s->task);
}

int
smtps_reply(struct smtps_session *s, unsigned code, const char *text)
{
	enum smtps_stage st = s->pending;

	if (s->state >= SMTPS_S_FLUSH)
		return -ECONNRESET;
	if (st == SMTPS_STAGE_NONE)
		return -EALREADY;
	if (code == 0)
		code = smtps_default_code(st);
	if (!smtps_code_ok(st, code))
		return -EINVAL;
	s->pending = SMTPS_STAGE_NONE;
	smtps_apply_reply(s, st, code, text);
	smtps_continue(s);
	return 0;
}

int
smtps_reply_close(struct smtps_session *s, unsigned code, const char *text)
{
	enum smtps_stage st = s->pending;

	if (s->state >= SMTPS_S_FLUSH)
		return -ECONNRESET;
	if (code < 200 || code > 599)
		code = 421;
	s->pending = SMTPS_STAGE_NONE;
	if (st == SMTPS_STAGE_GREETING)
		s->greeted = true;
	smtps_queue(s, code, text ? text : smtps_default_text(st, code));
	smtps_close(s, SMTPS_CLOSE_OWNER_REPLY, true);
	return 0;
}

/* Flow control.  See smtp_server.h. */
void
smtps_pause(struct smtps_session *s)
{
	s->paused = true;
}

void
smtps_resume(struct smtps_session *s)
{
	if (!s->paused)
		return;
	s->paused = false;
	smtps_continue(s); /* from the loop: never inside the caller */
}

bool
smtps_paused(const struct smtps_session *s)
{
	return s->paused;
}

void
smtps_drop(struct smtps_session *s)
{
	if (s->state >= SMTPS_S_FLUSH)
		return;
	s->greeted = true;
	smtps_close(s, SMTPS_CLOSE_OWNER_DROP, true);
}

/* ---- accessors ---------------------------------------------------------- */

void *
smtps_udata(const struct smtps_session *s)
{
	return s->udata;
}

void
smtps_set_udata(struct smtps_session *s, void *udata)
{
	s->udata = udata;
}

struct smtps_server *
smtps_session_server(const struct smtps_session *s)
{
	return s->srv;
}

uint64_t
smtps_session_id(const struct smtps_session *s)
{
	return s->id;
}

const char *
smtps_peer_addr(const struct smtps_session *s)
{
	return s->peer_str;
}

const struct sockaddr_storage *
smtps_peer_sa(const struct smtps_session *s)
{
	return &s->peer;
}

unsigned
smtps_session_listener(const struct smtps_session *s)
{
	return s->listener;
}

const char *
smtps_helo_name(const struct smtps_session *s)
{
	return s->helo_name;
}

enum smtps_stage
smtps_pending(const struct smtps_session *s)
{
	return s->pending;
}

unsigned
smtps_session_messages(const struct smtps_session *s)
{
	return s->messages;
}
