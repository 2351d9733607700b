#!/bin/bash
# e2e-archive.t - the archive event target through a real Postfix: a
# Maildir store, a SQLite store and a PostgreSQL store side by side
#
# Real SMTP into a private Postfix whose milter is the real sinkd with
# three archive targets: [event:md] (maildir:), [event:db] (sqlite:) and
# [event:pg] (postgres:, a cluster of the test's own, down while the
# mail flows and started afterwards).  Mail inbound for two domains (one
# message for both), outbound (a client in internal-hosts, through
# XCLIENT), and inbound for a domain whose policy sets enabled = no for
# every archive, alone and with another domain.  Checked:
#   - Postfix delivers everything, the PostgreSQL store down or not;
#   - the Maildir store holds exactly the expected files: a copy in each
#     inbound recipient's mailbox, the outbound message in the sender's,
#     nothing for the quiet domain (not even its recipient of a message
#     another domain archives), nothing in tmp/;
#   - SQLite and PostgreSQL (once it is up) hold a row per message, none
#     for the quiet domain; sinkd-archive search --sender and --recipient
#     find them in every store;
#   - sinkd-archive export of each message: from SQL, the message as
#     sinkd received it, byte for byte (its SHA-256 is the key's, and it
#     is what the client sent); from the Maildir, the same
#     with LF line ends (export --crlf gives the SQL bytes back);
#   - every event delivered again (cursors put back): nothing stored
#     twice;
#   - the PostgreSQL store being down is logged and its rows come once
#     it is up, each once;
#   - the log holds no sanitizer report.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
ARCHIVE=${ARCHIVE:-$TOP/tools/sinkd-archive}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$ARCHIVE" ] || bail_out "no tools/sinkd-archive: run make tests"
[ -x "$PGBIN/initdb" ] || bail_out "no $PGBIN/initdb (./bootstrap test installs postgresql-15)"

e2e_workdir e2e-archive
PGDATA=$W/pg/data
# pg_stop: the test's cluster, if it runs
pg_stop() {
	[ -f "$PGDATA/postmaster.pid" ] &&
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1
	return 0
}
trap 'pg_stop; _e2e_cleanup' EXIT
mkdir -p "$W/pf" "$W/sk" "$W/arch" "$W/pg" "$W/out"
chown postfix "$W/arch"
chown postgres "$W/pg"
PGPORT=$((20000 + RANDOM % 20000))
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres >"$W/pg/initdb.log" 2>&1 ||
	bail_out "initdb failed: $(tail -3 "$W/pg/initdb.log")"
PG="host=$W/pg port=$PGPORT user=postgres dbname=postgres"

pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_postconf -e 'smtpd_authorized_xclient_hosts = 127.0.0.1' \
	'mynetworks = 127.0.0.0/8, 10.255.0.0/16' || bail_out "postconf"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol/' "$W/sk/conf/sinkd.conf"
sk_conf "state-dir = $W/sk/state" \
	'[event:md]' 'type = archive' "store = maildir:$W/arch/md" \
	'[event:db]' 'type = archive' "store = sqlite:$W/arch/db/archive.sqlite" \
	'[event:pg]' 'type = archive' "store = postgres:$PG" 'timeout = 2s' 'retry-max = 1s'
printf '[event:md]\nenabled = no\n[event:db]\nenabled = no\n[event:pg]\nenabled = no\n' \
	>"$W/sk/conf/domains/quiet.test.conf"
sk_start || bail_out "sinkd did not start"

# msg NAME FROM TO...: a message, CRLF line ends, in $W/out/NAME (the
# last line's CRLF is the one swaks sends before the dot); its To: names
# the first recipient alone (Postfix would quote ".hidden" in a header)
msg() {
	local name=$1 from=$2
	shift 2
	python3 - "$W/out/$name" "$from" "$name" "$@" <<'PY'
import sys
path, frm, name, to = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
lines = ["From: " + frm, "To: " + to[0], "Subject: archive " + name,
         "Date: Thu, 03 Dec 2026 07:00:00 +0000",
         "Message-ID: <%s@archive.test>" % name, "", "Hello, %s." % name,
         "A second line, and\ta tab."]
open(path, "wb").write("\r\n".join(lines).encode())
PY
}
# send NAME FROM TO... [-- SWAKS-ARGS]: 250 or the reply
send() {
	local name=$1 from=$2 to=() extra=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do to+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift && extra=("$@")
	msg "$name" "$from" "${to[@]}"
	smtp_reply "$(pf_swaks --from "$from" --to "$(IFS=,; echo "${to[*]}")" \
		--data "$W/out/$name" "${extra[@]}")" . | cut -c1-3
}
sa() { "$ARCHIVE" -c "$SK_DIR/conf/sinkd.conf" "$@"; }

