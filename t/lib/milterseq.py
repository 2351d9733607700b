#!/usr/bin/env python3
"""milterseq.py - milter packet sequences, in and out of order, to a filter.

  milterseq.py list                  the names of the sequences
  milterseq.py run SOCKET NAME       send sequence NAME, read every reply
  milterseq.py replay SOCKET FILE    send FILE as it is (raw milter packets,
                                     as fuzz/fuzz_milter reads them)
  milterseq.py write DIR             each sequence as DIR/NAME (the fuzz
                                     target's seeds)
  milterseq.py hold SOCKET           the message of "good" up to its body,
                                     step by step, each reply awaited;
                                     then "held" on standard output, and
                                     the rest once a line comes on
                                     standard input (a message in flight)

Each sequence is written whole, the writing side then shut down, and the
filter's replies read until it closes the connection.  Printed:

  replies=LETTERS   the command letter of every reply packet, in order
                    (progress packets left out), "-" for none
  edits=N           message edits among them (header, recipient, sender,
                    body, quarantine): sent only at end of message, for a
                    message the filter lets through
  last=TEXT         the last reply: its letter, and for 'y' its text
  closed=1          the filter closed the connection (0: it did not
                    within the time limit)

The sequences play Postfix (milter protocol 6, every step offered with no
reply allowed), with one well-formed message, "good", and then out of
order: steps before any negotiation, a step before the one it needs, steps
twice, abort at each point, and random sequences from a fixed seed; none
of those but "good" starts a message properly, so a filter must let none
of them through.  SOCKET is unix:/path.
"""
import os
import random
import socket
import struct
import sys

TIMEOUT = 30
EDITS = set("+-2hmiebq")


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd.encode() + data


def macro(cls, **kv):
    return pkt("D", cls.encode() + b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                                              for k, v in kv.items()))


