#!/bin/bash
# dkim-sign.t - DKIM signing through sinkd -t: dkim-sign = yes and
# dkim-signed = resign, checked with dkimpy
#
# The test makes its own keys (RSA and Ed25519, t/lib/dkimcheck.py
# genkey), gives sinkd the private ones and dkimpy the public ones through
# a keys file, so that no DNS is asked.  What sinkd signs must verify with
# dkimpy (an independent implementation): outbound mail as it leaves,
# after a disclaimer and a header rule, whatever the chain order; mail
# whose valid signature a change broke, under resign.  Configuration
# errors come from sinkd -n.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
source lib/dryrun.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
PY=/usr/bin/python3	# Debian's, with python3-dkim
DK="$PY $PWD/lib/dkimcheck.py"
$PY -c 'import dkim' 2>/dev/null || bail_out "python3-dkim is not installed (./bootstrap test installs it)"
W=$(workdir dkim-sign) || bail_out "mktemp failed"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/spool" "$W/domains"

$DK genkey "$W" sel example.com || bail_out "cannot make a test key"
$DK genkey "$W" ed example.com ed25519 || bail_out "cannot make an Ed25519 test key"
$DK genkey "$W" mua example.com || bail_out "cannot make a test key"
$DK genkey "$W" other example.org || bail_out "cannot make a test key"
$DK genkey "$W" rcpt example.net || bail_out "cannot make a test key"
printf 'Disclaimer: sent by ${sender}.\n' >"$W/text.tmpl"

# conf CHAIN LINES...: sinkd.conf with the chain and the lines given
# after [dkim] (keys from the test's keys file)
conf() {
	local chain=$1
	shift
	{
		printf '[sinkd]\nchain = %s\nspool-dir = %s\ndomains-dir = %s\n' "$chain" "$W/spool" "$W/domains"
		printf 'internal-hosts = 10.255.0.0/16\n'
		printf '[dkim]\ndkim-keys-file = %s\n' "$W/keys"
		printf '%s\n' "$@"
	} >"$W/sinkd.conf"
}
# domain DOMAIN LINES...: the domain's own file, [dkim] first
domain() {
	local d=$1
	shift
	{ printf '[dkim]\n'; printf '%s\n' "$@"; } >"$W/domains/$d.conf"
}

INBOUND=(-F a@example.org -R b@example.net -C 192.0.2.10,mx.example.org)
OUTBOUND=(-F a@example.com -R b@example.net -C 10.255.0.1,pc.example.com)
verify() { $DK verify "$W/keys" <"$1"; }
# sig N: the tags of the Nth DKIM-Signature of OUT (from the top), one line
sig() {
	printf '%s\n' "$OUT" | awk -v n="$1" '
		/^[^ \t]/ { insig = 0 }
		tolower($0) ~ /^dkim-signature:/ { if (++seen == n) insig = 1 }
		insig { printf "%s", $0 }
		END { print "" }' | tr -d ' \t\r'
}

plain() {
	printf 'From: a@%s\r\nTo: b@example.net\r\nSubject: %s\r\nDate: Thu, 3 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s@example.com>\r\n\r\nHello,\r\nthe report is attached.\r\n' \
		"${2:-example.com}" "$1" "$RANDOM"
}
plain hello >"$W/plain.eml"

# --- dkim-sign = yes: RSA, then Ed25519 ---
conf dkim
domain example.com "dkim-sign = yes" "dkim-selector = sel" "dkim-key = $W/sel.example.com.pem"
check
is "$CHECK" "configuration OK" "a domain that signs: sinkd -n is content"
run "$W/plain.eml" "${OUTBOUND[@]}"
is "$RC" 0 "rsa: sinkd -t runs"
like "$VERDICT" ' dkim.signed=example.com:sel:rsa-sha256( |$)' "rsa: the log line says what signed"
like "$(head -n 1 "$W/out")" '^DKIM-Signature: ' "rsa: the signature is the first field"
is "$(verify "$W/out")" pass "rsa: the signature verifies (dkimpy)"
s=$(sig 1)
like "$s" ';a=rsa-sha256;' "rsa: a=rsa-sha256"
like "$s" ';c=relaxed/relaxed;' "rsa: c=relaxed/relaxed"
like "$s" ';d=example.com;' "rsa: d= is the policy's domain"
like "$s" ';s=sel;' "rsa: s= is dkim-selector"
like "$s" ';h=from:from:to:subject:date:message-id;' "rsa: h= the default list's fields the message has, From over-signed"
unlike "$s" ';l=' "rsa: the whole body is signed (no l=)"
# a From added after signing breaks it: that is what over-signing is for
sed '1,/^\r\?$/ s/^\(Subject: .*\)$/From: mallory@example.net\r\n\1/' "$W/out" >"$W/addfrom.eml"
is "$(verify "$W/addfrom.eml")" fail "rsa: a From field added after signing breaks the signature (over-signed)"
# inbound mail is never signed under dkim-sign
plain hello example.org >"$W/in.eml"
domain example.net "dkim-sign = yes" "dkim-selector = rcpt" "dkim-key = $W/rcpt.example.net.pem"
run "$W/in.eml" "${INBOUND[@]}"
unlike "$OUT" 'DKIM-Signature' "inbound mail is not signed under dkim-sign = yes"
unlike "$VERDICT" 'dkim.signed=' "  and the log line says nothing signed"
rm "$W/domains/example.net.conf"
# a sender domain without dkim-sign: not signed
run "$W/plain.eml" -F a@example.info -R b@example.net -C 10.255.0.1,pc.example.com
unlike "$OUT" 'DKIM-Signature' "outbound mail of a domain that does not sign is not signed"

