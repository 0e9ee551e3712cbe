# ringsink end to end: swaks, smtp-source and a raw Python client against
# the real binary on 127.0.0.1 (kernel-chosen ports, read from
# --port-file).  Counts in the JSON summary are checked exactly; maildir
# bytes are compared with what was sent; every fault form is exercised.
# shellcheck shell=bash
source "$(dirname "$0")/lib.sh"

SINK=$T_BUILD/ringsink
[ -x "$SINK" ] || t_skip "$SINK not built"
command -v swaks >/dev/null || t_skip "swaks missing"
PY=/usr/bin/python3

# The raw client: connect, print the greeting code, then for each argument
# send it (a command line, "@body:ESCAPED" raw bytes, "@bodyfile:PATH" a
# file dot-stuffed and terminated, "@sleep:S") and print the reply code
# ("EOF" when the server closed).
cat >"$T_DIR/smtpc.py" <<'PY'
import codecs, socket, sys, time
def reply(f):
    while True:
        l = f.readline()
        if not l:
            return 'EOF'
        if l[3:4] != b'-':
            return l[:3].decode()
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), 10)
f = s.makefile('rb')
out = [reply(f)]
for a in sys.argv[3:]:
    if a.startswith('@sleep:'):
        time.sleep(float(a[7:]))
        continue
    if a.startswith('@body:'):
        data = codecs.escape_decode(a[6:].encode())[0]
    elif a.startswith('@bodyfile:'):
        raw = open(a[10:], 'rb').read()
        lines = raw.split(b'\r\n')
        data = b'\r\n'.join(b'.' + l if l.startswith(b'.') else l
                            for l in lines[:-1]) + b'\r\n.\r\n'
    else:
        data = a.encode() + b'\r\n'
    try:
        s.sendall(data)
    except OSError:
        out.append('EOF')
        break
    r = reply(f)
    out.append(r)
    if r == 'EOF':
        break
print(' '.join(out))
PY
smtpc() { "$PY" "$T_DIR/smtpc.py" "$@"; }


send_swaks() {
	swaks --server "127.0.0.1:$PORT" --helo client.test --from a@x.test \
		"$@" >"$SD/swaks.$RANDOM.log" 2>&1
}

# ---- cases ---------------------------------------------------------------

case_basic() {
	t_sink_start basic --maildir "$T_DIR/basic/md" || return 1
	grep -q "^127.0.0.1:[0-9]*$" "$SD/ports" || return 1
	grep -q "ringsink: listening on 127.0.0.1:$PORT" "$SD/stderr" || return 1
	send_swaks --to b@y.test,c@y.test --pipeline || return 1
	send_swaks --to d@y.test || return 1
	t_sink_stop || return 1
	t_sink_jeq "d['connections']" 2 && t_sink_jeq "d['messages']" 2 &&
		t_sink_jeq "d['recipients']" 3 && t_sink_jeq "d['max_concurrent']" 1 &&
		t_sink_jeq "d['current']" 0 && t_sink_jeq "d['replies']['354']" 2 &&
		t_sink_jeq "d['helo']['client.test']['messages']" 2 &&
		t_sink_jeq "d['clients']['127.0.0.1']['recipients']" 3 &&
		t_sink_jeq "d['listen']['127.0.0.1:$PORT']['connections']" 2 &&
		t_sink_jeq "d['bytes'] == sum(__import__('os').path.getsize(p) for p in __import__('glob').glob('$SD/md/new/*'))" True &&
		t_sink_jeq "len(__import__('os').listdir('$SD/md/new'))" 2 &&
		t_sink_jeq "sorted(json.load(open(p))['rcpts'] for p in __import__('glob').glob('$SD/md/env/*'))" \
			"[['b@y.test', 'c@y.test'], ['d@y.test']]" &&
		t_sink_jeq "d['closes']['quit']" 2 &&
		# the stdout copy is the same summary
		[ "$(tail -1 "$SD/stdout")" = "$(cat "$SD/summary.json")" ]
}

