#!/usr/bin/python3
"""Benchmark W5 (breadth) of tools/bench.py.

  W5 breadth: 10,000 and 100,000 recipient domains (10 per message), each
     resolved through dnsmasq (implicit MX: NODATA for MX, A 127.0.0.1)
     and delivered to ringsink once the queue is released (restart with
     `suspended = false`): deliveries/s, DNS queries/s, CPU, syncs and
     latency from the release, measured until drained or for W5_CAP
     seconds; a run still draining is profiled with perf.

Every daemon (ringmta, ringsink, dnsmasq) is stopped by pid, also on
failure; everything listens on 127.0.0.1 with kernel-chosen ports.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import bench_lat
from bench_lib import (PERF, QUICK, TICK, Dnsmasq, SinkWatch, cleanup,
                       cpu_ticks,
                       dlog_latency, free_port, inject, log_problems,
                       median_rows, peak_rss_kb, perf_usable, ringmta_ini,
                       start_ringmta, start_ringmta_gated, syncs_start,
                       syncs_stop, tree_pids, tree_ticks, wait_log)

W5_RCPTS = 10  # recipients (domains) per injected message
W5_RETRY = "1s"  # retry_interval: a lookup lost in the burst is retried soon
W5_CAP = 60 if QUICK else 180  # seconds of delivery measured at most
W5_PROFILE_AT = 30  # a run not drained by then is profiled ...
W5_PROFILE_S = 5  # ... for this long


# ---------------------------------------------------------------------------
# W5: many recipient domains, each resolved through dnsmasq

def _w5_conf(d, port, sink_port, dns_port, suspended):
    return ringmta_ini(
        d, port, {"port": sink_port,
                  "suspended": "true" if suspended else "false",
                  "retry_interval": W5_RETRY,
                  "max_retry_interval": W5_RETRY},
        {"tls": "none"}, dns_port)


def _w5_events(dlog, log):
    """(deferred recipients, DNS tempfail lines) of a W5 run."""
    deferred = 0
    with open(dlog) as f:
        for line in f:
            deferred += '"event":"deferred"' in line.replace(" ", "")
    with open(log) as f:
        tempfail = sum(1 for line in f if "DNS lookup of" in line
                       and "tempfail" in line)
    return deferred, tempfail


def udp_rcvbuf_errors():
    """The machine's UDP receive-buffer drops so far (/proc/net/snmp)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])


