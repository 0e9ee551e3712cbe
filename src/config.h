/* SPDX-License-Identifier: MIT */
/*
 * config.h: the configuration, parsed from an INI file into an immutable
 * struct config.
 *
 * config_load() builds a new config and collects every error as
 * "path:line: reason"; reload means loading a new config and swapping the
 * pointer.  Consumers read the plain structs below through a const pointer
 * and never change them.  All strings and arrays are owned by the config
 * and live until config_free().  docs/CONFIG.md is the operator reference
 * for every key.
 */
#ifndef RINGMTA_CONFIG_H
#define RINGMTA_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "compat.h"
#include "value.h"

#define CONFIG_ERR_MAX   100         /* errors kept; the rest are counted */
#define CONFIG_META_KEYS 40          /* most keys in one section's table */
#define CONFIG_FILE_MAX  (16u << 20) /* largest configuration file */
#define CONFIG_TOKEN_MAX 64          /* binding names, redis prefix, group */

/* Errors from one load, each "path:line: reason" (or "path: reason"). */
struct config_err_list {
	char **v;
	size_t n;
	size_t dropped; /* errors past CONFIG_ERR_MAX, not kept */
};

enum config_line_endings {
	CONFIG_LE_REJECT = 0, /* bare CR or LF in DATA: 5.5.x */
	CONFIG_LE_NORMALIZE,  /* rewrite to CRLF */
	CONFIG_LE__COUNT      /* must stay last */
};

enum config_listener_tls {
	CONFIG_LTLS_NONE = 0, /* STARTTLS not offered */
	CONFIG_LTLS_OPTIONAL, /* STARTTLS offered, not required */
	CONFIG_LTLS__COUNT    /* must stay last */
};

enum config_tls {
	CONFIG_TLS_NONE = 0,      /* never STARTTLS */
	CONFIG_TLS_OPPORTUNISTIC, /* STARTTLS when offered; else plaintext */
	CONFIG_TLS_REQUIRED,      /* no STARTTLS or a failed one: defer */
	CONFIG_TLS__COUNT         /* must stay last */
};

enum config_tls_verify {
	CONFIG_VERIFY_NONE = 0, /* encrypt, check nothing */
	CONFIG_VERIFY_CA,       /* chain must verify against the CA file */
	CONFIG_VERIFY_HOST,     /* chain and the MX host name */
	CONFIG_VERIFY__COUNT    /* must stay last */
};

enum config_tls_version {
	CONFIG_TLSV_1_2 = 0,
	CONFIG_TLSV_1_3,
	CONFIG_TLSV__COUNT /* must stay last */
};

enum config_redis_kind {
	CONFIG_REDIS_PRIVATE = 0, /* ringmta starts its own redis-server */
	CONFIG_REDIS_UNIX,        /* unix:/path */
	CONFIG_REDIS_TCP,         /* redis://host:port */
	CONFIG_REDIS__COUNT       /* must stay last */
};

/* What cluster limits do while Redis cannot grant leases. */
enum config_cluster_unreachable {
	CONFIG_CLUSTER_CLOSED = 0, /* no new connection, no message token */
	CONFIG_CLUSTER_LOCAL,      /* limit / live nodes locally, at least 1 */
	CONFIG_CLUSTER__COUNT      /* must stay last */
};

/* Where a domain policy's value came from. */
enum config_origin {
	CONFIG_ORIGIN_DEFAULT = 0,    /* built in */
	CONFIG_ORIGIN_DELIVERY,       /* [delivery] */
	CONFIG_ORIGIN_DOMAIN_DEFAULT, /* [domain default] */
	CONFIG_ORIGIN_DOMAIN,         /* [domain NAME] itself */
	CONFIG_ORIGIN__COUNT          /* must stay last */
};

/* The keys of a domain policy, in table order; config_pol_key_str() gives
 * each key's name as written in the file. */
