/* SPDX-License-Identifier: MIT */
/*
 * ringctl_ctl.c: the actions that need ringmta's answer (queue, message,
 * flush, fail, retry, delete), over Redis: a request "OP REQID [ARG]" is
 * published on PREFIX:ctl; every ringmta subscribed carries it out and
 * RPUSHes its reply (store/rstate_ctl.c records) on PREFIX:reply:REQID
 * with a TTL; this file BLPOPs the replies until every node that received
 * the request answered or RC_WAIT_MS passed, then prints them.  It never
 * touches the spool: the daemon owns it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>
#include <time.h>

#include "control.h"
#include "ringctl_int.h"
#include "rstate.h"

#define RC_WAIT_MS  3000
#define RC_NODE_MAX 256

struct rc_reply {
	char *buf; /* owned: the reply text, split in place */
	struct rstate_rec hdr;
	char *rows; /* the rest, not yet split */
};

static int64_t
rc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
rc_reqid(char *out)
{
	uint8_t b[RSTATE_REQID_LEN / 2];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		uint64_t x = (uint64_t)rc_now_ms() ^ ((uint64_t)getpid() << 32);

		memcpy(b, &x, sizeof(b));
	}
	for (size_t i = 0; i < sizeof(b); i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* The request's argument, checked and normalised into m->arg. */
static int
rc_request_arg(struct rstate_ctl_msg *m, const char *arg)
{
	if (arg == NULL)
		return 0;
	if (m->op == RSTATE_CTL_MESSAGE || m->op == RSTATE_CTL_RETRY ||
	    m->op == RSTATE_CTL_DELETE) {
		uint8_t id[DOM_ID_LEN];

		if (ctl_id_parse(arg, id) < 0) {
			fprintf(
			    stderr,
			    "ringctl: '%s' is not a message id (32 hex "
			    "digits, as ringmta --list-queue prints them)\n",
			    arg);
			return -EINVAL;
		}
		for (size_t i = 0; i < 2 * DOM_ID_LEN; i++)
			m->arg[i] = (char)(arg[i] >= 'A' && arg[i] <= 'F'
					       ? arg[i] - 'A' + 'a'
					       : arg[i]);
		m->arg[2 * DOM_ID_LEN] = '\0';
		return 0;
	}
	if (m->op == RSTATE_CTL_FLUSH && strcmp(arg, "all") == 0) {
		strcpy(m->arg, "all");
		return 0;
	}
	return rc_domain_name(arg, m->arg, sizeof(m->arg));
}

long long
rc_publish(struct rc *r, const struct rstate_ctl_msg *m)
{
	char ckey[RDS_KEY_MAX], msg[RDS_NAME_MAX + 64];
	redisReply *rep;
	long long n;

	rc_key(r, ckey, "ctl", NULL);
	if (rstate_ctl_format(m, msg, sizeof(msg)) < 0)
		return -1;
	rep = rc_cmd(r, 3, (const char *const[]){"PUBLISH", ckey, msg});
	if (rep == NULL)
		return -1;
	n = rep->integer;
	freeReplyObject(rep);
	return n;
}

/* BLPOP up to want replies before the deadline; returns how many. */
static size_t
rc_collect(struct rc *r, const char *key, size_t want, struct rc_reply *v)
{
	int64_t end = rc_now_ms() + RC_WAIT_MS;
	size_t n = 0;

	while (n < want && n < RC_NODE_MAX) {
		int64_t left = end - rc_now_ms();
		char tmo[32];
		redisReply *rep;

		if (left <= 0)
			break;
		snprintf(tmo, sizeof(tmo), "%.3f", (double)left / 1000.0);
		/* the socket must outlive the server-side wait */
		redisSetTimeout(r->ctx, (struct timeval){left / 1000 + 2, 0});
		rep = rc_cmd(r, 3, (const char *const[]){"BLPOP", key, tmo});
		if (rep == NULL)
			break;
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
			v[n].buf = strdup(rep->element[1]->str);
			v[n].rows = v[n].buf;
			if (v[n].buf != NULL &&
			    rstate_rec_next(&v[n].rows, &v[n].hdr) == 1)
				n++;
			else
				free(v[n].buf);
		}
		freeReplyObject(rep);
	}
	return n;
}

