/* SPDX-License-Identifier: MIT */
/*
 * spoold: the spool crash-test driver (tests/integration/test_spool_crash.sh).
 *
 *   spoold DIR run [MAX]   commit messages continuously (16 at a time, some
 *                          streamed); print "ACK <id>" once a commit callback
 *                          reported 0, and "DONE <id>" once a message marked
 *                          all-delivered is durably done; stop committing
 *                          after MAX messages (default 2000) and idle.
 *   spoold DIR verify      read those lines on stdin; every ACKed id that is
 *                          not DONE must be live with its body byte-exact;
 *                          every DONE id must be gone.  Exit 0 when so.
 *
 * Bodies are derived from the id, so verify needs nothing else.  Lines are
 * written with one write() each and flushed, so a kill -9 can cut at most
 * the line being written, which verify ignores.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "ring.h"
#include "spool.h"

#define SPOOLD_SLOTS 16
#define SPOOLD_PIECE 65536

enum spoold_slot_state {
	SPOOLD_IDLE = 0,
	SPOOLD_FEED,
	SPOOLD_BUSY,
	SPOOLD_COMMIT,
	SPOOLD__COUNT /* must stay last */
};

struct spoold_slot {
	struct spool_txn t;
	uint8_t id[SPOOL_ID_LEN];
	uint8_t *body;
	size_t len, off;
	int state;
};

static struct spool *spoold_sp;
static unsigned spoold_started, spoold_max = 2000;

/* Body length and bytes, both derived from the id. */
static size_t
spoold_body_len(const uint8_t *id)
{
	if (id[2] < 2) /* about 1 in 128: streamed (past 1 MiB) */
		return (1u << 20) + 1000u * id[3] + id[4];
	return 2 + (size_t)(id[0] | id[1] << 8) % 12000;
}

static void
spoold_body(const uint8_t *id, uint8_t *p, size_t len)
{
	uint64_t x;

	memcpy(&x, id + 8, sizeof(x));
	x |= 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 32);
	}
	p[len - 2] = '\r';
	p[len - 1] = '\n';
}

static void
spoold_line(const char *what, const uint8_t *id)
{
	char ids[SPOOL_ID_STR_LEN], line[64];
	int n = snprintf(line, sizeof(line), "%s %s\n", what,
			 spool_id_str(id, ids));

	if (write(STDOUT_FILENO, line, (size_t)n) != n)
		exit(3);
}

static void
spoold_on_done_mark(void *arg, int err)
{
	uint8_t *id = arg;

	if (err == 0)
		spoold_line("DONE", id);
	free(id);
}

static void
spoold_on_commit(void *arg, int err)
{
	struct spoold_slot *s = arg;
	struct spool_state st = {.state = RECORD_RS_DEFERRED,
				 .attempts = 1,
				 .next_try_us = 1,
				 .code = 451,
				 .text = "later"};
	int rc;

	s->state = SPOOLD_IDLE;
	free(s->body);
	s->body = NULL;
	if (err < 0) {
		fprintf(stderr, "spoold: commit failed: %s\n", strerror(-err));
		return;
	}
	spoold_line("ACK", s->id);
	if (s->id[5] < 64) { /* a quarter: all delivered -> DONE */
		uint8_t *id = malloc(SPOOL_ID_LEN);

		memcpy(id, s->id, SPOOL_ID_LEN);
		st.state = RECORD_RS_DELIVERED;
		st.next_try_us = 0;
		rc = spool_mark(spoold_sp, s->id, 0, 2, &st,
				spoold_on_done_mark, id);
		if (rc != 1)
			exit(4);
	} else if (s->id[5] < 128) { /* a quarter: one deferred */
		rc = spool_mark(spoold_sp, s->id, 1, 1, &st, NULL, NULL);
		if (rc != 0)
			exit(4);
	}
}

static void
spoold_on_resume(void *arg)
{
	struct spoold_slot *s = arg;

	if (s->state == SPOOLD_BUSY)
		s->state = SPOOLD_FEED;
}

static void
spoold_start(struct spoold_slot *s)
{
	static const struct record_msg_rcpt rcpt[2] = {
	    {.addr = {(const uint8_t *)"a@one.example", 13}},
	    {.addr = {(const uint8_t *)"b@two.example", 13},
	     .notify = RECORD_NOTIFY_FAILURE},
	};
	struct spool_env env = {
	    .sender = {(const uint8_t *)"s@spoold.example", 16},
	    .rcpt = rcpt,
	    .nrcpt = 2,
	};

	if (spool_txn_begin(spoold_sp, &s->t, &env, spoold_on_resume, s) < 0)
		return; /* unhealthy: try again next turn */
	memcpy(s->id, spool_txn_id(&s->t), SPOOL_ID_LEN);
	s->len = spoold_body_len(s->id);
	s->body = malloc(s->len);
	spoold_body(s->id, s->body, s->len);
	s->off = 0;
	s->state = SPOOLD_FEED;
	spoold_started++;
}

