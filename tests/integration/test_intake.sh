#!/usr/bin/env bash
# Durable intake: ringmta's listener and spool against swaks, smtp-source
# and a recording injector.  Every 250 must be in the spool after a
# restart, including after kill -9 at random moments; relay control and
# smuggling defences give the documented replies; a full disk gives 452,
# never 250.
source "$(dirname "$0")/lib.sh"
BIN=$T_BUILD/ringmta
INJECT="/usr/bin/python3 $(dirname "$0")/inject.py"

NODNS=$(free_port)

# write_conf FILE STATE_DIR [EXTRA...]: a test configuration.
write_conf() {
	local f=$1 state=$2
	shift 2
	cat >"$f" <<CONF
[server]
hostname = relay.test.example
state_dir = $state
delivery_log = $T_DIR/delivery-$(basename "$f" .conf).jsonl

[listener]
address = 127.0.0.1:0
relay_networks = 127.0.0.1/32, ::1/128

[delivery]
allowed_networks = 127.0.0.0/8, ::1/128
; intake only: nothing is delivered (and DNS, were it asked, is local)
suspended = true

[dns]
servers = 127.0.0.1:$NODNS
CONF
	local line
	for line in "$@"; do echo "$line" >>"$f"; done
}

# start CONF LOG: start ringmta (t_mta_start) with LOG emptied first; set
# PID and PORT.
start() {
	: >"$2"
	t_mta_start "$1" "$2" || return 1
	PID=$MTA_PID PORT=$MTA_PORT
}

# smtp_raw PORT FILE: send FILE's bytes after the greeting, print replies.
smtp_raw() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.settimeout(5)
data = open(sys.argv[2], "rb").read()
s.recv(4096)
s.sendall(data)
out = b""
end = time.time() + 3
while time.time() < end:
    try:
        b = s.recv(65536)
    except socket.timeout:
        break
    if not b:
        break
    out += b
    if out.endswith(b"221 2.0.0 Bye\r\n") or b"\r\n221 " in out:
        break
sys.stdout.write(out.decode("latin-1"))
PY
}

# list_ids CONF: the live message ids in the spool (daemon stopped).
list_ids() {
	"$BIN" -c "$1" --list-queue 2>/dev/null | awk '{print $1}' | sort
}

write_conf "$T_DIR/a.conf" "$T_DIR/var"
t_case "ringmta starts and listens"
if start "$T_DIR/a.conf" "$T_DIR/a.log"; then t_ok; else t_fail "$(cat "$T_DIR/a.log")"; fi

t_case "swaks: three recipients, 250 queued as ID, logged as received"
out=$(swaks --server 127.0.0.1:$PORT --from a@inject.test \
	--to b@y.test,c@y.test,d@z.test --helo client.test 2>&1)
id=$(echo "$out" | sed -n 's/.*250 2\.0\.0 Ok: queued as \([0-9a-f]*\).*/\1/p')
sleep 0.3
if [ -n "$id" ] && grep -q "\"event\":\"received\",\"id\":\"$id\"" "$T_DIR/delivery-a.jsonl"; then
	echo "$id 0" >>"$T_DIR/acked"
	t_ok
else
	t_fail "no queued id or no log line: $out"
fi

t_case "2,000 pipelined messages over 50 connections, all acknowledged"
$INJECT 127.0.0.1 $PORT 2000 "$T_DIR/acked" --conns 50 --pipeline --rcpts 2
n=$(grep -c '^[0-9a-f]\{32\} ' "$T_DIR/acked")
if [ "$n" -eq 2001 ] && ! grep -q REFUSED "$T_DIR/acked"; then t_ok; else t_fail "acked $n of 2001"; fi

t_case "smtp-source: 50 sessions, 2,000 messages of 4 KiB"
if /usr/sbin/smtp-source -d -s 50 -m 2000 -l 4096 -f s@inject.test \
	-t r@dest.test 127.0.0.1:$PORT; then t_ok; else t_fail "smtp-source failed"; fi

