/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c: bytes -> config_load_buf().
 *
 * Must never crash or leak.  Checks the contract as it goes: success means
 * a config and no errors, failure means no config and at least one error
 * naming the input; every configured domain and binding is found by its
 * own name; and a successful load dumps (CONFIG_DUMP_BARE) to text that
 * loads back and dumps to the same text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_int.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_config_dump(const struct config *cfg, char **buf_r, size_t *len_r)
{
	FILE *f = open_memstream(buf_r, len_r);

	if (f == NULL)
		abort();
	config_dump(cfg, f, CONFIG_DUMP_BARE);
	if (fclose(f) != 0)
		abort();
}

/* True if every line of s fits the reader's limit (CONFIG_LINE_MAX). */
static int
fuzz_config_lines_fit(const char *s)
{
	while (*s != '\0') {
		size_t n = strcspn(s, "\n");

		if (n > CONFIG_LINE_MAX)
			return 0;
		s += n + (s[n] == '\n');
	}
	return 1;
}

static void
fuzz_config_check(const struct config *cfg)
{
	const struct domain_policy *d = NULL;
	const struct config_binding *b = NULL;
	struct config_err_list errs;
	struct config *again;
	char *one = NULL, *two = NULL;
	size_t n1 = 0, n2 = 0;

	while ((d = config_domain_next(cfg, d)) != NULL)
		if (config_domain(cfg, d->name) != d)
			abort();
	while ((b = config_binding_next(cfg, b)) != NULL)
		if (config_binding(cfg, b->name) != b)
			abort();
	if (config_binding(cfg, "default") == NULL)
		abort();
	fuzz_config_dump(cfg, &one, &n1);
	if (fuzz_config_lines_fit(one)) {
		config_err_list_init(&errs);
		if (config_load_buf("dump", one, n1, &again, &errs) != 0) {
			fprintf(stderr, "dump does not load: %s\n%s\n",
				errs.n ? errs.v[0] : "?", one);
			abort();
		}
		fuzz_config_dump(again, &two, &n2);
		if (strcmp(strchr(one, '\n'), strchr(two, '\n')) != 0) {
			fprintf(stderr, "dump differs:\n%s\n---\n%s\n", one,
				two);
			abort();
		}
		free(two);
		config_free(again);
		config_err_list_fini(&errs);
	}
	free(one);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_err_list errs;
	struct config *cfg = NULL;
	int rc;

	if (size > 65536)
		return 0;
	log_set_level(LOG_ERR);
	config_err_list_init(&errs);
	rc = config_load_buf("fuzz", (const char *)data, size, &cfg, &errs);
	if ((rc == 0) != (cfg != NULL) || (rc == 0) != (errs.n == 0))
		abort();
	for (size_t i = 0; i < errs.n; i++)
		if (strncmp(errs.v[i], "fuzz:", 5) != 0)
			abort();
	if (cfg != NULL)
		fuzz_config_check(cfg);
	config_free(cfg);
	config_err_list_fini(&errs);
	return 0;
}
