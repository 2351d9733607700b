#!/usr/bin/env python3
"""gen-corpus - messages for the benchmark, every one of them unique

  gen-corpus.py [-n N] [--sizes LIST] [--seed S] [--crlf] DIR
      N messages of each size (default 5 KB, 30 KB, 300 KB and 2 MB),
      written to DIR as <size>-<index>.eml.  Each is multipart/mixed with
      a text/plain body (a multipart/alternative text/plain + text/html
      body for every other message), and from 30 KB on one base64
      attachment: a PDF with a compressed text stream and an embedded
      image, a zip of text files and a picture, or a JPEG, in turn.
      Every message carries a token of its own in its header, its text
      and its attachment's bytes, so that no scanner's cache of clean
      parts sees one twice.

  gen-corpus.py --from-corpus TDIR [-n N] [--seed S] DIR
      Copies the clean messages of TDIR (t/corpus: MANIFEST.tsv
      categories plain, html, alternative, mixed and nested) into DIR,
      N unique copies of each (default 1), with an X-Bench-Token header
      line prepended in the message's own line ending.  A leading mbox
      From_ line is dropped, as an MTA does.

Sizes are approximate (within a few per cent).  The same seed gives the
same corpus; a different seed gives other tokens.
"""

import argparse
import hashlib
import io
import quopri
import os
import random
import sys
import zipfile
import zlib
from base64 import encodebytes

SIZES = {"5k": 5 * 1024, "30k": 30 * 1024, "300k": 300 * 1024, "2m": 2 * 1024 * 1024}
CLEAN = {"plain", "html", "alternative", "mixed", "nested"}

WORDS = """
the of and to in is that for it as was with be by on not he this are or
his from at which but have an they you were her she there been one all we
their has would when if so no will more can out other into some could them
than then its only over also after new two our these may any such first
about most people time year report meeting project budget quarter review
team customer order invoice delivery schedule draft contract proposal
update attached please find below regards thanks question answer office
week monday tuesday wednesday thursday friday morning afternoon call
figures numbers sales market price cost plan agenda minutes notes summary
server network account access password policy release version support
issue ticket change request approval deadline status pending confirmed
""".split()

NAMES = ["Alice Martin", "Bob Dupont", "Carol Weber", "Dan Okafor", "Eve Lindqvist",
         "Frank Novak", "Grace Tanaka", "Hugo Rossi", "Ines Moreau", "Jon Berg"]
DOMAINS = ["example.com", "example.org", "example.net", "lab.test"]
NO_FF = bytes(range(255)) + b"\xfe"
ACCENTED = ["café", "naïve", "über", "déjà", "résumé", "Straße", "coöperate", "façade"]


def sentence(rng, n=None):
    n = n or rng.randint(6, 18)
    w = [rng.choice(WORDS) for _ in range(n)]
    w[0] = w[0].capitalize()
    return " ".join(w) + rng.choice([".", ".", ".", "?", "!"])


def paragraphs(rng, size, token, accents=False):
    """Text of about size bytes, wrapped at 72 columns, token inside."""
    out, total = [], 0
    while total < size:
        words = []
        for _ in range(rng.randint(2, 6)):
            words.extend(sentence(rng).split())
            if accents and rng.random() < 0.3:
                words.append(rng.choice(ACCENTED))
        lines, line = [], ""
        for w in words:
            if line and len(line) + 1 + len(w) > 72:
                lines.append(line)
                line = w
            else:
                line = line + " " + w if line else w
        lines.append(line)
        para = "\n".join(lines)
        out.append(para)
        total += len(para.encode()) + 2
    out.insert(min(1, len(out)), "Reference: %s" % token)
    return out


def qp(text):
    """Quoted-printable, for UTF-8 text with long lines already wrapped."""
    return quopri.encodestring(text.encode("utf-8")).decode("ascii")


def b64(data):
    return encodebytes(data).decode("ascii")


def jpeg(rng, size, token):
    head = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
            b"\xff\xfe" + (len(token) + 2).to_bytes(2, "big") + token.encode())
    # no marker inside the entropy-coded data: no 0xff byte at all
    body = rng.randbytes(max(size - len(head) - 2, 16)).translate(NO_FF)
    return head + body + b"\xff\xd9"


