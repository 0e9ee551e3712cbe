test_smtp_data_SRCS := src/smtp_data.c src/compat.c tests/unit/sdata_fixture.c
