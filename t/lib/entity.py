#!/usr/bin/env python3
"""entity.py - print the raw bytes of part N (0-based) of a multipart
message, exactly as they stand between its boundary lines, for openssl or
cmp.  usage: entity.py MESSAGE N"""
import email
import email.policy
import re
import sys

raw = open(sys.argv[1], "rb").read()
# the wire form: every line ending CRLF (as sinkd -t and an MTA make it)
raw = re.sub(rb"\r?\n", b"\r\n", raw)
# (a byte-order mark before the first field hides the fields from Python)
msg = email.message_from_bytes(raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw,
                               policy=email.policy.compat32)
boundary = msg.get_boundary()
if boundary is None:
    sys.exit("not a multipart message")
nl = b"\r\n" if b"\r\n" in raw else b"\n"
delim = nl + b"--" + boundary.encode()
# the body starts after the first empty line; a delimiter may open it
body = raw[raw.index(nl + nl) + len(nl):]
chunks = (nl + body).split(delim)
# chunks[0] is the preamble; each later chunk starts with the rest of the
# delimiter line (transport padding, then a line ending, or "--")
n = int(sys.argv[2])
part = chunks[n + 1]
part = part[part.index(nl) + len(nl):]
sys.stdout.buffer.write(part)
