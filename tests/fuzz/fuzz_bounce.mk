fuzz_bounce_SRCS := src/bounce.c src/bounce_mime.c src/compat.c
