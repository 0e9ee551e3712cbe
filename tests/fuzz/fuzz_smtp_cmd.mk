fuzz_smtp_cmd_SRCS := src/smtp_cmd.c src/smtp_parse.c src/smtp_path.c src/compat.c src/log.c