case_maildir_bytes() {
	local body=$T_DIR/body.eml got
	"$PY" - "$body" <<'PY'
import sys
lines = [b'Subject: dots', b'', b'.', b'..', b'.x', b'...y', b'x' * 998,
         bytes(range(128, 256)), b'caf\xc3\xa9', b'', b'.']
open(sys.argv[1], 'wb').write(b'\r\n'.join(lines) + b'\r\n')
PY
	t_sink_start maildir --maildir "$T_DIR/maildir/md" || return 1
	[ "$(smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>" \
		"RCPT TO:<b@y>" DATA "@bodyfile:$body" QUIT)" = \
		"220 250 250 250 354 250 221" ] || return 1
	t_sink_stop || return 1
	got=$(ls "$SD/md/new/")
	cmp "$body" "$SD/md/new/$got" || return 1
	t_sink_jeq "d['bytes']" "$(stat -c %s "$body")" &&
		t_sink_jeq "json.load(open('$SD/md/env/$got'))['from']" a@x &&
		t_sink_jeq "json.load(open('$SD/md/env/$got'))['helo']" c &&
		t_sink_jeq "json.load(open('$SD/md/env/$got'))['client']" 127.0.0.1 &&
		t_sink_jeq "json.load(open('$SD/md/env/$got'))['listen']" "127.0.0.1:$PORT" &&
		[ -z "$(ls "$SD/md/tmp")" ]
}

case_smtp_source() {
	t_sink_start source || return 1
	/usr/sbin/smtp-source -s 20 -m 2000 -l 4096 -d "127.0.0.1:$PORT" ||
		return 1
	t_sink_stop || return 1
	t_sink_jeq "d['messages']" 2000 && t_sink_jeq "d['recipients']" 2000 &&
		t_sink_jeq "d['bytes'] >= 2000 * 4096" True &&
		t_sink_jeq "d['max_concurrent'] <= 20" True &&
		t_sink_jeq "d['replies']['354']" 2000 && t_sink_jeq "d['current']" 0
}

case_reply_rcpt() {
	t_sink_start reply --reply 'rcpt=451:4.3.0 try later' || return 1
	[ "$(smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>" \
		"RCPT TO:<b@y>" DATA QUIT)" = "220 250 250 451 554 221" ] ||
		return 1
	t_sink_stop && t_sink_jeq "d['replies']['451']" 1 && t_sink_jeq "d['messages']" 0 &&
		t_sink_jeq "d['rcpt']" 1 && t_sink_jeq "d['rcpt_accepted']" 0
}

