#!/usr/bin/env python3
"""content.py - print a message's MIME content entity: its Content-* header
fields as they stand, the empty line, the body; what a wrap must keep byte
for byte.  usage: content.py MESSAGE"""
import re
import sys

raw = open(sys.argv[1], "rb").read()
# the wire form: every line ending CRLF (as sinkd -t and an MTA make it)
raw = re.sub(rb"\r?\n", b"\r\n", raw)
nl = b"\r\n" if b"\r\n" in raw else b"\n"
if raw.startswith(b"From "):
    raw = raw[raw.index(nl) + len(nl):]
head, _, body = raw.partition(nl + nl)
fields, out = [], []
for line in head.split(nl):
    if line[:1] in (b" ", b"\t") and fields:
        fields[-1].append(line)
    else:
        fields.append([line])
for f in fields:
    if f[0].lower().startswith(b"content-"):
        out.append(nl.join(f) + nl)
sys.stdout.buffer.write(b"".join(out) + nl + body)
