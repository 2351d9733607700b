#!/bin/bash
# dkim-arc.t - ARC through sinkd -t: the chain a message comes with is
# validated (facts, the log line, arc= in Authentication-Results), and
# under dkim-signed = arc inbound mail that was signed or sealed and that
# sinkd changed leaves with an ARC set dkimpy's arc_verify accepts
#
# Keys: the test makes its own (t/lib/dkimcheck.py genkey), gives sinkd
# the private ones and both sinkd and dkimpy the public ones through a
# keys file, so no DNS is asked.  dkimpy (t/lib/arccheck.py) seals the
# chains sinkd receives and validates the sets sinkd adds.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
source lib/dryrun.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
PY=/usr/bin/python3	# Debian's, with python3-dkim and python3-authres
DK="$PY $PWD/lib/dkimcheck.py"
AC="$PY $PWD/lib/arccheck.py"
$PY -c 'import dkim, authres' 2>/dev/null \
	|| bail_out "python3-dkim or python3-authres is not installed (./bootstrap test installs them)"
W=$(workdir dkim-arc) || bail_out "mktemp failed"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/spool" "$W/domains"

$DK genkey "$W" sel example.com || bail_out "cannot make a test key"
$DK genkey "$W" arc relay.example || bail_out "cannot make a test key"
$DK genkey "$W" seal example.net || bail_out "cannot make a test key"

# conf CHAIN LINES...: sinkd.conf with the chain, authserv-id, and the
# lines given after [dkim]; example.net (the recipients') seals
conf() {
	local chain=$1
	shift
	{
		printf '[sinkd]\nchain = %s\nspool-dir = %s\ndomains-dir = %s\n' "$chain" "$W/spool" "$W/domains"
		printf 'internal-hosts = 10.255.0.0/16\n'
		printf '[dkim]\ndkim-keys-file = %s\nauthserv-id = mx.example.net\n' "$W/keys"
		printf '%s\n' "$@"
	} >"$W/sinkd.conf"
	printf '[dkim]\ndkim-signed = arc\ndkim-selector = seal\ndkim-key = %s\n' \
		"$W/seal.example.net.pem" >"$W/domains/example.net.conf"
}
INBOUND=(-F a@example.com -R b@example.net -C 192.0.2.10,mx.example.com)
OUTBOUND=(-F b@example.net -R a@example.com -C 10.255.0.1,pc.example.net)
arc_verify() { $AC verify "$W/keys" <"$1"; }
# field NAME: the first NAME field of OUT, unfolded
field() {
	printf '%s\n' "$OUT" | tr -d '\r' | awk -v n="$(tr 'A-Z' 'a-z' <<<"$1")" '
		/^[^ \t]/ { if (on) exit; split($0, f, ":"); on = tolower(f[1]) == n }
		on { printf "%s", $0 }
		END { print "" }'
}

plain() {
	printf 'From: a@example.com\r\nTo: b@example.net\r\nSubject: %s\r\nDate: Thu, 3 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s@example.com>\r\n\r\nHello,\r\nthe report is attached.\r\n' "$1" "$RANDOM"
}
plain hello | $DK sign "$W" sel example.com from,to,subject,date >"$W/signed.eml"
plain hello >"$W/unsigned.eml"
# a chain of one set from relay.example, over the signed message
{ printf 'Authentication-Results: mx.relay.example; dkim=pass header.d=example.com\r\n'; cat "$W/signed.eml"; } |
	$AC seal "$W" arc relay.example mx.relay.example >"$W/chain.eml" || bail_out "dkimpy did not seal"
sed 's/^the report/THE report/' "$W/chain.eml" >"$W/badchain.eml"

TAG=("[rewrite]" "subject-tag = [EXT]")

# --- validation ---
conf dkim
run "$W/chain.eml" "${INBOUND[@]}"
like "$VERDICT" ' arc=pass:1( |$)' "a chain dkimpy sealed: pass, one set (log line)"
like "$(field Authentication-Results)" '^Authentication-Results: mx.example.net; dkim=pass header.d=example.com .*; arc=pass$' \
	"Authentication-Results says arc=pass"
run "$W/badchain.eml" "${INBOUND[@]}"
like "$VERDICT" ' arc=fail:1( |$)' "the body changed after sealing: fail"
like "$(field Authentication-Results)" '; arc=fail$' "  Authentication-Results says arc=fail"
run "$W/signed.eml" "${INBOUND[@]}"
unlike "$VERDICT" ' arc=' "no ARC field: nothing said of ARC"
unlike "$(field Authentication-Results)" 'arc=' "  nor in Authentication-Results"

# facts, read by a Lua sink
if grep -q '^WITH_LUA = yes' ../config.mk 2>/dev/null; then
	cat >"$W/facts.lua" <<'LUA'
