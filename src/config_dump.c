/* SPDX-License-Identifier: MIT */
/*
 * config_dump.c: reading a loaded config: config_dump(), the domain and
 * binding lookups and the *_str() names.
 *
 * Everything here takes a const config and changes nothing; the dump is
 * INI text that config_load() reads back to the same configuration.  Must
 * not parse or allocate anything the config keeps.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

/* One "key = value" line; note is an annotation or NULL. */
static void
config_dump_key(FILE *f, const struct config_key *k, const void *base,
		const char *note, unsigned flags)
{
	char *val = NULL;
	size_t vlen = 0;
	FILE *m = open_memstream(&val, &vlen);

	BUG_ON(m == NULL);
	config_dump_value(m, k, base);
	fclose(m);
	fprintf(f, "%s =%s%s", k->name, vlen > 0 ? " " : "", val);
	if (note != NULL && !(flags & CONFIG_DUMP_BARE))
		fprintf(f, " ; %s", note);
	fputc('\n', f);
	free(val);
}

static void
config_dump_table(FILE *f, int sec, int t, const void *base,
		  const struct config_meta *m, unsigned flags)
{
	const struct config_section_def *d = &config_sections[sec];

	for (size_t i = 0; i < d->nkeys[t]; i++)
		config_dump_key(f, &d->keys[t][i], base,
				m->set & (1ull << i) ? NULL : "default", flags);
}

static void
config_dump_policy(FILE *f, const struct domain_policy *d,
		   enum config_origin here, unsigned flags)
{
	for (int k = 0; k < CONFIG_POL__COUNT; k++) {
		const char *note = NULL;

		if (here == CONFIG_ORIGIN_DELIVERY &&
		    config_pol_keys[k].flags & CONFIG_KF_DOMAIN_ONLY)
			continue;
		if (d->origin[k] == CONFIG_ORIGIN_DEFAULT)
			note = "default";
		else if (d->origin[k] == CONFIG_ORIGIN_DELIVERY &&
			 here != CONFIG_ORIGIN_DELIVERY)
			note = "from [delivery]";
		else if (d->origin[k] == CONFIG_ORIGIN_DOMAIN_DEFAULT &&
			 here != CONFIG_ORIGIN_DOMAIN_DEFAULT)
			note = "from [domain default]";
		config_dump_key(f, &config_pol_keys[k], d, note, flags);
	}
}

/* See config.h. */
void
config_dump(const struct config *cfg, FILE *f, unsigned flags)
{
	static const int plain[] = {CONFIG_SEC_SERVER, CONFIG_SEC_LISTENER,
				    CONFIG_SEC_SPOOL,  CONFIG_SEC_REDIS,
				    CONFIG_SEC_DNS,    CONFIG_SEC_TLS};
	const void *bases[] = {&cfg->server, &cfg->listener, &cfg->spool,
			       &cfg->redis,  &cfg->dns,      &cfg->tls};
	const struct config_meta *metas[] = {
	    &cfg->server.meta, &cfg->listener.meta, &cfg->spool.meta,
	    &cfg->redis.meta,  &cfg->dns.meta,      &cfg->tls.meta};

	fprintf(f, "# effective configuration of %s\n", cfg->name);
	for (size_t i = 0; i < nitems(plain); i++) {
		fprintf(f, "\n[%s]\n", config_sections[plain[i]].name);
		config_dump_table(f, plain[i], 0, bases[i], metas[i], flags);
	}
	fprintf(f, "\n[delivery]\n");
	config_dump_policy(f, &cfg->delivery.policy, CONFIG_ORIGIN_DELIVERY,
			   flags);
	config_dump_table(f, CONFIG_SEC_DELIVERY, 1, &cfg->delivery,
			  &cfg->delivery.meta, flags);
	fprintf(f, "\n[domain default]\n");
	config_dump_policy(f, &cfg->domain_default,
			   CONFIG_ORIGIN_DOMAIN_DEFAULT, flags);
	for (size_t i = 0; i < cfg->ndomains; i++) {
		fprintf(f, "\n[domain %s]\n", cfg->domains[i].name);
		config_dump_policy(f, &cfg->domains[i], CONFIG_ORIGIN_DOMAIN,
				   flags);
	}
	for (size_t i = 0; i < cfg->nbindings; i++) {
		fprintf(f, "\n[binding %s]\n", cfg->bindings[i].name);
		config_dump_table(f, CONFIG_SEC_BINDING, 0, &cfg->bindings[i],
				  &cfg->bindings[i].meta, flags);
	}
}

