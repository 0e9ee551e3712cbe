/* SPDX-License-Identifier: MIT */
/*
 * config_fixture.c: the config tests' temporary directory and loaders
 * (config_fixture.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

char cfx_dir[64];
char cfx_path[128];

/* See config_fixture.h. */
int
cfx_setup(void **state)
{
	(void)state;
	snprintf(cfx_dir, sizeof(cfx_dir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(cfx_dir) == NULL)
		return -1;
	snprintf(cfx_path, sizeof(cfx_path), "%s/t.ini", cfx_dir);
	log_set_level(LOG_ERR);
	return 0;
}

/* See config_fixture.h. */
int
cfx_teardown(void **state)
{
	(void)state;
	unlink(cfx_path);
	rmdir(cfx_dir);
	return 0;
}

/* See config_fixture.h. */
int
cfx_load_file(const char *text, size_t len, struct config **cfg,
	      struct config_err_list *errs)
{
	FILE *f = fopen(cfx_path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	config_err_list_init(errs);
	return config_load(cfx_path, cfg, errs);
}

/* See config_fixture.h. */
struct config *
cfx_load_ok(const char *text)
{
	struct config_err_list errs;
	struct config *cfg = NULL;
	int rc = cfx_load_file(text, strlen(text), &cfg, &errs);

	for (size_t i = 0; i < errs.n; i++)
		print_error("unexpected: %s\n", errs.v[i]);
	assert_int_equal(rc, 0);
	assert_int_equal(errs.n, 0);
	assert_non_null(cfg);
	config_err_list_fini(&errs);
	return cfg;
}

/* See config_fixture.h. */
void
cfx_expect_errors_buf(const char *text, size_t len, const char *const *want)
{
	struct config_err_list errs;
	struct config *cfg = (struct config *)1;
	size_t n = 0;
	int rc;

	config_err_list_init(&errs);
	rc = config_load_buf("t.ini", text, len, &cfg, &errs);
	while (want[n] != NULL)
		n++;
	for (size_t i = 0; i < errs.n; i++)
		print_message("got: %s\n", errs.v[i]);
	assert_int_equal(rc, -EINVAL);
	assert_null(cfg);
	assert_int_equal(errs.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(errs.v[i], want[i]);
	config_err_list_fini(&errs);
	assert_int_equal(errs.n, 0);
}

/* See config_fixture.h. */
void
cfx_expect_error(const char *text, const char *want)
{
	const char *w[] = {want, NULL};

	cfx_expect_errors_buf(text, strlen(text), w);
}
