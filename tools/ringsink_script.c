/* SPDX-License-Identifier: MIT */
/*
 * ringsink_script.c: ringsink's fault rules: parsing (flags and --script
 * files share one grammar, see ringsink_script.h and docs/ringsink.md) and
 * evaluation into verdicts.  Owns the rules, their strings and the
 * per-key sequence counters (a bounded hash table: past SSCRIPT_KEYS_MAX
 * keys a sequence falls back to its rule's global counter).  No I/O besides
 * reading a script file, no SMTP, no clock.
 */
#include "ringsink_script.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSCRIPT_KEYS_MAX  (1u << 20)
#define SSCRIPT_TEXT_MAX  400
#define SSCRIPT_DELAY_MAX (3600LL * 1000000000LL)
#define SSCRIPT_FILE_MAX  (1u << 20)

static const char *const sscript_stage_names[] = {
    [SSCRIPT_BANNER] = "banner", [SSCRIPT_EHLO] = "ehlo",
    [SSCRIPT_HELO] = "helo",     [SSCRIPT_MAIL] = "mail",
    [SSCRIPT_RCPT] = "rcpt",     [SSCRIPT_DATA] = "data",
    [SSCRIPT_DOT] = "dot",       [SSCRIPT_RSET] = "rset",
    [SSCRIPT_QUIT] = "quit",     [SSCRIPT_STARTTLS] = "starttls",
};
_Static_assert(nitems(sscript_stage_names) == SSCRIPT_STAGE__COUNT, "stages");

static const char *const sscript_act_names[] = {
    [SSCRIPT_PASS] = "pass",   [SSCRIPT_REPLY] = "reply",
    [SSCRIPT_CLOSE] = "close", [SSCRIPT_DROP] = "drop",
    [SSCRIPT_DELAY] = "delay",
};
_Static_assert(nitems(sscript_act_names) == SSCRIPT_ACT__COUNT, "acts");

static const char *const sscript_key_names[] = {
    [SSCRIPT_KEY_DEFAULT] = "default", [SSCRIPT_KEY_GLOBAL] = "global",
    [SSCRIPT_KEY_RCPT] = "rcpt",       [SSCRIPT_KEY_SENDER] = "sender",
    [SSCRIPT_KEY_MSG] = "msg",         [SSCRIPT_KEY_CLIENT] = "client",
    [SSCRIPT_KEY_HELO] = "helo",       [SSCRIPT_KEY_CONN] = "conn",
};
_Static_assert(nitems(sscript_key_names) == SSCRIPT_KEY__COUNT, "keys");

struct sscript_step {
	enum sscript_act act;
	unsigned code;
	char *text; /* NULL: the default text */
	int64_t delay_ns;
	unsigned repeat; /* >= 1 */
};

struct sscript_rule {
	enum sscript_stage stage;
	char *glob;                /* NULL: any */
	double prob;               /* 1: always */
	uint64_t first, from, nth; /* 0: not set */
	bool seq;
	bool delay_only; /* the "delay" form: never decides */
	enum sscript_key key;
	struct sscript_step *steps;
	unsigned nsteps;
	uint64_t count; /* events whose selector matched */
};

struct sscript_kc {
	uint64_t hash;
	char *key; /* NULL: empty slot */
	unsigned rule;
	uint64_t count;
};

struct sscript {
	struct sscript_rule *rules;
	unsigned nrules;
	struct sscript_kc *kc;
	size_t kc_cap, kc_n;
	uint64_t rng;
};

const char *
sscript_stage_str(enum sscript_stage st)
{
	return (unsigned)st < SSCRIPT_STAGE__COUNT ? sscript_stage_names[st]
						   : "?";
}

const char *
sscript_act_str(enum sscript_act a)
{
	return (unsigned)a < SSCRIPT_ACT__COUNT ? sscript_act_names[a] : "?";
}

const char *
sscript_key_str(enum sscript_key k)
{
	return (unsigned)k < SSCRIPT_KEY__COUNT ? sscript_key_names[k] : "?";
}

static int
sscript_name_lookup(const char *const *names, unsigned n, const char *s,
		    size_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (strlen(names[i]) == len &&
		    strncasecmp(names[i], s, len) == 0)
			return (int)i;
	return -EINVAL;
}

