test_jsonw_SRCS := src/jsonw.c src/compat.c
