/* SPDX-License-Identifier: MIT */
/*
 * daemon.c: start/stop of the spool, delivery log, binding and domain
 * tables, routing context and listener; accepted and replayed messages go
 * to dlv_queue_msg().
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "binding_move.h"
#include "control.h"
#include "delivery.h"
#include "dns.h"
#include "dlogw.h"
#include "fsutil.h"
#include "listener.h"
#include "log.h"
#include "maintainer.h"
#include "redis.h"
#include "redis_server.h"
#include "rlease.h"
#include "rstate.h"
#include "spool.h"

#ifndef RINGMTA_VERSION
#define RINGMTA_VERSION "0.1.0"
#endif
/* How long start-up waits for the suspensions before delivery starts. */
#define DAEMON_REDIS_WAIT_NS 2000000000LL

struct daemon {
	struct ring *ring;
	const struct config *cfg;
	struct spool *sp;
	struct dlogw *dl;
	struct listener *lst;
	struct dom_table doms;
	struct bnd_table bnds;
	struct bnd_mover mover; /* units of bindings a reload removed */
	struct dlv *dlv;
	struct rdsrv *rdsrv; /* the embedded redis-server, if ours */
	struct rds *rds;
	struct rstate *rs;
	struct rlease *rl; /* cluster limits */
	struct ctl *ctl;   /* ringctl's actions, overrides */
	int lock_fd;
};

/* Queue the non-final recipients of message m on their domains. */
static int
daemon_queue_msg(void *arg, const struct spool_msg *m)
{
	struct daemon *d = arg;

	dlv_queue_msg(d->dlv, m);
	return 0;
}

static void
daemon_on_accepted(void *arg, const uint8_t id[SPOOL_ID_LEN])
{
	struct daemon *d = arg;
	const struct spool_msg *m = spool_find(d->sp, id);

	if (m != NULL)
		daemon_queue_msg(d, m);
}

/*
 * Take the spool's lock (SPOOL/lock, flock): two processes appending to one
 * spool would corrupt it.  Returns the fd or -errno (-EWOULDBLOCK: held).
 */
static int
daemon_lock(const char *dir)
{
	char path[4096];
	int fd, rc = fsutil_mkdirs(dir, 0700);

	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		rc = -errno;
		close(fd);
		if (rc == -EWOULDBLOCK)
			log_err("spool %s is in use by another ringmta", dir);
		return rc;
	}
	return fd;
}

static void
daemon_spool_opts(const struct config *cfg, struct spool_opts *so)
{
	memset(so, 0, sizeof(*so));
	so->dir = cfg->spool.dir;
	so->segment_size = cfg->spool.segment_size;
	so->max_batch = cfg->spool.max_batch;
	so->unsafe_no_sync = cfg->spool.unsafe_no_sync || !cfg->spool.sync;
	so->min_free_bytes = cfg->spool.min_free_space.bytes;
	so->min_free_percent = cfg->spool.min_free_space.percent;
	so->commit_delay_us = cfg->spool.commit_delay_ms
				  ? (uint32_t)cfg->spool.commit_delay_ms * 1000
				  : SPOOL_DELAY_OFF;
}

static int
daemon_list_one(void *arg, const struct spool_msg *m)
{
	FILE *out = arg;
	struct spool_msg_info mi;
	char idstr[SPOOL_ID_STR_LEN];

	spool_msg_info(m, &mi);
	fprintf(out, "%s <%.*s> %" PRIu32 " %" PRIu32 "\n",
		spool_id_str(mi.id, idstr), (int)mi.sender.len,
		(const char *)mi.sender.p, mi.nrcpt, mi.nlive);
	return 0;
}

int
daemon_list_queue(struct ring *r, const struct config *cfg, FILE *out)
{
	struct spool_opts so;
	struct spool *sp;
	int fd = daemon_lock(cfg->spool.dir), rc;

	if (fd < 0)
		return fd;
	daemon_spool_opts(cfg, &so);
	rc = spool_open(r, &so, &sp);
	if (rc < 0) {
		log_err("spool %s: cannot open: %s", so.dir, strerror(-rc));
		close(fd);
		return rc;
	}
	spool_foreach_live(sp, daemon_list_one, out);
	spool_close(sp);
	close(fd);
	return 0;
}

static void
daemon_redis_up(void *arg)
{
	struct daemon *d = arg;

	if (d->rs != NULL)
		rstate_on_up(d->rs);
	rlease_on_up(d->rl);
}

/* A cluster lease or message tokens arrived, or a retry is due. */
static void
daemon_lease_poke(domain_record *dr, int64_t when_ms, void *arg)
{
	(void)arg;
	if (when_ms == 0)
		maint_poke(dr);
	else
		maint_schedule(dr, when_ms);
}

