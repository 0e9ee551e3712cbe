#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The demo's injector: COUNT messages over CONNS SMTP connections, each to
one recipient in one of the demo's recipient domains, with a progress bar on
stderr (Python standard library only).

usage: demo_inject.py HOST PORT COUNT ACKFILE --domains D1,D2,...
                      [--conns N] [--size BYTES] [--sender ADDR]

Message SEQ (0 .. COUNT-1) goes to u{SEQ}@D where D is domains[SEQ % len]:
every domain gets the same share and every recipient address is unique (the
demo's sinks count scripted faults per recipient).  Each connection does
EHLO once, then per message pipelines MAIL, RCPT and DATA (RFC 2920), sends
the body, and reads the reply to the final dot.

ACKFILE gets one line per message when its reply arrives:
  "ok ID SEQ RCPT MS"         250 ... queued as ID, MS = DATA-to-250 time
  "refused CODE SEQ RCPT"     any other reply
A last line "done SENT OK REFUSED SECONDS" sums up.  Exit status: 0 when
every message was acknowledged with a queue id, 1 otherwise (refusals,
lost connections), 2 for usage errors.
"""
import os
import re
import signal
import socket
import sys
import threading
import time

QUEUED = re.compile(rb"^250[ -].*queued as ([0-9A-Za-z]+)", re.M)


class Shared:
    def __init__(self, count):
        self.lock = threading.Lock()
        self.next = 0
        self.count = count
        self.ok = 0
        self.refused = 0
        self.errors = []

    def take(self):
        with self.lock:
            if self.next >= self.count:
                return None
            self.next += 1
            return self.next - 1


def read_reply(f):
    lines = []
    while True:
        line = f.readline(4096)
        if not line:
            raise ConnectionError("connection closed by the server")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return b"".join(lines)


def make_body(seq, rcpt, sender, size):
    head = (f"From: Demo sender <{sender}>\r\n"
            f"To: <{rcpt}>\r\n"
            f"Subject: ringmta demo message {seq}\r\n"
            f"X-Demo-Seq: {seq}\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n").encode()
    line = (f"demo message {seq}: the quick brown fox jumps over the lazy "
            "dog. ").encode()[:76] + b"\r\n"
    out, n = [head], len(head)
    while n < size:
        out.append(line)
        n += len(line)
    return b"".join(out)


def worker(host, port, sh, ack, domains, sender, size):
    try:
        s = socket.create_connection((host, port), 10)
        s.settimeout(60)
        f = s.makefile("rb")
        if not read_reply(f).startswith(b"220"):
            raise ConnectionError("no 220 greeting")
        s.sendall(b"EHLO injector.demo.test\r\n")
        if not read_reply(f).startswith(b"250"):
            raise ConnectionError("EHLO refused")
        while True:
            seq = sh.take()
            if seq is None:
                break
            rcpt = f"u{seq}@{domains[seq % len(domains)]}"
            s.sendall(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\n"
                      "DATA\r\n".encode())
            replies = [read_reply(f) for _ in range(3)]
            if not replies[2].startswith(b"354"):
                bad = next(r for r in replies if not r.startswith((b"2", b"3")))
                with sh.lock:
                    sh.refused += 1
                    ack.write(f"refused {bad[:3].decode()} {seq} {rcpt}\n")
                if replies[0].startswith(b"250"):
                    s.sendall(b"RSET\r\n")
                    read_reply(f)
                continue
            t0 = time.monotonic()
            s.sendall(make_body(seq, rcpt, sender, size) + b".\r\n")
            r = read_reply(f)
            ms = (time.monotonic() - t0) * 1000.0
            m = QUEUED.search(r)
            with sh.lock:
                if m:
                    sh.ok += 1
                    ack.write(f"ok {m.group(1).decode()} {seq} {rcpt} "
                              f"{ms:.1f}\n")
                else:
                    sh.refused += 1
                    ack.write(f"refused {r[:3].decode()} {seq} {rcpt}\n")
        s.sendall(b"QUIT\r\n")
        read_reply(f)
        s.close()
    except (OSError, ConnectionError) as e:
        with sh.lock:
            sh.errors.append(str(e))


def bar(done, count, t0, width=40):
    secs = max(time.monotonic() - t0, 1e-6)
    frac = done / count if count else 1.0
    fill = int(width * frac)
    return (f"inject [{'#' * fill}{'.' * (width - fill)}] {done}/{count} "
            f"{frac * 100:5.1f}% {done / secs:6.0f} msg/s")


def progress(sh, count, t0, stop):
    tty = sys.stderr.isatty()
    step = max(count // 10, 1)
    shown = 0
    while not stop.wait(0.1 if tty else 0.5):
        with sh.lock:
            done = sh.ok + sh.refused
        if tty:
            sys.stderr.write("\r" + bar(done, count, t0))
            sys.stderr.flush()
        elif done >= shown + step:
            shown = done - done % step
            sys.stderr.write(bar(done, count, t0) + "\n")
            sys.stderr.flush()
    done = sh.ok + sh.refused
    sys.stderr.write(("\r" if tty else "") + bar(done, count, t0) + "\n")
    sys.stderr.flush()


def main():
    a = sys.argv[1:]
    if len(a) < 4:
        sys.stderr.write(__doc__)
        return 2
    host, port, count, ackfile = a[0], int(a[1]), int(a[2]), a[3]
    conns, size, sender, domains = 20, 2048, "sender@bounces.demo.test", []
    i = 4
    while i + 1 < len(a):
        k, v = a[i], a[i + 1]
        if k == "--conns":
            conns = int(v)
        elif k == "--size":
            size = int(v)
        elif k == "--sender":
            sender = v
        elif k == "--domains":
            domains = [d for d in v.split(",") if d]
        else:
            break
        i += 2
    if i != len(a) or not domains or count < 0 or conns < 1:
        sys.stderr.write(__doc__)
        return 2
    sh = Shared(count)
    t0 = time.monotonic()
    stop = threading.Event()
    with open(ackfile, "w", buffering=1) as ack:
        pb = threading.Thread(target=progress, args=(sh, count, t0, stop))
        pb.start()
        ts = [threading.Thread(target=worker,
                               args=(host, port, sh, ack, domains, sender,
                                     size), daemon=True)
              for _ in range(min(conns, max(count, 1)))]
        for t in ts:
            t.start()
        try:
            for t in ts:
                t.join()
        finally:
            stop.set()
            pb.join()
        secs = time.monotonic() - t0
        ack.write(f"done {sh.ok + sh.refused} {sh.ok} {sh.refused} "
                  f"{secs:.3f}\n")
    for e in sorted(set(sh.errors)):
        sys.stderr.write(f"inject: connection lost: {e}\n")
    if sh.refused:
        sys.stderr.write(f"inject: {sh.refused} messages refused\n")
    return 0 if sh.ok == count else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # die by SIGINT, quietly, so that the calling shell sees a Ctrl-C
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
