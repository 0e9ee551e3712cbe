/* SPDX-License-Identifier: MIT */
/*
 * ringsink_sess.c: ringsink's side of each SMTP session (prefix ssess_).
 * The engine asks at every stage; this file judges the event with the
 * fault rules (ringsink_script), applies the verdict now or after a delay
 * (a timer per session), counts, and keeps accepted messages in the
 * maildir.  A session record (struct ssess) lives from on_connect to
 * on_close, where its timer is cancelled; records are pooled, and the
 * per-transaction buffers they own are reused, so nothing is allocated
 * per message.
 */
#include "ringsink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "timer.h"

#define SSESS_POOL_MAX  256
#define SSESS_MSGID_MAX 200

struct ssess {
	struct sink *k;
	struct smtps_session *s;
	struct ssess *next; /* pool */
	struct timer delay;
	enum sscript_stage dstage; /* the delayed verdict */
	struct sscript_verdict dv;
	struct sstats_ent *e_listen, *e_client, *e_helo;
	char conn_key[20];
	unsigned msgs; /* accepted on this connection */
	/* transaction */
	char sender[SMTPP_PATH_STR_SIZE];
	char cur_rcpt[SMTPP_PATH_STR_SIZE]; /* awaiting its verdict */
	size_t cur_local;                   /* length of its local part */
	char *rbuf;                         /* "local\0addr\0" per recipient */
	size_t rbuf_len, rbuf_cap;
	const char **subj; /* local parts, rebuilt when judged */
	unsigned nrcpt, subj_cap;
	uint64_t env_hash;
	char env_key[20];
	char msgid[SSESS_MSGID_MAX];
	size_t msgid_len;
	int hdr_state; /* Message-ID scanner, see ssess_scan */
	unsigned hdr_match;
	uint64_t size, anomalies;
	struct smd_msg md;
};

static const char ssess_msgid_hdr[] = "message-id:";

static uint64_t
ssess_hash(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	h ^= 0xff;
	return h * 0x100000001b3ull;
}

static void
ssess_txn_reset(struct ssess *ss)
{
	ss->sender[0] = '\0';
	ss->rbuf_len = 0;
	ss->nrcpt = 0;
	ss->env_hash = 0xcbf29ce484222325ull;
	ss->msgid_len = 0;
	ss->msgid[0] = '\0';
	ss->hdr_state = 0;
	ss->hdr_match = 0;
	ss->size = 0;
	ss->anomalies = 0;
	smd_abort(&ss->k->md, &ss->md);
}

static void ssess_delay_fire(struct timer *t);

static struct ssess *
ssess_get(struct sink *k, struct smtps_session *s)
{
	struct ssess *ss = k->pool;

	if (ss != NULL) {
		k->pool = ss->next;
		k->npool--;
	} else {
		ss = xcalloc(1, sizeof(*ss));
		ss->k = k;
		smd_msg_init(&ss->md);
	}
	ss->s = s;
	ss->next = NULL;
	timer_init(&ss->delay, ssess_delay_fire);
	ss->e_listen = ss->e_client = ss->e_helo = NULL;
	ss->msgs = 0;
	snprintf(ss->conn_key, sizeof(ss->conn_key), "%016" PRIx64,
		 smtps_session_id(s));
	ssess_txn_reset(ss);
	return ss;
}

static void
ssess_put(struct ssess *ss)
{
	struct sink *k = ss->k;

	if (k->npool >= SSESS_POOL_MAX) {
		free(ss->rbuf);
		free(ss->subj);
		free(ss);
		return;
	}
	ss->next = k->pool;
	k->pool = ss;
	k->npool++;
}

void
ssess_pool_free(struct sink *k)
{
	while (k->pool) {
		struct ssess *ss = k->pool;

		k->pool = ss->next;
		free(ss->rbuf);
		free(ss->subj);
		free(ss);
	}
	k->npool = 0;
}