int
sscript_stage_parse(const char *name, size_t len)
{
	return sscript_name_lookup(sscript_stage_names, SSCRIPT_STAGE__COUNT,
				   name, len);
}

struct sscript *
sscript_new(void)
{
	struct sscript *sc = xcalloc(1, sizeof(*sc));

	sc->rng = 0x9e3779b97f4a7c15ull;
	return sc;
}

static void
sscript_rule_fini(struct sscript_rule *r)
{
	for (unsigned i = 0; i < r->nsteps; i++)
		free(r->steps[i].text);
	free(r->steps);
	free(r->glob);
}

void
sscript_free(struct sscript *sc)
{
	if (sc == NULL)
		return;
	for (unsigned i = 0; i < sc->nrules; i++)
		sscript_rule_fini(&sc->rules[i]);
	free(sc->rules);
	for (size_t i = 0; i < sc->kc_cap; i++)
		free(sc->kc[i].key);
	free(sc->kc);
	free(sc);
}

void
sscript_seed(struct sscript *sc, uint64_t seed)
{
	sc->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

unsigned
sscript_rule_count(const struct sscript *sc)
{
	return sc->nrules;
}

static const char *const sscript_forms[] = {
    "reply", "reply-close", "drop", "delay", "rcpt", "sequence",
};

bool
sscript_is_form(const char *name)
{
	return sscript_name_lookup(sscript_forms, nitems(sscript_forms), name,
				   strlen(name)) >= 0;
}

/* ---- small parsers ------------------------------------------------------ */

ATTR_FMT(4, 5)
static int
sscript_fail(char *err, size_t errsz, const char *where, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errsz, "%s: ", where);

	if (n >= 0 && (size_t)n < errsz) {
		va_start(ap, fmt);
		vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void
sscript_trim(const char **s, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* A decimal count >= 1 in s[len]. */
static int
sscript_count_parse(const char *s, size_t len, uint64_t *n_r)
{
	uint64_t n = 0;

	if (len == 0 || len > 12)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (n == 0)
		return -EINVAL;
	*n_r = n;
	return 0;
}

/* A decimal number "12", "1.5", ".3" into *v (no sign, no exponent). */
static int
sscript_decimal(const char *s, size_t len, double *v)
{
	double r = 0, scale = 1;
	bool dot = false, digit = false;

	if (len == 0 || len > 20)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.' && !dot) {
			dot = true;
		} else if (isdigit((unsigned char)s[i])) {
			digit = true;
			if (dot) {
				scale /= 10;
				r += (s[i] - '0') * scale;
			} else {
				r = r * 10 + (s[i] - '0');
			}
		} else {
			return -EINVAL;
		}
	}
	if (!digit)
		return -EINVAL;
	*v = r;
	return 0;
}

int
sscript_duration(const char *s, size_t len, int64_t *ns_r)
{
	size_t n = 0;
	double v, unit;

	sscript_trim(&s, &len);
	while (n < len && (isdigit((unsigned char)s[n]) || s[n] == '.'))
		n++;
	if (sscript_decimal(s, n, &v) < 0)
		return -EINVAL;
	if (len - n == 2 && strncasecmp(s + n, "ms", 2) == 0)
		unit = 1e6;
	else if (len - n == 1 && (s[n] == 's' || s[n] == 'S'))
		unit = 1e9;
	else if (len - n == 1 && (s[n] == 'm' || s[n] == 'M'))
		unit = 60e9;
	else
		return -EINVAL;
	v *= unit;
	if (v > (double)SSCRIPT_DELAY_MAX)
		return -EINVAL;
	*ns_r = (int64_t)(v + 0.5);
	return 0;
}

/* A qualifier after '@': a probability, first:N, from:N or nth:N. */
static int
sscript_qual(struct sscript_rule *r, const char *q, size_t len)
{
	double p;

	if (len > 6 && strncasecmp(q, "first:", 6) == 0)
		return sscript_count_parse(q + 6, len - 6, &r->first);
	if (len > 5 && strncasecmp(q, "from:", 5) == 0)
		return sscript_count_parse(q + 5, len - 5, &r->from);
	if (len > 4 && strncasecmp(q, "nth:", 4) == 0)
		return sscript_count_parse(q + 4, len - 4, &r->nth);
	if (sscript_decimal(q, len, &p) < 0 || p <= 0 || p > 1)
		return -EINVAL;
	r->prob = p;
	return 0;
}

/* Strip "@QUAL" suffixes from s[*len] into r, right to left. */
static void
sscript_quals(struct sscript_rule *r, const char *s, size_t *len)
{
	for (;;) {
		const char *at = memrchr(s, '@', *len);
		size_t qlen;
		struct sscript_rule tmp = *r;

		if (at == NULL)
			return;
		qlen = *len - (size_t)(at - s) - 1;
		if (sscript_qual(&tmp, at + 1, qlen) < 0)
			return; /* part of the text ("user@host") */
		*r = tmp;
		*len = (size_t)(at - s);
	}
}

/* "STAGE" or "STAGE/GLOB" */
static int
sscript_selector(struct sscript_rule *r, const char *s, size_t len,
		 const char *where, char *err, size_t errsz)
{
	const char *slash;
	int st;

	sscript_trim(&s, &len);
	slash = memchr(s, '/', len);
	st = sscript_stage_parse(s, slash ? (size_t)(slash - s) : len);
	if (st < 0)
		return sscript_fail(
		    err, errsz, where,
		    "unknown stage \"%.*s\" (banner, ehlo, helo, mail, rcpt, "
		    "data, dot, rset, quit, starttls)",
		    (int)(slash ? (size_t)(slash - s) : len), s);
	r->stage = (enum sscript_stage)st;
	if (slash != NULL) {
		size_t glen = len - (size_t)(slash - s) - 1;

		if (glen == 0)
			return sscript_fail(err, errsz, where, "empty pattern");
		r->glob = xstrndup(slash + 1, glen);
	}
	return 0;
}

static bool
sscript_code_ok(enum sscript_stage st, enum sscript_act act, unsigned code)
{
	unsigned c = code / 100;

	if (act == SSCRIPT_CLOSE)
		return c == 4 || c == 5;
	if (st == SSCRIPT_DATA)
		return code == 354 || c == 4 || c == 5;
	if (st == SSCRIPT_STARTTLS)
		return code == 220 || c == 4 || c == 5;
	return c == 2 || c == 4 || c == 5;
}

/* "CODE", "CODE:TEXT" or "CODE TEXT" into step. */
static int
sscript_code_text(struct sscript_step *step, enum sscript_stage st,
		  const char *s, size_t len, const char *where, char *err,
		  size_t errsz)
{
	const char *t;
	size_t tl;

	sscript_trim(&s, &len);
	if (len < 3 || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2]) ||
	    (len > 3 && s[3] != ':' && s[3] != ' '))
		return sscript_fail(err, errsz, where,
				    "expected CODE[:TEXT], got \"%.*s\"",
				    (int)MIN(len, 40), s);
	step->code =
	    (unsigned)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
	if (!sscript_code_ok(st, step->act, step->code))
		return sscript_fail(
		    err, errsz, where,
		    "code %u is not a valid %s reply at stage %s", step->code,
		    step->act == SSCRIPT_CLOSE ? "closing" : "",
		    sscript_stage_str(st));
	t = s + MIN(len, (size_t)4);
	tl = len - MIN(len, (size_t)4);
	sscript_trim(&t, &tl);
	if (tl > SSCRIPT_TEXT_MAX)
		return sscript_fail(err, errsz, where, "reply text too long");
	for (size_t i = 0; i < tl; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			return sscript_fail(err, errsz, where,
					    "control character in reply text");
	step->text = tl ? xstrndup(t, tl) : NULL;
	return 0;
}

