#!/usr/bin/python3
"""traffic.py - per-domain mail traffic from sinkd's after-accept events

An example consumer of the stream a redis event target of sinkd fills
(sinkd-events(5), THE REDIS TARGET): it reads the stream with a consumer
group and keeps, in PostgreSQL, how many messages and bytes each domain
sent and received each day:

    TABLE (domain, day, direction, messages, bytes)
        domain      inbound: each recipient's domain (a message for two
                    domains counts once for each); outbound: the sender's
        day         the UTC day of the event's time
        direction   inbound or outbound

Exactly once per event: each event's key goes into TABLE_seen in the
same transaction as the counts; an event whose key is there is not
counted again (a redelivery, a replay, a second consumer).  Entries are
acknowledged (XACK) only after that transaction committed, so a consumer
that dies in between finds them again (its pending entries) and skips
what it already counted.

Usage:
    traffic.py --pg DSN [--redis URL] [--redis-password-file FILE]
               [--stream sinkd:events] [--group traffic] [--consumer NAME]
               [--table traffic] [--batch 100] [--once]

    --pg        a libpq connection string; put the password in
                ~/.pgpass or PGPASSFILE rather than in the string
    --redis     redis://host:port/db or unix:///path/redis.sock?db=N
                (default redis://127.0.0.1:6379/0)
    --consumer  this consumer's name in the group (default: the host
                name): keep it from one run to the next, so that a run
                finds what the last one read and did not acknowledge
    --once      read what is there, count it and exit (0: all counted);
                without it, wait for more until SIGTERM or SIGINT

Needs Python 3 with redis-py and psycopg2 (Debian: python3-redis,
python3-psycopg2).
"""

import argparse
import json
import re
import signal
import socket
import sys
import time

import psycopg2
import psycopg2.sql as sql
import redis

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")

stopping = False


def log(msg):
    print("traffic: %s" % msg, file=sys.stderr, flush=True)


def on_signal(signum, frame):
    global stopping
    stopping = True


def identifier(name):
    """SCHEMA.NAME or NAME as a psycopg2 identifier"""
    return sql.Identifier(*name.split("."))


def prepare(pg, table):
    """the tables, made when they are not there"""
    seen = table + "_seen"
    with pg, pg.cursor() as cur:
        cur.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " domain text NOT NULL, day date NOT NULL, direction text NOT NULL,"
            " messages bigint NOT NULL DEFAULT 0, bytes bigint NOT NULL DEFAULT 0,"
            " PRIMARY KEY (domain, day, direction))").format(identifier(table)))
        cur.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " key text PRIMARY KEY, counted timestamptz NOT NULL DEFAULT now())"
        ).format(identifier(seen)))
    return identifier(table), identifier(seen)


def domain_of(address):
    at = address.rfind("@")
    return address[at + 1:].lower() if at >= 0 else ""


def domains(event):
    """the domains an event counts for"""
    if event.get("direction") == "outbound":
        d = domain_of(event.get("sender") or "")
        return [d] if d else []
    out = []
    for r in event.get("recipients") or []:
        d = domain_of(r)
        if d and d not in out:
            out.append(d)
    return out


def count(pg, tables, entries):
    """one transaction: every new event of entries counted; the number
    counted"""
    table, seen = tables
    counted = 0
    upsert = sql.SQL(
        "INSERT INTO {} AS t (domain, day, direction, messages, bytes)"
        " VALUES (%s, %s, %s, 1, %s)"
        " ON CONFLICT (domain, day, direction) DO UPDATE"
        " SET messages = t.messages + 1, bytes = t.bytes + EXCLUDED.bytes").format(table)
    mark = sql.SQL("INSERT INTO {} (key) VALUES (%s) ON CONFLICT (key) DO NOTHING").format(seen)
    with pg, pg.cursor() as cur:
        for entry_id, fields in entries:
            if not fields or "json" not in fields:
                continue        # trimmed away, or not an event
            try:
                event = json.loads(fields["json"])
                key = event["key"]
                day = event["time"][:10]
                size = int(event.get("size") or 0)
            except (ValueError, KeyError, TypeError) as e:
                log("entry %s: not an event (%s): skipped" % (entry_id, e))
                continue
            cur.execute(mark, (key,))
            if cur.rowcount == 0:
                continue        # counted before
            for d in domains(event):
                cur.execute(upsert, (d, day, event.get("direction", "inbound"), size))
            counted += 1
    return counted


def redis_client(args):
    password = None
    if args.redis_password_file:
        with open(args.redis_password_file) as f:
            password = f.readline().rstrip("\r\n")
    return redis.Redis.from_url(args.redis, password=password, decode_responses=True,
                                socket_timeout=30)


def run(args):
    """read, count, acknowledge; 0 when everything read was counted"""
    r = redis_client(args)
    pg = psycopg2.connect(args.pg)
    tables = prepare(pg, args.table)
    try:
        r.xgroup_create(args.stream, args.group, id="0", mkstream=True)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise
    # first what this consumer was given and did not acknowledge
    # (counted or not: the seen table knows), then what is new
    last = "0"
    total = 0
    while not stopping:
        block = None if args.once or last != ">" else 5000
        reply = r.xreadgroup(args.group, args.consumer, {args.stream: last},
                             count=args.batch, block=block)
        entries = reply[0][1] if reply else []
        if not entries:
            if last != ">":
                last = ">"
                continue
            if args.once:
                break
            continue
        total += count(pg, tables, entries)
        r.xack(args.stream, args.group, *[e[0] for e in entries])
        if last != ">":
            last = entries[-1][0]
    pg.close()
    log("%d events counted" % total)
    return 0


def main():
    p = argparse.ArgumentParser(description="per-domain mail traffic from sinkd's events")
    p.add_argument("--pg", required=True, help="libpq connection string")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    p.add_argument("--redis-password-file")
    p.add_argument("--stream", default="sinkd:events")
    p.add_argument("--group", default="traffic")
    p.add_argument("--consumer", default=socket.gethostname())
    p.add_argument("--table", default="traffic")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--once", action="store_true")
    args = p.parse_args()
    if not NAME.match(args.table):
        p.error("--table: NAME or SCHEMA.NAME (letters, digits, _)")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    wait = 1
    while True:
        try:
            return run(args)
        except (redis.ConnectionError, redis.TimeoutError, psycopg2.OperationalError) as e:
            # nothing acknowledged that was not counted: start over
            log("%s" % str(e).strip().splitlines()[0])
            if args.once or stopping:
                return 1
            time.sleep(wait)
            wait = min(wait * 2, 60)


if __name__ == "__main__":
    sys.exit(main())
