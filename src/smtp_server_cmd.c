/* SPDX-License-Identifier: MIT */
/*
 * smtp_server_cmd.c: the inbound ESMTP engine's protocol half: the input
 * loop (smtps_process), command dispatch (one handler per verb), sequence
 * and limit checks, the EHLO reply, the DATA body through the sdata decoder
 * and BDAT chunks, and what each reply does to the session
 * (smtps_apply_reply).  Framing and syntax are smtp_parse's; I/O and
 * teardown are smtp_server.c's.  No policy: MAIL, RCPT, DATA, end of data,
 * RSET and QUIT are asked of the owner (smtps_ops) and wait for its reply.
 *
 * Pipelining without PIPELINING (RFC 2920 not negotiated: no EHLO yet, a
 * HELO session, or the capability hidden): input that arrived before the
 * reply to the previous command was queued is a protocol violation; the
 * engine replies "554 5.5.0" and closes (Postfix's
 * smtpd_forbid_unauth_pipelining, which also disconnects).
 */
#include "smtp_server.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "smtp_server_int.h"

typedef void smtps_verb_fn(struct smtps_session *s,
			   const struct smtpp_cmd *cmd);

/* The reply text the engine uses when the owner gives none. */
const char *
smtps_default_text(enum smtps_stage st, unsigned code)
{
	if (code == 421)
		return "4.3.2 Service not available, closing channel";
	switch (code / 100) {
	case 2:
		if (st == SMTPS_STAGE_MAIL)
			return "2.1.0 Ok";
		if (st == SMTPS_STAGE_RCPT)
			return "2.1.5 Ok";
		if (st == SMTPS_STAGE_DOT)
			return "2.0.0 Ok: queued";
		if (st == SMTPS_STAGE_QUIT)
			return "2.0.0 Bye";
		if (st == SMTPS_STAGE_GREETING)
			return "ESMTP";
		if (st == SMTPS_STAGE_STARTTLS)
			return "2.0.0 Ready to start TLS";
		return "2.0.0 Ok";
	case 3:
		return "End data with <CR><LF>.<CR><LF>";
	case 4:
		if (st == SMTPS_STAGE_STARTTLS)
			return "4.7.0 TLS not available";
		return "4.3.0 Try again later";
	default:
		if (st == SMTPS_STAGE_GREETING)
			return "5.3.2 No SMTP service here";
		if (st == SMTPS_STAGE_RCPT)
			return "5.1.1 Recipient address rejected";
		return "5.7.1 Rejected";
	}
}

void
smtps_txn_reset(struct smtps_session *s)
{
	s->in_mail = false;
	s->txn_utf8 = false;
	s->nrcpt = 0;
	s->bdat_in_txn = false;
	s->bdat_failed = false;
	s->bdat_over = false;
	s->bdat_size = 0;
	s->bdat_left = 0;
}

/*
 * A protocol error the engine answers itself.  Counted; past errors_max
 * the session gets 421 4.7.0 and is closed.
 */
void
smtps_error(struct smtps_session *s, const char *sugg)
{
	smtps_queue_sugg(s, sugg);
	if (++s->errors < s->srv->cfg.errors_max)
		return;
	smtps_queue(s, 421, "4.7.0 Error: too many errors");
	smtps_close(s, SMTPS_CLOSE_ERRORS, true);
}

static bool
smtps_pipelining_ok(const struct smtps_session *s)
{
	return (s->srv->cfg.caps & SMTPS_CAP_PIPELINING) && s->helo == 2;
}

/* Input arrived before our last reply was queued: see the file comment. */
static bool
smtps_check_sync(struct smtps_session *s)
{
	if (smtps_pipelining_ok(s) || !s->replied_since_recv)
		return true;
	s->srv->st.pipelining_violations++;
	smtps_queue(
	    s, 554,
	    "5.5.0 Error: SMTP protocol synchronization (PIPELINING not "
	    "negotiated)");
	smtps_close(s, SMTPS_CLOSE_PIPELINING, true);
	return false;
}