/* ---- forms -------------------------------------------------------------- */

static struct sscript_rule *
sscript_rule_push(struct sscript *sc)
{
	struct sscript_rule *r;

	sc->rules = xreallocarray(sc->rules, sc->nrules + 1, sizeof(*r));
	r = &sc->rules[sc->nrules];
	memset(r, 0, sizeof(*r));
	r->prob = 1;
	r->steps = xcalloc(1, sizeof(*r->steps));
	r->nsteps = 1;
	r->steps[0].repeat = 1;
	return r;
}

/* reply, reply-close, delay, drop, rcpt: one action with qualifiers. */
static int
sscript_simple(struct sscript_rule *r, enum sscript_act act, bool rcpt_form,
	       const char *arg, const char *where, char *err, size_t errsz)
{
	size_t len = strlen(arg);
	const char *eq;
	struct sscript_step *step = &r->steps[0];
	int rc;

	sscript_quals(r, arg, &len);
	eq = memchr(arg, '=', len);
	step->act = act;
	if (act == SSCRIPT_DROP) {
		if (eq != NULL)
			return sscript_fail(
			    err, errsz, where,
			    "drop takes STAGE[/GLOB], no \"=\"");
		return sscript_selector(r, arg, len, where, err, errsz);
	}
	if (eq == NULL)
		return sscript_fail(err, errsz, where, "expected %s=%s",
				    rcpt_form ? "GLOB" : "STAGE[/GLOB]",
				    act == SSCRIPT_DELAY ? "DURATION"
							 : "CODE[:TEXT]");
	if (rcpt_form) {
		const char *g = arg;
		size_t gl = (size_t)(eq - arg);

		sscript_trim(&g, &gl);
		r->stage = SSCRIPT_RCPT;
		if (gl == 0)
			return sscript_fail(err, errsz, where, "empty pattern");
		r->glob = xstrndup(g, gl);
	} else {
		rc = sscript_selector(r, arg, (size_t)(eq - arg), where, err,
				      errsz);
		if (rc < 0)
			return rc;
	}
	eq++;
	len -= (size_t)(eq - arg);
	if (act == SSCRIPT_DELAY) {
		r->delay_only = true;
		if (sscript_duration(eq, len, &step->delay_ns) < 0)
			return sscript_fail(
			    err, errsz, where,
			    "bad duration \"%.*s\" (e.g. 250ms, 2s, 1.5s, 1m)",
			    (int)MIN(len, 40), eq);
		return 0;
	}
	rc = sscript_code_text(step, r->stage, eq, len, where, err, errsz);
	if (rc == 0 && step->code == 421)
		step->act = SSCRIPT_CLOSE;
	return rc;
}

