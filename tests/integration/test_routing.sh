#!/usr/bin/env bash
# test_routing.sh: outbound routing end to end.  ringmta resolves through a
# private dnsmasq (as in test_dns.sh), delivers to ringsink MX hosts on
# 127.0.0.2, 127.0.0.3, ... (all on one port: [delivery] port), from
# bindings on loopback source addresses, and the checks read ringsink's
# summaries and maildirs and ringmta's delivery log (JSON lines).
cd "$(dirname "$0")/../.." || exit 1
source tests/integration/lib.sh

command -v dnsmasq >/dev/null || t_skip "dnsmasq not installed"
BIN=$T_BUILD/ringmta
SINK=$T_BUILD/ringsink
SEND="/usr/bin/python3 tests/integration/routing_send.py"
DLOG=$T_DIR/delivery.jsonl

# ---- DNS: a private dnsmasq; bh.test and sf.test are forwarded to a
# server that never answers bh.test and answers SERVFAIL for sf.test ----
BH_PORT_FILE=$T_DIR/blackhole.port
/usr/bin/python3 - "$BH_PORT_FILE" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    q, peer = s.recvfrom(4096)
    if len(q) > 12 and b"\x02sf\x04test\x00" in q[12:].lower():
        # the query echoed back: QR, RD, RA and RCODE 2 (SERVFAIL)
        s.sendto(q[:2] + bytes([0x81, 0x82]) + q[4:], peer)
PY
t_daemon $!
wait_file "$BH_PORT_FILE" 10
BH_PORT=$(cat "$BH_PORT_FILE")

DNS_PORT=$(free_port)
dnsmasq -k --pid-file= --conf-file=/dev/null --no-resolv --no-hosts \
	--listen-address=127.0.0.1 --bind-interfaces -p "$DNS_PORT" \
	--local=/test/ --server="/bh.test/127.0.0.1#$BH_PORT" \
	--server="/sf.test/127.0.0.1#$BH_PORT" \
	--mx-host=example.test,mx1.example.test,10 \
	--mx-host=example.test,mx2.example.test,20 \
	--host-record=mx1.example.test,127.0.0.2 \
	--host-record=mx2.example.test,127.0.0.3 \
	--mx-host=eq.test,a.eq.test,10 --mx-host=eq.test,b.eq.test,10 \
	--host-record=a.eq.test,127.0.0.4 --host-record=b.eq.test,127.0.0.5 \
	--mx-host=dead.test,mx.dead.test,10 \
	--mx-host=dead.test,mx1.example.test,20 \
	--host-record=mx.dead.test,127.0.0.6 \
	--mx-host=t421.test,mx.t421.test,10 \
	--mx-host=t421.test,mx1.example.test,20 \
	--host-record=mx.t421.test,127.0.0.7 \
	--mx-host=slow.test,mx.slow.test,10 \
	--mx-host=slow.test,mx1.example.test,20 \
	--host-record=mx.slow.test,127.0.0.11 \
	--dns-rr=nullmx.test,15,000000 \
	--host-record=nomx.test,127.0.0.2 \
	--mx-host=sender.test,mx.sender.test,10 \
	--host-record=mx.sender.test,127.0.0.8 \
	--mx-host=bind.test,mx.bind.test,10 \
	--host-record=mx.bind.test,127.0.0.9 \
	--mx-host=limit.test,mx.limit.test,10 \
	--host-record=mx.limit.test,127.0.0.12 \
	--mx-host=thr.test,mx.thr.test,10 \
	--mx-host=cthr.test,mx.thr.test,10 \
	--host-record=mx.thr.test,127.0.0.17 \
	--mx-host=blim.test,mx.blim.test,10 \
	--host-record=mx.blim.test,127.0.0.18 \
	--mx-host=nblim.test,mx.nblim.test,10 \
	--host-record=mx.nblim.test,127.0.0.19 \
	--mx-host=retry.test,mx.retry.test,10 \
	--host-record=mx.retry.test,127.0.0.13 \
	--mx-host=exp.test,mx.exp.test,10 \
	--host-record=mx.exp.test,127.0.0.14 \
	--mx-host=ghost.test,mx.ghost.test,10 \
	--mx-host=tls.test,mx.tls.test,10 \
	--host-record=mx.tls.test,127.0.0.15 \
	--mx-host=tlsinj.test,mx.tlsinj.test,10 \
	--host-record=mx.tlsinj.test,127.0.0.16 \
	--mx-host=tlsreq.test,mx1.example.test,10 \
	--host-record=mx.ghost.test,127.0.0.9 \
	>"$T_DIR/dnsmasq.out" 2>&1 &
