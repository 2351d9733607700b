#!/bin/bash
# e2e-shutdown.t - SIGTERM with a message in flight, through a real Postfix
#
# A raw SMTP session stops half-way through DATA while sinkd gets SIGTERM:
# sinkd must stop taking new connections at once (Postfix answers them
# 451 4.7.1) yet finish the message in flight, which then arrives with
# sinkd's header; a message held past shutdown-timeout is left to the MTA,
# which tempfails it: nothing is lost.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"

e2e_workdir e2e-shutdown

mkdir -p "$W/pf" "$W/sk"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"

# start_sk TIMEOUT: a fresh sinkd adding a header, with that shutdown-timeout
start_sk() {
	sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
	chown postfix "$W/sk"
	sed -i "s/^shutdown-timeout = .*/shutdown-timeout = $1/" "$W/sk/conf/sinkd.conf"
	sk_conf '[protocol]' 'add-headers = X-Sinkd-Passed: ${queue_id}'
	sk_start
}


# open_data RCPT: a session stopped inside DATA
open_data() {
	exec 3<>"/dev/tcp/127.0.0.1/$PF_PORT" || return 1
	reply >/dev/null
	say "EHLO client.test"; reply >/dev/null
	say "MAIL FROM:<sender@example.net>"; R_MAIL=$(reply)
	say "RCPT TO:<$1>"; R_RCPT=$(reply)
	say "DATA"; R_DATA=$(reply)
	say "Subject: in flight" "" "first half of the body"
}

# --- a message in flight is finished
start_sk 20s || bail_out "sinkd did not start"
open_data flight@example.org
is "$R_MAIL|$R_RCPT|${R_DATA%% *}" "250 2.1.0 Ok|250 2.1.5 Ok|354" "a session is inside DATA"
PID=$(sk_pid)
kill -TERM "$PID"
for i in $(seq 1 50); do grep -q 'stopping on signal 15' "$W/sk/sinkd.log" && break; sleep 0.1; done
like "$(sk_log)" 'stopping on signal 15' "sinkd takes SIGTERM"
kill -0 "$PID" 2>/dev/null; ok $? "and waits: a message is in flight"
out=$(pf_swaks --from other@example.net --to new@example.org)
like "$out" '<\** 451 4\.7\.1 ' "a new connection is refused at once (Postfix: 451 4.7.1)"
say "second half of the body" "."
R_END=$(reply)
exec 3>&-
like "$R_END" '^250 2\.0\.0 Ok: queued as ' "the message in flight is accepted after SIGTERM"
pf_wait_delivered flight@example.org 1
ok $? "and delivered"
grep -q '^X-Sinkd-Passed: [0-9A-F]' "$(pf_last_message flight@example.org)"
ok $? "having passed the chain (header added)"
for i in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null
ok $((! $?)) "then sinkd exits"
wait "$PID" 2>/dev/null
is "$?" 0 "with status 0"
unlike "$(sk_log)" 'in flight; the MTA' "no message was left behind"
SK_PID=
sk_log_clean; ok $? "no sanitizer report"

# --- a message held past shutdown-timeout is left to the MTA
rm -f "$W/sk/sinkd.log"
start_sk 1s || bail_out "sinkd did not start again"
open_data late@example.org
PID=$(sk_pid)
kill -TERM "$PID"
for i in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null
ok $((! $?)) "past shutdown-timeout sinkd exits with the message in flight"
like "$(sk_log)" 'warning: stopping with 1 message\(s\) in flight; the MTA will retry them' "and says so"
say "rest" "."
R_END=$(reply)
exec 3>&-
like "$R_END" '^451 4\.7\.1 ' "the client is told to retry (nothing lost)"
is "$(pf_delivered_count late@example.org)" 0 "and nothing was delivered unfiltered"
SK_PID=
done_testing
