test_rstate_SRCS := store/rstate.c store/rstate_ctl.c store/rstate_ovr.c store/rstate_loss.c store/redis.c store/redis_conn.c store/redis_util.c \
	store/redis_server.c src/domain.c src/binding.c src/config.c src/config_check.c \
	src/config_keys.c src/config_dump.c src/value.c src/value_net.c \
	src/fsutil.c uring/ring.c uring/ring_task.c uring/timer.c uring/fdpoll.c src/log.c \
	src/compat.c \
	tests/unit/redis_fixture.c tests/unit/ring_fixture.c tests/unit/rstate_fixture.c
