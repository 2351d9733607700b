#!/bin/bash
# e2e-sink.t - a native sink through a real Postfix
#
# Real SMTP into a private Postfix whose milter is the real sinkd with the
# chain protocol, sink:probe (t/sinks/probe.so, built by make tests).
# Checked on what Postfix answered and delivered: the sink refuses one
# recipient at RCPT TO while the other gets the message, with the header
# the sink added; a domain whose policy has the sink refuse at end of
# message gets the sink's reply; a domain whose policy makes the sink's
# end-of-message hook sleep past its timeout gets on-error (451) while a
# message sent at the same time passes; the per-message log lines name
# the sink; a reload while a message is in flight lets it finish and the
# next message run on the new generation (whose reload hook ran); the log
# holds no sanitizer report.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"

[ -f "$TOP/t/sinks/probe.so" ] || bail_out "no t/sinks/probe.so: run make tests"
e2e_workdir e2e-sink
mkdir -p "$W/pf" "$W/sk"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, sink:probe/' "$W/sk/conf/sinkd.conf"
sk_conf '[sink:probe]' "module = $(fixture "$TOP/t/sinks/probe.so" "$SK_DIR/conf")" \
	'refuse-rcpt = bad@example.org' 'add-header = X-Probe: seen'
printf '[sink:probe]\nverdicts = eom=reject\nreply = 550 5.7.1 probe says no\n' \
	>"$W/sk/conf/domains/reject.example.conf"
printf '[sink:probe]\nsleep = 4\ntimeout = 1\n' >"$W/sk/conf/domains/slow.example.conf"
sk_start || bail_out "sinkd did not start"

msg() { printf 'From: someone@outside.example\nTo: %s\nSubject: %s\n\nHello.\n' "$1" "$2" >"$W/$2"; }
send() { pf_swaks --from someone@outside.example --data "$W/$1" "${@:2}"; }

# per-recipient verdicts at RCPT TO, and a header edit delivered
msg good@example.org two
OUT=$(send two --to good@example.org,bad@example.org)
is "$(smtp_reply "$OUT" 'RCPT TO:<bad@example.org>')" "550 5.1.1 probe refuses this recipient" \
	"the sink refuses one recipient at RCPT TO"
like "$(smtp_reply "$OUT" 'RCPT TO:<good@example.org>')" '^250 ' "  and accepts the other"
like "$(smtp_reply "$OUT" .)" '^250 ' "  the message is accepted"
pf_wait_delivered good@example.org 1 || diag "$OUT"
F=$(pf_last_message good@example.org)
is "$(header "$F" X-Probe)" seen "the header the sink added is delivered"
is "$(pf_delivered_count bad@example.org)" 0 "the refused recipient gets nothing"

# a refusal at end of message, with the sink's reply, from a domain's policy
msg x@reject.example three
OUT=$(send three --to x@reject.example)
is "$(smtp_reply "$OUT" .)" "550 5.7.1 probe says no" "a domain's policy: the sink rejects at end of DATA"

# a hook past its timeout: that message gets on-error, another one sent
# meanwhile passes
msg y@slow.example slow
msg z@example.org fast
send slow --to y@slow.example >"$W/slow.out" &
slow=$!
OUT=$(send fast --to z@example.org)
like "$(smtp_reply "$OUT" .)" '^250 ' "a message beside a sink hook past its timeout is accepted"
pf_wait_delivered z@example.org 1 || diag "$OUT"
is "$(pf_delivered_count z@example.org)" 1 "  and delivered"
wait $slow
like "$(smtp_reply "$(cat "$W/slow.out")" .)" '^451 4\.3\.0 ' "the message whose sink hook overran: on-error (tempfail)"
is "$(pf_delivered_count y@slow.example)" 0 "  not delivered"

# a reload while a message is in flight: that message finishes on the
# old generation, the next one runs on the new (whose reload hook ran)
send slow --to y2@slow.example >"$W/slow2.out" &
slow=$!
sleep 1
sk_reload || diag "no reload"
wait $slow
like "$(smtp_reply "$(cat "$W/slow2.out")" .)" '^451 4\.3\.0 ' "a message in flight across a reload finishes (on-error, as before)"
msg w@example.org after
OUT=$(send after --to w@example.org)
like "$(smtp_reply "$OUT" .)" '^250 ' "after the reload, a message passes"
pf_wait_delivered w@example.org 1 || diag "$OUT"
is "$(header "$(pf_last_message w@example.org)" X-Probe)" seen "  through the sink"

sleep 1
log=$(sk_log)
like "$log" "from=<someone@outside.example> .* sink\.probe\.reloaded=yes" \
	"the new generation's sink had its reload hook, and its note is on the log line"
like "$log" "sink:probe: eom hook (still running|ran) past its timeout of 1s" "the overrun is logged"
like "$log" "verdict=reject handler=sink:probe code=550 xcode=5.7.1" "the message line names the sink"
sk_log_clean
ok $? "no sanitizer report or panic in sinkd's log"

# negotiation: bench/milterload plays the MTA and prints the protocol
# flags sinkd chose; a sink asks only for the steps it has hooks for
ML=$TOP/bench/milterload
[ -x "$ML" ] || bail_out "$ML is not built (run make tests)"
mkdir -p "$W/msgs"
printf 'From: a@example.net\nTo: b@example.org\nSubject: negotiate\n\nHello.\n' >"$W/msgs/m.eml"
NOBODY=0x10 NOHDRS=0x20 NODATA=0x200 NR_CONN=0x1000 NR_HELO=0x2000 NR_MAIL=0x4000 NR_RCPT=0x8000
# flags CHAIN: FLAGS, the flags sinkd negotiates with this chain,
# "NAME=0|1 ..." (the log so far kept in sinkd.log.old)
flags() {
	local n out= proto
	sk_stop
	cat "$SK_DIR/sinkd.log" >>"$SK_DIR/sinkd.log.old"
	: >"$SK_DIR/sinkd.log"
	sed -i "s/^chain = .*/chain = $1/" "$W/sk/conf/sinkd.conf"
	sk_start || bail_out "sinkd did not start"
	proto=$("$ML" -c 1 -m 1 "$SK_SOCKET" "$W/msgs" 2>"$W/ml.err" | sed -n 's/^filter_protocol=//p')
	[ -n "$proto" ] || diag "milterload: $(cat "$W/ml.err")"
	for n in NR_CONN NR_HELO NR_MAIL NR_RCPT NODATA NOHDRS NOBODY; do
		if [ $((${proto:-0} & ${!n})) -ne 0 ]; then out="$out $n=1"; else out="$out $n=0"; fi
	done
	FLAGS=${out# }
}
sk_conf '[sink:first]' "module = $(fixture "$TOP/t/sinks/mark.so" "$SK_DIR/conf")"
flags "protocol, sink:first"
is "$FLAGS" "NR_CONN=1 NR_HELO=1 NR_MAIL=1 NR_RCPT=1 NODATA=1 NOHDRS=0 NOBODY=0" \
	"a sink with an end-of-message hook only: no reply before end of message, the content comes"
flags "protocol, sink:probe"
is "$FLAGS" "NR_CONN=0 NR_HELO=0 NR_MAIL=0 NR_RCPT=0 NODATA=0 NOHDRS=0 NOBODY=0" \
	"a sink with every hook: every step with its reply"
sk_stop
cat "$SK_DIR/sinkd.log.old" >>"$SK_DIR/sinkd.log"
sk_log_clean
ok $? "  no sanitizer report or panic in sinkd's logs"

done_testing
