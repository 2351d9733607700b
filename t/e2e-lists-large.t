#!/bin/bash
# e2e-lists-large.t - a post to a list of 20,000 members through a real
# Postfix
#
# The list is filled with sinkd-list from standard input (one
# transaction); a member's post is expanded in its one transaction to
# every member.  Postfix holds the deliveries (defer_transports), so that
# what is checked is what Postfix took from the milter: the queue file's
# recipients (postcat), each member once, the list's address gone, the
# envelope sender LIST-bounces@.  The time and memory of the expansion
# are bench/'s to measure (bench/lists), not this test's.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"

N=20000
e2e_workdir e2e-lists-large
mkdir -p "$W/pf" "$W/sk" "$W/store"
PORT=$(pf_free_port)
pf_setup "$W/pf" "$PORT" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_postconf -e 'defer_transports = maildir' || bail_out "postconf"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
chown postfix "$W/store"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, sink:lists/' "$W/sk/conf/sinkd.conf"
sk_conf "state-dir = $W/sk/state" \
	'[sink:lists]' "module = $TOP/lists/lists.so" "store = sqlite:$W/store/lists.db" \
	"submit = 127.0.0.1:$PORT"
sk_start || bail_out "sinkd did not start"
L="$TOP/tools/sinkd-list -c $W/sk/conf/sinkd.conf"

$L create big@example.org >/dev/null; ok $? "a list"
seq -f 'm%05g@members.example' 1 $N >"$W/members"
is "$($L add big@example.org - <"$W/members")" "big@example.org: $N added" \
	"sinkd-list add reads $N members from standard input"
is "$($L members big@example.org | wc -l)" $N "  all of them are members"

OUT=$(pf_swaks --from m00001@members.example --to big@example.org --header 'Subject: to all' --body 'Hello.')
reply=$(smtp_reply "$OUT" .)
like "$reply" '^250 ' "a member's post to $N members is accepted"
QID=$(printf '%s\n' "$reply" | sed -n 's/.*queued as \([0-9A-F]*\).*/\1/p')
like "$QID" '^[0-9A-F]+$' "  Postfix names its queue file"
for i in $(seq 1 100); do
	grep -q "$QID: from=<big-bounces@example.org>" "$W/pf/maillog" && break
	sleep 0.2
done
# Postfix counts the list's address it took at RCPT TO, which the
# milter deleted, beside the members it added
like "$(grep "$QID: from=" "$W/pf/maillog" | head -1)" "nrcpt=$((N + 1)) " \
	"Postfix took $N recipients from the milter (and counts the one deleted)"
postcat -c "$W/pf/etc" -q "$QID" >"$W/qf" 2>"$W/qf.err" || diag "$(cat "$W/qf.err")"
sed -n 's/^recipient: //p' "$W/qf" | sort >"$W/rcpts"
is "$(wc -l <"$W/rcpts")" $N "the queue file holds $N recipients"
cmp -s "$W/rcpts" <(sort "$W/members"); ok $? "  every member once, and nobody else"
is "$(grep -c 'big@example.org' "$W/rcpts")" 0 "  the list's own address is gone"
is "$(sed -n 's/^sender: //p' "$W/qf")" "big-bounces@example.org" "  the sender is LIST-bounces@"
like "$(grep "$QID: from=" "$W/sk/sinkd.log")" "sink.lists.members=$N" "sinkd's log line counts the members"

sk_stop
sk_log_clean; ok $? "no sanitizer report"
done_testing
