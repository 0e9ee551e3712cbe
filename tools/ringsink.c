/* SPDX-License-Identifier: MIT */
/*
 * ringsink.c: the fault-scripted SMTP sink (prefix sink_): options, the
 * listeners, signals (a signalfd read through the ring: no handler does
 * work), the JSON summary (SIGUSR1: print and go on; SIGTERM/SIGINT: print
 * and exit 0) and the main loop.  The SMTP side is smtp_server.c plus
 * ringsink_sess.c; the fault language is ringsink_script.c.  See
 * docs/ringsink.md.
 */
#include "ringsink.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "tls.h"

#define SINK_LISTEN_MAX 64

struct sink_main {
	struct sink k;
	struct smtps_config cfg;
	const char *listen[SINK_LISTEN_MAX];
	unsigned nlisten;
	const char *port_file, *summary_file, *maildir, *latency_log;
	const char *tls_cert, *tls_key;
	enum tls_version tls_max;
	struct tls_ctx *tls;
	int sigfd;
	struct uop op_sig;
	struct signalfd_siginfo si;
	int64_t t_start;
	bool exiting;
};

static void
sink_usage(FILE *f)
{
	fputs("usage: ringsink --listen ADDR:PORT [--listen ...] [options]\n"
	      "  --port-file FILE        write the bound ADDR:PORT list\n"
	      "  --summary FILE          also write the JSON summary to FILE\n"
	      "  --maildir DIR           keep accepted messages (new/, env/)\n"
	      "  --latency-log FILE      one line per accepted message:\n"
	      "                          SECONDS.MICROSECONDS MESSAGE-ID\n"
	      "  --hostname NAME         greeting and EHLO name\n"
	      "  --size N                message size limit (0: none)\n"
	      "  --max-connections N     beyond: 421 and close\n"
	      "  --max-messages-per-connection N\n"
	      "  --max-recipients N      --max-errors N  --max-line N\n"
	      "  --idle-timeout DUR      --session-timeout DUR\n"
	      "  --strict-data           550 5.6.0 for bare CR/LF or NUL\n"
	      "  --no-pipelining --no-8bitmime --no-smtputf8 --no-dsn\n"
	      "  --no-size --no-enhancedstatuscodes --chunking\n"
	      "  --allow-early-talkers   --no-conventions  --reuseport\n"
	      "  --tls-cert FILE --tls-key FILE   offer STARTTLS\n"
	      "  --tls-max-version 1.2|1.3        --require-tls\n"
	      "  --tls-fault inject|no-reply      misbehave at STARTTLS\n"
	      "  --reply STAGE[/GLOB]=CODE[:TEXT][@QUAL]\n"
	      "  --reply-close STAGE[/GLOB]=CODE[:TEXT][@QUAL]\n"
	      "  --drop STAGE[/GLOB][@QUAL]  --delay STAGE[/GLOB]=DUR[@QUAL]\n"
	      "  --rcpt GLOB=CODE[:TEXT][@QUAL]\n"
	      "  --sequence 'STAGE[/GLOB] [per KEY] = STEP; STEP...'\n"
	      "  --script FILE  --seed N  --quiet  --log-level LEVEL\n"
	      "stages: banner ehlo helo mail rcpt data dot rset quit starttls\n"
	      "see docs/ringsink.md\n",
	      f);
}

enum sink_opt {
	SINK_O_LISTEN = 256,
	SINK_O_PORT_FILE,
	SINK_O_SUMMARY,
	SINK_O_MAILDIR,
	SINK_O_LATENCY_LOG,
	SINK_O_HOSTNAME,
	SINK_O_SIZE,
	SINK_O_MAX_CONN,
	SINK_O_MAX_MSGS,
	SINK_O_MAX_RCPT,
	SINK_O_MAX_ERRORS,
	SINK_O_MAX_LINE,
	SINK_O_IDLE,
	SINK_O_SESSION,
	SINK_O_STRICT,
	SINK_O_NO_PIPELINING,
	SINK_O_NO_8BITMIME,
	SINK_O_NO_SMTPUTF8,
	SINK_O_NO_DSN,
	SINK_O_NO_SIZE,
	SINK_O_NO_ENH,
	SINK_O_CHUNKING,
	SINK_O_EARLY,
	SINK_O_NO_CONV,
	SINK_O_REUSEPORT,
	SINK_O_TLS_CERT,
	SINK_O_TLS_KEY,
	SINK_O_TLS_MAX,
	SINK_O_REQUIRE_TLS,
	SINK_O_TLS_FAULT,
	SINK_O_RULE, /* --reply, --reply-close, --drop, --delay, --rcpt, ... */
	SINK_O_SCRIPT,
	SINK_O_SEED,
	SINK_O_QUIET,
	SINK_O_LOG_LEVEL,
	SINK_O_HELP,
	SINK_O__COUNT /* must stay last */
};

