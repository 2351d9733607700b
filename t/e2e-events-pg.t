#!/bin/bash
# e2e-events-pg.t - after-accept events through a real Postfix into a
# PostgreSQL table (the postgres target) of a cluster the test makes
#
# Real SMTP into a private Postfix whose milter is the real sinkd with an
# [event:pg] postgres target: a PostgreSQL 15 cluster of the test's own
# (initdb, unix socket in the work directory, password authentication),
# the connection string in a conninfo file.  Checked on what Postfix
# delivered and what the table holds:
#   - the table (SCHEMA.NAME) made at the first connection; N messages
#     give N rows with distinct keys, each with the columns of its event;
#   - the server down while mail flows: the mail is accepted and
#     delivered, the failure logged, and once it is back every event is
#     a row, each key once;
#   - sinkd killed with SIGKILL with events not yet delivered: replayed
#     after the restart, none lost, none twice;
#   - an 8-bit Subject: the column holds it as UTF-8;
#   - the connection's server process stalled (SIGSTOP) past the
#     timeout: the delivery gives up, is tried again on a new connection,
#     and the event is a row once;
#   - a user without the right to insert: refused for good, logged with
#     the server's reason; the mail still flows;
#   - the connection string never appears in sinkd -P's output;
#   - sinkd -n: every bad key at its file and line;
#   - the log holds no sanitizer report.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/pg.sh"

[ -x "$PG_BIN/initdb" ] || bail_out "no $PG_BIN/initdb (./bootstrap test installs postgresql-15)"
e2e_workdir e2e-events-pg
trap '_e2e_cleanup; pg_kill' EXIT
mkdir -p "$W/pf" "$W/sk"
pg_start "$W/pg" "pw-$RANDOM$RANDOM" || bail_out "no PostgreSQL"
pg_sql "CREATE SCHEMA mail" || bail_out "cannot make a schema"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
# the connection string, with its password: root's, readable by sinkd's
# group only
conninfo() {
	printf '%s\n' "$1" >"$W/sk/conf/pg.conninfo"
	chown root:postfix "$W/sk/conf/pg.conninfo"
	chmod 640 "$W/sk/conf/pg.conninfo"
}
conninfo "$PG_CONNINFO"
sk_conf "state-dir = $W/sk/state" \
	'[event:pg]' 'type = postgres' 'conninfo-file = pg.conninfo' 'table = mail.events' \
	'timeout = 2s' 'retry-max = 1s'
sk_start || bail_out "sinkd did not start"

