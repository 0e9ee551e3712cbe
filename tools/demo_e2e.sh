#!/usr/bin/env bash
# make demo: ringmta end to end, on loopback only (docs/DEMO.md).
#
# dnsmasq serves a test zone of 50 recipient domains d01..d50.demo.test (plus
# the sender's domain bounces.demo.test) whose MX hosts are ringsink
# addresses 127.0.0.10..127.0.0.60: d01-d05 answer 451 to each recipient's
# first attempt and 250 afterwards, d49 has a null MX, d50's MX address has
# nothing listening, the rest are healthy.  ringmta relays DEMO_MESSAGES
# messages injected over DEMO_CONNS connections; the delivery log is watched
# until the queue settles; then a summary is printed and checked.
#
# Every port is chosen by the kernel, everything listens on 127.0.0.x, every
# process started here is stopped by pid from the EXIT trap (also on Ctrl-C
# and on failure), and the files live in one mktemp -d directory, removed at
# the end unless DEMO_KEEP=1.  Exit 0 when every injected message is
# accounted for and the numbers add up, 1 otherwise, 2 for a bad knob.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
MESSAGES=${DEMO_MESSAGES:-10000}
CONNS=${DEMO_CONNS:-20}
SIZE=${DEMO_SIZE:-2048}
EXPIRE=${DEMO_EXPIRE:-0}
if [ "$EXPIRE" = 1 ]; then SETTLE=${DEMO_SETTLE_TIMEOUT:-180}; else SETTLE=${DEMO_SETTLE_TIMEOUT:-90}; fi
KEEP=${DEMO_KEEP:-0}
PY=/usr/bin/python3
RINGMTA=$BUILD/ringmta
RINGCTL=$BUILD/ringctl
RINGSINK=$BUILD/ringsink

for v in MESSAGES CONNS SIZE SETTLE; do
	case ${!v} in
	'' | *[!0-9]*)
		echo "demo: DEMO_${v/SETTLE/SETTLE_TIMEOUT} must be a whole number (got '${!v}')" >&2
		exit 2
		;;
	esac
done
if [ "$MESSAGES" -lt 1 ] || [ "$CONNS" -lt 1 ]; then
	echo "demo: DEMO_MESSAGES and DEMO_CONNS must be at least 1" >&2
	exit 2
fi

dir=$(mktemp -d /tmp/ringmta-demo.XXXXXX) || exit 1
declare -A PROCS=() # pid -> name, every process started here

# stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL; reap it.
stop_pid() {
	local p=$1 i
	kill -TERM "$p" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$p" 2>/dev/null || break
		# a zombie still answers kill -0: look at its state
		[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
		echo "demo: ${PROCS[$p]:-pid $p} did not stop on SIGTERM; SIGKILL" >&2
		kill -KILL "$p" 2>/dev/null
	fi
	wait "$p" 2>/dev/null
	unset "PROCS[$p]"
}
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	local p
	trap - INT TERM
	for p in "${!PROCS[@]}"; do stop_pid "$p"; done
	if [ "$KEEP" = 1 ]; then
		echo "demo: files kept in $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT
trap 'echo "demo: terminated" >&2; exit 143' TERM

fail() {
	echo "demo: $*" >&2
	exit 1
}
# show_log FILE: the last lines of a daemon's log, on stderr.
show_log() {
	[ -s "$1" ] && { echo "--- last lines of $1:"; tail -n 20 "$1"; } >&2
}

# --- what it needs -------------------------------------------------------
if [ ! -x "$RINGMTA" ] || [ ! -x "$RINGSINK" ] || [ ! -x "$RINGCTL" ]; then
	echo "demo: building $RINGMTA, $RINGSINK and $RINGCTL"
	make --no-print-directory BUILD="$BUILD" "$RINGMTA" "$RINGSINK" "$RINGCTL" >"$dir/build.log" 2>&1 ||
		{ tail -n 30 "$dir/build.log" >&2; fail "build failed"; }
fi
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || fail "dnsmasq is not installed (make deps installs it)"
# ringmta holds a connection per outbound session: 50 domains x 20
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

# --- the test zone ---------------------------------------------------------
SENDER_DOMAIN=bounces.demo.test
SENDER=sender@$SENDER_DOMAIN
SENDER_IP=127.0.0.60
domains=() kinds=() ips=()
for i in $(seq 1 50); do
	n=$(printf %02d "$i")
	domains+=("d$n.demo.test")
	ips+=("127.0.0.$((9 + i))")
	if [ "$i" -le 5 ]; then
		kinds+=(flaky)
	elif [ "$i" -eq 49 ]; then
		kinds+=(nullmx)
	elif [ "$i" -eq 50 ]; then
		kinds+=(dead)
	else
		kinds+=(healthy)
	fi
done

dns_args=(--local=/demo.test/
	"--mx-host=$SENDER_DOMAIN,mx-bounces.demo.test,10"
	"--host-record=mx-bounces.demo.test,$SENDER_IP")
flaky_listen_ips=() healthy_listen_ips=("$SENDER_IP")
for i in "${!domains[@]}"; do
	d=${domains[$i]}
	mx=mx-${d:1:2}.demo.test
	case ${kinds[$i]} in
	nullmx) dns_args+=("--dns-rr=$d,15,000000") ;;
	*) dns_args+=("--mx-host=$d,$mx,10" "--host-record=$mx,${ips[$i]}") ;;
	esac
	case ${kinds[$i]} in
	healthy) healthy_listen_ips+=("${ips[$i]}") ;;
	flaky) flaky_listen_ips+=("${ips[$i]}") ;;
	esac
