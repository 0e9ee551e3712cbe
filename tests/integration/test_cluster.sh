#!/usr/bin/env bash
# Cluster-wide limits (store/rlease): two ringmta nodes (separate state
# dirs and spools) share one redis-server on a unix socket, with
# cluster_max_outbound_connections = 5 for the sink's domain and a local
# max_outbound_connections of 8 on each.  ringsink (slow at the final dot)
# must never see more than 5 sessions at once, both nodes must deliver,
# and the lease set never holds more than 5, while each node asks for
# several leases per EVALSHA.  The cluster message rate holds across both
# nodes, without sessions opened only to idle.  Then a node killed with -9
# while it holds every lease: its leases are gone within the TTL (3 s),
# and the other node takes them.
source "$(dirname "$0")/lib.sh"
BIN=$T_BUILD/ringmta
SINK=$T_BUILD/ringsink
NODNS=$(free_port)
RSOCK=$T_DIR/redis.sock
RCLI=(redis-cli -s "$RSOCK")
TTL_S=3

# ---- redis-server and ringsink ----
t_redis_start "$RSOCK"
"$SINK" --listen 127.0.0.1:0 --port-file "$T_DIR/sink.port" \
	--summary "$T_DIR/sink.json" --delay dot=150ms --quiet >"$T_DIR/sink.out" \
	2>"$T_DIR/sink.err" &
SINKPID=$!
t_daemon $SINKPID
# rate.test's own sink, without a delay: only the rate slows it.
"$SINK" --listen 127.0.0.1:0 --port-file "$T_DIR/sink2.port" --quiet \
	--summary "$T_DIR/sink2.json" >/dev/null 2>"$T_DIR/sink2.err" &
SINK2PID=$!
t_daemon $SINK2PID
if ! wait_file "$T_DIR/sink.port" 10 || ! wait_file "$T_DIR/sink2.port" 10 || [ "$("${RCLI[@]}" PING)" != PONG ]; then
	t_case "fixture: redis-server and ringsink"
	t_fail "$(cat "$T_DIR/sink.err" "$T_DIR/redis.log" 2>/dev/null | tail -5)"
	t_finish
fi
SINKADDR=$(head -1 "$T_DIR/sink.port")
SINK2ADDR=$(head -1 "$T_DIR/sink2.port")

# ---- two nodes ----
conf() { # NAME
	cat >"$T_DIR/$1.conf" <<CONF
[server]
hostname = $1.test.example
node_id = $1
state_dir = $T_DIR/$1

[listener]
address = 127.0.0.1:0
relay_networks = 127.0.0.1/32

[redis]
url = unix:$RSOCK
prefix = ct
cluster_lease_ttl = ${TTL_S}s
cluster_unreachable = closed

[dns]
servers = 127.0.0.1:$NODNS

[delivery]
allowed_networks = 127.0.0.0/8
tls = none
idle_timeout = 0
max_deliveries_per_connection = 3

[domain sink.test]
relay = $SINKADDR
max_outbound_connections = 8
cluster_max_outbound_connections = 5

[domain rate.test]
relay = $SINK2ADDR
cluster_outbound_throttle_messages = 10/s
CONF
}

start() { # NAME: start node NAME; sets PID_NAME and PORT_NAME
	t_mta_start "$T_DIR/$1.conf" "$T_DIR/$1.log"
	local rc=$?
	eval "PID_$1=$MTA_PID PORT_$1=$MTA_PORT"
	return $rc
}

send() { # PORT COUNT [DOMAIN]: COUNT messages, one recipient each
	/usr/bin/python3 - "$1" "$2" "${3:-sink.test}" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
for i in range(int(sys.argv[2])):
    s.sendmail("a@relay.test", ["u%d@%s" % (i, sys.argv[3])], "Subject: c\r\n\r\nhi\r\n")
s.quit()
PY
}

sink_get() { # KEY [2]: from a fresh summary of ringsink (or of rate.test's)
	local f=$T_DIR/sink${2:-}.json pid=$SINKPID
	[ -n "${2:-}" ] && pid=$SINK2PID
	rm -f "$f"
	kill -USR1 "$pid"
	wait_file "$f" 5 >/dev/null && json_get "$f" "$1"
}

leases() { "${RCLI[@]}" ZCARD ct:lease:sink.test; }
evalshas() { # EVALSHA calls Redis has run (leases, renewals, tokens, nodes)
	"${RCLI[@]}" INFO commandstats | tr -d '\r' |
		sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0
}
leases_of() { # NODE: members of that node in the lease set
	"${RCLI[@]}" ZRANGE ct:lease:sink.test 0 -1 | grep -c "^$1:"
}

conf a
conf b
t_case "two nodes start on one Redis"
if start a && start b; then t_ok; else t_fail "$(tail -3 "$T_DIR/a.log" "$T_DIR/b.log")"; fi

t_case "120 messages through two nodes: ringsink never sees more than 5 at once"
ev0=$(evalshas)
send "$PORT_a" 60 & SA=$!
send "$PORT_b" 60 & SB=$!
wait $SA && wait $SB
maxz=0
for _ in $(seq 600); do
	z=$(leases)
	[ "$z" -gt "$maxz" ] && maxz=$z
	[ "$(sink_get messages)" = 120 ] && break
	sleep 0.05
done
msgs=$(sink_get messages)
maxc=$(sink_get max_concurrent)
na=$(grep -c '"event":"delivered"' "$T_DIR/a/log/delivery.jsonl")
nb=$(grep -c '"event":"delivered"' "$T_DIR/b/log/delivery.jsonl")
if [ "$msgs" = 120 ] && [ "$maxc" -le 5 ] && [ "$maxc" -ge 3 ] && [ "$maxz" -le 5 ] &&
	[ "$na" = 60 ] && [ "$nb" = 60 ]; then
	t_ok
