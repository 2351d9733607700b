#!/usr/bin/env python3
"""rwcheck.py - check what the rewrite handler's text-replace did.

usage: rwcheck.py ORIGINAL RESULT OLD NEW

The handler ran with one literal rule "OLD => NEW".  Both messages are
walked with Python's email package (a MIME parser of its own): the leaves
must correspond one to one.  A body text part (text/plain or text/html,
not an attachment, not inside an attached message) whose decoded text
holds OLD where the rule applies must come out with exactly the expected
text: in plain text every OLD replaced; in HTML only in text between tags
and in attribute values, never in tag or attribute names, comments,
<script> or <style> (this file tokenizes HTML on its own, as documented
in sinkd-policy(5)).  Every other leaf must be unchanged: the same header
fields and the same raw (still encoded) payload.  Prints "changed N" or
"unchanged", or what is wrong; exits 0 when all holds.
"""
import email
import email.policy
import re
import sys

TAG = re.compile(r"<(?:!--.*?-->|[A-Za-z/!][^>]*?(?:\"[^\"]*\"|'[^']*'|[^'\">])*>)", re.S)


def body_leaves(msg, body=True):
    """(leaf, is_body_text) in order; attached messages' leaves are not body"""
    if msg.get_content_type() == "message/rfc822" and msg.is_multipart():
        for p in msg.get_payload():
            yield from body_leaves(p, False)
    elif msg.is_multipart():
        for p in msg.get_payload():
            yield from body_leaves(p, body)
    else:
        disp = (msg.get_content_disposition() or "").lower()
        text = msg.get_content_type() in ("text/plain", "text/html")
        yield msg, body and text and disp != "attachment"


def text_of(part):
    payload = part.get_payload(decode=True) or b""
    cs = part.get_content_charset() or "us-ascii"
    try:
        return payload.decode(cs)
    except (LookupError, UnicodeDecodeError):
        return None


def replace_in_tag(tag, old, new):
    """attribute values only"""
    out, i = [], 0
    for m in re.finditer(r"""(=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)""", tag):
        out.append(tag[i:m.start(2)])
        out.append(m.group(2).replace(old, new))
        i = m.end(2)
    out.append(tag[i:])
    return "".join(out)


def expected_html(text, old, new):
    out, i, skip = [], 0, None
    for m in TAG.finditer(text):
        chunk = text[i:m.start()]
        out.append(chunk if skip else chunk.replace(old, new))
        tag = m.group(0)
        low = tag.lower()
        if tag.startswith("<!--"):
            out.append(tag)
        else:
            out.append(replace_in_tag(tag, old, new) if not skip else tag)
            if skip and low.startswith("</" + skip):
                skip = None
            elif not skip:
                for t in ("script", "style"):
                    if re.match(r"<%s\b" % t, low):
                        skip = t
        i = m.end()
    rest = text[i:]
    out.append(rest if skip else rest.replace(old, new))
    return "".join(out)


def main():
    orig_b, res_b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
    old, new = sys.argv[3], sys.argv[4]
    pol = email.policy.compat32
    a = list(body_leaves(email.message_from_bytes(orig_b, policy=pol)))
    b = list(body_leaves(email.message_from_bytes(res_b, policy=pol)))
    if len(a) != len(b):
        print("problem: %d leaves became %d" % (len(a), len(b)))
        return 1
    changed, problems = 0, []
    for n, ((x, body), (y, _)) in enumerate(zip(a, b)):
        same = x.items() == y.items() and x.get_payload() == y.get_payload()
        t = text_of(x) if body else None
        if t is None or old not in t:
            if not same:
                problems.append("leaf %d changed, and should not have" % n)
            continue
        want = expected_html(t, old, new) if x.get_content_type() == "text/html" \
            else t.replace(old, new)
        got = text_of(y)
        if want == t:
            if not same:
                problems.append("leaf %d changed, and should not have" % n)
            continue
        if got is None:
            problems.append("leaf %d: the result does not decode" % n)
        elif got.replace("\r\n", "\n") != want.replace("\r\n", "\n"):
            problems.append("leaf %d: the text is not the expected rewrite" % n)
        else:
            changed += 1
    for p in problems:
        print("problem: " + p)
    if problems:
        return 1
    print("changed %d" % changed if changed else "unchanged")
    return 0


sys.exit(main())
