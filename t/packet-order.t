#!/bin/bash
# packet-order.t - milter packets out of order, to a real sinkd
#
# Any local client that can reach the socket can write any packets in any
# order; libmilter's own state table lets some through (HELO, MAIL and
# unknown commands before any negotiation; RCPT, DATA and body after an
# unknown command; CONNECT after SMFIC_QUIT_NC) and ignores others.  Every
# sequence of t/lib/milterseq.py goes to a sinkd running the rules of
# fuzz/milter.conf, which edit every message they let through (headers, a
# Bcc recipient, the body): only a well-formed message may be let through,
# so every other sequence must get no edit (no message accepted); the
# connection must be closed in the end; and after each one sinkd must
# still be running and let a well-formed message through.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/sinkd.sh"

SEQ=$TOP/t/lib/milterseq.py
e2e_workdir packet-order
chmod o+x "$W"

sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
cp "$TOP/t/disclaimer/text.tmpl" "$TOP/t/disclaimer/html.tmpl" "$W/sk/conf/"
# fuzz/milter.conf's rules, under sk_init's [sinkd] group
sed -e '1,/^\[sinkd\]/d' -e '/^spool-dir/d' -e '/^internal-hosts/d' -e 's#^text-file = #&'"$W/sk/conf/"'#' \
	-e 's#^html-file = #&'"$W/sk/conf/"'#' "$TOP/fuzz/milter.conf" >>"$W/sk/conf/sinkd.conf"
chown -R postfix "$W/sk"
chown -R root "$W/sk/conf"	# sinkd trusts only root's configuration
sk_start || bail_out "sinkd did not start"
PID=$(sk_pid)

# run NAME: the sequence's summary in OUT
run() { OUT=$(python3 "$SEQ" run "$SK_SOCKET" "$1" 2>&1); }
field() { printf '%s\n' "$OUT" | sed -n "s/^$1=//p"; }

# accepted: the summary says a message was let through (edits, then 'c')
accepted() { [ "$(field edits)" -gt 0 ] && [ "$(field last)" = c ]; }

run good
accepted; ok $? "good: the well-formed message is let through, with its edits (headers, Bcc, body)"
is "$(field closed)" 1 "good: and the connection closed"

# Where libmilter's state table drops the one stray packet (a CONNECT,
# SMFIC_QUIT_NC or OPTNEG after CONNECT, an end of message after the
# message's end), what reaches sinkd is a well-formed message, let through
# once; every other sequence starts no message properly.
PASSED=" eom-twice connect-twice negotiate-after-connect quit-nc-then-message quit-nc-then-mail unknown-family-connect-twice "
good=1 through=1
for name in $(python3 "$SEQ" list); do
	[ "$name" = good ] && continue
	run "$name"
	if [[ $PASSED == *" $name "* ]]; then
		accepted
		ok $? "$name: libmilter dropped the stray packet; the message is let through (replies $(field replies))"
		through=$((through + 1))
	else
		is "$(field edits)" 0 "$name: no message let through (replies $(field replies))"
	fi
	is "$(field closed)" 1 "$name: the connection is closed"
	kill -0 "$PID" 2>/dev/null
	ok $? "$name: sinkd still runs"
	run good
	if accepted; then
		good=$((good + 1))
	else
		ok 1 "$name: the next well-formed message is let through: $OUT"
	fi
done
n=$(python3 "$SEQ" list | wc -l)
is "$good" "$n" "after each sequence, the next well-formed message was let through"
is "$(grep -c 'verdict=accept' "$W/sk/sinkd.log")" "$((good + through - 1))" \
	"the log has a verdict=accept line for those messages, none for the others"

# the sequences libmilter passes on to sinkd's callbacks are refused there
for name in helo-first mail-first unknown-first no-connect no-connect-mail unknown-then-rcpt unknown-then-body; do
	run "$name"
	case $(field replies) in
	*t*|*y*) ok 0 "$name: refused with a tempfail" ;;
	*) ok 1 "$name: refused with a tempfail (replies $(field replies))" ;;
	esac
done
like "$(sk_log)" 'milter protocol step HELO out of order \(before CONNECT\)' "a disorder is logged, naming the step"
unlike "$(sk_log)" 'panic|fatal' "no panic"
sk_stop
ok $? "sinkd stops"
sk_log_clean; ok $? "no sanitizer report"
done_testing
