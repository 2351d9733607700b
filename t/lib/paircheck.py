#!/usr/bin/env python3
"""paircheck.py - check what a chain of handlers did, for t/pairs.t.

usage: paircheck.py [rule options] JOBS

JOBS has one line per sinkd -t run, tab-separated: the message's name,
its file, the chain (handler names, comma-separated, in order), the
direction (inbound or outbound), the output file, the stderr file, the
exit status (0, with no sanitizer report in stderr, or it fails) and the
disclaimer's signed action.
The rule options say what the test configured (see --help).

Each run's output is read with Python's email package, a MIME parser of
its own, and every handler in the chain must have left its mark:

  protocol   the added field is there;
  rewrite    no part anywhere (attached messages included) has a banned
             file name; the Subject holds the tag (inbound mail); the
             deleted fields are gone, but for the ones another handler
             added; in each body text part (text/plain or text/html, not
             an attachment, not in an attached message) neither the
             literal nor the regex of text-replace, nor a live http(s)
             link, is left where the rules apply (in HTML: text runs and
             attribute values, links in text runs and href/src values; not
             tag names, comments, scripts or styles), and where the input
             had one, the replacement is there.  Excepted, as documented:
             a message whose X-Sinkd-Rewrite says the content is signed or
             encrypted, or whose input is signed or encrypted (even when
             signed = strip takes the signature off: rewrite saw it signed,
             or could not read it), the disclaimer's own text and the notices that
             stand for removed parts, and a part Python finds defective or
             cannot decode (sinkd leaves text it cannot read as it is);
  clamav     one X-Virus-Status, sinkd's, and for a virus the Subject tag;
  disclaimer the disclaimer's text, exactly as configured (no other
             handler's rule changed it), in a text part, or the outcome
             X-Sinkd-Disclaimer names that puts none (skipped).

Then, across the runs of one message: a refusal comes from a handler that
refuses it in every chain it is in (whatever the order), and never from
elsewhere; every run with clamav gives the same X-Virus-Status.

Prints one line per check: 0 or 1, a tab, what was checked, and when it
failed a tab and what is wrong.  Exits 0.
"""
import argparse
import collections
import email
import email.header
import email.policy
import fnmatch
import re
import sys
import unicodedata

URL = re.compile(r"\bhttps?://", re.I)
NOTICE = re.compile(r"The attachment \"[^\n]*\" was removed by the mail gateway \([^\n]*\)\.")


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--literal", required=True, help="text-replace literal rule: old")
    p.add_argument("--literal-new", required=True, help="... and its replacement")
    p.add_argument("--regex", required=True, help="text-replace regex rule (Python syntax)")
    p.add_argument("--regex-new", required=True, help="... and its replacement")
    p.add_argument("--prefix", required=True, help="link-prefix, as defanged")
    p.add_argument("--ext", action="append", default=[], help="a banned extension")
    p.add_argument("--glob", action="append", default=[], help="a banned-names glob")
    p.add_argument("--tag", required=True, help="rewrite's subject-tag")
    p.add_argument("--virus-tag", required=True, help="clamav's tag-subject")
    p.add_argument("--added", required=True, help="protocol's add-headers field, Name: value")
    p.add_argument("--deleted", action="append", default=[], help="a header-delete name or glob")
    p.add_argument("--text", required=True, help="the text disclaimer, as it comes out")
    p.add_argument("--html", required=True, help="the HTML disclaimer, as it comes out")
    p.add_argument("jobs")
    return p.parse_args()


def walk(part, attached=False):
    """(leaf, inside an attached message) for every leaf"""
    if part.is_multipart():
        inner = attached or part.get_content_maintype() == "message"
        for p in part.get_payload():
            yield from walk(p, inner)
    else:
        yield part, attached


def decoded(value):
    """a header value or parameter, RFC 2047 decoded where it is encoded"""
    if value is None:
        return None
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def normal_name(name):
    """a file name as Windows takes it (sinkd-policy(5), banned names)"""
    s = "".join(c for c in name if unicodedata.category(c) not in ("Cf", "Cc"))
    return s.rstrip(". \t\r\n").lower()


