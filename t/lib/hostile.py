#!/usr/bin/env python3
"""hostile.py - build hostile messages for t/hostile.t, on standard output.

  hostile.py CASE [OPTIONS]

Every message is made here, at test time; none is committed.  Lines end
in LF unless the case is about line ends.  With --eicar the EICAR test
file (68 bytes, base64) is put where the case hides things.

  longheader SIZE [--folded]   one header field of SIZE bytes: one line,
                               or folded into lines of 76
  nul                          NUL bytes in a header value and in the body
  lineends cr|lf|mixed         bare CR, bare LF or mixed line ends
                               (multipart, so structure depends on them)
  parts N                      multipart/mixed with N parts: text ones,
                               then the attachment
  nested N multipart|rfc822    N levels of multipart/mixed, or of
                               message/rfc822 (each in a multipart)
  unclosed                     a boundary that never closes
  dupboundary first|second     two boundary parameters that differ; the
                               part with the payload is delimited by the
                               first or by the second
  badbase64                    a base64 part with garbage in it
  8bitheader                   raw 8-bit bytes in header fields
  params N                     a Content-Type with N parameters
  rfc2231 N EXT                an attachment whose file name (ending in
                               .EXT) is split into N RFC 2231 continuations
  headers N [--binary]         N header fields "X-Spam: yes" (12 bytes
                               each); with --binary, a body no disclaimer
                               can go into (it is wrapped)
  catregex SIZE [--parts]      SIZE bytes of "HOSTILEword word word word!"
                               lines, on which /HOSTILE(\w+\s?)+$/
                               backtracks a little less than the match
                               limit at each; with --parts, after a text
                               part saying "a hostile word"
  big SIZE [cr|crlf]           a text part and an attachment of SIZE bytes
                               of base64, its lines ending in CRLF (LF
                               elsewhere) or in a bare CR
"""
import argparse
import base64
import sys

EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!"
         b"$H+H*")


def head(subject, extra=b""):
    return (b"From: Sender <sender@example.org>\n"
            b"To: rcpt@example.net\n"
            b"Subject: " + subject + b"\n"
            b"Message-ID: <" + subject.replace(b" ", b".") + b"@example.org>\n"
            b"MIME-Version: 1.0\n" + extra)


def text_part(text):
    return (b"Content-Type: text/plain; charset=us-ascii\n\n" + text + b"\n")


def payload(args):
    """the part a case hides: the EICAR file, or a harmless attachment"""
    if args.eicar:
        data, name = EICAR, b"eicar.com"
    elif args.exe:
        data, name = b"MZ not really a program\n" * 3, b"setup.exe"
    else:
        data, name = b"harmless attachment data\n" * 3, b"data.bin"
    return (b"Content-Type: application/octet-stream; name=\"" + name + b"\"\n"
            b"Content-Transfer-Encoding: base64\n"
            b"Content-Disposition: attachment; filename=\"" + name + b"\"\n\n"
            + base64.encodebytes(data))


def multipart(boundary, parts, close=True):
    out = b""
    for p in parts:
        out += b"--" + boundary + b"\n" + p
    if close:
        out += b"--" + boundary + b"--\n"
    return out


def mixed(boundary):
    return b"Content-Type: multipart/mixed; boundary=\"" + boundary + b"\"\n"


def longheader(args):
    size = args.n
    if not args.folded:
        return head(b"long header", b"X-Long: " + b"a" * size + b"\n") \
            + b"\nbody\n"
    lines, left = [], size
    while left > 0:
        n = min(75, left)
        lines.append(b"a" * n)
        left -= n + 2
    return head(b"long folded header", b"X-Long: " + b"\n ".join(lines) + b"\n") \
        + b"\nbody\n"


def nul(args):
    return (head(b"nul", b"X-Nul: before\0after\n" + mixed(b"n0"))
            + b"\n" + multipart(b"n0", [text_part(b"a NUL \0 in text\nand \0\0 more"),
                                         payload(args)]))


def lineends(args):
    msg = (head(b"line ends", mixed(b"le0")) + b"\n"
           + multipart(b"le0", [text_part(b"first line\nsecond line"), payload(args)]))
    if args.kind == "cr":
        return msg.replace(b"\n", b"\r")
    if args.kind == "lf":
        return msg
    # mixed: CRLF, LF and CR in turn
    out, ends = [], [b"\r\n", b"\n", b"\r"]
    for i, line in enumerate(msg.split(b"\n")[:-1]):
        out.append(line + ends[i % 3])
    return b"".join(out)


def parts(args):
    body = [text_part(b"part %d" % i) for i in range(args.n - 1)]
    body.append(payload(args))
    return head(b"%d parts" % args.n, mixed(b"p0")) + b"\n" + multipart(b"p0", body)


def nested(args):
    inner = payload(args)
    for i in range(args.n, 0, -1):
        b = b"nest%d" % i
        if args.kind == "multipart":
            inner = mixed(b) + b"\n" + multipart(b, [text_part(b"level %d" % i), inner])
        else:
            msg = (b"Subject: level %d\nMIME-Version: 1.0\n" % i) + inner
            inner = mixed(b) + b"\n" + multipart(b, [
                text_part(b"level %d" % i),
                b"Content-Type: message/rfc822\n\n" + msg])
    return head(b"nested %d %s" % (args.n, args.kind.encode())) + inner


