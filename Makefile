# ringmta build.
#
#   make            build/ringmta build/ringctl build/ringsink (optimised)
#   make check      deps, ASan/UBSan build, every unit and integration test
#   make demo       deps, build, the end-to-end demonstration
#   make bench      deps, build, benchmarks -> docs/BENCHMARKS.md
#   make fuzz       clang libFuzzer targets, FUZZ_SECONDS each
#   make format / make check-format
#
# BUILD selects the output directory (default build/), so that several
# builds can share one tree.  Unit tests list the sources they link in
# tests/unit/test_NAME.mk (test_NAME_SRCS := ...); a test without one links
# the whole core library.

BUILD ?= build
CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

WARN := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
	-Wimplicit-fallthrough
CPPFLAGS := -Isrc -Iuring -Istore -Itests/fakes -D_FILE_OFFSET_BITS=64
OPT_REL := -O2 -g
OPT_ASAN := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
LIBS := -luring -lwolfssl -lcares -lhiredis -linih -lidn2 -lm

# Core: everything but the daemon's main().
CORE_SRCS := $(filter-out src/main.c,$(wildcard src/*.c)) \
	$(wildcard uring/*.c) $(wildcard store/*.c)
RINGSINK_SRCS := $(wildcard tools/ringsink*.c)
RINGCTL_SRCS := $(wildcard tools/ringctl*.c)
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

-include $(wildcard tests/unit/*.mk)
-include $(wildcard tests/fuzz/*.mk)

# Two variants share these rules: rel (optimised) and asan (sanitized).
REL := $(BUILD)
ASAN := $(BUILD)/asan
obj = $(patsubst %.c,$(1)/obj/%.o,$(2))

.PHONY: all deps check unit integration demo bench fuzz format check-format \
	clean install
all: $(REL)/ringmta $(REL)/ringctl $(REL)/ringsink

deps:
	@tools/deps.sh

$(REL)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(OPT_REL) -MMD -MP -c -o $@ $<
$(ASAN)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(OPT_ASAN) -MMD -MP -c -o $@ $<

$(REL)/libcore.a: $(call obj,$(REL),$(CORE_SRCS))
	@rm -f $@
	ar rcs $@ $^
$(ASAN)/libcore.a: $(call obj,$(ASAN),$(CORE_SRCS))
	@rm -f $@
	ar rcs $@ $^

$(REL)/ringmta: $(call obj,$(REL),src/main.c) $(REL)/libcore.a
	$(CC) $(OPT_REL) -o $@ $^ $(LIBS)
$(REL)/ringsink: $(call obj,$(REL),$(RINGSINK_SRCS)) $(REL)/libcore.a
	$(CC) $(OPT_REL) -o $@ $^ $(LIBS)
$(REL)/ringctl: $(call obj,$(REL),$(RINGCTL_SRCS)) $(REL)/libcore.a
	$(CC) $(OPT_REL) -o $@ $^ $(LIBS)
$(ASAN)/ringmta: $(call obj,$(ASAN),src/main.c) $(ASAN)/libcore.a
	$(CC) $(OPT_ASAN) -o $@ $^ $(LIBS)
$(ASAN)/ringsink: $(call obj,$(ASAN),$(RINGSINK_SRCS)) $(ASAN)/libcore.a
	$(CC) $(OPT_ASAN) -o $@ $^ $(LIBS)
$(ASAN)/ringctl: $(call obj,$(ASAN),$(RINGCTL_SRCS)) $(ASAN)/libcore.a
	$(CC) $(OPT_ASAN) -o $@ $^ $(LIBS)

# Unit tests: tests/unit/test_X.c plus $(test_X_SRCS) when the test names
# them (its .mk file), else the whole core library.
.SECONDARY:
.SECONDEXPANSION:
$(ASAN)/tests/test_%: $(ASAN)/obj/tests/unit/test_%.o \
		$$(if $$(test_$$*_SRCS),$$(call obj,$(ASAN),$$(test_$$*_SRCS)),$(ASAN)/libcore.a)
	@mkdir -p $(dir $@)
	$(CC) $(OPT_ASAN) -o $@ $^ $(test_$*_LDFLAGS) $(LIBS) -lcmocka

# Fuzz targets double as corpus-regression programs in make check: built
# with gcc and a small main() that feeds every file of the corpus.
$(ASAN)/fuzz/fuzz_%: $(ASAN)/obj/tests/fuzz/fuzz_%.o \
		$(ASAN)/obj/tests/fuzz/standalone.o \
		$$(call obj,$(ASAN),$$(fuzz_$$*_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(OPT_ASAN) -o $@ $^ $(LIBS)

ASAN_BINS := $(ASAN)/ringmta $(ASAN)/ringctl $(ASAN)/ringsink \
	$(patsubst %,$(ASAN)/tests/%,$(UNIT_TESTS)) \
	$(patsubst %,$(ASAN)/fuzz/%,$(FUZZ_TARGETS))

check: deps
	@$(MAKE) --no-print-directory check-format
	@$(MAKE) --no-print-directory $(ASAN_BINS)
	@BUILD=$(BUILD) tests/run.sh $(UNIT_TESTS) -- $(FUZZ_TARGETS)

# Unit tests only (fast inner loop): make unit T=test_config
unit: $(patsubst %,$(ASAN)/tests/%,$(or $(T),$(UNIT_TESTS)))
	@BUILD=$(BUILD) tests/run.sh --unit-only $(or $(T),$(UNIT_TESTS)) --

integration: deps
	@$(MAKE) --no-print-directory $(ASAN)/ringmta $(ASAN)/ringctl $(ASAN)/ringsink
	@BUILD=$(BUILD) tests/run.sh --integration-only --

demo: deps all
	@BUILD=$(BUILD) tools/demo.sh

bench: deps all
	@tools/deps.sh bench
	@BUILD=$(BUILD) tools/bench.sh

FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
fuzz:
	@tools/deps.sh fuzz
	@mkdir -p $(BUILD)/fuzz-clang
	@set -e; for t in $(FUZZ_TARGETS); do \
	  srcs=$$($(MAKE) --no-print-directory -s print-fuzz-srcs T=$$t); \
	  echo "fuzz: building $$t"; \
	  clang $(FUZZ_CFLAGS) $(CPPFLAGS) -o $(BUILD)/fuzz-clang/$$t \
	    tests/fuzz/$$t.c $$srcs $(LIBS); \
	done
	@set -e; for t in $(FUZZ_TARGETS); do \
	  d=tests/fuzz/corpus/$${t#fuzz_}; mkdir -p $$d $(BUILD)/fuzz-clang/new-$$t; \
	  dict=; [ -f tests/fuzz/$${t#fuzz_}.dict ] && dict=-dict=tests/fuzz/$${t#fuzz_}.dict; \
	  echo "fuzz: running $$t for $(FUZZ_SECONDS)s"; \
	  $(BUILD)/fuzz-clang/$$t -max_total_time=$(FUZZ_SECONDS) $$dict \
	    -artifact_prefix=$(BUILD)/fuzz-clang/ $(BUILD)/fuzz-clang/new-$$t $$d; \
	done
print-fuzz-srcs:
	@echo $(fuzz_$(T:fuzz_%=%)_SRCS)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
	find src uring store tools tests -name '*.[ch]')
format:
	clang-format -i $(FORMAT_FILES)
check-format:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && \
	  echo "check-format: $(words $(FORMAT_FILES)) files clean"

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(REL)/ringmta $(DESTDIR)$(PREFIX)/sbin/ringmta
	install -m 755 $(REL)/ringctl $(DESTDIR)$(PREFIX)/bin/ringctl
	install -m 755 $(REL)/ringsink $(DESTDIR)$(PREFIX)/bin/ringsink

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
