#!/usr/bin/env bash
# ringmta's command line: --help, --version, --check-config (exit 0, or 2
# with file:line: reason), and the daemon's signals: SIGHUP reloads (a bad
# file keeps the running configuration), SIGTERM exits 0.
source "$(dirname "$0")/lib.sh"
BIN=$T_BUILD/ringmta

t_case "help and version"
if "$BIN" --help | grep -q -- '--check-config' && "$BIN" --version | grep -q '^ringmta '; then
	t_ok
else
	t_fail "--help or --version output"
fi

t_case "unknown option is a usage error (64)"
"$BIN" --bogus >/dev/null 2>&1
st=$?
if [ $st -eq 64 ]; then t_ok; else t_fail "exit $st"; fi

t_case "built-in configuration checks ok"
if "$BIN" --check-config >"$T_DIR/out" 2>&1; then t_ok; else t_fail "$(cat "$T_DIR/out")"; fi

cat >"$T_DIR/good.conf" <<CONF
[server]
hostname = relay.test.example
state_dir = $T_DIR/var

[listener]
address = 127.0.0.1:0, [::1]:0
relay_networks = 127.0.0.0/8, ::1/128

[delivery]
allowed_networks = 127.0.0.0/8, ::1/128
retry_interval = 1m
suspended = true

[dns]
servers = 127.0.0.1:$(free_port)

[binding out1]
address = 127.0.0.2
ehlo = out1.test.example

[domain example.test]
max_outbound_connections = 5
CONF
t_case "a valid file checks ok"
if "$BIN" -c "$T_DIR/good.conf" --check-config >"$T_DIR/out" 2>&1; then t_ok; else t_fail "$(cat "$T_DIR/out")"; fi

t_case "--check-config -v prints the effective keys"
if "$BIN" -c "$T_DIR/good.conf" --check-config -v 2>&1 | grep -q 'out1.test.example'; then t_ok; else t_fail "dump lacks the binding"; fi

cat >"$T_DIR/bad.conf" <<'CONF'
[server]
hostname = relay.test.example
colour = blue

[delivery]
retry_interval = 5x
CONF
t_case "errors name file and line, exit 2"
"$BIN" -c "$T_DIR/bad.conf" --check-config >"$T_DIR/out" 2>&1
st=$?
if [ $st -eq 2 ] && grep -q "^$T_DIR/bad.conf:3: " "$T_DIR/out" &&
	grep -q "^$T_DIR/bad.conf:6: " "$T_DIR/out"; then
	t_ok
else
	t_fail "exit $st: $(cat "$T_DIR/out")"
fi

t_case "a missing file is reported, exit 2"
"$BIN" -c "$T_DIR/nonexistent.conf" --check-config >"$T_DIR/out" 2>&1
st=$?
if [ $st -eq 2 ] && grep -q "nonexistent.conf" "$T_DIR/out"; then t_ok; else t_fail "exit $st"; fi

t_case "SIGHUP reloads; a bad file keeps the running one; SIGTERM exits 0"
cp "$T_DIR/good.conf" "$T_DIR/live.conf"
"$BIN" -c "$T_DIR/live.conf" 2>"$T_DIR/daemon.log" &
pid=$!
t_daemon $pid
ok=1
wait_file "$T_DIR/daemon.log" 5 && grep -q "started" "$T_DIR/daemon.log" || { sleep 1; grep -q started "$T_DIR/daemon.log" || ok=0; }
kill -HUP $pid
for _ in $(seq 50); do grep -q "reloaded" "$T_DIR/daemon.log" && break; sleep 0.1; done
grep -q "reloaded" "$T_DIR/daemon.log" || ok=0
cp "$T_DIR/bad.conf" "$T_DIR/live.conf"
kill -HUP $pid
for _ in $(seq 50); do grep -q "keeping the running" "$T_DIR/daemon.log" && break; sleep 0.1; done
grep -q "keeping the running" "$T_DIR/daemon.log" || ok=0
grep -q "live.conf:3: " "$T_DIR/daemon.log" || ok=0
kill -TERM $pid
wait $pid
st=$?
[ $st -eq 0 ] || ok=0
if [ $ok = 1 ]; then t_ok; else t_fail "exit $st: $(cat "$T_DIR/daemon.log")"; fi

t_finish
