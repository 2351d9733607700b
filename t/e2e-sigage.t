#!/bin/bash
# e2e-sigage.t - signatures too old, through a real Postfix
#
# The real sinkd with the embedded engine on the test signatures packed
# as a daily.cud built 40 days ago (t/lib/clamav.sh av_dated_db), and
# signatures-max-age = 30d: mail for a domain with signatures-too-old =
# tempfail gets 451 4.7.1 at end of DATA and is not delivered; mail for a
# domain with scan is scanned and delivered (a virus to it still
# refused).  After fresh signatures are loaded (SIGHUP), the tempfail
# domain's mail is delivered too.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/clamav.sh"

e2e_workdir e2e-sigage
mkdir -p "$W/pf" "$W/sk"
PORT=$(pf_free_port)
pf_setup "$W/pf" "$PORT" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
DB=$W/sk/db
av_dated_db "$DB" 40 12345 || bail_out "cannot build a dated database"
av_dated_db "$W/fresh" 1 12346 || bail_out "cannot build a dated database"
chmod 755 "$DB"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, clamav/' "$W/sk/conf/sinkd.conf"
sk_conf "[clamav]" "database = $DB" "quarantine-dir = $W/sk/q" "watch-interval = 0" \
	"signatures-max-age = 30d"
printf '[clamav]\nsignatures-too-old = tempfail\n' >"$W/sk/conf/domains/strict.example.conf"
printf '[clamav]\nsignatures-too-old = scan\n' >"$W/sk/conf/domains/lax.example.conf"
sk_start || bail_out "sinkd did not start"
for i in $(seq 1 100); do
	grep -q 'engine ready' "$SK_DIR/sinkd.log" && break
	sleep 0.1
done
grep -q 'clamav: engine ready: .*database version 12345 built ' "$SK_DIR/sinkd.log"
ok $? "the engine is loaded, its database version and build time logged"

nmsg() {
	local box
	box=$(pf_mailbox "$1") || { echo 0; return; }
	[ -d "$box" ] || { echo 0; return; }
	grep -lx "X-E2E-Id: $2" "$box"/* 2>/dev/null | wc -l
}
# send ID TO FILE
send() { OUT=$(pf_swaks --from a@example.org --to "$2" --data "$3" --header "X-E2E-Id: $1"); }

printf 'From: a@example.org\nSubject: hello\n\nHello.\n' >"$W/clean"
send s1 u@strict.example "$W/clean"
is "$(smtp_reply "$OUT" .)" "451 4.7.1 Virus signatures are out of date, try again later" \
	"tempfail domain: 451 4.7.1 at end of DATA"
grep -q 'clamav: signatures too old: database version 12345 is 40d..h old, over signatures-max-age 30d00h; signatures-too-old=tempfail' \
	"$SK_DIR/sinkd.log"
ok $? "the log says why"
send l1 u@lax.example "$W/clean"
like "$(smtp_reply "$OUT" .)" '^250 ' "scan domain: accepted"
wait_msg u@lax.example l1
ok $? "... and delivered"
av_eicar "$W/eicar.com"
{
	printf 'From: a@example.org\nSubject: eicar\nMIME-Version: 1.0\n'
	printf 'Content-Type: application/octet-stream; name="eicar.com"\nContent-Transfer-Encoding: base64\n\n'
	base64 "$W/eicar.com"
} >"$W/eicar"
send l2 u@lax.example "$W/eicar"
is "$(smtp_reply "$OUT" .)" "550 5.7.1 Message contains a virus (eicar.com.UNOFFICIAL)" \
	"scan domain: a virus is still refused"
sleep 1
is "$(nmsg u@strict.example s1)" 0 "the tempfailed message was not delivered"

# fresh signatures: the tempfail domain gets its mail again
cp "$W/fresh/daily.cud" "$DB/daily.cud"
sk_reload || bail_out "no reload"
for i in $(seq 1 100); do
	grep -q 'database version 12346' "$SK_DIR/sinkd.log" && break
	sleep 0.1
done
send s2 u@strict.example "$W/clean"
like "$(smtp_reply "$OUT" .)" '^250 ' "fresh signatures: the tempfail domain's mail is accepted"
wait_msg u@strict.example s2
ok $? "... and delivered"
sk_log_clean
ok $? "no sanitizer report in sinkd's log"

done_testing
