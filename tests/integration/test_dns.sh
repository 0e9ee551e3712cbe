#!/usr/bin/env bash
# test_dns.sh: src/dns.c on a real ring with real c-ares, against a private
# dnsmasq on 127.0.0.1/::1 (TOOLCHAIN.md 4.4), a blackholed UDP server (the
# timeout path), a server answering SERVFAIL and a closed port (refused).  tests/integration/dnsq.c is
# built here by t_build_prog (lib.sh), linked with $RINGMTA_BUILD/libcore.a,
# and prints one JSON line per result; the checks below read those lines.
cd "$(dirname "$0")/../.." || exit 1
source tests/integration/lib.sh

command -v dnsmasq >/dev/null || t_skip "dnsmasq not installed"

DNSQ=$T_DIR/dnsq
t_build_prog "$DNSQ" tests/integration/dnsq.c

PORT=$(free_port)
dnsmasq -k --pid-file= --conf-file=/dev/null --no-resolv --no-hosts \
	--listen-address=127.0.0.1,::1 --bind-interfaces -p "$PORT" \
	--local=/test/ \
	--mx-host=example.test,mx1.example.test,10 \
	--mx-host=example.test,mx2.example.test,20 \
	--host-record=mx1.example.test,127.0.0.2 \
	--host-record=mx2.example.test,127.0.0.3,::1 \
	--mx-host=eq.test,a.eq.test,10 --mx-host=eq.test,b.eq.test,10 \
	--host-record=a.eq.test,127.0.0.4 --host-record=b.eq.test,127.0.0.5 \
	--dns-rr=nullmx.test,15,000000 \
	--host-record=nomx.test,127.0.0.9 \
	--mx-host=noaddr.test,ghost.noaddr.test,10 \
	--mx-host=cname.test,alias.cname.test,10 \
	--cname=alias.cname.test,mx1.example.test \
	--mx-host=lit.test,10.0.0.1,10 \
	--mx-host=mixed.test,10.0.0.1,10 \
	--mx-host=mixed.test,mx1.example.test,20 \
	--log-queries --log-facility="$T_DIR/dnsmasq.log" \
	>"$T_DIR/dnsmasq.out" 2>&1 &
t_daemon $!
DNSMASQ_PID=$!

# fake_dns PORT_FILE MODE: a UDP server on 127.0.0.1 whose port goes to
# PORT_FILE.  MODE drop: never answers (the timeout path); servfail:
# answers SERVFAIL to every query, the header echoed with QR RD RA and
# RCODE 2 (dnsmasq would turn an upstream SERVFAIL into REFUSED); refused:
# the same with RCODE 5.
fake_dns() {
	/usr/bin/python3 - "$1" "$2" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    q, peer = s.recvfrom(4096)
    rcode = {"servfail": 2, "refused": 5}.get(sys.argv[2])
    if rcode is not None and len(q) >= 12:
        s.sendto(q[:2] + bytes([0x81, 0x80 | rcode]) + q[4:], peer)
PY
	t_daemon $!
}
BH_PORT_FILE=$T_DIR/blackhole.port
fake_dns "$BH_PORT_FILE" drop
SF_PORT_FILE=$T_DIR/servfail.port
fake_dns "$SF_PORT_FILE" servfail
RF_PORT_FILE=$T_DIR/refused.port
fake_dns "$RF_PORT_FILE" refused

# Wait for dnsmasq to answer.
ok=0
for _ in $(seq 50); do
	if "$DNSQ" --server "127.0.0.1:$PORT" --timeout 200 --tries 1 \
		mx:nomx.test 2>/dev/null | grep -q '"status":"ok"'; then
		ok=1
		break
	fi
	kill -0 "$DNSMASQ_PID" 2>/dev/null || break
	sleep 0.1
done
if [ $ok = 0 ]; then
	if "$DNSQ" --server 127.0.0.1:1 mx:x.test 2>&1 | grep -q 'no io_uring'; then
		t_skip "io_uring unavailable"
	fi
	cat "$T_DIR/dnsmasq.out"
	t_case "dnsmasq fixture"
	t_fail "dnsmasq did not answer on 127.0.0.1:$PORT"
	t_finish
fi
wait_file "$BH_PORT_FILE" 10
BH_PORT=$(cat "$BH_PORT_FILE")
CLOSED_PORT=$(free_port)

# dnsq_run OUT ARGS...: run the driver, keep its JSON lines in OUT.
dnsq_run() {
	local out=$1
	shift
	"$DNSQ" "$@" >"$T_DIR/$out" 2>"$T_DIR/$out.err"
}

