/* SPDX-License-Identifier: MIT */
/*
 * config.c: INI text -> immutable struct config.
 *
 * libinih splits "key = value" lines and strips comments; our line reader
 * in front of it counts lines, handles section headers itself (inih keeps
 * no line number and truncates long section names), and rejects overlong
 * lines, NUL and control bytes, and malformed lines, so every error is
 * collected with its line.  Keys are described by tables (name, type,
 * field, range, default); values are parsed by value.c.  After the parse,
 * derived defaults, [delivery] -> [domain default] -> [domain NAME]
 * inheritance and cross-key checks are resolved once.  Must not touch the
 * network or the files the keys name; logs only the unsafe-sync warning.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define CONFIG_KEY_MAX 48 /* longest key name the reader accepts */
#define CONFIG_MS_S    1000ull
#define CONFIG_MS_M    (60 * CONFIG_MS_S)
#define CONFIG_MS_H    (60 * CONFIG_MS_M)
#define CONFIG_MS_D    (24 * CONFIG_MS_H)

enum config_type {
	CONFIG_T_DURATION = 0, /* uint64_t ms */
	CONFIG_T_SIZE,         /* uint64_t bytes */
	CONFIG_T_UINT,         /* unsigned */
	CONFIG_T_BOOL,         /* bool */
	CONFIG_T_ENUM,         /* an enum (int-sized), names in .names */
	CONFIG_T_STRING,       /* const char *: a path or free text */
	CONFIG_T_TOKEN,        /* const char *: [A-Za-z0-9_.-]{1,max} */
	CONFIG_T_HOSTNAME,     /* const char * */
	CONFIG_T_SOCKADDRS,    /* struct value_sockaddr_list */
	CONFIG_T_IPS,          /* struct value_sockaddr_list, port 0 */
	CONFIG_T_CIDRS,        /* struct value_cidr_list */
	CONFIG_T_RATE,         /* struct value_rate */
	CONFIG_T_HOSTPORT,     /* struct value_hostport */
	CONFIG_T_LOGLEVEL,     /* int */
	CONFIG_T_REDIS_URL,    /* fills the whole struct config_redis */
	CONFIG_T_FREE_SPACE,   /* struct config_free_space */
	CONFIG_T__COUNT        /* must stay last */
};

enum config_kflag {
	CONFIG_KF_EMPTY = 1u << 0,       /* "" allowed: zero / NULL / empty */
	CONFIG_KF_DOMAIN_ONLY = 1u << 1, /* not in [delivery] */
	CONFIG_KF_PORT0 = 1u << 2,       /* VALUE_SA_PORT0 */
	CONFIG_KF_WILDCARD = 1u << 3,    /* VALUE_SA_WILDCARD */
};

struct config_key {
	const char *name;
	enum config_type type;
	unsigned flags;
	size_t off; /* of the field in the section's struct */
	uint64_t min, max;
	const char *def; /* built-in default; NULL: derived in finish */
	const char *const *names;
};

enum config_sec {
	CONFIG_SEC_SERVER = 0,
	CONFIG_SEC_LISTENER,
	CONFIG_SEC_SPOOL,
	CONFIG_SEC_REDIS,
	CONFIG_SEC_DNS,
	CONFIG_SEC_DELIVERY,
	CONFIG_SEC_TLS,
	CONFIG_SEC_BINDING,
	CONFIG_SEC_DOMAIN,
	CONFIG_SEC__COUNT /* must stay last */
};

struct config_section_def {
	const char *name;
	const char *usage; /* as shown in messages */
	bool named;
	const struct config_key *keys[2];
	size_t nkeys[2];
};

struct config_parse {
	struct config *cfg;
	struct config_err_list *errs;
	size_t err0;                       /* errs->n when this load began */
	uint32_t err_line[CONFIG_ERR_MAX]; /* line of errs->v[err0 + i] */
	const char *name;
	const char *buf;
	size_t len, pos, nerrs;
	uint32_t line;
	int sec;     /* enum config_sec; -1: no (usable) section */
	bool ignore; /* keys of a broken section header are skipped */
	char label[VALUE_HOST_MAX + 32];
	void *base[2];
	struct config_meta *meta[2];
	struct domain_policy scratch_pol;
	struct config_binding scratch_bnd;
};

