#!/usr/bin/env bash
# The intake part of RELIABILITY.md's bad-input catalogue (I3-I11) and the
# listener's limits, against a running ringmta: each input gets its
# documented reply and the session (or the daemon) survives it.
source "$(dirname "$0")/lib.sh"
BIN=$T_BUILD/ringmta

NODNS=$(free_port)
cat >"$T_DIR/l.conf" <<CONF
[server]
hostname = relay.test.example
state_dir = $T_DIR/var
delivery_log = $T_DIR/delivery.jsonl

[listener]
address = 127.0.0.1:0
relay_networks = 127.0.0.0/8
max_message_size = 2M
max_recipients = 5
max_errors = 5
idle_timeout = 2s
max_line_length = 512

[delivery]
; intake only: nothing is delivered (and DNS, were it asked, is local)
suspended = true
allowed_networks = 127.0.0.0/8

[dns]
servers = 127.0.0.1:$NODNS
CONF

# start CONF LOG: start ringmta (t_mta_start) with LOG emptied first; set
# PID and PORT.
start() {
	: >"$2"
	t_mta_start "$1" "$2" || return 1
	PID=$MTA_PID PORT=$MTA_PORT
}

# chat PORT SCRIPT.py: run a python snippet with a connected socket `s`,
# helpers send(b)/reply() -> "code text", and print what it prints.
chat() {
	/usr/bin/python3 - "$1" <<PY
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.settimeout(10)
f = s.makefile("rb")
def send(b):
    s.sendall(b)
def reply():
    lines = []
    while True:
        l = f.readline()
        if not l:
            return "EOF"
        lines.append(l.decode("latin-1").rstrip("\r\n"))
        if len(l) < 4 or l[3:4] == b" ":
            return lines[-1]
$(cat)
PY
}

t_case "ringmta starts"
if start "$T_DIR/l.conf" "$T_DIR/l.log"; then t_ok; else t_fail "$(cat "$T_DIR/l.log")"; fi

t_case "I5: command lines of 513 B, 1 MB and 10 MB: 500 5.5.6, session usable"
out=$(chat $PORT <<'PY'
print(reply())
for n in (513, 1 << 20, 10 << 20):
    send(b"NOOP " + b"x" * n + b"\r\n")
    print(reply())
    send(b"NOOP\r\n")
    print(reply())
PY
)
if [ "$(echo "$out" | grep -c '^500 5\.5\.6')" -eq 3 ] && [ "$(echo "$out" | grep -c '^250')" -eq 3 ]; then t_ok; else t_fail "$out"; fi

t_case "I3: NUL in a command gives 5xx; NUL in the body gives 550 5.6.0"
out=$(chat $PORT <<'PY'
reply()
send(b"EHLO c.test\r\n"); reply()
send(b"MAIL FROM:<a@x.test>\x00\r\n"); print(reply())
send(b"MAIL FROM:<a@x.test>\r\n"); print(reply())
send(b"RCPT TO:<b@y.test>\r\n"); print(reply())
send(b"DATA\r\n"); print(reply())
send(b"Subject: x\r\n\r\nnul\x00here\r\n.\r\n"); print(reply())
send(b"QUIT\r\n"); print(reply())
PY
)
if echo "$out" | sed -n 1p | grep -q '^5' && echo "$out" | grep -q '^550 5\.6\.0' &&
	echo "$out" | grep -q '^221'; then t_ok; else t_fail "$out"; fi

t_case "I4: CR/LF/NUL decoded from xtext in ENVID or ORCPT: 501, never stored"
out=$(chat $PORT <<'PY'
reply()
send(b"EHLO c.test\r\n"); reply()
send(b"MAIL FROM:<a@x.test> ENVID=abc+0D+0Aevil\r\n"); print(reply())
send(b"MAIL FROM:<a@x.test> ENVID=ok\r\n"); print(reply())
send(b"RCPT TO:<b@y.test> ORCPT=rfc822;b+00@y.test\r\n"); print(reply())
send(b"RCPT TO:<b@y.test> ORCPT=rfc822;b+0A@y.test\r\n"); print(reply())
send(b"QUIT\r\n"); print(reply())
PY
)
if [ "$(echo "$out" | grep -c '^501')" -eq 3 ] && echo "$out" | grep -q '^250'; then t_ok; else t_fail "$out"; fi

t_case "I6: SIZE= over the limit gives 552 5.3.4 at MAIL"
out=$(chat $PORT <<'PY'
reply()
send(b"EHLO c.test\r\n"); reply()
send(b"MAIL FROM:<a@x.test> SIZE=3000000\r\n"); print(reply())
send(b"QUIT\r\n"); reply()
PY
)
if echo "$out" | grep -q '^552 5\.3\.4'; then t_ok; else t_fail "$out"; fi