# jcheck OUT PYTHON-EXPR: evaluate with R[query] = last result for query,
# ALL = every result line, S = the stats.
jcheck() {
	/usr/bin/python3 - "$T_DIR/$1" "$2" <<'PY'
import json, sys
R, ALL, S = {}, [], {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    if "stats" in o:
        S = o["stats"]
    else:
        R[o["query"]] = o
        ALL.append(o)
def ips(r, i=None):
    hs = r["hosts"] if i is None else [r["hosts"][i]]
    return [a["ip"] for h in hs for a in h["addrs"]]
def names(r):
    return [h["name"] for h in r["hosts"]]
ok = eval("(" + sys.argv[2] + "\n)")
if not ok:
    print("check failed:", sys.argv[2])
    for o in ALL:
        print(json.dumps(o))
    print(json.dumps(S))
sys.exit(0 if ok else 1)
PY
}

SRV=(--server "127.0.0.1:$PORT")

dnsq_run main.json "${SRV[@]}" --seed 1 mx:example.test mx:nullmx.test \
	mx:nomx.test mx:nosuch.test mx:noaddr.test mx:cname.test mx:lit.test \
	mx:mixed.test mx:example.com mx:bad..name mx:EXAMPLE.test. \
	host:mx2.example.test:2525 host:127.0.0.1:2526 host:nosuch.test:25

t_check "two MX: preference order, A and AAAA per host" jcheck main.json \
	'R["mx:example.test"]["status"] == "ok" and
	 names(R["mx:example.test"]) == ["mx1.example.test", "mx2.example.test"] and
	 [h["pref"] for h in R["mx:example.test"]["hosts"]] == [10, 20] and
	 ips(R["mx:example.test"], 0) == ["127.0.0.2"] and
	 ips(R["mx:example.test"], 1) == ["127.0.0.3", "::1"]'
t_check "names are normalized (case, trailing dot)" jcheck main.json \
	'R["mx:EXAMPLE.test."]["domain"] == "example.test" and
	 names(R["mx:EXAMPLE.test."]) == names(R["mx:example.test"])'
t_check "null MX is permanent (5.1.10), no A fallback" jcheck main.json \
	'R["mx:nullmx.test"]["status"] == "null_mx" and
	 R["mx:nullmx.test"]["permanent"] and R["mx:nullmx.test"]["hosts"] == []'
t_check "NXDOMAIN is permanent (5.1.2)" jcheck main.json \
	'R["mx:nosuch.test"]["status"] == "nxdomain" and
	 R["mx:nosuch.test"]["permanent"]'
t_check "NODATA: implicit MX on the domain itself" jcheck main.json \
	'R["mx:nomx.test"]["status"] == "ok" and
	 R["mx:nomx.test"]["implicit_mx"] and
	 names(R["mx:nomx.test"]) == ["nomx.test"] and
	 R["mx:nomx.test"]["hosts"][0]["pref"] == 0 and
	 ips(R["mx:nomx.test"]) == ["127.0.0.9"]'
t_check "MX host without address: temporary no_addresses" jcheck main.json \
	'R["mx:noaddr.test"]["status"] == "no_addresses" and
	 not R["mx:noaddr.test"]["permanent"] and
	 R["mx:noaddr.test"]["hosts"][0]["status"] == "no_address"'
t_check "MX target behind a CNAME resolves" jcheck main.json \
	'R["mx:cname.test"]["status"] == "ok" and
	 ips(R["mx:cname.test"]) == ["127.0.0.2"]'
t_check "IP literal MX target skipped; none left is temporary" jcheck main.json \
	'R["mx:lit.test"]["status"] == "tempfail" and
	 R["mx:lit.test"]["reason"] == "bad_targets" and
	 R["mx:lit.test"]["skipped"] == 1 and
	 R["mx:mixed.test"]["status"] == "ok" and
	 R["mx:mixed.test"]["skipped"] == 1 and
	 names(R["mx:mixed.test"]) == ["mx1.example.test"]'
t_check "REFUSED from the server is temporary" jcheck main.json \
	'R["mx:example.com"]["status"] == "tempfail" and
	 R["mx:example.com"]["reason"] == "refused"'
t_check "a malformed domain is bad_name without a query" jcheck main.json \
	'R["mx:bad..name"]["status"] == "bad_name"'
t_check "relay host: A+AAAA with the port; literal used as is" jcheck main.json \
	'[(a["ip"], a["port"]) for a in R["host:mx2.example.test:2525"]["hosts"][0]["addrs"]] == [("127.0.0.3", 2525), ("::1", 2525)] and
	 ips(R["host:127.0.0.1:2526"]) == ["127.0.0.1"] and
	 R["host:nosuch.test:25"]["status"] == "no_addresses" and
	 not R["host:nosuch.test:25"]["permanent"]'
t_check "no query for the bad name reached dnsmasq" \
	bash -c "! grep -q 'bad..name' '$T_DIR/dnsmasq.log'"

dnsq_run eq.json "${SRV[@]}" --repeat 40 mx:eq.test
t_check "equal preferences: both orders over 40 lookups" jcheck eq.json \
	'len(ALL) == 40 and
	 all(r["status"] == "ok" and sorted(names(r)) == ["a.eq.test", "b.eq.test"] for r in ALL) and
	 0 < sum(names(r)[0] == "a.eq.test" for r in ALL) < 40'
t_check "cache: 40 lookups, one query per (name, type)" jcheck eq.json \
	'S["queries"] == 5 and S["hits"] >= 39 * 5'

dnsq_run co.json "${SRV[@]}" mx:example.test mx:example.test mx:example.test \
	mx:example.test host:mx1.example.test:25
t_check "coalescing: parallel lookups share queries" jcheck co.json \
	'len(ALL) == 5 and S["queries"] == 5 and S["coalesced"] >= 3 * 5 and
	 all(r["status"] == "ok" for r in ALL)'

dnsq_run v6.json --server "[::1]:$PORT" --family 6 mx:example.test
t_check "IPv6 resolver address; AAAA only" jcheck v6.json \
	'R["mx:example.test"]["status"] == "ok" and
	 ips(R["mx:example.test"]) == ["::1"] and
	 R["mx:example.test"]["hosts"][0]["status"] == "no_address"'

dnsq_run cap.json "${SRV[@]}" --max-mx 1 --max-addr 1 mx:example.test \
	host:mx2.example.test:25
t_check "caps: max MX hosts and max addresses" jcheck cap.json \
	'names(R["mx:example.test"]) == ["mx1.example.test"] and
	 R["mx:example.test"]["truncated"] == 1 and
	 len(ips(R["host:mx2.example.test:25"])) == 1'

dnsq_run bh.json --server "127.0.0.1:$BH_PORT" --timeout 200 --tries 2 \
	mx:example.test host:mx1.example.test:25
t_check "blackholed server: temporary timeout, within the bounds" jcheck bh.json \
	'all(r["status"] == "tempfail" and r["reason"] == "timeout" and
	     not r["permanent"] and 500 <= r["ms"] <= 3000 for r in ALL) and
	 len(ALL) == 2'

