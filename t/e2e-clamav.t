#!/bin/bash
# e2e-clamav.t - the virus handler through a real Postfix
#
# Real SMTP into a private Postfix whose milter is the real sinkd with the
# embedded engine and test signatures.  Checked: every virus sample of the
# corpus is refused at end of DATA with the virus's name; clean mail is
# delivered; until an engine is ready mail is tempfailed, and once
# signatures appear it is scanned, with no restart; a signature file
# dropped into the database directory while mail flows is in use within
# the watch period, with no message tempfailed during the swap; EICAR
# inside opaque-signed S/MIME is refused too; and a
# quarantined message, released with sinkd-quarantine (through the MTA's
# sendmail command and through SMTP), is delivered to each of its
# recipients byte-identical to what was held, without the release field,
# and not held again; the released message sent again (another sender,
# other recipients, or the same envelope a second time), a token past
# release-lifetime and a token copied onto other content are scanned and
# quarantined again, and the log says why.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/clamav.sh"
QTOOL=$TOP/tools/sinkd-quarantine

e2e_workdir e2e-clamav
[ -x "$QTOOL" ] || bail_out "$QTOOL is not built (run make)"
C=$TOP/t/corpus

mkdir -p "$W/pf" "$W/sk"
PORT=$(pf_free_port)
pf_setup "$W/pf" "$PORT" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
DB=$W/sk/db
mkdir -p "$DB"
chmod 755 "$DB"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, clamav/' "$W/sk/conf/sinkd.conf"
sk_conf "[clamav]" "database = $DB" "quarantine-dir = $W/sk/q" "watch-interval = 1s" \
	"clean-cache = no" "release-via = sendmail" "release-sendmail = /usr/sbin/sendmail"
sk_start || bail_out "sinkd did not start"
CONF=$W/sk/conf/sinkd.conf

# send ID FROM TO FILE
send() { OUT=$(pf_swaks --from "$2" --to "$3" --data "$4" --header "X-E2E-Id: $1"); }

# no signatures yet: no engine, so mail is tempfailed, never passed
printf 'From: a@example.org\nTo: b@example.net\nSubject: hello\n\nHello.\n' >"$W/clean"
send early a@example.org early@example.net "$W/clean"
like "$(smtp_reply "$OUT" .)" '^451 4\.3\.0 ' "no engine yet: 451 at end of DATA"
grep -q 'no engine yet' "$SK_DIR/sinkd.log"
ok $? "the log says why"

