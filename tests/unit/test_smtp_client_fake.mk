test_smtp_client_fake_SRCS := src/smtp_client.c src/smtp_client_txn.c \
	src/smtp_client_io.c src/smtp_client_tls.c \
	src/smtp_client_result.c src/smtp_cmd.c src/smtp_parse.c src/smtp_path.c \
	src/smtp_reply.c src/smtp_data.c src/tls.c src/tls_ctx.c src/tls_cache.c tests/fakes/fake_ring.c uring/ring_task.c \
	uring/timer.c src/log.c src/compat.c tests/unit/smtpc_fake_fixture.c
