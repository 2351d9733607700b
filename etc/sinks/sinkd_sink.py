"""sinkd_sink - write a sinkd co-process sink in Python (sinkd-sink-protocol(7))

A sink is a program that sinkd starts (command = in a [sink:NAME] group of
sinkd.conf) and talks to over its standard input and output, one JSON
object per line.  This module does the talking: it answers sinkd's hello
with the sink's name, hooks and keys, reads requests, calls the hook
function for each and writes the answer, with the verdict, the reply and
the actions the hook asked for.  Only the standard library is used.

    import sinkd_sink

    sink = sinkd_sink.Sink("dlp", keys=[
        {"name": "words", "type": "list", "default": "", "doc": "words to refuse"},
    ])

    @sink.hook("eom")
    def eom(ctx):
        msg = ctx.message()                   # email.message.EmailMessage
        if "secret" in (ctx.header("Subject") or ""):
            return "reject", "550 5.7.1 no secrets"
        ctx.header_add("X-Checked", "yes")
        return "continue"

    sink.run()

A hook returns None (continue), a verdict ("continue", "accept",
"reject", "tempfail", "discard", "quarantine", "error"), or a verdict and
a reply ("550 5.7.1 text").  The accepted hook (after-accept events, in a
sinkd that has them) gets ctx.event (a dict) and, with
Sink(..., accepted_body=True), ctx.body (the path of the message's copy),
and returns None or "done", "retry" (False) or "fail".  An exception in a hook is the verdict
"error" (the sink's on-error in sinkd), with the traceback on standard
error, which sinkd logs.  Requests are served one at a time; run more
workers (workers-max) for more at once.

Standard output is the protocol's: print nothing else there (use
ctx.log() or sys.stderr).
"""

import base64
import email
import email.policy
import json
import sys
import traceback

VERSION = 1
VERDICTS = ("continue", "accept", "reject", "tempfail", "discard",
            "quarantine", "error")
HOOKS = ("connect", "helo", "mail", "rcpt", "data", "unknown", "eom",
         "abort", "accepted")


class Ctx:
    """One request: what it carries, and the actions of its answer."""

    def __init__(self, req):
        self.request = req
        self.hook = req.get("hook")
        self.session = req.get("session")
        self.token = req.get("token")
        self.facts = req.get("facts", {})
        self.macros = req.get("macros", {})
        self.configs = req.get("config", {})
        self.kv = req.get("kv", {})
        self.headers = req.get("headers", [])
        self.parts = req.get("parts", [])
        self.message_path = req.get("message")
        self.rcpt = req.get("rcpt")
        self.rcpts = req.get("rcpts", [])
        self.mail_params = req.get("mail-params", [])
        self.rcpt_params = req.get("rcpt-params", [])
        self.command = req.get("command")
        self.closing = req.get("closing", False)
        self.event = req.get("event")      # accepted: the event (a dict)
        self.body = req.get("body")        # accepted: the message's copy
        self.actions = []
        self.reply_ = None
        self._msg = None

    # reading
    def get(self, name):
        """A fact (sinkd-sink(3)): client.addr, sender, queue-id, ..."""
        return self.facts.get(name)

    def macro(self, name):
        """An MTA macro the sink asked for in its hello."""
        return self.macros.get(name)

    def config(self, key):
        """The sink's key in the policy in effect (a list for list keys)."""
        return self.configs.get(key)

    def kv_get(self, key):
        """The per-message store shared along the chain."""
        return self.kv.get(key)

    def header(self, name, n=1):
        """The n-th (1-based) field of this name, decoded; None: none."""
        for h in self.headers:
            if h["name"].lower() == name.lower():
                n -= 1
                if n == 0:
                    return h.get("decoded")
        return None

    def raw(self):
        """The message as received (bytes), at eom."""
        with open(self.message_path, "rb") as f:
            return f.read()

    def message(self):
        """The message parsed by Python's email package, at eom."""
        if self._msg is None:
            with open(self.message_path, "rb") as f:
                self._msg = email.message_from_binary_file(
                    f, policy=email.policy.default)
        return self._msg

    # doing
    def _act(self, action, **members):
        members["action"] = action
        self.actions.append(members)

    def reply(self, code, xcode=None, text=""):
        self.reply_ = {"code": code, "xcode": xcode, "text": text}

    def header_add(self, name, value):
        self._act("header-add", name=name, value=value)

    def header_insert(self, index, name, value):
        self._act("header-insert", index=index, name=name, value=value)

    def header_change(self, name, n, value):
        self._act("header-change", name=name, n=n, value=value)

    def header_delete(self, name, n):
        self._act("header-delete", name=name, n=n)

    def rcpt_add(self, addr):
        self._act("rcpt-add", addr=addr)

    def rcpt_delete(self, addr):
        self._act("rcpt-delete", addr=addr)

    def sender_change(self, addr):
        self._act("sender-change", addr=addr)

    @staticmethod
    def _data(data):
        if isinstance(data, str):
            return {"data": data}
        return {"base64": base64.b64encode(data).decode("ascii")}

    def part_replace(self, part, data, type=None, filename=None):
        self._act("part-replace", part=part, type=type, filename=filename,
                  **self._data(data))

    def part_remove(self, part, note=None):
        self._act("part-remove", part=part, note=note)

    def part_add(self, type, data, filename=None):
        self._act("part-add", type=type, filename=filename, **self._data(data))

    def text_append(self, part, text):
        self._act("text-append", part=part, text=text)

    def footer(self, text, html=None):
        self._act("footer", text=text, html=html)

    def wrap(self, text=None):
        self._act("wrap", text=text)

    def note(self, key, value):
        self._act("note", key=key, value=value)

    def kv_set(self, key, value):
        self._act("kv-set", key=key, value=value)

    def log(self, text, level="info"):
        self._act("log", level=level, text=text)


