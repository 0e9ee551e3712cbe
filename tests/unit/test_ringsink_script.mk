test_ringsink_script_SRCS := tools/ringsink_script.c src/log.c src/compat.c
