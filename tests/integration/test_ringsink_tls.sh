# ringsink STARTTLS end to end: swaks -tls and a raw Python client (ssl
# module) against the real binary on 127.0.0.1 (kernel-chosen ports, read
# from --port-file), with certificates from tests/unit/tls_fixture.sh.
# Checks the summary's tls counters exactly, the maildir bytes and the
# envelope's "tls", --require-tls, --tls-max-version, the --tls-fault forms,
# a "starttls" script rule, plaintext injected behind STARTTLS (discarded
# and counted), handshake failures, and option errors.  Postfix's
# smtp-source does not do TLS, so only swaks and Python drive it.
# shellcheck shell=bash
source "$(dirname "$0")/lib.sh"

SINK=$T_BUILD/ringsink
[ -x "$SINK" ] || t_skip "$SINK not built"
command -v swaks >/dev/null || t_skip "swaks missing"
PY=/usr/bin/python3
CERTS=$T_DIR/certs
sh "$(dirname "$0")/../unit/tls_fixture.sh" "$CERTS" ||
	{ echo "tls_fixture.sh failed"; exit 1; }

# The raw client: each argument is a command line sent alone and answered
# by one reply code, or "@raw:ESCAPED" (bytes sent as one write, one reply
# read), "@data:PATH" (a CRLF file, dot-stuffed and terminated), "@tls" (handshake, verifying the test CA and mx.test.example),
# "@rawreply:ESCAPED" (bytes sent as one write; print everything read in
# 1 s, escaped), "@hsfail:ESCAPED" (send the bytes; expect the server to close: "CLOSED").
cat >"$T_DIR/tlsc.py" <<'PY'
import codecs, socket, ssl, sys
def reply(f):
    while True:
        l = f.readline()
        if not l:
            return 'EOF'
        if l[3:4] != b'-':
            return l[:3].decode()
host, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), 10)
f = s.makefile('rb')
out = [reply(f)]
for a in sys.argv[4:]:
    if a == '@tls':
        ctx = ssl.create_default_context(cafile=ca)
        s = ctx.wrap_socket(s, server_hostname='mx.test.example')
        f = s.makefile('rb')
        out.append(s.version())
        continue
    if a.startswith('@rawreply:'):
        s.sendall(codecs.escape_decode(a[10:].encode())[0])
        s.settimeout(1)
        got = b''
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                got += d
        except socket.timeout:
            pass
        out.append(repr(got))
        break
    if a.startswith('@hsfail:'):
        s.sendall(codecs.escape_decode(a[8:].encode())[0])
        s.settimeout(5)
        try:
            while s.recv(4096):
                pass
            out.append('CLOSED')
        except OSError as e:
            out.append('CLOSED' if isinstance(e, ConnectionResetError)
                       else 'ERR:' + str(e))
        break
    if a.startswith('@raw:'):
        s.sendall(codecs.escape_decode(a[5:].encode())[0])
    elif a.startswith('@data:'):
        lines = open(a[6:], 'rb').read().split(b'\r\n')
        s.sendall(b'\r\n'.join(b'.' + l if l.startswith(b'.') else l
                                for l in lines[:-1]) + b'\r\n.\r\n')
    else:
        s.sendall(a.encode() + b'\r\n')
    r = reply(f)
    out.append(r)
    if r == 'EOF':
        break
print(' '.join(out))
PY
tlsc() { "$PY" "$T_DIR/tlsc.py" 127.0.0.1 "$PORT" "$CERTS/ca.crt" "$@"; }

TLSARGS=(--tls-cert "$CERTS/mx-chain.crt" --tls-key "$CERTS/mx.key")

# expect WANT COMMAND...: COMMAND prints WANT.
expect() {
	local want=$1 got
	shift
	got=$("$@")
	[ "$got" = "$want" ] || { echo "got [$got], want [$want]"; return 1; }
}

send_swaks() {
	swaks --server "127.0.0.1:$PORT" --helo client.test --from a@x.test \
		"$@" >"$SD/swaks.$RANDOM.log" 2>&1
}

# ---- cases ---------------------------------------------------------------