static const struct option sink_long[] = {
    {"listen", required_argument, NULL, SINK_O_LISTEN},
    {"port-file", required_argument, NULL, SINK_O_PORT_FILE},
    {"summary", required_argument, NULL, SINK_O_SUMMARY},
    {"maildir", required_argument, NULL, SINK_O_MAILDIR},
    {"latency-log", required_argument, NULL, SINK_O_LATENCY_LOG},
    {"hostname", required_argument, NULL, SINK_O_HOSTNAME},
    {"size", required_argument, NULL, SINK_O_SIZE},
    {"max-connections", required_argument, NULL, SINK_O_MAX_CONN},
    {"max-messages-per-connection", required_argument, NULL, SINK_O_MAX_MSGS},
    {"max-recipients", required_argument, NULL, SINK_O_MAX_RCPT},
    {"max-errors", required_argument, NULL, SINK_O_MAX_ERRORS},
    {"max-line", required_argument, NULL, SINK_O_MAX_LINE},
    {"idle-timeout", required_argument, NULL, SINK_O_IDLE},
    {"session-timeout", required_argument, NULL, SINK_O_SESSION},
    {"strict-data", no_argument, NULL, SINK_O_STRICT},
    {"no-pipelining", no_argument, NULL, SINK_O_NO_PIPELINING},
    {"no-8bitmime", no_argument, NULL, SINK_O_NO_8BITMIME},
    {"no-smtputf8", no_argument, NULL, SINK_O_NO_SMTPUTF8},
    {"no-dsn", no_argument, NULL, SINK_O_NO_DSN},
    {"no-size", no_argument, NULL, SINK_O_NO_SIZE},
    {"no-enhancedstatuscodes", no_argument, NULL, SINK_O_NO_ENH},
    {"chunking", no_argument, NULL, SINK_O_CHUNKING},
    {"allow-early-talkers", no_argument, NULL, SINK_O_EARLY},
    {"no-conventions", no_argument, NULL, SINK_O_NO_CONV},
    {"reuseport", no_argument, NULL, SINK_O_REUSEPORT},
    {"tls-cert", required_argument, NULL, SINK_O_TLS_CERT},
    {"tls-key", required_argument, NULL, SINK_O_TLS_KEY},
    {"tls-max-version", required_argument, NULL, SINK_O_TLS_MAX},
    {"require-tls", no_argument, NULL, SINK_O_REQUIRE_TLS},
    {"tls-fault", required_argument, NULL, SINK_O_TLS_FAULT},
    {"reply", required_argument, NULL, SINK_O_RULE},
    {"reply-close", required_argument, NULL, SINK_O_RULE},
    {"drop", required_argument, NULL, SINK_O_RULE},
    {"delay", required_argument, NULL, SINK_O_RULE},
    {"rcpt", required_argument, NULL, SINK_O_RULE},
    {"sequence", required_argument, NULL, SINK_O_RULE},
    {"script", required_argument, NULL, SINK_O_SCRIPT},
    {"seed", required_argument, NULL, SINK_O_SEED},
    {"quiet", no_argument, NULL, SINK_O_QUIET},
    {"log-level", required_argument, NULL, SINK_O_LOG_LEVEL},
    {"help", no_argument, NULL, SINK_O_HELP},
    {NULL, 0, NULL, 0},
};

static uint64_t
sink_number(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno)
		log_fatal(2, "--%s: not a number: %s", opt, s);
	return v;
}

static unsigned
sink_ms(const char *opt, const char *s)
{
	int64_t ns;

	if (sscript_duration(s, strlen(s), &ns) < 0 || ns < 1000000)
		log_fatal(2, "--%s: bad duration %s (e.g. 500ms, 30s, 5m)", opt,
			  s);
	return (unsigned)(ns / 1000000);
}

