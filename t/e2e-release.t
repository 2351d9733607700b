#!/bin/bash
# e2e-release.t - a message released from quarantine passes every handler
#	unchanged, through a real Postfix
#
# The chain has every handler that changes mail: protocol (a header added
# and a bcc recipient), rewrite (a subject tag and a banned extension the
# message's attachment has), the disclaimer (outbound) and clamav
# (quarantine).  Inbound mail with EICAR is quarantined; sinkd-quarantine
# release re-injects it with the MTA's sendmail command, which makes it
# local submission, so outbound mail that every handler would otherwise
# change.  Checked: it is delivered to its two original recipients (not to
# the bcc address), header field by header field and its body byte for
# byte as held, apart from the MTA's own trace fields (Received and the
# delivery's Return-Path, Delivered-To, X-Original-To) and with the release
# field removed; the token is spent and counted (sinkd -S:
# sinkd_released_total); and the same message sent again with
# its spent token is filtered as new mail (quarantined again).
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/clamav.sh"
QTOOL=$TOP/tools/sinkd-quarantine

e2e_workdir e2e-release
[ -x "$QTOOL" ] || bail_out "$QTOOL is not built (run make)"
C=$TOP/t/corpus
V=$C/constructed/eicar-base64-attachment.eml

mkdir -p "$W/pf" "$W/sk"
PORT=$(pf_free_port)
pf_setup "$W/pf" "$PORT" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
# inbound mail comes from an outside address (XCLIENT); local submission,
# the release's way in, is internal: outbound mail
pf_postconf -e "smtpd_authorized_xclient_hosts = 127.0.0.0/8" "mynetworks = 127.0.0.0/8 192.0.2.0/24" ||
	bail_out "postconf"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
