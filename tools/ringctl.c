/* SPDX-License-Identifier: MIT */
/*
 * ringctl: administers a running ringmta through Redis (and its spool where
 * needed).  Reads the same configuration file as ringmta to find them.
 *
 * This file parses the command line of DESIGN.md, loads the configuration
 * and finds Redis and the key prefix; ringctl_redis.c runs the commands on
 * keys, ringctl_ctl.c those that ringmta carries out and answers.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "ringctl.h"

struct ringctl_cmd {
	const char *name;
	int min_args, max_args;
	const char *usage;
};

static const struct ringctl_cmd ringctl_cmds[] = {
    {"summary", 0, 0, "summary"},
    {"domains", 0, 0, "domains [--sort queue|active|delayed|...]"},
    {"domain", 1, 1, "domain NAME"},
    {"bindings", 0, 0, "bindings [--sort open|connections|...]"},
    {"queue", 0, 1, "queue [DOMAIN]"},
    {"message", 1, 1, "message ID"},
    {"suspend", 1, 1, "suspend DOMAIN"},
    {"resume", 1, 1, "resume DOMAIN"},
    {"flush", 1, 1, "flush DOMAIN|all"},
    {"fail", 1, 1, "fail DOMAIN [--quiet]"},
    {"retry", 1, 1, "retry ID"},
    {"delete", 1, 1, "delete ID"},
    {"set", 3, 3, "set DOMAIN KEY VALUE"},
    {"unset", 2, 2, "unset DOMAIN KEY"},
};

static void
ringctl_usage(FILE *f)
{
	fprintf(f, "usage: ringctl [-c FILE] [--redis URL] [--json] COMMAND "
		   "[ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < nitems(ringctl_cmds); i++)
		fprintf(f, "  %s\n", ringctl_cmds[i].usage);
	fprintf(f, "\noptions:\n"
		   "  -c, --config FILE  ringmta's configuration (default: "
		   "built-in defaults)\n"
		   "      --redis URL    Redis to use instead of the "
		   "configured one\n"
		   "      --json         machine-readable output\n"
		   "      --quiet        (fail) no bounces\n"
		   "      --sort FIELD   (domains, bindings) largest first "
		   "(queue: active + delayed)\n"
		   "  -h, --help         this text\n");
}

/*
 * Where Redis is: --redis URL ("redis://IP:PORT", "unix:/path", "/path",
 * "IP:PORT") or the configuration's [redis] (no url: ringmta's own server
 * under state_dir).  Writes into buf; returns the target.
 */
static const char *
ringctl_target(const struct config *cfg, const char *url, char *buf, size_t len)
{
	const struct config_redis *r = &cfg->redis;

	if (url != NULL) {
		if (strncmp(url, "redis://", 8) == 0)
			url += 8;
		snprintf(buf, len, "%s", url);
	} else if (r->kind == CONFIG_REDIS_PRIVATE) {
		snprintf(buf, len, "%s/redis/redis.sock",
			 cfg->server.state_dir);
	} else if (r->kind == CONFIG_REDIS_UNIX) {
		snprintf(buf, len, "%s", r->socket_path);
	} else {
		snprintf(buf, len,
			 r->tcp.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
			 r->tcp.host, (unsigned)r->tcp.port);
	}
	return buf;
}

static struct config *
ringctl_config(const char *path)
{
	struct config_err_list errs;
	struct config *cfg = NULL;

	if (path == NULL)
		return config_default();
	config_err_list_init(&errs);
	if (config_load(path, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "ringctl: %s\n", errs.v[i]);
		fprintf(stderr, "ringctl: %s: cannot use this configuration\n",
			path);
		cfg = NULL;
	}
	config_err_list_fini(&errs);
	return cfg;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"redis", required_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"sort", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const struct ringctl_cmd *cmd = NULL;
	const char *cfg_path = NULL, *url = NULL;
	struct ringctl ctl = {.out = stdout};
	struct config *cfg;
	char target[4200];
	int c, nargs, rc;

	log_init("ringctl");
	while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'r':
			url = optarg;
			break;
		case 'j':
			ctl.json = true;
			break;
		case 'q':
			ctl.quiet = true;
			break;
		case 's':
			ctl.sort = optarg;
			break;
		case 'h':
			ringctl_usage(stdout);
			return 0;
		default:
			ringctl_usage(stderr);
			return 64;
		}
	}
	if (optind >= argc) {
		ringctl_usage(stderr);
		return 64;
	}
	for (size_t i = 0; i < nitems(ringctl_cmds); i++)
		if (strcmp(argv[optind], ringctl_cmds[i].name) == 0)
			cmd = &ringctl_cmds[i];
	if (cmd == NULL) {
		fprintf(stderr, "ringctl: unknown command '%s'\n",
			argv[optind]);
		ringctl_usage(stderr);
		return 64;
	}
	nargs = argc - optind - 1;
	/* "fail DOMAIN --quiet": getopt stops at the command; accept it. */
	if (strcmp(cmd->name, "fail") == 0 && nargs == 2 &&
	    strcmp(argv[argc - 1], "--quiet") == 0) {
		nargs = 1;
		ctl.quiet = true;
	}
	/* "domains --sort FIELD" after the command, as well as before it. */
	if (nargs == 2 && strcmp(argv[optind + 1], "--sort") == 0 &&
	    (strcmp(cmd->name, "domains") == 0 ||
	     strcmp(cmd->name, "bindings") == 0)) {
		nargs = 0;
		ctl.sort = argv[argc - 1];
	}
	if (ctl.sort != NULL && strcmp(cmd->name, "domains") != 0 &&
	    strcmp(cmd->name, "bindings") != 0) {
		fprintf(stderr,
			"ringctl: --sort is for domains and bindings\n");
		return 64;
	}
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		fprintf(stderr, "usage: ringctl %s\n", cmd->usage);
		return 64;
	}
	cfg = ringctl_config(cfg_path);
	if (cfg == NULL)
		return 78; /* EX_CONFIG */
	ctl.target = ringctl_target(cfg, url, target, sizeof(target));
	ctl.prefix = cfg->redis.prefix ? cfg->redis.prefix : "";
	rc = ringctl_run(&ctl, cmd->name, argv + optind + 1, nargs);
	config_free(cfg);
	return rc;
}