t_daemon $!

CERTS=$T_DIR/certs
sh tests/unit/tls_fixture.sh "$CERTS" >/dev/null 2>&1 ||
	{ echo "tls_fixture.sh failed"; exit 1; }
TLSARGS=(--tls-cert "$CERTS/mx-chain.crt" --tls-key "$CERTS/mx.key")

# ---- sinks: every MX host on one port ----
P=$(free_port 127.0.0.2)
start_sink() { # NAME ARGS...: a ringsink, summary NAME.json, maildir NAME
	local n=$1
	shift
	"$SINK" "$@" --summary "$T_DIR/$n.json" --maildir "$T_DIR/$n" \
		--quiet 2>"$T_DIR/$n.err" &
	t_daemon $!
	eval "PID_$n=$!"
}
start_sink main --listen 127.0.0.2:$P --listen 127.0.0.3:$P \
	--listen 127.0.0.9:$P
start_sink eq --listen 127.0.0.4:$P --listen 127.0.0.5:$P --delay dot=200ms
start_sink dsn --listen 127.0.0.8:$P
start_sink s421 --listen 127.0.0.7:$P --reply 'banner=421:4.3.2 busy'
start_sink slow --listen 127.0.0.11:$P --delay banner=10s
start_sink limit --listen 127.0.0.12:$P --delay dot=300ms
start_sink thr --listen 127.0.0.17:$P
start_sink blim --listen 127.0.0.18:$P --delay dot=300ms
start_sink nblim --listen 127.0.0.19:$P --delay dot=300ms
start_sink retry --listen 127.0.0.13:$P \
	--sequence 'rcpt per rcpt = 451:4.3.0 try again; 250'
start_sink exp --listen 127.0.0.14:$P --reply 'rcpt=451:4.3.0 never'
start_sink tls --listen 127.0.0.15:$P "${TLSARGS[@]}" --require-tls
start_sink tlsinj --listen 127.0.0.16:$P "${TLSARGS[@]}" --tls-fault inject
for a in 2 7 8 11 12 13 14 15 16 17 18 19; do
	if ! wait_port 127.0.0.$a "$P" 10; then
		t_case "sink fixture"
		t_fail "no sink on 127.0.0.$a:$P"
		t_finish
	fi
done

# ---- ringmta ----
t_mta_conf "$T_DIR/rt.conf" "$DNS_PORT"
cat >>"$T_DIR/rt.conf" <<CONF
timeout = 500ms
tries = 1

[delivery]
port = $P
allowed_networks = 127.0.0.0/8, ::1/128
retry_interval = 2s
max_retry_interval = 4s
tls = none

[binding b2]
address = 127.0.0.2
ehlo = b2.test

[binding b3]
address = 127.0.0.3
ehlo = b3.test

[binding ghost]
address = 192.0.2.77
ehlo = ghost.test

[domain relay.test]
relay = 127.0.0.2:$P

[domain slow.test]
banner_timeout = 1s

[domain limit.test]
max_outbound_connections = 2

[domain thr.test]
outbound_throttle_messages = 10/1s

[domain blim.test]
cluster_max_outbound_connections_per_binding = 1

[domain nblim.test]
max_outbound_connections_per_binding = 1

