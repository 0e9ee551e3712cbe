# Shared helpers for integration tests (sourced, never run).
#
# Each test script calls t_case NAME before a case and t_ok / t_fail after
# it, and t_finish at the end, which prints cmocka-style summary lines that
# tests/run.sh adds up.  Every daemon a test starts is registered with
# t_daemon PID and stopped by pid on exit, even on failure (trap).  Ports are
# never hard-coded: free_port asks the kernel for one.
set -u
T_DIR=$(mktemp -d /tmp/ringmta-it.XXXXXX)
T_BUILD=${RINGMTA_BUILD:-build/asan}
T_PASS=0
T_FAIL=0
T_FAILED=()
T_SKIP=0
T_SKIPPED=()
T_CUR=
T_PIDS=()
T_PF_DIR=
T_PF_CONF=

t_cleanup() {
	local p f
	t_postfix_stop
	# ringmta's embedded redis-server outlives a ringmta killed with -9
	# (a restart adopts it): stop those too, by the pid in their pid file.
	while IFS= read -r f; do
		p=$(cat "$f" 2>/dev/null)
		case "$p" in '' | *[!0-9]*) continue ;; esac
		grep -q redis "/proc/$p/cmdline" 2>/dev/null && T_PIDS+=("$p")
	done < <(find "$T_DIR" -name redis.pid 2>/dev/null)
	for p in "${T_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${T_PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	if [ "${T_KEEP:-0}" = 1 ] || [ $T_FAIL -gt 0 ]; then
		echo "(test files kept in $T_DIR)"
	else
		rm -rf "$T_DIR"
	fi
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# Every integration test runs daemons on io_uring: where the kernel has it
# disabled (io_uring_disabled = 2, or 1 for an unprivileged user) the whole
# script is skipped, loudly, rather than failing for the wrong reason.
if [ -r /proc/sys/kernel/io_uring_disabled ]; then
	case "$(cat /proc/sys/kernel/io_uring_disabled)" in
	2) echo "SKIPPED: io_uring is disabled on this kernel (io_uring_disabled=2)"; exit 77 ;;
	1) [ "$(id -u)" -eq 0 ] || { echo "SKIPPED: io_uring is restricted to privileged users here"; exit 77; } ;;
	esac
fi

# t_daemon PID: stop this process when the test ends.
t_daemon() {
	T_PIDS+=("$1")
}

# t_stop PID: stop one daemon now (SIGTERM, wait up to 5 s).
t_stop() {
	local p=$1
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	wait "$p" 2>/dev/null
	return 0
}

t_case() {
	T_CUR=$1
	echo "[ RUN      ] $T_CUR"
}
t_ok() {
	echo "[       OK ] $T_CUR"
	T_PASS=$((T_PASS + 1))
}
t_fail() {
	echo "[  ERROR   ] --- $*"
	echo "[  FAILED  ] $T_CUR"
	T_FAIL=$((T_FAIL + 1))
	T_FAILED+=("$T_CUR")
}
# t_skip_case REASON: this case could not run here; said loudly, counted.
t_skip_case() {
	echo "[  SKIPPED ] $T_CUR: $*"
	T_SKIP=$((T_SKIP + 1))
	T_SKIPPED+=("$T_CUR ($*)")
}
# t_check DESCRIPTION COMMAND...: one case that passes when COMMAND does.
t_check() {
	local d=$1
	shift
	t_case "$d"
	if "$@"; then t_ok; else t_fail "$d"; fi
}
t_finish() {
	echo "[==========] $((T_PASS + T_FAIL)) test(s) run."
	echo "[  PASSED  ] $T_PASS test(s)."
	if [ $T_SKIP -gt 0 ]; then
		echo "[  SKIPPED ] $T_SKIP test(s), listed below:"
		local k
		for k in "${T_SKIPPED[@]}"; do echo "[  SKIPPED ] $k"; done
	fi
	if [ $T_FAIL -gt 0 ]; then
		echo "[  FAILED  ] $T_FAIL test(s), listed below:"
		local n
		for n in "${T_FAILED[@]}"; do echo "[  FAILED  ] $n"; done
		exit 1
	fi
	exit 0
}
# t_skip REASON: the whole script is skipped (exit 77), loudly.
t_skip() {
	echo "SKIPPED: $*"
	exit 77
}

# free_port [ADDR]: a TCP port that was free a moment ago on ADDR.
free_port() {
	/usr/bin/python3 - "${1:-127.0.0.1}" <<'PY'
import socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET)
s.bind((a, 0))
print(s.getsockname()[1])
PY
}

