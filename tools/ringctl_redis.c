/* SPDX-License-Identifier: MIT */
/*
 * ringctl_redis.c: ringctl's commands against ringmta's Redis keys
 * (docs/REDIS.md "Keys"), with hiredis's blocking API and a 2 s timeout.
 * Reads only named keys and sets (never KEYS or SCAN); writes only the
 * suspension of a domain (PREFIX:suspended, its hash, PREFIX:ctl) and its
 * overrides (PREFIX:override:NAME, PREFIX:overrides, PREFIX:ctl).  The
 * actions that need an answer from ringmta are in ringctl_ctl.c.
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

#include "control.h"
#include "rstate.h"
#include "redis_int.h"
#include "ringctl_int.h"

#define RC_TIMEOUT_MS 2000

redisReply *
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

int
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

void
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

/* The node fields summed over live nodes (summary's "all" line). */
static const char *const rc_node_sums[] = {
    "connections",
    "active",
    "delayed",
    "deliveries",
    "transients",
    "failures",
    "deliveries_per_min",
    "transients_per_min",
    "failures_per_min",
};

/* One node's line of summary (h NULL: the titles; id "all": sums). */
static void
rc_node_row(const struct rc *r, const char *id, const redisReply *h,
	    const long long *sum, int64_t now)
{
	char up[24], hb[24];

	if (h == NULL && sum == NULL) {
		fprintf(r->c->out,
			"%-20s %8s %9s %5s %7s %7s %9s %8s %7s %7s %7s %7s\n",
			"NODE", "UPTIME", "HEARTBEAT", "CONN", "ACTIVE",
			"DELAYED", "DELIVERED", "DEFERRED", "BOUNCED",
			"DLV/MIN", "DEF/MIN", "BNC/MIN");
		return;
	}
	if (h != NULL) {
		snprintf(up, sizeof(up), "%ss",
			 rc_or(rc_field(h, "uptime"), "0"));
		snprintf(hb, sizeof(hb), "%.1fs",
			 (double)(now -
				  strtoll(rc_field(h, "heartbeat"), NULL, 10)) /
			     1000.0);
	} else {
		snprintf(up, sizeof(up), "-");
		snprintf(hb, sizeof(hb), "-");
	}
	fprintf(r->c->out, "%-20s %8s %9s", id, up, hb);
	for (size_t i = 0; i < nitems(rc_node_sums); i++) {
		static const int width[] = {5, 7, 7, 9, 8, 7, 7, 7, 7};

		if (h != NULL)
			fprintf(r->c->out, " %*s", width[i],
				rc_or(rc_field(h, rc_node_sums[i]), "0"));
		else
			fprintf(r->c->out, " %*lld", width[i], sum[i]);
	}
	fputc('\n', r->c->out);
}

/*
 * summary: per live node (PREFIX:node:ID) its connections, queue sizes,
 * delivered/deferred/bounced counts since it started and their rates per
 * minute, then the sums, the cluster's totals (PREFIX:stats) and the
 * domains known and suspended.
 */
static int
rc_summary(struct rc *r)
{
	redisReply *nodes = rc_members(r, "nodes"), *st, *nd, *sus, *dom;
	long long sum[nitems(rc_node_sums)] = {0};
	struct jsonw w;
	struct timespec ts;
	int64_t now;
	size_t live = 0;

	if (nodes == NULL)
		return RINGCTL_EX_UNAVAILABLE;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	st = rc_hgetall(r, "stats", NULL);
	dom = rc_members(r, "domains");
	sus = rc_members(r, "suspended");
	jsonw_init(&w);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "nodes");
	jsonw_arr_begin(&w);
	if (!r->c->json)
		rc_node_row(r, NULL, NULL, NULL, 0);
	for (size_t i = 0; i < nodes->elements; i++) {
		const char *id = nodes->element[i]->str;

		nd = rc_hgetall(r, "node", id);
		if (nd == NULL || nd->elements == 0) {
			freeReplyObject(nd); /* expired: the node is gone */
			continue;
		}
		live++;
		for (size_t k = 0; k < nitems(rc_node_sums); k++)
			sum[k] +=
			    strtoll(rc_field(nd, rc_node_sums[k]), NULL, 10);
		jsonw_obj_begin(&w);
		jsonw_kv_str(&w, "id", id);
		rc_json_hash(&w, nd);
		jsonw_obj_end(&w);
		if (!r->c->json)
			rc_node_row(r, id, nd, NULL, now);
		freeReplyObject(nd);
	}
	jsonw_arr_end(&w);
	jsonw_key(&w, "all");
	jsonw_obj_begin(&w);
	for (size_t k = 0; k < nitems(rc_node_sums); k++)
		jsonw_kv_int(&w, rc_node_sums[k], sum[k]);
	jsonw_obj_end(&w);
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
		if (live > 1)
			rc_node_row(r, "all", NULL, sum, now);
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