[domain cthr.test]
outbound_throttle_connections = 5/1s
max_deliveries_per_connection = 1

[domain tls.test]
tls = required
tls_verify = ca
tls_ca_file = $CERTS/ca.crt

[domain tlsinj.test]
tls = opportunistic

[domain tlsreq.test]
tls = required

[domain exp.test]
message_expiration = 1m
retry_interval = 5s
max_retry_interval = 10s
CONF
# mta_start NAME: ringmta -c NAME.conf 2>>NAME.log (t_mta_start); sets
# MTA_PID and LPORT (its listening port); fails when it does not listen.
mta_start() {
	t_mta_start "$T_DIR/$1.conf" "$T_DIR/$1.log" || return 1
	LPORT=$MTA_PORT
}
t_mta_start_or_end "$T_DIR/rt.conf" "$T_DIR/rt.log"
LPORT=$MTA_PORT

# jq_log and wait_log (lib.sh) read $DLOG.
# summary NAME: refresh and print NAME.json's path.
summary() {
	local pid
	eval "pid=\$PID_$1"
	sink_refresh "$pid" "$T_DIR/$1.json"
}
# sum_check NAME PYTHON-EXPR: over S, the summary of sink NAME.
sum_check() {
	summary "$1"
	json_check "$T_DIR/$1.json" "$2"
}

# The slow expiry case starts first; it is checked at the end.
$SEND "$LPORT" a@sender.test u1@exp.test

# ---- 1. relay = host:port, byte-exact ----
$SEND "$LPORT" a@sender.test r1@relay.test --save "$T_DIR/r1.eml" \
	--body 'line one\n.leading dot\n..two dots\n\nlast line\n'
t_check "relay: delivered, logged with every field" wait_log \
	'len(ev("delivered", "r1@relay.test")) == 1 and
	 all(k in ev("delivered", "r1@relay.test")[0] for k in
	     ["ts","event","id","rcpt","domain","binding","mx","ip","code",
	      "enhanced","text","tls","cipher","attempt","ms","sender",
	      "stage"]) and
	 ev("delivered", "r1@relay.test")[0]["sender"] == "a@sender.test" and
	 ev("delivered", "r1@relay.test")[0]["ip"] == "127.0.0.2" and
	 ev("delivered", "r1@relay.test")[0]["code"] == 250 and
	 ev("delivered", "r1@relay.test")[0]["attempt"] == 1 and
	 ev("delivered", "r1@relay.test")[0]["domain"] == "relay.test"'
t_case "relay: message byte-exact in the sink's maildir"
if /usr/bin/python3 - "$T_DIR/main/new" "$T_DIR/r1.eml" <<'PY'; then t_ok; else t_fail "no byte-exact copy"; fi
import os, sys
want = open(sys.argv[2], "rb").read()
body = want.split(b"\r\n\r\n", 1)[1]
for f in os.listdir(sys.argv[1]):
    got = open(os.path.join(sys.argv[1], f), "rb").read()
    if b"Subject: rt 0" in got and got.endswith(b"\r\n\r\n" + body) and \
       b"leading dot" in got:
        # every original header line is there, in order, and the body
        hdrs = want.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        pos = 0
        for h in hdrs:
            pos = got.find(h, pos)
            if pos < 0:
                sys.exit(1)
        sys.exit(0)
sys.exit(1)
PY

# ---- 2. MX preference, implicit MX, spread ----
$SEND "$LPORT" a@sender.test m1@example.test
$SEND "$LPORT" a@sender.test i1@nomx.test
$SEND "$LPORT" a@sender.test s@eq.test --count 30
t_check "MX: lowest preference first (mx1, 127.0.0.2)" wait_log \
	'ev("delivered", "m1@example.test") and
	 ev("delivered", "m1@example.test")[0]["mx"] == "mx1.example.test" and
	 ev("delivered", "m1@example.test")[0]["ip"] == "127.0.0.2"'
