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

t_cleanup() {
	local p f
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
