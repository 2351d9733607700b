#!/bin/bash
# arc.t - sinkd's ARC module (src/arc.c, through t/unit/arctool) against
# dkimpy (t/lib/arccheck.py) in both directions: chains dkimpy sealed
# pass with sinkd, and fail once the body, a signed field or the
# structure is changed; sets sinkd sealed (i=1, and i=2 over dkimpy's
# i=1) pass with dkimpy's arc_verify, and dkimpy extends them
#
# Keys come from a keys file the test writes (dkim-keys-file lines): no
# DNS is asked.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
ARCTOOL=${ARCTOOL:-$PWD/unit/arctool}
PY=/usr/bin/python3	# Debian's, with python3-dkim and python3-authres
AC="$PY $PWD/lib/arccheck.py"
$PY -c 'import dkim, authres' 2>/dev/null \
	|| bail_out "python3-dkim or python3-authres is not installed (./bootstrap test installs them)"
[ -x "$ARCTOOL" ] || bail_out "$ARCTOOL is not built (make tests)"
W=$(workdir arc) || bail_out "mktemp failed"
trap 'rm -rf "$W"' EXIT

$PY lib/dkimcheck.py genkey "$W" arc relay.example || bail_out "cannot make a test key"
$PY lib/dkimcheck.py genkey "$W" s2 sinkd.example || bail_out "cannot make a test key"
$PY lib/dkimcheck.py genkey "$W" s3 third.example 1024 || bail_out "cannot make a test key"

# msg AR-RESULTS: a message with an Authentication-Results of
# mx.relay.example (dkimpy's sealer takes its AAR from it)
msg() {
	printf 'Authentication-Results: mx.relay.example; %s\r\n' "$1"
	printf 'Received: from mx.example.com by mx.relay.example\r\n'
	printf 'From: Alice <alice@example.com>\r\nTo: bob@example.net\r\n'
	printf 'Subject: a  test\r\n\tfolded\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n'
	printf 'Message-ID: <1@example.com>\r\nMIME-Version: 1.0\r\n'
	printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
	printf 'Hello  there \r\n\r\nsecond line\r\n\r\n\r\n'
}

# sinkd_cv FILE: what sinkd says of FILE's chain ("cv=... count=N")
sinkd_cv() { "$ARCTOOL" verify "$W/keys" <"$1" | sed -n 1p; }
sinkd_reason() { "$ARCTOOL" verify "$W/keys" <"$1" | sed -n 's/^reason=//p'; }
# dkimpy_cv FILE: what dkimpy says ("cv=...")
dkimpy_cv() { $AC verify "$W/keys" <"$1" | sed -n 1p; }
# drop NAME FILE: FILE without its first field called NAME
drop() {
	awk -v n="$(tr 'A-Z' 'a-z' <<<"$1")" '
		BEGIN { body = 0; skip = 0; done = 0 }
		body { print; next }
		/^\r?$/ { body = 1; print; next }
		/^[ \t]/ { if (!skip) print; next }
		{ split($0, f, ":"); skip = 0
		  if (!done && tolower(f[1]) == n) { skip = 1; done = 1; next }
		  print }' "$2"
}

# --- dkimpy seals, sinkd validates ---
msg "dkim=pass header.d=example.com" >"$W/m"
$AC seal "$W" arc relay.example mx.relay.example <"$W/m" >"$W/d1" || bail_out "dkimpy did not seal"
is "$(dkimpy_cv "$W/d1")" "cv=pass" "dkimpy validates its own i=1"
is "$(sinkd_cv "$W/d1")" "cv=pass count=1" "sinkd validates dkimpy's i=1: pass"

sed 's/^second line/second line, changed/' "$W/d1" >"$W/bad"
is "$(sinkd_cv "$W/bad")" "cv=fail count=1" "a changed body: fail"
like "$(sinkd_reason "$W/bad")" "body hash did not verify" "for the body hash"
sed 's/^Subject: a  test/Subject: another test/' "$W/d1" >"$W/bad"
is "$(sinkd_cv "$W/bad")" "cv=fail count=1" "a changed Subject: fail"
like "$(sinkd_reason "$W/bad")" "ARC-Message-Signature i=1: signature did not verify" \
	"for the AMS signature"
