/* SPDX-License-Identifier: MIT */
/*
 * fsutil.h: start-up file-system helpers (blocking: never call them from
 * the loop).
 */
#ifndef RINGMTA_FSUTIL_H
#define RINGMTA_FSUTIL_H

#include <sys/types.h>

#include "compat.h"

/* mkdir -p dir (every missing component, with mode).  0 or -errno. */
int fsutil_mkdirs(const char *dir, mode_t mode) ATTR_WUR;
/* mkdir -p of the directory part of a file path.  0 or -errno. */
int fsutil_mkdirs_for(const char *file, mode_t mode) ATTR_WUR;

#endif
