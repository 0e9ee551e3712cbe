#!/usr/bin/env bash
# test_tls_interop.sh: ringmta's default cipher list against real TLS stacks
# that restrict the negotiation (docs/TLS.md, "Interoperability").
#
# Outbound: ringmta relays one message per (peer, case, policy) domain to a
# loopback peer on its own port: aiosmtpd (python3 ssl, one process per case,
# TLS 1.3 suites through OPENSSL_CONF) and one private Postfix smtpd with one
# service per case in master.cf (-o overrides; TLS 1.3 suites through
# tls_config_file).  `tls = required` (verify = ca against the fixture CA)
# and `tls = opportunistic` both run; the delivery log's tls/cipher and the
# peer's own record (aiosmtpd's handler, Postfix's Received header) are
# checked.  A TLS 1.0/1.1-only peer must give a deferral with the reason
# under required (nothing sent) and a plaintext delivery under opportunistic.
# Inbound: swaks with --tls-protocol/--tls-cipher (TLS 1.3 suites through
# OPENSSL_CONF) against ringmta's listener, RSA and ECDSA certificates.
# shellcheck shell=bash
cd "$(dirname "$0")/../.." || exit 1
source tests/integration/lib.sh

BIN=$T_BUILD/ringmta
PY=/usr/bin/python3
DLOG=$T_DIR/delivery.jsonl
[ -x "$BIN" ] || t_skip "$BIN not built"
command -v swaks >/dev/null || t_skip "swaks missing"
chmod 755 "$T_DIR" # the private Postfix's daemons reach it as user postfix
CERTS=$T_DIR/certs
sh tests/unit/tls_fixture.sh "$CERTS" >/dev/null 2>&1 ||
	{ echo "tls_fixture.sh failed"; exit 1; }

# name|min|max|TLS 1.2 cipher string|TLS 1.3 suites|cert|want version|want
# cipher (IANA, as ringmta logs it; "*" any)|the peer's name for it ("-":
# same, "*": any)|the peer's groups (OpenSSL names; empty: its default)|the
# key exchange Postfix's Received header names (TLSv1.3 only).  "fail" in the version column: no
# TLS version in common.
CASES=(
	"aes128-12|1.2|1.2|ECDHE-RSA-AES128-GCM-SHA256||mx|TLSv1.2|TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256|ECDHE-RSA-AES128-GCM-SHA256||"
	"aes256-12|1.2|1.2|ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES256-GCM-SHA384||mx|TLSv1.2|TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384|ECDHE-RSA-AES256-GCM-SHA384||"
	"aes256-13|1.3|1.3||TLS_AES_256_GCM_SHA384|mx|TLSv1.3|TLS_AES_256_GCM_SHA384|-||X25519"
	"aes128-13|1.3|1.3||TLS_AES_128_GCM_SHA256|mx|TLSv1.3|TLS_AES_128_GCM_SHA256|-||X25519"
	"chacha|1.2|1.3|ECDHE-RSA-CHACHA20-POLY1305|TLS_CHACHA20_POLY1305_SHA256|mx|TLSv1.3|TLS_CHACHA20_POLY1305_SHA256|-||X25519"
	"chacha-12|1.2|1.2|ECDHE-RSA-CHACHA20-POLY1305||mx|TLSv1.2|TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256|ECDHE-RSA-CHACHA20-POLY1305||"
	"ecdsa|||||ec|TLSv1.3|*|*||X25519"
	"ecdsa-12|1.2|1.2|ECDHE-ECDSA-AES128-GCM-SHA256||ec|TLSv1.2|TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256|ECDHE-ECDSA-AES128-GCM-SHA256||"
	"tls13-only|1.3||||mx|TLSv1.3|*|*||X25519"
	"tls10-11|1.0|1.1|DEFAULT:@SECLEVEL=0||mx|fail||||"
	"p256-13|1.3|1.3|||mx|TLSv1.3|*|*|P-256|ECDHE (prime256v1)"
	"p256-12|1.2|1.2|ECDHE-RSA-AES128-GCM-SHA256||mx|TLSv1.2|TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256|ECDHE-RSA-AES128-GCM-SHA256|P-256|"
)
POLS=(req opp)