sed 's/^Subject: a  test/Subject:   a test  /' "$W/d1" >"$W/ok"
is "$(sinkd_cv "$W/ok")" "cv=pass count=1" "white space in a signed field (relaxed): pass"
drop ARC-Seal "$W/d1" >"$W/bad"
is "$(sinkd_cv "$W/bad")" "cv=fail count=1" "no ARC-Seal: fail"
like "$(sinkd_reason "$W/bad")" "ARC set i=1 has no ARC-Seal" "for the structure"
sed 's/^ARC-Seal: i=1;/ARC-Seal: i=51;/' "$W/d1" >"$W/bad"
like "$(sinkd_cv "$W/bad")" "^cv=fail" "an ARC-Seal i=51: fail"
sed 's/cv=none/cv=pass/' "$W/d1" >"$W/bad"
like "$(sinkd_reason "$W/bad")" "cv=pass, not none" "i=1 with cv=pass: fail"

# dkimpy's i=2 over its i=1
{ printf 'Authentication-Results: mx.relay.example; arc=pass\r\n'; cat "$W/d1"; } >"$W/m2"
$AC seal "$W" s3 third.example mx.relay.example <"$W/m2" >"$W/d2" || bail_out "dkimpy did not seal i=2"
is "$(sinkd_cv "$W/d2")" "cv=pass count=2" "sinkd validates dkimpy's i=2: pass"

# --- sinkd seals, dkimpy validates ---
AR="mx.sinkd.example; dkim=pass header.d=example.com header.s=sel"
"$ARCTOOL" seal "$W/keys" "$W/s2.sinkd.example.pem" sinkd.example s2 "$AR" <"$W/m" >"$W/s1" 2>"$W/err"
ok $? "sinkd seals i=1"
is "$(dkimpy_cv "$W/s1")" "cv=pass" "dkimpy validates sinkd's i=1: pass"
like "$($AC verify "$W/keys" <"$W/s1" | grep '^aar=')" "^aar=i=1; mx.sinkd.example; dkim=pass header.d=example.com" \
	"the AAR carries sinkd's results"
like "$(grep '^ARC-Seal' "$W/s1")" "cv=none" "i=1 says cv=none"

"$ARCTOOL" seal "$W/keys" "$W/s2.sinkd.example.pem" sinkd.example s2 "mx.sinkd.example; arc=pass" \
	<"$W/d1" >"$W/s2" 2>"$W/err"
ok $? "sinkd seals i=2 over dkimpy's i=1"
like "$(cat "$W/err")" "cv=pass count=1" "after validating dkimpy's chain"
is "$(dkimpy_cv "$W/s2")" "cv=pass" "dkimpy validates sinkd's i=2: pass"
like "$(grep '^ARC-Seal' "$W/s2")" "i=2;.*cv=pass" "i=2 says cv=pass"
is "$($AC verify "$W/keys" <"$W/s2" | grep -c '^aar=')" 2 "both sets seen"

# dkimpy's i=3 over sinkd's i=2
{ printf 'Authentication-Results: mx.relay.example; arc=pass\r\n'; cat "$W/s2"; } >"$W/m3"
$AC seal "$W" s3 third.example mx.relay.example <"$W/m3" >"$W/d3"
ok $? "dkimpy extends sinkd's chain"
is "$(dkimpy_cv "$W/d3")" "cv=pass" "dkimpy validates the chain of 3"
is "$(sinkd_cv "$W/d3")" "cv=pass count=3" "sinkd validates the chain of 3"

# a chain that failed: sealed once with cv=fail, never extended
sed 's/^second line/second line, changed/' "$W/d1" >"$W/bad"
"$ARCTOOL" seal "$W/keys" "$W/s2.sinkd.example.pem" sinkd.example s2 "mx.sinkd.example; arc=fail" \
	<"$W/bad" >"$W/f2" 2>"$W/err"
ok $? "a failed chain is sealed"
like "$(grep '^ARC-Seal' "$W/f2")" "i=2;.*cv=fail" "with cv=fail"
like "$(dkimpy_cv "$W/f2")" "^cv=(fail|ended)" "dkimpy: the chain does not pass"
"$ARCTOOL" seal "$W/keys" "$W/s2.sinkd.example.pem" sinkd.example s2 "mx.sinkd.example; arc=fail" \
	<"$W/f2" >/dev/null 2>"$W/err"
is "$?" 1 "a chain ended with cv=fail is not extended"
like "$(cat "$W/err")" "not sealed: the chain ended with cv=fail" "and says why"

# the fuzz target's seeds (hostile ARC fields) validate without harm
for f in ../fuzz/seeds/fuzz_arc/*.eml; do
	out=$("$ARCTOOL" verify /dev/null <"$f" 2>&1)
	rc=$?
	like "$rc $out" "^0 cv=(none|pass|fail) count=[0-9]+" "fuzz seed ${f##*/}: validated, exit 0"
done

done_testing
