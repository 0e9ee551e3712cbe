/* SPDX-License-Identifier: MIT */
/*
 * main.c: ringmta's entry point.  Arguments, configuration, signals, the
 * ring's loop; no policy.
 *
 *   ringmta [-c FILE] [--check-config [-v]] [--log-level LEVEL]
 *
 * Runs in the foreground and logs to stderr (systemd style).  SIGTERM and
 * SIGINT stop it (exit 0) after the ring has drained; SIGHUP reloads the
 * configuration (a bad file is reported and the running one kept).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "ring.h"
#include "sig.h"

#define RINGMTA_VERSION "0.1.0"

/* Exit statuses: 0 ok, 2 configuration error, 64 usage, 70 software,
 * 71 system (sysexits.h). */
enum main_exit {
	MAIN_EXIT_OK = 0,
	MAIN_EXIT_CONFIG = 2,
	MAIN_EXIT_USAGE = 64,
	MAIN_EXIT_OSERR = 71,
};

struct main_state {
	struct ring *ring;
	struct config *cfg;
	const char *cfg_path;
	struct sig_watch sigs;
	struct daemon *daemon;
	int exit_status;
};

static void
main_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ringmta [-c FILE] [--check-config [-v]] [--log-level "
	    "LEVEL]\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default: built-in "
	    "single-host\n"
	    "                      defaults: spool under ./var, listener on "
	    "127.0.0.1:10025)\n"
	    "      --check-config  validate the configuration and exit (0 ok, "
	    "2 errors)\n"
	    "  -v, --verbose       with --check-config: print every effective "
	    "key\n"
	    "      --list-queue    replay the spool (daemon stopped) and print "
	    "each live\n"
	    "                      message: ID <SENDER> RECIPIENTS LIVE\n"
	    "      --log-level L   error, warn, info, debug or trace "
	    "(overrides [server])\n"
	    "  -V, --version       print the version\n"
	    "  -h, --help          this text\n");
}

/* Load the configuration (or the built-in one); print errors as
 * file:line: reason.  Returns NULL on error. */
static struct config *
main_load_config(const char *path)
{
	struct config_err_list errs;
	struct config *cfg = NULL;
	int rc;

	if (path == NULL)
		return config_default();
	config_err_list_init(&errs);
	rc = config_load(path, &cfg, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.v[i]);
	if (errs.dropped)
		fprintf(stderr, "%s: ... and %zu more errors\n", path,
			errs.dropped);
	config_err_list_fini(&errs);
	if (rc < 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static void
main_on_signal(struct sig_watch *w, int signo)
{
	struct main_state *st = container_of(w, struct main_state, sigs);
	struct config *cfg;

	switch (signo) {
	case SIGTERM:
	case SIGINT:
		log_info("received %s: stopping", strsignal(signo));
		ring_stop(st->ring);
		break;
	case SIGHUP:
		if (st->cfg_path == NULL) {
			log_info("SIGHUP: built-in configuration, nothing to "
				 "reload");
			break;
		}
		cfg = main_load_config(st->cfg_path);
		if (cfg == NULL) {
			log_err("SIGHUP: %s has errors; keeping the running "
				"configuration",
				st->cfg_path);
			break;
		}
		if (st->daemon)
			daemon_reconfigure(st->daemon, cfg);
		config_free(st->cfg);
		st->cfg = cfg;
		log_set_level((enum log_level)cfg->server.log_level);
		log_info("SIGHUP: configuration reloaded from %s",
			 st->cfg_path);
		break;
	default:
		break;
	}
}

static int
main_run(struct main_state *st)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGHUP};
	int err, rc;

	st->ring = ring_new(NULL, &err);
	if (st->ring == NULL) {
		log_err("cannot set up io_uring: %s", strerror(-err));
		return MAIN_EXIT_OSERR;
	}
	rc = sig_watch_start(&st->sigs, st->ring, signals, nitems(signals),
			     main_on_signal);
	if (rc < 0) {
		log_err("cannot watch signals: %s", strerror(-rc));
		ring_free(st->ring);
		return MAIN_EXIT_OSERR;
	}
	rc = daemon_start(st->ring, st->cfg, &st->daemon);
	if (rc < 0) {
		sig_watch_stop(&st->sigs);
		ring_shutdown(st->ring, 5000);
		ring_free(st->ring);
		return MAIN_EXIT_OSERR;
	}
	log_info("ringmta %s started (node %s)", RINGMTA_VERSION,
		 st->cfg->server.node_id);
	rc = ring_run(st->ring);
	daemon_stop(st->daemon);
	st->daemon = NULL;
	sig_watch_stop(&st->sigs);
	if (ring_shutdown(st->ring, 5000) < 0)
		log_warn("ring did not drain within 5 s");
	ring_free(st->ring);
	log_info("stopped");
	return rc < 0 ? MAIN_EXIT_OSERR : MAIN_EXIT_OK;
}

/* --list-queue: replay the spool and print its live messages. */
static int
main_list_queue(struct main_state *st)
{
	int err, rc;

	st->ring = ring_new(NULL, &err);
	if (st->ring == NULL) {
		log_err("cannot set up io_uring: %s", strerror(-err));
		return MAIN_EXIT_OSERR;
	}
	rc = daemon_list_queue(st->ring, st->cfg, stdout);
	ring_shutdown(st->ring, 5000);
	ring_free(st->ring);
	return rc < 0 ? MAIN_EXIT_OSERR : MAIN_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"list-queue", no_argument, NULL, 'Q'},
	    {"log-level", required_argument, NULL, 'L'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct main_state st;
	int c, check = 0, verbose = 0, list = 0, level = -1, status;

	memset(&st, 0, sizeof(st));
	log_init("ringmta");
	while ((c = getopt_long(argc, argv, "c:vVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			st.cfg_path = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'Q':
			list = 1;
			break;
		case 'L':
			level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "ringmta: bad log level '%s'\n",
					optarg);
				return MAIN_EXIT_USAGE;
			}
			break;
		case 'V':
			printf("ringmta %s\n", RINGMTA_VERSION);
			return MAIN_EXIT_OK;
		case 'h':
			main_usage(stdout);
			return MAIN_EXIT_OK;
		default:
			main_usage(stderr);
			return MAIN_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringmta: unexpected argument '%s'\n",
			argv[optind]);
		main_usage(stderr);
		return MAIN_EXIT_USAGE;
	}
	st.cfg = main_load_config(st.cfg_path);
	if (st.cfg == NULL)
		return MAIN_EXIT_CONFIG;
	if (check) {
		if (verbose)
			config_dump(st.cfg, stdout, 0);
		else
			printf("%s: configuration ok\n",
			       st.cfg_path ? st.cfg_path : "(built-in)");
		config_free(st.cfg);
		return MAIN_EXIT_OK;
	}
	log_set_level(level >= 0 ? (enum log_level)level
				 : (enum log_level)st.cfg->server.log_level);
	if (list) {
		status = main_list_queue(&st);
		config_free(st.cfg);
		return status;
	}
	status = main_run(&st);
	config_free(st.cfg);
	return status;
}
