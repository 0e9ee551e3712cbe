/* SPDX-License-Identifier: MIT */
/*
 * ctls_fixture.c: the fixture of the client's TLS tests (see
 * ctls_fixture.h): the test certificates, a scripted peer thread that
 * speaks TLS through tls.c's server side with its own tls_ctx, and a
 * session on a real ring.  cmocka assertions; the peer thread records
 * failures (scripted_peer.c) instead of asserting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ctls_fixture.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * wolfSSL keeps a per-thread ECC fixed-point cache (about 850 KB, built
 * at the first ECC operation) that leaks when a thread exits without
 * freeing it.  tls.h has no per-thread cleanup (ringmta has one thread),
 * so the peer threads call wolfSSL's own function; nothing else here
 * touches wolfSSL.
 */
void wc_ecc_fp_free(void);

/* ---- certificates ------------------------------------------------------- */

static char ctls_dir[64];
char ctls_ca[128], ctls_mx[128], ctls_mx_key[128], ctls_self[128],
    ctls_self_key[128];

static void
ctls_path(char *out, const char *name)
{
	snprintf(out, 128, "%s/%s", ctls_dir, name);
}

int
ctls_group_setup(void **state)
{
	char cmd[512];
	const char *src = __FILE__;
	const char *slash = strrchr(src, '/');
	int len = slash != NULL ? (int)(slash - src) : 1;

	(void)state;
	snprintf(ctls_dir, sizeof(ctls_dir), "/tmp/ringmta-ctls-XXXXXX");
	if (mkdtemp(ctls_dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	/* The fixture sits next to this file; tests run from the top. */
	snprintf(cmd, sizeof(cmd), "sh '%.*s/tls_fixture.sh' '%s'", len,
		 slash != NULL ? src : ".", ctls_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "'%s' failed (is openssl there?)\n", cmd);
		return -1;
	}
	ctls_path(ctls_ca, "ca.crt");
	ctls_path(ctls_mx, "mx-chain.crt");
	ctls_path(ctls_mx_key, "mx.key");
	ctls_path(ctls_self, "self.crt");
	ctls_path(ctls_self_key, "self.key");
	return 0;
}

int
ctls_group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", ctls_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- scripted TLS peer -------------------------------------------------- */

/* Send every pending ciphertext byte. */
static void
ctls_peer_out(struct ctls_peer *p)
{
	const void *b;
	size_t len;

	while (tls_pending_out(p->t, &b, &len) == 1) {
		ssize_t n = send(p->sp.fd, b, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		tls_consume_out(p->t, (size_t)n);
	}
}

/* Move decrypted bytes into the stash; returns bytes added or -errno. */
static int
ctls_peer_drain(struct ctls_peer *p)
{
	int n, total = 0;

	while (p->stash_len < sizeof(p->stash)) {
		n = tls_read(p->t, p->stash + p->stash_len,
			     sizeof(p->stash) - p->stash_len);
		ctls_peer_out(p);
		if (n == -EPIPE)
			p->close_notify = true;
		if (n <= 0)
			return n < 0 && total == 0 ? n : total;
		p->stash_len += (size_t)n;
		total += n;
	}
	return total;
}

/*
 * Get more input into the stash (decrypted when TLS is on): what tls.c
 * already holds first, else one recv.  Returns > 0, 0 at EOF, -1 on error.
 */
static int
ctls_peer_fill(struct ctls_peer *p)
{
	char buf[16384];
	ssize_t n;
	int r;

	if (p->t != NULL && (r = ctls_peer_drain(p)) > 0)
		return r;
	n = recv(p->sp.fd, buf,
		 MIN(sizeof(buf), sizeof(p->stash) - p->stash_len), 0);
	if (n < 0)
		return -1;
	if (p->t == NULL) {
		memcpy(p->stash + p->stash_len, buf, (size_t)n);
		p->stash_len += (size_t)n;
		return (int)n;
	}
	if (n == 0)
		tls_feed_eof(p->t);
	else
		(void)tls_feed(p->t, buf, (size_t)n);
	r = ctls_peer_drain(p);
	if (r == -EPIPE || r == -ECONNRESET)
		return n == 0 ? 0 : 1; /* the stream ended: keep reading */
	return r < 0 ? -1 : (n == 0 ? 0 : 1);
}

static int
ctls_peer_handshake(struct ctls_peer *p)
{
	char buf[16384];
	int rc = -EIO;

	if (tls_sess_new_server(p->ctx, &p->t) != 0)
		return -ENOMEM;
	for (int i = 0; i < 10000; i++) {
		ssize_t n;

		rc = tls_handshake(p->t);
		ctls_peer_out(p);
		if (rc != 0)
			break;
		n = recv(p->sp.fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -ETIMEDOUT;
		if (n == 0)
			tls_feed_eof(p->t);
		else
			(void)tls_feed(p->t, buf, (size_t)n);
	}
	if (rc == 1 && p->sp.conn < 2) {
		const char *sni = tls_sess_sni(p->t);

		snprintf(p->sni[p->sp.conn], sizeof(p->sni[0]), "%s",
			 sni ? sni : "");
		snprintf(p->proto[p->sp.conn], sizeof(p->proto[0]), "%s",
			 tls_sess_protocol(p->t));
		p->resumed[p->sp.conn] = tls_sess_resumed(p->t);
	}
	return rc;
}

static void
ctls_peer_send(struct ctls_peer *p, int i, const char *s, size_t n, bool raw)
{
	if (p->t != NULL && !raw) {
		if (tls_write(p->t, s, n) != (int)n)
			speer_fail(&p->sp, i, "tls_write", "", 0);
		ctls_peer_out(p);
	} else if (send(p->sp.fd, s, n, MSG_NOSIGNAL) != (ssize_t)n) {
		speer_fail(&p->sp, i, "send", "", 0);
	}
}

static void
ctls_peer_expect(struct ctls_peer *p, int i, const char *s, bool one)
{
	size_t n = strlen(s);

	if (one) {
		struct pollfd pfd = {.fd = p->sp.fd, .events = POLLIN};

		if (p->stash_len != 0 || poll(&pfd, 1, 5000) != 1 ||
		    ctls_peer_fill(p) <= 0)
			speer_fail(&p->sp, i, "one read", p->stash,
				   p->stash_len);
	}
	if (one && p->stash_len != n) {
		speer_fail(&p->sp, i, s, p->stash, MIN(p->stash_len, 200));
		return;
	}
	/* in pieces: bodies are larger than the stash */
	for (size_t off = 0, k; off < n; off += k) {
		if (p->stash_len == 0 && ctls_peer_fill(p) <= 0) {
			speer_fail(&p->sp, i, n > 200 ? "large: short" : s, "",
				   0);
			return;
		}
		k = MIN(p->stash_len, n - off);
		if (memcmp(p->stash, s + off, k) != 0) {
			speer_fail(&p->sp, i, n > 200 ? "large" : s, p->stash,
				   MIN(p->stash_len, 200));
			return;
		}
		p->stash_len -= k;
		memmove(p->stash, p->stash + k, p->stash_len);
	}
}

static void
ctls_peer_conn_end(struct ctls_peer *p)
{
	tls_sess_free(p->t);
	p->t = NULL;
	if (p->sp.fd >= 0)
		close(p->sp.fd);
	p->sp.fd = -1;
	p->stash_len = 0;
	p->close_notify = false;
}

static void
ctls_peer_step(struct ctls_peer *p, int i, const struct ctls_step *st)
{
	switch (st->k) {
	case CTLS_P_SEND:
	case CTLS_P_SEND_RAW:
		ctls_peer_send(p, i, st->s,
			       st->ms > 0 ? (size_t)st->ms : strlen(st->s),
			       st->k == CTLS_P_SEND_RAW);
		break;
	case CTLS_P_SPLIT:
		for (const char *c = st->s; *c != '\0'; c++) {
			ctls_peer_send(p, i, c, 1, false);
			usleep(1000);
		}
		break;
	case CTLS_P_EXPECT:
	case CTLS_P_EXPECT_1:
		ctls_peer_expect(p, i, st->s, st->k == CTLS_P_EXPECT_1);
		break;
	case CTLS_P_SLEEP:
		usleep(st->ms * 1000);
		break;
	case CTLS_P_TLS:
		if (ctls_peer_handshake(p) != 1)
			speer_fail(&p->sp, i, "handshake",
				   tls_sess_error(p->t) ? tls_sess_error(p->t)
							: "?",
				   0);
		break;
	case CTLS_P_TLS_FAIL:
		if (ctls_peer_handshake(p) >= 0)
			speer_fail(&p->sp, i, "handshake should fail", "", 0);
		break;
	case CTLS_P_CLOSE_NOTIFY:
		if (tls_shutdown(p->t) != 0)
			speer_fail(&p->sp, i, "tls_shutdown", "", 0);
		ctls_peer_out(p);
		if (st->s != NULL)
			ctls_peer_send(p, i, st->s, strlen(st->s), true);
		break;
	case CTLS_P_EOF:
		while (ctls_peer_fill(p) > 0)
			;
		if (p->stash_len != 0 || (p->t != NULL && !p->close_notify))
			speer_fail(&p->sp, i,
				   p->t ? "close_notify, EOF" : "EOF, no bytes",
				   p->stash, p->stash_len);
		break;
	case CTLS_P_DRAIN:
		while (ctls_peer_fill(p) > 0)
			p->stash_len = 0;
		break;
	case CTLS_P_NEXT_CONN:
		ctls_peer_conn_end(p);
		p->sp.conn++;
		if (speer_accept(&p->sp, NULL, 0) < 0)
			speer_fail(&p->sp, i, "no second connection", "", 0);
		break;
	case CTLS_P_END:
		break;
	}
}

static void *
ctls_peer_main(void *arg)
{
	struct ctls_peer *p = arg;
	struct tls_server_opts so = {
	    .cert_file = p->cert,
	    .key_file = p->key,
	    .max_version = p->max,
	};
	char err[256];

	if (tls_ctx_new_server(&so, &p->ctx, err, sizeof(err)) != 0) {
		speer_fail(&p->sp, -1, err, "", 0);
		return NULL;
	}
	if (speer_accept(&p->sp, NULL, 0) < 0) {
		speer_fail(&p->sp, -1, "no connection", "", 0);
	} else {
		for (int i = 0; p->script[i].k != CTLS_P_END && !p->sp.failed;
		     i++)
			ctls_peer_step(p, i, &p->script[i]);
	}
	ctls_peer_conn_end(p);
	tls_ctx_free(p->ctx);
	wc_ecc_fp_free();
	return NULL;
}

/* ---- fixture ------------------------------------------------------------ */

static const char *
ctls_nz(const char *s)
{
	return s != NULL ? s : "";
}

static void
ctls_tinfo_copy(const struct smtpc *s, struct ctls_tinfo *ti)
{
	struct smtpc_tls_info in;

	smtpc_tls_info(s, &in);
	memset(ti, 0, sizeof(*ti));
	ti->state = in.state;
	ti->code = in.starttls_code;
	ti->verified = in.verified;
	ti->resumed = in.resumed;
	snprintf(ti->proto, sizeof(ti->proto), "%s", ctls_nz(in.protocol));
	snprintf(ti->cipher, sizeof(ti->cipher), "%s", ctls_nz(in.cipher));
	snprintf(ti->verr, sizeof(ti->verr), "%s", ctls_nz(in.verify_error));
	snprintf(ti->error, sizeof(ti->error), "%s", ctls_nz(in.error));
}

static struct smtpc_msg *
ctls_next(struct smtpc *s, void *arg)
{
	struct fx *f = arg;

	(void)s;
	return speer_next(f->q, f->nq, &f->qhead, &f->next_calls);
}

static void
ctls_done(struct smtpc *s, struct smtpc_msg *m, void *arg)
{
	struct fx *f = arg;

	(void)m;
	assert_true(f->ndone < 4);
	ctls_tinfo_copy(s, &f->done_info[f->ndone++]);
}

static void
ctls_close(struct smtpc *s, const struct smtpc_result *why, void *arg)
{
	struct fx *f = arg;

	assert_false(f->closed);
	f->closed = true;
	f->closed_ms = speer_mono_ms();
	f->why = *why;
	ctls_tinfo_copy(s, &f->close_info);
	f->s = NULL;
}

const struct smtpc_ops ctls_ops = {ctls_next, ctls_done, ctls_close};

int
ctls_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->r = speer_setup(&f->o, &f->peer.sp.lfd, "mx.test.example");
	if (f->r == NULL) {
		free(f);
		*state = NULL;
		return 0;
	}
	f->peer.sp.fd = -1;
	f->o.tls = SMTPC_TLS_POLICY_OPPORTUNISTIC;
	f->peer.cert = ctls_mx;
	f->peer.key = ctls_mx_key;
	*state = f;
	return 0;
}

int
ctls_teardown(void **state)
{
	struct fx *f = *state;

	if (f == NULL)
		return 0;
	speer_teardown(f->r, f->peer.sp.lfd);
	for (unsigned i = 0; i < 4; i++)
		speer_msg_close(&f->msgs[i].m);
	tls_cache_free(f->cache);
	tls_ctx_free(f->cctx);
	free(f);
	return 0;
}

/* The client policy context (made here, in the main thread). */
void
ctls_client_ctx(struct fx *f, enum tls_verify verify)
{
	struct tls_client_opts co = {.verify = verify, .ca_file = ctls_ca};
	char err[256];

	assert_int_equal(tls_ctx_new_client(&co, &f->cctx, err, sizeof(err)),
			 0);
	f->o.tls_ctx = f->cctx;
}

struct smtpc_msg *
ctls_msg(struct fx *f, unsigned i, const char *body)
{
	struct ctls_tmsg *t = &f->msgs[i];

	speer_msg_init(&t->m, t->rc, "", body, strlen(body));
	t->m.nrcpt = 1;
	t->rc[0].addr = "b@y";
	f->q[f->nq++] = &t->m;
	return &t->m;
}

void
ctls_peer_start(struct fx *f, const struct ctls_step *script)
{
	f->peer.script = script;
	speer_start(&f->peer.sp, ctls_peer_main, &f->peer);
}

/* One session, from start to on_close. */
void
ctls_session(struct fx *f)
{
	f->closed = false;
	f->s = smtpc_new(f->r, &f->o, &ctls_ops, f);
	(void)smtpc_start(f->s);
	speer_pump(f->r, &f->closed);
}

void
ctls_peer_join(struct fx *f)
{
	speer_join(&f->peer.sp);
}

void
ctls_run(struct fx *f, const struct ctls_step *script)
{
	ctls_peer_start(f, script);
	ctls_session(f);
	ctls_peer_join(f);
}
