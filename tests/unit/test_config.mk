test_config_SRCS := src/config.c src/config_check.c src/config_keys.c src/config_dump.c src/value.c src/value_net.c src/compat.c src/log.c tests/unit/config_fixture.c
