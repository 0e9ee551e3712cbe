#!/usr/bin/python3
"""Shared pieces of the ringmta benchmarks (tools/bench.py and its workload
modules bench_w0wi, bench_w1w2, bench_w345, bench_wg).

Owns: the run's settings (BUILD, BENCH_QUICK), free loopback ports, daemons
stopped by pid (Daemon), /proc CPU and memory readings, the fsync counter
(perf), ringsink with a SIGUSR1 summary watch (SinkWatch), a private dnsmasq
serving a wildcard test zone (Dnsmasq), an SMTP injector for many recipient
domains (inject), the test certificates, and splicing a section into
docs/BENCHMARKS.md.  Must not: listen anywhere but 127.0.0.x, stop any
process it did not start, or touch anything outside the scratch directory
it is given (docs/BENCHMARKS.md excepted).
"""
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
QUICK = os.environ.get("BENCH_QUICK", "0") == "1"
SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
TICK = os.sysconf("SC_CLK_TCK")
PERF = "/usr/bin/perf"
DNSMASQ = "/usr/sbin/dnsmasq"
BENCHMARKS_MD = os.path.join(ROOT, "docs", "BENCHMARKS.md")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_postfix  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, secs=10, addr="127.0.0.1"):
    end = time.time() + secs
    while time.time() < end:
        try:
            socket.create_connection((addr, port), 0.5).close()
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

    def __init__(self, argv, stderr=None, **kw):
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                  stderr=stderr or subprocess.DEVNULL, **kw)
        Daemon.live.append(self)

    def stop(self, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if self in Daemon.live:
            Daemon.live.remove(self)

    @classmethod
    def stop_all(cls):
        for d in list(cls.live):
            d.stop()



def machine_facts():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}, "
            f"{platform.freedesktop_os_release().get('PRETTY_NAME', '?')}")


# ---------------------------------------------------------------------------
# fsync and fdatasync counts (WI, W1, W2, W3)

class FsyncCounter:
    """Counts the fsync and fdatasync calls of some processes (and of the
    children they fork meanwhile) with `perf stat`: the syscall
    tracepoints, plus io_uring:io_uring_submit_req filtered on opcode 3
    (IORING_OP_FSYNC, which carries both fsync and fdatasync), since
    strace cannot see requests submitted through a ring.  perf runs in a
    private mount namespace where tracefs is mounted (unless it already
    is, e.g. by an earlier perf trace), so the machine's mounts are
    untouched.  Counting starts when enable() returns (perf's
    control fifo acknowledges it) and ends at stop().  Cost: one filtered
    tracepoint hit per submitted ring request, far below the run's noise.
    """

    EVENTS = (("io_uring:io_uring_submit_req", "opcode == 3", "ring"),
              ("syscalls:sys_enter_fsync", None, "fsync"),
              ("syscalls:sys_enter_fdatasync", None, "fdatasync"))

    def __init__(self, pids, tmp):
        self.dir = tempfile.mkdtemp(prefix="perf.", dir=tmp)
        ctl, ack = (os.path.join(self.dir, n) for n in ("ctl", "ack"))
        os.mkfifo(ctl)
        os.mkfifo(ack)
        self.out = os.path.join(self.dir, "perf.csv")
        ev = []
        for name, filt, _ in self.EVENTS:
            ev += ["-e", name] + (["--filter", f"'{filt}'"] if filt else [])
        perf = (f"exec {PERF} stat -x, -o {self.out} -D -1 --control "
                f"fifo:{ctl},{ack} {' '.join(ev)} -p "
                + ",".join(str(p) for p in pids))
        self.ctl = os.open(ctl, os.O_RDWR)
        self.ack = os.open(ack, os.O_RDWR)
        self.p = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             "{ [ -d /sys/kernel/tracing/events ] || "
             "mount -t tracefs nodev /sys/kernel/tracing; } && " + perf],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def enable(self, secs=10):
        import select
        os.write(self.ctl, b"enable\n")
        if not select.select([self.ack], [], [], secs)[0]:
            err = self.p.stderr.read() if self.p.poll() is not None else ""
            self.close()
            raise RuntimeError(f"perf did not start counting: {err!r}")
        os.read(self.ack, 64)

    def stop(self):
        """Returns {"ring": n, "fsync": n, "fdatasync": n}."""
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.close()
        got = {}
        with open(self.out) as f:
            lines = [line.split(",") for line in f]
        for name, _, tag in self.EVENTS:
            for fl in lines:
                if len(fl) > 2 and fl[2] == name and tag not in got:
                    if fl[0] == "<not counted>":  # never ran meanwhile
                        got[tag] = 0
                        continue
                    try:
                        got[tag] = int(fl[0])
                    except ValueError:
                        raise RuntimeError(f"perf: {name}: {fl[0]}")
        if len(got) != len(self.EVENTS):
            raise RuntimeError(f"perf: incomplete output {lines!r}")
        return got

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        for fd in (self.ctl, self.ack):
            try:
                os.close(fd)
            except OSError:
                pass


