#!/usr/bin/python3
"""ringmta benchmarks (make bench): side by side in one run, medians, ratios.

Writes docs/BENCHMARKS.md.  Everything runs on loopback with kernel-chosen
ports; every daemon is stopped by pid, also on failure.  BENCH_QUICK=1 runs a
small version; BUILD names the build directory (the optimised build).

The workloads live in modules beside this file (shared pieces in
bench_lib.py):

  bench_w0wi   W0 sink ceiling, W0c idle connections on the sinks, WI
               durable intake, WR restart with a large queue
  bench_client WC the outbound client engine alone
  bench_w1w2   W1 end to end, W2 drain a full queue
  bench_w345   W3 TLS end to end, W4 concurrent connections to a slow sink
  bench_w5     W5 breadth (100,000 domains through dnsmasq)
  bench_lat    latency: intake 250 (stamped in smtp-source) to the sink's 250
  bench_wg     WG instructions per message under callgrind

Usage: tools/bench.sh [w0] [w0c] [wi] [wr] [wc] [w1] [w2] [w3] [w4] [w5] [wg]
With no argument every workload runs and docs/BENCHMARKS.md is written
anew; with some, their sections are replaced (or appended) in it and the
others are left as they were (W0, W0c and WI only print; W1 and W2 are
spliced together when both ran).
"""
import os
import re
import resource
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lib  # noqa: E402
import bench_w0wi  # noqa: E402
import bench_w1w2  # noqa: E402
import bench_w345  # noqa: E402
import bench_w5  # noqa: E402
import bench_wg  # noqa: E402
from bench_lib import (BENCHMARKS_MD, BUILD, QUICK, ROOT,  # noqa: E402
                       SMTP_SINK, SMTP_SOURCE, Daemon, machine_facts,
                       splice_section)

KNOWN = ("w0", "w0c", "wi", "wr", "wc", "w1", "w2", "w3", "w4", "w5", "wg")
# workloads whose section is spliced alone: name -> (run, markdown)
SECTIONS = {"wr": (bench_w0wi.wr, bench_w0wi.wr_md),
            "w3": (bench_w345.w3, bench_w345.w3_md),
            "w4": (bench_w345.w4, bench_w345.w4_md),
            "w5": (bench_w5.w5, bench_w5.w5_md),
            "wg": (bench_wg.wg, bench_wg.wg_md)}


GLANCE = "## Targets at a glance"


def glance(text):
    """text (a whole BENCHMARKS.md) with its "Targets at a glance" section
    rebuilt from every section's "Against the targets" verdicts, placed
    before the first workload section.  Nothing is typed in by hand: the
    lines are the sections' own, so a spliced subset updates them too."""
    text = re.sub(r"\n" + GLANCE + r"\n.*?(?=\n## )", "", text,
                  flags=re.S)
    lines = text.split("\n")
    got, section, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].split(":")[0]
        elif line.startswith("Against the targets") and section:
            rest = line.split(":", 1)[1].strip()
            if rest:
                got.append(named(section, rest))
            i += 1
            while i < len(lines) and not lines[i].startswith("- "):
                if lines[i].strip():
                    break
                i += 1
            while i < len(lines) and lines[i].startswith("- "):
                got.append(named(section, lines[i][2:]))
                i += 1
            continue
        i += 1
    if not got:
        return text
    block = [GLANCE, "",
             "Collected from the \"Against the targets\" lines of the "
             "sections below (each has its commands, settings, tables and, "
             "for a target it misses, the profile and the reason).", ""]
    first = next((n for n, line in enumerate(lines)
                  if line.startswith("## ")), len(lines))
    lines[first:first] = block + got + [""]
    return "\n".join(lines)


def named(section, item):
    """A summary line: item as it is if it names its workload (W1 ...),
    else with its section's name in front."""
    if re.match(r"W[0-9A-Z]+\b", item):
        return f"- {item}"
    return f"- {section}: {item}"


def refresh_glance():
    """Rebuilds the summary in docs/BENCHMARKS.md (after a splice)."""
    with open(BENCHMARKS_MD) as f:
        text = f.read()
    with open(BENCHMARKS_MD, "w") as f:
        f.write(glance(text))