def unclosed(args):
    body = multipart(b"u0", [text_part(b"a text"), payload(args)], close=False)
    return head(b"unclosed", mixed(b"u0")) + b"\n" + body


def dupboundary(args):
    first, second = b"first0", b"second0"
    hidden = multipart(second if args.kind == "second" else first,
                       [text_part(b"hidden side"), payload(args)])
    shown = multipart(first if args.kind == "second" else second,
                      [text_part(b"the other side")])
    ct = (b"Content-Type: multipart/mixed; boundary=\"" + first
          + b"\"; boundary=\"" + second + b"\"\n")
    return head(b"duplicate boundary " + args.kind.encode(), ct) + b"\n" \
        + shown + hidden


def badbase64(args):
    data = EICAR if args.eicar else b"harmless attachment data\n" * 3
    enc = base64.b64encode(data)
    garbled = b""
    for i in range(0, len(enc), 4):
        garbled += enc[i:i + 4] + b"!*\x01~"
    return (head(b"bad base64", mixed(b"b0")) + b"\n" + multipart(b"b0", [
        text_part(b"see the attachment"),
        b"Content-Type: application/octet-stream; name=\"x.bin\"\n"
        b"Content-Transfer-Encoding: base64\n\n" + garbled + b"\n%%%%\n====\n"]))


def eightbit(args):
    extra = (b"X-Latin1: caf\xe9 cr\xe8me\n"
             b"X-Bad-UTF8: \xc3\x28 \xff\xfe \xed\xa0\x80\n"
             b"Content-Type: text/plain; charset=\xff\xfe\n")
    return (head(b"8-bit \xe9t\xe9 \xc3\xa9", extra).replace(
        b"From: Sender", b"From: S\xe9nder") + b"\nbody\n")


def params(args):
    ps = b"".join(b";\n p%d=\"v%d\"" % (i, i) for i in range(args.n))
    return (head(b"%d parameters" % args.n, mixed(b"pp0")) + b"\n"
            + multipart(b"pp0", [
                b"Content-Type: text/plain; charset=us-ascii" + ps + b"\n\nmany\n",
                payload(args)]))


def rfc2231(args):
    conts = b"".join(b";\n filename*%d=\"n%d\"" % (i, i) for i in range(args.n - 1))
    conts += b";\n filename*%d=\".%s\"" % (args.n - 1, args.ext.encode())
    part = (b"Content-Type: application/octet-stream\n"
            b"Content-Transfer-Encoding: base64\n"
            b"Content-Disposition: attachment" + conts + b"\n\n"
            + base64.encodebytes(b"MZ not really a program\n"))
    return (head(b"rfc2231 %d" % args.n, mixed(b"r0")) + b"\n"
            + multipart(b"r0", [text_part(b"see the attachment"), part]))


def headers(args):
    fields = b"X-Spam: yes\n" * args.n
    if args.binary:
        return (head(b"%d fields" % args.n, fields)
                + b"Content-Type: application/octet-stream\n"
                b"Content-Transfer-Encoding: base64\n\n"
                + base64.encodebytes(b"binary data, no text\n" * 4))
    return head(b"%d fields" % args.n, fields) + b"\nbody\n"


def catregex(args):
    text = b"HOSTILEword word word word!\n" * max(1, args.n // 28)
    if not args.parts:
        return head(b"catastrophic regex") + b"\n" + text
    return (head(b"catastrophic regex, parts", mixed(b"c0")) + b"\n"
            + multipart(b"c0", [text_part(b"a hostile word"), text_part(text)]))


def big(args):
    chunk = base64.encodebytes(bytes(range(256)) * 3)	# 1024 bytes a line set
    body = chunk * max(1, args.n // len(chunk))
    if args.kind == "cr":
        body = body.replace(b"\n", b"\r")
    else:
        body = body.replace(b"\n", b"\r\n")
    return (head(b"big " + args.kind.encode(), mixed(b"g0")) + b"\n" + multipart(b"g0", [
        text_part(b"see the attachment"),
        b"Content-Type: application/octet-stream; name=\"data.bin\"\n"
        b"Content-Transfer-Encoding: base64\n\n" + body + b"\n"]))


def main():
    cases = {
        "longheader": longheader, "nul": nul, "lineends": lineends,
        "parts": parts, "nested": nested, "unclosed": unclosed,
        "dupboundary": dupboundary, "badbase64": badbase64,
        "8bitheader": eightbit, "params": params, "rfc2231": rfc2231,
        "headers": headers, "catregex": catregex, "big": big,
    }
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", choices=sorted(cases))
    ap.add_argument("args", nargs="*")
    ap.add_argument("--folded", action="store_true")
    ap.add_argument("--eicar", action="store_true")
    ap.add_argument("--exe", action="store_true")
    ap.add_argument("--binary", action="store_true")
    ap.add_argument("--parts", action="store_true")
    args = ap.parse_args()
    # the positional arguments: a number first (N or SIZE), then a word
    # (KIND or EXT); lineends and dupboundary take only the word
    words = [a for a in args.args if not a.isdigit()]
    numbers = [int(a) for a in args.args if a.isdigit()]
    args.n = numbers[0] if numbers else 0
    args.kind = args.ext = words[0] if words else ""
    sys.stdout.buffer.write(cases[args.case](args))


main()