is "$(send in1 alice@outside.test bob@one.test carol@two.test)" 250 "inbound for two domains: accepted"
is "$(send in2 alice@outside.test bob@one.test .hidden@two.test)" 250 "  another, to a hidden-looking local part"
is "$(send quiet alice@outside.test x@quiet.test)" 250 "  inbound for the domain with the archives off"
is "$(send mixed alice@outside.test x@quiet.test bob@one.test)" 250 "  inbound for it and another domain"
is "$(send out1 dave@one.test x@far.test -- --xclient-addr 10.255.0.1 --xclient-name pc.one.test)" 250 \
	"outbound (an internal client): accepted"
pf_wait_delivered bob@one.test 3 && pf_wait_delivered carol@two.test 1 &&
	pf_wait_delivered x@quiet.test 2 && pf_wait_delivered x@far.test 1
ok $? "Postfix delivered every message, the PostgreSQL store down"
like "$(grep 'out1' -m1 "$SK_DIR/sinkd.log"; grep -m1 'direction=outbound' "$SK_DIR/sinkd.log")" 'direction=outbound' \
	"  the XCLIENT message is outbound to sinkd"

# wait_for N COMMAND...: until COMMAND prints N (10 s)
wait_for() {
	local n=$1 i
	shift
	for i in $(seq 1 100); do [ "$("$@" 2>/dev/null)" = "$n" ] && return 0; sleep 0.1; done
	return 1
}
md_files() { (cd "$W/arch/md" 2>/dev/null && find . -path '*/new/*' -type f | cut -d/ -f2,3 | sort | paste -sd' '); }
wait_for "one.test/bob one.test/bob one.test/bob one.test/dave two.test/_hidden two.test/carol" md_files
is "$(md_files)" "one.test/bob one.test/bob one.test/bob one.test/dave two.test/_hidden two.test/carol" \
	"maildir: a copy per inbound recipient's mailbox, the outbound one in the sender's"
is "$(cd "$W/arch/md" && find . -path '*/tmp/*' -type f | wc -l)" 0 "  nothing left in tmp/"
is "$(find "$W/arch/md" -path '*quiet*' | wc -l)" 0 "  nothing for the quiet domain, not even its share of a message"
is "$(find "$W/arch/md" -path '*far.test*' | wc -l)" 0 "  nor for the outbound message's recipient"
is "$(find "$W/arch/md" -mindepth 1 -not -user postfix | wc -l)" 0 "  all of it sinkd's user's"
is "$(find "$W/arch/md" -mindepth 1 -type f -perm /077 | wc -l)" 0 "  files 0600"
is "$(find "$W/arch/md" -mindepth 1 -type d -perm /077 | wc -l)" 0 "  directories 0700"
wait_for 4 bash -c "\"$ARCHIVE\" -c \"$SK_DIR/conf/sinkd.conf\" -t db list | wc -l"
is "$(sa -t db list | cut -f6 | sort | paste -sd,)" "archive in1,archive in2,archive mixed,archive out1" \
	"sqlite: a row per message, none for the quiet domain's own"
is "$(sa -t md list | cut -f6 | sort | paste -sd,)" "archive in1,archive in2,archive mixed,archive out1" \
	"maildir: listed, each message once"
like "$(grep 'event:pg: event' "$SK_DIR/sinkd.log" | head -1)" 'not delivered: postgres: .*again in' \
	"postgres down: the failed delivery is logged"

# every event again: sinkd stopped, the Maildir's and SQLite's cursors
# put back to the start (the records are still there: PostgreSQL's
# target has not had them), sinkd started
sk_stop
J=$SK_DIR/state/journal
is "$(cat "$J/event:md.cursor" "$J/event:db.cursor" | paste -sd' ')" "4 4" \
	"the Maildir's and SQLite's targets are done with the 4 events"
