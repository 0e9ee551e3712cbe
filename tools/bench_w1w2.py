#!/usr/bin/python3
"""The end-to-end benchmarks W1 and W2 of tools/bench.py, and the pieces of
them W3 (bench_w345) reuses.

  W1 end to end: smtp-source (20 sessions) into ringmta / a delivering
     private Postfix, both relaying to ringsink; clock from the first
     byte injected to the sink's last message; 4 KiB and 100 KiB.
  W2 drain: 20,000 queued messages for 100 domains released at once
     (ringmta: suspended, restarted unsuspended; Postfix: hold queue,
     postsuper -H + postqueue -f), against the W0 ceiling at 4 KiB.

run_w1() takes a `tls` dict (W3): the sink offers STARTTLS and both MTAs
must use it.  Every daemon is stopped by pid, also on failure.
"""
import os
import shutil
import statistics
import tempfile
import time

import bench_lat
import bench_postfix
from bench_lib import (QUICK, TICK, SinkWatch, cpu_ticks, dlog_latency,
                       fdatasync_latency_ms,
                       free_port, log_problems, measure, median_rows,
                       peak_rss_kb, perf_usable, ringmta_ini, source_into,
                       splice_block, start_ringmta, start_ringmta_gated,
                       tree_hwm_kb, tree_pids,
                       tree_ticks, wait_log)
from bench_w0wi import run_w0

RELAY_CONC = 100  # outbound connections allowed (both systems)

# Where W1's 100 KiB time goes: a profiling session, not this run (its
# numbers are quoted with their date and method).
PROFILE_100K = (
    "Where the time goes at 100 KiB (profiled on 2026-11-25 with `perf "
    "record -g` on W1 100 KiB and callgrind on 400 messages; not re-measured "
    "by this run): ringmta spends about 200 us of CPU per message, two thirds "
    "of it in the kernel: loopback TCP send 21 % (the sink's receive "
    "processing runs in the sender's softirq), the page-cache write 13 %, recv "
    "7 %, fdatasync 6 %, reading the body back for delivery 5 %, io-wq "
    "hand-offs and context switches. In user space the intake used to copy "
    "each body byte three times (decoder scratch, record buffer, batch "
    "buffer); it now decodes into the record and writes every batch with one "
    "writev from the transactions' own buffers, and CRC32C runs three "
    "interleaved `crc32q` streams: user-space instructions per 100 KiB "
    "message fell from 799k to 579k (memcpy 305k to 105k), which the wall "
    "clock barely sees because the kernel's share dominates. Zero-copy "
    "delivery was measured and not taken: `IORING_OP_SPLICE` cost 39-45 us "
    "per message against 31-35 us for read + send (io_uring runs each splice "
    "in a worker), and `SEND_ZC` from a mapping of the file matched read + "
    "send on loopback (docs/CLIENT.md). The three processes need about 330 us "
    "of CPU per message together (ringmta ~200, smtp-source ~84, ringsink "
    "~47) on two CPUs, so the machine tops out near 6,000 msg/s and one "
    "ringmta thread near 5,000: 10x Postfix at 100 KiB (about 4,000 msg/s) "
    "sits close to that edge and moves with the machine's other load. The "
    "body scan done twice (`sdata_span` at intake, again in the client's "
    "dot-stuffing check) is gone since: the intake marks a body that is its "
    "own wire encoding (`RECORD_MSG_F_WIRE`, docs/SPOOL.md) and the client "
    "sends it as it lies (callgrind, 400 x 100 KiB, measured the same day: "
    "581k -> 421k user-space instructions per message).\n")
W1_SESSIONS = 20  # smtp-source -s in W1
W2_PER_DOMAIN = None  # ringmta per domain in W2: None = the default (20)


def ringmta_relay_conf(d, port, sink_port, suspended, per_domain,
                       server_limit=RELAY_CONC, tls=False):
    """ringmta relaying every domain to 127.0.0.1:sink_port; with tls,
    STARTTLS is required and the certificate not checked; per_domain None
    leaves max_outbound_connections at its default."""
    dlv = {"max_connections": server_limit} if server_limit else {}
    dlv["suspended"] = "true" if suspended else "false"
    dom = {"relay": f"127.0.0.1:{sink_port}",
           "tls": "required" if tls else "none"}
    if tls:
        dom["tls_verify"] = "none"
    if per_domain is not None:
        dom["max_outbound_connections"] = per_domain
    dom["max_deliveries_per_connection"] = 1000
    return ringmta_ini(d, port, dlv, dom)


