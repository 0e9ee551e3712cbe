/* SPDX-License-Identifier: MIT */
/*
 * ringsink_script_eval.c: evaluating ringsink's fault rules
 * (ringsink_script_int.h) into verdicts, and the tNNN local-part
 * convention.  Owns the per-key sequence counters (a bounded hash table:
 * past SSCRIPT_KEYS_MAX keys a sequence falls back to its rule's global
 * counter) and the rule counters; never changes a rule otherwise.  No I/O,
 * no SMTP, no clock.
 */
#include "ringsink_hash.h"
#include "ringsink_script.h"
#include "ringsink_script_int.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

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
	uint64_t h = shash_str(i, key);
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
