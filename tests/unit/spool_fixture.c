/* SPDX-License-Identifier: MIT */
/*
 * spool_fixture.c: the spool tests' fixture (see spool_fixture.h).  cmocka
 * assertions; it removes only its own temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "spool_fixture.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "ring_fixture.h"

void
spfx_cres_on_commit(void *arg, int err)
{
	struct spfx_cres *c = arg;

	c->calls++;
	c->err = err;
}

void
spfx_cres_on_resume(void *arg)
{
	((struct spfx_cres *)arg)->resumed++;
}

void
spfx_mres_on_mark(void *arg, int err)
{
	struct spfx_mres *m = arg;

	m->calls++;
	m->err = err;
}

int
spfx_setup(void **state)
{
	struct spfx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	log_set_level(LOG_ERR);
	f->r = ringfx_new(256, 8192);
	if (f->r == NULL) {
		free(f);
		*state = NULL;
		return 0;
	}
	ringfx_mkdtemp(f->tmp, sizeof(f->tmp), "test_spool");
	snprintf(f->dir, sizeof(f->dir), "%s/spool", f->tmp);
	f->o.dir = f->dir;
	f->o.probe_ms = 50;
	*state = f;
	return 0;
}

int
spfx_teardown(void **state)
{
	struct spfx *f = *state;

	if (f == NULL)
		return 0;
	spool_close(f->sp);
	assert_int_equal(ring_shutdown(f->r, 2000), 0);
	ring_free(f->r);
	umount2(f->tmp, MNT_DETACH); /* test_enospc's tmpfs, if still there */
	ringfx_rmdir(f->tmp);
	free(f);
	return 0;
}

void
spfx_open(struct spfx *f)
{
	assert_int_equal(spool_open(f->r, &f->o, &f->sp), 0);
}

void
spfx_reopen(struct spfx *f)
{
	spool_close(f->sp);
	f->sp = NULL;
	spfx_open(f);
}

void
spfx_run_until(struct spfx *f, const int *flag, int n)
{
	for (int i = 0; i < 20000 && *flag < n; i++)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	assert_true(*flag >= n);
}

void
spfx_run_ms(struct spfx *f, int ms)
{
	int64_t end = ring_now_update(f->r) + (int64_t)ms * 1000000;

	while (ring_now_update(f->r) < end)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
}

void
spfx_body_fill(uint8_t *p, size_t len, unsigned n)
{
	uint32_t x = 2463534242u ^ (n * 2654435761u);

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	if (len >= 2) {
		p[len - 2] = '\r';
		p[len - 1] = '\n';
	}
}

void
spfx_env_make(struct spfx_env *e, unsigned nrcpt)
{
	memset(e, 0, sizeof(*e));
	e->env.sender = (struct record_bytes){(const uint8_t *)"s@ex.org", 8};
	e->env.envid = (struct record_bytes){(const uint8_t *)"E\r\n1", 4};
	e->env.binding = (struct record_bytes){(const uint8_t *)"out1", 4};
	e->env.ret = RECORD_RET_HDRS;
	e->env.flags = RECORD_MSG_F_8BITMIME;
	for (unsigned i = 0; i < nrcpt; i++) {
		int n = snprintf(e->addr[i], sizeof(e->addr[i]),
				 "r%u@d%u.example", i, i % 3);

		e->rcpt[i].addr = (struct record_bytes){
		    (const uint8_t *)e->addr[i], (size_t)n};
		e->rcpt[i].notify = i % 2 ? RECORD_NOTIFY_FAILURE : 0;
		if (i == 1)
			e->rcpt[i].orcpt = (struct record_bytes){
			    (const uint8_t *)"rfc822;x@y", 10};
	}
	e->env.rcpt = e->rcpt;
	e->env.nrcpt = nrcpt;
}

void
spfx_submit(struct spfx *f, struct spool_txn *t, struct spfx_cres *c,
	    unsigned n, size_t len, unsigned nrcpt)
{
	struct spfx_env e;
	uint8_t *b = malloc(len ? len : 1);

	spfx_env_make(&e, nrcpt);
	spfx_body_fill(b, len, n);
	memset(c, 0, sizeof(*c));
	assert_int_equal(
	    spool_txn_begin(f->sp, t, &e.env, spfx_cres_on_resume, c), 0);
	memcpy(c->id, spool_txn_id(t), SPOOL_ID_LEN);
	assert_int_equal(spool_txn_body(t, b, len), 0);
	spool_txn_commit(t, spfx_cres_on_commit, c);
	free(b);
}

void
spfx_commit_one(struct spfx *f, struct spfx_cres *c, unsigned n, size_t len)
{
	struct spool_txn t = {0};

	spfx_submit(f, &t, c, n, len, 3);
	assert_int_equal(c->calls, 0); /* never synchronously */
	spfx_run_until(f, &c->calls, 1);
	assert_int_equal(c->calls, 1);
}

void
spfx_check_body(struct spfx *f, const uint8_t *id, unsigned n, size_t len)
{
	struct spool_body b;
	uint8_t *want = malloc(len + 1), *got = malloc(len + 1);

	assert_int_equal(spool_body_loc(f->sp, id, &b), 0);
	assert_int_equal(b.len, len);
	assert_int_equal(pread(b.fd, got, len, (off_t)b.off), (ssize_t)len);
	spfx_body_fill(want, len, n);
	assert_memory_equal(got, want, len);
	assert_int_equal(crc32c(b.crc_init, got, len), b.crc_final);
	free(want);
	free(got);
}

int
spfx_count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), s = strlen(suffix);

		if (de->d_name[0] != '.' && l >= s &&
		    strcmp(de->d_name + l - s, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

uint64_t
spfx_seg_set(struct spfx *f)
{
	char p[256];
	DIR *d;
	struct dirent *de;
	uint64_t set = 0;

	snprintf(p, sizeof(p), "%s/seg", f->dir);
	d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		unsigned long long n;

		if (sscanf(de->d_name, "%16llx.seg", &n) == 1 && n < 64)
			set |= 1ull << n;
	}
	closedir(d);
	return set;
}