#!/bin/bash
# e2e-consumer.t - the custom queue application end to end: mail through
# a real Postfix and sinkd, its events into a Redis stream (the redis
# target), and etc/consumers/traffic.py counting them per domain, day and
# direction in PostgreSQL
#
# Servers of the test's own: redis-server and a PostgreSQL 15 cluster,
# both on unix sockets in the work directory, both with passwords.
# Checked:
#   - N messages (to two domains, one of them to both at once) give N
#     stream entries; the consumer, run once (--once), counts exactly N
#     messages and the bytes of their events, per recipient domain, and
#     acknowledges every entry it read;
#   - run again: nothing changes;
#   - the group set back to the start of the stream (every entry read
#     again): nothing changes (the keys it counted are in its seen table);
#   - more mail, run again: only the new messages are added;
#   - run as a service (no --once): a new message is counted as it
#     comes; SIGTERM stops it.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/redis.sh"
. "$TOP/t/lib/pg.sh"

PY=/usr/bin/python3
CONSUMER=$TOP/etc/consumers/traffic.py
command -v redis-server >/dev/null || bail_out "no redis-server (./bootstrap test installs it)"
[ -x "$PG_BIN/initdb" ] || bail_out "no $PG_BIN/initdb (./bootstrap test installs postgresql-15)"
$PY -c 'import redis, psycopg2' 2>/dev/null || bail_out "no python3-redis or python3-psycopg2 (./bootstrap test installs them)"
e2e_workdir e2e-consumer
trap '_e2e_cleanup; [ -n "${CPID:-}" ] && kill "$CPID" 2>/dev/null; rd_kill; pg_kill' EXIT
PASS=rd-$RANDOM$RANDOM
mkdir -p "$W/pf" "$W/sk"
rd_start "$W/redis" "$PASS" || bail_out "no redis-server"
pg_start "$W/pg" "pg-$RANDOM$RANDOM" || bail_out "no PostgreSQL"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
printf '%s\n' "$PASS" >"$W/sk/conf/redis.pw"
chown root:postfix "$W/sk/conf/redis.pw"
chmod 640 "$W/sk/conf/redis.pw"
sk_conf "state-dir = $W/sk/state" \
	'[event:queue]' 'type = redis' "address = unix:$RD_SOCK" 'password-file = redis.pw'
sk_start || bail_out "sinkd did not start"

# the consumer's own credentials: a password file for Redis, a pgpass
# file for PostgreSQL (nothing secret on its command line)
printf '%s\n' "$PASS" >"$W/consumer.redis.pw"
printf '%s:5432:postgres:postgres:%s\n' "$PG_SOCKDIR" "$PG_PASSWORD" >"$W/consumer.pgpass"
chmod 600 "$W/consumer.redis.pw" "$W/consumer.pgpass"
consume() {
	PGPASSFILE=$W/consumer.pgpass $PY "$CONSUMER" --once --consumer test \
		--redis "unix://$RD_SOCK" --redis-password-file "$W/consumer.redis.pw" \
		--pg "host=$PG_SOCKDIR dbname=postgres user=postgres" --table stats.traffic 2>>"$W/consumer.log"
}

