test_smtp_server_SRCS := src/smtp_server.c src/smtp_server_cmd.c src/smtp_server_out.c src/smtp_server_io.c \
	src/smtp_server_tls.c src/tls.c src/tls_ctx.c src/tls_cache.c \
	src/smtp_parse.c src/smtp_path.c src/smtp_data.c uring/ring.c uring/ring_task.c uring/timer.c \
	src/log.c src/compat.c tests/unit/smtps_fixture.c tests/unit/ring_fixture.c \
	tests/unit/tst_fixture.c
