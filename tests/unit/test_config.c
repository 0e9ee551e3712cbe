/* SPDX-License-Identifier: MIT */
/*
 * test_config.c: INI loading, defaults, inheritance, normalisation, dump
 * round trip (every error class with its exact "file:line: reason":
 * test_config_errors.c).  Files are written to a private temporary
 * directory (config_fixture.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_fixture.h"
#include "log.h"

static const char *
sa_str(const struct value_sockaddr *sa, bool port)
{
	static char buf[VALUE_FMT_MAX];

	value_sockaddr_fmt((const struct sockaddr *)&sa->ss, port, buf,
			   sizeof(buf));
	return buf;
}

static const char *
cidr_str(const struct value_cidr_list *l)
{
	static char buf[512];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		char one[VALUE_FMT_MAX];

		value_cidr_fmt(&l->v[i], one, sizeof(one));
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
				      i ? ", " : "", one);
	}
	return buf;
}

static void
test_defaults(void **state)
{
	struct config *cfg = config_default();
	const struct domain_policy *d = &cfg->delivery.policy;
	const struct config_binding *b;
	char host[256] = "";

	(void)state;
	if (gethostname(host, sizeof(host) - 1) == 0 &&
	    value_hostname(host, NULL, 0) == 0)
		assert_string_equal(cfg->server.hostname, host);
	else
		assert_string_equal(cfg->server.hostname, "localhost");
	assert_string_equal(cfg->server.node_id, cfg->server.hostname);
	assert_string_equal(cfg->server.state_dir, "./var");
	assert_string_equal(cfg->server.delivery_log,
			    "./var/log/delivery.jsonl");
	assert_int_equal(cfg->server.log_level, LOG_INFO);
	assert_int_equal(cfg->listener.address.n, 1);
	assert_string_equal(sa_str(&cfg->listener.address.v[0], true),
			    "127.0.0.1:10025");
	assert_string_equal(cidr_str(&cfg->listener.relay_networks),
			    "127.0.0.0/8, ::1/128");
	assert_true(cfg->listener.max_message_size == 50u << 20);
	assert_int_equal(cfg->listener.max_recipients, 1000);
	assert_null(cfg->listener.binding);
	assert_true(cfg->listener.max_line_length == 4096);
	assert_int_equal(cfg->listener.max_errors, 20);
	assert_true(cfg->listener.idle_timeout_ms == 300000);
	assert_true(cfg->listener.session_timeout_ms == 1800000);
	assert_int_equal(cfg->listener.max_connections, 10000);
	assert_int_equal(cfg->listener.line_endings, CONFIG_LE_REJECT);
	assert_true(cfg->listener.add_message_id && cfg->listener.add_date);
	assert_int_equal(cfg->listener.tls, CONFIG_LTLS_NONE);
	assert_true(cfg->listener.banner_delay_ms == 0);
	assert_string_equal(cfg->spool.dir, "./var/spool");
	assert_true(cfg->spool.segment_size == 64u << 20);
	assert_true(cfg->spool.sync && !cfg->spool.unsafe_no_sync);
	assert_int_equal(cfg->spool.max_batch, 256);
	assert_true(cfg->spool.commit_delay_ms == 2);
	assert_true(cfg->spool.min_free_space.bytes == 1u << 30);
	assert_int_equal(cfg->spool.min_free_space.percent, 0);
	assert_int_equal(cfg->redis.kind, CONFIG_REDIS_PRIVATE);
	assert_null(cfg->redis.url);
	assert_string_equal(cfg->redis.prefix, "ringmta");
	assert_string_equal(cfg->redis.server_path, "/usr/bin/redis-server");
	assert_int_equal(cfg->redis.cluster_unreachable, CONFIG_CLUSTER_CLOSED);
	assert_string_equal(
	    config_cluster_unreachable_str(cfg->redis.cluster_unreachable),
	    "closed");
	assert_true(cfg->redis.cluster_lease_ttl_ms == 15000);
	assert_int_equal(cfg->dns.servers.n, 0);
	assert_true(cfg->dns.timeout_ms == 2000);
	assert_int_equal(cfg->dns.tries, 2);
	assert_int_equal(cfg->dns.cache_size, 100000);
	assert_true(cfg->dns.min_ttl_ms == 60000);
	assert_true(cfg->dns.max_ttl_ms == 86400000);
	assert_true(cfg->dns.negative_ttl_ms == 300000);
	assert_int_equal(cfg->dns.max_mx_hosts, 10);
	assert_int_equal(cfg->dns.max_addresses, 20);
	assert_int_equal(cfg->dns.max_inflight, 128);
	assert_int_equal(cfg->delivery.max_connections, 10000);
	assert_null(cfg->tls.cert_file);
	assert_null(cfg->tls.ca_file);
	assert_int_equal(cfg->tls.min_version, CONFIG_TLSV_1_2);
	assert_int_equal(d->port, 25);
	assert_int_equal(d->allowed_networks.n, 0);
	assert_true(d->retry_interval_ms == 20 * 60000);
	assert_true(d->max_retry_interval_ms == 12 * 3600000);
	assert_true(d->message_expiration_ms == 5 * 86400000ull);
	assert_int_equal(d->max_outbound_connections, 20);
	assert_int_equal(d->max_binding_connections, 0);
	assert_int_equal(d->max_deliveries_per_connection, 100);
	assert_true(d->idle_timeout_ms == 5000);
	assert_true(d->throttle_messages.count == 0);
	assert_true(d->throttle_connections.count == 0);
	assert_int_equal(d->cluster_max_outbound_connections, 0);
	assert_int_equal(d->cluster_max_binding_connections, 0);
	assert_true(d->cluster_throttle_messages.count == 0);
	assert_int_equal(d->tls, CONFIG_TLS_OPPORTUNISTIC);
	assert_int_equal(d->tls_verify, CONFIG_VERIFY_NONE);
	assert_null(d->tls_ca_file);
	assert_false(d->suspended);
	assert_string_equal(d->relay.host, "");
	assert_true(d->connect_timeout_ms == 30000);
	assert_true(d->banner_timeout_ms == 300000);
	assert_true(d->ehlo_timeout_ms == 300000);
	assert_true(d->starttls_timeout_ms == 300000);
	assert_true(d->mail_timeout_ms == 300000);
	assert_true(d->rcpt_timeout_ms == 300000);
	assert_true(d->data_timeout_ms == 120000);
	assert_true(d->data_block_timeout_ms == 180000);
	assert_true(d->dot_timeout_ms == 600000);
	assert_true(d->rset_timeout_ms == 20000);
	assert_true(d->quit_timeout_ms == 120000);
	assert_int_equal(d->max_recipients_per_message, 100);
	assert_true(d->bounce_8bit);
	assert_true(d->delay_warning_ms == 0);
	for (int k = 0; k < CONFIG_POL__COUNT; k++) {
		assert_int_equal(d->origin[k], CONFIG_ORIGIN_DEFAULT);
		assert_int_equal(cfg->domain_default.origin[k],
				 CONFIG_ORIGIN_DEFAULT);
	}
	assert_ptr_equal(config_domain(cfg, "example.com"),
			 &cfg->domain_default);
	assert_string_equal(config_domain(cfg, "x.example")->name, "default");
	assert_true(cfg->domain_default.connect_timeout_ms == 30000);
	assert_int_equal(cfg->ndomains, 0);
	assert_null(config_domain_next(cfg, NULL));
	b = config_binding(cfg, "default");
	assert_non_null(b);
	assert_true(b->implicit);
	assert_int_equal(b->address.n, 0);
	assert_string_equal(b->ehlo, cfg->server.hostname);
	assert_null(b->group);
	assert_ptr_equal(config_binding_next(cfg, NULL), b);
	assert_null(config_binding_next(cfg, b));
	assert_null(config_binding(cfg, "nope"));
	config_free(cfg);
	config_free(NULL);
}

/* Every key of every section, set to a non-default value. */
static const char full_file[] =
    "# full configuration\n"
    "[server]\n"
    "hostname = mx1.example.net\n"
    "state_dir = /var/lib/ringmta\n"
    "delivery_log = /var/log/ringmta/delivery.jsonl\n"
    "log_level = debug\n"
    "node_id = node-1\n"
    "\n"
    "[listener]\n"
    "address = 127.0.0.1:2525, [::1]:2525, *:26\n"
    "relay_networks = 10.0.0.0/8, 2001:db8::/32, 192.0.2.7\n"
    "max_message_size = 20M\n"
    "max_recipients = 500\n"
    "binding = out1\n"
    "max_line_length = 1K\n"
    "max_errors = 5\n"
    "idle_timeout = 1m\n"
    "session_timeout = 10m\n"
    "max_connections = 300\n"
    "line_endings = normalize\n"
    "add_message_id = no\n"
    "add_date = off\n"
    "tls = none\n"
    "banner_delay = 2s\n"
    "\n"
    "[spool]\n"
    "dir = /srv/spool\n"
    "segment_size = 128M\n"
    "sync = no\n"
    "unsafe_no_sync = yes\n"
    "max_batch = 64\n"
    "commit_delay = 0\n"
    "min_free_space = 5%\n"
    "\n"
    "[redis]\n"
    "url = redis://127.0.0.1:6380\n"
    "prefix = rmta.test\n"
    "server_path = /opt/redis/bin/redis-server\n"
    "cluster_unreachable = local\n"
    "cluster_lease_ttl = 6s\n"
    "\n"
    "[dns]\n"
    "servers = 127.0.0.1:5353, [::1]:53\n"
    "timeout = 500ms\n"
    "tries = 3\n"
    "cache_size = 5000\n"
    "min_ttl = 30s\n"
    "max_ttl = 2h\n"
    "negative_ttl = 1m\n"
    "max_mx_hosts = 5\n"
    "max_addresses = 8\n"
    "max_inflight = 32\n"
    "\n"
    "[tls]\n"
    "cert_file = /etc/ringmta/cert.pem\n"
    "key_file = /etc/ringmta/key.pem\n"
    "ca_file = /etc/ssl/certs/ca-certificates.crt\n"
    "min_version = 1.3\n"
    "ciphers = TLS13-AES128-GCM-SHA256:TLS13-CHACHA20-POLY1305-SHA256\n"
    "\n"
    "[delivery]\n"
    "port = 2526\n"
    "allowed_networks = 127.0.0.0/8, ::1/128\n"
    "retry_interval = 1m\n"
    "max_retry_interval = 1h\n"
    "message_expiration = 2d\n"
    "max_outbound_connections = 7\n"
    "max_outbound_connections_per_binding = 3\n"
    "max_deliveries_per_connection = 50\n"
    "idle_timeout = 3s\n"
    "outbound_throttle_messages = 100/1m\n"
    "outbound_throttle_connections = 10\n"
    "tls = required\n"
    "tls_verify = host\n"
    "tls_ca_file = /etc/ringmta/ca.pem\n"
    "suspended = yes\n"
    "connect_timeout = 11s\n"
    "banner_timeout = 12s\n"
    "ehlo_timeout = 13s\n"
    "starttls_timeout = 14s\n"
    "mail_timeout = 15s\n"
    "rcpt_timeout = 16s\n"
    "data_timeout = 17s\n"
    "data_block_timeout = 18s\n"
    "dot_timeout = 19s\n"
    "rset_timeout = 21s\n"
    "quit_timeout = 22s\n"
    "max_recipients_per_message = 42\n"
    "bounce_8bit = no\n"
    "delay_warning = 4h\n"
    "cluster_max_outbound_connections = 30\n"
    "cluster_max_outbound_connections_per_binding = 12\n"
    "cluster_outbound_throttle_messages = 600/1m\n"
    "max_connections = 999\n"
    "\n"
    "[domain default]\n"
    "port = 2527\n"
    "allowed_networks = 127.0.0.1\n"
    "retry_interval = 2m\n"
    "max_retry_interval = 2h\n"
    "message_expiration = 3d\n"
    "max_outbound_connections = 8\n"
    "max_outbound_connections_per_binding = 4\n"
    "max_deliveries_per_connection = 51\n"
    "idle_timeout = 4s\n"
    "outbound_throttle_messages = 5/s\n"
    "outbound_throttle_connections = 2/1m\n"
    "tls = none\n"
    "tls_verify = ca\n"
    "tls_ca_file = /etc/ringmta/ca2.pem\n"
    "suspended = no\n"
    "relay = smarthost.example.net\n"
    "connect_timeout = 31s\n"
    "banner_timeout = 32s\n"
    "ehlo_timeout = 33s\n"
    "starttls_timeout = 34s\n"
    "mail_timeout = 35s\n"
    "rcpt_timeout = 36s\n"
    "data_timeout = 37s\n"
    "data_block_timeout = 38s\n"
    "dot_timeout = 39s\n"
    "rset_timeout = 41s\n"
    "quit_timeout = 42s\n"
    "max_recipients_per_message = 43\n"
    "bounce_8bit = yes\n"
    "delay_warning = 30m\n"
    "cluster_max_outbound_connections = 5\n"
    "cluster_max_outbound_connections_per_binding = 2\n"
    "cluster_outbound_throttle_messages = 7\n"
    "\n"
    "[domain Example.COM.]   ; trailing dot and case are normalised\n"
    "relay = [::1]:2600\n"
    "suspended = true\n"
    "max_outbound_connections_per_binding = 1\n"
    "\n"
    "[binding out1]\n"
    "address = 127.0.0.2, ::1\n"
    "ehlo = out1.example.net\n"
    "group = pool-a\n";

