test_redis_util_SRCS := store/redis_util.c src/compat.c src/log.c