/* Keys whose values are numbers in --json. */
static bool
rc_numeric(const char *key)
{
	static const char *const keys[] = {
	    "count",  "recipients", "attempts",      "next_attempt",
	    "code",   "received",   "live",          "reclaimed",
	    "pref",   "failures",   "penalty_until", "connections",
	    "active",
	};

	for (size_t i = 0; i < nitems(keys); i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

static void
rc_json_rec(struct jsonw *w, const struct rstate_rec *rec)
{
	for (unsigned i = 0; i < rec->n; i++)
		if (rc_numeric(rec->key[i]) && rec->val[i][0] != '\0')
			jsonw_kv_int(w, rec->key[i],
				     strtoll(rec->val[i], NULL, 10));
		else
			jsonw_kv_str(w, rec->key[i], rec->val[i]);
}

/* Milliseconds since the epoch as local "YYYY-MM-DD HH:MM:SS", or "-". */
static const char *
rc_time(const char *ms, char *buf, size_t len)
{
	time_t t = (time_t)(strtoll(ms, NULL, 10) / 1000);
	struct tm tm;

	if (t <= 0 || localtime_r(&t, &tm) == NULL)
		return "-";
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static void
rc_table_row(const struct rc *r, enum rstate_ctl op, const char *node,
	     const struct rstate_rec *row)
{
	char t[32];

	if (op == RSTATE_CTL_QUEUE)
		fprintf(
		    r->c->out, "%-32s %-24s %-7s %5s %8s %-19s %s %s\n",
		    rstate_rec_get(row, "id"), rstate_rec_get(row, "domain"),
		    rstate_rec_get(row, "queue"),
		    rstate_rec_get(row, "recipients"),
		    rstate_rec_get(row, "attempts"),
		    rc_time(rstate_rec_get(row, "next_attempt"), t, sizeof(t)),
		    node, rstate_rec_get(row, "last_error"));
	else
		fprintf(
		    r->c->out, "%-40s %-10s %8s %-19s %s\n",
		    rstate_rec_get(row, "rcpt"), rstate_rec_get(row, "state"),
		    rstate_rec_get(row, "attempts"),
		    rc_time(rstate_rec_get(row, "next_attempt"), t, sizeof(t)),
		    rstate_rec_get(row, "last_error"));
}

static void
rc_table(const struct rc *r, enum rstate_ctl op, struct rc_reply *v, size_t n)
{
	struct rstate_rec row;

	for (size_t i = 0; i < n; i++)
		fprintf(r->c->out, "%s: %s%s\n",
			rstate_rec_get(&v[i].hdr, "node"),
			rstate_rec_get(&v[i].hdr, "text"),
			strcmp(rstate_rec_get(&v[i].hdr, "status"), "ok") == 0
			    ? ""
			    : " (not done)");
	if (op == RSTATE_CTL_QUEUE)
		fprintf(r->c->out, "\n%-32s %-24s %-7s %5s %8s %-19s %s %s\n",
			"ID", "DOMAIN", "QUEUE", "RCPTS", "ATTEMPTS",
			"NEXT ATTEMPT", "NODE", "LAST ERROR");
	else if (op == RSTATE_CTL_MESSAGE)
		fprintf(r->c->out, "\n%-40s %-10s %8s %-19s %s\n", "RECIPIENT",
			"STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR");
	else
		return;
	for (size_t i = 0; i < n; i++)
		while (rstate_rec_next(&v[i].rows, &row) == 1)
			rc_table_row(r, op, rstate_rec_get(&v[i].hdr, "node"),
				     &row);
}

static void
rc_json(const struct rc *r, enum rstate_ctl op, struct rc_reply *v, size_t n)
{
	struct rstate_rec row;
	struct jsonw w;
	int64_t total = 0;

	jsonw_init(&w);
	jsonw_obj_begin(&w);
	jsonw_kv_str(&w, "op", rstate_ctl_str(op));
	jsonw_key(&w, "nodes");
	jsonw_arr_begin(&w);
	for (size_t i = 0; i < n; i++) {
		jsonw_obj_begin(&w);
		rc_json_rec(&w, &v[i].hdr);
		jsonw_key(&w, "rows");
		jsonw_arr_begin(&w);
		while (rstate_rec_next(&v[i].rows, &row) == 1) {
			jsonw_obj_begin(&w);
			rc_json_rec(&w, &row);
			jsonw_obj_end(&w);
		}
		jsonw_arr_end(&w);
		jsonw_obj_end(&w);
		if (strcmp(rstate_rec_get(&v[i].hdr, "status"), "ok") == 0)
			total += strtoll(rstate_rec_get(&v[i].hdr, "count"),
					 NULL, 10);
	}
	jsonw_arr_end(&w);
	jsonw_kv_int(&w, "count", total);
	jsonw_obj_end(&w);
	rc_json_out(r, &w);
}

/* The exit status of the replies: 0 if one node did it, else 1. */
static int
rc_verdict(const struct rstate_ctl_msg *m, struct rc_reply *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rstate_rec_get(&v[i].hdr, "status"), "ok") == 0)
			return RINGCTL_EX_OK;
	fprintf(stderr, "ringctl: %s %s: %s\n", rstate_ctl_str(m->op), m->arg,
		n ? rstate_rec_get(&v[0].hdr, "text") : "no answer");
	return RINGCTL_EX_FAIL;
}

/*
 * Publish m (its reqid is drawn here) and gather the replies into
 * v[RC_NODE_MAX]: *n_r of them.  Returns 0, or an exit status with the
 * reason on stderr (Redis unreachable, no ringmta listening or none
 * answering; with quiet, the last two say nothing).
 */
static int
rc_ask(struct rc *r, struct rstate_ctl_msg *m, struct rc_reply *v, size_t *n_r,
       bool quiet)
{
	char key[RDS_KEY_MAX];
	long long sent;
	size_t n;

	*n_r = 0;
	rc_reqid(m->reqid);
	if (rc_key(r, key, "reply", m->reqid) < 0)
		return RINGCTL_EX_FAIL;
	sent = rc_publish(r, m);
	if (sent < 0)
		return RINGCTL_EX_UNAVAILABLE;
	if (sent == 0) {
		if (!quiet)
			fprintf(stderr,
				"ringctl: no ringmta is listening on %s%sctl "
				"(is it running?)\n",
				r->c->prefix, r->c->prefix[0] ? ":" : "");
		return RINGCTL_EX_UNAVAILABLE;
	}
	n = rc_collect(r, key, (size_t)sent, v);
	freeReplyObject(rc_cmd(r, 2, (const char *const[]){"DEL", key}));
	*n_r = n;
	if (n == 0) {
		if (!quiet)
			fprintf(stderr,
				"ringctl: %s: no ringmta answered within %d "
				"ms\n",
				rstate_ctl_str(m->op), RC_WAIT_MS);
		return RINGCTL_EX_UNAVAILABLE;
	}
	if (n < (size_t)sent)
		fprintf(stderr,
			"ringctl: %zu of %lld ringmta answered within %d ms\n",
			n, sent, RC_WAIT_MS);
	return 0;
}

static void
rc_replies_free(struct rc_reply *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].buf);
	free(v);
}

