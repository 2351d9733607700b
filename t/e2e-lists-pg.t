#!/bin/bash
# e2e-lists-pg.t - one list store in PostgreSQL, shared by two sinkd
# behind two Postfix instances (two MX hosts of one domain)
#
# A PostgreSQL 15 cluster of the test's own holds the store; sinkd A and
# sinkd B each filter for a Postfix of their own and send their replies
# back into it.  Checked: a subscription asked through A is confirmed
# through B (the token A made is in the shared store), welcomed once; a
# post through B reaches the member subscribed through A; a non-member's
# post held through A is approved through B and reaches the members
# through B; the token is spent for both (a second approval through A is
# refused at RCPT TO); every reply was sent once, by the host that did
# the work; sinkd-list sees the same store; with PostgreSQL stopped, mail
# for a domain with no list still goes on and a post waits (451); no
# sanitizer report.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/pg.sh"

[ -x "$PG_BIN/initdb" ] || bail_out "no $PG_BIN/initdb (./bootstrap test installs postgresql-15)"
e2e_workdir e2e-lists-pg
A_PID=
trap '[ -n "$A_PID" ] && kill "$A_PID" 2>/dev/null; _e2e_cleanup; pg_kill' EXIT
mkdir -p "$W/pfa" "$W/pfb" "$W/ska" "$W/skb"
pg_start "$W/pg" "pw-$RANDOM$RANDOM" || bail_out "no PostgreSQL"

# host HOST: a Postfix and a sinkd whose list store is the cluster
host() {
	local h=$1 port
	port=$(pf_free_port)
	pf_setup "$W/pf$h" "$port" "unix:$W/sk$h/sinkd.sock" >/dev/null || bail_out "pf_setup $h"
	pf_start || bail_out "pf_start $h"
	sk_init "$W/sk$h" "unix:$W/sk$h/sinkd.sock"
	sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, sink:lists/' "$W/sk$h/conf/sinkd.conf"
	sk_conf "state-dir = $W/sk$h/state" \
		'[sink:lists]' "module = $TOP/lists/lists.so" "store = $PG_CONNINFO" \
		"submit = 127.0.0.1:$port"
	chmod 640 "$W/sk$h/conf/sinkd.conf"
	chown root:postfix "$W/sk$h/conf/sinkd.conf"
	sk_start || bail_out "sinkd $h did not start"
}
host a
A_PID=$(sk_pid)
A_DIR=$SK_DIR
host b
# on A / on B: what follows goes to that host's Postfix
on() { pf_use "$W/pf$1"; }
send() { OUT=$(pf_swaks "$@"); }
wait_for() { pf_wait_delivered "$1" "$2" 30 || diag "$1: $(pf_delivered_count "$1") of $2 delivered"; }
token() { grep -oE '\+(confirm|approve)-[0-9a-f]{32}@' "$1" | head -1 | grep -oE '[0-9a-f]{32}'; }
L() { "$TOP/tools/sinkd-list" -s "$PG_CONNINFO" "$@"; }
LIST=team@example.org

L create $LIST owner@example.org >/dev/null; ok $? "sinkd-list makes a list in PostgreSQL"
L add $LIST alice@example.com >/dev/null && L add -r moderator $LIST mod@example.org >/dev/null
ok $? "  with a member and a moderator"

on a
send --from carol@example.com --to team+subscribe@example.org --body x
like "$(smtp_reply "$OUT" .)" '^250 ' "A: carol asks to subscribe"
wait_for carol@example.com 1
TOK=$(token "$(pf_last_message carol@example.com)")
like "$TOK" '^[0-9a-f]{32}$' "  A sends her the confirmation"

on b
send --from carol@example.com --to "team+confirm-$TOK@example.org" --body yes
like "$(smtp_reply "$OUT" .)" '^250 ' "B: the token A made is known to B"
wait_for carol@example.com 1
like "$(header "$(pf_last_message carol@example.com)" Subject)" "Welcome" "  B welcomes carol"
is "$(L members $LIST | grep -c '^carol@example.com$')" 1 "  carol is a member in the shared store"

send --from alice@example.com --to $LIST --header 'Subject: via B' --body 'Hello.'
wait_for carol@example.com 2
is "$(header "$(pf_last_message carol@example.com)" Subject)" "via B" "a post through B reaches the member subscribed through A"

on a
send --from dave@example.com --to $LIST --header 'Subject: outsider' --body 'Me too.'
wait_for mod@example.org 1
HT=$(token "$(pf_last_message mod@example.org)")
like "$HT" '^[0-9a-f]{32}$' "A: a non-member's post is held, the moderator asked"
on b
send --from mod@example.org --to "team+approve-$HT@example.org" --body ok
like "$(smtp_reply "$OUT" .)" '^250 ' "B: the moderator approves it"
wait_for alice@example.com 2
is "$(header "$(pf_last_message alice@example.com)" Subject)" "outsider" "  and it reaches the members through B"
on a
send --from mod@example.org --to "team+approve-$HT@example.org" --body again
like "$(smtp_reply "$OUT" 'RCPT TO:<team+approve-'"$HT"'@example.org>')" '^550 ' \
	"A: the spent token is refused"

# each reply once, by the host that did the work
on a
a_carol=$(pf_delivered_count carol@example.com)
a_mod=$(pf_delivered_count mod@example.org)
on b
b_carol=$(pf_delivered_count carol@example.com)
is "$a_carol $b_carol" "1 3" "carol got one confirmation (A), one welcome and two posts (B)"
is "$a_mod" 1 "the moderator was asked once"
is "$(pg_sql "SELECT count(*) FROM outbox")" 0 "the shared outbox is empty"

# posts at once: the sinkd's transactions run side by side on its
# connections (a pool), each post expanded
on a
pids=
for i in 1 2 3 4 5 6; do
	pf_swaks --from carol@example.com --to $LIST --header "Subject: at once $i" --body x >"$W/at$i" &
	pids="$pids $!"
done
wait $pids
n=0
for i in 1 2 3 4 5 6; do
	smtp_reply "$(cat "$W/at$i")" . | grep -q '^250 ' && n=$((n + 1))
done
is "$n" 6 "six posts sent at once through A are accepted"
for i in $(seq 1 150); do
	[ "$(grep -l '^Subject: at once' "$(pf_mailbox alice@example.com)"/* 2>/dev/null | wc -l)" -ge 6 ] && break
	sleep 0.2
done
is "$(grep -l '^Subject: at once' "$(pf_mailbox alice@example.com)"/* 2>/dev/null | wc -l)" 6 "  and each reaches the member once"

# the store down: list mail waits (451), the server's other mail goes on
pg_stop
on a
send --from bob@example.net --to alice@example.com --header 'Subject: not for a list' --body x
like "$(smtp_reply "$OUT" .)" '^250 ' "PostgreSQL down: mail to a domain with no list is accepted"
like "$(cat "$A_DIR/sinkd.log")" "store: .*alice@example.com: no list in its domain, it passes" "  and the log says the store is down"
send --from alice@example.com --to $LIST --header 'Subject: while down' --body x
like "$(smtp_reply "$OUT" "RCPT TO:<$LIST>")" '^451 4\.3\.0 ' "  a post to the list is refused for now (451 4.3.0)"

sk_stop
sk_log_clean; ok $? "no sanitizer report (B)"
SK_DIR=$A_DIR SK_PID=$A_PID
sk_stop; A_PID=
sk_log_clean; ok $? "no sanitizer report (A)"
done_testing