t_case "relay-hostile address forms from a trusted client: 554 5.7.1"
printf 'EHLO c.test\r\nMAIL FROM:<a@inject.test>\r\nRCPT TO:<a%%b@c.test>\r\nRCPT TO:<@relay.test:b@c.test>\r\nRCPT TO:<"a@b"@c.test>\r\nRCPT TO:<b@[127.0.0.1]>\r\nRCPT TO:<a@b@c.test>\r\nRCPT TO:<a!b@c.test>\r\nQUIT\r\n' >"$T_DIR/forms"
out=$(smtp_raw $PORT "$T_DIR/forms")
n=$(echo "$out" | grep -c '^554 5\.7\.1')
if [ "$n" -eq 6 ]; then t_ok; else t_fail "$n of 6 refused: $out"; fi

t_case "untrusted client (127.0.0.2): 554 5.7.1 for every address form"
ok=1
for rcpt in b@y.test 'a%b@c.test' '@r.test:b@c.test' '"a@b"@c.test' 'b@[127.0.0.1]' 'a@b@c.test'; do
	out=$(swaks --server 127.0.0.1:$PORT --local-interface 127.0.0.2 \
		--from a@inject.test --to "$rcpt" --quit-after RCPT 2>&1)
	echo "$out" | grep -q '<\*\* *554 5\.7\.1' || { ok=0; echo "not refused: $rcpt"; echo "$out" | tail -5; }
done
if [ $ok = 1 ]; then t_ok; else t_fail "relay from outside relay_networks"; fi

t_case "smuggling sequences are refused with 550 5.6.0; the session survives"
ok=1
for seq in '\n.\n' '\n.\r\n' '\r.\r' '\r\n.\r' 'bare\nlf'; do
	printf "EHLO c.test\r\nMAIL FROM:<a@inject.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n" >"$T_DIR/smug"
	printf "Subject: x\r\n\r\nbody${seq}MAIL FROM:<evil@x.test>\r\nRCPT TO:<v@y.test>\r\nDATA\r\nevil\r\n.\r\nNOOP\r\nQUIT\r\n" >>"$T_DIR/smug"
	out=$(smtp_raw $PORT "$T_DIR/smug")
	echo "$out" | grep -q '^550 5\.6\.0' || { ok=0; echo "seq $seq: $out"; }
	echo "$out" | grep -q 'queued as' && { ok=0; echo "seq $seq queued something: $out"; }
	echo "$out" | grep -q '^221' || { ok=0; echo "seq $seq: session died"; }
done
if [ $ok = 1 ]; then t_ok; else t_fail "smuggling not refused"; fi

t_case "X-Binding selects a binding and is removed; unknown binding refused"
printf 'EHLO c.test\r\nMAIL FROM:<a@inject.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nX-Binding: nosuch\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n' >"$T_DIR/xb"
out=$(smtp_raw $PORT "$T_DIR/xb")
if echo "$out" | grep -q "^550 5\.7\.1 Unknown binding 'nosuch'"; then t_ok; else t_fail "$out"; fi

t_case "SIGTERM exits 0; the spool holds exactly what was acknowledged"
kill -TERM $PID
wait $PID
st=$?
list_ids "$T_DIR/a.conf" >"$T_DIR/ids"
grep '^[0-9a-f]\{32\} ' "$T_DIR/acked" | awk '{print $1}' | sort >"$T_DIR/acked.ids"
missing=$(comm -23 "$T_DIR/acked.ids" "$T_DIR/ids" | wc -l)
total=$(wc -l <"$T_DIR/ids")
# spool = acked + smtp-source's 2000 (not individually recorded)
if [ $st -eq 0 ] && [ "$missing" -eq 0 ] && [ "$total" -eq $((2001 + 2000)) ]; then
	t_ok
else
	t_fail "exit $st, $missing acknowledged ids missing, $total in spool"
fi

t_case "restart replays the spool and accepts mail again"
if start "$T_DIR/a.conf" "$T_DIR/a2.log" && grep -q "4001 messages" "$T_DIR/a2.log" &&
	swaks --server 127.0.0.1:$PORT --from a@inject.test --to z@y.test 2>&1 | grep -q 'queued as'; then
	t_ok
else
	t_fail "$(cat "$T_DIR/a2.log")"
fi
kill -TERM $PID
wait $PID