domain example.com "dkim-sign = yes" "dkim-selector = ed" "dkim-key = $W/ed.example.com.pem"
run "$W/plain.eml" "${OUTBOUND[@]}"
like "$VERDICT" ' dkim.signed=example.com:ed:ed25519-sha256( |$)' "ed25519: the log line says what signed"
like "$(sig 1)" ';a=ed25519-sha256;' "ed25519: a=ed25519-sha256 (RFC 8463)"
like "$(sig 1)" ';h=(from:from:to:subject:date:message-id|From:To:Subject:Date:Message-ID:from);' "ed25519: h= as for RSA, From over-signed"
is "$(verify "$W/out")" pass "ed25519: the signature verifies (dkimpy)"

# dkim-domain and dkim-sign-headers
domain example.com "dkim-sign = yes" "dkim-selector = other" "dkim-key = $W/other.example.org.pem" \
	"dkim-domain = example.org" "dkim-sign-headers = from, subject, +x-list"
run "$W/plain.eml" "${OUTBOUND[@]}"
s=$(sig 1)
like "$s" ';d=example.org;' "dkim-domain: d= is it"
like "$s" ';h=from:subject:x-list;' "dkim-sign-headers: only the fields listed; X-List over-signed though absent"
is "$(verify "$W/out")" pass "dkim-domain: the signature verifies (dkimpy)"

# Ed25519 is signed by sinkd's own canonicalisation (dkimsign.c): shapes
# where relaxed/relaxed has something to do, for both key types
printf 'From:   a@example.com  \r\nTo: b@example.net,\r\n\t c@example.net\r\nSubject:\tfolded\r\n   over  lines \r\nDate: Thu, 3 Dec 2026 10:00:00 +0000\r\nCc: x@example.net\r\nCc: y@example.net\r\n\r\n  two  spaces\t\tand tabs \r\ntrailing blank \t\r\n\r\n\r\n' >"$W/ws.eml"
printf 'From: a@example.com\r\nSubject: empty body\r\n\r\n' >"$W/empty.eml"
printf 'From: a@example.com\r\nSubject: no final newline\r\n\r\nlast line' >"$W/nonl.eml"
printf 'From: a@example.com\nSubject: bare LF\n\nline one\n\nline three\n' >"$W/lf.eml"
# a References field of 400 lines and a field of 20000 characters
{
	printf 'From: a@example.com\r\nSubject: long\r\nReferences:'
	for i in $(seq 1 400); do printf ' <%d.abcdefghijkl@example.com>\r\n' "$i"; done
	printf 'X-Long: %s\r\n\r\nbody\r\n' "$(head -c 20000 /dev/zero | tr '\0' a)"
} >"$W/long.eml"
for key in sel ed; do
	domain example.com "dkim-sign = yes" "dkim-selector = $key" "dkim-key = $W/$key.example.com.pem"
	for f in ws empty nonl lf long; do
		run "$W/$f.eml" "${OUTBOUND[@]}"
		is "$(verify "$W/out")" pass "$key: $f: the signature verifies (dkimpy)"
		[ "$f" = ws ] && like "$(sig 1)" ';h=[^;]*[Cc]c:[Cc]c[:;]' "$key: two Cc fields: both signed"
	done
done

