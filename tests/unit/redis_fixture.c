/* SPDX-License-Identifier: MIT */
/*
 * redis_fixture.c: the redis-server and ring fixture of the Redis unit
 * tests (redis_fixture.h).  Signals only the pid it spawned.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "redis_fixture.h"

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring.h"
#include "ring_fixture.h"

extern char **environ;

struct ring *
rfx_ring(unsigned sq_entries, unsigned cq_entries)
{
	return ringfx_new(sq_entries, cq_entries);
}

void
rfx_init(struct rfx *s, const char *name)
{
	ringfx_mkdtemp(s->dir, sizeof(s->dir), name);
	snprintf(s->sock, sizeof(s->sock), "%s/r.sock", s->dir);
	s->pid = 0;
}

void
rfx_rmdir(const char *dir)
{
	ringfx_rmdir(dir);
}

bool
rfx_answers(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[16];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = false;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    write(fd, "PING\r\n", 6) == 6 && read(fd, buf, sizeof(buf)) >= 5)
		ok = memcmp(buf, "+PONG", 5) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

void
rfx_start(struct rfx *s)
{
	char logf[160];
	char *argv[] = {"redis-server",
			"--port",
			"0",
			"--unixsocket",
			s->sock,
			"--unixsocketperm",
			"700",
			"--save",
			"",
			"--appendonly",
			s->aof ? "yes" : "no",
			"--appendfsync",
			"always",
			"--dir",
			s->dir,
			"--logfile",
			logf,
			"--daemonize",
			"no",
			NULL};

	snprintf(logf, sizeof(logf), "%s/redis.log", s->dir);
	assert_int_equal(
	    posix_spawnp(&s->pid, "redis-server", NULL, NULL, argv, environ),
	    0);
	for (int i = 0; i < 500 && !rfx_answers(s->sock); i++)
		usleep(10000);
	assert_true(rfx_answers(s->sock));
}

void
rfx_kill(struct rfx *s, int sig)
{
	int st;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGCONT);
	kill(s->pid, sig);
	assert_int_equal(waitpid(s->pid, &st, 0), s->pid);
	s->pid = 0;
}

void
rfx_close(struct ring *r, struct rfx *s, int sig)
{
	if (r == NULL)
		return;
	rfx_kill(s, sig);
	assert_int_equal(ring_shutdown(r, 2000), 0);
	ring_free(r);
	rfx_rmdir(s->dir);
}

void
rfx_run_for(struct ring *r, int ms)
{
	int64_t end = ring_now_update(r) + (int64_t)ms * 1000000;

	while (ring_now_update(r) < end)
		assert_true(ring_run_once(r, 5 * 1000000LL) >= 0);
}
