#!/bin/bash
# metrics.t - GET /metrics and /healthz of a real sinkd (metrics-listen)
#
# bench/milterload plays the MTA: clean, infected (EICAR), banned and
# outbound (disclaimer) messages of known outcome, then the exposition is
# parsed whole with prometheus_client's parser (t/lib/promparse.py) and
# each counter compared with the number sent (the scan slots' gauges and
# their wait histogram, without labels, too).  Also: label caps
# (metrics-max-domains), reloads ok and failed, a message in flight,
# /healthz 503 after SIGTERM (shutting down) and while the
# embedded engine has no database and 200 once it has one, 404 and 405,
# a unix socket, and metrics-listen's errors as file:line.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/clamav.sh"

ML=$TOP/bench/milterload
[ -x "$ML" ] || bail_out "$ML is not built (run make tests)"
command -v curl >/dev/null || bail_out "curl is not installed"
PY=/usr/bin/python3	# Debian's, with python3-prometheus-client
$PY -c 'import prometheus_client' 2>/dev/null \
	|| bail_out "python3-prometheus-client is not installed (./bootstrap test installs it)"
e2e_workdir metrics
chmod o+x "$W"
install -m 755 "$TOP/t/lib/promparse.py" "$W/promparse.py"
av_db "$W/db" || bail_out "cannot build the test signature database"
EICAR="$(cut -d: -f3 "$W/db/eicar.hdb").UNOFFICIAL"

N_CLEAN=3 N_VIRUS=2 N_BANNED=1 N_OUT=2 N_OTHER=2

# messages: a clean one, EICAR attached, a .exe attached
M=$W/msgs
mkdir -p "$M/clean" "$M/virus" "$M/banned"
printf 'From: a@example.net\nTo: b@example.org\nSubject: clean\n\nhello\n' >"$M/clean/m.eml"
av_eicar "$W/eicar.com"
attach() {	# attach NAME FILE: a message with FILE attached as NAME
	printf 'From: a@example.net\nTo: b@example.org\nSubject: attached\nMIME-Version: 1.0\n'
	printf 'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nsee attached\n'
	printf -- '--b1\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="%s"\nContent-Transfer-Encoding: base64\n\n' "$1"
	base64 "$2"
	printf -- '--b1--\n'
}
attach eicar.com "$W/eicar.com" >"$M/virus/m.eml"
printf 'MZ not really a program\n' >"$W/prog"
attach setup.exe "$W/prog" >"$M/banned/m.eml"

PORT=$(pf_free_port) || bail_out "no free port"
URL=http://127.0.0.1:$PORT

sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
chown postfix "$W/sk"
sk_conf "chain = protocol, clamav, rewrite, disclaimer" \
	"metrics-listen = 127.0.0.1:$PORT" "metrics-max-domains = 2" \
	'[clamav]' "database = $W/db" "quarantine-dir = $W/q" \
	'[rewrite]' 'banned-extensions = .exe' \
	'[disclaimer]' "text-file = $(fixture "$TOP/t/disclaimer/text.tmpl" "$SK_DIR/conf")"
for d in example.org example.net; do
	: >"$SK_DIR/conf/domains/$d.conf"
