/* SPDX-License-Identifier: MIT */
/*
 * fuzz_smtp_parse.c: command-line framing plus command, path and parameter
 * parsing, and xtext, against arbitrary client bytes.
 *
 * Input: byte 0 = bits 0-2 chunk size - 1 for the split feed, bits 3-4 the
 * line cap (512, 513, 1024, 4096); the rest is the client stream.  One line
 * parser gets the whole stream, another gets it in chunks: both must report
 * the same lines at the same offsets.  Each line goes through
 * smtpp_command(), whose result must satisfy the documented invariants; a
 * parsed path must render and parse back to the same local part and domain.
 * The stream is also run through the xtext decoder and encoder, which must
 * round-trip.
 */
#include "smtp_parse.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

struct fz_event {
	int rc;
	size_t end; /* stream offset just past the line */
	size_t len;
	unsigned flags;
	uint32_t hash;
};

static uint32_t
fz_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* No control byte, and the stored length matches. */
static void
fz_check_clean(const char *s, size_t n, bool ascii)
{
	FZ_CHECK(strlen(s) == n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		FZ_CHECK(c >= 0x20 && c != 0x7f);
		FZ_CHECK(!ascii || c < 0x7f);
	}
}

static void
fz_check_path(const struct smtpp_cmd *cmd)
{
	char buf[SMTPP_PATH_STR_SIZE], line[SMTPP_PATH_STR_SIZE + 16];
	struct smtpp_cmd again;
	bool mail = cmd->verb == SMTPP_VERB_MAIL;
	int n;

	fz_check_clean(cmd->path.local, cmd->path.local_len, false);
	fz_check_clean(cmd->path.domain, cmd->path.domain_len, false);
	FZ_CHECK(cmd->path.local_len <= SMTPP_LOCAL_HARD_MAX);
	FZ_CHECK(cmd->path.domain_len <= SMTPP_DOMAIN_MAX);
	FZ_CHECK(!(cmd->path.flags & SMTPP_PATH_F_MULTI_AT));
	FZ_CHECK(!(cmd->path.flags & SMTPP_PATH_F_NULL) || mail);
	FZ_CHECK(!(cmd->path.flags & SMTPP_PATH_F_POSTMASTER) || !mail);
	n = smtpp_path_str(&cmd->path, buf, sizeof(buf));
	FZ_CHECK(n > 0 && (size_t)n == strlen(buf));
	snprintf(line, sizeof(line), "%s%s",
		 mail ? "MAIL FROM:" : "RCPT TO:", buf);
	FZ_CHECK(smtpp_command(line, strlen(line), &again) == 0);
	FZ_CHECK(strcmp(again.path.local, cmd->path.local) == 0);
	FZ_CHECK(strcmp(again.path.domain, cmd->path.domain) == 0);
	FZ_CHECK(
	    (again.path.flags & ~(SMTPP_PATH_F_QUOTED | SMTPP_PATH_F_ROUTE)) ==
	    (cmd->path.flags & ~(SMTPP_PATH_F_QUOTED | SMTPP_PATH_F_ROUTE)));
}

static void
fz_check_command(const char *s, size_t n, unsigned line_flags)
{
	struct smtpp_cmd cmd;
	int rc = smtpp_command(s, n, &cmd);

	FZ_CHECK((unsigned)cmd.err < SMTPP_ERR__COUNT);
	FZ_CHECK((unsigned)cmd.verb < SMTPP_VERB__COUNT);
	FZ_CHECK(smtpp_err_str(cmd.err) != NULL);
	FZ_CHECK((rc == 0) == (cmd.err == SMTPP_OK));
	FZ_CHECK(rc == 0 || rc == -EBADMSG);
	if (line_flags & SMTPP_LINE_F_NUL)
		FZ_CHECK(cmd.err == SMTPP_ERR_NUL);
	if (rc != 0)
		return;
	FZ_CHECK(!(line_flags & (SMTPP_LINE_F_CTRL | SMTPP_LINE_F_BARE_CR)));
	FZ_CHECK(cmd.verb != SMTPP_VERB_UNKNOWN);
	FZ_CHECK(cmd.arg >= s && cmd.arg + cmd.arg_len <= s + n);
	if (cmd.verb == SMTPP_VERB_MAIL || cmd.verb == SMTPP_VERB_RCPT)
		fz_check_path(&cmd);
	fz_check_clean(cmd.mail.envid, cmd.mail.envid_len, true);
	fz_check_clean(cmd.mail.auth, cmd.mail.auth_len, true);
	fz_check_clean(cmd.rcpt.orcpt, cmd.rcpt.orcpt_len, true);
	FZ_CHECK(cmd.mail.body != SMTPP_BODY_BINARYMIME);
	if (cmd.rcpt.notify & SMTPP_NOTIFY_NEVER)
		FZ_CHECK(cmd.rcpt.notify == SMTPP_NOTIFY_NEVER);
}

