test_tls_SRCS := src/tls.c src/compat.c
