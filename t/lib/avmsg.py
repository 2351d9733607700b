#!/usr/bin/env python3
"""avmsg.py - build test messages for the virus handler.

  avmsg.py attach FILE OUT       a multipart/mixed message: a short text
                                 and FILE as a base64 attachment
  avmsg.py nested FILE DEPTH OUT FILE zipped DEPTH times over, attached
  avmsg.py big SIZE OUT          a SIZE-byte pseudo-random attachment
                                 (a clean file larger than a size limit)
"""
import io
import random
import sys
import zipfile
from email.message import EmailMessage
from email.policy import SMTP


def message(name, data, out):
    m = EmailMessage(policy=SMTP)
    m["From"] = "sender@example.org"
    m["To"] = "rcpt@example.net"
    m["Subject"] = "attachment " + name
    m["Message-ID"] = "<%s.%d@example.org>" % (name.replace("/", "_"), len(data))
    m.set_content("See the attachment.\n")
    m.add_attachment(data, maintype="application", subtype="octet-stream",
                     filename=name)
    with open(out, "wb") as f:
        f.write(m.as_bytes())


def main():
    cmd = sys.argv[1]
    if cmd == "attach":
        with open(sys.argv[2], "rb") as f:
            data = f.read()
        message(sys.argv[2].rsplit("/", 1)[-1], data, sys.argv[3])
    elif cmd == "nested":
        with open(sys.argv[2], "rb") as f:
            data = f.read()
        name = sys.argv[2].rsplit("/", 1)[-1]
        for i in range(int(sys.argv[3])):
            b = io.BytesIO()
            with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(name, data)
            data, name = b.getvalue(), "level%d.zip" % i
        message(name, data, sys.argv[4])
    elif cmd == "big":
        r = random.Random(4)
        message("big.bin", r.randbytes(int(sys.argv[2])), sys.argv[3])
    else:
        sys.exit(__doc__)


main()
