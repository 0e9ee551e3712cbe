/* SPDX-License-Identifier: MIT */
/*
 * redis_server.h: the embedded redis-server ringmta runs when no [redis]
 * url is configured.
 *
 * Owns one redis-server process serving STATE_DIR/redis/redis.sock (no TCP
 * port, AOF everysec, no RDB snapshots), from start-up to exit.  Start and
 * stop block (bounded) and are meant for before and after the loop, never
 * inside it.  A server left behind by a crash is reused (adopted, and
 * stopped on exit like our own) only when its pid file names a live process
 * of the same binary whose working directory is ours and that answers PING
 * on our socket; otherwise the stale files are removed and a fresh server
 * started.  Nothing is ever killed by name.
 */
#ifndef RINGMTA_REDIS_SERVER_H
#define RINGMTA_REDIS_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#include "compat.h"

struct rdsrv;

/* How long start-up waits for PING, and stop for the exit, by default. */
#define RDSRV_START_MS 5000
#define RDSRV_STOP_MS  5000

/*
 * Start (or adopt) the server for state_dir, which must exist;
 * STATE_DIR/redis is created (0700).  server_path is a path or a name
 * looked up in PATH; NULL means "redis-server".  Blocks until the server
 * answers PING (at most RDSRV_START_MS), else kills it.  On success *r is
 * the caller's, to pass to rdsrv_stop().  Returns 0, or -ENAMETOOLONG (the
 * socket path does not fit a sockaddr_un), -ENOENT (no such binary or
 * state_dir), -EADDRINUSE (something without a pid file answers on our
 * socket), -EIO (the server exited during start-up), -ETIMEDOUT, or
 * another -errno; each failure is logged with what to do.
 */
int rdsrv_start(const char *state_dir, const char *server_path,
		struct rdsrv **r) ATTR_WUR;
/*
 * Stop the server: SIGTERM, wait up to timeout_ms, then SIGKILL.  Frees *r
 * and sets it to NULL; NULL is fine.  Returns 0, or -ETIMEDOUT when
 * SIGKILL was needed.
 */
int rdsrv_stop(struct rdsrv **r, int timeout_ms);

/* The unix socket path, for rds_opts.target. */
const char *rdsrv_socket(const struct rdsrv *r);
pid_t rdsrv_pid(const struct rdsrv *r);
/* True when the server was left by an earlier run and reused. */
bool rdsrv_adopted(const struct rdsrv *r);

#endif