static const char *const config_tls_names[] = {
    [CONFIG_TLS_NONE] = "none",
    [CONFIG_TLS_OPPORTUNISTIC] = "opportunistic",
    [CONFIG_TLS_REQUIRED] = "required",
    NULL};
static const char *const config_verify_names[] = {[CONFIG_VERIFY_NONE] = "none",
						  [CONFIG_VERIFY_CA] = "ca",
						  [CONFIG_VERIFY_HOST] = "host",
						  NULL};
static const char *const config_ltls_names[] = {
    [CONFIG_LTLS_NONE] = "none", [CONFIG_LTLS_OPTIONAL] = "optional", NULL};
static const char *const config_le_names[] = {
    [CONFIG_LE_REJECT] = "reject", [CONFIG_LE_NORMALIZE] = "normalize", NULL};
static const char *const config_tlsv_names[] = {
    [CONFIG_TLSV_1_2] = "1.2", [CONFIG_TLSV_1_3] = "1.3", NULL};
static const char *const config_redis_names[] = {[CONFIG_REDIS_PRIVATE] =
						     "private",
						 [CONFIG_REDIS_UNIX] = "unix",
						 [CONFIG_REDIS_TCP] = "tcp",
						 NULL};
static const char *const config_origin_names[] = {
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
/* CONFIG_T_ENUM fields are written through an int pointer. */
_Static_assert(sizeof(enum config_tls) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_tls_verify) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_listener_tls) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_line_endings) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_tls_version) == sizeof(int), "enum size");

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

static const struct config_key config_pol_keys[] = {
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
    CONFIG_QK("min_free_space", FREE_SPACE, 0, min_free_space, 0, 0, "1G"),
};

#define CONFIG_RK(n, t, fl, f, lo, hi, d)                                      \
	CONFIG_K(struct config_redis, n, t, fl, f, lo, hi, d)