static void
check_full(const struct config *cfg)
{
	const struct domain_policy *dd = &cfg->domain_default, *d;
	const struct domain_policy *del = &cfg->delivery.policy;
	const struct config_binding *b;

	assert_string_equal(cfg->server.hostname, "mx1.example.net");
	assert_string_equal(cfg->server.state_dir, "/var/lib/ringmta");
	assert_string_equal(cfg->server.delivery_log,
			    "/var/log/ringmta/delivery.jsonl");
	assert_int_equal(cfg->server.log_level, LOG_DEBUG);
	assert_string_equal(cfg->server.node_id, "node-1");
	assert_int_equal(cfg->listener.address.n, 3);
	assert_string_equal(sa_str(&cfg->listener.address.v[1], true),
			    "[::1]:2525");
	assert_string_equal(sa_str(&cfg->listener.address.v[2], true),
			    "0.0.0.0:26");
	assert_string_equal(cidr_str(&cfg->listener.relay_networks),
			    "10.0.0.0/8, 2001:db8::/32, 192.0.2.7/32");
	assert_true(cfg->listener.max_message_size == 20u << 20);
	assert_int_equal(cfg->listener.max_recipients, 500);
	assert_string_equal(cfg->listener.binding, "out1");
	assert_true(cfg->listener.max_line_length == 1024);
	assert_int_equal(cfg->listener.max_errors, 5);
	assert_true(cfg->listener.idle_timeout_ms == 60000);
	assert_true(cfg->listener.session_timeout_ms == 600000);
	assert_int_equal(cfg->listener.max_connections, 300);
	assert_int_equal(cfg->listener.line_endings, CONFIG_LE_NORMALIZE);
	assert_false(cfg->listener.add_message_id);
	assert_false(cfg->listener.add_date);
	assert_int_equal(cfg->listener.tls, CONFIG_LTLS_NONE);
	assert_true(cfg->listener.banner_delay_ms == 2000);
	assert_string_equal(cfg->spool.dir, "/srv/spool");
	assert_true(cfg->spool.segment_size == 128u << 20);
	assert_false(cfg->spool.sync);
	assert_true(cfg->spool.unsafe_no_sync);
	assert_int_equal(cfg->spool.max_batch, 64);
	assert_true(cfg->spool.commit_delay_ms == 0);
	assert_int_equal(cfg->spool.min_free_space.percent, 5);
	assert_true(cfg->spool.min_free_space.bytes == 0);
	assert_int_equal(cfg->redis.kind, CONFIG_REDIS_TCP);
	assert_string_equal(cfg->redis.url, "redis://127.0.0.1:6380");
	assert_string_equal(cfg->redis.tcp.host, "127.0.0.1");
	assert_int_equal(cfg->redis.tcp.port, 6380);
	assert_string_equal(cfg->redis.prefix, "rmta.test");
	assert_string_equal(cfg->redis.server_path,
			    "/opt/redis/bin/redis-server");
	assert_int_equal(cfg->dns.servers.n, 2);
	assert_string_equal(sa_str(&cfg->dns.servers.v[0], true),
			    "127.0.0.1:5353");
	assert_true(cfg->dns.timeout_ms == 500);
	assert_int_equal(cfg->dns.tries, 3);
	assert_int_equal(cfg->dns.cache_size, 5000);
	assert_true(cfg->dns.min_ttl_ms == 30000);
	assert_true(cfg->dns.max_ttl_ms == 7200000);
	assert_true(cfg->dns.negative_ttl_ms == 60000);
	assert_int_equal(cfg->dns.max_mx_hosts, 5);
	assert_int_equal(cfg->dns.max_addresses, 8);
	assert_int_equal(cfg->dns.max_inflight, 32);
	assert_string_equal(cfg->tls.cert_file, "/etc/ringmta/cert.pem");
	assert_string_equal(cfg->tls.key_file, "/etc/ringmta/key.pem");
	assert_string_equal(cfg->tls.ca_file,
			    "/etc/ssl/certs/ca-certificates.crt");
	assert_int_equal(cfg->tls.min_version, CONFIG_TLSV_1_3);
	assert_string_equal(
	    cfg->tls.ciphers,
	    "TLS13-AES128-GCM-SHA256:TLS13-CHACHA20-POLY1305-SHA256");
	assert_int_equal(cfg->delivery.max_connections, 999);
	assert_int_equal(del->port, 2526);
	assert_string_equal(cidr_str(&del->allowed_networks),
			    "127.0.0.0/8, ::1/128");
	assert_true(del->retry_interval_ms == 60000);
	assert_true(del->max_retry_interval_ms == 3600000);
	assert_true(del->message_expiration_ms == 2 * 86400000);
	assert_int_equal(del->max_outbound_connections, 7);
	assert_int_equal(del->max_binding_connections, 3);
	assert_int_equal(del->max_deliveries_per_connection, 50);
	assert_true(del->idle_timeout_ms == 3000);
	assert_true(del->throttle_messages.count == 100);
	assert_true(del->throttle_messages.period_ms == 60000);
	assert_true(del->throttle_connections.count == 10);
	assert_true(del->throttle_connections.period_ms == 1000);
	assert_int_equal(del->tls, CONFIG_TLS_REQUIRED);
	assert_int_equal(del->tls_verify, CONFIG_VERIFY_HOST);
	assert_string_equal(del->tls_ca_file, "/etc/ringmta/ca.pem");
	assert_true(del->suspended);
	assert_true(del->connect_timeout_ms == 11000);
	assert_true(del->banner_timeout_ms == 12000);
	assert_true(del->ehlo_timeout_ms == 13000);
	assert_true(del->starttls_timeout_ms == 14000);
	assert_true(del->mail_timeout_ms == 15000);
	assert_true(del->rcpt_timeout_ms == 16000);
	assert_true(del->data_timeout_ms == 17000);
	assert_true(del->data_block_timeout_ms == 18000);
	assert_true(del->dot_timeout_ms == 19000);
	assert_true(del->rset_timeout_ms == 21000);
	assert_true(del->quit_timeout_ms == 22000);
	assert_int_equal(del->max_recipients_per_message, 42);
	assert_false(del->bounce_8bit);
	assert_true(del->delay_warning_ms == 4 * 3600000);
	assert_int_equal(del->cluster_max_outbound_connections, 30);
	assert_int_equal(del->cluster_max_binding_connections, 12);
	assert_true(del->cluster_throttle_messages.count == 600);
	assert_true(del->cluster_throttle_messages.period_ms == 60000);
	assert_int_equal(cfg->redis.cluster_unreachable, CONFIG_CLUSTER_LOCAL);
	assert_true(cfg->redis.cluster_lease_ttl_ms == 6000);
	assert_int_equal(dd->port, 2527);
	assert_string_equal(cidr_str(&dd->allowed_networks), "127.0.0.1/32");
	assert_true(dd->retry_interval_ms == 120000);
	assert_true(dd->max_retry_interval_ms == 7200000);
	assert_true(dd->message_expiration_ms == 3 * 86400000);
	assert_int_equal(dd->max_outbound_connections, 8);
	assert_int_equal(dd->max_binding_connections, 4);
	assert_int_equal(dd->max_deliveries_per_connection, 51);
	assert_true(dd->idle_timeout_ms == 4000);
	assert_true(dd->throttle_messages.count == 5);
	assert_true(dd->throttle_messages.period_ms == 1000);
	assert_true(dd->throttle_connections.count == 2);
	assert_true(dd->throttle_connections.period_ms == 60000);
	assert_int_equal(dd->tls, CONFIG_TLS_NONE);
	assert_int_equal(dd->tls_verify, CONFIG_VERIFY_CA);
	assert_string_equal(dd->tls_ca_file, "/etc/ringmta/ca2.pem");
	assert_false(dd->suspended);
	assert_string_equal(dd->relay.host, "smarthost.example.net");
	assert_int_equal(dd->relay.port, 2527); /* the policy's port */
	assert_true(dd->connect_timeout_ms == 31000);
	assert_true(dd->quit_timeout_ms == 42000);
	assert_int_equal(dd->max_recipients_per_message, 43);
	assert_true(dd->bounce_8bit);
	assert_true(dd->delay_warning_ms == 30 * 60000);
	assert_int_equal(dd->cluster_max_outbound_connections, 5);
	assert_int_equal(dd->cluster_max_binding_connections, 2);
	assert_true(dd->cluster_throttle_messages.count == 7);
	assert_true(dd->cluster_throttle_messages.period_ms == 1000);
	assert_int_equal(cfg->ndomains, 1);
	d = config_domain(cfg, "EXAMPLE.com.");
	assert_string_equal(d->name, "example.com");
	assert_string_equal(d->relay.host, "::1");
	assert_int_equal(d->relay.family, AF_INET6);
	assert_int_equal(d->relay.port, 2600);
	assert_true(d->suspended);
	assert_int_equal(d->port, 2527);
	assert_int_equal(d->max_binding_connections, 1);
	assert_int_equal(d->max_outbound_connections, 8);
	assert_true(d->connect_timeout_ms == 31000);
	assert_int_equal(cfg->nbindings, 2);
	b = config_binding(cfg, "out1");
	assert_non_null(b);
	assert_false(b->implicit);
	assert_int_equal(b->address.n, 2);
	assert_string_equal(sa_str(&b->address.v[0], false), "127.0.0.2");
	assert_string_equal(sa_str(&b->address.v[1], false), "::1");
	assert_string_equal(b->ehlo, "out1.example.net");
	assert_string_equal(b->group, "pool-a");
	b = config_binding(cfg, "default");
	assert_non_null(b);
	assert_string_equal(b->ehlo, "mx1.example.net");
}

