test_smtp_parse_SRCS := src/smtp_parse.c src/smtp_path.c src/compat.c