def postfix_relay_extra(sink_port, tls=False):
    """main.cf additions for relaying to 127.0.0.1:sink_port; with tls,
    STARTTLS is required (encrypt), sessions are cached by tlsmgr and TLS
    connections are reused through tlsproxy."""
    cf = {"relayhost": f"[127.0.0.1]:{sink_port}",
          "default_destination_concurrency_limit": str(RELAY_CONC),
          "smtp_destination_concurrency_limit": str(RELAY_CONC),
          "initial_destination_concurrency": str(RELAY_CONC),
          "smtp_connection_cache_on_demand": "yes",
          "notify_classes": "",
          "smtp_tls_security_level": "encrypt" if tls else "none"}
    if tls:
        cf.update(POSTFIX_TLS)
    return cf


POSTFIX_TLS = {
    "smtp_tls_session_cache_database": "btree:${data_directory}/smtp_scache",
    "smtp_tls_connection_reuse": "yes",
    "smtp_tls_loglevel": "0"}


def sink_tls_counts(sink):
    """(handshakes, resumed) the sink logged (--log-level info)."""
    hs = res = 0
    with open(sink.log) as f:
        for line in f:
            if "smtps: " in line and ": TLS " in line:
                hs += 1
                res += " resumed" in line
    return hs, res


def _run_w1_ringmta(d, sink, size, msgs, counter_ok, tls, env):
    port = free_port()
    conf = ringmta_relay_conf(d, port, sink.port, False, RELAY_CONC,
                              tls=tls is not None)
    log = os.path.join(d, "ringmta.log")
    dm, _ = start_ringmta(conf, log)
    try:
        if not wait_log(log, f"listening on 127.0.0.1:{port}", dm.p):
            raise RuntimeError(f"ringmta did not start: "
                               f"{open(log).read()[-500:]}")
        s0 = cpu_ticks(sink.d.p.pid)
        res = measure("ringmta", lambda: tree_pids(dm.p.pid),
                      lambda: tree_ticks(dm.p.pid), sink, msgs, None,
                      lambda: source_into(port, size, msgs, env=env),
                      counter_ok, d, lambda: dm.p.poll() is None)
        res["sink_cpu_ms_per_1k"] = (cpu_ticks(sink.d.p.pid) - s0) \
            * 1000.0 / TICK / msgs * 1000
        res["rss_kb"] = peak_rss_kb(dm.p.pid)
        res["rss_group_kb"] = tree_hwm_kb(tree_pids(dm.p.pid))
    finally:
        dm.stop()
    n, p50, p99 = dlog_latency(os.path.join(d, "d.jsonl"))
    if n != msgs:
        raise RuntimeError(f"ringmta logged {n} deliveries of {msgs}")
    # its own view (received -> delivered, 1 ms), for the console only
    res["dlog_p50"], res["dlog_p99"] = p50, p99
    res["log_problems"] = len(log_problems(log))
    return res


def _run_w1_postfix(d, sink, size, msgs, counter_ok, tls, env):
    port = free_port()
    pf = bench_postfix.PrivatePostfix(
        d, port, park=None,
        main_extra=postfix_relay_extra(sink.port, tls is not None))
    pf.start()
    try:
        s0 = cpu_ticks(sink.d.p.pid)
        res = measure("postfix", pf.pids, pf.cpu_ticks, sink, msgs, None,
                      lambda: source_into(port, size, msgs, env=env),
                      counter_ok, d, None)
        res["sink_cpu_ms_per_1k"] = (cpu_ticks(sink.d.p.pid) - s0) \
            * 1000.0 / TICK / msgs * 1000
        pids = pf.pids()
        res["rss_kb"] = max(peak_rss_kb(p) for p in pids)
        res["rss_group_kb"] = tree_hwm_kb(pids)
    finally:
        pf.stop()
    res["log_problems"] = 0
    return res


