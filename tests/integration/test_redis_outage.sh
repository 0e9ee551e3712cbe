#!/usr/bin/env bash
# Redis goes away under load and comes back empty: ringmta relays a stream
# of messages to ringsink through a shared redis-server (unix socket, no
# persistence) that is killed with -9 mid-stream and restarted, then wiped
# with FLUSHALL while it runs.  Nothing is lost (ringsink's count equals
# the acknowledged count), each outage is logged once, the keys are
# rebuilt, and the counters in Redis converge to the delivery log's.  A
# second node on the same Redis answers ringctl's requests too.
source "$(dirname "$0")/lib.sh"
BIN=$T_BUILD/ringmta
CTL=$T_BUILD/ringctl
NODNS=$(free_port)
CONF=$T_DIR/r.conf
LOG=$T_DIR/r.log
SOCK=$T_DIR/redis.sock
N=${OUTAGE_MESSAGES:-1500}
command -v redis-server >/dev/null || t_skip "no redis-server"

redis_start() {
	t_redis_start "$SOCK"
}
rcli() {
	redis-cli -s "$SOCK" "$@"
}

"$T_BUILD/ringsink" --listen 127.0.0.1:0 --port-file "$T_DIR/sink.port" \
	--summary "$T_DIR/sink.json" --quiet >/dev/null 2>&1 &
SINKPID=$!
t_daemon $SINKPID
wait_file "$T_DIR/sink.port" 5
SINK=$(head -1 "$T_DIR/sink.port")
sink_messages() {
	sink_refresh $SINKPID "$T_DIR/sink.json" &&
		json_get "$T_DIR/sink.json" messages
}

cat >"$CONF" <<CONF
[server]
hostname = relay.test.example
node_id = out-1
state_dir = $T_DIR/var
delivery_log = $T_DIR/delivery.jsonl

[listener]
address = 127.0.0.1:0
relay_networks = 127.0.0.1/32

[redis]
url = unix:$SOCK
prefix = ot

[delivery]
allowed_networks = 127.0.0.0/8
retry_interval = 1s

[domain dest0.test]
relay = $SINK

[dns]
servers = 127.0.0.1:$NODNS
CONF

t_case "ringmta starts against a shared redis-server"
PORT=
if redis_start && t_mta_start "$CONF" "$LOG"; then
	PID=$MTA_PID PORT=$MTA_PORT
fi
if [ -n "$PORT" ]; then t_ok; else t_fail "$(tail -5 "$LOG")"; fi

t_case "redis killed -9 under load, restarted empty: nothing lost, one line each way"
ACKS=$T_DIR/acks
HALF=$((N / 2))
# Half the messages with Redis up; then Redis dies, and the other half is
# injected while it is down (so the outage is under load by construction,
# however fast intake is); Redis comes back empty while they deliver.
/usr/bin/python3 "$(dirname "$0")/inject.py" 127.0.0.1 "$PORT" "$HALF" "$ACKS" --conns 4 \
	>"$T_DIR/inject.out" 2>&1
for _ in $(seq 200); do
	[ "$(rcli HGET ot:stats deliveries)" -gt 0 ] 2>/dev/null && break
	sleep 0.05
done
kill -9 $RPID
wait $RPID 2>/dev/null
/usr/bin/python3 "$(dirname "$0")/inject.py" 127.0.0.1 "$PORT" "$((N - HALF))" "$ACKS" --conns 4 \
	>>"$T_DIR/inject.out" 2>&1 &
INJ=$!
sleep 2
during=$(wc -l <"$ACKS") # acknowledged so far, some with Redis down
redis_start
wait $INJ
irc=$?
acked=$(grep -c ' ' "$ACKS")
for _ in $(seq 300); do
	[ "$(sink_messages)" = "$acked" ] && break
	sleep 0.2
done
got=$(sink_messages)
# reconnection backs off up to 5 s: wait for it before counting lines
t_until 8 grep -q "redis reachable again" "$LOG"
down=$(grep -c "redis unreachable" "$LOG")
up=$(grep -c "redis reachable again" "$LOG")
if [ $irc -eq 0 ] && [ "$acked" -eq "$N" ] && [ "$got" = "$acked" ] &&
	[ "$during" -gt "$HALF" ] && [ "$down" -eq 1 ] && [ "$up" -eq 1 ]; then
	t_ok
else
	t_fail "inject rc=$irc acked=$acked (at kill $during) sink=$got down=$down up=$up"
fi

