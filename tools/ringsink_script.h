/* SPDX-License-Identifier: MIT */
/*
 * ringsink_script.h: ringsink's fault rules (prefix sscript_): the parser of
 * the fault flags and of --script files, and the evaluation of the rules at
 * each SMTP stage into a verdict (reply, reply and close, drop, delay,
 * pass).  Pure: no I/O except sscript_load_file() reading the script, no
 * SMTP.  docs/ringsink.md describes the language.
 *
 * Forms (a flag "--NAME ARG" and a script line "NAME ARG" are the same):
 *   reply STAGE[/GLOB]=CODE[:TEXT][@QUAL]...
 *   reply-close STAGE[/GLOB]=CODE[:TEXT][@QUAL]...
 *   drop STAGE[/GLOB][@QUAL]...
 *   delay STAGE[/GLOB]=DURATION[@QUAL]...
 *   rcpt GLOB=CODE[:TEXT][@QUAL]...          (reply rcpt/GLOB=...)
 *   sequence STAGE[/GLOB] [per KEY] = STEP; STEP; ...
 * QUAL: a probability (0.3), first:N, from:N, nth:N.  STEP: [N*]ACTION with
 * ACTION one of CODE[:TEXT], close CODE[:TEXT], drop, pass, delay DURATION;
 * the last step repeats forever.
 *
 * Rules own their strings; a verdict points into its rule (valid until
 * sscript_free).  Counters count events whose selector (stage and glob)
 * matched, across all connections; sequence counters are kept per key.
 */
#ifndef RINGMTA_RINGSINK_SCRIPT_H
#define RINGMTA_RINGSINK_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"

enum sscript_stage {
	SSCRIPT_BANNER = 0,
	SSCRIPT_EHLO,
	SSCRIPT_HELO,
	SSCRIPT_MAIL,
	SSCRIPT_RCPT,
	SSCRIPT_DATA,
	SSCRIPT_DOT,
	SSCRIPT_RSET,
	SSCRIPT_QUIT,
	SSCRIPT_STARTTLS,    /* 220 starts TLS (with --tls-cert) */
	SSCRIPT_STAGE__COUNT /* must stay last */
};
const char *sscript_stage_str(enum sscript_stage st);
/* "banner", "ehlo", ...; returns the stage or -EINVAL. */
int sscript_stage_parse(const char *name, size_t len);

enum sscript_act {
	SSCRIPT_PASS = 0,  /* the normal reply */
	SSCRIPT_REPLY,     /* code + text */
	SSCRIPT_CLOSE,     /* code + text, then close */
	SSCRIPT_DROP,      /* disconnect without a reply */
	SSCRIPT_DELAY,     /* wait, then the normal reply (rule steps only) */
	SSCRIPT_ACT__COUNT /* must stay last */
};
const char *sscript_act_str(enum sscript_act a);

/* What a sequence counts per (default: rcpt at RCPT, msg at DATA/dot,
 * global elsewhere). */
enum sscript_key {
	SSCRIPT_KEY_DEFAULT = 0,
	SSCRIPT_KEY_GLOBAL,
	SSCRIPT_KEY_RCPT,   /* the recipient address */
	SSCRIPT_KEY_SENDER, /* the sender address */
	SSCRIPT_KEY_MSG,    /* Message-ID (dot), else the envelope */
	SSCRIPT_KEY_CLIENT, /* the client IP address */
	SSCRIPT_KEY_HELO,   /* the HELO/EHLO name */
	SSCRIPT_KEY_CONN,   /* the connection (counts within it) */
	SSCRIPT_KEY__COUNT  /* must stay last */
};
const char *sscript_key_str(enum sscript_key k);

/* One event to judge. */
struct sscript_event {
	enum sscript_stage stage;
	/* What globs match: the local part (MAIL, RCPT), the HELO name, the
	 * client IP (banner, rset, quit), every accepted recipient's local
	 * part (DATA, dot: any may match).  NULL entries never match. */
	const char *const *subjects;
	unsigned nsubjects;
	/* Sequence keys; NULL: that key is unknown here (counts as
	 * global). */
	const char *keys[SSCRIPT_KEY__COUNT];
};

struct sscript_verdict {
	enum sscript_act act; /* PASS, REPLY, CLOSE or DROP */
	unsigned code;
	const char *text; /* "x.y.z words" or NULL (default text) */
	int64_t delay_ns; /* wait this long first (sum of delays) */
};

struct sscript;

struct sscript *sscript_new(void);
void sscript_free(struct sscript *sc);
/* Seed the generator behind probabilities (same seed, same choices). */
void sscript_seed(struct sscript *sc, uint64_t seed);
unsigned sscript_rule_count(const struct sscript *sc);
/* True when name is a rule form ("reply", "drop", "sequence", ...). */
bool sscript_is_form(const char *name);

/*
 * Add one rule: form is "reply", "reply-close", "drop", "delay", "rcpt" or
 * "sequence", arg its argument.  where names the origin for messages
 * ("--reply" or "file:12").  Returns 0, or -EINVAL with "where: reason" in
 * err[errsz].
 */
int sscript_add(struct sscript *sc, const char *form, const char *arg,
		const char *where, char *err, size_t errsz) ATTR_WUR;
/*
 * Parse a script held in buf[len] named name: one "FORM ARG" per line,
 * blank lines and lines starting with '#' ignored.  Returns 0, or -EINVAL
 * with "name:line: reason" in err.
 */
int sscript_load_buf(struct sscript *sc, const char *name, const char *buf,
		     size_t len, char *err, size_t errsz) ATTR_WUR;
/* Read and parse the file at path; -errno with err set on failure. */
int sscript_load_file(struct sscript *sc, const char *path, char *err,
		      size_t errsz) ATTR_WUR;

/*
 * Judge ev: every rule of ev's stage whose glob matches counts the event;
 * the delays of those whose qualifiers pass add up; the first whose
 * qualifiers pass with a non-delay action decides.  Fills *v (PASS when no
 * rule decides).
 */
void sscript_eval(struct sscript *sc, const struct sscript_event *ev,
		  struct sscript_verdict *v);

/*
 * The built-in recipient convention: a local part "tNNN" (optionally
 * followed by one of "-+._" and anything) with NNN a 2xx-5xx code gives
 * that reply (421: reply and close).  Returns 1 with *v set, else 0.
 */
int sscript_convention(const char *local, struct sscript_verdict *v);

/* Parse "250ms", "2s", "1.5s", "1m" into ns; -EINVAL otherwise. */
int sscript_duration(const char *s, size_t len, int64_t *ns_r) ATTR_WUR;

#endif
