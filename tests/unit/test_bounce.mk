test_bounce_SRCS := src/bounce.c src/bounce_mime.c src/compat.c tests/unit/bounce_fixture.c
