#!/bin/bash
# e2e-events-redis.t - after-accept events through a real Postfix into a
# Redis stream (the redis target) of a server the test starts itself
#
# Real SMTP into a private Postfix whose milter is the real sinkd with an
# [event:rs] redis target: a redis-server on a unix socket in the work
# directory, with a password sinkd reads from a password file.  Checked on
# what Postfix delivered and what the stream holds:
#   - N messages give N stream entries with distinct keys, each with the
#     fields of its event (key, json, queue_id, sender, direction,
#     verdict, size) and the key's mark (STREAM:seen:KEY);
#   - the server down while mail flows: the mail is accepted and
#     delivered, the failure logged, and once it is back every event is
#     in the stream, each key once;
#   - sinkd killed with SIGKILL with events not yet delivered: replayed
#     after the restart, none lost, none twice;
#   - the server stalled past the timeout (SIGSTOP): the delivery gives
#     up and is tried again on a new connection, the server runs every
#     try once it runs again, and the stream has the event once;
#   - a wrong password, a stream key holding a string: refused for good,
#     logged with the server's reason;
#   - the password never appears in sinkd -P's output nor in the log;
#   - maxlen: a second target's stream (over TCP) trimmed (MAXLEN ~) to
#     about it;
#   - sinkd -n: every bad key at its file and line;
#   - the log holds no sanitizer report.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/redis.sh"
PY=python3

