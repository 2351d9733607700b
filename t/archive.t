#!/bin/bash
# archive.t - the archive event target and sinkd-archive
#
# Checked: [event:NAME] groups of type archive through sinkd -n, every
# error at its file and line (no store, an unknown store, a relative
# path, a connection string that does not parse, a bad value, the store
# in a domain's file); the stores' unit test (t/unit/archive_test: the
# Maildir layout, file names and modes, hostile local parts, LF copies,
# a key stored once, SQLite and PostgreSQL rows byte for byte, searches),
# PostgreSQL in a cluster of the test's own (initdb, pg_ctl, a unix socket
# in its directory, no TCP); then sinkd-archive on what the unit test
# stored: list, search, show byte for byte, export to a file, ambiguous
# and unknown ids, the choice of target.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
T=$PWD
SINKD=${SINKD:-$PWD/../src/sinkd}
ARCHIVE=${ARCHIVE:-$PWD/../tools/sinkd-archive}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x unit/archive_test ] || bail_out "no t/unit/archive_test: run make tests"
[ -x "$ARCHIVE" ] || bail_out "no tools/sinkd-archive: run make tests"
[ -x "$PGBIN/initdb" ] || bail_out "no $PGBIN/initdb (./bootstrap test installs postgresql-15)"

W=$(workdir archive)
PGDATA=
# pg_stop: the test's cluster, if it runs
pg_stop() {
	[ -n "$PGDATA" ] && [ -f "$PGDATA/postmaster.pid" ] &&
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1
}
trap 'pg_stop; rm -rf "$W"' EXIT
mkdir -p "$W/domains" "$W/spool"

check() { "$SINKD" -n -c "$W/sinkd.conf" 2>&1 | sed "s|$W/||g"; echo "exit ${PIPESTATUS[0]}"; }
conf() {
	cat > "$W/sinkd.conf" <<CONF
[sinkd]
chain = protocol
spool-dir = $W/spool
domains-dir = $W/domains
state-dir = $W/state
CONF
	printf '%s\n' "$@" >> "$W/sinkd.conf"
}

conf '[event:md]' 'type = archive' "store = maildir:$W/md" \
	'[event:db]' 'type = archive' "store = sqlite:$W/db/archive.sqlite" 'group-read = yes' \
	'[event:pg]' 'type = archive' 'store = postgres:host=/run/nowhere dbname=mail' 'timeout = 3s'
is "$(check)" "configuration OK
exit 0" "archive targets of each store check out"
ok $([ ! -e "$W/md" ] && [ ! -e "$W/db" ]; echo $?) "  and sinkd -n made nothing"

conf '[event:none]' 'type = archive' \
	'[event:mbox]' 'type = archive' 'store = mbox:/var/mail/x' \
	'[event:rel]' 'type = archive' 'store = sqlite:archive.db' \
	'[event:empty]' 'type = archive' 'store = maildir:' \
	'[event:pg]' 'type = archive' 'store = postgres:host' \
	'[event:odd]' 'type = archive' "store = maildir:$W/md" 'group-read = perhaps' 'timeout = 2h'
is "$(check)" "sinkd.conf:7: type: an archive needs a store (store = maildir:/PATH, sqlite:/PATH or postgres:CONNINFO)
sinkd.conf:10: store: \"mbox:/var/mail/x\": not maildir:/PATH, sqlite:/PATH or postgres:CONNINFO
sinkd.conf:13: store: \"sqlite:archive.db\": not an absolute path
sinkd.conf:16: store: \"maildir:\": names no path
sinkd.conf:19: store: \"host\": missing \"=\" after \"host\" in connection info string
sinkd.conf:23: group-read: not a boolean (yes or no)
sinkd.conf:24: timeout: out of range (1 to 3600)
exit 1" "every error of an archive's group at its file and line"

conf '[event:md]' 'type = archive' "store = maildir:$W/md"
printf '[event:md]\nstore = maildir:/tmp/elsewhere\n' > "$W/domains/bad.example.conf"
like "$(check)" '^domains/bad.example.conf:2: store: cannot be set per domain' \
	"the store in a domain's file is an error"
printf '[event:md]\nenabled = no\ndirection = outbound\n' > "$W/domains/bad.example.conf"
is "$(check)" "configuration OK
exit 0" "  enabled and direction per domain are fine"
like "$("$SINKD" -P bad.example -c "$W/sinkd.conf" 2>&1 | sed -n '/^\[event:md\]/,/^\[/p')" \
	'enabled = no' "  sinkd -P shows the domain's archive off"
got=$("$SINKD" -d | sed -n '/^\[event:archive\]/,/^\[/p')
for k in type enabled direction retry-max store group-read timeout; do
	like "$got" $'(^|\n)'"$k = " "sinkd -d lists [event:archive] $k"
done
rm -f "$W/domains/bad.example.conf"

# a PostgreSQL cluster of the test's own: its socket in its directory
PGDATA=$W/pg/data
mkdir -p "$W/pg"
chown postgres "$W/pg"
PGPORT=$((20000 + RANDOM % 20000))
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres >"$W/pg/initdb.log" 2>&1 ||
	bail_out "initdb failed: $(tail -3 "$W/pg/initdb.log")"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$W/pg/log" -w -t 60 \
	-o "-c listen_addresses='' -c unix_socket_directories='$W/pg' -p $PGPORT -c fsync=off" \
	start >/dev/null 2>&1 || bail_out "the test's PostgreSQL did not start: $(tail -3 "$W/pg/log")"
