#!/bin/bash
# postfix-selftest.sh - self-test of t/lib/postfix.sh (not part of the suite)
#
# Run as root:  bash t/lib/postfix-selftest.sh </dev/null
# Set PF_KEEP=1 to keep the work directory (/tmp/sinkd-pf-selftest.*) afterwards.

T=$(cd "$(dirname "$0")/.." && pwd)
. "$T/lib/tap.sh"
. "$T/lib/postfix.sh"

[ "$(id -u)" -eq 0 ] || bail_out "must run as root"
for cmd in postfix postconf postqueue swaks script runuser; do
	command -v "$cmd" >/dev/null || bail_out "missing $cmd"
done

W=$(workdir pf-selftest) || bail_out "mktemp"

cleanup() {
	pf_cleanup
	if [ -z "${PF_KEEP:-}" ] && [ "$TAP_FAILED" -eq 0 ]; then
		rm -rf "$W"
	else
		echo "# work directory kept: $W" >&2
	fi
}
trap cleanup EXIT

msg() { # msg FILE SUBJECT TO: write a small message
	printf 'From: sender@client.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n\r\nbody of %s\r\n' \
		"$3" "$2" "$2" "$2" >"$1"
}

# --- instance A: no milter, delivery into Maildirs -------------------------
A=$W/a
mkdir "$A"
PORT_A=$(pf_free_port) || bail_out "no free port"
pf_setup "$A" "$PORT_A" ""
ok $? "pf_setup without milter (port $PORT_A)"
like "$(grep "^127" "$A/etc/master.cf")" "^127\.0\.0\.1:$PORT_A +inet +n +- +n " "master.cf: smtpd on 127.0.0.1:$PORT_A, unchrooted"
unlike "$(grep -Ev '^(#|[[:space:]])' "$A/etc/master.cf" | awk '$5 != "n"')" "." "master.cf: chroot column n for every service"
is "$(pf_postconf -h smtpd_milters)" "" "no smtpd_milters"

pf_start
ok $? "pf_start A" || bail_out "cannot start Postfix: see diagnostics above"

msg "$W/m1" one alice@example.org
msg "$W/m2" two bob@Example.NET
msg "$W/m3" three alice@example.org
out1=$(pf_swaks --from sender@client.test --to alice@example.org --data "@$W/m1")
rc1=$?
out2=$(pf_swaks --from sender@client.test --to bob@Example.NET --data "@$W/m2")
rc2=$?
out3=$(pf_swaks --from sender@client.test --to alice@example.org --data "@$W/m3")
rc3=$?
is "$rc1$rc2$rc3" "000" "swaks exit status 0 for 3 messages"
like "$out1" "<- +250 2\.0\.0 Ok: queued as" "message 1 queued"
like "$out2" "<- +250 2\.0\.0 Ok: queued as" "message 2 queued"
like "$out3" "<- +250 2\.0\.0 Ok: queued as" "message 3 queued"

pf_wait_delivered alice@example.org 2
ok $? "2 messages delivered to alice@example.org"
pf_wait_delivered bob@Example.NET 1
ok $? "1 message delivered to bob@Example.NET"
pf_wait_queue_empty 20
ok $? "queue empty"
is "$(pf_queue_count)" 0 "pf_queue_count 0"
is "$(pf_delivered_count alice@example.org)" 2 "pf_delivered_count alice"
is "$(pf_delivered_count bob@Example.NET)" 1 "pf_delivered_count bob"
is "$(pf_mailbox alice@example.org)" "$A/mail/example.org/alice/new" "pf_mailbox alice"
is "$(pf_mailbox bob@Example.NET)" "$A/mail/example.net/bob/new" "pf_mailbox bob (domain lower-cased)"
is "$(find "$A/mail" -type f | wc -l)" 3 "exactly 3 files under DIR/mail"
is "$(pf_delivered_count nobody@example.org)" 0 "pf_delivered_count of an unknown recipient is 0"

last=$(pf_last_message alice@example.org)
like "$last" "^$A/mail/example\.org/alice/new/" "pf_last_message alice is in her Maildir"
like "$(cat "$last")" "Subject: three" "newest message for alice is message 3"
like "$(cat "$(pf_last_message bob@Example.NET)")" "Subject: two" "bob got message 2"
like "$(cat "$last")" "Delivered-To: alice@example.org" "Delivered-To header"
unlike "$(cat "$(pf_mailbox alice@example.org)"/*)" "Subject: two" "alice did not get bob's message"
printf 'From: root@client.test\nTo: erin@example.org\nSubject: five\n\nvia sendmail\n' |
	pf_sendmail -f root@client.test erin@example.org
