/* SPDX-License-Identifier: MIT */
/*
 * rstate_ovr.c: per-domain configuration overrides kept in Redis: the
 * hash PREFIX:override:NAME and the set PREFIX:overrides naming them.
 * Reads one hash when PREFIX:ctl says "override NAME", and all of them
 * each time Redis comes up (what the reload does not see is dropped, as
 * with suspensions).  Keeps the text of each domain's overrides and hands
 * it to on_override; it does not parse values or build policies (that
 * is src/control_ovr.c's).  Writes nothing.
 */
#include "rstate_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct rst_ovr_req {
	struct rstate *rs;
	uint64_t gen;
	bool sync; /* part of a reload: counts in ovr_loading */
	char name[DOM_NAME_MAX + 1];
};

static struct rst_ovr *
rst_ovr_find(const struct rstate *rs, const char *name)
{
	for (size_t i = 0; i < rs->novr; i++)
		if (strcmp(rs->ovr[i].name, name) == 0)
			return &rs->ovr[i];
	return NULL;
}

const char *
rstate_override_text(const struct rstate *rs, const char *name)
{
	const struct rst_ovr *o = rst_ovr_find(rs, name);

	return o ? o->text : NULL;
}

/* Only [!-~] bytes, and no '=' in a key: the text stays one line of
 * space-separated key=value words. */
static bool
rst_ovr_word(const struct rds_reply *e, bool key)
{
	if (e->type != RDS_REPLY_STRING || e->len == 0 || e->len > 128)
		return false;
	for (size_t i = 0; i < e->len; i++)
		if (e->str[i] <= ' ' || e->str[i] > '~' ||
		    (key && e->str[i] == '='))
			return false;
	return true;
}

static int
rst_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The text of an HGETALL reply, fields sorted; NULL when empty. */
static char *
rst_ovr_text(const char *name, const struct rds_reply *h)
{
	char **w = xcalloc(h->nelem / 2 + 1, sizeof(*w)), *text;
	size_t n = 0, len = 1;

	for (size_t i = 0; i + 1 < h->nelem; i += 2) {
		if (!rst_ovr_word(&h->elem[i], true) ||
		    !rst_ovr_word(&h->elem[i + 1], false)) {
			log_warn("redis: override of %s: field ignored "
				 "(not printable text)",
				 name);
			continue;
		}
		w[n] = xmalloc(h->elem[i].len + h->elem[i + 1].len + 2);
		sprintf(w[n], "%.*s=%.*s", (int)h->elem[i].len, h->elem[i].str,
			(int)h->elem[i + 1].len, h->elem[i + 1].str);
		len += strlen(w[n]) + 1;
		n++;
	}
	qsort(w, n, sizeof(*w), rst_cmp_str);
	text = n ? xcalloc(1, len) : NULL;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(text, " ");
		strcat(text, w[i]);
		free(w[i]);
	}
	free(w);
	return text;
}

/* Make name's overrides text (NULL: none) and tell the owner. */
static void
rst_ovr_set(struct rstate *rs, const char *name, char *text, uint64_t gen)
{
	struct rst_ovr *o = rst_ovr_find(rs, name);
	domain_record *dr;

	if (o != NULL)
		o->gen = MAX(o->gen, gen);
	if ((o == NULL && text == NULL) ||
	    (o != NULL && text != NULL && strcmp(o->text, text) == 0)) {
		free(text);
		return;
	}
	if (o == NULL) {
		rs->ovr =
		    xreallocarray(rs->ovr, rs->novr + 1, sizeof(*rs->ovr));
		o = &rs->ovr[rs->novr++];
		snprintf(o->name, sizeof(o->name), "%s", name);
		o->gen = gen;
		o->text = NULL;
	}
	free(o->text);
	o->text = text;
	dr = text ? dom_get(rs->doms, name) : dom_find(rs->doms, name);
	if (text == NULL)
		*o = rs->ovr[--rs->novr];
	log_info("domain %s: overrides %s", name, text ? text : "cleared");
	if (dr == NULL)
		return;
	rst_dom_get(rs, dr)->published = false; /* send the field again */
	dom_dirty(dr);
	if (rs->on_override != NULL)
		rs->on_override(dr, text, rs->cb_arg);
}