/* Frame in[0..len) in chunks of chunk bytes (0: whole); record events. */
static size_t
fz_frame(size_t cap, const char *in, size_t len, size_t chunk,
	 struct fz_event *ev, bool check)
{
	struct smtpp_lineparser lp;
	size_t pos = 0, nev = 0;

	FZ_CHECK(smtpp_line_init(&lp, cap) == 0);
	while (pos < len) {
		size_t n = chunk == 0 || chunk > len - pos ? len - pos : chunk;
		size_t used = 0;
		struct smtpp_line line;
		int rc = smtpp_line(&lp, in + pos, n, &used, &line);

		FZ_CHECK(used <= n);
		pos += used;
		if (rc == 0) {
			FZ_CHECK(used == n);
			continue;
		}
		FZ_CHECK(rc == 1 || rc == -EMSGSIZE);
		FZ_CHECK(used > 0 && in[pos - 1] == '\n');
		FZ_CHECK(line.len + 2 <= cap && line.ptr[line.len] == '\0');
		FZ_CHECK(memchr(line.ptr, '\n', line.len) == NULL);
		ev[nev++] = (struct fz_event){rc, pos, line.len, line.flags,
					      fz_hash(line.ptr, line.len)};
		if (check && rc == 1)
			fz_check_command(line.ptr, line.len, line.flags);
	}
	smtpp_line_fini(&lp);
	return nev;
}

static void
fz_xtext(const char *in, size_t len)
{
	size_t cap = 3 * len + 1, n, m;
	char *enc = malloc(cap), *dec = malloc(len + 1);

	FZ_CHECK(enc != NULL && dec != NULL);
	/* Anything encodes, and decodes back. */
	FZ_CHECK(smtpp_xtext_encode(in, len, enc, cap, &n) == 0);
	FZ_CHECK(smtpp_xtext_decode(enc, n, dec, len + 1, &m) == 0);
	FZ_CHECK(m == len && memcmp(dec, in, len) == 0);
	/* Valid xtext decodes to something that encodes canonically. */
	if (smtpp_xtext_decode(in, len, dec, len + 1, &m) == 0) {
		FZ_CHECK(m <= len);
		FZ_CHECK(smtpp_xtext_encode(dec, m, enc, cap, &n) == 0);
		FZ_CHECK(n <= 3 * m);
	}
	free(enc);
	free(dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = {512, 513, 1024, 4096};
	const char *in = (const char *)data + 1;
	struct fz_event *a, *b;
	size_t len, cap, chunk, na, nb;

	if (size < 1)
		return 0;
	len = size - 1;
	chunk = (size_t)(data[0] & 7) + 1;
	cap = caps[(data[0] >> 3) & 3];
	a = malloc((len + 1) * sizeof(*a));
	b = malloc((len + 1) * sizeof(*b));
	FZ_CHECK(a != NULL && b != NULL);
	na = fz_frame(cap, in, len, 0, a, true);
	nb = fz_frame(cap, in, len, chunk, b, false);
	FZ_CHECK(na == nb);
	for (size_t i = 0; i < na; i++)
		FZ_CHECK(a[i].rc == b[i].rc && a[i].end == b[i].end &&
			 a[i].len == b[i].len && a[i].flags == b[i].flags &&
			 a[i].hash == b[i].hash);
	/* The stream as one line too (commands without framing). */
	fz_check_command(in, len, memchr(in, 0, len) ? SMTPP_LINE_F_NUL : 0);
	fz_xtext(in, len);
	free(a);
	free(b);
	return 0;
}