/* One option that is not a fault rule. */
static void
sink_option(struct sink_main *m, int c, const char *name, const char *arg)
{
	struct smtps_config *cfg = &m->cfg;

	switch (c) {
	case SINK_O_LISTEN:
		if (m->nlisten == SINK_LISTEN_MAX)
			log_fatal(2, "too many --listen");
		m->listen[m->nlisten++] = arg;
		break;
	case SINK_O_PORT_FILE:
		m->port_file = arg;
		break;
	case SINK_O_SUMMARY:
		m->summary_file = arg;
		break;
	case SINK_O_MAILDIR:
		m->maildir = arg;
		break;
	case SINK_O_LATENCY_LOG:
		m->latency_log = arg;
		break;
	case SINK_O_HOSTNAME:
		cfg->hostname = arg;
		break;
	case SINK_O_SIZE:
		cfg->size_max = sink_number(name, arg);
		break;
	case SINK_O_MAX_CONN:
		cfg->sessions_max = (unsigned)sink_number(name, arg);
		break;
	case SINK_O_MAX_MSGS:
		m->k.max_msgs_per_conn = (unsigned)sink_number(name, arg);
		break;
	case SINK_O_MAX_RCPT:
		cfg->rcpt_max = (unsigned)sink_number(name, arg);
		break;
	case SINK_O_MAX_ERRORS:
		cfg->errors_max = (unsigned)sink_number(name, arg);
		break;
	case SINK_O_MAX_LINE:
		cfg->line_max = (size_t)sink_number(name, arg);
		break;
	case SINK_O_IDLE:
		cfg->idle_timeout_ms = sink_ms(name, arg);
		break;
	case SINK_O_SESSION:
		cfg->session_timeout_ms = sink_ms(name, arg);
		break;
	case SINK_O_SEED:
		sscript_seed(m->k.script, sink_number(name, arg));
		break;
	case SINK_O_TLS_CERT:
		m->tls_cert = arg;
		break;
	case SINK_O_TLS_KEY:
		m->tls_key = arg;
		break;
	case SINK_O_TLS_MAX:
		if (strcmp(arg, "1.2") == 0)
			m->tls_max = TLS_V_1_2;
		else if (strcmp(arg, "1.3") == 0)
			m->tls_max = TLS_V_1_3;
		else
			log_fatal(2, "--tls-max-version: 1.2 or 1.3, not %s",
				  arg);
		break;
	case SINK_O_TLS_FAULT:
		if (strcmp(arg, "inject") == 0)
			m->k.tls_inject = true;
		else if (strcmp(arg, "no-reply") == 0)
			m->k.tls_no_reply = true;
		else
			log_fatal(2, "--tls-fault: inject or no-reply, not %s",
				  arg);
		break;
	case SINK_O_LOG_LEVEL:
		if (log_level_parse(arg) < 0)
			log_fatal(2, "--log-level: unknown level %s", arg);
		log_set_level((enum log_level)log_level_parse(arg));
		break;
	default:
		break;
	}
}

/* Flags that only set or clear a bit. */
static bool
sink_flag(struct sink_main *m, int c)
{
	static const struct {
		int opt;
		unsigned cap;
	} caps[] = {
	    {SINK_O_NO_PIPELINING, SMTPS_CAP_PIPELINING},
	    {SINK_O_NO_8BITMIME, SMTPS_CAP_8BITMIME},
	    {SINK_O_NO_SMTPUTF8, SMTPS_CAP_SMTPUTF8},
	    {SINK_O_NO_DSN, SMTPS_CAP_DSN},
	    {SINK_O_NO_SIZE, SMTPS_CAP_SIZE},
	    {SINK_O_NO_ENH, SMTPS_CAP_ENHANCEDSTATUSCODES},
	};

	for (size_t i = 0; i < nitems(caps); i++) {
		if (caps[i].opt == c) {
			m->cfg.caps &= ~caps[i].cap;
			return true;
		}
	}
	switch (c) {
	case SINK_O_CHUNKING:
		m->cfg.caps |= SMTPS_CAP_CHUNKING;
		return true;
	case SINK_O_STRICT:
		m->k.strict_data = true;
		return true;
	case SINK_O_EARLY:
		m->cfg.early_talker_ok = true;
		return true;
	case SINK_O_NO_CONV:
		m->k.conventions = false;
		return true;
	case SINK_O_REUSEPORT:
		m->cfg.reuseport = true;
		return true;
	case SINK_O_REQUIRE_TLS:
		m->cfg.tls_required = true;
		return true;
	case SINK_O_QUIET:
		log_set_level(LOG_ERR);
		return true;
	default:
		return false;
	}
}