done

DNS_PORT=
for _ in 1 2 3 4 5; do
	DNS_PORT=$($PY tools/demo_util.py free-port 127.0.0.1 --udp) || fail "no free port"
	"$DNSMASQ" -k --pid-file= --conf-file=/dev/null --no-resolv --no-hosts \
		--listen-address=127.0.0.1 --bind-interfaces -p "$DNS_PORT" \
		--log-facility="$dir/dnsmasq.log" "${dns_args[@]}" \
		>"$dir/dnsmasq.out" 2>&1 &
	PROCS[$!]=dnsmasq
	dns_pid=$!
	if $PY tools/demo_util.py dns-ready 127.0.0.1 "$DNS_PORT" d06.demo.test 10; then
		break
	fi
	stop_pid "$dns_pid"
	show_log "$dir/dnsmasq.out"
	DNS_PORT=
done
[ -n "$DNS_PORT" ] || fail "dnsmasq did not start"
# the zone answers as planned: an MX for d01, the null MX of d49
if [ "$($PY tools/demo_util.py mx 127.0.0.1 "$DNS_PORT" d01.demo.test)" != "10 mx-01.demo.test" ] ||
	[ "$($PY tools/demo_util.py mx 127.0.0.1 "$DNS_PORT" d49.demo.test)" != "0 ." ]; then
	fail "dnsmasq does not answer the test zone as planned"
fi
echo "demo: dnsmasq on 127.0.0.1:$DNS_PORT serving ${#domains[@]} domains + $SENDER_DOMAIN"

