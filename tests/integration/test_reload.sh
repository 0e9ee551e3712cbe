#!/usr/bin/env bash
# test_reload.sh: SIGHUP applies new bindings and [dns] servers.  ringmta
# starts with a resolver port where nothing listens (lookups fail, the
# message is deferred) and a default binding on 127.0.0.3 saying
# "before.test"; after the file is rewritten and SIGHUP sent, the retry and
# a new message resolve through a private dnsmasq and reach ringsink from
# 127.0.0.4 with EHLO "after.test".  A message deferred on a binding that
# the new file drops ("old") moves to the default binding and is delivered
# the new way too.  A retired binding stays retired through `ringctl
# resume`.  Then 20 bindings are added over 5 reloads (more than the
# spare slots: the tables grow) while mail waits on them, and each
# message leaves from its own binding; [dns] timeout, tries and cache_size
# changes are applied by a reload, and so are [redis] cluster_lease_ttl
# and cluster_unreachable.
cd "$(dirname "$0")/../.." || exit 1
source tests/integration/lib.sh

command -v dnsmasq >/dev/null || t_skip "dnsmasq not installed"
BIN=$T_BUILD/ringmta
SINK=$T_BUILD/ringsink
CTL=$T_BUILD/ringctl
SEND="/usr/bin/python3 tests/integration/routing_send.py"
DLOG=$T_DIR/delivery.jsonl

DNS_PORT=$(free_port)
dnsmasq -k --pid-file= --conf-file=/dev/null --no-resolv --no-hosts \
	--listen-address=127.0.0.1 --bind-interfaces -p "$DNS_PORT" \
	--local=/test/ \
	--mx-host=example.test,mx.example.test,10 \
	--host-record=mx.example.test,127.0.0.2 \
	>"$T_DIR/dnsmasq.out" 2>&1 &
t_daemon $!
# Nothing ever listens here: the first lookups are refused.
DEAD_DNS=$(free_port)

P=$(free_port 127.0.0.2)
"$SINK" --listen 127.0.0.2:$P --summary "$T_DIR/sink.json" \
	--maildir "$T_DIR/sink" --quiet 2>"$T_DIR/sink.err" &
SINK_PID=$!
t_daemon $SINK_PID
if ! wait_port 127.0.0.2 "$P" 10; then
	t_case "sink fixture"
	t_fail "no sink on 127.0.0.2:$P"
	t_finish
fi

# write_conf DNS_PORT ADDRESS EHLO [EXTRA]: the configuration file.
write_conf() {
	t_mta_conf "$T_DIR/rl.conf.tmp" "$1"
	cat >>"$T_DIR/rl.conf.tmp" <<CONF
timeout = ${DNS_TIMEOUT:-300ms}
tries = ${DNS_TRIES:-1}
cache_size = ${DNS_CACHE:-100000}

[delivery]
port = $P
allowed_networks = 127.0.0.0/8
retry_interval = 1s
max_retry_interval = 2s
tls = none

[binding default]
address = $2
ehlo = $3
${4:-}
CONF
	mv "$T_DIR/rl.conf.tmp" "$T_DIR/rl.conf"
}
write_conf "$DEAD_DNS" 127.0.0.3 before.test \
	"$(printf '[binding old]\naddress = 127.0.0.6\nehlo = old.test')"

t_mta_start_or_end "$T_DIR/rl.conf" "$T_DIR/rl.log"
LPORT=$MTA_PORT

# jq_log and wait_log (lib.sh) read $DLOG.
# sum_check PYTHON-EXPR: over S, ringsink's summary.
sum_check() {
	sink_refresh "$SINK_PID" "$T_DIR/sink.json"
	json_check "$T_DIR/sink.json" "$1"
}
# wait_text FILE TEXT [SECONDS]: until FILE has a line with TEXT.
wait_text() {
	local i
	for i in $(seq $((${3:-10} * 10))); do
		grep -q -- "$2" "$1" && return 0
		sleep 0.1
	done
	echo "no '$2' in $1"
	tail -20 "$1"
	return 1
}

