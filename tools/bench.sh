#!/usr/bin/env bash
# make bench: runs tools/bench.py (side-by-side benchmarks) with Debian's
# python3, which writes docs/BENCHMARKS.md.
set -u
cd "$(dirname "$0")/.." || exit 1
ulimit -n 65536 2>/dev/null || true
exec /usr/bin/python3 tools/bench.py "$@"