int
rc_request(struct rc *r, const char *name, const char *arg)
{
	struct rstate_ctl_msg m = {.quiet = r->c->quiet};
	struct rc_reply *v;
	size_t n;
	int rc = -1;

	for (int i = RSTATE_CTL_QUEUE; i < RSTATE_CTL__COUNT; i++)
		if (strcmp(name, rstate_ctl_str((enum rstate_ctl)i)) == 0)
			m.op = (enum rstate_ctl)i, rc = 0;
	if (rc < 0 || rc_request_arg(&m, arg) < 0)
		return RINGCTL_EX_FAIL;
	m.quiet = m.op == RSTATE_CTL_FAIL && r->c->quiet;
	v = xcalloc(RC_NODE_MAX, sizeof(*v));
	rc = rc_ask(r, &m, v, &n, false);
	if (rc == 0) {
		rc = rc_verdict(&m, v, n);
		if (r->c->json)
			rc_json(r, m.op, v, n);
		else if (rc == RINGCTL_EX_OK)
			rc_table(r, m.op, v, n);
	}
	rc_replies_free(v, n);
	return rc;
}

/* One node's rows of domain NAME as tables: MX addresses, then bindings. */
static void
rc_domain_table(const struct rc *r, struct rc_reply *rp)
{
	const char *node = rstate_rec_get(&rp->hdr, "node");
	struct rstate_rec row;
	char t[32];
	bool mx = false, bnd = false;

	fprintf(r->c->out, "\nnode %s: %s\n", node,
		rstate_rec_get(&rp->hdr, "text"));
	while (rstate_rec_next(&rp->rows, &row) == 1) {
		if (strcmp(rstate_rec_get(&row, "kind"), "mx") == 0) {
			if (!mx)
				fprintf(r->c->out,
					"  %-30s %-39s %4s %-9s %5s %8s %-19s "
					"%s\n",
					"MX HOST", "ADDRESS", "PREF", "STATE",
					"CONN", "FAILURES", "PENALTY UNTIL",
					"LAST ERROR");
			mx = true;
			fprintf(r->c->out,
				"  %-30s %-39s %4s %-9s %5s %8s %-19s %s\n",
				rstate_rec_get(&row, "host"),
				rstate_rec_get(&row, "ip"),
				rstate_rec_get(&row, "pref"),
				rstate_rec_get(&row, "state"),
				rstate_rec_get(&row, "connections"),
				rstate_rec_get(&row, "failures"),
				rc_time(rstate_rec_get(&row, "penalty_until"),
					t, sizeof(t)),
				rstate_rec_get(&row, "last_error"));
		} else {
			if (!bnd)
				fprintf(r->c->out, "  %-20s %5s %7s\n",
					"BINDING", "CONN", "ACTIVE");
			bnd = true;
			fprintf(r->c->out, "  %-20s %5s %7s\n",
				rstate_rec_get(&row, "binding"),
				rstate_rec_get(&row, "connections"),
				rstate_rec_get(&row, "active"));
		}
	}
}