# ---- before: the resolver is refused, nothing is delivered ----
$SEND "$LPORT" a@sender.test r1@example.test
$SEND "$LPORT" a@sender.test ro@example.test --header "X-Binding: old"
t_check "before reload: lookup refused, messages deferred" wait_log \
	'ev("deferred", "r1@example.test") and
	 ev("deferred", "ro@example.test")[0]["binding"] == "old" and
	 not ev("delivered", "r1@example.test")' 20

# ---- reload: new resolver, new address and EHLO, "old" dropped ----
write_conf "$DNS_PORT" 127.0.0.4 after.test
kill -HUP $MTA_PID
t_check "SIGHUP: configuration reloaded" \
	wait_text "$T_DIR/rl.log" "configuration reloaded"
t_check "SIGHUP: the changed binding is logged" \
	wait_text "$T_DIR/rl.log" "binding default changed"
t_check "SIGHUP: the removed binding is logged" \
	wait_text "$T_DIR/rl.log" "binding old removed"
t_check "SIGHUP: new resolver servers in use" \
	wait_text "$T_DIR/rl.log" "resolver server(s) in use"

$SEND "$LPORT" a@sender.test r2@example.test
t_check "after reload: the retries and a new message are delivered" wait_log \
	'ev("delivered", "r1@example.test") and
	 ev("delivered", "r2@example.test") and
	 ev("delivered", "ro@example.test")' 30
t_check "after reload: the removed binding's unit left from default" wait_log \
	'ev("delivered", "ro@example.test")[0]["binding"] == "default"'
t_check "after reload: ringsink saw the new source address and EHLO" \
	sum_check 'S["clients"].get("127.0.0.4", {}).get("messages", 0) == 3 and
	 S["helo"].get("after.test", {}).get("messages", 0) == 3 and
	 "old.test" not in S["helo"] and
	 "before.test" not in S["helo"] and "127.0.0.3" not in S["clients"]'

# ---- a retired binding stays retired through ringctl resume ----
# ringctl suspends and resumes domains only: a binding name is not one.
t_case "ringctl resume old: refused, it names no domain"
if "$CTL" -c "$T_DIR/rl.conf" resume old >"$T_DIR/ctl.out" 2>&1; then
	t_fail "exit 0: $(cat "$T_DIR/ctl.out")"
elif grep -q "'old' is not a domain name" "$T_DIR/ctl.out"; then
	t_ok
else
	t_fail "$(cat "$T_DIR/ctl.out")"
fi
t_case "ringctl resume old: X-Binding old is still refused"
if $SEND "$LPORT" a@sender.test rr@example.test \
	--header "X-Binding: old" 2>"$T_DIR/rr.err"; then
	t_fail "accepted"
elif grep -q "Unknown binding 'old'" "$T_DIR/rr.err"; then
	t_ok
else
	t_fail "$(tail -1 "$T_DIR/rr.err")"
fi
t_check "ringctl resume old: the binding was not resumed" \
	bash -c "! grep -q 'binding old resumed' '$T_DIR/rl.log'"

# ---- a suspension lifted by a reload wakes the domain at once ----
write_conf "$DNS_PORT" 127.0.0.4 after.test \
	"$(printf '[domain example.test]\nsuspended = true')"
kill -HUP $MTA_PID
t_check "SIGHUP: example.test suspended" \
	wait_text "$T_DIR/rl.log" "configuration reloaded"
sleep 0.5
$SEND "$LPORT" a@sender.test r4@example.test
sleep 2
t_check "while suspended: nothing delivered" jq_log 'not ev("delivered", "r4@example.test")'
write_conf "$DNS_PORT" 127.0.0.4 after.test
kill -HUP $MTA_PID
# well under the maintainer's 15 s scan: the reload itself woke it
t_check "suspension lifted by SIGHUP: delivered within 4 s" wait_log \
	'ev("delivered", "r4@example.test")' 4

