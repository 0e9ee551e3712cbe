/* SPDX-License-Identifier: MIT */
/*
 * ringsink_script_int.h: the rules of ringsink's fault scripts as the
 * parser (ringsink_script.c) builds them and the evaluator
 * (ringsink_script_eval.c) reads and counts them.  Private to those two
 * files: everyone else uses ringsink_script.h.
 */
#ifndef RINGSINK_SCRIPT_INT_H
#define RINGSINK_SCRIPT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringsink_script.h"

/* Past this many keys a sequence falls back to its rule's global counter. */
#define SSCRIPT_KEYS_MAX (1u << 20)

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

#endif
