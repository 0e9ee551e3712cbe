/* SPDX-License-Identifier: MIT */
/* fuzz_smtp_cmd: smtpcmd_* never emits a CR, LF or NUL except the final
 * CRLF, never passes its cap, and keeps the address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "smtp_cmd.h"

static void
check(const char *buf, size_t len, size_t cap)
{
	if (len < 2 || len > cap || buf[len - 2] != '\r' ||
	    buf[len - 1] != '\n')
		abort();
	for (size_t i = 0; i + 2 < len; i++)
		if (buf[i] == '\r' || buf[i] == '\n' || buf[i] == '\0')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char f[4][1200], buf[SMTPCMD_BUF_MAX];
	size_t len, k = 0, o = 0;
	uint8_t fl;

	if (size < 2)
		return 0;
	fl = data[0];
	memset(f, 0, sizeof(f));
	for (size_t i = 1; i < size && k < 4; i++) {
		if (data[i] == 0x01) {
			k++;
			o = 0;
			continue;
		}
		if (o < sizeof(f[0]) - 1)
			f[k][o++] = (char)data[i];
	}
	struct smtpcmd_mail m = {.from = f[0],
				 .size = fl & 1 ? 12345 : 0,
				 .body = (fl >> 1) % 3,
				 .smtputf8 = fl & 8,
				 .ret = (fl >> 4) % 3,
				 .envid = fl & 64 ? f[1] : NULL};
	if (smtpcmd_mail(buf, sizeof(buf), &m, &len) == 0) {
		check(buf, len, SMTPCMD_MAIL_MAX);
		if (!memmem(buf, len, f[0], strlen(f[0])))
			abort();
	}
	struct smtpcmd_rcpt r = {.to = f[2],
				 .utf8 = fl & 8,
				 .notify = fl >> 4,
				 .orcpt = fl & 128 ? f[3] : NULL};
	if (smtpcmd_rcpt(buf, sizeof(buf), &r, &len) == 0) {
		check(buf, len, SMTPCMD_RCPT_MAX);
		if (!memmem(buf, len, f[2], strlen(f[2])))
			abort();
	}
	if (smtpcmd_helo(buf, sizeof(buf), fl & 1, f[3], &len) == 0)
		check(buf, len, SMTPCMD_LINE_MAX);
	return 0;
}
