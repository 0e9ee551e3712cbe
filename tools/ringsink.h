/* SPDX-License-Identifier: MIT */
/*
 * ringsink.h: the pieces of ringsink shared by ringsink.c (options,
 * signals, summary, main loop; prefix sink_) and ringsink_sess.c (the
 * SMTP callbacks: fault verdicts, counting, maildir; prefix ssess_).
 * One struct sink per process; it owns the ring, the server, the rules,
 * the counters and the maildir.
 */
#ifndef RINGMTA_RINGSINK_H
#define RINGMTA_RINGSINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "jsonw.h"
#include "ring.h"
#include "ringsink_maildir.h"
#include "ringsink_script.h"
#include "ringsink_stats.h"
#include "smtp_server.h"

struct ssess;

struct sink {
	struct ring *ring;
	struct smtps_server *srv;
	struct sscript *script;
	struct sstats st;
	struct smd md;
	struct jsonw env; /* envelope JSON, reused */
	struct ssess *pool;
	unsigned npool;
	/* options */
	bool strict_data;
	bool conventions;
	unsigned max_msgs_per_conn; /* 0: unlimited */
	/* --tls-fault: misbehave at STARTTLS for client tests */
	bool tls_inject;   /* "220 Ready" + "250 injected" in one write */
	bool tls_no_reply; /* never answer STARTTLS */
	/* --latency-log: one line per accepted message (ssess_latency) */
	FILE *lat;
	bool lat_failed; /* a write to it failed (warned once) */
};

/* The engine callbacks ringsink runs on (ringsink_sess.c). */
extern const struct smtps_ops ssess_ops;
/* Flush the --latency-log buffer (at each summary and at exit); warns
 * once if a write failed.  No-op without --latency-log. */
void ssess_latency_flush(struct sink *k);
/* Free the pooled session records (at exit). */
void ssess_pool_free(struct sink *k);

#endif
