#!/bin/bash
# sendmail-selftest.sh - checks t/lib/sendmail.sh against a real Sendmail.
# Not part of the suite: run it by hand as root,
#   bash t/lib/sendmail-selftest.sh </dev/null
# It downloads Sendmail into t/work/sendmail-debs (kept, as the tests do) and
# works in t/work/sm-selftest.PID (removed at exit).

T=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$T/lib/tap.sh"
. "$T/lib/sendmail.sh"

WORK=$T/work/sm-selftest.$$
cleanup() {
	sm_stop_all
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$WORK" || bail_out "cannot create $WORK"

# line_like TEXT ERE DESCRIPTION: some line of TEXT matches ERE (tap.sh's
# like matches the whole string); line_unlike: no line does
line_like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "     got: '$1'" "no line matches: '$2'"
	fi
}
line_unlike() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		diag "     got: '$1'" "a line matches: '$2'"
	else
		ok 0 "$3"
	fi
}

# --- fetching
# (not in $(...): it sets SM_BIN and friends)
sm_fetch "$T/work/sendmail-debs" >"$WORK/fetch.out" 2>&1
ok $? "sm_fetch succeeds"
[ -s "$WORK/fetch.out" ] && diag "$(cat "$WORK/fetch.out")"
[ -x "$SM_BIN" ] || bail_out "no sendmail binary after sm_fetch"
sm_fetch "$T/work/sendmail-debs" >"$WORK/fetch.out" 2>&1
is "$? $(cat "$WORK/fetch.out")" "0 " "sm_fetch again: nothing to do and quiet"

# --- refusals made before Sendmail would refuse
out=$(sm_setup /tmp/sm-selftest.$$ 2525 2>&1)
[ $? -ne 0 ]
ok $? "sm_setup refuses a directory below /tmp"
like "$out" "world writable" "... and says why"
rm -rf /tmp/sm-selftest.$$
is "$(_sm_milter_spec inet:127.0.0.1:2526) $(_sm_milter_spec local:/a/b.sock) $(_sm_milter_spec inet:2526@127.0.0.1)" \
	"inet:2526@127.0.0.1 unix:/a/b.sock inet:2526@127.0.0.1" "milter socket spellings"

# --- with the filter down: 451 4.3.2, nothing delivered
P1=$(sm_free_port)
sm_setup "$WORK/down" "$P1" "unix:$WORK/down/sinkd.sock"
ok $? "sm_setup with a milter socket nobody listens on"
like "$(grep '^Xsinkd' "$SM_CF")" \
	'^Xsinkd, S=unix:.*/down/sinkd\.sock, F=T, T=C:10s;S:30s;R:30s;E:5m$' "cf has the filter, F=T and timeouts"
like "$(grep '^O Milter.macros.connect' "$SM_CF")" '\{client_addr\}.*\{client_name\}' "connect macros"
like "$(grep '^O Milter.macros.envfrom' "$SM_CF")" '\bi\b.*\{auth_authen\}.*\{mail_addr\}' "envfrom macros"
like "$(grep '^O Milter.macros.envrcpt' "$SM_CF")" '\{rcpt_addr\}' "envrcpt macros"

t0=$SECONDS
sm_start
ok $? "sm_start (filter down)"
d=$((SECONDS - t0))
ok $([ "$d" -lt 10 ] && echo 0 || echo 1) "start took ${d}s (< 10 s: no host name sleep)"

out=$(sm_swaks --from sender@example.net --to alice@example.com)
like "$out" '<\*\* +451 4\.3\.2 ' "filter down: swaks gets 451 4.3.2"
line_unlike "$out" '^<- +250 2\.0\.0 .*accepted' "... and no message accepted"
sleep 2
is "$(sm_delivered_count alice@example.com)" 0 "nothing delivered to alice"
is "$(find "$SM_DIR/mail" -type f | wc -l)" 0 "nothing delivered at all"
is "$(find "$SM_DIR/queue" -type f | wc -l)" 0 "nothing queued"

pid=$(cat "$SM_DIR/daemon.pid")
sm_stop
ok $? "sm_stop"
ok $(kill -0 "$pid" 2>/dev/null && echo 1 || echo 0) "daemon $pid is gone"
ok $( (exec 3<>"/dev/tcp/127.0.0.1/$P1") 2>/dev/null && echo 1 || echo 0) "port $P1 closed"