static void
sink_args(struct sink_main *m, int argc, char **argv)
{
	char err[512], where[64];
	int c, idx;

	while ((c = getopt_long(argc, argv, "h", sink_long, &idx)) != -1) {
		const char *name = c >= 256 ? sink_long[idx].name : "?";

		if (c == 'h' || c == SINK_O_HELP) {
			sink_usage(stdout);
			exit(0);
		}
		if (c == '?') {
			sink_usage(stderr);
			exit(2);
		}
		if (sink_flag(m, c))
			continue;
		if (c == SINK_O_RULE) {
			snprintf(where, sizeof(where), "--%s", name);
			if (sscript_add(m->k.script, name, optarg, where, err,
					sizeof(err)) < 0)
				log_fatal(2, "%s", err);
		} else if (c == SINK_O_SCRIPT) {
			if (sscript_load_file(m->k.script, optarg, err,
					      sizeof(err)) < 0)
				log_fatal(2, "%s", err);
		} else {
			sink_option(m, c, name, optarg);
		}
	}
	if (optind < argc)
		log_fatal(2, "unexpected argument: %s", argv[optind]);
	if (m->nlisten == 0)
		log_fatal(2, "no --listen address (try --help)");
	if ((m->tls_cert == NULL) != (m->tls_key == NULL))
		log_fatal(2, "--tls-cert and --tls-key go together");
	if (m->tls_cert == NULL &&
	    (m->cfg.tls_required || m->k.tls_inject || m->k.tls_no_reply))
		log_fatal(2, "--require-tls and --tls-fault need --tls-cert");
}

/* The STARTTLS context from --tls-cert/--tls-key (exit 2 when unusable). */
static void
sink_tls(struct sink_main *m)
{
	struct tls_server_opts o = {0};
	char err[512];

	if (m->tls_cert == NULL)
		return;
	o.cert_file = m->tls_cert;
	o.key_file = m->tls_key;
	o.max_version = m->tls_max;
	if (tls_ctx_new_server(&o, &m->tls, err, sizeof(err)) < 0)
		log_fatal(2, "--tls-cert %s --tls-key %s: %s", m->tls_cert,
			  m->tls_key, err);
	m->cfg.tls = m->tls;
}

/* ---- files and summary ----------------------------------------------------
 */

/* Write buf[len] to path through path.tmp and a rename. */
static int
sink_write_file(const char *path, const char *buf, size_t len)
{
	char tmp[4096];
	FILE *f;
	int rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (f == NULL)
		return -errno;
	if (fwrite(buf, 1, len, f) != len)
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) == -1)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static void
sink_summary(struct sink_main *m)
{
	struct jsonw w;
	int rc;

	ssess_latency_flush(&m->k); /* a reader of the summary sees it all */
	jsonw_init(&w);
	sstats_json(&m->k.st, smtps_server_stats(m->k.srv),
		    (ring_now_update(m->k.ring) - m->t_start) / 1000000, &w);
	fwrite(w.buf, 1, w.len, stdout);
	fflush(stdout);
	if (m->summary_file) {
		rc = sink_write_file(m->summary_file, w.buf, w.len);
		if (rc < 0)
			log_warn("ringsink: --summary %s: %s", m->summary_file,
				 strerror(-rc));
	}
	jsonw_fini(&w);
}

static void
sink_port_file(struct sink_main *m)
{
	size_t len = 0;
	char *buf = NULL;

	for (unsigned i = 0; i < smtps_listener_count(m->k.srv); i++) {
		const char *n = smtps_listener_name(m->k.srv, i);
		size_t nl = strlen(n);

		fprintf(stderr, "ringsink: listening on %s\n", n);
		buf = xrealloc(buf, len + nl + 2);
		memcpy(buf + len, n, nl);
		buf[len + nl] = '\n';
		len += nl + 1;
	}
	fflush(stderr);
	if (m->port_file) {
		int rc = sink_write_file(m->port_file, buf, len);

		if (rc < 0)
			log_fatal(1, "--port-file %s: %s", m->port_file,
				  strerror(-rc));
	}
	free(buf);
}

/* ---- signals ------------------------------------------------------------ */

static void sink_sig_done(struct uop *op, int res, unsigned flags);

static void
sink_sig_arm(struct sink_main *m)
{
	if (m->exiting)
		return;
	if (ring_read(m->k.ring, &m->op_sig, m->sigfd, &m->si, sizeof(m->si),
		      0) < 0)
		log_fatal(1, "ringsink: cannot read signals");
}

