#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Small helpers for tools/demo_e2e.sh (Python standard library only).

usage:
  demo_util.py free-port ADDR [--udp]   a port the kernel found free on ADDR
                                        (TCP, and UDP too with --udp)
  demo_util.py dns-ready ADDR PORT NAME SECONDS
                                        exit 0 once ADDR:PORT answers an MX
                                        query for NAME with NOERROR, 1 when
                                        SECONDS pass first
  demo_util.py mx ADDR PORT NAME        print NAME's MX answer: one line
                                        "PREF TARGET" per record ("0 ." for a
                                        null MX), or "rcode N"

It never talks to anything but the address it is given, which the demo
keeps on 127.0.0.x.
"""
import random
import socket
import struct
import sys
import time


def free_port(addr, udp):
    """A port that was free a moment ago for TCP (and UDP) on addr."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind((addr, 0))
        port = t.getsockname()[1]
        if not udp:
            t.close()
            return port
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((addr, port))
        except OSError:
            t.close()
            continue
        u.close()
        t.close()
        return port
    raise SystemExit("demo_util: no free port found")


def mx_query(addr, port, name, timeout=0.5):
    """(rcode, [(pref, target)]) of one UDP MX query, or None on timeout."""
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 15, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (addr, port))
        while True:
            data, _ = s.recvfrom(4096)
            if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
                break
    except (socket.timeout, ConnectionRefusedError):
        return None
    finally:
        s.close()
    flags, qd, an = struct.unpack(">HHH", data[2:8])
    pos = 12
    for _ in range(qd):
        pos = skip_name(data, pos) + 4
    out = []
    for _ in range(an):
        pos = skip_name(data, pos)
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == 15:
            pref = struct.unpack(">H", data[pos:pos + 2])[0]
            out.append((pref, read_name(data, pos + 2)))
        pos += rdlen
    return flags & 0xF, out


def skip_name(data, pos):
    while True:
        n = data[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += n + 1


def read_name(data, pos):
    labels = []
    for _ in range(128):
        n = data[pos]
        if n == 0:
            break
        if n & 0xC0 == 0xC0:
            pos = struct.unpack(">H", data[pos:pos + 2])[0] & 0x3FFF
            continue
        labels.append(data[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += n + 1
    return ".".join(labels) or "."


def main():
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "free-port":
        print(free_port(a[1], "--udp" in a[2:]))
    elif len(a) == 5 and a[0] == "dns-ready":
        end = time.monotonic() + float(a[4])
        while time.monotonic() < end:
            r = mx_query(a[1], int(a[2]), a[3])
            if r is not None and r[0] == 0:
                return 0
            time.sleep(0.1)
        return 1
    elif len(a) == 4 and a[0] == "mx":
        r = mx_query(a[1], int(a[2]), a[3], 2.0)
        if r is None:
            print("timeout")
            return 1
        if r[0] != 0:
            print(f"rcode {r[0]}")
        for pref, target in r[1]:
            print(pref, target)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
