test_dns_servers_SRCS := src/dns.c src/dns_sock.c src/dns_cache.c src/dns_req.c src/dns_mx.c src/dns_rcode.c \
	uring/ring.c uring/ring_task.c uring/timer.c uring/fdpoll.c src/log.c src/compat.c
