fuzz_config_SRCS := src/config.c src/value.c src/compat.c src/log.c
