#!/bin/bash
# signals.t - SIGHUP, SIGTERM and SIGINT reach sinkd's main thread only
#
# sinkd blocks the signals it takes before any thread exists, so that every
# thread (libmilter's, GLib's, the clamav engine's loader) inherits the
# mask, and only the main thread takes them.  A thread that did not block
# them would die of a SIGHUP sent while sinkd stops (exit 129), and
# libmilter's own signal thread would take it as "stop serving", ending
# the message in flight.  Here, with the embedded engine loading the test
# signatures: every thread's SigBlk holds SIGHUP, SIGTERM and SIGINT, and
# SIGTERM then SIGHUP at once with a message in flight (t/lib/milterseq.py
# hold) lets the message finish, accepted, and sinkd exit with status 0.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/clamav.sh"

command -v sigtool >/dev/null || bail_out "sigtool (package clamav) is needed"
e2e_workdir signals
chmod o+x "$W"
SEQ=$TOP/t/lib/milterseq.py

# start: a fresh sinkd with the clamav handler on the test signatures
start() {
	sk_stop
	rm -rf "$W/sk"
	sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
	av_db "$W/sk/db" || bail_out "cannot build the test signature database"
	mkdir -p "$W/sk/tmp"
	chown -R postfix "$W/sk"
	chown -R root "$W/sk/conf"	# sinkd trusts only root's configuration
	sk_conf "chain = protocol, clamav" "[protocol]" \
		'add-headers = X-Seen: ${queue_id}' "deny-senders = @spam.example" \
		"[clamav]" "database = $W/sk/db" "tmpdir = $W/sk/tmp" \
		"quarantine-dir = $W/sk/quarantine" "watch-interval = 0"
	sk_start || bail_out "sinkd did not start"
	# the engine loaded: its loader thread has run
	for i in $(seq 1 100); do
		grep -q 'engine ready' "$W/sk/sinkd.log" && break
		sleep 0.1
	done
}

# mask_ok PID: every thread's SigBlk has SIGHUP (1), SIGINT (2), SIGTERM (15)
mask_ok() {
	local f blk n=0 bad=0
	for f in /proc/$1/task/*/status; do
		blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' "$f")
		n=$((n + 1))
		[ $((0x$blk & 0x4003)) -eq $((0x4003)) ] || { bad=$((bad + 1)); diag "$f: SigBlk $blk"; }
	done
	echo "$n $bad"
}

start
PID=$(sk_pid)
read -r n bad <<<"$(mask_ok "$PID")"
[ "$n" -ge 4 ]; ok $? "sinkd runs several threads ($n)"
is "$bad" 0 "every thread blocks SIGHUP, SIGINT and SIGTERM"
like "$(sk_log)" 'clamav: engine ready' "the clamav engine was loaded (its loader thread among them)"

# a message in flight, then SIGTERM and SIGHUP at once
mkfifo "$W/go"
python3 "$SEQ" hold "unix:$W/sk/sinkd.sock" <"$W/go" >"$W/held.out" 2>"$W/held.err" &
CLIENT=$!
exec 4>"$W/go"
for i in $(seq 1 100); do grep -q '^held' "$W/held.out" && break; sleep 0.1; done
is "$(head -n 1 "$W/held.out")" "held" "a message is in flight (up to its body)"
read -r n bad <<<"$(mask_ok "$PID")"
is "$bad" 0 "with the connection's threads running, every thread still blocks them"
kill -TERM "$PID"
kill -HUP "$PID"
for i in $(seq 1 50); do grep -q 'stopping on signal 15' "$W/sk/sinkd.log" && break; sleep 0.1; done
like "$(sk_log)" 'stopping on signal 15' "sinkd takes SIGTERM"
kill -HUP "$PID" 2>/dev/null
kill -0 "$PID" 2>/dev/null; ok $? "and, SIGHUP or not, waits for the message in flight"
echo go >&4
exec 4>&-
wait "$CLIENT"
out=$(cat "$W/held.out")
like "$out" $'\nedits=[1-9]' "the message in flight finished: edits at end of message"
like "$out" $'\nlast=c' "and accepted"
for i in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
wait "$PID" 2>/dev/null
is "$?" 0 "sinkd exits with status 0"
SK_PID=
unlike "$(sk_log)" 'libmilter stopped serving|in flight; the MTA' "libmilter kept serving; nothing left behind"
like "$(sk_log)" 'verdict=accept' "the message's verdict line is logged"
sk_log_clean; ok $? "no sanitizer report"

# SIGINT stops too; SIGHUP alone reloads
start
PID=$(sk_pid)
sk_reload; ok $? "SIGHUP reloads"
kill -0 "$PID"; ok $? "and sinkd goes on"
kill -INT "$PID"
for i in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
wait "$PID" 2>/dev/null
is "$?" 0 "SIGINT stops it, status 0"
SK_PID=
done_testing