static void
sink_sig_done(struct uop *op, int res, unsigned flags)
{
	struct sink_main *m = container_of(op, struct sink_main, op_sig);

	(void)flags;
	if (res == (int)sizeof(m->si)) {
		if (m->si.ssi_signo == SIGUSR1) {
			sink_summary(m);
		} else {
			log_info("ringsink: signal %u: exiting",
				 m->si.ssi_signo);
			sink_summary(m);
			m->exiting = true;
			smtps_server_stop(m->k.srv);
			ring_stop(m->k.ring);
			return;
		}
	} else if (res < 0 && res != -EINTR && res != -EAGAIN) {
		if (res == -ECANCELED || res == -ESHUTDOWN)
			return;
		log_fatal(1, "ringsink: signalfd read: %s", strerror(-res));
	}
	sink_sig_arm(m);
}

static void
sink_signals(struct sink_main *m)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		log_fatal(1, "sigprocmask: %s", strerror(errno));
	m->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (m->sigfd == -1)
		log_fatal(1, "signalfd: %s", strerror(errno));
	uop_init(&m->op_sig, sink_sig_done);
}

static void
sink_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("ringsink: raising RLIMIT_NOFILE: %s",
				 strerror(errno));
	}
}

/* ---- main ------------------------------------------------------------------
 */

static void
sink_setup(struct sink_main *m)
{
	int err;
	struct ring_opts ro = {0};

	m->k.ring = ring_new(&ro, &err);
	if (m->k.ring == NULL)
		log_fatal(err == -ENOSYS || err == -EPERM ? 77 : 1,
			  "ringsink: io_uring unavailable: %s", strerror(-err));
	m->t_start = ring_now_update(m->k.ring);
	if (m->maildir) {
		err = smd_open(&m->k.md, m->maildir);
		if (err < 0)
			log_fatal(1, "--maildir %s: %s", m->maildir,
				  strerror(-err));
	}
	if (m->latency_log) {
		m->k.lat = fopen(m->latency_log, "we");
		if (m->k.lat == NULL)
			log_fatal(1, "--latency-log %s: %s", m->latency_log,
				  strerror(errno));
		/* 1 MiB of lines (about 25,000) between writes */
		setvbuf(m->k.lat, NULL, _IOFBF, 1 << 20);
	}
	m->k.srv = smtps_server_new(m->k.ring, &m->cfg, &ssess_ops, &m->k);
	for (unsigned i = 0; i < m->nlisten; i++) {
		err = smtps_listen(m->k.srv, m->listen[i], NULL, 0);
		if (err < 0)
			log_fatal(1, "--listen %s: %s", m->listen[i],
				  err == -EINVAL ? "bad address (ADDR:PORT, "
						   "[V6]:PORT)"
						 : strerror(-err));
		/* every listener shows in the summary, even unused */
		(void)sstats_get(&m->k.st.listen,
				 smtps_listener_name(m->k.srv, (unsigned)err));
	}
	log_info("ringsink: %zu bytes per session (engine), %u rules%s",
		 smtps_session_footprint(m->k.srv),
		 sscript_rule_count(m->k.script),
		 m->tls ? ", STARTTLS offered" : "");
}

static void
sink_teardown(struct sink_main *m)
{
	int64_t end = ring_now_update(m->k.ring) + 2000000000LL;

	while (!smtps_server_idle(m->k.srv) && ring_now_update(m->k.ring) < end)
		if (ring_run_once(m->k.ring, 50000000) < 0)
			break;
	(void)ring_cancel(m->k.ring, &m->op_sig);
	(void)ring_shutdown(m->k.ring, 2000);
	if (smtps_server_idle(m->k.srv))
		smtps_server_free(m->k.srv);
	tls_ctx_free(m->tls);
	ring_free(m->k.ring);
	close(m->sigfd);
	smd_close(&m->k.md);
	ssess_latency_flush(&m->k);
	if (m->k.lat != NULL)
		fclose(m->k.lat);
	ssess_pool_free(&m->k);
	sscript_free(m->k.script);
	sstats_fini(&m->k.st);
	jsonw_fini(&m->k.env);
}

int
main(int argc, char **argv)
{
	static struct sink_main m;
	int rc;

	log_init("ringsink");
	m.k.script = sscript_new();
	m.k.conventions = true;
	m.k.md.dirfd = -1;
	m.cfg.hostname = "ringsink.test";
	m.cfg.caps = SMTPS_CAP_DEFAULT;
	m.cfg.session_timeout_ms = 3600000;
	sstats_init(&m.k.st);
	jsonw_init(&m.k.env);
	sink_args(&m, argc, argv);
	sink_tls(&m);
	sink_nofile();
	sink_signals(&m);
	sink_setup(&m);
	sink_sig_arm(&m);
	sink_port_file(&m);
	rc = ring_run(m.k.ring);
	sink_teardown(&m);
	return rc < 0 ? 1 : 0;
}