# ---- 20 bindings added over 5 reloads while mail waits on them ----
# grow_extra K [SUSPEND]: the bindings g1_0 .. gK_3 (4 per reload), and
# example.test suspended when SUSPEND is given.
grow_extra() {
	local r i
	[ -n "${2:-}" ] && printf '[domain example.test]\nsuspended = true\n'
	for r in $(seq "$1"); do
		for i in 0 1 2 3; do
			printf '[binding g%d_%d]\naddress = 127.0.0.4\nehlo = g%d-%d.test\n' \
				"$r" "$i" "$r" "$i"
		done
	done
}
for r in 1 2 3 4 5; do
	write_conf "$DNS_PORT" 127.0.0.4 after.test "$(grow_extra $r suspend)"
	kill -HUP $MTA_PID
	t_check "reload $r: 4 bindings added" \
		wait_text "$T_DIR/rl.log" "binding g${r}_3 added"
	for i in 0 1 2 3; do
		$SEND "$LPORT" a@sender.test "g${r}-$i@example.test" \
			--header "X-Binding: g${r}_$i"
	done
done
t_check "the binding table grew past its spare slots" \
	wait_text "$T_DIR/rl.log" "binding table grown"
sleep 1
t_check "while suspended: none of the 20 delivered" jq_log \
	'not any(e["event"] == "delivered" and e["rcpt"].startswith("g")
		 for e in E)'
# the suspension lifted, and new [dns] timeout, tries and cache size
DNS_TIMEOUT=500ms DNS_TRIES=2 DNS_CACHE=5000 \
	write_conf "$DNS_PORT" 127.0.0.4 after.test "$(grow_extra 5)"
kill -HUP $MTA_PID
t_check "SIGHUP: new [dns] timeout and tries for new queries" \
	wait_text "$T_DIR/rl.log" "dns: timeout 500 ms, 2 tries for new queries"
t_check "SIGHUP: new [dns] cache size" \
	wait_text "$T_DIR/rl.log" "dns: cache of 5000 answers"
t_check "each of the 20 left from its own binding" wait_log \
	'all(ev("delivered", "g%d-%d@example.test" % (r, i)) and
	     ev("delivered", "g%d-%d@example.test" % (r, i))[0]["binding"] ==
	     "g%d_%d" % (r, i) for r in range(1, 6) for i in range(4))' 30
t_check "ringsink saw the 20 EHLO names" \
	sum_check 'all(S["helo"].get("g%d-%d.test" % (r, i), {}).get("messages")
		 == 1 for r in range(1, 6) for i in range(4))'

# ---- a bad file keeps everything ----

echo "[dns]" >"$T_DIR/rl.conf"
echo "servers = not-an-address" >>"$T_DIR/rl.conf"
kill -HUP $MTA_PID
t_check "SIGHUP with a bad file: the running configuration is kept" \
	wait_text "$T_DIR/rl.log" "keeping the running configuration"
$SEND "$LPORT" a@sender.test r3@example.test
t_check "after a refused reload: still delivered the new way" wait_log \
	'ev("delivered", "r3@example.test")' 20

# ---- [redis] cluster_lease_ttl and cluster_unreachable apply on reload ----
write_conf "$DNS_PORT" 127.0.0.4 after.test "$(grow_extra 5
	printf '[redis]\ncluster_lease_ttl = 6s\ncluster_unreachable = local\n')"
kill -HUP $MTA_PID
t_check "SIGHUP: new cluster lease TTL and unreachable policy applied" \
	wait_text "$T_DIR/rl.log" \
	"cluster limits: lease TTL 15000 ms -> 6000 ms, unreachable closed -> local"
$SEND "$LPORT" a@sender.test r5@example.test
t_check "after the cluster reload: still delivered" wait_log \
	'ev("delivered", "r5@example.test")' 20

t_case "ringmta stops cleanly"
t_stop $MTA_PID
if grep -q "Sanitizer\|runtime error" "$T_DIR/rl.log"; then
	t_fail "sanitizer report in rl.log"
else
	t_ok
fi
t_finish