def run_w1(kind, size, msgs, tmp, counter_ok, tls=None):
    """One W1 run of kind ("ringmta" or "postfix"); tls: None (plaintext)
    or {"cert": PATH, "key": PATH} for the sink, which then offers
    STARTTLS and every message must arrive under TLS.  Returns the
    figures (rate, CPU, syncs, RSS, latency, TLS handshakes/resumed)."""
    d = tempfile.mkdtemp(prefix=f"w1-{kind}.", dir=tmp)
    extra = [] if tls is None else ["--tls-cert", tls["cert"],
                                    "--tls-key", tls["key"]]
    sink = SinkWatch(d, extra, log=tls is not None)
    stamps = os.path.join(d, "intake.stamps")
    env = bench_lat.stamp_env(tmp, stamps)
    try:
        run = _run_w1_ringmta if kind == "ringmta" else _run_w1_postfix
        res = run(d, sink, size, msgs, counter_ok, tls, env)
        sink.poll()
    finally:
        sink.stop()
    lat = bench_lat.e2e(stamps, sink.lat)
    res.update(p50=lat["p50"], p99=lat["p99"], lat_n=lat["n"],
               lat_neg=lat["neg"], dot_p50=lat["dot_p50"],
               dot_p99=lat["dot_p99"])
    summ = sink.summary()
    got = summ.get("messages", -1)
    if tls is not None:
        res["handshakes"], res["resumed"] = sink_tls_counts(sink)
        res["connections"] = summ.get("connections", 0)
        if summ.get("tls_messages") != msgs:
            raise RuntimeError(f"{kind}: {summ.get('tls_messages')} of "
                               f"{msgs} messages arrived under TLS")
    shutil.rmtree(d, ignore_errors=True)
    if got != msgs:
        raise RuntimeError(f"{kind}: sink counted {got} of {msgs}")
    print(f"  W1 {kind} {size // 1024} KiB x{msgs}"
          f"{' TLS' if tls else ''}: {res}", flush=True)
    return res


def w2_inject(port, size, msgs, ndom):
    per = msgs // ndom
    for i in range(ndom):
        source_into(port, size, per, to=f"b@d{i}.test")


def run_w2(kind, size, msgs, ndom, tmp, counter_ok):
    d = tempfile.mkdtemp(prefix=f"w2-{kind}.", dir=tmp)
    sink = SinkWatch(d)
    released = [None]  # wall-clock time of the release
    try:
        if kind == "ringmta":
            port = free_port()
            log = os.path.join(d, "ringmta.log")
            conf = ringmta_relay_conf(d, port, sink.port, True, W2_PER_DOMAIN,
                                      None)
            dm, _ = start_ringmta(conf, log)
            try:
                if not wait_log(log, f"listening on 127.0.0.1:{port}", dm.p):
                    raise RuntimeError("ringmta did not start")
                w2_inject(port, size, msgs, ndom)
            finally:
                dm.stop()
            if sink.count() > 0:
                raise RuntimeError("ringmta delivered while suspended")
            ringmta_relay_conf(d, port, sink.port, False, W2_PER_DOMAIN, None)
            # behind the gate, so that syncs are counted from the exec
            dm, go = start_ringmta_gated(conf, log)

            def release():
                released[0] = time.time()
                go()
            try:
                res = measure(kind, lambda: [dm.p.pid],
                              lambda: tree_ticks(dm.p.pid), sink, msgs, None,
                              release, counter_ok, d,
                              lambda: dm.p.poll() is None)
                res["rss_kb"] = peak_rss_kb(dm.p.pid)
                res["rss_group_kb"] = tree_hwm_kb(tree_pids(dm.p.pid))
            finally:
                dm.stop()
        else:
            port = free_port()
            pf = bench_postfix.PrivatePostfix(
                d, port, park="hold",
                main_extra=postfix_relay_extra(sink.port))
            pf.start()
            try:
                w2_inject(port, size, msgs, ndom)
                end = time.time() + 60
                while pf.queue_count("hold") < msgs and time.time() < end:
                    time.sleep(0.1)
                if pf.queue_count("hold") != msgs:
                    raise RuntimeError("postfix: hold queue incomplete")

                def release():
                    released[0] = time.time()
                    pf._run("/usr/sbin/postsuper", "-c", pf.conf, "-H",
                            "ALL", "hold")
                    pf._run(bench_postfix.POSTQUEUE, "-c", pf.conf, "-f")
                res = measure(kind, pf.pids, pf.cpu_ticks, sink, msgs, None,
                              release, counter_ok, d, None)
                pids = pf.pids()
                res["rss_kb"] = max(peak_rss_kb(p) for p in pids)
                res["rss_group_kb"] = tree_hwm_kb(pids)
            finally:
                pf.stop()
    finally:
        sink.stop()
    got = sink.count()
    lat = bench_lat.since(sink.lat, released[0])
    res.update(p50=lat["p50"], p99=lat["p99"], lat_n=lat["n"])
    shutil.rmtree(d, ignore_errors=True)
    if got != msgs:
        raise RuntimeError(f"{kind}: sink counted {got} of {msgs}")
    print(f"  W2 {kind} x{msgs} ({ndom} domains): {res}", flush=True)
    return res


