# The same real listener over a real spool as test_listener_hints
# (listener_fixture.c); recursive so the include order does not matter.
test_listener_prefix_SRCS = $(test_listener_hints_SRCS)
