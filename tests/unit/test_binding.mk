test_binding_SRCS := src/binding.c src/config.c src/config_keys.c src/config_dump.c src/value.c src/value_net.c src/compat.c src/log.c
