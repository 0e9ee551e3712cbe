#!/usr/bin/env bash
# make bench: runs tools/bench.py (side-by-side benchmarks) with Debian's
# python3.  With no argument every workload runs and docs/BENCHMARKS.md is
# written anew; `tools/bench.sh w3 w4 w5 wg` runs those and replaces their
# sections in it (BENCH_QUICK=1: small; BUILD=DIR: the optimised build).
set -u
cd "$(dirname "$0")/.." || exit 1
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec /usr/bin/python3 tools/bench.py "$@"