t_check "MX: implicit MX on NODATA (the domain's own A)" wait_log \
	'ev("delivered", "i1@nomx.test") and
	 ev("delivered", "i1@nomx.test")[0]["mx"] == "nomx.test"'
t_check "MX: equal preferences spread over both hosts" wait_log \
	'len(ev("delivered", "s@eq.test")) == 30 and
	 {e["ip"] for e in ev("delivered", "s@eq.test")} ==
	 {"127.0.0.4", "127.0.0.5"}' 40
t_check "MX: spread by connections (sink sees both addresses)" sum_check \
	eq 'all(v["connections"] >= 1 and v["messages"] >= 5
	     for v in S["listen"].values())'

# ---- 3. first MX dead, 421, slow ----
$SEND "$LPORT" a@sender.test d1@dead.test
$SEND "$LPORT" a@sender.test f1@t421.test
$SEND "$LPORT" a@sender.test w1@slow.test
t_check "first MX refuses the connection: next MX delivers" wait_log \
	'ev("delivered", "d1@dead.test") and
	 ev("delivered", "d1@dead.test")[0]["ip"] == "127.0.0.2"'
t_check "first MX greets 421: next MX delivers" wait_log \
	'ev("delivered", "f1@t421.test") and
	 ev("delivered", "f1@t421.test")[0]["ip"] == "127.0.0.2"'
t_check "first MX too slow (banner_timeout): next MX delivers" wait_log \
	'ev("delivered", "w1@slow.test") and
	 ev("delivered", "w1@slow.test")[0]["ip"] == "127.0.0.2"'

# ---- 4. DNS: null MX, NXDOMAIN, SERVFAIL/timeout; DSNs ----
$SEND "$LPORT" a@sender.test n1@nullmx.test
$SEND "$LPORT" a@sender.test x1@nosuch.test
$SEND "$LPORT" b@nosuch.test x2@nullmx.test
$SEND "$LPORT" a@sender.test t1@bh.test
$SEND "$LPORT" a@sender.test s1@sf.test
t_check "null MX: bounced 5.1.10" wait_log \
	'ev("bounced", "n1@nullmx.test") and
	 ev("bounced", "n1@nullmx.test")[0]["enhanced"] == "5.1.10"'
t_check "NXDOMAIN: bounced 5.1.2" wait_log \
	'ev("bounced", "x1@nosuch.test") and
	 ev("bounced", "x1@nosuch.test")[0]["enhanced"] == "5.1.2"'
t_check "DNS timeout (blackholed server): deferred, not bounced" wait_log \
	'ev("deferred", "t1@bh.test") and not ev("bounced", "t1@bh.test")' 30
# dnsmasq answers REFUSED when its upstream says SERVFAIL (test_dns.sh
# checks a SERVFAIL on the wire); either way the domain defers.
t_check "DNS upstream SERVFAIL: deferred (4.4.3), not bounced" wait_log \
	'ev("deferred", "s1@sf.test") and not ev("bounced", "s1@sf.test") and
	 ev("deferred", "s1@sf.test")[0]["enhanced"] == "4.4.3"' 30
t_check "DSNs are delivered to the return path's domain" wait_log \
	'len(ev("delivered", "a@sender.test")) >= 2'
t_check "a DSN that cannot be delivered is not bounced again" wait_log \
	'ev("bounced", "x2@nullmx.test") and ev("failed", "b@nosuch.test") and
	 not ev("bounced", "b@nosuch.test")'
t_case "DSN at the sink is multipart/report (delivery-status)"
if /usr/bin/python3 - "$T_DIR/dsn/new" <<'PY'; then t_ok; else t_fail "no parsable DSN"; fi
import email, os, sys
seen = set()
for f in os.listdir(sys.argv[1]):
    m = email.message_from_bytes(open(os.path.join(sys.argv[1], f), "rb").read())
    if m.get_content_type() != "multipart/report" or \
       m.get_param("report-type") != "delivery-status":
        continue
    parts = m.get_payload()
    ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    if not ds:
        continue
    text = ds[0].as_string()
    for r, st in (("n1@nullmx.test", "5.1.10"), ("x1@nosuch.test", "5.1.2")):
        if r in text and st in text:
            seen.add(r)
