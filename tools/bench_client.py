#!/usr/bin/python3
"""Benchmark of the outbound SMTP client engine (src/smtp_client*.c).

Owns: building tests/integration/smtpcdrv.c with -O2 into a private scratch
directory, the test certificates (tests/unit/tls_fixture.sh), one optimised
ringsink (BUILD/ringsink) on 127.0.0.1 with a kernel-chosen port, and the
runs below; returns their results as markdown.  Must not: touch anything
outside its scratch directory, listen anywhere but 127.0.0.1, or stop any
process but the ones it started (by pid).

tools/bench.py calls run(build_dir, quick) and puts the text it returns in
docs/BENCHMARKS.md; `tools/bench_client.py [--quick] [BUILD]` prints it.

Workloads (every message counted again in the sink's summary):
  C1 messages/s over one reused, pipelined connection, 4 KiB and 100 KiB,
     plaintext and STARTTLS (TLSv1.3, verify=ca), with the round trips per
     message measured on the connection (TCP_INFO data segments received
     by the client = the sink's reply flushes; target 1).
  C2 messages/s over 100 parallel connections, same sizes and modes.
  C3 sessions/s: connect, EHLO, [STARTTLS + handshake + EHLO], QUIT, 50 at
     a time: plaintext, full TLS handshakes, and with the resumption cache.
  C4 memory per idle connection: the driver's RSS (and heap) growth while
     it holds N idle sessions (10,000 plaintext, 1,000 TLS), over N.
Driver and sink CPU (user+sys) are reported per message or session.
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")
DRV_SRC = "tests/integration/smtpcdrv.c"


def make_var(expr, bd="build"):
    """What make expands expr (e.g. "$(LIBS)") to with BUILD=bd: the
    Makefile's own compiler flags and libraries, so none are copied here
    (tests/integration/lib.sh's t_build_prog asks make the same way)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "BUILD=" + bd,
         "--eval=bench-var: ; @echo " + expr, "bench-var"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout.split()


def _ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def build_driver(out, bd):
    """gcc the driver with the Makefile's release flags (WARN, CPPFLAGS,
    OPT_REL) against bd/libcore.a, so a split source file never breaks it,
    and its LIBS, into out; returns it."""
    exe = os.path.join(out, "smtpcdrv")
    cflags = make_var("$(WARN) $(CPPFLAGS) $(OPT_REL)", bd)
    libs = make_var("$(LIBS)", bd)
    subprocess.run(["gcc"] + cflags + ["-o", exe, DRV_SRC,
                    os.path.join(bd, "libcore.a")] + libs, cwd=ROOT,
                   check=True)
    return exe


class Sink:
    """The optimised ringsink on 127.0.0.1:0, stopped by pid."""

    def __init__(self, exe, tmp, certs):
        self.dir = os.path.join(tmp, "sink")
        os.makedirs(self.dir, exist_ok=True)
        self.summary = os.path.join(self.dir, "summary.json")
        ports = os.path.join(self.dir, "ports")
        self.p = subprocess.Popen(
            [exe, "--listen", "127.0.0.1:0", "--port-file", ports,
             "--summary", self.summary, "--quiet",
             "--max-connections", "30000", "--idle-timeout", "10m",
             "--tls-cert", os.path.join(certs, "mx-chain.crt"),
             "--tls-key", os.path.join(certs, "mx.key")],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "stderr"), "w"))
        end = time.time() + 15
        while not os.path.exists(ports):
            if self.p.poll() is not None or time.time() > end:
                self.stop()
                raise RuntimeError("ringsink did not start: " + open(
                    os.path.join(self.dir, "stderr")).read()[-300:])
            time.sleep(0.05)
        self.addr = open(ports).readline().strip()

    def stats(self):
        """The summary after SIGUSR1 (ringsink keeps running)."""
        before = os.stat(self.summary).st_mtime_ns \
            if os.path.exists(self.summary) else 0
        self.p.send_signal(signal.SIGUSR1)
        end = time.time() + 10
        while time.time() < end:
            if os.path.exists(self.summary) and \
                    os.stat(self.summary).st_mtime_ns != before:
                try:
                    return json.load(open(self.summary))
                except ValueError:
                    pass
            time.sleep(0.02)
        raise RuntimeError("ringsink wrote no summary")

    def cpu(self):
        return _ticks(self.p.pid)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Bench:
    def __init__(self, build_dir, quick, tmp):
        self.quick = quick
        self.tmp = tmp
        bd = build_dir if os.path.isabs(build_dir) else \
            os.path.join(ROOT, build_dir)
        self.sink_exe = os.path.join(bd, "ringsink")
        if not os.access(self.sink_exe, os.X_OK):
            raise RuntimeError(f"{self.sink_exe} not built")
        self.drv = build_driver(tmp, bd)
        self.certs = os.path.join(tmp, "certs")
        subprocess.run(["sh", os.path.join(ROOT, "tests/unit/tls_fixture.sh"),
                        self.certs], check=True, stdout=subprocess.DEVNULL)
        self.man = {}
        for name, size in (("4k", 4096), ("100k", 100 * 1024)):
            body = os.path.join(tmp, name + ".eml")
            line = b"0123456789 The quick brown fox jumps over the lazy dog\r\n"
            hdr = b"Subject: bench %s\r\n\r\n" % name.encode()
            data = hdr + line * ((size - len(hdr)) // len(line) + 1)
            open(body, "wb").write(data[:size - 2] + b"\r\n")
            self.man[name] = os.path.join(tmp, name + ".man")
            open(self.man[name], "w").write(
                f"{body} bench@client.test rcpt@sink.test\n")
        self.sink = Sink(self.sink_exe, tmp, self.certs)

    def tls_args(self, tls, resume=False):
        if not tls:
            return ["--tls", "none"]
        a = ["--tls", "required", "--tls-verify", "ca", "--tls-ca",
             os.path.join(self.certs, "ca.crt"), "--mx-host",
             "mx.test.example"]
        return a + (["--tls-resume"] if resume else [])

    def driver(self, args, timeout=600):
        """Run the driver; returns (its JSON lines by type, cpu seconds,
        sink cpu seconds, sink summary delta of messages/connections)."""
        k0 = self.sink.stats()
        s0 = self.sink.cpu()
        p = subprocess.Popen([self.drv, "--dst", self.sink.addr,
                              "--no-results", "--deadline", str(timeout)] +
                             args, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        out, err = p.communicate(timeout=timeout + 30)
        if p.returncode != 0:
            raise RuntimeError(f"smtpcdrv {' '.join(args)}: exit "
                               f"{p.returncode}: {err.decode()[-500:]}")
        k1 = self.sink.stats()
        lines = {}
        for line in out.decode().splitlines():
            o = json.loads(line)
            lines[o["type"]] = o
        d = {k: k1[k] - k0[k] for k in ("messages", "connections",
                                          "tls_sessions")}
        return lines, (self.sink.cpu() - s0) / TICK, d, err.decode()

    def timed(self, args):
        """Like driver(), with the driver's own CPU from rusage."""
        r0 = os.times()
        lines, scpu, d, err = self.driver(args)
        r1 = os.times()
        dcpu = (r1.children_user - r0.children_user) + \
            (r1.children_system - r0.children_system)
        return lines, dcpu, scpu, d

    def rate(self, size, conns, tls, n):
        """msg/s of n messages (fewer when the engine is slow: a first
        run of min(n, 200) sets n to about TARGET_S seconds of work)."""
        target = 1.0 if self.quick else 4.0
        first = self._rate(size, conns, tls, min(n, 200))
        n = max(100, min(n, int(first["rate"] * target)))
        return self._rate(size, conns, tls, n)

    def _rate(self, size, conns, tls, n):
        args = ["--manifest", self.man[size], "--repeat", str(n),
                "--connections", str(conns)] + self.tls_args(tls)
        if conns == 1:
            args.append("--rtt")
        lines, dcpu, scpu, d = self.timed(args)
        s = lines["summary"]
        if s["msgs_delivered"] != n or d["messages"] != n:
            raise RuntimeError(f"rate {size} {conns} tls={tls}: delivered "
                               f"{s['msgs_delivered']}, sink counted "
                               f"{d['messages']} of {n}")
        return {"rate": s["msgs_per_sec"], "secs": s["seconds"], "n": n,
                "rtt": s.get("round_trips_per_msg"),
                "segs": s.get("client_segs_per_msg"),
                "enters": s.get("enters_per_msg"),
                "dcpu_us": dcpu / n * 1e6, "scpu_us": scpu / n * 1e6,
                "conns": d["connections"]}

    def sessions(self, n, conns, tls, resume):
        args = ["--sessions", str(n), "--connections", str(conns)] + \
            self.tls_args(tls, resume)
        lines, dcpu, scpu, d = self.timed(args)
        s = lines["summary"]
        if s["closes"].get("none", 0) != n or d["connections"] != n or \
                (tls and s["tls"]["on"] != n):
            raise RuntimeError(f"sessions tls={tls} resume={resume}: {s}")
        return {"rate": s["conns_per_sec"], "secs": s["seconds"],
                "resumed": s["tls"]["resumed"], "n": n,
                "dcpu_us": dcpu / n * 1e6, "scpu_us": scpu / n * 1e6}

    def hold(self, n, tls):
        args = ["--sessions", str(n), "--connections", str(n), "--hold",
                "--ramp", "200"] + self.tls_args(tls)
        lines, _, _, _ = self.timed(args)
        h = lines.get("hold")
        if h is None or h["idle"] != n:
            raise RuntimeError(f"hold {n} tls={tls}: {lines}")
        return h


def _med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def _fmt(v, nd=0):
    if v is None:
        return "n/a"
    return f"{v:,.{nd}f}"


def run(build_dir="build", quick=False):
    """Runs C1-C4 against BUILD/ringsink and returns markdown text."""
    tmp = tempfile.mkdtemp(prefix="bench-client.")
    b = None
    try:
        b = Bench(build_dir, quick, tmp)
        return _run(b, quick)
    finally:
        if b is not None:
            b.sink.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _run(b, quick):
    reps = 1 if quick else 3
    scale = 10 if quick else 1
    plan = [  # (size, connections, messages per run)
        ("4k", 1, 20000), ("100k", 1, 4000),
        ("4k", 100, 50000), ("100k", 100, 10000)]
    rows = []
    for size, conns, n in plan:
        for tls in (False, True):
            runs = [b.rate(size, conns, tls, n // scale) for _ in range(reps)]
            rows.append((size, conns, tls, _med(runs, "n"), runs))
    hs = []
    nsess = 3000 // scale
    for name, tls, resume in (("plaintext (no STARTTLS)", False, False),
                              ("STARTTLS, full handshake", True, False),
                              ("STARTTLS, resumption cache", True, True)):
        runs = [b.sessions(nsess, 50, tls, resume) for _ in range(reps)]
        hs.append((name, runs))
    mem = [("plaintext", 10000 // scale, b.hold(10000 // scale, False)),
           ("STARTTLS (TLSv1.3)", 1000 // scale, b.hold(1000 // scale, True))]
    return _markdown(rows, hs, mem, reps, quick)


def _markdown(rows, hs, mem, reps, quick):
    out = ["## Outbound client (smtpc) into ringsink",
           "",
           "tools/bench_client.py: tests/integration/smtpcdrv.c (the engine "
           "through its public API, -O2, one thread, one ring) delivering "
           "to the optimised ringsink on 127.0.0.1 (one thread).  One "
           "recipient per message; STARTTLS is TLSv1.3 with verify=ca "
           "against the test CA (RSA-2048 leaf).  Every message is counted "
           "again in the sink's summary.  Medians of "
           f"{reps} run(s){' (quick: 1/10 of the work)' if quick else ''}; "
           "messages per run are cut to about 4 s (quick: 1 s) of work at "
           "the rate a first run of 200 messages showed.",
           "",
           "### Messages per second",
           "",
           "| message | connections | TLS | messages/run | msg/s | "
           "round trips/msg | client CPU µs/msg | sink CPU µs/msg |",
           "|---|---|---|---|---|---|---|---|"]
    for size, conns, tls, n, runs in rows:
        out.append(
            f"| {size.replace('k', ' KiB')} | {conns} | "
            f"{'STARTTLS' if tls else 'plain'} | {n:,.0f} | "
            f"{_fmt(_med(runs, 'rate'))} | "
            f"{_fmt(_med(runs, 'rtt'), 2) if conns == 1 else '-'} | "
            f"{_fmt(_med(runs, 'dcpu_us'), 1)} | "
            f"{_fmt(_med(runs, 'scpu_us'), 1)} |")
    rt = [r for r in rows if r[1] == 1]
    out += ["",
            "Round trips per message are measured on the reused connection "
            "(one connection, PIPELINING): the TCP data segments the client "
            "received between the first and the last message's end, per "
            "message, i.e. the sink's reply flushes.  1.00 means the '.' of "
            "message k and MAIL/RCPT/DATA of message k+1 left in one send "
            "and were answered in one flush.  The client's data segments "
            "sent per message were " +
            ", ".join(f"{_fmt(_med(r[4], 'segs'), 2)} ({r[0]}"
                      f"{' TLS' if r[2] else ''})" for r in rt) +
            "; io_uring_enter calls per message " +
            ", ".join(f"{_fmt(_med(r[4], 'enters'), 2)}" for r in rt) + ".",
            "",
            "### Sessions per second (50 at a time)",
            "",
            "| session | sessions/run | sessions/s | resumed | "
            "client CPU µs/session | sink CPU µs/session |",
            "|---|---|---|---|---|---|"]
    for name, runs in hs:
        out.append(
            f"| {name} | {runs[0]['n']:,} | {_fmt(_med(runs, 'rate'))} | "
            f"{_fmt(_med(runs, 'resumed'))} | "
            f"{_fmt(_med(runs, 'dcpu_us'), 1)} | "
            f"{_fmt(_med(runs, 'scpu_us'), 1)} |")
    out += ["",
            "Each session: connect, banner, EHLO, [STARTTLS, handshake, "
            "EHLO], QUIT (and close_notify).  With the cache, the sessions "
            "of the first wave (started before any handshake finished) "
            "cannot resume.",
            "",
            "### Memory per idle connection",
            "",
            "| connections | held | driver RSS growth / conn | "
            "heap growth / conn | sizeof(struct smtpc) |",
            "|---|---|---|---|---|"]
    for name, n, h in mem:
        out.append(f"| {name} | {n:,} | "
                   f"{_fmt(h['rss_bytes_per_conn'] / 1024, 1)} KiB | "
                   f"{_fmt(h['heap_bytes_per_conn'] / 1024, 1)} KiB | "
                   f"{h['session_size']:,} B |")
    out += ["",
            "The driver's VmRSS and malloc heap (mallinfo2) once every "
            "session is idle (EHLO answered, no message), minus the same "
            "before the first connect, over the number of sessions; the "
            "driver's own bookkeeping is about 50 bytes per session.  "
            "Kernel socket buffers are not included.",
            ""]
    return "\n".join(out)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--quick"]
    print(run(args[0] if args else os.environ.get("BUILD", "build"),
              "--quick" in sys.argv[1:] or
              os.environ.get("BENCH_QUICK", "0") == "1"))
