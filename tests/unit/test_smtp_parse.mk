test_smtp_parse_SRCS := src/smtp_parse.c src/compat.c