def perf_usable(tmp):
    """None if FsyncCounter works here (checked on a process that makes
    one fsync and one fdatasync), else the reason it does not."""
    if not os.access(PERF, os.X_OK):
        return f"{PERF} is missing (Debian package linux-perf)"
    path = os.path.join(tmp, "perf.probe")
    probe = subprocess.Popen(
        ["/usr/bin/python3", "-c",
         "import os,sys\nsys.stdin.readline()\n"
         f"fd=os.open({path!r},os.O_WRONLY|os.O_CREAT,0o600)\n"
         "os.write(fd,b'x')\nos.fsync(fd)\nos.fdatasync(fd)\n"
         "sys.stdin.readline()\n"],
        stdin=subprocess.PIPE)
    try:
        c = FsyncCounter([probe.pid], tmp)
        c.enable()
        probe.stdin.write(b"go\n")
        probe.stdin.flush()
        time.sleep(0.5)
        got = c.stop()
        if got != {"ring": 0, "fsync": 1, "fdatasync": 1}:
            return f"perf probe counted {got}, expected 1 fsync, 1 fdatasync"
        return None
    except (OSError, RuntimeError) as e:
        return str(e)
    finally:
        probe.kill()
        probe.wait()


def syncs_start(pids, d, counter_ok):
    """An FsyncCounter on pids counting from now, or None."""
    if not counter_ok:
        return None
    c = FsyncCounter(pids, d)
    try:
        c.enable()
    except RuntimeError:
        c.close()
        raise
    return c


def cleanup(counter, *procs):
    """For a finally block: close an FsyncCounter still running (None:
    nothing), then stop each of procs (anything with stop(): Daemon,
    SinkWatch, Dnsmasq, PrivatePostfix) that is not None, in order."""
    if counter is not None:
        counter.close()
    for p in procs:
        if p is not None:
            p.stop()


def syncs_stop(counter, msgs):
    """fsyncs + fdatasyncs per message since syncs_start, or None."""
    return None if counter is None else sum(counter.stop().values()) / msgs



