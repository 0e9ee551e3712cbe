/* SPDX-License-Identifier: MIT */
/*
 * redis_server.c: spawn, find, adopt and stop the embedded redis-server.
 *
 * Blocking by design: it runs before the loop starts and after it ends.
 * It speaks just enough RESP over a plain unix socket to send PING, so it
 * needs no hiredis.  A process is only ever signalled when its pid came
 * from our pid file (or our own posix_spawn) and /proc shows the same
 * binary running in our directory: never by name.
 */
#include "redis_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

struct rdsrv {
	pid_t pid;
	bool adopted;
	char exe[PATH_MAX]; /* realpath of the binary */
	char dir[PATH_MAX], sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char pidf[PATH_MAX], logf[PATH_MAX];
};

static int64_t
rdsrv_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
rdsrv_sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * 1: the server answers +PONG; 0: not (yet): no socket, refused, LOADING
 * or silent for 200 ms.
 */
static int
rdsrv_ping(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pollfd pfd;
	char buf[64];
	ssize_t n;
	int fd, ok = 0;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 200) == 1) {
			n = recv(fd, buf, sizeof(buf), 0);
			ok = n >= 5 && memcmp(buf, "+PONG", 5) == 0;
		}
	}
	close(fd);
	return ok;
}

/* Find server_path (PATH lookup for a bare name) and store its realpath. */
static int
rdsrv_find_exe(struct rdsrv *r, const char *name)
{
	const char *path = getenv("PATH");
	char cand[PATH_MAX];

	if (strchr(name, '/')) {
		if (access(name, X_OK) == 0 && realpath(name, r->exe))
			return 0;
		return -errno;
	}
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n > 0 &&
		    (size_t)snprintf(cand, sizeof(cand), "%.*s/%s", (int)n,
				     path, name) < sizeof(cand) &&
		    access(cand, X_OK) == 0 && realpath(cand, r->exe))
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

/* True if pid runs our binary with our directory as its cwd. */
static bool
rdsrv_is_ours(const struct rdsrv *r, pid_t pid)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (strcmp(buf, r->exe) != 0)
		return false;
	snprintf(link, sizeof(link), "/proc/%d/cwd", (int)pid);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, r->dir) == 0;
}

static pid_t
rdsrv_read_pid(const struct rdsrv *r)
{
	FILE *f = fopen(r->pidf, "r");
	long pid = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1 || pid > INT_MAX)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/* Has the process gone?  Reaps our own child; an adopted one is polled. */
static bool
rdsrv_gone(const struct rdsrv *r, pid_t pid, int *status_r)
{
	if (!r->adopted) {
		pid_t w = waitpid(pid, status_r, WNOHANG);

		return w == pid || (w == -1 && errno == ECHILD);
	}
	return !rdsrv_is_ours(r, pid); /* a zombie has no exe link */
}

/* SIGTERM, wait, SIGKILL.  0, or -ETIMEDOUT when SIGKILL was needed. */
static int
rdsrv_kill(const struct rdsrv *r, pid_t pid, int timeout_ms)
{
	int64_t end = rdsrv_ms() + timeout_ms;
	int st;

	if (kill(pid, SIGTERM) == -1 && errno == ESRCH)
		return 0;
	while (rdsrv_ms() < end) {
		if (rdsrv_gone(r, pid, &st))
			return 0;
		rdsrv_sleep_ms(10);
	}
	log_warn("redis: pid %d ignored SIGTERM for %d ms; sending SIGKILL",
		 (int)pid, timeout_ms);
	kill(pid, SIGKILL);
	if (!r->adopted)
		waitpid(pid, &st, 0);
	return -ETIMEDOUT;
}

static void
rdsrv_unlink_stale(const struct rdsrv *r)
{
	if (unlink(r->sock) == -1 && errno != ENOENT)
		log_warn("redis: cannot remove %s: %s", r->sock,
			 strerror(errno));
	if (unlink(r->pidf) == -1 && errno != ENOENT)
		log_warn("redis: cannot remove %s: %s", r->pidf,
			 strerror(errno));
}

/*
 * Deal with what an earlier run left.  Returns 1 when a live server was
 * adopted, 0 when the way is clear for a fresh one, or -errno.
 */
static int
rdsrv_stale(struct rdsrv *r)
{
	pid_t pid = rdsrv_read_pid(r);
	int64_t end;

	if (pid > 0 && rdsrv_is_ours(r, pid)) {
		end = rdsrv_ms() + RDSRV_START_MS;
		while (rdsrv_is_ours(r, pid) && rdsrv_ms() < end) {
			if (rdsrv_ping(r->sock)) {
				r->pid = pid;
				r->adopted = true;
				log_info("redis: reusing redis-server pid %d "
					 "left on %s",
					 (int)pid, r->sock);
				return 1;
			}
			rdsrv_sleep_ms(20);
		}
		log_warn("redis: redis-server pid %d from %s does not answer; "
			 "stopping it",
			 (int)pid, r->pidf);
		r->adopted = true; /* not our child: poll, don't waitpid */
		(void)rdsrv_kill(r, pid, RDSRV_STOP_MS);
		r->adopted = false;
	} else if (pid > 0 && kill(pid, 0) == 0) {
		log_warn("redis: %s names pid %d, which is not our "
			 "redis-server; leaving it alone",
			 r->pidf, (int)pid);
	} else if (pid <= 0 && rdsrv_ping(r->sock)) {
		log_err("redis: a server answers on %s but no pid file names "
			"it; stop it or choose another state directory",
			r->sock);
		return -EADDRINUSE;
	}
	rdsrv_unlink_stale(r);
	return 0;
}