return {
    name = "facts",
    eom = function(ctx)
        local v = {}
        for _, k in ipairs({"arc.cv", "arc.count", "arc.domain", "arc.reason"}) do
            v[#v + 1] = k .. "=" .. (ctx:get(k) or "-")
        end
        ctx:note("seen", table.concat(v, "/"))
    end,
}
LUA
	conf "sink:facts, dkim"
	printf '[sink:facts]\nscript = %s\n' "$W/facts.lua" >>"$W/sinkd.conf"
	run "$W/badchain.eml" "${INBOUND[@]}"
	like "$VERDICT" 'sink.facts.seen=arc.cv=fail/arc.count=1/arc.domain=relay.example/arc.reason=ARC-Message-Signature_i=1:_body_hash_did_not_verify( |$)' \
		"facts: arc.cv, arc.count, arc.domain, arc.reason"
fi

# --- sealing under dkim-signed = arc ---
conf "dkim, rewrite" "${TAG[@]}"
check
is "$CHECK" "configuration OK" "a domain that seals: sinkd -n is content"
run "$W/signed.eml" "${INBOUND[@]}"
like "$(field Subject)" '^Subject: \[EXT\] hello' "signed, then changed (subject tag)"
like "$VERDICT" ' arc.sealed=example.net:seal:i=1( |$)' "  sealed, i=1 (log line)"
like "$(printf '%s\n' "$OUT" | head -n 1)" '^ARC-Seal: i=1; a=rsa-sha256; t=[0-9]+; cv=none;' "  the ARC-Seal on top, cv=none"
like "$(field ARC-Message-Signature)" 'c=relaxed/relaxed; d=example.net; s=seal;' "  the AMS: relaxed/relaxed, the domain's key"
av=$(arc_verify "$W/out")
like "$av" '^cv=pass' "  dkimpy's arc_verify: pass"
like "$av" 'aar=i=1; mx.example.net; dkim=pass header.d=example.com header.s=sel' "  the AAR: dkim=pass, as sinkd saw it before the change"
is "$($DK verify "$W/keys" <"$W/out")" fail "  (the DKIM signature itself the change broke)"

run "$W/chain.eml" "${INBOUND[@]}"
like "$VERDICT" ' arc=pass:1 .*arc.sealed=example.net:seal:i=2( |$)' "a chain of one, changed: i=2"
like "$(field ARC-Seal)" 'i=2; .*cv=pass;' "  cv=pass"
av=$(arc_verify "$W/out")
like "$av" '^cv=pass' "  dkimpy's arc_verify: pass"
like "$av" 'aar=i=2; mx.example.net; dkim=pass header.d=example.com .*; arc=pass' "  the AAR of i=2 says arc=pass"

run "$W/badchain.eml" "${INBOUND[@]}"
like "$(field ARC-Seal)" 'i=2; .*cv=fail;' "a chain that failed: sealed once, cv=fail"
cp "$W/out" "$W/ended.eml"
run "$W/ended.eml" "${INBOUND[@]}"
like "$VERDICT" ' arc=fail:2( |$)' "  that chain then fails"
unlike "$VERDICT" 'arc.sealed=' "  and is never extended"

# the AMS signs the fields of dkim-sign-headers, never an ARC field
printf 'dkim-sign-headers = from, subject, arc-seal\n' >>"$W/domains/example.net.conf"
run "$W/signed.eml" "${INBOUND[@]}"
like "$(field ARC-Message-Signature | tr -d ' \t')" ';h=from:from:subject;' "dkim-sign-headers: the AMS h=, From over-signed, ARC-Seal left out"
like "$(arc_verify "$W/out")" '^cv=pass' "  dkimpy's arc_verify: pass"

# not sealed: no change, nothing signed, outbound
conf dkim
run "$W/signed.eml" "${INBOUND[@]}"
unlike "$OUT" 'ARC-Seal' "signed but not changed: no ARC set"
is "$($DK verify "$W/keys" <"$W/out")" pass "  the original signature still verifies"
conf "dkim, rewrite" "${TAG[@]}"
run "$W/unsigned.eml" "${INBOUND[@]}"
like "$(field Subject)" '^Subject: \[EXT\] hello' "unsigned and changed"
unlike "$OUT" 'ARC-Seal' "  no ARC set: nothing to vouch for"
printf '[dkim]\ndkim-signed = arc\ndkim-selector = seal\ndkim-key = %s\n' "$W/seal.example.net.pem" \
	>"$W/domains/example.net.conf"
run "$W/signed.eml" "${OUTBOUND[@]}"
unlike "$OUT" 'ARC-Seal' "outbound mail is not sealed"

# --- configuration ---
conf dkim
printf '[dkim]\ndkim-signed = arc\n' >"$W/domains/example.net.conf"
check
ok $(( RC == 0 )) "dkim-signed = arc without a key: sinkd -n refuses"
like "$CHECK" 'example.net.conf:2: dkim-signed: arc needs dkim-selector and dkim-key' "  and says why, file:line"
{
	printf '[sinkd]\nchain = dkim\nspool-dir = %s\ndomains-dir = %s\n' "$W/spool" "$W/domains"
	printf '[dkim]\ndkim-keys-file = %s\n' "$W/keys"
} >"$W/sinkd.conf"
printf '[dkim]\ndkim-signed = arc\ndkim-selector = seal\ndkim-key = %s\n' "$W/seal.example.net.pem" \
	>"$W/domains/example.net.conf"
check
ok $(( RC == 0 )) "dkim-signed = arc without authserv-id: sinkd -n refuses"
like "$CHECK" 'dkim-signed: arc needs authserv-id' "  and says why"

done_testing