static void
ssess_add_rcpt(struct ssess *ss)
{
	size_t n = strlen(ss->cur_rcpt), need = ss->cur_local + 1 + n + 1;

	if (ss->rbuf_len + need > ss->rbuf_cap) {
		ss->rbuf_cap = MAX(ss->rbuf_cap * 2, ss->rbuf_len + need + 256);
		ss->rbuf = xrealloc(ss->rbuf, ss->rbuf_cap);
	}
	memcpy(ss->rbuf + ss->rbuf_len, ss->cur_rcpt, ss->cur_local);
	ss->rbuf[ss->rbuf_len + ss->cur_local] = '\0';
	memcpy(ss->rbuf + ss->rbuf_len + ss->cur_local + 1, ss->cur_rcpt,
	       n + 1);
	ss->rbuf_len += need;
	ss->nrcpt++;
	ss->env_hash = ssess_hash(ss->env_hash, ss->cur_rcpt);
}

/* The accepted recipients' local parts, for DATA and dot globs. */
static void
ssess_subjects(struct ssess *ss)
{
	const char *p = ss->rbuf;

	if (ss->nrcpt > ss->subj_cap) {
		ss->subj_cap = MAX(ss->nrcpt, ss->subj_cap * 2);
		ss->subj =
		    xreallocarray(ss->subj, ss->subj_cap, sizeof(*ss->subj));
	}
	for (unsigned i = 0; i < ss->nrcpt; i++) {
		ss->subj[i] = p;
		p += strlen(p) + 1;
		p += strlen(p) + 1;
	}
}

/* ---- verdicts ----------------------------------------------------------- */

static void
ssess_env_json(struct ssess *ss)
{
	struct jsonw *w = &ss->k->env;
	const char *p = ss->rbuf;
	struct smtps_server *srv = smtps_session_server(ss->s);
	struct smtps_tls_info ti;

	jsonw_reset(w);
	jsonw_obj_begin(w);
	jsonw_kv_str(w, "from", ss->sender);
	jsonw_key(w, "rcpts");
	jsonw_arr_begin(w);
	for (unsigned i = 0; i < ss->nrcpt; i++) {
		p += strlen(p) + 1;
		jsonw_str(w, p);
		p += strlen(p) + 1;
	}
	jsonw_arr_end(w);
	jsonw_kv_str(w, "helo", smtps_helo_name(ss->s));
	jsonw_kv_str(w, "client", smtps_peer_addr(ss->s));
	jsonw_kv_str(w, "listen",
		     smtps_listener_name(srv, smtps_session_listener(ss->s)));
	jsonw_kv_uint(w, "size", ss->size);
	jsonw_kv_uint(w, "anomalies", ss->anomalies);
	if (smtps_tls_info(ss->s, &ti)) {
		jsonw_key(w, "tls");
		jsonw_obj_begin(w);
		jsonw_kv_str(w, "protocol", ti.protocol);
		jsonw_kv_str(w, "cipher", ti.cipher);
		jsonw_obj_end(w);
	} else {
		jsonw_kv_null(w, "tls");
	}
	if (ss->msgid_len)
		jsonw_kv_str(w, "message_id", ss->msgid);
	else
		jsonw_kv_null(w, "message_id");
	jsonw_obj_end(w);
	jsonw_newline(w);
}

/*
 * --latency-log: "SECONDS.MICROSECONDS MESSAGE-ID" (CLOCK_REALTIME, the
 * moment the 250 is decided; "-" without a Message-ID), formatted by hand
 * (no printf) into stdio's buffer: no syscall per message.
 */
static void
ssess_latency(struct ssess *ss)
{
	char line[34 + SSESS_MSGID_MAX], *p = line + 32, *e;
	struct timespec ts;
	uint64_t sec;
	long us;

	if (ferror_unlocked(ss->k->lat))
		return; /* the log failed (reported at the next summary) */
	clock_gettime(CLOCK_REALTIME, &ts);
	sec = (uint64_t)ts.tv_sec;
	us = ts.tv_nsec / 1000;
	/* digits right to left before line + 32: sec, '.', 6 of us */
	for (int i = 0; i < 6; i++, us /= 10)
		*--p = (char)('0' + us % 10);
	*--p = '.';
	do
		*--p = (char)('0' + sec % 10);
	while ((sec /= 10) != 0);
	e = line + 32;
	*e++ = ' ';
	if (ss->msgid_len) {
		memcpy(e, ss->msgid, ss->msgid_len);
		e += ss->msgid_len;
	} else {
		*e++ = '-';
	}
	*e++ = '\n';
	fwrite_unlocked(p, 1, (size_t)(e - p), ss->k->lat);
}