/*
 * Redis: the configured one, or our own redis-server under state_dir; then
 * the state publisher, and (bounded) the suspensions before any delivery.
 */
static int
daemon_redis_start(struct daemon *d)
{
	const struct config_redis *rc = &d->cfg->redis;
	char target[VALUE_HOST_MAX + 16];
	struct rds_opts o = {
	    .key_prefix = rc->prefix, .on_up = daemon_redis_up, .cb_arg = d};
	int err = 0;
	int64_t end;

	if (rc->kind == CONFIG_REDIS_PRIVATE) {
		err = rdsrv_start(d->cfg->server.state_dir, rc->server_path,
				  &d->rdsrv);
		if (err < 0)
			return err;
		snprintf(target, sizeof(target), "%s", rdsrv_socket(d->rdsrv));
	} else if (rc->kind == CONFIG_REDIS_UNIX) {
		snprintf(target, sizeof(target), "%s", rc->socket_path);
	} else {
		snprintf(target, sizeof(target),
			 rc->tcp.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
			 rc->tcp.host, (unsigned)rc->tcp.port);
	}
	o.target = target;
	d->ctl = ctl_new(&(struct ctl_opts){.cfg = d->cfg, .doms = &d->doms});
	d->rds = rds_new(d->ring, &o, &err);
	if (d->rds == NULL) {
		log_err("redis %s: %s", target, strerror(-err));
		return err;
	}
	err =
	    rstate_new(&(struct rstate_opts){.ring = d->ring,
					     .rds = d->rds,
					     .doms = &d->doms,
					     .bnds = &d->bnds,
					     .node_id = d->cfg->server.node_id,
					     .version = RINGMTA_VERSION,
					     .on_resume = ctl_on_resume,
					     .on_request = ctl_on_request,
					     .on_override = ctl_on_override,
					     .cb_arg = d->ctl},
		       &d->rs);
	if (err < 0) {
		log_err("redis state: %s", strerror(-err));
		return err;
	}
	err = rlease_new(
	    &(struct rlease_opts){.ring = d->ring,
				  .rds = d->rds,
				  .node_id = d->cfg->server.node_id,
				  .ttl_ms = (unsigned)rc->cluster_lease_ttl_ms,
				  .fallback = rc->cluster_unreachable,
				  .poke = daemon_lease_poke},
	    &d->rl);
	if (err < 0) {
		log_err("cluster leases: %s", strerror(-err));
		return err;
	}
	end = ring_now_update(d->ring) + DAEMON_REDIS_WAIT_NS;
	while (!rstate_ready(d->rs) && ring_now_update(d->ring) < end)
		ring_run_once(d->ring, 50000000);
	if (!rstate_ready(d->rs))
		log_warn("redis %s: suspensions not read yet; delivery starts "
			 "without them",
			 target);
	return 0;
}

int
daemon_start(struct ring *r, const struct config *cfg, struct daemon **d_r)
{
	struct daemon *d = xcalloc(1, sizeof(*d));
	struct spool_opts so;
	int rc;

	d->ring = r;
	d->cfg = cfg;
	daemon_spool_opts(cfg, &so);
	d->lock_fd = daemon_lock(so.dir);
	if (d->lock_fd < 0) {
		rc = d->lock_fd;
		free(d);
		return rc;
	}
	rc = spool_open(r, &so, &d->sp);
	if (rc < 0) {
		log_err("spool %s: cannot open: %s", so.dir, strerror(-rc));
		close(d->lock_fd);
		free(d);
		return rc;
	}
	rc = dlogw_open(r, cfg->server.delivery_log, &d->dl);
	if (rc < 0) {
		log_err("delivery log %s: %s", cfg->server.delivery_log,
			strerror(-rc));
		spool_close(d->sp);
		close(d->lock_fd);
		free(d);
		return rc;
	}
	bnd_table_init(&d->bnds, cfg);
	/* every slot, spare ones too (a reload that adds more grows both) */
	dom_table_init(&d->doms, (unsigned)d->bnds.cap);
	bnd_mover_init(&d->mover, r, &d->bnds, &d->doms, maint_poke);
	rc = daemon_redis_start(d);
	if (rc < 0) {
		daemon_stop(d);
		return rc;
	}
	rc = dlv_new(&(struct dlv_opts){.ring = r,
					.cfg = cfg,
					.sp = d->sp,
					.dl = d->dl,
					.doms = &d->doms,
					.bnds = &d->bnds},
		     &d->dlv);
	if (rc < 0) {
		d->dlv = NULL;
		daemon_stop(d);
		return rc;
	}
	d->dlv->rl = d->rl;
	ctl_attach(d->ctl, d->rs, d->dlv);
	spool_foreach_live(d->sp, daemon_queue_msg, d);
	rstate_replayed(d->rs);
	log_info("spool %s: %" PRIu32 " messages, %" PRIu64
		 " recipients queued for %zu domains (replay %.1f ms)",
		 so.dir, spool_stats(d->sp)->live_msgs,
		 spool_stats(d->sp)->live_rcpts, d->doms.count,
		 (double)spool_stats(d->sp)->replay_ns / 1e6);
	rc = listener_new(r, cfg, d->sp, d->dl, daemon_on_accepted, d, &d->lst);
	if (rc < 0) {
		d->lst = NULL;
		daemon_stop(d);
		return rc;
	}
	*d_r = d;
	return 0;
}

