/* SPDX-License-Identifier: MIT */
/*
 * test_config_errors.c: every config error class with its exact
 * "file:line: reason", errors in sections that are thrown away, the error
 * cap, the line reader's limits (overlong lines, NUL, BOM, CRLF, comments),
 * file errors and the unsafe-sync warning.  Files are written to a private
 * temporary directory (config_fixture.h).
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
		cfx_expect_error(c[i].text, c[i].want);
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
	cfx_expect_errors_buf(text, sizeof(text) - 1, want);
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
	cfx_expect_errors_buf(text, sizeof(text) - 1, want);
}

static void
test_overlong_line(void **state)
{
	static char text[20000], line[12000], host[254];
	struct config *cfg;
	const char *w1[] = {"t.ini:2: line too long (4094 bytes; the limit is "
			    "4093)",
			    "t.ini:3: unknown key 'x' in [tls]", NULL};
	const char *w2[] = {"t.ini:2: line too long (10000 bytes; the limit "
			    "is 4093)",
			    NULL};

	(void)state;
	/* 4,093 bytes is fine (a key line and a comment): far past libinih's
	 * own 200-byte default, which config_load_buf lifts. */
	snprintf(text, sizeof(text), "[tls]\nciphers = %04083d\n;%04092d\n", 7,
		 7);
	cfg = cfx_load_ok(text);
	assert_int_equal(strlen(cfg->tls.ciphers), 4083);
	config_free(cfg);
	/* A host name of 253 bytes (the longest DNS allows) on one line. */
	for (size_t i = 0; i < 253; i++)
		host[i] = (i % 64 == 63) ? '.' : 'a';
	host[253] = '\0';
	snprintf(text, sizeof(text), "[server]\nhostname = %s\n", host);
	cfg = cfx_load_ok(text);
	assert_string_equal(cfg->server.hostname, host);
	config_free(cfg);
	/* 4,094 bytes is an error naming the line, not a silent truncation;
	 * the next line is still checked with the right number. */
	snprintf(text, sizeof(text), "[tls]\nciphers = %04084d\nx = 1\n", 7);
	cfx_expect_errors_buf(text, strlen(text), w1);
	/* The same with CRLF: the CR does not count. */
	snprintf(text, sizeof(text), "[tls]\r\nciphers = %04084d\r\nx = 1\r\n",
		 7);
	cfx_expect_errors_buf(text, strlen(text), w1);
	memset(line, 'a', 10000);
	line[10000] = '\0';
	snprintf(text, sizeof(text), "[tls]\n%s", line);
	cfx_expect_errors_buf(text, strlen(text), w2);
}

static void
test_nul_byte(void **state)
{
	static const char text[] = "[server]\nhostname = a\0b\n[nosuch]\n";
	static const char *const want[] = {
	    "t.ini:2: control character 0x00 in line",
	    "t.ini:3: unknown section [nosuch]", NULL};

	(void)state;
	cfx_expect_errors_buf(text, sizeof(text) - 1, want);
}

static void
test_bom_crlf_comments(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = cfx_load_ok("\xef\xbb\xbf[server]\r\n"
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
	cfx_expect_error(
	    "[redis]\nprefix = p;x ;y\n",
	    "t.ini:2: [redis] prefix: bad name 'p;x': expected 1 to 64 of A-Z "
	    "a-z 0-9 _ . -");
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
	assert_int_equal(config_load(cfx_dir, &cfg, &errs), -EINVAL);
	assert_int_equal(errs.n, 2);
	snprintf(want, sizeof(want), "%s: not a regular file: Invalid argument",
		 cfx_dir);
	assert_string_equal(errs.v[1], want);
	config_err_list_fini(&errs);
	/* An empty file is the built-in configuration. */
	assert_int_equal(cfx_load_file("", 0, &cfg, &errs), 0);
	assert_int_equal(cfg->delivery.policy.port, 25);
	config_free(cfg);
	config_err_list_fini(&errs);
	/* An error in a file names the file's path. */
	assert_int_equal(cfx_load_file("[x]\n", 4, &cfg, &errs), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: unknown section [x]", cfx_path);
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
	struct config *cfg = cfx_load_ok("[spool]\nsync = no\nunsafe_no_sync = "
					 "yes\n");

	(void)state;
	assert_false(cfg->spool.sync);
	assert_true(cfg->spool.unsafe_no_sync);
	config_free(cfg);
	/* unsafe_no_sync = yes alone also turns fdatasync off. */
	cfg = cfx_load_ok("[spool]\nunsafe_no_sync = yes\n");
	assert_false(cfg->spool.sync);
	config_free(cfg);
	cfg = cfx_load_ok("[spool]\nunsafe_no_sync = no\nsync = yes\n");
	assert_true(cfg->spool.sync);
	config_free(cfg);
	cfx_expect_error(
	    "[spool]\nunsafe_no_sync = yes\nsync = yes\n",
	    "t.ini:3: [spool] sync = yes contradicts unsafe_no_sync = yes");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_classes),
	    cmocka_unit_test(test_errors_in_scratch_sections),
	    cmocka_unit_test(test_many_errors),
	    cmocka_unit_test(test_overlong_line),
	    cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_bom_crlf_comments),
	    cmocka_unit_test(test_file_errors),
	    cmocka_unit_test(test_error_cap),
	    cmocka_unit_test(test_unsafe_sync),
	};

	return cmocka_run_group_tests(tests, cfx_setup, cfx_teardown);
}
