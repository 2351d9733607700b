#!/usr/bin/env python3
"""dnsstall.py - a DNS server on UDP that reads queries and does not answer

    dnsstall.py ADDRESS PORT DIR

Binds ADDRESS:PORT (UDP), then writes DIR/ready.  Every query read adds
a line to DIR/queries (its name and type).  It answers none of them
until SIGUSR1: from then on it answers each query read before and after
(A: ADDRESS itself, any other type: no answer records, NOERROR), as a
DNS server that comes back would.  SIGTERM ends it.
"""
import signal
import socket
import struct
import sys

addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((addr, port))
pending = []
answering = False


def question(data):
    """the query's name (text) and the end of its question section"""
    i, labels = 12, []
    while i < len(data) and data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
        i += 1 + data[i]
    return ".".join(labels), i + 5


def answer(data, peer):
    name, end = question(data)
    qtype = struct.unpack("!H", data[end - 4:end - 2])[0]
    rd = data[2] & 1
    ancount = 1 if qtype == 1 else 0
    reply = data[:2] + struct.pack("!BBHHHH", 0x80 | rd, 0x80, 1, ancount, 0, 0) + data[12:end]
    if ancount:
        reply += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(addr)
    try:
        sock.sendto(reply, peer)
    except OSError:
        pass    # the asker is gone


def come_back(signum, frame):
    global answering
    answering = True
    for data, peer in pending:
        answer(data, peer)
    pending.clear()


signal.signal(signal.SIGUSR1, come_back)
signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
open(out + "/ready", "w").close()
while True:
    try:
        data, peer = sock.recvfrom(4096)
    except OSError:
        continue    # an earlier answer's asker was gone (ICMP)
    if len(data) < 17:
        continue
    name, end = question(data)
    with open(out + "/queries", "a") as f:
        f.write("%s %d\n" % (name, struct.unpack("!H", data[end - 4:end - 2])[0]))
    if answering:
        answer(data, peer)
    else:
        pending.append((data, peer))