/* One sequence step: [N*]ACTION. */
static int
sscript_step_parse(struct sscript_step *step, enum sscript_stage st,
		   const char *s, size_t len, const char *where, char *err,
		   size_t errsz)
{
	const char *star;
	uint64_t n = 1;

	sscript_trim(&s, &len);
	star = memchr(s, '*', len);
	if (star != NULL && star > s && isdigit((unsigned char)s[0])) {
		if (sscript_count_parse(s, (size_t)(star - s), &n) < 0 ||
		    n > 1000000)
			return sscript_fail(err, errsz, where,
					    "bad repeat count \"%.*s\"",
					    (int)(star - s), s);
		len -= (size_t)(star - s) + 1;
		s = star + 1;
		sscript_trim(&s, &len);
	}
	step->repeat = (unsigned)n;
	if (len == 4 && strncasecmp(s, "drop", 4) == 0) {
		step->act = SSCRIPT_DROP;
		return 0;
	}
	if (len == 4 && strncasecmp(s, "pass", 4) == 0) {
		step->act = SSCRIPT_PASS;
		return 0;
	}
	if (len > 6 && strncasecmp(s, "delay ", 6) == 0) {
		step->act = SSCRIPT_DELAY;
		if (sscript_duration(s + 6, len - 6, &step->delay_ns) < 0)
			return sscript_fail(err, errsz, where,
					    "bad duration in \"%.*s\"",
					    (int)MIN(len, 40), s);
		return 0;
	}
	step->act = SSCRIPT_REPLY;
	if (len > 6 && strncasecmp(s, "close ", 6) == 0) {
		step->act = SSCRIPT_CLOSE;
		s += 6;
		len -= 6;
	}
	if (sscript_code_text(step, st, s, len, where, err, errsz) < 0)
		return -EINVAL;
	if (step->code == 421)
		step->act = SSCRIPT_CLOSE;
	return 0;
}

