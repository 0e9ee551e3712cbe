/* SPDX-License-Identifier: MIT */
/*
 * log.h: the operator log on stderr (systemd style, one line per event).
 *
 * Lines look like "2026-11-25T02:51:31.123Z ringmta[42]: warn: text".
 * The text is sanitised: control bytes and bytes >= 0x7f become "\xNN", so
 * peer-supplied text can never forge a log line.  The delivery log (JSON
 * lines) is a separate writer (jsonw.h).  Not thread-safe; ringmta has one
 * thread.
 */
#ifndef RINGMTA_LOG_H
#define RINGMTA_LOG_H

#include <stdarg.h>

#include "compat.h"

enum log_level {
	LOG_ERR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
	LOG__COUNT /* must stay last */
};

/* Set the program name shown on every line (not copied: keep it alive). */
void log_init(const char *progname);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "err|warn|info|debug|trace"; returns the level or -EINVAL. */
int log_level_parse(const char *s);
const char *log_level_str(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) ATTR_FMT(2, 3);
void log_vmsg(enum log_level level, const char *fmt, va_list ap) ATTR_FMT(2, 0);

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...)                                                         \
	do {                                                                   \
		if (unlikely(log_get_level() >= LOG_TRACE))                    \
			log_msg(LOG_TRACE, __VA_ARGS__);                       \
	} while (0)

/* Log at LOG_ERR and exit(status). For start-up failures only. */
ATTR_NORETURN void log_fatal(int status, const char *fmt, ...) ATTR_FMT(2, 3);

#endif