void
ssess_latency_flush(struct sink *k)
{
	if (k->lat == NULL)
		return;
	if ((fflush(k->lat) != 0 || ferror(k->lat)) && !k->lat_failed) {
		k->lat_failed = true;
		log_warn("ringsink: --latency-log: write failed");
	}
}

/* A message was accepted: count it and keep it. */
static void
ssess_accept_msg(struct ssess *ss)
{
	struct sink *k = ss->k;

	if (k->lat != NULL)
		ssess_latency(ss);
	ss->msgs++;
	if (smtps_tls_info(ss->s, NULL))
		k->st.tls_messages++;
	sstats_message(&k->st.all, ss->nrcpt, ss->size);
	sstats_message(ss->e_listen, ss->nrcpt, ss->size);
	sstats_message(ss->e_client, ss->nrcpt, ss->size);
	sstats_message(ss->e_helo, ss->nrcpt, ss->size);
	if (smd_enabled(&k->md)) {
		ssess_env_json(ss);
		if (smd_commit(&k->md, &ss->md, k->env.buf, k->env.len) < 0)
			k->st.maildir_errors++;
	}
}

/* The reply ringsink gives when no rule decides. */
static void
ssess_normal(struct ssess *ss, enum sscript_stage st, unsigned *code,
	     const char **text)
{
	struct sink *k = ss->k;

	*code = 0;
	*text = NULL;
	if (st != SSCRIPT_DOT)
		return;
	if (k->strict_data && ss->anomalies) {
		*code = 550;
		*text = "5.6.0 Error: bare CR, bare LF or NUL in message "
			"(strict-data)";
	} else if (ss->md.failed) {
		*code = 451;
		*text = "4.3.0 Error: maildir write failed";
	}
}

/* Side effects of a reply about to be given, then the reply. */
static void
ssess_reply(struct ssess *ss, enum sscript_stage st, unsigned code,
	    const char *text)
{
	struct sink *k = ss->k;
	unsigned eff = code ? code
			    : (st == SSCRIPT_DATA       ? 354
			       : st == SSCRIPT_BANNER   ? 220
			       : st == SSCRIPT_STARTTLS ? 220
			       : st == SSCRIPT_QUIT     ? 221
							: 250);

	switch (st) {
	case SSCRIPT_EHLO:
	case SSCRIPT_HELO:
		if (eff / 100 == 2) {
			/* the same name again (EHLO after STARTTLS) is the
			 * same connection */
			struct sstats_ent *e =
			    sstats_get(&k->st.helo, smtps_helo_name(ss->s));

			if (e != ss->e_helo) {
				sstats_close(ss->e_helo);
				ss->e_helo = e;
				sstats_open(e);
			}
		}
		break;
	case SSCRIPT_RCPT:
		if (eff / 100 == 2) {
			k->st.rcpt_accepted++;
			ssess_add_rcpt(ss);
		}
		break;
	case SSCRIPT_DATA:
		if (eff == 354 && smd_enabled(&k->md) &&
		    smd_begin(&k->md, &ss->md) < 0) {
			k->st.maildir_errors++;
			eff = code = 451;
			text = "4.3.0 Error: maildir not writable";
		}
		break;
	case SSCRIPT_DOT:
		if (eff / 100 == 2)
			ssess_accept_msg(ss);
		else
			k->st.messages_rejected++;
		ssess_txn_reset(ss);
		break;
	case SSCRIPT_BANNER:
	case SSCRIPT_MAIL:
	case SSCRIPT_RSET:
	case SSCRIPT_QUIT:
	case SSCRIPT_STARTTLS:
	case SSCRIPT_STAGE__COUNT:
		break;
	}
	if (smtps_reply(ss->s, code, text) < 0) {
		log_warn("ringsink: %s: reply %u refused at stage %s",
			 ss->conn_key, eff, sscript_stage_str(st));
		return;
	}
	if (st == SSCRIPT_STARTTLS && eff == 220 && k->tls_inject) {
		static const char inj[] = "250 injected\r\n";

		(void)smtps_inject_raw(ss->s, inj, sizeof(inj) - 1);
	}
}