/* A column of a listing: a hash field, right-aligned (width > 0) or
 * left-aligned text cut to -width (width < 0). */
struct rc_col {
	const char *title, *field;
	int width;
	bool yesno; /* "1": yes, else no */
};

/* One line of a listing: the titles (h NULL) or the fields of h. */
static void
rc_row(const struct rc *r, const struct rc_col *cols, size_t ncols,
       const char *name, const redisReply *h)
{
	fprintf(r->c->out, "%-*s", (int)cols[0].width,
		h ? name : cols[0].title);
	for (size_t i = 1; i < ncols; i++) {
		const char *v = h ? rc_field(h, cols[i].field) : cols[i].title;

		if (h && cols[i].yesno)
			v = strcmp(v, "1") == 0 ? "yes" : "no";
		else if (h && cols[i].width > 0)
			v = rc_or(v, "0");
		if (cols[i].width > 0)
			fprintf(r->c->out, " %*s", cols[i].width, v);
		else
			fprintf(r->c->out, " %.*s", -cols[i].width, v);
	}
	fputc('\n', r->c->out);
}

/* One row of a listing: a member and its hash. */
struct rc_item {
	const char *name;
	redisReply *h;
	long long key; /* the sort key's value (numeric sorts) */
};

static int
rc_item_cmp(const void *a, const void *b)
{
	const struct rc_item *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? 1 : -1; /* largest first */
	return strcmp(x->name, y->name);
}

/*
 * The sort key of a listing: "name" (or none), "queue" (active + delayed,
 * when the listing has both) or one of its numeric columns.  Returns 0 and
 * sets *field (NULL: by name), or -EINVAL.
 */
static int
rc_sort_field(const char *sort, const struct rc_col *cols, size_t ncols,
	      const char **field)
{
	bool queue = false;

	*field = NULL;
	for (size_t i = 1; i < ncols; i++)
		queue |= strcmp(cols[i].field, "delayed") == 0;
	if (sort == NULL || strcmp(sort, "name") == 0)
		return 0;
	if (queue && strcmp(sort, "queue") == 0) {
		*field = "queue";
		return 0;
	}
	for (size_t i = 1; i < ncols; i++)
		if (cols[i].width > 0 && !cols[i].yesno &&
		    strcmp(sort, cols[i].field) == 0) {
			*field = cols[i].field;
			return 0;
		}
	fprintf(stderr, "ringctl: cannot sort by '%s'; one of: name%s", sort,
		queue ? " queue" : "");
	for (size_t i = 1; i < ncols; i++)
		if (cols[i].width > 0 && !cols[i].yesno)
			fprintf(stderr, " %s", cols[i].field);
	fputc('\n', stderr);
	return -EINVAL;
}

static long long
rc_item_key(const redisReply *h, const char *field)
{
	if (field == NULL)
		return 0;
	if (strcmp(field, "queue") == 0)
		return strtoll(rc_field(h, "active"), NULL, 10) +
		       strtoll(rc_field(h, "delayed"), NULL, 10);
	return strtoll(rc_field(h, field), NULL, 10);
}

/*
 * Every member of PREFIX:set and its hash PREFIX:kind:NAME: a table
 * (cols[0] is the name) or a JSON array of objects, by name or, with
 * --sort FIELD, largest first (ties by name).
 */
