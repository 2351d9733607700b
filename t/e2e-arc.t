#!/bin/bash
# e2e-arc.t - ARC sealing through a real Postfix
#
# Real SMTP into a private Postfix whose milter is the real sinkd with the
# chain dkim, rewrite (subject tag on inbound mail), authserv-id set, and
# a recipient domain (arc.example) under dkim-signed = arc with its own
# key.  Checked on what Postfix delivered, with dkimpy (python3-dkim) as
# the validator: a message signed by example.com and tagged leaves with
# an ARC set (i=1, cv=none) that arc_verify accepts, whose AAR says
# dkim=pass as sinkd saw it before the change; one that came with a chain
# (sealed by dkimpy) leaves with i=2, cv=pass; a message the chain does
# not change (a domain without the tag) keeps its signature valid and
# gets no ARC set.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
PY=/usr/bin/python3
$PY -c 'import dkim, authres' 2>/dev/null \
	|| bail_out "python3-dkim or python3-authres is not installed (./bootstrap test installs them)"
DK="$PY $TOP/t/lib/dkimcheck.py"
AC="$PY $TOP/t/lib/arccheck.py"

e2e_workdir e2e-arc
mkdir -p "$W/pf" "$W/sk" "$W/keys"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
$DK genkey "$W/keys" sel example.com || bail_out "cannot make a test key"
$DK genkey "$W/keys" relay relay.example || bail_out "cannot make a test key"
$DK genkey "$W/keys" seal arc.example || bail_out "cannot make a test key"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = dkim, rewrite/' "$W/sk/conf/sinkd.conf"
sk_conf '[dkim]' "dkim-keys-file = $(fixture "$W/keys/keys" "$SK_DIR/conf")" \
	'authserv-id = sinkd.test' '[rewrite]' 'subject-tag = [EXT]'
# the sealing key, readable by sinkd's user (postfix) through its group
install -m 0640 -o root -g postfix "$W/keys/seal.arc.example.pem" "$W/sk/conf/seal.pem"
printf '[dkim]\ndkim-signed = arc\ndkim-selector = seal\ndkim-key = %s\n' "$W/sk/conf/seal.pem" \
	>"$W/sk/conf/domains/arc.example.conf"
# a domain whose mail the chain leaves as it is
printf '[dkim]\ndkim-signed = arc\ndkim-selector = seal\ndkim-key = %s\ndkim-domain = arc.example\n[rewrite]\nsubject-tag =\n' \
	"$W/sk/conf/seal.pem" >"$W/sk/conf/domains/plain.example.conf"
sk_start || bail_out "sinkd did not start"

send() { OUT=$(pf_swaks --from "$2" --to "$3" --data "@$4" --header "X-E2E-Id: $1"); }
# msg TO: a message to TO signed by example.com over From, To, Subject,
# Date
msg() {
	printf 'From: alice@example.com\nTo: %s\nSubject: report\nDate: Thu, 3 Dec 2026 10:00:00 +0000\nMessage-ID: <%s.%s@example.com>\n\nHello,\nthe report is attached.\n' \
		"$1" "$RANDOM" "$1" | $DK sign "$W/keys" sel example.com from,to,subject,date >"$W/msg"
}
arc_verify() { $AC verify "$W/keys/keys" <"$1"; }

# signed, tagged: sealed i=1
msg bob@arc.example
send sealed alice@example.com bob@arc.example "$W/msg"
like "$(smtp_reply "$OUT" .)" '^250 ' "signed mail to arc.example: accepted"
pf_wait_delivered bob@arc.example 1 || diag "$OUT"
F=$(pf_last_message bob@arc.example)
is "$(header "$F" Subject)" "[EXT] report" "the subject is tagged"
like "$(header "$F" ARC-Seal)" '^i=1; a=rsa-sha256; t=[0-9]+; cv=none;' "an ARC-Seal i=1, cv=none"
like "$(header "$F" ARC-Message-Signature)" 'd=arc.example; s=seal;' "the AMS under arc.example's key"
av=$(arc_verify "$F")
like "$av" '^cv=pass' "dkimpy's arc_verify accepts the delivered message"
like "$av" 'aar=i=1; sinkd.test; dkim=pass header.d=example.com header.s=sel' \
	"its AAR says dkim=pass, as sinkd saw it before the change"
is "$($DK verify "$W/keys/keys" <"$F" | tail -n 1)" fail "the DKIM signature itself the tag broke (dkimpy)"

# a chain from relay.example, tagged: sealed i=2
msg carol@arc.example
{ printf 'Authentication-Results: mx.relay.example; dkim=pass header.d=example.com\r\n'; cat "$W/msg"; } |
	$AC seal "$W/keys" relay relay.example mx.relay.example >"$W/chain" || bail_out "dkimpy did not seal"
send chain alice@example.com carol@arc.example "$W/chain"
pf_wait_delivered carol@arc.example 1 || diag "$OUT"
F=$(pf_last_message carol@arc.example)
like "$(header "$F" ARC-Seal)" '^i=2; .*cv=pass;' "a chain of one: an ARC-Seal i=2, cv=pass"
av=$(arc_verify "$F")
like "$av" '^cv=pass' "dkimpy's arc_verify accepts the chain of two"
like "$av" 'aar=i=2; sinkd.test; dkim=pass header.d=example.com .*; arc=pass' "the AAR of i=2 says arc=pass"
like "$(grep -m1 -i '^Authentication-Results:' "$F")" '^Authentication-Results: sinkd.test; dkim=pass .*; arc=pass' \
	"sinkd's Authentication-Results says arc=pass"

# not changed: no set, the signature intact
msg dave@plain.example
send unchanged alice@example.com dave@plain.example "$W/msg"
pf_wait_delivered dave@plain.example 1 || diag "$OUT"
F=$(pf_last_message dave@plain.example)
is "$(header "$F" Subject)" "report" "a domain without the tag: the subject is as sent"
is "$(grep -ci '^ARC-' "$F")" 0 "no change: no ARC set"
is "$($DK verify "$W/keys/keys" <"$F" | tail -n 1)" pass "the original signature still verifies (dkimpy)"

sk_stop; ok $? "sinkd stops"
sk_log_clean; ok $? "no sanitizer report or panic in sinkd's log"
done_testing