struct config_dkey {
	const char *s;
	size_t n;
};

static int
config_domain_cmp(const void *key, const void *elem)
{
	const struct config_dkey *k = key;
	const unsigned char *name =
	    (const unsigned char *)((const struct domain_policy *)elem)->name;
	size_t i;

	for (i = 0; i < k->n; i++) {
		unsigned char a = (unsigned char)k->s[i];

		a = a >= 'A' && a <= 'Z' ? (unsigned char)(a + 32) : a;
		if (a != name[i])
			return name[i] == '\0' || a > name[i] ? 1 : -1;
	}
	return name[i] == '\0' ? 0 : -1;
}

/* See config.h. */
const struct domain_policy *
config_domain(const struct config *cfg, const char *name)
{
	struct config_dkey k = {name, strlen(name)};
	const struct domain_policy *d = NULL;

	if (k.n > 1 && name[k.n - 1] == '.')
		k.n--;
	if (cfg->ndomains > 0)
		d = bsearch(&k, cfg->domains, cfg->ndomains,
			    sizeof(*cfg->domains), config_domain_cmp);
	return d != NULL ? d : &cfg->domain_default;
}

static int
config_binding_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct config_binding *)elem)->name);
}

/* See config.h. */
const struct config_binding *
config_binding(const struct config *cfg, const char *name)
{
	if (cfg->nbindings == 0)
		return NULL;
	return bsearch(name, cfg->bindings, cfg->nbindings,
		       sizeof(*cfg->bindings), config_binding_cmp);
}

/* See config.h. */
const struct config_binding *
config_binding_next(const struct config *cfg, const struct config_binding *prev)
{
	size_t i = prev == NULL ? 0 : (size_t)(prev - cfg->bindings) + 1;

	return i < cfg->nbindings ? &cfg->bindings[i] : NULL;
}

/* See config.h. */
const struct domain_policy *
config_domain_next(const struct config *cfg, const struct domain_policy *prev)
{
	size_t i = prev == NULL ? 0 : (size_t)(prev - cfg->domains) + 1;

	return i < cfg->ndomains ? &cfg->domains[i] : NULL;
}

/* See config.h. */
bool
config_destination_allowed(const struct domain_policy *pol,
			   const struct sockaddr *sa)
{
	return pol->allowed_networks.n == 0 ||
	       value_cidr_match(&pol->allowed_networks, sa);
}

static const char *
config_name(const char *const *names, size_t n, int i)
{
	return i >= 0 && (size_t)i < n - 1 ? names[i] : "?";
}

/* See config.h: the *_str() functions name enum values ("?" if bad). */
const char *
config_pol_key_str(enum config_pol_key k)
{
	return (unsigned)k < CONFIG_POL__COUNT ? config_pol_keys[k].name : "?";
}

const char *
config_origin_str(enum config_origin o)
{
	return config_name(config_origin_names, nitems(config_origin_names),
			   (int)o);
}

const char *
config_tls_str(enum config_tls t)
{
	return config_name(config_tls_names, nitems(config_tls_names), (int)t);
}

const char *
config_tls_verify_str(enum config_tls_verify v)
{
	return config_name(config_verify_names, nitems(config_verify_names),
			   (int)v);
}

const char *
config_listener_tls_str(enum config_listener_tls t)
{
	return config_name(config_ltls_names, nitems(config_ltls_names),
			   (int)t);
}

const char *
config_line_endings_str(enum config_line_endings e)
{
	return config_name(config_le_names, nitems(config_le_names), (int)e);
}

const char *
config_tls_version_str(enum config_tls_version v)
{
	return config_name(config_tlsv_names, nitems(config_tlsv_names),
			   (int)v);
}

const char *
config_redis_kind_str(enum config_redis_kind k)
{
	return config_name(config_redis_names, nitems(config_redis_names),
			   (int)k);
}