static int
rc_list(struct rc *r, const char *set, const char *kind,
	const struct rc_col *cols, size_t ncols)
{
	redisReply *names;
	struct rc_item *it;
	const char *field;
	size_t n = 0;
	struct jsonw w;

	if (rc_sort_field(r->c->sort, cols, ncols, &field) < 0)
		return RINGCTL_EX_USAGE;
	names = rc_members(r, set);
	if (names == NULL)
		return RINGCTL_EX_UNAVAILABLE;
	it = xcalloc(names->elements + 1, sizeof(*it));
	for (size_t i = 0; i < names->elements; i++) {
		it[n].name = names->element[i]->str;
		it[n].h = rc_hgetall(r, kind, it[n].name);
		if (it[n].h == NULL)
			continue;
		it[n].key = rc_item_key(it[n].h, field);
		n++;
	}
	qsort(it, n, sizeof(*it), rc_item_cmp);
	jsonw_init(&w);
	jsonw_arr_begin(&w);
	if (!r->c->json)
		rc_row(r, cols, ncols, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		jsonw_obj_begin(&w);
		jsonw_kv_str(&w, "name", it[i].name);
		rc_json_hash(&w, it[i].h);
		jsonw_obj_end(&w);
		if (!r->c->json)
			rc_row(r, cols, ncols, it[i].name, it[i].h);
		freeReplyObject(it[i].h);
	}
	jsonw_arr_end(&w);
	if (r->c->json)
		rc_json_out(r, &w);
	else
		jsonw_fini(&w);
	free(it);
	freeReplyObject(names);
	return RINGCTL_EX_OK;
}

static int
rc_domains(struct rc *r)
{
	static const struct rc_col cols[] = {
	    {"DOMAIN", NULL, 32, false},
	    {"ACTIVE", "active", 7, false},
	    {"DELAYED", "delayed", 7, false},
	    {"CONN", "connections", 5, false},
	    {"DELIVERED", "deliveries", 9, false},
	    {"TRANSIENT", "transients", 9, false},
	    {"FAILED", "failures", 7, false},
	    {"SUSP", "suspended", 4, true},
	    {"LAST", "last_text", -40, false},
	};

	return rc_list(r, "domains", "domain", cols, nitems(cols));
}

int
rc_domain_name(const char *in, char *out, size_t len)
{
	int rc = rstate_domain_name(in, out, len);

	if (rc == -ENAMETOOLONG || (rc < 0 && in[0] == '\0'))
		fprintf(stderr, "ringctl: '%s' is not a domain name\n", in);
	else if (rc < 0)
		fprintf(stderr,
			"ringctl: '%s' is not a domain name (A-labels "
			"only: letters, digits, '.', '-')\n",
			in);
	return rc < 0 ? -EINVAL : 0;
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
	if (r->c->json) {
		rc_domain_nodes(r, name, &w);
		jsonw_obj_end(&w);
		rc_json_out(r, &w);
	} else {
		fprintf(r->c->out, "%-22s %s\n", "domain", name);
		for (size_t i = 0; i + 1 < h->elements; i += 2)
			fprintf(r->c->out, "%-22s %s\n", h->element[i]->str,
				h->element[i + 1]->str);
		rc_domain_nodes(r, name, NULL);
		jsonw_fini(&w);
	}
	freeReplyObject(h);
	return RINGCTL_EX_OK;
}

static int
rc_bindings(struct rc *r)
{
	static const struct rc_col cols[] = {
	    {"BINDING", NULL, 20, false},
	    {"OPEN", "open", 5, false},
	    {"CONNECTIONS", "connections", 11, false},
	    {"DELIVERED", "deliveries", 10, false},
	    {"FAILED", "failures", 8, false},
	    {"SUSP", "suspended", 4, true},
	    {"REASON", "reason", -200, false},
	};

	return rc_list(r, "bindings", "binding", cols, nitems(cols));
}

/* PUBLISH "OP NAME" on PREFIX:ctl: the ringmta notified, or -1. */
static long long
rc_announce(struct rc *r, enum rstate_ctl op, const char *name)
{
	struct rstate_ctl_msg m = {.op = op};
	size_t n = strlen(name);

	if (n >= sizeof(m.arg))
		return -1; /* callers pass validated names: cannot happen */
	memcpy(m.arg, name, n + 1);
	return rc_publish(r, &m);
}

/*
 * Persist first (the set ringmta reads at start, the hash ringctl shows),
 * then announce on PREFIX:ctl so running nodes act within a loop turn.
 */
