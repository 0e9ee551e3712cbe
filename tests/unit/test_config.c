/* SPDX-License-Identifier: MIT */
/*
 * test_config.c: INI loading, defaults, every error class with its exact
 * "file:line: reason", inheritance, normalisation, dump round trip.
 * Files are written to a private temporary directory.
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
#include "log.h"

static char test_dir[64];
static char test_path[128];

static int
group_setup(void **state)
{
	(void)state;
	snprintf(test_dir, sizeof(test_dir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(test_dir) == NULL)
		return -1;
	snprintf(test_path, sizeof(test_path), "%s/t.ini", test_dir);
	log_set_level(LOG_ERR);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	unlink(test_path);
	rmdir(test_dir);
	return 0;
}

/* Write text to test_path and load it from there. */
static int
load_file(const char *text, size_t len, struct config **cfg,
	  struct config_err_list *errs)
{
	FILE *f = fopen(test_path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	config_err_list_init(errs);
	return config_load(test_path, cfg, errs);
}

static struct config *
load_ok(const char *text)
{
	struct config_err_list errs;
	struct config *cfg = NULL;
	int rc = load_file(text, strlen(text), &cfg, &errs);

	for (size_t i = 0; i < errs.n; i++)
		print_error("unexpected: %s\n", errs.v[i]);
	assert_int_equal(rc, 0);
	assert_int_equal(errs.n, 0);
	assert_non_null(cfg);
	config_err_list_fini(&errs);
	return cfg;
}

/* Load text as "t.ini" and compare the errors with want (NULL-ended). */
static void
expect_errors_buf(const char *text, size_t len, const char *const *want)
{
	struct config_err_list errs;
	struct config *cfg = (struct config *)1;
	size_t n = 0;
	int rc;

	config_err_list_init(&errs);
	rc = config_load_buf("t.ini", text, len, &cfg, &errs);
	while (want[n] != NULL)
		n++;
	for (size_t i = 0; i < errs.n; i++)
		print_message("got: %s\n", errs.v[i]);
	assert_int_equal(rc, -EINVAL);
	assert_null(cfg);
	assert_int_equal(errs.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(errs.v[i], want[i]);
	config_err_list_fini(&errs);
	assert_int_equal(errs.n, 0);
}

static void
expect_error(const char *text, const char *want)
{
	const char *w[] = {want, NULL};

	expect_errors_buf(text, strlen(text), w);
}

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
	assert_true(cfg->spool.commit_delay_ms == 1);
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
	struct config *cfg = load_ok(full_file), *again;
	struct config_err_list errs;
	char *dump, *bare, *bare2, *line, *save = NULL;
	bool plain = true;
	const struct domain_policy *d;

	(void)state;
	assert_string_equal(cfg->name, test_path);
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
test_error_classes(void **state)
{
	static const struct {
		const char *text, *want;
	} c[] = {
	    {"[sever]\n", "t.ini:1: unknown section [sever] (did you mean "
			  "[server]?)"},
	    {"[Server]\n", "t.ini:1: unknown section [Server] (did you "
			   "mean [server]?)"},
	    {"[frobnicate]\nx = 1\n", "t.ini:1: unknown section "
				      "[frobnicate]"},
	    {"[delivery]\nconect_timeout = 5m\n",
	     "t.ini:2: unknown key 'conect_timeout' in [delivery] (did "
	     "you mean 'connect_timeout'?)"},
	    {"[server]\nfrobnicate = 1\n",
	     "t.ini:2: unknown key 'frobnicate' in [server]"},
	    {"[delivery]\nPort = 25\n", "t.ini:2: unknown key 'Port' in "
					"[delivery] (did you mean "
					"'port'?)"},
	    {"[delivery]\nport = 25\n\nport = 26\n",
	     "t.ini:4: duplicate key 'port' in [delivery] (first set on "
	     "line 2)"},
	    {"[binding a]\n[binding b]\n[binding a]\n",
	     "t.ini:3: duplicate section [binding a] (first on line 1)"},
	    {"[domain example.com]\n[domain EXAMPLE.com.]\n",
	     "t.ini:2: duplicate section [domain example.com] (first on "
	     "line 1)"},
	    {"[domain default]\n[domain Default]\n",
	     "t.ini:2: duplicate section [domain default] (first on "
	     "line 1)"},
	    {"[server]\n[listener]\n[server]\n",
	     "t.ini:3: duplicate section [server] (first on line 1)"},
	    {"[spool]\ncommit_delay = 2s\n",
	     "t.ini:2: [spool] commit_delay: 2s is above the maximum of 1s"},
	    {"[delivery]\nconnect_timeout = x5m\n",
	     "t.ini:2: [delivery] connect_timeout: bad duration 'x5m': "
	     "expected a number followed by ms, s, m, h or d"},
	    {"[delivery]\nport = 0\n", "t.ini:2: [delivery] port: 0 is out "
				       "of range: expected 1 to 65535"},
	    {"[delivery]\nport =\n", "t.ini:2: [delivery] port: a value is "
				     "required"},
	    {"[delivery]\nconnect_timeout = 0\n",
	     "t.ini:2: [delivery] connect_timeout: 0s is below the "
	     "minimum of 1s"},
	    {"[listener]\nmax_line_length = 100\n",
	     "t.ini:2: [listener] max_line_length: 100 is below the "
	     "minimum of 512"},
	    {"[delivery]\ndelay_warning = 91d\n",
	     "t.ini:2: [delivery] delay_warning: 91d is above the "
	     "maximum of 90d"},
	    {"[delivery]\nmessage_expiration = 100d\n",
	     "t.ini:2: [delivery] message_expiration: 100d is above the "
	     "maximum of 90d"},
	    {"[delivery]\ntls = maybe\n",
	     "t.ini:2: [delivery] tls: bad value 'maybe': expected none, "
	     "opportunistic or required"},
	    {"[server]\nlog_level = loud\n",
	     "t.ini:2: [server] log_level: bad log level: expected "
	     "error, warn, info, debug or trace"},
	    {"[tls]\ncert_file = /c.pem\n",
	     "t.ini:2: [tls] cert_file is set but key_file is not"},
	    {"[tls]\nkey_file = /k.pem\n",
	     "t.ini:2: [tls] key_file is set but cert_file is not"},
	    {"[listener]\ntls = optional\n",
	     "t.ini:2: [listener] tls = optional needs [tls] cert_file "
	     "and key_file"},
	    {"[listener]\nbinding = out9\n",
	     "t.ini:2: [listener] binding 'out9' is not defined (no "
	     "[binding out9] section)"},
	    {"[spool]\nsync = no\n",
	     "t.ini:2: [spool] sync = no also needs unsafe_no_sync = yes "
	     "(mail accepted before a crash can be lost)"},
	    {"[dns]\nmin_ttl = 1d\nmax_ttl = 1h\n",
	     "t.ini:2: [dns] min_ttl (1d) is greater than max_ttl (1h)"},
	    {"[domain x.example]\nretry_interval = 13h\n",
	     "t.ini:2: [domain x.example] retry_interval (13h) is "
	     "greater than max_retry_interval (12h)"},
	    {"[delivery]\nmax_retry_interval = 1m\n",
	     "t.ini:2: [delivery] retry_interval (20m) is greater than "
	     "max_retry_interval (1m)"},
	    {"[delivery]\nrelay = mx.example:25\n",
	     "t.ini:2: key 'relay' does not belong in [delivery] (it "
	     "goes in [domain NAME])"},
	    {"[delivery]\nhostname = a\n",
	     "t.ini:2: key 'hostname' does not belong in [delivery] (it "
	     "goes in [server])"},
	    {"[domain a.example]\nmax_connections = 5\n",
	     "t.ini:2: key 'max_connections' does not belong in [domain "
	     "a.example] (it goes in [listener] or [delivery])"},
	    {"port = 25\n", "t.ini:1: key 'port' outside of any section"},
	    {"[domain]\nport = 1\n", "t.ini:1: section [domain] needs a "
				     "name; expected [domain NAME]"},
	    {"[server main]\nhostname = a\n",
	     "t.ini:1: section [server] takes no name; expected "
	     "[server]"},
	    {"[domain *.example.com]\nport = 1\n",
	     "t.ini:1: [domain *.example.com]: bad domain "
	     "'*.example.com': only letters, digits, '-' and '.' are "
	     "allowed"},
	    {"[domain xn--zz.com]\n",
	     "t.ini:1: [domain xn--zz.com]: bad domain 'xn--zz.com': "
	     "string contains invalid punycode data"},
	    {"[binding a:b]\n", "t.ini:1: [binding a:b]: bad name 'a:b': "
				"expected 1 to 64 of A-Z a-z 0-9 _ . -"},
	    {"[server\nhostname = a\n", "t.ini:1: missing ']' in section "
					"header"},
	    {"[server] x\n", "t.ini:1: junk after ']' in section header"},
	    {"[server]\nhostname\n", "t.ini:2: expected 'key = value', "
				     "'[section]' or a comment"},
	    {"[server]\nhostname: a\n", "t.ini:2: expected 'key = value', "
					"'[section]' or a comment"},
	    {"[server]\n= a\n", "t.ini:2: expected 'key = value', "
				"'[section]' or a comment"},
	    {"[tls]\nciphers =;x\n", "t.ini:2: a value cannot start with "
				     "';'"},
	    {"[server]\nhost name = a\n", "t.ini:2: bad key name 'host "
					  "name'"},
	    {"[server]\nhost:name = a\n", "t.ini:2: bad key name "
					  "'host:name'"},
	    {"[server]\nhostname = a\x01"
	     "b\n",
	     "t.ini:2: control character 0x01 in line"},
	    {"[server]\r\nhostname = a\rb\r\n",
	     "t.ini:2: control character 0x0d in line"},
	    {"\xef\xbb\xbf[server]\n\xef\xbb\xbf[listener]\n",
	     "t.ini:2: expected 'key = value', '[section]' or a "
	     "comment"},
	    {"[redis]\nurl = http://x\n",
	     "t.ini:2: [redis] url: bad url: expected unix:/path or "
	     "redis://host:port"},
	    {"[redis]\nurl = redis://x:0\n",
	     "t.ini:2: [redis] url: port 0 is not allowed here"},
	    {"[redis]\nurl = redis://x:http\n",
	     "t.ini:2: [redis] url: bad port 'http': expected 1 to "
	     "65535"},
	    {"[redis]\nprefix = a:b\n",
	     "t.ini:2: [redis] prefix: bad name 'a:b': expected 1 to 64 "
	     "of A-Z a-z 0-9 _ . -"},
	    {"[redis]\ncluster_unreachable = open\n",
	     "t.ini:2: [redis] cluster_unreachable: bad value 'open': "
	     "expected closed or local"},
	    {"[redis]\ncluster_lease_ttl = 2s\n",
	     "t.ini:2: [redis] cluster_lease_ttl: 2s is below the minimum "
	     "of 3s"},
	    {"[domain a.example]\ncluster_max_outbound_connections = "
	     "100001\n",
	     "t.ini:2: [domain a.example] cluster_max_outbound_connections: "
	     "100001 is out of range: expected 0 to 100000"},
	    {"[domain a.example]\nmax_outbound_connections_per_binding = "
	     "100001\n",
	     "t.ini:2: [domain a.example] "
	     "max_outbound_connections_per_binding: "
	     "100001 is out of range: expected 0 to 100000"},
	    {"[delivery]\nmax_outbound_connections_per_binding = -1\n",
	     "t.ini:2: [delivery] max_outbound_connections_per_binding: "
	     "bad number '-1': expected a whole number"},
	    {"[spool]\nmin_free_space = 100%\n",
	     "t.ini:2: [spool] min_free_space: 100 is out of range: "
	     "expected 0 to 99"},
	    {"[listener]\naddress = ::1:25\n",
	     "t.ini:2: [listener] address: IPv6 addresses need "
	     "brackets, as in [::1]:25: '::1:25'"},
	    {"[listener]\naddress =\n", "t.ini:2: [listener] address: a "
					"value is required"},
	    {"[dns]\nmax_inflight = 0\n",
	     "t.ini:2: [dns] max_inflight: 0 is out of range: expected 1 to "
	     "100000"},
	    {"[dns]\nservers = *:53\n",
	     "t.ini:2: [dns] servers: the wildcard address '*' is not "
	     "allowed here"},
	    {"[binding b]\nehlo = under_score.example\n",
	     "t.ini:2: [binding b] ehlo: bad host name "
	     "'under_score.example': only letters, digits, '-' and '.' "
	     "are allowed"},
	    {"[domain a.example]\nrelay = [mx.example]:25\n",
	     "t.ini:2: [domain a.example] relay: bad IPv6 address "
	     "'mx.example'"},
	    {"[delivery]\noutbound_throttle_messages = 0/1m\n",
	     "t.ini:2: [delivery] outbound_throttle_messages: rate count "
	     "must be at least 1 (leave the value empty for "
	     "unlimited)"},
	};

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		print_message("case %zu\n", i);
		expect_error(c[i].text, c[i].want);
	}
}

static void
test_errors_in_scratch_sections(void **state)
{
	/* Keys under a broken [domain]/[binding] name are still checked;
	 * keys under an unknown section are not (one error is enough). */
	static const char text[] = "[domain a b]\n"
				   "port = 0\n"
				   "[binding -]\n"
				   "ehlo = -x\n"
				   "[nosuch]\n"
				   "port = 0\n";
	static const char *const want[] = {
	    "t.ini:1: [domain a b]: bad domain 'a b': only letters, digits, "
	    "'-' and '.' are allowed",
	    "t.ini:2: [domain a b] port: 0 is out of range: expected 1 to "
	    "65535",
	    "t.ini:4: [binding -] ehlo: bad host name '-x': a label starts or "
	    "ends with '-'",
	    "t.ini:5: unknown section [nosuch]", NULL};

	(void)state;
	expect_errors_buf(text, sizeof(text) - 1, want);
}

static void
test_many_errors(void **state)
{
	/* Every error is reported, in line order, including the ones found
	 * only after the parse (lines 3 and 9). */
	static const char text[] = "[server]\n"
				   "hostname = -bad\n"
				   "[tls]\n"
				   "cert_file = /c\n"
				   "[listener]\n"
				   "port = 25\n"
				   "max_errors = many\n"
				   "[domain a.example]\n"
				   "retry_interval = 1d\n"
				   "[binding x]\n"
				   "[binding x]\n"
				   "junk\n";
	static const char *const want[] = {
	    "t.ini:2: [server] hostname: bad host name '-bad': a label starts "
	    "or ends with '-'",
	    "t.ini:4: [tls] cert_file is set but key_file is not",
	    "t.ini:6: key 'port' does not belong in [listener] (it goes in "
	    "[delivery] or [domain NAME])",
	    "t.ini:7: [listener] max_errors: bad number 'many': expected a "
	    "whole number",
	    "t.ini:9: [domain a.example] retry_interval (1d) is greater than "
	    "max_retry_interval (12h)",
	    "t.ini:11: duplicate section [binding x] (first on line 10)",
	    "t.ini:12: expected 'key = value', '[section]' or a comment",
	    NULL};

	(void)state;
	expect_errors_buf(text, sizeof(text) - 1, want);
}

static void
test_overlong_line(void **state)
{
	char text[20000], line[12000];
	struct config *cfg;
	const char *w1[] = {"t.ini:2: line too long (198 bytes; the limit is "
			    "197)",
			    "t.ini:3: unknown key 'x' in [tls]", NULL};
	const char *w2[] = {"t.ini:2: line too long (10000 bytes; the limit "
			    "is 197)",
			    NULL};

	(void)state;
	/* 197 bytes is fine (a key line and a comment). */
	snprintf(text, sizeof(text), "[tls]\nciphers = %0187d\n;%0196d\n", 7,
		 7);
	cfg = load_ok(text);
	assert_int_equal(strlen(cfg->tls.ciphers), 187);
	config_free(cfg);
	/* 198 bytes is an error naming the line, not a silent truncation;
	 * the next line is still checked with the right number. */
	snprintf(text, sizeof(text), "[tls]\nciphers = %0188d\nx = 1\n", 7);
	expect_errors_buf(text, strlen(text), w1);
	/* The same with CRLF: the CR does not count. */
	snprintf(text, sizeof(text), "[tls]\r\nciphers = %0188d\r\nx = 1\r\n",
		 7);
	expect_errors_buf(text, strlen(text), w1);
	memset(line, 'a', 10000);
	line[10000] = '\0';
	snprintf(text, sizeof(text), "[tls]\n%s", line);
	expect_errors_buf(text, strlen(text), w2);
}

static void
test_nul_byte(void **state)
{
	static const char text[] = "[server]\nhostname = a\0b\n[nosuch]\n";
	static const char *const want[] = {
	    "t.ini:2: control character 0x00 in line",
	    "t.ini:3: unknown section [nosuch]", NULL};

	(void)state;
	expect_errors_buf(text, sizeof(text) - 1, want);
}

static void
test_bom_crlf_comments(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_ok("\xef\xbb\xbf[server]\r\n"
		      "  hostname = a.example   ; inline comment\r\n"
		      "# full-line comment\r\n"
		      "; another\r\n"
		      "\t\r\n"
		      "[tls]\r\n"
		      "ciphers = A;B#C\r\n"
		      "[redis] ; comment after a header\n"
		      "prefix = px ;y\n"
		      "[ dns ]\n"
		      "servers=127.0.0.1:53\n"
		      "[domain   spaced.example  ]\n"
		      "port = 26");
	assert_string_equal(cfg->server.hostname, "a.example");
	assert_string_equal(cfg->tls.ciphers, "A;B#C");
	assert_string_equal(cfg->redis.prefix, "px");
	assert_int_equal(cfg->dns.servers.n, 1);
	assert_int_equal(config_domain(cfg, "spaced.example")->port, 26);
	config_free(cfg);
	/* "p;x" is not a valid prefix: the ';' without a blank is kept. */
	expect_error(
	    "[redis]\nprefix = p;x ;y\n",
	    "t.ini:2: [redis] prefix: bad name 'p;x': expected 1 to 64 of A-Z "
	    "a-z 0-9 _ . -");
}

static void
test_domain_normalization(void **state)
{
	struct config *cfg = load_ok("[domain EXAMPLE.com.]\n"
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
	struct config *cfg = load_ok("[delivery]\n"
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
	struct config *cfg = load_ok("[server]\n"
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
	struct config *cfg = load_ok("[server]\n"
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
	cfg = load_ok("[tls]\ncert_file = /c\nkey_file = /k\n"
		      "[listener]\ntls = none\n"
		      "[redis]\nurl = redis://[::1]\n");
	assert_int_equal(cfg->listener.tls, CONFIG_LTLS_NONE);
	assert_int_equal(cfg->redis.kind, CONFIG_REDIS_TCP);
	assert_string_equal(cfg->redis.tcp.host, "::1");
	assert_int_equal(cfg->redis.tcp.port, 6379);
	config_free(cfg);
}

static void
test_file_errors(void **state)
{
	struct config_err_list errs;
	struct config *cfg = (struct config *)1;
	char want[256];

	(void)state;
	config_err_list_init(&errs);
	assert_int_equal(config_load("/nonexistent/ringmta.ini", &cfg, &errs),
			 -ENOENT);
	assert_null(cfg);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.v[0], "/nonexistent/ringmta.ini: cannot "
				       "open: No such file or directory");
	assert_int_equal(config_load(test_dir, &cfg, &errs), -EINVAL);
	assert_int_equal(errs.n, 2);
	snprintf(want, sizeof(want), "%s: not a regular file: Invalid argument",
		 test_dir);
	assert_string_equal(errs.v[1], want);
	config_err_list_fini(&errs);
	/* An empty file is the built-in configuration. */
	assert_int_equal(load_file("", 0, &cfg, &errs), 0);
	assert_int_equal(cfg->delivery.policy.port, 25);
	config_free(cfg);
	config_err_list_fini(&errs);
	/* An error in a file names the file's path. */
	assert_int_equal(load_file("[x]\n", 4, &cfg, &errs), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: unknown section [x]", test_path);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.v[0], want);
	config_err_list_fini(&errs);
}

static void
test_error_cap(void **state)
{
	char *text = malloc(150 * 8 + 1);
	struct config_err_list errs;
	struct config *cfg;
	size_t o = 0;

	(void)state;
	for (int i = 0; i < 150; i++)
		o += (size_t)sprintf(text + o, "[bad%02d]\n", i % 100);
	config_err_list_init(&errs);
	assert_int_equal(config_load_string("t.ini", text, &cfg, &errs),
			 -EINVAL);
	assert_int_equal(errs.n, CONFIG_ERR_MAX + 1);
	assert_int_equal(errs.dropped, 50);
	assert_string_equal(errs.v[0], "t.ini:1: unknown section [bad00]");
	assert_string_equal(errs.v[CONFIG_ERR_MAX], "t.ini: 50 more errors "
						    "not shown");
	config_err_list_fini(&errs);
	free(text);
}

static void
test_unsafe_sync(void **state)
{
	struct config *cfg = load_ok("[spool]\nsync = no\nunsafe_no_sync = "
				     "yes\n");

	(void)state;
	assert_false(cfg->spool.sync);
	assert_true(cfg->spool.unsafe_no_sync);
	config_free(cfg);
	/* unsafe_no_sync = yes alone also turns fdatasync off. */
	cfg = load_ok("[spool]\nunsafe_no_sync = yes\n");
	assert_false(cfg->spool.sync);
	config_free(cfg);
	cfg = load_ok("[spool]\nunsafe_no_sync = no\nsync = yes\n");
	assert_true(cfg->spool.sync);
	config_free(cfg);
	expect_error(
	    "[spool]\nunsafe_no_sync = yes\nsync = yes\n",
	    "t.ini:3: [spool] sync = yes contradicts unsafe_no_sync = yes");
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
	    cmocka_unit_test(test_error_classes),
	    cmocka_unit_test(test_errors_in_scratch_sections),
	    cmocka_unit_test(test_many_errors),
	    cmocka_unit_test(test_overlong_line),
	    cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_bom_crlf_comments),
	    cmocka_unit_test(test_domain_normalization),
	    cmocka_unit_test(test_inheritance),
	    cmocka_unit_test(test_bindings),
	    cmocka_unit_test(test_derived),
	    cmocka_unit_test(test_file_errors),
	    cmocka_unit_test(test_error_cap),
	    cmocka_unit_test(test_unsafe_sync),
	    cmocka_unit_test(test_str_tables),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
