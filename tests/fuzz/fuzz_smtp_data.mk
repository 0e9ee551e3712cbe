fuzz_smtp_data_SRCS := src/smtp_data.c src/compat.c