# wait_port ADDR PORT [SECONDS]: until something accepts on ADDR:PORT.
wait_port() {
	local a=$1 p=$2 n=${3:-10}
	/usr/bin/python3 - "$a" "$p" "$n" <<'PY'
import socket, sys, time
a, p, n = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + n
while time.time() < end:
    try:
        socket.create_connection((a, p), 0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

# wait_file PATH [SECONDS]: until PATH exists and is non-empty.
wait_file() {
	local f=$1 n=${2:-10} i
	for i in $(seq $((n * 20))); do
		[ -s "$f" ] && return 0
		sleep 0.05
	done
	return 1
}

# json_get FILE KEY.PATH: print a value from a JSON file (python3 json).
json_get() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)
PY
}

# ---- ringsink ---------------------------------------------------------------
# t_sink_start NAME ARGS...: start ringsink ($SINK, else $T_BUILD/ringsink)
# in $T_DIR/NAME with ARGS, listening on 127.0.0.1 (a port the kernel
# picks, read from its --port-file), --quiet, its summary in
# $T_DIR/NAME/summary.json and its stdout/stderr in that directory.  Sets SD
# (the directory), SP (the pid, registered with t_daemon) and PORT.  Skips
# the script (77) when ringsink finds no io_uring; returns 1 (stderr shown)
# when it did not start within 10 s.
t_sink_start() {
	SD=$T_DIR/$1
	shift
	mkdir -p "$SD"
	"${SINK:-$T_BUILD/ringsink}" --listen 127.0.0.1:0 \
		--port-file "$SD/ports" --summary "$SD/summary.json" --quiet \
		"$@" >"$SD/stdout" 2>"$SD/stderr" &
	SP=$!
	t_daemon "$SP"
	if ! wait_file "$SD/ports" 10; then
		wait "$SP"
		[ $? -eq 77 ] && t_skip "io_uring unavailable"
		cat "$SD/stderr"
		return 1
	fi
	PORT=$(head -1 "$SD/ports" | sed 's/.*://')
}

# t_sink_stop: SIGTERM to the sink of t_sink_start; succeeds when it exits
# 0 and has written its summary (else says why).
t_sink_stop() {
	local st
	kill -TERM "$SP"
	wait "$SP"
	st=$?
	[ "$st" -eq 0 ] || { echo "ringsink exit $st"; cat "$SD/stderr"; return 1; }
	[ -s "$SD/summary.json" ]
}

# t_sink_j EXPR: print a Python expression evaluated on the sink's summary
# (d; the modules json, sys, glob and os are imported).
t_sink_j() {
	/usr/bin/python3 -c 'import json,sys,glob,os; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$SD/summary.json" "$1"
}

# t_sink_jeq EXPR VALUE: t_sink_j EXPR prints VALUE (else says what it got).
t_sink_jeq() {
	local v
	v=$(t_sink_j "$1")
	[ "$v" = "$2" ] || { echo "summary: $1 = $v, want $2"; return 1; }
}

# ---- test programs ----------------------------------------------------------
# t_build_prog OUT SRC...: compile the test program SRC... (a driver in
# tests/integration/) into OUT and link it with the build's core library,
# $T_BUILD/libcore.a (every src/, uring/ and store/ source but main.c, as
# make built it), so that no script names the sources a driver needs and
# splitting a file can never break one.  The flags and libraries are the
# Makefile's own (WARN, CPPFLAGS, LIBS, and OPT_ASAN, or OPT_REL when
# $T_BUILD is not an asan directory), asked of make, so they cannot drift.
# A missing library or a failed compile is a failed case and ends the
# script (t_finish); it never skips.
t_build_prog() {
	local out=$1 lib=$T_BUILD/libcore.a opt=OPT_ASAN flags libs
	shift
	[ "${T_BUILD##*/}" = asan ] || opt=OPT_REL
	if [ ! -f "$lib" ]; then
		t_case "build ${out##*/}"
		t_fail "$lib missing: make BUILD=${T_BUILD%/asan} $lib"
		t_finish
	fi
	# A make of its own: not the jobserver or flags of a make check above.
	flags=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s \
		--no-print-directory BUILD="${T_BUILD%/asan}" \
		--eval="t-flags: ; @echo \$(WARN) \$(CPPFLAGS) \$($opt)" t-flags)
	# shellcheck disable=SC2016 # $(LIBS) is make's, not the shell's
	libs=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s \
		--no-print-directory BUILD="${T_BUILD%/asan}" \
		--eval='t-libs: ; @echo $(LIBS)' t-libs)
	# shellcheck disable=SC2086
	if [ -z "$flags" ] || [ -z "$libs" ] ||
		! gcc $flags -o "$out" "$@" "$lib" $libs; then
		t_case "build ${out##*/}"
		t_fail "gcc failed"
		t_finish
	fi
}