def machine_ticks():
    """(busy, iowait, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle, iowait = v[3], v[4]
    total = sum(v[:8])
    return total - idle - iowait, iowait, total



def wait_log(path, text, proc, secs=15):
    end = time.time() + secs
    while time.time() < end and proc.poll() is None:
        with open(path) as f:
            if text in f.read():
                return True
        time.sleep(0.05)
    return False


def tree_pids(root):
    """root and every descendant (from /proc parent links)."""
    return bench_postfix.descendants(root)


def tree_ticks(root):
    return sum(bench_postfix._ticks(p) for p in tree_pids(root))


def tree_hwm_kb(pids):
    tot = 0
    for p in pids:
        try:
            tot += peak_rss_kb(p)
        except OSError:
            pass
    return tot


class SinkWatch:
    """ringsink with --summary; wait() polls SIGUSR1 summaries until it
    has counted n messages and returns the monotonic time it saw them.
    extra: more ringsink flags (TLS, fault rules); with log=True its
    stderr goes to self.log at --log-level info (ringsink then logs one
    line per TLS handshake and nothing per message), else --quiet.  Every
    accepted message's 250 time and Message-ID go to self.lat
    (--latency-log, flushed with each summary; see bench_lat)."""

    def __init__(self, tmp, extra=(), log=False, addr="127.0.0.1"):
        self.port = free_port()
        self.file = os.path.join(tmp, f"sink.{self.port}.json")
        self.log = os.path.join(tmp, f"sink.{self.port}.log")
        self.lat = os.path.join(tmp, f"sink.{self.port}.lat")
        with open(self.log, "w") as logf:
            self.d = Daemon([os.path.join(ROOT, BUILD, "ringsink"),
                             "--listen", f"{addr}:{self.port}",
                             "--log-level" if log else "--quiet"]
                            + (["info"] if log else [])
                            + ["--summary", self.file,
                               "--latency-log", self.lat] + list(extra),
                            stderr=logf)
        if not wait_port(self.port, addr=addr):
            self.d.stop()
            raise RuntimeError("ringsink did not start: "
                               + open(self.log).read()[-300:])

    def summary(self):
        try:
            with open(self.file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def count(self):
        return self.summary().get("messages", -1)

    def poll(self, secs=5):
        """A fresh summary (SIGUSR1, then wait for the file to change)."""
        try:
            before = os.stat(self.file).st_mtime_ns
        except OSError:
            before = 0
        self.d.p.send_signal(signal.SIGUSR1)
        end = time.monotonic() + secs
        while time.monotonic() < end:
            try:
                if os.stat(self.file).st_mtime_ns != before:
                    s = self.summary()
                    if s:
                        return s
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError("ringsink wrote no summary")

    def wait(self, n, secs, alive=None):
        end = time.monotonic() + secs
        last = -1
        while time.monotonic() < end:
            self.d.p.send_signal(signal.SIGUSR1)
            time.sleep(0.01)
            last = self.count()
            if last >= n:
                return time.monotonic()
            if alive is not None and not alive():
                break
        raise RuntimeError(f"sink counted {last} of {n} messages")

    def stop(self):
        self.d.stop()


def dlog_latency(path):
    """(delivered count, p50 ms, p99 ms) from received -> delivered."""
    from datetime import datetime
    rec, lat, n = {}, [], 0

    def ms(ts):
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() \
            * 1000
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e["event"] == "received":
                rec[e["id"]] = ms(e["ts"])
            elif e["event"] == "delivered":
                n += 1
                if e["id"] in rec:
                    lat.append(ms(e["ts"]) - rec[e["id"]])
    if not lat:
        return n, None, None
    lat.sort()
    return n, lat[len(lat) // 2], lat[min(len(lat) - 1,
                                          int(len(lat) * 0.99))]


def start_ringmta(conf, log):
    logf = open(log, "a")
    port = int(re.search(r"address = 127.0.0.1:(\d+)",
                         open(conf).read()).group(1))
    dm = Daemon([os.path.join(ROOT, BUILD, "ringmta"), "-c", conf],
                stderr=logf)
    logf.close()
    return dm, port


def start_ringmta_gated(conf, log):
    """ringmta behind a gate: a shell (the Daemon's pid) that waits for a
    line on its stdin and then execs ringmta in place, so a counter can
    be attached to that pid before ringmta exists.  Returns (Daemon, go):
    go() opens the gate."""
    logf = open(log, "a")
    dm = Daemon(["/bin/sh", "-c", 'read _ && exec "$0" -c "$1"',
                 os.path.join(ROOT, BUILD, "ringmta"), conf],
                stderr=logf, stdin=subprocess.PIPE)
    logf.close()

    def go():
        dm.p.stdin.write(b"go\n")
        dm.p.stdin.flush()
    return dm, go


def source_into(port, size, msgs, to="b@dest.test", sessions=20, env=None):
    """smtp-source -d into 127.0.0.1:port; env: its environment (the
    latency stamp library, bench_lat.stamp_env), else the inherited one."""
    r = subprocess.run([SMTP_SOURCE, "-d", "-s", str(sessions), "-m",
                        str(msgs), "-l", str(size), "-f", "a@bench.test",
                        "-t", to, f"127.0.0.1:{port}"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=1800, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"smtp-source failed: {r.stderr[-300:]!r}")


def measure(kind, pids_fn, cpu_fn, sink, msgs, t0, body, counter_ok, d,
            alive):
    """Runs body() (the load), waits for the sink to count msgs, returns
    the common figures.  t0 is taken by the caller or here if None."""
    counter = None
    try:
        if counter_ok:
            counter = FsyncCounter(pids_fn(), d)
            counter.enable()
        c0 = cpu_fn()
        if t0 is None:
            t0 = time.monotonic()
        body()
        t1 = sink.wait(msgs, 1800, alive)
        c1 = cpu_fn()
        syncs = counter.stop() if counter else None
        counter = None
    finally:
        if counter:
            counter.close()
    secs = t1 - t0
    res = {"rate": msgs / secs, "secs": secs,
           "cpu_ms_per_1k": (c1 - c0) * 1000.0 / TICK / msgs * 1000,
           "sink_cpu_ms_per_1k": 0.0}
    if syncs is not None:
        res["syncs_per_msg"] = sum(syncs.values()) / msgs
    return res


def median_rows(runs):
    out = {}
    for k in runs[0]:
        vals = [r[k] for r in runs if r.get(k) is not None]
        out[k] = statistics.median(vals) if vals else None
    return out


def _head_key(head):
    """The stable part of a "## " heading: up to its first colon."""
    return head.split(":", 1)[0] + ":" if ":" in head else head


def _find_head(text, key):
    """Offset of the line starting with key, or -1."""
    if text.startswith(key):
        return 0
    i = text.find("\n" + key)
    return i + 1 if i >= 0 else -1


def splice_block(md, note):
    """Put md (one or more "## " sections) into docs/BENCHMARKS.md: the
    span from its first section's heading to the end of the last section
    it names (each up to the next "## " heading of a section md does not
    name) is replaced, or md is appended at the end when its first
    heading is not there.  note goes under the first heading.  Other
    sections stay as they were."""
    with open(BENCHMARKS_MD) as f:
        text = f.read()
    lines = md.strip("\n").splitlines()
    keys = [_head_key(l) for l in lines if l.startswith("## ")]
    rest = lines[1:]
    while rest and not rest[0].strip():
        rest.pop(0)
    body = "\n".join([lines[0], "", note, ""] + rest).rstrip("\n")
    start = _find_head(text, keys[0])
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    else:
        end = start
        for k in keys:
            at = _find_head(text[end:], k)
            if at >= 0:
                end += at
                nxt = text.find("\n## ", end + 1)
                end = nxt + 1 if nxt >= 0 else len(text)
        rest = text[end:]
        text = text[:start] + body + "\n" + ("\n" + rest if rest else "")
    with open(BENCHMARKS_MD, "w") as f:
        f.write(text)


def fdatasync_latency_ms(tmp, n=100, size=4096):
    """Median time of a size-byte write + fdatasync on tmp's file system
    (each write appended after the last, as the spool does)."""
    path = os.path.join(tmp, "latency.probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    buf = b"x" * size
    times = []
    try:
        for i in range(n):
            t0 = time.perf_counter()
            os.pwrite(fd, buf, i * size)
            os.fdatasync(fd)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(times)


def splice_section(md, started, cmd):
    """Replace (or append) md's sections in docs/BENCHMARKS.md, noting
    which command (`tools/bench.py CMD`) made them and when."""
    quick = "BENCH_QUICK=1 " if QUICK else ""
    splice_block(md, f"(Produced by `{quick}tools/bench.py {cmd}` on "
                 f"{started} UTC.)")


def proc_kb(pid, name="status", key="VmRSS:"):
    """The KiB figure of the line starting with key in /proc/PID/name
    (VmRSS by default; "smaps_rollup", "Pss:" for PSS); 0 if gone."""
    try:
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def vm_rss_kb(pid):
    """VmRSS of pid in KiB (0 if it is gone)."""
    return proc_kb(pid)


def ringmta_ini(d, port, delivery, domain_default, dns_port=None):
    """Writes d/ringmta.ini for a benchmark: state and delivery log under
    d, the listener on 127.0.0.1:port for 127.0.0.0/8, deliveries only to
    127.0.0.0/8, DNS at 127.0.0.1:dns_port (default: a closed port, so no
    query can leave the machine), plus the given [delivery] and
    [domain default] keys (dicts).  Returns the file's path."""
    conf = os.path.join(d, "ringmta.ini")
    lines = ["[server]", f"state_dir = {d}/state", "hostname = bench.test",
             f"delivery_log = {d}/d.jsonl", "[listener]",
             f"address = 127.0.0.1:{port}", "relay_networks = 127.0.0.0/8",
             "[delivery]", "allowed_networks = 127.0.0.0/8"]
    lines += [f"{k} = {v}" for k, v in delivery.items()]
    lines += ["[dns]", f"servers = 127.0.0.1:{dns_port or free_port()}",
              "[domain default]"]
    lines += [f"{k} = {v}" for k, v in domain_default.items()]
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    return conf


def log_problems(path):
    """The warning and error lines of a ringmta operator log."""
    with open(path) as f:
        return [line for line in f if ": warn: " in line
                or ": error: " in line or ": err: " in line]


def make_certs(tmp):
    """The test CA and mx.test.example's certificate (tests/unit/
    tls_fixture.sh) under tmp/certs; returns (chain, key, ca) paths."""
    d = os.path.join(tmp, "certs")
    if not os.path.exists(os.path.join(d, "mx.key")):
        subprocess.run(["sh", os.path.join(ROOT, "tests/unit/tls_fixture.sh"),
                        d], check=True, stdout=subprocess.DEVNULL)
    return (os.path.join(d, "mx-chain.crt"), os.path.join(d, "mx.key"),
            os.path.join(d, "ca.crt"))


class Dnsmasq:
    """A private dnsmasq on 127.0.0.1 (kernel-chosen port) answering every
    name under each zone with an A record (addr) and NODATA for other
    types, so an MX query gets NODATA and the implicit MX (the name's own
    A record) applies.  Nothing is forwarded.  queries() reads its
    counters through SIGUSR1 ("queries answered locally")."""

    def __init__(self, tmp, zones, addr="127.0.0.1"):
        self.log = os.path.join(tmp, f"dnsmasq.{os.getpid()}.log")
        args = []
        for z in zones:
            args += [f"--local=/{z}/", f"--address=/{z}/{addr}"]
        for _ in range(5):
            self.port = _free_udp_tcp_port()
            self.d = Daemon([DNSMASQ, "-k", "--pid-file=",
                             "--conf-file=/dev/null", "--no-resolv",
                             "--no-hosts",
                             "--listen-address=127.0.0.1", "--bind-interfaces",
                             "-p", str(self.port), "--cache-size=0",
                             f"--log-facility={self.log}"] + args)
            if self._ready(f"probe.{zones[0]}"):
                return
            self.d.stop()
        raise RuntimeError("dnsmasq did not start: "
                           + (open(self.log).read()[-300:]
                              if os.path.exists(self.log) else ""))

    def _ready(self, name, secs=10):
        q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
        for label in name.split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\x00\x00\x01\x00\x01"
        end = time.monotonic() + secs
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            while time.monotonic() < end and self.d.p.poll() is None:
                try:
                    s.sendto(q, ("127.0.0.1", self.port))
                    data = s.recv(512)
                    if data[:2] == b"\x12\x34" and data[3] & 0xF == 0:
                        return True
                except OSError:
                    time.sleep(0.05)
        finally:
            s.close()
        return False

    def queries(self, secs=5):
        """Queries answered so far (SIGUSR1 makes dnsmasq log them)."""
        with open(self.log) as f:
            seen = f.read().count("queries answered locally")
        self.d.p.send_signal(signal.SIGUSR1)
        end = time.monotonic() + secs
        while time.monotonic() < end:
            with open(self.log) as f:
                text = f.read()
            got = re.findall(r"queries answered locally (\d+)", text)
            if len(got) > seen:
                return int(got[-1])
            time.sleep(0.02)
        raise RuntimeError("dnsmasq logged no statistics")

    def cpu_ticks(self):
        return cpu_ticks(self.d.p.pid)

    def stop(self):
        self.d.stop()


def _free_udp_tcp_port():
    """A port free for both UDP and TCP on 127.0.0.1 a moment ago."""
    for _ in range(50):
        t = socket.socket()
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


def _smtp_reply(f):
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("connection closed")
        if len(line) < 4 or line[3:4] == b" ":
            return line


def inject(port, msgs, rcpts_of, size=4096, conns=20):
    """Sends msgs messages of about size bytes to 127.0.0.1:port over
    conns pipelining connections; message i goes to the recipients
    rcpts_of(i) returns.  Raises RuntimeError unless every message got
    250 at its end of data.  Returns the seconds it took."""
    body = b"Subject: bench\r\n\r\n" + (b"x" * 76 + b"\r\n") * (size // 78)
    nxt = [0]
    errs = []
    lock = threading.Lock()

    def worker():
        try:
            s = socket.create_connection(("127.0.0.1", port), 30)
            f = s.makefile("rb")
            if not _smtp_reply(f).startswith(b"220"):
                raise ConnectionError("no greeting")
            s.sendall(b"EHLO bench.test\r\n")
            _smtp_reply(f)
            while True:
                with lock:
                    i = nxt[0]
                    if i >= msgs or errs:
                        break
                    nxt[0] += 1
                rc = rcpts_of(i)
                s.sendall(b"MAIL FROM:<a@bench.test>\r\n" + b"".join(
                    b"RCPT TO:<%s>\r\n" % r.encode() for r in rc)
                    + b"DATA\r\n")
                rep = [_smtp_reply(f) for _ in range(len(rc) + 2)]
                if not rep[-1].startswith(b"354"):
                    raise ConnectionError(f"message {i}: {rep!r}")
                s.sendall(body + b".\r\n")
                r = _smtp_reply(f)
                if not r.startswith(b"250"):
                    raise ConnectionError(f"message {i}: {r!r}")
            s.sendall(b"QUIT\r\n")
            s.close()
        except (OSError, ConnectionError) as e:
            with lock:
                errs.append(str(e))

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise RuntimeError(f"injector: {errs[0]}")
    return time.monotonic() - t0
