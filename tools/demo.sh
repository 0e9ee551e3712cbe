#!/usr/bin/env bash
# make demo: ringmta end to end on loopback (docs/DEMO.md): dnsmasq, ringsink
# MX hosts for 50 domains, ringmta, 10,000 injected messages, a summary that
# must add up.  tools/demo_sink.sh is the older sink-only demonstration.
exec "$(dirname "$0")/demo_e2e.sh" "$@"
