/* SPDX-License-Identifier: MIT */
/*
 * config_keys.c: the key tables and one value <-> one field.
 *
 * Every section's keys are described by a table (name, type, field, range,
 * default); this file owns those tables, parses one value into its field
 * (through value.c), writes a field back as text, fills the built-in
 * defaults, copies inherited policy keys, and finds keys by name (with a
 * "did you mean" for near misses).  Must not read the file or report
 * errors: the reader and the error list are config.c's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_int.h"
#include "log.h"

#define CONFIG_MS_S 1000ull
#define CONFIG_MS_M (60 * CONFIG_MS_S)
#define CONFIG_MS_H (60 * CONFIG_MS_M)
#define CONFIG_MS_D (24 * CONFIG_MS_H)

const char *const config_tls_names[] = {[CONFIG_TLS_NONE] = "none",
					[CONFIG_TLS_OPPORTUNISTIC] =
					    "opportunistic",
					[CONFIG_TLS_REQUIRED] = "required",
					NULL};
const char *const config_verify_names[] = {[CONFIG_VERIFY_NONE] = "none",
					   [CONFIG_VERIFY_CA] = "ca",
					   [CONFIG_VERIFY_HOST] = "host",
					   NULL};
const char *const config_ltls_names[] = {
    [CONFIG_LTLS_NONE] = "none", [CONFIG_LTLS_OPTIONAL] = "optional", NULL};
const char *const config_le_names[] = {
    [CONFIG_LE_REJECT] = "reject", [CONFIG_LE_NORMALIZE] = "normalize", NULL};
const char *const config_tlsv_names[] = {
    [CONFIG_TLSV_1_2] = "1.2", [CONFIG_TLSV_1_3] = "1.3", NULL};
const char *const config_redis_names[] = {[CONFIG_REDIS_PRIVATE] = "private",
					  [CONFIG_REDIS_UNIX] = "unix",
					  [CONFIG_REDIS_TCP] = "tcp",
					  NULL};
static const char *const config_cluster_names[] = {
    [CONFIG_CLUSTER_CLOSED] = "closed", [CONFIG_CLUSTER_LOCAL] = "local", NULL};
const char *const config_origin_names[] = {
    [CONFIG_ORIGIN_DEFAULT] = "default",
    [CONFIG_ORIGIN_DELIVERY] = "[delivery]",
    [CONFIG_ORIGIN_DOMAIN_DEFAULT] = "[domain default]",
    [CONFIG_ORIGIN_DOMAIN] = "[domain NAME]",
    NULL};
_Static_assert(nitems(config_tls_names) == CONFIG_TLS__COUNT + 1, "tls");
_Static_assert(nitems(config_verify_names) == CONFIG_VERIFY__COUNT + 1, "vfy");
_Static_assert(nitems(config_ltls_names) == CONFIG_LTLS__COUNT + 1, "ltls");
_Static_assert(nitems(config_le_names) == CONFIG_LE__COUNT + 1, "le");
_Static_assert(nitems(config_tlsv_names) == CONFIG_TLSV__COUNT + 1, "tlsv");
_Static_assert(nitems(config_redis_names) == CONFIG_REDIS__COUNT + 1, "redis");
_Static_assert(nitems(config_origin_names) == CONFIG_ORIGIN__COUNT + 1, "orig");
_Static_assert(nitems(config_cluster_names) == CONFIG_CLUSTER__COUNT + 1, "cl");
/* CONFIG_T_ENUM fields are written through an int pointer. */
_Static_assert(sizeof(enum config_tls) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_tls_verify) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_listener_tls) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_line_endings) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_tls_version) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_cluster_unreachable) == sizeof(int), "enum");

#define CONFIG_K(st, n, t, fl, f, lo, hi, d)                                   \
	{                                                                      \
		.name = n, .type = CONFIG_T_##t, .flags = fl,                  \
		.off = offsetof(st, f), .min = lo, .max = hi, .def = d         \
	}
#define CONFIG_KE(st, n, f, d, nm)                                             \
	{                                                                      \
		.name = n, .type = CONFIG_T_ENUM, .off = offsetof(st, f),      \
		.def = d, .names = nm                                          \
	}