# signatures arrive: the watcher loads them, no restart
av_db "$DB" || bail_out "cannot build the signature database"
chmod 644 "$DB"/*
for i in $(seq 1 100); do
	grep -q 'engine ready' "$SK_DIR/sinkd.log" && break
	sleep 0.1
done
grep -q 'engine ready' "$SK_DIR/sinkd.log"
ok $? "the engine is loaded once signatures appear"
send clean a@example.org clean@example.net "$W/clean"
like "$(smtp_reply "$OUT" .)" '^250 ' "clean mail is accepted"
pf_wait_delivered clean@example.net 1
ok $? "and delivered"

# every virus sample of the corpus, refused with its name
n=0
while IFS=$'\t' read -r path _ _ _ category notes; do
	[ "$category" = virus ] || continue
	want=$(clamscan --no-summary --disable-cache -d "$DB" "$C/$path" 2>/dev/null)
	[[ $want == *" FOUND" ]] || continue
	name=${want##*: }
	name=${name% FOUND}
	n=$((n + 1))
	send "v$n" a@example.org "virus$n@example.net" "$C/$path"
	is "$(smtp_reply "$OUT" .)" "550 5.7.1 Message contains a virus ($name)" "$path: refused at end of DATA, naming $name"
done <"$C/MANIFEST.tsv"
[ $n -ge 6 ]
ok $? "$n virus samples tried"
sleep 1
is "$(find "$W/pf/mail" -path '*virus*' -type f | wc -l)" 0 "none of them was delivered"

# EICAR inside opaque-signed S/MIME (signed here with a key of the test's
# own), which libclamav does not unwrap: refused all the same
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=signer.example -days 30 \
	-keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null || bail_out "openssl req"
av_eicar "$W/eicar.com"
python3 "$TOP/t/lib/hidden.py" entity tool.exe "$W/eicar.com" "$W/entity" &&
	openssl cms -sign -nodetach -binary -in "$W/entity" -signer "$W/cert.pem" \
		-inkey "$W/key.pem" -outform DER -out "$W/signed.der" &&
	python3 "$TOP/t/lib/hidden.py" p7 pkcs7-notype "$W/signed.der" "$W/p7" &&
	python3 "$TOP/t/lib/hidden.py" message "$W/p7" "$W/opaque" || bail_out "cannot build the signed message"
send opaque a@example.org opaque@example.net "$W/opaque"
is "$(smtp_reply "$OUT" .)" "550 5.7.1 Message contains a virus (eicar.com.UNOFFICIAL)" \
	"EICAR in opaque-signed S/MIME: refused at end of DATA"

# a new signature dropped into the database while mail flows
printf 'From: a@example.org\nTo: b@example.net\nSubject: new\n\nSINKD-HOT-RELOAD-PROBE-7f3a\n' >"$W/probe"
send probe0 a@example.org probe@example.net "$W/probe"
like "$(smtp_reply "$OUT" .)" '^250 ' "before the new signature: the probe passes"
loads=$(grep -c 'engine ready' "$SK_DIR/sinkd.log")
logpos=$(wc -l <"$SK_DIR/sinkd.log")
smtp-source -s 2 -m 600 -l 2000 -f a@example.org -t flow@example.net "127.0.0.1:$PORT" &
flow=$!
sleep 0.5
printf 'Sinkd.Test.HotReload:0:*:%s\n' "$(printf 'SINKD-HOT-RELOAD-PROBE-7f3a' | od -An -tx1 | tr -d ' \n')" >"$W/new.ndb"
chmod 644 "$W/new.ndb"
# written elsewhere and renamed in, as freshclam does
mv "$W/new.ndb" "$DB/hotreload.ndb"
for i in $(seq 1 50); do
	[ "$(grep -c 'engine ready' "$SK_DIR/sinkd.log")" -gt "$loads" ] && break
	sleep 0.1
done
[ "$(grep -c 'engine ready' "$SK_DIR/sinkd.log")" -gt "$loads" ]
ok $? "the changed database is reloaded within the watch period"
kill -0 $flow 2>/dev/null
ok $? "while mail was still flowing"
send probe1 a@example.org probe@example.net "$W/probe"
is "$(smtp_reply "$OUT" .)" "550 5.7.1 Message contains a virus (Sinkd.Test.HotReload.UNOFFICIAL)" \
	"after the reload: the new signature finds the probe"
wait $flow
ok $? "smtp-source sent its 600 messages while the engine was swapped"
pf_wait_delivered flow@example.net 600 60
ok $? "all 600 were delivered"
tail -n +$((logpos + 1)) "$SK_DIR/sinkd.log" | grep -E 'not scanned|on-error|verdict=tempfail' >"$W/errors"
is "$(wc -l <"$W/errors")" 0 "no scan error during the swap"
[ -s "$W/errors" ] && diag "$(head "$W/errors")"

# a database that fails to load keeps the running engine
fails=$(grep -c 'keeping the running engine' "$SK_DIR/sinkd.log")
echo 'this line is no signature' >"$W/broken.ndb"
chmod 644 "$W/broken.ndb"
mv "$W/broken.ndb" "$DB/broken.ndb"
for i in $(seq 1 50); do
	[ "$(grep -c 'keeping the running engine' "$SK_DIR/sinkd.log")" -gt "$fails" ] && break
	sleep 0.1
done
[ "$(grep -c 'keeping the running engine' "$SK_DIR/sinkd.log")" -gt "$fails" ]
ok $? "a broken signature file: the load fails and says so"
send broken a@example.org probe@example.net "$W/probe"
is "$(smtp_reply "$OUT" .)" "550 5.7.1 Message contains a virus (Sinkd.Test.HotReload.UNOFFICIAL)" \
	"the running engine goes on scanning"
loads=$(grep -c 'engine ready' "$SK_DIR/sinkd.log")
rm -f "$DB/broken.ndb"
for i in $(seq 1 50); do
	[ "$(grep -c 'engine ready' "$SK_DIR/sinkd.log")" -gt "$loads" ] && break
	sleep 0.1
done
[ "$(grep -c 'engine ready' "$SK_DIR/sinkd.log")" -gt "$loads" ]
ok $? "once it is gone, the database loads again"

# quarantine, then release
sed -i 's/^\[clamav\]$/[clamav]\naction = quarantine/' "$CONF"
loads=$(grep -c 'engine ready' "$SK_DIR/sinkd.log")
# (the engine is ready before the reload is logged: wait for both)
reloads=$(grep -c 'configuration reloaded' "$SK_DIR/sinkd.log")
sk_hup
for i in $(seq 1 50); do
	[ "$(grep -c 'engine ready' "$SK_DIR/sinkd.log")" -gt "$loads" ] &&
		[ "$(grep -c 'configuration reloaded' "$SK_DIR/sinkd.log")" -gt "$reloads" ] && break
	sleep 0.1
done
[ "$(grep -c 'configuration reloaded' "$SK_DIR/sinkd.log")" -gt "$reloads" ]
ok $? "SIGHUP: the configuration is reloaded"
[ "$(grep -c 'engine ready' "$SK_DIR/sinkd.log")" -gt "$loads" ]
ok $? "SIGHUP: and the engine with it"
V=$C/constructed/eicar-base64-attachment.eml
OUT=$(pf_swaks --from x@example.org --to q1@example.net,q2@example.net --data "$V" --header "X-E2E-Id: quarantined")
like "$(smtp_reply "$OUT" .)" '^250 ' "action = quarantine: the client sees the message taken"
sleep 1
is "$(find "$W/pf/mail" -path '*/q[12]/*' -type f | wc -l)" 0 "and nothing is delivered"
list=$("$QTOOL" -c "$CONF" list 2>&1)
id=$(printf '%s\n' "$list" | awk 'NR == 1 {print $1}')
like "$id" '^[0-9]{8}T[0-9]{6}-[0-9a-f]{16}$' "sinkd-quarantine list shows the entry"
like "$list" 'eicar\.com\.UNOFFICIAL' "listed with its virus"
"$QTOOL" -c "$CONF" show -r "$id" >"$W/held"
ok $? "show -r prints the held message"
grep -q 'X-E2E-Id: quarantined' "$W/held"
ok $? "it is the message sent"

# release through the MTA's sendmail command (this instance's: MAIL_CONFIG),
# by a wrapper that keeps a copy of what the release hands it
printf '#!/bin/sh\ntee "%s" | exec /usr/sbin/sendmail "$@"\n' "$W/released" >"$W/sendmail-copy"
chmod 755 "$W/sendmail-copy"
sed -i "s|^release-sendmail = .*|release-sendmail = $W/sendmail-copy|" "$CONF"
nq=$(ls "$W/sk/q"/*.meta | wc -l)
MAIL_CONFIG=$W/pf/etc "$QTOOL" -c "$CONF" release "$id" >"$W/release.out" 2>&1
ok $? "release through sendmail"
pf_wait_delivered q1@example.net 1 && pf_wait_delivered q2@example.net 1
ok $? "delivered to both recipients"
head -n 1 "$W/released" | grep -qE '^X-Sinkd-Released: [0-9T]{15}-[0-9a-f]{16}; [0-9]+; [0-9a-f]{16}; [0-9a-f]{32}; [0-9a-f]{64}$'
ok $? "the release puts X-Sinkd-Released: ID; TIME; NONCE; ENVELOPE; MAC first"
# what was delivered is what was held, without the release field
held_lf=$(tr -d '\r' <"$W/held" | wc -c)
for r in q1 q2; do
	F=$(pf_last_message $r@example.net)
	grep -q '^X-Sinkd-Released:' "$F"
	is "$?" 1 "$r: the release field is removed on delivery"
	cmp -s <(tail -c "$held_lf" "$F") <(tr -d '\r' <"$W/held")
	ok $? "$r: the delivered message ends with the held one, byte for byte"
done
grep -q "clamav: released from quarantine; passed unchanged" "$SK_DIR/sinkd.log"
ok $? "sinkd let the released message through"
is "$(ls "$W/sk/q"/*.meta | wc -l)" "$nq" "it was not held again"
is "$(ls -A "$W/sk/q" | grep -c '^\.used-')" 1 "its token is spent (one .used- marker)"
like "$("$QTOOL" -c "$CONF" list 2>&1)" 'released' "the entry is marked released"

# as_data FILE: $W/data, FILE as swaks sends it unchanged (swaks ends the
# data with a line end of its own)
as_data() { tr -d '\r' <"$1" | perl -pe 'chomp if eof' >"$W/data"; }

# the released message, token and all, sent again is scanned like any other
# replay WHAT FROM TO WHY: taken, quarantined again, and the log says why
replay() {
	local before logpos i
	before=$(ls "$W/sk/q"/*.meta | wc -l)
	logpos=$(wc -l <"$SK_DIR/sinkd.log")
	as_data "$W/released"
	OUT=$(pf_swaks --from "$2" --to "$3" --data "$W/data")
	like "$(smtp_reply "$OUT" .)" '^250 ' "$1: taken (action = quarantine)"
	for i in $(seq 1 50); do
		[ "$(ls "$W/sk/q"/*.meta | wc -l)" -gt "$before" ] && break
		sleep 0.1
	done
	is "$(ls "$W/sk/q"/*.meta | wc -l)" $((before + 1)) "$1: quarantined again"
	tail -n +$((logpos + 1)) "$SK_DIR/sinkd.log" | grep -q "X-Sinkd-Released not honoured: $4"
	ok $? "$1: the log says why: $4"
}
replay "replayed from another sender" mallory@example.org q1@example.net,q2@example.net \
	"issued for another sender or other recipients"
replay "replayed to other recipients" x@example.org mallory@example.net \
	"issued for another sender or other recipients"
replay "replayed to one more recipient" x@example.org q1@example.net,q2@example.net,mallory@example.net \
	"issued for another sender or other recipients"
replay "replayed with the very same envelope" x@example.org q1@example.net,q2@example.net \
	"already used"
sleep 1
is "$(pf_delivered_count mallory@example.net)" 0 "no replay reached mallory"
is "$(pf_delivered_count q1@example.net)" 1 "nor q1 a second time"

# token ISSUED FROM TO: the held message with a token for it first, made
# here with the directory's key as sinkd-quarantine makes them
token() { python3 "$TOP/t/lib/release-token.py" "$W/sk/q/.key" "$id" "$1" "$2" "$3" "$W/held"; }
cp "$W/released" "$W/released.sendmail"
token $(( $(date +%s) - 7200 )) x@example.org q5@example.net >"$W/released"
replay "a token two hours old (release-lifetime = 1h)" x@example.org q5@example.net "expired"
# the same, made now: the token made here is right, only its age was not
token "$(date +%s)" x@example.org q5@example.net >"$W/released"
as_data "$W/released"
OUT=$(pf_swaks --from x@example.org --to q5@example.net --data "$W/data")
pf_wait_delivered q5@example.net 1
ok $? "the same token made now lets it through"

# release through SMTP to the MTA
sed -i "s/^release-via = .*/release-via = smtp/; s/^\\[clamav\\]$/[clamav]\\nrelease-relay = 127.0.0.1:$PORT/" "$CONF"
"$QTOOL" -c "$CONF" release "$id" q3@example.net >"$W/release.out" 2>&1
ok $? "release through SMTP, to another address"
pf_wait_delivered q3@example.net 1
ok $? "delivered"
F=$(pf_last_message q3@example.net)
grep -q '^X-Sinkd-Released:' "$F"
is "$?" 1 "the release field is removed"
cmp -s <(tail -c "$held_lf" "$F") <(tr -d '\r' <"$W/held")
ok $? "byte for byte the held message"

