# The routing context from dlv_fixture.c over the whole core.
test_connection_SRCS := $(CORE_SRCS) tests/unit/dlv_fixture.c tests/unit/ring_fixture.c
