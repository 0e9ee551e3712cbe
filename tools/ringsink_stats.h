/* SPDX-License-Identifier: MIT */
/*
 * ringsink_stats.h: ringsink's counters and its JSON summary (prefix
 * sstats_).  Global counters, reply counters by code, anomaly counters, and
 * three keyed tables (per listen address, per client address, per HELO
 * name) with the same per-key counters.  Tables are bounded: past
 * SSTATS_KEYS_MAX keys, new keys are counted under "(other)".  Entries live
 * as long as the tables (sessions keep pointers to them).  No I/O: the
 * summary is written into a struct jsonw.
 */
#ifndef RINGMTA_RINGSINK_STATS_H
#define RINGMTA_RINGSINK_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"
#include "smtp_data.h"
#include "smtp_server.h"

#define SSTATS_KEYS_MAX 10000

struct sstats;

/* TLS protocol versions counted in the summary ("tls_protocols"). */
enum sstats_tls_proto {
	SSTATS_TLS_PROTO_12 = 0, /* "TLSv1.2" */
	SSTATS_TLS_PROTO_13,     /* "TLSv1.3" */
	SSTATS_TLS_PROTO_OTHER,  /* anything else tls.c reports */
	SSTATS_TLS_PROTO__COUNT  /* must stay last */
};
const char *sstats_tls_proto_str(enum sstats_tls_proto p);
/* A completed handshake of protocol proto ("TLSv1.3"). */
void sstats_tls(struct sstats *st, const char *proto);

struct sstats_cnt {
	uint64_t connections;    /* sessions started */
	uint64_t messages;       /* messages accepted (2xx after data) */
	uint64_t recipients;     /* recipients of accepted messages */
	uint64_t bytes;          /* bytes of accepted messages */
	uint64_t max_concurrent; /* peak of current */
	uint64_t current;        /* sessions open now */
};

struct sstats_ent {
	char *key;
	struct sstats_cnt c;
};

struct sstats_table {
	struct sstats_ent **v; /* open addressing, cap a power of 2 */
	size_t n, cap;
	struct sstats_ent other; /* key "(other)" once the table is full */
};

struct sstats {
	struct sstats_ent all; /* key unused */
	uint64_t mail, rcpt, rcpt_accepted, data, bdat;
	uint64_t messages_rejected; /* non-2xx at end of data */
	uint64_t messages_oversize;
	uint64_t messages_anomalous; /* with any line-ending anomaly */
	uint64_t drops, delays;
	uint64_t an[SDATA_AN__COUNT];
	uint64_t smuggling; /* sum of the "." line anomalies */
	uint64_t replies[600];
	uint64_t closes[SMTPS_CLOSE__COUNT];
	uint64_t maildir_errors;
	uint64_t tls_sessions; /* handshakes completed */
	uint64_t tls_messages; /* accepted messages received under TLS */
	uint64_t tls_proto[SSTATS_TLS_PROTO__COUNT];
	struct sstats_table listen, client, helo;
};

void sstats_init(struct sstats *st);
void sstats_fini(struct sstats *st);
/* Find or create the entry for key (never NULL; "(other)" when full). */
struct sstats_ent *sstats_get(struct sstats_table *t, const char *key);
/* A session starts / ends under entry e (NULL: ignored). */
void sstats_open(struct sstats_ent *e);
void sstats_close(struct sstats_ent *e);
/* An accepted message of rcpts recipients and bytes bytes under e. */
void sstats_message(struct sstats_ent *e, unsigned rcpts, uint64_t bytes);
/* Count a decoder's anomalies (once per message). */
void sstats_anomalies(struct sstats *st, const struct sdata_stats *ds);
/*
 * Write the summary object (and its newline) to w; ss adds the engine's
 * counters (connections refused over the limit, pipelining violations,
 * early talkers, STARTTLS, handshake failures and discarded plaintext,
 * and its 421s to refused connections under "replies").
 */
void sstats_json(const struct sstats *st, const struct smtps_server_stats *ss,
		 int64_t uptime_ms, struct jsonw *w);

#endif