/* sequence STAGE[/GLOB] [per KEY] = STEP; STEP; ... */
static int
sscript_sequence(struct sscript_rule *r, const char *arg, const char *where,
		 char *err, size_t errsz)
{
	const char *eq = strchr(arg, '='), *lhs = arg, *per, *p;
	size_t ll;
	unsigned n = 0;

	r->seq = true;
	if (eq == NULL)
		return sscript_fail(
		    err, errsz, where,
		    "expected STAGE[/GLOB] [per KEY] = STEP; STEP...");
	ll = (size_t)(eq - arg);
	sscript_trim(&lhs, &ll);
	per = NULL;
	for (size_t i = 0; i + 5 <= ll; i++)
		if (strncasecmp(lhs + i, " per ", 5) == 0)
			per = lhs + i;
	if (per != NULL) {
		const char *k = per + 5;
		size_t kl = ll - (size_t)(k - lhs);
		int key;

		sscript_trim(&k, &kl);
		key = sscript_name_lookup(sscript_key_names, SSCRIPT_KEY__COUNT,
					  k, kl);
		if (key < 0)
			return sscript_fail(
			    err, errsz, where,
			    "unknown key \"%.*s\" (global, rcpt, sender, msg, "
			    "client, helo, conn)",
			    (int)kl, k);
		r->key = (enum sscript_key)key;
		ll = (size_t)(per - lhs);
	}
	if (sscript_selector(r, lhs, ll, where, err, errsz) < 0)
		return -EINVAL;
	free(r->steps);
	r->steps = NULL;
	r->nsteps = 0;
	for (p = eq + 1;; n++) {
		const char *semi = strchr(p, ';');
		size_t sl = semi ? (size_t)(semi - p) : strlen(p);

		r->steps = xreallocarray(r->steps, n + 1, sizeof(*r->steps));
		memset(&r->steps[n], 0, sizeof(r->steps[n]));
		r->nsteps = n + 1;
		if (sscript_step_parse(&r->steps[n], r->stage, p, sl, where,
				       err, errsz) < 0)
			return -EINVAL;
		if (semi == NULL)
			break;
		p = semi + 1;
	}
	return 0;
}

int
sscript_add(struct sscript *sc, const char *form, const char *arg,
	    const char *where, char *err, size_t errsz)
{
	struct sscript_rule *r;
	int rc;

	if (strncmp(form, "--", 2) == 0)
		form += 2;
	if (!sscript_is_form(form))
		return sscript_fail(err, errsz, where, "unknown rule \"%s\"",
				    form);
	r = sscript_rule_push(sc);
	if (strcasecmp(form, "sequence") == 0)
		rc = sscript_sequence(r, arg, where, err, errsz);
	else if (strcasecmp(form, "reply") == 0)
		rc = sscript_simple(r, SSCRIPT_REPLY, false, arg, where, err,
				    errsz);
	else if (strcasecmp(form, "reply-close") == 0)
		rc = sscript_simple(r, SSCRIPT_CLOSE, false, arg, where, err,
				    errsz);
	else if (strcasecmp(form, "drop") == 0)
		rc = sscript_simple(r, SSCRIPT_DROP, false, arg, where, err,
				    errsz);
	else if (strcasecmp(form, "delay") == 0)
		rc = sscript_simple(r, SSCRIPT_DELAY, false, arg, where, err,
				    errsz);
	else
		rc = sscript_simple(r, SSCRIPT_REPLY, true, arg, where, err,
				    errsz);
	if (rc < 0) {
		sscript_rule_fini(r);
		return rc;
	}
	sc->nrules++;
	return 0;
}

