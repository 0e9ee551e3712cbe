test_tls_SRCS := src/tls.c src/tls_ctx.c src/tls_cache.c src/compat.c \
	tests/unit/tls_pair.c