msg() {
	printf 'From: someone@outside.example\r\nTo: %s\r\nSubject: %s\r\n\r\nHello, %s.\r\n%s\r\n' \
		"$2" "$1" "$1" "$(head -c "$3" /dev/zero | tr '\0' x)" >"$W/$1"
}
# send NAME BYTES RCPT...: a message of about BYTES to RCPTs, accepted
sent=0
send() {
	local name=$1 size=$2 to
	shift 2
	msg "$name" "$1" "$size"
	to=$(IFS=,; echo "$*")
	[[ "$(smtp_reply "$(pf_swaks --from someone@outside.example --data "$W/$name" --to "$to")" .)" == 250* ]] &&
		sent=$((sent + 1))
}
xlen() { rd_cli XLEN sinkd:events; }
wait_xlen() {
	local i
	for i in $(seq 1 600); do
		[ "$(xlen)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# expected: what the stream says the table should hold: "domain direction
# messages bytes" a line, from the events' recipients and sizes
expected() {
	rd_cli --json XRANGE sinkd:events - + | $PY -c '
import json, sys
t = {}
for id, f in json.load(sys.stdin):
    e = json.loads(dict(zip(f[0::2], f[1::2]))["json"])
    for d in sorted({r.rsplit("@", 1)[1].lower() for r in e["recipients"]}):
        m, b = t.get((d, e["direction"]), (0, 0))
        t[(d, e["direction"])] = (m + 1, b + e["size"])
for (d, dr), (m, b) in sorted(t.items()):
    print(d, dr, m, b)'
}
table() { pg_sql "SELECT domain, direction, sum(messages), sum(bytes) FROM stats.traffic GROUP BY 1, 2 ORDER BY 1, 2" | tr '|' ' '; }

pg_sql "CREATE SCHEMA stats"
for i in 1 2 3 4; do send a$i $((i * 100)) a@example.org; done
send b1 1000 b@example.net
send ab1 2000 a@example.org b@example.net
is "$sent" 6 "6 messages accepted"
wait_xlen 6 || diag "$(sk_log | tail -20)"
is "$(xlen)" 6 "  6 stream entries"

ok "$(consume; echo $?)" "the consumer ran once" || diag "$(cat "$W/consumer.log")"
is "$(pg_sql "SELECT count(*) FROM stats.traffic_seen")" 6 "  it counted 6 events"
is "$(pg_sql "SELECT sum(messages) FROM stats.traffic WHERE domain = 'example.org'")" 5 "  5 messages for example.org"
is "$(pg_sql "SELECT sum(messages) FROM stats.traffic WHERE domain = 'example.net'")" 2 "  2 for example.net (one of them also for example.org)"
exp=$(expected)
is "$(table)" "$exp" "  messages and bytes per domain and direction, as the events say"
like "$exp" '^example.net inbound 2 [0-9]+
example.org inbound 5 [0-9]+$' "  (the events: $(echo $exp))"
is "$(pg_sql "SELECT DISTINCT day = (now() AT TIME ZONE 'UTC')::date FROM stats.traffic")" t "  on today's (UTC) row"
like "$(rd_cli XPENDING sinkd:events traffic | head -1)" '^0$' "  every entry it read acknowledged"

before=$(table)
ok "$(consume; echo $?)" "run again"
is "$(table)" "$before" "  nothing changes"

rd_cli XGROUP SETID sinkd:events traffic 0 >/dev/null
ok "$(consume; echo $?)" "the group set back to the start of the stream, run again"
is "$(table)" "$before" "  nothing changes: every key was counted before"
like "$(tail -1 "$W/consumer.log")" '^traffic: 0 events counted$' "  and it says so"

send a5 500 a@example.org
wait_xlen 7 || diag "$(sk_log | tail -20)"
ok "$(consume; echo $?)" "one more message, run again"
is "$(pg_sql "SELECT count(*) FROM stats.traffic_seen")" 7 "  it counted the new event"
is "$(pg_sql "SELECT sum(messages) FROM stats.traffic")" 8 "  and only it (7 messages, one of them for two domains)"
is "$(table)" "$(expected)" "  as the events say"

# as a service: it waits for more, counts it as it comes, stops on SIGTERM
PGPASSFILE=$W/consumer.pgpass $PY "$CONSUMER" --consumer test \
	--redis "unix://$RD_SOCK" --redis-password-file "$W/consumer.redis.pw" \
	--pg "host=$PG_SOCKDIR dbname=postgres user=postgres" --table stats.traffic 2>>"$W/consumer.log" &
CPID=$!
send b2 300 b@example.net
for i in $(seq 1 300); do [ "$(pg_sql "SELECT count(*) FROM stats.traffic_seen")" -ge 8 ] && break; sleep 0.1; done
is "$(pg_sql "SELECT count(*) FROM stats.traffic_seen")" 8 "the consumer running: a new message is counted as it comes"
is "$(table)" "$(expected)" "  as the events say"
kill -TERM "$CPID"
for i in $(seq 1 150); do kill -0 "$CPID" 2>/dev/null || break; sleep 0.1; done
ok "$(! kill -0 "$CPID" 2>/dev/null; echo $?)" "  SIGTERM stops it"
wait "$CPID"
rc=$?
CPID=
is "$rc" 0 "  with status 0"

ok "$(sk_log_clean; echo $?)" "no sanitizer report in sinkd's log"
done_testing
