/* SPDX-License-Identifier: MIT */
/*
 * smtpcdrv.c: a driver for the outbound SMTP client engine (smtp_client.h)
 * on a real ring, for integration tests against real peers and for
 * tools/bench_client.py.  Uses the public smtpc API only.
 *
 *   smtpcdrv --dst ADDR:PORT [--src ADDR] [--ehlo NAME] [--mx-host NAME]
 *            [--tls none|opportunistic|required] [--tls-verify none|ca|host]
 *            [--tls-ca FILE] [--tls-max-version 1.2|1.3] [--tls-resume]
 *            [--timeout STAGE=MS]... [--max-deliveries N]
 *            [--connections P] [--sessions M] [--ramp K] [--repeat N]
 *            [--no-pipelining] [--hold] [--rtt] [--no-results]
 *            [--deadline SECONDS] [--log-level L] [--manifest FILE]...
 *
 * A manifest line is "[+8bit|+7bit|+utf8]... FILE[@OFF] FROM RCPT...":
 * FILE holds the body bytes (CRLF-canonical, not dot-stuffed, as the spool
 * holds them) from OFF to its end, relative paths are from the manifest's
 * directory, FROM "<>" is the null path.  Without a flag, "eightbit" is
 * set when the body has a byte >= 0x80 and "smtputf8" when an address has.
 * The messages (the manifest REPEAT times) form one queue that up to P
 * sessions take from (ops->next_msg); a new session starts while messages
 * are left, or, with --sessions M, until M sessions have started (no
 * manifest: M = P, each session connects, greets, maybe STARTTLS, QUITs).
 * A session that fails before taking a message stops further starts
 * unless --sessions is given.  --hold keeps every session idle (idle
 * timeout 10 min unless set), prints one "hold" line with the memory per
 * idle connection once all are idle, then cancels them.  --rtt samples
 * TCP_INFO of the process's sockets at each message end (one connection:
 * the server's reply segments per message are the round trips).
 *
 * Output, one JSON object per line: "rcpt" (one per recipient: status,
 * code, enhanced, text, stage, fail, err, maybe_dup, conn, tls), "close"
 * (one per session), "hold", and a last "summary".  Exit 0 when the run
 * ended (whatever the outcomes), 1 on a runtime failure or the deadline,
 * 2 on a usage error, 77 when io_uring is unavailable.  Built by
 * tests/integration/test_client.sh and tools/bench_client.py; never part
 * of the daemon.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/tcp.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"
#include "log.h"
#include "ring.h"
#include "smtp_client.h"
#include "tls.h"

#define DRV_MS ((int64_t)1000000)

struct drv_tmpl {
	char *file;
	int fd;
	uint64_t off, len;
	char *from;
	char **rcpt;
	unsigned nrcpt;
	bool eightbit, smtputf8;
};

struct drv_inst {
	struct smtpc_msg m;
	uint64_t seq;
	const struct drv_tmpl *t;
	struct smtpc_rcpt rc[];
};

struct drv_sess {
	struct smtpc *s;
	unsigned id;
	bool open, ready;
	unsigned taken, done;
};

/* A TCP_INFO + ring counter snapshot at a message's end (--rtt). */
struct drv_sample {
	uint64_t msgs, segs_in, segs_out, cqes, submits;
};

static struct drv {
	struct smtpc_opts o;
	struct smtpc_ops ops;
	unsigned conns, sessions, ramp, repeat, deadline_s;
	bool hold, rtt, results, resume, idle_set;
	enum tls_verify verify;
	enum tls_version max_version;
	const char *ca_file;
	struct drv_tmpl *tm;
	unsigned ntm;
	uint64_t total, next;
	struct drv_sess **ss;
	unsigned nss, cap, nopen, nopening;
	bool abort, held, timed_out;
	uint64_t msgs_done, msgs_delivered, st[SMTPC_R__COUNT];
	uint64_t closes[SMTPC_FAIL__COUNT], tls_on, tls_resumed, tls_verified;
	struct drv_sample first, last;
	long rss_base_kb;
	size_t heap_base;
	struct ring *r;
	struct tls_ctx *ctx;
	struct tls_cache *cache;
	struct jsonw w;
	int64_t t0, t1;
} drv;