int
sscript_load_buf(struct sscript *sc, const char *name, const char *buf,
		 size_t len, char *err, size_t errsz)
{
	unsigned lineno = 0;
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *l = p, *sp;
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char where[300], form[32], *arg;
		int rc;

		lineno++;
		p = nl ? nl + 1 : end;
		sscript_trim(&l, &ll);
		if (ll == 0 || l[0] == '#')
			continue;
		snprintf(where, sizeof(where), "%.256s:%u", name, lineno);
		if (memchr(l, '\0', ll) != NULL)
			return sscript_fail(err, errsz, where, "NUL byte");
		sp = l;
		while (sp < l + ll && !isspace((unsigned char)*sp))
			sp++;
		if ((size_t)(sp - l) >= sizeof(form))
			return sscript_fail(err, errsz, where,
					    "unknown rule \"%.*s\"", 31, l);
		memcpy(form, l, (size_t)(sp - l));
		form[sp - l] = '\0';
		while (sp < l + ll && isspace((unsigned char)*sp))
			sp++;
		arg = xstrndup(sp, ll - (size_t)(sp - l));
		rc = sscript_add(sc, form, arg, where, err, errsz);
		free(arg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
sscript_load_file(struct sscript *sc, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	int rc;

	if (f == NULL) {
		rc = -errno;
		snprintf(err, errsz, "%s: %s", path, strerror(-rc));
		return rc;
	}
	buf = xmalloc(SSCRIPT_FILE_MAX);
	n = fread(buf, 1, SSCRIPT_FILE_MAX, f);
	if (ferror(f) || n == SSCRIPT_FILE_MAX) {
		snprintf(err, errsz, "%s: %s", path,
			 ferror(f) ? "read error" : "file too large");
		fclose(f);
		free(buf);
		return -EINVAL;
	}
	fclose(f);
	rc = sscript_load_buf(sc, path, buf, n, err, errsz);
	free(buf);
	return rc;
}

/* ---- evaluation --------------------------------------------------------- */

static uint64_t
sscript_rand(struct sscript *sc)
{
	uint64_t x = sc->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	sc->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static uint64_t
sscript_hash(unsigned rule, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull ^ rule;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	return h;
}

static void
sscript_kc_grow(struct sscript *sc)
{
	size_t ncap = sc->kc_cap ? sc->kc_cap * 2 : 256;
	struct sscript_kc *n = xcalloc(ncap, sizeof(*n));

	for (size_t i = 0; i < sc->kc_cap; i++) {
		struct sscript_kc *e = &sc->kc[i];
		size_t j;

		if (e->key == NULL)
			continue;
		for (j = e->hash & (ncap - 1); n[j].key;
		     j = (j + 1) & (ncap - 1))
			;
		n[j] = *e;
	}
	free(sc->kc);
	sc->kc = n;
	sc->kc_cap = ncap;
}

/* The per-key counter of rule i, or NULL when the table is full. */
static uint64_t *
sscript_kc_get(struct sscript *sc, unsigned i, const char *key)
{
	uint64_t h = sscript_hash(i, key);
	size_t j;

	if (sc->kc_n * 2 >= sc->kc_cap) {
		if (sc->kc_n >= SSCRIPT_KEYS_MAX)
			goto lookup_only;
		sscript_kc_grow(sc);
	}
	for (j = h & (sc->kc_cap - 1); sc->kc[j].key;
	     j = (j + 1) & (sc->kc_cap - 1))
		if (sc->kc[j].hash == h && sc->kc[j].rule == i &&
		    strcmp(sc->kc[j].key, key) == 0)
			return &sc->kc[j].count;
	sc->kc[j].hash = h;
	sc->kc[j].rule = i;
	sc->kc[j].key = xstrdup(key);
	sc->kc_n++;
	return &sc->kc[j].count;
lookup_only:
	for (j = h & (sc->kc_cap - 1); sc->kc[j].key;
	     j = (j + 1) & (sc->kc_cap - 1))
		if (sc->kc[j].hash == h && sc->kc[j].rule == i &&
		    strcmp(sc->kc[j].key, key) == 0)
			return &sc->kc[j].count;
	return NULL;
}

static enum sscript_key
sscript_eff_key(const struct sscript_rule *r)
{
	if (r->key != SSCRIPT_KEY_DEFAULT)
		return r->key;
	if (r->stage == SSCRIPT_RCPT)
		return SSCRIPT_KEY_RCPT;
	if (r->stage == SSCRIPT_DATA || r->stage == SSCRIPT_DOT)
		return SSCRIPT_KEY_MSG;
	return SSCRIPT_KEY_GLOBAL;
}

/* Count the event for rule i; returns its occurrence number (1-based). */
static uint64_t
sscript_count(struct sscript *sc, unsigned i, const struct sscript_event *ev)
{
	struct sscript_rule *r = &sc->rules[i];
	enum sscript_key k;
	uint64_t *c;

	r->count++;
	if (!r->seq)
		return r->count;
	k = sscript_eff_key(r);
	if (k == SSCRIPT_KEY_GLOBAL || ev->keys[k] == NULL)
		return r->count;
	c = sscript_kc_get(sc, i, ev->keys[k]);
	if (c == NULL)
		return r->count;
	return ++*c;
}

static bool
sscript_matches(const struct sscript_rule *r, const struct sscript_event *ev)
{
	if (r->stage != ev->stage)
		return false;
	if (r->glob == NULL)
		return true;
	for (unsigned i = 0; i < ev->nsubjects; i++)
		if (ev->subjects[i] &&
		    fnmatch(r->glob, ev->subjects[i], FNM_CASEFOLD) == 0)
			return true;
	return false;
}

static bool
sscript_quals_pass(struct sscript *sc, const struct sscript_rule *r, uint64_t n)
{
	if (r->seq)
		return true;
	if ((r->first && n > r->first) || (r->from && n < r->from) ||
	    (r->nth && n != r->nth))
		return false;
	if (r->prob < 1) {
		double u = (double)(sscript_rand(sc) >> 11) * 0x1.0p-53;

		return u < r->prob;
	}
	return true;
}

/* The step of a sequence for occurrence n (the last one repeats). */
static const struct sscript_step *
sscript_seq_step(const struct sscript_rule *r, uint64_t n)
{
	for (unsigned i = 0; i < r->nsteps; i++) {
		if (n <= r->steps[i].repeat)
			return &r->steps[i];
		n -= r->steps[i].repeat;
	}
	return &r->steps[r->nsteps - 1];
}

void
sscript_eval(struct sscript *sc, const struct sscript_event *ev,
	     struct sscript_verdict *v)
{
	bool decided = false;

	memset(v, 0, sizeof(*v));
	v->act = SSCRIPT_PASS;
	for (unsigned i = 0; i < sc->nrules; i++) {
		const struct sscript_rule *r = &sc->rules[i];
		const struct sscript_step *step;
		uint64_t n;

		if (!sscript_matches(r, ev))
			continue;
		n = sscript_count(sc, i, ev);
		if (!sscript_quals_pass(sc, r, n))
			continue;
		step = r->seq ? sscript_seq_step(r, n) : &r->steps[0];
		if (r->delay_only) {
			v->delay_ns += step->delay_ns;
			continue;
		}
		if (decided)
			continue;
		decided = true;
		if (step->act == SSCRIPT_DELAY) {
			v->delay_ns += step->delay_ns;
			continue; /* then the normal reply */
		}
		v->act = step->act;
		v->code = step->code;
		v->text = step->text;
	}
}

/* Default texts of the tNNN convention. */
static const char *
sscript_conv_text(unsigned code)
{
	static const struct {
		unsigned code;
		const char *text;
	} t[] = {
	    {250, "2.1.5 Ok (t250)"},
	    {421, "4.7.0 Closing connection (t421)"},
	    {450, "4.2.1 Mailbox unavailable (t450)"},
	    {451, "4.3.0 Temporary failure (t451)"},
	    {452, "4.2.2 Mailbox full (t452)"},
	    {550, "5.1.1 No such user (t550)"},
	    {551, "5.1.6 User not local (t551)"},
	    {552, "5.2.2 Mailbox full (t552)"},
	    {553, "5.1.3 Mailbox name not allowed (t553)"},
	    {554, "5.7.1 Rejected (t554)"},
	};

	for (size_t i = 0; i < nitems(t); i++)
		if (t[i].code == code)
			return t[i].text;
	return code / 100 == 2   ? "2.0.0 Ok (convention)"
	       : code / 100 == 4 ? "4.0.0 Temporary failure (convention)"
				 : "5.0.0 Permanent failure (convention)";
}

int
sscript_convention(const char *local, struct sscript_verdict *v)
{
	unsigned code;

	if (local == NULL || (local[0] != 't' && local[0] != 'T') ||
	    !isdigit((unsigned char)local[1]) ||
	    !isdigit((unsigned char)local[2]) ||
	    !isdigit((unsigned char)local[3]))
		return 0;
	if (local[4] != '\0' && strchr("-+._", local[4]) == NULL)
		return 0;
	code = (unsigned)((local[1] - '0') * 100 + (local[2] - '0') * 10 +
			  (local[3] - '0'));
	if (code / 100 != 2 && code / 100 != 4 && code / 100 != 5)
		return 0;
	memset(v, 0, sizeof(*v));
	v->act = code == 421 ? SSCRIPT_CLOSE : SSCRIPT_REPLY;
	v->code = code;
	v->text = sscript_conv_text(code);
	return 1;
}