static void
spoold_feed(struct spoold_slot *s)
{
	while (s->state == SPOOLD_FEED && s->off < s->len) {
		size_t n = s->len - s->off;
		int rc;

		n = n < SPOOLD_PIECE ? n : SPOOLD_PIECE;
		rc = spool_txn_body(&s->t, s->body + s->off, n);
		if (rc < 0) {
			spool_txn_abort(&s->t);
			free(s->body);
			s->body = NULL;
			s->state = SPOOLD_IDLE;
			return;
		}
		s->off += n;
		if (rc == SPOOL_BUSY)
			s->state = SPOOLD_BUSY;
	}
	if (s->off == s->len) {
		s->state = SPOOLD_COMMIT;
		spool_txn_commit(&s->t, spoold_on_commit, s);
	}
}

static int
spoold_run(struct ring *r)
{
	static struct spoold_slot slots[SPOOLD_SLOTS];

	for (;;) {
		for (int i = 0; i < SPOOLD_SLOTS; i++) {
			struct spoold_slot *s = &slots[i];

			if (s->state == SPOOLD_IDLE &&
			    spoold_started < spoold_max)
				spoold_start(s);
			if (s->state == SPOOLD_FEED)
				spoold_feed(s);
		}
		if (ring_run_once(r, 10 * 1000000) < 0)
			return 2;
	}
}

static int
spoold_hex(const char *s, uint8_t *id)
{
	for (int i = 0; i < SPOOL_ID_LEN; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		id[i] = (uint8_t)v;
	}
	return 0;
}

/* Is the live message id there with its body, byte-exact? */
static int
spoold_check(const uint8_t *id)
{
	struct spool_body b;
	uint8_t *want, *got;
	size_t len = spoold_body_len(id);
	int ok;

	if (spool_body_loc(spoold_sp, id, &b) < 0 || b.len != len)
		return 0;
	want = malloc(len);
	got = malloc(len);
	spoold_body(id, want, len);
	ok = pread(b.fd, got, len, (off_t)b.off) == (ssize_t)len &&
	     memcmp(got, want, len) == 0 &&
	     crc32c(b.crc_init, got, len) == b.crc_final;
	free(want);
	free(got);
	return ok;
}

struct spoold_ent {
	uint8_t id[SPOOL_ID_LEN];
	int done;
};

static int
spoold_ent_cmp(const void *a, const void *b)
{
	const struct spoold_ent *x = a, *y = b;
	int c = memcmp(x->id, y->id, SPOOL_ID_LEN);

	return c ? c : x->done - y->done;
}

/* One id's lines (sorted: ACK first): judge it.  Returns 1 when bad. */
static int
spoold_judge(const struct spoold_ent *e, size_t n, size_t *acked, size_t *dones)
{
	char s[SPOOL_ID_STR_LEN];
	bool done = e[n - 1].done, live;

	if (e[0].done)
		return 0; /* DONE without its ACK line: cut, not judged */
	(*acked)++;
	live = spool_find(spoold_sp, e[0].id) != NULL;
	if (done) {
		(*dones)++;
		if (!live)
			return 0;
		fprintf(stderr, "spoold: DONE but live: %s\n",
			spool_id_str(e[0].id, s));
		return 1;
	}
	/* Marked done, the kill may have cut the DONE line: absent is fine. */
	if (!live && e[0].id[5] < 64)
		return 0;
	if (spoold_check(e[0].id))
		return 0;
	fprintf(stderr, "spoold: LOST or corrupt: %s\n",
		spool_id_str(e[0].id, s));
	return 1;
}

static int
spoold_verify(void)
{
	char line[128];
	struct spoold_ent *v = NULL;
	size_t n = 0, cap = 0, acked = 0, dones = 0, bad = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		int is_done = strncmp(line, "DONE ", 5) == 0;
		size_t l = strlen(line);

		if (l != (is_done ? 5u : 4u) + 32 + 1)
			continue; /* cut by the kill */
		if (!is_done && strncmp(line, "ACK ", 4) != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			v = realloc(v, cap * sizeof(*v));
		}
		if (spoold_hex(line + (is_done ? 5 : 4), v[n].id) < 0)
			continue;
		v[n++].done = is_done;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), spoold_ent_cmp);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && !memcmp(v[j].id, v[i].id, 16); j++)
			;
		bad += (size_t)spoold_judge(v + i, j - i, &acked, &dones);
	}
	printf("acked %zu done %zu live %u bad %zu\n", acked, dones,
	       spool_stats(spoold_sp)->live_msgs, bad);
	free(v);
	return bad ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct spool_opts o = {.segment_size = 4u << 20, .probe_ms = 200};
	struct ring_opts ro = {0};
	struct ring *r;
	int err, rc;

	if (argc < 3) {
		fprintf(stderr, "usage: spoold DIR run [MAX] | DIR verify\n");
		return 2;
	}
	log_init("spoold");
	log_set_level(LOG_WARN);
	if (argc > 3)
		spoold_max = (unsigned)strtoul(argv[3], NULL, 10);
	r = ring_new(&ro, &err);
	if (r == NULL)
		return 77;
	o.dir = argv[1];
	rc = spool_open(r, &o, &spoold_sp);
	if (rc < 0) {
		fprintf(stderr, "spoold: open: %s\n", strerror(-rc));
		return 2;
	}
	if (strcmp(argv[2], "run") == 0)
		return spoold_run(r);
	rc = spoold_verify();
	spool_close(spoold_sp);
	ring_shutdown(r, 1000);
	ring_free(r);
	return rc;
}
