test_value_SRCS := src/value.c src/compat.c src/log.c