sys.exit(0 if len(seen) == 2 else 1)
PY

# ---- 5. bindings ----
$SEND "$LPORT" a@sender.test g1@bind.test --header "X-Binding: b2"
$SEND "$LPORT" a@sender.test g2@bind.test --header "X-Binding: b3"
t_check "bindings: both delivered" wait_log \
	'ev("delivered", "g1@bind.test") and ev("delivered", "g2@bind.test") and
	 ev("delivered", "g1@bind.test")[0]["binding"] == "b2" and
	 ev("delivered", "g2@bind.test")[0]["binding"] == "b3"'
t_check "bindings: source address and EHLO name seen by the MX" sum_check \
	main 'S["clients"].get("127.0.0.2", {}).get("messages", 0) >= 1 and
	 S["clients"].get("127.0.0.3", {}).get("messages", 0) >= 1 and
	 S["helo"].get("b2.test", {}).get("messages", 0) == 1 and
	 S["helo"].get("b3.test", {}).get("messages", 0) == 1'
$SEND "$LPORT" a@sender.test h1@ghost.test --header "X-Binding: ghost"
$SEND "$LPORT" a@sender.test h2@ghost.test --header "X-Binding: ghost"
sleep 2
t_case "binding without its address on the host: suspended, reported once"
n=$(grep -c "binding ghost suspended" "$T_DIR/rt.log")
if [ "$n" = 1 ] && ! jq_log 'ev("delivered", "h1@ghost.test")' >/dev/null; then
	t_ok
else
	t_fail "suspension lines: $n"
fi

# ---- 6. connection limit, throttle ----
$SEND "$LPORT" a@sender.test l@limit.test --count 12
$SEND "$LPORT" a@sender.test q@thr.test --count 31
t_check "limit: every message delivered" wait_log \
	'len(ev("delivered", "l@limit.test")) == 12' 40
t_check "limit: max_outbound_connections = 2 never exceeded" sum_check \
	limit 'S["max_concurrent"] == 2 and S["messages"] == 12'
# rate_ok RCPT N RATE: N deliveries to RCPT whose mean rate (N - 1 gaps
# over the span of their log timestamps) is RATE per second within 5%.
rate_ok() {
	wait_log "len(ev('delivered', '$1')) == $2 and
	 (lambda ts: abs(($2 - 1) / ((max(ts) - min(ts)) / 1000.0) - $3)
	  <= $3 * 0.05)(
	  [__import__('datetime').datetime.strptime(e['ts'],
	   '%Y-%m-%dT%H:%M:%S.%fZ').timestamp() * 1000
	   for e in ev('delivered', '$1')])" 40
}
t_check "throttle: 10/1s honoured within 5%" rate_ok q@thr.test 31 10
t_check "throttle: sessions do not pile up while throttled" sum_check \
	thr 'S["max_concurrent"] <= 3 and S["messages"] == 31'
# One message per connection: the connection throttle spaces deliveries
# (the same sink, 127.0.0.17).
$SEND "$LPORT" a@sender.test c@cthr.test --count 16
t_check "connection throttle: 5/1s honoured within 5%" \
	rate_ok c@cthr.test 16 5
t_check "connection throttle: one connection per message" sum_check \
	thr 'S["messages"] == 47 and
	 S["helo"]["relay.test.example"]["connections"] >= 16 + 1'

