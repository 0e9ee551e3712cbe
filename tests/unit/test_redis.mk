test_redis_SRCS := store/redis.c store/redis_conn.c store/redis_util.c uring/ring.c uring/ring_task.c uring/timer.c \
	uring/fdpoll.c src/log.c src/compat.c \
	tests/unit/redis_fixture.c tests/unit/ring_fixture.c
