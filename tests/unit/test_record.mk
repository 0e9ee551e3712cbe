test_record_SRCS := store/record.c store/crc32c.c src/compat.c