# ossl_conf NAME SUITES [GROUPS]: an OpenSSL config for a peer: TLS 1.3
# suites and key exchange groups if any, and none of Debian's system_default (MinProtocol = TLSv1.2,
# SECLEVEL=2), so the TLS 1.0/1.1 peer really speaks TLS 1.0/1.1.
ossl_conf() {
	{
		printf 'openssl_conf = oc\n[oc]\nssl_conf = sc\n[sc]\n'
		printf 'system_default = sd\n[sd]\n'
		printf 'MinProtocol = None\n' # a section must not be empty
		[ -n "$2" ] && printf 'Ciphersuites = %s\n' "$2"
		[ -n "${3:-}" ] && printf 'Groups = %s\n' "$3"
	} >"$T_DIR/ossl-$1.cnf"
}

# ---- aiosmtpd peers: one process per case ----
cat >"$T_DIR/peer.py" <<'PY'
# peer.py key=value...: an aiosmtpd server on 127.0.0.1 (port written to
# portfile) with STARTTLS restricted by min/max/ciphers; every message's
# recipients, TLS version and cipher are appended to out/msgs.jsonl.
import asyncio, json, os, ssl, sys
from aiosmtpd.smtp import SMTP

a = dict(x.split("=", 1) for x in sys.argv[1:])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(a["cert"], a["key"])
V = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
     "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
if a.get("min"):
    ctx.minimum_version = V[a["min"]]
if a.get("max"):
    ctx.maximum_version = V[a["max"]]
if a.get("ciphers"):
    ctx.set_ciphers(a["ciphers"])

class H:
    async def handle_DATA(self, server, session, env):
        c = session.ssl["cipher"] if session.ssl else None
        rec = {"rcpts": env.rcpt_tos, "tls": c[1] if c else None,
               "cipher": c[0] if c else None}
        with open(a["out"], "a") as f:
            f.write(json.dumps(rec) + "\n")
        return "250 2.0.0 queued"

loop = asyncio.new_event_loop()
srv = loop.run_until_complete(loop.create_server(
    lambda: SMTP(H(), tls_context=ctx, hostname="mx.test.example"),
    "127.0.0.1", 0))
with open(a["portfile"] + ".tmp", "w") as f:
    f.write(str(srv.sockets[0].getsockname()[1]))
os.rename(a["portfile"] + ".tmp", a["portfile"])
loop.run_forever()
PY

declare -A APORT PPORT
for c in "${CASES[@]}"; do
	IFS='|' read -r name min max c12 c13 cert _ _ _ groups _ <<<"$c"
	ossl_conf "$name" "$c13" "$groups"
	OPENSSL_CONF=$T_DIR/ossl-$name.cnf "$PY" "$T_DIR/peer.py" \
		cert="$CERTS/$cert-chain.crt" key="$CERTS/$cert.key" \
		min="$min" max="$max" ciphers="$c12" \
		out="$T_DIR/a-$name.jsonl" portfile="$T_DIR/a-$name.port" \
		2>"$T_DIR/a-$name.err" &
	t_daemon $!
done
for c in "${CASES[@]}"; do
	name=${c%%|*}
	if ! wait_file "$T_DIR/a-$name.port" 10; then
		t_case "aiosmtpd peers"
		t_fail "aiosmtpd $name did not start: $(cat "$T_DIR/a-$name.err")"
		t_finish
	fi
	APORT[$name]=$(cat "$T_DIR/a-$name.port")
done

