#!/usr/bin/python3
"""WG of tools/bench.py: instructions per delivered message under callgrind.

A fixed small W1 (smtp-source -d -s 20, 2,000 messages of 4 KiB, relayed to
ringsink) with ringmta running under `valgrind --tool=callgrind`.  The
figure is user-space instructions (Ir) of the ringmta process: total /
messages, and (total - an idle start and stop) / messages; plus the top
functions by inclusive and by self cost.  It does not depend on the
machine's load, so it is the figure to track from change to change.
Kernel work (io_uring requests, copies, fdatasync) is not counted by
callgrind.

Owns: the callgrind runs in its scratch directory and reading them with
callgrind_annotate.  Must not: listen anywhere but 127.0.0.1, or stop any
process it did not start (every daemon is stopped by pid).
"""
import os
import re
import shutil
import subprocess
import tempfile

from bench_lib import (BUILD, QUICK, ROOT, Daemon, SinkWatch, free_port,
                       source_into, wait_log)
from bench_w1w2 import RELAY_CONC, ringmta_relay_conf

VALGRIND = "/usr/bin/valgrind"
ANNOTATE = "/usr/bin/callgrind_annotate"
WG_MSGS = 2000
WG_TOP = 10


def _callgrind(d, msgs):
    """One run: ringmta under callgrind, msgs messages (0: start and stop
    only).  Returns the callgrind output file."""
    sink = SinkWatch(d)
    out = os.path.join(d, f"callgrind.{msgs}.out")
    try:
        port = free_port()
        conf = ringmta_relay_conf(d, port, sink.port, False, RELAY_CONC)
        log = os.path.join(d, f"ringmta.{msgs}.log")
        with open(log, "w") as logf:
            dm = Daemon([VALGRIND, "--tool=callgrind",
                         f"--callgrind-out-file={out}",
                         os.path.join(ROOT, BUILD, "ringmta"), "-c", conf],
                        stderr=logf)
        try:
            if not wait_log(log, f"listening on 127.0.0.1:{port}", dm.p,
                            120):
                raise RuntimeError(f"ringmta under callgrind did not "
                                   f"start: {open(log).read()[-500:]}")
            if msgs:
                source_into(port, 4096, msgs)
                sink.wait(msgs, 600, lambda: dm.p.poll() is None)
        finally:
            dm.stop(timeout=120)
    finally:
        sink.stop()
    if not os.path.exists(out):
        raise RuntimeError(f"callgrind wrote no {out}")
    return out


def _total(out):
    with open(out) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"{out}: no totals")


_FN = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S.*)$")


def _top(out, inclusive, n=WG_TOP):
    """[(instructions, function)] of the n costliest functions."""
    incl = "yes" if inclusive else "no"
    r = subprocess.run([ANNOTATE, f"--inclusive={incl}", "--auto=no",
                        "--threshold=100", out],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, timeout=300, check=True)
    rows = []
    body = r.stdout.split("file:function", 1)[-1]
    for line in body.splitlines():
        m = _FN.match(line)
        if m:
            fn = m.group(2)
            fn = re.sub(r" \[[^\]]*\]$", "", fn)  # the object file
            fn = fn.replace(ROOT + "/", "")
            src, _, name = fn.rpartition(":")
            if src and not src.startswith(("src/", "uring/", "store/",
                                            "tools/")):
                fn = f"{os.path.basename(src)}:{name}"  # libc's long paths
            # the start-up frames above main, and a function listed twice
            # (callgrind_annotate shows cycles and their members)
            if fn.startswith("???") or "(below main)" in fn or \
                    "libc_start" in fn or fn in (f for _, f in rows):
                continue
            rows.append((int(m.group(1).replace(",", "")), fn))
        if len(rows) >= n:
            break
    return rows


def wg(tmp):
    """Callgrind runs: one idle, then reps of WG_MSGS messages."""
    for p in (VALGRIND, ANNOTATE):
        if not os.access(p, os.X_OK):
            raise RuntimeError(f"{p} is missing (make deps: valgrind)")
    reps = 1 if QUICK else 3
    d = tempfile.mkdtemp(prefix="wg.", dir=tmp)
    try:
        idle = _total(_callgrind(tempfile.mkdtemp(dir=d), 0))
        runs = []
        for _ in range(reps):
            out = _callgrind(tempfile.mkdtemp(dir=d), WG_MSGS)
            runs.append((_total(out), out))
        runs.sort()
        total, out = runs[len(runs) // 2]
        res = {"msgs": WG_MSGS, "reps": reps, "idle": idle,
               "totals": [t for t, _ in runs], "total": total,
               "incl": _top(out, True), "self": _top(out, False)}
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(f"  WG: {res['total'] / WG_MSGS:.0f} instructions/message "
          f"(idle {idle:,})", flush=True)
    return res


def wg_md(r):
    n = r["msgs"]
    per = r["total"] / n
    net = (r["total"] - r["idle"]) / n
    spread = (f"{min(r['totals']) / n:,.0f} to {max(r['totals']) / n:,.0f}"
              if len(r["totals"]) > 1 else f"{per:,.0f}")
    out = ["## WG: instructions per delivered message (callgrind)", ""]
    out.append(
        f"W1's shape, small and fixed: `smtp-source -d -s 20 -m {n} -l "
        "4096` into ringmta running under `valgrind --tool=callgrind` (the "
        "optimised build), relayed to ringsink (not under valgrind); "
        "ringmta is stopped with SIGTERM once the sink counted every "
        "message. Ir = user-space instructions executed by the ringmta "
        "process (its private redis-server, the kernel's io_uring work, "
        "copies and fdatasyncs are not counted). The idle figure is a run "
        "that starts, listens and stops with no mail (start-up, replay, "
        f"Redis connection, shutdown). Median of {r['reps']} run(s) "
        f"(per message {spread}); it does not depend on the machine's "
        "load, only on the code and on how the messages batch into loop "
        "turns.")
    out.append("")
    out.append("| messages | Ir total | Ir idle run | Ir / message | "
               "(Ir - idle) / message |")
    out.append("|---|---|---|---|---|")
    out.append(f"| {n:,} | {r['total']:,} | {r['idle']:,} | {per:,.0f} | "
               f"{net:,.0f} |")
    out.append("")
    for key, title in (("incl", "inclusive (the function and what it "
                                "calls)"),
                       ("self", "self (the function's own instructions)")):
        out.append(f"Top {WG_TOP} functions by {title}, in the median run "
                   "(start-up frames above `main` left out):")
        out.append("")
        out.append("| function | Ir | Ir / message | share |")
        out.append("|---|---|---|---|")
        for ir, fn in r[key]:
            out.append(f"| `{fn}` | {ir:,} | {ir / n:,.0f} | "
                       f"{ir / r['total'] * 100:.1f}% |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="ringmta-wg.") as t:
        print(wg_md(wg(t)))
