#!/usr/bin/env python3
"""webhook.py - a webhook receiver for the tests of after-accept events

    webhook.py DIR PORT

Listens on 127.0.0.1:PORT (0: any free port, written to DIR/port once
listening) and answers each POST as DIR/mode says when the request comes
(the file's first word; no file: ok):

    ok          200, and the request is recorded
    fail        500 (sinkd tries again later)
    busy        429 (likewise)
    refuse      400 (sinkd gives the event up)
    slow N      sleep N seconds, then as ok

Recorded: DIR/requests.jsonl, one line per request answered 200:
{"key": Idempotency-Key, "content_type": ..., "event": the body parsed}.
DIR/keys holds each key once, DIR/duplicates one line per key received
again after it had been answered 200 (what an idempotent receiver would
have dropped).  The records survive a restart on the same DIR, so that a
receiver stopped and started again still sees duplicates.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1]
PORT = int(sys.argv[2])
LOCK = threading.Lock()


def seen_keys():
    try:
        with open(os.path.join(DIR, "keys")) as f:
            return set(line.strip() for line in f if line.strip())
    except FileNotFoundError:
        return set()


SEEN = seen_keys()


def mode():
    try:
        with open(os.path.join(DIR, "mode")) as f:
            return f.read().split()
    except FileNotFoundError:
        return ["ok"]


def append(name, line):
    with open(os.path.join(DIR, name), "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code):
        body = b"{}"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        m = mode()
        if m and m[0] == "slow":
            time.sleep(float(m[1]) if len(m) > 1 else 5)
            m = ["ok"]
        codes = {"fail": 500, "busy": 429, "refuse": 400}
        if m and m[0] in codes:
            self.answer(codes[m[0]])
            return
        key = self.headers.get("Idempotency-Key", "")
        try:
            event = json.loads(data)
        except ValueError:
            event = None
        with LOCK:
            append("requests.jsonl", json.dumps({
                "key": key,
                "content_type": self.headers.get("Content-Type", ""),
                "event": event}))
            if key in SEEN:
                append("duplicates", key)
            else:
                SEEN.add(key)
                append("keys", key)
        self.answer(200)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    srv.daemon_threads = True
    tmp = os.path.join(DIR, "port.new")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, os.path.join(DIR, "port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
