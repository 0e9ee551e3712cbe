#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The demo's settle watcher and summary (Python standard library only).

usage:
  demo_report.py settle PLAN ACKS DLOG SECONDS [--expire] [--pid PID]
      Follow the delivery log DLOG until the queue has settled: every
      injected recipient has a final event (delivered, bounced, expired,
      failed), except, without --expire, the dead-MX domain's recipients,
      each of which needs at least one "deferred" event; and every DSN the
      bounces call for has been generated and has a final event itself.
      Progress on stderr.  Exit 0 when settled, 1 when SECONDS passed first
      or process PID (ringmta) exited.  Once settled it waits one more
      second, so that late surprises (duplicates) reach the log.

  demo_report.py summary PLAN ACKS DLOG SINK_JSON... [--expire]
      [--settled yes|no] [--settle-seconds S] [--want N]
      Print the summary on stdout and check that the numbers add up; exit 0
      when they do, 1 otherwise.  Each SINK_JSON is "NAME=FILE", a ringsink
      summary written at SIGTERM.

PLAN has one line per domain: "DOMAIN KIND IP PORT" with KIND one of
healthy, flaky (first attempt per recipient 451, then 250), nullmx, dead
(nothing listens at its MX address) and sender (the injector's sender
domain, where DSNs go).  ACKS is demo_inject.py's output.
"""
import datetime
import json
import os
import signal
import sys
import time

FINAL = ("delivered", "bounced", "expired", "failed")


def ts_ms(s):
    """Milliseconds since the epoch of a delivery-log ts, or None."""
    if not isinstance(s, str):
        return None
    try:
        d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(d.timestamp() * 1000)


def read_plan(path):
    plan = {}
    for line in open(path):
        f = line.split()
        if len(f) == 4:
            plan[f[0]] = {"kind": f[1], "ip": f[2], "port": f[3]}
    return plan


def read_acks(path):
    """({id: (seq, rcpt, domain, ms)}, refused, summary line fields)."""
    acks, refused, done = {}, 0, None
    if not os.path.exists(path):
        return acks, refused, done
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "ok" and len(f) == 5:
            rcpt = f[3]
            acks[f[1]] = (int(f[2]), rcpt, rcpt.rsplit("@", 1)[-1].lower(),
                          float(f[4]))
        elif f[0] == "refused":
            refused += 1
        elif f[0] == "done" and len(f) == 5:
            done = (int(f[1]), int(f[2]), int(f[3]), float(f[4]))
    return acks, refused, done


class Log:
    """What the delivery log says, fed line by line."""

    def __init__(self, acks):
        self.acks = acks
        self.received = {}  # id -> ts_ms of the first "received"
        self.final = {}  # injected id -> final event (dict)
        self.dups = 0  # final events after the first, per id
        self.deferred = {}  # injected id -> deferred events
        self.gen = {}  # generated (DSN) id -> {"rcv": ev, "final": ev}
        self.unrecorded = set()  # ids of a real sender the injector missed
        self.events = {}  # event name -> count
        self.bad_lines = 0
        self.first_ts = None
        self.last_ts = None

    def feed(self, line):
        try:
            ev = json.loads(line)
        except ValueError:
            self.bad_lines += 1
            return
        if not isinstance(ev, dict):
            self.bad_lines += 1
            return
        name, mid = ev.get("event"), ev.get("id")
        if mid not in self.acks and ev.get("sender"):
            # a message with a sender that the injector did not record
            # (its 250 was lost): not a DSN, which has the null sender
            self.unrecorded.add(mid)
            return
        self.events[name] = self.events.get(name, 0) + 1
        t = ts_ms(ev.get("ts"))
        ev["_t"] = t
        if t is not None:
            self.first_ts = t if self.first_ts is None else min(t,
                                                               self.first_ts)
            self.last_ts = t if self.last_ts is None else max(t, self.last_ts)
        if name == "received":
            self.received.setdefault(mid, t)
            if mid not in self.acks:
                self.gen.setdefault(mid, {"rcv": ev, "final": None})
            return
        if mid in self.acks:
            if name == "deferred":
                self.deferred[mid] = self.deferred.get(mid, 0) + 1
            elif name in FINAL:
                if mid in self.final:
                    self.dups += 1
                else:
                    self.final[mid] = ev
        elif name in FINAL:
            g = self.gen.setdefault(mid, {"rcv": None, "final": None})
            if g["final"] is None:
                g["final"] = ev
            else:
                self.dups += 1


class Follower:
    """Reads a growing file line by line (complete lines only)."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.rest = b""

    def lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except FileNotFoundError:
            return []
        data = self.rest + data
        parts = data.split(b"\n")
        self.rest = parts.pop()
        return [p.decode("utf-8", "replace") for p in parts if p]