static void
drv_usage(void)
{
	fprintf(stderr, "usage: smtpcdrv --dst ADDR:PORT [options] "
			"[--manifest FILE]... (see the source's header)\n");
	exit(2);
}

static void
drv_flush(void)
{
	jsonw_newline(&drv.w);
	fwrite(drv.w.buf, 1, drv.w.len, stdout);
	jsonw_reset(&drv.w);
}

/* "ADDR:PORT" or "[V6]:PORT" (port may be omitted with want_port false). */
static int
drv_parse_addr(const char *arg, bool want_port, struct sockaddr_storage *ss,
	       socklen_t *len_r)
{
	char host[64];
	const char *colon = strrchr(arg, ':');
	unsigned long port = 0;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (want_port) {
		if (colon == NULL)
			return -EINVAL;
		port = strtoul(colon + 1, NULL, 10);
		hl = (size_t)(colon - arg);
	} else {
		hl = strlen(arg);
	}
	if (hl >= 2 && arg[0] == '[' && arg[hl - 1] == ']') {
		arg++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host) || port > 65535)
		return -EINVAL;
	memcpy(host, arg, hl);
	host[hl] = '\0';
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len_r = sizeof(*s6);
		return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? 0
								      : -EINVAL;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len_r = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -EINVAL;
}

static const struct {
	const char *name;
	size_t off;
} drv_tmo_names[] = {
    {"connect", offsetof(struct smtpc_timeouts, connect)},
    {"banner", offsetof(struct smtpc_timeouts, banner)},
    {"ehlo", offsetof(struct smtpc_timeouts, ehlo)},
    {"mail", offsetof(struct smtpc_timeouts, mail)},
    {"rcpt", offsetof(struct smtpc_timeouts, rcpt)},
    {"data", offsetof(struct smtpc_timeouts, data)},
    {"block", offsetof(struct smtpc_timeouts, block)},
    {"dot", offsetof(struct smtpc_timeouts, dot)},
    {"rset", offsetof(struct smtpc_timeouts, rset)},
    {"quit", offsetof(struct smtpc_timeouts, quit)},
    {"idle", offsetof(struct smtpc_timeouts, idle)},
    {"starttls", offsetof(struct smtpc_timeouts, starttls)},
};

static int
drv_parse_timeout(const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *end;
	long long ms;

	if (eq == NULL)
		return -EINVAL;
	ms = strtoll(eq + 1, &end, 10);
	if (*end != '\0' || end == eq + 1 || ms < 0)
		return -EINVAL;
	for (size_t i = 0; i < nitems(drv_tmo_names); i++) {
		if (strlen(drv_tmo_names[i].name) == (size_t)(eq - arg) &&
		    memcmp(drv_tmo_names[i].name, arg, (size_t)(eq - arg)) ==
			0) {
			int64_t *f = (int64_t *)((char *)&drv.o.tmo +
						 drv_tmo_names[i].off);
			*f = ms;
			if (strcmp(drv_tmo_names[i].name, "idle") == 0)
				drv.idle_set = true;
			return 0;
		}
	}
	return -EINVAL;
}

static bool
drv_has_8bit(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s >= 0x80)
			return true;
	}
	return false;
}

/* Open t->file, size the byte range, scan it for 8-bit bytes. */
static int
drv_tmpl_open(struct drv_tmpl *t, int flag8)
{
	char buf[65536];
	struct stat st;
	uint64_t pos;

	t->fd = open(t->file, O_RDONLY | O_CLOEXEC);
	if (t->fd == -1 || fstat(t->fd, &st) == -1)
		return -errno;
	if (t->off > (uint64_t)st.st_size)
		return -EINVAL;
	t->len = (uint64_t)st.st_size - t->off;
	t->eightbit = flag8 > 0;
	for (pos = t->off; flag8 < 0 && pos < (uint64_t)st.st_size;) {
		ssize_t n = pread(t->fd, buf, sizeof(buf), (off_t)pos);

		if (n <= 0)
			return n == 0 ? -EIO : -errno;
		for (ssize_t i = 0; i < n && !t->eightbit; i++)
			t->eightbit = (unsigned char)buf[i] >= 0x80;
		pos += (uint64_t)n;
		if (t->eightbit)
			break;
	}
	return 0;
}