# counters_match: ot:stats and ot:domain:dest0.test agree with the log.
counters_match() {
	local dl rc
	dl=$(grep -c '"event":"delivered"' "$T_DIR/delivery.jsonl")
	rc=$(grep -c '"event":"received"' "$T_DIR/delivery.jsonl")
	[ "$dl" -eq "$N" ] &&
		[ "$(rcli HGET ot:stats deliveries)" = "$dl" ] &&
		[ "$(rcli HGET ot:stats received)" = "$rc" ] &&
		[ "$(rcli HGET ot:domain:dest0.test deliveries)" = "$dl" ] &&
		[ "$(rcli HGET ot:domain:dest0.test received)" = "$rc" ] &&
		[ "$(rcli HGET ot:domain:dest0.test attempts)" = "$dl" ]
}
keys_rebuilt() {
	[ "$(rcli SISMEMBER ot:domains dest0.test)" = 1 ] &&
		[ "$(rcli SISMEMBER ot:nodes out-1)" = 1 ] &&
		[ "$(rcli EXISTS ot:node:out-1)" = 1 ] &&
		[ "$(rcli HGET ot:domain:dest0.test active)" = 0 ] &&
		[ "$(rcli SISMEMBER ot:bindings default)" = 1 ]
}
state() {
	echo "stats: $(rcli HGETALL ot:stats | tr '\n' ' ')" \
		"domain: $(rcli HGETALL ot:domain:dest0.test | tr '\n' ' ')" \
		"binding: $(rcli HGETALL ot:binding:default | tr '\n' ' ')" \
		"nodes: $(rcli SMEMBERS ot:nodes) domains: $(rcli SMEMBERS ot:domains)"
}
t_case "after the restart the keys are rebuilt and counters converge"
if t_until 5 keys_rebuilt && t_until 5 counters_match &&
	grep -q "redis lost its data" "$LOG"; then
	t_ok
else
	t_fail "$(state)"
fi

t_case "FLUSHALL while connected: keys and counters come back within 3 s"
rcli FLUSHALL >/dev/null
if t_until 3 keys_rebuilt && t_until 3 counters_match &&
	[ "$(grep -c "redis unreachable" "$LOG")" -eq 1 ] &&
	[ "$(grep -c "redis lost its data" "$LOG")" -eq 2 ] &&
	"$CTL" -c "$CONF" --json summary | grep -q '"id":"out-1"'; then
	t_ok
else
	t_fail "$(state)"
fi

t_case "two nodes on one Redis: ringctl gathers both answers"
CONF2=$T_DIR/r2.conf
sed -e "s|node_id = out-1|node_id = out-2|" -e "s|state_dir = $T_DIR/var|state_dir = $T_DIR/var2|" \
	-e "s|delivery_log = $T_DIR/delivery.jsonl|delivery_log = $T_DIR/delivery2.jsonl|" "$CONF" >"$CONF2"
"$BIN" -c "$CONF2" 2>>"$T_DIR/r2.log" &
PID2=$!
t_daemon $PID2
two_nodes() {
	"$CTL" -c "$CONF" --json flush all | /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if sorted(n['node'] for n in d['nodes']) == ['out-1', 'out-2'] and all(n['status'] == 'ok' for n in d['nodes']) else 1)"
}
if t_until 5 two_nodes && "$CTL" -c "$CONF" flush all | grep -q "^out-2: flushed 0 delayed units" &&
	"$CTL" -c "$CONF" queue | grep -q "^out-1: 0 units queued"; then
	t_ok
else
	t_fail "$("$CTL" -c "$CONF" flush all 2>&1); $(tail -3 "$T_DIR/r2.log")"
fi
t_case "suspend and resume reach both nodes within 1 s"
o1=$("$CTL" -c "$CONF" suspend dest0.test)
ok=0
t_until 1 grep -q "domain dest0.test suspended by an administrator" "$LOG" &&
	t_until 1 grep -q "domain dest0.test suspended by an administrator" "$T_DIR/r2.log" && ok=1
o2=$("$CTL" -c "$CONF" resume dest0.test)
if [ $ok = 1 ] && grep -q "(2 ringmta notified)" <<<"$o1" && grep -q "(2 ringmta notified)" <<<"$o2" &&
	t_until 1 grep -q "domain dest0.test resumed by an administrator" "$LOG" &&
	t_until 1 grep -q "domain dest0.test resumed by an administrator" "$T_DIR/r2.log"; then
	t_ok
else
	t_fail "$o1 / $o2 / $(grep -h dest0.test "$LOG" "$T_DIR/r2.log" | tail -4)"
fi
t_stop $PID2

t_case "ringctl during an outage: a clear error and exit 69"
kill -9 $RPID
wait $RPID 2>/dev/null
out=$("$CTL" -c "$CONF" queue 2>&1); rc=$?
if [ $rc -eq 69 ] && grep -q "cannot reach redis at $SOCK" <<<"$out" &&
	kill -0 $PID; then
	t_ok
else
	t_fail "$rc $out"
fi
redis_start
t_stop $PID
t_finish