/* The end of a reload: what it did not see is gone. */
static void
rst_ovr_sweep(struct rstate *rs)
{
	rs->ovr_ready = true;
	if (rs->ovr_failed)
		return; /* a read failed: keep what we have */
	for (size_t i = rs->novr; i-- > 0;)
		if (rs->ovr[i].gen < rs->ovr_gen) {
			char name[DOM_NAME_MAX + 1];

			strcpy(name, rs->ovr[i].name);
			rst_ovr_set(rs, name, NULL, rs->ovr_gen);
		}
}

static void
rst_on_ovr_hash(void *arg, int status, const struct rds_reply *rep)
{
	struct rst_ovr_req *q = arg;
	struct rstate *rs = q->rs;

	if (!rst_reply_begin(rs)) {
		free(q);
		return;
	}
	if (status < 0 || rep->type != RDS_REPLY_ARRAY) {
		log_warn("redis: cannot read the overrides of %s: %s", q->name,
			 status < 0 ? strerror(-status) : "unexpected reply");
		if (q->sync && q->gen == rs->ovr_gen)
			rs->ovr_failed = true;
	} else {
		rst_ovr_set(rs, q->name, rst_ovr_text(q->name, rep), q->gen);
	}
	if (q->sync && q->gen == rs->ovr_gen && --rs->ovr_loading == 0)
		rst_ovr_sweep(rs);
	free(q);
}

int
rst_ovr_fetch(struct rstate *rs, const char *name, bool sync)
{
	struct rst_ovr_req *q;
	char key[RDS_KEY_MAX];
	int rc;

	if (rds_key(key, sizeof(key), rs->prefix, "override", name) < 0)
		return -EINVAL;
	q = xcalloc(1, sizeof(*q));
	q->rs = rs;
	q->gen = rs->ovr_gen;
	q->sync = sync;
	snprintf(q->name, sizeof(q->name), "%s", name);
	rc = rds_cmd(rs->rds, rst_on_ovr_hash, q, 2,
		     (const char *const[]){"HGETALL", key}, NULL);
	if (rc < 0) {
		free(q);
		return rc;
	}
	rs->pending++;
	if (sync)
		rs->ovr_loading++;
	return 0;
}

static void
rst_on_ovr_members(void *arg, int status, const struct rds_reply *rep)
{
	struct rstate *rs = arg;

	if (!rst_reply_begin(rs))
		return;
	if (status < 0 || rep->type != RDS_REPLY_ARRAY) {
		log_warn("redis: cannot read overrides: %s",
			 status < 0 ? strerror(-status) : "unexpected reply");
		return;
	}
	rs->ovr_loading = 0;
	for (size_t i = 0; i < rep->nelem; i++) {
		const struct rds_reply *e = &rep->elem[i];
		char name[DOM_NAME_MAX + 1];

		if (e->type != RDS_REPLY_STRING || e->len > DOM_NAME_MAX)
			continue;
		memcpy(name, e->str, e->len);
		name[e->len] = '\0';
		if (strlen(name) != e->len || rds_name_check(name) < 0)
			continue; /* never a key of ours */
		if (rst_ovr_fetch(rs, name, true) < 0)
			rs->ovr_failed = true;
	}
	if (rs->ovr_loading == 0)
		rst_ovr_sweep(rs);
}

void
rst_ovr_reload(struct rstate *rs)
{
	char key[RDS_KEY_MAX];

	rs->ovr_gen++;
	rs->ovr_failed = false;
	rs->ovr_loading = 0;
	rst_fixed_key(rs, key, "overrides");
	if (rds_cmd(rs->rds, rst_on_ovr_members, rs, 2,
		    (const char *const[]){"SMEMBERS", key}, NULL) == 0)
		rs->pending++;
}

void
rstate_overrides_reapply(struct rstate *rs)
{
	for (size_t i = 0; i < rs->novr; i++) {
		domain_record *dr = dom_get(rs->doms, rs->ovr[i].name);

		if (rs->on_override != NULL)
			rs->on_override(dr, rs->ovr[i].text, rs->cb_arg);
	}
}