case_swaks_tls() {
	local body=$T_DIR/body.eml f
	"$PY" - "$body" <<'PY'
import sys
lines = [b'Subject: dots over tls', b'', b'.', b'..', b'.x', b'x' * 998,
         bytes(range(128, 256)), b'', b'.']
open(sys.argv[1], 'wb').write(b'\r\n'.join(lines) + b'\r\n')
PY
	t_sink_start swaks "${TLSARGS[@]}" --maildir "$T_DIR/swaks/md" || return 1
	send_swaks -tls --to b@y.test || return 1
	send_swaks --to c@y.test || return 1 # plaintext, same sink
	expect "220 250 220 TLSv1.3 250 250 250 354 250 221" \
		tlsc "EHLO client.test" STARTTLS @tls "EHLO client.test" \
		"MAIL FROM:<a@x>" "RCPT TO:<d@y>" DATA "@data:$body" QUIT ||
		return 1
	t_sink_stop || return 1
	t_sink_jeq "d['connections']" 3 && t_sink_jeq "d['messages']" 3 &&
		t_sink_jeq "d['tls_starttls']" 2 && t_sink_jeq "d['tls_sessions']" 2 &&
		t_sink_jeq "d['tls_protocols']" "{'TLSv1.2': 0, 'TLSv1.3': 2, 'other': 0}" &&
		t_sink_jeq "d['tls_messages']" 2 && t_sink_jeq "d['tls_handshake_failures']" 0 &&
		t_sink_jeq "d['tls_injected_bytes']" 0 &&
		t_sink_jeq "d['helo']['client.test']['connections']" 3 &&
		t_sink_jeq "d['closes']['quit']" 3 || return 1
	for f in "$SD"/md/env/*; do
		if grep -q '"c@y.test"' "$f"; then
			grep -q '"tls":null' "$f" || return 1
		else
			grep -q '"tls":{"protocol":"TLSv1.3","cipher":"TLS_' "$f" ||
				return 1
		fi
		if grep -q '"d@y"' "$f"; then
			cmp "$body" "$SD/md/new/$(basename "$f")" || return 1
		fi
	done
	t_sink_jeq "len(os.listdir('$SD/md/new'))" 3
}

case_tls12() {
	t_sink_start tls12 "${TLSARGS[@]}" --tls-max-version 1.2 || return 1
	send_swaks -tls --to b@y.test || return 1
	send_swaks -tls --to b@y.test --pipeline || return 1
	t_sink_stop || return 1
	t_sink_jeq "d['tls_protocols']['TLSv1.2']" 2 && t_sink_jeq "d['tls_sessions']" 2 &&
		t_sink_jeq "d['tls_messages']" 2
}

case_require_tls() {
	t_sink_start req "${TLSARGS[@]}" --require-tls || return 1
	! send_swaks --to b@y.test || return 1
	grep -q "530 5.7.0 Must issue a STARTTLS command first" "$SD"/swaks.*.log ||
		return 1
	send_swaks -tls --to b@y.test || return 1
	expect "220 250 530 220 TLSv1.3 250 250 250 221" \
		tlsc "EHLO c" "MAIL FROM:<a@x>" STARTTLS @tls "EHLO c" \
		"MAIL FROM:<a@x>" "RCPT TO:<b@y>" QUIT || return 1
	t_sink_stop || return 1
	t_sink_jeq "d['replies']['530']" 2 && t_sink_jeq "d['messages']" 1 &&
		t_sink_jeq "d['tls_sessions']" 2 && t_sink_jeq "d['mail']" 2
}

# CVE-2011-0411: a MAIL in the same write as STARTTLS must not count.
case_injection_discarded() {
	t_sink_start inj "${TLSARGS[@]}" || return 1
	expect "220 250 220 TLSv1.3 250 503 250 250 221" \
		tlsc "EHLO c" '@raw:STARTTLS\r\nMAIL FROM:<a@b>\r\n' @tls \
		"EHLO c" "RCPT TO:<x@y>" "MAIL FROM:<c@d>" "RCPT TO:<x@y>" \
		QUIT || return 1
	t_sink_stop || return 1
	t_sink_jeq "d['tls_injected_bytes']" 17 && t_sink_jeq "d['tls_injected_sessions']" 1 &&
		t_sink_jeq "d['mail']" 1 && t_sink_jeq "d['rcpt']" 1 && t_sink_jeq "d['tls_sessions']" 1
}

case_handshake_failure() {
	t_sink_start hsfail "${TLSARGS[@]}" --idle-timeout 1s || return 1
	expect "220 220 CLOSED" tlsc STARTTLS '@hsfail:EHLO plain\r\n' ||
		return 1
	expect "220 220 CLOSED" tlsc STARTTLS '@hsfail:' || return 1 # timeout
	send_swaks -tls --to b@y.test || return 1 # still serving
	t_sink_stop || return 1
	t_sink_jeq "d['tls_handshake_failures']" 2 && t_sink_jeq "d['closes']['tls']" 2 &&
		t_sink_jeq "d['tls_starttls']" 3 && t_sink_jeq "d['tls_sessions']" 1 &&
		t_sink_jeq "d['messages']" 1
}

case_fault_inject() {
	t_sink_start finj "${TLSARGS[@]}" --tls-fault inject || return 1
	expect "220 250 b'220 Ready\\r\\n250 injected\\r\\n'" \
		tlsc "EHLO c" '@rawreply:STARTTLS\r\n' || return 1
	t_sink_stop || return 1
	t_sink_jeq "d['replies']['220']" 2
}

case_fault_no_reply() {
	t_sink_start fnr "${TLSARGS[@]}" --tls-fault no-reply || return 1
	expect "220 250 b''" tlsc "EHLO c" '@rawreply:STARTTLS\r\n' ||
		return 1
	t_sink_stop || return 1
	t_sink_jeq "d['tls_starttls']" 0
}

case_script_starttls() {
	t_sink_start scr "${TLSARGS[@]}" \
		--reply 'starttls=454:4.7.0 not now@first:1' || return 1
	expect "220 250 454 250 250 221" tlsc "EHLO c" STARTTLS \
		"MAIL FROM:<a@x>" "RCPT TO:<b@y>" QUIT || return 1
	send_swaks -tls --to b@y.test || return 1
	t_sink_stop || return 1
	t_sink_jeq "d['replies']['454']" 1 && t_sink_jeq "d['tls_sessions']" 1
}

case_concurrent() {
	local i pids=()
	t_sink_start conc "${TLSARGS[@]}" || return 1
	for i in $(seq 20); do
		send_swaks -tls --to "r$i@y.test" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || return 1; done
	t_sink_stop || return 1
	t_sink_jeq "d['messages']" 20 && t_sink_jeq "d['tls_sessions']" 20 &&
		t_sink_jeq "d['tls_messages']" 20 && t_sink_jeq "d['current']" 0
}

case_option_errors() {
	local st
	"$SINK" --listen 127.0.0.1:0 --tls-cert "$CERTS/mx.crt" >/dev/null 2>&1
	st=$?
	[ $st -eq 2 ] || { echo "cert without key: exit $st"; return 1; }
	"$SINK" --listen 127.0.0.1:0 --tls-cert "$CERTS/nope.crt" \
		--tls-key "$CERTS/mx.key" >/dev/null 2>"$T_DIR/err"
	st=$?
	[ $st -eq 2 ] || { echo "missing cert: exit $st"; return 1; }
	grep -q "nope.crt" "$T_DIR/err" || return 1
	"$SINK" --listen 127.0.0.1:0 --tls-cert "$CERTS/self.crt" \
		--tls-key "$CERTS/mx.key" >/dev/null 2>&1
	st=$?
	[ $st -eq 2 ] || { echo "key mismatch: exit $st"; return 1; }
	"$SINK" --listen 127.0.0.1:0 --require-tls >/dev/null 2>&1
	st=$?
	[ $st -eq 2 ] || { echo "--require-tls alone: exit $st"; return 1; }
	"$SINK" --listen 127.0.0.1:0 "${TLSARGS[@]}" --tls-fault bogus \
		>/dev/null 2>&1
	st=$?
	[ $st -eq 2 ] || { echo "--tls-fault bogus: exit $st"; return 1; }
}

t_check "swaks -tls: counters, maildir bytes, envelope tls" case_swaks_tls
t_check "--tls-max-version 1.2" case_tls12
t_check "--require-tls: 530 before STARTTLS" case_require_tls
t_check "plaintext after STARTTLS discarded and counted" case_injection_discarded
t_check "handshake garbage and timeout close, counted" case_handshake_failure
t_check "--tls-fault inject" case_fault_inject
t_check "--tls-fault no-reply" case_fault_no_reply
t_check "--reply starttls=454@first:1" case_script_starttls
t_check "20 concurrent TLS sessions" case_concurrent
t_check "TLS option errors exit 2" case_option_errors
t_finish