/*
 * The bindings of cfg: changed ones updated, added ones given slots (the
 * binding table grows when full, and with it every per-slot array: the
 * domain records' queues and rstate's gauges), removed ones retired and
 * their units moved.
 */
static void
daemon_reload_bindings(struct daemon *d, const struct config *cfg)
{
	size_t cap = d->bnds.cap;

	bnd_table_reload(&d->bnds, cfg, NULL);
	if (d->bnds.cap > cap) {
		dom_table_grow_bind(&d->doms, (unsigned)d->bnds.cap);
		if (d->rs != NULL)
			rstate_bnds_grown(d->rs, cap);
	}
	bnd_mover_run(&d->mover, cfg->listener.binding);
}

/* [redis] cluster_lease_ttl and cluster_unreachable, while d->cfg is the
 * old configuration (the rest of [redis] waits for a restart). */
static void
daemon_reload_cluster(struct daemon *d, const struct config *cfg)
{
	const struct config_redis *o = &d->cfg->redis, *n = &cfg->redis;
	int err;

	if (d->rl == NULL) /* no Redis: no cluster limits to change */
		return;
	if (o->cluster_lease_ttl_ms == n->cluster_lease_ttl_ms &&
	    o->cluster_unreachable == n->cluster_unreachable)
		return;
	err = rlease_reconfigure(d->rl, (unsigned)n->cluster_lease_ttl_ms,
				 n->cluster_unreachable);
	if (err < 0) {
		log_err("cluster limits: reload refused: %s", strerror(-err));
		return;
	}
	log_info("cluster limits: lease TTL %" PRIu64 " ms -> %" PRIu64
		 " ms, unreachable %s -> %s",
		 o->cluster_lease_ttl_ms, n->cluster_lease_ttl_ms,
		 config_cluster_unreachable_str(o->cluster_unreachable),
		 config_cluster_unreachable_str(n->cluster_unreachable));
}

void
daemon_reconfigure(struct daemon *d, const struct config *cfg)
{
	struct dns_opts dno;

	/* bindings and resolvers first, while d->cfg is the old one */
	daemon_reload_bindings(d, cfg);
	dlv_dns_opts(cfg, &dno);
	(void)dns_reconfigure(d->dlv->dns, &dno); /* logs what changed */
	daemon_reload_cluster(d, cfg);
	d->cfg = cfg;
	listener_set_config(d->lst, cfg);
	dlv_set_config(d->dlv, cfg);
	ctl_set_config(d->ctl, cfg); /* overrides rebuilt on the new policy */
}

struct dom_table *
daemon_domains(struct daemon *d)
{
	return &d->doms;
}

void
daemon_stop(struct daemon *d)
{
	int64_t end;

	if (d == NULL)
		return;
	if (d->lst) {
		listener_stop(d->lst);
		end = ring_now_update(d->ring) + 5000000000LL;
		while (!listener_idle(d->lst) && ring_now_update(d->ring) < end)
			ring_run_once(d->ring, 100000000);
	}
	if (d->ctl != NULL)
		ctl_attach(d->ctl, d->rs, NULL); /* no action past this */
	dlv_free(d->dlv);   /* sessions end; their marks go to the spool */
	spool_close(d->sp); /* last commit callbacks run here */
	if (d->lst)
		listener_free(d->lst);
	dlogw_close(d->dl);
	rstate_stop(d->rs);
	rlease_stop(d->rl); /* sessions ended: give back what is left */
	rds_free(d->rds, 1000);
	rstate_free(d->rs);
	rlease_free(d->rl);
	ctl_free(d->ctl);
	if (d->rdsrv != NULL)
		(void)rdsrv_stop(&d->rdsrv, RDSRV_STOP_MS);
	bnd_mover_fini(&d->mover);
	dom_table_fini(&d->doms);
	bnd_table_fini(&d->bnds);
	close(d->lock_fd);
	free(d);
}
