#!/usr/bin/env python3
"""dnsanswer.py - a DNS server on UDP that answers from a zone file

    dnsanswer.py [-p PORT] [-l LOG] ZONE

Binds 127.0.0.1:PORT (UDP; PORT 0 or none: one the system chooses), and
[::1] on the same port where it can, then prints one line, "PORT ::1"
(or "PORT -" without IPv6), and answers until SIGTERM.  Every query read
adds a line "NAME TYPE" to LOG (written at once, so a test can count
them).  A test tool, not a DNS server: it knows the few fields it needs.

On TCP (127.0.0.1:PORT) it is the server a resolver must not wait for:
it accepts, adds a line "- tcp" to LOG, reads, answers nothing, and
closes the connection 10 s later.

ZONE has one line per record or behaviour, "NAME KIND [DATA]" (names
compared without case; "#" lines and empty ones are skipped):

    NAME TXT TEXT       a TXT record (several lines: several records);
                        TEXT is the rest of the line, \\xHH a byte, \\\\ a
                        backslash; cut into character-strings of 255 bytes
    NAME CNAME TARGET   an alias: the answer is the chain (up to 16 links,
                        each name once, as a resolver would send a loop)
                        and the TXT records of its end
    NAME EXTRA OTHER    OTHER's TXT records too, under OTHER's name (a
                        server's answer with records not asked for)
    NAME STALL          no answer, ever
    NAME SERVFAIL       rcode SERVFAIL
    NAME TRUNCATED      TC set (an answer cut short), with the name's TXT
                        records if it has some
    NAME GARBAGE        the query's header and question, three answer
                        records announced, bytes that are no record
    NAME BADTXT         a TXT record whose character-string runs past
                        the end of its data

Any other name: NXDOMAIN; a name of the zone asked for another type:
no records.  Answers have AA and RA set: glibc's resolver takes an empty
answer with neither for a lame server's.  An answer over 65000 bytes
goes as TRUNCATED.
"""
import argparse
import re
import select
import signal
import socket
import struct
import sys
import time

T_TXT, T_CNAME = 16, 5


def unescape(text):
    """the bytes of a zone TXT text: \\xHH a byte, \\\\ a backslash"""
    return re.sub(rb"\\(x[0-9a-fA-F]{2}|\\)",
                  lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1)[1:], 16)]),
                  text.encode("utf-8", "surrogateescape"))


def read_zone(path):
    """name -> list of (kind, data)"""
    zone = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split(" ", 2)
            name, kind = parts[0].lower().rstrip("."), parts[1].upper()
            data = parts[2] if len(parts) > 2 else ""
            if kind == "TXT":
                data = unescape(data)
            elif kind in ("CNAME", "EXTRA"):
                data = data.strip().lower().rstrip(".")
            zone.setdefault(name, []).append((kind, data))
    return zone


def question(data):
    """the query's name (lower case), its type, and the end of its question"""
    i, labels = 12, []
    while i < len(data) and data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
        i += 1 + data[i]
    if i + 5 > len(data):
        return None, None, None
    return ".".join(labels).lower(), struct.unpack("!H", data[i + 1:i + 3])[0], i + 5


def wire_name(name):
    out = b""
    for label in name.split(".") if name else []:
        b = label.encode("ascii")
        out += bytes([len(b)]) + b
    return out + b"\0"


def txt_rdata(text):
    chunks = [text[i:i + 255] for i in range(0, len(text), 255)] or [b""]
    return b"".join(bytes([len(c)]) + c for c in chunks)


def rr(owner, rtype, rdata):
    return owner + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata


def header(query, rcode, ancount, tc=False):
    rd = query[2] & 1
    flags1 = 0x80 | 0x04 | (0x02 if tc else 0) | rd     # QR, AA, TC, RD
    flags2 = 0x80 | rcode                               # RA
    return query[:2] + struct.pack("!BBHHHH", flags1, flags2, 1, ancount, 0, 0)


def answer(zone, query):
    """the reply to query, or None for no reply"""
    name, qtype, end = question(query)
    if name is None:
        return None
    q = query[12:end]
    entries = zone.get(name)
    if entries is None:
        return header(query, 3, 0) + q
    kinds = [k for k, _ in entries]
    if "STALL" in kinds:
        return None
    if "SERVFAIL" in kinds:
        return header(query, 2, 0) + q
    if "TRUNCATED" in kinds:
        txt = [rr(b"\xc0\x0c", T_TXT, txt_rdata(d)) for k, d in entries if k == "TXT"]
        return header(query, 0, len(txt), tc=True) + q + b"".join(txt)
    if "GARBAGE" in kinds:
        return header(query, 0, 3) + q + b"\xc0\x0c\x00\x10\x00\x01\xff\xff" + bytes(range(7))
    if "BADTXT" in kinds:
        return header(query, 0, 1) + q + rr(b"\xc0\x0c", T_TXT, b"\x10abc")
    records, owner, seen = [], name, set()
    while qtype != T_CNAME and len(seen) < 16:
        seen.add(owner)
        alias = [d for k, d in zone.get(owner, []) if k == "CNAME"]
        if not alias:
            break
        records.append(rr(wire_name(owner), T_CNAME, wire_name(alias[0])))
        if alias[0] in seen:
            break
        owner = alias[0]
    if qtype == T_TXT:
        records += [rr(wire_name(owner), T_TXT, txt_rdata(d))
                    for k, d in zone.get(owner, []) if k == "TXT"]
        for other in [d for k, d in entries if k == "EXTRA"]:
            records += [rr(wire_name(other), T_TXT, txt_rdata(d))
                        for k, d in zone.get(other, []) if k == "TXT"]
    reply = header(query, 0, len(records)) + q + b"".join(records)
    if len(reply) > 65000:
        return header(query, 0, 0, tc=True) + q
    return reply


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-p", "--port", type=int, default=0)
    ap.add_argument("-l", "--log")
    ap.add_argument("zone")
    args = ap.parse_args()
    zone = read_zone(args.zone)
    for _ in range(50):     # a port free for both UDP and TCP
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", args.port))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", port))
            break
        except OSError:
            udp.close()
            tcp.close()
            if args.port:
                raise
    else:
        sys.exit("dnsanswer.py: no port free for both UDP and TCP")
    tcp.listen(16)
    socks = [udp]
    v6 = "-"
    try:
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s6.bind(("::1", port))
        socks.append(s6)
        v6 = "::1"
    except OSError:
        pass
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
    log = open(args.log, "a") if args.log else None
    print(port, v6, flush=True)
    held = {}       # TCP connection -> when to close it
    while True:
        ready, _, _ = select.select(socks + [tcp] + list(held), [], [], 1)
        for s in ready:
            if s is tcp:
                conn, _ = tcp.accept()
                held[conn] = time.monotonic() + 10
                if log:
                    log.write("- tcp\n")
                    log.flush()
                continue
            if s in held:
                try:
                    if s.recv(65535):
                        continue
                except OSError:
                    pass
                held[s] = 0     # the asker is gone
                continue
            try:
                data, peer = s.recvfrom(65535)
            except OSError:
                continue    # an earlier answer's asker was gone (ICMP)
            if len(data) < 17:
                continue
            name, qtype, _ = question(data)
            if log:
                log.write("%s %s\n" % (name, qtype))
                log.flush()
            reply = answer(zone, data)
            if reply is None:
                continue
            try:
                s.sendto(reply, peer)
            except OSError:
                pass    # the asker is gone
        for c in [c for c, t in held.items() if t < time.monotonic()]:
            c.close()
            del held[c]


if __name__ == "__main__":
    main()
