test_domain_SRCS := src/domain.c src/value.c src/value_net.c uring/timer.c src/compat.c src/log.c