case_reply_each_stage() {
	local st code out want
	for st in banner ehlo mail rset quit helo; do
		code=554
		[ $st = quit ] && code=221
		t_sink_start "stage_$st" --reply "$st=$code:5.0.0 scripted" || return 1
		case $st in
		banner) out=$(smtpc 127.0.0.1 "$PORT" "EHLO c" QUIT); want="554 503 221" ;;
		ehlo) out=$(smtpc 127.0.0.1 "$PORT" "EHLO c" "HELO c"); want="220 554 250" ;;
		helo) out=$(smtpc 127.0.0.1 "$PORT" "HELO c" "EHLO c"); want="220 554 250" ;;
		mail) out=$(smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>"); want="220 250 554" ;;
		rset) out=$(smtpc 127.0.0.1 "$PORT" "EHLO c" RSET); want="220 250 554" ;;
		quit) out=$(smtpc 127.0.0.1 "$PORT" QUIT NOOP); want="220 221 EOF" ;;
		esac
		[ "$out" = "$want" ] || { echo "$st: $out != $want"; return 1; }
		t_sink_stop || return 1
	done
	t_sink_start stage_data --reply 'data=452:4.3.1 full' \
		--reply 'dot=550:5.7.1 no thanks' || return 1
	out=$(smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>" "RCPT TO:<b@y>" \
		DATA)
	[ "$out" = "220 250 250 250 452" ] || { echo "data: $out"; return 1; }
	t_sink_stop || return 1
	t_sink_start stage_dot --reply 'dot=550:5.7.1 no thanks' || return 1
	out=$(smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>" "RCPT TO:<b@y>" \
		DATA '@body:x\r\n.\r\n')
	[ "$out" = "220 250 250 250 354 550" ] || { echo "dot: $out"; return 1; }
	t_sink_stop && t_sink_jeq "d['messages']" 0 && t_sink_jeq "d['messages_rejected']" 1
}

case_delay() {
	local t0 t1
	t_sink_start delay --delay dot=1s --delay banner=300ms || return 1
	t0=$(date +%s%N)
	send_swaks --to b@y.test || return 1
	t1=$(date +%s%N)
	t_sink_stop || return 1
	[ $(((t1 - t0) / 1000000)) -ge 1300 ] ||
		{ echo "took $(((t1 - t0) / 1000000)) ms"; return 1; }
	t_sink_jeq "d['messages']" 1 && t_sink_jeq "d['delays']" 2
}

case_drop() {
	t_sink_start drop --drop data || return 1
	[ "$(smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>" \
		"RCPT TO:<b@y>" DATA)" = "220 250 250 250 EOF" ] || return 1
	t_sink_stop && t_sink_jeq "d['drops']" 1 && t_sink_jeq "d['closes']['owner_drop']" 1 &&
		t_sink_jeq "d['messages']" 0
}

case_reply_close() {
	t_sink_start close --reply-close 'mail=421:4.7.0 bye' || return 1
	[ "$(smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>" NOOP)" = \
		"220 250 421 EOF" ] || return 1
	t_sink_stop && t_sink_jeq "d['replies']['421']" 1 &&
		t_sink_jeq "d['closes']['owner_reply']" 1
}

case_probability() {
	local args=() i out n
	for i in $(seq 200); do args+=("RCPT TO:<r$i@y>"); done
	t_sink_start prob --reply 'rcpt=451:4.3.0 later@0.3' --seed 7 || return 1
	out=$(smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>" "${args[@]}")
	n=$(echo "$out" | tr ' ' '\n' | grep -c '^451$')
	t_sink_stop || return 1
	[ "$n" -ge 35 ] && [ "$n" -le 85 ] || { echo "451 x $n of 200"; return 1; }
	t_sink_jeq "d['replies']['451']" "$n" && t_sink_jeq "d['rcpt_accepted']" $((200 - n))
}

case_first_n() {
	local m=("MAIL FROM:<a@x>" "RCPT TO:<b@y>" DATA '@body:hi\r\n.\r\n')
	t_sink_start first --reply 'dot=451@first:2' || return 1
	[ "$(smtpc 127.0.0.1 "$PORT" "EHLO c" "${m[@]}" "${m[@]}" "${m[@]}" \
		"${m[@]}")" = "220 250 250 250 354 451 250 250 354 451 250 250 354 250 250 250 354 250" ] ||
		return 1
	t_sink_stop && t_sink_jeq "d['messages']" 2 && t_sink_jeq "d['messages_rejected']" 2
}

case_rcpt_patterns() {
	t_sink_start patterns --rcpt 'bad*=550:5.1.1 no such user' \
		--rcpt 'slow*=452' || return 1
	[ "$(smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>" \
		"RCPT TO:<bad1@y>" "RCPT TO:<good@y>" "RCPT TO:<slowpoke@y>" \
		"RCPT TO:<t451@y>" "RCPT TO:<t550-x@y>" "RCPT TO:<t421@y>" \
		NOOP)" = "220 250 250 550 250 452 451 550 421 EOF" ] || return 1
	t_sink_stop && t_sink_jeq "d['replies']['550']" 2 && t_sink_jeq "d['rcpt_accepted']" 1
}

case_no_conventions() {
	t_sink_start noconv --no-conventions || return 1
	[ "$(smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>" \
		"RCPT TO:<t451@y>")" = "220 250 250 250" ] || return 1
	t_sink_stop
}

case_script_sequence() {
	cat >"$T_DIR/faults.rules" <<'EOF'
# first attempt of each retry* recipient fails, the next succeeds
sequence rcpt/retry* per rcpt = 451:4.3.0 try again; 250
reply rcpt/never*=550:5.1.1 never
EOF
	t_sink_start script --script "$T_DIR/faults.rules" || return 1
	send_swaks --to retry1@y.test && return 1
	send_swaks --to retry2@y.test && return 1
	send_swaks --to retry1@y.test || return 1
	send_swaks --to never@y.test && return 1
	send_swaks --to retry2@y.test || return 1
	t_sink_stop && t_sink_jeq "d['messages']" 2 && t_sink_jeq "d['connections']" 5 &&
		t_sink_jeq "d['replies']['451']" 2
}

case_script_error() {
	local out st
	printf 'reply rcpt=451\nreply rcpt=999\n' >"$T_DIR/bad.rules"
	out=$("$SINK" --listen 127.0.0.1:0 --script "$T_DIR/bad.rules" 2>&1)
	st=$?
	[ $st -eq 2 ] && echo "$out" | grep -q "bad.rules:2: code 999" || return 1
	out=$("$SINK" --listen 127.0.0.1:0 --reply 'nowhere=451' 2>&1)
	st=$?
	[ $st -eq 2 ] && echo "$out" | grep -q -- '--reply: unknown stage' || return 1
	"$SINK" --listen 'bogus' >/dev/null 2>&1
	[ $? -ne 0 ]
}

case_max_connections() {
	t_sink_start maxconn --max-connections 2 || return 1
	"$PY" - "$PORT" <<'PY' || return 1
import socket, sys
p = int(sys.argv[1])
c = [socket.create_connection(('127.0.0.1', p), 5) for _ in range(2)]
for s in c:
    assert s.recv(100).startswith(b'220'), 'greeting'
x = socket.create_connection(('127.0.0.1', p), 5)
r = x.recv(200)
assert r.startswith(b'421 4.7.0'), r
assert x.recv(100) == b'', 'not closed'
PY
	t_sink_stop && t_sink_jeq "d['rejected_connections']" 1 &&
		t_sink_jeq "d['replies']['421']" 1 && t_sink_jeq "d['max_concurrent']" 2
}

case_max_messages() {
	local m=("MAIL FROM:<a@x>" "RCPT TO:<b@y>" DATA '@body:hi\r\n.\r\n')
	t_sink_start maxmsg --max-messages-per-connection 2 || return 1
	[ "$(smtpc 127.0.0.1 "$PORT" "EHLO c" "${m[@]}" "${m[@]}" \
		"MAIL FROM:<a@x>" NOOP)" = "220 250 250 250 354 250 250 250 354 250 421 EOF" ] ||
		return 1
	t_sink_stop && t_sink_jeq "d['messages']" 2
}

anomaly_session() {
	smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>" "RCPT TO:<b@y>" \
		DATA '@body:one\n.\ntwo\r.\rthree\r\n.\r\n' QUIT
}

case_anomalies() {
	t_sink_start anomalies || return 1
	[ "$(anomaly_session)" = "220 250 250 250 354 250 221" ] || return 1
	t_sink_stop && t_sink_jeq "d['messages']" 1 && t_sink_jeq "d['smuggling']" 2 &&
		t_sink_jeq "d['anomalies']['lf_dot_lf']" 1 &&
		t_sink_jeq "d['anomalies']['cr_dot_cr']" 1 &&
		t_sink_jeq "d['bare_lf'] >= 2" True && t_sink_jeq "d['bare_cr'] >= 2" True &&
		t_sink_jeq "d['messages_anomalous']" 1 || return 1
	t_sink_start strict --strict-data || return 1
	[ "$(anomaly_session)" = "220 250 250 250 354 550 221" ] || return 1
	t_sink_stop && t_sink_jeq "d['messages']" 0 && t_sink_jeq "d['messages_rejected']" 1 &&
		t_sink_jeq "d['smuggling']" 2
}

case_signals() {
	t_sink_start signals || return 1
	send_swaks --to b@y.test || return 1
	rm -f "$SD/summary.json"
	kill -USR1 "$SP"
	wait_file "$SD/summary.json" 5 || return 1
	kill -0 "$SP" || return 1
	t_sink_jeq "d['messages']" 1 || return 1
	send_swaks --to b@y.test || return 1
	t_sink_stop && t_sink_jeq "d['messages']" 2 &&
		[ "$(grep -c '"connections"' "$SD/stdout")" -eq 2 ]
}

# --latency-log: one "SECONDS.MICROSECONDS MESSAGE-ID" line per accepted
# message (none for a refused one, "-" without a Message-ID), flushed with
# each SIGUSR1 summary, times within the wall-clock span of the sends; an
# unwritable file exits 1.
case_latency_log() {
	local lat t0 t1 out st
	t_sink_start latency --reply 'dot/rej*=550:5.7.1 no' \
		--latency-log "$T_DIR/latency/lat" || return 1
	lat=$SD/lat
	t0=$(date +%s.%N)
	send_swaks --to b@y.test --header 'Message-Id: <one@x.test>' || return 1
	send_swaks --to rej@y.test --header 'Message-Id: <no@x.test>'
	send_swaks --to c@y.test --header 'Message-Id: <two@x.test>' || return 1
	[ "$(smtpc 127.0.0.1 "$PORT" "EHLO c" "MAIL FROM:<a@x>" \
		"RCPT TO:<d@y>" DATA "@body:Subject: none\r\n\r\nx\r\n.\r\n" \
		QUIT)" = "220 250 250 250 354 250 221" ] || return 1
	t1=$(date +%s.%N)
	kill -USR1 "$SP"
	wait_file "$SD/summary.json" 5 || return 1
	sleep 0.2
	# buffered, but the summary flushed it: all three while running
	[ "$(wc -l <"$lat")" -eq 3 ] || { cat "$lat"; return 1; }
	kill -0 "$SP" || return 1
	"$PY" - "$lat" "$t0" "$t1" <<'PY' || return 1
import re, sys
lines = open(sys.argv[1]).read().splitlines()
t0, t1 = float(sys.argv[2]), float(sys.argv[3])
ids = []
for l in lines:
    m = re.fullmatch(r'(\d+)\.(\d{6}) (\S+)', l)
    assert m, l
    t = float(m.group(1) + '.' + m.group(2))
    assert t0 <= t <= t1, (t0, t, t1)
    ids.append(m.group(3))
assert ids == ['<one@x.test>', '<two@x.test>', '-'], ids
ts = [float(l.split()[0]) for l in lines]
assert ts == sorted(ts), ts
PY
	send_swaks --to e@y.test --header 'Message-Id: <three@x.test>' || return 1
	t_sink_stop && t_sink_jeq "d['messages']" 4 &&
		t_sink_jeq "d['messages_rejected']" 1 || return 1
	# the rest is written at exit
	[ "$(tail -1 "$lat" | cut -d' ' -f2)" = "<three@x.test>" ] &&
		[ "$(wc -l <"$lat")" -eq 4 ] || return 1
	out=$("$SINK" --listen 127.0.0.1:0 --latency-log "$T_DIR/none/x" 2>&1)
	st=$?
	[ $st -eq 1 ] && echo "$out" | grep -q -- "--latency-log $T_DIR/none/x"
}

case_ipv6_and_caps() {
	SD=$T_DIR/v6
	mkdir -p "$SD"
	"$SINK" --listen '[::1]:0' --listen 127.0.0.1:0 --port-file "$SD/ports" \
		--summary "$SD/summary.json" --quiet --no-pipelining --size 5000 \
		--hostname sink.example >"$SD/stdout" 2>"$SD/stderr" &
	SP=$!
	t_daemon "$SP"
	wait_file "$SD/ports" 10 || return 1
	[ "$(wc -l <"$SD/ports")" -eq 2 ] || return 1
	PORT=$(head -1 "$SD/ports" | sed 's/.*://')
	head -1 "$SD/ports" | grep -q '^\[::1\]:' || return 1
	swaks --server "::1" --port "$PORT" --from a@x.test --to b@y.test \
		>"$SD/swaks.log" 2>&1 || return 1
	grep -q "220 sink.example ESMTP" "$SD/swaks.log" &&
		grep -q "250-SIZE 5000" "$SD/swaks.log" &&
		! grep -q PIPELINING "$SD/swaks.log" || return 1
	t_sink_stop && t_sink_jeq "d['clients']['::1']['messages']" 1
}

t_check "basic swaks session, summary counts" case_basic
t_check "maildir keeps exact bytes (dots, 998, 8-bit)" case_maildir_bytes
t_check "smtp-source 20x2000 counted exactly" case_smtp_source
t_check "--reply rcpt=451" case_reply_rcpt
t_check "--reply at every stage" case_reply_each_stage
t_check "--delay dot and banner" case_delay
t_check "--drop data" case_drop
t_check "--reply-close mail=421" case_reply_close
t_check "--reply with probability" case_probability
t_check "--reply dot@first:2" case_first_n
t_check "--rcpt patterns and tNNN convention" case_rcpt_patterns
t_check "--no-conventions" case_no_conventions
t_check "--script sequence across connections" case_script_sequence
t_check "script and flag errors exit 2 with file:line" case_script_error
t_check "--max-connections: 421 beyond" case_max_connections
t_check "--max-messages-per-connection: 421" case_max_messages
t_check "anomalies counted; --strict-data rejects" case_anomalies
t_check "SIGUSR1 summary while running, SIGTERM exit 0" case_signals
t_check "IPv6 listener, --no-pipelining, --size, --hostname" case_ipv6_and_caps
t_check "--latency-log: a line per accepted message, flushed by SIGUSR1" case_latency_log
t_finish
