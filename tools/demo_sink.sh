#!/usr/bin/env bash
# tools/demo_sink.sh: the sink on its own (the first make demo).
#
# The sink's demonstration: ringsink on
# a kernel-chosen loopback port, driven by Postfix's smtp-source (20 sessions
# with connection reuse, 20,000 messages of 4 KiB), then its JSON summary and
# the rate.  Everything it starts it stops by pid, even on failure.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
SESSIONS=${DEMO_SESSIONS:-20}
MESSAGES=${DEMO_MESSAGES:-20000}
SIZE=${DEMO_SIZE:-4096}
dir=$(mktemp -d /tmp/ringmta-demo.XXXXXX)
sink_pid=
cleanup() {
	if [ -n "$sink_pid" ] && kill -0 "$sink_pid" 2>/dev/null; then
		kill -TERM "$sink_pid"
		wait "$sink_pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$BUILD/ringsink" --listen 127.0.0.1:0 --port-file "$dir/ports" \
	--summary "$dir/summary.json" --quiet >"$dir/sink.out" 2>"$dir/sink.log" &
sink_pid=$!
for _ in $(seq 100); do [ -s "$dir/ports" ] && break; sleep 0.05; done
if [ ! -s "$dir/ports" ]; then
	echo "demo: ringsink did not start:" >&2
	cat "$dir/sink.log" >&2
	exit 1
fi
addr=$(head -1 "$dir/ports")
echo "demo: ringsink listening on $addr"
echo "demo: smtp-source -d -s $SESSIONS -m $MESSAGES -l $SIZE $addr"
start=$(date +%s.%N)
/usr/sbin/smtp-source -d -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" \
	-f sender@demo.test -t rcpt@demo.test "$addr" || {
	echo "demo: smtp-source failed" >&2
	exit 1
}
end=$(date +%s.%N)
kill -TERM "$sink_pid"
wait "$sink_pid" 2>/dev/null
sink_pid=
echo "demo: ringsink summary:"
/usr/bin/python3 - "$dir/summary.json" "$start" "$end" "$MESSAGES" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
secs = float(sys.argv[3]) - float(sys.argv[2])
for k in ("connections", "messages", "recipients", "bytes", "max_concurrent"):
    print(f"  {k:15} {s.get(k)}")
print(f"  {'seconds':15} {secs:.2f}")
print(f"  {'msg/s':15} {s.get('messages', 0) / secs:.0f}")
if s.get("messages") != int(sys.argv[4]):
    print("demo: message count mismatch", file=sys.stderr)
    sys.exit(1)
PY
