test_dlog_SRCS := src/dlog.c src/jsonw.c src/compat.c