# Undeclared 8-bit data and flow control, on a spool of their own.
write_conf "$T_DIR/e.conf" "$T_DIR/evar"
sed -i 's/^\[server\]$/[server]\nlog_level = debug/' "$T_DIR/e.conf"
start "$T_DIR/e.conf" "$T_DIR/e.log" || t_fail "$(cat "$T_DIR/e.log")"

t_case "8-bit data without BODY=8BITMIME is stored as 8BITMIME (declared or 7-bit: no flag added)"
printf 'EHLO c.test\r\nMAIL FROM:<a@inject.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nSubject: u\r\n\r\ncaf\xc3\xa9 undeclared\r\n.\r\n' >"$T_DIR/e8"
printf 'MAIL FROM:<a@inject.test> BODY=8BITMIME\r\nRCPT TO:<b@y.test>\r\nDATA\r\nSubject: d\r\n\r\ncaf\xc3\xa9 declared\r\n.\r\n' >>"$T_DIR/e8"
printf 'MAIL FROM:<a@inject.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nSubject: s\r\n\r\nseven bit\r\n.\r\n' >>"$T_DIR/e8"
printf 'MAIL FROM:<a@inject.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nSubject: h\xe9\r\n\r\nin the header\r\n.\r\nQUIT\r\n' >>"$T_DIR/e8"
out=$(smtp_raw $PORT "$T_DIR/e8")
queued=$(echo "$out" | grep -c 'queued as')
flagged=$(grep -c 'without BODY=8BITMIME, stored as 8BITMIME' "$T_DIR/e.log")
if [ "$queued" -eq 4 ] && [ "$flagged" -eq 2 ]; then t_ok; else t_fail "$queued queued, $flagged flagged: $out"; fi

t_case "a 20 MB message is streamed with flow control (session paused, then resumed) and acknowledged"
out=$(/usr/bin/python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline()
        if line[3:4] != b"-":
            return line.decode().strip()
reply()
for c in (b"EHLO c.test", b"MAIL FROM:<a@inject.test> SIZE=21000000",
          b"RCPT TO:<big@y.test>", b"DATA"):
    s.sendall(c + b"\r\n")
    reply()
line = b"x" * 998 + b"\r\n"
s.sendall(b"Subject: big\r\n\r\n")
chunk = line * 1024
for _ in range(20):
    s.sendall(chunk)
s.sendall(b".\r\n")
print(reply())
s.sendall(b"QUIT\r\n")
reply()
PY
)
pauses=$(grep -c 'paused: spool busy' "$T_DIR/e.log")
if echo "$out" | grep -q '^250 .*queued as' && [ "$pauses" -gt 0 ]; then t_ok; else t_fail "reply '$out', $pauses pauses"; fi
kill -TERM $PID
wait $PID
t_case "the spool holds the five messages (the 20 MB one streamed)"
n=$("$BIN" -c "$T_DIR/e.conf" --list-queue 2>/dev/null | wc -l)
if [ "$n" -eq 5 ] && ls "$T_DIR/evar/spool/seg" >/dev/null && ! grep -q ': error: ' "$T_DIR/e.log"; then t_ok; else t_fail "$n messages"; fi

t_case "a second ringmta on the same spool is refused"
start "$T_DIR/a.conf" "$T_DIR/a3.log"
first=$PID
"$BIN" -c "$T_DIR/a.conf" 2>"$T_DIR/a4.log"
st=$?
if [ $st -ne 0 ] && grep -q "in use by another ringmta" "$T_DIR/a4.log"; then t_ok; else t_fail "exit $st: $(cat "$T_DIR/a4.log")"; fi
kill -TERM $first
wait $first

t_case "kill -9 at random moments, 20 times: no acknowledged message lost"
write_conf "$T_DIR/k.conf" "$T_DIR/kvar"
: >"$T_DIR/kacked"
ok=1
for i in $(seq 20); do
	if ! start "$T_DIR/k.conf" "$T_DIR/k.log"; then ok=0; echo "start $i failed"; cat "$T_DIR/k.log"; break; fi
	$INJECT 127.0.0.1 $PORT 100000 "$T_DIR/kacked" --conns 8 --pipeline --size 3000 &
	inj=$!
	sleep "0.$((RANDOM % 9 + 1))"
	kill -KILL $PID
	wait $PID 2>/dev/null
	wait $inj 2>/dev/null