/* The multi-line EHLO reply: "250-host[ text]" and one line per cap. */
static void
smtps_queue_ehlo(struct smtps_session *s, const char *text)
{
	const struct smtps_config *c = &s->srv->cfg;
	char buf[SMTPS_REPLY_MAX];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "%.255s%s%.100s", c->hostname,
			     text && *text ? " " : "", text ? text : "");
#define SMTPS_CAP_LINE(cap, ...)                                               \
	do {                                                                   \
		if ((c->caps & (cap)) && n < sizeof(buf))                      \
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,        \
					      __VA_ARGS__);                    \
	} while (0)
	SMTPS_CAP_LINE(SMTPS_CAP_PIPELINING, "\nPIPELINING");
	if (c->size_max)
		SMTPS_CAP_LINE(SMTPS_CAP_SIZE, "\nSIZE %" PRIu64, c->size_max);
	else
		SMTPS_CAP_LINE(SMTPS_CAP_SIZE, "\nSIZE");
	SMTPS_CAP_LINE(SMTPS_CAP_ENHANCEDSTATUSCODES, "\nENHANCEDSTATUSCODES");
	SMTPS_CAP_LINE(SMTPS_CAP_8BITMIME, "\n8BITMIME");
	SMTPS_CAP_LINE(SMTPS_CAP_DSN, "\nDSN");
	SMTPS_CAP_LINE(SMTPS_CAP_SMTPUTF8, "\nSMTPUTF8");
	SMTPS_CAP_LINE(SMTPS_CAP_CHUNKING, "\nCHUNKING");
	if (s->tls_st == SMTPS_TLS_OFF)
		SMTPS_CAP_LINE(SMTPS_CAP_STARTTLS, "\nSTARTTLS");
#undef SMTPS_CAP_LINE
	smtps_queue(s, 250, buf);
}

static void
smtps_queue_greeting(struct smtps_session *s, unsigned code, const char *text)
{
	char buf[SMTPS_REPLY_MAX];

	snprintf(buf, sizeof(buf), "%.255s %.200s", s->srv->cfg.hostname, text);
	smtps_queue(s, code, buf);
}

static void
smtps_start_body(struct smtps_session *s)
{
	const struct smtps_config *c = &s->srv->cfg;

	sdata_dec_init(&s->dec, c->data_mode, c->size_max);
	s->action = "reading the message body";
	smtps_enter(s, SMTPS_S_BODY);
}

/* A BDAT chunk is about to be read (or discarded when refused). */
static void
smtps_start_chunk(struct smtps_session *s, bool refused)
{
	s->bdat_failed = refused;
	s->action = "reading a BDAT chunk";
	smtps_enter(s, SMTPS_S_BDAT);
}

/*
 * What a reply does: queue it (EHLO's with the capability list, the
 * greeting with the host name) and move the session on.  A 421 closes.
 */
void
smtps_apply_reply(struct smtps_session *s, enum smtps_stage st, unsigned code,
		  const char *text)
{
	bool ok = code / 100 == 2;
	const char *given = text;

	if (text == NULL)
		text = smtps_default_text(st, code);
	switch (st) {
	case SMTPS_STAGE_GREETING:
		s->greeted = true;
		s->noservice = !ok;
		smtps_queue_greeting(s, code, text);
		/* input held before the greeting is not pipelining */
		s->replied_since_recv = false;
		break;
	case SMTPS_STAGE_HELO:
		if (ok)
			s->helo = s->ehlo_pending ? 2 : 1;
		if (ok && s->ehlo_pending)
			smtps_queue_ehlo(s, given);
		else if (ok)
			smtps_queue_greeting(s, code, "");
		else
			smtps_queue(s, code, text);
		break;
	case SMTPS_STAGE_DATA:
		if (s->bdat_pending) {
			s->bdat_pending = false;
			if (code == 354) {
				s->bdat_in_txn = true;
				smtps_start_chunk(s, false);
				break;
			}
			smtps_queue(s, code, text);
			smtps_start_chunk(s, true);
			break;
		}
		smtps_queue(s, code, text);
		if (code == 354)
			smtps_start_body(s);
		break;
	case SMTPS_STAGE_MAIL:
		smtps_queue(s, code, text);
		s->in_mail = ok;
		break;
	case SMTPS_STAGE_RCPT:
		smtps_queue(s, code, text);
		s->nrcpt += ok;
		break;
	case SMTPS_STAGE_DOT:
		smtps_queue(s, code, text);
		s->messages += ok;
		smtps_txn_reset(s);
		break;
	case SMTPS_STAGE_RSET:
		smtps_queue(s, code, text);
		break;
	case SMTPS_STAGE_QUIT:
		smtps_queue(s, code, text);
		smtps_close(s, SMTPS_CLOSE_QUIT, true);
		return;
	case SMTPS_STAGE_STARTTLS:
		if (code == 220)
			smtps_tls_start(s, text);
		else
			smtps_queue(s, code, text);
		break;
	case SMTPS_STAGE_NONE:
	case SMTPS_STAGE__COUNT:
		BUG_ON(1);
	}
	if (code == 421)
		smtps_close(s, SMTPS_CLOSE_OWNER_REPLY, true);
}

