#!/usr/bin/python3
"""Test injector: sends messages over SMTP and records every acknowledgement.

usage: inject.py HOST PORT COUNT ACKFILE [--conns N] [--size BYTES]
                 [--rcpts N] [--pipeline]

Each connection sends messages until COUNT are sent in total.  Every "250"
to the end of data whose text says "queued as ID" is appended to ACKFILE
("ID seq" per line) and flushed at once, so a test that kills the server
knows exactly which messages were acknowledged.  Any other reply to the end
of data is recorded as "REFUSED code seq".  Exits 0 when all were sent, 1
when the server went away (expected in crash tests).
"""
import os
import re
import socket
import sys
import threading

QUEUED = re.compile(rb"^250[ -].*queued as ([0-9a-f]{32})", re.M)


def read_reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("closed")
        lines.append(line)
        if len(line) < 4 or line[3:4] == b" ":
            return b"".join(lines)


def body(seq, size):
    head = (f"Subject: test {seq}\r\nX-Seq: {seq}\r\n\r\n").encode()
    line = (f"line of message {seq} " * 4)[:70].encode() + b"\r\n"
    out = [head]
    n = len(head)
    while n < size:
        out.append(line)
        n += len(line)
    return b"".join(out)


class State:
    def __init__(self, count):
        self.lock = threading.Lock()
        self.next = 0
        self.count = count
        self.broken = False

    def take(self):
        with self.lock:
            if self.next >= self.count:
                return None
            self.next += 1
            return self.next - 1


def worker(host, port, st, ack, size, nrcpt, pipeline):
    try:
        s = socket.create_connection((host, port), 10)
        f = s.makefile("rb")
        if not read_reply(f).startswith(b"220"):
            raise ConnectionError("no greeting")
        s.sendall(b"EHLO inject.test\r\n")
        read_reply(f)
        while True:
            seq = st.take()
            if seq is None:
                break
            rcpts = [f"r{seq}-{k}@dest{k % 3}.test" for k in range(nrcpt)]
            cmds = [b"MAIL FROM:<sender@inject.test>\r\n"]
            cmds += [f"RCPT TO:<{r}>\r\n".encode() for r in rcpts]
            cmds.append(b"DATA\r\n")
            if pipeline:
                s.sendall(b"".join(cmds))
                replies = [read_reply(f) for _ in cmds]
            else:
                replies = []
                for c in cmds:
                    s.sendall(c)
                    replies.append(read_reply(f))
            if not replies[-1].startswith(b"354"):
                with st.lock:
                    ack.write(f"REFUSED {replies[-1][:3].decode()} {seq}\n")
                    ack.flush()
                continue
            s.sendall(body(seq, size) + b".\r\n")
            r = read_reply(f)
            m = QUEUED.search(r)
            with st.lock:
                if m:
                    ack.write(f"{m.group(1).decode()} {seq}\n")
                else:
                    ack.write(f"REFUSED {r[:3].decode()} {seq}\n")
                ack.flush()
                os.fsync(ack.fileno())
        s.sendall(b"QUIT\r\n")
        s.close()
    except (OSError, ConnectionError):
        st.broken = True


def main():
    a = sys.argv[1:]
    host, port, count, ackfile = a[0], int(a[1]), int(a[2]), a[3]
    conns, size, nrcpt, pipeline = 1, 1024, 1, False
    i = 4
    while i < len(a):
        if a[i] == "--conns":
            conns = int(a[i + 1]); i += 2
        elif a[i] == "--size":
            size = int(a[i + 1]); i += 2
        elif a[i] == "--rcpts":
            nrcpt = int(a[i + 1]); i += 2
        elif a[i] == "--pipeline":
            pipeline = True; i += 1
        else:
            sys.exit(f"inject.py: unknown option {a[i]}")
    st = State(count)
    with open(ackfile, "a") as ack:
        ts = [threading.Thread(target=worker,
                               args=(host, port, st, ack, size, nrcpt,
                                     pipeline)) for _ in range(conns)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    sys.exit(1 if st.broken else 0)


if __name__ == "__main__":
    main()