# binding_limit LABEL RCPT SINK N: N/2 messages to RCPT from each of the
# bindings b2 (127.0.0.2) and b3 (127.0.0.3), to a domain with a binding
# x domain limit of 1: all delivered, one session per binding (source
# address) at a time, two in all.
binding_limit() {
	$SEND "$LPORT" a@sender.test "$2" --count $(($4 / 2)) \
		--header "X-Binding: b2"
	$SEND "$LPORT" a@sender.test "$2" --count $(($4 / 2)) \
		--header "X-Binding: b3"
	t_check "$1: every message delivered" wait_log \
		"len(ev('delivered', '$2')) == $4" 40
	t_check "$1: one session per binding, two in all" sum_check "$3" "
	 all(S['clients'][a]['max_concurrent'] == 1 and
	     S['clients'][a]['messages'] == $4 // 2
	     for a in ('127.0.0.2', '127.0.0.3')) and
	 all(S['helo'][h]['max_concurrent'] == 1
	     for h in ('b2.test', 'b3.test')) and
	 S['max_concurrent'] == 2 and S['messages'] == $4"
}
# The cluster limit, leased from ringmta's own Redis, so it bounds this
# node too.
binding_limit "binding x domain limit" p@blim.test blim 8
# The node's own limit (max_outbound_connections_per_binding = 1, no
# cluster lease).
binding_limit "per-binding limit (node)" n@nblim.test nblim 20

# ---- 7. TLS policies ----
$SEND "$LPORT" a@sender.test k1@tls.test
$SEND "$LPORT" a@sender.test k2@tlsinj.test
$SEND "$LPORT" a@sender.test k3@tlsreq.test
t_check "TLS required + verify ca: delivered over TLS, logged" wait_log \
	'ev("delivered", "k1@tls.test") and
	 ev("delivered", "k1@tls.test")[0]["tls"] in ("TLSv1.3", "TLSv1.2") and
	 ev("delivered", "k1@tls.test")[0]["cipher"]'
t_check "TLS opportunistic, broken STARTTLS: plaintext retry delivers" \
	wait_log 'ev("delivered", "k2@tlsinj.test") and
	 ev("delivered", "k2@tlsinj.test")[0]["tls"] is None'
t_check "TLS opportunistic: the plaintext retry is remembered" sum_check \
	tlsinj 'S["tls_starttls"] == 1 and S["messages"] == 1'
t_check "TLS required, STARTTLS not offered: deferred, never plaintext" \
	wait_log 'ev("deferred", "k3@tlsreq.test") and
	 not ev("delivered", "k3@tlsreq.test")'

# ---- 8. 4xx then success; expiry ----
$SEND "$LPORT" a@sender.test e1@retry.test
t_check "4xx: deferred, then delivered at the next attempt" wait_log \
	'ev("deferred", "e1@retry.test") and ev("delivered", "e1@retry.test")
	 and ev("delivered", "e1@retry.test")[0]["attempt"] == 2' 30
t_check "expiry: retried, then expired with 5.4.7 and a DSN" wait_log \
	'len(ev("deferred", "u1@exp.test")) >= 2 and
	 ev("expired", "u1@exp.test") and
	 ev("expired", "u1@exp.test")[0]["enhanced"] == "5.4.7"' 90