/* Leave a reply pending and ask the owner (or take the default). */
#define SMTPS_ASK(s, stage, cb, ...)                                           \
	do {                                                                   \
		const struct smtps_ops *ops_ = (s)->srv->ops;                  \
		(s)->pending = (stage);                                        \
		if (ops_->cb)                                                  \
			ops_->cb(__VA_ARGS__);                                 \
		else                                                           \
			smtps_reply((s), 0, NULL);                             \
	} while (0)

static void
smtps_verb_helo(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	size_t n = MIN(cmd->arg_len, sizeof(s->helo_name) - 1);

	smtps_txn_reset(s);
	memcpy(s->helo_name, cmd->arg, n);
	s->helo_name[n] = '\0';
	s->ehlo_pending = cmd->verb == SMTPP_VERB_EHLO;
	s->action = "answering HELO/EHLO";
	SMTPS_ASK(s, SMTPS_STAGE_HELO, on_helo, s, s->ehlo_pending,
		  s->helo_name);
}

/* MAIL parameters must match what was advertised. */
static const char *
smtps_mail_refusal(const struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	unsigned caps = s->srv->cfg.caps;
	uint64_t max = s->srv->cfg.size_max;

	if (((cmd->params & SMTPP_PARAM_SIZE) && !(caps & SMTPS_CAP_SIZE)) ||
	    ((cmd->params & SMTPP_PARAM_BODY) &&
	     !(caps & SMTPS_CAP_8BITMIME)) ||
	    ((cmd->params & SMTPP_PARAM_SMTPUTF8) &&
	     !(caps & SMTPS_CAP_SMTPUTF8)) ||
	    ((cmd->params & (SMTPP_PARAM_RET | SMTPP_PARAM_ENVID)) &&
	     !(caps & SMTPS_CAP_DSN)) ||
	    (cmd->params & SMTPP_PARAM_AUTH))
		return smtpp_err_str(SMTPP_ERR_PARAM_UNKNOWN);
	if ((cmd->path.flags & SMTPP_PATH_F_UTF8) && !cmd->mail.smtputf8)
		return smtpp_err_str(SMTPP_ERR_SMTPUTF8_REQUIRED);
	if (max && (cmd->params & SMTPP_PARAM_SIZE) && cmd->mail.size > max)
		return "552 5.3.4 Message size exceeds fixed limit";
	return NULL;
}

