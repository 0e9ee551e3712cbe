/* SPDX-License-Identifier: MIT */
/*
 * rstate_ctl.c: the wire formats of the control channel, shared by ringmta
 * and ringctl: PREFIX:ctl payloads (parse and format) and the tab-separated
 * "key=value" records nodes answer with.  Pure: no I/O, no Redis, no
 * clock.  Every name that may become a key goes through rds_name_check().
 */
#include "rstate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"

static const char *const rstate_ctl_names[] = {
    [RSTATE_CTL_SUSPEND] = "suspend",   [RSTATE_CTL_RESUME] = "resume",
    [RSTATE_CTL_OVERRIDE] = "override", [RSTATE_CTL_QUEUE] = "queue",
    [RSTATE_CTL_MESSAGE] = "message",   [RSTATE_CTL_FLUSH] = "flush",
    [RSTATE_CTL_FAIL] = "fail",         [RSTATE_CTL_RETRY] = "retry",
    [RSTATE_CTL_DELETE] = "delete",     [RSTATE_CTL_DOMAIN] = "domain",
    [RSTATE_CTL__COUNT] = NULL,
};
_Static_assert(nitems(rstate_ctl_names) == RSTATE_CTL__COUNT + 1, "ctl");

const char *
rstate_ctl_str(enum rstate_ctl c)
{
	return (unsigned)c < RSTATE_CTL__COUNT ? rstate_ctl_names[c] : "?";
}

bool
rstate_ctl_is_request(enum rstate_ctl op)
{
	return op >= RSTATE_CTL_QUEUE && op < RSTATE_CTL__COUNT;
}

/* n lower-case hex digits exactly. */
static bool
rstate_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Split msg[len] into at most 4 words separated by single spaces. */
static int
rstate_words(const char *msg, size_t len, char *buf, size_t bufsz, char *w[4])
{
	unsigned n = 0;
	char *p;

	if (len == 0 || len >= bufsz || memchr(msg, '\0', len) != NULL)
		return -EINVAL;
	memcpy(buf, msg, len);
	buf[len] = '\0';
	for (p = buf; n < 4;) {
		char *sp = strchr(p, ' ');

		if (*p == '\0' || *p == ' ')
			return -EINVAL; /* empty word, doubled space */
		w[n++] = p;
		if (sp == NULL)
			return (int)n;
		*sp = '\0';
		p = sp + 1;
	}
	return -EINVAL; /* a fifth word */
}

static int
rstate_ctl_arg(struct rstate_ctl_msg *m, char *const *w, int nw)
{
	const char *arg = nw > 0 ? w[0] : NULL;

	switch (m->op) {
	case RSTATE_CTL_QUEUE:
		if (nw == 0)
			return 0;
		/* fallthrough */
	case RSTATE_CTL_SUSPEND:
	case RSTATE_CTL_RESUME:
	case RSTATE_CTL_OVERRIDE:
	case RSTATE_CTL_FLUSH:
	case RSTATE_CTL_FAIL:
	case RSTATE_CTL_DOMAIN:
		if (nw == 2 && m->op == RSTATE_CTL_FAIL &&
		    strcmp(w[1], "quiet") == 0)
			m->quiet = true;
		else if (nw != 1)
			return -EINVAL;
		if (strlen(arg) > DOM_NAME_MAX || rds_name_check(arg) < 0)
			return -EINVAL;
		break;
	case RSTATE_CTL_MESSAGE:
	case RSTATE_CTL_RETRY:
	case RSTATE_CTL_DELETE:
		if (nw != 1 || !rstate_hex(arg, RSTATE_MSGID_LEN))
			return -EINVAL;
		break;
	case RSTATE_CTL__COUNT:
		return -EINVAL;
	}
	strcpy(m->arg, arg);
	return 0;
}

