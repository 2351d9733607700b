#!/usr/bin/env python3
"""wrapped.py - what a message wrapped whole (a sink's wrap()) holds, on
one line: the new message's From | the wrapped message's From | the
content types in order | the text after the wrapped message.
usage: wrapped.py MESSAGE"""
import email
import sys

m = email.message_from_binary_file(open(sys.argv[1], "rb"))
inner = m.get_payload(0).get_payload(0)
print(m["From"], "|", inner["From"], "|", " ".join(p.get_content_type() for p in m.walk()),
      "|", m.get_payload(1).get_payload().strip())
