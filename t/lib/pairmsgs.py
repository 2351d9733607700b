#!/usr/bin/env python3
"""pairmsgs.py - the constructed messages of t/pairs.t, written to DIR.

usage: pairmsgs.py DIR EICAR-FILE

Each one is a case where handlers meet: a banned part alone, a message
with no text body, text that does not decode, a part whose header GMime
cannot write back as it came (malformed structure), a banned part inside
an attached message, a virus in a banned part, and fields the rules
delete.  Written by hand (bytes), not by Python's email package, so that
each is exactly what the case needs; LF line ends (sinkd -t makes them
CRLF, as an MTA does).
"""
import base64
import os
import sys

HEAD = (b"From: Alice <a@example.com>\n"
        b"To: b@example.org\n"
        b"Date: Mon, 2 Feb 2026 10:00:00 +0000\n"
        b"Message-ID: <%s@example.com>\n"
        b"X-Mailer: Case 1.0\n"
        b"X-Pair-Added: spoofed\n"
        b"X-Virus-Status: Clean (claimed by the sender)\n")

TEXT = (b"Hello,\n\nthe report is attached. Read the Message below and see\n"
        b"https://www.example.net/report?id=1 for the rest.\n")

MZ = base64.b64encode(b"MZ\x90\x00" + b"\x00" * 60 + b"not a real program\n")


def b64(data):
    s = base64.b64encode(data)
    return b"\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + b"\n"


def head(name, subject=b"Subject: pair case\n", ct=None):
    h = HEAD % name.encode() + subject + b"MIME-Version: 1.0\n"
    return h + (ct + b"\n" if ct else b"")


def attachment(ctype, fname, data):
    return (b"Content-Type: " + ctype + b"; name=\"" + fname + b"\"\n"
            b"Content-Disposition: attachment; filename=\"" + fname + b"\"\n"
            b"Content-Transfer-Encoding: base64\n\n" + b64(data))


def mixed(boundary, parts):
    out = b""
    for p in parts:
        out += b"--" + boundary + b"\n" + p
    return out + b"--" + boundary + b"--\n"


def cases(eicar):
    exe = base64.b64decode(MZ)
    c = {}
    # the only part is a banned program, in a multipart and at the top
    c["only-exe"] = head("only-exe", ct=b"Content-Type: multipart/mixed; boundary=\"b1\"") + b"\n" + \
        mixed(b"b1", [attachment(b"application/octet-stream", b"x.exe", exe)])
    c["top-exe"] = head("top-exe", ct=b"Content-Type: application/octet-stream; name=\"x.exe\"\n"
                        b"Content-Disposition: attachment; filename=\"x.exe\"\n"
                        b"Content-Transfer-Encoding: base64") + b"\n" + b64(exe)
    # no text body: a picture, a document and a banned name
    c["no-text"] = head("no-text", ct=b"Content-Type: multipart/mixed; boundary=\"b2\"") + b"\n" + \
        mixed(b"b2", [attachment(b"image/png", b"chart.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),
                      attachment(b"application/pdf", b"report.pdf", b"%PDF-1.4\n% the report\n"),
                      attachment(b"application/octet-stream", b"evil-macro.doc", b"PK\x03\x04the")])
    # text that does not decode (a charset nobody knows) beside HTML that does
    c["undecodable"] = head("undecodable", ct=b"Content-Type: multipart/mixed; boundary=\"b3\"") + b"\n" + \
        mixed(b"b3", [b"Content-Type: multipart/alternative; boundary=\"b3a\"\n\n" +
                      mixed(b"b3a", [b"Content-Type: text/plain; charset=x-no-such-charset\n"
                                     b"Content-Transfer-Encoding: 8bit\n\n"
                                     b"the text \xff\xfe\xc3 does not decode; the Message\n",
                                     b"Content-Type: text/html; charset=utf-8\n\n"
                                     b"<html><body><p>the text, the <a href=\"http://www.example.net/x\">"
                                     b"Message</a></p></body></html>\n"]) + b"\n",
                      attachment(b"application/octet-stream", b"setup.exe", exe)])
    # a body part with a header line GMime cannot write back as it came
    c["malformed"] = head("malformed", ct=b"Content-Type: multipart/mixed; boundary=\"b4\"") + b"\n" + \
        mixed(b"b4", [b"Content-Type: text/plain\nX-Junk\n\n" + TEXT,
                      b"Content-Type: text/html\n\n<p>the Message</p>\n",
                      attachment(b"application/octet-stream", b"tool.exe", exe),
                      attachment(b"application/x-msdos-program", b"run.bat", b"@echo the\r\n")])
    # a banned program inside an attached message
    inner = (b"From: c@example.org\nSubject: inner\nX-Mailer: Inner 2.0\nMIME-Version: 1.0\n"
             b"Content-Type: multipart/mixed; boundary=\"in\"\n\n" +
             mixed(b"in", [b"Content-Type: text/plain\n\nthe inner text stays as the sender wrote it\n",
                           attachment(b"application/octet-stream", b"inner.exe", exe),
                           attachment(b"application/octet-stream", b"evil-twin.txt", b"the twin\n")]))
    c["nested-exe"] = head("nested-exe", ct=b"Content-Type: multipart/mixed; boundary=\"b5\"") + b"\n" + \
        mixed(b"b5", [b"Content-Type: text/plain; charset=us-ascii\n\n" + TEXT,
                      b"Content-Type: message/rfc822\nContent-Disposition: attachment; filename=\"fwd.eml\"\n\n"
                      + inner + b"\n"])
    # a virus in a part that is banned as well, and one that is not
    c["virus-exe"] = head("virus-exe", ct=b"Content-Type: multipart/mixed; boundary=\"b6\"") + b"\n" + \
        mixed(b"b6", [b"Content-Type: text/plain\n\n" + TEXT,
                      attachment(b"application/octet-stream", b"eicar.exe", eicar)])
    c["virus-com"] = head("virus-com", subject=b"", ct=b"Content-Type: multipart/mixed; boundary=\"b7\"") + b"\n" + \
        mixed(b"b7", [b"Content-Type: text/html; charset=iso-8859-1\n"
                      b"Content-Transfer-Encoding: quoted-printable\n\n"
                      b"<html><body>Voil=E0 the Message: <a href=3D\"https://www.example.net/\">here</a>"
                      b"</body></html>\n",
                      attachment(b"application/octet-stream", b"eicar.com", eicar)])
    # a plain message with every text rule's target and a tagged Subject
    c["plain"] = head("plain", subject=b"Subject: [EXT] already tagged\n",
                      ct=b"Content-Type: text/plain; charset=us-ascii") + b"\n" + TEXT
    return c


def main():
    out, eicar = sys.argv[1], open(sys.argv[2], "rb").read()
    os.makedirs(out, exist_ok=True)
    for name, data in cases(eicar).items():
        with open(os.path.join(out, name + ".eml"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
