/* SPDX-License-Identifier: MIT */
/*
 * redis_int.h: the hiredis-free parts of store/redis, shared between
 * redis.c and redis_util.c (and their tests): argv packing for the
 * write-behind batch, the bounded HINCRBY delta table, target parsing.
 * Nothing here does I/O.
 */
#ifndef RINGMTA_REDIS_INT_H
#define RINGMTA_REDIS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "compat.h"

/* Packed argv: [argc u32] then [len u32][bytes] per argument. */
size_t rds_pack_size(int argc, const char *const *argv, const size_t *lens);
void rds_pack(char *dst, int argc, const char *const *argv, const size_t *lens);
/* Unpack the command at p (argv/lens must hold its argc); returns bytes. */
size_t rds_unpack(const char *p, int *argc_r, const char **argv, size_t *lens);

struct rds_delta {
	uint32_t hash, klen;
	int64_t delta;
	char kf[]; /* key NUL field NUL */
};

/* Open-addressing table of pending deltas, at most max pairs. */
struct rds_dtab {
	struct rds_delta **slot;
	unsigned cap, n, max;
};

/*
 * Merge delta into (key, field).  Returns 1 when merged into an existing
 * pair, 0 when a pair was added, -ENOBUFS (full), -ERANGE (overflow: the
 * pending value is unchanged) or -EINVAL (empty or over-long key/field).
 */
int rds_dtab_add(struct rds_dtab *t, const char *key, const char *field,
		 int64_t delta) ATTR_WUR;
/* The pending pair, or NULL. */
const struct rds_delta *rds_dtab_find(const struct rds_dtab *t, const char *key,
				      const char *field);
/* Drop every pair (the table keeps its slots); fini frees the slots. */
void rds_dtab_clear(struct rds_dtab *t);
void rds_dtab_fini(struct rds_dtab *t);

/*
 * Parse a target: "/path", "unix:/path" (port 0) or "IP:PORT",
 * "[IPv6]:PORT", "localhost:PORT".  *host_r is allocated.  Returns 0 or
 * -EINVAL (a host name would need a blocking resolver call: refused).
 */
int rds_target_parse(const char *t, char **host_r, int *port_r) ATTR_WUR;

#endif
