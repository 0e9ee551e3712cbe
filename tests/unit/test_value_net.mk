test_value_net_SRCS := src/value.c src/value_net.c src/compat.c src/log.c
