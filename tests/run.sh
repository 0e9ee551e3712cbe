#!/usr/bin/env bash
# Runs the test binaries and scripts, prints each one's own cmocka summary,
# and ends with one line "N passed, N failed".  Exit status 0 only when
# nothing failed.
#
#   tests/run.sh [--unit-only|--integration-only] UNIT... -- FUZZ...
#
# Unit tests are cmocka binaries in $BUILD/asan/tests/.  Fuzz targets run
# once over their corpus (tests/fuzz/corpus/NAME/) as a regression check.
# Integration tests are tests/integration/test_*.sh; they print cmocka-style
# summary lines through tests/integration/lib.sh.  Exit status 77 from a
# test means "skipped" (io_uring unavailable), reported loudly.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
ASAN=$BUILD/asan
mode=all
case "${1:-}" in
--unit-only) mode=unit; shift ;;
--integration-only) mode=integration; shift ;;
esac
units=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do units+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
fuzzers=("$@")

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export RINGMTA_BUILD=$ASAN
logdir=$BUILD/test-logs
mkdir -p "$logdir"
pass=0 fail=0 skipped=0 rc=0
failed_names=()

# account NAME LOGFILE STATUS: add a cmocka summary to the totals.
account() {
	local name=$1 log=$2 st=$3 p f s
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:.*/\1/p' "$log" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed below:.*/\1/p' "$log" | tail -1)
	if [ "$st" -eq 77 ]; then
		echo "*** SKIPPED: $name (io_uring or a required facility is unavailable) ***"
		skipped=$((skipped + 1))
		return
	fi
	if [ -z "$p$f" ]; then
		echo "*** $name: no cmocka summary (exit $st: crashed?) ***"
		f=1
	elif [ "$st" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		echo "*** $name: exit status $st ***"
		f=1
	fi
	if [ -n "$s" ] && [ "$s" -gt 0 ]; then
		echo "*** $name: $s test(s) SKIPPED ***"
		skipped=$((skipped + s))
	fi
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
	if [ "${f:-0}" -gt 0 ]; then
		rc=1
		failed_names+=("$name")
	fi
}

if [ "$mode" != integration ]; then
	for t in "${units[@]}"; do
		echo "=== unit: $t"
		log=$logdir/$t.log
		"$ASAN/tests/$t" >"$log" 2>&1
		st=$?
		cat "$log"
		account "$t" "$log" "$st"
	done
	for t in "${fuzzers[@]}"; do
		name=${t#fuzz_}
		echo "=== fuzz corpus: $t"
		log=$logdir/$t.log
		"$ASAN/fuzz/$t" "tests/fuzz/corpus/$name" >"$log" 2>&1
		st=$?
		cat "$log"
		account "$t" "$log" "$st"
	done
fi
if [ "$mode" != unit ]; then
	for t in tests/integration/test_*.sh; do
		[ -e "$t" ] || continue
		name=$(basename "$t" .sh)
		echo "=== integration: $name"
		log=$logdir/$name.log
		timeout -k 10 900 bash "$t" >"$log" 2>&1
		st=$?
		cat "$log"
		account "$name" "$log" "$st"
	done
fi
[ $skipped -gt 0 ] && echo "*** $skipped test program(s) or test(s) SKIPPED ***"
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed"
exit $rc