# ---- checks over JSON ---------------------------------------------------------
# json_check FILE PYTHON-EXPR: true when the expression holds over S, the
# JSON document in FILE; else says so and prints S (its first 3,000
# characters).
json_check() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
S = json.load(open(sys.argv[1]))
ok = eval("(" + sys.argv[2] + "\n)")
if not ok:
    print("check failed:", sys.argv[2])
    print(json.dumps(S)[:3000])
sys.exit(0 if ok else 1)
PY
}

# sink_refresh PID FILE: have the ringsink PID rewrite its summary FILE now
# (FILE removed, SIGUSR1); true once FILE is back (within 5 s).
sink_refresh() {
	rm -f "$2"
	kill -USR1 "$1"
	wait_file "$2" 5
}

# jq_log PYTHON-EXPR: true when the expression holds over E, the events of
# the delivery log $DLOG (JSON lines; none while it does not exist), where
# ev(KIND, RCPT) is the list of events of that kind for that recipient;
# else says so and prints the last 40 events.  The script sets DLOG.
jq_log() {
	/usr/bin/python3 - "$DLOG" "$1" <<'PY'
import json, sys
try:
    E = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
except FileNotFoundError:
    E = []
def ev(kind, rcpt):
    return [e for e in E if e["event"] == kind and e["rcpt"] == rcpt]
ok = eval("(" + sys.argv[2] + "\n)")
if not ok:
    print("check failed:", sys.argv[2])
    for e in E[-40:]:
        print(json.dumps(e))
sys.exit(0 if ok else 1)
PY
}

# wait_log PYTHON-EXPR [SECONDS]: until jq_log holds (polled quietly every
# 0.1 s, 20 s by default); then once more aloud, so a failure says why.
wait_log() {
	local n=${2:-20} i
	for i in $(seq $((n * 10))); do
		jq_log "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	jq_log "$1"
}

