fuzz_bounce_SRCS := src/bounce.c src/compat.c