else
	t_fail "messages=$msgs max_concurrent=$maxc max leases=$maxz delivered a=$na b=$nb"
fi
echo "# max_concurrent=$maxc max_leases=$maxz delivered a=$na b=$nb evalsha=$(($(evalshas) - ev0))"

t_case "every lease is given back once the queues are empty"
for _ in $(seq 50); do
	[ "$(leases)" = 0 ] && break
	sleep 0.1
done
if [ "$(leases)" = 0 ]; then t_ok; else t_fail "leases=$(leases)"; fi

t_case "cluster_outbound_throttle_messages = 10/s holds across both nodes"
# 40 messages, 20 per node: a burst of 10, then 10 a second, so the last
# goes out about 3 s after the first (without the rate: well under 1 s).
send "$PORT_a" 20 rate.test & SA=$!
send "$PORT_b" 20 rate.test & SB=$!
wait $SA && wait $SB
span=$(
	for _ in $(seq 200); do
		n=$(cat "$T_DIR"/[ab]/log/delivery.jsonl | grep -c '"delivered".*"domain":"rate.test"')
		[ "$n" -ge 40 ] && break
		sleep 0.05
	done
	cat "$T_DIR"/[ab]/log/delivery.jsonl | /usr/bin/python3 -c '
import datetime, json, sys
ts = sorted(datetime.datetime.fromisoformat(d["ts"].rstrip("Z"))
            for d in map(json.loads, sys.stdin)
            if d.get("event") == "delivered" and d.get("domain") == "rate.test")
w = max(sum(1 for u in ts if t <= u < t + datetime.timedelta(seconds=1)) for t in ts)
print(len(ts), int((ts[-1] - ts[0]).total_seconds() * 1000), w)'
)
read -r rn rspan rwin <<<"$span"
if [ "$rn" = 40 ] && [ "$rspan" -ge 2500 ] && [ "$rwin" -le 21 ]; then
	t_ok
else
	t_fail "delivered=$rn span_ms=$rspan most_in_1s=$rwin"
fi
echo "# rate.test: $rn delivered over $rspan ms, at most $rwin in any second"

t_case "the cluster rate opens no session that would only idle"
# idle_timeout = 0: a session with nothing it may send QUITs at once, so
# at 10/s most sessions carry one message.  A goal blind to the rate
# reopens sessions all through the wait (tens of thousands), one that
# opens several per token a few hundred; one that asks for the token
# first, waits for the next token's time and opens one session at a time
# under a rate stays near one session per message.
rconn=$(sink_get connections 2)
if [ -n "$rconn" ] && [ "$rconn" -ge 14 ] && [ "$rconn" -le 50 ]; then
	t_ok
else
	t_fail "sessions to rate.test: ${rconn:-?} for 40 messages"
fi
echo "# rate.test: $rconn sessions for 40 messages"

t_case "a node killed with -9 frees its leases within the TTL (${TTL_S}s)"
# Node a alone takes every lease (a slow sink keeps them), then dies.
kill -USR1 $SINKPID
send "$PORT_a" 40
for _ in $(seq 100); do
	[ "$(leases_of a)" = 5 ] && break
	sleep 0.05
done
held=$(leases_of a)
kill -9 "$PID_a"
t0=$(date +%s%N)
wait "$PID_a" 2>/dev/null
b_sink() { grep -c '"delivered".*"domain":"sink.test"' "$T_DIR/b/log/delivery.jsonl"; }
nb0=$(b_sink)
# The latest expiry (Redis time, ms) among node a's leases.
last=$("${RCLI[@]}" ZRANGE ct:lease:sink.test 0 -1 WITHSCORES |
	paste - - | awk '$1 ~ /^a:/ { if ($2 > m) m = $2 } END { printf "%.0f", m }')
left=$((last - t0 / 1000000))
send "$PORT_b" 10
freed=
for _ in $(seq 100); do
	if [ "$(leases_of a)" = 0 ]; then
		freed=$((($(date +%s%N) - t0) / 1000000))
		break
	fi
	sleep 0.05
done
# Expired at most TTL after the kill (the last renewal came before it);
# removed from the set by node b's next acquire, every 250 ms.
if [ "$held" = 5 ] && [ "$left" -gt 0 ] && [ "$left" -le $((TTL_S * 1000)) ] && [ -n "$freed" ] &&
	[ "$freed" -le $((TTL_S * 1000 + 500)) ]; then
	t_ok
else
	t_fail "held=$held expiry_after_kill_ms=$left freed_after_ms=${freed:-never}"
fi
echo "# node a held $held leases, expiring ${left} ms after kill -9; gone from the set after ${freed:-never} ms"

t_case "the other node takes the freed leases and delivers"
for _ in $(seq 200); do
	[ "$(b_sink)" -ge $((nb0 + 10)) ] && break
	sleep 0.05
done
if [ "$(b_sink)" -ge $((nb0 + 10)) ] && [ "$(sink_get max_concurrent)" -le 5 ]; then
	t_ok
else
	t_fail "node b delivered $nb0 -> $(b_sink) to sink.test"
fi

t_case "SIGTERM gives back every lease and the node entry"
t_stop "$PID_b"
nodes=$("${RCLI[@]}" ZRANGE ct:cluster:nodes 0 -1 | grep -c '^b:')
if [ "$(leases_of b)" = 0 ] && [ "$nodes" = 0 ]; then t_ok; else t_fail "leases=$(leases_of b) nodes=$nodes"; fi

t_finish
