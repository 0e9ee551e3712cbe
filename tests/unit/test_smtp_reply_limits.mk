test_smtp_reply_limits_SRCS := src/smtp_reply.c src/compat.c src/log.c tests/unit/reply_fixture.c