def udp_drops(port, pid):
    """(drops of the UDP socket bound to 127.0.0.1:port, drops of pid's
    UDP sockets) from /proc/net/udp."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    mine = theirs = 0
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            v = line.split()
            if v[1] == f"0100007F:{port:04X}":
                theirs += int(v[12])
            if v[9] in inodes:
                mine += int(v[12])
    return theirs, mine


def perf_top(pid, d, secs=W5_PROFILE_S, n=5):
    """perf record -g on pid for secs; returns [(percent, symbol, first
    caller)] of its n hottest symbols (self time), or [] without perf."""
    out = os.path.join(d, "perf.data")
    try:
        subprocess.run([PERF, "record", "-q", "-g", "-p", str(pid), "-o",
                        out, "--", "sleep", str(secs)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=secs + 60, check=True)
        r = subprocess.run([PERF, "report", "-i", out, "--no-children",
                            "--stdio"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True,
                           timeout=300, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in r.stdout.splitlines():
        m = re.match(r"^\s+([\d.]+)%\s+\S+\s+(\S+)\s+\[.\]\s+(\S+)", line)
        if m:
            if len(rows) >= n:
                break
            rows.append([float(m.group(1)), f"{m.group(3)} ({m.group(2)})",
                         None])
            continue
        m = re.match(r"^\s+--[\d.]+%--(\S+)", line)
        if m and rows and rows[-1][2] is None:
            rows[-1][2] = m.group(1)
    return [tuple(x) for x in rows]


def _w5_wait(sink, n, t0, cap, alive, pid, d):
    """Polls the sink until it counted n messages, cap seconds passed
    since t0, or ringmta died; returns (count, monotonic time, profile).
    A run still draining after W5_PROFILE_AT seconds is profiled once
    (perf_top) while it goes on."""
    got, prof = 0, None
    while alive():
        sink.d.p.send_signal(signal.SIGUSR1)
        time.sleep(0.05)
        got = max(got, sink.count())
        now = time.monotonic()
        if got >= n or now >= t0 + cap:
            return got, now, prof
        if prof is None and now >= t0 + W5_PROFILE_AT:
            prof = perf_top(pid, d)
    raise RuntimeError("ringmta exited during W5")


def run_w5(tmp, ndom, cap, counter_ok=False):
    """One W5 run over ndom domains, measured until every one was
    delivered or for cap seconds at most.  ringmta starts behind a gate
    (start_ringmta_gated) so that its syncs are counted from its exec."""
    d = tempfile.mkdtemp(prefix="w5.", dir=tmp)
    msgs = ndom // W5_RCPTS
    dns = Dnsmasq(d, ["w5.test"])
    sink = SinkWatch(d, ["--max-connections", "30000"])
    dm = counter = None
    try:
        port = free_port()
        conf = _w5_conf(d, port, sink.port, dns.port, True)
        log = os.path.join(d, "ringmta.log")
        dm, _ = start_ringmta(conf, log)
        if not wait_log(log, f"listening on 127.0.0.1:{port}", dm.p):
            raise RuntimeError(f"ringmta did not start: "
                               f"{open(log).read()[-500:]}")
        fill = inject(port, msgs, lambda i: [
            f"b@d{i * W5_RCPTS + k}.w5.test" for k in range(W5_RCPTS)])
        dm.stop()
        dm = None
        _w5_conf(d, port, sink.port, dns.port, False)
        q0 = dns.queries()
        u0 = udp_rcvbuf_errors()
        k0 = dns.cpu_ticks()
        s0 = cpu_ticks(sink.d.p.pid)
        dm, go = start_ringmta_gated(conf, log)
        counter = syncs_start([dm.p.pid], d, counter_ok)
        t0, t_rel = time.monotonic(), time.time()
        go()
        alive = (lambda: dm.p.poll() is None)
        got, t1, prof = _w5_wait(sink, ndom, t0, cap, alive, dm.p.pid, d)
        c = tree_ticks(dm.p.pid)
        syncs = syncs_stop(counter, max(got, 1))
        counter = None
        q1 = dns.queries()
        u1 = udp_rcvbuf_errors()
        drops = udp_drops(dns.port, dm.p.pid)
        k1 = dns.cpu_ticks()
        s1 = cpu_ticks(sink.d.p.pid)
        hwm = peak_rss_kb(dm.p.pid)
        grp = tree_pids(dm.p.pid)
    finally:
        cleanup(counter, dm, sink, dns)
    lat = bench_lat.since(sink.lat, t_rel)
    n, _, _ = dlog_latency(os.path.join(d, "d.jsonl"))
    deferred, tempfail = _w5_events(os.path.join(d, "d.jsonl"), log)
    bad = log_problems(log)
    shutil.rmtree(d, ignore_errors=True)
    if got >= ndom and n != ndom:
        raise RuntimeError(f"ringmta logged {n} deliveries of {ndom}")
    secs = t1 - t0
    per = 1000.0 / TICK / max(got, 1) * 1000  # ticks -> ms per 1k delivered
    res = {"domains": ndom, "msgs": msgs, "secs": secs, "cap": cap,
           "delivered": got, "drained": got >= ndom,
           "cpu_s": c / TICK, "cpu_share": c / TICK / secs,
           "rate": got / secs, "dns_queries": q1 - q0,
           "dns_qps": (q1 - q0) / secs, "fill_s": fill,
           "cpu_ms_per_1k": c * per, "dns_cpu_ms_per_1k": (k1 - k0) * per,
           "sink_cpu_ms_per_1k": (s1 - s0) * per,
           "rss_kb": hwm, "procs": len(grp), "log_problems": len(bad),
           "deferred": deferred, "dns_tempfail": tempfail,
           "udp_rcvbuf_errors": u1 - u0, "dnsmasq_drops": drops[0],
           "ringmta_udp_drops": drops[1], "profile": prof,
           "syncs_per_msg": syncs, "p50": lat["p50"], "p99": lat["p99"],
           "lat_n": lat["n"]}
    print(f"  W5: {res}", flush=True)
    if bad:
        print(f"  W5 log problems: {bad[:5]}", flush=True)
    return res


def w5(tmp):
    """A size that drains and the full breadth (each capped at W5_CAP
    seconds of delivery)."""
    plan = ((2000, 1), (10000, 1)) if QUICK else ((10000, 3), (100000, 1))
    counter_ok = perf_usable(tmp) is None
    rows = []
    for ndom, reps in plan:
        runs = [run_w5(tmp, ndom, W5_CAP, counter_ok) for _ in range(reps)]
        row = median_rows([{k: v for k, v in r.items() if k != "profile"}
                           for r in runs])
        row["profile"] = next((r["profile"] for r in runs if r["profile"]),
                              None)
        rows.append({"reps": reps, **row})
    return {"rows": rows}


def w5_md(r):
    rows = r["rows"]
    big = rows[-1]
    out = ["## W5: breadth (one delivery per recipient domain)", ""]
    out.append(
        "N distinct recipient domains (`b@dK.w5.test`), "
        f"{W5_RCPTS} per message (N / {W5_RCPTS} messages of 4 KiB, "
        "injected over SMTP with `[delivery] suspended = true`); ringmta "
        "is stopped, the file rewritten with `suspended = false`, and "
        "started again: the clock runs from exec (spool replay included) "
        "to ringsink's count of every delivery (one message per domain), "
        f"or for {big['cap']:.0f} s at most. Every domain is resolved "
        "through a private dnsmasq (`--address=/w5.test/127.0.0.1 "
        "--local=/w5.test/ --cache-size=0`: NODATA for MX, hence the "
        "implicit MX, and A 127.0.0.1); DNS queries are dnsmasq's own "
        "count (\"queries answered locally\", read with SIGUSR1 before "
        "and after). ringmta: `[delivery] port` = the sink's, "
        "`max_connections` and `max_outbound_connections` at their "
        "defaults (10000, 20), `[domain default] tls = none`, the "
        "resolver's defaults (`timeout = 2s`, `tries = 2`, cache 100,000 "
        f"answers), `retry_interval = max_retry_interval = {W5_RETRY}` "
        "(see below). Postfix is not run: its resolver reads "
        "/etc/resolv.conf, which cannot name a private port. Rates, CPU "
        "and syncs are per delivered domain; medians of the runs given. "
        "ringmta is started behind a gate (a shell that waits for a line, "
        "then execs it in place) so that perf counts its fsyncs and "
        "fdatasyncs (as in W1) from the exec. Latency: from the release "
        "(the wall-clock time just before the gate opens) to each "
        "delivery's 250 at the sink (ringsink's `--latency-log`).")
    out.append("")
    out.append("| domains | runs | delivered | drained | deliveries/s | "
               "DNS queries | DNS queries/s | queries per delivered domain "
               "| deferrals (DNS tempfail lines) | UDP drops (dnsmasq / "
               "ringmta / machine) | ringmta CPU (CPUs busy) | ringmta CPU "
               "ms/1k | dnsmasq CPU ms/1k | sink CPU ms/1k | ringmta peak "
               "RSS | syncs per delivery | latency from release p50 / p99 | "
               "wall time |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
               "---|---|---|---|")
    for w in rows:
        na = w["delivered"] == 0
        per = (lambda k: "n/a" if na else f"{w[k]:.0f}")
        out.append(
            f"| {w['domains']:,.0f} | {w['reps']} | {w['delivered']:,.0f} | "
            f"{'yes' if w['drained'] else 'NO'} | {w['rate']:.0f} | "
            f"{w['dns_queries']:,.0f} | {w['dns_qps']:.0f} | "
            + ("n/a" if na else
               f"{w['dns_queries'] / w['delivered']:.2f}") + " | "
            f"{w['deferred']:,.0f} ({w['dns_tempfail']:,.0f}) | "
            f"{w['dnsmasq_drops']:,.0f} / {w['ringmta_udp_drops']:,.0f} / "
            f"{w['udp_rcvbuf_errors']:,.0f} | "
            f"{w['cpu_s']:.1f} s ({w['cpu_share']:.2f}) | "
            f"{per('cpu_ms_per_1k')} | {per('dns_cpu_ms_per_1k')} | "
            f"{per('sink_cpu_ms_per_1k')} | "
            f"{w['rss_kb'] / 1024:.0f} MiB | "
            + ("n/a" if w.get("syncs_per_msg") is None
               else f"{w['syncs_per_msg']:.3f}")
            + f" | {bench_lat.fmt_pair(w)} | {w['secs']:.1f} s |")
    out.append("")
    out.append("Each domain costs its own lookups (MX, then A and AAAA of "
               "the implicit MX) and its own connection (connect, banner, "
               "EHLO, MAIL, RCPT, DATA, QUIT) for one message, so this is "
               "the resolver and connection-setup path rather than the "
               "per-message path of W1/W2.")
    out.append("")
    out.append(
        "Deferrals are the recipients the delivery log shows `deferred`; "
        "in brackets the operator log's \"DNS lookup of ... tempfail\" "
        "lines. UDP drops are datagrams dropped for a full receive buffer "
        "during the run: at dnsmasq's socket and at ringmta's (the "
        "sockets open at the end, /proc/net/udp `drops`), and on the "
        "whole machine (/proc/net/snmp `RcvbufErrors`). At release every "
        "domain wants its lookup at once; ringmta's resolver keeps at most "
        "`[dns] max_inflight` (128) queries out and queues the rest in "
        "order, so dnsmasq (one thread reading one UDP socket) is never "
        "sent more than it can take. Any query that is dropped anyway "
        "times out (2 s x 2 tries) and its domain is deferred; "
        f"`retry_interval` is {W5_RETRY} so such a domain comes back at "
        "once (with the default 20 min it would wait 20 minutes), and "
        "the rates above include those retries. Before the cap "
        "(2026-11-25 morning) 100,000 domains did not drain in 180 s: "
        "the burst saturated both sockets and c-ares re-scanned every "
        "query in flight after each send.")
    out.append("")
    for w in rows:
        if not w["profile"]:
            continue
        out.append(
            f"Profile of the {w['domains']:,.0f}-domain run, still "
            f"draining {W5_PROFILE_AT} s after the start (`perf record -g "
            f"-p RINGMTA -- sleep {W5_PROFILE_S}`, self time, the first "
            "caller in brackets): "
            + "; ".join(f"{pc:.1f}% {sym}" + (f" [from {c}]" if c else "")
                        for pc, sym, c in w["profile"]) + ".")
        out.append("")
    out.append("Against the targets: W5 has no numeric target; "
               + "; ".join(f"{w['domains']:,.0f} domains "
                           + ("drained" if w["drained"] else
                              f"did not drain in {w['cap']:.0f} s")
                           for w in rows) + ".")
    out.append("")
    return "\n".join(out)
