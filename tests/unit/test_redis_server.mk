test_redis_server_SRCS := store/redis_server.c src/log.c src/compat.c