class Sink:
    """A sink: its name, keys, the macros it wants, and its hooks."""

    def __init__(self, name, keys=None, macros=None, accepted_body=False):
        self.name = name
        self.keys = keys or []
        self.macros = macros or []
        self.accepted_body = accepted_body
        self.hooks = {}

    def hook(self, name):
        """Decorator: the function for hook name."""
        if name not in HOOKS:
            raise ValueError("no such hook: %s" % name)

        def register(fn):
            self.hooks[name] = fn
            return fn
        return register

    def hello(self):
        return {"type": "hello", "version": VERSION, "name": self.name,
                "hooks": sorted(self.hooks), "keys": self.keys,
                "macros": self.macros, "accepted-body": self.accepted_body}

    def serve(self, req):
        """The answer to one request (a dict)."""
        ctx = Ctx(req)
        fn = self.hooks.get(ctx.hook)
        if req.get("type") == "accepted":
            fn = self.hooks.get("accepted")
            try:
                r = fn(ctx) if fn else None
            except Exception:
                traceback.print_exc(file=sys.stderr)
                r = "retry"
            if r is None or r is True:
                r = "done"
            elif r is False:
                r = "retry"
            return {"token": ctx.token, "result": r}
        verdict, reply = "continue", None
        try:
            r = fn(ctx) if fn else None
            if isinstance(r, tuple):
                verdict, reply = r
            elif r is not None:
                verdict = r
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return {"token": ctx.token, "verdict": "error"}
        if verdict not in VERDICTS:
            print("sink %s: hook %s returned %r" % (self.name, ctx.hook, verdict),
                  file=sys.stderr)
            verdict = "error"
        if reply:
            code, _, rest = reply.partition(" ")
            xcode, _, text = rest.partition(" ")
            if not (xcode[:1].isdigit() and xcode.count(".") == 2):
                xcode, text = None, rest
            ctx.reply(code, xcode, text)
        ans = {"token": ctx.token, "verdict": verdict, "actions": ctx.actions}
        if ctx.reply_:
            ans["reply"] = ctx.reply_
        return ans

    def run(self, rfile=None, wfile=None):
        """Serve sinkd until it closes our input."""
        rfile = rfile or sys.stdin.buffer
        wfile = wfile or sys.stdout

        def send(obj):
            wfile.write(json.dumps(obj, separators=(",", ":")) + "\n")
            wfile.flush()

        for line in rfile:
            req = json.loads(line)
            if req.get("type") == "hello":
                send(self.hello())
                continue
            send(self.serve(req))
