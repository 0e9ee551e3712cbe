/* SPDX-License-Identifier: MIT */
/*
 * ringsink_script.c: ringsink's fault rules: parsing (flags and --script
 * files share one grammar, see ringsink_script.h and docs/ringsink.md)
 * into the rules of ringsink_script_int.h.  Owns the rules, their strings
 * and (freeing them) the per-key counters; evaluation into verdicts is
 * ringsink_script_eval.c.  No I/O besides reading a script file, no SMTP,
 * no clock.
 */
#include "ringsink_script.h"
#include "ringsink_script_int.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