# ---- Postfix: one private instance, one smtpd service per case ----
# pf_protocols MIN MAX: smtpd_tls_protocols excluding what is outside.
pf_protocols() {
	local all=(SSLv2 SSLv3 TLSv1 TLSv1.1 TLSv1.2 TLSv1.3) i out='' lo=0 hi=5
	case $1 in 1.0) lo=2 ;; 1.1) lo=3 ;; 1.2) lo=4 ;; 1.3) lo=5 ;; esac
	case $2 in 1.0) hi=2 ;; 1.1) hi=3 ;; 1.2) hi=4 ;; 1.3) hi=5 ;; esac
	for i in 0 1 2 3 4 5; do
		[ $i -ge $lo ] && [ $i -le $hi ] && continue
		out="$out${out:+,}!${all[$i]}"
	done
	echo "$out"
}
PFSVC=$T_DIR/pf-services
: >"$PFSVC"
for c in "${CASES[@]}"; do
	IFS='|' read -r name min max c12 _ cert _ _ _ groups _ <<<"$c"
	PPORT[$name]=$(free_port)
	o="-o tls_config_file=$T_DIR/ossl-$name.cnf"
	o="$o -o smtpd_tls_cert_file=$CERTS/$cert-chain.crt"
	o="$o -o smtpd_tls_key_file=$CERTS/$cert.key"
	[ -n "$min$max" ] && o="$o -o smtpd_tls_protocols=$(pf_protocols "$min" "$max")"
	[ -n "$c12" ] && o="$o -o smtpd_tls_ciphers=high -o tls_high_cipherlist=$c12"
	[ -n "$groups" ] && o="$o -o tls_eecdh_auto_curves=prime256v1"
	echo "127.0.0.1:${PPORT[$name]} inet n - n - - smtpd $o" >>"$PFSVC"
done
t_case "Postfix: a private instance with one smtpd per case starts"
if t_postfix_start "$T_DIR/pf" "$(free_port)" "$CERTS" "$PFSVC"; then
	t_ok
else
	t_fail "the private Postfix did not start (see above)"
fi
for c in "${CASES[@]}"; do
	name=${c%%|*}
	if [ -n "$T_PF_CONF" ] && ! wait_port 127.0.0.1 "${PPORT[$name]}" 10; then
		t_case "Postfix service $name"
		t_fail "nothing listens on ${PPORT[$name]}"
	fi
done

# The old peers are real TLS 1.0/1.1 servers: a client that offers TLS 1.1
# (OpenSSL at SECLEVEL=0, without Debian's MinProtocol) gets TLS 1.1.
old_peer() {
	ossl_conf old-client ""
	OPENSSL_CONF=$T_DIR/ossl-old-client.cnf swaks --server "127.0.0.1:$1" \
		--helo client.test --from a@x.test --to fixture@x.test --tls \
		--tls-protocol tlsv1,tlsv1_1 --tls-cipher 'DEFAULT:@SECLEVEL=0' \
		>"$T_DIR/swaks-old-$1.log" 2>&1 &&
		grep -q "TLS started with cipher TLSv1.1:" "$T_DIR/swaks-old-$1.log" ||
		{ tail -5 "$T_DIR/swaks-old-$1.log"; return 1; }
}
t_check "fixture: aiosmtpd tls10-11 speaks TLS 1.1" old_peer "${APORT[tls10-11]}"
[ -n "$T_PF_CONF" ] &&
	t_check "fixture: Postfix tls10-11 speaks TLS 1.1" old_peer "${PPORT[tls10-11]}"

# ---- ringmta: one domain per (peer, case, policy) ----
CONF=$T_DIR/mta.conf
t_mta_conf "$CONF" "$(free_port)"
cat >>"$CONF" <<CONF

[tls]
cert_file = $CERTS/mx-chain.crt
key_file = $CERTS/mx.key

[delivery]
allowed_networks = 127.0.0.0/8
retry_interval = 1m
max_retry_interval = 1m
starttls_timeout = 10s

