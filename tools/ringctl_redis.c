/* SPDX-License-Identifier: MIT */
/*
 * ringctl_redis.c: ringctl's commands against ringmta's Redis keys
 * (docs/REDIS.md "Keys"), with hiredis's blocking API and a 2 s timeout.
 * Reads only named keys and sets (never KEYS or SCAN); writes only the
 * suspension of a domain (PREFIX:suspended, its hash, PREFIX:ctl).
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "jsonw.h"
#include "redis.h"
#include "redis_int.h"
#include "ringctl.h"

#define RC_TIMEOUT_MS 2000

struct rc {
	const struct ringctl *c;
	redisContext *ctx;
};

static redisReply *
rc_cmd(struct rc *r, int argc, const char *const *argv)
{
	/* hiredis 0.14 takes const char ** (the strings are only read). */
	redisReply *rep = redisCommandArgv(
	    r->ctx, argc, (const char **)(uintptr_t)argv, NULL);

	if (rep == NULL)
		fprintf(stderr, "ringctl: redis %s: %s\n", r->c->target,
			r->ctx->errstr[0] ? r->ctx->errstr : "no reply");
	else if (rep->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "ringctl: redis %s: %s: %s\n", r->c->target,
			argv[0], rep->str);
		freeReplyObject(rep);
		rep = NULL;
	}
	return rep;
}

/* PREFIX:kind[:name]; name NULL for the fixed keys. */
static int
rc_key(const struct rc *r, char *buf, const char *kind, const char *name)
{
	const char *p = r->c->prefix;

	if (name != NULL)
		return rds_key(buf, RDS_KEY_MAX, p, kind, name);
	snprintf(buf, RDS_KEY_MAX, "%s%s%s", p, p[0] ? ":" : "", kind);
	return 0;
}

static int
rc_connect(struct rc *r)
{
	struct timeval tv = {RC_TIMEOUT_MS / 1000, 0};
	char *host = NULL;
	int port;

	if (rds_target_parse(r->c->target, &host, &port) < 0) {
		fprintf(stderr, "ringctl: bad redis target '%s'\n",
			r->c->target);
		return RINGCTL_EX_USAGE;
	}
	r->ctx = port == 0 ? redisConnectUnixWithTimeout(host, tv)
			   : redisConnectWithTimeout(host, port, tv);
	free(host);
	if (r->ctx == NULL || r->ctx->err) {
		fprintf(stderr,
			"ringctl: cannot reach redis at %s: %s\n"
			"ringctl: is ringmta running (it starts its own "
			"redis-server), or is [redis] url right?\n",
			r->c->target,
			r->ctx ? r->ctx->errstr : "out of memory");
		return RINGCTL_EX_UNAVAILABLE;
	}
	redisSetTimeout(r->ctx, tv);
	return 0;
}

/* A set's members, sorted; the reply is the caller's. */
static int
rc_cmpstr(const void *a, const void *b)
{
	const redisReply *x = *(redisReply *const *)a;
	const redisReply *y = *(redisReply *const *)b;

	return strcmp(x->str, y->str);
}

static redisReply *
rc_members(struct rc *r, const char *kind)
{
	char key[RDS_KEY_MAX];
	redisReply *rep;

	rc_key(r, key, kind, NULL);
	rep = rc_cmd(r, 2, (const char *const[]){"SMEMBERS", key});
	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements)
		qsort(rep->element, rep->elements, sizeof(*rep->element),
		      rc_cmpstr);
	return rep;
}

/* The value of field in an HGETALL reply, or "" when absent. */
static const char *
rc_field(const redisReply *h, const char *field)
{
	for (size_t i = 0; h && i + 1 < h->elements; i += 2)
		if (strcmp(h->element[i]->str, field) == 0)
			return h->element[i + 1]->str;
	return "";
}

static redisReply *
rc_hgetall(struct rc *r, const char *kind, const char *name)
{
	char key[RDS_KEY_MAX];

	if (rc_key(r, key, kind, name) < 0)
		return NULL;
	return rc_cmd(r, 2, (const char *const[]){"HGETALL", key});
}

