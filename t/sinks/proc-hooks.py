#!/usr/bin/python3
"""proc-hooks - a co-process sink for t/sink-proc.t: every hook and action

What the eom hook does depends on the message's Subject (see below);
the other hooks leave traces in the per-message store ("seen") and notes.
"""
import os
import sys
import time

# the helper: beside this file (a copy), or in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[0:0] = [HERE, os.path.join(HERE, "..", "..", "etc", "sinks")]
import sinkd_sink  # noqa: E402

sink = sinkd_sink.Sink("hooks", keys=[
    {"name": "word", "type": "string", "default": "none", "doc": "a word"},
    {"name": "words", "type": "list", "default": "a, b", "doc": "words",
     "merge": "union"},
    {"name": "strict", "type": "bool", "default": "no", "doc": "a flag"},
], macros=["j", "{daemon_name}"])


def seen(ctx, what):
    ctx.kv_set("seen", (ctx.kv_get("seen") or "") + what + ";")


@sink.hook("connect")
def connect(ctx):
    if ctx.get("client.addr") == "192.0.2.66":
        return "reject", "554 5.7.1 not from there"


@sink.hook("helo")
def helo(ctx):
    if ctx.get("helo") == "bad.example":
        return "reject", "550 5.7.1 bad helo"


@sink.hook("mail")
def mail(ctx):
    seen(ctx, "mail:%s:%s" % (ctx.get("sender"), "+".join(ctx.mail_params)))


@sink.hook("rcpt")
def rcpt(ctx):
    if ctx.rcpt.startswith("nobody@"):
        return "reject", "550 5.1.1 no such user"
    seen(ctx, "rcpt:" + ctx.rcpt)


@sink.hook("data")
def data(ctx):
    seen(ctx, "data:" + ",".join(ctx.rcpts))


@sink.hook("unknown")
def unknown(ctx):
    ctx.log("unknown command " + ctx.command)
    return "reject", "500 5.5.1 not here either"


def limits():
    out = {}
    with open("/proc/self/limits") as f:
        for line in f:
            for k, name in (("as", "Max address space"), ("cpu", "Max cpu time"),
                            ("nofile", "Max open files")):
                if line.startswith(name):
                    out[k] = line[len(name):].split()[0]
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                out["uid"] = line.split()[1]
    return out


@sink.hook("eom")
def eom(ctx):
    subj = ctx.header("Subject") or ""
    if subj == "pass":
        return "continue"
    if subj.startswith("raw:"):
        # an answer as written after "raw:" (TOKEN: the request's); this
        # worker then answers nothing more, and ends with its input
        sys.stdout.write(subj[4:].replace("TOKEN", str(ctx.token)) + "\n")
        sys.stdout.flush()
        sys.stdin.read()
        os._exit(0)
    if subj.startswith("deep"):
        n = int(subj.split()[1])
        sys.stdout.write('{"token":%d,"x":%s%s}\n' % (ctx.token, "[" * n, "]" * n))
        sys.stdout.flush()
        sys.stdin.read()
        os._exit(0)
    if subj == "replace":
        ctx.part_replace(0, "the worker's new text\n", type="text/plain; charset=utf-8")
        return "continue"
    if subj == "remove":
        ctx.part_remove(0, "removed by the worker")
        return "continue"
    if subj == "reject":
        return "reject", "550 5.7.1 refused by the worker"
    if subj == "tempfail":
        return "tempfail"
    if subj == "quarantine":
        return "quarantine"
    if subj == "discard":
        return "discard"
    if subj == "accept":
        return "accept"
    if subj == "error":
        return "error"
    if subj == "raise":
        raise RuntimeError("a bug in the worker")
    if subj == "crlf":
        ctx.header_add("X-Bad", "a\r\nb")
        return "continue"
    if subj == "badreply":
        return "reject", "250 2.0.0 fine"
    if subj == "noaction":
        ctx._act("teleport", where="mars")
        return "continue"
    if subj == "garbage":
        sys.stdout.write("this is not json\n")
        sys.stdout.flush()
        return "continue"
    if subj == "badtoken":
        sys.stdout.write('{"token": 987654321, "verdict": "continue"}\n')
        sys.stdout.flush()
        time.sleep(5)
        return "continue"
    if subj == "long":
        sys.stdout.write("[" + "1," * 10000 + "1]\n")
        sys.stdout.flush()
        return "continue"
    if subj == "orphan":
        # a process of its own session keeps this worker's output open
        import subprocess
        subprocess.Popen(["setsid", "sleep", "6"], stdout=sys.stdout)
        os._exit(3)
    if subj == "die":
        print("dying now", file=sys.stderr, flush=True)
        os._exit(3)
    if subj.startswith("sleep"):
        print("sleeping", subj.split()[1], file=sys.stderr, flush=True)
        time.sleep(float(subj.split()[1]))
        return "continue"
    if subj == "pid":
        ctx.note("pid", str(os.getpid()))
        return "continue"
    if subj == "limits":
        for k, v in sorted(limits().items()):
            ctx.note(k, v)
        ctx.note("pid", str(os.getpid()))
        return "continue"
    if subj == "flood":
        for i in range(1000):
            print("flood line %d" % i, file=sys.stderr)
        sys.stderr.flush()
        return "continue"
    if subj == "stderr":
        print("a line on stderr", file=sys.stderr, flush=True)
        return "continue"
    # the facts and every action
    msg = ctx.message()
    ctx.note("seen", ctx.kv_get("seen") or "")
    ctx.note("word", ctx.config("word"))
    ctx.note("words", "+".join(ctx.config("words")))
    ctx.note("strict", ctx.config("strict"))
    ctx.note("sender", ctx.get("sender"))
    ctx.note("qid", ctx.get("queue-id") or "")
    ctx.note("dryrun", ctx.get("dry-run") or "no")
    ctx.note("macro-j", ctx.macro("j") or "none")
    ctx.note("parts", str(len(ctx.parts)))
    ctx.note("ptypes", "+".join(p["type"] for p in ctx.parts))
    ctx.note("subject", msg["Subject"])
    ctx.note("rawsize", str(len(ctx.raw())))
    ctx.note("xdrop", ctx.headers[3]["raw"] if len(ctx.headers) > 3 else "")
    ctx.note("decoded", ctx.header("X-Enc") or "")
    ctx.note("session", "yes" if isinstance(ctx.session, int) else "no")
    ctx.header_add("X-Proc", "added by " + sink.name)
    ctx.header_insert(0, "X-First", "first")
    ctx.header_change("Subject", 1, "changed: " + subj)
    ctx.header_delete("X-Drop", 1)
    ctx.rcpt_add("added@example.org")
    ctx.rcpt_delete("gone@example.org")
    ctx.sender_change("new-sender@example.net")
    text = [p for p in ctx.parts if "text" in p["flags"]]
    if text:
        ctx.text_append(text[0]["index"], "-- appended by the worker")
    ctx.part_add("application/octet-stream", b"\x00\x01binary", "blob.bin")
    ctx.kv_set("worker", "was here")
    ctx.log("eom done", level="warning")
    return "continue"


sink.run()
