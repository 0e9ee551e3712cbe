#!/usr/bin/env bash
# ringctl against a running ringmta and its embedded redis-server: the
# domain, binding, node and total keys appear within a publication round,
# suspend/resume reach ringmta through PREFIX:ctl within a second and
# survive a restart, the redis-server stops with ringmta, and ringctl
# gives clear errors and non-zero exits (Redis unreachable, unknown or
# invalid domain, commands not built yet).
source "$(dirname "$0")/lib.sh"
BIN=$T_BUILD/ringmta
CTL=$T_BUILD/ringctl
NODNS=$(free_port)
CONF=$T_DIR/r.conf
LOG=$T_DIR/r.log

cat >"$CONF" <<CONF
[server]
hostname = relay.test.example
node_id = Node-A
state_dir = $T_DIR/var
delivery_log = $T_DIR/delivery.jsonl

[listener]
address = 127.0.0.1:0
relay_networks = 127.0.0.1/32

[redis]
prefix = rt

[delivery]
allowed_networks = 127.0.0.0/8
; intake only: units stay on the active queues
suspended = true

[dns]
servers = 127.0.0.1:$NODNS
CONF

start() {
	"$BIN" -c "$CONF" 2>>"$LOG" &
	PID=$!
	t_daemon $PID
	PORT=
	for _ in $(seq 200); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$LOG" | tail -1)
		[ -n "$PORT" ] && break
		kill -0 $PID 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$PORT" ]
}

# send RCPT...: one message from a relay client.
send() {
	/usr/bin/python3 - "$PORT" "$@" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.sendmail("a@relay.test.example", sys.argv[2:], "Subject: t\r\n\r\nhi\r\n")
s.quit()
PY
}

# until_ok SECONDS CMD...: retry CMD every 0.1 s.
until_ok() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq $n); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# jq_py EXPR: evaluate a Python expression on the JSON in stdin (as d).
jq_py() {
	/usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"
}

t_case "ringctl without a running ringmta: exit 69, says Redis is unreachable"
out=$("$CTL" -c "$CONF" summary 2>&1)
rc=$?
if [ $rc -eq 69 ] && grep -q "cannot reach redis at $T_DIR/var/redis/redis.sock" <<<"$out"; then
	t_ok
else
	t_fail "rc=$rc: $out"
fi

t_case "ringmta starts its own redis-server under state_dir"
if start && [ -S "$T_DIR/var/redis/redis.sock" ] && kill -0 "$(cat "$T_DIR/var/redis/redis.pid")"; then
	t_ok
else
	t_fail "$(tail -5 "$LOG")"
fi
RPID=$(cat "$T_DIR/var/redis/redis.pid" 2>/dev/null)

domain_active() { # DOMAIN N
	"$CTL" -c "$CONF" --json domain "$1" | jq_py "d['active'] == $2 and d['name'] == '$1'"
}
t_case "a queued message shows in domain and domains within 2 s"
if send u1@example.com u2@example.com v@other.example &&
	until_ok 3 domain_active example.com 1 &&
	"$CTL" -c "$CONF" domains | grep -Eq '^other\.example +1 +0 ' &&
	"$CTL" -c "$CONF" --json domains | jq_py "[x['name'] for x in d] == ['example.com', 'other.example'] and d[0]['received'] == 1"; then
	t_ok
else
	t_fail "$("$CTL" -c "$CONF" domains 2>&1)"
fi

t_case "summary: this node's heartbeat and totals"
js=$("$CTL" -c "$CONF" --json summary)
if jq_py "d['nodes'][0]['id'] == 'node-a' and d['nodes'][0]['version'] != '' and d['totals']['received'] == 2 and d['domains'] == 2" <<<"$js" &&
	"$CTL" -c "$CONF" summary | grep -q "^node-a "; then
	t_ok
else
	t_fail "$js"
fi

t_case "the node key expires (TTL set), the domain key does not"
ttl=$(redis-cli -s "$T_DIR/var/redis/redis.sock" TTL rt:node:node-a)
dttl=$(redis-cli -s "$T_DIR/var/redis/redis.sock" TTL rt:domain:example.com)
if [ "$ttl" -gt 0 ] && [ "$ttl" -le 10 ] && [ "$dttl" = -1 ]; then t_ok; else t_fail "ttl=$ttl dttl=$dttl"; fi

t_case "bindings lists the default binding"
if "$CTL" -c "$CONF" bindings | grep -Eq '^default +0 ' &&
	"$CTL" -c "$CONF" --json bindings | jq_py "d[0]['name'] == 'default' and d[0]['suspended'] == 0"; then
	t_ok
else
	t_fail "$("$CTL" -c "$CONF" bindings 2>&1)"
fi

