/* SPDX-License-Identifier: MIT */
/*
 * config_check.c: what config.c does once the whole text is read: sorts
 * the named sections and reports repeated names, fills the defaults that
 * depend on other keys or on the host, checks what involves more than one
 * key, and resolves [delivery] -> [domain default] -> [domain NAME]
 * inheritance.  Errors go to the parse's list through config_err(), with
 * the line of the key concerned.  Must not read files or the network (the
 * host name is the one exception, for the default [server] hostname).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"

static int
config_domain_order(const void *a, const void *b)
{
	const struct domain_policy *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c
		      : (x->meta.line > y->meta.line) -
			    (x->meta.line < y->meta.line);
}

static int
config_binding_order(const void *a, const void *b)
{
	const struct config_binding *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c
		      : (x->meta.line > y->meta.line) -
			    (x->meta.line < y->meta.line);
}

/* Sort the named sections; report and drop repeated names. */
static void
config_dedup(struct config_parse *p)
{
	struct config *cfg = p->cfg;
	size_t o = 0;

	if (cfg->ndomains > 0)
		qsort(cfg->domains, cfg->ndomains, sizeof(*cfg->domains),
		      config_domain_order);
	for (size_t i = 0; i < cfg->ndomains; i++) {
		struct domain_policy *d = &cfg->domains[i];

		if (o > 0 && strcmp(cfg->domains[o - 1].name, d->name) == 0)
			config_err(p, d->meta.line,
				   "duplicate section [domain "
				   "%s] (first on line %u)",
				   d->name, cfg->domains[o - 1].meta.line);
		else
			cfg->domains[o++] = *d;
	}
	cfg->ndomains = o;
	if (cfg->nbindings > 0)
		qsort(cfg->bindings, cfg->nbindings, sizeof(*cfg->bindings),
		      config_binding_order);
	o = 0;
	for (size_t i = 0; i < cfg->nbindings; i++) {
		struct config_binding *b = &cfg->bindings[i];

		if (o > 0 && strcmp(cfg->bindings[o - 1].name, b->name) == 0)
			config_err(p, b->meta.line,
				   "duplicate section [binding "
				   "%s] (first on line %u)",
				   b->name, cfg->bindings[o - 1].meta.line);
		else
			cfg->bindings[o++] = *b;
	}
	cfg->nbindings = o;
}

static const char *
config_path_join(struct config *cfg, const char *dir, const char *rest)
{
	size_t n = strlen(dir) + strlen(rest) + 2;
	char *s = xmalloc(n);

	snprintf(s, n, "%s/%s", dir, rest);
	return config_own(cfg, s);
}

/* Fill the defaults that depend on other keys or on the host. */
static void
config_derive(struct config_parse *p)
{
	struct config *cfg = p->cfg;
	char host[VALUE_HOST_MAX + 2] = "";
	struct config_binding *b;

	if (cfg->server.hostname == NULL) {
		if (gethostname(host, sizeof(host) - 1) != 0 ||
		    value_hostname(host, NULL, 0) < 0)
			snprintf(host, sizeof(host), "localhost");
		cfg->server.hostname = config_strdup(cfg, host);
	}
	if (cfg->server.node_id == NULL)
		cfg->server.node_id = cfg->server.hostname;
	if (cfg->server.delivery_log == NULL)
		cfg->server.delivery_log = config_path_join(
		    cfg, cfg->server.state_dir, "log/delivery.jsonl");
	if (cfg->spool.dir == NULL)
		cfg->spool.dir =
		    config_path_join(cfg, cfg->server.state_dir, "spool");
	if (config_binding(cfg, "default") == NULL) {
		cfg->bindings =
		    config_grow(cfg->bindings, cfg->nbindings, sizeof(*b));
		b = &cfg->bindings[cfg->nbindings++];
		memset(b, 0, sizeof(*b));
		b->name = "default";
		b->implicit = true;
		qsort(cfg->bindings, cfg->nbindings, sizeof(*b),
		      config_binding_order);
	}
	for (size_t i = 0; i < cfg->nbindings; i++)
		if (cfg->bindings[i].ehlo == NULL)
			cfg->bindings[i].ehlo = cfg->server.hostname;
	if (!(cfg->listener.meta.set &
	      config_bit(CONFIG_SEC_LISTENER, 0, "tls")))
		cfg->listener.tls =
		    cfg->tls.cert_file != NULL && cfg->tls.key_file != NULL
			? CONFIG_LTLS_OPTIONAL
			: CONFIG_LTLS_NONE;
}