def banned(args, part):
    """the banned file name a leaf has, or None"""
    names = [part.get_param("filename", header="content-disposition"), part.get_param("name")]
    for raw in names:
        name = decoded(raw)
        if not name:
            continue
        n = normal_name(name)
        if "." in n and n.rsplit(".", 1)[1] in args.ext:
            return name
        if any(fnmatch.fnmatchcase(n, g.lower()) for g in args.glob):
            return name
    return None


def text_of(part):
    """the decoded text, or None where sinkd's rules do not read it: it
    does not decode, or holds a NUL (sinkd-policy(5))"""
    payload = part.get_payload(decode=True) or b""
    cs = part.get_content_charset() or "us-ascii"
    if b"\0" in payload:
        return None
    try:
        return payload.decode(cs).replace("\r\n", "\n")
    except (LookupError, UnicodeDecodeError):
        return None


def html_segments(text):
    """(segment, kind) where text rules apply in HTML: kind "text" for a
    text run, "link" for an href or src value, "value" for another
    attribute value (the rules of sinkd-policy(5), read on their own)"""
    out, i, n = [], 0, len(text)
    run = 0
    while i < n:
        if text[i] != "<" or i + 1 >= n or not (text[i + 1].isascii() and text[i + 1].isalpha()
                                                or text[i + 1] in "/!"):
            i += 1
            continue
        out.append((text[run:i], "text"))
        if text.startswith("<!--", i):
            if text.startswith("<!-->", i):
                end = i + 5
            elif text.startswith("<!--->", i):
                end = i + 6
            else:
                k = text.find("-->", i + 4)
                end = k + 3 if k >= 0 else -1
        elif text[i + 1] == "!":
            k = text.find(">", i)
            end = k + 1 if k >= 0 else -1
        else:
            end, attrs = tag(text, i)
            if end >= 0 and text[i + 1] != "/":
                out.extend(attrs)
        if end < 0:
            return out              # no end: the rest is kept as it is
        name = re.match(r"<([A-Za-z0-9]*)", text[i:]).group(1).lower()
        i = run = end
        if name in ("script", "style"):
            m = re.compile(r"</%s(?=[\s/>]|$)" % name, re.I).search(text, end)
            i = run = m.start() if m else n
    out.append((text[run:], "text"))
    return out


def tag(text, lt):
    """where the tag at lt ends (after '>', -1: it does not) and its
    attribute values"""
    p, n, vals = lt + 1, len(text), []
    while p < n and not text[p].isspace() and text[p] != ">" and (text[p] != "/" or p == lt + 1):
        p += 1
    while True:
        while p < n and (text[p].isspace() or text[p] == "/"):
            p += 1
        if p >= n:
            return -1, vals
        if text[p] == ">":
            return p + 1, vals
        name = p
        p += 1
        while p < n and not text[p].isspace() and text[p] not in "/>=":
            p += 1
        aname = text[name:p].lower()
        while p < n and text[p].isspace():
            p += 1
        if p >= n or text[p] != "=":
            continue
        p += 1
        while p < n and text[p].isspace():
            p += 1
        if p < n and text[p] in "\"'":
            q = text[p]
            e = text.find(q, p + 1)
            if e < 0:
                return -1, vals
            val, p = text[p + 1:e], e + 1
        else:
            s = p
            while p < n and not text[p].isspace() and text[p] != ">":
                p += 1
            val = text[s:p]
        vals.append((val, "link" if aname in ("href", "src") else "value"))


def live_link(s, value=False):
    """an http(s) link the rules would have rewritten: something after
    "://" that a host can start with; in an href or src value, the value
    is the link"""
    ms = [m for m in URL.finditer(s) if m.end() < len(s) and (s[m.end()].isalnum() or s[m.end()] in "%_~-")]
    if value:
        return any(m.start() == len(s) - len(s.lstrip()) for m in ms)
    return bool(ms)


def text_faults(args, part, text):
    """what a body text part still holds that the rules take away"""
    rx = re.compile(args.regex)
    text = text.replace(args.text, "").replace(args.html, "")
    text = NOTICE.sub("", text)
    if part.get_content_type() == "text/html":
        segs = html_segments(text)
    else:
        segs = [(text, "text")]
    faults = []
    for s, kind in segs:
        if args.literal in s:
            faults.append("the literal %r" % args.literal)
        if rx.search(s):
            faults.append("a match of /%s/" % args.regex)
        if kind != "value" and live_link(s, kind == "link"):
            faults.append("a live link %r" % URL.search(s).group(0))
    return sorted(set(faults))


