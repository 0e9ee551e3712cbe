/* SPDX-License-Identifier: MIT */
/*
 * ringsink_maildir.c: the --maildir store, see ringsink_maildir.h.  Plain
 * synchronous syscalls relative to the maildir's directory fd.
 */
#include "ringsink_maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int
smd_open(struct smd *m, const char *dir)
{
	static const char *const sub[] = {"tmp", "new", "cur", "env"};

	m->dirfd = -1;
	m->seq = 0;
	if (gethostname(m->host, sizeof(m->host)) == -1)
		snprintf(m->host, sizeof(m->host), "ringsink");
	m->host[sizeof(m->host) - 1] = '\0';
	for (char *p = m->host; *p; p++)
		if (*p == '/' || *p == ':' || *p == '.')
			*p = '_';
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -errno;
	m->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->dirfd == -1)
		return -errno;
	for (size_t i = 0; i < nitems(sub); i++) {
		if (mkdirat(m->dirfd, sub[i], 0755) == -1 && errno != EEXIST) {
			int rc = -errno;

			close(m->dirfd);
			m->dirfd = -1;
			return rc;
		}
	}
	return 0;
}

void
smd_close(struct smd *m)
{
	if (m->dirfd >= 0)
		close(m->dirfd);
	m->dirfd = -1;
}

void
smd_msg_init(struct smd_msg *msg)
{
	msg->fd = -1;
	msg->failed = false;
	msg->name[0] = '\0';
}

int
smd_begin(struct smd *m, struct smd_msg *msg)
{
	char path[128];
	struct timespec ts;

	smd_abort(m, msg);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(msg->name, sizeof(msg->name), "%lld.M%ldP%dQ%llu.%.40s",
		 (long long)ts.tv_sec, ts.tv_nsec / 1000, (int)getpid(),
		 (unsigned long long)++m->seq, m->host);
	snprintf(path, sizeof(path), "tmp/%s", msg->name);
	msg->fd = openat(m->dirfd, path,
			 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (msg->fd == -1) {
		int rc = -errno;

		log_warn("ringsink: maildir: %s: %s", path, strerror(-rc));
		msg->failed = true;
		return rc;
	}
	return 0;
}

void
smd_write(struct smd_msg *msg, const char *buf, size_t len)
{
	while (len > 0 && msg->fd >= 0 && !msg->failed) {
		ssize_t n = write(msg->fd, buf, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("ringsink: maildir: write %s: %s", msg->name,
				 n ? strerror(errno) : "short write");
			msg->failed = true;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static int
smd_write_env(struct smd *m, const struct smd_msg *msg, const char *json,
	      size_t len)
{
	char tmp[128], final[128];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "env/.%s.tmp", msg->name);
	snprintf(final, sizeof(final), "env/%s", msg->name);
	fd = openat(m->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
	if (fd == -1)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, json, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n ? -errno : -EIO;
			break;
		}
		json += n;
		len -= (size_t)n;
	}
	if (close(fd) == -1 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(m->dirfd, tmp, m->dirfd, final) == -1)
		rc = -errno;
	if (rc < 0)
		unlinkat(m->dirfd, tmp, 0);
	return rc;
}

int
smd_commit(struct smd *m, struct smd_msg *msg, const char *env_json,
	   size_t env_len)
{
	char from[128], to[128];
	int rc;

	if (msg->fd < 0 || msg->failed) {
		smd_abort(m, msg);
		return -EIO;
	}
	if (close(msg->fd) == -1) {
		msg->fd = -1;
		smd_abort(m, msg);
		return -EIO;
	}
	msg->fd = -1;
	rc = smd_write_env(m, msg, env_json, env_len);
	snprintf(from, sizeof(from), "tmp/%s", msg->name);
	snprintf(to, sizeof(to), "new/%s", msg->name);
	if (rc == 0 && renameat(m->dirfd, from, m->dirfd, to) == -1)
		rc = -errno;
	if (rc < 0) {
		log_warn("ringsink: maildir: keeping %s: %s", msg->name,
			 strerror(-rc));
		unlinkat(m->dirfd, from, 0);
	}
	smd_msg_init(msg);
	return rc;
}

void
smd_abort(struct smd *m, struct smd_msg *msg)
{
	char path[128];

	if (msg->fd >= 0) {
		close(msg->fd);
		snprintf(path, sizeof(path), "tmp/%s", msg->name);
		unlinkat(m->dirfd, path, 0);
	}
	smd_msg_init(msg);
}