#define CONFIG_PK(k, n, t, fl, f, lo, hi, d)                                   \
	[CONFIG_POL_##k] =                                                     \
	    CONFIG_K(struct domain_policy, n, t, fl, f, lo, hi, d)
#define CONFIG_PT(k, n, f, d)                                                  \
	CONFIG_PK(k, n, DURATION, 0, f, CONFIG_MS_S, CONFIG_MS_D, d)
#define CONFIG_E CONFIG_KF_EMPTY

const struct config_key config_pol_keys[] = {
    CONFIG_PK(PORT, "port", UINT, 0, port, 1, 65535, "25"),
    CONFIG_PK(ALLOWED_NETWORKS, "allowed_networks", CIDRS, CONFIG_E,
	      allowed_networks, 0, 0, ""),
    CONFIG_PK(RETRY_INTERVAL, "retry_interval", DURATION, 0, retry_interval_ms,
	      CONFIG_MS_S, 30 * CONFIG_MS_D, "20m"),
    CONFIG_PK(MAX_RETRY_INTERVAL, "max_retry_interval", DURATION, 0,
	      max_retry_interval_ms, CONFIG_MS_S, 30 * CONFIG_MS_D, "12h"),
    CONFIG_PK(MESSAGE_EXPIRATION, "message_expiration", DURATION, 0,
	      message_expiration_ms, CONFIG_MS_M, 90 * CONFIG_MS_D, "5d"),
    CONFIG_PK(MAX_OUTBOUND_CONNECTIONS, "max_outbound_connections", UINT, 0,
	      max_outbound_connections, 1, 100000, "20"),
    CONFIG_PK(MAX_BINDING_CONNECTIONS, "max_outbound_connections_per_binding",
	      UINT, 0, max_binding_connections, 0, 100000, "0"),
    CONFIG_PK(MAX_DELIVERIES_PER_CONNECTION, "max_deliveries_per_connection",
	      UINT, 0, max_deliveries_per_connection, 1, 1000000, "100"),
    CONFIG_PK(IDLE_TIMEOUT, "idle_timeout", DURATION, 0, idle_timeout_ms, 0,
	      CONFIG_MS_H, "5s"),
    CONFIG_PK(THROTTLE_MESSAGES, "outbound_throttle_messages", RATE, CONFIG_E,
	      throttle_messages, 0, 0, ""),
    CONFIG_PK(THROTTLE_CONNECTIONS, "outbound_throttle_connections", RATE,
	      CONFIG_E, throttle_connections, 0, 0, ""),
    [CONFIG_POL_TLS] = CONFIG_KE(struct domain_policy, "tls", tls,
				 "opportunistic", config_tls_names),
    [CONFIG_POL_TLS_VERIFY] =
	CONFIG_KE(struct domain_policy, "tls_verify", tls_verify, "none",
		  config_verify_names),
    CONFIG_PK(TLS_CA_FILE, "tls_ca_file", STRING, CONFIG_E, tls_ca_file, 0, 0,
	      ""),
    CONFIG_PK(SUSPENDED, "suspended", BOOL, 0, suspended, 0, 0, "no"),
    CONFIG_PK(RELAY, "relay", HOSTPORT, CONFIG_E | CONFIG_KF_DOMAIN_ONLY, relay,
	      0, 0, ""),
    CONFIG_PT(CONNECT_TIMEOUT, "connect_timeout", connect_timeout_ms, "30s"),
    CONFIG_PT(BANNER_TIMEOUT, "banner_timeout", banner_timeout_ms, "5m"),
    CONFIG_PT(EHLO_TIMEOUT, "ehlo_timeout", ehlo_timeout_ms, "5m"),
    CONFIG_PT(STARTTLS_TIMEOUT, "starttls_timeout", starttls_timeout_ms, "5m"),
    CONFIG_PT(MAIL_TIMEOUT, "mail_timeout", mail_timeout_ms, "5m"),
    CONFIG_PT(RCPT_TIMEOUT, "rcpt_timeout", rcpt_timeout_ms, "5m"),
    CONFIG_PT(DATA_TIMEOUT, "data_timeout", data_timeout_ms, "2m"),
    CONFIG_PT(DATA_BLOCK_TIMEOUT, "data_block_timeout", data_block_timeout_ms,
	      "3m"),
    CONFIG_PT(DOT_TIMEOUT, "dot_timeout", dot_timeout_ms, "10m"),
    CONFIG_PT(RSET_TIMEOUT, "rset_timeout", rset_timeout_ms, "20s"),
    CONFIG_PT(QUIT_TIMEOUT, "quit_timeout", quit_timeout_ms, "2m"),
    CONFIG_PK(MAX_RECIPIENTS_PER_MESSAGE, "max_recipients_per_message", UINT, 0,
	      max_recipients_per_message, 1, 100000, "100"),
    CONFIG_PK(BOUNCE_8BIT, "bounce_8bit", BOOL, 0, bounce_8bit, 0, 0, "yes"),
    CONFIG_PK(DELAY_WARNING, "delay_warning", DURATION, 0, delay_warning_ms, 0,
	      90 * CONFIG_MS_D, "0"),
    CONFIG_PK(CLUSTER_MAX_OUTBOUND_CONNECTIONS,
	      "cluster_max_outbound_connections", UINT, 0,
	      cluster_max_outbound_connections, 0, 100000, "0"),
    CONFIG_PK(CLUSTER_MAX_BINDING_CONNECTIONS,
	      "cluster_max_outbound_connections_per_binding", UINT, 0,
	      cluster_max_binding_connections, 0, 100000, "0"),
    CONFIG_PK(CLUSTER_THROTTLE_MESSAGES, "cluster_outbound_throttle_messages",
	      RATE, CONFIG_E, cluster_throttle_messages, 0, 0, ""),
};
_Static_assert(nitems(config_pol_keys) == CONFIG_POL__COUNT, "policy keys");

#define CONFIG_SK(n, t, fl, f, lo, hi, d)                                      \
	CONFIG_K(struct config_server, n, t, fl, f, lo, hi, d)
static const struct config_key config_server_keys[] = {
    CONFIG_SK("hostname", HOSTNAME, 0, hostname, 0, 0, NULL),
    CONFIG_SK("state_dir", STRING, 0, state_dir, 0, 0, "./var"),
    CONFIG_SK("delivery_log", STRING, 0, delivery_log, 0, 0, NULL),
    CONFIG_SK("log_level", LOGLEVEL, 0, log_level, 0, 0, "info"),
    CONFIG_SK("node_id", TOKEN, 0, node_id, 0, VALUE_HOST_MAX, NULL),
};

#define CONFIG_LK(n, t, fl, f, lo, hi, d)                                      \
	CONFIG_K(struct config_listener, n, t, fl, f, lo, hi, d)
static const struct config_key config_listener_keys[] = {
    CONFIG_LK("address", SOCKADDRS, CONFIG_KF_PORT0 | CONFIG_KF_WILDCARD,
	      address, 0, 0, "127.0.0.1:10025"),
    CONFIG_LK("relay_networks", CIDRS, CONFIG_E, relay_networks, 0, 0,
	      "127.0.0.0/8, ::1/128"),
    CONFIG_LK("max_message_size", SIZE, 0, max_message_size, 1024, 2ull << 30,
	      "50M"),
    CONFIG_LK("max_recipients", UINT, 0, max_recipients, 1, 1000000, "1000"),
    CONFIG_LK("binding", TOKEN, CONFIG_E, binding, 0, CONFIG_TOKEN_MAX, ""),
    CONFIG_LK("max_line_length", SIZE, 0, max_line_length, 512, 1u << 20,
	      "4096"),
    CONFIG_LK("max_errors", UINT, 0, max_errors, 1, 100000, "20"),
    CONFIG_LK("idle_timeout", DURATION, 0, idle_timeout_ms, CONFIG_MS_S,
	      CONFIG_MS_D, "5m"),
    CONFIG_LK("session_timeout", DURATION, 0, session_timeout_ms, CONFIG_MS_S,
	      7 * CONFIG_MS_D, "30m"),
    CONFIG_LK("max_connections", UINT, 0, max_connections, 1, 1000000, "10000"),
    CONFIG_KE(struct config_listener, "line_endings", line_endings, "reject",
	      config_le_names),
    CONFIG_LK("add_message_id", BOOL, 0, add_message_id, 0, 0, "yes"),
    CONFIG_LK("add_date", BOOL, 0, add_date, 0, 0, "yes"),
    CONFIG_KE(struct config_listener, "tls", tls, NULL, config_ltls_names),
    CONFIG_LK("banner_delay", DURATION, 0, banner_delay_ms, 0, 5 * CONFIG_MS_M,
	      "0"),
};

#define CONFIG_QK(n, t, fl, f, lo, hi, d)                                      \
	CONFIG_K(struct config_spool, n, t, fl, f, lo, hi, d)
static const struct config_key config_spool_keys[] = {
    CONFIG_QK("dir", STRING, 0, dir, 0, 0, NULL),
    CONFIG_QK("segment_size", SIZE, 0, segment_size, 1u << 20, 4ull << 30,
	      "64M"),
    CONFIG_QK("sync", BOOL, 0, sync, 0, 0, "yes"),
    CONFIG_QK("unsafe_no_sync", BOOL, 0, unsafe_no_sync, 0, 0, "no"),
    CONFIG_QK("max_batch", UINT, 0, max_batch, 1, 65536, "256"),
    CONFIG_QK("commit_delay", DURATION, 0, commit_delay_ms, 0, CONFIG_MS_S,
	      "2ms"),
    CONFIG_QK("min_free_space", FREE_SPACE, 0, min_free_space, 0, 0, "1G"),
};

#define CONFIG_RK(n, t, fl, f, lo, hi, d)                                      \
	CONFIG_K(struct config_redis, n, t, fl, f, lo, hi, d)
static const struct config_key config_redis_keys[] = {
    CONFIG_RK("url", REDIS_URL, CONFIG_E, url, 0, 0, ""),
    CONFIG_RK("prefix", TOKEN, 0, prefix, 0, CONFIG_TOKEN_MAX, "ringmta"),
    CONFIG_RK("server_path", STRING, 0, server_path, 0, 0,
	      "/usr/bin/redis-server"),
    CONFIG_KE(struct config_redis, "cluster_unreachable", cluster_unreachable,
	      "closed", config_cluster_names),
    CONFIG_RK("cluster_lease_ttl", DURATION, 0, cluster_lease_ttl_ms,
	      3 * CONFIG_MS_S, 5 * CONFIG_MS_M, "15s"),
};

#define CONFIG_DK(n, t, fl, f, lo, hi, d)                                      \
	CONFIG_K(struct config_dns, n, t, fl, f, lo, hi, d)
static const struct config_key config_dns_keys[] = {
    CONFIG_DK("servers", SOCKADDRS, CONFIG_E, servers, 0, 0, ""),
    CONFIG_DK("timeout", DURATION, 0, timeout_ms, 100, CONFIG_MS_M, "2s"),
    CONFIG_DK("tries", UINT, 0, tries, 1, 10, "2"),
    CONFIG_DK("cache_size", UINT, 0, cache_size, 0, 10000000, "100000"),
    CONFIG_DK("min_ttl", DURATION, 0, min_ttl_ms, 0, CONFIG_MS_D, "1m"),
    CONFIG_DK("max_ttl", DURATION, 0, max_ttl_ms, CONFIG_MS_S, 30 * CONFIG_MS_D,
	      "1d"),
    CONFIG_DK("negative_ttl", DURATION, 0, negative_ttl_ms, 0, CONFIG_MS_D,
	      "5m"),
    CONFIG_DK("max_mx_hosts", UINT, 0, max_mx_hosts, 1, 100, "10"),
    CONFIG_DK("max_addresses", UINT, 0, max_addresses, 1, 100, "20"),
    CONFIG_DK("max_inflight", UINT, 0, max_inflight, 1, 100000, "128"),
};

static const struct config_key config_delivery_keys[] = {
    CONFIG_K(struct config_delivery, "max_connections", UINT, 0,
	     max_connections, 1, 1000000, "10000"),
};

#define CONFIG_TK(n, t, fl, f, lo, hi, d)                                      \
	CONFIG_K(struct config_tls_section, n, t, fl, f, lo, hi, d)
static const struct config_key config_tls_keys[] = {
    CONFIG_TK("cert_file", STRING, CONFIG_E, cert_file, 0, 0, ""),
    CONFIG_TK("key_file", STRING, CONFIG_E, key_file, 0, 0, ""),
    CONFIG_TK("ca_file", STRING, CONFIG_E, ca_file, 0, 0, ""),
    CONFIG_KE(struct config_tls_section, "min_version", min_version, "1.2",
	      config_tlsv_names),
    CONFIG_TK("ciphers", STRING, CONFIG_E, ciphers, 0, 0, ""),
};

#define CONFIG_BK(n, t, fl, f, lo, hi)                                         \
	CONFIG_K(struct config_binding, n, t, fl, f, lo, hi, NULL)
static const struct config_key config_binding_keys[] = {
    CONFIG_BK("address", IPS, CONFIG_E, address, 0, 0),
    CONFIG_BK("ehlo", HOSTNAME, 0, ehlo, 0, 0),
    CONFIG_BK("group", TOKEN, CONFIG_E, group, 0, CONFIG_TOKEN_MAX),
};

const struct config_section_def config_sections[] = {
    [CONFIG_SEC_SERVER] = {"server",
			   "[server]",
			   false,
			   {config_server_keys},
			   {nitems(config_server_keys)}},
    [CONFIG_SEC_LISTENER] = {"listener",
			     "[listener]",
			     false,
			     {config_listener_keys},
			     {nitems(config_listener_keys)}},
    [CONFIG_SEC_SPOOL] = {"spool",
			  "[spool]",
			  false,
			  {config_spool_keys},
			  {nitems(config_spool_keys)}},
    [CONFIG_SEC_REDIS] = {"redis",
			  "[redis]",
			  false,
			  {config_redis_keys},
			  {nitems(config_redis_keys)}},
    [CONFIG_SEC_DNS] =
	{"dns", "[dns]", false, {config_dns_keys}, {nitems(config_dns_keys)}},
    [CONFIG_SEC_DELIVERY] = {"delivery",
			     "[delivery]",
			     false,
			     {config_pol_keys, config_delivery_keys},
			     {nitems(config_pol_keys),
			      nitems(config_delivery_keys)}},
    [CONFIG_SEC_TLS] =
	{"tls", "[tls]", false, {config_tls_keys}, {nitems(config_tls_keys)}},
    [CONFIG_SEC_BINDING] = {"binding",
			    "[binding NAME]",
			    true,
			    {config_binding_keys},
			    {nitems(config_binding_keys)}},
    [CONFIG_SEC_DOMAIN] = {"domain",
			   "[domain NAME]",
			   true,
			   {config_pol_keys},
			   {nitems(config_pol_keys)}},
};
_Static_assert(nitems(config_sections) == CONFIG_SEC__COUNT, "sections");
_Static_assert(nitems(config_pol_keys) <= CONFIG_META_KEYS, "meta keys");
_Static_assert(CONFIG_META_KEYS <= 64, "config_meta.set has 64 bits");
_Static_assert(nitems(config_listener_keys) <= CONFIG_META_KEYS, "meta");

const char *
config_cluster_unreachable_str(enum config_cluster_unreachable c)
{
	return (unsigned)c < CONFIG_CLUSTER__COUNT ? config_cluster_names[c]
						   : "?";
}

/* See config_int.h. */
size_t
config_type_size(enum config_type t)
{
	switch (t) {
	case CONFIG_T_DURATION:
	case CONFIG_T_SIZE:
		return sizeof(uint64_t);
	case CONFIG_T_UINT:
		return sizeof(unsigned);
	case CONFIG_T_BOOL:
		return sizeof(bool);
	case CONFIG_T_ENUM:
	case CONFIG_T_LOGLEVEL:
		return sizeof(int);
	case CONFIG_T_STRING:
	case CONFIG_T_TOKEN:
	case CONFIG_T_HOSTNAME:
	case CONFIG_T_REDIS_URL:
		return sizeof(char *);
	case CONFIG_T_SOCKADDRS:
	case CONFIG_T_IPS:
		return sizeof(struct value_sockaddr_list);
	case CONFIG_T_CIDRS:
		return sizeof(struct value_cidr_list);
	case CONFIG_T_RATE:
		return sizeof(struct value_rate);
	case CONFIG_T_HOSTPORT:
		return sizeof(struct value_hostport);
	case CONFIG_T_FREE_SPACE:
		return sizeof(struct config_free_space);
	case CONFIG_T__COUNT:
		break;
	}
	BUG_ON(1);
	return 0;
}

static int
config_parse_redis(struct config *cfg, struct config_redis *r, const char *s,
		   char *why, size_t whylen)
{
	int err;

	r->url = NULL;
	r->kind = CONFIG_REDIS_PRIVATE;
	r->socket_path = NULL;
	memset(&r->tcp, 0, sizeof(r->tcp));
	if (*s == '\0')
		return 0;
	if (strncmp(s, "unix:", 5) == 0 && s[5] != '\0') {
		r->kind = CONFIG_REDIS_UNIX;
		r->socket_path = config_strdup(cfg, s + 5);
	} else if (strncmp(s, "redis://", 8) == 0) {
		err = value_hostport(s + 8, VALUE_HP_PORT_OPTIONAL, &r->tcp,
				     why, whylen);
		if (err < 0)
			return err;
		if (r->tcp.port == 0)
			r->tcp.port = 6379;
		r->kind = CONFIG_REDIS_TCP;
	} else {
		snprintf(why, whylen,
			 "bad url: expected unix:/path or redis://host:port");
		return -EINVAL;
	}
	r->url = config_strdup(cfg, s);
	return 0;
}

static int
config_parse_free(const char *s, struct config_free_space *fs, char *why,
		  size_t whylen)
{
	char num[24];
	size_t n = strlen(s);
	uint64_t v;
	int err;

	memset(fs, 0, sizeof(*fs));
	if (n == 0 || s[n - 1] != '%')
		return value_size(s, &fs->bytes, why, whylen);
	snprintf(num, sizeof(num), "%.*s", (int)MIN(n - 1, 23), s);
	if ((err = value_uint(num, 0, 99, &v, why, whylen)) < 0)
		return err;
	fs->percent = (unsigned)v;
	return 0;
}

/* Check v against the key's range, formatting bounds like the value. */
static int
config_range(const struct config_key *k, uint64_t v, char *why, size_t whylen)
{
	void (*fmt)(uint64_t, char *, size_t) =
	    k->type == CONFIG_T_DURATION ? value_duration_fmt : value_size_fmt;
	char a[32], b[32];

	if (v >= k->min && v <= k->max)
		return 0;
	fmt(v, a, sizeof(a));
	fmt(v < k->min ? k->min : k->max, b, sizeof(b));
	snprintf(why, whylen, "%s is %s the %s of %s", a,
		 v < k->min ? "below" : "above",
		 v < k->min ? "minimum" : "maximum", b);
	return -ERANGE;
}

/* See config_int.h. */
int
config_parse_value(struct config *cfg, const struct config_key *k, void *base,
		   const char *s, char *why, size_t whylen)
{
	void *f = (char *)base + k->off;
	unsigned saf = (k->flags & CONFIG_KF_PORT0 ? VALUE_SA_PORT0 : 0) |
		       (k->flags & CONFIG_KF_WILDCARD ? VALUE_SA_WILDCARD : 0);
	uint64_t u;
	int err = 0, lvl;

	if (*s == '\0' && k->type != CONFIG_T_REDIS_URL) {
		if (!(k->flags & CONFIG_KF_EMPTY)) {
			snprintf(why, whylen, "a value is required");
			return -EINVAL;
		}
		memset(f, 0, config_type_size(k->type));
		return 0;
	}
	switch (k->type) {
	case CONFIG_T_DURATION:
		if ((err = value_duration(s, &u, why, whylen)) == 0 &&
		    (err = config_range(k, u, why, whylen)) == 0)
			*(uint64_t *)f = u;
		return err;
	case CONFIG_T_SIZE:
		if ((err = value_size(s, &u, why, whylen)) == 0 &&
		    (err = config_range(k, u, why, whylen)) == 0)
			*(uint64_t *)f = u;
		return err;
	case CONFIG_T_UINT:
		if ((err = value_uint(s, k->min, k->max, &u, why, whylen)) == 0)
			*(unsigned *)f = (unsigned)u;
		return err;
	case CONFIG_T_BOOL:
		return value_bool(s, f, why, whylen);
	case CONFIG_T_ENUM:
		return value_enum(s, k->names, f, why, whylen);
	case CONFIG_T_TOKEN:
		err = value_token(s, k->max, why, whylen);
		break;
	case CONFIG_T_HOSTNAME:
		err = value_hostname(s, why, whylen);
		break;
	case CONFIG_T_STRING:
		break;
	case CONFIG_T_SOCKADDRS:
	case CONFIG_T_IPS:
		err = k->type == CONFIG_T_IPS
			  ? value_ip_list(s, f, why, whylen)
			  : value_sockaddr_list(s, saf, f, why, whylen);
		if (err == 0)
			config_own(cfg, ((struct value_sockaddr_list *)f)->v);
		return err;
	case CONFIG_T_CIDRS:
		if ((err = value_cidr_list(s, f, why, whylen)) == 0)
			config_own(cfg, ((struct value_cidr_list *)f)->v);
		return err;
	case CONFIG_T_RATE:
		return value_rate(s, CONFIG_MS_S, f, why, whylen);
	case CONFIG_T_HOSTPORT:
		return value_hostport(s, VALUE_HP_PORT_OPTIONAL, f, why,
				      whylen);
	case CONFIG_T_LOGLEVEL:
		if ((lvl = log_level_parse(s)) < 0) {
			snprintf(
			    why, whylen,
			    "bad log level: expected error, warn, info, debug "
			    "or trace");
			return -EINVAL;
		}
		*(int *)f = lvl;
		return 0;
	case CONFIG_T_REDIS_URL:
		return config_parse_redis(cfg, base, s, why, whylen);
	case CONFIG_T_FREE_SPACE:
		return config_parse_free(s, f, why, whylen);
	case CONFIG_T__COUNT:
		BUG_ON(1);
	}
	if (err == 0)
		*(const char **)f = config_strdup(cfg, s);
	return err;
}

/* Levenshtein distance, case-insensitive; SIZE_MAX for long strings. */
static size_t
config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[CONFIG_KEY_MAX + 1];

	if (la > CONFIG_KEY_MAX || lb > CONFIG_KEY_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j],
			       cost = (a[i - 1] | 0x20) != (b[j - 1] | 0x20);

			row[j] =
			    MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
			diag = up;
		}
	}
	return row[lb];
}