static bool
rc_is_int(const char *s)
{
	size_t i = s[0] == '-';

	if (s[i] == '\0' || strlen(s) > 18)
		return false;
	for (; s[i]; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* The hash h as a JSON object's members (numbers as numbers). */
static void
rc_json_hash(struct jsonw *w, const redisReply *h)
{
	for (size_t i = 0; h && i + 1 < h->elements; i += 2) {
		const char *k = h->element[i]->str, *v = h->element[i + 1]->str;

		if (rc_is_int(v) && strncmp(k, "last_", 5) != 0)
			jsonw_kv_int(w, k, strtoll(v, NULL, 10));
		else
			jsonw_kv_str(w, k, v);
	}
}

static void
rc_json_out(const struct rc *r, struct jsonw *w)
{
	fputs(w->buf ? w->buf : "", r->c->out);
	if (w->len == 0 || w->buf[w->len - 1] != '\n')
		fputc('\n', r->c->out);
	jsonw_fini(w);
}

static const char *
rc_or(const char *s, const char *dflt)
{
	return s[0] ? s : dflt;
}

static int
rc_summary(struct rc *r)
{
	redisReply *nodes = rc_members(r, "nodes"), *st, *nd, *sus, *dom;
	struct jsonw w;
	int64_t now = (int64_t)time(NULL) * 1000;

	if (nodes == NULL)
		return RINGCTL_EX_UNAVAILABLE;
	st = rc_hgetall(r, "stats", NULL);
	dom = rc_members(r, "domains");
	sus = rc_members(r, "suspended");
	jsonw_init(&w);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "nodes");
	jsonw_arr_begin(&w);
	if (!r->c->json)
		fprintf(r->c->out, "%-24s %-8s %10s %10s %8s %8s\n", "NODE",
			"VERSION", "UPTIME", "HEARTBEAT", "DOMAINS", "QUEUED");
	for (size_t i = 0; i < nodes->elements; i++) {
		const char *id = nodes->element[i]->str;

		nd = rc_hgetall(r, "node", id);
		if (nd == NULL || nd->elements == 0) {
			freeReplyObject(nd); /* expired: the node is gone */
			continue;
		}
		jsonw_obj_begin(&w);
		jsonw_kv_str(&w, "id", id);
		rc_json_hash(&w, nd);
		jsonw_obj_end(&w);
		if (!r->c->json)
			fprintf(
			    r->c->out, "%-24s %-8s %9ss %8.1fs ago %5s %8s\n",
			    id, rc_field(nd, "version"),
			    rc_or(rc_field(nd, "uptime"), "0"),
			    (double)(now - strtoll(rc_field(nd, "heartbeat"),
						   NULL, 10)) /
				1000.0,
			    rc_or(rc_field(nd, "domains"), "0"),
			    rc_or(rc_field(nd, "queued"), "0"));
		freeReplyObject(nd);
	}
	jsonw_arr_end(&w);
	jsonw_key(&w, "totals");
	jsonw_obj_begin(&w);
	rc_json_hash(&w, st);
	jsonw_obj_end(&w);
	jsonw_kv_uint(&w, "domains", dom ? dom->elements : 0);
	jsonw_kv_uint(&w, "suspended", sus ? sus->elements : 0);
	jsonw_obj_end(&w);
	if (r->c->json)
		rc_json_out(r, &w);
	else {
		fprintf(r->c->out,
			"\ntotals: received %s, attempts %s, deliveries %s, "
			"transients %s, failures %s\n"
			"domains: %zu known, %zu suspended\n",
			rc_or(rc_field(st, "received"), "0"),
			rc_or(rc_field(st, "attempts"), "0"),
			rc_or(rc_field(st, "deliveries"), "0"),
			rc_or(rc_field(st, "transients"), "0"),
			rc_or(rc_field(st, "failures"), "0"),
			dom ? dom->elements : 0, sus ? sus->elements : 0);
		jsonw_fini(&w);
	}
	freeReplyObject(nodes);
	freeReplyObject(st);
	freeReplyObject(dom);
	freeReplyObject(sus);
	return RINGCTL_EX_OK;
}

static int
rc_domains(struct rc *r)
{
	redisReply *doms = rc_members(r, "domains"), *h;
	struct jsonw w;

	if (doms == NULL)
		return RINGCTL_EX_UNAVAILABLE;
	jsonw_init(&w);
	jsonw_arr_begin(&w);
	if (!r->c->json)
		fprintf(r->c->out, "%-32s %7s %7s %5s %9s %9s %7s %4s %s\n",
			"DOMAIN", "ACTIVE", "DELAYED", "CONN", "DELIVERED",
			"TRANSIENT", "FAILED", "SUSP", "LAST");
	for (size_t i = 0; i < doms->elements; i++) {
		const char *name = doms->element[i]->str;

		h = rc_hgetall(r, "domain", name);
		if (h == NULL)
			continue;
		jsonw_obj_begin(&w);
		jsonw_kv_str(&w, "name", name);
		rc_json_hash(&w, h);
		jsonw_obj_end(&w);
		if (!r->c->json)
			fprintf(r->c->out,
				"%-32s %7s %7s %5s %9s %9s %7s %4s %.40s\n",
				name, rc_or(rc_field(h, "active"), "0"),
				rc_or(rc_field(h, "delayed"), "0"),
				rc_or(rc_field(h, "connections"), "0"),
				rc_or(rc_field(h, "deliveries"), "0"),
				rc_or(rc_field(h, "transients"), "0"),
				rc_or(rc_field(h, "failures"), "0"),
				strcmp(rc_field(h, "suspended"), "1") == 0
				    ? "yes"
				    : "no",
				rc_field(h, "last_text"));
		freeReplyObject(h);
	}
	jsonw_arr_end(&w);
	if (r->c->json)
		rc_json_out(r, &w);
	else
		jsonw_fini(&w);
	freeReplyObject(doms);
	return RINGCTL_EX_OK;
}

/* Lower case, no trailing dot, a valid key part; else a clear error. */
static int
rc_domain_name(const char *in, char *out, size_t len)
{
	size_t n = strlen(in);

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n >= len) {
		fprintf(stderr, "ringctl: '%s' is not a domain name\n", in);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z')
			     ? (char)(in[i] - 'A' + 'a')
			     : in[i];
	out[n] = '\0';
	if (rds_name_check(out) < 0 || strchr(out, '.') == NULL) {
		fprintf(stderr,
			"ringctl: '%s' is not a domain name (A-labels "
			"only: letters, digits, '.', '-')\n",
			in);
		return -EINVAL;
	}
	return 0;
}

static bool
rc_known(struct rc *r, const char *name, int *err)
{
	char key[RDS_KEY_MAX];
	redisReply *rep;
	bool known;

	rc_key(r, key, "domains", NULL);
	rep = rc_cmd(r, 3, (const char *const[]){"SISMEMBER", key, name});
	*err = rep == NULL ? RINGCTL_EX_UNAVAILABLE : 0;
	known = rep != NULL && rep->integer == 1;
	freeReplyObject(rep);
	return known;
}

static int
rc_domain(struct rc *r, const char *arg)
{
	char name[RDS_NAME_MAX + 1];
	redisReply *h;
	struct jsonw w;
	int err;

	if (rc_domain_name(arg, name, sizeof(name)) < 0)
		return RINGCTL_EX_FAIL;
	if (!rc_known(r, name, &err)) {
		if (err == 0)
			fprintf(stderr, "ringctl: unknown domain %s\n", name);
		return err ? err : RINGCTL_EX_FAIL;
	}
	h = rc_hgetall(r, "domain", name);
	if (h == NULL)
		return RINGCTL_EX_UNAVAILABLE;
	jsonw_init(&w);
	jsonw_obj_begin(&w);
	jsonw_kv_str(&w, "name", name);
	rc_json_hash(&w, h);
	jsonw_obj_end(&w);
	if (r->c->json)
		rc_json_out(r, &w);
	else {
		fprintf(r->c->out, "%-22s %s\n", "domain", name);
		for (size_t i = 0; i + 1 < h->elements; i += 2)
			fprintf(r->c->out, "%-22s %s\n", h->element[i]->str,
				h->element[i + 1]->str);
		jsonw_fini(&w);
	}
	freeReplyObject(h);
	return RINGCTL_EX_OK;
}

static int
rc_bindings(struct rc *r)
{
	redisReply *bs = rc_members(r, "bindings"), *h;
	struct jsonw w;

	if (bs == NULL)
		return RINGCTL_EX_UNAVAILABLE;
	jsonw_init(&w);
	jsonw_arr_begin(&w);
	if (!r->c->json)
		fprintf(r->c->out, "%-20s %5s %11s %10s %8s %4s %s\n",
			"BINDING", "OPEN", "CONNECTIONS", "DELIVERED", "FAILED",
			"SUSP", "REASON");
	for (size_t i = 0; i < bs->elements; i++) {
		const char *name = bs->element[i]->str;

		h = rc_hgetall(r, "binding", name);
		if (h == NULL)
			continue;
		jsonw_obj_begin(&w);
		jsonw_kv_str(&w, "name", name);
		rc_json_hash(&w, h);
		jsonw_obj_end(&w);
		if (!r->c->json)
			fprintf(r->c->out, "%-20s %5s %11s %10s %8s %4s %s\n",
				name, rc_or(rc_field(h, "open"), "0"),
				rc_or(rc_field(h, "connections"), "0"),
				rc_or(rc_field(h, "deliveries"), "0"),
				rc_or(rc_field(h, "failures"), "0"),
				strcmp(rc_field(h, "suspended"), "1") == 0
				    ? "yes"
				    : "no",
				rc_field(h, "reason"));
		freeReplyObject(h);
	}
	jsonw_arr_end(&w);
	if (r->c->json)
		rc_json_out(r, &w);
	else
		jsonw_fini(&w);
	freeReplyObject(bs);
	return RINGCTL_EX_OK;
}

/*
 * Persist first (the set ringmta reads at start, the hash ringctl shows),
 * then announce on PREFIX:ctl so running nodes act within a loop turn.
 */
static int
rc_suspend(struct rc *r, const char *arg, bool on)
{
	char name[RDS_NAME_MAX + 1], skey[RDS_KEY_MAX], dkey[RDS_KEY_MAX],
	    ckey[RDS_KEY_MAX], msg[RDS_NAME_MAX + 16];
	redisReply *rep;
	long long notified;

	if (rc_domain_name(arg, name, sizeof(name)) < 0)
		return RINGCTL_EX_FAIL;
	rc_key(r, skey, "suspended", NULL);
	rc_key(r, ckey, "ctl", NULL);
	if (rc_key(r, dkey, "domain", name) < 0)
		return RINGCTL_EX_FAIL;
	rep = rc_cmd(r, 3,
		     (const char *const[]){on ? "SADD" : "SREM", skey, name});
	if (rep == NULL)
		return RINGCTL_EX_UNAVAILABLE;
	freeReplyObject(rep);
	rep = rc_cmd(
	    r, 4,
	    (const char *const[]){"HSET", dkey, "suspended", on ? "1" : "0"});
	if (rep == NULL)
		return RINGCTL_EX_UNAVAILABLE;
	freeReplyObject(rep);
	snprintf(msg, sizeof(msg), "%s %s", on ? "suspend" : "resume", name);
	rep = rc_cmd(r, 3, (const char *const[]){"PUBLISH", ckey, msg});
	if (rep == NULL)
		return RINGCTL_EX_UNAVAILABLE;
	notified = rep->integer;
	freeReplyObject(rep);
	if (r->c->json)
		fprintf(r->c->out,
			"{\"domain\":\"%s\",\"suspended\":%s,\"notified\":%lld}"
			"\n",
			name, on ? "true" : "false", notified);
	else
		fprintf(r->c->out, "%s %s (%lld ringmta notified)\n", name,
			on ? "suspended" : "resumed", notified);
	return RINGCTL_EX_OK;
}

int
ringctl_run(const struct ringctl *c, const char *name, char *const *args,
	    int nargs)
{
	struct rc r = {.c = c};
	int rc = rc_connect(&r);

	(void)nargs;
	if (rc != 0) {
		if (r.ctx)
			redisFree(r.ctx);
		return rc;
	}
	if (strcmp(name, "summary") == 0)
		rc = rc_summary(&r);
	else if (strcmp(name, "domains") == 0)
		rc = rc_domains(&r);
	else if (strcmp(name, "domain") == 0)
		rc = rc_domain(&r, args[0]);
	else if (strcmp(name, "bindings") == 0)
		rc = rc_bindings(&r);
	else if (strcmp(name, "suspend") == 0)
		rc = rc_suspend(&r, args[0], true);
	else if (strcmp(name, "resume") == 0)
		rc = rc_suspend(&r, args[0], false);
	else {
		fprintf(stderr, "ringctl: '%s' is not implemented yet\n", name);
		rc = RINGCTL_EX_UNAVAILABLE;
	}
	redisFree(r.ctx);
	return rc;
}
