test_backoff_SRCS := src/backoff.c src/compat.c src/log.c
