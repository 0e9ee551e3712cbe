test_smtp_path_SRCS := src/smtp_parse.c src/smtp_path.c src/compat.c