command -v redis-server >/dev/null || bail_out "no redis-server (./bootstrap test installs it)"
e2e_workdir e2e-events-redis
trap '_e2e_cleanup; rd_kill' EXIT
PASS=s3cret-$RANDOM$RANDOM
STREAM=test:events
mkdir -p "$W/pf" "$W/sk"
# small stream nodes, so that MAXLEN ~ trims after a few entries
RD_OPTS="--stream-node-max-entries 2"
RD_PORT=$(pf_free_port)
rd_start "$W/redis" "$PASS" || bail_out "no redis-server"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
# the password file: root's, readable by sinkd's group only
printf '%s\n' "$PASS" >"$W/sk/conf/redis.pw"
chown root:postfix "$W/sk/conf/redis.pw"
chmod 640 "$W/sk/conf/redis.pw"
sk_conf "state-dir = $W/sk/state" \
	'[event:rs]' 'type = redis' "address = unix:$RD_SOCK" "stream = $STREAM" \
	'password-file = redis.pw' 'timeout = 2s' 'retry-max = 1s' \
	'[event:trim]' 'type = redis' "address = 127.0.0.1:$RD_PORT" 'stream = test:trim' 'maxlen = 2' \
	'password-file = redis.pw' 'retry-max = 1s'
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
# entries: the stream's entries, one JSON object of fields a line
entries() {
	rd_cli --json XRANGE "$STREAM" - + 2>/dev/null | python3 -c '
import json, sys
for id, f in json.load(sys.stdin):
    print(json.dumps(dict(zip(f[0::2], f[1::2]))))'
}
xlen() { rd_cli XLEN "$STREAM"; }
keys() { entries | python3 -c 'import json, sys; print(len({json.loads(l)["key"] for l in sys.stdin}))'; }
# wait_xlen N: until the stream has N entries (60 s at most)
wait_xlen() {
	local i
	for i in $(seq 1 600); do
		[ "$(xlen)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# check: "ok" for each entry whose fields agree with its event
check() {
	entries | python3 -c '
import json, sys
for l in sys.stdin:
    f = json.loads(l)
    e = json.loads(f["json"])
    ok = (f["key"] == e["key"] == "%s.%s" % (e["queue_id"], e["sha256"])
          and f["queue_id"] == e["queue_id"] and f["sender"] == e["sender"] == "someone@outside.example"
          and f["direction"] == e["direction"] == "inbound" and f["verdict"] == e["verdict"] == "accept"
          and int(f["size"]) == e["size"] > 0 and e["version"] == 1)
    print("ok" if ok else "bad: " + l.strip())'
}

is "$(accepted 5 first a@example.org)" 5 "5 messages accepted"
pf_wait_delivered a@example.org 5 || diag "not delivered"
wait_xlen 5 || diag "$(sk_log | tail -20)"
is "$(xlen)" 5 "5 stream entries"
is "$(keys)" 5 "  with distinct keys"
is "$(check | sort -u)" ok "  each with the fields of its event"
is "$(entries | python3 -c 'import json, sys; print(" ".join(sorted(json.loads(json.loads(l)["json"])["headers"]["subject"][0] for l in sys.stdin)))')" \
	"first1 first2 first3 first4 first5" "  one per message, by subject"
k=$(entries | sed -n 1p | python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["key"])')
like "$(rd_cli TTL "$STREAM:seen:$k")" '^[1-9][0-9]*$' "  each key marked as seen, with a time to live"

ok "$(sk_reload; echo $?)" "a reload (as sinkd's user) reads the password file again and checks out"
unlike "$(grep -i 'reload' "$SK_DIR/sinkd.log" | tail -3)" 'error|failed|refused' "  without an error"

# the server down while mail flows
rd_stop
is "$(accepted 3 down a@example.org)" 3 "Redis down: 3 messages accepted"
pf_wait_delivered a@example.org 8 || diag "not delivered"
is "$(pf_delivered_count a@example.org)" 8 "  and delivered"
for i in $(seq 1 50); do grep -q 'event:rs: event .* not delivered' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
like "$(grep 'event:rs: event' "$SK_DIR/sinkd.log" | tail -1)" "not delivered: unix:$RD_SOCK: .*again in" \
	"  the failed delivery is logged, with the next try"
rd_start "$W/redis" || bail_out "redis-server did not start again"
is "$(xlen)" 5 "  the server back with its 5 entries"
wait_xlen 8 || diag "$(sk_log | tail -20)"
is "$(xlen)" 8 "  the 3 events arrive"
is "$(keys)" 8 "  each key once"

# sinkd killed with events not yet delivered
rd_stop
is "$(accepted 3 kill a@example.org)" 3 "Redis down again: 3 messages accepted"
for i in $(seq 1 50); do [ "$(grep -c 'event:rs: event .* not delivered' "$SK_DIR/sinkd.log")" -ge 2 ] && break; sleep 0.1; done
sk_kill
rd_start "$W/redis" || bail_out "redis-server did not start again"
sk_start || bail_out "sinkd did not start again"
like "$(grep 'journal .*: .* bytes, last event' "$SK_DIR/sinkd.log" | tail -1)" 'last event 11;' \
	"after kill -9, the journal is replayed: 11 events"
wait_xlen 11 || diag "$(sk_log | tail -20)"
is "$(xlen)" 11 "  the 3 undelivered events arrive after the restart"
is "$(keys)" 11 "  none twice"
is "$(check | sort -u)" ok "  each with the fields of its event"

# the server stalled (SIGSTOP) past the timeout: sinkd gives up waiting
# and sends the event again on a new connection; both reach the server
# once it runs again, and the event is in the stream once
sk_stop
sed -i 's/^timeout = 2s$/timeout = 1s/' "$W/sk/conf/sinkd.conf"
sk_start || bail_out "sinkd did not start again"
calls() { rd_cli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_\(evalsha\|eval\):calls=\([0-9]*\),.*/\2/p' | awk '{ s += $1 } END { print s + 0 }'; }
before=$(calls)
kill -STOP "$RD_PID"
is "$(accepted 1 stall a@example.org)" 1 "Redis stalled: the message is accepted"
for i in $(seq 1 100); do grep -q 'event:rs: event 12 not delivered' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
sleep 3	# a try or two more, each on a new connection
like "$(grep 'event:rs: event 12 not delivered' "$SK_DIR/sinkd.log" | head -1)" 'not delivered: .*(timed out|Resource temporarily unavailable).*try 1;' \
	"  the delivery gives up after the timeout"
kill -CONT "$RD_PID"
wait_xlen 12 || diag "$(sk_log | tail -20)"
for i in $(seq 1 100); do grep -q 'event:rs: event 12 delivered after' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
tries=$(sed -n 's/.*event:rs: event 12 delivered after \([0-9]*\) tries.*/\1/p' "$SK_DIR/sinkd.log")
ok "$([ "${tries:-0}" -ge 2 ] && [ "$(( $(calls) - before ))" -ge "$tries" ]; echo $?)" \
	"  the server ran the script for each of its ${tries:-?} tries ($(( $(calls) - before )) runs)"
is "$(xlen)" 12 "  and the stream has the event once"
is "$(keys)" 12 "  each key once"

# a wrong password: refused for good, with the server's reason
sk_stop
printf 'wrong\n' >"$W/sk/conf/redis.pw"
sk_start || bail_out "sinkd did not start with a wrong password"
is "$(accepted 1 wrong a@example.org)" 1 "a wrong password: the message is still accepted"
for i in $(seq 1 100); do grep -q 'event:rs: event 13 refused' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
like "$(grep 'event:rs: event 13' "$SK_DIR/sinkd.log")" 'refused for good: .*AUTH: WRONGPASS' \
	"  the event is refused for good, logged with the server's reason"
is "$(xlen)" 12 "  and the stream unchanged"
printf '%s\n' "$PASS" >"$W/sk/conf/redis.pw"

# the password shows nowhere
sk_stop
sed -i '/^password-file = /c password = '"$PASS" "$W/sk/conf/sinkd.conf"
got=$("$SINKD" -P default -c "$W/sk/conf/sinkd.conf" 2>&1)
like "$got" 'password = \(secret, not shown\)' "sinkd -P says where the password is set"
unlike "$got" "$PASS" "  and never shows it"
unlike "$(cat "$SK_DIR/sinkd.log")" "$PASS" "  nor does the log"

# sinkd -n: every bad key at its file and line
cat >"$W/bad.conf" <<CONF
[sinkd]
chain = protocol
spool-dir = $W/sk/spool
state-dir = $W/sk/state
[event:a]
type = redis
address = localhost:99999
[event:b]
type = redis
address = unix:relative
password = x
password-file = $W/sk/conf/redis.pw
[event:c]
type = redis
address = ::1:6379
user = sinkd
maxlen = -1
timeout = 0
CONF
is "$("$SINKD" -n -c "$W/bad.conf" 2>&1 | sed "s|$W/||g"; echo "exit ${PIPESTATUS[0]}")" \
"bad.conf:7: address: \"99999\": not a port number (1 to 65535)
bad.conf:10: address: \"unix:relative\": unix: needs an absolute path
bad.conf:12: password-file: password is set too: set one of them
bad.conf:15: address: \"::1:6379\": write an IPv6 address as [address]:port
bad.conf:16: user: a user needs a password (password-file)
bad.conf:17: maxlen: out of range (0 to 1000000000000)
bad.conf:18: timeout: out of range (1 to 3600)
exit 1" "sinkd -n: bad redis keys at their file and line"
sed -i '/^\[event:a\]/,$d' "$W/bad.conf"
printf '%s\n' '[event:b]' 'type = redis' "address = [::1]:6379" "password-file = $W/sk/conf/redis.pw" >>"$W/bad.conf"
chmod 644 "$W/sk/conf/redis.pw"
is "$("$SINKD" -n -c "$W/bad.conf" 2>&1 | sed "s|$W/||g"; echo "exit ${PIPESTATUS[0]}")" \
"bad.conf:8: password-file: sk/conf/redis.pw: a secret readable by others (mode 0644); chmod o-rwx it
exit 1" "  a password file others can read"
chmod 640 "$W/sk/conf/redis.pw"
is "$("$SINKD" -n -c "$W/bad.conf" 2>&1; echo "exit $?")" "configuration OK
exit 0" "  and the same, readable by root and sinkd's group only, is fine"

# maxlen: the other target's stream kept short
n=$(rd_cli XLEN test:trim)
ok "$([ "$n" -ge 2 ] && [ "$n" -le 4 ]; echo $?)" "maxlen = 2: the stream of 12 events keeps about 2 ($n)"
is "$(rd_cli --json XREVRANGE test:trim + - COUNT 1 | $PY -c 'import json, sys; f = json.load(sys.stdin)[0][1]; print(dict(zip(f[0::2], f[1::2]))["key"])')" \
	"$(rd_cli --json XREVRANGE "$STREAM" + - COUNT 1 | $PY -c 'import json, sys; f = json.load(sys.stdin)[0][1]; print(dict(zip(f[0::2], f[1::2]))["key"])')" \
	"  the newest among them"

# the stream's key holding something else: refused for good
rd_cli DEL test:trim >/dev/null
rd_cli SET test:trim "not a stream" >/dev/null
sk_start || bail_out "sinkd did not start again"
is "$(accepted 1 wrongtype a@example.org)" 1 "a stream key that holds a string: the message is accepted"
for i in $(seq 1 100); do grep -q 'event:trim: event 14 refused' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
like "$(grep 'event:trim: event 14' "$SK_DIR/sinkd.log")" 'refused for good: 127.0.0.1:[0-9]+: XADD: WRONGTYPE' \
	"  the event is refused for good, with the server's reason"
wait_xlen 13 || diag "$(sk_log | tail -20)"
is "$(xlen)" 13 "  the other target has it"
sk_stop

ok "$(sk_log_clean; echo $?)" "no sanitizer report in sinkd's log"
done_testing
