# The routing context from dlv_fixture.c over the whole core, with
# control.c attached to an rstate (its Redis never reachable).
test_control_queue_SRCS := $(CORE_SRCS) tests/unit/dlv_fixture.c tests/unit/ring_fixture.c
