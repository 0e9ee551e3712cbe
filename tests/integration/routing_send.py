#!/usr/bin/python3
"""Test sender for test_routing.sh: submit messages to ringmta over SMTP.

usage: routing_send.py PORT FROM TO[,TO...] [--count N] [--header "K: V"]...
                       [--body TEXT] [--save FILE]

Sends COUNT messages on one connection (smtplib), each with From, To,
Subject "rt SEQ", a unique Message-ID, the extra headers and the body.
--save writes the bytes of the last message as submitted (CRLF) to FILE.
Exits 1 if any message is refused.
"""
import smtplib
import sys
import uuid


def main():
    a = sys.argv[1:]
    port, sender, rcpts = int(a[0]), a[1], a[2].split(",")
    count, headers, body, save = 1, [], "hello from test_routing\r\n", None
    i = 3
    while i < len(a):
        if a[i] == "--count":
            count = int(a[i + 1])
        elif a[i] == "--header":
            headers.append(a[i + 1])
        elif a[i] == "--body":
            body = a[i + 1].replace("\\n", "\r\n")
        elif a[i] == "--save":
            save = a[i + 1]
        else:
            sys.exit("bad argument " + a[i])
        i += 2
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.ehlo("sender.test")
    msg = b""
    for seq in range(count):
        h = [f"From: <{sender}>", f"To: <{rcpts[0]}>", f"Subject: rt {seq}",
             f"Message-ID: <{uuid.uuid4().hex}@rt.test>"] + headers
        msg = ("\r\n".join(h) + "\r\n\r\n" + body).encode()
        s.sendmail(sender, rcpts, msg)
    s.quit()
    if save:
        with open(save, "wb") as f:
            f.write(msg)


if __name__ == "__main__":
    main()