/* One manifest line into a template; 0, 1 (blank/comment) or -errno. */
static int
drv_tmpl_parse(struct drv_tmpl *t, char *line, const char *dir)
{
	char *tok[1 + 1000 + 8], *save = NULL, *at;
	unsigned n = 0, i = 0;
	int flag8 = -1;
	bool utf8 = false;

	for (char *p = strtok_r(line, " \t\r\n", &save);
	     p != NULL && n < nitems(tok); p = strtok_r(NULL, " \t\r\n", &save))
		tok[n++] = p;
	if (n == 0 || tok[0][0] == '#')
		return 1;
	for (; i < n && tok[i][0] == '+'; i++) {
		if (strcmp(tok[i], "+8bit") == 0)
			flag8 = 1;
		else if (strcmp(tok[i], "+7bit") == 0)
			flag8 = 0;
		else if (strcmp(tok[i], "+utf8") == 0)
			utf8 = true;
		else
			return -EINVAL;
	}
	if (n - i < 3)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	at = strrchr(tok[i], '@');
	if (at != NULL) {
		*at = '\0';
		t->off = strtoull(at + 1, NULL, 10);
	}
	if (tok[i][0] == '/' || dir == NULL) {
		t->file = xstrdup(tok[i]);
	} else {
		t->file = xmalloc(strlen(dir) + strlen(tok[i]) + 2);
		sprintf(t->file, "%s/%s", dir, tok[i]);
	}
	t->from = xstrdup(strcmp(tok[i + 1], "<>") == 0 ? "" : tok[i + 1]);
	t->smtputf8 = utf8 || drv_has_8bit(t->from);
	t->nrcpt = n - i - 2;
	t->rcpt = xcalloc(t->nrcpt, sizeof(*t->rcpt));
	for (unsigned k = 0; k < t->nrcpt; k++) {
		t->rcpt[k] = xstrdup(tok[i + 2 + k]);
		t->smtputf8 = t->smtputf8 || drv_has_8bit(t->rcpt[k]);
	}
	return drv_tmpl_open(t, flag8);
}

static int
drv_load_manifest(const char *path)
{
	char line[65536], *dir = xstrdup(path), *slash = strrchr(dir, '/');
	FILE *f = fopen(path, "r");
	unsigned lineno = 0;
	int err = 0;

	if (slash != NULL)
		*slash = '\0';
	if (f == NULL) {
		fprintf(stderr, "smtpcdrv: %s: %s\n", path, strerror(errno));
		free(dir);
		return -errno;
	}
	while (err == 0 && fgets(line, sizeof(line), f) != NULL) {
		struct drv_tmpl t;

		lineno++;
		err = drv_tmpl_parse(&t, line, slash != NULL ? dir : NULL);
		if (err == 1) {
			err = 0;
		} else if (err == 0) {
			drv.tm =
			    xreallocarray(drv.tm, drv.ntm + 1, sizeof(*drv.tm));
			drv.tm[drv.ntm++] = t;
		} else {
			fprintf(stderr, "smtpcdrv: %s:%u: %s\n", path, lineno,
				strerror(-err));
		}
	}
	fclose(f);
	free(dir);
	return err;
}

static void
drv_json_res(const struct smtpc_result *r)
{
	char esc[16];

	jsonw_kv_str(&drv.w, "status", smtpc_status_str(r->status));
	jsonw_kv_int(&drv.w, "code", r->code);
	if (r->esc[0] != 0) {
		snprintf(esc, sizeof(esc), "%u.%u.%u", r->esc[0], r->esc[1],
			 r->esc[2]);
		jsonw_kv_str(&drv.w, "enhanced", esc);
	} else {
		jsonw_kv_null(&drv.w, "enhanced");
	}
	jsonw_kv_str(&drv.w, "text", r->text);
	jsonw_kv_str(&drv.w, "stage", smtpc_stage_str(r->stage));
	jsonw_kv_str(&drv.w, "fail", smtpc_fail_str(r->fail));
	jsonw_kv_int(&drv.w, "err", r->err);
	jsonw_kv_bool(&drv.w, "maybe_dup", r->maybe_dup);
}

