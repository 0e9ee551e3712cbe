#!/usr/bin/env bash
# ringctl against a running ringmta and its embedded redis-server: the
# domain, binding, node and total keys appear within a publication round,
# suspend/resume reach ringmta through PREFIX:ctl within a second and
# survive a restart, the redis-server stops with ringmta, and ringctl
# gives clear errors and non-zero exits (Redis unreachable, unknown or
# invalid domain or message).  The actions ringmta answers (queue,
# message, flush, retry, delete, fail) and per-domain overrides (set,
# unset) reach it through PREFIX:ctl and are confirmed from its reply.
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
	t_mta_start "$CONF" "$LOG"
	local rc=$?
	PID=$MTA_PID PORT=$MTA_PORT
	return $rc
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
	t_until 3 domain_active example.com 1 &&
	"$CTL" -c "$CONF" domains | grep -Eq '^other\.example +1 +0 ' &&
	"$CTL" -c "$CONF" --json domains | jq_py "[x['name'] for x in d] == ['example.com', 'other.example'] and d[0]['received'] == 1"; then
	t_ok
else
	t_fail "$("$CTL" -c "$CONF" domains 2>&1)"
fi

t_case "summary: per node its queue sizes, connections, counts and rates"
js=$("$CTL" -c "$CONF" --json summary)
tab=$("$CTL" -c "$CONF" summary)
if jq_py "(n := d['nodes'][0])['id'] == 'node-a' and n['version'] != '' and n['active'] == 2 and n['delayed'] == 0 and n['connections'] == 0 and n['received'] == 2 and n['deliveries'] == 0 and n['deliveries_per_min'] == 0 and n['received_per_min'] > 0 and d['all']['active'] == 2 and d['totals']['received'] == 2 and d['domains'] == 2" <<<"$js" &&
	head -1 <<<"$tab" | grep -q "ACTIVE.*DELAYED.*DELIVERED.*DEFERRED.*BOUNCED.*DLV/MIN" &&
	grep -Eq "^node-a +[0-9]+s +[0-9.]+s +0 +2 +0 +0 +0 +0 " <<<"$tab"; then
	t_ok
else
	t_fail "$js / $tab"
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
	t_until 1 grep -q "domain example.com suspended by an administrator" "$LOG" &&
	t_until 2 sh -c "'$CTL' -c '$CONF' --json domain example.com | grep -q '\"suspended\":1'"; then
	t_ok
else
	t_fail "$out / $(grep -i suspend "$LOG" | tail -3)"
fi

t_case "set/unset: values checked by the config's parsers; shown in the domain hash"
o1=$("$CTL" -c "$CONF" set example.com max_outbound_connections 0 2>&1); r1=$?
o2=$("$CTL" -c "$CONF" set example.com port 26 2>&1); r2=$?
o3=$("$CTL" -c "$CONF" set example.com outbound_throttle_messages 10/x 2>&1); r3=$?
out=$("$CTL" -c "$CONF" set Example.com max_outbound_connections 2)
overrides_are() { # DOMAIN TEXT
	"$CTL" -c "$CONF" --json domain "$1" | jq_py "d['overrides'] == '$2'"
}
if [ $r1 -eq 1 ] && grep -q "max_outbound_connections" <<<"$o1" &&
	[ $r2 -eq 1 ] && grep -q "not a key an override may set" <<<"$o2" &&
	[ $r3 -eq 1 ] && grep -q "example.com: max_outbound_connections = 2 (1 ringmta notified)" <<<"$out" &&
	t_until 1 grep -q "domain example.com: overrides max_outbound_connections=2" "$LOG" &&
	t_until 2 overrides_are example.com max_outbound_connections=2 &&
	[ "$(redis-cli -s "$T_DIR/var/redis/redis.sock" SMEMBERS rt:overrides)" = example.com ]; then
	t_ok
else
	t_fail "$r1 $o1 / $r2 $o2 / $r3 $o3 / $out"
fi

t_case "SIGTERM stops ringmta and its redis-server"
t_stop $PID
if ! kill -0 "$RPID" 2>/dev/null; then t_ok; else t_fail "redis-server $RPID still runs"; fi

received_is() { # DOMAIN N
	"$CTL" -c "$CONF" --json domain "$1" | jq_py "d['received'] == $2"
}
t_case "the suspension survives a restart; replays are not counted again"
: >"$LOG"
if start && t_until 3 grep -q "domain example.com suspended by an administrator" "$LOG" &&
	grep -q "domain example.com: overrides max_outbound_connections=2" "$LOG" &&
	send w@example.com && t_until 3 received_is example.com 2 &&
	sleep 1.2 && received_is example.com 2 && received_is other.example 1 &&
	domain_active example.com 2; then
	t_ok
else
	t_fail "$(tail -5 "$LOG"); $("$CTL" -c "$CONF" domain example.com 2>&1)"
