test_record_SRCS := store/record.c store/record_dec.c store/crc32c.c src/compat.c tests/unit/record_fixture.c
