/* SPDX-License-Identifier: MIT */
/*
 * config_fixture.h: what the config tests share (test_config.c,
 * test_config_errors.c): a private temporary directory made by the group
 * setup, loading a text from a file in it, and loading a text that must
 * fail with exactly the given "file:line: reason" errors.  Test code only:
 * it asserts.
 */
#ifndef RINGMTA_CONFIG_FIXTURE_H
#define RINGMTA_CONFIG_FIXTURE_H

#include <stddef.h>

#include "config.h"

/* /tmp/test_config.XXXXXX and DIR/t.ini, made by cfx_setup(). */
extern char cfx_dir[64];
extern char cfx_path[128];

/* cmocka group setup/teardown: make and remove cfx_dir (errors only are
 * logged). */
int cfx_setup(void **state);
int cfx_teardown(void **state);
/* Write text[0..len) to cfx_path and config_load() it; errs is
 * initialised here.  Returns config_load()'s result. */
int cfx_load_file(const char *text, size_t len, struct config **cfg,
		  struct config_err_list *errs);
/* Load text from cfx_path; it must load without an error.  The caller
 * frees the config. */
struct config *cfx_load_ok(const char *text);
/* Load text as "t.ini" and compare the errors with want (NULL-ended). */
void cfx_expect_errors_buf(const char *text, size_t len,
			   const char *const *want);
/* The same for a C string and exactly one error. */
void cfx_expect_error(const char *text, const char *want);

#endif