t_case "unknown and invalid domains: exit 1 with a clear message"
o1=$("$CTL" -c "$CONF" domain nosuch.example 2>&1); r1=$?
o2=$("$CTL" -c "$CONF" domain 'bad*name.example' 2>&1); r2=$?
o3=$("$CTL" -c "$CONF" suspend 'a:b' 2>&1); r3=$?
if [ $r1 -eq 1 ] && grep -q "unknown domain nosuch.example" <<<"$o1" &&
	[ $r2 -eq 1 ] && grep -q "not a domain name" <<<"$o2" &&
	[ $r3 -eq 1 ] && grep -q "not a domain name" <<<"$o3"; then
	t_ok
else
	t_fail "$r1 $o1 / $r2 $o2 / $r3 $o3"
fi

t_case "suspend reaches ringmta within 1 s and shows in the domain hash"
out=$("$CTL" -c "$CONF" suspend Example.COM.)
if grep -q "example.com suspended (1 ringmta notified)" <<<"$out" &&
	until_ok 1 grep -q "domain example.com suspended by an administrator" "$LOG" &&
	until_ok 2 sh -c "'$CTL' -c '$CONF' --json domain example.com | grep -q '\"suspended\":1'"; then
	t_ok
else
	t_fail "$out / $(grep -i suspend "$LOG" | tail -3)"
fi

t_case "SIGTERM stops ringmta and its redis-server"
t_stop $PID
if ! kill -0 "$RPID" 2>/dev/null; then t_ok; else t_fail "redis-server $RPID still runs"; fi

received_is() { # DOMAIN N
	"$CTL" -c "$CONF" --json domain "$1" | jq_py "d['received'] == $2"
}
t_case "the suspension survives a restart; replays are not counted again"
: >"$LOG"
if start && until_ok 3 grep -q "domain example.com suspended by an administrator" "$LOG" &&
	send w@example.com && until_ok 3 received_is example.com 2 &&
	sleep 1.2 && received_is example.com 2 && received_is other.example 1 &&
	domain_active example.com 2; then
	t_ok
else
	t_fail "$(tail -5 "$LOG"); $("$CTL" -c "$CONF" domain example.com 2>&1)"
fi

t_case "resume reaches ringmta and clears the hash"
out=$("$CTL" -c "$CONF" --json resume example.com)
if jq_py "d['suspended'] == False and d['notified'] == 1" <<<"$out" &&
	until_ok 1 grep -q "domain example.com resumed by an administrator" "$LOG" &&
	until_ok 2 sh -c "'$CTL' -c '$CONF' --json domain example.com | grep -q '\"suspended\":0'" &&
	[ "$(redis-cli -s "$T_DIR/var/redis/redis.sock" SCARD rt:suspended)" = 0 ]; then
	t_ok
else
	t_fail "$out"
fi

t_case "--redis overrides the configuration; commands not built yet exit 69"
o1=$("$CTL" --redis "unix:$T_DIR/var/redis/redis.sock" -c "$CONF" domains); r1=$?
o2=$("$CTL" -c "$CONF" queue 2>&1); r2=$?
o3=$("$CTL" --redis 127.0.0.1:$NODNS summary 2>&1); r3=$?
if [ $r1 -eq 0 ] && grep -q '^example.com ' <<<"$o1" && [ $r2 -eq 69 ] &&
	grep -q "not implemented yet" <<<"$o2" && [ $r3 -eq 69 ] &&
	grep -q "cannot reach redis" <<<"$o3"; then
	t_ok
else
	t_fail "$r1 / $r2 $o2 / $r3 $o3"
fi

t_stop $PID

# An administrator's suspension holds delivery; resume releases it.
"$T_BUILD/ringsink" --listen 127.0.0.1:0 --port-file "$T_DIR/sink.port" \
	--summary "$T_DIR/sink.json" --quiet >/dev/null 2>&1 &
t_daemon $!
SINKPID=$!
wait_file "$T_DIR/sink.port" 5
SINK=$(head -1 "$T_DIR/sink.port")
sed -i 's/^suspended = true$/suspended = false/' "$CONF"
cat >>"$CONF" <<CONF2

[domain held.test]
relay = $SINK
retry_interval = 1s
CONF2
sink_messages() {
	kill -USR1 $SINKPID
	sleep 0.2
	json_get "$T_DIR/sink.json" messages
}
sink_is() {
	[ "$(sink_messages)" = "$1" ]
}
t_case "a suspended domain is not delivered; resume delivers it"
: >"$LOG"
out=
if start && out=$("$CTL" -c "$CONF" suspend held.test 2>&1) &&
	until_ok 3 grep -q "domain held.test suspended by an administrator" "$LOG" &&
	send x@held.test && sleep 2 && [ "$(sink_messages)" = 0 ] &&
	"$CTL" -c "$CONF" resume held.test >/dev/null &&
	until_ok 5 sink_is 1; then
	t_ok
else
	t_fail "$out; sink $(sink_messages); $(tail -5 "$LOG")"
fi
t_stop $PID
t_finish