static void
drv_kv_str_or_null(const char *key, const char *v)
{
	if (v != NULL)
		jsonw_kv_str(&drv.w, key, v);
	else
		jsonw_kv_null(&drv.w, key);
}

static void
drv_json_tls(const struct smtpc *s, bool full)
{
	struct smtpc_tls_info ti;

	smtpc_tls_info(s, &ti);
	jsonw_key(&drv.w, "tls");
	jsonw_obj_begin(&drv.w);
	jsonw_kv_str(&drv.w, "state", smtpc_tls_state_str(ti.state));
	drv_kv_str_or_null("protocol", ti.protocol);
	drv_kv_str_or_null("cipher", ti.cipher);
	jsonw_kv_bool(&drv.w, "verified", ti.verified);
	jsonw_kv_bool(&drv.w, "resumed", ti.resumed);
	if (full) {
		jsonw_kv_int(&drv.w, "starttls_code", ti.starttls_code);
		drv_kv_str_or_null("verify_error", ti.verify_error);
		drv_kv_str_or_null("error", ti.error);
	}
	jsonw_obj_end(&drv.w);
}

/* Sum TCP_INFO segment counters over the process's TCP sockets. */
static void
drv_sample(struct drv_sample *sm)
{
	DIR *d = opendir("/proc/self/fd");
	const struct ring_stats *rs = ring_stats(drv.r);
	struct dirent *e;

	memset(sm, 0, sizeof(*sm));
	sm->msgs = drv.msgs_done;
	sm->cqes = rs->cqes;
	sm->submits = rs->submits;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct tcp_info ti;
		socklen_t l = sizeof(ti);
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		memset(&ti, 0, sizeof(ti));
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) == 0 &&
		    l >= offsetof(struct tcp_info, tcpi_data_segs_out) + 4) {
			sm->segs_in += ti.tcpi_data_segs_in;
			sm->segs_out += ti.tcpi_data_segs_out;
		}
	}
	closedir(d);
}

static struct smtpc_msg *
drv_next(struct smtpc *s, void *arg)
{
	struct drv_sess *ds = arg;
	const struct drv_tmpl *t;
	struct drv_inst *in;

	(void)s;
	if (!ds->ready) {
		ds->ready = true;
		drv.nopening--;
	}
	if (drv.hold || drv.next >= drv.total)
		return NULL;
	t = &drv.tm[drv.next % drv.ntm];
	in = xcalloc(1, sizeof(*in) + t->nrcpt * sizeof(in->rc[0]));
	in->seq = drv.next++;
	in->t = t;
	in->m.from = t->from;
	in->m.eightbit = t->eightbit;
	in->m.smtputf8 = t->smtputf8;
	in->m.body_fd = t->fd;
	in->m.body_off = t->off;
	in->m.body_len = t->len;
	in->m.rcpt = in->rc;
	in->m.nrcpt = t->nrcpt;
	in->m.udata = ds;
	for (unsigned i = 0; i < t->nrcpt; i++)
		in->rc[i].addr = t->rcpt[i];
	ds->taken++;
	return &in->m;
}

static void
drv_rcpt_line(uint64_t seq, const struct drv_tmpl *t, const char *addr,
	      const struct smtpc_result *r, int conn, const struct smtpc *s)
{
	jsonw_obj_begin(&drv.w);
	jsonw_kv_str(&drv.w, "type", "rcpt");
	jsonw_kv_uint(&drv.w, "msg", seq);
	jsonw_kv_str(&drv.w, "file", t->file);
	jsonw_kv_str(&drv.w, "rcpt", addr);
	drv_json_res(r);
	jsonw_kv_int(&drv.w, "conn", conn);
	if (s != NULL)
		drv_json_tls(s, false);
	jsonw_obj_end(&drv.w);
	drv_flush();
}