done
grep '^[0-9a-f]\{32\} ' "$T_DIR/kacked" | awk '{print $1}' | sort >"$T_DIR/kacked.ids"
list_ids "$T_DIR/k.conf" >"$T_DIR/kids"
missing=$(comm -23 "$T_DIR/kacked.ids" "$T_DIR/kids" | wc -l)
acked=$(wc -l <"$T_DIR/kacked.ids")
echo "kill -9 runs: $acked acknowledged, $(wc -l <"$T_DIR/kids") in spool, $missing missing"
if [ $ok = 1 ] && [ "$acked" -gt 100 ] && [ "$missing" -eq 0 ]; then t_ok; else t_fail "$missing of $acked acknowledged messages lost"; fi

t_case "a full disk gives 452 4.3.1 and never a 250 after it"
mkdir -p "$T_DIR/small"
if mount -t tmpfs -o size=3m tmpfs "$T_DIR/small" 2>/dev/null; then
	write_conf "$T_DIR/f.conf" "$T_DIR/small/var" "[spool]" "min_free_space = 64K"
	start "$T_DIR/f.conf" "$T_DIR/f.log"
	: >"$T_DIR/facked"
	$INJECT 127.0.0.1 $PORT 60 "$T_DIR/facked" --size 100000
	kill -TERM $PID
	wait $PID
	first_refused=$(grep -n 'REFUSED 452' "$T_DIR/facked" | head -1 | cut -d: -f1)
	late_ack=0
	[ -n "$first_refused" ] && late_ack=$(tail -n +"$first_refused" "$T_DIR/facked" | grep -c '^[0-9a-f]\{32\} ')
	grep '^[0-9a-f]\{32\} ' "$T_DIR/facked" | awk '{print $1}' | sort >"$T_DIR/facked.ids"
	list_ids "$T_DIR/f.conf" >"$T_DIR/fids"
	missing=$(comm -23 "$T_DIR/facked.ids" "$T_DIR/fids" | wc -l)
	umount "$T_DIR/small"
	if [ -n "$first_refused" ] && [ "$late_ack" -eq 0 ] && [ "$missing" -eq 0 ] &&
		! grep -q 'REFUSED 5' "$T_DIR/facked"; then
		t_ok
	else
		t_fail "first 452 at line ${first_refused:-none}, $late_ack acks after it, $missing lost: $(sort "$T_DIR/facked" | uniq -c | head)"
	fi
else
	t_skip_case "cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)"
fi

t_case "STARTTLS at intake: TLS session, Received says ESMTPS with the protocol"
sh tests/unit/tls_fixture.sh "$T_DIR/certs" >/dev/null 2>&1
"$T_BUILD/ringsink" --listen 127.0.0.1:0 --port-file "$T_DIR/tsink.port" \
	--maildir "$T_DIR/tmaildir" --quiet >/dev/null 2>&1 &
t_daemon $!
wait_file "$T_DIR/tsink.port" 5
write_conf "$T_DIR/t.conf" "$T_DIR/tvar" "[tls]" \
	"cert_file = $T_DIR/certs/mx-chain.crt" "key_file = $T_DIR/certs/mx.key" \
	"[domain tls.test]" "relay = $(head -1 "$T_DIR/tsink.port")" "suspended = false"
start "$T_DIR/t.conf" "$T_DIR/t.log"
out=$(swaks --server 127.0.0.1:$PORT --tls --from a@inject.test --to r@tls.test 2>&1)
for _ in $(seq 50); do
	ls "$T_DIR/tmaildir/new" 2>/dev/null | grep -q . && break
	sleep 0.1
done
f=$(ls "$T_DIR/tmaildir/new" 2>/dev/null | head -1)
if echo "$out" | grep -q "TLS started" && echo "$out" | grep -q 'queued as' &&
	[ -n "$f" ] && grep -q "with ESMTPS (TLSv1\.[23]) id" "$T_DIR/tmaildir/new/$f"; then
	t_ok
else
	t_fail "$(echo "$out" | tail -5); maildir: ${f:-none}; $(grep -i tls "$T_DIR/t.log" | tail -3)"
fi
kill -TERM $PID
wait $PID

t_finish