def had_targets(args, msg):
    """whether the input's body text holds what the rules change"""
    rx = re.compile(args.regex)
    for part, attached in walk(msg):
        if attached or part.get_content_type() not in ("text/plain", "text/html") \
                or part.get_content_disposition() == "attachment":
            continue
        t = text_of(part)
        if t is None:
            continue
        segs = html_segments(t) if part.get_content_type() == "text/html" else [(t, "text")]
        if any(args.literal in s or rx.search(s) or (k != "value" and live_link(s, k == "link"))
               for s, k in segs):
            return True
    return False


def header_block(raw):
    """the header fields of a message, (name, value), read by hand: an
    obsolete or broken field stops Python's parser, not this"""
    raw = raw.replace(b"\r\n", b"\n")
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[-1]
    out = []
    for line in raw.split(b"\n\n", 1)[0].split(b"\n"):
        line = line.decode("utf-8", "replace")
        if line[:1] in (" ", "\t") and out:
            out[-1][1] += "\n" + line
        elif ":" in line:
            name, value = line.split(":", 1)
            out.append([name.strip(), value])
    return out


def protected(msg):
    """signed or encrypted content outside attached messages, which
    rewrite never changes (it may come out unsigned: signed = strip)"""
    def parts(part, attached):
        yield part, attached
        if part.is_multipart():
            for p in part.get_payload():
                yield from parts(p, attached or part.get_content_maintype() == "message")
    for part, attached in parts(msg, False):
        if attached:
            continue
        if part.get_content_type() in ("multipart/signed", "multipart/encrypted",
                                       "application/pkcs7-mime", "application/x-pkcs7-mime"):
            return True
        payload = part.get_payload(decode=False) if not part.is_multipart() else None
        if isinstance(payload, str) and "-----BEGIN PGP " in payload:
            return True
    return False


def fields(head, name):
    return [decoded(v).strip() for n, v in head if n.lower() == name.lower()]


def deleted_name(args, name):
    return any(fnmatch.fnmatchcase(name.lower(), d.lower()) for d in args.deleted)


def check(args, job, msg, head, raw, inp):
    """the problems in one accepted run's output"""
    chain, inbound = job["chain"], job["direction"] == "inbound"
    problems = []
    subject = " ".join(fields(head, "Subject"))
    added_name, added_value = [s.strip() for s in args.added.split(":", 1)]
    added = fields(head, added_name)
    if "protocol" in chain and added_value not in added:
        problems.append("no %s" % args.added)
    if "rewrite" in chain:
        for part, _ in walk(msg):
            b = banned(args, part)
            if b:
                problems.append("a part named %r is still there" % b)
        if inbound and args.tag not in subject:
            problems.append("no %r in the Subject %r" % (args.tag, subject))
        for name in set(k.lower() for k, _ in head):
            if not deleted_name(args, name):
                continue
            # what another handler added stays; the fields received go
            left = fields(head, name)
            if name == added_name.lower() and "protocol" in chain:
                left = [v for v in left if v != added_value]
            elif name == "x-virus-status" and "clamav" in chain:
                left = [v for v in left if not re.match(r"^(Clean|Infected \(.+\))$", v)]
            elif name == "x-virus-scanned" and "clamav" in chain:
                left = [v for v in left if not v.startswith("sinkd (")]
            if left:
                problems.append("%s: %r should have been deleted" % (name, left))
        skipped = any("skipped" in v for v in fields(head, "X-Sinkd-Rewrite"))
        if not skipped and not protected(inp):
            seen = False
            for part, attached in walk(msg):
                if attached or part.defects or part.get_content_type() not in ("text/plain", "text/html") \
                        or part.get_content_disposition() == "attachment":
                    continue
                t = text_of(part)
                if t is None:
                    continue
                seen = seen or any(x in t for x in (args.literal_new, args.regex_new, args.prefix, "hxxp"))
                for f in text_faults(args, part, t):
                    problems.append("a %s part still holds %s" % (part.get_content_type(), f))
            if not seen and had_targets(args, inp) and not any(p.defects for p, _ in walk(inp)):
                problems.append("the input's text had what the rules change; no rewrite is in the output")
    if "clamav" in chain:
        status = fields(head, "X-Virus-Status")
        if len(status) != 1 or not re.match(r"^(Clean|Infected \(.+\))$", status[0]):
            problems.append("X-Virus-Status %r: not one of sinkd's" % status)
        elif status[0].startswith("Infected") and args.virus_tag not in subject:
            problems.append("a virus, and no %r in the Subject %r" % (args.virus_tag, subject))
    if "disclaimer" in chain:
        outcome = " ".join(fields(head, "X-Sinkd-Disclaimer"))
        found = False
        for part, _ in walk(msg):
            if part.get_content_type() in ("text/plain", "text/html"):
                t = text_of(part)
                if t is not None and (args.text in t or args.html in t):
                    found = True
        if not found and broken(msg):
            # Python does not see the structure GMime (and most readers)
            # see: the disclaimer is looked for in the bytes
            flat = raw.replace(b"\r\n", b"\n")
            found = args.text.encode() in flat or args.html.encode() in flat
        if not found and not outcome.startswith("skipped"):
            problems.append("no disclaimer, as configured (X-Sinkd-Disclaimer: %r)" % outcome)
    return problems