# --- signed after every change, whatever the chain order ---
for chain in "dkim, rewrite, disclaimer" "rewrite, disclaimer, dkim" "disclaimer, dkim, rewrite"; do
	for key in sel ed; do
		conf "$chain" "[rewrite]" "header-change = Subject: changed by policy" \
			"[disclaimer]" "text-file = $W/text.tmpl"
		domain example.com "dkim-sign = yes" "dkim-selector = $key" "dkim-key = $W/$key.example.com.pem"
		run "$W/plain.eml" "${OUTBOUND[@]}"
		like "$OUT" 'Subject: changed by policy' "$chain ($key): the subject is changed"
		like "$OUT" 'Disclaimer: sent by a@example.com' "$chain ($key): the disclaimer is added"
		is "$(verify "$W/out")" pass "$chain ($key): the signature over the changed message verifies (dkimpy)"
	done
done
# a body past body-memory-limit, signed from the spool file
{ plain big | sed '$d'; for i in $(seq 1 4000); do printf 'line %d of a long body, to go past the limit\r\n' "$i"; done; } >"$W/big.eml"
conf "dkim, disclaimer" "[disclaimer]" "text-file = $W/text.tmpl"
sed -i 's/^\[dkim\]$/body-memory-limit = 64k\n[dkim]/' "$W/sinkd.conf"
run "$W/big.eml" "${OUTBOUND[@]}"
is "$(verify "$W/out")" pass "a body spooled to a file, changed and signed, verifies (dkimpy)"
conf dkim
sed -i 's/^\[dkim\]$/body-memory-limit = 64k\n[dkim]/' "$W/sinkd.conf"
run "$W/big.eml" "${OUTBOUND[@]}"
is "$(verify "$W/out")" pass "a body spooled to a file, unchanged, signed from the spool, verifies (dkimpy)"

# a refused or discarded message is not signed
conf "dkim, rewrite" "[rewrite]" "banned-extensions = exe" "banned-action = reject"
printf 'From: a@example.com\r\nTo: b@example.net\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream; name=x.exe\r\nContent-Disposition: attachment; filename=x.exe\r\n\r\nMZ\r\n--b--\r\n' >"$W/exe.eml"
run "$W/exe.eml" "${OUTBOUND[@]}"
like "$VERDICT" '^verdict=reject' "a rejected message is rejected"
unlike "$VERDICT" 'dkim.signed=' "  and not signed"

# --- dkim-signed = resign ---
# outbound, signed by the sender's MUA over the body; the disclaimer
# breaks it; sinkd removes it and signs anew; another domain's stays
conf "dkim, disclaimer" "[disclaimer]" "text-file = $W/text.tmpl"
domain example.com "dkim-signed = resign" "dkim-selector = sel" "dkim-key = $W/sel.example.com.pem"
$DK sign "$W" mua example.com from,to,subject <"$W/plain.eml" | $DK sign "$W" other example.org from,to >"$W/mua.eml"
is "$(verify "$W/mua.eml" | tr '\n' ' ')" "pass pass " "resign: both signatures verify as sent (dkimpy)"
run "$W/mua.eml" "${OUTBOUND[@]}"
like "$OUT" 'Disclaimer: sent by' "resign: the disclaimer is added to signed mail"
like "$VERDICT" ' dkim.signed=example.com:sel:rsa-sha256( |$)' "resign: a broken signature makes sinkd sign"
like "$VERDICT" ' changed=dkim:-DKIM-Signature,dkim:\+DKIM-Signature,' "resign: one signature went, sinkd's came"
is "$(grep -ci '^dkim-signature:' "$W/out")" 2 "resign: sinkd's and example.org's signatures are there, the MUA's is gone"
like "$(sig 1)" ';d=example.com;s=sel;' "resign: sinkd's signature is on top"
like "$(sig 2)" ';d=example.org;.*;s=other;' "resign: example.org's stays"
is "$(verify "$W/out" | tr '\n' ' ')" "pass fail " "resign: sinkd's verifies, example.org's is broken (dkimpy)"
# nothing broken: nothing signed
conf dkim
run "$W/mua.eml" "${OUTBOUND[@]}"
unlike "$VERDICT" 'dkim.signed=' "resign: a message no change broke is not signed again"
is "$(grep -ci '^dkim-signature:' "$W/out")" 2 "  and keeps its signatures"
# inbound: the recipient domain resigns what its subject tag broke
conf "dkim, rewrite" "[rewrite]" "subject-tag = [EXT]"
rm -f "$W/domains/example.com.conf"
domain example.net "dkim-signed = resign" "dkim-selector = rcpt" "dkim-key = $W/rcpt.example.net.pem"
$DK sign "$W" other example.org from,to,subject <"$W/in.eml" >"$W/insigned.eml"
run "$W/insigned.eml" "${INBOUND[@]}"
like "$OUT" 'Subject: \[EXT\] hello' "resign, inbound: the subject is tagged"
like "$VERDICT" ' dkim.signed=example.net:rcpt:rsa-sha256( |$)' "resign, inbound: signed with the recipient domain's key"
is "$(verify "$W/out" | tr '\n' ' ')" "pass fail " "resign, inbound: sinkd's verifies, the sender's is broken and stays (dkimpy)"
# a subject tag under a signature whose h= leaves Subject out breaks nothing
$DK sign "$W" other example.org from,to <"$W/in.eml" >"$W/insigned2.eml"
run "$W/insigned2.eml" "${INBOUND[@]}"
like "$OUT" 'Subject: \[EXT\] hello' "resign, inbound: the tag goes on"
unlike "$VERDICT" 'dkim.signed=' "resign, inbound: a change outside h= breaks nothing: not signed"
is "$(verify "$W/out")" pass "  and the sender's signature still verifies (dkimpy)"
rm -f "$W/domains/example.net.conf"