# --- the sinks ---------------------------------------------------------------
cat >"$dir/flaky.rules" <<'RULES'
# each recipient's first attempt is greylisted, later attempts are accepted
sequence rcpt per rcpt = 451:4.3.0 Greylisted, try again later; pass
RULES
# start_sink NAME PORT IP... [-- EXTRA ARGS]: start one ringsink on IP:PORT
# for each IP; sets SINK_PID.
start_sink() {
	local name=$1 port=$2 args=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		args+=(--listen "$1:$port")
		shift
	done
	[ $# -gt 0 ] && shift
	rm -f "$dir/$name.ports"
	"$RINGSINK" "${args[@]}" --hostname "$name.sink.demo.test" \
		--port-file "$dir/$name.ports" --summary "$dir/$name.json" \
		--quiet "$@" >"$dir/$name.out" 2>"$dir/$name.log" &
	SINK_PID=$!
	PROCS[$SINK_PID]="ringsink ($name)"
}
# sink_up NAME PID: wait up to 5 s for its port file; 1 if it died first.
sink_up() {
	local i
	for i in $(seq 100); do
		[ -s "$dir/$1.ports" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
MX_PORT=
for _ in 1 2 3 4 5; do
	MX_PORT=$($PY tools/demo_util.py free-port 127.0.0.10) || fail "no free port"
	start_sink healthy "$MX_PORT" "${healthy_listen_ips[@]}"
	healthy_pid=$SINK_PID
	start_sink flaky "$MX_PORT" "${flaky_listen_ips[@]}" -- --script "$dir/flaky.rules"
	flaky_pid=$SINK_PID
	if sink_up healthy "$healthy_pid" && sink_up flaky "$flaky_pid"; then
		break
	fi
	if ! kill -0 "$healthy_pid" 2>/dev/null; then
		wait "$healthy_pid"
		[ $? -eq 77 ] && fail "ringsink: io_uring is not available here"
	fi
	show_log "$dir/healthy.log"
	show_log "$dir/flaky.log"
	stop_pid "$healthy_pid"
	stop_pid "$flaky_pid"
	MX_PORT=
done
[ -n "$MX_PORT" ] || fail "ringsink did not start"
echo "demo: ringsink on port $MX_PORT of ${#healthy_listen_ips[@]} healthy addresses" \
	"(43 domains + $SENDER_DOMAIN) and ${#flaky_listen_ips[@]} flaky ones (451 first);" \
	"nothing on ${ips[49]} (d50, dead MX); d49 has a null MX"

plan=$dir/plan.txt
: >"$plan"
for i in "${!domains[@]}"; do
	echo "${domains[$i]} ${kinds[$i]} ${ips[$i]} $MX_PORT" >>"$plan"
done
echo "$SENDER_DOMAIN sender $SENDER_IP $MX_PORT" >>"$plan"

# --- ringmta -------------------------------------------------------------------
dlog=$dir/delivery.jsonl
conf=$dir/ringmta.conf
cat >"$conf" <<CONF
# written by tools/demo_e2e.sh
[server]
hostname = relay.demo.test
state_dir = $dir/var
delivery_log = $dlog

[listener]
address = 127.0.0.1:0
relay_networks = 127.0.0.1/32

[dns]
servers = 127.0.0.1:$DNS_PORT
timeout = 500ms

[delivery]
port = $MX_PORT
allowed_networks = 127.0.0.0/8, ::1/128
retry_interval = 2s
max_retry_interval = 4s
message_expiration = 1h
CONF
if [ "$EXPIRE" = 1 ]; then
	printf '\n[domain d50.demo.test]\nmessage_expiration = 1m\n' >>"$conf"
fi
"$RINGMTA" -c "$conf" --check-config >"$dir/check-config.out" 2>&1 ||
	{ cat "$dir/check-config.out" >&2; fail "ringmta refused the demo configuration"; }

mkdir -p "$dir/var"
"$RINGMTA" -c "$conf" 2>"$dir/ringmta.log" &
mta_pid=$!
PROCS[$mta_pid]=ringmta
MTA_PORT=
for _ in $(seq 200); do
	MTA_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$dir/ringmta.log" | head -1)
	[ -n "$MTA_PORT" ] && break
	kill -0 $mta_pid 2>/dev/null || break
	sleep 0.05
done
[ -n "$MTA_PORT" ] || { show_log "$dir/ringmta.log"; fail "ringmta did not start listening"; }
echo "demo: ringmta listening on 127.0.0.1:$MTA_PORT (retry_interval 2s, delivery port $MX_PORT)"

# --- inject -----------------------------------------------------------------------
echo "demo: injecting $MESSAGES messages of ~$SIZE bytes over $CONNS connections"
csv=$(
	IFS=,
	echo "${domains[*]}"
)
$PY tools/demo_inject.py 127.0.0.1 "$MTA_PORT" "$MESSAGES" "$dir/acks" \
	--conns "$CONNS" --size "$SIZE" --sender "$SENDER" --domains "$csv"
inject_rc=$?
[ $inject_rc -eq 0 ] || echo "demo: the injector reported a problem (exit $inject_rc)" >&2
kill -0 $mta_pid 2>/dev/null || { show_log "$dir/ringmta.log"; fail "ringmta exited during the injection"; }

# --- settle ------------------------------------------------------------------------
echo "demo: waiting for the queue to settle (at most ${SETTLE}s)"
expire_flag=()
[ "$EXPIRE" = 1 ] && expire_flag=(--expire)
t0=$(date +%s%N)
if $PY tools/demo_report.py settle "$plan" "$dir/acks" "$dlog" "$SETTLE" \
	--pid $mta_pid "${expire_flag[@]}"; then
	settled=yes
else
	settled=no
fi
settle_ms=$((($(date +%s%N) - t0) / 1000000))

# --- what Redis says ---------------------------------------------------------------
# ringmta publishes its counters to its embedded Redis once a second: ringctl's
# totals must agree with the delivery log (allow two rounds for the last ones).
redis_ok=no
logged=$(grep -c '"event":"delivered"' "$dlog")
for _ in $(seq 30); do
	published=$("$RINGCTL" -c "$conf" --json summary 2>"$dir/ringctl.err" |
		$PY -c 'import json,sys; print(json.load(sys.stdin)["totals"]["deliveries"])' 2>/dev/null)
	[ "$published" = "$logged" ] && { redis_ok=yes; break; }
	sleep 0.2
done
if [ $redis_ok = yes ]; then
	echo "demo: ringctl summary (from ringmta's embedded Redis) agrees: $published delivered"
else
	echo "demo: ringctl summary says ${published:-nothing} delivered, the delivery log $logged" >&2
	cat "$dir/ringctl.err" >&2
fi

# --- stop, then count -------------------------------------------------------------
stop_pid "$mta_pid"
stop_pid "$healthy_pid"
stop_pid "$flaky_pid"
if [ $settled = no ]; then
	grep -E ": (error|err|warn): " "$dir/ringmta.log" | tail -n 5 >&2
fi
$PY tools/demo_report.py summary "$plan" "$dir/acks" "$dlog" \
	"healthy=$dir/healthy.json" "flaky=$dir/flaky.json" \
	--settled $settled --settle-seconds "$((settle_ms / 1000)).$(printf %03d $((settle_ms % 1000)))" --want "$MESSAGES" \
	"${expire_flag[@]}"
rc=$?
[ $redis_ok = yes ] || rc=1
[ $rc -eq 0 ] || [ "$KEEP" = 1 ] || echo "demo: rerun with DEMO_KEEP=1 to keep the logs"
exit $rc
