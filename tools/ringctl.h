/* SPDX-License-Identifier: MIT */
/*
 * ringctl.h: what ringctl.c (command line) and ringctl_redis.c (the
 * commands, over hiredis's blocking API) share.  A CLI may block; the
 * daemon never links this.
 */
#ifndef RINGMTA_RINGCTL_H
#define RINGMTA_RINGCTL_H

#include <stdbool.h>
#include <stdio.h>

/* sysexits.h values ringctl returns. */
#define RINGCTL_EX_OK          0
#define RINGCTL_EX_FAIL        1 /* unknown domain, refused name */
#define RINGCTL_EX_USAGE       64
#define RINGCTL_EX_UNAVAILABLE 69 /* Redis or every ringmta unreachable */

struct ringctl {
	const char *target; /* "/path.sock", "unix:/path", "IP:PORT" */
	const char *prefix; /* "" or a valid key part */
	bool json;
	bool quiet;       /* fail --quiet: no DSN */
	const char *sort; /* domains/bindings --sort FIELD; NULL: by name */
	FILE *out;
};

/*
 * Run command name with args[nargs] (already checked for count) against
 * Redis.  Prints results to c->out and errors to stderr.  Returns an exit
 * status (RINGCTL_EX_*).
 */
int ringctl_run(const struct ringctl *c, const char *name, char *const *args,
		int nargs);

#endif