static void
ssess_apply(struct ssess *ss, enum sscript_stage st,
	    const struct sscript_verdict *v)
{
	unsigned code;
	const char *text;

	switch (v->act) {
	case SSCRIPT_DROP:
		ss->k->st.drops++;
		smtps_drop(ss->s);
		return;
	case SSCRIPT_CLOSE:
		if (st == SSCRIPT_DOT)
			ss->k->st.messages_rejected++;
		smtps_reply_close(ss->s, v->code, v->text);
		return;
	case SSCRIPT_REPLY:
		ssess_reply(ss, st, v->code, v->text);
		return;
	case SSCRIPT_PASS:
	case SSCRIPT_DELAY:
	case SSCRIPT_ACT__COUNT:
		break;
	}
	ssess_normal(ss, st, &code, &text);
	ssess_reply(ss, st, code, text);
}

static void
ssess_delay_fire(struct timer *t)
{
	struct ssess *ss = container_of(t, struct ssess, delay);

	ssess_apply(ss, ss->dstage, &ss->dv);
}

/* Judge an event: rules, then the tNNN convention at RCPT. */
static void
ssess_judge(struct ssess *ss, struct sscript_event *ev, const char *local)
{
	struct sink *k = ss->k;
	struct sscript_verdict v, c;

	ev->keys[SSCRIPT_KEY_CLIENT] = smtps_peer_addr(ss->s);
	ev->keys[SSCRIPT_KEY_CONN] = ss->conn_key;
	if (smtps_helo_name(ss->s)[0])
		ev->keys[SSCRIPT_KEY_HELO] = smtps_helo_name(ss->s);
	if (ss->sender[0] || ev->stage >= SSCRIPT_MAIL)
		ev->keys[SSCRIPT_KEY_SENDER] = ss->sender;
	sscript_eval(k->script, ev, &v);
	if (v.act == SSCRIPT_PASS && k->conventions && local &&
	    sscript_convention(local, &c)) {
		c.delay_ns = v.delay_ns;
		v = c;
	}
	if (v.delay_ns <= 0) {
		ssess_apply(ss, ev->stage, &v);
		return;
	}
	k->st.delays++;
	ss->dstage = ev->stage;
	ss->dv = v;
	timer_arm(ring_timers(k->ring), &ss->delay,
		  ring_now(k->ring) + v.delay_ns);
}

static void
ssess_event(struct sscript_event *ev, enum sscript_stage st,
	    const char *const *subj, unsigned n)
{
	memset(ev, 0, sizeof(*ev));
	ev->stage = st;
	ev->subjects = subj;
	ev->nsubjects = n;
}

/* ---- engine callbacks ---------------------------------------------------- */

static void
ssess_on_connect(struct smtps_session *s)
{
	struct sink *k = smtps_server_udata(smtps_session_server(s));
	struct ssess *ss = ssess_get(k, s);
	const char *peer = smtps_peer_addr(s);
	struct sscript_event ev;

	smtps_set_udata(s, ss);
	ss->e_listen =
	    sstats_get(&k->st.listen,
		       smtps_listener_name(k->srv, smtps_session_listener(s)));
	ss->e_client = sstats_get(&k->st.client, peer);
	sstats_open(&k->st.all);
	sstats_open(ss->e_listen);
	sstats_open(ss->e_client);
	ssess_event(&ev, SSCRIPT_BANNER, &peer, 1);
	ssess_judge(ss, &ev, NULL);
}

