#!/bin/bash
# e2e-sink-proc.t - co-process sinks through a real Postfix
#
# Real SMTP into a private Postfix whose milter is the real sinkd with the
# chain protocol, sink:dlp, sink:hooks.  sink:dlp is the shipped Python
# example (etc/sinks/dlp.py on etc/sinks/sinkd_sink.py); sink:hooks is
# t/sinks/proc-hooks.py, whose eom sleeps when the Subject says so.
# Checked on what Postfix answered and delivered: a payment card number
# (base64-encoded, Luhn-valid) is refused with the sink's reply; one that
# fails the Luhn check, and clean mail, are delivered as sent; a word of
# the sink's list is refused; example.net's policy file sets the sink's
# action to tag: its mail with a card number is delivered with X-DLP; a
# worker killed (kill -9) while its hook sleeps costs that message its
# on-error (tempfail) and the next message is served by a new worker; the
# per-message log lines carry the sink's notes; no sanitizer report.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"

e2e_workdir e2e-sink-proc
mkdir -p "$W/pf" "$W/sk"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, sink:dlp, sink:hooks/' "$W/sk/conf/sinkd.conf"
install -m 755 "$TOP/etc/sinks/dlp.py" "$TOP/t/sinks/proc-hooks.py" "$W/sk/conf/"
install -m 644 "$TOP/etc/sinks/sinkd_sink.py" "$W/sk/conf/"
sk_conf '[sink:dlp]' "command = $W/sk/conf/dlp.py" "words = project bluebird" \
	'[sink:hooks]' "command = $W/sk/conf/proc-hooks.py" "timeout = 60s" "workers-max = 2"
printf '[sink:dlp]\naction = tag\n' >"$W/sk/conf/domains/example.net.conf"
sk_start || bail_out "sinkd did not start: $(sk_log)"

# msg NAME SUBJECT TEXT: a message whose text part (UTF-8, base64) is TEXT
msg() {
	{
		printf 'From: alice@example.com\nTo: bob@example.org\nSubject: %s\n' "$2"
		printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
		printf 'Content-Transfer-Encoding: base64\n\n'
		printf '%s\n' "$3" | base64
	} >"$W/$1.eml"
}
send() { OUT=$(pf_swaks --from alice@example.com --data "$W/$1.eml" "${@:2}"); }

msg card pass "Hello Bob, my card is 4111 1111 1111 1111, exp 12/29."
send card --to bob@example.org
is "$(smtp_reply "$OUT" .)" "550 5.7.1 message refused: it seems to carry confidential data" \
	"dlp.py: a card number (base64, Luhn-valid) is refused with the sink's reply"
msg noluhn pass "Order 4111 1111 1111 1112 is on its way."
send noluhn --to carol@example.org
like "$(smtp_reply "$OUT" .)" '^250 ' "a number that fails the Luhn check is accepted"
pf_wait_delivered carol@example.org 1 || diag "$OUT"
like "$(cat "$(pf_last_message carol@example.org)")" 'T3JkZXIgNDExMSAxMTExIDExMTEgMTExMiBpcyBvbiBpdHMgd2F5Lg' \
	"  and delivered as sent"
msg clean pass "Lunch at noon?"
send clean --to dave@example.org
like "$(smtp_reply "$OUT" .)" '^250 ' "clean mail is accepted"
pf_wait_delivered dave@example.org 1 || diag "$OUT"
is "$(header "$(pf_last_message dave@example.org)" Subject)" pass "  and delivered"
msg word pass "About Project Bluebird: see attached."
send word --to erin@example.org
like "$(smtp_reply "$OUT" .)" '^550 5\.7\.1 ' "a word of the sink's list is refused"
send card --to tom@example.net
like "$(smtp_reply "$OUT" .)" '^250 ' "example.net's policy: action = tag: accepted"
pf_wait_delivered tom@example.net 1 || diag "$OUT"
is "$(header "$(pf_last_message tom@example.net)" X-DLP)" card "  and delivered with X-DLP: card"

# a worker killed while its hook sleeps
msg slow "sleep 30" "Take your time."
(send slow --to fred@example.org; printf '%s\n' "$OUT" >"$W/slow.out") &
SENDER=$!
wpid=
for _ in $(seq 1 100); do
	wpid=$(sed -n 's/.*sink:hooks: worker \([0-9]*\): sleeping 30.*/\1/p' "$W/sk/sinkd.log" | tail -n 1)
	[ -n "$wpid" ] && break
	sleep 0.2
done
ok "$([ -n "$wpid" ] && kill -0 "$wpid" 2>/dev/null && echo 0 || echo 1)" "the hook sleeps in worker $wpid"
kill -9 "$wpid"
wait "$SENDER"
OUT=$(cat "$W/slow.out")
like "$(smtp_reply "$OUT" .)" '^451 4\.3\.0 ' "a worker killed (kill -9) mid-message: that message gets on-error (tempfail)"
send clean --to gina@example.org
like "$(smtp_reply "$OUT" .)" '^250 ' "  the next message is served"
pf_wait_delivered gina@example.org 1 || diag "$OUT"
is "$(pf_delivered_count fred@example.org)" 0 "the message of the killed worker was not delivered"

sleep 1
log=$(sk_log)
like "$log" "sink:hooks: worker $wpid: signal 9; killed, 1 request lost \\(on-error\\)" "the killed worker is logged"
like "$log" "verdict=reject handler=sink:dlp code=550 xcode=5.7.1.* sink\\.dlp\\.match=card" \
	"the message line names the sink and carries its note"
like "$log" "sink\\.dlp\\.match=word:project.bluebird" "  the word it found"
sk_log_clean
ok $? "no sanitizer report or panic in sinkd's log"

done_testing
