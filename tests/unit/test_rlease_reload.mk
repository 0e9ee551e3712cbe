test_rlease_reload_SRCS := store/rlease.c store/rlease_node.c store/rlease_msg.c store/redis.c store/redis_conn.c store/redis_util.c \
	src/domain.c src/value.c src/value_net.c uring/ring.c uring/ring_task.c uring/timer.c \
	uring/fdpoll.c src/log.c src/compat.c \
	tests/unit/redis_fixture.c tests/unit/ring_fixture.c
