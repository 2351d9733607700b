#!/bin/bash
# sigage.t - how old the signatures are: logged, warned of, and per domain
# a reason to tempfail
#
# Databases are the test signatures packed as a daily.cud dated some days
# ago (t/lib/clamav.sh av_dated_db): libclamav reads its build time from
# the header, as from freshclam's daily.cvd.  Through sinkd -t: the warning
# over signatures-warn-age (and none under it, none with 0), tempfail with
# its log line and reply for a domain with signatures-too-old = tempfail,
# scanning (a virus still found) with scan, the inbound mail of two
# domains that differ, the combination of the two, an age that is not
# known (plain .hdb files), config errors and the warning for tempfail
# without a limit.  Then the daemon: the load line (version, build time,
# signature count) at start and at a reload, the warning at a load of old
# signatures only; and a clamd server asked VERSION (backend = clamd).
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
source lib/clamav.sh
source lib/clamd.sh
source lib/sinkd.sh
command -v sigtool >/dev/null || bail_out "sigtool (package clamav) is needed"
[ "$(id -u)" -eq 0 ] || bail_out "needs root (the daemon runs as postfix)"
W=$(workdir sigage) || bail_out "cannot make a work directory"
trap 'sk_stop; cd_stop_all; rm -rf "$W"' EXIT

av_dated_db "$W/old" 40 12345 || bail_out "cannot build a dated database"
av_dated_db "$W/fresh" 1 12346 || bail_out "cannot build a dated database"
av_db "$W/plain" || bail_out "cannot build the test signature database"
mkdir -p "$W/domains" "$W/spool" "$W/q"
printf 'From: a@example.org\r\nTo: b@example.net\r\nSubject: hello\r\n\r\nHello.\r\n' >"$W/clean.eml"
av_eicar "$W/eicar.com"
{
	printf 'From: a@example.org\r\nTo: b@example.net\r\nSubject: eicar\r\nMIME-Version: 1.0\r\n'
	printf 'Content-Type: application/octet-stream; name="eicar.com"\r\n'
	printf 'Content-Transfer-Encoding: base64\r\n\r\n'
	base64 "$W/eicar.com" | sed 's/$/\r/'
} >"$W/eicar.eml"

# conf DB LINE...: sinkd.conf with the clamav handler on database DB
conf() {
	local db=$1
	shift
	cat >"$W/sinkd.conf" <<CONF
[sinkd]
chain = clamav
spool-dir = $W/spool
domains-dir = $W/domains
[clamav]
database = $db
quarantine-dir = $W/q
$(printf '%s\n' "$@")
CONF
}

# t FILE RCPT...: sinkd -t; ERR (all it logged), V (the verdict line), RC
t() {
	local f=$1 r args=()
	shift
	for r in "$@"; do args+=(-R "$r"); done
	"$SINKD" -t -c "$W/sinkd.conf" -F a@example.org "${args[@]}" -C 192.0.2.10,client.example \
		<"$f" >"$W/out" 2>"$W/err"
	RC=$?
	ERR=$(cat "$W/err")
	cat "$W/err" >>"$W/all-err"
	V=$(grep "^verdict=" "$W/err" | tail -n 1)
}

# the warning, at load
conf "$W/old"
t "$W/clean.eml" b@example.net
like "$ERR" 'warning: clamav: signatures are 40d00h old \(database version 12345 built [0-9-]+ [0-9:]+ UTC\), over signatures-warn-age 7d00h' \
	"old signatures: warned of at load (default signatures-warn-age 7d)"
like "$V" '^verdict=accept ' "old signatures, no signatures-max-age: the message is scanned and accepted"
unlike "$V" 'signatures-age=' "no limit: the verdict line says nothing of the age"
conf "$W/old" "signatures-warn-age = 41d"
t "$W/clean.eml" b@example.net
unlike "$ERR" 'signatures are' "under signatures-warn-age: no warning"
conf "$W/old" "signatures-warn-age = 0"
t "$W/clean.eml" b@example.net
unlike "$ERR" 'signatures are' "signatures-warn-age = 0: no warning"
conf "$W/fresh"
t "$W/clean.eml" b@example.net
unlike "$ERR" 'signatures are' "signatures a day old: no warning"