static int
rdsrv_spawn(struct rdsrv *r)
{
	char *argv[] = {"redis-server",
			"--port",
			"0",
			"--unixsocket",
			r->sock,
			"--unixsocketperm",
			"700",
			"--dir",
			r->dir,
			"--appendonly",
			"yes",
			"--appendfsync",
			"everysec",
			"--save",
			"",
			"--daemonize",
			"no",
			"--pidfile",
			r->pidf,
			"--logfile",
			r->logf,
			NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	int rc;

	/* early errors (before the log file opens) go to the log too */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, r->logf,
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	/* own process group: a terminal's ^C reaches ringmta, which stops
	 * redis after its last flush */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					  POSIX_SPAWN_SETSIGDEF |
					  POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&r->pid, r->exe, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		log_err("redis: cannot run %s: %s", r->exe, strerror(rc));
		r->pid = 0;
		return -rc;
	}
	return 0;
}

/* Wait for PING; on failure the child is stopped and reaped. */
static int
rdsrv_wait_ready(struct rdsrv *r)
{
	int64_t end = rdsrv_ms() + RDSRV_START_MS;
	int st;

	while (rdsrv_ms() < end) {
		if (rdsrv_gone(r, r->pid, &st)) {
			log_err("redis: redis-server exited during start-up "
				"(status %d); see %s",
				WIFEXITED(st) ? WEXITSTATUS(st) : -1, r->logf);
			r->pid = 0;
			return -EIO;
		}
		if (rdsrv_ping(r->sock))
			return 0;
		rdsrv_sleep_ms(10);
	}
	log_err("redis: redis-server did not answer on %s within %d ms; see %s",
		r->sock, RDSRV_START_MS, r->logf);
	kill(r->pid, SIGKILL);
	waitpid(r->pid, &st, 0);
	r->pid = 0;
	return -ETIMEDOUT;
}

/* Fill the paths; -ENAMETOOLONG if the socket path cannot be bound. */
static int
rdsrv_paths(struct rdsrv *r, const char *state_dir)
{
	char abs[PATH_MAX];
	int n;

	if (realpath(state_dir, abs) == NULL) {
		int e = errno;

		log_err("redis: state directory %s: %s", state_dir,
			strerror(e));
		return -e;
	}
	n = snprintf(r->sock, sizeof(r->sock), "%s/redis/redis.sock", abs);
	if (n < 0 || (size_t)n >= sizeof(r->sock)) {
		log_err("redis: socket path %s/redis/redis.sock is %d bytes, "
			"over the %zu a unix socket allows; choose a shorter "
			"state directory or set a [redis] url",
			abs, n, sizeof(r->sock) - 1);
		return -ENAMETOOLONG;
	}
	/* shorter than the socket path, so these fit */
	if (snprintf(r->dir, sizeof(r->dir), "%s/redis", abs) < 0 ||
	    snprintf(r->pidf, sizeof(r->pidf), "%s/redis/redis.pid", abs) < 0 ||
	    snprintf(r->logf, sizeof(r->logf), "%s/redis/redis.log", abs) < 0)
		return -ENAMETOOLONG;
	return 0;
}

int
rdsrv_start(const char *state_dir, const char *server_path, struct rdsrv **rp)
{
	struct rdsrv *r = xcalloc(1, sizeof(*r));
	const char *bin = server_path ? server_path : "redis-server";
	int rc;

	*rp = NULL;
	rc = rdsrv_paths(r, state_dir);
	if (rc < 0)
		goto fail;
	rc = rdsrv_find_exe(r, bin);
	if (rc < 0) {
		log_err("redis: cannot find the redis-server binary '%s': %s "
			"(install redis-server, or set a [redis] url)",
			bin, strerror(-rc));
		goto fail;
	}
	if (mkdir(r->dir, 0700) == -1 && errno != EEXIST) {
		rc = -errno;
		log_err("redis: cannot create %s: %s", r->dir, strerror(-rc));
		goto fail;
	}
	rc = rdsrv_stale(r);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		rc = rdsrv_spawn(r);
		if (rc == 0)
			rc = rdsrv_wait_ready(r);
		if (rc < 0)
			goto fail;
		log_info("redis: started redis-server pid %d on %s",
			 (int)r->pid, r->sock);
	}
	*rp = r;
	return 0;
fail:
	free(r);
	return rc;
}

int
rdsrv_stop(struct rdsrv **rp, int timeout_ms)
{
	struct rdsrv *r = *rp;
	int rc = 0;

	if (r == NULL)
		return 0;
	*rp = NULL;
	if (r->pid > 0) {
		rc = rdsrv_kill(r, r->pid, timeout_ms);
		if (rc < 0)
			rdsrv_unlink_stale(r); /* SIGKILL left them */
		log_info("redis: stopped redis-server pid %d", (int)r->pid);
	}
	free(r);
	return rc;
}

const char *
rdsrv_socket(const struct rdsrv *r)
{
	return r->sock;
}

pid_t
rdsrv_pid(const struct rdsrv *r)
{
	return r->pid;
}

bool
rdsrv_adopted(const struct rdsrv *r)
{
	return r->adopted;
}