static const struct config_key config_redis_keys[] = {
    CONFIG_RK("url", REDIS_URL, CONFIG_E, url, 0, 0, ""),
    CONFIG_RK("prefix", TOKEN, 0, prefix, 0, CONFIG_TOKEN_MAX, "ringmta"),
    CONFIG_RK("server_path", STRING, 0, server_path, 0, 0,
	      "/usr/bin/redis-server"),
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

static const struct config_section_def config_sections[] = {
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
_Static_assert(nitems(config_listener_keys) <= CONFIG_META_KEYS, "meta");

static void config_err(struct config_parse *p, uint32_t line, const char *fmt,
		       ...) ATTR_FMT(3, 4);

static void
config_err_push(struct config_err_list *l, char *msg)
{
	if (l->n == 0 || (l->n >= 8 && (l->n & (l->n - 1)) == 0))
		l->v = xreallocarray(l->v, l->n == 0 ? 8 : 2 * l->n,
				     sizeof(*l->v));
	l->v[l->n++] = msg;
}

/* Record "name:line: reason" (control and non-ASCII bytes as '?'). */
static void
config_err(struct config_parse *p, uint32_t line, const char *fmt, ...)
{
	char reason[512], *msg;
	va_list ap;
	size_t n;

	p->nerrs++;
	if (p->errs->n >= CONFIG_ERR_MAX) {
		p->errs->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	n = strlen(p->name) + sizeof(reason) + 16;
	msg = xmalloc(n);
	if (line > 0)
		snprintf(msg, n, "%s:%u: %s", p->name, line, reason);
	else
		snprintf(msg, n, "%s: %s", p->name, reason);
	for (char *c = msg; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	p->err_line[p->errs->n - p->err0] = line;
	config_err_push(p->errs, msg);
}

/* Put this load's errors in line order (stable: insertion sort). */
static void
config_err_sort(struct config_parse *p)
{
	char **v = p->errs->v + p->err0;
	size_t n = p->errs->n - p->err0;

	for (size_t i = 1; i < n; i++) {
		uint32_t l = p->err_line[i];
		char *m = v[i];
		size_t j = i;

		for (; j > 0 && p->err_line[j - 1] > l; j--) {
			p->err_line[j] = p->err_line[j - 1];
			v[j] = v[j - 1];
		}
		p->err_line[j] = l;
		v[j] = m;
	}
}

/* Keep p alive until config_free(); returns p. */
static void *
config_own(struct config *cfg, void *p)
{
	size_t n = cfg->nowned;

	if (n == 0 || (n >= 8 && (n & (n - 1)) == 0))
		cfg->owned = xreallocarray(cfg->owned, n == 0 ? 8 : 2 * n,
					   sizeof(void *));
	cfg->owned[cfg->nowned++] = p;
	return p;
}

static const char *
config_strdup(struct config *cfg, const char *s)
{
	return config_own(cfg, xstrdup(s));
}

/* Grow an array of n elements so that one more fits. */
static void *
config_grow(void *v, size_t n, size_t sz)
{
	if (n == 0)
		return xreallocarray(NULL, 8, sz);
	if (n >= 8 && (n & (n - 1)) == 0)
		return xreallocarray(v, 2 * n, sz);
	return v;
}

static size_t
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

/* Parse s into the field of k inside base; strings/arrays owned by cfg. */
static int
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

/* " (did you mean 'x'?)" for the nearest candidate, or "". */
static void
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

static const struct config_key *
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
config_unknown_key(struct config_parse *p, const char *name)
{
	const struct config_section_def *d = &config_sections[p->sec];
	const char *cands[2 * CONFIG_META_KEYS];
	char where[256] = "", sug[96];
	size_t n = 0, o = 0;
	int t;

	for (int s = 0; s < CONFIG_SEC__COUNT; s++)
		if (s != p->sec && config_find_key(s, name, true, &t) != NULL)
			o += (size_t)snprintf(where + o, sizeof(where) - o,
					      "%s%s", o ? " or " : "",
					      config_sections[s].usage);
	if (o > 0) {
		config_err(p, p->line,
			   "key '%s' does not belong in %s (it goes "
			   "in %s)",
			   name, p->label, where);
		return;
	}
	for (t = 0; t < 2; t++)
		for (size_t i = 0; i < d->nkeys[t]; i++)
			cands[n++] =
			    d->keys[t][i].flags & CONFIG_KF_DOMAIN_ONLY &&
				    p->sec != CONFIG_SEC_DOMAIN
				? NULL
				: d->keys[t][i].name;
	config_suggest(name, cands, n, "'", "'", sug, sizeof(sug));
	config_err(p, p->line, "unknown key '%s' in %s%s", name, p->label, sug);
}

/* inih handler: one "key = value" of the current section. */
static int
config_on_kv(void *user, const char *section, const char *name,
	     const char *value)
{
	struct config_parse *p = user;
	const struct config_key *k;
	char why[VALUE_WHY_MAX];
	struct config_meta *m;
	size_t idx;
	int t;

	(void)section; /* always "": the reader handles sections */
	if (value == NULL)
		value = "";
	if (p->ignore)
		return 1;
	if (p->sec < 0) {
		config_err(p, p->line, "key '%s' outside of any section", name);
		return 1;
	}
	k = config_find_key(p->sec, name, p->sec == CONFIG_SEC_DOMAIN, &t);
	if (k == NULL) {
		config_unknown_key(p, name);
		return 1;
	}
	m = p->meta[t];
	idx = (size_t)(k - config_sections[p->sec].keys[t]);
	if (m->set & (1ull << idx)) {
		config_err(p, p->line,
			   "duplicate key '%s' in %s (first set on line %u)",
			   name, p->label, m->key_line[idx]);
		return 1;
	}
	m->set |= 1ull << idx;
	m->key_line[idx] = p->line;
	if (config_parse_value(p->cfg, k, p->base[t], value, why, sizeof(why)) <
	    0)
		config_err(p, p->line, "%s %s: %s", p->label, name, why);
	return 1;
}

static void
config_target(struct config_parse *p, void *base, struct config_meta *meta)
{
	p->base[0] = base;
	p->meta[0] = meta;
	p->base[1] = NULL;
	p->meta[1] = NULL;
	if (meta->line != 0)
		config_err(p, p->line,
			   "duplicate section %s (first on line %u)", p->label,
			   meta->line);
	else
		meta->line = p->line;
}

static void
config_begin_named(struct config_parse *p, const char *arg)
{
	struct config *cfg = p->cfg;
	char why[VALUE_WHY_MAX], dom[VALUE_HOST_MAX + 1];
	struct config_binding *b = &p->scratch_bnd;
	struct domain_policy *d = &p->scratch_pol;

	if (p->sec == CONFIG_SEC_BINDING) {
		snprintf(p->label, sizeof(p->label), "[binding %s]", arg);
		memset(b, 0, sizeof(*b));
		if (value_token(arg, CONFIG_TOKEN_MAX, why, sizeof(why)) < 0) {
			config_err(p, p->line, "%s: %s", p->label, why);
		} else {
			cfg->bindings = config_grow(cfg->bindings,
						    cfg->nbindings, sizeof(*b));
			b = &cfg->bindings[cfg->nbindings++];
			memset(b, 0, sizeof(*b));
			b->name = config_strdup(cfg, arg);
		}
		config_target(p, b, &b->meta);
		return;
	}
	if (value_domain(arg, dom, sizeof(dom), why, sizeof(why)) < 0) {
		snprintf(p->label, sizeof(p->label), "[domain %s]", arg);
		config_err(p, p->line, "%s: %s", p->label, why);
		memset(d, 0, sizeof(*d));
	} else if (strcmp(dom, "default") == 0) {
		d = &cfg->domain_default;
	} else {
		cfg->domains =
		    config_grow(cfg->domains, cfg->ndomains, sizeof(*d));
		d = &cfg->domains[cfg->ndomains++];
		memset(d, 0, sizeof(*d));
		d->name = config_strdup(cfg, dom);
	}
	if (d != &p->scratch_pol)
		snprintf(p->label, sizeof(p->label), "[domain %s]", dom);
	config_target(p, d, &d->meta);
}

/* A "[...]" header: text is what is between the brackets. */
static void
config_begin(struct config_parse *p, char *text)
{
	struct config *cfg = p->cfg;
	const char *names[CONFIG_SEC__COUNT];
	char *arg, sug[96];
	size_t tl;

	p->ignore = true;
	p->sec = -1;
	text += strspn(text, " \t");
	tl = strcspn(text, " \t");
	arg = text + tl + strspn(text + tl, " \t");
	for (size_t n = strlen(arg); n > 0 && strchr(" \t", arg[n - 1]); n--)
		arg[n - 1] = '\0';
	text[tl] = '\0';
	for (int s = 0; s < CONFIG_SEC__COUNT; s++) {
		names[s] = config_sections[s].name;
		if (strcmp(text, names[s]) == 0)
			p->sec = s;
	}
	if (p->sec < 0) {
		config_suggest(text, names, CONFIG_SEC__COUNT, "[", "]", sug,
			       sizeof(sug));
		config_err(p, p->line, "unknown section [%s]%s", text, sug);
		return;
	}
	if (config_sections[p->sec].named != (*arg != '\0')) {
		config_err(p, p->line, "section [%s] %s; expected %s", text,
			   *arg ? "takes no name" : "needs a name",
			   config_sections[p->sec].usage);
		p->sec = -1;
		return;
	}
	p->ignore = false;
	snprintf(p->label, sizeof(p->label), "[%s]", text);
	switch ((enum config_sec)p->sec) {
	case CONFIG_SEC_SERVER:
		return config_target(p, &cfg->server, &cfg->server.meta);
	case CONFIG_SEC_LISTENER:
		return config_target(p, &cfg->listener, &cfg->listener.meta);
	case CONFIG_SEC_SPOOL:
		return config_target(p, &cfg->spool, &cfg->spool.meta);
	case CONFIG_SEC_REDIS:
		return config_target(p, &cfg->redis, &cfg->redis.meta);
	case CONFIG_SEC_DNS:
		return config_target(p, &cfg->dns, &cfg->dns.meta);
	case CONFIG_SEC_TLS:
		return config_target(p, &cfg->tls, &cfg->tls.meta);
	case CONFIG_SEC_DELIVERY:
		config_target(p, &cfg->delivery.policy,
			      &cfg->delivery.policy.meta);
		p->base[1] = &cfg->delivery;
		p->meta[1] = &cfg->delivery.meta;
		cfg->delivery.meta.line = cfg->delivery.policy.meta.line;
		return;
	case CONFIG_SEC_BINDING:
	case CONFIG_SEC_DOMAIN:
		return config_begin_named(p, arg);
	case CONFIG_SEC__COUNT:
		break;
	}
	BUG_ON(1);
}

/* Classify one line (n bytes, no EOL); copy key lines to out for inih. */
static void
config_line(struct config_parse *p, const char *ln, size_t n, char *out,
	    size_t outlen)
{
	char tmp[INI_MAX_LINE + 1];
	size_t i = 0, eq, ne;

	if (n + 3 > outlen || n >= sizeof(tmp)) {
		config_err(p, p->line,
			   "line too long (%zu bytes; the limit is "
			   "%zu)",
			   n, MIN(outlen, sizeof(tmp)) - 3);
		return;
	}
	for (size_t j = 0; j < n; j++) {
		unsigned char c = (unsigned char)ln[j];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			config_err(p, p->line,
				   "control character 0x%02x in "
				   "line",
				   c);
			return;
		}
	}
	while (i < n && (ln[i] == ' ' || ln[i] == '\t'))
		i++;
	if (i == n || ln[i] == ';' || ln[i] == '#')
		return;
	memcpy(tmp, ln + i, n - i);
	tmp[n - i] = '\0';
	if (tmp[0] == '[') {
		char *end = strchr(tmp, ']');
		const char *rest =
		    end != NULL ? end + 1 + strspn(end + 1, " \t") : "";

		if (end == NULL ||
		    (*rest != '\0' && *rest != ';' && *rest != '#')) {
			config_err(p, p->line, "%s in section header",
				   end == NULL ? "missing ']'"
					       : "junk after ']'");
			p->ignore = true;
			p->sec = -1;
			return;
		}
		*end = '\0';
		config_begin(p, tmp + 1);
		return;
	}
	eq = strcspn(tmp, "=");
	for (ne = eq; ne > 0 && (tmp[ne - 1] == ' ' || tmp[ne - 1] == '\t');)
		ne--;
	if (tmp[eq] == '\0' || ne == 0) {
		config_err(p, p->line,
			   "expected 'key = value', '[section]' "
			   "or a comment");
		return;
	}
	if (tmp[eq + 1] == ';') {
		/* inih would keep ";x" in "k =;x" but drop it in "k = ;x". */
		config_err(p, p->line, "a value cannot start with ';'");
		return;
	}
	tmp[ne] = '\0';
	if (ne > CONFIG_KEY_MAX ||
	    strspn(tmp, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789_.-") != ne) {
		config_err(p, p->line, "bad key name '%.*s'", CONFIG_KEY_MAX,
			   tmp);
		return;
	}
	memcpy(out, ln + i, n - i);
	memcpy(out + n - i, "\n", 2);
}

/* inih reader: hands over one physical line per call, counting lines. */
static char *
config_reader(char *str, int num, void *stream)
{
	struct config_parse *p = stream;
	const char *ln = p->buf + p->pos, *nl;
	size_t n;

	if (p->pos >= p->len)
		return NULL;
	nl = memchr(ln, '\n', p->len - p->pos);
	n = nl != NULL ? (size_t)(nl - ln) : p->len - p->pos;
	p->pos += n + (nl != NULL);
	p->line++;
	if (n > 0 && ln[n - 1] == '\r')
		n--;
	if (p->line == 1 && n >= 3 && memcmp(ln, "\xef\xbb\xbf", 3) == 0) {
		ln += 3;
		n -= 3;
	}
	memcpy(str, "\n", 2);
	config_line(p, ln, n, str, num > 0 ? (size_t)num : 0);
	return str;
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

static void
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

static uint64_t
config_bit(int sec, int t, const char *name)
{
	const struct config_section_def *d = &config_sections[sec];

	for (size_t i = 0; i < d->nkeys[t]; i++)
		if (strcmp(d->keys[t][i].name, name) == 0)
			return 1ull << i;
	BUG_ON(1);
	return 0;
}

/* The line of key name in meta, else of the section header. */
static uint32_t
config_line_of(const struct config_meta *m, int sec, int t, const char *name)
{
	uint64_t bit = config_bit(sec, t, name);

	return m->set & bit ? m->key_line[__builtin_ctzll(bit)] : m->line;
}

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

/* Resolve d's unset keys from parent; fix up what depends on others. */
static void
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

/* See config.h. */
void
config_err_list_init(struct config_err_list *l)
{
	memset(l, 0, sizeof(*l));
}

/* See config.h. */
void
config_err_list_fini(struct config_err_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* See config.h. */
int
config_load_buf(const char *name, const char *buf, size_t len,
		struct config **cfg_r, struct config_err_list *errs)
{
	struct config_parse *p = xcalloc(1, sizeof(*p));
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	size_t nerrs, dropped = errs->dropped;
	char more[64];
	int rc;

	*cfg_r = NULL;
	cfg->name = config_strdup(cfg, name);
	p->cfg = cfg;
	p->errs = errs;
	p->name = cfg->name;
	p->buf = buf;
	p->len = len;
	p->sec = -1;
	p->err0 = errs->n;
	config_defaults(cfg);
	rc = ini_parse_stream(config_reader, p, config_on_kv, p);
	if (rc != 0 && p->nerrs == 0)
		config_err(p, rc > 0 ? (uint32_t)rc : 0, "%s",
			   rc == -2 ? "out of memory" : "syntax error");
	config_dedup(p);
	config_derive(p);
	config_cross_checks(p);
	config_policies(p);
	config_err_sort(p);
	nerrs = p->nerrs;
	free(p);
	if (errs->dropped > dropped) {
		snprintf(more, sizeof(more), ": %zu more errors not shown",
			 errs->dropped - dropped);
		config_err_push(errs, xmalloc(strlen(name) + sizeof(more)));
		snprintf(errs->v[errs->n - 1], strlen(name) + sizeof(more),
			 "%s%s", name, more);
	}
	if (nerrs > 0) {
		config_free(cfg);
		return -EINVAL;
	}
	if (!cfg->spool.sync)
		log_warn(
		    "%s: [spool] sync = no: accepted mail can be lost on a "
		    "crash or power failure",
		    name);
	*cfg_r = cfg;
	return 0;
}

/* See config.h. */
int
config_load_string(const char *name, const char *text, struct config **cfg_r,
		   struct config_err_list *errs)
{
	return config_load_buf(name, text, strlen(text), cfg_r, errs);
}

static int
config_read_file(const char *path, char **buf_r, size_t *len_r,
		 const char **what_r)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	ssize_t n;
	int fd, err = 0;

	*what_r = "cannot open";
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	*what_r = "cannot read";
	if (fstat(fd, &st) == -1) {
		err = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		*what_r = "not a regular file";
		err = -EINVAL;
	} else if ((uint64_t)st.st_size > CONFIG_FILE_MAX) {
		*what_r = "file too large";
		err = -EFBIG;
	}
	buf = xmalloc(err == 0 ? (size_t)st.st_size + 1 : 1);
	while (err == 0 && got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n == 0 ? -EIO : -errno;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (err < 0) {
		free(buf);
		return err;
	}
	*buf_r = buf;
	*len_r = got;
	return 0;
}

/* See config.h. */
int
config_load(const char *path, struct config **cfg_r,
	    struct config_err_list *errs)
{
	const char *what;
	size_t len = 0, n;
	char *buf = NULL, *msg;
	int err;

	*cfg_r = NULL;
	err = config_read_file(path, &buf, &len, &what);
	if (err < 0) {
		n = strlen(path) + strlen(what) + 128;
		msg = xmalloc(n);
		snprintf(msg, n, "%s: %s: %s", path, what, strerror(-err));
		config_err_push(errs, msg);
		return err;
	}
	err = config_load_buf(path, buf, len, cfg_r, errs);
	free(buf);
	return err;
}

/* See config.h. */
struct config *
config_default(void)
{
	struct config_err_list errs;
	struct config *cfg;

	config_err_list_init(&errs);
	BUG_ON(config_load_buf("(built-in defaults)", "", 0, &cfg, &errs) < 0);
	config_err_list_fini(&errs);
	return cfg;
}

/* See config.h. */
void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nowned; i++)
		free(cfg->owned[i]);
	free(cfg->owned);
	free(cfg->domains);
	free(cfg->bindings);
	free(cfg);
}

static void
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