static void
ssess_on_helo(struct smtps_session *s, bool ehlo, const char *name)
{
	struct ssess *ss = smtps_udata(s);
	struct sscript_event ev;

	ssess_txn_reset(ss);
	ssess_event(&ev, ehlo ? SSCRIPT_EHLO : SSCRIPT_HELO, &name, 1);
	ev.keys[SSCRIPT_KEY_HELO] = name;
	ssess_judge(ss, &ev, NULL);
}

static void
ssess_on_mail(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	struct ssess *ss = smtps_udata(s);
	struct sink *k = ss->k;
	const char *local = cmd->path.local;
	struct sscript_event ev;

	k->st.mail++;
	ssess_txn_reset(ss);
	if (k->max_msgs_per_conn && ss->msgs >= k->max_msgs_per_conn) {
		smtps_reply_close(
		    s, 421,
		    "4.7.0 Error: too many messages on this connection");
		return;
	}
	if (smtpp_addr_str(&cmd->path, ss->sender, sizeof(ss->sender)) < 0)
		ss->sender[0] = '\0';
	ss->env_hash = ssess_hash(ss->env_hash, ss->sender);
	ssess_event(&ev, SSCRIPT_MAIL, &local, 1);
	ev.keys[SSCRIPT_KEY_SENDER] = ss->sender;
	ssess_judge(ss, &ev, NULL);
}

static void
ssess_on_rcpt(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	struct ssess *ss = smtps_udata(s);
	const char *local = cmd->path.local;
	struct sscript_event ev;

	ss->k->st.rcpt++;
	if (smtpp_addr_str(&cmd->path, ss->cur_rcpt, sizeof(ss->cur_rcpt)) < 0)
		ss->cur_rcpt[0] = '\0';
	ss->cur_local = MIN(cmd->path.local_len, strlen(ss->cur_rcpt));
	ssess_event(&ev, SSCRIPT_RCPT, &local, 1);
	ev.keys[SSCRIPT_KEY_RCPT] = ss->cur_rcpt;
	ssess_judge(ss, &ev, local);
}

static void
ssess_on_data(struct smtps_session *s)
{
	struct ssess *ss = smtps_udata(s);
	struct sscript_event ev;

	ss->k->st.data++;
	ssess_subjects(ss);
	snprintf(ss->env_key, sizeof(ss->env_key), "%016" PRIx64, ss->env_hash);
	ssess_event(&ev, SSCRIPT_DATA, ss->subj, ss->nrcpt);
	ev.keys[SSCRIPT_KEY_MSG] = ss->env_key;
	ssess_judge(ss, &ev, NULL);
}

/*
 * Find the Message-ID header value in the header section, across any
 * split: hdr_state 0 = at a line start, 1 = matching the name, 2 =
 * copying the value, 3 = elsewhere in a line, 4 = past the headers.
 */
static void
ssess_scan(struct ssess *ss, const char *buf, size_t len)
{
	for (size_t i = 0; i < len && ss->hdr_state != 4; i++) {
		char c = buf[i];

		if (c == '\n') {
			if (ss->hdr_state == 0)
				ss->hdr_state = 4; /* empty line */
			else
				ss->hdr_state = 0;
			ss->hdr_match = 0;
			continue;
		}
		if (c == '\r')
			continue;
		switch (ss->hdr_state) {
		case 0:
		case 1:
			if ((c | 0x20) == ssess_msgid_hdr[ss->hdr_match] ||
			    c == ssess_msgid_hdr[ss->hdr_match]) {
				ss->hdr_state = 1;
				if (++ss->hdr_match ==
				    sizeof(ssess_msgid_hdr) - 1) {
					ss->hdr_state = 2;
					ss->msgid_len = 0;
				}
			} else {
				ss->hdr_state = 3;
			}
			break;
		case 2:
			if ((c == ' ' || c == '\t') && ss->msgid_len == 0)
				break;
			if (ss->msgid_len + 1 < sizeof(ss->msgid)) {
				ss->msgid[ss->msgid_len++] = c;
				ss->msgid[ss->msgid_len] = '\0';
			}
			break;
		default:
			break;
		}
	}
}

