test_outcome_SRCS := src/outcome.c src/smtp_client_result.c src/dns_mx.c \
	src/compat.c src/log.c