/* See config_int.h. */
void
config_suggest(const char *name, const char *const *cands, size_t n,
	       const char *open, const char *close, char *buf, size_t len)
{
	size_t best = SIZE_MAX, bi = 0;

	for (size_t i = 0; i < n; i++) {
		size_t d =
		    cands[i] ? config_distance(name, cands[i]) : SIZE_MAX;

		if (d < best)
			best = d, bi = i;
	}
	buf[0] = '\0';
	if (best <= 2 && best < strlen(cands[bi]))
		snprintf(buf, len, " (did you mean %s%s%s?)", open, cands[bi],
			 close);
}

/* See config_int.h. */
const struct config_key *
config_find_key(int sec, const char *name, bool domain_only_ok, int *t_r)
{
	const struct config_section_def *d = &config_sections[sec];

	for (int t = 0; t < 2; t++)
		for (size_t i = 0; i < d->nkeys[t]; i++)
			if (strcmp(d->keys[t][i].name, name) == 0 &&
			    (domain_only_ok ||
			     !(d->keys[t][i].flags & CONFIG_KF_DOMAIN_ONLY))) {
				*t_r = t;
				return &d->keys[t][i];
			}
	return NULL;
}

static void
config_defaults_table(struct config *cfg, const struct config_key *keys,
		      size_t n, void *base)
{
	char why[VALUE_WHY_MAX];

	for (size_t i = 0; i < n; i++)
		if (keys[i].def != NULL)
			BUG_ON(config_parse_value(cfg, &keys[i], base,
						  keys[i].def, why,
						  sizeof(why)) < 0);
}