static void
drv_done(struct smtpc *s, struct smtpc_msg *m, void *arg)
{
	struct drv_inst *in = container_of(m, struct drv_inst, m);
	struct drv_sess *ds = arg;
	bool any = false;

	ds->done++;
	drv.msgs_done++;
	for (unsigned i = 0; i < m->nrcpt; i++) {
		const struct smtpc_result *r = &m->rcpt[i].res;

		drv.st[(unsigned)r->status < SMTPC_R__COUNT ? r->status : 0]++;
		any = any || r->status == SMTPC_R_DELIVERED;
		if (drv.results)
			drv_rcpt_line(in->seq, in->t, m->rcpt[i].addr, r,
				      (int)ds->id, s);
	}
	drv.msgs_delivered += any;
	if (drv.rtt) {
		drv_sample(&drv.last);
		if (drv.first.msgs == 0)
			drv.first = drv.last;
	}
	free(in);
}

static void
drv_close(struct smtpc *s, const struct smtpc_result *why, void *arg)
{
	struct drv_sess *ds = arg;
	struct smtpc_tls_info ti;

	smtpc_tls_info(s, &ti);
	drv.closes[(unsigned)why->fail < SMTPC_FAIL__COUNT ? why->fail : 0]++;
	drv.tls_on += ti.state == SMTPC_TLS_S_ON;
	drv.tls_resumed += ti.state == SMTPC_TLS_S_ON && ti.resumed;
	drv.tls_verified += ti.state == SMTPC_TLS_S_ON && ti.verified;
	if (drv.results) {
		jsonw_obj_begin(&drv.w);
		jsonw_kv_str(&drv.w, "type", "close");
		jsonw_kv_uint(&drv.w, "conn", ds->id);
		drv_json_res(why);
		jsonw_kv_str(&drv.w, "errstr",
			     why->err != 0 ? strerror(-why->err) : "");
		jsonw_kv_uint(&drv.w, "deliveries", smtpc_deliveries(s));
		jsonw_kv_uint(&drv.w, "msgs", ds->done);
		drv_json_tls(s, true);
		jsonw_obj_end(&drv.w);
		drv_flush();
	}
	if (!ds->ready)
		drv.nopening--;
	ds->ready = true;
	if (ds->taken == 0 && why->fail != SMTPC_FAIL_NONE && drv.sessions == 0)
		drv.abort = true;
	ds->open = false;
	ds->s = NULL;
	drv.nopen--;
	drv.t1 = ring_now(drv.r);
}

static bool
drv_can_start(void)
{
	if (drv.abort || drv.timed_out)
		return false;
	if (drv.sessions > 0)
		return drv.nss < drv.sessions;
	return drv.total - drv.next > drv.nopening;
}

static void
drv_start_more(void)
{
	while (drv.nopen < drv.conns && drv_can_start() &&
	       (drv.ramp == 0 || drv.nopening < drv.ramp)) {
		struct drv_sess *ds = xcalloc(1, sizeof(*ds));

		if (drv.nss == drv.cap) {
			drv.cap = drv.cap ? 2 * drv.cap : 64;
			drv.ss =
			    xreallocarray(drv.ss, drv.cap, sizeof(*drv.ss));
		}
		drv.ss[drv.nss] = ds;
		ds->id = drv.nss++;
		ds->open = true;
		drv.nopen++;
		drv.nopening++;
		ds->s = smtpc_new(drv.r, &drv.o, &drv.ops, ds);
		(void)smtpc_start(ds->s); /* a failure comes via on_close */
	}
}

static long
drv_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	}
	if (f != NULL)
		fclose(f);
	return kb;
}

