#!/usr/bin/env python3
"""noheader.py - print a message without the header fields named NAME
(all their lines).  usage: noheader.py MESSAGE NAME"""
import re
import sys

raw = open(sys.argv[1], "rb").read()
# the wire form: every line ending CRLF (as sinkd -t and an MTA make it)
raw = re.sub(rb"\r?\n", b"\r\n", raw)
nl = b"\r\n" if b"\r\n" in raw else b"\n"
head, sep, body = raw.partition(nl + nl)
keep, skipping = [], False
name = sys.argv[2].lower().encode() + b":"
for line in head.split(nl):
    if line[:1] in (b" ", b"\t"):
        if not skipping:
            keep.append(line)
        continue
    skipping = line.lower().startswith(name)
    if not skipping:
        keep.append(line)
sys.stdout.buffer.write(nl.join(keep) + sep + body)