# --- configuration errors (sinkd -n) ---
conf dkim "dkim-sign = yes"
check
like "$CHECK" "sinkd.conf:8: dkim-sign: yes needs dkim-selector and dkim-key" "no selector or key: file:line: key: what"
is "$RC" 1 "  and sinkd -n fails"
conf dkim "dkim-sign = yes" "dkim-selector = sel" "dkim-key = $W/sel.example.com.pem"
check
like "$CHECK" "sinkd.conf:8: dkim-sign: yes needs dkim-domain in a policy of no single domain" \
	"the default policy signs without dkim-domain: an error"
conf dkim "dkim-signed = resign" "dkim-key = $W/sel.example.com.pem"
check
like "$CHECK" "sinkd.conf:8: dkim-signed: resign needs dkim-selector and dkim-key" "resign without a selector: an error"
conf dkim
domain example.com "dkim-sign = yes" "dkim-selector = sel" "dkim-key = $W/sel.example.com.pem"
chmod 0644 "$W/sel.example.com.pem"
check
like "$CHECK" "example.com.conf:4: dkim-key: .*sel.example.com.pem: a secret readable by others \\(mode 0644\\)" \
	"a key others can read: an error at its file:line"
is "$RC" 1 "  and sinkd -n fails"
chmod 0600 "$W/sel.example.com.pem"
openssl genrsa -out "$W/small.pem" 512 2>/dev/null && chmod 0600 "$W/small.pem"
domain example.com "dkim-sign = yes" "dkim-selector = sel" "dkim-key = $W/small.pem"
check
like "$CHECK" "dkim-key: .*small.pem: an RSA key of 512 bits; DKIM needs 1024 or more" "an RSA key under 1024 bits: an error"
openssl ecparam -name prime256v1 -genkey -noout -out "$W/ec.pem" 2>/dev/null && chmod 0600 "$W/ec.pem"
domain example.com "dkim-sign = yes" "dkim-selector = sel" "dkim-key = $W/ec.pem"
check
like "$CHECK" "dkim-key: .*ec.pem: neither an RSA nor an Ed25519 key" "an EC key: an error"
printf 'not a key\n' >"$W/junk.pem" && chmod 0600 "$W/junk.pem"
domain example.com "dkim-sign = yes" "dkim-selector = sel" "dkim-key = $W/junk.pem"
check
like "$CHECK" "dkim-key: .*junk.pem: not a PEM private key" "a file that is no key: an error"
domain example.com "dkim-sign = yes" "dkim-selector = sel" "dkim-key = $W/sel.example.com.pem" \
	"dkim-sign-headers = subject, to"
check
like "$CHECK" "dkim-sign-headers: From must be signed" "a header list without From: an error"
domain example.com "dkim-sign = yes" "dkim-selector = bad/selector" "dkim-key = $W/sel.example.com.pem"
check
like "$CHECK" 'dkim-selector: "bad/selector" is not a selector' "a bad selector: an error"
rm -f "$W/domains/example.com.conf"

# --- combining: two domains that resign as themselves keep apart ---
conf "dkim, rewrite" "[rewrite]" "subject-tag = [EXT]"
domain example.net "dkim-signed = resign" "dkim-selector = rcpt" "dkim-key = $W/rcpt.example.net.pem"
domain example.com "dkim-signed = resign" "dkim-selector = rcpt" "dkim-key = $W/rcpt.example.net.pem"
run "$W/insigned.eml" -F a@example.org -R b@example.net -R c@example.com -C 192.0.2.10,mx.example.org
like "$VERDICT" 'deferred=<c@example.com>:452:4.5.3' "two domains that would sign as themselves do not share a transaction"
like "$VERDICT" ' dkim.signed=example.net:rcpt:rsa-sha256( |$)' "  the first is signed for its own domain"

done_testing
