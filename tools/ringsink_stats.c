/* SPDX-License-Identifier: MIT */
/*
 * ringsink_stats.c: ringsink's counters, keyed tables and JSON summary.
 * The tables are string-keyed open-addressing hashes whose entries are
 * never freed before sstats_fini(), so sessions may keep entry pointers.
 * Allocation happens only for a key seen for the first time (a new client
 * address, listen address or HELO name), never per message.
 */
#include "ringsink_stats.h"

#include "ringsink_hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sstats_tls_proto_names[] = {
    [SSTATS_TLS_PROTO_12] = "TLSv1.2",
    [SSTATS_TLS_PROTO_13] = "TLSv1.3",
    [SSTATS_TLS_PROTO_OTHER] = "other",
};
_Static_assert(nitems(sstats_tls_proto_names) == SSTATS_TLS_PROTO__COUNT,
	       "tls protocols");

const char *
sstats_tls_proto_str(enum sstats_tls_proto p)
{
	return (unsigned)p < SSTATS_TLS_PROTO__COUNT ? sstats_tls_proto_names[p]
						     : "?";
}

void
sstats_tls(struct sstats *st, const char *proto)
{
	unsigned p = SSTATS_TLS_PROTO_OTHER;

	for (unsigned i = 0; i < SSTATS_TLS_PROTO_OTHER; i++)
		if (proto != NULL &&
		    strcmp(proto, sstats_tls_proto_names[i]) == 0)
			p = i;
	st->tls_sessions++;
	st->tls_proto[p]++;
}

void
sstats_init(struct sstats *st)
{
	memset(st, 0, sizeof(*st));
	st->listen.other.key = "(other)";
	st->client.other.key = "(other)";
	st->helo.other.key = "(other)";
}

static void
sstats_table_fini(struct sstats_table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		if (t->v[i] == NULL)
			continue;
		free(t->v[i]->key);
		free(t->v[i]);
	}
	free(t->v);
}

void
sstats_fini(struct sstats *st)
{
	sstats_table_fini(&st->listen);
	sstats_table_fini(&st->client);
	sstats_table_fini(&st->helo);
}

static void
sstats_grow(struct sstats_table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct sstats_ent **n = xcalloc(ncap, sizeof(*n));

	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (t->v[i] == NULL)
			continue;
		for (j = shash_str(0, t->v[i]->key) & (ncap - 1); n[j];
		     j = (j + 1) & (ncap - 1))
			;
		n[j] = t->v[i];
	}
	free(t->v);
	t->v = n;
	t->cap = ncap;
}

struct sstats_ent *
sstats_get(struct sstats_table *t, const char *key)
{
	size_t j;

	if (t->n * 2 >= t->cap)
		sstats_grow(t);
	for (j = shash_str(0, key) & (t->cap - 1); t->v[j];
	     j = (j + 1) & (t->cap - 1))
		if (strcmp(t->v[j]->key, key) == 0)
			return t->v[j];
	if (t->n >= SSTATS_KEYS_MAX)
		return &t->other;
	t->v[j] = xcalloc(1, sizeof(*t->v[j]));
	t->v[j]->key = xstrdup(key);
	t->n++;
	return t->v[j];
}

void
sstats_open(struct sstats_ent *e)
{
	if (e == NULL)
		return;
	e->c.connections++;
	e->c.current++;
	e->c.max_concurrent = MAX(e->c.max_concurrent, e->c.current);
}

void
sstats_close(struct sstats_ent *e)
{
	if (e != NULL && e->c.current > 0)
		e->c.current--;
}

void
sstats_message(struct sstats_ent *e, unsigned rcpts, uint64_t bytes)
{
	if (e == NULL)
		return;
	e->c.messages++;
	e->c.recipients += rcpts;
	e->c.bytes += bytes;
}

void
sstats_anomalies(struct sstats *st, const struct sdata_stats *ds)
{
	uint64_t any = 0;

	for (unsigned i = 0; i < SDATA_AN__COUNT; i++) {
		st->an[i] += ds->an[i];
		any += ds->an[i];
	}
	st->smuggling += ds->dot_lines;
	if (any)
		st->messages_anomalous++;
}

static void
sstats_cnt_json(const struct sstats_cnt *c, struct jsonw *w)
{
	jsonw_kv_uint(w, "connections", c->connections);
	jsonw_kv_uint(w, "messages", c->messages);
	jsonw_kv_uint(w, "recipients", c->recipients);
	jsonw_kv_uint(w, "bytes", c->bytes);
	jsonw_kv_uint(w, "max_concurrent", c->max_concurrent);
	jsonw_kv_uint(w, "current", c->current);
}

static int
sstats_ent_cmp(const void *a, const void *b)
{
	const struct sstats_ent *x = *(const struct sstats_ent *const *)a;
	const struct sstats_ent *y = *(const struct sstats_ent *const *)b;

	return strcmp(x->key, y->key);
}

