#!/usr/bin/env python3
"""avmsg.py - build test messages for the virus handler.

  avmsg.py attach FILE OUT       a multipart/mixed message: a short text
                                 and FILE as a base64 attachment
  avmsg.py nested FILE DEPTH OUT FILE zipped DEPTH times over, attached
  avmsg.py big SIZE OUT          a SIZE-byte pseudo-random attachment
                                 (a clean file larger than a size limit)
  avmsg.py ordinary OUT [FILE [CTE]]
                                 mail as clients send it: a text part
                                 (7bit), an HTML part (quoted-printable,
                                 UTF-8), a 20 KB PDF-like attachment
                                 (base64), and FILE attached with CTE
                                 (7bit, quoted-printable or base64)
  avmsg.py hidden FILE CTE OUT   FILE attached with CTE behind a boundary
                                 with a semicolon, where libclamav's MIME
                                 parser does not look (as ClamAV's own
                                 clam.mail-semicolon-boundary.eml)
"""
import base64
import quopri
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


def encode(data, cte):
    """data as the transfer encoding cte gives it (CRLF line ends)"""
    if cte == "base64":
        text = base64.encodebytes(data)
    elif cte == "quoted-printable":
        # every byte escaped: what libclamav's parser decodes is the file
        text = b"".join(b"=%02X" % c for c in data)
        text = b"=\n".join(text[i:i + 72] for i in range(0, len(text), 72)) + b"\n"
    else:
        text = data + b"\n"
    return text.replace(b"\n", b"\r\n")


def entity(ctype, cte, body, name=None):
    head = "Content-Type: %s\r\nContent-Transfer-Encoding: %s\r\n" % (ctype, cte)
    if name:
        head += 'Content-Disposition: attachment; filename="%s"\r\n' % name
    return head.encode() + b"\r\n" + body


def ordinary(out, extra=None, cte=None):
    r = random.Random(7)
    text = "".join("Line %d of the report, as people write it.\n" % i for i in range(40))
    html = "<html><body><p>R\u00e9sum\u00e9 \u2014 caf\u00e9</p>%s</body></html>\n" % (
        "<p>paragraph %d with a long line of words that a client folds</p>" * 30 % tuple(range(30)))
    parts = [
        entity("text/plain; charset=us-ascii", "7bit", encode(text.encode(), "7bit")),
        entity("text/html; charset=utf-8", "quoted-printable",
               quopri.encodestring(html.encode()).replace(b"\n", b"\r\n")),
        entity('application/pdf; name="report.pdf"', "base64",
               encode(b"%PDF-1.4\n" + r.randbytes(20000), "base64"), "report.pdf"),
    ]
    if extra:
        with open(extra, "rb") as f:
            name = extra.rsplit("/", 1)[-1]
            parts.append(entity('application/octet-stream; name="%s"' % name, cte,
                                encode(f.read(), cte), name))
    b = b"=_ordinary_4f62"
    msg = (b"From: sender@example.org\r\nTo: rcpt@example.net\r\nSubject: report\r\n"
           b"Message-ID: <ordinary@example.org>\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n')
    for p in parts:
        msg += b"--" + b + b"\r\n" + p
        if not p.endswith(b"\r\n"):
            msg += b"\r\n"
    msg += b"--" + b + b"--\r\n"
    with open(out, "wb") as f:
        f.write(msg)


def hidden(path, cte, out):
    with open(path, "rb") as f:
        data = f.read()
    name = path.rsplit("/", 1)[-1]
    msg = (b"Subject: Semicolon in boundary\r\nFrom: sender@example.org\r\n"
           b"To: rcpt@example.net\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="X;"\r\n\r\n'
           b"--X\r\n" + entity('text/plain; charset="us-ascii"', "7bit", b"Hello\r\n")
           + b"--X--\r\n--X;\r\n"
           + entity('application/octet-stream; name="%s"' % name.encode().decode(), cte,
                    encode(data, cte), name)
           + b"--X;--\r\n")
    with open(out, "wb") as f:
        f.write(msg)


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
    elif cmd == "ordinary":
        ordinary(sys.argv[2], *sys.argv[3:5])
    elif cmd == "hidden":
        hidden(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)


main()
