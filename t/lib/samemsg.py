#!/usr/bin/env python3
"""samemsg.py HELD DELIVERED [IGNORE...] - whether DELIVERED is HELD as
delivered: the same header fields, in the same order and byte for byte
(line ends aside), once the fields named IGNORE (case-insensitive: the
MTA's trace fields) are set aside in DELIVERED, and the same body byte for
byte (line ends made LF).  Prints each difference; exit 0 when none."""
import sys


def split(path):
    data = open(path, "rb").read().replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        head, body = data, b""
    fields = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\n" + line
        elif line:
            fields.append(line)
    return fields, body


def name(field):
    return field.split(b":", 1)[0].strip().lower()


held, hbody = split(sys.argv[1])
got, gbody = split(sys.argv[2])
ignore = {n.lower().encode() for n in sys.argv[3:]}
got = [f for f in got if name(f) not in ignore]
bad = 0
for i in range(max(len(held), len(got))):
    h = held[i] if i < len(held) else b"(none)"
    g = got[i] if i < len(got) else b"(none)"
    if h != g:
        print("field %d: held %r, delivered %r" % (i + 1, h, g))
        bad = 1
if hbody != gbody:
    print("bodies differ: held %d bytes, delivered %d bytes" % (len(hbody), len(gbody)))
    bad = 1
sys.exit(bad)