NEG = pkt("O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
NEG2 = pkt("O", struct.pack(">III", 2, 0, 0))
CONN = (macro("C", j="mx.example.org", _="client.example [192.0.2.10]")
        + pkt("C", b"client.example\0" + b"4" + struct.pack(">H", 25) + b"192.0.2.10\0"))
CONN_UNKNOWN = pkt("C", b"localhost\0U")
HELO = macro("H") + pkt("H", b"client.example\0")
MAIL = macro("M", i="4ABCDEF", **{"{auth_authen}": ""}) + pkt("M", b"<sender@example.net>\0SIZE=200\0")
RCPT = macro("R", i="4ABCDEF") + pkt("R", b"<rcpt@example.org>\0")
DATA = macro("T", i="4ABCDEF") + pkt("T")
HDRS = (pkt("L", b"From\0 sender@example.net\0") + pkt("L", b"To\0 rcpt@example.org\0")
        + pkt("L", b"Subject\0 confidential\0"))
EOH = macro("N") + pkt("N")
BODY = pkt("B", b"This is confidential.\r\n")
EOM = macro("E", i="4ABCDEF") + pkt("E")
UNKNOWN = pkt("U", b"XYZZY\0")
ABORT = pkt("A")
QUITNC = pkt("K")
QUIT = pkt("Q")

MESSAGE = [MAIL, RCPT, DATA, HDRS, EOH, BODY, EOM]
GOOD = [NEG, CONN, HELO] + MESSAGE + [QUIT]


def sequences():
    """name -> bytes, in a fixed order"""
    s = {}
    s["good"] = GOOD
    s["no-negotiate"] = [CONN, HELO] + MESSAGE + [QUIT]
    s["helo-first"] = [HELO] + MESSAGE + [QUIT]
    s["mail-first"] = MESSAGE + [QUIT]
    s["rcpt-first"] = MESSAGE[1:] + [QUIT]
    s["data-first"] = [DATA, HDRS, EOH, BODY, EOM, QUIT]
    s["body-first"] = [BODY, EOM, QUIT]
    s["eom-first"] = [EOM, QUIT]
    s["unknown-first"] = [UNKNOWN, RCPT, DATA, HDRS, EOH, BODY, EOM, QUIT]
    s["unknown-first-mail"] = [UNKNOWN] + MESSAGE + [QUIT]
    s["connect-before-negotiate"] = [CONN, NEG, HELO] + MESSAGE + [QUIT]
    s["no-connect"] = [NEG, HELO] + MESSAGE + [QUIT]
    s["no-connect-mail"] = [NEG] + MESSAGE + [QUIT]
    s["rcpt-before-mail"] = [NEG, CONN, HELO, RCPT, DATA, HDRS, EOH, BODY, EOM, QUIT]
    s["unknown-then-rcpt"] = [NEG, CONN, HELO, UNKNOWN, RCPT, DATA, HDRS, EOH, BODY, EOM, QUIT]
    s["unknown-then-body"] = [NEG, CONN, HELO, UNKNOWN, BODY, EOM, QUIT]
    s["header-before-mail"] = [NEG, CONN, HELO, HDRS, EOH, BODY, EOM, QUIT]
    s["body-before-eoh"] = [NEG, CONN, HELO, MAIL, RCPT, DATA, HDRS, BODY, EOM, QUIT]
    s["header-after-eoh"] = [NEG, CONN, HELO, MAIL, RCPT, DATA, HDRS, EOH, HDRS, BODY, EOM, QUIT]
    s["data-twice"] = [NEG, CONN, HELO, MAIL, RCPT, DATA, DATA, HDRS, EOH, BODY, EOM, QUIT]
    s["eom-twice"] = [NEG, CONN, HELO] + MESSAGE + [EOM, QUIT]
    s["eom-after-abort"] = [NEG, CONN, HELO] + MESSAGE[:-1] + [ABORT, EOM, QUIT]
    s["connect-twice"] = [NEG, CONN, CONN, HELO] + MESSAGE + [QUIT]
    s["negotiate-twice"] = [NEG, NEG, CONN, HELO] + MESSAGE + [QUIT]
    s["negotiate-after-connect"] = [NEG, CONN, NEG, HELO] + MESSAGE + [QUIT]
    s["negotiate-version-2"] = [NEG2, NEG, CONN, HELO] + MESSAGE + [QUIT]
    s["quit-nc-then-message"] = [NEG, CONN, QUITNC, CONN, HELO] + MESSAGE + [QUIT]
    s["quit-nc-then-mail"] = [NEG, CONN, QUITNC] + MESSAGE + [QUIT]
    s["unknown-family-connect-twice"] = [NEG, CONN_UNKNOWN, CONN_UNKNOWN] + MESSAGE + [QUIT]
    # abort at each point of the message, then its end: it was abandoned
    steps = [NEG, CONN, HELO] + MESSAGE[:-1]
    for i in range(len(steps) + 1):
        s["abort-after-%d" % i] = steps[:i] + [ABORT, EOM, QUIT]
    # random sequences from a fixed seed: without negotiation, or without
    # MAIL FROM, no message can start
    rnd = random.Random(20240601)
    pool = [NEG, NEG2, CONN, CONN_UNKNOWN, HELO, MAIL, RCPT, DATA, HDRS, EOH, BODY,
            EOM, UNKNOWN, ABORT, QUITNC, macro("M", i="X")]
    nomail = [p for p in pool if p not in (MAIL, NEG, NEG2)]
    for i in range(20):
        s["random-%02d" % i] = [rnd.choice(pool[2:]) for _ in range(rnd.randint(3, 14))] + [QUIT]
    for i in range(20):
        s["random-nomail-%02d" % i] = ([NEG, CONN]
                                       + [rnd.choice(nomail) for _ in range(rnd.randint(3, 14))]
                                       + [EOM, QUIT])
    return {k: b"".join(v) for k, v in s.items()}


def exchange(path, data):
    """send data, shut the writing side, read every reply until closed"""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass
    buf = b""
    closed = 0
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = 1
                break
            buf += chunk
    except ConnectionResetError:
        closed = 1
    except socket.timeout:
        pass
    s.close()
    replies = []
    while len(buf) >= 4:
        (n,) = struct.unpack(">I", buf[:4])
        if n < 1 or len(buf) < 4 + n:
            break
        cmd = chr(buf[4])
        if cmd != "p":
            replies.append((cmd, buf[5:4 + n]))
        buf = buf[4 + n:]
    return replies, closed


# the no-reply flag of each step (SMFIP_NR_*), and the steps the filter
# may have asked not to be sent at all, which still get no reply
NR = {"C": 0x1000, "H": 0x2000, "M": 0x4000, "R": 0x8000, "T": 0x10000,
      "L": 0x80, "N": 0x40000, "B": 0x80000}


def recv_packet(s):
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            raise EOFError()
        head += chunk
    (n,) = struct.unpack(">I", head)
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError()
        data += chunk
    return chr(data[0]), data[1:]


def hold(path):
    """a message in flight: every step up to the body, each reply read"""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    s.sendall(NEG)
    cmd, data = recv_packet(s)
    proto = struct.unpack(">III", data[:12])[2] if cmd == "O" else 0
    for part in [CONN, HELO, MAIL, RCPT, HDRS, EOH]:
        while part:
            (n,) = struct.unpack(">I", part[:4])
            one, part = part[:4 + n], part[4 + n:]
            s.sendall(one)
            c = chr(one[4])
            if c in NR and not proto & NR[c]:
                r, _ = recv_packet(s)
                while r == "p":
                    r, _ = recv_packet(s)
    print("held", flush=True)
    sys.stdin.readline()
    rest = BODY + EOM + QUIT
    s.sendall(rest)
    s.shutdown(socket.SHUT_WR)
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    replies = []
    while len(buf) >= 5:
        (n,) = struct.unpack(">I", buf[:4])
        if chr(buf[4]) != "p":
            replies.append((chr(buf[4]), buf[5:4 + n]))
        buf = buf[4 + n:]
    return replies, 1


def report(replies, closed):
    letters = "".join(c for c, _ in replies) or "-"
    edits = sum(1 for c, _ in replies if c in EDITS)
    last = "-"
    if replies:
        c, d = replies[-1]
        last = c + (" " + d.rstrip(b"\0").decode("latin-1") if c == "y" else "")
    print("replies=%s" % letters)
    print("edits=%d" % edits)
    print("last=%s" % last)
    print("closed=%d" % closed)


def sockpath(arg):
    if not arg.startswith("unix:"):
        sys.exit("milterseq.py: SOCKET must be unix:/path")
    return arg[5:]


def main(argv):
    if len(argv) == 2 and argv[1] == "list":
        print("\n".join(sequences()))
    elif len(argv) == 4 and argv[1] == "run":
        report(*exchange(sockpath(argv[2]), sequences()[argv[3]]))
    elif len(argv) == 4 and argv[1] == "replay":
        with open(argv[3], "rb") as f:
            report(*exchange(sockpath(argv[2]), f.read()))
    elif len(argv) == 3 and argv[1] == "hold":
        report(*hold(sockpath(argv[2])))
    elif len(argv) == 3 and argv[1] == "write":
        for name, data in sequences().items():
            with open(os.path.join(argv[2], name), "wb") as f:
                f.write(data)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
