#!/usr/bin/env bash
# test_spool_crash.sh: RELIABILITY D1 for the spool layer.  spoold commits
# messages continuously and prints each id once its commit callback said
# durable; it is kill -9ed at random moments (25 times), restarted each
# time on the same spool, and after every kill a replay-only run checks
# that every acknowledged id is live and byte-exact (bodies derive from the
# id), and that every id whose DONE was acknowledged is gone.
# tests/integration/spoold.c is built here by t_build_prog (lib.sh), linked
# with $RINGMTA_BUILD/libcore.a.
cd "$(dirname "$0")/../.." || exit 1
source tests/integration/lib.sh

SPOOLD=$T_DIR/spoold
t_build_prog "$SPOOLD" tests/integration/spoold.c

KILLS=${SPOOL_CRASH_KILLS:-25}
SP=$T_DIR/spool
ACKS=$T_DIR/acks.log
: >"$ACKS"
# ASan's leak check at exit is meaningless for a killed process.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0

"$SPOOLD" "$SP" verify </dev/null >/dev/null 2>"$T_DIR/probe.err"
[ $? -eq 77 ] && t_skip "io_uring unavailable"

lost=0
for i in $(seq "$KILLS"); do
	t_case "kill -9 #$i, replay keeps every acknowledged message"
	"$SPOOLD" "$SP" run 3000 >>"$ACKS" 2>>"$T_DIR/run.err" &
	pid=$!
	t_daemon "$pid"
	# A random moment between 20 and 1200 ms.
	sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.02 + r / 32767 * 1.18 }')"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if out=$("$SPOOLD" "$SP" verify <"$ACKS" 2>>"$T_DIR/verify.err"); then
		echo "    $out"
		t_ok
	else
		cat "$T_DIR/verify.err"
		t_fail "$out"
		lost=1
	fi
done

t_case "no sanitizer report in any run"
if grep -E "runtime error|AddressSanitizer|BUG" "$T_DIR"/*.err; then
	t_fail "sanitizer or BUG_ON output"
else
	t_ok
fi

t_case "acknowledgements were made and checked"
n=$(grep -c '^ACK ' "$ACKS")
d=$(grep -c '^DONE ' "$ACKS")
echo "    $n ACK lines, $d DONE lines over $KILLS kills"
if [ "$n" -gt 500 ] && [ "$d" -gt 50 ] && [ $lost -eq 0 ]; then t_ok; else t_fail "too few"; fi
t_finish
