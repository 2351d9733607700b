#!/usr/bin/env python3
"""milterraw.py - one hostile milter packet, sent to a filter's socket.

  milterraw.py SOCKET CASE [N]

Plays the MTA (protocol 6, every step asked for with a reply) through
CONNECT, HELO, MAIL, RCPT, DATA and two header fields of a small
message, then sends what CASE says (a header field before the end of
the header, the rest after it):

  ok          a small body and end of message (the control case)
  header N    one header field of N bytes (one SMFIC_HEADER packet)
  body N      one body chunk of N bytes (one SMFIC_BODY packet)
  length N    only a packet header that announces N bytes of body chunk

Prints "reply=C" (C: the command letter of the filter's answer to the
last packet), or "closed" when the filter closed the connection
instead, or "timeout".  SOCKET is unix:/path.
"""
import socket
import struct
import sys

TIMEOUT = 60


class Closed(Exception):
    pass


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        try:
            chunk = s.recv(n - len(out))
        except (ConnectionResetError, BrokenPipeError):
            raise Closed()
        if not chunk:
            raise Closed()
        out += chunk
    return out


def reply(s):
    """the next reply packet's command, progress packets skipped"""
    while True:
        (n,) = struct.unpack(">I", recv_exact(s, 4))
        data = recv_exact(s, n)
        if data[:1] != b"p":
            return data[:1].decode("latin-1")


def send(s, data):
    try:
        s.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        raise Closed()


def step(s, cmd, data=b""):
    send(s, packet(cmd, data))
    return reply(s)


def session(path, case, n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    try:
        send(s, packet(b"O", struct.pack(">III", 6, 0x1ff, 0)))
        reply(s)
        step(s, b"C", b"client.example\0" + b"4" + struct.pack(">H", 25) + b"192.0.2.1\0")
        step(s, b"H", b"client.example\0")
        step(s, b"M", b"<a@example.org>\0")
        step(s, b"R", b"<b@example.net>\0")
        step(s, b"T")
        step(s, b"L", b"From\0a@example.org\0")
        step(s, b"L", b"Subject\0raw packets\0")
        if case == "header":
            return step(s, b"L", b"X-Long\0" + b"a" * n + b"\0")
        step(s, b"N")
        if case == "ok":
            step(s, b"B", b"a small body\r\n")
            return step(s, b"E")
        if case == "body":
            return step(s, b"B", b"a" * (n - 2) + b"\r\n")
        if case == "length":
            send(s, struct.pack(">I", n + 1) + b"B")
            return reply(s)
        sys.exit(__doc__)
    finally:
        s.close()


def main():
    if len(sys.argv) < 3 or not sys.argv[1].startswith("unix:"):
        sys.exit(__doc__)
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    try:
        print("reply=" + session(sys.argv[1][5:], sys.argv[2], n))
    except Closed:
        print("closed")
    except socket.timeout:
        print("timeout")


main()
