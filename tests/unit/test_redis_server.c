/* SPDX-License-Identifier: MIT */
/*
 * test_redis_server: the embedded redis-server, for real, in temporary
 * state directories: start and stop, a stale pid file naming a dead
 * process, one naming a live process that is not our server, a live server
 * left by a "crash" (reused, then stopped), a foreign redis-server named by
 * our pid file (left alone), a socket path too long, a missing binary, a
 * binary that exits at once.  redis-server must be installed (make deps):
 * its absence fails the tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "redis_server.h"

extern char **environ;

struct tdir {
	char path[64];
	char sock[128], pidf[128], rdir[128];
};

static int
setup(void **state)
{
	struct tdir *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	snprintf(d->path, sizeof(d->path), "/tmp/test-rdsrv.XXXXXX");
	assert_non_null(mkdtemp(d->path));
	snprintf(d->rdir, sizeof(d->rdir), "%s/redis", d->path);
	snprintf(d->sock, sizeof(d->sock), "%s/redis/redis.sock", d->path);
	snprintf(d->pidf, sizeof(d->pidf), "%s/redis/redis.pid", d->path);
	*state = d;
	return 0;
}

static int
teardown(void **state)
{
	struct tdir *d = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
	free(d);
	return 0;
}

static bool
answers(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[16] = {0};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = false;

	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    write(fd, "PING\r\n", 6) == 6 && read(fd, buf, sizeof(buf)) >= 5)
		ok = memcmp(buf, "+PONG", 5) == 0;
	close(fd);
	return ok;
}

static bool
alive(pid_t pid)
{
	char p[64], st = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	f = fopen(p, "r");
	if (f == NULL)
		return false;
	/* "pid (comm) S ...": a zombie counts as gone */
	if (fscanf(f, "%*d %*s %c", &st) != 1)
		st = 'Z';
	fclose(f);
	return st != 'Z';
}

static void
write_pid(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "%d\n", (int)pid);
	fclose(f);
}

