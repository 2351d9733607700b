#!/usr/bin/env python3
"""hidden.py - build messages that hide an attachment, for t/hidden.t.

  hidden.py entity NAME FILE OUT    a MIME entity (no message fields):
                                    multipart/mixed with a short text and
                                    FILE as base64 attachment NAME
  hidden.py p7 KIND DER OUT         a MIME entity: DER (CMS signed-data)
                                    as an S/MIME part of KIND (below),
                                    base64, or binary for KIND binary
  hidden.py multipart ENTITY OUT    a MIME entity: multipart/mixed with a
                                    text and ENTITY as its second part
  hidden.py message ENTITY OUT      a message whose body is ENTITY
  hidden.py mixed ENTITY OUT        a message: multipart/mixed with a text
                                    and ENTITY as its second part
  hidden.py rfc822 MSG OUT          a message: multipart/mixed with a text
                                    and MSG attached as message/rfc822
  hidden.py attach NAME FILE OUT    a message with FILE attached as NAME
  hidden.py zip OUT NAME=FILE...    a zip of those members (FILE "-" is
                                    a short text); tar, tgz the same
  hidden.py many OUT N              a zip of N small members
  hidden.py twofaced OUT SHOWN HIDDEN  a zip of one member, named SHOWN in
                                    its central directory and HIDDEN (of
                                    the same length) in its local header

KIND: pkcs7 (application/pkcs7-mime; smime-type=signed-data), x-pkcs7,
pkcs7-notype and x-pkcs7-notype (without smime-type), octet (application/
octet-stream named smime.p7m), binary (pkcs7, transfer encoding binary:
for content inside a signature only, where no MTA changes line ends).
Every line ends CRLF, as on the wire.
"""
import base64
import io
import sys
import tarfile
import zipfile

HEAD = ("From: sender@example.org\r\nTo: rcpt@example.net\r\n"
        "Subject: hidden\r\nMessage-ID: <%s@example.org>\r\nMIME-Version: 1.0\r\n")

TYPES = {
    "pkcs7": 'application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
    "x-pkcs7": 'application/x-pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
    "pkcs7-notype": 'application/pkcs7-mime; name="smime.p7m"',
    "x-pkcs7-notype": "application/x-pkcs7-mime",
    "octet": 'application/octet-stream; name="smime.p7m"',
    "binary": 'application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
}


def b64(data):
    s = base64.b64encode(data)
    return b"\r\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + b"\r\n"


def read(path):
    if path == "-":
        return b"Nothing to see here.\r\n"
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def entity(name, data):
    return (b'Content-Type: multipart/mixed; boundary="in-1"\r\n\r\n'
            b"--in-1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            b"Please run the tool.\r\n"
            b"--in-1\r\nContent-Type: application/octet-stream\r\n"
            b'Content-Disposition: attachment; filename="' + name.encode() + b'"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(data) + b"--in-1--\r\n")


def p7(kind, der):
    fields = "Content-Type: %s\r\n" % TYPES[kind]
    if kind == "binary":
        return (fields + "Content-Transfer-Encoding: binary\r\n\r\n").encode() + der
    fields += 'Content-Disposition: attachment; filename="smime.p7m"\r\n'
    return (fields + "Content-Transfer-Encoding: base64\r\n\r\n").encode() + b64(der)


def head(tag):
    return (HEAD % tag).encode()


def multipart(part, boundary="out-1"):
    b = boundary.encode()
    return (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n'
            b"--" + b + b"\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee below.\r\n"
            b"--" + b + b"\r\n" + part + b"\r\n--" + b + b"--\r\n")


def mixed(part, tag):
    return head(tag) + multipart(part)


def archive(kind, members):
    b = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members:
                z.writestr(name, data)
    else:
        with tarfile.open(fileobj=b, mode="w:gz" if kind == "tgz" else "w") as t:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return b.getvalue()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "entity":
        write(args[2], entity(args[0], read(args[1])))
    elif cmd == "p7":
        write(args[2], p7(args[0], read(args[1])))
    elif cmd == "multipart":
        write(args[1], multipart(read(args[0]), "mid-1"))
    elif cmd == "message":
        write(args[1], head("whole") + read(args[0]))
    elif cmd == "mixed":
        write(args[1], mixed(read(args[0]), "mixed"))
    elif cmd == "rfc822":
        part = b"Content-Type: message/rfc822\r\n\r\n" + read(args[0])
        write(args[1], mixed(part, "rfc822"))
    elif cmd == "attach":
        part = (b"Content-Type: application/octet-stream\r\n"
                b'Content-Disposition: attachment; filename="' + args[0].encode() + b'"\r\n'
                b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(read(args[1])))
        write(args[2], mixed(part, "attach"))
    elif cmd in ("zip", "tar", "tgz"):
        members = [(m.split("=", 1)[0], read(m.split("=", 1)[1])) for m in args[1:]]
        write(args[0], archive(cmd, members))
    elif cmd == "twofaced":
        shown, hidden = args[1].encode(), args[2].encode()
        z = archive("zip", [(args[1], b"MZ")])
        # the local header comes first, the central directory last
        write(args[0], z.replace(shown, hidden, 1))
    elif cmd == "many":
        write(args[0], archive("zip", [("f%d.txt" % i, b"x") for i in range(int(args[1]))]))
    else:
        sys.exit(__doc__)


main()