enum config_pol_key {
	CONFIG_POL_PORT = 0,
	CONFIG_POL_ALLOWED_NETWORKS,
	CONFIG_POL_RETRY_INTERVAL,
	CONFIG_POL_MAX_RETRY_INTERVAL,
	CONFIG_POL_MESSAGE_EXPIRATION,
	CONFIG_POL_MAX_OUTBOUND_CONNECTIONS,
	CONFIG_POL_MAX_BINDING_CONNECTIONS,
	CONFIG_POL_MAX_DELIVERIES_PER_CONNECTION,
	CONFIG_POL_IDLE_TIMEOUT,
	CONFIG_POL_THROTTLE_MESSAGES,
	CONFIG_POL_THROTTLE_CONNECTIONS,
	CONFIG_POL_TLS,
	CONFIG_POL_TLS_VERIFY,
	CONFIG_POL_TLS_CA_FILE,
	CONFIG_POL_SUSPENDED,
	CONFIG_POL_RELAY,
	CONFIG_POL_CONNECT_TIMEOUT,
	CONFIG_POL_BANNER_TIMEOUT,
	CONFIG_POL_EHLO_TIMEOUT,
	CONFIG_POL_STARTTLS_TIMEOUT,
	CONFIG_POL_MAIL_TIMEOUT,
	CONFIG_POL_RCPT_TIMEOUT,
	CONFIG_POL_DATA_TIMEOUT,
	CONFIG_POL_DATA_BLOCK_TIMEOUT,
	CONFIG_POL_DOT_TIMEOUT,
	CONFIG_POL_RSET_TIMEOUT,
	CONFIG_POL_QUIT_TIMEOUT,
	CONFIG_POL_MAX_RECIPIENTS_PER_MESSAGE,
	CONFIG_POL_BOUNCE_8BIT,
	CONFIG_POL_DELAY_WARNING,
	CONFIG_POL_CLUSTER_MAX_OUTBOUND_CONNECTIONS,
	CONFIG_POL_CLUSTER_MAX_BINDING_CONNECTIONS,
	CONFIG_POL_CLUSTER_THROTTLE_MESSAGES,
	CONFIG_POL__COUNT /* must stay last */
};

/* Bookkeeping of one section: which keys were given and on which line.
 * Bit i / key_line[i] refer to key i of the section's table. */
struct config_meta {
	uint64_t set;
	uint32_t line; /* the section header's line; 0: not in the file */
	uint32_t key_line[CONFIG_META_KEYS];
};

/* The effective delivery policy of a domain ([delivery], then
 * [domain default], then [domain NAME]).  Durations are milliseconds. */
struct domain_policy {
	const char *name; /* "example.com"; "default"; "" for [delivery] */
	unsigned port;
	struct value_cidr_list allowed_networks; /* empty: any destination */
	uint64_t retry_interval_ms;
	uint64_t max_retry_interval_ms;
	uint64_t message_expiration_ms;
	unsigned max_outbound_connections;
	unsigned max_binding_connections; /* per binding x domain; 0: off */
	unsigned max_deliveries_per_connection;
	uint64_t idle_timeout_ms;
	struct value_rate throttle_messages;    /* count 0: unlimited */
	struct value_rate throttle_connections; /* count 0: unlimited */
	enum config_tls tls;
	enum config_tls_verify tls_verify;
	const char *tls_ca_file; /* NULL: system trust store */
	bool suspended;
	struct value_hostport relay; /* host[0] == '\0': deliver to MX */
	uint64_t connect_timeout_ms;
	uint64_t banner_timeout_ms;
	uint64_t ehlo_timeout_ms;
	uint64_t starttls_timeout_ms;
	uint64_t mail_timeout_ms;
	uint64_t rcpt_timeout_ms;
	uint64_t data_timeout_ms;
	uint64_t data_block_timeout_ms;
	uint64_t dot_timeout_ms;
	uint64_t rset_timeout_ms;
	uint64_t quit_timeout_ms;
	unsigned max_recipients_per_message;
	bool bounce_8bit;
	uint64_t delay_warning_ms; /* delay notice at this age; 0: never */
	/* Across every node sharing the Redis (store/rlease.h); 0: off. */
	unsigned cluster_max_outbound_connections;
	unsigned cluster_max_binding_connections;    /* per binding x domain */
	struct value_rate cluster_throttle_messages; /* count 0: unlimited */
	uint8_t origin[CONFIG_POL__COUNT]; /* enum config_origin per key */
	struct config_meta meta;
};

struct config_server {
	const char *hostname;
	const char *state_dir;
	const char *delivery_log;
	int log_level; /* enum log_level */
	const char *node_id;
	struct config_meta meta;
};

struct config_listener {
	struct value_sockaddr_list address;
	struct value_cidr_list relay_networks;
	uint64_t max_message_size;
	unsigned max_recipients;
	const char *binding; /* NULL: the binding named "default" */
	uint64_t max_line_length;
	unsigned max_errors;
	uint64_t idle_timeout_ms;
	uint64_t session_timeout_ms;
	unsigned max_connections;
	enum config_line_endings line_endings;
	bool add_message_id;
	bool add_date;
	enum config_listener_tls tls;
	uint64_t banner_delay_ms;
	struct config_meta meta;
};

/* Spool free-space floor: one of the two is non-zero (or neither). */
struct config_free_space {
	uint64_t bytes;
	unsigned percent;
};

struct config_spool {
	const char *dir;
	uint64_t segment_size;
	bool sync;
	bool unsafe_no_sync;
	unsigned max_batch;
	uint64_t commit_delay_ms; /* group-commit wait; 0: none */
	struct config_free_space min_free_space;
	struct config_meta meta;
};