static size_t
drv_heap(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* --hold: once every session is idle, print the memory and cancel all. */
static void
drv_hold_check(void)
{
	unsigned idle = 0, n = 0;
	long rss;
	size_t heap;

	if (drv.held || drv.nopening > 0 || drv_can_start())
		return;
	for (unsigned i = 0; i < drv.nss; i++) {
		if (drv.ss[i]->open) {
			n++;
			idle += smtpc_get_state(drv.ss[i]->s) == SMTPC_S_IDLE;
		}
	}
	if (idle < n)
		return;
	drv.held = true;
	rss = drv_rss_kb();
	heap = drv_heap();
	jsonw_obj_begin(&drv.w);
	jsonw_kv_str(&drv.w, "type", "hold");
	jsonw_kv_uint(&drv.w, "sessions", drv.nss);
	jsonw_kv_uint(&drv.w, "idle", idle);
	jsonw_kv_int(&drv.w, "rss_kb_base", drv.rss_base_kb);
	jsonw_kv_int(&drv.w, "rss_kb", rss);
	jsonw_kv_double(&drv.w, "rss_bytes_per_conn",
			idle ? (double)(rss - drv.rss_base_kb) * 1024 / idle
			     : 0);
	jsonw_kv_double(&drv.w, "heap_bytes_per_conn",
			idle ? ((double)heap - (double)drv.heap_base) / idle
			     : 0);
	jsonw_kv_uint(&drv.w, "session_size", smtpc_session_size());
	jsonw_obj_end(&drv.w);
	drv_flush();
	fflush(stdout);
	for (unsigned i = 0; i < drv.nss; i++) {
		if (drv.ss[i]->open)
			smtpc_cancel(drv.ss[i]->s);
	}
}

static void
drv_cancel_all(void)
{
	for (unsigned i = 0; i < drv.nss; i++) {
		if (drv.ss[i]->open)
			smtpc_cancel(drv.ss[i]->s);
	}
}

static double
drv_ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

static void
drv_summary(void)
{
	double secs = (double)(drv.t1 - drv.t0) / 1e9;
	uint64_t dm = drv.last.msgs - drv.first.msgs;
	static const char *const st[] = {"pending", "delivered", "temporary",
					 "permanent"};

	_Static_assert(nitems(st) == SMTPC_R__COUNT, "status names");
	jsonw_obj_begin(&drv.w);
	jsonw_kv_str(&drv.w, "type", "summary");
	jsonw_kv_uint(&drv.w, "messages", drv.msgs_done);
	jsonw_kv_uint(&drv.w, "msgs_delivered", drv.msgs_delivered);
	jsonw_kv_uint(&drv.w, "unattempted", drv.total - drv.next);
	jsonw_key(&drv.w, "rcpt");
	jsonw_obj_begin(&drv.w);
	for (unsigned i = 0; i < SMTPC_R__COUNT; i++)
		jsonw_kv_uint(&drv.w, st[i], drv.st[i]);
	jsonw_obj_end(&drv.w);
	jsonw_kv_double(&drv.w, "seconds", secs);
	jsonw_kv_double(&drv.w, "msgs_per_sec",
			secs > 0 ? (double)drv.msgs_delivered / secs : 0);
	jsonw_kv_uint(&drv.w, "connections", drv.nss);
	jsonw_kv_double(&drv.w, "conns_per_sec",
			secs > 0 ? (double)drv.nss / secs : 0);
	jsonw_key(&drv.w, "closes");
	jsonw_obj_begin(&drv.w);
	for (unsigned i = 0; i < SMTPC_FAIL__COUNT; i++) {
		if (drv.closes[i] > 0)
			jsonw_kv_uint(&drv.w, smtpc_fail_str(i), drv.closes[i]);
	}
	jsonw_obj_end(&drv.w);
	jsonw_key(&drv.w, "tls");
	jsonw_obj_begin(&drv.w);
	jsonw_kv_uint(&drv.w, "on", drv.tls_on);
	jsonw_kv_uint(&drv.w, "resumed", drv.tls_resumed);
	jsonw_kv_uint(&drv.w, "verified", drv.tls_verified);
	jsonw_obj_end(&drv.w);
	if (drv.rtt && dm > 0) {
		jsonw_kv_uint(&drv.w, "rtt_msgs", dm);
		jsonw_kv_double(
		    &drv.w, "round_trips_per_msg",
		    drv_ratio(drv.last.segs_in - drv.first.segs_in, dm));
		jsonw_kv_double(
		    &drv.w, "client_segs_per_msg",
		    drv_ratio(drv.last.segs_out - drv.first.segs_out, dm));
		jsonw_kv_double(&drv.w, "cqes_per_msg",
				drv_ratio(drv.last.cqes - drv.first.cqes, dm));
		jsonw_kv_double(
		    &drv.w, "enters_per_msg",
		    drv_ratio(drv.last.submits - drv.first.submits, dm));
	} else {
		jsonw_kv_null(&drv.w, "round_trips_per_msg");
	}
	jsonw_kv_uint(&drv.w, "session_size", smtpc_session_size());
	jsonw_kv_bool(&drv.w, "timed_out", drv.timed_out);
	jsonw_obj_end(&drv.w);
	drv_flush();
}

/* Messages never taken still get one line per recipient ("pending"). */
static void
drv_report_unattempted(void)
{
	struct smtpc_result r;

	memset(&r, 0, sizeof(r));
	for (uint64_t q = drv.next; drv.results && q < drv.total; q++) {
		const struct drv_tmpl *t = &drv.tm[q % drv.ntm];

		for (unsigned i = 0; i < t->nrcpt; i++)
			drv_rcpt_line(q, t, t->rcpt[i], &r, -1, NULL);
	}
}

static int
drv_tls_setup(void)
{
	struct tls_client_opts to = {.verify = drv.verify,
				     .ca_file = drv.ca_file,
				     .max_version = drv.max_version};
	char err[256];
	int rc;

	if (drv.o.tls == SMTPC_TLS_POLICY_NONE)
		return 0;
	rc = tls_ctx_new_client(&to, &drv.ctx, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "smtpcdrv: TLS context: %s\n", err);
		return rc;
	}
	drv.o.tls_ctx = drv.ctx;
	if (drv.resume) {
		drv.cache = tls_cache_new(1024, 3600 * 1000 * DRV_MS);
		drv.o.tls_cache = drv.cache;
	}
	return 0;
}

