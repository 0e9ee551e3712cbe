/* SPDX-License-Identifier: MIT */
/*
 * redis_util.c: the parts of store/redis that need no hiredis and no I/O:
 * the key builder and its name check, SHA-1 for script names, argv
 * packing, the bounded delta table and target parsing.  Pure functions
 * over caller-owned memory; table-tested in test_redis.
 */
#include "redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_int.h"

/* ---- key safety ---------------------------------------------------- */

size_t
rds_ptr_hash(const void *p, size_t mask)
{
	uint64_t x = (uint64_t)(uintptr_t)p;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x & mask;
}

int
rds_name_check(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	for (; s[n] != '\0'; n++) {
		unsigned char ch = (unsigned char)s[n];

		if (n >= RDS_NAME_MAX)
			return -EINVAL;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '-' || ch == '_'))
			return -EINVAL;
	}
	return 0;
}

int
rds_key(char *buf, size_t len, const char *prefix, const char *kind,
	const char *name)
{
	bool pfx = prefix != NULL && *prefix != '\0';
	int n;

	if ((pfx && rds_name_check(prefix) < 0) || rds_name_check(kind) < 0 ||
	    rds_name_check(name) < 0)
		return -EINVAL;
	if (pfx)
		n = snprintf(buf, len, "%s:%s:%s", prefix, kind, name);
	else
		n = snprintf(buf, len, "%s:%s", kind, name);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

/* ---- SHA-1 (FIPS 180-1), for EVALSHA names -------------------------- */

#define RDS_ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static void
rds_sha1_block(uint32_t h[5], const unsigned char *p)
{
	uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = RDS_ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k, t;

		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = RDS_ROL(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = RDS_ROL(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void
rds_sha1_hex(const void *data, size_t len, char *hex_r)
{
	uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
			 0xc3d2e1f0};
	const unsigned char *p = data;
	unsigned char tail[128] = {0};
	size_t full = len & ~(size_t)63, rest = len - full, tn;
	uint64_t bits = (uint64_t)len * 8;

	for (size_t off = 0; off < full; off += 64)
		rds_sha1_block(h, p + off);
	memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tn = rest < 56 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tn - 1 - i] = (unsigned char)(bits >> (8 * i));
	for (size_t off = 0; off < tn; off += 64)
		rds_sha1_block(h, tail + off);
	for (int i = 0; i < 5; i++)
		snprintf(hex_r + 8 * i, 9, "%08" PRIx32, h[i]);
}

/* ---- argv packing (batch, EVALSHA retry) ---------------------------- */

size_t
rds_pack_size(int argc, const char *const *argv, const size_t *lens)
{
	size_t n = 4;

	for (int i = 0; i < argc; i++)
		n += 4 + (lens ? lens[i] : strlen(argv[i]));
	return n;
}

void
rds_pack(char *dst, int argc, const char *const *argv, const size_t *lens)
{
	uint32_t v = (uint32_t)argc;

	memcpy(dst, &v, 4);
	dst += 4;
	for (int i = 0; i < argc; i++) {
		size_t l = lens ? lens[i] : strlen(argv[i]);

		v = (uint32_t)l;
		memcpy(dst, &v, 4);
		memcpy(dst + 4, argv[i], l);
		dst += 4 + l;
	}
}

size_t
rds_unpack(const char *p, int *argc_r, const char **argv, size_t *lens)
{
	const char *start = p;
	uint32_t n, l;

	memcpy(&n, p, 4);
	p += 4;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(&l, p, 4);
		argv[i] = p + 4;
		lens[i] = l;
		p += 4 + l;
	}
	*argc_r = (int)n;
	return (size_t)(p - start);
}

/* ---- delta table ---------------------------------------------------- */

static uint32_t
rds_hash(const char *key, const char *field)
{
	uint32_t h = 2166136261u;

	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ 0xffu) * 16777619u; /* separator: "a"+"bc" != "ab"+"c" */
	for (const char *p = field; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

/* The slot of (key, field), or the empty slot where it would go. */
static unsigned
rds_dtab_slot(const struct rds_dtab *t, const char *key, const char *field,
	      uint32_t h)
{
	unsigned mask = t->cap - 1, i = h & mask;
	size_t klen = strlen(key);

	for (;; i = (i + 1) & mask) {
		const struct rds_delta *d = t->slot[i];

		if (d == NULL || (d->hash == h && d->klen == klen &&
				  memcmp(d->kf, key, klen) == 0 &&
				  strcmp(d->kf + klen + 1, field) == 0))
			return i;
	}
}

static void
rds_dtab_grow(struct rds_dtab *t)
{
	struct rds_delta **old = t->slot;
	unsigned ocap = t->cap;

	t->cap = ocap ? ocap * 2 : 64;
	t->slot = xcalloc(t->cap, sizeof(*t->slot));
	for (unsigned i = 0; i < ocap; i++) {
		struct rds_delta *d = old[i];
		unsigned mask = t->cap - 1, j;

		if (d == NULL)
			continue;
		for (j = d->hash & mask; t->slot[j]; j = (j + 1) & mask)
			;
		t->slot[j] = d;
	}
	free(old);
}

int
rds_dtab_add(struct rds_dtab *t, const char *key, const char *field,
	     int64_t delta)
{
	size_t klen, flen;
	uint32_t h;
	unsigned i;
	struct rds_delta *d;

	if (key == NULL || field == NULL || *key == '\0' || *field == '\0')
		return -EINVAL;
	klen = strlen(key);
	flen = strlen(field);
	if (klen > RDS_KEY_MAX || flen > RDS_KEY_MAX)
		return -EINVAL;
	if ((t->n + 1) * 2 > t->cap)
		rds_dtab_grow(t);
	h = rds_hash(key, field);
	i = rds_dtab_slot(t, key, field, h);
	d = t->slot[i];
	if (d != NULL) {
		int64_t sum;

		if (__builtin_add_overflow(d->delta, delta, &sum))
			return -ERANGE;
		d->delta = sum;
		return 1;
	}
	if (t->n >= t->max)
		return -ENOBUFS;
	d = xmalloc(sizeof(*d) + klen + flen + 2);
	d->hash = h;
	d->klen = (uint32_t)klen;
	d->delta = delta;
	memcpy(d->kf, key, klen + 1);
	memcpy(d->kf + klen + 1, field, flen + 1);
	t->slot[i] = d;
	t->n++;
	return 0;
}

const struct rds_delta *
rds_dtab_find(const struct rds_dtab *t, const char *key, const char *field)
{
	if (t->cap == 0 || key == NULL || field == NULL)
		return NULL;
	return t->slot[rds_dtab_slot(t, key, field, rds_hash(key, field))];
}

void
rds_dtab_clear(struct rds_dtab *t)
{
	for (unsigned i = 0; i < t->cap; i++) {
		free(t->slot[i]);
		t->slot[i] = NULL;
	}
	t->n = 0;
}

void
rds_dtab_fini(struct rds_dtab *t)
{
	rds_dtab_clear(t);
	free(t->slot);
	t->slot = NULL;
	t->cap = 0;
}

/* ---- target ---------------------------------------------------------- */

int
rds_target_parse(const char *t, char **host_r, int *port_r)
{
	const char *colon, *host = t, *hend;
	unsigned char addr[16];
	char *end, *h;
	long port;

	*host_r = NULL;
	if (strncmp(t, "unix:", 5) == 0 || t[0] == '/') {
		const char *path = t[0] == '/' ? t : t + 5;

		if (path[0] != '/' || strlen(path) >= 108)
			return -EINVAL;
		*host_r = xstrdup(path);
		*port_r = 0;
		return 0;
	}
	if (t[0] == '[') {
		host = t + 1;
		hend = strchr(host, ']');
		if (hend == NULL || hend[1] != ':')
			return -EINVAL;
		colon = hend + 1;
	} else {
		colon = strrchr(t, ':');
		if (colon == NULL)
			return -EINVAL;
		hend = colon;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || port < 1 ||
	    port > 65535)
		return -EINVAL;
	h = xstrndup(host, (size_t)(hend - host));
	if (strcmp(h, "localhost") == 0) {
		free(h);
		h = xstrdup("127.0.0.1");
	}
	if (inet_pton(AF_INET, h, addr) != 1 &&
	    inet_pton(AF_INET6, h, addr) != 1) {
		free(h);
		return -EINVAL;
	}
	*host_r = h;
	*port_r = (int)port;
	return 0;
}