fi

t_case "resume reaches ringmta and clears the hash"
out=$("$CTL" -c "$CONF" --json resume example.com)
if jq_py "d['suspended'] == False and d['notified'] == 1" <<<"$out" &&
	t_until 1 grep -q "domain example.com resumed by an administrator" "$LOG" &&
	t_until 2 sh -c "'$CTL' -c '$CONF' --json domain example.com | grep -q '\"suspended\":0'" &&
	[ "$(redis-cli -s "$T_DIR/var/redis/redis.sock" SCARD rt:suspended)" = 0 ]; then
	t_ok
else
	t_fail "$out"
fi

# names [--sort KEY]: the domain names domains lists, in its order.
names() {
	"$CTL" -c "$CONF" --json domains "$@" | /usr/bin/python3 -c "import json,sys; print(' '.join(x['name'] for x in json.load(sys.stdin)))"
}
t_case "domains --sort queue: the largest queue first; a bad key exits 64"
"$CTL" -c "$CONF" suspend aaa.example >/dev/null # a record with no units
t_until 3 sh -c "'$CTL' -c '$CONF' domains | grep -q '^aaa.example '"
n1=$(names)
n2=$(names --sort queue)
tab=$("$CTL" -c "$CONF" --sort queue domains | sed -n 2p)
o3=$("$CTL" -c "$CONF" domains --sort bogus 2>&1); r3=$?
o4=$("$CTL" -c "$CONF" --sort queue summary 2>&1); r4=$?
if [ "$n1" = "aaa.example example.com other.example" ] &&
	[ "$n2" = "example.com other.example aaa.example" ] &&
	grep -Eq "^example.com +2 +0 " <<<"$tab" &&
	[ $r3 -eq 64 ] && grep -q "cannot sort by 'bogus'; one of: name queue active delayed" <<<"$o3" &&
	[ $r4 -eq 64 ]; then
	t_ok
else
	t_fail "$n1 / $n2 / $tab / $r3 $o3 / $r4 $o4"
fi
"$CTL" -c "$CONF" resume aaa.example >/dev/null

t_case "--redis overrides the configuration; an unreachable one exits 69"
o1=$("$CTL" --redis "unix:$T_DIR/var/redis/redis.sock" -c "$CONF" domains); r1=$?
o3=$("$CTL" --redis 127.0.0.1:$NODNS queue 2>&1); r3=$?
if [ $r1 -eq 0 ] && grep -q '^example.com ' <<<"$o1" && [ $r3 -eq 69 ] &&
	grep -q "cannot reach redis" <<<"$o3"; then
	t_ok
else
	t_fail "$r1 / $r3 $o3"
fi

# msgid RCPT: the id of the queued message with that recipient (queue --json).
msgid() {
	"$CTL" -c "$CONF" --json queue | /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)
for n in d['nodes']:
    for r in n['rows']:
        if r['rcpt'].startswith('$1'):
            print(r['id']); break"
}

t_case "queue: every unit from every node; queue DOMAIN filters; a table"
js=$("$CTL" -c "$CONF" --json queue)
js2=$("$CTL" -c "$CONF" --json queue example.com)
tab=$("$CTL" -c "$CONF" queue other.example)
o3=$("$CTL" -c "$CONF" queue nosuch.example 2>&1); r3=$?
if jq_py "d['count'] == 3 and d['nodes'][0]['node'] == 'node-a' and d['nodes'][0]['status'] == 'ok' and len(d['nodes'][0]['rows']) == 3" <<<"$js" &&
	jq_py "d['count'] == 2 and set(r['domain'] for r in d['nodes'][0]['rows']) == {'example.com'} and d['nodes'][0]['rows'][0]['queue'] == 'active'" <<<"$js2" &&
	grep -q "^node-a: 1 units queued" <<<"$tab" && grep -Eq "^[0-9a-f]{32} +other.example +active +1 " <<<"$tab" &&
	[ $r3 -eq 1 ] && grep -q "no such domain nosuch.example" <<<"$o3"; then
	t_ok
else
	t_fail "$js / $js2 / $tab / $r3 $o3"
fi

