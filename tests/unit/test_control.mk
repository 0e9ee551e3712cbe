test_control_SRCS := src/control_ovr.c src/config.c src/config_check.c src/config_keys.c \
	src/config_dump.c src/value.c src/value_net.c src/log.c src/compat.c