def w1w2(tmp, do_w1=True, do_w2=True):
    """W1 (4 KiB and 100 KiB) and W2, systems alternating; plus the W0
    ceiling for 4 KiB (ringsink alone, same smtp-source shape)."""
    reps = 1 if QUICK else 3
    why_not = perf_usable(tmp)
    counter_ok = why_not is None
    if why_not:
        print(f"W1/W2: fsync counts unavailable: {why_not}", flush=True)
    res = {"reps": reps, "perf": why_not, "w1": [], "w2": None}
    shapes = ((4096, 2000 if QUICK else 20000),
              (102400, 500 if QUICK else 3000))
    for size, msgs in shapes if do_w1 else ():
        runs = {"ringmta": [], "postfix": []}
        for rep in range(reps):
            order = ["ringmta", "postfix"]
            if rep % 2:
                order.reverse()
            for kind in order:
                runs[kind].append(run_w1(kind, size, msgs, tmp, counter_ok))
        res["w1"].append({"size": size, "msgs": msgs,
                          **{k: median_rows(v) for k, v in runs.items()}})
        if size >= 102400:  # one batch of every session's message
            res["commit_probe_ms"] = fdatasync_latency_ms(
                tmp, 15, W1_SESSIONS * size)
    if not do_w2:
        return res
    msgs, ndom = (2000 if QUICK else 20000), 100
    runs = {"ringmta": [], "postfix": []}
    ceil = []
    for rep in range(reps):
        order = ["ringmta", "postfix"]
        if rep % 2:
            order.reverse()
        for kind in order:
            runs[kind].append(run_w2(kind, 4096, msgs, ndom, tmp,
                                     counter_ok))
        ceil.append(run_w0("ringsink", 20, 4096, msgs, tmp)["rate"])
    res["w2"] = {"size": 4096, "msgs": msgs, "domains": ndom,
                 "ceiling": statistics.median(ceil),
                 **{k: median_rows(v) for k, v in runs.items()}}
    return res


def bound_100k(row, probe_ms):
    """What held W1 at 100 KiB in this run, from its own figures."""
    a, b = row["ringmta"], row["postfix"]
    busy = a["rate"] * a["cpu_ms_per_1k"] / 1e6
    text = (f"In this run ringmta used {busy:.2f} CPU ({a['rate']:.0f} msg/s "
            f"x {a['cpu_ms_per_1k']:.0f} ms per 1,000), "
            + ("so its one ring was not the limit. " if busy < 0.9 else
               "close to its one ring's ceiling. ")
            + "Each of smtp-source's "
            f"{W1_SESSIONS} sessions has one message in flight and waits for "
            "its 250")
    if a.get("dot_p50"):
        bound = W1_SESSIONS / (a["dot_p50"] / 1000)
        text += (f": from its final dot {a['dot_p50']:.1f} ms (p50), so "
                 f"{W1_SESSIONS} sessions / {a['dot_p50']:.1f} ms = about "
                 f"{bound:,.0f} msg/s bounds this load before the upload "
                 "and the other round trips are counted")
    if probe_ms:
        text += (f"; inside that wait is the commit: a write + fdatasync of "
                 f"{W1_SESSIONS} x 100 KiB (every session's message at once, "
                 f"more than the run's average batch) takes {probe_ms:.2f} ms "
                 "on this file system (measured in this run)")
    text += (f". 10x Postfix would be {10 * b['rate']:,.0f} msg/s. A ring per "
             "core would add CPU where CPU is not short and would not shorten "
             "the commit or the round trips, so it was not built; what "
             "moves this row is the injector's concurrency, the disk's "
             "write + flush time, and the machine's other load.\n")
    return text


