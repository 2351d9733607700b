#!/usr/bin/python3
"""dlp.py - a sinkd co-process sink: data loss prevention

Refuses, holds or tags mail whose text carries a payment card number (13
to 19 digits, spaces or dashes between them allowed, that pass the Luhn
check) or one of the configured words.  The text is the message's text
parts (text/plain and text/html), decoded by Python's email package
(transfer encoding and charset), and the Subject.

In sinkd.conf:

    [sinkd]
    chain = protocol, sink:dlp, disclaimer

    [sink:dlp]
    command = /usr/local/lib/sinkd/sinks/dlp.py
    # the keys below, per domain like every key
    action = reject
    words = confidential, internal only

Keys: action (reject, quarantine or tag: an X-DLP header field),
words (a list, matched case-insensitively), cards (yes/no), reply
(the reply of a refusal).  Notes: sink.dlp.match (card or word:WORD).
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sinkd_sink  # noqa: E402

sink = sinkd_sink.Sink("dlp", keys=[
    {"name": "action", "type": "string", "default": "reject",
     "doc": "what a match does: reject, quarantine or tag"},
    {"name": "words", "type": "list", "default": "",
     "doc": "words that must not leave (case-insensitive)", "merge": "union"},
    {"name": "cards", "type": "bool", "default": "yes",
     "doc": "look for payment card numbers (Luhn-checked)", "merge": "any"},
    {"name": "reply", "type": "reply",
     "default": "550 5.7.1 message refused: it seems to carry confidential data",
     "doc": "the reply of a refusal"},
])

CARD = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")


def luhn(digits):
    """Whether the digit string passes the Luhn check."""
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def has_card(text):
    for m in CARD.finditer(text):
        digits = re.sub(r"[ -]", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn(digits):
            return True
    return False


def texts(msg):
    """The decoded text of msg's text parts, and its subject."""
    yield str(msg.get("Subject", ""))
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if part.get_content_subtype() not in ("plain", "html"):
            continue
        try:
            yield part.get_content()
        except (LookupError, ValueError):
            payload = part.get_payload(decode=True) or b""
            yield payload.decode("utf-8", "replace")


def match(ctx):
    words = [w.lower() for w in ctx.config("words") or [] if w]
    cards = ctx.config("cards") == "yes"
    for text in texts(ctx.message()):
        if cards and has_card(text):
            return "card"
        low = text.lower()
        for w in words:
            if w in low:
                return "word:" + w
    return None


@sink.hook("eom")
def eom(ctx):
    what = match(ctx)
    if what is None:
        return "continue"
    ctx.note("match", what)
    action = ctx.config("action")
    if action == "quarantine":
        return "quarantine"
    if action == "tag":
        ctx.header_add("X-DLP", what)
        return "continue"
    return "reject", ctx.config("reply")


if __name__ == "__main__":
    sink.run()