PG="host=$W/pg port=$PGPORT user=postgres dbname=postgres"

# the unit test, its TAP passed through as one assertion per line of it
mkdir -p "$W/u"
out=$(ASTORE_PG=$PG unit/archive_test "$W/u" 2>&1)
rc=$?
n=$(printf '%s\n' "$out" | grep -c '^ok ')
bad=$(printf '%s\n' "$out" | grep -A3 '^not ok ')
is "$bad" "" "t/unit/archive_test: no failed assertion"
ok $([ "$rc" -eq 0 ] && [ "$n" -ge 80 ]; echo $?) "  and every one of its $n ran (PostgreSQL's too)"
like "$out" 'ok [0-9]+ - postgres: a store' "  PostgreSQL was among them"

# sinkd-archive on what the unit test stored
conf '[event:md]' 'type = archive' "store = maildir:$W/u/md" \
	'[event:db]' 'type = archive' "store = sqlite:$W/u/db/archive.sqlite" \
	'[event:pg]' 'type = archive' "store = postgres:$PG"
sa() { "$ARCHIVE" -c "$W/sinkd.conf" "$@"; }
got=$(sa -t md list)
is "$(printf '%s\n' "$got" | cut -f3,4,5,6)" "inbound	alice@elsewhere.test	bob@one.test,Bob@One.Test,carol@two.test,../x@two.test,.hidden@two.test	Quarterly Figures
outbound	Dave@One.Test	x@far.test,y@far.test	Hello" "list (maildir): each message once, direction, sender, recipients, subject"
like "$(printf '%s\n' "$got" | cut -f1,2 | head -1)" '^4AbC1\.[0-9a-f]{64}	2026-12-03T07:00:01\.250Z$' \
	"  with its key and time"
is "$(sa -t md search --sender dave@one.test | cut -f1 | cut -c1-5)" "4OuT2" "search --sender (maildir)"
is "$(sa -t md search --recipient=carol@two.test --subject figures | cut -f1 | cut -c1-5)" "4AbC1" \
	"search --recipient --subject (maildir)"
is "$(sa -t md search --since 2026-12-04 | wc -l)" "0" "search --since (maildir): none later"
f=$(ls "$W/u/md/one.test/dave/new/")
sa -t md show 4OuT2 > "$W/shown"
ok $(cmp -s "$W/shown" "$W/u/md/one.test/dave/new/$f"; echo $?) "show (maildir): the file as stored, byte for byte"
sa -t md export --crlf -o "$W/crlf" 4OuT2 2>"$W/err"
like "$(cat "$W/err")" 'warning: with CRLF line ends it is not the message as received' \
	"export --crlf of a message that had a bare LF: a warning, its SHA-256 differs"
for t in db pg; do
	is "$(sa -t $t list | cut -f1 | cut -c1-5 | tr '\n' ' ')" "5SqL1 5SqL2 " "list ($t): both rows, oldest first"
	is "$(sa -t $t search --message-id '<5SqL2@one.test>' | cut -f1 | cut -c1-5)" "5SqL2" "search --message-id ($t)"
	is "$(sa -t $t search --until 2026-12-02 --recipient BOB@one.test | cut -f1 | cut -c1-5)" "5SqL1" \
		"search --until --recipient ($t)"
	rm -f "$W/exported"
	sa -t $t export -o "$W/exported" 5SqL1
	ok $(cmp -s "$W/exported" "$W/u/body.eml"; echo $?) "export -o ($t): the message as received, byte for byte"
	is "$(stat -c %a "$W/exported")" "600" "  the file is 0600"
	sa -t $t show 5SqL 2>"$W/err" >/dev/null
	is "$?:$(sed "s|$W/||g" "$W/err")" "1:sinkd-archive: 5SqL: more than one message's key starts so: give more of it" \
		"show ($t): an id two keys start with is refused"
done
sa -t md show nothing 2>"$W/err" >/dev/null
is "$?:$(cat "$W/err")" "1:sinkd-archive: nothing: no such message" "an unknown id: exit 1, said so"
sa list 2>"$W/err" >/dev/null
is "$?:$(sed "s|$W/||g" "$W/err")" "1:sinkd-archive: sinkd.conf: more than one archive target: name one with -t" \
	"several archives and no -t: refused"
sa -t nosuch list 2>"$W/err" >/dev/null
is "$?:$(sed "s|$W/||g" "$W/err")" "1:sinkd-archive: sinkd.conf: no archive target event:nosuch" \
	"an unknown target: refused"
sa search --colour red >/dev/null 2>&1
is "$?" "64" "an unknown search option: usage"
sa -t md search --since yesterday >/dev/null 2>&1
is "$?" "64" "a date that is none: usage"
conf '[event:md]' 'type = archive' "store = maildir:$W/u/md"
is "$(sa list | wc -l)" "2" "the only archive needs no -t"
done_testing