struct config_redis {
	const char *url; /* as written; NULL: private redis-server */
	enum config_redis_kind kind;
	const char *socket_path;   /* CONFIG_REDIS_UNIX */
	struct value_hostport tcp; /* CONFIG_REDIS_TCP */
	const char *prefix;
	const char *server_path;
	enum config_cluster_unreachable cluster_unreachable;
	uint64_t cluster_lease_ttl_ms;
	struct config_meta meta;
};

struct config_dns {
	struct value_sockaddr_list servers; /* empty: /etc/resolv.conf */
	uint64_t timeout_ms;
	unsigned tries;
	unsigned cache_size;
	uint64_t min_ttl_ms;
	uint64_t max_ttl_ms;
	uint64_t negative_ttl_ms;
	unsigned max_mx_hosts;
	unsigned max_addresses;
	unsigned max_inflight; /* queries out at once; the rest wait */
	struct config_meta meta;
};

struct config_delivery {
	struct domain_policy policy;
	unsigned max_connections; /* outbound, whole server */
	struct config_meta meta;
};

struct config_tls_section {
	const char *cert_file; /* NULL: no STARTTLS on the listener */
	const char *key_file;
	const char *ca_file; /* NULL: system trust store */
	enum config_tls_version min_version;
	const char *ciphers; /* NULL: library default */
	struct config_meta meta;
};

struct config_binding {
	const char *name;
	struct value_sockaddr_list address; /* source IPs; empty: kernel's */
	const char *ehlo;
	const char *group; /* NULL: none */
	bool implicit;     /* the built-in "default" binding */
	struct config_meta meta;
};

struct config {
	const char *name; /* the file it came from */
	struct config_server server;
	struct config_listener listener;
	struct config_spool spool;
	struct config_redis redis;
	struct config_dns dns;
	struct config_delivery delivery;
	struct config_tls_section tls;
	struct domain_policy domain_default;
	struct domain_policy *domains; /* sorted by name */
	size_t ndomains;
	struct config_binding *bindings; /* sorted by name; has "default" */
	size_t nbindings;
	void **owned; /* every allocation the config owns */
	size_t nowned;
};

enum config_dump_flag {
	CONFIG_DUMP_BARE = 1u << 0, /* no "; default" annotations */
};

void config_err_list_init(struct config_err_list *l);
/* Free every message; leaves the list empty and reusable. */
void config_err_list_fini(struct config_err_list *l);

/* Parse the file at path into a new config (*cfg_r, owned by the caller,
 * freed with config_free()).  Appends every problem to errs.  Returns 0,
 * -EINVAL (errors in the file; *cfg_r is NULL) or -errno if the file could
 * not be read (also reported in errs). */
int config_load(const char *path, struct config **cfg_r,
		struct config_err_list *errs) ATTR_WUR;
/* As config_load() but from text; name is used in error messages. */
int config_load_string(const char *name, const char *text,
		       struct config **cfg_r,
		       struct config_err_list *errs) ATTR_WUR;
/* As config_load_string() with an explicit length (NUL bytes are errors). */
int config_load_buf(const char *name, const char *buf, size_t len,
		    struct config **cfg_r,
		    struct config_err_list *errs) ATTR_WUR;
/* The built-in configuration (no -c).  Never NULL. */
struct config *config_default(void);
/* Free cfg and everything it owns; NULL is fine. */
void config_free(struct config *cfg);
/* Write every effective key as INI text that loads back to the same
 * configuration; annotates where values came from unless CONFIG_DUMP_BARE. */
void config_dump(const struct config *cfg, FILE *f, unsigned flags);

/* The effective policy for a domain (case-insensitive, trailing dot
 * ignored, A-labels expected): its [domain NAME] if there is one, else the
 * [domain default] policy.  Never NULL; owned by cfg. */
const struct domain_policy *config_domain(const struct config *cfg,
					  const char *name);
/* The binding called name, or NULL.  "default" always exists. */
const struct config_binding *config_binding(const struct config *cfg,
					    const char *name);
/* Iterate bindings / configured domains in name order: pass NULL first;
 * returns NULL after the last. */
const struct config_binding *
config_binding_next(const struct config *cfg,
		    const struct config_binding *prev);
const struct domain_policy *
config_domain_next(const struct config *cfg, const struct domain_policy *prev);
/* True if pol lets ringmta connect to sa (empty allowed_networks: any). */
bool config_destination_allowed(const struct domain_policy *pol,
				const struct sockaddr *sa);

const char *config_pol_key_str(enum config_pol_key k);
const char *config_origin_str(enum config_origin o);
const char *config_tls_str(enum config_tls t);
const char *config_tls_verify_str(enum config_tls_verify v);
const char *config_listener_tls_str(enum config_listener_tls t);
const char *config_line_endings_str(enum config_line_endings e);
const char *config_tls_version_str(enum config_tls_version v);
const char *config_redis_kind_str(enum config_redis_kind k);
const char *config_cluster_unreachable_str(enum config_cluster_unreachable c);

#endif
