/* SPDX-License-Identifier: MIT */
/*
 * tls_cache.c: the client's resumption cache (see tls.h): LRU, TTL on
 * the caller's clock, entries kept apart per tls_ctx.  Entries hold the
 * session serialized (wolfSSL_i2d_SSL_SESSION): about 1 KB each instead of
 * a 37 KB WOLFSSL_SESSION in this build.  No I/O, no clock, no logging.
 */
#include "tls_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

/* ---- resumption cache ------------------------------------------------- */

struct tls_cache_ent {
	TAILQ_ENTRY(tls_cache_ent) lru; /* head: most recently used */
	struct tls_cache_ent *hnext;
	uint32_t hash;
	uint64_t ctx_id;
	int64_t expires;
	unsigned char *der; /* the serialized session: a WOLFSSL_SESSION is
			     * ~37 KB in this build, its DER ~2-4 KB */
	int der_len;
	bool verified;
	char *verr; /* NULL when verified */
	char key[];
};

TAILQ_HEAD(tls_cache_lru, tls_cache_ent);

struct tls_cache {
	struct tls_cache_lru lru;
	struct tls_cache_ent **bucket;
	size_t nbucket; /* power of two */
	size_t count;
	size_t max;
	int64_t ttl;
};

static uint32_t
tls_cache_hash(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* See tls.h. */
struct tls_cache *
tls_cache_new(size_t max_entries, int64_t ttl_ns)
{
	struct tls_cache *c = xcalloc(1, sizeof(*c));

	BUG_ON(max_entries == 0 || ttl_ns <= 0);
	TAILQ_INIT(&c->lru);
	c->max = max_entries;
	c->ttl = ttl_ns;
	c->nbucket = 16;
	while (c->nbucket < max_entries && c->nbucket < 65536)
		c->nbucket *= 2;
	c->bucket = xcalloc(c->nbucket, sizeof(*c->bucket));
	return c;
}

static struct tls_cache_ent **
tls_cache_slot(struct tls_cache *c, const char *key, uint32_t hash)
{
	struct tls_cache_ent **pp = &c->bucket[hash & (c->nbucket - 1)];

	while (*pp != NULL &&
	       ((*pp)->hash != hash || strcmp((*pp)->key, key) != 0))
		pp = &(*pp)->hnext;
	return pp;
}

static void
tls_cache_ent_free(struct tls_cache_ent *e)
{
	free(e->der);
	free(e->verr);
	free(e);
}

/* Unlink and free the entry *pp points at. */
static void
tls_cache_remove(struct tls_cache *c, struct tls_cache_ent **pp)
{
	struct tls_cache_ent *e = *pp;

	*pp = e->hnext;
	TAILQ_REMOVE(&c->lru, e, lru);
	c->count--;
	tls_cache_ent_free(e);
}

/* See tls.h. */
void
tls_cache_free(struct tls_cache *c)
{
	struct tls_cache_ent *e;

	if (c == NULL)
		return;
	while ((e = TAILQ_FIRST(&c->lru)) != NULL) {
		TAILQ_REMOVE(&c->lru, e, lru);
		tls_cache_ent_free(e);
	}
	free(c->bucket);
	free(c);
}

static void
tls_cache_evict_lru(struct tls_cache *c)
{
	struct tls_cache_ent *e = TAILQ_LAST(&c->lru, tls_cache_lru);

	tls_cache_remove(c, tls_cache_slot(c, e->key, e->hash));
}

/* TLSv1.3 resumes only with a ticket (it arrives after the handshake);
 * TLSv1.2 with a ticket or a session id. */
static bool
tls_resumable(struct tls_sess *sess, WOLFSSL_SESSION *ws)
{
	if (wolfSSL_SESSION_has_ticket(ws))
		return true;
	if (wolfSSL_version(sess->ssl) == TLS1_3_VERSION)
		return false;
	return wolfSSL_SESSION_is_resumable(ws) != 0;
}

/* Serialize ws into a new *der_r; returns its length, or 0. */
static int
tls_session_der(WOLFSSL_SESSION *ws, unsigned char **der_r)
{
	int n = wolfSSL_i2d_SSL_SESSION(ws, NULL);
	unsigned char *q;

	if (n <= 0)
		return 0;
	*der_r = xmalloc((size_t)n);
	q = *der_r;
	if (wolfSSL_i2d_SSL_SESSION(ws, &q) != n) {
		free(*der_r);
		*der_r = NULL;
		return 0;
	}
	return n;
}

/* Rebuild the session from its DER and offer it to sess; false when
 * wolfSSL refuses it (e.g. its own lifetime ended). */
static bool
tls_session_offer(struct tls_sess *sess, const unsigned char *der, int len)
{
	const unsigned char *q = der;
	WOLFSSL_SESSION *ws = wolfSSL_d2i_SSL_SESSION(NULL, &q, len);
	bool ok;

	if (ws == NULL)
		return false;
	ok = wolfSSL_set_session(sess->ssl, ws) == WOLFSSL_SUCCESS;
	wolfSSL_SESSION_free(ws);
	return ok;
}

/* See tls.h. */
int
tls_cache_put(struct tls_cache *c, const char *key, struct tls_sess *sess,
	      int64_t now_ns)
{
	uint32_t hash = tls_cache_hash(key);
	struct tls_cache_ent **pp, *e;
	WOLFSSL_SESSION *ws;
	unsigned char *der = NULL;
	size_t klen = strlen(key);
	int der_len;

	if (sess->ctx->server || !sess->done || sess->err != 0)
		return 0;
	ws = wolfSSL_get1_session(sess->ssl);
	if (ws == NULL)
		return 0;
	der_len = tls_resumable(sess, ws) ? tls_session_der(ws, &der) : 0;
	wolfSSL_SESSION_free(ws);
	if (der_len <= 0)
		return 0;
	pp = tls_cache_slot(c, key, hash);
	if (*pp != NULL)
		tls_cache_remove(c, pp);
	if (c->count >= c->max)
		tls_cache_evict_lru(c);
	e = xcalloc(1, sizeof(*e) + klen + 1);
	memcpy(e->key, key, klen + 1);
	e->hash = hash;
	e->ctx_id = sess->ctx->id;
	e->expires = now_ns + c->ttl;
	e->der = der;
	e->der_len = der_len;
	e->verified = tls_sess_peer_verified(sess);
	e->verr = e->verified ? NULL : xstrdup(tls_sess_verify_error(sess));
	pp = &c->bucket[hash & (c->nbucket - 1)];
	e->hnext = *pp;
	*pp = e;
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	c->count++;
	return 1;
}

/* See tls.h. */
int
tls_cache_get(struct tls_cache *c, const char *key, struct tls_sess *sess,
	      int64_t now_ns)
{
	struct tls_cache_ent **pp = tls_cache_slot(c, key, tls_cache_hash(key));
	struct tls_cache_ent *e = *pp;

	if (e == NULL || sess->ctx->server || sess->started || sess->err != 0)
		return 0;
	if (now_ns >= e->expires) {
		tls_cache_remove(c, pp);
		return 0;
	}
	if (e->ctx_id != sess->ctx->id)
		return 0;
	if (!tls_session_offer(sess, e->der, e->der_len)) {
		tls_cache_remove(c, pp);
		return 0;
	}
	TAILQ_REMOVE(&c->lru, e, lru);
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	sess->resume_offered = true;
	sess->resume_verified = e->verified;
	snprintf(sess->resume_verr, sizeof(sess->resume_verr), "%s",
		 e->verr != NULL ? e->verr : "");
	return 1;
}

/* See tls.h. */
void
tls_cache_del(struct tls_cache *c, const char *key)
{
	struct tls_cache_ent **pp = tls_cache_slot(c, key, tls_cache_hash(key));

	if (*pp != NULL)
		tls_cache_remove(c, pp);
}

/* See tls.h. */
size_t
tls_cache_count(const struct tls_cache *c)
{
	return c->count;
}
