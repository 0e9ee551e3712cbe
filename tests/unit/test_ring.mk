test_ring_SRCS := uring/ring.c uring/ring_task.c uring/timer.c uring/fdpoll.c src/log.c src/compat.c
