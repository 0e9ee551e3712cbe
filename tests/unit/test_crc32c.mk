test_crc32c_SRCS := store/crc32c.c