int
rstate_ctl_parse(const char *msg, size_t len, struct rstate_ctl_msg *m_r)
{
	char buf[DOM_NAME_MAX + 64], *w[4];
	int nw = rstate_words(msg, len, buf, sizeof(buf), w), op = -1;

	if (nw < 1)
		return -EINVAL;
	memset(m_r, 0, sizeof(*m_r));
	for (int i = 0; i < RSTATE_CTL__COUNT; i++)
		if (strcmp(w[0], rstate_ctl_names[i]) == 0)
			op = i;
	if (op < 0)
		return -EINVAL;
	m_r->op = (enum rstate_ctl)op;
	if (rstate_ctl_is_request(m_r->op)) {
		if (nw < 2 || !rstate_hex(w[1], RSTATE_REQID_LEN))
			return -EINVAL;
		strcpy(m_r->reqid, w[1]);
		return rstate_ctl_arg(m_r, w + 2, nw - 2);
	}
	return rstate_ctl_arg(m_r, w + 1, nw - 1);
}

int
rstate_ctl_format(const struct rstate_ctl_msg *m, char *buf, size_t len)
{
	int n;

	if (rstate_ctl_is_request(m->op))
		n = snprintf(buf, len, "%s %s%s%s%s", rstate_ctl_str(m->op),
			     m->reqid, m->arg[0] ? " " : "", m->arg,
			     m->quiet ? " quiet" : "");
	else
		n = snprintf(buf, len, "%s %s", rstate_ctl_str(m->op), m->arg);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int
rstate_domain_name(const char *in, char *out, size_t len)
{
	size_t n = strlen(in);

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0)
		return -EINVAL;
	if (n >= len || n > DOM_NAME_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < n; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z')
			     ? (char)(in[i] - 'A' + 'a')
			     : in[i];
	out[n] = '\0';
	if (rds_name_check(out) < 0 || strchr(out, '.') == NULL)
		return -EINVAL;
	return 0;
}

void
rstate_node_name(const char *in, char *out)
{
	size_t n = 0;

	for (; in != NULL && in[n] != '\0' && n < RSTATE_NODE_MAX; n++) {
		char c = in[n];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			c = '-';
		out[n] = c;
	}
	out[n] = '\0';
	if (n == 0)
		strcpy(out, "node");
}

/* ---- reply records ------------------------------------------------------ */

static void
rstate_out_put(struct rstate_out *o, const char *s, size_t n, bool clean)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = MAX(o->cap * 2, o->len + n + 256);
		o->buf = xrealloc(o->buf, o->cap);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		o->buf[o->len++] =
		    clean && (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	o->buf[o->len] = '\0';
}

void
rstate_out_kv(struct rstate_out *o, const char *key, const char *val)
{
	if (o->open)
		rstate_out_put(o, "\t", 1, false);
	rstate_out_put(o, key, strlen(key), true);
	rstate_out_put(o, "=", 1, false);
	rstate_out_put(o, val, strlen(val), true);
	o->open = true;
}

void
rstate_out_kvf(struct rstate_out *o, const char *key, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rstate_out_kv(o, key, buf);
}

void
rstate_out_raw(struct rstate_out *o, const char *s, size_t n)
{
	rstate_out_put(o, s, n, false);
}

void
rstate_out_end(struct rstate_out *o)
{
	rstate_out_put(o, "\n", 1, false);
	o->open = false;
}

void
rstate_out_fini(struct rstate_out *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

int
rstate_rec_next(char **p, struct rstate_rec *r)
{
	char *line = *p, *nl, *f;

	r->n = 0;
	while (*line == '\n')
		line++;
	if (*line == '\0') {
		*p = line;
		return 0;
	}
	nl = strchr(line, '\n');
	if (nl != NULL)
		*nl = '\0';
	*p = nl ? nl + 1 : line + strlen(line);
	for (f = line; f != NULL;) {
		char *tab = strchr(f, '\t'), *eq;

		if (tab != NULL)
			*tab++ = '\0';
		eq = strchr(f, '=');
		if (eq != NULL && r->n < RSTATE_REC_MAX) {
			*eq = '\0';
			r->key[r->n] = f;
			r->val[r->n++] = eq + 1;
		}
		f = tab;
	}
	return 1;
}

const char *
rstate_rec_get(const struct rstate_rec *r, const char *key)
{
	for (unsigned i = 0; i < r->n; i++)
		if (strcmp(r->key[i], key) == 0)
			return r->val[i];
	return "";
}
