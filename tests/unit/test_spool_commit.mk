test_spool_commit_SRCS := store/spool.c store/spool_index.c store/spool_txn.c \
	store/spool_commit.c store/spool_seg.c store/spool_replay.c store/spool_stream.c \
	store/record.c store/record_dec.c store/crc32c.c uring/ring.c uring/ring_task.c \
	uring/timer.c src/log.c src/compat.c src/fsutil.c \
	tests/unit/spool_fixture.c tests/unit/ring_fixture.c
