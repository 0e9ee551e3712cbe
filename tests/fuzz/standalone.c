/* SPDX-License-Identifier: MIT */
/*
 * standalone.c: a main() for libFuzzer targets built without libFuzzer.
 *
 * make check builds every tests/fuzz/fuzz_*.c with gcc and ASan/UBSan and
 * this driver, and runs it over the target's corpus: each file (or each file
 * of each directory argument) is fed once to LLVMFuzzerTestOneInput.  Prints
 * a cmocka-style summary so tests/run.sh can count it.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
standalone_run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf == NULL ||
	    (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	int files = 0, errors = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			errors++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			errors += standalone_run_file(argv[i]) != 0;
			files++;
			continue;
		}
		d = opendir(argv[i]);
		while (d != NULL && (de = readdir(d)) != NULL) {
			char p[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
			errors += standalone_run_file(p) != 0;
			files++;
		}
		if (d != NULL)
			closedir(d);
	}
	/* Also the empty input: every target must survive it. */
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	printf("[==========] %d corpus file(s) run.\n", files + 1);
	if (errors) {
		printf("[  FAILED  ] 1 test(s), listed below:\n");
		printf("[  FAILED  ] unreadable corpus files: %d\n", errors);
		return 1;
	}
	printf("[  PASSED  ] %d test(s).\n", files + 1);
	return 0;
}