msg() {
	printf 'From: someone@outside.example\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@outside.example>\r\n\r\nHello, %s.\r\n' \
		"$2" "$1" "$1" "$1" >"$W/$1"
}
send() { pf_swaks --from someone@outside.example --data "$W/$1" --to "$2"; }
# accepted N SUBJECT-PREFIX TO: N messages, each accepted (250)
accepted() {
	local i good=0
	for i in $(seq 1 "$1"); do
		msg "$2$i" "$3"
		[[ "$(smtp_reply "$(send "$2$i" "$3")" .)" == 250* ]] && good=$((good + 1))
	done
	echo "$good"
}
rows() { pg_sql "SELECT count(*) FROM mail.events" 2>/dev/null; }
keys() { pg_sql "SELECT count(DISTINCT key) FROM mail.events" 2>/dev/null; }
# wait_rows N: until the table has N rows (60 s at most)
wait_rows() {
	local i
	for i in $(seq 1 600); do
		[ "$(rows)" -ge "$1" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# bad_rows: the rows whose columns disagree with their event
bad_rows() {
	pg_sql "SELECT key FROM mail.events WHERE NOT (
		key = event->>'key' AND key = queue_id || '.' || sha256 AND length(sha256) = 64
		AND sender = 'someone@outside.example' AND sender = event->>'sender'
		AND recipients = ARRAY['a@example.org'] AND direction = 'inbound'
		AND policy = ARRAY['default'] AND verdict = 'accept' AND handler IS NULL
		AND size = (event->>'size')::bigint AND size > 0
		AND time = (event->>'time')::timestamptz AND seq > 0
		AND message_id = '<' || subject || '@outside.example>'
		AND (event->>'version')::int = 1)"
}

is "$(rows)" "" "no table before the first event"
is "$(accepted 5 first a@example.org)" 5 "5 messages accepted"
pf_wait_delivered a@example.org 5 || diag "not delivered"
wait_rows 5 || diag "$(sk_log | tail -20)"
is "$(rows)" 5 "the table made, with 5 rows"
is "$(keys)" 5 "  with distinct keys"
is "$(bad_rows)" "" "  each with the columns of its event"
is "$(pg_sql "SELECT string_agg(subject, ' ' ORDER BY subject) FROM mail.events")" \
	"first1 first2 first3 first4 first5" "  one per message, by subject"
is "$(pg_sql "SELECT string_agg(column_name || ':' || data_type, ' ' ORDER BY ordinal_position)
	FROM information_schema.columns WHERE table_schema = 'mail' AND table_name = 'events'")" \
	"key:text seq:bigint time:timestamp with time zone queue_id:text sender:text recipients:ARRAY direction:text policy:ARRAY verdict:text handler:text size:bigint sha256:text subject:text message_id:text event:jsonb stored:timestamp with time zone" \
	"  its columns"

# the server down while mail flows
pg_stop
is "$(accepted 3 down a@example.org)" 3 "PostgreSQL down: 3 messages accepted"
pf_wait_delivered a@example.org 8 || diag "not delivered"
is "$(pf_delivered_count a@example.org)" 8 "  and delivered"
for i in $(seq 1 50); do grep -q 'event:pg: event .* not delivered' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
like "$(grep 'event:pg: event' "$SK_DIR/sinkd.log" | tail -1)" 'not delivered: .*mail.events: .*again in' \
	"  the failed delivery is logged, with the next try"
pg_start "$W/pg" || bail_out "PostgreSQL did not start again"
wait_rows 8 || diag "$(sk_log | tail -20)"
is "$(rows)" 8 "  the server back: the 3 events arrive"
is "$(keys)" 8 "  each key once"

# sinkd killed with events not yet delivered
pg_stop
is "$(accepted 3 kill a@example.org)" 3 "PostgreSQL down again: 3 messages accepted"
for i in $(seq 1 50); do [ "$(grep -c 'event:pg: event .* not delivered' "$SK_DIR/sinkd.log")" -ge 2 ] && break; sleep 0.1; done
sk_kill
pg_start "$W/pg" || bail_out "PostgreSQL did not start again"
sk_start || bail_out "sinkd did not start again"
like "$(grep 'journal .*: .* bytes, last event' "$SK_DIR/sinkd.log" | tail -1)" 'last event 11;' \
	"after kill -9, the journal is replayed: 11 events"
wait_rows 11 || diag "$(sk_log | tail -20)"
is "$(rows)" 11 "  the 3 undelivered events arrive after the restart"
is "$(keys)" 11 "  none twice"
is "$(bad_rows)" "" "  each with the columns of its event"

# the connection's server process stalled past the timeout
sk_stop
sed -i 's/^timeout = 2s$/timeout = 1s/' "$W/sk/conf/sinkd.conf"
sk_start || bail_out "sinkd did not start again"
# (a Subject in raw UTF-8, and one byte that is not UTF-8)
printf 'From: someone@outside.example\r\nTo: a@example.org\r\nSubject: Gr\303\274\303\237e \377\r\n\r\nHello.\r\n' >"$W/warm"
like "$(smtp_reply "$(send warm a@example.org)" .)" '^250 ' "a message on a new connection, with an 8-bit Subject"
wait_rows 12 || diag "$(sk_log | tail -20)"
is "$(pg_sql "SELECT subject FROM mail.events WHERE subject LIKE 'Gr%'")" "Grüße �" \
	"  its subject column as received, UTF-8 (the stray byte U+FFFD)"
backend=$(pg_sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'sinkd'")
like "$backend" '^[0-9]+$' "  sinkd's connection has a server process ($backend)"
kill -STOP "$backend"
is "$(accepted 1 stall a@example.org)" 1 "that process stalled: the message is accepted"
for i in $(seq 1 100); do grep -q 'event:pg: event 13 delivered after' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
like "$(grep 'event:pg: event 13 not delivered' "$SK_DIR/sinkd.log" | head -1)" 'not delivered: adding to mail.events: timed out \(try 1;' \
	"  the delivery gives up after the timeout"
like "$(grep 'event:pg: event 13 delivered' "$SK_DIR/sinkd.log")" 'delivered after [2-9] tries' "  and is done on a new connection"
kill -CONT "$backend"
for i in $(seq 1 50); do kill -0 "$backend" 2>/dev/null || break; sleep 0.1; done
is "$(rows)" 13 "  the stalled process resumed: the event is a row once"
is "$(keys)" 13 "  each key once"

# a user who may not insert: refused for good, with the server's reason
pg_sql "CREATE ROLE reader LOGIN PASSWORD 'reader-pw'; GRANT USAGE ON SCHEMA mail TO reader; GRANT SELECT ON mail.events TO reader"
sk_stop
conninfo "host=$PG_SOCKDIR dbname=postgres user=reader password=reader-pw"
sk_start || bail_out "sinkd did not start as reader"
is "$(accepted 1 denied a@example.org)" 1 "a user who may not insert: the message is still accepted"
for i in $(seq 1 100); do grep -q 'event:pg: event 14 refused' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
like "$(grep 'event:pg: event 14' "$SK_DIR/sinkd.log")" 'refused for good: adding to mail.events: ERROR: +permission denied for table events' \
	"  the event is refused for good, logged with the server's reason"
is "$(rows)" 13 "  and the table unchanged"
sk_stop

# the connection string shows nowhere
sed -i '/^conninfo-file = /c conninfo = '"$PG_CONNINFO" "$W/sk/conf/sinkd.conf"
got=$("$SINKD" -P default -c "$W/sk/conf/sinkd.conf" 2>&1)
like "$got" 'conninfo = \(secret, not shown\)' "sinkd -P says where the connection string is set"
unlike "$got" "$PG_PASSWORD" "  and never shows it"
unlike "$(cat "$SK_DIR/sinkd.log")" "$PG_PASSWORD|reader-pw" "  nor does the log"

# sinkd -n: every bad key at its file and line
cat >"$W/bad.conf" <<CONF
[sinkd]
chain = protocol
spool-dir = $W/sk/spool
state-dir = $W/sk/state
[event:a]
type = postgres
[event:b]
type = postgres
conninfo = host=/tmp dbname
table = 1events
[event:c]
type = postgres
conninfo = dbname=x
conninfo-file = $W/sk/conf/pg.conninfo
table = a.b.c
[event:d]
type = postgres
conninfo = dbname=x
table = events; DROP TABLE x
timeout = 0
[event:e]
type = postgres
conninfo = postgresql://u:p@db.example/mail
table = Mail_2.Events_1
CONF
is "$("$SINKD" -n -c "$W/bad.conf" 2>&1 | sed "s|$W/||g"; echo "exit ${PIPESTATUS[0]}")" \
"bad.conf:6: type: a postgres target needs conninfo (or conninfo-file)
bad.conf:9: conninfo: not a libpq connection string: missing \"=\" after \"dbname\" in connection info string
bad.conf:10: table: \"1events\": not a table name (NAME or SCHEMA.NAME: letters, digits, '_')
bad.conf:14: conninfo-file: conninfo is set too: set one of them
bad.conf:15: table: \"a.b.c\": not a table name (NAME or SCHEMA.NAME: letters, digits, '_')
bad.conf:19: table: \"events; DROP TABLE x\": not a table name (NAME or SCHEMA.NAME: letters, digits, '_')
bad.conf:20: timeout: out of range (1 to 3600)
exit 1" "sinkd -n: bad postgres keys at their file and line (a URI and SCHEMA.NAME are fine)"
sed -i '/^\[event:a\]/,$d' "$W/bad.conf"
printf '%s\n' '[event:f]' 'type = postgres' "conninfo-file = $W/sk/conf/pg.conninfo" >>"$W/bad.conf"
chmod 644 "$W/sk/conf/pg.conninfo"
is "$("$SINKD" -n -c "$W/bad.conf" 2>&1 | sed "s|$W/||g"; echo "exit ${PIPESTATUS[0]}")" \
"bad.conf:7: conninfo-file: sk/conf/pg.conninfo: a secret readable by others (mode 0644); chmod o-rwx it
exit 1" "  a conninfo file others can read"
chmod 640 "$W/sk/conf/pg.conninfo"
is "$("$SINKD" -n -c "$W/bad.conf" 2>&1; echo "exit $?")" "configuration OK
exit 0" "  and the same, readable by root and sinkd's group only, is fine"

ok "$(sk_log_clean; echo $?)" "no sanitizer report in sinkd's log"
done_testing