def pdf(rng, size, token):
    text_size = size // 3
    lines = ["BT /F1 10 Tf 50 780 Td 12 TL"]
    for p in paragraphs(rng, text_size * 3, token):
        for ln in p.split("\n"):
            lines.append("(%s) '" % ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)"))
    lines.append("ET")
    content = zlib.compress("\n".join(lines).encode(), 6)
    image = jpeg(rng, max(size - len(content) - 1200, 1024), token)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /XObject /Subtype /Image /Width 640 /Height 480 /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n" % len(image)
        + image + b"\nendstream",
        ("<< /Title (Report %s) /Producer (gen-corpus) >>" % token).encode(),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + o + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objs) + 1, xref))
    return out.getvalue()


def zipped(rng, size, token):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        # text compresses about 3:1: a third of the size as text members
        text = "\n\n".join(paragraphs(rng, size, token))
        z.writestr("notes-%s.txt" % token[:8], text)
        rows = ["id,date,item,amount"]
        for i in range(max(size // 120, 4)):
            rows.append("%d,2024-%02d-%02d,%s %s,%d.%02d" % (
                i, rng.randint(1, 12), rng.randint(1, 28), rng.choice(WORDS),
                rng.choice(WORDS), rng.randint(1, 9999), rng.randint(0, 99)))
        z.writestr("figures.csv", "\n".join(rows) + "\n")
        so_far = out.tell()
        z.writestr(zipfile.ZipInfo("photo.jpg", (2024, 5, 1, 12, 0, 0)),
                   jpeg(rng, max(size - so_far, 1024), token), zipfile.ZIP_STORED)
    return out.getvalue()


KINDS = [("application/pdf", "report.pdf", pdf),
         ("application/zip", "archive.zip", zipped),
         ("image/jpeg", "picture.jpg", jpeg)]


def html_of(paras):
    body = "\n".join("<p>%s</p>" % p.replace("&", "&amp;").replace("<", "&lt;")
                     .replace("\n", " ") for p in paras)
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n"
            "<body style=\"font-family:sans-serif\">\n%s\n</body></html>\n" % body)


def wrap_html(html):
    """HTML as quoted-printable, its lines short."""
    return qp(html)


def message(rng, label, index, target):
    token = hashlib.sha256(rng.randbytes(32)).hexdigest()[:32]
    sender, rcpt = rng.sample(NAMES, 2)
    sdom, rdom = rng.choice(DOMAINS), rng.choice(DOMAINS)
    saddr = sender.split()[0].lower() + "@" + sdom
    raddr = rcpt.split()[0].lower() + "@" + rdom
    alternative = index % 2 == 1
    accents = index % 4 >= 2
    outer = "=_mixed_%s" % token[:16]
    alt = "=_alt_%s" % token[16:]
    day = rng.randint(1, 28)
    head = [
        "Received: from mail.%s (mail.%s [192.0.2.%d])\n\tby mx.%s with ESMTPS id %s\n"
        "\tfor <%s>; Mon, %d May 2024 %02d:%02d:%02d +0000"
        % (sdom, sdom, rng.randint(1, 254), rdom, token[:12].upper(), raddr, day,
           rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)),
        "From: %s <%s>" % (sender, saddr),
        "To: %s <%s>" % (rcpt, raddr),
        "Subject: %s %s (%s)" % (rng.choice(WORDS).capitalize(), rng.choice(WORDS), label),
        "Date: Mon, %d May 2024 %02d:%02d:%02d +0000" % (day, rng.randint(0, 23),
                                                       rng.randint(0, 59), rng.randint(0, 59)),
        "Message-ID: <%s.%s@%s>" % (token, label, sdom),
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed; boundary=\"%s\"" % outer,
        "X-Bench-Token: %s" % token,
    ]
    kind = KINDS[index % len(KINDS)] if target > 8 * 1024 else None
    # text: all of a small message; a few KB beside an attachment
    text_size = target - 800 if kind is None else min(4096, target // 8)
    if alternative and kind is None:
        text_size = (target - 1200) * 10 // 23	# the html is about 1.3x the text
    paras = paragraphs(rng, text_size, token, accents)
    text = "\n\n".join(paras) + "\n"
    if accents:
        tpart = ("Content-Type: text/plain; charset=utf-8\n"
                 "Content-Transfer-Encoding: quoted-printable\n\n" + qp(text))
    else:
        tpart = "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n" + text
    parts = []
    if alternative:
        hpart = ("Content-Type: text/html; charset=utf-8\n"
                 "Content-Transfer-Encoding: quoted-printable\n\n" + wrap_html(html_of(paras)))
        parts.append("Content-Type: multipart/alternative; boundary=\"%s\"\n\n"
                     "--%s\n%s\n--%s\n%s\n--%s--\n" % (alt, alt, tpart, alt, hpart, alt))
    else:
        parts.append(tpart)
    if kind:
        ctype, fname, make = kind
        so_far = len("\n".join(head)) + sum(len(p) for p in parts) + 600
        raw = max((target - so_far) * 57 // 78, 1024)
        data = make(rng, raw, token)
        # one correction for the generators' compression guesses
        if abs(len(data) - raw) > raw // 50:
            data = make(rng, max(raw * raw // len(data), 1024), token)
        parts.append("Content-Type: %s; name=\"%s\"\nContent-Disposition: attachment; "
                     "filename=\"%s\"\nContent-Transfer-Encoding: base64\n\n%s"
                     % (ctype, fname, fname, b64(data)))
    body = "This is a multi-part message in MIME format.\n\n"
    for p in parts:
        body += "--%s\n%s\n" % (outer, p.rstrip("\n") + "\n")
    body += "--%s--\n" % outer
    return "\n".join(head) + "\n\n" + body


def parse_size(s):
    s = s.strip().lower()
    mult = {"k": 1024, "m": 1024 * 1024}.get(s[-1:], 1)
    return int(s.rstrip("km")) * mult


def generate(args):
    rng = random.Random(args.seed)
    sizes = SIZES if args.sizes is None else {
        s.strip().lower(): parse_size(s) for s in args.sizes.split(",") if s.strip()}
    for label, target in sizes.items():
        for i in range(args.n):
            msg = message(rng, label, i, target)
            if args.crlf:
                msg = msg.replace("\n", "\r\n")
            with open(os.path.join(args.dir, "%s-%04d.eml" % (label, i)), "w",
                      encoding="utf-8", newline="") as f:
                f.write(msg)


def from_corpus(args):
    rng = random.Random(args.seed)
    tdir = args.from_corpus
    with open(os.path.join(tdir, "MANIFEST.tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    count = 0
    for row in rows:
        if len(row) < 5 or row[4] not in CLEAN:
            continue
        with open(os.path.join(tdir, row[0]), "rb") as f:
            data = f.read()
        if data.startswith(b"From "):
            nl = data.find(b"\n")
            data = data[nl + 1:] if nl >= 0 else b""
        nl = data.find(b"\n")
        eol = b"\r\n" if nl > 0 and data[nl - 1:nl] == b"\r" else b"\n"
        flat = row[0].replace("/", "_")
        for i in range(args.n):
            token = rng.randbytes(16).hex()
            name = flat if args.n == 1 else "%s.%d" % (flat, i)
            with open(os.path.join(args.dir, name), "wb") as f:
                f.write(b"X-Bench-Token: " + token.encode() + eol + data)
            count += 1
    if count == 0:
        sys.exit("gen-corpus: %s: no clean messages in MANIFEST.tsv" % tdir)


def main():
    p = argparse.ArgumentParser(description="Unique messages for the benchmark.")
    p.add_argument("-n", type=int, default=None,
                   help="messages of each size (default 20), or copies of each corpus message (default 1)")
    p.add_argument("--sizes", help="comma-separated sizes such as 5k,30k,300k,2m")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--crlf", action="store_true", help="CRLF line endings (generated messages)")
    p.add_argument("--from-corpus", metavar="TDIR", help="copy the clean messages of TDIR")
    p.add_argument("dir")
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    if args.from_corpus:
        args.n = 1 if args.n is None else args.n
        from_corpus(args)
    else:
        args.n = 20 if args.n is None else args.n
        generate(args)


if __name__ == "__main__":
    main()