static int
drv_enum(const char *arg, const char *const *names, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(arg, names[i]) == 0)
			return (int)i;
	}
	drv_usage();
	return -1;
}

static void
drv_parse_args(int argc, char **argv)
{
	static const struct option lo[] = {{"dst", 1, NULL, 'd'},
					   {"src", 1, NULL, 's'},
					   {"ehlo", 1, NULL, 'e'},
					   {"mx-host", 1, NULL, 'x'},
					   {"tls", 1, NULL, 't'},
					   {"tls-verify", 1, NULL, 'v'},
					   {"tls-ca", 1, NULL, 'c'},
					   {"tls-max-version", 1, NULL, 'V'},
					   {"tls-resume", 0, NULL, 'R'},
					   {"timeout", 1, NULL, 'T'},
					   {"max-deliveries", 1, NULL, 'm'},
					   {"connections", 1, NULL, 'P'},
					   {"sessions", 1, NULL, 'M'},
					   {"ramp", 1, NULL, 'K'},
					   {"repeat", 1, NULL, 'n'},
					   {"no-pipelining", 0, NULL, 'p'},
					   {"hold", 0, NULL, 'H'},
					   {"rtt", 0, NULL, 'r'},
					   {"no-results", 0, NULL, 'q'},
					   {"deadline", 1, NULL, 'D'},
					   {"log-level", 1, NULL, 'L'},
					   {"manifest", 1, NULL, 'f'},
					   {NULL, 0, NULL, 0}};
	static const char *const pol[] = {"none", "opportunistic", "required"};
	static const char *const ver[] = {"none", "ca", "host"};
	static const char *const mv[] = {"any", "1.2", "1.3"};
	bool have_dst = false;
	int c, lvl;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (drv_parse_addr(optarg, true, &drv.o.dst,
					   &drv.o.dst_len) < 0)
				drv_usage();
			have_dst = true;
			break;
		case 's':
			if (drv_parse_addr(optarg, false, &drv.o.src,
					   &drv.o.src_len) < 0)
				drv_usage();
			break;
		case 'e':
			drv.o.ehlo_name = optarg;
			break;
		case 'x':
			drv.o.mx_host = optarg;
			break;
		case 't':
			drv.o.tls = drv_enum(optarg, pol, nitems(pol));
			break;
		case 'v':
			drv.verify = drv_enum(optarg, ver, nitems(ver));
			break;
		case 'c':
			drv.ca_file = optarg;
			break;
		case 'V':
			drv.max_version = drv_enum(optarg, mv, nitems(mv));
			break;
		case 'R':
			drv.resume = true;
			break;
		case 'T':
			if (drv_parse_timeout(optarg) < 0)
				drv_usage();
			break;
		case 'm':
			drv.o.max_deliveries = (unsigned)atoi(optarg);
			break;
		case 'P':
			drv.conns = (unsigned)atoi(optarg);
			break;
		case 'M':
			drv.sessions = (unsigned)atoi(optarg);
			break;
		case 'K':
			drv.ramp = (unsigned)atoi(optarg);
			break;
		case 'n':
			drv.repeat = (unsigned)atoi(optarg);
			break;
		case 'p':
			drv.o.no_pipelining = true;
			break;
		case 'H':
			drv.hold = true;
			break;
		case 'r':
			drv.rtt = true;
			break;
		case 'q':
			drv.results = false;
			break;
		case 'D':
			drv.deadline_s = (unsigned)atoi(optarg);
			break;
		case 'L':
			lvl = log_level_parse(optarg);
			if (lvl < 0)
				drv_usage();
			log_set_level((enum log_level)lvl);
			break;
		case 'f':
			if (drv_load_manifest(optarg) < 0)
				exit(2);
			break;
		default:
			drv_usage();
		}
	}
	if (optind != argc || !have_dst || drv.conns == 0 || drv.repeat == 0)
		drv_usage();
}