# --- no filter: delivery to files for any domain
P2=$(sm_free_port)
sm_setup "$WORK/plain" "$P2" ""
ok $? "sm_setup without a filter"
is "$(grep -c '^X' "$SM_CF")" 0 "cf has no filter"
sm_start
ok $? "sm_start (no filter)"

out=$(sm_swaks --from sender@example.net --to alice@example.com,Bob@Example.ORG \
	--header "Subject: first message")
like "$out" '<- +250 2\.0\.0 .*accepted for delivery' "message 1 (alice@example.com, Bob@Example.ORG) accepted"
out=$(sm_swaks --from other@example.net --to bob@example.org --header "Subject: second message" \
	--body "second body line")
like "$out" '<- +250 2\.0\.0 .*accepted for delivery' "message 2 (bob@example.org) accepted"

sm_wait_delivered alice@example.com 1
ok $? "alice@example.com got a message"
sm_wait_delivered bob@example.org 2
ok $? "bob@example.org got two messages"
sleep 1
is "$(sm_delivered_count alice@example.com)" 1 "alice has exactly 1"
is "$(sm_delivered_count BOB@example.org)" 2 "bob has exactly 2 (address case folded)"
is "$(ls "$SM_DIR/mail" | sort | tr '\n' ' ')" "alice@example.com bob@example.org " \
	"one mailbox per recipient address, nothing else"
msg=$(sm_last_message alice@example.com)
line_like "$msg" '^Subject: first message' "alice's message is message 1"
line_like "$msg" '^Return-Path: <sender@example\.net>' "... with the envelope sender"
line_like "$msg" '^[[:space:]]+by mx\.sinkd\.test ' "... received by the test Sendmail"
line_like "$msg" '^To: alice@example\.com, Bob@Example\.ORG$' "... headers intact"
msg=$(sm_last_message bob@example.org)
line_like "$msg" '^Subject: second message' "bob's last message is message 2"
like "$msg" 'second body line' "... with its body"
line_like "$(cat "$(_sm_messages bob@example.org | head -n 1)")" '^Subject: first message' "bob's first is message 1"
is "$(sm_delivered_count nobody@example.com)" 0 "count of an unknown recipient is 0"
sm_wait_delivered nobody@example.com 1 1 2>/dev/null
ok $([ $? -ne 0 ] && echo 0 || echo 1) "sm_wait_delivered times out for it"
is "$(find "$SM_DIR/queue" -type f | wc -l)" 0 "queue empty"

sm_stop
ok $? "sm_stop"
ok $( (exec 3<>"/dev/tcp/127.0.0.1/$P2") 2>/dev/null && echo 1 || echo 0) "port $P2 closed"

# --- queue only: SM_CF_OPTIONS DeliveryMode=q, SM_NO_QUEUE_RUNS
out=$(SM_CF_OPTIONS='DeliveryMode=q
not an option' sm_setup "$WORK/bad" "$(sm_free_port)" "" 2>&1)
is "$?" 2 "sm_setup refuses an SM_CF_OPTIONS line that is not Name=Value"
line_like "$out" 'not Name=Value: "not an option"' "... and says which"
P3=$(sm_free_port)
SM_CF_OPTIONS='DeliveryMode=q' sm_setup "$WORK/qonly" "$P3" ""
ok $? "sm_setup with SM_CF_OPTIONS=DeliveryMode=q"
is "$(tail -n 1 "$SM_CF")" "O DeliveryMode=q" "the option is the .cf's last line"
SM_NO_QUEUE_RUNS=1 sm_start
ok $? "sm_start with SM_NO_QUEUE_RUNS"
unlike "$(tr '\0' ' ' <"/proc/$(head -n 1 "$SM_DIR/daemon.pid")/cmdline")" ' -q' "... the daemon has no -q"
out=$(sm_swaks --from sender@example.net --to carol@example.com --header "Subject: held")
like "$out" '<- +250 2\.0\.0 .*accepted for delivery' "a message is accepted"
sleep 3
is "$(find "$SM_DIR/queue" -name 'qf*' | wc -l)/$(sm_delivered_count carol@example.com)" "1/0" \
	"3 s later it is still queued, not delivered"
sm_stop
ok $? "sm_stop"

done_testing