def w1w2_md(r):
    fmt = (lambda x, n=0: "n/a" if x is None else f"{x:.{n}f}")
    out = ["## W1: end to end (injector -> MTA -> ringsink)\n"]
    out.append(
        "`smtp-source -d -s 20 -m MSGS -l SIZE -f a@bench.test -t "
        "b@dest.test` into the MTA, which relays every message to "
        "ringsink on 127.0.0.1; the clock runs from just before "
        "smtp-source starts to the first ringsink summary (SIGUSR1, polled "
        "every 10 ms) that counts every message. Both systems fsync "
        "before their 250 (ringmta's spool `sync = yes` group commit; "
        "Postfix's cleanup). ringmta: `[domain default] relay = "
        f"127.0.0.1:SINK`, `tls = none`, `max_outbound_connections = "
        f"{RELAY_CONC}`, `max_deliveries_per_connection = 1000`, "
        "`[delivery] allowed_networks = 127.0.0.0/8`, `[dns] servers` on "
        "a closed loopback port. Postfix (the private instance of WI, "
        "delivering): `relayhost = [127.0.0.1]:SINK`, "
        f"`default_destination_concurrency_limit = "
        f"smtp_destination_concurrency_limit = "
        f"initial_destination_concurrency = {RELAY_CONC}`, "
        "`smtp_connection_cache_on_demand = yes`, `notify_classes =` "
        "(empty), `smtp_tls_security_level = none`. CPU: the whole process "
        "group (ringmta and any child of it; Postfix's master, "
        "every descendant and the reaped ones). Syncs: fsync + fdatasync "
        "(ring and syscalls) of that group, per message. Peak RSS: "
        "ringmta's VmHWM (group sum in brackets); Postfix: its largest "
        "process (sum of the live processes' VmHWM in brackets, MiB; "
        "shared pages counted once per process, so it overstates). "
        f"Medians of {r['reps']} repetition(s), systems alternating.\n")
    out.append(bench_lat.METHOD_MD + lat_counts(r["w1"]) + "\n")
    out.append("| size | messages | ringmta msg/s | Postfix msg/s | ratio "
               "(target >= 10x) | ringmta CPU ms/1k | Postfix CPU ms/1k | "
               "sink CPU ms/1k (ringmta / Postfix run) | ringmta syncs/msg "
               "| Postfix syncs/msg | ringmta peak RSS | Postfix peak RSS | "
               "ringmta latency p50 / p99 | Postfix latency p50 / p99 |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    if not r["w1"]:
        out = []
    verdicts = []
    for row in r["w1"]:
        a, b = row["ringmta"], row["postfix"]
        ratio = a["rate"] / b["rate"]
        out.append(
            f"| {row['size'] // 1024} KiB | {row['msgs']} | "
            f"{a['rate']:.0f} | {b['rate']:.0f} | {ratio:.2f}x | "
            f"{a['cpu_ms_per_1k']:.0f} | {b['cpu_ms_per_1k']:.0f} | "
            f"{a['sink_cpu_ms_per_1k']:.0f} / {b['sink_cpu_ms_per_1k']:.0f}"
            f" | {fmt(a.get('syncs_per_msg'), 3)} | "
            f"{fmt(b.get('syncs_per_msg'), 2)} | "
            f"{a['rss_kb'] / 1024:.1f} MiB ({a['rss_group_kb'] / 1024:.0f})"
            f" | {b['rss_kb'] / 1024:.1f} MiB ({b['rss_group_kb'] / 1024:.0f})"
            f" | {bench_lat.fmt_pair(a)} | {bench_lat.fmt_pair(b)} |")
        v = (f"- W1 {row['size'] // 1024} KiB: {ratio:.2f}x Postfix "
             f"({'meets' if ratio >= 10 else 'misses'} the 10x target)")
        if row["size"] >= 102400:
            v += (f"; {a['rate']:.0f} msg/s "
                  f"({'meets' if a['rate'] >= 1500 else 'misses'} the "
                  ">= 1,500 msg/s target)")
        verdicts.append(v)
    out.append("")
    for row in r["w1"]:
        if row["size"] >= 102400:
            out.append(PROFILE_100K)
            out.append(bound_100k(row, r.get("commit_probe_ms")))
    w = r["w2"]
    if w is None:
        out.append("Against the targets:\n")
        return out + verdicts + [""]
    out.append("## W2: drain a full queue\n")
    out.append(
        f"{w['msgs']} messages of 4 KiB for {w['domains']} domains "
        "(`b@dN.test`, injected with smtp-source -d -s 20, one run per "
        "domain) are queued but not delivered, then released at once; "
        "the clock runs from the release to ringsink's count of every "
        "message. ringmta has no resume command yet without Redis: it is "
        "filled with `[delivery] suspended = true`, stopped, the file "
        "rewritten with `suspended = false`, and started again: the clock "
        "starts at exec (so it includes the spool replay; ringmta is "
        "started behind a gate, a shell that execs it in place on a line "
        "from the benchmark, so that perf counts its syncs from the exec). "
        "`max_outbound_connections` per domain and `[delivery] "
        "max_connections` at their defaults (20 and 10000: up to 2,000 "
        "connections wanted, below the server-wide limit), otherwise the W1 "
        "settings. (Earlier runs set a per-domain limit of 2; measured side "
        "by side, the defaults drain as fast. The server-wide limit and its "
        "reclaim of idle sessions are exercised by test_routing.sh, not "
        "here.) Postfix: filled "
        "through smtpd with the HOLD restriction (as in WI) and the W1 "
        "relay settings, released with `postsuper -H ALL hold` followed "
        "by `postqueue -f`; the clock starts before postsuper. The "
        "ceiling is W0's shape at 4 KiB: smtp-source -d -s 20 straight "
        "into ringsink, measured in the same repetitions. Latency: from "
        "the release (the wall-clock time just before ringmta's exec, or "
        "before postsuper) to each message's 250 at the sink (ringsink's "
        "`--latency-log`), the same for both; p99 is close to the drain "
        "time, p50 says how soon half the queue was out.\n")
    out.append("| system | msg/s | CPU ms/1k | syncs/msg | peak RSS | "
               "latency from release p50 / p99 |")
    out.append("|---|---|---|---|---|---|")
    for kind, name in (("ringmta", "ringmta"), ("postfix", "Postfix")):
        a = w[kind]
        out.append(f"| {name} | {a['rate']:.0f} | {a['cpu_ms_per_1k']:.0f}"
                   f" | {fmt(a.get('syncs_per_msg'), 3)} | "
                   f"{a['rss_kb'] / 1024:.1f} MiB "
                   f"({a['rss_group_kb'] / 1024:.0f}) | "
                   f"{bench_lat.fmt_pair(a)} |")
    out.append(f"| W0 ceiling (ringsink alone) | {w['ceiling']:.0f} | | "
               "| | |")
    out.append("")
    a, b = w["ringmta"], w["postfix"]
    ratio = a["rate"] / b["rate"]
    share = a["rate"] / w["ceiling"]
    cpu = a["cpu_ms_per_1k"] / 1000
    verdicts.append(f"- W2: {ratio:.2f}x Postfix "
                    f"({'meets' if ratio >= 10 else 'misses'} the 10x "
                    f"target); {share * 100:.0f}% of the W0 ceiling "
                    f"({'meets' if share >= 0.6 else 'misses'} the 60% "
                    f"target); {cpu:.3f} ms CPU per delivered message "
                    f"({'meets' if cpu <= 0.15 else 'misses'} the <= 0.15 "
                    "ms target)")
    out.append("Against the targets:\n")
    out.extend(verdicts)
    out.append("")
    return out




def lat_counts(rows):
    """How many messages the latency figures of W1 (or W3) rest on."""
    got = [(r.get("lat_n"), r.get("lat_neg"), row["msgs"])
           for row in rows for r in (row["ringmta"], row["postfix"])]
    if any(n is None for n, _, _ in got):
        return " (not measured: the stamp library did not build.)"
    miss = sum(m - n for n, _, m in got)
    neg = sum(x for _, x, _ in got)
    dots = "; ".join(
        f"{row['size'] // 1024} KiB ringmta "
        f"{bench_lat.fmt_pair(_dot(row['ringmta']))}, Postfix "
        f"{bench_lat.fmt_pair(_dot(row['postfix']))}" for row in rows)
    return (f" Messages matched (median run): every one but {miss:.0f} "
            f"over the rows; below zero: {neg:.0f}. The same join from "
            "smtp-source's write of the end of data (the final dot) instead "
            "of its read of the 250, i.e. including the intake's commit, "
            f"p50 / p99: {dots}.")


def _dot(r):
    return {"p50": r.get("dot_p50"), "p99": r.get("dot_p99")}


def splice_w1w2(lines, started):
    """Replaces (or appends) the W1 and W2 sections of docs/BENCHMARKS.md,
    leaving the other sections as they were."""
    cmd = "BENCH_QUICK=1 " if QUICK else ""
    splice_block("\n".join(lines), f"(W1 and W2 produced by `{cmd}tools/"
                 f"bench.py w1 w2` on {started} UTC.)")
