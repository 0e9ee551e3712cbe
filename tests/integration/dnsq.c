/* SPDX-License-Identifier: MIT */
/*
 * dnsq.c: test driver for src/dns.c on a real ring with real c-ares.
 *
 *   dnsq [--server IP:PORT]... [--timeout MS] [--tries N] [--seed N]
 *        [--max-mx N] [--max-addr N] [--cache N] [--repeat N]
 *        [--family any|4|6] QUERY...
 *
 * QUERY is "mx:DOMAIN" or "host:NAME:PORT" (NAME may be an IP literal).
 * Each round starts every query at once and waits for all of them; each
 * result is printed as one JSON line, and a last line has the stats.
 * Exit 0, 2 on usage errors, 77 when io_uring is unavailable.  Built and
 * run by tests/integration/test_dns.sh; never part of the daemon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "ring.h"

#define DNSQ_MAX 64

struct dnsq_job {
	const char *spec;
	int64_t start;
	bool done;
};

static struct ring *dnsq_ring;
static unsigned dnsq_pending;

static void
dnsq_json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void
dnsq_print_addr(const struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN];
	unsigned port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		port = ntohs(sin6->sin6_port);
	}
	printf("{\"ip\":\"%s\",\"port\":%u}", buf, port);
}

static void
dnsq_on_result(void *arg, struct dns_mx_result *res)
{
	struct dnsq_job *j = arg;

	printf("{\"query\":");
	dnsq_json_str(j->spec);
	printf(",\"domain\":");
	dnsq_json_str(res->domain);
	printf(",\"status\":\"%s\",\"reason\":\"%s\",\"permanent\":%s",
	       dns_status_str(res->status), dns_reason_str(res->reason),
	       dns_status_permanent(res->status) ? "true" : "false");
	printf(",\"implicit_mx\":%s,\"skipped\":%u,\"truncated\":%u",
	       res->implicit_mx ? "true" : "false", res->skipped,
	       res->truncated);
	printf(",\"ttl_ms\":%llu,\"ms\":%lld,\"hosts\":[",
	       (unsigned long long)res->ttl_ms,
	       (long long)((ring_now(dnsq_ring) - j->start) / 1000000));
	for (size_t i = 0; i < res->nhosts; i++) {
		const struct dns_host *h = &res->hosts[i];

		printf("%s{\"name\":", i ? "," : "");
		dnsq_json_str(h->name);
		printf(",\"pref\":%u,\"status\":\"%s\",\"reason\":\"%s\","
		       "\"addrs\":[",
		       h->pref, dns_host_status_str(h->status),
		       dns_reason_str(h->reason));
		for (size_t k = 0; k < h->naddrs; k++) {
			if (k)
				putchar(',');
			dnsq_print_addr(&h->addrs[k]);
		}
		printf("]}");
	}
	printf("]}\n");
	fflush(stdout);
	dns_mx_result_free(res);
	j->done = true;
	dnsq_pending--;
}

/* "1.2.3.4:53" or "[::1]:53" */
static int
dnsq_server(const char *s, struct value_sockaddr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon = strrchr(s, ':');
	size_t len;
	long port;

	memset(out, 0, sizeof(*out));
	if (colon == NULL)
		return -EINVAL;
	port = strtol(colon + 1, NULL, 10);
	len = (size_t)(colon - s);
	if (s[0] == '[' && len >= 2 && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (port <= 0 || port > 65535 || len >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, len);
	host[len] = '\0';
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		out->len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	return 0;
}

static int
dnsq_start(struct dns *d, struct dnsq_job *j)
{
	char buf[512];
	char *colon;

	j->start = ring_now_update(dnsq_ring);
	j->done = false;
	dnsq_pending++;
	if (strncmp(j->spec, "mx:", 3) == 0)
		return dns_resolve_mx(d, j->spec + 3, dnsq_on_result, j, NULL);
	if (strncmp(j->spec, "host:", 5) != 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", j->spec + 5);
	colon = strrchr(buf, ':');
	if (colon == NULL)
		return -EINVAL;
	*colon = '\0';
	return dns_resolve_host(d, buf, (uint16_t)atoi(colon + 1),
				dnsq_on_result, j, NULL);
}

static void
dnsq_usage(void)
{
	fprintf(stderr, "usage: dnsq [--server IP:PORT]... [--timeout MS] "
			"[--tries N] [--seed N] [--max-mx N] [--max-addr N] "
			"[--cache N] [--repeat N] [--family any|4|6] "
			"mx:DOMAIN|host:NAME:PORT...\n");
	exit(2);
}

static void
dnsq_print_stats(const struct dns *d)
{
	const struct dns_stats *st = dns_stats(d);

	printf(
	    "{\"stats\":{\"lookups\":%llu,\"hits\":%llu,\"misses\":%llu,"
	    "\"coalesced\":%llu,\"queries\":%llu,\"failures\":%llu,"
	    "\"evictions\":%llu,\"entries\":%llu}}\n",
	    (unsigned long long)st->lookups, (unsigned long long)st->hits,
	    (unsigned long long)st->misses, (unsigned long long)st->coalesced,
	    (unsigned long long)st->queries, (unsigned long long)st->failures,
	    (unsigned long long)st->evictions, (unsigned long long)st->entries);
}

int
main(int argc, char **argv)
{
	static struct value_sockaddr servers[8];
	static struct dnsq_job jobs[DNSQ_MAX];
	struct dns_opts o;
	struct dns *d;
	size_t njobs = 0;
	unsigned repeat = 1;
	int err = 0, i;

	signal(SIGPIPE, SIG_IGN);
	dns_opts_init(&o);
	o.servers = servers;
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			dnsq_usage();
		if (!strcmp(k, "--server") && o.nservers < nitems(servers)) {
			if (dnsq_server(v, &servers[o.nservers++]) < 0)
				dnsq_usage();
		} else if (!strcmp(k, "--timeout")) {
			o.timeout_ms = (unsigned)atoi(v);
		} else if (!strcmp(k, "--tries")) {
			o.tries = (unsigned)atoi(v);
		} else if (!strcmp(k, "--seed")) {
			o.seed = strtoull(v, NULL, 10);
		} else if (!strcmp(k, "--max-mx")) {
			o.max_mx_hosts = (unsigned)atoi(v);
		} else if (!strcmp(k, "--max-addr")) {
			o.max_addresses = (unsigned)atoi(v);
		} else if (!strcmp(k, "--cache")) {
			o.cache_size = (unsigned)atoi(v);
		} else if (!strcmp(k, "--repeat")) {
			repeat = (unsigned)atoi(v);
		} else if (!strcmp(k, "--family")) {
			o.family = !strcmp(v, "4")   ? DNS_FAM_IPV4
				   : !strcmp(v, "6") ? DNS_FAM_IPV6
						     : DNS_FAM_ANY;
		} else {
			dnsq_usage();
		}
	}
	for (; i < argc && njobs < DNSQ_MAX; i++)
		jobs[njobs++].spec = argv[i];
	if (njobs == 0)
		dnsq_usage();
	dnsq_ring = ring_new(NULL, &err);
	if (dnsq_ring == NULL) {
		fprintf(stderr, "dnsq: no io_uring: %s\n", strerror(-err));
		return (err == -ENOSYS || err == -EPERM || err == -EINVAL) ? 77
									   : 1;
	}
	d = dns_new(dnsq_ring, &o, &err);
	if (d == NULL) {
		fprintf(stderr, "dnsq: dns_new: %s\n", strerror(-err));
		ring_free(dnsq_ring);
		return 1;
	}
	for (unsigned r = 0; r < repeat; r++) {
		for (size_t k = 0; k < njobs; k++)
			if (dnsq_start(d, &jobs[k]) < 0) {
				fprintf(stderr, "dnsq: bad query %s\n",
					jobs[k].spec);
				return 2;
			}
		while (dnsq_pending > 0)
			if (ring_run_once(dnsq_ring, -1) < 0)
				return 1;
	}
	dnsq_print_stats(d);
	dns_free(d);
	ring_shutdown(dnsq_ring, 1000);
	ring_free(dnsq_ring);
	return 0;
}
