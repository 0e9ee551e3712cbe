fuzz_rkey_SRCS := store/rstate_ctl.c store/redis_util.c src/value.c \
	src/value_net.c src/log.c src/compat.c
