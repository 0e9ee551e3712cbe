#!/usr/bin/python3
"""ringmta benchmarks (make bench): side by side in one run, medians, ratios.

Writes docs/BENCHMARKS.md.  Everything runs on loopback with kernel-chosen
ports; every daemon is stopped by pid, also on failure.  BENCH_QUICK=1 runs a
small version.  Workloads present so far:

  W0 ceiling: Postfix's smtp-source straight into ringsink and into Postfix's
     smtp-sink, several concurrencies, 1 KiB and 100 KiB messages, with
     connection reuse (-d).  This is the sink's own benchmark and the
     machine's ceiling for everything that relays to a sink.
"""
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
QUICK = os.environ.get("BENCH_QUICK", "0") == "1"
SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, secs=10):
    end = time.time() + secs
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def cpu_ticks(pid):
    """utime + stime of a process and its reaped children, in ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15])


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Daemon:
    """A server process stopped by pid when the benchmark ends."""

    live = []

    def __init__(self, argv, **kw):
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, **kw)
        Daemon.live.append(self)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if self in Daemon.live:
            Daemon.live.remove(self)

    @classmethod
    def stop_all(cls):
        for d in list(cls.live):
            d.stop()


def start_sink(kind, port, tmp):
    if kind == "ringsink":
        d = Daemon([os.path.join(ROOT, BUILD, "ringsink"), "--listen",
                    f"127.0.0.1:{port}", "--quiet",
                    "--summary", os.path.join(tmp, "summary.json")])
    else:
        d = Daemon([SMTP_SINK, "-u", "nobody", "-m", "20000",
                    f"127.0.0.1:{port}", "1024"])
    if not wait_port(port):
        d.stop()
        raise RuntimeError(f"{kind} did not start")
    return d


def run_w0(kind, sessions, size, msgs, tmp):
    port = free_port()
    sink = start_sink(kind, port, tmp)
    try:
        c0 = cpu_ticks(sink.p.pid)
        t0 = time.monotonic()
        r = subprocess.run([SMTP_SOURCE, "-d", "-s", str(sessions), "-m",
                            str(msgs), "-l", str(size), "-f", "a@bench.test",
                            "-t", "b@bench.test", f"127.0.0.1:{port}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=600)
        t1 = time.monotonic()
        c1 = cpu_ticks(sink.p.pid)
        rss = peak_rss_kb(sink.p.pid)
        if r.returncode != 0:
            raise RuntimeError(f"smtp-source failed: {r.stderr[-300:]!r}")
    finally:
        sink.stop()
    if kind == "ringsink":
        got = json.load(open(os.path.join(tmp, "summary.json")))["messages"]
        if got != msgs:
            raise RuntimeError(f"ringsink counted {got} of {msgs} messages")
    secs = t1 - t0
    return {"rate": msgs / secs, "secs": secs,
            "cpu_ms_per_1k": (c1 - c0) * 1000.0 / TICK / msgs * 1000,
            "rss_kb": rss}


def hold_connections(port, n):
    """Open n sessions: banner, EHLO, reply; keep them open.  Returns them."""
    socks = []
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port), 10)
        socks.append(c)
    for c in socks:
        f = c.makefile("rb")
        line = f.readline()
        if not line.startswith(b"220"):
            raise RuntimeError(f"bad banner {line!r}")
        c.sendall(b"EHLO bench.test\r\n")
        while True:
            line = f.readline()
            if not line.startswith(b"250"):
                raise RuntimeError(f"bad EHLO reply {line!r}")
            if line[3:4] == b" ":
                break
    return socks


def run_conns(kind, n, tmp):
    port = free_port()
    sink = start_sink(kind, port, tmp)
    socks = []
    try:
        with open(f"/proc/{sink.p.pid}/status") as f:
            base = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        socks = hold_connections(port, n)
        time.sleep(0.5)
        c0 = cpu_ticks(sink.p.pid)
        time.sleep(2.0)
        c1 = cpu_ticks(sink.p.pid)
        with open(f"/proc/{sink.p.pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    finally:
        for c in socks:
            c.close()
        sink.stop()
    return {"rss_kb": rss, "per_conn_kb": (rss - base) / n,
            "idle_cpu_ms": (c1 - c0) * 1000.0 / TICK / 2.0}


def wconns(tmp):
    n = 2000 if QUICK else 10000
    res = {}
    for kind in ("ringsink", "smtp-sink"):
        try:
            res[kind] = run_conns(kind, n, tmp)
        except (OSError, RuntimeError) as e:
            res[kind] = {"error": str(e)}
        print(f"W0c {n} connections: {kind} {res[kind]}", flush=True)
    return n, res


def machine_facts():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}, "
            f"{platform.freedesktop_os_release().get('PRETTY_NAME', '?')}")


def w0(tmp):
    reps = 1 if QUICK else 3
    shapes = []
    for size, msgs in ((1024, 5000 if QUICK else 20000),
                       (102400, 500 if QUICK else 3000)):
        for sessions in (20, 50):
            shapes.append((size, sessions, msgs))
    rows = []
    for size, sessions, msgs in shapes:
        res = {"ringsink": [], "smtp-sink": []}
        for rep in range(reps):
            # alternate which system goes first
            order = ["ringsink", "smtp-sink"]
            if rep % 2:
                order.reverse()
            for kind in order:
                res[kind].append(run_w0(kind, sessions, size, msgs, tmp))
        row = {"size": size, "sessions": sessions, "msgs": msgs}
        for kind, runs in res.items():
            row[kind] = {k: statistics.median(r[k] for r in runs)
                         for k in runs[0]}
        rows.append(row)
        print(f"W0 size={size} sessions={sessions}: ringsink "
              f"{row['ringsink']['rate']:.0f} msg/s, smtp-sink "
              f"{row['smtp-sink']['rate']:.0f} msg/s", flush=True)
    return reps, rows


def write_md(reps, rows, started, conns):
    cmd = "BENCH_QUICK=1 make bench" if QUICK else "make bench"
    out = []
    out.append("# Benchmarks\n")
    out.append(f"Produced by `{cmd}` (tools/bench.py) on {started} UTC.\n")
    out.append(f"Machine: {machine_facts()}. Everything on loopback; the "
               "load generator shares the machine with the server under "
               "test, so absolute numbers are the machine's, and the "
               "ratios measured side by side in the same run are what to "
               "quote.\n")
    out.append("## W0: the sink ceiling (ringsink vs Postfix smtp-sink)\n")
    out.append("Load: `smtp-source -d -s SESSIONS -m MSGS -l SIZE -f "
               "a@bench.test -t b@bench.test 127.0.0.1:PORT` (Postfix "
               "3.7's generator, connection reuse), one recipient per "
               "message. ringsink: `ringsink --listen 127.0.0.1:PORT "
               "--quiet --summary FILE` (message count checked against the "
               "summary). smtp-sink: `smtp-sink -u nobody 127.0.0.1:PORT "
               "1024`. Systems alternate within each repetition; medians of "
               f"{reps} repetition(s). Rate = messages / wall time of "
               "smtp-source; sink CPU from /proc (user+system); peak RSS is "
               "the sink's VmHWM.\n")
    out.append("| size | sessions | messages | ringsink msg/s | smtp-sink "
               "msg/s | ratio | ringsink CPU ms/1k msg | smtp-sink CPU "
               "ms/1k msg | ringsink peak RSS | smtp-sink peak RSS |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        a, b = r["ringsink"], r["smtp-sink"]
        out.append(f"| {r['size'] // 1024} KiB | {r['sessions']} | "
                   f"{r['msgs']} | {a['rate']:.0f} | {b['rate']:.0f} | "
                   f"{a['rate'] / b['rate']:.2f}x | "
                   f"{a['cpu_ms_per_1k']:.0f} | {b['cpu_ms_per_1k']:.0f} | "
                   f"{a['rss_kb'] / 1024:.1f} MiB | "
                   f"{b['rss_kb'] / 1024:.1f} MiB |")
    out.append("")
    out.append("Both sinks are limited by the generator here: smtp-source "
               "uses most of one core. A ratio near 1.0x means ringsink is "
               "not the bottleneck; its CPU per message is the figure that "
               "says how much headroom it leaves.\n")
    n, res = conns
    out.append(f"### W0c: {n} concurrent idle connections\n")
    out.append(f"A Python client opens {n} connections to the sink, reads "
               "the banner, says EHLO and reads the reply on each, then "
               "holds them all open. RSS is the sink's VmRSS with every "
               "connection open; per connection = (RSS - RSS before) / "
               "connections; idle CPU is the sink's CPU over 2 s while "
               "nothing happens.\n")
    out.append("| sink | RSS | per connection | idle CPU (ms/s) |")
    out.append("|---|---|---|---|")
    for kind, r in res.items():
        if "error" in r:
            out.append(f"| {kind} | failed: {r['error']} | | |")
        else:
            out.append(f"| {kind} | {r['rss_kb'] / 1024:.1f} MiB | "
                       f"{r['per_conn_kb']:.1f} KiB | "
                       f"{r['idle_cpu_ms']:.1f} |")
    out.append("")
    with open(os.path.join(ROOT, "docs", "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(out))


def main():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for p in (SMTP_SOURCE, SMTP_SINK, os.path.join(ROOT, BUILD, "ringsink")):
        if not os.access(p, os.X_OK):
            sys.exit(f"bench: {p} is missing (run make deps && make)")
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    try:
        with tempfile.TemporaryDirectory(prefix="ringmta-bench.") as tmp:
            reps, rows = w0(tmp)
            conns = wconns(tmp)
    finally:
        Daemon.stop_all()
    write_md(reps, rows, started, conns)
    print("bench: wrote docs/BENCHMARKS.md")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