static void
smtps_verb_mail(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	const char *why;

	if (s->helo == 0) {
		smtps_error(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->in_mail) {
		smtps_error(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (s->srv->cfg.tls_required && s->tls_st != SMTPS_TLS_ON) {
		smtps_error(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	why = smtps_mail_refusal(s, cmd);
	if (why != NULL) {
		if (strncmp(why, "552", 3) == 0)
			smtps_queue_sugg(s, why);
		else
			smtps_error(s, why);
		return;
	}
	smtps_txn_reset(s);
	s->txn_utf8 = cmd->mail.smtputf8;
	s->action = "answering MAIL";
	SMTPS_ASK(s, SMTPS_STAGE_MAIL, on_mail, s, cmd);
}

static void
smtps_verb_rcpt(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	if (!s->in_mail || s->bdat_in_txn) {
		smtps_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if ((cmd->params & (SMTPP_PARAM_NOTIFY | SMTPP_PARAM_ORCPT)) &&
	    !(s->srv->cfg.caps & SMTPS_CAP_DSN)) {
		smtps_error(s, smtpp_err_str(SMTPP_ERR_PARAM_UNKNOWN));
		return;
	}
	if ((cmd->path.flags & SMTPP_PATH_F_UTF8) && !s->txn_utf8) {
		smtps_error(s, smtpp_err_str(SMTPP_ERR_SMTPUTF8_REQUIRED));
		return;
	}
	if (s->nrcpt >= s->srv->cfg.rcpt_max) {
		smtps_queue(s, 452, "4.5.3 Error: too many recipients");
		return;
	}
	s->action = "answering RCPT";
	SMTPS_ASK(s, SMTPS_STAGE_RCPT, on_rcpt, s, cmd);
}

static void
smtps_verb_data(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	(void)cmd;
	if (!s->in_mail || s->bdat_in_txn) {
		smtps_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpt == 0) {
		smtps_error(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	s->bdat_pending = false;
	s->action = "answering DATA";
	SMTPS_ASK(s, SMTPS_STAGE_DATA, on_data, s);
}

static void
smtps_verb_bdat(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	if (!(s->srv->cfg.caps & SMTPS_CAP_CHUNKING)) {
		smtps_error(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	s->bdat_left = cmd->bdat.size;
	s->bdat_last = cmd->bdat.last;
	if (!s->in_mail || s->nrcpt == 0) {
		/* RFC 3030: the chunk is read (and dropped) anyway */
		smtps_error(s, s->in_mail
				   ? "554 5.5.1 Error: no valid recipients"
				   : "503 5.5.1 Error: need MAIL command");
		if (s->state < SMTPS_S_FLUSH)
			smtps_start_chunk(s, true);
		return;
	}
	if (s->bdat_in_txn) {
		smtps_start_chunk(s, false);
		return;
	}
	s->bdat_pending = true;
	s->bdat_size = 0;
	s->bdat_over = false;
	s->action = "answering BDAT";
	SMTPS_ASK(s, SMTPS_STAGE_DATA, on_data, s);
}

static void
smtps_verb_rset(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	(void)cmd;
	smtps_txn_reset(s);
	s->action = "answering RSET";
	SMTPS_ASK(s, SMTPS_STAGE_RSET, on_rset, s);
}

static void
smtps_verb_quit(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	(void)cmd;
	s->action = "answering QUIT";
	SMTPS_ASK(s, SMTPS_STAGE_QUIT, on_quit, s);
}

static void
smtps_verb_noop(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	(void)cmd;
	smtps_queue(s, 250, "2.0.0 Ok");
}

static void
smtps_verb_help(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	(void)cmd;
	smtps_queue(
	    s, 214,
	    "2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT "
	    "HELP VRFY");
}

static void
smtps_verb_vrfy(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	(void)cmd;
	smtps_queue(s, 252, "2.5.2 Cannot VRFY user, but will accept message");
}

static void
smtps_verb_unimpl(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	(void)cmd;
	smtps_error(s, "502 5.5.1 Error: command not implemented");
}

/* STARTTLS (arguments were refused with 501 by the parser). */
static void
smtps_verb_starttls(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	if (s->srv->cfg.tls == NULL) {
		smtps_verb_unimpl(s, cmd);
		return;
	}
	if (s->tls_st != SMTPS_TLS_OFF) {
		smtps_error(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (s->in_mail) {
		smtps_error(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	s->action = "answering STARTTLS";
	SMTPS_ASK(s, SMTPS_STAGE_STARTTLS, on_starttls, s);
}

static void
smtps_verb_unknown(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	(void)cmd;
	smtps_error(s, smtpp_err_str(SMTPP_ERR_UNKNOWN_VERB));
}

static smtps_verb_fn *const smtps_verbs[SMTPP_VERB__COUNT] = {
    [SMTPP_VERB_UNKNOWN] = smtps_verb_unknown,
    [SMTPP_VERB_HELO] = smtps_verb_helo,
    [SMTPP_VERB_EHLO] = smtps_verb_helo,
    [SMTPP_VERB_MAIL] = smtps_verb_mail,
    [SMTPP_VERB_RCPT] = smtps_verb_rcpt,
    [SMTPP_VERB_DATA] = smtps_verb_data,
    [SMTPP_VERB_BDAT] = smtps_verb_bdat,
    [SMTPP_VERB_RSET] = smtps_verb_rset,
    [SMTPP_VERB_NOOP] = smtps_verb_noop,
    [SMTPP_VERB_QUIT] = smtps_verb_quit,
    [SMTPP_VERB_HELP] = smtps_verb_help,
    [SMTPP_VERB_VRFY] = smtps_verb_vrfy,
    [SMTPP_VERB_EXPN] = smtps_verb_unimpl,
    [SMTPP_VERB_STARTTLS] = smtps_verb_starttls,
    [SMTPP_VERB_AUTH] = smtps_verb_unimpl,
};

/* One framed command line: checks, then the verb's handler. */
static void
smtps_dispatch(struct smtps_session *s, const struct smtpp_line *line)
{
	struct smtpp_cmd *cmd = &s->srv->cmd;
	enum smtpp_err e = smtpp_line_err(line->flags);

	if (e != SMTPP_OK) {
		smtps_error(s, smtpp_err_str(e));
		return;
	}
	if (smtpp_command(line->ptr, line->len, cmd) < 0) {
		if (s->noservice && cmd->verb == SMTPP_VERB_QUIT)
			smtps_verb_quit(s, cmd);
		else
			smtps_error(s, smtpp_err_str(cmd->err));
		return;
	}
	log_trace("smtps: %016" PRIx64 " < %s", s->id,
		  smtpp_verb_str(cmd->verb));
	if (s->noservice && cmd->verb != SMTPP_VERB_QUIT) {
		smtps_error(s, "503 5.5.1 Error: no SMTP service here");
		return;
	}
	smtps_verbs[cmd->verb](s, cmd);
}

/* CMD: frame and handle one line.  Returns 1 on progress, 0 for input. */
static int
smtps_step_cmd(struct smtps_session *s)
{
	struct smtpp_line line;
	size_t used = 0;
	int rc;

	if (s->in_off == s->in_len)
		return 0;
	rc = smtpp_line(&s->lp, s->in + s->in_off, s->in_len - s->in_off, &used,
			&line);
	s->in_off += used;
	if (rc == 0)
		return 0;
	if (!smtps_check_sync(s))
		return 0;
	if (rc < 0)
		smtps_error(s, smtpp_err_str(SMTPP_ERR_LINE_TOO_LONG));
	else
		smtps_dispatch(s, &line);
	return 1;
}

/* The end of a message (DATA or last BDAT): ask the owner. */
static void
smtps_data_end(struct smtps_session *s, struct smtps_data_info *info)
{
	const struct smtps_ops *ops = s->srv->ops;

	smtps_enter(s, SMTPS_S_CMD);
	s->action = "answering the end of data";
	if (info->oversize) {
		smtps_queue(s, 552, "5.3.4 Error: message size exceeds limit");
		smtps_txn_reset(s);
		if (ops->on_data_end)
			ops->on_data_end(s, info);
		return;
	}
	SMTPS_ASK(s, SMTPS_STAGE_DOT, on_data_end, s, info);
}

/* BODY: decode what is buffered, hand it over, detect the end. */
static int
smtps_step_body(struct smtps_session *s)
{
	struct smtps_server *srv = s->srv;
	struct smtps_data_info info;
	size_t used = 0, produced = 0;
	char *out = NULL;
	int rc;

	if (s->in_off == s->in_len)
		return 0;
	if (!smtps_check_sync(s))
		return 0;
	/* The owner's memory when it offers some: decoded there, no copy. */
	if (srv->ops->body_buf && srv->ops->on_body)
		out = srv->ops->body_buf(s, sizeof(srv->scratch));
	if (out == NULL)
		out = srv->scratch;
	rc = sdata_decode(&s->dec, s->in + s->in_off, s->in_len - s->in_off,
			  &used, out, sizeof(srv->scratch), &produced);
	s->in_off += used;
	if (produced > 0 && srv->ops->on_body) {
		srv->ops->on_body(s, out, produced);
		if (s->state != SMTPS_S_BODY)
			return 0;
	}
	if (rc == 1) {
		memset(&info, 0, sizeof(info));
		info.stats = &s->dec.stats;
		info.size = s->dec.stats.size;
		info.anomalies = sdata_dec_anomalies(&s->dec);
		info.oversize = s->dec.stats.oversize;
		smtps_data_end(s, &info);
		return 1;
	}
	return used > 0 || produced > 0;
}

/* BDAT: pass chunk bytes through (or drop them when refused). */
static int
smtps_step_bdat(struct smtps_session *s)
{
	uint64_t max = s->srv->cfg.size_max;
	struct smtps_data_info info;
	char msg[64];

	if (s->bdat_left > 0) {
		size_t n = s->in_len - s->in_off;

		if (n == 0)
			return 0;
		n = (size_t)MIN((uint64_t)n, s->bdat_left);
		if (!s->bdat_failed && max && s->bdat_size + n > max)
			s->bdat_over = true;
		if (!s->bdat_failed && !s->bdat_over && s->srv->ops->on_body)
			s->srv->ops->on_body(s, s->in + s->in_off, n);
		if (s->state != SMTPS_S_BDAT)
			return 0;
		s->bdat_size += n;
		s->in_off += n;
		s->bdat_left -= n;
		if (s->bdat_left > 0)
			return 1;
	}
	smtps_enter(s, SMTPS_S_CMD);
	if (s->bdat_failed) {
		s->bdat_failed = false;
		return 1;
	}
	if (!s->bdat_last) {
		snprintf(msg, sizeof(msg), "2.0.0 %" PRIu64 " octets received",
			 s->bdat_size);
		smtps_queue(s, 250, msg);
		return 1;
	}
	memset(&info, 0, sizeof(info));
	info.size = s->bdat_size;
	info.oversize = s->bdat_over;
	info.bdat = true;
	smtps_data_end(s, &info);
	return 1;
}

/*
 * The input loop: handle buffered input until a reply is pending, input
 * runs out, the owner paused the session, or output room does (both
 * buffers busy).  Then send what is
 * queued and keep a recv armed.  Never re-entered: replies given inside a
 * callback just continue the loop.
 */
void
smtps_process(struct smtps_session *s)
{
	if (s->in_process)
		return;
	s->in_process = true;
	while (s->state <= SMTPS_S_BDAT && s->pending == SMTPS_STAGE_NONE &&
	       s->greeted && !s->paused &&
	       (s->tls_st == SMTPS_TLS_OFF || s->tls_st == SMTPS_TLS_ON)) {
		int rc;

		if (smtps_out_room(s) < SMTPS_REPLY_MAX) {
			smtps_flush(s); /* TLS: encrypts even while sending */
			if (smtps_out_room(s) < SMTPS_REPLY_MAX)
				break;
		}
		if (s->state == SMTPS_S_CMD)
			rc = smtps_step_cmd(s);
		else if (s->state == SMTPS_S_BODY)
			rc = smtps_step_body(s);
		else
			rc = smtps_step_bdat(s);
		/* out of input: under TLS, decrypt more if tls.c has it */
		if (rc == 0 && smtps_tls_pull(s) == 0)
			break;
	}
	s->in_process = false;
	if (s->state <= SMTPS_S_FLUSH)
		smtps_flush(s);
	if (s->state <= SMTPS_S_BDAT)
		smtps_arm_recv(s);
}