static void
ssess_on_body(struct smtps_session *s, const char *buf, size_t len)
{
	struct ssess *ss = smtps_udata(s);

	ss->size += len;
	if (ss->hdr_state != 4)
		ssess_scan(ss, buf, len);
	if (ss->md.fd >= 0)
		smd_write(&ss->md, buf, len);
}

static void
ssess_on_data_end(struct smtps_session *s, const struct smtps_data_info *info)
{
	struct ssess *ss = smtps_udata(s);
	struct sink *k = ss->k;
	struct sscript_event ev;

	if (info->stats)
		sstats_anomalies(&k->st, info->stats);
	else
		k->st.bdat++;
	ss->size = info->size;
	ss->anomalies = info->anomalies;
	if (info->oversize) {
		k->st.messages_oversize++;
		k->st.messages_rejected++;
		ssess_txn_reset(ss);
		return;
	}
	ssess_subjects(ss);
	ssess_event(&ev, SSCRIPT_DOT, ss->subj, ss->nrcpt);
	ev.keys[SSCRIPT_KEY_MSG] = ss->msgid_len ? ss->msgid : ss->env_key;
	ssess_judge(ss, &ev, NULL);
}

static void
ssess_on_rset(struct smtps_session *s)
{
	struct ssess *ss = smtps_udata(s);
	const char *peer = smtps_peer_addr(s);
	struct sscript_event ev;

	ssess_txn_reset(ss);
	ssess_event(&ev, SSCRIPT_RSET, &peer, 1);
	ssess_judge(ss, &ev, NULL);
}

static void
ssess_on_quit(struct smtps_session *s)
{
	struct ssess *ss = smtps_udata(s);
	const char *peer = smtps_peer_addr(s);
	struct sscript_event ev;

	ssess_event(&ev, SSCRIPT_QUIT, &peer, 1);
	ssess_judge(ss, &ev, NULL);
}

static void
ssess_on_starttls(struct smtps_session *s)
{
	struct ssess *ss = smtps_udata(s);
	const char *peer = smtps_peer_addr(s);
	struct sscript_event ev;

	if (ss->k->tls_no_reply)
		return; /* --tls-fault no-reply: the client has to time out */
	if (ss->k->tls_inject) {
		ssess_reply(ss, SSCRIPT_STARTTLS, 220, "Ready");
		return;
	}
	ssess_event(&ev, SSCRIPT_STARTTLS, &peer, 1);
	ssess_judge(ss, &ev, NULL);
}

static void
ssess_on_tls(struct smtps_session *s)
{
	struct sink *k = smtps_server_udata(smtps_session_server(s));
	struct smtps_tls_info ti;

	(void)smtps_tls_info(s, &ti);
	sstats_tls(&k->st, ti.protocol);
}

static void
ssess_on_reply(struct smtps_session *s, unsigned code)
{
	struct sink *k = smtps_server_udata(smtps_session_server(s));

	if (code < nitems(k->st.replies))
		k->st.replies[code]++;
}

static void
ssess_on_close(struct smtps_session *s, enum smtps_close_why why)
{
	struct ssess *ss = smtps_udata(s);
	struct sink *k = ss->k;

	timer_cancel(ring_timers(k->ring), &ss->delay);
	ssess_txn_reset(ss);
	k->st.closes[why]++;
	sstats_close(&k->st.all);
	sstats_close(ss->e_listen);
	sstats_close(ss->e_client);
	sstats_close(ss->e_helo);
	smtps_set_udata(s, NULL);
	ssess_put(ss);
}

const struct smtps_ops ssess_ops = {
    .on_connect = ssess_on_connect,
    .on_helo = ssess_on_helo,
    .on_mail = ssess_on_mail,
    .on_rcpt = ssess_on_rcpt,
    .on_data = ssess_on_data,
    .on_body = ssess_on_body,
    .on_data_end = ssess_on_data_end,
    .on_rset = ssess_on_rset,
    .on_quit = ssess_on_quit,
    .on_starttls = ssess_on_starttls,
    .on_tls = ssess_on_tls,
    .on_reply = ssess_on_reply,
    .on_close = ssess_on_close,
};