# signatures-too-old in the default policy
conf "$W/old" "signatures-max-age = 30d" "signatures-too-old = tempfail"
t "$W/clean.eml" b@example.net
like "$V" '^verdict=tempfail code=451 xcode=4\.7\.1 handler=clamav text="Virus signatures are out of date, try again later" .* signatures-age=40d00h$' \
	"tempfail: 451 4.7.1 with its text"
like "$ERR" 'warning: OFFLINE: clamav: signatures too old: database version 12345 is 40d00h old, over signatures-max-age 30d00h; signatures-too-old=tempfail' \
	"tempfail: the log line says why"
t "$W/eicar.eml" b@example.net
like "$V" '^verdict=tempfail code=451 xcode=4\.7\.1 ' "tempfail: a virus is tempfailed too (nothing passes)"
conf "$W/fresh" "signatures-max-age = 30d" "signatures-too-old = tempfail"
t "$W/clean.eml" b@example.net
like "$V" '^verdict=accept ' "tempfail, signatures within signatures-max-age: accepted"
unlike "$V" 'signatures-age=' "within the limit: nothing in the verdict line"
conf "$W/old" "signatures-max-age = 30d" "signatures-too-old = scan"
t "$W/clean.eml" b@example.net
like "$V" '^verdict=accept .* signatures-age=40d00h$' "scan: accepted, the verdict line gives the age"
t "$W/eicar.eml" b@example.net
like "$V" '^verdict=reject code=550 xcode=5\.7\.1 handler=clamav text="Message contains a virus \(eicar\.com\.UNOFFICIAL\)"' \
	"scan: the old signatures still find a virus"
like "$ERR" 'signatures are 40d00h old' "scan: with the warning"
conf "$W/plain" "signatures-max-age = 1s" "signatures-too-old = tempfail"
t "$W/clean.eml" b@example.net
like "$V" '^verdict=accept ' "no .cvd/.cld, no build time: the age is unknown, not too old"
unlike "$ERR" 'signatures are' "an unknown age: no warning"

