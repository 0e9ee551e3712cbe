/* SPDX-License-Identifier: MIT */
/*
 * control_ovr.c: the pure parts of control that ringctl shares: per-domain
 * overrides as values (which policy keys may be overridden, each parsed
 * with the configuration's value parsers in src/value.c and the same
 * ranges as the file, and the effective policy built from a configured
 * one plus an override text) and message ids.  ringctl uses it to refuse
 * a bad value or id before it reaches Redis, ringmta to apply it.
 */
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "value.h"

#define CTL_MS_S 1000ULL
#define CTL_MS_M (60 * CTL_MS_S)
#define CTL_MS_H (60 * CTL_MS_M)
#define CTL_MS_D (24 * CTL_MS_H)

enum ctl_ovr_type {
	CTL_OT_UINT = 0,
	CTL_OT_DURATION,
	CTL_OT_RATE,
	CTL_OT__COUNT /* must stay last */
};

/* Ranges as in src/config_keys.c (the configuration's own). */
static const struct ctl_ovr_def {
	enum config_pol_key pk;
	enum ctl_ovr_type type;
	uint64_t min, max;
	size_t off;
} ctl_ovr_defs[] = {
    [CTL_OVR_MAX_OUTBOUND_CONNECTIONS] = {CONFIG_POL_MAX_OUTBOUND_CONNECTIONS,
					  CTL_OT_UINT, 1, 100000,
					  offsetof(struct domain_policy,
						   max_outbound_connections)},
    [CTL_OVR_THROTTLE_MESSAGES] = {CONFIG_POL_THROTTLE_MESSAGES, CTL_OT_RATE, 0,
				   0,
				   offsetof(struct domain_policy,
					    throttle_messages)},
    [CTL_OVR_THROTTLE_CONNECTIONS] = {CONFIG_POL_THROTTLE_CONNECTIONS,
				      CTL_OT_RATE, 0, 0,
				      offsetof(struct domain_policy,
					       throttle_connections)},
    [CTL_OVR_MAX_DELIVERIES_PER_CONNECTION] =
	{CONFIG_POL_MAX_DELIVERIES_PER_CONNECTION, CTL_OT_UINT, 1, 1000000,
	 offsetof(struct domain_policy, max_deliveries_per_connection)},
    [CTL_OVR_RETRY_INTERVAL] = {CONFIG_POL_RETRY_INTERVAL, CTL_OT_DURATION,
				CTL_MS_S, 30 * CTL_MS_D,
				offsetof(struct domain_policy,
					 retry_interval_ms)},
    [CTL_OVR_MAX_RETRY_INTERVAL] = {CONFIG_POL_MAX_RETRY_INTERVAL,
				    CTL_OT_DURATION, CTL_MS_S, 30 * CTL_MS_D,
				    offsetof(struct domain_policy,
					     max_retry_interval_ms)},
    [CTL_OVR_MESSAGE_EXPIRATION] = {CONFIG_POL_MESSAGE_EXPIRATION,
				    CTL_OT_DURATION, CTL_MS_M, 90 * CTL_MS_D,
				    offsetof(struct domain_policy,
					     message_expiration_ms)},
    [CTL_OVR_IDLE_TIMEOUT] = {CONFIG_POL_IDLE_TIMEOUT, CTL_OT_DURATION, 0,
			      CTL_MS_H,
			      offsetof(struct domain_policy, idle_timeout_ms)},
    [CTL_OVR_MAX_BINDING_CONNECTIONS] = {CONFIG_POL_MAX_BINDING_CONNECTIONS,
					 CTL_OT_UINT, 0, 100000,
					 offsetof(struct domain_policy,
						  max_binding_connections)},
};
_Static_assert(nitems(ctl_ovr_defs) == CTL_OVR__COUNT, "override keys");

const char *
ctl_ovr_key_str(enum ctl_ovr_key k)
{
	return (unsigned)k < CTL_OVR__COUNT
		   ? config_pol_key_str(ctl_ovr_defs[k].pk)
		   : "?";
}

static int
ctl_ovr_value(const struct ctl_ovr_def *def, void *f, const char *val,
	      char *why, size_t whylen)
{
	uint64_t v;
	int rc;

	switch (def->type) {
	case CTL_OT_UINT:
		rc = value_uint(val, def->min, def->max, &v, why, whylen);
		if (rc == 0)
			*(unsigned *)f = (unsigned)v;
		return rc;
	case CTL_OT_DURATION:
		rc = value_duration(val, &v, why, whylen);
		if (rc == 0 && (v < def->min || v > def->max)) {
			char a[32], b[32];

			value_duration_fmt(def->min, a, sizeof(a));
			value_duration_fmt(def->max, b, sizeof(b));
			snprintf(why, whylen, "out of range [%s, %s]", a, b);
			return -ERANGE;
		}
		if (rc == 0)
			*(uint64_t *)f = v;
		return rc;
	case CTL_OT_RATE:
		if (val[0] == '\0') {
			memset(f, 0, sizeof(struct value_rate));
			return 0;
		}
		return value_rate(val, CTL_MS_S, f, why, whylen);
	case CTL_OT__COUNT:
		break;
	}
	return -EINVAL;
}

int
ctl_ovr_parse(struct domain_policy *pol, const char *key, const char *val,
	      char *why, size_t whylen)
{
	for (int i = 0; i < CTL_OVR__COUNT; i++) {
		const struct ctl_ovr_def *def = &ctl_ovr_defs[i];
		struct domain_policy tmp = *pol; /* pol unchanged on error */
		int rc;

		if (strcmp(key, ctl_ovr_key_str((enum ctl_ovr_key)i)) != 0)
			continue;
		rc = ctl_ovr_value(def, (char *)&tmp + def->off, val, why,
				   whylen);
		if (rc == 0)
			*pol = tmp;
		return rc;
	}
	snprintf(why, whylen, "not a key an override may set");
	return -ENOENT;
}

struct domain_policy *
ctl_ovr_build(const struct domain_policy *base, const char *text,
	      const char *domain)
{
	struct domain_policy *pol = xmalloc(sizeof(*pol));
	char *copy = xstrdup(text ? text : ""), *save = NULL, *w;
	char why[160];

	*pol = *base;
	for (w = strtok_r(copy, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '=');

		if (eq == NULL) {
			log_warn("domain %s: override '%s' ignored: no value",
				 domain, w);
			continue;
		}
		*eq = '\0';
		if (ctl_ovr_parse(pol, w, eq + 1, why, sizeof(why)) < 0)
			log_warn("domain %s: override %s=%s ignored: %s",
				 domain, w, eq + 1, why);
	}
	free(copy);
	return pol;
}

int
ctl_id_parse(const char *hex, uint8_t id[DOM_ID_LEN])
{
	if (strlen(hex) != 2 * DOM_ID_LEN)
		return -EINVAL;
	for (size_t i = 0; i < 2 * DOM_ID_LEN; i++) {
		char ch = hex[i];
		int v = ch >= '0' && ch <= '9'   ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
						 : -1;

		if (v < 0)
			return -EINVAL;
		if (i % 2 == 0)
			id[i / 2] = (uint8_t)(v << 4);
		else
			id[i / 2] |= (uint8_t)v;
	}
	return 0;
}
