#!/usr/bin/env python3
"""mimecheck.py - check what the disclaimer handler did to one message.

usage: mimecheck.py ORIGINAL RESULT TEXT-DISCLAIMER HTML-DISCLAIMER

Walks both messages with Python's email package (an independent MIME
parser): the leaves must correspond one to one; a text/plain or text/html
leaf either is unchanged (same header fields, same decoded payload) or its
decoded text equals the original's plus the disclaimer, placed as
documented (plain: after an empty line; HTML: before </body>, else
</html>, else at the end).  At least one leaf must have changed.  The
result must not carry parser defects the original did not.  Prints what
it found; exits 0 when all holds, 1 otherwise.
"""
import email
import email.policy
import re
import sys


def leaves(msg):
    if msg.is_multipart():
        for p in msg.get_payload():
            yield from leaves(p)
    else:
        yield msg


def defects(msg):
    n = len(msg.defects)
    if msg.is_multipart():
        for p in msg.get_payload():
            n += defects(p)
    return n


def text_of(part):
    payload = part.get_payload(decode=True) or b""
    cs = part.get_content_charset() or "us-ascii"
    try:
        return payload.decode(cs).replace("\r\n", "\n")
    except (LookupError, UnicodeDecodeError):
        return None


def expected_html(orig, dis):
    low = orig.lower()
    for tag in ("</body", "</html"):
        i = low.rfind(tag)
        if i >= 0:
            return orig[:i] + dis + "\n" + orig[i:]
    return orig + dis + "\n"


def expected_plain(orig, dis):
    sep = "" if orig == "" or orig.endswith("\n") else "\n"
    return orig + sep + "\n" + dis + "\n"


def same_leaves(a, b):
    a, b = list(leaves(a)), list(leaves(b))
    return len(a) == len(b) and all(
        x.get_payload(decode=True) == y.get_payload(decode=True) and x.items() == y.items()
        for x, y in zip(a, b))


def check_wrap(orig_b, res, dis_text, outcome):
    """a wrap: multipart/mixed, the original content first, unchanged, then
    the disclaimer"""
    problems = []
    if res.get_content_type() != "multipart/mixed" or len(res.get_payload()) != 2:
        problems.append("a wrap is not a two-part multipart/mixed")
    else:
        first, dis = res.get_payload()
        content = email.message_from_bytes(orig_b, policy=email.policy.compat32)
        for k in [k for k in content.keys() if not k.lower().startswith("content-")]:
            del content[k]
        if not same_leaves(content, first):
            problems.append("the wrapped content differs from the original")
        texts = [text_of(p) for p in leaves(dis) if p.get_content_type() == "text/plain"]
        if not texts or texts[0].strip("\n") != dis_text.strip("\n"):
            problems.append("the disclaimer part does not hold the disclaimer")
    print("wrapped: %s" % outcome)
    for p in problems:
        print("problem: " + p)
    return 1 if problems else 0


def main():
    orig_b, res_b = (open(f, "rb").read() for f in sys.argv[1:3])
    dis_text, dis_html = (open(f, encoding="utf-8").read().strip("\n") for f in sys.argv[3:5])
    pol = email.policy.compat32
    orig = email.message_from_bytes(orig_b, policy=pol)
    res = email.message_from_bytes(res_b, policy=pol)
    problems = []
    outcome = res.get("X-Sinkd-Disclaimer", "")
    if outcome.startswith("wrapped"):
        return check_wrap(orig_b, res, dis_text, outcome)
    a, b = list(leaves(orig)), list(leaves(res))
    if len(a) != len(b):
        problems.append("leaf count %d -> %d" % (len(a), len(b)))
    changed = 0
    for i, (x, y) in enumerate(zip(a, b)):
        same_payload = (x.get_payload(decode=True) == y.get_payload(decode=True))
        if same_payload and x.items() == y.items():
            continue
        ctype = x.get_content_type()
        tx, ty = text_of(x), text_of(y)
        if tx is None and ty is not None and ctype in ("text/plain", "text/html"):
            # the original does not decode here (Python's codecs are
            # stricter than iconv): the new text must end with the disclaimer
            if not ty.rstrip("\n").endswith((dis_text if ctype == "text/plain" else dis_html).rstrip("\n")):
                problems.append("leaf %d (%s): no disclaimer at the end" % (i, ctype))
                continue
        elif ctype == "text/plain" and tx is not None and ty is not None:
            want = expected_plain(tx, dis_text)
            # format=flowed lines keep their trailing-space rules
            if ty != want and ty.rstrip("\n") != want.rstrip("\n"):
                problems.append("leaf %d (text/plain): text is not original + disclaimer" % i)
                continue
        elif ctype == "text/html" and tx is not None and ty is not None:
            if ty != expected_html(tx, dis_html):
                problems.append("leaf %d (text/html): text is not original + disclaimer" % i)
                continue
        else:
            problems.append("leaf %d (%s) changed" % (i, ctype))
            continue
        changed += 1
    if changed == 0:
        problems.append("no part got the disclaimer")
    if defects(res) > defects(orig):
        problems.append("new parser defects: %d -> %d" % (defects(orig), defects(res)))
    print("leaves=%d changed=%d" % (len(a), changed))
    for p in problems:
        print("problem: " + p)
    return 1 if problems else 0


def only_inserted(orig_b, res_b):
    """for malformed mail, where parsers disagree on the structure: the
    original's lines all stand in the result, in order; the result only
    adds lines (the disclaimer, a wrap)"""
    import difflib
    a = orig_b.replace(b"\r\n", b"\n").split(b"\n")
    b = res_b.replace(b"\r\n", b"\n").split(b"\n")
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return all(op in ("equal", "insert") for op, *_ in ops)


if __name__ == "__main__":
    if sys.argv[1] == "--inserted":
        ok = only_inserted(open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read())
        print("only insertions" if ok else "lines of the original changed or removed")
        sys.exit(0 if ok else 1)
    sys.exit(main())