[domain intake.test]
suspended = true
CONF
RCPTS=
for c in "${CASES[@]}"; do
	name=${c%%|*}
	for srv in a p; do
		[ $srv = p ] && [ -z "$T_PF_CONF" ] && continue
		port=${APORT[$name]}
		[ $srv = p ] && port=${PPORT[$name]}
		cat >>"$CONF" <<CONF

[domain $srv-$name-req.test]
relay = 127.0.0.1:$port
tls = required
tls_verify = ca
tls_ca_file = $CERTS/ca.crt

[domain $srv-$name-opp.test]
relay = 127.0.0.1:$port
tls = opportunistic
CONF
		RCPTS="$RCPTS${RCPTS:+,}u@$srv-$name-req.test,u@$srv-$name-opp.test"
	done
done
t_mta_start_or_end "$CONF" "$T_DIR/mta.log"

"$PY" tests/integration/routing_send.py "$MTA_PORT" a@sender.test "$RCPTS" \
	>"$T_DIR/send.log" 2>&1 || { cat "$T_DIR/send.log"; echo "send failed"; }
# Until every recipient is delivered, or deferred under required (retried
# only after a minute).
wait_log "all(ev('delivered', r) or (r.endswith('-req.test') and
	  ev('deferred', r)) for r in '$RCPTS'.split(','))" 40 >/dev/null

# pf_received RCPT: the Received header Postfix wrote for RCPT's message
# (its TLS clause), or nothing.
pf_received() {
	local id
	/usr/sbin/postqueue -c "$T_PF_CONF" -j 2>/dev/null >"$T_DIR/pfq.json"
	id=$("$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    if any(r["address"] == sys.argv[2] for r in j["recipients"]):
        print(j["queue_id"]); break' "$T_DIR/pfq.json" "$1")
	[ -n "$id" ] || return 0
	/usr/sbin/postcat -c "$T_PF_CONF" -hq "$id" 2>/dev/null |
		"$PY" -c 'import sys, re
t = sys.stdin.read()
m = re.search(r"Received: from .*?(?=\n\S)", t, re.S)
print(" ".join(m.group(0).split()) if m else "")'
}
# a_received RCPT: aiosmtpd's record of RCPT's message, or nothing.
a_received() {
	cat "$T_DIR"/a-*.jsonl 2>/dev/null | grep -F "\"$1\"" | head -1
}

# check_out SRV NAME POL VERSION CIPHER PEERCIPHER PFGROUP
check_out() {
	local srv=$1 name=$2 pol=$3 ver=$4 ci=$5 pci=$6 pfg=$7 r=u@$1-$2-$3.test got
	[ "$pci" = - ] && pci=$ci
	if [ "$ver" = fail ] && [ "$pol" = req ]; then
		# deferred once, with TLS's reason; never sent, never delivered
		jq_log "len(ev('deferred', '$r')) == 1 and not ev('delivered', '$r')
		  and ev('deferred', '$r')[0]['enhanced'].startswith('4.7.')
		  and ev('deferred', '$r')[0]['tls'] is None
		  and '): TLS error at STARTTLS: ' in ev('deferred', '$r')[0]['text']
		  and ('$srv' == 'a' or 'fatal alert protocol_version' in
		       ev('deferred', '$r')[0]['text'])" ||
			return 1
	elif [ "$ver" = fail ]; then
		# opportunistic: the same host again, in plaintext
		jq_log "len(ev('delivered', '$r')) == 1 and
		  ev('delivered', '$r')[0]['tls'] is None and
		  ev('delivered', '$r')[0]['cipher'] is None" || return 1
	else
		jq_log "len(ev('delivered', '$r')) == 1 and
		  ev('delivered', '$r')[0]['tls'] == '$ver' and
		  '$ci' in ('*', ev('delivered', '$r')[0]['cipher'])" || return 1
	fi
	# the peer's own record
	if [ "$srv" = a ]; then
		got=$(a_received "$r")
	else
		got=$(pf_received "$r")
	fi
	if [ "$ver" = fail ] && [ "$pol" = req ]; then
		[ -z "$got" ] || { echo "sent anyway: $got"; return 1; }
	elif [ "$ver" = fail ]; then
		[ -n "$got" ] || { echo "$r not at the peer"; return 1; }
		case $got in *TLSv1* | *'"tls": "TLS'*)
			echo "$r: TLS at the peer: $got"; return 1 ;; esac
	else
		[ -n "$got" ] || { echo "$r not at the peer"; return 1; }
		case $got in *"$ver"*) ;; *) echo "$r: peer says $got"; return 1 ;; esac
		# Postfix names the key exchange ("key-exchange X25519")
		if [ "$srv" = p ] && [ -n "$pfg" ]; then
			case $got in *"key-exchange $pfg "*) ;; *)
				echo "$r: peer says $got, want key-exchange $pfg"
				return 1 ;; esac
		fi
		[ "$pci" = '*' ] && return 0
		case $got in *"$pci"*) ;; *) echo "$r: peer says $got"; return 1 ;; esac
	fi
}

