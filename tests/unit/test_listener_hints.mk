test_listener_hints_SRCS := store/spool.c store/spool_index.c store/spool_txn.c \
	store/spool_commit.c store/spool_seg.c store/spool_replay.c store/spool_stream.c \
	store/record.c store/record_dec.c store/crc32c.c uring/ring.c uring/ring_task.c \
	uring/timer.c src/log.c src/compat.c \
	src/listener.c src/listener_hdr.c src/config.c src/config_check.c src/config_keys.c src/config_dump.c \
	src/value.c src/value_net.c src/dlogw.c src/dlog.c src/jsonw.c \
	src/fsutil.c src/smtp_server.c src/smtp_server_cmd.c \
	src/smtp_server_out.c src/smtp_server_io.c src/smtp_server_tls.c src/tls.c src/tls_ctx.c \
	src/tls_cache.c src/smtp_parse.c src/smtp_path.c src/smtp_data.c \
	tests/unit/spool_fixture.c tests/unit/ring_fixture.c \
	tests/unit/listener_fixture.c