sed -i 's/^internal-hosts = .*/internal-hosts = 127.0.0.0\/8/' "$W/sk/conf/sinkd.conf"
DB=$W/sk/db
mkdir -p "$DB"
av_db "$DB" || bail_out "cannot build the signature database"
chmod 755 "$DB"
chmod 644 "$DB"/*
# the release goes through this instance's sendmail, by a wrapper that
# keeps a copy of what it is handed
printf '#!/bin/sh\ntee "%s" | MAIL_CONFIG="%s" exec /usr/sbin/sendmail "$@"\n' \
	"$W/released" "$W/pf/etc" >"$W/sendmail-copy"
chmod 755 "$W/sendmail-copy"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, rewrite, disclaimer, clamav/' "$W/sk/conf/sinkd.conf"
sk_conf "[protocol]" 'add-headers = X-Policy: ${direction}' "bcc = audit@corp.example" \
	"[rewrite]" "subject-tag = [EXT]" "banned-extensions = com" "banned-action = notice" \
	"[disclaimer]" "text-file = $(fixture "$TOP/t/disclaimer/text.tmpl" "$SK_DIR/conf")" \
	"direction = outbound" \
	"[clamav]" "database = $DB" "quarantine-dir = $W/sk/q" "clean-cache = no" \
	"action = quarantine" "release-via = sendmail" "release-sendmail = $W/sendmail-copy"
sk_start || bail_out "sinkd did not start"
CONF=$W/sk/conf/sinkd.conf

# what the chain does to new outbound mail, as a reference: all of it
printf 'From: x@outside.example\nTo: u1@corp.example\nSubject: hi\n\nHello.\n' >"$W/plain"
pf_sendmail -f x@outside.example u1@corp.example <"$W/plain"
pf_wait_delivered u1@corp.example 1
ok $? "new mail by the MTA's sendmail command is delivered"
F=$(pf_last_message u1@corp.example)
grep -q '^X-Policy: outbound' "$F" && grep -q 'is confidential' "$F"
ok $? "  with the handlers' changes: the added header, the disclaimer"
cp "$F" "$W/plain.delivered"
pf_wait_delivered audit@corp.example 1
ok $? "  and a copy to the bcc address"
rm -f "$(pf_mailbox u1@corp.example)"/* "$(pf_mailbox audit@corp.example)"/*

# inbound virus: quarantined
OUT=$(pf_swaks --from x@outside.example --to u1@corp.example,u2@corp.example --data "$V" \
	--xclient-addr 192.0.2.10 --xclient-name mx.outside.example)
like "$(smtp_reply "$OUT" .)" '^250 ' "inbound EICAR: taken"
for i in $(seq 1 50); do
	ls "$W/sk/q"/*.meta >/dev/null 2>&1 && break
	sleep 0.1
done
id=$("$QTOOL" -c "$CONF" list 2>/dev/null | awk 'NR == 1 {print $1}')
like "$id" '^[0-9]{8}T[0-9]{6}-[0-9a-f]{16}$' "  quarantined"
"$QTOOL" -c "$CONF" show -r "$id" >"$W/held"
ok $? "  show -r prints the held message"
grep -q '^Subject: EICAR as base64 attachment' "$W/held" && grep -q 'filename="eicar.com"' "$W/held"
ok $? "  as sent: its subject untagged, its eicar.com attachment there"

# the release
logpos=$(wc -l <"$SK_DIR/sinkd.log")
"$QTOOL" -c "$CONF" release "$id" >"$W/release.out" 2>&1
ok $? "sinkd-quarantine release" || diag "$(cat "$W/release.out")"
pf_wait_delivered u1@corp.example 1 && pf_wait_delivered u2@corp.example 1
ok $? "delivered to both original recipients"
sleep 1
is "$(pf_delivered_count audit@corp.example)" 0 "  not to the bcc address"
for r in u1 u2; do
	F=$(pf_last_message $r@corp.example)
	python3 "$TOP/t/lib/samemsg.py" "$W/held" "$F" Received Return-Path Delivered-To \
		X-Original-To >"$W/diff.$r"
	ok $? "$r: every header field and the body as held (MTA trace fields aside)" ||
		diag "$(cat "$W/diff.$r")"
	grep -qE '^(X-Sinkd-Released|X-Sinkd-Disclaimer|X-Sinkd-Rewrite|X-Policy):' "$F"
	is $? 1 "$r: no release field, no field from a handler"
done
head -n 1 "$W/released" | grep -q '^X-Sinkd-Released: '
ok $? "the release carried its token"
tail -n +$((logpos + 1)) "$SK_DIR/sinkd.log" | grep -q 'clamav: released from quarantine; passed unchanged'
ok $? "the log says the release let it through unchanged"
is "$(ls -A "$W/sk/q" | grep -c '^\.used-')" 1 "the token is spent (one .used- marker)"
is "$(ls "$W/sk/q"/*.meta | wc -l)" 1 "not held again"
"$SINKD" -c "$CONF" -S >"$W/status" 2>&1
grep -A1 '^Messages released from quarantine and let through:' "$W/status" | tail -n 1 >"$W/released.count"
like "$(cat "$W/released.count")" '^ *sinkd_released_total 1$' "sinkd -S counts one release" ||
	diag "$(cat "$W/status")"

# sent again with its spent token: filtered as new mail, quarantined again
pf_sendmail -f x@outside.example u1@corp.example u2@corp.example <"$W/released"
for i in $(seq 1 100); do
	[ "$(ls "$W/sk/q"/*.meta | wc -l)" -ge 2 ] && break
	sleep 0.1
done
is "$(ls "$W/sk/q"/*.meta | wc -l)" 2 "the same again, token spent: quarantined again"
grep -q 'X-Sinkd-Released not honoured: already used' "$SK_DIR/sinkd.log"
ok $? "  the log says the token was used"
is "$(pf_delivered_count u1@corp.example)" 1 "  and u1 got it once"

sk_stop
sk_log_clean
ok $? "no sanitizer report in sinkd's log"
done_testing