for c in "${CASES[@]}"; do
	IFS='|' read -r name _ _ _ _ _ ver ci pci _ pfg <<<"$c"
	for srv in a p; do
		[ $srv = p ] && [ -z "$T_PF_CONF" ] && continue
		for pol in "${POLS[@]}"; do
			t_check "outbound $([ $srv = a ] && echo aiosmtpd || echo Postfix) $name tls=$pol" \
				check_out $srv "$name" $pol "$ver" "$ci" "$pci" "$pfg"
		done
	done
done
t_check "ringmta still running after the outbound cases" kill -0 "$MTA_PID"

# ---- inbound: swaks against ringmta's listener ----
# swaks_in NAME SUITES PORT ARGS...: one message to intake.test over STARTTLS
# (the client's groups: $IN_GROUPS, else OpenSSL's); prints swaks's "TLS
# started with cipher" line; fails as swaks does.
IN_GROUPS=''
swaks_in() {
	local name=$1 suites=$2 port=$3
	shift 3
	ossl_conf "in-$name" "$suites" "$IN_GROUPS"
	OPENSSL_CONF=$T_DIR/ossl-in-$name.cnf swaks --server "127.0.0.1:$port" \
		--helo client.test --from a@x.test --to "$name@intake.test" \
		--tls "$@" >"$T_DIR/swaks-$name.log" 2>&1
	local st=$?
	sed -n 's/.*=== TLS started with cipher //p' "$T_DIR/swaks-$name.log"
	return $st
}
# check_in NAME SUITES WANT ARGS...: swaks succeeds and negotiated WANT
# (OpenSSL's "VERSION:CIPHER") with the key exchange group $IN_WANT_GROUP
# (the listener's last "TLS" line in $IN_LOG), or, with WANT "fail",
# fails in TLS and the listener is still there.
IN_WANT_GROUP=X25519
IN_LOG=$T_DIR/mta.log
check_in() {
	local name=$1 suites=$2 want=$3 got st port=${IN_PORT:-$MTA_PORT} line
	shift 3
	got=$(swaks_in "$name" "$suites" "$port" "$@")
	st=$?
	if [ "$want" = fail ]; then
		[ $st -ne 0 ] && [ -z "$got" ] &&
			grep -q "TLS startup failed\|Could not start TLS\|handshake" \
				"$T_DIR/swaks-$name.log" ||
			{ echo "exit $st, negotiated [$got]"; tail -5 "$T_DIR/swaks-$name.log"; return 1; }
		swaks_in "$name-after" "" "$port" >/dev/null ||
			{ echo "the listener did not take the next session"; return 1; }
		return 0
	fi
	[ $st -eq 0 ] || { echo "swaks exit $st"; tail -5 "$T_DIR/swaks-$name.log"; return 1; }
	case $got in "$want"*) ;; *)
		echo "negotiated [$got], want [$want]"
		return 1 ;; esac
	line=$(grep "smtps: .*: TLS TLSv" "$IN_LOG" | tail -1)
	case $line in *" $IN_WANT_GROUP"*) return 0 ;; esac
	echo "the listener logged [$line], want group $IN_WANT_GROUP"
	return 1
}
t_check "inbound aes128-12" check_in aes128-12 "" \
	"TLSv1.2:ECDHE-RSA-AES128-GCM-SHA256" \
	--tls-protocol tlsv1_2 --tls-cipher ECDHE-RSA-AES128-GCM-SHA256