def write_md(started, res):
    """docs/BENCHMARKS.md from a full run's results."""
    cmd = "BENCH_QUICK=1 make bench" if QUICK else "make bench"
    out = ["# Benchmarks\n",
           f"Produced by `{cmd}` (tools/bench.py) on {started} UTC.\n",
           f"Machine: {machine_facts()}. Everything on loopback; the "
           "load generator shares the machine with the server under "
           "test, so absolute numbers are the machine's, and the "
           "ratios measured side by side in the same run are what to "
           "quote.\n"]
    out.extend(bench_w0wi.w0_md(res["w0"], res["w0c"]))
    out.extend(bench_w0wi.wi_md(res["wi"]))
    out.append(bench_w0wi.wr_md(res["wr"]))
    out.append(res["wc"])
    out.extend(bench_w1w2.w1w2_md(res["w12"]))
    for name in ("w3", "w4", "w5", "wg"):
        out.append(SECTIONS[name][1](res[name]))
    with open(BENCHMARKS_MD, "w") as f:
        f.write(glance("\n".join(out).rstrip("\n") + "\n"))


def run(want, tmp):
    """Runs the wanted workloads in the usual order; returns their results
    by name ("w12" for W1/W2)."""
    res = {}
    if "w0" in want:
        res["w0"] = bench_w0wi.w0(tmp)
    if "w0c" in want:
        res["w0c"] = bench_w0wi.wconns(tmp)
    if "wi" in want:
        res["wi"] = bench_w0wi.wi(tmp)
    if "wr" in want:
        res["wr"] = bench_w0wi.wr(tmp)
    if "wc" in want:
        import bench_client
        res["wc"] = bench_client.run(BUILD, QUICK)
        print(res["wc"], flush=True)
    if "w1" in want or "w2" in want:
        res["w12"] = bench_w1w2.w1w2(tmp, "w1" in want, "w2" in want)
        print("\n".join(bench_w1w2.w1w2_md(res["w12"])), flush=True)
    for name in ("w3", "w4", "w5", "wg"):
        if name in want:
            print(f"{name.upper()}:", flush=True)
            res[name] = SECTIONS[name][0](tmp)
            print(SECTIONS[name][1](res[name]), flush=True)
    return res


def splice(want, res, started):
    """After a subset: the sections it produced replace theirs."""
    done = False
    for name in ("wr", "w3", "w4", "w5", "wg"):
        if name in res:
            splice_section(SECTIONS[name][1](res[name]), started, name)
            done = True
    if "wc" in res:
        splice_section(res["wc"], started, "wc")
        done = True
    if "w12" in res and "w1" in want and "w2" in want:
        bench_w1w2.splice_w1w2(bench_w1w2.w1w2_md(res["w12"]), started)
        done = True
    if done:
        refresh_glance()
    print("bench: replaced " + ", ".join(n for n in want
                                         if n not in ("w0", "w0c", "wi"))
          + " in docs/BENCHMARKS.md" if done else
          "bench: a subset ran; docs/BENCHMARKS.md left as it was")


def main():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    want = sys.argv[1:] or list(KNOWN)
    if any(w not in KNOWN for w in want):
        sys.exit(f"usage: bench.py [{'] ['.join(KNOWN)}]")
    need = [SMTP_SOURCE, SMTP_SINK, os.path.join(ROOT, BUILD, "ringsink")]
    if set(want) - {"w0", "w0c", "wc"}:
        need.append(os.path.join(ROOT, BUILD, "ringmta"))
    if set(want) & {"w4", "w5"}:
        need.append(bench_lib.DNSMASQ)
    if "wg" in want:
        need += [bench_wg.VALGRIND, bench_wg.ANNOTATE]
    for p in need:
        if not os.access(p, os.X_OK):
            sys.exit(f"bench: {p} is missing (run make deps && make)")
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    try:
        with tempfile.TemporaryDirectory(prefix="ringmta-bench.") as tmp:
            os.chmod(tmp, 0o755)  # the private Postfix's daemons enter it
            res = run(want, tmp)
    finally:
        Daemon.stop_all()
    if len(want) < len(KNOWN):
        splice(want, res, started)
        return
    write_md(started, res)
    print("bench: wrote docs/BENCHMARKS.md")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