/* See config_int.h. */
void
config_defaults(struct config *cfg)
{
	void *bases[CONFIG_SEC__COUNT][2] = {
	    [CONFIG_SEC_SERVER] = {&cfg->server},
	    [CONFIG_SEC_LISTENER] = {&cfg->listener},
	    [CONFIG_SEC_SPOOL] = {&cfg->spool},
	    [CONFIG_SEC_REDIS] = {&cfg->redis},
	    [CONFIG_SEC_DNS] = {&cfg->dns},
	    [CONFIG_SEC_DELIVERY] = {&cfg->delivery.policy, &cfg->delivery},
	    [CONFIG_SEC_TLS] = {&cfg->tls},
	};

	for (int s = 0; s < CONFIG_SEC__COUNT; s++)
		for (int t = 0; t < 2; t++)
			if (bases[s][t] != NULL)
				config_defaults_table(
				    cfg, config_sections[s].keys[t],
				    config_sections[s].nkeys[t], bases[s][t]);
	cfg->delivery.policy.name = "";
	cfg->domain_default.name = "default";
}

/* See config_int.h. */
uint64_t
config_bit(int sec, int t, const char *name)
{
	const struct config_section_def *d = &config_sections[sec];

	for (size_t i = 0; i < d->nkeys[t]; i++)
		if (strcmp(d->keys[t][i].name, name) == 0)
			return 1ull << i;
	BUG_ON(1);
	return 0;
}

