/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rkey: arbitrary bytes as a domain, node or control-message name on
 * their way to a Redis key.
 *
 * Properties checked (abort on violation), for every path a name takes
 * into a key: value_domain() (intake's normalisation) then rds_key();
 * rds_key() on the raw bytes; rstate_domain_name() (ringctl's) then
 * rds_key(); rstate_node_name() then rds_key(); rstate_ctl_parse() (a
 * PREFIX:ctl payload) then rds_key() on its argument:
 *  - an accepted name gives a key of only [!-~] bytes without '{', '}',
 *    '*', '?', '[', ']' or a space, of the form PREFIX:KIND:NAME with no
 *    further ':', at most RDS_KEY_MAX - 1 bytes;
 *  - node names are always accepted, control arguments and ringctl's
 *    names always make a key, and a parsed payload formats back to the
 *    same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "redis.h"
#include "rstate.h"
#include "value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_IN_MAX 600

static void
fz_check_key(const char *key, int len, const char *kind)
{
	size_t colons = 0;

	if (len < 0 || (size_t)len != strlen(key) || len >= RDS_KEY_MAX)
		abort();
	for (int i = 0; i < len; i++) {
		unsigned char c = (unsigned char)key[i];

		if (c <= ' ' || c >= 0x7f || strchr("{}*?[]", c) != NULL)
			abort();
		colons += c == ':';
	}
	if (colons != 2 || strncmp(key, "rt:", 3) != 0 ||
	    strncmp(key + 3, kind, strlen(kind)) != 0 ||
	    key[3 + strlen(kind)] != ':')
		abort();
}

/* Key the name if rds_key accepts it; must_accept: abort if not. */
static void
fz_key(const char *kind, const char *name, int must_accept)
{
	char key[RDS_KEY_MAX];
	int len = rds_key(key, sizeof(key), "rt", kind, name);

	if (len < 0) {
		if (must_accept)
			abort();
		return;
	}
	fz_check_key(key, len, kind);
}

static void
fz_ctl(const uint8_t *data, size_t size)
{
	struct rstate_ctl_msg m;
	char buf[FZ_IN_MAX];
	int n;

	if (rstate_ctl_parse((const char *)data, size, &m) < 0)
		return;
	if (m.arg[0] != '\0')
		fz_key("domain", m.arg, 1);
	if (m.reqid[0] != '\0')
		fz_key("reply", m.reqid, 1);
	n = rstate_ctl_format(&m, buf, sizeof(buf));
	if (n < 0 || (size_t)n != size || memcmp(buf, data, size) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[FZ_IN_MAX + 1], out[VALUE_HOST_MAX + 1], why[256];
	char node[RSTATE_NODE_MAX + 1], name[DOM_NAME_MAX + 1];
	size_t n = size < FZ_IN_MAX ? size : FZ_IN_MAX;

	memcpy(in, data, n);
	in[n] = '\0'; /* a NUL inside ends the name, as in C callers */
	if (value_domain(in, out, sizeof(out), why, sizeof(why)) == 0)
		fz_key("domain", out, 0);
	fz_key("domain", in, 0);
	if (rstate_domain_name(in, name, sizeof(name)) == 0)
		fz_key("domain", name, 1);
	rstate_node_name(in, node);
	fz_key("node", node, 1);
	fz_ctl(data, size);
	return 0;
}
