test_log_SRCS := src/log.c src/compat.c