done
printf '[clamav]\naction = quarantine\n' >"$SK_DIR/conf/domains/example.com.conf"
chmod 644 "$SK_DIR"/conf/domains/*.conf
sk_start || bail_out "sinkd did not start"

# healthy: wait until /healthz says 200 (the engine loads in the background)
healthy() {
	local i
	for i in $(seq 1 150); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$1/healthz")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}
healthy "$URL"
ok $? "/healthz: 200 once the engine is loaded"
is "$(curl -s "$URL/healthz")" "ok" "/healthz says ok"

# load DIR N [ARGS...]: N messages of DIR in one connection
load() {
	local dir=$1 n=$2
	shift 2
	"$ML" -c 1 -m "$n" "$@" "$SK_SOCKET" "$dir" >"$W/ml.out" 2>"$W/ml.err" \
		|| diag "milterload: $(cat "$W/ml.err")"
}
load "$M/clean" $N_CLEAN -r b@example.org
load "$M/virus" $N_VIRUS -r b@example.org
load "$M/banned" $N_BANNED -r b@example.org
# outbound (an internal client): the sender domain's policy, a disclaimer
load "$M/clean" $N_OUT -C 10.255.0.1 -f a@example.org -r x@example.net
# inbound to two more domains: the cap of 2 names makes the third "other"
load "$M/clean" 1 -r c@example.com
load "$M/virus" 1 -r c@example.com	# example.com quarantines
load "$M/clean" 1 -r d@example.net

# scrape: the exposition parsed whole; one "name{labels} value" per sample
scrape() {
	curl -s -D "$W/headers" "$URL/metrics" >"$W/metrics" \
		&& $PY "$W/promparse.py" <"$W/metrics" >"$W/samples" 2>"$W/parse.err"
}
scrape
ok $? "/metrics parses with prometheus_client's parser"
[ -s "$W/parse.err" ] && diag "$(cat "$W/parse.err")"
like "$(cat "$W/headers")" 'Content-Type: text/plain; version=0.0.4' "/metrics: the 0.0.4 content type"
val() { awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print "absent" }' "$W/samples"; }

TOTAL=$((N_CLEAN + N_VIRUS + N_BANNED + N_OUT + N_OTHER + 1))
is "$(val 'sinkd_messages_total{handler="none",verdict="accept"}')" \
	"$((N_CLEAN + N_BANNED + N_OUT + N_OTHER))" "accepted messages"
is "$(val 'sinkd_messages_total{handler="clamav",verdict="reject"}')" "$N_VIRUS" "rejected by clamav"
is "$(val 'sinkd_messages_total{handler="clamav",verdict="discard"}')" 1 "discarded by clamav (quarantined)"
is "$(val sinkd_quarantined_total)" 1 "one quarantine entry"
ok $([ "$(ls "$W/q"/*.eml | wc -l)" = 1 ]; echo $?) "  and there it is"
is "$(val "sinkd_viruses_total{name=\"$EICAR\"}")" $((N_VIRUS + 1)) "viruses by name: $EICAR"
is "$(val 'sinkd_banned_attachments_total{action="replaced"}')" "$N_BANNED" "banned attachments replaced"
is "$(val 'sinkd_disclaimers_total{outcome="added"}')" "$N_OUT" "disclaimers added"
is "$(val 'sinkd_policy_messages_total{direction="inbound",domain="example.org"}')" \
	"$((N_CLEAN + N_VIRUS + N_BANNED))" "inbound for example.org"
is "$(val 'sinkd_policy_messages_total{direction="outbound",domain="example.org"}')" \
	"$N_OUT" "outbound from example.org"
is "$(val 'sinkd_policy_messages_total{direction="inbound",domain="example.com"}')" 2 \
	"a second domain by name"
is "$(val 'sinkd_policy_messages_total{direction="inbound",domain="other"}')" 1 \
	"past metrics-max-domains = 2: other"
is "$(val 'sinkd_policy_messages_total{direction="inbound",domain="example.net"}')" absent \
	"the domain past the cap has no series of its own"
for h in protocol clamav rewrite disclaimer; do
	is "$(val "sinkd_handler_latency_seconds_count{handler=\"$h\"}")" "$TOTAL" \
		"latency histogram of $h: one observation per message"
	is "$(val "sinkd_handler_latency_seconds_bucket{handler=\"$h\",le=\"+Inf\"}")" "$TOTAL" \
		"latency histogram of $h: +Inf bucket"
done
is "$(val sinkd_engine_loaded)" 1 "engine loaded"
is "$(val sinkd_scan_slots)" "$(getconf _NPROCESSORS_ONLN)" "scan slots: one per CPU by default"
is "$(val sinkd_scan_slots_busy) $(val sinkd_scan_slots_waiting)" "0 0" "no slot busy, nobody waiting"
is "$(val sinkd_scan_slot_wait_seconds_count)" "$TOTAL" "slot waits: one observation per message scanned"
is "$(val sinkd_scan_slot_timeouts_total)" 0 "no slot wait timed out"
ok $([ "$(val sinkd_engine_signatures)" -gt 2 ]; echo $?) "engine signatures counted ($(val sinkd_engine_signatures))"
is "$(val sinkd_connections)" 0 "no connection open"
is "$(val sinkd_messages_in_flight)" 0 "no message in flight"
is "$(val sinkd_config_generation)" 1 "generation 1"
is "$(val 'sinkd_reloads_total{result="ok"}')" 0 "no reload yet"
is "$(val 'sinkd_clamd_servers{state="up"}')" 0 "no clamd pool"
# every family has its HELP and TYPE lines
for f in $(sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$W/metrics"); do
	grep -q "^# HELP $f " "$W/metrics" || { ok 1 "HELP for $f"; continue; }
done
is "$(grep -c '^# TYPE ' "$W/metrics")" "$(grep -c '^# HELP ' "$W/metrics")" "a TYPE line for every HELP line"

# reloads: one that works, one that does not
sk_reload || diag "no reload logged"
printf 'chain = protocol, nosuchhandler\n' >>"$SK_DIR/conf/sinkd.conf"
n=$(grep -c 'reload failed' "$SK_DIR/sinkd.log")
sk_hup
for i in $(seq 1 100); do
	[ "$(grep -c 'reload failed' "$SK_DIR/sinkd.log")" -gt "$n" ] && break
	sleep 0.1
done
sed -i '$d' "$SK_DIR/conf/sinkd.conf"
scrape
is "$(val 'sinkd_reloads_total{result="ok"}')" 1 "a reload counted ok"
is "$(val 'sinkd_reloads_total{result="failed"}')" 1 "a broken reload counted failed"
is "$(val sinkd_config_generation)" 2 "generation 2 after the reload"
is "$(val 'sinkd_messages_total{handler="clamav",verdict="reject"}')" "$N_VIRUS" \
	"counters survive a reload"

is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nothing")" 404 "an unknown path: 404"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/metrics")" 405 "POST: 405"
sk_stop
sk_log_clean
ok $? "no sanitizer report"

# no engine: /healthz says 503 with the reason, and 200 once a database
# comes (SIGHUP loads it)
rm -rf "$W/sk" "$W/db2"
mkdir -p "$W/db2"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
chown postfix "$W/sk"
sk_conf "chain = protocol, clamav" "metrics-listen = unix:$W/sk/metrics.sock" \
	'[clamav]' "database = $W/db2" "quarantine-dir = $W/q"
sk_start || bail_out "sinkd did not start (no database)"
H=$(curl -s -o "$W/h" -w '%{http_code}' --unix-socket "$W/sk/metrics.sock" http://localhost/healthz)
is "$H $(cat "$W/h")" "503 clamav: the signature engine is not loaded" "/healthz on a unix socket: 503 without an engine, and why"
load "$M/clean" 1 -r b@example.org
like "$(cat "$W/ml.out")" 'tempfail=1' "and mail is indeed tempfailed"
cp "$W/db"/* "$W/db2/"
sk_hup
code=
for i in $(seq 1 150); do
	code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$W/sk/metrics.sock" http://localhost/healthz)
	[ "$code" = 200 ] && break
	sleep 0.1
done
is "$code" 200 "/healthz: 200 once the database is there and loaded"
curl -s --unix-socket "$W/sk/metrics.sock" http://localhost/metrics >"$W/metrics"
$PY "$W/promparse.py" <"$W/metrics" >"$W/samples"
is "$(val 'sinkd_messages_total{handler="clamav",verdict="tempfail"}')" 1 "the tempfail counted"
# a directory sinkd cannot write to
chmod 000 "$W/sk/spool"
like "$(curl -s --unix-socket "$W/sk/metrics.sock" http://localhost/healthz)" \
	"^spool-dir $W/sk/spool: Permission denied" "/healthz: 503 naming an unwritable spool-dir"
chmod 700 "$W/sk/spool"
# a message in flight (t/lib/milterseq.py hold): counted as in flight on
# an open connection; after SIGTERM, while sinkd waits for it, /healthz
# says it is shutting down
mkfifo "$W/go"
$PY "$TOP/t/lib/milterseq.py" hold "unix:$W/sk/sinkd.sock" <"$W/go" >"$W/held.out" 2>"$W/held.err" &
CLIENT=$!
exec 4>"$W/go"
for i in $(seq 1 100); do grep -q '^held' "$W/held.out" && break; sleep 0.1; done
curl -s --unix-socket "$W/sk/metrics.sock" http://localhost/metrics >"$W/metrics"
$PY "$W/promparse.py" <"$W/metrics" >"$W/samples"
is "$(val sinkd_messages_in_flight) $(val sinkd_connections)" "1 1" "a message in flight on an open connection"
kill -TERM "$SK_PID"
for i in $(seq 1 50); do grep -q 'stopping on signal 15' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
H=$(curl -s -o "$W/h" -w '%{http_code}' --unix-socket "$W/sk/metrics.sock" http://localhost/healthz)
is "$H $(cat "$W/h")" "503 shutting down" "/healthz after SIGTERM, the message still in flight: 503 shutting down"
echo go >&4
exec 4>&-
wait "$CLIENT"
like "$(cat "$W/held.out")" $'\nlast=c' "the message in flight finished, accepted"
sk_stop
ok $([ ! -e "$W/sk/metrics.sock" ]; echo $?) "the unix socket removed at exit"
sk_log_clean
ok $? "no sanitizer report"

# errors: file:line, as for every key
printf '[sinkd]\nmetrics-listen = 127.0.0.1\nmetrics-max-domains = 0\n' >"$W/bad.conf"
ERR=$("$SINKD" -n -c "$W/bad.conf" 2>&1)
like "$ERR" "bad\\.conf:2: metrics-listen: .*port" "metrics-listen without a port: file:line"
like "$ERR" "bad\\.conf:3: metrics-max-domains: " "metrics-max-domains out of bounds: file:line"
printf '[sinkd]\nmetrics-listen = bogus:1:2:x\n' >"$W/bad.conf"
like "$("$SINKD" -n -c "$W/bad.conf" 2>&1)" "bad\\.conf:2: metrics-listen: " "a malformed address: file:line"

done_testing
