test_value_SRCS := src/value.c src/value_net.c src/compat.c src/log.c