/* See config_int.h. */
uint32_t
config_line_of(const struct config_meta *m, int sec, int t, const char *name)
{
	uint64_t bit = config_bit(sec, t, name);

	return m->set & bit ? m->key_line[__builtin_ctzll(bit)] : m->line;
}

/* See config_int.h. */
void
config_inherit(struct domain_policy *d, const struct domain_policy *parent,
	       enum config_origin here)
{
	for (int k = 0; k < CONFIG_POL__COUNT; k++) {
		const struct config_key *key = &config_pol_keys[k];

		if (parent == NULL || (d->meta.set & (1ull << k))) {
			d->origin[k] = d->meta.set & (1ull << k)
					   ? here
					   : CONFIG_ORIGIN_DEFAULT;
			continue;
		}
		memcpy((char *)d + key->off, (const char *)parent + key->off,
		       config_type_size(key->type));
		d->origin[k] = parent->origin[k];
	}
}

/* See config_int.h. */
void
config_dump_value(FILE *f, const struct config_key *k, const void *base)
{
	const void *fp = (const char *)base + k->off;
	const struct value_sockaddr_list *sl = fp;
	const struct value_cidr_list *cl = fp;
	const struct config_free_space *fs = fp;
	char buf[VALUE_FMT_MAX];

	buf[0] = '\0';
	switch (k->type) {
	case CONFIG_T_DURATION:
		value_duration_fmt(*(const uint64_t *)fp, buf, sizeof(buf));
		break;
	case CONFIG_T_SIZE:
		value_size_fmt(*(const uint64_t *)fp, buf, sizeof(buf));
		break;
	case CONFIG_T_UINT:
		snprintf(buf, sizeof(buf), "%u", *(const unsigned *)fp);
		break;
	case CONFIG_T_BOOL:
		snprintf(buf, sizeof(buf), "%s",
			 *(const bool *)fp ? "yes" : "no");
		break;
	case CONFIG_T_ENUM:
		snprintf(buf, sizeof(buf), "%s", k->names[*(const int *)fp]);
		break;
	case CONFIG_T_STRING:
	case CONFIG_T_TOKEN:
	case CONFIG_T_HOSTNAME:
	case CONFIG_T_REDIS_URL:
		if (*(const char *const *)fp != NULL)
			fputs(*(const char *const *)fp, f);
		break;
	case CONFIG_T_SOCKADDRS:
	case CONFIG_T_IPS:
		for (size_t i = 0; i < sl->n; i++) {
			value_sockaddr_fmt(
			    (const struct sockaddr *)&sl->v[i].ss,
			    k->type == CONFIG_T_SOCKADDRS, buf, sizeof(buf));
			fprintf(f, "%s%s", i > 0 ? ", " : "", buf);
		}
		buf[0] = '\0';
		break;
	case CONFIG_T_CIDRS:
		for (size_t i = 0; i < cl->n; i++) {
			value_cidr_fmt(&cl->v[i], buf, sizeof(buf));
			fprintf(f, "%s%s", i > 0 ? ", " : "", buf);
		}
		buf[0] = '\0';
		break;
	case CONFIG_T_RATE:
		value_rate_fmt(fp, buf, sizeof(buf));
		break;
	case CONFIG_T_HOSTPORT:
		if (((const struct value_hostport *)fp)->host[0] != '\0')
			value_hostport_fmt(fp, buf, sizeof(buf));
		break;
	case CONFIG_T_LOGLEVEL:
		snprintf(buf, sizeof(buf), "%s",
			 log_level_str((enum log_level) * (const int *)fp));
		break;
	case CONFIG_T_FREE_SPACE:
		if (fs->percent > 0)
			snprintf(buf, sizeof(buf), "%u%%", fs->percent);
		else
			value_size_fmt(fs->bytes, buf, sizeof(buf));
		break;
	case CONFIG_T__COUNT:
		BUG_ON(1);
	}
	fputs(buf, f);
}
