#!/usr/bin/env python3
# release-token.py KEY ID ISSUED SENDER RCPTS MESSAGE - print MESSAGE (a
# file, CRLF line ends) with an X-Sinkd-Released field first, made with the
# quarantine key file KEY as sinkd-quarantine makes it (see
# sinkd-quarantine(8), THE RELEASE TOKEN): for entry ID, made at ISSUED
# (Unix seconds), to SENDER and the comma-separated RCPTS
import hashlib
import hmac
import os
import sys

key_file, ident, issued, sender, rcpts, message = sys.argv[1:7]
key = open(key_file, "rb").read()
msg = open(message, "rb").read()
body = msg[msg.index(b"\r\n\r\n") + 4:]
rs = sorted(set(r.lower().encode() for r in rcpts.split(",")))
env = hashlib.sha256(sender.lower().encode() + b"\0"
                     + b"".join(r + b"\0" for r in rs)).hexdigest()[:32]
nonce = os.urandom(8).hex()
data = (b"sinkd-release-2\0"
        + b"".join(f.encode() + b"\0" for f in (ident, issued, nonce, env))
        + hashlib.sha256(body).digest())
mac = hmac.new(key, data, hashlib.sha256).hexdigest()
line = "X-Sinkd-Released: %s; %s; %s; %s; %s\r\n" % (ident, issued, nonce, env, mac)
sys.stdout.buffer.write(line.encode() + msg)
