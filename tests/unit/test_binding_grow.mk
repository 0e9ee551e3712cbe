test_binding_grow_SRCS := src/binding.c src/binding_move.c src/domain.c \
	src/config.c src/config_check.c src/config_keys.c src/config_dump.c src/value.c \
	src/value_net.c uring/ring.c uring/ring_task.c uring/timer.c src/compat.c src/log.c
