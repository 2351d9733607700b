#!/usr/bin/python3
"""proc-footer - a co-process sink for t/sink-proc.t: the footer action

At eom it asks for a footer with the text of its key text and the HTML
form of its key html (empty: none, sinkd escapes the text).  Its key
malformed adds a second footer action sinkd must refuse before making
either: "text" (one without its text), "html" (an HTML form that is no
string); "early" asks for a footer at data, before end of message.
Its key wrap, when set, asks for the wrap action with that text instead,
then changes the From of the new message.
"""
import os
import sys

# the helper: beside this file (a copy), or in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[0:0] = [HERE, os.path.join(HERE, "..", "..", "etc", "sinks")]
import sinkd_sink  # noqa: E402

sink = sinkd_sink.Sink("footer", keys=[
    {"name": "text", "type": "string",
     "default": "Sent through the footer test list, by a worker",
     "doc": "the footer's text"},
    {"name": "html", "type": "string", "default": "",
     "doc": "its HTML form (empty: none)"},
    {"name": "wrap", "type": "string", "default": "",
     "doc": "the text after the message wrapped (empty: no wrap)"},
    {"name": "malformed", "type": "string", "default": "",
     "doc": "text, html or early: a footer action sinkd refuses"},
])


@sink.hook("data")
def data(ctx):
    if ctx.config("malformed") == "early":
        ctx.footer("too early for a footer")


@sink.hook("eom")
def eom(ctx):
    if ctx.config("wrap"):
        ctx.wrap(ctx.config("wrap"))
        ctx.header_change("From", 1, "The worker list <worker@example.org>")
        return
    ctx.footer(ctx.config("text"), ctx.config("html") or None)
    if ctx.config("malformed") == "text":
        ctx._act("footer", html="<p>no text</p>")
    elif ctx.config("malformed") == "html":
        ctx._act("footer", text="a footer", html=42)


sink.run()
