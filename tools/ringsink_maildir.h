/* SPDX-License-Identifier: MIT */
/*
 * ringsink_maildir.h: ringsink's --maildir store (prefix smd_).  Each
 * accepted message is kept exactly as received after dot-unstuffing in
 * DIR/new/NAME, with its envelope as one JSON object in DIR/env/NAME.  The
 * body is written to DIR/tmp/NAME while it arrives; on acceptance the
 * envelope is written (env/.NAME.tmp, renamed) and then tmp/NAME is renamed
 * to new/NAME, so a file in new/ always has its envelope.  The writes are
 * synchronous syscalls: the maildir is a test feature, off the fast path.
 */
#ifndef RINGMTA_RINGSINK_MAILDIR_H
#define RINGMTA_RINGSINK_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"

struct smd {
	int dirfd; /* DIR, or -1 when the maildir is off */
	uint64_t seq;
	char host[64];
};

/* One message being written; embed it in the session. */
struct smd_msg {
	int fd; /* -1: none open */
	bool failed;
	char name[96];
};

/* Create DIR/{tmp,new,cur,env} as needed and open DIR.  Returns 0 or
 * -errno. */
int smd_open(struct smd *m, const char *dir) ATTR_WUR;
void smd_close(struct smd *m);
static inline bool
smd_enabled(const struct smd *m)
{
	return m->dirfd >= 0;
}
void smd_msg_init(struct smd_msg *msg);
/* Start a message (tmp/NAME).  Returns 0 or -errno (msg->failed set). */
int smd_begin(struct smd *m, struct smd_msg *msg);
/* Append body bytes; a failure sets msg->failed (and is logged once). */
void smd_write(struct smd_msg *msg, const char *buf, size_t len);
/* Keep the message: write env_json[env_len] to env/NAME, then move the
 * body to new/NAME.  Returns 0 or -errno (the message is then dropped). */
int smd_commit(struct smd *m, struct smd_msg *msg, const char *env_json,
	       size_t env_len);
/* Drop the message being written (harmless when none). */
void smd_abort(struct smd *m, struct smd_msg *msg);

#endif