/* A keyed table as an object, keys sorted for stable output. */
static void
sstats_table_json(const struct sstats_table *t, const char *name,
		  struct jsonw *w)
{
	struct sstats_ent **v = xcalloc(t->n + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i])
			v[n++] = t->v[i];
	qsort(v, n, sizeof(*v), sstats_ent_cmp);
	if (t->other.c.connections || t->other.c.messages)
		v[n++] = (struct sstats_ent *)&t->other;
	jsonw_key(w, name);
	jsonw_obj_begin(w);
	for (size_t i = 0; i < n; i++) {
		jsonw_key(w, v[i]->key);
		jsonw_obj_begin(w);
		sstats_cnt_json(&v[i]->c, w);
		jsonw_obj_end(w);
	}
	jsonw_obj_end(w);
	free(v);
}

static void
sstats_replies_json(const struct sstats *st,
		    const struct smtps_server_stats *ss, struct jsonw *w)
{
	char code[8];

	jsonw_key(w, "replies");
	jsonw_obj_begin(w);
	for (unsigned c = 0; c < nitems(st->replies); c++) {
		uint64_t n = st->replies[c];

		if (c == 421)
			n += ss->rejected_busy;
		if (n == 0)
			continue;
		snprintf(code, sizeof(code), "%u", c);
		jsonw_kv_uint(w, code, n);
	}
	jsonw_obj_end(w);
}

void
sstats_json(const struct sstats *st, const struct smtps_server_stats *ss,
	    int64_t uptime_ms, struct jsonw *w)
{
	jsonw_obj_begin(w);
	sstats_cnt_json(&st->all.c, w);
	jsonw_kv_uint(w, "rejected_connections", ss->rejected_busy);
	jsonw_kv_uint(w, "mail", st->mail);
	jsonw_kv_uint(w, "rcpt", st->rcpt);
	jsonw_kv_uint(w, "rcpt_accepted", st->rcpt_accepted);
	jsonw_kv_uint(w, "data", st->data);
	jsonw_kv_uint(w, "bdat", st->bdat);
	jsonw_kv_uint(w, "messages_rejected", st->messages_rejected);
	jsonw_kv_uint(w, "messages_oversize", st->messages_oversize);
	jsonw_kv_uint(w, "messages_anomalous", st->messages_anomalous);
	jsonw_kv_uint(w, "bare_lf", st->an[SDATA_AN_BARE_LF]);
	jsonw_kv_uint(w, "bare_cr", st->an[SDATA_AN_BARE_CR]);
	jsonw_kv_uint(w, "nul", st->an[SDATA_AN_NUL]);
	jsonw_kv_uint(w, "smuggling", st->smuggling);
	jsonw_kv_uint(w, "drops", st->drops);
	jsonw_kv_uint(w, "delays", st->delays);
	jsonw_kv_uint(w, "pipelining_violations", ss->pipelining_violations);
	jsonw_kv_uint(w, "early_talkers", ss->early_talkers);
	jsonw_kv_uint(w, "maildir_errors", st->maildir_errors);
	jsonw_kv_uint(w, "tls_starttls", ss->tls_starts);
	jsonw_kv_uint(w, "tls_sessions", st->tls_sessions);
	jsonw_kv_uint(w, "tls_handshake_failures", ss->tls_failures);
	jsonw_kv_uint(w, "tls_injected_sessions", ss->tls_injected_sessions);
	jsonw_kv_uint(w, "tls_injected_bytes", ss->tls_injected_bytes);
	jsonw_kv_uint(w, "tls_messages", st->tls_messages);
	jsonw_key(w, "tls_protocols");
	jsonw_obj_begin(w);
	for (unsigned i = 0; i < SSTATS_TLS_PROTO__COUNT; i++)
		jsonw_kv_uint(w, sstats_tls_proto_str((enum sstats_tls_proto)i),
			      st->tls_proto[i]);
	jsonw_obj_end(w);
	jsonw_kv_int(w, "uptime_ms", uptime_ms);
	jsonw_key(w, "anomalies");
	jsonw_obj_begin(w);
	for (unsigned i = 0; i < SDATA_AN__COUNT; i++)
		jsonw_kv_uint(w, sdata_an_str((enum sdata_an)i), st->an[i]);
	jsonw_obj_end(w);
	sstats_replies_json(st, ss, w);
	jsonw_key(w, "closes");
	jsonw_obj_begin(w);
	for (unsigned i = 0; i < SMTPS_CLOSE__COUNT; i++)
		jsonw_kv_uint(w, smtps_close_why_str((enum smtps_close_why)i),
			      st->closes[i]);
	jsonw_obj_end(w);
	sstats_table_json(&st->listen, "listen", w);
	sstats_table_json(&st->client, "clients", w);
	sstats_table_json(&st->helo, "helo", w);
	jsonw_obj_end(w);
	jsonw_newline(w);
}