# a copied release header on other content does not pass
tok=$(head -n 1 "$W/released.sendmail")
{ printf '%s\n' "$tok"; cat "$C/constructed/eicar-zip-attachment.eml"; } >"$W/forged"
before=$(ls "$W/sk/q"/*.meta | wc -l)
send forged x@example.org forged@example.net "$W/forged"
sleep 1
is "$(pf_delivered_count forged@example.net)" 0 "a forged release header does not let a virus through"
is "$(ls "$W/sk/q"/*.meta | wc -l)" $((before + 1)) "that one is quarantined instead"
grep -q "X-Sinkd-Released not honoured: its MAC does not check" "$SK_DIR/sinkd.log"
ok $? "the log says the MAC does not check"

"$QTOOL" -c "$CONF" delete "$id"
ok $? "delete"
is "$(ls "$W/sk/q" | grep -c "^$id")" 0 "the entry's files are gone"

# quarantine-method = hold: the MTA's own hold queue
sed -i 's/^\[clamav\]$/[clamav]\nquarantine-method = hold/' "$CONF"
n=$(grep -c 'configuration reloaded' "$SK_DIR/sinkd.log")
sk_hup
for i in $(seq 1 50); do
	[ "$(grep -c 'configuration reloaded' "$SK_DIR/sinkd.log")" -gt "$n" ] && break
	sleep 0.1
done
send held x@example.org held@example.net "$V"
like "$(smtp_reply "$OUT" .)" '^250 ' "quarantine-method = hold: the client sees the message taken"
for i in $(seq 1 50); do
	[ "$(find "$W/pf/queue/hold" -type f 2>/dev/null | wc -l)" -ge 1 ] && break
	sleep 0.1
done
is "$(find "$W/pf/queue/hold" -type f 2>/dev/null | wc -l)" 1 "it waits in Postfix's hold queue"
grep -q 'milter-hold: END-OF-MESSAGE' "$W/pf/maillog"
ok $? "Postfix logs the milter's hold"
is "$(pf_delivered_count held@example.net)" 0 "and is not delivered"

sk_stop
sk_log_clean
ok $? "no sanitizer report in sinkd's log"
done_testing