ok $? "pf_sendmail submits a message"
pf_wait_delivered erin@example.org 1 20
ok $? "message from pf_sendmail delivered to erin@example.org"
out=$(pf_swaks --port 1 --to frank@example.org)
like "$out" "Connection refused" "a later pf_swaks option (--port) overrides the default"
like "$(pf_log)" "relay=maildir, .*status=sent \(delivered via maildir service\)" "pf_log shows maildir deliveries"

# --- instance B, running at the same time: milter socket nobody listens on --
B=$W/b
mkdir "$B"
PORT_B=$(pf_free_port) || bail_out "no free port"
[ "$PORT_B" = "$PORT_A" ] && PORT_B=$((PORT_A + 1))
pf_setup "$B" "$PORT_B" "unix:$B/nothing.sock"
ok $? "pf_setup with milter unix:$B/nothing.sock (port $PORT_B)"
is "$(pf_postconf -h smtpd_milters)" "unix:$B/nothing.sock" "smtpd_milters set"
is "$(pf_postconf -h non_smtpd_milters)" "unix:$B/nothing.sock" "non_smtpd_milters set"
is "$(pf_postconf -h milter_default_action)" "tempfail" "milter_default_action tempfail"
pf_start
ok $? "pf_start B while A runs"

msg "$W/m4" four carol@example.com
out=$(pf_swaks --from sender@client.test --to carol@example.com --data "@$W/m4")
rc=$?
like "$out" "<\*\* +451 4\.7\.1" "milter down: swaks gets 451 4.7.1"
unlike "$out" "250 2\.0\.0 Ok: queued" "milter down: message not queued"
isnt_zero=0; [ "$rc" -ne 0 ] && isnt_zero=1
is "$isnt_zero" 1 "swaks exit status non-zero ($rc)"
sleep 1
is "$(pf_delivered_count carol@example.com)" 0 "nothing delivered to carol"
is "$(find "$B/mail" -type f | wc -l)" 0 "nothing at all under B's DIR/mail"
is "$(pf_queue_count)" 0 "nothing queued in B"
like "$(pf_log)" "connect to Milter service unix:$B/nothing\.sock: No such file" "B's maillog shows the milter connect failure"

# --- switching back to A; a failing start -----------------------------------
pf_use "$A"
ok $? "pf_use A"
is "$PF_PORT" "$PORT_A" "pf_use restored A's port"
out=$(pf_swaks --from sender@client.test --to dave@example.org --data "@$W/m1")
like "$out" "250 2\.0\.0 Ok: queued" "A still accepts mail"
pf_wait_delivered dave@example.org 1 20
ok $? "A delivers to dave@example.org"
is "$(pf_delivered_count carol@example.com)" 0 "carol has nothing in A either"

C=$W/c
mkdir "$C"
pf_setup "$C" "$PORT_A" ""
ok $? "pf_setup C on A's port (will not start)"
err=$(pf_start 2>&1 >/dev/null)
rc=$?
is "$([ "$rc" -ne 0 ] && echo failed)" failed "pf_start C fails when the port is taken"
like "$err" "^# " "failure diagnostics are prefixed with '# '"
like "$err" "already listens on TCP port $PORT_A" "diagnostics say the port is taken"
pf_stop
ok $? "pf_stop of a never-started instance is fine"

# --- stopping -------------------------------------------------------------
pf_use "$B" && pidB=$(tr -d ' \n' <"$B/queue/pid/master.pid")
pf_stop
ok $? "pf_stop B"
is "$(kill -0 "$pidB" 2>/dev/null && echo alive || echo gone)" gone "B's master is gone"
unlike "$(_pf_listening "$PORT_B" && echo listening)" listening "B's port no longer listens"
pf_use "$A" && pidA=$(tr -d ' \n' <"$A/queue/pid/master.pid")
pf_stop
ok $? "pf_stop A"
is "$(kill -0 "$pidA" 2>/dev/null && echo alive || echo gone)" gone "A's master is gone"
pf_start
ok $? "pf_start A again after stop"
pf_stop
ok $? "pf_stop A again"

done_testing