t_check "inbound aes256-12" check_in aes256-12 "" \
	"TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384" \
	--tls-protocol tlsv1_2 --tls-cipher AESGCM+AES256
t_check "inbound aes256-13" check_in aes256-13 TLS_AES_256_GCM_SHA384 \
	"TLSv1.3:TLS_AES_256_GCM_SHA384" --tls-protocol tlsv1_3
t_check "inbound aes128-13" check_in aes128-13 TLS_AES_128_GCM_SHA256 \
	"TLSv1.3:TLS_AES_128_GCM_SHA256" --tls-protocol tlsv1_3
t_check "inbound chacha" check_in chacha TLS_CHACHA20_POLY1305_SHA256 \
	"TLSv1.3:TLS_CHACHA20_POLY1305_SHA256" \
	--tls-cipher ECDHE-RSA-CHACHA20-POLY1305
t_check "inbound chacha-12" check_in chacha-12 "" \
	"TLSv1.2:ECDHE-RSA-CHACHA20-POLY1305" \
	--tls-protocol tlsv1_2 --tls-cipher ECDHE-RSA-CHACHA20-POLY1305
t_check "inbound tls13-only" check_in tls13-only "" "TLSv1.3:" \
	--tls-protocol tlsv1_3
IN_GROUPS=P-256 IN_WANT_GROUP=SECP256R1
t_check "inbound p256-13" check_in p256-13 "" "TLSv1.3:" --tls-protocol tlsv1_3
t_check "inbound p256-12" check_in p256-12 "" \
	"TLSv1.2:ECDHE-RSA-AES128-GCM-SHA256" \
	--tls-protocol tlsv1_2 --tls-cipher ECDHE-RSA-AES128-GCM-SHA256
IN_GROUPS='' IN_WANT_GROUP=X25519
t_check "inbound tls10-11 refused, listener fine" check_in tls10-11 "" fail \
	--tls-protocol tlsv1,tlsv1_1 --tls-cipher 'DEFAULT:@SECLEVEL=0'
t_check "inbound: the TLS 1.0/1.1 client is logged as a TLS failure" \
	grep -q "smtps: .*TLS handshake failed: .*version" "$T_DIR/mta.log"

# the listener with the ECDSA certificate: a second ringmta
sed -e "s|$CERTS/mx-chain.crt|$CERTS/ec-chain.crt|" \
	-e "s|$CERTS/mx.key|$CERTS/ec.key|" -e "s|$T_DIR/var|$T_DIR/var-ec|" \
	-e "s|$DLOG|$T_DIR/delivery-ec.jsonl|" "$CONF" >"$T_DIR/mta-ec.conf"
IN_PORT=
if t_mta_start "$T_DIR/mta-ec.conf" "$T_DIR/mta-ec.log"; then
	IN_PORT=$MTA_PORT IN_LOG=$T_DIR/mta-ec.log
	t_check "inbound ecdsa (TLS 1.3)" check_in ecdsa "" "TLSv1.3:"
	t_check "inbound ecdsa-12" check_in ecdsa-12 "" \
		"TLSv1.2:ECDHE-ECDSA-AES128-GCM-SHA256" --tls-protocol tlsv1_2 \
		--tls-cipher ECDHE-ECDSA-AES128-GCM-SHA256
else
	t_case "ringmta with the ECDSA certificate starts"
	cat "$T_DIR/mta-ec.log"
	t_fail "no listener"
fi
t_finish