echo 0 >"$J/event:md.cursor"
echo 0 >"$J/event:db.cursor"
idx=$(wc -l <"$W/arch/md/.index")
sk_start || bail_out "sinkd did not start again"
wait_for "4 4" bash -c "cat '$J/event:md.cursor' '$J/event:db.cursor' | paste -sd' '"
is "$(cat "$J/event:md.cursor" "$J/event:db.cursor" | paste -sd' ')" "4 4" "  delivered again after a restart"
is "$(md_files)" "one.test/bob one.test/bob one.test/bob one.test/dave two.test/_hidden two.test/carol" \
	"  the Maildir: nothing stored twice"
is "$(wc -l <"$W/arch/md/.index")" "$idx" "  nor indexed twice"
is "$(sa -t db list | wc -l)" 4 "  SQLite: no row twice"

# PostgreSQL comes up
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$W/pg/log" -w -t 60 \
	-o "-c listen_addresses='' -c unix_socket_directories='$W/pg' -p $PGPORT -c fsync=off" \
	start >/dev/null 2>&1 || bail_out "the test's PostgreSQL did not start: $(tail -3 "$W/pg/log")"
wait_for 4 bash -c "\"$ARCHIVE\" -c \"$SK_DIR/conf/sinkd.conf\" -t pg list | wc -l"
is "$(sa -t pg list | cut -f6 | sort | paste -sd,)" "archive in1,archive in2,archive mixed,archive out1" \
	"postgres up: its rows come, each once"

for t in md db pg; do
	is "$(sa -t $t search --sender DAVE@one.test | cut -f3,4,5,6)" "outbound	dave@one.test	x@far.test	archive out1" \
		"search --sender ($t)"
	is "$(sa -t $t search --recipient carol@two.test | cut -f6)" "archive in1" "search --recipient ($t)"
done

# each message, from each store
for name in in1 in2 mixed out1; do
	key=$(sa -t db search --subject "archive $name" | cut -f1)
	sa -t db export -o "$W/out/$name.db" "$key"
	sa -t pg export -o "$W/out/$name.pg" "$key"
	sa -t md export -o "$W/out/$name.md" "$key"
	sa -t md export --crlf -o "$W/out/$name.crlf" "$key" 2>"$W/out/$name.err"
	is "$(sha256sum <"$W/out/$name.db" | cut -d' ' -f1)" "${key#*.}" \
		"$name: sqlite holds the message as received (its SHA-256 is the key's)"
	python3 -c '
import sys
got, sent = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
sys.exit(0 if got == sent + b"\r\n" else 1)' "$W/out/$name.db" "$W/out/$name"
	ok $? "  the bytes the client sent, CRLF line ends"
	ok $(cmp -s "$W/out/$name.db" "$W/out/$name.pg"; echo $?) "  postgres: the same bytes"
	ok $(tr -d '\r' <"$W/out/$name.db" | cmp -s - "$W/out/$name.md"; echo $?) "  maildir: the same with LF line ends"
	ok $(cmp -s "$W/out/$name.db" "$W/out/$name.crlf"; echo $?) "  maildir, export --crlf: the same bytes"
	is "$(cat "$W/out/$name.err")" "" "  and no warning"
done
f=$(find "$W/arch/md/two.test/carol/new" -type f)
key=$(sa -t db search --subject "archive in1" | cut -f1)
ok $(sa -t md show "${key%%.*}" | cmp -s - "$f"; echo $?) "show by queue id (maildir): the file as stored"

sk_stop
like "$(grep 'event:pg: .* events delivered' "$SK_DIR/sinkd.log" | tail -1)" ': 4 events delivered, 0 refused' \
	"sinkd counted 4 postgres deliveries, none refused"
like "$(grep 'event:md: .* events delivered' "$SK_DIR/sinkd.log" | tail -1)" ': 4 events delivered, 0 refused' \
	"  and, after the restart, 4 to the Maildir again (each found stored)"
ok $(sk_log_clean; echo $?) "the log holds no sanitizer report"
done_testing