static void
config_check_policy(struct config_parse *p, struct domain_policy *d,
		    const char *label)
{
	const struct config_meta *m = &d->meta;
	uint64_t both = (1ull << CONFIG_POL_RETRY_INTERVAL) |
			(1ull << CONFIG_POL_MAX_RETRY_INTERVAL);
	char a[32], b[32];

	if (d->relay.host[0] != '\0' && d->relay.port == 0)
		d->relay.port = (uint16_t)d->port;
	if (d->tls_ca_file == NULL)
		d->tls_ca_file = p->cfg->tls.ca_file;
	if ((m->set & both) &&
	    d->retry_interval_ms > d->max_retry_interval_ms) {
		value_duration_fmt(d->retry_interval_ms, a, sizeof(a));
		value_duration_fmt(d->max_retry_interval_ms, b, sizeof(b));
		config_err(
		    p,
		    m->key_line[m->set & (1ull << CONFIG_POL_RETRY_INTERVAL)
				    ? CONFIG_POL_RETRY_INTERVAL
				    : CONFIG_POL_MAX_RETRY_INTERVAL],
		    "%s retry_interval (%s) is greater than max_retry_interval "
		    "(%s)",
		    label, a, b);
	}
}

static void
config_policies(struct config_parse *p)
{
	struct config *cfg = p->cfg;
	char label[VALUE_HOST_MAX + 32];

	config_inherit(&cfg->delivery.policy, NULL, CONFIG_ORIGIN_DELIVERY);
	config_inherit(&cfg->domain_default, &cfg->delivery.policy,
		       CONFIG_ORIGIN_DOMAIN_DEFAULT);
	for (size_t i = 0; i < cfg->ndomains; i++)
		config_inherit(&cfg->domains[i], &cfg->domain_default,
			       CONFIG_ORIGIN_DOMAIN);
	config_check_policy(p, &cfg->delivery.policy, "[delivery]");
	config_check_policy(p, &cfg->domain_default, "[domain default]");
	for (size_t i = 0; i < cfg->ndomains; i++) {
		snprintf(label, sizeof(label), "[domain %s]",
			 cfg->domains[i].name);
		config_check_policy(p, &cfg->domains[i], label);
	}
}

/* sync = no only with unsafe_no_sync = yes, which alone also turns it off. */
static void
config_check_spool(struct config_parse *p, struct config_spool *sp)
{
	uint64_t sync_bit = config_bit(CONFIG_SEC_SPOOL, 0, "sync");
	uint32_t line = config_line_of(&sp->meta, CONFIG_SEC_SPOOL, 0, "sync");

	if (!sp->sync && !sp->unsafe_no_sync)
		config_err(
		    p, line,
		    "[spool] sync = no also needs unsafe_no_sync = yes (mail "
		    "accepted before a crash can be lost)");
	else if (sp->sync && sp->unsafe_no_sync && (sp->meta.set & sync_bit))
		config_err(
		    p, line,
		    "[spool] sync = yes contradicts unsafe_no_sync = yes");
	else if (sp->unsafe_no_sync)
		sp->sync = false;
}

/* Checks that involve more than one key. */
static void
config_cross_checks(struct config_parse *p)
{
	struct config *cfg = p->cfg;
	const struct config_tls_section *t = &cfg->tls;
	const struct config_meta *tm = &t->meta, *lm = &cfg->listener.meta;
	char a[32], b[32];

	if ((t->cert_file == NULL) != (t->key_file == NULL))
		config_err(p,
			   config_line_of(tm, CONFIG_SEC_TLS, 0,
					  t->cert_file != NULL ? "cert_file"
							       : "key_file"),
			   "[tls] %s is set but %s is not",
			   t->cert_file != NULL ? "cert_file" : "key_file",
			   t->cert_file != NULL ? "key_file" : "cert_file");
	if (cfg->listener.tls == CONFIG_LTLS_OPTIONAL &&
	    (t->cert_file == NULL || t->key_file == NULL))
		config_err(
		    p, config_line_of(lm, CONFIG_SEC_LISTENER, 0, "tls"),
		    "[listener] tls = optional needs [tls] cert_file and "
		    "key_file");
	if (cfg->listener.binding != NULL &&
	    config_binding(cfg, cfg->listener.binding) == NULL)
		config_err(
		    p, config_line_of(lm, CONFIG_SEC_LISTENER, 0, "binding"),
		    "[listener] binding '%s' is not defined (no [binding %s] "
		    "section)",
		    cfg->listener.binding, cfg->listener.binding);
	config_check_spool(p, &cfg->spool);
	if (cfg->dns.min_ttl_ms > cfg->dns.max_ttl_ms) {
		value_duration_fmt(cfg->dns.min_ttl_ms, a, sizeof(a));
		value_duration_fmt(cfg->dns.max_ttl_ms, b, sizeof(b));
		config_err(p,
			   config_line_of(&cfg->dns.meta, CONFIG_SEC_DNS, 0,
					  "min_ttl"),
			   "[dns] min_ttl (%s) is greater than max_ttl (%s)", a,
			   b);
	}
}

/* See config_int.h. */
void
config_finish(struct config_parse *p)
{
	config_dedup(p);
	config_derive(p);
	config_cross_checks(p);
	config_policies(p);
}