static void
drv_free(void)
{
	for (unsigned i = 0; i < drv.ntm; i++) {
		struct drv_tmpl *t = &drv.tm[i];

		close(t->fd);
		for (unsigned k = 0; k < t->nrcpt; k++)
			free(t->rcpt[k]);
		free(t->rcpt);
		free(t->from);
		free(t->file);
	}
	free(drv.tm);
	for (unsigned i = 0; i < drv.nss; i++)
		free(drv.ss[i]);
	free(drv.ss);
	tls_cache_free(drv.cache);
	tls_ctx_free(drv.ctx);
	jsonw_fini(&drv.w);
}

/* Run until every session has closed (or the deadline); 0 or -errno. */
static int
drv_loop(void)
{
	int64_t deadline =
	    ring_now_update(drv.r) + (int64_t)drv.deadline_s * 1000 * DRV_MS;

	drv.rss_base_kb = drv_rss_kb();
	drv.heap_base = drv_heap();
	drv.t0 = drv.t1 = ring_now(drv.r);
	for (;;) {
		int rc;

		drv_start_more();
		if (drv.nopen == 0 && !drv_can_start())
			return 0;
		if (drv.hold)
			drv_hold_check();
		if (!drv.timed_out && ring_now(drv.r) > deadline) {
			fprintf(stderr, "smtpcdrv: deadline of %u s passed\n",
				drv.deadline_s);
			drv.timed_out = true;
			drv_cancel_all();
		}
		rc = ring_run_once(drv.r, 100 * DRV_MS);
		if (rc < 0)
			return rc;
	}
}

int
main(int argc, char **argv)
{
	struct ring_opts ro = {0};
	struct rlimit rl;
	int err, rc;

	log_init("smtpcdrv");
	log_set_level(LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	jsonw_init(&drv.w);
	smtpc_timeouts_default(&drv.o.tmo);
	drv.o.ehlo_name = "client.test";
	drv.conns = drv.repeat = 1;
	drv.results = true;
	drv.deadline_s = 300;
	drv.ops = (struct smtpc_ops){drv_next, drv_done, drv_close};
	drv_parse_args(argc, argv);
	if (!drv.idle_set)
		drv.o.tmo.idle = drv.hold ? 600000 : 0;
	if (drv.ntm == 0 && drv.sessions == 0)
		drv.sessions = drv.conns;
	if (drv.hold && drv.ramp == 0)
		drv.ramp = 256;
	drv.total = (uint64_t)drv.ntm * drv.repeat;
	if (drv_tls_setup() < 0)
		return 1;
	drv.r = ring_new(&ro, &err);
	if (drv.r == NULL) {
		fprintf(stderr, "smtpcdrv: no io_uring: %s\n", strerror(-err));
		drv_free();
		return 77;
	}
	rc = drv_loop();
	drv_report_unattempted();
	drv_summary();
	fflush(stdout);
	if (ring_shutdown(drv.r, 2000) < 0)
		rc = rc < 0 ? rc : -EBUSY;
	ring_free(drv.r);
	drv_free();
	if (rc < 0)
		fprintf(stderr, "smtpcdrv: %s\n", strerror(-rc));
	return rc < 0 || drv.timed_out ? 1 : 0;
}