/* A pid that surely names no process: a child we reaped. */
static pid_t
dead_pid(void)
{
	char *argv[] = {"true", NULL};
	pid_t pid;
	int st;

	assert_int_equal(posix_spawnp(&pid, "true", NULL, NULL, argv, environ),
			 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return pid;
}

/* Leave a socket file nobody listens on (a crashed server's). */
static void
stale_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

/* Spawn redis-server ourselves as the embedded one would run in dir. */
static pid_t
spawn_like_embedded(const char *dir, const char *sock, const char *pidf)
{
	char *argv[] = {"redis-server", "--port",     "0",
			"--unixsocket", (char *)sock, "--dir",
			(char *)dir,    "--save",     "",
			"--appendonly", "no",         "--daemonize",
			"no",           "--pidfile",  (char *)pidf,
			"--logfile",    "/dev/null",  NULL};
	pid_t pid;

	assert_int_equal(
	    posix_spawnp(&pid, "redis-server", NULL, NULL, argv, environ), 0);
	for (int i = 0; i < 500 && !(answers(sock) && access(pidf, F_OK) == 0);
	     i++)
		usleep(10000);
	assert_true(answers(sock));
	return pid;
}

static void
reap(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
}

static void
test_start_stop(void **state)
{
	struct tdir *d = *state;
	struct rdsrv *r = NULL;
	pid_t pid;
	struct stat sb;
	FILE *f;
	long fpid = 0;

	assert_int_equal(rdsrv_start(d->path, NULL, &r), 0);
	assert_non_null(r);
	pid = rdsrv_pid(r);
	assert_true(pid > 0);
	assert_false(rdsrv_adopted(r));
	assert_string_equal(rdsrv_socket(r), d->sock);
	assert_true(answers(d->sock));
	assert_int_equal(stat(d->rdir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	f = fopen(d->pidf, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &fpid), 1);
	fclose(f);
	assert_int_equal(fpid, pid);
	/* AOF on, no TCP port */
	char aof[160];

	snprintf(aof, sizeof(aof), "%s/appendonlydir", d->rdir);
	assert_int_equal(access(aof, F_OK), 0);
	assert_int_equal(rdsrv_stop(&r, RDSRV_STOP_MS), 0);
	assert_null(r);
	assert_false(alive(pid));
	assert_int_equal(kill(pid, 0), -1); /* reaped, not a zombie */
	assert_int_equal(access(d->sock, F_OK), -1);
	assert_int_equal(rdsrv_stop(&r, 100), 0); /* NULL is fine */
}

static void
test_stale_dead_pid(void **state)
{
	struct tdir *d = *state;
	struct rdsrv *r = NULL;
	pid_t old = dead_pid();

	assert_int_equal(mkdir(d->rdir, 0700), 0);
	write_pid(d->pidf, old);
	stale_socket(d->sock);
	assert_false(answers(d->sock));
	assert_int_equal(rdsrv_start(d->path, "redis-server", &r), 0);
	assert_false(rdsrv_adopted(r));
	assert_true(rdsrv_pid(r) != old);
	assert_true(answers(d->sock));
	assert_int_equal(rdsrv_stop(&r, RDSRV_STOP_MS), 0);
}

static void
test_stale_pid_not_redis(void **state)
{
	struct tdir *d = *state;
	struct rdsrv *r = NULL;
	char *argv[] = {"sleep", "30", NULL};
	pid_t other;

	/* a live process that is not redis-server: never signalled */
	assert_int_equal(
	    posix_spawnp(&other, "sleep", NULL, NULL, argv, environ), 0);
	assert_int_equal(mkdir(d->rdir, 0700), 0);
	write_pid(d->pidf, other);
	assert_int_equal(rdsrv_start(d->path, NULL, &r), 0);
	assert_false(rdsrv_adopted(r));
	assert_true(rdsrv_pid(r) != other);
	assert_int_equal(rdsrv_stop(&r, RDSRV_STOP_MS), 0);
	assert_true(alive(other));
	kill(other, SIGKILL);
	reap(other);
}

static void
test_stale_live_reused(void **state)
{
	struct tdir *d = *state;
	struct rdsrv *r = NULL;
	pid_t left;

	/* what a crashed ringmta leaves: its server, still running */
	assert_int_equal(mkdir(d->rdir, 0700), 0);
	left = spawn_like_embedded(d->rdir, d->sock, d->pidf);
	assert_int_equal(rdsrv_start(d->path, NULL, &r), 0);
	assert_true(rdsrv_adopted(r));
	assert_int_equal(rdsrv_pid(r), left);
	assert_true(answers(rdsrv_socket(r)));
	/* adopted means ours: stopped on exit */
	assert_int_equal(rdsrv_stop(&r, RDSRV_STOP_MS), 0);
	assert_false(alive(left));
	reap(left);
}

static void
test_foreign_redis_left_alone(void **state)
{
	struct tdir *d = *state;
	struct rdsrv *r = NULL;
	char odir[96], osock[128], opidf[128];
	pid_t foreign;

	/* a redis-server of someone else, in another directory */
	snprintf(odir, sizeof(odir), "%s/other", d->path);
	snprintf(osock, sizeof(osock), "%s/o.sock", odir);
	snprintf(opidf, sizeof(opidf), "%s/o.pid", odir);
	assert_int_equal(mkdir(odir, 0700), 0);
	foreign = spawn_like_embedded(odir, osock, opidf);
	assert_int_equal(mkdir(d->rdir, 0700), 0);
	write_pid(d->pidf, foreign); /* our pid file names it */
	assert_int_equal(rdsrv_start(d->path, NULL, &r), 0);
	assert_false(rdsrv_adopted(r));
	assert_true(rdsrv_pid(r) != foreign);
	assert_int_equal(rdsrv_stop(&r, RDSRV_STOP_MS), 0);
	assert_true(alive(foreign));
	assert_true(answers(osock));
	kill(foreign, SIGTERM);
	reap(foreign);
}

static void
test_unknown_server_on_socket(void **state)
{
	struct tdir *d = *state;
	struct rdsrv *r = NULL;
	char dummy[128];
	pid_t p;

	/* a server answers on our socket, but no pid file names it */
	assert_int_equal(mkdir(d->rdir, 0700), 0);
	snprintf(dummy, sizeof(dummy), "%s/x.pid", d->path);
	p = spawn_like_embedded(d->rdir, d->sock, dummy);
	assert_int_equal(rdsrv_start(d->path, NULL, &r), -EADDRINUSE);
	assert_null(r);
	assert_true(alive(p));
	kill(p, SIGTERM);
	reap(p);
}

static void
test_socket_path_too_long(void **state)
{
	struct tdir *d = *state;
	struct rdsrv *r = NULL;
	char deep[256];

	/* 100 bytes of directory + "/redis/redis.sock" > 107 */
	snprintf(deep, sizeof(deep), "%s/", d->path);
	while (strlen(deep) < 100)
		strcat(deep, "d");
	assert_int_equal(mkdir(deep, 0700), 0);
	assert_int_equal(rdsrv_start(deep, NULL, &r), -ENAMETOOLONG);
	assert_null(r);
	/* just short enough: 107 bytes fit (a sockaddr_un holds 108) */
	deep[strlen(d->path) + 1] = '\0';
	while (strlen(deep) + strlen("/redis/redis.sock") < 107)
		strcat(deep, "e");
	assert_int_equal(mkdir(deep, 0700), 0);
	assert_int_equal(rdsrv_start(deep, NULL, &r), 0);
	assert_int_equal(strlen(rdsrv_socket(r)), 107);
	assert_int_equal(rdsrv_stop(&r, RDSRV_STOP_MS), 0);
}

static void
test_missing_binary(void **state)
{
	struct tdir *d = *state;
	struct rdsrv *r = NULL;
	char missing[96];

	assert_int_equal(rdsrv_start(d->path, "/nonexistent/redis-server", &r),
			 -ENOENT);
	assert_null(r);
	assert_int_equal(
	    rdsrv_start(d->path, "no-such-redis-server-binary", &r), -ENOENT);
	assert_null(r);
	snprintf(missing, sizeof(missing), "%s/nope", d->path);
	assert_int_equal(rdsrv_start(missing, NULL, &r), -ENOENT);
	assert_null(r);
	/* a binary that exits at once: a clear error, not a 5 s wait */
	assert_int_equal(rdsrv_start(d->path, "false", &r), -EIO);
	assert_null(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_start_stop),
	    T(test_stale_dead_pid),
	    T(test_stale_pid_not_redis),
	    T(test_stale_live_reused),
	    T(test_foreign_redis_left_alone),
	    T(test_unknown_server_on_socket),
	    T(test_socket_path_too_long),
	    T(test_missing_binary),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_redis_server");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
