/* SPDX-License-Identifier: MIT */
/*
 * config_int.h: private to config.c, config_check.c, config_keys.c and
 * config_dump.c.
 *
 * The key tables that describe every section and key, and the helpers the
 * four files share.  config.c owns the reader, the error list, and loading
 * and freeing; config_check.c the derived defaults, inheritance and
 * cross-key checks;
 * config_keys.c owns the tables and turns one value into its field and
 * back; config_dump.c owns config_dump(), the lookups and the *_str()
 * names.  Nothing outside these files includes this.
 */
#ifndef RINGMTA_CONFIG_INT_H
#define RINGMTA_CONFIG_INT_H

#include "config.h"

#define CONFIG_KEY_MAX 48 /* longest key name the reader accepts */
#define CONFIG_LINE_MAX                                                        \
	4093 /* bytes per line, EOL not counted (config_load_buf) */

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

/* config_keys.c: the tables.  Each names array ends with NULL. */
extern const struct config_section_def config_sections[CONFIG_SEC__COUNT];
extern const struct config_key config_pol_keys[CONFIG_POL__COUNT];
extern const char *const config_tls_names[CONFIG_TLS__COUNT + 1];
extern const char *const config_verify_names[CONFIG_VERIFY__COUNT + 1];
extern const char *const config_ltls_names[CONFIG_LTLS__COUNT + 1];
extern const char *const config_le_names[CONFIG_LE__COUNT + 1];
extern const char *const config_tlsv_names[CONFIG_TLSV__COUNT + 1];
extern const char *const config_redis_names[CONFIG_REDIS__COUNT + 1];
extern const char *const config_origin_names[CONFIG_ORIGIN__COUNT + 1];

/*
 * The state of one load (config.c); config_check.c reads and reports
 * through it.
 */
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

/* config.c: record "name:line: reason" for the load (control and
 * non-ASCII bytes as '?'); line 0: no line. */
void config_err(struct config_parse *p, uint32_t line, const char *fmt, ...)
    ATTR_FMT(3, 4);
/* config.c: v (an array of n elements of sz bytes) grown so that one more
 * fits; v may be NULL when n is 0. */
void *config_grow(void *v, size_t n, size_t sz);
/* config_check.c: after the text: drop repeated sections, derive defaults,
 * cross-key checks, inheritance.  Errors go through config_err(). */
void config_finish(struct config_parse *p);

/* config.c: keep p alive until config_free(); returns p. */
void *config_own(struct config *cfg, void *p);
/* config.c: a copy of s owned by cfg. */
const char *config_strdup(struct config *cfg, const char *s);

/* config_keys.c: the size of a field of type t. */
size_t config_type_size(enum config_type t);
/* config_keys.c: parse s into the field of k inside base; strings and
 * arrays are owned by cfg.  Returns 0 or -EINVAL/-ERANGE with a sentence
 * in why. */
int config_parse_value(struct config *cfg, const struct config_key *k,
		       void *base, const char *s, char *why, size_t whylen);
/* config_keys.c: the key called name in section sec, or NULL; *t_r is the
 * table (0 or 1) it is in.  DOMAIN_ONLY keys only if domain_only_ok. */
const struct config_key *config_find_key(int sec, const char *name,
					 bool domain_only_ok, int *t_r);
/* config_keys.c: the meta bit of key name of table t of section sec (the
 * key must exist). */
uint64_t config_bit(int sec, int t, const char *name);
/* config_keys.c: the line of key name in meta, else of the section header. */
uint32_t config_line_of(const struct config_meta *m, int sec, int t,
			const char *name);
/* config_keys.c: " (did you mean <open>x<close>?)" into buf for the nearest
 * of the n candidates (NULL entries are skipped), or "". */
void config_suggest(const char *name, const char *const *cands, size_t n,
		    const char *open, const char *close, char *buf, size_t len);
/* config_keys.c: set every key of the unnamed sections to its built-in
 * default; names [delivery] and [domain default]. */
void config_defaults(struct config *cfg);
/* config_keys.c: resolve d's unset keys from parent (NULL: none) and
 * record where each value came from. */
void config_inherit(struct domain_policy *d, const struct domain_policy *parent,
		    enum config_origin here);
/* config_keys.c: write the value of k inside base as the file spells it. */
void config_dump_value(FILE *f, const struct config_key *k, const void *base);

#endif