ID1=$(msgid v@other.example)
ID2=$(msgid w@example.com)
t_case "message ID: its recipients and their state; unknown and bad ids exit 1"
js=$("$CTL" -c "$CONF" --json message "${ID1^^}")
o2=$("$CTL" -c "$CONF" message 00000000000000000000000000000000 2>&1); r2=$?
o3=$("$CTL" -c "$CONF" message 1234 2>&1); r3=$?
if [ ${#ID1} -eq 32 ] && jq_py "d['count'] == 3 and [r['rcpt'] for r in d['nodes'][0]['rows']] == ['u1@example.com', 'u2@example.com', 'v@other.example'] and d['nodes'][0]['rows'][0]['state'] == 'pending' and d['nodes'][0]['sender'] == 'a@relay.test.example'" <<<"$js" &&
	"$CTL" -c "$CONF" message "$ID1" | grep -q "^v@other.example  *pending" &&
	[ $r2 -eq 1 ] && grep -q "no such message" <<<"$o2" &&
	[ $r3 -eq 1 ] && grep -q "not a message id" <<<"$o3"; then
	t_ok
else
	t_fail "$ID1 $js / $r2 $o2 / $r3 $o3"
fi

t_case "flush DOMAIN|all and retry ID answer with what they moved"
o1=$("$CTL" -c "$CONF" flush example.com); r1=$?
o2=$("$CTL" -c "$CONF" --json flush all); r2=$?
o3=$("$CTL" -c "$CONF" retry "$ID1"); r3=$?
o4=$("$CTL" -c "$CONF" flush nosuch.example 2>&1); r4=$?
if [ $r1 -eq 0 ] && grep -q "^node-a: flushed 0 delayed units of example.com" <<<"$o1" &&
	[ $r2 -eq 0 ] && jq_py "d['op'] == 'flush' and d['nodes'][0]['status'] == 'ok'" <<<"$o2" &&
	[ $r3 -eq 0 ] && grep -q "^node-a: 0 delayed units due now" <<<"$o3" &&
	[ $r4 -eq 1 ] && grep -q "no such domain" <<<"$o4"; then
	t_ok
else
	t_fail "$o1 / $o2 / $o3 / $r4 $o4"
fi

queue_count() { # DOMAIN N
	"$CTL" -c "$CONF" --json queue "$1" | jq_py "d['count'] == $2"
}
t_case "delete ID: recipients final without DSN, message reclaimed, logged failed"
out=$("$CTL" -c "$CONF" --json delete "$ID2")
if jq_py "d['count'] == 1 and d['nodes'][0]['reclaimed'] == 1" <<<"$out" &&
	queue_count example.com 1 &&
	t_until 2 grep -q '"event":"failed".*"rcpt":"w@example.com"' "$T_DIR/delivery.jsonl" &&
	! "$CTL" -c "$CONF" message "$ID2" >/dev/null 2>&1; then
	t_ok
else
	t_fail "$out; $("$CTL" -c "$CONF" queue 2>&1)"
fi

t_case "fail --quiet drops a domain's units; fail bounces them with a DSN"
t0=$(date +%s%N)
o1=$("$CTL" -c "$CONF" fail other.example --quiet); r1=$?
o2=$("$CTL" -c "$CONF" fail example.com); r2=$?
ms=$((($(date +%s%N) - t0) / 1000000)) # both confirmed by the node
if [ $ms -lt 1000 ] && [ $r1 -eq 0 ] && grep -q "failed 1 units (1 recipients) of other.example without DSN" <<<"$o1" &&
	[ $r2 -eq 0 ] && grep -q "failed 1 units of example.com" <<<"$o2" &&
	queue_count other.example 0 && queue_count example.com 0 &&
	t_until 3 queue_count relay.test.example 1 &&
	grep -q '"event":"bounced".*"rcpt":"u1@example.com"' "$T_DIR/delivery.jsonl" &&
	! grep -q '"event":"bounced".*"rcpt":"v@other.example"' "$T_DIR/delivery.jsonl"; then
	t_ok
else
	t_fail "${ms}ms $o1 / $o2 / $("$CTL" -c "$CONF" queue 2>&1)"
fi

t_case "unset clears the override on the node and in Redis"
out=$("$CTL" -c "$CONF" unset example.com max_outbound_connections)
if grep -q "example.com: max_outbound_connections unset (1 ringmta notified)" <<<"$out" &&
	t_until 1 grep -q "domain example.com: overrides cleared" "$LOG" &&
	t_until 2 overrides_are example.com "" &&
	[ "$(redis-cli -s "$T_DIR/var/redis/redis.sock" SCARD rt:overrides)" = 0 ]; then
	t_ok
else
	t_fail "$out"
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

[domain dead.test]
; a closed port: every attempt is deferred for an hour
relay = 127.0.0.1:$NODNS
retry_interval = 1h
CONF2
sink_messages() {
	sink_refresh $SINKPID "$T_DIR/sink.json" &&
		json_get "$T_DIR/sink.json" messages
}
sink_is() {
	[ "$(sink_messages)" = "$1" ]
}
t_case "a suspended domain is not delivered; resume delivers it within 2 s"
: >"$LOG"
out=
if start && out=$("$CTL" -c "$CONF" suspend held.test 2>&1) &&
	t_until 3 grep -q "domain held.test suspended by an administrator" "$LOG" &&
	send x@held.test && sleep 2 && [ "$(sink_messages)" = 0 ] &&
	"$CTL" -c "$CONF" resume held.test >/dev/null &&
	t_until 2 sink_is 1; then
	t_ok
else
	t_fail "$out; sink $(sink_messages); $(tail -5 "$LOG")"
fi

attempts_are() { # ID N
	"$CTL" -c "$CONF" --json message "$1" | jq_py "d['nodes'][0]['rows'][0]['attempts'] == $2"
}
t_case "an override reaches delivery: a throttle holds the second message"
if out=$("$CTL" -c "$CONF" set held.test outbound_throttle_messages 1/1h) &&
	t_until 1 grep -q "domain held.test: overrides outbound_throttle_messages=1/1h" "$LOG" &&
	send y@held.test && send z@held.test && sleep 2 && [ "$(sink_messages)" = 2 ] &&
	"$CTL" -c "$CONF" unset held.test outbound_throttle_messages >/dev/null &&
	t_until 5 sink_is 3; then
	t_ok
else
	t_fail "$out; sink $(sink_messages); $(tail -5 "$LOG")"
fi

t_case "flush and retry make a deferred unit due now: one more attempt each within 1 s"
send d@dead.test
DID=
for _ in $(seq 50); do
	DID=$(msgid d@dead.test)
	[ -n "$DID" ] && attempts_are "$DID" 1 && break
	sleep 0.1
done
o1=$("$CTL" -c "$CONF" flush dead.test)
ok1=0
t_until 1 attempts_are "$DID" 2 && ok1=1
o2=$("$CTL" -c "$CONF" retry "$DID")
if [ $ok1 = 1 ] && grep -q "^node-a: flushed 1 delayed units of dead.test" <<<"$o1" &&
	grep -q "^node-a: 1 delayed units due now" <<<"$o2" &&
	t_until 1 attempts_are "$DID" 3; then
	t_ok
else
	t_fail "$DID / $o1 / $o2 / $("$CTL" -c "$CONF" message "$DID" 2>&1)"
fi
t_case "domain NAME: each node's MX addresses with their state, bindings, last error"
t_until 2 "$CTL" -c "$CONF" domain dead.test # published within a round
js=$("$CTL" -c "$CONF" --json domain dead.test 2>&1)
tab=$("$CTL" -c "$CONF" domain dead.test)
if jq_py "(n := d['nodes'][0])['node'] == 'node-a' and n['status'] == 'ok' and n['count'] == 1 and (r := n['rows'][0])['kind'] == 'mx' and r['ip'] == '127.0.0.1' and r['state'] in ('penalized', 'failing') and r['failures'] >= 1 and r['last_error'] != '' and d['delayed'] == 1" <<<"$js" &&
	grep -q "^node node-a: dead.test: MX ready, 1 addresses" <<<"$tab" &&
	grep -Eq "^  127.0.0.1 +127.0.0.1 +[0-9]+ +(penalized|failing) " <<<"$tab"; then
	t_ok
else
	t_fail "$js / $tab"
fi

# fields_match DOMAIN...: the hash's counters equal the delivery log's
# events for the domain (one recipient per message here, so a message
# received is a distinct id among them; attempts are transactions, those
# with a reply code: a refused connection defers without one).
fields_match() {
	local dom
	for dom; do
		"$CTL" -c "$CONF" --json domain "$dom" | /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)
ev = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
ev = [e for e in ev if e.get('domain') == sys.argv[1]]
c = lambda *k: sum(1 for e in ev if e['event'] in k)
want = {'received': len(set(e['id'] for e in ev)), 'deliveries': c('delivered'), 'transients': c('deferred'),
        'failures': c('bounced', 'failed', 'expired'),
        'attempts': sum(1 for e in ev if e['event'] in ('delivered', 'deferred', 'bounced') and e['code'] is not None)}
got = {k: d.get(k, 0) for k in want}
sys.exit(0 if got == want and want['received'] > 0 else print(sys.argv[1], got, want) or 1)" "$dom" "$T_DIR/delivery.jsonl" || return 1
	done
}
t_case "key fields after deliveries agree with the delivery log"
if t_until 3 fields_match held.test dead.test; then
	t_ok
else
	t_fail "$(fields_match held.test dead.test 2>&1)"
fi
t_stop $PID

t_case "a running Redis with no ringmta: actions exit 69 and say so"
"$(command -v redis-server)" --port 0 --unixsocket "$T_DIR/lone.sock" --save '' --appendonly no \
	--daemonize no >/dev/null 2>&1 &
LONE=$!
t_daemon $LONE
wait_file "$T_DIR/lone.sock" 5
out=$("$CTL" --redis "unix:$T_DIR/lone.sock" -c "$CONF" flush all 2>&1); rc=$?
if [ $rc -eq 69 ] && grep -q "no ringmta is listening on rt:ctl" <<<"$out"; then
	t_ok
else
	t_fail "$rc $out"
fi
t_stop $LONE
t_finish
