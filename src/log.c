/* SPDX-License-Identifier: MIT */
/*
 * log.c: operator log lines on stderr.  Each line is formatted into one
 * buffer and written with one write(2), so lines from a crash-restart or a
 * child process never interleave mid-line.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_progname = "ringmta";
static enum log_level log_level = LOG_INFO;

static const char *const log_level_names[] = {
    [LOG_ERR] = "error",   [LOG_WARN] = "warn",   [LOG_INFO] = "info",
    [LOG_DEBUG] = "debug", [LOG_TRACE] = "trace",
};
_Static_assert(nitems(log_level_names) == LOG__COUNT, "log level names");

void
log_init(const char *progname)
{
	log_progname = progname;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

const char *
log_level_str(enum log_level level)
{
	if ((unsigned)level >= LOG__COUNT)
		return "?";
	return log_level_names[level];
}

int
log_level_parse(const char *s)
{
	for (int i = 0; i < LOG__COUNT; i++)
		if (strcmp(s, log_level_names[i]) == 0)
			return i;
	if (strcmp(s, "err") == 0)
		return LOG_ERR;
	return -EINVAL;
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char raw[2048], line[4096];
	struct timespec ts;
	struct tm tm;
	size_t n, o;

	if (level > log_level)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	o = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	o +=
	    (size_t)snprintf(line + o, sizeof(line) - o,
			     ".%03ldZ %s[%d]: %s: ", ts.tv_nsec / 1000000,
			     log_progname, (int)getpid(), log_level_str(level));
	for (n = 0; raw[n] != '\0' && o + 5 < sizeof(line); n++) {
		unsigned char c = (unsigned char)raw[n];

		if (c < 0x20 || c >= 0x7f || c == '\\') {
			if (c == '\\')
				o += (size_t)snprintf(line + o,
						      sizeof(line) - o, "\\\\");
			else
				o += (size_t)snprintf(
				    line + o, sizeof(line) - o, "\\x%02x", c);
		} else {
			line[o++] = (char)c;
		}
	}
	line[o++] = '\n';
	if (write(2, line, o) < 0) {
		/* stderr gone: nowhere left to report it */
	}
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
log_fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(status);
}
