test_ringsink_script_SRCS := tools/ringsink_script.c tools/ringsink_script_eval.c src/log.c src/compat.c