# per domain: inbound mail takes the recipient domain's policy
conf "$W/old" "signatures-max-age = 30d"
printf '[clamav]\nsignatures-too-old = tempfail\n' >"$W/domains/strict.example.conf"
printf '[clamav]\nsignatures-too-old = scan\n' >"$W/domains/lax.example.conf"
printf '[clamav]\nsignatures-too-old = tempfail\nsignatures-max-age = 60d\n' >"$W/domains/late.example.conf"
t "$W/clean.eml" u@strict.example
like "$V" '^verdict=tempfail code=451 xcode=4\.7\.1 .*policy=strict\.example' "domain with tempfail: tempfailed"
t "$W/clean.eml" u@lax.example
like "$V" '^verdict=accept .*policy=lax\.example' "domain with scan: accepted"
t "$W/clean.eml" u@late.example
like "$V" '^verdict=accept .*policy=late\.example' "domain with tempfail and a longer signatures-max-age: accepted"
t "$W/clean.eml" u@lax.example u@strict.example
like "$V" '^verdict=tempfail code=451 xcode=4\.7\.1 ' "lax and strict domains together: tempfail wins"
t "$W/clean.eml" u@late.example u@lax.example
unlike "$V" '^verdict=accept ' "scan under 30d and tempfail under 60d together: the smallest limit and tempfail"
rm -f "$W/domains"/*.conf

# config errors and warnings, with file and line
conf "$W/old" "signatures-max-age = soon" "signatures-too-old = never" "signatures-warn-age = -1"
OUT=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)
RC=$?
is "$RC" 1 "bad values: sinkd -n exits 1"
like "$OUT" "$W/sinkd.conf:8: signatures-max-age: " "signatures-max-age error at its line"
like "$OUT" "$W/sinkd.conf:9: signatures-too-old: " "signatures-too-old error at its line"
like "$OUT" "$W/sinkd.conf:10: signatures-warn-age: " "signatures-warn-age error at its line"
printf '[clamav]\nsignatures-warn-age = 1d\n' >"$W/domains/d.example.conf"
conf "$W/old"
OUT=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)
like "$OUT" "d.example.conf:2: signatures-warn-age: " "signatures-warn-age is not per domain"
rm -f "$W/domains"/*.conf
conf "$W/old" "signatures-too-old = tempfail"
OUT=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)
RC=$?
is "$RC" 0 "tempfail without signatures-max-age: accepted"
like "$OUT" "$W/sinkd.conf:8: signatures-too-old: warning: tempfail has no effect without signatures-max-age" \
	"... with a warning at its line"

# the daemon: the load line at start and at a reload, the warning
mkdir -p "$W/sk"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
cp -r "$W/old" "$W/sk/db"
chmod 755 "$W/sk/db"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = clamav/' "$W/sk/conf/sinkd.conf"
sk_conf "[clamav]" "database = $W/sk/db" "quarantine-dir = $W/sk/q" "watch-interval = 0"
sk_start || bail_out "sinkd did not start"
wait_log() {	# wait_log PATTERN COUNT: until the log has COUNT lines like it
	local i
	for i in $(seq 1 100); do
		[ "$(grep -cE "$1" "$SK_DIR/sinkd.log")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
READY='clamav: engine ready: ClamAV [0-9.]+, database version 12345 built [0-9-]+ [0-9:]+ UTC, 3 signatures from '
wait_log "$READY" 1
ok $? "at start: the load line gives ClamAV's version, the database version and build time, the signatures"
wait_log 'warning: clamav: signatures are 40d00h old \(database version 12345' 1
ok $? "at start: the old signatures are warned of"
rm -f "$W/sk/db"/*
cp "$W/fresh"/* "$W/sk/db/"
sk_reload
wait_log 'clamav: engine ready: ClamAV [0-9.]+, database version 12346 built .* 3 signatures' 1
ok $? "at a reload: the new database's load line"
sleep 0.5
is "$(grep -c 'signatures are' "$SK_DIR/sinkd.log")" 1 "fresh signatures loaded: no new warning"
sk_stop
sk_log_clean
ok $? "no sanitizer report in the daemon's log"

# backend = clamd: what VERSION says, through sinkd -t and the daemon
[ -x "$CLAMD" ] || bail_out "clamd (package clamav-daemon) is needed"
cd_start "$W/cd" "$W/old" clamd || bail_out "clamd did not start"
conf "$W/old" "backend = clamd" "clamd = unix:$(cd_socket clamd)" \
	"signatures-max-age = 30d" "signatures-too-old = tempfail"
t "$W/clean.eml" b@example.net
like "$ERR" 'signatures are 40d00h old \(database version 12345' "clamd: the old signatures are warned of"
like "$V" '^verdict=tempfail code=451 xcode=4\.7\.1 ' "clamd: tempfail for signatures-too-old"
conf "$W/old" "backend = clamd" "clamd = unix:$W/none.sock" \
	"signatures-max-age = 30d" "signatures-too-old = tempfail"
t "$W/clean.eml" b@example.net
like "$ERR" 'clamav: clamd VERSION: .*; the signatures. age is not known' "clamd not answering: the age is unknown"
like "$V" '^verdict=tempfail code=451 xcode=4\.3\.0 ' "... and the scan fails: on-error, not signatures-too-old"
mkdir -p "$W/sk2"
sk_init "$W/sk2" "unix:$W/sk2/sinkd.sock"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = clamav/' "$W/sk2/conf/sinkd.conf"
sk_conf "[clamav]" "backend = clamd" "clamd = unix:$(cd_socket clamd)" "quarantine-dir = $W/sk2/q"
sk_start || bail_out "sinkd did not start"
wait_log "clamav: clamd unix:$(cd_socket clamd): ClamAV [0-9.]+, database version 12345 built [0-9-]+ [0-9:]+ UTC" 1
ok $? "clamd: the daemon logs the database version and build time from VERSION"
wait_log 'warning: clamav: signatures are 40d00h old \(database version 12345' 1
ok $? "clamd: the daemon warns of the old signatures"
sk_stop
sk_log_clean
ok $? "no sanitizer report in the daemon's log"
cd_stop_all

grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:|panic:' "$W/all-err"
is "$?" 1 "no sanitizer report from sinkd -t"

done_testing