# ---- 9. server-wide max_connections below the per-domain limits ----
# A second ringmta relays every domain to one sink (127.0.0.1) with
# [delivery] max_connections = 10 and the default 20 per domain.  Domains
# refused by the server limit wait in a FIFO and get a slot as soon as a
# session ends; idle sessions of drained domains give theirs up.
P2=$(free_port)
start_sink glob --listen 127.0.0.1:$P2
wait_port 127.0.0.1 "$P2" 10
mta2_conf() { # SUSPENDED
	t_mta_conf "$T_DIR/glob.conf" "$DNS_PORT" "$T_DIR/var2" \
		"$T_DIR/glob.jsonl" relay2.test.example
	cat >>"$T_DIR/glob.conf" <<CONF

[delivery]
allowed_networks = 127.0.0.0/8
max_connections = 10
idle_timeout = 30s
tls = none
suspended = $1

[domain default]
relay = 127.0.0.1:$P2
CONF
}
mta2_start() { # sets MTA2 (pid) and LPORT2
	local main_pid=$MTA_PID main_port=$LPORT rc=0
	mta_start glob || rc=1
	MTA2=$MTA_PID LPORT2=$LPORT MTA_PID=$main_pid LPORT=$main_port
	return $rc
}
# glob_wait N SECONDS: until the sink counted N messages; prints the ms.
glob_wait() {
	local t0 n
	t0=$(date +%s%N)
	while :; do
		summary glob >/dev/null
		n=$(json_get "$T_DIR/glob.json" messages)
		if [ "${n:-0}" -ge "$1" ]; then
			echo $((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		[ $((($(date +%s%N) - t0) / 1000000000)) -ge "$2" ] && break
		sleep 0.05
	done
	echo "sink counted ${n:-0} of $1" >&2
	return 1
}
RCPTS=$(for i in $(seq 0 99); do printf 'g@d%d.glob.test,' "$i"; done)
RCPTS=${RCPTS%,}
mta2_conf true
t_case "global limit: 2,000 units for 100 domains queued while suspended"
if mta2_start && $SEND "$LPORT2" a@sender.test "$RCPTS" --count 20; then
	t_ok
else
	t_fail "could not fill the queue"
fi
t_stop $MTA2
mta2_conf false
# glob_timed WHAT N: the sink counts N messages within 10 s (a 20 s wait).
glob_timed() {
	local ms
	t_case "global limit: $1"
	if ms=$(glob_wait "$2" 20); then
		echo "$1: $ms ms"
		if [ "$ms" -lt 10000 ]; then t_ok; else t_fail "took $ms ms"; fi
	else
		t_fail "not delivered within 20 s"
	fi
}
mta2_start || echo "second ringmta: no listener" >&2
glob_timed "the drain takes seconds (not scan intervals)" 2000
t_check "global limit: the sink never saw more than 10 connections" \
	sum_check glob 'S["max_concurrent"] <= 10 and S["messages"] == 2000'
# Ten domains hold the ten slots with sessions that idle for 30 s; a
# message for 100 other domains must not wait for their idle timeout.
WARM=$(for i in $(seq 0 9); do printf 'w@w%d.glob.test,' "$i"; done)
$SEND "$LPORT2" a@sender.test "${WARM%,}"
t_case "global limit: ten idle sessions hold every slot"
if glob_wait 2010 10 >/dev/null; then
	sleep 0.5
	summary glob >/dev/null
	cur=$(json_get "$T_DIR/glob.json" current)
	if [ "$cur" = 10 ]; then t_ok; else t_fail "$cur sessions open"; fi
else
	t_fail "warm-up messages not delivered"
fi
RCPTS=$(for i in $(seq 0 99); do printf 'h@e%d.glob.test,' "$i"; done)
$SEND "$LPORT2" a@sender.test "${RCPTS%,}"
glob_timed "idle sessions give their slots to waiting domains" 2110
# Idle sessions are reclaimed with QUIT (smtpc_quit): the sink ends a
# session when QUIT arrives, before ringmta sees the 221 and frees the
# slot, so its TCP connections never exceed the limit, and every SMTP
# session that ended so far ended with QUIT (none dropped; wait_port's
# probe is the one connection without EHLO).
t_check "global limit: at most 10 TCP connections at the sink throughout" \
	sum_check glob 'S["max_concurrent"] <= 10 and
	 S["helo"]["relay2.test.example"]["max_concurrent"] <= 10'
t_check "global limit: every SMTP session that ended ended with QUIT" \
	sum_check glob 'S["closes"]["quit"] >= 100 and
	 S["closes"]["quit"] == S["helo"]["relay2.test.example"]["connections"]
	 - S["helo"]["relay2.test.example"]["current"]'
t_stop $MTA2

t_case "ringmta stops cleanly"
t_stop $MTA_PID
if grep -q "Sanitizer\|runtime error" "$T_DIR/rt.log"; then
	t_fail "sanitizer report in rt.log"
else
	t_ok
fi
t_finish