def settle_state(plan, log, expire):
    """(settled, pending, dead_waiting, dsn_needed, dsn_done): pending
    counts the recipients the settle still waits for; dead_waiting the
    dead-MX recipients deferred at least once (pending too with expire)."""
    pending, dead_waiting = 0, 0
    for mid, (_, _, dom, _) in log.acks.items():
        if mid in log.final:
            continue
        kind = plan.get(dom, {}).get("kind")
        if kind == "dead" and log.deferred.get(mid):
            dead_waiting += 1
            if not expire:
                continue
        pending += 1
    dsn_needed = sum(1 for e in log.final.values()
                     if e.get("event") in ("bounced", "expired"))
    dsn_done = sum(1 for g in log.gen.values() if g["final"] is not None)
    dsn_open = sum(1 for g in log.gen.values() if g["final"] is None)
    settled = (pending == 0 and len(log.gen) >= dsn_needed and dsn_open == 0
               and len(log.acks) > 0)
    return settled, pending, dead_waiting, dsn_needed, dsn_done


def alive(pid):
    """Whether pid runs (a zombie, exited but not reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cmd_settle(a):
    plan, (acks, _, _) = read_plan(a[0]), read_acks(a[1])
    seconds, expire = float(a[3]), "--expire" in a[4:]
    pid = int(a[a.index("--pid") + 1]) if "--pid" in a[4:] else None
    log, fol = Log(acks), Follower(a[2])
    tty = sys.stderr.isatty()
    t0 = time.monotonic()
    last_print = 0.0
    while True:
        for line in fol.lines():
            log.feed(line)
        st = settle_state(plan, log, expire)
        el = time.monotonic() - t0
        n = len(acks)
        msg = (f"settle: {len(log.final)}/{n} final, {st[2]} dead-MX deferred,"
               f" {st[1]} open, DSNs {st[4]}/{st[3]}, {el:5.1f} s")
        if st[0] or el >= seconds or (tty and el - last_print >= 0.25) or \
                el - last_print >= 5:
            sys.stderr.write(("\r" + msg) if tty else (msg + "\n"))
            sys.stderr.flush()
            last_print = el
        if pid is not None and not alive(pid):
            sys.stderr.write(f"\nsettle: process {pid} (ringmta) exited\n")
            return 1
        if st[0]:
            if tty:
                sys.stderr.write("\n")
            # one more second for anything that should not come (a second
            # delivery, an extra DSN), which the summary then reports
            time.sleep(1.0)
            return 0
        if el >= seconds:
            if tty:
                sys.stderr.write("\n")
            sys.stderr.write(f"settle: not settled after {seconds:g} s\n")
            return 1
        time.sleep(0.2)


def pct(sorted_vals, p):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1,
                   int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


def fmt_ms(v):
    if v is None:
        return "-"
    return f"{v / 1000:.2f} s" if v >= 10000 else f"{v:.0f} ms"


def cmd_summary(a):
    plan, (acks, refused, done) = read_plan(a[0]), read_acks(a[1])
    expire = "--expire" in a
    settled = None
    settle_s = None
    want = None
    sinks = {}
    i = 3
    while i < len(a):
        if a[i] == "--settled":
            settled = a[i + 1] == "yes"
            i += 2
        elif a[i] == "--settle-seconds":
            settle_s = float(a[i + 1])
            i += 2
        elif a[i] == "--want":
            want = int(a[i + 1])
            i += 2
        elif a[i] == "--expire":
            i += 1
        elif "=" in a[i]:
            name, path = a[i].split("=", 1)
            try:
                sinks[name] = json.load(open(path))
            except (OSError, ValueError):
                sinks[name] = None
            i += 1
        else:
            sys.stderr.write(__doc__)
            return 2
    log = Log(acks)
    for line in Follower(a[2]).lines():
        log.feed(line)

    checks = []

    def check(ok, what):
        checks.append((bool(ok), what))

    kinds = ("healthy", "flaky", "nullmx", "dead")
    row = {k: {"domains": 0, "rcpts": 0, "delivered": 0, "bounced": 0,
               "expired": 0, "failed": 0, "deferred": 0, "untried": 0,
               "retried": 0, "defer_events": 0, "enh": {}} for k in kinds}
    for d, p in plan.items():
        if p["kind"] in row:
            row[p["kind"]]["domains"] += 1
    lat_all, lat_first, lat_retry = [], [], []
    last_final = None
    last_first = None  # the last final event of a recipient never deferred
    n_first = 0
    for mid, (_, rcpt, dom, _) in acks.items():
        kind = plan.get(dom, {}).get("kind", "healthy")
        r = row[kind]
        r["rcpts"] += 1
        nd = log.deferred.get(mid, 0)
        r["defer_events"] += nd
        ev = log.final.get(mid)
        if ev is None:
            r["deferred" if nd else "untried"] += 1
            continue
        name = ev.get("event")
        r[name] += 1
        enh = ev.get("enhanced") or str(ev.get("code"))
        r["enh"][enh] = r["enh"].get(enh, 0) + 1
        t = ev["_t"]
        if t is not None and (kind != "dead" or expire):
            last_final = t if last_final is None else max(last_final, t)
            if not nd:
                n_first += 1
                last_first = t if last_first is None else max(last_first, t)
        if name == "delivered":
            if nd:
                r["retried"] += 1
            rt = log.received.get(mid)
            if rt is not None and t is not None:
                lat_all.append(t - rt)
                (lat_retry if nd else lat_first).append(t - rt)
    for v in (lat_all, lat_first, lat_retry):
        v.sort()

    n_inj = len(acks)
    sent_total = done[0] if done else n_inj + refused
    tot = {k: sum(row[x][k] for x in kinds)
           for k in ("delivered", "bounced", "expired", "failed", "deferred",
                     "untried", "retried", "defer_events")}
    sender_dom = [d for d, p in plan.items() if p["kind"] == "sender"]
    gen_total = len(log.gen)
    gen_final = {}
    gen_to = {}
    for g in log.gen.values():
        ev = g["final"]
        name = ev.get("event") if ev else "open"
        gen_final[name] = gen_final.get(name, 0) + 1
        if ev and name == "delivered":
            gen_to[ev.get("domain")] = gen_to.get(ev.get("domain"), 0) + 1
    dsn_needed = tot["bounced"] + tot["expired"]
    dsn_delivered = sum(gen_to.get(d, 0) for d in sender_dom)

    first_rcv = min((log.received[m] for m in acks if
                     log.received.get(m) is not None), default=None)
    e2e_s = first_s = None
    if first_rcv is not None and last_final is not None:
        e2e_s = max((last_final - first_rcv) / 1000.0, 0.001)
    if first_rcv is not None and last_first is not None:
        first_s = max((last_first - first_rcv) / 1000.0, 0.001)
    finals_inj = tot["delivered"] + tot["bounced"] + tot["expired"] + \
        tot["failed"]

    out = []
    w = out.append
    w("")
    w("ringmta demo: summary")
    w("---------------------")
    if done:
        w(f"  injected      {done[1]:>7} messages acknowledged ('250 queued "
          f"as ID') of {sent_total}, in {done[3]:.2f} s "
          f"({done[1] / max(done[3], 1e-3):.0f} msg/s over the injector's "
          f"connections)")
    else:
        w(f"  injected      {n_inj:>7} messages acknowledged (injector did "
          f"not finish)")
    if refused:
        w(f"  refused       {refused:>7} messages not acknowledged")
    w(f"  delivered     {tot['delivered']:>7} recipients ("
      f"{tot['delivered'] - tot['retried']} at the first attempt, "
      f"{tot['retried']} after a deferral)")
    if expire:
        w(f"  deferred      {tot['deferred']:>7} recipients still queued "
          f"at the end")
    else:
        w(f"  deferred      {tot['deferred']:>7} recipients still queued "
          f"at the end (the dead-MX domain; {tot['defer_events']} deferred "
          f"events in all)")
    w(f"  bounced       {tot['bounced']:>7} recipients (permanent failure, "
      f"DSN to the sender)")
    w(f"  expired       {tot['expired']:>7} recipients (message_expiration "
      f"reached, DSN to the sender)")
    if tot["failed"]:
        w(f"  failed        {tot['failed']:>7} recipients (given up "
          f"without a DSN)")
    if tot["untried"]:
        w(f"  no outcome    {tot['untried']:>7} recipients with no delivery "
          f"event at all")
    w(f"  DSNs          {dsn_delivered:>7} delivered to "
      f"{', '.join(sender_dom) or '-'} ({gen_total} generated, "
      f"{dsn_needed} expected)")
    if e2e_s:
        w(f"  end to end    {finals_inj:>7} recipients final in {e2e_s:.2f} s"
          f" from the first 'received' to the last final event: "
          f"{finals_inj / e2e_s:.0f} msg/s")
    if first_s:
        w(f"  first pass    {n_first:>7} recipients final without a deferral"
          f" in {first_s:.2f} s: {n_first / first_s:.0f} msg/s")
    w(f"  latency       received -> delivered, per recipient: "
      f"p50 {fmt_ms(pct(lat_all, 50))}, p99 {fmt_ms(pct(lat_all, 99))}, "
      f"max {fmt_ms(lat_all[-1] if lat_all else None)}")
    if lat_first or lat_retry:
        w(f"                first attempt p50 {fmt_ms(pct(lat_first, 50))}"
          f" p99 {fmt_ms(pct(lat_first, 99))}; after a 451 p50 "
          f"{fmt_ms(pct(lat_retry, 50))} p99 {fmt_ms(pct(lat_retry, 99))}")
    if settle_s is not None:
        w(f"  settled       {'yes' if settled else 'NO'} "
          f"({settle_s:.1f} s after the injection ended)")
    w("")
    w("  by domain kind  domains  rcpts delivered deferred bounced expired"
      "  codes")
    for k in kinds:
        r = row[k]
        codes = " ".join(f"{c}x{n}" for c, n in sorted(r["enh"].items()))
        w(f"  {k:14} {r['domains']:>8} {r['rcpts']:>6} {r['delivered']:>9} "
          f"{r['deferred']:>8} {r['bounced']:>7} {r['expired']:>7}  {codes}")
    w("")
    w("  delivery log events: " + ", ".join(
        f"{k} {v}" for k, v in sorted(log.events.items(), key=str)))

    # The sinks' own counters.
    listen_rcpts = {}
    for name, s in sorted(sinks.items()):
        if not s:
            w(f"  sink {name}: no summary")
            check(False, f"sink {name} wrote its summary")
            continue
        rep = s.get("replies", {})
        w(f"  sink {name:8} connections {s.get('connections')}, messages "
          f"{s.get('messages')}, recipients {s.get('recipients')}, "
          f"max concurrent {s.get('max_concurrent')}, replies "
          + " ".join(f"{c}x{n}" for c, n in sorted(rep.items())))
        for addr, v in s.get("listen", {}).items():
            listen_rcpts[addr] = listen_rcpts.get(addr, 0) + \
                v.get("recipients", 0)
    sink_by_kind = {}
    for d, p in plan.items():
        n = listen_rcpts.get(f"{p['ip']}:{p['port']}", 0)
        sink_by_kind[p["kind"]] = sink_by_kind.get(p["kind"], 0) + n

    # Do the numbers add up?
    want_msgs = n_inj if want is None else want
    check(n_inj == want_msgs and refused == 0,
          f"all {want_msgs} messages acknowledged ({n_inj}, {refused} "
          f"refused)")
    if log.unrecorded:
        w(f"  unrecorded    {len(log.unrecorded):>7} messages in the log that"
          f" the injector has no acknowledgement for")
    missing = sum(1 for m in acks if m not in log.received)
    check(missing == 0, f"every acknowledged message is logged as received "
          f"({missing} missing)")
    acc = finals_inj + tot["deferred"]
    check(acc == n_inj and tot["untried"] == 0,
          f"every recipient accounted for: {finals_inj} final + "
          f"{tot['deferred']} deferred = {acc} of {n_inj}")
    check(log.dups == 0, f"no recipient has two final events ({log.dups})")
    h, f, nm, dd = (row[k] for k in kinds)
    check(h["delivered"] == h["rcpts"],
          f"healthy domains: all delivered ({h['delivered']}/{h['rcpts']})")
    check(f["delivered"] == f["rcpts"] and f["retried"] == f["rcpts"],
          f"flaky domains: all delivered after one deferral "
          f"({f['retried']}/{f['rcpts']})")
    check(nm["bounced"] == nm["rcpts"] and
          nm["enh"].get("5.1.10", 0) == nm["rcpts"],
          f"null-MX domain: all bounced 5.1.10 "
          f"({nm['enh'].get('5.1.10', 0)}/{nm['rcpts']})")
    if expire:
        check(dd["expired"] == dd["rcpts"],
              f"dead-MX domain: all expired ({dd['expired']}/{dd['rcpts']})")
    else:
        check(dd["deferred"] + dd["expired"] == dd["rcpts"] and
              dd["delivered"] == 0,
              f"dead-MX domain: all deferred, none delivered "
              f"({dd['deferred']}/{dd['rcpts']})")
    check(dsn_delivered == dsn_needed and gen_total == dsn_needed,
          f"one DSN per bounced or expired recipient, delivered to the "
          f"sender's domain ({dsn_delivered}/{dsn_needed})")
    if sinks:
        for k, label in (("healthy", "healthy"), ("flaky", "flaky")):
            check(sink_by_kind.get(k, 0) == row[k]["delivered"],
                  f"{label} sink addresses received what the log says was "
                  f"delivered ({sink_by_kind.get(k, 0)}/"
                  f"{row[k]['delivered']})")
        check(sink_by_kind.get("sender", 0) == dsn_delivered,
              f"the sender's MX received the DSNs "
              f"({sink_by_kind.get('sender', 0)}/{dsn_delivered})")
        fs = sinks.get("flaky") or {}
        n451 = fs.get("replies", {}).get("451", 0)
        check(n451 == f["rcpts"], f"flaky sink answered 451 once per "
              f"recipient ({n451}/{f['rcpts']})")
    if settled is not None:
        check(settled, "the queue settled before DEMO_SETTLE_TIMEOUT")
    w("")
    for ok, what in checks:
        w(f"  [{'ok' if ok else 'FAIL'}] {what}")
    bad = sum(1 for ok, _ in checks if not ok)
    w("")
    w(f"demo: {'the numbers add up' if not bad else f'{bad} checks failed'}")
    print("\n".join(out))
    return 0 if bad == 0 else 1


def main():
    a = sys.argv[1:]
    if len(a) >= 4 and a[0] == "settle":
        return cmd_settle(a[1:])
    if len(a) >= 3 and a[0] == "summary":
        return cmd_summary(a[1:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # die by SIGINT, quietly, so that the calling shell sees a Ctrl-C
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