static char *
dump_str(const struct config *cfg, unsigned flags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	config_dump(cfg, f, flags);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void
test_full_file(void **state)
{
	struct config *cfg = cfx_load_ok(full_file), *again;
	struct config_err_list errs;
	char *dump, *bare, *bare2, *line, *save = NULL;
	bool plain = true;
	const struct domain_policy *d;

	(void)state;
	assert_string_equal(cfg->name, cfx_path);
	check_full(cfg);
	d = config_domain(cfg, "example.com");
	assert_int_equal(d->origin[CONFIG_POL_RELAY], CONFIG_ORIGIN_DOMAIN);
	assert_int_equal(d->origin[CONFIG_POL_PORT],
			 CONFIG_ORIGIN_DOMAIN_DEFAULT);
	/* Every key of the file is explicit: outside [domain ...] and the
	 * implicit default binding nothing is annotated "default". */
	dump = dump_str(cfg, 0);
	for (line = strtok_r(dump, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '[')
			plain = strncmp(line, "[domain ", 8) != 0 &&
				strcmp(line, "[binding default]") != 0;
		if (plain && strstr(line, "; default") != NULL)
			fail_msg("key not in the full file: %s", line);
	}
	free(dump);
	/* The bare dump loads back to the same configuration. */
	bare = dump_str(cfg, CONFIG_DUMP_BARE);
	assert_null(strstr(bare, ";"));
	config_err_list_init(&errs);
	assert_int_equal(config_load_string("dump", bare, &again, &errs), 0);
	assert_int_equal(errs.n, 0);
	check_full(again);
	bare2 = dump_str(again, CONFIG_DUMP_BARE);
	assert_string_equal(strchr(bare, '\n'), strchr(bare2, '\n'));
	free(bare);
	free(bare2);
	config_free(again);
	config_free(cfg);
}

static void
test_domain_normalization(void **state)
{
	struct config *cfg = cfx_load_ok("[domain EXAMPLE.com.]\n"
					 "port = 2001\n"
					 "[domain b\xc3\xbc"
					 "cher.de]\n"
					 "port = 2002\n"
					 "[domain XN--BCHER-KVA.example]\n"
					 "port = 2003\n"
					 "[domain localhost]\n"
					 "port = 2004\n");
	const struct domain_policy *d;

	(void)state;
	assert_int_equal(cfg->ndomains, 4);
	d = config_domain_next(cfg, NULL);
	assert_string_equal(d->name, "example.com");
	d = config_domain_next(cfg, d);
	assert_string_equal(d->name, "localhost");
	d = config_domain_next(cfg, d);
	assert_string_equal(d->name, "xn--bcher-kva.de");
	d = config_domain_next(cfg, d);
	assert_string_equal(d->name, "xn--bcher-kva.example");
	assert_null(config_domain_next(cfg, d));
	assert_int_equal(config_domain(cfg, "example.com")->port, 2001);
	assert_int_equal(config_domain(cfg, "Example.Com.")->port, 2001);
	assert_int_equal(config_domain(cfg, "xn--bcher-kva.de")->port, 2002);
	assert_int_equal(config_domain(cfg, "XN--BCHER-KVA.DE")->port, 2002);
	assert_int_equal(config_domain(cfg, "xn--bcher-kva.example")->port,
			 2003);
	assert_int_equal(config_domain(cfg, "localhost")->port, 2004);
	assert_ptr_equal(config_domain(cfg, "example.co"),
			 &cfg->domain_default);
	assert_ptr_equal(config_domain(cfg, "example.comm"),
			 &cfg->domain_default);
	assert_ptr_equal(config_domain(cfg, "sub.example.com"),
			 &cfg->domain_default);
	assert_ptr_equal(config_domain(cfg, ""), &cfg->domain_default);
	assert_ptr_equal(config_domain(cfg, "."), &cfg->domain_default);
	config_free(cfg);
}

static void
test_inheritance(void **state)
{
	struct config *cfg = cfx_load_ok("[delivery]\n"
					 "port = 2525\n"
					 "connect_timeout = 10s\n"
					 "allowed_networks = 127.0.0.0/8\n"
					 "[domain default]\n"
					 "connect_timeout = 20s\n"
					 "tls = required\n"
					 "relay = smart.example\n"
					 "[domain a.example]\n"
					 "tls = none\n"
					 "[domain b.example]\n"
					 "port = 26\n"
					 "relay = 127.0.0.1\n"
					 "[domain c.example]\n"
					 "relay = 127.0.0.2:27\n"
					 "allowed_networks =\n"
					 "[domain d.example]\n"
					 "port = 28\n");
	const struct domain_policy *del = &cfg->delivery.policy;
	const struct domain_policy *dd = &cfg->domain_default;
	const struct domain_policy *a = config_domain(cfg, "a.example");
	const struct domain_policy *b = config_domain(cfg, "b.example");
	const struct domain_policy *c = config_domain(cfg, "c.example");
	const struct domain_policy *d = config_domain(cfg, "d.example");
	struct sockaddr_in lo = {.sin_family = AF_INET};
	struct sockaddr_in ext = {.sin_family = AF_INET};
	char *dump;

	(void)state;
	lo.sin_addr.s_addr = htonl(0x7f000001);
	ext.sin_addr.s_addr = htonl(0xc0000201);
	/* [delivery] */
	assert_int_equal(del->port, 2525);
	assert_true(del->connect_timeout_ms == 10000);
	assert_int_equal(del->tls, CONFIG_TLS_OPPORTUNISTIC);
	assert_int_equal(del->origin[CONFIG_POL_PORT], CONFIG_ORIGIN_DELIVERY);
	assert_int_equal(del->origin[CONFIG_POL_TLS], CONFIG_ORIGIN_DEFAULT);
	/* [domain default] over [delivery] */
	assert_int_equal(dd->port, 2525);
	assert_true(dd->connect_timeout_ms == 20000);
	assert_int_equal(dd->tls, CONFIG_TLS_REQUIRED);
	assert_int_equal(dd->relay.port, 2525);
	assert_int_equal(dd->origin[CONFIG_POL_PORT], CONFIG_ORIGIN_DELIVERY);
	assert_int_equal(dd->origin[CONFIG_POL_CONNECT_TIMEOUT],
			 CONFIG_ORIGIN_DOMAIN_DEFAULT);
	assert_int_equal(dd->origin[CONFIG_POL_SUSPENDED],
			 CONFIG_ORIGIN_DEFAULT);
	/* [domain NAME] over both */
	assert_int_equal(a->tls, CONFIG_TLS_NONE);
	assert_int_equal(a->origin[CONFIG_POL_TLS], CONFIG_ORIGIN_DOMAIN);
	assert_true(a->connect_timeout_ms == 20000);
	assert_int_equal(a->origin[CONFIG_POL_CONNECT_TIMEOUT],
			 CONFIG_ORIGIN_DOMAIN_DEFAULT);
	assert_int_equal(a->port, 2525);
	assert_int_equal(a->origin[CONFIG_POL_PORT], CONFIG_ORIGIN_DELIVERY);
	assert_string_equal(a->relay.host, "smart.example");
	assert_int_equal(a->relay.port, 2525);
	assert_true(config_destination_allowed(a, (struct sockaddr *)&lo));
	assert_false(config_destination_allowed(a, (struct sockaddr *)&ext));
	/* relay without a port takes the domain's own port */
	assert_string_equal(b->relay.host, "127.0.0.1");
	assert_int_equal(b->relay.family, AF_INET);
	assert_int_equal(b->relay.port, 26);
	/* an empty value overrides an inherited list with "any" */
	assert_int_equal(c->relay.port, 27);
	assert_int_equal(c->allowed_networks.n, 0);
	assert_int_equal(c->origin[CONFIG_POL_ALLOWED_NETWORKS],
			 CONFIG_ORIGIN_DOMAIN);
	assert_true(config_destination_allowed(c, (struct sockaddr *)&ext));
	/* an inherited relay without a port follows the domain's port */
	assert_string_equal(d->relay.host, "smart.example");
	assert_int_equal(d->relay.port, 28);
	assert_int_equal(d->origin[CONFIG_POL_RELAY],
			 CONFIG_ORIGIN_DOMAIN_DEFAULT);
	/* unknown domains get [domain default] */
	assert_ptr_equal(config_domain(cfg, "z.example"), dd);
	dump = dump_str(cfg, 0);
	assert_non_null(strstr(dump, "\n[domain a.example]\nport = 2525 ; from "
				     "[delivery]\n"));
	assert_non_null(strstr(dump, "\nconnect_timeout = 20s ; from [domain "
				     "default]\n"));
	assert_non_null(strstr(dump, "\ntls = none\n"));
	assert_non_null(strstr(dump, "\n[domain default]\nport = 2525 ; from "
				     "[delivery]\n"));
	assert_non_null(strstr(dump, "\n[delivery]\nport = 2525\n"));
	assert_non_null(strstr(dump, "\nsuspended = no ; default\n"));
	free(dump);
	config_free(cfg);
}

static void
test_bindings(void **state)
{
	struct config *cfg = cfx_load_ok("[server]\n"
					 "hostname = host.example\n"
					 "[listener]\n"
					 "binding = default\n"
					 "[binding zz]\n"
					 "[binding out1]\n"
					 "address = 192.0.2.1\n"
					 "[binding default]\n"
					 "ehlo = default.example\n"
					 "group = g\n");
	const struct config_binding *b;

	(void)state;
	assert_int_equal(cfg->nbindings, 3);
	b = config_binding_next(cfg, NULL);
	assert_string_equal(b->name, "default");
	assert_false(b->implicit);
	assert_string_equal(b->ehlo, "default.example");
	assert_string_equal(b->group, "g");
	b = config_binding_next(cfg, b);
	assert_string_equal(b->name, "out1");
	assert_string_equal(b->ehlo, "host.example");
	b = config_binding_next(cfg, b);
	assert_string_equal(b->name, "zz");
	assert_int_equal(b->address.n, 0);
	assert_null(config_binding_next(cfg, b));
	assert_null(config_binding(cfg, "Out1"));
	config_free(cfg);
}

static void
test_derived(void **state)
{
	struct config *cfg = cfx_load_ok("[server]\n"
					 "state_dir = /srv/r\n"
					 "hostname = h.example\n"
					 "[tls]\n"
					 "cert_file = /c\n"
					 "key_file = /k\n"
					 "ca_file = /ca\n"
					 "[spool]\n"
					 "min_free_space = 2G\n"
					 "[redis]\n"
					 "url = unix:/run/redis.sock\n"
					 "[domain x.example]\n"
					 "tls_verify = ca\n");

	(void)state;
	assert_string_equal(cfg->server.delivery_log,
			    "/srv/r/log/delivery.jsonl");
	assert_string_equal(cfg->spool.dir, "/srv/r/spool");
	assert_string_equal(cfg->server.node_id, "h.example");
	assert_int_equal(cfg->listener.tls, CONFIG_LTLS_OPTIONAL);
	assert_string_equal(cfg->delivery.policy.tls_ca_file, "/ca");
	assert_string_equal(config_domain(cfg, "x.example")->tls_ca_file,
			    "/ca");
	assert_true(cfg->spool.min_free_space.bytes == 2ull << 30);
	assert_int_equal(cfg->redis.kind, CONFIG_REDIS_UNIX);
	assert_string_equal(cfg->redis.socket_path, "/run/redis.sock");
	config_free(cfg);
	cfg = cfx_load_ok("[tls]\ncert_file = /c\nkey_file = /k\n"
			  "[listener]\ntls = none\n"
			  "[redis]\nurl = redis://[::1]\n");
	assert_int_equal(cfg->listener.tls, CONFIG_LTLS_NONE);
	assert_int_equal(cfg->redis.kind, CONFIG_REDIS_TCP);
	assert_string_equal(cfg->redis.tcp.host, "::1");
	assert_int_equal(cfg->redis.tcp.port, 6379);
	config_free(cfg);
}

static void
test_str_tables(void **state)
{
	(void)state;
	for (int i = 0; i < CONFIG_POL__COUNT; i++) {
		const char *s = config_pol_key_str((enum config_pol_key)i);

		assert_string_not_equal(s, "?");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(
			    s, config_pol_key_str((enum config_pol_key)j));
	}
	assert_string_equal(config_pol_key_str(CONFIG_POL_RELAY), "relay");
	assert_string_equal(config_pol_key_str(CONFIG_POL_THROTTLE_MESSAGES),
			    "outbound_throttle_messages");
	assert_string_equal(config_pol_key_str(CONFIG_POL__COUNT), "?");
	assert_string_equal(config_origin_str(CONFIG_ORIGIN_DOMAIN_DEFAULT),
			    "[domain default]");
	assert_string_equal(config_origin_str(CONFIG_ORIGIN__COUNT), "?");
	assert_string_equal(config_tls_str(CONFIG_TLS_REQUIRED), "required");
	assert_string_equal(config_tls_str(CONFIG_TLS__COUNT), "?");
	assert_string_equal(config_tls_verify_str(CONFIG_VERIFY_HOST), "host");
	assert_string_equal(config_tls_verify_str(CONFIG_VERIFY__COUNT), "?");
	assert_string_equal(config_listener_tls_str(CONFIG_LTLS_OPTIONAL),
			    "optional");
	assert_string_equal(config_listener_tls_str(CONFIG_LTLS__COUNT), "?");
	assert_string_equal(config_line_endings_str(CONFIG_LE_NORMALIZE),
			    "normalize");
	assert_string_equal(config_line_endings_str(CONFIG_LE__COUNT), "?");
	assert_string_equal(config_tls_version_str(CONFIG_TLSV_1_3), "1.3");
	assert_string_equal(config_tls_version_str(CONFIG_TLSV__COUNT), "?");
	assert_string_equal(config_redis_kind_str(CONFIG_REDIS_UNIX), "unix");
	assert_string_equal(config_redis_kind_str(CONFIG_REDIS__COUNT), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_domain_normalization),
	    cmocka_unit_test(test_inheritance),
	    cmocka_unit_test(test_bindings),
	    cmocka_unit_test(test_derived),
	    cmocka_unit_test(test_str_tables),
	};

	return cmocka_run_group_tests(tests, cfx_setup, cfx_teardown);
}
