#!/bin/bash
# e2e-dkim.t - the dkim handler through a real Postfix
#
# Real SMTP into a private Postfix whose milter is the real sinkd with the
# chain dkim, rewrite, disclaimer (subject tag on inbound mail, the
# disclaimer on all of it), keys from a dkim-keys-file, authserv-id set.
# Checked on what Postfix delivered, with dkimpy (python3-dkim) as the
# verifier: under dkim-signed = skip a message signed over Subject and
# body leaves untagged, without the disclaimer, still verifying, with
# X-Sinkd-DKIM-Skip saying why; a signature whose h= leaves out Subject
# lets the tag through and still verifies; under ignore (a domain's file)
# both changes are made and the signature no longer verifies.  Every
# delivered message has sinkd's Authentication-Results on top, and the
# forged one claiming sinkd's authserv-id is gone.  Outbound mail (from
# a client made internal by a reload) of a domain with dkim-sign = yes leaves
# with the disclaimer and sinkd's DKIM-Signature over it, which dkimpy
# verifies on the delivered message.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
PY=/usr/bin/python3
$PY -c 'import dkim' 2>/dev/null || bail_out "python3-dkim is not installed (./bootstrap test installs it)"
DK="$PY $TOP/t/lib/dkimcheck.py"

e2e_workdir e2e-dkim
mkdir -p "$W/pf" "$W/sk" "$W/keys"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
$DK genkey "$W/keys" sel example.com || bail_out "cannot make a test key"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = dkim, rewrite, disclaimer/' "$W/sk/conf/sinkd.conf"
sk_conf '[dkim]' "dkim-keys-file = $(fixture "$W/keys/keys" "$SK_DIR/conf")" \
	'authserv-id = sinkd.test' 'dkim-signed = skip' \
	'[rewrite]' 'subject-tag = [EXT]' \
	'[disclaimer]' "text-file = $(fixture "$TOP/t/disclaimer/text.tmpl" "$SK_DIR/conf")" 'direction = both'
printf '[dkim]\ndkim-signed = ignore\n' >"$W/sk/conf/domains/ignore.example.conf"
# the signing key, readable by sinkd's user (postfix) through its group
$DK genkey "$W/keys" out example.com || bail_out "cannot make a signing key"
install -m 0640 -o root -g postfix "$W/keys/out.example.com.pem" "$W/sk/conf/out.pem"
printf '[dkim]\ndkim-sign = yes\ndkim-selector = out\ndkim-key = %s\n' "$W/sk/conf/out.pem" \
	>"$W/sk/conf/domains/example.com.conf"
sk_start || bail_out "sinkd did not start"

send() { OUT=$(pf_swaks --from "$2" --to "$3" --data "@$4" --header "X-E2E-Id: $1"); }
# msg TO HEADERS: a message to TO signed over HEADERS, with a forged
# Authentication-Results field of sinkd's authserv-id above it
msg() {
	printf 'From: alice@example.com\nTo: %s\nSubject: report\nDate: Thu, 3 Dec 2026 10:00:00 +0000\nMessage-ID: <%s.%s@example.com>\n\nHello,\nthe report is attached.\n' \
		"$1" "$RANDOM" "$1" | $DK sign "$W/keys" sel example.com "$2" >"$W/signed"
	{ printf 'Authentication-Results: sinkd.test; dkim=pass header.d=forged.example\r\n'; cat "$W/signed"; } >"$W/msg"
}
verify() { $DK verify "$W/keys/keys" <"$1" | tail -n 1; }

# skip: signed over Subject and body
msg bob@example.org from,to,subject,date
send skip alice@example.com bob@example.org "$W/msg"
like "$(smtp_reply "$OUT" .)" '^250 ' "skip: accepted"
pf_wait_delivered bob@example.org 1 || diag "$OUT"
F=$(pf_last_message bob@example.org)
is "$(header "$F" Subject)" "report" "skip: the subject is not tagged"
grep -q 'is confidential' "$F"
ok $((! $?)) "skip: no disclaimer"
like "$(header "$F" X-Sinkd-DKIM-Skip)" 'disclaimer body \(signed by d=example.com s=sel\).*rewrite Subject|rewrite Subject.*disclaimer body' \
	"skip: X-Sinkd-DKIM-Skip names both changes held back"
is "$(verify "$F")" pass "skip: the delivered message's signature verifies (dkimpy)"
like "$(grep -m1 -i '^Authentication-Results:' "$F")" '^Authentication-Results: sinkd.test; dkim=pass header.d=example.com header.s=sel header.b="' \
	"Authentication-Results: sinkd's, dkim=pass"
is "$(grep -ci '^Authentication-Results:' "$F")" 1 "the forged Authentication-Results of sinkd.test is removed"

# skip: a signature whose h= leaves Subject out
msg carol@example.org from,to,date
send nosubject alice@example.com carol@example.org "$W/msg"
pf_wait_delivered carol@example.org 1 || diag "$OUT"
F=$(pf_last_message carol@example.org)
is "$(header "$F" Subject)" "[EXT] report" "h= without Subject: the subject is tagged"
is "$(verify "$F")" pass "h= without Subject: the signature still verifies (dkimpy)"

# ignore: both changes, the signature broken
msg dave@ignore.example from,to,subject,date
send ignore alice@example.com dave@ignore.example "$W/msg"
pf_wait_delivered dave@ignore.example 1 || diag "$OUT"
F=$(pf_last_message dave@ignore.example)
is "$(header "$F" Subject)" "[EXT] report" "ignore: the subject is tagged"
grep -q 'is confidential' "$F"
ok $? "ignore: the disclaimer is added"
is "$(verify "$F")" fail "ignore: the signature no longer verifies (dkimpy), as documented"
like "$(grep -m1 -i '^Authentication-Results:' "$F")" 'dkim=pass header.d=example.com' \
	"ignore: Authentication-Results says what was verified before the change"

# dkim-sign: outbound mail, changed by the disclaimer, then signed
printf 'From: alice@example.com\nTo: erin@example.org\nSubject: outbound report\nDate: Thu, 3 Dec 2026 10:00:00 +0000\nMessage-ID: <%s.out@example.com>\n\nHello,\nthe report is attached.\n' \
	"$RANDOM" >"$W/out.eml"
# the SMTP client (127.0.0.1) becomes internal: its mail is outbound,
# and the reload loads the key again as sinkd's user
sed -i 's/^internal-hosts = .*/internal-hosts = 127.0.0.0\/8/' "$W/sk/conf/sinkd.conf"
sk_reload || bail_out "sinkd did not reload"
send outbound alice@example.com erin@example.org "$W/out.eml"
like "$(smtp_reply "$OUT" .)" '^250 ' "dkim-sign: the outbound message is accepted"
pf_wait_delivered erin@example.org 1 || diag "$OUT"
F=$(pf_last_message erin@example.org)
grep -q 'is confidential' "$F"
ok $? "dkim-sign: the disclaimer is added"
like "$(header "$F" DKIM-Signature)" '^v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=out;' \
	"dkim-sign: the delivered message carries sinkd's DKIM-Signature"
is "$(verify "$F")" pass "dkim-sign: it verifies on the delivered message (dkimpy)"
like "$(sk_log)" ': dkim: signed d=example.com s=out a=rsa-sha256' "dkim-sign: sinkd's log says what signed"

sk_stop; ok $? "sinkd stops"
sk_log_clean; ok $? "no sanitizer report or panic in sinkd's log"
done_testing