wait_file "$SF_PORT_FILE" 10
SF_PORT=$(cat "$SF_PORT_FILE")
dnsq_run sf.json --server "127.0.0.1:$SF_PORT" --timeout 500 --tries 1 \
	mx:example.test host:mx1.example.test:25
# c-ares 1.18 ends a query whose only server said SERVFAIL with
# ARES_ECONNREFUSED; dns_rcode.c notes the reply's RCODE, so the reason is
# "servfail" (tries 2: the same after a retry).  Temporary, no A fallback
# (no implicit MX), no address.
t_check "SERVFAIL: temporary servfail, no A fallback, no address" \
	jcheck sf.json \
	'all(r["status"] == "tempfail" and r["reason"] == "servfail" and
	     not r["permanent"] and not r["implicit_mx"] and not ips(r)
	     for r in ALL) and len(ALL) == 2'
dnsq_run sf2.json --server "127.0.0.1:$SF_PORT" --timeout 500 --tries 2 \
	mx:example.test
t_check "SERVFAIL with 2 tries: still servfail" jcheck sf2.json \
	'R["mx:example.test"]["status"] == "tempfail" and
	 R["mx:example.test"]["reason"] == "servfail"'

wait_file "$RF_PORT_FILE" 10
dnsq_run rf.json --server "127.0.0.1:$(cat "$RF_PORT_FILE")" --timeout 500 \
	--tries 1 mx:example.test
t_check "REFUSED answer: temporary refused" jcheck rf.json \
	'R["mx:example.test"]["status"] == "tempfail" and
	 R["mx:example.test"]["reason"] == "refused"'

dnsq_run cr.json --server "127.0.0.1:$CLOSED_PORT" --timeout 1000 --tries 2 \
	mx:example.test
t_check "nothing listening: temporary refused, fast" jcheck cr.json \
	'R["mx:example.test"]["status"] == "tempfail" and
	 R["mx:example.test"]["reason"] == "refused" and
	 R["mx:example.test"]["ms"] < 1000'

t_check "driver ran clean under ASan (no reports)" \
	bash -c "! grep -l 'Sanitizer' '$T_DIR'/*.err"

t_finish