# ---- ringmta and redis-server -----------------------------------------------
# t_until SECONDS CMD...: retry CMD (output discarded) every 0.1 s until it
# succeeds; fails when SECONDS pass first.
t_until() {
	local n=$(($1 * 10)) i
	shift
	for i in $(seq $n); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# t_redis_start SOCK: a redis-server without persistence serving only the
# unix socket SOCK (working directory $T_DIR, log appended to
# $T_DIR/redis.log).  Sets RPID (registered with t_daemon); returns 1 when
# it does not answer PING within 5 s.
t_redis_start() {
	rm -f "$1"
	redis-server --port 0 --unixsocket "$1" --unixsocketperm 700 --save '' \
		--appendonly no --dir "$T_DIR" >>"$T_DIR/redis.log" 2>&1 &
	RPID=$!
	t_daemon $RPID
	t_until 5 sh -c "redis-cli -s '$1' PING | grep -q PONG"
}

# t_postfix_start DIR PORT CERTS MASTER_EXTRA [NAME=VALUE...]: a private
# Postfix (tools/bench_postfix.PrivatePostfix) in the new directory DIR:
# its own main.cf, master.cf and queue there, smtpd on 127.0.0.1:PORT only,
# logging to DIR/maillog.  Mail is parked in hold/, every transport
# discards and no notice is sent, so nothing can leave.  main.cf names
# mx.test.example, offers STARTTLS with CERTS/mx-chain.crt and CERTS/mx.key
# (tests/unit/tls_fixture.sh) and records TLS in Received:; each
# NAME=VALUE adds a main.cf parameter or overrides one.  The file
# MASTER_EXTRA ("": none) is appended to master.cf.  Sets T_PF_CONF (the
# instance's config directory) and returns 0; else prints why and returns 1
# with T_PF_CONF empty.  t_cleanup stops it (t_postfix_stop stops it now).
t_postfix_start() {
	local dir=$1 port=$2 certs=$3 master=$4
	shift 4
	T_PF_CONF=
	if [ ! -x /usr/sbin/postfix ]; then
		echo "/usr/sbin/postfix missing (make deps installs it)"
		return 1
	fi
	if ! /usr/bin/python3 - "$dir" "$port" "$certs" "$master" "$@" \
		>"$dir.log" 2>&1 <<'PY'; then
import os, sys
sys.path.insert(0, "tools")
import bench_postfix
tmp, port, certs, master = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
extra = {
    "myhostname": "mx.test.example",
    "smtpd_tls_security_level": "may",
    "smtpd_tls_cert_file": os.path.join(certs, "mx-chain.crt"),
    "smtpd_tls_key_file": os.path.join(certs, "mx.key"),
    "smtpd_tls_received_header": "yes",
    "default_transport": "discard:parked",
    "relay_transport": "discard:parked",
    "notify_classes": "",
}
extra.update(a.split("=", 1) for a in sys.argv[5:])
class PF(bench_postfix.PrivatePostfix):
    def write_config(self):
        super().write_config()
        if master:
            with open(os.path.join(self.conf, "master.cf"), "a") as f:
                f.write(open(master).read())
os.makedirs(tmp)
pf = PF(tmp, port, park="hold", log=True)
pf.cf = [(k, v) for k, v in pf.cf if k not in extra] + list(extra.items())
pf.start()
print("started", pf.version(), pf.master_pid())
PY
		cat "$dir.log"
		echo "the private Postfix in $dir did not start"
		return 1
	fi
	T_PF_DIR=$dir
	T_PF_CONF=$dir/conf
}

# t_postfix_stop: `postfix stop` for the instance t_postfix_start started,
# then wait (10 s at most) for its master to exit; nothing if none runs.
t_postfix_stop() {
	local m
	[ -n "$T_PF_CONF" ] || return 0
	m=$(awk '{print $1; exit}' "$T_PF_DIR/queue/pid/master.pid" 2>/dev/null)
	/usr/sbin/postfix -c "$T_PF_CONF" stop >/dev/null 2>&1
	T_PF_CONF=
	case "$m" in '' | *[!0-9]*) return 0 ;; esac
	for _ in $(seq 100); do
		kill -0 "$m" 2>/dev/null || return 0
		sleep 0.1
	done
}

# t_mta_conf FILE DNS_PORT [STATE_DIR [DELIVERY_LOG [HOSTNAME]]]: write the
# part every ringmta configuration of these tests shares to FILE: [server]
# (HOSTNAME, default relay.test.example; STATE_DIR, default $T_DIR/var;
# DELIVERY_LOG, default $DLOG), a [listener] on 127.0.0.1:0 relaying for
# 127.0.0.1/32, and [dns] with servers = 127.0.0.1:DNS_PORT as its last
# line: the test appends its own [dns] keys and sections (cat >>FILE).
t_mta_conf() {
	cat >"$1" <<CONF
[server]
hostname = ${5:-relay.test.example}
state_dir = ${3:-$T_DIR/var}
delivery_log = ${4:-$DLOG}

[listener]
address = 127.0.0.1:0
relay_networks = 127.0.0.1/32

[dns]
servers = 127.0.0.1:$2
CONF
}

# t_mta_start CONF LOG: ringmta -c CONF in the background, stderr appended
# to LOG.  Sets MTA_PID (registered with t_daemon) and MTA_PORT (its
# listener's port, from the first "listening on 127.0.0.1:PORT" it logs
# after this start); returns 1 when it exits or does not listen within
# 15 s (an ASan build on a loaded machine starts slowly).
t_mta_start() {
	local i skip
	skip=$(($(cat "$2" 2>/dev/null | wc -l) + 1))
	"$T_BUILD/ringmta" -c "$1" 2>>"$2" &
	MTA_PID=$!
	t_daemon $MTA_PID
	MTA_PORT=
	for i in $(seq 300); do
		MTA_PORT=$(tail -n +$skip "$2" | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' | head -1)
		[ -n "$MTA_PORT" ] && return 0
		kill -0 $MTA_PID 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# t_mta_start_or_end CONF LOG: t_mta_start, and when ringmta does not come
# up the script ends: skipped (77) when LOG blames io_uring, else LOG is
# shown and a failed case "ringmta starts" ends it (t_finish).
t_mta_start_or_end() {
	t_mta_start "$1" "$2" && return 0
	grep -q "io_uring" "$2" && t_skip "io_uring unavailable"
	cat "$2"
	t_case "ringmta starts"
	t_fail "no listener"
	t_finish
}