def broken(msg):
    """Python's parser found the structure broken (a boundary it does not
    find, say)"""
    return any(p.defects for p in msg.walk())


def verdict_of(err):
    """(verdict, handler) from sinkd -t's verdict line"""
    lines = [l for l in err.splitlines() if l.startswith("verdict=")]
    if not lines:
        return "none", "-"
    m = re.match(r"verdict=(\S+)(?: .*?handler=(\S+))?", lines[-1])
    return m.group(1), m.group(2) or "-"


def out(ok, what, why=""):
    print("%d\t%s\t%s" % (0 if ok else 1, what, why.replace("\t", " ").replace("\n", " ")))


def main():
    args = parse_args()
    args.text = args.text.replace("\r\n", "\n").rstrip("\n")
    args.html = args.html.replace("\r\n", "\n").rstrip("\n")
    args.ext = [e.lower().lstrip(".") for e in args.ext]
    runs = collections.defaultdict(list)
    pol = email.policy.compat32
    for line in open(args.jobs, encoding="utf-8"):
        name, path, chain, direction, outp, errp, rc, signed = line.rstrip("\n").split("\t")
        job = {"name": name, "chain": chain.split(","), "direction": direction}
        err = open(errp, encoding="utf-8", errors="replace").read()
        job["verdict"], job["by"] = verdict_of(err)
        what = "%s [%s] %s%s" % (name, chain, direction,
                                 "" if signed == "wrap" else ", signed = " + signed)
        job["what"] = what
        runs[name].append(job)
        if rc != "0" or "Sanitizer" in err or "runtime error" in err:
            # a crash, or a sanitizer's report (make sanitize)
            out(False, what, "exit %s: %s" % (rc, err[-300:]))
            continue
        if job["verdict"] != "accept":
            continue
        raw = open(outp, "rb").read()
        msg = email.message_from_bytes(raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw, policy=pol)
        inp = email.message_from_bytes(open(path, "rb").read(), policy=pol)
        head = header_block(raw)
        job["virus"] = fields(head, "X-Virus-Status")
        problems = check(args, job, msg, head, raw, inp)
        out(not problems, what, "; ".join(problems))
    for name, jobs in runs.items():
        # a handler that refuses the message refuses it wherever it is
        refusers = set(j["by"] for j in jobs if j["verdict"] != "accept")
        problems = []
        for j in jobs:
            expect = refusers & set(j["chain"])
            if j["verdict"] == "accept" and expect:
                problems.append("[%s] accepted; %s refuses it elsewhere" % (",".join(j["chain"]), "/".join(sorted(expect))))
            if j["verdict"] != "accept" and j["by"] not in j["chain"]:
                problems.append("[%s] %s by %s, no handler of the chain" % (",".join(j["chain"]), j["verdict"], j["by"]))
        statuses = set(tuple(j["virus"]) for j in jobs if j["verdict"] == "accept" and "clamav" in j["chain"])
        if len(statuses) > 1:
            problems.append("X-Virus-Status differs with the order: %s" % sorted(statuses))
        out(not problems, "%s: the same verdicts in every order (%s)" % (name, "accepted" if not refusers else "refused by " + "/".join(sorted(refusers))),
            "; ".join(problems))
    return 0


if __name__ == "__main__":
    sys.exit(main())