void
rc_domain_nodes(struct rc *r, const char *name, struct jsonw *w)
{
	struct rstate_ctl_msg m = {.op = RSTATE_CTL_DOMAIN};
	struct rstate_rec row;
	struct rc_reply *v = xcalloc(RC_NODE_MAX, sizeof(*v));
	size_t n;

	snprintf(m.arg, sizeof(m.arg), "%s", name);
	if (rc_ask(r, &m, v, &n, true) != 0 && !r->c->json)
		fprintf(r->c->out, "\n(no ringmta answered: MX hosts and "
				   "bindings unknown)\n");
	if (w != NULL) {
		jsonw_key(w, "nodes");
		jsonw_arr_begin(w);
	}
	for (size_t i = 0; i < n; i++) {
		if (w == NULL) {
			rc_domain_table(r, &v[i]);
			continue;
		}
		jsonw_obj_begin(w);
		rc_json_rec(w, &v[i].hdr);
		jsonw_key(w, "rows");
		jsonw_arr_begin(w);
		while (rstate_rec_next(&v[i].rows, &row) == 1) {
			jsonw_obj_begin(w);
			rc_json_rec(w, &row);
			jsonw_obj_end(w);
		}
		jsonw_arr_end(w);
		jsonw_obj_end(w);
	}
	if (w != NULL)
		jsonw_arr_end(w);
	rc_replies_free(v, n);
}