t_case "I6: an undeclared 3 MB body gives 552 5.3.4 after the dot, nothing queued"
out=$(chat $PORT <<'PY'
reply()
send(b"EHLO c.test\r\n"); reply()
send(b"MAIL FROM:<big@x.test>\r\n"); reply()
send(b"RCPT TO:<b@y.test>\r\n"); reply()
send(b"DATA\r\n"); reply()
line = b"y" * 78 + b"\r\n"
send(b"Subject: big\r\n\r\n" + line * (3 * 1024 * 1024 // 80) + b".\r\n")
print(reply())
send(b"NOOP\r\n"); print(reply())
PY
)
if echo "$out" | grep -q '^552 5\.3\.4' && echo "$out" | grep -q '^250'; then t_ok; else t_fail "$out"; fi

t_case "recipient limit: the 6th RCPT gets 452 4.5.3"
out=$(chat $PORT <<'PY'
reply()
send(b"EHLO c.test\r\n"); reply()
send(b"MAIL FROM:<a@x.test>\r\n"); reply()
for i in range(6):
    send(b"RCPT TO:<r%d@y.test>\r\n" % i); print(reply())
PY
)
if [ "$(echo "$out" | grep -c '^250')" -eq 5 ] && echo "$out" | tail -1 | grep -q '^452 4\.5\.3'; then t_ok; else t_fail "$out"; fi

t_case "error limit: the session is closed with 421 4.7.0"
out=$(chat $PORT <<'PY'
reply()
for i in range(8):
    send(b"BOGUS\r\n")
    r = reply(); print(r)
    if r.startswith("421") or r == "EOF":
        break
PY
)
if echo "$out" | grep -q '^421 4\.7\.0'; then t_ok; else t_fail "$out"; fi

t_case "idle timeout: 421 4.4.2 after 2 s of silence"
out=$(chat $PORT <<'PY'
reply()
t = time.time()
print(reply())
print("%.1f" % (time.time() - t))
PY
)
secs=$(echo "$out" | tail -1)
if echo "$out" | grep -q '^421 4\.4\.2' && awk -v s="$secs" 'BEGIN{exit !(s >= 1.5 && s < 6)}'; then t_ok; else t_fail "$out"; fi

t_case "I8: pipelining after HELO (not advertised) is refused and closed"
out=$(chat $PORT <<'PY'
reply()
send(b"HELO c.test\r\n"); reply()
send(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n")
print(reply()); print(reply())
PY
)
if echo "$out" | grep -q '^554 5\.5\.0'; then t_ok; else t_fail "$out"; fi

t_case "I10: shell and expansion metacharacters in addresses are opaque data"
out=$(chat $PORT <<'PY'
reply()
send(b"EHLO c.test\r\n"); reply()
send(b"MAIL FROM:<\"|sleep 5;\"@x.test>\r\n"); print(reply())
send(b"RCPT TO:<${run{x}}@y.test>\r\n"); print(reply())
send(b"RCPT TO:<`id`@y.test>\r\n"); print(reply())
send(b"DATA\r\n"); print(reply())
send(b"Subject: meta\r\n\r\nx\r\n.\r\n"); print(reply())
PY
)
if [ "$(echo "$out" | grep -c '^250')" -ge 4 ] && echo "$out" | grep -q 'queued as'; then t_ok; else t_fail "$out"; fi

t_case "I11: 10,000 header fields are accepted with bounded memory"
out=$(chat $PORT <<'PY'
reply()
send(b"EHLO c.test\r\n"); reply()
send(b"MAIL FROM:<a@x.test>\r\n"); reply()
send(b"RCPT TO:<b@y.test>\r\n"); reply()
send(b"DATA\r\n"); reply()
send(b"".join(b"X-H%d: v\r\n" % i for i in range(10000)) + b"\r\nbody\r\n.\r\n")
print(reply())
PY
)
rss=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
if echo "$out" | grep -q 'queued as' && [ "$rss" -lt 400000 ]; then t_ok; else t_fail "$out (RSS $rss kB)"; fi

t_case "banner_delay: a client talking before the greeting is refused"
cat "$T_DIR/l.conf" >"$T_DIR/b.conf"
sed -i "s|^state_dir = .*|state_dir = $T_DIR/bvar|" "$T_DIR/b.conf"
sed -i "s/^idle_timeout = 2s$/idle_timeout = 2s\nbanner_delay = 1s/" "$T_DIR/b.conf"
kill -TERM $PID
wait $PID
start "$T_DIR/b.conf" "$T_DIR/b.log"
out=$(chat $PORT <<'PY'
send(b"EHLO early.test\r\n")
print(reply())
PY
)
if echo "$out" | grep -q '^554 5\.5\.0'; then t_ok; else t_fail "$out"; fi
kill -TERM $PID
wait $PID

t_case "the daemon survived all of it and the spool holds the accepted messages"
n=$("$BIN" -c "$T_DIR/l.conf" --list-queue 2>/dev/null | wc -l)
if [ "$n" -eq 2 ]; then t_ok; else t_fail "$n messages in the spool (expected 2)"; fi

t_finish