static int
rc_suspend(struct rc *r, const char *arg, bool on)
{
	char name[RDS_NAME_MAX + 1], skey[RDS_KEY_MAX], dkey[RDS_KEY_MAX];
	redisReply *rep;
	long long notified;

	if (rc_domain_name(arg, name, sizeof(name)) < 0)
		return RINGCTL_EX_FAIL;
	rc_key(r, skey, "suspended", NULL);
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
	notified =
	    rc_announce(r, on ? RSTATE_CTL_SUSPEND : RSTATE_CTL_RESUME, name);
	if (notified < 0)
		return RINGCTL_EX_UNAVAILABLE;
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

/*
 * set DOMAIN KEY VALUE / unset DOMAIN KEY: the value is checked with the
 * parser ringmta applies (control_ovr.c), then HSET/HDEL
 * PREFIX:override:NAME, SADD/SREM PREFIX:overrides, PUBLISH "override
 * NAME" so running nodes reload it.
 */
static int
rc_override(struct rc *r, char *const *args, bool set)
{
	char name[RDS_NAME_MAX + 1], okey[RDS_KEY_MAX], skey[RDS_KEY_MAX],
	    why[160];
	struct domain_policy scratch = {0};
	redisReply *rep;
	long long notified, left = 1;
	int rc;

	if (rc_domain_name(args[0], name, sizeof(name)) < 0)
		return RINGCTL_EX_FAIL;
	rc = ctl_ovr_parse(&scratch, args[1], set ? args[2] : "", why,
			   sizeof(why));
	if (rc == -ENOENT || (set && rc < 0)) {
		fprintf(stderr, "ringctl: %s %s: %s\n", args[1],
			set ? args[2] : "", why);
		fprintf(stderr, "ringctl: overridable keys:");
		for (int i = 0; i < CTL_OVR__COUNT; i++)
			fprintf(stderr, " %s", ctl_ovr_key_str(i));
		fputc('\n', stderr);
		return RINGCTL_EX_FAIL;
	}
	rc_key(r, skey, "overrides", NULL);
	if (rc_key(r, okey, "override", name) < 0)
		return RINGCTL_EX_FAIL;
	rep =
	    set ? rc_cmd(r, 4,
			 (const char *const[]){"HSET", okey, args[1], args[2]})
		: rc_cmd(r, 3, (const char *const[]){"HDEL", okey, args[1]});
	freeReplyObject(rep);
	if (rep != NULL && !set) {
		rep = rc_cmd(r, 2, (const char *const[]){"HLEN", okey});
		left = rep ? rep->integer : 1;
		freeReplyObject(rep);
	}
	if (rep != NULL)
		rep = rc_cmd(
		    r, 3,
		    (const char *const[]){left ? "SADD" : "SREM", skey, name});
	if (rep == NULL)
		return RINGCTL_EX_UNAVAILABLE;
	freeReplyObject(rep);
	notified = rc_announce(r, RSTATE_CTL_OVERRIDE, name);
	if (notified < 0)
		return RINGCTL_EX_UNAVAILABLE;
	if (r->c->json) {
		struct jsonw w;

		jsonw_init(&w);
		jsonw_obj_begin(&w);
		jsonw_kv_str(&w, "domain", name);
		jsonw_kv_str(&w, "key", args[1]);
		jsonw_key(&w, "value");
		if (set)
			jsonw_str(&w, args[2]);
		else
			jsonw_null(&w);
		jsonw_kv_int(&w, "notified", notified);
		jsonw_obj_end(&w);
		rc_json_out(r, &w);
	} else {
		fprintf(r->c->out, "%s: %s %s%s (%lld ringmta notified)\n",
			name, args[1], set ? "= " : "unset", set ? args[2] : "",
			notified);
	}
	return RINGCTL_EX_OK;
}

int
ringctl_run(const struct ringctl *c, const char *name, char *const *args,
	    int nargs)
{
	struct rc r = {.c = c};
	int rc = rc_connect(&r);

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
	else if (strcmp(name, "set") == 0 || strcmp(name, "unset") == 0)
		rc = rc_override(&r, args, name[0] == 's');
	else
		rc = rc_request(&r, name, nargs ? args[0] : NULL);
	redisFree(r.ctx);
	return rc;
}
