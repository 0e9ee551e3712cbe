test_result_text_SRCS := src/smtp_client_result.c src/compat.c src/log.c
